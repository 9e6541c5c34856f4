//! One client connection: read, parse every complete command, run the batch, write once.
//!
//! Commands of a batch whose keys live on other shards are packed per destination shard and
//! sent as one message each; the connection's own shard runs its commands inline. Replies go
//! back in request order. A command that needs the whole connection or several shards at
//! once (a "barrier": SELECT, INFO, a cross-shard MSET) first lets the outstanding messages
//! complete, so each shard sees one connection's commands in order.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::LocalReceiver;
use glommio::net::TcpStream;

use crate::commands::{self, flags, Kind, COMMANDS};
use crate::config::Opt;
use crate::protocol::{errors, parse_command, Args, PackedArgs, ParseLimits, ParseResult, Reply};
use crate::server::clients::ClientHandle;
use crate::server::monitor;
use crate::server::multi::{self, Multi, Watched};
use crate::server::{blocking, pubsub};
use crate::shard::{coord, join_all, Shard, TxId};
use crate::util::{cycles, now_ms, now_us};

/// A batch that ran at least this long lets the other ready connections run before its
/// reply leaves (see `connection_loop`). Measured: 8–15 µs all give ZADD -P 16 +10–20% and
/// leave GET/SET/HSET -P 16 alone; yielding after every batch cost those 25%.
const DEFER_REPLY_AFTER_NS: u64 = 10_000;

/// CLIENT REPLY modes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyMode {
    On,
    Off,
    /// Suppress the reply of the next command only.
    Skip,
    /// Set by CLIENT REPLY SKIP; becomes `Skip` for the command after it.
    SkipNext,
}

/// A connection's own state, visible to connection-level commands.
pub struct ConnState {
    pub shard: Rc<Shard>,
    pub client: Rc<ClientHandle>,
    pub db: usize,
    pub resp: u8,
    pub authenticated: bool,
    /// Close once the replies gathered so far are written (QUIT, protocol error, kill).
    pub close: bool,
    pub reply_mode: ReplyMode,
    /// What other shards and connections push to this one (pub/sub messages, MONITOR
    /// lines): made on first use.
    pub inbox: Option<(LocalReceiver<Rc<[u8]>>, pubsub::Inbox)>,
    pub subs: pubsub::Subscriptions,
    /// Commands queued since MULTI (see `server::multi`).
    pub multi: Option<Multi>,
    /// Keys under WATCH, with what they held when watched.
    pub watched: Vec<Watched>,
    /// While EXEC runs: the transaction holding the shards' locks, which the commands it runs
    /// pass through.
    pub tx: Option<TxId>,
    /// What a replica said with REPLCONF before PSYNC.
    pub replica_hello: Option<crate::replication::downstream::Hello>,
    /// Set by PSYNC/SYNC: the socket goes to the replication executor.
    pub handover: Option<crate::replication::commands::Handover>,
    /// The server's own client (see [`InternalClient`]).
    internal: bool,
    _slot: Slot,
}

/// The connection's place in `maxclients`, given back when the connection ends (in whichever
/// task it ends).
pub struct Slot(pub std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl ConnState {
    fn new(shard: Rc<Shard>, client: Rc<ClientHandle>, slot: Slot) -> Self {
        ConnState {
            authenticated: shard.config().str(Opt::RequirePass).is_empty(),
            shard,
            client,
            db: 0,
            resp: 2,
            close: false,
            reply_mode: ReplyMode::On,
            inbox: None,
            subs: Default::default(),
            multi: None,
            watched: Vec::new(),
            tx: None,
            replica_hello: None,
            handover: None,
            internal: false,
            _slot: slot,
        }
    }

    pub fn reply<'a>(&self, out: &'a mut Vec<u8>) -> Reply<'a> {
        Reply::new(out, self.resp)
    }

    /// Where others push to this connection (made on first use).
    pub fn inbox_sender(&mut self) -> pubsub::Inbox {
        self.inbox
            .get_or_insert_with(|| {
                let (tx, rx) = glommio::channels::local_channel::new_unbounded();
                (rx, Rc::new(tx))
            })
            .1
            .clone()
    }

    /// Whether the client must still authenticate. A connection made while no password was
    /// set counts as authenticated (the default user had no password then), as in Redis.
    fn auth_required(&self) -> bool {
        !self.authenticated
    }
}

/// A client with no socket, inside the server: runs the commands of a Redis append-only
/// file imported at boot (`persist::aof::redis`) through the path a connection's batches
/// take, past the checks that keep clients out meanwhile (loading, authentication, a
/// read-only replica), as Redis's loading client does. Not in CLIENT LIST.
pub struct InternalClient {
    st: ConnState,
    out: Vec<u8>,
}

impl InternalClient {
    pub fn new(shard: Rc<Shard>) -> Self {
        let id = shard.clients.borrow_mut().next_id(shard.id, shard.nshards);
        let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
        let client = Rc::new(ClientHandle::new(id, nowhere, nowhere, -1));
        let slot = Slot(std::sync::Arc::new(1.into()));
        let mut st = ConnState::new(shard, client, slot);
        st.internal = true;
        st.authenticated = true;
        InternalClient { st, out: vec![] }
    }

    /// Runs commands of `buf`, given as (first span, number of arguments); drops the replies.
    pub async fn run(&mut self, buf: &[u8], spans: &[(u32, u32)], cmds: &[(usize, usize)]) {
        run_batch(&mut self.st, buf, spans, cmds, &mut self.out).await;
        self.out.clear();
    }

    /// Whether a MULTI is open, its EXEC still to come.
    pub fn in_multi(&self) -> bool {
        self.st.multi.is_some()
    }
}

/// A batch of commands bound for one other shard.
#[derive(Default)]
pub struct RemoteBatch {
    pub args: PackedArgs,
    /// (command index, first span, number of arguments) per command.
    pub cmds: Vec<(u16, u32, u32)>,
}

/// Where the reply of a command in the batch will come from.
enum Src {
    Local(usize, usize),
    Remote(usize, usize),
    Skip,
}

/// Replies gathered in request order while some come from other shards.
#[derive(Default)]
struct Pending {
    order: Vec<Src>,
    local: Vec<u8>,
    remote: Vec<Option<RemoteBatch>>,
}

/// The shard a keyed command runs on, or None when its keys span shards.
pub(crate) fn route(shard: &Shard, def: &commands::CommandDef, args: &Args) -> Option<usize> {
    if shard.nshards == 1 {
        return Some(shard.id);
    }
    let mut target = None;
    for pos in def.key_positions(args) {
        let s = shard.shard_of(args.get(pos));
        match target {
            None => target = Some(s),
            Some(t) if t != s => return None,
            _ => {}
        }
    }
    Some(target.unwrap_or(shard.id))
}

/// Limits on one connection's buffers (Redis's names).
struct BufferLimits {
    query_buffer: usize,
    parse: ParseLimits,
}

pub async fn serve(
    shard: Rc<Shard>,
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    slot: Slot,
) {
    let _ = stream.set_nodelay(true);
    let fd = stream.as_raw_fd();
    let id = shard.clients.borrow_mut().next_id(shard.id, shard.nshards);
    let client = Rc::new(ClientHandle::new(id, peer, local, fd));
    shard.clients.borrow_mut().add(client.clone());
    let st = ConnState::new(shard, client, slot);
    drive(st, stream).await
}

/// Serves the connection until it closes, then forgets it.
async fn drive(mut st: ConnState, mut stream: TcpStream) {
    if let Err(e) = connection_loop(&mut st, &mut stream).await {
        tracing::debug!("client {} ({}): {e}", st.client.id, st.client.addr);
    }
    let (shard, id) = (st.shard.clone(), st.client.id);
    if st.client.monitor.get() {
        monitor::stop(&shard, id).await;
    }
    pubsub::forget(&mut st);
    multi::unwatch_all(&mut st);
    shard.clients.borrow_mut().remove(id);
}

const READONLY: &str = "READONLY You can't write against a read only replica.";
const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

const READ_CHUNK: usize = 16 * 1024;

/// Reads, runs and answers commands until the connection ends.
async fn connection_loop(st: &mut ConnState, stream: &mut TcpStream) -> std::io::Result<()> {
    let fd = stream.as_raw_fd();
    let (mut reads, mut recv_misses) = (0u64, 0u32);
    let mut rbuf = vec![0u8; READ_CHUNK];
    let (mut start, mut end) = (0usize, 0usize);
    // Bytes that must be buffered (from `start`) before parsing can make progress.
    let mut need = 1usize;
    let mut spans: Vec<(u32, u32)> = Vec::new();
    let mut cmds: Vec<(usize, usize)> = Vec::new();
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    loop {
        if end == rbuf.len() {
            if start > 0 {
                rbuf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            if end == rbuf.len() || need > rbuf.len() {
                let want = (rbuf.len() * 2).max(need).max(end + READ_CHUNK);
                rbuf.resize(want, 0);
            }
        }
        let n = match &st.inbox {
            None => {
                // Try a plain recv first while that keeps finding data (pipelining clients);
                // after two misses only now and then (a request-reply client's socket is
                // empty when we come back, and the extra syscall would be pure cost).
                reads += 1;
                let eager = recv_misses < 2 || reads % 16 == 0;
                match eager.then(|| try_recv(fd, &mut rbuf[end..])).flatten() {
                    Some(n) => {
                        recv_misses = 0;
                        n
                    }
                    None => {
                        recv_misses += eager as u32;
                        // A pipelining client is usually about to send: let the other ready
                        // connections run and look once more before arming a poll.
                        let again = if eager {
                            futures_lite::future::yield_now().await;
                            try_recv(fd, &mut rbuf[end..])
                        } else {
                            None
                        };
                        match again {
                            Some(n) => n,
                            // Wait through glommio. (Until COOP_TASKRUN, main.rs, the poll it
                            // arms after a partial read cost a rescheduling IPI when it fired,
                            // so this read took one byte and `recv` the rest: two syscalls.)
                            None => stream.read(&mut rbuf[end..]).await?,
                        }
                    }
                }
            }
            Some((lines, _)) => {
                // Stream what is pushed (messages, MONITOR lines) while reading commands.
                enum Event {
                    Read(std::io::Result<usize>),
                    Line(Option<Rc<[u8]>>),
                }
                let read = async { Event::Read(stream.read(&mut rbuf[end..]).await) };
                let line = async { Event::Line(lines.recv().await) };
                match futures_lite::future::or(read, line).await {
                    Event::Read(r) => r?,
                    Event::Line(Some(first)) => {
                        let mut batch = first.to_vec();
                        while let Some(Some(more)) =
                            futures_lite::future::poll_once(lines.recv()).await
                        {
                            batch.extend_from_slice(&more);
                        }
                        stream.write_all(&batch).await?;
                        continue;
                    }
                    Event::Line(None) => continue,
                }
            }
        };
        if n == 0 || st.client.killed.get() {
            // Messages already delivered to this connection still go out (a subscriber killed
            // right after a PUBLISH gets it first, as in Redis).
            if let Some((lines, _)) = &st.inbox {
                let mut rest = vec![];
                while let Some(Some(l)) = futures_lite::future::poll_once(lines.recv()).await {
                    rest.extend_from_slice(&l);
                }
                if !rest.is_empty() {
                    let _ = stream.write_all(&rest).await;
                }
            }
            return Ok(());
        }
        end += n;
        st.client.last_active.set(st.shard.coarse_now.get());
        {
            let mut c = st.shard.counters.borrow_mut();
            c.net_input_bytes += n as u64;
            c.reads_processed += 1;
        }
        let limits = buffer_limits(st);
        if end - start > limits.query_buffer {
            tracing::warn!(
                "Closing client that reached max query buffer length: id={} addr={} (qbuf={})",
                st.client.id,
                st.client.addr,
                end - start
            );
            return Ok(());
        }
        if end - start < need {
            continue;
        }
        spans.clear();
        cmds.clear();
        let mut pos = start;
        let mut protocol_error = None;
        need = 1;
        while pos < end {
            match parse_command(&mut rbuf[pos..end], pos, &limits.parse, &mut spans) {
                Ok(ParseResult::Complete(p)) => {
                    if p.nargs > 0 {
                        cmds.push((spans.len() - p.nargs, p.nargs));
                    }
                    pos += p.consumed;
                }
                Ok(ParseResult::Incomplete { need: n }) => {
                    need = n;
                    break;
                }
                Err(e) => {
                    protocol_error = Some(e);
                    break;
                }
            }
        }
        st.client.qbuf.set(end - pos);
        let t0 = cycles::now();
        run_batch(st, &rbuf, &spans, &cmds, &mut out).await;
        let batch_nanos = cycles::nanos(t0, cycles::now());
        start = pos;
        if start == end {
            start = 0;
            end = 0;
        }
        if let Some(e) = protocol_error {
            Reply::new(&mut out, st.resp).error(format!("ERR {}", e.message()));
            tracing::debug!(
                "protocol error from client {}: {}",
                st.client.id,
                e.message()
            );
            st.close = true;
        }
        if !out.is_empty() {
            // After a long batch, let the other ready connections run theirs before this
            // reply leaves, so that the replies of a turn leave close together, as Redis
            // writes them all before it sleeps. Spread out by long batches, each reply found
            // the client asleep again and paid a wakeup, charged to our send (22% of the
            // shard's time at ZADD -P 16). After short batches the spread is what gives the
            // client time to answer before `try_recv` comes back, so they reply at once.
            if batch_nanos >= DEFER_REPLY_AFTER_NS {
                futures_lite::future::yield_now().await;
            }
            // `appendfsync always`: no reply leaves before the records of the writes it
            // acknowledges (or shows) are on disk. One fsync serves every waiting client.
            if crate::persist::aof::behind(&st.shard.persist) {
                crate::persist::aof::wait_durable(&st.shard.persist).await;
            }
            stream.write_all(&out).await?;
            {
                let mut c = st.shard.counters.borrow_mut();
                c.net_output_bytes += out.len() as u64;
                c.writes_processed += 1;
            }
            if out.capacity() > 4 * READ_CHUNK {
                out = Vec::with_capacity(READ_CHUNK);
            } else {
                out.clear();
            }
        }
        if let Some(h) = st.handover.take() {
            hand_to_replication(st, stream, h);
            return Ok(());
        }
        if st.close || st.client.killed.get() {
            return Ok(());
        }
        // Let the other ready connections run before reading again: by the time this one
        // is back, its client has usually sent its next batch, and `try_recv` takes it
        // without a poll in the ring (glommio's read arms one when its recv finds nothing,
        // and after a read that does not fill the buffer, for the next data).
        futures_lite::future::yield_now().await;
    }
}

/// PSYNC/SYNC: the replica's socket moves to the replication executor, which serves it
/// from now on (this connection ends here; the duplicate descriptor stays open).
fn hand_to_replication(
    st: &mut ConnState,
    stream: &TcpStream,
    h: crate::replication::commands::Handover,
) {
    // SAFETY: duplicating a descriptor this connection owns.
    let fd = unsafe { libc::dup(stream.as_raw_fd()) };
    if fd < 0 {
        return;
    }
    let hello = st.replica_hello.take().unwrap_or_default();
    let addr = st.client.addr;
    st.shard.post(st.shard.nshards, move |r| {
        let node = r
            .node
            .get()
            .expect("the replication executor runs the node")
            .clone();
        glommio::spawn_local(crate::replication::downstream::serve(
            node, fd, addr, hello, h.replid, h.offset,
        ))
        .detach();
    });
}

/// A plain non-blocking `recv`: Some(bytes read, 0 at end of stream) when data (or the end)
/// is there already, None when the socket would block or failed (the caller then waits
/// through glommio, which reports the error).
fn try_recv(fd: i32, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: a non-blocking receive into a live buffer on a socket this connection owns.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    (n >= 0).then_some(n as usize)
}

fn buffer_limits(st: &ConnState) -> BufferLimits {
    let cfg = st.shard.config();
    BufferLimits {
        query_buffer: cfg.int(Opt::ClientQueryBufferLimit) as usize,
        parse: ParseLimits {
            max_bulk_len: cfg.int(Opt::ProtoMaxBulkLen) as usize,
            unauthenticated: st.auth_required(),
        },
    }
}

/// Checks a command before it runs: known, right arity, allowed. `Err` is the error reply.
/// A refused command: its table index if known, and the error reply.
type Refusal = (Option<usize>, Vec<u8>);

fn admit(st: &ConnState, args: &Args) -> Result<(usize, Option<&'static str>), Refusal> {
    let Some(idx) = commands::lookup(args.get(0)) else {
        return Err((None, commands::unknown_command_error(args)));
    };
    let def = &COMMANDS[idx];
    if !def.arity_ok(args.len()) {
        return Err((Some(idx), commands::arity_error(def.name).into_bytes()));
    }
    let sub = def.check_subcommand(args).map_err(|e| (Some(idx), e))?;
    if st.internal {
        return Ok((idx, sub));
    }
    if def.flags & flags::NO_AUTH == 0 && st.auth_required() {
        return Err((Some(idx), errors::NOAUTH.as_bytes().to_vec()));
    }
    if def.is_write() && st.shard.repl.read_only.get() {
        return Err((Some(idx), READONLY.as_bytes().to_vec()));
    }
    if def.is_write() && crate::persist::aof::write_failing(&st.shard.persist) {
        let msg = crate::persist::aof::WRITE_ERROR;
        return Err((Some(idx), msg.as_bytes().to_vec()));
    }
    if def.flags & flags::STALE == 0 && st.shard.repl.stale.get() {
        return Err((Some(idx), MASTERDOWN.as_bytes().to_vec()));
    }
    if def.flags & flags::LOADING == 0 && st.shard.persist.loading() {
        return Err((Some(idx), crate::persist::LOADING_ERROR.as_bytes().to_vec()));
    }
    if st.resp == 2 && st.subs.active() && !pubsub::allowed_when_subscribed(args.get(0)) {
        let full = match sub {
            Some(s) => format!("{}|{s}", def.name),
            None => def.name.to_string(),
        };
        return Err((Some(idx), pubsub::not_allowed_error(&full).into_bytes()));
    }
    Ok((idx, sub))
}

async fn run_batch(
    st: &mut ConnState,
    buf: &[u8],
    spans: &[(u32, u32)],
    cmds: &[(usize, usize)],
    out: &mut Vec<u8>,
) {
    let shard = st.shard.clone();
    let cfg = shard.config();
    let mut pending = Pending::default();
    let mut now = now_ms();
    if cmds.len() > 1 {
        let items = cmds.iter().filter_map(|&(first, n)| {
            let args = Args::new(buf, &spans[first..first + n]);
            (n > 1).then(|| {
                (
                    args.get(1),
                    (n > 2).then(|| args.get(2)),
                    (n > 3).then(|| args.get(3)),
                )
            })
        });
        shard.prefetch_keys(st.db, items);
    }
    for (i, &(first, n)) in cmds.iter().enumerate() {
        if i > 0 {
            step_reply_mode(st);
        }
        let args = Args::new(buf, &spans[first..first + n]);
        let suppress = matches!(st.reply_mode, ReplyMode::Off | ReplyMode::Skip);
        // Replies go straight to `out` unless earlier replies are still on their way.
        let direct = pending.order.is_empty();
        let start = if direct {
            out.len()
        } else {
            pending.local.len()
        };
        let idx = match admit(st, &args) {
            Ok((idx, sub)) => {
                st.client.last_sub.set(sub);
                idx
            }
            Err((cmd, msg)) => {
                multi::refused(st);
                let target = if direct {
                    &mut *out
                } else {
                    &mut pending.local
                };
                Reply::new(target, st.resp).error(&msg);
                let slot = cmd.map(|c| commands::stat_slot(c, &args));
                shard.data.borrow_mut().cmdstats.record_rejected(slot, &msg);
                finish_local(&mut pending, out, direct, start, suppress);
                continue;
            }
        };
        if multi::queues(st, &args) {
            let target = if direct {
                &mut *out
            } else {
                &mut pending.local
            };
            let start = target.len();
            multi::queue(st, idx, &args, target);
            finish_local(&mut pending, out, direct, start, suppress);
            continue;
        }
        let def = &COMMANDS[idx];
        st.client.last_cmd.set(def.name);
        let monitored = def.flags & (flags::ADMIN | flags::SKIP_MONITOR) == 0;
        if monitored && !matches!(def.kind, Kind::Conn(_)) && shard.monitors.active.get() {
            feed_monitors(st, &args).await;
        }
        if def.flags & flags::BLOCKING != 0 {
            flush(st, &mut pending, out).await;
            let start = out.len();
            blocking::run(st, idx, args, out).await;
            if suppress {
                out.truncate(start);
            }
            now = now_ms();
            continue;
        }
        match def.kind {
            Kind::Keyed(_) | Kind::Split(..) => match route(&shard, def, &args) {
                Some(s) if s == shard.id => {
                    let hashes = || shard.command_key_hashes(idx, &args);
                    if let Err(hashes) = shard.gate.keys_free(hashes) {
                        shard.gate.wait_keys_free(&hashes).await;
                    }
                    let target = if direct {
                        &mut *out
                    } else {
                        &mut pending.local
                    };
                    shard.running_for.set(Some(st.client.id));
                    shard.execute(&cfg, idx, args, st.db, st.resp, now, target);
                    shard.running_for.set(None);
                    finish_local(&mut pending, out, direct, start, suppress);
                }
                Some(s) => {
                    if pending.remote.is_empty() {
                        pending.remote.resize_with(shard.nshards, || None);
                    }
                    let batch = pending.remote[s].get_or_insert_with(RemoteBatch::default);
                    let first = batch.args.push(args.iter());
                    let k = batch.cmds.len();
                    batch
                        .cmds
                        .push((idx as u16, first as u32, args.len() as u32));
                    pending.order.push(if suppress {
                        Src::Skip
                    } else {
                        Src::Remote(s, k)
                    });
                }
                None => {
                    flush(st, &mut pending, out).await;
                    let start = out.len();
                    coord::run(&shard, None, idx, args, st.db, st.resp, out).await;
                    if suppress {
                        out.truncate(start);
                    }
                    now = now_ms();
                }
            },
            Kind::Conn(which) => {
                flush(st, &mut pending, out).await;
                let start = out.len();
                let t0 = cycles::now();
                crate::commands::server::run(which, st, args, out).await;
                let nanos = cycles::nanos(t0, cycles::now());
                // Monitors see a connection command after it ran (SELECT shows its new db).
                if monitored && shard.monitors.active.get() {
                    feed_monitors(st, &args).await;
                }
                let suppress = matches!(st.reply_mode, ReplyMode::Off | ReplyMode::Skip);
                {
                    let err = out.get(start).is_some_and(|&b| b == b'-');
                    let client = &st.client;
                    shard.data.borrow_mut().command_ran(
                        (shard.id, shard.nshards),
                        &cfg,
                        idx,
                        &args,
                        nanos,
                        err.then(|| &out[start..]),
                        || (client.addr.to_string(), client.name.borrow().clone()),
                    );
                }
                if suppress {
                    out.truncate(start);
                }
                now = now_ms();
                if st.close {
                    break;
                }
            }
        }
    }
    flush(st, &mut pending, out).await;
    if !cmds.is_empty() {
        step_reply_mode(st);
    }
}

/// Sends a command's MONITOR line, with AUTH's and HELLO's credentials redacted.
async fn feed_monitors(st: &ConnState, args: &Args<'_>) {
    let name = args.get(0);
    let redacted: Vec<bool> = (0..args.len())
        .map(|i| {
            if name.eq_ignore_ascii_case(b"auth") {
                i > 0
            } else if name.eq_ignore_ascii_case(b"hello") {
                (1..i).any(|j| args.get(j).eq_ignore_ascii_case(b"auth") && i - j <= 2)
            } else {
                false
            }
        })
        .collect();
    let addr = st.client.addr.to_string();
    let line = monitor::format_line(now_us(), st.db, &addr, args, &redacted);
    monitor::feed(&st.shard, line).await;
}

/// After a local command: record where its reply sits, or drop it if suppressed.
fn finish_local(
    pending: &mut Pending,
    out: &mut Vec<u8>,
    direct: bool,
    start: usize,
    suppress: bool,
) {
    if direct {
        if suppress {
            out.truncate(start);
        }
    } else if suppress {
        pending.local.truncate(start);
        pending.order.push(Src::Skip);
    } else {
        pending.order.push(Src::Local(start, pending.local.len()));
    }
}

/// After each command, as Redis's resetClient: a SKIP lasts one command, and CLIENT REPLY
/// SKIP arms it for the command that follows.
fn step_reply_mode(st: &mut ConnState) {
    st.reply_mode = match st.reply_mode {
        ReplyMode::Skip => ReplyMode::On,
        ReplyMode::SkipNext => ReplyMode::Skip,
        m => m,
    };
}

/// Sends each shard its batch (all at once), then writes every reply in request order.
async fn flush(st: &ConnState, pending: &mut Pending, out: &mut Vec<u8>) {
    if pending.order.is_empty() {
        return;
    }
    let shard = &st.shard;
    let (db, resp) = (st.db, st.resp);
    let futs: Vec<_> = pending
        .remote
        .iter_mut()
        .enumerate()
        .filter_map(|(s, b)| b.take().map(|b| (s, b)))
        .map(|(s, batch)| {
            let fut = shard.run_batch_on(s, batch, db, resp);
            async move { (s, fut.await) }
        })
        .collect();
    let results = join_all(futs).await;
    let mut by_shard: Vec<Option<(Vec<u8>, Vec<u32>)>> = (0..shard.nshards).map(|_| None).collect();
    for (s, r) in results {
        by_shard[s] = Some(r);
    }
    for src in pending.order.drain(..) {
        match src {
            Src::Local(a, b) => out.extend_from_slice(&pending.local[a..b]),
            Src::Remote(s, k) => {
                let (bytes, ends) = by_shard[s].as_ref().unwrap();
                let a = if k == 0 { 0 } else { ends[k - 1] as usize };
                out.extend_from_slice(&bytes[a..ends[k] as usize]);
            }
            Src::Skip => {}
        }
    }
    pending.local.clear();
}
