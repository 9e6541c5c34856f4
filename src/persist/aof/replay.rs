//! Replaying incremental files at boot: every shard reads each file whole and applies the
//! records of its own keys (and every FLUSH, which stands for its database on every shard,
//! as replication applies it), in file order, with no messages between shards.
//!
//! A record is applied as replication merges one (last writer wins by stamp, see
//! `replication::shard`), without capturing, forwarding or waking anyone: the records are
//! this node's own history. Two differences: nothing counts as expired while replaying (a
//! key's expiry is applied as recorded and takes effect once the load is done, as in Redis,
//! where the log holds commands made while the key was live), and an OP record applies to
//! its base whether or not that base has expired since.

use std::rc::Rc;
use std::sync::atomic::Ordering;

use super::frame;
use crate::protocol::Args;
use crate::replication::record::{self, Reader, Record};
use crate::shard::{Shard, ShardData};
use crate::store::Entry;

/// What a replay did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub applied: u64,
    /// Records older than what the key held (already reflected in the base file).
    pub older: u64,
    /// OP records whose base was not there: none when the log is whole.
    pub lost_ops: u64,
}

/// Replays a file's good part on this shard, a slice at a time.
pub async fn in_slices(sh: &Rc<Shard>, file: &[u8]) {
    const SLICE: usize = 256 * 1024;
    let cfg = sh.config();
    let tombstones = cfg.bool(crate::config::Opt::ActiveReplica);
    let mut stats = Stats::default();
    let (mut done, mut since_yield) = (frame::MAGIC.len().min(file.len()), 0);
    let persist = &sh.persist;
    persist.load_done.fetch_add(done as u64, Ordering::Relaxed);
    let mut logged = std::time::Instant::now();
    for (f, end) in frame::frames(file) {
        {
            let mut data = sh.data.borrow_mut();
            apply_records(sh, &mut data, &cfg, f.payload, tombstones, &mut stats);
        }
        persist
            .load_done
            .fetch_add((end - done) as u64, Ordering::Relaxed);
        since_yield += end - done;
        done = end;
        if since_yield >= SLICE {
            since_yield = 0;
            if sh.id == 0 && logged.elapsed().as_secs() >= 1 {
                logged = std::time::Instant::now();
                let total = persist.load_total.load(Ordering::Relaxed).max(1);
                let d = persist.load_done.load(Ordering::Relaxed);
                tracing::info!("Loading: {:.0}%", d as f64 * 100.0 / total as f64);
            }
            glommio::yield_if_needed().await;
        }
    }
    if stats.lost_ops > 0 {
        tracing::warn!(
            "shard {}: {} logged changes did not find the state they were made on",
            sh.id,
            stats.lost_ops
        );
    }
    tracing::debug!("shard {}: replayed {stats:?}", sh.id);
}

/// Replays a file's good part on this shard at once (DEBUG LOADAOF, under every lock).
pub fn all_now(sh: &Shard, file: &[u8]) {
    let cfg = sh.config();
    let tombstones = cfg.bool(crate::config::Opt::ActiveReplica);
    let mut stats = Stats::default();
    let mut data = sh.data.borrow_mut();
    for (f, _) in frame::frames(file) {
        apply_records(sh, &mut data, &cfg, f.payload, tombstones, &mut stats);
    }
}

/// Applies the records of `payload` that belong to this shard.
pub fn apply_records(
    sh: &Shard,
    data: &mut ShardData,
    cfg: &crate::config::Config,
    payload: &[u8],
    tombstones: bool,
    stats: &mut Stats,
) {
    for item in Reader::new(payload) {
        let Ok((r, _)) = item else {
            // The frame's CRC matched, so this is a bug, not damage: say so and go on.
            tracing::warn!("AOF: a frame holds a malformed record; skipping the rest of it");
            return;
        };
        if r.db >= data.store.dbs.len() {
            continue;
        }
        if r.tag != record::FLUSH && sh.nshards > 1 && sh.shard_of(r.key) != sh.id {
            continue;
        }
        data.clock.observe(r.stamp);
        if r.tag == record::OP {
            apply_op(data, cfg, &r, stats);
            continue;
        }
        let db = &mut data.store.dbs[r.db];
        if !crate::replication::shard::wins(&r, db) {
            stats.older += 1;
            continue;
        }
        match r.tag {
            record::PUT_STR | record::PUT => {
                let Ok(v) = record::value_of(&r, cfg) else {
                    tracing::warn!("AOF: a record's value does not decode");
                    continue;
                };
                let mut e = Entry::new(v, r.stamp);
                e.expire_at = r.expire_at;
                db.insert(r.key, e);
            }
            record::DEL => {
                db.remove(r.key);
                if tombstones {
                    db.restore_tombstone(r.key, r.stamp);
                }
            }
            _ => db.flush_before(r.stamp),
        }
        stats.applied += 1;
    }
}

/// An OP record: the command, run again on the key if the key holds the state it ran on.
fn apply_op(data: &mut ShardData, cfg: &crate::config::Config, r: &Record, stats: &mut Stats) {
    let db = &data.store.dbs[r.db];
    let (cur, entry) = db.stamp_of(r.key);
    if r.stamp <= cur {
        stats.older += 1;
        return;
    }
    if entry.map(|e| e.stamp) != Some(r.base) {
        stats.lost_ops += 1;
        return;
    }
    let Ok((buf, spans)) = record::op_args(r) else {
        stats.lost_ops += 1;
        return;
    };
    let args = Args::new(&buf, &spans);
    let Some(cmd) = crate::commands::lookup(args.get(0)) else {
        stats.lost_ops += 1;
        return;
    };
    // Time 0: nothing is expired, as nothing was when the command ran. The run's own
    // bookkeeping (changes since the last save, hits and misses) is not the load's.
    let (dirty, ks) = (data.dirty, data.ks);
    let mut reply = vec![];
    crate::shard::run_keyed(data, cfg, cmd, args, r.db, 2, 0, &mut reply);
    data.dirty = dirty;
    data.ks = ks;
    let db = &mut data.store.dbs[r.db];
    if let Some(e) = db.get(r.key, 0, &mut Default::default()) {
        e.stamp = r.stamp;
        db.set_expire(r.key, r.expire_at);
        stats.applied += 1;
    }
}
