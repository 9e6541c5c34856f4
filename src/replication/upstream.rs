//! A link to a master: Redis's replica handshake plus KeyDB's UUID exchange, then full or
//! partial sync, then the stream, merged into the shards by stamp. Reconnects until removed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use super::record::{self, Reader};
use super::shard::Origin;
use super::Node;
use crate::config::Opt;
use crate::protocol::{parse_command, parse_i64, Args, ParseLimits, ParseResult};

pub struct Upstream {
    pub id: u64,
    pub host: String,
    pub port: u16,
    /// Redis's names: "connect", "connecting", "sync", "connected".
    pub state: Cell<&'static str>,
    pub master_uuid: Cell<Option<Origin>>,
    pub master_replid: RefCell<String>,
    /// The master's stream offset this node has everything up to (None: must sync fully).
    pub offset: Cell<Option<u64>>,
    pub last_io: Cell<Instant>,
    pub down_since: Cell<Instant>,
    stopped: Cell<bool>,
    pub full_syncs: Cell<u64>,
    pub partial_syncs: Cell<u64>,
    pub bytes: Cell<u64>,
    /// Milliseconds from the newest write's stamp to its arrival here, as last measured.
    pub lag_ms: Cell<u64>,
    pub sync_total: Cell<u64>,
    pub sync_read: Cell<u64>,
    pub last_error: RefCell<String>,
    /// Keys to ask the master for (RFETCH), and the signal that there are some.
    pub fetches: RefCell<Vec<(usize, Vec<u8>)>>,
    pub wake: super::Signal,
}

impl Upstream {
    pub fn new(id: u64, host: &str, port: u16) -> Self {
        Upstream {
            id,
            host: host.to_string(),
            port,
            state: Cell::new("connect"),
            master_uuid: Cell::new(None),
            master_replid: RefCell::new("?".into()),
            offset: Cell::new(None),
            last_io: Cell::new(Instant::now()),
            down_since: Cell::new(Instant::now()),
            stopped: Cell::new(false),
            full_syncs: Cell::new(0),
            partial_syncs: Cell::new(0),
            bytes: Cell::new(0),
            lag_ms: Cell::new(0),
            sync_total: Cell::new(0),
            sync_read: Cell::new(0),
            last_error: RefCell::new(String::new()),
            fetches: Default::default(),
            wake: Default::default(),
        }
    }

    pub fn stop(&self) {
        self.stopped.set(true);
    }

    pub fn is_up(&self) -> bool {
        self.state.get() == "connected"
    }
}

/// Keeps the link up until it is removed: connect, sync, stream; on any failure wait a
/// second and start again.
pub async fn run(node: Rc<Node>, link: Rc<Upstream>) {
    tracing::info!("Connecting to MASTER {}:{}", link.host, link.port);
    while !link.stopped.get() {
        let r = session(&node, &link).await;
        if link.is_up() || link.state.get() == "sync" {
            link.down_since.set(Instant::now());
        }
        link.state.set("connect");
        node.update_read_only().await;
        if let Err(e) = r {
            if !link.stopped.get() {
                tracing::warn!("MASTER {}:{} link: {e}", link.host, link.port);
                *link.last_error.borrow_mut() = e.to_string();
            }
        }
        if !link.stopped.get() {
            glommio::timer::sleep(Duration::from_secs(1)).await;
        }
    }
}

type Io<T> = std::io::Result<T>;

/// Records for one shard are handed over in messages of about this size.
const PART_BYTES: usize = 64 * 1024;

fn fail<T>(msg: impl Into<String>) -> Io<T> {
    Err(std::io::Error::other(msg.into()))
}

/// The connection to the master with a read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    async fn fill(&mut self, link: &Upstream) -> Io<()> {
        if self.start > 0 && self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return fail("connection closed by master");
        }
        self.end += n;
        link.last_io.set(Instant::now());
        link.bytes.set(link.bytes.get() + n as u64);
        Ok(())
    }

    /// One reply line, without CRLF (newlines the master sends as keepalives are skipped).
    async fn line(&mut self, link: &Upstream) -> Io<String> {
        loop {
            while self.start < self.end && self.buf[self.start] == b'\n' {
                self.start += 1;
            }
            if let Some(i) = self.buf[self.start..self.end]
                .iter()
                .position(|&b| b == b'\n')
            {
                let l = &self.buf[self.start..self.start + i];
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                let s = String::from_utf8_lossy(l).into_owned();
                self.start += i + 1;
                return Ok(s);
            }
            self.fill(link).await?;
        }
    }

    async fn command(&mut self, link: &Upstream, args: &[&str]) -> Io<String> {
        let mut b = format!("*{}\r\n", args.len());
        for a in args {
            b += &format!("${}\r\n{a}\r\n", a.len());
        }
        self.stream.write_all(b.as_bytes()).await?;
        self.line(link).await
    }
}

async fn session(node: &Rc<Node>, link: &Rc<Upstream>) -> Io<()> {
    let addr = format!("{}:{}", link.host, link.port);
    let timeout = Duration::from_secs(node.config().int(Opt::ReplTimeout) as u64);
    link.state.set("connecting");
    let addrs: Vec<_> = std::net::ToSocketAddrs::to_socket_addrs(&addr.as_str())?.collect();
    let Some(sock) = addrs.first() else {
        return fail(format!("cannot resolve {addr}"));
    };
    let stream = futures_lite::future::or(
        async { TcpStream::connect(sock).await.map_err(std::io::Error::from) },
        async {
            glommio::timer::sleep(timeout).await;
            fail("timeout connecting to the master")
        },
    )
    .await?;
    let _ = stream.set_nodelay(true);
    let mut c = Conn {
        stream,
        buf: vec![0; 64 * 1024],
        start: 0,
        end: 0,
    };
    tracing::info!("MASTER <-> REPLICA sync started with {addr}");
    handshake(node, link, &mut c).await?;
    let (replid, offset) = match link.offset.get() {
        Some(o) => (link.master_replid.borrow().clone(), (o + 1).to_string()),
        None => ("?".to_string(), "-1".to_string()),
    };
    let reply = c.command(link, &["PSYNC", &replid, &offset]).await?;
    let mut w = reply.split_whitespace();
    match w.next() {
        Some("+FULLRESYNC") => {
            let id = w.next().unwrap_or("?").to_string();
            let off: u64 = w.next().and_then(|o| o.parse().ok()).unwrap_or(0);
            tracing::info!("Full resync from master: {id}:{off}");
            link.state.set("sync");
            full_sync(node, link, &mut c).await?;
            *link.master_replid.borrow_mut() = id;
            link.offset.set(Some(off));
            link.full_syncs.set(link.full_syncs.get() + 1);
        }
        Some("+CONTINUE") => {
            if let Some(id) = w.next() {
                *link.master_replid.borrow_mut() = id.to_string();
            }
            tracing::info!("Successful partial resynchronization with master {addr}.");
            link.partial_syncs.set(link.partial_syncs.get() + 1);
        }
        _ => return fail(format!("unexpected reply to PSYNC: {reply}")),
    }
    link.state.set("connected");
    node.update_read_only().await;
    node.shard.broadcast(|sh| sh.refetch_pending()).await;
    tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished a full one ({addr}).");
    follow(node, link, &mut c, timeout).await
}

async fn handshake(node: &Rc<Node>, link: &Upstream, c: &mut Conn) -> Io<()> {
    let cfg = node.config();
    let pong = c.command(link, &["PING"]).await?;
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return fail(format!("error reply to PING from master: {pong}"));
    }
    let pass = cfg.str(Opt::Masterauth).to_string();
    if !pass.is_empty() {
        let user = cfg.str(Opt::Masteruser).to_string();
        let r = if user.is_empty() {
            c.command(link, &["AUTH", &pass]).await?
        } else {
            c.command(link, &["AUTH", &user, &pass]).await?
        };
        if r.starts_with('-') {
            return fail(format!("Unable to AUTH to MASTER: {r}"));
        }
    }
    let port = cfg.int(Opt::Port).to_string();
    let r = c
        .command(link, &["REPLCONF", "listening-port", &port])
        .await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF listening-port: {r}");
    }
    let r = c
        .command(
            link,
            &[
                "REPLCONF",
                "capa",
                "eof",
                "capa",
                "psync2",
                "capa",
                "activeExpire",
                "capa",
                "tandem",
            ],
        )
        .await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF capa: {r}");
    }
    let me = node.uuid.hyphenated().to_string();
    let r = c.command(link, &["REPLCONF", "uuid", &me]).await?;
    match r
        .strip_prefix('+')
        .and_then(|u| uuid::Uuid::parse_str(u.trim()).ok())
    {
        Some(theirs) if theirs == node.uuid => {
            return fail("this link leads back to this node itself (same UUID)")
        }
        Some(theirs) => {
            if link
                .master_uuid
                .get()
                .is_some_and(|u| u != theirs.as_u128())
            {
                // Another process now: what we had from the old one says nothing about it.
                link.offset.set(None);
            }
            link.master_uuid.set(Some(theirs.as_u128()))
        }
        None => link.master_uuid.set(None),
    }
    Ok(())
}

/// Receives the master's RDB and merges it (a plain replica first empties its data, as
/// Redis does; an active one merges by stamp and keeps what is newer).
async fn full_sync(node: &Rc<Node>, link: &Upstream, c: &mut Conn) -> Io<()> {
    let head = c.line(link).await?;
    let Some(spec) = head.strip_prefix('$') else {
        return fail(format!("bad sync payload header: {head}"));
    };
    let rdb: Vec<u8> = if let Some(mark) = spec.strip_prefix("EOF:") {
        // The stream may follow the mark in the same read: look for the mark in what
        // arrived (from a little before, in case it was split), not only at the end.
        let mark = mark.as_bytes().to_vec();
        let mut scanned = 0usize;
        loop {
            let have = &c.buf[c.start..c.end];
            link.sync_read.set(have.len() as u64);
            let from = scanned.saturating_sub(mark.len());
            if let Some(i) = have[from..].windows(mark.len()).position(|w| w == mark) {
                let v = have[..from + i].to_vec();
                c.start += from + i + mark.len();
                break v;
            }
            scanned = have.len();
            c.fill(link).await?;
        }
    } else {
        let Ok(len) = spec.parse::<usize>() else {
            return fail(format!("bad sync payload length: {head}"));
        };
        link.sync_total.set(len as u64);
        while c.end - c.start < len {
            link.sync_read.set((c.end - c.start) as u64);
            if c.buf.len() - c.start < len {
                let want = c.start + len;
                c.buf.resize(want.max(c.buf.len()), 0);
            }
            c.fill(link).await?;
        }
        let v = c.buf[c.start..c.start + len].to_vec();
        c.start += len;
        v
    };
    tracing::info!(
        "MASTER <-> REPLICA sync: received {} bytes of RDB, merging",
        rdb.len()
    );
    if !node.active() {
        node.shard
            .broadcast(|sh| {
                for db in sh.data.borrow_mut().store.dbs.iter_mut() {
                    db.clear();
                }
            })
            .await;
    }
    let origin = link.master_uuid.get().unwrap_or(0);
    let id = link.id;
    let mut parts: Vec<Vec<u8>> = vec![vec![]; node.shard.nshards];
    let mut sends = vec![];
    let r = super::snapshot::file_to_records(&rdb, |rec| {
        // Records just made from the file: they parse.
        let _ = route(node, rec, &mut parts, PART_BYTES, |s, b| sends.push((s, b)));
    });
    if let Err(e) = r {
        return fail(format!("the master's RDB does not load: {}", e.0));
    }
    for (s, batch) in sends {
        apply_on(node, s, origin, batch, id).await;
    }
    flush_parts(node, origin, &mut parts, id).await;
    tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    // A plain replica replaced its data wholesale, which the append-only log has no records
    // for: it starts again from a new base (as Redis rewrites after a full sync).
    if !node.active() && node.config().bool(Opt::Appendonly) {
        if let Err(e) = crate::persist::aof::bgrewriteaof(&node.shard, false).await {
            tracing::warn!("rewriting the append-only log after a full sync: {e}");
        }
    }
    Ok(())
}

/// Splits records by owning shard into `parts`, handing a part to `send` once it holds
/// `limit` bytes. Stops at a malformed record.
fn route(
    node: &Node,
    records: &[u8],
    parts: &mut [Vec<u8>],
    limit: usize,
    mut send: impl FnMut(usize, Vec<u8>),
) -> Result<(), record::Malformed> {
    for item in Reader::new(records) {
        let (r, raw) = item?;
        if r.tag == record::FLUSH {
            for p in parts.iter_mut() {
                p.extend_from_slice(raw);
            }
        } else {
            parts[node.shard.shard_of(r.key)].extend_from_slice(raw);
        }
    }
    for (s, p) in parts.iter_mut().enumerate() {
        if p.len() >= limit {
            send(s, std::mem::take(p));
        }
    }
    Ok(())
}

/// Follows the stream: RBATCH frames are merged, PING is a keepalive, REPLCONF GETACK gets
/// an ack; an ack goes to the master every second.
async fn follow(node: &Rc<Node>, link: &Rc<Upstream>, c: &mut Conn, timeout: Duration) -> Io<()> {
    let limits = ParseLimits {
        max_bulk_len: usize::MAX >> 1,
        unauthenticated: false,
    };
    let mut spans = vec![];
    let mut last_ack = Instant::now();
    let me = node.me();
    loop {
        if link.stopped.get() {
            return Ok(());
        }
        // Everything complete in the buffer.
        let mut parts: Vec<Vec<u8>> = vec![vec![]; node.shard.nshards];
        let mut origin_of_parts: Option<Origin> = None;
        loop {
            spans.clear();
            let at = c.start;
            let parsed = match parse_command(&mut c.buf[at..c.end], at, &limits, &mut spans) {
                Ok(ParseResult::Complete(p)) => p,
                Ok(ParseResult::Incomplete { .. }) => break,
                Err(e) => return fail(format!("protocol error from master: {}", e.message())),
            };
            c.start += parsed.consumed;
            let args = Args::new(&c.buf, &spans);
            if args.is_empty() {
                continue;
            }
            let name = args.get(0);
            if name.eq_ignore_ascii_case(b"rbatch") && (args.len() == 4 || args.len() == 5) {
                let origin = std::str::from_utf8(args.get(1))
                    .ok()
                    .and_then(|u| uuid::Uuid::parse_str(u).ok())
                    .map(|u| u.as_u128())
                    .unwrap_or(0);
                let start = parse_i64(args.get(2)).unwrap_or(0) as u64;
                link.offset.set(Some(start + parsed.consumed as u64));
                if origin == me {
                    continue;
                }
                let unit = args.len() == 5;
                if origin_of_parts.is_some_and(|o| o != origin) || unit {
                    if let Some(o) = origin_of_parts.take() {
                        flush_parts(node, o, &mut parts, link.id).await;
                    }
                }
                let payload = args.get(3).to_vec();
                note_stamps(link, &payload);
                if unit {
                    apply_unit(node, origin, &payload, link.id).await;
                    continue;
                }
                origin_of_parts = Some(origin);
                let mut ready = vec![];
                let routed = route(node, &payload, &mut parts, PART_BYTES, |s, b| {
                    ready.push((s, b))
                });
                if routed.is_err() {
                    return fail("malformed records from master");
                }
                for (s, b) in ready {
                    apply_on(node, s, origin, b, link.id).await;
                }
            } else if name.eq_ignore_ascii_case(b"replconf")
                && args.len() >= 2
                && args.get(1).eq_ignore_ascii_case(b"getack")
            {
                last_ack = Instant::now() - Duration::from_secs(2);
            } else if !name.eq_ignore_ascii_case(b"ping") {
                tracing::debug!(
                    "replica: ignoring {} from the master",
                    String::from_utf8_lossy(name)
                );
            }
        }
        if let Some(o) = origin_of_parts {
            flush_parts(node, o, &mut parts, link.id).await;
        }
        let fetches = std::mem::take(&mut *link.fetches.borrow_mut());
        if !fetches.is_empty() {
            let mut req = vec![];
            for (db, key) in fetches {
                let db = db.to_string();
                req.extend_from_slice(
                    format!(
                        "*3\r\n$6\r\nRFETCH\r\n${}\r\n{db}\r\n${}\r\n",
                        db.len(),
                        key.len()
                    )
                    .as_bytes(),
                );
                req.extend_from_slice(&key);
                req.extend_from_slice(b"\r\n");
            }
            c.stream.write_all(&req).await?;
        }
        if last_ack.elapsed() >= Duration::from_secs(1) {
            last_ack = Instant::now();
            let off = link.offset.get().unwrap_or(0).to_string();
            let ack = format!(
                "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{off}\r\n",
                off.len()
            );
            c.stream.write_all(ack.as_bytes()).await?;
        }
        if link.last_io.get().elapsed() > timeout {
            return fail("timeout: no data from the master (repl-timeout)");
        }
        let read = async { Some(c.fill(link).await) };
        let tick = async {
            futures_lite::future::or(
                glommio::timer::sleep(Duration::from_millis(1000)),
                link.wake.wait(),
            )
            .await;
            None
        };
        if let Some(r) = futures_lite::future::or(read, tick).await {
            r?;
        }
    }
}

/// Applies a transaction's records atomically: under the locks of every shard they touch.
async fn apply_unit(node: &Rc<Node>, origin: Origin, records: &[u8], link: u64) {
    let mut parts: Vec<Vec<u8>> = vec![vec![]; node.shard.nshards];
    // (A malformed unit applies what parsed before it, as any batch does.)
    let _ = route(node, records, &mut parts, usize::MAX, |_, _| {});
    let shards: Vec<usize> = (0..parts.len()).filter(|&s| !parts[s].is_empty()).collect();
    if shards.len() <= 1 {
        return flush_parts(node, origin, &mut parts, link).await;
    }
    let tx = node.shard.new_tx();
    for &s in &shards {
        let part = std::mem::take(&mut parts[s]);
        node.shard
            .lock_and_run(s, tx, move |sh| sh.apply_remote(origin, &part, link))
            .await;
    }
    node.shard.unlock_all(shards.iter().copied(), tx).await;
}

/// Hands every non-empty part to its shard to merge.
async fn flush_parts(node: &Rc<Node>, origin: Origin, parts: &mut [Vec<u8>], link: u64) {
    for (s, p) in parts.iter_mut().enumerate() {
        if !p.is_empty() {
            apply_on(node, s, origin, std::mem::take(p), link).await;
        }
    }
}

/// Has shard `s` merge a batch of records from master link `link` (waiting for room in the
/// channel: backpressure on the link).
async fn apply_on(node: &Rc<Node>, s: usize, origin: Origin, batch: Vec<u8>, link: u64) {
    node.shard
        .post_wait(s, move |sh| sh.apply_remote(origin, &batch, link))
        .await;
}

/// Measures the link's lag in milliseconds from the newest stamp in a frame.
fn note_stamps(link: &Upstream, records: &[u8]) {
    let newest = Reader::new(records)
        .filter_map(|r| r.ok())
        .map(|(r, _)| r.stamp)
        .max()
        .unwrap_or(0);
    if newest != 0 {
        let ms = crate::store::clock::stamp_ms(newest);
        link.lag_ms.set(crate::util::now_ms().saturating_sub(ms));
    }
}
