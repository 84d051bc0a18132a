//! Message formats: turning one unit of input (a syslog frame, an NDJSON
//! body) into ECS documents. Framing (where a message starts and ends) lives
//! in [`crate::framing`]; this module only looks at the bytes of one unit.

use std::fmt;
use std::str::FromStr;

pub mod auditd;
pub mod auth;
pub mod correlate;
pub mod csv_mapping;
pub mod cups;
pub mod es_bulk;
pub mod evtx;
pub mod journald;
pub mod kernel_usb;
pub mod ndjson;
pub mod postfix;
pub mod samba_audit;
pub mod squid;
pub mod syslog;
pub mod usbguard;
pub mod text_line;
pub mod webhook;

/// Input format selected on the command line (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Newline-delimited JSON whose objects are already ECS documents
    /// (`ecs-ndjson`).
    EcsNdjson,
    /// Syslog, RFC 5424 or RFC 3164, auto-detected per message (`syslog`).
    Syslog,
    /// Windows event log files, `.evtx` (`evtx`); one whole file per input.
    Evtx,
    /// Business-system CSV exports read through a declarative mapping (`csv-mapping`; the
    /// mapping is given separately, see [`crate::mapping`]).
    CsvMapping,
    /// Webhook / audit-log JSON read through a declarative mapping (`webhook`).
    Webhook,
    /// Linux audit `audit.log` (`auditd`), records assembled into events by serial.
    Auditd,
    /// USBGuard audit log and `usbguard watch` output (`usbguard`).
    Usbguard,
    /// systemd journal entries, `journalctl -o json` (`journald`).
    Journald,
    /// Postfix logs (`postfix`): syslog lines or `maillog_file`, each line an event, plus one
    /// derived message event per queue id ([`postfix::MailCorrelator`]).
    Postfix,
    /// Squid `access.log` (`squid`), native and combined/common formats detected per line.
    Squid,
    /// CUPS `page_log` (`cups-page`), default or mamori's keyed `PageLogFormat`.
    CupsPage,
    /// CUPS `access_log` (`cups-access`), Common Log Format plus IPP operation and status.
    CupsAccess,
}

impl Format {
    /// Every format, in the order the help text lists them.
    pub const ALL: [Format; 12] = [
        Format::EcsNdjson,
        Format::Syslog,
        Format::Evtx,
        Format::CsvMapping,
        Format::Webhook,
        Format::Auditd,
        Format::Usbguard,
        Format::Journald,
        Format::Postfix,
        Format::Squid,
        Format::CupsPage,
        Format::CupsAccess,
    ];

    /// Every format name, comma-separated (for help texts and error hints).
    pub fn names() -> String {
        Format::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::EcsNdjson => "ecs-ndjson",
            Format::Syslog => "syslog",
            Format::Evtx => "evtx",
            Format::CsvMapping => "csv-mapping",
            Format::Webhook => "webhook",
            Format::Auditd => "auditd",
            Format::Usbguard => "usbguard",
            Format::Journald => "journald",
            Format::Postfix => "postfix",
            Format::Squid => "squid",
            Format::CupsPage => "cups-page",
            Format::CupsAccess => "cups-access",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The given format name is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown input format {0:?}; hint: use one of {names}", names = Format::names())]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Case-insensitive because people type `Syslog` in config files; no
        // other aliases so that the accepted set stays documented and small.
        match s.trim().to_ascii_lowercase().as_str() {
            "ecs-ndjson" => Ok(Format::EcsNdjson),
            "syslog" => Ok(Format::Syslog),
            "evtx" => Ok(Format::Evtx),
            "csv-mapping" => Ok(Format::CsvMapping),
            "webhook" => Ok(Format::Webhook),
            "auditd" => Ok(Format::Auditd),
            "usbguard" => Ok(Format::Usbguard),
            "journald" => Ok(Format::Journald),
            "postfix" => Ok(Format::Postfix),
            "squid" => Ok(Format::Squid),
            "cups-page" => Ok(Format::CupsPage),
            "cups-access" => Ok(Format::CupsAccess),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_str_round_trips() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!("SYSLOG".parse::<Format>().unwrap(), Format::Syslog);
    }

    #[test]
    fn from_str_rejects_unknown() {
        let err = "json".parse::<Format>().unwrap_err();
        assert_eq!(err, UnknownFormat("json".into()));
        for f in Format::ALL {
            assert!(err.to_string().contains(f.as_str()), "{err} lacks {f}");
        }
    }
}
