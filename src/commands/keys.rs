//! Generic key commands that run on the shard owning the key(s).
//! KEYS, SCAN and RANDOMKEY walk every shard and live with the connection commands.

use super::Ctx;
use crate::config::Opt;
use crate::protocol::{errors, parse_i64, Args};
use crate::rdb;
use crate::store::{Entry, KeyspaceStats};
use crate::util::eq_ic;

/// DEL and UNLINK: the number of keys removed.
pub fn del(ctx: &mut Ctx, args: Args) {
    let now = ctx.now_ms;
    let mut n = 0;
    for key in args.iter().skip(1) {
        if ctx.dbs[ctx.db].contains(key, now, ctx.ks) {
            ctx.stamp();
            ctx.dbs[ctx.db].remove(key);
            n += 1;
        }
    }
    ctx.out.int(n);
}

/// EXISTS and TOUCH: the number of keys that exist (a key named twice counts twice).
pub fn exists(ctx: &mut Ctx, args: Args) {
    let now = ctx.now_ms;
    let n = args
        .iter()
        .skip(1)
        .filter(|k| ctx.dbs[ctx.db].contains(k, now, ctx.ks))
        .count();
    ctx.out.int(n as i64);
}

pub fn type_(ctx: &mut Ctx, args: Args) {
    let now = ctx.now_ms;
    let t = match ctx.dbs[ctx.db].get(args.get(1), now, ctx.ks) {
        Some(e) => e.value.type_name(),
        None => "none",
    };
    ctx.out.simple(t);
}

fn rename_generic(ctx: &mut Ctx, args: Args, nx: bool) {
    let (src, dst) = (args.get(1), args.get(2));
    let now = ctx.now_ms;
    if !ctx.dbs[ctx.db].contains(src, now, ctx.ks) {
        return ctx.out.error(errors::NO_SUCH_KEY);
    }
    if src == dst {
        return if nx { ctx.out.int(0) } else { ctx.out.ok() };
    }
    if nx && ctx.dbs[ctx.db].contains(dst, now, ctx.ks) {
        return ctx.out.int(0);
    }
    ctx.stamp();
    let stamp = ctx.stamp();
    let db = &mut ctx.dbs[ctx.db];
    let mut e = db.remove(src).unwrap();
    e.stamp = stamp;
    db.insert(dst, e);
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

pub fn rename(ctx: &mut Ctx, args: Args) {
    rename_generic(ctx, args, false)
}

pub fn renamenx(ctx: &mut Ctx, args: Args) {
    rename_generic(ctx, args, true)
}

/// Parses a database index argument; `Err` carries the reply.
fn db_index(ctx: &Ctx, raw: &[u8]) -> Result<usize, &'static str> {
    let n = parse_i64(raw).ok_or(errors::NOT_INTEGER)?;
    if n < 0 || n as usize >= ctx.dbs.len() {
        return Err(errors::DB_INDEX);
    }
    Ok(n as usize)
}

pub fn copy(ctx: &mut Ctx, args: Args) {
    let (src, dst) = (args.get(1), args.get(2));
    let mut target_db = ctx.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if eq_ic(args.get(i), "replace") {
            replace = true;
        } else if eq_ic(args.get(i), "db") && i + 1 < args.len() {
            match db_index(ctx, args.get(i + 1)) {
                Ok(d) => target_db = d,
                Err(e) => return ctx.out.error(e),
            }
            i += 1;
        } else {
            return ctx.out.error(errors::SYNTAX);
        }
        i += 1;
    }
    if src == dst && target_db == ctx.db {
        return ctx
            .out
            .error("ERR source and destination objects are the same");
    }
    let now = ctx.now_ms;
    let Some(mut e) = ctx.dbs[ctx.db].get(src, now, ctx.ks).cloned() else {
        return ctx.out.int(0);
    };
    if ctx.dbs[target_db].contains(dst, now, &mut KeyspaceStats::default()) && !replace {
        return ctx.out.int(0);
    }
    e.stamp = ctx.stamp();
    ctx.dbs[target_db].insert(dst, e);
    ctx.out.int(1);
}

pub fn move_(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let target = match db_index(ctx, args.get(2)) {
        Ok(d) => d,
        Err(e) => return ctx.out.error(e),
    };
    if target == ctx.db {
        return ctx
            .out
            .error("ERR source and destination objects are the same");
    }
    let now = ctx.now_ms;
    if !ctx.dbs[ctx.db].contains(key, now, ctx.ks)
        || ctx.dbs[target].contains(key, now, &mut KeyspaceStats::default())
    {
        return ctx.out.int(0);
    }
    ctx.stamp();
    let stamp = ctx.stamp();
    let mut e = ctx.dbs[ctx.db].remove(key).unwrap();
    e.stamp = stamp;
    ctx.dbs[target].insert(key, e);
    ctx.out.int(1);
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX / XX / GT / LT.
fn expire_generic(ctx: &mut Ctx, args: Args, unit_ms: i64, absolute: bool, name: &str) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in args.iter().skip(3) {
        if eq_ic(a, "nx") {
            nx = true;
        } else if eq_ic(a, "xx") {
            xx = true;
        } else if eq_ic(a, "gt") {
            gt = true;
        } else if eq_ic(a, "lt") {
            lt = true;
        } else {
            return ctx.out.error(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            ));
        }
    }
    if nx && (xx || gt || lt) {
        return ctx
            .out
            .error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return ctx
            .out
            .error("ERR GT and LT options at the same time are not compatible");
    }
    let Some(n) = parse_i64(args.get(2)) else {
        return ctx.out.error(errors::NOT_INTEGER);
    };
    let invalid = format!("ERR invalid expire time in '{name}' command");
    let Some(ms) = n.checked_mul(unit_ms) else {
        return ctx.out.error(&invalid);
    };
    let at = if absolute {
        ms
    } else {
        match ms.checked_add(ctx.now_ms as i64) {
            Some(v) => v,
            None => return ctx.out.error(&invalid),
        }
    };
    let key = args.get(1);
    let now = ctx.now_ms;
    let Some(e) = ctx.dbs[ctx.db].get(key, now, ctx.ks) else {
        return ctx.out.int(0);
    };
    let cur = e.expire_at;
    // A key without TTL counts as an infinite TTL for GT and LT.
    let skip = (nx && cur != 0)
        || (xx && cur == 0)
        || (gt && (cur == 0 || at <= cur as i64))
        || (lt && cur != 0 && at >= cur as i64);
    if skip {
        return ctx.out.int(0);
    }
    let stamp = ctx.stamp();
    let db = &mut ctx.dbs[ctx.db];
    if at <= now as i64 {
        db.remove(key);
    } else {
        db.set_expire(key, at as u64);
        if let Some(e) = db.get(key, now, &mut KeyspaceStats::default()) {
            e.stamp = stamp;
        }
    }
    ctx.out.int(1);
}

pub fn expire(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, 1000, false, "expire")
}

pub fn pexpire(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, 1, false, "pexpire")
}

pub fn expireat(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, 1000, true, "expireat")
}

pub fn pexpireat(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, 1, true, "pexpireat")
}

/// The key's expiry: None if missing, Some(0) if it has none.
fn expiry_of(ctx: &mut Ctx, key: &[u8]) -> Option<u64> {
    let now = ctx.now_ms;
    ctx.dbs[ctx.db]
        .get(key, now, &mut KeyspaceStats::default())
        .map(|e| e.expire_at)
}

fn ttl_generic(ctx: &mut Ctx, args: Args, ms: bool) {
    match expiry_of(ctx, args.get(1)) {
        None => ctx.out.int(-2),
        Some(0) => ctx.out.int(-1),
        Some(at) => {
            let left = at.saturating_sub(ctx.now_ms) as i64;
            ctx.out.int(if ms { left } else { (left + 500) / 1000 })
        }
    }
}

pub fn ttl(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, false)
}

pub fn pttl(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, true)
}

fn expiretime_generic(ctx: &mut Ctx, args: Args, ms: bool) {
    match expiry_of(ctx, args.get(1)) {
        None => ctx.out.int(-2),
        Some(0) => ctx.out.int(-1),
        Some(at) => ctx.out.int(if ms { at as i64 } else { at as i64 / 1000 }),
    }
}

pub fn expiretime(ctx: &mut Ctx, args: Args) {
    expiretime_generic(ctx, args, false)
}

pub fn pexpiretime(ctx: &mut Ctx, args: Args) {
    expiretime_generic(ctx, args, true)
}

pub fn persist(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    match expiry_of(ctx, key) {
        Some(at) if at != 0 => {
            let stamp = ctx.stamp();
            let now = ctx.now_ms;
            let db = &mut ctx.dbs[ctx.db];
            db.set_expire(key, 0);
            db.get(key, now, &mut KeyspaceStats::default())
                .unwrap()
                .stamp = stamp;
            ctx.out.int(1)
        }
        _ => ctx.out.int(0),
    }
}

pub fn object(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1);
    if eq_ic(sub, "help") {
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ];
        ctx.out.help(&lines);
        return;
    }
    if args.len() != 3 {
        return ctx
            .out
            .error(super::unknown_subcommand_error(sub, "object"));
    }
    let now = ctx.now_ms;
    let Some(e) = ctx.dbs[ctx.db].get(args.get(2), now, &mut KeyspaceStats::default()) else {
        return ctx.out.null();
    };
    if eq_ic(sub, "encoding") {
        let enc = e.value.encoding();
        ctx.out.bulk(enc.as_bytes());
    } else if eq_ic(sub, "refcount") {
        ctx.out.int(1);
    } else if eq_ic(sub, "idletime") {
        // Access times are not tracked (no LRU eviction yet); every key reads as just used.
        ctx.out.int(0);
    } else if eq_ic(sub, "freq") {
        ctx.out.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    } else {
        ctx.out
            .error(super::unknown_subcommand_error(sub, "object"));
    }
}

/// DUMP key: the value as a Redis DUMP payload (RDB type and value, version, CRC-64).
pub fn dump(ctx: &mut Ctx, args: Args) {
    let now = ctx.now_ms;
    let compress = ctx.config.bool(Opt::Rdbcompression);
    match ctx.dbs[ctx.db].get(args.get(1), now, ctx.ks) {
        Some(e) => {
            ctx.ks.keyspace_hits += 1;
            let payload = rdb::value::dump_with(&e.value, compress);
            ctx.out.bulk(&payload);
        }
        None => {
            ctx.ks.keyspace_misses += 1;
            ctx.out.null();
        }
    }
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], with Redis 7.0's checks
/// in Redis's order (options, busy key, TTL, payload footer, payload body). IDLETIME and
/// FREQ are checked and then ignored: access times are not tracked.
pub fn restore(ctx: &mut Ctx, args: Args) {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (false, false);
    let mut j = 4;
    while j < args.len() {
        let (a, more) = (args.get(j), j + 1 < args.len());
        if eq_ic(a, "replace") {
            replace = true;
        } else if eq_ic(a, "absttl") {
            absttl = true;
        } else if eq_ic(a, "idletime") && more && !freq {
            match parse_i64(args.get(j + 1)) {
                None => return ctx.out.error(errors::NOT_INTEGER),
                Some(n) if n < 0 => {
                    return ctx.out.error("ERR Invalid IDLETIME value, must be >= 0")
                }
                Some(_) => idle = true,
            }
            j += 1;
        } else if eq_ic(a, "freq") && more && !idle {
            match parse_i64(args.get(j + 1)) {
                None => return ctx.out.error(errors::NOT_INTEGER),
                Some(n) if !(0..=255).contains(&n) => {
                    return ctx
                        .out
                        .error("ERR Invalid FREQ value, must be >= 0 and <= 255")
                }
                Some(_) => freq = true,
            }
            j += 1;
        } else {
            return ctx.out.error(errors::SYNTAX);
        }
        j += 1;
    }
    let key = args.get(1);
    let now = ctx.now_ms;
    let exists = ctx.dbs[ctx.db].contains(key, now, &mut KeyspaceStats::default());
    if exists && !replace {
        return ctx.out.error("BUSYKEY Target key name already exists.");
    }
    let ttl = match parse_i64(args.get(2)) {
        None => return ctx.out.error(errors::NOT_INTEGER),
        Some(t) if t < 0 => return ctx.out.error("ERR Invalid TTL value, must be >= 0"),
        Some(t) => t as u64,
    };
    let value = match rdb::undump(args.get(3), ctx.config) {
        Ok(v) => v,
        Err(e) if e.0 == rdb::value::BAD_FOOTER => {
            return ctx.out.error(format!("ERR {}", rdb::value::BAD_FOOTER))
        }
        Err(_) => return ctx.out.error("ERR Bad data format"),
    };
    let at = if ttl != 0 && !absttl {
        ttl.saturating_add(now)
    } else {
        ttl
    };
    if at != 0 && at <= now {
        // Already expired: nothing is created, and a replaced key is simply deleted.
        if exists {
            ctx.stamp();
            ctx.dbs[ctx.db].remove(key);
        }
        return ctx.out.ok();
    }
    let mut e = Entry::new(value, ctx.stamp());
    e.expire_at = at;
    ctx.dbs[ctx.db].insert(key, e);
    ctx.out.ok();
}
