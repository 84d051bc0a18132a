//! Office files: docx (paragraph text + tables), pptx (slide text), xlsx (streamed cells,
//! so a sheet claiming A1:XFD1048576 costs only its real cells) and xls (calamine, after the
//! allocation pre-check of biff.rs).

use super::biff::{self, Precheck};
use super::zipfile::read_member;
use super::{Budget, Content, Extracted, Place, Segment, guarded, problem};
use calamine::{Data, DataRef, Reader, Xls, Xlsx};
use quick_xml::events::Event;
use std::io::Cursor;

/// Columns kept per sheet row (cells further right are reported, not read).
const MAX_COLS: u32 = 512;

fn seg(member: Option<&str>, place: Place, content: Content) -> Segment {
    Segment {
        member: member.map(str::to_string),
        place,
        content,
    }
}

/// Words that label a value in a form's first column (氏名 | 山田 太郎).
const FORM_LABELS: &[&str] = &[
    "氏名", "名前", "フリガナ", "ふりがな", "住所", "所在地", "生年月日", "電話", "連絡先", "番号", "メール", "e-mail", "口座",
    "保険", "免許", "旅券", "申請者", "届出人", "世帯主", "性別", "年齢", "職業", "勤務先",
];

/// A form laid out as a table (Word 申請書): in at least half of its rows (and at least two)
/// the first cell is a short label. A roster has labels only in its header row.
fn is_form(t: &[Vec<String>]) -> bool {
    let labelled = t
        .iter()
        .filter(|r| {
            r.first().is_some_and(|c| c.chars().count() <= 12 && FORM_LABELS.iter().any(|l| c.to_lowercase().contains(l)))
        })
        .count();
    labelled >= 2 && labelled * 2 >= t.len()
}

/// Text of WordprocessingML / DrawingML: `w:t`/`a:t` runs, `w:p`/`a:p` ends a line, `w:tab`
/// a tab; top-level `w:tbl` become tables, except forms ([`is_form`]), whose rows become lines
/// of text (label, tab, value).
fn ooxml_text(xml: &[u8], tables: &mut Vec<Vec<Vec<String>>>) -> Result<String, String> {
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut out = String::new();
    let mut in_t = false;
    let mut tbl_depth = 0usize;
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    loop {
        match r.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                b"t" => in_t = true,
                b"tbl" => {
                    tbl_depth += 1;
                    if tbl_depth == 1 {
                        table.clear();
                    }
                }
                b"tr" if tbl_depth == 1 => row.clear(),
                b"tc" if tbl_depth == 1 => cell.clear(),
                _ => {}
            },
            Ok(Event::Empty(e)) => match e.local_name().as_ref() {
                b"tab" => {
                    if tbl_depth > 0 {
                        cell.push(' ')
                    } else {
                        out.push('\t')
                    }
                }
                b"br" => {
                    if tbl_depth > 0 {
                        cell.push(' ')
                    } else {
                        out.push('\n')
                    }
                }
                _ => {}
            },
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                b"t" => in_t = false,
                b"p" => {
                    if tbl_depth > 0 {
                        cell.push(' ')
                    } else {
                        out.push('\n')
                    }
                }
                b"tc" if tbl_depth == 1 => row.push(cell.trim().to_string()),
                b"tr" if tbl_depth == 1 => table.push(std::mem::take(&mut row)),
                b"tbl" => {
                    tbl_depth = tbl_depth.saturating_sub(1);
                    if tbl_depth == 0 {
                        let t = std::mem::take(&mut table);
                        if is_form(&t) {
                            // 項目 | 内容 rows: lines of text, so each value keeps its label.
                            for row in &t {
                                out.push_str(&row.join("\t"));
                                out.push('\n');
                            }
                        } else {
                            tables.push(t);
                        }
                    }
                }
                _ => {}
            },
            Ok(Event::Text(t)) if in_t => {
                let s = t.unescape().map_err(|e| format!("XML: {e}"))?;
                if tbl_depth > 0 { cell.push_str(&s) } else { out.push_str(&s) }
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("XML error at byte {}: {e}", r.buffer_position())),
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

pub(crate) fn extract_docx(member: Option<&str>, zip: &mut zip::ZipArchive<Cursor<&[u8]>>, budget: &mut Budget, ex: &mut Extracted) {
    let idx = zip.index_for_name("word/document.xml");
    let Some(i) = idx else { return };
    match read_member(zip, i, budget) {
        Ok(Some((_, xml))) => {
            let mut tables = Vec::new();
            match guarded(|| ooxml_text(&xml, &mut tables)) {
                Ok(t) => {
                    ex.segments.push(seg(member, Place::Text, Content::Text(t)));
                    for (n, tb) in tables.into_iter().enumerate() {
                        ex.segments
                            .push(seg(member, Place::Sheet(format!("表{}", n + 1)), Content::Table(tb)));
                    }
                }
                Err(e) => problem(ex, member, format!("docxを読めません / unreadable docx: {e}")),
            }
        }
        Ok(None) => {}
        Err((n, e)) => problem(ex, Some(&member.map_or(n.clone(), |m| format!("{m}/{n}"))), e),
    }
}

pub(crate) fn extract_pptx(
    member: Option<&str>,
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    names: &[String],
    budget: &mut Budget,
    ex: &mut Extracted,
) {
    let mut slides: Vec<(u32, &String)> = names
        .iter()
        .filter_map(|n| {
            n.strip_prefix("ppt/slides/slide")
                .and_then(|r| r.strip_suffix(".xml"))
                .and_then(|k| k.parse().ok())
                .map(|k| (k, n))
        })
        .collect();
    slides.sort();
    for (k, n) in slides {
        let Some(i) = zip.index_for_name(n) else { continue };
        match read_member(zip, i, budget) {
            Ok(Some((_, xml))) => {
                let mut tables = Vec::new();
                match guarded(|| ooxml_text(&xml, &mut tables)) {
                    Ok(t) => ex.segments.push(seg(member, Place::Page(k), Content::Text(t))),
                    Err(e) => problem(ex, member, format!("スライド{k}を読めません / slide {k} unreadable: {e}")),
                }
                for tb in tables {
                    ex.segments.push(seg(member, Place::Sheet(format!("slide{k}")), Content::Table(tb)));
                }
            }
            Ok(None) => {}
            Err((_, e)) => problem(ex, member, e),
        }
    }
}

/// Excel serial date → YYYY-MM-DD (1900 system; serial 60 is Lotus' 1900-02-29).
fn serial_date(v: f64) -> String {
    let days = v.floor() as i64;
    if !(1..=2_958_465).contains(&days) {
        return format!("{v}");
    }
    // Days from 1899-12-30 (serials ≥ 61 are right with this epoch).
    let z = days - 25569 + 719_468; // to days since 0000-03-01 (civil from days, H. Hinnant)
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

fn data_ref_string(v: &DataRef) -> String {
    match v {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                f.to_string()
            }
        }
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => serial_date(d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(_) | DataRef::Empty => String::new(),
    }
}

fn data_string(v: &Data) -> String {
    match v {
        Data::Int(i) => i.to_string(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                f.to_string()
            }
        }
        Data::String(s) => s.clone(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => serial_date(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(_) | Data::Empty => String::new(),
    }
}

/// Put a cell into ragged rows, within the budget. Returns false when the budget is gone.
fn place(rows: &mut Vec<Vec<String>>, r: u32, c: u32, v: String, budget: &mut Budget) -> bool {
    budget.cells += 1 + c as u64 / 64; // wide rows cost their padding
    if budget.cells > budget.limits.max_cells || r as usize > 1_048_576 {
        return false;
    }
    let (r, c) = (r as usize, c as usize);
    if rows.len() <= r {
        rows.resize_with(r + 1, Vec::new);
    }
    let row = &mut rows[r];
    if row.len() <= c {
        row.resize(c + 1, String::new());
    }
    row[c] = v;
    true
}

pub(crate) fn extract_xlsx(member: Option<&str>, bytes: &[u8], budget: &mut Budget, ex: &mut Extracted) {
    let wb = guarded(|| Xlsx::new(Cursor::new(bytes)).map_err(|e| e.to_string()));
    let mut wb = match wb {
        Ok(w) => w,
        Err(e) => {
            problem(ex, member, format!("xlsxを読めません / unreadable xlsx: {e}"));
            return;
        }
    };
    for name in wb.sheet_names() {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut wide = 0u64;
        let mut cut = false;
        let res = guarded(|| {
            let mut rd = wb.worksheet_cells_reader(&name).map_err(|e| e.to_string())?;
            while let Some(cell) = rd.next_cell().map_err(|e| e.to_string())? {
                let (r, c) = cell.get_position();
                if c >= MAX_COLS {
                    wide += 1;
                    continue;
                }
                let v = data_ref_string(cell.get_value());
                if v.is_empty() {
                    continue;
                }
                if !place(&mut rows, r, c, v, budget) {
                    cut = true;
                    break;
                }
            }
            Ok(())
        });
        if let Err(e) = res {
            problem(ex, member, format!("シート「{name}」を読めません / sheet {name} unreadable: {e}"));
        }
        if wide > 0 {
            problem(
                ex,
                member,
                format!("シート「{name}」: {MAX_COLS}列より右の{wide}セルは未検査 / {wide} cells right of column {MAX_COLS} not scanned"),
            );
        }
        if cut {
            ex.truncated = true;
            problem(
                ex,
                member,
                format!("シート「{name}」: セル数の上限 / cell limit {} reached", budget.limits.max_cells),
            );
        }
        ex.segments.push(seg(member, Place::Sheet(name.clone()), Content::Table(rows)));
        if cut {
            break;
        }
    }
}

pub(crate) fn extract_xls(member: Option<&str>, bytes: &[u8], budget: &mut Budget, ex: &mut Extracted) -> String {
    // calamine builds every sheet densely before one is asked for: check what it would
    // allocate first, and let it read the checked stream (biff.rs).
    let clean;
    let bytes = match biff::precheck(bytes, budget.limits) {
        Precheck::Unopened => bytes,
        Precheck::Refused(reason) => {
            ex.truncated = true;
            problem(ex, member, reason);
            return "xls".into();
        }
        Precheck::Clean(b) => {
            clean = b;
            &clean[..]
        }
    };
    let wb = guarded(|| Xls::new(Cursor::new(bytes)).map_err(|e| e.to_string()));
    let mut wb = match wb {
        Ok(w) => w,
        Err(e) => {
            problem(
                ex,
                member,
                format!(
                    "OLE形式のうちxls以外(doc/ppt等)は未対応、またはxlsを読めません / unsupported OLE file (doc/ppt) or unreadable xls: {e}"
                ),
            );
            return "ole".into();
        }
    };
    for name in wb.sheet_names() {
        match guarded(|| wb.worksheet_range(&name).map_err(|e| e.to_string())) {
            Ok(range) => {
                let (r0, c0) = range.start().unwrap_or((0, 0));
                let mut rows = Vec::new();
                let mut cut = false;
                'rows: for (ri, row) in range.rows().enumerate() {
                    for (ci, v) in row.iter().enumerate() {
                        let s = data_string(v);
                        if s.is_empty() {
                            continue;
                        }
                        if c0 + ci as u32 >= MAX_COLS {
                            continue;
                        }
                        if !place(&mut rows, r0 + ri as u32, c0 + ci as u32, s, budget) {
                            cut = true;
                            break 'rows;
                        }
                    }
                }
                if cut {
                    ex.truncated = true;
                    problem(ex, member, format!("シート「{name}」: セル数の上限 / cell limit reached"));
                }
                ex.segments.push(seg(member, Place::Sheet(name.clone()), Content::Table(rows)));
            }
            Err(e) => problem(ex, member, format!("シート「{name}」を読めません / sheet {name} unreadable: {e}")),
        }
    }
    "xls".into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn serial_dates() {
        assert_eq!(super::serial_date(25_629.0), "1970-03-02");
        assert_eq!(super::serial_date(45_292.0), "2024-01-01");
    }
}
