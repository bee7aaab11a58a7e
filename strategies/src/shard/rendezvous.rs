//! Rendezvous (highest random weight, HRW) hashing: the `pick_shard` of seed 000 (the
//! "Naming & Fleets" study notes on *Adopting Elixir*, drill 4).
//!
//! Reference: D. G. Thaler and C. V. Ravishankar, "A Name-Based Mapping Scheme for
//! Rendezvous", University of Michigan CSE-TR-316-96, 1996 (IEEE/ACM ToN 1998). Each shard
//! `s` gets a pseudo-random weight `w(key, s)` and the key goes to the shard of highest
//! weight, exactly `Enum.max_by(shard_ids, fn sid -> :erlang.phash2({user_id, sid}) end)`.
//! Adding a shard moves only the keys it now wins (the minimum, 1/(K+1) in expectation);
//! removing one moves only its own keys.
//!
//! Here `w(key, s) = mix64(key_hash ^ salt(s))`, where `salt(s)` depends on `s` alone, so
//! weights do not change when K does. Ties (probability 2^-64) go to the lowest shard,
//! as `Enum.max_by` keeps the first maximum.

use super::{check_shards, mix64, shard_salt, RouterSpec, ShardError, ShardRouter, MAX_SHARDS};

const RENDEZVOUS_SEED: u64 = 0x4857_5277_6569_6768; // "HRWweigh"

/// Highest random weight over K shards: minimal movement, O(K) per lookup.
#[derive(Clone, Debug)]
pub struct RendezvousRouter {
    salts: Box<[u64]>,
}

impl RendezvousRouter {
    /// A rendezvous router over `shards` shards.
    pub fn new(shards: usize) -> Result<Self, ShardError> {
        check_shards(shards, MAX_SHARDS)?;
        let salts = (0..shards as u64)
            .map(|s| shard_salt(s, RENDEZVOUS_SEED))
            .collect();
        Ok(RendezvousRouter { salts })
    }

    /// The weight of shard `shard` for a key (what the highest-weight choice compares).
    #[inline]
    pub fn weight(&self, key_hash: u64, shard: usize) -> Option<u64> {
        self.salts.get(shard).map(|&salt| mix64(key_hash ^ salt))
    }
}

impl ShardRouter for RendezvousRouter {
    fn label(&self) -> &'static str {
        "rendezvous"
    }

    fn spec(&self) -> RouterSpec {
        RouterSpec::Rendezvous
    }

    fn shards(&self) -> usize {
        self.salts.len()
    }

    #[inline]
    fn shard(&self, key_hash: u64) -> usize {
        let mut best = 0;
        let mut best_weight = 0;
        for (s, &salt) in self.salts.iter().enumerate() {
            let w = mix64(key_hash ^ salt);
            // `>` keeps the first maximum; `s == 0` seeds it even if the weight is 0.
            if w > best_weight || s == 0 {
                best = s;
                best_weight = w;
            }
        }
        best
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.salts)
    }

    fn with_shards(&self, shards: usize) -> Result<Self, ShardError> {
        Self::new(shards)
    }
}
