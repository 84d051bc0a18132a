//! Postfix log lines (syslog or `maillog_file`) to ECS e-mail events, and the
//! correlation of one message's lines by queue id into one message event.
//!
//! # Per line ([`enrich_syslog_doc`], [`parse_postfix_message`])
//!
//! Every line from a Postfix daemon (syslog app-name `postfix/<daemon>`, or
//! `postfix-<instance>/…` and `postfix/<service>/<daemon>` for multi-instance
//! and per-service `syslog_name`s) stays one event and gets
//! `mamori.mail.{component,kind,…}` plus the ECS fields that the line alone
//! gives. Recognised shapes (Postfix 3.x, `*_delivery_status_filter` unset):
//!
//! | kind | daemon | message after `QUEUEID: ` |
//! |---|---|---|
//! | `client` | smtpd | `client=host[ip][, sasl_method=M, sasl_username=U]` |
//! | `pickup` | pickup | `uid=N from=<addr>` |
//! | `message-id` | cleanup | `message-id=<id>` |
//! | `header` | cleanup | `info\|warning\|hold\|reject…: header NAME: VALUE from host[ip]; from=<…> to=<…> …: TEXT` (header_checks / mime_header_checks) |
//! | `queued` | qmgr | `from=<addr>, size=N, nrcpt=N (queue active)` |
//! | `delivery` | smtp, lmtp, local, virtual, error, pipe, discard | `to=<addr>, [orig_to=<addr>,] relay=R, delay=D, delays=a/b/c/d, dsn=X.Y.Z, status=S (text)` |
//! | `reject` | smtpd, cleanup | `reject: RCPT from host[ip]: 550 …; from=<…> to=<…> proto=… helo=<…>` |
//! | `notification` | bounce | `sender non-delivery notification: QUEUEID2` |
//! | `expired` | qmgr | `from=<addr>, status=expired, returned to sender` |
//! | `removed` | qmgr | `removed` |
//! | `connect`/`disconnect` | smtpd | `connect from host[ip]` (no queue id) |
//!
//! Anything else from Postfix keeps its `message` and gets only
//! `mamori.mail.component` (and `email.local_id` if it starts with a queue id).
//!
//! # Correlation ([`MailCorrelator`])
//!
//! Lines of one message share a queue id. The correlator collects them and
//! emits one extra, derived event (`event.dataset: postfix.message`,
//! `event.action: mail-message`) with `email.{local_id,message_id,from.address,
//! to.address,attachments,subject}`, `source.{ip,domain}`, `destination.domain`,
//! `mamori.mail.{size,nrcpt,status,relay,recipients,delay,complete,lines,…}`.
//! A message is complete at qmgr's `removed` line (all recipients are then
//! done). Messages still open at the end of a file (a deferred recipient keeps
//! the message in the queue), or idle longer than a timeout in a stream
//! ([`MailCorrelator::expire`]), are emitted with `mamori.mail.complete:
//! false`; if their later lines arrive, a second derived event is emitted
//! then. The raw lines are never replaced: each one is its own event.
//!
//! Attachment names are not in Postfix's logs unless `mime_header_checks`
//! logs the MIME headers that carry them (docs/sources/postfix.md gives the
//! rule); such `header` lines with a `filename=`/`name=` parameter add
//! `email.attachments[].file.name`, decoding RFC 2231 and RFC 2047
//! (UTF-8, ISO-2022-JP, Shift_JIS) names.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use super::syslog::set;

/// `event.dataset` of the derived per-message event.
pub const POSTFIX_MESSAGE_DATASET: &str = "postfix.message";

/// Open messages kept at most; beyond this the oldest is emitted incomplete
/// (bounds memory on a hostile or broken stream).
pub const MAX_PENDING: usize = 100_000;

/// The Postfix daemon name for a syslog app-name, if it is one of Postfix's
/// (`postfix/smtpd` → `smtpd`, `postfix-out/smtp` → `smtp`,
/// `postfix/submission/smtpd` → `smtpd`).
pub fn postfix_component(appname: &str) -> Option<&str> {
    let (first, _) = appname.split_once('/')?;
    if first != "postfix" && !first.starts_with("postfix-") {
        return None;
    }
    let last = appname.rsplit('/').next()?;
    (!last.is_empty()).then_some(last)
}

/// If `doc` is a syslog document from a Postfix daemon, adds the per-line
/// mail fields (see the module documentation). Called by
/// [`parse_syslog`](crate::parse_syslog); any other document is untouched.
pub fn enrich_syslog_doc(doc: &mut Map<String, Value>) {
    let Some(app) = doc
        .get("process")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
    else {
        return;
    };
    let Some(component) = postfix_component(app).map(str::to_owned) else {
        return;
    };
    let message = doc
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    parse_postfix_message(&component, &message, doc);
}

/// Postfix queue ids: short (upper-case hex) or long (`enable_long_queue_ids`,
/// base-52 letters and digits).
pub fn is_queue_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || b.len() > 24 {
        return false;
    }
    let short = b
        .iter()
        .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c));
    let long = b.len() >= 10
        && b.iter().all(u8::is_ascii_alphanumeric)
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_uppercase);
    short || long
}

/// `<addr>` at the start of `s` (Postfix quotes addresses this way; `<>` is
/// the null sender); returns the address and the rest after `>`.
fn angle(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('<')?;
    // Addresses may contain '>' only when quoted; Postfix logs them as-is, so
    // take the first '>' that is followed by ',' ' ' or the end.
    let mut idx = None;
    for (i, c) in rest.char_indices() {
        if c == '>' {
            let after = &rest[i + 1..];
            if after.is_empty()
                || after.starts_with(',')
                || after.starts_with(' ')
                || after.starts_with(';')
            {
                idx = Some(i);
                break;
            }
        }
    }
    let i = idx?;
    Some((&rest[..i], &rest[i + 1..]))
}

/// `host[ip]` or `host[ip]:port` → (host, ip, port).
fn host_ip(s: &str) -> Option<(&str, &str, Option<u16>)> {
    let open = s.find('[')?;
    let close = open + s[open..].find(']')?;
    let port = s[close + 1..]
        .strip_prefix(':')
        .and_then(|p| p.parse().ok());
    Some((&s[..open], &s[open + 1..close], port))
}

/// `key=value, key=value …` pairs of a delivery/queue line (values stop at
/// `, `; `<…>` values are unwrapped; the `status=` value keeps its
/// parenthesised text).
fn kv_pairs(s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim_start_matches([',', ' ']);
        let after = &rest[eq + 1..];
        if key == "status" {
            out.push((key, after));
            break;
        }
        let (val, next) = if after.starts_with('<') {
            match angle(after) {
                Some((v, r)) => (v, r),
                None => (after, ""),
            }
        } else {
            match after.find(", ") {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            }
        };
        if key.is_empty() || key.contains(' ') {
            // `(queue active)` and similar trailers: stop.
            if let Some(last) = out.last_mut() {
                let _ = last;
            }
            break;
        }
        out.push((key, val));
        rest = next;
    }
    out
}

fn domain_of(addr: &str) -> Option<&str> {
    addr.rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

fn set_source(doc: &mut Map<String, Value>, host: &str, ip: &str) {
    if let Ok(ip) = ip.parse::<IpAddr>() {
        let ip = ip.to_canonical().to_string();
        // A syslog relay's address is not the SMTP client's.
        if let Some(peer) = doc
            .get("source")
            .and_then(|s| s.get("ip"))
            .and_then(Value::as_str)
            && peer != ip
        {
            let peer = peer.to_owned();
            set(doc, &["observer", "ip"], peer.into());
        }
        set(doc, &["source", "ip"], ip.into());
    }
    if !host.is_empty() && host != "unknown" {
        set(doc, &["source", "domain"], host.into());
    }
}

fn mail(doc: &mut Map<String, Value>, key: &str, v: Value) {
    set(doc, &["mamori", "mail", key], v);
}

fn event(doc: &mut Map<String, Value>, action: &str, types: &[&str]) {
    set(
        doc,
        &["event", "category"],
        Value::Array(vec!["email".into()]),
    );
    set(
        doc,
        &["event", "type"],
        Value::Array(types.iter().map(|t| Value::from(*t)).collect()),
    );
    set(doc, &["event", "action"], action.into());
}

fn outcome_of(status: &str) -> &'static str {
    match status {
        "sent" | "delivered" => "success",
        "bounced" | "expired" | "rejected" | "undeliverable" => "failure",
        _ => "unknown",
    }
}

/// Parses one Postfix log message (the syslog MSG after `postfix/<daemon>[pid]: `)
/// from daemon `component` and adds the per-line fields to `doc`. Never fails.
pub fn parse_postfix_message(component: &str, message: &str, doc: &mut Map<String, Value>) {
    mail(doc, "component", component.into());
    let msg = message.trim();
    let (qid, body) = match msg.split_once(": ") {
        Some((q, b)) if is_queue_id(q) => (Some(q), b),
        _ => (None, msg),
    };
    let Some(qid) = qid else {
        if let Some(rest) = body
            .strip_prefix("connect from ")
            .or_else(|| body.strip_prefix("disconnect from "))
        {
            let kind = if body.starts_with("connect") {
                "connect"
            } else {
                "disconnect"
            };
            mail(doc, "kind", kind.into());
            let (action, ty) = if kind == "connect" {
                ("mail-connect", "start")
            } else {
                ("mail-disconnect", "end")
            };
            event(doc, action, &["connection", ty]);
            set(
                doc,
                &["event", "category"],
                Value::Array(vec!["email".into(), "network".into()]),
            );
            if let Some((h, ip, _)) = host_ip(rest.split(' ').next().unwrap_or_default()) {
                set_source(doc, h, ip);
            }
        } else if let Some(rest) = body.strip_prefix("NOQUEUE: reject: ") {
            reject(doc, rest);
        }
        return;
    };
    set(doc, &["email", "local_id"], qid.into());

    if body == "removed" {
        mail(doc, "kind", "removed".into());
        event(doc, "mail-removed", &["deletion"]);
    } else if let Some(rest) = body.strip_prefix("client=") {
        mail(doc, "kind", "client".into());
        event(doc, "mail-client", &["info"]);
        let mut parts = rest.split(", ");
        if let Some((h, ip, _)) = host_ip(parts.next().unwrap_or_default()) {
            set_source(doc, h, ip);
        }
        for p in parts {
            match p.split_once('=') {
                Some(("sasl_username", u)) => {
                    set(doc, &["user", "name"], u.into());
                    set(doc, &["related", "user"], Value::Array(vec![u.into()]));
                    mail(doc, "sasl_username", u.into());
                }
                Some(("sasl_method", m)) => mail(doc, "sasl_method", m.into()),
                Some(("orig_queue_id", q)) => mail(doc, "orig_queue_id", q.into()),
                Some(("orig_client", c)) => mail(doc, "orig_client", c.into()),
                _ => {}
            }
        }
    } else if let Some(rest) = body.strip_prefix("message-id=") {
        mail(doc, "kind", "message-id".into());
        event(doc, "mail-message-id", &["info"]);
        let id = rest.trim();
        let id = id
            .strip_prefix('<')
            .and_then(|i| i.strip_suffix('>'))
            .unwrap_or(id);
        if !id.is_empty() {
            set(doc, &["email", "message_id"], id.into());
        }
    } else if let Some(rest) = body.strip_prefix("uid=") {
        mail(doc, "kind", "pickup".into());
        event(doc, "mail-pickup", &["info"]);
        let (uid, after) = rest.split_once(' ').unwrap_or((rest, ""));
        mail(doc, "uid", uid.into());
        set(doc, &["user", "id"], uid.into());
        if let Some((from, _)) = after.strip_prefix("from=").and_then(angle) {
            set(
                doc,
                &["email", "from", "address"],
                Value::Array(vec![from.into()]),
            );
        }
    } else if let Some(rest) = body.strip_prefix("reject: ") {
        reject(doc, rest);
    } else if let Some((action, rest)) = header_action(body) {
        header(doc, action, rest);
    } else if let Some(rest) = body
        .strip_prefix("sender non-delivery notification: ")
        .or_else(|| body.strip_prefix("sender delivery status notification: "))
        .or_else(|| body.strip_prefix("postmaster non-delivery notification: "))
        .or_else(|| body.strip_prefix("sender delay notification: "))
    {
        mail(doc, "kind", "notification".into());
        event(doc, "mail-notification", &["creation"]);
        mail(doc, "notification_id", rest.trim().into());
    } else if body.starts_with("from=") {
        let pairs = kv_pairs(body);
        let get = |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1);
        if let Some(from) = get("from") {
            set(
                doc,
                &["email", "from", "address"],
                Value::Array(vec![from.into()]),
            );
        }
        if let Some(status) = get("status") {
            mail(doc, "kind", "expired".into());
            event(doc, "mail-expired", &["end"]);
            let s = status
                .split(' ')
                .next()
                .unwrap_or_default()
                .trim_end_matches(',');
            mail(doc, "status", s.into());
            set(doc, &["event", "outcome"], "failure".into());
        } else {
            mail(doc, "kind", "queued".into());
            event(doc, "mail-queued", &["creation"]);
            if let Some(n) = get("size").and_then(|s| s.parse::<u64>().ok()) {
                mail(doc, "size", n.into());
            }
            if let Some(n) = get("nrcpt")
                .and_then(|s| s.split(' ').next())
                .and_then(|s| s.parse::<u64>().ok())
            {
                mail(doc, "nrcpt", n.into());
            }
        }
    } else if body.starts_with("to=") {
        delivery(doc, component, body);
    }
}

fn delivery(doc: &mut Map<String, Value>, component: &str, body: &str) {
    let pairs = kv_pairs(body);
    let get = |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1);
    mail(doc, "kind", "delivery".into());
    event(doc, "mail-delivery", &["info"]);
    mail(doc, "agent", component.into());
    if let Some(to) = get("to") {
        set(
            doc,
            &["email", "to", "address"],
            Value::Array(vec![to.into()]),
        );
        if let Some(d) = domain_of(to) {
            set(doc, &["destination", "domain"], d.into());
        }
    }
    if let Some(o) = get("orig_to") {
        mail(doc, "orig_to", o.into());
    }
    if let Some(r) = get("relay") {
        mail(doc, "relay", r.into());
        if let Some((h, ip, port)) = host_ip(r) {
            set(doc, &["destination", "address"], h.into());
            if let Ok(ip) = ip.parse::<IpAddr>() {
                set(
                    doc,
                    &["destination", "ip"],
                    ip.to_canonical().to_string().into(),
                );
            }
            if let Some(p) = port {
                set(doc, &["destination", "port"], p.into());
            }
        }
    }
    if let Some(d) = get("delay").and_then(|d| d.parse::<f64>().ok()) {
        mail(doc, "delay", d.into());
    }
    if let Some(d) = get("delays") {
        mail(doc, "delays", d.into());
    }
    if let Some(d) = get("dsn") {
        mail(doc, "dsn", d.into());
    }
    if let Some(s) = get("status") {
        let (status, text) = match s.split_once(' ') {
            Some((a, b)) => (a, Some(b.trim())),
            None => (s, None),
        };
        mail(doc, "status", status.into());
        if let Some(t) = text {
            let t = t
                .strip_prefix('(')
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(t);
            mail(doc, "response", t.into());
        }
        set(doc, &["event", "outcome"], outcome_of(status).into());
    }
}

/// `reject: RCPT from host[ip]: 550 …; from=<a> to=<b> proto=ESMTP helo=<h>`.
fn reject(doc: &mut Map<String, Value>, rest: &str) {
    mail(doc, "kind", "reject".into());
    event(doc, "mail-reject", &["denied"]);
    set(doc, &["event", "outcome"], "failure".into());
    let (head, tail) = rest.split_once("; ").unwrap_or((rest, ""));
    if let Some(after) = head.split_once(" from ").map(|(_, a)| a)
        && let Some((h, ip, _)) = host_ip(after.split(':').next().unwrap_or_default())
    {
        set_source(doc, h, ip);
    }
    if let Some((_, reason)) = head.split_once("]: ") {
        mail(doc, "response", reason.into());
    }
    if let Some(stage) = head.split(' ').next() {
        mail(doc, "reject_stage", stage.into());
    }
    envelope(doc, tail);
}

/// `from=<a> to=<b> proto=ESMTP helo=<h>` (the envelope trailer of reject and
/// header_checks lines).
fn envelope(doc: &mut Map<String, Value>, s: &str) {
    if let Some(i) = s.find("from=")
        && let Some((a, _)) = angle(&s[i + 5..])
    {
        set(
            doc,
            &["email", "from", "address"],
            Value::Array(vec![a.into()]),
        );
    }
    if let Some(i) = s
        .find(" to=")
        .map(|i| i + 1)
        .or_else(|| s.starts_with("to=").then_some(0))
        && let Some((a, _)) = angle(&s[i + 3..])
    {
        set(
            doc,
            &["email", "to", "address"],
            Value::Array(vec![a.into()]),
        );
        if let Some(d) = domain_of(a) {
            set(doc, &["destination", "domain"], d.into());
        }
    }
}

const HEADER_ACTIONS: [&str; 9] = [
    "info", "warning", "hold", "reject", "discard", "redirect", "filter", "replace", "prepend",
];

/// `info: header …`, `warning: body …` → (action, rest after `header `).
fn header_action(body: &str) -> Option<(&str, &str)> {
    let (action, rest) = body.split_once(": ")?;
    if !HEADER_ACTIONS.contains(&action) {
        return None;
    }
    let rest = rest
        .strip_prefix("header ")
        .or_else(|| rest.strip_prefix("body "))?;
    Some((action, rest))
}

/// A header_checks log line: `NAME: VALUE from host[ip]; from=<…> to=<…> proto=… helo=<…>[: TEXT]`.
fn header(doc: &mut Map<String, Value>, action: &str, rest: &str) {
    mail(doc, "kind", "header".into());
    event(doc, "mail-header", &["info"]);
    mail(doc, "header_action", action.into());
    // The header text runs up to the last " from " before the "; from=<" trailer.
    let trailer_at = rest.rfind("; from=<");
    let (head_and_client, trailer) = match trailer_at {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, ""),
    };
    let (header_text, client) = match head_and_client.rfind(" from ") {
        Some(i) => (&head_and_client[..i], Some(&head_and_client[i + 6..])),
        None => (head_and_client, None),
    };
    if let Some((h, ip, _)) = client.and_then(host_ip) {
        set_source(doc, h, ip);
    }
    envelope(doc, trailer);
    // The optional text after `helo=<…>`.
    if let Some(i) = trailer.rfind(">: ") {
        mail(doc, "header_note", trailer[i + 3..].into());
    }
    mail(doc, "header", header_text.into());
    let (name, value) = header_text.split_once(':').unwrap_or((header_text, ""));
    let value = value.trim();
    if name.eq_ignore_ascii_case("subject") {
        set(doc, &["email", "subject"], decode_words(value).into());
    }
    if (name.eq_ignore_ascii_case("content-disposition")
        || name.eq_ignore_ascii_case("content-type"))
        && let Some(file) = mime_filename(value)
    {
        let mut att = Map::new();
        set(&mut att, &["file", "name"], file.clone().into());
        if let Some((stem, ext)) = file.rsplit_once('.')
            && !stem.is_empty()
            && !ext.is_empty()
        {
            set(
                &mut att,
                &["file", "extension"],
                ext.to_ascii_lowercase().into(),
            );
        }
        if name.eq_ignore_ascii_case("content-type") {
            let mime = value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if !mime.is_empty() {
                set(&mut att, &["file", "mime_type"], mime.into());
            }
        }
        set(
            doc,
            &["email", "attachments"],
            Value::Array(vec![Value::Object(att)]),
        );
    }
}

/// The file name of a Content-Disposition (`filename=`, `filename*=`) or
/// Content-Type (`name=`, `name*=`) header value, decoded.
pub fn mime_filename(value: &str) -> Option<String> {
    let mut plain = None;
    let mut ext: Vec<(usize, String)> = Vec::new();
    for param in split_params(value).into_iter().skip(1) {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        let unq = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(v);
        let base = k.trim_end_matches('*');
        let (base, idx) = match base.split_once('*') {
            Some((b, n)) => (b, n.parse().unwrap_or(0)),
            None => (base, 0),
        };
        if base != "filename" && base != "name" {
            continue;
        }
        if k.ends_with('*') || k.contains('*') {
            ext.push((idx, unq.to_string()));
        } else if plain.is_none() || base == "filename" {
            plain = Some(decode_words(unq));
        }
    }
    if !ext.is_empty() {
        ext.sort_by_key(|e| e.0);
        // RFC 2231: charset'lang'pct-encoded (charset only on the first part).
        let joined: String = ext.iter().map(|e| e.1.as_str()).collect();
        let mut parts = joined.splitn(3, '\'');
        let (charset, rest) = match (parts.next(), parts.next(), parts.next()) {
            (Some(c), Some(_lang), Some(r)) => (c.to_string(), r.to_string()),
            _ => ("utf-8".to_string(), joined.clone()),
        };
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(&rest).collect();
        return Some(decode_charset(&charset, &bytes));
    }
    plain.filter(|p| !p.is_empty())
}

fn split_params(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&v[start..]);
    out
}

fn decode_charset(charset: &str, bytes: &[u8]) -> String {
    match encoding_rs::Encoding::for_label(charset.trim().as_bytes()) {
        Some(enc) => enc.decode_without_bom_handling(bytes).0.into_owned(),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?ISO-2022-JP?B?…?=`,
/// `Q` encoding); text outside encoded words is kept; blanks between two
/// encoded words are dropped (RFC 2047 §6.2).
pub fn decode_words(s: &str) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    let mut rest = s;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let between = &rest[..start];
        let after = &rest[start + 2..];
        let word = (|| {
            let (charset, a) = after.split_once('?')?;
            let (enc, a) = a.split_once('?')?;
            let end = a.find("?=")?;
            let text = &a[..end];
            let bytes = match enc {
                "B" | "b" => base64::engine::general_purpose::STANDARD
                    .decode(
                        text.trim_end_matches('=').to_owned()
                            + &"=".repeat((4 - text.trim_end_matches('=').len() % 4) % 4),
                    )
                    .ok()?,
                "Q" | "q" => {
                    let t = text.replace('_', " ");
                    percent_encoding::percent_decode_str(&t.replace('=', "%")).collect()
                }
                _ => return None,
            };
            let charset = charset.split('*').next().unwrap_or(charset);
            Some((
                decode_charset(charset, &bytes),
                charset.len() + enc.len() + end + 6,
            ))
        })();
        match word {
            Some((text, len)) => {
                if !(last_was_word && between.trim().is_empty()) {
                    out.push_str(between);
                }
                out.push_str(&text);
                rest = &rest[start + len..];
                last_was_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One recipient of a correlated message.
#[derive(Debug, Clone, Default)]
struct Rcpt {
    address: String,
    orig_to: Option<String>,
    status: String,
    relay: Option<String>,
    dsn: Option<String>,
    delay: Option<f64>,
    response: Option<String>,
    agent: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Pending {
    queue_id: String,
    first_ts: Option<String>,
    last_ts: Option<String>,
    last_seen: Option<DateTime<Utc>>,
    host: Option<String>,
    client_ip: Option<String>,
    client_host: Option<String>,
    sasl_username: Option<String>,
    uid: Option<String>,
    message_id: Option<String>,
    from: Option<String>,
    size: Option<u64>,
    nrcpt: Option<u64>,
    subject: Option<String>,
    recipients: Vec<Rcpt>,
    attachments: Vec<Map<String, Value>>,
    notifications: Vec<String>,
    expired: bool,
    lines: u64,
    first_offset: Option<u64>,
}

fn s_at<'a>(doc: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(doc.get(*first)?, |v, k| v.get(*k))?
        .as_str()
}

fn v_at<'a>(doc: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(doc.get(*first)?, |v, k| v.get(*k))
}

fn first_addr(doc: &Map<String, Value>, which: &str) -> Option<String> {
    v_at(doc, &["email", which, "address"])?
        .as_array()?
        .first()?
        .as_str()
        .map(str::to_owned)
}

/// Collects Postfix line documents (from [`enrich_syslog_doc`]) by queue id
/// and emits one derived message event per message. See the module
/// documentation for when a message is complete.
#[derive(Debug, Default)]
pub struct MailCorrelator {
    pending: HashMap<String, Pending>,
    /// Queue ids in first-seen order (may hold ids already emitted).
    order: VecDeque<String>,
}

impl MailCorrelator {
    /// An empty correlator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of messages still open.
    pub fn open(&self) -> usize {
        self.pending.len()
    }

    /// Feeds one line document; returns the message events it completes
    /// (at most one on `removed`, or the oldest open message when more than
    /// [`MAX_PENDING`] are open).
    pub fn push(&mut self, doc: &Map<String, Value>) -> Vec<Map<String, Value>> {
        let Some(qid) = s_at(doc, &["email", "local_id"]) else {
            return Vec::new();
        };
        if s_at(doc, &["mamori", "mail", "component"]).is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if !self.pending.contains_key(qid) {
            if self.pending.len() >= MAX_PENDING {
                out.extend(self.evict_oldest());
            }
            self.order.push_back(qid.to_owned());
            self.pending.insert(
                qid.to_owned(),
                Pending {
                    queue_id: qid.to_owned(),
                    ..Default::default()
                },
            );
        }
        let p = self.pending.get_mut(qid).expect("inserted above");
        absorb(p, doc);
        if s_at(doc, &["mamori", "mail", "kind"]) == Some("removed") {
            let p = self.pending.remove(qid).expect("present");
            out.push(message_doc(&p, true));
        }
        out
    }

    fn evict_oldest(&mut self) -> Option<Map<String, Value>> {
        while let Some(q) = self.order.pop_front() {
            if let Some(p) = self.pending.remove(&q) {
                return Some(message_doc(&p, false));
            }
        }
        None
    }

    /// Emits (incomplete) every message whose last line is older than
    /// `now - idle`; for streams, call it periodically.
    pub fn expire(&mut self, now: DateTime<Utc>, idle: TimeDelta) -> Vec<Map<String, Value>> {
        let cutoff = now - idle;
        let old: Vec<String> = self
            .order
            .iter()
            .filter(|q| {
                self.pending
                    .get(*q)
                    .is_some_and(|p| p.last_seen.is_none_or(|t| t < cutoff))
            })
            .cloned()
            .collect();
        let out = old
            .iter()
            .filter_map(|q| self.pending.remove(q))
            .map(|p| message_doc(&p, false))
            .collect();
        self.order.retain(|q| self.pending.contains_key(q));
        out
    }

    /// Emits every open message as incomplete, in first-seen order (end of a file).
    pub fn finish(&mut self) -> Vec<Map<String, Value>> {
        let mut out = Vec::new();
        while let Some(d) = self.evict_oldest() {
            out.push(d);
        }
        out
    }
}

fn absorb(p: &mut Pending, doc: &Map<String, Value>) {
    p.lines += 1;
    if let Some(ts) = s_at(doc, &["@timestamp"]) {
        if p.first_ts.is_none() {
            p.first_ts = Some(ts.to_owned());
        }
        p.last_ts = Some(ts.to_owned());
        p.last_seen = DateTime::parse_from_rfc3339(ts)
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    if p.first_offset.is_none() {
        p.first_offset = v_at(doc, &["log", "offset"]).and_then(Value::as_u64);
    }
    if p.host.is_none() {
        p.host = s_at(doc, &["host", "name"]).map(str::to_owned);
    }
    let kind = s_at(doc, &["mamori", "mail", "kind"]).unwrap_or_default();
    let m = |k: &str| s_at(doc, &["mamori", "mail", k]).map(str::to_owned);
    match kind {
        "client" => {
            p.client_ip = s_at(doc, &["source", "ip"]).map(str::to_owned);
            p.client_host = s_at(doc, &["source", "domain"]).map(str::to_owned);
            p.sasl_username = m("sasl_username").or(p.sasl_username.take());
        }
        "pickup" => {
            p.uid = m("uid");
            p.from = p.from.take().or_else(|| first_addr(doc, "from"));
        }
        "message-id" => p.message_id = s_at(doc, &["email", "message_id"]).map(str::to_owned),
        "queued" => {
            p.from = first_addr(doc, "from").or(p.from.take());
            p.size = v_at(doc, &["mamori", "mail", "size"])
                .and_then(Value::as_u64)
                .or(p.size);
            p.nrcpt = v_at(doc, &["mamori", "mail", "nrcpt"])
                .and_then(Value::as_u64)
                .or(p.nrcpt);
        }
        "header" => {
            if p.from.is_none() {
                p.from = first_addr(doc, "from");
            }
            if let Some(s) = s_at(doc, &["email", "subject"]) {
                p.subject = Some(s.to_owned());
            }
            if let Some(atts) = v_at(doc, &["email", "attachments"]).and_then(Value::as_array) {
                for a in atts.iter().filter_map(Value::as_object) {
                    let name = a.get("file").and_then(|f| f.get("name"));
                    // Content-Type name= and Content-Disposition filename= name the same part.
                    match p
                        .attachments
                        .iter_mut()
                        .find(|x| x.get("file").and_then(|f| f.get("name")) == name)
                    {
                        Some(existing) => {
                            if let Some(mt) = a.get("file").and_then(|f| f.get("mime_type")) {
                                set(existing, &["file", "mime_type"], mt.clone());
                            }
                        }
                        None => p.attachments.push(a.clone()),
                    }
                }
            }
        }
        "reject" => {
            if let Some(to) = first_addr(doc, "to") {
                p.recipients.push(Rcpt {
                    address: to,
                    status: "rejected".into(),
                    response: m("response"),
                    ..Default::default()
                });
            }
            if p.from.is_none() {
                p.from = first_addr(doc, "from");
            }
        }
        "delivery" => {
            let Some(to) = first_addr(doc, "to") else {
                return;
            };
            let orig = m("orig_to");
            let r = Rcpt {
                address: to,
                orig_to: orig,
                status: m("status").unwrap_or_default(),
                relay: m("relay"),
                dsn: m("dsn"),
                delay: v_at(doc, &["mamori", "mail", "delay"]).and_then(Value::as_f64),
                response: m("response"),
                agent: m("agent"),
            };
            // A deferred recipient retried later: the newest status wins.
            match p.recipients.iter_mut().find(|x| {
                x.address == r.address && x.orig_to == r.orig_to && x.status != "rejected"
            }) {
                Some(x) => *x = r,
                None => p.recipients.push(r),
            }
        }
        "notification" => {
            if let Some(n) = m("notification_id") {
                p.notifications.push(n);
            }
        }
        "expired" => p.expired = true,
        _ => {}
    }
}

fn message_doc(p: &Pending, complete: bool) -> Map<String, Value> {
    let mut d = Map::new();
    if let Some(ts) = &p.first_ts {
        set(&mut d, &["@timestamp"], ts.clone().into());
        set(&mut d, &["event", "start"], ts.clone().into());
    }
    if let Some(ts) = &p.last_ts {
        set(&mut d, &["event", "end"], ts.clone().into());
    }
    set(&mut d, &["event", "kind"], "event".into());
    set(&mut d, &["event", "module"], "postfix".into());
    set(
        &mut d,
        &["event", "dataset"],
        POSTFIX_MESSAGE_DATASET.into(),
    );
    event(&mut d, "mail-message", &["info"]);
    if let Some(h) = &p.host {
        set(&mut d, &["host", "name"], h.clone().into());
    }
    set(&mut d, &["email", "local_id"], p.queue_id.clone().into());
    if let Some(id) = &p.message_id {
        set(&mut d, &["email", "message_id"], id.clone().into());
    }
    if let Some(f) = &p.from {
        set(
            &mut d,
            &["email", "from", "address"],
            Value::Array(vec![f.clone().into()]),
        );
    }
    if let Some(s) = &p.subject {
        set(&mut d, &["email", "subject"], s.clone().into());
    }
    let mut to: Vec<Value> = Vec::new();
    let mut domains: Vec<Value> = Vec::new();
    let mut statuses: Vec<Value> = Vec::new();
    let mut relays: Vec<Value> = Vec::new();
    let mut rcpts = Vec::new();
    let mut max_delay: Option<f64> = None;
    for r in &p.recipients {
        let shown = r.orig_to.clone().unwrap_or_else(|| r.address.clone());
        if !to.contains(&Value::from(shown.clone())) {
            to.push(shown.clone().into());
        }
        if let Some(dm) = domain_of(&shown).map(Value::from)
            && !domains.contains(&dm)
        {
            domains.push(dm);
        }
        let st = Value::from(r.status.clone());
        if !r.status.is_empty() && !statuses.contains(&st) {
            statuses.push(st);
        }
        if let Some(rl) = r.relay.clone().map(Value::from)
            && !relays.contains(&rl)
        {
            relays.push(rl);
        }
        if let Some(dl) = r.delay {
            max_delay = Some(max_delay.map_or(dl, |m: f64| m.max(dl)));
        }
        let mut o = Map::new();
        o.insert("address".into(), r.address.clone().into());
        if let Some(x) = &r.orig_to {
            o.insert("orig_to".into(), x.clone().into());
        }
        o.insert("status".into(), r.status.clone().into());
        for (k, v) in [
            ("relay", &r.relay),
            ("dsn", &r.dsn),
            ("response", &r.response),
            ("agent", &r.agent),
        ] {
            if let Some(v) = v {
                o.insert(k.into(), v.clone().into());
            }
        }
        if let Some(dl) = r.delay {
            o.insert("delay".into(), dl.into());
        }
        rcpts.push(Value::Object(o));
    }
    if !to.is_empty() {
        set(&mut d, &["email", "to", "address"], Value::Array(to));
    }
    // `destination.domain` is one string in the event model: the first recipient's domain;
    // all of them are in `mamori.mail.domains`.
    if let Some(first) = domains.first() {
        set(&mut d, &["destination", "domain"], first.clone());
        mail(&mut d, "domains", Value::Array(domains.clone()));
    }
    if !p.attachments.is_empty() {
        set(
            &mut d,
            &["email", "attachments"],
            Value::Array(p.attachments.iter().cloned().map(Value::Object).collect()),
        );
        mail(&mut d, "attachments", p.attachments.len().into());
    }
    if let Some(ip) = &p.client_ip {
        set(&mut d, &["source", "ip"], ip.clone().into());
        set(
            &mut d,
            &["related", "ip"],
            Value::Array(vec![ip.clone().into()]),
        );
    }
    if let Some(h) = &p.client_host {
        set(&mut d, &["source", "domain"], h.clone().into());
    }
    if let Some(u) = &p.sasl_username {
        set(&mut d, &["user", "name"], u.clone().into());
        set(
            &mut d,
            &["related", "user"],
            Value::Array(vec![u.clone().into()]),
        );
    }
    if let Some(u) = &p.uid {
        set(&mut d, &["user", "id"], u.clone().into());
    }
    if let Some(n) = p.size {
        mail(&mut d, "size", n.into());
    }
    if let Some(n) = p.nrcpt {
        mail(&mut d, "nrcpt", n.into());
    }
    if p.expired && !statuses.contains(&Value::from("expired")) {
        statuses.push("expired".into());
    }
    let all_sent = !p.recipients.is_empty() && p.recipients.iter().all(|r| r.status == "sent");
    let any_failed = p.expired
        || p.recipients
            .iter()
            .any(|r| outcome_of(&r.status) == "failure");
    set(
        &mut d,
        &["event", "outcome"],
        if all_sent {
            "success"
        } else if any_failed {
            "failure"
        } else {
            "unknown"
        }
        .into(),
    );
    mail(&mut d, "status", Value::Array(statuses));
    if !relays.is_empty() {
        mail(&mut d, "relay", Value::Array(relays));
    }
    mail(&mut d, "recipients", Value::Array(rcpts));
    if let Some(dl) = max_delay {
        mail(&mut d, "delay", dl.into());
    }
    if !p.notifications.is_empty() {
        mail(
            &mut d,
            "notification_ids",
            Value::Array(p.notifications.iter().cloned().map(Value::from).collect()),
        );
    }
    mail(&mut d, "complete", complete.into());
    mail(&mut d, "lines", p.lines.into());
    if let Some(o) = p.first_offset {
        set(&mut d, &["log", "offset"], o.into());
    }
    let summary = format!(
        "メール / mail {} from=<{}> to={} status={}{}",
        p.queue_id,
        p.from.as_deref().unwrap_or(""),
        p.recipients
            .iter()
            .map(|r| format!("<{}>", r.orig_to.as_deref().unwrap_or(&r.address)))
            .collect::<Vec<_>>()
            .join(","),
        p.recipients
            .iter()
            .map(|r| r.status.as_str())
            .collect::<Vec<_>>()
            .join(","),
        if p.attachments.is_empty() {
            String::new()
        } else {
            format!(
                " attachments={}",
                p.attachments
                    .iter()
                    .filter_map(|a| a
                        .get("file")
                        .and_then(|f| f.get("name"))
                        .and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    );
    set(&mut d, &["message"], summary.into());
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_ids() {
        assert!(is_queue_id("0AC0298E0FC"));
        assert!(is_queue_id("4TQnN13Pxvz9sF5"));
        for no in [
            "warning",
            "NOQUEUE",
            "statistics",
            "fatal",
            "ABCD",
            "connect from x",
        ] {
            assert!(!is_queue_id(no), "{no}");
        }
    }

    #[test]
    fn components() {
        assert_eq!(postfix_component("postfix/smtpd"), Some("smtpd"));
        assert_eq!(postfix_component("postfix-out/smtp"), Some("smtp"));
        assert_eq!(postfix_component("postfix/submission/smtpd"), Some("smtpd"));
        assert_eq!(postfix_component("postfixx/smtpd"), None);
        assert_eq!(postfix_component("sshd"), None);
    }

    #[test]
    fn mime_names() {
        assert_eq!(
            mime_filename(r#"attachment; filename="a b.pdf""#).as_deref(),
            Some("a b.pdf")
        );
        assert_eq!(
            mime_filename("attachment; filename*=UTF-8''%E4%BD%8F%E6%B0%91.csv").as_deref(),
            Some("住民.csv")
        );
        assert_eq!(
            mime_filename("application/pdf; name=\"=?UTF-8?B?5L2P5rCR5LiA6Kan?=.pdf\"").as_deref(),
            Some("住民一覧.pdf")
        );
        assert_eq!(
            mime_filename("application/pdf; name=\"=?ISO-2022-JP?B?GyRCP004fRsoQg==?=.xls\"")
                .as_deref(),
            Some("人口.xls")
        );
        assert_eq!(mime_filename("text/plain; charset=utf-8"), None);
    }

    #[test]
    fn encoded_words() {
        assert_eq!(
            decode_words("=?UTF-8?B?5L2P5rCR?= =?UTF-8?B?44OH44O844K/?="),
            "住民データ"
        );
        assert_eq!(decode_words("=?iso-8859-1?Q?caf=E9_x?= y"), "café x y");
        assert_eq!(decode_words("plain =?bogus"), "plain =?bogus");
    }

    #[test]
    fn kv_delivery() {
        let pairs = kv_pairs(
            "to=<a@b>, orig_to=<c@d>, relay=local, delay=0.03, delays=0.02/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
        );
        assert_eq!(pairs[0], ("to", "a@b"));
        assert_eq!(pairs[1], ("orig_to", "c@d"));
        assert_eq!(
            pairs.last().unwrap(),
            &("status", "sent (delivered to mailbox)")
        );
        let q = kv_pairs("from=<>, size=3216, nrcpt=1 (queue active)");
        assert_eq!(q[0], ("from", ""));
        assert_eq!(q[2], ("nrcpt", "1 (queue active)"));
    }
}
