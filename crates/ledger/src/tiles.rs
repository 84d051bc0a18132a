//! C2SP tlog-tiles coordinates: which tiles a tree of a given size has, and their paths.
//! Pure; no I/O.
//!
//! Paths are `tile/<L>/<N>[.p/<W>]` for hash tiles and `tile/entries/<N>[.p/<W>]` for entry
//! bundles, with `<N>` in zero-padded 3-digit elements, all but the last prefixed by `x`
//! (c2sp.org/tlog-tiles, "Merkle Tree"). Tiles have height 8: 256 hashes, 8,192 bytes when full.

use std::fmt;

/// Hashes per full tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;
/// Tile height in tree levels.
pub const TILE_HEIGHT: u32 = 8;
/// Bytes of one SHA-256 hash.
pub const HASH_SIZE: usize = 32;

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Merkle tree hashes at tile level `L` (tree level `8·L`).
    Hashes(u8),
    /// An entry bundle: the entries whose leaf hashes form the level-0 tile of the same index.
    Entries,
}

/// One tile: kind, index within its level, and width (1..=256; 256 is a full tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileId {
    /// Hash level or entry bundle.
    pub kind: TileKind,
    /// Index `N` within the level.
    pub index: u64,
    /// Number of hashes or entries, 1..=256.
    pub width: u16,
}

impl TileId {
    /// Whether the tile is full (256 wide).
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tile of the same kind and index, full.
    pub fn full(&self) -> TileId {
        TileId { width: TILE_WIDTH as u16, ..*self }
    }

    /// The c2sp tlog-tiles path, e.g. `tile/0/x001/x234/067.p/8`.
    pub fn path(&self) -> String {
        self.to_string()
    }

    /// Parses a tlog-tiles path (without any URL prefix).
    pub fn parse(path: &str) -> Result<TileId, BadTilePath> {
        let bad = |why: &'static str| BadTilePath { path: path.to_owned(), why };
        let rest = path.strip_prefix("tile/").ok_or_else(|| bad("does not start with tile/"))?;
        let (kind_str, rest) = rest.split_once('/').ok_or_else(|| bad("missing index"))?;
        let kind = if kind_str == "entries" {
            TileKind::Entries
        } else {
            if kind_str.len() > 1 && kind_str.starts_with('0') {
                return Err(bad("level has a leading zero"));
            }
            let l: u8 = kind_str.parse().map_err(|_| bad("level is not a number"))?;
            if l > 63 {
                return Err(bad("level above 63"));
            }
            TileKind::Hashes(l)
        };
        let (index_str, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                if w.starts_with('0') || w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("partial width is not a number without leading zeros"));
                }
                let w: u16 = w.parse().map_err(|_| bad("partial width is not a number"))?;
                if !(1..=255).contains(&w) {
                    return Err(bad("partial width outside 1..=255"));
                }
                (i, w)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let elems: Vec<&str> = index_str.split('/').collect();
        let mut index: u64 = 0;
        for (i, e) in elems.iter().enumerate() {
            let digits = if i + 1 < elems.len() {
                e.strip_prefix('x').ok_or_else(|| bad("inner index element lacks x prefix"))?
            } else {
                e
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("index element is not 3 digits"));
            }
            index = index
                .checked_mul(1000)
                .and_then(|v| v.checked_add(digits.parse::<u64>().unwrap_or(0)))
                .ok_or_else(|| bad("index overflows"))?;
        }
        let id = TileId { kind, index, width };
        // Only the canonical encoding is accepted (no superfluous leading elements).
        if id.path() != path {
            return Err(bad("not in canonical form"));
        }
        Ok(id)
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes(l) => write!(f, "tile/{l}/")?,
            TileKind::Entries => write!(f, "tile/entries/")?,
        }
        let mut groups = vec![self.index % 1000];
        let mut n = self.index / 1000;
        while n > 0 {
            groups.push(n % 1000);
            n /= 1000;
        }
        for (i, g) in groups.iter().rev().enumerate() {
            if i + 1 < groups.len() {
                write!(f, "x{g:03}/")?;
            } else {
                write!(f, "{g:03}")?;
            }
        }
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// A path that is not a canonical tlog-tiles path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad tile path {path:?}: {why}")]
pub struct BadTilePath {
    /// The path given.
    pub path: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// Number of hash levels a tree of `size` has tiles at.
pub fn levels(size: u64) -> u8 {
    let mut l = 0u8;
    while l < 64 && (size >> (TILE_HEIGHT * u32::from(l))) > 0 {
        l += 1;
    }
    l
}

/// The rightmost (possibly partial) tile at `level` for a tree of `size`, if the level has one
/// that is partial. "The partial tile at level l for a tree of size s has floor(s / 256**l) mod
/// 256 entries."
pub fn partial_tile(size: u64, kind: TileKind) -> Option<TileId> {
    let level = match kind {
        TileKind::Hashes(l) => u32::from(l),
        TileKind::Entries => 0,
    };
    let n = size.checked_shr(TILE_HEIGHT * level).unwrap_or(0);
    let width = (n % TILE_WIDTH) as u16;
    (width > 0).then_some(TileId { kind, index: n / TILE_WIDTH, width })
}

/// Every tile (full and the rightmost partial) of `kind` for a tree of `size`, in index order.
pub fn tiles_of(size: u64, kind: TileKind) -> impl Iterator<Item = TileId> {
    let level = match kind {
        TileKind::Hashes(l) => u32::from(l),
        TileKind::Entries => 0,
    };
    let n = size.checked_shr(TILE_HEIGHT * level).unwrap_or(0);
    let full = n / TILE_WIDTH;
    (0..full)
        .map(move |index| TileId { kind, index, width: TILE_WIDTH as u16 })
        .chain(partial_tile(size, kind))
}

/// Splits an entry bundle into entries: "sequences of big-endian uint16 length-prefixed log
/// entries". Errors name the entry and byte offset.
pub fn split_bundle(bundle: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off < bundle.len() {
        if off + 2 > bundle.len() {
            return Err(BundleError { entry: out.len(), offset: off, why: "truncated length prefix" });
        }
        let len = usize::from(u16::from_be_bytes([bundle[off], bundle[off + 1]]));
        if off + 2 + len > bundle.len() {
            return Err(BundleError { entry: out.len(), offset: off, why: "entry runs past the end of the bundle" });
        }
        out.push(&bundle[off + 2..off + 2 + len]);
        off += 2 + len;
    }
    Ok(out)
}

/// An entry bundle that cannot be split into entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {entry} at byte {offset}: {why}")]
pub struct BundleError {
    /// Position of the bad entry within the bundle.
    pub entry: usize,
    /// Byte offset of its length prefix.
    pub offset: usize,
    /// What is wrong.
    pub why: &'static str,
}

/// Appends one entry to a bundle (uint16 big-endian length prefix).
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) {
    let len = u16::try_from(entry.len()).expect("entries are at most 65535 bytes");
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_the_spec_examples() {
        let t = TileId { kind: TileKind::Hashes(0), index: 1234067, width: 256 };
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        let p = TileId { width: 8, ..t };
        assert_eq!(p.path(), "tile/0/x001/x234/067.p/8");
        let e = TileId { kind: TileKind::Entries, index: 5, width: 1 };
        assert_eq!(e.path(), "tile/entries/005.p/1");
        let big = TileId { kind: TileKind::Hashes(2), index: 1000, width: 256 };
        assert_eq!(big.path(), "tile/2/x001/000");
    }

    #[test]
    fn parse_roundtrips_and_rejects_noncanonical() {
        for p in ["tile/0/000", "tile/0/x001/x234/067.p/8", "tile/entries/x999/999", "tile/63/001.p/255"] {
            assert_eq!(TileId::parse(p).unwrap().path(), p);
        }
        for p in [
            "tile/0/0", "tile/00/000", "tile/0/x000/001", "tile/0/001.p/0", "tile/0/001.p/256",
            "tile/0/001.p/08", "tile/64/000", "tile/0/001/002", "tiles/0/000", "tile/data/000",
            "tile/0/../000",
        ] {
            assert!(TileId::parse(p).is_err(), "{p} should be rejected");
        }
    }

    #[test]
    fn tree_of_70000_has_the_tiles_the_spec_lists() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level
        // 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and
        // one partial level 2 tile of width 1."
        let l0: Vec<_> = tiles_of(70_000, TileKind::Hashes(0)).collect();
        assert_eq!(l0.len(), 274);
        assert_eq!(l0.iter().filter(|t| t.is_full()).count(), 273);
        assert_eq!(l0.last().unwrap().width, 112);
        let l1: Vec<_> = tiles_of(70_000, TileKind::Hashes(1)).collect();
        assert_eq!(l1.iter().map(|t| t.width).collect::<Vec<_>>(), vec![256, 17]);
        let l2: Vec<_> = tiles_of(70_000, TileKind::Hashes(2)).collect();
        assert_eq!(l2.iter().map(|t| t.width).collect::<Vec<_>>(), vec![1]);
        assert_eq!(levels(70_000), 3);
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
        // tile of width 1."
        assert_eq!(partial_tile(256, TileKind::Hashes(0)), None);
        assert_eq!(partial_tile(256, TileKind::Hashes(1)).unwrap().width, 1);
    }

    #[test]
    fn bundle_split_reports_offsets() {
        let mut b = Vec::new();
        push_bundle_entry(&mut b, b"abc");
        push_bundle_entry(&mut b, b"");
        assert_eq!(split_bundle(&b).unwrap(), vec![&b"abc"[..], &b""[..]]);
        b.extend_from_slice(&[0, 9, 1]);
        let err = split_bundle(&b).unwrap_err();
        assert_eq!((err.entry, err.offset), (2, 7));
    }
}
