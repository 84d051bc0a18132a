//! sshd, sudo, su, PAM and slapd lines through `parse_syslog` and the line correlator.
//!
//! `fixtures/auth/auth_debian12_rsyslog.log` was written by Debian 12's rsyslogd
//! (imuxsock, `RSYSLOG_TraditionalFileFormat`, as `/var/log/auth.log`) from real OpenSSH
//! `sshd` 9.2p1, `su` (util-linux 2.38), `sudo` 1.9.13p3 and OpenLDAP `slapd` 2.5.13
//! (`loglevel stats`) while crates/mamori/tests/auth.rs logged in with a key and with a
//! password, tried a wrong password and an unknown user, ran an allowed and a wrongly
//! authenticated sudo command, and bound to slapd as `uid=tanaka` with the right and a wrong
//! password (`MAMORI_CAPTURE_AUTH=<this file> cargo test -p mamori --test auth`).

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use mamori_sources::format::correlate::LineCorrelator;
use mamori_sources::{SyslogContext, parse_syslog};
use serde_json::{Map, Value, json};

type Doc = Map<String, Value>;

fn docs() -> Vec<Doc> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/auth/auth_debian12_rsyslog.log");
    let ctx = SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap());
    let mut corr = LineCorrelator::default();
    std::fs::read(path)
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut d = parse_syslog(l, &ctx).unwrap();
            corr.observe(&mut d);
            d
        })
        .collect()
}

fn action<'a>(docs: &'a [Doc], a: &str) -> Vec<&'a Doc> {
    docs.iter().filter(|d| d.get("event").and_then(|e| e.get("action")) == Some(&json!(a))).collect()
}

#[test]
fn sshd_logins_failures_and_sessions() {
    let d = docs();
    let logins = action(&d, "ssh-login");
    assert_eq!(logins.len(), 2);
    assert_eq!(logins[0]["mamori"]["auth"]["method"], "publickey");
    assert_eq!(logins[1]["mamori"]["auth"]["method"], "password");
    for l in &logins {
        assert_eq!(l["user"]["name"], "mamoriauth1");
        assert_eq!(l["source"]["ip"], "127.0.0.1");
        assert_eq!(l["event"]["category"], json!(["authentication"]));
        assert_eq!(l["event"]["outcome"], "success");
    }
    let failed = action(&d, "ssh-login-failed");
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["user"]["name"], "mamoriauth1");
    assert_eq!(failed[1]["user"]["name"], "nosuchuser9");
    assert_eq!(failed[1]["event"]["reason"], "invalid user");
    let invalid = action(&d, "ssh-invalid-user");
    assert_eq!(invalid[0]["source"]["port"], 43340);
    let pam_fail = action(&d, "authentication-failed");
    assert!(pam_fail.iter().any(|p| p["mamori"]["auth"]["service"] == "sshd" && p["user"]["name"] == "mamoriauth1" && p["source"]["ip"] == "127.0.0.1"));
    let opened: Vec<_> = action(&d, "session-opened").into_iter().filter(|p| p["mamori"]["auth"]["service"] == "sshd").collect();
    assert_eq!(opened.len(), 2);
    assert_eq!(opened[0]["user"]["name"], "mamoriauth1");
    assert_eq!(action(&d, "ssh-disconnected").len(), 2);
    assert_eq!(action(&d, "ssh-connection-closed").len(), 2);
}

#[test]
fn sudo_and_su() {
    let d = docs();
    let ok = action(&d, "sudo-command");
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0]["user"]["name"], "mamoriauth1");
    assert_eq!(ok[0]["user"]["target"]["name"], "root");
    assert_eq!(ok[0]["process"]["command_line"], "/usr/bin/cat /etc/hostname");
    assert_eq!(ok[0]["process"]["working_directory"], "/work/main/crates/mamori");
    let refused = action(&d, "sudo-command-refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["event"]["reason"], "1 incorrect password attempt");
    assert_eq!(refused[0]["event"]["outcome"], "failure");
    let sudo_open = action(&d, "session-opened").into_iter().find(|p| p["mamori"]["auth"]["service"] == "sudo").unwrap();
    assert_eq!(sudo_open["user"]["name"], "root");
    let su = action(&d, "su");
    assert_eq!(su.len(), 3);
    assert_eq!(su[0]["user"]["target"]["name"], "mamoriauth1");
    assert_eq!(su[0]["user"]["name"], "root");
}

#[test]
fn slapd_binds_are_correlated_per_connection() {
    let d = docs();
    let binds = action(&d, "ldap-bind");
    assert_eq!(binds.len(), 2);
    assert_eq!(binds[0]["mamori"]["auth"]["dn"], "cn=admin,dc=city");
    assert_eq!(binds[1]["user"]["name"], "tanaka");
    assert_eq!(binds[1]["source"]["ip"], "127.0.0.1");
    assert_eq!(binds[1]["source"]["port"], 38900);
    let bad = action(&d, "ldap-bind-failed");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["user"]["name"], "tanaka");
    assert_eq!(bad[0]["source"]["port"], 38904);
    assert_eq!(bad[0]["mamori"]["auth"]["ldap"]["err"], "49");
    assert_eq!(bad[0]["mamori"]["auth"]["ldap"]["result"], "invalidCredentials");
    // The admin's ADDs carry who was bound on that connection.
    let adds = action(&d, "ldap-add");
    assert_eq!(adds.len(), 3);
    let add_results: Vec<_> = d.iter().filter(|x| x["message"].as_str().unwrap().contains("RESULT tag=105")).collect();
    assert!(add_results.iter().all(|r| r["mamori"]["auth"]["bound_dn"] == "cn=admin,dc=city"));
}

#[test]
fn unknown_lines_of_these_programs_are_kept_and_flagged() {
    let d = docs();
    // pam_systemd / pam_limits complaints and the slapd banner: kept, searchable, flagged.
    let unparsed: Vec<_> = d.iter().filter(|x| x.get("mamori").and_then(|m| m.get("auth")).and_then(|a| a.get("unparsed")) == Some(&json!(true))).collect();
    assert!(unparsed.iter().any(|x| x["message"].as_str().unwrap().starts_with("pam_systemd(")));
    for u in &unparsed {
        assert!(!u["message"].as_str().unwrap().is_empty());
        assert!(u["event"].get("action").is_none());
    }
    // Every line is a document.
    assert_eq!(d.len(), 87);
}

#[test]
fn malformed_auth_lines_do_not_stop_the_rest() {
    let ctx = SyslogContext::new(Utc.with_ymd_and_hms(2026, 12, 2, 4, 0, 0).unwrap());
    let input = "<38>Dec  2 03:54:00 vm sshd[1]: Accepted password for\n\
<999>Dec  2 03:54:00 vm sshd[1]: broken pri\n\
<38>Dec  2 03:54:00 vm sudo: : TTY=x ; COMMAND\n\
<38>Dec  2 03:54:00 vm slapd[2]: conn=abc op=1 BIND\n\
<38>Dec  2 03:54:00 vm sshd[1]: Accepted password for tanaka from 10.0.0.1 port 22 ssh2\n";
    let out: Vec<_> = input.lines().map(|l| parse_syslog(l.as_bytes(), &ctx)).collect();
    assert!(out[1].is_err(), "a broken PRI is an error naming the offset");
    assert!(out[1].as_ref().unwrap_err().to_string().contains("999") || out[1].as_ref().unwrap_err().to_string().contains("PRI"));
    for i in [0, 2, 3] {
        let d = out[i].as_ref().unwrap();
        assert_eq!(d["mamori"]["auth"]["unparsed"], true, "line {i}: {d:?}");
    }
    assert_eq!(out[4].as_ref().unwrap()["user"]["name"], "tanaka");
}

/// `fixtures/journald/journald_252_json.ndjson`: `journalctl -o json` output of a real
/// systemd-journald 252 (Debian 12) run in a private mount namespace (tmpfs `/run`), after
/// `systemd-cat -t sshd` / `-t sudo` wrote an sshd and a sudo line into it, plus the first two
/// kernel entries journald read from `/dev/kmsg`.
#[test]
fn journald_json_entries_get_the_same_auth_fields() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journald/journald_252_json.ndjson");
    let now = Utc.with_ymd_and_hms(2026, 12, 2, 5, 0, 0).unwrap();
    let text = std::fs::read(path).unwrap();
    let docs: Vec<Doc> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| mamori_sources::format::journald::parse_journal_entry(l, i + 1, 0, now).unwrap())
        .collect();
    assert_eq!(docs.len(), 4);
    let ssh = &docs[0];
    assert_eq!(ssh["event"]["action"], "ssh-login");
    assert_eq!(ssh["user"]["name"], "tanaka");
    assert_eq!(ssh["source"]["ip"], "10.20.30.41");
    assert_eq!(ssh["event"]["module"], "journald");
    assert_eq!(ssh["mamori"]["journald"]["transport"], "stdout");
    let sudo = &docs[1];
    assert_eq!(sudo["event"]["action"], "sudo-command");
    assert_eq!(sudo["process"]["command_line"], "/usr/bin/cat /etc/shadow");
    assert_eq!(docs[2]["process"]["name"], "kernel");
    assert_eq!(docs[2]["log"]["syslog"]["facility"]["name"], "kern");
    // Not an entry: an error naming the line.
    let e = mamori_sources::format::journald::parse_journal_entry(b"plain text", 7, 120, now).unwrap_err();
    assert!(e.to_string().contains("行 7") && e.to_string().contains("offset 120"), "{e}");
}
