//! The access review as a PDF (A4, Japanese), with an embedded TrueType font (IPAex Gothic
//! from Debian's `fonts-ipaexfont`, or any TTF given). Text stays searchable and copyable
//! (printpdf writes a ToUnicode map), so `pdftotext` reads it back.

use std::collections::HashMap;
use std::sync::Arc;

use owned_ttf_parser::{AsFaceRef, OwnedFace};
use printpdf::{
    FontData, FontMetrics, GlyphMetrics, IndirectFontRef, Mm, PdfDocument, PdfDocumentReference,
    PdfLayerReference,
};

use crate::review::{AccessReview, FindingKind, SignOff};

/// Fonts tried in order when none is given.
pub const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
];

/// Why the PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// No Japanese font.
    #[error("日本語フォントがありません(fonts-ipaexfont を入れるか --font で指定)/ no Japanese TrueType font found (install fonts-ipaexfont or pass a font)")]
    NoFont,
    /// The font could not be read.
    #[error("フォントを読めません / cannot read the font {0}: {1}")]
    Font(String, String),
    /// printpdf failed.
    #[error("PDF を作れません / PDF error: {0}")]
    Pdf(String),
}

/// The first font of [`FONT_CANDIDATES`] that exists, read.
pub fn find_font() -> Result<Vec<u8>, PdfError> {
    for p in FONT_CANDIDATES {
        if let Ok(b) = std::fs::read(p) {
            return Ok(b);
        }
    }
    Err(PdfError::NoFont)
}

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
        FontMetrics { ascent: f.ascender(), descent: f.descender(), units_per_em: f.units_per_em() }
    }

    fn glyph_id(&self, c: char) -> Option<u16> {
        self.face.as_face_ref().glyph_index(c).map(|g| g.0)
    }

    fn glyph_ids(&self) -> HashMap<u16, char> {
        let f = self.face.as_face_ref();
        let mut map: HashMap<u16, char> = HashMap::new();
        let Some(cmap) = f.tables().cmap else { return map };
        for sub in cmap.subtables.into_iter().filter(|s| s.is_unicode()) {
            sub.codepoints(|cp| {
                let (Some(ch), Some(g)) = (char::from_u32(cp), sub.glyph_index(cp)) else { return };
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
        let height = f.glyph_bounding_box(g).map(|b| b.y_max - b.y_min - f.descender()).unwrap_or(1000) as u32;
        Some(GlyphMetrics { width, height })
    }
}

/// Embeds the TrueType `font` in `doc` with the [`CjkFace`] backend, so the text layer reads
/// back as unified ideographs. Every Japanese PDF mamori writes goes through this.
pub fn add_cjk_font(doc: &PdfDocumentReference, font: &[u8]) -> Result<IndirectFontRef, PdfError> {
    let face = OwnedFace::from_vec(font.to_vec(), 0).map_err(|e| PdfError::Font("(bytes)".into(), e.to_string()))?;
    doc.add_external_font_data(font.to_vec(), CjkFace { face: Arc::new(face) })
        .map_err(|e| PdfError::Font("(bytes)".into(), e.to_string()))
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
pub fn char_em(c: char) -> f32 {
    if (c as u32) < 0x2E80 { 0.55 } else { 1.0 }
}

/// `text` broken into lines at most `width_mm` wide at `size_pt` (by [`char_em`]); each `\n`
/// starts a new line.
pub fn wrap(text: &str, size_pt: f32, width_mm: f32) -> Vec<String> {
    let em_mm = size_pt * 0.3528;
    let max = width_mm / em_mm;
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
        for l in wrap(text, size, PAGE_W - 2.0 * MARGIN) {
            let h = size * 0.3528 * 1.5;
            if self.y - h < MARGIN {
                let (p, l2) = self.doc.add_page(Mm(PAGE_W), Mm(PAGE_H), "本文");
                self.layer = self.doc.get_page(p).get_layer(l2);
                self.y = PAGE_H - MARGIN;
            }
            self.y -= h;
            self.layer.use_text(l, size, Mm(MARGIN), Mm(self.y), &self.font);
        }
    }
}

/// Renders the review (and the sign-offs given for it) as PDF bytes with the font.
pub fn review_pdf(review: &AccessReview, signoffs: &[(String, SignOff)], font: &[u8]) -> Result<Vec<u8>, PdfError> {
    let title = format!("アクセス権棚卸し報告書 {}", review.as_of);
    let (doc, page, layer) = PdfDocument::new(&title, Mm(PAGE_W), Mm(PAGE_H), "本文");
    let font = add_cjk_font(&doc, font)?;
    let layer = doc.get_page(page).get_layer(layer);
    let mut w = Writer { doc, font, layer, y: PAGE_H - MARGIN };
    w.line(&format!("{title} / Access review as of {}", review.as_of), 14.0);
    w.line(
        &format!(
            "在職職員 {} 人、確認したアカウント {} 件、指摘 {} 件 / {} employed, {} accounts, {} findings",
            review.employed,
            review.accounts,
            review.findings.len(),
            review.employed,
            review.accounts,
            review.findings.len()
        ),
        9.0,
    );
    w.line(
        &format!(
            "基準: 休眠 {} 日、広すぎる権限 {}% 以上かつ {} 人以上 / thresholds: dormant {} days, wide {}% and {} holders",
            review.params.dormant_days,
            review.params.wide_percent,
            review.params.wide_min_holders,
            review.params.dormant_days,
            review.params.wide_percent,
            review.params.wide_min_holders
        ),
        9.0,
    );
    w.line(&format!("指摘の SHA-256 / findings SHA-256: {}", review.findings_sha256), 7.0);
    if review.findings.is_empty() {
        w.line("指摘事項はありません / no findings", 11.0);
    }
    let mut last_kind: Option<FindingKind> = None;
    for f in &review.findings {
        if last_kind != Some(f.kind) {
            w.line("", 6.0);
            w.line(&format!("■ {}", f.kind.label()), 11.0);
            last_kind = Some(f.kind);
        }
        w.line(&format!("[{}]", f.id), 8.0);
        w.line(&f.message, 9.0);
        for (dept, h, s, ent) in &f.by_department {
            w.line(
                &format!("    {dept}: {h} / {s} 人{}", if *ent { "" } else { "(根拠なし / not entitled)" }),
                8.0,
            );
        }
        for (who, s) in signoffs {
            if let Some(c) = s.comments.get(&f.id) {
                w.line(&format!("    確認者コメント / reviewer's comment ({}): {c}", s.reviewer), 8.0);
                let _ = who;
            }
        }
    }
    for (who, s) in signoffs {
        w.line("", 6.0);
        w.line(
            &format!("確認 / signed off: {} {}(記録者 / recorded by {who})", s.reviewer, s.signed_on),
            10.0,
        );
        if !s.summary.is_empty() {
            w.line(&s.summary, 9.0);
        }
    }
    w.doc.save_to_bytes().map_err(|e| PdfError::Pdf(e.to_string()))
}
