//! Object-level access shared by the API and the web pages: reading a listing (404 when the
//! caller may not see it, so existence does not leak), masking contact details, deciding the
//! owner and review state of a new listing, checking who may change one, and auditing writes.

use xietong_app::App;
use xietong_domain::{Listing, ListingBody, ListingId, Reference, Status};
use xietong_store::{ListingWrite, StoreError};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

fn not_found(id: ListingId) -> ApiError {
    ApiError::NotFound(format!("listing {id} does not exist"))
}

/// The listing if the caller may read it, with contacts masked unless the caller is entitled to
/// them. An unmasked view by anyone outside the owning organisation is audited as a reveal.
pub fn read(app: &App, caller: &Caller, id: ListingId) -> ApiResult<Listing> {
    let mut listing = match app.store.get(id) {
        Ok(listing) => listing,
        Err(StoreError::NotFound(_)) => return Err(not_found(id)),
        Err(other) => return Err(other.into()),
    };
    if !caller.viewer.can_read(&listing.body) {
        return Err(not_found(id));
    }
    reveal_or_mask(app, caller, &mut listing)?;
    Ok(listing)
}

/// Masks the contact unless the caller owns the listing or holds an accepted contact request
/// for it; audits the reveal in the second case.
pub fn reveal_or_mask(app: &App, caller: &Caller, listing: &mut Listing) -> ApiResult<()> {
    if listing.body.contact.is_none() || caller.viewer.sees_contact(&listing.body, false) {
        return Ok(());
    }
    let granted = match caller.principal() {
        Some(p) => app.accounts.contact_granted(listing.id, &p.orgs())?,
        None => false,
    };
    if granted {
        let mut entry =
            caller.audit("contact.reveal", listing.id.to_string(), listing.body.region_codes.first().cloned());
        entry.detail = serde_json::json!({"owner_org": listing.body.owner_org, "kind": listing.kind().as_str()});
        app.audit(entry);
    } else {
        mask(listing);
    }
    Ok(())
}

/// Masks the contact of a listing in a list, search result or export, unless the caller's own
/// organisation owns it. Contacts granted by a request are shown on the listing's own page.
pub fn mask_in_list(caller: &Caller, listing: &mut Listing) {
    if !caller.viewer.sees_contact(&listing.body, false) {
        mask(listing);
    }
}

fn mask(listing: &mut Listing) {
    if let Some(contact) = &listing.body.contact {
        listing.body.contact = Some(contact.masked());
    }
}

/// The listing if the caller may change it: 404 when they may not even see it, 403 when they
/// may see but not change it.
pub fn writable(app: &App, caller: &Caller, id: ListingId) -> ApiResult<Listing> {
    let listing = match app.store.get(id) {
        Ok(listing) => listing,
        Err(StoreError::NotFound(_)) => return Err(not_found(id)),
        Err(other) => return Err(other.into()),
    };
    if caller.viewer.can_write(&listing.body) {
        return Ok(listing);
    }
    if caller.viewer.can_read(&listing.body) {
        return Err(ApiError::Forbidden("only the owning organisation may change this listing".into()));
    }
    Err(not_found(id))
}

/// Settles the owner and publication state of a body a caller wants to store:
/// * the owner defaults to the caller's organisation; naming another is allowed only for
///   organisations a technology manager acts for, and for the platform admin;
/// * publishing in a region that reviews publications puts the listing in `pending` instead,
///   unless the caller is the platform admin; `pending` and `rejected` can't be set directly.
pub fn settle(
    app: &App,
    caller: &Caller,
    mut body: ListingBody,
    previous: Option<&ListingBody>,
) -> ApiResult<ListingBody> {
    let principal = caller.user()?;
    let own = principal.orgs();
    match (&body.owner_org, previous) {
        (_, Some(previous)) if !principal.is_admin() => body.owner_org = previous.owner_org.clone(),
        // An update that names no owner keeps the listing's (the admin may name another).
        (None, Some(previous)) => body.owner_org = previous.owner_org.clone(),
        (None, None) => body.owner_org = principal.org.clone(),
        (Some(owner), _) if principal.is_admin() || own.contains(owner) => {}
        (Some(owner), _) => {
            return Err(ApiError::Forbidden(format!(
                "you may only publish for your own organisation ({}), not for {owner}",
                principal.org.as_deref().unwrap_or("none")
            )));
        }
    }
    if body.owner_org.is_none() && !principal.is_admin() {
        return Err(ApiError::Forbidden("your account belongs to no organisation, so it cannot publish".into()));
    }
    if matches!(body.status, Status::Pending | Status::Rejected) && !principal.is_admin() {
        // Only a review decides these; a resubmission goes back to review below.
        body.status = Status::Published;
    }
    if body.status == Status::Published && !principal.is_admin() && needs_review(app, &body)? {
        body.status = Status::Pending;
    }
    Ok(body)
}

/// Whether one of the body's regions lies in a region that reviews publications.
pub fn needs_review(app: &App, body: &ListingBody) -> ApiResult<bool> {
    let regions = app.accounts.review_regions()?;
    let reference = Reference::get();
    Ok(body.region_codes.iter().any(|code| regions.iter().any(|r| reference.region_within(code, r))))
}

/// A stored listing, and whether the index took it in before the answer (when not, the
/// follower adds it shortly; the write itself is safe in the store).
#[derive(Debug)]
pub struct Written {
    pub listing: Listing,
    pub searchable: bool,
}

/// Stores a new listing for the caller: owner and review state settled, the write audited, the
/// index synced. The one create path of the API and the pages.
pub fn create(app: &App, caller: &Caller, body: ListingBody) -> ApiResult<Written> {
    let body = settle(app, caller, body, None)?;
    let listing = app.store.write_audited(ListingWrite::Create(body), &|l| audit_entry(caller, "listing.create", l))?;
    let searchable = app.sync_after_write();
    Ok(Written { listing, searchable })
}

/// Replaces a listing the caller may change (checked here, at write time) if it is still at
/// `version`; like [`create`] otherwise. The one update path of the API and the pages.
pub fn update(app: &App, caller: &Caller, id: ListingId, version: i64, body: ListingBody) -> ApiResult<Written> {
    let current = writable(app, caller, id)?;
    if current.kind() != body.kind() {
        return Err(ApiError::bad_param("kind", format!("a listing's kind cannot change (it is {})", current.kind())));
    }
    let body = settle(app, caller, body, Some(&current.body))?;
    let listing = app.store.write_audited(ListingWrite::Update { id, expected_version: version, body }, &|l| {
        audit_entry(caller, "listing.update", l)
    })?;
    let searchable = app.sync_after_write();
    Ok(Written { listing, searchable })
}

/// Archives a listing the caller may change, if it is still at `version` (when given).
pub fn archive(app: &App, caller: &Caller, id: ListingId, version: Option<i64>) -> ApiResult<Listing> {
    writable(app, caller, id)?;
    let write = ListingWrite::SetStatus { id, expected_version: version, status: Status::Archived };
    let listing = app.store.write_audited(write, &|l| audit_entry(caller, "listing.archive", l))?;
    app.sync_after_write();
    Ok(listing)
}

/// The audit entry of a write to a listing, stored in the write's transaction.
pub fn audit_entry(caller: &Caller, action: &str, listing: &Listing) -> xietong_store::NewAudit {
    let mut entry = caller.audit(action, listing.id.to_string(), listing.body.region_codes.first().cloned());
    entry.detail = serde_json::json!({
        "kind": listing.kind().as_str(),
        "title": listing.body.title,
        "owner_org": listing.body.owner_org,
        "status": listing.body.status.as_str(),
        "version": listing.version,
    });
    entry
}
