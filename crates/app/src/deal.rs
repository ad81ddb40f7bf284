//! Deals (对接): proposing a deal on a listing, moving it through its states, and reading it.
//! Who may do what is `xietong_domain::deal::transition`'s; this module finds the actor's side,
//! checks who may see a deal, and stores each step with its audit entry in one transaction.

use xietong_domain::deal::{DealEvent, DealRefusal, DealState, Side, transition};
use xietong_domain::{ListingId, Principal, Reference, Role};
use xietong_store::{Deal, DealChange, DealFilter, DealId, NewDeal, StoreError, User};

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
        // Nobody represents the owner: its region's handlers hear of the proposal instead.
        let handlers: Vec<_> =
            self.owner_handlers(&new.owner_org, listing_id)?.into_iter().map(|h| h.user_id).collect();
        let created = self.deals.create_deal(new, &|deal| {
            let mut entry = actor.audit("deal.propose", deal.id.to_string(), region.clone());
            entry.detail = serde_json::json!({
                "listing": listing_id.to_string(), "asker_org": deal.asker_org, "owner_org": deal.owner_org,
                "state": deal.state.as_str(), "version": deal.version,
            });
            let mut notice = notify::deal_proposed(deal, &listing.body.title, principal, email);
            notice.to_users.extend(&handlers);
            entry.notices = vec![notice];
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
        Ok(self.visible_deal(actor.user()?, id)?.0)
    }

    /// [`App::deal`] with the deal's handlers ([`App::deal_handlers`]), who may see it too.
    fn visible_deal(&self, principal: &Principal, id: DealId) -> AppResult<(Deal, Vec<Handler>)> {
        let not_found = || AppError::NotFound(format!("no deal {id}"));
        let deal = self.deals.deal(id)?.ok_or_else(not_found)?;
        let handlers = self.deal_handlers(&deal)?;
        if side_of(principal, &deal).is_some()
            || principal.is_admin()
            || handlers.iter().any(|h| h.user_id == principal.user_id)
            || self.operates_party_region(principal, &deal)?
        {
            Ok((deal, handlers))
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
        // Someone acting for an owner nobody represents is recorded in the audit entry; the
        // handlers hear of every step.
        let (deal, owner_handlers) = self.visible_deal(principal, id)?;
        let mut side = side_of(principal, &deal);
        let mut acting_for_owner = false;
        if side.is_none() && owner_handlers.iter().any(|h| h.user_id == principal.user_id) {
            side = Some(Side::Owner);
            acting_for_owner = true;
        }
        let handlers: Vec<_> = owner_handlers.iter().map(|h| h.user_id).collect();
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
        let engagement = self.engagement_of_signing(&deal, &event, side, &principal.username)?;
        let engaged = engagement.is_some();
        let change = DealChange {
            deal_id: id,
            expected_version: version,
            event: event.clone(),
            side,
            actor_id: Some(principal.user_id),
            actor: principal.username.clone(),
            state,
            broker,
            engagement,
        };
        let listing = self.store.get(deal.listing_id).ok();
        let region = listing.as_ref().and_then(|l| l.body.region_codes.first().cloned());
        let title = listing.map_or_else(|| deal.listing_id.to_string(), |l| l.body.title);
        let email = self.email_notices();
        let moved = self.deals.apply_deal_change(change, &|moved| {
            let mut entry = actor.audit(&format!("deal.{}", event.name()), id.to_string(), region.clone());
            entry.detail = serde_json::json!({"event": event, "state": moved.state.as_str(), "version": moved.version});
            if engaged {
                entry.detail["engagement"] = serde_json::json!(true);
            }
            if acting_for_owner {
                entry.detail["acting_for"] = serde_json::json!({
                    "org": moved.owner_org, "as": principal.role.as_str(), "reason": "organisation_unrepresented",
                });
            }
            let mut notice = notify::deal_moved(moved, &event, side, &title, principal, email);
            notice.to_users.extend(&handlers);
            entry.notices = vec![notice];
            entry
        });
        match moved {
            Err(error @ (StoreError::Stale { .. } | StoreError::WrongState(_))) => {
                Err(AppError::Conflict(error.to_string()))
            }
            other => Ok(other?),
        }
    }

    /// The actor's deals, newest first: those of their organisations and those they broker
    /// (all deals for the platform admin), optionally one side and one state.
    pub fn deals(&self, actor: &Actor, state: Option<DealState>, side: Option<DealSide>) -> AppResult<Vec<Deal>> {
        let principal = actor.user()?;
        let orgs = principal.orgs();
        let filter = match side {
            None if principal.is_admin() => DealFilter { orgs: None, broker: None, state, listing: None },
            None => DealFilter { orgs: Some(orgs.clone()), broker: Some(principal.user_id), state, listing: None },
            Some(DealSide::Broker) => {
                DealFilter { orgs: Some(Vec::new()), broker: Some(principal.user_id), state, listing: None }
            }
            Some(DealSide::Asker | DealSide::Owner) => {
                DealFilter { orgs: Some(orgs.clone()), broker: None, state, listing: None }
            }
        };
        let mut deals = self.deals.deals(&filter, DEALS_LISTED)?;
        match side {
            Some(DealSide::Asker) => deals.retain(|d| orgs.contains(&d.asker_org)),
            Some(DealSide::Owner) => deals.retain(|d| orgs.contains(&d.owner_org)),
            _ => {}
        }
        if side.is_none() && matches!(principal.role, Role::RegionOperator | Role::TechManager) {
            // Deals this operator or technology manager handles for owners nobody represents.
            let every = DealFilter { state, ..DealFilter::default() };
            let known: std::collections::HashSet<DealId> = deals.iter().map(|d| d.id).collect();
            let candidates = self.deals.deals(&every, DEALS_LISTED)?;
            let handlers = self.deals_handlers(&candidates)?;
            for (deal, handlers) in candidates.into_iter().zip(handlers) {
                if !known.contains(&deal.id) && handlers.iter().any(|h| h.user_id == principal.user_id) {
                    deals.push(deal);
                }
            }
            deals.sort_by_key(|d| std::cmp::Reverse(d.id));
        }
        Ok(deals)
    }

    /// Whether a deal in a revealing state lets the actor's organisations see the contact of
    /// `listing`: as the asker of a deal on it, or as the owner of a deal proposed from it.
    pub(crate) fn deal_grants_contact(&self, orgs: &[String], listing: ListingId) -> AppResult<bool> {
        if orgs.is_empty() {
            return Ok(false);
        }
        let filter = DealFilter { orgs: Some(orgs.to_vec()), ..DealFilter::default() };
        Ok(self.deals.deals(&filter, DEALS_LISTED)?.iter().any(|deal| {
            deal.state.reveals_contacts()
                && ((deal.listing_id == listing && orgs.contains(&deal.asker_org))
                    || (deal.from_listing_id == Some(listing) && orgs.contains(&deal.owner_org)))
        }))
    }

    /// Who acts for the owner of a deal when nobody represents the owner's organisation on the
    /// platform (most organisations arrive as names in imported spreadsheets): the operators of
    /// the listing's regions and the technology managers of the same provinces. Empty when the
    /// owner is represented. The asker sees these names on the deal.
    pub fn deal_handlers(&self, deal: &Deal) -> AppResult<Vec<Handler>> {
        self.owner_handlers(&deal.owner_org, deal.listing_id)
    }

    /// [`App::deal_handlers`] of a deal `owner_org` would own on `listing_id`.
    fn owner_handlers(&self, owner_org: &str, listing_id: ListingId) -> AppResult<Vec<Handler>> {
        if !self.claims.represented_orgs(&[owner_org.to_string()])?.is_empty() {
            return Ok(Vec::new());
        }
        self.handlers_among(&self.accounts.users()?, owner_org, listing_id)
    }

    /// Of `users`, the operators and technology managers who handle a deal with the
    /// (unrepresented) `owner_org` on `listing_id`.
    fn handlers_among(&self, users: &[User], owner_org: &str, listing_id: ListingId) -> AppResult<Vec<Handler>> {
        let regions = self.listing_regions(owner_org, listing_id)?;
        let reference = Reference::get();
        let provinces: Vec<String> =
            regions.iter().filter_map(|code| reference.province_of(code)).map(|p| p.code.clone()).collect();
        let mut handlers = Vec::new();
        for user in users {
            if user.disabled {
                continue;
            }
            let handles = match user.role {
                Role::RegionOperator => user
                    .region_code
                    .as_deref()
                    .is_some_and(|operated| regions.iter().any(|code| reference.region_within(code, operated))),
                Role::TechManager => {
                    let home = match (&user.region_code, user.org_id) {
                        (Some(code), _) => Some(code.clone()),
                        (None, Some(org)) => self.accounts.org(org)?.map(|o| o.region_code),
                        (None, None) => None,
                    };
                    home.and_then(|code| reference.province_of(&code).map(|p| p.code.clone()))
                        .is_some_and(|province| provinces.contains(&province))
                }
                _ => false,
            };
            if handles {
                handlers.push(Handler {
                    user_id: user.id,
                    username: user.username.clone(),
                    display_name: user.display_name.clone(),
                    role: user.role,
                });
            }
        }
        Ok(handlers)
    }

    /// [`App::deal_handlers`] of several deals, asking once which owners are represented and
    /// reading the users once.
    pub fn deals_handlers(&self, deals: &[Deal]) -> AppResult<Vec<Vec<Handler>>> {
        let owners: std::collections::BTreeSet<String> = deals.iter().map(|d| d.owner_org.clone()).collect();
        let owners: Vec<String> = owners.into_iter().collect();
        let represented: std::collections::HashSet<String> =
            self.claims.represented_orgs(&owners)?.into_iter().collect();
        if deals.iter().all(|deal| represented.contains(&deal.owner_org)) {
            return Ok(vec![Vec::new(); deals.len()]);
        }
        let users = self.accounts.users()?;
        deals
            .iter()
            .map(|deal| {
                if represented.contains(&deal.owner_org) {
                    Ok(Vec::new())
                } else {
                    self.handlers_among(&users, &deal.owner_org, deal.listing_id)
                }
            })
            .collect()
    }

    /// The regions of a deal's listing, or the owner organisation's region when the listing
    /// names none.
    fn listing_regions(&self, owner_org: &str, listing_id: ListingId) -> AppResult<Vec<String>> {
        let mut regions = match self.store.get(listing_id) {
            Ok(listing) => listing.body.region_codes,
            Err(StoreError::NotFound(_)) => Vec::new(),
            Err(other) => return Err(other.into()),
        };
        if regions.is_empty()
            && let Some(org) = self.accounts.org_by_name(owner_org)?
        {
            regions.push(org.region_code);
        }
        Ok(regions)
    }
}

/// The side the principal acts for in a deal: a party's (or a broker's), or the owner's when
/// they are among the deal's `handlers` (see [`App::deal_handlers`]).
pub fn acting_side(principal: Option<&Principal>, deal: &Deal, handlers: &[Handler]) -> Option<Side> {
    let principal = principal?;
    side_of(principal, deal).or_else(|| handlers.iter().any(|h| h.user_id == principal.user_id).then_some(Side::Owner))
}

/// Someone who acts for an owner organisation nobody represents.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Handler {
    #[serde(skip)]
    pub user_id: xietong_domain::UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
}
