//! The engine: the rule pack over a stream of ledger records, in ledger order.
//!
//! Admin records update the context the rules consult (roster imports, USB registry changes,
//! the detection policy) at their place in the ledger, so replaying the same ledger gives the
//! same findings: alert creation is derived, never stored as a decision.

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::alert::Finding;
use crate::context::{Context, DirectoryContext, Policy, Subject};
use crate::event::{Event, Paths};
use crate::rules::{self, Rule, RuleMeta};

/// `event.action` of the admin entry that changes the detection policy; the TOML text is
/// under `mamori.detection_policy.toml`.
pub const POLICY_ACTION: &str = "detection-policy-changed";

/// The rule pack and its context.
pub struct Engine {
    ctx: DirectoryContext,
    rules: Vec<Box<dyn Rule>>,
    admin_errors: Vec<(u64, String)>,
    /// Who an account was on a day: most rules ask for every event, and the answer changes
    /// only with an admin record (the cache is cleared then).
    subjects: RefCell<HashMap<(String, NaiveDate), Subject>>,
}

/// Entries kept in the subject cache before it is cleared.
const SUBJECT_CACHE: usize = 200_000;

/// The context with the subject cache in front.
struct Cached<'a> {
    ctx: &'a DirectoryContext,
    subjects: &'a RefCell<HashMap<(String, NaiveDate), Subject>>,
    /// The last answer: every rule asks about the same account for one event, and this spares
    /// the key's allocation and hash for all but the first.
    last: RefCell<Option<(String, NaiveDate, Subject)>>,
}

impl Cached<'_> {
    fn subject_cached(&self, account: &str, date: NaiveDate) -> Subject {
        let key = (account.to_owned(), date);
        if let Some(s) = self.subjects.borrow().get(&key) {
            return s.clone();
        }
        let s = self.ctx.subject(account, date);
        let mut c = self.subjects.borrow_mut();
        if c.len() >= SUBJECT_CACHE {
            c.clear();
        }
        c.insert(key, s.clone());
        s
    }
}

impl Context for Cached<'_> {
    fn policy(&self) -> &Policy {
        self.ctx.policy()
    }
    fn calendar(&self) -> &crate::calendar::Calendar {
        self.ctx.calendar()
    }
    fn subject(&self, account: &str, date: NaiveDate) -> Subject {
        if let Some((a, d, s)) = &*self.last.borrow()
            && a == account
            && *d == date
        {
            return s.clone();
        }
        let s = self.subject_cached(account, date);
        *self.last.borrow_mut() = Some((account.to_owned(), date, s.clone()));
        s
    }
    fn departments_before(&self, staff_id: &str, date: NaiveDate) -> Vec<(String, NaiveDate)> {
        self.ctx.departments_before(staff_id, date)
    }
    fn entitled(&self, person: &crate::context::Person, depts: &[String], resource: &str, date: NaiveDate) -> bool {
        self.ctx.entitled(person, depts, resource, date)
    }
    fn governed(&self, resource: &str) -> bool {
        self.ctx.governed(resource)
    }
    fn usb(&self, vendor: &str, product: &str, serial: &str, date: NaiveDate) -> crate::context::UsbCheck {
        self.ctx.usb(vendor, product, serial, date)
    }
    fn approved_takeout(&self, staff_id: &str, date: NaiveDate, channel: crate::context::Channel, ev: &Event<'_>) -> Option<String> {
        self.ctx.approved_takeout(staff_id, date, channel, ev)
    }
    fn home_addresses(&self, staff_id: &str) -> Vec<String> {
        self.ctx.home_addresses(staff_id)
    }
    fn is_internal_domain(&self, domain: &str) -> bool {
        self.ctx.is_internal_domain(domain)
    }
    fn account_disabled(&self, account: &str, date: NaiveDate) -> bool {
        self.ctx.account_disabled(account, date)
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(Policy::default())
    }
}

impl Engine {
    /// All municipal rules with an empty directory and this policy.
    pub fn new(policy: Policy) -> Engine {
        Engine { ctx: DirectoryContext::new(Default::default(), Default::default(), policy), rules: rules::all(), admin_errors: Vec::new(), subjects: RefCell::new(HashMap::new()) }
    }

    /// All municipal rules over a prepared context.
    pub fn with_context(ctx: DirectoryContext) -> Engine {
        Engine { ctx, rules: rules::all(), admin_errors: Vec::new(), subjects: RefCell::new(HashMap::new()) }
    }

    /// Keeps only the rules whose id `keep` accepts.
    pub fn retain_rules(&mut self, keep: impl Fn(&str) -> bool) {
        self.rules.retain(|r| keep(r.meta().id));
    }

    /// Admin records that did not apply (ledger id, why), oldest first.
    pub fn admin_errors(&self) -> &[(u64, String)] {
        &self.admin_errors
    }

    /// The context.
    pub fn context(&self) -> &DirectoryContext {
        &self.ctx
    }

    /// The context, to change (tests, retro-hunt).
    pub fn context_mut(&mut self) -> &mut DirectoryContext {
        self.subjects.borrow_mut().clear();
        &mut self.ctx
    }

    /// The rules' descriptions.
    pub fn rules(&self) -> Vec<&'static RuleMeta> {
        self.rules.iter().map(|r| r.meta()).collect()
    }

    /// Applies an admin record to the context. Records of other kinds are ignored; a record
    /// that does not apply is reported and changes nothing.
    pub fn apply_admin(&mut self, doc: &Value) -> Result<(), String> {
        self.subjects.borrow_mut().clear();
        let action = doc.pointer("/event/action").and_then(Value::as_str).unwrap_or_default();
        match action {
            "roster-imported" => {
                let Some(rec) = doc.pointer("/mamori/roster") else { return Ok(()) };
                let rec: mamori_directory::ImportRecord = serde_json::from_value(rec.clone()).map_err(|e| format!("roster record: {e}"))?;
                match self.ctx.directory.apply(&rec) {
                    Ok(_) | Err(mamori_directory::ApplyError::DuplicateImport(_)) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            }
            "usb-registry-changed" => {
                let recs: Vec<mamori_directory::UsbRecord> =
                    serde_json::from_value(doc.pointer("/mamori/usb_records").cloned().unwrap_or(Value::Array(vec![]))).map_err(|e| format!("USB records: {e}"))?;
                let mut errs = Vec::new();
                for r in &recs {
                    if let Err(e) = self.ctx.usb.apply(r) {
                        errs.push(e.en());
                    }
                }
                if errs.is_empty() { Ok(()) } else { Err(errs.join("; ")) }
            }
            _ if doc.pointer("/mamori/directory").is_some() => {
                // LDAP sync, grants, entitlements, takeout requests, vendors (mamori-directory).
                let rec: mamori_directory::DirectoryRecord =
                    serde_json::from_value(doc.pointer("/mamori/directory").cloned().unwrap_or_default()).map_err(|e| format!("directory record: {e}"))?;
                // Replay re-checks structure only: a later policy-rule change must not make old entries unreplayable.
                match self.ctx.directory.replay_record(&rec) {
                    Ok(_) | Err(mamori_directory::RecordError::Duplicate(_)) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            }
            POLICY_ACTION => {
                let text = doc.pointer("/mamori/detection_policy/toml").and_then(Value::as_str).unwrap_or_default();
                let p = Policy::from_toml(text)?;
                self.ctx.set_policy(p);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Evaluates one ledger record (`kind` is the ledger entry kind: `event`, `admin`, …).
    /// `ingested` is its acceptance time, used when the document has no usable `@timestamp`.
    pub fn process(&mut self, id: u64, kind: &str, ingested: DateTime<Utc>, doc: &Value) -> Vec<Finding> {
        let mut out = Vec::new();
        let zone = self.ctx.policy.zone();
        match kind {
            "event" => {
                let paths = Paths::of(doc);
                let ev = Event::new(id, doc, ingested, zone).with_paths(&paths);
                let ctx = Cached { ctx: &self.ctx, subjects: &self.subjects, last: RefCell::new(None) };
                for r in &mut self.rules {
                    r.eval(&ev, &ctx, &mut out);
                }
            }
            "admin" => {
                if let Err(e) = self.apply_admin(doc) {
                    self.admin_errors.push((id, e));
                }
                let ev = Event::new(id, doc, ingested, zone);
                for r in &mut self.rules {
                    r.eval_admin(&ev, &self.ctx, &mut out);
                }
            }
            _ => {}
        }
        out
    }

    /// The rules' state, for a snapshot.
    pub fn save_state(&self) -> Value {
        let mut m = Map::new();
        for r in &self.rules {
            let s = r.save();
            if !s.is_null() {
                m.insert(r.meta().id.to_owned(), s);
            }
        }
        Value::Object(m)
    }

    /// Restores a snapshot made by [`Engine::save_state`]; rules missing from it start fresh.
    pub fn load_state(&mut self, state: &Value) -> Result<(), String> {
        for r in &mut self.rules {
            let s = state.get(r.meta().id).cloned().unwrap_or(Value::Null);
            r.load(&s).map_err(|e| format!("{}: {e}", r.meta().id))?;
        }
        Ok(())
    }
}
