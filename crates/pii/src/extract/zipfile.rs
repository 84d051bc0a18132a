//! Zip archives (and the zip containers of docx/pptx/xlsx), recursive with limits: nesting
//! depth, member count, total unpacked bytes and the per-member compression ratio, each
//! enforced on the bytes actually inflated (a lying header cannot get past them).

use super::{Budget, Extracted, extract_into, guarded, office, problem};
use std::io::{Cursor, Read};

pub(crate) fn extract_zip(name: &str, member: Option<&str>, bytes: &[u8], depth: usize, budget: &mut Budget, ex: &mut Extracted) -> String {
    let mut zip = match guarded(|| zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())) {
        Ok(z) => z,
        Err(e) => {
            problem(ex, member, format!("zipを読めません / unreadable zip: {e}"));
            return "zip".into();
        }
    };
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    if names.iter().any(|n| n == "word/document.xml") {
        office::extract_docx(member, &mut zip, budget, ex);
        return "docx".into();
    }
    if names.iter().any(|n| n.starts_with("ppt/slides/")) {
        office::extract_pptx(member, &mut zip, &names, budget, ex);
        return "pptx".into();
    }
    if names.iter().any(|n| n == "xl/workbook.xml") {
        office::extract_xlsx(member, bytes, budget, ex);
        return "xlsx".into();
    }
    let _ = name;
    if depth >= budget.limits.max_depth {
        ex.truncated = true;
        problem(
            ex,
            member,
            format!("入れ子が深すぎます / zip nested deeper than {}", budget.limits.max_depth),
        );
        return "zip".into();
    }
    if zip.len() > budget.limits.max_entries {
        ex.truncated = true;
        problem(
            ex,
            member,
            format!(
                "ファイル数が多すぎます / {} members > limit {}",
                zip.len(),
                budget.limits.max_entries
            ),
        );
        return "zip".into();
    }
    for i in 0..zip.len() {
        let inner = match read_member(&mut zip, i, budget) {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err((n, e)) => {
                let path = join(member, &n);
                if e.contains("limit") {
                    ex.truncated = true;
                }
                problem(ex, Some(&path), e);
                continue;
            }
        };
        let (n, data) = inner;
        let path = join(member, &n);
        extract_into(&n, Some(&path), &data, depth + 1, budget, ex);
    }
    "zip".into()
}

fn join(member: Option<&str>, n: &str) -> String {
    match member {
        Some(m) => format!("{m}/{n}"),
        None => n.to_string(),
    }
}

/// A member's name and bytes.
pub(crate) type Member = (String, Vec<u8>);

/// Read member `i` within the limits. Ok(None) for directories.
pub(crate) fn read_member(
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    i: usize,
    budget: &mut Budget,
) -> Result<Option<Member>, (String, String)> {
    let mut f = zip
        .by_index(i)
        .map_err(|e| (format!("#{i}"), format!("zipの項目を読めません / unreadable member: {e}")))?;
    let name = f.name().to_string();
    if f.is_dir() {
        return Ok(None);
    }
    if f.encrypted() {
        return Err((name, "暗号化されています / encrypted member (not scanned)".into()));
    }
    let compressed = f.compressed_size().max(1);
    let room = budget.limits.max_unpacked_bytes.saturating_sub(budget.unpacked);
    let cap = room
        .min(compressed.saturating_mul(budget.limits.max_ratio))
        .min(budget.limits.max_file_bytes);
    let mut data = Vec::new();
    let r = (&mut f).take(cap + 1).read_to_end(&mut data);
    if let Err(e) = r {
        return Err((name, format!("展開できません / cannot inflate: {e}")));
    }
    budget.unpacked += data.len() as u64;
    if data.len() as u64 > cap {
        let why = if cap == room {
            "展開量の上限 / unpacked-bytes limit".to_string()
        } else {
            format!(
                "圧縮率が高すぎます(zip爆弾?)/ compression ratio above limit {} (zip bomb?)",
                budget.limits.max_ratio
            )
        };
        return Err((name, why));
    }
    Ok(Some((name, data)))
}
