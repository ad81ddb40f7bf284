//! `xietong token`, `xietong user` and `xietong org`: operator commands on the accounts of a data
//! directory (run on the server, like `import`).

use anyhow::bail;

use xietong_app::account::NewAccount;
use xietong_app::{AccountService, Actor};

use crate::DataArgs;

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Issue an API token for an existing user; the token is printed as the last line.
    ///
    /// Use it as `Authorization: Bearer TOKEN`. It is shown once and stored only as a hash.
    Issue(TokenIssueArgs),
    /// Revoke a token by its id (see `xietong token list`).
    Revoke(TokenRevokeArgs),
    /// List a user's tokens (ids, names, scopes, last use; never the token values).
    List(TokenListArgs),
}

#[derive(Debug, clap::Args)]
pub struct TokenIssueArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The user the token acts for.
    #[arg(long)]
    pub user: String,
    /// What the token is for.
    #[arg(long, default_value = "cli")]
    pub name: String,
    /// Scopes: read, write, admin (comma-separated) [default: all].
    #[arg(long, value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Days until the token expires [default: never].
    #[arg(long)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct TokenRevokeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Token id.
    pub id: i64,
}

#[derive(Debug, clap::Args)]
pub struct TokenListArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long)]
    pub user: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user (the password is read from XT_PASSWORD or asked for on stdin).
    Add(UserAddArgs),
    /// List users.
    List(DataArgs),
}

#[derive(Debug, clap::Args)]
pub struct UserAddArgs {
    #[command(flatten)]
    pub data: DataArgs,
    pub username: String,
    /// platform_admin, region_operator, org_admin, member, tech_manager or talent.
    #[arg(long)]
    pub role: String,
    /// Organisation name (see `xietong org list`).
    #[arg(long)]
    pub org: Option<String>,
    /// Region a region operator operates (GB/T 2260 code).
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub display_name: Option<String>,
    /// For technology managers: organisations that appoint them (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    pub acting_for: Vec<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum OrgCommand {
    /// Register an organisation.
    Add(OrgAddArgs),
    /// List organisations.
    List(DataArgs),
}

#[derive(Debug, clap::Args)]
pub struct OrgAddArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Name; listings' `owner_org` refers to it.
    pub name: String,
    /// enterprise, university, facility_operator, government or individual.
    #[arg(long)]
    pub kind: String,
    /// GB/T 2260 code or name.
    #[arg(long)]
    pub region: String,
}

/// The account use cases of a data directory. Only the database is opened (not the search
/// index), so these commands work while a server runs on the same directory. They act as the
/// platform's operator and are audited as `cli`.
fn open(data: &DataArgs) -> anyhow::Result<AccountService> {
    AccountService::open(&data.data_dir()?)
}

pub fn token(command: TokenCommand) -> anyhow::Result<()> {
    let operator = Actor::operator();
    match command {
        TokenCommand::Issue(args) => {
            let accounts = open(&args.data)?;
            let issued = accounts.issue_token(
                &operator,
                Some(&args.user),
                &args.name,
                Some(&args.scopes),
                args.expires_in_days,
            )?;
            let stored = &issued.stored;
            eprintln!(
                "Issued token {} for {}, scopes {}. Use it as `Authorization: Bearer TOKEN`; it is not shown again.",
                stored.id,
                args.user,
                stored.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            );
            println!("{}", issued.token);
            Ok(())
        }
        TokenCommand::Revoke(args) => {
            let accounts = open(&args.data)?;
            if !accounts.revoke_token(&operator, args.id)? {
                bail!("no live token {}", args.id);
            }
            println!("revoked token {}", args.id);
            Ok(())
        }
        TokenCommand::List(args) => {
            let accounts = open(&args.data)?;
            for token in accounts.tokens(&operator, Some(&args.user))? {
                println!("{}", serde_json::to_string(&token)?);
            }
            Ok(())
        }
    }
}

pub fn user(command: UserCommand) -> anyhow::Result<()> {
    let operator = Actor::operator();
    match command {
        UserCommand::Add(args) => {
            let accounts = open(&args.data)?;
            if args.role == "region_operator" && args.region.is_none() {
                bail!("a region operator needs --region");
            }
            let password = match std::env::var("XT_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    eprint!("password for {}: ", args.username);
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let account = NewAccount {
                username: args.username.clone(),
                display_name: args.display_name.clone(),
                password,
                role: args.role.clone(),
                org: args.org.clone(),
                region: args.region.clone(),
                acting_for: args.acting_for.clone(),
            };
            let user = accounts.create_user(&operator, account)?;
            println!("created user {} ({})", user.username, user.role.as_str());
            Ok(())
        }
        UserCommand::List(data) => {
            let accounts = open(&data)?;
            for user in accounts.users(&operator)? {
                println!("{}", serde_json::to_string(&user)?);
            }
            Ok(())
        }
    }
}

pub fn org(command: OrgCommand) -> anyhow::Result<()> {
    let operator = Actor::operator();
    match command {
        OrgCommand::Add(args) => {
            let accounts = open(&args.data)?;
            let org = accounts.create_org(&operator, &args.name, &args.kind, &args.region)?;
            println!("registered {} ({}, {})", org.name, org.kind.as_str(), org.region_code);
            Ok(())
        }
        OrgCommand::List(data) => {
            let accounts = open(&data)?;
            for org in accounts.orgs()? {
                println!("{}", serde_json::to_string(&org)?);
            }
            Ok(())
        }
    }
}
