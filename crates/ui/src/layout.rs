//! The page frame (skip link, header with the user, language and calendar switches, menu,
//! main, footer) and small building blocks every page uses: the CSRF field, a POST button
//! (for links that carry personal data), badges, tables of key/value pairs.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::dates::Calendar;
use crate::nav::NAV;
use crate::{Auth, Lang};

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="no-referrer";
            title { (title) " — mamori" }
            link rel="stylesheet" href="/ui/assets/style.css";
            link rel="icon" href="data:,";
            script src="/ui/assets/app.js" defer {}
            @if lang == Lang::En { meta name="description" content="mamori audit trail"; }
        }
    }
}

/// The hidden `_csrf` field of the caller's session; put it in every POST form.
pub fn csrf_field(auth: &Auth) -> Markup {
    html! { input type="hidden" name="_csrf" value=(auth.csrf); }
}

/// A one-button POST form: `fields` travel in the body, not the URL (use it to link to a
/// person, or for any action). `class` styles the button (`link` looks like a link).
pub fn post_button(auth: &Auth, action: &str, label: &str, fields: &[(&str, &str)], class: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(auth))
            @for (k, v) in fields { input type="hidden" name=(k) value=(v); }
            button type="submit" class=(class) { (label) }
        }
    }
}

/// A verified / not verified badge.
pub fn badge(ok: bool, ja_ok: &str, en_ok: &str, ja_ng: &str, en_ng: &str, lang: Lang) -> Markup {
    html! {
        @if ok { span.badge.ok role="status" { "✔ " (lang.t(ja_ok, en_ok)) } }
        @else { span.badge.ng role="status" { "✘ " (lang.t(ja_ng, en_ng)) } }
    }
}

/// A notice box (`info`, `warn`, `ok`).
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { p class={"notice " (kind)} role="status" { (text) } }
}

/// A definition table of label/value rows.
pub fn facts(rows: &[(&str, Markup)]) -> Markup {
    html! {
        table.facts { tbody { @for (k, v) in rows { tr { th scope="row" { (k) } td { (v) } } } } }
    }
}

fn switch_link(to: &str, kind: &str, back: &str, label: &str, current: bool) -> Markup {
    let href = format!("/ui/{kind}?to={to}&back={back}");
    html! {
        @if current { span.current aria-current="true" { (label) } }
        @else { a href=(href) { (label) } }
    }
}

/// The whole page for a logged-in caller: `title` is (Japanese, English); `body` goes into
/// `<main>` under the `<h1>`.
pub fn page(auth: &Auth, title: (&str, &str), body: Markup) -> Markup {
    let lang = auth.lang;
    let t = lang.t(title.0, title.1);
    let back = if auth.path.starts_with("/ui/") { auth.path.as_str() } else { "/ui/" };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, t))
            body {
                a.skip href="#main" { (lang.t("本文へ移動", "Skip to content")) }
                header.top {
                    a.brand href="/ui/" { "mamori" span.brand-ja { "守り" } }
                    div.user {
                        span { (lang.t("ログイン中: ", "Signed in: ")) strong { (auth.name) } " (" (if lang == Lang::Ja { auth.role.label_ja() } else { auth.role.as_str() }) ")" }
                        span.switch aria-label=(lang.t("表示言語", "Language")) {
                            (switch_link("ja", "lang", back, "日本語", lang == Lang::Ja)) " | " (switch_link("en", "lang", back, "English", lang == Lang::En))
                        }
                        @if lang == Lang::Ja {
                            span.switch aria-label="暦" {
                                (switch_link("seireki", "era", back, "西暦", auth.cal == Calendar::Western)) " | " (switch_link("wareki", "era", back, "和暦", auth.cal == Calendar::Era))
                            }
                        }
                        a href="/ui/password" { (lang.t("パスワード変更", "Change password")) }
                        form.inline method="post" action="/ui/logout" {
                            (csrf_field(auth))
                            button type="submit" class="link" { (lang.t("ログアウト", "Log out")) }
                        }
                    }
                }
                nav.menu aria-label=(lang.t("メニュー", "Menu")) {
                    ul {
                        @for item in NAV {
                            @if auth.can_any(item.any_of) {
                                @let active = auth.path == item.path || (item.path != "/ui/" && auth.path.starts_with(item.path));
                                li { a href=(item.path) aria-current=[active.then_some("page")] { (lang.t(item.ja, item.en)) } }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (t) }
                    (body)
                }
                footer.bottom {
                    (lang.t("mamori — 改ざん検知可能な監査証跡。記録済みのイベントは誰も編集・削除できません。", "mamori — tamper-evident audit trail. Recorded events cannot be edited or deleted by anyone."))
                }
            }
        }
    }
}

/// A page without a session (login, errors before login).
pub fn bare_page(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title))
            body.bare {
                a.skip href="#main" { (lang.t("本文へ移動", "Skip to content")) }
                main #main tabindex="-1" {
                    p.brand { "mamori" span.brand-ja { "守り" } }
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// An error page: the Japanese message with the English beside it (or English only).
pub fn error_page(lang: Lang, status: StatusCode, ja: &str, en: &str) -> Markup {
    let title = match (lang, status.as_u16()) {
        (Lang::Ja, 403) => "権限がありません",
        (Lang::Ja, 404) => "見つかりません",
        (Lang::Ja, 429) => "しばらくお待ちください",
        (Lang::Ja, 400) | (Lang::Ja, 409) => "実行できませんでした",
        (Lang::Ja, _) => "エラー",
        (Lang::En, 403) => "Forbidden",
        (Lang::En, 404) => "Not found",
        (Lang::En, 429) => "Please wait",
        (Lang::En, _) => "Error",
    };
    bare_page(
        lang,
        title,
        html! {
            div.error role="alert" data-status=(status.as_u16()) {
                @if lang == Lang::Ja { p { (ja) } p.en lang="en" { (en) } } @else { p { (en) } }
            }
            p { a href="/ui/" { (lang.t("ダッシュボードへ戻る", "Back to the dashboard")) } " · " a href="/ui/login" { (lang.t("ログイン画面", "Login page")) } }
        },
    )
}

/// Raw SVG or other trusted markup produced by this crate.
pub fn trusted(s: String) -> Markup {
    PreEscaped(s)
}
