//! Business chat and cloud-sharing events through the shipped JSON mappings (`chat-a`,
//! `share-b`).
//!
//! The services (LINE WORKS, Slack, Box, OneDrive) cannot run here, so the payloads are written
//! by the deterministic generator below in the shapes the mappings document; a copy is committed
//! under `tests/fixtures/webhook/` (regenerate with `MAMORI_WRITE_FIXTURES=1`) and checked to be
//! the generator's output.

use mamori_sources::{Mapping, parse_webhook};
use serde_json::{Value, json};

const CITY: &str = "city.example.lg.jp";

fn chat(i: u64, user: &str, file: Option<(&str, u64)>, to: &[(&str, bool)]) -> Value {
    let mut ev = json!({"type": "message", "user": user, "user_email": format!("{user}@{CITY}"), "channel": format!("C{i:04}"), "channel_name": "jumin-ka", "text": format!("連絡 {i}")});
    if let Some((name, size)) = file {
        ev["subtype"] = json!("file_share");
        ev["files"] = json!([{"name": name, "size": size, "sha256": format!("{:064x}", i * 7919)}]);
    }
    json!({"event_id": format!("Ev{i:06}"), "event_time": 1_711_933_200 + i * 60, "event": ev,
           "recipients": to.iter().map(|(a, ext)| json!({"email": a, "external": ext})).collect::<Vec<_>>()})
}

fn share(i: u64, ty: &str, user: &str, item: &str, invitee: &str, expires: Option<&str>) -> Value {
    json!({"event_id": format!("b{i:06}"), "event_type": ty, "created_at": format!("2024-04-0{}T1{}:00:00+09:00", 1 + i % 9, i % 10),
           "created_by": {"login": format!("{user}@{CITY}"), "name": "職員"}, "ip_address": "10.20.3.41",
           "source": {"item_type": "file", "item_name": item, "size": 1000 + i, "sha256": format!("{:064x}", i)},
           "additional_details": {"shared_link": {"url": format!("https://share.example.com/s/{i:08x}"), "unshared_at": expires, "access": "open"},
                                  "invitees": [{"login": invitee}]}})
}

fn chat_lines() -> Vec<u8> {
    let internal = format!("s.sato@{CITY}");
    let v = [
        chat(1, "k.tanaka", None, &[(&internal, false)]),
        chat(2, "k.tanaka", Some(("住民名簿.xlsx", 48_213)), &[(&internal, false), ("friend@example.com", true)]),
        chat(3, "s.sato", Some(("議事録.docx", 1_200)), &[(&format!("k.tanaka@{CITY}"), false)]),
    ];
    v.iter().map(|x| x.to_string() + "\n").collect::<String>().into_bytes()
}

fn share_page() -> Vec<u8> {
    let page = json!({"entries": [
        share(1, "COLLABORATION_INVITE", "k.tanaka", "個人情報一覧.xlsx", "outsider@example.net", None),
        share(2, "SHARE", "s.sato", "庁内資料.pdf", &format!("h.suzuki@{CITY}"), Some("2024-05-01T00:00:00+09:00")),
        share(3, "UNSHARE", "k.tanaka", "個人情報一覧.xlsx", "outsider@example.net", None),
    ]});
    serde_json::to_vec_pretty(&page).unwrap()
}

/// Kamaishi: register data left the city over business chat — an attachment to a recipient
/// outside the city's domain must be visible as such.
#[test]
fn kamaishi_file_sent_over_chat_to_an_outsider() {
    let m = Mapping::builtin("chat-a").unwrap();
    let r = parse_webhook(&m, "chat.jsonl", &chat_lines(), chrono::Utc::now());
    assert_eq!(r.len(), 3);
    let d: Vec<&serde_json::Map<String, Value>> = r.iter().map(|x| &x.as_ref().unwrap().doc).collect();
    assert_eq!(d[0]["event"]["action"], "message-sent");
    assert_eq!(d[0]["mamori"]["sharing"]["external"], false);
    assert_eq!(d[1]["event"]["action"], "file-shared");
    assert_eq!(d[1]["file"]["name"], "住民名簿.xlsx");
    assert_eq!(d[1]["file"]["size"], 48_213);
    assert_eq!(d[1]["mamori"]["sharing"]["external"], true);
    assert_eq!(d[1]["mamori"]["sharing"]["external_recipients"], json!(["friend@example.com"]));
    assert_eq!(d[1]["mamori"]["chat"]["channel"], "jumin-ka");
    assert_eq!(d[1]["@timestamp"], "2024-04-01T01:02:00.000000Z");
    assert_eq!(d[2]["mamori"]["sharing"]["external"], false);
    for x in d {
        mamori_event::normalize(x.clone(), chrono::Utc::now()).expect("valid event");
    }
}

/// Fukuoka: an invitation to an outsider stayed open; the invite, its missing expiry and the
/// later revocation are each visible.
#[test]
fn fukuoka_unrevoked_invitation_to_an_outsider() {
    let m = Mapping::builtin("share-b").unwrap();
    let r = parse_webhook(&m, "box.json", &share_page(), chrono::Utc::now());
    assert_eq!(r.len(), 3, "one record per entry of the page");
    let d: Vec<&serde_json::Map<String, Value>> = r.iter().map(|x| &x.as_ref().unwrap().doc).collect();
    assert_eq!(d[0]["event"]["action"], "share-invite");
    assert_eq!(d[0]["mamori"]["sharing"]["external"], true);
    assert_eq!(d[0]["mamori"]["sharing"]["no_expiry"], true);
    assert_eq!(d[0]["user"]["name"], format!("k.tanaka@{CITY}"));
    assert_eq!(d[1]["event"]["action"], "file-shared");
    assert_eq!(d[1]["mamori"]["sharing"]["expires"], "2024-04-30T15:00:00.000000Z");
    assert_eq!(d[1]["mamori"]["sharing"]["external"], false);
    assert!(d[1]["mamori"]["sharing"].get("no_expiry").is_none());
    assert_eq!(d[2]["event"]["action"], "share-revoked");
    assert_eq!(d[2]["mamori"]["sharing"]["revoked"], true);
    assert!(d[2]["event"]["original"].as_str().unwrap().contains("UNSHARE"));
}

#[test]
fn payloads_that_do_not_map_name_the_path_and_the_rest_goes_on() {
    let m = Mapping::builtin("chat-a").unwrap();
    let mut body = chat_lines();
    body.extend_from_slice(b"{\"event_id\": \"x\", \"event_time\": \"yesterday\", \"event\": {\"type\": \"message\", \"user\": \"u\"}}\n");
    body.extend_from_slice(b"{\"event_id\": \"y\", \"event_time\": 1711933200, \"event\": {\"type\": \"message\"}}\n");
    body.extend_from_slice(b"{broken\n");
    body.extend_from_slice(b"[1, 2]\n");
    let r = parse_webhook(&m, "chat.jsonl", &body, chrono::Utc::now());
    assert_eq!(r.iter().filter(|x| x.is_ok()).count(), 3);
    let e: Vec<_> = r.iter().filter_map(|x| x.as_ref().err()).collect();
    assert_eq!((e[0].line, e[0].error.column.as_str(), e[0].error.value.as_str()), (4, "/event_time", "yesterday"));
    assert_eq!((e[1].line, e[1].error.column.as_str()), (5, "/event/user"));
    assert_eq!(e[2].line, 6);
    assert!(e[2].to_string().contains("line 6"));
    assert_eq!(e[3].line, 7);
    assert!(e.iter().all(|x| !x.raw.is_empty()));
}

#[test]
fn unknown_event_types_are_kept_as_the_action() {
    let m = Mapping::builtin("share-b").unwrap();
    let body = json!({"entries": [share(9, "ITEM_TRASH", "k.tanaka", "a.txt", "x@example.com", None)]}).to_string();
    let r = parse_webhook(&m, "p", body.as_bytes(), chrono::Utc::now());
    let d = &r[0].as_ref().unwrap().doc;
    assert_eq!(d["event"]["action"], "ITEM_TRASH");
    assert_eq!(d["mamori"]["mapping"]["unknown_operation"], true);
}

#[test]
fn committed_fixtures_are_the_generators_output() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhook");
    for (name, bytes) in [("chat-a.jsonl", chat_lines()), ("share-b.json", share_page())] {
        let p = dir.join(name);
        if std::env::var_os("MAMORI_WRITE_FIXTURES").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&p, &bytes).unwrap();
        }
        assert_eq!(std::fs::read(&p).unwrap_or_default(), bytes, "{name}: regenerate with MAMORI_WRITE_FIXTURES=1");
    }
}
