//! Snapshots on disk (DESIGN §7): SAVE and BGSAVE ([`save`]), loading at boot and DEBUG
//! RELOAD ([`load`]), save points, shutdown with a final save, and the figures INFO
//! persistence reports.
//!
//! The files are Redis RDB version 10 (see `rdb`): Redis 7.0 and `redis-check-rdb` read
//! them, and Tandem reads Redis's. Keys' stamps travel packed in `tandem-stamps` AUX fields
//! (`rdb::stamps`).
//!
//! Their state lives in one [`Persistence`], made at startup and handed to every shard (and
//! the replication executor's member of the mesh) as `Shard::persist`, and to the threads
//! that need it (a save's file writer, the log's writer, the signal thread). Its save state is
//! touched only when a save starts or ends, by INFO and by the once-a-second save-point check,
//! so a lock around it costs nothing that matters; the write path never takes it (it checks
//! its shard's `snapshotting` cell, and whether the log takes records).

pub mod aof;
pub mod load;
pub mod save;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{Config, Opt};
use crate::shard::Shard;
use crate::util::now_ms;

/// What a snapshot is written for. One runs at a time (each shard has one copy-on-write
/// state), as Redis runs one child at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveKind {
    /// SAVE (and the saves of SHUTDOWN, FLUSHALL, DEBUG RELOAD).
    Save,
    Bgsave,
    /// The base file of an append-only log rewrite (see [`aof`]).
    AofRewrite,
}

/// What INFO persistence and LASTSAVE report, and whether a save is running.
pub struct State {
    /// The running save: when it began, and what for.
    pub running: Option<(Instant, SaveKind)>,
    /// Unix seconds of the last successful save (the start of the process before any).
    pub lastsave: u64,
    pub last_status_ok: bool,
    /// Unix seconds of the last background save attempt (failed ones are retried after 5 s).
    pub last_bgsave_try: u64,
    /// Seconds the last save took, -1 before any.
    pub last_save_secs: i64,
    pub saves: u64,
    /// BGSAVE SCHEDULE (or BGSAVE inside EXEC) asked for a background save to start soon.
    pub scheduled: bool,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// Bytes copied aside by the last snapshot save, and by the last rewrite's.
    pub last_rdb_copied: u64,
    pub last_aof_copied: u64,
}

/// The persistence side of the process: what saves, loads and the append-only log share
/// between the shards and their threads. Made once at startup; everything reaches it through
/// the shard it runs on (`Shard::persist`) or is given it.
pub struct Persistence {
    state: Mutex<State>,
    /// Keys written so far by the running save, and the keys it will write.
    save_keys_done: AtomicU64,
    save_keys_total: AtomicU64,
    /// Bytes of entries the running save has copied aside before their first change: the
    /// memory a save costs beyond the dataset (Redis's copy-on-write size of its fork).
    save_copied: AtomicU64,
    /// Whether the dataset is being loaded at boot: commands without the `loading` flag are
    /// refused meanwhile, as Redis does.
    loading: AtomicBool,
    /// Loading progress: bytes read by all shards, out of the file's size times the shards
    /// (each shard reads the whole file, keeping its own keys).
    load_done: AtomicU64,
    load_total: AtomicU64,
    load_start: AtomicU64,
    load_file_bytes: AtomicU64,
    /// A termination signal (SIGTERM, SIGINT) waiting for the cron to shut down: 0 for none.
    shutdown_signal: AtomicI32,
    /// The append-only log's files and rewrites (see [`aof`]).
    aof: Mutex<aof::Aof>,
    /// The append-only log's queue, shared with its writer thread.
    log: Arc<aof::writer::Log>,
}

impl Default for Persistence {
    fn default() -> Self {
        Self::new()
    }
}

impl Persistence {
    pub fn new() -> Self {
        Persistence {
            state: Mutex::new(State {
                running: None,
                lastsave: now_ms() / 1000,
                last_status_ok: true,
                last_bgsave_try: 0,
                last_save_secs: -1,
                saves: 0,
                scheduled: false,
                last_load_keys_loaded: 0,
                last_load_keys_expired: 0,
                last_rdb_copied: 0,
                last_aof_copied: 0,
            }),
            save_keys_done: AtomicU64::new(0),
            save_keys_total: AtomicU64::new(0),
            save_copied: AtomicU64::new(0),
            loading: AtomicBool::new(false),
            load_done: AtomicU64::new(0),
            load_total: AtomicU64::new(0),
            load_start: AtomicU64::new(0),
            load_file_bytes: AtomicU64::new(0),
            shutdown_signal: AtomicI32::new(0),
            aof: Mutex::new(aof::Aof::new()),
            log: Arc::new(aof::writer::Log::new()),
        }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[inline]
    pub fn loading(&self) -> bool {
        self.loading.load(Ordering::Relaxed)
    }

    /// Marks the start of a load of files of `file_bytes` bytes, `read_bytes` to read in all
    /// (shards read some files each).
    pub fn loading_started(&self, file_bytes: u64, read_bytes: u64) {
        self.load_done.store(0, Ordering::Relaxed);
        self.load_total.store(read_bytes, Ordering::Relaxed);
        self.load_file_bytes.store(file_bytes, Ordering::Relaxed);
        self.load_start.store(now_ms() / 1000, Ordering::Relaxed);
        self.loading.store(true, Ordering::Release);
    }

    pub fn loading_finished(&self) {
        self.loading.store(false, Ordering::Release);
    }

    /// Whether a termination signal waits for the cron.
    #[inline]
    pub fn shutdown_signalled(&self) -> bool {
        self.shutdown_signal.load(Ordering::Relaxed) != 0
    }
}

pub const LOADING_ERROR: &str = "LOADING Redis is loading the dataset in memory";

/// Makes SIGTERM and SIGINT wait for the cron instead of killing the process, so that it can
/// save first (see [`cron`]): a thread waits for them and leaves them in `persist` for the
/// cron. Call before any other thread starts: the threads inherit the mask.
pub fn catch_termination_signals(persist: Arc<Persistence>) {
    // SAFETY: plain signal-mask calls on a set built here; done before other threads exist.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::Builder::new()
        .name("tandem-signals".into())
        .spawn(move || loop {
            let mut sig = 0;
            // SAFETY: waits for one of the signals blocked above.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                continue;
            }
            // A second signal while the first is still waiting: give up at once, as Redis
            // does when told twice.
            if persist.shutdown_signal.swap(sig, Ordering::Relaxed) != 0 {
                tracing::warn!("You insist... exiting now.");
                std::process::exit(1);
            }
        })
        .expect("starting the signal thread");
}

/// The file snapshots are written to and loaded from: `dir`/`dbfilename`.
pub fn rdb_path(cfg: &Config) -> PathBuf {
    PathBuf::from(cfg.str(Opt::Dir)).join(cfg.str(Opt::Dbfilename))
}

/// The save points of `save`: (seconds, changes) pairs.
pub fn save_points(cfg: &Config) -> Vec<(u64, u64)> {
    let words: Vec<u64> = cfg
        .list(Opt::Save)
        .iter()
        .flat_map(|l| l.split_whitespace())
        .filter_map(|w| w.parse().ok())
        .collect();
    words.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// Checks a `save` value as Redis does: pairs of seconds (at least 1) and changes (at least
/// 0), or "" for none.
pub fn check_save_points(raw: &str) -> Result<(), String> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    let bad = || Err("Invalid save parameters".to_string());
    if !words.len().is_multiple_of(2) {
        return bad();
    }
    for (i, w) in words.iter().enumerate() {
        match w.parse::<i64>() {
            Ok(n) if (i % 2 == 0 && n >= 1) || (i % 2 == 1 && n >= 0) => {}
            _ => return bad(),
        }
    }
    Ok(())
}

/// What the shard-0 cron does for persistence once a second: starts a background save when a
/// save point is reached (or one was scheduled), and shuts down after a termination signal.
pub async fn cron(shard: &Rc<Shard>) {
    let persist = &shard.persist;
    if persist.shutdown_signalled() {
        let sig = persist.shutdown_signal.swap(0, Ordering::Relaxed);
        let name = if sig == libc::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        tracing::warn!("Received {name} scheduling shutdown...");
        if shutdown(shard, ShutdownSave::Default, false).await.is_err() {
            tracing::warn!(
                "{name} received but errors trying to shut down the server, check the logs for more information"
            );
        }
        return;
    }
    aof::cron(shard).await;
    let cfg = shard.config();
    let points = save_points(&cfg);
    let (running, scheduled, lastsave, last_try, last_ok) = {
        let s = persist.state();
        (
            s.running.is_some(),
            s.scheduled,
            s.lastsave,
            s.last_bgsave_try,
            s.last_status_ok,
        )
    };
    if running || persist.loading() || (points.is_empty() && !scheduled) {
        return;
    }
    let now = now_ms() / 1000;
    let mut why = scheduled.then(|| "BGSAVE scheduled".to_string());
    if why.is_none() {
        let dirty: u64 = shard
            .broadcast(|sh| sh.data.borrow().dirty)
            .await
            .iter()
            .sum();
        // As Redis: a failed save is retried only after 5 seconds.
        let may_retry = last_ok || now.saturating_sub(last_try) > 5;
        why = points
            .iter()
            .find(|&&(secs, changes)| {
                dirty >= changes && now.saturating_sub(lastsave) > secs && may_retry
            })
            .map(|(secs, changes)| format!("{changes} changes in {secs} seconds"));
    }
    if let Some(why) = why {
        tracing::info!("{why}. Saving...");
        persist.state().scheduled = false;
        if let Err(e) = save::background(shard, None).await {
            tracing::warn!("Background saving failed to start: {e}");
        }
    }
}

/// Whether SHUTDOWN saves: as configured (when save points are set), always, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownSave {
    Default,
    Save,
    NoSave,
}

/// Saves if asked or configured (never while loading), then exits the process. Returns only
/// when the save failed and `force` is off (the server then keeps running, as Redis does).
pub async fn shutdown(shard: &Rc<Shard>, how: ShutdownSave, force: bool) -> Result<(), ()> {
    tracing::warn!("User requested shutdown...");
    let cfg = shard.config();
    let save = match how {
        ShutdownSave::Save => true,
        ShutdownSave::NoSave => false,
        ShutdownSave::Default => !save_points(&cfg).is_empty(),
    };
    if save && !shard.persist.loading() {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        // A background save in progress is let finish; the final save then covers
        // everything written since.
        save::wait_idle(&shard.persist).await;
        if let Err(e) = save::foreground(shard, None).await {
            tracing::warn!("Error trying to save the DB: {e}");
            if !force {
                tracing::warn!("Error trying to save the DB, can't exit.");
                return Err(());
            }
            tracing::warn!("Error trying to save the DB. Exit anyway.");
        }
    }
    aof::flush_for_exit(shard).await;
    let pidfile = cfg.str(Opt::Pidfile);
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(pidfile);
    }
    tracing::warn!("Tandem is now ready to exit, bye bye...");
    std::process::exit(0);
}

/// INFO's persistence section (without its trailing blank line); `dirty` is the sum of the
/// shards' changes since the last save.
pub fn info(persist: &Persistence, dirty: u64) -> String {
    let s = persist.state();
    let now = now_ms() / 1000;
    let (bg, current) = match s.running {
        Some((started, SaveKind::Bgsave)) => (1, started.elapsed().as_secs() as i64),
        _ => (0, -1),
    };
    let total = persist.save_keys_total.load(Ordering::Relaxed);
    let done = persist.save_keys_done.load(Ordering::Relaxed).min(total);
    let (done, total) = if s.running.is_some() {
        (done, total)
    } else {
        (0, 0)
    };
    let copied = match s.running {
        Some(_) => persist.save_copied.load(Ordering::Relaxed),
        None => 0,
    };
    let perc = if total > 0 {
        done as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    let mut t = String::new();
    let _ = write!(
        t,
        "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:{copied}\r\ncurrent_cow_size:{copied}\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:{perc:.2}\r\ncurrent_save_keys_processed:{done}\r\ncurrent_save_keys_total:{total}\r\nrdb_changes_since_last_save:{dirty}\r\nrdb_bgsave_in_progress:{bg}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{current}\r\nrdb_saves:{}\r\nrdb_last_cow_size:{}\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
        persist.loading() as u8,
        s.lastsave,
        if s.last_status_ok { "ok" } else { "err" },
        s.last_save_secs,
        s.saves,
        s.last_rdb_copied,
        s.last_load_keys_expired,
        s.last_load_keys_loaded,
    );
    let aof_copied = s.last_aof_copied;
    // Not under the state's lock: the log takes its own.
    drop(s);
    aof::info(persist, aof_copied, &mut t);
    if persist.loading() {
        let total = persist.load_total.load(Ordering::Relaxed).max(1);
        let done = persist.load_done.load(Ordering::Relaxed).min(total);
        let start = persist.load_start.load(Ordering::Relaxed);
        let elapsed = now.saturating_sub(start);
        let eta = if elapsed == 0 {
            1
        } else {
            elapsed * (total - done) / (done + 1)
        };
        let file = persist.load_file_bytes.load(Ordering::Relaxed);
        let _ = write!(
            t,
            "loading_start_time:{start}\r\nloading_total_bytes:{file}\r\nloading_rdb_used_mem:0\r\nloading_loaded_bytes:{}\r\nloading_loaded_perc:{:.2}\r\nloading_eta_seconds:{eta}\r\n",
            done * file / total,
            done as f64 * 100.0 / total as f64,
        );
    }
    t
}

/// Waits, checking every few milliseconds, until `done` holds. For waiting on another thread
/// (the file writer) from an executor, where a message cannot be awaited.
pub(crate) async fn poll_until(mut done: impl FnMut() -> bool) {
    while !done() {
        glommio::timer::sleep(Duration::from_millis(2)).await;
    }
}
