//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Between MULTI and EXEC a connection only queues commands. EXEC runs the queue atomically:
//! - When every queued command is keyed and all of them (and every watched key) live on one
//!   shard, the whole queue runs there in one step, with nothing else interleaved (the fast
//!   path: one message for a remote shard, none for the connection's own).
//! - Otherwise EXEC takes the locks of every shard involved (all of them when a queued
//!   command works on the whole keyspace, such as FLUSHDB or DBSIZE) in ascending order,
//!   checks the watched keys, runs the commands one by one under those locks, and releases
//!   them: strict two-phase locking, as cross-shard commands do (`shard::coord`).
//!
//! WATCH: every write gives its key a new stamp (DESIGN §5), so a key has changed since WATCH
//! when its stamp differs. Creation and removal are counted too: the owning shard keeps a
//! version per watched key that moves whenever such a key is created or removed (a key
//! created and deleted again between WATCH and EXEC leaves no stamp to compare). The
//! watchers are released when the connection unwatches, runs EXEC or DISCARD, resets or goes.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::conn::{route, ConnState, RemoteBatch};
use crate::commands::{self, flags, ConnCmd, Kind, COMMANDS};
use crate::protocol::{Args, PackedArgs};
use crate::shard::{coord, Shard};
use crate::store::KeyspaceStats;
use crate::util::{eq_ic, now_ms};

/// Commands queued since MULTI.
#[derive(Default)]
pub struct Multi {
    pub queued: RemoteBatch,
    /// A command was refused while queuing: EXEC must answer EXECABORT.
    pub failed: bool,
}

/// A watched key and what it was when watched: its stamp (None: it did not exist) and its
/// creation/removal version on its shard.
pub struct Watched {
    db: usize,
    key: Vec<u8>,
    state: KeyState,
}

/// A key's stamp (None when missing) and its watch version.
type KeyState = (Option<u64>, u64);

/// Whether `args` (a command that passed admission) is queued rather than run, inside MULTI.
pub fn queues(st: &ConnState, args: &Args) -> bool {
    if st.multi.is_none() {
        return false;
    }
    let name = args.get(0);
    !["exec", "discard", "multi", "watch", "quit", "reset"]
        .iter()
        .any(|n| eq_ic(name, n))
}

/// Queues a command inside MULTI and writes its reply (+QUEUED or a refusal).
pub fn queue(st: &mut ConnState, idx: usize, args: &Args, out: &mut Vec<u8>) {
    let def = &COMMANDS[idx];
    let multi = st.multi.as_mut().expect("inside MULTI");
    if def.flags & flags::NO_MULTI != 0 {
        multi.failed = true;
        return st
            .reply(out)
            .error("ERR Command not allowed inside a transaction");
    }
    let first = multi.queued.args.push(args.iter());
    multi
        .queued
        .cmds
        .push((idx as u16, first as u32, args.len() as u32));
    st.client.multi.set(multi.queued.cmds.len() as i64);
    st.reply(out).simple("QUEUED");
}

/// A command refused by admission while in MULTI makes EXEC fail.
pub fn refused(st: &mut ConnState) {
    if let Some(m) = st.multi.as_mut() {
        m.failed = true;
    }
}

pub async fn run(which: ConnCmd, st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    match which {
        ConnCmd::Multi => {
            if st.multi.is_some() {
                return st.reply(out).error("ERR MULTI calls can not be nested");
            }
            st.multi = Some(Multi::default());
            st.client.multi.set(0);
            st.reply(out).ok();
        }
        ConnCmd::Discard => {
            if st.multi.is_none() {
                return st.reply(out).error("ERR DISCARD without MULTI");
            }
            reset(st);
            st.reply(out).ok();
        }
        ConnCmd::Watch => {
            if st.multi.is_some() {
                return st.reply(out).error("ERR WATCH inside MULTI is not allowed");
            }
            watch(st, &args).await;
            st.reply(out).ok();
        }
        ConnCmd::Unwatch => {
            unwatch_all(st);
            st.reply(out).ok();
        }
        ConnCmd::Exec => exec(st, out).await,
        _ => unreachable!("not a transaction command"),
    }
}

/// Leaves MULTI and forgets the watched keys (DISCARD, EXEC, RESET).
pub fn reset(st: &mut ConnState) {
    st.multi = None;
    unwatch_all(st);
    st.client.multi.set(-1);
}

/// Forgets the watched keys, releasing their watchers on their shards (in the background:
/// nothing waits for it, and a later WATCH of the same key only adds a watcher).
pub fn unwatch_all(st: &mut ConnState) {
    if st.watched.is_empty() {
        return;
    }
    let shard = st.shard.clone();
    let mut by_shard: std::collections::BTreeMap<usize, Vec<DbKey>> = Default::default();
    for w in st.watched.drain(..) {
        by_shard
            .entry(shard.shard_of(&w.key))
            .or_default()
            .push((w.db, w.key));
    }
    glommio::spawn_local(async move {
        for (s, keys) in by_shard {
            shard
                .run_on(s, None, move |sh| {
                    let mut data = sh.data.borrow_mut();
                    for (db, k) in &keys {
                        data.store.dbs[*db].unwatch(k);
                    }
                })
                .await;
        }
    })
    .detach();
}

/// The state of some keys of one shard, as they are now (stamp None: missing or expired).
fn stamps(sh: &Shard, keys: &[DbKey]) -> Vec<KeyState> {
    let mut data = sh.data.borrow_mut();
    let now = now_ms();
    let mut ks = KeyspaceStats::default();
    keys.iter()
        .map(|(db, k)| {
            let d = &mut data.store.dbs[*db];
            let stamp = d.get(k, now, &mut ks).map(|e| e.stamp);
            (stamp, d.watch_version(k))
        })
        .collect()
}

async fn watch(st: &mut ConnState, args: &Args<'_>) {
    let shard = st.shard.clone();
    for i in 1..args.len() {
        let key = args.get(i);
        if st.watched.iter().any(|w| w.db == st.db && w.key == key) {
            continue;
        }
        let owner = shard.shard_of(key);
        let (db, k) = (st.db, key.to_vec());
        let state = shard
            .run_on(owner, None, move |sh| {
                // Register first: an expiry removing the key now counts as a change.
                sh.data.borrow_mut().store.dbs[db].watch(&k);
                stamps(sh, &[(db, k)])[0]
            })
            .await;
        st.watched.push(Watched {
            db: st.db,
            key: key.to_vec(),
            state,
        });
    }
}

/// A db and key.
type DbKey = (usize, Vec<u8>);

/// The watched keys that live on shard `s`, and their states when watched.
fn watched_on(st: &ConnState, s: usize) -> (Vec<DbKey>, Vec<KeyState>) {
    st.watched
        .iter()
        .filter(|w| st.shard.shard_of(&w.key) == s)
        .map(|w| ((w.db, w.key.clone()), w.state))
        .unzip()
}

async fn exec(st: &mut ConnState, out: &mut Vec<u8>) {
    let Some(multi) = st.multi.take() else {
        return st.reply(out).error("ERR EXEC without MULTI");
    };
    if multi.failed {
        reset(st);
        return st
            .reply(out)
            .error("EXECABORT Transaction discarded because of previous errors.");
    }
    let batch = multi.queued;
    let shard = st.shard.clone();
    let n = batch.cmds.len();

    // Where each command runs: Some(shard) for a keyed command on one shard.
    let targets: Vec<Option<usize>> = batch
        .cmds
        .iter()
        .map(|&(idx, first, len)| {
            let def = &COMMANDS[idx as usize];
            match def.kind {
                Kind::Conn(_) => None,
                _ => route(&shard, def, &batch.args.args(first as usize, len as usize)),
            }
        })
        .collect();
    let watch_shards: BTreeSet<usize> = st.watched.iter().map(|w| shard.shard_of(&w.key)).collect();
    let single = match targets.first().copied().flatten() {
        Some(s)
            if targets.iter().all(|t| *t == Some(s)) && watch_shards.iter().all(|&w| w == s) =>
        {
            Some(s)
        }
        None if n == 0 && watch_shards.len() <= 1 => {
            Some(watch_shards.first().copied().unwrap_or(shard.id))
        }
        _ => None,
    };
    // The keys to lock when every command names its keys (`key_locks`, per shard, by
    // `Shard::key_hash`; the watched keys too; None: whole shards), and the shards involved.
    let mut involved: BTreeSet<usize> = watch_shards;
    let mut key_locks: Option<BTreeMap<usize, Vec<u64>>> = Some(BTreeMap::new());
    let lock_key = |locks: &mut Option<BTreeMap<usize, Vec<u64>>>, key: &[u8]| {
        let s = shard.shard_of(key);
        if let Some(by_shard) = locks {
            by_shard.entry(s).or_default().push(shard.key_hash(key));
        }
        s
    };
    for w in &st.watched {
        lock_key(&mut key_locks, &w.key);
    }
    let mut keyspace_wide = false;
    for (i, &(idx, first, len)) in batch.cmds.iter().enumerate() {
        let def = &COMMANDS[idx as usize];
        match def.kind {
            Kind::Conn(c) => {
                keyspace_wide |= touches_keyspace(c);
                if !touches_no_keys(c) {
                    key_locks = None;
                }
            }
            _ => {
                let args = batch.args.args(first as usize, len as usize);
                let mut named = false;
                for p in def.key_positions(&args) {
                    involved.insert(lock_key(&mut key_locks, args.get(p)));
                    named = true;
                }
                if !named {
                    // Where a command without keys runs; what it touches is not known.
                    involved.extend(targets[i]);
                    key_locks = None;
                }
            }
        }
    }
    if keyspace_wide {
        involved.extend(0..shard.nshards);
    }
    let (db, resp) = (st.db, st.resp);
    if let Some(s) = single {
        let (keys, then) = watched_on(st, s);
        // When every command names its keys, the transaction waits only for those (and the
        // watched ones): cross-shard transactions holding other keys of the shard do not
        // hold it up. It runs in one go on the shard, so it needs no lock of its own.
        let hashes = key_locks.map(|mut by_shard| by_shard.remove(&s).unwrap_or_default());
        let run = move |sh: &Rc<Shard>| {
            if stamps(sh, &keys) != then {
                return None;
            }
            Some(sh.execute_batch(&batch, db, resp).0)
        };
        let replies = match hashes {
            Some(hashes) => shard.run_on_keys(s, hashes, run).await,
            None => shard.run_on(s, None, run).await,
        };
        unwatch_all(st);
        st.client.multi.set(-1);
        match replies {
            None => st.reply(out).null_array(),
            Some(r) => {
                st.reply(out).array(n);
                out.extend_from_slice(&r);
            }
        }
        return;
    }

    // The general path: lock every shard involved, in ascending order.
    let tx = shard.new_tx();
    let mut changed = false;
    for &s in &involved {
        let (keys, then) = watched_on(st, s);
        let check = move |sh: &Rc<Shard>| stamps(sh, &keys) != then;
        changed |= match &key_locks {
            Some(by_shard) => {
                let hashes = by_shard.get(&s).cloned().unwrap_or_default();
                shard.lock_keys_and_run(s, tx, hashes, check).await
            }
            None => shard.lock_and_run(s, tx, check).await,
        };
    }
    unwatch_all(st);
    st.client.multi.set(-1);
    if changed {
        unlock(&shard, &involved, tx).await;
        return st.reply(out).null_array();
    }
    st.reply(out).array(n);
    st.tx = Some(tx);
    for (i, &(idx, first, len)) in batch.cmds.iter().enumerate() {
        let cmd = idx as usize;
        let args = batch.args.args(first as usize, len as usize);
        match (COMMANDS[cmd].kind, targets[i]) {
            (Kind::Conn(which), _) => {
                Box::pin(commands::server::run(which, st, args, out)).await;
            }
            (_, Some(s)) if s == shard.id => {
                let cfg = shard.config();
                let (db, resp) = (st.db, st.resp);
                shard.gate.run_as(Some(tx), || {
                    shard.execute(&cfg, cmd, args, db, resp, now_ms(), out)
                });
            }
            (_, Some(s)) => {
                let mut one = PackedArgs::default();
                one.push(args.iter());
                let (db, resp) = (st.db, st.resp);
                let r = shard
                    .run_on(s, Some(tx), move |sh| {
                        let cfg = sh.config();
                        let mut r = Vec::new();
                        let args = one.args(0, one.spans.len());
                        sh.execute(&cfg, cmd, args, db, resp, now_ms(), &mut r);
                        r
                    })
                    .await;
                out.extend_from_slice(&r);
            }
            (_, None) => coord::run(&shard, Some(tx), cmd, args, st.db, st.resp, out).await,
        }
    }
    st.tx = None;
    unlock(&shard, &involved, tx).await;
}

async fn unlock(shard: &Rc<Shard>, shards: &BTreeSet<usize>, tx: u64) {
    shard.unlock_all(shards.iter().copied(), tx).await;
}

/// Connection commands that touch no key, which EXEC may run under key locks (SELECT only
/// changes which database the next commands use; keys are locked whatever their database).
fn touches_no_keys(c: ConnCmd) -> bool {
    use ConnCmd::*;
    matches!(c, Ping | Echo | Time | Select | Publish | Spublish)
}

/// Connection commands that read or change the whole keyspace: inside EXEC they need every
/// shard's lock.
fn touches_keyspace(c: ConnCmd) -> bool {
    use ConnCmd::*;
    matches!(
        c,
        Swapdb
            | Dbsize
            | Flushdb
            | Flushall
            | Keys
            | Scan
            | Randomkey
            | Debug
            | Info
            | Sort
            | SortRo
    )
}
