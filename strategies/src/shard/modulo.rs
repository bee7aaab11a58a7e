//! Naive modulo routing: `shard = hash mod K`, the baseline seed 000 (the "Naming &
//! Fleets" study notes on *Adopting Elixir*) warns against.
//!
//! Reference: none needed; this is the textbook scheme whose churn motivated consistent
//! hashing (Karger et al., STOC 1997). Changing K to K+1 keeps a key in place only when
//! `hash mod K(K+1) < K`, so about K/(K+1) of all keys move.

use super::{check_shards, RouterSpec, ShardError, ShardRouter, MAX_SHARDS};

/// `hash mod K`: perfect balance and the cheapest lookup, but nearly every key moves on a reshard.
#[derive(Clone, Debug)]
pub struct ModuloRouter {
    shards: u64,
}

impl ModuloRouter {
    /// A modulo router over `shards` shards.
    pub fn new(shards: usize) -> Result<Self, ShardError> {
        check_shards(shards, MAX_SHARDS)?;
        Ok(ModuloRouter {
            shards: shards as u64,
        })
    }
}

impl ShardRouter for ModuloRouter {
    fn label(&self) -> &'static str {
        "modulo"
    }

    fn spec(&self) -> RouterSpec {
        RouterSpec::Modulo
    }

    fn shards(&self) -> usize {
        self.shards as usize
    }

    #[inline]
    fn shard(&self, key_hash: u64) -> usize {
        (key_hash % self.shards) as usize
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }

    fn with_shards(&self, shards: usize) -> Result<Self, ShardError> {
        Self::new(shards)
    }
}
