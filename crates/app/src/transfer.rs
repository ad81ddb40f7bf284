//! Spreadsheet import for an actor: who may import rows for which organisations, review state,
//! the audit entry and the index sync. The parsing and row rules are `xietong_transfer`'s.

use xietong_domain::Kind;
use xietong_transfer::{ImportOptions, ImportReport, TransferError};

use crate::listing::Actor;
use crate::{App, AppError};

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
        self.audit(entry);
        self.sync_after_write();
        Ok(report)
    }
}
