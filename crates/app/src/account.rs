//! Accounts: logging in and out, API tokens, organisations and users, and a person's own data
//! (export and erasure). The rules are the same for the API, the web pages and the command line
//! (which acts as the platform's operator, see [`Actor::operator`]); every write stores its
//! audit entry in its own transaction.

use std::sync::Arc;

use time::OffsetDateTime;
use xietong_domain::{ListingId, OrgKind, Principal, Reference, Role, Scope};
use xietong_store::{Accounts, ApiToken, AuditFilter, ListFilter, NewAudit, NewOrg, NewUser, Org, User};

use crate::auth::{Auth, NewSession, new_password_hash};
use crate::error::{AppError, AppResult};
use crate::listing::Actor;
use crate::{App, DataDir};

/// What a new account is made of, as a person asks for it (names, not ids).
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub username: String,
    pub display_name: Option<String>,
    pub password: String,
    /// A role name (`member`, `org_admin`, …).
    pub role: String,
    /// Organisation name; organisation admins always create in their own.
    pub org: Option<String>,
    /// For region operators: the region they operate (code or name).
    pub region: Option<String>,
    /// For technology managers: names of the organisations they act for.
    pub acting_for: Vec<String>,
}

/// A new API token: `token` is shown once, only the hash is stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub stored: ApiToken,
    pub token: String,
}

/// What an erasure removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    pub listings_deleted: usize,
    pub account_disabled: bool,
}

/// The account use cases. They need the database only (not the search index), so the command
/// line runs them while a server uses the same data directory.
pub struct AccountService {
    accounts: Arc<dyn Accounts>,
    auth: Auth,
}

impl AccountService {
    pub fn new(accounts: Arc<dyn Accounts>) -> AccountService {
        AccountService { auth: Auth::new(accounts.clone()), accounts }
    }

    /// The account use cases of a data directory (its database only).
    pub fn open(data_dir: &DataDir) -> anyhow::Result<AccountService> {
        Ok(AccountService::new(data_dir.open_database()?))
    }

    /// Login throttling and session lifetime (see [`Auth`]).
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    pub fn auth_mut(&mut self) -> &mut Auth {
        &mut self.auth
    }

    /// Checks the password and opens a session; the attempt is audited either way.
    pub fn login(&self, username: &str, password: &str, ip: Option<&str>) -> AppResult<NewSession> {
        Ok(self.auth.login(username, password, ip)?)
    }

    /// Ends the session of `cookie` (when the actor came with one) and audits the logout.
    pub fn logout(&self, actor: &Actor, cookie: Option<&str>) -> AppResult<()> {
        let principal = actor.principal();
        let target = principal.map(|p| p.username.clone()).unwrap_or_default();
        let entry = actor.audit("logout", target, principal.and_then(|p| p.region.clone()));
        match cookie {
            Some(cookie) => self.auth.logout(cookie, entry)?,
            None => {
                self.accounts.audit(entry)?;
            }
        }
        Ok(())
    }

    /// The user and session of a live session cookie.
    pub fn session(&self, cookie: &str) -> AppResult<Option<(Principal, xietong_store::Session)>> {
        Ok(self.auth.session(cookie)?)
    }

    /// The user of a live API token, limited to its scopes.
    pub fn bearer(&self, token: &str) -> AppResult<Option<(Principal, ApiToken)>> {
        Ok(self.auth.bearer(token)?)
    }

    fn user_named(&self, username: &str) -> AppResult<User> {
        self.accounts
            .user_by_name(username)?
            .ok_or_else(|| AppError::NotFound(format!("no user {username:?}; create one with `xietong user add`")))
    }

    /// The account a token operation is for: the actor's own, or — for the platform admin and
    /// the command line — the one named.
    fn token_owner(&self, actor: &Actor, username: Option<&str>) -> AppResult<User> {
        let principal = actor.user()?;
        match username {
            Some(name) if name != principal.username => {
                if !principal.is_admin() {
                    return Err(AppError::Forbidden("you manage only your own tokens".into()));
                }
                self.user_named(name)
            }
            _ => self
                .accounts
                .user(principal.user_id)?
                .ok_or_else(|| AppError::Unauthorized("your account does not exist any more".into())),
        }
    }

    /// The API tokens of the actor (or of the user named, for the platform admin), never
    /// their values.
    pub fn tokens(&self, actor: &Actor, username: Option<&str>) -> AppResult<Vec<ApiToken>> {
        let user = self.token_owner(actor, username)?;
        Ok(self.accounts.tokens_of(user.id)?)
    }

    /// Issues an API token: for the actor, with at most the scopes they hold (all of them by
    /// default); or, by the platform admin, for another active user with any scopes.
    pub fn issue_token(
        &self,
        actor: &Actor,
        username: Option<&str>,
        name: &str,
        scopes: Option<&[String]>,
        expires_in_days: Option<u32>,
    ) -> AppResult<IssuedToken> {
        let principal = actor.user()?;
        let user = self.token_owner(actor, username)?;
        if user.disabled {
            return Err(AppError::Conflict(format!("user {:?} is disabled", user.username)));
        }
        let for_self = user.id == principal.user_id;
        let scopes = match scopes {
            None | Some([]) if for_self => principal.scopes.clone(),
            None | Some([]) => Scope::ALL.to_vec(),
            Some(names) => {
                let mut scopes = Vec::new();
                for name in names {
                    let scope: Scope = name.parse().map_err(|e: String| AppError::bad_input("scopes", e))?;
                    if for_self && !principal.has_scope(scope) {
                        return Err(AppError::Forbidden(format!("you can't grant the `{name}` scope you don't hold")));
                    }
                    scopes.push(scope);
                }
                scopes
            }
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(AppError::bad_input("name", "name the token, e.g. \"nightly export\""));
        }
        let expires_at = expires_in_days.map(|days| OffsetDateTime::now_utc() + time::Duration::days(days.into()));
        let (stored, token) = self.auth.issue_token(&user, name, scopes, expires_at, &|stored| {
            let mut entry = actor.audit("token.issue", stored.id.to_string(), principal.region.clone());
            entry.detail = serde_json::json!({"user": user.username, "name": stored.name, "scopes": stored.scopes});
            entry
        })?;
        Ok(IssuedToken { stored, token })
    }

    /// Revokes a token of the actor (the platform admin may revoke anyone's). Returns whether a
    /// live token was revoked by this call; `NotFound` when the actor has no such token.
    pub fn revoke_token(&self, actor: &Actor, id: i64) -> AppResult<bool> {
        let principal = actor.user()?;
        let token = self.accounts.token(id)?.filter(|t| t.user_id == principal.user_id || principal.is_admin());
        let Some(token) = token else { return Err(AppError::NotFound(format!("you have no token {id}"))) };
        let entry = actor.audit("token.revoke", token.id.to_string(), principal.region.clone());
        Ok(self.accounts.revoke_token(token.id, OffsetDateTime::now_utc(), entry)?)
    }

    /// All organisations, by name.
    pub fn orgs(&self) -> AppResult<Vec<Org>> {
        Ok(self.accounts.orgs()?)
    }

    /// Registers an organisation (platform admin).
    pub fn create_org(&self, actor: &Actor, name: &str, kind: &str, region: &str) -> AppResult<Org> {
        if !actor.user()?.is_admin() {
            return Err(AppError::Forbidden("only the platform admin registers organisations".into()));
        }
        let kind: OrgKind = kind.parse().map_err(|e: String| AppError::bad_input("kind", e))?;
        let region_code = resolve_region("region_code", region)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(AppError::bad_input("name", "an organisation needs a name"));
        }
        let new = NewOrg { name: name.to_string(), kind, region_code };
        Ok(self.accounts.create_org(new, &|org| {
            let mut entry = actor.audit("org.create", org.name.clone(), Some(org.region_code.clone()));
            entry.detail = serde_json::json!({"kind": org.kind.as_str()});
            entry
        })?)
    }

    /// All users, by username (platform admin).
    pub fn users(&self, actor: &Actor) -> AppResult<Vec<User>> {
        if !actor.user()?.is_admin() {
            return Err(AppError::Forbidden("only the platform admin lists all users".into()));
        }
        Ok(self.accounts.users()?)
    }

    /// Creates a user: the platform admin any user, an organisation admin members and admins of
    /// their own organisation. A region operator needs a region; a technology manager may be
    /// appointed by organisations at once.
    pub fn create_user(&self, actor: &Actor, account: NewAccount) -> AppResult<User> {
        let principal = actor.user()?;
        let role: Role = account.role.parse().map_err(|e: String| AppError::bad_input("role", e))?;
        let org_name = match principal.role {
            Role::PlatformAdmin => account.org.clone().filter(|o| !o.trim().is_empty()),
            Role::OrgAdmin if matches!(role, Role::Member | Role::OrgAdmin) => principal.org.clone(),
            Role::OrgAdmin => {
                return Err(AppError::Forbidden("organisation admins create members and admins only".into()));
            }
            _ => {
                return Err(AppError::Forbidden("only the platform admin and organisation admins create users".into()));
            }
        };
        let username = account.username.trim().to_string();
        if username.is_empty() || !username.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
            return Err(AppError::bad_input("username", "use letters, digits, _ - . only"));
        }
        let region_code = match account.region.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            Some(text) => Some(resolve_region("region_code", text)?),
            None => None,
        };
        if role == Role::RegionOperator && region_code.is_none() {
            return Err(AppError::bad_input("region_code", "a region operator needs the region they operate"));
        }
        let org = match &org_name {
            Some(name) => Some(self.org_named("org", name)?),
            None => None,
        };
        let mut appointed_by = Vec::new();
        for name in &account.acting_for {
            appointed_by.push(self.org_named("acting_for", name)?.id);
        }
        let password_hash = new_password_hash(&account.password)?;
        let new = NewUser {
            display_name: account
                .display_name
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| username.clone()),
            username,
            role,
            org_id: org.as_ref().map(|o| o.id),
            region_code,
            password_hash,
        };
        let region = org.as_ref().map(|o| o.region_code.clone()).or_else(|| new.region_code.clone());
        Ok(self.accounts.create_user(new, &appointed_by, &|user| {
            let mut entry = actor.audit("user.create", user.username.clone(), region.clone());
            entry.detail =
                serde_json::json!({"role": user.role.as_str(), "org": org_name, "acting_for": account.acting_for});
            entry
        })?)
    }

    fn org_named(&self, field: &str, name: &str) -> AppResult<Org> {
        self.accounts.org_by_name(name)?.ok_or_else(|| {
            AppError::bad_input(field, format!("no organisation named {name:?}; register it with `xietong org add`"))
        })
    }
}

fn resolve_region(field: &str, text: &str) -> AppResult<String> {
    Ok(Reference::get()
        .resolve_region(text.trim())
        .ok_or_else(|| AppError::bad_input(field, format!("unknown region {text:?}")))?
        .code
        .clone())
}

impl App {
    /// The account use cases.
    pub fn account(&self) -> &AccountService {
        &self.account
    }

    /// Login throttling and session lifetime, to configure before serving.
    pub fn auth_mut(&mut self) -> &mut Auth {
        self.account.auth_mut()
    }

    /// Listings an individual talent published as their personal organisation.
    fn personal_listings(&self, principal: &Principal) -> AppResult<Vec<xietong_domain::Listing>> {
        match (&principal.org, principal.role) {
            (Some(org), Role::Talent) => {
                let filter = ListFilter { owner_org: Some(org.clone()), ..Default::default() };
                Ok(self.store.list(&filter, 1_000, 0)?.items)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Everything the platform holds about the actor: account, personal listings with contacts
    /// in full, deals (contact requests) they proposed, tokens and the audit entries they caused. The
    /// export itself is audited.
    pub fn export_personal_data(&self, actor: &Actor) -> AppResult<serde_json::Value> {
        let principal = actor.user()?;
        let user = self
            .accounts
            .user(principal.user_id)?
            .ok_or_else(|| AppError::Unauthorized("your account does not exist any more".into()))?;
        let listings = self.personal_listings(principal)?;
        let orgs = principal.orgs();
        let deals = if orgs.is_empty() {
            Vec::new()
        } else {
            let filter = xietong_store::DealFilter { orgs: Some(orgs), ..Default::default() };
            self.deals.deals(&filter, 10_000)?
        };
        let requests: Vec<_> = deals.into_iter().filter(|d| d.asker_user_id == user.id).collect();
        let tokens = self.accounts.tokens_of(user.id)?;
        let filter = AuditFilter { actor: Some(user.username.clone()), ..AuditFilter::default() };
        let (audit, _) = self.accounts.audit_entries(&filter, 10_000, 0)?;
        self.accounts.audit(actor.audit("personal_data.export", user.username.clone(), principal.region.clone()))?;
        Ok(serde_json::json!({
            "exported_at": OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "account": user,
            "organisation": principal.org,
            "listings": listings,
            "deals_proposed": requests,
            "api_tokens": tokens,
            "audit_entries": audit,
        }))
    }

    /// Erases an individual talent's personal data on their request: their listings are
    /// deleted for good (and leave the index), the account is disabled and its sessions and
    /// tokens end — one transaction, with the audit entry that records it.
    pub fn erase_personal_data(&self, actor: &Actor) -> AppResult<Erased> {
        let principal = actor.user()?;
        if principal.role != Role::Talent {
            return Err(AppError::Forbidden(
                "only individual talents erase their own data here; members of an organisation ask its admin".into(),
            ));
        }
        let ids: Vec<ListingId> = self.personal_listings(principal)?.iter().map(|l| l.id).collect();
        let mut entry = actor.audit("personal_data.erase", principal.username.clone(), principal.region.clone());
        entry.detail = serde_json::json!({"listings_deleted": ids.iter().map(ToString::to_string).collect::<Vec<_>>()});
        self.accounts.disable_user(principal.user_id, &ids, entry)?;
        self.sync_after_write();
        Ok(Erased { listings_deleted: ids.len(), account_disabled: true })
    }

    /// Appends an audit entry for something that wrote nothing (a reveal, an export); a failure
    /// is an error, so nothing is shown that the trail does not record.
    pub(crate) fn audit_read(&self, entry: NewAudit) -> AppResult<()> {
        self.accounts.audit(entry).map(|_| ()).map_err(AppError::from)
    }
}
