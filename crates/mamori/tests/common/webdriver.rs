//! A small WebDriver client for Debian's headless Chromium (`chromium`, `chromium-driver`):
//! starts chromedriver on a free port with a fresh profile, talks the W3C WebDriver HTTP
//! protocol with reqwest, and stops everything when dropped. No browser is downloaded.
#![allow(dead_code)]

use base64::Engine;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn which(names: &[&str]) -> Option<PathBuf> {
    names.iter().map(PathBuf::from).find(|p| p.exists())
}

/// A chromedriver process and one browser session.
pub struct Browser {
    driver: Child,
    url: String,
    session: String,
    http: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session (1280×2000 window, Japanese locale).
    pub fn start() -> Browser {
        let driver_bin = which(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
            .expect("chromedriver missing: run ./scripts/test.sh (Debian package chromium-driver)");
        let chrome = which(&["/usr/bin/chromium", "/usr/lib/chromium/chromium"]).expect("chromium missing: run ./scripts/test.sh (Debian package chromium)");
        let profile = tempfile::tempdir().unwrap();
        let mut last = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let mut driver = Command::new(&driver_bin)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver");
            let url = format!("http://127.0.0.1:{port}");
            let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut ready = false;
            while Instant::now() < deadline {
                if let Ok(r) = http.get(format!("{url}/status")).send()
                    && r.json::<Value>().ok().is_some_and(|v| v["value"]["ready"] == true)
                {
                    ready = true;
                    break;
                }
                if driver.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if !ready {
                let _ = driver.kill();
                let _ = driver.wait();
                last = "chromedriver did not become ready".into();
                continue;
            }
            let caps = json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chrome,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--no-first-run", "--no-default-browser-check", "--lang=ja-JP",
                        "--window-size=1280,2000", format!("--user-data-dir={}", profile.path().display()),
                    ],
                    "prefs": {"intl.accept_languages": "ja-JP,ja"}
                }
            }}});
            match http.post(format!("{url}/session")).json(&caps).send().and_then(|r| r.json::<Value>()) {
                Ok(v) if v["value"]["sessionId"].is_string() => {
                    let session = v["value"]["sessionId"].as_str().unwrap().to_owned();
                    return Browser {
                        driver,
                        url,
                        session,
                        http,
                        _profile: profile,
                    };
                }
                Ok(v) => last = v.to_string(),
                Err(e) => last = e.to_string(),
            }
            let _ = driver.kill();
            let _ = driver.wait();
        }
        panic!("could not start a Chromium session: {last}");
    }

    fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.url, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().unwrap_or_else(|e| panic!("{url}: {e}")).json().unwrap();
        if v["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    /// Opens a URL and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})));
    }

    /// The current URL.
    pub fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None).as_str().unwrap_or_default().to_owned()
    }

    /// The page source.
    pub fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None).as_str().unwrap_or_default().to_owned()
    }

    fn try_find(&self, css: &str) -> Option<String> {
        let url = format!("{}/session/{}/element", self.url, self.session);
        let v: Value = self
            .http
            .post(&url)
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .ok()?
            .json()
            .ok()?;
        v["value"][ELEMENT].as_str().map(str::to_owned)
    }

    /// Whether an element matches `css` now.
    pub fn exists(&self, css: &str) -> bool {
        self.try_find(css).is_some()
    }

    /// The element matching `css`, waiting up to 30 s for it.
    pub fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(e) = self.try_find(css) {
                return e;
            }
            assert!(Instant::now() < deadline, "no element {css} on {}:\n{}", self.current_url(), self.source());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `text` into the element matching `css` (after clearing it).
    pub fn fill(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/clear"), Some(json!({})));
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text})));
    }

    /// Clicks the element matching `css`.
    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({})));
    }

    /// Sends keys to the focused element (e.g. "\u{E004}" = Tab, "\u{E007}" = Enter).
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.cmd(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "kbd", "actions": actions}]})),
        );
    }

    /// The focused element's attribute `name` (via the active element).
    pub fn active_attr(&self, name: &str) -> String {
        let v = self.cmd(reqwest::Method::GET, "/element/active", None);
        let e = v[ELEMENT].as_str().unwrap().to_owned();
        self.cmd(reqwest::Method::GET, &format!("/element/{e}/attribute/{name}"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Reads `what` (`text` or `attribute/NAME`) of the element matching `css`, finding it
    /// again if the page was replaced in between (stale element).
    fn read(&self, css: &str, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let e = self.find(css);
            let url = format!("{}/session/{}/element/{e}/{what}", self.url, self.session);
            let v: Value = self.http.get(&url).send().unwrap_or_else(|e| panic!("{url}: {e}")).json().unwrap();
            match v["value"].get("error").and_then(Value::as_str) {
                None => return v["value"].as_str().unwrap_or_default().to_owned(),
                Some("stale element reference" | "no such element") if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                Some(_) => panic!("WebDriver {what} of {css}: {}", v["value"]),
            }
        }
    }

    /// The visible text of the element matching `css`.
    pub fn text(&self, css: &str) -> String {
        self.read(css, "text")
    }

    /// An attribute of the element matching `css`.
    pub fn attr(&self, css: &str, name: &str) -> String {
        self.read(css, &format!("attribute/{name}"))
    }

    /// Runs a script in the page (WebDriver's execute is not subject to the page's CSP).
    pub fn exec(&self, script: &str) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    /// Clicks the element matching `css` and waits until a new document has loaded (a link
    /// or a form submission, also when the URL stays the same).
    pub fn click_nav(&self, css: &str) {
        self.exec("window.__mamoriOld = true; return true;");
        self.click(css);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let url = format!("{}/session/{}/execute/sync", self.url, self.session);
            let body = json!({"script": "return document.readyState === 'complete' && !window.__mamoriOld;", "args": []});
            let done = self.http.post(&url).json(&body).send().ok().and_then(|r| r.json::<Value>().ok()).is_some_and(|v| v["value"] == true);
            if done {
                return;
            }
            assert!(Instant::now() < deadline, "clicking {css} did not load a new page: {}", self.current_url());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Deletes all cookies (logs out without the form).
    pub fn clear_cookies(&self) {
        self.cmd(reqwest::Method::DELETE, "/cookie", None);
    }

    /// Writes a PNG screenshot of the viewport to `dir/NAME.png`.
    pub fn screenshot(&self, dir: &Path, name: &str) {
        let b64 = self.cmd(reqwest::Method::GET, "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Logs in through the login form and waits for the dashboard (or the given failure).
    pub fn login(&self, base: &str, user: &str, password: &str) {
        self.clear_cookies();
        self.goto(&format!("{base}/ui/login"));
        self.fill("#username", user);
        self.fill("#password", password);
        self.click_nav("#login");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(format!("{}/session/{}", self.url, self.session)).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
