//! The append-only log (`appendonly yes`): the stamped records replication carries, written
//! to disk as they are made, so that a restarted node has every acknowledged write back with
//! its stamp (KeyDB's log replays commands and restamps them: KeyDB #237).
//!
//! **Files** (Redis 7's multi-part layout, in `dir`/`appenddirname`): a [`manifest`] naming a
//! base file — an RDB snapshot written by `persist::save`, stamps, tombstones and flush
//! stamps included — and one or more incremental files of records in [`frame`]s. Loading
//! (`persist::load::at_boot`) = the base, then the incremental files in order ([`replay`]).
//!
//! **What is logged.** The records of `replication::record`, captured by
//! `Shard::captured` on every write path: the key's whole new state (PUT, DEL, FLUSH), or for
//! a small change to a large value the command with the stamp of the state it applied to
//! (OP). Capture is on whenever the log is. A shard copies each record it makes into its own
//! [`ShardLog`] ([`tap`]), and hands them to the log as one frame per turn of its loop (when
//! its replication outbox goes: [`flush_shard`]), or at once with `appendfsync always`. The
//! records of a transaction or cross-shard command (a replication unit) go as one frame when
//! its locks are released ([`append_unit`]).
//!
//! **Order, and why OP records stay on.** An OP record applies only to its base state, so
//! replay must meet a key's records in the order they were made. The log keeps that order
//! per shard, hence per key: a shard's plain records go in the order made; before a unit
//! collects a shard's part, that shard's earlier records go first (the hook in
//! `Shard::unlock_all`), and the unit is appended before the shard's lock is released, so
//! before any later record of that shard. This does not depend on the order in which the
//! replication executor receives messages from different shards, which is why the log is
//! fed from the shards rather than from the executor's `ingest`. With that order, OP
//! records keep the log small where it matters most (one LPUSH to a list of a million
//! elements logs the LPUSH, not the list), so they stay on.
//!
//! **Rewrite** (BGREWRITEAOF, auto-rewrite, turning the log on): first the writer switches
//! to a new incremental file, listed in the manifest at once; then a snapshot begins on every
//! shard, exactly as BGSAVE's (`persist::save`), into the new base file; when it is written
//! a new manifest names only the new base and the new incremental file, and the old files
//! are removed. Every record made after a shard's snapshot instant was appended after the
//! switch, so it is in the new incremental file; records made before it that landed there too
//! are already in the base, and replaying them again changes nothing (a PUT or DEL no newer
//! than the key is dropped; an OP whose base is gone is dropped, its effect is in the base;
//! a key's records before the instant that were logged after the switch are a tail of its
//! history that ends in the state the base holds). If the rewrite fails, the manifest keeps
//! the old base and every incremental file since, which together are whole.
//!
//! **Durability** ([`writer`]): `appendfsync always` holds every client's replies until the
//! writer has fsynced everything appended before them (see `server::conn`); one fsync serves
//! every client and pipeline that wrote meanwhile (group commit). `everysec` fsyncs once a
//! second on the writer thread, `no` leaves it to the kernel.

pub mod crc32c;
pub mod frame;
pub mod manifest;
pub mod redis;
pub mod replay;
pub mod writer;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::MutexGuard;
use std::time::Instant;

use super::load::{Boot, Mapped, Source};
use super::save::{self, SaveError};
use super::{Persistence, SaveKind};
use crate::config::{Config, Opt};
use crate::replication::shard::Origin;
use crate::shard::Shard;
use manifest::{FileEntry, Manifest};
use writer::{Log, Work, ALWAYS, EVERYSEC, NO};

/// A shard's records made since it last handed them to the log.
#[derive(Default)]
pub struct ShardLog {
    pending: RefCell<Vec<u8>>,
}

/// Whether the log takes records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Off,
    /// On, but its first rewrite (which makes its base) has not finished.
    WaitRewrite,
    On,
}

/// The log's files and rewrites: `Persistence::aof`.
pub(super) struct Aof {
    status: Status,
    /// `dir`/`appenddirname`, as of the last time the log's files were opened.
    dir: PathBuf,
    /// The manifest as on disk (the one being made, before the first rewrite ends).
    manifest: Manifest,
    /// The incremental file being written, listed in the manifest or to be.
    writing: Option<FileEntry>,
    rewrite_scheduled: bool,
    /// When the running rewrite began.
    rewriting: Option<Instant>,
    last_rewrite_secs: i64,
    rewrites: u64,
    consecutive_failures: u64,
    last_rewrite_ok: bool,
    /// `aof_base_size`: the files' size after the last rewrite or load.
    base_size: u64,
    /// Moves whenever the log is turned on or off: a rewrite begun before commits nothing.
    epoch: u64,
}

impl Aof {
    pub(super) fn new() -> Self {
        Aof {
            status: Status::Off,
            dir: PathBuf::new(),
            manifest: Manifest {
                base: None,
                incrs: Vec::new(),
            },
            writing: None,
            rewrite_scheduled: false,
            rewriting: None,
            last_rewrite_secs: -1,
            rewrites: 0,
            consecutive_failures: 0,
            last_rewrite_ok: true,
            base_size: 0,
            epoch: 0,
        }
    }
}

impl Persistence {
    fn aof(&self) -> MutexGuard<'_, Aof> {
        self.aof.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The directory of the log's files, and the prefix of their names.
fn paths(cfg: &Config) -> (PathBuf, String) {
    (
        Path::new(cfg.str(Opt::Dir)).join(cfg.str(Opt::Appenddirname)),
        cfg.str(Opt::Appendfilename).to_string(),
    )
}

fn policy(cfg: &Config) -> u8 {
    match cfg.str(Opt::Appendfsync) {
        "always" => ALWAYS,
        "no" => NO,
        _ => EVERYSEC,
    }
}

// ----- The shards' side ----------------------------------------------------------------------

/// Takes a copy of records a shard just made (outside any transaction). Called by
/// `Shard::record_from`; costs one atomic load when the log is off.
#[inline]
pub fn tap(sh: &Shard, records: &[u8]) {
    let log = &sh.persist.log;
    if !log.accepting() {
        return;
    }
    sh.aof.pending.borrow_mut().extend_from_slice(records);
    if log.always() {
        flush_shard(sh);
    }
}

/// Hands the shard's pending records to the log as one frame. Called when the shard's
/// replication outbox goes (end of a turn), and before a unit collects the shard's part.
pub fn flush_shard(sh: &Shard) {
    let mut p = sh.aof.pending.borrow_mut();
    if p.is_empty() {
        return;
    }
    append(&sh.persist.log, frame::RECORDS, &[&p]);
    if p.capacity() > 1 << 20 {
        *p = Vec::new();
    } else {
        p.clear();
    }
}

/// Appends a transaction's records as one frame (called before its locks are released).
pub fn append_unit(sh: &Shard, unit: &[(Origin, Vec<u8>)]) {
    let log = &sh.persist.log;
    if !log.accepting() {
        return;
    }
    let parts: Vec<&[u8]> = unit.iter().map(|(_, r)| r.as_slice()).collect();
    append(log, frame::UNIT, &parts);
}

/// The largest payload one frame takes (its length field is 32 bits).
const MAX_FRAME: usize = 1 << 30;

/// Appends records as one frame, or, beyond [`MAX_FRAME`] (a SWAPDB of a huge database
/// restamps every key in one unit), as several frames cut between records: such a unit is
/// no longer all-or-nothing across a crash, which only a torn tail could show.
fn append(log: &Log, kind: u8, parts: &[&[u8]]) {
    if parts.iter().map(|p| p.len()).sum::<usize>() <= MAX_FRAME {
        return log.append(kind, parts);
    }
    for part in parts {
        let (mut from, mut at) = (0, 0);
        for item in crate::replication::record::Reader::new(part) {
            let Ok((_, raw)) = item else { break };
            if at + raw.len() - from > MAX_FRAME && at > from {
                log.append(kind, &[&part[from..at]]);
                from = at;
            }
            at += raw.len();
        }
        if at > from {
            log.append(kind, &[&part[from..at]]);
        }
    }
}

/// Whether replies must wait for the log (`appendfsync always`, records not yet durable).
#[inline]
pub fn behind(persist: &Persistence) -> bool {
    persist.log.behind()
}

/// Waits until every record appended so far is durable.
pub async fn wait_durable(persist: &Persistence) {
    persist.log.wait_durable().await
}

/// `aof_last_write_status:err`: writes are refused meanwhile (MISCONF), as Redis does.
#[inline]
pub fn write_failing(persist: &Persistence) -> bool {
    !persist
        .log
        .write_ok
        .load(std::sync::atomic::Ordering::Relaxed)
}

pub const WRITE_ERROR: &str =
    "MISCONF Errors writing to the AOF file: check the server logs for the cause";

/// Whether the log is on and has its files (its first rewrite done).
pub fn is_on(persist: &Persistence) -> bool {
    persist.aof().status == Status::On
}

/// The log's files as they are now, mapped, to load again (DEBUG LOADAOF): the base and
/// the incremental files, each up to its last whole frame.
pub fn files_now(persist: &Persistence) -> Result<Boot, String> {
    let a = persist.aof();
    let source = |e: &FileEntry, framed: bool| -> Result<Source, String> {
        let p = a.dir.join(&e.name);
        let file = Mapped::open(&p)
            .map_err(|err| format!("{}: {err}", p.display()))?
            .ok_or_else(|| format!("{}: no such file", p.display()))?;
        let mut s = Source::new(e.name.clone(), file);
        if let frame::Check::Torn(bad) = frame::check(s.bytes()) {
            if framed {
                s.range.end = bad.at;
            }
        }
        Ok(s)
    };
    Ok(Boot {
        rdb: a
            .manifest
            .base
            .as_ref()
            .map(|e| source(e, false))
            .transpose()?,
        incrs: (a.manifest.incrs.iter())
            .map(|e| source(e, true))
            .collect::<Result<_, _>>()?,
        aof: true,
        ..Default::default()
    })
}

// ----- Boot -----------------------------------------------------------------------------------

/// Decides what to load at boot, before the shards start: with `appendonly yes` and a
/// manifest, its files (the last incremental file's torn tail cut off, or the start refused
/// with `aof-load-truncated no`), and opens the last incremental file for appending; else
/// `dbfilename` if it exists.
pub fn prepare_boot(persist: &Persistence, cfg: &Config) -> Result<Boot, String> {
    let log = &persist.log;
    log.set_policy(policy(cfg));
    let rdb = || Source::rdb_file(cfg, "Fatal error loading the DB");
    if !cfg.bool(Opt::Appendonly) {
        return Ok(Boot {
            rdb: rdb()?,
            ..Default::default()
        });
    }
    log.start();
    let (dir, prefix) = paths(cfg);
    remove_temp_files(&dir);
    let mpath = dir.join(manifest::manifest_name(&prefix));
    let text = match std::fs::read_to_string(&mpath) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(format!(
                "Can't read the AOF manifest {}: {e}",
                mpath.display()
            ))
        }
    };
    let Some(text) = text else {
        // Redis 6's and KeyDB's log is one file, `appendfilename` in `dir`: import it.
        let legacy = Path::new(cfg.str(Opt::Dir)).join(&prefix);
        if let Some(boot) = redis::import_single_file(&legacy)? {
            let mut a = persist.aof();
            a.status = Status::WaitRewrite;
            a.dir = dir;
            return Ok(boot);
        }
        // No log yet: start from the snapshot if there is one, and make the log's files
        // once it is loaded.
        let rdb = rdb()?;
        match &rdb {
            Some(s) => tracing::info!(
                "No AOF in {}: loading {} and creating the AOF from it",
                dir.display(),
                s.name
            ),
            None => tracing::info!("No AOF in {}: creating it", dir.display()),
        }
        let mut a = persist.aof();
        a.status = Status::WaitRewrite;
        a.dir = dir;
        return Ok(Boot {
            rdb,
            aof: true,
            rewrite_after: true,
            ..Default::default()
        });
    };
    let mut m =
        Manifest::parse(&text).map_err(|e| format!("Bad AOF manifest {}: {e}", mpath.display()))?;
    remove_unlisted_files(&dir, &prefix, &m);
    let open = |name: &str| -> Result<Mapped, String> {
        let p = dir.join(name);
        match Mapped::open(&p) {
            Ok(Some(f)) => Ok(f),
            Ok(None) => Err(format!(
                "The AOF file {name} named by {} doesn't exist",
                mpath.display()
            )),
            Err(e) => Err(format!("Can't open the AOF file {}: {e}", p.display())),
        }
    };
    if let Some(boot) = redis::import_manifest(&m, &open)? {
        // Imported, the files become Tandem's by a rewrite; its new files are numbered
        // after Redis's, and Redis's are removed once the new manifest is in place.
        let mut a = persist.aof();
        a.status = Status::WaitRewrite;
        a.dir = dir;
        a.manifest = m;
        return Ok(boot);
    }
    let base = match &m.base {
        Some(b) => Some(Source::new(b.name.clone(), open(&b.name)?)),
        None => None,
    };
    let mut incrs = vec![];
    for (i, e) in m.incrs.iter().enumerate() {
        let last = i + 1 == m.incrs.len();
        let mut file = open(&e.name)?;
        let mut len = file.bytes().len();
        // An empty file holds nothing either way (Redis starts each incremental file empty;
        // appending to it makes it Tandem's, header first).
        let check = match len {
            0 => frame::Check::Good,
            _ => frame::check(file.bytes()),
        };
        match check {
            frame::Check::Good => {}
            frame::Check::Foreign => {
                return Err(format!(
                    "The AOF file {} is in neither Tandem's format nor Redis's",
                    e.name
                ))
            }
            frame::Check::Torn(bad) if last && cfg.bool(Opt::AofLoadTruncated) => {
                tracing::warn!(
                    "!!! Warning: the AOF file {} ends with {} at offset {} of {}: a write cut short by a crash. Truncating the AOF at offset {} ({} bytes dropped) !!!",
                    e.name,
                    bad.why,
                    bad.at,
                    len,
                    bad.at,
                    len - bad.at
                );
                let p = dir.join(&e.name);
                drop(file);
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .and_then(|f| {
                        f.set_len(bad.at as u64)?;
                        f.sync_all()
                    })
                    .map_err(|err| format!("Truncating the AOF file {}: {err}", p.display()))?;
                tracing::warn!("AOF loaded anyway because aof-load-truncated is enabled");
                file = open(&e.name)?;
                len = bad.at;
            }
            frame::Check::Torn(bad) if last => {
                return Err(format!(
                    "Unexpected end of file reading the append only file {} ({} at offset {}). You can: 1) Make a backup of your AOF file, then restart with --aof-load-truncated yes to load it anyway (the cut-off tail is dropped). 2) Remove the damaged tail yourself.",
                    e.name, bad.why, bad.at
                ))
            }
            frame::Check::Torn(bad) => {
                return Err(format!(
                    "Bad file format reading the append only file {} ({} at offset {}), which is not the last one: refusing to load a log with a hole",
                    e.name, bad.why, bad.at
                ))
            }
        }
        let mut s = Source::new(e.name.clone(), file);
        s.range.end = len;
        incrs.push(s);
    }
    // Appending goes on in the last incremental file; a manifest without one gets one.
    let (path, keep, new_manifest) = match (m.incrs.last(), incrs.last()) {
        (Some(e), Some(s)) => (dir.join(&e.name), Some(s.range.end as u64), None),
        _ => {
            let e = FileEntry {
                name: manifest::incr_name(&prefix, m.next_incr_seq()),
                seq: m.next_incr_seq(),
            };
            m.incrs.push(e);
            let e = m.incrs.last().unwrap();
            (dir.join(&e.name), None, Some((mpath.clone(), m.clone())))
        }
    };
    let done = writer::done();
    log.control(
        Work::Open {
            path,
            keep,
            manifest: new_manifest,
            done: done.clone(),
        },
        Some(true),
    );
    while writer::lock_done(&done).is_none() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    writer::lock_done(&done)
        .take()
        .unwrap()
        .map_err(|e| format!("Can't open the AOF file for appending: {e}"))?;
    let size = m.files().map(|f| file_size(&dir.join(&f.name))).sum();
    {
        let mut a = persist.aof();
        a.dir = dir;
        a.status = Status::On;
        a.writing = m.incrs.last().cloned();
        a.manifest = m;
        a.base_size = size;
    }
    Ok(Boot {
        rdb: base,
        incrs,
        aof: true,
        ..Default::default()
    })
}

/// Removes what an interrupted rewrite or manifest update left.
fn remove_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("temp-rewriteaof-")
            || name.starts_with("temp-") && name.ends_with(".manifest")
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Removes files of the log's own naming that the manifest does not name: the old files of
/// a rewrite whose new manifest was written just before a crash, or the incremental file of
/// a first rewrite that never finished.
fn remove_unlisted_files(dir: &Path, prefix: &str, m: &Manifest) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('.'))
            .and_then(|r| r.strip_suffix(".base.rdb").or(r.strip_suffix(".incr.aof")))
            .is_some_and(|seq| !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()));
        if ours && !m.files().any(|f| f.name == name) {
            tracing::info!("Removing {name}, which the AOF manifest no longer names");
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// The log has no files yet (`appendonly yes` on an empty directory, or with only a
/// `dbfilename` to start from): its first rewrite makes them. Runs while the process is
/// still loading, so no client writes before the log is open.
pub async fn create_at_boot(sh: &Rc<Shard>) {
    if let Err(e) = rewrite(sh).await {
        tracing::warn!("Creating the AOF at start failed: {e}; retrying in a second");
        sh.persist.aof().rewrite_scheduled = true;
    }
}

// ----- Rewrite --------------------------------------------------------------------------------

/// Why a rewrite did not start.
#[derive(Debug)]
pub enum RewriteError {
    /// A rewrite is running already.
    InProgress,
    /// A save is running: the rewrite will start after it.
    Scheduled,
    Failed(String),
}

impl std::fmt::Display for RewriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RewriteError::InProgress => f.write_str("a rewrite is running"),
            RewriteError::Scheduled => f.write_str("scheduled after the running save"),
            RewriteError::Failed(e) => f.write_str(e),
        }
    }
}

/// BGREWRITEAOF: starts a rewrite and returns once every shard's snapshot has begun; the
/// rest runs in the background. While a save runs, the rewrite is scheduled instead.
pub async fn rewrite(shard: &Rc<Shard>) -> Result<(), RewriteError> {
    let persist = &shard.persist;
    // A rewrite runs from here until its manifest is written, after its snapshot is done.
    {
        let mut a = persist.aof();
        if a.rewriting.is_some() {
            return Err(RewriteError::InProgress);
        }
        a.rewriting = Some(Instant::now());
    }
    if let Err(running) = save::claim(persist, SaveKind::AofRewrite) {
        let mut a = persist.aof();
        a.rewriting = None;
        if running == SaveKind::AofRewrite {
            return Err(RewriteError::InProgress);
        }
        a.rewrite_scheduled = true;
        return Err(RewriteError::Scheduled);
    }
    let fail = |e: String, claimed: bool| {
        tracing::warn!("Background AOF rewrite failed to start: {e}");
        if claimed {
            save::unclaim(persist);
        }
        let mut a = persist.aof();
        a.rewriting = None;
        a.last_rewrite_ok = false;
        a.consecutive_failures += 1;
        if a.status == Status::WaitRewrite {
            // The log has no base yet: try again.
            a.rewrite_scheduled = true;
        }
        RewriteError::Failed(e)
    };
    let cfg = shard.config();
    let (dir, prefix) = paths(&cfg);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Err(fail(
            format!("Can't create the AOF directory {}: {e}", dir.display()),
            true,
        ));
    }
    let mpath = dir.join(manifest::manifest_name(&prefix));
    // Before the snapshot's instant, every record goes to a new incremental file (unless the
    // log has not got its first base yet and already writes one).
    let (base, open, epoch) = {
        let mut a = persist.aof();
        a.rewrite_scheduled = false;
        a.dir = dir.clone();
        let seq = a.manifest.next_base_seq();
        let base = FileEntry {
            name: manifest::base_name(&prefix, seq),
            seq,
        };
        let next_incr = || {
            let seq = a
                .manifest
                .next_incr_seq()
                .max(a.writing.as_ref().map_or(0, |w| w.seq) + 1);
            FileEntry {
                name: manifest::incr_name(&prefix, seq),
                seq,
            }
        };
        let open = match a.status {
            Status::Off => None,
            Status::WaitRewrite if a.writing.is_some() => None,
            Status::WaitRewrite => Some((next_incr(), None)),
            Status::On => {
                let e = next_incr();
                let mut m = a.manifest.clone();
                m.incrs.push(e.clone());
                Some((e, Some((mpath.clone(), m))))
            }
        };
        (base, open, a.epoch)
    };
    if let Some((e, m)) = open {
        let done = writer::done();
        persist.log.start();
        persist.log.control(
            Work::Open {
                path: dir.join(&e.name),
                keep: None,
                manifest: m.clone(),
                done: done.clone(),
            },
            Some(true),
        );
        if let Err(err) = writer::answer(&done).await {
            return Err(fail(format!("Can't open a new AOF file: {err}"), true));
        }
        let mut a = persist.aof();
        if let Some((_, m)) = m {
            a.manifest = m;
        }
        a.writing = Some(e);
    }
    let started = Instant::now();
    // (`begin` gives up the claim itself when it fails.)
    let job = match save::begin(shard, None, SaveKind::AofRewrite, dir.join(&base.name)).await {
        Ok(j) => j,
        Err(e) => return Err(fail(e.to_string(), false)),
    };
    let me = shard.clone();
    glommio::spawn_local(async move {
        finish_rewrite(&me, job, base, mpath, dir, started, epoch).await;
    })
    .detach();
    Ok(())
}

/// The end of a rewrite: the new manifest, once the base file is on disk.
async fn finish_rewrite(
    shard: &Rc<Shard>,
    job: save::Job,
    base: FileEntry,
    mpath: PathBuf,
    dir: PathBuf,
    started: Instant,
    epoch: u64,
) {
    let result = save::finish(shard, job).await.map_err(|e| match e {
        SaveError::Failed(e) => e,
        e => e.to_string(),
    });
    let commit = {
        let a = shard.persist.aof();
        match (&result, a.status) {
            (Err(e), _) => Err(e.clone()),
            (Ok(_), _) if a.epoch != epoch => Err("the AOF was turned off meanwhile".to_string()),
            (Ok(_), _) => {
                let m = Manifest {
                    base: Some(base.clone()),
                    incrs: a.writing.iter().cloned().collect(),
                };
                let remove: Vec<PathBuf> = a
                    .manifest
                    .files()
                    .filter(|f| !m.files().any(|n| n.name == f.name))
                    .map(|f| dir.join(&f.name))
                    .collect();
                Ok((m, remove))
            }
        }
    };
    let result = match commit {
        Ok((m, remove)) => {
            let done = writer::done();
            shard.persist.log.control(
                Work::Commit {
                    path: mpath,
                    manifest: m.clone(),
                    remove,
                    done: done.clone(),
                },
                None,
            );
            writer::answer(&done).await.map(|()| m)
        }
        Err(e) => Err(e),
    };
    let secs = started.elapsed().as_secs_f64();
    let mut a = shard.persist.aof();
    a.rewriting = None;
    match result {
        Ok(m) => {
            a.base_size = m.files().map(|f| file_size(&dir.join(&f.name))).sum();
            a.manifest = m;
            if a.status == Status::WaitRewrite {
                a.status = Status::On;
            }
            a.rewrites += 1;
            a.last_rewrite_ok = true;
            a.consecutive_failures = 0;
            a.last_rewrite_secs = secs.round() as i64;
            tracing::info!(
                "Background AOF rewrite finished successfully ({} bytes, {secs:.3} seconds)",
                a.base_size
            );
        }
        Err(e) => {
            let _ = std::fs::remove_file(dir.join(&base.name));
            a.last_rewrite_ok = false;
            a.consecutive_failures += 1;
            a.last_rewrite_secs = secs.round() as i64;
            if a.status == Status::WaitRewrite {
                // The log has no base yet: try again.
                a.rewrite_scheduled = true;
            }
            tracing::warn!("Background AOF rewrite terminated with error: {e}");
        }
    }
}

/// Once a second on shard 0: a scheduled rewrite, or an automatic one when the files have
/// grown by `auto-aof-rewrite-percentage` since the last rewrite (and are at least
/// `auto-aof-rewrite-min-size`).
pub async fn cron(shard: &Rc<Shard>) {
    let persist = &shard.persist;
    if persist.loading() || persist.state().running.is_some() {
        return;
    }
    let cfg = shard.config();
    let (scheduled, why) = {
        let a = persist.aof();
        let mut why = None;
        let perc = cfg.int(Opt::AutoAofRewritePercentage) as u64;
        if a.status == Status::On && perc > 0 && a.rewriting.is_none() {
            let size = current_size(&a);
            let min = cfg.int(Opt::AutoAofRewriteMinSize) as u64;
            let growth = (size * 100 / a.base_size.max(1)).saturating_sub(100);
            if size > min && growth >= perc {
                why = Some(growth);
            }
        }
        (a.rewrite_scheduled && a.status != Status::Off, why)
    };
    if !scheduled && why.is_none() {
        return;
    }
    if let Some(growth) = why {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
    }
    if let Err(e) = rewrite(shard).await {
        tracing::debug!("rewrite not started: {e}");
    }
}

// ----- Configuration, shutdown, INFO ----------------------------------------------------------

/// CONFIG SET: acts on `appendfsync` and `appendonly` changes. Turning the log on starts a
/// rewrite (scheduled if a save runs), as Redis does: records are logged from its start,
/// and the log counts as on once its base is written.
pub async fn config_changed(
    shard: &Rc<Shard>,
    tx: Option<crate::shard::TxId>,
    old: &Config,
    new: &Config,
) -> Result<(), String> {
    let persist = &shard.persist;
    if old.str(Opt::Appendfsync) != new.str(Opt::Appendfsync) {
        persist.log.set_policy(policy(new));
    }
    match (old.bool(Opt::Appendonly), new.bool(Opt::Appendonly)) {
        (false, true) => {
            let (dir, prefix) = paths(new);
            let mpath = dir.join(manifest::manifest_name(&prefix));
            let old_manifest = std::fs::read_to_string(&mpath)
                .ok()
                .and_then(|t| Manifest::parse(&t).ok())
                .unwrap_or_default();
            {
                let mut a = persist.aof();
                a.status = Status::WaitRewrite;
                a.manifest = old_manifest;
                a.writing = None;
                a.dir = dir;
                a.epoch += 1;
            }
            shard.broadcast_in(tx, |sh| sh.repl.capture.set(true)).await;
            if tx.is_some() {
                // Inside EXEC, which holds the locks the snapshot would begin under.
                persist.aof().rewrite_scheduled = true;
                return Ok(());
            }
            match rewrite(shard).await {
                Ok(()) | Err(RewriteError::Scheduled) => Ok(()),
                Err(RewriteError::InProgress) => {
                    persist.aof().rewrite_scheduled = true;
                    Ok(())
                }
                Err(RewriteError::Failed(e)) => {
                    let mut a = persist.aof();
                    a.status = Status::Off;
                    a.epoch += 1;
                    a.rewrite_scheduled = false;
                    drop(a);
                    persist.log.set_accepting(false);
                    Err(format!("can't start the AOF: {e}"))
                }
            }
        }
        (true, false) => {
            {
                let mut a = persist.aof();
                a.status = Status::Off;
                a.epoch += 1;
                a.rewrite_scheduled = false;
                a.writing = None;
            }
            // What the shards hold goes first, then the file is fsynced and closed. Writes are
            // no longer captured unless replication needs them (a shard's flag, so a replica
            // attaching meanwhile is never left without: both changes run on the shard).
            shard
                .broadcast_in(tx, |sh| {
                    flush_shard(sh);
                    if !sh.repl.replicating.get() {
                        sh.repl.capture.set(false);
                    }
                })
                .await;
            persist.log.set_accepting(false);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Before the process exits: every shard's pending records are written and fsynced.
pub async fn flush_for_exit(shard: &Rc<Shard>) {
    let log = &shard.persist.log;
    if !log.accepting() {
        return;
    }
    tracing::info!("Calling fsync() on the AOF file.");
    shard.broadcast(|sh| flush_shard(sh)).await;
    let done = writer::done();
    log.control(Work::Sync(done.clone()), None);
    if let Err(e) = writer::answer(&done).await {
        tracing::warn!("Error fsyncing the AOF file: {e}");
    }
}

/// BGREWRITEAOF's reply.
pub async fn bgrewriteaof(shard: &Rc<Shard>, in_exec: bool) -> Result<&'static str, String> {
    if in_exec {
        // The transaction holds every shard's lock the snapshot would begin under.
        if shard.persist.aof().rewriting.is_some() {
            return Err("Background append only file rewriting already in progress".into());
        }
        shard.persist.aof().rewrite_scheduled = true;
        return Ok("Background append only file rewriting scheduled");
    }
    match rewrite(shard).await {
        Ok(()) => Ok("Background append only file rewriting started"),
        Err(RewriteError::InProgress) => {
            Err("Background append only file rewriting already in progress".into())
        }
        Err(RewriteError::Scheduled) => Ok("Background append only file rewriting scheduled"),
        Err(RewriteError::Failed(_)) => Err(
            "Can't execute an AOF background rewriting. Please check the server logs for more information."
                .into(),
        ),
    }
}

/// INFO persistence's aof_* fields; `copied`: bytes the last rewrite's snapshot copied aside.
pub fn info(persist: &Persistence, copied: u64, t: &mut String) {
    let a = persist.aof();
    let current = a.rewriting.map_or(-1, |s| s.elapsed().as_secs() as i64);
    let _ = write!(
        t,
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{current}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:{copied}\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        (a.status != Status::Off) as u8,
        (current >= 0) as u8,
        a.rewrite_scheduled as u8,
        a.last_rewrite_secs,
        if a.last_rewrite_ok { "ok" } else { "err" },
        a.rewrites,
        a.consecutive_failures,
        if write_failing(persist) { "err" } else { "ok" },
    );
    if a.status != Status::Off {
        let _ = write!(
            t,
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
            current_size(&a),
            a.base_size,
            a.rewrite_scheduled as u8,
            persist.log.buffered(),
        );
    }
}

/// The size of the log's files (as written so far): those the manifest names, and the
/// incremental file being written if it names it not yet.
fn current_size(a: &Aof) -> u64 {
    let unlisted = a.writing.iter().filter(|w| !a.manifest.incrs.contains(w));
    a.manifest
        .files()
        .chain(unlisted)
        .map(|f| file_size(&a.dir.join(&f.name)))
        .sum()
}
