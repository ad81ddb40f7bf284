//! Feedback on listings kept by the store: how often each listing appeared in someone's match
//! results (counted per day and per viewer's province, added in batches by the app), and when
//! the owner of a stale listing was last reminded of it.

use time::{Date, OffsetDateTime};
use xietong_domain::ListingId;

use crate::StoreError;

/// Impressions of one listing on one day by viewers of one province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpressionCount {
    pub listing_id: ListingId,
    pub day: Date,
    /// Province code (GB/T 2260, e.g. `130000`) of the viewers; empty when unknown (anonymous).
    pub viewer_province: String,
    pub count: u64,
}

/// Match impressions and stale-listing reminders.
pub trait Feedback: Send + Sync {
    /// Adds the counts to those stored (one transaction). Counts of listings that no longer
    /// exist are dropped.
    fn add_impressions(&self, counts: &[ImpressionCount]) -> Result<(), StoreError>;
    /// Stored counts of one listing (`None`: of every listing) on or after `since`.
    fn impressions(&self, listing: Option<ListingId>, since: Option<Date>) -> Result<Vec<ImpressionCount>, StoreError>;
    /// Records a stale reminder of `listing` at `now` unless one was recorded after
    /// `not_before`; returns whether this call recorded it (of concurrent callers one does).
    fn claim_stale_reminder(
        &self,
        listing: ListingId,
        now: OffsetDateTime,
        not_before: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// `YYYY-MM-DD`, the stored form of a day on both backends.
pub(crate) fn fmt_day(day: Date) -> String {
    format!("{:04}-{:02}-{:02}", day.year(), u8::from(day.month()), day.day())
}

pub(crate) fn parse_day(text: &str) -> Result<Date, StoreError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).map_err(|_| StoreError::backend(format!("corrupt day {text:?}")))
}
