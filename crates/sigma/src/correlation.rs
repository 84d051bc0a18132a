//! Sigma correlation rules over a stream of rule matches.
//!
//! Windows are sliding (`timespan` back from the newest event of a group) over absolute UTC
//! times, so a window may cross midnight, a month or a year. A correlation fires once when
//! its condition becomes true for a group, and that group's window then starts afresh (so one
//! burst gives one hit, not one per further event). Conditions with only an upper bound
//! (`lt`/`lte`) can only be decided when a window closes: they are checked when a group's
//! window has passed (on a later event of the group) and at [`Correlator::flush`].
//! Events may arrive slightly out of order (they are kept sorted per group); for a retro-hunt
//! over many files, feed the matches in time order.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use rsigma_parser::{ConditionOperator, CorrelationCondition, CorrelationType};
use serde::Serialize;

use crate::event::{Event, Interner};
use crate::Rule;

/// What a correlation counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum CorrelationKind {
    /// Number of matching events.
    EventCount,
    /// Number of distinct values of a field.
    ValueCount {
        /// The field.
        field: String,
    },
    /// Sum of a numeric field.
    ValueSum {
        /// The field.
        field: String,
    },
    /// Average of a numeric field.
    ValueAvg {
        /// The field.
        field: String,
    },
    /// All (or the condition's number of) the referenced rules matched in the window.
    Temporal,
    /// The referenced rules matched in the order given, within the window.
    TemporalOrdered,
}

/// A compiled correlation rule.
#[derive(Debug, Clone, Serialize)]
pub struct CorrelationRule {
    /// `id`.
    pub id: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `level`.
    pub level: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// The file it came from.
    pub file: String,
    /// What it counts.
    pub kind: CorrelationKind,
    /// The referenced detection rules (indices into [`crate::RuleSet::rules`]), in order.
    pub rules: Vec<usize>,
    /// `group-by` field names (after aliases).
    pub group_by: Vec<String>,
    /// `timespan` in seconds.
    pub timespan_secs: u64,
    /// The condition: every predicate must hold.
    pub predicates: Vec<(Op, f64)>,
    /// `generate`: whether the referenced rules' own matches are meant to be reported too.
    pub generate: bool,
    /// `aliases`: alias → (rule index → that rule's field).
    aliases: HashMap<String, HashMap<usize, String>>,
}

/// A comparison in a correlation condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// `lt`
    Lt,
    /// `lte`
    Lte,
    /// `gt`
    Gt,
    /// `gte`
    Gte,
    /// `eq`
    Eq,
    /// `neq`
    Neq,
}

impl Op {
    fn holds(self, v: f64, x: f64) -> bool {
        match self {
            Op::Lt => v < x,
            Op::Lte => v <= x,
            Op::Gt => v > x,
            Op::Gte => v >= x,
            Op::Eq => v == x,
            Op::Neq => v != x,
        }
    }
}

/// One correlation that fired.
#[derive(Debug, Clone, Serialize)]
pub struct CorrelationHit {
    /// Index into [`crate::RuleSet::correlations`].
    pub correlation: usize,
    /// The correlation's id.
    pub id: Option<String>,
    /// The correlation's title.
    pub title: String,
    /// The correlation's level.
    pub level: Option<String>,
    /// The group: (group-by field, value).
    pub group: Vec<(String, String)>,
    /// Time of the first event in the window.
    pub first: DateTime<Utc>,
    /// Time of the event that made it fire (or the window's last event).
    pub last: DateTime<Utc>,
    /// The counted value (events, distinct values, sum, average, or rules seen).
    pub value: f64,
    /// How many rule matches were in the window.
    pub events: usize,
}

pub(crate) fn compile(c: &rsigma_parser::CorrelationRule, file: &str, rules: &[Rule], interner: &mut Interner) -> Result<CorrelationRule, String> {
    let mut refs = Vec::new();
    for r in &c.rules {
        let i = rules
            .iter()
            .position(|x| x.id.as_deref() == Some(r) || x.name.as_deref() == Some(r))
            .ok_or_else(|| format!("references rule {r:?}, which is not loaded (or is itself a correlation: chaining is not supported)"))?;
        refs.push(i);
    }
    let (predicates, field) = match &c.condition {
        CorrelationCondition::Threshold { predicates, field, percentile } => {
            if percentile.is_some() {
                return Err("value_percentile is not supported".into());
            }
            let p = predicates
                .iter()
                .map(|(o, v)| {
                    let o = match o {
                        ConditionOperator::Lt => Op::Lt,
                        ConditionOperator::Lte => Op::Lte,
                        ConditionOperator::Gt => Op::Gt,
                        ConditionOperator::Gte => Op::Gte,
                        ConditionOperator::Eq => Op::Eq,
                        ConditionOperator::Neq => Op::Neq,
                    };
                    (o, *v as f64)
                })
                .collect::<Vec<_>>();
            (p, field.as_ref().and_then(|f| f.first().cloned()))
        }
        CorrelationCondition::Extended(e) => return Err(format!("boolean correlation condition {e} is not supported")),
    };
    let need_field = |what: &str| field.clone().ok_or_else(|| format!("{what} needs condition.field"));
    let kind = match c.correlation_type {
        CorrelationType::EventCount => CorrelationKind::EventCount,
        CorrelationType::ValueCount => CorrelationKind::ValueCount { field: need_field("value_count")? },
        CorrelationType::ValueSum => CorrelationKind::ValueSum { field: need_field("value_sum")? },
        CorrelationType::ValueAvg => CorrelationKind::ValueAvg { field: need_field("value_avg")? },
        CorrelationType::Temporal => CorrelationKind::Temporal,
        CorrelationType::TemporalOrdered => CorrelationKind::TemporalOrdered,
        other => return Err(format!("correlation type {} is not supported", other.as_str())),
    };
    // Temporal without a condition means "all referenced rules" (spec). The parser fills in
    // `gte: 1` for a missing condition, which for temporal types would mean "any one rule" —
    // not a correlation — so it is read as the spec's default.
    let default_temporal = predicates.is_empty() || predicates == [(Op::Gte, 1.0)];
    let predicates = if default_temporal && matches!(kind, CorrelationKind::Temporal | CorrelationKind::TemporalOrdered) {
        vec![(Op::Gte, refs.len() as f64)]
    } else {
        predicates
    };
    if predicates.is_empty() {
        return Err("correlation has no condition".into());
    }
    let mut aliases: HashMap<String, HashMap<usize, String>> = HashMap::new();
    for a in &c.aliases {
        let mut m = HashMap::new();
        for (rule, f) in &a.mapping {
            let i = rules.iter().position(|x| x.id.as_deref() == Some(rule) || x.name.as_deref() == Some(rule)).ok_or_else(|| format!("alias {} names rule {rule:?}, which is not loaded", a.alias))?;
            interner.intern(f);
            m.insert(i, f.clone());
        }
        aliases.insert(a.alias.clone(), m);
    }
    for g in &c.group_by {
        interner.intern(g);
    }
    if let Some(f) = &field {
        interner.intern(f);
    }
    Ok(CorrelationRule {
        id: c.id.clone(),
        name: c.name.clone(),
        title: c.title.clone(),
        level: c.level.map(|l| l.as_str().to_owned()),
        description: c.description.clone(),
        tags: c.tags.clone(),
        file: file.to_owned(),
        kind,
        rules: refs,
        group_by: c.group_by.clone(),
        timespan_secs: c.timespan.seconds,
        predicates,
        generate: c.generate,
        aliases,
    })
}

#[derive(Debug, Default)]
struct Window {
    /// (time, rule position in the correlation, value) sorted by time.
    items: VecDeque<(DateTime<Utc>, usize, String)>,
}

/// Streaming evaluator of a rule set's correlation rules.
#[derive(Debug)]
pub struct Correlator {
    rules: Vec<CorrelationRule>,
    /// rule index → correlations that reference it.
    by_rule: HashMap<usize, Vec<usize>>,
    state: HashMap<(usize, Vec<String>), Window>,
}

impl Correlator {
    /// A correlator for the correlation rules of `set`.
    pub fn new(set: &crate::RuleSet) -> Self {
        let rules = set.correlations().to_vec();
        let mut by_rule: HashMap<usize, Vec<usize>> = HashMap::new();
        for (ci, c) in rules.iter().enumerate() {
            for r in &c.rules {
                let v = by_rule.entry(*r).or_default();
                if !v.contains(&ci) {
                    v.push(ci);
                }
            }
        }
        Correlator { rules, by_rule, state: HashMap::new() }
    }

    /// Groups with an open window (for memory monitoring).
    pub fn open_groups(&self) -> usize {
        self.state.len()
    }

    /// Feeds the rule matches of one event (indices from [`crate::RuleSet::matches`]) with
    /// the event's time; returns the correlations that fired.
    pub fn feed(&mut self, rule_hits: &[usize], ts: DateTime<Utc>, ev: &Event<'_>) -> Vec<CorrelationHit> {
        let mut out = Vec::new();
        for &r in rule_hits {
            let Some(cs) = self.by_rule.get(&r) else { continue };
            for &ci in cs.clone().iter() {
                let c = &self.rules[ci];
                let field_of = |name: &str| -> String {
                    let f = c.aliases.get(name).and_then(|m| m.get(&r)).map(String::as_str).unwrap_or(name);
                    ev.field(f).into_iter().next().unwrap_or_default()
                };
                let key: Vec<String> = c.group_by.iter().map(|g| field_of(g)).collect();
                let value = match &c.kind {
                    CorrelationKind::ValueCount { field } | CorrelationKind::ValueSum { field } | CorrelationKind::ValueAvg { field } => field_of(field),
                    _ => String::new(),
                };
                let pos = c.rules.iter().position(|x| *x == r).unwrap_or(0);
                let span = chrono::Duration::seconds(c.timespan_secs as i64);
                let upper_only = c.predicates.iter().all(|(o, _)| matches!(o, Op::Lt | Op::Lte));
                let w = self.state.entry((ci, key.clone())).or_default();
                // Window passed: decide upper-bound-only conditions, then drop old items.
                if upper_only && w.items.front().is_some_and(|f| ts - f.0 > span) {
                    if let Some(h) = fire(ci, c, &key, w) {
                        out.push(h);
                    }
                    w.items.clear();
                }
                let at = w.items.partition_point(|x| x.0 <= ts);
                w.items.insert(at, (ts, pos, value));
                let newest = w.items.back().map(|x| x.0).unwrap_or(ts);
                if !upper_only {
                    while w.items.front().is_some_and(|f| newest - f.0 > span) {
                        w.items.pop_front();
                    }
                    if let Some(h) = fire(ci, c, &key, w) {
                        out.push(h);
                        w.items.clear();
                    }
                }
            }
        }
        out
    }

    /// Ends every open window (end of a retro-hunt): upper-bound-only conditions are decided.
    pub fn flush(&mut self) -> Vec<CorrelationHit> {
        let mut out = Vec::new();
        let mut keys: Vec<_> = self.state.keys().cloned().collect();
        keys.sort();
        for k in keys {
            let c = &self.rules[k.0];
            if c.predicates.iter().all(|(o, _)| matches!(o, Op::Lt | Op::Lte))
                && let Some(w) = self.state.get(&k)
                && let Some(h) = fire(k.0, c, &k.1, w)
            {
                out.push(h);
            }
        }
        self.state.clear();
        out
    }
}

fn measure(c: &CorrelationRule, w: &Window) -> Option<f64> {
    Some(match &c.kind {
        CorrelationKind::EventCount => w.items.len() as f64,
        CorrelationKind::ValueCount { .. } => {
            let mut v: Vec<&str> = w.items.iter().map(|x| x.2.as_str()).filter(|s| !s.is_empty()).collect();
            v.sort_unstable();
            v.dedup();
            v.len() as f64
        }
        CorrelationKind::ValueSum { .. } | CorrelationKind::ValueAvg { .. } => {
            let nums: Vec<f64> = w.items.iter().filter_map(|x| x.2.trim().parse::<f64>().ok()).collect();
            let sum: f64 = nums.iter().sum();
            if matches!(c.kind, CorrelationKind::ValueAvg { .. }) {
                if nums.is_empty() {
                    return None;
                }
                sum / nums.len() as f64
            } else {
                sum
            }
        }
        CorrelationKind::Temporal => {
            let mut v: Vec<usize> = w.items.iter().map(|x| x.1).collect();
            v.sort_unstable();
            v.dedup();
            v.len() as f64
        }
        CorrelationKind::TemporalOrdered => {
            // Longest prefix of the rule order seen in time order (greedy is optimal here).
            let mut next = 0;
            for x in &w.items {
                if x.1 == next {
                    next += 1;
                    if next == c.rules.len() {
                        break;
                    }
                }
            }
            next as f64
        }
    })
}

fn fire(ci: usize, c: &CorrelationRule, key: &[String], w: &Window) -> Option<CorrelationHit> {
    let first = w.items.front()?.0;
    let last = w.items.back()?.0;
    let v = measure(c, w)?;
    if !c.predicates.iter().all(|(o, x)| o.holds(v, *x)) {
        return None;
    }
    Some(CorrelationHit {
        correlation: ci,
        id: c.id.clone(),
        title: c.title.clone(),
        level: c.level.clone(),
        group: c.group_by.iter().cloned().zip(key.iter().cloned()).collect(),
        first,
        last,
        value: v,
        events: w.items.len(),
    })
}
