//! Linux audit (`auditd`) `audit.log` to ECS: one document per audit event (all records
//! with one `msg=audit(<secs>.<ms>:<serial>)` stamp, grouped by
//! [`crate::framing::audit_assembler`]).
//!
//! A record line is `type=<TYPE> msg=audit(<stamp>): <key>=<value> …`, optionally followed by
//! a GS byte (0x1D) and the enriched part auditd adds with `log_format = ENRICHED`
//! (`UID="tanaka" AUID="unset" SYSCALL=openat …`). Values are `"quoted"`, `'quoted'` (the
//! `msg='…'` of user-space records, itself `key=value` pairs), or bare. Strings the kernel
//! does not trust (file names, `comm`, `exe`, `cwd`, `proctitle`, `EXECVE` arguments, `cmd`,
//! `acct`, `key`) are written as bare upper-case hex when they contain a space, a quote, a
//! control or a non-ASCII byte; those are decoded here (as `ausearch --interpret` does),
//! `proctitle`'s NUL separators becoming spaces.
//!
//! Fields set: `@timestamp`, `event.{kind,module,dataset,category,type,action,outcome,
//! original}`, `process.{pid,parent.pid,name,executable,args,args_count,command_line,
//! working_directory,title}`, `user.{id,name,audit.{id,name},effective.{id,name}}`,
//! `group.{id,name}`, `file.{path,name,directory,inode,mode,uid,owner}`,
//! `mamori.file.target_path` (rename target), `source.ip`, `host.name` (`node=`), `tags`
//! (the rule key), and `mamori.audit.{key,serial,record_type,record_types,syscall,
//! arch,session,terminal,paths,records}` (`records`: every record's decoded fields, so
//! nothing is lost). `auid=4294967295` (unset) gives no `user.audit`.
//!
//! Errors: a line that is not a record at all (no `type=` … `msg=audit(…):` header) is an
//! [`AuditdError`] naming line, byte offset and column; a record of an unknown type is an
//! ordinary event (its fields kept), never an error.

use std::fmt;

use serde_json::{Map, Value, json};

use super::syslog::set;
use crate::framing::audit_assembler::{Assembler, DEFAULT_WINDOW, Stamp};

/// One record line, split into its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// `type=` value (`SYSCALL`, `PATH`, `USER_LOGIN`, `UNKNOWN[1334]` …).
    pub rtype: String,
    /// The stamp `(secs, ms, serial)`.
    pub stamp: Stamp,
    /// `node=` if the line starts with one (remote logging).
    pub node: Option<String>,
    /// Fields in order, values decoded (quotes removed, hex decoded where the field is one
    /// the kernel hex-encodes). `msg='…'` fields are flattened into this list.
    pub fields: Vec<(String, String)>,
    /// The enriched part (after GS), names upper case.
    pub enriched: Vec<(String, String)>,
    /// 1-based line number.
    pub line: usize,
    /// Byte offset of the line in the input.
    pub offset: u64,
    /// The line as read (without LF).
    pub raw: String,
}

impl AuditRecord {
    /// The first value of field `k`.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    fn enriched(&self, k: &str) -> Option<&str> {
        self.enriched.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

/// Why a line is not an audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditdErrorReason {
    /// No `type=<TYPE>` at the start.
    NoType,
    /// No `msg=audit(<secs>.<ms>:<serial>):` after the type.
    NoStamp,
    /// The stamp is there but its numbers are not.
    BadStamp,
    /// Not UTF-8 and not repairable (never happens for lossy decoding; kept for API
    /// stability).
    Empty,
}

/// A line that is not an audit record; its bytes are handed back for quarantine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AuditdError {
    /// 1-based line.
    pub line: usize,
    /// Byte offset of the line.
    pub offset: u64,
    /// 1-based column (in bytes) where the problem was found.
    pub column: usize,
    /// What is wrong.
    pub reason: AuditdErrorReason,
    /// The line's bytes.
    pub raw: Vec<u8>,
}

impl fmt::Display for AuditdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, hint) = match self.reason {
            AuditdErrorReason::NoType => ("no \"type=\" at the start", "audit.log lines start with type=<TYPE> msg=audit(...); is this file from auditd (log_format RAW or ENRICHED)?"),
            AuditdErrorReason::NoStamp => ("no \"msg=audit(<secs>.<ms>:<serial>):\" stamp", "the line may be truncated or wrapped"),
            AuditdErrorReason::BadStamp => ("the msg=audit(...) stamp is not <secs>.<ms>:<serial>", "the line may be corrupt"),
            AuditdErrorReason::Empty => ("empty line", "remove blank lines"),
        };
        write!(
            f,
            "auditd 行 {} (offset {}, column {}) を解析できません / cannot parse audit record: {what}; hint: {hint}",
            self.line, self.offset, self.column
        )
    }
}

/// One assembled event.
#[derive(Debug, Clone)]
pub struct AuditdEvent {
    /// The ECS document.
    pub doc: Map<String, Value>,
    /// Line of the event's first record.
    pub line: usize,
    /// Byte offset of that line.
    pub offset: u64,
    /// The record lines of the event, joined by LF (for quarantine if it is refused later).
    pub raw: String,
}

/// Fields whose value the kernel (or auditd's user-space callers) hex-encodes when it
/// contains characters outside printable ASCII, a space or a quote (`audit_log_untrustedstring`
/// and `audit_encode_value`). `EXECVE`'s `aN` are handled separately.
const ENCODED: &[&str] = &[
    "name", "comm", "exe", "cwd", "proctitle", "cmd", "acct", "key", "path", "ocomm", "watch", "dir", "new", "old", "root_dir", "data", "sauid", "grp", "new_group", "id",
];

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(b'?')).collect()
}

/// Decodes a bare hex value; `proctitle` joins its NUL-separated argv with spaces.
fn decode_hex(field: &str, s: &str) -> String {
    let mut b = unhex(s);
    if field == "proctitle" {
        while b.last() == Some(&0) {
            b.pop();
        }
        for c in b.iter_mut() {
            if *c == 0 {
                *c = b' ';
            }
        }
    }
    // `key` may hold several keys separated by 0x01 (auditctl -k a -k b).
    if field == "key" {
        for c in b.iter_mut() {
            if *c == 1 {
                *c = b',';
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Splits `k=v k2="v 2" k3='a=b c=d'` into pairs; tokens without `=` are skipped (`avc:`
/// text). Hand-written: the quoting rules are audit's own (no escapes inside quotes, since
/// such strings are hex-encoded instead), which no general parser crate implements.
fn split_fields(s: &str, out: &mut Vec<(String, String)>, decode: bool, execve: bool) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] == b' ' {
            // A word without '=' (e.g. "avc:  denied  { read }"): not a field.
            // Skip a `{ … }` group as a whole.
            if b.get(start) == Some(&b'{') {
                while i < b.len() && b[i] != b'}' {
                    i += 1;
                }
                i += 1;
            }
            continue;
        }
        let key = &s[start..i];
        i += 1; // '='
        let (val, quoted) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let vs = i + 1;
                let ve = s[vs..].find(q as char).map(|p| vs + p).unwrap_or(b.len());
                i = (ve + 1).min(b.len());
                (&s[vs..ve], if q == b'\'' { 2 } else { 1 })
            }
            _ => {
                let vs = i;
                while i < b.len() && b[i] != b' ' {
                    i += 1;
                }
                (&s[vs..i], 0)
            }
        };
        if quoted == 2 && key == "msg" {
            // User-space records: msg='op=… acct="x" res=success'.
            split_fields(val, out, decode, false);
            continue;
        }
        let hex_field = ENCODED.contains(&key) || (execve && is_execve_arg(key));
        let v = if decode && quoted == 0 && hex_field && is_hex(val) {
            decode_hex(key, val)
        } else {
            val.to_owned()
        };
        out.push((key.to_owned(), v));
    }
}

/// `a0`, `a1[2]`, … in EXECVE records.
fn is_execve_arg(k: &str) -> bool {
    let Some(rest) = k.strip_prefix('a') else { return false };
    let digits = rest.split('[').next().unwrap_or_default();
    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
}

/// Parses one `audit.log` line.
pub fn parse_record(line: &str, line_no: usize, offset: u64) -> Result<AuditRecord, AuditdError> {
    let err = |column: usize, reason| AuditdError { line: line_no, offset, column, reason, raw: line.as_bytes().to_vec() };
    let text = line.trim_end_matches(['\r', '\n']);
    if text.trim().is_empty() {
        return Err(err(1, AuditdErrorReason::Empty));
    }
    let (main, enriched) = match text.split_once('\u{1d}') {
        Some((m, e)) => (m, Some(e)),
        None => (text, None),
    };
    let mut rest = main;
    let mut node = None;
    if let Some(r) = rest.strip_prefix("node=") {
        let (n, r) = r.split_once(' ').unwrap_or((r, ""));
        node = Some(n.to_owned());
        rest = r;
    }
    let col = |r: &str| main.len() - r.len() + 1;
    let Some(r) = rest.strip_prefix("type=") else {
        return Err(err(col(rest), AuditdErrorReason::NoType));
    };
    let (rtype, r) = r.split_once(' ').unwrap_or((r, ""));
    if rtype.is_empty() {
        return Err(err(col(r), AuditdErrorReason::NoType));
    }
    let r = r.trim_start();
    let Some(r2) = r.strip_prefix("msg=audit(") else {
        return Err(err(col(r), AuditdErrorReason::NoStamp));
    };
    let Some(close) = r2.find("):") else {
        return Err(err(col(r2), AuditdErrorReason::NoStamp));
    };
    let stamp_s = &r2[..close];
    let stamp = (|| {
        let (t, serial) = stamp_s.split_once(':')?;
        let (secs, ms) = t.split_once('.')?;
        if ms.len() != 3 {
            return None;
        }
        Some((secs.parse().ok()?, ms.parse().ok()?, serial.parse().ok()?))
    })()
    .ok_or_else(|| err(col(r2), AuditdErrorReason::BadStamp))?;
    let body = &r2[close + 2..];
    let mut fields = Vec::new();
    split_fields(body, &mut fields, true, rtype == "EXECVE");
    let mut enr = Vec::new();
    if let Some(e) = enriched {
        split_fields(e, &mut enr, false, false);
    }
    Ok(AuditRecord { rtype: rtype.to_owned(), stamp, node, fields, enriched: enr, line: line_no, offset, raw: text.to_owned() })
}

/// x86_64 system call names for the numbers file watches and exec rules produce; other
/// numbers (and other architectures without ENRICHED names) become `syscall-<n>`.
fn syscall_name(arch: Option<&str>, nr: &str) -> Option<&'static str> {
    if arch != Some("c000003e") {
        return None;
    }
    Some(match nr {
        "0" => "read",
        "1" => "write",
        "2" => "open",
        "4" => "stat",
        "9" => "mmap",
        "21" => "access",
        "42" => "connect",
        "44" => "sendto",
        "49" => "bind",
        "59" => "execve",
        "76" => "truncate",
        "77" => "ftruncate",
        "82" => "rename",
        "83" => "mkdir",
        "84" => "rmdir",
        "85" => "creat",
        "86" => "link",
        "87" => "unlink",
        "88" => "symlink",
        "90" => "chmod",
        "91" => "fchmod",
        "92" => "chown",
        "93" => "fchown",
        "94" => "lchown",
        "188" => "setxattr",
        "257" => "openat",
        "258" => "mkdirat",
        "260" => "fchownat",
        "263" => "unlinkat",
        "264" => "renameat",
        "265" => "linkat",
        "266" => "symlinkat",
        "268" => "fchmodat",
        "316" => "renameat2",
        "322" => "execveat",
        "437" => "openat2",
        _ => return None,
    })
}

/// What a system call does to a file: (event.action, event.type).
fn file_action(syscall: &str, flags: Option<u64>) -> Option<(&'static str, &'static str)> {
    Some(match syscall {
        "open" | "openat" | "openat2" => match flags {
            Some(f) if f & 0o100 != 0 && f & 0o3 != 0 => ("opened-file-for-write", "change"),
            Some(f) if f & 0o3 != 0 => ("opened-file-for-write", "change"),
            _ => ("opened-file", "access"),
        },
        "creat" => ("created-file", "creation"),
        "read" | "stat" | "access" | "mmap" => ("accessed-file", "access"),
        "write" | "truncate" | "ftruncate" => ("changed-file", "change"),
        "rename" | "renameat" | "renameat2" => ("renamed-file", "change"),
        "unlink" | "unlinkat" | "rmdir" => ("deleted-file", "deletion"),
        "mkdir" | "mkdirat" => ("created-directory", "creation"),
        "link" | "linkat" | "symlink" | "symlinkat" => ("linked-file", "creation"),
        "chmod" | "fchmod" | "fchmodat" => ("changed-file-permissions", "change"),
        "chown" | "fchown" | "lchown" | "fchownat" => ("changed-file-ownership", "change"),
        "setxattr" => ("changed-file-attributes", "change"),
        _ => return None,
    })
}

/// User-space record types: (event.action, category, type).
fn user_record(t: &str) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match t {
        "USER_LOGIN" => ("logged-in", "authentication", "start"),
        "USER_LOGOUT" => ("logged-out", "authentication", "end"),
        "USER_AUTH" => ("authenticated", "authentication", "info"),
        "USER_ACCT" => ("was-authorized", "authentication", "info"),
        "USER_START" => ("started-session", "session", "start"),
        "USER_END" => ("ended-session", "session", "end"),
        "CRED_ACQ" => ("acquired-credentials", "authentication", "info"),
        "CRED_DISP" => ("disposed-credentials", "authentication", "info"),
        "CRED_REFR" => ("refreshed-credentials", "authentication", "info"),
        "USER_CMD" => ("ran-command", "process", "start"),
        "USER_CHAUTHTOK" => ("changed-password", "iam", "change"),
        "ADD_USER" => ("added-user-account", "iam", "creation"),
        "DEL_USER" => ("deleted-user-account", "iam", "deletion"),
        "USER_MGMT" | "ACCT_LOCK" | "ACCT_UNLOCK" => ("changed-user-account", "iam", "change"),
        "ADD_GROUP" => ("added-group", "iam", "creation"),
        "DEL_GROUP" => ("deleted-group", "iam", "deletion"),
        "LOGIN" => ("changed-login-id", "authentication", "info"),
        "CONFIG_CHANGE" => ("changed-audit-configuration", "configuration", "change"),
        "DAEMON_START" => ("started-audit-daemon", "process", "start"),
        "DAEMON_END" => ("stopped-audit-daemon", "process", "end"),
        "DAEMON_ABORT" => ("aborted-audit-daemon", "process", "end"),
        "SERVICE_START" => ("started-service", "process", "start"),
        "SERVICE_STOP" => ("stopped-service", "process", "end"),
        "AVC" | "USER_AVC" => ("access-vector-decision", "configuration", "access"),
        "ANOM_ABEND" => ("crashed", "process", "end"),
        _ => return None,
    })
}

/// `4294967295` (unset), `-1` and `(none)` mean nobody.
fn id_value(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !matches!(*s, "4294967295" | "-1" | "(none)" | "?" | "" | "unset"))
}

fn str_value(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !matches!(*s, "(null)" | "(none)" | "?" | ""))
}

fn join(cwd: Option<&str>, name: &str) -> String {
    if name.starts_with('/') {
        return name.to_owned();
    }
    match cwd {
        Some(c) => format!("{}/{}", c.trim_end_matches('/'), name.trim_start_matches("./")),
        None => name.to_owned(),
    }
}

fn set_file(doc: &mut Map<String, Value>, path: &str, p: &AuditRecord) {
    set(doc, &["file", "path"], path.into());
    if let Some((dir, name)) = path.rsplit_once('/')
        && !name.is_empty()
    {
        set(doc, &["file", "name"], name.into());
        set(doc, &["file", "directory"], if dir.is_empty() { "/" } else { dir }.into());
        if let Some((stem, ext)) = name.rsplit_once('.')
            && !stem.is_empty()
            && !ext.is_empty()
        {
            set(doc, &["file", "extension"], ext.into());
        }
    }
    if let Some(i) = p.get("inode") {
        set(doc, &["file", "inode"], i.into());
    }
    if let Some(m) = p.get("mode") {
        // 0100644 → 0644 (ECS file.mode is the permission bits).
        let perm = u32::from_str_radix(m, 8).map(|m| format!("{:04o}", m & 0o7777)).unwrap_or_else(|_| m.to_owned());
        set(doc, &["file", "mode"], perm.into());
    }
    if let Some(u) = id_value(p.get("ouid")) {
        set(doc, &["file", "uid"], u.into());
    }
    if let Some(o) = p.enriched("OUID") {
        set(doc, &["file", "owner"], o.into());
    }
    if let Some(g) = id_value(p.get("ogid")) {
        set(doc, &["file", "gid"], g.into());
    }
}

fn record_json(r: &AuditRecord) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), r.rtype.clone().into());
    for (k, v) in r.fields.iter().chain(r.enriched.iter()) {
        match m.get_mut(k) {
            // A repeated name (msg= inside msg=…) keeps both.
            Some(Value::Array(a)) => a.push(v.clone().into()),
            Some(prev) => {
                let p = prev.take();
                *prev = Value::Array(vec![p, v.clone().into()]);
            }
            None => {
                m.insert(k.clone(), v.clone().into());
            }
        }
    }
    Value::Object(m)
}

/// The ECS document for one event (its records, in log order).
pub fn event_to_ecs(records: &[AuditRecord]) -> Map<String, Value> {
    let mut doc = Map::new();
    let first = &records[0];
    let (secs, ms, serial) = first.stamp;
    let ts = chrono::DateTime::from_timestamp(secs as i64, ms * 1_000_000).unwrap_or_default();
    set(&mut doc, &["@timestamp"], mamori_event::format_ts(ts).into());
    set(&mut doc, &["event", "kind"], "event".into());
    set(&mut doc, &["event", "module"], "auditd".into());
    set(&mut doc, &["event", "dataset"], "auditd.log".into());
    let original: Vec<&str> = records.iter().map(|r| r.raw.as_str()).collect();
    set(&mut doc, &["event", "original"], original.join("\n").into());
    if let Some(n) = &first.node {
        set(&mut doc, &["host", "name"], n.clone().into());
    }
    // The primary record: SYSCALL if present, else the first.
    // The record that says what happened: a user-space / configuration record if there is
    // one (auditctl's CONFIG_CHANGE comes with its own SYSCALL), else SYSCALL, else the first.
    // Process and user fields come from SYSCALL when present.
    let sys = records.iter().find(|r| r.rtype == "SYSCALL").unwrap_or(first);
    let primary = records.iter().find(|r| user_record(&r.rtype).is_some()).unwrap_or(sys);
    let types: Vec<Value> = records.iter().map(|r| Value::String(r.rtype.clone())).collect();
    set(&mut doc, &["mamori", "audit", "serial"], serial.into());
    set(&mut doc, &["mamori", "audit", "record_type"], primary.rtype.clone().into());
    set(&mut doc, &["mamori", "audit", "record_types"], Value::Array(types));
    set(&mut doc, &["mamori", "audit", "records"], Value::Array(records.iter().map(record_json).collect()));

    let find = |t: &str| records.iter().find(|r| r.rtype == t);
    let g = |k: &str| sys.get(k);

    // Process.
    if let Some(pid) = g("pid").and_then(|p| p.parse::<u64>().ok()) {
        set(&mut doc, &["process", "pid"], pid.into());
    }
    if let Some(pp) = g("ppid").and_then(|p| p.parse::<u64>().ok()) {
        set(&mut doc, &["process", "parent", "pid"], pp.into());
    }
    if let Some(exe) = str_value(g("exe")) {
        set(&mut doc, &["process", "executable"], exe.into());
        if g("comm").is_none()
            && let Some(n) = exe.rsplit('/').next()
        {
            set(&mut doc, &["process", "name"], n.into());
        }
    }
    if let Some(c) = str_value(g("comm")) {
        set(&mut doc, &["process", "name"], c.into());
    }
    let cwd = find("CWD").and_then(|c| c.get("cwd")).or_else(|| g("cwd")).and_then(|c| str_value(Some(c)));
    if let Some(c) = cwd {
        set(&mut doc, &["process", "working_directory"], c.into());
    }
    if let Some(ex) = find("EXECVE") {
        let mut args: Vec<(usize, String)> = Vec::new();
        for (k, v) in &ex.fields {
            if is_execve_arg(k) {
                let n: usize = k[1..].split('[').next().unwrap_or("0").parse().unwrap_or(0);
                // a1[0], a1[1]: one long argument in pieces; append in order.
                if let Some(last) = args.last_mut().filter(|(i, _)| *i == n) {
                    last.1.push_str(v);
                } else {
                    args.push((n, v.clone()));
                }
            }
        }
        args.sort_by_key(|(i, _)| *i);
        let args: Vec<String> = args.into_iter().map(|(_, a)| a).collect();
        if let Some(c) = ex.get("argc").and_then(|c| c.parse::<u64>().ok()) {
            set(&mut doc, &["process", "args_count"], c.into());
        }
        set(&mut doc, &["process", "command_line"], args.join(" ").into());
        set(&mut doc, &["process", "args"], Value::Array(args.into_iter().map(Value::String).collect()));
    }
    if let Some(t) = find("PROCTITLE").and_then(|p| p.get("proctitle")) {
        set(&mut doc, &["process", "title"], t.into());
        if find("EXECVE").is_none() {
            set(&mut doc, &["process", "command_line"], t.into());
        }
    }

    // Users: uid / auid / euid with their enriched names.
    let user = |doc: &mut Map<String, Value>, path: &[&str], id_key: &str, name_key: &str, r: &AuditRecord| {
        let id = id_value(r.get(id_key));
        let name = r.enriched(name_key).and_then(|n| id_value(Some(n)));
        if let Some(i) = id {
            let mut p = path.to_vec();
            p.push("id");
            set(doc, &p, i.into());
        }
        if let (Some(_), Some(n)) = (id, name) {
            let mut p = path.to_vec();
            p.push("name");
            set(doc, &p, n.into());
        }
    };
    user(&mut doc, &["user"], "uid", "UID", sys);
    user(&mut doc, &["user", "audit"], "auid", "AUID", sys);
    if g("euid").is_some() && g("euid") != g("uid") {
        user(&mut doc, &["user", "effective"], "euid", "EUID", sys);
    }
    if let Some(gid) = id_value(g("gid")) {
        set(&mut doc, &["group", "id"], gid.into());
        if let Some(n) = sys.enriched("GID") {
            set(&mut doc, &["group", "name"], n.into());
        }
    }
    if let Some(s) = id_value(g("ses")) {
        set(&mut doc, &["mamori", "audit", "session"], s.into());
    }
    let mut related: Vec<Value> = Vec::new();

    // The rule key (file watches: `-k jumin`).
    let key = records.iter().find_map(|r| str_value(r.get("key")).filter(|_| r.rtype == "SYSCALL" || r.rtype == "CONFIG_CHANGE"));
    if let Some(k) = key {
        set(&mut doc, &["mamori", "audit", "key"], k.into());
        set(&mut doc, &["tags"], Value::Array(k.split(',').map(|t| Value::String(t.to_owned())).collect()));
    }

    // Paths: the kernel's PATH items; PARENT items name the directory of the real one.
    let paths: Vec<&AuditRecord> = records.iter().filter(|r| r.rtype == "PATH").collect();
    let mut path_list = Vec::new();
    for p in &paths {
        if let Some(n) = str_value(p.get("name")) {
            let full = join(cwd, n);
            path_list.push(json!({"name": full, "nametype": p.get("nametype"), "item": p.get("item")}));
        }
    }
    if !path_list.is_empty() {
        set(&mut doc, &["mamori", "audit", "paths"], Value::Array(path_list));
    }
    let pick = |nt: &str| paths.iter().find(|p| p.get("nametype") == Some(nt) && str_value(p.get("name")).is_some()).copied();
    let main_path = pick("DELETE").or_else(|| pick("CREATE")).or_else(|| pick("NORMAL")).or_else(|| paths.iter().find(|p| str_value(p.get("name")).is_some() && p.get("nametype") != Some("PARENT")).copied());

    if primary.rtype == "SYSCALL" {
        let arch = g("arch");
        let nr = g("syscall").unwrap_or_default();
        let name = sys.enriched("SYSCALL").map(str::to_owned).or_else(|| syscall_name(arch, nr).map(str::to_owned)).unwrap_or_else(|| format!("syscall-{nr}"));
        set(&mut doc, &["mamori", "audit", "syscall"], name.clone().into());
        if let Some(a) = sys.enriched("ARCH").or(arch) {
            set(&mut doc, &["mamori", "audit", "arch"], a.into());
        }
        match g("success") {
            Some("yes") => set(&mut doc, &["event", "outcome"], "success".into()),
            Some("no") => set(&mut doc, &["event", "outcome"], "failure".into()),
            _ => {}
        }
        if let Some(e) = g("exit") {
            set(&mut doc, &["mamori", "audit", "exit"], e.into());
        }
        // open(path, flags) has flags in a1; openat(dirfd, path, flags) in a2.
        let flags_arg = if name == "open" { "a1" } else { "a2" };
        let flags = g(flags_arg).and_then(|f| u64::from_str_radix(f, 16).ok());
        if name == "execve" || name == "execveat" {
            set(&mut doc, &["event", "category"], json!(["process"]));
            set(&mut doc, &["event", "type"], json!(["start"]));
            set(&mut doc, &["event", "action"], "executed".into());
            if let Some(p) = main_path.and_then(|p| p.get("name")) {
                set_file(&mut doc, &join(cwd, p), main_path.expect("some"));
            }
        } else if let Some((action, ty)) = file_action(&name, flags) {
            set(&mut doc, &["event", "category"], json!(["file"]));
            set(&mut doc, &["event", "type"], json!([ty]));
            set(&mut doc, &["event", "action"], action.into());
            if let Some(p) = main_path {
                let n = p.get("name").expect("filtered");
                set_file(&mut doc, &join(cwd, n), p);
            }
            if action == "renamed-file"
                && let Some(t) = pick("CREATE").and_then(|p| p.get("name"))
            {
                set(&mut doc, &["mamori", "file", "target_path"], join(cwd, t).into());
            }
        } else {
            set(&mut doc, &["event", "category"], json!(["process"]));
            set(&mut doc, &["event", "type"], json!(["info"]));
            set(&mut doc, &["event", "action"], name.into());
            if let Some(p) = main_path {
                set_file(&mut doc, &join(cwd, p.get("name").expect("filtered")), p);
            }
        }
    } else {
        let (action, cat, ty) = user_record(&primary.rtype).unwrap_or(("audit-record", "host", "info"));
        let action = if action == "audit-record" { format!("audit-{}", primary.rtype.to_ascii_lowercase()) } else { action.to_owned() };
        let g = |k: &str| primary.get(k);
        set(&mut doc, &["event", "category"], json!([cat]));
        set(&mut doc, &["event", "type"], json!([ty]));
        set(&mut doc, &["event", "action"], action.into());
        match g("res").or(g("success")) {
            Some("success" | "1" | "yes") => set(&mut doc, &["event", "outcome"], "success".into()),
            Some("failed" | "failure" | "0" | "no") => set(&mut doc, &["event", "outcome"], "failure".into()),
            _ => {}
        }
        if let Some(op) = str_value(g("op")) {
            set(&mut doc, &["mamori", "audit", "op"], op.into());
        }
        // acct= is the account acted on (the login name for USER_LOGIN, the target for su/sudo).
        if let Some(a) = str_value(g("acct")) {
            if cat == "authentication" || cat == "session" {
                set(&mut doc, &["user", "name"], a.into());
                related.push(a.into());
            } else {
                set(&mut doc, &["user", "target", "name"], a.into());
            }
        } else if let Some(id) = id_value(g("id")).filter(|_| primary.rtype == "USER_LOGIN") {
            set(&mut doc, &["user", "id"], id.into());
        }
        if let Some(ip) = str_value(g("addr")).and_then(|a| a.parse::<std::net::IpAddr>().ok()) {
            set(&mut doc, &["source", "ip"], ip.to_string().into());
            related.push(Value::String(ip.to_string()));
        }
        if let Some(h) = str_value(g("hostname")) {
            set(&mut doc, &["source", "domain"], h.into());
        }
        if let Some(t) = str_value(g("terminal")) {
            set(&mut doc, &["mamori", "audit", "terminal"], t.into());
        }
        if let Some(c) = str_value(g("cmd")) {
            set(&mut doc, &["process", "command_line"], c.into());
        }
        if let Some(c) = str_value(g("cwd")) {
            set(&mut doc, &["process", "working_directory"], c.into());
        }
    }
    for p in [&["user", "name"][..], &["user", "audit", "name"]] {
        let mut cur = doc.get(p[0]);
        for k in &p[1..] {
            cur = cur.and_then(|v| v.get(*k));
        }
        if let Some(Value::String(n)) = cur
            && !related.contains(&Value::String(n.clone()))
        {
            related.push(Value::String(n.clone()));
        }
    }
    let users: Vec<Value> = related.iter().filter(|v| v.as_str().is_some_and(|s| s.parse::<std::net::IpAddr>().is_err())).cloned().collect();
    if !users.is_empty() {
        set(&mut doc, &["related", "user"], Value::Array(users));
    }
    let summary = summary(&doc, &primary.rtype);
    set(&mut doc, &["message"], summary.into());
    doc
}

fn summary(doc: &Map<String, Value>, rtype: &str) -> String {
    let f = |p: &[&str]| -> Option<String> {
        let mut cur = doc.get(p[0])?;
        for k in &p[1..] {
            cur = cur.get(*k)?;
        }
        cur.as_str().map(str::to_owned)
    };
    let mut s = format!("auditd {rtype}");
    for (label, p) in [
        ("action", &["event", "action"][..]),
        ("user", &["user", "name"]),
        ("auid", &["user", "audit", "name"]),
        ("file", &["file", "path"]),
        ("exe", &["process", "executable"]),
        ("key", &["mamori", "audit", "key"]),
        ("outcome", &["event", "outcome"]),
    ] {
        if let Some(v) = f(p) {
            s.push_str(&format!(" {label}={v}"));
        }
    }
    s
}

/// Parses a whole `audit.log` (any number of lines) into events, in the order of each
/// event's first record; lines that are not records come back as errors at their place.
pub fn parse_auditd(body: &[u8]) -> Vec<Result<AuditdEvent, AuditdError>> {
    parse_auditd_with_window(body, DEFAULT_WINDOW)
}

/// [`parse_auditd`] with an explicit bounded window (records).
pub fn parse_auditd_with_window(body: &[u8], window: usize) -> Vec<Result<AuditdEvent, AuditdError>> {
    // Errors are emitted in place relative to events: keyed by line to merge at the end.
    let mut out: Vec<(usize, Result<AuditdEvent, AuditdError>)> = Vec::new();
    let mut asm: Assembler<AuditRecord> = Assembler::new(window);
    let emit = |asm: &mut Assembler<AuditRecord>, out: &mut Vec<(usize, Result<AuditdEvent, AuditdError>)>| {
        while let Some(g) = asm.next_group() {
            let doc = event_to_ecs(&g);
            let raw = g.iter().map(|r| r.raw.as_str()).collect::<Vec<_>>().join("\n");
            out.push((g[0].line, Ok(AuditdEvent { doc, line: g[0].line, offset: g[0].offset, raw })));
        }
    };
    let mut offset = 0u64;
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let here = offset;
        offset += line.len() as u64 + 1;
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        match parse_record(&text, i + 1, here) {
            Ok(mut r) => {
                if matches!(text, std::borrow::Cow::Owned(_)) {
                    r.fields.push(("mamori_invalid_utf8".into(), "true".into()));
                }
                let eoe = r.rtype == "EOE";
                let stamp = r.stamp;
                asm.push(stamp, (!eoe).then_some(r), eoe);
            }
            Err(mut e) => {
                e.raw = line.to_vec();
                out.push((i + 1, Err(e)));
            }
        }
        emit(&mut asm, &mut out);
    }
    asm.finish();
    emit(&mut asm, &mut out);
    out.sort_by_key(|(l, _)| *l);
    out.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_fields_and_hex() {
        let r = parse_record(
            "type=PATH msg=audit(1796181577.628:19): item=0 name=2F746D702FE58FB0E5B8B32E637376 nametype=NORMAL\u{1d}OUID=\"root\"",
            1,
            0,
        )
        .unwrap();
        assert_eq!(r.stamp, (1796181577, 628, 19));
        assert_eq!(r.get("name"), Some("/tmp/台帳.csv"));
        assert_eq!(r.enriched("OUID"), Some("root"));
        // Numbers that look like hex are not decoded unless the field is a string field.
        let r = parse_record("type=SYSCALL msg=audit(1.000:2): a0=41 comm=\"a b\" key=6A756D696E", 1, 0).unwrap();
        assert_eq!(r.get("a0"), Some("41"));
        assert_eq!(r.get("comm"), Some("a b"));
        assert_eq!(r.get("key"), Some("jumin"));
    }

    #[test]
    fn user_msg_is_flattened() {
        let r = parse_record("type=USER_AUTH msg=audit(1.000:2): pid=1 uid=0 msg='op=PAM:authentication acct=\"tanaka\" exe=\"/usr/bin/su\" addr=? res=failed'", 1, 0).unwrap();
        assert_eq!(r.get("acct"), Some("tanaka"));
        assert_eq!(r.get("res"), Some("failed"));
        let d = event_to_ecs(&[r]);
        assert_eq!(d["event"]["action"], "authenticated");
        assert_eq!(d["event"]["outcome"], "failure");
        assert_eq!(d["user"]["name"], "tanaka");
    }

    #[test]
    fn errors_name_the_column() {
        let e = parse_record("hello world", 3, 40).unwrap_err();
        assert_eq!((e.line, e.offset, e.column, e.reason.clone()), (3, 40, 1, AuditdErrorReason::NoType));
        let e = parse_record("type=SYSCALL msg=audit(12:x): a=b", 1, 0).unwrap_err();
        assert_eq!(e.reason, AuditdErrorReason::BadStamp);
        assert!(e.to_string().contains("column 24"), "{e}");
        let e = parse_record("type=SYSCALL arch=c000003e", 1, 0).unwrap_err();
        assert_eq!(e.reason, AuditdErrorReason::NoStamp);
    }

    #[test]
    fn execve_args_split_and_hex() {
        let r = parse_record("type=EXECVE msg=audit(1.000:2): argc=3 a0=\"cat\" a1=2F746D702F6D7920636F70792E637376 a2[0]=\"ab\" a2[1]=\"cd\"", 1, 0).unwrap();
        let s = parse_record("type=SYSCALL msg=audit(1.000:2): arch=c000003e syscall=59 success=yes exe=\"/usr/bin/cat\"", 1, 0).unwrap();
        let d = event_to_ecs(&[s, r]);
        assert_eq!(d["process"]["args"], json!(["cat", "/tmp/my copy.csv", "abcd"]));
        assert_eq!(d["event"]["action"], "executed");
    }
}
