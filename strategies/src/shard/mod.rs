//! Shard routers: which of K shard workers serves a key.
//!
//! Seed 000, the "Naming & Fleets" study notes on *Adopting Elixir* (Registry, via names,
//! DynamicSupervisor fleets), shards `user_id` in its drill 4 over K workers registered as
//! `{:shard, k}` and routes a call with `route(user_id)`, a via name. This module gives that routing step five
//! interchangeable implementations behind one [`ShardRouter`] trait, so they can be compared
//! on what a reshard costs (keys moved), balance, lookup time, memory and build time:
//!
//! | router | reference | lookup | moves on K -> K+1 |
//! |---|---|---|---|
//! | [`ModuloRouter`] | `hash mod K` | O(1) | about K/(K+1) of all keys |
//! | [`RendezvousRouter`] | Thaler & Ravishankar 1998 (HRW); seed 000's `pick_shard` | O(K) | the minimum, 1/(K+1) |
//! | [`RingRouter`] | Karger et al. 1997, virtual nodes as in Dynamo / ketama | O(log(K·vnodes)) | about 1/(K+1), spread depends on vnodes |
//! | [`JumpRouter`] | Lamping & Veach 2014 | O(log K) | the minimum, 1/(K+1) |
//! | [`MaglevRouter`] | Eisenbud et al., NSDI 2016 | O(1) | a little above 1/(K+1), depends on M |
//!
//! Every router routes on the same stable key hash ([`key_hash`]), so results compare the
//! routing step only and routes agree across runs, processes and nodes. Shrinking always
//! removes the highest-numbered shard (the only removal jump hash supports), for all routers.

mod hash;
mod jump;
mod maglev;
pub mod measure;
mod modulo;
mod rendezvous;
mod ring;

pub use hash::{key_hash, key_hash_bytes, mix64, shard_salt, GOLDEN_GAMMA, KEY_SEED};
pub use jump::JumpRouter;
pub use maglev::MaglevRouter;
pub use measure::{identities, reshard_rows, ReshardConfig, RESHARD};
pub use modulo::ModuloRouter;
pub use rendezvous::RendezvousRouter;
pub use ring::RingRouter;

use naming_schema::Params;
use process_runtime::Name;

/// The tag of shard names: shard `k` is registered as `Name::tagged("shard", k)` (`{:shard, k}`).
pub const SHARD_TAG: &str = "shard";

/// Why a router could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// A router needs at least one shard.
    #[error("a router needs at least one shard")]
    NoShards,
    /// More shards than this router can address.
    #[error("{shards} shards is more than this router supports ({max})")]
    TooManyShards {
        /// Shards asked for.
        shards: usize,
        /// The router's limit.
        max: usize,
    },
    /// A ring needs at least one virtual node per shard.
    #[error("a hash ring needs at least one virtual node per shard")]
    NoVnodes,
    /// A Maglev lookup table size must be a prime at least as large as the shard count.
    #[error("Maglev table size {size} is invalid: {reason}")]
    BadTableSize {
        /// The size asked for.
        size: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Maps a key's stable hash to one of K shards.
///
/// Implementations are immutable after construction (a reshard builds a new router), so a
/// router can be shared by any number of callers without locks.
pub trait ShardRouter: Send + Sync {
    /// A short, stable name for results, e.g. `rendezvous`.
    fn label(&self) -> &'static str;

    /// The router kind and its parameters, enough to rebuild it for another shard count.
    fn spec(&self) -> RouterSpec;

    /// How many shards it routes over (K).
    fn shards(&self) -> usize;

    /// The shard, in `0..K`, that serves the key whose stable hash is `key_hash`.
    fn shard(&self, key_hash: u64) -> usize;

    /// Bytes the router occupies, its own size plus its tables.
    fn memory_bytes(&self) -> usize;

    /// The same kind of router with the same parameters over `shards` shards.
    fn with_shards(&self, shards: usize) -> Result<Self, ShardError>
    where
        Self: Sized;

    /// The shard that serves `user_id` (hashed with [`key_hash`]).
    #[inline]
    fn shard_of(&self, user_id: u64) -> usize {
        self.shard(key_hash(user_id))
    }

    /// The name of the shard worker that serves `user_id`: seed 000's `route(user_id)`.
    #[inline]
    fn route(&self, user_id: u64) -> Name {
        shard_name(self.shard_of(user_id))
    }
}

/// The registered name of shard `k`: `{:shard, k}`.
#[inline]
pub fn shard_name(k: usize) -> Name {
    Name::tagged(SHARD_TAG, k as u64)
}

/// The name of the shard worker that serves `user_id` under `router`, as in seed 000:
/// `route(user_id) -> {:via, Registry, {My.Registry, {:shard, k}}}`.
#[inline]
pub fn route<R: ShardRouter + ?Sized>(router: &R, user_id: u64) -> Name {
    router.route(user_id)
}

/// A router kind with its parameters, independent of the shard count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouterSpec {
    /// `hash mod K`.
    Modulo,
    /// Highest random weight.
    Rendezvous,
    /// Consistent-hash ring with `vnodes` points per shard.
    Ring {
        /// Virtual nodes (ring points) per shard.
        vnodes: usize,
    },
    /// Jump consistent hash.
    Jump,
    /// Maglev lookup table of `table_size` (a prime) entries.
    Maglev {
        /// Lookup table size M (prime, at least K).
        table_size: usize,
    },
}

impl RouterSpec {
    /// Default ring points per shard: 160, as ketama (libketama, memcached clients) uses.
    pub const DEFAULT_RING_VNODES: usize = 160;
    /// Default Maglev table size: 655 373, the larger of the two sizes the Maglev paper
    /// evaluates. The smaller one (65 537) moves up to 2.9x the minimum at K = 256; this one
    /// stays under 1.5x for K <= 256 (see `tests/shard_routers.rs`).
    pub const DEFAULT_MAGLEV_TABLE_SIZE: usize = 655_373;

    /// The five routers at their default parameters.
    pub fn defaults() -> [RouterSpec; 5] {
        [
            RouterSpec::Modulo,
            RouterSpec::Rendezvous,
            RouterSpec::Ring {
                vnodes: Self::DEFAULT_RING_VNODES,
            },
            RouterSpec::Jump,
            RouterSpec::Maglev {
                table_size: Self::DEFAULT_MAGLEV_TABLE_SIZE,
            },
        ]
    }

    /// The router's short name, as [`ShardRouter::label`] gives it.
    pub fn label(&self) -> &'static str {
        match self {
            RouterSpec::Modulo => "modulo",
            RouterSpec::Rendezvous => "rendezvous",
            RouterSpec::Ring { .. } => "ring",
            RouterSpec::Jump => "jump",
            RouterSpec::Maglev { .. } => "maglev",
        }
    }

    /// The router's own parameters (`vnodes`, `table_size`; none for the others): what
    /// tells its variants apart in result rows.
    pub fn params(&self) -> Params {
        self.params_into(Params::new())
    }

    /// `params` followed by the router's own parameters.
    pub fn params_into(&self, params: Params) -> Params {
        match *self {
            RouterSpec::Ring { vnodes } => params.with("vnodes", vnodes),
            RouterSpec::Maglev { table_size } => params.with("table_size", table_size),
            _ => params,
        }
    }

    /// Builds this router over `shards` shards.
    pub fn build(&self, shards: usize) -> Result<Router, ShardError> {
        Ok(match *self {
            RouterSpec::Modulo => Router::Modulo(ModuloRouter::new(shards)?),
            RouterSpec::Rendezvous => Router::Rendezvous(RendezvousRouter::new(shards)?),
            RouterSpec::Ring { vnodes } => Router::Ring(RingRouter::with_vnodes(shards, vnodes)?),
            RouterSpec::Jump => Router::Jump(JumpRouter::new(shards)?),
            RouterSpec::Maglev { table_size } => {
                Router::Maglev(MaglevRouter::with_table_size(shards, table_size)?)
            }
        })
    }
}

/// Any of the five routers, chosen at run time (one `match` per lookup).
#[derive(Clone, Debug)]
pub enum Router {
    /// See [`ModuloRouter`].
    Modulo(ModuloRouter),
    /// See [`RendezvousRouter`].
    Rendezvous(RendezvousRouter),
    /// See [`RingRouter`].
    Ring(RingRouter),
    /// See [`JumpRouter`].
    Jump(JumpRouter),
    /// See [`MaglevRouter`].
    Maglev(MaglevRouter),
}

macro_rules! each_router {
    ($self:expr, $r:ident => $body:expr) => {
        match $self {
            Router::Modulo($r) => $body,
            Router::Rendezvous($r) => $body,
            Router::Ring($r) => $body,
            Router::Jump($r) => $body,
            Router::Maglev($r) => $body,
        }
    };
}

impl ShardRouter for Router {
    fn label(&self) -> &'static str {
        each_router!(self, r => r.label())
    }

    fn spec(&self) -> RouterSpec {
        each_router!(self, r => r.spec())
    }

    fn shards(&self) -> usize {
        each_router!(self, r => r.shards())
    }

    #[inline]
    fn shard(&self, key_hash: u64) -> usize {
        each_router!(self, r => r.shard(key_hash))
    }

    fn memory_bytes(&self) -> usize {
        // The enum may be larger than the variant it holds.
        each_router!(self, r => r.memory_bytes() - std::mem::size_of_val(r))
            + std::mem::size_of::<Router>()
    }

    fn with_shards(&self, shards: usize) -> Result<Self, ShardError> {
        self.spec().build(shards)
    }
}

/// Checks a shard count: at least one, at most `max`.
pub(crate) fn check_shards(shards: usize, max: usize) -> Result<(), ShardError> {
    if shards == 0 {
        Err(ShardError::NoShards)
    } else if shards > max {
        Err(ShardError::TooManyShards { shards, max })
    } else {
        Ok(())
    }
}

/// The most shards any router here supports: shard indices travel as `u32`.
pub const MAX_SHARDS: usize = u32::MAX as usize;
