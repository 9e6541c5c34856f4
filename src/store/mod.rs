//! Shard-owned data: databases of keys, values, expiry and the write clock (DESIGN §4–5).

pub mod clock;
pub mod db;
pub mod key;
pub mod value;

pub use clock::Hlc;
pub use db::{Db, Key, KeyspaceStats};
pub use value::{Entry, Str, Value};

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
