//! # mamori-auth — roles, local accounts, API tokens and the permission table
//!
//! This crate decides **who** is calling the mamori server and **what** they may
//! do. It is a pure library:
//!
//! * [`Role`] — the six roles (管理者, 情報セキュリティ担当, 監査担当, 閲覧者,
//!   取込専用, 証人) and their stable lowercase names.
//! * [`Action`] (alias [`Permission`]) — one variant per kind of server endpoint,
//!   and the single least-privilege table [`PERMISSIONS`] read by [`allowed`].
//! * Passwords — [`hash_password`] / [`verify_password`] using argon2id PHC
//!   strings, with a minimum policy ([`MIN_PASSWORD_CHARS`]).
//! * API tokens — [`Token::generate`] returns the secret exactly once; only its
//!   SHA-256 is kept in a [`TokenRecord`].
//! * [`AuthState`] — an in-memory state machine that *applies* [`AdminRecord`]s.
//!   The server writes those records into the tamper-evident ledger (wrapped
//!   with actor and time by the caller); replaying them in ledger order
//!   rebuilds the accounts and tokens.
//! * [`parse_authorization`] — parses an HTTP `Authorization` header value
//!   (`Bearer`, `Basic`, `ApiKey`) into [`Credentials`] without depending on any
//!   web framework.
//!
//! ## What it does not do
//!
//! * No I/O: no database, no files, no network, no logging. Persisting
//!   [`AdminRecord`]s and replaying them is the caller's job. The only ambient
//!   inputs are the OS random number generator (salts, token secrets) and, in
//!   the convenience constructor [`Token::generate`], the system clock;
//!   [`Token::generate_with`] takes both from the caller.
//! * No sessions, cookies, CSRF protection, rate limiting or lock-out after
//!   failed attempts — those belong to the HTTP layer.
//! * No external identity providers (LDAP/AD, SAML, OIDC).
//! * It does not record *who* performed an admin operation or *when*: the
//!   ledger entry that wraps the [`AdminRecord`] does.
//! * It does not decide which endpoint maps to which [`Action`]; the server
//!   does, and then asks [`allowed`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod action;
mod error;
mod header;
mod password;
mod role;
mod state;
mod token;

pub use action::{Action, PERMISSIONS, Permission, allowed, roles_for};
pub use error::{Error, Result};
pub use header::{Credentials, parse_authorization};
pub use password::{
    MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, check_password_policy, hash_password, one_time_password,
    verify_password,
};
pub use role::Role;
pub use state::{AdminRecord, AuthMethod, AuthState, Login, Principal, TokenState, User};
pub use token::{TOKEN_PREFIX, Token, TokenRecord, token_sha256_hex};
