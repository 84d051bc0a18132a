//! The web UI in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver). Logs in per role, triages an alert and checks its server-verified proof
//! badge and the ledger entry, searches events and a person's timeline with the department
//! history, signs the access review, is refused a page the role may not see, switches to
//! English; the administrator adds a user, changes a role (it takes effect), disables an
//! account (its login is refused) and resets a password (changed at the next login); and it
//! takes a screenshot of every page into docs/screenshots/.

mod common;
#[path = "common/ui_fixture.rs"]
mod ui_fixture;
#[path = "common/webdriver.rs"]
mod webdriver;

use serde_json::Value;
use ui_fixture::{city, password, screenshots_dir};
use webdriver::Browser;

#[test]
fn officer_auditor_viewer_admin_in_chromium() {
    let c = city();
    let base = c.srv.http.clone();
    let shots = screenshots_dir();
    let b = Browser::start();

    // Login page (Japanese by default), a wrong password, then the officer.
    b.goto(&format!("{base}/ui/login"));
    assert_eq!(b.text("h1"), "ログイン");
    assert_eq!(b.attr("html", "lang"), "ja");
    b.screenshot(&shots, "login");
    b.login(&base, "tanto", "wrong-password-123");
    assert!(b.text("#login-error").contains("ユーザー名またはパスワードが違います"), "{}", b.source());
    b.login(&base, "tanto", password("tanto"));
    assert_eq!(b.text("main h1"), "ダッシュボード");
    assert!(b.text("header").contains("情報セキュリティ担当"));
    // The keyboard path: the first Tab lands on the skip link.
    b.keys("\u{E004}");
    assert_eq!(b.active_attr("class"), "skip");
    let open_high: u64 = b.text("[data-severity=high]").parse().unwrap();
    let open_total: u64 = ["critical", "high", "medium", "low"].iter().map(|s| b.text(&format!("[data-severity={s}]")).parse::<u64>().unwrap()).sum();
    assert!(open_total >= 1, "the leaver's alert is open");
    assert!(b.exists("figure.chart svg rect"), "charts drawn");
    assert!(b.text("#h-ledger").contains("台帳"));
    b.screenshot(&shots, "dashboard");

    // Alerts list → the leaver's alert.
    b.click_nav("nav.menu a[href='/ui/alerts']");
    assert!(b.text("#alerts").contains("鈴木 一郎"), "{}", b.source());
    b.screenshot(&shots, "alerts");
    b.click_nav(&format!("tr[data-alert='{}'] a", c.alert_id));
    assert_eq!(b.attr("#proof-badge", "data-verified"), "true", "{}", b.source());
    assert!(b.text("#proof-badge").contains("検証しました"));
    assert!(b.text("#evidence").contains("/住基/台帳.csv"));
    assert_eq!(b.attr("#alert-state", "data-state"), "new");
    assert!(!b.current_url().contains("suzuki"), "no personal data in the URL");
    b.screenshot(&shots, "alert-detail");

    // Triage it: ledgered, shown, and visible through the API too.
    b.fill("#triage-reason", "退職日以降の住基台帳の閲覧。人事課に照会する。");
    b.fill("#triage-assignee", "tanto");
    b.click_nav("#triage-submit");
    assert_eq!(b.attr("#alert-state", "data-state"), "triaged", "{}", b.source());
    assert!(b.text("#history").contains("退職日以降の住基台帳の閲覧"));
    assert_eq!(b.attr("#proof-badge", "data-verified"), "true");
    b.screenshot(&shots, "alert-triaged");
    let http = reqwest::blocking::Client::new();
    let v: Value = http.get(format!("{base}/api/v1/alerts/{}", c.alert_id)).basic_auth("tanto", Some(password("tanto"))).send().unwrap().json().unwrap();
    assert_eq!(v["state"], "triaged", "{v}");
    assert_eq!(v["history"][0]["actor"], "tanto");
    let v: Value = http.get(format!("{base}/api/v1/admin/audit?action=alert-triaged")).basic_auth("kansa", Some(password("kansa"))).send().unwrap().json().unwrap();
    assert_eq!(v["events"].as_array().map_or(0, |a| a.len()), 1, "one ledgered triage: {v}");
    // Link to the case: none yet, the officer opens one from the alert (ledgered by the case
    // page), and the alert then links to it.
    assert!(b.text("#alert-cases").contains("なし"));
    b.click_nav("#alert-cases form.inline button");
    assert!(b.current_url().contains("/ui/cases/"), "{}", b.current_url());
    b.goto(&format!("{base}/ui/alerts/{}", c.alert_id));
    assert!(b.exists("#alert-cases a[href^='/ui/cases/']"), "{}", b.source());
    b.goto(&format!("{base}/ui/"));
    let open_high_after: u64 = b.text("[data-severity=high]").parse().unwrap();
    assert_eq!(open_high_after, open_high, "triaged is still open");

    // Event search (POST: the account is not in the URL) and the person's timeline.
    b.click_nav("nav.menu a[href='/ui/events']");
    b.fill("#f-user", "suzuki.i");
    b.click_nav("#search-submit");
    assert!(b.text("#results").contains("PC-SHIMIN-07"), "{}", b.source());
    assert!(!b.current_url().contains("suzuki"));
    b.screenshot(&shots, "events-search");
    b.click_nav("#results form.inline button");
    assert!(b.text("#dept-history").contains("市民課"), "{}", b.source());
    assert!(b.text("#dept-history").contains("退職"));
    assert!(b.text("#results").contains("/住基/台帳.csv"));
    b.screenshot(&shots, "events-person");

    // Staff and departments; one person's history (POST).
    b.click_nav("nav.menu a[href='/ui/people']");
    assert!(b.text("#departments").contains("税務課"));
    b.screenshot(&shots, "people");
    b.click_nav("#roster tr:nth-child(2) form.inline button");
    assert!(b.text("#person-history").contains("税務課"), "{}", b.source());
    b.screenshot(&shots, "person-history");

    // Access review and its ledgered sign-off by the officer.
    b.click_nav("nav.menu a[href='/ui/review']");
    // No LDAP snapshot or grants in this city: the count is shown (a number), maybe zero.
    let _findings: u64 = b.text("#finding-count").parse().unwrap();
    b.fill("#summary", "退職者アカウント1件を確認。削除を依頼済み。");
    b.click_nav("#signoff-submit");
    assert!(b.text("#signoffs").contains("退職者アカウント1件を確認"), "{}", b.source());
    assert!(b.text("#signoffs").contains("tanto"));
    b.screenshot(&shots, "review");

    // USB register.
    b.click_nav("nav.menu a[href='/ui/usb']");
    assert_eq!(b.text("#usb-count"), "2");
    assert!(b.text("#usb").contains("紛失"));
    b.screenshot(&shots, "usb");

    // The officer has no settings page: not in the menu, and refused when opened directly.
    assert!(!b.exists("nav.menu a[href='/ui/settings']"));
    b.goto(&format!("{base}/ui/settings"));
    assert_eq!(b.text("h1"), "権限がありません");
    assert_eq!(b.attr(".error", "data-status"), "403");
    b.screenshot(&shots, "forbidden");

    // English switch (and back).
    b.goto(&format!("{base}/ui/"));
    b.click_nav("a[href^='/ui/lang?to=en']");
    assert_eq!(b.text("main h1"), "Dashboard");
    assert_eq!(b.attr("html", "lang"), "en");
    b.screenshot(&shots, "dashboard-en");
    b.click_nav("a[href^='/ui/lang?to=ja']");
    assert_eq!(b.text("main h1"), "ダッシュボード");
    // 和暦.
    b.click_nav("a[href^='/ui/era?to=wareki']");
    assert!(b.text("main p.muted").contains("令和"), "{}", b.text("main p.muted"));
    b.click_nav("a[href^='/ui/era?to=seireki']");

    // Logout ends the session: the dashboard sends back to the login page.
    b.click_nav("header form.inline button");
    assert_eq!(b.text("h1"), "ログイン");
    b.goto(&format!("{base}/ui/alerts"));
    assert_eq!(b.text("h1"), "ログイン");

    // The viewer sees the alert and its badge, but no triage form, and no settings.
    b.login(&base, "etsuran", password("etsuran"));
    assert!(b.text("header").contains("閲覧者"));
    b.goto(&format!("{base}/ui/alerts/{}", c.alert_id));
    assert_eq!(b.attr("#proof-badge", "data-verified"), "true");
    assert!(!b.exists("#triage-form") && !b.exists("#close-form"), "viewer cannot triage");
    b.goto(&format!("{base}/ui/settings"));
    assert_eq!(b.attr(".error", "data-status"), "403");

    // The auditor reads settings (permissions, admin audit trail with the triage) but cannot add users.
    b.login(&base, "kansa", password("kansa"));
    b.click_nav("nav.menu a[href='/ui/settings']");
    assert!(b.text("#audit").contains("alert-triaged"), "{}", b.source());
    assert!(!b.exists("#add-user"));

    // The administrator adds a user through the form (ledgered), but sees no alerts.
    b.login(&base, "kanri", password("kanri"));
    assert!(!b.exists("nav.menu a[href='/ui/alerts']"));
    b.click_nav("nav.menu a[href='/ui/settings']");
    b.fill("#nu-name", "shinki.t");
    b.fill("#nu-password", "shinki-password-001");
    b.click_nav("#add-user button");
    assert!(b.text("#user-list").contains("shinki.t"), "{}", b.source());
    // Least privilege by default: the new account is a viewer.
    assert_eq!(b.text("tr[data-user='shinki.t'] td.role"), "閲覧者");
    b.goto(&format!("{base}/ui/alerts"));
    assert_eq!(b.attr(".error", "data-status"), "403");

    // A role change takes effect: the viewer becomes an officer and may triage.
    b.goto(&format!("{base}/ui/settings"));
    b.click("tr[data-user='etsuran'] select[name=role] option[value='officer']");
    b.click_nav("tr[data-user='etsuran'] button.role");
    assert_eq!(b.text("tr[data-user='etsuran'] td.role"), "情報セキュリティ担当", "{}", b.source());
    b.login(&base, "etsuran", password("etsuran"));
    assert!(b.text("header").contains("情報セキュリティ担当"));
    b.goto(&format!("{base}/ui/alerts/{}", c.alert_id));
    assert!(b.exists("#close-form") || b.exists("#triage-form"), "the new role's actions are offered: {}", b.source());

    // The administrator disables that account: its login is refused from then on.
    b.login(&base, "kanri", password("kanri"));
    b.goto(&format!("{base}/ui/settings"));
    b.click_nav("tr[data-user='etsuran'] button.disable");
    assert_eq!(b.attr("tr[data-user='etsuran'] td.state", "data-state"), "disabled", "{}", b.source());
    b.screenshot(&shots, "settings");
    b.login(&base, "etsuran", password("etsuran"));
    assert!(b.text("#login-error").contains("ユーザー名またはパスワードが違います"), "{}", b.source());
    assert_eq!(b.text("h1"), "ログイン");

    // A password reset: the one-time password is shown once; at the next login the user
    // must choose a new one before any other page.
    b.login(&base, "kanri", password("kanri"));
    b.goto(&format!("{base}/ui/settings"));
    b.click_nav("tr[data-user='shinki.t'] button.reset");
    let otp = b.text("#otp");
    assert_eq!(otp.len(), 19, "{}", b.source());
    b.screenshot(&shots, "password-reset");
    b.login(&base, "shinki.t", "shinki-password-001");
    assert!(b.exists("#login-error"), "the old password no longer works");
    b.login(&base, "shinki.t", &otp);
    assert!(b.current_url().ends_with("/ui/password"), "{}", b.current_url());
    b.goto(&format!("{base}/ui/"));
    assert!(b.current_url().ends_with("/ui/password"), "no other page before the change");
    b.fill("#pw-current", &otp);
    b.fill("#pw-new", "shinki-password-002");
    b.fill("#pw-confirm", "shinki-password-002");
    b.screenshot(&shots, "password-change");
    b.click_nav("#pw-submit");
    assert_eq!(b.text("main h1"), "ダッシュボード", "{}", b.source());
    b.login(&base, "shinki.t", "shinki-password-002");
    assert_eq!(b.text("main h1"), "ダッシュボード");

    // An ingest-only account has no pages.
    b.login(&base, "torikomi", password("torikomi"));
    assert!(b.text("#login-error").contains("画面を利用できません"));
}
