//! The admin's edits of industry chains and the recorded enclaves (飞地). A chain edit replaces
//! the shipped chain of the same id; of concurrent edits decided on one version exactly one wins
//! (the others fail `Stale`). Each write stores its audit entry in its own transaction.

use serde::Serialize;
use time::OffsetDateTime;
use xietong_domain::UserId;
use xietong_domain::chain::Chain;
use xietong_domain::enclave::EnclaveBody;

use crate::{NewAudit, StoreError};

/// The stored version of an edited chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainEdit {
    pub chain: Chain,
    /// 1 for the first edit, incremented by each further edit.
    pub version: i64,
    pub updated_by: Option<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Id of an enclave.
pub type EnclaveId = i64;

/// A recorded enclave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enclave {
    pub id: EnclaveId,
    #[serde(flatten)]
    pub body: EnclaveBody,
    pub created_by: Option<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Chain edits and enclaves.
pub trait Chains: Send + Sync {
    /// Every edited chain, by id.
    fn chain_edits(&self) -> Result<Vec<ChainEdit>, StoreError>;
    /// Stores `chain` as the edited version of its id, with its audit entry, when the stored
    /// version is `expected_version` (0: never edited). `Stale` otherwise.
    fn save_chain_edit(
        &self,
        chain: &Chain,
        expected_version: i64,
        updated_by: Option<UserId>,
        audit: NewAudit,
    ) -> Result<ChainEdit, StoreError>;
    /// Records an enclave with its audit entry.
    fn create_enclave(
        &self,
        body: &EnclaveBody,
        created_by: Option<UserId>,
        audit: &dyn Fn(&Enclave) -> NewAudit,
    ) -> Result<Enclave, StoreError>;
    /// Every enclave, oldest first.
    fn enclaves(&self) -> Result<Vec<Enclave>, StoreError>;
}

pub(crate) fn chain_json(chain: &Chain) -> Result<String, StoreError> {
    serde_json::to_string(chain).map_err(|e| StoreError::backend_caused("failed to serialize a chain", e))
}

pub(crate) fn parse_chain(text: &str) -> Result<Chain, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::backend_caused("stored chain is not valid JSON", e))
}

pub(crate) fn parse_enterprises(text: &str) -> Result<Vec<xietong_domain::ListingId>, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::backend_caused("stored enclave enterprises are not valid JSON", e))
}
