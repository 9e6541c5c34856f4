//! The log's writer thread and the queue the shards hand it frames through.
//!
//! Shards append whole frames to one queue under a mutex (a shard does so once per turn of
//! its loop, or once per write with `appendfsync always`); the position a frame ends at in
//! the stream of everything ever appended is its LSN. The writer thread takes the whole
//! queue at once, writes it with one `write`, and then, as `appendfsync` says:
//! - `always`: fsyncs (`fdatasync`) at once and publishes the LSN as durable, waking the
//!   clients whose replies wait for it. Frames that arrive during an fsync are written and
//!   fsynced together by the next round: one fsync covers every client and pipeline that
//!   wrote meanwhile (group commit).
//! - `everysec`: fsyncs when a second has passed since the last fsync.
//! - `no`: never fsyncs; the kernel writes back when it likes.
//!
//! With `everysec` and `no` the writer waits a millisecond after each write so that it
//! writes a thousand times a second at most, not once per shard turn: a crash of the process
//! (not of the machine) loses at most that millisecond.
//!
//! Control work travels through the same queue, in order with the data: opening a new
//! incremental file (a rewrite begins), replacing the manifest (a rewrite ends), an explicit
//! fsync (shutdown), closing (appendonly no). All file I/O happens on this thread.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use super::frame;
use super::manifest::{self, Manifest};

/// `appendfsync` values.
pub const ALWAYS: u8 = 0;
pub const EVERYSEC: u8 = 1;
pub const NO: u8 = 2;

/// The answer to a piece of control work, filled in by the writer.
pub type Done = Arc<Mutex<Option<Result<(), String>>>>;

pub fn done() -> Done {
    Arc::new(Mutex::new(None))
}

/// Work for the writer, in order.
pub enum Work {
    /// Frames to append to the current incremental file.
    Data(Vec<u8>),
    /// From now on, write to the incremental file at `path`: a new one (`keep` None: created
    /// with its header), or one loaded at boot, whose first `keep` bytes are good. Then, if
    /// given, replace the manifest. Without a new file the old one stays in use.
    Open {
        path: PathBuf,
        keep: Option<u64>,
        manifest: Option<(PathBuf, Manifest)>,
        done: Done,
    },
    /// Replace the manifest, then remove the files it no longer names.
    Commit {
        path: PathBuf,
        manifest: Manifest,
        remove: Vec<PathBuf>,
        done: Done,
    },
    /// Write and fsync everything queued before.
    Sync(Done),
    /// Fsync and close the file: the log is off.
    Close,
}

struct Queue {
    work: Vec<Work>,
    /// The LSN at the end of the queued data.
    lsn: u64,
    /// The writer waits for work.
    idle: bool,
}

/// The queue between the shards and the writer thread (`Persistence::log`).
pub struct Log {
    q: Mutex<Queue>,
    wake: Condvar,
    /// Bytes ever appended (LSN), written by the writer, and known durable.
    appended: AtomicU64,
    written: AtomicU64,
    durable: AtomicU64,
    /// Whether frames are taken (the log is on, or waiting for its first rewrite).
    accepting: AtomicBool,
    policy: AtomicU8,
    /// Clients waiting for an LSN to be durable.
    waiters: Mutex<Vec<(u64, Waker)>>,
    /// `aof_last_write_status`: false after a write or fsync failed, until one succeeds.
    pub write_ok: AtomicBool,
    started: std::sync::Once,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Log {
    pub(crate) fn new() -> Self {
        Log {
            q: Mutex::new(Queue {
                work: Vec::new(),
                lsn: 0,
                idle: false,
            }),
            wake: Condvar::new(),
            appended: AtomicU64::new(0),
            written: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            accepting: AtomicBool::new(false),
            policy: AtomicU8::new(EVERYSEC),
            waiters: Mutex::new(Vec::new()),
            write_ok: AtomicBool::new(true),
            started: std::sync::Once::new(),
        }
    }

    /// Starts the writer thread, once.
    pub fn start(self: &Arc<Self>) {
        self.started.call_once(|| {
            let log = self.clone();
            std::thread::Builder::new()
                .name("tandem-aof".into())
                .spawn(move || Writer::new(log).run())
                .expect("starting the append-only log writer");
        });
    }

    #[inline]
    pub fn accepting(&self) -> bool {
        self.accepting.load(Ordering::Relaxed)
    }

    #[inline]
    pub fn always(&self) -> bool {
        self.policy.load(Ordering::Relaxed) == ALWAYS
    }

    pub fn set_policy(&self, p: u8) {
        self.policy.store(p, Ordering::Relaxed);
        let _q = lock(&self.q);
        self.wake.notify_one();
    }

    /// Turns taking frames on or off. Off also closes the file once what is queued is
    /// written.
    pub fn set_accepting(&self, on: bool) {
        let mut q = lock(&self.q);
        if self.accepting.swap(on, Ordering::Relaxed) && !on {
            q.work.push(Work::Close);
            self.wake.notify_one();
        }
    }

    /// Appends one frame holding `parts`; dropped if the log is not taking frames.
    pub fn append(&self, kind: u8, parts: &[&[u8]]) {
        let crc = frame::crc(kind, parts);
        let mut q = lock(&self.q);
        if !self.accepting.load(Ordering::Relaxed) {
            return;
        }
        if !matches!(q.work.last(), Some(Work::Data(_))) {
            q.work.push(Work::Data(Vec::with_capacity(64 * 1024)));
        }
        let Some(Work::Data(buf)) = q.work.last_mut() else {
            unreachable!()
        };
        let n = frame::put(buf, kind, crc, parts) as u64;
        q.lsn += n;
        self.appended.store(q.lsn, Ordering::Release);
        if q.idle {
            self.wake.notify_one();
        }
    }

    /// Queues control work; when `accept` is given, turns taking frames on or off at the
    /// same point of the stream.
    pub fn control(&self, w: Work, accept: Option<bool>) {
        let mut q = lock(&self.q);
        q.work.push(w);
        if let Some(a) = accept {
            self.accepting.store(a, Ordering::Relaxed);
        }
        self.wake.notify_one();
    }

    /// Whether a reply must wait: `appendfsync always` and frames not yet durable.
    #[inline]
    pub fn behind(&self) -> bool {
        self.always()
            && self.durable.load(Ordering::Acquire) < self.appended.load(Ordering::Acquire)
    }

    /// Waits until everything appended so far is durable.
    pub async fn wait_durable(&self) {
        let lsn = self.appended.load(Ordering::Acquire);
        std::future::poll_fn(|cx| {
            if self.durable.load(Ordering::Acquire) >= lsn {
                return std::task::Poll::Ready(());
            }
            let mut w = lock(&self.waiters);
            // The writer publishes `durable` before it takes this lock: checked again here,
            // a wake-up cannot be missed.
            if self.durable.load(Ordering::Acquire) >= lsn {
                return std::task::Poll::Ready(());
            }
            w.push((lsn, cx.waker().clone()));
            std::task::Poll::Pending
        })
        .await
    }

    /// Bytes appended but not yet written (`aof_buffer_length`).
    pub fn buffered(&self) -> u64 {
        self.appended.load(Ordering::Relaxed) - self.written.load(Ordering::Relaxed)
    }

    fn publish_durable(&self, lsn: u64) {
        self.durable.fetch_max(lsn, Ordering::Release);
        let ready: Vec<Waker> = {
            let mut w = lock(&self.waiters);
            if w.is_empty() {
                return;
            }
            let (ready, wait): (Vec<_>, Vec<_>) = w.drain(..).partition(|(l, _)| *l <= lsn);
            *w = wait;
            ready.into_iter().map(|(_, k)| k).collect()
        };
        for k in ready {
            k.wake();
        }
    }
}

pub fn lock_done(done: &Done) -> MutexGuard<'_, Option<Result<(), String>>> {
    lock(done)
}

/// Waits (on an executor, checking every few milliseconds) for the writer's answer.
pub async fn answer(done: &Done) -> Result<(), String> {
    super::super::poll_until(|| lock(done).is_some()).await;
    lock(done).take().unwrap()
}

fn reply(done: &Done, r: Result<(), String>) {
    *lock(done) = Some(r);
}

struct Writer {
    log: Arc<Log>,
    file: Option<File>,
    /// Bytes of the current file known good (written whole).
    len: u64,
    /// Data a failed write left, to write first next time.
    retry: Vec<u8>,
    written: u64,
    synced: u64,
    last_fsync: Instant,
    failing_since: Option<Instant>,
}

impl Writer {
    fn new(log: Arc<Log>) -> Self {
        Writer {
            log,
            file: None,
            len: 0,
            retry: Vec::new(),
            written: 0,
            synced: 0,
            last_fsync: Instant::now(),
            failing_since: None,
        }
    }

    fn run(mut self) {
        let mut work = Vec::new();
        loop {
            let lsn = {
                let mut q = lock(&self.log.q);
                while q.work.is_empty() {
                    let policy = self.log.policy.load(Ordering::Relaxed);
                    let unsynced = self.written > self.synced || !self.retry.is_empty();
                    let wait = match policy {
                        _ if !self.retry.is_empty() => Some(Duration::from_secs(1)),
                        EVERYSEC if unsynced => {
                            Some(Duration::from_secs(1).saturating_sub(self.last_fsync.elapsed()))
                        }
                        ALWAYS if unsynced => Some(Duration::ZERO),
                        _ => None,
                    };
                    if wait == Some(Duration::ZERO) {
                        break;
                    }
                    q.idle = true;
                    q = match wait {
                        Some(d) => self.log.wake.wait_timeout(q, d).unwrap().0,
                        None => self.log.wake.wait(q).unwrap(),
                    };
                    q.idle = false;
                    if wait.is_some() {
                        break;
                    }
                }
                std::mem::swap(&mut work, &mut q.work);
                q.lsn
            };
            let mut wrote = false;
            for w in work.drain(..) {
                match w {
                    Work::Data(b) => {
                        wrote = true;
                        self.write(b);
                    }
                    Work::Open {
                        path,
                        keep,
                        manifest,
                        done,
                    } => {
                        let r = self.open(path, keep, manifest);
                        reply(&done, r);
                    }
                    Work::Commit {
                        path,
                        manifest,
                        remove,
                        done,
                    } => {
                        let r = self.commit(&path, &manifest, &remove);
                        reply(&done, r);
                    }
                    Work::Sync(done) => {
                        let r = self.fsync().map_err(|e| e.to_string());
                        reply(&done, r);
                    }
                    Work::Close => {
                        let _ = self.fsync();
                        self.file = None;
                        self.retry.clear();
                        // Nothing more to fail: writes are allowed again.
                        self.failing_since = None;
                        self.log.write_ok.store(true, Ordering::Relaxed);
                    }
                }
            }
            if !wrote && !self.retry.is_empty() {
                // What a failed write left is tried again (once a second while it fails).
                self.write(Vec::new());
            }
            if self.retry.is_empty() {
                self.written = lsn;
                self.log.written.store(lsn, Ordering::Release);
            }
            match self.log.policy.load(Ordering::Relaxed) {
                ALWAYS => {
                    if self.written > self.synced && self.fsync().is_ok() {
                        self.log.publish_durable(self.synced);
                    }
                }
                p => {
                    if p == EVERYSEC
                        && self.written > self.synced
                        && self.last_fsync.elapsed() >= Duration::from_secs(1)
                    {
                        let _ = self.fsync();
                    }
                    // Nobody waits for durability here; release anyone left from `always`.
                    self.log.publish_durable(self.written);
                    if wrote {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
        }
    }

    /// Appends frames to the file, or keeps them to retry after a failure.
    fn write(&mut self, b: Vec<u8>) {
        let Some(f) = &mut self.file else {
            return; // No file: the log is off.
        };
        let buf = if self.retry.is_empty() {
            b
        } else {
            let mut r = std::mem::take(&mut self.retry);
            r.extend_from_slice(&b);
            r
        };
        match f.write_all(&buf) {
            Ok(()) => {
                self.len += buf.len() as u64;
                if let Some(since) = self.failing_since.take() {
                    tracing::warn!(
                        "AOF write error looks solved (after {:.1} s), Tandem can write again.",
                        since.elapsed().as_secs_f64()
                    );
                    self.log.write_ok.store(true, Ordering::Relaxed);
                }
            }
            Err(e) => {
                // Cut off what was written of it, so the file ends with whole frames, and
                // write on from there.
                let _ = f.set_len(self.len);
                let _ = std::io::Seek::seek(f, std::io::SeekFrom::Start(self.len));
                self.failed("writing", &e);
                self.retry = buf;
            }
        }
    }

    fn failed(&mut self, what: &str, e: &std::io::Error) {
        if self.log.always() {
            tracing::error!(
                "Can't recover from AOF {what} error when the AOF fsync policy is 'always': {e}. Exiting..."
            );
            std::process::exit(1);
        }
        if self.failing_since.is_none() {
            tracing::warn!("Error {what} the AOF file: {e}");
            self.failing_since = Some(Instant::now());
        }
        self.log.write_ok.store(false, Ordering::Relaxed);
    }

    fn fsync(&mut self) -> std::io::Result<()> {
        let written = self.written;
        let Some(f) = &self.file else {
            self.synced = written;
            return Ok(());
        };
        match f.sync_data() {
            Ok(()) => {
                self.synced = written;
                self.last_fsync = Instant::now();
                Ok(())
            }
            Err(e) => {
                self.failed("fsyncing", &e);
                Err(e)
            }
        }
    }

    fn open(
        &mut self,
        path: PathBuf,
        keep: Option<u64>,
        manifest: Option<(PathBuf, Manifest)>,
    ) -> Result<(), String> {
        let what = |e: std::io::Error| format!("{}: {e}", path.display());
        // What went to the old file is made durable before the manifest can drop it.
        if self.file.is_some() {
            self.fsync().map_err(what)?;
        }
        let (file, len) = match keep {
            Some(len) if len >= frame::MAGIC.len() as u64 => {
                let f = OpenOptions::new().append(true).open(&path).map_err(what)?;
                (f, len)
            }
            _ => {
                let mut f = File::create(&path).map_err(what)?;
                f.write_all(frame::MAGIC).map_err(what)?;
                f.sync_all().map_err(what)?;
                manifest::sync_dir(&path).map_err(what)?;
                (f, frame::MAGIC.len() as u64)
            }
        };
        if let Some((mpath, m)) = manifest {
            manifest::write(&mpath, &m).map_err(|e| format!("{}: {e}", mpath.display()))?;
        }
        self.file = Some(file);
        self.len = len;
        self.retry.clear();
        Ok(())
    }

    fn commit(
        &mut self,
        path: &std::path::Path,
        m: &Manifest,
        remove: &[PathBuf],
    ) -> Result<(), String> {
        manifest::write(path, m).map_err(|e| format!("{}: {e}", path.display()))?;
        for f in remove {
            if let Err(e) = std::fs::remove_file(f) {
                tracing::warn!("Removing the old AOF file {}: {e}", f.display());
            }
        }
        Ok(())
    }
}
