//! Serving a replica: the connection a replica opened with PSYNC, handed over by its shard.
//!
//! A Tandem replica gets RBATCH frames from the backlog (minus those that came from it); any
//! other replica (redis-server, KeyDB) gets the same records as plain commands in absolute
//! form (SET … PXAT, RESTORE … ABSTTL REPLACE, DEL, FLUSHDB) and always a full sync.

use std::cell::Cell;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use super::record::{self, PUT, PUT_STR};
use super::{Node, Signal};
use crate::config::Opt;
use crate::rdb::{crc64, op, Encoder};

/// A replica further behind than this is dropped (Redis's default hard output buffer limit
/// for replicas) and has to sync again; the backlog keeps frames for replicas closer than it.
pub const MAX_LAG_BYTES: u64 = 256 << 20;

/// What a replica said before PSYNC (REPLCONF).
#[derive(Debug, Clone, Default)]
pub struct Hello {
    pub listening_port: u16,
    pub capa_eof: bool,
    pub tandem: bool,
    pub uuid: Option<u128>,
    /// The old SYNC command rather than PSYNC: the RDB comes with no +FULLRESYNC line.
    pub sync: bool,
    /// `REPLCONF rdb-only 1` (`redis-cli --rdb`): the RDB and nothing after it.
    pub rdb_only: bool,
    /// `REPLCONF rdb-filter-only functions` (`redis-cli --functions-rdb`): an RDB without
    /// keys (Tandem has no functions to put in it).
    pub functions_only: bool,
}

pub struct Downstream {
    pub id: u64,
    pub addr: SocketAddr,
    pub hello: Hello,
    /// "wait_bgsave", "send_bulk" or "online".
    pub state: Cell<&'static str>,
    /// The backlog offset to send from next.
    pub cursor: Cell<u64>,
    /// Where the replica's offset will stand once it has what was sent (its own count of
    /// stream bytes for plain replicas, the backlog offset for Tandem ones).
    pub position: Cell<u64>,
    pub acked: Cell<u64>,
    pub last_ack: Cell<Instant>,
    pub signal: Signal,
    pub closed: Cell<bool>,
    /// For plain replicas: the database the commands sent last apply to.
    db: Cell<Option<usize>>,
    pub sync_done: Cell<u64>,
    pub sync_total: Cell<u64>,
    /// WAIT wants an ack now: REPLCONF GETACK goes out with the next write.
    getack: Cell<bool>,
    /// Notified by every ACK the replica sends.
    first_ack: Signal,
}

impl Downstream {
    pub fn request_ack(&self) {
        if !self.getack.replace(true) {
            self.signal.notify();
        }
    }

    pub fn lag_secs(&self) -> u64 {
        self.last_ack.get().elapsed().as_secs()
    }
}

/// Takes over a replica's connection after PSYNC `replid` `offset` (`leftover`: bytes it
/// sent after PSYNC).
pub async fn serve(
    node: Rc<Node>,
    fd: RawFd,
    addr: SocketAddr,
    hello: Hello,
    replid: String,
    offset: i64,
) {
    // SAFETY: `fd` was duplicated for this executor by the shard that accepted it; the read
    // side gets a duplicate of its own so that acks are read while frames are written.
    let mut out = unsafe { TcpStream::from_raw_fd(fd) };
    let input = unsafe { TcpStream::from_raw_fd(libc::dup(fd)) };
    node.enable_capture().await;
    let link = Rc::new(Downstream {
        id: node.next_link_id(),
        addr,
        hello,
        state: Cell::new("wait_bgsave"),
        cursor: Cell::new(0),
        position: Cell::new(0),
        acked: Cell::new(0),
        last_ack: Cell::new(Instant::now()),
        signal: Signal::default(),
        closed: Cell::new(false),
        db: Cell::new(None),
        sync_done: Cell::new(0),
        sync_total: Cell::new(0),
        getack: Cell::new(false),
        first_ack: Signal::default(),
    });
    let r = session(&node, &link, &mut out, input, &replid, offset).await;
    link.closed.set(true);
    node.replicas.borrow_mut().retain(|l| l.id != link.id);
    if !node.replicas.borrow().iter().any(|l| !l.hello.tandem) {
        node.set_ops(true).await;
    }
    match r {
        Ok(()) => tracing::info!("Connection with replica {} lost.", link.addr),
        Err(e) => tracing::warn!("Replica {}: {e}", link.addr),
    }
}

async fn session(
    node: &Rc<Node>,
    link: &Rc<Downstream>,
    out: &mut TcpStream,
    input: TcpStream,
    replid: &str,
    offset: i64,
) -> std::io::Result<()> {
    let tandem = link.hello.tandem;
    let resume = offset - 1;
    let partial = tandem
        && replid == node.replid
        && resume >= 0
        && node.backlog.borrow().can_continue(resume as u64);
    node.replicas.borrow_mut().push(link.clone());
    if partial {
        link.cursor.set(resume as u64);
        link.position.set(resume as u64);
        out.write_all(format!("+CONTINUE {}\r\n", node.replid).as_bytes())
            .await?;
        tracing::info!(
            "Partial resynchronization request from {} accepted, offset {resume}.",
            link.addr
        );
    } else {
        let rdb_only = link.hello.rdb_only;
        if !tandem && !rdb_only {
            // Before the stream starts: from here on no shard writes OP records.
            node.set_ops(false).await;
        }
        let start = node.backlog.borrow().next;
        link.cursor.set(start);
        link.position.set(start);
        if !link.hello.sync {
            out.write_all(format!("+FULLRESYNC {} {start}\r\n", node.replid).as_bytes())
                .await?;
        }
        tracing::info!("Full resync requested by replica {}: starting.", link.addr);
        link.state.set("send_bulk");
        send_snapshot(node, link, out).await?;
        tracing::info!("Synchronization with replica {} succeeded", link.addr);
        if rdb_only {
            // As Redis: the RDB is all an rdb-only replica gets; the connection ends here.
            return Ok(());
        }
    }
    let reader = glommio::spawn_local(read_acks(node.clone(), link.clone(), input));
    if !tandem && link.hello.capa_eof {
        // As a Redis master: a replica that read the RDB up to its EOF mark says so with its
        // first ACK, and only then may the stream follow (it looks for the mark at the end
        // of what it reads).
        let timeout = Duration::from_secs(node.config().int(Opt::ReplTimeout) as u64);
        let acked = async {
            link.first_ack.wait().await;
            true
        };
        let gave_up = async {
            glommio::timer::sleep(timeout).await;
            false
        };
        if !futures_lite::future::or(acked, gave_up).await {
            return Err(std::io::Error::other("no ACK after the RDB"));
        }
    }
    link.state.set("online");
    link.last_ack.set(Instant::now());
    let r = stream(node, link, out).await;
    link.closed.set(true);
    drop(reader);
    r
}

/// Sends the snapshot: RDB with an EOF mark if the replica can take it (streamed as the
/// shards produce it), else with its length up front (built whole first).
async fn send_snapshot(
    node: &Rc<Node>,
    link: &Downstream,
    out: &mut TcpStream,
) -> std::io::Result<()> {
    let cfg = node.config();
    let compress = cfg.bool(Opt::Rdbcompression);
    let eof = link.hello.capa_eof;
    let mark: String =
        uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()[..8];
    let mut pending: Vec<u8> = vec![];
    let mut crc = 0u64;
    if eof {
        out.write_all(format!("$EOF:{mark}\r\n").as_bytes()).await?;
    }
    let mut head = Encoder::new(false);
    head.header(crate::util::now_ms() / 1000, 0);
    let total: usize = {
        let mut t = 0;
        for db in 0..cfg.databases() {
            t += node
                .shard
                .broadcast(move |sh| sh.db_population(db).0)
                .await
                .iter()
                .sum::<usize>();
        }
        t
    };
    link.sync_total.set(total as u64);
    emit(out, eof, &mut pending, &mut crc, &head.buf).await?;
    let mut logged = Instant::now();
    let dbs = if link.hello.functions_only {
        0
    } else {
        cfg.databases()
    };
    for db in 0..dbs {
        let pops = node.shard.broadcast(move |sh| sh.db_population(db)).await;
        if pops.iter().all(|&(k, t)| k == 0 && t == 0) {
            continue;
        }
        let mut sel = Encoder::new(false);
        sel.byte(op::SELECTDB);
        sel.length(db as u64);
        emit(out, eof, &mut pending, &mut crc, &sel.buf).await?;
        for s in 0..node.shard.nshards {
            let mut top = None;
            loop {
                let (chunk, next) = node
                    .shard
                    .run_on(s, None, move |sh| {
                        sh.snapshot_chunk(db, top, super::snapshot::CHUNK_KEYS, compress)
                    })
                    .await;
                emit(out, eof, &mut pending, &mut crc, &chunk).await?;
                link.sync_done
                    .set(link.sync_done.get() + super::snapshot::CHUNK_KEYS as u64);
                if logged.elapsed() >= Duration::from_secs(1) {
                    logged = Instant::now();
                    let perc = link.sync_done.get().min(total as u64) * 100 / total.max(1) as u64;
                    tracing::info!(
                        "Full sync to replica {}: {perc}% of the keys sent",
                        link.addr
                    );
                }
                if next == 0 {
                    break;
                }
                top = Some(next);
            }
        }
    }
    crc = crc64::update(crc, &[op::EOF]);
    let mut tail = vec![op::EOF];
    tail.extend_from_slice(&crc.to_le_bytes());
    if eof {
        tail.extend_from_slice(mark.as_bytes());
        out.write_all(&tail).await?;
    } else {
        pending.extend_from_slice(&tail);
        out.write_all(format!("${}\r\n", pending.len()).as_bytes())
            .await?;
        out.write_all(&pending).await?;
    }
    link.sync_done.set(total as u64);
    Ok(())
}

async fn emit(
    out: &mut TcpStream,
    eof: bool,
    pending: &mut Vec<u8>,
    crc: &mut u64,
    bytes: &[u8],
) -> std::io::Result<()> {
    *crc = crc64::update(*crc, bytes);
    if eof {
        out.write_all(bytes).await
    } else {
        pending.extend_from_slice(bytes);
        Ok(())
    }
}

/// Streams the backlog from the link's cursor, pinging when idle.
async fn stream(
    node: &Rc<Node>,
    link: &Rc<Downstream>,
    out: &mut TcpStream,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut last_write = Instant::now();
    loop {
        if link.closed.get() {
            return Ok(());
        }
        buf.clear();
        let mut cursor = link.cursor.get();
        // Where the replica's offset stands once it has this buffer (Tandem replicas count
        // the frames they get; others every byte).
        let mut position = link.position.get();
        {
            let b = node.backlog.borrow();
            if cursor < b.first() {
                return Err(std::io::Error::other(
                    "replica fell behind the backlog; it must sync again",
                ));
            }
            for f in b.since(cursor) {
                if buf.len() >= 1 << 20 {
                    break;
                }
                cursor = f.end();
                if link.hello.uuid == Some(f.origin) {
                    continue;
                }
                if link.hello.tandem {
                    buf.extend_from_slice(&f.bytes);
                    position = f.end();
                } else {
                    plain_commands(link, f.records(), &mut buf);
                }
            }
        }
        link.cursor.set(cursor);
        if link.getack.replace(false) {
            const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
            buf.extend_from_slice(GETACK);
        }
        if !buf.is_empty() {
            // A replica that stopped reading must not hold this task forever: the write
            // gives up with the ack timeout.
            let timeout = Duration::from_secs(node.config().int(Opt::ReplTimeout) as u64);
            let left = timeout.saturating_sub(link.last_ack.get().elapsed());
            let give_up = async {
                glommio::timer::sleep(left).await;
                Err(std::io::Error::other(
                    "no ACK from the replica (repl-timeout)",
                ))
            };
            futures_lite::future::or(out.write_all(&buf), give_up).await?;
            last_write = Instant::now();
            if !link.hello.tandem {
                position += buf.len() as u64;
            }
            link.position.set(position);
            continue;
        }
        if link.cursor.get() != node.backlog.borrow().next {
            continue;
        }
        let period = Duration::from_secs(node.config().int(Opt::ReplPingReplicaPeriod) as u64);
        // As Redis: a replica that has not acknowledged anything for `repl-timeout` is gone.
        let timeout = Duration::from_secs(node.config().int(Opt::ReplTimeout) as u64);
        let silent = link.last_ack.get().elapsed();
        if silent > timeout {
            return Err(std::io::Error::other(format!(
                "no ACK from the replica for {} s (repl-timeout)",
                silent.as_secs()
            )));
        }
        let idle = period
            .saturating_sub(last_write.elapsed())
            .min(timeout - silent + Duration::from_millis(10));
        if idle.is_zero() {
            const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
            out.write_all(PING).await?;
            last_write = Instant::now();
            if !link.hello.tandem {
                link.position.set(link.position.get() + PING.len() as u64);
            }
            continue;
        }
        futures_lite::future::or(link.signal.wait(), glommio::timer::sleep(idle)).await;
    }
}

/// Reads what a replica sends after sync: REPLCONF ACK <offset>, and RFETCH <db> <key>
/// (send me that key whole: an OP record met another base there).
async fn read_acks(node: Rc<Node>, link: Rc<Downstream>, mut input: TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut have = 0;
    let limits = crate::protocol::ParseLimits::default();
    loop {
        if have == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match input.read(&mut buf[have..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        have += n;
        let mut pos = 0;
        let mut spans = vec![];
        loop {
            spans.clear();
            match crate::protocol::parse_command(&mut buf[pos..have], pos, &limits, &mut spans) {
                Ok(crate::protocol::ParseResult::Complete(p)) => {
                    let args = crate::protocol::Args::new(&buf, &spans);
                    if p.nargs >= 3
                        && args.get(0).eq_ignore_ascii_case(b"replconf")
                        && args.get(1).eq_ignore_ascii_case(b"ack")
                    {
                        if let Some(o) = crate::protocol::parse_i64(args.get(2)) {
                            link.acked.set(o.max(0) as u64);
                            link.last_ack.set(Instant::now());
                            link.first_ack.notify();
                        }
                    } else if p.nargs == 3 && args.get(0).eq_ignore_ascii_case(b"rfetch") {
                        let db = crate::protocol::parse_i64(args.get(1)).unwrap_or(-1);
                        let key = args.get(2).to_vec();
                        if db >= 0 {
                            let owner = node.shard.shard_of(&key);
                            node.shard
                                .post(owner, move |sh| sh.refetch(db as usize, &key));
                        }
                    }
                    pos += p.consumed;
                }
                _ => break,
            }
        }
        buf.copy_within(pos..have, 0);
        have -= pos;
    }
    link.closed.set(true);
    link.signal.notify();
}

/// A frame's records as the commands a plain replica runs.
fn plain_commands(link: &Downstream, records: &[u8], out: &mut Vec<u8>) {
    let mut itoa = itoa::Buffer::new();
    for item in record::Reader::new(records) {
        let Ok((r, _)) = item else {
            return;
        };
        if link.db.get() != Some(r.db) {
            link.db.set(Some(r.db));
            command(out, &[b"SELECT", itoa.format(r.db).as_bytes()]);
        }
        match r.tag {
            PUT_STR if r.expire_at != 0 => {
                let at = itoa.format(r.expire_at).as_bytes().to_vec();
                command(out, &[b"SET", r.key, r.value, b"PXAT", &at]);
            }
            PUT_STR => command(out, &[b"SET", r.key, r.value]),
            PUT => {
                let mut payload = r.value.to_vec();
                payload.extend_from_slice(&(crate::rdb::VERSION as u16).to_le_bytes());
                let crc = crc64::update(0, &payload);
                payload.extend_from_slice(&crc.to_le_bytes());
                let ttl = itoa.format(r.expire_at).as_bytes().to_vec();
                command(
                    out,
                    &[b"RESTORE", r.key, &ttl, &payload, b"REPLACE", b"ABSTTL"],
                );
            }
            record::DEL => command(out, &[b"DEL", r.key]),
            record::OP => {
                // Not written while such a replica is attached; kept correct regardless.
                if let Ok((buf, spans)) = record::op_args(&r) {
                    let args = crate::protocol::Args::new(&buf, &spans);
                    command(out, &args.iter().collect::<Vec<_>>());
                    let at = itoa.format(r.expire_at).as_bytes().to_vec();
                    match r.expire_at {
                        0 => command(out, &[b"PERSIST", r.key]),
                        _ => command(out, &[b"PEXPIREAT", r.key, &at]),
                    }
                }
            }
            _ => command(out, &[b"FLUSHDB"]),
        }
    }
}

fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let mut itoa = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(itoa.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(itoa.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// What INFO replication shows of a replica.
pub fn describe(l: &Downstream) -> String {
    let ip = match l.addr.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.to_string(), |v| v.to_string()),
        v4 => v4.to_string(),
    };
    format!(
        "ip={ip},port={},state={},offset={},lag={}",
        l.hello.listening_port,
        l.state.get(),
        l.acked.get(),
        l.lag_secs()
    )
}
