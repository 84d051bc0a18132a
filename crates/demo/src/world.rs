//! The city, its people and their days.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use crate::DemoError;
use crate::names::*;

/// Sizes and seed of a demo city.
#[derive(Clone, Debug)]
pub struct Config {
    /// RNG seed: the same seed and sizes give byte-identical output.
    pub seed: u64,
    /// Staff at the start.
    pub staff: usize,
    /// Residents.
    pub residents: usize,
    /// Days of activity, ending on [`Config::last_day`] (at least 400: the scenarios span fiscal 2025).
    pub days: u32,
    /// Background activity in percent of a normal office day's events (100; the CI-sized
    /// acceptance test uses less so a debug build loads it in minutes).
    pub activity: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            staff: 600,
            residents: 30_000,
            days: 400,
            activity: 100,
        }
    }
}

impl Config {
    /// The last day of activity (fixed so the scenarios' dates are fixed).
    pub fn last_day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 4, 7).unwrap()
    }
    /// The first day of activity.
    pub fn first_day(&self) -> NaiveDate {
        Self::last_day() - Duration::days(i64::from(self.days) - 1)
    }
}

/// What was written.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// Events (log lines / documents) written.
    pub events: u64,
    /// Files written.
    pub files: usize,
    /// Staff (ever employed in the window).
    pub staff: usize,
    /// Residents.
    pub residents: usize,
    /// First day.
    pub first_day: NaiveDate,
    /// Last day.
    pub last_day: NaiveDate,
    /// Staff-days (employed staff summed over calendar days).
    pub staff_days: u64,
}

// ---- RNG ------------------------------------------------------------------------------------

/// SplitMix64: small, fast, fully specified (the output must not change with a crate update).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub(crate) fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

// ---- Organisation -----------------------------------------------------------------------------

/// A department: code, name, parent code.
pub(crate) struct Dept {
    pub code: &'static str,
    pub name: &'static str,
    pub parent: &'static str,
    /// Staff weight for leaf units (0: not a work unit).
    pub weight: u32,
}

pub(crate) const DEPTS: &[Dept] = &[
    Dept {
        code: "10",
        name: "総務部",
        parent: "",
        weight: 0,
    },
    Dept {
        code: "1010",
        name: "人事課",
        parent: "10",
        weight: 0,
    },
    Dept {
        code: "101010",
        name: "人事課人事係",
        parent: "1010",
        weight: 2,
    },
    Dept {
        code: "101020",
        name: "人事課給与係",
        parent: "1010",
        weight: 2,
    },
    Dept {
        code: "1020",
        name: "総務課",
        parent: "10",
        weight: 4,
    },
    Dept {
        code: "1030",
        name: "情報政策課",
        parent: "10",
        weight: 3,
    },
    Dept {
        code: "20",
        name: "市民生活部",
        parent: "",
        weight: 0,
    },
    Dept {
        code: "2010",
        name: "市民課",
        parent: "20",
        weight: 0,
    },
    Dept {
        code: "201010",
        name: "市民課住民記録係",
        parent: "2010",
        weight: 6,
    },
    Dept {
        code: "201020",
        name: "市民課窓口係",
        parent: "2010",
        weight: 5,
    },
    Dept {
        code: "2020",
        name: "保険年金課",
        parent: "20",
        weight: 4,
    },
    Dept {
        code: "2030",
        name: "税務課",
        parent: "20",
        weight: 0,
    },
    Dept {
        code: "203010",
        name: "税務課市民税係",
        parent: "2030",
        weight: 4,
    },
    Dept {
        code: "203020",
        name: "税務課収納係",
        parent: "2030",
        weight: 3,
    },
    Dept {
        code: "30",
        name: "建設部",
        parent: "",
        weight: 0,
    },
    Dept {
        code: "3010",
        name: "建設課",
        parent: "30",
        weight: 5,
    },
    Dept {
        code: "3020",
        name: "都市計画課",
        parent: "30",
        weight: 3,
    },
    Dept {
        code: "40",
        name: "保健福祉部",
        parent: "",
        weight: 0,
    },
    Dept {
        code: "4010",
        name: "子育て支援課",
        parent: "40",
        weight: 4,
    },
    Dept {
        code: "4020",
        name: "福祉課",
        parent: "40",
        weight: 5,
    },
    Dept {
        code: "4030",
        name: "健康推進課",
        parent: "40",
        weight: 3,
    },
    Dept {
        code: "50",
        name: "産業部",
        parent: "",
        weight: 0,
    },
    Dept {
        code: "5010",
        name: "商工観光課",
        parent: "50",
        weight: 3,
    },
    Dept {
        code: "5020",
        name: "農林課",
        parent: "50",
        weight: 3,
    },
    Dept {
        code: "60",
        name: "会計管理者",
        parent: "",
        weight: 0,
    },
    Dept {
        code: "6010",
        name: "会計課",
        parent: "60",
        weight: 2,
    },
];

pub(crate) fn dept(code: &str) -> &'static Dept {
    DEPTS
        .iter()
        .find(|d| d.code == code)
        .expect("known department")
}

/// The 課 (4-digit) of a unit.
pub(crate) fn ka_of(code: &str) -> &str {
    if code.len() >= 4 { &code[..4] } else { code }
}

/// The share of a 課 (`k2010`), not governed.
pub(crate) fn ka_share(code: &str) -> String {
    format!("k{}", ka_of(code))
}

/// 課 entitled to the register system.
pub(crate) const JUKI_DEPTS: &[&str] = &["2010", "2020", "2030"];

pub(crate) fn juki_entitled(unit: &str) -> bool {
    JUKI_DEPTS.iter().any(|d| unit.starts_with(d))
}

// ---- People -----------------------------------------------------------------------------------

/// A member of staff.
#[derive(Clone, Debug)]
pub(crate) struct Person {
    pub id: String,
    pub name: String,
    pub kana: String,
    pub account: String,
    pub birth: NaiveDate,
    pub address: String,
    pub hired: NaiveDate,
    /// (from, unit code, title), in order.
    pub posts: Vec<(NaiveDate, &'static str, &'static str)>,
    pub retire: Option<NaiveDate>,
    pub pc: String,
    pub ip: String,
    /// Part of a scenario: no random transfer, retirement or noise beyond normal work.
    pub actor: bool,
    /// Their PC's Windows events are written as EVTX files (the Ikeda director's PC), not as
    /// Winlogbeat documents.
    pub evtx: bool,
}

impl Person {
    pub(crate) fn post_at(&self, d: NaiveDate) -> Option<(&'static str, &'static str)> {
        if d < self.hired || self.retire.is_some_and(|r| d > r) {
            return None;
        }
        self.posts
            .iter()
            .rev()
            .find(|p| p.0 <= d)
            .map(|p| (p.1, p.2))
    }
    pub(crate) fn mail(&self) -> String {
        format!("{}@{DOMAIN}", self.account)
    }
}

/// A fictional resident.
#[derive(Clone, Debug)]
pub(crate) struct Resident {
    pub atena: String,
    pub name: String,
    pub kana: String,
    pub sex: &'static str,
    pub birth: NaiveDate,
    pub address: String,
    pub juminhyo: String,
    pub my_number: String,
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub(crate) fn address(r: &mut Rng) -> String {
    format!(
        "{PREF}{CITY}{}{}丁目{}番{}号",
        r.pick(TOWNS),
        r.range(1, 5),
        r.range(1, 30),
        r.range(1, 20)
    )
}

fn birth(r: &mut Rng, from_year: i32, to_year: i32) -> NaiveDate {
    let y = r.range(from_year as u64, to_year as u64) as i32;
    ymd(y, 1, 1) + Duration::days(r.below(365) as i64)
}

/// Residents with valid check digits: 住民票コード 00000nnnnnC, 個人番号 0000nnnnnnnC.
pub(crate) fn residents(r: &mut Rng, n: usize) -> Vec<Resident> {
    (0..n)
        .map(|i| {
            let (s, sk, _) = *r.pick(SURNAMES);
            let female = r.chance(0.5);
            let half = GIVEN.len() / 2;
            let (g, gk, _) = if female {
                GIVEN[half + r.below((GIVEN.len() - half) as u64) as usize]
            } else {
                GIVEN[r.below(half as u64) as usize]
            };
            let j10 = format!("00000{:05}", i % 100_000);
            let juminhyo = format!("{j10}{}", mamori_pii::checkdigit::juminhyo_check(&j10));
            let m11 = format!(
                "0000{:07}",
                (i as u64 * 7_919 + r.below(7_000)) % 10_000_000
            );
            let my_number = format!("{m11}{}", mamori_pii::checkdigit::my_number_check(&m11));
            Resident {
                atena: format!("{:012}", 100_000 + i),
                name: format!("{s} {g}"),
                kana: format!("{sk} {gk}"),
                sex: if female { "女" } else { "男" },
                birth: birth(r, 1932, 2024),
                address: address(r),
                juminhyo,
                my_number,
            }
        })
        .collect()
}

pub(crate) struct People {
    pub list: Vec<Person>,
    used_accounts: std::collections::HashSet<String>,
    next_id: u32,
}

impl People {
    pub(crate) fn new() -> People {
        People {
            list: Vec::new(),
            used_accounts: Default::default(),
            next_id: 10001,
        }
    }
    /// Adds a person with one post; returns the index.
    pub(crate) fn add(
        &mut self,
        r: &mut Rng,
        hired: NaiveDate,
        unit: &'static str,
        title: &'static str,
        actor: bool,
    ) -> usize {
        let (s, sk, sr) = *r.pick(SURNAMES);
        let (g, gk, gr) = *r.pick(GIVEN);
        let base = format!("{sr}.{}", &gr[..1]);
        let mut account = base.clone();
        let mut k = 2;
        while self.used_accounts.contains(&account) {
            account = format!("{base}{k}");
            k += 1;
        }
        self.used_accounts.insert(account.clone());
        let id = self.next_id.to_string();
        self.next_id += 1;
        let n = self.list.len();
        let by = hired.year() - 22 - r.below(8) as i32;
        let p = Person {
            id,
            name: format!("{s} {g}"),
            kana: format!("{sk} {gk}"),
            account,
            birth: birth(r, by, by),
            address: address(r),
            hired,
            posts: vec![(hired, unit, title)],
            retire: None,
            pc: format!("AOBA-PC{:04}", n + 1),
            ip: format!("10.20.{}.{}", 1 + n / 200, 10 + n % 200),
            actor,
            evtx: false,
        };
        self.list.push(p);
        n
    }
}

// ---- Output buffers -----------------------------------------------------------------------------

/// The source files of a month and how `mamori ingest` reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stream {
    /// Cloud-share audit JSON lines: first, because `fukuoka_invite` judges by the latest
    /// event time seen (a month of other sources before it would make every invitation late).
    Share,
    /// Business-system CSV (export log), before mail so exports precede their hand-overs.
    Juki,
    /// Samba full_audit via syslog.
    Samba,
    /// Winlogbeat ECS documents.
    Windows,
    /// Endpoint agent (USB writes) ECS documents.
    Endpoint,
    /// Windows Security log of the PCs whose logs are collected as files (EVTX).
    Evtx,
    /// Postfix log.
    Postfix,
    /// Squid access.log.
    Squid,
    /// CUPS page_log.
    Cups,
    /// Chat webhook JSON lines.
    Chat,
}

impl Stream {
    fn file(self) -> &'static str {
        match self {
            Stream::Juki => "juki.csv",
            Stream::Samba => "samba.log",
            Stream::Windows => "windows.ndjson",
            Stream::Endpoint => "endpoint.ndjson",
            Stream::Postfix => "postfix.log",
            Stream::Squid => "squid.log",
            Stream::Cups => "cups_page.log",
            Stream::Chat => "chat.jsonl",
            Stream::Share => "share.jsonl",
            Stream::Evtx => "Security.evtx",
        }
    }
    fn ingest_args(self) -> Vec<&'static str> {
        match self {
            Stream::Juki => vec![
                "--format",
                "csv-mapping",
                "--mapping",
                "mappings/demo-juki.toml",
            ],
            Stream::Samba => vec!["--format", "syslog"],
            Stream::Windows | Stream::Endpoint => vec!["--format", "ecs-ndjson"],
            Stream::Postfix => vec!["--format", "postfix"],
            Stream::Squid => vec!["--format", "squid"],
            Stream::Cups => vec!["--format", "cups-page"],
            Stream::Chat => vec!["--format", "webhook", "--mapping", "chat-a"],
            Stream::Share => vec!["--format", "webhook", "--mapping", "share-b"],
            Stream::Evtx => vec!["--format", "evtx"],
        }
    }
}

pub(crate) const JUKI_HEADER: &str = "操作日時,端末名,操作者ID,操作者名,業務,画面ID,操作区分,宛名番号,対象件数,出力ファイル,処理結果";

/// One line to write: time (unix seconds), order, stream, text, scenario tag.
pub(crate) struct Line {
    pub ts: i64,
    pub seq: u64,
    pub stream: Stream,
    pub text: String,
    pub tag: Option<&'static str>,
}

/// Collects lines; written per month.
#[derive(Default)]
pub(crate) struct Out {
    pub lines: Vec<Line>,
    seq: u64,
    pub tag: Option<&'static str>,
    pending_mail: u32,
}

pub(crate) fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap()
}

/// Unix seconds of a JST day and seconds after midnight.
pub(crate) fn at(d: NaiveDate, secs: u32) -> i64 {
    jst()
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .timestamp()
        + i64::from(secs)
}

pub(crate) fn hms(h: u32, m: u32, s: u32) -> u32 {
    h * 3600 + m * 60 + s
}

fn rfc(ts: i64, micros: u32) -> String {
    let t = DateTime::<Utc>::from_timestamp(ts, micros * 1000)
        .unwrap()
        .with_timezone(&jst());
    t.format("%Y-%m-%dT%H:%M:%S%.6f+09:00").to_string()
}

impl Out {
    pub(crate) fn push(&mut self, ts: i64, stream: Stream, text: String) {
        self.seq += 1;
        self.lines.push(Line {
            ts,
            seq: self.seq,
            stream,
            text,
            tag: self.tag,
        });
    }

    /// Samba full_audit (prefix `%u|%I|%m|%S|%P`) as rsyslog forwards it (RFC 5424).
    pub(crate) fn samba(
        &mut self,
        ts: i64,
        p: &Person,
        share: &str,
        op: &str,
        mode: Option<&str>,
        path: &str,
    ) {
        let args = match mode {
            Some(m) => format!("{m}|/srv/samba/{share}{path}"),
            None => format!("/srv/samba/{share}{path}"),
        };
        let line = format!(
            "<173>1 {} fs01 smbd_audit - - -  {}|{}|{}|{share}|/srv/samba/{share}|{op}|ok|{args}",
            rfc(ts, (ts % 997) as u32 * 1000),
            p.account,
            p.ip,
            p.pc
        );
        self.push(ts, Stream::Samba, line);
    }

    /// A read: openat(r) + pread_recv.
    pub(crate) fn smb_read(&mut self, ts: i64, p: &Person, share: &str, path: &str) {
        self.samba(ts, p, share, "openat", Some("r"), path);
        self.samba(ts + 1, p, share, "pread_recv", None, path);
    }

    /// A write: openat(w) + pwrite_recv.
    pub(crate) fn smb_write(&mut self, ts: i64, p: &Person, share: &str, path: &str) {
        self.samba(ts, p, share, "openat", Some("w"), path);
        self.samba(ts + 1, p, share, "pwrite_recv", None, path);
    }

    /// A Winlogbeat document (Security or another channel); `user` also set in ECS.
    pub(crate) fn win(
        &mut self,
        ts: i64,
        p: &Person,
        provider: &str,
        channel: &str,
        id: u32,
        data: Value,
    ) {
        let doc = json!({
            "@timestamp": rfc(ts, 0),
            "host": {"name": p.pc},
            "user": {"name": p.account, "domain": WINDOMAIN},
            "winlog": {"provider_name": provider, "channel": channel, "event_id": id.to_string(), "computer_name": format!("{}.{DOMAIN}", p.pc), "event_data": data},
        });
        let stream = if p.evtx { Stream::Evtx } else { Stream::Windows };
        self.push(ts, stream, doc.to_string());
    }

    pub(crate) fn logon(&mut self, ts: i64, p: &Person) {
        let data = json!({"TargetUserName": p.account, "TargetDomainName": WINDOMAIN, "LogonType": "2", "IpAddress": "-", "WorkstationName": p.pc});
        self.win(
            ts,
            p,
            "Microsoft-Windows-Security-Auditing",
            "Security",
            4624,
            data,
        );
    }

    pub(crate) fn logoff(&mut self, ts: i64, p: &Person) {
        let data =
            json!({"TargetUserName": p.account, "TargetDomainName": WINDOMAIN, "LogonType": "2"});
        self.win(
            ts,
            p,
            "Microsoft-Windows-Security-Auditing",
            "Security",
            4634,
            data,
        );
    }

    pub(crate) fn process(&mut self, ts: i64, p: &Person, exe: &str, cmd: &str) {
        let data = json!({"SubjectUserName": p.account, "SubjectDomainName": WINDOMAIN, "NewProcessName": exe, "NewProcessId": "0x1a2c", "CommandLine": cmd, "ParentProcessName": "C:\\Windows\\explorer.exe"});
        self.win(
            ts,
            p,
            "Microsoft-Windows-Security-Auditing",
            "Security",
            4688,
            data,
        );
    }

    /// A file written to removable media, as the endpoint agent reports it.
    pub(crate) fn usb_write(
        &mut self,
        ts: i64,
        p: &Person,
        dev: (&str, &str, &str),
        file: &str,
        records: Option<u64>,
    ) {
        let mut doc = json!({
            "@timestamp": rfc(ts, 0),
            "event": {"kind": "event", "category": ["file"], "type": ["creation"], "action": "file-copied", "dataset": "endpoint.usb", "module": "endpoint"},
            "user": {"name": p.account, "domain": WINDOMAIN},
            "host": {"name": p.pc},
            "file": {"name": file, "path": format!("E:\\{file}")},
            "mamori": {"usb": {"vendor_id": dev.0, "product_id": dev.1, "serial": dev.2}},
        });
        if let Some(n) = records {
            doc["mamori"]["export"] = json!({"records": n});
        }
        self.push(ts, Stream::Endpoint, doc.to_string());
    }

    /// A business-system log row (demo-juki mapping).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn juki(
        &mut self,
        ts: i64,
        p: &Person,
        screen: &str,
        op: &str,
        atena: &str,
        records: u64,
        file: &str,
    ) {
        let t = DateTime::<Utc>::from_timestamp(ts, 0)
            .unwrap()
            .with_timezone(&jst());
        let line = format!(
            "{},{},{},{},住民記録,{screen},{op},{atena},{records},{file},正常",
            t.format("%Y/%m/%d %H:%M:%S"),
            p.pc,
            p.account,
            p.name
        );
        self.push(ts, Stream::Juki, line);
    }

    /// Squid native access.log.
    pub(crate) fn web(&mut self, ts: i64, p: &Person, url: &str) {
        let host = url.split('/').nth(2).unwrap_or("example.jp");
        let line = format!(
            "{ts}.{:03} {:>6} {} TCP_MISS/200 {} GET {url} {} HIER_DIRECT/{host} text/html",
            ts % 1000,
            40 + ts % 400,
            p.ip,
            2000 + ts % 30000,
            p.account
        );
        self.push(ts, Stream::Squid, line);
    }

    /// CUPS page_log (keyed layout).
    pub(crate) fn print(&mut self, ts: i64, p: &Person, printer: &str, title: &str, pages: u32) {
        let t = DateTime::<Utc>::from_timestamp(ts, 0)
            .unwrap()
            .with_timezone(&jst());
        self.seq += 1;
        let line = format!(
            "printer={printer} user={} job={} time=[{}] pages={pages} sheets={pages} copies=1 billing=- host={} media=A4 sides=one-sided format=application/pdf title={title}",
            p.account,
            1000 + self.seq,
            t.format("%d/%b/%Y:%H:%M:%S %z"),
            p.ip
        );
        self.push(ts, Stream::Cups, line);
    }

    /// A mail submitted by `p` (SASL) to `to`, with attachments, as Postfix logs it.
    pub(crate) fn mail(
        &mut self,
        ts: i64,
        p: &Person,
        to: &[String],
        subject_tag: &str,
        attachments: &[&str],
    ) {
        self.pending_mail += 1;
        let qid = format!(
            "{:X}{:05X}",
            ts & 0xFFFFF,
            (self.seq + u64::from(self.pending_mail)) & 0xFFFFF
        );
        let from = p.mail();
        let host = "mail01";
        let l = |t: i64, prog: &str, pid: u32, msg: String| {
            format!("<22>{} {host} postfix/{prog}[{pid}]: {msg}", rfc(t, 0))
        };
        let mut lines = vec![
            l(
                ts,
                "submission/smtpd",
                2101,
                format!(
                    "{qid}: client={}[{}], sasl_method=PLAIN, sasl_username={}",
                    p.pc.to_lowercase(),
                    p.ip,
                    p.account
                ),
            ),
            l(
                ts,
                "cleanup",
                2102,
                format!("{qid}: message-id=<{qid}.{ts}@{DOMAIN}>"),
            ),
        ];
        for a in attachments {
            lines.push(l(ts, "cleanup", 2102, format!("{qid}: info: header Content-Disposition: attachment; filename=\"{a}\" from {}[{}]; from=<{from}> to=<{}> proto=ESMTP helo=<{}>: attachment", p.pc.to_lowercase(), p.ip, to[0], p.pc.to_lowercase())));
        }
        let _ = subject_tag;
        lines.push(l(
            ts + 1,
            "qmgr",
            1200,
            format!(
                "{qid}: from=<{from}>, size={}, nrcpt={} (queue active)",
                4000 + 90_000 * attachments.len(),
                to.len()
            ),
        ));
        for rcpt in to {
            let internal = rcpt.ends_with(DOMAIN);
            let (prog, relay) = if internal {
                (
                    "lmtp",
                    "mbox01.city.aoba.example.lg.jp[10.20.0.25]:24".to_owned(),
                )
            } else {
                ("smtp", "relay.example.jp[203.0.113.25]:25".to_owned())
            };
            lines.push(l(ts + 2, prog, 2103, format!("{qid}: to=<{rcpt}>, relay={relay}, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok)")));
        }
        lines.push(l(ts + 2, "qmgr", 1200, format!("{qid}: removed")));
        for (i, x) in lines.into_iter().enumerate() {
            self.push(ts + (i as i64 / 4), Stream::Postfix, x);
        }
    }

    /// A chat message (chat-a webhook shape).
    pub(crate) fn chat(
        &mut self,
        ts: i64,
        p: &Person,
        to: &Person,
        channel: &str,
        text: &str,
        file: Option<&str>,
    ) {
        self.seq += 1;
        let mut ev = json!({"type": "message", "user": p.account, "user_email": p.mail(), "channel": format!("C{:04}", ts % 9000), "channel_name": channel, "text": text});
        if let Some(f) = file {
            ev["subtype"] = json!("file_share");
            ev["files"] = json!([{"name": f, "size": 20_000 + ts % 80_000}]);
        }
        let doc = json!({"event_id": format!("Ev{:08}", self.seq), "event_time": ts, "event": ev, "recipients": [{"email": to.mail(), "external": false}]});
        self.push(ts, Stream::Chat, doc.to_string());
    }

    /// A cloud-share audit event (share-b webhook shape).
    pub(crate) fn share(
        &mut self,
        ts: i64,
        p: &Person,
        ty: &str,
        item: &str,
        link: &str,
        invitee: &str,
    ) {
        self.seq += 1;
        let t = DateTime::<Utc>::from_timestamp(ts, 0)
            .unwrap()
            .with_timezone(&jst());
        let doc = json!({"entries": [{"event_id": format!("box{:08}", self.seq), "event_type": ty, "created_at": t.to_rfc3339(),
            "created_by": {"login": p.mail(), "name": p.name}, "ip_address": p.ip,
            "source": {"item_type": "file", "item_name": item, "size": 48_213},
            "additional_details": {"shared_link": {"url": link, "unshared_at": null, "access": "collaborators"}, "invitees": [{"login": invitee}]}}]});
        self.push(ts, Stream::Share, doc.to_string());
    }
}

// ---- Writing ------------------------------------------------------------------------------------

pub(crate) fn write(out: &Path, rel: &str, bytes: &[u8]) -> Result<(), DemoError> {
    let p = out.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).map_err(|e| DemoError::Io {
            path: d.display().to_string(),
            why: e.to_string(),
        })?;
    }
    std::fs::write(&p, bytes).map_err(|e| DemoError::Io {
        path: p.display().to_string(),
        why: e.to_string(),
    })
}

/// The state the generator carries from month to month.
pub(crate) struct Written {
    pub files: usize,
    pub events: u64,
    /// (scenario, file, line).
    pub labels: Vec<(&'static str, String, usize)>,
    /// Manifest steps.
    pub steps: Vec<Value>,
    /// Files written and not yet in an ingest step.
    pub pending: BTreeMap<Stream, Vec<String>>,
}

fn flush_month(
    out: &Path,
    month: &str,
    mut lines: Vec<Line>,
    w: &mut Written,
) -> Result<(), DemoError> {
    lines.sort_by_key(|l| (l.stream, l.ts, l.seq));
    let mut by: BTreeMap<Stream, Vec<Line>> = BTreeMap::new();
    for l in lines {
        by.entry(l.stream).or_default().push(l);
    }
    for (s, ls) in by {
        if s == Stream::Evtx {
            flush_evtx(out, month, &ls, w)?;
            continue;
        }
        let rel = format!("logs/{month}/{}", s.file());
        let mut text = String::with_capacity(ls.len() * 200);
        let mut n = 0usize;
        if s == Stream::Juki {
            text.push_str(JUKI_HEADER);
            text.push('\n');
            n = 1;
        }
        for l in &ls {
            n += 1;
            text.push_str(&l.text);
            text.push('\n');
            if let Some(t) = l.tag {
                w.labels.push((t, rel.clone(), n));
            }
        }
        w.events += ls.len() as u64;
        write(out, &rel, text.as_bytes())?;
        w.files += 1;
        w.pending.entry(s).or_default().push(rel);
    }
    Ok(())
}

/// A month of EVTX-collected Windows events: one `<PC>-Security.evtx` per PC, records in time
/// order (labels give the record number as the line).
fn flush_evtx(out: &Path, month: &str, lines: &[Line], w: &mut Written) -> Result<(), DemoError> {
    let mut by_pc: BTreeMap<String, Vec<(Value, Option<&'static str>)>> = BTreeMap::new();
    for l in lines {
        let doc: Value = serde_json::from_str(&l.text).expect("generated JSON");
        let pc = doc["host"]["name"].as_str().unwrap_or("PC").to_owned();
        by_pc.entry(pc).or_default().push((doc, l.tag));
    }
    for (pc, docs) in by_pc {
        let rel = format!("logs/{month}/{pc}-{}", Stream::Evtx.file());
        let mut events = Vec::with_capacity(docs.len());
        for (i, (doc, tag)) in docs.iter().enumerate() {
            let e = crate::evtx::windows_event(doc, i as u64 + 1).ok_or_else(|| DemoError::Config(format!("{rel}: not a Windows event: {doc}")))?;
            events.push(e);
            if let Some(t) = tag {
                w.labels.push((t, rel.clone(), i + 1));
            }
        }
        write(out, &rel, &crate::evtx::write_evtx(&events))?;
        w.events += events.len() as u64;
        w.files += 1;
        w.pending.entry(Stream::Evtx).or_default().push(rel);
    }
    Ok(())
}

/// The ingest steps of the files written since the last call: one `mamori ingest` per format,
/// streams in [`Stream`] order (so the files of a quarter go in a few large ingests).
fn flush_steps(w: &mut Written) {
    let mut pending = std::mem::take(&mut w.pending);
    // Windows and endpoint documents are both ECS NDJSON: one ingest.
    let mut ndjson = pending.remove(&Stream::Windows).unwrap_or_default();
    ndjson.extend(pending.remove(&Stream::Endpoint).unwrap_or_default());
    for (s, files) in pending {
        if s > Stream::Endpoint && !ndjson.is_empty() {
            push_step(w, Stream::Windows, std::mem::take(&mut ndjson));
        }
        push_step(w, s, files);
    }
    if !ndjson.is_empty() {
        push_step(w, Stream::Windows, ndjson);
    }
}

fn push_step(w: &mut Written, s: Stream, files: Vec<String>) {
    let mut args: Vec<Value> = vec![json!("ingest")];
    args.extend(s.ingest_args().into_iter().map(|a| json!(a)));
    args.extend(files.into_iter().map(Value::String));
    w.steps.push(json!({"args": args}));
}

// ---- The generator ----------------------------------------------------------------------------

pub(crate) fn workday(d: NaiveDate) -> bool {
    mamori_detect::calendar::Calendar::default()
        .day_off(d)
        .is_none()
}

/// Writes the demo city into `out`.
pub fn generate(cfg: &Config, out: &Path) -> Result<Summary, DemoError> {
    if cfg.days < 400 {
        return Err(DemoError::Config(format!(
            "--days {} は 400 以上にしてください(事案は 2025 年度全体にわたります)/ --days must be at least 400: the scenarios span fiscal 2025",
            cfg.days
        )));
    }
    if cfg.activity == 0 || cfg.activity > 100 {
        return Err(DemoError::Config(format!(
            "--activity {} は 1〜100 にしてください / --activity must be 1–100",
            cfg.activity
        )));
    }
    if cfg.staff < 60 {
        return Err(DemoError::Config(format!(
            "--staff {} は 60 以上にしてください / --staff must be at least 60",
            cfg.staff
        )));
    }
    if cfg.residents < 1000 {
        return Err(DemoError::Config(format!(
            "--residents {} は 1000 以上にしてください / --residents must be at least 1000",
            cfg.residents
        )));
    }
    let mut r = Rng::new(cfg.seed);
    let first = cfg.first_day();
    let last = Config::last_day();
    let res = residents(&mut r, cfg.residents);
    let mut people = People::new();
    let cast = crate::scenarios::cast(&mut r, &mut people);
    staff(&mut r, &mut people, cfg.staff, first);
    let mut w = Written {
        files: 0,
        events: 0,
        labels: Vec::new(),
        steps: Vec::new(),
        pending: BTreeMap::new(),
    };
    crate::scenarios::directory(&mut r, out, &people, &cast, &res, &mut w, first)?;

    // Days, month by month.
    let mut staff_days = 0u64;
    let mut d = first;
    let mut month = Out::default();
    let mut scen = crate::scenarios::events(&mut r, &people, &cast, &res);
    scen.lines.sort_by_key(|l| (l.ts, l.seq));
    let mut scen_iter = scen.lines.into_iter().peekable();
    while d <= last {
        staff_days += people
            .list
            .iter()
            .filter(|p| p.post_at(d).is_some())
            .count() as u64;
        if workday(d) {
            day(
                &mut r,
                &mut month,
                &people,
                &cast,
                d,
                &res,
                f64::from(cfg.activity) / 100.0,
            );
        }
        let next = d + Duration::days(1);
        if next.month() != d.month() || next > last {
            let end = at(next, 0);
            let mut lines = std::mem::take(&mut month.lines);
            while scen_iter.peek().is_some_and(|l| l.ts < end) {
                let mut l = scen_iter.next().unwrap();
                l.seq += 1 << 40;
                lines.push(l);
            }
            flush_month(out, &d.format("%Y-%m").to_string(), lines, &mut w)?;
            // Ingest a quarter of the fiscal year at a time (Apr–Jun, Jul–Sep, Oct–Dec, Jan–Mar).
            if d.month().is_multiple_of(3) || next > last {
                flush_steps(&mut w);
            }
        }
        d = next;
    }
    crate::scenarios::finish(out, cfg, &people, &cast, &res, &mut w, staff_days)?;
    Ok(Summary {
        events: w.events,
        files: w.files,
        staff: people.list.len(),
        residents: res.len(),
        first_day: first,
        last_day: last,
        staff_days,
    })
}

/// Ordinary staff: managers for every 部/課/係, the rest weighted over the work units; April 1
/// transfers, March 31 retirements and April 1 hires.
fn staff(r: &mut Rng, people: &mut People, n: usize, first: NaiveDate) {
    let hire = |r: &mut Rng, lo: i32, hi: i32| ymd(r.range(lo as u64, hi as u64) as i32, 4, 1);
    for d in DEPTS {
        let title = match d.code.len() {
            2 => "部長",
            4 => "課長",
            _ => "係長",
        };
        if title == "部長"
            && people
                .list
                .iter()
                .any(|p| p.posts[0].1 == d.code && p.posts[0].2 == "部長")
        {
            continue;
        }
        let h = hire(r, 1988, 2000);
        people.add(r, h, d.code, title, false);
    }
    let units: Vec<&Dept> = DEPTS.iter().filter(|d| d.weight > 0).collect();
    let total: u32 = units.iter().map(|d| d.weight).sum();
    while people.list.len() < n {
        let mut x = r.below(u64::from(total)) as u32;
        let u = units.iter().find(|d| {
            if x < d.weight {
                true
            } else {
                x -= d.weight;
                false
            }
        });
        let u = u.unwrap();
        let title = *r.pick(&["主事", "主事", "主事", "主任", "主任", "主査"]);
        let h = hire(r, 1992, 2024);
        people.add(r, h, u.code, title, false);
    }
    // Movements on each April 1 and March 31 in the window.
    let mut year = first.year();
    while ymd(year, 4, 1) <= Config::last_day() {
        let apr = ymd(year, 4, 1);
        let mar = ymd(year, 3, 31);
        if apr >= first {
            let count = people.list.len();
            let mut hires = 0;
            for i in 0..count {
                let p = &people.list[i];
                if p.actor || p.post_at(apr).is_none() || p.posts[0].2.ends_with('長') {
                    continue;
                }
                let cur = p.post_at(apr).unwrap().0;
                if cur.starts_with("1010") {
                    continue; // 人事課 keeps its staff (its share is watched for new readers)
                }
                if mar >= first && r.chance(0.025) {
                    people.list[i].retire = Some(mar);
                    hires += 1;
                    continue;
                }
                if r.chance(0.08) {
                    let to = loop {
                        let u = units[r.below(units.len() as u64) as usize];
                        if ka_of(u.code) != ka_of(cur) && !u.code.starts_with("1010") {
                            break u.code;
                        }
                    };
                    let title = people.list[i].post_at(apr).unwrap().1;
                    people.list[i].posts.push((apr, to, title));
                }
            }
            for _ in 0..hires {
                let u = loop {
                    let u = units[r.below(units.len() as u64) as usize];
                    if !u.code.starts_with("1010") {
                        break u.code;
                    }
                };
                people.add(r, apr, u, "主事", false);
            }
        }
        year += 1;
    }
}

/// One working day of everyone.
fn day(
    r: &mut Rng,
    o: &mut Out,
    people: &People,
    cast: &crate::scenarios::Cast,
    d: NaiveDate,
    res: &[Resident],
    act: f64,
) {
    o.tag = None;
    let nendomatsu = d.month() == 3 || (d.month() == 4 && d.day() <= 10);
    let by_ka: BTreeMap<&str, Vec<&Person>> = {
        let mut m: BTreeMap<&str, Vec<&Person>> = BTreeMap::new();
        for p in &people.list {
            if let Some((u, _)) = p.post_at(d) {
                m.entry(ka_of(u)).or_default().push(p);
            }
        }
        m
    };
    for p in &people.list {
        let Some((unit, title)) = p.post_at(d) else {
            continue;
        };
        if r.chance(0.05) {
            continue; // leave
        }
        let start = hms(8, 5, 0) + r.below(35 * 60) as u32;
        let late = if nendomatsu {
            r.below(55 * 60)
        } else {
            r.below(35 * 60)
        } as u32;
        let end = hms(17, 15, 0) + late;
        let t = |r: &mut Rng| {
            at(
                d,
                start + 600 + r.below(u64::from(end - start - 1200)) as u32,
            )
        };
        o.logon(at(d, start), p);
        o.logoff(at(d, end), p);
        let share = ka_share(unit);
        let dn = dept(unit).name;
        for _ in 0..(r.range(1, 3) as f64 * act).round() as u64 {
            let ts = t(r);
            let f = format!(
                "/{}/{}_{:02}.xlsx",
                r.pick(&["業務", "資料", "起案", "予算"]),
                r.pick(&["集計", "一覧", "報告", "計画", "台帳"]),
                r.below(40)
            );
            if r.chance(0.25) {
                o.smb_write(ts, p, &share, &f)
            } else {
                o.smb_read(ts, p, &share, &f)
            }
        }
        if r.chance(0.15 * act) {
            let ts = t(r);
            let f = format!(
                "/{dn}/共有_{}.docx",
                r.pick(&["会議録", "予定表", "連絡", "様式"])
            );
            if r.chance(0.3) {
                o.smb_write(ts, p, "zenchou", &f)
            } else {
                o.smb_read(ts, p, "zenchou", &f)
            }
        }
        for _ in 0..(r.range(2, 5) as f64 * act).round() as u64 {
            let ts = t(r);
            let site = *r.pick(SITES);
            o.web(ts, p, site);
        }
        if r.chance(0.25 * act) {
            let ts = t(r);
            o.print(
                ts,
                p,
                &format!("{}-pr1", share),
                &format!(
                    "{}_{}.pdf",
                    r.pick(&["起案", "資料", "回覧"]),
                    d.format("%m%d")
                ),
                r.range(1, 12) as u32,
            );
        }
        // Mail: to colleagues in the same 課 (attachments allowed), others and partners without.
        let mates = by_ka.get(ka_of(unit)).map(Vec::as_slice).unwrap_or(&[]);
        if r.chance(0.6 * act) && mates.len() > 1 {
            let q = mates[r.below(mates.len() as u64) as usize];
            if q.id != p.id {
                let ts = t(r);
                let att = format!(
                    "{}_{}.xlsx",
                    r.pick(&["資料", "集計", "日程"]),
                    d.format("%m%d")
                );
                let atts: Vec<&str> = if r.chance(0.4) {
                    vec![att.as_str()]
                } else {
                    vec![]
                };
                o.mail(ts, p, &[q.mail()], "", &atts);
            }
        }
        if r.chance(0.15 * act) {
            let ts = t(r);
            let to = format!(
                "{}@{}",
                r.pick(&["tanto", "eigyo", "soumu", "info"]),
                r.pick(PARTNERS)
            );
            o.mail(ts, p, &[to], "", &[]);
        }
        if r.chance(0.3 * act) && mates.len() > 1 {
            let q = mates[r.below(mates.len() as u64) as usize];
            if q.id != p.id {
                let ts = t(r);
                o.chat(ts, p, q, dn, "確認お願いします", None);
            }
        }
        // The register system: entitled 課 only.
        if juki_entitled(unit) && !cast.quiet_juki(&p.id) {
            let n = if unit.starts_with("2010") {
                r.range(4, 14)
            } else {
                r.range(0, 4)
            };
            let n = if nendomatsu { n + n / 2 } else { n };
            let n = (n as f64 * act).round() as u64;
            for _ in 0..n {
                let ts = t(r);
                let who = &res[r.below(res.len() as u64) as usize];
                o.juki(ts, p, "JKR0101", "照会", &who.atena, 1, "");
            }
            if unit.starts_with("2010") && r.chance(0.2) && !title.ends_with('長') {
                let ts = t(r);
                let n = r.range(15, 300);
                let file = format!("一覧_{}_{}.csv", d.format("%Y%m%d"), p.account);
                o.juki(ts, p, "JKR0301", "一覧出力", "", n, &file);
            }
            if unit.starts_with("2010") && r.chance(0.1 * act) {
                let ts = t(r);
                o.smb_read(
                    ts,
                    p,
                    "juki",
                    &format!(
                        "/帳票/{}.pdf",
                        r.pick(&["転入届", "転出届", "異動届", "証明発行"])
                    ),
                );
            }
        }
        // 人事課: the HR share.
        if unit.starts_with("1010") && r.chance(0.6) {
            let ts = t(r);
            if unit == "101020" {
                o.smb_read(ts, p, "jinji", &format!("/給与/{}月.xlsx", d.month()));
            } else {
                o.smb_read(ts, p, "jinji", crate::scenarios::HR_LIST);
            }
        }
        // Cloud share: partners, revoked the same day.
        if r.chance(0.004) {
            let ts = at(d, hms(9, 30, 0) + r.below(2 * 3600) as u32);
            let link = format!(
                "https://files.example.com/s/{}{}",
                p.account.replace('.', ""),
                ts % 100_000
            );
            let who = format!("tanto@{}", r.pick(PARTNERS));
            o.share(
                ts,
                p,
                "COLLABORATION_INVITE",
                &format!("{}_打合せ資料.pdf", d.format("%m%d")),
                &link,
                &who,
            );
            o.share(
                ts + 3600 * 2,
                p,
                "UNSHARE",
                &format!("{}_打合せ資料.pdf", d.format("%m%d")),
                &link,
                &who,
            );
        }
    }
}

/// Text of a CSV cell (no commas or quotes in the generated values).
pub(crate) fn csv_line(cells: &[&str]) -> String {
    let mut s = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{c}");
    }
    s.push('\n');
    s
}
