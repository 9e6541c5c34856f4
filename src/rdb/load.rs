//! Reading a whole RDB stream into plain records, whatever encoding Redis wrote each value
//! in (listpack, quicklist, ziplist, intset, plain), with expiry and Tandem's stamps. Turning
//! records into the store's values is the caller's job, so this layer has no opinion about
//! Tandem's in-memory encodings.

use super::stamps::{self, STAMPS_AUX};
use super::{intset, kind, listpack, op, Corrupt, Decoder, STAMP_AUX};

/// Field-value pairs.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A value as the file holds it, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Pairs),
    ZSet(Vec<(Vec<u8>, f64)>),
}

/// One key of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Loaded,
    /// Absolute Unix ms, 0 for none.
    pub expire_at: u64,
    /// The key's stamp, from the file's `tandem-stamps` run or `mvcc-tstamp` field, if any.
    pub stamp: Option<u64>,
}

/// Everything a file holds besides keys.
#[derive(Debug, Default, Clone)]
pub struct Meta {
    pub version: u32,
    /// AUX fields other than stamps, in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Decodes a ziplist blob (files written before Redis 7).
pub fn ziplist(b: &[u8]) -> Result<Vec<Vec<u8>>, Corrupt> {
    let bad = |w: &str| Corrupt(format!("ziplist: {w}"));
    if b.len() < 11 {
        return Err(bad("too short"));
    }
    let mut p = 10;
    let mut out = vec![];
    loop {
        let first = *b.get(p).ok_or_else(|| bad("truncated"))?;
        if first == 0xFF {
            break;
        }
        p += if first < 254 { 1 } else { 5 };
        let enc = *b.get(p).ok_or_else(|| bad("truncated"))?;
        let get = |from: usize, n: usize| b.get(from..from + n).ok_or_else(|| bad("truncated"));
        let (v, len): (Vec<u8>, usize) = match enc >> 6 {
            0 => {
                let n = (enc & 0x3F) as usize;
                (get(p + 1, n)?.to_vec(), 1 + n)
            }
            1 => {
                let n = ((enc as usize & 0x3F) << 8)
                    | *b.get(p + 1).ok_or_else(|| bad("truncated"))? as usize;
                (get(p + 2, n)?.to_vec(), 2 + n)
            }
            2 => {
                let n = u32::from_be_bytes(get(p + 1, 4)?.try_into().unwrap()) as usize;
                (get(p + 5, n)?.to_vec(), 5 + n)
            }
            _ => {
                let int = |v: i64| v.to_string().into_bytes();
                match enc {
                    0xC0 => (
                        int(i16::from_le_bytes(get(p + 1, 2)?.try_into().unwrap()) as i64),
                        3,
                    ),
                    0xD0 => (
                        int(i32::from_le_bytes(get(p + 1, 4)?.try_into().unwrap()) as i64),
                        5,
                    ),
                    0xE0 => (
                        int(i64::from_le_bytes(get(p + 1, 8)?.try_into().unwrap())),
                        9,
                    ),
                    0xF0 => {
                        let x = get(p + 1, 3)?;
                        (
                            int((i32::from_le_bytes([0, x[0], x[1], x[2]]) >> 8) as i64),
                            4,
                        )
                    }
                    0xFE => (
                        int(*b.get(p + 1).ok_or_else(|| bad("truncated"))? as i8 as i64),
                        2,
                    ),
                    0xF1..=0xFD => (int((enc & 0x0F) as i64 - 1), 1),
                    _ => return Err(bad("unknown encoding")),
                }
            }
        };
        p += len;
        out.push(v);
    }
    Ok(out)
}

fn pairs(items: Vec<Vec<u8>>) -> Result<Pairs, Corrupt> {
    if !items.len().is_multiple_of(2) {
        return Err(Corrupt("odd number of elements in a pair encoding".into()));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

fn scored(items: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, f64)>, Corrupt> {
    pairs(items)?
        .into_iter()
        .map(|(m, s)| {
            let score = std::str::from_utf8(&s)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .ok_or_else(|| Corrupt("bad score in a sorted set".into()))?;
            Ok((m, score))
        })
        .collect()
}

/// One value of type `t` (the type byte already read).
pub fn value(d: &mut Decoder, t: u8) -> Result<Loaded, Corrupt> {
    let lp = |d: &mut Decoder| -> Result<Vec<Vec<u8>>, Corrupt> {
        let blob = d.string()?;
        listpack::read(&blob).ok_or_else(|| Corrupt("corrupt listpack".into()))
    };
    let count = |d: &mut Decoder| d.count();
    Ok(match t {
        kind::STRING => Loaded::Str(d.string()?),
        kind::LIST | kind::SET => {
            let n = count(d)?;
            let items = (0..n).map(|_| d.string()).collect::<Result<Vec<_>, _>>()?;
            if t == kind::LIST {
                Loaded::List(items)
            } else {
                Loaded::Set(items)
            }
        }
        kind::ZSET | kind::ZSET_2 => {
            let n = count(d)?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let m = d.string()?;
                let s = if t == kind::ZSET_2 {
                    d.binary_double()?
                } else {
                    d.text_double()?
                };
                out.push((m, s));
            }
            Loaded::ZSet(out)
        }
        kind::HASH => {
            let n = count(d)?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push((d.string()?, d.string()?));
            }
            Loaded::Hash(out)
        }
        kind::LIST_ZIPLIST => Loaded::List(ziplist(&d.string()?)?),
        kind::SET_INTSET => {
            let blob = d.string()?;
            let v = intset::read(&blob).ok_or_else(|| Corrupt("corrupt intset".into()))?;
            Loaded::Set(v.into_iter().map(|x| x.to_string().into_bytes()).collect())
        }
        kind::ZSET_ZIPLIST => Loaded::ZSet(scored(ziplist(&d.string()?)?)?),
        kind::HASH_ZIPLIST => Loaded::Hash(pairs(ziplist(&d.string()?)?)?),
        kind::LIST_QUICKLIST => {
            let n = count(d)?;
            let mut items = vec![];
            for _ in 0..n {
                items.extend(ziplist(&d.string()?)?);
            }
            Loaded::List(items)
        }
        kind::HASH_LISTPACK => Loaded::Hash(pairs(lp(d)?)?),
        kind::ZSET_LISTPACK => Loaded::ZSet(scored(lp(d)?)?),
        kind::LIST_QUICKLIST_2 => {
            let n = count(d)?;
            let mut items = vec![];
            for _ in 0..n {
                match count(d)? {
                    1 => items.push(d.string()?), // a plain node: one large element
                    2 => items.extend(lp(d)?),
                    c => return Err(Corrupt(format!("unknown quicklist container {c}"))),
                }
            }
            Loaded::List(items)
        }
        other => {
            return Err(Corrupt(format!(
                "unsupported value type {other} (modules, streams and zipmaps are not supported)"
            )))
        }
    })
}

/// Steps over a value of type `t` without decoding it (a shard loading a file passes over
/// the keys other shards own).
pub fn skip_value(d: &mut Decoder, t: u8) -> Result<(), Corrupt> {
    let count = |d: &mut Decoder| -> Result<u64, Corrupt> { d.length() };
    match t {
        kind::STRING
        | kind::HASH_ZIPMAP
        | kind::LIST_ZIPLIST
        | kind::SET_INTSET
        | kind::ZSET_ZIPLIST
        | kind::HASH_ZIPLIST
        | kind::HASH_LISTPACK
        | kind::ZSET_LISTPACK => d.skip_string()?,
        kind::LIST | kind::SET | kind::LIST_QUICKLIST => {
            for _ in 0..count(d)? {
                d.skip_string()?;
            }
        }
        kind::HASH => {
            for _ in 0..count(d)? {
                d.skip_string()?;
                d.skip_string()?;
            }
        }
        kind::ZSET_2 => {
            for _ in 0..count(d)? {
                d.skip_string()?;
                d.bytes(8)?;
            }
        }
        kind::ZSET => {
            for _ in 0..count(d)? {
                d.skip_string()?;
                match d.byte()? {
                    253..=255 => {}
                    n => {
                        d.bytes(n as usize)?;
                    }
                }
            }
        }
        kind::LIST_QUICKLIST_2 => {
            for _ in 0..count(d)? {
                count(d)?;
                d.skip_string()?;
            }
        }
        other => return Err(Corrupt(format!("unsupported value type {other}"))),
    }
    Ok(())
}

/// What precedes a key's value in a file.
#[derive(Debug)]
pub struct KeyHead<'a> {
    pub db: usize,
    pub key: std::borrow::Cow<'a, [u8]>,
    /// The value's type byte.
    pub kind: u8,
    /// Absolute Unix ms, 0 for none.
    pub expire_at: u64,
    /// The key's stamp, from the file's `tandem-stamps` run or `mvcc-tstamp` field, if any.
    pub stamp: Option<u64>,
}

/// One step through a file.
#[derive(Debug)]
pub enum Item<'a> {
    /// A key. The reader then stands at its value, which the caller reads
    /// ([`Reader::value`]) or steps over ([`Reader::skip`]) before the next item.
    Key(KeyHead<'a>),
    /// An AUX field other than a key's stamp.
    Aux(Vec<u8>, Vec<u8>),
    /// The EOF opcode; [`Reader::finish`] checks the footer.
    End,
}

/// Reads a file one key at a time, so that a loader never holds more than one decoded value.
pub struct Reader<'a> {
    pub d: Decoder<'a>,
    pub version: u32,
    db: usize,
    /// The last RESIZEDB seen: (db, keys), for a loader to size its table once.
    resize_hint: Option<(usize, usize)>,
    /// The `tandem-stamps` run the keys being read take their stamps from.
    run: stamps::Run,
}

impl<'a> Reader<'a> {
    /// Checks the header.
    pub fn new(buf: &'a [u8]) -> Result<Self, Corrupt> {
        let mut d = Decoder::new(buf);
        let version = d.header()?;
        Ok(Reader {
            d,
            version,
            db: 0,
            resize_hint: None,
            run: stamps::Run::default(),
        })
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.d.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.d.remaining()
    }

    /// The key count a RESIZEDB announced since the last call: (db, keys).
    pub fn take_resize_hint(&mut self) -> Option<(usize, usize)> {
        self.resize_hint.take()
    }

    /// The database selected at this point of the file.
    pub fn db(&self) -> usize {
        self.db
    }

    pub fn next_item(&mut self) -> Result<Item<'a>, Corrupt> {
        let d = &mut self.d;
        let (mut expire_at, mut stamp) = (0u64, None);
        loop {
            let opcode = d.byte()?;
            // A run of stamps covers keys only; anything else ends it, so keys can never take
            // the wrong stamps.
            if self.run.left() > 0 && matches!(opcode, op::EOF | op::SELECTDB | op::AUX) {
                return Err(Corrupt(format!(
                    "tandem-stamps run cut short at offset {}",
                    d.pos - 1
                )));
            }
            match opcode {
                op::EOF => return Ok(Item::End),
                op::SELECTDB => self.db = d.length()? as usize,
                op::RESIZEDB => {
                    self.resize_hint = Some((self.db, d.length()? as usize));
                    d.length()?;
                }
                op::AUX => {
                    let (k, v) = (d.string()?, d.string()?);
                    if k == STAMPS_AUX {
                        self.run = stamps::Run::parse(&v)?;
                    } else if k == STAMP_AUX {
                        stamp = std::str::from_utf8(&v).ok().and_then(|s| s.parse().ok());
                    } else {
                        return Ok(Item::Aux(k, v));
                    }
                }
                op::EXPIRETIME_MS => expire_at = d.u64_le()?,
                op::EXPIRETIME => {
                    let secs = u32::from_le_bytes(d.bytes(4)?.try_into().unwrap());
                    expire_at = secs as u64 * 1000;
                }
                op::IDLE => {
                    d.length()?;
                }
                op::FREQ => {
                    d.byte()?;
                }
                op::FUNCTION2 => {
                    d.string()?;
                }
                op::MODULE_AUX => return Err(Corrupt("module data is not supported".into())),
                kind => {
                    let key = d.string_ref()?;
                    let from_run = self.run.next_stamp();
                    return Ok(Item::Key(KeyHead {
                        db: self.db,
                        key,
                        kind,
                        expire_at,
                        stamp: stamp.or(from_run),
                    }));
                }
            }
        }
    }

    /// The value of the key [`Reader::next_item`] returned.
    pub fn value(&mut self, kind: u8) -> Result<Loaded, Corrupt> {
        value(&mut self.d, kind)
    }

    /// Steps over the value of the key [`Reader::next_item`] returned.
    pub fn skip(&mut self, kind: u8) -> Result<(), Corrupt> {
        skip_value(&mut self.d, kind)
    }

    /// After [`Item::End`]: checks the CRC-64 footer (unless `verify` is off, as with
    /// `rdbchecksum no`).
    pub fn finish(&mut self, verify: bool) -> Result<(), Corrupt> {
        if verify {
            self.d.check_footer(self.version)
        } else {
            Ok(())
        }
    }
}

/// Reads a whole file: its records in order, and its metadata. Checks the CRC-64 footer.
pub fn read_all(buf: &[u8]) -> Result<(Meta, Vec<Record>), Corrupt> {
    let mut r = Reader::new(buf)?;
    let mut meta = Meta {
        version: r.version,
        ..Default::default()
    };
    let mut records = vec![];
    loop {
        match r.next_item()? {
            Item::End => break,
            Item::Aux(k, v) => meta.aux.push((k, v)),
            Item::Key(h) => {
                let (db, key, expire_at, stamp) = (h.db, h.key.into_owned(), h.expire_at, h.stamp);
                let value = r.value(h.kind)?;
                records.push(Record {
                    db,
                    key,
                    value,
                    expire_at,
                    stamp,
                });
            }
        }
    }
    r.finish(true)?;
    Ok((meta, records))
}

#[cfg(test)]
mod tests {
    use super::super::{Encoder, STAMP_AUX};
    use super::*;

    #[test]
    fn reads_back_what_the_encoder_wrote() {
        let mut e = Encoder::new(true);
        e.header(1, 2);
        e.select_db(3, 2, 1);
        e.key_preamble(99, 1234);
        e.byte(kind::STRING);
        e.string(b"k");
        e.string(&[b'q'; 300]);
        e.aux(STAMP_AUX, b"100");
        e.byte(kind::ZSET_2);
        e.string(b"z");
        e.length(2);
        e.string(b"a");
        e.binary_double(1.5);
        e.string(b"b");
        e.binary_double(f64::INFINITY);
        let file = e.finish();
        let (meta, recs) = read_all(&file).unwrap();
        assert_eq!(meta.version, 10);
        assert!(meta.aux.iter().any(|(k, _)| k == b"redis-ver"));
        assert_eq!(recs.len(), 2);
        assert_eq!(
            recs[0],
            Record {
                db: 3,
                key: b"k".to_vec(),
                value: Loaded::Str(vec![b'q'; 300]),
                expire_at: 1234,
                stamp: Some(99),
            }
        );
        assert_eq!(
            recs[1].value,
            Loaded::ZSet(vec![(b"a".to_vec(), 1.5), (b"b".to_vec(), f64::INFINITY)])
        );
        assert_eq!(recs[1].stamp, Some(100));
        assert_eq!(recs[1].expire_at, 0);
    }

    #[test]
    fn skipping_lands_where_reading_does() {
        let mut e = Encoder::new(true);
        e.header(1, 2);
        e.select_db(0, 3, 0);
        let big: Vec<u8> = b"abc".repeat(100);
        for (t, payload) in [
            (kind::STRING, vec![&big[..]]),
            (kind::SET, vec![&b"1"[..], b"x", &big[..]]),
        ] {
            e.key_preamble(5, 0);
            e.byte(t);
            e.string(b"key");
            if t != kind::STRING {
                e.length(payload.len() as u64);
            }
            for p in payload {
                e.string(p);
            }
        }
        let file = e.finish();
        let mut a = Reader::new(&file).unwrap();
        let mut b = Reader::new(&file).unwrap();
        loop {
            let (ia, ib) = (a.next_item().unwrap(), b.next_item().unwrap());
            match (ia, ib) {
                (Item::End, Item::End) => break,
                (Item::Key(h), Item::Key(_)) => {
                    a.value(h.kind).unwrap();
                    b.skip(h.kind).unwrap();
                    assert_eq!(a.pos(), b.pos());
                }
                (Item::Aux(..), Item::Aux(..)) => {}
                other => panic!("{other:?}"),
            }
        }
        a.finish(true).unwrap();
    }

    #[test]
    fn ziplist_entries() {
        // A ziplist holding "ab", 5 (4-bit immediate), 300 (int16), -1 (int8... as 0xFE).
        let mut z = vec![0u8; 10];
        z.extend_from_slice(&[0, 0x02, b'a', b'b']);
        z.extend_from_slice(&[4, 0xF6]);
        z.extend_from_slice(&[2, 0xC0, 0x2C, 0x01]);
        z.extend_from_slice(&[4, 0xFE, 0xFF]);
        z.push(0xFF);
        assert_eq!(
            ziplist(&z).unwrap(),
            vec![
                b"ab".to_vec(),
                b"5".to_vec(),
                b"300".to_vec(),
                b"-1".to_vec()
            ]
        );
    }
}
