//! One event as the matchers see it: the fields that some rule names, each with its raw and
//! lower-cased text, taken from a raw EVTX record (`Event.System`/`EventData`/`UserData`, as
//! the `evtx` crate renders it to JSON) or from an ECS document (`winlog.*` and ECS paths).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;

use serde_json::Value;

use crate::mapping;

/// Field names that rules use, each with a small integer id.
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    pub map: HashMap<String, u32>,
    pub names: Vec<String>,
    /// Fields whose name is an ECS/JSON path (has a dot): looked up by path.
    pub dotted: Vec<(u32, Vec<String>)>,
    /// Fields with an ECS fallback path (for ECS documents).
    pub ecs: Vec<(u32, Vec<String>)>,
}

impl Interner {
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.map.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.map.insert(name.to_owned(), id);
        if name.contains('.') {
            self.dotted.push((id, name.split('.').map(str::to_owned).collect()));
        }
        if let Some((_, path)) = mapping::ECS_FIELDS.iter().find(|(s, _)| *s == name) {
            self.ecs.push((id, path.split('.').map(str::to_owned).collect()));
        }
        id
    }
}

/// A field value: the text as the event has it and lower-cased.
#[derive(Debug, Clone)]
pub(crate) struct FieldValue<'a> {
    pub raw: Cow<'a, str>,
    pub lower: Cow<'a, str>,
}

impl<'a> FieldValue<'a> {
    fn new(raw: Cow<'a, str>) -> Self {
        let lower = if raw.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
            Cow::Owned(raw.to_lowercase())
        } else {
            raw.clone()
        };
        FieldValue { raw, lower }
    }
}

/// An event prepared for matching (see [`crate::RuleSet::prepare`]).
pub struct Event<'a> {
    pub(crate) root: &'a Value,
    pub(crate) entries: Vec<(u32, FieldValue<'a>)>,
    pub(crate) channel: String,
    pub(crate) event_id: Option<u32>,
    keywords: OnceCell<Vec<String>>,
    interner: &'a Interner,
}

fn scalar(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Object(o) => o.get("#text").and_then(scalar),
        _ => None,
    }
}

/// Every text of a value: a scalar, the elements of a list, an element's `#text`.
fn texts<'v>(v: &'v Value, out: &mut dyn FnMut(Cow<'v, str>)) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
        Value::Object(o) => {
            if let Some(t) = o.get("#text") {
                texts(t, out)
            }
        }
        Value::Null => {}
        other => {
            if let Some(s) = scalar(other) {
                out(s)
            }
        }
    }
}

fn attr<'v>(v: &'v Value, k: &str) -> Option<&'v Value> {
    v.get("#attributes").and_then(|a| a.get(k))
}

/// Nested path lookup that also accepts flat dotted keys at any level.
pub(crate) fn get_path<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut cur = root;
    let mut i = 0;
    while i < path.len() {
        let o = cur.as_object()?;
        if let Some(v) = o.get(&path[i]) {
            cur = v;
            i += 1;
            continue;
        }
        // Flat key made of the remaining segments ("event.code" stored as one key).
        let mut found = None;
        for j in (i + 1..path.len()).rev() {
            let key = path[i..=j].join(".");
            if let Some(v) = o.get(&key) {
                found = Some((v, j + 1));
                break;
            }
        }
        let (v, next) = found?;
        cur = v;
        i = next;
    }
    Some(cur)
}

impl<'a> Event<'a> {
    pub(crate) fn new(root: &'a Value, interner: &'a Interner) -> Self {
        let mut ev = Event { root, entries: Vec::new(), channel: String::new(), event_id: None, keywords: OnceCell::new(), interner };
        if let Some(e) = root.get("Event").filter(|e| e.get("System").is_some()) {
            ev.fill_evtx(e);
        } else {
            ev.fill_ecs(root);
        }
        for (id, path) in &interner.dotted {
            if let Some(v) = get_path(root, path) {
                let id = *id;
                texts(v, &mut |s| ev.entries.push((id, FieldValue::new(s))));
            }
        }
        ev.entries.sort_by_key(|(id, _)| *id);
        ev
    }

    fn push(&mut self, name: &str, v: &'a Value) {
        let id = match self.interner.map.get(name) {
            Some(&id) => id,
            // Defender and a few other providers name data with spaces ("Threat Name");
            // Sigma rules use the name without them (ThreatName), as Hayabusa does.
            None if name.contains(' ') => match self.interner.map.get(&name.replace(' ', "")) {
                Some(&id) => id,
                None => return,
            },
            None => return,
        };
        let entries = &mut self.entries;
        texts(v, &mut |s| entries.push((id, FieldValue::new(s))));
    }

    fn push_str(&mut self, name: &str, s: Cow<'a, str>) {
        if let Some(&id) = self.interner.map.get(name) {
            self.entries.push((id, FieldValue::new(s)));
        }
    }

    /// Event data (or user data) children, with the Sysmon-name aliases of this event kind.
    fn push_data(&mut self, data: &'a Value, aliases: &[(&str, &str)]) {
        let Some(o) = data.as_object() else {
            if let Some(s) = scalar(data) {
                self.push_str("Data", s);
            }
            return;
        };
        for (k, v) in o {
            if k.starts_with('#') {
                continue;
            }
            if v.is_object() && v.get("#text").is_none() {
                // UserData's nested element(s): flatten leaves by their own names.
                self.push_data(v, aliases);
                continue;
            }
            self.push(k, v);
            for (sigma, src) in aliases {
                if src == k && sigma != k {
                    if *sigma == "IntegrityLevel" {
                        if let Some(s) = scalar(v) {
                            let name = integrity_name(&s);
                            self.push_str(sigma, name.map(Cow::Borrowed).unwrap_or(s));
                        }
                    } else {
                        self.push(sigma, v);
                    }
                }
            }
        }
    }

    fn fill_evtx(&mut self, e: &'a Value) {
        let sys = &e["System"];
        self.channel = sys.get("Channel").and_then(scalar).map(|c| c.to_lowercase()).unwrap_or_default();
        self.event_id = sys.get("EventID").and_then(scalar).and_then(|s| s.trim().parse().ok());
        if let Some(o) = sys.as_object() {
            for (k, v) in o {
                match k.as_str() {
                    "Provider" => {
                        if let Some(n) = attr(v, "Name") {
                            self.push("Provider_Name", n);
                        }
                        if let Some(n) = attr(v, "Guid") {
                            self.push("Provider_Guid", n);
                        }
                        if let Some(n) = attr(v, "EventSourceName") {
                            self.push("EventSourceName", n);
                        }
                    }
                    "TimeCreated" => {
                        if let Some(n) = attr(v, "SystemTime") {
                            self.push("TimeCreated", n);
                        }
                    }
                    "Security" => {
                        if let Some(n) = attr(v, "UserID") {
                            self.push("UserID", n);
                        }
                    }
                    "Execution" | "Correlation" => {}
                    _ => self.push(k, v),
                }
            }
        }
        let aliases = mapping::event_aliases(&self.channel, self.event_id.unwrap_or(0));
        if let Some(d) = e.get("EventData") {
            self.push_data(d, aliases);
        }
        if let Some(d) = e.get("UserData") {
            self.push_data(d, aliases);
        }
    }

    fn fill_ecs(&mut self, root: &'a Value) {
        let w = root.get("winlog");
        if let Some(w) = w {
            self.channel = w.get("channel").and_then(scalar).map(|c| c.to_lowercase()).unwrap_or_default();
            self.event_id = w.get("event_id").and_then(scalar).and_then(|s| s.trim().parse().ok());
            for (sigma, k) in [
                ("Channel", "channel"),
                ("EventID", "event_id"),
                ("Provider_Name", "provider_name"),
                ("Computer", "computer_name"),
                ("EventRecordID", "record_id"),
                ("Task", "task"),
                ("Opcode", "opcode"),
            ] {
                if let Some(v) = w.get(k) {
                    self.push(sigma, v);
                }
            }
            let aliases = mapping::event_aliases(&self.channel, self.event_id.unwrap_or(0));
            if let Some(d) = w.get("event_data") {
                self.push_data(d, aliases);
            }
            if let Some(d) = w.get("user_data") {
                self.push_data(d, aliases);
            }
        }
        // ECS fallbacks for fields the Windows part did not give.
        let interner = self.interner;
        for (id, path) in &interner.ecs {
            if self.entries.iter().any(|(i, _)| i == id) {
                continue;
            }
            // EventID/Channel/Provider_Name come from winlog only.
            if w.is_none() && path[0] == "winlog" {
                continue;
            }
            if let Some(v) = get_path(root, path) {
                let id = *id;
                texts(v, &mut |s| self.entries.push((id, FieldValue::new(s))));
            }
        }
    }

    /// Values of one interned field.
    pub(crate) fn values(&self, id: u32) -> &[(u32, FieldValue<'a>)] {
        let start = self.entries.partition_point(|(i, _)| *i < id);
        let end = start + self.entries[start..].iter().take_while(|(i, _)| *i == id).count();
        &self.entries[start..end]
    }

    /// Every text of the event, lower-cased (for keyword rules).
    pub(crate) fn keywords(&self) -> &[String] {
        self.keywords.get_or_init(|| {
            let mut out = Vec::new();
            fn walk(v: &Value, out: &mut Vec<String>) {
                match v {
                    Value::Object(o) => o.values().for_each(|x| walk(x, out)),
                    Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                    Value::String(s) => out.push(s.to_lowercase()),
                    Value::Number(n) => out.push(n.to_string()),
                    _ => {}
                }
            }
            let base = self.root.get("Event").unwrap_or(self.root);
            walk(base, &mut out);
            out
        })
    }

    /// The event's channel, lower-cased (empty when it has none).
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The Windows event ID, when the event has one.
    pub fn event_id(&self) -> Option<u32> {
        self.event_id
    }

    /// The text values of a Sigma field (by Sigma name, or an ECS/JSON path), as the event
    /// has them; empty when the event lacks it. Works for any field, not only those rules use.
    pub fn field(&self, name: &str) -> Vec<String> {
        if let Some(&id) = self.interner.map.get(name) {
            let v = self.values(id);
            if !v.is_empty() {
                return v.iter().map(|(_, f)| f.raw.to_string()).collect();
            }
        }
        // Not interned: look it up the slow way.
        let mut tmp = Interner::default();
        tmp.intern(name);
        let ev = Event::new(self.root, &tmp);
        ev.entries.into_iter().map(|(_, f)| f.raw.into_owned()).collect()
    }
}

/// Sysmon's names for Security 4688's mandatory label SIDs.
fn integrity_name(sid: &str) -> Option<&'static str> {
    Some(match sid.to_ascii_uppercase().as_str() {
        "S-1-16-0" => "Untrusted",
        "S-1-16-4096" => "Low",
        "S-1-16-8192" => "Medium",
        "S-1-16-8448" => "Medium",
        "S-1-16-12288" => "High",
        "S-1-16-16384" => "System",
        _ => return None,
    })
}
