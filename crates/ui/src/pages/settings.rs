//! 設定: users and roles — for the administrator: add a user, change a role, disable and
//! re-enable, reset a password to a one-time password shown once, revoke API tokens; each
//! ledgered through the same function as the admin API (`mamori_server::http::admin_apply`) —
//! then sources and mappings, rules, witnesses (with the latest witnessed checkpoint),
//! retention, and the recent admin audit trail. Read-only where the server has no backend to
//! change it (config.toml is edited by hand and read at start).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use mamori_auth::{Action, AdminRecord, Role};
use mamori_server::AppState;
use serde::Deserialize;
use serde_json::Value;

use crate::layout::{self, csrf_field, facts, notice};
use crate::session::UiState;
use crate::{Auth, CsrfForm, Lang, UiError, dates, nav};

fn role_label(r: Role, lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => r.label_ja(),
        Lang::En => r.as_str(),
    }
}

/// `?ledger=`.
#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    ledger: Option<u64>,
}

struct UserRow {
    name: String,
    role: Role,
    disabled: bool,
    must_change: bool,
}

/// `GET /ui/settings`.
pub async fn page(State(st): State<AppState>, auth: Auth, Query(done): Query<Done>) -> Result<Markup, UiError> {
    auth.require_page(&nav::SETTINGS)?;
    let lang = auth.lang;
    let (users, tokens) = {
        let a = st.auth.read().unwrap();
        let users: Vec<UserRow> = a.users().map(|(n, u)| UserRow { name: n.to_owned(), role: u.role, disabled: u.disabled, must_change: u.must_change_password }).collect();
        let tokens: Vec<(String, String, Role, String, bool, Option<String>)> = a.tokens().map(|t| (t.record.id.clone(), t.record.name.clone(), t.record.role, mamori_event::format_ts(t.record.created), t.revoked, t.record.user.clone())).collect();
        (users, tokens)
    };
    let mappings = st.mappings.read().unwrap().list();
    let rules_dir = mamori_server::detection::rules_dir(&st.dir);
    let mut rule_files: Vec<String> = std::fs::read_dir(&rules_dir).map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    rule_files.sort();
    let audit = if auth.can(Action::ReadAdminAudit) {
        let q = mamori_store::Query { kind: Some("admin".into()), limit: Some(30), ..Default::default() };
        st.reader.lock().unwrap().search(&q).map(|p| p.events).unwrap_or_default()
    } else {
        Vec::new()
    };
    // Retention: the erasures recorded in the ledger (tombstones of `mamori erase`), newest first.
    let erasures = {
        let q = mamori_store::Query { kind: Some("tombstone".into()), limit: Some(20), ..Default::default() };
        st.reader.lock().unwrap().search(&q).map(|p| p.events).unwrap_or_default()
    };
    let h = &st.cfg.sources;
    let body = html! {
        @if let Some(l) = done.ledger { (notice("ok", &format!("{} {l}", auth.t("台帳に記録しました。台帳番号", "Recorded in the ledger, entry")))) }
        h2 #users { (auth.t("ユーザーとロール", "Users and roles")) }
        @let manage = auth.can(Action::ManageUsers);
        table #user-list {
            thead { tr {
                th scope="col" { (auth.t("ユーザー名", "User")) } th scope="col" { (auth.t("ロール", "Role")) } th scope="col" { (auth.t("状態", "State")) }
                @if manage { th scope="col" { (auth.t("ロール変更", "Change role")) } th scope="col" { (auth.t("操作", "Actions")) } }
            } }
            tbody { @for u in &users { tr data-user=(u.name) {
                td { (u.name) }
                td.role { (role_label(u.role, lang)) }
                td.state data-state=(if u.disabled { "disabled" } else { "active" }) {
                    @if u.disabled { (auth.t("無効", "disabled")) } @else { (auth.t("有効", "active")) }
                    @if u.must_change { " " span.muted { (auth.t("(次回ログイン時にパスワード変更)", "(must change password at next login)")) } }
                }
                @if manage {
                    td {
                        form.inline method="post" action="/ui/settings/users/role" {
                            (csrf_field(&auth))
                            input type="hidden" name="name" value=(u.name);
                            select name="role" aria-label=(format!("{} {}", u.name, auth.t("の新しいロール", "new role"))) {
                                @for r in Role::ALL { option value=(r.as_str()) selected[r == u.role] { (role_label(r, lang)) } }
                            }
                            " " button.role type="submit" { (auth.t("変更", "Change")) }
                        }
                    }
                    td {
                        @if u.disabled {
                            form.inline method="post" action="/ui/settings/users/enable" { (csrf_field(&auth)) input type="hidden" name="name" value=(u.name); button.enable type="submit" { (auth.t("再度有効にする", "Re-enable")) } }
                        } @else {
                            form.inline method="post" action="/ui/settings/users/disable" { (csrf_field(&auth)) input type="hidden" name="name" value=(u.name); button.disable type="submit" { (auth.t("無効にする", "Disable")) } }
                        }
                        " "
                        form.inline method="post" action="/ui/settings/users/reset" { (csrf_field(&auth)) input type="hidden" name="name" value=(u.name); button.reset type="submit" { (auth.t("パスワード再設定", "Reset password")) } }
                    }
                }
            } } }
        }
        @if manage {
            p.muted { (auth.t("無効にしたユーザーはログインできず、そのユーザーに発行したトークンも使えず、開いている画面のセッションは終了します。パスワード再設定では一時パスワードを一度だけ表示し、本人は次回ログイン時に変更します。", "A disabled user cannot log in, tokens issued to them stop working and their open sessions end. A password reset shows a one-time password once; the user changes it at the next login.")) }
        }
        @if auth.can(Action::ManageUsers) {
            form.stack.card method="post" action="/ui/settings/users" #add-user {
                (csrf_field(&auth))
                h3 { (auth.t("ユーザーを追加(台帳に記録)", "Add a user (ledgered)")) }
                div.row {
                    div { label for="nu-name" { (auth.t("ユーザー名", "User name")) } input #nu-name type="text" name="name" required autocomplete="off"; }
                    div { label for="nu-role" { (auth.t("ロール", "Role")) }
                        // Least privilege by default: 閲覧者 is preselected.
                        select #nu-role name="role" { @for r in Role::ALL { option value=(r.as_str()) selected[r == Role::Viewer] { (role_label(r, lang)) } } }
                    }
                    div { label for="nu-password" { (auth.t("初期パスワード(12文字以上)", "Initial password (12+ characters)")) } input #nu-password type="password" name="password" required minlength="12" autocomplete="new-password"; }
                }
                p { button type="submit" { (auth.t("追加", "Add")) } }
            }
        } @else {
            p.muted { (auth.t("ユーザーの追加・変更は管理者のみ行えます。", "Only the administrator adds or changes users.")) }
        }
        h3 { (auth.t("ロールと権限", "Roles and permissions")) }
        table #permissions {
            thead { tr { th scope="col" { (auth.t("権限", "Permission")) } @for r in Role::ALL { th scope="col" { (role_label(r, lang)) } } } }
            tbody { @for a in Action::ALL { tr { th scope="row" { code { (a.as_str()) } } @for r in Role::ALL { td { @if r.can(a) { "○" } @else { "—" } } } } } }
        }
        h2 { (auth.t("API トークン", "API tokens")) }
        @if tokens.is_empty() { p.muted { (auth.t("ありません。", "None.")) } }
        @else {
            table {
                thead { tr { th scope="col" { "ID" } th scope="col" { (auth.t("名前", "Name")) } th scope="col" { (auth.t("ロール", "Role")) } th scope="col" { (auth.t("発行先ユーザー", "Issued to")) } th scope="col" { (auth.t("作成", "Created")) } th scope="col" { (auth.t("状態", "State")) } @if auth.can(Action::ManageTokens) { th scope="col" { (auth.t("操作", "Action")) } } } }
                tbody #token-list { @for (id, n, r, c, rev, owner) in &tokens { tr data-token=(id) {
                    td { code { (id) } } td { (n) } td { (role_label(*r, lang)) } td { (owner.as_deref().unwrap_or("—")) } td { (dates::rfc3339(c, lang, auth.cal)) }
                    td.state data-state=(if *rev { "revoked" } else { "active" }) { @if *rev { (auth.t("失効", "revoked")) } @else { (auth.t("有効", "active")) } }
                    @if auth.can(Action::ManageTokens) { td { @if !*rev {
                        form.inline method="post" action="/ui/settings/tokens/revoke" { (csrf_field(&auth)) input type="hidden" name="id" value=(id); button.revoke type="submit" { (auth.t("失効させる", "Revoke")) } }
                    } } }
                } } }
            }
        }
        p.muted { (auth.t("トークンの発行は mamori token または API(POST /api/v1/admin/tokens)で行います。失効はこの画面でも行えます(台帳に記録)。", "Tokens are created with mamori token or the API (POST /api/v1/admin/tokens); they can be revoked here too (ledgered).")) }
        h2 { (auth.t("取込元", "Sources")) }
        (facts(&[
            (auth.t("途絶の監視", "Silence watch"), html! { @if h.enabled { (auth.t("有効", "on")) } @else { (auth.t("無効", "off")) } }),
            (auth.t("途絶とみなすまでの秒数(既定)", "Silent after (default, s)"), html! { (h.silent_after_seconds) }),
            (auth.t("個別の閾値", "Per-source thresholds"), html! { (h.expect.len()) }),
        ]))
        h3 { (auth.t("業務システム・Webhook のマッピング", "Business-system and webhook mappings")) }
        @if mappings.is_empty() { p.muted { (auth.t("ありません。", "None.")) } }
        @else { ul { @for m in &mappings { li { code { (m.get("name").and_then(Value::as_str).unwrap_or("")) } " " (m.get("source").and_then(|s| s.as_str()).unwrap_or("")) } } } }
        h2 { (auth.t("検知ルール", "Detection rules")) }
        p { (auth.t("自治体向けルールパック(組み込み)と、次のディレクトリのファイル: ", "The built-in municipal rule pack and the files in ")) code { (rules_dir.display().to_string()) } }
        @if rule_files.is_empty() { p.muted { (auth.t("追加のルールファイルはありません。", "No extra rule files.")) } }
        @else { ul { @for f in &rule_files { li { code { (f) } } } } }
        h2 { (auth.t("証人", "Witnesses")) }
        @if st.cfg.witnesses.is_empty() { p.muted { (auth.t("証人は設定されていません(config.toml の [[witnesses]])。", "No witness configured ([[witnesses]] in config.toml).")) } }
        @else { table { thead { tr { th scope="col" { "URL" } th scope="col" { (auth.t("検証鍵", "Verifier key")) } } } tbody { @for w in &st.cfg.witnesses { tr { td { (w.url) } td { code { (w.vkey) } } } } } } }
        p { (auth.t("この mamori の証人としての役割: ", "This mamori as a witness: ")) @if st.cfg.witness.enabled { (auth.t("有効", "on")) } @else { (auth.t("無効", "off")) } }
        h2 { (auth.t("保持期間", "Retention")) }
        p { (auth.t("保存期間を過ぎたイベントの個人データは mamori erase で消去します(台帳に記録され、台帳の検証は引き続き成立します)。自動消去の設定はありません。", "Personal data of events past their retention period is erased with mamori erase (ledgered; the ledger stays verifiable). There is no automatic erasure setting.")) }
        h3 { (auth.t("これまでの消去(台帳の記録、最近20件)", "Erasures so far (ledger records, latest 20)")) }
        @if erasures.is_empty() { p.muted #erasures data-count="0" { (auth.t("消去の記録はありません。", "No erasure recorded.")) } }
        @else {
            table #erasures data-count=(erasures.len()) {
                thead { tr { th scope="col" { (auth.t("台帳番号", "Ledger no.")) } th scope="col" { (auth.t("日時", "Time")) } th scope="col" { (auth.t("実行者", "By")) } th scope="col" { (auth.t("件数", "Events")) } th scope="col" { (auth.t("理由", "Reason")) } } }
                tbody { @for e in &erasures { tr {
                    td { (e.id) }
                    td { (e.doc["@timestamp"].as_str().map(|t| dates::rfc3339(t, lang, auth.cal)).unwrap_or_default()) }
                    td { (e.doc.pointer("/user/name").and_then(Value::as_str).unwrap_or("")) }
                    td.num { (e.doc.pointer("/mamori/erasure/ids").and_then(Value::as_array).map_or(0, Vec::len)) }
                    td { (e.doc.pointer("/mamori/erasure/reason").and_then(Value::as_str).unwrap_or("")) }
                } } }
            }
        }
        @if auth.can(Action::ReadAdminAudit) {
            h2 { (auth.t("管理操作の記録(最近30件)", "Admin audit trail (latest 30)")) }
            table #audit {
                thead { tr { th scope="col" { (auth.t("台帳番号", "Ledger no.")) } th scope="col" { (auth.t("日時", "Time")) } th scope="col" { (auth.t("実行者", "By")) } th scope="col" { (auth.t("操作", "Action")) } } }
                tbody { @for e in &audit { tr {
                    td { (e.id) }
                    td { (e.doc["@timestamp"].as_str().map(|t| dates::rfc3339(t, lang, auth.cal)).unwrap_or_default()) }
                    td { (e.doc.pointer("/user/name").and_then(Value::as_str).unwrap_or("")) }
                    td { (e.doc.pointer("/event/action").and_then(Value::as_str).unwrap_or("")) }
                } } }
            }
        }
    };
    Ok(layout::page(&auth, ("設定", "Settings"), body))
}

/// The new-user form.
#[derive(Deserialize)]
pub struct NewUser {
    name: String,
    role: String,
    password: String,
}

/// `POST /ui/settings/users`: creates a local account, ledgered before it takes effect.
pub async fn add_user(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<NewUser>) -> Result<Response, UiError> {
    auth.require(Action::ManageUsers)?;
    let lang = auth.lang;
    let role: Role = f.role.parse().map_err(|e: mamori_auth::Error| UiError::bad_request(lang, "ロールが不正です", &e.to_string()))?;
    let pw = f.password;
    let phc = tokio::task::spawn_blocking(move || mamori_auth::hash_password(&pw)).await.map_err(|e| UiError::internal(lang, e))?.map_err(|e| UiError::bad_request(lang, "パスワードが条件を満たしません", &e.to_string()))?;
    let rec = AdminRecord::UserAdded { name: f.name.trim().to_owned(), role, password_phc: phc };
    let id = mamori_server::http::admin_apply(&st, &auth.name, rec).await.map_err(|e| UiError::api(lang, e))?;
    Ok(done(id))
}

fn done(id: u64) -> Response {
    Redirect::to(&format!("/ui/settings?ledger={id}")).into_response()
}

/// A form naming one account.
#[derive(Deserialize)]
pub struct UserForm {
    name: String,
}

/// The role-change form.
#[derive(Deserialize)]
pub struct RoleForm {
    name: String,
    role: String,
}

/// `POST /ui/settings/users/role`: takes effect at the user's next request (roles are read
/// per request).
pub async fn change_role(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<RoleForm>) -> Result<Response, UiError> {
    auth.require(Action::ManageUsers)?;
    let lang = auth.lang;
    let role: Role = f.role.parse().map_err(|e: mamori_auth::Error| UiError::bad_request(lang, "ロールが不正です", &e.to_string()))?;
    let id = mamori_server::http::admin_apply(&st, &auth.name, AdminRecord::UserRoleChanged { name: f.name, role }).await.map_err(|e| UiError::api(lang, e))?;
    Ok(done(id))
}

/// `POST /ui/settings/users/disable`: no more logins, the user's tokens stop working, and
/// the user's sessions end now.
pub async fn disable(State(st): State<AppState>, Extension(ui): Extension<Arc<UiState>>, CsrfForm(auth, f): CsrfForm<UserForm>) -> Result<Response, UiError> {
    auth.require(Action::ManageUsers)?;
    let id = mamori_server::http::admin_apply(&st, &auth.name, AdminRecord::UserDisabled { name: f.name.clone() }).await.map_err(|e| UiError::api(auth.lang, e))?;
    ui.end_sessions_of(&f.name);
    Ok(done(id))
}

/// `POST /ui/settings/users/enable`.
pub async fn enable(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<UserForm>) -> Result<Response, UiError> {
    auth.require(Action::ManageUsers)?;
    let id = mamori_server::http::admin_apply(&st, &auth.name, AdminRecord::UserEnabled { name: f.name }).await.map_err(|e| UiError::api(auth.lang, e))?;
    Ok(done(id))
}

/// `POST /ui/settings/users/reset`: a one-time password, shown once on the answer page (never
/// in a URL, never stored); the user's sessions end and the next login must change it.
pub async fn reset(State(st): State<AppState>, Extension(ui): Extension<Arc<UiState>>, CsrfForm(auth, f): CsrfForm<UserForm>) -> Result<Markup, UiError> {
    auth.require(Action::ManageUsers)?;
    let (otp, id) = mamori_server::http::reset_password(&st, &auth.name, &f.name).await.map_err(|e| UiError::api(auth.lang, e))?;
    ui.end_sessions_of(&f.name);
    let body = html! {
        (notice("ok", &format!("{} {id}", auth.t("台帳に記録しました。台帳番号", "Recorded in the ledger, entry"))))
        (facts(&[
            (auth.t("ユーザー名", "User"), html! { span #otp-user { (f.name) } }),
            (auth.t("一時パスワード", "One-time password"), html! { code #otp { (otp) } }),
        ]))
        p { (auth.t("この一時パスワードはこの画面に一度だけ表示され、保存されません。本人に安全な方法で伝えてください。本人は次回ログイン時に新しいパスワードに変更します(一時パスワードでは API は使えません)。", "This one-time password is shown only on this page and is not stored. Hand it to the user securely; they choose a new password at their next login (the one-time password does not work for the API).")) }
        p { a href="/ui/settings" { (auth.t("設定へ戻る", "Back to settings")) } }
    };
    Ok(layout::page(&auth, ("パスワードを再設定しました", "Password reset"), body))
}

/// The token-revocation form.
#[derive(Deserialize)]
pub struct TokenForm {
    id: String,
}

/// `POST /ui/settings/tokens/revoke`.
pub async fn revoke_token(State(st): State<AppState>, CsrfForm(auth, f): CsrfForm<TokenForm>) -> Result<Response, UiError> {
    auth.require(Action::ManageTokens)?;
    let id = mamori_server::http::admin_apply(&st, &auth.name, AdminRecord::TokenRevoked { id: f.id }).await.map_err(|e| UiError::api(auth.lang, e))?;
    Ok(done(id))
}
