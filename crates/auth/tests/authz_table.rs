//! The permission table checked against an independently written matrix.
//!
//! The matrix below is written by hand from the specification, using only the
//! string names of roles and actions, so a mistake in `PERMISSIONS` (or in the
//! enums' names) shows up as a disagreement rather than being copied.

use mamori_auth::{Action, PERMISSIONS, Role, allowed, roles_for};

/// Column order of the matrix.
const COLUMNS: [&str; 6] = ["admin", "officer", "auditor", "viewer", "ingest", "witness"];

/// `X` = allowed, `.` = denied.
#[rustfmt::skip]
const EXPECTED: &[(&str, &str)] = &[
    //                        admin officer auditor viewer ingest witness
    ("ingest_events",       "X     .       .       .      X      .      "),
    ("read_events",         "X     X       X       X      .      .      "),
    ("read_proofs",         ".     X       X       X      .      .      "),
    ("read_timeline",       ".     X       X       X      .      .      "),
    ("read_quarantine",     "X     X       X       .      .      .      "),
    ("reingest_quarantine", "X     X       .       .      .      .      "),
    ("read_metrics",        "X     X       X       .      .      .      "),
    ("manage_users",        "X     .       .       .      .      .      "),
    ("manage_tokens",       "X     .       .       .      .      .      "),
    ("manage_config",       "X     .       .       .      .      .      "),
    ("rotate_keys",         "X     .       .       .      .      .      "),
    ("read_admin_audit",    "X     .       X       .      .      .      "),
    ("witness_cosign",      ".     .       .       .      .      X      "),
    ("read_alerts",         ".     X       X       X      .      .      "),
    ("manage_alerts",       ".     X       .       .      .      .      "),
    ("sign_reviews",        ".     .       X       .      .      .      "),
];

fn expected(role: Role, action: Action) -> bool {
    let (_, row) = EXPECTED
        .iter()
        .find(|(a, _)| *a == action.as_str())
        .unwrap_or_else(|| panic!("matrix has no row for {action}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells.len(), COLUMNS.len(), "row {action}");
    let col = COLUMNS
        .iter()
        .position(|c| *c == role.as_str())
        .unwrap_or_else(|| panic!("matrix has no column for {role}"));
    match cells[col] {
        "X" => true,
        "." => false,
        other => panic!("bad cell {other:?} in row {action}"),
    }
}

#[test]
fn every_role_action_pair_matches_the_matrix() {
    let mut checked = 0;
    for role in Role::ALL {
        for action in Action::ALL {
            assert_eq!(
                allowed(role, action),
                expected(role, action),
                "{role} × {action}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6 * Action::ALL.len());
}

#[test]
fn matrix_and_enums_agree_on_names() {
    // Every matrix row names a real action, every column a real role, no duplicates.
    for (i, (name, _)) in EXPECTED.iter().enumerate() {
        let a: Action = name.parse().unwrap();
        assert!(
            EXPECTED[..i].iter().all(|(n, _)| n != name),
            "duplicate row {name}"
        );
        assert_eq!(a.as_str(), *name);
    }
    assert_eq!(EXPECTED.len(), Action::ALL.len());
    for c in COLUMNS {
        c.parse::<Role>().unwrap();
    }
    assert_eq!(COLUMNS.len(), Role::ALL.len());
}

#[test]
fn table_is_well_formed() {
    for action in Action::ALL {
        let rows: Vec<_> = PERMISSIONS.iter().filter(|(a, _)| *a == action).collect();
        assert_eq!(rows.len(), 1, "{action} must appear exactly once");
        let roles = rows[0].1;
        assert!(!roles.is_empty(), "{action} allows nobody");
        for (i, r) in roles.iter().enumerate() {
            assert!(!roles[..i].contains(r), "{action} lists {r} twice");
        }
        assert_eq!(roles_for(action), roles);
    }
}

#[test]
fn least_privilege_invariants() {
    // Generated from the table itself: these hold whatever the matrix says.
    for (action, roles) in PERMISSIONS {
        let name = action.as_str();
        if roles.contains(&Role::Ingest) {
            assert_eq!(*action, Action::IngestEvents, "ingest may only ingest");
        }
        if roles.contains(&Role::Witness) {
            assert_eq!(*action, Action::WitnessCosign, "witness may only co-sign");
        }
        if *action == Action::WitnessCosign {
            assert_eq!(*roles, &[Role::Witness][..]);
        }
        // Alert triage is the officer's work (an alert shows events, which admin does not read);
        // every other manage_* action is admin-only.
        if *action == Action::ManageAlerts {
            assert_eq!(*roles, &[Role::Officer][..], "{name} is officer-only");
        } else if name.starts_with("manage_") || *action == Action::RotateKeys {
            assert_eq!(*roles, &[Role::Admin][..], "{name} is admin-only");
        }
        // The auditor reads, and signs reviews (a ledgered sign-off, no change to anything else).
        if roles.contains(&Role::Auditor) && *action != Action::SignReviews {
            assert!(name.starts_with("read_"), "auditor must not get {name}");
        }
        if roles.contains(&Role::Viewer) {
            assert!(
                matches!(
                    action,
                    Action::ReadEvents | Action::ReadProofs | Action::ReadTimeline | Action::ReadAlerts
                ),
                "viewer must not get {name}"
            );
        }
    }
    // Auditor reads everything that is read_*.
    for action in Action::ALL {
        if action.as_str().starts_with("read_") {
            assert!(
                allowed(Role::Auditor, action),
                "auditor must be able to {action}"
            );
        }
    }
}
