//! Bookable facilities: calendars, availability, bookings and their events, clearances,
//! innovation vouchers (创新券) and utilisation. Who may do what is
//! `xietong_domain::booking::transition`'s; the capacity rule runs inside the store's
//! transaction (`Bookings::create_booking`), never as a check here followed by a write.
//!
//! A facility's operators are the members of its owner organisation (and technology managers
//! acting for it), the region operators of its regions and the platform admin.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use xietong_domain::booking::{
    self, Acting, BookingEvent, BookingRefusal, BookingState, Calendar, HOUR_MS, Held, Request, RequestRefusal,
    check_request, first_full_slot, to_ms,
};
use xietong_domain::voucher::{VoucherRefusal, accepts, wan_to_fen};
use xietong_domain::{Kind, Listing, ListingId, OrgId, OrgKind, Principal, Reference, Role};
use xietong_store::{
    Booking, BookingChange, BookingFilter, BookingId, Clearance, FacilityCalendar, LedgerEntry, NewBooking, NewVoucher,
    StoreError, Voucher, VoucherId,
};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::listing::Actor;

/// Most bookings one list returns.
const BOOKINGS_LISTED: u32 = 2_000;
/// Longest availability range, in days.
pub const MAX_AVAILABILITY_DAYS: i64 = 62;
/// How far ahead matching looks for a free window.
pub const MATCH_HORIZON_DAYS: i64 = 90;

/// A booking as asked for through the API or the facility page.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingRequest {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub quantity: u32,
    pub purpose: String,
    pub voucher_id: Option<VoucherId>,
    pub waitlist: bool,
}

/// One slot of a facility's availability.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Slot {
    #[serde(serialize_with = "booking::serialize_ms")]
    pub start: i64,
    #[serde(serialize_with = "booking::serialize_ms")]
    pub end: i64,
    pub capacity: u32,
    /// Units requested or approved.
    pub booked: u32,
    pub free: u32,
}

/// Free capacity per open slot of a date range.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Availability {
    pub facility_id: ListingId,
    pub unit: booking::Unit,
    pub capacity: u32,
    pub price_per_unit: f64,
    pub requires_clearance: bool,
    /// Open slots only (closed hours and closures are left out).
    pub slots: Vec<Slot>,
}

/// A voucher to issue, as `POST /api/v1/vouchers` carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct VoucherInput {
    /// The organisation's id or exact name.
    pub organisation: String,
    /// In 万元.
    pub amount: f64,
    pub issuing_region: String,
    pub accepted_regions: Vec<String>,
    /// A date (valid through that day, Beijing time) or an RFC 3339 instant.
    pub valid_until: String,
}

/// How utilisation figures are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UtilisationBy {
    Facility,
    Region,
    Month,
}

impl std::str::FromStr for UtilisationBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "facility" => Ok(UtilisationBy::Facility),
            "region" => Ok(UtilisationBy::Region),
            "month" => Ok(UtilisationBy::Month),
            other => Err(format!("unknown grouping {other:?}; use facility, region or month")),
        }
    }
}

/// Units of one group: open capacity, booked (approved, completed, no-show) and used
/// (completed).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UtilisationRow {
    /// A facility id, a province code or a month `YYYY-MM`.
    pub key: String,
    pub label: String,
    pub open_units: u64,
    pub booked_units: u64,
    pub used_units: u64,
    /// booked ÷ open (0 when nothing is open).
    pub utilisation: f64,
}

/// Voucher money spent, from the issuing region to the facility's region (provinces).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VoucherSpending {
    pub issuing_region: String,
    pub spending_region: String,
    pub issuing_region_name: String,
    pub spending_region_name: String,
    /// In 万元.
    pub spent: f64,
}

/// Utilisation of the bookable facilities the actor may read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Utilisation {
    pub by: &'static str,
    pub from: String,
    pub to: String,
    pub rows: Vec<UtilisationRow>,
    pub voucher_spending: Vec<VoucherSpending>,
}

/// A facility's next free window and price, for matching.
#[derive(Debug, Clone, PartialEq)]
pub struct FreeWindow {
    /// Start of the first open slot with free capacity in the next 90 days (`None`: fully
    /// booked).
    pub next_free: Option<i64>,
    pub unit: booking::Unit,
    pub price_per_unit: f64,
}

/// A facility's approved bookings for its iCalendar feed.
#[derive(Debug, Clone)]
pub struct FacilityFeed {
    pub facility: Listing,
    pub bookings: Vec<Booking>,
    /// Whether the caller may see who booked.
    pub show_booker: bool,
}

fn now_ms() -> i64 {
    to_ms(OffsetDateTime::now_utc())
}

/// The refusal of a request that does not fit the calendar.
fn request_error(refusal: RequestRefusal) -> AppError {
    match refusal {
        RequestRefusal::Invalid { field, message } => AppError::bad_input(field, message),
        other => AppError::Conflict(other.to_string()),
    }
}

fn store_conflict(error: StoreError) -> AppError {
    match error {
        StoreError::WrongState(_) | StoreError::Stale { .. } => AppError::Conflict(error.to_string()),
        other => other.into(),
    }
}

impl App {
    /// A facility listing the actor may read (`NotFound` otherwise, and for other kinds).
    fn readable_facility(&self, actor: &Actor, id: ListingId) -> AppResult<Listing> {
        let not_found = || AppError::NotFound(format!("no facility {id}"));
        let listing = match self.store.get(id) {
            Ok(listing) => listing,
            Err(StoreError::NotFound(_)) => return Err(not_found()),
            Err(other) => return Err(other.into()),
        };
        if listing.kind() != Kind::Facility || !actor.viewer.can_read(&listing.body) {
            return Err(not_found());
        }
        Ok(listing)
    }

    /// Whether the principal operates the facility.
    pub fn operates_facility(principal: &Principal, facility: &Listing) -> bool {
        principal.is_admin()
            || facility.body.owner_org.as_ref().is_some_and(|owner| principal.orgs().contains(owner))
            || (principal.role == Role::RegionOperator
                && facility.body.region_codes.iter().any(|code| principal.operates_region(code)))
    }

    fn operated_facility<'a>(&self, actor: &'a Actor, id: ListingId) -> AppResult<(Listing, &'a Principal)> {
        let principal = actor.user()?;
        let facility = self.readable_facility(actor, id)?;
        if !Self::operates_facility(principal, &facility) {
            return Err(AppError::Forbidden("only the facility's operator may do this".into()));
        }
        Ok((facility, principal))
    }

    /// Sets a facility's booking calendar (its operator).
    pub fn set_calendar(&self, actor: &Actor, id: ListingId, calendar: Calendar) -> AppResult<FacilityCalendar> {
        let (facility, _) = self.operated_facility(actor, id)?;
        if let Err(problems) = calendar.check() {
            let (field, message) = problems.into_iter().next().expect("a refusal names a problem");
            return Err(AppError::bad_input(field, message));
        }
        let region = facility.body.region_codes.first().cloned();
        Ok(self.bookings.set_calendar(id, &calendar, &|stored| {
            let mut entry = actor.audit("facility.calendar", id.to_string(), region.clone());
            entry.detail = serde_json::json!({"unit": stored.calendar.unit.as_str(), "capacity": stored.calendar.capacity, "version": stored.version});
            entry
        })?)
    }

    /// A facility's calendar, for whoever may read the facility (`None`: not bookable).
    pub fn facility_calendar(&self, actor: &Actor, id: ListingId) -> AppResult<Option<FacilityCalendar>> {
        self.readable_facility(actor, id)?;
        Ok(self.bookings.calendar(id)?)
    }

    fn bookable(&self, id: ListingId) -> AppResult<FacilityCalendar> {
        self.bookings.calendar(id)?.ok_or_else(|| {
            AppError::Conflict(format!("facility {id} has no booking calendar: it cannot be booked yet"))
        })
    }

    /// Free capacity per open slot from `from` to `to` (Beijing dates, both included).
    pub fn availability(
        &self,
        actor: &Actor,
        id: ListingId,
        from: time::Date,
        to: time::Date,
    ) -> AppResult<Availability> {
        self.readable_facility(actor, id)?;
        if to < from {
            return Err(AppError::bad_input("to", "must not be before from"));
        }
        if (to - from).whole_days() >= MAX_AVAILABILITY_DAYS {
            return Err(AppError::bad_input("to", format!("at most {MAX_AVAILABILITY_DAYS} days from from")));
        }
        let calendar = self.bookable(id)?.calendar;
        let start = booking::day_start(from);
        let end = booking::day_start(to) + booking::DAY_MS;
        let held = self.held(id, start, end)?;
        Ok(Availability {
            facility_id: id,
            unit: calendar.unit,
            capacity: calendar.capacity,
            price_per_unit: calendar.price_per_unit,
            requires_clearance: calendar.requires_clearance,
            slots: open_slots(&calendar, &held, start, end),
        })
    }

    fn held(&self, id: ListingId, start: i64, end: i64) -> AppResult<Vec<Held>> {
        let filter = BookingFilter {
            facilities: Some(vec![id]),
            states: Some(vec![BookingState::Requested, BookingState::Approved]),
            window: Some((start, end)),
            ..BookingFilter::default()
        };
        Ok(self
            .bookings
            .bookings(&filter, u32::MAX)?
            .iter()
            .map(|b| Held { start: b.start, end: b.end, quantity: b.quantity })
            .collect())
    }

    /// Books a facility for the actor: checked against the calendar (grid, length, lead time,
    /// opening hours, closures), the clearance and the voucher here, against capacity in the
    /// store's transaction. A full slot is a `Conflict` naming it, unless `waitlist`.
    pub fn request_booking(&self, actor: &Actor, id: ListingId, request: BookingRequest) -> AppResult<Booking> {
        let principal = actor.user()?;
        let facility = self.readable_facility(actor, id)?;
        let calendar = self.bookable(id)?.calendar;
        if request.purpose.chars().count() > 2_000 {
            return Err(AppError::bad_input("purpose", "at most 2000 characters"));
        }
        let wanted = Request { start: to_ms(request.start), end: to_ms(request.end), quantity: request.quantity };
        let now = now_ms();
        let units = check_request(&calendar, wanted, now).map_err(request_error)?;
        let operator = Self::operates_facility(principal, &facility);
        if calendar.requires_clearance && !operator {
            let clearance = self.bookings.clearance(id, principal.user_id)?;
            match clearance {
                Some(c) if c.valid_until >= wanted.end => {}
                Some(c) => {
                    return Err(AppError::Forbidden(format!(
                        "your clearance for this facility ends {}, before the booking does",
                        booking::fmt_beijing(c.valid_until)
                    )));
                }
                None => {
                    return Err(AppError::Forbidden(
                        "this facility requires a clearance (安全准入): ask its operator to grant you one".into(),
                    ));
                }
            }
        }
        if let Some(voucher_id) = request.voucher_id {
            let voucher = self
                .bookings
                .voucher(voucher_id)?
                .ok_or_else(|| AppError::bad_input("voucher_id", format!("no voucher {voucher_id}")))?;
            self.voucher_usable(principal, &voucher, &facility, now)?;
        }
        let charge_fen = calendar.charge_fen(units, wanted.quantity);
        let new = NewBooking {
            facility_id: id,
            booker_id: principal.user_id,
            booker: principal.username.clone(),
            booker_org: principal.org.clone(),
            request: wanted,
            units,
            purpose: request.purpose.trim().to_string(),
            charge_fen,
            voucher_id: request.voucher_id,
            waitlist: request.waitlist,
        };
        let region = facility.body.region_codes.first().cloned();
        let email = self.email_notices();
        let title = facility.body.title.clone();
        let owner = facility.body.owner_org.clone();
        let created = self.bookings.create_booking(new, &|stored| {
            let mut entry =
                actor.audit(&format!("booking.{}", stored.state.as_str()), stored.id.to_string(), region.clone());
            entry.detail = booking_detail(stored);
            entry.notices = owner
                .iter()
                .map(|owner| crate::notify::booking_requested(stored, &title, owner, principal, email))
                .collect();
            entry
        });
        created.map_err(store_conflict)
    }

    fn voucher_usable(&self, principal: &Principal, voucher: &Voucher, facility: &Listing, now: i64) -> AppResult<()> {
        let refusal = if principal.org.as_deref() != Some(voucher.organisation.as_str()) {
            Some(VoucherRefusal::NotYours { id: voucher.id, owner: voucher.organisation.clone() })
        } else if voucher.valid_until < now {
            Some(VoucherRefusal::Expired { id: voucher.id, valid_until: booking::fmt_beijing(voucher.valid_until) })
        } else if !accepts(&voucher.accepted_regions, &facility.body.region_codes) {
            Some(VoucherRefusal::WrongRegion {
                id: voucher.id,
                accepted: voucher.accepted_regions.join(", "),
                facility: facility.body.region_codes.join(", "),
            })
        } else {
            None
        };
        match refusal {
            None => Ok(()),
            Some(refusal @ VoucherRefusal::NotYours { .. }) => Err(AppError::Forbidden(refusal.to_string())),
            Some(refusal) => Err(AppError::Conflict(refusal.to_string())),
        }
    }

    /// A booking the actor may see (its booker and organisation, the facility's operators),
    /// with the facility.
    pub fn booking(&self, actor: &Actor, id: BookingId) -> AppResult<(Booking, Listing)> {
        let principal = actor.user()?;
        let not_found = || AppError::NotFound(format!("no booking {id}"));
        let booking = self.bookings.booking(id)?.ok_or_else(not_found)?;
        let facility = self.store.get(booking.facility_id).map_err(|_| not_found())?;
        if acting(principal, &booking, &facility) == Acting::default() {
            return Err(not_found());
        }
        Ok((booking, facility))
    }

    /// Moves a booking by one event (decided on `version` when given). `Forbidden` for an
    /// event the actor may not send, `Conflict` for one the state does not allow, a stale
    /// version, or a reschedule into a full or closed slot.
    pub fn booking_event(
        &self,
        actor: &Actor,
        id: BookingId,
        version: Option<i64>,
        event: BookingEvent,
    ) -> AppResult<Booking> {
        let principal = actor.user()?;
        let (before, facility) = self.booking(actor, id)?;
        let who = acting(principal, &before, &facility);
        let state = booking::transition(before.state, &event, who).map_err(|refusal| match refusal {
            BookingRefusal::NotPermitted { .. } => AppError::Forbidden(refusal.to_string()),
            BookingRefusal::NotAllowed { .. } => AppError::Conflict(refusal.to_string()),
        })?;
        let calendar = self.bookable(before.facility_id)?.calendar;
        let now = now_ms();
        let mut reschedule = None;
        let mut charged = false;
        match &event {
            BookingEvent::Decline { reason } if reason.trim().is_empty() => {
                return Err(AppError::bad_input("reason", "say why the booking is declined"));
            }
            BookingEvent::Reschedule { start, end } => {
                let wanted = Request { start: to_ms(*start), end: to_ms(*end), quantity: before.quantity };
                let units = check_request(&calendar, wanted, now).map_err(request_error)?;
                if units != before.units {
                    return Err(AppError::bad_input(
                        "end",
                        format!(
                            "a reschedule keeps the booking's length of {} {}s",
                            before.units,
                            calendar.unit.as_str()
                        ),
                    ));
                }
                reschedule = Some((wanted.start, wanted.end));
            }
            BookingEvent::Cancel { .. } => {
                charged =
                    booking::cancellation_charged(before.state, before.start, now, calendar.free_cancellation_hours);
            }
            _ => {}
        }
        let change = BookingChange {
            booking_id: id,
            expected_version: version.unwrap_or(before.version),
            event: event.clone(),
            actor: principal.username.clone(),
            state,
            voucher: booking::voucher_move(before.state, state, charged),
            charged,
            reschedule,
        };
        let region = facility.body.region_codes.first().cloned();
        let email = self.email_notices();
        let title = facility.body.title.clone();
        let moved = self.bookings.apply_booking_change(
            change,
            &|stored| {
                let mut entry = actor.audit(&format!("booking.{}", event.name()), id.to_string(), region.clone());
                entry.detail = booking_detail(stored);
                entry.detail["event"] = serde_json::to_value(&event).unwrap_or_default();
                entry.notices = vec![crate::notify::booking_moved(stored, event.name(), &title, principal, email)];
                entry
            },
            &|promoted| {
                let mut entry = actor.audit("booking.promote", promoted.id.to_string(), region.clone());
                entry.detail = booking_detail(promoted);
                entry.notices = vec![crate::notify::booking_moved(promoted, "promote", &title, principal, email)];
                entry
            },
        );
        moved.map_err(store_conflict)
    }

    /// The actor's own bookings, by start.
    pub fn my_bookings(&self, actor: &Actor) -> AppResult<Vec<Booking>> {
        let principal = actor.user()?;
        let filter = BookingFilter { booker: Some(principal.user_id), ..BookingFilter::default() };
        Ok(self.bookings.bookings(&filter, BOOKINGS_LISTED)?)
    }

    /// The facilities with a calendar that the actor operates.
    pub fn operated_facilities(&self, actor: &Actor) -> AppResult<Vec<Listing>> {
        let principal = actor.user()?;
        let ids: Vec<ListingId> = self.bookings.calendars()?.into_iter().map(|c| c.facility_id).collect();
        Ok(self.store.get_many(&ids)?.into_iter().filter(|f| Self::operates_facility(principal, f)).collect())
    }

    /// The operator's approval queue: requested and waitlisted bookings of the facilities the
    /// actor operates, by start.
    pub fn approval_queue(&self, actor: &Actor) -> AppResult<Vec<(Booking, Listing)>> {
        self.operated_bookings(actor, &[BookingState::Requested, BookingState::Waitlisted])
    }

    /// Bookings in `states` of the facilities the actor operates, with their facility, by start
    /// (the queue page also lists approved ones, to complete or mark as no-shows).
    pub fn operated_bookings(&self, actor: &Actor, states: &[BookingState]) -> AppResult<Vec<(Booking, Listing)>> {
        let facilities = self.operated_facilities(actor)?;
        let filter = BookingFilter {
            facilities: Some(facilities.iter().map(|f| f.id).collect()),
            states: Some(states.to_vec()),
            ..BookingFilter::default()
        };
        let by_id: BTreeMap<ListingId, Listing> = facilities.into_iter().map(|f| (f.id, f)).collect();
        Ok(self
            .bookings
            .bookings(&filter, BOOKINGS_LISTED)?
            .into_iter()
            .filter_map(|b| by_id.get(&b.facility_id).cloned().map(|f| (b, f)))
            .collect())
    }

    /// Bookings of one facility overlapping `[from, to)`: everything for its operators; for
    /// anyone else only their own.
    pub fn facility_bookings(&self, actor: &Actor, id: ListingId, from: i64, to: i64) -> AppResult<Vec<Booking>> {
        let principal = actor.user()?;
        let facility = self.readable_facility(actor, id)?;
        let operator = Self::operates_facility(principal, &facility);
        let filter = BookingFilter {
            facilities: Some(vec![id]),
            booker: (!operator).then_some(principal.user_id),
            window: Some((from, to)),
            ..BookingFilter::default()
        };
        Ok(self.bookings.bookings(&filter, BOOKINGS_LISTED)?)
    }

    /// Grants (or renews) a user's clearance for a facility (its operator).
    pub fn grant_clearance(
        &self,
        actor: &Actor,
        id: ListingId,
        username: &str,
        valid_until: OffsetDateTime,
    ) -> AppResult<Clearance> {
        let (facility, principal) = self.operated_facility(actor, id)?;
        let user = self
            .accounts
            .user_by_name(username.trim())?
            .filter(|u| !u.disabled)
            .ok_or_else(|| AppError::bad_input("username", format!("no user {username:?}")))?;
        let valid_until = to_ms(valid_until);
        if valid_until <= now_ms() {
            return Err(AppError::bad_input("valid_until", "must be in the future"));
        }
        let clearance = Clearance {
            facility_id: id,
            user_id: user.id,
            username: user.username.clone(),
            valid_until,
            granted_by: principal.username.clone(),
            granted_at: now_ms(),
        };
        let mut entry = actor.audit("facility.clearance", id.to_string(), facility.body.region_codes.first().cloned());
        entry.detail = serde_json::json!({"username": user.username, "valid_until": booking::fmt_beijing(valid_until)});
        Ok(self.bookings.grant_clearance(clearance, entry)?)
    }

    /// The clearances of a facility (its operator).
    pub fn clearances(&self, actor: &Actor, id: ListingId) -> AppResult<Vec<Clearance>> {
        self.operated_facility(actor, id)?;
        Ok(self.bookings.clearances(id)?)
    }

    /// Issues an innovation voucher: a region operator to an enterprise of their region, from
    /// a region they operate; the platform admin to any.
    pub fn issue_voucher(&self, actor: &Actor, input: VoucherInput) -> AppResult<Voucher> {
        let principal = actor.user()?;
        if !matches!(principal.role, Role::PlatformAdmin | Role::RegionOperator) {
            return Err(AppError::Forbidden("only region operators and the platform admin issue vouchers".into()));
        }
        let wanted = input.organisation.trim();
        let org = match wanted.parse::<i64>() {
            Ok(id) => self.accounts.org(OrgId(id))?,
            Err(_) => self.accounts.org_by_name(wanted)?,
        }
        .ok_or_else(|| AppError::bad_input("organisation", format!("no organisation {wanted:?}")))?;
        if org.kind != OrgKind::Enterprise {
            return Err(AppError::bad_input("organisation", format!("{} is not an enterprise", org.name)));
        }
        let reference = Reference::get();
        for (field, code) in std::iter::once(("issuing_region", &input.issuing_region))
            .chain(input.accepted_regions.iter().map(|code| ("accepted_regions", code)))
        {
            if reference.region(code).is_none() {
                return Err(AppError::bad_input(field, format!("{code:?} is not a GB/T 2260 region code")));
            }
        }
        if input.accepted_regions.is_empty() {
            return Err(AppError::bad_input("accepted_regions", "name at least one region"));
        }
        if !principal.operates_region(&input.issuing_region) || !principal.operates_region(&org.region_code) {
            return Err(AppError::Forbidden(
                "a region operator issues vouchers of their own region to enterprises of their region".into(),
            ));
        }
        if !(input.amount.is_finite() && input.amount > 0.0 && input.amount <= 10_000.0) {
            return Err(AppError::bad_input("amount", "an amount in 万元 above 0 and at most 10000"));
        }
        let valid_until = parse_until(&input.valid_until)?;
        if valid_until <= now_ms() {
            return Err(AppError::bad_input("valid_until", "must be in the future"));
        }
        let new = NewVoucher {
            org_id: org.id,
            organisation: org.name.clone(),
            amount_fen: wan_to_fen(input.amount),
            issuing_region: input.issuing_region.clone(),
            accepted_regions: input.accepted_regions.clone(),
            valid_until,
            issued_by: principal.username.clone(),
        };
        Ok(self.bookings.issue_voucher(new, &|voucher| {
            let mut entry = actor.audit("voucher.issue", voucher.id.to_string(), Some(voucher.issuing_region.clone()));
            entry.detail = serde_json::json!({
                "organisation": voucher.organisation, "amount_fen": voucher.amount_fen,
                "accepted_regions": voucher.accepted_regions,
            });
            entry
        })?)
    }

    fn sees_voucher(&self, principal: &Principal, voucher: &Voucher) -> bool {
        principal.is_admin()
            || principal.org.as_deref() == Some(voucher.organisation.as_str())
            || (principal.role == Role::RegionOperator && principal.operates_region(&voucher.issuing_region))
    }

    /// The vouchers the actor may see: their organisation's; those their region issued (region
    /// operators); all (platform admin).
    pub fn vouchers(&self, actor: &Actor) -> AppResult<Vec<Voucher>> {
        let principal = actor.user()?;
        let all = match (principal.role, principal.org.as_deref()) {
            (Role::PlatformAdmin | Role::RegionOperator, _) => self.bookings.vouchers(None)?,
            (_, Some(name)) => match self.accounts.org_by_name(name)? {
                Some(org) => self.bookings.vouchers(Some(&[org.id]))?,
                None => Vec::new(),
            },
            (_, None) => Vec::new(),
        };
        Ok(all.into_iter().filter(|v| self.sees_voucher(principal, v)).collect())
    }

    /// One voucher with its ledger, for those who may see it.
    pub fn voucher_ledger(&self, actor: &Actor, id: VoucherId) -> AppResult<(Voucher, Vec<LedgerEntry>)> {
        let principal = actor.user()?;
        let voucher = self
            .bookings
            .voucher(id)?
            .filter(|v| self.sees_voucher(principal, v))
            .ok_or_else(|| AppError::NotFound(format!("no voucher {id}")))?;
        Ok((voucher, self.bookings.voucher_ledger(id)?))
    }

    /// Approved bookings of a facility from 30 days ago on (at most 2000), for its iCalendar feed.
    pub fn facility_feed(&self, actor: &Actor, id: ListingId) -> AppResult<FacilityFeed> {
        let facility = self.readable_facility(actor, id)?;
        let now = now_ms();
        let filter = BookingFilter {
            facilities: Some(vec![id]),
            states: Some(vec![BookingState::Approved]),
            window: Some((now - 30 * booking::DAY_MS, i64::MAX / 2)),
            ..BookingFilter::default()
        };
        let bookings = self.bookings.bookings(&filter, BOOKINGS_LISTED)?;
        let show_booker = actor.principal().is_some_and(|p| Self::operates_facility(p, &facility));
        Ok(FacilityFeed { facility, bookings, show_booker })
    }

    /// A facility's next free window in the next 90 days and its price (`None`: no calendar).
    pub fn free_window(&self, id: ListingId) -> AppResult<Option<FreeWindow>> {
        let Some(calendar) = self.bookings.calendar(id)? else { return Ok(None) };
        let calendar = calendar.calendar;
        let now = now_ms();
        let earliest = now + i64::from(calendar.lead_time_hours) * HOUR_MS;
        let horizon = now + MATCH_HORIZON_DAYS * booking::DAY_MS;
        let held = self.held(id, earliest, horizon)?;
        let next_free = calendar.slots(earliest, horizon).find(|slot| {
            calendar.closed_because(*slot).is_none()
                && first_full_slot(
                    calendar.unit,
                    calendar.capacity,
                    &held,
                    Request { start: *slot, end: slot + calendar.unit.slot_ms(), quantity: 1 },
                )
                .is_none()
        });
        Ok(Some(FreeWindow { next_free, unit: calendar.unit, price_per_unit: calendar.price_per_unit }))
    }

    /// Utilisation of the bookable facilities the actor may read from `from` to `to` (Beijing
    /// dates, both included), grouped `by`, with voucher spending by issuing and spending region.
    pub fn utilisation(
        &self,
        actor: &Actor,
        by: UtilisationBy,
        from: time::Date,
        to: time::Date,
    ) -> AppResult<Utilisation> {
        if to < from {
            return Err(AppError::bad_input("to", "must not be before from"));
        }
        if (to - from).whole_days() > 400 {
            return Err(AppError::bad_input("to", "at most 400 days from from"));
        }
        let start = booking::day_start(from);
        let end = booking::day_start(to) + booking::DAY_MS;
        let calendars = self.bookings.calendars()?;
        let ids: Vec<ListingId> = calendars.iter().map(|c| c.facility_id).collect();
        let facilities: BTreeMap<ListingId, Listing> = self
            .store
            .get_many(&ids)?
            .into_iter()
            .filter(|f| actor.viewer.can_read(&f.body))
            .map(|f| (f.id, f))
            .collect();
        let reference = Reference::get();
        let province = |facility: &Listing| -> String {
            facility
                .body
                .region_codes
                .first()
                .and_then(|code| reference.province_of(code))
                .map_or_else(|| "000000".to_string(), |p| p.code.clone())
        };
        let mut rows: BTreeMap<String, UtilisationRow> = BTreeMap::new();
        let mut add = |key: String, label: String, open: u64, booked: u64, used: u64| {
            let row = rows.entry(key.clone()).or_insert(UtilisationRow {
                key,
                label,
                open_units: 0,
                booked_units: 0,
                used_units: 0,
                utilisation: 0.0,
            });
            row.open_units += open;
            row.booked_units += booked;
            row.used_units += used;
        };
        let filter = BookingFilter {
            facilities: Some(facilities.keys().copied().collect()),
            states: Some(vec![BookingState::Approved, BookingState::Completed, BookingState::NoShow]),
            window: Some((start, end)),
            ..BookingFilter::default()
        };
        let booked = self.bookings.bookings(&filter, u32::MAX)?;
        for stored in &calendars {
            let Some(facility) = facilities.get(&stored.facility_id) else { continue };
            let calendar = &stored.calendar;
            let group = |slot: i64| -> (String, String) {
                match by {
                    UtilisationBy::Facility => (facility.id.to_string(), facility.body.title.clone()),
                    UtilisationBy::Region => {
                        let code = province(facility);
                        let name = reference.region(&code).map_or_else(|| code.clone(), |r| r.name.clone());
                        (code, name)
                    }
                    UtilisationBy::Month => {
                        let date = booking::beijing_date(slot);
                        let month = format!("{:04}-{:02}", date.year(), u8::from(date.month()));
                        (month.clone(), month)
                    }
                }
            };
            for slot in calendar.slots(start, end) {
                if calendar.closed_because(slot).is_none() {
                    let (key, label) = group(slot);
                    add(key, label, u64::from(calendar.capacity), 0, 0);
                }
            }
            for booking in booked.iter().filter(|b| b.facility_id == facility.id) {
                for slot in calendar.slots(booking.start.max(start), booking.end.min(end)) {
                    let (key, label) = group(slot);
                    let used = if booking.state == BookingState::Completed { booking.quantity } else { 0 };
                    add(key, label, 0, u64::from(booking.quantity), u64::from(used));
                }
            }
        }
        let rows: Vec<UtilisationRow> = rows
            .into_values()
            .map(|mut row| {
                row.utilisation =
                    if row.open_units == 0 { 0.0 } else { row.booked_units as f64 / row.open_units as f64 };
                row
            })
            .collect();
        let mut spending: BTreeMap<(String, String), i64> = BTreeMap::new();
        for flow in self.bookings.voucher_flows()? {
            let Some(facility) = facilities.get(&flow.facility_id) else { continue };
            let issuing = reference
                .province_of(&flow.issuing_region)
                .map_or_else(|| flow.issuing_region.clone(), |p| p.code.clone());
            *spending.entry((issuing, province(facility))).or_default() += flow.spent_fen;
        }
        let name = |code: &str| reference.region(code).map_or_else(|| code.to_string(), |r| r.name.clone());
        let voucher_spending = spending
            .into_iter()
            .map(|((issuing, spending), fen)| VoucherSpending {
                issuing_region_name: name(&issuing),
                spending_region_name: name(&spending),
                issuing_region: issuing,
                spending_region: spending,
                spent: xietong_domain::voucher::fen_to_wan(fen),
            })
            .collect();
        Ok(Utilisation {
            by: match by {
                UtilisationBy::Facility => "facility",
                UtilisationBy::Region => "region",
                UtilisationBy::Month => "month",
            },
            from: from.to_string(),
            to: to.to_string(),
            rows,
            voucher_spending,
        })
    }
}

/// In which capacities the principal acts on a booking.
pub fn acting(principal: &Principal, booking: &Booking, facility: &Listing) -> Acting {
    let booker = booking.booker_id == principal.user_id
        || booking.booker_org.as_ref().is_some_and(|org| principal.org.as_ref() == Some(org));
    Acting { booker, operator: App::operates_facility(principal, facility), system: false }
}

/// The open slots of `[start, end)` with the capacity `held` leaves.
pub fn open_slots(calendar: &Calendar, held: &[Held], start: i64, end: i64) -> Vec<Slot> {
    let step = calendar.unit.slot_ms();
    calendar
        .slots(start, end)
        .filter(|slot| calendar.closed_because(*slot).is_none())
        .take(booking::MAX_AVAILABILITY_SLOTS)
        .map(|slot| {
            let booked: u32 = held.iter().filter(|h| h.start < slot + step && h.end > slot).map(|h| h.quantity).sum();
            Slot {
                start: slot,
                end: slot + step,
                capacity: calendar.capacity,
                booked,
                free: calendar.capacity.saturating_sub(booked),
            }
        })
        .collect()
}

fn booking_detail(booking: &Booking) -> serde_json::Value {
    serde_json::json!({
        "facility": booking.facility_id.to_string(),
        "state": booking.state.as_str(),
        "version": booking.version,
        "start": booking::fmt_beijing(booking.start),
        "end": booking::fmt_beijing(booking.end),
        "quantity": booking.quantity,
        "voucher_id": booking.voucher_id,
        "voucher_fen": booking.voucher_fen,
    })
}

/// `YYYY-MM-DD` (valid through that day, Beijing time) or an RFC 3339 instant, in milliseconds.
pub fn parse_until(text: &str) -> AppResult<i64> {
    if let Ok(day) = xietong_domain::Day::parse(text) {
        return Ok(booking::day_start(day.0) + booking::DAY_MS - 1);
    }
    OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .map(to_ms)
        .map_err(|_| AppError::bad_input("valid_until", format!("{text:?} is neither YYYY-MM-DD nor RFC 3339")))
}
