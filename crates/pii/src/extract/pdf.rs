//! PDF text layer via `lopdf` (one segment per page). Scanned PDFs without text give a
//! problem saying so (no OCR here).

use super::{Content, Extracted, Place, Segment, guarded, problem};

pub(crate) fn extract_pdf(member: Option<&str>, bytes: &[u8], ex: &mut Extracted) {
    let doc = match guarded(|| lopdf::Document::load_mem(bytes).map_err(|e| e.to_string())) {
        Ok(d) => d,
        Err(e) => {
            problem(ex, member, format!("PDFを読めません / unreadable PDF: {e}"));
            return;
        }
    };
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let mut any_text = false;
    for p in pages {
        match guarded(|| doc.extract_text(&[p]).map_err(|e| e.to_string())) {
            Ok(t) => {
                if !t.trim().is_empty() {
                    any_text = true;
                }
                ex.segments.push(Segment {
                    member: member.map(str::to_string),
                    place: Place::Page(p),
                    content: Content::Text(t),
                });
            }
            Err(e) => problem(ex, member, format!("PDFの{p}ページを読めません / page {p} unreadable: {e}")),
        }
    }
    if !any_text {
        problem(
            ex,
            member,
            "PDFに文字情報がありません(画像のみ?)/ PDF has no text layer (scanned image?)".into(),
        );
    }
}
