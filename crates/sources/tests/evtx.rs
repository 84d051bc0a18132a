//! EVTX parsing and ECS mapping against public sample logs (`shared/corpora/evtx`, beside the
//! repository: EVTX-ATTACK-SAMPLES GPL-3.0, hayabusa-sample-evtx, DeepBlueCLI samples; they are
//! read in place, never copied here). Record numbers and values below were looked up with
//! `cargo run -p mamori-sources --example evtx_dump -- FILE` and checked against the records'
//! XML, not guessed.

use mamori_sources::{EvtxErrorReason, EvtxEvent, parse_evtx, parse_evtx_threads};
use serde_json::{Value, json};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora/evtx");

const ETERNAL_ROMANCE: &str =
    "attack/EVTX-to-MITRE-Attack/EVTX_full_APT_attack_steps/ID4624,4688,5140,5145-Eternal Romance - MS17_010_psexec (GLOBAL).evtx";
const SMB_GUESSING: &str = "attack/DeepBlueCLI/smb-password-guessing-security.evtx";
const PASSWORD_SPRAY: &str = "attack/DeepBlueCLI/password-spray.evtx";
const SYSMON_OSK: &str = "attack/EVTX-ATTACK-SAMPLES/Persistence/persistence_accessibility_features_osk_sysmon1.evtx";
const SYSTEM_104: &str = "attack/EVTX-ATTACK-SAMPLES/Defense Evasion/DE_104_system_log_cleared.evtx";
const AUDIT_POLICY: &str =
    "attack/EVTX-to-MITRE-Attack/TA0005-Defense Evasion/T1562.002-Disable Windows Event Logging/ID4719-Audit policy deactivation.evtx";

/// The corpus must be there: a missing corpus is a broken checkout, not a reason to pass.
fn corpus_file(rel: &str) -> Vec<u8> {
    let dir = std::path::Path::new(CORPUS);
    assert!(
        dir.is_dir(),
        "EVTX corpus not found at {CORPUS}: these tests need shared/corpora/evtx beside the repository \
         (CI checks it out next to it; see shared/corpora/evtx/MANIFEST.tsv)"
    );
    let p = dir.join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("corpus file {} unreadable: {e}", p.display()))
}

/// Parses a file and insists on no errors; returns the events.
fn events(rel: &str) -> Vec<EvtxEvent> {
    parse_evtx(rel, &corpus_file(rel))
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn by_record(evs: &[EvtxEvent], record: u64) -> Value {
    let ev = evs.iter().find(|e| e.record == record).unwrap_or_else(|| panic!("no record {record}"));
    Value::Object(ev.doc.clone())
}

#[test]
fn eternal_romance_logon_share_and_process_events() {
    let evs = events(ETERNAL_ROMANCE);
    assert_eq!(evs.len(), 46);

    let cleared = by_record(&evs, 1);
    assert_eq!(cleared["event"]["action"], "audit-log-cleared");
    assert_eq!(cleared["event"]["code"], "1102");
    assert_eq!(cleared["user"]["name"], "admmig");
    assert_eq!(cleared["mamori"]["evtx"]["cleared_channel"], "Security");

    let logon = by_record(&evs, 4);
    assert_eq!(logon["@timestamp"], "2021-04-22T08:51:04.686763Z");
    assert_eq!(logon["event"]["code"], "4624");
    assert_eq!(logon["event"]["provider"], "Microsoft-Windows-Security-Auditing");
    assert_eq!(logon["event"]["action"], "logged-in");
    assert_eq!(logon["event"]["category"], json!(["authentication"]));
    assert_eq!(logon["event"]["outcome"], "success");
    assert_eq!(logon["user"]["name"], "admmig");
    assert_eq!(logon["user"]["domain"], "OFFSEC");
    assert_eq!(logon["source"]["ip"], "10.23.123.11");
    assert_eq!(logon["source"]["port"], 41747);
    assert_eq!(logon["host"]["name"], "fs03vuln.offsec.lan");
    assert_eq!(logon["winlog"]["channel"], "Security");
    assert_eq!(logon["winlog"]["computer_name"], "fs03vuln.offsec.lan");
    assert_eq!(logon["winlog"]["record_id"], 435113);
    assert_eq!(logon["winlog"]["event_id"], "4624");
    assert_eq!(logon["winlog"]["provider_name"], "Microsoft-Windows-Security-Auditing");
    assert_eq!(logon["winlog"]["logon"]["type"], "Network");
    assert_eq!(logon["winlog"]["event_data"]["LogonType"], "3", "event data values are strings, as in Winlogbeat");
    assert_eq!(logon["mamori"]["evtx"], json!({"file": ETERNAL_ROMANCE, "chunk": 0, "record": 4}));
    assert_eq!(logon["message"], "Security 4624 logged-in user=admmig from=10.23.123.11");
    let original: Value = serde_json::from_str(logon["event"]["original"].as_str().unwrap()).unwrap();
    assert_eq!(original["Event"]["System"]["EventRecordID"], 435113);

    let share = by_record(&evs, 5);
    assert_eq!(share["event"]["action"], "network-share-accessed");
    assert_eq!(share["file"]["path"], r"\\*\IPC$");
    assert_eq!(share["user"]["name"], "admmig");
    assert_eq!(share["source"]["ip"], "10.23.123.11");

    let object = by_record(&evs, 8);
    assert_eq!(object["event"]["code"], "5145");
    assert_eq!(object["event"]["action"], "network-share-object-checked");
    assert_eq!(object["file"]["path"], r"\\*\ADMIN$\System32\WindowsPowerShell\v1.0\powershell.exe");
    assert_eq!(object["file"]["name"], "powershell.exe");
    assert_eq!(object["user"]["name"], "FS03VULN$");

    let process = by_record(&evs, 11);
    assert_eq!(process["event"]["code"], "4688");
    assert_eq!(process["event"]["action"], "created-process");
    assert_eq!(process["process"]["name"], "cmd.exe");
    assert_eq!(process["process"]["executable"], r"C:\Windows\System32\cmd.exe");
    assert_eq!(process["process"]["pid"], 1768);
    assert!(process["process"]["command_line"].as_str().unwrap().starts_with(r"C:\Windows\system32\cmd.exe /b /c start /b /min powershell.exe"));

    // Unknown to the mapping, still an event: 4964 (special groups logon).
    let other = by_record(&evs, 2);
    assert_eq!(other["event"]["code"], "4964");
    assert!(other["event"].get("action").is_none());
    assert_eq!(other["winlog"]["event_data"]["TargetUserName"], "admmig");
}

#[test]
fn multi_chunk_file_keeps_record_order_and_chunk_numbers() {
    let evs = events(SMB_GUESSING);
    assert_eq!(evs.len(), 3561);
    assert!(evs.windows(2).all(|w| w[0].record < w[1].record), "records in log order");
    assert_eq!(evs.last().unwrap().chunk, 33);
    assert_eq!(evs.iter().filter(|e| e.doc["event"]["action"] == "logon-failed").count(), 3561);

    let first = by_record(&evs, 1);
    assert_eq!(first["user"]["name"], "JcDfcZTc");
    assert_eq!(first["source"]["ip"], "192.168.198.149");
    assert_eq!(first["event"]["outcome"], "failure");
    assert_eq!(first["winlog"]["logon"]["failure"]["status"], "0xc000006d");
    assert_eq!(first["winlog"]["logon"]["failure"]["sub_status"], "0xc0000064");
    assert_eq!(first["winlog"]["logon"]["failure"]["reason"], "Unknown user name or bad password.");

    let later = by_record(&evs, 1000);
    assert_eq!(later["mamori"]["evtx"]["chunk"], 9);
    assert_eq!(later["winlog"]["record_id"], 3454);
    assert_eq!(later["user"]["name"], "Administrator");
    assert_eq!(later["source"]["port"], 59109);
    assert_eq!(later["@timestamp"], "2016-09-19T16:50:51.124391Z");
}

#[test]
fn explicit_credentials_sysmon_and_cleared_logs() {
    let spray = events(PASSWORD_SPRAY);
    let explicit = by_record(&spray, 2);
    assert_eq!(explicit["event"]["code"], "4648");
    assert_eq!(explicit["event"]["action"], "logged-in-explicit");
    assert_eq!(explicit["user"]["name"], "Administrator");
    assert_eq!(explicit["source"]["user"]["name"], "jwrig");
    assert_eq!(explicit["destination"]["ip"], "172.16.144.128");
    assert_eq!(explicit["destination"]["port"], 445);

    let osk = events(SYSMON_OSK);
    let p = by_record(&osk, 2);
    assert_eq!(p["event"]["code"], "1");
    assert_eq!(p["event"]["module"], "sysmon");
    assert_eq!(p["event"]["action"], "created-process");
    assert_eq!(p["process"]["name"], "osk.exe");
    assert_eq!(p["process"]["executable"], r"C:\Windows\System32\osk.exe");
    assert_eq!(p["process"]["pid"], 1720);
    assert_eq!(p["process"]["parent"]["name"], "Utilman.exe");
    assert_eq!(p["process"]["parent"]["command_line"], "utilman.exe /debug");
    assert_eq!(p["process"]["hash"]["md5"], "f5ae03de0ad60f5b17b82f2cd68402fe");
    assert_eq!(p["user"], json!({"domain": "NT AUTHORITY", "name": "SYSTEM"}));

    let sys = events(SYSTEM_104);
    let c = by_record(&sys, 1);
    assert_eq!(c["event"]["code"], "104");
    assert_eq!(c["event"]["action"], "audit-log-cleared");
    assert_eq!(c["winlog"]["channel"], "System");
    assert_eq!(c["user"]["name"], "user01");
    assert_eq!(c["mamori"]["evtx"]["cleared_channel"], "System");
    assert_eq!(c["winlog"]["user_data"]["xml_name"], "LogFileCleared");

    let policy = events(AUDIT_POLICY);
    let a = by_record(&policy, 1);
    assert_eq!(a["event"]["action"], "changed-audit-config");
    assert_eq!(a["mamori"]["evtx"]["audit_policy_changes"], json!(["Success removed"]));
}

#[test]
fn whole_corpus_parses_and_every_event_is_accepted() {
    let mut files = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(CORPUS)];
    corpus_file("MANIFEST.tsv");
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "evtx") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 400, "{} files", files.len());
    let mut n = 0;
    for f in &files {
        let name = f.display().to_string();
        for item in parse_evtx(&name, &std::fs::read(f).unwrap()) {
            let ev = item.unwrap_or_else(|e| panic!("{e}"));
            mamori_event::normalize(ev.doc, chrono::Utc::now()).unwrap_or_else(|e| panic!("{name} record {}: {e}", ev.record));
            n += 1;
        }
    }
    // MANIFEST.tsv's record counts add up to this.
    assert_eq!(n, 8376);
}

/// The first records of chunk `n`, located through their headers.
fn record_offsets(bytes: &[u8], chunk: usize) -> Vec<usize> {
    let start = 4096 + chunk * 65536;
    let mut at = start + 512;
    let mut out = Vec::new();
    while &bytes[at..at + 4] == b"**\0\0" {
        out.push(at);
        at += u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
    }
    out
}

#[test]
fn truncated_file_reports_the_cut_chunk_and_keeps_the_rest() {
    let full = corpus_file(SMB_GUESSING);
    // Cut in the middle of chunk 5.
    let cut = &full[..4096 + 5 * 65536 + 30000];
    let items = parse_evtx("cut.evtx", cut);
    let errors: Vec<_> = items.iter().filter_map(|r| r.as_ref().err()).collect();
    let ok: Vec<_> = items.iter().filter_map(|r| r.as_ref().ok()).collect();
    let truncated = errors.iter().find(|e| matches!(e.reason, EvtxErrorReason::TruncatedChunk { length: 30000 })).expect("a truncation error");
    assert_eq!(truncated.chunk, Some(5));
    assert_eq!(truncated.offset, 4096 + 5 * 65536);
    assert_eq!(truncated.raw.len(), 30000);
    let msg = truncated.to_string();
    assert!(msg.starts_with("cut.evtx: chunk 5 (file offset 0x51000): the file ends inside this chunk"), "{msg}");
    assert!(msg.contains("hint:"), "{msg}");
    // Chunks 0–4 whole, and the records of chunk 5 before the cut.
    let whole = events(SMB_GUESSING);
    let before_cut = whole.iter().filter(|e| e.chunk < 5 || (e.chunk == 5 && e.offset < cut.len() as u64 - 2000)).count();
    assert!(ok.len() >= before_cut, "{} read, {before_cut} expected at least", ok.len());
    assert!(ok.iter().any(|e| e.chunk == 5), "records of the cut chunk before the cut are kept");
    for e in ok.iter().filter(|e| e.chunk < 5) {
        assert!(e.doc["mamori"]["evtx"].get("chunk_crc_ok").is_none());
    }
}

#[test]
fn damaged_records_name_chunk_and_record_and_the_rest_goes_through() {
    let mut bytes = corpus_file(SMB_GUESSING);
    let offs = record_offsets(&bytes, 2);
    assert!(offs.len() > 10);
    // Record header magic destroyed: the parser must resync on the next record.
    let bad_header = offs[3];
    bytes[bad_header..bad_header + 4].copy_from_slice(b"XXXX");
    // BinXml of another record replaced with an invalid token.
    let bad_body = offs[7];
    let body_id = u64::from_le_bytes(bytes[bad_body + 8..bad_body + 16].try_into().unwrap());
    let header_id = u64::from_le_bytes(bytes[bad_header + 8..bad_header + 16].try_into().unwrap());
    bytes[bad_body + 24] = 0xff;
    // A whole chunk header (chunk 6) garbled.
    let c6 = 4096 + 6 * 65536;
    bytes[c6..c6 + 8].copy_from_slice(b"garbage!");

    let items = parse_evtx("damaged.evtx", &bytes);
    let errors: Vec<_> = items.iter().filter_map(|r| r.as_ref().err()).collect();
    let ok: Vec<_> = items.iter().filter_map(|r| r.as_ref().ok()).collect();

    let e = errors.iter().find(|e| e.offset == bad_header as u64).unwrap_or_else(|| panic!("no error at the bad header: {errors:#?}"));
    assert_eq!((e.chunk, e.record), (Some(2), Some(header_id)));
    assert!(matches!(e.reason, EvtxErrorReason::BadRecord { .. }));
    assert!(e.raw.starts_with(b"XXXX"));
    assert!(e.to_string().starts_with(&format!("damaged.evtx: chunk 2, record {header_id} (file offset {bad_header:#x})")), "{e}");

    let e = errors.iter().find(|e| e.record == Some(body_id)).unwrap_or_else(|| panic!("no error for record {body_id}: {errors:#?}"));
    assert_eq!(e.chunk, Some(2));
    assert_eq!(e.offset, bad_body as u64);
    assert!(e.raw.starts_with(b"**\0\0"));

    let e = errors.iter().find(|e| e.chunk == Some(6)).expect("an error for chunk 6");
    assert!(matches!(e.reason, EvtxErrorReason::BadChunk { .. }), "{e}");
    assert_eq!(e.raw.len(), 65536);

    // Everything else: all records but the two damaged ones and chunk 6's.
    let whole = events(SMB_GUESSING);
    let lost_in_6 = whole.iter().filter(|e| e.chunk == 6).count();
    assert_eq!(ok.len(), whole.len() - 2 - lost_in_6);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    // The edited chunk's records are flagged: its CRC32 no longer matches.
    let flagged: Vec<_> = ok.iter().filter(|e| e.doc["mamori"]["evtx"]["chunk_crc_ok"] == false).collect();
    assert!(!flagged.is_empty() && flagged.iter().all(|e| e.chunk == 2));
    assert!(ok.iter().any(|e| e.chunk == 33));
}

#[test]
fn not_evtx_and_damaged_file_header() {
    for junk in [&b""[..], b"{\"message\":\"ndjson\"}\n", &[0u8; 10000]] {
        let items = parse_evtx("x", junk);
        assert_eq!(items.len(), 1);
        let e = items[0].as_ref().unwrap_err();
        assert!(matches!(e.reason, EvtxErrorReason::NotEvtx { .. }), "{e}");
        assert!(e.to_string().contains("check --format"), "{e}");
    }
    let mut bytes = corpus_file(ETERNAL_ROMANCE);
    bytes[..8].copy_from_slice(b"ElfJunk\0");
    let items = parse_evtx("h.evtx", &bytes);
    assert!(matches!(items[0].as_ref().unwrap_err().reason, EvtxErrorReason::BadFileHeader { .. }));
    assert_eq!(items.iter().filter(|r| r.is_ok()).count(), 46);
}

#[test]
fn usb_device_6416_maps_to_mamori_usb() {
    // Shape of a real 6416 for a USB stick, typed in: no public EVTX corpus has one. Searched
    // (2026-12-03) for USBSTOR / `USB\VID_` device IDs and the Kernel-PnP 400/410,
    // DriverFrameworks-UserMode 2003/2100 and Partition/Diagnostic 1006 providers: the shared
    // corpus (423 files), Yamato-Security/hayabusa-sample-evtx (598 files) and
    // sbousseaden/EVTX-ATTACK-SAMPLES (278 files). Their only 6416s are for printers
    // (PrintNightmare samples); the only `USB\VID_` strings are a VMware virtual device
    // (0e0f:0003) in an Application log of DeepBlueCLI's many-events-application.evtx, not
    // a device-connection event. The Linux side has real captures (tests/usb.rs, fixtures/*/qemu).
    let ev = json!({"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": 6416, "Channel": "Security", "Computer": "pc-042.city.local",
            "EventRecordID": 9001,
            "TimeCreated": {"#attributes": {"SystemTime": "2018-12-22T01:02:03.1234567Z"}}
        },
        "EventData": {
            "SubjectUserName": "PC-042$", "SubjectDomainName": "CITY",
            "DeviceId": "USB\\VID_0781&PID_5567\\4C530001230506117285",
            "DeviceDescription": "USB 大容量記憶装置", "ClassName": "USB",
            "VendorIds": "\r\n\t\tUSB\\VID_0781&PID_5567&REV_0100\r\n\t\tUSB\\VID_0781&PID_5567\r\n\t\t"
        }
    }});
    let doc = Value::Object(mamori_sources::evtx_to_ecs(&ev, &ev.to_string(), None).unwrap());
    assert_eq!(doc["event"]["action"], "external-device-recognized");
    assert_eq!(doc["mamori"]["usb"]["vendor_id"], "0781");
    assert_eq!(doc["mamori"]["usb"]["product_id"], "5567");
    assert_eq!(doc["mamori"]["usb"]["serial"], "4C530001230506117285");
    assert_eq!(doc["mamori"]["usb"]["class_name"], "USB");
    assert_eq!(doc["@timestamp"], "2018-12-22T01:02:03.123456Z");
    assert_eq!(doc["winlog"]["record_id"], 9001);
    let doc = mamori_event::normalize(doc.as_object().unwrap().clone(), chrono::Utc::now()).unwrap();
    assert_eq!(doc["host"]["name"], "pc-042.city.local");

    // No Event.System: refused with the reason.
    let err = mamori_sources::evtx_to_ecs(&json!({"Event": {}}), "{}", None).unwrap_err();
    assert!(err.contains("System"), "{err}");
}

#[test]
fn odd_data_names_do_not_get_a_record_refused() {
    // Found by fuzzing (evtx_parse): a `<Data Name="">` made the event model refuse the whole
    // record ("empty field name"); dotted names would have been expanded into objects.
    let ev = json!({"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Odd-Provider"}},
            "EventID": 1, "Channel": "Application", "Computer": "pc",
            "TimeCreated": {"#attributes": {"SystemTime": "2024-04-01T00:00:00Z"}}
        },
        "EventData": {"": "x", "a.b": "y", "a": "z", ".": "w"},
        "UserData": {"Thing": {"": "1", "c.d": "2"}}
    }});
    let doc = mamori_sources::evtx_to_ecs(&ev, "{}", None).unwrap();
    let doc = mamori_event::normalize(doc, chrono::Utc::now()).unwrap();
    assert_eq!(doc["winlog"]["event_data"]["a_b"], "y");
    assert_eq!(doc["winlog"]["event_data"]["a"], "z");
    assert_eq!(doc["winlog"]["user_data"]["c_d"], "2");
}

#[test]
fn threads_do_not_change_the_items() {
    // parse_evtx splits a file's chunks among threads; whatever the count, the items (events
    // and errors, with their documents, offsets and raw bytes) and their order are the same.
    let full = corpus_file(SMB_GUESSING);
    let mut damaged = full.clone();
    let offs = record_offsets(&damaged, 2);
    damaged[offs[3]..offs[3] + 4].copy_from_slice(b"XXXX");
    damaged[4096 + 6 * 65536..4096 + 6 * 65536 + 8].copy_from_slice(b"garbage!");
    let cut = &full[..4096 + 5 * 65536 + 30000];
    for (name, bytes) in [("full", &full[..]), ("damaged", &damaged[..]), ("cut", cut)] {
        let one = parse_evtx_threads(name, bytes, 1);
        assert!(one.iter().filter(|r| r.is_ok()).count() > 1000 || name == "cut", "{name}");
        for threads in [0, 2, 3, 8, 1000] {
            let many = parse_evtx_threads(name, bytes, threads);
            assert_eq!(many.len(), one.len(), "{name}, {threads} threads");
            assert!(many == one, "{name}: {threads} threads gave other items");
        }
        assert!(parse_evtx(name, bytes) == one, "{name}: parse_evtx's default thread count");
    }
    // Record order across the threads' runs: ascending record numbers in the intact file.
    let records: Vec<u64> = parse_evtx_threads("full", &full, 4).into_iter().map(|r| r.unwrap().record).collect();
    assert!(records.windows(2).all(|w| w[0] < w[1]));
}
