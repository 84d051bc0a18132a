//! A generated city (fictional residents, deterministic) exports lists; one list leaks under
//! every transformation a leaker or a re-typist applies. The right export must rank first and
//! exports that only share residents by chance must score near zero.

use mamori_trace::synth::{Resident, Rng, export_csv, population};
use mamori_trace::{FingerprintKey, FpStore, ExportMeta, read_list, trace};

const TARGET: usize = 7;

struct City {
    _dir: tempfile::TempDir,
    store: FpStore,
    key: FingerprintKey,
    exports: Vec<Vec<Resident>>,
}

fn city() -> City {
    let people = population(8, 20_000);
    let mut rng = Rng::new(88);
    let dir = tempfile::tempdir().unwrap();
    let mut store = FpStore::open(dir.path().join("fp")).unwrap();
    let key = FingerprintKey::new(b"test-installation-key");
    let mut exports = Vec::new();
    for no in 0..24u32 {
        let n = 300 + rng.below(300) as usize;
        let list: Vec<Resident> = (0..n).map(|_| people[rng.below(people.len() as u64) as usize].clone()).collect();
        let csv = export_csv(&list);
        let read = read_list("export.csv", csv.as_bytes()).unwrap();
        assert_eq!(read.records.len(), n, "every generated row reads back as a record");
        let feats = mamori_trace::trace::list_features(&key, &read.records);
        let (features, sha) = store.write_segment(no, feats).unwrap();
        store
            .add_export(ExportMeta {
                no,
                export_id: 1000 + no as u64,
                ledger_id: 1000 + no as u64,
                user: format!("user{no}"),
                time: "2026-04-01T09:00:00+09:00".into(),
                channel: "business-system-csv".into(),
                system: Some("住民記録システム".into()),
                file_name: format!("export-{no}.csv"),
                file_sha256: mamori_trace::file_sha256(csv.as_bytes()),
                records: n as u64,
                features,
                segment_sha256: sha,
            })
            .unwrap();
        exports.push(list);
        if no == 15 {
            // Half in the compacted index, half still as segments: both paths are traced.
            store.compact().unwrap();
        }
    }
    City { _dir: dir, store, key, exports }
}

/// The leak: a 40 % subset of the target export, re-sorted.
fn leaked(c: &City) -> Vec<Resident> {
    let mut rng = Rng::new(5);
    let mut l: Vec<Resident> = c.exports[TARGET].iter().filter(|_| rng.below(10) < 4).cloned().collect();
    l.sort_by(|a, b| a.given_kana.cmp(&b.given_kana).then(a.birth.cmp(&b.birth)));
    l
}

fn assert_traced(c: &City, name: &str, bytes: &[u8], min_score: f64) {
    let list = read_list(name, bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let r = trace(&c.store, &c.key, &list.records, 10);
    if std::env::var("TRACE_DEBUG").is_ok() {
        for l in &list.records {
            let one = trace(&c.store, &c.key, std::slice::from_ref(l), 1);
            if one.candidates.first().is_none_or(|x| x.export.no as usize != TARGET) {
                eprintln!("unmatched {}: {:?}", l.location, l.record);
            }
        }
    }
    assert!(r.leaked > 50, "{name}: only {} records read ({} rejected)", r.leaked, list.rejected.len());
    let best = &r.candidates[0];
    assert_eq!(best.export.no as usize, TARGET, "{name}: best is export {} ({:?})", best.export.no, r.candidates.iter().map(|c| (c.export.no, c.score)).collect::<Vec<_>>());
    assert!(best.score >= min_score, "{name}: score {}", best.score);
    for other in &r.candidates[1..] {
        assert!(other.score < 0.1, "{name}: unrelated export {} scores {}", other.export.no, other.score);
    }
}

#[test]
fn subset_resorted_csv() {
    let c = city();
    let l = leaked(&c);
    assert_traced(&c, "leak.csv", export_csv(&l).as_bytes(), 0.99);
}

#[test]
fn reformatted_cp932_other_headers_wareki_and_column_order() {
    let c = city();
    let mut s = String::from("フリガナ,住所,お名前,誕生日,備考\r\n");
    for r in leaked(&c) {
        s.push_str(&format!("{},{},{},{},\r\n", r.kana(), r.address().replace("丁目", "-").replace('番', "-").replace('号', ""), r.name().replace(' ', "　"), r.birth_wareki()));
    }
    let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(&s);
    assert!(!bad);
    assert_traced(&c, "leak-sjis.csv", &bytes, 0.99);
}

#[test]
fn columns_dropped_and_merged() {
    let c = city();
    // Only name and address (birth and phone dropped).
    let mut s = String::from("氏名,住所\n");
    for r in leaked(&c) {
        s.push_str(&format!("{},{}\n", r.name(), r.address()));
    }
    assert_traced(&c, "name-address.csv", s.as_bytes(), 0.99);
    // Name and birth merged in one column, no header.
    let mut s = String::new();
    for r in leaked(&c) {
        s.push_str(&format!("{} {},{}\n", r.name(), r.birth_wareki(), r.phone));
    }
    assert_traced(&c, "merged.csv", s.as_bytes(), 0.99);
}

/// Replaces one character of one field in 5 % of the records (an OCR or typing error).
fn typo(r: &mut Resident, rng: &mut Rng) {
    match rng.below(3) {
        0 => r.given = format!("{}{}", r.given.chars().next().unwrap(), "朗"),
        1 => r.birth += chrono::Duration::days(10),
        _ => r.block.2 += 1,
    }
}

#[test]
fn hiratsuka_postcards_typed_with_typos() {
    let c = city();
    let mut rng = Rng::new(77);
    let mut l = leaked(&c);
    for r in l.iter_mut() {
        if rng.below(100) < 5 {
            typo(r, &mut rng);
        }
    }
    // One block per postcard: address line, name line, birth date line, blank line.
    let mut s = String::new();
    for r in &l {
        s.push_str(&format!("〒000-0000 {}\n{} 様\n{}生\n\n", r.address(), r.name(), r.birth_wareki()));
    }
    assert_traced(&c, "postcards.txt", s.as_bytes(), 0.9);
    // One line per record, 全角 digits, 5 % typos.
    let mut s = String::new();
    for r in &l {
        let line = format!("{}　{}　{}　{}\n", r.name(), r.birth.format("%Y年%m月%d日"), r.address(), r.phone);
        s.push_str(&line.chars().map(|ch| if ch.is_ascii_digit() { char::from_u32(ch as u32 + 0xFEE0).unwrap() } else { ch }).collect::<String>());
    }
    assert_traced(&c, "typed.txt", s.as_bytes(), 0.9);
}

#[test]
fn reformatted_to_xlsx() {
    let c = city();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let datefmt = rust_xlsxwriter::Format::new().set_num_format("yyyy/mm/dd");
    for (col, h) in ["番号", "住所", "氏名", "生年月日"].iter().enumerate() {
        ws.write_string(0, col as u16, *h).unwrap();
    }
    for (i, r) in leaked(&c).iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_number(row, 0, (i + 1) as f64).unwrap();
        ws.write_string(row, 1, r.address()).unwrap();
        ws.write_string(row, 2, r.name()).unwrap();
        let d = rust_xlsxwriter::ExcelDateTime::parse_from_str(&r.birth.format("%Y-%m-%d").to_string()).unwrap();
        ws.write_datetime_with_format(row, 3, &d, &datefmt).unwrap();
    }
    let bytes = wb.save_to_buffer().unwrap();
    assert_traced(&c, "leak.xlsx", &bytes, 0.99);
}

#[test]
fn reformatted_to_pdf() {
    use printpdf::{Mm, PdfDocument};
    let c = city();
    let font_path = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf";
    let (doc, page, layer) = PdfDocument::new("leak", Mm(210.0), Mm(297.0), "l");
    let font = doc.add_external_font(std::fs::File::open(font_path).expect("fonts-ipaexfont-gothic installed")).unwrap();
    let mut cur = doc.get_page(page).get_layer(layer);
    let mut y = 280.0;
    for r in leaked(&c) {
        if y < 15.0 {
            let (p, l) = doc.add_page(Mm(210.0), Mm(297.0), "l");
            cur = doc.get_page(p).get_layer(l);
            y = 280.0;
        }
        cur.use_text(format!("{} {} {}", r.name(), r.birth_wareki(), r.address()), 9.0, Mm(10.0), Mm(y), &font);
        y -= 5.0;
    }
    let bytes = doc.save_to_bytes().unwrap();
    assert_traced(&c, "leak.pdf", &bytes, 0.95);
}

#[test]
fn unrelated_list_matches_nothing_much() {
    let c = city();
    let other = population(999, 300);
    let list = read_list("other.csv", export_csv(&other).as_bytes()).unwrap();
    let r = trace(&c.store, &c.key, &list.records, 10);
    assert_eq!(r.leaked, 300);
    assert!(r.candidates.iter().all(|c| c.score < 0.05), "{:?}", r.candidates.iter().map(|c| c.score).collect::<Vec<_>>());
}

