//! Claims (认领): a user asks to represent an organisation nobody represents, giving its unified
//! social credit code; the operator of the organisation's region (or the platform admin)
//! approves or rejects, and the claimant may withdraw. The rules are
//! `xietong_domain::claim::transition`'s; the store writes each decision with its audit entry,
//! and an approval makes the claimant a member, so the organisation's listings and open deals
//! pass to them.

use xietong_domain::claim::{ClaimEvent, ClaimRefusal, ClaimRole, ClaimState, transition};
use xietong_domain::{ListingBody, OrgId, OrgKind, Principal, Role, Uscc};
use xietong_store::{Claim, ClaimDecision, ClaimFilter, ClaimId, ListFilter, NewClaim, NewOrg, Org, StoreError};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::listing::Actor;

/// Most claims one list returns.
const CLAIMS_LISTED: u32 = 500;

/// How a claim names its organisation: by id, or by the name listings carry as their owner (an
/// organisation known only from imported listings gets its record when first claimed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgRef {
    Id(OrgId),
    Name(String),
}

impl App {
    /// Opens a claim of the actor on an organisation. The actor must belong to no organisation
    /// yet; the organisation must have no active member; the code must be a valid unified social
    /// credit code and equal the one on the organisation's enterprise listing, if it has one.
    pub fn claim_org(&self, actor: &Actor, org: OrgRef, uscc: &str, note: &str) -> AppResult<Claim> {
        let principal = actor.user()?;
        if principal.org.is_some() || principal.role != Role::Member {
            return Err(AppError::Conflict(
                "only a member account that belongs to no organisation yet can claim one".into(),
            ));
        }
        let uscc = Uscc::parse(uscc).map_err(|error| AppError::bad_input("uscc", error.to_string()))?;
        if note.chars().count() > 2_000 {
            return Err(AppError::bad_input("note", "at most 2000 characters"));
        }
        let org = self.claimable_org(actor, org)?;
        if !self.claims.represented_orgs(std::slice::from_ref(&org.name))?.is_empty() {
            return Err(AppError::Conflict(format!(
                "{} is already represented on the platform; ask its administrator to add you",
                org.name
            )));
        }
        if let Some(known) = self.enterprise_uscc(&org.name)?
            && known != uscc.as_str()
        {
            return Err(AppError::bad_input(
                "uscc",
                "does not match the code on the organisation's enterprise listing",
            ));
        }
        let new = NewClaim {
            org_id: org.id,
            user_id: principal.user_id,
            uscc: uscc.as_str().to_string(),
            note: note.trim().into(),
        };
        // The operators of the organisation's region decide: they are told.
        let reference = xietong_domain::Reference::get();
        let operators: Vec<_> = self
            .accounts
            .users()?
            .into_iter()
            .filter(|u| !u.disabled && u.role == Role::RegionOperator)
            .filter(|u| u.region_code.as_deref().is_some_and(|r| reference.region_within(&org.region_code, r)))
            .map(|u| u.id)
            .collect();
        let email = self.email_notices();
        let created = self.claims.create_claim(new, &|claim| {
            let mut entry = actor.audit("claim.create", claim.id.to_string(), Some(claim.org_region.clone()));
            entry.detail = serde_json::json!({"org": claim.org_name, "org_id": claim.org_id, "uscc": claim.uscc});
            entry.notices = vec![crate::notify::claim_notice(claim, operators.clone(), email)];
            entry
        });
        match created {
            Err(StoreError::WrongState(detail)) => Err(AppError::Conflict(detail)),
            other => Ok(other?),
        }
    }

    /// Whether an active member represents the organisation named `name` on the platform (when
    /// nobody does, its region's operators and technology managers act for it, and a member
    /// account of no organisation may claim it).
    pub fn org_represented(&self, name: &str) -> AppResult<bool> {
        let names = [name.trim().to_string()];
        Ok(!self.claims.represented_orgs(&names)?.is_empty())
    }

    /// Claims the actor may see: their own; those of the regions a region operator operates;
    /// every claim for the platform admin.
    pub fn claims(&self, actor: &Actor, state: Option<ClaimState>) -> AppResult<Vec<Claim>> {
        let principal = actor.user()?;
        let filter = match (principal.role, &principal.region) {
            (Role::PlatformAdmin, _) => ClaimFilter { state, ..ClaimFilter::default() },
            (Role::RegionOperator, Some(region)) => {
                ClaimFilter { region_prefixes: Some(vec![region_prefix(region)]), state, ..ClaimFilter::default() }
            }
            _ => ClaimFilter { user_id: Some(principal.user_id), state, ..ClaimFilter::default() },
        };
        let mut claims = self.claims.claims(&filter, CLAIMS_LISTED)?;
        // A prefix may take in regions outside the operated one (e.g. Xiong'an's counties).
        claims.retain(|claim| claim.user_id == principal.user_id || principal.operates_region(&claim.org_region));
        Ok(claims)
    }

    /// One claim the actor may see.
    pub fn claim(&self, actor: &Actor, id: ClaimId) -> AppResult<Claim> {
        let principal = actor.user()?;
        self.claims
            .claim(id)?
            .filter(|claim| claim.user_id == principal.user_id || principal.operates_region(&claim.org_region))
            .ok_or_else(|| AppError::NotFound(format!("no claim {id}")))
    }

    /// Approves, rejects (with a reason) or withdraws a claim. `Forbidden` for the wrong role,
    /// `Conflict` when it is no longer pending (of concurrent decisions exactly one wins).
    pub fn decide_claim(&self, actor: &Actor, id: ClaimId, event: ClaimEvent, reason: &str) -> AppResult<Claim> {
        let principal = actor.user()?;
        let claim = self.claim(actor, id)?;
        let role = claim_role(principal, &claim);
        let state = transition(claim.state, event, role).map_err(|refusal| match refusal {
            ClaimRefusal::NotYours { .. } => AppError::Forbidden(refusal.to_string()),
            ClaimRefusal::NotPending { .. } => AppError::Conflict(refusal.to_string()),
        })?;
        if event == ClaimEvent::Reject && reason.trim().is_empty() {
            return Err(AppError::bad_input("reason", "say why the claim is rejected; the claimant reads it"));
        }
        let email = self.email_notices();
        if event == ClaimEvent::Approve
            && !self.claims.represented_orgs(std::slice::from_ref(&claim.org_name))?.is_empty()
        {
            return Err(AppError::Conflict(format!("{} is represented already; reject this claim", claim.org_name)));
        }
        let decision =
            ClaimDecision { claim_id: id, state, decided_by: principal.user_id, reason: reason.trim().into() };
        let decided = self.claims.decide_claim(decision, &|claim| {
            let mut entry = actor.audit(&format!("claim.{}", event.as_str()), id.to_string(), Some(claim.org_region.clone()));
            entry.detail = serde_json::json!({
                "org": claim.org_name, "org_id": claim.org_id, "claimant": claim.username, "state": claim.state.as_str(),
                "reason": claim.reason,
            });
            if event != ClaimEvent::Withdraw {
                entry.notices = vec![crate::notify::claim_notice(claim, vec![claim.user_id], email)];
            }
            entry
        })?;
        decided.ok_or_else(|| AppError::Conflict(format!("claim {id} was decided meanwhile")))
    }

    /// The organisation a claim names, creating the record of one known only from listings.
    fn claimable_org(&self, actor: &Actor, org: OrgRef) -> AppResult<Org> {
        match org {
            OrgRef::Id(id) => self.accounts.org(id)?.ok_or_else(|| AppError::NotFound(format!("no organisation {id}"))),
            OrgRef::Name(name) => {
                let name = name.trim().to_string();
                if let Some(org) = self.accounts.org_by_name(&name)? {
                    return Ok(org);
                }
                let filter = ListFilter { owner_org: Some(name.clone()), ..ListFilter::default() };
                let page = self.store.list(&filter, 1, 0)?;
                let Some(listing) = page.items.first() else {
                    return Err(AppError::NotFound(format!("no organisation named {name:?}")));
                };
                let region = listing.body.region_codes.first().cloned().ok_or_else(|| {
                    AppError::Conflict(format!("{name:?} names no region; ask the platform operator to register it"))
                })?;
                let kind = org_kind_of(&listing.body);
                let created = self.accounts.create_org(
                    NewOrg { name: name.clone(), kind, region_code: region.clone() },
                    &|org| {
                        let mut entry = actor.audit("org.create", org.id.to_string(), Some(org.region_code.clone()));
                        entry.detail = serde_json::json!({"name": org.name, "reason": "claimed from its listings"});
                        entry
                    },
                );
                match created {
                    Err(StoreError::Taken { .. }) => self
                        .accounts
                        .org_by_name(&name)?
                        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("organisation {name:?} vanished"))),
                    other => Ok(other?),
                }
            }
        }
    }

    /// The code on the organisation's enterprise listing, if it has one.
    fn enterprise_uscc(&self, org: &str) -> AppResult<Option<String>> {
        let filter = ListFilter {
            owner_org: Some(org.to_string()),
            kind: Some(xietong_domain::Kind::Enterprise),
            ..ListFilter::default()
        };
        let page = self.store.list(&filter, 5, 0)?;
        Ok(page.items.iter().find_map(|listing| match &listing.body.details {
            xietong_domain::Details::Enterprise(details) => details.uscc.clone(),
            _ => None,
        }))
    }
}

fn claim_role(principal: &Principal, claim: &Claim) -> ClaimRole {
    if principal.user_id != claim.user_id && principal.operates_region(&claim.org_region) {
        ClaimRole::Operator
    } else {
        ClaimRole::Claimant
    }
}

/// The code prefix of a region: 110000 → "11", 130600 → "1306", 130629 → "130629".
fn region_prefix(code: &str) -> String {
    code.trim_end_matches("00").to_string()
}

fn org_kind_of(body: &ListingBody) -> OrgKind {
    match body.kind() {
        xietong_domain::Kind::Facility => OrgKind::FacilityOperator,
        _ => OrgKind::Enterprise,
    }
}
