//! mamori's Postfix milter for outgoing mail (`smtpd_milters = inet:127.0.0.1:PORT`).
//!
//! What it does: collects each message (headers and body) through the milter protocol
//! (`indymilter`), splits it into its text parts and attachments (`mail-parser`), and runs the
//! configured [`Inspector`]s over them. Each inspector returns a [`Verdict`] (accept, tag, hold
//! in Postfix's hold queue, reject) and events for the ledger; the strictest verdict wins and
//! the events go to the [`EventSink`]. Two inspectors are here: [`CanaryInspector`] (canary
//! records of `mamori-trace` → an alert naming the export and the recipient it was made for)
//! and [`PiiInspector`], the hook the personal-data scanner plugs into (findings in mail to
//! external domains → hold/reject/tag unless a takeout request approves it).
//!
//! What it does not do: scan for personal data itself (that is `mamori-pii`'s job, plugged in
//! through [`pii_scanner`]), write the ledger (the sink does), or rewrite bodies.
#![deny(missing_docs)]

use bytes::Bytes;
use indymilter::{Actions, Callbacks, ContextActions, EomContext, NegotiateContext, SetErrorReply, Status};
use mamori_trace::{CanaryMeta, FingerprintKey};
use serde_json::{Value, json};
use std::ffi::CString;
use std::future::Future;
use std::sync::Arc;

/// What to do with a message; ordered from mildest to strictest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Pass unchanged.
    Accept,
    /// Pass with an `X-Mamori-Alert` header carrying the text.
    Tag(String),
    /// Put into Postfix's hold queue (quarantine) with the reason; an officer releases it.
    Hold(String),
    /// Reject with 550 5.7.1 and the reason.
    Reject(String),
}

impl Verdict {
    /// The same kind of verdict with another reason.
    pub fn with_reason(&self, reason: &str) -> Verdict {
        match self {
            Verdict::Accept => Verdict::Accept,
            Verdict::Tag(_) => Verdict::Tag(reason.into()),
            Verdict::Hold(_) => Verdict::Hold(reason.into()),
            Verdict::Reject(_) => Verdict::Reject(reason.into()),
        }
    }
}

/// The envelope and headline of a message.
#[derive(Clone, Debug, Default)]
pub struct MailInfo {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub rcpts: Vec<String>,
    /// Subject header.
    pub subject: Option<String>,
    /// Message-ID header.
    pub message_id: Option<String>,
}

/// A text part or attachment.
#[derive(Clone, Debug)]
pub struct Part {
    /// Attachment file name, or `body` / `body.html`.
    pub name: String,
    /// Decoded bytes.
    pub bytes: Vec<u8>,
}

/// What an inspector concluded.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// Verdict.
    pub verdict: Verdict,
    /// ECS events to ledger (alerts, findings).
    pub events: Vec<Value>,
}

/// A check run on every message.
pub trait Inspector: Send + Sync {
    /// Inspects a message.
    fn inspect(&self, mail: &MailInfo, parts: &[Part]) -> Inspection;
}

/// Where events go (the ledger, in `mamori milter`).
pub trait EventSink: Send + Sync {
    /// Records one event.
    fn record(&self, doc: Value);
}

/// Milter configuration.
pub struct Config {
    /// Inspectors, all run on every message.
    pub inspectors: Vec<Box<dyn Inspector>>,
    /// Event sink.
    pub sink: Arc<dyn EventSink>,
}

/// Splits a raw RFC 5322 message into its text parts and attachments.
pub fn parts(raw: &[u8]) -> (Option<mail_parser::Message<'_>>, Vec<Part>) {
    use mail_parser::MimeHeaders;
    let Some(msg) = mail_parser::MessageParser::default().parse(raw) else { return (None, Vec::new()) };
    let mut out = Vec::new();
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            out.push(Part { name: "body".into(), bytes: t.as_bytes().to_vec() });
        }
    }
    for a in msg.attachments() {
        let name = a.attachment_name().unwrap_or("attachment").to_owned();
        out.push(Part { name, bytes: a.contents().to_vec() });
    }
    (Some(msg), out)
}

/// Inspects a whole message with every inspector; the strictest verdict and all events.
pub fn inspect_message(cfg: &Config, mut mail: MailInfo, raw: &[u8]) -> Inspection {
    let (msg, parts) = parts(raw);
    if let Some(m) = &msg {
        mail.subject = m.subject().map(str::to_owned);
        mail.message_id = m.message_id().map(str::to_owned);
    }
    let mut verdict = Verdict::Accept;
    let mut events = Vec::new();
    for i in &cfg.inspectors {
        let r = i.inspect(&mail, &parts);
        if r.verdict > verdict {
            verdict = r.verdict;
        }
        events.extend(r.events);
    }
    Inspection { verdict, events }
}

fn email_fields(mail: &MailInfo) -> Value {
    json!({
        "from": {"address": [mail.from]},
        "to": {"address": mail.rcpts},
        "subject": mail.subject,
        "message_id": mail.message_id,
        "direction": "outbound",
    })
}

/// Finds canary records in the message's parts (each part read as a list: CSV, xlsx, PDF,
/// text) and raises an alert naming the export and the recipient the canary was made for.
pub struct CanaryInspector {
    key: FingerprintKey,
    canaries: Vec<CanaryMeta>,
    action: Verdict,
}

impl CanaryInspector {
    /// An inspector for `canaries` (keyed with `key`); `action` is applied to mail carrying one.
    pub fn new(key: FingerprintKey, canaries: Vec<CanaryMeta>, action: Verdict) -> Self {
        CanaryInspector { key, canaries, action }
    }
}

impl Inspector for CanaryInspector {
    fn inspect(&self, mail: &MailInfo, parts: &[Part]) -> Inspection {
        let mut events = Vec::new();
        let mut names = Vec::new();
        for p in parts {
            let Ok(list) = mamori_trace::read_list(&p.name, &p.bytes) else { continue };
            let feats: Vec<Vec<u64>> = list.records.iter().map(|l| mamori_trace::features(&self.key, &l.record)).collect();
            let locs: Vec<String> = list.records.iter().map(|l| format!("{}: {}", p.name, l.location)).collect();
            for s in mamori_trace::sightings(&self.canaries, locs.iter().map(String::as_str).zip(feats.iter().map(Vec::as_slice))) {
                names.push(format!("{} ({})", s.canary.export, s.canary.recipient));
                events.push(json!({
                    "@timestamp": chrono_now(),
                    "event": {"kind": "alert", "category": ["email", "intrusion_detection"], "type": ["indicator"], "action": "canary-sighted", "module": "mamori", "dataset": "mamori.trace", "severity": 90,
                              "reason": format!("目印レコード検出 / canary record sighted: export {} given to {}", s.canary.export, s.canary.recipient)},
                    "email": email_fields(mail),
                    "user": {"name": mail.from.split('@').next().unwrap_or("")},
                    "file": {"name": p.name},
                    "mamori": {"canary": {"canary_id": s.canary.canary_id, "export": s.canary.export, "recipient": s.canary.recipient, "registration_id": s.canary.ledger_id, "location": s.location, "shared_features": s.shared, "certain": true}},
                }));
            }
        }
        if events.is_empty() {
            return Inspection { verdict: Verdict::Accept, events };
        }
        names.sort();
        names.dedup();
        // SMTP replies and headers are ASCII-safe English; the ledgered event carries Japanese.
        let reason = format!("mamori canary record of export {}", names.join(", "));
        Inspection { verdict: self.action.with_reason(&reason), events }
    }
}

/// A personal-data finding reported by a scanner plugged into [`PiiInspector`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct PiiFinding {
    /// Kind (`my_number`, `person_name`, …).
    pub kind: String,
    /// Where in the part.
    pub location: String,
    /// Confidence 0..1.
    pub confidence: f32,
    /// Values the finding stands for (1, or the cells of a classified column).
    pub count: usize,
}

/// Scanner function: (part name, bytes) → findings. [`pii_scanner`] wraps `mamori-pii`'s
/// `scan_bytes`; tests may plug in another.
pub type ScanFn = Box<dyn Fn(&str, &[u8]) -> Vec<PiiFinding> + Send + Sync>;

/// `mamori_pii::scan_bytes` as a [`ScanFn`]: each part (body, CSV, xlsx, docx, PDF, zip, .eml …)
/// is read as its format and every finding is reported by kind, location and confidence — the
/// value itself never leaves the scanner. A classified column (氏名 / 住所 …) is one finding
/// that stands for its cells; parts that cannot be read become an `unreadable` finding at
/// confidence 0 (never matched against the threshold, but visible in the event).
pub fn pii_scanner(opts: mamori_pii::Options) -> ScanFn {
    Box::new(move |name: &str, bytes: &[u8]| {
        let r = mamori_pii::scan_bytes(name, bytes, &opts);
        let mut out: Vec<PiiFinding> = r
            .findings
            .iter()
            .map(|f| {
                let loc = match &f.location {
                    mamori_pii::Location::Line { line, column } => format!("line {line}, column {column}"),
                    mamori_pii::Location::Cell { sheet, cell } if sheet.is_empty() => format!("cell {cell}"),
                    mamori_pii::Location::Cell { sheet, cell } => format!("sheet {sheet}, cell {cell}"),
                    mamori_pii::Location::Page { page } => format!("page {page}"),
                };
                let loc = match &f.member {
                    Some(m) => format!("{m}: {loc}"),
                    None => loc,
                };
                PiiFinding { kind: f.kind.as_str().into(), location: loc, confidence: f.confidence, count: f.count }
            })
            .collect();
        out.extend(r.problems.iter().map(|p| PiiFinding { kind: "unreadable".into(), location: format!("{}: {}", p.member.as_deref().unwrap_or(name), p.reason), confidence: 0.0, count: 0 }));
        out
    })
}

/// Takeout check: does an approved takeout request (持出し申請) cover this mail?
pub type ApprovedFn = Box<dyn Fn(&MailInfo) -> bool + Send + Sync>;

/// The hook for the personal-data scanner: mail with findings at or above `min_confidence`
/// going to a domain not in `internal_domains` gets `action` unless `approved` says a takeout
/// request covers it; either way a finding event is recorded.
pub struct PiiInspector {
    /// The scanner.
    pub scan: ScanFn,
    /// The city's own mail domains.
    pub internal_domains: Vec<String>,
    /// Takeout approval check.
    pub approved: ApprovedFn,
    /// Findings below this are ignored.
    pub min_confidence: f32,
    /// What to do with unapproved personal data to external domains.
    pub action: Verdict,
}

impl PiiInspector {
    fn external(&self, rcpt: &str) -> bool {
        let domain = rcpt.trim_matches(|c| c == '<' || c == '>').rsplit('@').next().unwrap_or("").to_ascii_lowercase();
        !self.internal_domains.iter().any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
    }
}

impl Inspector for PiiInspector {
    fn inspect(&self, mail: &MailInfo, parts: &[Part]) -> Inspection {
        let external: Vec<&String> = mail.rcpts.iter().filter(|r| self.external(r)).collect();
        let findings: Vec<(String, PiiFinding)> = parts
            .iter()
            .flat_map(|p| (self.scan)(&p.name, &p.bytes).into_iter().map(move |f| (p.name.clone(), f)))
            .filter(|(_, f)| f.confidence >= self.min_confidence)
            .collect();
        if findings.is_empty() || external.is_empty() {
            return Inspection { verdict: Verdict::Accept, events: Vec::new() };
        }
        let approved = (self.approved)(mail);
        let kinds: std::collections::BTreeSet<&str> = findings.iter().map(|(_, f)| f.kind.as_str()).collect();
        let event = json!({
            "@timestamp": chrono_now(),
            "event": {"kind": "alert", "category": ["email"], "action": if approved { "pii-mail-approved" } else { "pii-mail-held" }, "module": "mamori", "dataset": "mamori.pii"},
            "email": email_fields(mail),
            "mamori": {"pii": {"findings": findings.iter().map(|(p, f)| json!({"part": p, "kind": f.kind, "location": f.location, "confidence": f.confidence, "count": f.count})).collect::<Vec<_>>(), "external_recipients": external, "takeout_approved": approved}},
        });
        let verdict = if approved { Verdict::Accept } else { self.action.with_reason(&format!("personal data ({}) to an external domain", kinds.into_iter().collect::<Vec<_>>().join(", "))) };
        Inspection { verdict, events: vec![event] }
    }
}

fn chrono_now() -> String {
    // RFC 3339 UTC with microseconds, without pulling chrono into this crate's public API.
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z", rem / 3600, rem % 3600 / 60, rem % 60, d.subsec_micros())
}

/// Per-message state.
#[derive(Default)]
struct Msg {
    from: String,
    rcpts: Vec<String>,
    raw: Vec<u8>,
}

/// Upper bound on a message held in memory for inspection (larger mail is passed through and
/// an event says it was not inspected).
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

fn arg0(args: &[CString]) -> String {
    args.first().map(|a| a.to_string_lossy().trim_matches(|c| c == '<' || c == '>').to_owned()).unwrap_or_default()
}

/// Runs the milter on `listener` until `shutdown` completes.
pub async fn run(listener: tokio::net::TcpListener, cfg: Config, shutdown: impl Future) -> std::io::Result<()> {
    let cfg = Arc::new(cfg);
    let eom_cfg = cfg.clone();
    let callbacks = Callbacks::<Msg>::new()
        .on_negotiate(|cx: &mut NegotiateContext<Msg>, _, _| {
            Box::pin(async move {
                cx.requested_actions |= Actions::ADD_HEADER | Actions::QUARANTINE;
                Status::Continue
            })
        })
        .on_mail(|cx, args| {
            Box::pin(async move {
                cx.data = Some(Msg { from: arg0(&args), ..Default::default() });
                Status::Continue
            })
        })
        .on_rcpt(|cx, args| {
            Box::pin(async move {
                if let Some(m) = cx.data.as_mut() {
                    m.rcpts.push(arg0(&args));
                }
                Status::Continue
            })
        })
        .on_header(|cx, name, value| {
            Box::pin(async move {
                if let Some(m) = cx.data.as_mut()
                    && m.raw.len() < MAX_MESSAGE
                {
                    m.raw.extend_from_slice(name.as_bytes());
                    m.raw.extend_from_slice(b": ");
                    m.raw.extend_from_slice(value.as_bytes());
                    m.raw.extend_from_slice(b"\r\n");
                }
                Status::Continue
            })
        })
        .on_eoh(|cx| {
            Box::pin(async move {
                if let Some(m) = cx.data.as_mut() {
                    m.raw.extend_from_slice(b"\r\n");
                }
                Status::Continue
            })
        })
        .on_body(|cx, chunk: Bytes| {
            Box::pin(async move {
                if let Some(m) = cx.data.as_mut()
                    && m.raw.len() < MAX_MESSAGE
                {
                    m.raw.extend_from_slice(&chunk);
                }
                Status::Continue
            })
        })
        .on_eom(move |cx: &mut EomContext<Msg>| {
            let cfg = eom_cfg.clone();
            Box::pin(async move {
                let Some(m) = cx.data.take() else { return Status::Continue };
                let mail = MailInfo { from: m.from, rcpts: m.rcpts, ..Default::default() };
                let c2 = cfg.clone();
                let raw = m.raw;
                let r = tokio::task::spawn_blocking(move || {
                    let r = inspect_message(&c2, mail, &raw);
                    for e in &r.events {
                        c2.sink.record(e.clone());
                    }
                    r
                })
                .await;
                let Ok(r) = r else { return Status::Tempfail };
                match r.verdict {
                    Verdict::Accept => Status::Continue,
                    Verdict::Tag(reason) => {
                        let _ = cx.actions.add_header("X-Mamori-Alert", reason).await;
                        Status::Continue
                    }
                    Verdict::Hold(reason) => {
                        let _ = cx.actions.add_header("X-Mamori-Alert", reason.clone()).await;
                        if let Err(e) = cx.actions.quarantine(reason).await {
                            tracing::error!(error = %e, "milter quarantine not available");
                        }
                        Status::Continue
                    }
                    Verdict::Reject(reason) => {
                        let _ = cx.reply.set_error_reply("550", Some("5.7.1"), [reason]);
                        Status::Reject
                    }
                }
            })
        })
        .on_abort(|cx| {
            Box::pin(async move {
                cx.data = None;
                Status::Continue
            })
        });
    indymilter::run(listener, callbacks, Default::default(), shutdown).await
}
