//! Error type of the crate.

/// Result alias using [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `mamori-auth`.
///
/// Variants fall into three groups: password policy / hashing, admin state
/// transitions ([`crate::AuthState::apply`]), and `Authorization` header
/// parsing ([`crate::parse_authorization`]). Messages never contain secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A role name that is not one of the six known roles.
    #[error("unknown role {0:?} (expected admin, officer, auditor, viewer, ingest or witness)")]
    UnknownRole(String),
    /// An action name that is not a known [`crate::Action`].
    #[error("unknown action {0:?}")]
    UnknownAction(String),

    /// The password is shorter than [`crate::MIN_PASSWORD_CHARS`].
    #[error(
        "パスワードは{min}文字以上にしてください（現在{got}文字） / password must be at least {min} characters long (got {got})"
    )]
    PasswordTooShort {
        /// Minimum number of characters.
        min: usize,
        /// Number of characters supplied.
        got: usize,
    },
    /// The password is longer than [`crate::MAX_PASSWORD_BYTES`].
    #[error(
        "パスワードが長すぎます（最大{max}バイト） / password is too long (at most {max} bytes)"
    )]
    PasswordTooLong {
        /// Maximum number of bytes.
        max: usize,
    },
    /// argon2 failed to hash (should not happen with the default parameters).
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// A stored password hash is not an argon2id PHC string.
    #[error("invalid password hash: {0}")]
    InvalidPasswordHash(String),

    /// A user name that is empty, too long, or contains `:` / control characters.
    #[error("invalid user name {name:?}: {reason}")]
    InvalidUserName {
        /// The offending name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A token name that is empty, too long, or contains control characters.
    #[error("invalid token name {name:?}: {reason}")]
    InvalidTokenName {
        /// The offending name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A [`crate::TokenRecord`] whose id or hash is malformed.
    #[error("invalid token record {id:?}: {reason}")]
    InvalidTokenRecord {
        /// Public id of the record.
        id: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// `UserAdded` for a name that already exists.
    #[error("user {0:?} already exists")]
    DuplicateUser(String),
    /// The record names a user that does not exist.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    /// `UserDisabled` for a user that is already disabled.
    #[error("user {0:?} is already disabled")]
    UserAlreadyDisabled(String),
    /// `UserEnabled` for a user that is not disabled.
    #[error("user {0:?} is not disabled")]
    UserNotDisabled(String),
    /// An administrator tried to disable or demote their own account.
    #[error(
        "自分のアカウント {0:?} は無効化・ロール変更できません(別の管理者に依頼してください) / you cannot disable or change the role of your own account {0:?} (ask another administrator)"
    )]
    OwnAccount(String),
    /// The action would leave no enabled administrator.
    #[error(
        "{0:?} は最後の有効な管理者です(先に別の管理者を用意してください) / {0:?} is the last enabled administrator (add another one first)"
    )]
    LastAdmin(String),
    /// `TokenCreated` whose id or secret hash is already known.
    #[error("token {0:?} already exists")]
    DuplicateToken(String),
    /// The record names a token id that does not exist.
    #[error("unknown token {0:?}")]
    UnknownToken(String),
    /// `TokenRevoked` for a token that is already revoked.
    #[error("token {0:?} is already revoked")]
    TokenAlreadyRevoked(String),

    /// The `Authorization` header value is empty.
    #[error("Authorization header is empty")]
    EmptyAuthorization,
    /// The header value is longer than 4096 bytes.
    #[error("Authorization header is too long (at most {max} bytes)")]
    AuthorizationTooLong {
        /// Maximum accepted length in bytes.
        max: usize,
    },
    /// The scheme is not `Bearer`, `Basic` or `ApiKey`.
    #[error("unsupported Authorization scheme {0:?} (expected Bearer, Basic or ApiKey)")]
    UnsupportedScheme(String),
    /// The scheme is present but nothing follows it.
    #[error("Authorization scheme {0} has no credentials")]
    MissingCredentials(&'static str),
    /// `Basic` / `ApiKey` payload is not valid base64.
    #[error("{0} credentials are not valid base64")]
    InvalidBase64(&'static str),
    /// `Basic` / `ApiKey` payload decodes to something that is not UTF-8.
    #[error("{0} credentials are not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// `Basic` / `ApiKey` payload has no `:` separator.
    #[error("{0} credentials must have the form base64(id:secret)")]
    MissingColon(&'static str),
    /// `Basic` user / `ApiKey` id is empty.
    #[error("{0} credentials have an empty user/id")]
    EmptyUser(&'static str),
    /// The password / token secret part is empty.
    #[error("{0} credentials have an empty password/secret")]
    EmptySecret(&'static str),
    /// Credentials contain whitespace or control characters where none are allowed.
    #[error("{0} credentials contain whitespace or control characters")]
    MalformedCredentials(&'static str),
}
