//! Actions (permissions) and the one least-privilege table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Role};

/// Something a principal asks the server to do; one variant per kind of
/// endpoint. Serialized as `snake_case` (`"ingest_events"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Submit events (ingest endpoints, syslog/Beats/Fluent Bit receivers).
    IngestEvents,
    /// Read and search events.
    ReadEvents,
    /// Read inclusion / consistency proofs and checkpoints.
    ReadProofs,
    /// Read per-person / per-file timelines.
    ReadTimeline,
    /// Read quarantined (unparseable or rejected) input.
    ReadQuarantine,
    /// Re-ingest quarantined input after fixing a parser/config.
    ReingestQuarantine,
    /// Read operational metrics.
    ReadMetrics,
    /// Add users, change roles, disable users, reset passwords.
    ManageUsers,
    /// Create and revoke API tokens.
    ManageTokens,
    /// Change configuration (sources, retention, …).
    ManageConfig,
    /// Rotate signing keys.
    RotateKeys,
    /// Read the admin audit trail (who changed users/tokens/config, when).
    ReadAdminAudit,
    /// Co-sign checkpoints as a witness.
    WitnessCosign,
    /// Read alerts (with the person, department and evidence).
    ReadAlerts,
    /// Triage, assign and close alerts (ledgered officer actions).
    ManageAlerts,
    /// Comment on and sign off reviews (the monthly log review, 操作ログ点検): the auditor's
    /// ledgered sign-off.
    SignReviews,
}

/// Alias: the spec calls these permissions as well.
pub type Permission = Action;

impl Action {
    /// All actions, in declaration order.
    pub const ALL: [Action; 16] = [
        Action::IngestEvents,
        Action::ReadEvents,
        Action::ReadProofs,
        Action::ReadTimeline,
        Action::ReadQuarantine,
        Action::ReingestQuarantine,
        Action::ReadMetrics,
        Action::ManageUsers,
        Action::ManageTokens,
        Action::ManageConfig,
        Action::RotateKeys,
        Action::ReadAdminAudit,
        Action::WitnessCosign,
        Action::ReadAlerts,
        Action::ManageAlerts,
        Action::SignReviews,
    ];

    /// The stable `snake_case` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::IngestEvents => "ingest_events",
            Action::ReadEvents => "read_events",
            Action::ReadProofs => "read_proofs",
            Action::ReadTimeline => "read_timeline",
            Action::ReadQuarantine => "read_quarantine",
            Action::ReingestQuarantine => "reingest_quarantine",
            Action::ReadMetrics => "read_metrics",
            Action::ManageUsers => "manage_users",
            Action::ManageTokens => "manage_tokens",
            Action::ManageConfig => "manage_config",
            Action::RotateKeys => "rotate_keys",
            Action::ReadAdminAudit => "read_admin_audit",
            Action::WitnessCosign => "witness_cosign",
            Action::ReadAlerts => "read_alerts",
            Action::ManageAlerts => "manage_alerts",
            Action::SignReviews => "sign_reviews",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == t)
            .ok_or_else(|| Error::UnknownAction(s.to_owned()))
    }
}

use Role::{Admin, Auditor, Ingest, Officer, Viewer, Witness};

/// The permission table: for each action, the roles allowed to perform it.
///
/// This is the **only** place authorization is defined; [`allowed`] reads it.
/// Least privilege: `Ingest` can only submit events, `Witness` can only
/// co-sign, `Auditor` reads everything but changes nothing, only `Admin`
/// manages users/tokens/config/keys (and cannot read proofs or timelines,
/// which are investigation tools).
pub const PERMISSIONS: &[(Action, &[Role])] = &[
    (Action::IngestEvents, &[Admin, Ingest]),
    (Action::ReadEvents, &[Admin, Officer, Auditor, Viewer]),
    (Action::ReadProofs, &[Officer, Auditor, Viewer]),
    (Action::ReadTimeline, &[Officer, Auditor, Viewer]),
    (Action::ReadQuarantine, &[Admin, Officer, Auditor]),
    (Action::ReingestQuarantine, &[Admin, Officer]),
    (Action::ReadMetrics, &[Admin, Officer, Auditor]),
    (Action::ManageUsers, &[Admin]),
    (Action::ManageTokens, &[Admin]),
    (Action::ManageConfig, &[Admin]),
    (Action::RotateKeys, &[Admin]),
    (Action::ReadAdminAudit, &[Admin, Auditor]),
    (Action::WitnessCosign, &[Witness]),
    // Alerts name people and their departments: investigation tools, like timelines.
    (Action::ReadAlerts, &[Officer, Auditor, Viewer]),
    (Action::ManageAlerts, &[Officer]),
    // The reviewer who signs the monthly log review is the auditor (not the officer whose
    // case work the logs also show).
    (Action::SignReviews, &[Auditor]),
];

/// The roles allowed to perform `action` according to [`PERMISSIONS`]
/// (empty if the action were missing from the table — deny by default).
pub fn roles_for(action: Action) -> &'static [Role] {
    PERMISSIONS
        .iter()
        .find(|(a, _)| *a == action)
        .map_or(&[], |(_, roles)| *roles)
}

/// Whether `role` may perform `action`, according to [`PERMISSIONS`].
pub fn allowed(role: Role, action: Action) -> bool {
    roles_for(action).contains(&role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>().unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
            assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), a);
        }
        assert!("delete_everything".parse::<Action>().is_err());
    }

    #[test]
    fn table_covers_every_action_once() {
        for a in Action::ALL {
            assert_eq!(
                PERMISSIONS.iter().filter(|(x, _)| *x == a).count(),
                1,
                "{a}"
            );
        }
        assert_eq!(PERMISSIONS.len(), Action::ALL.len());
    }
}
