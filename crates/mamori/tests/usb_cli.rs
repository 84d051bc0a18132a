//! The USB 管理台帳 through the CLI: imports are ledgered (and replayed), refused rows name row
//! and column, and `mamori usb-rules` writes USBGuard rules that the real `usbguard-rule-parser`
//! accepts — allowing the registered active stick, not the lost one.

mod common;

use common::{mamori, run_ok};
use std::process::Command;

#[test]
fn usb_registry_import_is_ledgered_and_rules_parse() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let csv = tmp.path().join("usb.csv");
    std::fs::write(
        &csv,
        "管理番号,ベンダーID,製品ID,シリアル,種別,所有者,状態,登録日,備考,状態変更日\n\
         USB-001,0781,5567,4C530001,セキュアUSB,所属:0101,使用中,令和5年4月1日,総務課共用,\n\
         USB-002,0951,1666,AA11BB22,一般,職員:1001,紛失,2023-04-01,,2024-01-10\n\
         USB-003,07G1,5567,X,一般,所属:0101,使用中,2023-04-01,,\n",
    )
    .unwrap();
    let out = mamori().args(["usb-import", "--data"]).arg(&data).arg(&csv).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("registered 2"), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("4行目「ベンダーID」"), "{}", String::from_utf8_lossy(&out.stderr));
    // Importing the same file again: the registry was rebuilt from the ledger, so the devices
    // are duplicates now.
    let again = mamori().args(["usb-import", "--data"]).arg(&data).arg(&csv).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("registered 0"), "{}", String::from_utf8_lossy(&again.stdout));

    let rules = run_ok(mamori().args(["usb-rules", "--date", "2024-06-01", "--data"]).arg(&data));
    assert!(rules.contains("allow id 0781:5567 serial \"4C530001\""), "{rules}");
    assert!(!rules.contains("allow id 0951:1666"), "the lost stick must not be allowed: {rules}");
    let before_loss = run_ok(mamori().args(["usb-rules", "--date", "2023-12-01", "--data"]).arg(&data));
    assert!(before_loss.contains("allow id 0951:1666"), "{before_loss}");
    let file = tmp.path().join("rules.conf");
    std::fs::write(&file, &rules).unwrap();
    let parser = ["/usr/bin/usbguard-rule-parser", "/usr/sbin/usbguard-rule-parser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("usbguard-rule-parser missing: run ./scripts/test.sh (Debian package usbguard)");
    let st = Command::new(parser).arg("-f").arg(&file).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    assert!(run_ok(mamori().args(["verify", "--data"]).arg(&data)).contains("verified"));
}
