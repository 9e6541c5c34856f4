//! List values: a deque of packed chunks, in the manner of Redis's quicklist.
//!
//! A list is a sequence of [`Chunk`]s, each one heap block holding a run of elements packed
//! back to back. An element is stored as its length (a LEB128 varint), its bytes, and its
//! length again written backwards, so a chunk can be walked from either end, as a listpack
//! can. Each chunk keeps free room at both of its ends, so pushing or popping at either end
//! of the list is amortised O(1) with no allocation per element, and popping only moves an
//! offset.
//!
//! A short list is a single chunk: one allocation ([`List::Small`]). When that chunk is full
//! (`list-max-listpack-size`: -1..-5 for 4..64 KiB per chunk, a positive number for a number
//! of elements per chunk), the list becomes a `VecDeque` of chunks ([`List::Large`]). Finding
//! an index walks chunk counts from the nearer end, then the elements inside one chunk from
//! its nearer end, so LINDEX/LSET near either end stay cheap and LRANGE streams chunk by
//! chunk. Redis 7.0 reports `quicklist` for every list, and so does this type.

use crate::util::varint_len;
use std::collections::VecDeque;
use std::ops::Range;

use super::value::{digest_bytes, digest_seq, Collection, Value};

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// The header of a chunk's block: start offset, end offset, element count (u32 each).
const HDR: usize = 12;
/// The smallest data capacity a chunk is given.
const MIN_CAP: usize = 16;

/// One heap block: a header, then `[start, end)` holds the packed elements; the bytes before
/// `start` and after `end` are free room for pushes at either end.
#[derive(Clone)]
pub struct Chunk(Box<[u8]>);

/// Bytes an element of `n` bytes takes in a chunk.
#[inline]
pub fn entry_size(n: usize) -> usize {
    n + 2 * varint_len(n)
}

impl Chunk {
    /// No block at all: the empty list's.
    fn none() -> Chunk {
        Chunk(Box::new([]))
    }

    fn is_none(&self) -> bool {
        self.0.is_empty()
    }

    fn rd(&self, at: usize) -> usize {
        u32::from_le_bytes(self.0[at..at + 4].try_into().unwrap()) as usize
    }
    fn wr(&mut self, at: usize, v: usize) {
        self.0[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
    }
    #[inline]
    fn start(&self) -> usize {
        self.rd(0)
    }
    #[inline]
    fn end(&self) -> usize {
        self.rd(4)
    }
    #[inline]
    pub fn count(&self) -> usize {
        self.rd(8)
    }
    fn set(&mut self, start: usize, end: usize, count: usize) {
        self.wr(0, start);
        self.wr(4, end);
        self.wr(8, count);
    }
    /// Bytes the elements take.
    #[inline]
    pub fn used(&self) -> usize {
        self.end() - self.start()
    }
    fn capacity(&self) -> usize {
        self.0.len()
    }

    /// An empty chunk with room for `cap` bytes of elements, `front` of them before the
    /// (empty) contents.
    fn with_room(cap: usize, front: usize) -> Chunk {
        let mut c = Chunk(vec![0u8; HDR + cap].into_boxed_slice());
        c.set(HDR + front, HDR + front, 0);
        c
    }

    /// A chunk holding these elements, sized to fit.
    fn from_elements<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Chunk {
        let items: Vec<&[u8]> = items.into_iter().collect();
        let size: usize = items.iter().map(|e| entry_size(e.len())).sum();
        let mut c = Chunk::with_room(size.max(MIN_CAP), 0);
        for e in items {
            c.push_back(e);
        }
        c
    }

    /// Writes the element `s` at `at` (room must be there); returns its size.
    fn write_entry(&mut self, at: usize, s: &[u8]) -> usize {
        let n = s.len();
        let vl = varint_len(n);
        let buf = &mut self.0;
        // Forward length.
        let mut v = n;
        for i in 0..vl {
            let more = if i + 1 < vl { 0x80 } else { 0 };
            buf[at + i] = (v & 0x7f) as u8 | more;
            v >>= 7;
        }
        buf[at + vl..at + vl + n].copy_from_slice(s);
        // Backward length: its LEB128 bytes from the last byte backwards.
        let back = at + vl + n;
        let mut v = n;
        for i in 0..vl {
            let more = if i + 1 < vl { 0x80 } else { 0 };
            buf[back + vl - 1 - i] = (v & 0x7f) as u8 | more;
            v >>= 7;
        }
        n + 2 * vl
    }

    /// The element starting at `at`: its data range and where the next one starts.
    #[inline]
    fn entry_at(&self, at: usize) -> (Range<usize>, usize) {
        let buf = &self.0;
        let (mut n, mut shift, mut i) = (0usize, 0, at);
        loop {
            let b = buf[i];
            n |= ((b & 0x7f) as usize) << shift;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let vl = i - at;
        (i..i + n, i + n + vl)
    }

    /// The element ending at `at`: its data range and where it starts.
    #[inline]
    fn entry_before(&self, at: usize) -> (Range<usize>, usize) {
        let buf = &self.0;
        let (mut n, mut shift, mut i) = (0usize, 0, at);
        loop {
            i -= 1;
            let b = buf[i];
            n |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let vl = at - i;
        (i - n..i, i - n - vl)
    }

    #[inline]
    fn bytes(&self, r: Range<usize>) -> &[u8] {
        &self.0[r]
    }

    /// Moves the contents into a new block with `front` free bytes before them and room for
    /// at least `extra` more bytes after them.
    fn regrow(&mut self, front: usize, extra: usize) {
        let (start, end, count) = (self.start(), self.end(), self.count());
        let used = end - start;
        let cap = (front + used + extra).max(MIN_CAP);
        let mut n = Chunk::with_room(cap, front);
        n.0[HDR + front..HDR + front + used].copy_from_slice(&self.0[start..end]);
        n.set(HDR + front, HDR + front + used, count);
        *self = n;
    }

    /// How much room to add for an element of `size` bytes: as much again as the chunk
    /// holds (amortised O(1) pushes), but not past `limit`, the size the chunk may reach.
    fn growth(&self, size: usize, limit: usize) -> usize {
        let used = self.used();
        size.max(used)
            .max(MIN_CAP)
            .min(limit.saturating_sub(used).max(size))
    }

    /// Makes sure there are `n` free bytes at `end`, keeping the other end's room.
    fn reserve(&mut self, end: End, n: usize) {
        let front = self.start() - HDR;
        let back = self.capacity() - self.end();
        match end {
            End::Left if front < n => self.regrow(n, back),
            End::Right if back < n => self.regrow(front, n),
            _ => {}
        }
    }

    /// Gives back the free room of a chunk that will not grow any more (a full chunk, once
    /// a new one is started next to it).
    fn seal(&mut self) {
        if self.capacity() - HDR > self.used() + self.used() / 16 + MIN_CAP {
            self.regrow(0, 0);
        }
    }

    pub fn push_back(&mut self, s: &[u8]) {
        self.push_back_within(s, usize::MAX)
    }

    /// Adds `s` at `end`, keeping the chunk within `max_bytes`.
    #[inline]
    fn push_within(&mut self, end: End, s: &[u8], max_bytes: usize) {
        match end {
            End::Left => self.push_front_within(s, max_bytes),
            End::Right => self.push_back_within(s, max_bytes),
        }
    }

    fn push_back_within(&mut self, s: &[u8], limit: usize) {
        let size = entry_size(s.len());
        if self.end() + size > self.capacity() {
            // Keep the room at the front as it is; double the room at the back.
            let front = self.start() - HDR;
            let grow = self.growth(size, limit);
            self.regrow(front, grow);
        }
        let end = self.end();
        self.write_entry(end, s);
        let (start, count) = (self.start(), self.count());
        self.set(start, end + size, count + 1);
    }

    fn push_front_within(&mut self, s: &[u8], limit: usize) {
        let size = entry_size(s.len());
        if self.start() < HDR + size {
            // Keep the room at the back as it is; double the room at the front.
            let back = self.capacity() - self.end();
            let front = self.growth(size, limit);
            self.regrow(front, back);
        }
        let start = self.start() - size;
        self.write_entry(start, s);
        let (end, count) = (self.end(), self.count());
        self.set(start, end, count + 1);
    }

    /// Removes the first element; returns its data range (valid until the next change).
    fn pop_front(&mut self) -> Range<usize> {
        let (r, next) = self.entry_at(self.start());
        let (end, count) = (self.end(), self.count());
        self.set(next, end, count - 1);
        r
    }

    fn pop_back(&mut self) -> Range<usize> {
        let (r, begin) = self.entry_before(self.end());
        let (start, count) = (self.start(), self.count());
        self.set(start, begin, count - 1);
        r
    }

    /// Gives memory back when most of the block is free.
    fn maybe_shrink(&mut self) {
        let used = self.used();
        if self.capacity() > 256 && used * 4 < self.capacity() {
            self.regrow(0, used / 2);
        }
    }

    /// Offset of element `i` (0-based) in this chunk, walking from the nearer end.
    fn offset_of(&self, i: usize) -> usize {
        let count = self.count();
        if i <= count / 2 {
            let mut at = self.start();
            for _ in 0..i {
                at = self.entry_at(at).1;
            }
            at
        } else {
            let mut at = self.end();
            for _ in 0..count - i {
                at = self.entry_before(at).1;
            }
            at
        }
    }

    /// Inserts `s` as a new element at byte offset `at` (an element boundary).
    fn insert_at(&mut self, at: usize, s: &[u8]) {
        let size = entry_size(s.len());
        let (start, end) = (self.start(), self.end());
        let mut at = at;
        if end + size > self.capacity() {
            let rel = at - start;
            let front = start - HDR;
            let grow = size.max(self.used()).max(MIN_CAP);
            self.regrow(front, grow);
            at = self.start() + rel;
        }
        let (start, end, count) = (self.start(), self.end(), self.count());
        self.0.copy_within(at..end, at + size);
        self.write_entry(at, s);
        self.set(start, end + size, count + 1);
    }

    /// Removes the bytes `[from, to)`, which hold `n` whole elements.
    fn remove_bytes(&mut self, from: usize, to: usize, n: usize) {
        let (start, end, count) = (self.start(), self.end(), self.count());
        if from - start < end - to {
            // Shift the head right.
            self.0.copy_within(start..from, start + (to - from));
            self.set(start + (to - from), end, count - n);
        } else {
            self.0.copy_within(to..end, from);
            self.set(start, end - (to - from), count - n);
        }
    }

    /// Iterates over the elements front to back.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter {
            c: self,
            at: self.start(),
            end: self.end(),
        }
    }

    /// Splits off the second half into a new chunk (for a chunk grown past its limit).
    fn split(&mut self) -> Chunk {
        let count = self.count();
        let keep = count.div_ceil(2);
        let mid = self.offset_of(keep);
        let tail = Chunk::from_elements(ChunkIter {
            c: self,
            at: mid,
            end: self.end(),
        });
        let end = self.end();
        self.remove_bytes(mid, end, count - keep);
        self.maybe_shrink();
        tail
    }
}

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

pub struct ChunkIter<'a> {
    c: &'a Chunk,
    at: usize,
    end: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.at >= self.end {
            return None;
        }
        let (r, next) = self.c.entry_at(self.at);
        self.at = next;
        Some(&self.c.0[r])
    }
}

impl DoubleEndedIterator for ChunkIter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let (r, begin) = self.c.entry_before(self.end);
        self.end = begin;
        Some(&self.c.0[r])
    }
}

/// How full a chunk may get, from `list-max-listpack-size`.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    max_bytes: usize,
    max_count: usize,
}

impl Fill {
    /// Redis's meaning of `list-max-listpack-size`: -1..-5 cap a node at 4, 8, 16, 32 or
    /// 64 KiB; a positive number caps its element count (and its size at 8 KiB).
    pub fn new(fill: i64) -> Fill {
        if fill < 0 {
            let k = (-fill).clamp(1, 5) as u32;
            // The block, header included, stays within the size (an allocator size class).
            Fill {
                max_bytes: (4096 << (k - 1)) - HDR,
                max_count: usize::MAX,
            }
        } else {
            Fill {
                max_bytes: 8192 - HDR,
                max_count: (fill as usize).clamp(1, u16::MAX as usize),
            }
        }
    }

    /// Whether `c` can take one more element of `n` bytes. An empty chunk always can.
    #[inline]
    fn fits(&self, c: &Chunk, n: usize) -> bool {
        c.count() == 0 || (c.count() < self.max_count && c.used() + entry_size(n) <= self.max_bytes)
    }

    fn over(&self, c: &Chunk) -> bool {
        c.count() > 1 && (c.count() > self.max_count || c.used() > self.max_bytes)
    }
}

impl Default for Fill {
    fn default() -> Fill {
        Fill::new(-2)
    }
}

#[derive(Debug, Clone)]
pub struct Large {
    chunks: VecDeque<Chunk>,
    len: usize,
}

/// A list value (16 bytes, see `compact_layout`).
#[derive(Debug, Clone)]
pub enum List {
    /// One chunk, or none (a zero-length block, which allocates nothing) for an empty list.
    Small(Chunk),
    /// Several chunks.
    Large(Box<Large>),
}

impl Default for List {
    fn default() -> List {
        List::empty()
    }
}

/// Where LINSERT's pivot is: chunk index and index within the chunk.
#[derive(Debug, Clone, Copy)]
pub struct PivotPos {
    chunk: usize,
    within: usize,
}

/// A position in the list: chunk index and byte offset of an element in it.
#[derive(Debug, Clone, Copy)]
struct Pos {
    chunk: usize,
    at: usize,
}

impl List {
    /// The empty list (no allocation).
    pub fn empty() -> List {
        List::Small(Chunk::none())
    }

    fn nchunks(&self) -> usize {
        match self {
            List::Small(c) if c.is_none() => 0,
            List::Small(_) => 1,
            List::Large(l) => l.chunks.len(),
        }
    }

    fn chunk(&self, i: usize) -> &Chunk {
        match self {
            List::Small(c) => c,
            List::Large(l) => &l.chunks[i],
        }
    }

    fn chunk_mut(&mut self, i: usize) -> &mut Chunk {
        match self {
            List::Small(c) => c,
            List::Large(l) => &mut l.chunks[i],
        }
    }

    /// The chunks, front to back.
    pub fn chunks(&self) -> impl DoubleEndedIterator<Item = &Chunk> {
        (0..self.nchunks()).map(move |i| self.chunk(i))
    }

    /// Iterates over the elements front to back (or back to front with `.rev()`).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> {
        self.chunks().flat_map(|c| c.iter())
    }

    pub fn push(&mut self, end: End, s: &[u8], fill: Fill) {
        match self {
            List::Small(c) if c.is_none() => {
                let mut c = Chunk::with_room(entry_size(s.len()).max(MIN_CAP), 0);
                c.push_back(s);
                *self = List::Small(c);
            }
            List::Small(c) => {
                if fill.fits(c, s.len()) {
                    c.push_within(end, s, fill.max_bytes)
                } else {
                    c.seal();
                    let first = std::mem::replace(c, Chunk::none());
                    let len = first.count();
                    let mut chunks = VecDeque::with_capacity(4);
                    chunks.push_back(first);
                    *self = List::Large(Box::new(Large { chunks, len }));
                    self.push(end, s, fill);
                }
            }
            List::Large(l) => {
                let c = match end {
                    End::Left => l.chunks.front_mut(),
                    End::Right => l.chunks.back_mut(),
                }
                .expect("a large list has chunks");
                if fill.fits(c, s.len()) {
                    c.push_within(end, s, fill.max_bytes)
                } else {
                    c.seal();
                    let n = Chunk::from_elements([s]);
                    match end {
                        End::Left => l.chunks.push_front(n),
                        End::Right => l.chunks.push_back(n),
                    }
                }
                l.len += 1;
            }
        }
    }

    /// Makes room at `end` for `bytes` more bytes of elements (as [`entry_size`] counts
    /// them), as far as the chunk there may grow: a push of many elements then allocates
    /// once.
    pub fn reserve(&mut self, end: End, bytes: usize, fill: Fill) {
        let c = match self {
            List::Small(c) if c.is_none() => {
                let cap = bytes.min(fill.max_bytes).max(MIN_CAP);
                let front = if end == End::Left { cap } else { 0 };
                *c = Chunk::with_room(cap, front);
                return;
            }
            List::Small(c) => c,
            List::Large(l) => match end {
                End::Left => l.chunks.front_mut(),
                End::Right => l.chunks.back_mut(),
            }
            .expect("a large list has chunks"),
        };
        let n = bytes.min(fill.max_bytes.saturating_sub(c.used()));
        if n > 0 {
            c.reserve(end, n);
        }
    }

    /// Pops one element from `end` and hands it to `f`; None when the list is empty.
    pub fn pop_with<R>(&mut self, end: End, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if self.is_empty() {
            return None;
        }
        match self {
            List::Small(c) => {
                let r = match end {
                    End::Left => c.pop_front(),
                    End::Right => c.pop_back(),
                };
                let out = f(c.bytes(r));
                if c.count() == 0 {
                    *self = List::empty();
                } else {
                    c.maybe_shrink();
                }
                Some(out)
            }
            List::Large(l) => {
                let i = match end {
                    End::Left => 0,
                    End::Right => l.chunks.len() - 1,
                };
                let c = &mut l.chunks[i];
                let r = match end {
                    End::Left => c.pop_front(),
                    End::Right => c.pop_back(),
                };
                let out = f(c.bytes(r));
                l.len -= 1;
                if c.count() == 0 {
                    l.chunks.remove(i);
                    self.settle();
                } else {
                    c.maybe_shrink();
                }
                Some(out)
            }
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        self.pop_with(end, |b| b.to_vec())
    }

    /// Removes `n` elements from `end` (all of them if `n` is larger).
    pub fn drop_n(&mut self, end: End, mut n: usize) {
        if n >= self.len() {
            *self = List::empty();
            return;
        }
        if let List::Large(l) = self {
            // Whole chunks go at once.
            loop {
                let c = match end {
                    End::Left => l.chunks.front(),
                    End::Right => l.chunks.back(),
                }
                .expect("n < len");
                if c.count() > n {
                    break;
                }
                n -= c.count();
                l.len -= c.count();
                match end {
                    End::Left => l.chunks.pop_front(),
                    End::Right => l.chunks.pop_back(),
                };
            }
        }
        for _ in 0..n {
            self.pop_with(end, |_| ());
        }
        self.settle();
    }

    /// A large list down to one chunk becomes small again.
    fn settle(&mut self) {
        if let List::Large(l) = self {
            if l.chunks.len() == 1 {
                let c = l.chunks.pop_front().expect("one chunk");
                *self = List::Small(c);
            } else if l.chunks.is_empty() {
                *self = List::empty();
            }
        }
    }

    /// Redis's index rule: negative counts from the end. None when out of range.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.len() as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// Where element `i` (in range) is.
    fn locate(&self, i: usize) -> Pos {
        let n = self.nchunks();
        let (chunk, within) = if i < self.len() / 2 {
            let mut rest = i;
            let mut k = 0;
            while rest >= self.chunk(k).count() {
                rest -= self.chunk(k).count();
                k += 1;
            }
            (k, rest)
        } else {
            let mut from_end = self.len() - i; // >= 1
            let mut k = n - 1;
            while from_end > self.chunk(k).count() {
                from_end -= self.chunk(k).count();
                k -= 1;
            }
            (k, self.chunk(k).count() - from_end)
        };
        Pos {
            chunk,
            at: self.chunk(chunk).offset_of(within),
        }
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len() {
            return None;
        }
        let p = self.locate(i);
        let c = self.chunk(p.chunk);
        Some(c.bytes(c.entry_at(p.at).0))
    }

    /// Replaces element `i` (in range) with `s`.
    pub fn set(&mut self, i: usize, s: &[u8], fill: Fill) {
        let p = self.locate(i);
        let c = self.chunk_mut(p.chunk);
        let (r, next) = c.entry_at(p.at);
        if r.len() == s.len() {
            c.0[r].copy_from_slice(s);
            return;
        }
        c.remove_bytes(p.at, next, 1);
        let within = self.index_in_chunk(p.chunk, i);
        self.insert_in_chunk(p.chunk, within, s, fill);
    }

    /// Index of list element `i` within chunk `k` (which holds it, or would hold it at its
    /// end).
    fn index_in_chunk(&self, k: usize, i: usize) -> usize {
        let before: usize = (0..k).map(|j| self.chunk(j).count()).sum();
        i - before
    }

    /// Inserts `s` as element `within` of chunk `k`, splitting the chunk if it grows past
    /// the fill limit. Does not count the element in `len` for large lists (callers do).
    fn insert_in_chunk(&mut self, k: usize, within: usize, s: &[u8], fill: Fill) {
        let c = self.chunk_mut(k);
        let at = c.offset_of(within);
        c.insert_at(at, s);
        if fill.over(c) {
            let tail = c.split();
            if let List::Small(_) = self {
                let List::Small(head) = std::mem::take(self) else {
                    unreachable!()
                };
                let len = head.count() + tail.count();
                *self = List::Large(Box::new(Large {
                    chunks: VecDeque::from([head, tail]),
                    len,
                }));
            } else if let List::Large(l) = self {
                l.chunks.insert(k + 1, tail);
            }
        }
    }

    /// Where the first element equal to `pivot` is, for [`List::insert_at_pivot`].
    pub fn find_pivot(&self, pivot: &[u8]) -> Option<PivotPos> {
        for (k, c) in self.chunks().enumerate() {
            if let Some(j) = c.iter().position(|e| e == pivot) {
                return Some(PivotPos {
                    chunk: k,
                    within: j,
                });
            }
        }
        None
    }

    /// LINSERT: inserts `s` before or after the element [`List::find_pivot`] found.
    pub fn insert_at_pivot(&mut self, p: PivotPos, s: &[u8], after: bool, fill: Fill) {
        if let List::Large(l) = self {
            l.len += 1;
        }
        self.insert_in_chunk(p.chunk, p.within + after as usize, s, fill);
    }

    /// Inserts `s` before or after the first element equal to `pivot`; returns whether the
    /// pivot was found.
    pub fn insert_by_pivot(&mut self, pivot: &[u8], s: &[u8], after: bool, fill: Fill) -> bool {
        match self.find_pivot(pivot) {
            Some(p) => {
                self.insert_at_pivot(p, s, after, fill);
                true
            }
            None => false,
        }
    }

    /// LREM: removes up to `count` elements equal to `s` (all when 0), from the front when
    /// `from` is Left. Returns how many were removed.
    pub fn remove_matching(&mut self, s: &[u8], count: usize, from: End) -> usize {
        let limit = if count == 0 { usize::MAX } else { count };
        let mut removed = 0;
        let n = self.nchunks();
        let order: Box<dyn Iterator<Item = usize>> = match from {
            End::Left => Box::new(0..n),
            End::Right => Box::new((0..n).rev()),
        };
        for k in order {
            if removed == limit {
                break;
            }
            let c = self.chunk_mut(k);
            // Find matches in this chunk, in walking order, up to what is still allowed.
            let mut hits: Vec<(usize, usize)> = Vec::new();
            match from {
                End::Left => {
                    let mut at = c.start();
                    while at < c.end() && removed + hits.len() < limit {
                        let (r, next) = c.entry_at(at);
                        if c.bytes(r) == s {
                            hits.push((at, next));
                        }
                        at = next;
                    }
                }
                End::Right => {
                    let mut at = c.end();
                    while at > c.start() && removed + hits.len() < limit {
                        let (r, begin) = c.entry_before(at);
                        if c.bytes(r) == s {
                            hits.push((begin, at));
                        }
                        at = begin;
                    }
                    hits.reverse();
                }
            }
            if hits.is_empty() {
                continue;
            }
            // Compact the chunk, removing the hits (processed back to front so the offsets
            // stay valid when the tail shifts left).
            let kept: Vec<Range<usize>> = {
                let mut kept = Vec::new();
                let mut at = c.start();
                for &(from_b, to_b) in &hits {
                    if at < from_b {
                        kept.push(at..from_b);
                    }
                    at = to_b;
                }
                if at < c.end() {
                    kept.push(at..c.end());
                }
                kept
            };
            let count_left = c.count() - hits.len();
            let total: usize = kept.iter().map(|r| r.len()).sum();
            let mut nc = Chunk::with_room(total.max(MIN_CAP), 0);
            let mut w = HDR;
            for r in kept {
                let len = r.len();
                nc.0[w..w + len].copy_from_slice(&c.0[r]);
                w += len;
            }
            nc.set(HDR, w, count_left);
            *c = nc;
            removed += hits.len();
            if let List::Large(l) = self {
                l.len -= hits.len();
            }
        }
        self.drop_empty_chunks();
        removed
    }

    fn drop_empty_chunks(&mut self) {
        match self {
            List::Small(c) if c.count() == 0 => *self = List::empty(),
            List::Large(l) => {
                l.chunks.retain(|c| c.count() > 0);
                self.settle();
            }
            _ => {}
        }
    }

    /// Calls `f` on elements `start..start + n` (in range), front to back.
    pub fn for_range(&self, start: usize, n: usize, mut f: impl FnMut(&[u8])) {
        if n == 0 {
            return;
        }
        let p = self.locate(start);
        let mut left = n;
        let mut k = p.chunk;
        let mut at = p.at;
        while left > 0 {
            let c = self.chunk(k);
            let end = c.end();
            while at < end && left > 0 {
                let (r, next) = c.entry_at(at);
                f(c.bytes(r));
                at = next;
                left -= 1;
            }
            k += 1;
            if k < self.nchunks() {
                at = self.chunk(k).start();
            }
        }
    }

    /// Calls `f` on elements `end - n + 1 ..= end` (in range), back to front.
    pub fn for_range_rev(&self, end: usize, n: usize, mut f: impl FnMut(&[u8])) {
        if n == 0 {
            return;
        }
        let mut left = n;
        for e in self.iter().rev().skip(self.len() - 1 - end) {
            if left == 0 {
                break;
            }
            f(e);
            left -= 1;
        }
    }

    /// Builds a list from elements.
    pub fn from_iter<'a>(items: impl IntoIterator<Item = &'a [u8]>, fill: Fill) -> List {
        let mut l = List::empty();
        for e in items {
            l.push(End::Right, e, fill);
        }
        l
    }
}

impl Collection for List {
    const TYPE_NAME: &'static str = "list";

    fn len(&self) -> usize {
        match self {
            List::Small(c) if c.is_none() => 0,
            List::Small(c) => c.count(),
            List::Large(l) => l.len,
        }
    }

    fn encoding(&self) -> &'static str {
        "quicklist"
    }

    fn heap_size(&self) -> usize {
        match self {
            List::Small(c) => c.capacity(),
            List::Large(l) => {
                std::mem::size_of::<Large>()
                    + l.chunks.capacity() * std::mem::size_of::<Chunk>()
                    + l.chunks.iter().map(|c| c.capacity()).sum::<usize>()
            }
        }
    }

    fn digest(&self) -> u64 {
        self.iter()
            .fold(0x6c69_7374, |acc, e| digest_seq(acc, digest_bytes(e)))
    }

    fn wrap(self) -> Value {
        Value::List(self)
    }

    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::List(x) => Some(x),
            _ => None,
        }
    }

    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::List(x) => Some(x),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model check: random operations on a List and on a VecDeque of Vecs agree.
    fn check(l: &List, m: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), m.len());
        let got: Vec<&[u8]> = l.iter().collect();
        let want: Vec<&[u8]> = m.iter().map(|v| v.as_slice()).collect();
        assert_eq!(got, want);
        let rev: Vec<&[u8]> = l.iter().rev().collect();
        let want_rev: Vec<&[u8]> = m.iter().rev().map(|v| v.as_slice()).collect();
        assert_eq!(rev, want_rev);
        if let List::Large(x) = l {
            assert!(x.chunks.len() > 1);
            assert!(x.chunks.iter().all(|c| c.count() > 0));
            assert_eq!(x.chunks.iter().map(|c| c.count()).sum::<usize>(), x.len);
        }
    }

    #[test]
    fn compact() {
        assert!(std::mem::size_of::<List>() <= 16);
    }

    #[test]
    fn model() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut rnd = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for fill in [Fill::new(-1), Fill::new(3), Fill::new(1), Fill::new(-2)] {
            let mut l = List::empty();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..20000 {
                let size = match rnd(10) {
                    0 => 200 + rnd(300),
                    1 => 0,
                    _ => rnd(20),
                };
                let v: Vec<u8> = (0..size).map(|i| (i + step) as u8 % 5 + b'a').collect();
                match rnd(12) {
                    0..=2 => {
                        if rnd(3) == 0 {
                            l.reserve(End::Left, rnd(100), fill);
                        }
                        l.push(End::Left, &v, fill);
                        m.push_front(v);
                    }
                    3..=5 => {
                        if rnd(3) == 0 {
                            l.reserve(End::Right, rnd(100), fill);
                        }
                        l.push(End::Right, &v, fill);
                        m.push_back(v);
                    }
                    6 => assert_eq!(l.pop(End::Left), m.pop_front()),
                    7 => assert_eq!(l.pop(End::Right), m.pop_back()),
                    8 if !m.is_empty() => {
                        let i = rnd(m.len());
                        assert_eq!(l.get(i), Some(m[i].as_slice()));
                        l.set(i, &v, fill);
                        m[i] = v;
                    }
                    9 if !m.is_empty() => {
                        let pivot = m[rnd(m.len())].clone();
                        let after = rnd(2) == 0;
                        assert!(l.insert_by_pivot(&pivot, &v, after, fill));
                        let p = m.iter().position(|e| *e == pivot).unwrap();
                        m.insert(p + after as usize, v);
                    }
                    10 if !m.is_empty() => {
                        let target = m[rnd(m.len())].clone();
                        let count = rnd(3);
                        let from = if rnd(2) == 0 { End::Left } else { End::Right };
                        let n = l.remove_matching(&target, count, from);
                        let limit = if count == 0 { usize::MAX } else { count };
                        let mut removed = 0;
                        let idx: Vec<usize> = match from {
                            End::Left => (0..m.len()).collect(),
                            End::Right => (0..m.len()).rev().collect(),
                        };
                        let mut gone = vec![];
                        for i in idx {
                            if removed < limit && m[i] == target {
                                gone.push(i);
                                removed += 1;
                            }
                        }
                        gone.sort_unstable();
                        for i in gone.into_iter().rev() {
                            m.remove(i);
                        }
                        assert_eq!(n, removed);
                    }
                    11 => {
                        let n = rnd(5);
                        let end = if rnd(2) == 0 { End::Left } else { End::Right };
                        l.drop_n(end, n);
                        for _ in 0..n {
                            match end {
                                End::Left => m.pop_front(),
                                End::Right => m.pop_back(),
                            };
                        }
                    }
                    _ => {}
                }
                if step % 97 == 0 {
                    check(&l, &m);
                    if !m.is_empty() {
                        let s = rnd(m.len());
                        let n = rnd(m.len() - s + 1);
                        let mut got = vec![];
                        l.for_range(s, n, |e| got.push(e.to_vec()));
                        let want: Vec<Vec<u8>> = m.iter().skip(s).take(n).cloned().collect();
                        assert_eq!(got, want);
                        let e = s + n.saturating_sub(1);
                        let mut got = vec![];
                        l.for_range_rev(e.min(m.len() - 1), n, |x| got.push(x.to_vec()));
                        let mut want: Vec<Vec<u8>> = m
                            .iter()
                            .take(e.min(m.len() - 1) + 1)
                            .rev()
                            .take(n)
                            .cloned()
                            .collect();
                        want.truncate(n);
                        assert_eq!(got, want);
                    }
                }
            }
            check(&l, &m);
        }
    }
}
