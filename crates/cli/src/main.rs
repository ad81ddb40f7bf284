//! The `xietong` binary.

mod transfer_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// xietong (协同): share and match innovation resources across Beijing, Tianjin and Hebei.
#[derive(Debug, Parser)]
#[command(name = "xietong", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a column template for one kind of listing (CSV or XLSX).
    Template(transfer_cmd::TemplateArgs),
    /// Import listings of one kind from a CSV or XLSX file.
    Import(transfer_cmd::ImportArgs),
    /// Export listings of one kind to CSV or XLSX, in the template's columns.
    Export(transfer_cmd::ExportArgs),
}

/// Where the data directory is, shared by every subcommand that touches data.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Data directory holding the SQLite database and the search index.
    #[arg(long = "data", env = "XT_DATA", default_value = "./xietong-data")]
    pub data: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Template(args) => transfer_cmd::template(args),
        Command::Import(args) => transfer_cmd::import(args),
        Command::Export(args) => transfer_cmd::export(args),
    }
}
