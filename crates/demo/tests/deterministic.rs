//! The same seed and sizes give byte-identical output; another seed gives another city.

use std::collections::BTreeMap;
use std::path::Path;

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn same_seed_same_bytes() {
    let cfg = mamori_demo::Config {
        seed: 7,
        staff: 80,
        residents: 1000,
        days: 400,
        activity: 100,
    };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let sa = mamori_demo::generate(&cfg, a.path()).unwrap();
    let sb = mamori_demo::generate(&cfg, b.path()).unwrap();
    assert_eq!(sa.events, sb.events);
    assert!(sa.events > 50_000, "{}", sa.events);
    let (ta, tb) = (tree(a.path()), tree(b.path()));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(
            v == &tb[k],
            "{k} differs between two runs with the same seed"
        );
    }
    assert!(ta.contains_key("labels.json") && ta.contains_key("manifest.json"));
    let c = tempfile::tempdir().unwrap();
    mamori_demo::generate(&mamori_demo::Config { seed: 8, ..cfg }, c.path()).unwrap();
    let tc = tree(c.path());
    assert_ne!(
        ta["directory/roster.csv"], tc["directory/roster.csv"],
        "another seed, another roster"
    );
}

#[test]
fn resident_numbers_have_valid_check_digits() {
    let d = tempfile::tempdir().unwrap();
    mamori_demo::generate(
        &mamori_demo::Config {
            seed: 3,
            staff: 60,
            residents: 1000,
            days: 400,
            activity: 100,
        },
        d.path(),
    )
    .unwrap();
    let text = std::fs::read_to_string(d.path().join("residents/residents.csv")).unwrap();
    let mut n = 0;
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        assert!(
            mamori_pii::checkdigit::juminhyo_code(c[6]) && c[6].starts_with("00000"),
            "{line}"
        );
        assert!(
            mamori_pii::checkdigit::my_number(c[7]) && c[7].starts_with("0000"),
            "{line}"
        );
        n += 1;
    }
    assert_eq!(n, 1000);
}

#[test]
fn too_few_days_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let e = mamori_demo::generate(
        &mamori_demo::Config {
            seed: 1,
            staff: 100,
            residents: 1000,
            days: 100,
            activity: 100,
        },
        d.path(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("400"), "{e}");
}
