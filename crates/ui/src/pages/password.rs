//! パスワード変更: every logged-in user changes their own password here; after an
//! administrator's reset (a one-time password) it is the only page the session reaches until
//! a new password is set. The change is ledgered (`password-changed`, actor = the user), the
//! current password is checked (rate limited like the login), and the session id is renewed.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use mamori_auth::AdminRecord;
use mamori_server::AppState;
use serde::Deserialize;

use crate::layout::{self, csrf_field, notice};
use crate::session::{SESSION_COOKIE, UiState, cookie};
use crate::{Auth, CsrfForm, UiError};

/// The page's path (the one page a one-time-password session may open).
pub const PATH: &str = "/ui/password";

/// `GET /ui/password`.
pub async fn form(auth: Auth) -> Markup {
    let body = html! {
        @if auth.must_change_password {
            (notice("warn", auth.t("管理者がパスワードを再設定しました。一時パスワードを新しいパスワードに変更してください(変更するまで他の画面は使えません)。", "An administrator reset your password. Replace the one-time password with a new one (no other page opens until you do).")))
        }
        form.stack.card method="post" action=(PATH) #password-form {
            (csrf_field(&auth))
            label for="pw-current" { (auth.t("現在のパスワード(一時パスワード)", "Current (one-time) password")) }
            input #pw-current type="password" name="current" required autocomplete="current-password";
            label for="pw-new" { (auth.t("新しいパスワード(12文字以上)", "New password (12+ characters)")) }
            input #pw-new type="password" name="new" required minlength="12" autocomplete="new-password";
            label for="pw-confirm" { (auth.t("新しいパスワード(確認)", "New password (again)")) }
            input #pw-confirm type="password" name="confirm" required minlength="12" autocomplete="new-password";
            p { button #pw-submit type="submit" { (auth.t("変更する(台帳に記録)", "Change (ledgered)")) } }
        }
    };
    layout::page(&auth, ("パスワード変更", "Change password"), body)
}

/// The change-password form.
#[derive(Deserialize)]
pub struct Change {
    current: String,
    new: String,
    confirm: String,
}

/// `POST /ui/password`.
pub async fn change(State(st): State<AppState>, Extension(ui): Extension<Arc<UiState>>, headers: HeaderMap, CsrfForm(auth, f): CsrfForm<Change>) -> Result<Response, UiError> {
    let lang = auth.lang;
    if let Err(wait) = ui.login_allowed(&auth.name) {
        return Err(UiError::too_many(lang, wait));
    }
    if f.new != f.confirm {
        return Err(UiError::bad_request(lang, "新しいパスワードが確認欄と一致しません", "the new password and its confirmation differ"));
    }
    if f.new == f.current {
        return Err(UiError::bad_request(lang, "新しいパスワードは現在のものと別にしてください", "the new password must differ from the current one"));
    }
    let (a, name, current, new) = (st.auth.clone(), auth.name.clone(), f.current, f.new);
    let checked = tokio::task::spawn_blocking(move || {
        let ok = a.read().unwrap().authenticate_login(&name, &current).is_some();
        ok.then(|| mamori_auth::hash_password(&new))
    })
    .await
    .map_err(|e| UiError::internal(lang, e))?;
    let phc = match checked {
        None => {
            ui.login_failed(&auth.name);
            return Err(UiError::bad_request(lang, "現在のパスワードが違います", "the current password is wrong"));
        }
        Some(r) => r.map_err(|e| UiError::bad_request(lang, "パスワードが条件を満たしません", &e.to_string()))?,
    };
    ui.login_succeeded(&auth.name);
    let id = mamori_server::http::admin_apply(&st, &auth.name, AdminRecord::PasswordChanged { name: auth.name.clone(), password_phc: phc.clone() }).await.map_err(|e| UiError::api(lang, e))?;
    // A new session id for the new password; every other session of the account ends.
    if let Some(old) = cookie(&headers, SESSION_COOKIE) {
        ui.destroy(&old);
    }
    ui.end_sessions_of(&auth.name);
    let sid = ui.create(&auth.name, &phc);
    tracing::info!(target: "mamori_ui", ledger = id, "password changed");
    let mut r = Redirect::to("/ui/").into_response();
    r.headers_mut().append(header::SET_COOKIE, ui.session_cookie(&sid).parse().expect("cookie"));
    Ok(r)
}
