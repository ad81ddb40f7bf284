//! `Bookings` on SQLite. Every write runs in the one writer's `BEGIN IMMEDIATE` transaction, so
//! the capacity count and the insert that relies on it see no concurrent writer.

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use xietong_domain::booking::{BookingState, Calendar, Held, Request, VoucherMove, first_full_slot};
use xietong_domain::{ListingId, OrgId, UserId};

use super::accounts::insert_audit;
use super::{SqliteStore, placeholders};
use crate::bookings::full_slot_message;
use crate::{
    Booking, BookingChange, BookingFilter, BookingId, BookingStep, Bookings, Clearance, FacilityCalendar, LedgerEntry,
    NewAudit, NewBooking, NewVoucher, StoreError, Voucher, VoucherFlow, VoucherId,
};

fn now_ms() -> i64 {
    xietong_domain::booking::to_ms(time::OffsetDateTime::now_utc())
}

fn parse_listing(idx: usize, text: &str) -> rusqlite::Result<ListingId> {
    text.parse::<ListingId>()
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(err)))
}

fn parse_state(idx: usize, text: &str) -> rusqlite::Result<BookingState> {
    text.parse::<BookingState>().map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            Box::<dyn std::error::Error + Send + Sync>::from(err),
        )
    })
}

fn row_calendar(row: &Row<'_>) -> rusqlite::Result<(ListingId, String, i64, i64)> {
    let id: String = row.get(0)?;
    Ok((parse_listing(0, &id)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn calendar_of(
    (facility_id, json, version, updated_at): (ListingId, String, i64, i64),
) -> Result<FacilityCalendar, StoreError> {
    Ok(FacilityCalendar { facility_id, calendar: serde_json::from_str(&json)?, version, updated_at })
}

fn load_calendar(conn: &Connection, facility_id: ListingId) -> Result<Option<FacilityCalendar>, StoreError> {
    conn.prepare_cached(
        "SELECT facility_id, calendar, version, updated_at_ms FROM facility_calendars WHERE facility_id = ?1",
    )?
    .query_row([facility_id.to_string()], row_calendar)
    .optional()?
    .map(calendar_of)
    .transpose()
}

const BOOKING_COLUMNS: &str = "id, facility_id, booker_id, booker, booker_org, start_ms, end_ms, quantity, units, purpose, state, version, charge_fen, voucher_id, voucher_fen, charged, created_at_ms, updated_at_ms";

fn row_booking(row: &Row<'_>) -> rusqlite::Result<Booking> {
    let facility: String = row.get(1)?;
    let state: String = row.get(10)?;
    Ok(Booking {
        id: row.get(0)?,
        facility_id: parse_listing(1, &facility)?,
        booker_id: row.get(2)?,
        booker: row.get(3)?,
        booker_org: row.get(4)?,
        start: row.get(5)?,
        end: row.get(6)?,
        quantity: row.get(7)?,
        units: row.get(8)?,
        purpose: row.get(9)?,
        state: parse_state(10, &state)?,
        version: row.get(11)?,
        charge_fen: row.get(12)?,
        voucher_id: row.get(13)?,
        voucher_fen: row.get(14)?,
        charged: row.get(15)?,
        created_at: row.get(16)?,
        updated_at: row.get(17)?,
        timeline: Vec::new(),
    })
}

fn load_booking(conn: &Connection, id: BookingId) -> Result<Option<Booking>, StoreError> {
    let Some(mut booking) = conn
        .prepare_cached(&format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = ?1"))?
        .query_row([id], row_booking)
        .optional()?
    else {
        return Ok(None);
    };
    let mut steps = conn.prepare_cached(
        "SELECT event, detail, actor, state, at_ms FROM booking_events WHERE booking_id = ?1 ORDER BY id",
    )?;
    let rows = steps.query_map([id], |r| {
        let state: String = r.get(3)?;
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            parse_state(3, &state)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for row in rows {
        let (event, detail, actor, state, at) = row?;
        booking.timeline.push(BookingStep { event, detail: serde_json::from_str(&detail)?, actor, state, at });
    }
    Ok(Some(booking))
}

fn insert_step(
    tx: &Connection,
    id: BookingId,
    event: &str,
    detail: &serde_json::Value,
    actor: &str,
    state: BookingState,
    at: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO booking_events (booking_id, event, detail, actor, state, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![id, event, detail.to_string(), actor, state.as_str(), at])?;
    Ok(())
}

/// Capacity held by requested and approved bookings of the facility overlapping `[start, end)`,
/// except `except`.
fn held(
    tx: &Connection,
    facility_id: ListingId,
    start: i64,
    end: i64,
    except: Option<BookingId>,
) -> Result<Vec<Held>, StoreError> {
    let mut statement = tx.prepare_cached(
        "SELECT start_ms, end_ms, quantity FROM bookings
         WHERE facility_id = ?1 AND state IN ('requested', 'approved') AND start_ms < ?3 AND end_ms > ?2 AND id <> ?4",
    )?;
    let rows = statement.query_map(params![facility_id.to_string(), start, end, except.unwrap_or(-1)], |r| {
        Ok(Held { start: r.get(0)?, end: r.get(1)?, quantity: r.get(2)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn locked_calendar(tx: &Connection, facility_id: ListingId) -> Result<Calendar, StoreError> {
    // The single writer's transaction is the lock: nothing else writes until it commits.
    load_calendar(tx, facility_id)?
        .map(|c| c.calendar)
        .ok_or_else(|| StoreError::WrongState(format!("facility {facility_id} has no booking calendar")))
}

const VOUCHER_COLUMNS: &str = "id, org_id, organisation, amount_fen, balance_fen, reserved_fen, spent_fen, issuing_region, accepted_regions, valid_until_ms, issued_by, created_at_ms";

fn row_voucher(row: &Row<'_>) -> rusqlite::Result<(Voucher, String)> {
    Ok((
        Voucher {
            id: row.get(0)?,
            org_id: row.get(1)?,
            organisation: row.get(2)?,
            amount_fen: row.get(3)?,
            balance_fen: row.get(4)?,
            reserved_fen: row.get(5)?,
            spent_fen: row.get(6)?,
            issuing_region: row.get(7)?,
            accepted_regions: Vec::new(),
            valid_until: row.get(9)?,
            issued_by: row.get(10)?,
            created_at: row.get(11)?,
        },
        row.get(8)?,
    ))
}

fn voucher_of((mut voucher, regions): (Voucher, String)) -> Result<Voucher, StoreError> {
    voucher.accepted_regions = serde_json::from_str(&regions)?;
    Ok(voucher)
}

fn load_voucher(conn: &Connection, id: VoucherId) -> Result<Option<Voucher>, StoreError> {
    conn.prepare_cached(&format!("SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE id = ?1"))?
        .query_row([id], row_voucher)
        .optional()?
        .map(voucher_of)
        .transpose()
}

/// Moves a voucher's money and writes the ledger entry: `balance` and `reserved` are the
/// changes of the two sums.
fn move_voucher(
    tx: &Connection,
    id: VoucherId,
    booking: Option<BookingId>,
    kind: &str,
    balance: i64,
    reserved: i64,
    at: i64,
) -> Result<(), StoreError> {
    let spent = if kind == "spend" { -reserved } else { 0 };
    let after: i64 = tx
        .prepare_cached(
            "UPDATE vouchers SET balance_fen = balance_fen + ?2, reserved_fen = reserved_fen + ?3, spent_fen = spent_fen + ?4
             WHERE id = ?1 RETURNING balance_fen",
        )?
        .query_row(params![id, balance, reserved, spent], |r| r.get(0))?;
    tx.prepare_cached(
        "INSERT INTO voucher_ledger (voucher_id, booking_id, kind, amount_fen, reserved_fen, balance_after_fen, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![id, booking, kind, balance, reserved, after, at])?;
    Ok(())
}

/// Moves waitlisted bookings of the facility overlapping `[start, end)` that now fit to
/// `requested`, oldest first.
fn promote_waitlist(
    tx: &Connection,
    facility_id: ListingId,
    start: i64,
    end: i64,
    promoted: &dyn Fn(&Booking) -> NewAudit,
) -> Result<(), StoreError> {
    let calendar = locked_calendar(tx, facility_id)?;
    let waiting: Vec<Booking> = tx
        .prepare_cached(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE facility_id = ?1 AND state = 'waitlisted' AND start_ms < ?3 AND end_ms > ?2 ORDER BY id"
        ))?
        .query_map(params![facility_id.to_string(), start, end], row_booking)?
        .collect::<rusqlite::Result<_>>()?;
    for booking in waiting {
        let request = Request { start: booking.start, end: booking.end, quantity: booking.quantity };
        let holding = held(tx, facility_id, booking.start, booking.end, None)?;
        if first_full_slot(calendar.unit, calendar.capacity, &holding, request).is_some() {
            continue;
        }
        let at = now_ms();
        tx.prepare_cached(
            "UPDATE bookings SET state = 'requested', version = version + 1, updated_at_ms = ?2 WHERE id = ?1",
        )?
        .execute(params![booking.id, at])?;
        insert_step(tx, booking.id, "promote", &serde_json::json!({}), "system", BookingState::Requested, at)?;
        let moved = load_booking(tx, booking.id)?.ok_or_else(|| StoreError::backend("a promoted booking vanished"))?;
        insert_audit(tx, promoted(&moved))?;
    }
    Ok(())
}

impl Bookings for SqliteStore {
    fn set_calendar(
        &self,
        facility_id: ListingId,
        calendar: &Calendar,
        audit: &dyn Fn(&FacilityCalendar) -> NewAudit,
    ) -> Result<FacilityCalendar, StoreError> {
        self.write(|tx| {
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM listings WHERE id = ?1)")?
                .query_row([facility_id.to_string()], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::NotFound(facility_id));
            }
            tx.prepare_cached(
                "INSERT INTO facility_calendars (facility_id, calendar, version, updated_at_ms) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT (facility_id) DO UPDATE SET calendar = excluded.calendar, version = version + 1, updated_at_ms = excluded.updated_at_ms",
            )?
            .execute(params![facility_id.to_string(), serde_json::to_string(calendar)?, now_ms()])?;
            let stored = load_calendar(tx, facility_id)?.ok_or_else(|| StoreError::backend("the calendar vanished"))?;
            insert_audit(tx, audit(&stored))?;
            Ok(stored)
        })
    }

    fn calendar(&self, facility_id: ListingId) -> Result<Option<FacilityCalendar>, StoreError> {
        self.read(|conn| load_calendar(conn, facility_id))
    }

    fn calendars(&self) -> Result<Vec<FacilityCalendar>, StoreError> {
        self.read(|conn| {
            let rows: Vec<_> = conn
                .prepare_cached(
                    "SELECT facility_id, calendar, version, updated_at_ms FROM facility_calendars ORDER BY facility_id",
                )?
                .query_map([], row_calendar)?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter().map(calendar_of).collect()
        })
    }

    fn create_booking(&self, booking: NewBooking, audit: &dyn Fn(&Booking) -> NewAudit) -> Result<Booking, StoreError> {
        self.write(|tx| {
            let calendar = locked_calendar(tx, booking.facility_id)?;
            let request = booking.request;
            let holding = held(tx, booking.facility_id, request.start, request.end, None)?;
            let state = match first_full_slot(calendar.unit, calendar.capacity, &holding, request) {
                None => BookingState::Requested,
                Some(_) if booking.waitlist => BookingState::Waitlisted,
                Some((slot, taken)) => return Err(StoreError::WrongState(full_slot_message(slot, taken, calendar.capacity))),
            };
            let mut covered = 0;
            if let Some(voucher_id) = booking.voucher_id {
                let voucher = load_voucher(tx, voucher_id)?
                    .ok_or_else(|| StoreError::WrongState(format!("voucher {voucher_id} does not exist")))?;
                covered = voucher.balance_fen.min(booking.charge_fen);
                if covered <= 0 && booking.charge_fen > 0 {
                    return Err(StoreError::WrongState(format!("voucher {voucher_id} has no balance left")));
                }
            }
            let at = now_ms();
            tx.prepare_cached(
                "INSERT INTO bookings (facility_id, booker_id, booker, booker_org, start_ms, end_ms, quantity, units, purpose, state, version, charge_fen, voucher_id, voucher_fen, charged, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12, ?13, 0, ?14, ?14)",
            )?
            .execute(params![
                booking.facility_id.to_string(),
                booking.booker_id,
                booking.booker,
                booking.booker_org,
                request.start,
                request.end,
                request.quantity,
                booking.units,
                booking.purpose,
                state.as_str(),
                booking.charge_fen,
                booking.voucher_id,
                covered,
                at,
            ])?;
            let id = tx.last_insert_rowid();
            if let Some(voucher_id) = booking.voucher_id
                && covered > 0
            {
                move_voucher(tx, voucher_id, Some(id), "reserve", -covered, covered, at)?;
            }
            let event = if state == BookingState::Waitlisted { "waitlist" } else { "request" };
            insert_step(tx, id, event, &serde_json::json!({}), &booking.booker, state, at)?;
            let created = load_booking(tx, id)?.ok_or_else(|| StoreError::backend("the new booking vanished"))?;
            insert_audit(tx, audit(&created))?;
            Ok(created)
        })
    }

    fn booking(&self, id: BookingId) -> Result<Option<Booking>, StoreError> {
        self.read(|conn| load_booking(conn, id))
    }

    fn bookings(&self, filter: &BookingFilter, limit: u32) -> Result<Vec<Booking>, StoreError> {
        use rusqlite::types::Value;
        let mut clauses = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        if let Some(facilities) = &filter.facilities {
            if facilities.is_empty() {
                return Ok(Vec::new());
            }
            clauses.push(format!("facility_id IN ({})", placeholders(facilities.len())));
            values.extend(facilities.iter().map(|id| Value::Text(id.to_string())));
        }
        if let Some(booker) = filter.booker {
            clauses.push("booker_id = ?".to_string());
            values.push(Value::Integer(booker.0));
        }
        if let Some(states) = &filter.states {
            if states.is_empty() {
                return Ok(Vec::new());
            }
            clauses.push(format!("state IN ({})", placeholders(states.len())));
            values.extend(states.iter().map(|s| Value::Text(s.as_str().to_string())));
        }
        if let Some((from, to)) = filter.window {
            clauses.push("start_ms < ? AND end_ms > ?".to_string());
            values.extend([Value::Integer(to), Value::Integer(from)]);
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings {where_sql} ORDER BY start_ms, id LIMIT {limit}");
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&sql)?
                .query_map(params_from_iter(values.iter()), row_booking)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn apply_booking_change(
        &self,
        change: BookingChange,
        audit: &dyn Fn(&Booking) -> NewAudit,
        promoted: &dyn Fn(&Booking) -> NewAudit,
    ) -> Result<Booking, StoreError> {
        self.write(|tx| {
            let before = load_booking(tx, change.booking_id)?
                .ok_or_else(|| StoreError::WrongState(format!("booking {} does not exist", change.booking_id)))?;
            if before.version != change.expected_version {
                return Err(StoreError::Stale {
                    what: format!("booking {}", change.booking_id),
                    expected: change.expected_version,
                    actual: before.version,
                });
            }
            let (start, end) = change.reschedule.unwrap_or((before.start, before.end));
            if change.reschedule.is_some() {
                let calendar = locked_calendar(tx, before.facility_id)?;
                let holding = held(tx, before.facility_id, start, end, Some(before.id))?;
                let request = Request { start, end, quantity: before.quantity };
                if let Some((slot, taken)) = first_full_slot(calendar.unit, calendar.capacity, &holding, request) {
                    return Err(StoreError::WrongState(full_slot_message(slot, taken, calendar.capacity)));
                }
            }
            let at = now_ms();
            tx.prepare_cached(
                "UPDATE bookings SET state = ?2, version = version + 1, start_ms = ?3, end_ms = ?4, charged = ?5, updated_at_ms = ?6 WHERE id = ?1 AND version = ?7",
            )?
            .execute(params![before.id, change.state.as_str(), start, end, change.charged, at, change.expected_version])?;
            if let Some(voucher_id) = before.voucher_id
                && before.voucher_fen > 0
            {
                match change.voucher {
                    VoucherMove::Keep => {}
                    VoucherMove::Release => move_voucher(tx, voucher_id, Some(before.id), "release", before.voucher_fen, -before.voucher_fen, at)?,
                    VoucherMove::Spend => move_voucher(tx, voucher_id, Some(before.id), "spend", 0, -before.voucher_fen, at)?,
                }
            }
            insert_step(tx, before.id, change.event.name(), &serde_json::to_value(&change.event)?, &change.actor, change.state, at)?;
            let frees = before.state.holds_capacity() && (!change.state.holds_capacity() || change.reschedule.is_some());
            if frees {
                promote_waitlist(tx, before.facility_id, before.start, before.end, promoted)?;
            }
            let after = load_booking(tx, before.id)?.ok_or_else(|| StoreError::backend("the booking vanished"))?;
            insert_audit(tx, audit(&after))?;
            Ok(after)
        })
    }

    fn grant_clearance(&self, clearance: Clearance, audit: NewAudit) -> Result<Clearance, StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO facility_clearances (facility_id, user_id, username, valid_until_ms, granted_by, granted_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (facility_id, user_id) DO UPDATE SET valid_until_ms = excluded.valid_until_ms, granted_by = excluded.granted_by, granted_at_ms = excluded.granted_at_ms",
            )?
            .execute(params![
                clearance.facility_id.to_string(),
                clearance.user_id,
                clearance.username,
                clearance.valid_until,
                clearance.granted_by,
                clearance.granted_at,
            ])?;
            insert_audit(tx, audit)?;
            Ok(clearance)
        })
    }

    fn clearance(&self, facility_id: ListingId, user_id: UserId) -> Result<Option<Clearance>, StoreError> {
        Ok(self.clearances(facility_id)?.into_iter().find(|c| c.user_id == user_id))
    }

    fn clearances(&self, facility_id: ListingId) -> Result<Vec<Clearance>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT user_id, username, valid_until_ms, granted_by, granted_at_ms FROM facility_clearances WHERE facility_id = ?1 ORDER BY username",
                )?
                .query_map([facility_id.to_string()], |r| {
                    Ok(Clearance {
                        facility_id,
                        user_id: r.get(0)?,
                        username: r.get(1)?,
                        valid_until: r.get(2)?,
                        granted_by: r.get(3)?,
                        granted_at: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn issue_voucher(&self, voucher: NewVoucher, audit: &dyn Fn(&Voucher) -> NewAudit) -> Result<Voucher, StoreError> {
        self.write(|tx| {
            let at = now_ms();
            tx.prepare_cached(
                "INSERT INTO vouchers (org_id, organisation, amount_fen, balance_fen, reserved_fen, spent_fen, issuing_region, accepted_regions, valid_until_ms, issued_by, created_at_ms)
                 VALUES (?1, ?2, ?3, 0, 0, 0, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                voucher.org_id,
                voucher.organisation,
                voucher.amount_fen,
                voucher.issuing_region,
                serde_json::to_string(&voucher.accepted_regions)?,
                voucher.valid_until,
                voucher.issued_by,
                at,
            ])?;
            let id = tx.last_insert_rowid();
            move_voucher(tx, id, None, "issue", voucher.amount_fen, 0, at)?;
            let issued = load_voucher(tx, id)?.ok_or_else(|| StoreError::backend("the new voucher vanished"))?;
            insert_audit(tx, audit(&issued))?;
            Ok(issued)
        })
    }

    fn voucher(&self, id: VoucherId) -> Result<Option<Voucher>, StoreError> {
        self.read(|conn| load_voucher(conn, id))
    }

    fn vouchers(&self, orgs: Option<&[OrgId]>) -> Result<Vec<Voucher>, StoreError> {
        let (where_sql, values): (String, Vec<i64>) = match orgs {
            None => (String::new(), Vec::new()),
            Some([]) => return Ok(Vec::new()),
            Some(orgs) => {
                (format!("WHERE org_id IN ({})", placeholders(orgs.len())), orgs.iter().map(|o| o.0).collect())
            }
        };
        self.read(|conn| {
            let rows: Vec<_> = conn
                .prepare_cached(&format!("SELECT {VOUCHER_COLUMNS} FROM vouchers {where_sql} ORDER BY id DESC"))?
                .query_map(params_from_iter(values.iter()), row_voucher)?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter().map(voucher_of).collect()
        })
    }

    fn voucher_ledger(&self, id: VoucherId) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id, voucher_id, booking_id, kind, amount_fen, reserved_fen, balance_after_fen, at_ms FROM voucher_ledger WHERE voucher_id = ?1 ORDER BY id",
                )?
                .query_map([id], |r| {
                    Ok(LedgerEntry {
                        id: r.get(0)?,
                        voucher_id: r.get(1)?,
                        booking_id: r.get(2)?,
                        kind: r.get(3)?,
                        amount_fen: r.get(4)?,
                        reserved_fen: r.get(5)?,
                        balance_after_fen: r.get(6)?,
                        at: r.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn voucher_flows(&self) -> Result<Vec<VoucherFlow>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT v.issuing_region, b.facility_id, -SUM(l.reserved_fen) FROM voucher_ledger l
                     JOIN vouchers v ON v.id = l.voucher_id JOIN bookings b ON b.id = l.booking_id
                     WHERE l.kind = 'spend' GROUP BY v.issuing_region, b.facility_id ORDER BY v.issuing_region, b.facility_id",
                )?
                .query_map([], |r| {
                    let facility: String = r.get(1)?;
                    Ok(VoucherFlow { issuing_region: r.get(0)?, facility_id: parse_listing(1, &facility)?, spent_fen: r.get(2)? })
                })?
                .collect::<rusqlite::Result<_>>()?)
        })
    }
}
