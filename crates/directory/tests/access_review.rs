//! The access review on a small fixture organisation: it finds the Hiratsuka condition (a
//! leaver's account still enabled), the Kamaishi conditions (a transferred member of staff
//! keeping register access; register access for most of the staff), a dormant, a generic and
//! an unknown account — and nothing on the clean variant. The sign-off is tied to the findings.

mod org;

use mamori_directory::{DirectoryChange, FindingKind, ReviewParams, SignOff};
use org::{Variant, build, d, rec, review_day};

fn ids(kind: FindingKind, r: &mamori_directory::AccessReview) -> Vec<String> {
    r.findings.iter().filter(|f| f.kind == kind).map(|f| f.id.clone()).collect()
}

#[test]
fn hiratsuka_leaver_account_still_enabled() {
    let dir = build(Variant::Troubled);
    let r = dir.review_access(review_day(), &ReviewParams::default());
    let leavers: Vec<_> = r.findings.iter().filter(|f| f.kind == FindingKind::LeaverAccess).collect();
    assert_eq!(leavers.len(), 1, "{leavers:?}");
    let f = leavers[0];
    assert_eq!(f.account.as_deref(), Some("s20"));
    assert_eq!(f.staff_id.as_deref(), Some("S20"));
    assert!(f.message.contains("2024-03-31") && f.message.contains("有効"), "{}", f.message);
    assert!(f.message.contains("system:juki"), "the register grant is listed: {}", f.message);
    // On the retirement day itself the account is a current employee's: no leaver finding.
    let on_last_day = dir.review_access(d(2024, 3, 31), &ReviewParams::default());
    assert!(ids(FindingKind::LeaverAccess, &on_last_day).is_empty());
}

#[test]
fn kamaishi_transferred_staff_keeps_register_access() {
    let dir = build(Variant::Troubled);
    let r = dir.review_access(review_day(), &ReviewParams::default());
    let a: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::UnjustifiedGrant && f.account.as_deref() == Some("s12"))
        .collect();
    let resources: Vec<&str> = a.iter().filter_map(|f| f.resource.as_deref()).collect();
    assert!(resources.contains(&"system:juki"), "{resources:?}");
    assert!(resources.contains(&"share:shimin") && resources.contains(&"ldap-group:shimin"), "{resources:?}");
    let juki = a.iter().find(|f| f.resource.as_deref() == Some("system:juki")).unwrap();
    assert_eq!(juki.transferred_from.as_deref(), Some("市民課(2010)"), "names the old department");
    assert!(juki.message.contains("異動前"), "{}", juki.message);
    // 総務課 and 保険年金課 staff with register access are unjustified but not transfers.
    let somu = r.findings.iter().find(|f| f.id == "unjustified_grant:s07:system:juki").expect("s07");
    assert_eq!(somu.transferred_from, None);
    // 市民課 staff are entitled, through 市民課 itself or its parent 市民部.
    for ok in ["s02", "s03", "s04", "s05", "s01"] {
        assert!(
            !r.findings.iter().any(|f| f.kind == FindingKind::UnjustifiedGrant && f.account.as_deref() == Some(ok)),
            "{ok} is entitled"
        );
    }
    // Before the transfer, staff A's register access was justified.
    let before = dir.review_access(d(2023, 3, 31), &ReviewParams::default());
    assert!(!before.findings.iter().any(|f| f.id == "unjustified_grant:s12:system:juki"));
}

#[test]
fn kamaishi_register_access_unusually_wide() {
    let dir = build(Variant::Troubled);
    let r = dir.review_access(review_day(), &ReviewParams::default());
    let wide = r.findings.iter().find(|f| f.id == "wide_access:system:juki").expect("wide access on the register");
    assert_eq!(wide.holders, Some((12, 19)), "12 of 19 employed staff hold it");
    let not_entitled: Vec<&str> = wide.by_department.iter().filter(|d| !d.3).map(|d| d.0.as_str()).collect();
    assert_eq!(not_entitled, vec!["総務課(1010)", "保険年金課(2020)", "観光課(3010)"]);
    assert!(wide.message.contains("12") && wide.message.contains("19"));
    // With a higher threshold it is not wide.
    let lax = dir.review_access(review_day(), &ReviewParams { wide_percent: 70, ..Default::default() });
    assert!(ids(FindingKind::WideAccess, &lax).is_empty());
}

#[test]
fn dormant_generic_and_unknown_accounts() {
    let dir = build(Variant::Troubled);
    let r = dir.review_access(review_day(), &ReviewParams::default());
    assert_eq!(ids(FindingKind::DormantAccount, &r), vec!["dormant_account:s15"]);
    assert_eq!(ids(FindingKind::GenericAccount, &r), vec!["generic_account:kyotsu01"]);
    assert_eq!(ids(FindingKind::UnknownAccount, &r), vec!["unknown_account:tmp.contractor"]);
    let unknown = dir.unknown_accounts(review_day());
    let names: Vec<&str> = unknown.iter().map(|u| u.account.as_str()).collect();
    assert_eq!(names, vec!["kyotsu01", "tmp.contractor"], "generic ones are listed too, flagged");
    assert!(unknown[0].generic && !unknown[1].generic);
    assert_eq!(unknown[1].enabled, Some(true));
    // 200 days is not dormant at a 365-day threshold.
    let lax = dir.review_access(review_day(), &ReviewParams { dormant_days: 365, ..Default::default() });
    assert!(ids(FindingKind::DormantAccount, &lax).is_empty());
}

#[test]
fn clean_organisation_has_no_findings() {
    let dir = build(Variant::Clean);
    let r = dir.review_access(review_day(), &ReviewParams::default());
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.employed, 19);
    assert!(r.accounts >= 20, "the review looked at the accounts: {}", r.accounts);
}

#[test]
fn sign_off_is_tied_to_the_findings() {
    let mut dir = build(Variant::Troubled);
    let params = ReviewParams::default();
    let r = dir.review_access(review_day(), &params);
    let mut comments = std::collections::BTreeMap::new();
    comments.insert("leaver_access:s20".to_owned(), "4/10 アカウント停止を依頼 / asked to disable".to_owned());
    let sign = SignOff {
        as_of: review_day(),
        params,
        reviewer: "情報政策課長".into(),
        signed_on: d(2024, 4, 11),
        findings_sha256: r.findings_sha256.clone(),
        comments: comments.clone(),
        summary: String::new(),
    };
    // A comment on a finding that is not there is refused.
    let mut bad = sign.clone();
    bad.comments.insert("leaver_access:nobody".into(), "x".into());
    assert!(dir.apply_record(&rec("sign-bad", "cli", DirectoryChange::ReviewSignOff(bad))).is_err());
    // A sign-off of other findings (stale digest) is refused.
    let mut stale = sign.clone();
    stale.findings_sha256 = "00".repeat(32);
    assert!(dir.apply_record(&rec("sign-stale", "cli", DirectoryChange::ReviewSignOff(stale))).is_err());
    dir.apply_record(&rec("sign-1", "reviewer-k", DirectoryChange::ReviewSignOff(sign))).unwrap();
    assert_eq!(dir.signoffs().len(), 1);
    assert_eq!(dir.signoffs()[0].0, "reviewer-k", "who did it is kept");
    assert_eq!(dir.signoffs()[0].1.comments, comments);
}

#[test]
fn review_csv_names_findings() {
    let dir = build(Variant::Troubled);
    let csv = dir.review_access(review_day(), &ReviewParams::default()).to_csv();
    assert!(csv.starts_with('\u{FEFF}'));
    assert!(csv.contains("leaver_access:s20") && csv.contains("退職者のアカウント"));
    assert_eq!(csv.lines().count(), 1 + dir.review_access(review_day(), &ReviewParams::default()).findings.len());
}

#[test]
fn kenmu_post_justifies_access_and_library_api() {
    let mut dir = build(Variant::Troubled);
    let day = review_day();
    assert!(dir.entitled("2010", "system:juki", day));
    assert!(dir.entitled("20", "share:shimin", day) && dir.entitled("2020", "share:shimin", day), "a 部's entitlement covers its 課");
    assert!(!dir.entitled("1010", "system:juki", day));
    assert!(dir.grants_of("s07", day).iter().any(|g| g.resource == "system:juki" && g.source == "juki"));
    // 総務課 S07 gets a 兼務 in 市民課 from 2024-04-01: the register grant is justified then.
    let kenmu = format!("{}S07,総務主事A,,2010,市民課,主事,2024-04-01,兼務,,\n", org::HEADER);
    dir.apply(&mamori_directory::ImportRecord::from_csv("roster-2", kenmu.as_bytes(), org::at(2024, 4, 2), None)).unwrap();
    let r = dir.review_access(day, &ReviewParams::default());
    assert!(!r.findings.iter().any(|f| f.id == "unjustified_grant:s07:system:juki"), "兼務 justifies it");
    assert!(r.findings.iter().any(|f| f.id == "unjustified_grant:s08:system:juki"), "the colleague without 兼務 still not");
    // The 兼務 市民課 post does not make S07 approvable by the 市民課長 for 総務課 work, but the
    // 市民課長 may approve for a 市民課 主事 while holding a 兼務 elsewhere.
    assert!(dir.check_approver("S02", "S07", day).is_err(), "the approver must be in the applicant's main 所属's line");
}
