//! Full sync in RDB form: each shard writes its keys in chunks while it keeps serving, and a
//! receiving node turns the file's keys back into records to merge by stamp (DESIGN §6).
//!
//! Beside Redis's records the file carries Tandem's own AUX fields, which Redis skips (the
//! same in files on disk, see `persist`):
//! `tandem-del` = stamp (u64 LE) + db (u32 LE) + key: a tombstone, and
//! `tandem-flush` = stamp (u64 LE) + db (u32 LE): that database's last flush.

use super::record;
use crate::rdb::load::{Item, Reader};
use crate::rdb::{Corrupt, Encoder};
use crate::shard::Shard;
use crate::util::now_ms;
use crate::util::put_varint;

pub const TOMBSTONE_AUX: &[u8] = b"tandem-del";
pub const FLUSH_AUX: &[u8] = b"tandem-flush";

/// How many keys a shard writes per turn before letting its clients run.
pub const CHUNK_KEYS: usize = 4096;

impl Shard {
    /// Keys and tombstones of database `db` in this shard.
    pub fn db_population(&self, db: usize) -> (usize, usize) {
        let data = self.data.borrow();
        let d = &data.store.dbs[db];
        (d.len(), d.tombstones() + (d.flushed_at != 0) as usize)
    }

    /// Encodes up to `max` keys of `db` below table position `top` (None: start, which also
    /// writes the tombstones and flush stamp); returns the bytes and the next `top`, 0 when
    /// the database is done. The positions a chunk stops at survive the writes in between
    /// (see [`crate::store::Db::scan`]).
    pub fn snapshot_chunk(
        &self,
        db: usize,
        top: Option<usize>,
        max: usize,
        compress: bool,
    ) -> (Vec<u8>, usize) {
        let data = self.data.borrow();
        let d = &data.store.dbs[db];
        let mut enc = Encoder::new(compress);
        if top.is_none() {
            db_aux(db, d, &mut enc);
        }
        let now = now_ms();
        let next = d.scan(top, max, |k, e| {
            if e.is_expired(now) {
                // Gone here, but its stamp must still beat older copies on the peer.
                tombstone_aux(db, k, e.stamp, &mut enc);
            } else {
                enc.entry(k, e);
            }
        });
        (enc.take(), next)
    }
}

/// Writes a database's tombstones and flush stamp as AUX fields.
pub fn db_aux(db: usize, d: &crate::store::Db, enc: &mut Encoder) {
    if d.flushed_at != 0 {
        let mut v = d.flushed_at.to_le_bytes().to_vec();
        v.extend_from_slice(&(db as u32).to_le_bytes());
        enc.aux(FLUSH_AUX, &v);
    }
    for (k, stamp) in d.tombstone_iter() {
        tombstone_aux(db, k, stamp, enc);
    }
}

fn tombstone_aux(db: usize, key: &[u8], stamp: u64, enc: &mut Encoder) {
    let mut v = stamp.to_le_bytes().to_vec();
    v.extend_from_slice(&(db as u32).to_le_bytes());
    v.extend_from_slice(key);
    enc.aux(TOMBSTONE_AUX, &v);
}

/// Appends the record a Tandem AUX field stands for; false for any other AUX field.
pub fn aux_to_record(key: &[u8], value: &[u8], out: &mut Vec<u8>) -> bool {
    if value.len() < 12 {
        return false;
    }
    let stamp = u64::from_le_bytes(value[..8].try_into().unwrap());
    let db = u32::from_le_bytes(value[8..12].try_into().unwrap()) as usize;
    match key {
        TOMBSTONE_AUX => record::del(out, db, &value[12..], stamp),
        FLUSH_AUX if value.len() == 12 => record::flush(out, db, stamp),
        _ => return false,
    }
    true
}

/// Walks a whole RDB file (a full sync), handing `emit` the records of each key and each
/// Tandem AUX field; values stay in their RDB encoding (decoded by the shard that applies
/// them). Checks the CRC-64 footer.
pub fn file_to_records(buf: &[u8], mut emit: impl FnMut(&[u8])) -> Result<(), Corrupt> {
    let mut r = Reader::new(buf)?;
    let mut rec = Vec::with_capacity(256);
    loop {
        rec.clear();
        match r.next_item()? {
            Item::End => break,
            Item::Aux(k, v) => {
                aux_to_record(&k, &v, &mut rec);
            }
            Item::Key(h) => {
                let from = r.pos();
                r.skip(h.kind)?;
                let value = &buf[from..r.pos()];
                rec.push(record::PUT);
                put_varint(&mut rec, h.db as u64);
                rec.extend_from_slice(&h.stamp.unwrap_or(0).to_le_bytes());
                put_varint(&mut rec, h.key.len() as u64);
                rec.extend_from_slice(&h.key);
                rec.extend_from_slice(&h.expire_at.to_le_bytes());
                put_varint(&mut rec, value.len() as u64 + 1);
                rec.push(h.kind);
                rec.extend_from_slice(value);
            }
        }
        if !rec.is_empty() {
            emit(&rec);
        }
    }
    r.finish(true)
}
