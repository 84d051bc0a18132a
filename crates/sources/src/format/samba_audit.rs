//! Samba `vfs_full_audit` lines (`smbd_audit: …` in syslog) to ECS file events.
//!
//! Samba's `full_audit` VFS module calls `syslog(3)` with the ident
//! `smbd_audit` and a message of the shape (source3/modules/vfs_full_audit.c,
//! `do_log`):
//!
//! ```text
//! <prefix>|<op>|<ok | fail (strerror)>|<args…>
//! ```
//!
//! where `<prefix>` is `full_audit:prefix` with its `%` variables expanded,
//! itself `|`-separated. mamori recommends `%u|%I|%m|%S|%P` (user, client
//! IP, client NetBIOS name, share name, share root path); the shorter
//! `%u|%I|%m|%S` is understood as well. Since the prefix is configurable, the
//! parser does not count fields: the op is the first field (after at least
//! one prefix field) that looks like a VFS op name and is followed by `ok` or
//! `fail…`.
//!
//! Fields set (all additive; the syslog fields, `message` and
//! `event.dataset` are left as they are):
//! `user.name` (without `DOMAIN\`), `user.domain`, `source.ip` (the SMB
//! client; the syslog peer, if any, moves to `observer.ip`),
//! `source.domain` (client NetBIOS name), `mamori.share`,
//! `mamori.samba.{op,share_path,client_name,args,open_mode,server_path}`,
//! `event.{category,type,action,outcome}`, `error.message`,
//! `file.{path,name,directory,extension}`, `mamori.file.target_path`,
//! `related.{user,ip}`.
//!
//! `file.path` is share-relative (`/住民/台帳.txt`, the share root is `/`) when
//! the share path (`%P`, fifth prefix field) is logged and the logged path is
//! below it; otherwise it is the logged path, lexically normalised (`.`/`..`
//! and repeated `/` removed) and made absolute by a leading `/`. The path as
//! logged is always kept in `mamori.samba.server_path`.
//!
//! A line that does not have the shape above is never dropped: the document
//! keeps its `message` and gets `mamori.samba.unparsed: true`.

use std::net::IpAddr;

use serde_json::{Map, Value};
use super::syslog::set;

/// syslog app-name (ident) used by `vfs_full_audit`.
pub const SAMBA_AUDIT_APPNAME: &str = "smbd_audit";

/// If `doc` is a syslog document from `smbd_audit` (by `process.name`),
/// parses its `message` as a `vfs_full_audit` line and adds the ECS fields.
/// Any other document is left untouched. Called by
/// [`parse_syslog`](crate::parse_syslog).
pub fn enrich_syslog_doc(doc: &mut Map<String, Value>) {
    let is_samba = doc
        .get("process")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        == Some(SAMBA_AUDIT_APPNAME);
    if !is_samba {
        return;
    }
    let message = doc
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    parse_samba_audit(&message, doc);
}

fn get<'a>(doc: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(doc.get(*first)?, |v, k| v.get(*k))
}

/// Looks like a VFS op name as printed by `audit_opname` (`openat`,
/// `pread_recv`, `get_nt_acl_at`, …).
fn is_op_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// `ok` → success; `fail (reason)` → failure with the reason.
fn status(s: &str) -> Option<Result<(), Option<&str>>> {
    if s == "ok" {
        return Some(Ok(()));
    }
    let rest = s.strip_prefix("fail")?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Some(Err(None));
    }
    let reason = rest.strip_prefix('(')?.strip_suffix(')')?.trim();
    Some(Err((!reason.is_empty()).then_some(reason)))
}

/// What a VFS op means: (event.action, event.type, kind of arguments).
fn classify(op: &str) -> (String, &'static [&'static str], Args) {
    let (action, types, args): (&str, &'static [&'static str], Args) = match op {
        "openat" | "open" => ("file-open", &["access"], Args::Open),
        "pread" | "pread_recv" | "read" => ("file-read", &["access"], Args::Path),
        "pread_send" => ("file-read-request", &["access"], Args::Path),
        "pwrite" | "pwrite_recv" | "write" => ("file-write", &["change"], Args::Path),
        "pwrite_send" => ("file-write-request", &["change"], Args::Path),
        "renameat" | "rename" => ("file-rename", &["change"], Args::Rename),
        "unlinkat" | "unlink" => ("file-delete", &["deletion"], Args::Path),
        "mkdirat" | "mkdir" => ("directory-create", &["creation"], Args::Path),
        "rmdir" => ("directory-delete", &["deletion"], Args::Path),
        "connect" => ("share-connect", &["start"], Args::Share),
        "disconnect" => ("share-disconnect", &["end"], Args::Share),
        _ => return (format!("samba-{op}"), &["info"], Args::Other),
    };
    (action.to_string(), types, args)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Args {
    /// `r|path` or `w|path`.
    Open,
    /// `path`.
    Path,
    /// `source|destination`.
    Rename,
    /// `share`.
    Share,
    /// Unknown op: arguments kept only in `mamori.samba.args`.
    Other,
}

/// Lexical normalisation: removes empty and `.` segments, resolves `..`
/// without going above the root; always absolute (`/` for the root).
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `file.path` for a logged path: share-relative if under `share_path`.
fn share_relative(logged: &str, share_path: Option<&str>) -> String {
    if let Some(root) = share_path.map(|r| r.trim_end_matches('/'))
        && !root.is_empty()
        && let Some(rest) = logged.strip_prefix(root)
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return normalise(rest);
    }
    normalise(logged)
}

fn set_file(doc: &mut Map<String, Value>, logged: &str, share_path: Option<&str>) {
    let path = share_relative(logged, share_path);
    set(doc, &["file", "path"], path.clone().into());
    set(doc, &["mamori", "samba", "server_path"], logged.into());
    if let Some((dir, name)) = path.rsplit_once('/')
        && !name.is_empty()
    {
        set(doc, &["file", "name"], name.into());
        set(
            doc,
            &["file", "directory"],
            if dir.is_empty() { "/" } else { dir }.into(),
        );
        if let Some((stem, ext)) = name.rsplit_once('.')
            && !stem.is_empty()
            && !ext.is_empty()
        {
            set(doc, &["file", "extension"], ext.into());
        }
    }
}

fn flag_unparsed(doc: &mut Map<String, Value>, reason: &str) {
    set(doc, &["mamori", "samba", "unparsed"], true.into());
    set(doc, &["mamori", "samba", "unparsed_reason"], reason.into());
}

/// Parses one `vfs_full_audit` message (the syslog MSG, without the
/// `smbd_audit:` tag) and adds its fields to `doc`. Never fails: a line
/// without the expected shape sets `mamori.samba.unparsed: true` and leaves
/// the rest of `doc` as it was.
pub fn parse_samba_audit(message: &str, doc: &mut Map<String, Value>) {
    let line = message.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    let fields: Vec<&str> = line.split('|').collect();
    // The op: first field after the prefix that is op-shaped and followed by
    // a status. At least one prefix field is required.
    let Some(op_at) = (1..fields.len().saturating_sub(1))
        .find(|&i| is_op_name(fields[i]) && status(fields[i + 1]).is_some())
    else {
        flag_unparsed(doc, "no '|<op>|ok' or '|<op>|fail (…)' field pair");
        return;
    };
    let prefix = &fields[..op_at];
    let op = fields[op_at];
    let outcome = status(fields[op_at + 1]).expect("checked above");
    let args: Vec<&str> = fields[op_at + 2..].to_vec();

    set(doc, &["mamori", "samba", "op"], op.into());
    set(
        doc,
        &["mamori", "samba", "args"],
        Value::Array(args.iter().map(|a| Value::String((*a).into())).collect()),
    );

    // Prefix: %u|%I|%m|%S[|%P]. Anything else is kept raw.
    let mut share_path = None;
    if prefix.len() == 4 || prefix.len() == 5 {
        let user = prefix[0].trim();
        let (domain, name) = match user.rsplit_once('\\') {
            Some((d, n)) => (Some(d), n),
            None => (None, user),
        };
        if !name.is_empty() {
            set(doc, &["user", "name"], name.into());
            set(doc, &["related", "user"], Value::Array(vec![name.into()]));
        }
        if let Some(d) = domain.filter(|d| !d.is_empty()) {
            set(doc, &["user", "domain"], d.into());
        }
        match prefix[1].trim().parse::<IpAddr>() {
            Ok(ip) => {
                let ip = ip.to_canonical().to_string();
                // The syslog relay's address is not the SMB client's.
                if let Some(peer) = get(doc, &["source", "ip"]).and_then(Value::as_str)
                    && peer != ip
                {
                    let peer = peer.to_owned();
                    set(doc, &["observer", "ip"], peer.into());
                }
                set(doc, &["source", "ip"], ip.clone().into());
                set(doc, &["related", "ip"], Value::Array(vec![ip.into()]));
            }
            Err(_) => set(
                doc,
                &["mamori", "samba", "client_ip_invalid"],
                prefix[1].into(),
            ),
        }
        let machine = prefix[2].trim();
        if !machine.is_empty() {
            set(doc, &["source", "domain"], machine.into());
            set(doc, &["mamori", "samba", "client_name"], machine.into());
        }
        let share = prefix[3].trim();
        if !share.is_empty() {
            set(doc, &["mamori", "share"], share.into());
        }
        if let Some(p) = prefix.get(4).map(|p| p.trim()).filter(|p| !p.is_empty()) {
            set(doc, &["mamori", "samba", "share_path"], p.into());
            share_path = Some(p);
        }
    } else {
        set(
            doc,
            &["mamori", "samba", "prefix_unrecognised"],
            true.into(),
        );
        set(
            doc,
            &["mamori", "samba", "prefix"],
            Value::Array(prefix.iter().map(|a| Value::String((*a).into())).collect()),
        );
    }

    let (action, types, kind) = classify(op);
    set(
        doc,
        &["event", "category"],
        Value::Array(vec!["file".into()]),
    );
    set(
        doc,
        &["event", "type"],
        Value::Array(types.iter().map(|t| Value::String((*t).into())).collect()),
    );
    set(doc, &["event", "action"], action.into());
    match outcome {
        Ok(()) => set(doc, &["event", "outcome"], "success".into()),
        Err(reason) => {
            set(doc, &["event", "outcome"], "failure".into());
            if let Some(r) = reason {
                set(doc, &["error", "message"], r.into());
            }
        }
    }

    match kind {
        Args::Open => {
            let (mode, path) = match args.as_slice() {
                [m @ ("r" | "w"), path, ..] => (Some(*m), Some(*path)),
                [path, ..] => (None, Some(*path)),
                [] => (None, None),
            };
            if let Some(m) = mode {
                let mode = if m == "w" { "write" } else { "read" };
                set(doc, &["mamori", "samba", "open_mode"], mode.into());
            }
            match path {
                Some(p) => set_file(doc, p, share_path),
                None => flag_unparsed(doc, "open without a path"),
            }
        }
        Args::Path => match args.first() {
            Some(p) => set_file(doc, p, share_path),
            None => flag_unparsed(doc, "operation without a path"),
        },
        Args::Rename => match args.as_slice() {
            [from, to, ..] => {
                set_file(doc, from, share_path);
                set(
                    doc,
                    &["mamori", "file", "target_path"],
                    share_relative(to, share_path).into(),
                );
            }
            [from] => {
                set_file(doc, from, share_path);
                flag_unparsed(doc, "rename without a destination");
            }
            [] => flag_unparsed(doc, "rename without paths"),
        },
        Args::Share | Args::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(line: &str) -> Map<String, Value> {
        let mut d = Map::new();
        parse_samba_audit(line, &mut d);
        d
    }

    #[test]
    fn normalise_paths() {
        assert_eq!(normalise("a//b/./c/../d"), "/a/b/d");
        assert_eq!(normalise("/../../x"), "/x");
        assert_eq!(normalise(""), "/");
        assert_eq!(share_relative("/srv/juki", Some("/srv/juki/")), "/");
        assert_eq!(
            share_relative("/srv/jukix/a", Some("/srv/juki")),
            "/srv/jukix/a"
        );
        assert_eq!(share_relative("/srv/juki/a/", Some("/srv/juki")), "/a");
    }

    #[test]
    fn status_shapes() {
        assert_eq!(status("ok"), Some(Ok(())));
        assert_eq!(
            status("fail (Permission denied)"),
            Some(Err(Some("Permission denied")))
        );
        assert_eq!(status("fail"), Some(Err(None)));
        assert_eq!(status("fail ()"), Some(Err(None)));
        assert_eq!(status("failure"), None);
        assert_eq!(status("OK"), None);
    }

    #[test]
    fn domain_user_and_mapped_ipv4() {
        let d =
            p("CITY\\tanaka.k|::ffff:10.0.0.5|PC01|juki|/srv/juki|pread_recv|ok|/srv/juki/a.csv");
        assert_eq!(d["user"], json!({"name": "tanaka.k", "domain": "CITY"}));
        assert_eq!(d["source"]["ip"], "10.0.0.5");
        assert_eq!(d["file"]["path"], "/a.csv");
        assert_eq!(d["file"]["extension"], "csv");
        assert_eq!(d["event"]["action"], "file-read");
    }

    #[test]
    fn unknown_prefix_shape_still_gives_action() {
        let d = p("tanaka|fstat|ok|/x");
        assert_eq!(d["mamori"]["samba"]["prefix_unrecognised"], true);
        assert_eq!(d["event"]["action"], "samba-fstat");
        assert!(d.get("user").is_none());
    }
}
