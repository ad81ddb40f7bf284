//! `template`, `import` and `export` subcommands: thin wrappers around `xietong_transfer`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use xietong_app::transfer::OperatorTransfer;
use xietong_domain::{Kind, Reference, Status};
use xietong_transfer::ImportProgress;

use crate::DataArgs;

/// File format of a template or export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SheetFormat {
    Csv,
    Xlsx,
}

/// Print the column template of one kind.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Kinds: talent, achievement, scenario, facility, enterprise, demand, challenge (or 人才, 成果, …).\n\
The XLSX template has a second sheet explaining every column and its allowed values, and sheets of region and industry codes."
)]
pub struct TemplateArgs {
    /// Kind of listing.
    pub kind: String,
    /// Template format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: SheetFormat,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Import listings of one kind from a CSV or XLSX file.
#[derive(Debug, clap::Args)]
#[command(after_help = "CSV may be UTF-8 (with or without BOM) or GB18030; XLSX is read from its first sheet.\n\
Headers may be the template's Chinese headers or the API field names (title, summary, trl, region_codes, …).\n\
Every rejected or duplicate row is listed in FILE.errors.csv beside the input (columns row, column, value, reason, …).\n\
The last line on stdout is a JSON summary: rows, accepted, updated, unchanged, likely_duplicates, duplicates, rejected, errors_file, rows_per_s.\n\
Rows are written in transactions of --batch-size rows; an interrupted import can simply be run again.")]
pub struct ImportArgs {
    /// Kind of listing in the file.
    pub kind: String,
    /// CSV or XLSX file.
    pub file: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Rows written per transaction.
    #[arg(long, default_value_t = xietong_transfer::DEFAULT_BATCH_ROWS)]
    pub batch_size: usize,
    /// Do not draw a progress bar on stderr.
    #[arg(long)]
    pub no_progress: bool,
}

/// Export listings of one kind in the template's columns.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "This is an operator action on the local data directory: contact details are exported in full, \
without the masking the web API applies.\n\
Cells starting with = + - @ get a leading ' (formula injection guard); import strips it again, so an export imports back unchanged."
)]
pub struct ExportArgs {
    /// Kind of listing.
    pub kind: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// File format; taken from the --out extension when not given, else csv.
    #[arg(long, value_enum)]
    pub format: Option<SheetFormat>,
    /// Output file; standard output when not given.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only listings in this region (code or name, includes everything below it).
    #[arg(long)]
    pub region: Option<String>,
    /// Only listings in this industry (GB/T 4754 code or name, includes sub-codes).
    #[arg(long)]
    pub industry: Option<String>,
    /// Only listings with this status (draft, published, archived).
    #[arg(long)]
    pub status: Option<String>,
}

fn parse_kind(text: &str) -> anyhow::Result<Kind> {
    text.parse::<Kind>().map_err(anyhow::Error::msg)
}

fn write_output(out: Option<&Path>, bytes: &[u8], binary: bool) -> anyhow::Result<()> {
    match out {
        Some(path) => std::fs::write(path, bytes).with_context(|| format!("failed to write {}", path.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            if binary && stdout.is_terminal() {
                anyhow::bail!("refusing to write an xlsx file to a terminal; pass --out FILE");
            }
            stdout.write_all(bytes).context("failed to write to stdout")
        }
    }
}

pub fn template(args: TemplateArgs) -> anyhow::Result<()> {
    let kind = parse_kind(&args.kind)?;
    let bytes = match args.format {
        SheetFormat::Csv => xietong_transfer::template_csv(kind),
        SheetFormat::Xlsx => xietong_transfer::template_xlsx(kind).context("failed to build the xlsx template")?,
    };
    write_output(args.out.as_deref(), &bytes, args.format == SheetFormat::Xlsx)
}

/// `FILE.errors.csv` beside the input.
fn errors_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".errors.csv");
    PathBuf::from(name)
}

pub fn import(args: ImportArgs) -> anyhow::Result<()> {
    let kind = parse_kind(&args.kind)?;
    let bytes = std::fs::read(&args.file).with_context(|| format!("failed to read {}", args.file.display()))?;
    let transfer = OperatorTransfer::open(&args.data.data_dir()?)?;
    let started = Instant::now();
    let bar = if args.no_progress {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} rows ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let mut on_progress = |progress: ImportProgress| {
        bar.set_length(progress.rows_total);
        bar.set_position(progress.rows_done);
    };
    let file_name = args.file.display().to_string();
    let report = transfer
        .import(kind, &file_name, &bytes, args.batch_size, &mut on_progress)
        .with_context(|| format!("failed to import {}", args.file.display()))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let errors_file = errors_path(&args.file);
    std::fs::write(&errors_file, xietong_transfer::error_report_csv(&report))
        .with_context(|| format!("failed to write the error report {}", errors_file.display()))?;
    for column in &report.ignored_columns {
        eprintln!("warning: column {column:?} is not a {kind} column and was not imported");
    }
    let rows_per_s = if elapsed.as_secs_f64() > 0.0 { report.rows as f64 / elapsed.as_secs_f64() } else { 0.0 };
    let summary = serde_json::json!({
        "kind": kind.as_str(),
        "file": file_name,
        "format": report.format.as_str(),
        "encoding": report.encoding,
        "rows": report.rows,
        "blank_rows": report.blank_rows,
        "accepted": report.accepted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "likely_duplicates": report.likely_duplicates,
        "duplicates": report.duplicates(),
        "rejected": report.rejected,
        "problems": report.problems.len(),
        "ignored_columns": report.ignored_columns,
        "errors_file": errors_file.display().to_string(),
        "elapsed_ms": elapsed.as_millis() as u64,
        "rows_per_s": (rows_per_s * 10.0).round() / 10.0,
    });
    println!("{summary}");
    Ok(())
}

pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    let kind = parse_kind(&args.kind)?;
    let format = args.format.unwrap_or_else(|| {
        let is_xlsx = args.out.as_deref().and_then(Path::extension).is_some_and(|ext| ext.eq_ignore_ascii_case("xlsx"));
        if is_xlsx { SheetFormat::Xlsx } else { SheetFormat::Csv }
    });
    let reference = Reference::get();
    let region = match &args.region {
        Some(text) => {
            Some(reference.resolve_region(text).with_context(|| format!("unknown region {text:?}"))?.code.clone())
        }
        None => None,
    };
    let industry = match &args.industry {
        Some(text) => {
            Some(reference.resolve_industry(text).with_context(|| format!("unknown industry {text:?}"))?.code.clone())
        }
        None => None,
    };
    let status = match &args.status {
        Some(text) => Some(text.parse::<Status>().map_err(anyhow::Error::msg)?),
        None => None,
    };
    let transfer = OperatorTransfer::open(&args.data.data_dir()?)?;
    let listings = transfer.export(kind, region, industry, status)?;
    // The command line is an operator action on the local data directory: contacts in full, and
    // the audit trail records that they left the platform.
    let mask_contacts = false;
    let bytes = match format {
        SheetFormat::Csv => xietong_transfer::export_csv(kind, &listings, mask_contacts),
        SheetFormat::Xlsx => {
            xietong_transfer::export_xlsx(kind, &listings, mask_contacts).context("failed to build the xlsx export")?
        }
    };
    write_output(args.out.as_deref(), &bytes, format == SheetFormat::Xlsx)?;
    if let Some(out) = &args.out {
        let summary =
            serde_json::json!({"kind": kind.as_str(), "rows": listings.len(), "out": out.display().to_string()});
        println!("{summary}");
    }
    Ok(())
}
