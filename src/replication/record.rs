//! The records replication carries: one per key a write changed, self-contained and stamped,
//! so a receiver can apply them in any order and any number of times (DESIGN §6).
//!
//! Sans-IO: records are appended to and read from byte buffers. Layout of one record
//! (integers little-endian, `varint` = LEB128):
//!
//! ```text
//! tag:u8  db:varint  stamp:u64  key:varint-len+bytes  body
//!   PUT_STR  body = expire_at:u64  value:varint-len+bytes        (a string)
//!   PUT      body = expire_at:u64  payload:varint-len+bytes      (RDB type byte + value)
//!   DEL      body = (none)                                        (a stamped delete)
//!   FLUSH    body = (none), key empty                             (FLUSHDB of `db` at `stamp`)
//!   OP       body = expire_at:u64  base:u64  argc:varint  args:(varint-len+bytes)*
//! ```
//!
//! PUT, DEL and FLUSH hold the key's whole new state, never "apply this change to what you
//! have": that is what makes last-writer-wins by stamp safe whatever arrives first. OP is
//! the exception that keeps one small change to a large collection small: the command
//! itself, valid only on a copy of the key stamped `base` (the state it was applied to on
//! its origin). A receiver whose copy has another stamp asks its master for the whole key
//! instead (`RFETCH`), so an OP is never replayed onto a different base.

use crate::store::{Entry, Value};

pub const PUT_STR: u8 = 1;
pub const PUT: u8 = 2;
pub const DEL: u8 = 3;
pub const FLUSH: u8 = 4;
pub const OP: u8 = 5;

/// One decoded record, borrowing from the buffer it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub tag: u8,
    pub db: usize,
    pub stamp: u64,
    pub key: &'a [u8],
    pub expire_at: u64,
    /// OP: the stamp of the state the command applies to.
    pub base: u64,
    /// PUT_STR: the string; PUT: the RDB-encoded value; OP: the encoded arguments
    /// (see [`op_args`]); otherwise empty.
    pub value: &'a [u8],
}

impl Record<'_> {
    pub fn is_put(&self) -> bool {
        self.tag == PUT_STR || self.tag == PUT
    }
}

use crate::util::put_varint;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn head(out: &mut Vec<u8>, tag: u8, db: usize, stamp: u64, key: &[u8]) {
    out.push(tag);
    put_varint(out, db as u64);
    out.extend_from_slice(&stamp.to_le_bytes());
    put_bytes(out, key);
}

/// Appends the record of `key` now holding `e`.
pub fn put(out: &mut Vec<u8>, db: usize, key: &[u8], e: &Entry) {
    match &e.value {
        Value::Str(s) => {
            head(out, PUT_STR, db, e.stamp, key);
            out.extend_from_slice(&e.expire_at().to_le_bytes());
            let mut scratch = itoa::Buffer::new();
            put_bytes(out, s.as_bytes(&mut scratch));
        }
        v => {
            head(out, PUT, db, e.stamp, key);
            out.extend_from_slice(&e.expire_at().to_le_bytes());
            let mut enc = crate::rdb::Encoder::new(false);
            enc.value(v);
            put_bytes(out, &enc.buf);
        }
    }
}

/// Appends a string record from its parts (full sync of a string read from a file).
pub fn put_raw(
    out: &mut Vec<u8>,
    tag: u8,
    db: usize,
    key: &[u8],
    stamp: u64,
    expire_at: u64,
    v: &[u8],
) {
    head(out, tag, db, stamp, key);
    out.extend_from_slice(&expire_at.to_le_bytes());
    put_bytes(out, v);
}

/// Appends an OP record: command `args` turned the key stamped `base` into its state at
/// `stamp` (with expiry `expire_at`).
pub fn op(
    out: &mut Vec<u8>,
    db: usize,
    key: &[u8],
    stamp: u64,
    expire_at: u64,
    base: u64,
    args: &crate::protocol::Args,
) {
    head(out, OP, db, stamp, key);
    out.extend_from_slice(&expire_at.to_le_bytes());
    out.extend_from_slice(&base.to_le_bytes());
    put_varint(out, args.len() as u64);
    let args = args.iter();
    for a in args {
        put_bytes(out, a);
    }
}

/// Arguments held in one buffer with their spans, the shape commands take.
pub type OwnedArgs = (Vec<u8>, Vec<(u32, u32)>);

/// An OP record's arguments.
pub fn op_args(r: &Record) -> Result<OwnedArgs, Malformed> {
    let mut rd = Reader::new(r.value);
    let n = rd.varint()? as usize;
    let mut buf = Vec::with_capacity(r.value.len());
    // Each argument takes a byte at least: the count cannot size more than the record holds.
    let mut spans = Vec::with_capacity(n.min(r.value.len()));
    for _ in 0..n {
        let a = rd.bytes()?;
        spans.push((buf.len() as u32, (buf.len() + a.len()) as u32));
        buf.extend_from_slice(a);
    }
    Ok((buf, spans))
}

pub fn del(out: &mut Vec<u8>, db: usize, key: &[u8], stamp: u64) {
    head(out, DEL, db, stamp, key);
}

pub fn flush(out: &mut Vec<u8>, db: usize, stamp: u64) {
    head(out, FLUSH, db, stamp, b"");
}

/// Reads records one after another from a buffer.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A record buffer that does not parse (a peer bug or a corrupted link).
#[derive(Debug)]
pub struct Malformed;

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, Malformed> {
        crate::util::get_varint(self.buf, &mut self.pos).ok_or(Malformed)
    }

    fn u64(&mut self) -> Result<u64, Malformed> {
        let b = self.buf.get(self.pos..self.pos + 8).ok_or(Malformed)?;
        self.pos += 8;
        Ok(u64::from_le_bytes(b.try_into().unwrap()))
    }

    fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let n = self.varint()? as usize;
        let b = self
            .buf
            .get(self.pos..self.pos.checked_add(n).ok_or(Malformed)?)
            .ok_or(Malformed)?;
        self.pos += n;
        Ok(b)
    }

    /// The next record and the bytes it spans, or None at the end.
    pub fn next_record(&mut self) -> Result<Option<(Record<'a>, &'a [u8])>, Malformed> {
        let start = self.pos;
        let Some(&tag) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let db = self.varint()? as usize;
        let stamp = self.u64()?;
        let key = self.bytes()?;
        let (expire_at, base, value) = match tag {
            PUT_STR | PUT => (self.u64()?, 0, self.bytes()?),
            DEL | FLUSH => (0, 0, &[][..]),
            OP => {
                let (x, b) = (self.u64()?, self.u64()?);
                let from = self.pos;
                let n = self.varint()?;
                for _ in 0..n {
                    self.bytes()?;
                }
                (x, b, &self.buf[from..self.pos])
            }
            _ => return Err(Malformed),
        };
        let r = Record {
            tag,
            db,
            stamp,
            key,
            expire_at,
            base,
            value,
        };
        Ok(Some((r, &self.buf[start..self.pos])))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<(Record<'a>, &'a [u8]), Malformed>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// The value a record carries, in the store's encodings.
pub fn value_of(r: &Record, cfg: &crate::config::Config) -> Result<Value, Malformed> {
    match r.tag {
        PUT_STR => Ok(Value::str(r.value)),
        PUT => {
            let (&kind, encoded) = r.value.split_first().ok_or(Malformed)?;
            let mut d = crate::rdb::Decoder::new(encoded);
            crate::rdb::value::read_value(&mut d, kind, cfg).map_err(|_| Malformed)
        }
        _ => Err(Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = vec![];
        let mut e = Entry::new(Value::str(b"hello"), 77);
        e.expire_at = 123;
        put(&mut buf, 3, b"k", &e);
        del(&mut buf, 0, b"gone", 1 << 40);
        flush(&mut buf, 15, 9);
        let (abuf, spans) = (b"LPUSHlx".to_vec(), vec![(0, 5), (5, 6), (6, 7)]);
        op(
            &mut buf,
            1,
            b"l",
            10,
            0,
            8,
            &crate::protocol::Args::new(&abuf, &spans),
        );
        let rs: Vec<_> = Reader::new(&buf).map(|r| r.unwrap().0).collect();
        assert_eq!(rs.len(), 4);
        assert_eq!((rs[3].tag, rs[3].base, rs[3].stamp), (OP, 8, 10));
        let (abuf, spans) = op_args(&rs[3]).unwrap();
        let args = crate::protocol::Args::new(&abuf, &spans);
        assert_eq!(
            (args.len(), args.get(0), args.get(2)),
            (3, &b"LPUSH"[..], &b"x"[..])
        );
        assert_eq!(
            rs[0],
            Record {
                tag: PUT_STR,
                db: 3,
                stamp: 77,
                key: b"k",
                expire_at: 123,
                base: 0,
                value: b"hello"
            }
        );
        assert_eq!(
            (rs[1].tag, rs[1].key, rs[1].stamp),
            (DEL, &b"gone"[..], 1 << 40)
        );
        assert_eq!((rs[2].tag, rs[2].db, rs[2].stamp), (FLUSH, 15, 9));
        assert!(Reader::new(&buf[..buf.len() - 3]).any(|r| r.is_err()));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Garbled records from a peer give an error, never a panic (nor an allocation sized
        /// by a garbled count).
        #[test]
        fn garbled_records_never_panic(
            edits in proptest::collection::vec((0usize..10_000, 0u8..=255), 1..6),
            cut in 0usize..10_000,
        ) {
            let mut buf = vec![];
            let mut e = Entry::new(Value::str(b"hello"), 77);
            e.expire_at = 123;
            put(&mut buf, 3, b"k", &e);
            del(&mut buf, 0, b"gone", 1 << 40);
            let (abuf, spans) = (b"LPUSHlx".to_vec(), vec![(0, 5), (5, 6), (6, 7)]);
            op(&mut buf, 1, b"l", 10, 0, 8, &crate::protocol::Args::new(&abuf, &spans));
            flush(&mut buf, 15, 9);
            for (at, b) in edits {
                let n = buf.len();
                buf[at % n] = b;
            }
            buf.truncate(cut % (buf.len() + 1));
            for r in Reader::new(&buf) {
                match r {
                    Ok((rec, _)) if rec.tag == OP => {
                        let _ = op_args(&rec);
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
    }
}
