//! Time and memory per file (docs/benchmarks.md, "time per xlsx/xls/docx/pdf file"):
//! `cargo run --release -p mamori-pii --example time_files -- [--gen DIR] FILE...`
//!
//! Every file is scanned in a child process of its own (this example run as `--one FILE`), so
//! the peak RSS is that file's and not the largest so far. The child builds the dictionaries
//! first (a warm-up scan), resets its RSS high-water mark (the RSS then is printed as the
//! baseline), runs `scan_bytes` 5 times and keeps the best wall and CPU (user + system, getrusage)
//! time; the peak is VmHWM afterwards.
//! `--gen DIR` first writes generated rosters of fictional residents (fixed seed) into DIR and
//! times them too: xlsx of 10,000 and 100,000 rows × 6 columns (氏名・住所・生年月日・電話・
//! 個人番号・メール), the same as BIFF8 xls of 10,000 and 60,000 rows (a sheet holds 65,536)
//! and a docx of about 50 A4 pages (300 case-note paragraphs and a 900-row table).

/// The mamori binary's allocator (crates/mamori/src/main.rs): `mamori scan` runs on it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/support/cpu.rs"]
mod cpu;

use cpu::cpu_seconds as cpu;
use mamori_pii::{Content, Limits, Options, Place, scan_bytes};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        one(&args[1]);
        return;
    }
    let mut files = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--gen" {
            let dir = std::path::PathBuf::from(it.next().expect("--gen DIR"));
            files.extend(generate(&dir));
        } else {
            files.push(a);
        }
    }
    println!("| file | size | format | rows / pages | wall ms | CPU ms | peak RSS MiB (before the file) | findings (values) | problems |");
    println!("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for f in files {
        let out = std::process::Command::new(std::env::current_exe().unwrap()).args(["--one", &f]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        match text.lines().find(|l| l.starts_with("| ")) {
            Some(row) => println!("{row}"),
            None => println!("| {f} | child failed: {} {} |", out.status, String::from_utf8_lossy(&out.stderr).trim()),
        }
    }
}

/// A field of /proc/self/status in KiB (VmRSS, VmHWM).
fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let l = s.lines().find(|l| l.starts_with(field)).unwrap();
    l.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn one(path: &str) {
    let opts = Options::default();
    let _ = mamori_pii::scan_text("氏名 山田 太郎 住所 奈良県奈良市二条大路南1丁目1番1号 個人番号 123456789018", &opts);
    let b = std::fs::read(path).unwrap();
    // The warm-up's dictionary build peaks above what stays resident: reset the high-water
    // mark to the current RSS (proc(5), clear_refs "5"), so VmHWM below is this file's peak.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let base = status_kib("VmRSS:");
    let (mut wall, mut cpu_s) = (f64::MAX, f64::MAX);
    let mut last = None;
    for _ in 0..5 {
        let (c0, t0) = (cpu(), std::time::Instant::now());
        let r = scan_bytes(path, &b, &opts);
        wall = wall.min(t0.elapsed().as_secs_f64());
        cpu_s = cpu_s.min(cpu() - c0);
        last = Some(r);
    }
    let peak = status_kib("VmHWM:");
    let r = last.unwrap();
    // Rows of the tables and the last page, from the extraction the scan works on.
    let ex = mamori_pii::extract::extract(path, &b, &Limits::default());
    let rows: usize = ex.segments.iter().map(|s| if let Content::Table(t) = &s.content { t.len() } else { 0 }).sum();
    let pages = ex.segments.iter().filter_map(|s| if let Place::Page(p) = s.place { Some(p) } else { None }).max();
    let shape = match pages {
        Some(p) => format!("{rows} rows, {p} pages"),
        None => format!("{rows} rows"),
    };
    let values: usize = r.findings.iter().map(|f| f.values().len()).sum();
    let name = std::path::Path::new(path).file_name().unwrap().to_string_lossy();
    let problems = if r.problems.is_empty() { "—".to_string() } else { format!("{:?}", r.problems.iter().map(|p| &p.reason).collect::<Vec<_>>()) };
    println!(
        "| {name} | {:.1} KB | {} | {shape} | {:.1} | {:.1} | {:.1} ({:.1}) | {} ({values}) | {problems} |",
        b.len() as f64 / 1024.0,
        r.format,
        wall * 1e3,
        cpu_s * 1e3,
        peak as f64 / 1024.0,
        base as f64 / 1024.0,
        r.findings.len(),
    );
}

const SURNAMES: &[&str] = &["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "清水", "山崎", "阿部"];
const GIVEN: &[&str] = &["太郎", "花子", "一郎", "健太", "翔太", "大輔", "拓也", "直樹", "和子", "洋子", "幸子", "美咲", "陽子", "恵子", "誠", "茂", "博", "隆", "明美", "由美"];
const PLACES: &[&str] = &["奈良県奈良市二条大路南", "奈良県奈良市西大寺東町", "奈良県生駒市東新町", "大阪府堺市堺区南瓦町", "京都府京都市中京区寺町通", "岩手県釜石市只越町", "青森県弘前市大字上白銀町", "東京都新宿区西新宿"];

struct Person {
    name: String,
    address: String,
    birth: String,
    phone: String,
    my_number: String,
    email: String,
}

fn person(rng: &mut StdRng) -> Person {
    let d = |rng: &mut StdRng, n: usize| -> String { (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect() };
    let first11 = d(rng, 11);
    let (y, m, day) = (rng.gen_range(1930..2015), rng.gen_range(1..=12), rng.gen_range(1..=28));
    Person {
        name: format!("{} {}", SURNAMES[rng.gen_range(0..SURNAMES.len())], GIVEN[rng.gen_range(0..GIVEN.len())]),
        address: format!("{}{}丁目{}番{}号", PLACES[rng.gen_range(0..PLACES.len())], rng.gen_range(1..9), rng.gen_range(1..30), rng.gen_range(1..20)),
        birth: format!("{y:04}-{m:02}-{day:02}"),
        phone: format!("0{}0-{}-{}", rng.gen_range(7..10), d(rng, 4), d(rng, 4)),
        my_number: format!("{first11}{}", mamori_pii::checkdigit::my_number_check(&first11)),
        email: format!("user{}@example.ne.jp", rng.gen_range(1..100_000)),
    }
}

fn roster_xlsx(rows: usize, rng: &mut StdRng) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("名簿").unwrap();
    for (c, h) in ["氏名", "住所", "生年月日", "電話", "個人番号", "メール"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for i in 0..rows {
        let p = person(rng);
        let r = i as u32 + 1;
        for (c, v) in [&p.name, &p.address, &p.birth, &p.phone, &p.my_number, &p.email].into_iter().enumerate() {
            ws.write_string(r, c as u16, v).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

/// A BIFF8 record.
fn rec(typ: u16, data: &[u8]) -> Vec<u8> {
    [&typ.to_le_bytes()[..], &(data.len() as u16).to_le_bytes(), data].concat()
}

/// BIFF8 XLUnicodeString with a 2-byte count, UTF-16.
fn xl_string(s: &str) -> Vec<u8> {
    let u: Vec<u16> = s.encode_utf16().collect();
    let mut b = (u.len() as u16).to_le_bytes().to_vec();
    b.push(1);
    b.extend(u.iter().flat_map(|c| c.to_le_bytes()));
    b
}

/// The same roster as a BIFF8 .xls (one sheet 名簿, LABEL records; Excel writes LABELSST into
/// a shared-string table instead, LibreOffice is not on this machine): a compound file with a
/// Workbook stream, written with the cfb crate.
fn roster_xls(rows: usize, rng: &mut StdRng) -> Vec<u8> {
    let bof = |dt: u16| rec(0x0809, &[&0x0600u16.to_le_bytes()[..], &dt.to_le_bytes(), &[0; 12]].concat());
    let name: Vec<u16> = "名簿".encode_utf16().collect();
    let bs = |pos: u32| rec(0x0085, &[&pos.to_le_bytes()[..], &[0, 0, name.len() as u8, 1], &name.iter().flat_map(|c| c.to_le_bytes()).collect::<Vec<_>>()].concat());
    let globals_len = bof(5).len() + rec(0x0042, &[0xB0, 0x04]).len() + bs(0).len() + 4;
    let mut s = [bof(5), rec(0x0042, &[0xB0, 0x04]), bs(globals_len as u32), rec(0x000A, &[])].concat();
    s.extend(bof(0x10));
    s.extend(rec(0x0200, &[&0u32.to_le_bytes()[..], &(rows as u32 + 1).to_le_bytes(), &0u16.to_le_bytes(), &6u16.to_le_bytes(), &[0, 0]].concat()));
    let label = |r: usize, c: u16, v: &str| rec(0x0204, &[&(r as u16).to_le_bytes()[..], &c.to_le_bytes(), &[0, 0], &xl_string(v)].concat());
    for (c, h) in ["氏名", "住所", "生年月日", "電話", "個人番号", "メール"].iter().enumerate() {
        s.extend(label(0, c as u16, h));
    }
    for i in 0..rows {
        let p = person(rng);
        for (c, v) in [&p.name, &p.address, &p.birth, &p.phone, &p.my_number, &p.email].into_iter().enumerate() {
            s.extend(label(i + 1, c as u16, v));
        }
    }
    s.extend(rec(0x000A, &[]));
    let mut cf = cfb::CompoundFile::create_with_version(cfb::Version::V3, std::io::Cursor::new(Vec::new())).unwrap();
    cf.create_stream("/Workbook").unwrap().write_all(&s).unwrap();
    cf.flush().unwrap();
    cf.into_inner().into_inner()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// About 50 A4 pages: 300 case notes of ~240 characters (≈ 25 pages at ~1,400 characters a
/// page) and a 900-row roster table (≈ 25 pages at ~36 rows a page).
fn report_docx(rng: &mut StdRng) -> Vec<u8> {
    let p = |t: &str| format!("<w:p><w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>", esc(t));
    let mut body = p("令和6年度 生活支援ケース記録(内部資料)");
    for i in 0..300 {
        let x = person(rng);
        body.push_str(&p(&format!(
            "記録{}: {}氏(生年月日 {}、住所 {})より電話({})で相談があった。担当者が訪問日程を調整し、必要書類として本人確認書類と個人番号カードの写しの提出を依頼した。\
             次回は来月上旬に再訪問の予定。連絡先メールは{}。世帯の状況に大きな変化はなく、継続して見守りを行う。関係機関との情報共有は本人の同意を得た範囲で行うこととした。",
            i + 1,
            x.name,
            x.birth,
            x.address,
            x.phone,
            x.email
        )));
    }
    let cell = |t: &str| format!("<w:tc>{}</w:tc>", p(t));
    body.push_str("<w:tbl><w:tblPr><w:tblW w:w=\"0\" w:type=\"auto\"/></w:tblPr>");
    body.push_str("<w:tr>");
    for h in ["氏名", "住所", "生年月日", "電話", "個人番号", "メール"] {
        body.push_str(&cell(h));
    }
    body.push_str("</w:tr>");
    for _ in 0..900 {
        let x = person(rng);
        body.push_str("<w:tr>");
        for v in [&x.name, &x.address, &x.birth, &x.phone, &x.my_number, &x.email] {
            body.push_str(&cell(v));
        }
        body.push_str("</w:tr>");
    }
    body.push_str("</w:tbl>");
    let ns = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"";
    let sect = "<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/><w:pgMar w:top=\"1440\" w:right=\"1440\" w:bottom=\"1440\" w:left=\"1440\" w:header=\"0\" w:footer=\"0\" w:gutter=\"0\"/></w:sectPr>";
    let document = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document {ns}><w:body>{body}{sect}</w:body></w:document>");
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (n, b) in [
        ("[Content_Types].xml", "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>".to_string()),
        ("_rels/.rels", "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>".to_string()),
        ("word/document.xml", document),
    ] {
        zw.start_file(n, o).unwrap();
        zw.write_all(b.as_bytes()).unwrap();
    }
    zw.finish().unwrap().into_inner()
}

fn generate(dir: &std::path::Path) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = StdRng::seed_from_u64(20261203);
    let mut out = Vec::new();
    for (name, bytes) in [
        ("roster-10000.xlsx", roster_xlsx(10_000, &mut rng)),
        ("roster-100000.xlsx", roster_xlsx(100_000, &mut rng)),
        ("roster-10000.xls", roster_xls(10_000, &mut rng)),
        ("roster-60000.xls", roster_xls(60_000, &mut rng)),
        ("report-50p.docx", report_docx(&mut rng)),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        out.push(p.to_string_lossy().into_owned());
    }
    out
}
