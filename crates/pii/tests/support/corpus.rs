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
        let s = i as u32;
        let mut t = String::new();
        let mut l = Vec::new();
        t.push_str("転入届出書\n受付日 令和6年4月1日\n");
        t.push_str(&format!("氏名 {}\n", r.name(i % 2 == 0)));
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
        let t = format!(
            "請求書\n請求書番号 {}\n注文番号 {mn}\n伝票番号 {}-{}\n製品コード AB{}\n品番 XJ-{}\n個人番号 {bad}\n発行日 令和6年{}月{}日\n金額 123,456円\n",
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
    docs
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
        for v in &f.values {
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
