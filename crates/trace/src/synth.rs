//! A deterministic generator of fictional residents (tests, benchmarks, canaries): names drawn
//! from common surnames and given names, birth dates 1930–2010, addresses in a few real cities
//! with 町名 and block numbers drawn at random — so any resemblance to a real person is chance,
//! and the same seed always gives the same people.

use chrono::NaiveDate;

/// A fictional resident, fields as a business system would write them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resident {
    /// 氏 (surname).
    pub surname: String,
    /// 名 (given name).
    pub given: String,
    /// セイ.
    pub surname_kana: String,
    /// メイ.
    pub given_kana: String,
    /// 生年月日.
    pub birth: NaiveDate,
    /// 都道府県.
    pub prefecture: String,
    /// 市区町村 + 町名.
    pub locality: String,
    /// 丁目, 番, 号.
    pub block: (u32, u32, u32),
    /// 電話.
    pub phone: String,
}

/// splitmix64: tiny, fast, and fixed forever (a generator seed must give the same people in
/// every version, which a library RNG does not promise).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// A random element.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// (kanji, katakana) surnames.
pub const SURNAMES: &[(&str, &str)] = &[
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"), ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"), ("吉田", "ヨシダ"), ("山田", "ヤマダ"),
    ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"), ("井上", "イノウエ"), ("木村", "キムラ"), ("林", "ハヤシ"),
    ("斎藤", "サイトウ"), ("清水", "シミズ"), ("山崎", "ヤマザキ"), ("森", "モリ"), ("池田", "イケダ"), ("橋本", "ハシモト"),
    ("阿部", "アベ"), ("石川", "イシカワ"), ("山下", "ヤマシタ"), ("中島", "ナカジマ"), ("石井", "イシイ"), ("小川", "オガワ"),
    ("前田", "マエダ"), ("岡田", "オカダ"), ("長谷川", "ハセガワ"), ("藤田", "フジタ"), ("後藤", "ゴトウ"), ("近藤", "コンドウ"),
    ("村上", "ムラカミ"), ("遠藤", "エンドウ"), ("青木", "アオキ"), ("坂本", "サカモト"), ("斉藤", "サイトウ"), ("福田", "フクダ"),
    ("太田", "オオタ"), ("西村", "ニシムラ"), ("藤井", "フジイ"), ("金子", "カネコ"), ("岡本", "オカモト"), ("藤原", "フジワラ"),
    ("三浦", "ミウラ"), ("中野", "ナカノ"), ("工藤", "クドウ"), ("成田", "ナリタ"), ("葛西", "カサイ"), ("對馬", "ツシマ"),
    ("澤田", "サワダ"), ("髙山", "タカヤマ"), ("今", "コン"), ("三上", "ミカミ"), ("須藤", "スドウ"), ("鳴海", "ナルミ"),
];

/// (kanji, katakana) given names.
pub const GIVEN: &[(&str, &str)] = &[
    ("太郎", "タロウ"), ("一郎", "イチロウ"), ("健一", "ケンイチ"), ("誠", "マコト"), ("浩", "ヒロシ"), ("翔太", "ショウタ"),
    ("大輔", "ダイスケ"), ("直樹", "ナオキ"), ("和也", "カズヤ"), ("拓也", "タクヤ"), ("隆", "タカシ"), ("修", "オサム"),
    ("茂", "シゲル"), ("勇", "イサム"), ("博", "ヒロシ"), ("正樹", "マサキ"), ("悠斗", "ユウト"), ("蓮", "レン"),
    ("花子", "ハナコ"), ("洋子", "ヨウコ"), ("恵子", "ケイコ"), ("幸子", "サチコ"), ("美香", "ミカ"), ("由美", "ユミ"),
    ("陽子", "ヨウコ"), ("裕子", "ユウコ"), ("真由美", "マユミ"), ("さくら", "サクラ"), ("結衣", "ユイ"), ("陽菜", "ヒナ"),
    ("美咲", "ミサキ"), ("愛", "アイ"), ("智子", "トモコ"), ("久美子", "クミコ"), ("明美", "アケミ"), ("千尋", "チヒロ"),
    ("敏子", "トシコ"), ("和子", "カズコ"), ("節子", "セツコ"), ("清", "キヨシ"), ("実", "ミノル"), ("進", "ススム"),
];

/// (prefecture, city, 町名) localities.
pub const LOCALITIES: &[(&str, &str)] = &[
    ("青森県", "弘前市本町"), ("青森県", "弘前市城東"), ("青森県", "弘前市松原東"), ("青森県", "弘前市富田"), ("青森県", "弘前市大町"),
    ("岩手県", "釜石市只越町"), ("岩手県", "釜石市大渡町"), ("岩手県", "釜石市中妻町"), ("神奈川県", "平塚市浅間町"),
    ("神奈川県", "平塚市紅谷町"), ("神奈川県", "平塚市八重咲町"), ("奈良県", "奈良市二条大路南"), ("奈良県", "奈良市三条本町"),
    ("福岡県", "福岡市中央区天神"), ("福岡県", "福岡市博多区博多駅前"), ("北海道", "池田町西"), ("兵庫県", "尼崎市東七松町"),
];

impl Resident {
    /// A random fictional resident.
    pub fn random(rng: &mut Rng) -> Resident {
        let (s, sk) = *rng.pick(SURNAMES);
        let (g, gk) = *rng.pick(GIVEN);
        let (pref, loc) = *rng.pick(LOCALITIES);
        let birth = NaiveDate::from_ymd_opt(1930, 1, 1).expect("date") + chrono::Duration::days(rng.below(80 * 365) as i64);
        let phone = format!("0{}-{:02}-{:04}", 170 + rng.below(30), rng.below(100), rng.below(10000));
        Resident {
            surname: s.into(),
            given: g.into(),
            surname_kana: sk.into(),
            given_kana: gk.into(),
            birth,
            prefecture: pref.into(),
            locality: loc.into(),
            block: (1 + rng.below(9) as u32, 1 + rng.below(40) as u32, 1 + rng.below(30) as u32),
            phone,
        }
    }

    /// 氏名 as "姓 名".
    pub fn name(&self) -> String {
        format!("{} {}", self.surname, self.given)
    }
    /// カナ as "セイ メイ".
    pub fn kana(&self) -> String {
        format!("{} {}", self.surname_kana, self.given_kana)
    }
    /// 住所 as a system writes it: prefecture, 丁目-番-号.
    pub fn address(&self) -> String {
        format!("{}{}{}丁目{}番{}号", self.prefecture, self.locality, self.block.0, self.block.1, self.block.2)
    }
    /// 生年月日 as 和暦 (昭和45年3月2日).
    pub fn birth_wareki(&self) -> String {
        let y = self.birth.format("%Y").to_string().parse::<i32>().unwrap_or(1970);
        let (era, first) = if self.birth >= NaiveDate::from_ymd_opt(1989, 1, 8).expect("date") {
            ("平成", 1989)
        } else {
            ("昭和", 1926)
        };
        let ey = y - first + 1;
        let ey = if ey == 1 { "元".to_owned() } else { ey.to_string() };
        format!("{era}{ey}年{}月{}日", self.birth.format("%-m"), self.birth.format("%-d"))
    }
}

/// `n` fictional residents from `seed`.
pub fn population(seed: u64, n: usize) -> Vec<Resident> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| Resident::random(&mut rng)).collect()
}

/// A business-system CSV export (UTF-8, header 氏名,カナ,生年月日,住所,電話).
pub fn export_csv(rs: &[Resident]) -> String {
    let mut s = String::from("氏名,カナ,生年月日,住所,電話\n");
    for r in rs {
        s.push_str(&format!("{},{},{},{},{}\n", r.name(), r.kana(), r.birth.format("%Y/%m/%d"), r.address(), r.phone));
    }
    s
}
