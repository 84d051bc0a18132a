//! CPU seconds (user + system) of this process, for the speed examples: the machine is shared,
//! so throughput per core is bytes per CPU-second.

/// User + system CPU seconds of this process so far (getrusage RUSAGE_SELF).
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(ru.ru_utime) + t(ru.ru_stime)
}
