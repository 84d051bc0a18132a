//! The account/token state machine rebuilt from ledgered admin records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::header::Credentials;
use crate::password::{dummy_phc, validate_phc, verify_password};
use crate::token::{MAX_SECRET_BYTES, TokenRecord, looks_like_token, token_sha256_hex};
use crate::{Action, Error, Result, Role, allowed};

/// Maximum user name length in characters.
const MAX_USER_NAME_CHARS: usize = 64;

/// One admin operation on accounts or tokens.
///
/// The server writes these into the ledger as the payload of an admin entry
/// (the caller wraps them with actor and time); applying them in ledger order
/// with [`AuthState::apply`] rebuilds the state. JSON is internally tagged
/// with `"op"` in `snake_case`, e.g.
/// `{"op":"user_added","name":"tanaka","role":"officer","password_phc":"$argon2id$…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminRecord {
    /// A local account was created.
    UserAdded {
        /// Login name (1–64 characters, no `:`, no control characters).
        name: String,
        /// Its role.
        role: Role,
        /// argon2id PHC string from [`crate::hash_password`].
        password_phc: String,
    },
    /// A user's role changed.
    UserRoleChanged {
        /// Login name.
        name: String,
        /// The new role.
        role: Role,
    },
    /// A user was disabled (cannot log in; the account and its history remain).
    UserDisabled {
        /// Login name.
        name: String,
    },
    /// A disabled user was enabled again.
    UserEnabled {
        /// Login name.
        name: String,
    },
    /// A user's password was changed (by the user, or by an administrator without
    /// [`AdminRecord::PasswordReset`]'s one-time rule). Clears "must change at next login".
    PasswordChanged {
        /// Login name.
        name: String,
        /// New argon2id PHC string.
        password_phc: String,
    },
    /// An administrator reset a user's password to a one-time password: it opens only the
    /// UI's change-password page (no API access) until the user sets a new one
    /// ([`AdminRecord::PasswordChanged`]).
    PasswordReset {
        /// Login name.
        name: String,
        /// argon2id PHC string of the one-time password.
        password_phc: String,
    },
    /// An API token was created (only its hash is recorded).
    TokenCreated {
        /// The token's public record.
        record: TokenRecord,
    },
    /// An API token was revoked.
    TokenRevoked {
        /// Public id of the token ([`TokenRecord::id`]).
        id: String,
    },
}

/// A local account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its role.
    pub role: Role,
    /// argon2id PHC string.
    pub password_phc: String,
    /// Disabled users cannot authenticate (nor can the tokens issued to them).
    pub disabled: bool,
    /// The password is a one-time password set by an administrator: it must be changed at
    /// the next login and does not authenticate API requests.
    pub must_change_password: bool,
}

/// A successful password login (see [`AuthState::authenticate_login`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// Who logged in.
    pub principal: Principal,
    /// The password was a one-time password: only changing it is allowed.
    pub must_change_password: bool,
}

/// An API token as known to the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenState {
    /// The persisted record.
    pub record: TokenRecord,
    /// Revoked tokens cannot authenticate.
    pub revoked: bool,
}

/// How a [`Principal`] authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum AuthMethod {
    /// Local user name and password.
    Password,
    /// API token with this public id.
    Token(String),
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// User name, or the token's name for tokens.
    pub name: String,
    /// Role to authorize with.
    pub role: Role,
    /// How it authenticated.
    pub via: AuthMethod,
}

impl Principal {
    /// Whether this principal may perform `action` (see [`crate::PERMISSIONS`]).
    pub fn can(&self, action: Action) -> bool {
        allowed(self.role, action)
    }
}

/// In-memory users and tokens, rebuilt by applying [`AdminRecord`]s in order.
///
/// A token may be issued to a user ([`TokenRecord::user`]); it then works only while that
/// user is enabled. Other tokens (shippers, witnesses) are not tied to any account: disabling
/// a user does not revoke tokens (revoke them explicitly).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthState {
    users: BTreeMap<String, User>,
    /// Keyed by `secret_sha256`.
    tokens: BTreeMap<String, TokenState>,
    /// Public id → `secret_sha256`.
    token_ids: BTreeMap<String, String>,
}

impl AuthState {
    /// An empty state (no users, no tokens).
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `records` in order to an empty state; stops at the first error.
    pub fn replay<'a>(records: impl IntoIterator<Item = &'a AdminRecord>) -> Result<Self> {
        let mut state = Self::new();
        for r in records {
            state.apply(r)?;
        }
        Ok(state)
    }

    /// Checks whether `record` can be applied, without changing anything.
    /// The server calls this *before* writing the record to the ledger, so
    /// replay never meets an invalid record.
    ///
    /// Errors: duplicate user/token, unknown user/token, disabling a disabled
    /// user, enabling an enabled one, revoking a revoked token, an invalid user
    /// name, token record or PHC string.
    pub fn check(&self, record: &AdminRecord) -> Result<()> {
        match record {
            AdminRecord::UserAdded {
                name, password_phc, ..
            } => {
                validate_user_name(name)?;
                if self.users.contains_key(name) {
                    return Err(Error::DuplicateUser(name.clone()));
                }
                validate_phc(password_phc)
            }
            AdminRecord::UserRoleChanged { name, .. } => self.existing_user(name).map(|_| ()),
            AdminRecord::UserDisabled { name } => {
                if self.existing_user(name)?.disabled {
                    return Err(Error::UserAlreadyDisabled(name.clone()));
                }
                Ok(())
            }
            AdminRecord::UserEnabled { name } => {
                if !self.existing_user(name)?.disabled {
                    return Err(Error::UserNotDisabled(name.clone()));
                }
                Ok(())
            }
            AdminRecord::PasswordChanged { name, password_phc }
            | AdminRecord::PasswordReset { name, password_phc } => {
                self.existing_user(name)?;
                validate_phc(password_phc)
            }
            AdminRecord::TokenCreated { record } => {
                record.validate()?;
                if let Some(u) = &record.user {
                    self.existing_user(u)?;
                }
                if self.token_ids.contains_key(&record.id)
                    || self.tokens.contains_key(&record.secret_sha256)
                {
                    return Err(Error::DuplicateToken(record.id.clone()));
                }
                Ok(())
            }
            AdminRecord::TokenRevoked { id } => {
                if self.existing_token(id)?.revoked {
                    return Err(Error::TokenAlreadyRevoked(id.clone()));
                }
                Ok(())
            }
        }
    }

    /// Applies one admin record. On error the state is unchanged.
    pub fn apply(&mut self, record: &AdminRecord) -> Result<()> {
        self.check(record)?;
        match record {
            AdminRecord::UserAdded {
                name,
                role,
                password_phc,
            } => {
                self.users.insert(
                    name.clone(),
                    User {
                        role: *role,
                        password_phc: password_phc.clone(),
                        disabled: false,
                        must_change_password: false,
                    },
                );
            }
            AdminRecord::UserRoleChanged { name, role } => self.user_mut(name).role = *role,
            AdminRecord::UserDisabled { name } => self.user_mut(name).disabled = true,
            AdminRecord::UserEnabled { name } => self.user_mut(name).disabled = false,
            AdminRecord::PasswordChanged { name, password_phc } => {
                let u = self.user_mut(name);
                u.password_phc = password_phc.clone();
                u.must_change_password = false;
            }
            AdminRecord::PasswordReset { name, password_phc } => {
                let u = self.user_mut(name);
                u.password_phc = password_phc.clone();
                u.must_change_password = true;
            }
            AdminRecord::TokenCreated { record } => {
                self.token_ids
                    .insert(record.id.clone(), record.secret_sha256.clone());
                self.tokens.insert(
                    record.secret_sha256.clone(),
                    TokenState {
                        record: record.clone(),
                        revoked: false,
                    },
                );
            }
            AdminRecord::TokenRevoked { id } => {
                let hash = &self.token_ids[id];
                if let Some(t) = self.tokens.get_mut(hash) {
                    t.revoked = true;
                }
            }
        }
        Ok(())
    }

    /// Authenticates an API token secret. `None` if unknown or revoked.
    pub fn authenticate_token(&self, secret: &str) -> Option<Principal> {
        if secret.is_empty() || secret.len() > MAX_SECRET_BYTES {
            return None;
        }
        let hash = token_sha256_hex(secret);
        // The map lookup is keyed by the SHA-256 of the secret, so its timing
        // depends only on the hash, from which nothing about other secrets can
        // be learned. The explicit constant-time comparison below is defence
        // in depth (and keeps working if lookup is ever changed to a scan).
        let t = self.tokens.get(&hash)?;
        let same: bool = t
            .record
            .secret_sha256
            .as_bytes()
            .ct_eq(hash.as_bytes())
            .into();
        if !same || t.revoked {
            return None;
        }
        // A token issued to a user stops working while that user is disabled.
        if let Some(owner) = &t.record.user
            && self.users.get(owner).is_none_or(|u| u.disabled)
        {
            return None;
        }
        Some(Principal {
            name: t.record.name.clone(),
            role: t.record.role,
            via: AuthMethod::Token(t.record.id.clone()),
        })
    }

    /// Authenticates a local user by password for the API. `None` if the user is unknown,
    /// disabled, the password is wrong, or it is a one-time password that must first be
    /// changed in the UI. Unknown and disabled users still cost one argon2 verification, so
    /// timing does not reveal which names exist.
    pub fn authenticate_password(&self, user: &str, password: &str) -> Option<Principal> {
        self.authenticate_login(user, password)
            .filter(|l| !l.must_change_password)
            .map(|l| l.principal)
    }

    /// Authenticates a UI login by password: like [`AuthState::authenticate_password`], but
    /// a one-time password set by [`AdminRecord::PasswordReset`] is accepted and reported in
    /// [`Login::must_change_password`] (the UI then allows only changing it).
    pub fn authenticate_login(&self, user: &str, password: &str) -> Option<Login> {
        match self.users.get(user) {
            Some(u) if !u.disabled => verify_password(password, &u.password_phc).then(|| Login {
                principal: Principal {
                    name: user.to_owned(),
                    role: u.role,
                    via: AuthMethod::Password,
                },
                must_change_password: u.must_change_password,
            }),
            _ => {
                let _ = verify_password(password, dummy_phc());
                None
            }
        }
    }

    /// [`AuthState::check`] plus the rules an administrator's action must also follow (not
    /// enforced on replay, so that a ledger written under other rules still replays): nobody
    /// disables or demotes their own account, and at least one enabled administrator remains.
    pub fn check_admin_action(&self, actor: &str, record: &AdminRecord) -> Result<()> {
        self.check(record)?;
        let (name, leaves_admin) = match record {
            AdminRecord::UserDisabled { name } => (name, true),
            AdminRecord::UserRoleChanged { name, role } => (name, *role != Role::Admin),
            _ => return Ok(()),
        };
        if name == actor {
            return Err(Error::OwnAccount(name.clone()));
        }
        let target = self.existing_user(name)?;
        if leaves_admin && target.role == Role::Admin && !target.disabled && self.active_admins() <= 1 {
            return Err(Error::LastAdmin(name.clone()));
        }
        Ok(())
    }

    /// Authenticates parsed `Authorization` credentials:
    ///
    /// * `Bearer` — the token secret.
    /// * `ApiKey` — `key` is the token secret; `id` must equal the token's
    ///   public id.
    /// * `Basic` — if the password has the shape of a mamori token secret and
    ///   the user name equals that token's public id or its name, token
    ///   authentication (for shippers that only speak Basic auth, e.g. rsyslog
    ///   `omhttp`, Fluent Bit); otherwise user/password authentication.
    pub fn authenticate(&self, credentials: &Credentials) -> Option<Principal> {
        match credentials {
            Credentials::Bearer { token } => self.authenticate_token(token),
            Credentials::ApiKey { id, key } => self
                .authenticate_token(key)
                .filter(|p| matches!(&p.via, AuthMethod::Token(tid) if tid == id)),
            Credentials::Basic { user, password } => {
                if looks_like_token(password) {
                    let by_token = self.authenticate_token(password).filter(|p| {
                        p.name == *user || matches!(&p.via, AuthMethod::Token(tid) if tid == user)
                    });
                    if by_token.is_some() {
                        return by_token;
                    }
                }
                self.authenticate_password(user, password)
            }
        }
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// All users, ordered by name.
    pub fn users(&self) -> impl Iterator<Item = (&str, &User)> {
        self.users.iter().map(|(n, u)| (n.as_str(), u))
    }

    /// A token by public id.
    pub fn token(&self, id: &str) -> Option<&TokenState> {
        self.token_ids.get(id).and_then(|h| self.tokens.get(h))
    }

    /// All tokens (including revoked ones), ordered by public id.
    pub fn tokens(&self) -> impl Iterator<Item = &TokenState> {
        self.token_ids.values().filter_map(|h| self.tokens.get(h))
    }

    /// Number of enabled users with [`Role::Admin`]. The server can use this
    /// to refuse disabling or demoting the last administrator; `apply` itself
    /// does not enforce it.
    pub fn active_admins(&self) -> usize {
        self.users
            .values()
            .filter(|u| u.role == Role::Admin && !u.disabled)
            .count()
    }

    /// True when there are no users and no tokens (first start: bootstrap).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.tokens.is_empty()
    }

    fn existing_user(&self, name: &str) -> Result<&User> {
        self.users
            .get(name)
            .ok_or_else(|| Error::UnknownUser(name.to_owned()))
    }

    fn existing_token(&self, id: &str) -> Result<&TokenState> {
        self.token(id)
            .ok_or_else(|| Error::UnknownToken(id.to_owned()))
    }

    /// Only called after `check` proved the user exists.
    fn user_mut(&mut self, name: &str) -> &mut User {
        self.users
            .get_mut(name)
            .expect("checked by AuthState::check")
    }
}

fn validate_user_name(name: &str) -> Result<()> {
    let bad = |reason| Error::InvalidUserName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("must not be empty"));
    }
    if name.chars().count() > MAX_USER_NAME_CHARS {
        return Err(bad("must be at most 64 characters"));
    }
    if name.contains(':') {
        return Err(bad(
            "must not contain ':' (it separates user and password in Basic auth)",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("must not contain control characters"));
    }
    if name.trim() != name {
        return Err(bad("must not start or end with whitespace"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Token, hash_password, parse_authorization};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    const PW: &str = "sakura-no-hana-2025";

    fn add(name: &str, role: Role) -> AdminRecord {
        AdminRecord::UserAdded {
            name: name.into(),
            role,
            password_phc: hash_password(PW).unwrap(),
        }
    }

    #[test]
    fn users_lifecycle() {
        let mut s = AuthState::new();
        assert!(s.is_empty());
        s.apply(&add("tanaka", Role::Officer)).unwrap();
        let p = s.authenticate_password("tanaka", PW).unwrap();
        assert_eq!(
            p,
            Principal {
                name: "tanaka".into(),
                role: Role::Officer,
                via: AuthMethod::Password
            }
        );
        assert!(p.can(Action::ReingestQuarantine));
        assert!(
            s.authenticate_password("tanaka", "wrong-password-123")
                .is_none()
        );
        assert!(s.authenticate_password("suzuki", PW).is_none());

        assert_eq!(
            s.apply(&add("tanaka", Role::Viewer)),
            Err(Error::DuplicateUser("tanaka".into()))
        );

        s.apply(&AdminRecord::UserRoleChanged {
            name: "tanaka".into(),
            role: Role::Auditor,
        })
        .unwrap();
        assert_eq!(
            s.authenticate_password("tanaka", PW).unwrap().role,
            Role::Auditor
        );

        let new_pw = "aozora-no-shita-2026";
        s.apply(&AdminRecord::PasswordChanged {
            name: "tanaka".into(),
            password_phc: hash_password(new_pw).unwrap(),
        })
        .unwrap();
        assert!(s.authenticate_password("tanaka", PW).is_none());
        assert!(s.authenticate_password("tanaka", new_pw).is_some());

        s.apply(&AdminRecord::UserDisabled {
            name: "tanaka".into(),
        })
        .unwrap();
        assert!(s.authenticate_password("tanaka", new_pw).is_none());
        assert_eq!(
            s.apply(&AdminRecord::UserDisabled {
                name: "tanaka".into()
            }),
            Err(Error::UserAlreadyDisabled("tanaka".into()))
        );
        s.apply(&AdminRecord::UserEnabled {
            name: "tanaka".into(),
        })
        .unwrap();
        assert!(s.authenticate_password("tanaka", new_pw).is_some());
        assert_eq!(
            s.apply(&AdminRecord::UserEnabled {
                name: "tanaka".into()
            }),
            Err(Error::UserNotDisabled("tanaka".into()))
        );

        for r in [
            AdminRecord::UserRoleChanged {
                name: "nobody".into(),
                role: Role::Admin,
            },
            AdminRecord::UserDisabled {
                name: "nobody".into(),
            },
            AdminRecord::UserEnabled {
                name: "nobody".into(),
            },
            AdminRecord::PasswordChanged {
                name: "nobody".into(),
                password_phc: hash_password(PW).unwrap(),
            },
        ] {
            assert_eq!(s.apply(&r), Err(Error::UnknownUser("nobody".into())));
        }
    }

    #[test]
    fn invalid_records_leave_state_unchanged() {
        let mut s = AuthState::new();
        s.apply(&add("admin", Role::Admin)).unwrap();
        let before = s.clone();
        let bad = [
            AdminRecord::UserAdded {
                name: "x".into(),
                role: Role::Viewer,
                password_phc: "plaintext".into(),
            },
            AdminRecord::UserAdded {
                name: "a:b".into(),
                role: Role::Viewer,
                password_phc: hash_password(PW).unwrap(),
            },
            AdminRecord::UserAdded {
                name: "".into(),
                role: Role::Viewer,
                password_phc: hash_password(PW).unwrap(),
            },
            AdminRecord::UserAdded {
                name: " pad".into(),
                role: Role::Viewer,
                password_phc: hash_password(PW).unwrap(),
            },
            AdminRecord::PasswordChanged {
                name: "admin".into(),
                password_phc: "$2b$12$bcrypt".into(),
            },
            AdminRecord::TokenRevoked {
                id: "deadbeef".into(),
            },
        ];
        for r in &bad {
            assert!(s.apply(r).is_err(), "{r:?}");
            assert_eq!(s, before);
        }
        // Japanese user names are fine.
        s.apply(&add("情報政策課 佐藤", Role::Viewer)).unwrap();
        assert_eq!(s.active_admins(), 1);
    }

    #[test]
    fn tokens_lifecycle() {
        let mut s = AuthState::new();
        let tok = Token::generate(Role::Ingest, "fileserver01").unwrap();
        let (secret, record) = tok.into_parts();
        let id = record.id.clone();
        s.apply(&AdminRecord::TokenCreated {
            record: record.clone(),
        })
        .unwrap();
        assert_eq!(
            s.apply(&AdminRecord::TokenCreated {
                record: record.clone()
            }),
            Err(Error::DuplicateToken(id.clone()))
        );
        let p = s.authenticate_token(&secret).unwrap();
        assert_eq!(p.role, Role::Ingest);
        assert_eq!(p.name, "fileserver01");
        assert_eq!(p.via, AuthMethod::Token(id.clone()));
        assert!(p.can(Action::IngestEvents) && !p.can(Action::ReadEvents));

        assert!(s.authenticate_token("").is_none());
        assert!(s.authenticate_token(&format!("{secret}x")).is_none());
        assert!(s.authenticate_token(&"a".repeat(10_000)).is_none());

        s.apply(&AdminRecord::TokenRevoked { id: id.clone() })
            .unwrap();
        assert!(s.authenticate_token(&secret).is_none());
        assert!(s.token(&id).unwrap().revoked);
        assert_eq!(
            s.apply(&AdminRecord::TokenRevoked { id: id.clone() }),
            Err(Error::TokenAlreadyRevoked(id.clone()))
        );
        assert_eq!(
            s.apply(&AdminRecord::TokenRevoked {
                id: "00000000".into()
            }),
            Err(Error::UnknownToken("00000000".into()))
        );
        assert_eq!(s.tokens().count(), 1);
    }

    #[test]
    fn disabling_user_does_not_touch_tokens() {
        let mut s = AuthState::new();
        s.apply(&add("yamada", Role::Admin)).unwrap();
        let (secret, record) = Token::generate(Role::Admin, "yamada cli")
            .unwrap()
            .into_parts();
        s.apply(&AdminRecord::TokenCreated { record }).unwrap();
        s.apply(&AdminRecord::UserDisabled {
            name: "yamada".into(),
        })
        .unwrap();
        assert!(s.authenticate_token(&secret).is_some());
        assert_eq!(s.active_admins(), 0);
    }

    #[test]
    fn replay_from_json_reconstructs_state() {
        let (secret, record) = Token::generate(Role::Witness, "隣町の証人")
            .unwrap()
            .into_parts();
        let id = record.id.clone();
        let records = vec![
            add("admin", Role::Admin),
            add("kansa", Role::Auditor),
            AdminRecord::UserDisabled {
                name: "kansa".into(),
            },
            AdminRecord::TokenCreated { record },
            AdminRecord::TokenRevoked { id: id.clone() },
        ];
        let json: Vec<String> = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect();
        assert!(
            json[0].starts_with(
                r#"{"op":"user_added","name":"admin","role":"admin","password_phc":"$argon2id$"#
            ),
            "{}",
            json[0]
        );
        assert!(
            json[3].starts_with(r#"{"op":"token_created","record":{"id":"#),
            "{}",
            json[3]
        );
        assert_eq!(json[4], format!(r#"{{"op":"token_revoked","id":"{id}"}}"#));
        let parsed: Vec<AdminRecord> = json
            .iter()
            .map(|j| serde_json::from_str(j).unwrap())
            .collect();
        assert_eq!(parsed, records);

        let direct = AuthState::replay(&records).unwrap();
        let replayed = AuthState::replay(&parsed).unwrap();
        assert_eq!(direct, replayed);
        assert!(replayed.authenticate_password("admin", PW).is_some());
        assert!(replayed.authenticate_password("kansa", PW).is_none());
        assert!(replayed.authenticate_token(&secret).is_none());

        // Out-of-order replay fails loudly.
        let mut bad = records.clone();
        bad.swap(1, 2);
        assert_eq!(
            AuthState::replay(&bad),
            Err(Error::UnknownUser("kansa".into()))
        );
        // Unknown op is a deserialization error.
        assert!(
            serde_json::from_str::<AdminRecord>(r#"{"op":"user_deleted","name":"x"}"#).is_err()
        );
    }

    #[test]
    fn authenticate_credentials() {
        let mut s = AuthState::new();
        s.apply(&add("suzuki", Role::Viewer)).unwrap();
        let (secret, record) = Token::generate(Role::Ingest, "winlogbeat-fs01")
            .unwrap()
            .into_parts();
        let id = record.id.clone();
        s.apply(&AdminRecord::TokenCreated { record }).unwrap();

        let auth = |h: String| s.authenticate(&parse_authorization(&h).unwrap());
        let basic = |u: &str, p: &str| format!("Basic {}", STANDARD.encode(format!("{u}:{p}")));
        let apikey = |i: &str, k: &str| format!("ApiKey {}", STANDARD.encode(format!("{i}:{k}")));

        assert_eq!(auth(format!("Bearer {secret}")).unwrap().role, Role::Ingest);
        assert_eq!(auth(basic("suzuki", PW)).unwrap().via, AuthMethod::Password);
        assert!(auth(basic("suzuki", "nope-nope-nope")).is_none());
        // Basic with a token as password: user must be the token id or name.
        assert_eq!(
            auth(basic(&id, &secret)).unwrap().via,
            AuthMethod::Token(id.clone())
        );
        assert_eq!(
            auth(basic("winlogbeat-fs01", &secret)).unwrap().role,
            Role::Ingest
        );
        assert!(auth(basic("suzuki", &secret)).is_none());
        // ApiKey: id must match.
        assert_eq!(auth(apikey(&id, &secret)).unwrap().role, Role::Ingest);
        assert!(auth(apikey("ffffffff", &secret)).is_none());
        assert!(auth(format!("Bearer {secret}0")).is_none());
    }

    #[test]
    fn password_reset_is_one_time_until_changed() {
        let mut s = AuthState::new();
        s.apply(&add("tanaka", Role::Officer)).unwrap();
        let otp = "ichiji-pass-0001";
        s.apply(&AdminRecord::PasswordReset {
            name: "tanaka".into(),
            password_phc: hash_password(otp).unwrap(),
        })
        .unwrap();
        assert!(s.user("tanaka").unwrap().must_change_password);
        // The old password is gone; the one-time one opens only the UI's change page.
        assert!(s.authenticate_login("tanaka", PW).is_none());
        let l = s.authenticate_login("tanaka", otp).unwrap();
        assert!(l.must_change_password);
        assert_eq!(l.principal.role, Role::Officer);
        assert!(s.authenticate_password("tanaka", otp).is_none(), "no API access with a one-time password");
        let basic = Credentials::Basic { user: "tanaka".into(), password: otp.into() };
        assert!(s.authenticate(&basic).is_none());
        let new_pw = "atarashii-pass-02";
        s.apply(&AdminRecord::PasswordChanged {
            name: "tanaka".into(),
            password_phc: hash_password(new_pw).unwrap(),
        })
        .unwrap();
        assert!(!s.user("tanaka").unwrap().must_change_password);
        assert!(s.authenticate_password("tanaka", new_pw).is_some());
        assert!(s.authenticate_login("tanaka", otp).is_none());
        assert_eq!(
            s.apply(&AdminRecord::PasswordReset { name: "nobody".into(), password_phc: hash_password(otp).unwrap() }),
            Err(Error::UnknownUser("nobody".into()))
        );
    }

    #[test]
    fn token_issued_to_a_user_follows_the_account() {
        let mut s = AuthState::new();
        s.apply(&add("yamada", Role::Officer)).unwrap();
        let (secret, record) = Token::generate(Role::Officer, "yamada script").unwrap().issued_to("yamada").into_parts();
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["user"], "yamada");
        s.apply(&AdminRecord::TokenCreated { record }).unwrap();
        assert!(s.authenticate_token(&secret).is_some());
        s.apply(&AdminRecord::UserDisabled { name: "yamada".into() }).unwrap();
        assert!(s.authenticate_token(&secret).is_none(), "disabled user's token refused");
        s.apply(&AdminRecord::UserEnabled { name: "yamada".into() }).unwrap();
        assert!(s.authenticate_token(&secret).is_some(), "works again after re-enabling");
        // Issuing a token to an account that does not exist is refused.
        let (_, orphan) = Token::generate(Role::Viewer, "x").unwrap().issued_to("ghost").into_parts();
        assert_eq!(s.apply(&AdminRecord::TokenCreated { record: orphan }), Err(Error::UnknownUser("ghost".into())));
        // Records written before the field existed still parse (no owner).
        let (_, old) = Token::generate(Role::Ingest, "fs01").unwrap().into_parts();
        let text = serde_json::to_string(&old).unwrap();
        assert!(!text.contains("\"user\""), "{text}");
        assert_eq!(serde_json::from_str::<TokenRecord>(&text).unwrap().user, None);
    }

    #[test]
    fn admin_actions_keep_an_administrator() {
        let mut s = AuthState::new();
        s.apply(&add("kanri", Role::Admin)).unwrap();
        s.apply(&add("tanto", Role::Officer)).unwrap();
        let disable = |n: &str| AdminRecord::UserDisabled { name: n.into() };
        let demote = |n: &str| AdminRecord::UserRoleChanged { name: n.into(), role: Role::Viewer };
        assert_eq!(s.check_admin_action("kanri", &disable("kanri")), Err(Error::OwnAccount("kanri".into())));
        assert_eq!(s.check_admin_action("kanri", &demote("kanri")), Err(Error::OwnAccount("kanri".into())));
        assert_eq!(s.check_admin_action("token-admin", &disable("kanri")), Err(Error::LastAdmin("kanri".into())));
        assert_eq!(s.check_admin_action("token-admin", &demote("kanri")), Err(Error::LastAdmin("kanri".into())));
        assert!(s.check_admin_action("kanri", &disable("tanto")).is_ok());
        assert!(s.check_admin_action("kanri", &demote("tanto")).is_ok());
        // With a second administrator, one may disable the other.
        s.apply(&add("kanri2", Role::Admin)).unwrap();
        assert!(s.check_admin_action("kanri2", &disable("kanri")).is_ok());
        // Still the state rules first.
        assert_eq!(s.check_admin_action("kanri", &disable("nobody")), Err(Error::UnknownUser("nobody".into())));
        // Replay does not apply the policy (only check does).
        assert!(s.clone().apply(&disable("kanri")).is_ok());
    }
}
