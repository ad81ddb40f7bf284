//! Listings: reading one, publishing, changing and archiving — the rules every entry point (API,
//! web pages) shares. Each write settles the owner and the review state, checks access, stores
//! the listing and its audit entry in one transaction, then brings the index in line.

use xietong_domain::{Listing, ListingBody, ListingId, Principal, Reference, Status, UserId, Viewer};
use xietong_store::{ListingWrite, NewAudit, StoreError};

use crate::App;
use crate::error::{AppError, AppResult};

/// Who acts: the viewer (for access rules) and the client address (for the audit trail).
#[derive(Debug, Clone)]
pub struct Actor {
    pub viewer: Viewer,
    pub ip: Option<String>,
}

/// The user id of the command line's operator: never a stored user (ids start at 1).
const OPERATOR_ID: UserId = UserId(0);

impl Actor {
    /// Someone acting through the given credentials, from `ip`.
    pub fn new(viewer: Viewer, ip: Option<String>) -> Actor {
        Actor { viewer, ip }
    }

    /// The operator of the command line: acts with the platform admin's rights, and is audited
    /// as `cli`.
    pub fn operator() -> Actor {
        let principal = Principal {
            user_id: OPERATOR_ID,
            username: "cli".into(),
            display_name: "command line".into(),
            role: xietong_domain::Role::PlatformAdmin,
            org: None,
            region: None,
            acting_for: Vec::new(),
            scopes: xietong_domain::Scope::ALL.to_vec(),
        };
        Actor { viewer: Viewer::User(principal), ip: None }
    }

    pub fn principal(&self) -> Option<&Principal> {
        self.viewer.principal()
    }

    /// The logged-in user, or `Unauthorized`.
    pub fn user(&self) -> AppResult<&Principal> {
        self.principal().ok_or_else(|| AppError::Unauthorized("log in first".into()))
    }

    /// The actor's stored user id: `None` for anonymous callers and the command line's operator.
    pub fn stored_user_id(&self) -> Option<UserId> {
        self.principal().map(|p| p.user_id).filter(|id| *id != OPERATOR_ID)
    }

    /// An audit entry by this actor.
    pub fn audit(&self, action: &str, target: impl Into<String>, region_code: Option<String>) -> NewAudit {
        let principal = self.principal();
        NewAudit {
            actor_id: principal.map(|p| p.user_id).filter(|id| *id != OPERATOR_ID),
            actor: principal.map_or_else(|| "anonymous".to_string(), |p| p.username.clone()),
            action: action.to_string(),
            target: target.into(),
            region_code,
            ip: self.ip.clone(),
            ..NewAudit::default()
        }
    }
}

/// A stored listing, and whether the index took it in before the answer (when not, the follower
/// adds it shortly; the write itself is safe in the store).
#[derive(Debug)]
pub struct Written {
    pub listing: Listing,
    pub searchable: bool,
}

fn not_found(id: ListingId) -> AppError {
    AppError::NotFound(format!("listing {id} does not exist"))
}

pub(crate) fn load(app: &App, id: ListingId) -> AppResult<Listing> {
    match app.store.get(id) {
        Ok(listing) => Ok(listing),
        Err(StoreError::NotFound(_)) => Err(not_found(id)),
        Err(other) => Err(other.into()),
    }
}

/// Masks the contact of a listing.
pub fn mask(listing: &mut Listing) {
    if let Some(contact) = &listing.body.contact {
        listing.body.contact = Some(contact.masked());
    }
}

/// Masks the contact of a listing in a list, search result or export, unless the actor's own
/// organisation owns it. Contacts granted by a request are shown on the listing's own page.
pub fn mask_in_list(viewer: &Viewer, listing: &mut Listing) {
    if !viewer.sees_contact(&listing.body, false) {
        mask(listing);
    }
}

/// The audit entry of a write to a listing, stored in the write's transaction.
pub fn audit_entry(actor: &Actor, action: &str, listing: &Listing) -> NewAudit {
    let mut entry = actor.audit(action, listing.id.to_string(), listing.body.region_codes.first().cloned());
    entry.detail = serde_json::json!({
        "kind": listing.kind().as_str(),
        "title": listing.body.title,
        "owner_org": listing.body.owner_org,
        "status": listing.body.status.as_str(),
        "version": listing.version,
    });
    entry
}

impl App {
    /// The listing if the actor may read it (`NotFound` otherwise, so existence does not leak),
    /// with the contact masked unless the actor is entitled to it.
    pub fn read_listing(&self, actor: &Actor, id: ListingId) -> AppResult<Listing> {
        let mut listing = load(self, id)?;
        if !actor.viewer.can_read(&listing.body) {
            return Err(not_found(id));
        }
        self.reveal_or_mask(actor, &mut listing)?;
        Ok(listing)
    }

    /// Masks the contact unless the actor owns the listing or a deal on it has reached acceptance
    /// (contact requests are deals); audits the reveal in the second case.
    pub fn reveal_or_mask(&self, actor: &Actor, listing: &mut Listing) -> AppResult<()> {
        if listing.body.contact.is_none() || actor.viewer.sees_contact(&listing.body, false) {
            return Ok(());
        }
        let granted = match actor.principal() {
            Some(p) => self.deal_grants_contact(&p.orgs(), listing.id)?,
            None => false,
        };
        if granted {
            let mut entry =
                actor.audit("contact.reveal", listing.id.to_string(), listing.body.region_codes.first().cloned());
            entry.detail = serde_json::json!({"owner_org": listing.body.owner_org, "kind": listing.kind().as_str()});
            self.audit_read(entry)?;
        } else {
            mask(listing);
        }
        Ok(())
    }

    /// The listing if the actor may change it: `NotFound` when they may not even see it,
    /// `Forbidden` when they may see but not change it.
    pub fn writable_listing(&self, actor: &Actor, id: ListingId) -> AppResult<Listing> {
        let listing = load(self, id)?;
        if actor.viewer.can_write(&listing.body) {
            return Ok(listing);
        }
        if actor.viewer.can_read(&listing.body) {
            return Err(AppError::Forbidden("only the owning organisation may change this listing".into()));
        }
        Err(not_found(id))
    }

    /// Settles the owner and publication state of a body an actor wants to store:
    /// * the owner defaults to the actor's organisation; naming another is allowed only for
    ///   organisations a technology manager acts for, and for the platform admin;
    /// * publishing in a region that reviews publications puts the listing in `pending`
    ///   instead, unless the actor is the platform admin; `pending` and `rejected` can't be set
    ///   directly.
    pub fn settle_listing(
        &self,
        actor: &Actor,
        mut body: ListingBody,
        previous: Option<&ListingBody>,
    ) -> AppResult<ListingBody> {
        let principal = actor.user()?;
        let own = principal.orgs();
        match (&body.owner_org, previous) {
            (_, Some(previous)) if !principal.is_admin() => body.owner_org = previous.owner_org.clone(),
            // An update that names no owner keeps the listing's (the admin may name another).
            (None, Some(previous)) => body.owner_org = previous.owner_org.clone(),
            (None, None) => body.owner_org = principal.org.clone(),
            (Some(owner), _) if principal.is_admin() || own.contains(owner) => {}
            (Some(owner), _) => {
                return Err(AppError::Forbidden(format!(
                    "you may only publish for your own organisation ({}), not for {owner}",
                    principal.org.as_deref().unwrap_or("none")
                )));
            }
        }
        if body.owner_org.is_none() && !principal.is_admin() {
            return Err(AppError::Forbidden("your account belongs to no organisation, so it cannot publish".into()));
        }
        if matches!(body.status, Status::Pending | Status::Rejected) && !principal.is_admin() {
            // Only a review decides these; a resubmission goes back to review below.
            body.status = Status::Published;
        }
        if body.status == Status::Published && !principal.is_admin() && self.needs_review(&body)? {
            body.status = Status::Pending;
        }
        Ok(body)
    }

    /// Whether one of the body's regions lies in a region that reviews publications.
    pub fn needs_review(&self, body: &ListingBody) -> AppResult<bool> {
        let regions = self.accounts.review_regions()?;
        let reference = Reference::get();
        Ok(body.region_codes.iter().any(|code| regions.iter().any(|r| reference.region_within(code, r))))
    }

    /// Stores a new listing for the actor: owner and review state settled, the write and its
    /// audit entry in one transaction, the index synced.
    pub fn create_listing(&self, actor: &Actor, body: ListingBody) -> AppResult<Written> {
        let in_flight = self.listing_write_started();
        let body = self.settle_listing(actor, body, None)?;
        let listing =
            self.store.write_audited(ListingWrite::Create(body), &|l| audit_entry(actor, "listing.create", l))?;
        drop(in_flight);
        let searchable = self.sync_after_write();
        Ok(Written { listing, searchable })
    }

    /// Replaces a listing the actor may change (checked here, at write time) if it is still at
    /// `version`; like [`App::create_listing`] otherwise.
    pub fn update_listing(&self, actor: &Actor, id: ListingId, version: i64, body: ListingBody) -> AppResult<Written> {
        let current = self.writable_listing(actor, id)?;
        if current.kind() != body.kind() {
            return Err(AppError::BadInput {
                field: "kind".into(),
                message: format!("a listing's kind cannot change (it is {})", current.kind()),
            });
        }
        let in_flight = self.listing_write_started();
        let body = self.settle_listing(actor, body, Some(&current.body))?;
        let write = ListingWrite::Update { id, expected_version: version, body };
        let listing = self.store.write_audited(write, &|l| audit_entry(actor, "listing.update", l))?;
        drop(in_flight);
        let searchable = self.sync_after_write();
        Ok(Written { listing, searchable })
    }

    /// Archives a listing the actor may change, if it is still at `version` (when given): it
    /// stays readable by id but leaves search and matching.
    pub fn archive_listing(&self, actor: &Actor, id: ListingId, version: Option<i64>) -> AppResult<Written> {
        self.writable_listing(actor, id)?;
        let write = ListingWrite::SetStatus { id, expected_version: version, status: Status::Archived };
        let in_flight = self.listing_write_started();
        let listing = self.store.write_audited(write, &|l| audit_entry(actor, "listing.archive", l))?;
        drop(in_flight);
        let searchable = self.sync_after_write();
        Ok(Written { listing, searchable })
    }
}
