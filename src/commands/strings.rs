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
    match db.get(key, now_ms, ks) {
        None => {
            ks.keyspace_misses += 1;
            Ok(None)
        }
        Some(e) => {
            ks.keyspace_hits += 1;
            match e.value {
                Value::Str(_) => Ok(Some(e)),
            }
        }
    }
}

fn str_of(e: &Entry) -> &Str {
    match &e.value {
        Value::Str(s) => s,
    }
}

fn str_of_mut(e: &mut Entry) -> &mut Str {
    match &mut e.value {
        Value::Str(s) => s,
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

/// Expiry options shared by SET and GETEX.
#[derive(Default, Clone, Copy, PartialEq, Debug)]
enum Ttl {
    #[default]
    None,
    /// Absolute Unix milliseconds.
    At(u64),
    Keep,
    Persist,
}

/// Parses a relative or absolute expiry argument into absolute ms, with Redis's checks.
fn expire_arg(
    ctx: &Ctx,
    raw: &[u8],
    unit_ms: i64,
    absolute: bool,
    cmd: &str,
) -> Result<u64, String> {
    let n = parse_i64(raw).ok_or_else(|| errors::NOT_INTEGER.to_string())?;
    let invalid = || format!("ERR invalid expire time in '{cmd}' command");
    if n <= 0 || n.checked_mul(unit_ms).is_none() {
        return Err(invalid());
    }
    let ms = n * unit_ms;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(ctx.now_ms as i64).ok_or_else(invalid)?
    };
    Ok(at as u64)
}

pub fn set(ctx: &mut Ctx, args: Args) {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut ttl = Ttl::None;
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        let ttl_unset = ttl == Ttl::None;
        let unit = if eq_ic(a, "ex") {
            Some((1000, false))
        } else if eq_ic(a, "px") {
            Some((1, false))
        } else if eq_ic(a, "exat") {
            Some((1000, true))
        } else if eq_ic(a, "pxat") {
            Some((1, true))
        } else {
            None
        };
        if eq_ic(a, "nx") && !xx {
            nx = true;
        } else if eq_ic(a, "xx") && !nx {
            xx = true;
        } else if eq_ic(a, "get") {
            get = true;
        } else if eq_ic(a, "keepttl") && ttl_unset {
            ttl = Ttl::Keep;
        } else if let (Some((unit, abs)), true, Some(v)) = (unit, ttl_unset, next) {
            match expire_arg(ctx, v, unit, abs, "set") {
                Ok(at) => ttl = Ttl::At(at),
                Err(e) => return ctx.out.error(&e),
            }
            i += 1;
        } else {
            return ctx.out.error(errors::SYNTAX);
        }
        i += 1;
    }
    let key = args.get(1);
    let now = ctx.now_ms;
    let db = &mut ctx.dbs[ctx.db];
    let existing = db.get(key, now, ctx.ks);
    let found = existing.is_some();
    let mut old_expire = 0;
    if let Some(e) = existing {
        old_expire = e.expire_at;
        if get {
            match &e.value {
                Value::Str(s) => {
                    let s = s.clone();
                    reply_str_to(&mut ctx.out, &s);
                }
            }
        }
    } else if get {
        ctx.out.null();
    }
    if (nx && found) || (xx && !found) {
        if !get {
            ctx.out.null();
        }
        return;
    }
    let stamp = ctx.stamp();
    let mut entry = Entry::new(Value::str(args.get(2)), stamp);
    entry.expire_at = match ttl {
        Ttl::At(at) => at,
        Ttl::Keep => old_expire,
        _ => 0,
    };
    ctx.dbs[ctx.db].insert(key, entry);
    if !get {
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
    match expire_arg(ctx, args.get(2), unit, false, name) {
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
    let mut ttl = Ttl::None;
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        let unit = if eq_ic(a, "ex") {
            Some((1000, false))
        } else if eq_ic(a, "px") {
            Some((1, false))
        } else if eq_ic(a, "exat") {
            Some((1000, true))
        } else if eq_ic(a, "pxat") {
            Some((1, true))
        } else {
            None
        };
        if eq_ic(a, "persist") && ttl == Ttl::None {
            ttl = Ttl::Persist;
        } else if let (Some((unit, abs)), true, true) = (unit, ttl == Ttl::None, i + 1 < args.len())
        {
            match expire_arg(ctx, args.get(i + 1), unit, abs, "getex") {
                Ok(at) => ttl = Ttl::At(at),
                Err(e) => return ctx.out.error(&e),
            }
            i += 1;
        } else {
            return ctx.out.error(errors::SYNTAX);
        }
        i += 1;
    }
    let key = args.get(1);
    let now = ctx.now_ms;
    let s = match read_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
        Err(WrongType) => return ctx.out.error(errors::WRONGTYPE),
        Ok(None) => return ctx.out.null(),
        Ok(Some(e)) => str_of(e).clone(),
    };
    reply_str(ctx, &s);
    match ttl {
        Ttl::At(at) if at <= now => {
            ctx.stamp();
            ctx.dbs[ctx.db].remove(key);
        }
        Ttl::At(at) => {
            let stamp = ctx.stamp();
            let db = &mut ctx.dbs[ctx.db];
            db.set_expire(key, at);
            db.get(key, now, &mut KeyspaceStats::default())
                .unwrap()
                .stamp = stamp;
        }
        Ttl::Persist => {
            let db = &mut ctx.dbs[ctx.db];
            if db
                .get(key, now, &mut KeyspaceStats::default())
                .unwrap()
                .expire_at
                != 0
            {
                let stamp = ctx.stamp();
                let db = &mut ctx.dbs[ctx.db];
                db.set_expire(key, 0);
                db.get(key, now, &mut KeyspaceStats::default())
                    .unwrap()
                    .stamp = stamp;
            }
        }
        _ => {}
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
        return ctx.out.error(&super::arity_error("mset"));
    }
    for i in (1..args.len()).step_by(2) {
        put(ctx, args.get(i), args.get(i + 1), 0);
    }
    ctx.out.ok();
}

pub fn msetnx(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        return ctx.out.error(&super::arity_error("msetnx"));
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
    let cur_len = match read_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
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
    let cur_len = match read_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
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
    let cur = match read_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
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

/// A decimal number held exactly: `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// Redis prints INCRBYFLOAT results with 17 digits after the point, then trims zeros.
const FLOAT_DIGITS: u32 = 17;

impl Decimal {
    fn parse(s: &[u8]) -> Option<Decimal> {
        let text = std::str::from_utf8(s).ok()?;
        let (neg, body) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|c| c.is_ascii_digit())
            || !frac.bytes().all(|c| c.is_ascii_digit())
            || int.len() + frac.len() > 30
            || frac.len() > FLOAT_DIGITS as usize
        {
            return None;
        }
        let digits = format!("{int}{frac}");
        let m: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        Some(Decimal {
            mantissa: if neg { -m } else { m },
            scale: frac.len() as u32,
        })
    }

    fn add(self, o: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(o.scale);
        let a = self.mantissa.checked_mul(10i128.pow(scale - self.scale))?;
        let b = o.mantissa.checked_mul(10i128.pow(scale - o.scale))?;
        Some(Decimal {
            mantissa: a.checked_add(b)?,
            scale,
        })
    }

    fn format(self) -> String {
        let neg = self.mantissa < 0;
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let (int, frac) = if digits.len() > scale {
            digits.split_at(digits.len() - scale)
        } else {
            ("0", digits.as_str())
        };
        let mut s = String::new();
        if neg {
            s.push('-');
        }
        s.push_str(int);
        let frac = format!("{:0>width$}", frac, width = scale);
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            s.push('.');
            s.push_str(frac);
        }
        if s == "-0" {
            s = "0".into();
        }
        s
    }
}

/// Parses a float as Redis's strtold-based check does (no spaces, no NaN).
fn parse_float(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    if t.is_empty() || t.starts_with(char::is_whitespace) || t.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// Formats a float the way Redis's INCRBYFLOAT does ("%.17Lf" with zeros trimmed), for
/// values that are not exact short decimals.
fn format_float_fixed(v: f64) -> String {
    let s = format!("{v:.17}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

pub fn incrbyfloat(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let now = ctx.now_ms;
    let cur = match read_str(&mut ctx.dbs[ctx.db], key, now, ctx.ks) {
        Err(WrongType) => return ctx.out.error(errors::WRONGTYPE),
        Ok(None) => b"0".to_vec(),
        Ok(Some(e)) => str_of(e).to_vec(),
    };
    let (Some(a), Some(b)) = (parse_float(&cur), parse_float(args.get(2))) else {
        return ctx.out.error(errors::NOT_FLOAT);
    };
    let sum = a + b;
    if sum.is_infinite() || sum.is_nan() {
        return ctx.out.error("ERR increment would produce NaN or Infinity");
    }
    // Exact decimal arithmetic matches Redis's long double result for ordinary inputs.
    let text = match (Decimal::parse(&cur), Decimal::parse(args.get(2))) {
        (Some(x), Some(y)) => x.add(y).map(|d| d.format()),
        _ => None,
    }
    .unwrap_or_else(|| format_float_fixed(sum));
    let stamp = ctx.stamp();
    let db = &mut ctx.dbs[ctx.db];
    let keep = db
        .get(key, now, &mut KeyspaceStats::default())
        .map(|e| e.expire_at)
        .unwrap_or(0);
    let mut e = Entry::new(Value::Str(Str::raw(text.as_bytes())), stamp);
    e.expire_at = keep;
    db.insert(key, e);
    ctx.out.bulk(text.as_bytes());
}

pub fn lcs(ctx: &mut Ctx, args: Args) {
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
            .error("WRONGTYPE The specified keys must contain string values");
    };
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
    fn decimal_sums() {
        let d = |s: &str| Decimal::parse(s.as_bytes()).unwrap();
        assert_eq!(d("0.1").add(d("0.2")).unwrap().format(), "0.3");
        assert_eq!(d("10.5").add(d("0.1")).unwrap().format(), "10.6");
        assert_eq!(d("5").add(d("-5.0")).unwrap().format(), "0");
        assert_eq!(d("-1.5").add(d("0.25")).unwrap().format(), "-1.25");
        assert_eq!(d(".5").add(d("1")).unwrap().format(), "1.5");
        assert!(Decimal::parse(b"1e3").is_none());
    }
}
