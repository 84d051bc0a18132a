//! Squid `access.log` lines to ECS web events, native and Apache formats
//! auto-detected per line.
//!
//! Formats (Squid 5/6 `logformat` definitions, src/log/FormatSquidNative.cc
//! and the built-in `combined`/`common` formats):
//!
//! ```text
//! squid:    %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
//! combined: %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh
//! common:   %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh
//! ```
//!
//! A line whose first field is a Unix time with a fraction (`1796181498.868`)
//! is read as native; one whose fourth field opens a `[` time stamp is read as
//! combined/common. The Squid status suffix (`%Ss:%Sh`) and the quoted
//! referrer/user-agent are optional there, so plain Apache `common` lines
//! parse too.
//!
//! Fields: `@timestamp`, `source.ip` (or `source.address`), `user.name`
//! (the authenticated user `%un`, else the ident user `%ui`, percent-decoded),
//! `http.request.method`, `http.response.{status_code,bytes,mime_type}`,
//! `http.version`, `http.request.referrer`, `user_agent.original`,
//! `url.{original,full,scheme,domain,port,path,query}` (CONNECT targets are
//! `host:port`, so only `url.domain`/`url.port` are set), `destination.domain`,
//! `event.duration` (native only: `%tr` in ns), `event.{category,type,action,outcome}`,
//! `mamori.squid.{format,result_code,cache_result,hierarchy,peer,ident}`, `related.{ip,user}`.
//!
//! A line that matches neither shape is an error ([`LineParseError`]) naming
//! the line, offset and column; callers keep it raw with [`raw_line_doc`].

use std::net::IpAddr;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::syslog::set;
use super::text_line::{
    LineParseError, LinePos, base_doc, dash, format_ts, parse_clf_time, raw_line_doc, tokens,
};

/// `event.module` of Squid events.
pub const SQUID_MODULE: &str = "squid";
/// `event.dataset` of Squid access-log events.
pub const SQUID_DATASET: &str = "squid.access";

const HINT_NATIVE: &str = "a native Squid line is 'time elapsed client code/status bytes method URL user hierarchy/peer type' \
     (logformat squid); check the access_log line in squid.conf";
const HINT_COMBINED: &str = "a combined line is 'client ident user [time] \"METHOD URL HTTP/x\" status bytes \"referer\" \"agent\" code:hierarchy' \
     (logformat combined); check the access_log line in squid.conf";
const HINT_UNKNOWN: &str = "use 'access_log ... squid' or 'access_log ... combined' in squid.conf; other logformats are kept raw";

/// Parses one access.log line (without its LF) into an ECS document.
pub fn parse_squid_line(raw: &[u8], pos: LinePos) -> Result<Map<String, Value>, LineParseError> {
    parse_text(raw, pos).map_err(|e| super::text_line::to_raw_column(raw, e))
}

fn parse_text(raw: &[u8], pos: LinePos) -> Result<Map<String, Value>, LineParseError> {
    let (text, _) = super::text_line::line_text(raw);
    let toks = tokens(&text);
    let Some(&(_, first)) = toks.first() else {
        return Err(pos.error(0, "empty line", HINT_UNKNOWN));
    };
    let mut doc = base_doc(SQUID_MODULE, SQUID_DATASET, raw, pos);
    if looks_like_epoch(first) {
        native(&toks, pos, &mut doc)?;
    } else if toks.get(3).is_some_and(|(_, t)| t.starts_with('[')) {
        combined(&text, &toks, pos, &mut doc)?;
    } else {
        return Err(pos.error(
            toks[0].0,
            format!("not a Squid access.log line (first field {first:?})"),
            HINT_UNKNOWN,
        ));
    }
    Ok(doc)
}

/// [`parse_squid_line`], keeping an unparseable line as [`raw_line_doc`]
/// (the error is returned beside it for the caller's report).
pub fn squid_line_doc(raw: &[u8], pos: LinePos) -> (Map<String, Value>, Option<LineParseError>) {
    match parse_squid_line(raw, pos) {
        Ok(d) => (d, None),
        Err(e) => (raw_line_doc(SQUID_MODULE, SQUID_DATASET, raw, &e), Some(e)),
    }
}

/// If `doc` is a syslog document from Squid (`access_log syslog:…`, app-name
/// `squid`) or forwarded by rsyslog `imfile` with the tag `squid-access`, and
/// its message is an access.log line, adds the Squid fields. Anything else
/// (cache.log messages) is left as it is.
pub fn enrich_syslog_doc(doc: &mut Map<String, Value>) {
    let app = doc
        .get("process")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str);
    if !matches!(app, Some("squid" | "squid-access")) {
        return;
    }
    let Some(msg) = doc.get("message").and_then(Value::as_str) else {
        return;
    };
    let Ok(parsed) = parse_squid_line(msg.as_bytes(), LinePos::default()) else {
        return;
    };
    let syslog_ts = doc.get("@timestamp").cloned();
    for key in [
        "source",
        "user",
        "http",
        "url",
        "destination",
        "user_agent",
        "related",
    ] {
        if let Some(v) = parsed.get(key) {
            doc.insert(key.into(), v.clone());
        }
    }
    if let Some(sq) = parsed.get("mamori").and_then(|m| m.get("squid")) {
        set(doc, &["mamori", "squid"], sq.clone());
    }
    if let Some(ev) = parsed.get("event").and_then(Value::as_object) {
        for k in ["category", "type", "action", "outcome", "duration"] {
            if let Some(v) = ev.get(k) {
                set(doc, &["event", k], v.clone());
            }
        }
    }
    // The access time Squid logged is when the request happened.
    match parsed.get("@timestamp") {
        Some(ts) => doc.insert("@timestamp".into(), ts.clone()),
        None => syslog_ts.and_then(|ts| doc.insert("@timestamp".into(), ts)),
    };
}

fn looks_like_epoch(s: &str) -> bool {
    let Some((a, b)) = s.split_once('.') else {
        return false;
    };
    !a.is_empty()
        && a.len() <= 12
        && !b.is_empty()
        && b.len() <= 9
        && a.bytes().all(|c| c.is_ascii_digit())
        && b.bytes().all(|c| c.is_ascii_digit())
}

fn epoch_ts(s: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = s.split_once('.')?;
    let secs: i64 = secs.parse().ok()?;
    // RFC 3339 has four-digit years: past 9999-12-31 is no real access time (found by fuzzing;
    // the event model would refuse the document).
    if secs > 253_402_300_799 {
        return None;
    }
    let mut nanos_s = frac.to_string();
    nanos_s.truncate(9);
    while nanos_s.len() < 9 {
        nanos_s.push('0');
    }
    Utc.timestamp_opt(secs, nanos_s.parse().ok()?).single()
}

fn native(
    toks: &[(usize, &str)],
    pos: LinePos,
    doc: &mut Map<String, Value>,
) -> Result<(), LineParseError> {
    if toks.len() < 10 {
        let col = toks.last().map(|(c, t)| c + t.len()).unwrap_or(0);
        return Err(pos.error(
            col,
            format!("native Squid line has {} fields, expected 10", toks.len()),
            HINT_NATIVE,
        ));
    }
    let f = |i: usize| toks[i].1;
    let ts = epoch_ts(f(0))
        .ok_or_else(|| pos.error(toks[0].0, "time stamp out of range", HINT_NATIVE))?;
    set(doc, &["@timestamp"], format_ts(ts).into());
    let elapsed: u64 = f(1).parse().map_err(|_| {
        pos.error(
            toks[1].0,
            format!("elapsed time {:?} is not a number of milliseconds", f(1)),
            HINT_NATIVE,
        )
    })?;
    set(
        doc,
        &["event", "duration"],
        elapsed.saturating_mul(1_000_000).into(),
    );
    client(doc, f(2));
    let (code, status) = f(3).split_once('/').ok_or_else(|| {
        pos.error(
            toks[3].0,
            format!("result {:?} is not CODE/STATUS", f(3)),
            HINT_NATIVE,
        )
    })?;
    let status: u16 = status.parse().map_err(|_| {
        pos.error(
            toks[3].0 + code.len() + 1,
            format!("HTTP status {status:?} is not a number"),
            HINT_NATIVE,
        )
    })?;
    let bytes: u64 = f(4).parse().map_err(|_| {
        pos.error(
            toks[4].0,
            format!("size {:?} is not a number", f(4)),
            HINT_NATIVE,
        )
    })?;
    let method = f(5);
    // A URL never contains a blank in Squid's log (it is %-encoded); if a
    // custom format left extra fields, the last three are still user,
    // hierarchy/peer and type.
    let n = toks.len();
    let url = f(6);
    let user = f(n - 3);
    let (hier, peer) = f(n - 2).split_once('/').unwrap_or((f(n - 2), "-"));
    let mime = f(n - 1);
    if n > 10 {
        set(
            doc,
            &["mamori", "squid", "extra_fields"],
            Value::Array(
                toks[7..n - 3]
                    .iter()
                    .map(|(_, t)| Value::from(*t))
                    .collect(),
            ),
        );
    }
    set(doc, &["mamori", "squid", "format"], "native".into());
    request(doc, method, url, None);
    result(doc, code, status, bytes);
    set(doc, &["mamori", "squid", "hierarchy"], hier.into());
    if let Some(p) = dash(peer) {
        set(doc, &["mamori", "squid", "peer"], p.into());
        if let Ok(ip) = p.parse::<IpAddr>() {
            set(doc, &["destination", "ip"], ip.to_string().into());
        }
    }
    if let Some(m) = dash(mime) {
        set(doc, &["http", "response", "mime_type"], m.into());
    }
    users(doc, None, dash(user));
    Ok(())
}

/// A `"…"` string starting at byte `at` of `line`, with Squid's/Apache's
/// backslash escapes undone; returns it and the index after the closing quote.
fn quoted(line: &str, at: usize) -> Option<(String, usize)> {
    let rest = line.get(at..)?.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, at + 1 + i + 1)),
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            c => out.push(c),
        }
    }
    None
}

fn skip_blanks(line: &str, mut at: usize) -> usize {
    while line
        .as_bytes()
        .get(at)
        .is_some_and(|b| *b == b' ' || *b == b'\t')
    {
        at += 1;
    }
    at
}

/// The next blank-delimited token at `at`, and the index after it.
fn word(line: &str, at: usize) -> Option<(&str, usize)> {
    let at = skip_blanks(line, at);
    let rest = line.get(at..)?;
    let end = rest.find([' ', '\t']).unwrap_or(rest.len());
    (end > 0).then(|| (&rest[..end], at + end))
}

fn combined(
    line: &str,
    toks: &[(usize, &str)],
    pos: LinePos,
    doc: &mut Map<String, Value>,
) -> Result<(), LineParseError> {
    let host = toks[0].1;
    let ident = toks[1].1;
    let user = toks[2].1;
    let t_at = toks[3].0;
    let close = line[t_at..]
        .find(']')
        .map(|i| t_at + i)
        .ok_or_else(|| pos.error(t_at, "time stamp '[' is not closed", HINT_COMBINED))?;
    let ts = parse_clf_time(&line[t_at..=close]).ok_or_else(|| {
        pos.error(
            t_at,
            format!(
                "time stamp {:?} is not dd/Mon/yyyy:HH:MM:SS +zzzz",
                &line[t_at..=close]
            ),
            HINT_COMBINED,
        )
    })?;
    set(
        doc,
        &["@timestamp"],
        format_ts(ts.with_timezone(&Utc)).into(),
    );
    let at = skip_blanks(line, close + 1);
    let (req, at) = quoted(line, at).ok_or_else(|| {
        pos.error(
            at,
            "request line is not a quoted \"METHOD URL HTTP/x\"",
            HINT_COMBINED,
        )
    })?;
    let (status_s, at) = word(line, at)
        .ok_or_else(|| pos.error(at, "no HTTP status after the request", HINT_COMBINED))?;
    let status: u16 = status_s.parse().map_err(|_| {
        pos.error(
            at - status_s.len(),
            format!("HTTP status {status_s:?} is not a number"),
            HINT_COMBINED,
        )
    })?;
    let (bytes_s, mut at) =
        word(line, at).ok_or_else(|| pos.error(at, "no size after the status", HINT_COMBINED))?;
    let bytes: Option<u64> = match bytes_s {
        "-" => None,
        s => Some(s.parse().map_err(|_| {
            pos.error(
                at - s.len(),
                format!("size {s:?} is not a number"),
                HINT_COMBINED,
            )
        })?),
    };
    client(doc, host);
    let mut parts = req.splitn(3, ' ');
    let method = parts.next().unwrap_or_default();
    let url = parts.next().unwrap_or_default();
    let version = parts.next().and_then(|v| v.strip_prefix("HTTP/"));
    if method.is_empty() || url.is_empty() {
        return Err(pos.error(
            t_at,
            format!("request {req:?} has no method and URL"),
            HINT_COMBINED,
        ));
    }
    request(doc, method, url, version);
    let mut format = "common";
    let mut squid_code = None;
    at = skip_blanks(line, at);
    if line[at..].starts_with('"') {
        let (referrer, a) = quoted(line, at)
            .ok_or_else(|| pos.error(at, "referrer quote is not closed", HINT_COMBINED))?;
        let a = skip_blanks(line, a);
        let (agent, a) = quoted(line, a)
            .ok_or_else(|| pos.error(a, "user-agent is not a quoted string", HINT_COMBINED))?;
        if let Some(r) = dash(&referrer) {
            set(doc, &["http", "request", "referrer"], r.into());
        }
        if let Some(u) = dash(&agent) {
            set(doc, &["user_agent", "original"], u.into());
        }
        format = "combined";
        at = a;
    }
    if let Some((w, a)) = word(line, at) {
        match w.split_once(':') {
            Some((code, hier)) if code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
                squid_code = Some((code, hier))
            }
            _ => {
                return Err(pos.error(
                    skip_blanks(line, at),
                    format!("trailing field {w:?} is not Squid's CODE:HIERARCHY"),
                    HINT_COMBINED,
                ));
            }
        }
        if let Some((extra, _)) = word(line, a) {
            return Err(pos.error(
                a,
                format!("unexpected text {extra:?} after CODE:HIERARCHY"),
                HINT_COMBINED,
            ));
        }
    }
    set(doc, &["mamori", "squid", "format"], format.into());
    let code = squid_code.map(|(c, _)| c).unwrap_or("NONE");
    result(doc, code, status, bytes.unwrap_or(0));
    if bytes.is_none() {
        doc.get_mut("http")
            .and_then(|h| h.get_mut("response"))
            .and_then(Value::as_object_mut)
            .map(|r| r.remove("bytes"));
    }
    if let Some((_, hier)) = squid_code {
        set(doc, &["mamori", "squid", "hierarchy"], hier.into());
    } else {
        doc.get_mut("mamori")
            .and_then(|m| m.get_mut("squid"))
            .and_then(Value::as_object_mut)
            .map(|s| s.remove("cache_result"));
    }
    users(doc, dash(ident), dash(user));
    Ok(())
}

fn client(doc: &mut Map<String, Value>, host: &str) {
    match host.parse::<IpAddr>() {
        Ok(ip) => {
            let ip = ip.to_canonical().to_string();
            set(doc, &["source", "ip"], ip.clone().into());
            set(doc, &["related", "ip"], Value::Array(vec![ip.into()]));
        }
        Err(_) => set(doc, &["source", "address"], host.into()),
    }
}

fn request(doc: &mut Map<String, Value>, method: &str, url: &str, version: Option<&str>) {
    // `- error:transaction-end-before-headers`: a connection that ended
    // (or failed) before a request; Squid logs the reason in the URL field.
    if let Some(reason) = url.strip_prefix("error:") {
        set(doc, &["url", "original"], url.into());
        set(doc, &["mamori", "squid", "error"], reason.into());
        set(doc, &["event", "action"], "web-error".into());
        if method != "-" {
            set(doc, &["http", "request", "method"], method.into());
        }
        return;
    }
    set(doc, &["http", "request", "method"], method.into());
    if let Some(v) = version {
        set(doc, &["http", "version"], v.into());
    }
    set(doc, &["url", "original"], url.into());
    let connect = method.eq_ignore_ascii_case("CONNECT");
    if connect {
        // CONNECT host:port — a tunnel target, not a URL.
        let (host, port) = match url.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => {
                (h, p.parse::<u16>().ok())
            }
            _ => (url, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        set(doc, &["url", "domain"], host.into());
        set(doc, &["destination", "domain"], host.into());
        if let Some(p) = port {
            set(doc, &["url", "port"], p.into());
            set(doc, &["destination", "port"], p.into());
        }
    } else if let Ok(u) = url::Url::parse(url) {
        set(doc, &["url", "full"], url.into());
        set(doc, &["url", "scheme"], u.scheme().into());
        if let Some(h) = u.host_str() {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            set(doc, &["url", "domain"], h.into());
            set(doc, &["destination", "domain"], h.into());
        }
        if let Some(p) = u.port() {
            set(doc, &["url", "port"], p.into());
        }
        set(doc, &["url", "path"], u.path().into());
        if let Some(q) = u.query().filter(|q| !q.is_empty()) {
            set(doc, &["url", "query"], q.into());
        }
    } else if url.starts_with('/') {
        set(doc, &["url", "path"], url.into());
    }
    let action = if connect { "web-tunnel" } else { "web-request" };
    set(doc, &["event", "action"], action.into());
}

fn result(doc: &mut Map<String, Value>, code: &str, status: u16, bytes: u64) {
    if status > 0 {
        set(doc, &["http", "response", "status_code"], status.into());
    }
    set(doc, &["http", "response", "bytes"], bytes.into());
    set(doc, &["mamori", "squid", "cache_result"], code.into());
    set(
        doc,
        &["mamori", "squid", "result_code"],
        format!("{code}/{status:03}").into(),
    );
    let denied = code.contains("DENIED");
    set(
        doc,
        &["event", "category"],
        Value::Array(vec!["web".into(), "network".into()]),
    );
    let types: Vec<Value> = if denied {
        vec!["access".into(), "denied".into()]
    } else {
        vec!["access".into(), "allowed".into()]
    };
    set(doc, &["event", "type"], Value::Array(types));
    let outcome = if denied || status >= 400 || code.contains("ABORTED") || code.ends_with("_ERROR")
    {
        "failure"
    } else if status == 0 {
        "unknown"
    } else {
        "success"
    };
    set(doc, &["event", "outcome"], outcome.into());
}

fn users(doc: &mut Map<String, Value>, ident: Option<&str>, auth: Option<&str>) {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    if let Some(i) = ident {
        set(doc, &["mamori", "squid", "ident"], decode(i).into());
    }
    if let Some(u) = auth.or(ident).map(decode) {
        set(doc, &["user", "name"], u.clone().into());
        set(doc, &["related", "user"], Value::Array(vec![u.into()]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Map<String, Value> {
        parse_squid_line(s.as_bytes(), LinePos { line: 1, offset: 0 }).unwrap()
    }

    #[test]
    fn epoch_shapes() {
        assert!(looks_like_epoch("1796181498.868"));
        assert!(!looks_like_epoch("127.0.0.1"));
        assert!(!looks_like_epoch("1796181498"));
        assert_eq!(
            format_ts(epoch_ts("1796181498.868").unwrap()),
            "2026-12-02T03:18:18.868Z"
        );
    }

    #[test]
    fn fuzz_regression_epoch_beyond_year_9999_is_an_error() {
        assert!(epoch_ts("979618349342.739").is_none());
        let e = parse_squid_line(b"979618349342.739     37 127.0.0.1 TCP_MISS/200 257 GET http://a/ u HIER_DIRECT/1.2.3.4 text/csv", LinePos::default()).unwrap_err();
        assert!(e.reason.contains("out of range"), "{e}");
    }

    #[test]
    fn common_without_squid_suffix() {
        let d = p(r#"10.0.0.5 - - [02/Dec/2026:12:00:00 +0900] "GET /a?b=1 HTTP/1.0" 200 -"#);
        assert_eq!(d["mamori"]["squid"]["format"], "common");
        assert_eq!(d["url"]["path"], "/a?b=1");
        assert!(d["http"]["response"].get("bytes").is_none());
        assert_eq!(d["@timestamp"], "2026-12-02T03:00:00.000Z");
    }

    #[test]
    fn escaped_quotes_in_agent() {
        let d = p(
            r#"10.0.0.5 - u%20x [02/Dec/2026:12:00:00 +0900] "GET http://a.example/ HTTP/1.1" 200 5 "-" "x \"y\"" TCP_MISS:HIER_DIRECT"#,
        );
        assert_eq!(d["user_agent"]["original"], "x \"y\"");
        assert_eq!(d["user"]["name"], "u x");
    }

    #[test]
    fn errors_name_the_column() {
        let e = parse_squid_line(
            b"1796181498.868 12 10.0.0.5 TCP_MISS/2x0 5 GET http://a/ - HIER_NONE/- -",
            LinePos {
                line: 7,
                offset: 99,
            },
        )
        .unwrap_err();
        assert_eq!((e.line, e.offset, e.column), (7, 99, 37));
        assert!(e.to_string().contains("HTTP status"), "{e}");
    }
}
