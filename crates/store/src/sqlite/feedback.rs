//! `Feedback` on SQLite.

use rusqlite::{params, params_from_iter};
use time::{Date, OffsetDateTime};
use xietong_domain::ListingId;

use super::{SqliteStore, fmt_utc};
use crate::feedback::{fmt_day, parse_day};
use crate::{Feedback, ImpressionCount, StoreError};

impl Feedback for SqliteStore {
    fn add_impressions(&self, counts: &[ImpressionCount]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            for count in counts {
                // A listing deleted since it was shown takes its counts with it.
                tx.prepare_cached(
                    "INSERT INTO match_impressions (listing_id, day, viewer_province, count)
                     SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM listings WHERE id = ?1)
                     ON CONFLICT (listing_id, day, viewer_province) DO UPDATE SET count = count + excluded.count",
                )?
                .execute(params![
                    count.listing_id.to_string(),
                    fmt_day(count.day),
                    count.viewer_province,
                    count.count as i64
                ])?;
            }
            Ok(())
        })
    }

    fn impressions(&self, listing: Option<ListingId>, since: Option<Date>) -> Result<Vec<ImpressionCount>, StoreError> {
        let mut clauses = Vec::new();
        let mut values: Vec<String> = Vec::new();
        if let Some(listing) = listing {
            clauses.push("listing_id = ?");
            values.push(listing.to_string());
        }
        if let Some(since) = since {
            clauses.push("day >= ?");
            values.push(fmt_day(since));
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let sql = format!(
            "SELECT listing_id, day, viewer_province, count FROM match_impressions {where_sql} ORDER BY listing_id, day, viewer_province"
        );
        self.read(|conn| {
            let rows: Vec<(String, String, String, i64)> = conn
                .prepare_cached(&sql)?
                .query_map(params_from_iter(values.iter()), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(listing_id, day, viewer_province, count)| {
                    Ok(ImpressionCount {
                        listing_id: listing_id
                            .parse()
                            .map_err(|_| StoreError::backend(format!("corrupt listing id {listing_id:?}")))?,
                        day: parse_day(&day)?,
                        viewer_province,
                        count: count.max(0) as u64,
                    })
                })
                .collect()
        })
    }

    fn claim_stale_reminder(
        &self,
        listing: ListingId,
        now: OffsetDateTime,
        not_before: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let written = tx
                .prepare_cached(
                    "INSERT INTO stale_reminders (listing_id, reminded_at)
                     SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM listings WHERE id = ?1)
                     ON CONFLICT (listing_id) DO UPDATE SET reminded_at = excluded.reminded_at
                     WHERE stale_reminders.reminded_at <= ?3",
                )?
                .execute(params![listing.to_string(), fmt_utc(now), fmt_utc(not_before)])?;
            Ok(written == 1)
        })
    }
}
