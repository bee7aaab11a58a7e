//! Maglev hashing.
//!
//! Reference: D. E. Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
//! Balancer", NSDI 2016, section 3.4 and Pseudocode 1. Each shard `i` has a preference
//! permutation of the M table slots, `permutation[i][j] = (offset + j * skip) mod M` with
//! `offset = h1(i) mod M` and `skip = h2(i) mod (M - 1) + 1`; shards take turns claiming
//! their next free preferred slot until the table is full. M must be prime so every `skip`
//! generates a full permutation. A lookup is one table read at `hash mod M`, each shard owns
//! `floor(M/K)` or `ceil(M/K)` slots, and a reshard moves a little more than the minimum
//! (the paper recommends M much larger than K, e.g. M > 100 K; the excess grows with K/M).
//! The default M = 655 373 is the larger table size the paper evaluates: at K = 256 it moves
//! about 1.47x the minimum, where M = 65 537 moves about 2.9x. Slots cost 4 bytes each.

use super::{check_shards, shard_salt, RouterSpec, ShardError, ShardRouter};

const MAGLEV_OFFSET_SEED: u64 = 0x6D61_676C_6576_6F66; // "maglevof"
const MAGLEV_SKIP_SEED: u64 = 0x6D61_676C_6576_736B; // "maglevsk"

/// Maglev lookup table of M (prime) slots: O(1) lookup, near-minimal movement.
#[derive(Clone, Debug)]
pub struct MaglevRouter {
    shards: usize,
    table: Box<[u32]>,
}

impl MaglevRouter {
    /// The largest K: shard indices are stored as `u32`.
    pub const MAX_SHARDS: usize = u32::MAX as usize;

    /// A Maglev router over `shards` shards with the default table size 655 373.
    pub fn new(shards: usize) -> Result<Self, ShardError> {
        Self::with_table_size(shards, RouterSpec::DEFAULT_MAGLEV_TABLE_SIZE)
    }

    /// A Maglev router over `shards` shards with a table of `table_size` slots
    /// (a prime, at least `shards`).
    pub fn with_table_size(shards: usize, table_size: usize) -> Result<Self, ShardError> {
        check_shards(shards, Self::MAX_SHARDS)?;
        if table_size < shards {
            return Err(ShardError::BadTableSize {
                size: table_size,
                reason: "smaller than the shard count",
            });
        }
        if table_size > u32::MAX as usize {
            return Err(ShardError::BadTableSize {
                size: table_size,
                reason: "larger than 2^32 - 1",
            });
        }
        if !is_prime(table_size as u64) {
            return Err(ShardError::BadTableSize {
                size: table_size,
                reason: "not a prime",
            });
        }
        Ok(MaglevRouter {
            shards,
            table: populate(shards, table_size as u64),
        })
    }

    /// The table size M.
    pub fn table_size(&self) -> usize {
        self.table.len()
    }

    /// How many table slots each shard owns (the paper's balance guarantee: they differ by at most 1).
    pub fn slots_per_shard(&self) -> Vec<usize> {
        let mut counts = vec![0; self.shards];
        for &s in self.table.iter() {
            if let Some(c) = counts.get_mut(s as usize) {
                *c += 1;
            }
        }
        counts
    }
}

/// Pseudocode 1 of the paper: shards take turns filling their next preferred free slot.
fn populate(shards: usize, m: u64) -> Box<[u32]> {
    const EMPTY: u32 = u32::MAX;
    let offsets: Vec<u64> = (0..shards as u64)
        .map(|i| shard_salt(i, MAGLEV_OFFSET_SEED) % m)
        .collect();
    let skips: Vec<u64> = (0..shards as u64)
        .map(|i| shard_salt(i, MAGLEV_SKIP_SEED) % (m - 1).max(1) + 1)
        .collect();
    // `pos[i]` is `permutation[i][next[i]]`, advanced by `skip` instead of recomputed, which
    // walks the same permutation without the overflow-prone product `next * skip`.
    let mut pos = offsets;
    let mut entry = vec![EMPTY; m as usize];
    let mut filled = 0u64;
    'fill: loop {
        for (i, (p, &skip)) in pos.iter_mut().zip(&skips).enumerate() {
            // Each permutation visits every slot once (M prime), so a free one is always found.
            while entry[*p as usize] != EMPTY {
                *p = (*p + skip) % m;
            }
            entry[*p as usize] = i as u32;
            *p = (*p + skip) % m;
            filled += 1;
            if filled == m {
                break 'fill;
            }
        }
    }
    entry.into_boxed_slice()
}

/// Deterministic primality by trial division (table sizes are at most 2^32).
pub(crate) fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let mut d = 3;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

impl ShardRouter for MaglevRouter {
    fn label(&self) -> &'static str {
        "maglev"
    }

    fn spec(&self) -> RouterSpec {
        RouterSpec::Maglev {
            table_size: self.table.len(),
        }
    }

    fn shards(&self) -> usize {
        self.shards
    }

    #[inline]
    fn shard(&self, key_hash: u64) -> usize {
        let slot = (key_hash % self.table.len() as u64) as usize;
        self.table.get(slot).map_or(0, |&s| s as usize)
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.table)
    }

    fn with_shards(&self, shards: usize) -> Result<Self, ShardError> {
        Self::with_table_size(shards, self.table.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes() {
        let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(is_prime(65_537));
        assert!(is_prime(655_373));
        assert!(!is_prime(65_536));
    }

    #[test]
    fn slots_differ_by_at_most_one() {
        for k in [1, 2, 7, 64, 257] {
            let r = MaglevRouter::with_table_size(k, 65_537).unwrap();
            let slots = r.slots_per_shard();
            let (min, max) = (slots.iter().min().unwrap(), slots.iter().max().unwrap());
            assert!(max - min <= 1, "k={k}: {min}..{max}");
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(matches!(
            MaglevRouter::with_table_size(4, 65_536),
            Err(ShardError::BadTableSize { .. })
        ));
        assert!(matches!(
            MaglevRouter::with_table_size(20, 17),
            Err(ShardError::BadTableSize { .. })
        ));
        assert_eq!(MaglevRouter::new(0).unwrap_err(), ShardError::NoShards);
    }
}
