//! `Event::with_paths` (the per-event path index that answers lookups of absent fields) gives
//! exactly what the plain document walk gives, for present, absent, dotted-key, nested and
//! array paths.

use mamori_detect::Event;
use mamori_detect::event::{Paths, lookup};
use serde_json::{Value, json};

/// Every path the walk can resolve, plus near misses around each.
fn probes(v: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            out.push(p.clone());
            out.push(format!("{p}.missing"));
            out.push(format!("{p}x"));
            if let Some((i, _)) = p.char_indices().last() {
                out.push(p[..i].to_owned());
            }
            probes(child, &p, out);
        }
    }
}

#[test]
fn paths_index_agrees_with_the_document_walk() {
    let docs = [
        json!({"@timestamp": "2026-04-01T00:00:00Z", "user": {"name": "tanaka", "domain": "CITY"}, "event": {"action": "file-read", "type": ["access"]}, "file": {"path": "/a.csv", "hash": {"sha256": "ab"}}}),
        // Literal dotted keys at several levels (documents that were not expanded).
        json!({"user.name": "suzuki", "event": {"outcome": "failure", "x.y": {"z": 1}}, "email.attachments": [{"file.name": "a.pdf"}], "mamori": {"usb.serial": "S1", "usb": {"vendor": "v"}}}),
        // Both forms of one path: the walk's precedence must be kept.
        json!({"a.b": 1, "a": {"b": 2, "c": {"d.e": 3}}, "arr": [{"k": 1}], "n": null, "": {"": 5}}),
        json!("not an object"),
        json!({}),
    ];
    let mut checked = 0;
    for doc in &docs {
        let paths = Paths::of(doc);
        let ev = Event::new(1, doc, chrono::Utc::now(), chrono::FixedOffset::east_opt(9 * 3600).unwrap()).with_paths(&paths);
        let mut ps = Vec::new();
        probes(doc, "", &mut ps);
        ps.extend(["user.name", "email.from.address", "process.name", "a.b", "a.c.d.e", "arr.k", "x", "", "."].map(String::from));
        for p in &ps {
            assert_eq!(ev.get(p), lookup(doc, p), "{p:?} in {doc}");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
    let d = &docs[2];
    let paths = Paths::of(d);
    let ev = Event::new(1, d, chrono::Utc::now(), chrono::FixedOffset::east_opt(0).unwrap()).with_paths(&paths);
    assert_eq!(ev.get("a.b"), Some(&json!(1)), "a literal dotted key wins, as in the walk");
    assert_eq!(ev.get("a.c.d.e"), Some(&json!(3)));
    assert_eq!(ev.get("a.zz"), None);
}
