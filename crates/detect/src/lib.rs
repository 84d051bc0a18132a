//! Detection for mamori: the municipal rule pack (rules that consult the org chart at the
//! event's date), findings and alerts, the Japanese working calendar, and robust baselines.
//!
//! What it does: evaluates ledgered ECS events in ledger order ([`Engine`]) against rules that
//! ask a [`Context`] who a person was that day (department, retirement, entitlements, approved
//! takeouts, registered USB media); groups findings into [`Alert`]s (same rule + person + day)
//! with states new → triaged → closed; computes national holidays (振替休日, 国民の休日, the
//! equinox formula) and 年末年始 ([`calendar`]).
//!
//! What it does not do: I/O. Storing alerts, ledgering officer actions, notifications and the
//! Sigma engine live in the server and in `mamori-sigma`. Rule state is saved and restored as
//! JSON by the caller.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod alert;
pub mod baseline;
pub mod calendar;
pub mod context;
pub mod engine;
pub mod event;
pub mod lists;
pub mod rules;

pub use alert::{Alert, AlertAction, AlertBook, AlertState, Finding, HistoryEntry, Severity};
pub use context::{Channel, Context, DirectoryContext, Person, Policy, Subject, UsbCheck};
pub use engine::{Engine, POLICY_ACTION};
pub use event::Event;
pub use rules::{Rule, RuleMeta};
