//! Grants: a city opens its events to the prefecture for a while.
//!
//! Without a grant the prefecture role sees a city's health and aggregates only. A city admin
//! may grant the prefecture read access to the city's events (`POST /t/{city}/api/v1/grants`)
//! with a reason (required) and an expiry (required, at most [`MAX_DAYS`] days ahead), and
//! optionally a time range of events (`from` inclusive, `to` exclusive, on `@timestamp`). The
//! grant is an admin entry in the **city's** ledger (`prefecture-grant-issued`: who, when,
//! reason, expiry, range); revoking it (`DELETE /t/{city}/api/v1/grants/{id}`) is another
//! (`prefecture-grant-revoked`). While a grant is valid (issued, not revoked, not expired), a
//! prefecture token whose role may read events may use the city's event search and single-event
//! routes (`GET /t/{city}/api/v1/events`, `GET /t/{city}/api/v1/events/{id}`), limited to
//! entries of kind `event` inside the grant's range; every such read is ledgered in the city's
//! ledger (`prefecture-read`: the prefecture account, the grant, the query or event id and how
//! many events were returned) before the answer is sent, so the city sees what the prefecture
//! looked at. Nothing else opens: no writes, no timelines, alerts, proofs or quarantine.
//!
//! Grants are rebuilt at start from the city's own index (which `open` catches up with its
//! ledger), so they survive restarts.

use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use mamori_ledger::{EntryKind, Ledger, NewEntry};
use serde_json::{Value, json};

/// The longest a grant may run, in days from its issue.
pub const MAX_DAYS: i64 = 90;

/// Ledger `event.action` of an issued grant.
pub const ACTION_ISSUED: &str = "prefecture-grant-issued";
/// Ledger `event.action` of a revocation.
pub const ACTION_REVOKED: &str = "prefecture-grant-revoked";
/// Ledger `event.action` of a read by the prefecture under a grant.
pub const ACTION_READ: &str = "prefecture-read";

/// One grant of a city to the prefecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Its id (`grant-…`).
    pub id: String,
    /// The city account that issued it.
    pub granted_by: String,
    /// When.
    pub granted_at: DateTime<Utc>,
    /// Why (free text, Japanese OK).
    pub reason: String,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// Events with `@timestamp` at or after this only.
    pub from: Option<DateTime<Utc>>,
    /// Events with `@timestamp` before this only.
    pub to: Option<DateTime<Utc>>,
    /// Who revoked it and when, if revoked.
    pub revoked: Option<(String, DateTime<Utc>)>,
    /// Ledger id of the issuing entry in the city's ledger.
    pub ledger_id: u64,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(field: &str, s: &str) -> Result<DateTime<Utc>, GrantRefused> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| GrantRefused {
            ja: format!("{field} は RFC 3339 の日時にしてください({s:?}: {e})"),
            en: format!("{field} must be an RFC 3339 date-time ({s:?}: {e})"),
        })
}

/// Why a grant request was refused (400), Japanese and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRefused {
    /// Japanese message.
    pub ja: String,
    /// English message.
    pub en: String,
}

impl Grant {
    /// Whether the grant lets the prefecture read at `now`.
    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked.is_none() && now < self.expires_at
    }

    /// `active`, `expired` or `revoked` at `now`.
    pub fn state_at(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked.is_some() {
            "revoked"
        } else if now >= self.expires_at {
            "expired"
        } else {
            "active"
        }
    }

    /// Whether an event with `@timestamp` `micros` is inside the grant's range.
    pub fn covers_micros(&self, micros: i64) -> bool {
        self.from.is_none_or(|f| micros >= f.timestamp_micros())
            && self.to.is_none_or(|t| micros < t.timestamp_micros())
    }

    /// Narrows a search's `from`/`to` to the grant's range and its kind to `event`.
    pub fn narrow(&self, q: &mut mamori_store::Query) -> Result<(), GrantRefused> {
        if let Some(f) = self.from {
            let asked = q.from.as_deref().map(|s| parse_ts("from", s)).transpose()?;
            q.from = Some(ts(asked.map_or(f, |a| a.max(f))));
        }
        if let Some(t) = self.to {
            let asked = q.to.as_deref().map(|s| parse_ts("to", s)).transpose()?;
            q.to = Some(ts(asked.map_or(t, |a| a.min(t))));
        }
        q.kind = Some("event".into());
        Ok(())
    }

    /// The grant as JSON (for the city's listing and the API answers).
    pub fn to_json(&self, now: DateTime<Utc>) -> Value {
        json!({
            "id": self.id,
            "state": self.state_at(now),
            "granted_by": self.granted_by,
            "granted_at": ts(self.granted_at),
            "reason": self.reason,
            "expires_at": ts(self.expires_at),
            "from": self.from.map(ts),
            "to": self.to.map(ts),
            "revoked_by": self.revoked.as_ref().map(|r| r.0.clone()),
            "revoked_at": self.revoked.as_ref().map(|r| ts(r.1)),
            "ledger_id": self.ledger_id,
        })
    }
}

/// Checks a grant request body (`{"reason", "expires_at", "from"?, "to"?}`) at `now`.
/// Returns `(reason, expires_at, from, to)`.
#[allow(clippy::type_complexity)]
pub fn check_request(
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<
    (
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    ),
    GrantRefused,
> {
    let v: Value = serde_json::from_slice(body).map_err(|e| GrantRefused {
        ja: format!("本文は JSON オブジェクトにしてください: {e}"),
        en: format!("the body must be a JSON object: {e}"),
    })?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::trim);
    let reason = text("reason").unwrap_or("");
    if reason.is_empty() {
        return Err(GrantRefused {
            ja: "reason(理由)は必須です".into(),
            en: "reason is required".into(),
        });
    }
    if reason.chars().count() > 1000 {
        return Err(GrantRefused {
            ja: "reason(理由)は 1000 文字以内にしてください".into(),
            en: "reason must be at most 1000 characters".into(),
        });
    }
    let Some(exp) = text("expires_at") else {
        return Err(GrantRefused {
            ja: format!("expires_at(有効期限、RFC 3339、{MAX_DAYS} 日以内)は必須です"),
            en: format!("expires_at is required (RFC 3339, at most {MAX_DAYS} days ahead)"),
        });
    };
    let expires_at = parse_ts("expires_at", exp)?;
    if expires_at <= now {
        return Err(GrantRefused {
            ja: format!("expires_at {exp} は過去です"),
            en: format!("expires_at {exp} is in the past"),
        });
    }
    if expires_at > now + chrono::Duration::days(MAX_DAYS) {
        return Err(GrantRefused {
            ja: format!("有効期限は {MAX_DAYS} 日以内にしてください(expires_at {exp})"),
            en: format!("expiry must be at most {MAX_DAYS} days ahead (expires_at {exp})"),
        });
    }
    let from = text("from").map(|s| parse_ts("from", s)).transpose()?;
    let to = text("to").map(|s| parse_ts("to", s)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(GrantRefused {
            ja: "from は to より前にしてください".into(),
            en: "from must be before to".into(),
        });
    }
    Ok((reason.to_owned(), expires_at, from, to))
}

fn admin_doc(action: &str, actor: &str, at: DateTime<Utc>, body: Value) -> Vec<u8> {
    let doc = json!({
        "@timestamp": ts(at),
        "event": {"kind": "event", "category": ["configuration", "iam"], "action": action, "module": "mamori", "dataset": "mamori.admin", "outcome": "success"},
        "user": {"name": actor},
        "mamori": {"grant": body},
    });
    serde_json::to_vec(&doc).expect("serializable")
}

fn append(ledger: &Ledger, payload: Vec<u8>) -> Result<u64, String> {
    ledger
        .append_blocking(vec![NewEntry {
            kind: EntryKind::Admin,
            payload,
        }])
        .map(|r| r.first_index)
        .map_err(|e| e.to_string())
}

/// A city's grants (in memory, rebuilt from its index at start).
#[derive(Debug, Default)]
pub struct Grants {
    list: Mutex<Vec<Grant>>,
}

impl Grants {
    /// Rebuilds the grants of a city from its SQLite index (admin entries
    /// [`ACTION_ISSUED`] and [`ACTION_REVOKED`], in ledger order).
    pub fn rebuild(store: &mamori_store::Store) -> Result<Grants, mamori_store::StoreError> {
        let mut docs = Vec::new();
        for action in [ACTION_ISSUED, ACTION_REVOKED] {
            let mut cursor = None;
            loop {
                let page = store.search(&mamori_store::Query {
                    kind: Some("admin".into()),
                    action: Some(action.into()),
                    limit: Some(1000),
                    cursor: cursor.take(),
                    ..Default::default()
                })?;
                docs.extend(page.events.into_iter().map(|h| (h.id, h.doc)));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        docs.sort_by_key(|(id, _)| *id);
        let mut list: Vec<Grant> = Vec::new();
        for (id, doc) in docs {
            let g = &doc["mamori"]["grant"];
            let s = |k: &str| g.get(k).and_then(Value::as_str);
            let t = |k: &str| s(k).and_then(|v| parse_ts(k, v).ok());
            let actor = doc["user"]["name"].as_str().unwrap_or("").to_owned();
            match doc["event"]["action"].as_str() {
                Some(ACTION_ISSUED) => {
                    let (Some(gid), Some(at), Some(exp)) =
                        (s("id"), t("granted_at"), t("expires_at"))
                    else {
                        tracing::warn!(id, "skipping a grant entry that does not parse");
                        continue;
                    };
                    list.push(Grant {
                        id: gid.to_owned(),
                        granted_by: actor,
                        granted_at: at,
                        reason: s("reason").unwrap_or("").to_owned(),
                        expires_at: exp,
                        from: t("from"),
                        to: t("to"),
                        revoked: None,
                        ledger_id: id,
                    });
                }
                Some(ACTION_REVOKED) => {
                    if let (Some(gid), Some(at)) = (s("id"), t("revoked_at"))
                        && let Some(x) = list.iter_mut().find(|x| x.id == gid)
                    {
                        x.revoked.get_or_insert((actor, at));
                    }
                }
                _ => {}
            }
        }
        Ok(Grants {
            list: Mutex::new(list),
        })
    }

    /// Every grant, oldest first.
    pub fn list(&self) -> Vec<Grant> {
        self.list.lock().unwrap().clone()
    }

    /// A grant valid at `now`, if any (the newest one).
    pub fn valid_at(&self, now: DateTime<Utc>) -> Option<Grant> {
        self.list
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|g| g.valid_at(now))
            .cloned()
    }

    /// Counts by state at `now` (`active`, `expired`, `revoked`): what the prefecture's health
    /// shows.
    pub fn counts(&self, now: DateTime<Utc>) -> Value {
        let l = self.list.lock().unwrap();
        let n = |s: &str| l.iter().filter(|g| g.state_at(now) == s).count();
        json!({"active": n("active"), "expired": n("expired"), "revoked": n("revoked")})
    }

    /// Issues a grant by city account `actor`: ledgered in the city's `ledger` first.
    pub fn issue(
        &self,
        ledger: &Ledger,
        actor: &str,
        reason: String,
        expires_at: DateTime<Utc>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Grant, String> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let now = Utc::now();
        let id = format!(
            "grant-{}-{}",
            now.timestamp_micros(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let body = json!({
            "id": id, "granted_at": ts(now), "reason": reason, "expires_at": ts(expires_at),
            "from": from.map(ts), "to": to.map(ts), "grantee": "prefecture", "access": "read-events",
        });
        let ledger_id = append(ledger, admin_doc(ACTION_ISSUED, actor, now, body))?;
        let g = Grant {
            id,
            granted_by: actor.to_owned(),
            granted_at: now,
            reason,
            expires_at,
            from,
            to,
            revoked: None,
            ledger_id,
        };
        self.list.lock().unwrap().push(g.clone());
        Ok(g)
    }

    /// Revokes grant `id` by city account `actor`: ledgered first. `Ok(None)`: no such grant;
    /// `Err` with the grant already revoked is reported by the caller as a conflict.
    pub fn revoke(&self, ledger: &Ledger, actor: &str, id: &str) -> Result<Option<Grant>, String> {
        let mut l = self.list.lock().unwrap();
        let Some(g) = l.iter_mut().find(|g| g.id == id) else {
            return Ok(None);
        };
        if g.revoked.is_some() {
            return Err(format!("grant {id} is already revoked"));
        }
        let now = Utc::now();
        append(
            ledger,
            admin_doc(
                ACTION_REVOKED,
                actor,
                now,
                json!({"id": id, "revoked_at": ts(now)}),
            ),
        )?;
        g.revoked = Some((actor.to_owned(), now));
        Ok(Some(g.clone()))
    }
}

/// Ledgers a read by prefecture account `reader` under `grant` in the city's `ledger`:
/// `what` names the route and its query or event id, `returned` the number of events sent.
pub fn ledger_read(
    ledger: &Ledger,
    reader: &str,
    grant: &Grant,
    what: Value,
    returned: usize,
) -> Result<u64, String> {
    let now = Utc::now();
    append(
        ledger,
        admin_doc(
            ACTION_READ,
            &format!("prefecture:{reader}"),
            now,
            json!({"id": grant.id, "read": what, "returned": returned}),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        parse_ts("t", s).unwrap()
    }

    #[test]
    fn requests_are_checked_with_clear_messages() {
        let now = at("2026-12-01T00:00:00Z");
        let err = |body: &str| check_request(body.as_bytes(), now).unwrap_err().en;
        assert!(err("not json").contains("JSON object"));
        assert!(err("[]").contains("reason is required"));
        assert!(
            err(r#"{"reason": "   ", "expires_at": "2026-12-02T00:00:00Z"}"#)
                .contains("reason is required")
        );
        assert!(
            err(r#"{"reason": 5, "expires_at": "2026-12-02T00:00:00Z"}"#)
                .contains("reason is required")
        );
        assert!(err(r#"{"reason": "調査"}"#).contains("expires_at is required"));
        assert!(err(r#"{"reason": "調査", "expires_at": "tomorrow"}"#).contains("RFC 3339"));
        assert!(
            err(r#"{"reason": "調査", "expires_at": "2026-11-30T00:00:00Z"}"#)
                .contains("in the past")
        );
        assert!(
            err(r#"{"reason": "調査", "expires_at": "2027-03-01T00:00:01Z"}"#)
                .contains("at most 90 days")
        );
        assert!(err(r#"{"reason": "調査", "expires_at": "2026-12-02T00:00:00Z", "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}"#).contains("from must be before to"));
        let long = format!(
            r#"{{"reason": "{}", "expires_at": "2026-12-02T00:00:00Z"}}"#,
            "あ".repeat(1001)
        );
        assert!(err(&long).contains("1000"));
        // Exactly 90 days is allowed; the reason is trimmed; the range is kept.
        let (reason, exp, from, to) = check_request(
            r#"{"reason": " 調査 ", "expires_at": "2027-03-01T09:00:00+09:00", "to": "2026-01-01T00:00:00Z"}"#.as_bytes(),
            now,
        )
        .unwrap();
        assert_eq!(
            (reason.as_str(), exp, from, to),
            (
                "調査",
                at("2027-03-01T00:00:00Z"),
                None,
                Some(at("2026-01-01T00:00:00Z"))
            )
        );
    }

    #[test]
    fn grants_narrow_queries_and_expire() {
        let g = Grant {
            id: "g".into(),
            granted_by: "a".into(),
            granted_at: at("2026-12-01T00:00:00Z"),
            reason: "r".into(),
            expires_at: at("2026-12-02T00:00:00Z"),
            from: Some(at("2024-05-01T00:10:00Z")),
            to: Some(at("2024-05-01T00:20:00Z")),
            revoked: None,
            ledger_id: 1,
        };
        assert!(g.valid_at(at("2026-12-01T23:59:59Z")));
        assert!(!g.valid_at(at("2026-12-02T00:00:00Z")));
        assert_eq!(g.state_at(at("2026-12-03T00:00:00Z")), "expired");
        let mut q = mamori_store::Query {
            from: Some("2024-01-01T00:00:00Z".into()),
            to: Some("2024-05-01T00:15:00Z".into()),
            kind: Some("admin".into()),
            ..Default::default()
        };
        g.narrow(&mut q).unwrap();
        assert_eq!(q.from.as_deref(), Some("2024-05-01T00:10:00.000000Z"));
        assert_eq!(q.to.as_deref(), Some("2024-05-01T00:15:00.000000Z"));
        assert_eq!(q.kind.as_deref(), Some("event"));
        assert!(g.covers_micros(at("2024-05-01T00:10:00Z").timestamp_micros()));
        assert!(!g.covers_micros(at("2024-05-01T00:20:00Z").timestamp_micros()));
        let mut bad = mamori_store::Query {
            from: Some("x".into()),
            ..Default::default()
        };
        assert!(g.narrow(&mut bad).is_err());
        let revoked = Grant {
            revoked: Some(("a".into(), at("2026-12-01T01:00:00Z"))),
            ..g
        };
        assert!(!revoked.valid_at(at("2026-12-01T02:00:00Z")));
        assert_eq!(revoked.state_at(at("2026-12-01T02:00:00Z")), "revoked");
    }
}
