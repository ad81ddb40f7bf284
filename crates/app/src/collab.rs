//! Collaboration: contact requests (consent before contact details show; a view of deals), review before
//! publication, and reading the audit trail. Each decision is stored with its audit entry in
//! one transaction, and of concurrent decisions on the same object exactly one wins.

use time::OffsetDateTime;
use xietong_domain::deal::{DealEvent, DealState, DeclineReason};
use xietong_domain::{Listing, ListingId, Reference, Role, Status, UserId};
use xietong_store::{
    AuditEntry, AuditFilter, Deal, DealFilter, DealId, ListFilter, Review, ReviewDecision, StoreError,
};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::listing::Actor;

/// How many pending listings the review queue shows.
const REVIEW_QUEUE: u32 = 200;
/// Most contact requests one list returns.
const CONTACT_REQUESTS_LISTED: u32 = 500;

/// A review decision and the listing after it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reviewed {
    pub review: Review,
    pub listing: Listing,
}

/// A contact request as the older routes show it: a thin view of a deal (对接) on the listing.
/// Asking for the contact proposes a deal; accepting or declining the request is the deal's
/// `accept` or `decline` (reason `other`). There is one flow and one table: deals.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactRequest {
    /// The deal's id.
    pub id: DealId,
    pub listing_id: ListingId,
    /// The organisation that asks (its members see the contact once accepted).
    pub from_org: String,
    pub from_user_id: UserId,
    /// The listing's owner organisation, which decides.
    pub to_org: String,
    pub message: String,
    pub state: RequestState,
    /// The deal's state (`proposed`, `accepted`, …), for clients that follow the deal.
    pub deal_state: DealState,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub decided_by: Option<UserId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
}

/// State of a contact request: `pending` while the deal is proposed, `accepted` once the owner
/// accepted it (whatever came after), `declined` when declined or closed before acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Accepted,
    Declined,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Accepted => "accepted",
            RequestState::Declined => "declined",
        }
    }
}

impl From<&Deal> for ContactRequest {
    fn from(deal: &Deal) -> Self {
        let decision =
            deal.timeline.iter().find(|step| matches!(step.event, DealEvent::Accept | DealEvent::Decline { .. }));
        let accepted = deal.timeline.iter().any(|step| step.event == DealEvent::Accept);
        let state = match deal.state {
            DealState::Proposed => RequestState::Pending,
            _ if accepted => RequestState::Accepted,
            _ => RequestState::Declined,
        };
        let closed = deal.timeline.iter().find(|step| matches!(step.event, DealEvent::Close { .. }));
        let decided = decision.or(closed);
        ContactRequest {
            id: deal.id,
            listing_id: deal.listing_id,
            from_org: deal.asker_org.clone(),
            from_user_id: deal.asker_user_id,
            to_org: deal.owner_org.clone(),
            message: deal.message.clone(),
            state,
            deal_state: deal.state,
            created_at: deal.created_at,
            decided_by: decided.and_then(|step| step.actor_id),
            decided_at: decided.map(|step| step.at),
        }
    }
}

impl App {
    /// Asks the owner of a listing the actor may read for its contact details: proposes a deal
    /// on it. Once the owner accepts, members of the asking organisation see the contact.
    pub fn request_contact(&self, actor: &Actor, id: ListingId, message: &str) -> AppResult<ContactRequest> {
        let deal = self.propose_deal(actor, id, None, message)?;
        Ok(ContactRequest::from(&deal))
    }

    /// Contact requests (deals) sent by or to the actor's organisations, newest first.
    pub fn contact_requests(&self, actor: &Actor) -> AppResult<Vec<ContactRequest>> {
        let orgs = actor.user()?.orgs();
        if orgs.is_empty() {
            return Ok(Vec::new());
        }
        let filter = DealFilter { orgs: Some(orgs), ..DealFilter::default() };
        Ok(self.deals.deals(&filter, CONTACT_REQUESTS_LISTED)?.iter().map(ContactRequest::from).collect())
    }

    /// Requests about one listing that the actor's organisations sent or received.
    pub fn contact_requests_about(&self, actor: &Actor, id: ListingId) -> AppResult<Vec<ContactRequest>> {
        let mut requests = self.contact_requests(actor)?;
        requests.retain(|r| r.listing_id == id);
        Ok(requests)
    }

    /// Whether a deal of the actor's organisations lets them see the listing's contact.
    pub fn contact_granted(&self, actor: &Actor, id: ListingId) -> AppResult<bool> {
        let orgs = actor.principal().map(|p| p.orgs()).unwrap_or_default();
        self.deal_grants_contact(&orgs, id)
    }

    /// The listing's owner accepts or declines a pending request: the deal's `accept`, or its
    /// `decline` with reason `other`. `Conflict` when it was already decided (also when a
    /// concurrent decision won).
    pub fn decide_contact_request(&self, actor: &Actor, id: DealId, accepted: bool) -> AppResult<ContactRequest> {
        let deal = self.deal(actor, id).map_err(|error| match error {
            AppError::NotFound(_) => AppError::NotFound(format!("no contact request {id} for your organisation")),
            other => other,
        })?;
        if deal.state != DealState::Proposed {
            return Err(AppError::Conflict(format!("contact request {id} was already decided")));
        }
        let event =
            if accepted { DealEvent::Accept } else { DealEvent::Decline { reason: DeclineReason::Other, note: None } };
        let moved = self.deal_event(actor, id, deal.version, event).map_err(|error| match error {
            AppError::Conflict(_) => AppError::Conflict(format!("contact request {id} was already decided")),
            AppError::Forbidden(_) => AppError::Forbidden("only the listing's owner decides a contact request".into()),
            other => other,
        })?;
        Ok(ContactRequest::from(&moved))
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
