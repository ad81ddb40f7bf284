//! Bookable facilities as the store keeps them: each facility's calendar, its bookings with
//! their timelines, clearances, and innovation vouchers (创新券) with their ledger. The rules are
//! `xietong_domain::booking`'s and `xietong_domain::voucher`'s; the store makes each step atomic
//! and applies the capacity rule inside the transaction that writes a booking: the facility's
//! calendar row is locked (PostgreSQL `SELECT … FOR UPDATE`; SQLite has one writer with
//! `BEGIN IMMEDIATE`), then the requested and approved bookings overlapping the request are
//! counted per slot. A voucher's row is locked the same way before its balance moves, and its
//! balance has a `CHECK (balance_fen >= 0)` besides.

use serde::Serialize;
use xietong_domain::booking::{
    BookingEvent, BookingState, Calendar, Request, VoucherMove, serialize_ms, serialize_wan, serialize_yuan,
};
use xietong_domain::{ListingId, OrgId, UserId};

use crate::{NewAudit, StoreError};

/// Id of a booking.
pub type BookingId = i64;
/// Id of a voucher.
pub type VoucherId = i64;

/// A facility's calendar and its version (bumped by every change).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FacilityCalendar {
    pub facility_id: ListingId,
    #[serde(flatten)]
    pub calendar: Calendar,
    pub version: i64,
    #[serde(serialize_with = "serialize_ms")]
    pub updated_at: i64,
}

/// A booking of a facility. Instants are UTC milliseconds (shown as RFC 3339, Beijing time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Booking {
    pub id: BookingId,
    pub facility_id: ListingId,
    #[serde(skip)]
    pub booker_id: UserId,
    /// The booker's username.
    pub booker: String,
    /// The booker's organisation.
    pub booker_org: Option<String>,
    #[serde(serialize_with = "serialize_ms")]
    pub start: i64,
    #[serde(serialize_with = "serialize_ms")]
    pub end: i64,
    pub quantity: u32,
    /// Slots (units of the calendar) the booking spans.
    pub units: u32,
    pub purpose: String,
    pub state: BookingState,
    /// Bumped by every event; an event may name the version it was decided on.
    pub version: i64,
    /// The charge in 元.
    #[serde(rename = "charge", serialize_with = "serialize_yuan")]
    pub charge_fen: i64,
    pub voucher_id: Option<VoucherId>,
    /// The part of the charge the voucher covers, in 元 (reserved, then spent or released).
    #[serde(rename = "voucher_amount", serialize_with = "serialize_yuan")]
    pub voucher_fen: i64,
    /// Cancelled too late to be free: the booking is paid.
    pub charged: bool,
    #[serde(serialize_with = "serialize_ms")]
    pub created_at: i64,
    #[serde(serialize_with = "serialize_ms")]
    pub updated_at: i64,
    /// Every step, oldest first (filled when one booking is read).
    pub timeline: Vec<BookingStep>,
}

/// One step of a booking's timeline: `request`, `waitlist` or an event's name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookingStep {
    pub event: String,
    /// The event's fields (a decline's reason, a reschedule's times).
    pub detail: serde_json::Value,
    pub actor: String,
    pub state: BookingState,
    #[serde(serialize_with = "serialize_ms")]
    pub at: i64,
}

/// A booking to write, checked against the calendar by the caller; the store checks capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBooking {
    pub facility_id: ListingId,
    pub booker_id: UserId,
    pub booker: String,
    pub booker_org: Option<String>,
    pub request: Request,
    pub units: u32,
    pub purpose: String,
    pub charge_fen: i64,
    /// The voucher to pay with: it covers as much of the charge as its balance allows.
    pub voucher_id: Option<VoucherId>,
    /// When a slot is full: waitlist the booking instead of refusing it.
    pub waitlist: bool,
}

/// An event decided by the domain's rules, to store if the booking is still at
/// `expected_version` (and, for a reschedule, if the new times fit).
#[derive(Debug, Clone, PartialEq)]
pub struct BookingChange {
    pub booking_id: BookingId,
    pub expected_version: i64,
    pub event: BookingEvent,
    pub actor: String,
    pub state: BookingState,
    pub voucher: VoucherMove,
    /// A cancellation charged under the cancellation rule.
    pub charged: bool,
    /// New times of a reschedule (the quantity stays).
    pub reschedule: Option<(i64, i64)>,
}

/// Which bookings to list.
#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    /// Of these facilities (`None`: any).
    pub facilities: Option<Vec<ListingId>>,
    /// Made by this user.
    pub booker: Option<UserId>,
    /// In these states (`None`: any).
    pub states: Option<Vec<BookingState>>,
    /// Overlapping `[from, to)`.
    pub window: Option<(i64, i64)>,
}

/// A clearance: a user may book a facility that requires one until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clearance {
    pub facility_id: ListingId,
    #[serde(skip)]
    pub user_id: UserId,
    pub username: String,
    #[serde(serialize_with = "serialize_ms")]
    pub valid_until: i64,
    pub granted_by: String,
    #[serde(serialize_with = "serialize_ms")]
    pub granted_at: i64,
}

/// An innovation voucher (创新券). Amounts in fen, shown in 万元.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Voucher {
    pub id: VoucherId,
    pub org_id: OrgId,
    /// The organisation's name.
    pub organisation: String,
    #[serde(rename = "amount", serialize_with = "serialize_wan")]
    pub amount_fen: i64,
    /// What is left to reserve.
    #[serde(rename = "balance", serialize_with = "serialize_wan")]
    pub balance_fen: i64,
    /// Reserved by open bookings.
    #[serde(rename = "reserved", serialize_with = "serialize_wan")]
    pub reserved_fen: i64,
    #[serde(rename = "spent", serialize_with = "serialize_wan")]
    pub spent_fen: i64,
    pub issuing_region: String,
    pub accepted_regions: Vec<String>,
    #[serde(serialize_with = "serialize_ms")]
    pub valid_until: i64,
    pub issued_by: String,
    #[serde(serialize_with = "serialize_ms")]
    pub created_at: i64,
}

/// A voucher to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVoucher {
    pub org_id: OrgId,
    pub organisation: String,
    pub amount_fen: i64,
    pub issuing_region: String,
    pub accepted_regions: Vec<String>,
    pub valid_until: i64,
    pub issued_by: String,
}

/// One movement of a voucher: `issue`, `reserve`, `spend` or `release`. `amount` is the change
/// of the balance (so the ledger's amounts add up to the balance), `reserved` the change of the
/// reserved sum; a `spend` moves a reservation out (`amount` 0, `reserved` negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub id: i64,
    pub voucher_id: VoucherId,
    pub booking_id: Option<BookingId>,
    pub kind: String,
    #[serde(rename = "amount", serialize_with = "serialize_wan")]
    pub amount_fen: i64,
    #[serde(rename = "reserved", serialize_with = "serialize_wan")]
    pub reserved_fen: i64,
    #[serde(rename = "balance_after", serialize_with = "serialize_wan")]
    pub balance_after_fen: i64,
    #[serde(serialize_with = "serialize_ms")]
    pub at: i64,
}

/// Spending of vouchers from one region at facilities of another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoucherFlow {
    pub issuing_region: String,
    pub facility_id: ListingId,
    #[serde(rename = "spent", serialize_with = "serialize_wan")]
    pub spent_fen: i64,
}

/// Calendars, bookings, clearances and vouchers.
pub trait Bookings: Send + Sync {
    /// Sets a facility's calendar (creating it at version 1) with its audit entry. `NotFound`
    /// when the listing does not exist.
    fn set_calendar(
        &self,
        facility_id: ListingId,
        calendar: &Calendar,
        audit: &dyn Fn(&FacilityCalendar) -> NewAudit,
    ) -> Result<FacilityCalendar, StoreError>;
    fn calendar(&self, facility_id: ListingId) -> Result<Option<FacilityCalendar>, StoreError>;
    /// Every calendar, by facility id.
    fn calendars(&self) -> Result<Vec<FacilityCalendar>, StoreError>;

    /// Writes a booking in `requested` if it fits the facility's capacity in every slot, else
    /// in `waitlisted` when asked, else `WrongState` naming the first full slot; with the
    /// voucher's reservation and the audit entry, in one transaction. `WrongState` too when the
    /// facility has no calendar or the voucher has no balance left.
    fn create_booking(&self, booking: NewBooking, audit: &dyn Fn(&Booking) -> NewAudit) -> Result<Booking, StoreError>;
    /// One booking with its timeline.
    fn booking(&self, id: BookingId) -> Result<Option<Booking>, StoreError>;
    /// Bookings matching the filter (without timelines), by start then id.
    fn bookings(&self, filter: &BookingFilter, limit: u32) -> Result<Vec<Booking>, StoreError>;
    /// Stores an event if the booking is still at the expected version (`Stale` otherwise), a
    /// reschedule only if it fits (`WrongState` naming the full slot), with the voucher's
    /// movement and the audit entry; when capacity frees, waitlisted bookings of the facility
    /// that now fit move to `requested` in the order they came, each with its `promoted` entry.
    fn apply_booking_change(
        &self,
        change: BookingChange,
        audit: &dyn Fn(&Booking) -> NewAudit,
        promoted: &dyn Fn(&Booking) -> NewAudit,
    ) -> Result<Booking, StoreError>;

    /// Grants (or renews) a user's clearance for a facility.
    fn grant_clearance(&self, clearance: Clearance, audit: NewAudit) -> Result<Clearance, StoreError>;
    fn clearance(&self, facility_id: ListingId, user_id: UserId) -> Result<Option<Clearance>, StoreError>;
    fn clearances(&self, facility_id: ListingId) -> Result<Vec<Clearance>, StoreError>;

    /// Issues a voucher with its `issue` ledger entry and audit entry.
    fn issue_voucher(&self, voucher: NewVoucher, audit: &dyn Fn(&Voucher) -> NewAudit) -> Result<Voucher, StoreError>;
    fn voucher(&self, id: VoucherId) -> Result<Option<Voucher>, StoreError>;
    /// Vouchers of these organisations (`None`: all), newest first.
    fn vouchers(&self, orgs: Option<&[OrgId]>) -> Result<Vec<Voucher>, StoreError>;
    /// Every movement of a voucher, oldest first.
    fn voucher_ledger(&self, id: VoucherId) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Spent voucher amounts by issuing region and facility.
    fn voucher_flows(&self) -> Result<Vec<VoucherFlow>, StoreError>;
}

/// The message of a refusal for lack of capacity, naming the first full slot.
pub(crate) fn full_slot_message(slot: i64, taken: u32, capacity: u32) -> String {
    format!(
        "the slot starting {} is full: {taken} of {capacity} units are requested or approved",
        xietong_domain::booking::fmt_beijing(slot)
    )
}
