//! A shard: one core's slice of the keyspace and the messaging that links it to the others.
//!
//! Shards share nothing. A shard reaches another only by sending it a closure to run on its
//! state ([`Shard::run_on`]); the answer comes back as a message. Cross-shard atomicity is
//! locks on keys (or on whole shards) taken in ascending shard order (strict two-phase
//! locking; see [`gate`] and `coord`), which single-shard commands never touch beyond a check
//! of three `Cell`s while nothing is locked.

pub mod coord;
pub mod gate;
pub mod oneshot;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use glommio::channels::channel_mesh::{Receivers, Senders};

use crate::commands::{Ctx, Kind, COMMANDS};
use crate::config::{Config, Opt};
use crate::persist::Persistence;
use crate::protocol::{Args, Reply};
use crate::server::clients::ClientRegistry;
use crate::server::conn::RemoteBatch;
use crate::server::notify;
use crate::server::stats::CommandStats;
use crate::store::{Hlc, KeyspaceStats, Store};
use crate::util::{cycles, now_ms};

pub use gate::{Gate, UNGATED};

/// A transaction id: who holds a shard's lock during a cross-shard command.
pub type TxId = u64;

/// What a pipelined command gives `Shard::prefetch_keys`: its key and the two arguments after
/// it (where a hash field or sorted-set member sits).
pub type PrefetchItem<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a [u8]>);

/// Work sent to a shard, and its answer.
pub type Job = Box<dyn FnOnce(&Rc<Shard>) -> Box<dyn Any + Send> + Send>;
pub type Answer = Box<dyn Any + Send>;

pub enum Msg {
    /// Run `job` on the receiving shard (under `tx`'s lock if `tx` is set and holds it).
    Run {
        from: usize,
        req: u64,
        tx: Option<TxId>,
        job: Job,
    },
    /// Take the receiving shard's lock for `tx` (the keys `keys` by their
    /// [`Shard::key_hash`], or the whole shard if None), then run `job` under it.
    Lock {
        from: usize,
        req: u64,
        tx: TxId,
        keys: Option<Vec<u64>>,
        job: Job,
    },
    /// Run `job` once none of the keys `keys` (by [`Shard::key_hash`]) is locked: keyed work
    /// that, unlike `Run`, locks on other keys do not hold up.
    RunKeyed {
        from: usize,
        req: u64,
        keys: Vec<u64>,
        job: Job,
    },
    /// Run a connection's batch of single-shard commands (see `server::conn`), once none of
    /// its keys is locked.
    Batch {
        from: usize,
        req: u64,
        batch: RemoteBatch,
        db: usize,
        resp: u8,
    },
    /// Run `job` on the receiving shard like `Run`, with no answer (one-way hand-offs such as
    /// replication batches).
    Post {
        job: Job,
    },
    Unlock {
        tx: TxId,
    },
    Answer {
        req: u64,
        answer: Answer,
    },
}

impl ShardData {
    /// Counts a command that ran for `nanos` (INFO commandstats, latency histograms) and
    /// keeps it in the slow log if it was slow; `client` names who sent it, if known.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn command_ran(
        &mut self,
        (shard, nshards): (usize, usize),
        cfg: &Config,
        cmd: usize,
        args: &Args,
        nanos: u64,
        error: Option<&[u8]>,
        client: impl FnOnce() -> (String, String),
    ) {
        let slot = crate::commands::stat_slot(cmd, args);
        let track = cfg.bool(Opt::LatencyTracking);
        self.cmdstats.record(slot, nanos, track, error);
        let threshold = cfg.int(Opt::SlowlogLogSlowerThan);
        if threshold >= 0 && nanos / 1000 >= threshold as u64 {
            let max_len = cfg.int(Opt::SlowlogMaxLen) as usize;
            (self.slowlog).record((shard, nshards), max_len, nanos / 1000, args, client());
        }
    }
}

/// The state a shard's commands work on. Borrowed only between awaits.
pub struct ShardData {
    pub store: Store,
    pub clock: Hlc,
    pub ks: KeyspaceStats,
    /// Writes since the last save (`rdb_changes_since_last_save`).
    pub dirty: u64,
    pub cmdstats: CommandStats,
    pub slowlog: crate::server::stats::SlowLog,
    /// The running snapshot's shard-wide state, if one is running (see `persist::save`).
    pub snapshot: Option<crate::persist::save::ShardSnapshot>,
    /// `dirty` when the running snapshot began: a successful save takes it off.
    pub dirty_at_snapshot: u64,
}

pub struct Shard {
    pub id: usize,
    pub nshards: usize,
    pub data: RefCell<ShardData>,
    pub config: RefCell<Rc<Config>>,
    pub clients: RefCell<ClientRegistry>,
    pub gate: Gate,
    senders: Senders<Msg>,
    pending: RefCell<HashMap<u64, oneshot::Sender<Answer>>>,
    next_req: Cell<u64>,
    next_tx: Cell<u64>,
    /// Fixed-seed hasher for routing keys to shards; the same on every shard.
    router: ahash::RandomState,
    /// Set by SHUTDOWN; every shard's accept loop watches it.
    pub shutting_down: Cell<bool>,
    pub started: std::time::Instant,
    pub run_id: Rc<str>,
    pub counters: RefCell<Counters>,
    pub monitors: crate::server::monitor::Monitors,
    pub pubsub: crate::server::pubsub::Registry,
    pub blocking: crate::server::blocking::Registry,
    /// The time as of the last background cycle (1000/hz ms): fine enough for idle times,
    /// and free to read on every request.
    pub coarse_now: Cell<std::time::Instant>,
    pub repl: crate::replication::shard::ShardRepl,
    /// Set only on the replication executor's member of the mesh.
    pub node: std::cell::OnceCell<Rc<crate::replication::Node>>,
    /// Whether a snapshot of this shard is running: the one check every write pays for it
    /// (see [`Shard::before_write`]).
    pub snapshotting: Cell<bool>,
    /// The low-priority task queue snapshots are written from, made on first use.
    pub snapshot_queue: Cell<Option<glommio::TaskQueueHandle>>,
    /// The connection a command runs for, while a connection runs one of its commands on
    /// its own shard: the slow log names it.
    pub running_for: Cell<Option<u64>>,
    /// Records made since this shard last handed them to the append-only log.
    pub aof: crate::persist::aof::ShardLog,
    /// Saves, loads and the append-only log: the one handle every shard shares.
    pub persist: Arc<Persistence>,
}

/// Per-shard connection and traffic counters for INFO stats.
#[derive(Default, Clone, Debug)]
pub struct Counters {
    pub connections_received: u64,
    pub rejected_connections: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub reads_processed: u64,
    pub writes_processed: u64,
    /// (milliseconds, total commands) samples for instantaneous_ops_per_sec.
    pub ops_samples: std::collections::VecDeque<(u64, u64)>,
    pub active_expire: bool,
}

impl Counters {
    pub fn ops_per_sec(&self) -> u64 {
        match (self.ops_samples.front(), self.ops_samples.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => b.1.saturating_sub(a.1) * 1000 / (b.0 - a.0),
            _ => 0,
        }
    }
}

/// Routing hasher seeds: arbitrary constants, fixed so routing is stable in a process.
const ROUTE_SEEDS: [u64; 4] = [
    0x5441_4e44_454d_0001,
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
];

/// The part of a key that decides its shard: Redis Cluster's hash tag rule.
#[inline]
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

impl Shard {
    pub fn new(
        id: usize,
        nshards: usize,
        config: Rc<Config>,
        senders: Senders<Msg>,
        run_id: Rc<str>,
        node_id: uuid::Uuid,
        persist: Arc<Persistence>,
    ) -> Rc<Shard> {
        let databases = config.databases();
        // An active replica captures writes and keeps tombstones from its first command on
        // (the replication executor would turn this on too, but only once it runs).
        let active = config.bool(Opt::ActiveReplica);
        let mut store = Store::new(databases);
        for db in store.dbs.iter_mut() {
            db.keep_tombstones = active;
        }
        let repl = crate::replication::shard::ShardRepl::new(node_id.as_u128());
        repl.capture.set(active);
        repl.replicating.set(active);
        Rc::new(Shard {
            id,
            nshards,
            data: RefCell::new(ShardData {
                store,
                clock: Hlc::with_offset(config.int(Opt::StampClockOffsetMs)),
                ks: KeyspaceStats::default(),
                dirty: 0,
                cmdstats: CommandStats::default(),
                slowlog: Default::default(),
                snapshot: None,
                dirty_at_snapshot: 0,
            }),
            config: RefCell::new(config),
            clients: RefCell::new(ClientRegistry::default()),
            gate: Gate::default(),
            senders,
            pending: RefCell::new(HashMap::new()),
            next_req: Cell::new(1),
            next_tx: Cell::new(1),
            router: ahash::RandomState::with_seeds(
                ROUTE_SEEDS[0],
                ROUTE_SEEDS[1],
                ROUTE_SEEDS[2],
                ROUTE_SEEDS[3],
            ),
            shutting_down: Cell::new(false),
            started: std::time::Instant::now(),
            run_id,
            counters: RefCell::new(Counters {
                active_expire: true,
                ..Default::default()
            }),
            monitors: Default::default(),
            pubsub: Default::default(),
            blocking: Default::default(),
            coarse_now: Cell::new(std::time::Instant::now()),
            repl,
            node: Default::default(),
            snapshotting: Cell::new(false),
            snapshot_queue: Cell::new(None),
            running_for: Cell::new(None),
            aof: Default::default(),
            persist,
        })
    }

    /// The pre-write hook of snapshots: call it before a write changes `key` in database
    /// `db` of this shard (every key of every write command, on every path that writes:
    /// [`Shard::execute`], blocked clients served, `coord`'s per-shard parts and write-backs,
    /// SORT's STORE). While a snapshot runs and has yet to write the key, it keeps a copy of
    /// the key as it is; otherwise it costs one `Cell` check. Removals by expiry need no call
    /// (the table handles them), and keyspace-wide writes hand whole databases to the
    /// snapshot instead ([`ShardData::flush_db`]).
    #[inline]
    pub fn before_write(&self, db: usize, key: &[u8]) {
        if self.snapshotting.get() {
            self.data.borrow_mut().store.dbs[db].before_write(key);
        }
    }

    /// [`Shard::before_write`] for every key a write command is about to change. COPY and
    /// MOVE also name a database in their arguments: their keys are covered in every one.
    #[inline]
    pub fn before_write_cmd(&self, cmd: usize, args: &Args, db: usize) {
        if !self.snapshotting.get() {
            return;
        }
        let def = &COMMANDS[cmd];
        let other_dbs = matches!(def.name, "copy" | "move");
        for p in def.key_positions(args) {
            let key = args.get(p);
            if other_dbs {
                let n = self.data.borrow().store.dbs.len();
                (0..n).for_each(|d| self.before_write(d, key));
            } else {
                self.before_write(db, key);
            }
        }
    }

    /// The shard that owns `key`.
    #[inline]
    pub fn shard_of(&self, key: &[u8]) -> usize {
        if self.nshards == 1 {
            return 0;
        }
        (self.router.hash_one(hash_tag(key)) % self.nshards as u64) as usize
    }

    pub fn config(&self) -> Rc<Config> {
        self.config.borrow().clone()
    }

    pub fn new_tx(&self) -> TxId {
        let n = self.next_tx.get();
        self.next_tx.set(n + 1);
        (n << 16) | self.id as u64
    }

    fn register(&self) -> (u64, oneshot::Receiver<Answer>) {
        let req = self.next_req.get();
        self.next_req.set(req + 1);
        let (tx, rx) = oneshot::channel();
        self.pending.borrow_mut().insert(req, tx);
        (req, rx)
    }

    async fn send(&self, to: usize, msg: Msg) {
        if let Err(e) = self.senders.send_to(to, msg).await {
            // Only at shutdown, when a peer's receiver is gone.
            tracing::debug!("shard {} could not reach shard {to}: {e:?}", self.id);
        }
    }

    /// Runs `f` on shard `to` (here, if `to` is this shard) and returns its result. Waits for
    /// the target's lock unless `tx` holds it.
    pub async fn run_on<T: Send + 'static>(
        self: &Rc<Self>,
        to: usize,
        tx: Option<TxId>,
        f: impl FnOnce(&Rc<Shard>) -> T + Send + 'static,
    ) -> T {
        if to == self.id {
            self.gate.wait_free(tx).await;
            return self.gate.run_as(tx, || f(self));
        }
        self.request(to, f, |from, req, job| Msg::Run { from, req, tx, job })
            .await
    }

    /// Runs `f` on shard `to` (here, if `to` is this shard) once none of the keys `keys` (by
    /// [`Shard::key_hash`]) is locked, and returns its result. For work that touches only
    /// those keys: it does not wait for transactions holding other keys, as `run_on` must.
    pub async fn run_on_keys<T: Send + 'static>(
        self: &Rc<Self>,
        to: usize,
        keys: Vec<u64>,
        f: impl FnOnce(&Rc<Shard>) -> T + Send + 'static,
    ) -> T {
        if to == self.id {
            if let Err(keys) = self.gate.keys_free(|| keys) {
                self.gate.wait_keys_free(&keys).await;
            }
            return f(self);
        }
        self.request(to, f, |from, req, job| Msg::RunKeyed {
            from,
            req,
            keys,
            job,
        })
        .await
    }

    /// Takes shard `to`'s whole lock for `tx` and runs `f` under it, in one round trip.
    pub async fn lock_and_run<T: Send + 'static>(
        self: &Rc<Self>,
        to: usize,
        tx: TxId,
        f: impl FnOnce(&Rc<Shard>) -> T + Send + 'static,
    ) -> T {
        self.lock_some_and_run(to, tx, None, f).await
    }

    /// Locks keys on shard `to` for `tx` (by their [`Shard::key_hash`]) and runs `f` under
    /// the locks, in one round trip. Other keys stay free for everyone else.
    pub async fn lock_keys_and_run<T: Send + 'static>(
        self: &Rc<Self>,
        to: usize,
        tx: TxId,
        keys: Vec<u64>,
        f: impl FnOnce(&Rc<Shard>) -> T + Send + 'static,
    ) -> T {
        self.lock_some_and_run(to, tx, Some(keys), f).await
    }

    async fn lock_some_and_run<T: Send + 'static>(
        self: &Rc<Self>,
        to: usize,
        tx: TxId,
        keys: Option<Vec<u64>>,
        f: impl FnOnce(&Rc<Shard>) -> T + Send + 'static,
    ) -> T {
        if to == self.id {
            self.gate.lock(tx, keys.as_deref()).await;
            return self.gate.run_as(Some(tx), || f(self));
        }
        self.request(to, f, |from, req, job| Msg::Lock {
            from,
            req,
            tx,
            keys,
            job,
        })
        .await
    }

    /// Runs a connection's batch of commands on shard `to` (another shard), once none of
    /// their keys is locked; returns the replies and where each ends.
    pub async fn run_batch_on(
        self: &Rc<Self>,
        to: usize,
        batch: RemoteBatch,
        db: usize,
        resp: u8,
    ) -> (Vec<u8>, Vec<u32>) {
        self.ask(to, |from, req| Msg::Batch {
            from,
            req,
            batch,
            db,
            resp,
        })
        .await
    }

    /// The hash a key is locked by (the same on every shard).
    #[inline]
    pub fn key_hash(&self, key: &[u8]) -> u64 {
        self.router.hash_one(key)
    }

    /// The key hashes of keyed command `cmd` (for [`Gate::keys_free`]).
    pub fn command_key_hashes(&self, cmd: usize, args: &Args) -> Vec<u64> {
        COMMANDS[cmd]
            .key_positions(args)
            .map(|p| self.key_hash(args.get(p)))
            .collect()
    }

    /// Sends `f` to another shard in the message `wrap` builds, and waits for its answer.
    async fn request<T: Send + 'static>(
        &self,
        to: usize,
        f: impl FnOnce(&Rc<Shard>) -> T + Send + 'static,
        wrap: impl FnOnce(usize, u64, Job) -> Msg,
    ) -> T {
        let job: Job = Box::new(move |s| Box::new(f(s)));
        self.ask(to, |from, req| wrap(from, req, job)).await
    }

    /// Sends another shard the message `msg` builds (from this shard, with a fresh request
    /// number) and waits for the answer, of type `T`.
    async fn ask<T: 'static>(&self, to: usize, msg: impl FnOnce(usize, u64) -> Msg) -> T {
        let (req, rx) = self.register();
        self.send(to, msg(self.id, req)).await;
        *rx.await.downcast::<T>().expect("answer type")
    }

    /// Sends `f` to run on shard `to` without waiting for it (FIFO with everything else this
    /// shard sends there).
    pub fn post(self: &Rc<Self>, to: usize, f: impl FnOnce(&Rc<Shard>) + Send + 'static) {
        let job: Job = Box::new(move |s| {
            f(s);
            Box::new(())
        });
        let msg = Msg::Post { job };
        match self.senders.try_send_to(to, msg) {
            Ok(()) => {}
            Err(glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(msg))) => {
                let me = self.clone();
                glommio::spawn_local(async move { me.send(to, msg).await }).detach();
            }
            Err(e) => tracing::debug!("shard {}: post to {to} lost: {e}", self.id),
        }
    }

    /// [`Shard::post`], waiting for room in the channel (backpressure for bulk transfers).
    pub async fn post_wait(
        self: &Rc<Self>,
        to: usize,
        f: impl FnOnce(&Rc<Shard>) + Send + 'static,
    ) {
        let job: Job = Box::new(move |s| {
            f(s);
            Box::new(())
        });
        self.send(to, Msg::Post { job }).await;
    }

    pub async fn unlock(self: &Rc<Self>, to: usize, tx: TxId) {
        if to == self.id {
            self.gate.release(tx);
        } else {
            self.send(to, Msg::Unlock { tx }).await;
        }
    }

    /// [`Shard::on_all_locked`] in two steps under the same locks: `first` on every shard,
    /// then `second` on every shard with the greatest value `first` returned (FLUSHALL and
    /// SWAPDB agree this way on one stamp for the whole node).
    pub async fn on_all_locked_agree(
        self: &Rc<Self>,
        outer: Option<TxId>,
        first: impl Fn(&Rc<Shard>) -> u64 + Send + Sync + Clone + 'static,
        second: impl Fn(&Rc<Shard>, u64) + Send + Sync + Clone + 'static,
    ) {
        let tx = outer.unwrap_or_else(|| self.new_tx());
        let mut agreed = 0;
        for s in 0..self.nshards {
            let first = first.clone();
            let v = match outer {
                Some(_) => self.run_on(s, outer, move |sh| first(sh)).await,
                None => self.lock_and_run(s, tx, move |sh| first(sh)).await,
            };
            agreed = agreed.max(v);
        }
        for s in 0..self.nshards {
            let second = second.clone();
            self.run_on(s, Some(tx), move |sh| second(sh, agreed)).await;
        }
        if outer.is_none() {
            self.unlock_all(0..self.nshards, tx).await;
        }
    }

    /// Runs `f` on every shard while holding all their locks, so that no client sees the
    /// keyspace half changed (FLUSHALL, SWAPDB, the start of a snapshot). Inside EXEC
    /// (`outer`), the transaction already holds every lock.
    pub async fn on_all_locked<T: Send + 'static>(
        self: &Rc<Self>,
        outer: Option<TxId>,
        f: impl Fn(&Rc<Shard>) -> T + Send + Sync + Clone + 'static,
    ) -> Vec<T> {
        if outer.is_some() {
            return self.broadcast_in(outer, f).await;
        }
        let tx = self.new_tx();
        let mut results = vec![];
        for s in 0..self.nshards {
            let f = f.clone();
            results.push(self.lock_and_run(s, tx, move |sh| f(sh)).await);
        }
        self.unlock_all(0..self.nshards, tx).await;
        results
    }

    /// Runs `f` on every shard at once; results in shard order.
    pub async fn broadcast<T: Send + 'static>(
        self: &Rc<Self>,
        f: impl Fn(&Rc<Shard>) -> T + Send + Sync + Clone + 'static,
    ) -> Vec<T> {
        self.broadcast_in(None, f).await
    }

    /// [`Shard::broadcast`] as part of transaction `tx` (None: ordinary work).
    pub async fn broadcast_in<T: Send + 'static>(
        self: &Rc<Self>,
        tx: Option<TxId>,
        f: impl Fn(&Rc<Shard>) -> T + Send + Sync + Clone + 'static,
    ) -> Vec<T> {
        let futs: Vec<_> = (0..self.nshards)
            .map(|s| {
                let f = f.clone();
                self.run_on(s, tx, move |sh| f(sh))
            })
            .collect();
        join_all(futs).await
    }

    /// Serves messages from shard `from`. A message never blocks this loop: work that must
    /// wait for the lock, or a reply that cannot be queued at once, moves to its own task, so
    /// an Unlock behind it is always seen.
    pub async fn serve_peer(
        self: Rc<Self>,
        from: usize,
        rx: glommio::channels::shared_channel::ConnectedReceiver<Msg>,
    ) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Run { from, req, tx, job } => {
                    if self.gate.is_free_for(tx) {
                        let answer = self.gate.run_as(tx, || job(&self));
                        self.answer(from, req, answer);
                    } else {
                        let me = self.clone();
                        glommio::spawn_local(async move {
                            me.gate.wait_free(tx).await;
                            let answer = me.gate.run_as(tx, || job(&me));
                            me.answer(from, req, answer);
                        })
                        .detach();
                    }
                }
                Msg::Lock {
                    from,
                    req,
                    tx,
                    keys,
                    job,
                } => {
                    let me = self.clone();
                    let locked = async move {
                        me.gate.lock(tx, keys.as_deref()).await;
                        let answer = me.gate.run_as(Some(tx), || job(&me));
                        me.answer(from, req, answer);
                    };
                    // Run at once if the lock is free; otherwise on a task of its own.
                    let mut locked = Box::pin(locked);
                    if futures_lite::future::poll_once(&mut locked).await.is_none() {
                        glommio::spawn_local(locked).detach();
                    }
                }
                Msg::RunKeyed {
                    from,
                    req,
                    keys,
                    job,
                } => self.answer_when_keys_free(from, req, job, |_| keys, |sh, job| job(sh)),
                Msg::Batch {
                    from,
                    req,
                    batch,
                    db,
                    resp,
                } => self.answer_when_keys_free(
                    from,
                    req,
                    batch,
                    |batch| {
                        let mut h = vec![];
                        for &(cmd, first, n) in &batch.cmds {
                            let args = batch.args.args(first as usize, n as usize);
                            h.extend(self.command_key_hashes(cmd as usize, &args));
                        }
                        h
                    },
                    move |sh, batch| Box::new(sh.execute_batch(&batch, db, resp)),
                ),
                Msg::Post { job } => {
                    if self.gate.is_free_for(None) {
                        job(&self);
                    } else {
                        let me = self.clone();
                        glommio::spawn_local(async move {
                            me.gate.wait_free(None).await;
                            job(&me);
                        })
                        .detach();
                    }
                }
                Msg::Unlock { tx } => self.gate.release(tx),
                Msg::Answer { req, answer } => {
                    if let Some(tx) = self.pending.borrow_mut().remove(&req) {
                        tx.send(answer);
                    }
                }
            }
        }
        tracing::debug!("shard {}: link from shard {from} closed", self.id);
    }

    /// Runs `work` on `payload` and answers request `req` of shard `from`, once none of the
    /// keys `hashes` names is locked: at once if none is, else on a task of its own.
    fn answer_when_keys_free<P: 'static>(
        self: &Rc<Self>,
        from: usize,
        req: u64,
        payload: P,
        hashes: impl FnOnce(&P) -> Vec<u64>,
        work: impl FnOnce(&Rc<Shard>, P) -> Answer + 'static,
    ) {
        match self.gate.keys_free(|| hashes(&payload)) {
            Ok(()) => {
                let answer = work(self, payload);
                self.answer(from, req, answer);
            }
            Err(hashes) => {
                let me = self.clone();
                glommio::spawn_local(async move {
                    me.gate.wait_keys_free(&hashes).await;
                    let answer = work(&me, payload);
                    me.answer(from, req, answer);
                })
                .detach();
            }
        }
    }

    fn answer(self: &Rc<Self>, to: usize, req: u64, answer: Answer) {
        let msg = Msg::Answer { req, answer };
        match self.senders.try_send_to(to, msg) {
            Ok(()) => {}
            Err(glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(msg))) => {
                // The ring is full: queue the answer on its own task rather than block here.
                let me = self.clone();
                glommio::spawn_local(async move { me.send(to, msg).await }).detach();
            }
            Err(e) => tracing::debug!("shard {}: answer to shard {to} lost: {e}", self.id),
        }
    }

    pub fn take_receivers(
        receivers: &mut Receivers<Msg>,
    ) -> Vec<(
        usize,
        glommio::channels::shared_channel::ConnectedReceiver<Msg>,
    )> {
        receivers.streams()
    }
}

/// Awaits every future, concurrently, returning results in order.
pub async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in futs.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().map(|v| v.unwrap()).collect()
}

impl Shard {
    /// Runs a keyed command on this shard's data and records its statistics; then, if it
    /// wrote and clients are blocked on this shard, serves them.
    #[allow(clippy::too_many_arguments)]
    pub fn execute(
        self: &Rc<Self>,
        cfg: &Config,
        cmd: usize,
        args: Args,
        db: usize,
        resp: u8,
        now_ms: u64,
        out: &mut Vec<u8>,
    ) {
        let def = &COMMANDS[cmd];
        if !def.is_write() {
            return self.execute_unhooked(cfg, cmd, args, db, resp, now_ms, out);
        }
        self.captured(cmd, &args, db, now_ms, || {
            let notify = notify::enabled(cfg);
            if notify == 0 {
                self.execute_unhooked(cfg, cmd, args, db, resp, now_ms, out);
            } else {
                self.execute_notifying(notify, cfg, cmd, args, db, resp, now_ms, out);
            }
            if !self.blocking.is_idle() {
                self.serve_blocked(db, def.key_positions(&args).map(|p| args.get(p)));
            }
        })
    }

    /// [`Shard::execute_unhooked`] for a write while keyspace notifications are on.
    #[allow(clippy::too_many_arguments)]
    fn execute_notifying(
        self: &Rc<Self>,
        flags: u32,
        cfg: &Config,
        cmd: usize,
        args: Args,
        db: usize,
        resp: u8,
        now_ms: u64,
        out: &mut Vec<u8>,
    ) {
        notify::around_write(self, flags, cmd, &args, db, now_ms, || {
            self.execute_unhooked(cfg, cmd, args, db, resp, now_ms, out);
            self.publish_expired(flags);
        });
    }

    /// Publishes `expired` events for the keys expiry removed (and forgets them).
    pub fn publish_expired(self: &Rc<Self>, flags: u32) {
        let mut keys = vec![];
        for (i, db) in self.data.borrow_mut().store.dbs.iter_mut().enumerate() {
            keys.extend(db.take_expired().into_iter().map(|k| (i, k)));
        }
        if flags != 0 && !keys.is_empty() {
            notify::expired(self, flags, keys);
        }
    }

    /// Address and name of the connection the running command is for, if known.
    fn client_named(&self) -> (String, String) {
        let clients = self.clients.borrow();
        match self
            .running_for
            .get()
            .and_then(|id| clients.clients.get(&id))
        {
            Some(c) => (c.addr.to_string(), c.name.borrow().clone()),
            None => Default::default(),
        }
    }

    /// [`Shard::execute`] without serving blocked clients.
    #[allow(clippy::too_many_arguments)]
    pub fn execute_unhooked(
        &self,
        cfg: &Config,
        cmd: usize,
        args: Args,
        db: usize,
        resp: u8,
        now_ms: u64,
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        let t0 = cycles::now();
        let mut data = self.data.borrow_mut();
        let data = &mut *data;
        run_keyed(data, cfg, cmd, args, db, resp, now_ms, out);
        let nanos = cycles::nanos(t0, cycles::now());
        let err = (out.get(start) == Some(&b'-')).then(|| &out[start..]);
        let at = (self.id, self.nshards);
        data.command_ran(at, cfg, cmd, &args, nanos, err, || self.client_named());
    }

    /// Before running a pipeline: asks the CPU for the table slots, then the entries, of the
    /// keys this shard owns (each command's first argument after the name is taken as its
    /// key; a wrong guess only costs a prefetch), and then, for keys holding a large hash, for
    /// the slot and entry of the field that follows. A pipeline's lookups then overlap their
    /// cache misses instead of paying them one after the other.
    pub fn prefetch_keys<'k>(
        &self,
        db: usize,
        items: impl Iterator<Item = PrefetchItem<'k>> + Clone,
    ) {
        use crate::store::Value;
        let data = self.data.borrow();
        let Some(table) = data.store.dbs.get(db) else {
            return;
        };
        let mine = |i: &PrefetchItem| self.nshards == 1 || self.shard_of(i.0) == self.id;
        // On the stack: this runs for every pipelined batch.
        let mut buf: [PrefetchItem; 64] = [(&[], None, None); 64];
        let mut n = 0;
        for it in items.filter(mine).take(64) {
            buf[n] = it;
            n += 1;
        }
        let v = &buf[..n];
        let items = v.iter().copied();
        // A run of commands on one key (a pipeline of LPUSHes) needs the key fetched once.
        let keys = (0..v.len())
            .filter(|&i| i == 0 || v[i - 1].0 != v[i].0)
            .map(|i| v[i].0);
        for k in keys.clone() {
            table.prefetch(k, 0);
        }
        for k in keys {
            table.prefetch(k, 1);
        }
        // Then what lives apart from the entries: a string's bytes over 22 (a GET of them
        // missed the cache in `Reply::bulk`: 20% of the shard under memtier over 1 M keys),
        // and the members of large hashes and sorted sets. A hash field is the argument
        // after the key; a sorted-set member is that one (ZSCORE, ZREM) or the next (ZADD,
        // ZINCRBY): both are tried.
        let mut members = [None; 64];
        let mut m = 0;
        for (k, a, b) in items {
            let Some(e) = table.peek(k) else { continue };
            let member = match &e.value {
                Value::Str(s) => {
                    s.prefetch();
                    continue;
                }
                Value::Hash(h) if !h.is_small() => (e, a, None),
                Value::ZSet(z) if !z.is_small() => (e, a, b),
                _ => continue,
            };
            members[m] = Some(member);
            m += 1;
        }
        for stage in 0..2 {
            for &(e, a, b) in members[..m].iter().flatten() {
                for m in [a, b].into_iter().flatten() {
                    match &e.value {
                        Value::Hash(h) => h.prefetch(m, stage),
                        Value::ZSet(z) => z.prefetch(m, stage),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Runs a batch forwarded by another shard; returns the replies and where each ends.
    pub fn execute_batch(
        self: &Rc<Self>,
        batch: &RemoteBatch,
        db: usize,
        resp: u8,
    ) -> (Vec<u8>, Vec<u32>) {
        let now = now_ms();
        let cfg = self.config();
        let mut out = Vec::with_capacity(batch.cmds.len() * 16);
        let mut ends = Vec::with_capacity(batch.cmds.len());
        if batch.cmds.len() > 1 {
            let items = batch.cmds.iter().filter(|c| c.2 > 1).map(|&(_, first, n)| {
                let args = batch.args.args(first as usize, n as usize);
                (
                    args.get(1),
                    (n > 2).then(|| args.get(2)),
                    (n > 3).then(|| args.get(3)),
                )
            });
            self.prefetch_keys(db, items);
        }
        for &(cmd, first, n) in &batch.cmds {
            let args = batch.args.args(first as usize, n as usize);
            self.execute(&cfg, cmd as usize, args, db, resp, now, &mut out);
            ends.push(out.len() as u32);
        }
        (out, ends)
    }
}

/// Runs a keyed command's function against `data` without recording statistics.
#[allow(clippy::too_many_arguments)]
pub fn run_keyed(
    data: &mut ShardData,
    cfg: &Config,
    cmd: usize,
    args: Args,
    db: usize,
    resp: u8,
    now_ms: u64,
    out: &mut Vec<u8>,
) {
    let mut ctx = Ctx {
        dbs: &mut data.store.dbs,
        db,
        now_ms,
        ks: &mut data.ks,
        clock: &mut data.clock,
        dirty: &mut data.dirty,
        config: cfg,
        out: Reply::new(out, resp),
    };
    keyed_fn(cmd)(&mut ctx, args);
}

/// The shard-side function of a keyed command.
pub fn keyed_fn(cmd: usize) -> crate::commands::ShardFn {
    match COMMANDS[cmd].kind {
        Kind::Keyed(f) | Kind::Split(f, _) => f,
        Kind::Conn(_) => unreachable!(
            "connection command {} routed to a shard",
            COMMANDS[cmd].name
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::hash_tag;

    #[test]
    fn hash_tags() {
        assert_eq!(hash_tag(b"{user1}:a"), b"user1");
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"plain"), b"plain");
    }
}
