//! Japanese first, English on request (`?lang=en` or the `mamori_lang` cookie set by the
//! language switch).

use axum::http::{HeaderMap, Uri};

/// The display language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    /// 日本語 (default).
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// Picks the Japanese or the English text.
    pub fn t<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }

    /// The `lang` attribute value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// From `?lang=` (wins) or the `mamori_lang` cookie; Japanese otherwise.
    pub fn from_request(uri: &Uri, headers: &HeaderMap) -> Lang {
        let q = uri.query().unwrap_or("");
        for kv in q.split('&') {
            match kv {
                "lang=en" => return Lang::En,
                "lang=ja" => return Lang::Ja,
                _ => {}
            }
        }
        match crate::session::cookie(headers, "mamori_lang").as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Ja,
        }
    }
}
