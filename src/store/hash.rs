//! Hash values.
//!
//! Two forms, as Redis 7.0 has (`listpack` and `hashtable` for OBJECT ENCODING):
//! - [`Hash::Small`]: every field and value packed in one exact-size allocation, each as a
//!   LEB128 length followed by its bytes, field then value, in insertion order. Lookups are
//!   linear, which is what Redis does too while a hash is small (at most
//!   `hash-max-listpack-entries` fields, none of them or their values longer than
//!   `hash-max-listpack-value` bytes). A hash of ten short fields costs one allocation of
//!   about 200 bytes and no per-field overhead.
//! - [`Hash::Large`]: an insertion-ordered hash table, so that HSCAN can walk positions from
//!   the top down (see [`Hash::scan`]) and HRANDFIELD can pick in O(1).
//!
//! A hash moves from the small form to the large one when a write breaks a limit, and never
//! back, exactly when Redis 7.0 converts (see [`Hash::insert`] and [`Hash::fit_values`]), so
//! that OBJECT ENCODING answers the same.

use super::value::{digest_bytes, digest_seq, Collection, Value};
use crate::util::varint_len;

/// The large form: fields inline up to 22 bytes (as keys are), values boxed; positional, so
/// HRANDFIELD picks in O(1) and HSCAN walks positions; prefetchable like the key table.
pub type Table = crate::store::table::Table<Box<[u8]>>;

#[derive(Debug, Clone)]
pub enum Hash {
    Small(Box<[u8]>),
    Large(Box<Table>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Small(Box::default())
    }
}

/// The encoding limits of the small form (`hash-max-listpack-entries`, `-value`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

impl Limits {
    pub fn of(cfg: &crate::config::Config) -> Limits {
        use crate::config::Opt;
        let clamp = |n: i64| usize::try_from(n).unwrap_or(usize::MAX);
        Limits {
            entries: clamp(cfg.int(Opt::HashMaxListpackEntries)),
            value: clamp(cfg.int(Opt::HashMaxListpackValue)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The packed form.

fn put_len(out: &mut Vec<u8>, n: usize) {
    crate::util::put_varint(out, n as u64)
}

/// Reads one length-prefixed string at `pos`; returns it and the position after it.
#[inline]
fn get_str(buf: &[u8], mut pos: usize) -> (&[u8], usize) {
    let n = crate::util::get_varint(buf, &mut pos).expect("a packed hash is well formed") as usize;
    (&buf[pos..pos + n], pos + n)
}

/// The (field, value) pairs of a packed buffer, in order.
pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (f, p) = get_str(self.buf, self.pos);
        let (v, p) = get_str(self.buf, p);
        self.pos = p;
        Some((f, v))
    }
}

/// Where a field's entry lies in a packed buffer: the entry starts at `start`, its value's
/// length prefix at `value`, and the next entry at `end`.
struct Slot {
    start: usize,
    value: usize,
    end: usize,
}

fn packed_find(buf: &[u8], field: &[u8]) -> Option<Slot> {
    let mut pos = 0;
    while pos < buf.len() {
        let (f, vpos) = get_str(buf, pos);
        let (_, end) = get_str(buf, vpos);
        if f == field {
            return Some(Slot {
                start: pos,
                value: vpos,
                end,
            });
        }
        pos = end;
    }
    None
}

/// Builds a small hash from its fields and values given in turn (a file being loaded),
/// without a buffer per element.
pub struct SmallBuilder {
    buf: Vec<u8>,
    items: usize,
    fits: bool,
    lim: Limits,
}

impl SmallBuilder {
    /// `size_hint`: about how many bytes the fields and values take.
    pub fn new(lim: Limits, size_hint: usize) -> Self {
        SmallBuilder {
            buf: Vec::with_capacity(size_hint),
            items: 0,
            fits: true,
            lim,
        }
    }

    /// The next field or value.
    pub fn push(&mut self, s: &[u8]) {
        self.fits &= s.len() <= self.lim.value;
        if self.fits {
            put_len(&mut self.buf, s.len());
            self.buf.extend_from_slice(s);
        }
        self.items += 1;
    }

    /// The hash, or None when it does not fit the small form or a field repeats (the caller
    /// then builds it the general way).
    pub fn finish(self) -> Option<Hash> {
        if !self.fits || !self.items.is_multiple_of(2) || self.items / 2 > self.lim.entries {
            return None;
        }
        let pairs = || PackedIter {
            buf: &self.buf,
            pos: 0,
        };
        let unique = if self.items / 2 > 32 {
            let fields: Vec<&[u8]> = pairs().map(|(f, _)| f).collect();
            distinct(fields.iter().copied())
        } else {
            // Few fields: on the stack, compared by a hash first (loading runs this for every
            // hash in a file).
            let mut seen: [(u64, &[u8]); 32] = [(0, &[]); 32];
            let mut n = 0;
            pairs().all(|(f, _)| {
                let h = fnv1a(f);
                let new = seen[..n].iter().all(|&(g, s)| g != h || s != f);
                seen[n] = (h, f);
                n += 1;
                new
            })
        };
        unique.then(|| Hash::Small(self.buf.into_boxed_slice()))
    }
}

fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Whether no field repeats (quadratic for the few fields of a small hash).
fn distinct<'a>(fields: impl ExactSizeIterator<Item = &'a [u8]> + Clone) -> bool {
    if fields.len() > 32 {
        let mut seen = std::collections::HashSet::with_capacity(fields.len());
        return fields.into_iter().all(|f| seen.insert(f));
    }
    fields
        .clone()
        .enumerate()
        .all(|(i, f)| fields.clone().take(i).all(|g| g != f))
}

/// Replaces `buf[from..to]` with `with`, keeping the allocation exact-size.
fn splice(buf: &mut Box<[u8]>, from: usize, to: usize, with: &[u8]) {
    let mut v = std::mem::take(buf).into_vec();
    if to == v.len() && from == to {
        v.reserve_exact(with.len());
        v.extend_from_slice(with);
    } else {
        v.splice(from..to, with.iter().copied());
    }
    *buf = v.into_boxed_slice();
}

// ---------------------------------------------------------------------------------------------

/// Iterates over a hash's (field, value) pairs in its order (insertion order while small).
pub enum Iter<'a> {
    Small(PackedIter<'a>),
    Large(crate::store::table::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(it) => it.next(),
            Iter::Large(it) => it.next().map(|(f, v)| (&**f, &**v)),
        }
    }
}

impl Hash {
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Small(b) => Iter::Small(PackedIter { buf: b, pos: 0 }),
            Hash::Large(t) => Iter::Large(t.iter()),
        }
    }

    pub fn is_small(&self) -> bool {
        matches!(self, Hash::Small(_))
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Small(b) => packed_find(b, field).map(|s| get_str(b, s.value).0),
            Hash::Large(t) => t.get(field).map(|v| &**v),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Small(b) => packed_find(b, field).is_some(),
            Hash::Large(t) => t.get_index_of(field).is_some(),
        }
    }

    /// The pair at a position of the hash's order (0..len).
    /// Prefetches the large form's slot (stage 0) or entry (stage 1) for `field`.
    pub fn prefetch(&self, field: &[u8], stage: u8) {
        if let Hash::Large(t) = self {
            t.prefetch(field, stage);
        }
    }

    pub fn get_index(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Small(_) => self.iter().nth(i),
            Hash::Large(t) => t.get_index(i).map(|(f, v)| (&**f, &**v)),
        }
    }

    /// A hash of the given pairs (a value loaded from a file), in the form commands writing
    /// them would leave it in: small, in one allocation, when within the limits. A field
    /// given twice (only in a corrupt file) keeps its last value.
    pub fn from_pairs(pairs: &[(Vec<u8>, Vec<u8>)], lim: Limits) -> Hash {
        let fits = pairs.len() <= lim.entries
            && pairs
                .iter()
                .all(|(f, v)| f.len() <= lim.value && v.len() <= lim.value);
        if fits && distinct(pairs.iter().map(|p| p.0.as_slice())) {
            let size = pairs
                .iter()
                .map(|(f, v)| varint_len(f.len()) + f.len() + varint_len(v.len()) + v.len())
                .sum();
            let mut buf = Vec::with_capacity(size);
            for (f, v) in pairs {
                put_len(&mut buf, f.len());
                buf.extend_from_slice(f);
                put_len(&mut buf, v.len());
                buf.extend_from_slice(v);
            }
            return Hash::Small(buf.into_boxed_slice());
        }
        let mut h = Hash::default();
        if !fits {
            h.convert();
        }
        for (f, v) in pairs {
            h.insert(f, v, lim);
        }
        h
    }

    /// Moves to the large form.
    pub fn convert(&mut self) {
        if let Hash::Small(b) = self {
            let n = PackedIter { buf: b, pos: 0 }.count();
            let mut t = Table::default();
            let _ = n;
            for (f, v) in (PackedIter { buf: b, pos: 0 }) {
                t.insert_full(f, v.into());
            }
            *self = Hash::Large(Box::new(t));
        }
    }

    /// Redis's hashTypeTryConversion: before a write of these fields and values, leaves the
    /// small form if any of them is longer than the limit.
    pub fn fit_values<'a>(&mut self, items: impl IntoIterator<Item = &'a [u8]>, lim: Limits) {
        if self.is_small() && items.into_iter().any(|s| s.len() > lim.value) {
            self.convert();
        }
    }

    /// Sets `field` to `value` (Redis's hashTypeSet, conversion rules included); returns
    /// whether the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8], lim: Limits) -> bool {
        if self.is_small() && (field.len() > lim.value || value.len() > lim.value) {
            self.convert();
        }
        let new = match self {
            Hash::Small(b) => match packed_find(b, field) {
                Some(slot) => {
                    let mut enc = Vec::with_capacity(varint_len(value.len()) + value.len());
                    put_len(&mut enc, value.len());
                    enc.extend_from_slice(value);
                    splice(b, slot.value, slot.end, &enc);
                    false
                }
                None => {
                    let mut enc = Vec::with_capacity(
                        varint_len(field.len())
                            + field.len()
                            + varint_len(value.len())
                            + value.len(),
                    );
                    put_len(&mut enc, field.len());
                    enc.extend_from_slice(field);
                    put_len(&mut enc, value.len());
                    enc.extend_from_slice(value);
                    let end = b.len();
                    splice(b, end, end, &enc);
                    true
                }
            },
            Hash::Large(t) => match t.get_mut(field) {
                Some(v) => {
                    *v = value.into();
                    false
                }
                None => {
                    t.insert_full(field, value.into());
                    true
                }
            },
        };
        // Redis checks the count after every set, an update included (which matters when
        // the limit was lowered at run time).
        if self.is_small() && self.len() > lim.entries {
            self.convert();
        }
        new
    }

    /// Removes `field`; returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Small(b) => match packed_find(b, field) {
                Some(slot) => {
                    splice(b, slot.start, slot.end, &[]);
                    true
                }
                None => false,
            },
            // swap_remove keeps HSCAN's guarantee (see `scan`).
            Hash::Large(t) => match t.get_index_of(field) {
                Some(i) => t.swap_remove_index(i).is_some(),
                None => false,
            },
        }
    }

    /// One HSCAN step. The small form is returned whole with cursor 0, as Redis does for a
    /// listpack. The large form is walked by position from the top down: `swap_remove` only
    /// moves the last (not yet visited) pair into a hole below, and new pairs go on top, so
    /// every pair present for the whole scan is returned at least once. `cursor` 0 starts a
    /// scan; otherwise it is the position above the next one to visit. Returns the next
    /// cursor, 0 when done.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match self {
            Hash::Small(_) => {
                for (f, v) in self.iter() {
                    visit(f, v);
                }
                0
            }
            Hash::Large(t) => {
                let mut i = if cursor == 0 {
                    t.len()
                } else {
                    usize::try_from(cursor).unwrap_or(usize::MAX).min(t.len())
                };
                let mut n = 0;
                while i > 0 && n < count {
                    i -= 1;
                    let (f, v) = t.get_index(i).unwrap();
                    visit(f, v);
                    n += 1;
                }
                i as u64
            }
        }
    }
}

impl Collection for Hash {
    const TYPE_NAME: &'static str = "hash";

    fn len(&self) -> usize {
        match self {
            Hash::Small(b) => PackedIter { buf: b, pos: 0 }.count(),
            Hash::Large(t) => t.len(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Hash::Small(b) => b.is_empty(),
            Hash::Large(t) => t.is_empty(),
        }
    }

    fn encoding(&self) -> &'static str {
        match self {
            Hash::Small(_) => "listpack",
            Hash::Large(_) => "hashtable",
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Hash::Small(b) => b.len(),
            Hash::Large(t) => {
                // Entries (hash, two boxed slices), the index (a word and a control byte per
                // bucket at most 7/8 full), and the bytes themselves.
                // Entries (inline field, boxed value, hash) and the slot index at most 3/4 full.
                let table = std::mem::size_of::<Table>() + t.capacity() * (48 + 8 * 4 / 3);
                table + t.iter().map(|(f, v)| f.len() + v.len()).sum::<usize>()
            }
        }
    }

    fn digest(&self) -> u64 {
        self.iter().fold(0u64, |acc, (f, v)| {
            acc.wrapping_add(digest_seq(digest_bytes(f), digest_bytes(v)))
        })
    }

    fn wrap(self) -> Value {
        Value::Hash(self)
    }

    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Hash(x) => Some(x),
            _ => None,
        }
    }

    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Hash(x) => Some(x),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_builder_matches_from_pairs_and_refuses_what_does_not_fit() {
        let lim = Limits {
            entries: 4,
            value: 8,
        };
        let build = |items: &[&[u8]]| {
            let mut b = SmallBuilder::new(lim, 16);
            items.iter().for_each(|i| b.push(i));
            b.finish()
        };
        let h = build(&[b"a", b"1", b"b", b"2"]).expect("fits");
        let pairs = vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
        ];
        let want = Hash::from_pairs(&pairs, lim);
        assert!(matches!((&h, &want), (Hash::Small(x), Hash::Small(y)) if x == y));
        assert!(
            build(&[b"a", b"1", b"a", b"2"]).is_none(),
            "a repeated field"
        );
        assert!(
            build(&[b"a", b"longer than 8"]).is_none(),
            "a value over the limit"
        );
        assert!(
            build(&[b"a", b"1", b"b"]).is_none(),
            "a field without a value"
        );
        let five: Vec<&[u8]> = vec![b"a", b"1", b"b", b"1", b"c", b"1", b"d", b"1", b"e", b"1"];
        assert!(build(&five).is_none(), "more entries than the limit");
    }

    use super::*;

    const LIM: Limits = Limits {
        entries: 4,
        value: 8,
    };

    fn pairs(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
        h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    #[test]
    fn compact_size() {
        assert_eq!(std::mem::size_of::<Hash>(), 16);
    }

    #[test]
    fn small_form_keeps_order_and_replaces_in_place() {
        let mut h = Hash::default();
        assert!(h.insert(b"a", b"1", LIM));
        assert!(h.insert(b"b", b"22", LIM));
        assert!(h.insert(b"", b"", LIM));
        assert!(!h.insert(b"a", b"333", LIM));
        assert_eq!(h.len(), 3);
        assert_eq!(h.get(b"a"), Some(&b"333"[..]));
        assert_eq!(h.get(b""), Some(&b""[..]));
        assert_eq!(h.get(b"c"), None);
        assert_eq!(
            pairs(&h),
            vec![
                (b"a".to_vec(), b"333".to_vec()),
                (b"b".to_vec(), b"22".to_vec()),
                (vec![], vec![])
            ]
        );
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.len(), 2);
        assert_eq!(h.encoding(), "listpack");
        // Exactly the bytes needed: two entries of (1+1)+(1+3) and (1+0)+(1+0).
        assert!(matches!(&h, Hash::Small(b) if b.len() == 8));
    }

    #[test]
    fn long_lengths_round_trip() {
        let lim = Limits {
            entries: 10,
            value: 1000,
        };
        let mut h = Hash::default();
        let big = vec![b'x'; 300];
        h.insert(&big, &big, lim);
        h.insert(b"k", &big[..200], lim);
        assert_eq!(h.get(&big), Some(&big[..]));
        assert_eq!(h.get(b"k").unwrap().len(), 200);
        assert!(h.is_small());
    }

    #[test]
    fn conversion_rules() {
        let mut h = Hash::default();
        for i in 0..4 {
            h.insert(format!("f{i}").as_bytes(), b"v", LIM);
        }
        assert!(h.is_small());
        h.insert(b"f4", b"v", LIM);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);

        let mut h = Hash::default();
        h.insert(b"f", b"123456789", LIM);
        assert!(!h.is_small());

        let mut h = Hash::default();
        h.insert(b"f", b"1", LIM);
        h.fit_values([&b"short"[..], &b"muchtoolong"[..]], LIM);
        assert!(!h.is_small());
        assert_eq!(h.get(b"f"), Some(&b"1"[..]));
    }

    #[test]
    fn digest_ignores_form_and_order() {
        let big = Limits {
            entries: 100,
            value: 100,
        };
        let mut a = Hash::default();
        let mut b = Hash::default();
        a.insert(b"x", b"1", big);
        a.insert(b"y", b"2", big);
        b.insert(b"y", b"2", big);
        b.insert(b"x", b"1", big);
        assert_eq!(a.digest(), b.digest());
        b.convert();
        assert_eq!(a.digest(), b.digest());
        b.insert(b"x", b"3", big);
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn scan_survives_removals() {
        let lim = Limits {
            entries: 0,
            value: 64,
        };
        let mut h = Hash::default();
        for i in 0..100 {
            h.insert(format!("f{i}").as_bytes(), b"v", lim);
        }
        let mut seen = std::collections::HashSet::new();
        let mut removed = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = h.scan(cursor, 7, |f, _| {
                seen.insert(f.to_vec());
            });
            let f = format!("f{}", (step * 37) % 100).into_bytes();
            if h.remove(&f) {
                removed.insert(f);
            }
            step += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100 {
            let f = format!("f{i}").into_bytes();
            assert!(seen.contains(&f) || removed.contains(&f), "missed f{i}");
        }
    }
}
