//! Bundled lists: free-mail domains, remote-control tools, support-scam URL patterns, web
//! categories a city forbids.
//! Cities extend the first through the policy (`free_mail_domains`), the web categories through
//! `[browsing]`.

use std::collections::BTreeMap;

/// Free and personal mail domains common in Japan and worldwide (carrier mail included: staff
/// forwarding to their phones is the same leak).
pub const FREE_MAIL_DOMAINS: &[&str] = &[
    "gmail.com", "googlemail.com", "yahoo.co.jp", "ymail.ne.jp", "yahoo.com", "outlook.com", "outlook.jp", "hotmail.com",
    "hotmail.co.jp", "live.jp", "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "gmx.com", "gmx.net",
    "mail.com", "proton.me", "protonmail.com", "zoho.com", "yandex.com", "yandex.ru", "qq.com", "163.com", "126.com",
    "naver.com", "docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp", "ymobile.ne.jp",
    "rakuten.jp", "nifty.com", "biglobe.ne.jp", "excite.co.jp", "goo.jp", "infoseek.jp", "so-net.ne.jp", "ocn.ne.jp",
    "plala.or.jp", "dion.ne.jp", "ybb.ne.jp", "tutanota.com", "tuta.io", "fastmail.com", "hushmail.com", "mailinator.com",
    "guerrillamail.com", "10minutemail.com", "sharklasers.com", "temp-mail.org",
];

/// True when `domain` (lower-case) is a free-mail domain of the bundled list or `extra`.
pub fn is_free_mail(domain: &str, extra: &[String]) -> bool {
    let d = domain.trim_end_matches('.');
    FREE_MAIL_DOMAINS.iter().any(|f| d == *f || d.ends_with(&format!(".{f}"))) || extra.iter().any(|f| d == f.to_lowercase())
}

/// Remote-control tools (lower-case substrings of process, file, service or package names)
/// with a display name. Ikeda: the caller had the director install one.
pub const REMOTE_TOOLS: &[(&str, &str)] = &[
    ("teamviewer", "TeamViewer"),
    ("anydesk", "AnyDesk"),
    ("quickassist", "Quick Assist"),
    ("screenconnect", "ScreenConnect"),
    ("connectwisecontrol", "ConnectWise Control"),
    ("rustdesk", "RustDesk"),
    ("ultraviewer", "UltraViewer"),
    ("logmein", "LogMeIn"),
    ("gotoassist", "GoTo Assist"),
    ("splashtop", "Splashtop"),
    ("aeroadmin", "AeroAdmin"),
    ("supremo", "Supremo"),
    ("ammyy", "Ammyy Admin"),
    ("remoting_host", "Chrome Remote Desktop"),
    ("remotepc", "RemotePC"),
    ("bomgar", "BeyondTrust Remote Support"),
    ("zohoassist", "Zoho Assist"),
    ("showmypc", "ShowMyPC"),
    ("tightvnc", "TightVNC"),
    ("ultravnc", "UltraVNC"),
    ("tvnserver", "TightVNC"),
    ("winvnc", "VNC"),
    ("radmin", "Radmin"),
    ("dwagent", "DWService"),
    ("meshagent", "MeshCentral"),
    ("atera", "Atera"),
    ("netsupport", "NetSupport"),
    ("client32.exe", "NetSupport"),
];

/// The remote tool named in `text` (lower-cased by the caller), if any.
pub fn remote_tool(text: &str) -> Option<&'static str> {
    REMOTE_TOOLS.iter().find(|(k, _)| text.contains(k)).map(|(_, n)| *n)
}

/// URL fragments of technical-support scam pages (fake virus warnings that show a phone
/// number), lower-case; Japanese ones are matched on the decoded URL too.
pub const SCAM_URL_PATTERNS: &[&str] = &[
    "virus-alert", "virusalert", "virus-detected", "virus-warning", "security-alert", "securityalert", "support-alert",
    "microsoft-support-", "windows-support-", "windows-defender-alert", "defender-warning", "tech-support", "techsupport",
    "call-now", "callnow", "computer-locked", "pc-locked", "your-computer-is-infected", "infected-alert", "trojan-alert",
    "error-code-0x", "/alert/?phone=", "?phone=", "&phone=", "system-warning", "critical-alert", "ウイルス", "感染",
    "サポートセンター", "警告",
];

/// The scam pattern found in a URL (lower-cased, percent-decoded by the caller), if any.
pub fn scam_pattern(url: &str) -> Option<&'static str> {
    SCAM_URL_PATTERNS.iter().find(|p| url.contains(*p)).copied()
}

/// Percent-decodes a URL for matching (invalid escapes are kept; invalid UTF-8 is replaced).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// File-name words that suggest personal data (for handover folders).
pub const PII_NAME_HINTS: &[&str] =
    &["住民", "台帳", "名簿", "個人", "マイナンバー", "個人番号", "滞納", "給与", "住所", "世帯", "課税", "戸籍", "保険", "患者", "児童"];

/// True when a file name suggests personal data.
pub fn pii_name(name: &str) -> bool {
    PII_NAME_HINTS.iter().any(|h| name.contains(h))
}

/// Web categories a city typically forbids on its network (情報セキュリティポリシー: 業務外の
/// Web 閲覧の禁止), with their Japanese labels. A city chooses which ones apply and adds its own
/// (`[browsing]` in the policy).
pub const WEB_CATEGORIES: &[(&str, &str)] = &[("gambling", "ギャンブル"), ("adult", "アダルト"), ("dating", "出会い系")];

/// Well-known sites by category (a domain matches itself and its subdomains). Hand-kept: no
/// maintained, freely licensed category feed covers Japanese betting and adult sites, and a
/// city's filtering product (i-FILTER, InterSafe …) is not something the detector can read.
/// Cities add and override entries in the policy (`[browsing.domains]`, `"x" = "allow"`).
pub const WEB_DOMAINS: &[(&str, &str)] = &[
    // 公営競技のネット投票・予想、オンラインカジノ / betting and online casinos
    ("ipat.jra.go.jp", "gambling"), ("spat4.jp", "gambling"), ("oddspark.com", "gambling"), ("keiba.rakuten.co.jp", "gambling"),
    ("netkeiba.com", "gambling"), ("winticket.jp", "gambling"), ("chariloto.com", "gambling"), ("kdreams.jp", "gambling"),
    ("teleboat.jp", "gambling"), ("boatrace.jp", "gambling"), ("autorace.jp", "gambling"), ("toto-dream.com", "gambling"),
    ("bet365.com", "gambling"), ("stake.com", "gambling"), ("1xbet.com", "gambling"), ("williamhill.com", "gambling"),
    ("pokerstars.com", "gambling"), ("888casino.com", "gambling"), ("verajohn.com", "gambling"), ("casino-x.com", "gambling"),
    ("betway.com", "gambling"), ("yuugado.com", "gambling"), ("intercasino.com", "gambling"), ("pinnacle.com", "gambling"),
    // アダルト / adult
    ("pornhub.com", "adult"), ("xvideos.com", "adult"), ("xnxx.com", "adult"), ("xhamster.com", "adult"), ("redtube.com", "adult"),
    ("youporn.com", "adult"), ("onlyfans.com", "adult"), ("chaturbate.com", "adult"), ("stripchat.com", "adult"), ("dmm.co.jp", "adult"),
    ("caribbeancom.com", "adult"), ("1pondo.tv", "adult"), ("heyzo.com", "adult"), ("javlibrary.com", "adult"),
    // 出会い系・マッチング / dating
    ("tinder.com", "dating"), ("pairs.lv", "dating"), ("tapple.me", "dating"), ("with.is", "dating"), ("omiai-jp.com", "dating"),
    ("match.com", "dating"), ("happymail.co.jp", "dating"), ("pcmax.jp", "dating"),
];

/// Words that name a category when they are a whole label of the host name, or a whole
/// hyphen-separated part of one (`keiba-yosou.example.net`, `casino.example`): only words that
/// are not also ordinary words in office browsing (no `av`, `bet`, `adult`, `game`).
pub const WEB_HOST_WORDS: &[(&str, &str)] = &[
    ("casino", "gambling"), ("casinos", "gambling"), ("keiba", "gambling"), ("pachinko", "gambling"), ("pachislot", "gambling"),
    ("pachislo", "gambling"), ("slots", "gambling"), ("poker", "gambling"), ("betting", "gambling"), ("sportsbook", "gambling"),
    ("bookmaker", "gambling"), ("baccarat", "gambling"), ("roulette", "gambling"), ("keirin", "gambling"),
    ("porn", "adult"), ("porno", "adult"), ("xxx", "adult"), ("hentai", "adult"), ("eroge", "adult"),
    ("deaikei", "dating"),
];

/// The category of a host name (lower-case, no port) and what matched, from the city's own
/// entries (`extra`: domain → category, `allow` exempts), then the bundled domains, then whole
/// words of the host name. `None` when nothing matched or the city allowed it.
pub fn web_category(host: &str, extra: &BTreeMap<String, String>) -> Option<(String, String)> {
    let h = host.trim_end_matches('.').to_lowercase();
    // `d` itself or a subdomain of it (no allocation: this runs on every web request).
    let within = |d: &str| h.strip_suffix(d).is_some_and(|rest| rest.is_empty() || rest.ends_with('.'));
    // The longest matching city entry wins (a city may allow one subdomain of a listed site).
    if let Some((d, c)) = extra.iter().filter(|(d, _)| within(&d.to_lowercase())).max_by_key(|(d, _)| d.len()) {
        return (c != "allow").then(|| (c.clone(), d.clone()));
    }
    if let Some((d, c)) = WEB_DOMAINS.iter().find(|(d, _)| within(d)) {
        return Some(((*c).to_owned(), (*d).to_owned()));
    }
    let words = h.split('.').flat_map(|l| std::iter::once(l).chain(l.split('-')));
    for w in words {
        if let Some((k, c)) = WEB_HOST_WORDS.iter().find(|(k, _)| *k == w) {
            return Some(((*c).to_owned(), format!("word:{k}")));
        }
    }
    None
}

/// The Japanese label of a category (the name itself for a city's own categories).
pub fn web_category_ja(category: &str) -> &str {
    WEB_CATEGORIES.iter().find(|(c, _)| *c == category).map_or(category, |(_, j)| j)
}
