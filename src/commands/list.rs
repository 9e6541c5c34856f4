//! List commands (the non-blocking ones).
//!
//! The cores of the pops and of the move are `pub` so that the blocking commands can serve a
//! waiting client with them: [`pop_reply`] (LPOP/RPOP's reply), [`pop_with_key`] (BLPOP's
//! `[key, element]`), [`mpop_from`] (LMPOP's `[key, [elements]]`) and [`move_element`]
//! (LMOVE's element). Each returns `Ok(true)` when it served (popped and replied),
//! `Ok(false)` when the key holds no list (nothing replied), and `Err(WrongType)` when the
//! key holds another type (nothing replied).

use super::{arity_error, Ctx, Keyspace, WrongType};
use crate::config::Opt;
use crate::protocol::{errors, parse_i64, Args, Reply};
use crate::store::list::{entry_size, End, Fill};
use crate::store::{Collection, List};
use crate::util::eq_ic;

const OUT_OF_RANGE: &str = "ERR index out of range";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// LEFT or RIGHT (case-insensitive), as LMOVE, LMPOP and BLMOVE take them.
pub fn parse_end(arg: &[u8]) -> Option<End> {
    if eq_ic(arg, "left") {
        Some(End::Left)
    } else if eq_ic(arg, "right") {
        Some(End::Right)
    } else {
        None
    }
}

/// The chunk fill rule from `list-max-listpack-size`.
fn fill_of(ks: &Keyspace) -> Fill {
    Fill::new(ks.config.int(Opt::ListMaxListpackSize))
}

/// A non-negative count; Redis's getPositiveLongFromObjectOrReply gives one error for a
/// negative number and a non-integer alike.
fn positive(arg: &[u8]) -> Option<usize> {
    parse_i64(arg).filter(|&n| n >= 0).map(|n| n as usize)
}

fn push(ctx: &mut Ctx, args: Args, end: End, only_existing: bool) {
    let (mut ks, out) = ctx.split();
    let fill = fill_of(&ks);
    let key = args.get(1);
    let mut list = if only_existing {
        match ks.write::<List>(key) {
            Ok(Some(l)) => l,
            Ok(None) => return out.int(0),
            Err(WrongType) => return out.error(errors::WRONGTYPE),
        }
    } else {
        match ks.write_or_create::<List>(key) {
            Ok(l) => l,
            Err(WrongType) => return out.error(errors::WRONGTYPE),
        }
    };
    let l = &mut *list;
    if args.len() > 3 {
        let bytes = args.iter().skip(2).map(|e| entry_size(e.len())).sum();
        l.reserve(end, bytes, fill);
    }
    for e in args.iter().skip(2) {
        l.push(end, e, fill);
    }
    out.int(l.len() as i64);
}

pub fn lpush(ctx: &mut Ctx, args: Args) {
    push(ctx, args, End::Left, false)
}

pub fn rpush(ctx: &mut Ctx, args: Args) {
    push(ctx, args, End::Right, false)
}

pub fn lpushx(ctx: &mut Ctx, args: Args) {
    push(ctx, args, End::Left, true)
}

pub fn rpushx(ctx: &mut Ctx, args: Args) {
    push(ctx, args, End::Right, true)
}

/// Pops from `key` at `end` and replies as LPOP/RPOP do: one bulk string without `count`,
/// else an array of up to `count` elements in popping order (`count` 0: an empty array).
pub fn pop_reply(
    ks: &mut Keyspace,
    key: &[u8],
    end: End,
    count: Option<usize>,
    out: &mut Reply,
) -> Result<bool, WrongType> {
    let Some(mut list) = ks.write::<List>(key)? else {
        return Ok(false);
    };
    match count {
        None => {
            list.pop_with(end, |e| out.bulk(e));
        }
        Some(0) => out.array(0),
        Some(n) => {
            let n = n.min(list.len());
            out.array(n);
            pop_elements(&mut list, end, n, out);
        }
    }
    Ok(true)
}

/// Pops `n` elements (at most the length) from `end`, replying with each in popping order.
fn pop_elements(list: &mut List, end: End, n: usize, out: &mut Reply) {
    if n >= list.len() {
        // Everything goes: stream it, then drop the whole list at once.
        match end {
            End::Left => list.iter().for_each(|e| out.bulk(e)),
            End::Right => list.iter().rev().for_each(|e| out.bulk(e)),
        }
        *list = List::empty();
        return;
    }
    for _ in 0..n {
        list.pop_with(end, |e| out.bulk(e));
    }
}

fn pop(ctx: &mut Ctx, args: Args, end: End, name: &str) {
    let (mut ks, out) = ctx.split();
    if args.len() > 3 {
        return out.error(arity_error(name));
    }
    let count = if args.len() == 3 {
        match positive(args.get(2)) {
            Some(n) => Some(n),
            None => return out.error(MUST_BE_POSITIVE),
        }
    } else {
        None
    };
    match pop_reply(&mut ks, args.get(1), end, count, out) {
        Ok(true) => {}
        Ok(false) if count.is_some() => out.null_array(),
        Ok(false) => out.null(),
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

pub fn lpop(ctx: &mut Ctx, args: Args) {
    pop(ctx, args, End::Left, "lpop")
}

pub fn rpop(ctx: &mut Ctx, args: Args) {
    pop(ctx, args, End::Right, "rpop")
}

/// BLPOP/BRPOP's serving step: pops one element and replies `[key, element]`.
pub fn pop_with_key(
    ks: &mut Keyspace,
    key: &[u8],
    end: End,
    out: &mut Reply,
) -> Result<bool, WrongType> {
    let Some(mut list) = ks.write::<List>(key)? else {
        return Ok(false);
    };
    if list.is_empty() {
        return Ok(false);
    }
    out.array(2);
    out.bulk(key);
    list.pop_with(end, |e| out.bulk(e));
    Ok(true)
}

/// LMPOP/BLMPOP's serving step: pops up to `count` elements from `key` and replies
/// `[key, [elements]]`.
pub fn mpop_from(
    ks: &mut Keyspace,
    key: &[u8],
    end: End,
    count: usize,
    out: &mut Reply,
) -> Result<bool, WrongType> {
    let Some(mut list) = ks.write::<List>(key)? else {
        return Ok(false);
    };
    if list.is_empty() {
        return Ok(false);
    }
    let n = count.min(list.len());
    out.array(2);
    out.bulk(key);
    out.array(n);
    pop_elements(&mut list, end, n, out);
    Ok(true)
}

/// LMOVE's core: pops from `src` at `from`, pushes onto `dst` at `to`, replies with the
/// element. `Ok(false)` (nothing replied) when `src` holds no list; `Err` when either key
/// holds another type (checked before anything changes, `src` first).
pub fn move_element(
    ks: &mut Keyspace,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    out: &mut Reply,
) -> Result<bool, WrongType> {
    let fill = fill_of(ks);
    match ks.write::<List>(src)? {
        Some(l) if !l.is_empty() => {}
        _ => return Ok(false),
    }
    ks.write::<List>(dst)?;
    if src == dst {
        // A rotation (or a pop and push at the same end): one key, changed in place.
        let mut list = ks.write::<List>(src)?.expect("checked above");
        if from == to {
            // The element goes back where it was: the list does not change.
            let e = list.get(if from == End::Left { 0 } else { list.len() - 1 });
            out.bulk(e.expect("not empty"));
            return Ok(true);
        }
        let e = list.pop(from).expect("not empty");
        list.push(to, &e, fill);
        out.bulk(&e);
        return Ok(true);
    }
    let e = {
        let mut list = ks.write::<List>(src)?.expect("checked above");
        list.pop(from).expect("not empty")
    };
    let mut dest = ks.write_or_create::<List>(dst)?;
    dest.push(to, &e, fill);
    out.bulk(&e);
    Ok(true)
}

pub fn lmove(ctx: &mut Ctx, args: Args) {
    let (Some(from), Some(to)) = (parse_end(args.get(3)), parse_end(args.get(4))) else {
        return ctx.out.error(errors::SYNTAX);
    };
    lmove_generic(ctx, args, from, to)
}

pub fn rpoplpush(ctx: &mut Ctx, args: Args) {
    lmove_generic(ctx, args, End::Right, End::Left)
}

fn lmove_generic(ctx: &mut Ctx, args: Args, from: End, to: End) {
    let (mut ks, out) = ctx.split();
    match move_element(&mut ks, args.get(1), args.get(2), from, to, out) {
        Ok(true) => {}
        Ok(false) => out.null(),
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

/// LMPOP's arguments after the keys: the end, then an optional COUNT.
pub struct MpopArgs {
    pub end: End,
    pub count: usize,
    /// Positions of the keys in the arguments.
    pub keys: std::ops::Range<usize>,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT n]` starting at `at` (numkeys' position), with
/// Redis's errors.
pub fn parse_mpop(args: &Args, at: usize) -> Result<MpopArgs, &'static str> {
    let numkeys = match parse_i64(args.get(at)) {
        Some(n) if n >= 1 => n as usize,
        _ => return Err("ERR numkeys should be greater than 0"),
    };
    let where_at = match (at + 1).checked_add(numkeys) {
        Some(w) if w < args.len() => w,
        _ => return Err(errors::SYNTAX),
    };
    let end = parse_end(args.get(where_at)).ok_or(errors::SYNTAX)?;
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(args.get(j), "count") && j + 1 < args.len() {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err("ERR count should be greater than 0"),
            }
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(MpopArgs {
        end,
        count: count.unwrap_or(1),
        keys: at + 1..where_at,
    })
}

pub fn lmpop(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let p = match parse_mpop(&args, 1) {
        Ok(p) => p,
        Err(e) => return out.error(e),
    };
    for i in p.keys {
        match mpop_from(&mut ks, args.get(i), p.end, p.count, out) {
            Ok(true) => return,
            Ok(false) => {}
            Err(WrongType) => return out.error(errors::WRONGTYPE),
        }
    }
    out.null_array();
}

pub fn llen(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    match ks.read::<List>(args.get(1)) {
        Ok(l) => out.int(l.map_or(0, |l| l.len() as i64)),
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

/// LRANGE/LTRIM's range as (first index, count), count 0 when empty.
fn clamp_range(start: i64, end: i64, len: usize) -> (usize, usize) {
    super::index_range(start, end, len).map_or((0, 0), |(s, e)| (s, e - s + 1))
}

fn two_ints(args: &Args, a: usize, b: usize) -> Option<(i64, i64)> {
    Some((parse_i64(args.get(a))?, parse_i64(args.get(b))?))
}

pub fn lrange(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let Some((start, end)) = two_ints(&args, 2, 3) else {
        return out.error(errors::NOT_INTEGER);
    };
    match ks.read::<List>(args.get(1)) {
        Ok(None) => out.array(0),
        Ok(Some(l)) => {
            let (s, n) = clamp_range(start, end, l.len());
            out.array(n);
            l.for_range(s, n, |e| out.bulk(e));
        }
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

pub fn lindex(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let l = match ks.read::<List>(args.get(1)) {
        Ok(None) => return out.null(),
        Ok(Some(l)) => l,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let Some(index) = parse_i64(args.get(2)) else {
        return out.error(errors::NOT_INTEGER);
    };
    match l.resolve(index).and_then(|i| l.get(i)) {
        Some(e) => out.bulk(e),
        None => out.null(),
    }
}

pub fn lset(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let fill = fill_of(&ks);
    let mut list = match ks.write::<List>(args.get(1)) {
        Ok(None) => return out.error(errors::NO_SUCH_KEY),
        Ok(Some(l)) => l,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let Some(index) = parse_i64(args.get(2)) else {
        return out.error(errors::NOT_INTEGER);
    };
    match list.resolve(index) {
        Some(i) => {
            list.set(i, args.get(3), fill);
            out.ok();
        }
        None => out.error(OUT_OF_RANGE),
    }
}

pub fn linsert(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let fill = fill_of(&ks);
    let after = if eq_ic(args.get(2), "after") {
        true
    } else if eq_ic(args.get(2), "before") {
        false
    } else {
        return out.error(errors::SYNTAX);
    };
    let mut list = match ks.write::<List>(args.get(1)) {
        Ok(None) => return out.int(0),
        Ok(Some(l)) => l,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    match list.find_pivot(args.get(3)) {
        Some(p) => {
            list.insert_at_pivot(p, args.get(4), after, fill);
            out.int(list.len() as i64);
        }
        None => out.int(-1),
    }
}

pub fn lrem(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let Some(count) = parse_i64(args.get(2)) else {
        return out.error(errors::NOT_INTEGER);
    };
    let mut list = match ks.write::<List>(args.get(1)) {
        Ok(None) => return out.int(0),
        Ok(Some(l)) => l,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let elem = args.get(3);
    // A negative count removes from the tail.
    let from = if count < 0 { End::Right } else { End::Left };
    // Only a list that really holds the element is changed.
    let any = match from {
        End::Left => list.iter().any(|e| e == elem),
        End::Right => list.iter().rev().any(|e| e == elem),
    };
    if !any {
        return out.int(0);
    }
    let n = list.remove_matching(elem, count.unsigned_abs() as usize, from);
    out.int(n as i64);
}

pub fn ltrim(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let Some((start, end)) = two_ints(&args, 2, 3) else {
        return out.error(errors::NOT_INTEGER);
    };
    let mut list = match ks.write::<List>(args.get(1)) {
        Ok(None) => return out.ok(),
        Ok(Some(l)) => l,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let len = list.len();
    let (s, n) = clamp_range(start, end, len);
    let (left, right) = if n == 0 { (len, 0) } else { (s, len - s - n) };
    if left > 0 {
        list.drop_n(End::Left, left);
    }
    if right > 0 {
        list.drop_n(End::Right, right);
    }
    out.ok();
}

pub fn lpos(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let elem = args.get(2);
    let (mut rank, mut count, mut maxlen): (i64, Option<usize>, usize) = (1, None, 0);
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        let more = j + 1 < args.len();
        if eq_ic(opt, "rank") && more {
            j += 1;
            match parse_i64(args.get(j)) {
                None => return out.error(errors::NOT_INTEGER),
                Some(0) => {
                    return out.error(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                         second ... or use negative to start from the end of the list",
                    )
                }
                Some(r) => rank = r,
            }
        } else if eq_ic(opt, "count") && more {
            j += 1;
            match positive(args.get(j)) {
                Some(n) => count = Some(n),
                None => return out.error("ERR COUNT can't be negative"),
            }
        } else if eq_ic(opt, "maxlen") && more {
            j += 1;
            match positive(args.get(j)) {
                Some(n) => maxlen = n,
                None => return out.error("ERR MAXLEN can't be negative"),
            }
        } else {
            return out.error(errors::SYNTAX);
        }
        j += 1;
    }
    let backwards = rank < 0;
    // Redis negates the rank in a C long; LONG_MIN stays negative, and every match counts.
    let rank = if backwards { rank.wrapping_neg() } else { rank };
    let list = match ks.read::<List>(args.get(1)) {
        Ok(None) if count.is_some() => return out.array(0),
        Ok(None) => return out.null(),
        Ok(Some(l)) => l,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let len = list.len();
    let limit = if maxlen == 0 { usize::MAX } else { maxlen };
    let items: Box<dyn Iterator<Item = &[u8]>> = if backwards {
        Box::new(list.iter().rev())
    } else {
        Box::new(list.iter())
    };
    let mut matches: i64 = 0;
    let mut found: Vec<usize> = Vec::new();
    for (index, e) in items.take(limit).enumerate() {
        if e != elem {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if backwards { len - index - 1 } else { index });
        match count {
            None => break,
            Some(c) if c != 0 && (matches - rank + 1) as usize >= c => break,
            _ => {}
        }
    }
    match count {
        Some(_) => {
            out.array(found.len());
            for i in found {
                out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => out.int(i as i64),
            None => out.null(),
        },
    }
}
