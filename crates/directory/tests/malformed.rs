//! Malformed rows: each error names the row and the column; the other rows import.
mod common;
use common::*;
use mamori_directory::{
    AccountError, ChangeType, Column, Directory, ImportRecord, Problem, parse_roster,
};

const BODY: &str = "\
100,良い 行,,1100,市民課,主事,2022/4/1,採用,,good\n\
,番号なし,,1100,市民課,主事,2022/4/1,採用,,\n\
102,区分不明,,1100,市民課,主事,2022/4/1,出向,,\n\
103,日付不正,,1100,市民課,主事,令和4年13月1日,採用,,\n\
104,所属なし,,,,主事,2022/4/1,異動,,\n\
105,退職日逆転,,1100,市民課,主事,2022/4/1,採用,2022/3/31,\n\
106,アカウント不正,,1100,市民課,主事,2022/4/1,採用,,\"ok.user;CITY\\;a b\"\n\
107,\"カンマ,入り\",,1100,市民課,主事,2022/4/1,採用,,\n\
108,列ずれ,1100,市民課,主事,2022/4/1,採用,,,x,y\n\
109,,,1100,市民課,主事,2023-02-29,,,\n";

#[test]
fn each_bad_row_is_reported_and_the_good_ones_import() {
    let (rows, errs) = parse_roster(format!("{HEADER}{BODY}").as_bytes(), at(2022, 4, 2));
    let ids: Vec<_> = rows.iter().map(|r| r.staff_id.as_str()).collect();
    assert_eq!(
        ids,
        ["100", "107"],
        "quoted commas are fine; everything else here is broken"
    );
    let got: Vec<_> = errs
        .iter()
        .map(|e| (e.row, e.column, e.problem.clone()))
        .collect();
    use Column::*;
    assert_eq!(
        got,
        vec![
            (3, Some(StaffId), Problem::Empty),
            (4, Some(Change), Problem::UnknownChange),
            (
                5,
                Some(Effective),
                Problem::BadDate(mamori_directory::DateError::NotADate)
            ),
            (
                6,
                Some(DeptCode),
                Problem::RequiredFor {
                    change: ChangeType::Transfer
                }
            ),
            (7, Some(RetirementDate), Problem::RetirementBeforeEffective),
            (8, Some(Accounts), Problem::BadAccount(AccountError::NoUser)),
            (
                8,
                Some(Accounts),
                Problem::BadAccount(AccountError::BadChar)
            ),
            (
                10,
                None,
                Problem::FieldCount {
                    found: 11,
                    expected: 10
                }
            ),
            (11, Some(Name), Problem::Empty),
            (11, Some(Change), Problem::Empty),
            (
                11,
                Some(Effective),
                Problem::BadDate(mamori_directory::DateError::NoSuchDay)
            ),
        ]
    );
}

#[test]
fn messages_are_japanese_first_with_english_and_a_hint() {
    let (_, errs) = parse_roster(format!("{HEADER}{BODY}").as_bytes(), at(2022, 4, 2));
    let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts[0],
        "3行目「職員番号」: 空欄です/ row 3, column 職員番号: empty"
    );
    assert_eq!(
        texts[1],
        "4行目「異動区分」: 異動区分が不明です(出向)/ row 4, column 異動区分: unknown change type"
    );
    assert_eq!(
        texts[2],
        "5行目「発令日」: 日付として読めません(令和4年13月1日)/ row 5, column 発令日: not a date"
    );
    assert_eq!(
        texts[3],
        "6行目「所属コード」: 異動区分が異動の行では必須です/ row 6, column 所属コード: required when 異動区分 is 異動"
    );
    assert!(
        texts[7].starts_with("10行目: 列の数が見出しと違います(11列、見出しは10列)"),
        "{}",
        texts[7]
    );
    assert!(errs[1].hint().contains("兼務解除"));
    assert!(errs[7].hint().contains("\"...\""));
}

#[test]
fn errors_are_kept_in_the_import_record_and_good_rows_apply() {
    let rec = ImportRecord::from_csv(
        "r",
        format!("{HEADER}{BODY}").as_bytes(),
        at(2022, 4, 2),
        Some("名簿.csv".into()),
    );
    assert_eq!((rec.rows.len(), rec.errors.len()), (2, 11));
    let json = serde_json::to_string(&rec).unwrap();
    assert!(
        json.contains("令和4年13月1日"),
        "the refused value is in the ledgered record"
    );
    let mut dir = Directory::new();
    let meta = dir.apply(&rec).unwrap();
    assert_eq!((meta.rows, meta.errors), (2, 11));
    assert!(dir.person("100", d(2022, 4, 1)).is_some());
    assert!(
        dir.person("103", d(2022, 4, 1)).is_none(),
        "a refused row contributes nothing"
    );
}

#[test]
fn missing_required_column_refuses_the_file_with_the_column_named() {
    let csv = "職員番号,氏名,所属コード,異動区分\n1,田中,1100,採用\n";
    let (rows, errs) = parse_roster(csv.as_bytes(), at(2022, 4, 2));
    assert!(rows.is_empty());
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].to_string(),
        "1行目「発令日」: 必須の列が見出しにありません/ row 1, column 発令日: required column missing from the header"
    );
}

#[test]
fn optional_columns_may_be_absent_and_columns_may_be_reordered() {
    let csv =
        "発令日,異動区分,氏名,職員番号,所属コード,フリガナ\n2022/4/1,採用,田中,1,1100,タナカ\n";
    let (rows, errs) = parse_roster(csv.as_bytes(), at(2022, 4, 2));
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(
        (
            rows[0].staff_id.as_str(),
            rows[0].name_kana.as_str(),
            rows[0].dept_code.as_str()
        ),
        ("1", "タナカ", "1100")
    );
    assert!(rows[0].accounts.is_empty());
}

#[test]
fn long_values_are_shortened_in_messages() {
    let long = "x".repeat(500);
    let csv = format!("{HEADER}1,田中,,1100,市民課,主事,{long},採用,,\n");
    let (_, errs) = parse_roster(csv.as_bytes(), at(2022, 4, 2));
    assert_eq!(errs[0].value.chars().count(), 61);
    assert!(errs[0].value.ends_with('…'));
}
