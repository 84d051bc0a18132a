//! Any bytes as a permission-export CSV (standard mapping) and as smb.conf: never panic; every
//! refused row names a row ≥ 1; what imported applies to a directory and answers grants_of.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let day = chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
    let csv = mamori_directory::parse_grant_csv(data, &mamori_directory::GrantMapping::standard("fuzz"), day);
    assert!(csv.errors.iter().all(|e| e.row >= 1));
    let smb = mamori_directory::parse_smb_conf(&String::from_utf8_lossy(data), "smb:fuzz", day);
    assert!(smb.errors.iter().all(|e| e.row >= 1));
    let mut dir = mamori_directory::Directory::new();
    for (i, s) in [csv, smb].into_iter().enumerate() {
        let rec = mamori_directory::DirectoryRecord {
            format: mamori_directory::RECORD_FORMAT,
            id: format!("f{i}"),
            recorded_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            actor: "fuzz".into(),
            change: mamori_directory::DirectoryChange::Grants(s),
        };
        dir.apply_record(&rec).unwrap();
    }
    let _ = dir.grants_of("sato.h", day);
    let _ = dir.review_access(day, &Default::default());
});
