//! Replication's part on each shard: capturing the keys a write changed as records, handing
//! them to the replication executor in batches, and merging records from peers by stamp.
//!
//! Capture works from the outside of a command: before a write runs, the stamps of the keys
//! it names are noted; after it, every key whose stamp, expiry or existence moved becomes one
//! record holding the key's whole new state. Commands need no replication code of their own.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::record::{self, Record, PUT, PUT_STR};
use crate::commands::{CommandDef, COMMANDS};
use crate::protocol::{parse_i64, Args};
use crate::shard::{Shard, TxId};
use crate::store::Entry;
use crate::util::now_ms;

/// A node's id as records and frames carry it.
pub type Origin = u128;

/// Records waiting to go to the replication executor, grouped in runs of one origin.
#[derive(Default)]
pub struct Outbox {
    pub segments: Vec<(Origin, Vec<u8>)>,
    pub bytes: usize,
}

impl Outbox {
    /// Appends records from `origin` with `write`.
    pub fn append<R>(&mut self, origin: Origin, write: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        if self.segments.last().is_none_or(|s| s.0 != origin) {
            self.segments.push((origin, Vec::with_capacity(256)));
        }
        let buf = &mut self.segments.last_mut().unwrap().1;
        let before = buf.len();
        let r = write(buf);
        self.bytes += buf.len() - before;
        r
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

/// Counters a shard keeps for INFO replication.
#[derive(Default, Clone, Copy, Debug)]
pub struct MergeStats {
    pub applied: u64,
    pub dropped_older: u64,
    /// OP records that met another base here (the key was asked for whole).
    pub refetched: u64,
}

/// Per-shard replication state.
pub struct ShardRepl {
    /// This node's id.
    pub me: Origin,
    /// Whether writes are captured: replication needs them (`replicating`) or the
    /// append-only log is on.
    pub capture: Cell<bool>,
    /// Whether replication needs the records (a replica or peer exists, or active
    /// replication is on): then turning the log off leaves capture on.
    pub replicating: Cell<bool>,
    /// A replica that is not active refuses clients' writes (`replica-read-only`).
    pub read_only: Cell<bool>,
    /// A plain replica with a master link down and `replica-serve-stale-data no`.
    pub stale: Cell<bool>,
    /// Whether writes may travel as OP records (not while a replica that is not Tandem is
    /// attached: it could not tell an OP already in its snapshot from a new one).
    pub ops: Cell<bool>,
    /// Keys whose whole value was asked of the masters (an OP arrived for another base).
    /// When each was asked for: a request whose answer never came (the link dropped) is
    /// made again after [`REFETCH_AFTER`].
    fetching: RefCell<std::collections::HashMap<(usize, Vec<u8>), std::time::Instant>>,
    pub out: RefCell<Outbox>,
    /// Records of the cross-shard commands and transactions holding locks on this shard,
    /// per transaction: each travels as one unit (see [`Shard::unlock_all`]).
    pub units: RefCell<Vec<(TxId, Outbox)>>,
    flush_scheduled: Cell<bool>,
    /// Batches handed to the replication executor so far (see WAIT).
    pub posted: Cell<u64>,
    /// `repl-batch-max-bytes`, as read when the current turn's flush was scheduled.
    batch_limit: Cell<usize>,
    /// Per master link (its id): what merging its records did.
    pub stats: RefCell<std::collections::HashMap<u64, MergeStats>>,
}

impl ShardRepl {
    pub fn new(me: Origin) -> Self {
        ShardRepl {
            me,
            capture: Cell::new(false),
            replicating: Cell::new(false),
            read_only: Cell::new(false),
            stale: Cell::new(false),
            ops: Cell::new(true),
            fetching: Default::default(),
            out: Default::default(),
            units: Default::default(),
            flush_scheduled: Cell::new(false),
            posted: Cell::new(0),
            batch_limit: Cell::new(usize::MAX),
            stats: Default::default(),
        }
    }
}

/// A key a write may change (db, key), and how it stood before: (stamp, expiry) if live.
type KeyBefore<'a> = (usize, &'a [u8], Option<(u64, u64)>);

/// The keys a write may change, as they stood before it.
pub struct Before<'a> {
    dirty: u64,
    keys: Vec<KeyBefore<'a>>,
    /// The command, when it may travel as an OP record.
    replay: Option<Args<'a>>,
}

/// How long an RFETCH may go unanswered before it is asked again.
const REFETCH_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// A value at least this large (bytes held) is worth sending as the command that changed it
/// rather than whole, when the command is much smaller.
const OP_MIN_VALUE_BYTES: usize = 512;

/// The (db, key) pairs a command can change: its keys in the client's db, and for MOVE and
/// COPY ... DB the key in the target db.
fn touched<'a>(def: &CommandDef, args: &Args<'a>, db: usize, mut f: impl FnMut(usize, &'a [u8])) {
    for p in def.key_positions(args) {
        f(db, args.get(p));
    }
    let target_db = |a: &[u8]| parse_i64(a).map(|n| n as usize);
    match def.name {
        "move" if args.len() == 3 => {
            if let Some(t) = target_db(args.get(2)) {
                f(t, args.get(1));
            }
        }
        "copy" => {
            let mut i = 3;
            while i + 1 < args.len() {
                if args.get(i).eq_ignore_ascii_case(b"db") {
                    if let Some(t) = target_db(args.get(i + 1)) {
                        f(t, args.get(2));
                    }
                }
                i += 1;
            }
        }
        _ => {}
    }
}

impl Shard {
    /// Runs `f`, a write of command `cmd`: every write goes through here. It lets a running
    /// snapshot copy what is about to change, and records what changed when capturing is on.
    pub fn captured<'a, R>(
        self: &Rc<Self>,
        cmd: usize,
        args: &Args<'a>,
        db: usize,
        now: u64,
        f: impl FnOnce() -> R,
    ) -> R {
        // A running snapshot keeps what the write is about to change (persistence).
        self.before_write_cmd(cmd, args, db);
        if !self.repl.capture.get() {
            return f();
        }
        let before = self.capture_before(cmd, args, db, now);
        let r = f();
        self.capture_after(before, now);
        r
    }

    /// Notes the state of the keys a write command names, before it runs.
    fn capture_before<'a>(&self, cmd: usize, args: &Args<'a>, db: usize, now: u64) -> Before<'a> {
        let data = self.data.borrow();
        let mut keys = Vec::with_capacity(2);
        touched(&COMMANDS[cmd], args, db, |d, k| {
            if self.nshards > 1 && self.shard_of(k) != self.id {
                return;
            }
            let before = data
                .store
                .dbs
                .get(d)
                .and_then(|x| x.peek(k))
                .filter(|e| !e.is_expired(now))
                .map(|e| (e.stamp, e.expire_at()));
            keys.push((d, k, before));
        });
        let replay = (COMMANDS[cmd].flags & crate::commands::flags::REPLAYABLE != 0
            && keys.len() == 1
            && self.repl.ops.get())
        .then_some(*args);
        Before {
            dirty: data.dirty,
            keys,
            replay,
        }
    }

    /// Turns what a write changed into records.
    fn capture_after(self: &Rc<Self>, before: Before, now: u64) {
        let mut data = self.data.borrow_mut();
        if data.dirty == before.dirty {
            return;
        }
        let data = &mut *data;
        self.record_from(self.repl.me, |buf| {
            for (d, k, was) in before.keys {
                let Some(db) = data.store.dbs.get_mut(d) else {
                    continue;
                };
                match (db.peek(k).filter(|e| !e.is_expired(now)), was) {
                    (Some(e), None) => record::put(buf, d, k, e),
                    (Some(e), Some((s, x))) if e.stamp != s || e.expire_at() != x => {
                        match before.replay.filter(|a| worth_replaying(a, e)) {
                            Some(a) => record::op(buf, d, k, e.stamp, e.expire_at(), s, &a),
                            None => record::put(buf, d, k, e),
                        }
                    }
                    (None, Some(_)) => {
                        let stamp = data.clock.last();
                        record::del(buf, d, k, stamp);
                        db.bury(k, stamp);
                    }
                    _ => {}
                }
            }
        });
    }

    /// Appends records with `write`: to the unit of the transaction holding this shard's
    /// lock if there is one, else to the outbox, which is then scheduled to go.
    fn record_from<R>(self: &Rc<Self>, origin: Origin, write: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        if let Some(tx) = self.gate.unit_owner() {
            let mut units = self.repl.units.borrow_mut();
            let unit = match units.iter().position(|(t, _)| *t == tx) {
                Some(i) => &mut units[i].1,
                None => {
                    units.push((tx, Outbox::default()));
                    &mut units.last_mut().unwrap().1
                }
            };
            return unit.append(origin, write);
        }
        let r = {
            let mut out = self.repl.out.borrow_mut();
            let before = out.bytes;
            let r = out.append(origin, write);
            // Persistence: the append-only log takes a copy of what was just appended.
            let added = out.bytes - before;
            let seg = &out.segments.last().expect("just appended").1;
            crate::persist::aof::tap(self, &seg[seg.len() - added..]);
            r
        };
        self.schedule_outbox();
        r
    }

    /// Records a write of `key` made outside a command (a cross-shard write-back): `e` is
    /// the new entry, None for a delete stamped `stamp`.
    pub fn capture_entry(self: &Rc<Self>, db: usize, key: &[u8], e: Option<&Entry>, stamp: u64) {
        if !self.repl.capture.get() {
            return;
        }
        self.record_from(self.repl.me, |buf| match e {
            Some(e) => record::put(buf, db, key, e),
            None => record::del(buf, db, key, stamp),
        });
        if e.is_none() {
            self.data.borrow_mut().store.dbs[db].bury(key, stamp);
        }
    }

    /// A stamp for a flush on this shard: every shard proposes one, and the flush takes the
    /// greatest (see [`Shard::capture_flush`]).
    pub fn propose_flush_stamp(&self) -> u64 {
        self.data.borrow_mut().clock.next(now_ms())
    }

    /// FLUSHDB/FLUSHALL of `db` at `stamp`, the one stamp all shards agreed on while holding
    /// their locks (so that every write after the flush, on any shard, is stamped later):
    /// older writes from peers stay hidden, and peers learn of it.
    pub fn capture_flush(self: &Rc<Self>, db: usize, stamp: u64) {
        {
            let mut data = self.data.borrow_mut();
            data.clock.observe(stamp);
            let d = &mut data.store.dbs[db];
            d.flushed_at = d.flushed_at.max(stamp);
        }
        if self.repl.capture.get() {
            self.record_from(self.repl.me, |buf| record::flush(buf, db, stamp));
        }
    }

    /// After SWAPDB (flushed at `stamp`, see [`Shard::capture_flush`]): to peers, each of
    /// these databases was flushed and every key it now holds written anew (restamped after
    /// the flush, so they win over what the peers held).
    pub fn capture_swapped(self: &Rc<Self>, dbs: &[usize], stamp: u64) {
        for &db in dbs {
            self.capture_flush(db, stamp);
            if !self.repl.capture.get() {
                continue;
            }
            let mut data = self.data.borrow_mut();
            let data = &mut *data;
            let now = now_ms();
            let mut keys = vec![];
            data.store.dbs[db].scan(None, usize::MAX, |k, _| keys.push(k.clone()));
            let d = &mut data.store.dbs[db];
            self.record_from(self.repl.me, |buf| {
                for k in keys {
                    d.before_write(&k);
                    if let Some(e) = d.get(&k, now, &mut Default::default()) {
                        e.stamp = data.clock.next(now);
                        record::put(buf, db, &k, e);
                    }
                }
            });
        }
    }

    /// Hands the outbox to the replication executor once the current turn of work is done
    /// (a whole pipeline's writes go as one message), or at once when it is large.
    fn schedule_outbox(self: &Rc<Self>) {
        if self.repl.flush_scheduled.replace(true) {
            if self.repl.out.borrow().bytes >= self.repl.batch_limit.get() {
                self.send_outbox();
            }
            return;
        }
        let limit = self.config().int(crate::config::Opt::ReplBatchMaxBytes) as usize;
        self.repl.batch_limit.set(limit);
        let me = self.clone();
        glommio::spawn_local(async move {
            futures_lite::future::yield_now().await;
            me.repl.flush_scheduled.set(false);
            me.send_outbox();
        })
        .detach();
    }

    /// Hands the outbox over now.
    pub fn send_outbox(self: &Rc<Self>) {
        // Persistence: the append-only log gets this turn's records too.
        crate::persist::aof::flush_shard(self);
        let out = std::mem::take(&mut *self.repl.out.borrow_mut());
        if out.segments.is_empty() {
            return;
        }
        let from = self.id;
        self.repl.posted.set(self.repl.posted.get() + 1);
        self.post(self.nshards, move |r| super::ingest(r, from, out.segments));
    }

    /// Merges records from a peer: each is applied only if newer than what the key holds
    /// (DESIGN §6.1), and what was applied goes on to this node's own replicas.
    pub fn apply_remote(self: &Rc<Self>, origin: Origin, records: &[u8], link: u64) {
        let cfg = self.config();
        let mut stats = MergeStats::default();
        // Keys that got values may be what blocked clients wait for.
        let wake = !self.blocking.is_idle();
        let mut woken: Vec<(usize, Vec<u8>)> = vec![];
        let forward = self.repl.capture.get();
        let mut forwarded = vec![];
        let mut fetch = vec![];
        {
            let mut data = self.data.borrow_mut();
            let data = &mut *data;
            for item in record::Reader::new(records) {
                let Ok((r, raw)) = item else {
                    tracing::warn!("replication: dropping a malformed record batch");
                    break;
                };
                if r.db >= data.store.dbs.len() {
                    continue;
                }
                data.clock.observe(r.stamp);
                if r.tag == record::OP {
                    match self.apply_op(data, &cfg, &r) {
                        OpResult::Applied => {
                            stats.applied += 1;
                            if forward {
                                let e = data.store.dbs[r.db].peek(r.key);
                                match (self.repl.ops.get(), e) {
                                    (true, _) => forwarded.extend_from_slice(raw),
                                    (false, Some(e)) => record::put(&mut forwarded, r.db, r.key, e),
                                    (false, None) => {
                                        record::del(&mut forwarded, r.db, r.key, r.stamp)
                                    }
                                }
                            }
                            if wake {
                                woken.push((r.db, r.key.to_vec()));
                            }
                        }
                        OpResult::Older => stats.dropped_older += 1,
                        OpResult::OtherBase => {
                            stats.refetched += 1;
                            let k = (r.db, r.key.to_vec());
                            let now = std::time::Instant::now();
                            let mut asked = self.repl.fetching.borrow_mut();
                            let due = asked
                                .get(&k)
                                .is_none_or(|t| now.duration_since(*t) >= REFETCH_AFTER);
                            if due {
                                asked.insert(k.clone(), now);
                                fetch.push(k);
                            }
                        }
                    }
                    continue;
                }
                let db = &mut data.store.dbs[r.db];
                if !wins(&r, db) {
                    stats.dropped_older += 1;
                    continue;
                }
                match r.tag {
                    PUT_STR | PUT => {
                        let Ok(v) = record::value_of(&r, &cfg) else {
                            tracing::warn!("replication: a record's value does not decode");
                            continue;
                        };
                        let mut e = Entry::new(v, r.stamp);
                        e.expire_at = r.expire_at;
                        db.before_write(r.key);
                        db.insert(r.key, e);
                        if wake {
                            woken.push((r.db, r.key.to_vec()));
                        }
                    }
                    record::DEL => {
                        db.before_write(r.key);
                        db.remove(r.key);
                        db.bury(r.key, r.stamp);
                    }
                    _ => db.flush_before(r.stamp),
                }
                data.dirty += 1;
                stats.applied += 1;
                if !self.repl.fetching.borrow().is_empty() {
                    self.repl
                        .fetching
                        .borrow_mut()
                        .remove(&(r.db, r.key.to_vec()));
                }
                if forward {
                    forwarded.extend_from_slice(raw);
                }
            }
        }
        {
            let mut all = self.repl.stats.borrow_mut();
            let st = all.entry(link).or_default();
            st.applied += stats.applied;
            st.dropped_older += stats.dropped_older;
            st.refetched += stats.refetched;
        }
        if !forwarded.is_empty() {
            self.record_from(origin, |buf| buf.extend_from_slice(&forwarded));
        }
        for (db, key) in woken {
            self.serve_blocked(db, std::iter::once(key.as_slice()));
        }
        if !fetch.is_empty() {
            self.post(self.nshards, move |r| {
                if let Some(node) = r.node.get() {
                    node.fetch_from_masters(fetch);
                }
            });
        }
    }

    /// Applies an OP record if the key is in the state the command was applied to.
    fn apply_op(
        &self,
        data: &mut crate::shard::ShardData,
        cfg: &crate::config::Config,
        r: &Record,
    ) -> OpResult {
        let now = now_ms();
        let db = &data.store.dbs[r.db];
        let (cur, _) = db.stamp_of(r.key);
        if r.stamp <= cur {
            return OpResult::Older;
        }
        let live = db
            .peek(r.key)
            .filter(|e| !e.is_expired(now))
            .map(|e| e.stamp);
        if live != Some(r.base) {
            return OpResult::OtherBase;
        }
        let Ok((buf, spans)) = record::op_args(r) else {
            return OpResult::Older;
        };
        let args = Args::new(&buf, &spans);
        let Some(cmd) = crate::commands::lookup(args.get(0)) else {
            tracing::warn!("replication: OP record with an unknown command");
            return OpResult::Older;
        };
        let mut reply = vec![];
        data.store.dbs[r.db].before_write(r.key);
        crate::shard::run_keyed(data, cfg, cmd, args, r.db, 2, now, &mut reply);
        let db = &mut data.store.dbs[r.db];
        if let Some(e) = db.get(r.key, now, &mut Default::default()) {
            e.stamp = r.stamp;
        }
        db.set_expire(r.key, r.expire_at);
        OpResult::Applied
    }

    /// Asks the masters again for every key still waiting for its whole value (after a link
    /// came back: a request sent just before it dropped got no answer).
    pub fn refetch_pending(self: &Rc<Self>) {
        let keys: Vec<(usize, Vec<u8>)> = self.repl.fetching.borrow().keys().cloned().collect();
        if keys.is_empty() {
            return;
        }
        self.post(self.nshards, move |r| {
            if let Some(node) = r.node.get() {
                node.fetch_from_masters(keys);
            }
        });
    }

    /// A master asked (RFETCH) for the whole state of a key: it goes out as a record.
    pub fn refetch(self: &Rc<Self>, db: usize, key: &[u8]) {
        let data = self.data.borrow();
        let Some(d) = data.store.dbs.get(db) else {
            return;
        };
        let (stamp, entry) = d.stamp_of(key);
        let entry = entry.cloned();
        drop(data);
        self.record_from(self.repl.me, |buf| match &entry {
            Some(e) => record::put(buf, db, key, e),
            None if stamp != 0 => record::del(buf, db, key, stamp),
            None => {}
        });
    }

    /// Releases this transaction's locks on `shards`. With replication on, the records the
    /// transaction left on them are first gathered and sent as one unit, which a receiving
    /// node applies atomically (MULTI/EXEC and cross-shard commands replicate as a whole).
    pub async fn unlock_all(
        self: &Rc<Self>,
        shards: impl IntoIterator<Item = usize> + Clone,
        tx: TxId,
    ) {
        if self.repl.capture.get() {
            let mut unit: Vec<(Origin, Vec<u8>)> = vec![];
            for s in shards.clone() {
                let part = self
                    .run_on(s, Some(tx), move |sh| {
                        // Persistence: the shard's earlier records go to the log first.
                        crate::persist::aof::flush_shard(sh);
                        let mut units = sh.repl.units.borrow_mut();
                        match units.iter().position(|(t, _)| *t == tx) {
                            Some(i) => units.swap_remove(i).1,
                            None => Outbox::default(),
                        }
                    })
                    .await;
                // One frame per origin: the unit must arrive whole.
                for (origin, records) in part.segments {
                    match unit.iter_mut().find(|(o, _)| *o == origin) {
                        Some((_, all)) => all.extend_from_slice(&records),
                        None => unit.push((origin, records)),
                    }
                }
            }
            if !unit.is_empty() {
                // Persistence: the unit is logged before its locks are released.
                crate::persist::aof::append_unit(self, &unit);
                let from = self.id;
                self.repl.posted.set(self.repl.posted.get() + 1);
                self.post(self.nshards, move |r| super::ingest_unit(r, from, unit));
            }
        }
        for s in shards {
            self.unlock(s, tx).await;
        }
    }
}

enum OpResult {
    Applied,
    Older,
    /// The key here is not in the state the command was applied to on its origin.
    OtherBase,
}

/// Whether sending `args` beats sending the value they produced.
fn worth_replaying(args: &Args, e: &Entry) -> bool {
    let size = e.value.heap_size();
    let arg_bytes: usize = args.iter().map(|a| a.len() + 2).sum();
    size >= OP_MIN_VALUE_BYTES && arg_bytes * 4 <= size
}

/// Whether record `r` is newer than what `db` holds for its key. Equal stamps (two nodes
/// writing one key in the same instant) are settled the same way on every node: a delete
/// wins, and between two values the greater encoding.
pub(crate) fn wins(r: &Record, db: &crate::store::Db) -> bool {
    if r.tag == record::FLUSH {
        return r.stamp > db.flushed_at;
    }
    let (cur, entry) = db.stamp_of(r.key);
    if r.stamp != cur {
        return r.stamp > cur;
    }
    match entry {
        // Never seen (stamp 0 both: a file without stamps).
        None => cur == 0 && r.is_put(),
        Some(_) if r.tag == record::DEL => true,
        Some(e) => {
            let mut buf = vec![];
            record::put(&mut buf, r.db, r.key, e);
            let held = record::Reader::new(&buf).next().and_then(|x| x.ok());
            held.is_some_and(|(h, _)| (r.expire_at, r.tag, r.value) > (h.expire_at, h.tag, h.value))
        }
    }
}
