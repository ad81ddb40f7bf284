//! Layout of a data directory: `xietong.db` (SQLite, the source of truth) and `index/` (tantivy,
//! derived and rebuildable).

use std::path::{Path, PathBuf};

use anyhow::Context;
use xietong_store::SqliteStore;

/// A data directory on disk.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Uses `root`, creating it if missing.
    pub fn create(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root).with_context(|| format!("failed to create data directory {}", root.display()))?;
        Ok(DataDir { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn store_path(&self) -> PathBuf {
        self.root.join("xietong.db")
    }

    pub fn index_path(&self) -> PathBuf {
        self.root.join("index")
    }

    /// Opens the SQLite store, applying migrations. A directory that cannot be written (a
    /// read-only mount, another owner) is named as such, not reported as a locked database.
    pub fn open_store(&self) -> anyhow::Result<SqliteStore> {
        let probe = self.root.join(".xietong-write-check");
        std::fs::write(&probe, b"ok").and_then(|()| std::fs::remove_file(&probe)).with_context(|| {
            format!(
                "the data directory {} is not writable (read-only file system or permissions); \
                 xietong needs to write its database and index there",
                self.root.display()
            )
        })?;
        let path = self.store_path();
        SqliteStore::open(&path).with_context(|| format!("failed to open store at {}", path.display()))
    }
}
