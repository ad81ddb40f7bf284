//! Collaboration: contact requests (consent before contact details show), review before
//! publication, and reading the audit trail. Each decision is stored with its audit entry in
//! one transaction, and of concurrent decisions on the same object exactly one wins.

use time::OffsetDateTime;
use xietong_domain::{Listing, ListingId, Reference, Role, Status};
use xietong_store::{
    AuditEntry, AuditFilter, ContactRequest, ListFilter, RequestState, Review, ReviewDecision, StoreError,
};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::listing::Actor;

/// How many pending listings the review queue shows.
const REVIEW_QUEUE: u32 = 200;

/// A review decision and the listing after it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reviewed {
    pub review: Review,
    pub listing: Listing,
}

impl App {
    /// Asks the owner of a listing the actor may read for its contact details. Once the owner
    /// accepts, members of the asking organisation see the contact in full on the listing.
    pub fn request_contact(&self, actor: &Actor, id: ListingId, message: &str) -> AppResult<ContactRequest> {
        let principal = actor.user()?;
        let listing = self.read_listing(actor, id)?;
        let from_org = principal
            .org
            .clone()
            .ok_or_else(|| AppError::Forbidden("your account belongs to no organisation".into()))?;
        let Some(owner) = listing.body.owner_org.clone() else {
            return Err(AppError::Conflict("this listing names no owner to ask".into()));
        };
        if principal.orgs().contains(&owner) {
            return Err(AppError::Conflict("this is your own organisation's listing".into()));
        }
        let existing = self.accounts.contact_requests_of(std::slice::from_ref(&from_org))?;
        if existing.iter().any(|r| r.listing_id == id && r.from_org == from_org && r.state != RequestState::Declined) {
            return Err(AppError::Conflict("your organisation already asked for this contact".into()));
        }
        let region = listing.body.region_codes.first().cloned();
        let created = self.accounts.create_contact_request(
            id,
            &from_org,
            principal.user_id,
            &owner,
            message.trim(),
            &|created| {
                let mut entry = actor.audit("contact_request.create", created.id.to_string(), region.clone());
                entry.detail = serde_json::json!({"listing": id.to_string(), "to_org": owner});
                entry
            },
        )?;
        Ok(created)
    }

    /// Contact requests sent by or to the actor's organisations, newest first.
    pub fn contact_requests(&self, actor: &Actor) -> AppResult<Vec<ContactRequest>> {
        Ok(self.accounts.contact_requests_of(&actor.user()?.orgs())?)
    }

    /// Requests about one listing that the actor's organisations sent or received.
    pub fn contact_requests_about(&self, actor: &Actor, id: ListingId) -> AppResult<Vec<ContactRequest>> {
        let mut requests = self.contact_requests(actor)?;
        requests.retain(|r| r.listing_id == id);
        Ok(requests)
    }

    /// Whether one of the actor's organisations holds an accepted request for the listing.
    pub fn contact_granted(&self, actor: &Actor, id: ListingId) -> AppResult<bool> {
        let orgs = actor.principal().map(|p| p.orgs()).unwrap_or_default();
        Ok(!orgs.is_empty() && (self.accounts.contact_granted(id, &orgs)? || self.deal_grants_contact(&orgs, id)?))
    }

    /// The listing's owner accepts or declines a pending request. `Conflict` when it was
    /// already decided (also when a concurrent decision won).
    pub fn decide_contact_request(&self, actor: &Actor, id: i64, accepted: bool) -> AppResult<ContactRequest> {
        let principal = actor.user()?;
        let orgs = principal.orgs();
        let request = self
            .accounts
            .contact_request(id)?
            .filter(|r| orgs.contains(&r.to_org) || orgs.contains(&r.from_org))
            .ok_or_else(|| AppError::NotFound(format!("no contact request {id} for your organisation")))?;
        if !orgs.contains(&request.to_org) {
            return Err(AppError::Forbidden("only the listing's owner decides a contact request".into()));
        }
        let action = if accepted { "contact_request.accept" } else { "contact_request.decline" };
        let decided = self
            .accounts
            .decide_contact_request(id, accepted, principal.user_id, OffsetDateTime::now_utc(), &|decided| {
                let mut entry = actor.audit(action, id.to_string(), principal.region.clone());
                entry.detail =
                    serde_json::json!({"listing": decided.listing_id.to_string(), "from_org": decided.from_org});
                entry
            })?
            .ok_or_else(|| AppError::Conflict(format!("contact request {id} was already decided")))?;
        Ok(decided)
    }

    /// Listings awaiting the actor's review: those of the region a region operator operates,
    /// everything for the platform admin.
    pub fn review_queue(&self, actor: &Actor) -> AppResult<Vec<Listing>> {
        let principal = actor.user()?;
        let region = match principal.role {
            Role::PlatformAdmin => None,
            Role::RegionOperator => principal.region.clone(),
            _ => return Err(AppError::Forbidden("only region operators and the platform admin review".into())),
        };
        let filter = ListFilter { status: Some(Status::Pending), region, ..ListFilter::default() };
        Ok(self.store.list(&filter, REVIEW_QUEUE, 0)?.items)
    }

    /// Approves (publishes) or rejects (with a reason for the owner) a listing awaiting review
    /// in the actor's region. The status change, the decision and its audit entry are one
    /// transaction; of two concurrent decisions one wins and the other is a `Conflict`.
    pub fn review_listing(&self, actor: &Actor, id: ListingId, approve: bool, reason: &str) -> AppResult<Reviewed> {
        if !approve && reason.trim().is_empty() {
            return Err(AppError::bad_input("reason", "give the owner a reason when rejecting"));
        }
        let principal = actor.user()?;
        let not_found = || AppError::NotFound(format!("listing {id} does not exist"));
        let listing = match self.store.get(id) {
            Ok(listing) => listing,
            Err(StoreError::NotFound(_)) => return Err(not_found()),
            Err(other) => return Err(other.into()),
        };
        if !actor.viewer.can_review(&listing.body) {
            return Err(if actor.viewer.can_read(&listing.body) {
                AppError::Forbidden("this listing is outside the region you operate".into())
            } else {
                not_found()
            });
        }
        if listing.body.status != Status::Pending {
            return Err(AppError::Conflict(format!(
                "listing {id} is {}, not awaiting review",
                listing.body.status.as_str()
            )));
        }
        let decision = ReviewDecision {
            listing_id: id,
            expected_version: listing.version,
            reviewer_id: principal.user_id,
            approved: approve,
            reason: reason.trim().to_string(),
        };
        let action = if approve { "review.approve" } else { "review.reject" };
        let region = listing.body.region_codes.first().cloned();
        let email = self.email_notices();
        let (review, listing) = self.accounts.review_listing(decision, &|review| {
            let mut entry = actor.audit(action, id.to_string(), region.clone());
            entry.detail = serde_json::json!({"reason": review.reason, "title": listing.body.title});
            entry.notices = crate::notify::reviewed(&listing, review.approved, &review.reason, principal, email)
                .into_iter()
                .collect();
            entry
        })?;
        self.sync_after_write();
        Ok(Reviewed { review, listing })
    }

    /// Regions where publication waits for review.
    pub fn review_regions(&self) -> AppResult<Vec<String>> {
        Ok(self.accounts.review_regions()?)
    }

    /// Switches review before publication on or off for a region the actor operates; returns
    /// the regions that review afterwards.
    pub fn set_review_region(&self, actor: &Actor, code: &str, required: bool) -> AppResult<Vec<String>> {
        let region = Reference::get()
            .region(code)
            .ok_or_else(|| AppError::bad_input("code", format!("unknown region {code:?}")))?
            .code
            .clone();
        if !actor.user()?.operates_region(&region) {
            return Err(AppError::Forbidden("you don't operate this region".into()));
        }
        let mut entry = actor.audit("review_region.set", region.clone(), Some(region.clone()));
        entry.detail = serde_json::json!({"required": required});
        self.accounts.set_review_region(&region, required, entry)?;
        self.review_regions()
    }

    /// A page of the audit trail the actor may see, newest first, and the number of matching
    /// entries: the platform admin sees every entry, a region operator those of regions inside
    /// the region they operate, anyone else nothing. `action` is a prefix; empty filters are
    /// ignored.
    pub fn audit_trail(
        &self,
        actor: &Actor,
        action: Option<String>,
        who: Option<String>,
        limit: u32,
        offset: u64,
    ) -> AppResult<(Vec<AuditEntry>, u64)> {
        let principal = actor.user()?;
        let region_codes = match principal.role {
            Role::PlatformAdmin => None,
            Role::RegionOperator => {
                let region = principal.region.clone().unwrap_or_default();
                let reference = Reference::get();
                Some(
                    reference
                        .regions()
                        .iter()
                        .filter(|r| reference.region_within(&r.code, &region))
                        .map(|r| r.code.clone())
                        .collect(),
                )
            }
            _ => {
                return Err(AppError::Forbidden(
                    "only region operators and the platform admin read the audit trail".into(),
                ));
            }
        };
        let filter = AuditFilter {
            region_codes,
            action_prefix: action.filter(|a| !a.is_empty()),
            actor: who.filter(|a| !a.is_empty()),
        };
        Ok(self.accounts.audit_entries(&filter, limit, offset)?)
    }

    /// Records that the actor exported `entries` audit entries.
    pub fn audit_exported(&self, actor: &Actor, entries: usize) -> AppResult<()> {
        let principal = actor.user()?;
        let mut entry = actor.audit("audit.export", "audit", principal.region.clone());
        entry.detail = serde_json::json!({"entries": entries});
        self.audit_read(entry)
    }
}
