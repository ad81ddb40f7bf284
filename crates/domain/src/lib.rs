//! The xietong domain: the seven kinds of listing, their validation, and the reference data
//! (GB/T 2260 regions, GB/T 4754-2017 industries, TRL levels) they are checked against.
//!
//! This crate does no IO: reference tables are compiled in from `data/`.

mod access;
pub mod booking;
pub mod chain;
pub mod challenge;
pub mod claim;
pub mod credential;
pub mod deal;
pub mod enclave;
pub mod engagement;
mod ids;
mod listing;
pub mod notify;
mod reference;
mod uscc;
mod validate;
pub mod voucher;

pub use access::{OrgKind, Principal, ReadScope, Role, Scope, Viewer};
pub use ids::{OrgId, UserId};
pub use listing::*;
pub use reference::{Industry, IndustryLevel, JJJ_GEOJSON, Reference, Region, RegionLevel, TrlLevel};
pub use uscc::{Uscc, UsccError};
pub use validate::{FieldError, MAX_DESCRIPTION_CHARS, MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, ValidationErrors, validate};
