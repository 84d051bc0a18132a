//! Cases (事案), reports and the monthly log review: `mamori case open|show|list|edit|evidence|
//! action|reported|close|reopen`, `mamori report ppc|takeouts|logreview`, `mamori logreview
//! show|comment|sign`. Changes are ledgered locally (the server must be stopped, as for the other
//! writing commands) with the actor `cli:$USER`; the server's API does the same with the
//! caller's name and role checks.

use anyhow::{Context, Result, anyhow, bail};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use mamori_case::{Case, CaseAction, CaseFields, LogReviewAction, Month, ReportKind, Target};
use mamori_server::DataDir;
use mamori_server::case_http as ch;
use std::path::{Path, PathBuf};

use crate::DataArg;

/// `mamori case …`.
#[derive(Subcommand)]
pub enum CaseCmd {
    /// Open a case from alerts (their evidence attached) or by hand.
    Open {
        #[command(flatten)]
        d: DataArg,
        /// Alert id (repeatable).
        #[arg(long = "alert")]
        alerts: Vec<u64>,
        /// Further evidence event (ledger id; repeatable).
        #[arg(long = "evidence")]
        evidence: Vec<u64>,
        /// 認知日 (default today, JST; 和暦 accepted).
        #[arg(long)]
        recognized_on: Option<String>,
        #[command(flatten)]
        f: FieldArgs,
    },
    /// Show a case: facts, persons, timeline, evidence with verified proofs, deadlines.
    Show {
        #[command(flatten)]
        d: DataArg,
        /// Case number.
        id: String,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
    /// List cases.
    List {
        #[command(flatten)]
        d: DataArg,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
    /// Update the facts of a case (only the options given change).
    Edit {
        #[command(flatten)]
        d: DataArg,
        /// Case number.
        id: String,
        /// 認知日.
        #[arg(long)]
        recognized_on: Option<String>,
        #[command(flatten)]
        f: FieldArgs,
    },
    /// Add evidence events (ledger ids).
    Evidence {
        #[command(flatten)]
        d: DataArg,
        /// Case number.
        id: String,
        /// Event ledger id (repeatable).
        #[arg(long = "id", required = true)]
        ids: Vec<u64>,
    },
    /// Trace a leaked list (漏えいしたファイル) to the exports it came from: the best matching
    /// exports become evidence (records = matched rows) and 本人の数 is set to the usable
    /// records of the leaked list. Two ledgered actions.
    Trace {
        #[command(flatten)]
        d: DataArg,
        /// Case number.
        id: String,
        /// The leaked file (CSV, xlsx, PDF, text).
        file: PathBuf,
        /// Exports attached at most (best first; only those matching at least one record).
        #[arg(long, default_value_t = 3)]
        limit: usize,
    },
    /// Record an action taken (対応).
    Action {
        #[command(flatten)]
        d: DataArg,
        /// Case number.
        id: String,
        /// What was done.
        #[arg(long)]
        text: String,
        /// When (default today).
        #[arg(long)]
        on: Option<String>,
    },
    /// Record that the 速報 or 確報 was sent to the PPC.
    Reported {
        #[command(flatten)]
        d: DataArg,
        /// Case number.
        id: String,
        /// sokuho or kakuho.
        #[arg(long)]
        kind: String,
        /// When (default today).
        #[arg(long)]
        on: Option<String>,
        /// Reception number etc.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Close a case (終結) with a reason.
    Close {
        #[command(flatten)]
        d: DataArg,
        /// Case number.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Reopen a closed case with a reason.
    Reopen {
        #[command(flatten)]
        d: DataArg,
        /// Case number.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// The facts of a case, as options.
#[derive(Args, Default)]
pub struct FieldArgs {
    /// 件名.
    #[arg(long)]
    title: Option<String>,
    /// 概要.
    #[arg(long)]
    summary: Option<String>,
    /// 発生日時・期間.
    #[arg(long)]
    occurred: Option<String>,
    /// 発見の経緯.
    #[arg(long)]
    discovered: Option<String>,
    /// 漏えい等した項目, comma-separated (氏名,住所,生年月日).
    #[arg(long)]
    data_items: Option<String>,
    /// 本人の数 (established).
    #[arg(long)]
    persons: Option<u64>,
    /// How the number was established.
    #[arg(long)]
    persons_note: Option<String>,
    /// 原因.
    #[arg(long)]
    cause: Option<String>,
    /// 二次被害又はそのおそれ.
    #[arg(long)]
    secondary_harm: Option<String>,
    /// 本人への対応の実施状況.
    #[arg(long)]
    response: Option<String>,
    /// 公表の実施状況.
    #[arg(long)]
    publication: Option<String>,
    /// 再発防止のための措置.
    #[arg(long)]
    prevention: Option<String>,
    /// その他参考となる事項.
    #[arg(long)]
    other: Option<String>,
    /// 不正の目的のおそれ (確報 within 60 days): true/false.
    #[arg(long)]
    unlawful: Option<bool>,
    /// 要配慮個人情報を含む: true/false.
    #[arg(long)]
    sensitive: Option<bool>,
    /// 財産的被害のおそれ: true/false.
    #[arg(long)]
    financial: Option<bool>,
    /// 特定個人情報を含む: true/false.
    #[arg(long)]
    my_number: Option<bool>,
}

impl FieldArgs {
    fn fields(self, recognized_on: Option<NaiveDate>) -> CaseFields {
        CaseFields {
            title: self.title,
            summary: self.summary,
            occurred: self.occurred,
            discovered: self.discovered,
            recognized_on,
            data_items: self
                .data_items
                .map(|s| s.split([',', '、']).map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect()),
            persons: self.persons,
            persons_note: self.persons_note,
            cause: self.cause,
            secondary_harm: self.secondary_harm,
            response_to_persons: self.response,
            publication: self.publication,
            prevention: self.prevention,
            other: self.other,
            unlawful_purpose: self.unlawful,
            sensitive: self.sensitive,
            financial: self.financial,
            my_number: self.my_number,
        }
    }
}

/// `mamori report …`.
#[derive(Subcommand)]
pub enum ReportCmd {
    /// 個人情報保護委員会への報告(速報・確報)案 of a case.
    Ppc {
        #[command(flatten)]
        d: DataArg,
        /// Case number.
        case: String,
        /// sokuho or kakuho.
        #[arg(long)]
        kind: String,
        /// Write the PDF here.
        #[arg(long, conflicts_with = "json")]
        pdf: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The day the draft is for (default today).
        #[arg(long)]
        as_of: Option<String>,
        /// TrueType font for the PDF (default: IPAex Gothic).
        #[arg(long)]
        font: Option<PathBuf>,
    },
    /// 持ち出し管理簿 (takeout ledger) as PDF.
    Takeouts {
        #[command(flatten)]
        d: DataArg,
        /// Write the PDF here.
        #[arg(long)]
        pdf: PathBuf,
        /// As of (default today).
        #[arg(long)]
        as_of: Option<String>,
        /// TrueType font.
        #[arg(long)]
        font: Option<PathBuf>,
    },
    /// 操作ログ点検結果 of a month as PDF (same as `logreview show --pdf`).
    Logreview {
        #[command(flatten)]
        d: DataArg,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        /// Write the PDF here.
        #[arg(long)]
        pdf: PathBuf,
        /// Sample size.
        #[arg(long, default_value_t = mamori_case::logreview::DEFAULT_SAMPLE)]
        sample: usize,
        /// TrueType font.
        #[arg(long)]
        font: Option<PathBuf>,
    },
}

/// `mamori logreview …`.
#[derive(Subcommand)]
pub enum LogReviewCmd {
    /// Show the month: anomalies, sample, counts per department, comments, sign-offs.
    Show {
        #[command(flatten)]
        d: DataArg,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        /// Sample size.
        #[arg(long, default_value_t = mamori_case::logreview::DEFAULT_SAMPLE)]
        sample: usize,
        /// JSON.
        #[arg(long, conflicts_with = "pdf")]
        json: bool,
        /// Write the 操作ログ点検結果 PDF here.
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// TrueType font.
        #[arg(long)]
        font: Option<PathBuf>,
    },
    /// Comment on the month, an anomaly (--alert) or a sampled event (--event).
    Comment {
        #[command(flatten)]
        d: DataArg,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        /// The comment.
        #[arg(long)]
        text: String,
        /// About this alert.
        #[arg(long, conflicts_with = "event")]
        alert: Option<u64>,
        /// About this sampled event.
        #[arg(long)]
        event: Option<u64>,
    },
    /// Sign the month off (ledgered with the digest of what was reviewed).
    Sign {
        #[command(flatten)]
        d: DataArg,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        /// 点検者 (name).
        #[arg(long)]
        reviewer: String,
        /// Conclusion.
        #[arg(long, default_value = "")]
        summary: String,
        /// Sample size (as shown).
        #[arg(long, default_value_t = mamori_case::logreview::DEFAULT_SAMPLE)]
        sample: usize,
    },
}

fn actor() -> String {
    std::env::var("USER").map(|u| format!("cli:{u}")).unwrap_or_else(|_| "cli".into())
}

fn date_arg(name: &str, v: Option<&str>) -> Result<NaiveDate> {
    match v {
        Some(s) => mamori_directory::parse_date(s).map_err(|e| anyhow!("--{name}: {e}")),
        None => Ok(ch::today()),
    }
}

fn book(data: &Path) -> Result<mamori_case::CaseBook> {
    let store = mamori_store::Store::open_read_only(&DataDir::new(data).index_path()).context("opening the index")?;
    Ok(ch::case_book(&store)?)
}

fn line(c: &Case) -> String {
    let p = c.persons();
    format!(
        "{}  [{}]  {}  認知日 {}  本人の数 {}  証拠 {} 件  アラート {:?}",
        c.id,
        c.state.label_ja(),
        c.title(),
        c.recognized_on,
        p.value.map_or("調査中".into(), |n| format!("{n}人")),
        c.evidence.len(),
        c.alerts
    )
}

fn record(data: &Path, action: CaseAction) -> Result<()> {
    let (lid, case) = ch::record_case(&DataDir::new(data), &actor(), action).context("recording the case action (stop the server, or use the API)")?;
    println!("{}", line(&case));
    println!("台帳に記録しました / ledgered as #{lid}");
    Ok(())
}

fn font(p: Option<&Path>) -> Result<Vec<u8>> {
    Ok(match p {
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        None => mamori_case::pdf::find_font()?,
    })
}

/// The ledger for proof checks, when it can be opened (not while a server holds it).
fn with_ledger<T>(data: &Path, f: impl FnOnce(Option<(&mamori_ledger::Ledger, &[String])>) -> T) -> Result<T> {
    let dir = DataDir::new(data);
    let cfg = dir.config()?;
    match dir.open_ledger(&cfg) {
        Ok(l) => {
            let keys = ch::log_keys(&dir, &l);
            let out = f(Some((&l, &keys)));
            l.close();
            Ok(out)
        }
        Err(e) => {
            eprintln!("包含証明は検証していません(台帳を開けません: {e})/ inclusion proofs not checked");
            Ok(f(None))
        }
    }
}

/// `mamori case …`.
pub fn run_case(c: CaseCmd) -> Result<()> {
    match c {
        CaseCmd::Open {
            d,
            alerts,
            evidence,
            recognized_on,
            f,
        } => {
            let on = date_arg("recognized-on", recognized_on.as_deref())?;
            let dir = DataDir::new(&d.data);
            let stored = ch::stored_alerts(&dir)?;
            let mut picked = Vec::new();
            for id in &alerts {
                picked.push(
                    stored
                        .iter()
                        .find(|a| a.id == *id)
                        .cloned()
                        .ok_or_else(|| anyhow!("アラート {id} はありません / no alert {id}"))?,
                );
            }
            if picked.is_empty() && f.title.is_none() {
                bail!("--alert か --title が必要です / give --alert or --title");
            }
            let store = mamori_store::Store::open_read_only(&dir.index_path())?;
            let action = ch::open_action(&ch::case_book(&store)?, &store, &picked, &evidence, on, f.fields(None)).map_err(anyhow::Error::msg)?;
            drop(store);
            record(&d.data, action)
        }
        CaseCmd::Show { d, id, json } => {
            let b = book(&d.data)?;
            let c = b.get(&id).ok_or_else(|| anyhow!("事案 {id} はありません / no case {id}"))?;
            let v = with_ledger(&d.data, |l| ch::case_json(c, ch::today(), l))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!("{}", line(c));
            let p = c.persons();
            println!("本人の数 / persons: {}({})", p.value.map_or("-".into(), |n| n.to_string()), p.basis_ja);
            println!("{}", v["sokuho"]["message"].as_str().unwrap_or(""));
            println!("{}", v["kakuho"]["message"].as_str().unwrap_or(""));
            println!("経過 / timeline:");
            for t in c.timeline() {
                println!("  {} #{} {} {}", t.at, t.ledger_id, t.actor, t.text);
            }
            if let Some(ps) = v["evidence_proofs"].as_array() {
                for e in ps {
                    println!(
                        "  証拠 #{}: 包含証明 {}",
                        e["id"],
                        if e["proof_verified"] == true {
                            "検証済み / verified"
                        } else {
                            "検証失敗 / NOT verified"
                        }
                    );
                }
            }
            Ok(())
        }
        CaseCmd::List { d, json } => {
            let b = book(&d.data)?;
            if json {
                let on = ch::today();
                let all: Vec<_> = b.cases().map(|c| ch::case_json(c, on, None)).collect();
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"cases": all}))?);
            } else if b.cases().next().is_none() {
                println!("事案はありません / no cases");
            } else {
                for c in b.cases() {
                    println!("{}", line(c));
                }
            }
            Ok(())
        }
        CaseCmd::Edit { d, id, recognized_on, f } => {
            let on = recognized_on.as_deref().map(|s| date_arg("recognized-on", Some(s))).transpose()?;
            record(
                &d.data,
                CaseAction::Edit {
                    case: id,
                    fields: f.fields(on),
                },
            )
        }
        CaseCmd::Evidence { d, id, ids } => {
            let store = mamori_store::Store::open_read_only(&DataDir::new(&d.data).index_path())?;
            let evidence = ch::evidence_refs(&store, &ids).map_err(anyhow::Error::msg)?;
            drop(store);
            record(&d.data, CaseAction::AddEvidence { case: id, evidence })
        }
        CaseCmd::Trace { d, id, file, limit } => {
            let dir = DataDir::new(&d.data);
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file
                .file_name()
                .map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
            let report = dir.trace_file(&name, &bytes, limit)?;
            let r = &report.result;
            let found: Vec<_> = r.candidates.iter().filter(|c| c.matched > 0).collect();
            let store = mamori_store::Store::open_read_only(&dir.index_path())?;
            let mut evidence = ch::evidence_refs(&store, &found.iter().map(|c| c.export.export_id).collect::<Vec<_>>()).map_err(anyhow::Error::msg)?;
            drop(store);
            for (e, c) in evidence.iter_mut().zip(&found) {
                e.records = Some(c.matched);
                e.note = format!(
                    "流出ファイル {name} の {} 件中 {} 件が一致(一致率 {:.0}%)",
                    r.leaked,
                    c.matched,
                    c.score * 100.0
                );
            }
            println!(
                "流出ファイル {name}: 記録 {} 件、一致した持出し {} 件 / leaked list: {} records, {} matching exports",
                r.leaked,
                found.len(),
                r.leaked,
                found.len()
            );
            if !evidence.is_empty() {
                record(&d.data, CaseAction::AddEvidence { case: id.clone(), evidence })?;
            }
            let fields = CaseFields {
                persons: Some(r.leaked),
                persons_note: Some(format!("流出ファイル {name} の記録件数(照合による)")),
                ..Default::default()
            };
            record(&d.data, CaseAction::Edit { case: id, fields })
        }
        CaseCmd::Action { d, id, text, on } => {
            let on = date_arg("on", on.as_deref())?;
            record(&d.data, CaseAction::RecordAction { case: id, on, text })
        }
        CaseCmd::Reported { d, id, kind, on, note } => {
            let kind = ReportKind::parse(&kind).ok_or_else(|| anyhow!("--kind {kind:?}: sokuho または kakuho / sokuho or kakuho"))?;
            let on = date_arg("on", on.as_deref())?;
            record(&d.data, CaseAction::Reported { case: id, kind, on, note })
        }
        CaseCmd::Close { d, id, reason } => record(&d.data, CaseAction::Close { case: id, reason }),
        CaseCmd::Reopen { d, id, reason } => record(&d.data, CaseAction::Reopen { case: id, reason }),
    }
}

fn review(data: &Path, month: Month, k: usize) -> Result<mamori_case::LogReview> {
    let dir = DataDir::new(data);
    let alerts = ch::stored_alerts(&dir)?;
    let store = mamori_store::Store::open_read_only(&dir.index_path()).context("opening the index")?;
    let directory = mamori_server::datadir::directory_from(&store)?;
    let book = ch::logreview_book(&store)?;
    let origin = dir.config()?.log.origin;
    Ok(ch::build_logreview(&store, &alerts, &directory, &origin, month, k, &book)?)
}

/// `mamori report …`.
pub fn run_report(c: ReportCmd) -> Result<()> {
    match c {
        ReportCmd::Ppc {
            d,
            case,
            kind,
            pdf,
            json,
            as_of,
            font: f,
        } => {
            let kind = ReportKind::parse(&kind).ok_or_else(|| anyhow!("--kind {kind:?}: sokuho または kakuho / sokuho or kakuho"))?;
            let on = date_arg("as-of", as_of.as_deref())?;
            let b = book(&d.data)?;
            let c = b.get(&case).ok_or_else(|| anyhow!("事案 {case} はありません / no case {case}"))?;
            let r = with_ledger(&d.data, |l| ch::ppc_report(c, kind, on, l))?;
            if let Some(path) = pdf {
                let bytes = mamori_case::pdf::ppc_pdf(&r, &font(f.as_deref())?)?;
                std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
                println!("{}({})を書き出しました / wrote {}", kind.label_ja(), r.due.message, path.display());
            } else if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("個人情報保護委員会への漏えい等報告({})案 — 事案 {} {}", kind.label_ja(), r.case_id, r.title);
                println!("{}", r.due.message);
                for it in &r.items {
                    println!("{}. {}\n   {}", it.no, it.label_ja, it.text.replace('\n', "\n   "));
                }
                for n in &r.notes {
                    println!("※ {n}");
                }
            }
            Ok(())
        }
        ReportCmd::Takeouts { d, pdf, as_of, font: f } => {
            let on = date_arg("as-of", as_of.as_deref())?;
            let dir = DataDir::new(&d.data).directory()?;
            let rows = ch::takeout_rows(&dir);
            let bytes = mamori_case::pdf::takeout_ledger_pdf(&rows, on, &ch::takeout_notes(&dir, on), &font(f.as_deref())?)?;
            std::fs::write(&pdf, bytes).with_context(|| format!("writing {}", pdf.display()))?;
            println!(
                "持ち出し管理簿({} 件)を書き出しました / wrote the takeout ledger ({} requests) to {}",
                rows.len(),
                rows.len(),
                pdf.display()
            );
            Ok(())
        }
        ReportCmd::Logreview {
            d,
            month,
            pdf,
            sample,
            font: f,
        } => run_logreview(LogReviewCmd::Show {
            d,
            month,
            sample,
            json: false,
            pdf: Some(pdf),
            font: f,
        }),
    }
}

/// `mamori logreview …`.
pub fn run_logreview(c: LogReviewCmd) -> Result<()> {
    match c {
        LogReviewCmd::Show {
            d,
            month,
            sample,
            json,
            pdf,
            font: f,
        } => {
            let month = Month::parse(&month).map_err(anyhow::Error::msg)?;
            let r = review(&d.data, month, sample)?;
            if let Some(path) = pdf {
                let bytes = mamori_case::pdf::logreview_pdf(&r, &font(f.as_deref())?)?;
                std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
                println!("操作ログ点検結果 {} を書き出しました / wrote {}", month.label_ja(), path.display());
            } else if json {
                let mut v = serde_json::to_value(&r)?;
                v["signed_current"] = serde_json::json!(r.signed_current());
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "操作ログ点検 {}: イベント {} 件、異常 {} 件、抽出 {} 件 / {} events, {} anomalies, {} sampled",
                    month.label_ja(),
                    r.events,
                    r.anomalies.len(),
                    r.sample.len(),
                    r.events,
                    r.anomalies.len(),
                    r.sample.len()
                );
                for dpt in &r.departments {
                    println!("  {}: {} 件", dpt.department, dpt.total);
                }
                println!("異常 / anomalies:");
                for a in &r.anomalies {
                    println!("  #{} [{}] {} — {} {}", a.alert_id, a.severity_ja, a.title_ja, a.who, a.state_ja);
                }
                println!("抽出イベント / sample (seed {}):", r.seed);
                for s in &r.sample {
                    println!("  #{} {} {}({}) {} {}", s.id, s.ts, s.user, s.department, s.action, s.target);
                }
                for c in &r.record.comments {
                    println!("コメント {} ({}): {}", c.target.label_ja(), c.by, c.text);
                }
                for s in &r.record.signoffs {
                    println!(
                        "確認 / signed: {} ({}, {}){}",
                        s.reviewer,
                        s.by,
                        s.at,
                        if s.digest == r.digest {
                            ""
                        } else {
                            " — 確認後に内容が変わりました / changed since"
                        }
                    );
                }
                if r.record.signoffs.is_empty() {
                    println!("未確認 / not signed");
                }
            }
            Ok(())
        }
        LogReviewCmd::Comment { d, month, text, alert, event } => {
            let month = Month::parse(&month).map_err(anyhow::Error::msg)?;
            let target = match (alert, event) {
                (Some(id), _) => Target::Alert { id },
                (_, Some(id)) => Target::Event { id },
                _ => Target::General,
            };
            let lid = ch::record_logreview(&DataDir::new(&d.data), &actor(), LogReviewAction::Comment { month, target, text })?;
            println!("コメントを記録しました(台帳 #{lid})/ comment ledgered as #{lid}");
            Ok(())
        }
        LogReviewCmd::Sign {
            d,
            month,
            reviewer,
            summary,
            sample,
        } => {
            let month = Month::parse(&month).map_err(anyhow::Error::msg)?;
            let r = review(&d.data, month, sample)?;
            let action = LogReviewAction::Sign {
                month,
                reviewer,
                summary,
                digest: r.digest.clone(),
                anomalies: r.anomalies.len(),
                sample: r.sample.len(),
            };
            let lid = ch::record_logreview(&DataDir::new(&d.data), &actor(), action)?;
            println!(
                "{} の点検を確認しました(台帳 #{lid}、SHA-256 {})/ signed off, ledgered as #{lid}",
                month.label_ja(),
                r.digest
            );
            Ok(())
        }
    }
}
