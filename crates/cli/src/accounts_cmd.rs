//! `xietong token`, `xietong user` and `xietong org`: operator commands on the accounts of a data
//! directory (run on the server, like `import`).

use anyhow::{Context, bail};
use std::sync::Arc;
use time::OffsetDateTime;

use xietong_app::auth::new_password_hash;
use xietong_app::{Auth, DataDir};
use xietong_domain::{OrgKind, Reference, Role, Scope};
use xietong_store::{AuditTrail, Credentials, Identity, NewAudit, NewOrg, NewUser, SqliteStore};

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

/// The accounts of a data directory. Only the database is opened (not the search index), so
/// these commands work while a server runs on the same directory.
struct Accts {
    accounts: Arc<SqliteStore>,
    auth: Auth,
}

impl Accts {
    fn audit(&self, entry: NewAudit) {
        if let Err(error) = self.accounts.audit(entry) {
            eprintln!("warning: failed to write the audit trail: {error}");
        }
    }
}

fn open(data: &DataArgs) -> anyhow::Result<Accts> {
    let accounts = Arc::new(DataDir::create(&data.data)?.open_store()?);
    let auth = Auth::new(accounts.clone());
    Ok(Accts { accounts, auth })
}

fn cli_audit(action: &str, target: String, detail: serde_json::Value) -> NewAudit {
    NewAudit { actor: "cli".into(), action: action.into(), target, detail, ..NewAudit::default() }
}

pub fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Issue(args) => {
            let app = open(&args.data)?;
            let user = app
                .accounts
                .user_by_name(&args.user)?
                .filter(|u| !u.disabled)
                .with_context(|| format!("no active user {:?}; create one with `xietong user add`", args.user))?;
            let scopes = if args.scopes.is_empty() {
                Scope::ALL.to_vec()
            } else {
                args.scopes.iter().map(|s| s.parse::<Scope>().map_err(anyhow::Error::msg)).collect::<Result<_, _>>()?
            };
            let expires_at =
                args.expires_in_days.map(|days| OffsetDateTime::now_utc() + time::Duration::days(days.into()));
            let (stored, token) = app.auth.issue_token(&user, &args.name, scopes, expires_at)?;
            app.audit(cli_audit(
                "token.issue",
                stored.id.to_string(),
                serde_json::json!({"user": user.username, "name": stored.name, "scopes": stored.scopes}),
            ));
            eprintln!(
                "Issued token {} for {} ({}), scopes {}. Use it as `Authorization: Bearer TOKEN`; it is not shown again.",
                stored.id,
                user.username,
                user.role.as_str(),
                stored.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            );
            println!("{token}");
            Ok(())
        }
        TokenCommand::Revoke(args) => {
            let app = open(&args.data)?;
            if !app.accounts.revoke_token(args.id, OffsetDateTime::now_utc())? {
                bail!("no live token {}", args.id);
            }
            app.audit(cli_audit("token.revoke", args.id.to_string(), serde_json::Value::Null));
            println!("revoked token {}", args.id);
            Ok(())
        }
        TokenCommand::List(args) => {
            let app = open(&args.data)?;
            let user = app.accounts.user_by_name(&args.user)?.with_context(|| format!("no user {:?}", args.user))?;
            for token in app.accounts.tokens_of(user.id)? {
                println!("{}", serde_json::to_string(&token)?);
            }
            Ok(())
        }
    }
}

pub fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add(args) => {
            let app = open(&args.data)?;
            let role: Role = args.role.parse().map_err(anyhow::Error::msg)?;
            let org = match &args.org {
                Some(name) => Some(
                    app.accounts
                        .org_by_name(name)?
                        .with_context(|| format!("no organisation {name:?}; register it with `xietong org add`"))?,
                ),
                None => None,
            };
            let region = match &args.region {
                Some(text) => Some(
                    Reference::get()
                        .resolve_region(text)
                        .with_context(|| format!("unknown region {text:?}"))?
                        .code
                        .clone(),
                ),
                None => None,
            };
            if role == Role::RegionOperator && region.is_none() {
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
            let user = app.accounts.create_user(NewUser {
                username: args.username.clone(),
                display_name: args.display_name.clone().unwrap_or_else(|| args.username.clone()),
                role,
                org_id: org.as_ref().map(|o| o.id),
                region_code: region,
                password_hash: new_password_hash(&password)?,
            })?;
            for name in &args.acting_for {
                let appointing =
                    app.accounts.org_by_name(name)?.with_context(|| format!("no organisation {name:?}"))?;
                app.accounts.appoint(user.id, appointing.id)?;
            }
            app.audit(cli_audit("user.create", user.username.clone(), serde_json::json!({"role": role.as_str()})));
            println!("created user {} ({})", user.username, role.as_str());
            Ok(())
        }
        UserCommand::List(data) => {
            let app = open(&data)?;
            for user in app.accounts.users()? {
                println!("{}", serde_json::to_string(&user)?);
            }
            Ok(())
        }
    }
}

pub fn org(command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Add(args) => {
            let app = open(&args.data)?;
            let kind: OrgKind = args.kind.parse().map_err(anyhow::Error::msg)?;
            let region = Reference::get()
                .resolve_region(&args.region)
                .with_context(|| format!("unknown region {:?}", args.region))?
                .code
                .clone();
            let org = app.accounts.create_org(NewOrg { name: args.name.clone(), kind, region_code: region })?;
            app.audit(cli_audit("org.create", org.name.clone(), serde_json::Value::Null));
            println!("registered {} ({}, {})", org.name, kind.as_str(), org.region_code);
            Ok(())
        }
        OrgCommand::List(data) => {
            let app = open(&data)?;
            for org in app.accounts.orgs()? {
                println!("{}", serde_json::to_string(&org)?);
            }
            Ok(())
        }
    }
}
