//! String commands.

use super::Ctx;
use crate::protocol::{errors, parse_i64, Args};
use crate::store::{Db, Entry, KeyspaceStats, Str, Value};
use crate::util::eq_ic;

/// The key holds a value of another type than the command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// Looks up a string for reading, counting a keyspace hit or miss.
pub fn read_str<'e>(
    db: &'e mut Db,
    key: &[u8],
    now_ms: u64,
    ks: &mut KeyspaceStats,
) -> Result<Option<&'e mut Entry>, WrongType> {
    let found = write_str(db, key, now_ms, ks);
    match &found {
        Ok(None) => ks.keyspace_misses += 1,
        _ => ks.keyspace_hits += 1,
    }
    found
}

/// Looks up a string for writing: like [`read_str`] but, as Redis's lookupKeyWrite, without
/// counting a keyspace hit or miss.
pub fn write_str<'e>(
    db: &'e mut Db,
    key: &[u8],
    now_ms: u64,
    ks: &mut KeyspaceStats,
) -> Result<Option<&'e mut Entry>, WrongType> {
    match db.get(key, now_ms, ks) {
        None => Ok(None),
        Some(e) => match e.value {
            Value::Str(_) => Ok(Some(e)),
            _ => Err(WrongType),
        },
    }
}

/// The string of an entry that [`read_str`] or [`write_str`] returned.
pub fn str_of(e: &Entry) -> &Str {
    match &e.value {
        Value::Str(s) => s,
        _ => unreachable!("the type was checked at lookup"),
    }
}

pub fn str_of_mut(e: &mut Entry) -> &mut Str {
    match &mut e.value {
        Value::Str(s) => s,
        _ => unreachable!("the type was checked at lookup"),
    }
}

fn reply_str(ctx: &mut Ctx, s: &Str) {
    reply_str_to(&mut ctx.out, s)
}

pub fn get(ctx: &mut Ctx, args: Args) {
    let now = ctx.now_ms;
    match read_str(&mut ctx.dbs[ctx.db], args.get(1), now, ctx.ks) {
        Ok(Some(e)) => reply_str_to(&mut ctx.out, str_of(e)),
        Ok(None) => ctx.out.null(),
        Err(WrongType) => ctx.out.error(errors::WRONGTYPE),
    }
}

/// The options of SET and GETEX, parsed the way Redis parses them: every flag first (a flag
/// may repeat, the last expiry wins, conflicting ones are a syntax error), the expiry value
/// only afterwards.
#[derive(Default)]
struct StringOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// The expiry argument, its unit in ms, and whether it is absolute.
    expire: Option<(&'a [u8], i64, bool)>,
}

fn parse_string_opts<'a>(args: &Args<'a>, from: usize, is_set: bool) -> Result<StringOpts<'a>, ()> {
    let mut o = StringOpts::default();
    let mut j = from;
    while j < args.len() {
        let a = args.get(j);
        let next = (j + 1 < args.len()).then(|| args.get(j + 1));
        // Which expiry flag this is, if any: (unit in ms, absolute).
        let ttl = [
            ("ex", 1000, false),
            ("px", 1, false),
            ("exat", 1000, true),
            ("pxat", 1, true),
        ]
        .iter()
        .find(|(name, _, _)| eq_ic(a, name))
        .map(|&(_, unit, abs)| (unit, abs));
        let other_ttl =
            |unit: i64, abs: bool| o.expire.is_some_and(|(_, u, ab)| (u, ab) != (unit, abs));
        if is_set && eq_ic(a, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && eq_ic(a, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && eq_ic(a, "get") {
            o.get = true;
        } else if is_set && eq_ic(a, "keepttl") && !o.persist && o.expire.is_none() {
            o.keepttl = true;
        } else if !is_set && eq_ic(a, "persist") && o.expire.is_none() && !o.keepttl {
            o.persist = true;
        } else if let (Some((unit, abs)), Some(v)) = (ttl, next) {
            if o.keepttl || o.persist || other_ttl(unit, abs) {
                return Err(());
            }
            o.expire = Some((v, unit, abs));
            j += 1;
        } else {
            return Err(());
        }
        j += 1;
    }
    Ok(o)
}

/// Turns an expiry argument into absolute Unix ms (Redis's getExpireMillisecondsOrReply).
fn expire_at_ms(
    now_ms: u64,
    raw: &[u8],
    unit: i64,
    absolute: bool,
    cmd: &str,
) -> Result<u64, String> {
    let n = parse_i64(raw).ok_or_else(|| errors::NOT_INTEGER.to_string())?;
    let invalid = || format!("ERR invalid expire time in '{cmd}' command");
    if n <= 0 || (unit == 1000 && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let mut ms = n * unit;
    if !absolute {
        ms = ms.wrapping_add(now_ms as i64);
    }
    if ms <= 0 {
        return Err(invalid());
    }
    Ok(ms as u64)
}

pub fn set(ctx: &mut Ctx, args: Args) {
    let Ok(o) = parse_string_opts(&args, 3, true) else {
        return ctx.out.error(errors::SYNTAX);
    };
    let expire_at = match o.expire {
        Some((raw, unit, abs)) => match expire_at_ms(ctx.now_ms, raw, unit, abs, "set") {
            Ok(at) => Some(at),
            Err(e) => return ctx.out.error(e),
        },
        None => None,
    };
    let key = args.get(1);
    let now = ctx.now_ms;
    let mut old_expire = 0;
    let found = match write_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
        Err(WrongType) if o.get => return ctx.out.error(errors::WRONGTYPE),
        Err(WrongType) => {
            // SET replaces a value of any type; KEEPTTL keeps that key's TTL too.
            old_expire = ctx.dbs[ctx.db]
                .get(key, now, ctx.ks)
                .map_or(0, |e| e.expire_at);
            true
        }
        Ok(Some(e)) => {
            old_expire = e.expire_at;
            if o.get {
                let s = str_of(e).clone();
                reply_str_to(&mut ctx.out, &s);
            }
            true
        }
        Ok(None) => {
            if o.get {
                ctx.out.null();
            }
            false
        }
    };
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            ctx.out.null();
        }
        return;
    }
    let stamp = ctx.stamp();
    let mut entry = Entry::new(Value::str(args.get(2)), stamp);
    entry.expire_at = match expire_at {
        Some(at) => at,
        None if o.keepttl => old_expire,
        None => 0,
    };
    ctx.dbs[ctx.db].insert(key, entry);
    if !o.get {
        ctx.out.ok();
    }
}

fn reply_str_to(out: &mut crate::protocol::Reply, s: &Str) {
    match s {
        Str::Int(n) => out.bulk_int(*n),
        s => out.bulk(s.as_bytes(&mut itoa::Buffer::new())),
    }
}

/// Stores a plain string, replacing whatever was there (and its TTL).
fn put(ctx: &mut Ctx, key: &[u8], value: &[u8], expire_at: u64) {
    let stamp = ctx.stamp();
    let mut e = Entry::new(Value::str(value), stamp);
    e.expire_at = expire_at;
    ctx.dbs[ctx.db].insert(key, e);
}

pub fn setnx(ctx: &mut Ctx, args: Args) {
    let now = ctx.now_ms;
    if ctx.dbs[ctx.db].contains(args.get(1), now, ctx.ks) {
        return ctx.out.int(0);
    }
    put(ctx, args.get(1), args.get(2), 0);
    ctx.out.int(1);
}

fn setex_generic(ctx: &mut Ctx, args: Args, unit: i64, name: &str) {
    match expire_at_ms(ctx.now_ms, args.get(2), unit, false, name) {
        Ok(at) => {
            put(ctx, args.get(1), args.get(3), at);
            ctx.out.ok();
        }
        Err(e) => ctx.out.error(&e),
    }
}

pub fn setex(ctx: &mut Ctx, args: Args) {
    setex_generic(ctx, args, 1000, "setex")
}

pub fn psetex(ctx: &mut Ctx, args: Args) {
    setex_generic(ctx, args, 1, "psetex")
}

pub fn getset(ctx: &mut Ctx, args: Args) {
    let now = ctx.now_ms;
    match read_str(&mut ctx.dbs[ctx.db], args.get(1), now, ctx.ks) {
        Err(WrongType) => return ctx.out.error(errors::WRONGTYPE),
        Ok(Some(e)) => {
            let s = str_of(e).clone();
            reply_str(ctx, &s);
        }
        Ok(None) => ctx.out.null(),
    }
    put(ctx, args.get(1), args.get(2), 0);
}

pub fn getdel(ctx: &mut Ctx, args: Args) {
    let now = ctx.now_ms;
    match read_str(&mut ctx.dbs[ctx.db], args.get(1), now, ctx.ks) {
        Err(WrongType) => ctx.out.error(errors::WRONGTYPE),
        Ok(None) => ctx.out.null(),
        Ok(Some(_)) => {
            ctx.stamp();
            let e = ctx.dbs[ctx.db].remove(args.get(1)).unwrap();
            reply_str(ctx, str_of(&e));
        }
    }
}

pub fn getex(ctx: &mut Ctx, args: Args) {
    let Ok(o) = parse_string_opts(&args, 2, false) else {
        return ctx.out.error(errors::SYNTAX);
    };
    let key = args.get(1);
    let now = ctx.now_ms;
    let s = match read_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
        Err(WrongType) => return ctx.out.error(errors::WRONGTYPE),
        Ok(None) => return ctx.out.null(),
        Ok(Some(e)) => str_of(e).clone(),
    };
    let expire_at = match o.expire {
        Some((raw, unit, abs)) => match expire_at_ms(now, raw, unit, abs, "getex") {
            Ok(at) => Some(at),
            Err(e) => return ctx.out.error(e),
        },
        None => None,
    };
    reply_str(ctx, &s);
    let db_expire = |ctx: &mut Ctx| {
        ctx.dbs[ctx.db]
            .get(key, now, &mut KeyspaceStats::default())
            .map_or(0, |e| e.expire_at)
    };
    match expire_at {
        Some(at) if at <= now => {
            ctx.stamp();
            ctx.dbs[ctx.db].remove(key);
        }
        Some(at) => {
            let stamp = ctx.stamp();
            let db = &mut ctx.dbs[ctx.db];
            db.set_expire(key, at);
            db.get(key, now, &mut KeyspaceStats::default())
                .unwrap()
                .stamp = stamp;
        }
        None if o.persist && db_expire(ctx) != 0 => {
            let stamp = ctx.stamp();
            let db = &mut ctx.dbs[ctx.db];
            db.set_expire(key, 0);
            db.get(key, now, &mut KeyspaceStats::default())
                .unwrap()
                .stamp = stamp;
        }
        None => {}
    }
}

/// MGET on one shard's keys: a nil for a missing key or one of another type.
pub fn mget(ctx: &mut Ctx, args: Args) {
    ctx.out.array(args.len() - 1);
    let now = ctx.now_ms;
    for key in args.iter().skip(1) {
        match read_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
            Ok(Some(e)) => reply_str_to(&mut ctx.out, str_of(e)),
            _ => ctx.out.null(),
        }
    }
}

pub fn mset(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        return ctx.out.error(super::arity_error("mset"));
    }
    for i in (1..args.len()).step_by(2) {
        put(ctx, args.get(i), args.get(i + 1), 0);
    }
    ctx.out.ok();
}

pub fn msetnx(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        return ctx.out.error(super::arity_error("msetnx"));
    }
    let now = ctx.now_ms;
    for i in (1..args.len()).step_by(2) {
        if ctx.dbs[ctx.db].contains(args.get(i), now, ctx.ks) {
            return ctx.out.int(0);
        }
    }
    for i in (1..args.len()).step_by(2) {
        put(ctx, args.get(i), args.get(i + 1), 0);
    }
    ctx.out.int(1);
}

fn check_size(ctx: &mut Ctx, len: u64) -> bool {
    if len > ctx.config.int(crate::config::Opt::ProtoMaxBulkLen) as u64 {
        ctx.out.error(errors::STRING_TOO_LONG);
        return false;
    }
    true
}

pub fn append(ctx: &mut Ctx, args: Args) {
    let (key, tail) = (args.get(1), args.get(2));
    let now = ctx.now_ms;
    let cur_len = match write_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
        Err(WrongType) => return ctx.out.error(errors::WRONGTYPE),
        Ok(None) => None,
        Ok(Some(e)) => Some(str_of(e).len()),
    };
    match cur_len {
        None => {
            put(ctx, key, tail, 0);
            ctx.out.int(tail.len() as i64);
        }
        Some(len) => {
            if !check_size(ctx, (len + tail.len()) as u64) {
                return;
            }
            let stamp = ctx.stamp();
            let e = ctx.dbs[ctx.db]
                .get(key, now, &mut KeyspaceStats::default())
                .unwrap();
            e.stamp = stamp;
            let v = str_of_mut(e).make_raw();
            v.extend_from_slice(tail);
            let n = v.len();
            ctx.out.int(n as i64);
        }
    }
}

pub fn strlen(ctx: &mut Ctx, args: Args) {
    let now = ctx.now_ms;
    match read_str(&mut ctx.dbs[ctx.db], args.get(1), now, ctx.ks) {
        Err(WrongType) => ctx.out.error(errors::WRONGTYPE),
        Ok(None) => ctx.out.int(0),
        Ok(Some(e)) => {
            let n = str_of(e).len();
            ctx.out.int(n as i64)
        }
    }
}

pub fn getrange(ctx: &mut Ctx, args: Args) {
    let (Some(mut start), Some(mut end)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.out.error(errors::NOT_INTEGER);
    };
    let now = ctx.now_ms;
    let s = match read_str(&mut ctx.dbs[ctx.db], args.get(1), now, ctx.ks) {
        Err(WrongType) => return ctx.out.error(errors::WRONGTYPE),
        Ok(None) => return ctx.out.bulk(b""),
        Ok(Some(e)) => str_of(e).to_vec(),
    };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return ctx.out.bulk(b"");
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return ctx.out.bulk(b"");
    }
    ctx.out.bulk(&s[start as usize..=end as usize]);
}

pub fn setrange(ctx: &mut Ctx, args: Args) {
    let Some(offset) = parse_i64(args.get(2)) else {
        return ctx.out.error(errors::NOT_INTEGER);
    };
    if offset < 0 {
        return ctx.out.error("ERR offset is out of range");
    }
    let (key, patch) = (args.get(1), args.get(3));
    let now = ctx.now_ms;
    let cur_len = match write_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
        Err(WrongType) => return ctx.out.error(errors::WRONGTYPE),
        Ok(None) => None,
        Ok(Some(e)) => Some(str_of(e).len()),
    };
    if patch.is_empty() {
        return ctx.out.int(cur_len.unwrap_or(0) as i64);
    }
    let new_len = offset as u64 + patch.len() as u64;
    if !check_size(ctx, new_len) {
        return;
    }
    if cur_len.is_none() {
        put(ctx, key, b"", 0);
    }
    let stamp = ctx.stamp();
    let e = ctx.dbs[ctx.db]
        .get(key, now, &mut KeyspaceStats::default())
        .unwrap();
    e.stamp = stamp;
    let v = str_of_mut(e).make_raw();
    let end = offset as usize + patch.len();
    if v.len() < end {
        v.resize(end, 0);
    }
    v[offset as usize..end].copy_from_slice(patch);
    let n = v.len();
    ctx.out.int(n as i64);
}

fn incr_generic(ctx: &mut Ctx, key: &[u8], by: i64) {
    let now = ctx.now_ms;
    let cur = match write_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
        Err(WrongType) => return ctx.out.error(errors::WRONGTYPE),
        Ok(None) => None,
        Ok(Some(e)) => match str_of(e).as_int() {
            Some(n) => Some(n),
            None => return ctx.out.error(errors::NOT_INTEGER),
        },
    };
    let Some(new) = cur.unwrap_or(0).checked_add(by) else {
        return ctx.out.error(errors::OVERFLOW);
    };
    let stamp = ctx.stamp();
    match cur {
        None => {
            ctx.dbs[ctx.db].insert(key, Entry::new(Value::Str(Str::Int(new)), stamp));
        }
        Some(_) => {
            let e = ctx.dbs[ctx.db]
                .get(key, now, &mut KeyspaceStats::default())
                .unwrap();
            e.stamp = stamp;
            e.value = Value::Str(Str::Int(new));
        }
    }
    ctx.out.int(new);
}

pub fn incr(ctx: &mut Ctx, args: Args) {
    incr_generic(ctx, args.get(1), 1)
}

pub fn decr(ctx: &mut Ctx, args: Args) {
    incr_generic(ctx, args.get(1), -1)
}

pub fn incrby(ctx: &mut Ctx, args: Args) {
    match parse_i64(args.get(2)) {
        Some(n) => incr_generic(ctx, args.get(1), n),
        None => ctx.out.error(errors::NOT_INTEGER),
    }
}

pub fn decrby(ctx: &mut Ctx, args: Args) {
    match parse_i64(args.get(2)) {
        Some(i64::MIN) => ctx.out.error("ERR decrement would overflow"),
        Some(n) => incr_generic(ctx, args.get(1), -n),
        None => ctx.out.error(errors::NOT_INTEGER),
    }
}

extern "C" {
    /// src/native/longdouble.c: Redis's INCRBYFLOAT arithmetic in C's long double.
    fn tandem_incrbyfloat(
        a: *const u8,
        alen: usize,
        b: *const u8,
        blen: usize,
        out: *mut u8,
        outlen: usize,
    ) -> std::os::raw::c_long;
}

/// `a + b` as Redis computes and prints it for INCRBYFLOAT (and HINCRBYFLOAT).
pub fn add_floats(a: &[u8], b: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = vec![0u8; 5 * 1024 + 32];
    // SAFETY: the pointers and lengths describe live buffers; the C side writes at most
    // `out.len()` bytes including its terminator.
    let n = unsafe {
        tandem_incrbyfloat(
            a.as_ptr(),
            a.len(),
            b.as_ptr(),
            b.len(),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    match n {
        -1 => Err(errors::NOT_FLOAT),
        -2 => Err("ERR increment would produce NaN or Infinity"),
        n if n < 0 => Err("ERR value is out of range"),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

pub fn incrbyfloat(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let now = ctx.now_ms;
    let cur = match write_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
        Err(WrongType) => return ctx.out.error(errors::WRONGTYPE),
        Ok(None) => b"0".to_vec(),
        Ok(Some(e)) => str_of(e).to_vec(),
    };
    let text = match add_floats(&cur, args.get(2)) {
        Ok(t) => t,
        Err(e) => return ctx.out.error(e),
    };
    let stamp = ctx.stamp();
    let db = &mut ctx.dbs[ctx.db];
    let keep = db
        .get(key, now, &mut KeyspaceStats::default())
        .map(|e| e.expire_at)
        .unwrap_or(0);
    let mut e = Entry::new(Value::Str(Str::raw(&text)), stamp);
    e.expire_at = keep;
    db.insert(key, e);
    ctx.out.bulk(&text);
}

pub fn lcs(ctx: &mut Ctx, args: Args) {
    // As Redis: both keys are looked up and type-checked before the options are parsed.
    let now = ctx.now_ms;
    let mut fetch = |key: &[u8]| -> Result<Vec<u8>, WrongType> {
        match read_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks)? {
            Some(e) => Ok(str_of(e).to_vec()),
            None => Ok(vec![]),
        }
    };
    let (Ok(a), Ok(b)) = (fetch(args.get(1)), fetch(args.get(2))) else {
        return ctx
            .out
            .error("ERR The specified keys must contain string values");
    };
    let (mut want_len, mut want_idx, mut with_len) = (false, false, false);
    let mut min_len: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "len") {
            want_len = true;
        } else if eq_ic(a, "idx") {
            want_idx = true;
        } else if eq_ic(a, "withmatchlen") {
            with_len = true;
        } else if eq_ic(a, "minmatchlen") && i + 1 < args.len() {
            match parse_i64(args.get(i + 1)) {
                Some(n) => min_len = n.max(0),
                None => return ctx.out.error(errors::NOT_INTEGER),
            }
            i += 1;
        } else {
            return ctx.out.error(errors::SYNTAX);
        }
        i += 1;
    }
    if want_len && want_idx {
        return ctx
            .out
            .error("ERR If you want both the length and indexes, please just use IDX.");
    }
    // Redis bounds the table's transient memory by proto-max-bulk-len.
    let table_bytes = (a.len() as u128 + 1) * (b.len() as u128 + 1) * 4;
    if table_bytes > ctx.config.int(crate::config::Opt::ProtoMaxBulkLen) as u128 {
        return ctx
            .out
            .error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    // Dynamic programming table of LCS lengths, (a.len()+1) x (b.len()+1).
    let (n, m) = (a.len(), b.len());
    let mut dp = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in 1..=n {
        for j in 1..=m {
            dp[at(i, j)] = if a[i - 1] == b[j - 1] {
                dp[at(i - 1, j - 1)] + 1
            } else {
                dp[at(i - 1, j)].max(dp[at(i, j - 1)])
            };
        }
    }
    let total = dp[at(n, m)] as usize;
    // Walk back to collect the common string and the matching ranges (as Redis does).
    let mut result = vec![0u8; total];
    // A match: its (start, end) in the first string, in the second, and its length.
    type Range = (usize, usize);
    let mut matches: Vec<(Range, Range, usize)> = vec![];
    let (mut i, mut j, mut k) = (n, m, total);
    let mut cur: Option<(Range, Range)> = None;
    let emit = |cur: &mut Option<(Range, Range)>, matches: &mut Vec<(Range, Range, usize)>| {
        if let Some((ra, rb)) = cur.take() {
            let len = ra.1 - ra.0 + 1;
            if len as i64 >= min_len {
                matches.push((ra, rb, len));
            }
        }
    };
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            k -= 1;
            result[k] = a[i - 1];
            match &mut cur {
                Some((ra, rb)) if ra.0 == i && rb.0 == j => {
                    ra.0 = i - 1;
                    rb.0 = j - 1;
                }
                _ => {
                    emit(&mut cur, &mut matches);
                    cur = Some(((i - 1, i - 1), (j - 1, j - 1)));
                }
            }
            i -= 1;
            j -= 1;
        } else if dp[at(i - 1, j)] > dp[at(i, j - 1)] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    emit(&mut cur, &mut matches);
    if want_idx {
        ctx.out.map(2);
        ctx.out.bulk(b"matches");
        ctx.out.array(matches.len());
        for (ra, rb, len) in &matches {
            ctx.out.array(if with_len { 3 } else { 2 });
            ctx.out.array(2);
            ctx.out.int(ra.0 as i64);
            ctx.out.int(ra.1 as i64);
            ctx.out.array(2);
            ctx.out.int(rb.0 as i64);
            ctx.out.int(rb.1 as i64);
            if with_len {
                ctx.out.int(*len as i64);
            }
        }
        ctx.out.bulk(b"len");
        ctx.out.int(total as i64);
    } else if want_len {
        ctx.out.int(total as i64);
    } else {
        ctx.out.bulk(&result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_sums_match_redis() {
        let add = |a: &str, b: &str| {
            add_floats(a.as_bytes(), b.as_bytes()).map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(add("10.5", "0.1").unwrap(), "10.6");
        assert_eq!(add("0.1", "0.2").unwrap(), "0.3");
        assert_eq!(add("124.784", "14.884").unwrap(), "139.668");
        assert_eq!(add("1e2", "-0.1").unwrap(), "99.9");
        assert_eq!(add("0", "0x10").unwrap(), "16");
        assert_eq!(add("5", "-5").unwrap(), "0");
        assert_eq!(add("abc", "1"), Err(errors::NOT_FLOAT));
        assert_eq!(add(" 1", "1"), Err(errors::NOT_FLOAT));
    }
}
