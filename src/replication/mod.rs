//! Active-active replication (DESIGN §5–6), run by the replication executor.
//!
//! How a write travels:
//! 1. A shard runs the write; [`shard`] captures every key it changed as a stamped record
//!    holding the key's whole new state ([`record`]) and hands a turn's records over in one
//!    message.
//! 2. The replication executor appends them to the [`backlog`] as one frame per origin node
//!    and wakes the links to replicas ([`downstream`]), which send frames in large writes,
//!    skipping frames that came from the replica itself (no echo).
//! 3. A node that is a replica of others ([`upstream`], one link per master) routes each
//!    record to the shard owning its key, which applies it only if its stamp is newer than
//!    the key's (last writer wins; deletes leave tombstones) and passes what it applied on to
//!    its own replicas (rings and meshes).
//!
//! Full sync sends the shards' keys as a Redis RDB file ([`snapshot`]), taken chunk by chunk
//! while the shards keep serving; the receiver merges it by stamp the same way.
//!
//! The rules that make the guarantees of DESIGN §6 hold, and where they live:
//! - Last writer wins: `shard::wins` compares the record's stamp with the key's (its entry's,
//!   else its tombstone's or its database's last flush). Equal stamps from two nodes are
//!   settled alike everywhere: a delete wins, then the greater encoded value.
//! - The stamp is the writer's: records carry it, `apply_remote` stores it, RDB files keep it
//!   (`mvcc-tstamp`), and the receiving shard's clock only observes it.
//! - Deletes stick: a delete leaves a tombstone (`Db::bury`), expiry keeps the expired
//!   key's stamp as one, FLUSHDB/FLUSHALL/SWAPDB take one stamp agreed by all shards under
//!   their locks (`Shard::on_all_locked_agree`) so no later write on another shard is older.
//!   Tombstones and flush stamps travel in snapshots as AUX fields (`snapshot.rs`).
//! - Convergence: records are whole states (idempotent, order-free). The one exception, OP
//!   (a small change to a large value, sent as the command), applies only on the exact base
//!   it was made on; elsewhere the receiver fetches the key whole (RFETCH).
//! - No echo: every frame names its origin node; a link never carries frames from the node
//!   at its other end, and a node drops frames from itself. What a node applies it passes
//!   on, so rings and meshes reach everyone; duplicates lose by stamp.
//! - Atomic units: a cross-shard command or MULTI/EXEC sends its records as one `UNIT`
//!   frame (`Shard::unlock_all`), applied under the locks of every shard it touches.
//! - Serving during sync: snapshots are written a chunk at a time between requests, and a
//!   receiving node merges record batches like any other writes; nothing stops.

pub mod backlog;
pub mod commands;
pub mod downstream;
pub mod record;
pub mod shard;
pub mod snapshot;
pub mod upstream;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Waker;

use crate::config::{Opt, Val};
use crate::shard::Shard;
use shard::Origin;

/// A wake-up flag for one waiting task.
#[derive(Default)]
pub struct Signal {
    set: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Signal {
    pub fn notify(&self) {
        self.set.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Waits until notified (at once if notified since the last wait).
    pub async fn wait(&self) {
        std::future::poll_fn(|cx| {
            if self.set.replace(false) {
                std::task::Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

/// The replication executor's state: this node's stream and its links.
pub struct Node {
    /// The replication executor's member of the shard mesh (id = number of shards).
    pub shard: Rc<Shard>,
    pub uuid: uuid::Uuid,
    pub replid: String,
    pub backlog: RefCell<backlog::Backlog>,
    pub replicas: RefCell<Vec<Rc<downstream::Downstream>>>,
    pub masters: RefCell<Vec<Rc<upstream::Upstream>>>,
    next_link: Cell<u64>,
    capture_on: Cell<bool>,
    /// Batches taken in from each shard (WAIT waits until it has every batch sent before).
    pub ingested: RefCell<Vec<u64>>,
}

impl Node {
    pub fn me(&self) -> Origin {
        self.uuid.as_u128()
    }

    pub fn config(&self) -> Rc<crate::config::Config> {
        self.shard.config()
    }

    pub fn active(&self) -> bool {
        self.config().bool(Opt::ActiveReplica)
    }

    pub fn next_link_id(&self) -> u64 {
        let n = self.next_link.get();
        self.next_link.set(n + 1);
        n
    }

    /// Turns on capturing writes on every shard (once a replica or peer exists), and keeping
    /// tombstones when replication is active.
    pub async fn enable_capture(&self) {
        if self.capture_on.replace(true) {
            return;
        }
        let tombstones = self.active();
        self.shard
            .broadcast(move |sh| {
                sh.repl.capture.set(true);
                sh.repl.replicating.set(true);
                for db in sh.data.borrow_mut().store.dbs.iter_mut() {
                    db.keep_tombstones = tombstones;
                }
            })
            .await;
    }

    /// Allows or forbids OP records on every shard.
    pub async fn set_ops(&self, on: bool) {
        self.shard.broadcast(move |sh| sh.repl.ops.set(on)).await;
    }

    /// Tells the shards what clients may do: a plain replica is read-only
    /// (`replica-read-only`), and with `replica-serve-stale-data no` serves nothing while a
    /// master link is down. An active replica always serves.
    pub async fn update_read_only(&self) {
        let cfg = self.config();
        let (ro, stale) = {
            let masters = self.masters.borrow();
            let plain = !masters.is_empty() && !cfg.bool(Opt::ActiveReplica);
            let stale = plain
                && !cfg.bool(Opt::ReplicaServeStaleData)
                && masters.iter().any(|m| !m.is_up());
            (plain && cfg.bool(Opt::ReplicaReadOnly), stale)
        };
        self.shard
            .broadcast(move |sh| {
                sh.repl.read_only.set(ro);
                sh.repl.stale.set(stale);
            })
            .await;
    }

    /// The offset below which no connected replica needs frames any more.
    fn needed_from(&self) -> u64 {
        let next = self.backlog.borrow().next;
        self.replicas
            .borrow()
            .iter()
            .filter(|r| next - r.cursor.get() < downstream::MAX_LAG_BYTES)
            .map(|r| r.cursor.get())
            .min()
            .unwrap_or(next)
    }

    /// Adds a master link (REPLICAOF, config) unless there is one to that address already.
    pub fn add_master(self: &Rc<Self>, host: &str, port: u16) -> bool {
        if self
            .masters
            .borrow()
            .iter()
            .any(|m| m.host == host && m.port == port)
        {
            return false;
        }
        let link = Rc::new(upstream::Upstream::new(self.next_link_id(), host, port));
        self.masters.borrow_mut().push(link.clone());
        let node = self.clone();
        glommio::spawn_local(async move {
            node.update_read_only().await;
            upstream::run(node.clone(), link).await;
        })
        .detach();
        true
    }

    /// Asks every connected master for the whole state of these keys (RFETCH).
    pub fn fetch_from_masters(&self, keys: Vec<(usize, Vec<u8>)>) {
        for m in self.masters.borrow().iter().filter(|m| m.is_up()) {
            m.fetches.borrow_mut().extend(keys.iter().cloned());
            m.wake.notify();
        }
    }

    /// Drops master links: all, or the one at host:port. Returns how many.
    pub fn remove_masters(self: &Rc<Self>, which: Option<(&str, u16)>) -> usize {
        let mut masters = self.masters.borrow_mut();
        let before = masters.len();
        masters.retain(|m| {
            let hit = which.is_none_or(|(h, p)| m.host == h && m.port == p);
            if hit {
                m.stop();
            }
            !hit
        });
        let n = before - masters.len();
        drop(masters);
        let node = self.clone();
        glommio::spawn_local(async move { node.update_read_only().await }).detach();
        n
    }
}

/// Runs on the replication executor: a shard's batch of records joins the stream.
pub fn ingest(r: &Rc<Shard>, from: usize, segments: Vec<(Origin, Vec<u8>)>) {
    append_frames(r, from, segments, false)
}

/// A transaction's records join the stream as frames to be applied atomically.
pub fn ingest_unit(r: &Rc<Shard>, from: usize, segments: Vec<(Origin, Vec<u8>)>) {
    append_frames(r, from, segments, true)
}

fn append_frames(r: &Rc<Shard>, from: usize, segments: Vec<(Origin, Vec<u8>)>, unit: bool) {
    let Some(node) = r.node.get() else {
        return;
    };
    if let Some(n) = node.ingested.borrow_mut().get_mut(from) {
        *n += 1;
    }
    {
        let mut b = node.backlog.borrow_mut();
        for (origin, records) in segments {
            if !records.is_empty() {
                b.append(origin, &records, unit);
            }
        }
    }
    let limit = node.config().int(Opt::ReplBacklogSize) as usize;
    let keep = node.needed_from();
    node.backlog.borrow_mut().trim(limit, keep);
    for r in node.replicas.borrow().iter() {
        r.signal.notify();
    }
}

impl Node {
    /// Makes the mesh member `shard` the node (before it serves any message).
    pub fn create(shard: Rc<Shard>, uuid: uuid::Uuid) -> Rc<Node> {
        let node = Rc::new(Node {
            replid: shard.run_id.to_string(),
            shard: shard.clone(),
            uuid,
            backlog: Default::default(),
            replicas: Default::default(),
            masters: Default::default(),
            next_link: Cell::new(0),
            capture_on: Cell::new(false),
            ingested: RefCell::new(vec![0; shard.nshards]),
        });
        let _ = shard.node.set(node.clone());
        node
    }
}

/// Starts replication on its executor: capture, the configured masters, tombstone collection.
pub async fn start(node: Rc<Node>) -> Rc<Node> {
    let cfg = node.config();
    if cfg.bool(Opt::ActiveReplica) {
        node.enable_capture().await;
    }
    if let Val::List(masters) = cfg.get(Opt::Replicaof) {
        for m in masters {
            let mut w = m.split_whitespace();
            match (w.next(), w.next().and_then(|p| p.parse::<u16>().ok())) {
                (Some(host), Some(port)) => {
                    node.add_master(host, port);
                }
                _ => tracing::warn!("ignoring replicaof {m:?}: expected <host> <port>"),
            }
        }
    }
    // Tombstones older than `active-replica-tombstone-ttl` are collected once a second.
    let collector = node.clone();
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(std::time::Duration::from_secs(1)).await;
            let ttl_ms = collector.config().int(Opt::ActiveReplicaTombstoneTtl) as u64 * 1000;
            let cutoff =
                crate::util::now_ms().saturating_sub(ttl_ms) << crate::store::clock::COUNTER_BITS;
            collector
                .shard
                .broadcast(move |sh| {
                    for db in sh.data.borrow_mut().store.dbs.iter_mut() {
                        db.collect_tombstones(cutoff);
                    }
                })
                .await;
        }
    })
    .detach();
    node
}
