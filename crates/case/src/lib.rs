//! The officers' workflows after detection: incident cases (事案), the leak report to the
//! Personal Information Protection Commission (個人情報保護委員会への漏えい等報告, 速報・確報)
//! with its deadlines, the monthly log review (操作ログ点検) with its sample and sign-off, and
//! the PDF reports (PPC draft, 操作ログ点検結果 with a chart, 持ち出し管理簿).
//!
//! What it does:
//! - keeps cases as a [`CaseBook`] changed only by [`CaseAction`]s (open from alerts or by hand,
//!   edit the facts, add evidence events, record actions taken, record a report as sent, close,
//!   reopen), each refused or applied by the same check on the live path and on replay
//!   ([`case`]); counts the affected persons from the evidence's record counts or takes the
//!   officer's number ([`Case::persons`]);
//! - drafts the 速報 and 確報 with the nine items pre-filled from the case and computes their
//!   deadlines from the 認知日 with the administrative calendar (3–5 days; 30 days, or 60 for an
//!   unlawful purpose, moved to the next working day when the last day is a day off) ([`ppc`]);
//! - builds the monthly log review: per-day per-department counts, the month's alerts, a
//!   reproducible sample, comments and sign-offs ([`logreview`]);
//! - renders the reports as PDF with a Japanese font ([`pdf`]).
//!
//! What it does not do: I/O. The caller (mamori-server) ledgers the actions as admin entries
//! (`event.action` from [`CASE_ACTIONS`] / [`logreview::LOGREVIEW_ACTIONS`]), rebuilds the books
//! by replaying them in ledger order, reads events, alerts and the directory, and verifies the
//! evidence's inclusion proofs. It does not send anything to the PPC.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod case;
pub mod logreview;
pub mod pdf;
pub mod ppc;

pub use case::{
    ActionTaken, CASE_ACTIONS, Case, CaseAction, CaseBook, CaseError, CaseFields, CaseState, EvidenceRef, HistoryEntry, PersonsCount, TimelineEntry,
};
pub use logreview::{LOGREVIEW_ACTIONS, LogReview, LogReviewAction, LogReviewBook, Month, Target};
pub use ppc::{Deadlines, DueStatus, PpcReport, ReportKind, deadlines, draft, due_status};
