//! Sessions, the login rate limiter, the [`Auth`] extractor (who is calling, with which role)
//! and the [`CsrfForm`] extractor (a POST form whose CSRF token was checked).
//!
//! Sessions are server-side and in memory: the cookie holds a random 256-bit id (the map is
//! keyed by its SHA-256), the user's role is read from the live account state on every request
//! (a role change or a disabled account takes effect at once), a session ends when the
//! account's password changes (reset by an administrator, or changed elsewhere), after [`IDLE`]
//! without use or [`ABSOLUTE`] after login, or at logout. A session opened with a one-time
//! password (administrator's reset) reaches only the change-password page.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use mamori_auth::{Action, Role};
use mamori_server::AppState;
use rand::RngCore;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::dates::Calendar;
use crate::{Lang, UiError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mamori_session";
/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after login, used or not.
pub const ABSOLUTE: Duration = Duration::from_secs(10 * 3600);
/// Failed logins for one account within [`LOCK_WINDOW`] before it is refused for the rest of
/// the window.
pub const MAX_FAILS_PER_ACCOUNT: usize = 5;
/// Failed logins in total within one minute before every login is refused for a minute.
pub const MAX_FAILS_GLOBAL: usize = 50;
/// The per-account window.
pub const LOCK_WINDOW: Duration = Duration::from_secs(15 * 60);

struct Session {
    user: String,
    /// SHA-256 of the account's password hash at login: the session ends when it changes.
    password: [u8; 32],
    csrf: String,
    created: Instant,
    last: Instant,
}

#[derive(Default)]
struct Limiter {
    /// Failure times per account (keyed by SHA-256 of the name).
    per_account: HashMap<[u8; 32], VecDeque<Instant>>,
    global: VecDeque<Instant>,
}

/// The UI's shared state: sessions and the login limiter.
pub struct UiState {
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    limiter: Mutex<Limiter>,
    /// Mark cookies `Secure` (served over TLS).
    pub secure: bool,
    /// The path prefix the UI is served under from the browser's side (`""` in `mamori serve`,
    /// `/t/{tenant}` in tenant mode); the cookies' `Path` starts with it.
    pub base: String,
}

fn sha(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn same_hash(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bool::from(a.ct_eq(b))
}

/// Constant-time string comparison (CSRF tokens).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl UiState {
    /// Empty state.
    pub fn new(secure: bool) -> UiState {
        UiState::under(secure, "")
    }

    /// Empty state for a UI served under `base` (see [`crate::routes_under`]).
    pub fn under(secure: bool, base: &str) -> UiState {
        UiState { sessions: Mutex::new(HashMap::new()), limiter: Mutex::new(Limiter::default()), secure, base: base.to_owned() }
    }

    /// Starts a session for `user`, whose password hash is now `password_phc`; returns the
    /// cookie value.
    pub fn create(&self, user: &str, password_phc: &str) -> String {
        let id = random_token();
        let now = Instant::now();
        let mut s = self.sessions.lock().unwrap();
        s.retain(|_, v| now.duration_since(v.last) < IDLE && now.duration_since(v.created) < ABSOLUTE);
        s.insert(sha(&id), Session { user: user.to_owned(), password: sha(password_phc), csrf: random_token(), created: now, last: now });
        id
    }

    /// The user, password fingerprint and CSRF token of a live session (and marks it used).
    fn lookup(&self, id: &str) -> Option<(String, [u8; 32], String)> {
        let now = Instant::now();
        let mut s = self.sessions.lock().unwrap();
        let key = sha(id);
        let v = s.get_mut(&key)?;
        if now.duration_since(v.last) >= IDLE || now.duration_since(v.created) >= ABSOLUTE {
            s.remove(&key);
            return None;
        }
        v.last = now;
        Some((v.user.clone(), v.password, v.csrf.clone()))
    }

    /// Ends a session.
    pub fn destroy(&self, id: &str) {
        self.sessions.lock().unwrap().remove(&sha(id));
    }

    /// Ends every session of `user` (disabled, or password reset, by an administrator).
    /// Returns how many ended.
    pub fn end_sessions_of(&self, user: &str) -> usize {
        let mut s = self.sessions.lock().unwrap();
        let before = s.len();
        s.retain(|_, v| v.user != user);
        before - s.len()
    }

    /// Whether a login for `user` may be attempted now; `Err(seconds)` to wait otherwise.
    pub fn login_allowed(&self, user: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut l = self.limiter.lock().unwrap();
        while l.global.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            l.global.pop_front();
        }
        if l.global.len() >= MAX_FAILS_GLOBAL {
            let wait = Duration::from_secs(60).saturating_sub(now.duration_since(l.global[0]));
            return Err(wait.as_secs().max(1));
        }
        if let Some(q) = l.per_account.get_mut(&sha(user)) {
            while q.front().is_some_and(|t| now.duration_since(*t) >= LOCK_WINDOW) {
                q.pop_front();
            }
            if q.len() >= MAX_FAILS_PER_ACCOUNT {
                let wait = LOCK_WINDOW.saturating_sub(now.duration_since(q[0]));
                return Err(wait.as_secs().max(1));
            }
        }
        Ok(())
    }

    /// Records a failed login for `user`.
    pub fn login_failed(&self, user: &str) {
        let now = Instant::now();
        let mut l = self.limiter.lock().unwrap();
        l.global.push_back(now);
        if l.per_account.len() > 10_000 {
            l.per_account.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < LOCK_WINDOW));
        }
        l.per_account.entry(sha(user)).or_default().push_back(now);
    }

    /// Clears `user`'s failures after a successful login.
    pub fn login_succeeded(&self, user: &str) {
        self.limiter.lock().unwrap().per_account.remove(&sha(user));
    }

    /// `Set-Cookie` value for a session id.
    pub fn session_cookie(&self, id: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{SESSION_COOKIE}={id}; Path={}/; HttpOnly; SameSite=Strict{secure}", self.base)
    }

    /// `Set-Cookie` value that removes the session cookie.
    pub fn clear_session_cookie(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{SESSION_COOKIE}=; Path={}/; Max-Age=0; HttpOnly; SameSite=Strict{secure}", self.base)
    }

    /// A plain preference cookie (language, calendar, login nonce).
    pub fn pref_cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path={}/ui; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}", self.base)
    }
}

/// A cookie of the request.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The UI state from the request's extensions (set by [`crate::routes`]).
pub fn ui_state(parts: &Parts) -> Arc<UiState> {
    parts.extensions.get::<Arc<UiState>>().cloned().expect("mamori_ui::routes sets the UI state")
}

/// The calendar preference: `?era=wareki|seireki` or the `mamori_era` cookie.
pub fn calendar_of(parts: &Parts) -> Calendar {
    let q = parts.uri.query().unwrap_or("");
    if q.split('&').any(|kv| kv == "era=wareki") {
        return Calendar::Era;
    }
    if q.split('&').any(|kv| kv == "era=seireki") {
        return Calendar::Western;
    }
    match cookie(&parts.headers, "mamori_era").as_deref() {
        Some("wareki") => Calendar::Era,
        _ => Calendar::Western,
    }
}

/// The logged-in caller of a page: their account name and current role, the session's CSRF
/// token, and their language and calendar. Extracting it redirects to the login page when
/// there is no live session.
#[derive(Clone)]
pub struct Auth {
    /// Account name.
    pub name: String,
    /// Current role (read from the account state on every request).
    pub role: Role,
    /// The session's CSRF token, for [`crate::layout::csrf_field`].
    pub csrf: String,
    /// Display language.
    pub lang: Lang,
    /// 西暦 or 和暦.
    pub cal: Calendar,
    /// The request path (for the navigation and the language switch).
    pub path: String,
    /// The session was opened with a one-time password that must be changed first.
    pub must_change_password: bool,
    counters: Arc<mamori_server::http::Counters>,
}

impl Auth {
    /// Whether the caller's role allows `action` (mamori-auth's table).
    pub fn can(&self, action: Action) -> bool {
        self.role.can(action)
    }

    /// Whether the caller's role allows at least one of `actions`.
    pub fn can_any(&self, actions: &[Action]) -> bool {
        actions.iter().any(|a| self.can(*a))
    }

    /// Refuses (403 page) unless the role allows `action`.
    pub fn require(&self, action: Action) -> Result<(), UiError> {
        self.require_any(&[action])
    }

    /// Refuses (403 page) unless the role allows one of `actions`.
    pub fn require_any(&self, actions: &[Action]) -> Result<(), UiError> {
        if self.can_any(actions) {
            return Ok(());
        }
        self.counters.denied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Err(UiError::forbidden(self.lang, self.role, actions))
    }

    /// Refuses unless the role may open the page `item` (see [`crate::nav`]).
    pub fn require_page(&self, item: &crate::nav::NavItem) -> Result<(), UiError> {
        self.require_any(item.any_of)
    }

    /// Shorthand for `self.lang.t(ja, en)`.
    pub fn t<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
        self.lang.t(ja, en)
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let ui = ui_state(parts);
        let lang = Lang::from_request(&parts.uri, &parts.headers);
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(UiError::login());
        };
        let Some((user, pw, csrf)) = ui.lookup(&id) else {
            return Err(UiError::login());
        };
        let (role, must_change) = {
            let a = st.auth.read().unwrap();
            match a.user(&user) {
                Some(u) if !u.disabled && same_hash(&pw, &sha(&u.password_phc)) => (u.role, u.must_change_password),
                _ => {
                    ui.destroy(&id);
                    return Err(UiError::login());
                }
            }
        };
        let path = parts.uri.path().to_owned();
        // A one-time password opens only the change-password page (and logout).
        if must_change && path != crate::pages::password::PATH && path != "/ui/logout" {
            return Err(UiError::change_password());
        }
        Ok(Auth { name: user, role, csrf, lang, cal: calendar_of(parts), path, must_change_password: must_change, counters: st.counters.clone() })
    }
}

/// A POST form (`application/x-www-form-urlencoded`) from a logged-in caller whose `_csrf`
/// field matched the session's token. Every state-changing UI handler takes one.
pub struct CsrfForm<T>(pub Auth, pub T);

#[derive(serde::Deserialize)]
struct CsrfOnly {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = UiError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let auth = Auth::from_request_parts(&mut parts, st).await?;
        let lang = auth.lang;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), st)
            .await
            .map_err(|e| UiError::bad_request(lang, "フォームを読み取れません", &format!("cannot read the form: {e}")))?;
        let tok: CsrfOnly = serde_urlencoded::from_bytes(&bytes).map_err(|e| UiError::bad_request(lang, "フォームが不正です", &e.to_string()))?;
        if !same_secret(&tok.csrf, &auth.csrf) {
            return Err(UiError::csrf(lang));
        }
        let v: T = serde_urlencoded::from_bytes(&bytes).map_err(|e| UiError::bad_request(lang, "フォームの入力が不正です", &e.to_string()))?;
        Ok(CsrfForm(auth, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_live_until_destroyed() {
        let ui = UiState::new(true);
        let id = ui.create("tanto", "$argon2id$phc");
        let (user, pw, csrf) = ui.lookup(&id).unwrap();
        assert_eq!(pw, sha("$argon2id$phc"));
        assert_eq!(user, "tanto");
        assert_eq!(csrf.len(), 64);
        assert!(ui.lookup("not-a-session").is_none());
        ui.destroy(&id);
        assert!(ui.lookup(&id).is_none());
        let a = ui.create("kansa", "x");
        let b = ui.create("kansa", "x");
        let c = ui.create("etsuran", "y");
        assert_eq!(ui.end_sessions_of("kansa"), 2);
        assert!(ui.lookup(&a).is_none() && ui.lookup(&b).is_none());
        assert!(ui.lookup(&c).is_some(), "other accounts keep their sessions");
        assert!(ui.session_cookie(&id).ends_with("HttpOnly; SameSite=Strict; Secure"));
        assert!(!UiState::new(false).session_cookie(&id).contains("Secure"));
    }

    #[test]
    fn five_failures_lock_one_account_only() {
        let ui = UiState::new(false);
        for _ in 0..MAX_FAILS_PER_ACCOUNT {
            assert!(ui.login_allowed("a").is_ok());
            ui.login_failed("a");
        }
        let wait = ui.login_allowed("a").unwrap_err();
        assert!(wait > 0 && wait <= LOCK_WINDOW.as_secs(), "{wait}");
        assert!(ui.login_allowed("b").is_ok());
        ui.login_succeeded("b");
        assert!(ui.login_allowed("a").is_err(), "another account's success does not unlock");
    }

    #[test]
    fn global_limit() {
        let ui = UiState::new(false);
        for i in 0..MAX_FAILS_GLOBAL {
            ui.login_failed(&format!("u{i}"));
        }
        assert!(ui.login_allowed("fresh").is_err());
    }

    #[test]
    fn secrets_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "x"));
    }
}
