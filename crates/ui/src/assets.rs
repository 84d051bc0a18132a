//! The stylesheet and the script, embedded in the binary and served from `/ui/assets/`
//! (CSP `script-src 'self'`: there is no inline script anywhere).

use axum::http::header;
use axum::response::IntoResponse;

/// The stylesheet.
pub const STYLE_CSS: &str = include_str!("../assets/style.css");
/// The script (progressive enhancement only: every page works without it).
pub const APP_JS: &str = include_str!("../assets/app.js");

/// `GET /ui/assets/style.css`.
pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLE_CSS)
}

/// `GET /ui/assets/app.js`.
pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], APP_JS)
}
