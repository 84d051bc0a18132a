//! PDF text layer: a PDF written by the real Ghostscript (`ps2pdf`, Debian `ghostscript`)
//! from PostScript made here; findings carry `{"page"}`. Skips (with a message) where
//! Ghostscript is not installed.

use mamori_pii::{Kind, Location, Options, scan_bytes};

#[test]
fn ghostscript_pdf_findings_are_located_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let ps = dir.path().join("notice.ps");
    std::fs::write(
        &ps,
        "%!PS\n/Helvetica findfont 12 scalefont setfont\n72 720 moveto (Contact: mobile 090-1234-5678, mail taro.y@example.ne.jp) show\nshowpage\n72 720 moveto (Page two: card 4111 1111 1111 1111) show\nshowpage\n",
    )
    .unwrap();
    let pdf = dir.path().join("notice.pdf");
    match std::process::Command::new("ps2pdf").arg(&ps).arg(&pdf).status() {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("ps2pdf (ghostscript) not available here: {other:?}; skipping");
            return;
        }
    }
    let r = scan_bytes("notice.pdf", &std::fs::read(&pdf).unwrap(), &Options::default());
    assert_eq!(r.format, "pdf");
    let got: Vec<(Kind, &Location)> = r.findings.iter().filter(|f| f.confidence >= 0.5).map(|f| (f.kind, &f.location)).collect();
    assert!(got.contains(&(Kind::Phone, &Location::Page { page: 1 })), "{got:?} {:?}", r.problems);
    assert!(got.contains(&(Kind::Email, &Location::Page { page: 1 })), "{got:?}");
    assert!(got.contains(&(Kind::CreditCard, &Location::Page { page: 2 })), "{got:?}");
}
