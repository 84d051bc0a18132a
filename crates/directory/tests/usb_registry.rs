//! The registered removable media ledger (USB 管理台帳): lookups on a day, CSV import (UTF-8 and
//! CP932, malformed rows), deterministic replay, and the USBGuard rule file.

use chrono::NaiveDate;
use mamori_directory::{
    Owner, SourceEncoding, UsbColumn, UsbError, UsbKind, UsbProblem, UsbRecord, UsbRegistry,
    UsbStatus, UsbVerdict, usbguard_escape, usbguard_rules,
};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[allow(clippy::too_many_arguments)]
fn reg(
    id: &str,
    v: &str,
    p: &str,
    serial: &str,
    kind: UsbKind,
    owner: Owner,
    date: &str,
    note: &str,
) -> UsbRecord {
    UsbRecord::Registered {
        id: id.into(),
        vendor_id: v.into(),
        product_id: p.into(),
        serial: serial.into(),
        kind,
        owner,
        date: d(date),
        note: note.into(),
    }
}

fn status(id: &str, s: UsbStatus, date: &str, note: &str) -> UsbRecord {
    UsbRecord::StatusChanged {
        id: id.into(),
        status: s,
        date: d(date),
        note: note.into(),
    }
}

/// Hiratsuka: the leaver's ordinary stick was never registered; a registered secure stick is
/// fine; a lost stick is flagged from the day it was reported lost, not before.
#[test]
fn hiratsuka_unregistered_usb_stick() {
    let records = vec![
        reg(
            "USB-001",
            "0781",
            "5567",
            "4C530001",
            UsbKind::Secure,
            Owner::Department("0101".into()),
            "2023-04-01",
            "",
        ),
        reg(
            "USB-002",
            "090C",
            "1000",
            "AA00112233",
            UsbKind::Secure,
            Owner::Person("12345".into()),
            "2023-04-01",
            "",
        ),
        status("USB-002", UsbStatus::Lost, "2024-05-20", "庁舎外で紛失"),
    ];
    let r = UsbRegistry::replay(&records).unwrap();
    let day = d("2024-06-01");

    // The ordinary stick from the electronics shop.
    assert_eq!(
        r.lookup("0951", "1666", "E0D55EA574D1", day),
        UsbVerdict::Unregistered
    );
    // Same model as a registered stick but another serial: still unregistered.
    assert_eq!(
        r.lookup("0781", "5567", "4C530002", day),
        UsbVerdict::Unregistered
    );
    // Serials are exact: case matters.
    assert_eq!(
        r.lookup("0781", "5567", "4c530001", day),
        UsbVerdict::Unregistered
    );

    // The registered secure stick, with IDs as events may spell them.
    for (v, p) in [("0781", "5567"), ("0x0781", "0x5567"), ("781", "5567")] {
        match r.lookup(v, p, "4C530001", day) {
            UsbVerdict::Registered(dev) => {
                assert_eq!(dev.registration_id, "USB-001");
                assert_eq!(dev.kind, UsbKind::Secure);
            }
            other => panic!("{v}:{p}: {other:?}"),
        }
    }
    // Before its registration it was not on the ledger.
    assert_eq!(
        r.lookup("0781", "5567", "4C530001", d("2023-03-31")),
        UsbVerdict::Unregistered
    );

    // The lost one: registered before the report, lost from the report's date.
    let lost = |date| r.lookup("090c", "1000", "AA00112233", d(date));
    assert!(
        matches!(lost("2024-05-19"), UsbVerdict::Registered(dev) if dev.registration_id == "USB-002")
    );
    match lost("2024-05-20") {
        UsbVerdict::LostOrDisposed(dev) => {
            assert_eq!(dev.status, UsbStatus::Lost);
            assert_eq!(dev.status_changed_on, d("2024-05-20"));
            assert_eq!(dev.note, "庁舎外で紛失");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(lost("2025-01-01"), UsbVerdict::LostOrDisposed(_)));
    // Invalid hex in an event is simply not a registered device.
    assert_eq!(
        r.lookup("zz", "1000", "AA00112233", day),
        UsbVerdict::Unregistered
    );
}

#[test]
fn found_again_and_disposed_is_final() {
    let mut r = UsbRegistry::new();
    r.apply(&reg(
        "U1",
        "0781",
        "5567",
        "S1",
        UsbKind::Encrypted,
        Owner::Person("1".into()),
        "2023-04-01",
        "",
    ))
    .unwrap();
    r.apply(&status("U1", UsbStatus::Lost, "2023-06-01", ""))
        .unwrap();
    r.apply(&status("U1", UsbStatus::Active, "2023-06-10", "発見"))
        .unwrap();
    assert!(matches!(
        r.lookup("0781", "5567", "S1", d("2023-06-05")),
        UsbVerdict::LostOrDisposed(_)
    ));
    assert!(matches!(
        r.lookup("0781", "5567", "S1", d("2023-06-10")),
        UsbVerdict::Registered(_)
    ));
    r.apply(&UsbRecord::OwnerChanged {
        id: "U1".into(),
        owner: Owner::Person("2".into()),
        date: d("2023-07-01"),
        note: String::new(),
    })
    .unwrap();
    let dev = r.get("U1").unwrap();
    assert_eq!(dev.owner, Owner::Person("2".into()));
    assert_eq!(
        dev.owner_on(d("2023-06-30")),
        Some(&Owner::Person("1".into()))
    );
    r.apply(&status("U1", UsbStatus::Disposed, "2024-03-31", "破砕処理"))
        .unwrap();
    let before = r.clone();
    let e = r
        .apply(&status("U1", UsbStatus::Active, "2024-04-01", ""))
        .unwrap_err();
    assert_eq!(e, UsbError::AlreadyDisposed { id: "U1".into() });
    assert_eq!(r, before, "a refused record leaves the registry unchanged");
    assert!(
        matches!(r.lookup("0781", "5567", "S1", d("2024-04-01")), UsbVerdict::LostOrDisposed(d) if d.status == UsbStatus::Disposed)
    );
}

#[test]
fn refused_records_say_why_in_japanese_and_english() {
    let mut r = UsbRegistry::new();
    r.apply(&reg(
        "U1",
        "0781",
        "5567",
        "S1",
        UsbKind::Secure,
        Owner::Department("0101".into()),
        "2023-04-01",
        "",
    ))
    .unwrap();
    let before = r.clone();

    let e = r
        .apply(&reg(
            "U2",
            "0781",
            "5567",
            "S1",
            UsbKind::Secure,
            Owner::Department("0101".into()),
            "2023-05-01",
            "",
        ))
        .unwrap_err();
    assert!(matches!(&e, UsbError::DuplicateDevice { existing_id, .. } if existing_id == "U1"));
    assert_eq!(
        e.to_string(),
        "同じ媒体(0781:5567:S1)が管理番号U1で登録済みです / device 0781:5567:S1 is already registered as U1"
    );
    // Same device with the IDs spelt differently is still the same device.
    assert!(matches!(
        r.apply(&reg(
            "U2",
            "0X781",
            "5567",
            "S1",
            UsbKind::Secure,
            Owner::Department("0101".into()),
            "2023-05-01",
            ""
        )),
        Err(UsbError::DuplicateDevice { .. })
    ));
    assert!(matches!(
        r.apply(&reg(
            "U1",
            "0781",
            "5567",
            "S9",
            UsbKind::Secure,
            Owner::Department("0101".into()),
            "2023-05-01",
            ""
        )),
        Err(UsbError::DuplicateId { .. })
    ));

    let e = r
        .apply(&status("U9", UsbStatus::Lost, "2023-05-01", ""))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "管理番号U9は台帳にありません / no device with registration id U9"
    );

    let e = r
        .apply(&reg(
            "U3",
            "07G1",
            "5567",
            "S3",
            UsbKind::Secure,
            Owner::Department("0101".into()),
            "2023-05-01",
            "",
        ))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ベンダーIDが16進数4桁ではありません(07G1) / vendor ID is not 4 hexadecimal digits (07G1)"
    );
    assert!(matches!(
        r.apply(&reg(
            "U3",
            "0781",
            "12345",
            "S3",
            UsbKind::Secure,
            Owner::Department("0101".into()),
            "2023-05-01",
            ""
        )),
        Err(UsbError::InvalidHex { .. })
    ));
    assert_eq!(
        r.apply(&reg(
            "U3",
            "0781",
            "5567",
            "",
            UsbKind::Secure,
            Owner::Department("0101".into()),
            "2023-05-01",
            ""
        )),
        Err(UsbError::EmptySerial)
    );
    assert!(matches!(
        r.apply(&status("U1", UsbStatus::Lost, "2023-03-01", "")),
        Err(UsbError::BeforeRegistration { .. })
    ));
    assert_eq!(r, before);
}

#[test]
fn replay_is_deterministic() {
    let records = vec![
        reg(
            "B-2",
            "0781",
            "5567",
            "S2",
            UsbKind::Secure,
            Owner::Person("2".into()),
            "2023-04-01",
            "",
        ),
        reg(
            "A-1",
            "0781",
            "5567",
            "S1",
            UsbKind::Secure,
            Owner::Person("1".into()),
            "2023-04-01",
            "",
        ),
        status("A-1", UsbStatus::Lost, "2023-09-01", "first"),
        // Recorded later but dated earlier: history is by date, so on 2023-08-15 it was lost.
        status("A-1", UsbStatus::Lost, "2023-08-15", ""),
        // Two changes on the same day: the later record wins.
        status("B-2", UsbStatus::Lost, "2023-10-01", ""),
        status("B-2", UsbStatus::Active, "2023-10-01", "同日中に発見"),
    ];
    let json = serde_json::to_string(&records).unwrap();
    let back: Vec<UsbRecord> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, records);
    let a = UsbRegistry::replay(&records).unwrap();
    let b = UsbRegistry::replay(&back).unwrap();
    assert_eq!(a, b);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(
        usbguard_rules(&a, d("2023-12-01")),
        usbguard_rules(&b, d("2023-12-01"))
    );
    let ids: Vec<_> = a.devices().map(|d| d.registration_id.as_str()).collect();
    assert_eq!(ids, ["A-1", "B-2"]);
    assert!(matches!(
        a.lookup("0781", "5567", "S1", d("2023-08-15")),
        UsbVerdict::LostOrDisposed(_)
    ));
    assert!(matches!(
        a.lookup("0781", "5567", "S2", d("2023-10-01")),
        UsbVerdict::Registered(_)
    ));
    assert_eq!(a.get("A-1").unwrap().status_changed_on, d("2023-09-01"));

    // The record with a bad one in the middle: replay says which.
    let mut bad = records.clone();
    bad.insert(1, status("ZZ", UsbStatus::Lost, "2023-05-01", ""));
    let e = UsbRegistry::replay(&bad).unwrap_err();
    assert_eq!(e.index, 1);
    assert!(
        e.to_string()
            .starts_with("2件目の記録: 管理番号ZZは台帳にありません")
    );
}

const HEADER: &str = "管理番号,ベンダーID,製品ID,シリアル,種別,所有者,状態,登録日,備考\r\n";

#[test]
fn csv_import_cp932_with_malformed_rows() {
    let body = format!(
        "{HEADER}\
         USB-001,0781,5567,4C530001,セキュアUSB,所属:0101,使用中,令和5年4月1日,総務課共用\r\n\
         USB-002,90C,1000,AA 0011 2233,暗号化USB,職員:12345,紛失,R5.4.1,髙橋さん貸与\r\n\
         USB-003,07G1,5567,X1,セキュアUSB,職員:1,使用中,2023-04-01,\r\n\
         USB-004,0781,5567,1.23457E+15,一般,田中,不明,平成31年5月1日,\r\n\
         USB-005,0781,5567,4C530001,セキュアUSB,所属:0102,使用中,2023/4/2,重複\r\n\
         USB-006,0781,5567\r\n\
         USB-007,ＡＢＣＤ,０００１,Z 9,セキュア,所属：0103,廃棄,2023/4/1,\r\n"
    );
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&body);
    assert!(!unmappable);
    let mut r = UsbRegistry::new();
    let imp = r.import_csv(&bytes, d("2024-06-01"));
    assert_eq!(imp.encoding, Some(SourceEncoding::Cp932));
    assert_eq!(imp.applied, 3, "{:#?}", imp.errors);

    let dev1 = r.get("USB-001").unwrap();
    assert_eq!(
        (dev1.vendor_id.as_str(), dev1.product_id.as_str()),
        ("0781", "5567")
    );
    assert_eq!(dev1.registered_on, d("2023-04-01"));
    assert_eq!(dev1.note, "総務課共用");
    let dev2 = r.get("USB-002").unwrap();
    assert_eq!(dev2.vendor_id, "090c");
    assert_eq!(dev2.serial, "AA 0011 2233");
    assert_eq!(dev2.owner, Owner::Person("12345".into()));
    assert_eq!(dev2.note, "髙橋さん貸与");
    // No 状態変更日 column: lost as of the import's date.
    assert!(matches!(
        r.lookup("090c", "1000", "AA 0011 2233", d("2024-05-31")),
        UsbVerdict::Registered(_)
    ));
    assert!(matches!(
        r.lookup("090c", "1000", "AA 0011 2233", d("2024-06-01")),
        UsbVerdict::LostOrDisposed(_)
    ));
    let dev7 = r.get("USB-007").unwrap();
    assert_eq!(
        (dev7.vendor_id.as_str(), dev7.product_id.as_str()),
        ("abcd", "0001")
    );
    assert_eq!(dev7.owner, Owner::Department("0103".into()));
    assert_eq!(dev7.status, UsbStatus::Disposed);

    let errs: Vec<(u64, Option<UsbColumn>)> =
        imp.errors.iter().map(|e| (e.row, e.column)).collect();
    assert_eq!(
        errs,
        [
            (4, Some(UsbColumn::VendorId)),
            (5, Some(UsbColumn::Serial)),
            (5, Some(UsbColumn::Owner)),
            (5, Some(UsbColumn::Status)),
            (5, Some(UsbColumn::RegisteredOn)),
            (6, None),
            (7, None),
        ],
        "{:#?}",
        imp.errors
    );
    assert_eq!(
        imp.errors[0].to_string(),
        "4行目「ベンダーID」: 16進数4桁ではありません(07G1)/ row 4, column ベンダーID: not 4 hexadecimal digits"
    );
    assert_eq!(imp.errors[1].problem, UsbProblem::ExcelNumber);
    assert!(matches!(imp.errors[4].problem, UsbProblem::BadDate(_)));
    assert!(imp.errors[4].to_string().contains("平成の期間外です"));
    assert!(
        matches!(&imp.errors[5].problem, UsbProblem::Registry(UsbError::DuplicateDevice { existing_id, .. }) if existing_id == "USB-001")
    );
    assert!(
        imp.errors[5]
            .to_string()
            .starts_with("6行目: 同じ媒体(0781:5567:4C530001)が管理番号USB-001で登録済みです")
    );
    assert_eq!(
        imp.errors[6].problem,
        UsbProblem::FieldCount {
            found: 3,
            expected: 9
        }
    );
}

#[test]
fn csv_import_utf8_bom_with_status_date_column() {
    let body = "\u{FEFF}管理番号,ベンダーID,製品ID,シリアル,種別,所有者,状態,登録日,備考,状態変更日\n\
                U1,0781,5567,S1,secure,staff:9,lost,2023-04-01,,令和5年8月1日\n";
    let mut r = UsbRegistry::new();
    let imp = r.import_csv(body.as_bytes(), d("2024-06-01"));
    assert_eq!(imp.encoding, Some(SourceEncoding::Utf8Bom));
    assert!(imp.errors.is_empty(), "{:?}", imp.errors);
    assert!(matches!(
        r.lookup("0781", "5567", "S1", d("2023-07-31")),
        UsbVerdict::Registered(_)
    ));
    assert!(matches!(
        r.lookup("0781", "5567", "S1", d("2023-08-01")),
        UsbVerdict::LostOrDisposed(_)
    ));

    let missing = r.import_csv("管理番号,ベンダーID\nU2,0781\n".as_bytes(), d("2024-06-01"));
    assert_eq!(missing.applied, 0);
    assert!(
        missing
            .errors
            .iter()
            .all(|e| e.row == 1 && e.problem == UsbProblem::MissingColumn)
    );
    assert_eq!(missing.errors.len(), 6);
}

#[test]
fn usbguard_escaping() {
    assert_eq!(usbguard_escape(r#"a "q" \x"#), r#"a \"q\" \\x"#);
    assert_eq!(usbguard_escape("a\tb\n"), r"a\x09b\x0a");
    assert_eq!(usbguard_escape("あ"), r"\xe3\x81\x82");
}

/// A small registry: serials with spaces, quotes and a backslash; Japanese notes with a newline;
/// one lost and one disposed stick; one registered after the day.
pub fn golden_registry() -> UsbRegistry {
    UsbRegistry::replay(&[
        reg(
            "USB-001",
            "0781",
            "5567",
            "4C530001 2301",
            UsbKind::Secure,
            Owner::Department("0101".into()),
            "2023-04-01",
            "総務課共用\n金庫保管",
        ),
        reg(
            "USB-002",
            "090C",
            "1000",
            r#"AB"12\34"#,
            UsbKind::Encrypted,
            Owner::Person("12345".into()),
            "2023-04-01",
            "",
        ),
        reg(
            "USB-003",
            "0951",
            "1666",
            "E0D55EA574D1",
            UsbKind::Secure,
            Owner::Person("23456".into()),
            "2023-04-01",
            "「紛失」届出済",
        ),
        status("USB-003", UsbStatus::Lost, "2024-01-10", "庁舎外で紛失"),
        reg(
            "USB-004",
            "0781",
            "5581",
            "S-004",
            UsbKind::Ordinary,
            Owner::Department("0202".into()),
            "2023-04-01",
            "",
        ),
        status("USB-004", UsbStatus::Disposed, "2024-03-31", ""),
        reg(
            "USB-005",
            "0781",
            "5567",
            "FUTURE",
            UsbKind::Secure,
            Owner::Department("0101".into()),
            "2024-07-01",
            "",
        ),
    ])
    .unwrap()
}

#[test]
fn usbguard_rules_golden() {
    let got = usbguard_rules(&golden_registry(), d("2024-04-01"));
    let expected = GOLDEN;
    assert_eq!(got, expected, "\n--- got ---\n{got}");
}

/// Checked with `usbguard-rule-parser -f` (USBGuard 1.1.2, Debian 12) before being pasted here;
/// `crates/mamori/tests/usbguard.rs` re-checks generated files with the real tool.
const GOLDEN: &str = r#"# mamori: USB管理台帳から生成した USBGuard 規則 / USBGuard rules generated from the registered removable media ledger
# 基準日 / as of: 2024-04-01
# 許可: 使用中の登録媒体 2 台 / allowed: 2 active registered devices
# 最後の block 規則が未登録の大容量記憶装置をすべて遮断します / the final block rule blocks every other mass-storage device
# usbguard-daemon.conf には ImplicitPolicyTarget=block を設定してください / set ImplicitPolicyTarget=block in usbguard-daemon.conf

# USB-001 セキュアUSB 所属:0101 備考: 総務課共用 金庫保管
allow id 0781:5567 serial "4C530001 2301" with-interface equals { 08:*:* } label "USB-001"

# USB-002 暗号化USB 職員:12345
allow id 090c:1000 serial "AB\"12\\34" with-interface equals { 08:*:* } label "USB-002"

# 除外 / excluded: USB-003 紛失 (2024-01-10 lost)

# 除外 / excluded: USB-004 廃棄 (2024-03-31 disposed)

# 上記以外の大容量記憶装置を遮断 / block every other mass-storage device
block with-interface one-of { 08:*:* }
"#;
