//! Pure RFC 6962 Merkle math: leaf/node hashing and the compact range ("frontier") of an
//! append-only tree. No I/O.
//!
//! Hashing follows RFC 6962 §2.1: `leaf = SHA-256(0x00 || entry)`, `node = SHA-256(0x01 || l || r)`,
//! and the empty tree hashes to `SHA-256("")`.

pub use tlog_tiles::Hash;
use tlog_tiles::{node_hash, record_hash};

/// Hash of the empty tree (RFC 6962 §2.1).
pub const EMPTY_TREE_HASH: Hash = tlog_tiles::EMPTY_HASH;

/// `SHA-256(0x00 || entry)`: the leaf hash of an entry.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    record_hash(entry)
}

/// `SHA-256(0x01 || left || right)`: an interior node.
pub fn interior_hash(left: &Hash, right: &Hash) -> Hash {
    node_hash(*left, *right)
}

/// The compact range `[0, size)` of a tree: the roots of its maximal perfect subtrees, left to
/// right, with their heights (one per set bit of `size`).
///
/// Appending is amortised O(1) hash; the root is O(log n). This is how the integrator keeps the
/// tree head without reading anything back from disk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frontier {
    size: u64,
    /// (height, hash), strictly decreasing heights.
    nodes: Vec<(u8, Hash)>,
}

impl Frontier {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the root of a perfect subtree of height `height` (a leaf is height 0).
    ///
    /// The subtree must start at the current size, which must be a multiple of `2^height`;
    /// otherwise the result would not be an RFC 6962 tree, so this panics (a programming error).
    pub fn push_subtree(&mut self, height: u8, hash: Hash) {
        assert!(
            self.size.is_multiple_of(1u64 << height),
            "subtree of height {height} not aligned at size {}",
            self.size
        );
        if let Some(&(last, _)) = self.nodes.last() {
            assert!(last >= height, "subtree taller than its left neighbour");
        }
        self.size += 1u64 << height;
        let mut node = (height, hash);
        while let Some(&(h, left)) = self.nodes.last() {
            if h != node.0 {
                break;
            }
            self.nodes.pop();
            node = (h + 1, interior_hash(&left, &node.1));
        }
        self.nodes.push(node);
    }

    /// Appends a leaf hash.
    pub fn push_leaf(&mut self, leaf: Hash) {
        self.push_subtree(0, leaf);
    }

    /// The RFC 6962 Merkle Tree Hash of the whole tree.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return EMPTY_TREE_HASH;
        };
        for (_, left) in iter {
            acc = interior_hash(left, &acc);
        }
        acc
    }
}

/// Merkle Tree Hash of a list of hashes taken as the leaves of a (sub)tree. Used for the hash
/// that a full tile contributes to the level above (C2SP tlog-tiles: "each hash in a tile is the
/// Merkle Tree Hash of a full tile at the level below").
pub fn subtree_root(hashes: &[Hash]) -> Hash {
    let mut f = Frontier::new();
    for h in hashes {
        f.push_leaf(*h);
    }
    f.root()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mth(leaves: &[Vec<u8>]) -> Hash {
        // Direct recursive definition from RFC 6962 §2.1, as an independent oracle.
        match leaves.len() {
            0 => EMPTY_TREE_HASH,
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = 1usize << (usize::BITS - (n - 1).leading_zeros() - 1);
                interior_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn frontier_matches_recursive_definition() {
        let leaves: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut f = Frontier::new();
        assert_eq!(f.root(), mth(&[]));
        for n in 1..=leaves.len() {
            f.push_leaf(leaf_hash(&leaves[n - 1]));
            assert_eq!(f.root(), mth(&leaves[..n]), "size {n}");
        }
    }

    #[test]
    fn subtree_push_equals_leaf_pushes() {
        let leaves: Vec<Hash> = (0..512u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut by_leaf = Frontier::new();
        leaves.iter().for_each(|h| by_leaf.push_leaf(*h));
        let mut by_tile = Frontier::new();
        by_tile.push_subtree(8, subtree_root(&leaves[..256]));
        by_tile.push_subtree(8, subtree_root(&leaves[256..]));
        assert_eq!(by_leaf, by_tile);
    }
}
