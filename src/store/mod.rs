//! Shard-owned data: databases of keys, values, expiry and the write clock (DESIGN §4–5).

pub mod clock;
pub mod db;
pub mod hash;
pub mod key;
pub mod list;
pub mod set;
pub mod table;
pub mod value;
pub mod zset;

pub use clock::Hlc;
pub use db::{Db, Key, KeyspaceStats};
pub use value::{Collection, Entry, Hash, List, Set, Str, Value, ZSet};

/// All databases of one shard.
pub struct Store {
    pub dbs: Vec<Db>,
}

impl Store {
    pub fn new(databases: usize) -> Self {
        Store {
            dbs: (0..databases).map(|_| Db::default()).collect(),
        }
    }
}
