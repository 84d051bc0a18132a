//! Business-system operation logs (住基・税・福祉) end to end: `mamori ingest --format csv-mapping`
//! into a data directory and to a running server, city mappings ledgered over the API, bad rows
//! quarantined with line, column and value.
//!
//! The business systems cannot run here: the CSV files are the deterministic generator's output
//! committed under `crates/sources/tests/fixtures/business/` (checked there to be exactly what the
//! generator writes).

mod common;

use common::{Server, mamori, run_ok};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/tests/fixtures/business").join(name)
}

fn mapping_text(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/mappings").join(format!("{name}.toml"))).unwrap()
}

fn init(data: &Path) -> String {
    let out = run_ok(mamori().args(["init", "--data"]).arg(data));
    let lines: Vec<&str> = out.lines().collect();
    lines[lines.iter().position(|l| l.contains("admin token")).unwrap() + 1].trim().to_owned()
}

fn search(data: &Path, args: &[&str]) -> Vec<Value> {
    let out = run_ok(mamori().args(["search", "--json", "--limit", "1000", "--data"]).arg(data).args(args));
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn csv_exports_into_a_data_dir_with_shipped_and_file_mappings() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    init(&data);
    // CP932 with 和暦 (住記), UTF-8 (税), UTF-8 BOM with separate date and time (福祉).
    for (m, f) in [("juki-a", "juki-a.csv"), ("zeimu-b", "zeimu-b.csv"), ("fukushi-c", "fukushi-c.csv")] {
        let out = run_ok(mamori().args(["ingest", "--format", "csv-mapping", "--mapping", m, "--data"]).arg(&data).arg(fixture(f)));
        assert!(out.contains("accepted 12,") && out.contains("quarantined 0"), "{m}: {out}");
    }
    let juki = search(&data, &["--q", "住民記録システム"]);
    assert_eq!(juki.len(), 12, "every 住記 row is searchable by its system name");
    let first = juki.iter().find(|h| h["event"]["mamori"]["mapping"]["line"] == 2).unwrap();
    let original = first["event"]["event"]["original"].as_str().unwrap();
    assert!(original.starts_with("令和6年4月1日 "), "decoded from CP932: {original}");
    // The cell's JST time is stored in UTC.
    let t = &original["令和6年4月1日 ".len().."令和6年4月1日 ".len() + 8];
    let secs: i64 = t.split(':').map(|x| x.parse::<i64>().unwrap()).fold(0, |a, x| a * 60 + x);
    let utc = (secs - 9 * 3600).rem_euclid(86_400);
    let want = format!("T{:02}:{:02}:{:02}", utc / 3600, utc / 60 % 60, utc % 60);
    assert!(first["event"]["@timestamp"].as_str().unwrap().contains(&want), "{want} in {first}");
    assert_eq!(first["event"]["mamori"]["export"]["system"], "住民記録システム");
    let exports = search(&data, &["--action", "csv-export"]);
    assert!(!exports.is_empty());
    assert!(exports.iter().all(|h| h["event"]["mamori"]["export"]["records"].as_u64().is_some()));

    // A bad row names line, column and value; the rest of the file goes in.
    let text = std::fs::read_to_string(fixture("zeimu-b.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut cells: Vec<String> = lines[3].split(',').map(str::to_owned).collect();
    cells[6] = "多数".into();
    lines[3] = cells.join(",");
    let bad = tmp.path().join("zeimu-bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let out = mamori().args(["ingest", "--format", "csv-mapping", "--mapping", "zeimu-b", "--data"]).arg(&data).arg(&bad).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("accepted 11,") && stdout.contains("quarantined 1"), "{stdout}");
    assert!(stderr.contains("line 4") && stderr.contains("出力件数") && stderr.contains("多数"), "{stderr}");
    let q = search(&data, &["--kind", "quarantine"]);
    assert_eq!(q.len(), 1);
    assert!(q[0]["event"]["mamori"]["quarantine"]["reason"].as_str().unwrap().contains("出力件数"));

    // A city's own mapping from a file; a broken one names its key and changes nothing.
    let own = tmp.path().join("city.toml");
    std::fs::write(&own, mapping_text("zeimu-b").replace("name = \"zeimu-b\"", "name = \"city-tax\"").replace("system = \"税務システム\"", "system = \"市税システム\"")).unwrap();
    let out = run_ok(mamori().args(["ingest", "--format", "csv-mapping", "--mapping"]).arg(&own).arg("--data").arg(&data).arg(fixture("zeimu-b.csv")));
    assert!(out.contains("accepted 12,"), "{out}");
    assert_eq!(search(&data, &["--q", "市税システム"]).len(), 12);
    let broken = tmp.path().join("broken.toml");
    std::fs::write(&broken, mapping_text("zeimu-b").replace("\"%Y/%m/%d %H:%M\"]", "\"%Y/%m/%d %H:%M:%K\"]")).unwrap();
    let out = mamori().args(["ingest", "--format", "csv-mapping", "--mapping"]).arg(&broken).arg("--data").arg(&data).arg(fixture("zeimu-b.csv")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("timestamp.formats[1]"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = mamori().args(["ingest", "--format", "csv-mapping", "--data"]).arg(&data).arg(fixture("zeimu-b.csv")).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--mapping"));
    let out = run_ok(mamori().args(["mapping", "check"]).arg(&own));
    assert!(out.contains("city-tax"), "{out}");
    run_ok(mamori().args(["verify", "--data"]).arg(&data));
}

#[test]
fn city_mappings_are_ledgered_and_used_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let admin = init(&data);
    let ingest = run_ok(mamori().args(["token", "--name", "juki-export", "--role", "ingest", "--data"]).arg(&data)).trim().to_owned();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let c = reqwest::blocking::Client::new();
    let own = mapping_text("juki-a").replace("name = \"juki-a\"", "name = \"city-juki\"");

    // Only a role that may manage the configuration can change mappings.
    let r = c.put(format!("{}/api/v1/admin/mappings/city-juki", srv.http)).bearer_auth(&ingest).body(own.clone()).send().unwrap();
    assert_eq!(r.status(), 403);
    let r = c.put(format!("{}/api/v1/admin/mappings/other", srv.http)).bearer_auth(&admin).body(own.clone()).send().unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("mapping.name"));
    let r = c.put(format!("{}/api/v1/admin/mappings/city-juki", srv.http)).bearer_auth(&admin).body(own.replace("type = \"count\"", "type = \"cnt\"")).send().unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("cnt"));
    let r = c.put(format!("{}/api/v1/admin/mappings/city-juki", srv.http)).bearer_auth(&admin).body(own.clone()).send().unwrap();
    assert_eq!(r.status(), 201);
    let put: Value = r.json().unwrap();

    let bytes = std::fs::read(fixture("juki-a.csv")).unwrap();
    let post = |mapping: &str| -> Value {
        let r = c.post(format!("{}/api/v1/events", srv.http)).query(&[("format", "csv-mapping"), ("mapping", mapping), ("name", "juki.csv")]).bearer_auth(&ingest).body(bytes.clone()).send().unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.json().unwrap()
    };
    let v = post("city-juki");
    assert_eq!(v["accepted"], 12, "{v}");
    let r = c.post(format!("{}/api/v1/events", srv.http)).query(&[("format", "csv-mapping"), ("mapping", "nope")]).bearer_auth(&ingest).body(bytes.clone()).send().unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().unwrap().contains("juki-a"), "the error lists the known mappings");

    // The CLI sends to the server with a shipped mapping name.
    let out = run_ok(mamori().args(["ingest", "--format", "csv-mapping", "--mapping", "fukushi-c", "--server", &srv.http, "--token", &ingest]).arg(fixture("fukushi-c.csv")));
    assert!(out.contains("accepted 12,"), "{out}");

    // The change is an admin action in the ledger, with the file's hash.
    let audit: Value = c.get(format!("{}/api/v1/admin/audit", srv.http)).query(&[("action", "mapping-changed")]).bearer_auth(&admin).send().unwrap().json().unwrap();
    let ev = &audit["events"][0]["event"];
    assert_eq!(ev["mamori"]["mapping"]["name"], "city-juki");
    assert_eq!(ev["mamori"]["mapping"]["sha256"], put["sha256"]);
    assert_eq!(audit["events"][0]["id"], put["ledger_id"]);
    srv.stop();

    // After a restart the mapping is rebuilt from the ledger.
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let list: Value = c.get(format!("{}/api/v1/mappings", srv.http)).bearer_auth(&ingest).send().unwrap().json().unwrap();
    let city = list["mappings"].as_array().unwrap().iter().find(|m| m["name"] == "city-juki").expect("listed after restart");
    assert_eq!(city["origin"], "ledger");
    let r = c.post(format!("{}/api/v1/events", srv.http)).query(&[("format", "csv-mapping"), ("mapping", "city-juki")]).bearer_auth(&ingest).body(bytes).send().unwrap();
    assert_eq!(r.json::<Value>().unwrap()["accepted"], 12);
    srv.stop();
    run_ok(mamori().args(["verify", "--data"]).arg(&data));
}
