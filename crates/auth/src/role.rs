//! The six roles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::action::{Action, allowed};

/// Who a principal is, for authorization purposes.
///
/// Serialized (serde, [`fmt::Display`], [`FromStr`]) as the lowercase name,
/// e.g. `"officer"`. The same name appears in token secrets
/// (`mamori_officer_…`). What each role may do is defined only by
/// [`crate::PERMISSIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 管理者 — configuration: users, tokens, keys, retention.
    Admin,
    /// 情報セキュリティ担当 — alerts, cases, quarantine re-ingest, read events.
    Officer,
    /// 監査担当 — reads everything including the admin audit trail and signs
    /// reviews; cannot change configuration.
    Auditor,
    /// 閲覧者 — reads events and searches only.
    Viewer,
    /// 取込専用 — write-only: may only submit events, cannot read anything.
    Ingest,
    /// 証人 — may only call the witness (co-signing) endpoint.
    Witness,
}

impl Role {
    /// All roles, in a fixed order.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Officer,
        Role::Auditor,
        Role::Viewer,
        Role::Ingest,
        Role::Witness,
    ];

    /// The stable lowercase name (`"admin"`, `"officer"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Officer => "officer",
            Role::Auditor => "auditor",
            Role::Viewer => "viewer",
            Role::Ingest => "ingest",
            Role::Witness => "witness",
        }
    }

    /// Japanese display label for the UI.
    pub const fn label_ja(self) -> &'static str {
        match self {
            Role::Admin => "管理者",
            Role::Officer => "情報セキュリティ担当",
            Role::Auditor => "監査担当",
            Role::Viewer => "閲覧者",
            Role::Ingest => "取込専用",
            Role::Witness => "証人",
        }
    }

    /// Whether this role may perform `action` (same as [`crate::allowed`]).
    pub fn can(self, action: Action) -> bool {
        allowed(self, action)
    }

    /// Every action this role may perform, in [`Action::ALL`] order.
    pub fn actions(self) -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|a| allowed(self, *a))
            .collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    /// Parses the lowercase name; surrounding whitespace and ASCII case are ignored.
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| Error::UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(r.to_string(), r.as_str());
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), r);
        }
        assert_eq!(" Officer ".parse::<Role>().unwrap(), Role::Officer);
        assert!(matches!("root".parse::<Role>(), Err(Error::UnknownRole(_))));
        assert!(serde_json::from_str::<Role>("\"Admin\"").is_err());
    }

    #[test]
    fn japanese_labels() {
        let labels: Vec<_> = Role::ALL.iter().map(|r| r.label_ja()).collect();
        assert_eq!(
            labels,
            [
                "管理者",
                "情報セキュリティ担当",
                "監査担当",
                "閲覧者",
                "取込専用",
                "証人"
            ]
        );
    }

    #[test]
    fn actions_lists() {
        assert_eq!(Role::Ingest.actions(), vec![Action::IngestEvents]);
        assert_eq!(Role::Witness.actions(), vec![Action::WitnessCosign]);
        assert!(Role::Admin.can(Action::ManageUsers));
        assert!(!Role::Auditor.can(Action::ManageUsers));
    }
}
