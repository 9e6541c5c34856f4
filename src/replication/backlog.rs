//! The node's outgoing stream (`repl-backlog-size`): frames of records, each tagged with the
//! node its records come from, at offsets that only grow.
//!
//! One frame is a RESP array `RBATCH <origin uuid> <start offset> <records>` (see
//! [`super::record`] for the records). A replica that has everything up to offset `o`
//! resumes with the first frame starting at `o` or later; frames a link must not carry (the
//! replica's own writes) are skipped without changing anyone's offsets.

use std::collections::VecDeque;
use std::rc::Rc;

use super::shard::Origin;

pub struct Frame {
    pub start: u64,
    pub origin: Origin,
    /// The records of one transaction or cross-shard command, to apply atomically.
    pub unit: bool,
    /// The whole RESP frame.
    pub bytes: Vec<u8>,
    /// Where the records start in `bytes`.
    payload_at: usize,
}

impl Frame {
    pub fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    pub fn records(&self) -> &[u8] {
        let tail = if self.unit { 12 } else { 2 };
        &self.bytes[self.payload_at..self.bytes.len() - tail]
    }
}

/// Builds a frame: `RBATCH <origin> <start> <records>`, with a fifth element `UNIT` for the
/// records of one transaction.
pub fn encode_frame(origin: Origin, start: u64, records: &[u8], unit: bool) -> (Vec<u8>, usize) {
    let uuid = uuid::Uuid::from_u128(origin).simple().to_string();
    let start_s = start.to_string();
    let mut b = Vec::with_capacity(records.len() + 96);
    b.extend_from_slice(if unit { b"*5\r\n" } else { b"*4\r\n" });
    b.extend_from_slice(b"$6\r\nRBATCH\r\n$32\r\n");
    b.extend_from_slice(uuid.as_bytes());
    b.extend_from_slice(
        format!(
            "\r\n${}\r\n{start_s}\r\n${}\r\n",
            start_s.len(),
            records.len()
        )
        .as_bytes(),
    );
    let at = b.len();
    b.extend_from_slice(records);
    b.extend_from_slice(b"\r\n");
    if unit {
        b.extend_from_slice(b"$4\r\nUNIT\r\n");
    }
    (b, at)
}

#[derive(Default)]
pub struct Backlog {
    frames: VecDeque<Rc<Frame>>,
    bytes: usize,
    /// The offset the next frame starts at (`master_repl_offset`).
    pub next: u64,
}

impl Backlog {
    pub fn append(&mut self, origin: Origin, records: &[u8], unit: bool) -> Rc<Frame> {
        let (bytes, payload_at) = encode_frame(origin, self.next, records, unit);
        let f = Rc::new(Frame {
            start: self.next,
            origin,
            unit,
            bytes,
            payload_at,
        });
        self.next = f.end();
        self.bytes += f.bytes.len();
        self.frames.push_back(f.clone());
        f
    }

    /// Drops the oldest frames while more than `limit` bytes are held, keeping every frame
    /// ending after `keep_from` (what connected replicas still have to receive).
    pub fn trim(&mut self, limit: usize, keep_from: u64) {
        while self.bytes > limit {
            match self.frames.front() {
                Some(f) if f.end() <= keep_from => {
                    self.bytes -= f.bytes.len();
                    self.frames.pop_front();
                }
                _ => break,
            }
        }
    }

    /// The offset of the oldest byte held.
    pub fn first(&self) -> u64 {
        self.frames.front().map_or(self.next, |f| f.start)
    }

    /// Whether a replica holding everything up to `offset` can continue from here.
    pub fn can_continue(&self, offset: u64) -> bool {
        offset >= self.first() && offset <= self.next
    }

    /// Frames starting at `offset` or later, oldest first.
    pub fn since(&self, offset: u64) -> impl Iterator<Item = &Rc<Frame>> {
        let i = self.frames.partition_point(|f| f.start < offset);
        self.frames.range(i..)
    }

    pub fn histlen(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_trim() {
        let mut b = Backlog::default();
        let f1 = b.append(1, b"aaaa", false);
        let f2 = b.append(2, b"bb", true);
        assert_eq!(f2.records(), b"bb");
        assert_eq!(f1.start, 0);
        assert_eq!(f2.start, f1.end());
        assert_eq!(f1.records(), b"aaaa");
        assert_eq!(b.since(f1.end()).count(), 1);
        assert!(b.can_continue(0) && b.can_continue(b.next));
        b.trim(0, f1.end());
        assert_eq!(b.first(), f2.start);
        assert!(!b.can_continue(0));
        // A frame some replica still needs stays.
        b.trim(0, f2.start);
        assert_eq!(b.first(), f2.start);
    }
}
