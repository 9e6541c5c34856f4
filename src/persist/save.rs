//! SAVE and BGSAVE without fork and without stopping.
//!
//! **Scheme: copy-on-write per key.** A save begins on every shard at once, under all the
//! shards' locks (so no cross-shard command is half applied in it): each non-empty database
//! notes its table length as its snapshot cursor. From then on each shard walks its tables
//! from the top position down in a low-priority task queue, encoding keys into chunks, while
//! it keeps serving. Before a write changes a key the walk has not reached yet,
//! [`Shard::before_write`] copies that key's entry aside, and the walk writes the copy instead
//! (see `store::db::Snap`, which also keeps the walk right when removals move entries).
//! A flush hands the old tables to the snapshot whole ([`ShardData::flush_db`]).
//!
//! Why this rather than versioned entries: it costs nothing outside a save (one `Cell` check
//! per write, no per-entry version field in a 40-byte entry), and during a save memory grows
//! only by the keys written before the walk reaches them, each copied at most once, never the
//! whole dataset. A write to a key already walked, or a new key, costs nothing extra.
//!
//! The file: shards send their chunks to one writer thread, which writes them in arrival
//! order (each chunk starts by selecting its database, so chunks of different shards may
//! interleave), with the header first and EOF and the CRC-64 last, to a temporary file that
//! it fsyncs and renames over `dbfilename` (and fsyncs the directory): a crash at any moment
//! leaves the previous file whole. File I/O never runs on a shard's executor.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{poll_until, rdb_path, Persistence, SaveKind};
use crate::config::Opt;
use crate::rdb::{crc64, op, Encoder};
use crate::shard::{Shard, ShardData, TxId};
use crate::store::Db;
use crate::util::now_ms;

/// A shard's part of the running snapshot, beside the databases' own (`store::db::Snap`).
#[derive(Default)]
pub struct ShardSnapshot {
    /// Databases flushed while the snapshot ran: their old contents, still to be written.
    pub detached: Vec<Db>,
}

/// Bytes a shard encodes before handing a chunk to the writer.
const CHUNK: usize = 256 * 1024;
/// Bytes a shard encodes between two chances to serve its clients.
const SLICE: usize = 16 * 1024;

/// Why a save did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveError {
    /// Another save is running.
    InProgress,
    /// The save failed (the reason is logged too).
    Failed(String),
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaveError::InProgress => f.write_str("Background save already in progress"),
            SaveError::Failed(e) => f.write_str(e),
        }
    }
}

enum Chunk {
    Data(Vec<u8>),
    /// A shard has sent all its chunks.
    Done,
}

/// A save under way: the writer thread, and how many shards are still walking.
pub struct Job {
    writer: std::thread::JoinHandle<Result<u64, String>>,
    walking: Arc<AtomicUsize>,
    started: Instant,
    kind: SaveKind,
    /// The transaction the save runs in (DEBUG RELOAD inside EXEC), whose locks it may pass.
    outer: Option<TxId>,
}

/// BGSAVE: starts a save and returns once every shard's snapshot has begun (so every write
/// acknowledged before is in the file); the save finishes in the background.
pub async fn background(shard: &Rc<Shard>, outer: Option<TxId>) -> Result<(), SaveError> {
    let path = rdb_path(&shard.config());
    let job = start(shard, outer, SaveKind::Bgsave, path).await?;
    let me = shard.clone();
    glommio::spawn_local(async move {
        let _ = finish(&me, job).await;
    })
    .detach();
    Ok(())
}

/// SAVE: a whole save, returning when the file is on disk. The shards keep serving meanwhile.
/// A running rewrite of the append-only log is let finish first (SAVE does not conflict with
/// it in Redis, where the rewrite is a child process).
pub async fn foreground(shard: &Rc<Shard>, outer: Option<TxId>) -> Result<(), SaveError> {
    let persist = &shard.persist;
    if persist
        .state()
        .running
        .is_some_and(|r| r.1 == SaveKind::AofRewrite)
    {
        wait_idle(persist).await;
    }
    let path = rdb_path(&shard.config());
    let job = start(shard, outer, SaveKind::Save, path).await?;
    finish(shard, job).await.map(drop)
}

/// Waits until no save is running.
pub async fn wait_idle(persist: &Persistence) {
    poll_until(|| persist.state().running.is_none()).await
}

/// Starts a snapshot of every shard into `path` (through a temporary file next to it).
/// Returns once every shard's snapshot has begun.
pub async fn start(
    shard: &Rc<Shard>,
    outer: Option<TxId>,
    kind: SaveKind,
    path: PathBuf,
) -> Result<Job, SaveError> {
    claim(&shard.persist, kind).map_err(|_| SaveError::InProgress)?;
    begin(shard, outer, kind, path).await
}

/// Marks a save of `kind` as running; the kind of the running one if there is one.
pub fn claim(persist: &Persistence, kind: SaveKind) -> Result<(), SaveKind> {
    let mut s = persist.state();
    if let Some((_, running)) = s.running {
        return Err(running);
    }
    s.running = Some((Instant::now(), kind));
    if kind != SaveKind::AofRewrite {
        s.saves += 1;
    }
    if kind == SaveKind::Bgsave {
        s.last_bgsave_try = now_ms() / 1000;
    }
    Ok(())
}

/// Gives up a claim before [`begin`].
pub fn unclaim(persist: &Persistence) {
    persist.state().running = None;
}

/// [`start`] after [`claim`].
pub async fn begin(
    shard: &Rc<Shard>,
    outer: Option<TxId>,
    kind: SaveKind,
    path: PathBuf,
) -> Result<Job, SaveError> {
    let cfg = shard.config();
    let tmp = path.with_file_name(match kind {
        SaveKind::AofRewrite => format!("temp-rewriteaof-bg-{}.aof", std::process::id()),
        _ => format!("temp-{}.rdb", std::process::id()),
    });
    let failed = |msg: String| {
        tracing::warn!("{msg}");
        let mut s = shard.persist.state();
        s.running = None;
        if kind != SaveKind::AofRewrite {
            s.last_status_ok = false;
        }
        Err(SaveError::Failed(msg))
    };
    let file = match File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            return failed(format!(
                "Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}",
                tmp.display(),
                cfg.str(Opt::Dir)
            ))
        }
    };

    let mut header = Encoder::new(false);
    header.header(now_ms() / 1000, crate::commands::server::memory_usage().0);
    // Snapshot-level AUX fields of the whole node would be added to `header` here.
    let (tx, rx) = sync_channel(4 * shard.nshards);
    let (nshards, checksum) = (shard.nshards, cfg.bool(Opt::Rdbchecksum));
    let progress = shard.persist.clone();
    let writer = std::thread::Builder::new()
        .name("tandem-rdb".into())
        .spawn(move || {
            if kind != SaveKind::Save {
                background_priority();
            }
            write_file(
                file, &tmp, &path, header.buf, rx, nshards, checksum, &progress,
            )
        });
    let writer = match writer {
        Ok(w) => w,
        Err(e) => return failed(format!("starting the RDB writer: {e}")),
    };
    // The instant of the snapshot, on every shard at once.
    let counts = shard
        .on_all_locked(outer, |sh| {
            sh.snapshotting.set(true);
            sh.data.borrow_mut().begin_snapshot()
        })
        .await;
    let mut totals = vec![(0usize, 0usize); cfg.databases()];
    for per_shard in &counts {
        for (t, c) in totals.iter_mut().zip(per_shard) {
            t.0 += c.0;
            t.1 += c.1;
        }
    }
    let persist = &shard.persist;
    persist.save_keys_done.store(0, Ordering::Relaxed);
    persist.save_copied.store(0, Ordering::Relaxed);
    persist
        .save_keys_total
        .store(totals.iter().map(|t| t.0 as u64).sum(), Ordering::Relaxed);
    match kind {
        SaveKind::Bgsave => tracing::info!("Background saving started"),
        SaveKind::AofRewrite => tracing::info!("Background append only file rewriting started"),
        SaveKind::Save => {}
    }

    let walking = Arc::new(AtomicUsize::new(shard.nshards));
    let totals = Arc::new(totals);
    let compress = cfg.bool(Opt::Rdbcompression);
    let futs: Vec<_> = (0..shard.nshards)
        .map(|s| {
            let (tx, totals, walking) = (tx.clone(), totals.clone(), walking.clone());
            shard.run_on(s, outer, move |sh| {
                let walk = walk(sh.clone(), tx, totals, compress, walking);
                glommio::spawn_local_into(walk, queue(sh))
                    .expect("spawning a snapshot task")
                    .detach();
            })
        })
        .collect();
    crate::shard::join_all(futs).await;
    Ok(Job {
        writer,
        walking,
        started: Instant::now(),
        kind,
        outer,
    })
}

/// Makes the calling thread run only on CPU time nothing else wants (`SCHED_IDLE`): a
/// background save's writer (CRC and `write` of the whole file) then takes what the shard
/// threads leave, as the shards' own part of the save does in its low-share task queue.
/// Unlike nice 10 (used before), an idle-class thread never preempts a shard when it wakes
/// for the next chunk, and that preemption delayed replies: throughput during back-to-back
/// BGSAVE went from x0.73-0.85 to x0.80-0.91 of without (tuning.md, "Throughput during
/// BGSAVE"). On a core that is busy all the time it still gets a small share (weight 3 of
/// 1024), so a save slows down but finishes.
fn background_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: changes the policy of the calling thread only (pid 0), with a valid param.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
}

/// Waits for the writer and the shards, and records the outcome; returns the file's size.
pub async fn finish(shard: &Rc<Shard>, job: Job) -> Result<u64, SaveError> {
    poll_until(|| job.writer.is_finished() && job.walking.load(Ordering::Acquire) == 0).await;
    let result = job
        .writer
        .join()
        .unwrap_or_else(|_| Err("the RDB writer panicked".into()));
    let secs = job.started.elapsed().as_secs_f64();
    if result.is_ok() && job.kind != SaveKind::AofRewrite {
        // Changes made while the snapshot ran are not in it: they stay counted.
        shard
            .broadcast_in(job.outer, |sh| {
                let mut d = sh.data.borrow_mut();
                d.dirty = d.dirty.saturating_sub(d.dirty_at_snapshot);
                d.dirty_at_snapshot = 0;
            })
            .await;
    }
    let copied = shard.persist.save_copied.load(Ordering::Relaxed);
    let mut s = shard.persist.state();
    s.running = None;
    if job.kind == SaveKind::AofRewrite {
        s.last_aof_copied = copied;
        // The log's own bookkeeping is the caller's (see `aof`).
        return result.map_err(SaveError::Failed);
    }
    s.last_rdb_copied = copied;
    match &result {
        Ok(bytes) => {
            s.lastsave = now_ms() / 1000;
            s.last_status_ok = true;
            s.last_save_secs = secs.round() as i64;
            if job.kind == SaveKind::Bgsave {
                tracing::info!(
                    "Background saving terminated with success ({bytes} bytes, {secs:.3} seconds)"
                );
            } else {
                tracing::info!("DB saved on disk ({bytes} bytes, {secs:.3} seconds)");
            }
        }
        Err(e) => {
            s.last_status_ok = false;
            tracing::warn!("Saving the DB failed: {e}");
        }
    }
    result.map_err(SaveError::Failed)
}

/// The shard's low-priority task queue for snapshots, made on first use: the walk gets the
/// CPU the shard's clients leave.
fn queue(sh: &Shard) -> glommio::TaskQueueHandle {
    if let Some(q) = sh.snapshot_queue.get() {
        return q;
    }
    let q = glommio::executor().create_task_queue(
        glommio::Shares::Static(100),
        glommio::Latency::NotImportant,
        "snapshot",
    );
    sh.snapshot_queue.set(Some(q));
    q
}

/// A shard's walk: encodes its snapshot into chunks for the writer, a slice at a time.
async fn walk(
    sh: Rc<Shard>,
    tx: SyncSender<Chunk>,
    totals: Arc<Vec<(usize, usize)>>,
    compress: bool,
    walking: Arc<AtomicUsize>,
) {
    let mut enc = Encoder::new(compress);
    let delay = sh.config().int(Opt::RdbKeySaveDelay) as u64;
    let mut sized = vec![false; totals.len()];
    let mut current = None;
    let mut copied = 0;
    shard_aux(&sh, &mut enc);
    let sent_all = loop {
        if sh.data.borrow().snapshot.is_none() {
            break false; // FLUSHALL abandoned it.
        }
        // With `rdb-key-save-delay`, one key per slice.
        let slice = if delay > 0 { 1 } else { SLICE };
        let limit = (enc.buf.len() + slice).min(CHUNK);
        let (more, keys) =
            sh.data
                .borrow_mut()
                .snapshot_fill(&mut enc, &mut current, &mut sized, &totals, limit);
        sh.persist.save_keys_done.fetch_add(keys, Ordering::Relaxed);
        copied = publish_copied(&sh, copied);
        if enc.buf.len() >= CHUNK || !more {
            current = None;
            let data = enc.take();
            if !data.is_empty() && !send(&tx, Chunk::Data(data)).await {
                break false;
            }
        }
        if !more {
            break send(&tx, Chunk::Done).await;
        }
        if delay > 0 {
            glommio::timer::sleep(Duration::from_micros(delay)).await;
        }
        glommio::yield_if_needed().await;
    };
    publish_copied(&sh, copied);
    sh.data.borrow_mut().end_snapshot();
    sh.snapshotting.set(false);
    if !sent_all {
        tracing::warn!("shard {}: snapshot abandoned", sh.id);
    }
    walking.fetch_sub(1, Ordering::Release);
}

/// Adds what this shard's snapshot copied aside since `published` bytes to the save's count;
/// returns the shard's new total.
fn publish_copied(sh: &Shard, published: u64) -> u64 {
    let now: u64 = (sh.data.borrow().store.dbs.iter())
        .map(|d| d.snapshot_copied() as u64)
        .sum();
    let persist = &sh.persist;
    persist
        .save_copied
        .fetch_add(now.saturating_sub(published), Ordering::Relaxed);
    now
}

/// Snapshot-level AUX records of one shard (replication's tombstones and per-database flush
/// stamps), at the start of the shard's first chunk. Redis skips AUX fields it does not know.
fn shard_aux(sh: &Shard, enc: &mut Encoder) {
    for (i, d) in sh.data.borrow().store.dbs.iter().enumerate() {
        crate::replication::snapshot::db_aux(i, d, enc);
    }
}

/// Hands a chunk to the writer, waiting while its queue is full. False if the writer is gone.
async fn send(tx: &SyncSender<Chunk>, mut chunk: Chunk) -> bool {
    loop {
        match tx.try_send(chunk) {
            Ok(()) => return true,
            Err(TrySendError::Full(c)) => {
                chunk = c;
                glommio::timer::sleep(Duration::from_micros(500)).await;
            }
            Err(TrySendError::Disconnected(_)) => return false,
        }
    }
}

impl ShardData {
    /// Begins this shard's snapshot as of now; returns (keys, keys with expiry) per database.
    pub fn begin_snapshot(&mut self) -> Vec<(usize, usize)> {
        self.dirty_at_snapshot = self.dirty;
        self.snapshot = Some(ShardSnapshot::default());
        self.store
            .dbs
            .iter_mut()
            .enumerate()
            .map(|(i, db)| {
                if !db.is_empty() {
                    db.begin_snapshot(i);
                }
                (db.len(), db.volatile_len())
            })
            .collect()
    }

    /// Ends this shard's snapshot, finished or abandoned.
    pub fn end_snapshot(&mut self) {
        for db in &mut self.store.dbs {
            db.end_snapshot();
        }
        self.snapshot = None;
    }

    /// Empties database `i`. While a snapshot runs, its keys go to the snapshot, which may
    /// have yet to write them, rather than being freed.
    pub fn flush_db(&mut self, i: usize) {
        let db = &mut self.store.dbs[i];
        match &mut self.snapshot {
            Some(s) if db.snapshot().is_some() => s.detached.push(db.take_keys()),
            _ => db.clear(),
        }
    }

    /// Encodes snapshot entries into `enc` until it holds `limit` bytes. Every chunk names
    /// its database first (`current` is the one named in the chunk so far), the first time
    /// with the whole file's key counts as a sizing hint. Returns whether entries remain, and
    /// how many were written.
    fn snapshot_fill(
        &mut self,
        enc: &mut Encoder,
        current: &mut Option<usize>,
        sized: &mut [bool],
        totals: &[(usize, usize)],
        limit: usize,
    ) -> (bool, u64) {
        let mut keys = 0;
        while enc.buf.len() < limit {
            // The next database with entries to write: a live one (wherever SWAPDB moved it)
            // or one a flush detached.
            let live = self.store.dbs.iter().position(|d| d.snapshot().is_some());
            let detached = self.snapshot.as_mut().map(|s| &mut s.detached);
            let (db, from_detached) = match (live, detached) {
                (Some(i), _) => (&mut self.store.dbs[i], false),
                (None, Some(d)) if !d.is_empty() => (d.last_mut().unwrap(), true),
                _ => return (false, keys),
            };
            let origin = db.snapshot().map(|s| s.origin).unwrap_or(0);
            if *current != Some(origin) {
                if sized[origin] {
                    enc.select(origin);
                } else {
                    sized[origin] = true;
                    enc.select_db(origin, totals[origin].0, totals[origin].1);
                }
                *current = Some(origin);
            }
            while enc.buf.len() < limit {
                if !db.snapshot_step(|k, e| enc.entry(k, e)) {
                    db.end_snapshot();
                    if from_detached {
                        self.snapshot.as_mut().map(|s| s.detached.pop());
                    }
                    break;
                }
                keys += 1;
            }
        }
        (true, keys)
    }
}

/// The writer thread: the header, every shard's chunks as they come, EOF and the CRC-64 (zero
/// with `rdbchecksum no`), then fsync, rename over the target, fsync of the directory.
/// Returns the file's size (and logs the save's progress from `persist` meanwhile). On
/// failure the temporary file is removed and the target is untouched.
#[allow(clippy::too_many_arguments)]
fn write_file(
    mut file: File,
    tmp: &Path,
    path: &Path,
    header: Vec<u8>,
    rx: Receiver<Chunk>,
    shards: usize,
    checksum: bool,
    persist: &Persistence,
) -> Result<u64, String> {
    let mut write = || -> std::io::Result<u64> {
        let (mut crc, mut size) = (0u64, 0u64);
        let mut put = |file: &mut File, b: &[u8]| -> std::io::Result<()> {
            if checksum {
                crc = crc64::update(crc, b);
            }
            size += b.len() as u64;
            file.write_all(b)
        };
        put(&mut file, &header)?;
        let (mut done, mut logged) = (0, Instant::now());
        while done < shards {
            match rx.recv() {
                Ok(Chunk::Data(b)) => put(&mut file, &b)?,
                Ok(Chunk::Done) => done += 1,
                Err(_) => return Err(std::io::Error::other("a shard abandoned its snapshot")),
            }
            if logged.elapsed() > Duration::from_secs(5) {
                logged = Instant::now();
                let total = persist.save_keys_total.load(Ordering::Relaxed).max(1);
                let keys = persist.save_keys_done.load(Ordering::Relaxed).min(total);
                tracing::info!(
                    "Saving: {:.0}% ({keys} of {total} keys)",
                    keys as f64 * 100.0 / total as f64
                );
            }
        }
        put(&mut file, &[op::EOF])?;
        let footer = crc.to_le_bytes();
        file.write_all(&footer)?;
        file.sync_all()?;
        std::fs::rename(tmp, path)?;
        // The rename itself is durable only once the directory is.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(size + footer.len() as u64)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        format!("Write error saving DB on disk: {e}")
    })
}
