//! Where tiles and checkpoints live. The engine and verifier take storage through the
//! [`TileStore`] trait; [`FsTileStore`] keeps them as files laid out exactly like the URL space
//! (`tile/0/x001/234`), so a static file server could serve the log as is.

use crate::error::LedgerError;
use crate::tiles::TileId;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Read access to a log's tiles and latest checkpoint (files, or HTTP in the server crate).
pub trait TileSource {
    /// The tile's bytes, or `None` if it does not exist.
    fn read_tile(&self, id: &TileId) -> Result<Option<Vec<u8>>, LedgerError>;
    /// The latest signed checkpoint's bytes.
    fn read_checkpoint(&self) -> Result<Option<Vec<u8>>, LedgerError>;
    /// A short description for messages ("/var/lib/mamori/ledger", "https://…").
    fn describe(&self) -> String;
}

/// Tiles and checkpoint as files under one directory.
#[derive(Clone, Debug)]
pub struct FsTileStore {
    root: PathBuf,
}

impl FsTileStore {
    /// Storage rooted at `root` (which holds `tile/` and `checkpoint`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsTileStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// File path of a tile.
    pub fn tile_path(&self, id: &TileId) -> PathBuf {
        self.root.join(id.path())
    }

    /// Path of the latest checkpoint.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// Writes a tile. Not fsynced here: the engine makes a whole integration durable at once
    /// (`syncfs`) before it publishes a checkpoint that refers to it.
    pub fn write_tile(&self, id: &TileId, data: &[u8]) -> Result<(), LedgerError> {
        let path = self.tile_path(id);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(LedgerError::io("create dir", parent))?;
        }
        // Write under a temporary name and rename, so a reader never sees half a tile.
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(LedgerError::io("create", &tmp))?;
        f.write_all(data).map_err(LedgerError::io("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(LedgerError::io("rename", &path))?;
        Ok(())
    }

    /// Removes the partial tiles of a tile index once its full tile exists (tlog-tiles: logs
    /// "MAY delete any partial tile once the corresponding full tile is available").
    pub fn remove_partials(&self, full: &TileId) -> Result<(), LedgerError> {
        let dir = PathBuf::from(format!("{}.p", self.tile_path(full).display()));
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LedgerError::io("remove", &dir)(e)),
        }
    }

    /// Makes everything written so far durable: one `syncfs(2)` for the filesystem instead of one
    /// fsync per tile file (hundreds per second at 100k events/s).
    pub fn sync_all(&self) -> Result<(), LedgerError> {
        let f = File::open(&self.root).map_err(LedgerError::io("open", &self.root))?;
        rustix::fs::syncfs(&f).map_err(|e| LedgerError::io("syncfs", &self.root)(e.into()))
    }

    /// Atomically replaces a small file (tmp + fsync + rename + fsync dir).
    pub fn write_atomic(&self, name: &str, data: &[u8]) -> Result<(), LedgerError> {
        write_atomic(&self.root.join(name), data)
    }
}

/// Atomically and durably replaces `path` with `data`.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), LedgerError> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tmp)
        .map_err(LedgerError::io("create", &tmp))?;
    f.write_all(data).map_err(LedgerError::io("write", &tmp))?;
    f.sync_all().map_err(LedgerError::io("fsync", &tmp))?;
    fs::rename(&tmp, path).map_err(LedgerError::io("rename", path))?;
    if let Some(parent) = path.parent() {
        crate::wal::sync_dir(parent)?;
    }
    Ok(())
}

impl TileSource for FsTileStore {
    fn read_tile(&self, id: &TileId) -> Result<Option<Vec<u8>>, LedgerError> {
        read_optional(&self.tile_path(id))
    }

    fn read_checkpoint(&self) -> Result<Option<Vec<u8>>, LedgerError> {
        read_optional(&self.checkpoint_path())
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, LedgerError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LedgerError::io("read", path)(e)),
    }
}

/// Reads a tile, falling back to the full tile when a partial one was pruned (tlog-tiles lets
/// clients do the same), and checks its length.
pub fn read_tile_prefix(src: &dyn TileSource, id: &TileId) -> Result<Vec<u8>, LedgerError> {
    let data = match src.read_tile(id)? {
        Some(d) => d,
        None if !id.is_full() => src.read_tile(&id.full())?.ok_or_else(|| LedgerError::BadTile {
            path: id.path(),
            why: format!("missing (neither it nor {} exists in {})", id.full().path(), src.describe()),
        })?,
        None => {
            return Err(LedgerError::BadTile { path: id.path(), why: format!("missing in {}", src.describe()) });
        }
    };
    Ok(data)
}
