//! mamori's web UI: Japanese-first, server-rendered HTML pages for the officers, auditors and
//! administrators of a city, served by `mamori serve` under `/ui/` (in tenant mode, each city's
//! under `/t/{tenant}/ui/`: [`routes_under`]).
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
    routes_under(secure_cookies, "")
}

/// As [`routes`], for a UI that the browser reaches under the path prefix `base` (e.g.
/// `/t/kamaishi` in tenant mode) while the requests arrive here with it stripped (`/ui/...`):
/// the cookies' `Path` starts with `base` (a session cookie of one prefix is never sent to
/// another), and `Location` headers and the URLs in the HTML pages get `base` in front.
/// `""` is [`routes`].
pub fn routes_under(secure_cookies: bool, base: &str) -> Router<AppState> {
    let ui = Arc::new(UiState::under(secure_cookies, base));
    let r = pages::routes().layer(axum::middleware::from_fn(security_headers));
    let r = if base.is_empty() {
        r
    } else {
        let base: Arc<str> = base.into();
        r.layer(axum::middleware::from_fn(move |req: Request, next: Next| rebase(base.clone(), req, next)))
    };
    r.layer(axum::Extension(ui)).layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Puts `base` in front of the UI's own absolute URLs in a response: `Location` and, in HTML
/// pages, every attribute value that starts with `/ui/`.
///
/// Hand-written rather than giving every template a base path: the pages write their ~100
/// links, form actions and asset URLs as `"/ui/..."`, and maud escapes `"` in everything it
/// interpolates (`&quot;`), so `="/ui/` in a rendered page only comes from a template's own
/// attribute, never from event data.
async fn rebase(base: Arc<str>, req: Request, next: Next) -> Response {
    let r = next.run(req).await;
    let (mut parts, body) = r.into_parts();
    if let Some(to) = parts.headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
        && to.starts_with("/ui")
        && let Ok(v) = HeaderValue::from_str(&format!("{base}{to}"))
    {
        parts.headers.insert(header::LOCATION, v);
    }
    let html = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "UI page body could not be read for rebasing");
            return Response::from_parts(parts, axum::body::Body::empty());
        }
    };
    let page = String::from_utf8_lossy(&bytes).replace("=\"/ui/", &format!("=\"{base}/ui/"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(page))
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
