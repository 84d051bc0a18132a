//! A private `clickhouse-server` on 127.0.0.1, for tests, benchmarks and a one-box trial: its
//! own config, data directory and free ports, never the system service. Killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released; the server binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

/// One shard of a cluster definition: its native TCP port on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
pub struct ShardAddr {
    /// Native protocol port.
    pub tcp_port: u16,
}

/// A running private ClickHouse server.
#[derive(Debug)]
pub struct LocalServer {
    dir: PathBuf,
    /// HTTP port.
    pub http_port: u16,
    /// Native TCP port.
    pub tcp_port: u16,
    child: Option<Child>,
}

fn users_xml() -> &'static str {
    r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"#
}

impl LocalServer {
    /// Starts a server whose files live under `dir` (created), with a cluster `name` of the
    /// given shards (one replica each) when `cluster` is given. Waits until it answers.
    pub fn start(
        dir: &Path,
        cluster: Option<(&str, &[ShardAddr])>,
    ) -> std::io::Result<LocalServer> {
        Self::start_on(dir, free_port(), free_port(), cluster)
    }

    /// As [`LocalServer::start`] on given ports.
    pub fn start_on(
        dir: &Path,
        http_port: u16,
        tcp_port: u16,
        cluster: Option<(&str, &[ShardAddr])>,
    ) -> std::io::Result<LocalServer> {
        let remote = match cluster {
            None => String::new(),
            Some((name, shards)) => {
                let mut s = format!("<remote_servers><{name}>");
                for sh in shards {
                    s.push_str(&format!(
                        "<shard><replica><host>127.0.0.1</host><port>{}</port></replica></shard>",
                        sh.tcp_port
                    ));
                }
                s.push_str(&format!("</{name}></remote_servers>"));
                s
            }
        };
        Self::start_custom(dir, http_port, tcp_port, &remote)
    }

    /// As [`LocalServer::start_on`] with `extra` XML inserted into the server config (cluster
    /// definitions, `<zookeeper>`, `<macros>`, `<interserver_http_port>` …).
    pub fn start_custom(
        dir: &Path,
        http_port: u16,
        tcp_port: u16,
        extra: &str,
    ) -> std::io::Result<LocalServer> {
        std::fs::create_dir_all(dir)?;
        let d = dir.display();
        let remote = extra;
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog></logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
  {remote}
</yandex>
"#
        );
        std::fs::write(dir.join("config.xml"), config)?;
        std::fs::write(dir.join("users.xml"), users_xml())?;
        let mut server = LocalServer {
            dir: dir.to_owned(),
            http_port,
            tcp_port,
            child: None,
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let out = std::fs::File::create(self.dir.join("stdout.log"))?;
        let child = Command::new("clickhouse-server")
            .arg(format!(
                "--config-file={}",
                self.dir.join("config.xml").display()
            ))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(60))
    }

    /// The HTTP base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    fn wait_ready(&mut self, timeout: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/ping", self.url());
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(std::io::Error::other)?;
        loop {
            if let Ok(r) = http.get(&url).send()
                && r.status().is_success()
            {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(st)) = c.try_wait()
            {
                let log =
                    std::fs::read_to_string(self.dir.join("server.err.log")).unwrap_or_default();
                return Err(std::io::Error::other(format!(
                    "clickhouse-server exited with {st}: {}",
                    log.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
                )));
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other(
                    "clickhouse-server did not answer /ping in time",
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the server (SIGKILL, no clean shutdown) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same ports and data after [`LocalServer::kill`].
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.kill();
        // The ports are released when the process exits; retry while the old socket lingers.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "clickhouse restart failed; retrying");
                    self.kill();
                    std::thread::sleep(Duration::from_millis(300));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Bytes on disk of the table `table` (all its active parts).
    pub fn table_bytes(&self, database: &str, table: &str) -> mamori_store::Result<u64> {
        let c = crate::Client::new(&self.url(), database, Duration::from_secs(30))?;
        #[derive(serde::Deserialize)]
        struct B {
            b: u64,
        }
        let rows: Vec<B> = c.select(
            "reading table size",
            &format!(
                "SELECT sum(bytes_on_disk) AS b FROM system.parts WHERE active AND database = {} AND table = {}",
                crate::lit(database),
                crate::lit(table)
            ),
        )?;
        Ok(rows.first().map_or(0, |r| r.b))
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill();
    }
}
