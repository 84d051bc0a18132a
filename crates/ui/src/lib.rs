//! mamori's web UI: Japanese-first, server-rendered HTML pages for the officers, auditors and
//! administrators of a city, served by `mamori serve` under `/ui/`.
//!
//! What it does:
//! - renders pages with [`maud`] (compile-time templates, escaped by default) and a little
//!   vanilla JS/CSS embedded in the binary ([`assets`]); no CDN, works offline;
//! - logs people in with their local account (mamori-auth users, argon2id) into a server-side
//!   session ([`session`]): cookie `HttpOnly; SameSite=Strict` (+ `Secure` over TLS), idle and
//!   absolute timeouts, login rate limiting per account and overall;
//! - checks the caller's role on every page and every action on the server, against the one
//!   permission table of mamori-auth ([`Auth::require`]); a CSRF token on every POST form
//!   ([`CsrfForm`]); a strict CSP (no inline script) and related headers on every response;
//! - keeps personal data out of URLs (and so out of the request log): searches by person and
//!   links to a person are POST forms; alerts are addressed by their opaque number;
//! - changes state only through the ledgered functions of mamori-server (alert triage, access
//!   review sign-off, account management through `mamori_server::http::admin_apply`), never by
//!   editing an index;
//! - draws charts (events per day per department, alert trends) as inline SVG on the server.
//!
//! What it does not do: any storage of its own (sessions live in memory and end with the
//! process), JSON APIs (mamori-server has them), editing or deleting events.
//!
//! Adding a page: see `crates/ui/README-dev.md`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod assets;
pub mod charts;
pub mod dates;
pub mod error;
pub mod i18n;
pub mod layout;
pub mod nav;
pub mod pages;
pub mod session;

pub use error::UiError;
pub use i18n::Lang;
pub use session::{Auth, CsrfForm, UiState};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use mamori_server::AppState;
use std::sync::Arc;

/// Content-Security-Policy of every UI response: only this origin's script and style files,
/// no inline script, no framing, forms only to this origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The UI routes, to merge into mamori-server's router. `secure_cookies`: mark the session
/// cookie `Secure` (the server is served over TLS).
pub fn routes(secure_cookies: bool) -> Router<AppState> {
    let ui = Arc::new(UiState::new(secure_cookies));
    pages::routes()
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::Extension(ui))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Adds CSP and the other browser hardening headers; pages are never cached.
async fn security_headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/ui/assets/");
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}
