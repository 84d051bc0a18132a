//! Tables: rows of cells (from CSV or a workbook) → layout → records.

use super::{Format, Located, MAX_ROWS, ReadList, Rejected};
use crate::record;

/// Reads rows (location, cells) with a detected layout.
pub fn read_rows(rows: Vec<(String, Vec<String>)>, format: Format) -> ReadList {
    let cells: Vec<Vec<String>> = rows.iter().take(60).map(|(_, c)| c.clone()).collect();
    let layout = record::detect_layout(&cells);
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    for (i, (loc, row)) in rows.into_iter().enumerate() {
        if Some(i) == layout.header_row || row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let r = record::read_row(&layout, &row);
        if r.is_usable() {
            records.push(Located { location: loc, record: r });
        } else if i > layout.header_row.unwrap_or(0) || layout.header_row.is_none() {
            rejected.push(Rejected { location: loc, reason: "個人の記録として読めません / no record (fewer than two fields)".into(), raw: row.join(",") });
        }
    }
    ReadList { format, encoding: None, records, rejected }
}

fn cell_text(d: &calamine::Data) -> String {
    use calamine::Data;
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => {
            // Excel serial day (1900 system; 1899-12-30 is day 0 once the 1900 leap bug is past).
            let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date");
            let days = dt.as_f64().floor() as i64;
            base.checked_add_signed(chrono::Duration::days(days)).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Reads every sheet of a workbook.
pub fn read_workbook(bytes: &[u8]) -> Result<ReadList, String> {
    use calamine::Reader;
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).map_err(|e| format!("ブックとして読めません / not a workbook: {e}"))?;
    let mut out = ReadList { format: Format::Xlsx, encoding: None, records: Vec::new(), rejected: Vec::new() };
    for name in wb.sheet_names() {
        let range = match wb.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => {
                out.rejected.push(Rejected { location: name.clone(), reason: format!("シートを読めません / unreadable sheet: {e}"), raw: String::new() });
                continue;
            }
        };
        let (r0, _) = range.start().unwrap_or((0, 0));
        let rows: Vec<(String, Vec<String>)> =
            range.rows().take(MAX_ROWS).enumerate().map(|(i, r)| (format!("{name}!row {}", r0 as usize + i + 1), r.iter().map(cell_text).collect())).collect();
        let part = read_rows(rows, Format::Xlsx);
        out.records.extend(part.records);
        out.rejected.extend(part.rejected);
    }
    Ok(out)
}

