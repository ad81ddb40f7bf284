//! Claims on organisations as the store keeps them, and whether anyone represents an
//! organisation. Which event may happen is `xietong_domain::claim`'s; the store makes each
//! decision atomic: the claim's new state, the claimant's membership and the audit entry commit
//! together, and of concurrent decisions on one claim exactly one wins.

use serde::Serialize;
use time::OffsetDateTime;
use xietong_domain::claim::ClaimState;
use xietong_domain::{OrgId, UserId};

use crate::{NewAudit, StoreError};

/// Id of a claim.
pub type ClaimId = i64;

/// A user's request to represent an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    pub id: ClaimId,
    pub org_id: OrgId,
    pub org_name: String,
    /// The organisation's region (GB/T 2260), whose operator decides.
    pub org_region: String,
    pub user_id: UserId,
    pub username: String,
    /// The unified social credit code the claimant gave.
    pub uscc: String,
    pub note: String,
    pub state: ClaimState,
    pub version: i64,
    pub decided_by: Option<UserId>,
    /// Why it was rejected (empty otherwise).
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
}

/// A claim to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClaim {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub uscc: String,
    pub note: String,
}

/// A decision on a pending claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimDecision {
    pub claim_id: ClaimId,
    /// `Approved`, `Rejected` or `Withdrawn`.
    pub state: ClaimState,
    pub decided_by: UserId,
    pub reason: String,
}

/// Which claims to list.
#[derive(Debug, Clone, Default)]
pub struct ClaimFilter {
    /// Claims by this user.
    pub user_id: Option<UserId>,
    /// Claims on organisations whose region code starts with one of these prefixes (`None`:
    /// every region).
    pub region_prefixes: Option<Vec<String>>,
    pub state: Option<ClaimState>,
}

/// Claims on organisations.
pub trait Claims: Send + Sync {
    /// Opens a pending claim with its audit entry. `WrongState` when the user already has a
    /// pending claim on the organisation; `Invalid` when the organisation or user does not exist.
    fn create_claim(&self, claim: NewClaim, audit: &dyn Fn(&Claim) -> NewAudit) -> Result<Claim, StoreError>;
    fn claim(&self, id: ClaimId) -> Result<Option<Claim>, StoreError>;
    /// Newest first.
    fn claims(&self, filter: &ClaimFilter, limit: u32) -> Result<Vec<Claim>, StoreError>;
    /// Decides a pending claim; an approval also makes the claimant a member of the
    /// organisation. `Ok(None)` when the claim is not pending any more (nothing is written).
    fn decide_claim(
        &self,
        decision: ClaimDecision,
        audit: &dyn Fn(&Claim) -> NewAudit,
    ) -> Result<Option<Claim>, StoreError>;
    /// Of `org_names`, those that have at least one active user as a member.
    fn represented_orgs(&self, org_names: &[String]) -> Result<Vec<String>, StoreError>;
}
