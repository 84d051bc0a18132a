//! CUPS `page_log` and `access_log` lines to ECS print events.
//!
//! # page_log
//!
//! cupsd writes one line per job when it completes (CUPS 2.x: the page field
//! is the word `total` and the next field the number of impressions), or one
//! per page from drivers that report pages individually (older CUPS). Two
//! layouts are understood, told apart per line:
//!
//! - CUPS' default `PageLogFormat` (cupsd-logs(5)):
//!   `%p %u %j %T %P %C %{job-billing} %{job-originating-host-name} %{job-name} %{media} %{sides}`.
//!   cupsd does not escape blanks in the job name, so the job name is
//!   everything between the host and the last two fields (media and sides are
//!   IPP keywords, never blank-containing).
//! - mamori's recommended keyed format (docs/sources/cups.md), where every
//!   value is labelled and the free-text job name comes last:
//!   `printer=%p user=%u job=%j time=%T pages=%P sheets=%C copies=%{copies} billing=%{job-billing}
//!   host=%{job-originating-host-name} media=%{media} sides=%{sides} format=%{document-format} title=%{job-name}`.
//!   Unknown keys are kept under `mamori.print.attributes`; keys may come in
//!   any order, but `title=` must be last (its value runs to the end of line).
//!
//! Fields: `@timestamp`, `user.name`, `file.name` (the job name, i.e. the
//! document title the user printed), `source.ip`/`source.domain`
//! (job-originating-host-name), `mamori.print.{printer,job_id,pages,page,
//! copies,sheets,billing,media,sides,document_format,document}`,
//! `event.{category,type,action,outcome}`, `related.user`.
//! `mamori.print.pages` is the number of impressions of a `total` line (the
//! count cupsd gives; 0 for raw queues, which cupsd cannot count).
//!
//! # access_log
//!
//! Common Log Format plus CUPS' IPP operation and status (cupsd-logs(5)):
//! `host group user [date] "METHOD resource HTTP/1.1" status bytes ipp-operation ipp-status`.
//! Fields: `source.ip`/`source.domain`, `user.name` (authenticated user; `-`
//! for anonymous submission), `http.request.method`, `url.path`,
//! `http.response.{status_code,bytes}`, `mamori.print.{ipp_operation,
//! ipp_status,printer,job_id}` (printer/job from `/printers/NAME`,
//! `/jobs/N`), `event.action` (`ipp-create-job`, …), `event.outcome`.

use std::net::IpAddr;

use chrono::Utc;
use serde_json::{Map, Value};

use super::syslog::set;
use super::text_line::{
    LineParseError, LinePos, base_doc, dash, format_ts, parse_clf_time, raw_line_doc, tokens,
};

/// `event.module` of CUPS events.
pub const CUPS_MODULE: &str = "cups";
/// `event.dataset` of page_log events.
pub const CUPS_PAGE_DATASET: &str = "cups.page";
/// `event.dataset` of access_log events.
pub const CUPS_ACCESS_DATASET: &str = "cups.access";

const HINT_PAGE: &str = "page_log lines are 'printer user job [time] page copies billing host job-name media sides' \
     (the default PageLogFormat) or mamori's keyed 'printer=… user=… … title=…'; see docs/sources/cups.md";
const HINT_ACCESS: &str = "access_log lines are 'host group user [time] \"METHOD /resource HTTP/1.1\" status bytes operation status'";

/// Keys of mamori's keyed PageLogFormat that map to fields.
const KNOWN_KEYS: [&str; 13] = [
    "printer", "user", "job", "time", "pages", "sheets", "copies", "billing", "host", "media",
    "sides", "format", "title",
];

/// Parses one page_log line.
pub fn parse_page_log_line(raw: &[u8], pos: LinePos) -> Result<Map<String, Value>, LineParseError> {
    page_text(raw, pos).map_err(|e| super::text_line::to_raw_column(raw, e))
}

fn page_text(raw: &[u8], pos: LinePos) -> Result<Map<String, Value>, LineParseError> {
    let (text, _) = super::text_line::line_text(raw);
    let mut doc = base_doc(CUPS_MODULE, CUPS_PAGE_DATASET, raw, pos);
    if text.starts_with("printer=") {
        keyed(&text, pos, &mut doc)?;
    } else {
        positional(&text, pos, &mut doc)?;
    }
    set(
        &mut doc,
        &["event", "category"],
        Value::Array(vec!["file".into()]),
    );
    set(
        &mut doc,
        &["event", "type"],
        Value::Array(vec!["access".into()]),
    );
    set(&mut doc, &["event", "outcome"], "success".into());
    Ok(doc)
}

/// [`parse_page_log_line`], keeping an unparseable line raw.
pub fn page_log_line_doc(raw: &[u8], pos: LinePos) -> (Map<String, Value>, Option<LineParseError>) {
    match parse_page_log_line(raw, pos) {
        Ok(d) => (d, None),
        Err(e) => (
            raw_line_doc(CUPS_MODULE, CUPS_PAGE_DATASET, raw, &e),
            Some(e),
        ),
    }
}

/// What the page field (`%P`) held.
enum Page {
    Total,
    Number(u64),
}

struct Job<'a> {
    printer: &'a str,
    user: &'a str,
    job: &'a str,
    job_col: usize,
    time: &'a str,
    time_col: usize,
    page: &'a str,
    page_col: usize,
    count: &'a str,
    count_col: usize,
    billing: Option<&'a str>,
    host: Option<&'a str>,
    title: Option<&'a str>,
    media: Option<&'a str>,
    sides: Option<&'a str>,
}

fn positional(
    text: &str,
    pos: LinePos,
    doc: &mut Map<String, Value>,
) -> Result<(), LineParseError> {
    let toks = tokens(text);
    // printer user job [dd/Mon/yyyy:HH:MM:SS +zzzz] page count billing host name… media sides
    if toks.len() < 7 {
        let col = toks.last().map(|(c, t)| c + t.len()).unwrap_or(0);
        return Err(pos.error(
            col,
            format!(
                "page_log line has {} fields, expected at least 7",
                toks.len()
            ),
            HINT_PAGE,
        ));
    }
    if !toks[3].1.starts_with('[') || !toks[4].1.ends_with(']') {
        return Err(pos.error(
            toks[3].0,
            "fourth field is not a [date time zone] time stamp",
            HINT_PAGE,
        ));
    }
    let time = &text[toks[3].0..toks[4].0 + toks[4].1.len()];
    let rest = &toks[5..];
    let (billing, host, title, media, sides) = match rest.len() {
        // page count (old CUPS 1.x default without billing/host)
        2 => (None, None, None, None, None),
        // page count billing host (CUPS 1.2–1.4 default)
        4 => (Some(rest[2].1), Some(rest[3].1), None, None, None),
        n if n >= 7 => {
            let name = &text[rest[4].0..rest[n - 3].0 + rest[n - 3].1.len()];
            (
                Some(rest[2].1),
                Some(rest[3].1),
                Some(name),
                Some(rest[n - 2].1),
                Some(rest[n - 1].1),
            )
        }
        // page count billing host name (no media/sides)
        5 => (
            Some(rest[2].1),
            Some(rest[3].1),
            Some(rest[4].1),
            None,
            None,
        ),
        6 => {
            let name = &text[rest[4].0..rest[5].0 + rest[5].1.len()];
            (Some(rest[2].1), Some(rest[3].1), Some(name), None, None)
        }
        n => {
            return Err(pos.error(
                rest[n - 1].0,
                format!("unexpected number of fields after the time stamp ({n})"),
                HINT_PAGE,
            ));
        }
    };
    apply(
        Job {
            printer: toks[0].1,
            user: toks[1].1,
            job: toks[2].1,
            job_col: toks[2].0,
            time,
            time_col: toks[3].0,
            page: rest[0].1,
            page_col: rest[0].0,
            count: rest[1].1,
            count_col: rest[1].0,
            billing,
            host,
            title,
            media,
            sides,
        },
        pos,
        doc,
    )?;
    set(doc, &["mamori", "print", "log_format"], "default".into());
    Ok(())
}

fn keyed(text: &str, pos: LinePos, doc: &mut Map<String, Value>) -> Result<(), LineParseError> {
    // Split into key=value; a blank-separated piece that does not start with a
    // known `key=` continues the previous value (the time stamp has a blank).
    let mut pairs: Vec<(&str, usize, usize, usize)> = Vec::new(); // key, value start, value end, key col
    let toks = tokens(text);
    for (col, t) in &toks {
        let key = t.split_once('=').map(|(k, _)| k).filter(|k| {
            KNOWN_KEYS.contains(k)
                || (!k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_'))
        });
        let title_open = pairs.last().is_some_and(|p| p.0 == "title");
        match key {
            Some(k) if !title_open => pairs.push((k, col + k.len() + 1, col + t.len(), *col)),
            _ => match pairs.last_mut() {
                Some(last) => last.2 = col + t.len(),
                None => {
                    return Err(pos.error(
                        *col,
                        "keyed page_log line does not start with printer=",
                        HINT_PAGE,
                    ));
                }
            },
        }
    }
    let get = |k: &str| {
        pairs
            .iter()
            .find(|p| p.0 == k)
            .map(|p| (&text[p.1..p.2.max(p.1)], p.1))
    };
    let need = |k: &'static str| {
        get(k).ok_or_else(|| {
            pos.error(
                text.len(),
                format!("keyed page_log line has no {k}="),
                HINT_PAGE,
            )
        })
    };
    let (printer, _) = need("printer")?;
    let (user, _) = need("user")?;
    let (job, job_col) = need("job")?;
    let (time, time_col) = need("time")?;
    let (page, page_col) = need("pages")?;
    let (count, count_col) = get("sheets")
        .or_else(|| get("copies"))
        .ok_or_else(|| pos.error(text.len(), "keyed page_log line has no sheets=", HINT_PAGE))?;
    apply(
        Job {
            printer,
            user,
            job,
            job_col,
            time,
            time_col,
            page,
            page_col,
            count,
            count_col,
            billing: get("billing").map(|v| v.0),
            host: get("host").map(|v| v.0),
            title: get("title").map(|v| v.0),
            media: get("media").map(|v| v.0),
            sides: get("sides").map(|v| v.0),
        },
        pos,
        doc,
    )?;
    if let Some((c, col)) = get("copies").filter(|_| get("sheets").is_some())
        && let Some(c) = dash(c)
    {
        let n: u64 = c
            .parse()
            .map_err(|_| pos.error(col, format!("copies {c:?} is not a number"), HINT_PAGE))?;
        set(doc, &["mamori", "print", "copies"], n.into());
    }
    if let Some(f) = get("format").and_then(|v| dash(v.0)) {
        set(doc, &["mamori", "print", "document_format"], f.into());
    }
    let extra: Map<String, Value> = pairs
        .iter()
        .filter(|p| !KNOWN_KEYS.contains(&p.0))
        .map(|p| (p.0.to_string(), Value::from(&text[p.1..p.2.max(p.1)])))
        .collect();
    if !extra.is_empty() {
        set(
            doc,
            &["mamori", "print", "attributes"],
            Value::Object(extra),
        );
    }
    set(doc, &["mamori", "print", "log_format"], "keyed".into());
    Ok(())
}

fn apply(j: Job<'_>, pos: LinePos, doc: &mut Map<String, Value>) -> Result<(), LineParseError> {
    let ts = parse_clf_time(j.time).ok_or_else(|| {
        pos.error(
            j.time_col,
            format!(
                "time stamp {:?} is not [dd/Mon/yyyy:HH:MM:SS +zzzz]",
                j.time
            ),
            HINT_PAGE,
        )
    })?;
    let job_id: u64 = j.job.parse().map_err(|_| {
        pos.error(
            j.job_col,
            format!("job id {:?} is not a number", j.job),
            HINT_PAGE,
        )
    })?;
    let page = match j.page {
        "total" => Page::Total,
        p => Page::Number(p.parse().map_err(|_| {
            pos.error(
                j.page_col,
                format!("page {p:?} is neither 'total' nor a number"),
                HINT_PAGE,
            )
        })?),
    };
    let count: u64 = j.count.parse().map_err(|_| {
        pos.error(
            j.count_col,
            format!("count {:?} is not a number", j.count),
            HINT_PAGE,
        )
    })?;
    set(
        doc,
        &["@timestamp"],
        format_ts(ts.with_timezone(&Utc)).into(),
    );
    set(doc, &["mamori", "print", "printer"], j.printer.into());
    // A string in the event model (docs/events.md), like other systems' job ids.
    set(
        doc,
        &["mamori", "print", "job_id"],
        job_id.to_string().into(),
    );
    match page {
        Page::Total => {
            set(doc, &["mamori", "print", "pages"], count.into());
            set(doc, &["mamori", "print", "sheets"], count.into());
            set(doc, &["event", "action"], "print-job".into());
        }
        Page::Number(n) => {
            set(doc, &["mamori", "print", "page"], n.into());
            set(doc, &["mamori", "print", "copies"], count.into());
            set(doc, &["event", "action"], "print-page".into());
        }
    }
    if let Some(u) = dash(j.user) {
        set(doc, &["user", "name"], u.into());
        set(doc, &["related", "user"], Value::Array(vec![u.into()]));
    }
    if let Some(b) = j.billing.and_then(dash) {
        set(doc, &["mamori", "print", "billing"], b.into());
    }
    if let Some(h) = j.host.and_then(dash) {
        host(doc, h);
    }
    if let Some(t) = j.title.and_then(dash) {
        set(doc, &["file", "name"], t.into());
        set(doc, &["mamori", "print", "document"], t.into());
    }
    if let Some(m) = j.media.and_then(dash) {
        set(doc, &["mamori", "print", "media"], m.into());
    }
    if let Some(s) = j.sides.and_then(dash) {
        set(doc, &["mamori", "print", "sides"], s.into());
    }
    Ok(())
}

fn host(doc: &mut Map<String, Value>, h: &str) {
    match h
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => {
            let ip = ip.to_canonical().to_string();
            set(doc, &["source", "ip"], ip.clone().into());
            set(doc, &["related", "ip"], Value::Array(vec![ip.into()]));
        }
        Err(_) => {
            set(doc, &["source", "domain"], h.into());
            set(doc, &["related", "hosts"], Value::Array(vec![h.into()]));
        }
    }
    set(doc, &["source", "address"], h.into());
}

/// Parses one access_log line.
pub fn parse_access_log_line(
    raw: &[u8],
    pos: LinePos,
) -> Result<Map<String, Value>, LineParseError> {
    access_text(raw, pos).map_err(|e| super::text_line::to_raw_column(raw, e))
}

fn access_text(raw: &[u8], pos: LinePos) -> Result<Map<String, Value>, LineParseError> {
    let (text, _) = super::text_line::line_text(raw);
    let toks = tokens(&text);
    if toks.len() < 10 {
        let col = toks.last().map(|(c, t)| c + t.len()).unwrap_or(0);
        return Err(pos.error(
            col,
            format!(
                "access_log line has {} fields, expected 10 or more",
                toks.len()
            ),
            HINT_ACCESS,
        ));
    }
    let time = &text[toks[3].0..toks[4].0 + toks[4].1.len()];
    let ts = parse_clf_time(time).ok_or_else(|| {
        pos.error(
            toks[3].0,
            format!("time stamp {time:?} is not [dd/Mon/yyyy:HH:MM:SS +zzzz]"),
            HINT_ACCESS,
        )
    })?;
    let (method_t, resource, version) = (toks[5], toks[6], toks[7]);
    let method = method_t
        .1
        .strip_prefix('"')
        .ok_or_else(|| pos.error(method_t.0, "request does not start with '\"'", HINT_ACCESS))?;
    let version = version.1.strip_suffix('"').ok_or_else(|| {
        pos.error(
            version.0,
            "request does not end with 'HTTP/x\"'",
            HINT_ACCESS,
        )
    })?;
    let rest = &toks[8..];
    let status: u16 = rest[0].1.parse().map_err(|_| {
        pos.error(
            rest[0].0,
            format!("HTTP status {:?} is not a number", rest[0].1),
            HINT_ACCESS,
        )
    })?;
    let bytes: u64 = rest[1].1.parse().map_err(|_| {
        pos.error(
            rest[1].0,
            format!("size {:?} is not a number", rest[1].1),
            HINT_ACCESS,
        )
    })?;
    let mut doc = base_doc(CUPS_MODULE, CUPS_ACCESS_DATASET, raw, pos);
    set(
        &mut doc,
        &["@timestamp"],
        format_ts(ts.with_timezone(&Utc)).into(),
    );
    host(&mut doc, toks[0].1);
    if let Some(g) = dash(toks[1].1) {
        set(&mut doc, &["mamori", "print", "group"], g.into());
    }
    if let Some(u) = dash(toks[2].1) {
        set(&mut doc, &["user", "name"], u.into());
        set(&mut doc, &["related", "user"], Value::Array(vec![u.into()]));
    }
    set(&mut doc, &["http", "request", "method"], method.into());
    if let Some(v) = version.strip_prefix("HTTP/") {
        set(&mut doc, &["http", "version"], v.into());
    }
    set(&mut doc, &["url", "path"], resource.1.into());
    set(&mut doc, &["url", "original"], resource.1.into());
    set(
        &mut doc,
        &["http", "response", "status_code"],
        status.into(),
    );
    set(&mut doc, &["http", "response", "bytes"], bytes.into());
    let path = resource.1.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["printers" | "classes", p, ..] => {
            set(&mut doc, &["mamori", "print", "printer"], (*p).into())
        }
        ["jobs", j, ..] => {
            if let Ok(n) = j.parse::<u64>() {
                set(
                    &mut doc,
                    &["mamori", "print", "job_id"],
                    n.to_string().into(),
                );
            }
        }
        _ => {}
    }
    let op = rest.get(2).map(|t| t.1).and_then(dash);
    let ipp_status = rest.get(3).map(|t| t.1).and_then(dash);
    if let Some(op) = op {
        set(&mut doc, &["mamori", "print", "ipp_operation"], op.into());
        set(
            &mut doc,
            &["event", "action"],
            format!("ipp-{}", op.to_ascii_lowercase()).into(),
        );
    } else {
        set(&mut doc, &["event", "action"], "http-request".into());
    }
    if let Some(s) = ipp_status {
        set(&mut doc, &["mamori", "print", "ipp_status"], s.into());
    }
    let ok = status < 400 && ipp_status.is_none_or(|s| s.starts_with("successful"));
    set(
        &mut doc,
        &["event", "outcome"],
        if ok { "success" } else { "failure" }.into(),
    );
    set(
        &mut doc,
        &["event", "category"],
        Value::Array(vec!["web".into()]),
    );
    set(
        &mut doc,
        &["event", "type"],
        Value::Array(vec!["access".into()]),
    );
    Ok(doc)
}

/// [`parse_access_log_line`], keeping an unparseable line raw.
pub fn access_log_line_doc(
    raw: &[u8],
    pos: LinePos,
) -> (Map<String, Value>, Option<LineParseError>) {
    match parse_access_log_line(raw, pos) {
        Ok(d) => (d, None),
        Err(e) => (
            raw_line_doc(CUPS_MODULE, CUPS_ACCESS_DATASET, raw, &e),
            Some(e),
        ),
    }
}

/// If `doc` is a syslog document forwarded by rsyslog `imfile` with the tag
/// `cups-page` or `cups-access` (docs/sources/cups.md), parses the message as
/// that log's line and adds its fields; anything else is left untouched.
pub fn enrich_syslog_doc(doc: &mut Map<String, Value>) {
    let app = doc
        .get("process")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str);
    type Parse = fn(&[u8], LinePos) -> Result<Map<String, Value>, LineParseError>;
    let parse: Parse = match app {
        Some("cups-page") => parse_page_log_line,
        Some("cups-access") => parse_access_log_line,
        _ => return,
    };
    let Some(msg) = doc.get("message").and_then(Value::as_str) else {
        return;
    };
    let Ok(parsed) = parse(msg.as_bytes(), LinePos::default()) else {
        set(doc, &["mamori", "cups", "unparsed"], true.into());
        return;
    };
    for (k, v) in parsed {
        match k.as_str() {
            "message" | "log" => {}
            "event" => {
                if let Some(ev) = v.as_object() {
                    for (ek, evv) in ev {
                        if !matches!(ek.as_str(), "original" | "kind" | "module" | "dataset") {
                            set(doc, &["event", ek], evv.clone());
                        }
                    }
                }
            }
            _ => {
                doc.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos() -> LinePos {
        LinePos { line: 1, offset: 0 }
    }

    #[test]
    fn old_per_page_line() {
        let d = parse_page_log_line(
            b"lp1 tanaka 12 [02/Dec/2026:12:00:00 +0900] 3 2 - 10.0.0.5",
            pos(),
        )
        .unwrap();
        assert_eq!(d["mamori"]["print"]["page"], 3);
        assert_eq!(d["mamori"]["print"]["copies"], 2);
        assert_eq!(d["source"]["ip"], "10.0.0.5");
        assert_eq!(d["event"]["action"], "print-page");
    }

    #[test]
    fn keyed_title_keeps_blanks_and_equals() {
        let d = parse_page_log_line(
            "printer=p user=u job=3 time=[02/Dec/2026:03:18:59 +0000] pages=total sheets=3 copies=1 host=h x-dept=税務 title=a b=c user=z".as_bytes(),
            pos(),
        )
        .unwrap();
        assert_eq!(d["file"]["name"], "a b=c user=z");
        assert_eq!(d["user"]["name"], "u");
        assert_eq!(d["mamori"]["print"]["attributes"]["x-dept"], "税務");
    }

    #[test]
    fn bad_job_id_names_column() {
        let e = parse_page_log_line(
            b"pdf u 1x [02/Dec/2026:03:18:59 +0000] total 3 - h t - -",
            pos(),
        )
        .unwrap_err();
        assert_eq!(e.column, 7);
    }
}
