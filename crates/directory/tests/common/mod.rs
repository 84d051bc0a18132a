//! Shared fixtures for the directory tests.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mamori_directory::{Directory, ImportRecord, KnownAt, Resolution, Status, View};

/// The standard roster header.
pub const HEADER: &str =
    "職員番号,氏名,氏名カナ,所属コード,所属名,職名,発令日,異動区分,退職日,アカウント\n";

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// A recorded time (import time), noon UTC on the day.
pub fn at(y: i32, m: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, day, 12, 0, 0).unwrap()
}

/// Parses `body` (rows without the header) and returns the record, asserting no row errors.
pub fn record(id: &str, body: &str, recorded: DateTime<Utc>) -> ImportRecord {
    let rec = ImportRecord::from_csv(id, format!("{HEADER}{body}").as_bytes(), recorded, None);
    assert!(
        rec.errors.is_empty(),
        "unexpected row errors: {:?}",
        rec.errors
    );
    rec
}

/// Applies `body` as an import to `dir`.
pub fn import(dir: &mut Directory, id: &str, body: &str, recorded: DateTime<Utc>) -> ImportRecord {
    let rec = record(id, body, recorded);
    dir.apply(&rec).expect("apply");
    rec
}

pub fn latest(date: NaiveDate) -> View {
    View {
        date,
        known: KnownAt::Latest,
    }
}

/// The single person an account resolves to, or a panic saying what it resolved to instead.
pub fn person(r: Resolution) -> mamori_directory::PersonState {
    match r {
        Resolution::Person(p) => *p,
        other => panic!("expected one person, got {other:?}"),
    }
}

pub fn status(dir: &Directory, id: &str, date: NaiveDate) -> Status {
    dir.person(id, date).expect("person known").status
}
