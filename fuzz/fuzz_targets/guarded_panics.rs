//! Panic hook for the pii targets: lets a campaign go on past panics that the product itself
//! catches inside third-party parsers, and keeps every other panic fatal.
//!
//! Why: `mamori_pii` runs calamine, lopdf, zip, quick-xml and mail-parser under
//! `catch_unwind` (`extract::guarded`), so a parser bug on a hostile file becomes a "parser
//! panicked" problem in the scan report, not a crash. libFuzzer's panic hook
//! (`libfuzzer_sys::initialize`) aborts on *every* panic, caught or not, before unwinding
//! starts; one known calamine bug therefore stopped every `pii_zip` run within seconds.
//!
//! What [`install`] does: it wraps libFuzzer's hook. A panic whose location is a source file of
//! one of the [`GUARDED`] crates (a path under Cargo's `registry/src/<index>/<crate>-<version>/`)
//! is noted on stderr once per location and left to unwind; everything else goes to libFuzzer's
//! hook and aborts as before. So:
//! - a panic in mamori's own code (`crates/pii/src/...`) is fatal, even inside a `guarded`
//!   closure (e.g. our own XML walker or PDF glyph code);
//! - a panic in a guarded crate that the product does *not* catch still crashes the run:
//!   unwinding reaches `libfuzzer_sys::test_input_wrap`, whose `catch_unwind` aborts, and
//!   libFuzzer saves the input (the panic's message was printed just before);
//! - a panic located in the standard library (`/rustc/...`) is fatal, because it cannot tell
//!   whose call it was.
//!
//! The noted lines (`mamori-fuzz: panic in a guarded third-party parser at ...`) are the findings to report
//! upstream; `pii_zip` on calamine 0.30.1 was the first.

use std::collections::HashSet;
use std::panic::PanicHookInfo;
use std::sync::Mutex;

/// Third-party crates whose calls `mamori_pii` wraps in `guarded`, with the parsing crates they
/// use internally (decompression, tokenising, number parsing).
pub const GUARDED: &[&str] = &[
    "calamine",
    "lopdf",
    "zip",
    "quick-xml",
    "mail-parser",
    "flate2",
    "miniz_oxide",
    "zlib-rs",
    "nom",
    "nom_locate",
    "weezl",
    "atoi_simd",
    "fast-float2",
    "codepage",
    // extract/biff.rs opens .xls with the cfb crate inside `guarded` (before calamine).
    "cfb",
];

/// The crate (`name` of `name-version`) a registry source path belongs to.
pub fn registry_crate(file: &str) -> Option<&str> {
    let rest = &file[file.find("/registry/src/")? + "/registry/src/".len()..];
    let mut parts = rest.split('/');
    let _index = parts.next()?;
    let dir = parts.next()?;
    parts.next()?; // a file inside the crate
    let (name, version) = dir.rsplit_once('-')?;
    version.starts_with(|c: char| c.is_ascii_digit()).then_some(name)
}

/// Whether a panic at `file` is one the product deliberately survives.
pub fn in_guarded_crate(file: &str) -> bool {
    registry_crate(file).is_some_and(|c| GUARDED.contains(&c))
}

fn message(info: &PanicHookInfo<'_>) -> String {
    let p = info.payload();
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Wrap libFuzzer's panic hook (call from the target's `init:` block, which runs after
/// `libfuzzer_sys::initialize` has set that hook).
pub fn install() {
    let fatal = std::panic::take_hook();
    let seen: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    std::panic::set_hook(Box::new(move |info| {
        let Some(loc) = info.location() else { return fatal(info) };
        if !in_guarded_crate(loc.file()) {
            return fatal(info);
        }
        let at = format!("{}:{}:{}", loc.file(), loc.line(), loc.column());
        let first = seen.lock().map(|mut s| s.insert(at.clone())).unwrap_or(true);
        if first {
            eprintln!(
                "mamori-fuzz: panic in a guarded third-party parser at {at}: {}; left to unwind \
                 (mamori_pii catches it; if nothing does, the run aborts right after this line)",
                message(info)
            );
        }
    }));
}
