//! Tandem: a Redis-compatible, thread-per-core, active-active in-memory key-value server.
//!
//! Start reading at `server` (executors and connections), then `shard` (how cores talk),
//! `commands` (the command table) and `store` (the data). `protocol` is the wire format,
//! free of I/O; `config` the one option table.

pub mod commands;
pub mod config;
pub mod persist;
pub mod protocol;
pub mod rdb;
pub mod replication;
pub mod server;
pub mod shard;
pub mod store;
pub mod util;

/// The Redis version Tandem reports (HELLO, INFO), for clients that gate features on it.
pub const REDIS_VERSION: &str = "7.0.15";
