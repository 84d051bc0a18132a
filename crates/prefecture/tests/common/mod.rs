//! Helpers shared by the prefecture's integration tests (each test binary uses a part of them).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_prefecture::{Prefecture, TenantId};
use mamori_store_clickhouse::Config;
use reqwest::StatusCode;
use serde_json::Value;

/// A blocking HTTP client for one prefecture server; every answer as (status, JSON or the text).
pub struct Api {
    pub base: String,
    pub http: reqwest::blocking::Client,
}

impl Api {
    pub fn send(
        &self,
        mut r: reqwest::blocking::RequestBuilder,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().unwrap();
        let status = resp.status();
        let text = resp.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// GET, with a bearer token or without one.
    pub fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(self.http.get(format!("{}{path}", self.base)), token)
    }

    /// GET with a bearer token.
    pub fn get_with(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.get(path, Some(token))
    }

    pub fn post(&self, path: &str, token: &str, body: String) -> (StatusCode, Value) {
        self.send(
            self.http.post(format!("{}{path}", self.base)).body(body),
            Some(token),
        )
    }

    pub fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(self.http.delete(format!("{}{path}", self.base)), Some(token))
    }
}

/// `application/x-www-form-urlencoded` body of the UI's forms.
pub fn urlencode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Opens the prefecture, waiting (up to 20 s) while a previous instance in this test still holds
/// a ledger's lock (its server's tasks are being dropped).
pub fn open_when_free(root: &Path, cities: &[TenantId], cfg: &Config) -> Arc<Prefecture> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Prefecture::open(root, cities, cfg.clone()) {
            Ok(p) => return Arc::new(p),
            Err(e) if Instant::now() < deadline && e.to_string().contains("in use") => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{e}"),
        }
    }
}
