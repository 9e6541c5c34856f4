//! Set values, with Redis 7.0's two encodings:
//!
//! - `intset`: while every member is an integer (as Redis's string2ll reads it) and there are
//!   at most `set-max-intset-entries` of them: a sorted array of integers, each stored in the
//!   narrowest width (16, 32 or 64 bits) that fits every member, as Redis's intset does. Lookup
//!   is a binary search; members come out in ascending order.
//! - `hashtable`: any other set: an insertion-ordered hash set of members (short members
//!   stored inline, see [`Key`]). Positions give O(1) random picks (SPOP, SRANDMEMBER) and a
//!   SSCAN cursor that never misses a member present for the whole scan (walked from the end
//!   down, as [`crate::store::Db::scan`] does), since removal moves the last member into
//!   the hole.
//!
//! The conversion is one-way, as in Redis: a set never goes back to `intset` by removals
//! (only SPOP's "rebuild the remainder" path builds a new set, see [`Set::pop_many`]).

use indexmap::IndexSet;

use super::key::Key;
use super::value::{digest_bytes, Collection, Value};
use crate::protocol::parse_i64;

type Hasher = ahash::RandomState;

/// A set value: 16 bytes, one allocation for the small form's header plus its array.
#[derive(Debug, Clone)]
pub enum Set {
    Ints(Box<IntSet>),
    Table(Box<IndexSet<Key, Hasher>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(Box::default())
    }
}

/// One member, borrowed from a set: integers of an intset are not stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Elem<'_> {
    /// The member's bytes, formatting an integer into `buf`.
    #[inline]
    pub fn bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match self {
            Elem::Int(n) => buf.format(*n).as_bytes(),
            Elem::Bytes(b) => b,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes(&mut itoa::Buffer::new()).to_vec()
    }

    /// The member as an integer, if it is one an intset can hold.
    #[inline]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Elem::Int(n) => Some(*n),
            Elem::Bytes(b) => parse_i64(b),
        }
    }
}

/// A member removed from a set (no allocation for integers and short members).
#[derive(Debug)]
pub enum Popped {
    Int(i64),
    Member(Key),
}

impl Popped {
    pub fn elem(&self) -> Elem<'_> {
        match self {
            Popped::Int(n) => Elem::Int(*n),
            Popped::Member(k) => Elem::Bytes(k),
        }
    }
}

/// A sorted array of distinct integers in the narrowest width that holds them all.
#[derive(Debug, Clone)]
pub enum IntSet {
    W16(Vec<i16>),
    W32(Vec<i32>),
    W64(Vec<i64>),
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::W16(Vec::new())
    }
}

/// Runs `$body` with `$v` bound to the intset's vector, whatever its width.
macro_rules! each_width {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            IntSet::W16($v) => $body,
            IntSet::W32($v) => $body,
            IntSet::W64($v) => $body,
        }
    };
}

impl IntSet {
    pub fn len(&self) -> usize {
        each_width!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where `n` is, or where it would go.
    #[inline]
    fn search(&self, n: i64) -> Result<usize, usize> {
        match self {
            IntSet::W16(v) => match i16::try_from(n) {
                Ok(x) => v.binary_search(&x),
                Err(_) => Err(if n < 0 { 0 } else { v.len() }),
            },
            IntSet::W32(v) => match i32::try_from(n) {
                Ok(x) => v.binary_search(&x),
                Err(_) => Err(if n < 0 { 0 } else { v.len() }),
            },
            IntSet::W64(v) => v.binary_search(&n),
        }
    }

    pub fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        match self {
            IntSet::W16(v) => v[i] as i64,
            IntSet::W32(v) => v[i] as i64,
            IntSet::W64(v) => v[i],
        }
    }

    /// Widens the array so that `n` fits.
    fn upgrade_for(&mut self, n: i64) {
        let fits = match self {
            IntSet::W16(_) => i16::try_from(n).is_ok(),
            IntSet::W32(_) => i32::try_from(n).is_ok(),
            IntSet::W64(_) => true,
        };
        if fits {
            return;
        }
        let all: Vec<i64> = self.iter().collect();
        *self = if i32::try_from(n).is_ok() {
            IntSet::W32(all.into_iter().map(|x| x as i32).collect())
        } else {
            IntSet::W64(all)
        };
    }

    /// Adds `n`; returns whether it was new.
    pub fn insert(&mut self, n: i64) -> bool {
        let Err(at) = self.search(n) else {
            return false;
        };
        self.upgrade_for(n);
        // Exact growth, as Redis's intset resizes by one: small sets stay small.
        each_width!(self, v => v.reserve_exact(1));
        match self {
            IntSet::W16(v) => v.insert(at, n as i16),
            IntSet::W32(v) => v.insert(at, n as i32),
            IntSet::W64(v) => v.insert(at, n),
        }
        true
    }

    pub fn remove(&mut self, n: i64) -> bool {
        match self.search(n) {
            Ok(at) => {
                self.remove_at(at);
                true
            }
            Err(_) => false,
        }
    }

    pub fn remove_at(&mut self, at: usize) -> i64 {
        match self {
            IntSet::W16(v) => v.remove(at) as i64,
            IntSet::W32(v) => v.remove(at) as i64,
            IntSet::W64(v) => v.remove(at),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Keeps the members at the positions `keep` marks.
    fn retain_marked(&mut self, keep: &[bool]) {
        each_width!(self, v => {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                keep[i - 1]
            });
            v.shrink_to_fit();
        })
    }

    fn width(&self) -> usize {
        match self {
            IntSet::W16(_) => 2,
            IntSet::W32(_) => 4,
            IntSet::W64(_) => 8,
        }
    }

    fn capacity(&self) -> usize {
        each_width!(self, v => v.capacity())
    }
}

/// A member's bytes (for the hash table).
#[inline]
fn member(e: Elem, buf: &mut itoa::Buffer) -> Key {
    Key::new(e.bytes(buf))
}

fn new_table(capacity: usize) -> IndexSet<Key, Hasher> {
    IndexSet::with_capacity_and_hasher(capacity, Hasher::new())
}

impl Set {
    /// An empty set in the table encoding (for results that must be `hashtable`).
    pub fn new_table() -> Set {
        Set::Table(Box::new(new_table(0)))
    }

    pub fn is_intset(&self) -> bool {
        matches!(self, Set::Ints(_))
    }

    /// Whether `m` is a member.
    #[inline]
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(m).is_some_and(|n| s.contains(n)),
            Set::Table(t) => t.contains(m),
        }
    }

    /// Whether a member borrowed from another set is a member of this one.
    #[inline]
    pub fn contains_elem(&self, e: Elem) -> bool {
        match (self, e) {
            (Set::Ints(s), Elem::Int(n)) => s.contains(n),
            (Set::Ints(s), Elem::Bytes(b)) => parse_i64(b).is_some_and(|n| s.contains(n)),
            (Set::Table(t), Elem::Bytes(b)) => t.contains(b),
            (Set::Table(t), Elem::Int(n)) => t.contains(itoa::Buffer::new().format(n).as_bytes()),
        }
    }

    /// Adds `m`; returns whether it was new. An intset turns into a table when `m` is not an
    /// integer or when it grows past `max_intset` members (Redis's setTypeAdd).
    #[inline]
    pub fn insert(&mut self, m: &[u8], max_intset: usize) -> bool {
        self.insert_elem(Elem::Bytes(m), max_intset)
    }

    pub fn insert_elem(&mut self, e: Elem, max_intset: usize) -> bool {
        match self {
            Set::Table(t) => t.insert(member(e, &mut itoa::Buffer::new())),
            Set::Ints(s) => match e.as_int() {
                Some(n) => {
                    if !s.insert(n) {
                        return false;
                    }
                    if s.len() > max_intset {
                        self.convert_to_table();
                    }
                    true
                }
                None => {
                    self.convert_to_table();
                    let Set::Table(t) = self else { unreachable!() };
                    t.insert(member(e, &mut itoa::Buffer::new()))
                }
            },
        }
    }

    /// Removes `m`; returns whether it was there. Never changes the encoding.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(m).is_some_and(|n| s.remove(n)),
            Set::Table(t) => t.swap_remove(m),
        }
    }

    /// Turns an intset into a table holding the same members.
    pub fn convert_to_table(&mut self) {
        if let Set::Ints(s) = self {
            let mut t = new_table(s.len() + 1);
            let mut buf = itoa::Buffer::new();
            for n in s.iter() {
                t.insert(Key::new(buf.format(n).as_bytes()));
            }
            *self = Set::Table(Box::new(t));
        }
    }

    /// The member at position `i` (< len): ascending order for an intset, the table's order
    /// otherwise.
    #[inline]
    pub fn get(&self, i: usize) -> Elem<'_> {
        match self {
            Set::Ints(s) => Elem::Int(s.get(i)),
            Set::Table(t) => Elem::Bytes(t.get_index(i).expect("index in range")),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Elem<'_>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Removes and returns the member at position `i`. In a table this moves the last member
    /// into position `i`.
    pub fn remove_at(&mut self, i: usize) -> Popped {
        match self {
            Set::Ints(s) => Popped::Int(s.remove_at(i)),
            Set::Table(t) => Popped::Member(t.swap_remove_index(i).expect("index in range")),
        }
    }

    /// SPOP with a count below the size: removes `count` members picked at random and passes
    /// each to `out`. When few members remain (Redis's "rebuild the remainder" case, when
    /// `remaining * 5 <= count`), the remainder is a new set, so it is an intset again if its
    /// members allow, as in Redis.
    pub fn pop_many(
        &mut self,
        count: usize,
        max_intset: usize,
        rand: &mut impl FnMut(usize) -> usize,
        mut out: impl FnMut(Elem),
    ) {
        let len = self.len();
        debug_assert!(count < len);
        let remaining = len - count;
        match self {
            Set::Table(t) => {
                // Move `count` random members to the end (a partial Fisher-Yates), then cut.
                for i in 0..count {
                    let last = len - 1 - i;
                    let j = rand(last + 1);
                    t.swap_indices(j, last);
                }
                for i in remaining..len {
                    out(Elem::Bytes(t.get_index(i).unwrap()));
                }
                t.truncate(remaining);
            }
            Set::Ints(s) => {
                // Mark `count` distinct random positions (Floyd's sampling), then drop them.
                let mut keep = vec![true; len];
                for j in remaining..len {
                    let r = rand(j + 1);
                    let pick = if keep[r] { r } else { j };
                    keep[pick] = false;
                }
                for (i, k) in keep.iter().enumerate() {
                    if !k {
                        out(Elem::Int(s.get(i)));
                    }
                }
                s.retain_marked(&keep);
            }
        }
        if remaining * 5 <= count {
            self.rebuild(max_intset);
        }
    }

    /// Re-encodes the set as a freshly built one would be: an intset if every member is an
    /// integer and there are at most `max_intset`.
    fn rebuild(&mut self, max_intset: usize) {
        if let Set::Table(t) = self {
            if t.len() > max_intset {
                t.shrink_to_fit();
                return;
            }
            let mut s = IntSet::default();
            for m in t.iter() {
                match parse_i64(m) {
                    Some(n) => {
                        s.insert(n);
                    }
                    None => {
                        t.shrink_to_fit();
                        return;
                    }
                }
            }
            *self = Set::Ints(Box::new(s));
        }
    }

    /// Builds a set from members, adding them in order as Redis's *STORE commands do.
    pub fn from_elems<'a>(elems: impl IntoIterator<Item = Elem<'a>>, max_intset: usize) -> Set {
        let mut s = Set::default();
        for e in elems {
            s.insert_elem(e, max_intset);
        }
        s
    }

    /// One step of SSCAN over a table (see [`crate::store::Db::scan`]): visits up to `count`
    /// positions below `top` (0 or past the end: from the end); returns the next cursor, 0
    /// when done. An intset is visited whole.
    pub fn scan<'s>(&'s self, top: u64, count: usize, mut visit: impl FnMut(Elem<'s>)) -> u64 {
        match self {
            Set::Ints(_) => {
                self.iter().for_each(visit);
                0
            }
            Set::Table(t) => {
                let len = t.len() as u64;
                let mut i = if top == 0 || top > len { len } else { top } as usize;
                let mut n = 0;
                while i > 0 && n < count {
                    i -= 1;
                    visit(Elem::Bytes(t.get_index(i).unwrap()));
                    n += 1;
                }
                i as u64
            }
        }
    }
}

impl Collection for Set {
    const TYPE_NAME: &'static str = "set";

    #[inline]
    fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(t) => t.len(),
        }
    }

    fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Set::Ints(s) => std::mem::size_of::<IntSet>() + s.capacity() * s.width(),
            Set::Table(t) => {
                let members: usize = t
                    .iter()
                    .map(|k| match k {
                        Key::Heap(b) => b.len(),
                        Key::Inline { .. } => 0,
                    })
                    .sum();
                // Entries (hash + key) and the index table (a word and a control byte each).
                std::mem::size_of::<IndexSet<Key, Hasher>>()
                    + t.capacity() * (8 + std::mem::size_of::<Key>() + 9)
                    + members
            }
        }
    }

    fn digest(&self) -> u64 {
        let mut buf = itoa::Buffer::new();
        self.iter().fold(0u64, |acc, e| {
            acc.wrapping_add(digest_bytes(e.bytes(&mut buf)))
        })
    }

    fn wrap(self) -> Value {
        Value::Set(self)
    }

    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Set(x) => Some(x),
            _ => None,
        }
    }

    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Set(x) => Some(x),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = s.iter().map(|e| e.to_vec()).collect();
        v.sort();
        v
    }

    #[test]
    fn layout() {
        assert_eq!(std::mem::size_of::<Set>(), 16);
    }

    #[test]
    fn intset_widths_and_order() {
        let mut s = Set::default();
        for m in ["5", "-3", "70000", "1", "-9223372036854775808", "5"] {
            s.insert(m.as_bytes(), 512);
        }
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.len(), 5);
        let got: Vec<Vec<u8>> = s.iter().map(|e| e.to_vec()).collect();
        let want: Vec<&[u8]> = vec![b"-9223372036854775808", b"-3", b"1", b"5", b"70000"];
        assert_eq!(got, want);
        let Set::Ints(i) = &s else { panic!() };
        assert_eq!(i.width(), 8);
        assert!(s.contains(b"70000") && !s.contains(b"070000") && !s.contains(b"x"));
        assert!(s.remove(b"-3") && !s.remove(b"-3"));
        assert!(!s.contains(b"99999") && !s.contains(b"-99999"));
    }

    #[test]
    fn conversions() {
        let mut s = Set::default();
        for i in 0..3 {
            s.insert(i.to_string().as_bytes(), 3);
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"3", 3);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(members(&s), vec![b"0", b"1", b"2", b"3"]);
        let mut t = Set::default();
        t.insert(b"1", 512);
        t.insert(b"a", 512);
        assert_eq!(t.encoding(), "hashtable");
        t.remove(b"a");
        assert_eq!(t.encoding(), "hashtable");
        assert!(t.contains_elem(Elem::Int(1)));
    }

    #[test]
    fn digest_ignores_encoding_and_order() {
        let a = Set::from_elems([Elem::Int(1), Elem::Int(2)], 512);
        let mut b = Set::new_table();
        b.insert(b"2", 512);
        b.insert(b"1", 512);
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), Set::from_elems([Elem::Int(1)], 512).digest());
    }

    #[test]
    fn pop_many_removes_distinct_members() {
        let mut seed = 7u64;
        let mut rand = move |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % n as u64) as usize
        };
        for table in [false, true] {
            let mut s = Set::from_elems((0..100).map(Elem::Int), 512);
            if table {
                s.convert_to_table();
            }
            let mut popped = vec![];
            s.pop_many(30, 512, &mut rand, |e| popped.push(e.to_vec()));
            assert_eq!(s.len(), 70);
            popped.sort();
            popped.dedup();
            assert_eq!(popped.len(), 30);
            assert!(popped.iter().all(|m| !s.contains(m)));
            // Few left: the remainder is rebuilt, as an intset.
            s.pop_many(65, 512, &mut rand, |_| {});
            assert_eq!((s.len(), s.encoding()), (5, "intset"));
        }
    }

    #[test]
    fn scan_survives_removals() {
        let mut s = Set::new_table();
        for i in 0..100 {
            s.insert(format!("m{i}").as_bytes(), 512);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 7, |e| {
                seen.insert(e.to_vec());
            });
            s.remove(format!("m{}", seen.len() % 100).as_bytes());
            if cursor == 0 {
                break;
            }
        }
        for e in s.iter() {
            assert!(seen.contains(&e.to_vec()));
        }
    }
}
