//! Encodings: UTF-8, UTF-8 with BOM, CP932 (encoded here with encoding_rs, not hand-typed).
mod common;
use common::*;
use mamori_directory::{Column, ImportRecord, Problem, SourceEncoding, parse_roster_detailed};

const BODY: &str = "00042,髙橋 﨑子,タカハシ サキコ,1100,市民課（窓口）,主事,令和4年4月1日,採用,,\"CITY\\takahashi.s\"\r\n\
                    00043,①番 太郎,,1100,市民課,主事,2022/4/1,採用,,\r\n";

fn cp932(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable, "fixture must be representable in CP932");
    bytes.into_owned()
}

#[test]
fn cp932_roster_with_ibm_and_nec_extensions() {
    let bytes = cp932(&format!("{HEADER}{BODY}"));
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture really is not UTF-8"
    );
    let parsed = parse_roster_detailed(&bytes, at(2022, 4, 2));
    assert_eq!(parsed.encoding, Some(SourceEncoding::Cp932));
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(
        parsed.rows[0].name, "髙橋 﨑子",
        "IBM extension kanji survive"
    );
    assert_eq!(parsed.rows[0].dept_name, "市民課（窓口）");
    assert_eq!(parsed.rows[0].effective, d(2022, 4, 1));
    assert_eq!(
        parsed.rows[1].name, "①番 太郎",
        "NEC special characters survive"
    );
    assert_eq!(parsed.rows[0].accounts[0].to_string(), "city\\takahashi.s");
}

#[test]
fn utf8_with_and_without_bom() {
    let text = format!("{HEADER}{BODY}");
    let plain = parse_roster_detailed(text.as_bytes(), at(2022, 4, 2));
    assert_eq!(plain.encoding, Some(SourceEncoding::Utf8));
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(text.as_bytes());
    let with_bom = parse_roster_detailed(&bom, at(2022, 4, 2));
    assert_eq!(with_bom.encoding, Some(SourceEncoding::Utf8Bom));
    assert!(
        with_bom.errors.is_empty(),
        "the BOM must not hide the 職員番号 header: {:?}",
        with_bom.errors
    );
    assert_eq!(with_bom.rows, plain.rows);
}

#[test]
fn cp932_and_utf8_give_the_same_record_rows() {
    let text = format!("{HEADER}{BODY}");
    let a = ImportRecord::from_csv("a", text.as_bytes(), at(2022, 4, 2), None);
    let b = ImportRecord::from_csv("b", &cp932(&text), at(2022, 4, 2), None);
    assert_eq!(a.rows, b.rows);
    assert_ne!(
        a.source_sha256, b.source_sha256,
        "the hash is of the bytes as given"
    );
}

#[test]
fn undecodable_bytes_are_reported_on_their_row_and_column() {
    let mut bytes = cp932(&format!(
        "{HEADER}1,田中,,1100,市民課,主事,2022/4/1,採用,,\r\n2,"
    ));
    bytes.extend_from_slice(&[0x93, 0x63, 0xFF]); // 田 then a byte CP932 does not have
    bytes.extend_from_slice(&cp932(",,1100,市民課,主事,2022/4/1,採用,,\r\n"));
    let parsed = parse_roster_detailed(&bytes, at(2022, 4, 2));
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.errors.len(), 1);
    let e = &parsed.errors[0];
    assert_eq!(
        (e.row, e.column, &e.problem),
        (3, Some(Column::Name), &Problem::Undecodable)
    );
}

#[test]
fn utf16_is_refused_clearly() {
    let mut bytes = vec![0xFF, 0xFE];
    for u in HEADER.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let parsed = parse_roster_detailed(&bytes, at(2022, 4, 2));
    assert!(parsed.rows.is_empty());
    assert_eq!(parsed.errors[0].problem, Problem::Utf16);
    assert!(
        parsed.errors[0]
            .to_string()
            .starts_with("1行目: UTF-16のファイルは読めません")
    );
}
