//! Charts as inline SVG drawn on the server: no chart library, no script. Colours come from
//! CSS classes (`s0`…`s7`) in the stylesheet; every chart carries a text summary for screen
//! readers and a table with the same numbers.

use maud::{Markup, html};

/// One series of a stacked bar chart.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// One value per bar.
    pub values: Vec<u64>,
}

/// A stacked bar chart: one bar per label (e.g. a day), one coloured segment per series.
pub fn stacked_bars(caption: &str, labels: &[String], series: &[Series]) -> Markup {
    let (w, h, left, bottom, top) = (640.0_f64, 220.0_f64, 40.0_f64, 40.0_f64, 10.0_f64);
    let n = labels.len().max(1) as f64;
    let totals: Vec<u64> = (0..labels.len()).map(|i| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0)).sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let slot = (w - left) / n;
    let bw = (slot * 0.7).max(2.0);
    let scale = (h - bottom - top) / max;
    let total_all: u64 = totals.iter().sum();
    let summary = format!("{caption}: {total_all}");
    // (x, y, height, tooltip, series index) of every segment.
    let mut rects: Vec<(f64, f64, f64, String, usize)> = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bw) / 2.0;
        let mut y = h - bottom;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0);
            if v > 0 {
                let bh = v as f64 * scale;
                y -= bh;
                rects.push((x, y, bh, format!("{label} {}: {v}", s.label), k));
            }
        }
    }
    html! {
        figure.chart {
            figcaption { (caption) }
            svg xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (w) " " (h)} role="img" aria-label=(summary) width="100%" {
                title { (summary) }
                line.axis x1=(left) y1=(h - bottom) x2=(w) y2=(h - bottom) {}
                text.tick x=(left - 4.0) y=(top + 4.0) text-anchor="end" { (max as u64) }
                text.tick x=(left - 4.0) y=(h - bottom) text-anchor="end" { "0" }
                @for r in &rects {
                    rect class={"s" (r.4 % 8)} x=(format!("{:.1}", r.0)) y=(format!("{:.1}", r.1)) width=(format!("{bw:.1}")) height=(format!("{:.1}", r.2)) {
                        title { (r.3) }
                    }
                }
                @for (i, label) in labels.iter().enumerate() {
                    @if labels.len() <= 16 || i % 2 == 0 {
                        text.tick x=(format!("{:.1}", left + slot * i as f64 + slot / 2.0)) y=(h - bottom + 14.0) text-anchor="middle" { (label) }
                    }
                }
            }
            ul.legend {
                @for (k, s) in series.iter().enumerate() {
                    li { span class={"key s" (k % 8)} aria-hidden="true" {} (s.label) " (" (s.values.iter().sum::<u64>()) ")" }
                }
            }
            details {
                summary { "表 / table" }
                table.data {
                    thead { tr { th scope="col" { "" } @for s in series { th scope="col" { (s.label) } } } }
                    tbody {
                        @for (i, label) in labels.iter().enumerate() {
                            tr { th scope="row" { (label) } @for s in series { td.num { (s.values.get(i).copied().unwrap_or(0)) } } }
                        }
                    }
                }
            }
        }
    }
}
