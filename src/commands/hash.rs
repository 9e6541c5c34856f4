//! Hash commands, with Redis 7.0's replies, error texts and encoding conversions.

use std::cell::RefCell;

use super::{arity_error, Ctx, WrongType};
use crate::protocol::{errors, parse_i64, Args, Reply};
use crate::store::hash::Limits;
use crate::store::{Collection, Hash};
use crate::util::{eq_ic, glob_match, now_us, Rng};

fn hset_generic(ctx: &mut Ctx, args: Args, name: &str, reply_count: bool) {
    if args.len() % 2 == 1 {
        return ctx.out.error(arity_error(name));
    }
    let (mut ks, out) = ctx.split();
    let mut h = match ks.write_or_create::<Hash>(args.get(1)) {
        Ok(h) => h,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let lim = Limits::of(h.config());
    h.fit_values(args.iter().skip(2), lim);
    let mut added = 0;
    for i in (2..args.len()).step_by(2) {
        added += h.insert(args.get(i), args.get(i + 1), lim) as i64;
    }
    drop(h);
    if reply_count {
        out.int(added);
    } else {
        out.ok();
    }
}

pub fn hset(ctx: &mut Ctx, args: Args) {
    hset_generic(ctx, args, "hset", true)
}

pub fn hmset(ctx: &mut Ctx, args: Args) {
    hset_generic(ctx, args, "hmset", false)
}

pub fn hsetnx(ctx: &mut Ctx, args: Args) {
    let (field, value) = (args.get(2), args.get(3));
    let (mut ks, out) = ctx.split();
    let mut h = match ks.write_or_create::<Hash>(args.get(1)) {
        Ok(h) => h,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    if h.contains(field) {
        drop(h);
        return out.int(0);
    }
    let lim = Limits::of(h.config());
    h.fit_values([field, value], lim);
    h.insert(field, value, lim);
    drop(h);
    out.int(1);
}

/// Runs `f` with the hash at `key` for reading (None when missing), or replies WRONGTYPE.
fn with_hash(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(Option<&Hash>, &mut Reply)) {
    let (mut ks, out) = ctx.split();
    match ks.read::<Hash>(key) {
        Ok(h) => f(h, out),
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

pub fn hget(ctx: &mut Ctx, args: Args) {
    with_hash(ctx, args.get(1), |h, out| {
        match h.and_then(|h| h.get(args.get(2))) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    })
}

pub fn hmget(ctx: &mut Ctx, args: Args) {
    with_hash(ctx, args.get(1), |h, out| {
        out.array(args.len() - 2);
        for f in args.iter().skip(2) {
            match h.and_then(|h| h.get(f)) {
                Some(v) => out.bulk(v),
                None => out.null(),
            }
        }
    })
}

pub fn hgetall(ctx: &mut Ctx, args: Args) {
    with_hash(ctx, args.get(1), |h, out| match h {
        None => out.map(0),
        Some(h) => {
            out.map(h.len());
            for (f, v) in h.iter() {
                out.bulk(f);
                out.bulk(v);
            }
        }
    })
}

pub fn hkeys(ctx: &mut Ctx, args: Args) {
    with_hash(ctx, args.get(1), |h, out| match h {
        None => out.array(0),
        Some(h) => {
            out.array(h.len());
            for (f, _) in h.iter() {
                out.bulk(f);
            }
        }
    })
}

pub fn hvals(ctx: &mut Ctx, args: Args) {
    with_hash(ctx, args.get(1), |h, out| match h {
        None => out.array(0),
        Some(h) => {
            out.array(h.len());
            for (_, v) in h.iter() {
                out.bulk(v);
            }
        }
    })
}

pub fn hlen(ctx: &mut Ctx, args: Args) {
    with_hash(ctx, args.get(1), |h, out| {
        out.int(h.map_or(0, |h| h.len()) as i64)
    })
}

pub fn hexists(ctx: &mut Ctx, args: Args) {
    with_hash(ctx, args.get(1), |h, out| {
        out.int(h.is_some_and(|h| h.contains(args.get(2))) as i64)
    })
}

pub fn hstrlen(ctx: &mut Ctx, args: Args) {
    with_hash(ctx, args.get(1), |h, out| {
        out.int(h.and_then(|h| h.get(args.get(2))).map_or(0, |v| v.len()) as i64)
    })
}

pub fn hdel(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let mut h = match ks.write::<Hash>(args.get(1)) {
        Ok(Some(h)) => h,
        Ok(None) => return out.int(0),
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let mut deleted = 0;
    for f in args.iter().skip(2) {
        // Look first, so that a call deleting nothing leaves the key unchanged.
        if h.contains(f) {
            h.remove(f);
            deleted += 1;
        }
    }
    drop(h);
    out.int(deleted);
}

pub fn hincrby(ctx: &mut Ctx, args: Args) {
    let Some(by) = parse_i64(args.get(3)) else {
        return ctx.out.error(errors::NOT_INTEGER);
    };
    let field = args.get(2);
    let (mut ks, out) = ctx.split();
    let mut h = match ks.write_or_create::<Hash>(args.get(1)) {
        Ok(h) => h,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let cur = match h.get(field) {
        None => 0,
        Some(v) => match parse_i64(v) {
            Some(n) => n,
            None => {
                drop(h);
                return out.error("ERR hash value is not an integer");
            }
        },
    };
    let Some(new) = cur.checked_add(by) else {
        drop(h);
        return out.error(errors::OVERFLOW);
    };
    let lim = Limits::of(h.config());
    h.insert(field, itoa::Buffer::new().format(new).as_bytes(), lim);
    drop(h);
    out.int(new);
}

pub fn hincrbyfloat(ctx: &mut Ctx, args: Args) {
    let (field, by) = (args.get(2), args.get(3));
    // The increment alone first: not a number, or not a finite one.
    if let Err(e) = super::strings::add_floats(b"0", by) {
        return ctx.out.error(if e == errors::NOT_FLOAT {
            e
        } else {
            "ERR value is NaN or Infinity"
        });
    }
    let (mut ks, out) = ctx.split();
    let mut h = match ks.write_or_create::<Hash>(args.get(1)) {
        Ok(h) => h,
        Err(WrongType) => return out.error(errors::WRONGTYPE),
    };
    let sum = super::strings::add_floats(h.get(field).unwrap_or(b"0"), by);
    let text = match sum {
        Ok(t) => t,
        Err(e) => {
            drop(h);
            // The increment is valid, so an invalid operand is the stored value.
            return out.error(if e == errors::NOT_FLOAT {
                "ERR hash value is not a float"
            } else {
                e
            });
        }
    };
    let lim = Limits::of(h.config());
    h.insert(field, &text, lim);
    drop(h);
    out.bulk(&text);
}

thread_local! {
    static RNG: RefCell<Rng> = RefCell::new(Rng::new(now_us() ^ 0x6861_7368));
}

fn random_below(n: usize) -> usize {
    RNG.with(|r| r.borrow_mut().below(n))
}

/// LONG_MAX / 2: the largest |count| HRANDFIELD accepts WITHVALUES.
const HALF_LONG: i64 = i64::MAX / 2;

pub fn hrandfield(ctx: &mut Ctx, args: Args) {
    if args.len() == 2 {
        return with_hash(ctx, args.get(1), |h, out| match h {
            None => out.null(),
            Some(h) => out.bulk(h.get_index(random_below(h.len())).unwrap().0),
        });
    }
    let count = match parse_i64(args.get(2)) {
        None => return ctx.out.error(errors::NOT_INTEGER),
        Some(i64::MIN) => {
            return ctx.out.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            )
        }
        Some(n) => n,
    };
    if args.len() > 4 || (args.len() == 4 && !eq_ic(args.get(3), "withvalues")) {
        return ctx.out.error(errors::SYNTAX);
    }
    let withvalues = args.len() == 4;
    if withvalues && !(-HALF_LONG..=HALF_LONG).contains(&count) {
        return ctx.out.error("ERR value is out of range");
    }
    with_hash(ctx, args.get(1), |h, out| {
        let Some(h) = h else {
            return out.array(0);
        };
        let pairs_reply = |out: &mut Reply, n: usize| {
            if withvalues && out.resp == 2 {
                out.array(2 * n);
            } else {
                out.array(n);
            }
        };
        let emit = |out: &mut Reply, (f, v): (&[u8], &[u8])| {
            if withvalues && out.resp >= 3 {
                out.array(2);
            }
            out.bulk(f);
            if withvalues {
                out.bulk(v);
            }
        };
        let size = h.len();
        if count == 0 {
            return out.array(0);
        }
        if count < 0 || count == 1 {
            // Repeats allowed: each pick independent.
            let n = count.unsigned_abs() as usize;
            let all: Vec<(&[u8], &[u8])> = h.iter().collect();
            pairs_reply(out, n);
            for _ in 0..n {
                emit(out, all[random_below(size)]);
            }
            return;
        }
        let n = count as usize;
        if n >= size {
            pairs_reply(out, size);
            for p in h.iter() {
                emit(out, p);
            }
            return;
        }
        // Distinct picks: a partial shuffle of the positions.
        let mut pos: Vec<usize> = (0..size).collect();
        for i in 0..n {
            let j = i + random_below(size - i);
            pos.swap(i, j);
        }
        pairs_reply(out, n);
        match h {
            Hash::Large(_) => {
                for &i in &pos[..n] {
                    emit(out, h.get_index(i).unwrap());
                }
            }
            Hash::Small(_) => {
                let all: Vec<(&[u8], &[u8])> = h.iter().collect();
                for &i in &pos[..n] {
                    emit(out, all[i]);
                }
            }
        }
    })
}

pub fn hscan(ctx: &mut Ctx, args: Args) {
    let Some(cursor) = super::parse_scan_cursor(args.get(2)) else {
        return ctx.out.error("ERR invalid cursor");
    };
    with_hash(ctx, args.get(1), |h, out| {
        let Some(h) = h else {
            out.array(2);
            out.bulk(b"0");
            return out.array(0);
        };
        let (count, pattern) = match super::parse_scan_options(&args, 3) {
            Ok(o) => o,
            Err(e) => return out.error(e),
        };
        let mut found: Vec<(&[u8], &[u8])> = vec![];
        let next = h.scan(cursor, count, |f, v| {
            if pattern.is_none_or(|p| glob_match(p, f, false)) {
                found.push((f, v));
            }
        });
        out.array(2);
        out.bulk(itoa::Buffer::new().format(next).as_bytes());
        out.array(2 * found.len());
        for (f, v) in found {
            out.bulk(f);
            out.bulk(v);
        }
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(crate::commands::parse_scan_cursor(b"0"), Some(0));
        assert_eq!(crate::commands::parse_scan_cursor(b""), Some(0));
        assert_eq!(crate::commands::parse_scan_cursor(b"+5"), Some(5));
        assert_eq!(crate::commands::parse_scan_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(
            crate::commands::parse_scan_cursor(b"18446744073709551615"),
            Some(u64::MAX)
        );
        assert_eq!(
            crate::commands::parse_scan_cursor(b"18446744073709551616"),
            None
        );
        assert_eq!(crate::commands::parse_scan_cursor(b" 5"), None);
        assert_eq!(crate::commands::parse_scan_cursor(b"5 "), None);
        assert_eq!(crate::commands::parse_scan_cursor(b"+"), None);
        assert_eq!(crate::commands::parse_scan_cursor(b"abc"), None);
        assert_eq!(crate::commands::parse_scan_cursor(b"0x10"), None);
    }
}
