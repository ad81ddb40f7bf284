//! `Bookings` on PostgreSQL. Every write that counts or moves capacity first locks the
//! facility's calendar row (`SELECT … FOR UPDATE`), so writers of one facility take turns and
//! the count a booking relies on cannot change before it commits; a voucher's row is locked the
//! same way before its balance moves. Locks are always taken calendar first, then voucher.

use postgres::{GenericClient, Row};
use xietong_domain::booking::{BookingState, Calendar, Held, Request, VoucherMove, first_full_slot};
use xietong_domain::{ListingId, OrgId, UserId};

use super::accounts::insert_audit;
use super::{Db, opt_text, text};
use crate::bookings::full_slot_message;
use crate::{
    Booking, BookingChange, BookingFilter, BookingId, BookingStep, Bookings, Clearance, FacilityCalendar, LedgerEntry,
    NewAudit, NewBooking, NewVoucher, PostgresStore, StoreError, Voucher, VoucherFlow, VoucherId,
};

fn now_ms() -> i64 {
    xietong_domain::booking::to_ms(time::OffsetDateTime::now_utc())
}

fn small(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::backend(format!("corrupt count {value}")))
}

fn row_calendar(row: &Row) -> Result<FacilityCalendar, StoreError> {
    let json: String = row.try_get(1)?;
    Ok(FacilityCalendar {
        facility_id: ListingId(row.try_get(0)?),
        calendar: serde_json::from_str(&json)?,
        version: row.try_get(2)?,
        updated_at: row.try_get(3)?,
    })
}

fn load_calendar<C: GenericClient>(
    db: &mut Db<'_, C>,
    facility_id: ListingId,
) -> Result<Option<FacilityCalendar>, StoreError> {
    db.query_opt(
        "SELECT facility_id, calendar, version, updated_at_ms FROM facility_calendars WHERE facility_id = $1",
        &[&facility_id.0],
    )?
    .as_ref()
    .map(row_calendar)
    .transpose()
}

/// Locks the facility's calendar row until the transaction ends and returns the calendar.
fn locked_calendar<C: GenericClient>(db: &mut Db<'_, C>, facility_id: ListingId) -> Result<Calendar, StoreError> {
    let row = db
        .query_opt("SELECT calendar FROM facility_calendars WHERE facility_id = $1 FOR UPDATE", &[&facility_id.0])?
        .ok_or_else(|| StoreError::WrongState(format!("facility {facility_id} has no booking calendar")))?;
    let json: String = row.try_get(0)?;
    Ok(serde_json::from_str(&json)?)
}

const BOOKING_COLUMNS: &str = "id, facility_id, booker_id, booker, booker_org, start_ms, end_ms, quantity, units, purpose, state, version, charge_fen, voucher_id, voucher_fen, charged, created_at_ms, updated_at_ms";

fn row_booking(row: &Row) -> Result<Booking, StoreError> {
    let state: String = row.try_get(10)?;
    Ok(Booking {
        id: row.try_get(0)?,
        facility_id: ListingId(row.try_get(1)?),
        booker_id: row.try_get(2)?,
        booker: row.try_get(3)?,
        booker_org: row.try_get(4)?,
        start: row.try_get(5)?,
        end: row.try_get(6)?,
        quantity: small(row.try_get(7)?)?,
        units: small(row.try_get(8)?)?,
        purpose: row.try_get(9)?,
        state: state.parse().map_err(StoreError::backend)?,
        version: row.try_get(11)?,
        charge_fen: row.try_get(12)?,
        voucher_id: row.try_get(13)?,
        voucher_fen: row.try_get(14)?,
        charged: row.try_get(15)?,
        created_at: row.try_get(16)?,
        updated_at: row.try_get(17)?,
        timeline: Vec::new(),
    })
}

fn load_booking<C: GenericClient>(db: &mut Db<'_, C>, id: BookingId) -> Result<Option<Booking>, StoreError> {
    let Some(row) = db.query_opt(&format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1"), &[&id])? else {
        return Ok(None);
    };
    let mut booking = row_booking(&row)?;
    for step in db.query(
        "SELECT event, detail, actor, state, at_ms FROM booking_events WHERE booking_id = $1 ORDER BY id",
        &[&id],
    )? {
        let detail: String = step.try_get(1)?;
        let state: String = step.try_get(3)?;
        booking.timeline.push(BookingStep {
            event: step.try_get(0)?,
            detail: serde_json::from_str(&detail)?,
            actor: step.try_get(2)?,
            state: state.parse().map_err(StoreError::backend)?,
            at: step.try_get(4)?,
        });
    }
    Ok(Some(booking))
}

fn insert_step<C: GenericClient>(
    db: &mut Db<'_, C>,
    id: BookingId,
    event: &str,
    detail: &serde_json::Value,
    actor: &str,
    state: BookingState,
    at: i64,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO booking_events (booking_id, event, detail, actor, state, at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&id, &event, &detail.to_string(), &text(actor), &state.as_str(), &at],
    )?;
    Ok(())
}

fn held<C: GenericClient>(
    db: &mut Db<'_, C>,
    facility_id: ListingId,
    start: i64,
    end: i64,
    except: Option<BookingId>,
) -> Result<Vec<Held>, StoreError> {
    let rows = db.query(
        "SELECT start_ms, end_ms, quantity FROM bookings
         WHERE facility_id = $1 AND state IN ('requested', 'approved') AND start_ms < $3 AND end_ms > $2 AND id <> $4",
        &[&facility_id.0, &start, &end, &except.unwrap_or(-1)],
    )?;
    rows.iter()
        .map(|r| Ok(Held { start: r.try_get(0)?, end: r.try_get(1)?, quantity: small(r.try_get(2)?)? }))
        .collect()
}

const VOUCHER_COLUMNS: &str = "id, org_id, organisation, amount_fen, balance_fen, reserved_fen, spent_fen, issuing_region, accepted_regions, valid_until_ms, issued_by, created_at_ms";

fn row_voucher(row: &Row) -> Result<Voucher, StoreError> {
    let regions: String = row.try_get(8)?;
    Ok(Voucher {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        organisation: row.try_get(2)?,
        amount_fen: row.try_get(3)?,
        balance_fen: row.try_get(4)?,
        reserved_fen: row.try_get(5)?,
        spent_fen: row.try_get(6)?,
        issuing_region: row.try_get(7)?,
        accepted_regions: serde_json::from_str(&regions)?,
        valid_until: row.try_get(9)?,
        issued_by: row.try_get(10)?,
        created_at: row.try_get(11)?,
    })
}

fn load_voucher<C: GenericClient>(
    db: &mut Db<'_, C>,
    id: VoucherId,
    lock: bool,
) -> Result<Option<Voucher>, StoreError> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    db.query_opt(&format!("SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE id = $1{suffix}"), &[&id])?
        .as_ref()
        .map(row_voucher)
        .transpose()
}

fn move_voucher<C: GenericClient>(
    db: &mut Db<'_, C>,
    id: VoucherId,
    booking: Option<BookingId>,
    kind: &str,
    balance: i64,
    reserved: i64,
    at: i64,
) -> Result<(), StoreError> {
    let spent = if kind == "spend" { -reserved } else { 0 };
    let after: i64 = db
        .query_one(
            "UPDATE vouchers SET balance_fen = balance_fen + $2, reserved_fen = reserved_fen + $3, spent_fen = spent_fen + $4
             WHERE id = $1 RETURNING balance_fen",
            &[&id, &balance, &reserved, &spent],
        )?
        .try_get(0)?;
    db.execute(
        "INSERT INTO voucher_ledger (voucher_id, booking_id, kind, amount_fen, reserved_fen, balance_after_fen, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&id, &booking, &kind, &balance, &reserved, &after, &at],
    )?;
    Ok(())
}

fn promote_waitlist<C: GenericClient>(
    db: &mut Db<'_, C>,
    facility_id: ListingId,
    start: i64,
    end: i64,
    promoted: &dyn Fn(&Booking) -> NewAudit,
) -> Result<(), StoreError> {
    // The caller holds the calendar's lock.
    let calendar =
        load_calendar(db, facility_id)?.ok_or_else(|| StoreError::backend("the calendar vanished"))?.calendar;
    let waiting: Vec<Booking> = db
        .query(
            &format!(
                "SELECT {BOOKING_COLUMNS} FROM bookings WHERE facility_id = $1 AND state = 'waitlisted' AND start_ms < $3 AND end_ms > $2 ORDER BY id"
            ),
            &[&facility_id.0, &start, &end],
        )?
        .iter()
        .map(row_booking)
        .collect::<Result<_, _>>()?;
    for booking in waiting {
        let request = Request { start: booking.start, end: booking.end, quantity: booking.quantity };
        let holding = held(db, facility_id, booking.start, booking.end, None)?;
        if first_full_slot(calendar.unit, calendar.capacity, &holding, request).is_some() {
            continue;
        }
        let at = now_ms();
        db.execute(
            "UPDATE bookings SET state = 'requested', version = version + 1, updated_at_ms = $2 WHERE id = $1",
            &[&booking.id, &at],
        )?;
        insert_step(db, booking.id, "promote", &serde_json::json!({}), "system", BookingState::Requested, at)?;
        let moved = load_booking(db, booking.id)?.ok_or_else(|| StoreError::backend("a promoted booking vanished"))?;
        insert_audit(db, promoted(&moved))?;
    }
    Ok(())
}

impl Bookings for PostgresStore {
    fn set_calendar(
        &self,
        facility_id: ListingId,
        calendar: &Calendar,
        audit: &dyn Fn(&FacilityCalendar) -> NewAudit,
    ) -> Result<FacilityCalendar, StoreError> {
        self.write(|db| {
            if db.query_opt("SELECT 1 FROM listings WHERE id = $1", &[&facility_id.0])?.is_none() {
                return Err(StoreError::NotFound(facility_id));
            }
            db.execute(
                "INSERT INTO facility_calendars (facility_id, calendar, version, updated_at_ms) VALUES ($1, $2, 1, $3)
                 ON CONFLICT (facility_id) DO UPDATE SET calendar = excluded.calendar,
                     version = facility_calendars.version + 1, updated_at_ms = excluded.updated_at_ms",
                &[&facility_id.0, &serde_json::to_string(calendar)?, &now_ms()],
            )?;
            let stored = load_calendar(db, facility_id)?.ok_or_else(|| StoreError::backend("the calendar vanished"))?;
            insert_audit(db, audit(&stored))?;
            Ok(stored)
        })
    }

    fn calendar(&self, facility_id: ListingId) -> Result<Option<FacilityCalendar>, StoreError> {
        self.read(|db| load_calendar(db, facility_id))
    }

    fn calendars(&self) -> Result<Vec<FacilityCalendar>, StoreError> {
        self.read(|db| {
            db.query(
                "SELECT facility_id, calendar, version, updated_at_ms FROM facility_calendars ORDER BY facility_id",
                &[],
            )?
            .iter()
            .map(row_calendar)
            .collect()
        })
    }

    fn create_booking(&self, booking: NewBooking, audit: &dyn Fn(&Booking) -> NewAudit) -> Result<Booking, StoreError> {
        self.write(|db| {
            let calendar = locked_calendar(db, booking.facility_id)?;
            let request = booking.request;
            let holding = held(db, booking.facility_id, request.start, request.end, None)?;
            let state = match first_full_slot(calendar.unit, calendar.capacity, &holding, request) {
                None => BookingState::Requested,
                Some(_) if booking.waitlist => BookingState::Waitlisted,
                Some((slot, taken)) => {
                    return Err(StoreError::WrongState(full_slot_message(slot, taken, calendar.capacity)));
                }
            };
            let mut covered = 0;
            if let Some(voucher_id) = booking.voucher_id {
                let voucher = load_voucher(db, voucher_id, true)?
                    .ok_or_else(|| StoreError::WrongState(format!("voucher {voucher_id} does not exist")))?;
                covered = voucher.balance_fen.min(booking.charge_fen);
                if covered <= 0 && booking.charge_fen > 0 {
                    return Err(StoreError::WrongState(format!("voucher {voucher_id} has no balance left")));
                }
            }
            let at = now_ms();
            let id: BookingId = db
                .query_one(
                    "INSERT INTO bookings (facility_id, booker_id, booker, booker_org, start_ms, end_ms, quantity, units, purpose, state, version, charge_fen, voucher_id, voucher_fen, charged, created_at_ms, updated_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $13, FALSE, $14, $14) RETURNING id",
                    &[
                        &booking.facility_id.0,
                        &booking.booker_id,
                        &text(&booking.booker),
                        &opt_text(&booking.booker_org),
                        &request.start,
                        &request.end,
                        &i64::from(request.quantity),
                        &i64::from(booking.units),
                        &text(&booking.purpose),
                        &state.as_str(),
                        &booking.charge_fen,
                        &booking.voucher_id,
                        &covered,
                        &at,
                    ],
                )?
                .try_get(0)?;
            if let Some(voucher_id) = booking.voucher_id
                && covered > 0
            {
                move_voucher(db, voucher_id, Some(id), "reserve", -covered, covered, at)?;
            }
            let event = if state == BookingState::Waitlisted { "waitlist" } else { "request" };
            insert_step(db, id, event, &serde_json::json!({}), &booking.booker, state, at)?;
            let created = load_booking(db, id)?.ok_or_else(|| StoreError::backend("the new booking vanished"))?;
            insert_audit(db, audit(&created))?;
            Ok(created)
        })
    }

    fn booking(&self, id: BookingId) -> Result<Option<Booking>, StoreError> {
        self.read(|db| load_booking(db, id))
    }

    fn bookings(&self, filter: &BookingFilter, limit: u32) -> Result<Vec<Booking>, StoreError> {
        let mut clauses = Vec::new();
        let mut values: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::new();
        if let Some(facilities) = &filter.facilities {
            if facilities.is_empty() {
                return Ok(Vec::new());
            }
            values.push(Box::new(facilities.iter().map(|id| id.0).collect::<Vec<uuid::Uuid>>()));
            clauses.push(format!("facility_id = ANY(${})", values.len()));
        }
        if let Some(booker) = filter.booker {
            values.push(Box::new(booker));
            clauses.push(format!("booker_id = ${}", values.len()));
        }
        if let Some(states) = &filter.states {
            if states.is_empty() {
                return Ok(Vec::new());
            }
            values.push(Box::new(states.iter().map(|s| s.as_str().to_string()).collect::<Vec<String>>()));
            clauses.push(format!("state = ANY(${})", values.len()));
        }
        if let Some((from, to)) = filter.window {
            values.push(Box::new(to));
            values.push(Box::new(from));
            clauses.push(format!("start_ms < ${} AND end_ms > ${}", values.len() - 1, values.len()));
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings {where_sql} ORDER BY start_ms, id LIMIT {limit}");
        self.read(|db| {
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            db.query(&sql, &params)?.iter().map(row_booking).collect()
        })
    }

    fn apply_booking_change(
        &self,
        change: BookingChange,
        audit: &dyn Fn(&Booking) -> NewAudit,
        promoted: &dyn Fn(&Booking) -> NewAudit,
    ) -> Result<Booking, StoreError> {
        self.write(|db| {
            let missing = || StoreError::WrongState(format!("booking {} does not exist", change.booking_id));
            let facility_id = ListingId(
                db.query_opt("SELECT facility_id FROM bookings WHERE id = $1", &[&change.booking_id])?
                    .ok_or_else(missing)?
                    .try_get(0)?,
            );
            // Writers of one facility take turns from here on.
            let calendar = locked_calendar(db, facility_id)?;
            let before = load_booking(db, change.booking_id)?.ok_or_else(missing)?;
            if before.version != change.expected_version {
                return Err(StoreError::Stale {
                    what: format!("booking {}", change.booking_id),
                    expected: change.expected_version,
                    actual: before.version,
                });
            }
            let (start, end) = change.reschedule.unwrap_or((before.start, before.end));
            if change.reschedule.is_some() {
                let holding = held(db, facility_id, start, end, Some(before.id))?;
                let request = Request { start, end, quantity: before.quantity };
                if let Some((slot, taken)) = first_full_slot(calendar.unit, calendar.capacity, &holding, request) {
                    return Err(StoreError::WrongState(full_slot_message(slot, taken, calendar.capacity)));
                }
            }
            let at = now_ms();
            db.execute(
                "UPDATE bookings SET state = $2, version = version + 1, start_ms = $3, end_ms = $4, charged = $5, updated_at_ms = $6 WHERE id = $1 AND version = $7",
                &[&before.id, &change.state.as_str(), &start, &end, &change.charged, &at, &change.expected_version],
            )?;
            if let Some(voucher_id) = before.voucher_id
                && before.voucher_fen > 0
            {
                match change.voucher {
                    VoucherMove::Keep => {}
                    VoucherMove::Release => {
                        load_voucher(db, voucher_id, true)?;
                        move_voucher(db, voucher_id, Some(before.id), "release", before.voucher_fen, -before.voucher_fen, at)?
                    }
                    VoucherMove::Spend => {
                        load_voucher(db, voucher_id, true)?;
                        move_voucher(db, voucher_id, Some(before.id), "spend", 0, -before.voucher_fen, at)?
                    }
                }
            }
            insert_step(db, before.id, change.event.name(), &serde_json::to_value(&change.event)?, &change.actor, change.state, at)?;
            let frees = before.state.holds_capacity() && (!change.state.holds_capacity() || change.reschedule.is_some());
            if frees {
                promote_waitlist(db, facility_id, before.start, before.end, promoted)?;
            }
            let after = load_booking(db, before.id)?.ok_or_else(|| StoreError::backend("the booking vanished"))?;
            insert_audit(db, audit(&after))?;
            Ok(after)
        })
    }

    fn grant_clearance(&self, clearance: Clearance, audit: NewAudit) -> Result<Clearance, StoreError> {
        self.write(|db| {
            db.execute(
                "INSERT INTO facility_clearances (facility_id, user_id, username, valid_until_ms, granted_by, granted_at_ms) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (facility_id, user_id) DO UPDATE SET valid_until_ms = excluded.valid_until_ms, granted_by = excluded.granted_by, granted_at_ms = excluded.granted_at_ms",
                &[
                    &clearance.facility_id.0,
                    &clearance.user_id,
                    &text(&clearance.username),
                    &clearance.valid_until,
                    &text(&clearance.granted_by),
                    &clearance.granted_at,
                ],
            )?;
            insert_audit(db, audit)?;
            Ok(clearance)
        })
    }

    fn clearance(&self, facility_id: ListingId, user_id: UserId) -> Result<Option<Clearance>, StoreError> {
        Ok(self.clearances(facility_id)?.into_iter().find(|c| c.user_id == user_id))
    }

    fn clearances(&self, facility_id: ListingId) -> Result<Vec<Clearance>, StoreError> {
        self.read(|db| {
            db.query(
                "SELECT user_id, username, valid_until_ms, granted_by, granted_at_ms FROM facility_clearances WHERE facility_id = $1 ORDER BY username",
                &[&facility_id.0],
            )?
            .iter()
            .map(|r| {
                Ok(Clearance {
                    facility_id,
                    user_id: r.try_get(0)?,
                    username: r.try_get(1)?,
                    valid_until: r.try_get(2)?,
                    granted_by: r.try_get(3)?,
                    granted_at: r.try_get(4)?,
                })
            })
            .collect()
        })
    }

    fn issue_voucher(&self, voucher: NewVoucher, audit: &dyn Fn(&Voucher) -> NewAudit) -> Result<Voucher, StoreError> {
        self.write(|db| {
            let at = now_ms();
            let id: VoucherId = db
                .query_one(
                    "INSERT INTO vouchers (org_id, organisation, amount_fen, balance_fen, reserved_fen, spent_fen, issuing_region, accepted_regions, valid_until_ms, issued_by, created_at_ms)
                     VALUES ($1, $2, $3, 0, 0, 0, $4, $5, $6, $7, $8) RETURNING id",
                    &[
                        &voucher.org_id,
                        &text(&voucher.organisation),
                        &voucher.amount_fen,
                        &text(&voucher.issuing_region),
                        &serde_json::to_string(&voucher.accepted_regions)?,
                        &voucher.valid_until,
                        &text(&voucher.issued_by),
                        &at,
                    ],
                )?
                .try_get(0)?;
            move_voucher(db, id, None, "issue", voucher.amount_fen, 0, at)?;
            let issued = load_voucher(db, id, false)?.ok_or_else(|| StoreError::backend("the new voucher vanished"))?;
            insert_audit(db, audit(&issued))?;
            Ok(issued)
        })
    }

    fn voucher(&self, id: VoucherId) -> Result<Option<Voucher>, StoreError> {
        self.read(|db| load_voucher(db, id, false))
    }

    fn vouchers(&self, orgs: Option<&[OrgId]>) -> Result<Vec<Voucher>, StoreError> {
        self.read(|db| {
            let rows = match orgs {
                None => db.query(&format!("SELECT {VOUCHER_COLUMNS} FROM vouchers ORDER BY id DESC"), &[])?,
                Some([]) => return Ok(Vec::new()),
                Some(orgs) => {
                    let ids: Vec<i64> = orgs.iter().map(|o| o.0).collect();
                    db.query(
                        &format!("SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE org_id = ANY($1) ORDER BY id DESC"),
                        &[&ids],
                    )?
                }
            };
            rows.iter().map(row_voucher).collect()
        })
    }

    fn voucher_ledger(&self, id: VoucherId) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read(|db| {
            db.query(
                "SELECT id, voucher_id, booking_id, kind, amount_fen, reserved_fen, balance_after_fen, at_ms FROM voucher_ledger WHERE voucher_id = $1 ORDER BY id",
                &[&id],
            )?
            .iter()
            .map(|r| {
                Ok(LedgerEntry {
                    id: r.try_get(0)?,
                    voucher_id: r.try_get(1)?,
                    booking_id: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    amount_fen: r.try_get(4)?,
                    reserved_fen: r.try_get(5)?,
                    balance_after_fen: r.try_get(6)?,
                    at: r.try_get(7)?,
                })
            })
            .collect()
        })
    }

    fn voucher_flows(&self) -> Result<Vec<VoucherFlow>, StoreError> {
        self.read(|db| {
            db.query(
                "SELECT v.issuing_region, b.facility_id, (-SUM(l.reserved_fen))::BIGINT FROM voucher_ledger l
                 JOIN vouchers v ON v.id = l.voucher_id JOIN bookings b ON b.id = l.booking_id
                 WHERE l.kind = 'spend' GROUP BY v.issuing_region, b.facility_id ORDER BY v.issuing_region, b.facility_id",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(VoucherFlow {
                    issuing_region: r.try_get(0)?,
                    facility_id: ListingId(r.try_get(1)?),
                    spent_fen: r.try_get(2)?,
                })
            })
            .collect()
        })
    }
}
