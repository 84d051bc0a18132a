//! PDF text layer: a PDF written by the real Ghostscript (`ps2pdf`, Debian `ghostscript`)
//! from PostScript made here (skipped with a message where Ghostscript is not installed);
//! Japanese PDFs from LibreOffice and Chromium (committed fixtures, the Nara-like 397-name
//! roster and a one-page form); and PDFs built here with lopdf for what producers here do not
//! write on demand (Identity-V vertical text, text in a Form XObject, a font without
//! ToUnicode). Findings carry `{"page"}`, or `{"sheet": "Nページ / page N", "cell"}` for a
//! table column on page N.

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

#[path = "support/corpus.rs"]
mod corpus;

use mamori_pii::Finding;
use std::collections::BTreeMap;

fn f1s(d: &corpus::Doc, findings: &[Finding]) -> BTreeMap<Kind, corpus::Counts> {
    let mut acc = BTreeMap::new();
    corpus::score(d, findings, 0.5, &mut acc);
    acc
}

/// The Nara case: 397 fictional residents (氏名・住所・生年月日) in a multi-page table, as
/// LibreOffice (docx → PDF, IPAex Gothic subset into one-byte TrueType fonts with ToUnicode)
/// and Chromium (HTML → PDF, CID TrueType Identity-H plus Type 3 for the bold header, kanji
/// mapped to Kangxi radicals by its ToUnicode) write it. Committed fixtures made by
/// scripts/make-pii-fixtures.sh; labels from the same seed.
#[test]
fn nara_roster_pdfs_are_found_page_by_page_as_columns() {
    for d in corpus::fixture_docs().iter().filter(|d| d.name.starts_with("nara-roster-")) {
        let r = scan_bytes(&d.name, &d.bytes, &Options::default());
        assert_eq!(r.format, "pdf", "{}", d.name);
        assert!(r.problems.is_empty(), "{}: {:?}", d.name, r.problems);
        let acc = f1s(d, &r.findings);
        for k in [Kind::PersonName, Kind::Address, Kind::BirthDate] {
            let c = acc.get(&k).copied().unwrap_or_default();
            assert_eq!(c.tp + c.fn_, 397, "{} {k:?}", d.name);
            assert!(c.f1() >= 0.9, "{} {k:?}: {c:?}", d.name);
        }
        // One strong column finding per kind and page, located by page (the sheet names it)
        // and the cell range, not 397 weak ones.
        let names: Vec<&Finding> = r.findings.iter().filter(|f| f.kind == Kind::PersonName).collect();
        let pages: Vec<String> = names
            .iter()
            .map(|f| match &f.location {
                Location::Cell { sheet, cell } => {
                    assert!(cell.contains(':'), "{} {cell}", d.name);
                    sheet.clone()
                }
                other => panic!("{}: {other:?}", d.name),
            })
            .collect();
        assert!(pages.len() >= 7 && pages.len() <= 12, "{}: {pages:?}", d.name);
        assert_eq!(pages[0], "1ページ / page 1");
        assert!(pages.iter().any(|p| p == "2ページ / page 2"), "{pages:?}");
        // Every page but the last is full (the tight roster's last page holds 8 rows).
        let summary = || names.iter().map(|f| (&f.location, f.confidence, f.count)).collect::<Vec<_>>();
        assert!(names.iter().all(|f| f.confidence >= 0.9), "{}: {:?}", d.name, summary());
        assert!(names[..names.len() - 1].iter().all(|f| f.count >= 20), "{}: {:?}", d.name, summary());
        assert_eq!(names.iter().map(|f| f.count).sum::<usize>(), 397, "{}", d.name);
        // The title above the table is page text, decoded through ToUnicode.
        let ex = mamori_pii::extract::extract(&d.name, &d.bytes, &Default::default());
        let first = ex.segments.iter().find_map(|s| match (&s.place, &s.content) {
            (mamori_pii::extract::Place::Page(1), mamori_pii::extract::Content::Text(t)) => Some(t.clone()),
            _ => None,
        });
        assert!(first.as_deref().is_some_and(|t| t.contains("参加者名簿")), "{}: {first:?}", d.name);
    }
}

/// A one-page application form (a Word-style table of 項目 | 内容) printed to PDF by
/// LibreOffice: every value found on page 1 with its label's confidence.
#[test]
fn single_page_form_pdf_values_are_on_page_one() {
    let d = corpus::fixture_docs().into_iter().find(|d| d.name == "nara-form-libreoffice.pdf").unwrap();
    let r = scan_bytes(&d.name, &d.bytes, &Options::default());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let acc = f1s(&d, &r.findings);
    for (k, c) in &acc {
        assert_eq!((c.fp, c.fn_), (0, 0), "{k:?} {c:?} {:?}", r.findings);
    }
    assert_eq!(acc.values().map(|c| c.tp).sum::<usize>(), d.labels.len());
    for k in [Kind::PersonName, Kind::BirthDate, Kind::Address, Kind::MyNumber, Kind::Phone] {
        // (The form's 受付日 is a date too, at 0.15: the best finding of each kind is the value.)
        let f = r.findings.iter().filter(|f| f.kind == k).max_by(|a, b| a.confidence.total_cmp(&b.confidence)).unwrap_or_else(|| panic!("{k:?}"));
        assert_eq!(f.location, Location::Page { page: 1 }, "{k:?}");
        assert!(f.confidence >= 0.7, "{k:?} {}", f.confidence);
    }
}

/// A PDF written here with lopdf: one Type0 font (`Identity-H` or `Identity-V`) whose codes
/// are 1, 2, 3 … for the distinct characters of `lines`, with or without a ToUnicode CMap,
/// the text drawn on the page or inside a Form XObject.
fn cid_pdf(lines: &[(f64, f64, &str)], vertical: bool, to_unicode: bool, in_form: bool) -> Vec<u8> {
    use lopdf::content::{Content as Ops, Operation};
    use lopdf::{Dictionary, Document, Object, Stream, dictionary};
    let mut chars: Vec<char> = lines.iter().flat_map(|l| l.2.chars()).collect();
    chars.sort();
    chars.dedup();
    let code = |c: char| chars.iter().position(|&x| x == c).unwrap() as u16 + 1;
    let mut doc = Document::with_version("1.5");
    let mut cmap = String::from("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n");
    cmap.push_str(&format!("{} beginbfchar\n", chars.len()));
    for c in &chars {
        let mut u = [0u16; 2];
        let u = c.encode_utf16(&mut u);
        cmap.push_str(&format!("<{:04X}> <{:04X}>\n", code(*c), u[0]));
    }
    cmap.push_str("endbfchar\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    let cmap_id = doc.add_object(Stream::new(Dictionary::new(), cmap.into_bytes()));
    let desc = dictionary! { "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => "TestGothic",
        "CIDSystemInfo" => dictionary! { "Registry" => Object::string_literal("Adobe"), "Ordering" => Object::string_literal("Identity"), "Supplement" => 0 },
        "DW" => 1000 };
    let desc_id = doc.add_object(desc);
    let mut font = dictionary! { "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "TestGothic",
        "Encoding" => if vertical { "Identity-V" } else { "Identity-H" }, "DescendantFonts" => vec![Object::Reference(desc_id)] };
    if to_unicode {
        font.set("ToUnicode", Object::Reference(cmap_id));
    }
    let font_id = doc.add_object(font);
    let mut ops = vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 12.into()])];
    for (x, y, t) in lines {
        let bytes: Vec<u8> = t.chars().flat_map(|c| code(c).to_be_bytes()).collect();
        ops.push(Operation::new("Tm", vec![1.into(), 0.into(), 0.into(), 1.into(), (*x as f32).into(), (*y as f32).into()]));
        ops.push(Operation::new("Tj", vec![Object::String(bytes, lopdf::StringFormat::Hexadecimal)]));
    }
    ops.push(Operation::new("ET", vec![]));
    let text = Ops { operations: ops }.encode().unwrap();
    let fonts = dictionary! { "F1" => Object::Reference(font_id) };
    let (content, resources) = if in_form {
        let form = Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 595.into(), 842.into()], "Resources" => dictionary! { "Font" => fonts } },
            text,
        );
        let form_id = doc.add_object(form);
        (b"q 1 0 0 1 0 0 cm /X1 Do Q".to_vec(), dictionary! { "XObject" => dictionary! { "X1" => Object::Reference(form_id) } })
    } else {
        (text, dictionary! { "Font" => fonts })
    };
    let content_id = doc.add_object(Stream::new(Dictionary::new(), content));
    let pages_id = doc.new_object_id();
    let page_id = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id, "Resources" => resources,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()] });
    doc.objects.insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 }));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn page_text(name: &str, pdf: &[u8]) -> String {
    let ex = mamori_pii::extract::extract(name, pdf, &Default::default());
    ex.segments
        .iter()
        .filter_map(|s| match &s.content {
            mamori_pii::extract::Content::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn identity_h_text_is_decoded_with_to_unicode_inside_forms_too() {
    let lines = [(72.0, 720.0, "氏名 山田太郎"), (72.0, 700.0, "電話 090-1234-5678"), (300.0, 700.0, "生年月日 昭和45年3月2日")];
    for in_form in [false, true] {
        let pdf = cid_pdf(&lines, false, true, in_form);
        let t = page_text("t.pdf", &pdf);
        // The far-apart second string on the same baseline is a separate cell (a tab).
        assert_eq!(t, "氏名 山田太郎\n電話 090-1234-5678\t生年月日 昭和45年3月2日\n", "in_form {in_form}");
        let r = scan_bytes("t.pdf", &pdf, &Options::default());
        let kinds: Vec<Kind> = r.findings.iter().filter(|f| f.confidence >= 0.5).map(|f| f.kind).collect();
        assert!(kinds.contains(&Kind::PersonName) && kinds.contains(&Kind::Phone) && kinds.contains(&Kind::BirthDate), "{kinds:?}");
    }
}

#[test]
fn vertical_text_is_read_column_by_column_right_to_left() {
    // 縦書き: the right column first, each read top to bottom.
    let pdf = cid_pdf(&[(500.0, 760.0, "氏名山田太郎"), (470.0, 760.0, "電話090-1234-5678")], true, true, false);
    assert_eq!(page_text("v.pdf", &pdf), "氏名山田太郎\n電話090-1234-5678\n");
}

#[test]
fn glyphs_without_a_unicode_mapping_are_a_problem_not_silence() {
    let pdf = cid_pdf(&[(72.0, 720.0, "氏名 山田太郎")], false, false, false);
    let r = scan_bytes("no-tounicode.pdf", &pdf, &Options::default());
    assert!(r.problems.iter().any(|p| p.reason.contains("without a Unicode mapping")), "{:?}", r.problems);
    assert!(r.problems.iter().any(|p| p.reason.contains("no text layer")), "{:?}", r.problems);
}
