//! A consistent-hash ring with virtual nodes.
//!
//! References: D. Karger et al., "Consistent Hashing and Random Trees", STOC 1997 (the
//! ring); G. DeCandia et al., "Dynamo", SOSP 2007, and libketama (virtual nodes: many
//! points per shard, 160 in ketama). Each shard `s` owns `vnodes` points on a 2^64 ring at
//! `mix64(salt(s) + v)`; a key belongs to the first point at or after its hash, wrapping
//! around. A new shard takes only the arcs in front of its own points (about 1/(K+1) of
//! keys), but how close each shard's share is to 1/K depends on `vnodes`: the relative
//! spread of a share is roughly `1/sqrt(vnodes)`. More points buy balance with memory
//! (12 bytes a point) and a longer binary search.

use super::{check_shards, mix64, shard_salt, RouterSpec, ShardError, ShardRouter};

const RING_SEED: u64 = 0x6B65_7461_6D61_7269; // "ketamari"

/// Consistent-hash ring: `vnodes` points per shard, binary search per lookup.
#[derive(Clone, Debug)]
pub struct RingRouter {
    shards: usize,
    vnodes: usize,
    /// Ring positions, ascending.
    points: Box<[u64]>,
    /// `owners[i]` is the shard owning `points[i]`.
    owners: Box<[u32]>,
}

impl RingRouter {
    /// The largest K: shard indices are stored as `u32`.
    pub const MAX_SHARDS: usize = u32::MAX as usize;

    /// A ring over `shards` shards with the default 160 points per shard.
    pub fn new(shards: usize) -> Result<Self, ShardError> {
        Self::with_vnodes(shards, RouterSpec::DEFAULT_RING_VNODES)
    }

    /// A ring over `shards` shards with `vnodes` points per shard.
    pub fn with_vnodes(shards: usize, vnodes: usize) -> Result<Self, ShardError> {
        check_shards(shards, Self::MAX_SHARDS)?;
        if vnodes == 0 {
            return Err(ShardError::NoVnodes);
        }
        let total = shards
            .checked_mul(vnodes)
            .ok_or(ShardError::TooManyShards {
                shards,
                max: usize::MAX / vnodes,
            })?;
        let mut ring: Vec<(u64, u32)> = Vec::with_capacity(total);
        for s in 0..shards {
            let salt = shard_salt(s as u64, RING_SEED);
            for v in 0..vnodes as u64 {
                ring.push((mix64(salt.wrapping_add(v)), s as u32));
            }
        }
        // Sorting by (point, shard) makes a (2^-64-likely) collision resolve the same way everywhere.
        ring.sort_unstable();
        let (points, owners): (Vec<u64>, Vec<u32>) = ring.into_iter().unzip();
        Ok(RingRouter {
            shards,
            vnodes,
            points: points.into_boxed_slice(),
            owners: owners.into_boxed_slice(),
        })
    }

    /// Points per shard.
    pub fn vnodes(&self) -> usize {
        self.vnodes
    }
}

impl ShardRouter for RingRouter {
    fn label(&self) -> &'static str {
        "ring"
    }

    fn spec(&self) -> RouterSpec {
        RouterSpec::Ring {
            vnodes: self.vnodes,
        }
    }

    fn shards(&self) -> usize {
        self.shards
    }

    #[inline]
    fn shard(&self, key_hash: u64) -> usize {
        let i = self.points.partition_point(|&p| p < key_hash);
        let i = if i == self.points.len() { 0 } else { i };
        self.owners.get(i).map_or(0, |&s| s as usize)
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(&*self.points)
            + std::mem::size_of_val(&*self.owners)
    }

    fn with_shards(&self, shards: usize) -> Result<Self, ShardError> {
        Self::with_vnodes(shards, self.vnodes)
    }
}
