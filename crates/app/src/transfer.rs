//! Spreadsheet import for an actor: who may import rows for which organisations, review state,
//! the audit entry and the index sync. The parsing and row rules are `xietong_transfer`'s.

use xietong_domain::{Kind, Listing};
use xietong_search::SearchQuery;
use xietong_store::ListFilter;
use xietong_transfer::{ImportOptions, ImportReport, TransferError};

use crate::listing::{Actor, mask_in_list};
use crate::{App, AppError, AppResult};

/// Why an import failed as a whole (rows that fail are in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Refused(#[from] AppError),
    #[error(transparent)]
    File(#[from] TransferError),
}

impl App {
    /// Imports the rows of a file for the actor. Rows are owned by the actor's organisation;
    /// rows naming another organisation, or matching another organisation's listing, are
    /// rejected (the platform admin imports for anyone); rows published in a reviewing region
    /// wait for review. The import is audited and the index brought in line.
    pub fn import_rows(
        &self,
        actor: &Actor,
        kind: Kind,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<ImportReport, ImportError> {
        let principal = actor.user()?;
        let mut options = ImportOptions::default();
        if !principal.is_admin() {
            let orgs = principal.orgs();
            if orgs.is_empty() {
                return Err(
                    AppError::Forbidden("your account belongs to no organisation, so it cannot import".into()).into()
                );
            }
            options.owners = Some(orgs);
            options.pending_regions = self.accounts.review_regions().map_err(AppError::from)?;
        }
        let report =
            xietong_transfer::import_bytes_with(self.store.as_ref(), kind, file_name, bytes, &options, &mut |_| {})?;
        let mut entry = actor.audit("import", format!("{kind}:{file_name}"), principal.region.clone());
        entry.detail = serde_json::json!({
            "rows": report.rows, "accepted": report.accepted, "updated": report.updated, "rejected": report.rejected,
        });
        // The rows are stored in batches of their own; the import's entry follows them.
        self.audit_after(entry);
        self.sync_after_write();
        Ok(report)
    }

    /// The listings of an export the actor may see, contacts masked unless their organisation
    /// owns the listing; at most `max_rows`.
    pub fn export_listings(&self, actor: &Actor, source: ExportSource, max_rows: usize) -> AppResult<Vec<Listing>> {
        let mut listings = Vec::new();
        match source {
            ExportSource::Search(mut query) => {
                query.limit = 500;
                query.offset = 0;
                loop {
                    let page = self.search(actor, query.clone())?;
                    let count = page.hits.len();
                    listings.extend(page.hits.into_iter().map(|hit| hit.listing));
                    query.offset += count;
                    if count == 0 || query.offset as u64 >= page.total || listings.len() >= max_rows {
                        break;
                    }
                }
            }
            ExportSource::List(mut filter) => {
                filter.scope = Some(actor.viewer.read_scope());
                loop {
                    let page = self.store.list(&filter, 1_000, listings.len() as u64)?;
                    let count = page.items.len();
                    listings.extend(page.items);
                    if count == 0 || listings.len() as u64 >= page.total || listings.len() >= max_rows {
                        break;
                    }
                }
            }
        }
        listings.truncate(max_rows);
        for listing in &mut listings {
            mask_in_list(&actor.viewer, listing);
        }
        Ok(listings)
    }
}

/// What an export holds: a search result, or a library or filtered list.
#[derive(Debug, Clone)]
pub enum ExportSource {
    Search(SearchQuery),
    List(ListFilter),
}
