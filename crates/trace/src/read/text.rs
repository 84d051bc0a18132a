//! Text: decoding, delimited tables, free lines and blocks.

use super::{Format, Located, MAX_ROWS, ReadList, Rejected};
use crate::record::{self, Record};

/// Decodes bytes: BOMs first, then strict UTF-8, else whichever of CP932 and EUC-JP decodes
/// with fewer errors (CP932 on a tie: what Japanese Excel and business systems write).
pub fn decode(bytes: &[u8]) -> (String, &'static str) {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (t, _) = enc.decode_without_bom_handling(&bytes[bom..]);
        return (t.into_owned(), enc.name());
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (s.to_owned(), "UTF-8");
    }
    let (sj, _, sj_bad) = encoding_rs::SHIFT_JIS.decode(bytes);
    if !sj_bad {
        return (sj.into_owned(), "Shift_JIS");
    }
    let (eu, _, eu_bad) = encoding_rs::EUC_JP.decode(bytes);
    if !eu_bad {
        return (eu.into_owned(), "EUC-JP");
    }
    let bad = |s: &str| s.chars().filter(|c| *c == '\u{FFFD}').count();
    if bad(&eu) < bad(&sj) { (eu.into_owned(), "EUC-JP") } else { (sj.into_owned(), "Shift_JIS") }
}

fn delimiter(lines: &[&str]) -> Option<u8> {
    let sample: Vec<&&str> = lines.iter().filter(|l| !l.trim().is_empty()).take(50).collect();
    if sample.is_empty() {
        return None;
    }
    for d in [b'\t', b',', b';'] {
        let counts: Vec<usize> = sample.iter().map(|l| l.bytes().filter(|b| *b == d).count()).collect();
        let with = counts.iter().filter(|c| **c >= 1).count();
        if with * 10 >= sample.len() * 8 {
            return Some(d);
        }
    }
    None
}

/// Reads decoded text as a table or as free text.
pub fn read_text(text: &str, encoding: &'static str) -> ReadList {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().take(MAX_ROWS).collect();
    if let Some(d) = delimiter(&lines) {
        let mut rows = Vec::new();
        let mut rejected = Vec::new();
        let mut rdr = csv::ReaderBuilder::new().delimiter(d).has_headers(false).flexible(true).from_reader(text.as_bytes());
        for (i, r) in rdr.records().take(MAX_ROWS).enumerate() {
            match r {
                Ok(r) => rows.push((format!("line {}", r.position().map_or(i as u64 + 1, |p| p.line())), r.iter().map(str::to_owned).collect::<Vec<_>>())),
                Err(e) => rejected.push(Rejected { location: format!("row {}", i + 1), reason: format!("CSV として読めません / not CSV: {e}"), raw: String::new() }),
            }
        }
        let mut out = super::table::read_rows(rows, Format::Csv);
        out.encoding = Some(encoding);
        out.rejected.extend(rejected);
        return out;
    }
    let mut out = read_free(&lines, "line");
    out.encoding = Some(encoding);
    out
}

/// Free text: one record per line; lines of a blank-line-separated block that are not records
/// on their own are read together as one record (a postcard's address block).
pub fn read_free(lines: &[&str], unit: &str) -> ReadList {
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    let mut block: Vec<(usize, &str)> = Vec::new();
    let flush = |block: &mut Vec<(usize, &str)>, records: &mut Vec<Located>, rejected: &mut Vec<Rejected>| {
        if block.is_empty() {
            return;
        }
        let singles: Vec<Record> = block.iter().map(|(_, l)| parse_line(l)).collect();
        if singles.iter().all(Record::is_usable) {
            for ((n, _), r) in block.iter().zip(singles) {
                records.push(Located { location: format!("{unit} {}", n + 1), record: r });
            }
        } else {
            let joined: String = block.iter().map(|(_, l)| *l).collect::<Vec<_>>().join(" ");
            let r = parse_line(&joined);
            let loc = if block.len() == 1 { format!("{unit} {}", block[0].0 + 1) } else { format!("{unit} {}-{}", block[0].0 + 1, block[block.len() - 1].0 + 1) };
            if r.is_usable() {
                records.push(Located { location: loc, record: r });
            } else {
                rejected.push(Rejected { location: loc, reason: "個人の記録として読めません / no record (fewer than two fields)".into(), raw: joined });
            }
        }
        block.clear();
    };
    for (i, l) in lines.iter().enumerate() {
        if l.trim().is_empty() {
            flush(&mut block, &mut records, &mut rejected);
        } else {
            block.push((i, l));
            // A block longer than a postcard is a list without blank lines: read line by line.
            if block.len() > 6 {
                let b: Vec<(usize, &str)> = std::mem::take(&mut block);
                for x in b {
                    let mut one = vec![x];
                    flush(&mut one, &mut records, &mut rejected);
                }
            }
        }
    }
    flush(&mut block, &mut records, &mut rejected);
    ReadList { format: Format::Text, encoding: None, records, rejected }
}

fn parse_line(l: &str) -> Record {
    let mut r = Record::default();
    record::parse_free(l, &mut r);
    r
}
