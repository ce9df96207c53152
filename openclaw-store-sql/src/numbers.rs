//! Integers between the domain and SQL: neither database has unsigned integers, and a value
//! that does not fit is reported, never wrapped.

use openclaw_core::{Error, Result};

use crate::errors::corrupt;

/// A `u64` for a 64-bit signed column; too large is the caller's `InvalidInput`.
pub fn to_i64(value: u64, field: &'static str) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::invalid(field, "too large"))
}

/// A count for `LIMIT`: anything past `i64::MAX` is no limit anyway.
pub fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A 64-bit signed column read as `u64`; a negative value is corrupt data.
pub fn to_u64(value: i64, column: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| corrupt(format!("{column} is negative: {value}")))
}

/// A 64-bit signed column read as `u32`.
pub fn to_u32(value: i64, column: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| corrupt(format!("{column} out of range: {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_errors() {
        assert!(to_i64(u64::MAX, "version").is_err());
        assert_eq!(limit(usize::MAX), i64::MAX);
        assert!(to_u64(-1, "c").is_err());
        assert!(to_u32(i64::from(u32::MAX) + 1, "c").is_err());
        assert_eq!(to_u32(7, "c").ok(), Some(7));
    }
}
