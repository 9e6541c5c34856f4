//! Full sync in RDB form: each shard writes its keys in chunks while it keeps serving, and a
//! receiving node turns the file's keys back into records to merge by stamp (DESIGN §6).
//!
//! Beside Redis's records the file carries Tandem's own AUX fields, which Redis skips:
//! `tandem-del` (8-byte LE stamp + key: a tombstone in the database selected at that point)
//! and `tandem-flush` (8-byte LE stamp: that database's last flush).

use super::record::{self, put_varint};
use crate::rdb::load::Item;
use crate::rdb::Encoder;
use crate::shard::Shard;
use crate::util::now_ms;

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
            if d.flushed_at != 0 {
                enc.aux(FLUSH_AUX, &d.flushed_at.to_le_bytes());
            }
            for (k, stamp) in d.tombstone_iter() {
                let mut v = stamp.to_le_bytes().to_vec();
                v.extend_from_slice(k);
                enc.aux(TOMBSTONE_AUX, &v);
            }
        }
        let now = now_ms();
        let next = d.scan(top, max, |k, e| {
            if !e.is_expired(now) {
                enc.entry(k, e);
            }
        });
        (enc.buf, next)
    }
}

/// Turns what a file holds into records, appending to `out`; `Ok(false)` for a file item
/// that is not data (Redis's own AUX fields).
pub fn item_to_record(item: &Item, out: &mut Vec<u8>) -> bool {
    match item {
        Item::Key {
            db,
            key,
            kind,
            value,
            expire_at,
            stamp,
        } => {
            out.push(record::PUT);
            put_varint(out, *db as u64);
            out.extend_from_slice(&stamp.unwrap_or(0).to_le_bytes());
            put_varint(out, key.len() as u64);
            out.extend_from_slice(key);
            out.extend_from_slice(&expire_at.to_le_bytes());
            put_varint(out, value.len() as u64 + 1);
            out.push(*kind);
            out.extend_from_slice(value);
            true
        }
        Item::Aux { db, key, value } if key == TOMBSTONE_AUX && value.len() >= 8 => {
            let stamp = u64::from_le_bytes(value[..8].try_into().unwrap());
            record::del(out, *db, &value[8..], stamp);
            true
        }
        Item::Aux { db, key, value } if key == FLUSH_AUX && value.len() == 8 => {
            record::flush(out, *db, u64::from_le_bytes(value[..].try_into().unwrap()));
            true
        }
        Item::Aux { .. } => false,
    }
}
