//! A read-only view of one ledgered ECS event, with the accessors the rules share.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

/// One event as the rules see it: its ledger id, its time, its local (city) time and its
/// document.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// Ledger index (the event id).
    pub id: u64,
    /// `@timestamp` (or, when missing or unreadable, the ledger acceptance time).
    pub ts: DateTime<Utc>,
    /// The same instant in the city's time zone (JST unless configured).
    pub local: NaiveDateTime,
    /// The ECS document.
    pub doc: &'a Value,
    /// The document's paths, when the caller computed them ([`Event::with_paths`]).
    paths: Option<&'a Paths>,
}

impl<'a> Event<'a> {
    /// Builds the view. `fallback` is used when `@timestamp` is missing or not RFC 3339.
    pub fn new(id: u64, doc: &'a Value, fallback: DateTime<Utc>, zone: FixedOffset) -> Event<'a> {
        let ts = doc
            .get("@timestamp")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map_or(fallback, |t| t.with_timezone(&Utc));
        Event { id, ts, local: ts.with_timezone(&zone).naive_local(), doc, paths: None }
    }

    /// The same view, answering lookups of fields the document does not have from `paths`
    /// (computed once per event and shared by every rule) instead of walking the document.
    pub fn with_paths(self, paths: &'a Paths) -> Event<'a> {
        Event { paths: Some(paths), ..self }
    }

    /// The local calendar date.
    pub fn date(&self) -> NaiveDate {
        self.local.date()
    }

    /// A value by dotted path (`"mamori.usb.serial"`); also accepts a literal dotted key at any
    /// level (documents that were not expanded).
    pub fn get(&self, path: &str) -> Option<&'a Value> {
        if let Some(p) = self.paths
            && !p.may_have(path)
        {
            return None;
        }
        lookup(self.doc, path)
    }

    /// A string by dotted path (numbers are not converted).
    pub fn str(&self, path: &str) -> Option<&'a str> {
        self.get(path).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// A string or number as text (`winlog.event_id` is a string, `event.code` may be a number).
    pub fn text(&self, path: &str) -> Option<String> {
        match self.get(path)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A number by dotted path (also a numeric string).
    pub fn num(&self, path: &str) -> Option<f64> {
        match self.get(path)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A boolean (also `"true"`/`"false"`).
    pub fn bool(&self, path: &str) -> Option<bool> {
        match self.get(path)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The strings at a path that may hold a string or a list of strings.
    pub fn strs(&self, path: &str) -> Vec<&'a str> {
        match self.get(path) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// True when `event.<field>` (category/type, string or list) contains `value`.
    pub fn has(&self, field: &str, value: &str) -> bool {
        self.strs(&format!("event.{field}")).iter().any(|v| v.eq_ignore_ascii_case(value))
    }

    /// `event.action`, lower-case.
    pub fn action(&self) -> String {
        self.str("event.action").unwrap_or_default().to_lowercase()
    }

    /// `event.dataset`.
    pub fn dataset(&self) -> &'a str {
        self.str("event.dataset").unwrap_or_default()
    }

    /// The Windows event id (`winlog.event_id`, else `event.code`), when the event is from
    /// Windows.
    pub fn win_event_id(&self) -> Option<u32> {
        self.text("winlog.event_id").or_else(|| self.get("winlog").and(self.text("event.code"))).and_then(|s| s.parse().ok())
    }

    /// The account that acted: `user.name` (with `user.domain` when given as `DOMAIN\user`
    /// is not already the form), else the mail sender, else `source.user.name`.
    pub fn actor(&self) -> Option<String> {
        if let Some(u) = self.str("user.name") {
            return Some(u.to_owned());
        }
        if let Some(f) = self.strs("email.from.address").first() {
            return Some((*f).to_owned());
        }
        self.str("source.user.name").map(str::to_owned)
    }

    /// `event.outcome` is `failure`.
    pub fn failed(&self) -> bool {
        self.str("event.outcome") == Some("failure")
    }

    /// Mail recipients (to, cc, bcc), lower-case; for a chat message, the recipients the
    /// webhook mapping wrote (`mamori.sharing.recipients`, docs/sources/webhook.md).
    pub fn recipients(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in ["email.to.address", "email.cc.address", "email.bcc.address", "mamori.chat.to"] {
            out.extend(self.strs(f).into_iter().map(str::to_lowercase));
        }
        if self.is_chat() {
            for r in self.strs("mamori.sharing.recipients") {
                let r = r.to_lowercase();
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out
    }

    /// Attachment names and hashes (ECS `email.attachments[].file.{name,hash.sha256}`); for a
    /// chat message, the files it shares: each of `mamori.chat.files[].{name,sha256}`, else the
    /// mapped `file.{name,hash.sha256}` (a chat webhook carries files, not mail attachments).
    pub fn attachments(&self) -> Vec<(Option<&'a str>, Option<&'a str>)> {
        match self.get("email.attachments") {
            Some(Value::Array(a)) => {
                return a
                    .iter()
                    .map(|x| (lookup(x, "file.name").and_then(Value::as_str), lookup(x, "file.hash.sha256").and_then(Value::as_str)))
                    .collect();
            }
            _ if !self.is_chat() => return Vec::new(),
            _ => {}
        }
        let s = |x: &'a Value, k: &str| x.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
        if let Some(Value::Array(files)) = self.get("mamori.chat.files") {
            let v: Vec<_> = files.iter().map(|x| (s(x, "name"), s(x, "sha256"))).filter(|(n, h)| n.is_some() || h.is_some()).collect();
            if !v.is_empty() {
                return v;
            }
        }
        match (self.str("file.name"), self.str("file.hash.sha256")) {
            (None, None) => Vec::new(),
            f => vec![f],
        }
    }

    /// True for an outgoing mail or chat message (ECS `email.direction: outbound`, a
    /// `email.*` document with a sender, or a chat message).
    pub fn is_message(&self) -> bool {
        // Postfix: only the correlated message event, not each of its log lines (per-line
        // events are `syslog.postfix/<daemon>`, see docs/sources/postfix.md).
        let ds = self.dataset();
        if (ds.starts_with("postfix") || ds.starts_with("syslog.postfix")) && ds != "postfix.message" {
            return false;
        }
        self.get("email").is_some() && (!self.strs("email.to.address").is_empty() || self.str("email.direction").is_some())
            || self.get("mamori.chat").is_some()
    }

    /// True for a chat message.
    pub fn is_chat(&self) -> bool {
        self.get("mamori.chat").is_some()
    }

    /// A removable-media event (`mamori.usb.*` present).
    pub fn is_usb(&self) -> bool {
        self.get("mamori.usb").is_some_and(Value::is_object)
    }

    /// A write (creation/change) of a file, by ECS `event.type` or a write-like action.
    pub fn is_write(&self) -> bool {
        self.str("mamori.samba.open_mode") == Some("w")
            || self.has("type", "creation")
            || self.has("type", "change")
            || matches!(
                self.action().as_str(),
                "write" | "file-write" | "file-created" | "file-copied" | "copy" | "pwrite" | "renameat" | "file-written"
            )
    }

    /// A read of a file.
    pub fn is_read(&self) -> bool {
        (self.has("type", "access") && self.str("mamori.samba.open_mode") != Some("w")) || matches!(self.action().as_str(), "read" | "file-read" | "pread" | "openat-read" | "file-opened")
    }
}

/// Looks up a dotted path in a JSON document, accepting literal dotted keys too.
pub fn lookup<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    if let Some(v) = doc.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    lookup(doc.get(head)?, rest).or_else(|| {
        // A key that itself contains dots ("file.hash" inside "attachments").
        let obj = doc.as_object()?;
        obj.iter().find(|(k, _)| path.starts_with(k.as_str()) && path[k.len()..].starts_with('.')).and_then(|(k, v)| lookup(v, &path[k.len() + 1..]))
    })
}

/// Hashes of every dotted path [`lookup`] can resolve in a document (every chain of object keys
/// joined by `.`), sorted. Most lookups are of fields an event does not have (each rule asks for
/// the fields it knows about); a miss here is one hash and a binary search instead of a walk
/// that hashes the path and scans keys at every level (27 % of the detector's time in the
/// latency bench). Only misses are answered from it: a path found here still resolves through
/// `lookup`, so a hash collision costs a walk, never a wrong answer.
#[derive(Debug, Default)]
pub struct Paths(Vec<u64>);

// FNV-1a, byte by byte, so a child's hash continues its parent's path hash without building
// the path string (a hashing crate's `Hasher` could not be resumed from a prefix like this).
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Paths {
    /// The paths of `doc`.
    pub fn of(doc: &Value) -> Paths {
        fn walk(v: &Value, prefix: Option<u64>, out: &mut Vec<u64>) {
            if let Value::Object(m) = v {
                for (k, child) in m {
                    let h = fnv(prefix.map_or(FNV_OFFSET, |p| fnv(p, b".")), k.as_bytes());
                    out.push(h);
                    walk(child, Some(h), out);
                }
            }
        }
        let mut v = Vec::new();
        walk(doc, None, &mut v);
        v.sort_unstable();
        v.dedup();
        Paths(v)
    }

    /// False when `lookup(doc, path)` is certainly `None`.
    pub fn may_have(&self, path: &str) -> bool {
        self.0.binary_search(&fnv(FNV_OFFSET, path.as_bytes())).is_ok()
    }
}

/// The domain of a mail address, lower-case.
pub fn mail_domain(addr: &str) -> Option<String> {
    let a = addr.trim().trim_start_matches('<').trim_end_matches('>');
    a.rsplit_once('@').map(|(_, d)| d.to_lowercase()).filter(|d| !d.is_empty())
}
