//! Every directory change is a record naming who did it; replaying the records (as JSON, the
//! ledgered form) in the same order gives an equal directory, and a record refused once is
//! refused on replay too (so the caller checks before ledgering).

mod org;

use mamori_directory::{Directory, DirectoryChange, DirectoryRecord, ImportRecord, Medium, TakeoutAction, TakeoutRequest};
use org::{Variant, at, d, rec};

#[test]
fn replaying_records_as_json_gives_the_same_directory() {
    // Build the troubled org while keeping every record, as the ledger does.
    let reference = org::build(Variant::Troubled);
    let mut log: Vec<serde_json::Value> = Vec::new();
    let mut dir = Directory::new();
    let roster = ImportRecord::from_csv("roster-1", org::roster().as_bytes(), at(2024, 4, 1), None);
    dir.apply(&roster).unwrap();
    log.push(serde_json::json!({"roster": roster}));
    let mut push = |dir: &mut Directory, r: DirectoryRecord| {
        dir.apply_record(&r).unwrap();
        log.push(serde_json::json!({"directory": r}));
    };
    push(&mut dir, rec("ent-1", "somu-admin", DirectoryChange::Entitlements(mamori_directory::EntitlementSet::from_toml(org::POLICY).unwrap())));
    let req = TakeoutRequest {
        id: "T-1".into(),
        applicant: "S04".into(),
        description: "転入者一覧".into(),
        records: Some(10),
        purpose: "照合".into(),
        medium: Medium::Paper,
        destination: "県".into(),
        from: d(2024, 5, 1),
        until: d(2024, 5, 2),
        requested_on: d(2024, 4, 20),
    };
    push(&mut dir, rec("t1", "s04", DirectoryChange::Takeout(TakeoutAction::Request(req))));
    push(&mut dir, rec("t2", "s02", DirectoryChange::Takeout(TakeoutAction::Approve { id: "T-1".into(), approver: "S02".into(), on: d(2024, 4, 21), note: "可".into() })));

    let mut replayed = Directory::new();
    for entry in &log {
        if let Some(r) = entry.get("roster") {
            replayed.apply(&serde_json::from_value(r.clone()).unwrap()).unwrap();
        } else {
            let r: DirectoryRecord = serde_json::from_value(entry["directory"].clone()).unwrap();
            replayed.apply_record(&r).unwrap();
        }
    }
    assert_eq!(replayed, dir, "replay gives an equal directory");
    assert_eq!(replayed.takeout("T-1").unwrap().history[1].by, "s02");
    assert_ne!(replayed, reference, "and the comparison can fail");
    // The same record twice is refused.
    let again: DirectoryRecord = serde_json::from_value(log[2]["directory"].clone()).unwrap();
    assert!(replayed.apply_record(&again).is_err());
}

#[test]
fn replay_does_not_re_judge_policy_rules() {
    // A self-approval is refused when it is recorded …
    let mut dir = org::build(Variant::Clean);
    let req = TakeoutRequest {
        id: "T-1".into(),
        applicant: "S04".into(),
        description: "x".into(),
        records: None,
        purpose: "y".into(),
        medium: Medium::Paper,
        destination: String::new(),
        from: d(2024, 5, 1),
        until: d(2024, 5, 2),
        requested_on: d(2024, 4, 20),
    };
    dir.apply_record(&rec("t1", "s04", DirectoryChange::Takeout(TakeoutAction::Request(req)))).unwrap();
    let selfie = rec("t2", "s04", DirectoryChange::Takeout(TakeoutAction::Approve { id: "T-1".into(), approver: "S04".into(), on: d(2024, 4, 21), note: String::new() }));
    assert!(dir.check_record(&selfie).is_err());
    assert!(dir.clone().apply_record(&selfie).is_err());
    // … but a ledger entry written under another rule replays as written (history is not
    // rewritten); structure is still checked.
    let mut replayed = dir.clone();
    replayed.replay_record(&selfie).unwrap();
    assert_eq!(replayed.takeout("T-1").unwrap().approver.as_deref(), Some("S04"));
    let take_unknown = rec("t3", "s04", DirectoryChange::Takeout(TakeoutAction::Take { id: "T-9".into(), on: d(2024, 5, 1) }));
    assert!(replayed.replay_record(&take_unknown).is_err());
    assert!(replayed.replay_record(&selfie).is_err(), "the same record twice");
}
