//! Turns untrusted log input into ECS 8.x documents.
//!
//! What it does:
//! - [`framing`]: splits a TCP syslog byte stream into frames per RFC 6587
//!   (octet counting §3.4.1, LF/CRLF/NUL-delimited §3.4.2), incrementally,
//!   with a frame-length cap and byte offsets on every frame and error.
//! - [`format::syslog`]: parses one RFC 5424 or RFC 3164 message into a nested
//!   ECS document ([`parse_syslog`]).
//! - [`format::evtx`]: reads a Windows `.evtx` file into one ECS document per record
//!   (Winlogbeat's `winlog.*` names plus ECS fields per event ID), with an error naming the
//!   chunk and record for each damaged part ([`parse_evtx`]).
//! - [`format::samba_audit`]: enriches syslog documents from Samba's
//!   `vfs_full_audit` (`smbd_audit`) with ECS file fields ([`parse_samba_audit`]).
//! - [`format::auditd`]: Linux `audit.log` records grouped by serial
//!   ([`framing::audit_assembler`]) into one ECS event each ([`parse_auditd`]).
//! - [`mapping`], [`format::csv_mapping`], [`format::webhook`]: business-system CSV exports
//!   (住基・税・福祉) and chat / cloud-sharing webhooks read through declarative TOML mappings
//!   ([`parse_csv_mapped`], [`parse_webhook`]).
//! - [`format::postfix`]: per-line mail fields for Postfix syslog lines and the
//!   [`MailCorrelator`] that joins one message's lines by queue id into one message event.
//! - [`format::squid`], [`format::cups`]: Squid `access.log` (native/combined) and CUPS
//!   `page_log`/`access_log` lines, with typed per-line errors ([`LineParseError`]).
//! - [`format::auth`], [`format::kernel_usb`]: sshd/sudo/su/PAM/slapd and kernel USB lines
//!   (syslog or [`format::journald`]), completed across lines by [`format::correlate`].
//! - [`format::usbguard`]: USBGuard's audit log and `usbguard watch` output.
//! - [`format::ndjson`]: splits an NDJSON body into lines and parses each one
//!   as a JSON object ([`parse_ndjson`]).
//!
//! What it does not do: no network or file I/O, no storage, no hashing or
//! signing, and no validation of ECS field *types* in NDJSON input (another
//! crate owns the schema). Nothing here decides what is suspicious; it only
//! makes input structured, and hands back the raw bytes of anything it
//! rejects so the caller can quarantine them instead of dropping evidence.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod format;
pub mod framing;
pub mod mapping;

pub use format::auditd::{AuditRecord, AuditdError, AuditdErrorReason, AuditdEvent, parse_auditd};
pub use format::csv_mapping::{CsvParsed, MappedRecord, RowError, parse_csv_mapped};
pub use format::webhook::parse_webhook;
pub use mapping::{Mapping, MappingError};
pub use format::evtx::{EvtxError, EvtxErrorReason, EvtxEvent, enrich_winlogbeat_doc, evtx_to_ecs, parse_evtx, parse_evtx_threads};
pub use format::ndjson::{
    DEFAULT_MAX_LINE, LineError, LineErrorReason, NdjsonLines, NdjsonRecord, ndjson_lines,
    parse_ndjson,
};
pub use format::es_bulk::{BulkItem, BulkRefusal, pair_bulk};
pub use format::cups::{parse_access_log_line, parse_page_log_line};
pub use format::postfix::{MailCorrelator, parse_postfix_message};
pub use format::squid::parse_squid_line;
pub use format::text_line::{LineParseError, LinePos};
pub use format::samba_audit::{SAMBA_AUDIT_APPNAME, enrich_syslog_doc, parse_samba_audit};
pub use format::syslog::{SyslogContext, SyslogError, SyslogErrorKind, parse_syslog};
pub use format::{Format, UnknownFormat};
pub use framing::{DEFAULT_MAX_FRAME, Frame, Framer, FramingError, FramingMode};
