//! Values to and from RDB: each store value written in the encoding Redis 7.0 writes for the
//! same in-memory form (so Redis 7.0 loads every byte of it), DUMP/RESTORE payloads, and
//! decoded records turned back into the store's encodings.
//!
//! The RDB type follows the value's in-memory form, as Redis's rdbSaveObjectType does:
//! strings are strings (integer-encoded or LZF-compressed by [`Encoder::string`]); lists are
//! LIST_QUICKLIST_2 with one listpack node per chunk; intsets SET_INTSET, other sets SET;
//! small hashes HASH_LISTPACK, large ones HASH; small sorted sets ZSET_LISTPACK, large ones
//! ZSET_2. Redis 7.2's SET_LISTPACK (type 20) is never written: Redis 7.0 cannot load it.

use super::load::{self, Loaded};
use super::{crc64, intset, kind, listpack, Corrupt, Decoder, Encoder, VERSION};
use crate::commands::zset::d2string;
use crate::config::{Config, Opt};
use crate::store::list::Fill;
use crate::store::set::{Elem, IntSet};
use crate::store::{hash, zset, Collection, Entry, Hash, List, Set, Value, ZSet};

/// The RDB type byte Redis writes for `v`.
pub fn value_type(v: &Value) -> u8 {
    match v {
        Value::Str(_) => kind::STRING,
        Value::List(_) => kind::LIST_QUICKLIST_2,
        Value::Set(s) if s.is_intset() => kind::SET_INTSET,
        Value::Set(_) => kind::SET,
        Value::Hash(h) if h.is_small() => kind::HASH_LISTPACK,
        Value::Hash(_) => kind::HASH,
        Value::ZSet(z) if z.is_small() => kind::ZSET_LISTPACK,
        Value::ZSet(_) => kind::ZSET_2,
    }
}

impl Encoder {
    /// A value: its type byte, then its payload (rdbSaveObjectType + rdbSaveObject).
    pub fn value(&mut self, v: &Value) {
        self.byte(value_type(v));
        self.payload(v);
    }

    /// A whole key as it stands in a file: stamp AUX, expiry, type, key, value.
    pub fn entry(&mut self, key: &[u8], e: &Entry) {
        self.key_preamble(e.stamp, e.expire_at());
        self.byte(value_type(&e.value));
        self.string(key);
        self.payload(&e.value);
    }

    fn payload(&mut self, v: &Value) {
        match v {
            Value::Str(s) => self.string(s.as_bytes(&mut itoa::Buffer::new())),
            Value::List(l) => self.list(l),
            Value::Set(s) => self.set(s),
            Value::Hash(h) => self.hash(h),
            Value::ZSet(z) => self.zset(z),
        }
    }

    /// A quicklist of packed nodes, one per chunk: the chunks are already cut by
    /// `list-max-listpack-size`, as Redis's nodes are.
    fn list(&mut self, l: &List) {
        self.length(l.chunks().count() as u64);
        for c in l.chunks() {
            self.length(QUICKLIST_PACKED);
            let mut lp = listpack::Writer::new();
            for e in c.iter() {
                lp.push(e);
            }
            self.string(&lp.finish());
        }
    }

    fn set(&mut self, s: &Set) {
        match s {
            Set::Ints(ints) => self.string(&intset::write(&sorted_ints(ints))),
            Set::Table(_) => {
                self.length(s.len() as u64);
                let mut buf = itoa::Buffer::new();
                for e in s.iter() {
                    self.string(e.bytes(&mut buf));
                }
            }
        }
    }

    fn hash(&mut self, h: &Hash) {
        if h.is_small() {
            let mut lp = listpack::Writer::new();
            for (f, v) in h.iter() {
                lp.push(f);
                lp.push(v);
            }
            self.string(&lp.finish());
        } else {
            self.length(h.len() as u64);
            for (f, v) in h.iter() {
                self.string(f);
                self.string(v);
            }
        }
    }

    fn zset(&mut self, z: &ZSet) {
        if z.is_small() {
            let mut lp = listpack::Writer::new();
            for (m, s) in z.iter() {
                lp.push(m);
                lp.push(d2string(s).as_bytes());
            }
            self.string(&lp.finish());
        } else {
            self.length(z.len() as u64);
            // Highest first, as Redis writes it: each load then inserts at the head.
            z.walk(z.len() - 1, true, |m, s| {
                self.string(m);
                self.binary_double(s);
                true
            });
        }
    }
}

/// Redis's QUICKLIST_NODE_CONTAINER_PACKED (a listpack node).
const QUICKLIST_PACKED: u64 = 2;

fn sorted_ints(s: &IntSet) -> Vec<i64> {
    s.iter().collect()
}

/// A DUMP payload, as Redis's createDumpPayload makes it: type byte, value, the RDB version
/// (2 bytes LE), and the CRC-64 of all that (8 bytes LE). Strings are LZF-compressed, as
/// with Redis's default `rdbcompression yes`.
pub fn dump(v: &Value) -> Vec<u8> {
    dump_with(v, true)
}

/// [`dump`] with compression on or off (`rdbcompression`).
pub fn dump_with(v: &Value, compress: bool) -> Vec<u8> {
    let mut e = Encoder::new(compress);
    e.value(v);
    e.buf.extend_from_slice(&(VERSION as u16).to_le_bytes());
    let crc = crc64::update(0, &e.buf);
    e.buf.extend_from_slice(&crc.to_le_bytes());
    e.buf
}

/// Why [`undump`] refused a payload whose footer is wrong (Redis's RESTORE reply text, without
/// "ERR "); any other error means the body is malformed.
pub const BAD_FOOTER: &str = "DUMP payload version or checksum are wrong";

/// Reads a DUMP payload back into a value, checking its footer as Redis's verifyDumpPayload
/// does (too short, a version newer than ours, or a wrong CRC: [`BAD_FOOTER`]). An empty
/// collection is refused too, as Redis's loader does.
pub fn undump(payload: &[u8], cfg: &Config) -> Result<Value, Corrupt> {
    if payload.len() < 10 {
        return Err(Corrupt(BAD_FOOTER.into()));
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().unwrap());
    if version as u32 > VERSION || crc64::update(0, &payload[..payload.len() - 8]) != crc {
        return Err(Corrupt(BAD_FOOTER.into()));
    }
    let mut d = Decoder::new(body);
    let t = d.byte()?;
    let loaded = load::value(&mut d, t)?;
    if is_empty(&loaded) {
        return Err(Corrupt("empty collection".into()));
    }
    Ok(to_value(loaded, cfg))
}

/// Reads a value of type `kind` straight into the store's encodings. A small hash in a
/// listpack (the common case in Redis's files) is built without a buffer per field and
/// value; everything else goes through [`load::value`] and [`to_value`].
pub fn read_value(d: &mut Decoder, kind: u8, cfg: &Config) -> Result<Value, Corrupt> {
    if kind == super::kind::HASH_LISTPACK {
        let blob = d.string_ref()?;
        let mut b = hash::SmallBuilder::new(hash::Limits::of(cfg), blob.len());
        super::listpack::for_each(&blob, |e| b.push(e))
            .ok_or_else(|| Corrupt("corrupt listpack".into()))?;
        if let Some(h) = b.finish() {
            return Ok(Value::Hash(h));
        }
        let items =
            super::listpack::read(&blob).ok_or_else(|| Corrupt("corrupt listpack".into()))?;
        if !items.len().is_multiple_of(2) {
            return Err(Corrupt("odd number of hash listpack entries".into()));
        }
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = items
            .chunks_exact(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        return Ok(Value::Hash(Hash::from_pairs(&pairs, hash::Limits::of(cfg))));
    }
    Ok(to_value(load::value(d, kind)?, cfg))
}

/// Whether a decoded value is a collection with no elements (Redis skips such keys).
pub fn is_empty(l: &Loaded) -> bool {
    match l {
        Loaded::Str(_) => false,
        Loaded::List(v) | Loaded::Set(v) => v.is_empty(),
        Loaded::Hash(v) => v.is_empty(),
        Loaded::ZSet(v) => v.is_empty(),
    }
}

/// A decoded value in the store's encodings, chosen by the configured thresholds exactly as
/// if the elements had been written by commands (Redis converts on load the same way).
/// Duplicate members or fields (only in a corrupt file) keep the last one.
pub fn to_value(l: Loaded, cfg: &Config) -> Value {
    match l {
        Loaded::Str(s) => Value::str(&s),
        Loaded::List(items) => {
            let fill = Fill::new(cfg.int(Opt::ListMaxListpackSize));
            Value::List(List::from_iter(items.iter().map(|e| e.as_slice()), fill))
        }
        Loaded::Set(members) => {
            let max = cfg.int(Opt::SetMaxIntsetEntries).max(0) as usize;
            // Sized up front: a set loaded with more members than an intset may hold starts
            // as a table, as in Redis's loader.
            let s = if members.len() > max {
                let mut s = Set::new_table();
                for m in &members {
                    s.insert(m, max);
                }
                s
            } else {
                Set::from_elems(members.iter().map(|m| Elem::Bytes(m)), max)
            };
            Value::Set(s)
        }
        Loaded::Hash(pairs) => Value::Hash(Hash::from_pairs(&pairs, hash::Limits::of(cfg))),
        Loaded::ZSet(members) => {
            let mut entries: Vec<(f64, Vec<u8>)> =
                members.into_iter().map(|(m, s)| (s, m)).collect();
            entries.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            entries.dedup_by(|b, a| a.1 == b.1);
            Value::ZSet(ZSet::from_sorted(&entries, zset::Limits::from_config(cfg)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::list::End;

    fn cfg() -> Config {
        Config::default()
    }

    /// What a value holds, independent of its encoding, for comparisons.
    fn contents(v: &Value) -> (String, String, u64) {
        (v.type_name().into(), v.encoding().into(), v.digest())
    }

    fn round_trip(v: &Value) -> Value {
        let back = undump(&dump(v), &cfg()).expect("undump");
        assert_eq!(contents(&back), contents(v));
        let raw = undump(&dump_with(v, false), &cfg()).expect("undump uncompressed");
        assert_eq!(contents(&raw), contents(v));
        back
    }

    fn list(n: usize, elem: impl Fn(usize) -> String) -> Value {
        let mut l = List::empty();
        for i in 0..n {
            l.push(End::Right, elem(i).as_bytes(), Fill::default());
        }
        Value::List(l)
    }

    fn set(members: impl Iterator<Item = String>) -> Value {
        let mut s = Set::default();
        for m in members {
            s.insert(m.as_bytes(), 512);
        }
        Value::Set(s)
    }

    fn hash(n: usize, vlen: usize) -> Value {
        let mut h = Hash::default();
        for i in 0..n {
            h.insert(
                format!("f{i}").as_bytes(),
                "v".repeat(vlen).as_bytes(),
                hash::Limits::of(&cfg()),
            );
        }
        Value::Hash(h)
    }

    fn zset(n: usize) -> Value {
        let mut z = ZSet::default();
        for i in 0..n {
            let s = match i % 4 {
                0 => i as f64,
                1 => -(i as f64) / 3.0,
                2 => f64::INFINITY,
                _ => 1e300 * i as f64,
            };
            z.insert(
                s,
                format!("m{i}").as_bytes(),
                zset::Limits::from_config(&cfg()),
            );
        }
        Value::ZSet(z)
    }

    #[test]
    fn strings() {
        for s in [
            &b"x"[..],
            b"",
            b"12",
            b"-2147483648",
            b"9223372036854775807",
            b"007",
            &[b'a'; 1000],
            &[0xFF; 70_000],
        ] {
            let v = Value::str(s);
            assert_eq!(value_type(&v), kind::STRING);
            let Value::Str(back) = round_trip(&v) else {
                panic!()
            };
            assert_eq!(back.to_vec(), s);
        }
    }

    #[test]
    fn lists() {
        let small = list(5, |i| format!("{i}"));
        let large = list(5000, |i| format!("element number {i}"));
        let huge_elems = list(3, |i| "z".repeat(20_000 + i));
        for v in [&small, &large, &huge_elems] {
            assert_eq!(value_type(v), kind::LIST_QUICKLIST_2);
            round_trip(v);
        }
        // The large list is written as several listpack nodes.
        let p = dump(&large);
        let mut d = Decoder::new(&p);
        d.byte().unwrap();
        assert!(d.length().unwrap() > 1);
    }

    #[test]
    fn sets() {
        let ints = set((0..100).map(|i| (i * 1000 - 7).to_string()));
        let wide = set([i64::MIN, 0, i64::MAX].iter().map(|i| i.to_string()));
        let strs = set((0..100).map(|i| format!("m{i}")));
        let many_ints = set((0..1000).map(|i| i.to_string()));
        assert_eq!(value_type(&ints), kind::SET_INTSET);
        assert_eq!(value_type(&wide), kind::SET_INTSET);
        assert_eq!(value_type(&strs), kind::SET);
        assert_eq!(value_type(&many_ints), kind::SET);
        for v in [&ints, &wide, &strs, &many_ints] {
            round_trip(v);
        }
    }

    #[test]
    fn hashes() {
        let small = hash(10, 5);
        let many = hash(600, 5);
        let long_values = hash(3, 100);
        assert_eq!(value_type(&small), kind::HASH_LISTPACK);
        assert_eq!(value_type(&many), kind::HASH);
        assert_eq!(value_type(&long_values), kind::HASH);
        for v in [&small, &many, &long_values] {
            round_trip(v);
        }
    }

    #[test]
    fn sorted_sets() {
        let small = zset(20);
        let large = zset(500);
        assert_eq!(value_type(&small), kind::ZSET_LISTPACK);
        assert_eq!(value_type(&large), kind::ZSET_2);
        for v in [&small, &large] {
            round_trip(v);
        }
        let Value::ZSet(z) = round_trip(&large) else {
            panic!()
        };
        assert_eq!(z.score(b"m3"), Some(3e300));
        assert_eq!(z.score(b"m1"), Some(-1.0 / 3.0));
    }

    #[test]
    fn thresholds_on_load_follow_the_config() {
        // A hash written large loads small when the config allows it, and the reverse.
        let mut c = cfg();
        let many = hash(600, 5);
        c.set(
            crate::config::options::lookup("hash-max-listpack-entries").unwrap(),
            "1000",
            false,
        )
        .unwrap();
        let back = undump(&dump(&many), &c).unwrap();
        assert_eq!(back.encoding(), "listpack");
        c.set(
            crate::config::options::lookup("set-max-intset-entries").unwrap(),
            "10",
            false,
        )
        .unwrap();
        let ints = set((0..100).map(|i| i.to_string()));
        assert_eq!(undump(&dump(&ints), &c).unwrap().encoding(), "hashtable");
    }

    #[test]
    fn duplicate_fields_keep_the_last() {
        let pair = |f: &[u8], v: &[u8]| (f.to_vec(), v.to_vec());
        let l = Loaded::Hash(vec![pair(b"f", b"1"), pair(b"g", b"2"), pair(b"f", b"3")]);
        let Value::Hash(h) = to_value(l, &cfg()) else {
            panic!()
        };
        assert_eq!(h.len(), 2);
        assert_eq!(h.get(b"f"), Some(&b"3"[..]));
        assert!(h.is_small());
    }

    #[test]
    fn entries_carry_stamp_and_expiry() {
        let mut e = Encoder::new(true);
        let mut entry = Entry::new(hash(3, 3), 77 << 20);
        entry.expire_at = 5_000_000_000_000;
        e.header(1, 1);
        e.select_db(0, 1, 1);
        e.entry(b"k", &entry);
        let file = e.finish();
        let (_, recs) = load::read_all(&file).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].key, b"k");
        assert_eq!(recs[0].stamp, Some(77 << 20));
        assert_eq!(recs[0].expire_at, 5_000_000_000_000);
        let v = to_value(recs[0].value.clone(), &cfg());
        assert_eq!(v.digest(), entry.value.digest());
    }

    #[test]
    fn bad_payloads() {
        let good = dump(&Value::str(b"hello"));
        let c = cfg();
        assert!(undump(&good[..5], &c).is_err());
        let mut bad_crc = good.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        assert!(undump(&bad_crc, &c).is_err());
        // A newer RDB version is refused even with a right CRC.
        let mut newer = good[..good.len() - 10].to_vec();
        newer.extend_from_slice(&11u16.to_le_bytes());
        let crc = crc64::update(0, &newer);
        newer.extend_from_slice(&crc.to_le_bytes());
        assert!(undump(&newer, &c).is_err());
        // An unknown type with a right footer.
        let mut odd = vec![200u8, 0];
        odd.extend_from_slice(&10u16.to_le_bytes());
        let crc = crc64::update(0, &odd);
        odd.extend_from_slice(&crc.to_le_bytes());
        assert!(undump(&odd, &c).is_err());
        // An empty set.
        let mut empty = vec![kind::SET, 0];
        empty.extend_from_slice(&10u16.to_le_bytes());
        let crc = crc64::update(0, &empty);
        empty.extend_from_slice(&crc.to_le_bytes());
        assert!(undump(&empty, &c).is_err());
    }

    #[test]
    fn known_redis_payload() {
        // From Redis's documentation of RESTORE: a list of 1, 2, 3 as Redis 7.0 dumps it.
        let p = b"\x12\x01\x02\x0d\x0d\x00\x00\x00\x03\x00\x01\x01\x02\x01\x03\x01\xff\n\x00";
        let mut payload = p.to_vec();
        let crc = crc64::update(0, &payload);
        payload.extend_from_slice(&crc.to_le_bytes());
        let v = undump(&payload, &cfg()).unwrap();
        let Value::List(l) = &v else { panic!() };
        assert_eq!(l.iter().collect::<Vec<_>>(), [b"1", b"2", b"3"]);
        // And our encoder writes those very bytes.
        assert_eq!(dump(&v), payload);
    }

    /// Payloads of every encoding, to corrupt.
    fn samples() -> Vec<Vec<u8>> {
        let vals = [
            Value::str(b"hello"),
            Value::str(&[b'z'; 300]),
            Value::str(b"12345"),
            list(5, |i| format!("e{i}")),
            list(300, |i| format!("element {i}")),
            set((0..5).map(|i| i.to_string())),
            set((0..5).map(|i| format!("m{i}"))),
            set((0..600).map(|i| format!("m{i}"))),
            hash(4, 3),
            hash(200, 10),
            zset(4),
            zset(200),
        ];
        vals.iter()
            .flat_map(|v| [dump(v), dump_with(v, false)])
            .collect()
    }

    /// Re-seals a payload's footer, so that corruption gets past the CRC check (anyone can
    /// compute a CRC: RESTORE must survive crafted payloads, not only damaged ones).
    fn reseal(mut p: Vec<u8>) -> Vec<u8> {
        if p.len() >= 10 {
            let n = p.len();
            let crc = crc64::update(0, &p[..n - 8]);
            p[n - 8..].copy_from_slice(&crc.to_le_bytes());
        }
        p
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Corrupted payloads (bytes changed, lengths blown up, cut short) give an error or a
        /// value, never a panic or an allocation the input cannot back.
        #[test]
        fn corrupt_payloads_never_panic(
            which in 0usize..24,
            edits in proptest::collection::vec((0usize..100_000, 0u8..=255), 1..4),
            cut in proptest::option::of(0usize..100_000),
        ) {
            let samples = samples();
            let mut p = samples[which % samples.len()].clone();
            let body = p.len() - 10;
            for (at, b) in edits {
                p[at % body] = b;
            }
            if let Some(c) = cut {
                let keep = c % p.len();
                let footer = p[p.len() - 10..].to_vec();
                p.truncate(keep);
                p.extend_from_slice(&footer);
            }
            let _ = undump(&reseal(p), &cfg());
        }
    }

    /// Lengths that promise more than the payload holds (a 4 G-element collection, a 4 GiB
    /// LZF string) are refused without allocating for them.
    #[test]
    fn huge_claimed_lengths_are_refused() {
        let seal = |body: &[u8]| {
            let mut p = body.to_vec();
            p.extend_from_slice(&(VERSION as u16).to_le_bytes());
            p.extend_from_slice(&[0; 8]);
            reseal(p)
        };
        let huge32 = [0x80, 0xFF, 0xFF, 0xFF, 0xF0];
        let huge64 = [0x81, 0x00, 0x00, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0];
        for t in [
            kind::LIST,
            kind::SET,
            kind::ZSET,
            kind::ZSET_2,
            kind::HASH,
            kind::LIST_QUICKLIST,
            kind::LIST_QUICKLIST_2,
            kind::STRING,
        ] {
            for len in [&huge32[..], &huge64[..]] {
                let mut body = vec![t];
                body.extend_from_slice(len);
                body.extend_from_slice(b"\x01a\x01b");
                assert!(undump(&seal(&body), &cfg()).is_err(), "type {t}, {len:?}");
            }
        }
        // An LZF string claiming 4 GiB once decompressed, from 3 bytes.
        for len in [&huge32[..], &huge64[..]] {
            let mut body = vec![kind::STRING, 0xC3, 3];
            body.extend_from_slice(len);
            body.extend_from_slice(&[0x01, b'a', b'b']);
            assert!(undump(&seal(&body), &cfg()).is_err(), "lzf {len:?}");
        }
    }

    /// A small file: keys of every encoding with stamps (a `tandem-stamps` run), expiry, AUX
    /// fields and two databases.
    fn sample_file() -> Vec<u8> {
        let mut e = Encoder::new(true);
        e.header(1, 1);
        e.select_db(0, 6, 1);
        let values = [
            Value::str(b"v"),
            list(300, |i| format!("element {i}")),
            set((0..5).map(|i| i.to_string())),
            hash(4, 3),
            hash(200, 10),
            zset(200),
        ];
        for (i, v) in values.into_iter().enumerate() {
            let mut entry = Entry::new(v, (1_700_000_000_000 + i as u64) << 20);
            if i == 2 {
                entry.expire_at = 5_000_000_000_000;
            }
            e.entry(format!("key{i}").as_bytes(), &entry);
        }
        e.aux(b"tandem-del", b"0123456789abkey");
        e.select_db(3, 1, 0);
        e.entry(b"k", &Entry::new(zset(4), 9 << 20));
        e.finish()
    }

    /// Reads a file as boot loading does: each key's value straight into the store's form.
    fn read_file(file: &[u8]) -> Result<(), Corrupt> {
        let mut r = load::Reader::new(file)?;
        loop {
            match r.next_item()? {
                load::Item::End => return r.finish(true),
                load::Item::Aux(..) => {}
                load::Item::Key(h) => {
                    read_value(&mut r.d, h.kind, &cfg())?;
                }
            }
        }
    }

    #[test]
    fn the_sample_file_reads() {
        read_file(&sample_file()).unwrap();
        load::read_all(&sample_file()).unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
        /// A damaged file (a peer's full sync cut or garbled, a bad disk) gives an error,
        /// never a panic, whether values are decoded, loaded or stepped over.
        #[test]
        fn damaged_files_never_panic(
            edits in proptest::collection::vec((0usize..1_000_000, 0u8..=255), 1..4),
            cut in proptest::option::of(0usize..1_000_000),
        ) {
            let mut f = sample_file();
            for (at, b) in edits {
                let n = f.len();
                f[9 + at % (n - 9)] = b;
            }
            if let Some(c) = cut {
                f.truncate(c % f.len());
            }
            let _ = read_file(&f);
            let _ = load::read_all(&f);
            let _ = crate::replication::snapshot::file_to_records(&f, |_| {});
        }
    }
}
