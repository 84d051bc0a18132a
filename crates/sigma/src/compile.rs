//! Detection sections compiled to matchers: values pre-transformed (base64, UTF-16, windash,
//! placeholders) and pre-lower-cased, wildcard patterns turned into prefix/suffix/substring
//! tests or anchored regexes, conditions turned into a tree over detection indices.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use memchr::memmem::Finder;
use rsigma_parser::value::{SigmaString, SpecialChar, StringPart};
use rsigma_parser::{ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SelectorPattern, SigmaValue};

use crate::event::{Event, FieldValue, Interner};

/// Why a rule cannot be compiled (reported as unsupported).
pub(crate) type Unsupported = String;

#[derive(Debug, Clone)]
enum Part {
    Lit(Vec<u8>),
    Star,
    One,
}

type Pattern = Vec<Part>;

/// A regex whose syntax is checked at load time and which is compiled on first use: most
/// rules never get past the prefilter, and compiling all of SigmaHQ's regexes up front was a
/// quarter of the load time.
#[derive(Debug)]
pub(crate) struct LazyRe {
    pattern: String,
    flags: (bool, bool, bool),
    cell: std::sync::OnceLock<Option<regex::Regex>>,
}

impl LazyRe {
    fn new(pattern: String, i: bool, m: bool, s: bool) -> Result<Self, String> {
        regex_syntax::ParserBuilder::new().case_insensitive(i).multi_line(m).dot_matches_new_line(s).build().parse(&pattern).map_err(|e| e.to_string())?;
        Ok(LazyRe { pattern, flags: (i, m, s), cell: std::sync::OnceLock::new() })
    }
    /// Whether the regex matches. A regex that passed the syntax check but cannot be
    /// compiled (only beyond the 64 MiB size limit) matches nothing.
    fn is_match(&self, s: &str) -> bool {
        self.cell
            .get_or_init(|| {
                let (i, m, d) = self.flags;
                regex::RegexBuilder::new(&self.pattern).case_insensitive(i).multi_line(m).dot_matches_new_line(d).size_limit(64 << 20).build().ok()
            })
            .as_ref()
            .is_some_and(|r| r.is_match(s))
    }
}

/// A string test on one field value.
#[derive(Debug)]
pub(crate) enum StrTest {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(Box<Finder<'static>>),
    Any,
    /// Anchored regex for patterns with inner wildcards, and its longest literal.
    Glob(LazyRe, Vec<u8>),
}

impl StrTest {
    fn test(&self, s: &str) -> bool {
        match self {
            StrTest::Exact(p) => s == p,
            StrTest::Prefix(p) => s.starts_with(p.as_str()),
            StrTest::Suffix(p) => s.ends_with(p.as_str()),
            StrTest::Contains(f) => f.find(s.as_bytes()).is_some(),
            StrTest::Any => true,
            StrTest::Glob(r, _) => r.is_match(s),
        }
    }
    /// The literal this test needs to find in the value (for the prefilter).
    pub(crate) fn literal(&self) -> Option<&[u8]> {
        match self {
            StrTest::Exact(p) | StrTest::Prefix(p) | StrTest::Suffix(p) => Some(p.as_bytes()),
            StrTest::Contains(f) => Some(f.needle()),
            StrTest::Glob(_, l) => Some(l),
            StrTest::Any => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Cmp {
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RefKind {
    Eq,
    Prefix,
    Suffix,
    Contains,
}

/// A test of one value of a detection item.
#[derive(Debug)]
pub(crate) enum ValueTest {
    Str { test: StrTest, cased: bool },
    Re(LazyRe),
    Cidr(ipnet::IpNet),
    Num(Cmp, f64),
    Neq(String),
    Null,
    Exists(bool),
    FieldRef(u32, RefKind),
}

/// `field|modifiers: values` (or a keyword list when `field` is `None`).
#[derive(Debug)]
pub(crate) struct Item {
    pub field: Option<u32>,
    pub tests: Vec<ValueTest>,
    pub all: bool,
}

/// A named detection.
#[derive(Debug)]
pub(crate) enum Det {
    /// Map: every item holds.
    Items(Vec<Item>),
    /// List of maps: one holds.
    Any(Vec<Det>),
}

/// A condition over detections.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Det(usize),
    AtLeast(usize, Vec<usize>),
}

fn num(s: &str) -> Option<f64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok().map(|v| v as f64);
    }
    t.parse().ok()
}

fn ip_of(s: &str) -> Option<IpAddr> {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = t.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    })
}

impl ValueTest {
    fn test(&self, v: &FieldValue<'_>, ev: &Event<'_>) -> bool {
        match self {
            ValueTest::Str { test, cased } => test.test(if *cased { &v.raw } else { &v.lower }),
            ValueTest::Re(r) => r.is_match(&v.raw),
            ValueTest::Cidr(net) => ip_of(&v.raw).is_some_and(|ip| net.contains(&ip)),
            ValueTest::Num(op, x) => num(&v.raw).is_some_and(|n| match op {
                Cmp::Lt => n < *x,
                Cmp::Lte => n <= *x,
                Cmp::Gt => n > *x,
                Cmp::Gte => n >= *x,
            }),
            ValueTest::Neq(s) => v.lower != s.as_str(),
            ValueTest::Null => v.raw.is_empty(),
            ValueTest::Exists(e) => *e,
            ValueTest::FieldRef(other, kind) => ev.values(*other).iter().any(|(_, o)| {
                let (a, b) = (&*v.lower, &*o.lower);
                match kind {
                    RefKind::Eq => a == b,
                    RefKind::Prefix => a.starts_with(b),
                    RefKind::Suffix => a.ends_with(b),
                    RefKind::Contains => a.contains(b),
                }
            }),
        }
    }
    /// The result for a field the event does not have.
    fn absent(&self) -> bool {
        matches!(self, ValueTest::Null | ValueTest::Exists(false))
    }
}

impl Item {
    fn test_one(&self, t: &ValueTest, ev: &Event<'_>) -> bool {
        match self.field {
            Some(id) => {
                let vals = ev.values(id);
                if vals.is_empty() {
                    return t.absent();
                }
                if let ValueTest::Exists(e) = t {
                    return *e;
                }
                vals.iter().any(|(_, v)| t.test(v, ev))
            }
            None => ev.keywords().iter().any(|k| match t {
                ValueTest::Str { test, .. } => test.test(k),
                ValueTest::Re(r) => r.is_match(k),
                _ => false,
            }),
        }
    }
    fn eval(&self, ev: &Event<'_>) -> bool {
        if self.all {
            self.tests.iter().all(|t| self.test_one(t, ev))
        } else {
            self.tests.iter().any(|t| self.test_one(t, ev))
        }
    }
}

impl Det {
    pub(crate) fn eval(&self, ev: &Event<'_>) -> bool {
        match self {
            Det::Items(items) => items.iter().all(|i| i.eval(ev)),
            Det::Any(d) => d.iter().any(|d| d.eval(ev)),
        }
    }
}

impl Cond {
    pub(crate) fn eval(&self, dets: &[Det], ev: &Event<'_>) -> bool {
        match self {
            Cond::And(c) => c.iter().all(|c| c.eval(dets, ev)),
            Cond::Or(c) => c.iter().any(|c| c.eval(dets, ev)),
            Cond::Not(c) => !c.eval(dets, ev),
            Cond::Det(i) => dets[*i].eval(ev),
            Cond::AtLeast(n, ids) => {
                let mut hit = 0;
                for i in ids {
                    if dets[*i].eval(ev) {
                        hit += 1;
                        if hit >= *n {
                            return true;
                        }
                    }
                }
                false
            }
        }
    }
}

/// Compile options shared by all rules of a set.
pub(crate) struct Ctx<'a> {
    pub interner: &'a mut Interner,
    pub placeholders: &'a HashMap<String, Vec<String>>,
}

fn sigma_pattern(s: &SigmaString) -> Pattern {
    s.parts
        .iter()
        .map(|p| match p {
            StringPart::Plain(t) => Part::Lit(t.clone().into_bytes()),
            StringPart::Special(SpecialChar::WildcardMulti) => Part::Star,
            StringPart::Special(SpecialChar::WildcardSingle) => Part::One,
        })
        .collect()
}

fn plain_bytes(p: &Pattern, what: &str) -> Result<Vec<u8>, Unsupported> {
    let mut out = Vec::new();
    for part in p {
        match part {
            Part::Lit(b) => out.extend_from_slice(b),
            _ => return Err(format!("wildcards in a value with |{what}")),
        }
    }
    Ok(out)
}

fn b64(b: &[u8]) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.encode(b).into_bytes()
}

/// pySigma's base64offset: the three encodings of the value at byte offsets 0, 1 and 2, with
/// the characters that depend on the unknown neighbouring bytes cut off.
fn b64_offsets(v: &[u8]) -> Vec<Vec<u8>> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut buf = vec![b' '; i];
            buf.extend_from_slice(v);
            let enc = b64(&buf);
            let cut_end = END[(v.len() + i) % 3];
            let end = enc.len().saturating_sub(cut_end);
            enc[START[i].min(end)..end].to_vec()
        })
        .collect()
}

fn utf16(p: &Pattern, be: bool, bom: bool) -> Pattern {
    let mut out: Pattern = Vec::new();
    if bom {
        out.push(Part::Lit(if be { vec![0xfe, 0xff] } else { vec![0xff, 0xfe] }));
    }
    for part in p {
        match part {
            Part::Lit(b) => {
                let s = String::from_utf8_lossy(b);
                let mut enc = Vec::new();
                for u in s.encode_utf16() {
                    let b = if be { u.to_be_bytes() } else { u.to_le_bytes() };
                    enc.extend_from_slice(&b);
                }
                out.push(Part::Lit(enc));
            }
            other => out.push(other.clone()),
        }
    }
    out
}

const DASHES: [&str; 5] = ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"];

/// pySigma's windash: every `-` or `/` that starts a word (`\B[-/]\b`) may be any dash.
fn windash(p: &Pattern) -> Vec<Pattern> {
    let mut outs: Vec<Pattern> = vec![Vec::new()];
    for part in p {
        let Part::Lit(b) = part else {
            outs.iter_mut().for_each(|o| o.push(part.clone()));
            continue;
        };
        let s = String::from_utf8_lossy(b).into_owned();
        let chars: Vec<char> = s.chars().collect();
        let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
        let mut variants: Vec<String> = vec![String::new()];
        for (i, c) in chars.iter().enumerate() {
            let prev = if i == 0 { None } else { chars.get(i - 1) };
            let is_dash = (*c == '-' || *c == '/') && !word(prev) && word(chars.get(i + 1));
            if is_dash && variants.len() * DASHES.len() <= 625 {
                variants = variants.iter().flat_map(|v| DASHES.iter().map(move |d| format!("{v}{d}"))).collect();
            } else {
                variants.iter_mut().for_each(|v| v.push(*c));
            }
        }
        outs = outs
            .iter()
            .flat_map(|o| {
                variants.iter().map(move |v| {
                    let mut o = o.clone();
                    o.push(Part::Lit(v.clone().into_bytes()));
                    o
                })
            })
            .collect();
    }
    outs
}

fn expand(p: &Pattern, ph: &HashMap<String, Vec<String>>) -> Result<Vec<Pattern>, Unsupported> {
    let mut outs: Vec<Pattern> = vec![Vec::new()];
    for part in p {
        let Part::Lit(b) = part else {
            outs.iter_mut().for_each(|o| o.push(part.clone()));
            continue;
        };
        let s = String::from_utf8_lossy(b).into_owned();
        // Split into text and %name% placeholders.
        let mut pieces: Vec<Vec<String>> = Vec::new();
        let mut rest = s.as_str();
        while let Some(a) = rest.find('%') {
            let Some(len) = rest[a + 1..].find('%') else { break };
            let name = &rest[a + 1..a + 1 + len];
            pieces.push(vec![rest[..a].to_owned()]);
            let vals = ph.get(name).ok_or_else(|| format!("|expand placeholder %{name}% has no value configured"))?;
            pieces.push(vals.clone());
            rest = &rest[a + len + 2..];
        }
        pieces.push(vec![rest.to_owned()]);
        let mut variants = vec![String::new()];
        for alts in pieces {
            variants = variants.iter().flat_map(|v| alts.iter().map(move |a| format!("{v}{a}"))).collect();
        }
        outs = outs
            .iter()
            .flat_map(|o| {
                variants.iter().map(move |v| {
                    let mut o = o.clone();
                    // A placeholder value may itself hold wildcards.
                    o.extend(sigma_pattern(&SigmaString::new(v)));
                    o
                })
            })
            .collect();
    }
    Ok(outs)
}

fn to_str_test(mut p: Pattern, cased: bool) -> Result<StrTest, Unsupported> {
    // Merge adjacent literals, lower-case them.
    let mut merged: Pattern = Vec::new();
    for part in p.drain(..) {
        match (merged.last_mut(), part) {
            (Some(Part::Lit(a)), Part::Lit(b)) => a.extend_from_slice(&b),
            (Some(Part::Star), Part::Star) => {}
            (_, part) => merged.push(part),
        }
    }
    let lit = |b: &[u8]| {
        let s = String::from_utf8_lossy(b).into_owned();
        if cased { s } else { s.to_lowercase() }
    };
    let lead = matches!(merged.first(), Some(Part::Star));
    let trail = merged.len() > 1 && matches!(merged.last(), Some(Part::Star));
    let core: &[Part] = &merged[lead as usize..merged.len() - trail as usize];
    let simple = core.iter().all(|p| matches!(p, Part::Lit(_)));
    if simple {
        let s = match core {
            [] => String::new(),
            [Part::Lit(b)] => lit(b),
            _ => unreachable!(),
        };
        if s.is_empty() && (lead || trail) {
            return Ok(StrTest::Any);
        }
        return Ok(match (lead, trail) {
            (false, false) => StrTest::Exact(s),
            (false, true) => StrTest::Prefix(s),
            (true, false) => StrTest::Suffix(s),
            (true, true) => StrTest::Contains(Box::new(Finder::new(s.as_bytes()).into_owned())),
        });
    }
    let mut re = String::from("(?s)^");
    let mut longest = Vec::new();
    for part in &merged {
        if let Part::Lit(b) = part
            && b.len() > longest.len()
        {
            longest = lit(b).into_bytes();
        }
    }
    for part in &merged {
        match part {
            Part::Lit(b) => re.push_str(&regex::escape(&lit(b))),
            Part::Star => re.push_str(".*"),
            Part::One => re.push('.'),
        }
    }
    re.push('$');
    LazyRe::new(re, false, false, false).map(|r| StrTest::Glob(r, longest)).map_err(|e| format!("wildcard pattern: {e}"))
}

fn value_text(v: &SigmaValue) -> Option<String> {
    match v {
        SigmaValue::String(s) => Some(s.original.clone()),
        SigmaValue::Integer(i) => Some(i.to_string()),
        SigmaValue::Float(f) => Some(f.to_string()),
        SigmaValue::Bool(b) => Some(b.to_string()),
        SigmaValue::Null => None,
    }
}

fn compile_item(item: &DetectionItem, ctx: &mut Ctx<'_>) -> Result<Item, Unsupported> {
    let mods = &item.field.modifiers;
    let has = |m: Modifier| mods.contains(&m);
    let field = item.field.name.as_deref().map(|n| ctx.interner.intern(n));
    let all = has(Modifier::All);
    let cased = has(Modifier::Cased);
    for m in mods {
        if matches!(m, Modifier::Minute | Modifier::Hour | Modifier::Day | Modifier::Week | Modifier::Month | Modifier::Year) {
            return Err(format!("timestamp-part modifier {m:?} (an rsigma extension, not in the Sigma spec)"));
        }
    }
    let mut tests = Vec::new();
    for v in &item.values {
        if has(Modifier::Exists) {
            let e = match v {
                SigmaValue::Bool(b) => *b,
                SigmaValue::String(s) if s.original.eq_ignore_ascii_case("true") => true,
                SigmaValue::String(s) if s.original.eq_ignore_ascii_case("false") => false,
                other => return Err(format!("|exists needs true or false, got {other}")),
            };
            if field.is_none() {
                return Err("|exists without a field".into());
            }
            tests.push(ValueTest::Exists(e));
            continue;
        }
        if matches!(v, SigmaValue::Null) {
            tests.push(ValueTest::Null);
            continue;
        }
        let text = value_text(v).unwrap_or_default();
        if has(Modifier::Re) {
            let r = LazyRe::new(text.clone(), has(Modifier::IgnoreCase), has(Modifier::Multiline), has(Modifier::DotAll)).map_err(|e| format!("|re {text:?}: {e}"))?;
            tests.push(ValueTest::Re(r));
            continue;
        }
        if has(Modifier::Cidr) {
            let net: ipnet::IpNet = text.trim().parse().or_else(|_| text.trim().parse::<IpAddr>().map(ipnet::IpNet::from)).map_err(|_| format!("|cidr {text:?} is not a network"))?;
            tests.push(ValueTest::Cidr(net));
            continue;
        }
        let cmp = [(Modifier::Lt, Cmp::Lt), (Modifier::Lte, Cmp::Lte), (Modifier::Gt, Cmp::Gt), (Modifier::Gte, Cmp::Gte)].into_iter().find(|(m, _)| has(*m));
        if let Some((_, op)) = cmp {
            let n = num(&text).ok_or_else(|| format!("|{op:?} needs a number, got {text:?}").to_lowercase())?;
            tests.push(ValueTest::Num(op, n));
            continue;
        }
        if has(Modifier::FieldRef) {
            let kind = if has(Modifier::Contains) {
                RefKind::Contains
            } else if has(Modifier::StartsWith) {
                RefKind::Prefix
            } else if has(Modifier::EndsWith) {
                RefKind::Suffix
            } else {
                RefKind::Eq
            };
            if field.is_none() {
                return Err("|fieldref without a field".into());
            }
            tests.push(ValueTest::FieldRef(ctx.interner.intern(&text), kind));
            continue;
        }
        if has(Modifier::Neq) {
            tests.push(ValueTest::Neq(text.to_lowercase()));
            continue;
        }
        // String pipeline: transformations in modifier order, then the match kind.
        let base = match v {
            SigmaValue::String(s) => sigma_pattern(s),
            _ => vec![Part::Lit(text.into_bytes())],
        };
        let mut pats: Vec<Pattern> = vec![base];
        let (mut lead, mut trail) = (field.is_none(), field.is_none());
        let mut encoded = false;
        for m in mods {
            match m {
                Modifier::Contains => (lead, trail) = (true, true),
                Modifier::StartsWith => trail = true,
                Modifier::EndsWith => lead = true,
                Modifier::Wide => pats = pats.iter().map(|p| utf16(p, false, false)).collect(),
                Modifier::Utf16be => pats = pats.iter().map(|p| utf16(p, true, false)).collect(),
                Modifier::Utf16 => pats = pats.iter().map(|p| utf16(p, false, true)).collect(),
                Modifier::WindAsh => pats = pats.iter().flat_map(windash).collect(),
                Modifier::Expand => {
                    let mut out = Vec::new();
                    for p in &pats {
                        out.extend(expand(p, ctx.placeholders)?);
                    }
                    pats = out;
                }
                Modifier::Base64 => {
                    encoded = true;
                    pats = pats.iter().map(|p| plain_bytes(p, "base64").map(|b| vec![Part::Lit(b64(&b))])).collect::<Result<_, _>>()?;
                }
                Modifier::Base64Offset => {
                    encoded = true;
                    let mut out = Vec::new();
                    for p in &pats {
                        let b = plain_bytes(p, "base64offset")?;
                        out.extend(b64_offsets(&b).into_iter().map(|e| vec![Part::Lit(e)]));
                    }
                    pats = out;
                }
                _ => {}
            }
        }
        // base64 text is case-sensitive: a lower-cased match could only add false hits.
        let cased = cased || encoded;
        for mut p in pats {
            if lead {
                p.insert(0, Part::Star);
            }
            if trail {
                p.push(Part::Star);
            }
            tests.push(ValueTest::Str { test: to_str_test(p, cased)?, cased });
        }
    }
    if tests.is_empty() {
        // `field: []`: matches nothing (an empty OR).
        return Ok(Item { field, tests, all: false });
    }
    Ok(Item { field, tests, all })
}

pub(crate) fn compile_detection(d: &Detection, ctx: &mut Ctx<'_>) -> Result<Det, Unsupported> {
    Ok(match d {
        Detection::AllOf(items) => Det::Items(items.iter().map(|i| compile_item(i, ctx)).collect::<Result<_, _>>()?),
        Detection::AnyOf(subs) => Det::Any(subs.iter().map(|s| compile_detection(s, ctx)).collect::<Result<_, _>>()?),
        Detection::Keywords(vals) => {
            let item = DetectionItem { field: rsigma_parser::FieldSpec::new(None, vec![]), values: vals.clone() };
            Det::Items(vec![compile_item(&item, ctx)?])
        }
        Detection::ArrayMatch { .. } => return Err("array-matching blocks (a proposed extension, not in the Sigma spec)".into()),
        Detection::And(_) | Detection::Conditional { .. } => return Err("nested detection blocks (an rsigma extension, not in the Sigma spec)".into()),
    })
}

fn glob_match(pat: &str, name: &str) -> bool {
    // Selector patterns only use `*` (SigmaHQ: `selection_*`).
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return pat == name;
    }
    let mut rest = name;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            let Some(at) = rest.find(p) else { return false };
            rest = &rest[at + p.len()..];
        }
    }
    true
}

pub(crate) fn compile_condition(c: &ConditionExpr, names: &[String]) -> Result<Cond, Unsupported> {
    Ok(match c {
        ConditionExpr::And(a) => Cond::And(a.iter().map(|c| compile_condition(c, names)).collect::<Result<_, _>>()?),
        ConditionExpr::Or(a) => Cond::Or(a.iter().map(|c| compile_condition(c, names)).collect::<Result<_, _>>()?),
        ConditionExpr::Not(c) => Cond::Not(Box::new(compile_condition(c, names)?)),
        ConditionExpr::Identifier(id) => {
            Cond::Det(names.iter().position(|n| n == id).ok_or_else(|| format!("condition names {id:?}, which the detection does not define"))?)
        }
        ConditionExpr::Selector { quantifier, pattern } => {
            let ids: Vec<usize> = match pattern {
                // `them`: every detection except those whose name starts with `_` (spec 2.0).
                SelectorPattern::Them => (0..names.len()).filter(|i| !names[*i].starts_with('_')).collect(),
                SelectorPattern::Pattern(p) => (0..names.len()).filter(|i| glob_match(p, &names[*i])).collect(),
            };
            if ids.is_empty() {
                return Err(format!("condition selector {c} matches no detection"));
            }
            match quantifier {
                Quantifier::All => Cond::And(ids.into_iter().map(Cond::Det).collect()),
                Quantifier::Any => Cond::Or(ids.into_iter().map(Cond::Det).collect()),
                Quantifier::Count(n) => Cond::AtLeast(*n as usize, ids),
            }
        }
    })
}

/// Event IDs the condition requires (`EventID: N` in a selection every match needs), for
/// dispatch; `None` when any event ID may match.
pub(crate) fn required_event_ids(c: &Cond, dets: &[Det], eid_field: Option<u32>) -> Option<Vec<u32>> {
    let eid_field = eid_field?;
    match c {
        Cond::And(a) => a.iter().filter_map(|c| required_event_ids(c, dets, Some(eid_field))).min_by_key(Vec::len),
        Cond::Or(a) => {
            let mut out = Vec::new();
            for s in a {
                out.extend(required_event_ids(s, dets, Some(eid_field))?);
            }
            Some(out)
        }
        Cond::AtLeast(_, ids) => {
            let mut out = Vec::new();
            for i in ids {
                out.extend(det_event_ids(&dets[*i], eid_field)?);
            }
            Some(out)
        }
        Cond::Det(i) => det_event_ids(&dets[*i], eid_field),
        _ => None,
    }
}

fn det_event_ids(d: &Det, eid: u32) -> Option<Vec<u32>> {
    match d {
        Det::Items(items) => items.iter().find_map(|i| {
            if i.field != Some(eid) || i.all {
                return None;
            }
            let mut out = Vec::new();
            for t in &i.tests {
                match t {
                    ValueTest::Str { test: StrTest::Exact(s), .. } => out.push(s.trim().parse::<u32>().ok()?),
                    _ => return None,
                }
            }
            Some(out)
        }),
        Det::Any(subs) => {
            let mut out = Vec::new();
            for s in subs {
                out.extend(det_event_ids(s, eid)?);
            }
            Some(out)
        }
    }
}

/// Literals shorter than this are not used by the prefilter (they occur everywhere).
const MIN_LITERAL: usize = 3;

/// A set of lower-cased literals one of which occurs in the event whenever the rule can
/// match (`None`: no such set, always evaluate). Used by the Aho-Corasick prefilter.
pub(crate) type Need = Option<Vec<Vec<u8>>>;

fn score(n: &[Vec<u8>]) -> (usize, usize) {
    (n.iter().map(Vec::len).min().unwrap_or(0), usize::MAX - n.len())
}

fn best(needs: impl Iterator<Item = Need>) -> Need {
    needs.flatten().max_by_key(|n| score(n))
}

fn union(needs: impl Iterator<Item = Need>) -> Need {
    let mut out = Vec::new();
    for n in needs {
        out.extend(n?);
    }
    if out.is_empty() { None } else { Some(out) }
}

fn test_need(t: &ValueTest) -> Need {
    match t {
        ValueTest::Str { test, .. } => {
            let l = test.literal()?;
            if l.len() < MIN_LITERAL {
                return None;
            }
            // Cased tests hold the raw text; the haystack is lower-cased.
            Some(vec![String::from_utf8_lossy(l).to_lowercase().into_bytes()])
        }
        _ => None,
    }
}

fn item_need(i: &Item) -> Need {
    // Keyword items look at every value of the event, not only the indexed fields.
    i.field?;
    if i.tests.is_empty() {
        return None;
    }
    if i.all { best(i.tests.iter().map(test_need)) } else { union(i.tests.iter().map(test_need)) }
}

fn det_need(d: &Det) -> Need {
    match d {
        Det::Items(items) => best(items.iter().map(item_need)),
        Det::Any(subs) => union(subs.iter().map(det_need)),
    }
}

pub(crate) fn cond_need(c: &Cond, dets: &[Det]) -> Need {
    match c {
        Cond::And(a) => best(a.iter().map(|c| cond_need(c, dets))),
        Cond::Or(a) => union(a.iter().map(|c| cond_need(c, dets))),
        Cond::Not(_) => None,
        Cond::Det(i) => det_need(&dets[*i]),
        Cond::AtLeast(0, _) => None,
        Cond::AtLeast(_, ids) => union(ids.iter().map(|i| det_need(&dets[*i]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64offset_matches_pysigma() {
        // pySigma's documented example: "/bin/bash" → "L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"
        let v = b64_offsets(b"/bin/bash");
        let v: Vec<String> = v.into_iter().map(|b| String::from_utf8(b).unwrap()).collect();
        assert_eq!(v, ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
    }

    #[test]
    fn windash_expands_word_initial_dashes_only() {
        let p = windash(&vec![Part::Lit(b" -enc a-b".to_vec())]);
        assert_eq!(p.len(), 5);
        let texts: Vec<String> = p.iter().map(|p| match &p[0] { Part::Lit(b) => String::from_utf8(b.clone()).unwrap(), _ => panic!() }).collect();
        assert!(texts.contains(&" /enc a-b".to_string()));
        assert!(texts.contains(&" \u{2013}enc a-b".to_string()));
    }

    #[test]
    fn selector_glob() {
        assert!(glob_match("selection_*", "selection_img"));
        assert!(!glob_match("selection_*", "filter_img"));
        assert!(glob_match("*", "x"));
    }
}
