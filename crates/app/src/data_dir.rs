//! Layout of a data directory: `xietong.db` (SQLite, the source of truth, unless a database URL
//! names another database) and `index/` (tantivy, derived and rebuildable).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use xietong_store::{Database, SqliteStore};

/// A data directory on disk, and where its database lives.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
    /// A database server (`postgres://…`) instead of the directory's SQLite file.
    database_url: Option<String>,
}

impl DataDir {
    /// Uses `root`, creating it if missing.
    pub fn create(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root).with_context(|| format!("failed to create data directory {}", root.display()))?;
        Ok(DataDir { root: root.to_path_buf(), database_url: None })
    }

    /// Keeps the database at `url` (`postgres://…`) instead of the SQLite file; `None` keeps the
    /// file. The index stays in the directory (every node has its own).
    pub fn with_database_url(mut self, url: Option<String>) -> Self {
        self.database_url = url.filter(|u| !u.trim().is_empty());
        self
    }

    /// Where the database is, for logs (the URL without its password).
    pub fn database_label(&self) -> String {
        match &self.database_url {
            Some(url) => redact_password(url),
            None => self.store_path().display().to_string(),
        }
    }

    /// Opens the database (applying migrations): the SQLite file, or the server of the URL.
    pub fn open_database(&self) -> anyhow::Result<Arc<dyn Database>> {
        match self.database_url.as_deref() {
            None => Ok(Arc::new(self.open_store()?)),
            Some(url) => open_url(url),
        }
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

    /// Opens the directory's SQLite store, applying migrations. A directory that cannot be written (a
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

fn open_url(url: &str) -> anyhow::Result<Arc<dyn Database>> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        anyhow::bail!(
            "unsupported database URL {}: use postgres://USER@HOST:PORT/DATABASE, or no URL for the data directory's SQLite file",
            redact_password(url)
        );
    }
    xietong_store::open_url(url).with_context(|| format!("failed to open the database {}", redact_password(url)))
}

/// The URL with any password replaced by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((credentials, host)) = rest.split_once('@') else { return url.to_string() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_labels() {
        assert_eq!(redact_password("postgres://xt:secret@db:5432/xt"), "postgres://xt:***@db:5432/xt");
        assert_eq!(redact_password("postgres://xt@db/xt"), "postgres://xt@db/xt");
        assert_eq!(redact_password("not a url"), "not a url");
    }
}
