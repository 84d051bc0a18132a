//! A list as a PDF (A4, Japanese, IPAex Gothic embedded, text layer extractable): the Nara
//! scenario's publication draft. The font backend is the directory crate's (see
//! `crates/directory/src/pdf.rs` for why unified ideographs must win over radicals).

use std::collections::HashMap;
use std::sync::Arc;

use owned_ttf_parser::{AsFaceRef, OwnedFace};
use printpdf::{
    FontData, FontMetrics, GlyphMetrics, IndirectFontRef, Mm, PdfDocument, PdfDocumentReference,
    PdfLayerReference,
};

/// Fonts tried in order.
pub const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
];

/// printpdf's own font backend maps each glyph to the *first* code point the font's cmap gives
/// it; in Japanese fonts the Kangxi radicals (U+2F00…) and CJK compatibility ideographs share
/// glyphs with the unified ideographs and come first, so 木 would be extracted as ⽊ (U+2F4A)
/// and a search for 鈴木 in the PDF would fail. This backend is printpdf's, except that a
/// unified ideograph wins over a radical or compatibility code point for the same glyph.
#[derive(Clone, Debug)]
struct CjkFace {
    face: Arc<OwnedFace>,
}

fn is_radical_or_compat(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x2FDF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

impl FontData for CjkFace {
    fn font_metrics(&self) -> FontMetrics {
        let f = self.face.as_face_ref();
        FontMetrics {
            ascent: f.ascender(),
            descent: f.descender(),
            units_per_em: f.units_per_em(),
        }
    }

    fn glyph_id(&self, c: char) -> Option<u16> {
        self.face.as_face_ref().glyph_index(c).map(|g| g.0)
    }

    fn glyph_ids(&self) -> HashMap<u16, char> {
        let f = self.face.as_face_ref();
        let mut map: HashMap<u16, char> = HashMap::new();
        let Some(cmap) = f.tables().cmap else {
            return map;
        };
        for sub in cmap.subtables.into_iter().filter(|s| s.is_unicode()) {
            sub.codepoints(|cp| {
                let (Some(ch), Some(g)) = (char::from_u32(cp), sub.glyph_index(cp)) else {
                    return;
                };
                if g.0 == 0 {
                    return;
                }
                map.entry(g.0)
                    .and_modify(|old| {
                        if is_radical_or_compat(*old) && !is_radical_or_compat(ch) {
                            *old = ch;
                        }
                    })
                    .or_insert(ch);
            });
        }
        map
    }

    fn glyph_count(&self) -> u16 {
        self.face.as_face_ref().number_of_glyphs()
    }

    fn glyph_metrics(&self, glyph_id: u16) -> Option<GlyphMetrics> {
        let f = self.face.as_face_ref();
        let g = owned_ttf_parser::GlyphId(glyph_id);
        let width = f.glyph_hor_advance(g)? as u32;
        let height = f
            .glyph_bounding_box(g)
            .map(|b| b.y_max - b.y_min - f.descender())
            .unwrap_or(1000) as u32;
        Some(GlyphMetrics { width, height })
    }
}

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const MARGIN: f32 = 15.0;

struct Writer {
    doc: PdfDocumentReference,
    font: IndirectFontRef,
    layer: PdfLayerReference,
    y: f32,
}

/// Width in em of a character: CJK and full-width 1, others about 0.55.
fn char_em(c: char) -> f32 {
    if (c as u32) < 0x2E80 { 0.55 } else { 1.0 }
}

fn wrap(text: &str, size_pt: f32) -> Vec<String> {
    let em_mm = size_pt * 0.3528;
    let max = (PAGE_W - 2.0 * MARGIN) / em_mm;
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut cur = String::new();
        let mut w = 0.0;
        for c in para.chars() {
            let cw = char_em(c);
            if w + cw > max && !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
                w = 0.0;
            }
            cur.push(c);
            w += cw;
        }
        lines.push(cur);
    }
    lines
}

impl Writer {
    fn line(&mut self, text: &str, size: f32) {
        for l in wrap(text, size) {
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

/// Renders the review (and the sign-offs given for it) as PDF bytes with the font.

/// Writes `lines` (title first) as a PDF.
pub fn lines_pdf(title: &str, lines: &[String]) -> Result<Vec<u8>, String> {
    let font = FONT_CANDIDATES.iter().find_map(|p| std::fs::read(p).ok()).ok_or("日本語フォントがありません(fonts-ipaexfont)/ no Japanese font (install fonts-ipaexfont)")?;
    let (doc, page, layer) = PdfDocument::new(title, Mm(PAGE_W), Mm(PAGE_H), "本文");
    // Fixed dates and ids: the demo city must be byte-identical for a seed.
    let when =
        printpdf::OffsetDateTime::from_unix_timestamp(1_770_000_000).map_err(|e| e.to_string())?;
    let doc = doc
        .with_creation_date(when)
        .with_mod_date(when)
        .with_metadata_date(when)
        .with_document_id("AOBADEMOCITYAOBADEMOCITYAOBADEMO".into());
    let face = OwnedFace::from_vec(font.clone(), 0).map_err(|e| e.to_string())?;
    let font = doc
        .add_external_font_data(
            font,
            CjkFace {
                face: Arc::new(face),
            },
        )
        .map_err(|e| e.to_string())?;
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
