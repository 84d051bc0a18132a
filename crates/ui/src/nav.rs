//! The pages of the navigation and who may open them. A page's handler checks the same entry
//! ([`crate::Auth::require_page`]), so the menu never shows a page its handler would refuse.

use mamori_auth::Action;

/// One page of the menu.
#[derive(Debug)]
pub struct NavItem {
    /// Its path (GET).
    pub path: &'static str,
    /// Japanese label.
    pub ja: &'static str,
    /// English label.
    pub en: &'static str,
    /// The role must allow one of these to open the page.
    pub any_of: &'static [Action],
}

/// ダッシュボード.
pub const DASHBOARD: NavItem = NavItem { path: "/ui/", ja: "ダッシュボード", en: "Dashboard", any_of: &[Action::ReadEvents, Action::ReadMetrics, Action::ReadAlerts] };
/// イベント検索.
pub const EVENTS: NavItem = NavItem { path: "/ui/events", ja: "イベント検索", en: "Event search", any_of: &[Action::ReadEvents] };
/// アラート.
pub const ALERTS: NavItem = NavItem { path: "/ui/alerts", ja: "アラート", en: "Alerts", any_of: &[Action::ReadAlerts] };
/// 職員・組織.
pub const PEOPLE: NavItem = NavItem { path: "/ui/people", ja: "職員・組織", en: "Staff & departments", any_of: &[Action::ReadTimeline] };
/// アクセスレビュー.
pub const REVIEW: NavItem = NavItem { path: "/ui/review", ja: "アクセスレビュー", en: "Access review", any_of: &[Action::ReadTimeline] };
/// USB媒体台帳.
pub const USB: NavItem = NavItem { path: "/ui/usb", ja: "USB媒体台帳", en: "USB media register", any_of: &[Action::ReadTimeline] };
/// 持ち出し申請・承認.
pub const TAKEOUTS: NavItem = NavItem { path: "/ui/takeouts", ja: "持ち出し申請・承認", en: "Takeouts", any_of: &[Action::ReadTimeline] };
/// 委託先.
pub const VENDORS: NavItem = NavItem { path: "/ui/vendors", ja: "委託先", en: "Vendors", any_of: &[Action::ReadTimeline] };
/// ログ点検.
pub const LOGREVIEW: NavItem = NavItem { path: "/ui/logreview", ja: "ログ点検", en: "Log review", any_of: &[Action::ReadAlerts] };
/// 事案.
pub const CASES: NavItem = NavItem { path: "/ui/cases", ja: "事案", en: "Cases", any_of: &[Action::ReadAlerts] };
/// 個人情報保護委員会への報告.
pub const PPC: NavItem = NavItem { path: "/ui/ppc", ja: "個人情報保護委員会への報告", en: "PPC reports", any_of: &[Action::ReadAlerts] };
/// 設定.
pub const SETTINGS: NavItem = NavItem { path: "/ui/settings", ja: "設定", en: "Settings", any_of: &[Action::ManageConfig, Action::ReadAdminAudit] };

/// The menu, in order. Add a page's entry here (see README-dev.md).
pub const NAV: &[&NavItem] = &[&DASHBOARD, &EVENTS, &ALERTS, &PEOPLE, &REVIEW, &USB, &TAKEOUTS, &VENDORS, &LOGREVIEW, &CASES, &PPC, &SETTINGS];
