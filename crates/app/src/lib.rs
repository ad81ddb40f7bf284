//! Application wiring shared by the server and the command line: where things live in the data
//! directory, and how the derived search index is kept in line with the store.

pub mod data_dir;

pub use data_dir::DataDir;
