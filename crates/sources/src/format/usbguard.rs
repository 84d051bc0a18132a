//! USBGuard's audit log (`AuditBackend=FileAudit`, `/var/log/usbguard/usbguard-audit.log`) and
//! `usbguard watch` output to ECS host events with `mamori.usb.*`.
//!
//! Audit lines are written by `FileAuditBackend::write` through the logger's `AuditFileSink`
//! (USBGuard 1.1, src/Daemon/FileAuditBackend.cpp, src/Library/public/usbguard/Logger.cpp):
//!
//! ```text
//! [1700000000.123] (A) uid=0 pid=812 device.rule='allow id 0781:5567 serial "4C53…" name "Cruzer Blade" hash "…" parent-hash "…" via-port "1-1" with-interface 08:06:50 with-connect-type "hotplug"' device.system_name='/devices/pci0000:00/0000:00:14.0/usb1/1-1' result='SUCCESS' target.new='allow' target.old='block' type='Policy.Device.Update'
//! ```
//!
//! (keys in `std::map` order, values in single quotes without escaping). `type` is
//! `Device.{Present,Insert,Update,Remove}` (the device manager saw it) or
//! `Policy.Device.{Insert,Update,Remove}` (the policy decided `target`, `target.old` →
//! `target.new`). `usbguard watch` prints blocks:
//!
//! ```text
//! [device] PresenceChanged: id=5
//!  event=Insert
//!  target=block
//!  device_rule=block id 0781:5567 serial "…" name "…" … via-port "1-1" …
//! ```
//!
//! Fields set: `@timestamp` (the audit stamp), `event.{kind,module,dataset,category,type,
//! action,outcome}`, `user.id`, `process.pid` (who caused it), `mamori.usb.{vendor_id,
//! product_id,serial,product,via_port,interfaces,connect_type,hash,parent_hash,
//! system_name,target,target_old,allowed,blocked,device_id}`.

use serde_json::{Map, Value, json};

use super::syslog::set;

/// A line that is neither an audit line nor part of a `watch` block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("USBGuard 行 {line} (offset {offset}) を解析できません / cannot parse USBGuard line: {what}; hint: expected \"[<secs>.<ms>] (A) uid=… pid=… key='value'…\" (usbguard-audit.log) or a \"usbguard watch\" block")]
pub struct UsbguardError {
    /// 1-based line.
    pub line: usize,
    /// Byte offset of the line.
    pub offset: u64,
    /// What is wrong.
    pub what: String,
    /// The line's bytes (or the block's).
    pub raw: Vec<u8>,
}

/// One parsed event.
#[derive(Debug, Clone)]
pub struct UsbguardEvent {
    /// The ECS document.
    pub doc: Map<String, Value>,
    /// Its (first) line.
    pub line: usize,
    /// Byte offset of that line.
    pub offset: u64,
    /// The line(s) as read.
    pub raw: String,
}

/// Undoes USBGuard's rule-string escapes (`\"`, `\\`, `\xHH`, `\n`, `\t`).
fn unescape(s: &str) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'x' if i + 4 <= b.len() => {
                    if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 2..i + 4]).unwrap_or("zz"), 16) {
                        out.push(v);
                        i += 4;
                        continue;
                    }
                    out.push(b'\\');
                    i += 1;
                    continue;
                }
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'a' => out.push(7),
                c => out.push(c),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The attributes of a USBGuard device rule (`allow id 0781:5567 serial "…" …`).
pub fn parse_rule(rule: &str) -> Map<String, Value> {
    let mut m = Map::new();
    let mut toks: Vec<String> = Vec::new();
    let b = rule.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'"' {
            let s = i + 1;
            let mut j = s;
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            toks.push(format!("\"{}", unescape(&rule[s..j.min(b.len())])));
            i = j + 1;
        } else {
            let s = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            toks.push(rule[s..i].to_owned());
        }
    }
    let mut it = toks.into_iter().peekable();
    if let Some(t) = it.next() {
        m.insert("target".into(), t.into());
    }
    let val = |t: String| t.strip_prefix('"').map(str::to_owned).unwrap_or(t);
    while let Some(k) = it.next() {
        // Sets: `with-interface { 08:06:50 08:06:62 }` or `one-of { … }`.
        let mut v: Vec<String> = Vec::new();
        match it.peek().map(String::as_str) {
            Some("{") | Some("one-of") | Some("all-of") | Some("equals") | Some("none-of") | Some("match-all") => {
                for t in it.by_ref() {
                    if t == "}" {
                        break;
                    }
                    if t != "{" && !matches!(t.as_str(), "one-of" | "all-of" | "equals" | "none-of" | "match-all") {
                        v.push(val(t));
                    }
                }
            }
            Some(_) => v.push(val(it.next().expect("peeked"))),
            None => {}
        }
        match k.as_str() {
            "id" => {
                if let Some((vid, pid)) = v.first().and_then(|s| s.split_once(':')) {
                    m.insert("vendor_id".into(), vid.to_ascii_lowercase().into());
                    m.insert("product_id".into(), pid.to_ascii_lowercase().into());
                }
            }
            "serial" => {
                m.insert("serial".into(), v.first().cloned().unwrap_or_default().into());
            }
            "name" => {
                m.insert("product".into(), v.first().cloned().unwrap_or_default().into());
            }
            "hash" => {
                m.insert("hash".into(), v.first().cloned().unwrap_or_default().into());
            }
            "parent-hash" => {
                m.insert("parent_hash".into(), v.first().cloned().unwrap_or_default().into());
            }
            "via-port" => {
                m.insert("via_port".into(), v.first().cloned().unwrap_or_default().into());
            }
            "with-interface" => {
                m.insert("interfaces".into(), Value::Array(v.into_iter().map(Value::String).collect()));
            }
            "with-connect-type" => {
                m.insert("connect_type".into(), v.first().cloned().unwrap_or_default().into());
            }
            "label" => {
                m.insert("label".into(), v.first().cloned().unwrap_or_default().into());
            }
            _ => {}
        }
    }
    m
}

/// USB mass storage interface class (08:*:*).
fn is_mass_storage(usb: &Map<String, Value>) -> bool {
    usb.get("interfaces").and_then(Value::as_array).is_some_and(|a| a.iter().any(|i| i.as_str().is_some_and(|s| s.starts_with("08:"))))
}

fn finish(doc: &mut Map<String, Value>, kind: &str, event: &str, target: Option<&str>, target_old: Option<&str>, rule: Option<&str>) {
    set(doc, &["event", "kind"], "event".into());
    set(doc, &["event", "module"], "usbguard".into());
    set(doc, &["event", "dataset"], "usbguard.audit".into());
    let mut usb = rule.map(parse_rule).unwrap_or_default();
    if let Some(r) = rule {
        usb.insert("device_rule".into(), r.into());
    }
    // The rule's own target is the state at the time of the event; an explicit target wins.
    let target = target.map(str::to_owned).or_else(|| usb.get("target").and_then(Value::as_str).map(str::to_owned));
    if let Some(t) = &target {
        usb.insert("target".into(), t.clone().into());
        usb.insert("allowed".into(), (t == "allow").into());
        usb.insert("blocked".into(), (t != "allow").into());
    }
    if let Some(o) = target_old {
        usb.insert("target_old".into(), o.into());
    }
    if is_mass_storage(&usb) {
        usb.insert("mass_storage".into(), true.into());
    }
    let (action, ty) = match (kind, event) {
        ("Device", "Insert") => ("usb-device-connected", "start"),
        ("Device", "Present") => ("usb-device-present", "info"),
        ("Device", "Remove") => ("usb-device-disconnected", "end"),
        ("Device", _) => ("usb-device-changed", "change"),
        (_, _) => match target.as_deref() {
            Some("allow") => ("usb-device-allowed", "allowed"),
            Some("reject") => ("usb-device-rejected", "denied"),
            Some(_) => ("usb-device-blocked", "denied"),
            None => ("usb-policy-changed", "change"),
        },
    };
    set(doc, &["event", "action"], action.into());
    set(doc, &["event", "category"], json!(["host"]));
    set(doc, &["event", "type"], json!([ty]));
    let summary = format!(
        "usbguard {kind}.{event} {action} {}:{} serial={} name={}",
        usb.get("vendor_id").and_then(Value::as_str).unwrap_or("?"),
        usb.get("product_id").and_then(Value::as_str).unwrap_or("?"),
        usb.get("serial").and_then(Value::as_str).unwrap_or(""),
        usb.get("product").and_then(Value::as_str).unwrap_or("")
    );
    set(doc, &["message"], summary.into());
    set(doc, &["mamori", "usb"], Value::Object(usb));
}

/// `k='v' k2='v 2'` (FileAuditBackend's format) and leading `uid=0 pid=1`.
fn audit_kv(s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let k = rest[..eq].trim();
        let after = &rest[eq + 1..];
        let (v, r) = if let Some(q) = after.strip_prefix('\'') {
            // Values are not escaped; a value ends at "' " followed by the next key or at the
            // final "'".
            let mut end = None;
            let mut from = 0;
            while let Some(p) = q[from..].find('\'') {
                let at = from + p;
                let tail = &q[at + 1..];
                if tail.trim().is_empty() || (tail.starts_with(' ') && tail.trim_start().split(['=', ' ']).next().is_some_and(|nk| !nk.is_empty() && tail.trim_start()[nk.len()..].starts_with("='"))) {
                    end = Some(at);
                    break;
                }
                from = at + 1;
            }
            let e = end.unwrap_or(q.len());
            (&q[..e], q.get(e + 1..).unwrap_or(""))
        } else {
            let e = after.find(' ').unwrap_or(after.len());
            (&after[..e], &after[e..])
        };
        out.push((k, v));
        rest = r.trim_start();
    }
    out
}

/// Parses one `usbguard-audit.log` line.
pub fn parse_audit_line(line: &str, line_no: usize, offset: u64) -> Result<UsbguardEvent, UsbguardError> {
    let err = |what: &str| UsbguardError { line: line_no, offset, what: what.into(), raw: line.as_bytes().to_vec() };
    let l = line.trim_end_matches('\r');
    let r = l.strip_prefix('[').ok_or_else(|| err("no \"[<secs>.<ms>]\" time stamp at the start"))?;
    let (ts, r) = r.split_once("] ").ok_or_else(|| err("time stamp not closed by \"] \""))?;
    let (secs, ms) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.trim().parse().map_err(|_| err("time stamp seconds are not a number"))?;
    let ms: u32 = ms.parse().map_err(|_| err("time stamp milliseconds are not a number"))?;
    let r = r.strip_prefix("(A) ").ok_or_else(|| err("not an audit line (level \"(A)\" missing)"))?;
    let kv = audit_kv(r);
    let get = |k: &str| kv.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    let ty = get("type").ok_or_else(|| err("no type='…'"))?;
    let mut doc = Map::new();
    let t = chrono::DateTime::from_timestamp(secs, ms.min(999) * 1_000_000).ok_or_else(|| err("time stamp out of range"))?;
    set(&mut doc, &["@timestamp"], mamori_event::format_ts(t).into());
    let (kind, event) = match ty.strip_prefix("Policy.Device.") {
        Some(e) => ("Policy.Device", e),
        None => ty.split_once('.').unwrap_or((ty, "")),
    };
    let rule = get("device.rule").or(get("device.rule.new"));
    let target = get("target.new").or(get("target"));
    finish(&mut doc, kind, event, target, get("target.old"), rule);
    if let Some(s) = get("device.system_name") {
        set(&mut doc, &["mamori", "usb", "system_name"], s.into());
    }
    if let Some(u) = get("uid") {
        set(&mut doc, &["user", "id"], u.into());
    }
    if let Some(p) = get("pid").and_then(|p| p.parse::<u64>().ok()) {
        set(&mut doc, &["process", "pid"], p.into());
    }
    match get("result") {
        Some("SUCCESS") => set(&mut doc, &["event", "outcome"], "success".into()),
        Some(_) => set(&mut doc, &["event", "outcome"], "failure".into()),
        None => {}
    }
    set(&mut doc, &["mamori", "usb", "event_type"], ty.into());
    set(&mut doc, &["event", "original"], l.into());
    Ok(UsbguardEvent { doc, line: line_no, offset, raw: l.to_owned() })
}

/// Parses a whole input: audit lines, and/or `usbguard watch` blocks.
pub fn parse_usbguard(body: &[u8]) -> Vec<Result<UsbguardEvent, UsbguardError>> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    let mut block: Option<(usize, u64, Vec<&str>)> = None;
    let flush = |block: &mut Option<(usize, u64, Vec<&str>)>, out: &mut Vec<Result<UsbguardEvent, UsbguardError>>| {
        if let Some((line, offset, lines)) = block.take() {
            out.push(watch_block(&lines, line, offset));
        }
    };
    let mut offset = 0u64;
    for (i, line) in text.split('\n').enumerate() {
        let here = offset;
        offset += line.len() as u64 + 1;
        let l = line.trim_end_matches('\r');
        if l.trim().is_empty() {
            continue;
        }
        if l.starts_with(' ')
            && let Some(b) = block.as_mut()
        {
            b.2.push(l);
            continue;
        }
        flush(&mut block, &mut out);
        if l.starts_with("[device] ") {
            block = Some((i + 1, here, vec![l]));
        } else if l.starts_with("[IPC] ") {
            // Connection notices of `usbguard watch` carry no device.
        } else {
            out.push(parse_audit_line(l, i + 1, here));
        }
    }
    flush(&mut block, &mut out);
    out
}

fn watch_block(lines: &[&str], line: usize, offset: u64) -> Result<UsbguardEvent, UsbguardError> {
    let raw = lines.join("\n");
    let err = |what: &str| UsbguardError { line, offset, what: what.into(), raw: raw.as_bytes().to_vec() };
    let head = lines[0].strip_prefix("[device] ").expect("checked");
    let (signal, id) = head.split_once(": id=").ok_or_else(|| err("watch block header without \": id=\""))?;
    let mut kv = Vec::new();
    for l in &lines[1..] {
        if let Some((k, v)) = l.trim_start().split_once('=') {
            kv.push((k, v));
        }
    }
    let get = |k: &str| kv.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    let mut doc = Map::new();
    let (kind, event, target, old) = match signal {
        "PresenceChanged" => ("Device", get("event").unwrap_or(""), get("target"), None),
        "PolicyChanged" => ("Policy.Device", "Update", get("target_new"), get("target_old")),
        // USBGuard 1.1 also signals each applied decision (IPCSignalWatcher::DevicePolicyApplied:
        // target_new, device_rule, rule_id) — seen in the real daemon's `usbguard watch`.
        "PolicyApplied" => ("Policy.Device", "Applied", get("target_new"), None),
        _ => return Err(err("unknown watch signal")),
    };
    finish(&mut doc, kind, event, target, old, get("device_rule"));
    set(&mut doc, &["event", "dataset"], "usbguard.watch".into());
    set(&mut doc, &["mamori", "usb", "device_id"], id.trim().into());
    if let Some(r) = get("rule_id") {
        set(&mut doc, &["mamori", "usb", "rule_id"], r.into());
    }
    set(&mut doc, &["event", "original"], raw.clone().into());
    Ok(UsbguardEvent { doc, line, offset, raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_attributes() {
        let m = parse_rule(r#"allow id 0781:5567 serial "4C53\"01" name "Cruzer \xe6\x97\xa5" via-port "1-1" with-interface { 08:06:50 08:06:62 } with-connect-type "hotplug""#);
        assert_eq!(m["vendor_id"], "0781");
        assert_eq!(m["serial"], "4C53\"01");
        assert_eq!(m["product"], "Cruzer 日");
        assert_eq!(m["interfaces"], json!(["08:06:50", "08:06:62"]));
        assert_eq!(m["via_port"], "1-1");
    }

    /// `usbguard watch` of the real usbguard-daemon 1.1.2 (run on a umockdev device tree, see
    /// crates/mamori/tests/usbguard_daemon.rs) after `usbguard allow-device 6`: the
    /// PolicyApplied block that follows PolicyChanged was an "unknown watch signal" error.
    #[test]
    fn real_usbguard_watch_policy_applied_block_is_an_event() {
        let watch = "[IPC] Connected\n\
[device] PolicyChanged: id=6\n target_old=block\n target_new=allow\n device_rule=allow id 047d:2048 serial \"\" name \"Kensington Eagle Trackball\" hash \"D3deklX12Ir3kJPfUZ5AQNwHeZn1bwtPkQkw6e+8B38=\" parent-hash \"2y2qS3rcuMr1Ye5knWsbD8CGzPtrs+eiRR/haro7+Ng=\" via-port \"1-4.2\" with-interface 03:01:02 with-connect-type \"\"\n rule_id=4294967295\n\
[device] PolicyApplied: id=6\n target_new=allow\n device_rule=allow id 047d:2048 serial \"\" name \"Kensington Eagle Trackball\" hash \"D3deklX12Ir3kJPfUZ5AQNwHeZn1bwtPkQkw6e+8B38=\" parent-hash \"2y2qS3rcuMr1Ye5knWsbD8CGzPtrs+eiRR/haro7+Ng=\" via-port \"1-4.2\" with-interface 03:01:02 with-connect-type \"\"\n rule_id=4294967295\n";
        let out = parse_usbguard(watch.as_bytes());
        assert_eq!(out.len(), 2);
        for r in &out {
            let ev = r.as_ref().expect("both blocks are events");
            assert_eq!(ev.doc["event"]["action"], "usb-device-allowed");
            assert_eq!(ev.doc["mamori"]["usb"]["vendor_id"], "047d");
            assert_eq!(ev.doc["mamori"]["usb"]["via_port"], "1-4.2");
        }
        assert_eq!(out[1].as_ref().unwrap().line, 7);
    }

    #[test]
    fn audit_values_may_hold_quotes_and_spaces() {
        let kv = audit_kv("uid=0 pid=5 device.rule='block id 1:2 name \"it's x\"' result='SUCCESS' type='Device.Insert'");
        assert_eq!(kv[2], ("device.rule", "block id 1:2 name \"it's x\""));
        assert_eq!(kv[4], ("type", "Device.Insert"));
    }
}
