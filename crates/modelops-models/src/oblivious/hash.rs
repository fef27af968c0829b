//! CatBoost's categorical-value hashing, so exported CTR tables and one-hot values match what CatBoost computes.
//!
//! CatBoost hashes a categorical value's text with CityHash64 **v1.0** (its `util/digest/city`, which differs from
//! later CityHash releases) and keeps the low 32 bits (`CalcCatFeatureHash`); CTR tables are keyed by
//! `CalcHash(0, hash as i32 as u64)`. Written here rather than taken from a crate because the crates on the
//! registry implement later CityHash versions. Only inputs of up to 16 bytes are supported, which covers every
//! level code we emit (decimal text of a `u32`).

const K2: u64 = 0x9ae1_6a3b_2f90_404f;
const K3: u64 = 0xc949_d7c7_509e_6557;
const KMUL: u64 = 0x9ddf_ea08_eb38_2d69;
const CTR_MAGIC_MULT: u64 = 0x4906_ba49_4954_cb65;

fn hash_len16(u: u64, v: u64) -> u64 {
    let mut a = (u ^ v).wrapping_mul(KMUL);
    a ^= a >> 47;
    let mut b = (v ^ a).wrapping_mul(KMUL);
    b ^= b >> 47;
    b.wrapping_mul(KMUL)
}

fn fetch64(s: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&s[..8]);
    u64::from_le_bytes(buf)
}

fn fetch32(s: &[u8]) -> u64 {
    let mut buf = [0u8; 4];
    buf.copy_from_slice(&s[..4]);
    u64::from(u32::from_le_bytes(buf))
}

/// CityHash64 v1.0 of a short byte string (at most 16 bytes; longer inputs are hashed by their first 16 bytes,
/// which never happens for the level codes we produce).
fn city_hash64_short(s: &[u8]) -> u64 {
    let s = &s[..s.len().min(16)];
    let len = s.len();
    if len > 8 {
        let a = fetch64(s);
        let b = fetch64(&s[len - 8..]);
        let shift = len as u32;
        hash_len16(a, b.wrapping_add(len as u64).rotate_right(shift)) ^ b
    } else if len >= 4 {
        let a = fetch32(s);
        hash_len16((len as u64).wrapping_add(a << 3), fetch32(&s[len - 4..]))
    } else if len > 0 {
        let a = u64::from(s[0]);
        let b = u64::from(s[len >> 1]);
        let c = u64::from(s[len - 1]);
        let y = a.wrapping_add(b << 8);
        let z = (len as u64).wrapping_add(c << 2);
        let v = y.wrapping_mul(K2) ^ z.wrapping_mul(K3);
        (v ^ (v >> 47)).wrapping_mul(K2)
    } else {
        K2
    }
}

/// CatBoost's hash of a categorical level given to it as the decimal text of `code` (what Python's `str(code)`
/// produces), as the signed 32-bit value CatBoost writes into JSON models.
pub(crate) fn level_hash(code: u32) -> i32 {
    let text = code.to_string();
    (city_hash64_short(text.as_bytes()) & 0xffff_ffff) as u32 as i32
}

/// The key of a single-feature CTR table entry for a level, as CatBoost computes it (`CalcHash(0, hash)`).
pub(crate) fn ctr_table_key(code: u32) -> u64 {
    let value = level_hash(code) as i64 as u64;
    CTR_MAGIC_MULT.wrapping_mul(CTR_MAGIC_MULT.wrapping_mul(value))
}

/// A small deterministic random stream (SplitMix64). Each (seed, tree, chunk) gets its own stream, so results do
/// not depend on the number of threads. Ours rather than `rand` to keep the booster free of version-dependent
/// sequences: the same seed must give the same model bytes across dependency upgrades.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A stream derived from several integers (seed, iteration, chunk …).
    pub(crate) fn from_parts(parts: &[u64]) -> Self {
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        for &p in parts {
            state = Self(state ^ p.wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64();
        }
        Self(state)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1], never 0 (safe for `ln`).
    pub(crate) fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn next_normal(&mut self) -> f64 {
        let u1 = self.next_open01();
        let u2 = self.next_open01();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform index in `0..n` (n > 0).
    pub(crate) fn next_below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_hashes_match_catboost() {
        // Values written by Python catboost 1.2.10 for the levels "0", "1", "2".
        assert_eq!(level_hash(0), -1_438_285_038);
        assert_eq!(level_hash(1), 1_121_341_681);
        assert_eq!(level_hash(2), -1_284_790_409);
    }

    #[test]
    fn ctr_keys_match_catboost() {
        // Keys of a CTR table written by Python catboost 1.2.10 for levels "0".."9" (sorted as text there).
        let mut keys: Vec<String> = (0..10).map(|c| ctr_table_key(c).to_string()).collect();
        keys.sort();
        assert_eq!(keys[0], "10650234391120027977");
        assert_eq!(keys[9], "9616523556582106773");
        assert!(keys.contains(&"14096670708071601218".to_string()));
    }

    #[test]
    fn long_level_codes_hash_like_city_v1() {
        // 4..8 and 9..16 byte paths are exercised by multi-digit codes; they must at least be stable and distinct.
        let a = level_hash(1234);
        let b = level_hash(123_456_789);
        assert_ne!(a, b);
        assert_eq!(a, level_hash(1234));
    }
}
