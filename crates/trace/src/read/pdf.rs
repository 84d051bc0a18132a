//! PDF: the text layer (lopdf, the crate `crates/pii` uses), page by page, read as free lines.
//!
//! lopdf's own `extract_text` refuses a whole page when a font's ToUnicode CMap has PostScript
//! comments in it (as printpdf — used for mamori's own reports — and several office tools write
//! them). So when it fails, the page is decoded here: lopdf still parses the objects and the
//! content stream; only the CMap's `bfchar`/`bfrange` sections are read by a tolerant scanner,
//! and text operators are turned into lines (a line per text block or line move).

use super::{Format, ReadList, Rejected};
use lopdf::{Document, Object, ObjectId};
use std::collections::HashMap;

/// Reads the text layer of every page.
pub fn read_pdf(bytes: &[u8]) -> Result<ReadList, String> {
    let doc = Document::load_mem(bytes).map_err(|e| format!("PDF として読めません / not a readable PDF: {e}"))?;
    let mut out = ReadList { format: Format::Pdf, encoding: None, records: Vec::new(), rejected: Vec::new() };
    for (p, id) in doc.get_pages() {
        let text = match doc.extract_text(&[p]) {
            Ok(_) if cmap_refused(&doc, id) => page_text(&doc, id),
            Ok(t) => Ok(t),
            Err(e) => page_text(&doc, id).map_err(|e2| format!("{e}; {e2}")),
        };
        match text {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().collect();
                let part = super::text::read_free(&lines, &format!("page {p} line"));
                out.records.extend(part.records);
                out.rejected.extend(part.rejected);
            }
            Err(e) => out.rejected.push(Rejected { location: format!("page {p}"), reason: format!("テキストを取り出せません / no text: {e}"), raw: String::new() }),
        }
    }
    if out.records.is_empty() && out.rejected.is_empty() {
        return Err("テキスト層がありません / the PDF has no text layer".into());
    }
    Ok(out)
}

/// Whether lopdf refused a ToUnicode CMap on this page. Since 0.37 lopdf no longer fails the
/// page then: it silently decodes with StandardEncoding, turning Japanese into Latin-1 junk. So
/// a font that is decoded through its ToUnicode (no /Encoding, or Identity-H/V) but did not get
/// a Unicode map sends the page to the tolerant decoder, as an error did with lopdf 0.36.
fn cmap_refused(doc: &Document, page: ObjectId) -> bool {
    let Ok(fonts) = doc.get_page_fonts(page) else { return false };
    fonts.values().any(|font| {
        let via_to_unicode = match font.get(b"Encoding") {
            Err(_) => true,
            Ok(o) => o.as_name().is_ok_and(|n| n == b"Identity-H" || n == b"Identity-V"),
        };
        via_to_unicode
            && font.get(b"ToUnicode").is_ok()
            && !matches!(
                font.get_font_encoding_with_limit(doc, lopdf::DEFAULT_MAX_DECOMPRESSED_SIZE),
                Ok(lopdf::Encoding::UnicodeMapEncoding(_))
            )
    })
}

struct FontMap {
    two_byte: bool,
    map: HashMap<u32, String>,
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()).collect()
}

fn code(s: &str) -> Option<u32> {
    let b = hex_bytes(s)?;
    (b.len() <= 4).then(|| b.iter().fold(0u32, |a, x| (a << 8) | *x as u32))
}

fn utf16(s: &str) -> Option<String> {
    let b = hex_bytes(s)?;
    let units: Vec<u16> = b.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
    String::from_utf16(&units).ok()
}

/// Reads `bfchar` and `bfrange` entries, skipping everything else (comments included).
fn parse_cmap(text: &str) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    let toks: Vec<&str> = text
        .lines()
        .map(|l| l.split('%').next().unwrap_or(""))
        .flat_map(|l| l.split_whitespace())
        .collect();
    let mut i = 0;
    let hex = |t: &str| t.starts_with('<') && t.ends_with('>');
    while i < toks.len() {
        match toks[i] {
            "beginbfchar" => {
                i += 1;
                while i + 1 < toks.len() && toks[i] != "endbfchar" {
                    if let (Some(c), Some(u)) = (code(toks[i]), utf16(toks[i + 1])) {
                        map.insert(c, u);
                    }
                    i += 2;
                }
            }
            "beginbfrange" => {
                i += 1;
                while i + 2 < toks.len() && toks[i] != "endbfrange" {
                    let (Some(lo), Some(hi)) = (code(toks[i]), code(toks[i + 1])) else {
                        i += 1;
                        continue;
                    };
                    if hex(toks[i + 2]) {
                        if let Some(start) = utf16(toks[i + 2]).and_then(|s| s.chars().next()) {
                            for (k, c) in (lo..=hi.min(lo + 0xFFFF)).enumerate() {
                                if let Some(ch) = char::from_u32(start as u32 + k as u32) {
                                    map.insert(c, ch.to_string());
                                }
                            }
                        }
                        i += 3;
                    } else {
                        // [<d1> <d2> ...]
                        let mut j = i + 2;
                        let mut c = lo;
                        while j < toks.len() {
                            let t = toks[j].trim_matches(|x| x == '[' || x == ']');
                            if !t.is_empty()
                                && let Some(u) = utf16(t)
                            {
                                map.insert(c, u);
                                c += 1;
                            }
                            if toks[j].ends_with(']') {
                                break;
                            }
                            j += 1;
                        }
                        i = j + 1;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    map
}

fn font_maps(doc: &Document, page: ObjectId) -> HashMap<Vec<u8>, FontMap> {
    let mut out = HashMap::new();
    let Ok(fonts) = doc.get_page_fonts(page) else { return out };
    for (name, font) in fonts {
        let two_byte = font.get(b"Subtype").and_then(Object::as_name).is_ok_and(|s| s == b"Type0");
        let map = font
            .get(b"ToUnicode")
            .ok()
            .and_then(|o| doc.dereference(o).ok())
            .and_then(|(_, o)| o.as_stream().ok())
            .and_then(|s| s.decompressed_content().ok().or_else(|| Some(s.content.clone())))
            .map(|b| parse_cmap(&String::from_utf8_lossy(&b)))
            .unwrap_or_default();
        out.insert(name, FontMap { two_byte, map });
    }
    out
}

fn decode(bytes: &[u8], font: Option<&FontMap>, out: &mut String) {
    match font {
        Some(f) if f.two_byte => {
            for c in bytes.chunks(2) {
                let code = c.iter().fold(0u32, |a, x| (a << 8) | *x as u32);
                if let Some(s) = f.map.get(&code) {
                    out.push_str(s);
                }
            }
        }
        Some(f) => {
            for b in bytes {
                match f.map.get(&(*b as u32)) {
                    Some(s) => out.push_str(s),
                    None if b.is_ascii() => out.push(*b as char),
                    None => {}
                }
            }
        }
        None => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// The text of one page, a line per text block or line move.
fn page_text(doc: &Document, page: ObjectId) -> Result<String, String> {
    let fonts = font_maps(doc, page);
    let content = doc.get_page_content(page);
    let ops = lopdf::content::Content::decode(&content).map_err(|e| e.to_string())?.operations;
    let mut text = String::new();
    let mut font: Option<&FontMap> = None;
    let newline = |t: &mut String| {
        if !t.is_empty() && !t.ends_with('\n') {
            t.push('\n');
        }
    };
    for op in ops {
        match op.operator.as_str() {
            "Tf" => font = op.operands.first().and_then(|o| o.as_name().ok()).and_then(|n| fonts.get(n)),
            "Tj" | "'" | "\"" => {
                if op.operator != "Tj" {
                    newline(&mut text);
                }
                if let Some(s) = op.operands.last().and_then(|o| o.as_str().ok()) {
                    decode(s, font, &mut text);
                }
            }
            "TJ" => {
                for o in op.operands.first().and_then(|o| o.as_array().ok()).into_iter().flatten() {
                    match o {
                        Object::String(s, _) => decode(s, font, &mut text),
                        // A large negative kerning is a word gap.
                        o if o.as_float().is_ok_and(|k| k < -200.0) => text.push(' '),
                        _ => {}
                    }
                }
            }
            "ET" | "Td" | "TD" | "T*" | "Tm" => newline(&mut text),
            _ => {}
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmap_with_comments_ranges_and_arrays() {
        let m = parse_cmap("%!PS-Adobe-3.0 Resource-CMap\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n2 beginbfchar\r\n<0010> <5c71>\n<0011> <7530>\nendbfchar\n1 beginbfrange\n<0020> <0022> <0041>\nendbfrange\n1 beginbfrange\n<0030> <0031> [<3042> <3044>]\nendbfrange\n");
        assert_eq!(m.get(&0x10).map(String::as_str), Some("山"));
        assert_eq!(m.get(&0x11).map(String::as_str), Some("田"));
        assert_eq!(m.get(&0x22).map(String::as_str), Some("C"));
        assert_eq!(m.get(&0x31).map(String::as_str), Some("い"));
    }
}
