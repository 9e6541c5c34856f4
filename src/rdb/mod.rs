//! The Redis RDB format (version 10, as Redis 7.0 writes it): one codec for snapshots on
//! disk, loading at boot, replication's full sync and DUMP/RESTORE payloads (DESIGN §7).
//!
//! This module is the byte-level layer: lengths, strings (integer-encoded and LZF-compressed
//! as Redis writes them), opcodes, and the blobs Redis embeds (listpack, intset). Keys' HLC
//! stamps travel packed, a run at a time, in a `tandem-stamps` AUX field before the run
//! ([`stamps`]); KeyDB's per-key `mvcc-tstamp` AUX field is still read. Redis skips AUX
//! fields it does not know, so the files stay loadable by stock Redis.

pub mod crc64;
pub mod intset;
pub mod listpack;
pub mod load;
pub mod lzf;
pub mod stamps;
pub mod value;

pub use value::{dump, to_value, undump, value_type};

use crate::protocol::parse_i64;

pub const MAGIC: &[u8] = b"REDIS0010";
pub const VERSION: u32 = 10;

/// Opcodes (Redis's RDB_OPCODE_*).
pub mod op {
    pub const FUNCTION2: u8 = 245;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Value types (Redis's RDB_TYPE_*).
pub mod kind {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
}

/// The AUX field KeyDB writes with the stamp of the key that follows (read, not written).
pub const STAMP_AUX: &[u8] = b"mvcc-tstamp";

/// Writes RDB primitives into a buffer, keeping the running CRC-64 of everything written.
pub struct Encoder {
    pub buf: Vec<u8>,
    /// Compress strings longer than 20 bytes with LZF when it saves space (`rdbcompression`).
    pub compress: bool,
    /// The stamps of the keys written since `run_start`, whose `tandem-stamps` field is
    /// inserted there when the run ends (before any other opcode, and by [`Encoder::take`]).
    run: Vec<u64>,
    run_start: usize,
    /// LZF's output, reused from string to string.
    compressed: Vec<u8>,
}

/// Appends a length: 6, 14, 32 or 64 bits, as rdbSaveLen writes it.
fn put_length(buf: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        buf.push(n as u8);
    } else if n < 1 << 14 {
        buf.push(0x40 | (n >> 8) as u8);
        buf.push(n as u8);
    } else if n <= u32::MAX as u64 {
        buf.push(0x80);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        buf.push(0x81);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

impl Encoder {
    pub fn new(compress: bool) -> Self {
        Encoder {
            buf: Vec::new(),
            compress,
            run: Vec::new(),
            run_start: 0,
            compressed: Vec::new(),
        }
    }

    /// Everything encoded so far, leaving the encoder empty.
    pub fn take(&mut self) -> Vec<u8> {
        self.end_stamp_run();
        std::mem::take(&mut self.buf)
    }

    /// Puts the pending run's `tandem-stamps` field in front of its keys.
    fn end_stamp_run(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let mut value = Vec::with_capacity(self.run.len() * 3 + 12);
        stamps::encode(&self.run, &mut value);
        self.run.clear();
        let mut field = Encoder::new(false);
        field.byte(op::AUX);
        field.string(stamps::STAMPS_AUX);
        field.length(value.len() as u64);
        field.buf.extend_from_slice(&value);
        self.buf.splice(self.run_start..self.run_start, field.buf);
    }

    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// A length: 6, 14, 32 or 64 bits, as rdbSaveLen writes it.
    pub fn length(&mut self, n: u64) {
        put_length(&mut self.buf, n)
    }

    /// A string, integer-encoded when it is a short canonical integer that fits 32 bits,
    /// LZF-compressed when that is on and saves at least 4 bytes (rdbSaveRawString).
    pub fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(v) = parse_i64(s) {
                if let Ok(v8) = i8::try_from(v) {
                    self.buf.extend_from_slice(&[0xC0, v8 as u8]);
                    return;
                } else if let Ok(v16) = i16::try_from(v) {
                    self.buf.push(0xC1);
                    self.buf.extend_from_slice(&v16.to_le_bytes());
                    return;
                } else if let Ok(v32) = i32::try_from(v) {
                    self.buf.push(0xC2);
                    self.buf.extend_from_slice(&v32.to_le_bytes());
                    return;
                }
            }
        }
        if self.compress && s.len() > 20 && lzf::compress_into(s, s.len() - 4, &mut self.compressed)
        {
            self.buf.push(0xC3);
            put_length(&mut self.buf, self.compressed.len() as u64);
            put_length(&mut self.buf, s.len() as u64);
            self.buf.extend_from_slice(&self.compressed);
            return;
        }
        self.length(s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    /// A string that is an integer (rdbSaveLongLongAsStringObject).
    pub fn int_string(&mut self, v: i64) {
        self.string(itoa::Buffer::new().format(v).as_bytes());
    }

    pub fn aux(&mut self, key: &[u8], value: &[u8]) {
        self.end_stamp_run();
        self.byte(op::AUX);
        self.string(key);
        self.string(value);
    }

    /// The file header with Redis's usual AUX fields.
    pub fn header(&mut self, ctime: u64, used_mem: u64) {
        self.buf.extend_from_slice(MAGIC);
        self.aux(b"redis-ver", b"7.0.15");
        self.aux(b"redis-bits", b"64");
        self.aux(b"ctime", ctime.to_string().as_bytes());
        self.aux(b"used-mem", used_mem.to_string().as_bytes());
        self.aux(b"aof-base", b"0");
    }

    /// SELECTDB alone.
    pub fn select(&mut self, db: usize) {
        self.end_stamp_run();
        self.byte(op::SELECTDB);
        self.length(db as u64);
    }

    /// SELECTDB with the database's key counts (RESIZEDB), a sizing hint for the loader.
    pub fn select_db(&mut self, db: usize, keys: usize, volatile: usize) {
        self.select(db);
        self.byte(op::RESIZEDB);
        self.length(keys as u64);
        self.length(volatile as u64);
    }

    /// What precedes a key's type byte: its stamp (into the current run) and expiry.
    pub fn key_preamble(&mut self, stamp: u64, expire_at_ms: u64) {
        if self.run.is_empty() {
            self.run_start = self.buf.len();
        }
        self.run.push(stamp);
        if expire_at_ms != 0 {
            self.byte(op::EXPIRETIME_MS);
            self.buf.extend_from_slice(&expire_at_ms.to_le_bytes());
        }
    }

    /// A binary double (ZSET_2 scores).
    pub fn binary_double(&mut self, d: f64) {
        self.buf.extend_from_slice(&d.to_le_bytes());
    }

    /// EOF and the CRC-64 of everything before it.
    pub fn finish(mut self) -> Vec<u8> {
        self.end_stamp_run();
        self.byte(op::EOF);
        let crc = crc64::update(0, &self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}

/// Why an RDB stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub String);

/// Reads RDB primitives from a buffer.
pub struct Decoder<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0 }
    }

    fn bad(&self, what: &str) -> Corrupt {
        Corrupt(format!("{what} at offset {}", self.pos))
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| self.bad("unexpected end"))?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    pub fn byte(&mut self) -> Result<u8, Corrupt> {
        Ok(self.bytes(1)?[0])
    }

    /// A length, or (for a special string encoding) Err with the encoding number.
    fn len_or_enc(&mut self) -> Result<Result<u64, u8>, Corrupt> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Ok((b & 0x3F) as u64),
            1 => Ok(((b as u64 & 0x3F) << 8) | self.byte()? as u64),
            2 => match b {
                0x80 => Ok(u32::from_be_bytes(self.bytes(4)?.try_into().unwrap()) as u64),
                0x81 => Ok(u64::from_be_bytes(self.bytes(8)?.try_into().unwrap())),
                _ => return Err(self.bad("unknown length encoding")),
            },
            _ => Err(b & 0x3F),
        })
    }

    pub fn length(&mut self) -> Result<u64, Corrupt> {
        self.len_or_enc()?
            .map_err(|_| self.bad("string encoding where a length was expected"))
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// An element count: refused when the rest of the input could not hold that many
    /// elements (each takes a byte at least), so a crafted count never sizes an allocation.
    pub fn count(&mut self) -> Result<usize, Corrupt> {
        let n = self.length()?;
        if n > self.remaining() as u64 {
            return Err(self.bad("element count beyond the end of the data"));
        }
        Ok(n as usize)
    }

    pub fn string(&mut self) -> Result<Vec<u8>, Corrupt> {
        match self.len_or_enc()? {
            Ok(n) => Ok(self.bytes(n as usize)?.to_vec()),
            Err(0) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Err(1) => Ok(i16::from_le_bytes(self.bytes(2)?.try_into().unwrap())
                .to_string()
                .into_bytes()),
            Err(2) => Ok(i32::from_le_bytes(self.bytes(4)?.try_into().unwrap())
                .to_string()
                .into_bytes()),
            Err(3) => {
                let clen = self.length()? as usize;
                let len = self.length()? as usize;
                let c = self.bytes(clen)?;
                lzf::decompress(c, len).ok_or_else(|| self.bad("corrupt LZF string"))
            }
            Err(_) => Err(self.bad("unknown string encoding")),
        }
    }

    /// A string borrowed from the buffer when it is stored plain (keys, mostly).
    pub fn string_ref(&mut self) -> Result<std::borrow::Cow<'a, [u8]>, Corrupt> {
        let at = self.pos;
        match self.len_or_enc()? {
            Ok(n) => Ok(std::borrow::Cow::Borrowed(self.bytes(n as usize)?)),
            Err(_) => {
                self.pos = at;
                Ok(std::borrow::Cow::Owned(self.string()?))
            }
        }
    }

    /// Steps over a string without decoding it.
    pub fn skip_string(&mut self) -> Result<(), Corrupt> {
        match self.len_or_enc()? {
            Ok(n) => self.bytes(n as usize).map(drop),
            Err(0) => self.bytes(1).map(drop),
            Err(1) => self.bytes(2).map(drop),
            Err(2) => self.bytes(4).map(drop),
            Err(3) => {
                let clen = self.length()? as usize;
                self.length()?;
                self.bytes(clen).map(drop)
            }
            Err(_) => Err(self.bad("unknown string encoding")),
        }
    }

    pub fn u64_le(&mut self) -> Result<u64, Corrupt> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().unwrap()))
    }

    pub fn binary_double(&mut self) -> Result<f64, Corrupt> {
        Ok(f64::from_le_bytes(self.bytes(8)?.try_into().unwrap()))
    }

    /// An old-style (ZSET type 3) double: a length byte then its text, or 253/254/255 for
    /// NaN, +inf and -inf.
    pub fn text_double(&mut self) -> Result<f64, Corrupt> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let t = self.bytes(n as usize)?;
                std::str::from_utf8(t)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| self.bad("bad double"))
            }
        }
    }

    /// Checks the magic and version; returns the version.
    pub fn header(&mut self) -> Result<u32, Corrupt> {
        let m = self.bytes(9)?;
        if &m[..5] != b"REDIS" {
            return Err(self.bad("not an RDB file"));
        }
        let v: u32 = std::str::from_utf8(&m[5..])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.bad("bad RDB version"))?;
        if v == 0 || v > VERSION + 1 {
            return Err(Corrupt(format!("can't handle RDB format version {v}")));
        }
        Ok(v)
    }

    /// After EOF: checks the CRC-64 footer (a zero checksum means "not computed").
    pub fn check_footer(&mut self, version: u32) -> Result<(), Corrupt> {
        if version < 5 {
            return Ok(());
        }
        let body_end = self.pos;
        let want = self.u64_le()?;
        let got = crc64::update(0, &self.buf[..body_end]);
        if want != 0 && want != got {
            return Err(Corrupt(format!(
                "wrong RDB checksum: expected {want:016x}, got {got:016x}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_strings_round_trip() {
        let mut e = Encoder::new(true);
        for n in [
            0u64,
            63,
            64,
            16383,
            16384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
        ] {
            e.length(n);
        }
        let strings: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"0".to_vec(),
            b"-128".to_vec(),
            b"32767".to_vec(),
            b"-2147483648".to_vec(),
            b"2147483648".to_vec(),
            b"012".to_vec(),
            vec![b'a'; 100],
            b"hello world, not compressible?".to_vec(),
        ];
        for s in &strings {
            e.string(s);
        }
        let buf = e.buf.clone();
        let mut d = Decoder::new(&buf);
        for n in [
            0u64,
            63,
            64,
            16383,
            16384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
        ] {
            assert_eq!(d.length().unwrap(), n);
        }
        for s in &strings {
            assert_eq!(&d.string().unwrap(), s);
        }
        assert_eq!(d.pos, buf.len());
    }

    #[test]
    fn integer_strings_use_redis_encodings() {
        let mut e = Encoder::new(false);
        e.string(b"5");
        e.string(b"1000");
        e.string(b"100000");
        assert_eq!(e.buf, b"\xc0\x05\xc1\xe8\x03\xc2\xa0\x86\x01\x00");
    }

    #[test]
    fn footer_checks_the_crc() {
        let mut e = Encoder::new(false);
        e.buf.extend_from_slice(MAGIC);
        let file = e.finish();
        let mut d = Decoder::new(&file);
        let v = d.header().unwrap();
        assert_eq!(d.byte().unwrap(), op::EOF);
        d.check_footer(v).unwrap();
        let mut bad = file.clone();
        bad[3] ^= 1;
        let mut d = Decoder::new(&bad);
        assert!(
            d.header().is_err() || {
                d.byte().unwrap();
                d.check_footer(v).is_err()
            }
        );
    }
}

#[cfg(test)]
mod interop {
    use super::*;

    /// A file made of the primitives (stamps, expiry, integer and LZF strings, a listpack
    /// list and an intset set) must satisfy Redis's own checker.
    #[test]
    #[ignore = "needs redis-check-rdb (apt-get install redis-server)"]
    fn redis_check_rdb_accepts_our_file() {
        let mut e = Encoder::new(true);
        e.header(1_700_000_000, 1 << 20);
        e.select_db(0, 4, 1);
        e.key_preamble(42 << 20, 0);
        e.byte(kind::STRING);
        e.string(b"plain");
        e.string(&[b'v'; 500]);
        e.key_preamble(43 << 20, 4_000_000_000_000);
        e.byte(kind::STRING);
        e.string(b"num");
        e.string(b"12345");
        e.key_preamble(44 << 20, 0);
        e.byte(kind::LIST_QUICKLIST_2);
        e.string(b"list");
        e.length(1);
        e.length(2); // a packed (listpack) node
        let mut lp = listpack::Writer::new();
        for x in [&b"a"[..], b"1", b"hello", &[b'z'; 100]] {
            lp.push(x);
        }
        e.string(&lp.finish());
        e.key_preamble(45 << 20, 0);
        e.byte(kind::SET_INTSET);
        e.string(b"set");
        e.string(&intset::write(&[-5, 1, 70000]));
        let file = e.finish();
        let path = std::env::temp_dir().join(format!("tandem-rdb-{}.rdb", std::process::id()));
        std::fs::write(&path, &file).unwrap();
        let out = std::process::Command::new("redis-check-rdb")
            .arg(&path)
            .output()
            .expect("redis-check-rdb on the PATH");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let _ = std::fs::remove_file(&path);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("RDB looks OK"), "{text}");
        assert!(
            text.contains("keys read: 4") || text.contains("4 keys read"),
            "{text}"
        );
    }
}
