//! Errors shown as pages: Japanese first with the English beside it, the right HTTP status,
//! and a redirect to the login page when there is no session.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_auth::{Action, Role};

use crate::Lang;

/// An error a UI handler returns.
#[derive(Debug)]
pub struct UiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Japanese message.
    pub ja: String,
    /// English message.
    pub en: String,
    lang: Lang,
    /// Redirect instead of an error page (no session: the login page).
    redirect: Option<&'static str>,
    retry_after: Option<u64>,
}

impl UiError {
    /// A new error page.
    pub fn new(status: StatusCode, lang: Lang, ja: impl Into<String>, en: impl Into<String>) -> UiError {
        UiError { status, ja: ja.into(), en: en.into(), lang, redirect: None, retry_after: None }
    }
    /// No (live) session: redirect to the login page.
    pub fn login() -> UiError {
        UiError { redirect: Some("/ui/login"), ..UiError::new(StatusCode::SEE_OTHER, Lang::Ja, "", "") }
    }
    /// The session was opened with a one-time password: to the change-password page.
    pub fn change_password() -> UiError {
        UiError { redirect: Some(crate::pages::password::PATH), ..UiError::new(StatusCode::SEE_OTHER, Lang::Ja, "", "") }
    }
    /// An error of mamori-server's API functions (status and both messages kept).
    pub fn api(lang: Lang, e: mamori_server::http::ApiError) -> UiError {
        UiError::new(e.status(), lang, e.message_ja(), e.message_en())
    }
    /// 403: the role may not do this.
    pub fn forbidden(lang: Lang, role: Role, actions: &[Action]) -> UiError {
        let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
        let names = names.join(" / ");
        UiError::new(
            StatusCode::FORBIDDEN,
            lang,
            format!("この画面・操作の権限がありません(ロール「{}」には {names} の権限がありません)。", role.label_ja()),
            format!("You may not open this page or do this (role {} lacks {names}).", role.as_str()),
        )
    }
    /// 403: the CSRF token did not match.
    pub fn csrf(lang: Lang) -> UiError {
        UiError::new(
            StatusCode::FORBIDDEN,
            lang,
            "フォームの有効期限が切れたか、不正な送信です。画面を開き直してからもう一度操作してください。",
            "The form has expired or was not sent from this site (CSRF token mismatch). Reload the page and try again.",
        )
    }
    /// 400 with a reason.
    pub fn bad_request(lang: Lang, ja: &str, en: &str) -> UiError {
        UiError::new(StatusCode::BAD_REQUEST, lang, format!("{ja}: {en}"), en.to_owned())
    }
    /// 404.
    pub fn not_found(lang: Lang, ja: impl Into<String>, en: impl Into<String>) -> UiError {
        UiError::new(StatusCode::NOT_FOUND, lang, ja, en)
    }
    /// 409: refused by the state (e.g. an alert already closed).
    pub fn refused(lang: Lang, why: impl std::fmt::Display) -> UiError {
        UiError::new(StatusCode::CONFLICT, lang, format!("実行できません: {why}"), format!("refused: {why}"))
    }
    /// 500.
    pub fn internal(lang: Lang, why: impl std::fmt::Display) -> UiError {
        UiError::new(StatusCode::INTERNAL_SERVER_ERROR, lang, format!("内部エラーが発生しました: {why}"), format!("internal error: {why}"))
    }
    /// 429 with the seconds to wait.
    pub fn too_many(lang: Lang, seconds: u64) -> UiError {
        let mut e = UiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            format!("ログインの失敗が続いたため、しばらくログインできません。約{}分後にもう一度お試しください。", seconds.div_ceil(60)),
            format!("Too many failed logins; try again in about {} minute(s).", seconds.div_ceil(60)),
        );
        e.retry_after = Some(seconds);
        e
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        if let Some(to) = self.redirect {
            return Redirect::to(to).into_response();
        }
        let body = crate::layout::error_page(self.lang, self.status, &self.ja, &self.en);
        let mut r = (self.status, body).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, s.into());
        }
        r
    }
}
