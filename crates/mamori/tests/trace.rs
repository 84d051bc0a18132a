//! Leak tracing through the CLI: exports are fingerprinted (ledgered), a leaked subset is traced
//! back to the right export with the exporter's department and a verifiable inclusion proof; a
//! canary names the recipient with certainty; a share file version names who read it (Hirosaki,
//! from the real smbd full_audit capture); the watched export directory fingerprints new files.

mod common;

use common::{mamori, run_ok};
use mamori_trace::synth::{Resident, Rng, export_csv, population};
use serde_json::Value;
use std::path::Path;

const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\n\
2001,田中一郎,タナカイチロウ,210,市民課,主事,2020/4/1,採用,,tanaka.k\n\
2002,佐藤花子,サトウハナコ,310,税務課,主査,2019/4/1,採用,,sato.h\n";

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let roster = tmp.path().join("roster.csv");
    std::fs::write(&roster, ROSTER).unwrap();
    run_ok(mamori().args(["roster-import", "--data"]).arg(&data).arg(&roster));
    (tmp, data)
}

fn fingerprint(data: &Path, file: &Path, user: &str, channel: &str, extra: &[&str]) -> Value {
    let out = run_ok(mamori().args(["fingerprint", "--json", "--user", user, "--channel", channel]).args(extra).arg("--data").arg(data).arg(file));
    serde_json::from_str(out.trim()).unwrap()
}

fn subset(list: &[Resident], seed: u64) -> Vec<Resident> {
    let mut rng = Rng::new(seed);
    let mut l: Vec<Resident> = list.iter().filter(|_| rng.below(3) == 0).cloned().collect();
    l.reverse();
    l
}

#[test]
fn leaked_subset_traced_to_export_user_department_and_proof() {
    let (tmp, data) = setup();
    let people = population(42, 3000);
    let users = ["sato.h", "tanaka.k", "sato.h"];
    let mut ids = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let list: Vec<Resident> = people[i * 900..i * 900 + 600].to_vec();
        let f = tmp.path().join(format!("export{i}.csv"));
        std::fs::write(&f, export_csv(&list)).unwrap();
        let v = fingerprint(&data, &f, user, "business-system-csv", &["--system", "住民記録システム"]);
        assert_eq!(v["export"]["records"], 600);
        ids.push(v["export"]["export_id"].as_u64().unwrap());
    }
    let leak = tmp.path().join("leak.csv");
    std::fs::write(&leak, export_csv(&subset(&people[900..1500], 3))).unwrap();

    let out = run_ok(mamori().args(["trace", "--json", "--data"]).arg(&data).arg(&leak));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), vec!["candidates"]);
    let best = &v["candidates"][0];
    let keys: Vec<&String> = best.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["export_id", "user", "time", "channel", "matched", "leaked", "score", "proof"]);
    assert_eq!(best["export_id"].as_u64(), Some(ids[1]));
    assert_eq!(best["user"], "tanaka.k");
    assert_eq!(best["channel"], "business-system-csv");
    assert_eq!(best["matched"], best["leaked"]);
    assert!(best["score"].as_f64().unwrap() > 0.99);
    // The proof is of the export event: its entry is the fingerprinting, and it checks out.
    assert_eq!(best["proof"]["index"].as_u64(), Some(ids[1]));
    let ledgered = run_ok(mamori().args(["search", "--action", "export-fingerprinted", "--json", "--data"]).arg(&data));
    assert!(ledgered.lines().any(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_u64() == Some(ids[1])), "{ledgered}");
    let cli_proof: Value = serde_json::from_str(&run_ok(mamori().args(["proof", "inclusion", &ids[1].to_string(), "--json", "--data"]).arg(&data))).unwrap();
    assert_eq!(cli_proof["leaf_hash"], best["proof"]["leaf_hash"]);
    for c in v["candidates"].as_array().unwrap().iter().skip(1) {
        assert!(c["score"].as_f64().unwrap() < 0.1, "{c}");
    }

    let human = run_ok(mamori().args(["trace", "--data"]).arg(&data).arg(&leak));
    assert!(human.contains("市民課") && human.contains("田中一郎") && human.contains("包含証明"), "{human}");
    run_ok(mamori().args(["verify", "--data"]).arg(&data));
}

#[test]
fn canary_in_leaked_list_names_recipient_with_certainty() {
    let (tmp, data) = setup();
    let people = population(7, 400);
    let f = tmp.path().join("takeout.csv");
    std::fs::write(&f, export_csv(&people)).unwrap();
    let made = run_ok(mamori().args(["canary", "make", "--export", "takeout-2026-04", "--recipient", "委託先A社", "--count", "2", "--into"]).arg(&f).arg("--data").arg(&data));
    assert!(made.contains("canaries registered"), "{made}");
    fingerprint(&data, &f, "tanaka.k", "usb", &[]);
    // The leaked list: the canary rows only, retyped (one line each, 和暦 → ISO untouched).
    let text = std::fs::read_to_string(&f).unwrap();
    let tail: Vec<&str> = text.lines().rev().take(2).collect();
    let leak = tmp.path().join("found.txt");
    std::fs::write(&leak, tail.iter().map(|l| l.replace(',', " ")).collect::<Vec<_>>().join("\n")).unwrap();
    let out = run_ok(mamori().args(["trace", "--data"]).arg(&data).arg(&leak));
    assert!(out.contains("canary → certain") && out.contains("委託先A社") && out.contains("takeout-2026-04"), "{out}");
    // A list without canaries reports none.
    let plain = tmp.path().join("plain.csv");
    std::fs::write(&plain, export_csv(&people[..50])).unwrap();
    let out = run_ok(mamori().args(["trace", "--data"]).arg(&data).arg(&plain));
    assert!(!out.contains("canary → certain"), "{out}");
}

/// Hirosaki: the HR file on a share read by many. The file version is fingerprinted under its
/// share path; the read events are the real smbd vfs_full_audit capture (user `mamoritest1`
/// reading `/住民/台帳.txt` on share `juki`, crates/sources/tests/fixtures/samba).
#[test]
fn hirosaki_share_file_version_names_its_readers() {
    let (tmp, data) = setup();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/tests/fixtures/samba/smbd_4.17_rsyslog_rfc5424.log");
    run_ok(mamori().args(["ingest", "--format", "syslog", "--data"]).arg(&data).arg(&fixture));
    let staff = population(2700, 300);
    let f = tmp.path().join("daicho.csv");
    std::fs::write(&f, export_csv(&staff)).unwrap();
    fingerprint(&data, &f, "juki", "share", &["--name", "/住民/台帳.txt"]);
    let leak = tmp.path().join("press.csv");
    std::fs::write(&leak, export_csv(&subset(&staff, 9))).unwrap();
    let out = run_ok(mamori().args(["trace", "--data"]).arg(&data).arg(&leak));
    assert!(out.contains("経路 / channel share"), "{out}");
    assert!(out.contains("この版を読んだ人 / read this version: mamoritest1  2026-11-23T13:38"), "{out}");
}

#[test]
fn watched_export_directory_fingerprints_new_files_once() {
    let (tmp, data) = setup();
    let watch = tmp.path().join("exports");
    std::fs::create_dir(&watch).unwrap();
    let f = watch.join("tanaka.k__juki-ichiran.csv");
    std::fs::write(&f, export_csv(&population(3, 120))).unwrap();
    let status = std::process::Command::new("touch").args(["-d", "1 minute ago"]).arg(&f).status().unwrap();
    assert!(status.success());
    let out = run_ok(mamori().args(["exports-watch", "--once", "--dir"]).arg(&watch).arg("--data").arg(&data));
    assert!(out.contains("120") && out.contains("tanaka.k"), "{out}");
    // The second poll takes the directory from config.toml's [exports] watch_dir.
    let cfg = std::fs::read_to_string(data.join("config.toml")).unwrap();
    let line = format!("watch_dir = {:?}\n", watch.display().to_string());
    let cfg = if cfg.contains("[exports]\n") { cfg.replace("[exports]\n", &format!("[exports]\n{line}")) } else { format!("{cfg}\n[exports]\n{line}") };
    std::fs::write(data.join("config.toml"), cfg).unwrap();
    let again = run_ok(mamori().args(["exports-watch", "--once", "--data"]).arg(&data));
    assert!(!again.contains("fingerprinted"), "a file is fingerprinted once: {again}");
    let s = run_ok(mamori().args(["search", "--action", "export-fingerprinted", "--json", "--data"]).arg(&data));
    assert_eq!(s.lines().count(), 1, "{s}");
}

#[path = "../../milter/tests/support/postfix.rs"]
mod postfix_support;

/// `mamori milter` behind a real Postfix: a mail carrying a canary is held and the sighting is a
/// ledgered alert naming the export and the recipient.
#[test]
fn canary_mailed_through_postfix_is_ledgered_as_alert() {
    use postfix_support::{Postfix, available, free_port, swaks, wait_for};
    if !available() {
        return;
    }
    let (tmp, data) = setup();
    let f = tmp.path().join("list.csv");
    std::fs::write(&f, export_csv(&population(21, 80))).unwrap();
    run_ok(mamori().args(["canary", "make", "--export", "申請2026-017", "--recipient", "sato.h", "--into"]).arg(&f).arg("--data").arg(&data));
    let mport = free_port();
    let mut milter = mamori()
        .args(["milter", "--listen", &format!("127.0.0.1:{mport}"), "--data"])
        .arg(&data)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(|| std::net::TcpStream::connect(("127.0.0.1", mport)).is_ok(), "mamori milter listening");
    let pf = Postfix::start(tmp.path(), mport);
    let out = swaks(pf.smtp, "someone@press.example.com", &f, "meibo.csv");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let search = || run_ok(mamori().args(["search", "--action", "canary-sighted", "--json", "--data"]).arg(&data));
    wait_for(|| !search().trim().is_empty(), "a ledgered canary-sighted event");
    let hits: Vec<Value> = search().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let _ = milter.kill();
    let _ = milter.wait();
    assert!(!hits.is_empty());
    let ev = &hits[0]["event"];
    assert_eq!(ev["event"]["kind"], "alert");
    assert_eq!(ev["mamori"]["canary"]["export"], "申請2026-017");
    assert_eq!(ev["mamori"]["canary"]["recipient"], "sato.h");
    assert_eq!(ev["email"]["to"]["address"][0], "someone@press.example.com");
    wait_for(|| pf.queue().iter().any(|m| m["queue_name"] == "hold"), "the mail held by Postfix");
}

/// `mamori milter --internal-domain …` behind a real Postfix runs the personal-data scanner
/// (`mamori_pii::scan_bytes`): a resident list to an external address is held and ledgered as
/// `pii-mail-held`; mail inside the city passes; once a takeout (medium mail:<address>) is
/// approved by the applicant's 課長 for today, the same mail is delivered and ledgered as
/// `pii-mail-approved`.
#[test]
fn personal_data_mailed_outside_is_held_unless_a_takeout_approves() {
    use postfix_support::{Postfix, available, free_port, swaks, wait_for};
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(mamori().args(["init", "--data"]).arg(&data));
    let roster = tmp.path().join("roster.csv");
    std::fs::write(
        &roster,
        "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\n\
         1000,市民課長,シミンカチョウ,210,市民課,課長,2020/4/1,採用,,kacho.s\n\
         2001,田中一郎,タナカイチロウ,210,市民課,主事,2020/4/1,採用,,tanaka.k\n",
    )
    .unwrap();
    run_ok(mamori().args(["roster-import", "--data"]).arg(&data).arg(&roster));
    let list = tmp.path().join("list.csv");
    std::fs::write(&list, export_csv(&population(33, 40))).unwrap();
    let mport = free_port();
    let mut milter = mamori()
        .args(["milter", "--listen", &format!("127.0.0.1:{mport}"), "--internal-domain", "city.example.lg.jp", "--on-pii", "hold", "--data"])
        .arg(&data)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(|| std::net::TcpStream::connect(("127.0.0.1", mport)).is_ok(), "mamori milter listening");
    let pf = Postfix::start(tmp.path(), mport);
    let search = |action: &str| -> Vec<Value> {
        run_ok(mamori().args(["search", "--action", action, "--json", "--data"]).arg(&data)).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };

    assert!(swaks(pf.smtp, "kokuho@city.example.lg.jp", &list, "meibo.csv").status.success());
    assert!(swaks(pf.smtp, "vendor@itaku.example.com", &list, "meibo.csv").status.success());
    wait_for(|| pf.queue().iter().any(|m| m["queue_name"] == "hold"), "the external mail held by Postfix");
    wait_for(|| !search("pii-mail-held").is_empty(), "a ledgered pii-mail-held event");
    let held = search("pii-mail-held");
    assert_eq!(held.len(), 1, "internal mail is not held: {held:?}");
    let ev = &held[0]["event"];
    assert_eq!(ev["event"]["kind"], "alert");
    assert_eq!(ev["mamori"]["pii"]["external_recipients"][0], "vendor@itaku.example.com");
    assert_eq!(ev["mamori"]["pii"]["takeout_approved"], false);
    let kinds: Vec<&str> = ev["mamori"]["pii"]["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"person_name") && kinds.contains(&"birth_date"), "{kinds:?}");
    // No raw value in the ledgered event.
    let first = population(33, 40)[0].name();
    assert!(!ev.to_string().contains(&first), "raw name {first} in {ev}");

    // The attachment that left was fingerprinted (channel mail, sender tanaka.k), once: the
    // internal mail was not; a leaked subset of it traces back to that mail.
    let fps: Vec<Value> = run_ok(mamori().args(["search", "--action", "export-fingerprinted", "--json", "--data"]).arg(&data)).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(fps.len(), 1, "{fps:?}");
    assert_eq!(fps[0]["event"]["mamori"]["fingerprint"]["channel"], "mail");
    assert_eq!(fps[0]["event"]["user"]["name"], "tanaka.k");
    let leaked = tmp.path().join("leaked.csv");
    std::fs::write(&leaked, export_csv(&population(33, 40)[5..25])).unwrap();
    let t: Value = serde_json::from_str(run_ok(mamori().args(["trace", "--json", "--data"]).arg(&data).arg(&leaked)).trim()).unwrap();
    assert_eq!(t["candidates"][0]["channel"], "mail", "{t}");
    assert_eq!(t["candidates"][0]["user"], "tanaka.k");
    assert_eq!(t["candidates"][0]["matched"], 20);

    // The takeout: requested by tanaka.k, approved by the 課長, for mail to that address today.
    let today = chrono::Local::now().date_naive();
    let (from, until) = ((today - chrono::Days::new(1)).to_string(), (today + chrono::Days::new(3)).to_string());
    run_ok(
        mamori()
            .args(["takeout", "request", "--data"])
            .arg(&data)
            .args(["--id", "M-1", "--applicant", "tanaka.k", "--description", "国保名簿", "--records", "40", "--purpose", "委託処理", "--medium", "mail:vendor@itaku.example.com", "--destination", "委託先", "--from", &from, "--until", &until]),
    );
    run_ok(mamori().args(["takeout", "approve", "--data"]).arg(&data).args(["--id", "M-1", "--approver", "kacho.s", "--on", &from]));
    assert!(swaks(pf.smtp, "vendor@itaku.example.com", &list, "meibo.csv").status.success());
    wait_for(|| !search("pii-mail-approved").is_empty(), "a ledgered pii-mail-approved event");
    let _ = milter.kill();
    let _ = milter.wait();
    assert_eq!(search("pii-mail-approved")[0]["event"]["mamori"]["pii"]["takeout_approved"], true);
    assert_eq!(pf.queue().iter().filter(|m| m["queue_name"] == "hold").count(), 1, "the approved mail is not held");
}

/// `mamori scan --data D` on a share: a file carrying a canary record of D is a ledgered
/// `canary-sighted` alert (channel share) naming the export and the recipient; a file without
/// one, and the same scan without --data, ledger nothing.
#[test]
fn canary_found_by_the_share_scanner_is_ledgered_as_alert() {
    let (tmp, data) = setup();
    let share = tmp.path().join("share");
    std::fs::create_dir_all(share.join("引継ぎ")).unwrap();
    let marked = share.join("引継ぎ/名簿_委託先.csv");
    std::fs::write(&marked, export_csv(&population(44, 60))).unwrap();
    run_ok(mamori().args(["canary", "make", "--export", "委託2026-003", "--recipient", "sato.h", "--into"]).arg(&marked).arg("--data").arg(&data));
    std::fs::write(share.join("引継ぎ/別の名簿.csv"), export_csv(&population(45, 60))).unwrap();
    let search = || -> Vec<Value> { run_ok(mamori().args(["search", "--action", "canary-sighted", "--json", "--data"]).arg(&data)).lines().map(|l| serde_json::from_str(l).unwrap()).collect() };

    run_ok(mamori().args(["scan", "--json"]).arg(&share));
    assert!(search().is_empty(), "no --data, no sighting");
    let out = mamori().args(["scan", "--json", "--data"]).arg(&data).arg(&share).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("委託2026-003"));
    let hits = search();
    assert!(!hits.is_empty());
    for h in &hits {
        let ev = &h["event"];
        assert_eq!(ev["event"]["kind"], "alert");
        assert_eq!(ev["mamori"]["canary"]["export"], "委託2026-003");
        assert_eq!(ev["mamori"]["canary"]["recipient"], "sato.h");
        assert_eq!(ev["mamori"]["canary"]["channel"], "share");
        assert!(ev["file"]["path"].as_str().unwrap().ends_with("名簿_委託先.csv"), "{ev}");
    }
}

/// A Samba `vfs_full_audit` read (open + pread_recv) of `path` below share root `root` by
/// `user`, now, in the line format of the real smbd 4.17 capture
/// (crates/sources/tests/fixtures/samba/smbd_4.17_rsyslog_rfc5424.log: prefix `%u|%I|%m|%S|%P`
/// via rsyslog RFC 5424). Only the time, user and path differ from the captured lines: the
/// version windows are the scan times of this test, so the reads must happen between them.
fn smbd_read_lines(user: &str, root: &Path, path: &str) -> String {
    let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f+00:00");
    let r = root.display();
    format!(
        "<173>1 {ts} vm smbd_audit - - -  {user}|127.0.0.1|vm|jinji|{r}|openat|ok|r|{r}{path}\n\
         <173>1 {ts} vm smbd_audit - - -  {user}|127.0.0.1|vm|jinji|{r}|pread_recv|ok|{r}{path}\n"
    )
}

fn ingest_reads(tmp: &Path, data: &Path, lines: &str) {
    let f = tmp.join("smbd_audit.log");
    std::fs::write(&f, lines).unwrap();
    run_ok(mamori().args(["ingest", "--format", "syslog", "--data"]).arg(data).arg(&f));
}

fn share_scan(data: &Path, state: &Path, share: &Path) -> String {
    let out = mamori().args(["scan", "--json", "--incremental"]).arg(state).arg("--data").arg(data).arg(share).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn search_action(data: &Path, action: &str) -> Vec<Value> {
    run_ok(mamori().args(["search", "--action", action, "--json", "--data"]).arg(data)).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Hirosaki from the share scanner: the incremental share scan fingerprints the HR file at each
/// content version (channel share, share path, version = SHA-256, linked to a ledgered
/// `share-file-version` event) without anyone running `mamori fingerprint`. A leaked subset of
/// version 1 traces to version 1 and the staff who read it then — not to those who read
/// version 2 (including a read after the change but before the next scan, placed by the
/// version's mtime), and the other way round.
#[test]
fn hirosaki_share_scan_fingerprints_versions() {
    let (tmp, data) = setup();
    let share = tmp.path().join("share");
    std::fs::create_dir_all(share.join("人事")).unwrap();
    std::fs::write(share.join("議事録.txt"), "令和8年度 予算編成方針について協議した。\n").unwrap();
    let hr = share.join("人事/職員名簿.csv");
    let state = tmp.path().join("share-state.json");
    let v1 = population(2700, 400);
    std::fs::write(&hr, export_csv(&v1)).unwrap();
    let pause = || std::thread::sleep(std::time::Duration::from_millis(1100));

    let log = share_scan(&data, &state, &share);
    assert!(log.contains("/人事/職員名簿.csv"), "{log}");
    let fps = search_action(&data, "export-fingerprinted");
    assert_eq!(fps.len(), 1, "only the HR list, not the minutes: {fps:?}");
    let versions = search_action(&data, "share-file-version");
    assert_eq!(versions.len(), 1);
    let v1_event = versions[0]["id"].as_u64().unwrap();
    let fp = &fps[0]["event"];
    assert_eq!(fp["file"]["path"], "/人事/職員名簿.csv");
    assert_eq!(fp["mamori"]["fingerprint"]["channel"], "share");
    assert_eq!(fp["mamori"]["fingerprint"]["export_event_id"].as_u64(), Some(v1_event));
    assert_eq!(fp["file"]["hash"]["sha256"].as_str(), Some(mamori_trace::file_sha256(&std::fs::read(&hr).unwrap()).as_str()));
    assert_eq!(versions[0]["event"]["file"]["hash"]["sha256"], fp["file"]["hash"]["sha256"]);

    pause();
    ingest_reads(tmp.path(), &data, &smbd_read_lines("mamoritest1", &share, "/人事/職員名簿.csv"));
    // An unchanged file is no new version.
    share_scan(&data, &state, &share);
    assert_eq!(search_action(&data, "export-fingerprinted").len(), 1);

    // Version 2: 60 staff moved house, 40 joined, 30 left.
    pause();
    let mut v2 = v1[30..].to_vec();
    for r in v2.iter_mut().take(60) {
        r.block.0 = r.block.0 % 9 + 1;
        r.block.1 += 7;
    }
    v2.extend(population(2701, 40));
    std::fs::write(&hr, export_csv(&v2)).unwrap();
    pause();
    // Read after the change, before the next scan: version 2 by its mtime.
    ingest_reads(tmp.path(), &data, &smbd_read_lines("mamoritest3", &share, "/人事/職員名簿.csv"));
    pause();
    share_scan(&data, &state, &share);
    let versions = search_action(&data, "share-file-version");
    assert_eq!(versions.len(), 2, "{versions:?}");
    let v2_event = versions.iter().map(|v| v["id"].as_u64().unwrap()).find(|&id| id != v1_event).unwrap();
    assert_eq!(search_action(&data, "export-fingerprinted").len(), 2);
    pause();
    ingest_reads(tmp.path(), &data, &smbd_read_lines("mamoritest2", &share, "/人事/職員名簿.csv"));

    let trace = |leak: &[Resident], name: &str| -> (Value, String) {
        let f = tmp.path().join(name);
        std::fs::write(&f, export_csv(leak)).unwrap();
        let json: Value = serde_json::from_str(run_ok(mamori().args(["trace", "--json", "--data"]).arg(&data).arg(&f)).trim()).unwrap();
        (json, run_ok(mamori().args(["trace", "--data"]).arg(&data).arg(&f)))
    };
    let readers = |human: &str| -> std::collections::BTreeSet<String> {
        human.lines().filter_map(|l| l.trim().strip_prefix("この版を読んだ人 / read this version: ")).map(|r| r.split_whitespace().next().unwrap().to_owned()).collect()
    };

    // Leaked: a third of version 1, including the 30 who left and the 60 old addresses.
    let mut leak1 = subset(&v1[90..], 5);
    leak1.extend(v1[..90].iter().cloned());
    let (json, human) = trace(&leak1, "press_v1.csv");
    let best = &json["candidates"][0];
    assert_eq!(best["export_id"].as_u64(), Some(v1_event), "{json}");
    assert_eq!(best["channel"], "share");
    assert_eq!(best["matched"], best["leaked"]);
    assert!(json["candidates"][1]["matched"].as_u64().unwrap() < best["matched"].as_u64().unwrap(), "{json}");
    assert_eq!(readers(&human), ["mamoritest1".to_owned()].into(), "{human}");

    // Leaked: version 2's newcomers and new addresses.
    let leak2: Vec<Resident> = v2[..60].iter().chain(&v2[v2.len() - 40..]).cloned().collect();
    let (json, human) = trace(&leak2, "press_v2.csv");
    assert_eq!(json["candidates"][0]["export_id"].as_u64(), Some(v2_event), "{json}");
    assert_eq!(readers(&human), ["mamoritest2".to_owned(), "mamoritest3".to_owned()].into(), "{human}");
    run_ok(mamori().args(["verify", "--data"]).arg(&data));
}
