//! Sorted set commands.
