//! One database of one shard: the key table with lazy expiry, and the bookkeeping that makes
//! active expiry, RANDOMKEY and SCAN cheap.

use indexmap::IndexSet;

use super::table::Table;

use super::value::Entry;

pub use super::key::Key;
type Hasher = ahash::RandomState;

/// Counters a shard reports in INFO stats.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyspaceStats {
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
}

/// Keys live in an insertion-ordered table so that a key can be picked at random in O(1) and a
/// SCAN cursor is simply a position (walked from the end down; see [`Db::scan`]).
#[derive(Default)]
pub struct Db {
    map: Table<Entry>,
    /// Keys that have an expiry, sampled by the active expiry cycle (Redis's `expires` dict).
    volatile: IndexSet<Key, Hasher>,
    /// Keys removed by expiry since last taken (for `expired` keyspace events).
    expired: Vec<Key>,
    /// Keys under WATCH: (watchers, version). The version moves whenever the key is created
    /// or removed, which its stamp alone cannot show (a key created and deleted again).
    watched: std::collections::HashMap<Key, (u32, u64), Hasher>,
    /// Active replication's memory of removed keys (DESIGN §6.3): key → the stamp of its
    /// delete, or for a key expiry removed, the stamp it had, so that no older write from a
    /// peer can bring it back. Kept only while `keep_tombstones` is set; collected after
    /// `active-replica-tombstone-ttl`.
    tombstones: std::collections::HashMap<Key, u64, Hasher>,
    pub keep_tombstones: bool,
    /// The stamp of the last FLUSHDB/FLUSHALL of this database: it hides every older write.
    pub flushed_at: u64,
    /// This database's part in a running snapshot, if one is running (see [`Snap`]).
    snap: Option<Box<Snap>>,
}

/// A database's part in a running snapshot: which entries still hold the state the snapshot
/// must write, and copies of those that changed since.
///
/// The snapshot walks table positions from the top down. Invariant: every position at or
/// above `cursor` holds an entry already written or created after the snapshot began; every
/// position below it holds an entry as of the snapshot's start, unless its key is in `skip`.
/// A removal (`swap_remove`) below the cursor moves the last entry, which is above it, into
/// the hole, so that entry's key goes into `skip`; new keys are appended, above the cursor.
#[derive(Debug)]
pub struct Snap {
    /// The database number the snapshot writes these keys under (SWAPDB moves a database's
    /// contents, and its snapshot state with them, to another number).
    pub origin: usize,
    cursor: usize,
    skip: std::collections::HashSet<Key, Hasher>,
    /// Entries copied before their first change, as they were when the snapshot began.
    saved: Vec<(Key, Entry)>,
    /// Bytes copied into `saved` so far (INFO's `current_cow_size`).
    copied: usize,
}

impl Db {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    /// The live entry for `key`, removing it first if it has expired.
    #[inline]
    pub fn get(
        &mut self,
        key: &[u8],
        now_ms: u64,
        stats: &mut KeyspaceStats,
    ) -> Option<&mut Entry> {
        let idx = self.find(key, now_ms, stats)?;
        Some(self.map.value_mut(idx))
    }

    /// The position of the live entry for `key` (removing it first if it has expired). A
    /// position stays valid until the table is next changed.
    #[inline]
    pub fn find(&mut self, key: &[u8], now_ms: u64, stats: &mut KeyspaceStats) -> Option<usize> {
        let idx = self.map.get_index_of(key)?;
        if self.map.value(idx).is_expired(now_ms) {
            self.expire_index(idx);
            stats.expired_keys += 1;
            return None;
        }
        Some(idx)
    }

    /// Removes an entry whose time is up.
    fn expire_index(&mut self, idx: usize) {
        let (k, e) = self.remove_index(idx);
        if self.keep_tombstones {
            self.tombstones.insert(k.clone(), e.stamp);
        }
        self.expired.push(k);
    }

    /// The stamp that stands for `key` in last-writer-wins: its live entry's, else its
    /// tombstone's or the last flush's, whichever is newer (0: never seen).
    pub fn stamp_of(&self, key: &[u8]) -> (u64, Option<&Entry>) {
        match self.map.get(key) {
            Some(e) => (e.stamp, Some(e)),
            None => {
                let t = self.tombstones.get(key).copied().unwrap_or(0);
                (t.max(self.flushed_at), None)
            }
        }
    }

    /// Records that `key` was deleted by a write stamped `stamp`.
    pub fn bury(&mut self, key: &[u8], stamp: u64) {
        if self.keep_tombstones {
            self.tombstones.insert(key.into(), stamp);
        }
    }

    /// A tombstone read back from a snapshot file.
    pub fn restore_tombstone(&mut self, key: &[u8], stamp: u64) {
        self.tombstones.insert(key.into(), stamp);
    }

    pub fn tombstones(&self) -> usize {
        self.tombstones.len()
    }

    pub fn tombstone_iter(&self) -> impl Iterator<Item = (&Key, u64)> {
        self.tombstones.iter().map(|(k, &s)| (k, s))
    }

    /// Forgets tombstones stamped before `cutoff`; returns how many.
    pub fn collect_tombstones(&mut self, cutoff: u64) -> usize {
        let before = self.tombstones.len();
        self.tombstones.retain(|_, s| *s >= cutoff);
        before - self.tombstones.len()
    }

    /// A flush stamped `stamp` from a peer: removes every key written before it.
    pub fn flush_before(&mut self, stamp: u64) {
        self.flushed_at = self.flushed_at.max(stamp);
        self.tombstones.retain(|_, s| *s > stamp);
        let mut i = self.map.len();
        while i > 0 {
            i -= 1;
            if self.map.value(i).stamp <= stamp {
                if self.snap.is_some() {
                    let key = self.map.key(i).clone();
                    self.before_write(&key);
                }
                self.remove_index(i);
            }
        }
    }

    /// The entry at a position [`Db::find`] returned.
    #[inline]
    pub fn at(&self, idx: usize) -> &Entry {
        self.map.value(idx)
    }

    #[inline]
    pub fn at_mut(&mut self, idx: usize) -> &mut Entry {
        self.map.value_mut(idx)
    }

    pub fn remove_at(&mut self, idx: usize) -> Entry {
        self.remove_index(idx).1
    }

    /// Whether `key` exists and is live, without counting a hit or miss.
    pub fn contains(&mut self, key: &[u8], now_ms: u64, stats: &mut KeyspaceStats) -> bool {
        self.get(key, now_ms, stats).is_some()
    }

    /// Prefetches what looking `key` up will touch (see [`Table::prefetch_slot`]); call
    /// `stage` 0 for a batch of keys, then 1 for the same keys, then look them up.
    #[inline]
    pub fn prefetch(&self, key: &[u8], stage: u8) {
        self.map.prefetch(key, stage)
    }

    /// The entry for `key` as stored (expired or not), without side effects: for prefetching.
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    /// Whether `key` exists and is live, without removing it if it expired.
    pub fn is_live(&self, key: &[u8], now_ms: u64) -> bool {
        self.map.get(key).is_some_and(|e| !e.is_expired(now_ms))
    }

    /// The keys removed by expiry since the last call.
    pub fn take_expired(&mut self) -> Vec<Key> {
        std::mem::take(&mut self.expired)
    }

    /// Inserts or replaces `key`; returns the previous entry, if any (expired or not).
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        self.touch_watched(key);
        let has_ttl = entry.expire_at != 0;
        let (idx, old) = self.map.insert_full(key, entry);
        let had_ttl = old.as_ref().is_some_and(|e| e.expire_at != 0);
        if has_ttl != had_ttl {
            let k = self.map.get_index(idx).unwrap().0;
            if has_ttl {
                self.volatile.insert(k.clone());
            } else {
                self.volatile.swap_remove(&**k);
            }
        }
        old
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let idx = self.map.get_index_of(key)?;
        Some(self.remove_index(idx).1)
    }

    fn remove_index(&mut self, idx: usize) -> (Key, Entry) {
        let (k, e) = self.map.swap_remove_index(idx).unwrap();
        if let Some(s) = &mut self.snap {
            // The entry that was last (at the new length) now sits at `idx`.
            let len = self.map.len();
            if idx < s.cursor && s.cursor <= len {
                s.skip.insert(self.map.key(idx).clone());
            }
            s.cursor = s.cursor.min(len);
        }
        self.touch_watched(&k);
        if e.expire_at != 0 {
            self.volatile.swap_remove(&*k);
        }
        (k, e)
    }

    #[inline]
    fn touch_watched(&mut self, key: &[u8]) {
        if !self.watched.is_empty() {
            if let Some(w) = self.watched.get_mut(key) {
                w.1 += 1;
            }
        }
    }

    /// Registers a watcher of `key`; returns the key's current version.
    pub fn watch(&mut self, key: &[u8]) -> u64 {
        let w = self.watched.entry(key.into()).or_insert((0, 0));
        w.0 += 1;
        w.1
    }

    /// The version of a watched key (see [`Db::watch`]).
    pub fn watch_version(&self, key: &[u8]) -> u64 {
        self.watched.get(key).map_or(0, |w| w.1)
    }

    /// Exchanges the watcher tables of two databases (SWAPDB swaps contents, not watchers).
    pub fn swap_watchers(a: &mut Db, b: &mut Db) {
        std::mem::swap(&mut a.watched, &mut b.watched);
    }

    /// Drops one watcher of `key`.
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(w) = self.watched.get_mut(key) {
            w.0 -= 1;
            if w.0 == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// Sets (or with 0 clears) the expiry of an existing key.
    pub fn set_expire(&mut self, key: &[u8], at_ms: u64) {
        let Some(idx) = self.map.get_index_of(key) else {
            return;
        };
        let e = self.map.value_mut(idx);
        let had = e.expire_at != 0;
        e.expire_at = at_ms;
        match (had, at_ms != 0) {
            (false, true) => {
                let k = self.map.key(idx).clone();
                self.volatile.insert(k);
            }
            (true, false) => {
                self.volatile.swap_remove(key);
            }
            _ => {}
        }
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.volatile = IndexSet::default();
        self.tombstones.clear();
        self.snap = None;
    }

    /// Moves the keys out into a new database, leaving this one empty (its watchers stay):
    /// a flush during a snapshot hands the old contents to the snapshot instead of freeing
    /// them.
    pub fn take_keys(&mut self) -> Db {
        Db {
            map: std::mem::take(&mut self.map),
            volatile: std::mem::take(&mut self.volatile),
            snap: self.snap.take(),
            ..Default::default()
        }
    }

    // -----------------------------------------------------------------------------------------
    // Snapshots (see [`Snap`]).

    /// Starts this database's part of a snapshot, as of now, written as database `origin`.
    pub fn begin_snapshot(&mut self, origin: usize) {
        self.snap = Some(Box::new(Snap {
            origin,
            cursor: self.map.len(),
            skip: Default::default(),
            saved: vec![],
            copied: 0,
        }));
    }

    pub fn snapshot(&self) -> Option<&Snap> {
        self.snap.as_deref()
    }

    /// Before `key` changes: if the snapshot has yet to write it, keeps a copy of it as it is.
    pub fn before_write(&mut self, key: &[u8]) {
        let Some(s) = &mut self.snap else { return };
        match self.map.get_index_of(key) {
            Some(idx) if idx < s.cursor && !s.skip.contains(key) => {
                let (k, e) = self.map.get_index(idx).unwrap();
                s.skip.insert(k.clone());
                s.saved.push((k.clone(), e.clone()));
                s.copied += std::mem::size_of::<(Key, Entry)>() + k.len() + e.value.heap_size();
            }
            _ => {}
        }
    }

    /// Bytes the running snapshot has copied aside so far.
    pub fn snapshot_copied(&self) -> usize {
        self.snap.as_ref().map_or(0, |s| s.copied)
    }

    /// Hands the snapshot's next entry to `write`: walks the table down, then the saved
    /// copies. Returns false (writing nothing) when this database's part is done.
    pub fn snapshot_step(&mut self, write: impl FnOnce(&[u8], &Entry)) -> bool {
        let Some(s) = self.snap.as_mut() else {
            return false;
        };
        while s.cursor > 0 {
            s.cursor -= 1;
            let (k, e) = self.map.get_index(s.cursor).unwrap();
            if s.skip.is_empty() || !s.skip.contains(&**k) {
                write(k, e);
                return true;
            }
        }
        match s.saved.pop() {
            Some((k, e)) => {
                write(&k, &e);
                true
            }
            None => false,
        }
    }

    /// Ends this database's part of a snapshot (finished or abandoned).
    pub fn end_snapshot(&mut self) {
        self.snap = None;
    }

    /// The key at a position, for random picks and sampling.
    pub fn get_index(&self, idx: usize) -> Option<(&Key, &Entry)> {
        self.map.get_index(idx)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.map.iter()
    }

    /// Active expiry: samples up to `samples` volatile keys at random and removes the expired
    /// ones. Returns (sampled, expired) so the caller can decide whether to go on.
    pub fn expire_cycle(
        &mut self,
        now_ms: u64,
        samples: usize,
        mut rand: impl FnMut(usize) -> usize,
    ) -> (usize, usize) {
        let mut expired = 0;
        let n = samples.min(self.volatile.len());
        for _ in 0..n {
            if self.volatile.is_empty() {
                break;
            }
            let vi = rand(self.volatile.len());
            let key = self.volatile.get_index(vi).unwrap();
            let Some(idx) = self.map.get_index_of(key) else {
                // Cannot happen while both tables are kept together; heal rather than loop.
                self.volatile.swap_remove_index(vi);
                continue;
            };
            if self.map.value(idx).is_expired(now_ms) {
                self.expire_index(idx);
                expired += 1;
            }
        }
        (n, expired)
    }

    /// One step of SCAN over this table. Positions are visited from the end down, so that
    /// `swap_remove` (which moves the last entry into the hole) can only move an entry not
    /// yet visited into a hole that is also not yet visited: every key present for the whole
    /// scan is returned at least once. `top` is the position above the next one to visit
    /// (`None` to start); returns the next `top`, 0 when done.
    pub fn scan(
        &self,
        top: Option<usize>,
        count: usize,
        mut visit: impl FnMut(&Key, &Entry),
    ) -> usize {
        let mut i = top.unwrap_or(self.map.len()).min(self.map.len());
        let mut n = 0;
        while i > 0 && n < count {
            i -= 1;
            let (k, e) = self.map.get_index(i).unwrap();
            visit(k, e);
            n += 1;
        }
        i
    }

    /// Makes room for `additional` more keys at once (RESIZEDB when loading a file).
    pub fn reserve(&mut self, additional: usize) {
        self.map.reserve(additional);
    }

    /// Approximate memory held, for INFO memory.
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::value::Value;

    fn e(v: &str, exp: u64) -> Entry {
        let mut e = Entry::new(Value::str(v.as_bytes()), 1);
        e.expire_at = exp;
        e
    }

    #[test]
    fn lazy_expiry_and_volatile_count() {
        let mut db = Db::default();
        let mut st = KeyspaceStats::default();
        db.insert(b"a", e("1", 100));
        db.insert(b"b", e("2", 0));
        assert_eq!(db.volatile_len(), 1);
        assert!(db.get(b"a", 50, &mut st).is_some());
        assert!(db.get(b"a", 100, &mut st).is_none());
        assert_eq!(st.expired_keys, 1);
        assert_eq!(db.volatile_len(), 0);
        db.set_expire(b"b", 10);
        assert_eq!(db.volatile_len(), 1);
        db.insert(b"b", e("3", 0));
        assert_eq!(db.volatile_len(), 0);
    }

    #[test]
    fn scan_survives_removals() {
        let mut db = Db::default();
        for i in 0..100 {
            db.insert(format!("k{i}").as_bytes(), e("v", 0));
        }
        let mut seen = std::collections::HashSet::new();
        let mut top = None;
        loop {
            let next = db.scan(top, 7, |k, _| {
                seen.insert(k.clone());
            });
            // Remove some keys mid-scan; every key never removed must still be seen.
            db.remove(format!("k{}", seen.len() % 100).as_bytes());
            if next == 0 {
                break;
            }
            top = Some(next);
        }
        for (k, _) in db.iter() {
            assert!(seen.contains(k));
        }
    }

    /// A snapshot taken while keys are written, deleted, expired and created writes exactly
    /// the keys and values of the instant it began, each once.
    #[test]
    fn snapshot_holds_its_instant_under_writes() {
        use std::collections::HashMap;
        let mut rng = crate::util::Rng::new(7);
        for round in 0..50 {
            let mut db = Db::default();
            let mut st = KeyspaceStats::default();
            let n = 1 + rng.below(300);
            for i in 0..n {
                let exp = if rng.below(5) == 0 { 1000 } else { 0 };
                db.insert(format!("k{i}").as_bytes(), e(&format!("v{i}"), exp));
            }
            let want: HashMap<Vec<u8>, Vec<u8>> =
                db.iter().map(|(k, v)| (k.to_vec(), value_of(v))).collect();
            db.begin_snapshot(3);
            let mut got: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut next = n;
            loop {
                // A few changes between steps, as the shard serves clients.
                for _ in 0..rng.below(4) {
                    let key = format!("k{}", rng.below(next + 5));
                    match rng.below(4) {
                        0 => {
                            db.before_write(key.as_bytes());
                            db.insert(key.as_bytes(), e(&format!("new{round}"), 0));
                        }
                        1 => {
                            db.before_write(key.as_bytes());
                            db.remove(key.as_bytes());
                        }
                        2 => {
                            // Lazy expiry: no hook, as a read that finds a key expired.
                            db.get(key.as_bytes(), 2000, &mut st);
                        }
                        _ => {
                            db.insert(format!("k{next}").as_bytes(), e("fresh", 0));
                            next += 1;
                        }
                    }
                }
                let more = db.snapshot_step(|k, v| {
                    let old = got.insert(k.to_vec(), value_of(v));
                    assert!(
                        old.is_none(),
                        "{} written twice",
                        String::from_utf8_lossy(k)
                    );
                });
                if !more {
                    break;
                }
            }
            db.end_snapshot();
            // Keys expired by lazy expiry before the walk reached them may be missing;
            // everything written is as of the start, and every key that never expired is.
            for (k, v) in &got {
                assert_eq!(want.get(k), Some(v), "{}", String::from_utf8_lossy(k));
            }
            for k in want.keys() {
                let expired = want[k].ends_with(b"@1000");
                assert!(
                    expired || got.contains_key(k),
                    "{} missing",
                    String::from_utf8_lossy(k)
                );
            }
        }
    }

    fn value_of(e: &Entry) -> Vec<u8> {
        let Value::Str(s) = &e.value else { panic!() };
        let mut v = s.to_vec();
        v.extend_from_slice(format!("@{}", e.expire_at).as_bytes());
        v
    }
}
