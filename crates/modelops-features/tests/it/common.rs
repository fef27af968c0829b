//! Shared helpers.

pub use crate::fixture::data;

/// Bitwise equality of two f32 slices (NaN equals NaN with the same bits).
pub fn bit_identical(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}
