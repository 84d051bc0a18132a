//! Fixtures for the municipal rule tests: a roster, a USB 管理台帳 and a policy loaded the way
//! the server loads them (as the admin records the ledger holds), and events built through
//! mamori's real parsers where a parser exists (Samba full_audit via syslog, EVTX, auditd,
//! Squid) and otherwise as ECS documents through the same normalisation as the ingest door
//! (mail, chat, cloud-share and USB events from sources being written in parallel, coded
//! against docs/events.md).
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use mamori_detect::{Engine, Finding, POLICY_ACTION, Policy};
use serde_json::{Value, json};

pub const ROSTER: &str = "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント
1001,山田 太郎,ヤマダ タロウ,2010,市民課,主査,2010/4/1,採用,,yamada.t@city.example.lg.jp;CITY\\yamada.t
1001,山田 太郎,ヤマダ タロウ,3010,建設課,係長,2014/4/1,異動,,
1002,佐藤 花子,サトウ ハナコ,2010,市民課,主査,2008/4/1,採用,,sato.h@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2000/4/1,採用,,suzuki.i@city.example.lg.jp
1003,鈴木 一郎,スズキ イチロウ,2010,市民課,主事,2018/12/21,退職,,
1004,田中 美咲,タナカ ミサキ,1010,人事課,主事,2015/4/1,採用,,tanaka.m@city.example.lg.jp
1005,高橋 健,タカハシ ケン,1010,人事課,主査,2012/4/1,採用,,takahashi.k@city.example.lg.jp
1006,伊藤 誠,イトウ マコト,1030,情報政策課,主査,2012/4/1,採用,,ito.m@city.example.lg.jp
1007,渡辺 直子,ワタナベ ナオコ,2010,市民課,主事,2010/4/1,採用,,watanabe.n@city.example.lg.jp
1008,小林 修,コバヤシ オサム,2010,市民課,主事,2010/4/1,採用,,kobayashi.o@city.example.lg.jp
1010,木村 和夫,キムラ カズオ,2010,市民課,課長,2010/4/1,採用,,kimura.k@city.example.lg.jp
1009,加藤 恵,カトウ メグミ,4010,子育て支援課,主事,2016/4/1,採用,,kato.m@city.example.lg.jp
";

pub const USB: &str = "管理番号,ベンダーID,製品ID,シリアル,種別,所有者,状態,登録日,備考
USB-001,0781,5567,4C530001,セキュアUSB,所属:2010,使用中,2023/4/1,市民課共用
USB-002,0951,1666,AA00112233,暗号化USB,職員:1002,紛失,2023/4/1,
";

pub const POLICY: &str = r#"
everyone = ["share:zenchou", "system:mail"]
all_staff = ["share:zenchou"]
audit_admin_departments = ["1030"]

[[entitlement]]
department = "2010"
resource = "system:juki"

[[entitlement]]
department = "2010"
resource = "share:juki"

[[entitlement]]
department = "1010"
resource = "share:jinji"

[[sensitive]]
resource = "share:jinji"
learning_days = 14

[[takeout]]
request_id = "R-2026-001"
staff_id = "1002"
from = 2026-11-25
until = 2026-11-25
channel = "media"
approved_by = "市民課長"

[home_addresses]
"1001" = ["yamada.home@example.net"]
"#;

/// An engine with the fixtures applied through admin records, as replayed from a ledger.
pub fn engine() -> Engine {
    engine_with(POLICY)
}

/// Like [`engine`] with another policy.
pub fn engine_with(policy: &str) -> Engine {
    Policy::from_toml(policy).expect("policy");
    let mut e = Engine::default();
    let now: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    let rec = mamori_directory::ImportRecord::from_csv("roster-1", ROSTER.as_bytes(), now, Some("roster.csv".into()));
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    e.apply_admin(&json!({"event": {"action": "roster-imported"}, "mamori": {"roster": rec}})).unwrap();
    let imp = mamori_directory::UsbRegistry::new().import_csv(USB.as_bytes(), now.date_naive());
    assert!(imp.errors.is_empty(), "{:?}", imp.errors);
    e.apply_admin(&json!({"event": {"action": "usb-registry-changed"}, "mamori": {"usb_records": imp.records}})).unwrap();
    e.apply_admin(&json!({"event": {"action": POLICY_ACTION}, "mamori": {"detection_policy": {"toml": policy}}})).unwrap();
    e
}

/// Feeds events in order with ids from 1 and returns every finding.
pub struct Feed {
    pub engine: Engine,
    pub next: u64,
}

impl Feed {
    pub fn new() -> Feed {
        Feed { engine: engine(), next: 1 }
    }
    pub fn with(engine: Engine) -> Feed {
        Feed { engine, next: 1 }
    }
    /// One event; returns the findings of `rule`.
    pub fn ev(&mut self, doc: Value, rule: &str) -> Vec<Finding> {
        let id = self.next;
        self.next += 1;
        let ts = doc.get("@timestamp").and_then(Value::as_str).and_then(|s| s.parse().ok()).unwrap_or_else(Utc::now);
        self.engine.process(id, "event", ts, &doc).into_iter().filter(|f| f.rule_id == rule).collect()
    }
    /// Several events; the findings of `rule` for all of them.
    pub fn all(&mut self, docs: Vec<Value>, rule: &str) -> Vec<Finding> {
        docs.into_iter().flat_map(|d| self.ev(d, rule)).collect()
    }
}

/// An ECS document through the ingest door's normalisation.
pub fn ecs(v: Value) -> Value {
    let Value::Object(m) = v else { panic!("object") };
    Value::Object(mamori_event::normalize(m, Utc::now()).expect("valid ECS"))
}

/// A Samba `vfs_full_audit` line (prefix `%u|%I|%m|%S|%P`) as rsyslog forwards it (RFC 5424),
/// through mamori's syslog and full_audit parsers.
pub fn samba(ts: &str, user: &str, share: &str, op: &str, args: &str) -> Value {
    let line = format!("<173>1 {ts} fs01 smbd_audit - - -  {user}|192.0.2.10|pc-{user}|{share}|/srv/{share}|{op}|ok|{args}");
    let doc = mamori_sources::parse_syslog(line.as_bytes(), &mamori_sources::SyslogContext::new(Utc::now())).expect("syslog");
    Value::Object(mamori_event::normalize(doc, Utc::now()).expect("valid"))
}

/// A read of `path` on `share` (openat r + pread).
pub fn smb_read(ts: &str, user: &str, share: &str, path: &str) -> Value {
    samba(ts, user, share, "pread", &format!("/srv/{share}{path}"))
}

/// A write of `path` on `share`.
pub fn smb_write(ts: &str, user: &str, share: &str, path: &str) -> Value {
    samba(ts, user, share, "pwrite", &format!("/srv/{share}{path}"))
}

/// Every record of an EVTX file from the shared public corpus, through mamori's EVTX source.
pub fn corpus_evtx(rel: &str) -> Vec<Value> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/evtx").join(rel);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    mamori_sources::parse_evtx(rel, &bytes).into_iter().filter_map(Result::ok).map(|e| Value::Object(e.doc)).collect()
}

/// auditd records through mamori's auditd source.
pub fn auditd(text: &str) -> Vec<Value> {
    mamori_sources::parse_auditd(text.as_bytes()).into_iter().map(|r| Value::Object(r.expect("auditd").doc)).collect()
}

/// A Squid native access.log line through mamori's Squid source.
pub fn squid(line: &str) -> Value {
    let doc = mamori_sources::parse_squid_line(line.as_bytes(), mamori_sources::LinePos { line: 1, offset: 0 }).expect("squid");
    Value::Object(mamori_event::normalize(doc, Utc::now()).expect("valid"))
}

/// A business-chat webhook payload (the shipped `chat-a` shape) through mamori's webhook
/// mapping, as `POST /api/v1/webhook/chat-a` maps it.
pub fn chat_a(payload: &Value) -> Value {
    let m = mamori_sources::Mapping::builtin("chat-a").expect("chat-a");
    let mut r = mamori_sources::parse_webhook(&m, "chat", payload.to_string().as_bytes(), Utc::now());
    let doc = r.remove(0).expect("chat-a maps").doc;
    Value::Object(mamori_event::normalize(doc, Utc::now()).expect("valid"))
}
