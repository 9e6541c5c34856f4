//! Commands whose keys live on several shards, run atomically.
//!
//! The coordinator (the connection's shard) locks the command's keys on every shard involved,
//! in ascending shard order, each lock message carrying that shard's part of the work, and
//! releases them all at the end: strict two-phase locking, so no client can observe half of
//! the command, and the ordering means two coordinators can never deadlock. Only the keys
//! are locked (`shard::gate`): commands and other transactions on other keys run meanwhile.
//!
//! Commands with a [`Split`] are cut into per-shard sub-commands (an MSET of the keys each
//! shard owns) whose replies are merged. Any other keyed command is *gathered*: copies of its
//! keys are fetched under the locks, the command runs on a scratch store on the coordinator,
//! and every key it changed is written back to its owner, stamps and all.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::{join_all, keyed_fn, run_keyed, Shard, TxId};
use crate::commands::{Ctx, Kind, Split, COMMANDS};
use crate::config::Opt;
use crate::protocol::{Args, PackedArgs, Reply};
use crate::server::notify;
use crate::store::{Entry, KeyspaceStats, Store};
use crate::util::{cycles, now_ms};

/// Runs command `cmd` (whose keys span shards) and appends its reply to `out`. Inside a
/// transaction that already holds the shards' locks (`outer`, MULTI/EXEC), the command runs
/// under those and leaves them held.
pub async fn run(
    shard: &Rc<Shard>,
    outer: Option<TxId>,
    cmd: usize,
    args: Args<'_>,
    db: usize,
    resp: u8,
    out: &mut Vec<u8>,
) {
    let t0 = cycles::now();
    let start = out.len();
    let tx = Tx {
        id: outer.unwrap_or_else(|| shard.new_tx()),
        owned: outer.is_none(),
    };
    match COMMANDS[cmd].kind {
        Kind::Split(_, split) => run_split(shard, tx, cmd, split, args, db, resp, out).await,
        _ => run_gathered(shard, tx, cmd, args, db, resp, out).await,
    }
    let nanos = cycles::nanos(t0, cycles::now());
    let track = shard.config().bool(Opt::LatencyTracking);
    let err = (out.get(start) == Some(&b'-')).then(|| &out[start..]);
    shard
        .data
        .borrow_mut()
        .cmdstats
        .record(cmd, nanos, track, err);
}

/// Runs `cmd` with the given arguments on a shard's own data (no statistics: the coordinator
/// counts the command once).
/// Keyspace notifications for its keys are published here, as a single-shard write's are in
/// `Shard::execute`.
fn sub_command(sh: &Rc<Shard>, cmd: usize, args: &PackedArgs, db: usize, resp: u8) -> Vec<u8> {
    let cfg = sh.config();
    let mut out = Vec::new();
    let all = args.args(0, args.spans.len());
    let now = now_ms();
    let mut run = || {
        run_keyed(
            &mut sh.data.borrow_mut(),
            &cfg,
            cmd,
            all,
            db,
            resp,
            now,
            &mut out,
        )
    };
    let write = COMMANDS[cmd].is_write();
    let flags = if write { notify::enabled(&cfg) } else { 0 };
    if !write {
        run();
    } else {
        sh.captured(cmd, &all, db, now, || match flags {
            0 => run(),
            _ => notify::around_write(sh, flags, cmd, &all, db, now, run),
        });
    }
    out
}

/// The transaction a command runs in, and whether it is the command's own (released at its
/// end) or an enclosing EXEC's.
#[derive(Clone, Copy)]
struct Tx {
    id: TxId,
    owned: bool,
}

async fn unlock_all(shard: &Rc<Shard>, shards: impl Iterator<Item = usize> + Clone, tx: Tx) {
    if tx.owned {
        shard.unlock_all(shards, tx.id).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_split(
    shard: &Rc<Shard>,
    tx: Tx,
    cmd: usize,
    split: Split,
    args: Args<'_>,
    db: usize,
    resp: u8,
    out: &mut Vec<u8>,
) {
    let def = &COMMANDS[cmd];
    let pairs = matches!(split, Split::Mset | Split::Msetnx);
    if pairs && args.len().is_multiple_of(2) {
        return Reply::new(out, resp).error(crate::commands::arity_error(def.name));
    }
    // Per shard: the sub-command's arguments; per key position: (shard, index in its part).
    let mut parts: BTreeMap<usize, PackedArgs> = BTreeMap::new();
    let mut placement = Vec::new();
    for pos in def.key_positions(&args) {
        let s = shard.shard_of(args.get(pos));
        let part = parts.entry(s).or_insert_with(|| {
            let mut p = PackedArgs::default();
            p.push(std::iter::once(args.get(0)));
            p
        });
        placement.push((s, (part.spans.len() - 1) / if pairs { 2 } else { 1 }));
        if pairs {
            part.push([args.get(pos), args.get(pos + 1)].into_iter());
        } else {
            part.push(std::iter::once(args.get(pos)));
        }
    }
    let shards: Vec<usize> = parts.keys().copied().collect();
    let mut reply = Reply::new(out, resp);
    match split {
        Split::SumKeys | Split::Mget | Split::Mset => {
            let mut replies: HashMap<usize, Vec<u8>> = HashMap::new();
            let last = *shards.last().expect("a split command has keys");
            let mut last_released = false;
            for (s, part) in parts {
                let keys = part_keys(shard, &part, pairs);
                // Once the last shard's part is done the command has every lock it will take
                // and all its work is done, so that shard's keys can go at once (two-phase
                // locking still holds; it saves the unlock message). Not while writes are
                // captured: the replication unit and the log need every part held until the
                // whole unit is sent.
                let (early, id) = (tx.owned && s == last, tx.id);
                let (r, released) = shard
                    .lock_keys_and_run(s, tx.id, keys, move |sh| {
                        let r = sub_command(sh, cmd, &part, db, resp);
                        let release = early && !sh.repl.capture.get();
                        if release {
                            sh.gate.release(id);
                        }
                        (r, release)
                    })
                    .await;
                last_released |= released;
                replies.insert(s, r);
            }
            let held = shards
                .iter()
                .copied()
                .filter(|&s| !(last_released && s == last));
            unlock_all(shard, held, tx).await;
            match split {
                Split::SumKeys => {
                    let total: i64 = replies.values().map(|r| parse_int_reply(r)).sum();
                    reply.int(total);
                }
                Split::Mget => {
                    let split: HashMap<usize, Vec<&[u8]>> = replies
                        .iter()
                        .map(|(s, r)| (*s, split_array_reply(r)))
                        .collect();
                    reply.array(placement.len());
                    for (s, i) in placement {
                        reply.raw(split[&s][i]);
                    }
                }
                _ => reply.ok(),
            }
        }
        Split::Msetnx => {
            // Phase one: under the locks, does any key exist? Phase two: set them all.
            let mut existing = 0;
            for (&s, part) in &parts {
                let mut probe = PackedArgs::default();
                probe.push(std::iter::once(&b"exists"[..]));
                for i in (1..part.spans.len()).step_by(2) {
                    probe.push(std::iter::once(part.args(i, 1).get(0)));
                }
                let exists = crate::commands::lookup(b"exists").unwrap();
                let keys = part_keys(shard, part, true);
                let r = shard
                    .lock_keys_and_run(s, tx.id, keys, move |sh| {
                        sub_command(sh, exists, &probe, db, resp)
                    })
                    .await;
                existing += parse_int_reply(&r);
            }
            if existing == 0 {
                let mset = crate::commands::lookup(b"mset").unwrap();
                let futs: Vec<_> = parts
                    .into_iter()
                    .map(|(s, part)| {
                        shard.run_on(s, Some(tx.id), move |sh| {
                            sub_command(sh, mset, &part, db, resp)
                        })
                    })
                    .collect();
                join_all(futs).await;
            }
            unlock_all(shard, shards.iter().copied(), tx).await;
            reply.int((existing == 0) as i64);
        }
    }
}

/// A key's copy in every database of its shard, taken under the shard's lock.
type Fetched = Vec<(usize, Vec<u8>, Entry)>;

async fn run_gathered(
    shard: &Rc<Shard>,
    tx: Tx,
    cmd: usize,
    args: Args<'_>,
    db: usize,
    resp: u8,
    out: &mut Vec<u8>,
) {
    let def = &COMMANDS[cmd];
    let mut groups: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
    for pos in def.key_positions(&args) {
        let key = args.get(pos);
        let keys = groups.entry(shard.shard_of(key)).or_default();
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_vec());
        }
    }
    let mut fetched: HashMap<(usize, Vec<u8>), Entry> = HashMap::new();
    let mut owner: HashMap<Vec<u8>, usize> = HashMap::new();
    for (&s, keys) in &groups {
        for k in keys {
            owner.insert(k.clone(), s);
        }
        let hashes = keys.iter().map(|k| shard.key_hash(k)).collect();
        let keys = keys.clone();
        let got: Fetched = shard
            .lock_keys_and_run(s, tx.id, hashes, move |sh| {
                let now = now_ms();
                let mut data = sh.data.borrow_mut();
                let data = &mut *data;
                let mut got = vec![];
                for (i, d) in data.store.dbs.iter_mut().enumerate() {
                    for k in &keys {
                        if let Some(e) = d.get(k, now, &mut data.ks) {
                            got.push((i, k.clone(), e.clone()));
                        }
                    }
                }
                got
            })
            .await;
        for (d, k, e) in got {
            fetched.insert((d, k), e);
        }
    }

    // Run the command on a scratch store holding just these keys, with this shard's clock
    // raised past every stamp fetched so that the new writes win over them.
    let cfg = shard.config();
    let now = now_ms();
    let mut scratch = Store::new(cfg.databases());
    for ((d, k), e) in &fetched {
        scratch.dbs[*d].insert(k, e.clone());
    }
    let notify_flags = if def.is_write() {
        notify::enabled(&cfg)
    } else {
        0
    };
    let existed: Vec<bool> = def
        .key_positions(&args)
        .map(|p| fetched.contains_key(&(db, args.get(p).to_vec())))
        .collect();
    let dirty_before = shard.data.borrow().dirty;
    {
        let mut data = shard.data.borrow_mut();
        let data = &mut *data;
        for e in fetched.values() {
            data.clock.observe(e.stamp);
        }
        let mut ks = KeyspaceStats::default();
        let mut ctx = Ctx {
            dbs: &mut scratch.dbs,
            db,
            now_ms: now,
            ks: &mut ks,
            clock: &mut data.clock,
            dirty: &mut data.dirty,
            config: &cfg,
            out: Reply::new(out, resp),
        };
        keyed_fn(cmd)(&mut ctx, args);
        data.ks.keyspace_hits += ks.keyspace_hits;
        data.ks.keyspace_misses += ks.keyspace_misses;
    }

    // Keyspace events, published once the writes are back on their shards.
    let events = (notify_flags != 0 && shard.data.borrow().dirty != dirty_before).then(|| {
        let scratch_db = &scratch.dbs[db];
        notify::events_with(cmd, &args, db, &existed, |k| scratch_db.is_live(k, now))
    });

    // Write back what changed: (db, key, new entry or None for deleted) per owning shard.
    type Write = (usize, Vec<u8>, Option<Entry>);
    let mut writes: BTreeMap<usize, Vec<Write>> = BTreeMap::new();
    for (key, &s) in &owner {
        for (d, db_) in scratch.dbs.iter_mut().enumerate() {
            let before = fetched.get(&(d, key.clone()));
            let after = db_.get(key, now, &mut KeyspaceStats::default());
            let change = match (before, after) {
                (None, Some(a)) => Some(Some(a.clone())),
                (Some(b), Some(a)) if b.stamp != a.stamp || b.expire_at() != a.expire_at() => {
                    Some(Some(a.clone()))
                }
                (Some(_), None) => Some(None),
                _ => None,
            };
            if let Some(c) = change {
                writes.entry(s).or_default().push((d, key.clone(), c));
            }
        }
    }
    let futs: Vec<_> = writes
        .into_iter()
        .map(|(s, w)| {
            shard.run_on(s, Some(tx.id), move |sh| {
                for (d, k, _) in &w {
                    sh.before_write(*d, k);
                }
                let mut data = sh.data.borrow_mut();
                let mut written = vec![];
                for (d, k, e) in w {
                    data.dirty += 1;
                    match e {
                        Some(e) => {
                            data.clock.observe(e.stamp);
                            drop(data);
                            sh.capture_entry(d, &k, Some(&e), e.stamp);
                            data = sh.data.borrow_mut();
                            data.store.dbs[d].insert(&k, e);
                            written.push((d, k));
                        }
                        None => {
                            data.store.dbs[d].remove(&k);
                            let stamp = data.clock.next(now_ms());
                            drop(data);
                            sh.capture_entry(d, &k, None, stamp);
                            data = sh.data.borrow_mut();
                        }
                    }
                }
                drop(data);
                // Keys that got values may be what blocked clients wait for.
                for (d, k) in written {
                    sh.serve_blocked(d, std::iter::once(k.as_slice()));
                }
            })
        })
        .collect();
    join_all(futs).await;
    unlock_all(shard, groups.keys().copied(), tx).await;
    if let Some(events) = events {
        notify::publish(shard, notify_flags, events);
    }
}

/// The lock hashes of a sub-command's keys (`pairs`: its arguments are key-value pairs).
fn part_keys(shard: &Shard, part: &PackedArgs, pairs: bool) -> Vec<u64> {
    let step = if pairs { 2 } else { 1 };
    (1..part.spans.len())
        .step_by(step)
        .map(|i| shard.key_hash(part.args(i, 1).get(0)))
        .collect()
}

/// The integer of a `:n` reply (0 for anything else, e.g. an error).
fn parse_int_reply(r: &[u8]) -> i64 {
    r.strip_prefix(b":")
        .and_then(|t| t.strip_suffix(b"\r\n"))
        .and_then(crate::protocol::parse_i64)
        .unwrap_or(0)
}

/// Splits a flat array reply of bulk strings and nulls into its elements' raw bytes.
fn split_array_reply(r: &[u8]) -> Vec<&[u8]> {
    let line_end =
        |from: usize| from + r[from..].windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    let mut pos = line_end(0);
    let mut items = vec![];
    while pos < r.len() {
        let hdr_end = line_end(pos);
        let end = if r[pos] == b'$' {
            let n: i64 = std::str::from_utf8(&r[pos + 1..hdr_end - 2])
                .unwrap()
                .parse()
                .unwrap();
            if n < 0 {
                hdr_end
            } else {
                hdr_end + n as usize + 2
            }
        } else {
            hdr_end
        };
        items.push(&r[pos..end]);
        pos = end;
    }
    items
}
