//! HyperLogLog commands (on string values, in Redis's HLL format).
