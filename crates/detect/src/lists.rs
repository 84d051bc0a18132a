//! Bundled lists: free-mail domains, remote-control tools, support-scam URL patterns.
//! Cities extend the first through the policy (`free_mail_domains`).

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
