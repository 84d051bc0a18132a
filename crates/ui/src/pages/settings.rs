//! 設定: users and roles (with user creation for the administrator, ledgered like
//! `POST /api/v1/admin/users`), API tokens, sources and mappings, rules, witnesses, retention,
//! and the recent admin audit trail. Read-only where the server has no backend to change it
//! (config.toml is edited by hand and read at start).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use mamori_auth::{Action, AdminRecord, Role};
use mamori_server::AppState;
use serde::Deserialize;
use serde_json::Value;

use crate::layout::{self, csrf_field, facts, notice};
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

/// `GET /ui/settings`.
pub async fn page(State(st): State<AppState>, auth: Auth, Query(done): Query<Done>) -> Result<Markup, UiError> {
    auth.require_page(&nav::SETTINGS)?;
    let lang = auth.lang;
    let (users, tokens) = {
        let a = st.auth.read().unwrap();
        let users: Vec<(String, Role, bool)> = a.users().map(|(n, u)| (n.to_owned(), u.role, u.disabled)).collect();
        let tokens: Vec<(String, String, Role, String, bool)> = a.tokens().map(|t| (t.record.id.clone(), t.record.name.clone(), t.record.role, mamori_event::format_ts(t.record.created), t.revoked)).collect();
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
    let h = &st.cfg.sources;
    let body = html! {
        @if let Some(l) = done.ledger { (notice("ok", &format!("{} {l}", auth.t("台帳に記録しました。台帳番号", "Recorded in the ledger, entry")))) }
        h2 #users { (auth.t("ユーザーとロール", "Users and roles")) }
        table #user-list {
            thead { tr { th scope="col" { (auth.t("ユーザー名", "User")) } th scope="col" { (auth.t("ロール", "Role")) } th scope="col" { (auth.t("状態", "State")) } } }
            tbody { @for (n, r, dis) in &users { tr { td { (n) } td { (role_label(*r, lang)) } td { @if *dis { (auth.t("無効", "disabled")) } @else { (auth.t("有効", "active")) } } } } }
        }
        @if auth.can(Action::ManageUsers) {
            form.stack.card method="post" action="/ui/settings/users" #add-user {
                (csrf_field(&auth))
                h3 { (auth.t("ユーザーを追加(台帳に記録)", "Add a user (ledgered)")) }
                div.row {
                    div { label for="nu-name" { (auth.t("ユーザー名", "User name")) } input #nu-name type="text" name="name" required autocomplete="off"; }
                    div { label for="nu-role" { (auth.t("ロール", "Role")) }
                        select #nu-role name="role" { @for r in Role::ALL { option value=(r.as_str()) { (role_label(r, lang)) } } }
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
                thead { tr { th scope="col" { "ID" } th scope="col" { (auth.t("名前", "Name")) } th scope="col" { (auth.t("ロール", "Role")) } th scope="col" { (auth.t("作成", "Created")) } th scope="col" { (auth.t("状態", "State")) } } }
                tbody { @for (id, n, r, c, rev) in &tokens { tr { td { code { (id) } } td { (n) } td { (role_label(*r, lang)) } td { (dates::rfc3339(c, lang, auth.cal)) } td { @if *rev { (auth.t("失効", "revoked")) } @else { (auth.t("有効", "active")) } } } } }
            }
        }
        p.muted { (auth.t("トークンの発行・失効は mamori token または API で行います(台帳に記録)。", "Tokens are created and revoked with mamori token or the API (ledgered).")) }
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
    st.auth.read().unwrap().check(&rec).map_err(|e| UiError::refused(lang, e))?;
    let ledger = st.ledger.clone();
    let actor = auth.name.clone();
    let rec2 = rec.clone();
    let id = tokio::task::spawn_blocking(move || mamori_server::datadir::append_admin(&ledger, &actor, &rec2))
        .await
        .map_err(|e| UiError::internal(lang, e))?
        .map_err(|e| UiError::internal(lang, e))?;
    st.auth.write().unwrap().apply(&rec).map_err(|e| UiError::internal(lang, e))?;
    Ok(Redirect::to(&format!("/ui/settings?ledger={id}")).into_response())
}
