//! Declarative mappings from business-system exports (CSV) and webhook payloads (JSON) to ECS.
//!
//! A city's business systems (住基・税・福祉) and its chat and cloud-sharing services each write
//! their own layout, and no two vendors agree. Instead of one parser per vendor, a mapping file
//! (TOML) says where each ECS / `mamori.*` field comes from: a CSV column by header name or
//! position, or a JSON pointer / dotted path. The reference for every key is
//! `docs/sources/business-csv.md` and `docs/sources/webhook.md`; sample mappings ship in
//! `crates/sources/mappings/` and are available by name ([`Mapping::builtin`]).
//!
//! A mapping file that is wrong is refused when it is loaded, with the key that is wrong
//! ([`MappingError`]); a record that does not fit is refused with the column (or path) and the
//! value ([`FieldError`]), and the caller quarantines it while the rest of the input goes on.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The mappings shipped with mamori: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("juki-a", include_str!("../mappings/juki-a.toml")),
    ("zeimu-b", include_str!("../mappings/zeimu-b.toml")),
    ("fukushi-c", include_str!("../mappings/fukushi-c.toml")),
    ("chat-a", include_str!("../mappings/chat-a.toml")),
    ("share-b", include_str!("../mappings/share-b.toml")),
];

/// A mapping file that cannot be used, naming the key (`fields."user.name".type`) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("マッピング {name} のキー {key}: {ja} / mapping {name}, key {key}: {en}")]
pub struct MappingError {
    /// The mapping's name (or file name).
    pub name: String,
    /// The offending key, dotted (`timestamp.formats[1]`), or `(file)`.
    pub key: String,
    /// What is wrong, in Japanese.
    pub ja: String,
    /// What is wrong, in English.
    pub en: String,
}

/// What input a mapping reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Input {
    /// CSV (business-system exports).
    Csv,
    /// JSON objects (webhooks, audit APIs), one per line in files.
    Json,
}

/// Where a value comes from: a CSV column (header name, or 1-based position as a number or
/// `#3`), or a JSON pointer (`/event/user`) or dotted path (`event.user`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Place {
    /// One place.
    One(Selector),
    /// Several places joined with a space (separate date and time columns).
    Many(Vec<Selector>),
}

impl Place {
    /// The selectors, in order.
    pub fn selectors(&self) -> Vec<&Selector> {
        match self {
            Place::One(s) => vec![s],
            Place::Many(v) => v.iter().collect(),
        }
    }
}

/// One place a value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Selector {
    /// A 1-based CSV column position.
    Index(usize),
    /// A header name, `#N`, a JSON pointer or a dotted path.
    Name(String),
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Index(i) => write!(f, "#{i}"),
            Selector::Name(n) => f.write_str(n),
        }
    }
}

/// How a value is converted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Text (numbers in JSON become text).
    #[default]
    String,
    /// A non-negative integer; `1,234`, `１２件` accepted.
    Count,
    /// true/false; also `1`/`0`, `yes`/`no`, `はい`/`いいえ`, `有`/`無`.
    Bool,
    /// A list of strings: a JSON array, or a CSV cell split on `separator`.
    List,
    /// A time, by the field's `formats` (or the timestamp's), stored as RFC 3339 UTC.
    Timestamp,
    /// JSON only: the value as it is (object, array, number…).
    Keep,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    mapping: RawHeader,
    #[serde(default)]
    csv: Option<RawCsv>,
    #[serde(default)]
    json: Option<RawJson>,
    timestamp: Option<RawTimestamp>,
    #[serde(default)]
    fields: BTreeMap<String, RawField>,
    #[serde(default)]
    constants: BTreeMap<String, toml::Value>,
    #[serde(default)]
    action: Option<RawAction>,
    #[serde(default)]
    recipients: Option<RawRecipients>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    input: Input,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    dataset: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCsv {
    #[serde(default = "auto")]
    encoding: String,
    #[serde(default = "comma")]
    delimiter: String,
    #[serde(default = "yes")]
    has_header: bool,
    #[serde(default)]
    skip_rows: usize,
}

fn auto() -> String {
    "auto".into()
}
fn comma() -> String {
    ",".into()
}
fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJson {
    #[serde(default)]
    records: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimestamp {
    from: Place,
    formats: Vec<String>,
    #[serde(default)]
    timezone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    from: Place,
    #[serde(default, rename = "type")]
    ty: FieldType,
    #[serde(default)]
    map: BTreeMap<String, String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    separator: Option<String>,
    #[serde(default)]
    formats: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    from: Place,
    #[serde(default)]
    map: BTreeMap<String, String>,
    #[serde(default)]
    category: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    personal_data: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipients {
    from: Place,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    external: Option<String>,
    #[serde(default)]
    internal_domains: Vec<String>,
}

/// One way of reading a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// 和暦 or Western date as `mamori-jtext` reads it (`令和6年4月1日`, `R6.4.1`, `2024/4/1`),
    /// optionally followed by a time (`10:05`, `10:05:30`, `10時5分30秒`).
    Wareki,
    /// RFC 3339 with an offset.
    Rfc3339,
    /// Seconds since 1970 (a number or a string; fractions allowed).
    Epoch,
    /// Milliseconds since 1970.
    EpochMillis,
    /// A chrono `strftime` pattern, e.g. `%Y/%m/%d %H:%M:%S`.
    Pattern(String),
}

/// A compiled field rule.
#[derive(Clone, Debug)]
pub struct FieldRule {
    /// Target field, dotted (`user.name`).
    pub target: String,
    /// Source.
    pub from: Place,
    /// Conversion.
    pub ty: FieldType,
    /// Value translation (applied to text before conversion).
    pub map: BTreeMap<String, String>,
    /// A missing or empty value refuses the record.
    pub required: bool,
    /// List separator for CSV cells.
    pub separator: String,
    /// Time formats (timestamp fields).
    pub formats: Vec<TimeFormat>,
}

/// A compiled action rule: operation code → `event.action`.
#[derive(Clone, Debug)]
pub struct ActionRule {
    /// Source of the operation code.
    pub from: Place,
    /// Code → action; unknown codes are kept as `event.action` as they are.
    pub map: BTreeMap<String, String>,
    /// Action → `event.category` values.
    pub category: BTreeMap<String, Vec<String>>,
    /// Actions that touch personal data (`mamori.personal_data: true`).
    pub personal_data: Vec<String>,
}

/// A compiled recipients rule (chat and sharing).
#[derive(Clone, Debug)]
pub struct RecipientsRule {
    /// Source: a list of addresses or of objects.
    pub from: Place,
    /// In each object: where the address is.
    pub address: Option<String>,
    /// In each object: a boolean saying the recipient is external.
    pub external: Option<String>,
    /// Mail domains of the city (suffix match); other domains are external.
    pub internal_domains: Vec<String>,
}

/// A checked mapping.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// Name (`juki-a`), used in `--mapping`, `?mapping=` and `mamori.mapping.name`.
    pub name: String,
    /// What it reads.
    pub input: Input,
    /// The business system, set as `mamori.export.system`.
    pub system: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `event.dataset` (default `business.NAME` or `webhook.NAME`).
    pub dataset: String,
    /// CSV: forced encoding (None = auto-detect).
    pub encoding: Option<mamori_jtext::SourceEncoding>,
    /// CSV: delimiter byte.
    pub delimiter: u8,
    /// CSV: the first (non-skipped) row is a header.
    pub has_header: bool,
    /// CSV: rows skipped before the header (titles some systems print).
    pub skip_rows: usize,
    /// JSON: pointer to an array of records inside each payload.
    pub records: Option<String>,
    /// Timestamp source and formats (None: the time the record was received).
    pub timestamp: Option<(Place, Vec<TimeFormat>)>,
    /// Offset for times without one.
    pub timezone: FixedOffset,
    /// Field rules.
    pub fields: Vec<FieldRule>,
    /// Constant fields.
    pub constants: Vec<(String, Value)>,
    /// Operation code rule.
    pub action: Option<ActionRule>,
    /// Recipients rule.
    pub recipients: Option<RecipientsRule>,
    /// The TOML text it was read from.
    pub source: String,
}

/// A value that does not fit, naming the column or path and the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("列/項目「{column}」の値 {value:?}: {ja} / column {column}, value {value:?}: {en}")]
pub struct FieldError {
    /// The column (header name or `#N`) or JSON path.
    pub column: String,
    /// The value as found (empty when missing).
    pub value: String,
    /// What is wrong, in Japanese.
    pub ja: String,
    /// What is wrong, in English.
    pub en: String,
}

fn ferr(column: impl std::fmt::Display, value: &str, ja: impl Into<String>, en: impl Into<String>) -> FieldError {
    FieldError { column: column.to_string(), value: value.to_owned(), ja: ja.into(), en: en.into() }
}

impl Mapping {
    /// A mapping shipped with mamori, by name.
    pub fn builtin(name: &str) -> Option<Mapping> {
        BUILTIN.iter().find(|(n, _)| *n == name).map(|(n, t)| Mapping::parse(t, n).expect("shipped mappings are valid"))
    }

    /// Names of the shipped mappings.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// Parses and checks a mapping file. `label` names it in errors (file name or mapping name).
    pub fn parse(text: &str, label: &str) -> Result<Mapping, MappingError> {
        let e = |key: &str, ja: String, en: String| MappingError { name: label.to_owned(), key: key.to_owned(), ja, en };
        let raw: RawFile = toml::from_str(text).map_err(|t| {
            // The toml crate names the key and line (`unknown field `typ``, `missing field `from``).
            let msg = t.message().to_owned();
            let line = t.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let key = line.map_or_else(|| "(file)".to_owned(), |l| format!("(line {l})"));
            e(&key, format!("TOML として読めません: {msg}"), format!("not valid for a mapping: {msg}"))
        })?;
        let name = raw.mapping.name.trim().to_owned();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(e("mapping.name", "英数字・ハイフン・下線のみで指定してください".into(), format!("must be ASCII letters, digits, - or _ (got {name:?})")));
        }
        let input = raw.mapping.input;
        let (encoding, delimiter, has_header, skip_rows) = match (&raw.csv, input) {
            (Some(_), Input::Json) => return Err(e("csv", "JSON 入力のマッピングに [csv] は使えません".into(), "[csv] is for input = \"csv\"".into())),
            (Some(c), Input::Csv) => {
                let enc = match c.encoding.to_ascii_lowercase().as_str() {
                    "auto" => None,
                    "cp932" | "shift_jis" | "sjis" => Some(mamori_jtext::SourceEncoding::Cp932),
                    "utf-8" | "utf8" => Some(mamori_jtext::SourceEncoding::Utf8),
                    "utf-8-bom" => Some(mamori_jtext::SourceEncoding::Utf8Bom),
                    other => return Err(e("csv.encoding", format!("不明な文字コード {other:?}"), format!("unknown encoding {other:?}; use auto, cp932, utf-8 or utf-8-bom"))),
                };
                let d = match c.delimiter.as_str() {
                    "\\t" | "\t" | "tab" => b'\t',
                    s if s.len() == 1 && s.is_ascii() => s.as_bytes()[0],
                    s => return Err(e("csv.delimiter", format!("区切り文字は半角1文字です: {s:?}"), format!("must be one ASCII character or \"tab\" (got {s:?})"))),
                };
                (enc, d, c.has_header, c.skip_rows)
            }
            (None, _) => (None, b',', true, 0),
        };
        if raw.json.is_some() && input == Input::Csv {
            return Err(e("json", "CSV 入力のマッピングに [json] は使えません".into(), "[json] is for input = \"json\"".into()));
        }
        let records = raw.json.and_then(|j| j.records);
        if let Some(r) = &records
            && !r.starts_with('/')
        {
            return Err(e("json.records", "JSON ポインタ(/ で始まる)で指定してください".into(), format!("must be a JSON pointer starting with / (got {r:?})")));
        }
        let check_from = |key: &str, from: &Place| -> Result<(), MappingError> {
            let sels = from.selectors();
            if sels.is_empty() {
                return Err(e(key, "取得元が空です".into(), "is empty".into()));
            }
            for s in sels {
                match (s, input) {
                    (Selector::Index(0), _) => return Err(e(key, "列番号は1から数えます".into(), "column positions start at 1".into())),
                    (Selector::Index(_), Input::Json) => return Err(e(key, "JSON では列番号は使えません".into(), "a column position is for CSV input".into())),
                    (Selector::Name(n), _) if n.trim().is_empty() => return Err(e(key, "取得元が空です".into(), "is empty".into())),
                    (Selector::Name(n), Input::Csv) if !has_header && parse_hash_index(n).is_none() => {
                        return Err(e(key, "見出し行がないため列番号(#1 など)で指定してください".into(), format!("has_header = false: use a column position like #1 (got {n:?})")));
                    }
                    _ => {}
                }
            }
            Ok(())
        };
        let compile_formats = |key: &str, formats: &[String]| -> Result<Vec<TimeFormat>, MappingError> {
            if formats.is_empty() {
                return Err(e(key, "日時の書式がありません".into(), "no time formats".into()));
            }
            formats
                .iter()
                .enumerate()
                .map(|(i, f)| compile_format(f).map_err(|why| e(&format!("{key}[{i}]"), format!("日時の書式が不正です: {why}"), format!("invalid time format {f:?}: {why}"))))
                .collect()
        };
        let timezone = match raw.timestamp.as_ref().and_then(|t| t.timezone.as_deref()) {
            None => FixedOffset::east_opt(9 * 3600).expect("+09:00"),
            Some(tz) => parse_offset(tz).ok_or_else(|| e("timestamp.timezone", format!("+09:00 の形で指定してください: {tz:?}"), format!("must look like +09:00 (got {tz:?})")))?,
        };
        let timestamp = match raw.timestamp {
            None => None,
            Some(t) => {
                check_from("timestamp.from", &t.from)?;
                Some((t.from, compile_formats("timestamp.formats", &t.formats)?))
            }
        };
        let mut fields = Vec::new();
        for (target, f) in raw.fields {
            let key = format!("fields.\"{target}\"");
            check_target(&target).map_err(|(ja, en)| e(&key, ja, en))?;
            check_from(&format!("{key}.from"), &f.from)?;
            if f.ty == FieldType::Keep && input == Input::Csv {
                return Err(e(&format!("{key}.type"), "keep は JSON 入力専用です".into(), "type = \"keep\" is for JSON input".into()));
            }
            let formats = match (f.ty, f.formats.is_empty()) {
                (FieldType::Timestamp, false) => compile_formats(&format!("{key}.formats"), &f.formats)?,
                (FieldType::Timestamp, true) => match &timestamp {
                    Some((_, fm)) => fm.clone(),
                    None => return Err(e(&format!("{key}.formats"), "日時の書式がありません".into(), "a timestamp field needs formats (or a [timestamp] section)".into())),
                },
                (_, false) => return Err(e(&format!("{key}.formats"), "formats は type = \"timestamp\" のときだけ使えます".into(), "formats is only for type = \"timestamp\"".into())),
                (_, true) => Vec::new(),
            };
            fields.push(FieldRule {
                target,
                from: f.from,
                ty: f.ty,
                map: f.map,
                required: f.required,
                separator: f.separator.unwrap_or_else(|| ";".into()),
                formats,
            });
        }
        let mut constants = Vec::new();
        for (target, v) in raw.constants {
            let key = format!("constants.\"{target}\"");
            check_target(&target).map_err(|(ja, en)| e(&key, ja, en))?;
            let v = serde_json::to_value(v).map_err(|x| e(&key, x.to_string(), x.to_string()))?;
            constants.push((target, v));
        }
        let action = match raw.action {
            None => None,
            Some(a) => {
                check_from("action.from", &a.from)?;
                Some(ActionRule { from: a.from, map: a.map, category: a.category, personal_data: a.personal_data })
            }
        };
        let recipients = match raw.recipients {
            None => None,
            Some(r) => {
                if input == Input::Csv && (r.address.is_some() || r.external.is_some()) {
                    return Err(e("recipients", "address/external は JSON 入力専用です".into(), "address and external are for JSON input".into()));
                }
                check_from("recipients.from", &r.from)?;
                let internal_domains = r.internal_domains.iter().map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase()).collect();
                Some(RecipientsRule { from: r.from, address: r.address, external: r.external, internal_domains })
            }
        };
        let dataset = raw.mapping.dataset.unwrap_or_else(|| format!("{}.{name}", if input == Input::Csv { "business" } else { "webhook" }));
        Ok(Mapping {
            name,
            input,
            system: raw.mapping.system,
            description: raw.mapping.description,
            dataset,
            encoding,
            delimiter,
            has_header,
            skip_rows,
            records,
            timestamp,
            timezone,
            fields,
            constants,
            action,
            recipients,
            source: text.to_owned(),
        })
    }

    /// Builds the ECS document of one record. `get` looks a selector up in the record and
    /// returns the value found (None when absent); `received` stands in for a missing time when
    /// the mapping has no `[timestamp]`.
    pub fn apply(&self, get: &dyn Fn(&Selector) -> Option<Value>, received: DateTime<Utc>) -> Result<Map<String, Value>, FieldError> {
        let mut doc = Map::new();
        let set = |doc: &mut Map<String, Value>, path: &str, v: Value| mamori_event::set_path(doc, path, v);
        let kind_module = if self.input == Input::Csv { "business" } else { "webhook" };
        set(&mut doc, "event.kind", Value::from("event"));
        set(&mut doc, "event.module", Value::from(kind_module));
        set(&mut doc, "event.dataset", Value::from(self.dataset.clone()));
        set(&mut doc, "mamori.mapping.name", Value::from(self.name.clone()));
        if let Some(s) = &self.system {
            set(&mut doc, "mamori.export.system", Value::from(s.clone()));
        }
        for (k, v) in &self.constants {
            set(&mut doc, k, v.clone());
        }
        let ts = match &self.timestamp {
            Some((from, formats)) => {
                let (label, text) = joined(from, get);
                if text.trim().is_empty() {
                    return Err(ferr(label, "", "日時がありません", "no time"));
                }
                parse_time(&text, formats, self.timezone).ok_or_else(|| ferr(&label, &text, "日時として読めません(書式を確認してください)", "not a time in any of the mapping's formats"))?
            }
            None => received,
        };
        doc.insert("@timestamp".into(), Value::from(mamori_event::format_ts(ts)));
        for rule in &self.fields {
            let (label, raw) = one_value(&rule.from, get);
            let Some(raw) = raw.filter(|v| !is_empty(v)) else {
                if rule.required {
                    return Err(ferr(label, "", "必須の値がありません", "required value is missing"));
                }
                continue;
            };
            let v = convert(rule, &raw, self.timezone).map_err(|(ja, en)| ferr(&label, &text_of(&raw), ja, en))?;
            set(&mut doc, &rule.target, v);
        }
        if let Some(a) = &self.action {
            let (label, code) = joined(&a.from, get);
            let code = mamori_jtext::halfwidth(&code).trim().to_owned();
            if code.is_empty() {
                return Err(ferr(label, "", "操作区分がありません", "no operation code"));
            }
            let action = a.map.get(&code).cloned().unwrap_or_else(|| code.clone());
            set(&mut doc, "mamori.export.operation", Value::from(code.clone()));
            if !a.map.contains_key(&code) {
                set(&mut doc, "mamori.mapping.unknown_operation", Value::Bool(true));
            }
            if let Some(cat) = a.category.get(&action) {
                set(&mut doc, "event.category", Value::from(cat.clone()));
            }
            if a.personal_data.contains(&action) {
                set(&mut doc, "mamori.personal_data", Value::Bool(true));
            }
            set(&mut doc, "event.action", Value::from(action));
        }
        if let Some(r) = &self.recipients {
            let (label, v) = one_value(&r.from, get);
            if let Some(v) = v.filter(|v| !is_empty(v)) {
                let (all, external) = recipients(r, &v).map_err(|(ja, en)| ferr(&label, &text_of(&v), ja, en))?;
                set(&mut doc, "mamori.sharing.external", Value::Bool(!external.is_empty()));
                set(&mut doc, "mamori.sharing.recipients", Value::from(all));
                set(&mut doc, "mamori.sharing.external_recipients", Value::from(external));
            }
        }
        if !doc.contains_key("message") {
            // A one-line summary for officers and full-text search (the system's name, who, what,
            // how many), when the mapping sets no message of its own.
            let g = |p: &str| mamori_event::get_path(&doc, p).map(text_of);
            let mut parts: Vec<String> = [g("mamori.export.system"), g("user.name"), g("mamori.export.operation").or(g("event.action")), g("file.name")].into_iter().flatten().collect();
            if let Some(n) = g("mamori.export.records") {
                parts.push(format!("{n}件"));
            }
            if !parts.is_empty() {
                doc.insert("message".into(), Value::from(parts.join(" ")));
            }
        }
        Ok(doc)
    }
}

fn parse_hash_index(s: &str) -> Option<usize> {
    s.strip_prefix('#')?.parse().ok().filter(|i| *i > 0)
}

/// The 0-based CSV column a selector names, given the header (None: not in the header).
pub fn column_index(sel: &Selector, header: Option<&[String]>) -> Option<usize> {
    match sel {
        Selector::Index(i) => Some(i - 1),
        Selector::Name(n) => {
            if let Some(i) = parse_hash_index(n) {
                return Some(i - 1);
            }
            let want = mamori_jtext::halfwidth(n).trim().to_owned();
            header?.iter().position(|h| *h == want)
        }
    }
}

/// Header cells normalised for matching: BOM removed, half-width, trimmed.
pub fn normalize_header(cell: &str) -> String {
    mamori_jtext::halfwidth(cell.trim_start_matches('\u{FEFF}')).trim().to_owned()
}

fn check_target(t: &str) -> Result<(), (String, String)> {
    if t.is_empty() || t.split('.').any(str::is_empty) || t.starts_with('@') && t != "@timestamp" {
        return Err(("項目名が不正です".into(), format!("not a field name: {t:?}")));
    }
    if t == "@timestamp" {
        return Err(("@timestamp は [timestamp] で指定してください".into(), "set @timestamp with the [timestamp] section".into()));
    }
    Ok(())
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{}", s.trim())).ok().map(|t| *t.offset())
}

fn compile_format(f: &str) -> Result<TimeFormat, String> {
    Ok(match f {
        "wareki" => TimeFormat::Wareki,
        "rfc3339" => TimeFormat::Rfc3339,
        "epoch" => TimeFormat::Epoch,
        "epoch_ms" => TimeFormat::EpochMillis,
        p => {
            use chrono::format::{Item, StrftimeItems};
            if !p.contains('%') {
                return Err("wareki, rfc3339, epoch, epoch_ms か %Y/%m/%d のような書式 / expected wareki, rfc3339, epoch, epoch_ms or a strftime pattern".into());
            }
            if StrftimeItems::new(p).any(|i| matches!(i, Item::Error)) {
                return Err("strftime として不正 / not a valid strftime pattern".into());
            }
            TimeFormat::Pattern(p.to_owned())
        }
    })
}

/// Parses a time by the first format that reads it; local times are taken at `tz`.
pub fn parse_time(text: &str, formats: &[TimeFormat], tz: FixedOffset) -> Option<DateTime<Utc>> {
    let t = mamori_jtext::halfwidth(text);
    let t = t.trim();
    let local = |n: NaiveDateTime| tz.from_local_datetime(&n).single().map(|d| d.with_timezone(&Utc));
    formats.iter().find_map(|f| match f {
        TimeFormat::Rfc3339 => DateTime::parse_from_rfc3339(t).ok().map(|d| d.with_timezone(&Utc)),
        TimeFormat::Epoch => {
            let s: f64 = t.parse().ok()?;
            if !s.is_finite() {
                return None;
            }
            DateTime::from_timestamp_micros((s * 1e6).round() as i64)
        }
        TimeFormat::EpochMillis => DateTime::from_timestamp_millis(t.parse().ok()?),
        TimeFormat::Wareki => {
            let mut parts = t.splitn(2, [' ', 'T']);
            let date = mamori_jtext::parse_date(parts.next()?).ok()?;
            let time = match parts.next().map(str::trim) {
                None | Some("") => NaiveTime::MIN,
                Some(tm) => parse_clock(tm)?,
            };
            local(date.and_time(time))
        }
        TimeFormat::Pattern(p) => {
            if p.contains("%z") || p.contains("%:z") {
                return DateTime::parse_from_str(t, p).ok().map(|d| d.with_timezone(&Utc));
            }
            match NaiveDateTime::parse_from_str(t, p) {
                Ok(n) => local(n),
                Err(_) => NaiveDate::parse_from_str(t, p).ok().and_then(|d| local(d.and_time(NaiveTime::MIN))),
            }
        }
    })
}

/// `10:05`, `10:05:30`, `10:05:30.123`, `10時5分`, `10時5分30秒`.
fn parse_clock(s: &str) -> Option<NaiveTime> {
    let s: String = s.chars().filter(|c| *c != '秒').map(|c| if c == '時' || c == '分' { ':' } else { c }).collect();
    let s = s.trim_end_matches(':');
    let mut it = s.split(':');
    let h: u32 = it.next()?.trim().parse().ok()?;
    let m: u32 = it.next().map_or(Some(0), |x| x.trim().parse().ok())?;
    let (sec, micro) = match it.next() {
        None => (0, 0),
        Some(x) => {
            let (a, b) = x.trim().split_once('.').unwrap_or((x.trim(), ""));
            let frac = if b.is_empty() { 0 } else { format!("{b:0<6}").get(..6)?.parse().ok()? };
            (a.parse().ok()?, frac)
        }
    };
    if it.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_micro_opt(h, m, sec, micro)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first selector's value, with its label.
fn one_value(from: &Place, get: &dyn Fn(&Selector) -> Option<Value>) -> (String, Option<Value>) {
    let sels = from.selectors();
    if sels.len() == 1 {
        return (sels[0].to_string(), get(sels[0]));
    }
    let (label, text) = joined(from, get);
    (label, (!text.trim().is_empty()).then_some(Value::String(text)))
}

/// All selectors' values as text joined by a space (date + time columns), with a label.
fn joined(from: &Place, get: &dyn Fn(&Selector) -> Option<Value>) -> (String, String) {
    let sels = from.selectors();
    let label = sels.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("+");
    let text = sels.iter().filter_map(|s| get(s)).map(|v| text_of(&v)).filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join(" ");
    (label, text)
}

type Why = (String, String);

fn convert(rule: &FieldRule, raw: &Value, tz: FixedOffset) -> Result<Value, Why> {
    let mapped = |s: &str| -> String {
        let k = s.trim();
        rule.map.get(k).or_else(|| rule.map.get(&mamori_jtext::halfwidth(k))).cloned().unwrap_or_else(|| k.to_owned())
    };
    match rule.ty {
        FieldType::Keep => Ok(raw.clone()),
        FieldType::String => Ok(Value::String(mapped(&text_of(raw)))),
        FieldType::Count => match raw {
            Value::Number(n) if n.as_u64().is_some() => Ok(raw.clone()),
            _ => {
                let s = mamori_jtext::halfwidth(&mapped(&text_of(raw)));
                let digits: String = s.trim().trim_end_matches('件').trim().chars().filter(|c| *c != ',').collect();
                digits.parse::<u64>().map(Value::from).map_err(|_| ("0以上の整数ではありません".into(), "not a non-negative whole number".into()))
            }
        },
        FieldType::Bool => match raw {
            Value::Bool(_) => Ok(raw.clone()),
            _ => {
                let s = mapped(&text_of(raw)).to_lowercase();
                match mamori_jtext::halfwidth(&s).trim() {
                    "true" | "1" | "yes" | "y" | "はい" | "有" | "あり" | "済" => Ok(Value::Bool(true)),
                    "false" | "0" | "no" | "n" | "いいえ" | "無" | "なし" | "未" => Ok(Value::Bool(false)),
                    _ => Err(("真偽値(はい/いいえ)ではありません".into(), "not a boolean (true/false, 1/0, はい/いいえ)".into())),
                }
            }
        },
        FieldType::List => match raw {
            Value::Array(a) => Ok(Value::from(a.iter().map(|v| mapped(&text_of(v))).collect::<Vec<_>>())),
            _ => Ok(Value::from(text_of(raw).split(rule.separator.as_str()).map(str::trim).filter(|s| !s.is_empty()).map(mapped).collect::<Vec<_>>())),
        },
        FieldType::Timestamp => {
            let s = text_of(raw);
            parse_time(&s, &rule.formats, tz)
                .map(|t| Value::from(mamori_event::format_ts(t)))
                .ok_or_else(|| ("日時として読めません(書式を確認してください)".into(), "not a time in any of the field's formats".into()))
        }
    }
}

/// Looks a JSON pointer (`/a/b`) or dotted path (`a.b`) up.
pub fn json_lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    if path.starts_with('/') {
        return v.pointer(path);
    }
    path.split('.').try_fold(v, |cur, k| match cur {
        Value::Array(a) => a.get(k.parse::<usize>().ok()?),
        _ => cur.get(k),
    })
}

fn recipients(r: &RecipientsRule, v: &Value) -> Result<(Vec<String>, Vec<String>), Why> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::String(_) | Value::Object(_) => vec![v],
        _ => return Err(("宛先の一覧ではありません".into(), "not a list of recipients".into())),
    };
    let mut all = Vec::new();
    let mut external = Vec::new();
    for item in items {
        let addr = match (&r.address, item) {
            (Some(p), Value::Object(_)) => json_lookup(item, p).map(text_of),
            (_, Value::String(s)) => Some(s.clone()),
            (None, Value::Object(_)) => None,
            (_, other) => Some(text_of(other)),
        };
        let Some(addr) = addr.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()) else {
            return Err(("宛先のアドレスがありません".into(), "a recipient has no address".into()));
        };
        let flagged = r.external.as_ref().and_then(|p| json_lookup(item, p)).and_then(Value::as_bool);
        let is_external = flagged.unwrap_or_else(|| match addr.rsplit_once('@') {
            Some((_, dom)) => {
                let dom = dom.to_ascii_lowercase();
                !r.internal_domains.iter().any(|d| dom == *d || dom.ends_with(&format!(".{d}")))
            }
            None => false,
        });
        if is_external {
            external.push(addr.clone());
        }
        all.push(addr);
    }
    Ok((all, external))
}

/// A CSV record as the mapping sees it: cells by position, header names for lookup.
pub fn csv_getter<'a>(header: Option<&'a [String]>, cells: &'a [String]) -> impl Fn(&Selector) -> Option<Value> + 'a {
    move |sel| {
        let i = column_index(sel, header)?;
        cells.get(i).map(|c| Value::String(c.clone()))
    }
}

/// A JSON record as the mapping sees it.
pub fn json_getter(v: &Value) -> impl Fn(&Selector) -> Option<Value> + '_ {
    move |sel| match sel {
        Selector::Name(p) => json_lookup(v, p).cloned(),
        Selector::Index(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jst() -> FixedOffset {
        FixedOffset::east_opt(9 * 3600).unwrap()
    }

    #[test]
    fn shipped_mappings_parse() {
        for n in Mapping::builtin_names() {
            let m = Mapping::builtin(n).unwrap();
            assert_eq!(m.name, n);
        }
    }

    #[test]
    fn times_in_every_form() {
        let w = [TimeFormat::Wareki];
        let want = "2024-04-01T01:02:03Z";
        for t in ["令和6年4月1日 10:02:03", "R6.4.1 10:02:03", "Ｒ６．４．１　１０：０２：０３", "令和6年4月1日 10時2分3秒", "2024/4/1 10:02:03"] {
            assert_eq!(parse_time(t, &w, jst()).map(mamori_event::format_ts).as_deref(), Some("2024-04-01T01:02:03.000000Z"), "{t}");
        }
        let p = [TimeFormat::Pattern("%Y/%m/%d %H:%M:%S".into())];
        assert_eq!(parse_time("2024/04/01 10:02:03", &p, jst()).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), want);
        assert!(parse_time("2024/13/01 10:02:03", &p, jst()).is_none());
        assert!(parse_time("平成31年5月1日 10:00", &w, jst()).is_none(), "平成 ended on 2019-04-30");
        let e = [TimeFormat::Epoch];
        assert_eq!(parse_time("1711933323", &e, jst()).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), want);
    }

    #[test]
    fn mapping_errors_name_the_key() {
        let base = "[mapping]\nname = \"x\"\ninput = \"csv\"\n";
        let e = Mapping::parse(&format!("{base}[fields.\"user.name\"]\nfrom = \"a\"\ntype = \"integer\"\n"), "t.toml").unwrap_err();
        assert!(e.to_string().contains("integer"), "{e}");
        assert!(e.key.contains("line 6"), "{e:?}");
        let e = Mapping::parse(&format!("{base}[timestamp]\nfrom = \"a\"\nformats = [\"wareki\", \"%Q\"]\n"), "t.toml").unwrap_err();
        assert_eq!(e.key, "timestamp.formats[1]");
        let e = Mapping::parse(&format!("{base}[timestamp]\nfrom = \"a\"\nformats = [\"wareki\"]\ntimezone = \"JST\"\n"), "t.toml").unwrap_err();
        assert_eq!(e.key, "timestamp.timezone");
        let e = Mapping::parse(&format!("{base}[fields.\"user.name\"]\nfrom = 0\n"), "t.toml").unwrap_err();
        assert_eq!(e.key, "fields.\"user.name\".from");
        let e = Mapping::parse("[mapping]\nname = \"a b\"\ninput = \"csv\"\n", "t.toml").unwrap_err();
        assert_eq!(e.key, "mapping.name");
    }

    #[test]
    fn recipients_are_split_internal_external() {
        let r = RecipientsRule {
            from: Place::One(Selector::Name("/to".into())),
            address: Some("email".into()),
            external: None,
            internal_domains: vec!["city.example.lg.jp".into()],
        };
        let v: Value = serde_json::json!([{"email": "a@city.example.lg.jp"}, {"email": "b@soumu.city.example.lg.jp"}, {"email": "c@gmail.com"}]);
        let (all, ext) = recipients(&r, &v).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(ext, vec!["c@gmail.com".to_owned()]);
        assert!(recipients(&r, &serde_json::json!([{"name": "x"}])).is_err());
    }

    #[test]
    fn counts_accept_what_people_type() {
        let rule = FieldRule { target: "x".into(), from: Place::One(Selector::Index(1)), ty: FieldType::Count, map: BTreeMap::new(), required: false, separator: ";".into(), formats: vec![] };
        for (s, n) in [("1,234", 1234u64), ("１２件", 12), (" 7 ", 7)] {
            assert_eq!(convert(&rule, &Value::from(s), jst()).unwrap(), Value::from(n));
        }
        assert!(convert(&rule, &Value::from("-1"), jst()).is_err());
        assert!(convert(&rule, &Value::from("abc"), jst()).is_err());
    }
}
