//! Sorted set commands, with Redis 7.0's semantics, replies and error texts (t_zset.c).
//!
//! Numbers are parsed as Redis parses them (C's strtod for scores and ranges, string2ll for
//! integers) and scores are printed as Redis 7.0 prints them ("%.17g"), so replies are byte
//! for byte the same.

use std::cmp::Ordering;

use super::{Ctx, Keyspace};
use crate::protocol::{errors, parse_i64, Args, Reply};
use crate::store::zset::{Limits, ZSet};
use crate::store::{Collection, Value};
use crate::util::eq_ic;

// ---------------------------------------------------------------------------------------------
// Numbers in and out.

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// C's strtod on the bytes (read up to the first NUL, as C does): the value, how many bytes
/// it consumed and whether errno was ERANGE.
fn c_strtod(b: &[u8]) -> (f64, usize, bool) {
    let mut buf = Vec::with_capacity(b.len() + 1);
    buf.extend_from_slice(b);
    buf.push(0);
    // SAFETY: `buf` is NUL-terminated; strtod reads within it and sets `end` inside it.
    unsafe {
        *libc::__errno_location() = 0;
        let mut end: *mut libc::c_char = std::ptr::null_mut();
        let v = libc::strtod(buf.as_ptr() as *const libc::c_char, &mut end);
        let used = end as usize - buf.as_ptr() as usize;
        (v, used, *libc::__errno_location() == libc::ERANGE)
    }
}

/// A plain decimal integer of at most 15 digits (optionally signed): exactly what strtod
/// makes of it, without the copy and the libc call ("-0" is -0 here too).
fn parse_small_int(b: &[u8]) -> Option<f64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + (d - b'0') as u64) as f64;
    Some(if neg { -v } else { v })
}

/// A score or weight, as Redis's string2d reads it (ZADD, ZINCRBY, WEIGHTS).
pub fn parse_score(b: &[u8]) -> Option<f64> {
    if let Some(v) = parse_small_int(b) {
        return Some(v);
    }
    if b.is_empty() || is_c_space(b[0]) {
        return None;
    }
    let (v, used, erange) = c_strtod(b);
    if used != b.len() || (erange && (v.is_infinite() || v == 0.0)) || v.is_nan() {
        return None;
    }
    Some(v)
}

/// A score range bound: `1.5`, `(1.5` (exclusive), `-inf`... (zslParseRange).
fn parse_bound(b: &[u8]) -> Option<(f64, bool)> {
    let (ex, rest) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, b),
    };
    let (v, used, _) = c_strtod(rest);
    // C checks that strtod stopped at the string's end, i.e. at a NUL.
    let at_end = used == rest.len() || rest[used] == 0;
    (at_end && !v.is_nan()).then_some((v, ex))
}

/// The text Redis 7.0 replies for a double: "%.17g", and inf / -inf.
pub fn fmt_double(d: f64) -> String {
    if let Some(i) = small_int(d) {
        return itoa::Buffer::new().format(i).to_owned();
    }
    fmt_g17(d)
}

/// "%.17g" through libc, and inf / -inf.
fn fmt_g17(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mut buf = [0u8; 64];
    // SAFETY: the format takes one double; snprintf writes at most buf.len() bytes.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.17g".as_ptr(),
            d,
        )
    };
    String::from_utf8_lossy(&buf[..(n.max(0) as usize).min(buf.len() - 1)]).into_owned()
}

/// Redis's d2string: how a listpack stores a score (integers without exponent).
pub fn d2string(d: f64) -> String {
    if d.is_infinite() {
        return fmt_double(d);
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    const HALF: f64 = (i64::MAX / 2) as f64;
    if (-HALF..=HALF).contains(&d) && (d as i64) as f64 == d {
        return (d as i64).to_string();
    }
    fmt_double(d)
}

/// A score reply: a bulk string in RESP2, a double in RESP3.
pub fn reply_score(out: &mut Reply, d: f64) {
    let mut ibuf = itoa::Buffer::new();
    let owned;
    let text: &[u8] = match small_int(d) {
        Some(i) => ibuf.format(i).as_bytes(),
        None => {
            owned = fmt_double(d);
            owned.as_bytes()
        }
    };
    if out.resp >= 3 {
        out.raw(b",");
        out.raw(text);
        out.raw(b"\r\n");
    } else {
        out.bulk(text);
    }
}

/// The integer an integral score below 10^15 is, which "%.17g" prints as plain digits (not
/// -0, which it prints with its sign).
fn small_int(d: f64) -> Option<i64> {
    (d.abs() < 1e15 && d == d.trunc() && !(d == 0.0 && d.is_sign_negative())).then_some(d as i64)
}

fn limits(ks: &Keyspace) -> Limits {
    Limits::from_config(ks.config)
}

// ---------------------------------------------------------------------------------------------
// Ranges.

#[derive(Clone, Copy)]
enum Lex<'a> {
    Min,
    Max,
    Val(&'a [u8]),
}

/// Redis's sdscmplex: "-" below every string, "+" above.
fn cmp_lex(a: Lex, b: Lex) -> Ordering {
    match (a, b) {
        (Lex::Min, Lex::Min) | (Lex::Max, Lex::Max) => Ordering::Equal,
        (Lex::Min, _) | (_, Lex::Max) => Ordering::Less,
        (Lex::Max, _) | (_, Lex::Min) => Ordering::Greater,
        (Lex::Val(x), Lex::Val(y)) => x.cmp(y),
    }
}

fn parse_lex(b: &[u8]) -> Option<(Lex<'_>, bool)> {
    let alone = b.len() == 1 || b.get(1) == Some(&0);
    match b.first() {
        Some(b'+') if alone => Some((Lex::Max, true)),
        Some(b'-') if alone => Some((Lex::Min, true)),
        Some(b'(') => Some((Lex::Val(&b[1..]), true)),
        Some(b'[') => Some((Lex::Val(&b[1..]), false)),
        _ => None,
    }
}

/// A score or lex range with its bounds' exclusivity.
enum Spec<'a> {
    Score {
        min: f64,
        minex: bool,
        max: f64,
        maxex: bool,
    },
    Lex {
        min: Lex<'a>,
        minex: bool,
        max: Lex<'a>,
        maxex: bool,
    },
}

const SCORE_RANGE_ERR: &str = "ERR min or max is not a float";
const LEX_RANGE_ERR: &str = "ERR min or max not valid string range item";

impl<'a> Spec<'a> {
    fn score(min: &[u8], max: &[u8]) -> Option<Spec<'a>> {
        let (min, minex) = parse_bound(min)?;
        let (max, maxex) = parse_bound(max)?;
        Some(Spec::Score {
            min,
            minex,
            max,
            maxex,
        })
    }

    fn lex(min: &'a [u8], max: &'a [u8]) -> Option<Spec<'a>> {
        let (min, minex) = parse_lex(min)?;
        let (max, maxex) = parse_lex(max)?;
        Some(Spec::Lex {
            min,
            minex,
            max,
            maxex,
        })
    }

    /// Ranges that can hold nothing (min above max, or equal with an exclusive bound).
    fn is_empty(&self) -> bool {
        match *self {
            Spec::Score {
                min,
                minex,
                max,
                maxex,
            } => min > max || (min == max && (minex || maxex)),
            Spec::Lex {
                min,
                minex,
                max,
                maxex,
            } => match cmp_lex(min, max) {
                Ordering::Greater => true,
                Ordering::Equal => minex || maxex,
                Ordering::Less => false,
            },
        }
    }

    fn gte_min(&self, s: f64, m: &[u8]) -> bool {
        match *self {
            Spec::Score { min, minex, .. } => {
                if minex {
                    s > min
                } else {
                    s >= min
                }
            }
            Spec::Lex { min, minex, .. } => {
                let c = cmp_lex(Lex::Val(m), min);
                if minex {
                    c == Ordering::Greater
                } else {
                    c != Ordering::Less
                }
            }
        }
    }

    fn lte_max(&self, s: f64, m: &[u8]) -> bool {
        match *self {
            Spec::Score { max, maxex, .. } => {
                if maxex {
                    s < max
                } else {
                    s <= max
                }
            }
            Spec::Lex { max, maxex, .. } => {
                let c = cmp_lex(Lex::Val(m), max);
                if maxex {
                    c == Ordering::Less
                } else {
                    c != Ordering::Greater
                }
            }
        }
    }

    /// Whether part of the set can be in range: the range is not empty, the last member is
    /// not below it and the first not above it (zslIsInRange / zzlIsInLexRange).
    fn may_hit(&self, z: &ZSet) -> bool {
        if self.is_empty() || z.is_empty() {
            return false;
        }
        let (Some((lm, ls)), Some((fm, fs))) = (z.at(z.len() - 1), z.at(0)) else {
            return false;
        };
        self.gte_min(ls, lm) && self.lte_max(fs, fm)
    }

    /// Rank of the first member in range.
    fn first_in(&self, z: &ZSet) -> Option<usize> {
        if !self.may_hit(z) {
            return None;
        }
        let r = z.first_where(|s, m| self.gte_min(s, m))?;
        let (m, s) = z.at(r)?;
        self.lte_max(s, m).then_some(r)
    }

    /// Rank of the last member in range.
    fn last_in(&self, z: &ZSet) -> Option<usize> {
        if !self.may_hit(z) {
            return None;
        }
        let r = z.last_where(|s, m| self.lte_max(s, m))?;
        let (m, s) = z.at(r)?;
        self.gte_min(s, m).then_some(r)
    }

    /// How many members are in range (ZCOUNT, ZLEXCOUNT).
    fn count(&self, z: &ZSet) -> usize {
        let Some(first) = self.first_in(z) else {
            return 0;
        };
        if z.is_small() {
            // As the listpack code: walk on from the first while in range.
            let mut n = 0;
            z.walk(first, false, |m, s| {
                let ok = self.lte_max(s, m);
                n += ok as usize;
                ok
            });
            n
        } else {
            self.last_in(z).map_or(0, |last| last + 1 - first)
        }
    }

    /// The members in range, skipping `offset` and taking up to `limit` (negative: all), in
    /// descending order when `rev`.
    fn select<'z>(&self, z: &'z ZSet, rev: bool, offset: i64, limit: i64) -> Vec<(&'z [u8], f64)> {
        let mut out = vec![];
        // A negative offset walks off the end in Redis: nothing.
        if offset < 0 || limit == 0 {
            return out;
        }
        let start = if rev {
            self.last_in(z)
        } else {
            self.first_in(z)
        };
        let Some(start) = start else {
            return out;
        };
        let start = if rev {
            match start.checked_sub(offset as usize) {
                Some(s) => s,
                None => return out,
            }
        } else {
            match start.checked_add(offset as usize) {
                Some(s) if s < z.len() => s,
                _ => return out,
            }
        };
        let mut left = limit;
        z.walk(start, rev, |m, s| {
            let ok = if rev {
                self.gte_min(s, m)
            } else {
                self.lte_max(s, m)
            };
            if !ok {
                return false;
            }
            out.push((m, s));
            if left > 0 {
                left -= 1;
            }
            left != 0
        });
        out
    }
}

fn select_ranks(z: &ZSet, start: i64, end: i64, rev: bool) -> Vec<(&[u8], f64)> {
    let Some((start, end)) = super::index_range(start, end, z.len()) else {
        return vec![];
    };
    let mut n = end - start + 1;
    let mut out = Vec::with_capacity(n);
    let first = if rev { z.len() - 1 - start } else { start };
    z.walk(first, rev, |m, s| {
        out.push((m, s));
        n -= 1;
        n > 0
    });
    out
}

/// Member/score pairs: a flat array in RESP2 (scores after members), pairs in RESP3.
fn reply_pairs(out: &mut Reply, items: &[(&[u8], f64)], withscores: bool) {
    if withscores && out.resp < 3 {
        out.array(items.len() * 2);
    } else {
        out.array(items.len());
    }
    for &(m, s) in items {
        if withscores && out.resp >= 3 {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            reply_score(out, s);
        }
    }
}

/// Stores a computed result at `dst` (replacing it, or deleting it when empty) and replies
/// with its size. `items` are in ascending order.
fn store_result<M: AsRef<[u8]>>(
    ks: &mut Keyspace,
    out: &mut Reply,
    dst: &[u8],
    items: &[(f64, M)],
) {
    if items.is_empty() {
        ks.delete(dst);
        out.int(0);
        return;
    }
    let z = ZSet::from_sorted(items, limits(ks));
    ks.store(dst, z.wrap());
    out.int(items.len() as i64);
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM.

pub fn zadd(ctx: &mut Ctx, args: Args) {
    zadd_generic(ctx, args, false)
}

pub fn zincrby(ctx: &mut Ctx, args: Args) {
    zadd_generic(ctx, args, true)
}

fn zadd_generic(ctx: &mut Ctx, args: Args, mut incr: bool) {
    let (mut nx, mut xx, mut gt, mut lt, mut ch) = (false, false, false, false, false);
    let mut at = 2;
    while at < args.len() {
        let o = args.get(at);
        if eq_ic(o, "nx") {
            nx = true;
        } else if eq_ic(o, "xx") {
            xx = true;
        } else if eq_ic(o, "ch") {
            ch = true;
        } else if eq_ic(o, "incr") {
            incr = true;
        } else if eq_ic(o, "gt") {
            gt = true;
        } else if eq_ic(o, "lt") {
            lt = true;
        } else {
            break;
        }
        at += 1;
    }
    let elements = args.len() - at;
    if !elements.is_multiple_of(2) || elements == 0 {
        return ctx.out.error(errors::SYNTAX);
    }
    let pairs = elements / 2;
    if nx && xx {
        return ctx
            .out
            .error("ERR XX and NX options at the same time are not compatible");
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return ctx
            .out
            .error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && pairs > 1 {
        return ctx
            .out
            .error("ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(pairs);
    for j in 0..pairs {
        match parse_score(args.get(at + 2 * j)) {
            Some(s) => scores.push(s),
            None => return ctx.out.error(errors::NOT_FLOAT),
        }
    }
    let key = args.get(1);
    let (mut ks, out) = ctx.split();
    let lim = limits(&ks);
    let guard = if xx {
        ks.write::<ZSet>(key)
    } else {
        ks.write_or_create::<ZSet>(key).map(Some)
    };
    let mut guard = match guard {
        Err(_) => return out.error(errors::WRONGTYPE),
        Ok(g) => g,
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    if let Some(z) = guard.as_mut() {
        for (j, &given) in scores.iter().enumerate() {
            let member = args.get(at + 2 * j + 1);
            match z.score(member) {
                Some(cur) => {
                    if nx {
                        continue;
                    }
                    let mut score = given;
                    if incr {
                        score += cur;
                        if score.is_nan() {
                            return out.error("ERR resulting score is not a number (NaN)");
                        }
                    }
                    if (lt && score >= cur) || (gt && score <= cur) {
                        continue;
                    }
                    processed += 1;
                    last = score;
                    if score != cur {
                        z.set_score(member, score);
                        updated += 1;
                    }
                }
                None => {
                    if xx {
                        continue;
                    }
                    z.insert(given, member, lim);
                    added += 1;
                    processed += 1;
                    last = given;
                }
            }
        }
    }
    drop(guard);
    if incr {
        if processed > 0 {
            reply_score(out, last);
        } else {
            out.null();
        }
    } else {
        out.int(if ch { added + updated } else { added });
    }
}

pub fn zrem(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let mut z = match ks.write::<ZSet>(args.get(1)) {
        Err(_) => return out.error(errors::WRONGTYPE),
        Ok(None) => return out.int(0),
        Ok(Some(z)) => z,
    };
    let mut deleted = 0;
    for m in args.iter().skip(2) {
        if z.score(m).is_some() {
            z.remove(m);
            deleted += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    out.int(deleted);
}

// ---------------------------------------------------------------------------------------------
// Reads of one key.

pub fn zcard(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    match ks.read::<ZSet>(args.get(1)) {
        Err(_) => out.error(errors::WRONGTYPE),
        Ok(z) => out.int(z.map_or(0, |z| z.len() as i64)),
    }
}

pub fn zscore(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    match ks.read::<ZSet>(args.get(1)) {
        Err(_) => out.error(errors::WRONGTYPE),
        Ok(z) => match z.and_then(|z| z.score(args.get(2))) {
            Some(s) => reply_score(out, s),
            None => out.null(),
        },
    }
}

pub fn zmscore(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let z = match ks.read::<ZSet>(args.get(1)) {
        Err(_) => return out.error(errors::WRONGTYPE),
        Ok(z) => z,
    };
    out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => reply_score(out, s),
            None => out.null(),
        }
    }
}

fn zrank_generic(ctx: &mut Ctx, args: Args, rev: bool) {
    let (mut ks, out) = ctx.split();
    match ks.read::<ZSet>(args.get(1)) {
        Err(_) => out.error(errors::WRONGTYPE),
        Ok(z) => match z.and_then(|z| z.rank(args.get(2)).map(|r| (r, z.len()))) {
            Some((r, len)) => out.int(if rev { len - 1 - r } else { r } as i64),
            None => out.null(),
        },
    }
}

pub fn zrank(ctx: &mut Ctx, args: Args) {
    zrank_generic(ctx, args, false)
}

pub fn zrevrank(ctx: &mut Ctx, args: Args) {
    zrank_generic(ctx, args, true)
}

pub fn zcount(ctx: &mut Ctx, args: Args) {
    let Some(spec) = Spec::score(args.get(2), args.get(3)) else {
        return ctx.out.error(SCORE_RANGE_ERR);
    };
    count_generic(ctx, args, spec)
}

pub fn zlexcount(ctx: &mut Ctx, args: Args) {
    let Some(spec) = Spec::lex(args.get(2), args.get(3)) else {
        return ctx.out.error(LEX_RANGE_ERR);
    };
    count_generic(ctx, args, spec)
}

fn count_generic(ctx: &mut Ctx, args: Args, spec: Spec) {
    let (mut ks, out) = ctx.split();
    match ks.read::<ZSet>(args.get(1)) {
        Err(_) => out.error(errors::WRONGTYPE),
        Ok(z) => out.int(z.map_or(0, |z| spec.count(z) as i64)),
    }
}

// ---------------------------------------------------------------------------------------------
// ZRANGE and its family.

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// ZRANGE, ZRANGESTORE and the older Z[REV]RANGE[BYSCORE|BYLEX] (zrangeGenericCommand):
/// `src` is the position of the source key; `by` and `rev` are fixed for the older forms.
fn zrange_generic(
    ctx: &mut Ctx,
    args: Args,
    src: usize,
    dst: Option<&[u8]>,
    mut by: Option<By>,
    mut rev: Option<bool>,
) {
    let store = dst.is_some();
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src + 3;
    while j < args.len() {
        let a = args.get(j);
        let left = args.len() - j - 1;
        if !store && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            match (parse_i64(args.get(j + 1)), parse_i64(args.get(j + 2))) {
                (Some(o), Some(l)) => (offset, limit) = (o, l),
                _ => return ctx.out.error(errors::NOT_INTEGER),
            }
            j += 2;
        } else if rev.is_none() && eq_ic(a, "rev") {
            rev = Some(true);
        } else if by.is_none() && eq_ic(a, "bylex") {
            by = Some(By::Lex);
        } else if by.is_none() && eq_ic(a, "byscore") {
            by = Some(By::Score);
        } else {
            return ctx.out.error(errors::SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    let by = by.unwrap_or(By::Rank);
    if limit != -1 && by == By::Rank {
        return ctx.out.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && by == By::Lex {
        return ctx
            .out
            .error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut lo, mut hi) = (args.get(src + 1), args.get(src + 2));
    if rev && by != By::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let mut ranks = (0, 0);
    let spec = match by {
        By::Rank => match (parse_i64(lo), parse_i64(hi)) {
            (Some(a), Some(b)) => {
                ranks = (a, b);
                None
            }
            _ => return ctx.out.error(errors::NOT_INTEGER),
        },
        By::Score => match Spec::score(lo, hi) {
            Some(s) => Some(s),
            None => return ctx.out.error(SCORE_RANGE_ERR),
        },
        By::Lex => match Spec::lex(lo, hi) {
            Some(s) => Some(s),
            None => return ctx.out.error(LEX_RANGE_ERR),
        },
    };
    let (mut ks, out) = ctx.split();
    let lim = limits(&ks);
    let z = match ks.read::<ZSet>(args.get(src)) {
        Err(_) => return out.error(errors::WRONGTYPE),
        Ok(z) => z,
    };
    let items = match (z, &spec) {
        (None, _) => vec![],
        (Some(z), None) => select_ranks(z, ranks.0, ranks.1, rev),
        (Some(z), Some(spec)) => spec.select(z, rev, offset, limit),
    };
    match dst {
        None => reply_pairs(out, &items, withscores),
        Some(dst) => {
            // Built as Redis builds it: one member at a time in the order of the range, in a
            // listpack unless a rank range is known to be too long, converting on the way
            // (so a -0 score added while it was a listpack reads 0, as in Redis).
            if items.is_empty() {
                ks.delete(dst);
                return out.int(0);
            }
            let mut z = if by == By::Rank && items.len() > lim.max_entries {
                ZSet::new_large()
            } else {
                ZSet::default()
            };
            for &(m, s) in &items {
                z.insert(s, m, lim);
            }
            let n = z.len();
            drop(items);
            ks.store(dst, z.wrap());
            out.int(n as i64);
        }
    }
}

pub fn zrange(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, None, None)
}

pub fn zrangestore(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 2, Some(args.get(1)), None, None)
}

pub fn zrevrange(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, Some(By::Rank), Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, Some(By::Score), Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, Some(By::Score), Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, Some(By::Lex), Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx, args: Args) {
    zrange_generic(ctx, args, 1, None, Some(By::Lex), Some(true))
}

// ---------------------------------------------------------------------------------------------
// ZREMRANGEBY*.

fn zremrange_generic(ctx: &mut Ctx, args: Args, by: By) {
    let spec = match by {
        By::Rank => None,
        By::Score => match Spec::score(args.get(2), args.get(3)) {
            Some(s) => Some(s),
            None => return ctx.out.error(SCORE_RANGE_ERR),
        },
        By::Lex => match Spec::lex(args.get(2), args.get(3)) {
            Some(s) => Some(s),
            None => return ctx.out.error(LEX_RANGE_ERR),
        },
    };
    let mut ranks = (0, 0);
    if by == By::Rank {
        match (parse_i64(args.get(2)), parse_i64(args.get(3))) {
            (Some(a), Some(b)) => ranks = (a, b),
            _ => return ctx.out.error(errors::NOT_INTEGER),
        }
    }
    let (mut ks, out) = ctx.split();
    let mut z = match ks.write::<ZSet>(args.get(1)) {
        Err(_) => return out.error(errors::WRONGTYPE),
        Ok(None) => return out.int(0),
        Ok(Some(z)) => z,
    };
    let span = match &spec {
        None => super::index_range(ranks.0, ranks.1, z.len()),
        Some(spec) => spec.first_in(&z).map(|first| {
            let mut n = 0;
            z.walk(first, false, |m, s| {
                let ok = spec.lte_max(s, m);
                n += ok as usize;
                ok
            });
            (first, first + n - 1)
        }),
    };
    match span {
        None => out.int(0),
        Some((a, b)) => out.int(z.remove_ranks(a, b) as i64),
    }
}

pub fn zremrangebyrank(ctx: &mut Ctx, args: Args) {
    zremrange_generic(ctx, args, By::Rank)
}

pub fn zremrangebyscore(ctx: &mut Ctx, args: Args) {
    zremrange_generic(ctx, args, By::Score)
}

pub fn zremrangebylex(ctx: &mut Ctx, args: Args) {
    zremrange_generic(ctx, args, By::Lex)
}

// ---------------------------------------------------------------------------------------------
// Pops.

/// Redis's genericZpopCommand, for ZPOPMIN/ZPOPMAX/ZMPOP and the blocking variants: pops up
/// to `count` members (-1: a plain single pop) from the first of `keys` that exists, from the
/// top when `max`, and writes Redis's reply:
/// - `emitkey` false, `nested` false: a flat [member, score, ...] (ZPOPMIN/MAX, RESP2 or
///   without COUNT);
/// - `emitkey` false, `nested` true: [[member, score], ...] (ZPOPMIN/MAX with COUNT, RESP3);
/// - `emitkey` true, `nested` false: [key, member, score, ...] (BZPOPMIN/MAX);
/// - `emitkey` true, `nested` true: [key, [[member, score], ...]] (ZMPOP, BZMPOP).
///
/// With no existing key it replies a null array when `nil_when_empty`, else an empty array;
/// a key of another type is WRONGTYPE. Returns the key it popped from, if any (the blocking
/// commands need to know whether to block: they should check first that a key exists).
#[allow(clippy::too_many_arguments)]
pub fn pop_generic(
    ks: &mut Keyspace,
    out: &mut Reply,
    keys: &[&[u8]],
    max: bool,
    emitkey: bool,
    count: i64,
    nested: bool,
    nil_when_empty: bool,
) -> Option<Vec<u8>> {
    let now = ks.now_ms;
    let mut found = None;
    for &k in keys {
        if let Some(idx) = ks.db.find(k, now, ks.ks) {
            if !matches!(ks.db.at(idx).value, Value::ZSet(_)) {
                out.error(errors::WRONGTYPE);
                return None;
            }
            found = Some(k);
            break;
        }
    }
    let Some(key) = found else {
        if nil_when_empty {
            out.null_array();
        } else {
            out.array(0);
        }
        return None;
    };
    if count == 0 {
        out.array(0);
        return None;
    }
    let count = if count < 0 { 1 } else { count as usize };
    let Ok(Some(mut z)) = ks.write::<ZSet>(key) else {
        unreachable!("the key was just found as a sorted set");
    };
    let n = count.min(z.len());
    match (emitkey, nested) {
        (false, false) => out.array(n * 2),
        (false, true) => out.array(n),
        (true, false) => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    for _ in 0..n {
        let rank = if max { z.len() - 1 } else { 0 };
        let (m, s) = z.at(rank).expect("the set is not empty");
        if nested {
            out.array(2);
        }
        out.bulk(m);
        reply_score(out, s);
        z.remove_ranks(rank, rank);
    }
    Some(key.to_vec())
}

fn zpop_minmax(ctx: &mut Ctx, args: Args, max: bool) {
    if args.len() > 3 {
        return ctx.out.error(errors::SYNTAX);
    }
    let mut count = -1;
    if args.len() == 3 {
        match parse_i64(args.get(2)) {
            Some(n) if n >= 0 => count = n,
            _ => return ctx.out.error("ERR value is out of range, must be positive"),
        }
    }
    let nested = ctx.out.resp >= 3 && count != -1;
    let (mut ks, out) = ctx.split();
    pop_generic(
        &mut ks,
        out,
        &[args.get(1)],
        max,
        false,
        count,
        nested,
        false,
    );
}

pub fn zpopmin(ctx: &mut Ctx, args: Args) {
    zpop_minmax(ctx, args, false)
}

pub fn zpopmax(ctx: &mut Ctx, args: Args) {
    zpop_minmax(ctx, args, true)
}

/// Parses ZMPOP's arguments from the numkeys position: (keys, max, count), or the error text.
/// BZMPOP's are the same after its timeout.
pub fn parse_mpop<'a>(
    args: &Args<'a>,
    numkeys_at: usize,
) -> Result<(Vec<&'a [u8]>, bool, i64), &'static str> {
    let numkeys = match parse_i64(args.get(numkeys_at)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err("ERR numkeys should be greater than 0"),
    };
    let where_at = (numkeys_at as u64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_at >= args.len() as u64 {
        return Err(errors::SYNTAX);
    }
    let where_at = where_at as usize;
    let w = args.get(where_at);
    let max = if eq_ic(w, "min") {
        false
    } else if eq_ic(w, "max") {
        true
    } else {
        return Err(errors::SYNTAX);
    };
    let mut count = -1;
    let mut j = where_at + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count == -1 && eq_ic(args.get(j), "count") && more > 0 {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(n) if n >= 1 => count = n,
                _ => return Err("ERR count should be greater than 0"),
            }
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let keys = (numkeys_at + 1..where_at).map(|i| args.get(i)).collect();
    Ok((keys, max, count.max(1)))
}

pub fn zmpop(ctx: &mut Ctx, args: Args) {
    let (keys, max, count) = match parse_mpop(&args, 1) {
        Ok(p) => p,
        Err(e) => return ctx.out.error(e),
    };
    let (mut ks, out) = ctx.split();
    pop_generic(&mut ks, out, &keys, max, true, count, true, true);
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD.

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            // inf + -inf: Redis's convention is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val
            }
        }
    }
}

/// An input of the set operations: a sorted set, or nothing (a missing key). Redis also takes
/// plain sets here (every member with score 1); see `read_sources`.
#[derive(Clone, Copy)]
struct Src<'a>(Option<&'a ZSet>);

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        self.0.map_or(0, |z| z.len())
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        self.0.and_then(|z| z.score(m))
    }

    fn iter(&self) -> impl Iterator<Item = (&'a [u8], f64)> + 'a {
        self.0.into_iter().flat_map(|z| z.iter())
    }
}

/// Looks the input keys up for reading, in order, as Redis does (counting keyspace hits and
/// misses, stopping at the first key that is neither a sorted set nor a set); returns their
/// positions (None for a missing key).
fn source_positions(ks: &mut Keyspace, keys: &[&[u8]]) -> Option<Vec<Option<usize>>> {
    let now = ks.now_ms;
    for k in keys {
        match ks.db.find(k, now, ks.ks) {
            None => ks.ks.keyspace_misses += 1,
            Some(idx) => {
                ks.ks.keyspace_hits += 1;
                if !matches!(ks.db.at(idx).value, Value::ZSet(_) | Value::Set(_)) {
                    return None;
                }
            }
        }
    }
    // Expired keys are gone now, so the positions found next stay valid together.
    let mut scratch = crate::store::KeyspaceStats::default();
    Some(
        keys.iter()
            .map(|k| ks.db.find(k, now, &mut scratch))
            .collect(),
    )
}

/// A plain set as a sorted set input: every member with score 1, as Redis reads it.
fn set_as_zset(s: &crate::store::Set) -> ZSet {
    let mut z = ZSet::new_large();
    let mut buf = itoa::Buffer::new();
    for e in s.iter() {
        z.insert(
            1.0,
            e.bytes(&mut buf),
            Limits {
                max_entries: usize::MAX,
                max_value: usize::MAX,
            },
        );
    }
    z
}

fn setop_generic(
    ctx: &mut Ctx,
    args: Args,
    dst: Option<&[u8]>,
    numkeys_at: usize,
    op: SetOp,
    card_only: bool,
) {
    let name = args.lossy(0).to_ascii_lowercase();
    let setnum = match parse_i64(args.get(numkeys_at)) {
        Some(n) => n,
        None => return ctx.out.error(errors::NOT_INTEGER),
    };
    if setnum < 1 {
        return ctx.out.error(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if setnum > (args.len() - numkeys_at - 1) as i64 {
        return ctx.out.error(errors::SYNTAX);
    }
    let setnum = setnum as usize;
    let keys: Vec<&[u8]> = (0..setnum).map(|i| args.get(numkeys_at + 1 + i)).collect();
    let (mut ks, out) = ctx.split();
    let Some(positions) = source_positions(&mut ks, &keys) else {
        return out.error(errors::WRONGTYPE);
    };
    let converted: Vec<Option<ZSet>> = positions
        .iter()
        .map(|p| match p.map(|i| &ks.db.at(i).value) {
            Some(Value::Set(s)) => Some(set_as_zset(s)),
            _ => None,
        })
        .collect();
    let db: &crate::store::Db = ks.db;
    let srcs: Vec<Src> = positions
        .iter()
        .zip(&converted)
        .map(|(p, c)| match c {
            Some(z) => Src(Some(z)),
            None => Src(p.and_then(|i| ZSet::of(&db.at(i).value))),
        })
        .collect();
    let mut weights = vec![1.0f64; setnum];
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = numkeys_at + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args.get(j);
        if op != SetOp::Diff && !card_only && remaining > setnum && eq_ic(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                match parse_score(args.get(j)) {
                    Some(v) => *w = v,
                    None => return out.error("ERR weight value is not a float"),
                }
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = args.get(j + 1);
            how = if eq_ic(v, "sum") {
                Aggregate::Sum
            } else if eq_ic(v, "min") {
                Aggregate::Min
            } else if eq_ic(v, "max") {
                Aggregate::Max
            } else {
                return out.error(errors::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq_ic(a, "limit") {
            match parse_i64(args.get(j + 1)) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return out.error("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return out.error(errors::SYNTAX);
        }
    }
    let mut inputs: Vec<(Src, f64)> = srcs.into_iter().zip(weights).collect();
    if op != SetOp::Diff {
        // Smallest first, as Redis orders them (a stable sort, like glibc's qsort here).
        inputs.sort_by_key(|(s, _)| s.len());
    }
    let mut result: Vec<(f64, &[u8])> = vec![];
    let mut card = 0usize;
    match op {
        SetOp::Inter => {
            let (first, w0) = inputs[0];
            if first.len() > 0 {
                'members: for (m, s) in first.iter() {
                    let mut score = w0 * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for &(src, w) in &inputs[1..] {
                        match src.score(m) {
                            Some(v) => aggregate(&mut score, v * w, how),
                            None => continue 'members,
                        }
                    }
                    if card_only {
                        card += 1;
                        if limit > 0 && card >= limit {
                            break;
                        }
                    } else {
                        result.push((score, m));
                    }
                }
            }
        }
        SetOp::Union => {
            let mut acc: std::collections::HashMap<&[u8], f64, ahash::RandomState> =
                Default::default();
            for &(src, w) in &inputs {
                for (m, s) in src.iter() {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    acc.entry(m)
                        .and_modify(|t| aggregate(t, score, how))
                        .or_insert(score);
                }
            }
            result = acc.into_iter().map(|(m, s)| (s, m)).collect();
        }
        SetOp::Diff => {
            let (first, _) = inputs[0];
            for (m, s) in first.iter() {
                if !inputs[1..].iter().any(|(src, _)| src.score(m).is_some()) {
                    result.push((s, m));
                }
            }
        }
    }
    if card_only {
        return out.int(card as i64);
    }
    result.sort_by(|a, b| {
        a.0.partial_cmp(&b.0)
            .unwrap_or(Ordering::Equal)
            .then(a.1.cmp(b.1))
    });
    match dst {
        Some(dst) => {
            let owned: Vec<(f64, Vec<u8>)> = result.iter().map(|&(s, m)| (s, m.to_vec())).collect();
            drop(result);
            store_result(&mut ks, out, dst, &owned);
        }
        None => {
            let items: Vec<(&[u8], f64)> = result.iter().map(|&(s, m)| (m, s)).collect();
            reply_pairs(out, &items, withscores);
        }
    }
}

pub fn zunion(ctx: &mut Ctx, args: Args) {
    setop_generic(ctx, args, None, 1, SetOp::Union, false)
}

pub fn zinter(ctx: &mut Ctx, args: Args) {
    setop_generic(ctx, args, None, 1, SetOp::Inter, false)
}

pub fn zdiff(ctx: &mut Ctx, args: Args) {
    setop_generic(ctx, args, None, 1, SetOp::Diff, false)
}

pub fn zintercard(ctx: &mut Ctx, args: Args) {
    setop_generic(ctx, args, None, 1, SetOp::Inter, true)
}

pub fn zunionstore(ctx: &mut Ctx, args: Args) {
    setop_generic(ctx, args, Some(args.get(1)), 2, SetOp::Union, false)
}

pub fn zinterstore(ctx: &mut Ctx, args: Args) {
    setop_generic(ctx, args, Some(args.get(1)), 2, SetOp::Inter, false)
}

pub fn zdiffstore(ctx: &mut Ctx, args: Args) {
    setop_generic(ctx, args, Some(args.get(1)), 2, SetOp::Diff, false)
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER and ZSCAN.

fn random_below(n: usize) -> usize {
    use std::cell::Cell;
    thread_local! {
        static RNG: Cell<u64> = Cell::new(
            crate::util::now_us() ^ ((&RNG as *const _ as u64).rotate_left(32)) | 1
        );
    }
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    })
}

pub fn zrandmember(ctx: &mut Ctx, args: Args) {
    if args.len() < 3 {
        let (mut ks, out) = ctx.split();
        return match ks.read::<ZSet>(args.get(1)) {
            Err(_) => out.error(errors::WRONGTYPE),
            Ok(None) => out.null(),
            Ok(Some(z)) => {
                let (m, _) = z.at(random_below(z.len())).expect("in range");
                out.bulk(m)
            }
        };
    }
    let l = match parse_i64(args.get(2)) {
        None => return ctx.out.error(errors::NOT_INTEGER),
        Some(i64::MIN) => {
            return ctx.out.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            )
        }
        Some(l) => l,
    };
    let mut withscores = false;
    if args.len() > 4 || (args.len() == 4 && !eq_ic(args.get(3), "withscores")) {
        return ctx.out.error(errors::SYNTAX);
    } else if args.len() == 4 {
        withscores = true;
        if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return ctx.out.error("ERR value is out of range");
        }
    }
    let (mut ks, out) = ctx.split();
    let z = match ks.read::<ZSet>(args.get(1)) {
        Err(_) => return out.error(errors::WRONGTYPE),
        Ok(None) => return out.array(0),
        Ok(Some(z)) => z,
    };
    let size = z.len();
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    if count == 0 {
        return out.array(0);
    }
    let header = |out: &mut Reply, n: u64| {
        if withscores && out.resp < 3 {
            out.array((n * 2) as usize)
        } else {
            out.array(n as usize)
        }
    };
    let one = |out: &mut Reply, m: &[u8], s: f64| {
        if withscores && out.resp >= 3 {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            reply_score(out, s);
        }
    };
    if !uniq || count == 1 {
        // Independent picks, repeats allowed.
        header(out, count);
        for _ in 0..count {
            let (m, s) = z.at(random_below(size)).expect("in range");
            one(out, m, s);
        }
        return;
    }
    if count as usize >= size {
        // The whole set, from the top down (Redis's set-operation iterator runs backwards).
        header(out, size as u64);
        z.walk(size - 1, true, |m, s| {
            one(out, m, s);
            true
        });
        return;
    }
    // `count` distinct members in random order: a partial shuffle of the ranks.
    let count = count as usize;
    let mut ranks: Vec<usize> = (0..size).collect();
    header(out, count as u64);
    for i in 0..count {
        let j = i + random_below(size - i);
        ranks.swap(i, j);
        let (m, s) = z.at(ranks[i]).expect("in range");
        one(out, m, s);
    }
}

/// Large sets are scanned in score order: the cursor is the order-preserving bit image of the
/// score to resume at (never 0 for a real score), so members present throughout a scan are
/// all returned, as SCAN promises.
fn cursor_of(s: f64) -> u64 {
    let b = s.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

fn score_of_cursor(c: u64) -> f64 {
    f64::from_bits(if c >> 63 == 1 { c & !(1 << 63) } else { !c })
}

pub fn zscan(ctx: &mut Ctx, args: Args) {
    let Some(cursor) = super::parse_scan_cursor(args.get(2)) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let (mut ks, out) = ctx.split();
    let z = match ks.read::<ZSet>(args.get(1)) {
        Err(_) => return out.error(errors::WRONGTYPE),
        Ok(None) => {
            out.array(2);
            out.bulk(b"0");
            return out.array(0);
        }
        Ok(Some(z)) => z,
    };
    let (count, pattern) = match super::parse_scan_options(&args, 3) {
        Ok(o) => o,
        Err(e) => return out.error(e),
    };
    let keep = |m: &[u8]| pattern.is_none_or(|p| crate::util::glob_match(p, m, false));
    let mut items: Vec<(&[u8], String)> = vec![];
    let mut next = 0u64;
    if z.is_small() {
        // Like a listpack: everything at once, scores as the listpack holds them.
        for (m, s) in z.iter() {
            if keep(m) {
                items.push((m, d2string(s)));
            }
        }
    } else {
        let from = score_of_cursor(cursor);
        let start = if cursor == 0 {
            Some(0)
        } else if from.is_nan() {
            None
        } else {
            z.first_where(|s, _| s >= from)
        };
        if let Some(start) = start {
            let mut seen = 0usize;
            let mut last: Option<f64> = None;
            z.walk(start, false, |m, s| {
                // Stop once `count` are seen and the score moves on, so that the cursor
                // (a score) resumes exactly after what was returned.
                if seen >= count && last != Some(s) {
                    next = cursor_of(s);
                    return false;
                }
                seen += 1;
                last = Some(s);
                if keep(m) {
                    items.push((m, fmt_double(s)));
                }
                true
            });
        }
    }
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(items.len() * 2);
    for (m, s) in items {
        out.bulk(m);
        out.bulk(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_redis_7_0() {
        assert_eq!(fmt_double(1.5), "1.5");
        assert_eq!(fmt_double(0.1), "0.10000000000000001");
        assert_eq!(fmt_double(1e20), "1e+20");
        assert_eq!(fmt_double(3.0), "3");
        assert_eq!(fmt_double(-0.0), "-0");
        assert_eq!(fmt_double(f64::INFINITY), "inf");
        assert_eq!(fmt_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(d2string(1e17), "100000000000000000");
        assert_eq!(d2string(2.5), "2.5");
    }

    #[test]
    fn integer_fast_paths_match_libc() {
        let mut rng = crate::util::Rng::new(3);
        let mut cases: Vec<i64> = vec![0, 1, -1, 999_999_999_999_999, -999_999_999_999_999];
        for _ in 0..20_000 {
            let digits = 1 + rng.below(16) as u32;
            let v = (rng.below(1 << 62) as i64) % 10i64.pow(digits);
            cases.push(if rng.below(2) == 0 { v } else { -v });
        }
        for v in cases {
            for text in [v.to_string(), format!("+{v}"), format!("{v:08}")] {
                let (want, used, _) = c_strtod(text.as_bytes());
                let want = (used == text.len()).then_some(want.to_bits());
                assert_eq!(
                    parse_score(text.as_bytes()).map(f64::to_bits),
                    want,
                    "{text}"
                );
            }
            let d = v as f64;
            assert_eq!(fmt_double(d), fmt_g17(d), "{v}");
        }
        assert_eq!(
            parse_score(b"-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(parse_score(b"-"), None);
        assert_eq!(parse_score(b"+"), None);
        assert_eq!(fmt_double(-0.0), fmt_g17(-0.0));
        assert_eq!(fmt_double(1e15), fmt_g17(1e15));
    }

    #[test]
    fn scores_parse_as_strtod() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_bound(b"(1"), Some((1.0, true)));
        assert_eq!(parse_bound(b""), Some((0.0, false)));
        assert_eq!(parse_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_bound(b" 1"), Some((1.0, false)));
        assert_eq!(parse_bound(b"1x"), None);
        assert_eq!(crate::commands::parse_scan_cursor(b""), Some(0));
        assert_eq!(crate::commands::parse_scan_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(crate::commands::parse_scan_cursor(b" 1"), None);
    }

    #[test]
    fn cursors_keep_score_order() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -0.0,
            0.0,
            1e-300,
            2.0,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(cursor_of(w[0]) <= cursor_of(w[1]));
        }
        for x in xs {
            assert_ne!(cursor_of(x), 0);
            assert_eq!(score_of_cursor(cursor_of(x)).to_bits(), x.to_bits());
        }
    }
}
