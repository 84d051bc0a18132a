//! argon2id password hashing with a minimum policy.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{ARGON2ID_IDENT, Argon2};
use rand::rngs::OsRng;

use crate::{Error, Result};

/// Minimum password length, in characters (Unicode scalar values, so a
/// Japanese passphrase counts characters, not bytes).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Maximum password length in bytes; bounds the work done per login attempt.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks the password policy: at least [`MIN_PASSWORD_CHARS`] characters and
/// at most [`MAX_PASSWORD_BYTES`] bytes. The error message is bilingual
/// (Japanese / English).
pub fn check_password_policy(password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::PasswordTooLong {
            max: MAX_PASSWORD_BYTES,
        });
    }
    let got = password.chars().count();
    if got < MIN_PASSWORD_CHARS {
        return Err(Error::PasswordTooShort {
            min: MIN_PASSWORD_CHARS,
            got,
        });
    }
    Ok(())
}

/// Hashes `password` with argon2id (argon2 crate defaults: v19, m=19456 KiB,
/// t=2, p=1 — the OWASP recommendation) and a fresh random salt, returning a
/// PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…$…`).
///
/// Enforces [`check_password_policy`] first.
pub fn hash_password(password: &str) -> Result<String> {
    check_password_policy(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Hashing(e.to_string()))
}

/// Verifies `password` against an argon2id PHC string. Returns `false` for a
/// wrong password, a malformed PHC string, or a PHC string of any other
/// algorithm (argon2i/argon2d/bcrypt/…). The cost parameters are those stored
/// in the PHC string. The policy is *not* checked here (only when hashing).
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    if hash.algorithm != ARGON2ID_IDENT {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// Checks that `phc` is a well-formed argon2id PHC string with a salt and hash
/// and parameters argon2 accepts (used when applying admin records).
pub(crate) fn validate_phc(phc: &str) -> Result<()> {
    let hash = PasswordHash::new(phc).map_err(|e| Error::InvalidPasswordHash(e.to_string()))?;
    if hash.algorithm != ARGON2ID_IDENT {
        return Err(Error::InvalidPasswordHash(format!(
            "algorithm {} is not argon2id",
            hash.algorithm
        )));
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(Error::InvalidPasswordHash("missing salt or hash".into()));
    }
    argon2::Params::try_from(&hash).map_err(|e| Error::InvalidPasswordHash(e.to_string()))?;
    Ok(())
}

/// Characters of one-time passwords: no look-alikes (0/O, 1/l/I), so a password read aloud
/// or copied from paper is typed right.
const OTP_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY23456789";

/// A random one-time password for an administrator's password reset: 16 characters from
/// [`OTP_ALPHABET`] (about 91 bits), grouped `xxxx-xxxx-xxxx-xxxx` for reading (19
/// characters, within the policy).
pub fn one_time_password() -> String {
    use rand::Rng;
    let mut rng = OsRng;
    let mut out = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(OTP_ALPHABET[rng.gen_range(0..OTP_ALPHABET.len())] as char);
    }
    out
}

/// A valid argon2id hash of a random password, verified against when the user
/// does not exist or is disabled, so that such attempts take as long as a real
/// one (no user enumeration through timing).
pub(crate) fn dummy_phc() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"mamori-dummy-password-never-matches", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        validate_phc(&phc).unwrap();
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterY", &phc));
        assert!(!verify_password("correct horse battery", "not a phc"));
        // Salts are random.
        assert_ne!(phc, hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn policy() {
        let e = hash_password("short").unwrap_err();
        assert_eq!(e, Error::PasswordTooShort { min: 12, got: 5 });
        let msg = e.to_string();
        assert!(msg.contains("12文字以上"), "{msg}");
        assert!(msg.contains("at least 12 characters"), "{msg}");
        // 11 chars fails, 12 passes; Japanese counts characters, not bytes.
        assert!(check_password_policy("abcdefghijk").is_err());
        assert!(check_password_policy("abcdefghijkl").is_ok());
        assert!(check_password_policy("まもりまもりまもりまも").is_err()); // 11 chars, 33 bytes
        assert!(check_password_policy("まもりまもりまもりまもり").is_ok());
        assert!(matches!(
            check_password_policy(&"a".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(Error::PasswordTooLong { .. })
        ));
    }

    #[test]
    fn rejects_other_algorithms() {
        let phc = hash_password("correct horse battery").unwrap();
        let argon2i = phc.replacen("$argon2id$", "$argon2i$", 1);
        assert!(!verify_password("correct horse battery", &argon2i));
        assert!(validate_phc(&argon2i).is_err());
        assert!(validate_phc("$argon2id$v=19$m=19456,t=2,p=1").is_err());
        assert!(validate_phc("").is_err());
    }

    #[test]
    fn one_time_passwords() {
        let a = one_time_password();
        assert_eq!(a.len(), 19);
        assert_eq!(a.matches('-').count(), 3);
        assert!(a.chars().all(|c| c == '-' || OTP_ALPHABET.contains(&(c as u8))), "{a}");
        check_password_policy(&a).unwrap();
        assert_ne!(a, one_time_password());
    }

    #[test]
    fn dummy_is_valid() {
        validate_phc(dummy_phc()).unwrap();
        assert!(!verify_password("anything-at-all", dummy_phc()));
    }
}
