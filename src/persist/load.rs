//! Loading RDB files, at boot and for DEBUG RELOAD.
//!
//! Every shard reads the whole file (mapped once, shared) and keeps the keys it owns,
//! stepping over the others' values without decoding them: the shards load in parallel with
//! no messages between them. At boot they load in slices, so they answer INFO and PING (and
//! refuse other commands with LOADING) meanwhile, as Redis does.
//!
//! Keys keep the stamps the file holds (`tandem-stamps` runs, or KeyDB's `mvcc-tstamp`), and
//! each shard's clock is raised past them; a key without one (a file written by Redis) gets stamp 0, older than any write.
//! As Redis does when it loads as a master, keys already expired are dropped, and so are
//! empty collections.

use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::config::Opt;
use crate::rdb::load::{Item, Reader};
use crate::rdb::Corrupt;
use crate::shard::Shard;
use crate::store::Entry;
use crate::util::now_ms;

/// A file mapped read-only into memory.
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and lives until the last owner drops it.
unsafe impl Send for Mapped {}
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps the file at `path`; None if there is no such file.
    pub fn open(path: &std::path::Path) -> std::io::Result<Option<Mapped>> {
        use std::os::fd::AsRawFd;
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len() as usize;
        if len == 0 {
            return Ok(Some(Mapped {
                ptr: std::ptr::null_mut(),
                len,
            }));
        }
        // SAFETY: a private read-only mapping of a whole file we opened for reading.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the range was just mapped; the advice is only a hint.
        unsafe { libc::madvise(ptr, len, libc::MADV_SEQUENTIAL) };
        Ok(Some(Mapped { ptr, len }))
    }

    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping exactly what `open` mapped, once.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

/// What a shard's load kept and dropped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub keys: u64,
    pub expired: u64,
}

/// One shard's pass over a file.
struct ShardLoad<'a> {
    reader: Reader<'a>,
    counts: Counts,
    /// Keys that expired before this are dropped; 0 keeps them all (the base of the
    /// append-only log, which later records may build on, as Redis keeps them there too).
    now: u64,
    done: bool,
}

impl<'a> ShardLoad<'a> {
    fn new(file: &'a [u8], keep_expired: bool) -> Result<Self, Corrupt> {
        Ok(ShardLoad {
            reader: Reader::new(file)?,
            counts: Counts::default(),
            now: if keep_expired { 0 } else { now_ms() },
            done: false,
        })
    }

    /// Loads until `bytes` more of the file are read or it ends; returns whether it ended.
    fn step(&mut self, sh: &Shard, bytes: usize) -> Result<bool, Corrupt> {
        let cfg = sh.config();
        let stop = self.reader.pos().saturating_add(bytes);
        while !self.done && self.reader.pos() < stop {
            let h = match self.reader.next_item()? {
                Item::End => {
                    // One shard checks the CRC; the others read the same bytes.
                    let verify = sh.id == 0 && cfg.bool(Opt::Rdbchecksum);
                    self.reader.finish(verify)?;
                    self.done = true;
                    break;
                }
                Item::Aux(k, v) => {
                    apply_aux(sh, &k, &v);
                    continue;
                }
                Item::Key(h) => h,
            };
            // A database's announced size: its table grows once instead of doubling along.
            if let Some((db, n)) = self.reader.take_resize_hint() {
                if let Some(d) = sh.data.borrow_mut().store.dbs.get_mut(db) {
                    // Each key takes 3 bytes at least: a crafted count sizes nothing.
                    let n = n.min(self.reader.remaining() / 3);
                    d.reserve(n / sh.nshards + 16);
                }
            }
            if h.db >= cfg.databases() {
                return Err(Corrupt(format!(
                    "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting",
                    cfg.databases()
                )));
            }
            if sh.nshards > 1 && sh.shard_of(&h.key) != sh.id {
                self.reader.skip(h.kind)?;
                continue;
            }
            let value = crate::rdb::value::read_value(&mut self.reader.d, h.kind, &cfg)?;
            if h.expire_at != 0 && h.expire_at < self.now {
                self.counts.expired += 1;
                continue;
            }
            if value.is_empty_collection() {
                tracing::warn!(
                    "rdbLoadObject skipping empty key: {}",
                    String::from_utf8_lossy(&h.key)
                );
                continue;
            }
            let mut e = Entry::new(value, h.stamp.unwrap_or(0));
            e.expire_at = h.expire_at;
            // DEBUG RELOAD NOFLUSH may load over keys a running BGSAVE has yet to write.
            sh.before_write(h.db, &h.key);
            let mut d = sh.data.borrow_mut();
            if let Some(s) = h.stamp {
                d.clock.observe(s);
            }
            d.store.dbs[h.db].insert(&h.key, e);
            self.counts.keys += 1;
        }
        Ok(self.done)
    }
}

/// AUX fields of the file other than stamps. Redis's own (redis-ver, ctime, used-mem, ...)
/// need nothing; replication's tombstones and flush stamps are restored on the shard that
/// owns them.
fn apply_aux(sh: &Shard, key: &[u8], value: &[u8]) {
    let mut rec = vec![];
    if !crate::replication::snapshot::aux_to_record(key, value, &mut rec) {
        return;
    }
    let Some(Ok((r, _))) = crate::replication::record::Reader::new(&rec).next() else {
        return;
    };
    let mut data = sh.data.borrow_mut();
    let Some(db) = data.store.dbs.get_mut(r.db) else {
        return;
    };
    if r.tag == crate::replication::record::FLUSH {
        db.flushed_at = db.flushed_at.max(r.stamp);
    } else if sh.shard_of(r.key) == sh.id {
        db.restore_tombstone(r.key, r.stamp);
    }
    data.clock.observe(r.stamp);
}

/// What a process loads at boot: an RDB file (`dbfilename`, or the base of the append-only
/// log), then the log's incremental files (see `aof`).
#[derive(Default)]
pub struct Boot {
    pub rdb: Option<Source>,
    pub incrs: Vec<Source>,
    /// The append-only log is on: shards capture their writes from the start.
    pub aof: bool,
    /// The log has no files yet: once loaded, a rewrite creates them (before clients may
    /// write).
    pub rewrite_after: bool,
    /// A log written by Redis or KeyDB, being imported: files of commands, run by one client
    /// once every shard has loaded `rdb` (`aof::redis`).
    pub commands: Vec<Source>,
}

/// A file to load: its name for log lines, its mapping (shared by the parts of one file),
/// and the part of it to read.
pub struct Source {
    pub name: String,
    pub file: Arc<Mapped>,
    pub range: std::ops::Range<usize>,
}

impl Source {
    /// The whole of `file`.
    pub fn new(name: impl Into<String>, file: Mapped) -> Self {
        let range = 0..file.bytes().len();
        Source {
            name: name.into(),
            file: Arc::new(file),
            range,
        }
    }

    /// `dbfilename` in `dir`, if there is one; `what` says what for, in errors.
    pub fn rdb_file(cfg: &crate::config::Config, what: &str) -> Result<Option<Source>, String> {
        let path = super::rdb_path(cfg);
        let file = Mapped::open(&path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
        Ok(file.map(|f| Source::new(path.display().to_string(), f)))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.file.bytes()[self.range.clone()]
    }
}

impl Boot {
    /// Bytes every shard reads.
    pub fn shard_bytes(&self) -> u64 {
        self.rdb
            .iter()
            .chain(&self.incrs)
            .map(|s| s.range.len() as u64)
            .sum()
    }

    /// Bytes of commands, read once.
    pub fn command_bytes(&self) -> u64 {
        self.commands.iter().map(|s| s.range.len() as u64).sum()
    }

    /// Whether clients must wait (LOADING) until this is done.
    pub fn is_empty(&self) -> bool {
        self.rdb.is_none()
            && self.incrs.is_empty()
            && self.commands.is_empty()
            && !self.rewrite_after
    }
}

/// Loads this shard's keys at boot, a slice at a time, so the shard answers INFO and PING
/// meanwhile; exits the process if a file is corrupt, as Redis does. `loading` counts the
/// shards still loading; the last one ends the loading state (after creating the append-only
/// log's files if it has none yet).
pub async fn at_boot(sh: &Rc<Shard>, boot: Arc<Boot>, loading: Arc<AtomicUsize>) {
    let started = Instant::now();
    if boot.aof {
        sh.repl.capture.set(true);
    }
    if let Some(src) = &boot.rdb {
        let t0 = Instant::now();
        // A base of the log keeps keys already expired: records after it may build on them.
        let base = boot.aof && !boot.rewrite_after;
        let counts = rdb_in_slices(sh, src.bytes(), base).await;
        let mut s = sh.persist.state();
        s.last_load_keys_loaded += counts.keys;
        s.last_load_keys_expired += counts.expired;
        if sh.id == 0 && base {
            tracing::info!(
                "DB loaded from base file {}: {:.3} seconds",
                src.name,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    for src in &boot.incrs {
        let t0 = Instant::now();
        super::aof::replay::in_slices(sh, src.bytes()).await;
        if sh.id == 0 {
            tracing::info!(
                "DB loaded from incr file {}: {:.3} seconds",
                src.name,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    if loading.fetch_sub(1, Ordering::AcqRel) != 1 {
        return;
    }
    if boot.rdb.is_some() {
        let s = sh.persist.state();
        tracing::info!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            s.last_load_keys_loaded,
            s.last_load_keys_expired
        );
    }
    if boot.aof && (boot.rdb.is_some() || !boot.incrs.is_empty()) && !boot.rewrite_after {
        tracing::info!(
            "DB loaded from append only file: {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
    } else if boot.rdb.is_some() {
        tracing::info!(
            "DB loaded from disk: {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
    }
    if !boot.commands.is_empty() {
        super::aof::redis::import(sh, &boot.commands).await;
    }
    if boot.rewrite_after {
        super::aof::create_at_boot(sh).await;
    }
    sh.persist.loading_finished();
}

/// Loads an RDB file's keys of this shard, a slice at a time; `aof`: the file is the base of
/// the append-only log.
async fn rdb_in_slices(sh: &Rc<Shard>, bytes: &[u8], aof: bool) -> Counts {
    const SLICE: usize = 256 * 1024;
    // With `key-load-delay`, one item per slice.
    let delay = sh.config().int(Opt::KeyLoadDelay) as u64;
    let slice = if delay > 0 { 1 } else { SLICE };
    let mut logged = Instant::now();
    let persist = &sh.persist;
    let result = async {
        let mut load = ShardLoad::new(bytes, aof)?;
        loop {
            let before = load.reader.pos();
            let done = load.step(sh, slice)?;
            persist
                .load_done
                .fetch_add((load.reader.pos() - before) as u64, Ordering::Relaxed);
            if done {
                return Ok::<_, Corrupt>(load.counts);
            }
            if sh.id == 0 && logged.elapsed().as_secs() >= 1 {
                logged = Instant::now();
                let total = persist.load_total.load(Ordering::Relaxed).max(1);
                let done = persist.load_done.load(Ordering::Relaxed);
                tracing::info!("Loading: {:.0}%", done as f64 * 100.0 / total as f64);
            }
            if delay > 0 {
                glommio::timer::sleep(std::time::Duration::from_micros(delay)).await;
            }
            glommio::yield_if_needed().await;
        }
    }
    .await;
    match result {
        Ok(c) => c,
        Err(e) => {
            let what = if aof { "AOF base" } else { "RDB" };
            tracing::error!(
                "Short read or corrupt {what} file: {}. Unrecoverable error, aborting now.",
                e.0
            );
            std::process::exit(1);
        }
    }
}

/// Why DEBUG RELOAD failed: the save before, or the load.
#[derive(Debug)]
pub enum ReloadError {
    Save(String),
    Load(String),
}

/// DEBUG RELOAD: saves (unless `save` is off), then empties every database (unless `flush`
/// is off) and loads the file back, on every shard under all locks.
pub async fn reload(
    shard: &Rc<Shard>,
    tx: Option<crate::shard::TxId>,
    save: bool,
    flush: bool,
) -> Result<(), ReloadError> {
    if save {
        super::save::wait_idle(&shard.persist).await;
        super::save::foreground(shard, tx)
            .await
            .map_err(|e| ReloadError::Save(e.to_string()))?;
    }
    let rdb = Source::rdb_file(&shard.config(), "Loading")
        .and_then(|f| f.ok_or_else(|| "no RDB file to load".to_string()))
        .map_err(ReloadError::Load)?;
    let files = Boot {
        rdb: Some(rdb),
        ..Default::default()
    };
    load_locked(shard, tx, files, flush)
        .await
        .map_err(ReloadError::Load)?;
    tracing::info!("DB reloaded by DEBUG RELOAD");
    Ok(())
}

/// DEBUG LOADAOF: every shard hands its pending records to the log, and once they are
/// written every database is emptied and the log's files are loaded back. All of it under
/// every shard's lock, so no write falls between what the files hold and what is loaded.
pub async fn reload_log(
    shard: &Rc<Shard>,
    outer: Option<crate::shard::TxId>,
) -> Result<(), String> {
    let persist = &shard.persist;
    if !super::aof::is_on(persist) {
        return Err("ERR DEBUG LOADAOF needs appendonly yes".into());
    }
    // A rewrite swaps the log's files: wait until none runs.
    super::save::wait_idle(persist).await;
    let tx = outer.unwrap_or_else(|| shard.new_tx());
    for s in 0..shard.nshards {
        let hand_over = |sh: &Rc<Shard>| super::aof::flush_shard(sh);
        match outer {
            Some(_) => shard.run_on(s, outer, hand_over).await,
            None => shard.lock_and_run(s, tx, hand_over).await,
        }
    }
    super::aof::wait_durable(persist).await;
    let result = match super::aof::files_now(persist) {
        Ok(files) => load_locked(shard, Some(tx), files, true).await,
        Err(e) => Err(e),
    };
    if outer.is_none() {
        shard.unlock_all(0..shard.nshards, tx).await;
    }
    result.map_err(|e| {
        tracing::warn!("DEBUG LOADAOF: {e}");
        format!("ERR Error trying to load the AOF: {e}")
    })?;
    tracing::info!("Append Only File loaded by DEBUG LOADAOF");
    Ok(())
}

/// Loads `files` on every shard at once under all locks (inside `tx`'s if given), after
/// emptying every database if `flush`.
async fn load_locked(
    shard: &Rc<Shard>,
    tx: Option<crate::shard::TxId>,
    files: Boot,
    flush: bool,
) -> Result<(), String> {
    let files = Arc::new(files);
    let results = shard
        .on_all_locked(tx, move |sh| {
            if flush {
                let mut d = sh.data.borrow_mut();
                (0..d.store.dbs.len()).for_each(|i| d.flush_db(i));
            }
            let mut counts = Counts::default();
            if let Some(src) = &files.rdb {
                let mut load = ShardLoad::new(src.bytes(), files.aof)?;
                load.step(sh, usize::MAX)?;
                counts = load.counts;
            }
            for src in &files.incrs {
                super::aof::replay::all_now(sh, src.bytes());
            }
            Ok::<_, Corrupt>(counts)
        })
        .await;
    let mut s = shard.persist.state();
    let (mut keys, mut expired) = (0, 0);
    for r in results {
        let c = r.map_err(|e| e.0)?;
        keys += c.keys;
        expired += c.expired;
    }
    s.last_load_keys_loaded = keys;
    s.last_load_keys_expired = expired;
    Ok(())
}
