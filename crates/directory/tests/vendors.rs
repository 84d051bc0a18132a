//! Vendors (委託先): the deletion certificate due after the contract (Isetō: a subcontractor
//! kept the data; Kanagawa: leased disks resold without proof of erasure).

mod org;

use mamori_directory::vendor::VendorReminderKind;
use mamori_directory::{Directory, DirectoryChange, VendorAction, VendorContract};
use org::{d, rec};

fn contract() -> VendorContract {
    VendorContract {
        id: "K-2024-07".into(),
        vendor: "株式会社イセトー".into(),
        subject: "納税通知書の印刷・封入".into(),
        from: d(2024, 4, 1),
        until: d(2024, 6, 30),
        certificate_due: None,
        department: "1010".into(),
    }
}

#[test]
fn iseto_missing_deletion_certificate_becomes_a_reminder() {
    let mut dir = Directory::new();
    let v = |dir: &mut Directory, id: &str, a: VendorAction| dir.apply_record(&rec(id, "zeimu-k", DirectoryChange::Vendor(a)));
    v(&mut dir, "c1", VendorAction::Contract(contract())).unwrap();
    v(&mut dir, "h1", VendorAction::Handover { id: "K-2024-07".into(), on: d(2024, 5, 1), data: "課税データ".into(), records: Some(52_000) }).unwrap();
    assert!(dir.vendor_reminders(d(2024, 6, 30)).is_empty(), "nothing due while the contract runs");
    let soon = dir.vendor_reminders(d(2024, 7, 15));
    assert_eq!(soon.len(), 1);
    assert_eq!(soon[0].kind, VendorReminderKind::CertificateDueSoon { due: d(2024, 7, 30) });
    let late = dir.vendor_reminders(d(2024, 8, 9));
    assert_eq!(late[0].kind, VendorReminderKind::CertificateOverdue { due: d(2024, 7, 30), days: 10 });
    assert!(late[0].message().contains("消去証明書が未提出"), "{}", late[0].message());
    // Data handed over after the contract ended is flagged too.
    v(&mut dir, "h2", VendorAction::Handover { id: "K-2024-07".into(), on: d(2024, 7, 5), data: "追加分".into(), records: None }).unwrap();
    assert!(dir.vendor_reminders(d(2024, 8, 9)).iter().any(|r| r.kind == VendorReminderKind::HandoverOutsideContract { on: d(2024, 7, 5) }));
    // The certificate arrives: the overdue reminder ends; a second one is refused.
    v(&mut dir, "z1", VendorAction::Certificate { id: "K-2024-07".into(), on: d(2024, 8, 10), note: "証明書 No.123".into() }).unwrap();
    assert!(!dir.vendor_reminders(d(2024, 8, 11)).iter().any(|r| matches!(r.kind, VendorReminderKind::CertificateOverdue { .. })));
    assert!(v(&mut dir, "z2", VendorAction::Certificate { id: "K-2024-07".into(), on: d(2024, 8, 12), note: "again".into() }).is_err());
    let vend = dir.vendors().next().unwrap();
    assert_eq!(vend.handovers[0].by, "zeimu-k");
    assert_eq!(vend.certificate.as_ref().unwrap().2, "zeimu-k");
    // Unknown contract, bad period.
    assert!(v(&mut dir, "h9", VendorAction::Handover { id: "NOPE".into(), on: d(2024, 5, 1), data: "x".into(), records: None }).is_err());
    let mut bad = contract();
    bad.id = "K-bad".into();
    bad.until = d(2024, 3, 1);
    assert!(v(&mut dir, "c9", VendorAction::Contract(bad)).is_err());
}
