//! Rosters in another layout through the sources' declarative mapping (`roster_map`): a
//! personnel system's CP932 export with title lines, different column names, 和暦 dates,
//! 発令区分 codes, one row per 発令 and the accounts split over three columns, mapped onto the
//! roster model by the shipped `jinji-a` mapping; identity at dates afterwards; malformed rows
//! named by the original line and column while the rest imports; mappings that are not roster
//! mappings refused with the key.
mod common;
use common::*;
use mamori_directory::roster_map::{builtin, check_roster_mapping, parse_roster_mapped};
use mamori_directory::{Column, Directory, ImportRecord, Problem, SourceEncoding, Status};
use mamori_sources::Mapping;

/// The personnel system's export (written as UTF-8 here, encoded to CP932 below).
const EXPORT: &str = "人事給与システム 異動履歴出力\r
出力日: 令和6年4月1日,,,,,,,,,,,,,\r
職員コード,姓,名,セイ,メイ,所属CD,所属名称,職位名称,発令年月日,発令区分,退職年月日,WindowsログオンID,住基操作者ID,メールアドレス\r
001234,山田,太郎,ヤマダ,タロウ,2010,市民課,主事,令和2年4月1日,10,,yamada.t,JK0123,yamada.t@city.example.lg.jp\r
001234,山田,太郎,ヤマダ,タロウ,3010,税務課,主事,R4.4.1,20,,yamada.t,,yamada.t@city.example.lg.jp\r
001234,山田,太郎,ヤマダ,タロウ,9100,選挙管理委員会事務局,書記,令和5年7月1日,30,,,,\r
005678,佐藤,花子,サトウ,ハナコ,2010,市民課,主査,平成31年4月1日,10,,sato.h,JK0456,sato.h@city.example.lg.jp\r
005678,佐藤,花子,サトウ,ハナコ,2010,市民課,主査,令和6年3月31日,90,令和6年3月31日,,,\r
007777,鈴木,一郎,スズキ,イチロウ,2010,市民課,主事,令和3年4月1日,99,,suzuki.i,,\r
008888,高橋,次郎,タカハシ,ジロウ,2010,市民課,主事,令和4年13月1日,10,,takahashi.j,,\r
,田中,三郎,タナカ,サブロウ,2010,市民課,主事,令和4年4月1日,10,,tanaka.s,,\r
009999,伊藤,四郎,イトウ,シロウ,2010,市民課,主事,令和4年4月1日,11,,ito.s,,\r
";

fn cp932(s: &str) -> Vec<u8> {
    let (b, _, bad) = encoding_rs::SHIFT_JIS.encode(s);
    assert!(!bad, "fixture must be CP932-encodable");
    b.into_owned()
}

#[test]
fn personnel_export_in_cp932_maps_onto_the_roster() {
    let m = builtin("jinji-a").expect("shipped");
    let bytes = cp932(EXPORT);
    assert!(std::str::from_utf8(&bytes).is_err(), "really CP932");
    let rec = ImportRecord::from_mapped_csv("r1", &m, &bytes, at(2024, 4, 1), Some("idou.csv".into())).unwrap();
    assert_eq!(rec.encoding, Some(SourceEncoding::Cp932));
    // Six good orders (lines 4–8 and 13); three refused.
    assert_eq!(rec.rows.len(), 6, "{:?}", rec.errors);
    assert_eq!(rec.rows.iter().map(|r| r.row).collect::<Vec<_>>(), [4, 5, 6, 7, 8, 12]);
    let first = &rec.rows[0];
    assert_eq!(first.staff_id, "001234");
    assert_eq!(first.name, "山田 太郎");
    assert_eq!(first.name_kana, "ヤマダ タロウ");
    assert_eq!(first.effective, d(2020, 4, 1));
    assert_eq!(first.accounts.len(), 3, "three account columns: {:?}", first.accounts);

    // Errors: the original line, the original column and the roster column.
    let errs: Vec<(u64, Option<Column>, Option<&str>)> = rec.errors.iter().map(|e| (e.row, e.column, e.source_column.as_deref())).collect();
    assert_eq!(
        errs,
        [
            (9, Some(Column::Change), Some("発令区分")),
            (10, Some(Column::Effective), Some("発令年月日")),
            (11, Some(Column::StaffId), Some("職員コード")),
        ],
        "{:?}",
        rec.errors
    );
    assert_eq!(rec.errors[0].problem, Problem::UnknownChange);
    assert!(matches!(rec.errors[1].problem, Problem::BadDate(_)));
    assert_eq!(rec.errors[2].problem, Problem::Empty);
    let shown = rec.errors[1].to_string();
    assert!(shown.starts_with("10行目「発令年月日」(名簿の発令日)"), "{shown}");
    assert!(shown.contains("令和4年13月1日") && shown.contains("row 10, column 発令年月日 (roster 発令日)"), "{shown}");

    // Who was who, from the mapped orders.
    let mut dir = Directory::new();
    dir.apply(&rec).unwrap();
    let code = |id: &str, day| dir.person(id, day).unwrap().post.map(|p| p.dept_code);
    assert_eq!(code("001234", d(2022, 3, 31)).as_deref(), Some("2010"));
    assert_eq!(code("001234", d(2022, 4, 1)).as_deref(), Some("3010"), "異動 (code 20) on R4.4.1");
    assert_eq!(dir.person("001234", d(2023, 7, 1)).unwrap().dept_codes(), ["3010", "9100"], "兼務 (code 30)");
    assert_eq!(status(&dir, "005678", d(2024, 3, 31)), Status::Employed, "the retirement day itself");
    assert_eq!(status(&dir, "005678", d(2024, 4, 1)), Status::Retired, "the day after");
    assert_eq!(status(&dir, "009999", d(2022, 4, 1)), Status::Employed, "code 11 is also 採用");
    // Each of the split account columns resolves to the person.
    for acct in ["yamada.t", "JK0123", "yamada.t@city.example.lg.jp"] {
        assert_eq!(person(dir.resolve(acct, d(2021, 1, 1))).staff_id, "001234", "{acct}");
    }
    assert_eq!(person(dir.resolve("JK0456", d(2024, 4, 1))).status, Status::Retired);
}

#[test]
fn missing_source_column_is_reported_once_on_the_header() {
    let m = builtin("jinji-a").unwrap();
    let text = EXPORT.replace("住基操作者ID", "操作者ID");
    let p = parse_roster_mapped(&m, "x.csv", &cp932(&text), at(2024, 4, 1)).unwrap();
    assert!(p.rows.is_empty());
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert_eq!(p.errors[0].row, 3, "the header is line 3 (after two title lines)");
    assert_eq!(p.errors[0].source_column.as_deref(), Some("住基操作者ID"));
    assert_eq!(p.errors[0].column, Some(Column::Accounts));
}

#[test]
fn mappings_that_are_not_roster_mappings_are_refused_with_the_key() {
    let base = "[mapping]\nname = \"hr\"\ninput = \"csv\"\n[fields.\"職員番号\"]\nfrom = \"ID\"\n[fields.\"氏名\"]\nfrom = \"名前\"\n[fields.\"発令日\"]\nfrom = \"日付\"\n";
    // 異動区分 missing: a snapshot roster gives it as a constant.
    let e = check_roster_mapping(&Mapping::parse(base, "hr.toml").unwrap()).unwrap_err();
    assert_eq!(e.key, "fields.\"異動区分\"");
    let snapshot = format!("{base}[fields.\"所属コード\"]\nfrom = \"課\"\n[constants]\n\"異動区分\" = \"採用\"\n");
    let m = Mapping::parse(&snapshot, "hr.toml").unwrap();
    check_roster_mapping(&m).unwrap();
    let p = parse_roster_mapped(&m, "s.csv", "ID,名前,課,日付\n1,山田 太郎,2010,2020/4/1\n".as_bytes(), at(2024, 1, 1)).unwrap();
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.rows[0].change, mamori_directory::ChangeType::Hire);
    // A target that is no roster column.
    let e = check_roster_mapping(&Mapping::parse(&format!("{snapshot}[fields.\"部署\"]\nfrom = \"課\"\n"), "hr.toml").unwrap()).unwrap_err();
    assert_eq!(e.key, "fields.\"部署\"");
    assert!(e.to_string().contains("職員番号"), "lists the usable names: {e}");
    // An operation-log mapping is not a roster mapping.
    let juki = Mapping::builtin("juki-a").unwrap();
    assert!(check_roster_mapping(&juki).is_err());
}
