//! The key table: an insertion-ordered hash map from key to value, like `IndexMap`, but
//! with the probe positions computable from the key alone, so that a pipeline's keys can be
//! prefetched before any of them is looked up.
//!
//! Layout: `entries` holds (key, value, hash) by position — O(1) random pick and a SCAN
//! cursor that is a position. `slots` is an open-addressing index (linear probing, at most
//! 3/4 full): each slot is 0 (empty) or the entry's position + 1 in the low 32 bits with the
//! top 32 bits of its hash as a tag, so a probe compares keys only when the tags match.
//! Removal moves the last entry into the hole (`swap_remove`) and closes the probe gap by
//! shifting back (no tombstones).
//!
//! A lookup then costs two memory accesses (slot, entry) whose addresses [`Table::prefetch`]
//! can request ahead of time: the slot from the hash, the entry from the slot.

use super::key::Key;
use super::prefetch;

const MIN_SLOTS: usize = 8;

fn hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(
        0x7461_6e64_656d_0001,
        0x9e37_79b9_7f4a_7c15,
        0x6b65_7973_7461_626c,
        0x1656_67b1_9e37_79f9,
    )
}

#[inline]
fn tag(hash: u64) -> u64 {
    hash & !0xffff_ffff
}

pub struct Table<V> {
    slots: Vec<u64>,
    entries: Vec<(Key, V, u64)>,
    hasher: ahash::RandomState,
}

impl<V: Clone> Clone for Table<V> {
    fn clone(&self) -> Self {
        Table {
            slots: self.slots.clone(),
            entries: self.entries.clone(),
            hasher: hasher(),
        }
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for Table<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            entries: Vec::new(),
            hasher: hasher(),
        }
    }
}

impl<V> Table<V> {
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Asks the CPU to bring in the slot `key` hashes to (first stage of a prefetch).
    #[inline]
    pub fn prefetch_slot(&self, hash: u64) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[hash as usize & self.mask()]);
        }
    }

    /// Second stage: if the slot is cached by now, brings in the entry it points to.
    #[inline]
    pub fn prefetch_entry(&self, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        let s = self.slots[hash as usize & self.mask()];
        if s != 0 && tag(s) == tag(hash) {
            prefetch(&self.entries[(s & 0xffff_ffff) as usize - 1]);
        }
    }

    /// The position of `key`'s slot and of its entry.
    #[inline]
    fn find(&self, key: &[u8], hash: u64) -> Option<(usize, usize)> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut pos = hash as usize & mask;
        loop {
            let s = self.slots[pos];
            if s == 0 {
                return None;
            }
            if tag(s) == tag(hash) {
                let idx = (s & 0xffff_ffff) as usize - 1;
                if &*self.entries[idx].0 == key {
                    return Some((pos, idx));
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    #[inline]
    pub fn get_index_of(&self, key: &[u8]) -> Option<usize> {
        self.find(key, self.hash(key)).map(|(_, i)| i)
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.get_index_of(key).map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.get_index_of(key).map(|i| &mut self.entries[i].1)
    }

    pub fn get_index(&self, idx: usize) -> Option<(&Key, &V)> {
        self.entries.get(idx).map(|(k, v, _)| (k, v))
    }

    #[inline]
    pub fn value(&self, idx: usize) -> &V {
        &self.entries[idx].1
    }

    #[inline]
    pub fn value_mut(&mut self, idx: usize) -> &mut V {
        &mut self.entries[idx].1
    }

    pub fn key(&self, idx: usize) -> &Key {
        &self.entries[idx].0
    }

    pub fn iter(&self) -> Iter<'_, V> {
        Iter(self.entries.iter())
    }

    /// Prefetches what looking `key` up will touch: `stage` 0 for the slot, then (for the
    /// same keys, later) 1 for the entry.
    #[inline]
    pub fn prefetch(&self, key: &[u8], stage: u8) {
        let h = self.hash(key);
        if stage == 0 {
            self.prefetch_slot(h);
        } else {
            self.prefetch_entry(h);
        }
    }

    /// Puts slot value `s` (for an entry with `hash`) into the first free slot of its probe.
    fn place(slots: &mut [u64], hash: u64, s: u64) {
        let mask = slots.len() - 1;
        let mut pos = hash as usize & mask;
        while slots[pos] != 0 {
            pos = (pos + 1) & mask;
        }
        slots[pos] = s;
    }

    /// Makes room for `additional` more entries at once (a file announcing its size).
    pub fn reserve(&mut self, additional: usize) {
        let n = self.entries.len() + additional;
        self.entries.reserve(additional);
        self.grow_for(n);
    }

    fn grow_for(&mut self, n: usize) {
        if n * 4 <= self.slots.len() * 3 {
            return;
        }
        let size = (n * 4 / 3 + 1).next_power_of_two().max(MIN_SLOTS);
        let mut slots = vec![0u64; size];
        for (i, (_, _, h)) in self.entries.iter().enumerate() {
            Self::place(&mut slots, *h, tag(*h) | (i as u64 + 1));
        }
        self.slots = slots;
    }

    /// Inserts or replaces; returns the position and the previous value, if any.
    pub fn insert_full(&mut self, key: &[u8], value: V) -> (usize, Option<V>) {
        let hash = self.hash(key);
        if let Some((_, idx)) = self.find(key, hash) {
            return (
                idx,
                Some(std::mem::replace(&mut self.entries[idx].1, value)),
            );
        }
        self.grow_for(self.entries.len() + 1);
        let idx = self.entries.len();
        self.entries.push((key.into(), value, hash));
        Self::place(&mut self.slots, hash, tag(hash) | (idx as u64 + 1));
        (idx, None)
    }

    /// Removes the entry at `idx`, moving the last entry into its place.
    pub fn swap_remove_index(&mut self, idx: usize) -> Option<(Key, V)> {
        if idx >= self.entries.len() {
            return None;
        }
        let hash = self.entries[idx].2;
        let pos = self.slot_of(hash, idx);
        self.delete_slot(pos);
        let last = self.entries.len() - 1;
        if idx != last {
            let last_hash = self.entries[last].2;
            let lpos = self.slot_of(last_hash, last);
            self.slots[lpos] = tag(last_hash) | (idx as u64 + 1);
        }
        let (k, v, _) = self.entries.swap_remove(idx);
        Some((k, v))
    }

    /// The slot holding entry `idx` (which has `hash`).
    fn slot_of(&self, hash: u64, idx: usize) -> usize {
        let mask = self.mask();
        let want = tag(hash) | (idx as u64 + 1);
        let mut pos = hash as usize & mask;
        while self.slots[pos] != want {
            pos = (pos + 1) & mask;
        }
        pos
    }

    /// Empties a slot and shifts later members of the probe run back into the gap, so every
    /// remaining entry stays reachable from its home slot without tombstones.
    fn delete_slot(&mut self, mut gap: usize) {
        let mask = self.mask();
        self.slots[gap] = 0;
        let mut pos = (gap + 1) & mask;
        while self.slots[pos] != 0 {
            let s = self.slots[pos];
            let idx = (s & 0xffff_ffff) as usize - 1;
            let home = self.entries[idx].2 as usize & mask;
            // Move it if its home is not in the cyclic range (gap, pos].
            let dist_home = pos.wrapping_sub(home) & mask;
            let dist_gap = pos.wrapping_sub(gap) & mask;
            if dist_home >= dist_gap {
                self.slots[gap] = s;
                self.slots[pos] = 0;
                gap = pos;
            }
            pos = (pos + 1) & mask;
        }
    }

    pub fn clear(&mut self) {
        *self = Table::default();
    }
}

/// The entries in position order.
pub struct Iter<'a, V>(std::slice::Iter<'a, (Key, V, u64)>);

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a Key, &'a V);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v, _)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Random inserts, replaces and removals, checked against std's HashMap and against the
    /// positional invariants (every entry reachable, positions dense).
    #[test]
    fn behaves_like_a_map() {
        let mut t: Table<u32> = Table::default();
        let mut m: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut x = 0x1234_5678u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for step in 0..200_000u32 {
            let k = format!("key:{}", rnd(3000)).into_bytes();
            match rnd(10) {
                0..=5 => {
                    let (_, old) = t.insert_full(&k, step);
                    assert_eq!(old, m.insert(k.clone(), step));
                }
                6..=8 => {
                    let got = t.get_index_of(&k).and_then(|i| t.swap_remove_index(i));
                    assert_eq!(got.map(|(_, v)| v), m.remove(&k));
                }
                _ => assert_eq!(t.get(&k), m.get(&k)),
            }
            if step % 20_000 == 0 {
                assert_eq!(t.len(), m.len());
                for (k, v) in &m {
                    assert_eq!(t.get(k), Some(v));
                }
                for i in 0..t.len() {
                    let (k, _) = t.get_index(i).unwrap();
                    assert_eq!(t.get_index_of(k), Some(i));
                }
            }
        }
    }
}
