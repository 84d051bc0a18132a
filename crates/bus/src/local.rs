//! A private `nats-server` with JetStream on 127.0.0.1, for tests, benchmarks and a one-box
//! trial: its own port and store directory, never the system service. Killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running private NATS server.
#[derive(Debug)]
pub struct NatsServer {
    dir: PathBuf,
    /// Client port.
    pub port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

impl NatsServer {
    /// Starts `nats-server -js` with its store under `dir`; waits until it accepts connections.
    pub fn start(dir: &Path) -> std::io::Result<NatsServer> {
        std::fs::create_dir_all(dir)?;
        let mut s = NatsServer {
            dir: dir.to_owned(),
            port: free_port(),
            child: None,
        };
        s.spawn()?;
        Ok(s)
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("nats.log"))?;
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.dir.join("js"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(st)) = c.try_wait()
            {
                let log = std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default();
                return Err(std::io::Error::other(format!(
                    "nats-server exited with {st}: {log}"
                )));
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other("nats-server did not listen in time"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and store after [`NatsServer::kill`].
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "nats restart failed; retrying");
                    self.kill();
                    std::thread::sleep(Duration::from_millis(300));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
