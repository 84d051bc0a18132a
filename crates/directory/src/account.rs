//! Account names and how they are compared.
//!
//! One person has many names for "their account": `CITY\tanaka.k` in a Windows logon event,
//! `tanaka.k` in a file-server log, `tanaka.k@city.example.lg.jp` in mail, `A01234` as a
//! business-system operator ID. The rules:
//!
//! - Full-width ASCII is folded to ASCII and everything is lower-cased: Windows names are
//!   case-insensitive, and mail local parts are case-insensitive in every system a city runs.
//! - `DOMAIN\user` is a [`AccountForm::Windows`] name, `user@domain` (also `Name <user@domain>`)
//!   a [`AccountForm::Mail`] name, anything else a [`AccountForm::Bare`] name.
//! - Matching is by the **user part**, but only within the city's own domains: the domains that
//!   appear on any account in the roster are "internal". `CITY\tanaka.k`, `tanaka.k` and
//!   `tanaka.k@city.example.lg.jp` are the same key when CITY and city.example.lg.jp appear in
//!   the roster; `tanaka.k@gmail.com` or `PC01\tanaka.k` (a local machine account) are not —
//!   data sent to a home address must never be attributed to the employee by name alone.
//!   Consequence: a user part is one identity across all internal domains.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::date::halfwidth;

/// Longest account name accepted, in characters (a guard for hostile input).
pub const MAX_ACCOUNT_LEN: usize = 256;

/// The shape an account name was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccountForm {
    /// `user`
    Bare,
    /// `DOMAIN\user`
    Windows,
    /// `user@domain`
    Mail,
}

/// A normalised account name. Serialises as its canonical text (`city\tanaka.k`,
/// `tanaka.k@city.example.lg.jp`, `a01234`) and is re-checked when deserialised.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountName {
    form: AccountForm,
    user: String,
    domain: Option<String>,
}

/// Why a text is not an account name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{} / {}", self.ja(), self.en())]
pub enum AccountError {
    /// Nothing left after trimming.
    Empty,
    /// `CITY\` or `@city.lg.jp`: no user part.
    NoUser,
    /// `\user` or `user@`: no domain after the separator.
    NoDomain,
    /// Spaces, control characters, or more than one `\` / `@`.
    BadChar,
    /// Longer than [`MAX_ACCOUNT_LEN`].
    TooLong,
}

impl AccountError {
    /// The message in Japanese.
    pub fn ja(&self) -> &'static str {
        match self {
            AccountError::Empty => "アカウントが空です",
            AccountError::NoUser => "ユーザー名がありません",
            AccountError::NoDomain => "ドメインがありません",
            AccountError::BadChar => "アカウントに使えない文字があります",
            AccountError::TooLong => "アカウントが長すぎます",
        }
    }

    /// The message in English.
    pub fn en(&self) -> &'static str {
        match self {
            AccountError::Empty => "empty account",
            AccountError::NoUser => "no user part",
            AccountError::NoDomain => "no domain part",
            AccountError::BadChar => {
                "invalid character in account (space, control, ';', '/', or a second '\\' or '@')"
            }
            AccountError::TooLong => "account name too long",
        }
    }
}

impl AccountName {
    /// Normalises an account name (see the module doc).
    pub fn parse(text: &str) -> Result<Self, AccountError> {
        let s = halfwidth(text);
        let mut s = s.trim();
        // "田中 健 <tanaka.k@city.lg.jp>": the address inside the angle brackets.
        if let (Some(open), true) = (s.rfind('<'), s.ends_with('>')) {
            s = &s[open + 1..s.len() - 1];
        }
        let s = s.trim().to_lowercase();
        if s.is_empty() {
            return Err(AccountError::Empty);
        }
        if s.chars().count() > MAX_ACCOUNT_LEN {
            return Err(AccountError::TooLong);
        }
        if s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ';' || c == '/')
        {
            return Err(AccountError::BadChar);
        }
        let backslashes = s.matches('\\').count();
        let ats = s.matches('@').count();
        let (form, user, domain) = match (backslashes, ats) {
            (0, 0) => (AccountForm::Bare, s.as_str(), None),
            (1, 0) => {
                let (d, u) = s.split_once('\\').unwrap_or_default();
                (AccountForm::Windows, u, Some(d))
            }
            (0, 1) => {
                let (u, d) = s.split_once('@').unwrap_or_default();
                (AccountForm::Mail, u, Some(d))
            }
            _ => return Err(AccountError::BadChar),
        };
        if user.is_empty() {
            return Err(AccountError::NoUser);
        }
        if domain.is_some_and(str::is_empty) {
            return Err(AccountError::NoDomain);
        }
        Ok(AccountName {
            form,
            user: user.to_owned(),
            domain: domain.map(str::to_owned),
        })
    }

    /// The shape it was written in.
    pub fn form(&self) -> AccountForm {
        self.form
    }

    /// The user part (`tanaka.k`), lower-cased: the key accounts are matched by.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The domain (NetBIOS domain or mail domain), lower-cased, if any.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.form, &self.domain) {
            (AccountForm::Windows, Some(d)) => write!(f, "{d}\\{}", self.user),
            (AccountForm::Mail, Some(d)) => write!(f, "{}@{d}", self.user),
            _ => f.write_str(&self.user),
        }
    }
}

impl TryFrom<String> for AccountName {
    type Error = AccountError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AccountName::parse(&s)
    }
}

impl From<AccountName> for String {
    fn from(a: AccountName) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_case() {
        let a = AccountName::parse("CITY\\Tanaka.K").unwrap();
        assert_eq!(
            (a.form(), a.user(), a.domain()),
            (AccountForm::Windows, "tanaka.k", Some("city"))
        );
        assert_eq!(a.to_string(), "city\\tanaka.k");
        let m = AccountName::parse(" 田中 健 <Tanaka.K@City.Example.LG.JP> ").unwrap();
        assert_eq!(m.to_string(), "tanaka.k@city.example.lg.jp");
        assert_eq!(m.user(), "tanaka.k");
        let b = AccountName::parse("Ａ０１２３４").unwrap();
        assert_eq!(
            (b.form(), b.to_string()),
            (AccountForm::Bare, "a01234".to_owned())
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(AccountName::parse("  "), Err(AccountError::Empty));
        assert_eq!(AccountName::parse("CITY\\"), Err(AccountError::NoUser));
        assert_eq!(AccountName::parse("@city.lg.jp"), Err(AccountError::NoUser));
        assert_eq!(AccountName::parse("tanaka@"), Err(AccountError::NoDomain));
        assert_eq!(AccountName::parse("a\\b\\c"), Err(AccountError::BadChar));
        assert_eq!(AccountName::parse("a\\b@c"), Err(AccountError::BadChar));
        assert_eq!(AccountName::parse("tanaka k"), Err(AccountError::BadChar));
        assert_eq!(
            AccountName::parse(&"x".repeat(300)),
            Err(AccountError::TooLong)
        );
    }

    #[test]
    fn serde_round_trip_revalidates() {
        let a = AccountName::parse("CITY\\tanaka.k").unwrap();
        let j = serde_json::to_string(&a).unwrap();
        assert_eq!(j, r#""city\\tanaka.k""#);
        assert_eq!(serde_json::from_str::<AccountName>(&j).unwrap(), a);
        assert!(serde_json::from_str::<AccountName>(r#""a b""#).is_err());
    }
}
