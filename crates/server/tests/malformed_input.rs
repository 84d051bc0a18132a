//! Malformed input on every ingest path of the real server (in-process: `DataDir`, ledger,
//! indexer, HTTP router, syslog TCP/UDP receivers on loopback):
//! bad JSON, wrong field types, oversized lines/frames, invalid UTF-8, truncated TCP frames and
//! invalid octet-counting prefixes. For each: the error names the line/offset and the reason, the
//! good records of the same batch are accepted and queryable, the bad ones are in the quarantine
//! with their exact bytes and source, the counters move, and re-ingest behaves.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAX: usize = 256;
const ORIGIN: &str = "malformed.example.lg.jp/audit";

/// Joins lines with LF; returns the body and each line's start offset.
fn body_of(lines: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    let mut body = Vec::new();
    let mut offs = Vec::new();
    for l in lines {
        offs.push(body.len());
        body.extend_from_slice(l);
        body.push(b'\n');
    }
    (body, offs)
}

fn find_q(items: &[Value], id: u64) -> &Value {
    items.iter().find(|i| i["id"] == id).unwrap_or_else(|| panic!("quarantine id {id} not listed in {items:#?}"))
}

fn find_raw<'a>(items: &'a [Value], raw: &[u8]) -> &'a Value {
    items
        .iter()
        .find(|i| raw_of(i) == raw)
        .unwrap_or_else(|| panic!("no quarantine item with raw {:?} in {:#?}", String::from_utf8_lossy(raw), items))
}

async fn search(srv: &Srv, token: &str, q: &str) -> Vec<Value> {
    let v = srv.get_ok(&format!("/api/v1/events?q={q}&limit=100"), token).await;
    v["events"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ndjson_bad_lines_are_reported_quarantined_and_reingestable_after_a_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    let admin = init(&root, ORIGIN, Some(MAX));
    let srv = start(&root).await;
    let (rej0, pend0, ing0) = (
        srv.metric("mamori_rejected_total", &admin).await,
        srv.metric("mamori_quarantined_pending", &admin).await,
        srv.metric("mamori_ingested_total", &admin).await,
    );

    let long = format!(r#"{{"message":"long-line {}"}}"#, "A".repeat(MAX));
    let sjis = b"{\"message\":\"sjis \x82\xa0\"}".to_vec();
    let lines: Vec<Vec<u8>> = vec![
        br#"{"@timestamp":"2026-04-01T09:00:00+09:00","user":{"name":"tanaka"},"event":{"action":"file-open"},"message":"ndjsongoodone"}"#.to_vec(),
        br#"{"user": {"name": "#.to_vec(),
        br#"{"user":{"name":42},"message":"wrong-type"}"#.to_vec(),
        br#"{"source.ip":"999.1.1.1","message":"bad-ip"}"#.to_vec(),
        b"   ".to_vec(),
        long.clone().into_bytes(),
        sjis.clone(),
        b"[1,2]".to_vec(),
        br#"{"user.name":"suzuki","message":"ndjsongoodtwo"}"#.to_vec(),
    ];
    let (body, offs) = body_of(&lines);
    let (s, v) = srv.post("/api/v1/events", &admin, body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["accepted"], 2, "{v:#}");
    assert_eq!(v["rejected"], 6, "{v:#}");
    let items = v["items"].as_array().unwrap();
    let got_lines: Vec<u64> = items.iter().map(|i| i["line"].as_u64().unwrap()).collect();
    assert_eq!(got_lines, [1, 2, 3, 4, 6, 7, 8, 9], "blank line 5 is skipped, every other line answered in order");
    let err = |k: usize| items[k]["error"].as_str().unwrap_or_else(|| panic!("item {k} has no error: {}", items[k])).to_owned();
    assert_eq!(items[0]["status"], "created");
    assert_eq!(items[7]["status"], "created");
    for it in &items[1..7] {
        assert_eq!(it["status"], "rejected", "{it}");
    }
    // Parse errors name the line and the byte offset of its start, and the reason.
    assert!(err(1).starts_with(&format!("line 2 (byte {}): invalid JSON", offs[1])), "{}", err(1));
    // Type errors name the field and what was expected (the line is in the item).
    assert!(err(2).contains("user.name") && err(2).contains("expected a string, found a number"), "{}", err(2));
    assert!(err(3).contains("source.ip") && err(3).contains("999.1.1.1") && err(3).contains("not an IPv4 or IPv6 address"), "{}", err(3));
    assert!(err(4).starts_with(&format!("line 6 (byte {}): line is {} bytes, longer than the maximum of {MAX}", offs[5], long.len())), "{}", err(4));
    let bad_byte = offs[6] + sjis.iter().position(|&b| b == 0x82).unwrap();
    assert!(err(5).starts_with(&format!("line 7 (byte {}): invalid UTF-8 at byte {bad_byte}", offs[6])), "{}", err(5));
    assert!(err(6).contains("line 8") && err(6).contains("expected a JSON object, found array"), "{}", err(6));

    // Good lines of the same batch are queryable.
    srv.wait_indexed().await;
    for (k, msg) in [(0, "ndjsongoodone"), (7, "ndjsongoodtwo")] {
        let id = items[k]["id"].as_u64().unwrap();
        let e = srv.get_ok(&format!("/api/v1/events/{id}"), &admin).await;
        assert_eq!(e["event"]["message"], msg);
    }
    let two = srv.get_ok(&format!("/api/v1/events/{}", items[7]["id"]), &admin).await;
    assert_eq!(two["event"]["user"]["name"], "suzuki", "dotted keys are expanded");
    assert_eq!(search(&srv, &admin, "ndjsongood").await.len(), 2);

    // Every bad line is in the quarantine with its exact bytes, line, offset, reason and source.
    let q = srv.quarantine(&admin).await;
    let bad = [(1usize, 1usize), (2, 2), (3, 3), (4, 5), (5, 6), (6, 7)]; // (item, line index)
    for (k, li) in bad {
        let qid = items[k]["quarantine_id"].as_u64().unwrap();
        let it = find_q(&q, qid);
        assert_eq!(raw_of(it), lines[li], "raw bytes of line {}", li + 1);
        assert_eq!(it["source"], "api-ndjson");
        assert_eq!(it["reason"], items[k]["error"]);
        assert_eq!(it["reingested"], Value::Null);
        let mq = &it["event"]["mamori"]["quarantine"];
        assert_eq!(mq["line"], li + 1);
        assert_eq!(mq["offset"], offs[li]);
        assert_eq!(mq["format"], "ecs-ndjson");
        assert_eq!(it["event"]["event"]["kind"], "pipeline_error");
    }
    assert_eq!(srv.metric("mamori_rejected_total", &admin).await - rej0, 6.0);
    assert_eq!(srv.metric("mamori_ingested_total", &admin).await - ing0, 2.0);
    assert_eq!(srv.metric("mamori_quarantined_pending", &admin).await - pend0, 6.0);

    // Re-ingest of records that are still bad: 422, nothing changes.
    let qid = |k: usize| items[k]["quarantine_id"].as_u64().unwrap();
    let size_before = srv.st.ledger.durable_size();
    for (k, code) in [(1, "still_unparseable"), (2, "still_invalid"), (3, "still_invalid"), (4, "still_unparseable"), (5, "still_unparseable"), (6, "still_unparseable")] {
        let (s, v) = srv.post(&format!("/api/v1/quarantine/{}/reingest", qid(k)), &admin, Vec::new()).await;
        assert_eq!(s, 422, "item {k}: {v}");
        assert_eq!(v["error"]["code"], code, "item {k}: {v}");
    }
    let (s, v) = srv.post(&format!("/api/v1/quarantine/{}/reingest", items[0]["id"]), &admin, Vec::new()).await;
    assert_eq!(s, 404, "an ordinary event is not a quarantine record: {v}");
    let (s, _) = srv.post("/api/v1/quarantine/999999/reingest", &admin, Vec::new()).await;
    assert_eq!(s, 404);
    assert_eq!(srv.st.ledger.durable_size(), size_before, "refused re-ingests append nothing");

    // The fix: the operator raises max_line_bytes and restarts; the long line now re-ingests.
    srv.stop().await;
    set_max_line(&root, 4096);
    let srv = start(&root).await;
    let pend1 = srv.metric("mamori_quarantined_pending", &admin).await;
    assert_eq!(pend1 - pend0, 6.0, "pending survives a restart (it is derived from the ledger)");
    let (s, v) = srv.post(&format!("/api/v1/quarantine/{}/reingest", qid(4)), &admin, Vec::new()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["quarantine_id"], qid(4));
    let new_ids: Vec<u64> = v["new_ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
    assert_eq!(new_ids.len(), 1);
    let admin_id = v["admin_id"].as_u64().unwrap();
    srv.wait_indexed().await;
    let e = srv.get_ok(&format!("/api/v1/events/{}", new_ids[0]), &admin).await;
    assert_eq!(e["kind"], "event");
    assert!(e["event"]["message"].as_str().unwrap().starts_with("long-line AAAA"), "{e}");
    let q = srv.quarantine(&admin).await;
    let it = find_q(&q, qid(4));
    assert_eq!(it["reingested"], json!({"admin_event_id": admin_id, "new_ids": new_ids}));
    assert_eq!(srv.metric("mamori_quarantined_pending", &admin).await, pend1 - 1.0);
    let pending = srv.get_ok("/api/v1/quarantine?pending=true&limit=1000", &admin).await;
    let pending_ids: Vec<u64> = pending["items"].as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();
    assert!(!pending_ids.contains(&qid(4)), "{pending_ids:?}");
    assert!(pending_ids.contains(&qid(1)));
    // The re-ingest is an admin record naming the actor, in the admin audit trail.
    let audit = srv.get_ok("/api/v1/admin/audit?limit=1000", &admin).await;
    let rec = audit["events"].as_array().unwrap().iter().find(|h| h["id"] == admin_id).expect("reingest in the admin audit");
    assert_eq!(rec["event"]["event"]["action"], "quarantine-reingest");
    assert_eq!(rec["event"]["mamori"]["reingest"]["quarantine_id"], qid(4));
    assert_eq!(rec["event"]["user"]["name"], "initial-admin");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_bad_items_are_per_item_errors_and_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    let admin = init(&root, ORIGIN, Some(MAX));
    let srv = start(&root).await;
    for (path, default_index) in [("/_bulk", "mamori"), ("/winlogbeat-8.11.0/_bulk", "winlogbeat-8.11.0")] {
        let rej0 = srv.metric("mamori_rejected_total", &admin).await;
        let pend0 = srv.metric("mamori_quarantined_pending", &admin).await;
        let tag = if path == "/_bulk" { "plain" } else { "indexed" };
        let long = format!(r#"{{"message":"{}"}}"#, "L".repeat(MAX + 10));
        let lines: Vec<Vec<u8>> = vec![
            br#"{"create":{}}"#.to_vec(),
            format!(r#"{{"@timestamp":"2026-04-01T09:00:00+09:00","user":{{"name":"sato"}},"message":"bulkgoodone{tag}"}}"#).into_bytes(),
            br#"{"index":{"_index":"other-index"}}"#.to_vec(),
            br#"{"user":{"name":7},"message":"bulk-wrong-type"}"#.to_vec(),
            br#"{"create":{}}"#.to_vec(),
            br#"{"message": "bulk broken"#.to_vec(),
            br#"{"create":{}}"#.to_vec(),
            b"{\"message\":\"bulk \xff\xfe\"}".to_vec(),
            br#"{"create":{}}"#.to_vec(),
            long.into_bytes(),
            br#"{"create" broken action"#.to_vec(),
            br#"{"create":{}}"#.to_vec(),
            format!(r#"{{"message":"bulkgoodtwo{tag}","event":{{"dataset":"custom.ds"}}}}"#).into_bytes(),
            br#"{"delete":{"_id":"1"}}"#.to_vec(),
            br#"{"update":{"_id":"1"}}"#.to_vec(),
            br#"{"doc":{"message":"changed"}}"#.to_vec(),
            br#"{"create":{}}"#.to_vec(),
        ];
        let (body, offs) = body_of(&lines);
        let (s, v) = srv.post(path, &admin, body).await;
        assert_eq!(s, 200, "{path}: {v}");
        assert_eq!(v["errors"], true);
        let items = v["items"].as_array().unwrap();
        let summary: Vec<(String, u64)> = items
            .iter()
            .map(|i| {
                let (a, b) = i.as_object().unwrap().iter().next().unwrap();
                (a.clone(), b["status"].as_u64().unwrap())
            })
            .collect();
        let expect: Vec<(String, u64)> = [("create", 201), ("index", 400), ("create", 400), ("create", 400), ("create", 400), ("index", 400), ("create", 201), ("delete", 405), ("update", 405), ("create", 400)]
            .iter()
            .map(|(a, s)| (a.to_string(), *s))
            .collect();
        assert_eq!(summary, expect, "{path}: {v:#}");
        let item = |k: usize| items[k].as_object().unwrap().values().next().unwrap().clone();
        let reason = |k: usize| item(k)["error"]["reason"].as_str().unwrap().to_owned();
        assert_eq!(item(0)["_index"], default_index);
        assert_eq!(item(1)["_index"], "other-index");
        assert_eq!(item(1)["error"]["type"], "document_parsing_exception");
        assert!(reason(1).contains("user.name") && reason(1).contains("expected a string"), "{}", reason(1));
        assert!(reason(2).starts_with(&format!("line 6 (byte {}): invalid JSON", offs[5])), "{}", reason(2));
        assert!(reason(3).starts_with(&format!("line 8 (byte {}): invalid UTF-8", offs[7])), "{}", reason(3));
        assert!(reason(4).starts_with(&format!("line 10 (byte {}): line is", offs[9])) && reason(4).contains(&format!("maximum of {MAX}")), "{}", reason(4));
        assert!(reason(5).starts_with(&format!("bad bulk action line: line 11 (byte {})", offs[10])), "{}", reason(5));
        assert!(reason(7).contains("append-only") && reason(8).contains("append-only"));
        assert_eq!(item(9)["error"]["type"], "action_request_validation_exception");

        // Accepted documents are queryable, tagged with the index unless they carry a dataset.
        srv.wait_indexed().await;
        let one = srv.get_ok(&format!("/api/v1/events/{}", item(0)["_id"].as_str().unwrap()), &admin).await;
        assert_eq!(one["event"]["message"], format!("bulkgoodone{tag}"));
        assert_eq!(one["event"]["event"]["dataset"], default_index);
        let two = srv.get_ok(&format!("/api/v1/events/{}", item(6)["_id"].as_str().unwrap()), &admin).await;
        assert_eq!(two["event"]["event"]["dataset"], "custom.ds");
        assert_eq!(search(&srv, &admin, "bulkgood").await.iter().filter(|h| h["event"]["message"].as_str().unwrap().ends_with(tag)).count(), 2);

        // The five rejected inputs are quarantined with their exact bytes and source.
        let q = srv.quarantine(&admin).await;
        for (k, li) in [(1usize, 3usize), (2, 5), (3, 7), (4, 9), (5, 10)] {
            let qid = item(k)["error"]["mamori_quarantine_id"].as_u64().unwrap_or_else(|| panic!("{}", item(k)));
            assert_eq!(item(k)["_id"], qid.to_string());
            let it = find_q(&q, qid);
            assert_eq!(raw_of(it), lines[li], "{path} line {}", li + 1);
            assert_eq!(it["source"], "es-bulk");
            assert_eq!(it["event"]["mamori"]["quarantine"]["offset"], offs[li]);
            assert_eq!(it["event"]["mamori"]["quarantine"]["line"], li + 1);
        }
        assert_eq!(srv.metric("mamori_rejected_total", &admin).await - rej0, 5.0, "{path}");
        assert_eq!(srv.metric("mamori_quarantined_pending", &admin).await - pend0, 5.0, "{path}");
        // Still-bad records do not re-ingest.
        let qid = item(1)["error"]["mamori_quarantine_id"].as_u64().unwrap();
        let (s, v) = srv.post(&format!("/api/v1/quarantine/{qid}/reingest"), &admin, Vec::new()).await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some("still_invalid")), "{v}");
    }

    // `POST /{index}/_doc`: a bad document is a 400 with the reason and a quarantine id.
    let (s, v) = srv.post("/rsyslog/_doc", &admin, br#"{"source":{"port":"eighty"}}"#.to_vec()).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error"]["reason"].as_str().unwrap().contains("source.port"), "{v}");
    let qid = v["error"]["mamori_quarantine_id"].as_u64().unwrap();
    let (s, v) = srv.post("/rsyslog/_doc", &admin, br#"{"message":"docgood"}"#.to_vec()).await;
    assert_eq!((s, v["result"].as_str()), (201, Some("created")), "{v}");
    srv.wait_indexed().await;
    let q = srv.quarantine(&admin).await;
    assert_eq!(raw_of(find_q(&q, qid)), br#"{"source":{"port":"eighty"}}"#);
    srv.stop().await;
}

fn oc(msg: &[u8]) -> Vec<u8> {
    let mut v = format!("{} ", msg.len()).into_bytes();
    v.extend_from_slice(msg);
    v
}

/// Sends `bytes` on a new connection, closes the write side, and waits until the server has
/// closed the connection (EOF or reset).
async fn send_tcp(addr: std::net::SocketAddr, bytes: &[u8], half_close: bool) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    if half_close {
        s.shutdown().await.unwrap();
    }
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await;
    match r {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!("the syslog server answered {n} bytes"),
        Err(_) => panic!("the server did not close the connection"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn syslog_tcp_bad_frames_truncation_and_bad_prefixes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    let admin = init(&root, ORIGIN, Some(MAX));
    let srv = start(&root).await;
    let rej0 = srv.metric("mamori_rejected_total", &admin).await;
    let pend0 = srv.metric("mamori_quarantined_pending", &admin).await;

    // A: octet counting; a good frame, a bad PRI, a Shift_JIS message, then a length above the
    // maximum (fatal: the server quarantines the rest and closes).
    let good1 = b"<134>1 2026-04-01T09:00:00+09:00 fs01 smbd 100 - - tcpocgoodone".to_vec();
    let badpri = b"<999>1 2026-04-01T09:00:00+09:00 fs01 smbd - - - tcp-oc-bad-pri".to_vec();
    let sjis = b"<134>1 2026-04-01T09:00:00+09:00 fs01 smbd - - - tcpocsjis \x82\xa0\x82\xa2".to_vec();
    let tail = b"99999 <13>tail-after-bad-length".to_vec();
    let mut a = Vec::new();
    a.extend(oc(&good1));
    let badpri_off = a.len() + format!("{} ", badpri.len()).len();
    a.extend(oc(&badpri));
    a.extend(oc(&sjis));
    let tail_off = a.len();
    a.extend(&tail);
    send_tcp(srv.tcp, &a, false).await;

    // B: octet counting, then the sender switches to LF framing: invalid prefix (fatal).
    let good2 = b"<134>1 2026-04-01T09:00:01+09:00 fs01 smbd - - - tcpocgoodtwo".to_vec();
    let switched = b"<13>switched to LF\n".to_vec();
    let mut b = oc(&good2);
    let switched_off = b.len();
    b.extend(&switched);
    send_tcp(srv.tcp, &b, false).await;

    // C: octet counting, connection closed in the middle of a frame.
    let good3 = b"<134>1 2026-04-01T09:00:02+09:00 fs01 smbd - - - tcpocgoodthree".to_vec();
    let cut = b"120 <13>1 2026-04-01T09:00:03+09:00 fs01 smbd - - - tcpoctruncated".to_vec();
    let mut c = oc(&good3);
    let cut_off = c.len();
    c.extend(&cut);
    send_tcp(srv.tcp, &c, true).await;

    // D: LF framing; good, bad PRI, oversized (skipped to the next LF), good, and an
    // unterminated last line.
    let lf_good = b"<134>Apr  1 09:00:00 fs01 smbd[7]: tcplfgoodone".to_vec();
    let lf_badpri = b"<1x>tcp-lf-bad-pri".to_vec();
    let lf_long = [b"<134>".to_vec(), vec![b'B'; MAX + 50]].concat();
    let lf_good2 = b"<134>Apr  1 09:00:00 fs01 smbd[7]: tcplfgoodtwo".to_vec();
    let lf_last = b"<134>Apr  1 09:00:01 fs01 smbd[7]: tcplfunterminated".to_vec();
    let mut d = Vec::new();
    let mut d_offs = Vec::new();
    for l in [&lf_good, &lf_badpri, &lf_long, &lf_good2] {
        d_offs.push(d.len());
        d.extend_from_slice(l);
        d.push(b'\n');
    }
    let last_off = d.len();
    d.extend(&lf_last);
    send_tcp(srv.tcp, &d, true).await;

    // Everything each connection sent has been handled once the connections closed; wait for
    // the index.
    srv.wait_indexed().await;
    let hits = search(&srv, &admin, "tcpocgood").await;
    assert_eq!(hits.len(), 3, "{hits:#?}");
    assert_eq!(search(&srv, &admin, "tcplfgood").await.len(), 2);
    let sj = search(&srv, &admin, "tcpocsjis").await;
    assert_eq!(sj.len(), 1, "a non-UTF-8 syslog message is kept (flagged), not rejected");
    assert_eq!(sj[0]["event"]["mamori"]["syslog"]["invalid_utf8"], true);
    assert_eq!(search(&srv, &admin, "tcpoctruncated").await.len(), 0, "a truncated frame is not parsed as complete");
    assert_eq!(search(&srv, &admin, "tcplfunterminated").await.len(), 0);

    let q = srv.quarantine(&admin).await;
    let check = |raw: &[u8], offset: usize, reason_has: &[&str]| {
        let it = find_raw(&q, raw);
        assert!(it["source"].as_str().unwrap().starts_with("syslog-tcp:127.0.0.1:"), "{it}");
        assert_eq!(it["event"]["mamori"]["quarantine"]["format"], "syslog");
        assert_eq!(it["event"]["mamori"]["quarantine"]["offset"], offset, "{it}");
        let r = it["reason"].as_str().unwrap();
        for h in reason_has {
            assert!(r.contains(h), "{r:?} lacks {h:?}");
        }
        it["id"].as_u64().unwrap()
    };
    let q_badpri = check(&badpri, badpri_off, &["PRI value 999", &format!("stream byte {badpri_off}")]);
    // A fatal framing error keeps everything from the bad spot on in ONE record, with the reason.
    check(&tail, tail_off, &[&format!("byte {tail_off}"), "exceeds the maximum of 256", "rest of the connection"]);
    check(&switched, switched_off, &[&format!("byte {switched_off}"), "invalid octet-counting length prefix", "rest of the connection"]);
    check(&cut, cut_off, &[&format!("byte {cut_off}"), "stream ended inside a frame", "120 declared"]);
    check(&lf_badpri, d_offs[1], &["invalid PRI"]);
    check(&lf_long[..MAX], d_offs[2], &[&format!("byte {}", d_offs[2]), "longer than the maximum of 256"]);
    let q_last = check(&lf_last, last_off, &["stream ended inside a frame"]);
    // Per connection, the source names the peer: A and D came from different ports.
    let src_a = find_raw(&q, &badpri)["source"].clone();
    let src_d = find_raw(&q, &lf_badpri)["source"].clone();
    assert_ne!(src_a, src_d);

    assert_eq!(srv.metric("mamori_rejected_total", &admin).await - rej0, 7.0);
    assert_eq!(srv.metric("mamori_quarantined_pending", &admin).await - pend0, 7.0);

    // Re-ingest: a bad PRI is still bad; the unterminated last line was a whole message after
    // all and re-ingests, with the same time zone rule as live syslog (+09:00 by default).
    let (s, v) = srv.post(&format!("/api/v1/quarantine/{q_badpri}/reingest"), &admin, Vec::new()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("still_unparseable")), "{v}");
    let (s, v) = srv.post(&format!("/api/v1/quarantine/{q_last}/reingest"), &admin, Vec::new()).await;
    assert_eq!(s, 200, "{v}");
    let new_id = v["new_ids"][0].as_u64().unwrap();
    srv.wait_indexed().await;
    let e = srv.get_ok(&format!("/api/v1/events/{new_id}"), &admin).await;
    assert_eq!(e["event"]["message"], "tcplfunterminated", "{e}");
    assert_eq!(e["event"]["process"]["name"], "smbd");
    assert_eq!(e["event"]["source"]["ip"], "127.0.0.1", "the sender's address is kept on re-ingest: {e}");
    let live = &search(&srv, &admin, "tcplfgoodone").await[0];
    let ts = e["event"]["@timestamp"].as_str().unwrap();
    let live_ts = live["event"]["@timestamp"].as_str().unwrap();
    assert_eq!(&ts[10..19], "T00:00:01", "re-ingested RFC 3164 time must use the configured +09:00 offset: {ts} (live: {live_ts})");
    assert_eq!(&live_ts[10..19], "T00:00:00");
    let q = srv.quarantine(&admin).await;
    assert_eq!(find_q(&q, q_last)["reingested"]["new_ids"], json!([new_id]));
    assert_eq!(srv.metric("mamori_quarantined_pending", &admin).await - pend0, 6.0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn syslog_udp_bad_datagrams_are_quarantined_with_their_sender() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    let admin = init(&root, ORIGIN, Some(MAX));
    let srv = start(&root).await;
    let rej0 = srv.metric("mamori_rejected_total", &admin).await;
    let pend0 = srv.metric("mamori_quarantined_pending", &admin).await;

    let a = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a_addr = a.local_addr().unwrap();
    let good = b"<134>1 2026-04-01T09:00:00+09:00 fs01 smbd - - - udpgoodone".to_vec();
    let badpri = b"<192>udp-bad-pri".to_vec();
    let sjis = b"<134>1 2026-04-01T09:00:00+09:00 fs01 smbd - - - udpsjis \x82\xa0".to_vec();
    let empty = b"   ".to_vec();
    let long = [b"<134>1 - fs01 smbd - - - udplong ".to_vec(), vec![b'C'; MAX]].concat();
    for d in [&good, &badpri, &sjis, &empty, &long] {
        a.send_to(d, srv.udp).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eventually(10, "UDP datagrams", || async {
        srv.wait_indexed().await;
        let n = srv.metric("mamori_quarantined_pending", &admin).await - pend0;
        (n >= 3.0 && search(&srv, &admin, "udpsjis").await.len() == 1).then_some(())
    })
    .await;
    assert_eq!(search(&srv, &admin, "udpgoodone").await.len(), 1);
    let q = srv.quarantine(&admin).await;
    let src_a = format!("syslog-udp:{a_addr}");
    let it = find_raw(&q, &badpri);
    assert_eq!(it["source"], src_a.as_str());
    assert!(it["reason"].as_str().unwrap().contains("PRI value 192"), "{it}");
    let it = find_raw(&q, &empty);
    assert!(it["reason"].as_str().unwrap().contains("empty message"), "{it}");
    // max_line_bytes ("largest accepted NDJSON line / syslog frame") applies to datagrams too.
    let it = find_raw(&q, &long);
    assert_eq!(it["source"], src_a.as_str());
    assert!(it["reason"].as_str().unwrap().contains(&format!("maximum of {MAX}")), "{it}");
    assert_eq!(search(&srv, &admin, "udplong").await.len(), 0);
    assert_eq!(srv.metric("mamori_rejected_total", &admin).await - rej0, 3.0);
    assert_eq!(srv.metric("mamori_quarantined_pending", &admin).await - pend0, 3.0);

    // Datagrams from two senders arriving together (drained into one batch while the previous
    // one is being made durable) are each attributed to their own sender.
    let b = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b_addr = b.local_addr().unwrap();
    let n = 40;
    for i in 0..n {
        a.send_to(format!("<999>from {a_addr} #{i}").as_bytes(), srv.udp).await.unwrap();
        b.send_to(format!("<999>from {b_addr} #{i}").as_bytes(), srv.udp).await.unwrap();
    }
    let q = eventually(10, "interleaved datagrams", || async {
        srv.wait_indexed().await;
        let q = srv.quarantine(&admin).await;
        let c = q.iter().filter(|i| raw_of(i).starts_with(b"<999>from ")).count();
        (c == 2 * n).then_some(q)
    })
    .await;
    for it in q.iter().filter(|i| raw_of(i).starts_with(b"<999>from ")) {
        let raw = String::from_utf8(raw_of(it)).unwrap();
        let sender = raw.trim_start_matches("<999>from ").split(' ').next().unwrap().to_owned();
        assert_eq!(it["source"], format!("syslog-udp:{sender}"), "{raw}");
    }
    srv.stop().await;
}
