//! A tantivy directory whose writes can be made to fail, like a full disk: for tests and drills
//! of the index's failure handling (see [`SearchIndex::open_in_directory`](crate::SearchIndex)).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tantivy::directory::error::{DeleteError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, FileHandle, MmapDirectory, TerminatingWrite, WatchCallback, WatchHandle, WritePtr,
};

use crate::SearchError;

/// An on-disk directory with a switch: while it is on, every write fails with "no space left".
#[derive(Debug, Clone)]
pub struct FailingDirectory {
    inner: MmapDirectory,
    failing: Arc<AtomicBool>,
}

impl FailingDirectory {
    /// Opens `dir` (created when missing); writes succeed until [`FailingDirectory::fail`].
    pub fn open(dir: &Path) -> Result<FailingDirectory, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::io(dir, e))?;
        let inner = MmapDirectory::open(dir).map_err(|e| SearchError::Invalid(e.to_string()))?;
        Ok(FailingDirectory { inner, failing: Arc::new(AtomicBool::new(false)) })
    }

    /// Makes writes fail (`true`, the disk is full) or succeed again (`false`).
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// The switch, shared with clones of this directory.
    pub fn switch(&self) -> Arc<AtomicBool> {
        self.failing.clone()
    }
}

fn disk_full() -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, "No space left on device (simulated)")
}

/// A file being written; fails once the switch is on.
struct FailingWrite {
    inner: WritePtr,
    failing: Arc<AtomicBool>,
}

impl Write for FailingWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(disk_full());
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(disk_full());
        }
        self.inner.flush()
    }
}

impl TerminatingWrite for FailingWrite {
    fn terminate_ref(&mut self, token: AntiCallToken) -> io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(disk_full());
        }
        self.inner.terminate_ref(token)
    }
}

impl Directory for FailingDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(OpenWriteError::wrap_io_error(disk_full(), PathBuf::from(path)));
        }
        let inner = self.inner.open_write(path)?;
        Ok(BufWriter::new(Box::new(FailingWrite { inner, failing: self.failing.clone() })))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(disk_full());
        }
        self.inner.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
