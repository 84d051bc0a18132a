//! API tokens: generated once, stored only as a SHA-256 hash.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::rngs::OsRng;
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Error, Result, Role};

/// Every token secret starts with this prefix, followed by the role name,
/// `_`, and 43 base64url characters (32 random bytes):
/// `mamori_ingest_3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`.
///
/// The readable prefix lets secret scanners and humans recognise a leaked
/// token and its role; it carries no authority (the stored record's role does).
pub const TOKEN_PREFIX: &str = "mamori_";

/// Number of random bytes in a token secret.
const SECRET_BYTES: usize = 32;
/// Number of hex characters of the secret's SHA-256 used as the public id.
const ID_HEX_LEN: usize = 8;
/// Maximum token name length in characters.
const MAX_TOKEN_NAME_CHARS: usize = 128;
/// Secrets longer than this are rejected without hashing.
pub(crate) const MAX_SECRET_BYTES: usize = 256;

/// SHA-256 of a token secret, lowercase hex — what [`TokenRecord`] stores.
pub fn token_sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The persistent, non-secret description of an API token. This is what goes
/// into the ledger inside [`crate::AdminRecord::TokenCreated`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Short public id: the first 8 hex characters of `secret_sha256`. Shown in
    /// lists and logs, used to revoke, and as the `id` of `ApiKey` credentials.
    pub id: String,
    /// Human-readable name, e.g. `"fileserver01 winlogbeat"`.
    pub name: String,
    /// The role the token acts as.
    pub role: Role,
    /// SHA-256 of the secret, 64 lowercase hex characters.
    pub secret_sha256: String,
    /// When the token was created (RFC 3339 in JSON).
    pub created: DateTime<Utc>,
    /// The local account the token was issued to, if any: the token then works only while
    /// that account is enabled. Absent for shipper and witness tokens (and in records written
    /// before this field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl TokenRecord {
    /// Whether `secret` hashes to this record's `secret_sha256`, compared in
    /// constant time (`subtle`), so the comparison leaks nothing about how
    /// many leading bytes matched.
    pub fn matches_secret(&self, secret: &str) -> bool {
        if secret.len() > MAX_SECRET_BYTES {
            return false;
        }
        let computed = token_sha256_hex(secret);
        computed
            .as_bytes()
            .ct_eq(self.secret_sha256.as_bytes())
            .into()
    }

    /// Checks the record's shape: valid name, 64-hex lowercase hash, and an id
    /// equal to the hash's first 8 characters.
    pub fn validate(&self) -> Result<()> {
        validate_token_name(&self.name)?;
        let bad = |reason| Error::InvalidTokenRecord {
            id: self.id.clone(),
            reason,
        };
        let is_lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if self.secret_sha256.len() != 64 || !is_lower_hex(&self.secret_sha256) {
            return Err(bad("secret_sha256 must be 64 lowercase hex characters"));
        }
        if self.id != self.secret_sha256[..ID_HEX_LEN] {
            return Err(bad(
                "id must be the first 8 hex characters of secret_sha256",
            ));
        }
        Ok(())
    }
}

/// A freshly generated token: the secret (available only here, exactly once)
/// plus the [`TokenRecord`] to persist.
///
/// `Debug` does not print the secret.
pub struct Token {
    secret: String,
    record: TokenRecord,
}

impl Token {
    /// Generates a token for `role` named `name`, using the OS RNG and the
    /// current time.
    ///
    /// Errors if `name` is empty, longer than 128 characters or contains
    /// control characters.
    pub fn generate(role: Role, name: &str) -> Result<Token> {
        Self::generate_with(&mut OsRng, role, name, Utc::now())
    }

    /// Like [`Token::generate`] with the RNG and creation time supplied by the
    /// caller (deterministic tests, or a clock that the ledger entry shares).
    pub fn generate_with<R: RngCore + CryptoRng>(
        rng: &mut R,
        role: Role,
        name: &str,
        created: DateTime<Utc>,
    ) -> Result<Token> {
        validate_token_name(name)?;
        let mut bytes = [0u8; SECRET_BYTES];
        rng.fill_bytes(&mut bytes);
        let secret = format!(
            "{TOKEN_PREFIX}{}_{}",
            role.as_str(),
            URL_SAFE_NO_PAD.encode(bytes)
        );
        let secret_sha256 = token_sha256_hex(&secret);
        let record = TokenRecord {
            id: secret_sha256[..ID_HEX_LEN].to_owned(),
            name: name.to_owned(),
            role,
            secret_sha256,
            created,
            user: None,
        };
        Ok(Token { secret, record })
    }

    /// Issues the token to the local account `user` (see [`TokenRecord::user`]).
    pub fn issued_to(mut self, user: &str) -> Token {
        self.record.user = Some(user.to_owned());
        self
    }

    /// The secret to hand to the client. Show it once; it is not stored.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The record to persist (via [`crate::AdminRecord::TokenCreated`]).
    pub fn record(&self) -> &TokenRecord {
        &self.record
    }

    /// Splits into `(secret, record)`.
    pub fn into_parts(self) -> (String, TokenRecord) {
        (self.secret, self.record)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

/// Whether `s` has the shape of a mamori token secret (prefix, known role,
/// 43 base64url characters). Used to route `Basic` credentials whose password
/// is a token.
pub(crate) fn looks_like_token(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(TOKEN_PREFIX) else {
        return false;
    };
    let Some((role, random)) = rest.split_once('_') else {
        return false;
    };
    role.parse::<Role>().is_ok_and(|r| r.as_str() == role)
        && random.len() == 43
        && random
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(crate) fn validate_token_name(name: &str) -> Result<()> {
    let bad = |reason| Error::InvalidTokenName {
        name: name.to_owned(),
        reason,
    };
    if name.trim().is_empty() {
        return Err(bad("must not be empty"));
    }
    if name.chars().count() > MAX_TOKEN_NAME_CHARS {
        return Err(bad("must be at most 128 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-04-01T09:00:00+09:00")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn secret_format_and_record() {
        let tok = Token::generate(Role::Ingest, "fileserver01 winlogbeat").unwrap();
        let s = tok.secret();
        assert!(s.starts_with("mamori_ingest_"), "{s}");
        assert_eq!(s.len(), "mamori_ingest_".len() + 43);
        assert!(looks_like_token(s));
        let r = tok.record();
        assert_eq!(r.role, Role::Ingest);
        assert_eq!(r.secret_sha256, token_sha256_hex(s));
        assert_eq!(r.id.len(), 8);
        assert!(r.secret_sha256.starts_with(&r.id));
        r.validate().unwrap();
        assert!(r.matches_secret(s));
        assert!(!r.matches_secret(&s.replace("mamori_ingest_", "mamori_admin_")));
        assert!(!format!("{tok:?}").contains(s), "Debug leaks the secret");
    }

    #[test]
    fn deterministic_with_seeded_rng() {
        let a =
            Token::generate_with(&mut StdRng::seed_from_u64(7), Role::Viewer, "a", t0()).unwrap();
        let b =
            Token::generate_with(&mut StdRng::seed_from_u64(7), Role::Viewer, "a", t0()).unwrap();
        assert_eq!(a.secret(), b.secret());
        let c = Token::generate(Role::Viewer, "a").unwrap();
        let d = Token::generate(Role::Viewer, "a").unwrap();
        assert_ne!(c.secret(), d.secret());
    }

    #[test]
    fn record_json_round_trip() {
        let tok = Token::generate_with(&mut StdRng::seed_from_u64(1), Role::Witness, "証人A", t0())
            .unwrap();
        let json = serde_json::to_value(tok.record()).unwrap();
        assert_eq!(json["role"], "witness");
        assert_eq!(json["created"], "2025-04-01T00:00:00Z");
        let back: TokenRecord = serde_json::from_value(json).unwrap();
        assert_eq!(&back, tok.record());
    }

    #[test]
    fn names_and_records_validated() {
        assert!(Token::generate(Role::Admin, "").is_err());
        assert!(Token::generate(Role::Admin, "   ").is_err());
        assert!(Token::generate(Role::Admin, "a\nb").is_err());
        assert!(Token::generate(Role::Admin, &"x".repeat(129)).is_err());
        let mut r = Token::generate(Role::Admin, "ok").unwrap().into_parts().1;
        r.id = "00000000".into();
        assert!(r.validate().is_err());
        r.id = r.secret_sha256[..8].to_owned();
        r.secret_sha256 = r.secret_sha256.to_uppercase();
        assert!(r.validate().is_err());
    }

    #[test]
    fn looks_like_token_shapes() {
        let good = format!("mamori_admin_{}", "A".repeat(43));
        assert!(looks_like_token(&good));
        assert!(!looks_like_token(&format!(
            "mamori_root_{}",
            "A".repeat(43)
        )));
        assert!(!looks_like_token(&format!(
            "mamori_Admin_{}",
            "A".repeat(43)
        )));
        assert!(!looks_like_token(&format!(
            "mamori_admin_{}",
            "A".repeat(42)
        )));
        assert!(!looks_like_token(&format!(
            "mamori_admin_{}=",
            "A".repeat(42)
        )));
        assert!(!looks_like_token("hunter2hunter2"));
    }
}
