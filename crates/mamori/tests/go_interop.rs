//! Interoperability with an independent tlog implementation: the Go checksum database's
//! `golang.org/x/mod/sumdb/note` and `golang.org/x/mod/sumdb/tlog` (Debian packages `golang-go`
//! and `golang-golang-x-mod-dev`, built offline in GOPATH mode). The Go program in
//! `tests/go/mamori-verify` fetches a running mamori's checkpoint and tiles over HTTP and checks
//! the note signature, the root recomputed from tiles, inclusion proofs for entries read from
//! the entry bundles, and a consistency proof from an older checkpoint; it must also reject a
//! wrong key, an altered old root, and tampered tiles on disk.

mod common;

use common::{Server, mamori, run_ok};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const ORIGIN: &str = "test.example.lg.jp/audit";

/// Builds the Go verifier offline: GOPATH mode over Debian's /usr/share/gocode, no proxy, a
/// fresh build cache in `tmp`.
fn build_go_verifier(tmp: &Path) -> PathBuf {
    let go = ["/usr/bin/go", "/usr/lib/go/bin/go"].into_iter().map(PathBuf::from).find(|p| p.exists()).unwrap_or_else(|| {
        panic!("`go` is not installed: run ./scripts/test.sh, which installs the Debian packages golang-go and golang-golang-x-mod-dev")
    });
    let gocode = Path::new("/usr/share/gocode");
    assert!(
        gocode.join("src/golang.org/x/mod/sumdb/tlog/tlog.go").exists() && gocode.join("src/golang.org/x/mod/sumdb/note/note.go").exists(),
        "golang.org/x/mod/sumdb is not installed under /usr/share/gocode: run ./scripts/test.sh, which installs golang-golang-x-mod-dev"
    );
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/mamori-verify");
    let bin = tmp.join("mamori-verify");
    let home = tmp.join("gohome");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(&go)
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("GO111MODULE", "off")
        .env("GOPATH", gocode)
        .env("GOCACHE", tmp.join("gocache"))
        .env("HOME", &home)
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("CGO_ENABLED", "0")
        .output()
        .expect("run go build");
    assert!(out.status.success(), "go build failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    bin
}

fn post_events(client: &reqwest::blocking::Client, srv: &Server, token: &str, from: usize, n: usize) -> u64 {
    let mut body = String::new();
    for i in from..from + n {
        body.push_str(&format!("{{\"message\":\"住民記録 照会 {i}\",\"user\":{{\"name\":\"user{}\"}}}}\n", i % 37));
    }
    for _ in 0..200 {
        let r = client.post(format!("{}/api/v1/events", srv.http)).bearer_auth(token).body(body.clone()).send().unwrap();
        if r.status().as_u16() == 503 {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        assert!(r.status().is_success(), "POST /api/v1/events: {}", r.status());
        let v: serde_json::Value = r.json().unwrap();
        assert_eq!(v["accepted"].as_u64(), Some(n as u64), "{v}");
        return v["items"].as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).max().unwrap();
    }
    panic!("server stayed busy");
}

/// Polls /checkpoint until it covers at least `size` entries; returns (size, base64 root, text).
fn checkpoint_covering(client: &reqwest::blocking::Client, srv: &Server, size: u64) -> (u64, String, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = client.get(format!("{}/checkpoint", srv.http)).send().unwrap().text().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let n: u64 = lines[1].parse().unwrap();
        if n >= size {
            return (n, lines[2].to_owned(), text);
        }
        assert!(Instant::now() < deadline, "checkpoint stuck at {n}, want {size}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn verify(bin: &Path, srv: &Server, vkey: &str, indexes: &[u64], old: Option<(u64, &str)>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(["-url", &srv.http, "-vkey", vkey, "-origin", ORIGIN]);
    if !indexes.is_empty() {
        cmd.args(["-index", &indexes.iter().map(u64::to_string).collect::<Vec<_>>().join(",")]);
    }
    if let Some((size, root)) = old {
        cmd.args(["-old-size", &size.to_string(), "-old-root", root]);
    }
    cmd.output().expect("run mamori-verify")
}

fn show(o: &Output) -> String {
    format!("status {}\nstdout:\n{}stderr:\n{}", o.status, String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn assert_fails(o: &Output, what: &str, needle: &str) {
    assert!(!o.status.success(), "Go verifier accepted {what}:\n{}", show(o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "Go verifier rejected {what} but not with {needle:?}:\n{}", show(o));
    eprintln!("rejected {what}: {}", err.trim());
}

#[test]
fn go_sumdb_tlog_verifies_a_running_mamori() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = build_go_verifier(tmp.path());

    let data = tmp.path().join("data");
    run_ok(mamori().args(["init", "--origin", ORIGIN, "--data"]).arg(&data));
    let token = run_ok(mamori().args(["token", "--name", "t", "--role", "ingest", "--data"]).arg(&data)).trim().to_owned();
    let vkey = std::fs::read_to_string(data.join("keys/log.vkey")).unwrap().trim().to_owned();
    // Another log with the same origin: its key has the same name but is not the log's key.
    let other = tmp.path().join("other");
    run_ok(mamori().args(["init", "--origin", ORIGIN, "--data"]).arg(&other));
    let wrong_vkey = std::fs::read_to_string(other.join("keys/log.vkey")).unwrap().trim().to_owned();
    assert_ne!(vkey, wrong_vkey);

    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let client = reqwest::blocking::Client::new();

    // A first checkpoint a little past one full tile, saved as the "old" tree.
    let last = post_events(&client, &srv, &token, 0, 300);
    let (old_size, old_root, old_text) = checkpoint_covering(&client, &srv, last + 1);
    assert!(old_text.starts_with(&format!("{ORIGIN}\n")), "{old_text}");
    let o = verify(&bin, &srv, &vkey, &[0, 255, 256, old_size - 1], None);
    assert!(o.status.success(), "Go verifier rejected the first checkpoint:\n{}", show(&o));

    // Enough more that level-1 tiles are full and a level-2 tile exists (65,536 entries).
    let mut last = last;
    let mut sent = 300;
    while sent < 70_300 {
        last = post_events(&client, &srv, &token, sent, 5_000);
        sent += 5_000;
    }
    let (size, root, _) = checkpoint_covering(&client, &srv, last + 1);
    assert!(size > 65_536 + 256);

    let indexes = [0, 255, 256, 65_535, 65_536, size - 1];
    let o = verify(&bin, &srv, &vkey, &indexes, Some((old_size, &old_root)));
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "Go verifier rejected mamori's log:\n{}", show(&o));
    assert!(stdout.contains("OK signature"), "{stdout}");
    assert!(stdout.contains(&format!("OK checkpoint: origin {ORIGIN}, size {size}, root {root}")), "{stdout}");
    assert!(stdout.contains(&format!("OK tree hash: tlog.TreeHash({size})")), "{stdout}");
    for i in indexes {
        assert!(stdout.contains(&format!("OK inclusion: index {i} ")), "{stdout}");
    }
    assert!(stdout.contains(&format!("OK consistency: tree {old_size} ({old_root}) -> tree {size}")), "{stdout}");
    assert!(stdout.contains("OK all checks passed"), "{stdout}");
    eprintln!("{stdout}");

    // The Go side detects tampering.
    // A key that is not the log's (same name, different key) does not verify the checkpoint.
    let o = verify(&bin, &srv, &wrong_vkey, &[], None);
    assert_fails(&o, "a checkpoint under the wrong key", "checkpoint signature does not verify");
    // An altered old root is not consistent with the current tree.
    let mut raw = base64::Engine::decode(&base64::prelude::BASE64_STANDARD, &old_root).unwrap();
    raw[7] ^= 0x20;
    let bad_root = base64::Engine::encode(&base64::prelude::BASE64_STANDARD, &raw);
    let o = verify(&bin, &srv, &vkey, &[], Some((old_size, &bad_root)));
    assert_fails(&o, "an altered old root", "CheckTree");
    // The right root with a different old size is not consistent either.
    let o = verify(&bin, &srv, &vkey, &[], Some((old_size - 1, &old_root)));
    assert_fails(&o, "an old root with the wrong size", "CheckTree");

    // Tampering with the stored log under the running server: an entry changed in a full entry
    // bundle no longer has a valid inclusion proof...
    let tiles = data.join("ledger/tile");
    let bundle = tiles.join("entries/000");
    let orig_bundle = std::fs::read(&bundle).unwrap();
    let mut b = orig_bundle.clone();
    let len0 = u16::from_be_bytes([b[0], b[1]]) as usize;
    b[2 + len0 / 2] ^= 0x01;
    std::fs::write(&bundle, &b).unwrap();
    let o = verify(&bin, &srv, &vkey, &[0], None);
    assert_fails(&o, "a tampered entry bundle", "CheckRecord(index 0, entry from bundle tile/entries/000)");
    std::fs::write(&bundle, &orig_bundle).unwrap();
    // ...and neither do its neighbours once a hash in a level-0 tile is changed (the proofs for
    // the other entries of the bundle use the changed hash and no longer reach the signed root).
    let tile = tiles.join("0/100");
    let orig_tile = std::fs::read(&tile).unwrap();
    let mut t = orig_tile.clone();
    t[32 * 100] ^= 0x01;
    std::fs::write(&tile, &t).unwrap();
    let o = verify(&bin, &srv, &vkey, &[256 * 100 + 100], None);
    assert_fails(&o, "a tampered hash tile", "entry from bundle tile/entries/100): invalid transparency proof");
    std::fs::write(&tile, &orig_tile).unwrap();
    let o = verify(&bin, &srv, &vkey, &[0, 256 * 100 + 100], None);
    assert!(o.status.success(), "restored log no longer verifies:\n{}", show(&o));
    drop(srv);
}
