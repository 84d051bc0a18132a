//! Scanning a file in a child process (the test binary itself, running only its child test):
//! a crash no `catch_unwind` can stop (a stack overflow, an allocation failure) then fails one
//! test instead of killing the run, and the child's own peak RSS comes from `wait4`.
#![allow(dead_code)]

/// What a child scan printed, how it ended and its peak memory.
pub struct ChildRun {
    /// Exited with status 0.
    pub ok: bool,
    /// "exit N" or "killed by signal N".
    pub status: String,
    /// Its stdout and stderr.
    pub out: String,
    /// The child's peak resident set (KiB, Linux `ru_maxrss`).
    pub peak_rss_kib: i64,
}

impl ChildRun {
    pub fn report(&self) -> &str {
        self.out.lines().find(|l| l.starts_with("CHILD-REPORT")).unwrap_or("")
    }
    pub fn problems(&self) -> Vec<&str> {
        self.out.lines().filter_map(|l| l.strip_prefix("PROBLEM ")).collect()
    }
    /// (kind, page) of every finding located on a page.
    pub fn page_findings(&self) -> Vec<(String, u32)> {
        self.out
            .lines()
            .filter_map(|l| l.strip_prefix("FINDING "))
            .filter_map(|l| {
                let (k, p) = l.split_once(" page ")?;
                Some((k.to_string(), p.parse().ok()?))
            })
            .collect()
    }
}

/// Writes `bytes` as `name` to a temporary directory and runs this test binary's ignored test
/// `child_test` on it (path in `MAMORI_HOSTILE_FILE`, plus `env`).
pub fn run_child(child_test: &str, name: &str, bytes: &[u8], env: &[(&str, String)]) -> ChildRun {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    let out_path = dir.path().join("child.out");
    let out_file = std::fs::File::create(&out_path).unwrap();
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([child_test, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("MAMORI_HOSTILE_FILE", &p)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(out_file.try_clone().unwrap())
        .stderr(out_file);
    // Reaped by wait4 below, not Child::wait.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap();
    // Reap the child with wait4 for its own rusage (RUSAGE_CHILDREN would be the largest of
    // every child of this binary, tests running in parallel).
    let mut status = 0;
    // SAFETY: plain syscall on our own child's pid; rusage is an out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    assert_eq!(r, child.id() as libc::pid_t, "wait4: {}", std::io::Error::last_os_error());
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let status = if libc::WIFSIGNALED(status) { format!("killed by signal {}", libc::WTERMSIG(status)) } else { format!("exit {}", libc::WEXITSTATUS(status)) };
    eprintln!("{name}: {status}, child peak RSS {} KiB", ru.ru_maxrss);
    ChildRun { ok, status, out: std::fs::read_to_string(&out_path).unwrap_or_default(), peak_rss_kib: ru.ru_maxrss }
}
