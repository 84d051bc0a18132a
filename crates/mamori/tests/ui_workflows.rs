//! The officers' workflows in a real browser (Debian's headless Chromium over WebDriver, the
//! ui helper's harness): a takeout request approved by the supervisor and refused when the
//! applicant tries to approve it; the monthly log review commented and signed by the auditor
//! (and not offered to the officer); a case opened from the leaver's alert, the PPC 確報 draft
//! with its 60-day deadline and its PDF read back with `pdftotext`. Screenshots of each page go
//! to docs/screenshots/.

mod case_support;
mod common;
#[path = "common/ui_fixture.rs"]
mod ui_fixture;
#[path = "common/webdriver.rs"]
mod webdriver;

use case_support::{data_cmd, pdftotext, retirement_alert, setup};
use common::{Server, run_ok};
use serde_json::json;
use ui_fixture::{UiClient, screenshots_dir};
use webdriver::Browser;

/// (user, role, password): the 課長, a 主事 of the same 課 (the applicant), the auditor, a viewer.
const USERS: &[(&str, &str, &str)] = &[
    ("kacho.s", "officer", "kacho-password-0001"),
    ("tanaka.j", "officer", "tanaka-password-001"),
    ("kansa", "auditor", "kansa-password-0001"),
    ("etsuran", "viewer", "etsuran-password-01"),
];

fn pw(user: &str) -> &'static str {
    USERS.iter().find(|u| u.0 == user).unwrap().2
}

/// Runs `f` (a click that submits a form) and waits until the browser is on another URL.
fn navigates(b: &Browser, f: impl FnOnce()) {
    let old = b.current_url();
    f();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while b.current_url() == old {
        assert!(std::time::Instant::now() < deadline, "still on {old}:\n{}", b.source());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn login(b: &Browser, base: &str, user: &str) {
    navigates(b, || b.login(base, user, pw(user)));
    b.find("nav.menu");
}

#[test]
fn takeout_review_case_and_ppc_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let data = setup(tmp.path());
    let alert = retirement_alert(&data);
    run_ok(&mut data_cmd(
        &data,
        &[
            "vendor",
            "add",
            "--id",
            "V-2018-01",
            "--vendor",
            "株式会社みらい印刷",
            "--subject",
            "納税通知書の印刷・封入",
            "--from",
            "2018-04-01",
            "--until",
            "2018-11-30",
        ],
    ));
    let admin = run_ok(&mut data_cmd(&data, &["token", "--name", "setup-admin", "--role", "admin"]))
        .trim()
        .to_owned();
    let srv = Server::start(&data, &["--listen", "127.0.0.1:0"]);
    let base = srv.http.clone();
    let http = reqwest::blocking::Client::new();
    for (name, role, password) in USERS {
        let r = http
            .post(format!("{base}/api/v1/admin/users"))
            .bearer_auth(&admin)
            .json(&json!({"name": name, "role": role, "password": password}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    }
    let shots = screenshots_dir();
    let b = Browser::start();
    let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap()).date_naive();
    let day = |n: i64| (today + chrono::Duration::days(n)).format("%Y-%m-%d").to_string();

    // 1. The applicant files a takeout request and cannot approve it.
    login(&b, &base, "tanaka.j");
    b.click("nav.menu a[href='/ui/takeouts']");
    assert!(b.text("#whoami").contains("田中 次郎"), "{}", b.source());
    b.fill("#id", "T-UI-1");
    b.fill("#description", "転入者一覧(氏名・住所)");
    b.fill("#records", "35");
    b.fill("#purpose", "県への報告");
    b.fill("#medium", "mail:kikaku@pref.example.lg.jp");
    b.fill("#destination", "県企画課");
    // Date inputs take the value typed in the locale's order; set them through the field text.
    b.fill("#from", &day(0));
    b.fill("#until", &day(3));
    navigates(&b, || b.click("#request-submit"));
    if !b.exists("#my-requests") {
        panic!("request not filed: {}", b.source());
    }
    assert!(b.text("#my-requests").contains("T-UI-1"), "{}", b.source());
    assert!(b.text("#waiting tr[data-id='T-UI-1']").contains("申請者本人は承認できません"), "{}", b.source());
    b.screenshot(&shots, "takeouts-applicant");
    navigates(&b, || b.click("#waiting tr[data-id='T-UI-1'] button.approve"));
    let refused = b.text("body");
    assert!(
        refused.contains("申請者本人は承認できません"),
        "the applicant's approval is refused server-side: {refused}"
    );

    // 2. The 課長 approves it.
    login(&b, &base, "kacho.s");
    b.goto(&format!("{base}/ui/takeouts"));
    assert!(b.text("#waiting tr[data-id='T-UI-1']").contains("承認できます"), "{}", b.source());
    navigates(&b, || b.click("#waiting tr[data-id='T-UI-1'] button.approve"));
    assert!(b.text("main").contains("台帳に記録しました"), "{}", b.source());
    assert_eq!(b.text("#all-requests tr[data-id='T-UI-1'] td.state"), "承認");
    assert!(b.text("#all-requests tr[data-id='T-UI-1']").contains("市民 課長"));
    b.screenshot(&shots, "takeouts");
    let changes = run_ok(&mut data_cmd(&data, &["search", "--json", "--kind", "admin", "--action", "takeout-changed"]));
    assert!(
        changes.contains("\"approver\":\"1001\"") && changes.contains("kacho.s"),
        "the approval is ledgered as the 課長 by his account: {changes}"
    );
    b.click("nav.menu a[href='/ui/vendors']");
    assert!(b.text("#vendor-reminders").contains("V-2018-01"), "{}", b.source());
    b.screenshot(&shots, "vendors");

    // 3. The officer sees the log review but may not sign; the auditor comments and signs.
    b.goto(&format!("{base}/ui/logreview?month=2018-12"));
    assert_eq!(b.text("#event-count"), "31");
    assert!(!b.exists("#sign-form"), "the officer is not offered the sign-off");
    login(&b, &base, "kansa");
    b.goto(&format!("{base}/ui/logreview?month=2018-12"));
    assert!(b.exists("figure.chart svg rect"), "chart drawn: {}", b.source());
    assert!(b.text("#dept-totals").contains("税務課"));
    b.fill(&format!("#c-a{alert}"), "退職者アカウントの操作。事案として対応する。");
    navigates(&b, || b.click(&format!("#anomalies form:has(#c-a{alert}) button")));
    assert!(b.text("#anomalies").contains("退職者アカウントの操作"), "{}", b.source());
    b.fill("#reviewer", "監査 花子");
    b.fill("#summary", "異常1件は事案化。抽出20件に問題なし。");
    navigates(&b, || b.click("#sign-submit"));
    assert!(b.text("#review-status").contains("点検済み"), "{}", b.source());
    assert!(b.text("#signoffs").contains("監査 花子"));
    b.screenshot(&shots, "logreview");
    let signed = run_ok(&mut data_cmd(&data, &["search", "--json", "--kind", "admin", "--action", "logreview-signed"]));
    assert!(
        signed.contains("監査 花子") && signed.contains("kansa"),
        "ledgered under the auditor's account: {signed}"
    );

    // 4. The officer opens a case from the alert, fills the facts, drafts the 確報.
    login(&b, &base, "kacho.s");
    b.goto(&format!("{base}/ui/cases"));
    b.fill("#alerts", &alert.to_string());
    b.fill("#recognized_on", &day(0));
    navigates(&b, || b.click("#open-submit"));
    assert!(b.text("#case-id").starts_with(&today.format("%Y-").to_string()), "{}", b.source());
    assert_eq!(b.text("#persons"), "243");
    assert!(!b.exists("#evidence .badge.ng"), "every evidence proof verified: {}", b.source());
    b.fill("#cause", "退職時にアカウントが削除されていなかった");
    b.fill("#data_items", "氏名,住所,生年月日");
    b.click("#unlawful");
    navigates(&b, || b.click("#edit-submit"));
    b.fill("#text", "アカウントを無効化した");
    navigates(&b, || b.click("#action-submit"));
    assert!(b.text("#actions").contains("アカウントを無効化した"));
    b.screenshot(&shots, "case");
    let case_id = b.text("#case-id");
    b.click("#ppc-kakuho");
    let dl = mamori_case::deadlines(today, true, &mamori_detect::calendar::Calendar::default());
    assert_eq!(dl.kakuho_days, 60);
    assert!(
        b.text("#kakuho-by").contains(&format!(
            "{}月{}日",
            chrono::Datelike::month(&dl.kakuho_by),
            chrono::Datelike::day(&dl.kakuho_by)
        )),
        "{}",
        b.source()
    );
    assert!(b.text("#ppc-items").contains("退職時にアカウントが削除されていなかった"));
    b.screenshot(&shots, "ppc");
    let href = b.attr("#ppc-pdf", "href");
    assert!(href.contains(&format!("/ui/cases/{case_id}/ppc.pdf")), "{href}");

    // The PDF, fetched with a UI session of the viewer (reading is allowed).
    let mut ui = UiClient::new(&base);
    assert_eq!(ui.try_login("etsuran", pw("etsuran")).status, 303);
    let path = href.trim_start_matches(&base).to_owned();
    let r = http.get(format!("{base}{path}")).header("cookie", ui.cookie.clone().unwrap()).send().unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let pdf = tmp.path().join("kakuho.pdf");
    std::fs::write(&pdf, &bytes).unwrap();
    let text = pdftotext(&pdf);
    for want in [
        "個人情報保護委員会への漏えい等報告(確報)案",
        &case_id,
        "本人の数",
        "243人",
        "退職時にアカウントが削除されていなかった",
        "60日以内",
        "アカウントを無効化した",
        "包含証明 検証済み",
    ] {
        assert!(text.contains(want), "PDF lacks {want:?}:\n{text}");
    }
    // The viewer may read the case but is not offered (and not allowed) any change.
    let page = ui.get(&format!("/ui/cases/{case_id}"));
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("edit-form"));
    let csrf = ui.csrf();
    let r = ui.post(&format!("/ui/cases/{case_id}/act"), Some(&csrf), &[("op", "close"), ("text", "x")]);
    assert_eq!(r.status, 403, "viewer may not close a case");
    srv.stop();
}
