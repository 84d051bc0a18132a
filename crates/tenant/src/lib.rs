//! Tenancy for a prefecture deployment: one tenant per city or town.
//!
//! What it does: [`TenantId`] is a validated city id (lowercase ASCII letters, digits, `-`, `_`,
//! 1–63 characters, starting with a letter or digit), safe to put in URL paths, NATS subjects,
//! ClickHouse string literals and directory names. [`Scope`] is what a caller may see: one
//! city ([`Scope::City`]) or, for the prefecture role, cross-tenant health and aggregates only
//! ([`Scope::Prefecture`]); [`Scope::check_events`] and [`Scope::check_aggregates`] are the
//! server-side checks every tenant-mode route calls before touching data.
//!
//! What it does not do: it holds no keys, ledgers or tokens itself (each city keeps its own data
//! directory with its own keys and witnesses); the single-city default mode of mamori does not use
//! it at all.
#![deny(missing_docs)]

use std::fmt;

/// A validated tenant (city) id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

/// Why a tenant id or an access was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// The id is not of the allowed form.
    #[error(
        "テナント ID {id:?} が不正です: {why} / invalid tenant id {id:?}: {why} (allowed: a-z, 0-9, '-', '_', 1-63 characters, starting with a letter or digit)"
    )]
    InvalidId {
        /// The refused id.
        id: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The caller's scope does not cover the requested tenant's events.
    #[error(
        "このテナントのイベントは参照できません / events of tenant {requested} are not visible to this caller ({scope})"
    )]
    Forbidden {
        /// The tenant whose data was requested.
        requested: String,
        /// The caller's scope.
        scope: String,
    },
}

impl TenantId {
    /// Validates `id`.
    pub fn new(id: &str) -> Result<TenantId, TenantError> {
        let bad = |why| TenantError::InvalidId {
            id: id.to_owned(),
            why,
        };
        if id.is_empty() {
            return Err(bad("empty"));
        }
        if id.len() > 63 {
            return Err(bad("longer than 63 characters"));
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(bad("contains a character other than a-z, 0-9, '-', '_'"));
        }
        if !id.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(bad("does not start with a letter or digit"));
        }
        Ok(TenantId(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for TenantId {
    type Err = TenantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TenantId::new(s)
    }
}

/// What a caller may see in tenant mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One city's staff or officers: that city's events only.
    City(TenantId),
    /// The prefecture: cross-tenant health and aggregates (counts, index progress); events only
    /// read, and only of a city that granted it ([`Scope::check_events_read`]).
    Prefecture,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::City(t) => write!(f, "city {t}"),
            Scope::Prefecture => f.write_str("prefecture (aggregates only)"),
        }
    }
}

impl Scope {
    /// May this caller read `tenant`'s events (search, timeline, single events, quarantine)?
    /// Only the city itself; the prefecture role never.
    pub fn check_events(&self, tenant: &TenantId) -> Result<(), TenantError> {
        match self {
            Scope::City(t) if t == tenant => Ok(()),
            _ => Err(TenantError::Forbidden {
                requested: tenant.to_string(),
                scope: self.to_string(),
            }),
        }
    }

    /// May this caller *read* `tenant`'s events, given whether the city has a valid grant open
    /// to the prefecture (`granted`)? The city itself always; the prefecture only while granted.
    /// Writes never go through this check (use [`Scope::check_events`]).
    pub fn check_events_read(&self, tenant: &TenantId, granted: bool) -> Result<(), TenantError> {
        match self {
            Scope::Prefecture if granted => Ok(()),
            _ => self.check_events(tenant),
        }
    }

    /// May this caller read `tenant`'s health and aggregate counters? The city itself and the
    /// prefecture.
    pub fn check_aggregates(&self, tenant: &TenantId) -> Result<(), TenantError> {
        match self {
            Scope::Prefecture => Ok(()),
            Scope::City(t) if t == tenant => Ok(()),
            _ => Err(TenantError::Forbidden {
                requested: tenant.to_string(),
                scope: self.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        for ok in ["kamaishi", "ikeda-cho", "01_hirosaki", "a"] {
            assert_eq!(TenantId::new(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "Kamaishi",
            "a b",
            "x'--",
            "-lead",
            "釜石",
            &"a".repeat(64),
        ] {
            assert!(TenantId::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn scopes_separate_cities_and_keep_prefecture_to_aggregates() {
        let a = TenantId::new("kamaishi").unwrap();
        let b = TenantId::new("hiratsuka").unwrap();
        let city = Scope::City(a.clone());
        assert!(city.check_events(&a).is_ok());
        assert!(city.check_events(&b).is_err());
        assert!(city.check_aggregates(&b).is_err());
        assert!(Scope::Prefecture.check_events(&a).is_err());
        assert!(Scope::Prefecture.check_aggregates(&b).is_ok());
        // A grant opens reads to the prefecture only, never to another city, never writes.
        assert!(Scope::Prefecture.check_events_read(&a, false).is_err());
        assert!(Scope::Prefecture.check_events_read(&a, true).is_ok());
        assert!(city.check_events_read(&b, true).is_err());
        assert!(city.check_events_read(&a, false).is_ok());
    }
}
