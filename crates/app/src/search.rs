//! Reading the catalogue: listing pages from the store, search and matching from the index, and
//! scans for figures. Every read is limited to what the actor may see.

use xietong_domain::{Kind, Listing, ListingId, ReadScope, Status};
use xietong_search::{MatchHit, MatchRequest, SearchQuery, SearchResults};
use xietong_store::{ListFilter, ListPage};

use crate::App;
use crate::error::AppResult;
use crate::listing::{Actor, mask_in_list};

/// Listings read per batch when scanning the store.
const SCAN_BATCH: u32 = 5_000;

impl App {
    /// A page of listings the actor may read, contacts masked unless their organisation owns
    /// the listing.
    pub fn list_listings(&self, actor: &Actor, mut filter: ListFilter, limit: u32, offset: u64) -> AppResult<ListPage> {
        filter.scope = Some(actor.viewer.read_scope());
        let mut page = self.store.list(&filter, limit, offset)?;
        for listing in &mut page.items {
            mask_in_list(&actor.viewer, listing);
        }
        Ok(page)
    }

    /// The titles of those of `ids` the actor may read (for lists that name listings).
    pub fn titles(&self, actor: &Actor, ids: &[ListingId]) -> AppResult<std::collections::HashMap<ListingId, String>> {
        Ok(self
            .store
            .get_many(ids)?
            .into_iter()
            .filter(|l| actor.viewer.can_read(&l.body))
            .map(|l| (l.id, l.body.title))
            .collect())
    }

    /// Searches the published listings the actor may see (totals and facets too).
    pub fn search(&self, actor: &Actor, mut query: SearchQuery) -> AppResult<SearchResults> {
        query.scope = Some(actor.viewer.read_scope());
        Ok(self.index.search(&query)?)
    }

    /// Complementary listings of a listing the actor may read, among those they may read; pairs
    /// the actor's organisation was refused as not relevant are left out, stale listings rank
    /// lower, and each listing shown counts as an impression.
    pub fn match_listing(
        &self,
        actor: &Actor,
        id: ListingId,
        kind: Option<Kind>,
        limit: usize,
    ) -> AppResult<Vec<MatchHit>> {
        let source = self.read_listing(actor, id)?;
        self.match_source(actor, &source, kind, limit)
    }

    /// Like [`App::match_listing`], for a listing the caller already read for the actor.
    pub fn match_source(
        &self,
        actor: &Actor,
        source: &Listing,
        kind: Option<Kind>,
        limit: usize,
    ) -> AppResult<Vec<MatchHit>> {
        let declined = self.declined_as_not_relevant(actor);
        let wanted = limit + declined.len();
        let hits = self.index.match_listing(source, kind, wanted, &actor.viewer.read_scope())?;
        Ok(self.finish_matches(actor, hits, limit, &declined))
    }

    /// Listings matching free text with constraints, as an ad-hoc demand, among those the actor
    /// may read (finished as [`App::match_listing`]'s).
    pub fn match_request(&self, actor: &Actor, mut request: MatchRequest) -> AppResult<Vec<MatchHit>> {
        request.scope = Some(actor.viewer.read_scope());
        let declined = self.declined_as_not_relevant(actor);
        let limit = request.limit;
        request.limit += declined.len();
        let hits = self.index.match_request(&request)?;
        Ok(self.finish_matches(actor, hits, limit, &declined))
    }

    /// Calls `visit` with every published listing `scope` may read, in id order, a batch at a
    /// time (for figures that count over the whole catalogue).
    pub fn scan_published(&self, scope: &ReadScope, mut visit: impl FnMut(&Listing)) -> AppResult<()> {
        let mut after = None;
        loop {
            let batch = self.store.scan(after, SCAN_BATCH)?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            for listing in batch.iter().filter(|l| l.body.status == Status::Published && scope.allows(&l.body)) {
                visit(listing);
            }
        }
        Ok(())
    }

    /// The index's state: changes when any published listing may have changed.
    pub fn catalogue_version(&self) -> u64 {
        self.index.applied_seq()
    }

    /// Listings in the index (for operators' reports).
    pub fn indexed_listings(&self) -> u64 {
        self.index.doc_count()
    }
}
