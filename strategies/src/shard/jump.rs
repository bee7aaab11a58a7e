//! Jump consistent hash.
//!
//! Reference: J. Lamping and E. Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm",
//! arXiv:1406.2294, 2014. The function below is the paper's `JumpConsistentHash` line for
//! line (the 64-bit LCG `key * 2862933555777941757 + 1` and the jump
//! `(b + 1) * (2^31 / ((key >> 33) + 1))`). It needs no table, moves the minimum 1/(K+1)
//! of keys on growth, and its expected loop count is ln K. Shards are numbered, so only the
//! highest-numbered one can be removed.

use super::{check_shards, RouterSpec, ShardError, ShardRouter};

/// The paper's function: the bucket in `0..num_buckets` for `key` (`num_buckets >= 1`).
#[inline]
pub fn jump_consistent_hash(mut key: u64, num_buckets: u32) -> u32 {
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < i64::from(num_buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    // `b` is in 0..num_buckets once the loop ran, and it runs at least once for K >= 1.
    b.max(0) as u32
}

/// Jump consistent hash over K shards: no table, minimal movement, O(log K) per lookup.
#[derive(Clone, Debug)]
pub struct JumpRouter {
    shards: u32,
}

impl JumpRouter {
    /// The largest K the paper's signed 32-bit bucket count allows.
    pub const MAX_SHARDS: usize = i32::MAX as usize;

    /// A jump-hash router over `shards` shards.
    pub fn new(shards: usize) -> Result<Self, ShardError> {
        check_shards(shards, Self::MAX_SHARDS)?;
        Ok(JumpRouter {
            shards: shards as u32,
        })
    }
}

impl ShardRouter for JumpRouter {
    fn label(&self) -> &'static str {
        "jump"
    }

    fn spec(&self) -> RouterSpec {
        RouterSpec::Jump
    }

    fn shards(&self) -> usize {
        self.shards as usize
    }

    #[inline]
    fn shard(&self, key_hash: u64) -> usize {
        jump_consistent_hash(key_hash, self.shards) as usize
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }

    fn with_shards(&self, shards: usize) -> Result<Self, ShardError> {
        Self::new(shards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs of the paper's C++ function (compiled with g++ from the listing in the paper).
    const REFERENCE: [(u64, u32, u32); 14] = [
        (0x0, 2_147_483_647, 0),
        (0x1, 10, 6),
        (0x1, 256, 192),
        (0x1, 65_536, 21_134),
        (0x2, 1000, 338),
        (0x2a, 2, 1),
        (0x2a, 2_147_483_647, 1_603_940_301),
        (0xdead_beef, 256, 87),
        (0xdead_beef, 65_536, 64_244),
        (0xffff_ffff_ffff_ffff, 10, 9),
        (0xffff_ffff_ffff_ffff, 1000, 313),
        (0x0123_4567_89ab_cdef, 256, 194),
        (0x0123_4567_89ab_cdef, 1000, 194),
        (0x3b9a_ca07, 2_147_483_647, 794_687_178),
    ];

    #[test]
    fn matches_the_papers_reference_implementation() {
        for (key, buckets, want) in REFERENCE {
            assert_eq!(
                jump_consistent_hash(key, buckets),
                want,
                "key {key:#x}, {buckets} buckets"
            );
        }
    }

    #[test]
    fn one_bucket_is_always_zero() {
        for key in [0, 1, u64::MAX] {
            assert_eq!(jump_consistent_hash(key, 1), 0);
        }
    }
}
