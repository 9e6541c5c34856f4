//! Process start-up: the shard executors, the replication executor, listeners and the
//! per-shard background cycle (active expiry, ops/sec sampling, idle client timeout).

pub mod blocking;
pub mod clients;
pub mod conn;
pub mod monitor;
pub mod multi;
pub mod notify;
pub mod pubsub;
pub mod stats;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use glommio::channels::channel_mesh::MeshBuilder;
use glommio::net::{TcpListener, TcpStream};
use glommio::{CpuSet, LocalExecutorBuilder, Placement};
use socket2::{Domain, Socket, Type};

use crate::config::{Config, Opt};
use crate::persist::Persistence;
use crate::shard::{Msg, Shard};
use crate::util::{now_ms, Rng};

/// Redis's reply to a non-loopback client while protected mode is on.
const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// How many shard executors to run: the option, or one per online core.
pub fn shard_count(cfg: &Config) -> usize {
    match cfg.int(Opt::ServerThreads) {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n as usize,
    }
}

/// The cores to pin shard `i` to, from `server-thread-affinity` (no / yes / a core list).
fn placement_for(cfg: &Config, i: usize) -> Result<Placement, String> {
    let spec = cfg
        .str(Opt::ServerThreadAffinity)
        .trim()
        .to_ascii_lowercase();
    if spec == "no" || spec.is_empty() {
        return Ok(Placement::Unbound);
    }
    let cores: Vec<usize> = if spec == "yes" {
        (0..std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1))
            .collect()
    } else {
        parse_core_list(&spec).ok_or_else(|| format!("bad server-thread-affinity '{spec}'"))?
    };
    let core = cores[i % cores.len()];
    Ok(Placement::Fenced(
        CpuSet::online()
            .map_err(|e| e.to_string())?
            .filter(|l| l.cpu == core),
    ))
}

/// Parses "0,2,4-7" into core numbers.
fn parse_core_list(s: &str) -> Option<Vec<usize>> {
    let mut out = vec![];
    for part in s.split([',', ' ']).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<usize>().ok()?..=b.parse::<usize>().ok()?),
            None => out.push(part.parse().ok()?),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The addresses to listen on, from `bind` ("-" marks one whose failure is not fatal).
fn bind_addrs(cfg: &Config, port: u16) -> Vec<(SocketAddr, bool)> {
    cfg.str(Opt::Bind)
        .split_whitespace()
        .map(|w| {
            let (optional, host) = match w.strip_prefix('-') {
                Some(h) => (true, h),
                None => (false, w),
            };
            let host = match host {
                "*" => "0.0.0.0",
                "::*" => "::",
                h => h,
            };
            let ip: std::net::IpAddr = host.parse().unwrap_or([127, 0, 0, 1].into());
            (SocketAddr::new(ip, port), optional)
        })
        .collect()
}

fn listen_socket(addr: SocketAddr, reuse_port: bool, backlog: i32) -> std::io::Result<StdListener> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sock = Socket::new(domain, Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    // A Tandem killed a moment ago still holds its port for a few milliseconds: its pending
    // io_uring requests keep the listening socket open until the kernel's asynchronous ring
    // teardown has run (4–11 ms measured after SIGKILL; SO_REUSEADDR does not cover a live
    // listener). Retry for a while, so that an immediate restart works as it does with Redis;
    // a port that stays taken fails after `BIND_RETRY_FOR`.
    let deadline = std::time::Instant::now() + BIND_RETRY_FOR;
    loop {
        match sock.bind(&addr.into()) {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => break result?,
        }
    }
    sock.listen(backlog)?;
    Ok(sock.into())
}

/// How long binding waits for a port that is in use (see `listen_socket`).
const BIND_RETRY_FOR: Duration = Duration::from_secs(1);

/// Works around a glommio 0.9 lost wakeup: an executor parked in `io_uring_enter` sometimes
/// misses the completion that should wake it (a timer, a message from another shard) and
/// sleeps on with work pending (seen here as requests stuck for seconds, and as startup
/// hangs). A signal interrupts the wait (EINTR), after which the executor looks at all its
/// work again. So a watchdog thread sends every executor a no-op signal every few ms:
/// a stall then lasts at most that long, at a cost of a few µs per kick.
mod kick {
    use std::time::Duration;

    const SIGNAL: i32 = libc::SIGURG;

    extern "C" fn ignore(_: i32) {}

    /// Installs the no-op handler, without SA_RESTART so that a wait is interrupted.
    pub fn install() {
        // SAFETY: sigaction with a handler that does nothing, set before threads start.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ignore as *const () as usize;
            sa.sa_flags = 0;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(SIGNAL, &sa, std::ptr::null_mut());
        }
    }

    /// Thread ids of this process's executors, found by name in /proc (no registration, so
    /// an executor that never got to run its first task is kicked too). glommio names its
    /// helper threads after their executor; the executor itself, which starts them, has the
    /// lowest id of its name, and only it waits in io_uring.
    fn executor_threads() -> Vec<i32> {
        let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
            return vec![];
        };
        let mut by_name: std::collections::HashMap<String, i32> = Default::default();
        for e in dir.flatten() {
            let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) else {
                continue;
            };
            let Some(tid) = e.file_name().to_str().and_then(|t| t.parse::<i32>().ok()) else {
                continue;
            };
            if comm.starts_with("tandem-shard") || comm.starts_with("tandem-repl") {
                let min = by_name.entry(comm).or_insert(tid);
                *min = (*min).min(tid);
            }
        }
        by_name.into_values().collect()
    }

    /// Starts the watchdog thread: kicks every executor thread every `every`.
    pub fn spawn(every: Duration) {
        std::thread::Builder::new()
            .name("tandem-kick".into())
            .spawn(move || {
                let pid = std::process::id() as i32;
                let mut threads = vec![];
                for round in 0u64.. {
                    std::thread::sleep(every);
                    // Executors start after this thread, and glommio adds helper threads
                    // with the same names: look again now and then.
                    if round % 64 == 0 {
                        threads = executor_threads();
                    }
                    for &tid in &threads {
                        // SAFETY: tgkill to a thread of this process with a no-op handler.
                        unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, SIGNAL) };
                    }
                }
            })
            .expect("starting the watchdog thread");
    }
}

/// Everything a shard executor needs to start.
#[derive(Clone)]
struct ShardStart {
    nshards: usize,
    config: Config,
    run_id: Arc<str>,
    mesh: MeshBuilder<Msg, glommio::channels::channel_mesh::Full>,
    /// Listening sockets, one set per shard (reuseport) or only for shard 0 (round-robin).
    listeners: Arc<Vec<Vec<i32>>>,
    connections: Arc<AtomicUsize>,
    /// This process's id among replicating nodes (REPLCONF uuid).
    node_id: uuid::Uuid,
    /// What to load at boot (a snapshot, the append-only log), and how many shards are
    /// still loading.
    boot: Arc<crate::persist::load::Boot>,
    loading: Arc<AtomicUsize>,
    /// Saves, loads and the append-only log: every member's `Shard::persist`.
    persist: Arc<Persistence>,
}

/// Starts the server and runs until it is shut down; `persist` goes to every shard.
pub fn run(cfg: Config, persist: Arc<Persistence>) -> Result<(), String> {
    crate::util::cycles::calibrate();
    let nshards = shard_count(&cfg);
    let port = cfg.int(Opt::Port) as u16;
    let round_robin = cfg.str(Opt::ConnDistribution) == "round-robin";
    let backlog = cfg.int(Opt::TcpBacklog) as i32;
    let mut listeners: Vec<Vec<i32>> = vec![vec![]; nshards];
    if port != 0 {
        for (addr, optional) in bind_addrs(&cfg, port) {
            let owners: Vec<usize> = if round_robin {
                vec![0]
            } else {
                (0..nshards).collect()
            };
            for s in owners {
                match listen_socket(addr, !round_robin, backlog) {
                    Ok(l) => listeners[s].push(l.into_raw_fd()),
                    Err(e) if optional => {
                        tracing::debug!("skipping optional bind address {addr}: {e}");
                        break;
                    }
                    Err(e) => {
                        return Err(format!(
                            "Could not create server TCP listening socket {addr}: {e}"
                        ))
                    }
                }
            }
        }
    }
    let run_id: Arc<str> = {
        let u =
            uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
        u[..40].into()
    };
    let boot = crate::persist::aof::prepare_boot(&persist, &cfg)?;
    for f in boot.rdb.iter().chain(&boot.incrs).chain(&boot.commands) {
        tracing::info!("Loading {} ({} bytes)", f.name, f.range.len());
    }
    if !boot.is_empty() {
        let (shard, once) = (boot.shard_bytes(), boot.command_bytes());
        persist.loading_started(shard + once, shard * nshards as u64 + once);
    }
    let kick_ms = cfg.int(Opt::ExecutorKickMs) as u64;
    if kick_ms > 0 {
        kick::install();
        kick::spawn(Duration::from_millis(kick_ms));
    }
    let start = ShardStart {
        nshards,
        config: cfg.clone(),
        run_id,
        // The shards, and the replication executor as the last member.
        mesh: MeshBuilder::full(nshards + 1, 1024),
        node_id: uuid::Uuid::new_v4(),
        listeners: Arc::new(listeners),
        connections: Arc::new(AtomicUsize::new(0)),
        boot: Arc::new(boot),
        loading: Arc::new(AtomicUsize::new(nshards)),
        persist,
    };
    let preempt = Duration::from_micros(cfg.int(Opt::PreemptTimerUs) as u64);
    let spin = Duration::from_micros(cfg.int(Opt::SpinBeforeParkUs) as u64);
    let mut handles = vec![];
    for i in 0..nshards {
        let start = start.clone();
        let builder = LocalExecutorBuilder::new(placement_for(&cfg, i)?)
            .name(&format!("tandem-shard-{i}"))
            .preempt_timer(preempt)
            .spin_before_park(spin)
            .io_memory(64 * 1024);
        let h = builder
            .spawn(move || async move { shard_main(i, start).await })
            .map_err(|e| format!("cannot start shard executor {i}: {e}"))?;
        handles.push(h);
    }
    // The replication executor owns the links to replicas and masters and the backlog; it
    // shares the cores with the shards.
    let repl_start = start.clone();
    let repl = LocalExecutorBuilder::new(Placement::Unbound)
        .name("tandem-repl")
        .preempt_timer(preempt)
        .spin_before_park(spin)
        .io_memory(64 * 1024)
        .spawn(move || async move { replication_main(repl_start).await })
        .map_err(|e| format!("cannot start replication executor: {e}"))?;
    tracing::info!(
        "Tandem {} ready: {} shard(s), port {}, pid {}",
        env!("CARGO_PKG_VERSION"),
        nshards,
        port,
        std::process::id()
    );
    tracing::info!("Ready to accept connections tcp");
    for h in handles {
        h.join().map_err(|e| e.to_string())?;
    }
    drop(repl);
    Ok(())
}

/// Joins the executor mesh as member `id` and starts serving messages from the others
/// (after `prepare`, so that no message finds the member half set up).
async fn join_mesh(id: usize, start: &ShardStart, prepare: impl FnOnce(&Rc<Shard>)) -> Rc<Shard> {
    // glommio 0.9 completes a channel's connection only when the executor's loop comes
    // round, and an executor parked with nothing to do never does: keep it ticking until the
    // mesh is joined (without this, 1 start in 5 with 4 shards hung here forever).
    let joined = Rc::new(std::cell::Cell::new(false));
    let ticker = glommio::spawn_local({
        let joined = joined.clone();
        async move {
            while !joined.get() {
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let (senders, mut receivers) = start
        .mesh
        .clone()
        .join()
        .await
        .expect("joining the shard mesh");
    joined.set(true);
    ticker.await;
    tracing::debug!("executor {id} joined the mesh");
    let shard = Shard::new(
        id,
        start.nshards,
        Rc::new(start.config.clone()),
        senders,
        start.run_id.as_ref().into(),
        start.node_id,
        start.persist.clone(),
    );
    prepare(&shard);
    for (from, rx) in receivers.streams() {
        glommio::spawn_local(shard.clone().serve_peer(from, rx)).detach();
    }
    shard
}

/// The replication executor: the mesh's last member, running the node (`replication`).
async fn replication_main(start: ShardStart) {
    let node_id = start.node_id;
    let mut node = None;
    join_mesh(start.nshards, &start, |sh| {
        node = Some(crate::replication::Node::create(sh.clone(), node_id))
    })
    .await;
    crate::replication::start(node.expect("made while joining")).await;
    std::future::pending::<()>().await
}

async fn shard_main(id: usize, start: ShardStart) {
    let shard = join_mesh(id, &start, |_| {}).await;
    let cron_queue = glommio::executor().create_task_queue(
        glommio::Shares::Static(100),
        glommio::Latency::NotImportant,
        "cron",
    );
    glommio::spawn_local_into(cron(shard.clone()), cron_queue)
        .expect("spawning the cron task")
        .detach();
    let mut accepts = vec![];
    for &fd in &start.listeners[id] {
        // SAFETY: the descriptor is a listening socket made for this shard and owned by it.
        let listener = unsafe { TcpListener::from_raw_fd(fd) };
        accepts.push(glommio::spawn_local(accept_loop(
            shard.clone(),
            listener,
            start.connections.clone(),
        )));
    }
    crate::persist::load::at_boot(&shard, start.boot, start.loading).await;
    // Shards run until the process exits (SHUTDOWN or a signal).
    std::future::pending::<()>().await;
    drop(accepts);
}

async fn accept_loop(shard: Rc<Shard>, listener: TcpListener, connections: Arc<AtomicUsize>) {
    let round_robin = shard.config().str(Opt::ConnDistribution) == "round-robin";
    let mut next = shard.id;
    loop {
        let accepted = match listener.shared_accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Round-robin placement: every shard in turn gets the next connection.
        let target = if round_robin {
            next % shard.nshards
        } else {
            shard.id
        };
        next += 1;
        let connections = connections.clone();
        if target == shard.id {
            let stream = accepted.bind_to_executor();
            glommio::spawn_local(start_connection(shard.clone(), stream, connections)).detach();
        } else {
            let me = shard.clone();
            glommio::spawn_local(async move {
                me.run_on(target, None, move |sh| {
                    let stream = accepted.bind_to_executor();
                    glommio::spawn_local(start_connection(sh.clone(), stream, connections))
                        .detach();
                })
                .await
            })
            .detach();
        }
    }
}

async fn start_connection(shard: Rc<Shard>, mut stream: TcpStream, connections: Arc<AtomicUsize>) {
    use futures_lite::AsyncWriteExt;
    let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let cfg = shard.config();
    shard.counters.borrow_mut().connections_received += 1;
    let protected = cfg.bool(Opt::ProtectedMode)
        && cfg.str(Opt::RequirePass).is_empty()
        && cfg.str(Opt::Bind) == Opt::Bind.def().default;
    if protected && !peer.ip().is_loopback() {
        shard.counters.borrow_mut().rejected_connections += 1;
        let _ = stream.write_all(PROTECTED_MODE_ERROR.as_bytes()).await;
        return;
    }
    let maxclients = cfg.int(Opt::Maxclients) as usize;
    if connections.fetch_add(1, Ordering::Relaxed) >= maxclients {
        connections.fetch_sub(1, Ordering::Relaxed);
        shard.counters.borrow_mut().rejected_connections += 1;
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    conn::serve(shard, stream, peer, local, conn::Slot(connections)).await;
}

/// The shard's background cycle, `hz` times a second, in a low-priority task queue.
async fn cron(shard: Rc<Shard>) {
    let mut rng = Rng::new(now_ms() ^ (shard.id as u64) << 32);
    let mut persist_checked = std::time::Instant::now();
    loop {
        // As Redis: any value is accepted, the cycle runs at 1 to 500 Hz.
        let hz = shard.config().int(Opt::Hz).clamp(1, 500) as u64;
        glommio::timer::sleep(Duration::from_millis(1000 / hz)).await;
        shard.coarse_now.set(std::time::Instant::now());
        let now = now_ms();
        if shard.counters.borrow().active_expire && shard.gate.holder().is_none() {
            active_expire(&shard, now, &mut rng);
        }
        shard.publish_expired(notify::enabled(&shard.config()));
        // Save points, scheduled saves and termination signals: once a second, on shard 0.
        let signalled = shard.persist.shutdown_signalled();
        if shard.id == 0 && (signalled || persist_checked.elapsed() >= Duration::from_secs(1)) {
            persist_checked = std::time::Instant::now();
            crate::persist::cron(&shard).await;
        }
        let total = shard.data.borrow().cmdstats.total_commands;
        {
            let mut c = shard.counters.borrow_mut();
            c.ops_samples.push_back((now, total));
            while c.ops_samples.len() > 16 {
                c.ops_samples.pop_front();
            }
        }
        let timeout = shard.config().int(Opt::Timeout) as u64;
        if timeout > 0 {
            let now = std::time::Instant::now();
            for c in shard.clients.borrow().clients.values() {
                if now.duration_since(c.last_active.get()).as_secs() >= timeout {
                    c.kill();
                }
            }
        }
    }
}

/// Redis's active expiry: sample 20 volatile keys per db, repeat while more than a quarter
/// of a sample had expired, within a time budget of 1 ms per cycle.
fn active_expire(shard: &Shard, now: u64, rng: &mut Rng) {
    let started = std::time::Instant::now();
    let mut data = shard.data.borrow_mut();
    let data = &mut *data;
    for db in data.store.dbs.iter_mut() {
        loop {
            let (sampled, expired) = db.expire_cycle(now, 20, |n| rng.below(n));
            data.ks.expired_keys += expired as u64;
            if sampled == 0 || expired * 4 < sampled || started.elapsed() > Duration::from_millis(1)
            {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_lists() {
        assert_eq!(parse_core_list("0,2,4-6"), Some(vec![0, 2, 4, 5, 6]));
        assert_eq!(parse_core_list("x"), None);
    }

    #[test]
    fn default_bind() {
        let cfg = Config::default();
        let addrs = bind_addrs(&cfg, 6379);
        assert_eq!(addrs.len(), 2);
        assert!(!addrs[0].1 && addrs[1].1);
    }
}
