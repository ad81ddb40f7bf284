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

/// Spreadsheet import and export by the platform's operator on the command line. Only the
/// database is opened (not the search index), so they run while a server uses the same data
/// directory; its index follower takes the imported rows in. Both are audited as `cli`.
pub struct OperatorTransfer {
    store: std::sync::Arc<dyn xietong_store::Database>,
}

impl OperatorTransfer {
    pub fn open(data_dir: &crate::DataDir) -> anyhow::Result<OperatorTransfer> {
        Ok(OperatorTransfer { store: data_dir.open_database()? })
    }

    /// Imports every row of a file for any organisation, `batch_rows` per transaction,
    /// reporting progress; the import is audited after its rows.
    pub fn import(
        &self,
        kind: Kind,
        file_name: &str,
        bytes: &[u8],
        batch_rows: usize,
        on_progress: &mut dyn FnMut(xietong_transfer::ImportProgress),
    ) -> Result<ImportReport, ImportError> {
        let options = ImportOptions { batch_rows, ..ImportOptions::default() };
        let report =
            xietong_transfer::import_bytes_with(self.store.as_ref(), kind, file_name, bytes, &options, on_progress)?;
        let mut entry = Actor::operator().audit("import", format!("{kind}:{file_name}"), None);
        entry.detail = serde_json::json!({
            "rows": report.rows, "accepted": report.accepted, "updated": report.updated, "rejected": report.rejected,
        });
        self.audit(entry);
        Ok(report)
    }

    /// Every listing of `kind` matching the filters (none: the whole library, by keyset scan),
    /// with contacts in full; the audit trail records that they left the platform.
    pub fn export(
        &self,
        kind: Kind,
        region: Option<String>,
        industry: Option<String>,
        status: Option<xietong_domain::Status>,
    ) -> AppResult<Vec<Listing>> {
        let mut listings = Vec::new();
        if region.is_none() && industry.is_none() && status.is_none() {
            const PAGE: u32 = 5_000;
            let mut after = None;
            loop {
                let page = self.store.scan(after, PAGE)?;
                let Some(last) = page.last() else { break };
                after = Some(last.id);
                let fetched = page.len();
                listings.extend(page.into_iter().filter(|listing| listing.kind() == kind));
                if fetched < PAGE as usize {
                    break;
                }
            }
        } else {
            const PAGE: u32 = 1_000;
            let filter = ListFilter {
                kind: Some(kind),
                region,
                industry,
                status,
                sort: xietong_store::ListSort::Oldest,
                ..ListFilter::default()
            };
            loop {
                let page = self.store.list(&filter, PAGE, listings.len() as u64)?;
                let fetched = page.items.len();
                listings.extend(page.items);
                if fetched < PAGE as usize {
                    break;
                }
            }
        }
        let mut entry = Actor::operator().audit("export.full", kind.as_str(), None);
        entry.detail = serde_json::json!({"rows": listings.len()});
        self.audit(entry);
        Ok(listings)
    }

    /// The entry follows the rows, which are stored in batches of their own; a failure is
    /// reported but does not undo the action.
    fn audit(&self, entry: xietong_store::NewAudit) {
        if let Err(error) = self.store.audit(entry) {
            tracing::error!(%error, "failed to write the audit trail");
            eprintln!("warning: failed to write the audit trail: {error}");
        }
    }
}
