//! Importing an append-only log written by Redis or KeyDB, so a user moves to Tandem by
//! pointing it at the same `dir` with `appendonly yes`, as with a `dump.rdb`.
//!
//! Two layouts: Redis 7's directory (a manifest naming a base, an RDB file or commands, and
//! incremental files of commands), and the single file of Redis 6 and KeyDB
//! (`appendfilename` in `dir`: commands, possibly after an RDB preamble). Commands are RESP
//! arrays, as clients send them, `SELECT` and `MULTI`/`EXEC` included.
//!
//! At boot every shard loads the RDB part as any snapshot; then one shard runs the commands,
//! in file order, through an [`InternalClient`] (the path a connection's commands take, so
//! commands across shards and transactions behave as they did in Redis). Writes get fresh
//! stamps: Redis's log has none. Then a rewrite turns the data into Tandem's own log (a new
//! base and incremental file, numbered after Redis's, and a new manifest); Redis's files in
//! the directory are removed once the new manifest is in place, as Redis removes a log's old
//! files after a rewrite. A single file is left where it is and no longer read.
//!
//! As Redis does, a file that is not a log (bad format, or a command Tandem does not have)
//! stops the server with the reason, and a last file cut off mid-command loads up to its last
//! whole command (`aof-load-truncated yes`) or stops the server; a transaction left open at
//! the end of a file is dropped. Afterwards the data counts as saved and the commands are not
//! in INFO's command statistics. Keys are not held past their expiry while commands run (Redis
//! holds them until the load ends): a command that read an already expired key in Redis sees
//! no key here.

use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::manifest::Manifest;
use crate::config::Opt;
use crate::persist::load::{Boot, Mapped, Source};
use crate::protocol::{parse_command, Args, ParseLimits, ParseResult};
use crate::rdb::load::{Item, Reader};
use crate::server::conn::InternalClient;
use crate::shard::Shard;

/// Whether a file holds commands (RESP arrays), as Redis's and KeyDB's logs do.
pub fn holds_commands(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'*')
}

fn holds_rdb(bytes: &[u8]) -> bool {
    bytes.starts_with(b"REDIS")
}

/// The length of the RDB file at the start of `bytes` (a log's preamble or base), its
/// checksum checked.
fn rdb_len(bytes: &[u8]) -> Result<usize, String> {
    let len = || -> Result<usize, crate::rdb::Corrupt> {
        let mut r = Reader::new(bytes)?;
        loop {
            match r.next_item()? {
                Item::End => {
                    r.finish(true)?;
                    return Ok(r.pos());
                }
                Item::Aux(..) => {}
                Item::Key(h) => r.skip(h.kind)?,
            }
        }
    };
    len().map_err(|e| e.0)
}

/// Splits a file of Redis's log into its RDB part and its commands: either or both.
fn split(name: &str, file: Mapped) -> Result<(Option<Source>, Option<Source>), String> {
    let whole = Source::new(name, file);
    let bytes = whole.bytes();
    if holds_commands(bytes) {
        return Ok((None, Some(whole)));
    }
    if !holds_rdb(bytes) {
        return Err(format!(
            "Bad file format reading the append only file {name}: neither commands nor an RDB preamble"
        ));
    }
    let end = rdb_len(bytes)
        .map_err(|e| format!("Bad RDB preamble in the append only file {name}: {e}"))?;
    let commands = (end < bytes.len()).then(|| Source {
        name: whole.name.clone(),
        file: whole.file.clone(),
        range: end..whole.range.end,
    });
    let rdb = Source {
        range: 0..end,
        ..whole
    };
    Ok((Some(rdb), commands))
}

/// The single file of Redis 6 or KeyDB at `path`, to import; None if there is none (or it
/// is empty).
pub fn import_single_file(path: &Path) -> Result<Option<Boot>, String> {
    let file = Mapped::open(path)
        .map_err(|e| format!("Can't open the append only file {}: {e}", path.display()))?;
    let Some(file) = file.filter(|f| !f.bytes().is_empty()) else {
        return Ok(None);
    };
    let name = path.display().to_string();
    tracing::info!(
        "Found {name}, an append only file in the single-file format of Redis 6 and KeyDB: importing it (Tandem's own log is made beside it, and the file is not read again once that is done)"
    );
    let (rdb, commands) = split(&name, file)?;
    Ok(Some(Boot {
        rdb,
        commands: commands.into_iter().collect(),
        aof: true,
        rewrite_after: true,
        ..Default::default()
    }))
}

/// The files `m` names, to import, if they are Redis's (any of them holds commands); None
/// if the log is Tandem's. Incremental files that are empty hold nothing either way.
pub fn import_manifest(
    m: &Manifest,
    open: &dyn Fn(&str) -> Result<Mapped, String>,
) -> Result<Option<Boot>, String> {
    let base = m.base.as_ref().map(|b| open(&b.name)).transpose()?;
    let incrs = (m.incrs.iter())
        .map(|e| open(&e.name))
        .collect::<Result<Vec<_>, String>>()?;
    if !base.iter().chain(&incrs).any(|f| holds_commands(f.bytes())) {
        return Ok(None);
    }
    tracing::info!("The AOF manifest names files written by Redis: importing them");
    let mut boot = Boot {
        aof: true,
        rewrite_after: true,
        ..Default::default()
    };
    if let (Some(b), Some(file)) = (&m.base, base) {
        let (rdb, commands) = split(&b.name, file)?;
        boot.rdb = rdb;
        boot.commands.extend(commands);
    }
    for (e, file) in m.incrs.iter().zip(incrs) {
        if file.bytes().is_empty() {
            continue;
        }
        if !holds_commands(file.bytes()) {
            return Err(format!(
                "Bad file format reading the append only file {}: the manifest names files of Redis's log, and this is not one",
                e.name
            ));
        }
        boot.commands.push(Source::new(e.name.clone(), file));
    }
    Ok(Some(boot))
}

/// Runs the commands of `files` in order on this shard, once every shard has loaded the RDB
/// part. Stops the process on a file Redis would refuse to load too.
pub async fn import(sh: &Rc<Shard>, files: &[Source]) {
    let truncated_ok = sh.config().bool(Opt::AofLoadTruncated);
    for (i, src) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let t0 = Instant::now();
        match run_file(sh, src, last && truncated_ok).await {
            Ok(n) => tracing::info!(
                "DB loaded from append only file {} ({n} commands): {:.3} seconds",
                src.name,
                t0.elapsed().as_secs_f64()
            ),
            Err(e) => {
                tracing::error!("{e}");
                std::process::exit(1);
            }
        }
    }
    // As after any load: no changes since the last save, and the commands that rebuilt the
    // data are not the clients' (Redis's loading client is not counted either).
    sh.broadcast(|sh| {
        let mut d = sh.data.borrow_mut();
        d.dirty = 0;
        d.cmdstats = Default::default();
        d.ks = Default::default();
    })
    .await;
}

/// Bytes of commands parsed and run at a time.
const CHUNK: usize = 1 << 20;

/// Runs one file's commands; returns how many ran. `torn_ok`: a command cut off at the end
/// is dropped (with a warning) rather than refused.
async fn run_file(sh: &Rc<Shard>, src: &Source, torn_ok: bool) -> Result<u64, String> {
    let bytes = src.bytes();
    let name = &src.name;
    let limits = ParseLimits {
        max_bulk_len: usize::MAX,
        unauthenticated: false,
    };
    let mut client = InternalClient::new(sh.clone());
    let (mut buf, mut spans, mut cmds) = (vec![], vec![], vec![]);
    let (mut pos, mut want, mut ran) = (0, CHUNK, 0u64);
    let mut logged = Instant::now();
    let persist = &sh.persist;
    while pos < bytes.len() {
        let end = bytes.len().min(pos + want);
        buf.clear();
        buf.extend_from_slice(&bytes[pos..end]);
        spans.clear();
        cmds.clear();
        let mut at = 0;
        let mut need = None;
        while at < buf.len() {
            if buf[at] != b'*' {
                return Err(format!(
                    "Bad file format reading the append only file {name} at offset {}",
                    src.range.start + pos + at
                ));
            }
            match parse_command(&mut buf[at..], at, &limits, &mut spans) {
                Ok(ParseResult::Complete(p)) => {
                    if p.nargs > 0 {
                        let first = spans.len() - p.nargs;
                        check(&Args::new(&buf, &spans[first..]), name)?;
                        cmds.push((first, p.nargs));
                    }
                    at += p.consumed;
                }
                Ok(ParseResult::Incomplete { need: n }) => {
                    need = Some(at + n);
                    break;
                }
                Err(e) => {
                    return Err(format!(
                        "Bad file format reading the append only file {name} at offset {}: {}",
                        src.range.start + pos + at,
                        e.message()
                    ))
                }
            }
        }
        client.run(&buf, &spans, &cmds).await;
        ran += cmds.len() as u64;
        pos += at;
        persist.load_done.fetch_add(at as u64, Ordering::Relaxed);
        match need {
            Some(_) if end == bytes.len() => {
                let offset = src.range.start + pos;
                if !torn_ok {
                    return Err(format!(
                        "Unexpected end of file reading the append only file {name} (a command cut off at offset {offset}). You can: 1) Make a backup of your AOF file, then restart with --aof-load-truncated yes to load it anyway (the cut-off command is dropped). 2) Remove the damaged tail yourself."
                    ));
                }
                tracing::warn!(
                    "!!! Warning: short read while loading the AOF file {name}: the command at offset {offset} is cut off and dropped !!!"
                );
                tracing::warn!("AOF loaded anyway because aof-load-truncated is enabled");
                break;
            }
            // A command longer than what was read: read at least all of it.
            Some(n) if at == 0 => want = n.max(CHUNK),
            _ => want = CHUNK,
        }
        if logged.elapsed().as_secs() >= 1 {
            logged = Instant::now();
            let total = persist.load_total.load(Ordering::Relaxed).max(1);
            let done = persist.load_done.load(Ordering::Relaxed);
            tracing::info!("Loading: {:.0}%", done as f64 * 100.0 / total as f64);
        }
        glommio::yield_if_needed().await;
    }
    if client.in_multi() {
        tracing::warn!(
            "Revert incomplete MULTI/EXEC transaction in AOF file {name}: its commands are dropped"
        );
    }
    Ok(ran)
}

/// Refuses what Redis would not have logged: a command Tandem does not know (a stream, a
/// function, a module's), or one with the wrong number of arguments.
fn check(args: &Args, name: &str) -> Result<(), String> {
    let Some(idx) = crate::commands::lookup(args.get(0)) else {
        return Err(format!(
            "Unknown command '{}' reading the append only file {name}: Tandem does not have it, so it cannot load this log",
            args.lossy(0)
        ));
    };
    if !crate::commands::COMMANDS[idx].arity_ok(args.len()) {
        return Err(format!(
            "Bad file format reading the append only file {name}: wrong number of arguments for '{}'",
            args.lossy(0)
        ));
    }
    Ok(())
}
