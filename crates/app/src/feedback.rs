//! Feedback that closes the loop from matching to deals: how often a listing appeared in
//! others' match results (impressions, counted in memory and flushed to the store in batches),
//! why owners declined deals on it, which listings are stale, and the match results' final
//! touches (pairs declined as not relevant are left out; stale listings rank lower).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use time::{Date, OffsetDateTime, UtcOffset};
use xietong_domain::deal::{DealEvent, DealState, DeclineReason};
use xietong_domain::{Listing, ListingId, OrgId, Reference, Status};
use xietong_search::{Explanation, MatchHit};
use xietong_store::{DealFilter, ImpressionCount};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::listing::{Actor, load};

/// Days without an update after which a listing is stale, unless configured otherwise.
pub const DEFAULT_STALE_AFTER_DAYS: u32 = 180;
/// What a stale listing's match score is multiplied by.
pub const STALE_FACTOR: f64 = 0.75;
/// How often pending impressions are written to the store (besides at shutdown and before
/// every read of them).
pub const IMPRESSIONS_FLUSH_EVERY: Duration = Duration::from_secs(10);
/// China time: days and months of the figures are Beijing's.
const CHINA: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// The fixed decline reasons with their API names, in the API's order.
pub const DECLINE_REASONS: [(DeclineReason, &str); 7] = [
    (DeclineReason::NotRelevant, "not_relevant"),
    (DeclineReason::TrlTooLow, "trl_too_low"),
    (DeclineReason::Price, "price"),
    (DeclineReason::Region, "region"),
    (DeclineReason::Timing, "timing"),
    (DeclineReason::Capacity, "capacity"),
    (DeclineReason::Other, "other"),
];

/// The API name of a decline reason.
pub fn reason_name(reason: DeclineReason) -> &'static str {
    DECLINE_REASONS.iter().find(|(r, _)| *r == reason).map(|(_, name)| *name).unwrap_or("other")
}

/// Impressions counted since the last flush: (listing, China day, viewer's province) → count.
#[derive(Default)]
pub(crate) struct PendingImpressions {
    counts: Mutex<HashMap<(ListingId, Date, String), u64>>,
    last_flush: Mutex<Option<Instant>>,
}

/// What the owner learns about one listing (`GET /api/v1/listings/{id}/feedback`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListingFeedback {
    /// Declined deals per reason (every reason named, zero included).
    pub decline_reasons: BTreeMap<&'static str, u64>,
    /// Deals on the listing per current state (every state named).
    pub deals_by_state: BTreeMap<&'static str, u64>,
    /// Appearances in others' match results, ever and in the last 30 days.
    pub impressions: u64,
    pub impressions_30d: u64,
    /// The notes declines carried, newest first.
    pub decline_notes: Vec<DeclineNote>,
}

/// A decline's reason and note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeclineNote {
    pub reason: &'static str,
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The China day of a moment.
pub fn china_day(at: OffsetDateTime) -> Date {
    at.to_offset(CHINA).date()
}

impl App {
    /// Listings not updated for this many days are stale (config `stale_after_days`).
    pub fn set_stale_after_days(&mut self, days: u32) {
        self.stale_after_days = days.max(1);
    }

    pub fn stale_after_days(&self) -> u32 {
        self.stale_after_days
    }

    /// Whether the listing has not been updated for `stale_after_days` at `now`.
    pub fn is_stale_at(&self, listing: &Listing, now: OffsetDateTime) -> bool {
        listing.updated_at <= now - time::Duration::days(i64::from(self.stale_after_days))
    }

    /// [`App::is_stale_at`] now.
    pub fn is_stale(&self, listing: &Listing) -> bool {
        self.is_stale_at(listing, OffsetDateTime::now_utc())
    }

    /// The last touches of match results shown to `actor`: listings in `declined` (see
    /// [`App::declined_as_not_relevant`]) are left out, stale listings score × [`STALE_FACTOR`]
    /// with a `stale` mismatch and move down past the fresh ones they no longer beat (the order
    /// among the others is the index's, tie-breaks included), the list is cut to `limit`, and
    /// each listing shown is counted as an impression.
    pub(crate) fn finish_matches(
        &self,
        actor: &Actor,
        hits: Vec<MatchHit>,
        limit: usize,
        declined: &HashSet<ListingId>,
    ) -> Vec<MatchHit> {
        let now = OffsetDateTime::now_utc();
        let days = self.stale_after_days;
        let mut fresh = Vec::with_capacity(hits.len());
        let mut stale = Vec::new();
        for mut hit in hits.into_iter().filter(|hit| !declined.contains(&hit.id)) {
            if !self.is_stale_at(&hit.listing, now) {
                fresh.push(hit);
                continue;
            }
            let penalty = hit.score * (1.0 - STALE_FACTOR);
            hit.score -= penalty;
            // The parts still add up to the score.
            hit.score_parts.insert("stale".into(), -penalty);
            hit.mismatches.push(Explanation {
                code: "stale".into(),
                zh: format!("超过{days}天未更新"),
                en: format!("not updated for {days} days"),
            });
            stale.push(hit);
        }
        let mut hits = merge_by_score(fresh, stale);
        hits.truncate(limit);
        for hit in &mut hits {
            self.explain_capacity(hit);
        }
        self.record_impressions(actor, &hits);
        hits
    }

    /// A bookable facility's match carries its next free window and price (`free_window`), or
    /// a `fully_booked` mismatch when nothing is free in the next 90 days. Computed here, after
    /// matching, from the store: capacity changes by the minute and stays out of the index.
    fn explain_capacity(&self, hit: &mut MatchHit) {
        if hit.kind != xietong_domain::Kind::Facility {
            return;
        }
        let window = match self.free_window(hit.id) {
            Ok(Some(window)) => window,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, listing.id = %hit.id, "failed to read a facility's free capacity for matching");
                return;
            }
        };
        let unit = window.unit;
        let price = window.price_per_unit;
        match window.next_free {
            Some(start) => {
                let when = xietong_domain::booking::fmt_beijing(start);
                hit.reasons.push(Explanation {
                    code: "free_window".into(),
                    zh: format!("最早可约 {}，¥{price}/{}", &when[..16].replace('T', " "), unit.label_zh()),
                    en: format!("next free from {when}, ¥{price} per {}", unit.as_str()),
                });
            }
            None => hit.mismatches.push(Explanation {
                code: "fully_booked".into(),
                zh: format!("未来{}天已约满", crate::booking::MATCH_HORIZON_DAYS),
                en: format!("fully booked for the next {} days", crate::booking::MATCH_HORIZON_DAYS),
            }),
        }
    }

    /// Listings on which deals of the actor's organisation were declined as not relevant: left
    /// out of the matches shown to its members (ask the index for as many more).
    pub(crate) fn declined_as_not_relevant(&self, actor: &Actor) -> HashSet<ListingId> {
        let Some(principal) = actor.principal() else { return HashSet::new() };
        let Some(org) = principal.org.clone() else { return HashSet::new() };
        let filter =
            DealFilter { orgs: Some(vec![org.clone()]), state: Some(DealState::Declined), ..DealFilter::default() };
        let deals = match self.deals.deals(&filter, u32::MAX) {
            Ok(deals) => deals,
            Err(error) => {
                // Matching still answers; the pair may show up once more.
                tracing::warn!(%error, "failed to read declined deals for matching");
                return HashSet::new();
            }
        };
        deals
            .into_iter()
            .filter(|deal| deal.asker_org == org)
            .filter(|deal| {
                deal.timeline
                    .iter()
                    .any(|step| matches!(step.event, DealEvent::Decline { reason: DeclineReason::NotRelevant, .. }))
            })
            .map(|deal| deal.listing_id)
            .collect()
    }

    /// Counts each hit once for the actor's province today (in memory; see
    /// [`App::flush_impressions`]).
    fn record_impressions(&self, actor: &Actor, hits: &[MatchHit]) {
        if hits.is_empty() {
            return;
        }
        let province = viewer_province(actor);
        let day = china_day(OffsetDateTime::now_utc());
        {
            let mut counts = self.impressions.counts.lock();
            for hit in hits {
                *counts.entry((hit.id, day, province.clone())).or_default() += 1;
            }
        }
        let due = self.impressions.last_flush.lock().is_none_or(|at| at.elapsed() >= IMPRESSIONS_FLUSH_EVERY);
        if due {
            // Rarely: once per interval, by whichever request comes first.
            if let Err(error) = self.flush_impressions() {
                tracing::warn!(%error, "failed to store match impressions; kept for the next flush");
            }
        }
    }

    /// Writes the impressions counted since the last flush to the store. On failure they are
    /// kept for the next flush. Returns the number of (listing, day, province) rows written.
    pub fn flush_impressions(&self) -> AppResult<usize> {
        *self.impressions.last_flush.lock() = Some(Instant::now());
        let pending = std::mem::take(&mut *self.impressions.counts.lock());
        if pending.is_empty() {
            return Ok(0);
        }
        let rows: Vec<ImpressionCount> = pending
            .iter()
            .map(|((listing_id, day, province), count)| ImpressionCount {
                listing_id: *listing_id,
                day: *day,
                viewer_province: province.clone(),
                count: *count,
            })
            .collect();
        match self.feedback.add_impressions(&rows) {
            Ok(()) => Ok(rows.len()),
            Err(error) => {
                let mut counts = self.impressions.counts.lock();
                for (key, count) in pending {
                    *counts.entry(key).or_default() += count;
                }
                Err(error.into())
            }
        }
    }

    /// Decline reasons, deals per state and impressions of a listing: for its owner's
    /// organisation (and technology managers acting for it) and the platform admin; `Forbidden`
    /// for others who may read the listing, `NotFound` for the rest.
    pub fn listing_feedback(&self, actor: &Actor, id: ListingId) -> AppResult<ListingFeedback> {
        let principal = actor.user()?;
        let listing = load(self, id)?;
        let owns = listing.body.owner_org.as_ref().is_some_and(|owner| principal.orgs().contains(owner));
        if !owns && !principal.is_admin() {
            if actor.viewer.can_read(&listing.body) {
                return Err(AppError::Forbidden("only the listing's organisation sees its feedback".into()));
            }
            return Err(AppError::NotFound(format!("listing {id} does not exist")));
        }
        self.flush_impressions()?;
        let deals = self.deals.deals(&DealFilter { listing: Some(id), ..DealFilter::default() }, u32::MAX)?;
        let mut decline_reasons: BTreeMap<&'static str, u64> = DECLINE_REASONS.iter().map(|(_, n)| (*n, 0)).collect();
        let mut deals_by_state: BTreeMap<&'static str, u64> = DealState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        let mut decline_notes = Vec::new();
        for deal in &deals {
            *deals_by_state.entry(deal.state.as_str()).or_default() += 1;
            for step in &deal.timeline {
                if let DealEvent::Decline { reason, note } = &step.event {
                    *decline_reasons.entry(reason_name(*reason)).or_default() += 1;
                    decline_notes.push(DeclineNote { reason: reason_name(*reason), note: note.clone(), at: step.at });
                }
            }
        }
        decline_notes.sort_by_key(|note| std::cmp::Reverse(note.at));
        let since = china_day(OffsetDateTime::now_utc()) - time::Duration::days(29);
        let counts = self.feedback.impressions(Some(id), None)?;
        let impressions = counts.iter().map(|c| c.count).sum();
        let impressions_30d = counts.iter().filter(|c| c.day >= since).map(|c| c.count).sum();
        Ok(ListingFeedback { decline_reasons, deals_by_state, impressions, impressions_30d, decline_notes })
    }

    /// Published listings stale at `now` whose owner is a registered organisation, each at most
    /// once per `stale_after_days` (the reminder is recorded in the store, so several nodes
    /// remind once): for the owners' inbox reminders.
    pub fn listings_due_stale_reminder(&self, now: OffsetDateTime) -> AppResult<Vec<(ListingId, OrgId)>> {
        let period = time::Duration::days(i64::from(self.stale_after_days));
        let mut stale = Vec::new();
        let mut after = None;
        loop {
            let batch = self.store.scan(after, 5_000)?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            stale.extend(
                batch
                    .into_iter()
                    .filter(|l| l.body.status == Status::Published && self.is_stale_at(l, now))
                    .filter_map(|l| Some((l.id, l.body.owner_org?))),
            );
        }
        let mut orgs: HashMap<String, Option<OrgId>> = HashMap::new();
        let mut due = Vec::new();
        for (listing, owner) in stale {
            let org = match orgs.get(&owner) {
                Some(known) => *known,
                None => {
                    let found = self.accounts.org_by_name(&owner)?.map(|org| org.id);
                    orgs.insert(owner, found);
                    found
                }
            };
            let Some(org) = org else { continue };
            if self.feedback.claim_stale_reminder(listing, now, now - period)? {
                due.push((listing, org));
            }
        }
        Ok(due)
    }
}

/// Merges two lists each in rank order: a `stale` hit goes before the first `fresh` hit (from
/// where the last one went) that it now outscores; each list keeps its own order.
fn merge_by_score(fresh: Vec<MatchHit>, stale: Vec<MatchHit>) -> Vec<MatchHit> {
    let mut merged = Vec::with_capacity(fresh.len() + stale.len());
    let mut stale = stale.into_iter().peekable();
    for hit in fresh {
        while let Some(next) = stale.next_if(|next| next.score > hit.score) {
            merged.push(next);
        }
        merged.push(hit);
    }
    merged.extend(stale);
    merged
}

/// The province of the actor's home region (empty when unknown).
pub(crate) fn viewer_province(actor: &Actor) -> String {
    actor
        .principal()
        .and_then(|p| p.region.as_deref())
        .and_then(|code| Reference::get().province_of(code))
        .map(|province| province.code.clone())
        .unwrap_or_default()
}
