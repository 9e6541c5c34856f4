//! Set commands, with Redis 7.0's semantics, replies and encoding rules (see `store::set`).

use std::cell::RefCell;

use super::{Ctx, Keyspace, WrongType};
use crate::config::{Config, Opt};
use crate::protocol::{errors, parse_i64, Args, Reply};
use crate::store::set::{Elem, Set};
use crate::store::{Collection, Value};
use crate::util::{eq_ic, glob_match, Rng};

/// set-max-intset-entries.
#[inline]
fn max_intset(cfg: &Config) -> usize {
    cfg.int(Opt::SetMaxIntsetEntries).max(0) as usize
}

thread_local! {
    /// Random picks (SPOP, SRANDMEMBER); one generator per shard thread.
    static RNG: RefCell<Rng> = RefCell::new(Rng::new(
        crate::util::now_us() ^ (&RNG as *const _ as u64).rotate_left(32),
    ));
}

/// A uniform pick in 0..n (n > 0).
fn rand_below(n: usize) -> usize {
    RNG.with(|r| r.borrow_mut().below(n))
}

#[inline]
fn reply_elem(out: &mut Reply, e: Elem) {
    match e {
        Elem::Int(n) => out.bulk_int(n),
        Elem::Bytes(b) => out.bulk(b),
    }
}

pub fn sadd(ctx: &mut Ctx, args: Args) {
    let max = max_intset(ctx.config);
    let (mut ks, out) = ctx.split();
    let mut set = match ks.write_or_create::<Set>(args.get(1)) {
        Ok(s) => s,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    // Only a member that is really new changes the value (and stamps the key).
    let Some(first_new) = (2..args.len()).find(|&i| !set.contains(args.get(i))) else {
        return out.int(0);
    };
    let set = &mut *set;
    let mut added = 0;
    for i in first_new..args.len() {
        added += set.insert(args.get(i), max) as i64;
    }
    out.int(added);
}

pub fn srem(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let mut set = match ks.write::<Set>(args.get(1)) {
        Ok(Some(s)) => s,
        Ok(None) => return out.int(0),
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let Some(first) = (2..args.len()).find(|&i| set.contains(args.get(i))) else {
        return out.int(0);
    };
    let set = &mut *set;
    let mut removed = 0;
    for i in first..args.len() {
        removed += set.remove(args.get(i)) as i64;
        if set.is_empty() {
            break;
        }
    }
    out.int(removed);
}

pub fn sismember(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    match ks.read::<Set>(args.get(1)) {
        Ok(s) => out.int(s.is_some_and(|s| s.contains(args.get(2))) as i64),
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

pub fn smismember(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    match ks.read::<Set>(args.get(1)) {
        Ok(s) => {
            out.array(args.len() - 2);
            for i in 2..args.len() {
                out.int(s.is_some_and(|s| s.contains(args.get(i))) as i64);
            }
        }
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

pub fn smembers(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    match ks.read::<Set>(args.get(1)) {
        Ok(Some(s)) => {
            out.set(s.len());
            s.iter().for_each(|e| reply_elem(out, e));
        }
        Ok(None) => out.set(0),
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

pub fn scard(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    match ks.read::<Set>(args.get(1)) {
        Ok(s) => out.int(s.map_or(0, |s| s.len()) as i64),
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

pub fn spop(ctx: &mut Ctx, args: Args) {
    match args.len() {
        2 => {}
        3 => return spop_count(ctx, args),
        _ => return ctx.out.error(errors::SYNTAX),
    }
    let (mut ks, out) = ctx.split();
    let mut set = match ks.write::<Set>(args.get(1)) {
        Ok(Some(s)) => s,
        Ok(None) => return out.null(),
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let at = rand_below(set.len());
    let m = set.remove_at(at);
    reply_elem(out, m.elem());
}

const POSITIVE: &str = "ERR value is out of range, must be positive";

fn spop_count(ctx: &mut Ctx, args: Args) {
    let count = match parse_i64(args.get(2)) {
        Some(n) if n >= 0 => n as u64,
        _ => return ctx.out.error(POSITIVE),
    };
    let max = max_intset(ctx.config);
    let (mut ks, out) = ctx.split();
    let mut set = match ks.write::<Set>(args.get(1)) {
        Ok(Some(s)) => s,
        Ok(None) => return out.set(0),
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    if count == 0 {
        return out.set(0);
    }
    let len = set.len();
    if count >= len as u64 {
        // The whole set: reply it and let the guard remove the emptied key.
        out.set(len);
        set.iter().for_each(|e| reply_elem(out, e));
        let set = &mut *set;
        *set = Set::default();
        return;
    }
    let count = count as usize;
    out.set(count);
    set.pop_many(count, max, &mut rand_below, |e| reply_elem(out, e));
}

const SRAND_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

pub fn srandmember(ctx: &mut Ctx, args: Args) {
    match args.len() {
        2 => {}
        3 => return srandmember_count(ctx, args),
        _ => return ctx.out.error(errors::SYNTAX),
    }
    let (mut ks, out) = ctx.split();
    match ks.read::<Set>(args.get(1)) {
        Ok(Some(s)) => reply_elem(out, s.get(rand_below(s.len()))),
        Ok(None) => out.null(),
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

fn srandmember_count(ctx: &mut Ctx, args: Args) {
    let (count, repeats) = match parse_i64(args.get(2)) {
        None => return ctx.out.error(errors::NOT_INTEGER),
        Some(i64::MIN) => return ctx.out.error(SRAND_RANGE),
        Some(n) => (n.unsigned_abs(), n < 0),
    };
    let (mut ks, out) = ctx.split();
    let set = match ks.read::<Set>(args.get(1)) {
        Ok(Some(s)) => s,
        Ok(None) => return out.array(0),
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let len = set.len();
    if count == 0 {
        return out.array(0);
    }
    if repeats {
        out.array(count as usize);
        for _ in 0..count {
            reply_elem(out, set.get(rand_below(len)));
        }
        return;
    }
    if count >= len as u64 {
        out.array(len);
        set.iter().for_each(|e| reply_elem(out, e));
        return;
    }
    // `count` distinct positions: Floyd's sampling.
    let count = count as usize;
    let mut picked = vec![false; len];
    for j in len - count..len {
        let r = rand_below(j + 1);
        let p = if picked[r] { j } else { r };
        picked[p] = true;
    }
    out.array(count);
    for (i, _) in picked.iter().enumerate().filter(|(_, &p)| p) {
        reply_elem(out, set.get(i));
    }
}

pub fn smove(ctx: &mut Ctx, args: Args) {
    let max = max_intset(ctx.config);
    let (src, dst, m) = (args.get(1), args.get(2), args.get(3));
    let (mut ks, out) = ctx.split();
    let in_src = match ks.write::<Set>(src) {
        Ok(Some(s)) => s.contains(m),
        Ok(None) => return out.int(0),
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    if ks.write::<Set>(dst).is_err() {
        return out.error(errors::WRONGTYPE);
    }
    if src == dst || !in_src {
        return out.int(in_src as i64);
    }
    if let Ok(Some(mut s)) = ks.write::<Set>(src) {
        s.remove(m);
    }
    if let Ok(mut d) = ks.write_or_create::<Set>(dst) {
        if !d.contains(m) {
            d.insert(m, max);
        }
    }
    out.int(1);
}

/// Looks up each key as a set, as Redis does for the multi-set commands: a missing key is an
/// empty set, and a key of another type stops the command. Reads count keyspace hits and
/// misses. Returns each key's position in the database (positions stay valid until the
/// database next changes).
fn lookup_sets(
    ks: &mut Keyspace,
    args: &Args,
    keys: std::ops::Range<usize>,
    read: bool,
) -> Result<Vec<Option<usize>>, WrongType> {
    // First every lookup (which may remove expired keys, moving others), then the positions.
    for k in keys.clone().map(|i| args.get(i)) {
        match ks.db.get(k, ks.now_ms, ks.ks) {
            None => ks.ks.keyspace_misses += read as u64,
            Some(e) => {
                let is_set = Set::of(&e.value).is_some();
                ks.ks.keyspace_hits += read as u64;
                if !is_set {
                    return Err(WrongType);
                }
            }
        }
    }
    Ok(keys
        .map(|i| ks.db.find(args.get(i), ks.now_ms, ks.ks))
        .collect())
}

fn sets_at<'d>(ks: &'d Keyspace, at: &[Option<usize>]) -> Vec<Option<&'d Set>> {
    at.iter()
        .map(|i| i.map(|i| Set::of(&ks.db.at(i).value).expect("type checked")))
        .collect()
}

/// The intersection, visiting each member (up to `limit` of them, 0 for all); returns how
/// many were visited. Walks the smallest set and probes the others, as Redis does.
fn inter<'a>(sets: &[Option<&'a Set>], limit: usize, mut visit: impl FnMut(Elem<'a>)) -> usize {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return 0;
    };
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().expect("at least one key");
    let mut n = 0;
    for e in first.iter() {
        if rest
            .iter()
            .all(|s| std::ptr::eq(*s, *first) || s.contains_elem(e))
        {
            visit(e);
            n += 1;
            if n == limit {
                break;
            }
        }
    }
    n
}

/// The union, built as Redis builds it (so with the same encoding).
fn union(sets: &[Option<&Set>], max: usize) -> Set {
    Set::from_elems(sets.iter().flatten().flat_map(|s| s.iter()), max)
}

/// The difference of the first set and the others, with the encoding Redis's SDIFF gives
/// it: Redis picks one of two algorithms by the sizes involved, and the second adds every
/// member of the first set before removing the others' members, so the result is a table if
/// the first set alone would have been one.
fn diff(sets: &[Option<&Set>], max: usize) -> Set {
    let Some(first) = sets[0] else {
        return Set::default();
    };
    let (mut one, mut two) = (0u64, 0u64);
    for s in sets.iter().flatten() {
        one += first.len() as u64;
        two += s.len() as u64;
    }
    let adds_first_whole = one / 2 > two;
    let others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
    let mut result = Set::from_elems(
        first.iter().filter(|e| {
            !others
                .iter()
                .any(|s| std::ptr::eq(*s, first) || s.contains_elem(*e))
        }),
        max,
    );
    if adds_first_whole
        && (first.len() > max || first.iter().any(|e| e.as_int().is_none()))
        && !result.is_empty()
    {
        result.convert_to_table();
    }
    result
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

fn reply_set(out: &mut Reply, s: &Set) {
    out.set(s.len());
    s.iter().for_each(|e| reply_elem(out, e));
}

fn set_op(ctx: &mut Ctx, args: Args, op: Op) {
    let max = max_intset(ctx.config);
    let (mut ks, out) = ctx.split();
    let at = match lookup_sets(&mut ks, &args, 1..args.len(), true) {
        Ok(at) => at,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let sets = sets_at(&ks, &at);
    match op {
        Op::Inter => {
            let mut found = vec![];
            inter(&sets, 0, |e| found.push(e));
            out.set(found.len());
            found.into_iter().for_each(|e| reply_elem(out, e));
        }
        Op::Union => reply_set(out, &union(&sets, max)),
        Op::Diff => reply_set(out, &diff(&sets, max)),
    }
}

fn set_op_store(ctx: &mut Ctx, args: Args, op: Op) {
    let max = max_intset(ctx.config);
    let (mut ks, out) = ctx.split();
    let at = match lookup_sets(&mut ks, &args, 2..args.len(), false) {
        Ok(at) => at,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let sets = sets_at(&ks, &at);
    let result = match op {
        Op::Inter => {
            let mut r = Set::default();
            inter(&sets, 0, |e| {
                r.insert_elem(e, max);
            });
            r
        }
        Op::Union => union(&sets, max),
        Op::Diff => diff(&sets, max),
    };
    let n = result.len();
    let dst = args.get(1);
    if n == 0 && ks.db.find(dst, ks.now_ms, ks.ks).is_none() {
        // Nothing stored and nothing to delete.
        return out.int(0);
    }
    ks.store(dst, Value::Set(result));
    out.int(n as i64);
}

pub fn sinter(ctx: &mut Ctx, args: Args) {
    set_op(ctx, args, Op::Inter)
}

pub fn sunion(ctx: &mut Ctx, args: Args) {
    set_op(ctx, args, Op::Union)
}

pub fn sdiff(ctx: &mut Ctx, args: Args) {
    set_op(ctx, args, Op::Diff)
}

pub fn sinterstore(ctx: &mut Ctx, args: Args) {
    set_op_store(ctx, args, Op::Inter)
}

pub fn sunionstore(ctx: &mut Ctx, args: Args) {
    set_op_store(ctx, args, Op::Union)
}

pub fn sdiffstore(ctx: &mut Ctx, args: Args) {
    set_op_store(ctx, args, Op::Diff)
}

pub fn sintercard(ctx: &mut Ctx, args: Args) {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = match parse_i64(args.get(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.out.error(NUMKEYS),
    };
    if numkeys > (args.len() - 2) as u64 {
        return ctx
            .out
            .error("ERR Number of keys can't be greater than number of args");
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if eq_ic(args.get(i), "limit") && i + 1 < args.len() {
            match parse_i64(args.get(i + 1)) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return ctx.out.error("ERR LIMIT can't be negative"),
            }
            i += 2;
        } else {
            return ctx.out.error(errors::SYNTAX);
        }
    }
    let (mut ks, out) = ctx.split();
    let at = match lookup_sets(&mut ks, &args, 2..2 + numkeys, true) {
        Ok(at) => at,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let sets = sets_at(&ks, &at);
    out.int(inter(&sets, limit, |_| {}) as i64);
}

pub fn sscan(ctx: &mut Ctx, args: Args) {
    let Some(cursor) = super::parse_scan_cursor(args.get(2)) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let (mut ks, out) = ctx.split();
    let set = match ks.read::<Set>(args.get(1)) {
        Ok(Some(s)) => s,
        Ok(None) => {
            out.array(2);
            out.bulk(b"0");
            return out.array(0);
        }
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let (count, pattern) = match super::parse_scan_options(&args, 3) {
        Ok(o) => o,
        Err(e) => return out.error(e),
    };
    let mut found = vec![];
    let mut buf = itoa::Buffer::new();
    let next = set.scan(cursor, count, |e| {
        if pattern.is_none_or(|p| glob_match(p, e.bytes(&mut buf), false)) {
            found.push(e);
        }
    });
    out.array(2);
    out.bulk_int(next as i64);
    out.array(found.len());
    found.into_iter().for_each(|e| reply_elem(out, e));
}
