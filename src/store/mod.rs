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

/// Asks the CPU to bring the cache line at `p` in (a hint: it never faults).
#[inline(always)]
pub fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; the address is that of a live reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const T as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

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
