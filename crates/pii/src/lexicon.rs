//! The bundled word lists and the one Aho-Corasick automaton built from them.
//!
//! One leftmost-longest automaton holds every surname, prefecture, municipality, era name and
//! context word, so a text is scanned once for all of them (≈11k patterns). Single-character
//! surnames (林, 森 …) are left out: they would match nearly every line of Japanese text; such
//! names are still found as whole columns of a table (see [`crate::table`]).

use crate::Kind;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::collections::HashSet;
use std::sync::OnceLock;

const SURNAMES: &str = include_str!("../data/surnames.txt");
const GIVEN: &str = include_str!("../data/given_names.txt");
const MUNICIPALITIES: &str = include_str!("../data/municipalities.tsv");

/// What a context word says about the numbers and names near it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// A label for one kind (個人番号 → my_number).
    For(Kind),
    /// An order/invoice/product number label: the number next to it is not personal data.
    Decoy,
    /// A job title (課長, 係長 …): the name next to it is staff in an org chart.
    Title,
    /// The city hall's own details (市役所, 所在地, 問い合わせ …).
    Office,
    /// 記号 (insurance card symbol) — health insurance only with 保険 near.
    Symbol,
}

/// What a pattern of the automaton is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pat {
    /// A surname (index into [`Lexicon::surnames`]).
    Surname,
    /// A prefecture.
    Prefecture,
    /// A municipality (市区町村).
    Municipality,
    /// An era name; value = index into [`ERAS`].
    Era(u8),
    /// A context word.
    Ctx(Label),
}

/// Era name, first Gregorian year, last year of the era (in era years) — see [`crate::detect`]
/// for the day boundaries.
pub const ERAS: [(&str, i32, i32); 5] = [
    ("明治", 1868, 45),
    ("大正", 1912, 15),
    ("昭和", 1926, 64),
    ("平成", 1989, 31),
    ("令和", 2019, 99),
];

fn context_words() -> Vec<(&'static str, Label)> {
    use Kind::*;
    use Label::*;
    let mut v: Vec<(&'static str, Label)> = Vec::new();
    let mut add = |ws: &[&'static str], l: Label| v.extend(ws.iter().map(|w| (*w, l)));
    add(
        &[
            "個人番号",
            "マイナンバー",
            "My Number",
            "MyNumber",
            "個人番号カード",
            "マイナンバーカード",
        ],
        For(MyNumber),
    );
    add(&["法人番号", "会社法人等番号"], For(CorporateNumber));
    add(&["住民票コード", "住基コード"], For(JuminhyoCode));
    add(&["基礎年金番号", "年金番号", "年金手帳"], For(BasicPensionNumber));
    add(
        &["運転免許証番号", "運転免許証", "運転免許", "免許証番号", "免許番号", "免許証"],
        For(DriversLicense),
    );
    add(
        &["旅券番号", "旅券", "パスポート番号", "パスポート", "Passport", "PASSPORT"],
        For(Passport),
    );
    add(
        &["被保険者番号", "被保険者証", "保険証番号", "保険証", "被保険者記号"],
        For(HealthInsurance),
    );
    add(
        &["口座番号", "普通預金", "当座預金", "普通口座", "振込先", "口座"],
        For(BankAccount),
    );
    add(&["クレジットカード", "カード番号", "クレジット", "有効期限"], For(CreditCard));
    add(
        &[
            "電話番号",
            "電話",
            "TEL",
            "Tel",
            "tel",
            "携帯番号",
            "携帯電話",
            "携帯",
            "連絡先",
            "自宅",
        ],
        For(Phone),
    );
    add(&["郵便番号", "〒"], For(PostalCode));
    add(&["メールアドレス", "メール", "E-mail", "e-mail", "Email", "email"], For(Email));
    add(
        &[
            "現住所",
            "住所",
            "住民登録地",
            "居所",
            "本籍",
            "送付先",
            "転居先",
            "転出先",
            "お住まい",
        ],
        For(Address),
    );
    add(&["生年月日", "誕生日", "出生日", "生年"], For(BirthDate));
    add(
        &[
            "氏名",
            "名前",
            "お名前",
            "姓名",
            "申請者",
            "世帯主",
            "被保険者",
            "届出人",
            "受給者",
            "対象者",
            "本人",
            "患者",
            "児童",
            "生徒",
            "保護者",
            "筆頭者",
            "相談者",
            "利用者",
            "契約者",
            "納税者",
            "死亡者",
            "宛名",
        ],
        For(PersonName),
    );
    add(
        &[
            "注文番号",
            "受注番号",
            "発注番号",
            "請求書番号",
            "請求番号",
            "伝票番号",
            "製品コード",
            "商品コード",
            "製品番号",
            "品番",
            "型番",
            "管理番号",
            "受付番号",
            "問合せ番号",
            "追跡番号",
            "お問い合わせ番号",
            "部品番号",
            "シリアル番号",
            "ロット",
            "JAN",
            "注文No",
            "Order",
            "Invoice",
            "SKU",
            "文書番号",
            "契約番号",
            "案件番号",
            "図面番号",
        ],
        Decoy,
    );
    add(
        &[
            "課長補佐",
            "課長",
            "係長",
            "部長",
            "次長",
            "室長",
            "所長",
            "局長",
            "主査",
            "主任",
            "主事",
            "参事",
            "副市長",
            "市長",
            "町長",
            "村長",
            "副町長",
            "担当",
            "技師",
            "事務局長",
            "班長",
            "課員",
            "係員",
            "主幹",
            "会計管理者",
            "教育長",
        ],
        Title,
    );
    add(
        &[
            "市役所",
            "区役所",
            "町役場",
            "村役場",
            "役場",
            "庁舎",
            "所在地",
            "問い合わせ",
            "問合せ",
            "お問い合わせ",
            "窓口",
            "会場",
            "本庁",
            "支所",
            "代表電話",
            "代表",
            "開庁",
            "担当課",
            "FAX",
            "ファクス",
            "ファックス",
            "事務所",
            "センター",
        ],
        Office,
    );
    add(&["記号"], Symbol);
    // Honorifics (様, 殿, さん) and 生/生まれ after a date are checked with `starts_with` at
    // the end of a candidate, not put in the automaton: one-character words would match on
    // almost every line and cost more than they find.
    v
}

/// The word lists and automaton.
pub struct Lexicon {
    /// The automaton over every pattern.
    pub ac: AhoCorasick,
    /// What each pattern id is.
    pub pats: Vec<Pat>,
    /// Given names (for the name after a surname).
    pub given: HashSet<&'static str>,
    /// All surnames incl. single-character ones (table columns).
    pub surnames: HashSet<&'static str>,
    /// Municipality names (市区町村) for table content checks.
    pub municipalities: HashSet<&'static str>,
}

/// The shared lexicon (built once, ~50 ms).
pub fn lexicon() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(build)
}

fn build() -> Lexicon {
    let mut words: Vec<&'static str> = Vec::new();
    let mut pats: Vec<Pat> = Vec::new();
    let mut seen: HashSet<&'static str> = HashSet::new();
    // Order matters only for identical strings: the first kind wins.
    for (w, l) in context_words() {
        if seen.insert(w) {
            words.push(w);
            pats.push(Pat::Ctx(l));
        }
    }
    for (i, (e, _, _)) in ERAS.iter().enumerate() {
        if seen.insert(e) {
            words.push(e);
            pats.push(Pat::Era(i as u8));
        }
    }
    let mut municipalities = HashSet::new();
    let mut prefs: HashSet<&'static str> = HashSet::new();
    for line in MUNICIPALITIES.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.split('\t');
        let (_code, pref, city) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        if !pref.is_empty() && prefs.insert(pref) && seen.insert(pref) {
            words.push(pref);
            pats.push(Pat::Prefecture);
        }
        if !city.is_empty() {
            municipalities.insert(city);
            if seen.insert(city) {
                words.push(city);
                pats.push(Pat::Municipality);
            }
        }
    }
    let surnames: HashSet<&'static str> = SURNAMES.lines().filter(|l| !l.is_empty()).collect();
    for s in SURNAMES.lines() {
        if s.chars().count() >= 2 && !STOP_SURNAMES.contains(&s) && seen.insert(s) {
            words.push(s);
            pats.push(Pat::Surname);
        }
    }
    let given = GIVEN.lines().filter(|l| !l.is_empty() && !STOP_GIVEN.contains(l)).collect();
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&words)
        .expect("the bundled lexicon builds");
    Lexicon {
        ac,
        pats,
        given,
        surnames,
        municipalities,
    }
}

/// Surnames in the IPA dictionary that are far more often ordinary words in municipal text.
const STOP_SURNAMES: &[&str] = &[
    "日本", "中央", "会計", "市民", "住民", "番号", "記号", "一般", "公共", "福祉", "保険", "年金", "教育", "生活", "保健", "文化", "交通",
    "安全", "地域", "環境", "産業", "観光", "都市", "建設", "財政", "税務", "上下", "水道", "道路", "公園", "防災", "東西", "南北", "今年",
    "今月", "本日", "明日", "昨日", "以上", "以下", "平成", "昭和", "令和", "大正", "明治", "年度", "月日", "時間", "生年", "大字", "丁目",
    "番地", "本町", "新町", "仲町", "元町",
];

/// Given names that are mostly ordinary words when they follow a surname-like word.
const STOP_GIVEN: &[&str] = &[
    "市", "町", "村", "区", "県", "府", "都", "道", "様", "殿", "氏", "課", "係", "部", "室", "局",
];
