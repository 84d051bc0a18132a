//! Parsing the HTTP `Authorization` header, without a web framework.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::{Error, Result};

/// Longest `Authorization` value accepted.
const MAX_HEADER_BYTES: usize = 4096;

/// Standard base64, padding optional (some clients strip it).
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Credentials extracted from an `Authorization` header. Nothing is verified
/// yet: pass them to [`crate::AuthState::authenticate`].
///
/// `Debug` never prints the password or secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Authorization: Bearer <token secret>`.
    Bearer {
        /// The token secret (`mamori_<role>_…`).
        token: String,
    },
    /// `Authorization: Basic base64(user:password)` (RFC 7617), as sent by
    /// Beats (`username`/`password`), rsyslog `omhttp` (`uid`/`pwd`) and
    /// Fluent Bit (`http_user`/`http_passwd`).
    ///
    /// The password may also be an API token secret; see
    /// [`crate::AuthState::authenticate`].
    Basic {
        /// User name (everything before the first `:`).
        user: String,
        /// Password (everything after the first `:`; may itself contain `:`).
        password: String,
    },
    /// `Authorization: ApiKey base64(id:key)`, the Elasticsearch API-key
    /// format that Beats send when `api_key: "id:key"` is configured. mamori
    /// treats `key` as an API token secret and `id` as that token's public id
    /// ([`crate::TokenRecord::id`]), so a Beat is configured with
    /// `api_key: "<token id>:<token secret>"`.
    ApiKey {
        /// The token's public id.
        id: String,
        /// The token secret.
        key: String,
    },
}

impl Credentials {
    /// The scheme name as written in the header (`"Bearer"`, `"Basic"`, `"ApiKey"`).
    pub fn scheme(&self) -> &'static str {
        match self {
            Credentials::Bearer { .. } => "Bearer",
            Credentials::Basic { .. } => "Basic",
            Credentials::ApiKey { .. } => "ApiKey",
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Bearer { .. } => f
                .debug_struct("Bearer")
                .field("token", &"<redacted>")
                .finish(),
            Credentials::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::ApiKey { id, .. } => f
                .debug_struct("ApiKey")
                .field("id", id)
                .field("key", &"<redacted>")
                .finish(),
        }
    }
}

/// Parses the value of an HTTP `Authorization` header.
///
/// Supported (scheme names are case-insensitive, RFC 9110 §11.1):
///
/// * `Bearer <token>` — the token must not contain whitespace.
/// * `Basic <base64(user:password)>` — RFC 7617; split at the first `:`.
/// * `ApiKey <base64(id:key)>` — Elasticsearch style; `key` is a mamori API
///   token secret and `id` its public id (see [`Credentials::ApiKey`]).
///
/// Base64 padding is optional. Errors say precisely what is wrong (unknown
/// scheme, missing credentials, bad base64, not UTF-8, missing `:`, empty
/// user or secret, …) and never echo the secret.
pub fn parse_authorization(header_value: &str) -> Result<Credentials> {
    if header_value.len() > MAX_HEADER_BYTES {
        return Err(Error::AuthorizationTooLong {
            max: MAX_HEADER_BYTES,
        });
    }
    let value = header_value.trim_matches([' ', '\t']);
    if value.is_empty() {
        return Err(Error::EmptyAuthorization);
    }
    let (scheme, rest) = match value.split_once([' ', '\t']) {
        Some((s, r)) => (s, r.trim_matches([' ', '\t'])),
        None => (value, ""),
    };
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else if scheme.eq_ignore_ascii_case("basic") {
        "Basic"
    } else if scheme.eq_ignore_ascii_case("apikey") {
        "ApiKey"
    } else {
        // Only echo something that looks like a scheme name, truncated.
        let shown: String = scheme.chars().take(32).collect();
        return Err(Error::UnsupportedScheme(shown));
    };
    if rest.is_empty() {
        return Err(Error::MissingCredentials(scheme));
    }
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::MalformedCredentials(scheme));
    }
    if scheme == "Bearer" {
        return Ok(Credentials::Bearer {
            token: rest.to_owned(),
        });
    }

    let bytes = B64.decode(rest).map_err(|_| Error::InvalidBase64(scheme))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::InvalidUtf8(scheme))?;
    let (user, secret) = text.split_once(':').ok_or(Error::MissingColon(scheme))?;
    if user.is_empty() {
        return Err(Error::EmptyUser(scheme));
    }
    if secret.is_empty() {
        return Err(Error::EmptySecret(scheme));
    }
    if user.chars().any(char::is_control) {
        return Err(Error::MalformedCredentials(scheme));
    }
    if scheme == "Basic" {
        Ok(Credentials::Basic {
            user: user.to_owned(),
            password: secret.to_owned(),
        })
    } else {
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::MalformedCredentials(scheme));
        }
        Ok(Credentials::ApiKey {
            id: user.to_owned(),
            key: secret.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

    #[test]
    fn bearer() {
        let c = parse_authorization("Bearer mamori_ingest_abc-_DEF").unwrap();
        assert_eq!(
            c,
            Credentials::Bearer {
                token: "mamori_ingest_abc-_DEF".into()
            }
        );
        assert_eq!(c.scheme(), "Bearer");
        // Case-insensitive scheme, extra blanks tolerated.
        assert_eq!(
            parse_authorization("  bearer \t tok  ").unwrap(),
            Credentials::Bearer {
                token: "tok".into()
            }
        );
        assert_eq!(
            parse_authorization("Bearer"),
            Err(Error::MissingCredentials("Bearer"))
        );
        assert_eq!(
            parse_authorization("Bearer   "),
            Err(Error::MissingCredentials("Bearer"))
        );
        assert_eq!(
            parse_authorization("Bearer a b"),
            Err(Error::MalformedCredentials("Bearer"))
        );
    }

    #[test]
    fn basic() {
        let v = format!("Basic {}", STANDARD.encode("tanaka:pass:with:colons"));
        assert_eq!(
            parse_authorization(&v).unwrap(),
            Credentials::Basic {
                user: "tanaka".into(),
                password: "pass:with:colons".into()
            }
        );
        // Unpadded, lowercase scheme, Japanese user and password with a space.
        let v = format!(
            "basic {}",
            STANDARD_NO_PAD.encode("田中:ひみつ の あいことば")
        );
        assert_eq!(
            parse_authorization(&v).unwrap(),
            Credentials::Basic {
                user: "田中".into(),
                password: "ひみつ の あいことば".into()
            }
        );
        let enc = |s: &str| format!("Basic {}", STANDARD.encode(s));
        assert_eq!(
            parse_authorization(&enc("nocolon")),
            Err(Error::MissingColon("Basic"))
        );
        assert_eq!(
            parse_authorization(&enc(":pw")),
            Err(Error::EmptyUser("Basic"))
        );
        assert_eq!(
            parse_authorization(&enc("user:")),
            Err(Error::EmptySecret("Basic"))
        );
        assert_eq!(
            parse_authorization(&enc("us\ner:pw")),
            Err(Error::MalformedCredentials("Basic"))
        );
        assert_eq!(
            parse_authorization("Basic !!!notbase64"),
            Err(Error::InvalidBase64("Basic"))
        );
        let bad_utf8 = format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':', b'x']));
        assert_eq!(
            parse_authorization(&bad_utf8),
            Err(Error::InvalidUtf8("Basic"))
        );
    }

    #[test]
    fn api_key() {
        let v = format!("ApiKey {}", STANDARD.encode("1a2b3c4d:mamori_ingest_xyz"));
        assert_eq!(
            parse_authorization(&v).unwrap(),
            Credentials::ApiKey {
                id: "1a2b3c4d".into(),
                key: "mamori_ingest_xyz".into()
            }
        );
        let v = format!("APIKEY {}", STANDARD.encode("id:key with space"));
        assert_eq!(
            parse_authorization(&v),
            Err(Error::MalformedCredentials("ApiKey"))
        );
        let v = format!("ApiKey {}", STANDARD.encode("id-only"));
        assert_eq!(parse_authorization(&v), Err(Error::MissingColon("ApiKey")));
    }

    #[test]
    fn other_errors() {
        assert_eq!(parse_authorization(""), Err(Error::EmptyAuthorization));
        assert_eq!(parse_authorization("   "), Err(Error::EmptyAuthorization));
        assert_eq!(
            parse_authorization("Digest username=x"),
            Err(Error::UnsupportedScheme("Digest".into()))
        );
        assert!(matches!(
            parse_authorization(&"a".repeat(5000)),
            Err(Error::AuthorizationTooLong { .. })
        ));
        // Error messages are readable.
        assert!(
            Error::UnsupportedScheme("Digest".into())
                .to_string()
                .contains("Bearer, Basic or ApiKey")
        );
    }

    #[test]
    fn debug_redacts() {
        for v in [
            "Bearer s3cr3t-token".to_owned(),
            format!("Basic {}", STANDARD.encode("u:s3cr3t-token")),
            format!("ApiKey {}", STANDARD.encode("id:s3cr3t-token")),
        ] {
            let c = parse_authorization(&v).unwrap();
            assert!(!format!("{c:?}").contains("s3cr3t"), "{c:?}");
        }
    }
}
