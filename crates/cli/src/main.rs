//! The `xietong` binary.

mod accounts_cmd;
mod bench;
mod chains_cmd;
mod config;
mod credential_cmd;
mod ops;
mod serve;
mod transfer_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// xietong (协同): share and match innovation resources across Beijing, Tianjin and Hebei.
///
/// Start with `xietong serve --demo` and open the printed address.
#[derive(Debug, Parser)]
#[command(name = "xietong", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and web pages (embedded SQLite store and on-disk index).
    Serve(serve::ServeArgs),
    /// Rebuild the search index from the store, with a progress bar.
    Reindex(ops::ReindexArgs),
    /// Move an embedded data directory's database to PostgreSQL (every table, compared after).
    Migrate(ops::MigrateArgs),
    /// Evaluate matching quality and latency on a judged corpus (prints one JSON line last).
    Eval(ops::EvalArgs),
    /// Measure demo start-up, search and matching latency (prints one JSON line).
    Bench(bench::BenchArgs),
    /// Print a commented example configuration file.
    DefaultConfig,
    /// Industry chains: per segment and region the supply, demand and gap label; with
    /// --segment and --region the attraction list (联合招商) as a spreadsheet.
    Chains(chains_cmd::ChainsArgs),
    /// Print a column template for one kind of listing (CSV or XLSX).
    Template(transfer_cmd::TemplateArgs),
    /// Import listings of one kind from a CSV or XLSX file.
    Import(transfer_cmd::ImportArgs),
    /// Export listings of one kind to CSV or XLSX, in the template's columns.
    Export(transfer_cmd::ExportArgs),
    /// API tokens: `xietong token issue --data DIR --user USERNAME` prints a new token last.
    #[command(subcommand)]
    Token(accounts_cmd::TokenCommand),
    /// Users: add and list accounts.
    #[command(subcommand)]
    User(accounts_cmd::UserCommand),
    /// Organisations: register and list.
    #[command(subcommand)]
    Org(accounts_cmd::OrgCommand),
    /// Talent evaluation credentials: `xietong credential verify FILE [--issuers FILE]
    /// [--status FILE]` (offline), `issue`, `revoke`, `issuers`, `status`.
    #[command(subcommand)]
    Credential(credential_cmd::CredentialCommand),
}

/// Where the data directory is, shared by every subcommand that touches data.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Data directory holding the SQLite database and the search index.
    #[arg(long = "data", env = "XT_DATA", default_value = "./xietong-data")]
    pub data: PathBuf,
    /// Database server (postgres://USER@HOST:PORT/DB) instead of the data directory's SQLite
    /// file; the search index stays in the data directory.
    #[arg(long, env = "XT_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DataArgs {
    /// The data directory, with the database it names.
    pub fn data_dir(&self) -> anyhow::Result<xietong_app::DataDir> {
        Ok(xietong_app::DataDir::create(&self.data)?.with_database_url(self.database_url.clone()))
    }
}

/// Sets up structured logs on stderr: pretty by default, JSON with `XT_LOG_FORMAT=json`.
pub fn init_logging(format: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,tantivy=warn"));
    let format = std::env::var("XT_LOG_FORMAT").ok().or(format.map(str::to_string));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format.as_deref() == Some("json") {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Migrate(args) => {
            init_logging(None);
            ops::migrate(args)
        }
        Command::Reindex(args) => {
            init_logging(None);
            ops::reindex(args)
        }
        Command::Eval(args) => ops::eval(args),
        Command::Bench(args) => bench::run(args),
        Command::DefaultConfig => {
            print!("{}", config::DEFAULT_CONFIG);
            Ok(())
        }
        Command::Chains(args) => chains_cmd::run(args),
        Command::Template(args) => transfer_cmd::template(args),
        Command::Import(args) => transfer_cmd::import(args),
        Command::Export(args) => transfer_cmd::export(args),
        Command::Token(command) => accounts_cmd::token(command),
        Command::User(command) => accounts_cmd::user(command),
        Command::Org(command) => accounts_cmd::org(command),
        // The only command with an exit status of its own (`verify`: 1 when invalid).
        Command::Credential(command) => return credential_cmd::run(command),
    };
    outcome.map(|()| std::process::ExitCode::SUCCESS)
}
