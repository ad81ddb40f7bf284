//! `xietong credential …`: verify a talent evaluation credential offline (the issuers file and
//! status lists as files, no network), and issue, revoke or publish on a data directory.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;
use xietong_app::types::CredentialInput;
use xietong_app::{Actor, App};
use xietong_domain::credential::{self, IssuersFile};

use crate::DataArgs;

/// Talent evaluation credentials (人才评价互认).
#[derive(Debug, clap::Subcommand)]
pub enum CredentialCommand {
    /// Verify a credential offline: prints `valid` and exits 0, or prints one line naming the
    /// reason (bad signature, unknown issuer, expired, not yet valid, revoked, malformed) and
    /// exits 1.
    Verify(VerifyArgs),
    /// Issue a credential to a talent listing as the command line's operator; prints the
    /// credential JSON.
    Issue(IssueArgs),
    /// Revoke a credential (its status-list entry is set).
    Revoke(RevokeArgs),
    /// Print the published issuers file (`/.well-known/xietong/issuers.json`).
    Issuers(DataArgs),
    /// Print the signed status list of a region (`/api/v1/credentials/status/{list}`).
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The credential (JSON).
    pub file: PathBuf,
    /// The issuers file (`/.well-known/xietong/issuers.json` of a node).
    #[arg(long)]
    pub issuers: Option<PathBuf>,
    /// A status list credential (`/api/v1/credentials/status/{list}`); revocation is checked
    /// when the credential's list is given. May be repeated.
    #[arg(long)]
    pub status: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The talent listing's id.
    #[arg(long)]
    pub talent: String,
    /// The evaluation level (正高级工程师, 高级工程师, a talent-programme tier …).
    #[arg(long)]
    pub level: String,
    /// The field (专业领域).
    #[arg(long)]
    pub field: String,
    /// Days the credential is valid from now.
    #[arg(long)]
    pub valid_days: u32,
    /// The issuing region's GB/T 2260 code.
    #[arg(long)]
    pub issuer: String,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The credential's id (urn:uuid:…).
    #[arg(long)]
    pub id: String,
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The list (the issuing region's code).
    #[arg(long)]
    pub list: String,
}

fn read_json(path: &PathBuf) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    serde_json::from_str(&text).map_err(|err| format!("{} is not JSON: {err}", path.display()))
}

/// Runs a credential command.
pub fn run(command: CredentialCommand) -> anyhow::Result<ExitCode> {
    match command {
        CredentialCommand::Verify(args) => Ok(verify(&args)),
        CredentialCommand::Issue(args) => {
            let app = App::open(&args.data.data_dir()?).context("failed to open the data directory")?;
            let input = CredentialInput {
                talent: args.talent,
                level: args.level,
                field: args.field,
                valid_days: args.valid_days,
                issuer: args.issuer,
            };
            let stored = app.issue_credential(&Actor::operator(), input)?;
            println!("{}", serde_json::to_string_pretty(&stored.document)?);
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Revoke(args) => {
            let app = App::open(&args.data.data_dir()?).context("failed to open the data directory")?;
            let stored = app.revoke_credential(&Actor::operator(), &args.id, &args.reason)?;
            println!("revoked {} (entry {} of status list {})", stored.id, stored.status_index, stored.status_list);
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Issuers(data) => {
            let app = App::open(&data.data_dir()?).context("failed to open the data directory")?;
            println!("{}", serde_json::to_string_pretty(&app.issuers()?)?);
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Status(args) => {
            let app = App::open(&args.data.data_dir()?).context("failed to open the data directory")?;
            println!("{}", serde_json::to_string_pretty(&app.status_list(&args.list)?)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Verifies offline; prints `valid` or `invalid: <reason>: <detail>` (one line).
fn verify(args: &VerifyArgs) -> ExitCode {
    match check(args) {
        Ok(verified) => {
            println!("valid");
            if !verified.status_checked {
                eprintln!("note: revocation not checked (give the credential's status list with --status)");
            }
            ExitCode::SUCCESS
        }
        Err(line) => {
            println!("invalid: {line}");
            ExitCode::FAILURE
        }
    }
}

fn check(args: &VerifyArgs) -> Result<credential::Verified, String> {
    let document = read_json(&args.file).map_err(|err| format!("malformed: {err}"))?;
    let issuers: IssuersFile = match &args.issuers {
        Some(path) => serde_json::from_value(read_json(path).map_err(|err| format!("unknown issuer: {err}"))?)
            .map_err(|err| format!("unknown issuer: the issuers file is not one: {err}"))?,
        None => IssuersFile::default(),
    };
    let mut lists = Vec::new();
    for path in &args.status {
        lists.push(read_json(path).map_err(|err| format!("status unverifiable: {err}"))?);
    }
    credential::verify(&document, &issuers.issuers, &lists, time::OffsetDateTime::now_utc()).map_err(|failure| {
        let line = failure.to_string();
        line.lines().next().unwrap_or_default().to_string()
    })
}
