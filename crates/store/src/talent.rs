//! Talent mobility as the store keeps it (issue 18): each region's credential issuing key (the
//! private half sealed by the app before it gets here), talent evaluation credentials with their
//! status-list entries and revocations, mutual-recognition rules, flexible engagements and the
//! cross-region service catalogue.
//!
//! Two steps are made atomic here. Issuing allocates the next entry of the region's status list
//! under the issuer-key row's lock (PostgreSQL `SELECT … FOR UPDATE`; SQLite's one writer) and
//! stores the document signed for that entry. Proposing or accepting an engagement checks the
//! commitment rule (`xietong_domain::engagement::fits`) against the talent's engagements that
//! hold time inside the transaction that writes it, under a lock per talent (PostgreSQL
//! `pg_advisory_xact_lock(18, hashtext(talent))`), so of two concurrent offers for the same
//! Saturday exactly one is stored.

use serde::Serialize;
use xietong_domain::engagement::{Mode, State};
use xietong_domain::{ListingId, OrgId};

use crate::{NewAudit, StoreError};

/// A region's issuing key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKey {
    pub region_code: String,
    /// `publicKeyMultibase` of the Ed25519 public key.
    pub public_key: String,
    /// The 32 secret bytes, sealed by the app (nonce ‖ ciphertext, base64).
    pub sealed_secret: String,
    pub created_at: i64,
}

/// A talent evaluation credential as stored: its fields and the signed document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCredential {
    /// `urn:uuid:…`.
    pub id: String,
    pub talent_id: ListingId,
    pub issuer_region: String,
    pub level: String,
    pub field: String,
    pub valid_from: i64,
    pub valid_until: i64,
    pub status_list: String,
    pub status_index: u32,
    /// The signed W3C credential.
    pub document: serde_json::Value,
    pub issued_by: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
}

/// A credential to issue; the store picks its status entry and calls `sign` with it.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub id: String,
    pub talent_id: ListingId,
    pub issuer_region: String,
    pub level: String,
    pub field: String,
    pub valid_from: i64,
    pub valid_until: i64,
    pub issued_by: String,
}

/// How a verifying region recognises another region's evaluation level (互认).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecognitionRule {
    pub id: i64,
    /// The region that recognises.
    pub verifier_region: String,
    /// The issuing region whose credentials it recognises.
    pub issuer_region: String,
    /// The level as the issuer names it.
    pub issuer_level: String,
    /// The level it counts as in the verifying region.
    pub recognised_level: String,
    pub created_by: String,
    pub created_at: i64,
}

/// A recognition rule to add.
#[derive(Debug, Clone)]
pub struct NewRecognitionRule {
    pub verifier_region: String,
    pub issuer_region: String,
    pub issuer_level: String,
    pub recognised_level: String,
    pub created_by: String,
}

/// A flexible engagement of a talent by an organisation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Engagement {
    pub id: i64,
    pub talent_id: ListingId,
    /// The talent's region (GB/T 2260), kept for the statistics.
    pub talent_region: String,
    /// The talent's sector (GB/T 4754 section or the listing's first industry code).
    pub sector: String,
    #[serde(skip)]
    pub org_id: OrgId,
    pub organisation: String,
    pub org_region: String,
    pub mode: Mode,
    /// ISO dates `YYYY-MM-DD`, both inclusive.
    pub start: String,
    pub end: String,
    /// ISO weekdays (1 Monday … 7 Sunday) for weekend engineers.
    pub weekdays: Vec<u8>,
    /// Percent of the talent's time for dual appointments.
    pub share_percent: u8,
    pub state: State,
    pub version: i64,
    pub proposed_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An engagement to propose.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEngagement {
    pub talent_id: ListingId,
    pub talent_region: String,
    pub sector: String,
    pub org_id: OrgId,
    pub organisation: String,
    pub org_region: String,
    pub mode: Mode,
    pub start: String,
    pub end: String,
    pub weekdays: Vec<u8>,
    pub share_percent: u8,
    pub proposed_by: String,
}

/// A service of the cross-region catalogue (跨省通办).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Service {
    /// The catalogue's code (unique).
    pub code: String,
    pub name: String,
    /// One of the 20 areas (人才引进, 社保, …).
    pub area: String,
    /// Regions (GB/T 2260) where it is handled.
    pub regions: Vec<String>,
    /// Whether it can be handled in the other region (异地可办).
    pub cross_region: bool,
    pub documents: Vec<String>,
    pub office: String,
    /// Working days to a decision.
    pub time_limit_days: u32,
}

/// The talent-mobility rows of one database.
pub trait Talent: Send + Sync {
    /// Every region's issuing key, by region code.
    fn issuer_keys(&self) -> Result<Vec<IssuerKey>, StoreError>;
    /// Stores `key` unless the region has one already; returns the region's key (the one stored
    /// first when two nodes race).
    fn ensure_issuer_key(&self, key: IssuerKey) -> Result<IssuerKey, StoreError>;
    /// Issues a credential: takes the region's next status entry (`status_list` is the region
    /// code) under the issuer row's lock, stores the document `sign(index)` makes, with its audit
    /// entry. The region's key must exist.
    fn issue_credential(
        &self,
        new: NewCredential,
        sign: &dyn Fn(u32) -> serde_json::Value,
        audit: &dyn Fn(&StoredCredential) -> NewAudit,
    ) -> Result<StoredCredential, StoreError>;
    fn credential(&self, id: &str) -> Result<Option<StoredCredential>, StoreError>;
    /// A talent's credentials, newest first.
    fn credentials_of(&self, talent_id: ListingId) -> Result<Vec<StoredCredential>, StoreError>;
    /// Revokes a credential; a second revocation is `WrongState` and stores nothing.
    fn revoke_credential(
        &self,
        id: &str,
        reason: &str,
        audit: &dyn Fn(&StoredCredential) -> NewAudit,
    ) -> Result<StoredCredential, StoreError>;
    /// The revoked entries of a status list.
    fn revoked_entries(&self, status_list: &str) -> Result<Vec<u32>, StoreError>;

    fn recognition_rules(&self) -> Result<Vec<RecognitionRule>, StoreError>;
    /// Adds a rule; one per (verifier, issuer, level): a second is `Taken`.
    fn add_recognition_rule(
        &self,
        rule: NewRecognitionRule,
        audit: &dyn Fn(&RecognitionRule) -> NewAudit,
    ) -> Result<RecognitionRule, StoreError>;
    /// Removes a rule; `Ok(false)` when there was none.
    fn remove_recognition_rule(
        &self,
        id: i64,
        audit: &dyn Fn(&RecognitionRule) -> NewAudit,
    ) -> Result<bool, StoreError>;

    /// Proposes an engagement if it fits the talent's commitments; `WrongState` with the rule's
    /// message if not.
    fn propose_engagement(
        &self,
        new: NewEngagement,
        audit: &dyn Fn(&Engagement) -> NewAudit,
    ) -> Result<Engagement, StoreError>;
    /// Moves an engagement decided on `expected_version` to `to` (accepting re-checks the rule).
    fn move_engagement(
        &self,
        id: i64,
        expected_version: i64,
        to: State,
        audit: &dyn Fn(&Engagement) -> NewAudit,
    ) -> Result<Engagement, StoreError>;
    fn engagement(&self, id: i64) -> Result<Option<Engagement>, StoreError>;
    /// A talent's engagements, or all (`None`), newest first.
    fn engagements(&self, talent_id: Option<ListingId>) -> Result<Vec<Engagement>, StoreError>;

    /// Inserts or replaces services by code, with one audit entry; returns how many were written.
    fn put_services(&self, services: &[Service], audit: NewAudit) -> Result<usize, StoreError>;
    /// The whole catalogue, by area and code.
    fn services(&self) -> Result<Vec<Service>, StoreError>;
}

/// The commitment rule over stored engagements (both backends).
pub(crate) fn check_fits(held: &[Engagement], new: &Engagement) -> Result<(), StoreError> {
    fn commitment(engagement: &Engagement) -> Result<xietong_domain::engagement::Commitment, StoreError> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = |text: &str| {
            time::Date::parse(text, format)
                .map_err(|_| StoreError::backend(format!("corrupt engagement date {text:?}")))
        };
        Ok(xietong_domain::engagement::Commitment {
            mode: engagement.mode,
            start: date(&engagement.start)?,
            end: date(&engagement.end)?,
            weekdays: engagement.weekdays.clone(),
            share_percent: engagement.share_percent,
        })
    }
    let others: Vec<_> = held
        .iter()
        .filter(|other| other.id != new.id && other.state.holds_time())
        .map(commitment)
        .collect::<Result<_, _>>()?;
    xietong_domain::engagement::fits(&others, &commitment(new)?)
        .map_err(|over| StoreError::WrongState(over.to_string()))
}
