//! Bookable facilities (pilot bases 中试基地, instruments): the calendar an operator sets, the
//! slots it opens, the capacity rule, and bookings as a state machine. The names of the calendar
//! fields, the states and the events are fixed (the API and reviewers use them).
//!
//! Instants are UTC milliseconds (`i64`); opening hours are Beijing time (UTC+8, no daylight
//! saving). A facility is booked in slots of its `unit`: an hour (on the hour), a day or a batch
//! (both from Beijing midnight to midnight). A booking takes `quantity` units of capacity (e.g.
//! one of three reactors) in every slot from `start` to `end`.
//!
//! ```text
//! requested ──approve──► approved ──complete──► completed
//!    │ ▲  └─decline─► declined   │ └──no_show──► no_show
//!    │ └──reschedule─────────────┘ (back to requested)
//!    └─cancel (also from approved, waitlisted) ─► cancelled
//! waitlisted ──promote (when capacity frees)──► requested; ──decline──► declined
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// Beijing time's offset from UTC.
pub const BEIJING_OFFSET_MS: i64 = 8 * HOUR_MS;
/// Most slots one availability answer covers.
pub const MAX_AVAILABILITY_SLOTS: usize = 24 * 62;
/// Fen (分) in a yuan.
pub const FEN_PER_YUAN: i64 = 100;
/// Fen in 万元 (ten thousand yuan), the unit of voucher amounts.
pub const FEN_PER_WAN: i64 = 1_000_000;

/// The unit a facility is booked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Hour,
    Day,
    /// A production run: booked by the day, charged once per batch (per unit of quantity).
    Batch,
}

impl Unit {
    pub const ALL: [Unit; 3] = [Unit::Hour, Unit::Day, Unit::Batch];

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Batch => "batch",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Unit::Hour => "机时",
            Unit::Day => "天",
            Unit::Batch => "批次",
        }
    }

    /// Length of one slot.
    pub fn slot_ms(self) -> i64 {
        match self {
            Unit::Hour => HOUR_MS,
            Unit::Day | Unit::Batch => DAY_MS,
        }
    }

    /// The start of the slot containing `at`.
    pub fn slot_start(self, at: i64) -> i64 {
        match self {
            Unit::Hour => at.div_euclid(HOUR_MS) * HOUR_MS,
            Unit::Day | Unit::Batch => beijing_midnight(at),
        }
    }
}

/// Beijing midnight at or before `at`.
pub fn beijing_midnight(at: i64) -> i64 {
    (at + BEIJING_OFFSET_MS).div_euclid(DAY_MS) * DAY_MS - BEIJING_OFFSET_MS
}

/// The instant of Beijing midnight starting `day`.
pub fn day_start(day: time::Date) -> i64 {
    let midnight = day.midnight().assume_utc().unix_timestamp() * 1000;
    midnight - BEIJING_OFFSET_MS
}

/// The Beijing date of an instant.
pub fn beijing_date(at: i64) -> time::Date {
    to_datetime(at).to_offset(beijing()).date()
}

/// UTC+8.
pub fn beijing() -> time::UtcOffset {
    time::UtcOffset::from_hms(8, 0, 0).expect("a valid offset")
}

/// An instant in milliseconds as a date-time (UTC).
pub fn to_datetime(at: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A date-time as an instant in milliseconds.
pub fn to_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// RFC 3339 in Beijing time, e.g. `2027-03-01T09:00:00+08:00`.
pub fn fmt_beijing(at: i64) -> String {
    to_datetime(at).to_offset(beijing()).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Serialises an instant in milliseconds as RFC 3339 in Beijing time (`serialize_with`).
pub fn serialize_ms<S: serde::Serializer>(at: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&fmt_beijing(*at))
}

/// Serialises fen as 元 with two decimals' precision (`serialize_with`).
pub fn serialize_yuan<S: serde::Serializer>(fen: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(*fen as f64 / FEN_PER_YUAN as f64)
}

/// Serialises fen as 万元 (`serialize_with`).
pub fn serialize_wan<S: serde::Serializer>(fen: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(*fen as f64 / FEN_PER_WAN as f64)
}

/// A day of the week, as opening hours name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] =
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

    fn of(date: time::Date) -> Weekday {
        Weekday::ALL[usize::from(date.weekday().number_days_from_monday())]
    }

    pub fn label_zh(self) -> &'static str {
        ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][self as usize]
    }
}

/// A time of day in minutes after midnight, written `HH:MM` (`24:00` is the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Clock(u16);

impl Clock {
    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn parse(text: &str) -> Result<Clock, String> {
        let bad = || format!("{text:?} is not a time of day in the form HH:MM (00:00 to 24:00)");
        let (hours, minutes) = text.trim().split_once(':').ok_or_else(bad)?;
        if hours.len() != 2 || minutes.len() != 2 {
            return Err(bad());
        }
        let hours: u16 = hours.parse().map_err(|_| bad())?;
        let minutes: u16 = minutes.parse().map_err(|_| bad())?;
        if minutes >= 60 || hours > 24 || (hours == 24 && minutes != 0) {
            return Err(bad());
        }
        Ok(Clock(hours * 60 + minutes))
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for Clock {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Clock {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Clock::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// When a facility is open on one weekday (Beijing time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    pub weekday: Weekday,
    pub open: Clock,
    pub close: Clock,
}

/// A time the facility is closed (maintenance, holidays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Closure {
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
    #[serde(default)]
    pub reason: String,
}

/// A facility's booking calendar, as `PUT /api/v1/facilities/{id}/calendar` sets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    pub unit: Unit,
    /// Units that can run at once (e.g. 3 reactors).
    pub capacity: u32,
    /// Empty: open at all hours.
    #[serde(default)]
    pub opening_hours: Vec<OpeningHours>,
    #[serde(default)]
    pub closures: Vec<Closure>,
    /// Shortest booking, in units (slots).
    #[serde(default = "one")]
    pub min_length: u32,
    /// Longest booking, in units (slots).
    #[serde(default = "default_max_length")]
    pub max_length: u32,
    /// How many hours ahead a booking must start.
    #[serde(default)]
    pub lead_time_hours: u32,
    /// Bookings need a valid clearance of the booker.
    #[serde(default)]
    pub requires_clearance: bool,
    /// Price of one unit, in 元.
    pub price_per_unit: f64,
    /// An approved booking cancelled less than this many hours before its start is charged.
    #[serde(default = "default_free_cancellation_hours")]
    pub free_cancellation_hours: u32,
}

fn one() -> u32 {
    1
}

fn default_max_length() -> u32 {
    24 * 14
}

fn default_free_cancellation_hours() -> u32 {
    24
}

/// Largest capacity a calendar may declare.
pub const MAX_CAPACITY: u32 = 10_000;

impl Calendar {
    /// Checks the calendar's own consistency: every problem as (field, message).
    pub fn check(&self) -> Result<(), Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        if self.capacity == 0 || self.capacity > MAX_CAPACITY {
            problems.push(("capacity", format!("must be between 1 and {MAX_CAPACITY}")));
        }
        for hours in &self.opening_hours {
            if hours.open >= hours.close {
                problems.push((
                    "opening_hours",
                    format!("{:?} opens at {} after closing at {}", hours.weekday, hours.open, hours.close),
                ));
            }
        }
        for closure in &self.closures {
            if closure.start >= closure.end {
                problems.push(("closures", format!("the closure {:?} ends before it starts", closure.reason)));
            }
        }
        if self.min_length == 0 || self.min_length > self.max_length {
            problems.push(("min_length", "must be at least 1 and at most max_length".to_string()));
        }
        if self.max_length > 24 * 366 {
            problems.push(("max_length", "at most 8784 units".to_string()));
        }
        if !(self.price_per_unit.is_finite() && self.price_per_unit >= 0.0 && self.price_per_unit <= 1e9) {
            problems.push(("price_per_unit", "must be a price in 元 between 0 and 1000000000".to_string()));
        }
        if self.lead_time_hours > 24 * 365 {
            problems.push(("lead_time_hours", "at most 8760 hours".to_string()));
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// Why the slot starting at `slot` is closed, or `None` when it is open.
    pub fn closed_because(&self, slot: i64) -> Option<Closed> {
        let end = slot + self.unit.slot_ms();
        if let Some(closure) = self.closures.iter().find(|c| to_ms(c.start) < end && to_ms(c.end) > slot) {
            return Some(Closed::Closure(closure.reason.clone()));
        }
        if self.opening_hours.is_empty() {
            return None;
        }
        let date = beijing_date(slot);
        let weekday = Weekday::of(date);
        let midnight = day_start(date);
        let open = match self.unit {
            // An hour is open when an opening interval of its day holds it whole.
            Unit::Hour => self.opening_hours.iter().any(|h| {
                h.weekday == weekday
                    && midnight + i64::from(h.open.minutes()) * 60_000 <= slot
                    && midnight + i64::from(h.close.minutes()) * 60_000 >= end
            }),
            // A day is open when the facility opens at all that weekday.
            Unit::Day | Unit::Batch => self.opening_hours.iter().any(|h| h.weekday == weekday),
        };
        if open { None } else { Some(Closed::OutsideOpeningHours) }
    }

    /// The charge of `slots` slots of `quantity` units, in fen: per unit and slot, except
    /// batches, charged once per unit.
    pub fn charge_fen(&self, slots: u32, quantity: u32) -> i64 {
        let per_unit_fen = (self.price_per_unit * FEN_PER_YUAN as f64).round() as i64;
        let billed = match self.unit {
            Unit::Hour | Unit::Day => i64::from(slots) * i64::from(quantity),
            Unit::Batch => i64::from(quantity),
        };
        per_unit_fen * billed
    }

    /// The slot starts from `from` (inclusive) to `to` (exclusive), on the unit's grid.
    pub fn slots(&self, from: i64, to: i64) -> impl Iterator<Item = i64> + '_ {
        let step = self.unit.slot_ms();
        let first = self.unit.slot_start(from);
        let first = if first < from { first + step } else { first };
        (0..).map(move |n| first + n * step).take_while(move |slot| *slot < to)
    }
}

/// Why a slot is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    OutsideOpeningHours,
    /// Inside a closure, with its reason.
    Closure(String),
}

/// A booking asked for, before it meets the facility's other bookings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub start: i64,
    pub end: i64,
    pub quantity: u32,
}

/// Why a booking request does not fit the calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestRefusal {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("the facility is not open at {}", fmt_beijing(*slot))]
    OutsideOpeningHours { slot: i64 },
    #[error("the facility is closed at {} ({reason})", fmt_beijing(*slot))]
    InClosure { slot: i64, reason: String },
    #[error("bookings must start at least {hours} hours ahead")]
    TooSoon { hours: u32 },
}

/// Checks a request against the calendar alone (not against other bookings): the grid, the
/// length, the quantity, the lead time, opening hours and closures. Returns the number of slots.
pub fn check_request(calendar: &Calendar, request: Request, now: i64) -> Result<u32, RequestRefusal> {
    let invalid = |field, message: String| RequestRefusal::Invalid { field, message };
    let step = calendar.unit.slot_ms();
    if request.end <= request.start {
        return Err(invalid("end", "must be after start".into()));
    }
    if calendar.unit.slot_start(request.start) != request.start || calendar.unit.slot_start(request.end) != request.end
    {
        let grid = match calendar.unit {
            Unit::Hour => "on the hour",
            Unit::Day | Unit::Batch => "at midnight Beijing time (T00:00:00+08:00)",
        };
        return Err(invalid(
            "start",
            format!("start and end must fall {grid}: this facility is booked by the {}", calendar.unit.as_str()),
        ));
    }
    if request.quantity == 0 || request.quantity > calendar.capacity {
        return Err(invalid("quantity", format!("must be between 1 and the capacity, {}", calendar.capacity)));
    }
    let slots = (request.end - request.start) / step;
    let slots = u32::try_from(slots).unwrap_or(u32::MAX);
    if slots < calendar.min_length || slots > calendar.max_length {
        return Err(invalid(
            "end",
            format!(
                "a booking lasts {} to {} {}s, not {slots}",
                calendar.min_length,
                calendar.max_length,
                calendar.unit.as_str()
            ),
        ));
    }
    if request.start < now + i64::from(calendar.lead_time_hours) * HOUR_MS {
        return Err(RequestRefusal::TooSoon { hours: calendar.lead_time_hours });
    }
    for slot in calendar.slots(request.start, request.end) {
        match calendar.closed_because(slot) {
            None => {}
            Some(Closed::OutsideOpeningHours) => return Err(RequestRefusal::OutsideOpeningHours { slot }),
            Some(Closed::Closure(reason)) => return Err(RequestRefusal::InClosure { slot, reason }),
        }
    }
    Ok(slots)
}

/// A booking that holds capacity: its interval and quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub start: i64,
    pub end: i64,
    pub quantity: u32,
}

/// The first slot of `request` where the capacity already `held` leaves too little room, with
/// the units taken there; `None` when it fits everywhere. This is the capacity rule; the store
/// applies it inside the transaction that writes the booking.
pub fn first_full_slot(unit: Unit, capacity: u32, held: &[Held], request: Request) -> Option<(i64, u32)> {
    let step = unit.slot_ms();
    let mut slot = unit.slot_start(request.start);
    while slot < request.end {
        let end = slot + step;
        let taken: u32 = held.iter().filter(|h| h.start < end && h.end > slot).map(|h| h.quantity).sum();
        if taken + request.quantity > capacity {
            return Some((slot, taken));
        }
        slot = end;
    }
    None
}

/// Where a booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingState {
    Requested,
    Approved,
    Declined,
    Cancelled,
    Waitlisted,
    Completed,
    NoShow,
}

impl BookingState {
    pub const ALL: [BookingState; 7] = [
        BookingState::Requested,
        BookingState::Approved,
        BookingState::Declined,
        BookingState::Cancelled,
        BookingState::Waitlisted,
        BookingState::Completed,
        BookingState::NoShow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BookingState::Requested => "requested",
            BookingState::Approved => "approved",
            BookingState::Declined => "declined",
            BookingState::Cancelled => "cancelled",
            BookingState::Waitlisted => "waitlisted",
            BookingState::Completed => "completed",
            BookingState::NoShow => "no_show",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            BookingState::Requested => "待审批",
            BookingState::Approved => "已批准",
            BookingState::Declined => "已拒绝",
            BookingState::Cancelled => "已取消",
            BookingState::Waitlisted => "候补中",
            BookingState::Completed => "已完成",
            BookingState::NoShow => "未到场",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            BookingState::Requested => "Requested",
            BookingState::Approved => "Approved",
            BookingState::Declined => "Declined",
            BookingState::Cancelled => "Cancelled",
            BookingState::Waitlisted => "Waitlisted",
            BookingState::Completed => "Completed",
            BookingState::NoShow => "No-show",
        }
    }

    /// Whether the booking holds capacity (counted against the facility's slots).
    pub fn holds_capacity(self) -> bool {
        matches!(self, BookingState::Requested | BookingState::Approved)
    }
}

impl fmt::Display for BookingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BookingState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BookingState::ALL.into_iter().find(|state| state.as_str() == s.trim()).ok_or_else(|| {
            let names: Vec<&str> = BookingState::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown booking state {s:?}; use one of {}", names.join(", "))
        })
    }
}

/// Something that happens to a booking, as `POST /api/v1/bookings/{id}/events` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BookingEvent {
    Approve,
    Decline {
        reason: String,
    },
    Cancel {
        #[serde(default)]
        reason: Option<String>,
    },
    Reschedule {
        #[serde(with = "time::serde::rfc3339")]
        start: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        end: OffsetDateTime,
    },
    Complete,
    NoShow,
    /// A waitlisted booking moves up when capacity frees (the platform's own event).
    Promote,
}

impl BookingEvent {
    pub fn name(&self) -> &'static str {
        match self {
            BookingEvent::Approve => "approve",
            BookingEvent::Decline { .. } => "decline",
            BookingEvent::Cancel { .. } => "cancel",
            BookingEvent::Reschedule { .. } => "reschedule",
            BookingEvent::Complete => "complete",
            BookingEvent::NoShow => "no_show",
            BookingEvent::Promote => "promote",
        }
    }
}

/// In which capacity someone acts on a booking (one person may be both booker and operator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Acting {
    /// Made the booking (or belongs to its organisation).
    pub booker: bool,
    /// Operates the facility: a member of its owner organisation, its region's operator, the
    /// platform admin.
    pub operator: bool,
    /// The platform itself (waitlist promotion).
    pub system: bool,
}

/// Why an event may not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingRefusal {
    /// The actor may not send this event at all.
    #[error("only {who} may {event} a booking")]
    NotPermitted { event: &'static str, who: &'static str },
    /// The event cannot happen in this state.
    #[error("a booking that is {state} cannot take the event {event}")]
    NotAllowed { state: BookingState, event: &'static str },
}

/// The state after `event` by someone `acting` so, or why not.
pub fn transition(state: BookingState, event: &BookingEvent, acting: Acting) -> Result<BookingState, BookingRefusal> {
    use BookingState::{Approved, Cancelled, Completed, Declined, NoShow, Requested, Waitlisted};
    let name = event.name();
    let (permitted, who) = match event {
        BookingEvent::Approve | BookingEvent::Decline { .. } | BookingEvent::Complete | BookingEvent::NoShow => {
            (acting.operator, "the facility's operator")
        }
        BookingEvent::Cancel { .. } => (acting.booker, "the booker"),
        BookingEvent::Reschedule { .. } => (acting.booker || acting.operator, "the booker or the facility's operator"),
        BookingEvent::Promote => (acting.system, "the platform"),
    };
    if !permitted {
        return Err(BookingRefusal::NotPermitted { event: name, who });
    }
    let next = match (event, state) {
        (BookingEvent::Approve, Requested) => Approved,
        (BookingEvent::Decline { .. }, Requested | Waitlisted) => Declined,
        (BookingEvent::Cancel { .. }, Requested | Approved | Waitlisted) => Cancelled,
        (BookingEvent::Reschedule { .. }, Requested | Approved) => Requested,
        (BookingEvent::Complete, Approved) => Completed,
        (BookingEvent::NoShow, Approved) => NoShow,
        (BookingEvent::Promote, Waitlisted) => Requested,
        _ => return Err(BookingRefusal::NotAllowed { state, event: name }),
    };
    Ok(next)
}

/// The names of the events someone `acting` so may send to a booking in `state` now (never
/// `promote`): what the pages offer as buttons and the API lists as `allowed_events`.
pub fn allowed_events(state: BookingState, acting: Acting) -> Vec<&'static str> {
    let acting = Acting { system: false, ..acting };
    event_samples().iter().filter(|event| transition(state, event, acting).is_ok()).map(BookingEvent::name).collect()
}

fn event_samples() -> [BookingEvent; 6] {
    let any = OffsetDateTime::UNIX_EPOCH;
    [
        BookingEvent::Approve,
        BookingEvent::Decline { reason: String::new() },
        BookingEvent::Cancel { reason: None },
        BookingEvent::Reschedule { start: any, end: any },
        BookingEvent::Complete,
        BookingEvent::NoShow,
    ]
}

/// What a transition does to the voucher share of a booking's charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherMove {
    /// Nothing.
    Keep,
    /// The reserved amount goes back to the voucher's balance.
    Release,
    /// The reserved amount is spent.
    Spend,
}

/// The voucher movement of moving from `from` to `to`; `charged` says a cancellation came too
/// late to be free (the booking is then paid, and the voucher share spent).
pub fn voucher_move(from: BookingState, to: BookingState, charged: bool) -> VoucherMove {
    if from == to {
        return VoucherMove::Keep;
    }
    match to {
        BookingState::Declined => VoucherMove::Release,
        BookingState::Cancelled if charged => VoucherMove::Spend,
        BookingState::Cancelled => VoucherMove::Release,
        BookingState::Completed | BookingState::NoShow => VoucherMove::Spend,
        _ => VoucherMove::Keep,
    }
}

/// Whether cancelling a booking in `state` starting at `start` is charged at `now`: an approved
/// booking cancelled less than `free_hours` before it starts.
pub fn cancellation_charged(state: BookingState, start: i64, now: i64, free_hours: u32) -> bool {
    state == BookingState::Approved && now > start - i64::from(free_hours) * HOUR_MS
}

#[cfg(test)]
mod tests {
    use super::*;
    use BookingState::*;

    fn calendar() -> Calendar {
        serde_json::from_value(serde_json::json!({
            "unit": "hour", "capacity": 3,
            "opening_hours": [{"weekday": "mon", "open": "08:00", "close": "18:00"},
                              {"weekday": "sat", "open": "00:00", "close": "24:00"}],
            "closures": [{"start": "2027-03-01T12:00:00+08:00", "end": "2027-03-01T13:00:00+08:00", "reason": "检修"}],
            "requires_clearance": false, "price_per_unit": 850.5
        }))
        .unwrap()
    }

    fn at(text: &str) -> i64 {
        to_ms(OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap())
    }

    fn events() -> Vec<BookingEvent> {
        let mut all = event_samples().to_vec();
        all.push(BookingEvent::Promote);
        all
    }

    /// The allowed transitions, written out: (from, event, to).
    const ALLOWED: &[(BookingState, &str, BookingState)] = &[
        (Requested, "approve", Approved),
        (Requested, "decline", Declined),
        (Requested, "cancel", Cancelled),
        (Requested, "reschedule", Requested),
        (Approved, "cancel", Cancelled),
        (Approved, "reschedule", Requested),
        (Approved, "complete", Completed),
        (Approved, "no_show", NoShow),
        (Waitlisted, "decline", Declined),
        (Waitlisted, "cancel", Cancelled),
        (Waitlisted, "promote", Requested),
    ];

    fn may(event: &str, acting: Acting) -> bool {
        match event {
            "approve" | "decline" | "complete" | "no_show" => acting.operator,
            "cancel" => acting.booker,
            "reschedule" => acting.booker || acting.operator,
            "promote" => acting.system,
            other => panic!("unknown event {other}"),
        }
    }

    #[test]
    fn every_state_event_and_actor_is_allowed_exactly_as_the_table_says() {
        let actors = [
            Acting::default(),
            Acting { booker: true, ..Acting::default() },
            Acting { operator: true, ..Acting::default() },
            Acting { booker: true, operator: true, system: false },
            Acting { system: true, ..Acting::default() },
        ];
        let mut allowed_seen = 0;
        for state in BookingState::ALL {
            for event in events() {
                for acting in actors {
                    let result = transition(state, &event, acting);
                    let expected = ALLOWED.iter().find(|(from, name, _)| *from == state && *name == event.name());
                    match (may(event.name(), acting), expected) {
                        (false, _) => assert!(
                            matches!(result, Err(BookingRefusal::NotPermitted { event: e, .. }) if e == event.name()),
                            "{state} {event:?} {acting:?}: {result:?}"
                        ),
                        (true, Some((_, _, to))) => {
                            allowed_seen += 1;
                            assert_eq!(result, Ok(*to), "{state} {event:?} {acting:?}")
                        }
                        (true, None) => assert_eq!(
                            result,
                            Err(BookingRefusal::NotAllowed { state, event: event.name() }),
                            "{state} {event:?} {acting:?}"
                        ),
                    }
                }
            }
        }
        assert!(allowed_seen >= ALLOWED.len(), "every row of the table was reached");
    }

    #[test]
    fn allowed_events_never_offer_promotion_and_follow_the_table() {
        let booker = Acting { booker: true, ..Acting::default() };
        let operator = Acting { operator: true, ..Acting::default() };
        assert_eq!(allowed_events(Requested, booker), ["cancel", "reschedule"]);
        assert_eq!(allowed_events(Requested, operator), ["approve", "decline", "reschedule"]);
        assert_eq!(allowed_events(Approved, operator), ["reschedule", "complete", "no_show"]);
        assert_eq!(allowed_events(Waitlisted, Acting { system: true, ..operator }), ["decline"]);
        for state in [Declined, Cancelled, Completed, NoShow] {
            assert!(allowed_events(state, Acting { booker: true, operator: true, system: true }).is_empty());
        }
    }

    #[test]
    fn voucher_moves_follow_the_outcome() {
        assert_eq!(voucher_move(Requested, Declined, false), VoucherMove::Release);
        assert_eq!(voucher_move(Approved, Cancelled, false), VoucherMove::Release);
        assert_eq!(voucher_move(Approved, Cancelled, true), VoucherMove::Spend);
        assert_eq!(voucher_move(Approved, Completed, false), VoucherMove::Spend);
        assert_eq!(voucher_move(Approved, NoShow, false), VoucherMove::Spend);
        assert_eq!(voucher_move(Requested, Approved, false), VoucherMove::Keep);
        assert_eq!(voucher_move(Waitlisted, Requested, false), VoucherMove::Keep);
        let start = at("2027-03-01T09:00:00+08:00");
        assert!(!cancellation_charged(Approved, start, start - 25 * HOUR_MS, 24));
        assert!(cancellation_charged(Approved, start, start - 23 * HOUR_MS, 24));
        assert!(!cancellation_charged(Requested, start, start - HOUR_MS, 24), "unapproved bookings cancel free");
    }

    #[test]
    fn calendars_parse_with_fixed_names_and_check_themselves() {
        let calendar = calendar();
        assert_eq!(calendar.unit, Unit::Hour);
        assert_eq!(calendar.opening_hours[1].close.to_string(), "24:00");
        assert!(calendar.check().is_ok());
        let bad: Result<Calendar, _> = serde_json::from_value(serde_json::json!({
            "unit": "hour", "capacity": 1, "price_per_unit": 1,
            "opening_hours": [{"weekday": "mon", "open": "8:00", "close": "18:00"}]
        }));
        assert!(bad.is_err());
        let bad: Result<Calendar, _> = serde_json::from_value(serde_json::json!({
            "unit": "week", "capacity": 1, "price_per_unit": 1
        }));
        assert!(bad.is_err());
        assert!(Clock::parse("24:30").is_err() && Clock::parse("12:60").is_err() && Clock::parse("24:00").is_ok());
        let mut inverted = calendar.clone();
        inverted.opening_hours[0].open = Clock::parse("19:00").unwrap();
        inverted.capacity = 0;
        let problems = inverted.check().unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(field, _)| *field).collect();
        assert_eq!(fields, ["capacity", "opening_hours"]);
    }

    #[test]
    fn requests_meet_the_grid_opening_hours_closures_and_lead_time() {
        let calendar = calendar();
        let now = at("2027-02-01T00:00:00+08:00");
        let request = |start: &str, end: &str| Request { start: at(start), end: at(end), quantity: 1 };
        // 2027-03-01 is a Monday.
        assert_eq!(
            check_request(&calendar, request("2027-03-01T09:00:00+08:00", "2027-03-01T11:00:00+08:00"), now),
            Ok(2)
        );
        assert_eq!(
            check_request(&calendar, request("2027-03-01T17:00:00+08:00", "2027-03-01T19:00:00+08:00"), now),
            Err(RequestRefusal::OutsideOpeningHours { slot: at("2027-03-01T18:00:00+08:00") })
        );
        assert_eq!(
            check_request(&calendar, request("2027-03-01T11:00:00+08:00", "2027-03-01T13:00:00+08:00"), now),
            Err(RequestRefusal::InClosure { slot: at("2027-03-01T12:00:00+08:00"), reason: "检修".into() })
        );
        assert!(matches!(
            check_request(&calendar, request("2027-03-01T09:30:00+08:00", "2027-03-01T11:00:00+08:00"), now),
            Err(RequestRefusal::Invalid { field: "start", .. })
        ));
        assert!(matches!(
            check_request(
                &calendar,
                Request { quantity: 4, ..request("2027-03-01T09:00:00+08:00", "2027-03-01T10:00:00+08:00") },
                now
            ),
            Err(RequestRefusal::Invalid { field: "quantity", .. })
        ));
        // Saturday is open around the clock; Tuesday not at all.
        assert_eq!(
            check_request(&calendar, request("2027-03-06T00:00:00+08:00", "2027-03-07T00:00:00+08:00"), now),
            Ok(24)
        );
        assert!(
            check_request(&calendar, request("2027-03-02T09:00:00+08:00", "2027-03-02T10:00:00+08:00"), now).is_err()
        );
        let mut ahead = calendar.clone();
        ahead.lead_time_hours = 48;
        let soon = at("2027-02-28T12:00:00+08:00");
        assert_eq!(
            check_request(&ahead, request("2027-03-01T09:00:00+08:00", "2027-03-01T10:00:00+08:00"), soon),
            Err(RequestRefusal::TooSoon { hours: 48 })
        );
    }

    #[test]
    fn day_slots_start_at_beijing_midnight_and_batches_charge_per_batch() {
        let mut days = calendar();
        days.unit = Unit::Day;
        days.opening_hours.clear();
        days.closures.clear();
        let start = at("2027-03-01T00:00:00+08:00");
        assert_eq!(beijing_midnight(start + 5 * HOUR_MS), start);
        assert_eq!(day_start(time::macros::date!(2027 - 03 - 01)), start);
        let now = start - 30 * DAY_MS;
        assert_eq!(check_request(&days, Request { start, end: start + 3 * DAY_MS, quantity: 2 }, now), Ok(3));
        assert!(
            check_request(&days, Request { start: start + HOUR_MS, end: start + DAY_MS, quantity: 1 }, now).is_err()
        );
        assert_eq!(days.charge_fen(3, 2), 85_050 * 6);
        days.unit = Unit::Batch;
        assert_eq!(days.charge_fen(3, 2), 85_050 * 2);
    }

    #[test]
    fn the_first_full_slot_counts_overlapping_held_capacity() {
        let base = at("2027-03-01T09:00:00+08:00");
        let held = [
            Held { start: base, end: base + 2 * HOUR_MS, quantity: 2 },
            Held { start: base + HOUR_MS, end: base + 3 * HOUR_MS, quantity: 1 },
        ];
        let request = Request { start: base, end: base + 3 * HOUR_MS, quantity: 1 };
        assert_eq!(first_full_slot(Unit::Hour, 3, &held, request), Some((base + HOUR_MS, 3)));
        assert_eq!(first_full_slot(Unit::Hour, 4, &held, request), None);
        let later = Request { start: base + 2 * HOUR_MS, end: base + 4 * HOUR_MS, quantity: 2 };
        assert_eq!(first_full_slot(Unit::Hour, 3, &held, later), None);
    }

    #[test]
    fn events_parse_from_the_api_shape() {
        let event: BookingEvent = serde_json::from_value(serde_json::json!({
            "type": "reschedule", "start": "2027-03-01T09:00:00+08:00", "end": "2027-03-01T10:00:00+08:00"
        }))
        .unwrap();
        assert_eq!(event.name(), "reschedule");
        let event: BookingEvent = serde_json::from_value(serde_json::json!({"type": "no_show"})).unwrap();
        assert_eq!(event, BookingEvent::NoShow);
        assert!(serde_json::from_value::<BookingEvent>(serde_json::json!({"type": "decline"})).is_err());
        assert_eq!("no_show".parse::<BookingState>(), Ok(NoShow));
        assert!("booked".parse::<BookingState>().unwrap_err().contains("requested, approved"));
    }
}
