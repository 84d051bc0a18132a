//! Business-system operation logs (住基・税・福祉) through the shipped declarative mappings.
//!
//! These systems are proprietary and cannot run here, so the fixtures are written by the
//! deterministic generator below in each vendor layout (the layouts are plausible, not any
//! vendor's real one; docs/sources/business-csv.md says so). `tests/fixtures/business/` holds a
//! copy of the generator's output (regenerate with `MAMORI_WRITE_FIXTURES=1`); the test checks
//! that the copy is what the generator writes, so the committed files are never hand-edited.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use mamori_sources::{Mapping, parse_csv_mapped};
use serde_json::Value;

/// One operation as the generator meant it.
#[derive(Clone, Debug)]
struct Op {
    at: NaiveDateTime,
    user: String,
    host: String,
    code: &'static str,
    subject: String,
    records: u64,
}

/// Small LCG: deterministic across platforms, no dependency.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
}

const CODES: [&str; 6] = ["照会", "一覧出力", "CSV出力", "印刷", "更新", "削除"];

fn ops(seed: u64, n: usize) -> Vec<Op> {
    let mut r = Lcg(seed);
    let mut at = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap().and_hms_opt(8, 30, 0).unwrap();
    (0..n)
        .map(|_| {
            at += Duration::seconds(30 + (r.next() % 900) as i64);
            let code = *r.pick(&CODES);
            let records = match code {
                "一覧出力" | "CSV出力" => 10 + r.next() % 40_000,
                "印刷" => 1 + r.next() % 20,
                _ => 1,
            };
            Op {
                at,
                user: r.pick(&["k.tanaka", "s.sato", "h.suzuki", "髙橋.m"]).to_string(),
                host: format!("PC-{:03}", r.next() % 40),
                code,
                subject: format!("{:012}", r.next() % 1_000_000_000_000),
                records,
            }
        })
        .collect()
}

fn reiwa(d: NaiveDate) -> (u32, u32, u32) {
    (d.year() as u32 - 2018, d.month(), d.day())
}

/// 住記 vendor A: CP932, 和暦 date-time in one cell.
fn gen_juki(ops: &[Op]) -> Vec<u8> {
    let mut s = String::from("操作日時,端末名,操作者ID,操作者名,業務,画面ID,操作区分,宛名番号,対象件数,処理結果\r\n");
    for o in ops {
        let (y, m, d) = reiwa(o.at.date());
        let count = if o.records >= 1000 { format!("\"{},{:03}\"", o.records / 1000, o.records % 1000) } else { o.records.to_string() };
        s.push_str(&format!(
            "令和{y}年{m}月{d}日 {:02}:{:02}:{:02},{},{},職員 {},住民記録,JKR0{},{},{},{count},正常\r\n",
            o.at.hour(), o.at.minute(), o.at.second(), o.host, o.user, o.user, o.records % 10, o.code, o.subject
        ));
    }
    encoding_rs::SHIFT_JIS.encode(&s).0.into_owned()
}

/// 税務 vendor B: UTF-8, `YYYY/MM/DD HH:MM:SS`.
fn gen_zeimu(ops: &[Op]) -> Vec<u8> {
    let mut s = String::from("処理日時,ユーザーID,クライアント,機能名,操作種別,対象者番号,出力件数,結果コード\n");
    for o in ops {
        s.push_str(&format!("{},{},{},課税台帳,{},{},{},0\n", o.at.format("%Y/%m/%d %H:%M:%S"), o.user, o.host, o.code, o.subject, o.records));
    }
    s.into_bytes()
}

/// 福祉 vendor C: UTF-8 with BOM, date (short 和暦) and time in separate columns.
fn gen_fukushi(ops: &[Op]) -> Vec<u8> {
    let mut s = String::from("\u{FEFF}実行日,実行時刻,職員番号,端末IP,端末名,メニュー,処理区分,対象宛名番号,件数,備考\r\n");
    for (i, o) in ops.iter().enumerate() {
        let (y, m, d) = reiwa(o.at.date());
        s.push_str(&format!(
            "R{y}.{m}.{d},{},{},10.20.3.{},{},生活保護台帳,{},{},{},{}\r\n",
            o.at.format("%H:%M:%S"), o.user, 10 + i % 200, o.host, o.code, o.subject, o.records, if i % 7 == 0 { "\"備考, 引用符\"\"あり\"\"\"" } else { "" }
        ));
    }
    s.into_bytes()
}

fn expected_action(code: &str) -> &'static str {
    match code {
        "照会" => "view",
        "一覧出力" => "list-export",
        "CSV出力" => "csv-export",
        "印刷" => "print",
        "更新" => "update",
        "削除" => "delete",
        _ => unreachable!(),
    }
}

fn jst_utc(at: NaiveDateTime) -> String {
    (at - Duration::hours(9)).format("%Y-%m-%dT%H:%M:%S.000000Z").to_string()
}

fn check(mapping: &str, bytes: &[u8], ops: &[Op], enc: mamori_jtext::SourceEncoding) {
    let m = Mapping::builtin(mapping).unwrap();
    let parsed = parse_csv_mapped(&m, "export.csv", bytes, chrono::Utc::now());
    assert_eq!(parsed.encoding, enc);
    assert!(!parsed.lossy);
    assert_eq!(parsed.rows.len(), ops.len());
    for (r, o) in parsed.rows.iter().zip(ops) {
        let d = &r.as_ref().unwrap_or_else(|e| panic!("{e}")).doc;
        assert_eq!(d["@timestamp"], jst_utc(o.at), "{mapping}");
        assert_eq!(d["user"]["name"], o.user.as_str());
        assert_eq!(d["host"]["name"], o.host.as_str());
        assert_eq!(d["event"]["action"], expected_action(o.code));
        assert_eq!(d["mamori"]["export"]["operation"], o.code);
        assert_eq!(d["mamori"]["export"]["records"], o.records);
        assert_eq!(d["mamori"]["subject"]["id"], o.subject.as_str());
        assert_eq!(d["mamori"]["export"]["system"], m.system.as_deref().unwrap());
        assert_eq!(d["mamori"]["mapping"]["name"], mapping);
        assert_eq!(d["mamori"]["personal_data"], true);
        let orig = d["event"]["original"].as_str().unwrap();
        assert!(orig.contains(&o.subject), "the row is kept as it was: {orig}");
        mamori_event::normalize(d.clone(), chrono::Utc::now()).expect("valid event");
    }
}

#[test]
fn juki_cp932_wareki_datetime() {
    let ops = ops(1, 200);
    check("juki-a", &gen_juki(&ops), &ops, mamori_jtext::SourceEncoding::Cp932);
}

#[test]
fn zeimu_utf8_slash_datetime() {
    let ops = ops(2, 200);
    check("zeimu-b", &gen_zeimu(&ops), &ops, mamori_jtext::SourceEncoding::Utf8);
}

#[test]
fn fukushi_utf8_bom_separate_date_and_time() {
    let ops = ops(3, 200);
    let bytes = gen_fukushi(&ops);
    check("fukushi-c", &bytes, &ops, mamori_jtext::SourceEncoding::Utf8Bom);
    let m = Mapping::builtin("fukushi-c").unwrap();
    let rows = parse_csv_mapped(&m, "f.csv", &bytes, chrono::Utc::now()).rows;
    assert_eq!(rows[0].as_ref().unwrap().doc["mamori"]["export"]["note"], "備考, 引用符\"あり\"");
    assert_eq!(rows[0].as_ref().unwrap().doc["source"]["ip"], "10.20.3.10");
}

/// Hiratsuka: a leaver exported 31,429 records in one go; the count must survive the thousands
/// separator the system prints.
#[test]
fn hiratsuka_bulk_export_record_count_is_kept() {
    let mut o = ops(4, 1);
    o[0].code = "CSV出力";
    o[0].records = 31_429;
    let m = Mapping::builtin("juki-a").unwrap();
    let rows = parse_csv_mapped(&m, "x.csv", &gen_juki(&o), chrono::Utc::now()).rows;
    let d = &rows[0].as_ref().unwrap().doc;
    assert_eq!(d["mamori"]["export"]["records"], 31_429);
    assert_eq!(d["event"]["action"], "csv-export");
    assert_eq!(d["event"]["category"], serde_json::json!(["database", "file"]));
}

#[test]
fn malformed_rows_name_line_column_and_value_and_the_rest_imports() {
    let ops = ops(5, 6);
    let good = String::from_utf8(gen_zeimu(&ops)).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replacen("2024/", "2024/13/", 1); // line 3: not a date
    let cols: Vec<&str> = lines[4].split(',').collect();
    lines[4] = format!("{},{},{},{},{},{},ABC,0", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]); // line 5: bad count
    let cols: Vec<String> = lines[5].split(',').map(str::to_owned).collect();
    lines[5] = format!("{},,{}", cols[0], cols[2..].join(",")); // line 6: no user
    lines.push("2024/04/02 10:00:00,u9".into()); // line 8: cut short, no operation
    let body = lines.join("\n") + "\n";
    let m = Mapping::builtin("zeimu-b").unwrap();
    let rows = parse_csv_mapped(&m, "zeimu.csv", body.as_bytes(), chrono::Utc::now()).rows;
    let errs: Vec<_> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
    let ok = rows.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 3, "{errs:#?}");
    assert_eq!((errs[0].line, errs[0].error.column.as_str()), (3, "処理日時"));
    assert!(errs[0].error.value.contains("2024/13/"));
    assert_eq!((errs[1].line, errs[1].error.column.as_str(), errs[1].error.value.as_str()), (5, "出力件数", "ABC"));
    assert_eq!((errs[2].line, errs[2].error.column.as_str()), (6, "ユーザーID"));
    assert_eq!((errs[3].line, errs[3].error.column.as_str()), (8, "操作種別"));
    for e in &errs {
        let msg = e.to_string();
        assert!(msg.contains("zeimu.csv") && msg.contains(&format!("line {}", e.line)), "{msg}");
        assert!(!e.raw.is_empty(), "the row's text is kept for quarantine");
    }
}

#[test]
fn unknown_operation_codes_are_kept_as_the_action() {
    let mut o = ops(6, 2);
    o[1].code = "照会";
    let s = String::from_utf8(gen_zeimu(&o)).unwrap().replace(",照会,", ",宛名検索,");
    let m = Mapping::builtin("zeimu-b").unwrap();
    let rows = parse_csv_mapped(&m, "z.csv", s.as_bytes(), chrono::Utc::now()).rows;
    let d = &rows[1].as_ref().unwrap().doc;
    assert_eq!(d["event"]["action"], "宛名検索");
    assert_eq!(d["mamori"]["mapping"]["unknown_operation"], true);
    assert!(d["mamori"].get("personal_data").is_none());
}

#[test]
fn a_header_without_a_mapped_column_names_it_on_every_row() {
    let o = ops(7, 3);
    let s = String::from_utf8(gen_zeimu(&o)).unwrap().replacen("ユーザーID", "利用者", 1);
    let m = Mapping::builtin("zeimu-b").unwrap();
    let rows = parse_csv_mapped(&m, "z.csv", s.as_bytes(), chrono::Utc::now()).rows;
    assert_eq!(rows.len(), 3);
    for r in rows {
        let e = r.unwrap_err();
        assert_eq!(e.error.column, "ユーザーID");
        assert!(e.error.en.contains("header"), "{}", e.error.en);
    }
}

#[test]
fn mapping_file_errors_name_the_key() {
    let good = mamori_sources::mapping::BUILTIN.iter().find(|(n, _)| *n == "juki-a").unwrap().1;
    let bad = good.replace("type = \"count\"", "type = \"number\"");
    let e = Mapping::parse(&bad, "juki.toml").unwrap_err();
    assert!(e.to_string().contains("number") && e.key.starts_with("(line"), "{e}");
    let bad = good.replace("formats = [\"wareki\"]", "formats = [\"wareki\", \"%Y/%m/%d %H:%M:%S%!\"]");
    let e = Mapping::parse(&bad, "juki.toml").unwrap_err();
    assert_eq!(e.key, "timestamp.formats[1]", "{e}");
    let bad = good.replace("encoding = \"auto\"", "encoding = \"euc-jp\"");
    assert_eq!(Mapping::parse(&bad, "juki.toml").unwrap_err().key, "csv.encoding");
}

#[test]
fn committed_fixtures_are_the_generators_output() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/business");
    let files: [(&str, Vec<u8>); 3] =
        [("juki-a.csv", gen_juki(&ops(11, 12))), ("zeimu-b.csv", gen_zeimu(&ops(12, 12))), ("fukushi-c.csv", gen_fukushi(&ops(13, 12)))];
    for (name, bytes) in files {
        let p = dir.join(name);
        if std::env::var_os("MAMORI_WRITE_FIXTURES").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&p, &bytes).unwrap();
        }
        assert_eq!(std::fs::read(&p).unwrap_or_default(), bytes, "{name}: regenerate with MAMORI_WRITE_FIXTURES=1");
        let m = Mapping::builtin(name.trim_end_matches(".csv")).unwrap();
        let parsed = parse_csv_mapped(&m, name, &bytes, chrono::Utc::now());
        assert!(parsed.rows.iter().all(Result::is_ok));
        let _: Vec<&Value> = parsed.rows.iter().map(|r| &r.as_ref().unwrap().doc["event"]["action"]).collect();
    }
}
