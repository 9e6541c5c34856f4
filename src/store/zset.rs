//! Sorted set values, in Redis's two encodings.
//!
//! - Small sets (up to `zset-max-listpack-entries` members of up to `zset-max-listpack-value`
//!   bytes) are one packed buffer of `(score, member)` entries in order, like Redis's
//!   listpack: one allocation, linear lookups, which is what Redis does at these sizes too.
//! - Large sets are a skiplist with spans (an order-statistics structure: ranks and positions
//!   in O(log n)) over an arena of nodes, plus a hash index from member to node for O(1)
//!   ZSCORE. The index borrows the member bytes from the nodes instead of copying them.
//!
//! Conversion is one-way, small to large, exactly when Redis converts (see [`ZSet::insert`]),
//! so OBJECT ENCODING reports what Redis would. The *STORE commands build their result with
//! [`ZSet::from_sorted`], which picks the encoding Redis's zsetConvertToListpackIfNeeded
//! would.

use super::value::{digest_bytes, digest_seq, Collection, Value};

/// The encoding thresholds (`zset-max-listpack-entries`, `zset-max-listpack-value`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Limits {
    pub fn from_config(cfg: &crate::config::Config) -> Limits {
        use crate::config::Opt;
        Limits {
            max_entries: cfg.int(Opt::ZsetMaxListpackEntries).max(0) as usize,
            max_value: cfg.int(Opt::ZsetMaxListpackValue).max(0) as usize,
        }
    }
}

/// A sorted set: at most 16 bytes, so that a [`Value`] stays 24.
#[derive(Debug, Clone)]
pub enum ZSet {
    Small(Packed),
    Large(Box<Skiplist>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Small(Packed::default())
    }
}

/// Whether `(s1, m1)` sorts before `(s2, m2)`: by score, then by member bytes.
#[inline]
fn before(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> bool {
    s1 < s2 || (s1 == s2 && m1 < m2)
}

impl ZSet {
    /// A set from entries already sorted by (score, member), with distinct members, in the
    /// encoding Redis gives a computed result (ZUNIONSTORE, ZRANGESTORE ...).
    pub fn from_sorted<M: AsRef<[u8]>>(entries: &[(f64, M)], limits: Limits) -> ZSet {
        let max_len = entries
            .iter()
            .map(|e| e.1.as_ref().len())
            .max()
            .unwrap_or(0);
        if entries.len() <= limits.max_entries && max_len <= limits.max_value {
            ZSet::Small(Packed::from_sorted(
                entries.iter().map(|(s, m)| (*s, m.as_ref())),
            ))
        } else {
            let mut sl = Skiplist::new();
            for (s, m) in entries {
                sl.insert(*s, m.as_ref());
            }
            ZSet::Large(Box::new(sl))
        }
    }

    /// An empty set in the large encoding (ZRANGESTORE of a rank range longer than the
    /// entry limit starts there, as in Redis).
    pub fn new_large() -> ZSet {
        ZSet::Large(Box::new(Skiplist::new()))
    }

    pub fn is_small(&self) -> bool {
        matches!(self, ZSet::Small(_))
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Small(p) => p.len(),
            ZSet::Large(s) => s.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Small(p) => p.find(member),
            ZSet::Large(s) => s.score(member),
        }
    }

    /// Prefetches, for a large set, the member index's slot (stage 0) or entry (stage 1).
    pub fn prefetch(&self, member: &[u8], stage: u8) {
        if let ZSet::Large(s) = self {
            s.prefetch_member(member, stage);
        }
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Small(p) => p.iter().position(|(m, _)| m == member),
            ZSet::Large(s) => {
                let score = s.score(member)?;
                Some(s.rank_of(score, member) - 1)
            }
        }
    }

    /// Adds a member that is not in the set, converting to the large encoding first when
    /// Redis would: the set would exceed the entry limit, or the member the size limit.
    pub fn insert(&mut self, score: f64, member: &[u8], limits: Limits) {
        if let ZSet::Small(p) = self {
            if p.len() + 1 > limits.max_entries || member.len() > limits.max_value {
                self.convert_to_large();
            }
        }
        match self {
            ZSet::Small(p) => p.insert(score, member),
            ZSet::Large(s) => {
                s.insert(score, member);
            }
        }
    }

    /// Changes the score of a member that is in the set.
    pub fn set_score(&mut self, member: &[u8], score: f64) {
        match self {
            ZSet::Small(p) => {
                p.set_score(member, score);
            }
            ZSet::Large(s) => s.set_score(member, score),
        }
    }

    /// Removes a member; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Small(p) => p.remove(member),
            ZSet::Large(s) => s.remove(member),
        }
    }

    /// Removes the members of ranks `start..=end` (0-based, within bounds); returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        if start > end || end >= self.len() {
            return 0;
        }
        match self {
            ZSet::Small(p) => {
                p.remove_ranks(start, end);
            }
            ZSet::Large(s) => {
                for _ in start..=end {
                    s.remove_at_rank(start + 1);
                }
            }
        }
        end - start + 1
    }

    /// Calls `f` with the members in order from rank `start`, ascending or (`rev`) descending,
    /// until it returns false or the set ends.
    pub fn walk<'a>(&'a self, start: usize, rev: bool, mut f: impl FnMut(&'a [u8], f64) -> bool) {
        let len = self.len();
        if start >= len {
            return;
        }
        match self {
            ZSet::Small(p) => {
                if rev {
                    let entries = p.entries();
                    for &(m, s) in entries[..=start].iter().rev() {
                        if !f(m, s) {
                            return;
                        }
                    }
                } else {
                    for (m, s) in p.iter().skip(start) {
                        if !f(m, s) {
                            return;
                        }
                    }
                }
            }
            ZSet::Large(sl) => {
                let mut x = sl.at_rank(start + 1);
                while x != NIL {
                    let n = &sl.nodes[x as usize];
                    if !f(sl.member(n), n.score) {
                        return;
                    }
                    x = if rev { n.backward } else { n.levels[0].forward };
                }
            }
        }
    }

    /// All members in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            ZSet::Small(p) => Iter::Small(p.iter()),
            ZSet::Large(s) => Iter::Large(s, s.nodes[0].levels[0].forward),
        }
    }

    /// The member and score at a 0-based rank.
    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        let mut found = None;
        self.walk(rank, false, |m, s| {
            found = Some((m, s));
            false
        });
        found
    }

    /// The rank of the first member (in ascending order) for which `pred` holds, `pred` being
    /// false then true along the order. The small encoding scans linearly, as Redis's listpack
    /// code does, so a predicate that is not monotonic (a lex range over mixed scores) gives
    /// Redis's listpack answer.
    pub fn first_where(&self, pred: impl Fn(f64, &[u8]) -> bool) -> Option<usize> {
        match self {
            ZSet::Small(p) => p.iter().position(|(m, s)| pred(s, m)),
            ZSet::Large(s) => s.first_where(pred).map(|r| r - 1),
        }
    }

    /// The rank of the last member for which `pred` holds, `pred` being true then false along
    /// the order (the small encoding scans from the end).
    pub fn last_where(&self, pred: impl Fn(f64, &[u8]) -> bool) -> Option<usize> {
        match self {
            ZSet::Small(p) => p.entries().iter().rposition(|&(m, s)| pred(s, m)),
            ZSet::Large(s) => s.last_where(pred).map(|r| r - 1),
        }
    }

    fn convert_to_large(&mut self) {
        if let ZSet::Small(p) = self {
            let mut sl = Skiplist::new();
            for (m, s) in p.iter() {
                sl.insert(s, m);
            }
            *self = ZSet::Large(Box::new(sl));
        }
    }
}

/// Iterates a sorted set in ascending order.
pub enum Iter<'a> {
    Small(PackedIter<'a>),
    Large(&'a Skiplist, u32),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(it) => it.next(),
            Iter::Large(sl, x) => {
                if *x == NIL {
                    return None;
                }
                let n = &sl.nodes[*x as usize];
                *x = n.levels[0].forward;
                Some((sl.member(n), n.score))
            }
        }
    }
}

impl Collection for ZSet {
    const TYPE_NAME: &'static str = "zset";

    fn len(&self) -> usize {
        ZSet::len(self)
    }

    fn encoding(&self) -> &'static str {
        match self {
            ZSet::Small(_) => "listpack",
            ZSet::Large(_) => "skiplist",
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            ZSet::Small(p) => p.0.len(),
            ZSet::Large(s) => s.heap_size(),
        }
    }

    fn digest(&self) -> u64 {
        self.iter().fold(0u64, |acc, (m, s)| {
            acc.wrapping_add(digest_seq(
                digest_bytes(m),
                digest_bytes(&s.to_bits().to_le_bytes()),
            ))
        })
    }

    fn wrap(self) -> Value {
        Value::ZSet(self)
    }

    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::ZSet(x) => Some(x),
            _ => None,
        }
    }

    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::ZSet(x) => Some(x),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The small encoding.

/// Entries packed in one exact-size buffer, in (score, member) order: the entry count (a
/// LEB128 varint), then per entry a header byte, the score and the member's bytes.
///
/// The header's low 5 bits are the member's length when it is under 31; 31 means a varint
/// with `length - 31` follows the score. Its high 3 bits say how the score is stored:
/// - an integral score of magnitude at most 2^53 is stored as its difference from the
///   previous integral score in the buffer (0 before the first), in 0, 1, 2, 3, 4 or 8
///   little-endian two's-complement bytes. Scores are sorted, so neighbours are close and
///   most differences take one byte or none;
/// - any other score as the 8 bytes of its f64 (it leaves the reference unchanged).
///
/// Both forms decode to the exact f64 that was stored. Like a listpack, which stores an
/// integral score as an integer, it cannot hold -0: a zero score reads back as 0. NaN is never
/// a score.
#[derive(Debug, Clone, Default)]
pub struct Packed(Box<[u8]>);

const K_SAME: u8 = 0;
const K_I8: u8 = 1;
const K_I16: u8 = 2;
const K_I24: u8 = 3;
const K_I32: u8 = 4;
const K_I64: u8 = 5;
const K_F64: u8 = 6;
const LEN_MASK: u8 = 0x1f;
const LEN_LONG: usize = 31;
/// Integral scores up to this magnitude are stored as integers (every integer up to 2^53
/// converts to f64 and back exactly).
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

#[inline]
fn read_varint(buf: &[u8], pos: &mut usize) -> usize {
    crate::util::get_varint(buf, pos).expect("a packed set is well formed") as usize
}

#[inline]
fn write_varint(out: &mut Vec<u8>, v: usize) {
    crate::util::put_varint(out, v as u64)
}

/// The score as an integer, when it is integral and exactly representable both ways.
#[inline]
fn as_int(s: f64) -> Option<i64> {
    (s.abs() <= MAX_EXACT && s == s.trunc()).then_some(s as i64)
}

/// Reads one entry at `*pos` with `*reference` the previous integral score; advances both.
#[inline]
fn decode<'a>(buf: &'a [u8], pos: &mut usize, reference: &mut i64) -> (&'a [u8], f64) {
    let hdr = buf[*pos];
    let mut at = *pos + 1;
    let kind = hdr >> 5;
    let score = if kind == K_F64 {
        let s = f64::from_le_bytes(buf[at..at + 8].try_into().unwrap());
        at += 8;
        s
    } else {
        let n = match kind {
            K_SAME => 0,
            K_I8 => 1,
            K_I16 => 2,
            K_I24 => 3,
            K_I32 => 4,
            _ => 8,
        };
        let mut raw = [0u8; 8];
        raw[..n].copy_from_slice(&buf[at..at + n]);
        at += n;
        // Sign-extend the n-byte value.
        let delta = if n == 0 {
            0
        } else {
            let shift = 64 - 8 * n as u32;
            (i64::from_le_bytes(raw) << shift) >> shift
        };
        *reference += delta;
        *reference as f64
    };
    let mut len = (hdr & LEN_MASK) as usize;
    if len == LEN_LONG {
        len += read_varint(buf, &mut at);
    }
    *pos = at + len;
    (&buf[at..at + len], score)
}

/// Appends one entry, `*reference` being the previous integral score; updates it.
fn encode(out: &mut Vec<u8>, reference: &mut i64, score: f64, member: &[u8]) {
    let len_bits = member.len().min(LEN_LONG) as u8;
    match as_int(score) {
        Some(v) => {
            let delta = v - *reference;
            *reference = v;
            let (kind, n) = if delta == 0 {
                (K_SAME, 0)
            } else if delta == delta as i8 as i64 {
                (K_I8, 1)
            } else if delta == delta as i16 as i64 {
                (K_I16, 2)
            } else if delta == (delta << 40) >> 40 {
                (K_I24, 3)
            } else if delta == delta as i32 as i64 {
                (K_I32, 4)
            } else {
                (K_I64, 8)
            };
            out.push(kind << 5 | len_bits);
            out.extend_from_slice(&delta.to_le_bytes()[..n]);
        }
        None => {
            out.push(K_F64 << 5 | len_bits);
            out.extend_from_slice(&score.to_le_bytes());
        }
    }
    if member.len() >= LEN_LONG {
        write_varint(out, member.len() - LEN_LONG);
    }
    out.extend_from_slice(member);
}

pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
    reference: i64,
}

impl<'a> Iterator for PackedIter<'a> {
    /// (member, score)
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        Some(decode(self.buf, &mut self.pos, &mut self.reference))
    }
}

thread_local! {
    /// Where a new buffer is assembled before it is copied into an exact-size allocation
    /// (shrinking a larger allocation in place would keep its size class).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Packed {
    pub fn len(&self) -> usize {
        if self.0.is_empty() {
            0
        } else {
            read_varint(&self.0, &mut 0)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> PackedIter<'_> {
        let mut pos = 0;
        if !self.0.is_empty() {
            read_varint(&self.0, &mut pos);
        }
        PackedIter {
            buf: &self.0,
            pos,
            reference: 0,
        }
    }

    /// All entries, for reverse walks.
    fn entries(&self) -> Vec<(&[u8], f64)> {
        self.iter().collect()
    }

    fn find(&self, member: &[u8]) -> Option<f64> {
        self.iter().find(|&(m, _)| m == member).map(|(_, s)| s)
    }

    /// Re-encodes the buffer: `n` entries, the old ones for which `keep(rank, member)` holds,
    /// with `add` (if any) inserted in its place.
    fn rebuild(
        &mut self,
        n: usize,
        mut keep: impl FnMut(usize, &[u8]) -> bool,
        add: Option<(f64, &[u8])>,
    ) {
        if n == 0 {
            self.0 = Box::default();
            return;
        }
        let buf = SCRATCH.with(|v| {
            let mut v = v.borrow_mut();
            v.clear();
            write_varint(&mut v, n);
            let mut reference = 0;
            let mut pending = add;
            for (rank, (m, s)) in self.iter().enumerate() {
                if !keep(rank, m) {
                    continue;
                }
                if let Some((ns, nm)) = pending {
                    if before(ns, nm, s, m) {
                        encode(&mut v, &mut reference, ns, nm);
                        pending = None;
                    }
                }
                encode(&mut v, &mut reference, s, m);
            }
            if let Some((ns, nm)) = pending {
                encode(&mut v, &mut reference, ns, nm);
            }
            Box::from(&v[..])
        });
        self.0 = buf;
    }

    /// Adds a member that is not in the set.
    fn insert(&mut self, score: f64, member: &[u8]) {
        self.rebuild(self.len() + 1, |_, _| true, Some((score, member)));
    }

    /// Changes the score of a member; returns false if it is not in the set.
    fn set_score(&mut self, member: &[u8], score: f64) -> bool {
        if self.find(member).is_none() {
            return false;
        }
        self.rebuild(self.len(), |_, m| m != member, Some((score, member)));
        true
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.find(member)?;
        self.rebuild(self.len() - 1, |_, m| m != member, None);
        Some(score)
    }

    fn remove_ranks(&mut self, start: usize, end: usize) {
        let n = self.len();
        self.rebuild(n - (end - start + 1), |r, _| r < start || r > end, None);
    }

    fn from_sorted<'a>(entries: impl ExactSizeIterator<Item = (f64, &'a [u8])>) -> Packed {
        let n = entries.len();
        if n == 0 {
            return Packed::default();
        }
        SCRATCH.with(|v| {
            let mut v = v.borrow_mut();
            v.clear();
            write_varint(&mut v, n);
            let mut reference = 0;
            for (s, m) in entries {
                encode(&mut v, &mut reference, s, m);
            }
            Packed(Box::from(&v[..]))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The large encoding: a skiplist with spans over an arena, plus a member index.

const MAX_LEVEL: usize = 32;
const NIL: u32 = u32::MAX;
const HEADER: u32 = 0;
/// Levels kept in the node itself. With Redis's P = 1/4, 15 nodes in 16 need no more, so a
/// walk reads one cache line per node; taller nodes keep the rest in `more`.
const INLINE: usize = 2;

#[derive(Debug, Clone, Copy)]
struct Level {
    forward: u32,
    /// How many nodes the link skips over (the rank distance to `forward`).
    span: u32,
}

const UNLINKED: Level = Level {
    forward: NIL,
    span: 0,
};

/// Members up to this many bytes live inside their node (redis-benchmark's are 20).
const SHORT: usize = 26;
/// `Node::short_len` of a longer member: `short` then holds its index in `Skiplist::longs`.
const LONG: u8 = u8::MAX;
/// `Node::tower` of a node of at most `INLINE` levels.
const NO_TOWER: u32 = u32::MAX;

/// A node is one 64-byte, 64-aligned cache line: what a search compares (the score and, on
/// a tie, a short member) and follows (the lower levels) is read with one miss.
#[derive(Debug)]
#[repr(align(64))]
struct Node {
    score: f64,
    levels: [Level; INLINE],
    backward: u32,
    /// Levels `INLINE..height` of a taller node: where they start in `Skiplist::towers`.
    tower: u32,
    height: u8,
    /// The member's length when it is in `short`, else LONG.
    short_len: u8,
    short: [u8; SHORT],
}

impl Node {
    fn new(score: f64, height: usize, tower: u32) -> Node {
        Node {
            score,
            levels: [UNLINKED; INLINE],
            backward: NIL,
            tower,
            height: height as u8,
            short_len: 0,
            short: [0; SHORT],
        }
    }

    /// Where a long member is in `Skiplist::longs`.
    fn long_index(&self) -> Option<usize> {
        (self.short_len == LONG)
            .then(|| u32::from_le_bytes(self.short[..4].try_into().unwrap()) as usize)
    }
}

#[derive(Debug)]
pub struct Skiplist {
    /// Node 0 is the header; freed slots are reused.
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// The levels above `INLINE` of the taller nodes (~1 in 16), each node's run in one
    /// arena (the header's first), so an upper level is one load away from its node.
    towers: Vec<Level>,
    /// Freed runs by their length (`height - INLINE`), for reuse.
    free_towers: Vec<Vec<u32>>,
    /// Members longer than SHORT; freed entries are reused.
    longs: Vec<Box<[u8]>>,
    free_longs: Vec<u32>,
    level: usize,
    len: usize,
    tail: u32,
    /// Member → node, on the prefetchable key table (members up to 22 bytes inline).
    index: crate::store::table::Table<u32>,
    rng: u64,
}

impl Clone for Skiplist {
    fn clone(&self) -> Self {
        let mut s = Skiplist::new();
        let mut x = self.nodes[0].levels[0].forward;
        while x != NIL {
            let n = &self.nodes[x as usize];
            s.insert(n.score, self.member(n));
            x = n.levels[0].forward;
        }
        s
    }
}

impl Skiplist {
    fn new() -> Skiplist {
        Skiplist {
            nodes: vec![Node::new(0.0, MAX_LEVEL, 0)],
            free: Vec::new(),
            towers: vec![UNLINKED; MAX_LEVEL - INLINE],
            free_towers: vec![Vec::new(); MAX_LEVEL - INLINE + 1],
            longs: Vec::new(),
            free_longs: Vec::new(),
            level: 1,
            len: 0,
            tail: NIL,
            index: Default::default(),
            rng: 0x2545_f491_4f6c_dd1d,
        }
    }

    fn random_level(&mut self) -> usize {
        let mut level = 1;
        loop {
            let mut x = self.rng;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.rng = x;
            let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 48;
            // Probability 1/4 per extra level, as Redis's ZSKIPLIST_P.
            if r & 0xFFFF < 0x4000 && level < MAX_LEVEL {
                level += 1;
            } else {
                return level;
            }
        }
    }

    #[inline(always)]
    fn node(&self, x: u32) -> &Node {
        &self.nodes[x as usize]
    }

    #[inline(always)]
    fn member<'a>(&'a self, n: &'a Node) -> &'a [u8] {
        match n.long_index() {
            None => &n.short[..n.short_len as usize],
            Some(i) => &self.longs[i],
        }
    }

    /// Puts `member` into node `n` (made with no member).
    fn set_member(&mut self, n: &mut Node, member: &[u8]) {
        if member.len() <= SHORT {
            n.short[..member.len()].copy_from_slice(member);
            n.short_len = member.len() as u8;
            return;
        }
        let i = match self.free_longs.pop() {
            Some(i) => {
                self.longs[i as usize] = member.into();
                i
            }
            None => {
                self.longs.push(member.into());
                (self.longs.len() - 1) as u32
            }
        };
        n.short[..4].copy_from_slice(&i.to_le_bytes());
        n.short_len = LONG;
    }

    #[inline(always)]
    fn lv(&self, x: u32, i: usize) -> Level {
        let n = &self.nodes[x as usize];
        if i < INLINE {
            n.levels[i]
        } else {
            self.towers[n.tower as usize + i - INLINE]
        }
    }

    #[inline(always)]
    fn lv_mut(&mut self, x: u32, i: usize) -> &mut Level {
        let n = &mut self.nodes[x as usize];
        if i < INLINE {
            &mut n.levels[i]
        } else {
            &mut self.towers[n.tower as usize + i - INLINE]
        }
    }

    /// Asks the CPU to bring node `x` into the cache (a hint only).
    #[inline(always)]
    fn prefetch(&self, x: u32) {
        if let Some(n) = self.nodes.get(x as usize) {
            crate::store::prefetch(n);
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        self.index.get(member).map(|&x| self.node(x).score)
    }

    fn heap_size(&self) -> usize {
        let nodes: usize = self.nodes[1..]
            .iter()
            .map(|n| n.long_index().map_or(0, |i| self.longs[i].len() + 16))
            .sum::<usize>()
            + self.towers.capacity() * std::mem::size_of::<Level>();
        std::mem::size_of::<Skiplist>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + nodes
            + self.index.capacity() * (40 + 8 * 4 / 3)
    }

    /// Where (score, member) goes: per level, the last node before it and that node's rank
    /// (0 for the header).
    #[inline]
    fn search(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEADER; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEADER;
        let mut r = 0;
        for i in (0..self.level).rev() {
            loop {
                // Where the next level down would go on from x: fetch it while this level's
                // next node is compared, so that the two misses overlap.
                if i > 0 {
                    self.prefetch(self.lv(x, i - 1).forward);
                }
                let l = self.lv(x, i);
                if l.forward == NIL {
                    break;
                }
                let n = self.node(l.forward);
                if !before(n.score, self.member(n), score, member) {
                    break;
                }
                r += l.span;
                x = l.forward;
            }
            update[i] = x;
            rank[i] = r;
        }
        (update, rank)
    }

    /// The searches for two places at once (see [`Skiplist::search`]), the two walks taking
    /// turns so that their cache misses overlap instead of following one another.
    #[allow(clippy::type_complexity)]
    fn search2(
        &self,
        a: (f64, &[u8]),
        b: (f64, &[u8]),
    ) -> (
        ([u32; MAX_LEVEL], [u32; MAX_LEVEL]),
        ([u32; MAX_LEVEL], [u32; MAX_LEVEL]),
    ) {
        let mut ua = [HEADER; MAX_LEVEL];
        let mut ra = [0u32; MAX_LEVEL];
        let mut ub = [HEADER; MAX_LEVEL];
        let mut rb = [0u32; MAX_LEVEL];
        let (mut xa, mut xb) = (HEADER, HEADER);
        let (mut sa, mut sb) = (0u32, 0u32);
        for i in (0..self.level).rev() {
            let (mut da, mut db) = (false, false);
            while !(da && db) {
                if i > 0 {
                    self.prefetch(self.lv(xa, i - 1).forward);
                    self.prefetch(self.lv(xb, i - 1).forward);
                }
                self.prefetch(self.lv(xa, i).forward);
                self.prefetch(self.lv(xb, i).forward);
                // One step of one walk at level i: forward while the next node is before the
                // target, else that walk is done at this level.
                let step = |x: &mut u32, rank: &mut u32, done: &mut bool, t: (f64, &[u8])| {
                    let l = self.lv(*x, i);
                    if l.forward == NIL || {
                        let n = self.node(l.forward);
                        !before(n.score, self.member(n), t.0, t.1)
                    } {
                        *done = true;
                    } else {
                        *rank += l.span;
                        *x = l.forward;
                    }
                };
                if !da {
                    step(&mut xa, &mut sa, &mut da, a);
                }
                if !db {
                    step(&mut xb, &mut sb, &mut db, b);
                }
            }
            ua[i] = xa;
            ra[i] = sa;
            ub[i] = xb;
            rb[i] = sb;
        }
        ((ua, ra), (ub, rb))
    }

    /// Takes a slot for a node.
    fn alloc(&mut self, node: Node) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// A tower for a node of `height` levels, NO_TOWER when the node holds them all.
    fn alloc_tower(&mut self, height: usize) -> u32 {
        if height <= INLINE {
            return NO_TOWER;
        }
        let n = height - INLINE;
        match self.free_towers[n].pop() {
            Some(at) => {
                self.towers[at as usize..at as usize + n].fill(UNLINKED);
                at
            }
            None => {
                self.towers.resize(self.towers.len() + n, UNLINKED);
                (self.towers.len() - n) as u32
            }
        }
    }

    /// Frees an unlinked node's slot and tower.
    fn release(&mut self, x: u32) {
        let n = &mut self.nodes[x as usize];
        if let Some(i) = n.long_index() {
            self.longs[i] = Box::default();
            self.free_longs.push(i as u32);
        }
        if n.tower != NO_TOWER {
            self.free_towers[n.height as usize - INLINE].push(n.tower);
        }
        self.free.push(x);
    }

    /// Inserts a member that is not in the list.
    fn insert(&mut self, score: f64, member: &[u8]) {
        let (update, rank) = self.search(score, member);
        let height = self.random_level();
        let tower = self.alloc_tower(height);
        let mut node = Node::new(score, height, tower);
        self.set_member(&mut node, member);
        let idx = self.alloc(node);
        self.link(idx, update, rank);
        self.index.insert_full(member, idx);
    }

    /// Links node `idx` (its score and height set, not in the list) after the nodes `search`
    /// found for it.
    fn link(&mut self, idx: u32, mut update: [u32; MAX_LEVEL], mut rank: [u32; MAX_LEVEL]) {
        let height = self.node(idx).height as usize;
        if height > self.level {
            for i in self.level..height {
                rank[i] = 0;
                update[i] = HEADER;
                self.lv_mut(HEADER, i).span = self.len as u32;
            }
            self.level = height;
        }
        let r0 = rank[0];
        for i in 0..height {
            let u = update[i];
            let ul = self.lv(u, i);
            *self.lv_mut(idx, i) = Level {
                forward: ul.forward,
                span: ul.span - (r0 - rank[i]),
            };
            *self.lv_mut(u, i) = Level {
                forward: idx,
                span: r0 - rank[i] + 1,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(height) {
            self.lv_mut(u, i).span += 1;
        }
        self.nodes[idx as usize].backward = if update[0] == HEADER { NIL } else { update[0] };
        let f = self.lv(idx, 0).forward;
        if f != NIL {
            self.nodes[f as usize].backward = idx;
        } else {
            self.tail = idx;
        }
        self.len += 1;
    }

    /// Unlinks node `x` given its predecessors (it keeps its slot and member).
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if self.lv(u, i).forward == x {
                let xl = self.lv(x, i);
                let ul = self.lv_mut(u, i);
                ul.span = ul.span + xl.span - 1;
                ul.forward = xl.forward;
            } else {
                self.lv_mut(u, i).span -= 1;
            }
        }
        let (f, b) = {
            let n = self.node(x);
            (n.levels[0].forward, n.backward)
        };
        if f != NIL {
            self.nodes[f as usize].backward = b;
        } else {
            self.tail = b;
        }
        while self.level > 1 && self.lv(HEADER, self.level - 1).forward == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let &x = self.index.get(member)?;
        let score = self.node(x).score;
        let (update, _) = self.search(score, member);
        debug_assert_eq!(self.lv(update[0], 0).forward, x);
        self.unlink(x, &update);
        self.index_remove(member);
        self.release(x);
        if self.len == 0 {
            self.shrink();
        }
        Some(score)
    }

    /// Changes a member's score: in place when it keeps its position (Redis's
    /// zslUpdateScore), else the node is unlinked and linked again where it now goes; its
    /// slot, member and index entry stay.
    fn set_score(&mut self, member: &[u8], score: f64) {
        let Some(&x) = self.index.get(member) else {
            return;
        };
        let cur = self.node(x).score;
        // Both places are looked for at once: where the node is (to unlink it) and where it
        // goes (found with the node still linked, adjusted below).
        let ((update, rank), (mut to, mut to_rank)) = self.search2((cur, member), (score, member));
        debug_assert_eq!(self.lv(update[0], 0).forward, x);
        // It keeps its place when it still sorts between its neighbours (Redis's
        // zslUpdateScore); only the neighbour on the side it moves to can have been passed.
        let stays = if score < cur {
            let b = update[0];
            b == HEADER || {
                let p = self.node(b);
                before(p.score, self.member(p), score, member)
            }
        } else {
            let f = self.lv(x, 0).forward;
            f == NIL || {
                let q = self.node(f);
                before(score, member, q.score, self.member(q))
            }
        };
        if stays {
            self.nodes[x as usize].score = score;
            return;
        }
        // Without the node, its predecessors take its place in `to`, and the nodes after it
        // move up one rank.
        let x_rank = rank[0] + 1;
        for i in 0..self.level {
            if to[i] == x {
                to[i] = update[i];
                to_rank[i] = rank[i];
            } else if to_rank[i] > x_rank {
                to_rank[i] -= 1;
            }
        }
        self.unlink(x, &update);
        self.nodes[x as usize].score = score;
        self.link(x, to, to_rank);
    }

    /// Removes the node at a 1-based rank.
    fn remove_at_rank(&mut self, rank: usize) {
        let mut update = [HEADER; MAX_LEVEL];
        let mut x = HEADER;
        let mut traversed = 0;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.forward == NIL || traversed + l.span as usize >= rank {
                    break;
                }
                traversed += l.span as usize;
                x = l.forward;
            }
            update[i] = x;
        }
        let x = self.lv(update[0], 0).forward;
        if x == NIL {
            return;
        }
        self.unlink(x, &update);
        let m = self.member(self.node(x)).to_vec();
        self.index_remove(&m);
        self.release(x);
        if self.len == 0 {
            self.shrink();
        }
    }

    fn index_remove(&mut self, member: &[u8]) {
        if let Some(i) = self.index.get_index_of(member) {
            self.index.swap_remove_index(i);
        }
    }

    /// Prefetches the member index's slot (stage 0) or entry (stage 1) for `member`.
    fn prefetch_member(&self, member: &[u8], stage: u8) {
        self.index.prefetch(member, stage);
    }

    fn shrink(&mut self) {
        self.nodes.truncate(1);
        self.nodes.shrink_to_fit();
        self.free = Vec::new();
        self.longs = Vec::new();
        self.free_longs = Vec::new();
        self.towers.truncate(MAX_LEVEL - INLINE);
        self.towers.shrink_to_fit();
        self.free_towers.iter_mut().for_each(|f| *f = Vec::new());
        self.index = Default::default();
    }

    /// The 1-based rank of a member known to be in the list.
    fn rank_of(&self, score: f64, member: &[u8]) -> usize {
        let mut x = HEADER;
        let mut rank = 0;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.forward == NIL {
                    break;
                }
                let n = self.node(l.forward);
                if !(n.score < score || (n.score == score && self.member(n) <= member)) {
                    break;
                }
                rank += l.span as usize;
                x = l.forward;
            }
            if x != HEADER && self.member(self.node(x)) == member {
                return rank;
            }
        }
        0
    }

    /// The node at a 1-based rank, or NIL.
    fn at_rank(&self, rank: usize) -> u32 {
        let mut x = HEADER;
        let mut traversed = 0;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.forward == NIL || traversed + l.span as usize > rank {
                    break;
                }
                traversed += l.span as usize;
                x = l.forward;
            }
            if traversed == rank {
                return if x == HEADER { NIL } else { x };
            }
        }
        NIL
    }

    /// Walks from the header while the next node satisfies `keep`; returns the last node
    /// passed (HEADER if none) and its 1-based rank.
    fn advance_while(&self, keep: impl Fn(f64, &[u8]) -> bool) -> (u32, usize) {
        let mut x = HEADER;
        let mut rank = 0;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.forward == NIL {
                    break;
                }
                let n = self.node(l.forward);
                if !keep(n.score, self.member(n)) {
                    break;
                }
                rank += l.span as usize;
                x = l.forward;
            }
        }
        (x, rank)
    }

    /// 1-based rank of the first node where `pred` holds.
    fn first_where(&self, pred: impl Fn(f64, &[u8]) -> bool) -> Option<usize> {
        let (x, rank) = self.advance_while(|s, m| !pred(s, m));
        (self.lv(x, 0).forward != NIL).then_some(rank + 1)
    }

    /// 1-based rank of the last node where `pred` holds.
    fn last_where(&self, pred: impl Fn(f64, &[u8]) -> bool) -> Option<usize> {
        let (x, rank) = self.advance_while(pred);
        (x != HEADER).then_some(rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        max_entries: 128,
        max_value: 64,
    };
    const NONE: Limits = Limits {
        max_entries: 0,
        max_value: 0,
    };

    fn contents(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn layout() {
        assert_eq!(std::mem::size_of::<ZSet>(), 16);
        assert_eq!(std::mem::size_of::<Node>(), 64);
    }

    /// Both encodings against a simple model, through random operations.
    #[test]
    fn encodings_agree_with_a_model() {
        let mut rng = crate::util::Rng::new(42);
        for limits in [SMALL, NONE] {
            let mut z = ZSet::default();
            let mut model: Vec<(f64, Vec<u8>)> = vec![];
            for step in 0..3000 {
                // Short members live in the node, long ones (every third) on the heap.
                let n = rng.below(200);
                let m = if n.is_multiple_of(3) {
                    format!("a member too long for the node {n}").into_bytes()
                } else {
                    format!("m{n}").into_bytes()
                };
                let s = (rng.below(50) as f64) - 10.0;
                match rng.below(4) {
                    0 | 1 => {
                        if let Some(i) = model.iter().position(|e| e.1 == m) {
                            model[i].0 = s;
                            z.set_score(&m, s);
                        } else {
                            model.push((s, m.clone()));
                            z.insert(s, &m, limits);
                        }
                    }
                    2 => {
                        let had = model.iter().position(|e| e.1 == m).map(|i| model.remove(i));
                        assert_eq!(z.remove(&m), had.map(|e| e.0));
                    }
                    _ => {
                        let len = model.len();
                        if len > 0 {
                            let a = rng.below(len);
                            let b = (a + rng.below(3)).min(len - 1);
                            model
                                .sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap().then(x.1.cmp(&y.1)));
                            model.drain(a..=b);
                            assert_eq!(z.remove_ranks(a, b), b - a + 1);
                        }
                    }
                }
                model.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap().then(x.1.cmp(&y.1)));
                assert_eq!(z.len(), model.len(), "step {step}");
                if step % 50 == 0 {
                    let want: Vec<(Vec<u8>, f64)> =
                        model.iter().map(|(s, m)| (m.clone(), *s)).collect();
                    assert_eq!(contents(&z), want);
                    for (i, (s, m)) in model.iter().enumerate() {
                        assert_eq!(z.rank(m), Some(i));
                        assert_eq!(z.score(m), Some(*s));
                        assert_eq!(z.at(i).map(|(m, s)| (m.to_vec(), s)), Some((m.clone(), *s)));
                    }
                    let mut rev = vec![];
                    z.walk(z.len().saturating_sub(1), true, |m, s| {
                        rev.push((m.to_vec(), s));
                        true
                    });
                    let mut want_rev = want.clone();
                    want_rev.reverse();
                    assert_eq!(rev, want_rev);
                    let first = z.first_where(|s, _| s >= 5.0);
                    assert_eq!(first, model.iter().position(|e| e.0 >= 5.0));
                    let last = z.last_where(|s, _| s <= 5.0);
                    assert_eq!(last, model.iter().rposition(|e| e.0 <= 5.0));
                }
            }
            assert_eq!(z.is_small(), limits.max_entries > 0 && z.len() <= 128);
        }
    }

    /// The small encoding gives back exactly the scores it was given, whatever their form.
    #[test]
    fn packed_scores_round_trip() {
        let big = 9_007_199_254_740_992.0;
        let mut scores = vec![
            f64::NEG_INFINITY,
            -big * 4.0,
            -big - 2.0,
            -big,
            -big + 1.0,
            -1e300,
            -2147483649.0,
            -2147483648.0,
            -8388609.0,
            -8388608.0,
            -32769.0,
            -32768.0,
            -129.0,
            -128.0,
            -1.5,
            -1.0,
            0.0,
            5e-324,
            0.1,
            1.0,
            127.0,
            128.0,
            32767.0,
            32768.0,
            8388607.0,
            8388608.0,
            2147483647.0,
            2147483648.0,
            1e15 + 0.5,
            big - 1.0,
            big,
            big + 2.0,
            1e300,
            f64::MAX,
            f64::INFINITY,
        ];
        let mut rng = crate::util::Rng::new(7);
        for _ in 0..200 {
            let x = (rng.below(1 << 30) as f64 - (1 << 29) as f64) * (rng.below(1000) as f64);
            // (+ 0.0 turns a -0 product into 0, the only zero a listpack holds.)
            scores.push(x + 0.0);
            scores.push(x / 7.0 + 0.0);
        }
        let wide = Limits {
            max_entries: 1000,
            max_value: 1000,
        };
        let mut z = ZSet::default();
        let mut model = vec![];
        for (i, &s) in scores.iter().enumerate() {
            // Members of every length class, up to past the one-byte length.
            let m = format!("{i}-{}", "x".repeat(i % 40)).into_bytes();
            z.insert(s, &m, wide);
            model.push((s, m));
        }
        assert!(z.is_small());
        model.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap().then(x.1.cmp(&y.1)));
        let got: Vec<(u64, Vec<u8>)> = z.iter().map(|(m, s)| (s.to_bits(), m.to_vec())).collect();
        let want: Vec<(u64, Vec<u8>)> = model
            .iter()
            .map(|(s, m)| (s.to_bits(), m.clone()))
            .collect();
        assert_eq!(got, want);
        for (s, m) in &model {
            assert_eq!(z.score(m).map(f64::to_bits), Some(s.to_bits()));
        }
        // Removing entries re-bases the integer differences of the ones after them.
        for (i, (s, m)) in model.iter().enumerate() {
            if i % 3 == 0 {
                assert_eq!(z.remove(m).map(f64::to_bits), Some(s.to_bits()));
            }
        }
        let left: Vec<(u64, Vec<u8>)> = model
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 0)
            .map(|(_, (s, m))| (s.to_bits(), m.clone()))
            .collect();
        let got: Vec<(u64, Vec<u8>)> = z.iter().map(|(m, s)| (s.to_bits(), m.to_vec())).collect();
        assert_eq!(got, left);
        let from = ZSet::from_sorted(
            &model
                .iter()
                .map(|(s, m)| (*s, m.clone()))
                .collect::<Vec<_>>(),
            wide,
        );
        let got: Vec<(u64, Vec<u8>)> = from
            .iter()
            .map(|(m, s)| (s.to_bits(), m.to_vec()))
            .collect();
        assert_eq!(got, want);
    }

    /// Ten members of eight bytes with integer scores fit in far fewer bytes than a listpack.
    #[test]
    fn packed_is_compact() {
        let mut z = ZSet::default();
        for f in 0..10 {
            z.insert(
                (100_000 + f) as f64,
                format!("member:{f}").as_bytes(),
                SMALL,
            );
        }
        assert!(z.heap_size() <= 112, "{}", z.heap_size());
    }

    /// Re-scoring in the large encoding (in place, and moved both ways, near and far) keeps
    /// ranks, spans and backward links right.
    #[test]
    fn large_rescoring_keeps_order() {
        let mut rng = crate::util::Rng::new(9);
        let mut z = ZSet::default();
        let mut model: Vec<(f64, Vec<u8>)> = vec![];
        for i in 0..3000 {
            let m = format!("m{i}").into_bytes();
            let s = rng.below(500) as f64;
            z.insert(s, &m, NONE);
            model.push((s, m));
        }
        for step in 0..20_000 {
            let i = rng.below(model.len());
            let cur = model[i].0;
            let s = match rng.below(3) {
                0 => cur + 1.0,
                1 => cur - 0.5,
                _ => rng.below(500) as f64,
            };
            model[i].0 = s;
            z.set_score(&model[i].1, s);
            if step % 2000 == 0 || step == 19_999 {
                let mut want = model.clone();
                want.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap().then(x.1.cmp(&y.1)));
                let got: Vec<(f64, Vec<u8>)> = z.iter().map(|(m, s)| (s, m.to_vec())).collect();
                assert_eq!(got, want);
                for (r, (s, m)) in want.iter().enumerate().step_by(7) {
                    assert_eq!(z.rank(m), Some(r));
                    assert_eq!(z.at(r).map(|(m, s)| (s, m.to_vec())), Some((*s, m.clone())));
                }
                let mut rev = vec![];
                z.walk(z.len() - 1, true, |m, s| {
                    rev.push((s, m.to_vec()));
                    true
                });
                rev.reverse();
                assert_eq!(rev, want);
            }
        }
    }

    #[test]
    fn conversion_follows_the_limits() {
        let mut z = ZSet::default();
        for i in 0..128 {
            z.insert(i as f64, format!("{i}").as_bytes(), SMALL);
        }
        assert!(z.is_small());
        z.insert(0.5, b"x", SMALL);
        assert!(!z.is_small());
        let mut z = ZSet::default();
        z.insert(1.0, &[b'a'; 65], SMALL);
        assert!(!z.is_small());
        let mut z = ZSet::default();
        z.insert(-0.0, b"a", SMALL);
        assert_eq!(z.score(b"a").unwrap().to_bits(), 0f64.to_bits());
        let z2 = z.clone();
        assert_eq!(z2.digest(), z.digest());
    }
}
