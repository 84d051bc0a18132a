//! The demo's EVTX writer: files it writes are read back, every record with the same fields, by
//! the `evtx` crate (checksums validated) and by mamori's EVTX source, which maps them exactly as
//! it maps the same events arriving as Winlogbeat documents.

use chrono::{DateTime, Duration, Utc};
use mamori_demo::evtx::{rendered_time, windows_event, write_evtx};
use serde_json::{Map, Value, json};

/// Winlogbeat-shaped documents as the demo writes them: logons and logoffs, process starts
/// (Japanese paths, quotes, `<`/`&`), an audit-policy change and a cleared log.
fn docs(n: usize) -> Vec<Value> {
    let t0: DateTime<Utc> = "2025-06-03T06:31:00.123456Z".parse().unwrap();
    (0..n)
        .map(|i| {
            let ts = t0 + Duration::seconds(i as i64 * 37);
            let user = format!("user{:03}", i % 50);
            let (provider, id, data) = match i % 7 {
                0 | 1 => ("Microsoft-Windows-Security-Auditing", 4624, json!({"TargetUserName": user, "TargetDomainName": "AOBA", "LogonType": "2", "IpAddress": "-", "WorkstationName": "AOBA-PC0005"})),
                2 => ("Microsoft-Windows-Security-Auditing", 4634, json!({"TargetUserName": user, "TargetDomainName": "AOBA", "LogonType": "2"})),
                3 | 4 => ("Microsoft-Windows-Security-Auditing", 4688, json!({"SubjectUserName": user, "SubjectDomainName": "AOBA", "NewProcessName": format!("C:\\Users\\Public\\ダウンロード\\tool_{i}.exe"), "NewProcessId": "0x1a2c", "CommandLine": format!("\"tool_{i}.exe\" /S <a & b>"), "ParentProcessName": "C:\\Windows\\explorer.exe"})),
                5 => ("Microsoft-Windows-Security-Auditing", 4719, json!({"SubjectUserName": user, "SubjectDomainName": "AOBA", "SubjectLogonId": "0x3e7a1", "CategoryId": "%%8274", "SubcategoryId": "%%12800", "SubcategoryGuid": "{0CCE921D-69AE-11D9-BED3-505054503030}", "AuditPolicyChanges": "%%8448, %%8450"})),
                _ => ("Microsoft-Windows-Eventlog", 1102, json!({"SubjectUserName": user, "SubjectDomainName": "AOBA"})),
            };
            json!({"@timestamp": ts.to_rfc3339(), "host": {"name": "AOBA-PC0005"}, "user": {"name": user, "domain": "AOBA"},
                   "winlog": {"provider_name": provider, "channel": "Security", "event_id": id.to_string(), "computer_name": "AOBA-PC0005.city.aoba.example.lg.jp", "event_data": data}})
        })
        .collect()
}

fn file(docs: &[Value]) -> Vec<u8> {
    let events: Vec<_> = docs.iter().enumerate().map(|(i, d)| windows_event(d, i as u64 + 1).expect("a Windows event")).collect();
    write_evtx(&events)
}

fn ts(d: &Value) -> DateTime<Utc> {
    d["@timestamp"].as_str().unwrap().parse().unwrap()
}

#[test]
fn the_evtx_crate_reads_every_record_back() {
    // Enough records for several 64 KiB chunks.
    let docs = docs(1500);
    let bytes = file(&docs);
    assert_eq!(&bytes[..8], b"ElfFile\0");
    assert_eq!((bytes.len() - 4096) % 65536, 0);
    let chunks = (bytes.len() - 4096) / 65536;
    assert!(chunks >= 3, "{chunks} chunks");

    let settings = evtx::ParserSettings::new().validate_checksums(true).num_threads(1);
    let mut parser = evtx::EvtxParser::from_buffer(bytes.clone()).unwrap().with_configuration(settings);
    assert!(parser.header().validate_checksum());
    assert_eq!(parser.header().chunk_count as usize, chunks);
    assert_eq!(parser.header().next_record_id, docs.len() as u64 + 1);
    let mut n = 0;
    for (i, r) in parser.records_json_value().enumerate() {
        let r = r.unwrap_or_else(|e| panic!("record {}: {e}", i + 1));
        let d = &docs[i];
        assert_eq!(r.event_record_id, i as u64 + 1);
        let ev = &r.data["Event"];
        let sys = &ev["System"];
        assert_eq!(sys["EventID"].to_string(), d["winlog"]["event_id"].as_str().unwrap(), "{sys}");
        assert_eq!(sys["EventRecordID"], i as u64 + 1);
        assert_eq!(sys["Provider"]["#attributes"]["Name"], d["winlog"]["provider_name"]);
        assert_eq!(sys["Channel"], "Security");
        assert_eq!(sys["Computer"], d["winlog"]["computer_name"]);
        assert_eq!(sys["TimeCreated"]["#attributes"]["SystemTime"], rendered_time(ts(d)), "{sys}");
        let data = d["winlog"]["event_data"].as_object().unwrap();
        let got = if sys["EventID"] == 1102 { &ev["UserData"]["LogFileCleared"] } else { &ev["EventData"] };
        for (k, v) in data {
            assert_eq!(&got[k], v, "record {}: {k} in {got}", i + 1);
        }
        n += 1;
    }
    assert_eq!(n, docs.len());

    // XML too: the special characters come back escaped, not lost.
    let mut parser = evtx::EvtxParser::from_buffer(bytes).unwrap();
    let xml = parser.records().nth(3).unwrap().unwrap().data;
    assert!(xml.contains("&lt;a &amp; b&gt;") && xml.contains("ダウンロード"), "{xml}");
}

/// The fields mamori cares about, from an ECS document.
fn fields(d: &Map<String, Value>) -> Value {
    let w = &d["winlog"];
    json!({
        "@timestamp": d["@timestamp"], "action": d["event"]["action"], "category": d["event"]["category"],
        "user": d.get("user").map(|u| u["name"].clone()), "event_id": w["event_id"], "provider": w["provider_name"],
        "channel": w["channel"], "computer": w["computer_name"],
        "data": w.get("event_data").cloned().or_else(|| w.get("user_data").map(|u| { let mut u = u.clone(); u.as_object_mut().unwrap().remove("xml_name"); u })),
        "process": d.get("process").map(|p| p["executable"].clone()),
    })
}

#[test]
fn mamoris_evtx_source_maps_them_as_the_winlogbeat_documents() {
    let docs = docs(700);
    let bytes = file(&docs);
    let got = mamori_sources::parse_evtx("AOBA-PC0005-Security.evtx", &bytes);
    assert_eq!(got.len(), docs.len());
    for (i, (r, d)) in got.iter().zip(&docs).enumerate() {
        let e = r.as_ref().unwrap_or_else(|e| panic!("record {}: {e}", i + 1));
        assert_eq!(e.record, i as u64 + 1);
        assert!(e.doc["mamori"]["evtx"].get("chunk_crc_ok").is_none(), "CRC32 holds: {}", e.doc["mamori"]);
        // The same event as Winlogbeat would have shipped it (user_data for 1102, as
        // Winlogbeat puts a UserData part).
        let mut wb = d.as_object().unwrap().clone();
        wb.remove("user");
        wb.remove("host");
        if d["winlog"]["event_id"] == "1102" {
            let data = wb["winlog"]["event_data"].clone();
            let w = wb["winlog"].as_object_mut().unwrap();
            w.remove("event_data");
            let mut ud = data.as_object().unwrap().clone();
            ud.insert("xml_name".into(), json!("LogFileCleared"));
            w.insert("user_data".into(), Value::Object(ud));
        }
        mamori_sources::enrich_winlogbeat_doc(&mut wb);
        let wb = mamori_event::normalize(wb, Utc::now()).expect("valid");
        let mut a = fields(&e.doc);
        let b = fields(&wb);
        // Winlogbeat gives the time as shipped; EVTX as a FILETIME (100 ns): the same instant.
        assert_eq!(a["@timestamp"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), ts(d));
        a["@timestamp"] = b["@timestamp"].clone();
        assert_eq!(a, b, "record {}", i + 1);
        assert!(a["user"].is_string(), "record {}: {a}", i + 1);
    }
}
