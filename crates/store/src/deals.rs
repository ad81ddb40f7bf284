//! Deals (对接) as the store keeps them: the deal's current state and version, its timeline of
//! events, and the technology managers brokering for each side. The rules of which event may
//! happen are `xietong_domain::deal`'s; the store only makes each step atomic.

use serde::Serialize;
use time::OffsetDateTime;
use xietong_domain::deal::{DealEvent, DealState, Side};
use xietong_domain::{ListingId, UserId};

use crate::{NewAudit, StoreError};

/// Id of a deal.
pub type DealId = i64;

/// A deal and its history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deal {
    pub id: DealId,
    pub listing_id: ListingId,
    /// The asker's own listing the deal started from, if any.
    pub from_listing_id: Option<ListingId>,
    /// The organisation that proposed the deal.
    pub asker_org: String,
    /// The organisation whose listing it is.
    pub owner_org: String,
    pub asker_user_id: UserId,
    pub message: String,
    pub state: DealState,
    /// Bumped by every event; an event names the version it was decided on.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Technology managers acting for a side.
    pub brokers: Vec<Broker>,
    /// Every event, oldest first.
    pub timeline: Vec<DealStep>,
}

/// A technology manager acting for one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broker {
    pub side: Side,
    pub user_id: UserId,
    pub username: String,
}

/// One event of a deal's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DealStep {
    pub event: DealEvent,
    pub side: Side,
    pub actor_id: Option<UserId>,
    pub actor: String,
    /// The deal's state after the event.
    pub state: DealState,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A deal to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeal {
    pub listing_id: ListingId,
    pub from_listing_id: Option<ListingId>,
    pub asker_org: String,
    pub owner_org: String,
    pub asker_user_id: UserId,
    pub message: String,
}

/// An event decided by the domain's rules, to store if the deal is still at `expected_version`.
#[derive(Debug, Clone, PartialEq)]
pub struct DealChange {
    pub deal_id: DealId,
    pub expected_version: i64,
    pub event: DealEvent,
    pub side: Side,
    pub actor_id: Option<UserId>,
    pub actor: String,
    pub state: DealState,
    /// For `appoint_broker`: the technology manager who now acts for `side`.
    pub broker: Option<(UserId, String)>,
    /// For signing a deal of type dual appointment or employment about a talent: the engagement
    /// it starts, stored in the same transaction if it fits the talent's commitments (the whole
    /// change is refused with `WrongState` if not).
    pub engagement: Option<(crate::NewEngagement, xietong_domain::engagement::State)>,
}

/// Which deals to list.
#[derive(Debug, Clone, Default)]
pub struct DealFilter {
    /// Deals these organisations ask or own (`None`: every deal, for the platform admin).
    pub orgs: Option<Vec<String>>,
    /// Also deals this user brokers.
    pub broker: Option<UserId>,
    pub state: Option<DealState>,
    /// Only deals about this listing.
    pub listing: Option<ListingId>,
}

/// Deals, their timelines and brokers.
pub trait Deals: Send + Sync {
    /// Opens a deal in `proposed` with its audit entry. `WrongState` when the pair (listing,
    /// asker) already has an open deal; `NotFound` when a listing does not exist.
    fn create_deal(&self, deal: NewDeal, audit: &dyn Fn(&Deal) -> NewAudit) -> Result<Deal, StoreError>;
    fn deal(&self, id: DealId) -> Result<Option<Deal>, StoreError>;
    /// Stores an event, the new state and its audit entry in one transaction if the deal is
    /// still at the expected version (`Conflict` otherwise: of concurrent events one wins).
    fn apply_deal_change(&self, change: DealChange, audit: &dyn Fn(&Deal) -> NewAudit) -> Result<Deal, StoreError>;
    /// Deals matching the filter, newest first.
    fn deals(&self, filter: &DealFilter, limit: u32) -> Result<Vec<Deal>, StoreError>;
}
