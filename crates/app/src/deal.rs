//! Deals (对接): proposing a deal on a listing, moving it through its states, and reading it.
//! Who may do what is `xietong_domain::deal::transition`'s; this module finds the actor's side,
//! checks who may see a deal, and stores each step with its audit entry in one transaction.

use xietong_domain::deal::{DealEvent, DealRefusal, DealState, Side, transition};
use xietong_domain::{ListingId, Principal, Role};
use xietong_store::{Deal, DealChange, DealFilter, DealId, NewDeal, StoreError};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::listing::Actor;
use crate::notify;

/// Most deals one list returns.
const DEALS_LISTED: u32 = 500;

/// Which of the actor's deals to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealSide {
    /// Deals the actor's organisations proposed.
    Asker,
    /// Deals on the actor's organisations' listings.
    Owner,
    /// Deals the actor brokers as a technology manager.
    Broker,
}

impl std::str::FromStr for DealSide {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "asker" => Ok(DealSide::Asker),
            "owner" => Ok(DealSide::Owner),
            "broker" => Ok(DealSide::Broker),
            other => Err(format!("unknown side {other:?}; use asker, owner or broker")),
        }
    }
}

/// The side the principal acts for in a deal: their own organisation's, or the one they broker.
pub fn side_of(principal: &Principal, deal: &Deal) -> Option<Side> {
    let orgs = principal.orgs();
    if orgs.contains(&deal.owner_org) {
        return Some(Side::Owner);
    }
    if orgs.contains(&deal.asker_org) {
        return Some(Side::Asker);
    }
    deal.brokers.iter().find(|b| b.user_id == principal.user_id).map(|b| b.side)
}

impl App {
    /// Proposes a deal on a listing the actor may read, for the actor's organisation, optionally
    /// from one of its own listings. `Conflict` on one's own listing or while the pair already
    /// has an open deal.
    pub fn propose_deal(
        &self,
        actor: &Actor,
        listing_id: ListingId,
        from_listing_id: Option<ListingId>,
        message: &str,
    ) -> AppResult<Deal> {
        let principal = actor.user()?;
        let listing = self.read_listing(actor, listing_id)?;
        let asker_org = principal.org.clone().ok_or_else(|| {
            AppError::Forbidden("your account belongs to no organisation, so it cannot propose deals".into())
        })?;
        let Some(owner_org) = listing.body.owner_org.clone() else {
            return Err(AppError::Conflict("this listing names no owner to propose a deal to".into()));
        };
        if principal.orgs().contains(&owner_org) {
            return Err(AppError::Conflict("this is your own organisation's listing".into()));
        }
        if let Some(from) = from_listing_id {
            let own = self
                .read_listing(actor, from)
                .map_err(|_| AppError::bad_input("from_listing_id", format!("listing {from} does not exist")))?;
            if own.body.owner_org.as_deref() != Some(asker_org.as_str()) {
                return Err(AppError::bad_input("from_listing_id", "name a listing of your own organisation"));
            }
        }
        if message.chars().count() > 2_000 {
            return Err(AppError::bad_input("message", "at most 2000 characters"));
        }
        let region = listing.body.region_codes.first().cloned();
        let new = NewDeal {
            listing_id,
            from_listing_id,
            asker_org,
            owner_org,
            asker_user_id: principal.user_id,
            message: message.trim().to_string(),
        };
        let email = self.email_notices();
        let created = self.deals.create_deal(new, &|deal| {
            let mut entry = actor.audit("deal.propose", deal.id.to_string(), region.clone());
            entry.detail = serde_json::json!({
                "listing": listing_id.to_string(), "asker_org": deal.asker_org, "owner_org": deal.owner_org,
                "state": deal.state.as_str(), "version": deal.version,
            });
            entry.notices = vec![notify::deal_proposed(deal, &listing.body.title, principal, email)];
            entry
        });
        match created {
            Err(StoreError::WrongState(detail)) => Err(AppError::Conflict(detail)),
            other => Ok(other?),
        }
    }

    /// A deal the actor may see: its parties and their brokers, the platform admin, and the
    /// operators of either party's region. `NotFound` for anyone else.
    pub fn deal(&self, actor: &Actor, id: DealId) -> AppResult<Deal> {
        let principal = actor.user()?;
        let not_found = || AppError::NotFound(format!("no deal {id}"));
        let deal = self.deals.deal(id)?.ok_or_else(not_found)?;
        if side_of(principal, &deal).is_some()
            || principal.is_admin()
            || self.operates_party_region(principal, &deal)?
        {
            Ok(deal)
        } else {
            Err(not_found())
        }
    }

    fn operates_party_region(&self, principal: &Principal, deal: &Deal) -> AppResult<bool> {
        if principal.role != Role::RegionOperator {
            return Ok(false);
        }
        let mut regions: Vec<String> = match self.store.get(deal.listing_id) {
            Ok(listing) => listing.body.region_codes,
            Err(StoreError::NotFound(_)) => Vec::new(),
            Err(other) => return Err(other.into()),
        };
        for org in [&deal.asker_org, &deal.owner_org] {
            if let Some(org) = self.accounts.org_by_name(org)? {
                regions.push(org.region_code);
            }
        }
        Ok(regions.iter().any(|code| principal.operates_region(code)))
    }

    /// Moves a deal by one event decided on `version`. `Forbidden` for someone acting for
    /// neither side (or the asker accepting), `Conflict` for an event the state does not allow
    /// or a stale version (of concurrent events exactly one wins).
    pub fn deal_event(&self, actor: &Actor, id: DealId, version: i64, event: DealEvent) -> AppResult<Deal> {
        let principal = actor.user()?;
        let deal = self.deal(actor, id)?;
        let side = side_of(principal, &deal);
        let state = transition(deal.state, &event, side).map_err(|refusal| match refusal {
            DealRefusal::NotAParty | DealRefusal::OwnerOnly { .. } => AppError::Forbidden(refusal.to_string()),
            DealRefusal::NotAllowed { .. } => AppError::Conflict(refusal.to_string()),
        })?;
        let side = side.expect("a refusal when the actor has no side");
        let broker = match &event {
            DealEvent::AppointBroker { username } => {
                let user = self
                    .accounts
                    .user_by_name(username)?
                    .filter(|u| u.role == Role::TechManager && !u.disabled)
                    .ok_or_else(|| {
                        AppError::bad_input("username", format!("{username:?} is not a technology manager"))
                    })?;
                Some((user.id, user.username))
            }
            _ => None,
        };
        if let DealEvent::Meeting { place, .. } | DealEvent::Close { reason: place } = &event
            && place.trim().is_empty()
        {
            return Err(AppError::bad_input(
                if matches!(event, DealEvent::Meeting { .. }) { "place" } else { "reason" },
                "must not be empty",
            ));
        }
        let change = DealChange {
            deal_id: id,
            expected_version: version,
            event: event.clone(),
            side,
            actor_id: Some(principal.user_id),
            actor: principal.username.clone(),
            state,
            broker,
        };
        let listing = self.store.get(deal.listing_id).ok();
        let region = listing.as_ref().and_then(|l| l.body.region_codes.first().cloned());
        let title = listing.map_or_else(|| deal.listing_id.to_string(), |l| l.body.title);
        let email = self.email_notices();
        let moved = self.deals.apply_deal_change(change, &|moved| {
            let mut entry = actor.audit(&format!("deal.{}", event.name()), id.to_string(), region.clone());
            entry.detail = serde_json::json!({"event": event, "state": moved.state.as_str(), "version": moved.version});
            entry.notices = vec![notify::deal_moved(moved, &event, side, &title, principal, email)];
            entry
        });
        match moved {
            Err(error @ StoreError::Stale { .. }) => Err(AppError::Conflict(error.to_string())),
            other => Ok(other?),
        }
    }

    /// The actor's deals, newest first: those of their organisations and those they broker
    /// (all deals for the platform admin), optionally one side and one state.
    pub fn deals(&self, actor: &Actor, state: Option<DealState>, side: Option<DealSide>) -> AppResult<Vec<Deal>> {
        let principal = actor.user()?;
        let orgs = principal.orgs();
        let filter = match side {
            None if principal.is_admin() => DealFilter { orgs: None, broker: None, state },
            None => DealFilter { orgs: Some(orgs.clone()), broker: Some(principal.user_id), state },
            Some(DealSide::Broker) => DealFilter { orgs: Some(Vec::new()), broker: Some(principal.user_id), state },
            Some(DealSide::Asker | DealSide::Owner) => DealFilter { orgs: Some(orgs.clone()), broker: None, state },
        };
        let mut deals = self.deals.deals(&filter, DEALS_LISTED)?;
        match side {
            Some(DealSide::Asker) => deals.retain(|d| orgs.contains(&d.asker_org)),
            Some(DealSide::Owner) => deals.retain(|d| orgs.contains(&d.owner_org)),
            _ => {}
        }
        Ok(deals)
    }

    /// Whether a deal in a revealing state lets the actor's organisations see the contact of
    /// `listing`: as the asker of a deal on it, or as the owner of a deal proposed from it.
    pub(crate) fn deal_grants_contact(&self, orgs: &[String], listing: ListingId) -> AppResult<bool> {
        if orgs.is_empty() {
            return Ok(false);
        }
        let filter = DealFilter { orgs: Some(orgs.to_vec()), broker: None, state: None };
        Ok(self.deals.deals(&filter, DEALS_LISTED)?.iter().any(|deal| {
            deal.state.reveals_contacts()
                && ((deal.listing_id == listing && orgs.contains(&deal.asker_org))
                    || (deal.from_listing_id == Some(listing) && orgs.contains(&deal.owner_org)))
        }))
    }
}
