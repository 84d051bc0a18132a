//! PDF reports (A4, Japanese, embedded TrueType font such as IPAex Gothic from Debian's
//! `fonts-ipaexfont`): the PPC report draft ([`ppc_pdf`]), the monthly 操作ログ点検結果 with a
//! chart of events per day per department ([`logreview_pdf`]), and the 持ち出し管理簿
//! ([`takeout_ledger_pdf`]). Text stays searchable (`pdftotext` reads it back).
//!
//! Same approach as `mamori_directory::pdf` (printpdf 0.7 with a font backend that maps glyphs
//! to unified ideographs rather than Kangxi radicals, so 木 is extracted as 木); the font lookup,
//! font backend and line wrapping are shared from there; the small writer is this crate's own.

use printpdf::{Color, IndirectFontRef, Line, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference, Point, Rect, Rgb};

use crate::logreview::LogReview;
use crate::ppc::PpcReport;

pub use mamori_directory::pdf::{FONT_CANDIDATES, PdfError, find_font};
use mamori_directory::pdf::{add_cjk_font, char_em, wrap};

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const MARGIN: f32 = 15.0;
const PT: f32 = 0.3528;



fn rgb(r: f32, g: f32, b: f32) -> Color {
    Color::Rgb(Rgb::new(r, g, b, None))
}

/// A small page writer: wrapped lines top to bottom, new pages as needed, rectangles and lines.
struct Writer {
    doc: PdfDocumentReference,
    font: IndirectFontRef,
    layer: PdfLayerReference,
    y: f32,
}

impl Writer {
    fn new(title: &str, font: &[u8]) -> Result<Writer, PdfError> {
        let (doc, page, layer) = PdfDocument::new(title, Mm(PAGE_W), Mm(PAGE_H), "本文");
        let font = add_cjk_font(&doc, font)?;
        let layer = doc.get_page(page).get_layer(layer);
        Ok(Writer {
            doc,
            font,
            layer,
            y: PAGE_H - MARGIN,
        })
    }

    fn ensure(&mut self, h: f32) {
        if self.y - h < MARGIN {
            let (p, l) = self.doc.add_page(Mm(PAGE_W), Mm(PAGE_H), "本文");
            self.layer = self.doc.get_page(p).get_layer(l);
            self.y = PAGE_H - MARGIN;
        }
    }

    fn text_at(&self, x: f32, y: f32, text: &str, size: f32) {
        self.layer.set_fill_color(rgb(0.0, 0.0, 0.0));
        self.layer.use_text(text, size, Mm(x), Mm(y), &self.font);
    }

    /// Wrapped text at indent `x` (mm from the margin).
    fn para(&mut self, text: &str, size: f32, indent: f32) {
        for l in wrap(text, size, PAGE_W - 2.0 * MARGIN - indent) {
            let h = size * PT * 1.5;
            self.ensure(h);
            self.y -= h;
            self.text_at(MARGIN + indent, self.y, &l, size);
        }
    }

    fn line(&mut self, text: &str, size: f32) {
        self.para(text, size, 0.0);
    }

    fn gap(&mut self, mm: f32) {
        self.y -= mm;
    }

    fn heading(&mut self, text: &str) {
        self.gap(2.0);
        self.ensure(12.0);
        self.line(text, 11.5);
        self.hrule();
    }

    fn hrule(&mut self) {
        self.y -= 1.0;
        self.stroke(&[(MARGIN, self.y), (PAGE_W - MARGIN, self.y)], 0.3, rgb(0.4, 0.4, 0.4));
    }

    fn stroke(&self, pts: &[(f32, f32)], width: f32, color: Color) {
        self.layer.set_outline_color(color);
        self.layer.set_outline_thickness(width);
        self.layer.add_line(Line {
            points: pts.iter().map(|&(x, y)| (Point::new(Mm(x), Mm(y)), false)).collect(),
            is_closed: false,
        });
    }

    fn fill_rect(&self, x: f32, y: f32, w: f32, h: f32, color: Color) {
        self.layer.set_fill_color(color);
        self.layer.add_rect(Rect::new(Mm(x), Mm(y), Mm(x + w), Mm(y + h)));
    }

    fn finish(self) -> Result<Vec<u8>, PdfError> {
        self.doc.save_to_bytes().map_err(|e| PdfError::Pdf(e.to_string()))
    }
}

/// The PPC report draft as PDF.
pub fn ppc_pdf(r: &PpcReport, font: &[u8]) -> Result<Vec<u8>, PdfError> {
    let title = format!("個人情報保護委員会への漏えい等報告({})案", r.kind.label_ja());
    let mut w = Writer::new(&title, font)?;
    w.line(&title, 15.0);
    w.line(&format!("Draft {} to the Personal Information Protection Commission", r.kind.label_en()), 8.5);
    w.gap(2.0);
    w.line(&format!("事案番号 / case: {}  件名 / title: {}", r.case_id, r.title), 10.0);
    w.line(
        &format!("作成日 / prepared: {}  認知日 / known since: {}", r.prepared_on, r.deadlines.recognized_on),
        10.0,
    );

    w.heading("報告期限 / deadlines");
    let dl = &r.deadlines;
    w.line(
        &format!(
            "速報: 認知日から概ね3〜5日以内({} 〜 {})/ preliminary: about 3–5 days",
            dl.sokuho_from, dl.sokuho_by
        ),
        9.5,
    );
    w.line(
        &format!(
            "確報: 認知日から{}日以内 : 期限 {}{} / final: within {} days",
            dl.kakuho_days,
            dl.kakuho_by,
            if dl.kakuho_days == 60 { "(不正の目的のおそれ: 60日)" } else { "" },
            dl.kakuho_days
        ),
        9.5,
    );
    w.line(&format!("状況 / status: {}", r.due.message), 9.5);
    for n in &r.notes {
        w.para(&format!("※ {n}"), 8.5, 2.0);
    }

    w.heading("報告対象事態 / why reportable");
    if r.reportable_because.is_empty() {
        w.line("未確定 / not established", 9.5);
    }
    for b in &r.reportable_because {
        w.para(&format!("・{b}"), 9.5, 2.0);
    }

    w.heading("報告事項 / items");
    for it in &r.items {
        w.gap(1.0);
        w.para(&format!("{}. {} / {}", it.no, it.label_ja, it.label_en), 10.0, 0.0);
        w.para(&it.text, 9.5, 5.0);
    }

    w.heading("証拠イベント(台帳番号と包含証明)/ evidence (ledger ids, inclusion proofs)");
    if r.evidence.is_empty() {
        w.line("なし / none", 9.0);
    }
    for e in &r.evidence {
        let proof = match e.proof_verified {
            Some(true) => "包含証明 検証済み / proof verified",
            Some(false) => "包含証明 検証失敗 / proof NOT verified",
            None => "包含証明 未検証 / proof not checked",
        };
        let rec = e.records.map_or(String::new(), |n| format!(" {n}件"));
        w.para(
            &format!("#{} {} {}{} : {proof}", e.ledger_id, e.at.as_deref().unwrap_or("-"), e.summary, rec),
            8.5,
            2.0,
        );
    }
    w.gap(3.0);
    w.line(
        "この報告書案は mamori が事案記録から作成しました。提出前に内容を確認してください。/ generated by mamori from the case record; check before sending.",
        7.5,
    );
    w.finish()
}

const PALETTE: [(f32, f32, f32); 8] = [
    (0.20, 0.40, 0.70),
    (0.85, 0.45, 0.15),
    (0.30, 0.62, 0.30),
    (0.75, 0.20, 0.25),
    (0.55, 0.40, 0.70),
    (0.55, 0.35, 0.25),
    (0.85, 0.50, 0.70),
    (0.55, 0.55, 0.55),
];

/// Departments drawn separately in the chart; the rest are summed as その他.
pub const CHART_DEPARTMENTS: usize = 7;

/// The monthly 操作ログ点検結果 as PDF, with the chart of events per day per department.
pub fn logreview_pdf(r: &LogReview, font: &[u8]) -> Result<Vec<u8>, PdfError> {
    let title = format!("操作ログ点検結果 {}", r.month.label_ja());
    let mut w = Writer::new(&title, font)?;
    w.line(&title, 15.0);
    w.line(&format!("Monthly access-log review, {}", r.month), 8.5);
    w.gap(2.0);
    w.line(
        &format!(
            "対象イベント {} 件、異常(アラート){} 件、抽出確認 {} 件 / {} events, {} anomalies, {} sampled",
            r.events,
            r.anomalies.len(),
            r.sample.len(),
            r.events,
            r.anomalies.len(),
            r.sample.len()
        ),
        10.0,
    );
    let status = if r.signed_current() {
        "点検済み(確認印あり)/ signed".to_owned()
    } else if r.record.signoffs.is_empty() {
        "未確認 / not signed".to_owned()
    } else {
        "確認後に内容が変わりました(再確認が必要)/ changed since signed".to_owned()
    };
    w.line(&format!("状態 / status: {status}"), 10.0);

    // Chart.
    w.heading("部署別・日別のイベント数 / events per day per department");
    let days = r.month.days() as usize;
    let mut series: Vec<(String, Vec<u64>)> = r
        .departments
        .iter()
        .take(CHART_DEPARTMENTS)
        .map(|d| (d.department.clone(), d.per_day.clone()))
        .collect();
    if r.departments.len() > CHART_DEPARTMENTS {
        let mut rest = vec![0u64; days];
        for d in &r.departments[CHART_DEPARTMENTS..] {
            for (i, v) in d.per_day.iter().enumerate() {
                rest[i] += v;
            }
        }
        series.push(("その他".into(), rest));
    }
    let peak = (0..days).map(|i| series.iter().map(|(_, v)| v[i]).sum::<u64>()).max().unwrap_or(0).max(1);
    // A top that four grid lines divide into whole numbers.
    let max = peak.div_ceil(4) * 4;
    let (cx, ch, cw) = (MARGIN + 12.0, 60.0, PAGE_W - 2.0 * MARGIN - 14.0);
    w.ensure(ch + 30.0);
    let top = w.y - 4.0;
    let base = top - ch;
    // Axes and grid.
    for q in 0..=4 {
        let y = base + ch * q as f32 / 4.0;
        w.stroke(&[(cx, y), (cx + cw, y)], 0.15, rgb(0.8, 0.8, 0.8));
        let v = max / 4 * q;
        w.text_at(MARGIN, y - 1.0, &v.to_string(), 6.5);
    }
    w.stroke(&[(cx, top), (cx, base), (cx + cw, base)], 0.4, rgb(0.0, 0.0, 0.0));
    let slot = cw / days as f32;
    for day in 0..days {
        let x = cx + slot * day as f32 + slot * 0.12;
        let mut y = base;
        for (k, (_, v)) in series.iter().enumerate() {
            let h = ch * v[day] as f32 / max as f32;
            if h > 0.0 {
                let (r_, g, b) = PALETTE[k % PALETTE.len()];
                w.fill_rect(x, y, slot * 0.76, h, rgb(r_, g, b));
                y += h;
            }
        }
        if day == 0 || (day + 1) % 5 == 0 {
            w.text_at(x, base - 4.0, &format!("{}", day + 1), 6.5);
        }
    }
    w.text_at(cx + cw - 8.0, base - 8.0, "日 / day", 6.5);
    w.y = base - 11.0;
    // Legend.
    let mut lx = MARGIN;
    for (k, (name, v)) in series.iter().enumerate() {
        let label = format!("{name} ({})", v.iter().sum::<u64>());
        let width = 6.0 + label.chars().map(char_em).sum::<f32>() * 7.5 * PT + 4.0;
        if lx + width > PAGE_W - MARGIN {
            lx = MARGIN;
            w.y -= 5.0;
        }
        let (r_, g, b) = PALETTE[k % PALETTE.len()];
        w.fill_rect(lx, w.y, 3.5, 3.0, rgb(r_, g, b));
        w.text_at(lx + 5.0, w.y + 0.2, &label, 7.5);
        lx += width;
    }
    w.y -= 4.0;
    // Department totals as text too (the chart's numbers, searchable).
    for d in &r.departments {
        w.para(&format!("{}: {} 件", d.department, d.total), 8.5, 2.0);
    }

    w.heading("異常(当月のアラート)/ anomalies (alerts of the month)");
    if r.anomalies.is_empty() {
        w.line("なし / none", 9.0);
    }
    for a in &r.anomalies {
        w.para(
            &format!(
                "#{} [{}] {} : {} {} 件数 {} {}",
                a.alert_id, a.severity_ja, a.title_ja, a.who, a.first_ts, a.count, a.state_ja
            ),
            8.5,
            2.0,
        );
        for c in r
            .record
            .comments
            .iter()
            .filter(|c| c.target == crate::logreview::Target::Alert { id: a.alert_id })
        {
            w.para(&format!("点検コメント({}): {}", c.by, c.text), 8.0, 8.0);
        }
    }

    w.heading("抽出確認したイベント / sampled events");
    w.line(&format!("抽出の種(再計算可能)/ sample seed: {}", r.seed), 6.5);
    for s in &r.sample {
        w.para(&format!("#{} {} {}({}) {} {}", s.id, s.ts, s.user, s.department, s.action, s.target), 8.0, 2.0);
        for c in r.record.comments.iter().filter(|c| c.target == crate::logreview::Target::Event { id: s.id }) {
            w.para(&format!("点検コメント({}): {}", c.by, c.text), 8.0, 8.0);
        }
    }

    w.heading("点検者の所見と確認 / comments and sign-off");
    for c in r.record.comments.iter().filter(|c| c.target == crate::logreview::Target::General) {
        w.para(&format!("所見({}、{}): {}", c.by, c.at, c.text), 9.0, 0.0);
    }
    if r.record.signoffs.is_empty() {
        w.line("未確認 / not signed", 9.5);
    }
    for s in &r.record.signoffs {
        let ok = if s.digest == r.digest {
            "内容一致 / matches"
        } else {
            "確認後に変更あり / changed since"
        };
        w.para(
            &format!("確認 / signed: {}(記録者 {}、{}、台帳 #{})— {ok}", s.reviewer, s.by, s.at, s.ledger_id),
            9.5,
            0.0,
        );
        if !s.summary.is_empty() {
            w.para(&s.summary, 9.0, 4.0);
        }
    }
    w.line(&format!("点検内容の SHA-256 / digest: {}", r.digest), 6.5);
    w.finish()
}

/// One row of the takeout ledger (持ち出し管理簿), already joined with names.
#[derive(Clone, Debug)]
pub struct TakeoutRow {
    /// The request and its history.
    pub takeout: mamori_directory::Takeout,
    /// 申請者 (name and department).
    pub applicant: String,
    /// 承認者 (name), if decided.
    pub approver: Option<String>,
}

/// The 持ち出し管理簿 as PDF: every request, its approval, the take and return/erasure dates,
/// with the reminders (overdue returns) and reconciliation findings given by the caller.
pub fn takeout_ledger_pdf(rows: &[TakeoutRow], as_of: chrono::NaiveDate, notes: &[String], font: &[u8]) -> Result<Vec<u8>, PdfError> {
    use mamori_directory::TakeoutState as S;
    let title = format!("持ち出し管理簿 {as_of} 現在");
    let mut w = Writer::new(&title, font)?;
    w.line(&title, 15.0);
    w.line(&format!("Takeout ledger as of {as_of}: {} requests", rows.len()), 8.5);
    let count = |s: S| rows.iter().filter(|r| r.takeout.state == s).count();
    w.line(
        &format!(
            "申請 {} 件(申請中 {}、承認 {}、却下 {}、持出中 {}、返却済 {}、消去済 {})",
            rows.len(),
            count(S::Requested),
            count(S::Approved),
            count(S::Rejected),
            count(S::Taken),
            count(S::Returned),
            count(S::Erased)
        ),
        10.0,
    );
    for n in notes {
        w.para(&format!("※ {n}"), 9.0, 0.0);
    }
    w.heading("申請一覧 / requests");
    for r in rows {
        let t = &r.takeout;
        let q = &t.request;
        w.gap(1.5);
        w.ensure(20.0);
        w.para(&format!("申請番号 {}  【{}】", q.id, t.state.label()), 10.0, 0.0);
        w.para(&format!("申請者: {}  申請日: {}", r.applicant, q.requested_on), 9.0, 4.0);
        w.para(
            &format!(
                "内容: {}  件数: {}  目的: {}",
                q.description,
                q.records.map_or("-".into(), |n| format!("{n}件")),
                q.purpose
            ),
            9.0,
            4.0,
        );
        w.para(
            &format!(
                "媒体: {}  持出先: {}  期間: {} 〜 {}",
                q.medium.label(),
                if q.destination.is_empty() { "-" } else { &q.destination },
                q.from,
                q.until
            ),
            9.0,
            4.0,
        );
        let date = |s: S| t.date_of(s).map_or("-".to_owned(), |d| d.to_string());
        let decided = if t.state == S::Rejected {
            format!("却下 {}", date(S::Rejected))
        } else {
            format!("承認 {}", date(S::Approved))
        };
        w.para(
            &format!(
                "承認者: {}  {decided}  持出 {}  返却 {}  消去 {}",
                r.approver.as_deref().unwrap_or("-"),
                date(S::Taken),
                date(S::Returned),
                date(S::Erased)
            ),
            9.0,
            4.0,
        );
        for h in t.history.iter().filter(|h| !h.note.is_empty()) {
            w.para(&format!("{} {}: {}(記録 {})", h.on, h.state.label(), h.note, h.by), 8.0, 8.0);
        }
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_counts_width() {
        let l = wrap(&"あ".repeat(100), 10.0, 50.0);
        assert!(l.len() > 5 && l.iter().all(|s| s.chars().count() <= 15), "{l:?}");
        assert_eq!(wrap("a\nb", 10.0, 50.0), vec!["a", "b"]);
    }
}
