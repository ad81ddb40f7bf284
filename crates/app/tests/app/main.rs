//! The use-case layer's integration tests, one binary (see `crates/cli/tests/cli/main.rs`).

mod chains;
mod challenges;
mod directions;
mod index_faults;
mod recovery;
mod shared_database;
mod talent;
