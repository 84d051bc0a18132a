//! The plain-text mixes of the speed benchmark (`examples/speed.rs`) and of the findings dump
//! that checks a faster scanner finds exactly the same (`examples/speed_dump.rs`).

use super::corpus::Doc;

/// `mb` MiB of plain text built from the corpus's UTF-8 `.txt` documents: `prose` = a form or
/// case note every ~8 KB of ordinary prose (as on a share); otherwise the dense corpus (a
/// record every ~300 bytes).
pub fn text(docs: &[Doc], mb: usize, prose: bool) -> String {
    let mut unit = String::new();
    for d in docs.iter().filter(|d| d.name.ends_with(".txt")) {
        if let Ok(s) = std::str::from_utf8(&d.bytes) {
            unit.push_str(s);
            // Ordinary prose between records, as in real files (most text is not PII).
            unit.push_str("本市では、地域の皆さまの暮らしを支えるため、各種の手続きや相談窓口のご案内を行っています。ご不明な点はお気軽にお尋ねください。\n");
            unit.push_str("The quarterly report covers budget execution, facility maintenance and the digital transformation plan for fiscal 2025.\n");
        }
    }
    let mut text = String::with_capacity(mb << 20);
    let paras = [
        "本市では、地域の皆さまの暮らしを支えるため、各種の手続きや相談窓口のご案内を行っています。",
        "令和6年度の予算は、子育て支援と防災対策を重点に編成しました。詳しくは財政課の資料をご覧ください。",
        "公共施設の長寿命化計画に基づき、体育館と図書館の改修工事を順次実施します。工事期間中はご不便をおかけします。",
        "The committee reviewed the draft plan and agreed to publish the summary after the council session.",
        "ごみの分別区分が変わります。プラスチック製容器包装は毎週水曜日に収集します。",
        "会議では、デジタル化の推進体制、情報セキュリティ研修の実施状況、窓口の混雑緩和策について報告があった。",
    ];
    let records: Vec<&str> = unit.split_inclusive('\n').collect();
    let mut k = 0usize;
    while text.len() < mb << 20 {
        if prose {
            for i in 0..40 {
                text.push_str(paras[(k + i) % paras.len()]);
                text.push('\n');
            }
            for r in records.iter().skip((k * 7) % records.len()).take(6) {
                text.push_str(r);
            }
            k += 1;
        } else {
            text.push_str(&unit);
        }
    }
    text
}
