//! `Feedback` on PostgreSQL.

use time::{Date, OffsetDateTime};
use xietong_domain::ListingId;

use super::{PostgresStore, text};
use crate::feedback::{fmt_day, parse_day};
use crate::{Feedback, ImpressionCount, StoreError};

impl Feedback for PostgresStore {
    fn add_impressions(&self, counts: &[ImpressionCount]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        // Sorted by key, so concurrent batches of two nodes lock the rows in one order.
        let mut sorted: Vec<&ImpressionCount> = counts.iter().collect();
        sorted.sort_by(|a, b| {
            (a.listing_id.0, a.day, &a.viewer_province).cmp(&(b.listing_id.0, b.day, &b.viewer_province))
        });
        self.write(|db| {
            for count in &sorted {
                // A listing deleted since it was shown takes its counts with it.
                db.execute(
                    "INSERT INTO match_impressions (listing_id, day, viewer_province, count)
                     SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM listings WHERE id = $1)
                     ON CONFLICT (listing_id, day, viewer_province)
                     DO UPDATE SET count = match_impressions.count + excluded.count",
                    &[&count.listing_id.0, &fmt_day(count.day), &text(&count.viewer_province), &(count.count as i64)],
                )?;
            }
            Ok(())
        })
    }

    fn impressions(&self, listing: Option<ListingId>, since: Option<Date>) -> Result<Vec<ImpressionCount>, StoreError> {
        let since = since.map(fmt_day);
        let listing = listing.map(|id| id.0);
        self.read(|db| {
            let rows = db.query(
                "SELECT listing_id, day, viewer_province, count FROM match_impressions
                 WHERE ($1::uuid IS NULL OR listing_id = $1) AND ($2::text IS NULL OR day >= $2)
                 ORDER BY listing_id, day, viewer_province",
                &[&listing, &since],
            )?;
            rows.iter()
                .map(|row| {
                    let day: String = row.try_get(1)?;
                    Ok(ImpressionCount {
                        listing_id: ListingId(row.try_get(0)?),
                        day: parse_day(&day)?,
                        viewer_province: row.try_get(2)?,
                        count: row.try_get::<_, i64>(3)?.max(0) as u64,
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
        self.write(|db| {
            let written = db.execute(
                "INSERT INTO stale_reminders (listing_id, reminded_at)
                 SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM listings WHERE id = $1)
                 ON CONFLICT (listing_id) DO UPDATE SET reminded_at = excluded.reminded_at
                 WHERE stale_reminders.reminded_at <= $3",
                &[&listing.0, &now, &not_before],
            )?;
            Ok(written == 1)
        })
    }
}
