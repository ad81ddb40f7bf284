//! `Deals` on SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use xietong_domain::deal::DealState;
use xietong_domain::{ListingId, UserId};

use super::accounts::insert_audit;
use super::{SqliteStore, fmt_utc, now, parse_time, placeholders};
use crate::{Broker, Deal, DealChange, DealFilter, DealId, DealStep, Deals, NewAudit, NewDeal, StoreError};

const DEAL_COLUMNS: &str = "id, listing_id, from_listing_id, asker_org, owner_org, asker_user_id, message, state, version, created_at, updated_at";

fn row_deal(row: &Row<'_>) -> rusqlite::Result<(Deal, String, String, String)> {
    let listing_id: String = row.get(1)?;
    let from_listing_id: Option<String> = row.get(2)?;
    let state: String = row.get(7)?;
    let created_at: String = row.get(9)?;
    let updated_at: String = row.get(10)?;
    let parse_id = |idx: usize, text: &str| {
        text.parse::<ListingId>()
            .map_err(|err| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(err)))
    };
    let deal = Deal {
        id: row.get(0)?,
        listing_id: parse_id(1, &listing_id)?,
        from_listing_id: from_listing_id.as_deref().map(|t| parse_id(2, t)).transpose()?,
        asker_org: row.get(3)?,
        owner_org: row.get(4)?,
        asker_user_id: row.get(5)?,
        message: row.get(6)?,
        state: DealState::Proposed,
        version: row.get(8)?,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        updated_at: time::OffsetDateTime::UNIX_EPOCH,
        brokers: Vec::new(),
        timeline: Vec::new(),
    };
    Ok((deal, state, created_at, updated_at))
}

/// Loads a deal with its brokers and timeline.
fn load(conn: &Connection, id: DealId) -> Result<Option<Deal>, StoreError> {
    let found = conn
        .prepare_cached(&format!("SELECT {DEAL_COLUMNS} FROM deals WHERE id = ?1"))?
        .query_row([id], row_deal)
        .optional()?;
    let Some(parts) = found else { return Ok(None) };
    Ok(Some(complete(conn, parts)?))
}

fn complete(
    conn: &Connection,
    (mut deal, state, created_at, updated_at): (Deal, String, String, String),
) -> Result<Deal, StoreError> {
    deal.state = state.parse().map_err(StoreError::backend)?;
    deal.created_at = parse_time(&created_at)?;
    deal.updated_at = parse_time(&updated_at)?;
    let mut brokers = conn.prepare_cached(
        "SELECT side, user_id, username FROM deal_brokers WHERE deal_id = ?1 ORDER BY side, username",
    )?;
    let rows = brokers
        .query_map([deal.id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, UserId>(1)?, r.get::<_, String>(2)?)))?;
    for row in rows {
        let (side, user_id, username) = row?;
        deal.brokers.push(Broker { side: side.parse().map_err(StoreError::backend)?, user_id, username });
    }
    let mut events = conn.prepare_cached(
        "SELECT event, side, actor_id, actor, state, at FROM deal_events WHERE deal_id = ?1 ORDER BY id",
    )?;
    let rows = events.query_map([deal.id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<UserId>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    for row in rows {
        let (event, side, actor_id, actor, state, at) = row?;
        deal.timeline.push(DealStep {
            event: serde_json::from_str(&event)?,
            side: side.parse().map_err(StoreError::backend)?,
            actor_id,
            actor,
            state: state.parse().map_err(StoreError::backend)?,
            at: parse_time(&at)?,
        });
    }
    Ok(deal)
}

fn insert_step(tx: &Connection, deal_id: DealId, step: &DealStep) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT INTO deal_events (deal_id, event, side, actor_id, actor, state, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
        .execute(params![
            deal_id,
            serde_json::to_string(&step.event)?,
            step.side.as_str(),
            step.actor_id,
            step.actor,
            step.state.as_str(),
            fmt_utc(step.at),
        ])?;
    Ok(())
}

fn require_listing(conn: &Connection, id: ListingId) -> Result<(), StoreError> {
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM listings WHERE id = ?1)")?
        .query_row([id.to_string()], |r| r.get(0))?;
    if exists { Ok(()) } else { Err(StoreError::NotFound(id)) }
}

impl Deals for SqliteStore {
    fn create_deal(&self, deal: NewDeal, audit: &dyn Fn(&Deal) -> NewAudit) -> Result<Deal, StoreError> {
        self.write(|tx| {
            require_listing(tx, deal.listing_id)?;
            if let Some(from) = deal.from_listing_id {
                require_listing(tx, from)?;
            }
            let at = fmt_utc(now());
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO deals (listing_id, from_listing_id, asker_org, owner_org, asker_user_id, message, state, version, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'proposed', 1, ?7, ?7)",
                )?
                .execute(params![
                    deal.listing_id.to_string(),
                    deal.from_listing_id.map(|id| id.to_string()),
                    deal.asker_org,
                    deal.owner_org,
                    deal.asker_user_id,
                    deal.message,
                    at,
                ]);
            match inserted {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(error, _)) if error.code == rusqlite::ErrorCode::ConstraintViolation => {
                    return Err(StoreError::WrongState(format!(
                        "{} already has an open deal on this listing",
                        deal.asker_org
                    )));
                }
                Err(other) => return Err(other.into()),
            }
            let created = load(tx, tx.last_insert_rowid())?.ok_or_else(|| StoreError::backend("the new deal vanished"))?;
            insert_audit(tx, audit(&created))?;
            Ok(created)
        })
    }

    fn deal(&self, id: DealId) -> Result<Option<Deal>, StoreError> {
        self.read(|conn| load(conn, id))
    }

    fn apply_deal_change(&self, change: DealChange, audit: &dyn Fn(&Deal) -> NewAudit) -> Result<Deal, StoreError> {
        self.write(|tx| {
            let at = now();
            let updated = tx
                .prepare_cached("UPDATE deals SET state = ?1, version = version + 1, updated_at = ?2 WHERE id = ?3 AND version = ?4")?
                .execute(params![change.state.as_str(), fmt_utc(at), change.deal_id, change.expected_version])?;
            if updated == 0 {
                let actual: Option<i64> =
                    tx.prepare_cached("SELECT version FROM deals WHERE id = ?1")?.query_row([change.deal_id], |r| r.get(0)).optional()?;
                return Err(match actual {
                    Some(actual) => StoreError::Stale { what: format!("deal {}", change.deal_id), expected: change.expected_version, actual },
                    None => StoreError::WrongState(format!("deal {} does not exist", change.deal_id)),
                });
            }
            if let Some((user_id, username)) = &change.broker {
                tx.prepare_cached("INSERT INTO deal_brokers (deal_id, side, user_id, username) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")?
                    .execute(params![change.deal_id, change.side.as_str(), user_id, username])?;
            }
            let step = DealStep {
                event: change.event.clone(),
                side: change.side,
                actor_id: change.actor_id,
                actor: change.actor.clone(),
                state: change.state,
                at,
            };
            insert_step(tx, change.deal_id, &step)?;
            if let Some((engagement, state)) = &change.engagement {
                crate::sqlite::talent::insert_engagement(tx, engagement, *state)?;
            }
            let deal = load(tx, change.deal_id)?.ok_or_else(|| StoreError::backend("the deal vanished"))?;
            insert_audit(tx, audit(&deal))?;
            Ok(deal)
        })
    }

    fn deals(&self, filter: &DealFilter, limit: u32) -> Result<Vec<Deal>, StoreError> {
        let mut clauses = Vec::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(orgs) = &filter.orgs {
            let mut parties = Vec::new();
            if !orgs.is_empty() {
                let list = placeholders(orgs.len());
                parties.push(format!("asker_org IN ({list}) OR owner_org IN ({list})"));
                values.extend(orgs.iter().chain(orgs).map(|o| rusqlite::types::Value::Text(o.clone())));
            }
            if let Some(broker) = filter.broker {
                parties.push("id IN (SELECT deal_id FROM deal_brokers WHERE user_id = ?)".into());
                values.push(rusqlite::types::Value::Integer(broker.0));
            }
            if parties.is_empty() {
                return Ok(Vec::new());
            }
            clauses.push(format!("({})", parties.join(" OR ")));
        }
        if let Some(state) = filter.state {
            clauses.push("state = ?".into());
            values.push(rusqlite::types::Value::Text(state.as_str().into()));
        }
        if let Some(listing) = filter.listing {
            clauses.push("listing_id = ?".into());
            values.push(rusqlite::types::Value::Text(listing.to_string()));
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let sql = format!("SELECT {DEAL_COLUMNS} FROM deals {where_sql} ORDER BY id DESC LIMIT {limit}");
        self.read(|conn| {
            let rows: Vec<_> = conn
                .prepare_cached(&sql)?
                .query_map(params_from_iter(values.iter()), row_deal)?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter().map(|parts| complete(conn, parts)).collect()
        })
    }
}
