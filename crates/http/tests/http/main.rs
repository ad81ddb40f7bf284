//! The HTTP layer's integration tests, one binary (linking each file as a test binary of its own
//! made a cold test run spend minutes in the linker).

#[path = "../fixture/mod.rs"]
mod fixture;
#[path = "../support/mod.rs"]
mod support;

mod api;
mod authz_matrix;
mod bookings;
mod bookings_web;
mod browser;
mod chains;
mod challenges;
mod claims;
mod claims_web;
mod deals;
mod feedback;
mod hardening;
mod matching;
mod notify;
mod security;
mod talent_api;
mod web_pages;
