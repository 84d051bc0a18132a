//! ログイン / ログアウト. The login form carries a nonce that must match a cookie set with the
//! form (login CSRF); attempts are rate limited per account and overall; the password is
//! checked with argon2id off the async runtime; a fresh session id is issued on success.
//! Neither the account name nor the password is logged.

use axum::extract::State;
use axum::Extension;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use std::sync::Arc;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use mamori_server::AppState;
use serde::Deserialize;

use crate::layout::bare_page;
use crate::session::{SESSION_COOKIE, UiState, cookie, random_token, same_secret};
use crate::{CsrfForm, Lang, UiError};

const NONCE_COOKIE: &str = "mamori_login";

fn login_page(ui: &UiState, lang: Lang, nonce: &str, message: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        @if let Some(m) = message { div.error role="alert" #login-error { p { (m) } } }
        form.stack method="post" action="/ui/login" {
            input type="hidden" name="_csrf" value=(nonce);
            label for="username" { (lang.t("ユーザー名", "User name")) }
            input #username type="text" name="username" autocomplete="username" required autofocus;
            label for="password" { (lang.t("パスワード", "Password")) }
            input #password type="password" name="password" autocomplete="current-password" required;
            p { button #login type="submit" { (lang.t("ログイン", "Log in")) } }
        }
        p.muted {
            @if lang == Lang::Ja { a href="/ui/lang?to=en&back=/ui/login" lang="en" { "English" } } @else { a href="/ui/lang?to=ja&back=/ui/login" lang="ja" { "日本語" } }
        }
    };
    let page = bare_page(lang, lang.t("ログイン", "Log in"), body);
    (status, [(header::SET_COOKIE, ui.pref_cookie(NONCE_COOKIE, nonce, 3600))], page).into_response()
}

/// `GET /ui/login`.
pub async fn form(Extension(ui): Extension<Arc<UiState>>, uri: Uri, headers: HeaderMap) -> Response {
    let lang = Lang::from_request(&uri, &headers);
    login_page(&ui, lang, &random_token(), None, StatusCode::OK)
}

#[derive(Deserialize)]
/// The login form.
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// `POST /ui/login`.
pub async fn submit(State(st): State<AppState>, Extension(ui): Extension<Arc<UiState>>, uri: Uri, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, UiError> {
    let lang = Lang::from_request(&uri, &headers);
    let f: LoginForm = serde_urlencoded::from_bytes(&body).map_err(|e| UiError::bad_request(lang, "フォームが不正です", &e.to_string()))?;
    let nonce = cookie(&headers, NONCE_COOKIE).unwrap_or_default();
    if nonce.is_empty() || !same_secret(&nonce, &f.csrf) {
        return Err(UiError::csrf(lang));
    }
    if let Err(wait) = ui.login_allowed(&f.username) {
        tracing::warn!(target: "mamori_ui", "login refused: rate limit");
        return Err(UiError::too_many(lang, wait));
    }
    let auth = st.auth.clone();
    let (user, pw) = (f.username.clone(), f.password);
    let who = tokio::task::spawn_blocking(move || auth.read().unwrap().authenticate_login(&user, &pw)).await.map_err(|e| UiError::internal(lang, e))?;
    let Some(login) = who else {
        ui.login_failed(&f.username);
        tracing::warn!(target: "mamori_ui", "login failed");
        let msg = lang.t("ユーザー名またはパスワードが違います。", "Wrong user name or password.");
        return Ok(login_page(&ui, lang, &random_token(), Some(msg), StatusCode::UNAUTHORIZED));
    };
    ui.login_succeeded(&f.username);
    let p = login.principal;
    if !p.role.actions().iter().any(|a| crate::nav::DASHBOARD.any_of.contains(a)) {
        let msg = lang.t("このロール(取込専用・証人)では画面を利用できません。API トークンを使ってください。", "This role (ingest, witness) has no pages; use an API token.");
        return Ok(login_page(&ui, lang, &random_token(), Some(msg), StatusCode::FORBIDDEN));
    }
    tracing::info!(target: "mamori_ui", role = p.role.as_str(), "login");
    let phc = st.auth.read().unwrap().user(&p.name).map(|u| u.password_phc.clone()).unwrap_or_default();
    let id = ui.create(&p.name, &phc);
    // A one-time password (administrator's reset) leads straight to choosing a new one.
    let to = if login.must_change_password { crate::pages::password::PATH } else { "/ui/" };
    let mut r = Redirect::to(to).into_response();
    r.headers_mut().append(header::SET_COOKIE, ui.session_cookie(&id).parse().expect("cookie"));
    r.headers_mut().append(header::SET_COOKIE, ui.pref_cookie(NONCE_COOKIE, "", 0).parse().expect("cookie"));
    Ok(r)
}

#[derive(Deserialize)]
/// Nothing but the CSRF token.
pub struct Empty {}

/// `POST /ui/logout`.
pub async fn logout(Extension(ui): Extension<Arc<UiState>>, headers: HeaderMap, CsrfForm(_auth, _): CsrfForm<Empty>) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        ui.destroy(&id);
    }
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().append(header::SET_COOKIE, ui.clear_session_cookie().parse().expect("cookie"));
    r
}

