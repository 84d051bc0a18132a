//! The labelled corpus: fictional residents in every format plus decoys, generated from a
//! fixed seed, and the precision/recall/F1 evaluation. Shared by `tests/corpus_f1.rs`,
//! `examples/gen_corpus.rs` and the bench (`#[path]`-included).
#![allow(dead_code)]

use mamori_pii::checkdigit::{juminhyo_check, luhn_check, my_number_check};
use mamori_pii::{Finding, Kind};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

/// The seed every corpus is generated from.
pub const SEED: u64 = 20_260_401;

/// One labelled document.
pub struct Doc {
    /// File name (the extension selects the format).
    pub name: String,
    /// File bytes.
    pub bytes: Vec<u8>,
    /// Expected (kind, value) pairs; values compared after [`canon`].
    pub labels: Vec<(Kind, String)>,
    /// What the document is (for the report).
    pub what: &'static str,
}

const SURNAMES: &[&str] = &[
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木", "山口", "松本", "井上",
    "木村", "清水", "山崎", "阿部", "池田", "橋本", "山下", "石川", "中島", "前田", "藤田", "後藤", "小川", "岡田", "村上", "長谷川",
    "近藤", "石井", "斎藤", "坂本", "遠藤", "藤井", "青木", "福田", "三浦", "西村", "藤原", "太田", "松田", "原田", "岡本", "中野",
    "中川", "小野", "田村", "竹内", "金子", "和田", "中山", "石田", "上田", "森田", "小島", "柴田", "酒井", "工藤", "宮崎", "横山",
];
const GIVEN: &[&str] = &[
    "太郎", "次郎", "花子", "一郎", "健太", "翔太", "大輔", "拓也", "直樹", "和子", "洋子", "幸子", "美咲", "陽子", "恵子", "裕子",
    "誠", "茂", "博", "隆", "明美", "由美", "真由美", "智子", "久美子", "浩", "修", "学", "達也", "雅人", "涼子", "結衣", "蓮",
    "健一", "正樹", "康弘", "恵美", "純子", "聡", "亮",
];
const TOWNS: &[&str] = &["本町", "西大寺東町", "二条大路南", "大字柳生", "緑ヶ丘", "学園北", "東山", "柏木町", "大字田原", "三条通"];
const MUNIS: &str = include_str!("../../data/municipalities.tsv");

fn municipalities() -> Vec<(&'static str, &'static str)> {
    MUNIS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3 && !f[2].is_empty()).then(|| (f[1], f[2]))
        })
        .collect()
}

/// A fictional resident.
pub struct Resident {
    pub surname: String,
    pub given: String,
    pub kana: String,
    pub birth: (i32, u32, u32),
    pub address: String,
    pub postal: String,
    pub phone: String,
    pub email: String,
    pub my_number: String,
    pub juminhyo: String,
    pub pension: String,
    pub card: String,
    pub account: String,
    pub license: String,
    pub passport: String,
    pub insurance: String,
}

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

fn valid_my_number(rng: &mut StdRng) -> String {
    let b = digits(rng, 11);
    format!("{b}{}", my_number_check(&b))
}

fn valid_juminhyo(rng: &mut StdRng) -> String {
    loop {
        let b = digits(rng, 10);
        // Not phone-shaped (0X0…): those are read as phones.
        if b.starts_with('0') {
            continue;
        }
        return format!("{b}{}", juminhyo_check(&b));
    }
}

fn kanji_num(n: u32) -> String {
    const D: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0 => "〇".into(),
        1..=9 => D[n as usize].into(),
        10..=19 => format!("十{}", D[(n % 10) as usize]),
        _ => format!("{}十{}", D[(n / 10) as usize], D[(n % 10) as usize]),
    }
}

fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' | 'A'..='Z' | 'a'..='z' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            '-' => '－',
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

impl Resident {
    pub fn new(rng: &mut StdRng, munis: &[(&'static str, &'static str)]) -> Resident {
        let surname = SURNAMES.choose(rng).unwrap().to_string();
        let given = GIVEN.choose(rng).unwrap().to_string();
        let y = rng.gen_range(1930..2015);
        let m = rng.gen_range(1..=12);
        let d = rng.gen_range(1..=28);
        let (pref, city) = munis.choose(rng).unwrap();
        let town = TOWNS.choose(rng).unwrap();
        let (a, b, c) = (rng.gen_range(1..9), rng.gen_range(1..30), rng.gen_range(1..20));
        let block = match rng.gen_range(0..4) {
            0 => format!("{a}丁目{b}番{c}号"),
            1 => format!("{a}-{b}-{c}"),
            2 => format!("{}番地", rng.gen_range(1..999)),
            _ => format!("{}丁目{b}番{c}号", kanji_num(a)),
        };
        let address = format!("{pref}{city}{town}{block}");
        let mobile = ["090", "080", "070"].choose(rng).unwrap();
        let phone = format!("{mobile}-{}-{}", digits(rng, 4), digits(rng, 4));
        let card_body = format!("4{}", digits(rng, 14));
        Resident {
            kana: "ヤマダ タロウ".into(),
            email: format!("{}.{}{}@example.ne.jp", ["hanako", "taro", "k", "m", "yuki"].choose(rng).unwrap(), ["y", "s", "t"].choose(rng).unwrap(), rng.gen_range(1..99)),
            postal: format!("{}-{}", digits(rng, 3).replace('0', "6"), digits(rng, 4)),
            my_number: valid_my_number(rng),
            juminhyo: valid_juminhyo(rng),
            pension: format!("{}-{}", digits(rng, 4), digits(rng, 6)),
            card: format!("{card_body}{}", luhn_check(&card_body)),
            account: digits(rng, 7),
            license: format!("{}{}", ["30", "62", "44"].choose(rng).unwrap(), digits(rng, 10)),
            passport: format!("{}{}", ["TK", "TR", "MZ"].choose(rng).unwrap(), digits(rng, 7)),
            insurance: digits(rng, 8),
            surname,
            given,
            birth: (y, m, d),
            address,
            phone,
        }
    }

    fn name(&self, spaced: bool) -> String {
        if spaced { format!("{} {}", self.surname, self.given) } else { format!("{}{}", self.surname, self.given) }
    }

    fn iso_birth(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.birth.0, self.birth.1, self.birth.2)
    }

    /// The birth date written one of seven ways.
    fn birth_text(&self, style: u32) -> String {
        let (y, m, d) = self.birth;
        let (era, ey, letter) = if (y, m, d) >= (2019, 5, 1) {
            ("令和", y - 2018, 'R')
        } else if (y, m, d) >= (1989, 1, 8) {
            ("平成", y - 1988, 'H')
        } else {
            ("昭和", y - 1925, 'S')
        };
        let eyt = if ey == 1 { "元".to_string() } else { ey.to_string() };
        match style % 7 {
            0 => format!("{era}{eyt}年{m}月{d}日"),
            1 => format!("{letter}{ey}.{m}.{d}"),
            2 => format!("{y}/{m:02}/{d:02}"),
            3 => format!("{era}{}年{}月{}日", if ey == 1 { "元".into() } else { kanji_num(ey as u32) }, kanji_num(m), kanji_num(d)),
            4 => fullwidth(&format!("{era}{eyt}年{m}月{d}日")),
            5 => format!("{y}年{m}月{d}日"),
            _ => format!("{y}-{m:02}-{d:02}"),
        }
    }
}

fn my_number_text(v: &str, style: u32) -> String {
    match style % 4 {
        0 => v.to_string(),
        1 => format!("{} {} {}", &v[..4], &v[4..8], &v[8..]),
        2 => format!("{}-{}-{}", &v[..4], &v[4..8], &v[8..]),
        _ => fullwidth(&format!("{}-{}-{}", &v[..4], &v[4..8], &v[8..])),
    }
}

/// A corpus of `n` residents' documents plus decoys.
pub fn generate(n: usize) -> Vec<Doc> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let munis = municipalities();
    let mut docs = Vec::new();
    let residents: Vec<Resident> = (0..n).map(|_| Resident::new(&mut rng, &munis)).collect();

    // 1. Application forms (申請書), UTF-8 / CP932 / full-width.
    for (i, r) in residents.iter().enumerate() {
        let (t, l) = form_text(i, r);
        let (name, bytes) = match i % 3 {
            0 => (format!("form{i:04}.txt"), t.into_bytes()),
            1 => (format!("form{i:04}-sjis.txt"), encoding_rs::SHIFT_JIS.encode(&t).0.into_owned()),
            _ => (format!("form{i:04}-fw.txt"), fullwidth_digits_only(&t).into_bytes()),
        };
        docs.push(Doc { name, bytes, labels: l, what: "申請書 / application form" });
    }

    // 2. Narrative case notes (ケース記録): some with one-character surnames (林, 森 — not in
    // the automaton, so expected misses), some with the birth date after the name.
    for (i, r) in residents.iter().enumerate().step_by(2) {
        let name = if i % 6 == 0 { format!("{}{}", ["林", "森", "原", "東", "堀"][i % 5], r.given) } else { r.name(false) };
        let t = if i % 4 == 0 {
            format!(
                "{}生まれの{}さんが{}から転入。連絡先は{}。\n次回面談は令和7年{}月{}日の予定。\n",
                r.birth_text(i as u32 + 1),
                name,
                r.address,
                r.phone,
                (i % 12) + 1,
                (i % 27) + 1
            )
        } else {
            format!(
                "{}様({}生)から、{}への転居について相談があった。連絡先は{}。\n次回面談は令和7年{}月{}日の予定。担当 佐藤\n",
                name,
                r.birth_text(i as u32 + 3),
                r.address,
                r.phone,
                (i % 12) + 1,
                (i % 27) + 1
            )
        };
        let l = vec![(Kind::PersonName, name), (Kind::BirthDate, r.iso_birth()), (Kind::Address, r.address.clone()), (Kind::Phone, r.phone.clone())];
        docs.push(Doc { name: format!("note{i:04}.txt"), bytes: t.into_bytes(), labels: l, what: "ケース記録 / case note" });
    }

    // 3. Decoys: orders, invoices, product codes, invalid check digits.
    for i in 0..n / 2 {
        let mn = valid_my_number(&mut rng);
        let mut bad = valid_my_number(&mut rng);
        let last = (bad.as_bytes()[11] - b'0' + 1) % 10;
        bad.replace_range(11.., &last.to_string());
        let corp_base = digits(&mut rng, 12);
        // A labelled 住民票コード whose check digit is wrong, made without drawing from the
        // seed (so every later document stays the same).
        let bad_juminhyo = format!("{}{}", &mn[..10], (juminhyo_check(&mn[..10]) + 1) % 10);
        let t = format!(
            "請求書\n請求書番号 {}\n注文番号 {mn}\n伝票番号 {}-{}\n製品コード AB{}\n品番 XJ-{}\n個人番号 {bad}\n住民票コード {bad_juminhyo}\n発行日 令和6年{}月{}日\n金額 123,456円\n",
            digits(&mut rng, 10),
            digits(&mut rng, 4),
            digits(&mut rng, 6),
            digits(&mut rng, 7),
            digits(&mut rng, 12),
            (i % 12) + 1,
            (i % 27) + 1,
        );
        let _ = corp_base;
        docs.push(Doc { name: format!("invoice{i:04}.txt"), bytes: t.into_bytes(), labels: vec![], what: "請求書 / invoice (decoy)" });
    }
    // Public notices with the city hall's own address and phone.
    for (i, (pref, city)) in munis.iter().take(n / 4).enumerate() {
        let t = format!(
            "{city}からのお知らせ\n令和6年度 市民講座を開催します。\n日時 令和6年{}月{}日 午後2時\n会場 {city}役所 本庁舎3階\nお問い合わせ {city}役所 総務課 〒{}-{} {pref}{city}本町{}丁目{}番{}号 代表電話 0{}-{}-{}\n",
            (i % 12) + 1,
            (i % 27) + 1,
            digits(&mut rng, 3).replace('0', "5"),
            digits(&mut rng, 4),
            (i % 5) + 1,
            (i % 9) + 1,
            (i % 7) + 1,
            rng.gen_range(100..999),
            digits(&mut rng, 2),
            digits(&mut rng, 4)
        );
        docs.push(Doc { name: format!("notice{i:04}.txt"), bytes: t.into_bytes(), labels: vec![], what: "お知らせ / public notice (decoy)" });
    }
    // A staff org chart (text).
    let mut chart = String::from("令和6年度 組織図\n");
    for (i, r) in residents.iter().take(12).enumerate() {
        let title = ["総務課長", "係長", "主査", "課長補佐", "主任", "市民課長"][i % 6];
        chart.push_str(&format!("{title} {}\n", r.name(i % 2 == 1)));
    }
    docs.push(Doc { name: "org-chart.txt".into(), bytes: chart.into_bytes(), labels: vec![], what: "組織図 / staff org chart (decoy)" });

    // 4. Tables: a resident roster CSV (UTF-8 and CP932) and a staff CSV.
    let mut csv = String::from("番号,氏名,フリガナ,生年月日,住所,電話番号,個人番号\n");
    let mut l = Vec::new();
    for (i, r) in residents.iter().enumerate() {
        csv.push_str(&format!("{},{},{},{},{},{},{}\n", i + 1, r.name(true), r.kana, r.birth_text(i as u32), r.address, r.phone, r.my_number));
        l.push((Kind::PersonName, r.name(false)));
        l.push((Kind::PersonName, r.kana.replace(' ', "")));
        l.push((Kind::BirthDate, r.iso_birth()));
        l.push((Kind::Address, r.address.clone()));
        l.push((Kind::Phone, r.phone.clone()));
        l.push((Kind::MyNumber, r.my_number.clone()));
    }
    docs.push(Doc { name: "roster.csv".into(), bytes: encoding_rs::SHIFT_JIS.encode(&csv).0.into_owned(), labels: l.clone(), what: "住民名簿 CSV (CP932)" });
    let mut staff = String::from("所属,役職,氏名,内線\n");
    for (i, r) in residents.iter().take(20).enumerate() {
        staff.push_str(&format!("総務課,{},{},{}\n", ["課長", "係長", "主査", "主事"][i % 4], r.name(true), 2000 + i));
    }
    docs.push(Doc { name: "staff.csv".into(), bytes: staff.into_bytes(), labels: vec![], what: "職員名簿 CSV / staff list (decoy)" });

    // 5. The same roster as xlsx (rust_xlsxwriter), with real date cells.
    let xlsx = roster_xlsx(&residents);
    let xl: Vec<(Kind, String)> = residents.iter().flat_map(|r| [(Kind::PersonName, r.name(false)), (Kind::BirthDate, r.iso_birth()), (Kind::Address, r.address.clone())]).collect();
    docs.push(Doc { name: "roster.xlsx".into(), bytes: xlsx, labels: xl, what: "住民名簿 xlsx" });

    // 6. Mail with the CSV roster attached (mail-builder), and a zip of forms.
    let first: Vec<&Doc> = docs.iter().filter(|d| d.name.starts_with("form")).take(5).collect();
    let mut zl = Vec::new();
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for d in &first {
        zw.start_file(format!("申請書/{}", d.name), zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zw, &d.bytes).unwrap();
        zl.extend(d.labels.iter().cloned());
    }
    let zbytes = zw.finish().unwrap().into_inner();
    docs.push(Doc { name: "forms.zip".into(), bytes: zbytes, labels: zl, what: "申請書 zip" });
    let roster = docs.iter().find(|d| d.name == "roster.csv").map(|d| (d.bytes.clone(), d.labels.clone())).unwrap();
    let eml = mail_builder::MessageBuilder::new()
        .from(("総務課 佐藤", "sato.k@city.example.lg.jp"))
        .to("vendor@example.co.jp")
        .subject("名簿の件")
        .text_body("お世話になっております。\n名簿を添付します。\n")
        .attachment("text/csv", "roster.csv", roster.0)
        .write_to_vec()
        .unwrap();
    let mut el = roster.1;
    el.push((Kind::Email, "vendor@example.co.jp".into()));
    el.push((Kind::Email, "sato.k@city.example.lg.jp".into()));
    docs.push(Doc { name: "outgoing.eml".into(), bytes: eml, labels: el, what: "送信メール+添付 / mail with attachment" });
    // Everything below was added after the documents above and draws nothing from `rng`, so
    // the documents above (and their scores) are the same as before.
    more_formats(&residents, &mut docs);
    docs.extend(fixture_docs());
    docs
}

/// 7–11: forms in EUC-JP and UTF-16 (LE/BE, with and without BOM), a TSV roster, docx forms
/// (a table of 項目/内容, as 申請書 are written in Word) and a docx roster, a pptx roster
/// slide, and a zip inside a zip.
fn more_formats(residents: &[Resident], docs: &mut Vec<Doc>) {
    for (i, r) in residents.iter().enumerate().skip(3).step_by(9) {
        let (t, l) = form_text(i, r);
        let k = (i / 9) % 5;
        let (name, bytes) = match k {
            0 => (format!("form{i:04}-eucjp.txt"), encoding_rs::EUC_JP.encode(&t).0.into_owned()),
            1 => (format!("form{i:04}-utf16le-bom.txt"), utf16(&t, false, true)),
            2 => (format!("form{i:04}-utf16be-bom.txt"), utf16(&t, true, true)),
            3 => (format!("form{i:04}-utf16le.txt"), utf16(&t, false, false)),
            _ => (format!("form{i:04}-utf16be.txt"), utf16(&t, true, false)),
        };
        docs.push(Doc { name, bytes, labels: l, what: "申請書 EUC-JP/UTF-16" });
    }
    let mut tsv = String::from("番号\t氏名\t生年月日\t住所\t電話番号\n");
    let mut l = Vec::new();
    for (i, r) in residents.iter().enumerate() {
        tsv.push_str(&format!("{}\t{}\t{}\t{}\t{}\n", i + 1, r.name(i.is_multiple_of(2)), r.birth_text(i as u32 + 2), r.address, r.phone));
        l.extend([(Kind::PersonName, r.name(false)), (Kind::BirthDate, r.iso_birth()), (Kind::Address, r.address.clone()), (Kind::Phone, r.phone.clone())]);
    }
    docs.push(Doc { name: "roster.tsv".into(), bytes: tsv.into_bytes(), labels: l, what: "住民名簿 TSV" });
    for (i, r) in residents.iter().enumerate().step_by(10) {
        let (bytes, l) = form_docx(i, r);
        docs.push(Doc { name: format!("form{i:04}.docx"), bytes, labels: l, what: "申請書 docx (表)" });
    }
    let some: Vec<&Resident> = residents.iter().take(30).collect();
    let (bytes, l) = roster_docx(&some, false);
    docs.push(Doc { name: "roster.docx".into(), bytes, labels: l, what: "住民名簿 docx" });
    let (bytes, l) = roster_pptx(&residents[..residents.len().min(12)]);
    docs.push(Doc { name: "roster.pptx".into(), bytes, labels: l, what: "名簿スライド pptx" });
    // A zip in a zip (a handover folder zipped, then zipped again for mail).
    let inner_form = form_text(1, &residents[1]);
    let (docx, docx_l) = form_docx(0, &residents[0]);
    let inner = zip_of(&[("申請書/form0001.txt", inner_form.0.as_bytes()), ("申請書/form0000.docx", &docx)]);
    let outer = zip_of(&[("引継ぎ/2024年度.zip", &inner), ("引継ぎ/メモ.txt", "引継ぎ資料です。\n".as_bytes())]);
    let mut zl = inner_form.1;
    zl.extend(docx_l);
    docs.push(Doc { name: "handover-nested.zip".into(), bytes: outer, labels: zl, what: "入れ子 zip / nested zip" });
}

fn utf16(t: &str, be: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(if be { &[0xFE, 0xFF] } else { &[0xFF, 0xFE] });
    }
    for u in t.encode_utf16() {
        out.extend_from_slice(&if be { u.to_be_bytes() } else { u.to_le_bytes() });
    }
    out
}

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (n, b) in members {
        // Fixed times: the same seed gives the same bytes.
        let o = zip::write::SimpleFileOptions::default().last_modified_time(zip::DateTime::default());
        zw.start_file(*n, o).unwrap();
        std::io::Write::write_all(&mut zw, b).unwrap();
    }
    zw.finish().unwrap().into_inner()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A WordprocessingML paragraph.
fn w_p(t: &str) -> String {
    format!("<w:p><w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>", xml_escape(t))
}

/// A WordprocessingML table; `header` marks the first row as a heading row repeated on every
/// page (Word's 「タイトル行の繰り返し」).
fn w_tbl(rows: &[Vec<String>], header: bool, widths: &[u32]) -> String {
    let mut x = String::from("<w:tbl><w:tblPr><w:tblW w:w=\"0\" w:type=\"auto\"/><w:tblBorders><w:top w:val=\"single\" w:sz=\"4\"/><w:left w:val=\"single\" w:sz=\"4\"/><w:bottom w:val=\"single\" w:sz=\"4\"/><w:right w:val=\"single\" w:sz=\"4\"/><w:insideH w:val=\"single\" w:sz=\"4\"/><w:insideV w:val=\"single\" w:sz=\"4\"/></w:tblBorders></w:tblPr><w:tblGrid>");
    for w in widths {
        x.push_str(&format!("<w:gridCol w:w=\"{w}\"/>"));
    }
    x.push_str("</w:tblGrid>");
    for (i, r) in rows.iter().enumerate() {
        x.push_str("<w:tr>");
        if header && i == 0 {
            x.push_str("<w:trPr><w:tblHeader/></w:trPr>");
        }
        for (c, cell) in r.iter().enumerate() {
            x.push_str(&format!("<w:tc><w:tcPr><w:tcW w:w=\"{}\" w:type=\"dxa\"/></w:tcPr>{}</w:tc>", widths.get(c).copied().unwrap_or(2000), w_p(cell)));
        }
        x.push_str("</w:tr>");
    }
    x.push_str("</w:tbl>");
    x
}

/// A docx (the parts Word and LibreOffice need) with `body` as the document body.
fn docx(body: &str, landscape: bool, font: &str) -> Vec<u8> {
    let sect = if landscape {
        "<w:sectPr><w:pgSz w:w=\"16838\" w:h=\"11906\" w:orient=\"landscape\"/><w:pgMar w:top=\"720\" w:right=\"720\" w:bottom=\"720\" w:left=\"720\" w:header=\"0\" w:footer=\"0\" w:gutter=\"0\"/></w:sectPr>"
    } else {
        "<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/><w:pgMar w:top=\"1440\" w:right=\"1440\" w:bottom=\"1440\" w:left=\"1440\" w:header=\"0\" w:footer=\"0\" w:gutter=\"0\"/></w:sectPr>"
    };
    let ns = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"";
    let document = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document {ns}><w:body>{body}{sect}</w:body></w:document>");
    let styles = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:styles {ns}><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii=\"{font}\" w:hAnsi=\"{font}\" w:eastAsia=\"{font}\"/><w:sz w:val=\"18\"/><w:lang w:val=\"ja-JP\" w:eastAsia=\"ja-JP\"/></w:rPr></w:rPrDefault></w:docDefaults></w:styles>");
    zip_of(&[
        ("[Content_Types].xml", b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/><Override PartName=\"/word/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml\"/></Types>"),
        ("_rels/.rels", b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>"),
        ("word/_rels/document.xml.rels", b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" Target=\"styles.xml\"/></Relationships>"),
        ("word/document.xml", document.as_bytes()),
        ("word/styles.xml", styles.as_bytes()),
    ])
}

/// Resident `i`'s application form as Word writes one: a title, then a table of
/// 項目 | 内容 rows.
fn form_docx(i: usize, r: &Resident) -> (Vec<u8>, Vec<(Kind, String)>) {
    let rows = vec![
        vec!["氏名".to_string(), r.name(i.is_multiple_of(2))],
        vec!["生年月日".to_string(), r.birth_text(i as u32)],
        vec!["住所".to_string(), format!("〒{} {}", r.postal, r.address)],
        vec!["電話番号".to_string(), r.phone.clone()],
        vec!["個人番号".to_string(), my_number_text(&r.my_number, i as u32)],
    ];
    let body = format!("{}{}{}{}", w_p("転入届出書"), w_p("受付日 令和6年4月1日"), w_tbl(&rows, false, &[2200, 6800]), w_p("備考 特になし"));
    let l = vec![
        (Kind::PersonName, r.name(false)),
        (Kind::BirthDate, r.iso_birth()),
        (Kind::PostalCode, r.postal.clone()),
        (Kind::Address, r.address.clone()),
        (Kind::Phone, r.phone.clone()),
        (Kind::MyNumber, r.my_number.clone()),
    ];
    (docx(&body, false, "IPAexMincho"), l)
}

/// A roster (番号・氏名・住所・生年月日) as a Word table, heading row repeated on every page.
fn roster_docx(rs: &[&Resident], landscape: bool) -> (Vec<u8>, Vec<(Kind, String)>) {
    let mut rows = vec![vec!["番号".to_string(), "氏名".into(), "住所".into(), "生年月日".into()]];
    let mut l = Vec::new();
    for (i, r) in rs.iter().enumerate() {
        rows.push(vec![(i + 1).to_string(), r.name(true), r.address.clone(), r.birth_text(i as u32 % 3 * 2 + (i as u32 / 3) % 2 * 5)]);
        l.extend([(Kind::PersonName, r.name(false)), (Kind::Address, r.address.clone()), (Kind::BirthDate, r.iso_birth())]);
    }
    let body = format!("{}{}", w_p("令和6年度 ○○事業 参加者名簿"), w_tbl(&rows, true, &[900, 2600, 7600, 3000]));
    (docx(&body, landscape, "IPAexGothic"), l)
}

/// A pptx with a roster slide (a DrawingML table) and a slide of running text.
fn roster_pptx(rs: &[Resident]) -> (Vec<u8>, Vec<(Kind, String)>) {
    let a_p = |t: &str| format!("<a:p><a:r><a:rPr lang=\"ja-JP\"/><a:t>{}</a:t></a:r></a:p>", xml_escape(t));
    let cell = |t: &str| format!("<a:tc><a:txBody><a:bodyPr/>{}</a:txBody></a:tc>", a_p(t));
    let mut tbl = String::from("<a:tbl><a:tblGrid><a:gridCol w=\"2000000\"/><a:gridCol w=\"5000000\"/><a:gridCol w=\"2000000\"/></a:tblGrid>");
    tbl.push_str(&format!("<a:tr h=\"300000\">{}{}{}</a:tr>", cell("氏名"), cell("住所"), cell("生年月日")));
    let mut l = Vec::new();
    for (i, r) in rs.iter().enumerate() {
        tbl.push_str(&format!("<a:tr h=\"300000\">{}{}{}</a:tr>", cell(&r.name(true)), cell(&r.address), cell(&r.birth_text(i as u32))));
        l.extend([(Kind::PersonName, r.name(false)), (Kind::Address, r.address.clone()), (Kind::BirthDate, r.iso_birth())]);
    }
    tbl.push_str("</a:tbl>");
    let ns = "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\" xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\"";
    let slide = |shapes: String| format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<p:sld {ns}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id=\"1\" name=\"\"/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>{shapes}</p:spTree></p:cSld></p:sld>");
    let title = |t: &str| format!("<p:sp><p:nvSpPr><p:cNvPr id=\"2\" name=\"Title\"/><p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>{}</p:txBody></p:sp>", a_p(t));
    let s1 = slide(format!("{}<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id=\"3\" name=\"Table\"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><p:xfrm><a:off x=\"0\" y=\"0\"/><a:ext cx=\"9000000\" cy=\"4000000\"/></p:xfrm><a:graphic><a:graphicData uri=\"http://schemas.openxmlformats.org/drawingml/2006/table\">{tbl}</a:graphicData></a:graphic></p:graphicFrame>", title("説明会 参加者一覧")));
    let r0 = &rs[rs.len() - 1];
    let s2 = slide(title("相談の経過") + &format!("<p:sp><p:nvSpPr><p:cNvPr id=\"4\" name=\"Body\"/><p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>{}{}</p:txBody></p:sp>", a_p(&format!("申請者 {} 様", r0.name(false))), a_p(&format!("連絡先 {}", r0.phone))));
    l.push((Kind::PersonName, r0.name(false)));
    l.push((Kind::Phone, r0.phone.clone()));
    let bytes = zip_of(&[
        ("[Content_Types].xml", b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/ppt/presentation.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml\"/><Override PartName=\"/ppt/slides/slide1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.presentationml.slide+xml\"/><Override PartName=\"/ppt/slides/slide2.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.presentationml.slide+xml\"/></Types>"),
        ("_rels/.rels", b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"ppt/presentation.xml\"/></Relationships>"),
        ("ppt/presentation.xml", format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<p:presentation {ns}><p:sldIdLst><p:sldId id=\"256\" r:id=\"rId2\"/><p:sldId id=\"257\" r:id=\"rId3\"/></p:sldIdLst><p:sldSz cx=\"9144000\" cy=\"6858000\"/></p:presentation>").as_bytes()),
        ("ppt/_rels/presentation.xml.rels", b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide\" Target=\"slides/slide1.xml\"/><Relationship Id=\"rId3\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide\" Target=\"slides/slide2.xml\"/></Relationships>"),
        ("ppt/slides/slide1.xml", s1.as_bytes()),
        ("ppt/slides/slide2.xml", s2.as_bytes()),
    ]);
    (bytes, l)
}

/// The Nara-like roster's residents: 397 (as many names as Nara published), living in 奈良県,
/// from their own seed so the committed fixtures match a corpus of any size.
pub fn nara_residents() -> Vec<Resident> {
    let mut rng = StdRng::seed_from_u64(SEED + 397);
    let munis: Vec<_> = municipalities().into_iter().filter(|(p, _)| *p == "奈良県").collect();
    (0..397).map(|_| Resident::new(&mut rng, &munis)).collect()
}

/// The roster as HTML for Chromium's `--print-to-pdf` (a page of a city's web site: a table
/// whose header row repeats on every printed page). `padded`: cells padded 2px 10px; else the
/// browser's default 1 px, so the longest entry of a column nearly touches the next column.
fn roster_html(rs: &[Resident], padded: bool) -> String {
    let td = if padded { "th,td{border:1px solid #888;padding:2px 10px}" } else { "th,td{border:1px solid #888}" };
    let mut h = format!("<!doctype html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><title>参加者名簿</title><style>body{{font-family:'IPAexGothic',sans-serif;font-size:10pt}}table{{border-collapse:collapse}}{td}</style></head><body><h1>令和6年度 ○○事業 参加者名簿</h1><table><thead><tr><th>番号</th><th>氏名</th><th>住所</th><th>生年月日</th></tr></thead><tbody>\n");
    for (i, r) in rs.iter().enumerate() {
        h.push_str(&format!("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", i + 1, r.name(true), r.address, r.birth_text(i as u32 % 3 * 2 + (i as u32 / 3) % 2 * 5)));
    }
    h.push_str("</tbody></table></body></html>\n");
    h
}

fn roster_labels(rs: &[Resident]) -> Vec<(Kind, String)> {
    rs.iter().flat_map(|r| [(Kind::PersonName, r.name(false)), (Kind::Address, r.address.clone()), (Kind::BirthDate, r.iso_birth())]).collect()
}

/// Where the fixtures converted by real producers live (scripts/make-pii-fixtures.sh).
pub const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pii-corpus");

/// The files scripts/make-pii-fixtures.sh converts: (name, bytes).
pub fn fixture_sources() -> Vec<(String, Vec<u8>)> {
    let nara = nara_residents();
    let all: Vec<&Resident> = nara.iter().collect();
    vec![
        ("nara-roster.docx".into(), roster_docx(&all, true).0),
        ("nara-roster.html".into(), roster_html(&nara, true).into_bytes()),
        ("nara-roster-tight.html".into(), roster_html(&nara, false).into_bytes()),
        ("nara-form.docx".into(), form_docx(0, &nara[0]).0),
        ("nara-roster50.xlsx".into(), roster_xlsx(&nara[..50])),
    ]
}

/// Documents made by real producers from [`fixture_sources`] and committed: LibreOffice's PDF
/// of the docx roster and of a form, Chromium's PDF of the HTML roster (padded cells, and the
/// browser's default 1 px), LibreOffice's xls of the xlsx roster. Labels come from the same
/// seed.
pub fn fixture_docs() -> Vec<Doc> {
    let nara = nara_residents();
    let read = |n: &str| {
        std::fs::read(format!("{FIXTURE_DIR}/{n}")).unwrap_or_else(|e| panic!("{FIXTURE_DIR}/{n}: {e} (run scripts/make-pii-fixtures.sh)"))
    };
    let xl: Vec<(Kind, String)> = nara[..50].iter().flat_map(|r| [(Kind::PersonName, r.name(false)), (Kind::BirthDate, r.iso_birth()), (Kind::Address, r.address.clone())]).collect();
    vec![
        Doc { name: "nara-roster-libreoffice.pdf".into(), bytes: read("nara-roster-libreoffice.pdf"), labels: roster_labels(&nara), what: "397人名簿 PDF (LibreOffice)" },
        Doc { name: "nara-roster-chromium.pdf".into(), bytes: read("nara-roster-chromium.pdf"), labels: roster_labels(&nara), what: "397人名簿 PDF (Chromium)" },
        Doc { name: "nara-roster-tight-chromium.pdf".into(), bytes: read("nara-roster-tight-chromium.pdf"), labels: roster_labels(&nara), what: "397人名簿 PDF (Chromium, 既定の余白)" },
        Doc { name: "nara-form-libreoffice.pdf".into(), bytes: read("nara-form-libreoffice.pdf"), labels: form_docx(0, &nara[0]).1, what: "申請書 PDF 1ページ (LibreOffice)" },
        Doc { name: "nara-roster50-libreoffice.xls".into(), bytes: read("nara-roster50-libreoffice.xls"), labels: xl, what: "名簿 xls (LibreOffice)" },
    ]
}

/// The text of resident `i`'s application form (申請書) and its labels.
fn form_text(i: usize, r: &Resident) -> (String, Vec<(Kind, String)>) {
    let s = i as u32;
    let mut t = String::new();
    let mut l = Vec::new();
    t.push_str("転入届出書\n受付日 令和6年4月1日\n");
    t.push_str(&format!("氏名 {}\n", r.name(i.is_multiple_of(2))));
    l.push((Kind::PersonName, r.name(false)));
    t.push_str(&format!("生年月日 {}\n", r.birth_text(s)));
    l.push((Kind::BirthDate, r.iso_birth()));
    t.push_str(&format!("住所 〒{} {}\n", r.postal, r.address));
    l.push((Kind::PostalCode, r.postal.clone()));
    l.push((Kind::Address, r.address.clone()));
    t.push_str(&format!("電話番号 {}\n", r.phone));
    l.push((Kind::Phone, r.phone.clone()));
    t.push_str(&format!("個人番号 {}\n", my_number_text(&r.my_number, s)));
    l.push((Kind::MyNumber, r.my_number.clone()));
    match i % 8 {
        0 => {
            t.push_str(&format!("基礎年金番号 {}\n", r.pension));
            l.push((Kind::BasicPensionNumber, r.pension.clone()));
        }
        1 => {
            t.push_str(&format!("振込先 ○○銀行 △△支店 普通 口座番号 {}\n", r.account));
            l.push((Kind::BankAccount, r.account.clone()));
        }
        2 => {
            t.push_str(&format!("被保険者証 記号 {} 番号 {}\n", &r.insurance[..4], &r.insurance[4..]));
            l.push((Kind::HealthInsurance, r.insurance[..4].to_string()));
            l.push((Kind::HealthInsurance, r.insurance[4..].to_string()));
        }
        3 => {
            t.push_str(&format!("本人確認書類 運転免許証 番号 {}\n", r.license));
            l.push((Kind::DriversLicense, r.license.clone()));
        }
        4 => {
            t.push_str(&format!("旅券番号 {}\n", r.passport));
            l.push((Kind::Passport, r.passport.clone()));
        }
        5 => {
            t.push_str(&format!("クレジットカード番号 {} {} {} {}\n", &r.card[..4], &r.card[4..8], &r.card[8..12], &r.card[12..]));
            l.push((Kind::CreditCard, r.card.clone()));
        }
        6 => {
            t.push_str(&format!("住民票コード {}\n", r.juminhyo));
            l.push((Kind::JuminhyoCode, r.juminhyo.clone()));
        }
        _ => {
            t.push_str(&format!("メールアドレス {}\n", r.email));
            l.push((Kind::Email, r.email.clone()));
        }
    }
    t.push_str("備考 特になし\n");
    (t, l)
}

fn roster_xlsx(residents: &[Resident]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("名簿").unwrap();
    let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy/mm/dd");
    for (c, h) in ["No", "氏名", "生年月日", "住所"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (i, r) in residents.iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_number(row, 0, (i + 1) as f64).unwrap();
        ws.write_string(row, 1, r.name(true)).unwrap();
        let d = rust_xlsxwriter::ExcelDateTime::from_ymd(r.birth.0 as u16, r.birth.1 as u8, r.birth.2 as u8).unwrap();
        ws.write_datetime_with_format(row, 2, &d, &fmt).unwrap();
        ws.write_string(row, 3, &r.address).unwrap();
    }
    wb.save_to_buffer().unwrap()
}

fn fullwidth_digits_only(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_digit() || c == '-' { fullwidth(&c.to_string()).chars().next().unwrap() } else { c }).collect()
}

/// Canonical form for comparing a found value with a label.
pub fn canon(kind: Kind, v: &str) -> String {
    let n = mamori_pii::normalize::normalize(v).text;
    match kind {
        Kind::Passport | Kind::Email => n.to_ascii_uppercase(),
        Kind::Address | Kind::PersonName | Kind::BirthDate => n.replace([' ', '-'], ""),
        _ => n.chars().filter(|c| c.is_ascii_digit()).collect(),
    }
}

/// Per-kind counts.
#[derive(Default, Debug, Clone, Copy)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fp) as f64 }
    }
    pub fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fn_) as f64 }
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }
}

/// A (kind, canonical value) pair.
pub type Label = (Kind, String);

/// Compare findings (at or above `min`) with labels; adds into `acc`. Returns the
/// unmatched findings and labels for diagnostics.
pub fn score(doc: &Doc, findings: &[Finding], min: f32, acc: &mut BTreeMap<Kind, Counts>) -> (Vec<Label>, Vec<Label>) {
    let mut expected: Vec<(Kind, String, bool)> = doc.labels.iter().map(|(k, v)| (*k, canon(*k, v), false)).collect();
    let mut fps = Vec::new();
    for f in findings.iter().filter(|f| f.confidence >= min) {
        for v in f.values() {
            let c = canon(f.kind, v);
            let hit = expected.iter_mut().find(|(k, e, used)| !*used && *k == f.kind && (*e == c || (f.kind == Kind::Address && (e.contains(&c) || c.contains(e.as_str())) && c.chars().count() * 10 >= e.chars().count() * 8)));
            match hit {
                Some(h) => {
                    h.2 = true;
                    acc.entry(f.kind).or_default().tp += 1;
                }
                None => {
                    acc.entry(f.kind).or_default().fp += 1;
                    fps.push((f.kind, c));
                }
            }
        }
    }
    let mut fns = Vec::new();
    for (k, e, used) in expected {
        if !used {
            acc.entry(k).or_default().fn_ += 1;
            fns.push((k, e));
        }
    }
    (fps, fns)
}

/// One row of the per-format table: documents, and counts over all kinds.
#[derive(Default, Debug, Clone, Copy)]
pub struct FormatRow {
    pub docs: usize,
    pub c: Counts,
}

impl FormatRow {
    /// Add one document's per-kind counts.
    pub fn add(&mut self, _d: &Doc, per_doc: &BTreeMap<Kind, Counts>) {
        self.docs += 1;
        for c in per_doc.values() {
            self.c.tp += c.tp;
            self.c.fp += c.fp;
            self.c.fn_ += c.fn_;
        }
    }
}

/// The format a document is reported under: the scanner's format, with the producer for the
/// converted fixtures (`pdf (LibreOffice)`) and zip members' container named.
pub fn format_of(name: &str, scanned: &str) -> String {
    let producer = if name.contains("libreoffice") {
        " (LibreOffice)"
    } else if name.contains("chromium") {
        " (Chromium)"
    } else {
        ""
    };
    let f = if name.ends_with(".tsv") {
        "tsv".to_string()
    } else if name.contains("nested") {
        "zip (nested)".to_string()
    } else if name.contains("-fw.") {
        format!("{scanned} (full-width)")
    } else if name.contains("-bom.") {
        format!("{scanned} (BOM)")
    } else if name.contains("utf16") {
        format!("{scanned} (no BOM)")
    } else {
        scanned.to_string()
    };
    format!("{f}{producer}")
}
