//! The pages and their routes. Every handler takes an [`crate::Auth`] (or a
//! [`crate::CsrfForm`] for POST) and checks the role before reading anything.

use axum::Router;
use axum::extract::Query;
use axum::http::header;
use axum::Extension;
use std::sync::Arc;
use crate::session::UiState;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mamori_server::AppState;
use serde::Deserialize;

pub mod alerts;
pub mod case;
pub mod dashboard;
pub mod events;
pub mod login;
pub mod logreview;
pub mod password;
pub mod people;
pub mod ppc;
pub mod review;
pub mod settings;
pub mod takeout;
pub mod usb;
pub mod vendor;

/// Every UI route. Add a page's routes here (see README-dev.md).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(dashboard::page))
        .route("/ui/assets/style.css", get(crate::assets::style))
        .route("/ui/assets/app.js", get(crate::assets::script))
        .route("/ui/lang", get(switch_lang))
        .route("/ui/era", get(switch_era))
        .route("/ui/login", get(login::form).post(login::submit))
        .route("/ui/logout", post(login::logout))
        .route("/ui/events", get(events::page).post(events::search))
        .route("/ui/events/person", post(events::person))
        .route("/ui/alerts", get(alerts::list))
        .route("/ui/alerts/{id}", get(alerts::detail))
        .route("/ui/alerts/{id}/triage", post(alerts::triage))
        .route("/ui/alerts/{id}/close", post(alerts::close))
        .route("/ui/people", get(people::page))
        .route("/ui/people/person", post(people::person))
        .route("/ui/review", get(review::page))
        .route("/ui/review/sign", post(review::sign))
        .route("/ui/usb", get(usb::page))
        .route("/ui/takeouts", get(takeout::page))
        .route("/ui/takeouts/request", post(takeout::request))
        .route("/ui/takeouts/decide", post(takeout::decide))
        .route("/ui/takeouts.pdf", get(takeout::pdf))
        .route("/ui/vendors", get(vendor::page))
        .route("/ui/logreview", get(logreview::page))
        .route("/ui/logreview/comment", post(logreview::comment))
        .route("/ui/logreview/sign", post(logreview::sign))
        .route("/ui/logreview.pdf", get(logreview::pdf))
        .route("/ui/cases", get(case::list).post(case::open))
        .route("/ui/cases/{id}", get(case::detail))
        .route("/ui/cases/{id}/act", post(case::act))
        .route("/ui/cases/{id}/ppc", get(ppc::draft))
        .route("/ui/cases/{id}/ppc.pdf", get(ppc::pdf))
        .route("/ui/ppc", get(ppc::list))
        .route("/ui/settings", get(settings::page))
        .route("/ui/settings/users", post(settings::add_user))
        .route("/ui/settings/users/role", post(settings::change_role))
        .route("/ui/settings/users/disable", post(settings::disable))
        .route("/ui/settings/users/enable", post(settings::enable))
        .route("/ui/settings/users/reset", post(settings::reset))
        .route("/ui/settings/tokens/revoke", post(settings::revoke_token))
        .route("/ui/password", get(password::form).post(password::change))
}

#[derive(Deserialize)]
struct Switch {
    to: String,
    #[serde(default)]
    back: Option<String>,
}

/// Only same-site UI paths are followed back (no open redirect).
fn safe_back(back: Option<&str>) -> String {
    match back {
        Some(b) if b.starts_with("/ui/") && !b.contains("//") && !b.contains('\\') && !b.contains("..") => b.to_owned(),
        _ => "/ui/".to_owned(),
    }
}

async fn switch_lang(Extension(ui): Extension<Arc<UiState>>, Query(q): Query<Switch>) -> Response {
    let v = if q.to == "en" { "en" } else { "ja" };
    ([(header::SET_COOKIE, ui.pref_cookie("mamori_lang", v, 400 * 24 * 3600))], Redirect::to(&safe_back(q.back.as_deref()))).into_response()
}

async fn switch_era(Extension(ui): Extension<Arc<UiState>>, Query(q): Query<Switch>) -> Response {
    let v = if q.to == "wareki" { "wareki" } else { "seireki" };
    ([(header::SET_COOKIE, ui.pref_cookie("mamori_era", v, 400 * 24 * 3600))], Redirect::to(&safe_back(q.back.as_deref()))).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn back_links_stay_in_the_ui() {
        assert_eq!(super::safe_back(Some("/ui/alerts")), "/ui/alerts");
        for bad in ["https://evil.example/", "//evil.example/ui/", "/ui//evil", "/ui/..\\x", "/api/v1/events", "/ui/../api"] {
            assert_eq!(super::safe_back(Some(bad)), "/ui/", "{bad}");
        }
        assert_eq!(super::safe_back(None), "/ui/");
    }
}
