//! Takeout requests (持ち出し申請): the approval rule on the org chart of the day (self-approval,
//! a subordinate, a colleague, another line refused; the 課長 of the 課 and the 部長 of the
//! 部 accepted), the state machine, reconciliation of observed USB writes, mails and exports,
//! and reminders. Kamaishi: "oral approval" leaves no request, so the export is unmatched.

mod org;

use mamori_directory::{
    Channel, Directory, DirectoryChange, Medium, Observed, Reconciled, TakeoutAction, TakeoutError,
    TakeoutRequest, TakeoutState, Unmatched,
};
use org::{Variant, at, build, d, rec};

fn usb() -> Medium {
    Medium::Usb { registration_id: "USB-001".into(), vendor_id: "0781".into(), product_id: "5567".into(), serial: "4C530001".into() }
}

fn request(id: &str, applicant: &str, medium: Medium) -> TakeoutRequest {
    TakeoutRequest {
        id: id.into(),
        applicant: applicant.into(),
        description: "住民票データ(転入者)".into(),
        records: Some(120),
        purpose: "国勢調査の照合".into(),
        medium,
        destination: "県統計課".into(),
        from: d(2024, 5, 1),
        until: d(2024, 5, 10),
        requested_on: d(2024, 4, 25),
    }
}

fn act(dir: &mut Directory, id: &str, who: &str, a: TakeoutAction) -> Result<(), mamori_directory::RecordError> {
    dir.apply_record(&rec(id, who, DirectoryChange::Takeout(a)))
}

fn approve(id: &str, approver: &str) -> TakeoutAction {
    TakeoutAction::Approve { id: id.into(), approver: approver.into(), on: d(2024, 4, 26), note: String::new() }
}

#[test]
fn kamaishi_self_approval_refused() {
    let mut dir = build(Variant::Clean);
    act(&mut dir, "r1", "s04", TakeoutAction::Request(request("T-1", "S04", usb()))).unwrap();
    let e = act(&mut dir, "a1", "s04", approve("T-1", "S04")).unwrap_err();
    assert!(matches!(e, mamori_directory::RecordError::Takeout(TakeoutError::SelfApproval)), "{e}");
    assert!(e.to_string().contains("本人"), "{e}");
    assert_eq!(dir.takeout("T-1").unwrap().state, TakeoutState::Requested, "nothing changed");
}

#[test]
fn approval_by_a_subordinate_refused() {
    let mut dir = build(Variant::Clean);
    // The 課長 files; the 係長 and a 主事 of the same 課 try to approve.
    act(&mut dir, "r1", "s02", TakeoutAction::Request(request("T-2", "S02", usb()))).unwrap();
    for sub in ["S03", "S04"] {
        let e = dir.check_approver(sub, "S02", d(2024, 4, 26)).unwrap_err();
        assert!(matches!(e, TakeoutError::Subordinate { .. }), "{sub}: {e}");
    }
    assert!(act(&mut dir, "a1", "s03", approve("T-2", "S03")).is_err());
    // The 部長 of the parent 部 may.
    act(&mut dir, "a2", "s01", approve("T-2", "S01")).unwrap();
    let t = dir.takeout("T-2").unwrap();
    assert_eq!(t.state, TakeoutState::Approved);
    assert_eq!(t.approver.as_deref(), Some("S01"));
    assert_eq!(t.history.last().unwrap().by, "s01", "who recorded it is kept");
}

#[test]
fn who_may_approve() {
    let dir = build(Variant::Clean);
    let on = d(2024, 4, 26);
    // 市民課 主事 S04: the 市民課長 and the 市民部長 may approve.
    assert_eq!(dir.check_approver("S02", "S04", on), Ok(()));
    assert_eq!(dir.check_approver("S01", "S04", on), Ok(()));
    // The 係長 ranks higher but is not 課長級.
    assert!(matches!(dir.check_approver("S03", "S04", on), Err(TakeoutError::RankTooLow { .. })));
    // A colleague of the same rank.
    assert!(matches!(dir.check_approver("S05", "S04", on), Err(TakeoutError::RankTooLow { .. })));
    // The 総務課長 is a 課長, but of another line.
    assert!(matches!(dir.check_approver("S06", "S04", on), Err(TakeoutError::NotInLine { .. })));
    // The 保険年金課長 is in a sibling 課 of the same 部: not the line either.
    assert!(matches!(dir.check_approver("S16", "S04", on), Err(TakeoutError::NotInLine { .. })));
    // Staff A moved to 観光課 on 2023-04-01: the 市民課長 approved before, not after.
    assert_eq!(dir.check_approver("S02", "S12", d(2023, 3, 31)), Ok(()));
    assert!(matches!(dir.check_approver("S02", "S12", d(2023, 4, 1)), Err(TakeoutError::NotInLine { .. })));
    assert_eq!(dir.check_approver("S11", "S12", d(2023, 4, 1)), Ok(()));
    // A retired person cannot file or approve.
    assert!(matches!(dir.check_approver("S02", "S20", d(2024, 4, 1)), Err(TakeoutError::NotEmployed { .. })));
}

fn approved_usb_takeout() -> Directory {
    let mut dir = build(Variant::Clean);
    act(&mut dir, "r1", "s04", TakeoutAction::Request(request("T-3", "S04", usb()))).unwrap();
    act(&mut dir, "a1", "s02", approve("T-3", "S02")).unwrap();
    act(&mut dir, "t1", "s04", TakeoutAction::Take { id: "T-3".into(), on: d(2024, 5, 1) }).unwrap();
    dir
}

fn obs(account: &str, day: u32, channel: Channel, records: Option<u64>) -> Observed {
    Observed { event_id: None, at: at(2024, 5, day), date: d(2024, 5, day), account: account.into(), channel, records }
}

fn usb_write(serial: &str) -> Channel {
    Channel::Usb { vendor_id: "781".into(), product_id: "0x5567".into(), serial: serial.into() }
}

#[test]
fn reconciliation_matches_and_mismatches() {
    let dir = approved_usb_takeout();
    let matched = |o: &Observed| dir.reconcile_one(o);
    // The approved write: same person, device (IDs in any hex form), window, count.
    assert_eq!(matched(&obs("S04", 2, usb_write("4C530001"), None)), Reconciled::Matched { takeout: "T-3".into() });
    // A domain the roster never uses is not the city's: not attributed to s04 by name alone.
    assert_eq!(matched(&obs("PC01\\s04", 2, usb_write("4C530001"), None)), Reconciled::Unmatched(Unmatched::UnknownAccount));
    assert_eq!(
        matched(&obs("s04", 2, Channel::Export { system: Some("juki".into()) }, Some(120))),
        Reconciled::Matched { takeout: "T-3".into() }
    );
    assert!(dir.approved_takeout("S04", &usb_write("4C530001"), d(2024, 5, 2), Some(100)).is_some());
    // More records than approved.
    assert_eq!(
        matched(&obs("s04", 2, Channel::Export { system: None }, Some(31_429))),
        Reconciled::Unmatched(Unmatched::MoreRecords { takeout: "T-3".into(), approved: 120, observed: 31_429 })
    );
    // Another device.
    assert_eq!(matched(&obs("s04", 2, usb_write("OTHER"), None)), Reconciled::Unmatched(Unmatched::NoRequest));
    // After the period.
    assert_eq!(
        matched(&obs("s04", 20, usb_write("4C530001"), None)),
        Reconciled::Unmatched(Unmatched::OutsidePeriod { takeout: "T-3".into() })
    );
    // Someone else with the same device.
    assert_eq!(matched(&obs("s05", 2, usb_write("4C530001"), None)), Reconciled::Unmatched(Unmatched::NoRequest));
    // An account of nobody.
    assert_eq!(matched(&obs("ghost", 2, usb_write("4C530001"), None)), Reconciled::Unmatched(Unmatched::UnknownAccount));
}

#[test]
fn kamaishi_oral_approval_leaves_the_export_unmatched() {
    let mut dir = build(Variant::Clean);
    // Requested but never approved in the system ("the 課長 said yes").
    act(&mut dir, "r1", "s04", TakeoutAction::Request(request("T-4", "S04", Medium::Mail { to: "tokei@pref.example.jp".into() }))).unwrap();
    let mail = Channel::Mail { to: vec!["tokei@pref.example.jp".into()] };
    assert_eq!(
        dir.reconcile_one(&obs("s04", 2, mail.clone(), None)),
        Reconciled::Unmatched(Unmatched::NotApproved { takeout: "T-4".into(), state: TakeoutState::Requested })
    );
    act(&mut dir, "a1", "s02", approve("T-4", "S02")).unwrap();
    assert_eq!(dir.reconcile_one(&obs("s04", 2, mail, None)), Reconciled::Matched { takeout: "T-4".into() });
    // A mail to the approved address plus a private one is not covered.
    let extra = Channel::Mail { to: vec!["tokei@pref.example.jp".into(), "me@gmail.com".into()] };
    assert_eq!(dir.reconcile_one(&obs("s04", 2, extra, None)), Reconciled::Unmatched(Unmatched::NoRequest));
}

#[test]
fn states_and_reminders() {
    let mut dir = approved_usb_takeout();
    // Not returned after the period: a reminder.
    let rem = dir.takeout_reminders(d(2024, 5, 13));
    assert_eq!(rem.len(), 1);
    assert_eq!((rem[0].takeout.as_str(), rem[0].days_overdue), ("T-3", 3));
    assert!(dir.takeout_reminders(d(2024, 5, 10)).is_empty(), "due on the last day, not before");
    // Erasure needs a note; return before taking is refused; then returned, no reminder.
    let e = act(&mut dir, "e0", "s04", TakeoutAction::Erase { id: "T-3".into(), on: d(2024, 5, 9), note: " ".into() });
    assert!(e.is_err());
    act(&mut dir, "e1", "s04", TakeoutAction::Erase { id: "T-3".into(), on: d(2024, 5, 9), note: "媒体初期化、課長確認 / wiped, checked".into() }).unwrap();
    assert_eq!(dir.takeout("T-3").unwrap().state, TakeoutState::Erased);
    assert!(dir.takeout_reminders(d(2024, 5, 13)).is_empty());
    // A write after the erasure is not covered.
    assert!(matches!(dir.reconcile_one(&obs("s04", 10, usb_write("4C530001"), None)), Reconciled::Unmatched(_)));
    // Transitions out of order are refused.
    assert!(act(&mut dir, "t2", "s04", TakeoutAction::Take { id: "T-3".into(), on: d(2024, 5, 9) }).is_err());
    let mut fresh = build(Variant::Clean);
    act(&mut fresh, "r1", "s04", TakeoutAction::Request(request("T-5", "S04", Medium::Paper))).unwrap();
    assert!(act(&mut fresh, "x", "s04", TakeoutAction::Return { id: "T-5".into(), on: d(2024, 5, 2), note: String::new() }).is_err());
    act(&mut fresh, "rj", "s02", TakeoutAction::Reject { id: "T-5".into(), approver: "S02".into(), on: d(2024, 4, 26), note: "目的不明".into() }).unwrap();
    assert!(act(&mut fresh, "a", "s01", approve("T-5", "S01")).is_err(), "rejected is final");
}

#[test]
fn kenmu_kacho_may_approve_for_the_concurrent_department() {
    let mut dir = build(Variant::Clean);
    let on = d(2024, 4, 26);
    assert!(dir.check_approver("S16", "S04", on).is_err(), "保険年金課長 is not in 市民課's line");
    // From 4/15 the 保険年金課長 is also 市民課長 (兼務).
    let kenmu = format!("{}S16,保険課長,,2010,市民課,課長,2024-04-15,兼務,,\n", org::HEADER);
    dir.apply(&mamori_directory::ImportRecord::from_csv("roster-2", kenmu.as_bytes(), at(2024, 4, 15), None)).unwrap();
    assert_eq!(dir.check_approver("S16", "S04", on), Ok(()));
    assert!(dir.check_approver("S16", "S04", d(2024, 4, 14)).is_err(), "not before the 兼務 began");
}
