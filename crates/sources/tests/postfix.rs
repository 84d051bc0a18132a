//! Postfix lines through `parse_syslog` and the queue-id correlator.
//!
//! `fixtures/postfix/maillog_3.7` was written by a real Postfix 3.7.11 (Debian 12) through
//! `postlogd` to `maillog_file`, in the run of crates/mamori/tests/postfix.rs
//! (`MAMORI_CAPTURE_DIR=… cargo test -p mamori --test postfix`): one message from tanaka.k to
//! a local alias, a relay that accepts, one that defers (450), one that rejects (550), the
//! `error` transport, LMTP and a recipient refused at RCPT time, with two attachments logged by
//! `mime_header_checks`; its bounce notice; and a plain local message from sato.
//! The syslog-path tests put `<22>` (mail.info) in front of the same lines, which is what
//! rsyslog forwards for them.

use std::path::PathBuf;

use chrono::{TimeDelta, TimeZone, Utc};
use mamori_sources::format::postfix::{MailCorrelator, decode_words, mime_filename};
use mamori_sources::{SyslogContext, parse_postfix_message, parse_syslog};
use serde_json::{Map, Value, json};

type Doc = Map<String, Value>;

fn ctx() -> SyslogContext {
    SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap())
}

fn fixture() -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postfix/maillog_3.7"),
    )
    .unwrap()
}

fn lines(pri: &str) -> Vec<Doc> {
    fixture()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut line = pri.as_bytes().to_vec();
            line.extend_from_slice(l);
            parse_syslog(&line, &ctx()).unwrap()
        })
        .collect()
}

fn correlate(docs: &[Doc]) -> (Vec<Doc>, Vec<Doc>) {
    let mut c = MailCorrelator::new();
    let done: Vec<Doc> = docs.iter().flat_map(|d| c.push(d)).collect();
    (done, c.finish())
}

#[test]
fn every_postfix_line_is_enriched_and_kept() {
    for pri in ["", "<22>"] {
        let docs = lines(pri);
        assert_eq!(docs.len(), 37);
        for d in &docs {
            assert!(
                d["process"]["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("postfix/"),
                "{d:?}"
            );
            assert!(d["mamori"]["mail"]["component"].is_string(), "{d:?}");
            assert!(d["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let kinds = |k: &str| {
            docs.iter()
                .filter(|d| d["mamori"]["mail"]["kind"] == k)
                .count()
        };
        assert_eq!(kinds("delivery"), 8);
        assert_eq!(kinds("header"), 6);
        assert_eq!(kinds("removed"), 2);
        assert_eq!(kinds("reject"), 1);
        assert_eq!(kinds("client"), 2);
        assert_eq!(kinds("notification"), 1);
        assert_eq!(kinds("connect"), 3);
        // Lines of no known shape (startup, "lost connection") keep only the component.
        assert!(docs.iter().any(|d| {
            d["mamori"]["mail"].get("kind").is_none()
                && d["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("lost connection")
        }));
    }
}

#[test]
fn delivery_line_fields() {
    let docs = lines("<22>");
    let d = docs
        .iter()
        .find(|d| d["mamori"]["mail"]["agent"] == "error")
        .unwrap();
    assert_eq!(
        d["email"]["to"]["address"],
        json!(["blocked@partner.example.com"])
    );
    assert_eq!(d["mamori"]["mail"]["status"], "bounced");
    assert_eq!(d["mamori"]["mail"]["dsn"], "5.7.1");
    assert_eq!(d["mamori"]["mail"]["response"], "blocked by city policy");
    assert_eq!(d["mamori"]["mail"]["relay"], "none");
    assert_eq!(d["event"]["outcome"], "failure");
    assert_eq!(d["destination"]["domain"], "partner.example.com");
    let smtp = docs
        .iter()
        .find(|d| d["mamori"]["mail"]["status"] == "sent" && d["mamori"]["mail"]["agent"] == "smtp")
        .unwrap();
    assert_eq!(smtp["destination"]["ip"], "127.0.0.1");
    assert!(smtp["destination"]["port"].as_u64().unwrap() > 0);
    let local = docs
        .iter()
        .find(|d| d["mamori"]["mail"]["orig_to"] == "juki.ka@test.example.lg.jp")
        .unwrap();
    assert_eq!(
        local["email"]["to"]["address"],
        json!(["nobody@test.example.lg.jp"])
    );
    assert_eq!(local["mamori"]["mail"]["delay"], 0.05);
}

#[test]
fn kamaishi_register_mailed_out_with_attachments_is_one_message_event() {
    // Kamaishi: register data left by e-mail; the officer needs who sent what to whom,
    // with which files, in one record.
    let (done, open) = correlate(&lines(""));
    assert_eq!(
        done.len(),
        2,
        "the bounce notice and sato's message end with 'removed'"
    );
    assert_eq!(
        open.len(),
        1,
        "tanaka's message is still queued (deferred recipient)"
    );
    let m = &open[0];
    assert_eq!(m["event"]["dataset"], "postfix.message");
    assert_eq!(m["mamori"]["mail"]["complete"], false);
    assert_eq!(
        m["email"]["from"]["address"],
        json!(["tanaka.k@test.example.lg.jp"])
    );
    assert_eq!(m["email"]["subject"], "住民データ");
    assert_eq!(
        m["email"]["attachments"],
        json!([
            {"file": {"name": "住民一覧.pdf", "extension": "pdf", "mime_type": "application/octet-stream"}},
            {"file": {"name": "kazei_2026.csv", "extension": "csv", "mime_type": "application/octet-stream"}}
        ])
    );
    assert_eq!(m["mamori"]["mail"]["attachments"], 2);
    assert_eq!(m["email"]["to"]["address"].as_array().unwrap().len(), 7);
    assert_eq!(m["mamori"]["mail"]["nrcpt"], 6);
    assert_eq!(m["mamori"]["mail"]["size"], 1297);
    assert_eq!(m["source"]["ip"], "127.0.0.1");
    assert_eq!(m["source"]["domain"], "localhost");
    assert_eq!(m["email"]["message_id"], "20261202035323.021138@vm");
    assert_eq!(m["email"]["local_id"], "D33619B01C0");
    assert_eq!(
        m["mamori"]["mail"]["notification_ids"],
        json!(["DDCE09B01CC"])
    );
    assert_eq!(
        m["mamori"]["mail"]["status"],
        json!(["rejected", "sent", "deferred", "bounced"])
    );
    assert_eq!(m["event"]["outcome"], "failure");
    assert_eq!(m["destination"]["domain"], "outside.example");
    assert!(
        m["mamori"]["mail"]["domains"]
            .as_array()
            .unwrap()
            .contains(&json!("partner.example.com"))
    );
    assert_eq!(m["@timestamp"], "2026-12-02T03:53:23.000Z");
    assert!(
        m["message"]
            .as_str()
            .unwrap()
            .contains("attachments=住民一覧.pdf,kazei_2026.csv")
    );
    let by = |a: &str| {
        m["mamori"]["mail"]["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == a)
            .unwrap()
            .clone()
    };
    assert_eq!(by("later@partner.example.com")["status"], "deferred");
    assert_eq!(by("box@lmtp.test.example.lg.jp")["agent"], "lmtp");
    assert_eq!(by("leak@outside.example")["status"], "rejected");
    assert!(
        by("leak@outside.example")["response"]
            .as_str()
            .unwrap()
            .contains("外部送信禁止")
    );

    let sato = done
        .iter()
        .find(|d| d["email"]["from"]["address"] == json!(["sato@test.example.lg.jp"]))
        .unwrap();
    assert_eq!(sato["mamori"]["mail"]["complete"], true);
    assert_eq!(sato["event"]["outcome"], "success");
    assert_eq!(sato["mamori"]["mail"]["lines"], 6);
}

#[test]
fn syslog_and_maillog_file_correlate_the_same() {
    let strip = |mut d: Doc| {
        d.remove("log");
        d
    };
    let (a, b) = correlate(&lines(""));
    let (c, e) = correlate(&lines("<22>"));
    let a: Vec<Doc> = a.into_iter().chain(b).map(strip).collect();
    let c: Vec<Doc> = c.into_iter().chain(e).map(strip).collect();
    assert_eq!(a, c);
}

#[test]
fn stream_timeout_emits_idle_messages_incomplete() {
    let docs = lines("<22>");
    let mut c = MailCorrelator::new();
    for d in &docs {
        c.push(d);
    }
    assert_eq!(c.open(), 1);
    // Not idle long enough: stays open.
    let last = Utc.with_ymd_and_hms(2026, 12, 2, 3, 53, 24).unwrap();
    assert!(c.expire(last, TimeDelta::minutes(10)).is_empty());
    let out = c.expire(last + TimeDelta::minutes(11), TimeDelta::minutes(10));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["mamori"]["mail"]["complete"], false);
    assert_eq!(c.open(), 0);
    // A later retry line for the same queue id starts a new (partial) record.
    let retry = parse_syslog(
        b"<22>Dec 02 04:10:00 mx postfix/smtp[30000]: D33619B01C0: to=<later@partner.example.com>, relay=127.0.0.1[127.0.0.1]:25, delay=1000, delays=1000/0/0/0, dsn=2.0.0, status=sent (250 ok)",
        &ctx(),
    )
    .unwrap();
    assert!(c.push(&retry).is_empty());
    let removed = parse_syslog(
        b"<22>Dec 02 04:10:00 mx postfix/qmgr[1]: D33619B01C0: removed",
        &ctx(),
    )
    .unwrap();
    let out = c.push(&removed);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["mamori"]["mail"]["status"], json!(["sent"]));
    assert_eq!(out[0]["mamori"]["mail"]["complete"], true);
}

#[test]
fn malformed_and_unknown_postfix_lines_are_kept() {
    let mut d = Doc::new();
    parse_postfix_message("smtp", "D33619B01C0: to=<broken, relay=", &mut d);
    assert_eq!(d["email"]["local_id"], "D33619B01C0");
    assert_eq!(d["mamori"]["mail"]["kind"], "delivery");
    let mut d = Doc::new();
    parse_postfix_message("qmgr", "warning: something odd happened: x", &mut d);
    assert!(d.get("email").is_none());
    assert_eq!(d["mamori"]["mail"]["component"], "qmgr");
    // A line in the middle of the file that is not syslog at all still becomes an event.
    let d = parse_syslog(b"\xff\xfe garbage in maillog", &ctx()).unwrap();
    assert_eq!(d["mamori"]["syslog"]["invalid_utf8"], true);
    // Correlation ignores lines without a queue id.
    let mut c = MailCorrelator::new();
    assert!(c.push(&d).is_empty());
    assert_eq!(c.open(), 0);
}

#[test]
fn sasl_user_and_pickup() {
    let d = parse_syslog(b"<22>Dec 02 09:00:00 mx postfix/submission/smtpd[9]: 4TQnN13Pxvz9sF5: client=pc-042.city.local[10.1.2.3], sasl_method=PLAIN, sasl_username=tanaka.k", &ctx()).unwrap();
    assert_eq!(d["mamori"]["mail"]["component"], "smtpd");
    assert_eq!(d["user"]["name"], "tanaka.k");
    assert_eq!(d["source"]["ip"], "10.1.2.3");
    assert_eq!(d["source"]["domain"], "pc-042.city.local");
    let mut p = Doc::new();
    parse_postfix_message("pickup", "ABCDEF1234: uid=1001 from=<sato>", &mut p);
    assert_eq!(p["user"]["id"], "1001");
    assert_eq!(p["email"]["from"]["address"], json!(["sato"]));
}

#[test]
fn japanese_attachment_names_in_mime_encodings() {
    assert_eq!(
        mime_filename("attachment; filename*=ISO-2022-JP''%1B%24B%3FM%38%7D%1B%28B.xlsx")
            .as_deref(),
        Some("人口.xlsx")
    );
    assert_eq!(
        mime_filename("attachment; filename*0*=UTF-8''%E4%BD%8F; filename*1*=%E6%B0%91.csv")
            .as_deref(),
        Some("住民.csv")
    );
    assert_eq!(
        decode_words("=?ISO-2022-JP?B?GyRCP004fRsoQg==?= 2026"),
        "人口 2026"
    );
}
