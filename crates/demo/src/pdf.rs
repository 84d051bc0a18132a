//! A list as a PDF (A4, Japanese, IPAex Gothic embedded, text layer extractable): the Nara
//! scenario's publication draft. The font backend is the directory crate's (see
//! `crates/directory/src/pdf.rs` for why unified ideographs must win over radicals).

use mamori_directory::pdf::{add_cjk_font, find_font, wrap};
use printpdf::{IndirectFontRef, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference};

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const MARGIN: f32 = 15.0;

struct Writer {
    doc: PdfDocumentReference,
    font: IndirectFontRef,
    layer: PdfLayerReference,
    y: f32,
}



impl Writer {
    fn line(&mut self, text: &str, size: f32) {
        for l in wrap(text, size, PAGE_W - 2.0 * MARGIN) {
            let h = size * 0.3528 * 1.5;
            if self.y - h < MARGIN {
                let (p, l2) = self.doc.add_page(Mm(PAGE_W), Mm(PAGE_H), "本文");
                self.layer = self.doc.get_page(p).get_layer(l2);
                self.y = PAGE_H - MARGIN;
            }
            self.y -= h;
            self.layer
                .use_text(l, size, Mm(MARGIN), Mm(self.y), &self.font);
        }
    }
}

/// Writes `lines` (title first) as a PDF.
pub fn lines_pdf(title: &str, lines: &[String]) -> Result<Vec<u8>, String> {
    let font = find_font().map_err(|e| e.to_string())?;
    let (doc, page, layer) = PdfDocument::new(title, Mm(PAGE_W), Mm(PAGE_H), "本文");
    // Fixed dates and ids: the demo city must be byte-identical for a seed.
    let when =
        printpdf::OffsetDateTime::from_unix_timestamp(1_770_000_000).map_err(|e| e.to_string())?;
    let doc = doc
        .with_creation_date(when)
        .with_mod_date(when)
        .with_metadata_date(when)
        .with_document_id("AOBADEMOCITYAOBADEMOCITYAOBADEMO".into());
    let font = add_cjk_font(&doc, &font).map_err(|e| e.to_string())?;
    let layer = doc.get_page(page).get_layer(layer);
    let mut w = Writer {
        doc,
        font,
        layer,
        y: PAGE_H - MARGIN,
    };
    w.line(title, 13.0);
    for l in lines {
        w.line(l, 9.0);
    }
    let mut bytes = w.doc.save_to_bytes().map_err(|e| e.to_string())?;
    fix_random_ids(&mut bytes);
    clean_cmaps(&bytes)
}

/// A `<gid> <code point>` line with a code point beyond the BMP written as UTF-16 (a surrogate
/// pair), as the PDF reference asks; other lines unchanged.
fn utf16_target(l: &str) -> String {
    let parts: Vec<&str> = l.split(' ').collect();
    if let [gid, target] = parts[..]
        && gid.starts_with('<')
        && target.len() > 6
        && let Ok(cp) = u32::from_str_radix(target.trim_matches(|c| c == '<' || c == '>'), 16)
        && let Some(c) = char::from_u32(cp)
    {
        let mut buf = [0u16; 2];
        let hex: String = c
            .encode_utf16(&mut buf)
            .iter()
            .map(|u| format!("{u:04x}"))
            .collect();
        return format!("{gid} <{hex}>");
    }
    l.to_owned()
}

/// printpdf's ToUnicode CMaps carry `/CMapVersion` and `/WMode` entries (and PostScript
/// comments) that lopdf's CMap parser refuses (it accepts only CIDSystemInfo, CMapName and
/// CMapType before the mappings), so mamori-pii could not read the text layer (poppler can).
/// Rewrites each CMap stream without those lines; the mappings are unchanged.
fn clean_cmaps(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut doc = lopdf::Document::load_mem(bytes).map_err(|e| e.to_string())?;
    for obj in doc.objects.values_mut() {
        let lopdf::Object::Stream(st) = obj else {
            continue;
        };
        let content = st
            .decompressed_content()
            .unwrap_or_else(|_| st.content.clone());
        if !content.windows(9).any(|w| w == b"begincmap") {
            continue;
        }
        let text = String::from_utf8_lossy(&content);
        let clean: String = text
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                !(l.starts_with('%') || l.starts_with("/CMapVersion") || l.starts_with("/WMode"))
            })
            .map(|l| format!("{}\n", utf16_target(l.trim_end_matches('\r'))))
            .collect();
        st.set_plain_content(clean.into_bytes());
        let _ = st.compress();
    }
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// printpdf writes random 32-letter ids (A–J) into the trailer and XMP metadata at save time;
/// replaces each with a fixed string of the same length (offsets and xref stay valid).
fn fix_random_ids(b: &mut [u8]) {
    let is_id = |c: u8| (b'A'..=b'J').contains(&c);
    let is_word = |c: u8| c.is_ascii_alphanumeric();
    let mut i = 0;
    let mut n = 0u8;
    while i < b.len() {
        if is_id(b[i]) && (i == 0 || !is_word(b[i - 1])) {
            let mut j = i;
            while j < b.len() && is_id(b[j]) {
                j += 1;
            }
            if j - i == 32 && (j == b.len() || !is_word(b[j])) {
                for (k, c) in b[i..j].iter_mut().enumerate() {
                    *c = b'A' + ((k as u8).wrapping_add(n) % 10);
                }
                n = n.wrapping_add(1);
            }
            i = j;
        } else {
            i += 1;
        }
    }
}
