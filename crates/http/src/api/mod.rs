//! JSON API under `/api/v1`.

pub mod account;
pub mod booking;
pub mod chain;
pub mod challenge;
pub mod claim;
pub mod collab;
pub mod credential;
pub mod deal;
pub mod engagement;
pub mod feedback;
pub mod listings;
pub mod matching;
pub mod notify;
pub mod reference;
pub mod schema;
pub mod search;
pub mod service_catalog;
pub mod stats;
pub mod transfer;

pub use crate::params::{
    DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS, industry_param, page_limit, page_offset, parse_param,
    region_param, text_param,
};
