//! Encoding detection for files exported on Japanese Windows: CP932 ("ANSI" in Excel and most
//! business systems), UTF-8, and UTF-8 with a BOM (Excel's "CSV UTF-8").

use serde::{Deserialize, Serialize};

/// The text encoding a file was read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceEncoding {
    /// UTF-8 without BOM.
    Utf8,
    /// UTF-8 with a BOM.
    Utf8Bom,
    /// CP932 / Windows Shift_JIS.
    Cp932,
}

impl SourceEncoding {
    /// The name used in mapping files and reports (`utf-8`, `utf-8-bom`, `cp932`).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceEncoding::Utf8 => "utf-8",
            SourceEncoding::Utf8Bom => "utf-8-bom",
            SourceEncoding::Cp932 => "cp932",
        }
    }
}

/// Decodes `bytes`: valid UTF-8 (a BOM stripped) is UTF-8; anything else is CP932. With
/// `forced`, that encoding is used (a BOM is still stripped). Returns the text, the encoding
/// used and whether undecodable bytes were replaced by U+FFFD.
pub fn decode(bytes: &[u8], forced: Option<SourceEncoding>) -> (String, SourceEncoding, bool) {
    let (body, bom) = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(b) => (b, true),
        None => (bytes, false),
    };
    let utf8 = |enc| {
        let (s, lossy) = encoding_rs::UTF_8.decode_without_bom_handling(body);
        (s.into_owned(), enc, lossy)
    };
    match forced {
        Some(SourceEncoding::Cp932) => return cp932(body),
        Some(_) => return utf8(if bom { SourceEncoding::Utf8Bom } else { SourceEncoding::Utf8 }),
        None => {}
    }
    if let Ok(s) = std::str::from_utf8(body) {
        return (s.to_owned(), if bom { SourceEncoding::Utf8Bom } else { SourceEncoding::Utf8 }, false);
    }
    if bom {
        // A BOM says UTF-8; broken bytes after it are damage, not another encoding.
        return utf8(SourceEncoding::Utf8Bom);
    }
    cp932(body)
}

fn cp932(body: &[u8]) -> (String, SourceEncoding, bool) {
    // encoding_rs's Shift_JIS is the WHATWG one, i.e. Microsoft's CP932 with the NEC and IBM
    // extensions (①, ㈱, 髙, 﨑 …) that Japanese names use.
    let (s, lossy) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(body);
    (s.into_owned(), SourceEncoding::Cp932, lossy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_three_encodings() {
        let text = "操作者,髙橋①";
        let cp = encoding_rs::SHIFT_JIS.encode(text).0.into_owned();
        assert_eq!(decode(&cp, None), (text.to_owned(), SourceEncoding::Cp932, false));
        assert_eq!(decode(text.as_bytes(), None), (text.to_owned(), SourceEncoding::Utf8, false));
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(decode(&bom, None), (text.to_owned(), SourceEncoding::Utf8Bom, false));
    }

    #[test]
    fn damage_after_a_bom_stays_utf8_and_is_reported() {
        let (s, enc, lossy) = decode(&[0xEF, 0xBB, 0xBF, b'a', 0xFF], None);
        assert_eq!((s.as_str(), enc, lossy), ("a\u{FFFD}", SourceEncoding::Utf8Bom, true));
    }

    #[test]
    fn forced_encoding_wins() {
        let (_, enc, _) = decode("あ".as_bytes(), Some(SourceEncoding::Cp932));
        assert_eq!(enc, SourceEncoding::Cp932);
        assert_eq!(decode(b"abc", Some(SourceEncoding::Utf8)).1, SourceEncoding::Utf8);
    }
}
