//! `config.toml` of a data directory. Unknown keys are errors that name the key and line.

use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The ledger.
    pub log: LogConfig,
    /// Listeners.
    #[serde(default)]
    pub server: ServerConfig,
    /// Witnesses this log submits its checkpoints to.
    #[serde(default, rename = "witnesses")]
    pub witnesses: Vec<WitnessPeer>,
    /// This instance acting as a witness for other logs.
    #[serde(default)]
    pub witness: WitnessRole,
    /// Source health: silence thresholds (docs/sources/health.md).
    #[serde(default)]
    pub sources: crate::health::HealthConfig,
    /// The watched export directory for leak tracing (docs/trace.md).
    #[serde(default)]
    pub exports: crate::fingerprint::ExportsConfig,
}

/// Ledger settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Checkpoint origin, e.g. `mamori.city.example.lg.jp/audit`.
    pub origin: String,
    /// Longest delay from acknowledgement to a signed checkpoint, milliseconds (≤ 1000).
    #[serde(default = "default_interval")]
    pub checkpoint_interval_ms: u64,
}

fn default_interval() -> u64 {
    500
}

/// Listener settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// HTTP listen address.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Syslog over TCP (RFC 6587 framing), e.g. `127.0.0.1:6514`. Off when absent.
    #[serde(default)]
    pub syslog_tcp: Option<String>,
    /// Syslog over UDP, e.g. `127.0.0.1:5514`. Off when absent.
    #[serde(default)]
    pub syslog_udp: Option<String>,
    /// Syslog over TLS (RFC 5425), e.g. `127.0.0.1:6515`; needs `tls_cert`/`tls_key`.
    #[serde(default)]
    pub syslog_tls: Option<String>,
    /// PEM certificate chain for HTTPS and syslog TLS.
    #[serde(default)]
    pub tls_cert: Option<String>,
    /// PEM private key for HTTPS and syslog TLS.
    #[serde(default)]
    pub tls_key: Option<String>,
    /// Largest accepted HTTP body, bytes.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Largest accepted NDJSON line / syslog frame, bytes.
    #[serde(default = "default_line")]
    pub max_line_bytes: usize,
    /// UTC offset assumed for syslog timestamps without one, e.g. `+09:00`.
    #[serde(default = "default_tz")]
    pub syslog_default_offset: String,
    /// Mark the web UI's cookies `Secure` although mamori itself serves plain HTTP: for a
    /// reverse proxy that terminates TLS in front of it. (With `tls_cert`/`tls_key` they are
    /// `Secure` anyway.) Browsers then send the cookies only over HTTPS.
    #[serde(default)]
    pub secure_cookies: bool,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_body() -> usize {
    64 << 20
}
fn default_line() -> usize {
    1 << 20
}
fn default_tz() -> String {
    "+09:00".into()
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            syslog_tcp: None,
            syslog_udp: None,
            syslog_tls: None,
            tls_cert: None,
            tls_key: None,
            max_body_bytes: default_body(),
            max_line_bytes: default_line(),
            syslog_default_offset: default_tz(),
            secure_cookies: false,
        }
    }
}

/// A witness this log submits checkpoints to (c2sp tlog-witness).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessPeer {
    /// Submission prefix; `/add-checkpoint` is appended.
    pub url: String,
    /// The witness's cosignature verifier key.
    pub vkey: String,
    /// A `witness`-role token, for witnesses that set `require_token`.
    #[serde(default)]
    pub token: Option<String>,
}

/// This instance as a witness.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessRole {
    /// Serve `POST /add-checkpoint`.
    #[serde(default)]
    pub enabled: bool,
    /// Verifier keys of the logs this witness cosigns.
    #[serde(default)]
    pub logs: Vec<String>,
    /// Require a `witness`-role token on `POST /add-checkpoint`. Off by default: c2sp
    /// tlog-witness clients send no credentials, and only checkpoints signed by a configured
    /// log key are ever cosigned, so the endpoint is safe to leave open.
    #[serde(default)]
    pub require_token: bool,
}

impl Config {
    /// Parses TOML; errors carry the line, column and key (from the toml crate).
    pub fn parse(text: &str, path: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| format!("{path}: {e}"))?;
        if cfg.syslog_offset().is_none() {
            return Err(format!("{path}: server.syslog_default_offset must look like +09:00 (got {:?})", cfg.server.syslog_default_offset));
        }
        if cfg.log.checkpoint_interval_ms == 0 || cfg.log.checkpoint_interval_ms > 1000 {
            return Err(format!("{path}: log.checkpoint_interval_ms must be 1..=1000 (got {})", cfg.log.checkpoint_interval_ms));
        }
        Ok(cfg)
    }

    /// `server.syslog_default_offset` as a UTC offset (`None` if it is not `±HH:MM`).
    pub fn syslog_offset(&self) -> Option<chrono::FixedOffset> {
        chrono::DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{}", self.server.syslog_default_offset))
            .ok()
            .map(|t| *t.offset())
    }

    /// A fresh configuration for `origin`.
    pub fn new(origin: &str) -> Config {
        Config {
            log: LogConfig { origin: origin.to_owned(), checkpoint_interval_ms: default_interval() },
            server: ServerConfig::default(),
            witnesses: Vec::new(),
            witness: WitnessRole::default(),
            sources: crate::health::HealthConfig::default(),
            exports: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_name_key_and_line() {
        let e = Config::parse("[log]\norigin = \"a/b\"\n\n[server]\nlisten = \"x\"\nlistn = \"y\"\n", "config.toml").unwrap_err();
        assert!(e.contains("listn"), "{e}");
        assert!(e.contains("line 6"), "{e}");
    }

    #[test]
    fn interval_is_bounded() {
        let e = Config::parse("[log]\norigin = \"a/b\"\ncheckpoint_interval_ms = 5000\n", "c").unwrap_err();
        assert!(e.contains("checkpoint_interval_ms"));
        assert!(Config::parse("[log]\norigin = \"a/b\"\n", "c").is_ok());
    }
}
