//! Any bytes as a Sigma rule file: loading must never panic; what is not loaded is reported
//! with the file's name; loaded rules evaluate (raw EVTX and ECS shapes) without panicking,
//! and correlations run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_sigma::{Correlator, RuleSet};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let (set, issues) = RuleSet::from_sources(&[("f.yml".to_string(), text)]);
    assert!(issues.iter().all(|i| i.file == "f.yml" && !i.message.is_empty()));
    assert_eq!(set.fingerprint().len(), 64);
    let raw = serde_json::json!({"Event": {"System": {"Channel": "Security", "EventID": 4688, "Computer": "ws-01",
        "TimeCreated": {"#attributes": {"SystemTime": "2026-04-01T00:00:00Z"}}},
        "EventData": {"NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami", "IpAddress": "10.0.0.1", "Size": "0x10"}}});
    let ecs = serde_json::json!({"@timestamp": "2026-04-01T00:00:00Z", "process": {"executable": "/bin/sh"}, "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1", "event_data": {"Image": "a.exe"}}});
    let mut c = Correlator::new(&set);
    for e in [&raw, &ecs] {
        let ev = set.prepare(e);
        let m = set.matches_prepared(&ev);
        assert!(m.iter().all(|&i| i < set.rules().len()));
        let ts = mamori_sigma::event_time(e).expect("time");
        let _ = c.feed(&m, ts, &ev);
    }
    let _ = c.flush();
});
