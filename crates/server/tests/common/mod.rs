//! An in-process mamori server for integration tests: the real `DataDir`, ledger, indexer,
//! HTTP router and syslog receivers, bound to free loopback ports.
#![allow(dead_code)]

use mamori_server::{AppState, DataDir};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Creates a data directory at `root`, optionally lowering `max_line_bytes`; returns the
/// initial admin token.
/// Blocking (the ledger's `append_blocking`): on a runtime, it runs on a plain thread.
pub fn init(root: &Path, origin: &str, max_line_bytes: Option<usize>) -> String {
    let dir = DataDir::new(root);
    let o = origin.to_owned();
    let r = std::thread::scope(|s| s.spawn(|| dir.init(&o)).join().unwrap()).expect("init");
    if let Some(m) = max_line_bytes {
        set_max_line(root, m);
    }
    r.admin_token
}

/// Rewrites `[server] max_line_bytes` in config.toml.
pub fn set_max_line(root: &Path, max: usize) {
    let dir = DataDir::new(root);
    let mut cfg = dir.config().expect("config");
    cfg.server.max_line_bytes = max;
    std::fs::write(dir.config_path(), toml::to_string_pretty(&cfg).unwrap()).unwrap();
}

/// A running server.
pub struct Srv {
    /// `http://127.0.0.1:<port>`.
    pub http: String,
    /// Syslog TCP address.
    pub tcp: SocketAddr,
    /// Syslog UDP address.
    pub udp: SocketAddr,
    /// Data directory.
    pub root: PathBuf,
    /// Shared state (for white-box checks).
    pub st: AppState,
    /// An HTTP client that keeps no idle connections (so shutdown is prompt).
    pub client: reqwest::Client,
    stop: Arc<AtomicBool>,
    indexer: Option<std::thread::JoinHandle<()>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    syslog: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts a server on the data directory at `root` (must be called on a multi-thread runtime).
pub async fn start(root: &Path) -> Srv {
    let dir = DataDir::new(root);
    let opened = tokio::task::block_in_place(|| dir.open()).expect("open data dir");
    let st = AppState::new(dir, &opened).expect("state");
    let stop = Arc::new(AtomicBool::new(false));
    let indexer = mamori_server::indexer::spawn(opened.ledger.clone(), opened.store.clone(), stop.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = format!("http://{}", listener.local_addr().unwrap());
    let tcp_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp = tcp_l.local_addr().unwrap();
    let udp_s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp = udp_s.local_addr().unwrap();
    let syslog = vec![
        tokio::spawn(mamori_server::syslog::serve_tcp(st.clone(), tcp_l)),
        tokio::spawn(mamori_server::syslog::serve_udp(st.clone(), udp_s)),
    ];
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mamori_server::serve(st.clone(), listener, async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(20)).build().unwrap();
    Srv { http, tcp, udp, root: root.to_owned(), st, client, stop, indexer: Some(indexer), shutdown: Some(tx), server: Some(server), syslog }
}

impl Srv {
    /// Stops everything and releases the ledger lock, so the directory can be opened again.
    pub async fn stop(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.server.take().unwrap()).await.expect("server stops");
        for t in self.syslog.drain(..) {
            t.abort();
            let _ = t.await;
        }
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let ledger = self.st.ledger.clone();
        let indexer = self.indexer.take().unwrap();
        tokio::task::spawn_blocking(move || {
            let _ = indexer.join();
            ledger.close();
        })
        .await
        .unwrap();
    }

    /// `url` for a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.http)
    }

    /// Sends a request; returns status and body (JSON when it parses, else a string).
    pub async fn req(&self, method: &str, path: &str, token: Option<&str>, body: Option<Vec<u8>>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.client.request(m, self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            let ct = if path.starts_with("/api/v1/admin") { "application/json" } else { "application/x-ndjson" };
            r = r.header("content-type", ct).body(b);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        let v = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, v)
    }

    /// GET returning JSON, asserting 200.
    pub async fn get_ok(&self, path: &str, token: &str) -> Value {
        let (s, v) = self.req("GET", path, Some(token), None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    /// POST with a body, returning status and JSON.
    pub async fn post(&self, path: &str, token: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
        self.req("POST", path, Some(token), Some(body.into())).await
    }

    /// A Prometheus metric's value.
    pub async fn metric(&self, name: &str, token: &str) -> f64 {
        let (s, v) = self.req("GET", "/metrics", Some(token), None).await;
        assert_eq!(s, 200, "{v}");
        metric_value(v.as_str().unwrap(), name)
    }

    /// Waits until the index has caught up with the ledger's durable size.
    pub async fn wait_indexed(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let durable = self.st.ledger.durable_size();
            let indexed = self.st.reader.lock().unwrap().stats().unwrap().indexed_upto.map_or(0, |i| i + 1);
            if indexed >= durable {
                return;
            }
            assert!(Instant::now() < deadline, "index lag: {indexed} < {durable}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every quarantine item (newest first), following cursors.
    pub async fn quarantine(&self, token: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/quarantine?limit=1000&cursor={c}"),
                None => "/api/v1/quarantine?limit=1000".to_owned(),
            };
            let v = self.get_ok(&path, token).await;
            out.extend(v["items"].as_array().unwrap().iter().cloned());
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }

    /// Creates an API token with `role` through the admin API; returns (id, secret).
    pub async fn token(&self, admin: &str, name: &str, role: &str) -> (String, String) {
        let (s, v) = self.req_json("POST", "/api/v1/admin/tokens", admin, serde_json::json!({"name": name, "role": role})).await;
        assert_eq!(s, 201, "{v}");
        (v["id"].as_str().unwrap().to_owned(), v["token"].as_str().unwrap().to_owned())
    }

    /// Sends a JSON body.
    pub async fn req_json(&self, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = self.client.request(m, self.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned())))
    }
}

/// Parses one metric's value out of a Prometheus text exposition.
pub fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("metric {name} missing in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Polls `f` until it returns `Some`, for up to `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Decodes a quarantine item's exact raw bytes.
pub fn raw_of(item: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::prelude::BASE64_STANDARD.decode(item["event"]["mamori"]["quarantine"]["raw_b64"].as_str().expect("raw_b64")).unwrap()
}
