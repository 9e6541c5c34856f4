//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP).
//!
//! A blocking command's shard function is its "try once" form: it serves from the first
//! non-empty key or replies with a null, never waiting. The connection runs it as any keyed
//! command; when the reply is a null and the command may block (not inside MULTI), the
//! connection registers a *waiter* with the shards that own the keys and waits for one of:
//!
//! - **Served**: when all its keys live on one shard, that shard serves waiters itself, in
//!   the order they blocked (Redis's order), right after any write to one of their keys:
//!   it runs the try-once form for the first waiter and sends the reply to the waiter's
//!   connection; then the next, until one is not served.
//! - **Retry**: when the keys span shards, a shard only tells the waiter that a key became
//!   ready; the connection runs the try-once form again (atomically across shards, as any
//!   cross-shard command) and keeps waiting if it found nothing.
//! - **Timeout**, **CLIENT UNBLOCK**, or the client going away.
//!
//! A waiter registered on several shards carries one shared claim flag, so that a shard
//! serving it and the connection giving up (timeout, unblock, disconnect) can never both
//! win: whoever sets the flag first owns the outcome.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::channels::local_channel::{self, LocalSender};

use super::conn::{route, ConnState};
use crate::commands::COMMANDS;
use crate::protocol::{Args, PackedArgs};
use crate::shard::{coord, Shard};
use crate::util::now_ms;

/// What a blocked connection is told.
pub enum Wake {
    /// Its command was served; this is the reply.
    Served(Vec<u8>),
    /// One of its keys (on a shard that cannot serve it alone) may have data now.
    Retry,
    /// CLIENT UNBLOCK: reply as on timeout, or with an UNBLOCKED error.
    Unblock { error: bool },
}

/// A blocked connection, as registered on a shard owning some of its keys.
struct Waiter {
    client: u64,
    conn_shard: usize,
    db: usize,
    resp: u8,
    cmd: usize,
    args: Arc<PackedArgs>,
    /// Whether this shard may serve the waiter itself (all its keys live here).
    serve_here: bool,
    claim: Arc<AtomicBool>,
}

/// Waiters in the order they blocked, by (db, key).
type WaitQueues = HashMap<(usize, Vec<u8>), VecDeque<Rc<Waiter>>>;

/// One shard's blocked waiters by key, and its own blocked connections.
#[derive(Default)]
pub struct Registry {
    by_key: RefCell<WaitQueues>,
    /// Connections of this shard that are blocked, by client id.
    conns: RefCell<HashMap<u64, LocalSender<Wake>>>,
}

impl Registry {
    /// Whether nothing waits on this shard (checked after every write).
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.by_key.borrow().is_empty()
    }

    /// Number of this shard's connections that are blocked (INFO blocked_clients).
    pub fn blocked_clients(&self) -> usize {
        self.conns.borrow().len()
    }

    fn remove_client(&self, client: u64) {
        self.by_key.borrow_mut().retain(|_, q| {
            q.retain(|w| w.client != client);
            !q.is_empty()
        });
    }

    /// Tells blocked connection `client` of this shard something; false if it is not blocked.
    fn wake(&self, client: u64, wake: Wake) -> bool {
        match self.conns.borrow().get(&client) {
            Some(tx) => tx.try_send(wake).is_ok(),
            None => false,
        }
    }
}

/// Sends `wake` to a blocked connection on any shard.
fn deliver(shard: &Rc<Shard>, conn_shard: usize, client: u64, wake: Wake) {
    if conn_shard == shard.id {
        shard.blocking.wake(client, wake);
        return;
    }
    let me = shard.clone();
    glommio::spawn_local(async move {
        me.run_on(conn_shard, None, move |sh| {
            sh.blocking.wake(client, wake);
        })
        .await;
    })
    .detach();
}

/// Whether a reply serves a blocked client (anything but a null or an error).
fn serves(reply: &[u8]) -> bool {
    !(reply.is_empty()
        || reply.starts_with(b"-")
        || reply == b"*-1\r\n"
        || reply == b"$-1\r\n"
        || reply == b"_\r\n")
}

impl Shard {
    /// After a write to `keys` of `db` on this shard: serves (or alerts) the clients blocked
    /// on them, first come first served. Keys a served command writes to (BLMOVE's
    /// destination) are handled in turn.
    pub fn serve_blocked<'k>(self: &Rc<Self>, db: usize, keys: impl Iterator<Item = &'k [u8]>) {
        if self.blocking.is_idle() {
            return;
        }
        let mut ready: VecDeque<Vec<u8>> = keys.map(|k| k.to_vec()).collect();
        while let Some(key) = ready.pop_front() {
            loop {
                let Some(waiters) = self
                    .blocking
                    .by_key
                    .borrow()
                    .get(&(db, key.clone()))
                    .cloned()
                else {
                    break;
                };
                let mut served_one = false;
                for w in waiters {
                    if !w.serve_here {
                        deliver(self, w.conn_shard, w.client, Wake::Retry);
                        continue;
                    }
                    if w.claim.swap(true, Ordering::AcqRel) {
                        continue; // The connection gave up or another shard serves it.
                    }
                    let mut out = Vec::new();
                    let args = w.args.args(0, w.args.spans.len());
                    let cfg = self.config();
                    let now = now_ms();
                    self.captured(w.cmd, &args, w.db, now, || {
                        self.execute_unhooked(&cfg, w.cmd, args, w.db, w.resp, now, &mut out)
                    });
                    if !serves(&out) {
                        w.claim.store(false, Ordering::Release);
                        break;
                    }
                    self.blocking.remove_client(w.client);
                    // What the served command wrote (a BLMOVE destination) may wake others.
                    let def = &COMMANDS[w.cmd];
                    for p in def.key_positions(&args) {
                        if args.get(p) != key.as_slice() {
                            ready.push_back(args.get(p).to_vec());
                        }
                    }
                    deliver(self, w.conn_shard, w.client, Wake::Served(out));
                    served_one = true;
                    break;
                }
                if !served_one {
                    break;
                }
            }
        }
    }
}

/// Where the timeout argument of a blocking command sits.
fn timeout_arg(cmd: usize, args: &Args) -> usize {
    match COMMANDS[cmd].name {
        "blmpop" | "bzmpop" => 1,
        _ => args.len() - 1,
    }
}

/// The command's timeout; None for none (0). The try-once form already rejected a bad one.
fn timeout_of(arg: &[u8]) -> Option<Duration> {
    match crate::commands::blocking::parse_timeout(arg) {
        Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
        _ => None,
    }
}

/// Runs the try-once form of a blocking command wherever its keys are.
async fn try_once(st: &ConnState, cmd: usize, args: Args<'_>) -> Vec<u8> {
    let shard = st.shard.clone();
    let mut out = Vec::new();
    match route(&shard, &COMMANDS[cmd], &args) {
        Some(s) if s == shard.id => {
            shard.gate.wait_free(st.tx).await;
            let cfg = shard.config();
            shard.execute(&cfg, cmd, args, st.db, st.resp, now_ms(), &mut out);
        }
        Some(s) => {
            let mut one = PackedArgs::default();
            one.push(args.iter());
            let (db, resp) = (st.db, st.resp);
            out = shard
                .run_on(s, st.tx, move |sh| {
                    let cfg = sh.config();
                    let mut r = Vec::new();
                    sh.execute(
                        &cfg,
                        cmd,
                        one.args(0, one.spans.len()),
                        db,
                        resp,
                        now_ms(),
                        &mut r,
                    );
                    r
                })
                .await;
        }
        None => coord::run(&shard, st.tx, cmd, args, st.db, st.resp, &mut out).await,
    }
    out
}

/// Whether the peer closed the connection (checked while blocked, as Redis notices a
/// blocked client going away).
fn peer_closed(fd: i32) -> bool {
    let mut b = [0u8; 1];
    // SAFETY: a non-blocking peek into a local buffer on a socket we own.
    let n = unsafe {
        libc::recv(
            fd,
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n == 0
}

/// Runs a blocking command for a connection: at once if it can be served, else waits.
/// Appends the reply to `out`.
pub async fn run(st: &mut ConnState, cmd: usize, args: Args<'_>, out: &mut Vec<u8>) {
    let first = try_once(st, cmd, args).await;
    // Inside MULTI/EXEC a blocking command never blocks (Redis answers as on timeout).
    if serves(&first) || first.starts_with(b"-") || st.tx.is_some() {
        out.extend_from_slice(&first);
        return;
    }
    let timeout = timeout_of(args.get(timeout_arg(cmd, &args)));
    let deadline = timeout.map(|t| Instant::now() + t);
    let shard = st.shard.clone();
    let client = st.client.id;
    let claim = Arc::new(AtomicBool::new(false));
    let (wake_tx, wake_rx) = local_channel::new_unbounded();
    shard.blocking.conns.borrow_mut().insert(client, wake_tx);

    // Register with every shard owning one of the keys.
    let def = &COMMANDS[cmd];
    let mut by_shard: HashMap<usize, Vec<Vec<u8>>> = HashMap::new();
    for p in def.key_positions(&args) {
        let k = args.get(p).to_vec();
        let keys = by_shard.entry(shard.shard_of(&k)).or_default();
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let serve_here = by_shard.len() == 1;
    let mut packed = PackedArgs::default();
    packed.push(args.iter());
    let packed = Arc::new(packed);
    for (&s, keys) in &by_shard {
        let (keys, packed, claim) = (keys.clone(), packed.clone(), claim.clone());
        let (db, resp, conn_shard) = (st.db, st.resp, shard.id);
        shard
            .run_on(s, None, move |sh| {
                let w = Rc::new(Waiter {
                    client,
                    conn_shard,
                    db,
                    resp,
                    cmd,
                    args: packed,
                    serve_here,
                    claim,
                });
                for k in &keys {
                    sh.blocking
                        .by_key
                        .borrow_mut()
                        .entry((db, k.clone()))
                        .or_default()
                        .push_back(w.clone());
                }
                // Data may have arrived between the first try and this registration.
                sh.serve_blocked(db, keys.iter().map(|k| k.as_slice()));
            })
            .await;
    }

    let reply = loop {
        let tick = Duration::from_millis(100);
        let wait = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(tick),
            None => tick,
        };
        let woken = futures_lite::future::or(async { wake_rx.recv().await }, async {
            glommio::timer::sleep(wait).await;
            None
        })
        .await;
        let give_up = |error: bool| -> Option<Vec<u8>> {
            if claim.swap(true, Ordering::AcqRel) {
                return None; // Being served: the reply is on its way.
            }
            let mut r = Vec::new();
            if error {
                st.reply(&mut r)
                    .error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
            } else {
                st.reply(&mut r).null_array();
            }
            Some(r)
        };
        match woken {
            Some(Wake::Served(r)) => break r,
            Some(Wake::Retry) => {
                let r = try_once(st, cmd, args).await;
                if serves(&r) && !claim.swap(true, Ordering::AcqRel) {
                    break r;
                }
            }
            Some(Wake::Unblock { error }) => {
                if let Some(r) = give_up(error) {
                    break r;
                }
            }
            None => {
                let expired = deadline.is_some_and(|d| Instant::now() >= d);
                if expired || peer_closed(st.client.fd) {
                    if let Some(r) = give_up(false) {
                        break r;
                    }
                }
            }
        }
    };

    shard.blocking.conns.borrow_mut().remove(&client);
    for &s in by_shard.keys() {
        shard
            .run_on(s, None, move |sh| sh.blocking.remove_client(client))
            .await;
    }
    out.extend_from_slice(&reply);
}

/// CLIENT UNBLOCK: wakes client `id` wherever it is; returns whether it was blocked.
pub async fn unblock(shard: &Rc<Shard>, id: u64, error: bool) -> bool {
    shard
        .broadcast(move |sh| sh.blocking.wake(id, Wake::Unblock { error }))
        .await
        .into_iter()
        .any(|b| b)
}
