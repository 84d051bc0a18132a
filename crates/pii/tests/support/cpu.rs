//! CPU seconds (user + system) of this process or of its children, for the speed examples: the
//! machine is shared, so throughput per core is bytes per CPU-second.

// Each example includes this file and uses part of it.
#![allow(dead_code)]

/// User and system CPU seconds so far, apart, of this process (`who` = `libc::RUSAGE_SELF`) or
/// of its waited-for children (`libc::RUSAGE_CHILDREN`). System time is mostly page faults on
/// fresh buffers (the file read, the normalised copy).
pub fn user_sys(who: i32) -> (f64, f64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    (t(ru.ru_utime), t(ru.ru_stime))
}

/// User + system CPU seconds of `who` so far (see [`user_sys`]).
pub fn cpu_seconds_of(who: i32) -> f64 {
    let (u, s) = user_sys(who);
    u + s
}

/// User + system CPU seconds of this process so far.
pub fn cpu_seconds() -> f64 {
    cpu_seconds_of(libc::RUSAGE_SELF)
}
