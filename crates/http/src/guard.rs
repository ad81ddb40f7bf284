//! The HTTP side of the listing use cases in `xietong_app::listing`: the caller becomes an
//! [`Actor`], errors become problems. The rules themselves (who may read, change or publish
//! for whom, review state, audit in the write's transaction) live in the app layer.

use xietong_app::App;
use xietong_app::listing::{self, Actor};
use xietong_domain::{Listing, ListingBody, ListingId};

pub use xietong_app::Written;

use crate::auth::Caller;
use crate::error::ApiResult;

impl Caller {
    /// The caller as the app layer's actor.
    pub fn actor(&self) -> Actor {
        Actor { viewer: self.viewer.clone(), ip: self.ip.clone() }
    }
}

/// The listing if the caller may read it (404 otherwise), contacts masked unless entitled.
pub fn read(app: &App, caller: &Caller, id: ListingId) -> ApiResult<Listing> {
    Ok(app.read_listing(&caller.actor(), id)?)
}

/// Masks the contact of a listing in a list, search result or export, unless the caller's own
/// organisation owns it.
pub fn mask_in_list(caller: &Caller, listing: &mut Listing) {
    listing::mask_in_list(&caller.viewer, listing);
}

/// The listing if the caller may change it: 404 when they may not even see it, 403 when they
/// may see but not change it.
pub fn writable(app: &App, caller: &Caller, id: ListingId) -> ApiResult<Listing> {
    Ok(app.writable_listing(&caller.actor(), id)?)
}

/// Stores a new listing for the caller (see [`App::create_listing`]).
pub fn create(app: &App, caller: &Caller, body: ListingBody) -> ApiResult<Written> {
    Ok(app.create_listing(&caller.actor(), body)?)
}

/// Replaces a listing the caller may change (see [`App::update_listing`]).
pub fn update(app: &App, caller: &Caller, id: ListingId, version: i64, body: ListingBody) -> ApiResult<Written> {
    Ok(app.update_listing(&caller.actor(), id, version, body)?)
}

/// Archives a listing the caller may change (see [`App::archive_listing`]).
pub fn archive(app: &App, caller: &Caller, id: ListingId, version: Option<i64>) -> ApiResult<Listing> {
    Ok(app.archive_listing(&caller.actor(), id, version)?.listing)
}
