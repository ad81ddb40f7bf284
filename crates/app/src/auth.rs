//! Authentication: argon2id passwords, login throttling, sessions with CSRF tokens, and API
//! tokens. Secrets are random 256-bit values handed to the client once; the store keeps only
//! their SHA-256, so a leaked database reveals no usable session or token.

use std::sync::Arc;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use xietong_domain::{Principal, Role, Scope};
use xietong_store::{Accounts, ApiToken, NewApiToken, NewAudit, Session, StoreError, User};

/// Shortest password accepted for new accounts.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Prefix of API tokens, so they are recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "xt_";

/// Why a login or credential check failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many failed logins; try again in {retry_after_s} s")]
    Throttled { retry_after_s: u64 },
    #[error("password must have at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Limits of the login throttle: at most `per_account` failures per username and `per_address`
/// per client address within `window`; further attempts are refused until the window passes.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    pub per_account: usize,
    pub per_address: usize,
    pub window: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits { per_account: 5, per_address: 20, window: Duration::from_secs(15 * 60) }
    }
}

/// Seconds until a key with `count` failures, the oldest at `oldest`, may try again under
/// `limit` failures per `window`; `None` if it may now.
fn retry_after(
    count: u64,
    limit: usize,
    oldest: Option<OffsetDateTime>,
    now: OffsetDateTime,
    window: Duration,
) -> Option<u64> {
    if count < limit as u64 {
        return None;
    }
    let elapsed = (now - oldest?).whole_seconds().max(0) as u64;
    Some(window.as_secs().saturating_sub(elapsed).max(1))
}

/// A fresh login: the cookie value and the CSRF token of the new session.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: OffsetDateTime,
    pub principal: Principal,
}

/// Authentication service over the accounts store.
pub struct Auth {
    accounts: Arc<dyn Accounts>,
    pub limits: ThrottleLimits,
    /// Lifetime of a session.
    pub session_ttl: time::Duration,
}

impl Auth {
    pub fn new(accounts: Arc<dyn Accounts>) -> Self {
        Auth { accounts, limits: ThrottleLimits::default(), session_ttl: time::Duration::hours(12) }
    }

    /// Checks the password and opens a session. Every attempt is audited; failures count
    /// towards the throttle of the username and of the address.
    pub fn login(&self, username: &str, password: &str, ip: Option<&str>) -> Result<NewSession, AuthError> {
        // Failures are counted in the audit trail, so every node sharing the database counts
        // the same, and a restart forgets nothing.
        let now = OffsetDateTime::now_utc();
        let window = time::Duration::try_from(self.limits.window).unwrap_or(time::Duration::MINUTE);
        let failures = self.accounts.login_failures(username, ip, now - window)?;
        let blocked =
            retry_after(failures.account, self.limits.per_account, failures.account_oldest, now, self.limits.window)
                .or_else(|| {
                    retry_after(
                        failures.address,
                        self.limits.per_address,
                        failures.address_oldest,
                        now,
                        self.limits.window,
                    )
                });
        if let Some(retry_after_s) = blocked {
            self.audit_login(None, username, "login.throttled", ip, None)?;
            return Err(AuthError::Throttled { retry_after_s });
        }
        let user = self.accounts.user_by_name(username)?.filter(|u| !u.disabled);
        let verified = match &user {
            Some(user) => verify_password(&user.password_hash, password),
            None => {
                // Spend the same time as for a real account, so timing does not reveal names.
                let _ = hash_password(password);
                false
            }
        };
        let Some(user) = user.filter(|_| verified) else {
            self.audit_login(None, username, "login.failure", ip, None)?;
            return Err(AuthError::BadCredentials);
        };
        let principal = self.principal(&user, Scope::ALL.to_vec())?;
        let token = random_token("");
        let csrf_token = random_token("");
        let created_at = OffsetDateTime::now_utc();
        let expires_at = created_at + self.session_ttl;
        let session = Session {
            token_hash: token_hash(&token),
            user_id: user.id,
            csrf_token: csrf_token.clone(),
            created_at,
            expires_at,
            ip: ip.map(str::to_string),
        };
        let entry = login_audit(Some(user.id), username, "login.success", ip, principal.region.clone());
        self.accounts.create_session(session, entry)?;
        Ok(NewSession { token, csrf_token, expires_at, principal })
    }

    fn audit_login(
        &self,
        actor_id: Option<xietong_domain::UserId>,
        username: &str,
        action: &str,
        ip: Option<&str>,
        region_code: Option<String>,
    ) -> Result<(), StoreError> {
        // A failed login for an unknown name still belongs to a region when the name exists.
        let region_code = match region_code {
            Some(code) => Some(code),
            None => match self.accounts.user_by_name(username)? {
                Some(user) => self.home_region(&user)?,
                None => None,
            },
        };
        self.accounts.audit(login_audit(actor_id, username, action, ip, region_code))?;
        Ok(())
    }

    /// The user and CSRF token of a live session cookie.
    pub fn session(&self, cookie_token: &str) -> Result<Option<(Principal, Session)>, AuthError> {
        let Some(session) = self.accounts.session(&token_hash(cookie_token), OffsetDateTime::now_utc())? else {
            return Ok(None);
        };
        let Some(user) = self.accounts.user(session.user_id)?.filter(|u| !u.disabled) else { return Ok(None) };
        Ok(Some((self.principal(&user, Scope::ALL.to_vec())?, session)))
    }

    /// Ends the session of a cookie, with the audit entry of the logout.
    pub fn logout(&self, cookie_token: &str, audit: NewAudit) -> Result<(), AuthError> {
        Ok(self.accounts.delete_session(&token_hash(cookie_token), audit)?)
    }

    /// The user of a live API token, limited to the token's scopes.
    pub fn bearer(&self, token: &str) -> Result<Option<(Principal, ApiToken)>, AuthError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let Some(api_token) = self.accounts.use_token(&token_hash(token), OffsetDateTime::now_utc())? else {
            return Ok(None);
        };
        let Some(user) = self.accounts.user(api_token.user_id)?.filter(|u| !u.disabled) else { return Ok(None) };
        Ok(Some((self.principal(&user, api_token.scopes.clone())?, api_token)))
    }

    /// Creates an API token and its audit entry; the clear token is returned once and never
    /// stored.
    pub fn issue_token(
        &self,
        user: &User,
        name: &str,
        scopes: Vec<Scope>,
        expires_at: Option<OffsetDateTime>,
        audit: &dyn Fn(&ApiToken) -> NewAudit,
    ) -> Result<(ApiToken, String), AuthError> {
        let token = random_token(TOKEN_PREFIX);
        let new = NewApiToken {
            user_id: user.id,
            name: name.to_string(),
            token_hash: token_hash(&token),
            scopes,
            expires_at,
        };
        let stored = self.accounts.create_token(new, audit)?;
        Ok((stored, token))
    }

    /// What the access rules know of a user.
    pub fn principal(&self, user: &User, scopes: Vec<Scope>) -> Result<Principal, StoreError> {
        let org = match user.org_id {
            Some(id) => self.accounts.org(id)?,
            None => None,
        };
        let acting_for = if user.role == Role::TechManager {
            self.accounts.appointments(user.id)?.into_iter().map(|o| o.name).collect()
        } else {
            Vec::new()
        };
        Ok(Principal {
            user_id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            region: user.region_code.clone().or_else(|| org.as_ref().map(|o| o.region_code.clone())),
            org: org.map(|o| o.name),
            acting_for,
            scopes,
        })
    }

    fn home_region(&self, user: &User) -> Result<Option<String>, StoreError> {
        if user.region_code.is_some() {
            return Ok(user.region_code.clone());
        }
        Ok(match user.org_id {
            Some(id) => self.accounts.org(id)?.map(|o| o.region_code),
            None => None,
        })
    }
}

fn login_audit(
    actor_id: Option<xietong_domain::UserId>,
    username: &str,
    action: &str,
    ip: Option<&str>,
    region_code: Option<String>,
) -> NewAudit {
    NewAudit {
        actor_id,
        actor: username.to_string(),
        action: action.to_string(),
        target: username.to_string(),
        region_code,
        ip: ip.map(str::to_string),
        ..NewAudit::default()
    }
}

/// An argon2id PHC string of the password, with a random salt.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Checks a password for a new account and hashes it.
pub fn new_password_hash(password: &str) -> Result<String, AuthError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::WeakPassword);
    }
    hash_password(password)
}

pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// Hex SHA-256 of a session or API token: what the store keeps.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// 256 random bits from the operating system, hex-encoded, after `prefix`.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("the operating system's random source failed");
    format!("{prefix}{}", hex(&bytes))
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct hors"));
        assert!(!verify_password("not a phc string", "correct horse"));
        assert!(matches!(new_password_hash("short"), Err(AuthError::WeakPassword)));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = random_token(TOKEN_PREFIX);
        let b = random_token(TOKEN_PREFIX);
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
        assert!(constant_time_eq(&a, &a.clone()) && !constant_time_eq(&a, &b) && !constant_time_eq(&a, "x"));
    }

    #[test]
    fn throttle_blocks_after_the_limit_until_the_window_passes() {
        let start = time::macros::datetime!(2030-01-01 00:00:00 UTC);
        let window = Duration::from_secs(60);
        assert_eq!(retry_after(2, 3, Some(start), start, window), None, "under the limit");
        assert_eq!(retry_after(3, 3, Some(start), start + time::Duration::seconds(1), window), Some(59));
        assert_eq!(
            retry_after(3, 3, Some(start), start + time::Duration::seconds(60), window),
            Some(1),
            "at least 1 s"
        );
        assert_eq!(retry_after(0, 0, None, start, window), None, "nothing to count from");
    }
}
