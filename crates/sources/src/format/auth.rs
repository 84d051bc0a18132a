//! Authentication lines from syslog or journald — OpenSSH `sshd`, `sudo`, `su`, PAM
//! (`pam_unix(<service>:<kind>): …` from any program) and OpenLDAP `slapd` — to ECS
//! authentication / session / process events.
//!
//! [`enrich_syslog_doc`] looks at one document (by `process.name`, and at any message that
//! starts with `pam_`) and adds fields; it never removes any and never fails: a line from
//! these programs that it does not recognise stays as it was, with
//! `mamori.auth.unparsed: true`, so it is still searchable by its `message`.
//!
//! `slapd` writes one operation over several lines (`conn=1000 op=0 BIND dn="…"
//! method=128`, then `conn=1000 op=0 RESULT tag=97 err=49 …`, with the client address only on
//! the connection's `ACCEPT` line). [`SlapdCorrelator`] keeps that state across the lines of
//! one input so the `RESULT` line carries the bind DN, user, client IP and outcome.
//!
//! Fields set: `event.{category,type,action,outcome,reason}`, `user.name`,
//! `user.target.name` (sudo/su: the account run as), `source.{ip,port}`, `process.*`
//! (sudo's command), `related.{user,ip}`, `mamori.auth.{method,service,tty,pwd,dn,
//! ldap.{conn,op,tag,err}}`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::syslog::set;

fn process_name(doc: &Map<String, Value>) -> Option<&str> {
    doc.get("process").and_then(|p| p.get("name")).and_then(Value::as_str)
}

fn event(doc: &mut Map<String, Value>, action: &str, category: &str, ty: &str, outcome: Option<&str>) {
    set(doc, &["event", "action"], action.into());
    set(doc, &["event", "category"], json!([category]));
    set(doc, &["event", "type"], json!([ty]));
    if let Some(o) = outcome {
        set(doc, &["event", "outcome"], o.into());
    }
}

fn user(doc: &mut Map<String, Value>, name: &str) {
    if name.is_empty() {
        return;
    }
    set(doc, &["user", "name"], name.into());
    add_related(doc, "user", name);
}

fn add_related(doc: &mut Map<String, Value>, kind: &str, v: &str) {
    let cur = doc.get("related").and_then(|r| r.get(kind)).and_then(Value::as_array).cloned().unwrap_or_default();
    if cur.iter().any(|x| x == v) {
        return;
    }
    let mut cur = cur;
    cur.push(v.into());
    set(doc, &["related", kind], Value::Array(cur));
}

fn source(doc: &mut Map<String, Value>, ip: &str, port: Option<&str>) {
    let Ok(ip) = ip.trim_matches(['[', ']']).parse::<IpAddr>() else { return };
    let ip = ip.to_canonical().to_string();
    // A syslog relay's address (set by the receiver) is not the client's.
    if let Some(peer) = doc.get("source").and_then(|s| s.get("ip")).and_then(Value::as_str)
        && peer != ip
    {
        let peer = peer.to_owned();
        set(doc, &["observer", "ip"], peer.into());
    }
    set(doc, &["source", "ip"], ip.clone().into());
    if let Some(p) = port.and_then(|p| p.parse::<u16>().ok()) {
        set(doc, &["source", "port"], p.into());
    }
    add_related(doc, "ip", &ip);
}

fn unparsed(doc: &mut Map<String, Value>) {
    set(doc, &["mamori", "auth", "unparsed"], true.into());
}

/// Adds authentication fields to a syslog / journald document from sshd, sudo, su, slapd or
/// a PAM module. Other documents are left untouched. Called by
/// [`parse_syslog`](crate::parse_syslog).
pub fn enrich_syslog_doc(doc: &mut Map<String, Value>) {
    let Some(name) = process_name(doc).map(str::to_owned) else { return };
    let message = doc.get("message").and_then(Value::as_str).unwrap_or_default().to_owned();
    let msg = message.trim();
    if msg.starts_with("pam_") {
        if !pam(doc, msg) {
            unparsed(doc);
        }
        return;
    }
    let known = match name.as_str() {
        "sshd" => sshd(doc, msg),
        "sudo" => sudo(doc, msg),
        "su" => su(doc, msg),
        "slapd" => slapd_line(doc, msg).is_some(),
        _ => return,
    };
    if !known {
        unparsed(doc);
    }
}

/// Splits `word rest` at the first space.
fn word(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    }
}

/// `<user> from <ip> port <port>…` or `<user> <ip> port <port>…`.
fn user_ip_port(s: &str) -> Option<(&str, &str, Option<&str>)> {
    // User names cannot contain spaces in sshd's messages, but "invalid user x" and
    // "authenticating user x" are prefixes.
    let s = s.strip_prefix("invalid user ").or_else(|| s.strip_prefix("authenticating user ")).or_else(|| s.strip_prefix("user ")).unwrap_or(s);
    let (u, rest) = word(s);
    let rest = rest.strip_prefix("from ").unwrap_or(rest);
    let (ip, rest) = word(rest);
    let port = rest.strip_prefix("port ").map(|r| word(r).0.trim_end_matches(':'));
    ip.parse::<IpAddr>().is_ok().then_some((u, ip, port))
}

fn sshd(doc: &mut Map<String, Value>, msg: &str) -> bool {
    set(doc, &["mamori", "auth", "service"], "sshd".into());
    let invalid = msg.contains(" invalid user ") || msg.starts_with("Invalid user ");
    if let Some(rest) = msg.strip_prefix("Accepted ").or_else(|| msg.strip_prefix("Failed ")).or_else(|| msg.strip_prefix("Postponed ")) {
        let ok = msg.starts_with("Accepted ");
        let (method, rest) = word(rest);
        let Some(rest) = rest.strip_prefix("for ") else { return false };
        let Some((u, ip, port)) = user_ip_port(rest) else { return false };
        if msg.starts_with("Postponed ") {
            event(doc, "ssh-login-postponed", "authentication", "info", None);
        } else {
            event(doc, if ok { "ssh-login" } else { "ssh-login-failed" }, "authentication", "start", Some(if ok { "success" } else { "failure" }));
        }
        if !ok && invalid {
            set(doc, &["event", "reason"], "invalid user".into());
        }
        set(doc, &["mamori", "auth", "method"], method.into());
        user(doc, u);
        source(doc, ip, port);
        return true;
    }
    if let Some(rest) = msg.strip_prefix("Invalid user ") {
        let Some((u, ip, port)) = user_ip_port(rest) else { return false };
        event(doc, "ssh-invalid-user", "authentication", "start", Some("failure"));
        set(doc, &["event", "reason"], "invalid user".into());
        user(doc, u);
        source(doc, ip, port);
        return true;
    }
    for (prefix, action, ty) in [
        ("Disconnected from ", "ssh-disconnected", "end"),
        ("Connection closed by ", "ssh-connection-closed", "end"),
        ("Received disconnect from ", "ssh-disconnect-received", "end"),
        ("Connection reset by ", "ssh-connection-reset", "end"),
        ("Timeout before authentication for ", "ssh-auth-timeout", "end"),
    ] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let preauth = msg.ends_with("[preauth]");
            event(doc, action, "session", ty, None);
            match user_ip_port(rest) {
                Some((u, ip, port)) => {
                    user(doc, u);
                    source(doc, ip, port);
                }
                None => {
                    // "<ip> port <port>…" without a user.
                    let (ip, r) = word(rest);
                    source(doc, ip, r.strip_prefix("port ").map(|r| word(r).0.trim_end_matches(':')));
                }
            }
            if preauth {
                set(doc, &["mamori", "auth", "preauth"], true.into());
            }
            return true;
        }
    }
    if let Some(rest) = msg.strip_prefix("error: maximum authentication attempts exceeded for ") {
        event(doc, "ssh-too-many-attempts", "authentication", "start", Some("failure"));
        if let Some((u, ip, port)) = user_ip_port(rest) {
            user(doc, u);
            source(doc, ip, port);
        }
        return true;
    }
    if let Some(rest) = msg.strip_prefix("Server listening on ") {
        event(doc, "ssh-server-listening", "process", "start", None);
        set(doc, &["mamori", "auth", "listen"], rest.trim_end_matches('.').into());
        return true;
    }
    if msg.starts_with("Received signal ") || msg.starts_with("Starting session: ") || msg.starts_with("Connection from ") || msg.starts_with("User child is on pid") {
        return true;
    }
    false
}

/// `pam_unix(sshd:session): session opened for user tanaka(uid=1001) by (uid=0)`,
/// `pam_unix(sudo:auth): authentication failure; logname=… user=tanaka`.
fn pam(doc: &mut Map<String, Value>, msg: &str) -> bool {
    let Some((head, rest)) = msg.split_once("): ") else { return false };
    let Some((module, svc)) = head.split_once('(') else { return false };
    let (service, kind) = svc.split_once(':').unwrap_or((svc, ""));
    set(doc, &["mamori", "auth", "pam", "module"], module.into());
    set(doc, &["mamori", "auth", "service"], service.into());
    if !kind.is_empty() {
        set(doc, &["mamori", "auth", "pam", "type"], kind.into());
    }
    let name_of = |s: &str| s.split('(').next().unwrap_or(s).trim().to_owned();
    if let Some(r) = rest.strip_prefix("session opened for user ") {
        let (u, by) = r.split_once(" by ").unwrap_or((r, ""));
        event(doc, "session-opened", "session", "start", Some("success"));
        user(doc, &name_of(u));
        let by = name_of(by);
        if !by.is_empty() {
            set(doc, &["source", "user", "name"], by.clone().into());
            add_related(doc, "user", &by);
        }
        return true;
    }
    if let Some(r) = rest.strip_prefix("session closed for user ") {
        event(doc, "session-closed", "session", "end", Some("success"));
        user(doc, &name_of(r));
        return true;
    }
    if let Some(r) = rest.strip_prefix("authentication failure;") {
        event(doc, "authentication-failed", "authentication", "start", Some("failure"));
        // `key=value` pairs; `user=` may be absent (unknown user) and is last.
        let mut kv = HashMap::new();
        for part in r.split_whitespace() {
            if let Some((k, v)) = part.split_once('=') {
                kv.insert(k, v);
            }
        }
        if let Some(u) = kv.get("user").filter(|u| !u.is_empty()) {
            user(doc, u);
        }
        if let Some(ru) = kv.get("ruser").filter(|u| !u.is_empty()) {
            set(doc, &["source", "user", "name"], (*ru).into());
        }
        if let Some(h) = kv.get("rhost").filter(|u| !u.is_empty()) {
            if h.parse::<IpAddr>().is_ok() {
                source(doc, h, None);
            } else {
                set(doc, &["source", "domain"], (*h).into());
            }
        }
        if let Some(t) = kv.get("tty").filter(|u| !u.is_empty()) {
            set(doc, &["mamori", "auth", "tty"], (*t).into());
        }
        return true;
    }
    if rest.starts_with("check pass; user unknown") {
        event(doc, "authentication-failed", "authentication", "start", Some("failure"));
        set(doc, &["event", "reason"], "user unknown".into());
        return true;
    }
    if let Some(r) = rest.strip_prefix("account ").and_then(|r| r.split_once(" has expired")) {
        event(doc, "account-expired", "authentication", "start", Some("failure"));
        user(doc, r.0);
        return true;
    }
    if rest.starts_with("password changed for ") {
        event(doc, "password-changed", "iam", "change", Some("success"));
        user(doc, rest.trim_start_matches("password changed for ").trim());
        return true;
    }
    false
}

/// `   tanaka : TTY=pts/0 ; PWD=/home ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow`, with an
/// optional reason first (`3 incorrect password attempts ; …`, `user NOT in sudoers ; …`).
fn sudo(doc: &mut Map<String, Value>, msg: &str) -> bool {
    set(doc, &["mamori", "auth", "service"], "sudo".into());
    let Some((u, rest)) = msg.split_once(" : ") else { return false };
    let u = u.trim();
    if u.is_empty() || u.contains(' ') {
        return false;
    }
    let mut reason = None;
    let mut kv: Vec<(&str, &str)> = Vec::new();
    for part in rest.split(" ; ") {
        let part = part.trim();
        match part.split_once('=') {
            Some((k, v)) if k.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !k.is_empty() => kv.push((k, v)),
            _ => reason = Some(part),
        }
    }
    let get = |k: &str| kv.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    let Some(cmd) = get("COMMAND") else { return false };
    user(doc, u);
    match reason {
        None => event(doc, "sudo-command", "process", "start", Some("success")),
        Some(r) => {
            event(doc, "sudo-command-refused", "process", "start", Some("failure"));
            set(doc, &["event", "category"], json!(["process", "authentication"]));
            set(doc, &["event", "reason"], r.into());
        }
    }
    if let Some(t) = get("USER") {
        set(doc, &["user", "target", "name"], t.into());
        add_related(doc, "user", t);
    }
    if let Some(t) = get("TTY") {
        set(doc, &["mamori", "auth", "tty"], t.into());
    }
    if let Some(p) = get("PWD") {
        set(doc, &["mamori", "auth", "pwd"], p.into());
        set(doc, &["process", "working_directory"], p.into());
    }
    // The command is logged with its arguments joined by spaces; the executable is the first.
    set(doc, &["process", "command_line"], cmd.into());
    let exe = cmd.split(' ').next().unwrap_or(cmd);
    set(doc, &["process", "executable"], exe.into());
    // The logging process is sudo; the command it ran is a child.
    set(doc, &["process", "parent", "name"], "sudo".into());
    if let Some(n) = exe.rsplit('/').next() {
        set(doc, &["process", "name"], n.into());
    }
    let args: Vec<Value> = cmd.split(' ').filter(|a| !a.is_empty()).map(|a| Value::String(a.into())).collect();
    set(doc, &["process", "args"], Value::Array(args));
    true
}

/// util-linux su: `(to root) tanaka on pts/0`, `FAILED SU (to root) tanaka on pts/0`.
fn su(doc: &mut Map<String, Value>, msg: &str) -> bool {
    set(doc, &["mamori", "auth", "service"], "su".into());
    let (failed, rest) = match msg.strip_prefix("FAILED SU ") {
        Some(r) => (true, r),
        None => (false, msg),
    };
    let Some(rest) = rest.strip_prefix("(to ") else { return false };
    let Some((target, rest)) = rest.split_once(") ") else { return false };
    let (u, tty) = rest.split_once(" on ").unwrap_or((rest, ""));
    event(doc, if failed { "su-failed" } else { "su" }, "authentication", "start", Some(if failed { "failure" } else { "success" }));
    user(doc, u.trim());
    set(doc, &["user", "target", "name"], target.into());
    add_related(doc, "user", target);
    if !tty.is_empty() {
        set(doc, &["mamori", "auth", "tty"], tty.trim().into());
    }
    true
}

/// One parsed slapd stats line: `conn=N [op=M|fd=F] VERB rest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlapdLine<'a> {
    /// Connection number.
    pub conn: u64,
    /// Operation number, if the line has one.
    pub op: Option<u64>,
    /// `BIND`, `RESULT`, `ACCEPT`, `SRCH`, `closed` …
    pub verb: &'a str,
    /// The rest after the verb.
    pub rest: &'a str,
}

/// slapd's `-d stats` / `loglevel stats` lines may start with a hex time stamp
/// (OpenLDAP 2.5+ on stderr: `6569a1b2.1c2d3e4f 0x7f… conn=…`); syslog lines start at `conn=`.
pub fn parse_slapd(msg: &str) -> Option<SlapdLine<'_>> {
    let at = msg.find("conn=")?;
    let s = &msg[at + 5..];
    let (conn, s) = word(s);
    let conn: u64 = conn.parse().ok()?;
    let (op, s) = match s.strip_prefix("op=") {
        Some(r) => {
            let (o, r) = word(r);
            (Some(o.parse().ok()?), r)
        }
        None => match s.strip_prefix("fd=") {
            Some(r) => (None, word(r).1),
            None => (None, s),
        },
    };
    let (verb, rest) = word(s.trim_start());
    (!verb.is_empty()).then_some(SlapdLine { conn, op, verb, rest })
}

/// The `key=value` / `key="value"` pairs of a slapd line.
fn slapd_kv(s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        let k = &s[ks..i];
        i += 1;
        let v = if b.get(i) == Some(&b'"') {
            let vs = i + 1;
            let ve = s[vs..].find('"').map(|p| vs + p).unwrap_or(b.len());
            i = (ve + 1).min(b.len());
            &s[vs..ve]
        } else {
            let vs = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            &s[vs..i]
        };
        out.push((k, v));
    }
    out
}

/// `uid=tanaka,ou=people,dc=city` → `tanaka` (the first RDN's value).
pub fn dn_user(dn: &str) -> Option<&str> {
    let first = dn.split(',').next()?;
    let (attr, v) = first.split_once('=')?;
    matches!(attr.trim().to_ascii_lowercase().as_str(), "uid" | "cn" | "samaccountname").then(|| v.trim()).filter(|v| !v.is_empty())
}

/// LDAP result codes that matter for binds (RFC 4511 §4.1.9).
fn ldap_err_name(err: &str) -> Option<&'static str> {
    Some(match err {
        "0" => "success",
        "7" => "authMethodNotSupported",
        "8" => "strongerAuthRequired",
        "13" => "confidentialityRequired",
        "14" => "saslBindInProgress",
        "32" => "noSuchObject",
        "34" => "invalidDNSyntax",
        "48" => "inappropriateAuthentication",
        "49" => "invalidCredentials",
        "50" => "insufficientAccessRights",
        "53" => "unwillingToPerform",
        _ => return None,
    })
}

/// Per-line slapd fields (no state). Returns the parsed line.
fn slapd_line<'a>(doc: &mut Map<String, Value>, msg: &'a str) -> Option<SlapdLine<'a>> {
    let l = parse_slapd(msg)?;
    set(doc, &["mamori", "auth", "service"], "slapd".into());
    set(doc, &["mamori", "auth", "ldap", "conn"], l.conn.into());
    if let Some(op) = l.op {
        set(doc, &["mamori", "auth", "ldap", "op"], op.into());
    }
    let kv = slapd_kv(l.rest);
    let get = |k: &str| kv.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    match l.verb {
        "ACCEPT" => {
            event(doc, "ldap-connection-accepted", "network", "start", None);
            // "from IP=127.0.0.1:45678 (IP=0.0.0.0:389)"
            if let Some(from) = l.rest.strip_prefix("from IP=") {
                let addr = word(from).0;
                if let Some((ip, port)) = addr.rsplit_once(':') {
                    source(doc, ip, Some(port));
                }
            }
        }
        "BIND" => {
            if let Some(dn) = get("dn") {
                set(doc, &["mamori", "auth", "dn"], dn.into());
                if let Some(u) = dn_user(dn) {
                    user(doc, u);
                }
            }
            if let Some(m) = get("method").or(get("mech")) {
                let m = if m == "128" { "simple" } else { m };
                set(doc, &["mamori", "auth", "method"], m.into());
            }
            event(doc, "ldap-bind-request", "authentication", "info", None);
        }
        "RESULT" => {
            if let Some(t) = get("tag") {
                set(doc, &["mamori", "auth", "ldap", "tag"], t.into());
            }
            if let Some(e) = get("err") {
                set(doc, &["mamori", "auth", "ldap", "err"], e.into());
                if let Some(n) = ldap_err_name(e) {
                    set(doc, &["mamori", "auth", "ldap", "result"], n.into());
                }
            }
            if let Some(t) = get("text").filter(|t| !t.is_empty()) {
                set(doc, &["error", "message"], t.into());
            }
            let ok = get("err") == Some("0");
            if get("tag") == Some("97") {
                event(doc, if ok { "ldap-bind" } else { "ldap-bind-failed" }, "authentication", "start", Some(if ok { "success" } else { "failure" }));
            } else {
                event(doc, "ldap-result", "database", "info", Some(if ok { "success" } else { "failure" }));
            }
        }
        "SRCH" => {
            event(doc, "ldap-search", "database", "access", None);
            if let Some(b) = get("base") {
                set(doc, &["mamori", "auth", "ldap", "base"], b.into());
            }
            if let Some(f) = get("filter") {
                set(doc, &["mamori", "auth", "ldap", "filter"], f.into());
            }
        }
        "UNBIND" | "closed" => event(doc, "ldap-connection-closed", "network", "end", None),
        "MOD" | "ADD" | "DEL" | "MODRDN" | "PASSMOD" => {
            event(doc, &format!("ldap-{}", l.verb.to_ascii_lowercase()), "iam", "change", None);
            if let Some(dn) = get("dn") {
                set(doc, &["mamori", "auth", "dn"], dn.into());
            }
        }
        _ => {}
    }
    Some(l)
}

/// Carries slapd state from line to line within one input (a file, a connection): the client
/// of each connection (from `ACCEPT`) and the DN of each pending bind, so that the `RESULT`
/// line of a bind says who tried to bind, from where, and whether it worked. Bounded: the
/// oldest connections are forgotten beyond [`SlapdCorrelator::MAX_CONNS`].
#[derive(Debug, Default)]
pub struct SlapdCorrelator {
    /// (host, conn) → client (ip, port).
    clients: HashMap<(String, u64), (String, Option<u16>)>,
    /// (host, conn, op) → (bind DN, method).
    binds: HashMap<(String, u64, u64), (String, Option<String>)>,
    /// (host, conn, op) → last bound DN for the connection (authorisation identity).
    bound: HashMap<(String, u64), String>,
    order: VecDeque<(String, u64)>,
}

impl SlapdCorrelator {
    /// Connections remembered at most.
    pub const MAX_CONNS: usize = 10_000;

    /// Updates the state from an (already enriched) slapd document and completes it from
    /// the state. Documents of other programs are left alone.
    pub fn observe(&mut self, doc: &mut Map<String, Value>) {
        if process_name(doc) != Some("slapd") {
            return;
        }
        let host = doc.get("host").and_then(|h| h.get("name")).and_then(Value::as_str).unwrap_or_default().to_owned();
        let ldap = doc.get("mamori").and_then(|m| m.get("auth")).and_then(|a| a.get("ldap")).cloned();
        let Some(ldap) = ldap else { return };
        let Some(conn) = ldap.get("conn").and_then(Value::as_u64) else { return };
        let op = ldap.get("op").and_then(Value::as_u64);
        let action = doc.get("event").and_then(|e| e.get("action")).and_then(Value::as_str).unwrap_or_default().to_owned();
        let key = (host.clone(), conn);
        match action.as_str() {
            "ldap-connection-accepted" => {
                let ip = doc.get("source").and_then(|s| s.get("ip")).and_then(Value::as_str).map(str::to_owned);
                let port = doc.get("source").and_then(|s| s.get("port")).and_then(Value::as_u64).map(|p| p as u16);
                if let Some(ip) = ip {
                    if !self.clients.contains_key(&key) {
                        self.order.push_back(key.clone());
                    }
                    self.clients.insert(key.clone(), (ip, port));
                    self.trim();
                }
                return;
            }
            "ldap-bind-request" => {
                if let (Some(op), Some(dn)) = (op, doc.get("mamori").and_then(|m| m["auth"].get("dn")).and_then(Value::as_str)) {
                    let method = doc["mamori"]["auth"].get("method").and_then(Value::as_str).map(str::to_owned);
                    self.binds.insert((host.clone(), conn, op), (dn.to_owned(), method));
                }
            }
            "ldap-bind" | "ldap-bind-failed" => {
                if let Some((dn, method)) = op.and_then(|op| self.binds.remove(&(host.clone(), conn, op))) {
                    set(doc, &["mamori", "auth", "dn"], dn.clone().into());
                    if let Some(m) = method {
                        set(doc, &["mamori", "auth", "method"], m.into());
                    }
                    if let Some(u) = dn_user(&dn) {
                        user(doc, u);
                    }
                    if action == "ldap-bind" {
                        self.bound.insert(key.clone(), dn);
                    }
                }
            }
            "ldap-connection-closed" => {
                self.bound.remove(&key);
            }
            _ => {
                // Later operations on a bound connection: who is asking.
                if let Some(dn) = self.bound.get(&key).cloned() {
                    set(doc, &["mamori", "auth", "bound_dn"], dn.clone().into());
                    if let Some(u) = dn_user(&dn) {
                        user(doc, u);
                    }
                }
            }
        }
        if let Some((ip, port)) = self.clients.get(&key).cloned()
            && doc.get("source").and_then(|s| s.get("port")).is_none()
        {
            let port = port.map(|p| p.to_string());
            source(doc, &ip, port.as_deref());
        }
        if action == "ldap-connection-closed" && doc.get("mamori").and_then(|m| m["auth"]["ldap"].get("op")).is_none() {
            self.clients.remove(&key);
        }
    }

    fn trim(&mut self) {
        while self.order.len() > Self::MAX_CONNS {
            if let Some(k) = self.order.pop_front() {
                self.clients.remove(&k);
                self.bound.remove(&k);
                self.binds.retain(|(h, c, _), _| !(h == &k.0 && *c == k.1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(app: &str, msg: &str) -> Map<String, Value> {
        let mut d = Map::new();
        set(&mut d, &["process", "name"], app.into());
        set(&mut d, &["message"], msg.into());
        enrich_syslog_doc(&mut d);
        d
    }

    #[test]
    fn sshd_shapes() {
        let d = doc("sshd", "Failed password for invalid user oracle from 198.51.100.23 port 51240 ssh2");
        assert_eq!(d["event"]["outcome"], "failure");
        assert_eq!(d["user"]["name"], "oracle");
        assert_eq!(d["source"]["port"], 51240);
        let d = doc("sshd", "Disconnected from user tanaka 127.0.0.1 port 40000");
        assert_eq!(d["event"]["action"], "ssh-disconnected");
        assert_eq!(d["user"]["name"], "tanaka");
        let d = doc("sshd", "something new");
        assert_eq!(d["mamori"]["auth"]["unparsed"], true);
    }

    #[test]
    fn sudo_refused() {
        let d = doc("sudo", "  tanaka : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/tanaka ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow");
        assert_eq!(d["event"]["outcome"], "failure");
        assert_eq!(d["event"]["reason"], "3 incorrect password attempts");
        assert_eq!(d["user"]["target"]["name"], "root");
        assert_eq!(d["process"]["args"], json!(["/usr/bin/cat", "/etc/shadow"]));
    }

    #[test]
    fn slapd_bind_result_correlated() {
        let mut c = SlapdCorrelator::default();
        let mut lines = vec![
            doc("slapd", "conn=1000 fd=12 ACCEPT from IP=10.1.2.3:45678 (IP=0.0.0.0:389)"),
            doc("slapd", "conn=1000 op=0 BIND dn=\"uid=tanaka,ou=people,dc=city\" method=128"),
            doc("slapd", "conn=1000 op=0 RESULT tag=97 err=49 qtime=0.000008 etime=0.000100 text="),
        ];
        for d in &mut lines {
            c.observe(d);
        }
        let r = &lines[2];
        assert_eq!(r["event"]["action"], "ldap-bind-failed");
        assert_eq!(r["user"]["name"], "tanaka");
        assert_eq!(r["source"]["ip"], "10.1.2.3");
        assert_eq!(r["mamori"]["auth"]["ldap"]["result"], "invalidCredentials");
    }
}
