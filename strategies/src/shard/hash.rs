//! The one stable key hash every router shares.
//!
//! Routes must agree across runs, OS processes and nodes, so the hash is fixed and
//! documented here rather than taken from `std` (whose `DefaultHasher` is unspecified and
//! whose `RandomState` is seeded at random per process):
//!
//! - [`mix64`] is the SplitMix64 output finaliser (Steele, Lea & Flood, "Fast splittable
//!   pseudorandom number generators", OOPSLA 2014; the constants are Stafford's "Mix13"),
//!   a bijection on `u64` with full avalanche.
//! - [`key_hash`] of an integer key (a `user_id`) is `mix64(user_id ^ KEY_SEED)`.
//! - [`key_hash_bytes`] of a byte key is FNV-1a 64 (Fowler, Noll & Vo) over the bytes,
//!   finalised as `mix64(fnv ^ KEY_SEED)` because FNV's high bits mix poorly.
//!
//! Changing any constant here changes every route: `tests/data/shard_routes.csv` pins them.

/// The fixed seed of the key hash (the ASCII bytes of `"naming-b"`).
pub const KEY_SEED: u64 = 0x6E61_6D69_6E67_2D62;

/// The 64-bit golden-ratio increment of SplitMix64, used to spread small integers.
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

const FNV_OFFSET_BASIS: u64 = 0xCBF2_9CE4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01B3;

/// The SplitMix64 finaliser: a fixed bijection on `u64` whose every output bit depends on
/// every input bit.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stable hash of an integer key (e.g. a `user_id`): what every router routes on.
#[inline]
pub const fn key_hash(user_id: u64) -> u64 {
    mix64(user_id ^ KEY_SEED)
}

/// The stable hash of a byte key (e.g. a session token): FNV-1a 64, then [`mix64`].
#[inline]
pub fn key_hash_bytes(key: &[u8]) -> u64 {
    let mut h = FNV_OFFSET_BASIS;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    mix64(h ^ KEY_SEED)
}

/// A per-shard 64-bit value derived from the shard's index and a router-specific seed,
/// independent of how many shards there are (so adding a shard never changes the others').
#[inline]
pub const fn shard_salt(shard: u64, seed: u64) -> u64 {
    mix64(seed ^ shard.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_published_test_vectors_before_finalising() {
        // FNV-1a 64 of "" is the offset basis; of "a" it is 0xaf63dc4c8601ec8c.
        assert_eq!(key_hash_bytes(b""), mix64(FNV_OFFSET_BASIS ^ KEY_SEED));
        assert_eq!(
            key_hash_bytes(b"a"),
            mix64(0xaf63_dc4c_8601_ec8c ^ KEY_SEED)
        );
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // SplitMix64 seeded with 0 yields mix64(GOLDEN_GAMMA) first: 0xe220a8397b1dcdaf.
        assert_eq!(mix64(GOLDEN_GAMMA), 0xe220_a839_7b1d_cdaf);
    }
}
