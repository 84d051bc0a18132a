//! HR rosters in other layouts (a personnel system's own export) through the declarative
//! mapping of the business-system sources ([`mamori_sources::Mapping`], the same TOML as
//! `mamori ingest --format csv-mapping --mapping`, see `docs/sources/business-csv.md`).
//!
//! A roster mapping is a CSV mapping whose `fields` (and `constants`) are named after the
//! standard roster columns — `職員番号`, `氏名`, `氏名カナ`, `所属コード`, `所属名`, `職名`,
//! `発令日`, `異動区分`, `退職日`, `アカウント` — and say which column(s) of the other layout
//! each comes from, with the mapping's value translation (`map`, e.g. 発令区分 codes → 異動区分)
//! and its CSV settings (`encoding`, `delimiter`, `skip_rows` for title lines, `has_header`).
//! Several source columns for one field are joined with a space (`氏名 = ["姓", "名"]`), except
//! for `アカウント`, where each non-empty cell is one account (Windows logon, business-system
//! operator ID and mail address in three columns). Dates may be 和暦 or Western as the standard
//! layout accepts them, or any `type = "timestamp"` format (taken as a date in the mapping's
//! time zone). One row per 発令 (personnel order), like the standard layout.
//!
//! The mapped rows then go through exactly the checks of the standard layout
//! ([`crate::roster`]): what does not fit is a [`RowError`] naming the original file's line and
//! the original column (`source_column`) as well as the roster column; the other rows import.
//!
//! Not done here: several rows of the other layout merged into one order, or one row split into
//! several (a layout that carries 兼務 as extra columns of the main order needs a preprocessing
//! step).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use mamori_sources::mapping::{Input, Mapping, MappingError, Place};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::directory::{IMPORT_FORMAT, ImportRecord};
use crate::roster::{Column, ParsedRoster, Problem, RowError, SourceEncoding, parse_roster_detailed};

/// Roster mappings shipped with mamori: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[("jinji-a", include_str!("../mappings/jinji-a.toml"))];

/// A shipped roster mapping, by name.
pub fn builtin(name: &str) -> Option<Mapping> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, t)| Mapping::parse(t, n).expect("shipped roster mappings are valid"))
}

fn merr(m: &Mapping, key: &str, ja: String, en: String) -> MappingError {
    MappingError { name: m.name.clone(), key: key.to_owned(), ja, en }
}

fn column_of(target: &str) -> Option<Column> {
    Column::ALL.into_iter().find(|c| c.header() == target)
}

/// Checks that `m` is usable as a roster mapping: CSV input, every field and constant named
/// after a standard roster column, 職員番号, 氏名, 発令日 and 異動区分 given, no `[action]` or
/// `[recipients]` (they are for operation logs).
pub fn check_roster_mapping(m: &Mapping) -> Result<(), MappingError> {
    if m.input != Input::Csv {
        return Err(merr(m, "mapping.input", "職員名簿のマッピングは input = \"csv\" です".into(), "a roster mapping has input = \"csv\"".into()));
    }
    if m.action.is_some() {
        return Err(merr(m, "action", "職員名簿のマッピングに [action] は使えません".into(), "a roster mapping has no [action]".into()));
    }
    if m.recipients.is_some() {
        return Err(merr(m, "recipients", "職員名簿のマッピングに [recipients] は使えません".into(), "a roster mapping has no [recipients]".into()));
    }
    let names: Vec<&str> = Column::ALL.iter().map(|c| c.header()).collect();
    let mut given = Vec::new();
    for f in &m.fields {
        let Some(c) = column_of(&f.target) else {
            return Err(merr(
                m,
                &format!("fields.\"{}\"", f.target),
                format!("職員名簿の列名ではありません(使える名前: {})", names.join("・")),
                format!("not a roster column (use one of {})", names.join(", ")),
            ));
        };
        given.push(c);
    }
    for (k, _) in &m.constants {
        let Some(c) = column_of(k) else {
            return Err(merr(
                m,
                &format!("constants.\"{k}\""),
                format!("職員名簿の列名ではありません(使える名前: {})", names.join("・")),
                format!("not a roster column (use one of {})", names.join(", ")),
            ));
        };
        given.push(c);
    }
    for c in [Column::StaffId, Column::Name, Column::Effective, Column::Change] {
        if !given.contains(&c) {
            return Err(merr(
                m,
                &format!("fields.\"{c}\""),
                format!("必須の列「{c}」の取得元がありません"),
                format!("the required roster column {c} has no source (fields.\"{c}\" or constants)"),
            ));
        }
    }
    Ok(())
}

fn label(p: &Place) -> String {
    p.selectors().iter().map(|s| s.to_string()).collect::<Vec<_>>().join("+")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(a) => a.iter().map(text).filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join(";"),
        Value::Object(o) => {
            // The split アカウント columns, in source order.
            let mut parts: Vec<(usize, String)> = o.iter().map(|(k, v)| (k.parse().unwrap_or(usize::MAX), text(v))).collect();
            parts.sort();
            parts.into_iter().map(|(_, s)| s).filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join(";")
        }
        other => other.to_string(),
    }
}

fn cell(doc: &Map<String, Value>, c: Column, m: &Mapping) -> String {
    let Some(v) = doc.get(c.header()) else { return String::new() };
    let s = text(v);
    if matches!(c, Column::Effective | Column::RetirementDate)
        && let Ok(t) = DateTime::parse_from_rfc3339(s.trim())
    {
        // A `type = "timestamp"` field: the date in the mapping's time zone.
        let d: NaiveDate = t.with_timezone(&m.timezone).date_naive();
        return d.format("%Y-%m-%d").to_string();
    }
    s
}

fn encoding_of(e: mamori_jtext::SourceEncoding) -> SourceEncoding {
    match e {
        mamori_jtext::SourceEncoding::Utf8 => SourceEncoding::Utf8,
        mamori_jtext::SourceEncoding::Utf8Bom => SourceEncoding::Utf8Bom,
        mamori_jtext::SourceEncoding::Cp932 => SourceEncoding::Cp932,
    }
}

/// Parses a roster in another layout with a roster mapping (see the module doc). Row numbers
/// in rows and errors are the original file's lines; errors also name the original column.
/// Fails only when the mapping is not a roster mapping.
pub fn parse_roster_mapped(m: &Mapping, file: &str, bytes: &[u8], recorded_at: DateTime<Utc>) -> Result<ParsedRoster, MappingError> {
    check_roster_mapping(m)?;
    // アカウント from several columns: one rule per column, so each cell stays one account.
    let mut mm = m.clone();
    let mut sources: BTreeMap<Column, String> = BTreeMap::new();
    let mut fields = Vec::new();
    for f in &m.fields {
        let c = column_of(&f.target).expect("checked");
        sources.insert(c, label(&f.from));
        let sels = f.from.selectors();
        if c == Column::Accounts && sels.len() > 1 {
            for (i, s) in sels.iter().enumerate() {
                let mut g = f.clone();
                g.target = format!("{}.{i}", f.target);
                g.from = Place::One((*s).clone());
                fields.push(g);
            }
        } else {
            fields.push(f.clone());
        }
    }
    for (k, _) in &m.constants {
        sources.entry(column_of(k).expect("checked")).or_insert_with(|| "(定数 / constant)".into());
    }
    mm.fields = fields;
    let parsed = mamori_sources::parse_csv_mapped(&mm, file, bytes, recorded_at);
    // Lines from the byte offsets (a CRLF record's reported start can sit on the previous
    // line's '\n'): skip the terminator, count the line breaks before.
    let (decoded, _, _) = mamori_jtext::decode(bytes, m.encoding);
    let line_at = |offset: u64| -> u64 {
        let b = decoded.as_bytes();
        let mut o = (offset as usize).min(b.len());
        while o < b.len() && (b[o] == b'\r' || b[o] == b'\n') {
            o += 1;
        }
        1 + b[..o].iter().filter(|&&c| c == b'\n').count() as u64
    };
    // Which roster column a source label feeds (for the mapping's own errors).
    let by_label = |lbl: &str| -> Option<Column> {
        m.fields.iter().find(|f| label(&f.from) == lbl || f.from.selectors().iter().any(|s| s.to_string() == lbl)).and_then(|f| column_of(&f.target))
    };
    let mut out = ParsedRoster { rows: Vec::new(), errors: Vec::new(), encoding: Some(encoding_of(parsed.encoding)) };
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(Column::ALL.iter().map(|c| c.header())).expect("in memory");
    let mut lines: Vec<u64> = Vec::new();
    let mut header_reported = false;
    for r in &parsed.rows {
        match r {
            Ok(rec) => {
                let cells: Vec<String> = Column::ALL.iter().map(|&c| cell(&rec.doc, c, m)).collect();
                w.write_record(&cells).expect("in memory");
                lines.push(line_at(rec.offset));
            }
            Err(e) => {
                let fe = &e.error;
                // A column the header lacks fails every row alike: report it once, on the header.
                let missing_header = fe.value.is_empty() && fe.ja.starts_with("見出し行にこの列がありません");
                if missing_header && header_reported {
                    continue;
                }
                let mut re = RowError::new(
                    if missing_header { 1 + m.skip_rows as u64 } else { line_at(e.offset) },
                    by_label(&fe.column),
                    &fe.value,
                    Problem::Mapped { ja: fe.ja.clone(), en: fe.en.clone() },
                );
                re.source_column = Some(fe.column.clone());
                header_reported |= missing_header;
                out.errors.push(re);
            }
        }
    }
    let std_bytes = w.into_inner().expect("in memory");
    let line_of = |row: u64| -> u64 { row.checked_sub(2).and_then(|i| lines.get(i as usize)).copied().unwrap_or(row) };
    let std = parse_roster_detailed(&std_bytes, recorded_at);
    for mut row in std.rows {
        row.row = line_of(row.row);
        out.rows.push(row);
    }
    for mut e in std.errors {
        e.row = line_of(e.row);
        if let Problem::ConflictingDuplicate { first_row } = &mut e.problem {
            *first_row = line_of(*first_row);
        }
        e.source_column = e.column.and_then(|c| sources.get(&c).cloned());
        out.errors.push(e);
    }
    if out.rows.is_empty() && out.errors.is_empty() {
        out.errors.push(RowError::new(1, None, "", Problem::EmptyFile));
    }
    out.errors.sort_by_key(|e| e.row);
    Ok(out)
}

impl ImportRecord {
    /// Parses a roster in another layout through a roster mapping into an import record (see
    /// [`parse_roster_mapped`]); the SHA-256 is of the original bytes.
    pub fn from_mapped_csv(
        id: impl Into<String>,
        mapping: &Mapping,
        bytes: &[u8],
        recorded_at: DateTime<Utc>,
        source_name: Option<String>,
    ) -> Result<Self, MappingError> {
        let file = source_name.clone().unwrap_or_else(|| "roster".into());
        let parsed = parse_roster_mapped(mapping, &file, bytes, recorded_at)?;
        Ok(ImportRecord {
            format: IMPORT_FORMAT,
            id: id.into(),
            recorded_at,
            source_name,
            source_sha256: hex::encode(Sha256::digest(bytes)),
            encoding: parsed.encoding,
            rows: parsed.rows,
            errors: parsed.errors,
        })
    }
}
