//! `Deals` on PostgreSQL.

use postgres::{GenericClient, Row};
use xietong_domain::ListingId;

use super::accounts::insert_audit;
use super::{Db, is_unique_violation, now, text};
use crate::{
    Broker, Deal, DealChange, DealFilter, DealId, DealStep, Deals, NewAudit, NewDeal, PostgresStore, StoreError,
};

const DEAL_COLUMNS: &str = "id, listing_id, from_listing_id, asker_org, owner_org, asker_user_id, message, state, version, created_at, updated_at";

fn row_deal(row: &Row) -> Result<Deal, StoreError> {
    let state: String = row.try_get(7)?;
    Ok(Deal {
        id: row.try_get(0)?,
        listing_id: ListingId(row.try_get(1)?),
        from_listing_id: row.try_get::<_, Option<uuid::Uuid>>(2)?.map(ListingId),
        asker_org: row.try_get(3)?,
        owner_org: row.try_get(4)?,
        asker_user_id: row.try_get(5)?,
        message: row.try_get(6)?,
        state: state.parse().map_err(StoreError::backend)?,
        version: row.try_get(8)?,
        created_at: row.try_get(9)?,
        updated_at: row.try_get(10)?,
        brokers: Vec::new(),
        timeline: Vec::new(),
    })
}

/// Adds the brokers and the timeline to a deal row.
fn complete<C: GenericClient>(db: &mut Db<'_, C>, mut deal: Deal) -> Result<Deal, StoreError> {
    for row in db.query(
        "SELECT side, user_id, username FROM deal_brokers WHERE deal_id = $1 ORDER BY side, username",
        &[&deal.id],
    )? {
        let side: String = row.try_get(0)?;
        deal.brokers.push(Broker {
            side: side.parse().map_err(StoreError::backend)?,
            user_id: row.try_get(1)?,
            username: row.try_get(2)?,
        });
    }
    for row in db.query(
        "SELECT event, side, actor_id, actor, state, at FROM deal_events WHERE deal_id = $1 ORDER BY id",
        &[&deal.id],
    )? {
        let event: String = row.try_get(0)?;
        let side: String = row.try_get(1)?;
        let state: String = row.try_get(4)?;
        deal.timeline.push(DealStep {
            event: serde_json::from_str(&event)?,
            side: side.parse().map_err(StoreError::backend)?,
            actor_id: row.try_get(2)?,
            actor: row.try_get(3)?,
            state: state.parse().map_err(StoreError::backend)?,
            at: row.try_get(5)?,
        });
    }
    Ok(deal)
}

fn load<C: GenericClient>(db: &mut Db<'_, C>, id: DealId) -> Result<Option<Deal>, StoreError> {
    let Some(row) = db.query_opt(&format!("SELECT {DEAL_COLUMNS} FROM deals WHERE id = $1"), &[&id])? else {
        return Ok(None);
    };
    let deal = row_deal(&row)?;
    Ok(Some(complete(db, deal)?))
}

fn require_listing<C: GenericClient>(db: &mut Db<'_, C>, id: ListingId) -> Result<(), StoreError> {
    match db.query_opt("SELECT 1 FROM listings WHERE id = $1", &[&id.0])? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(id)),
    }
}

impl Deals for PostgresStore {
    fn create_deal(&self, deal: NewDeal, audit: &dyn Fn(&Deal) -> NewAudit) -> Result<Deal, StoreError> {
        self.write(|db| {
            require_listing(db, deal.listing_id)?;
            if let Some(from) = deal.from_listing_id {
                require_listing(db, from)?;
            }
            let at = now();
            let inserted = db.execute_in_savepoint(
                "INSERT INTO deals (listing_id, from_listing_id, asker_org, owner_org, asker_user_id, message, state, version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'proposed', 1, $7, $7)",
                &[
                    &deal.listing_id.0,
                    &deal.from_listing_id.map(|id| id.0),
                    &text(&deal.asker_org),
                    &text(&deal.owner_org),
                    &deal.asker_user_id,
                    &text(&deal.message),
                    &at,
                ],
            )?;
            match inserted {
                Ok(_) => {}
                Err(err) if is_unique_violation(&err) => {
                    return Err(StoreError::WrongState(format!(
                        "{} already has an open deal on this listing",
                        deal.asker_org
                    )));
                }
                Err(err) => return Err(err.into()),
            }
            let id: DealId = db
                .query_one(
                    "SELECT id FROM deals WHERE listing_id = $1 AND asker_org = $2 ORDER BY id DESC LIMIT 1",
                    &[&deal.listing_id.0, &text(&deal.asker_org)],
                )?
                .try_get(0)?;
            let created = load(db, id)?.ok_or_else(|| StoreError::backend("the new deal vanished"))?;
            insert_audit(db, audit(&created))?;
            Ok(created)
        })
    }

    fn deal(&self, id: DealId) -> Result<Option<Deal>, StoreError> {
        self.read(|db| load(db, id))
    }

    fn apply_deal_change(&self, change: DealChange, audit: &dyn Fn(&Deal) -> NewAudit) -> Result<Deal, StoreError> {
        self.write(|db| {
            let at = now();
            // The row lock of the update makes concurrent events on one deal wait for each
            // other; the later ones then find another version and change nothing.
            let updated = db.execute(
                "UPDATE deals SET state = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
                &[&change.state.as_str(), &at, &change.deal_id, &change.expected_version],
            )?;
            if updated == 0 {
                let actual = db.query_opt("SELECT version FROM deals WHERE id = $1", &[&change.deal_id])?;
                return Err(match actual {
                    Some(row) => StoreError::Stale {
                        what: format!("deal {}", change.deal_id),
                        expected: change.expected_version,
                        actual: row.try_get(0)?,
                    },
                    None => StoreError::WrongState(format!("deal {} does not exist", change.deal_id)),
                });
            }
            if let Some((user_id, username)) = &change.broker {
                db.execute(
                    "INSERT INTO deal_brokers (deal_id, side, user_id, username) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&change.deal_id, &change.side.as_str(), user_id, &text(username)],
                )?;
            }
            db.execute(
                "INSERT INTO deal_events (deal_id, event, side, actor_id, actor, state, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &change.deal_id,
                    &serde_json::to_string(&change.event)?,
                    &change.side.as_str(),
                    &change.actor_id,
                    &text(&change.actor),
                    &change.state.as_str(),
                    &at,
                ],
            )?;
            if let Some((engagement, state)) = &change.engagement {
                crate::postgres::talent::lock_talent(db, engagement.talent_id)?;
                crate::postgres::talent::insert_engagement(db, engagement, *state)?;
            }
            let deal = load(db, change.deal_id)?.ok_or_else(|| StoreError::backend("the deal vanished"))?;
            insert_audit(db, audit(&deal))?;
            Ok(deal)
        })
    }

    fn deals(&self, filter: &DealFilter, limit: u32) -> Result<Vec<Deal>, StoreError> {
        let mut clauses = Vec::new();
        let mut values: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::new();
        if let Some(orgs) = &filter.orgs {
            let mut parties = Vec::new();
            if !orgs.is_empty() {
                values.push(Box::new(super::texts(orgs)));
                parties.push(format!("asker_org = ANY(${n}) OR owner_org = ANY(${n})", n = values.len()));
            }
            if let Some(broker) = filter.broker {
                values.push(Box::new(broker));
                parties.push(format!("id IN (SELECT deal_id FROM deal_brokers WHERE user_id = ${})", values.len()));
            }
            if parties.is_empty() {
                return Ok(Vec::new());
            }
            clauses.push(format!("({})", parties.join(" OR ")));
        }
        if let Some(state) = filter.state {
            values.push(Box::new(state.as_str().to_string()));
            clauses.push(format!("state = ${}", values.len()));
        }
        if let Some(listing) = filter.listing {
            values.push(Box::new(listing.0));
            clauses.push(format!("listing_id = ${}", values.len()));
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let sql = format!("SELECT {DEAL_COLUMNS} FROM deals {where_sql} ORDER BY id DESC LIMIT {limit}");
        self.read(|db| {
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            let rows = db.query(&sql, &params)?;
            rows.iter().map(|row| row_deal(row).and_then(|deal| complete(db, deal))).collect()
        })
    }
}
