//! The blocking commands' shard functions: their "try once" forms.
//!
//! Each serves from the first key that can serve, as Redis does, or replies with the null
//! Redis sends when it may not block (inside MULTI). Waiting, waking and timeouts are the
//! connection's business (`server::blocking`), which runs these again when a key is ready.

use super::{list, zset};
use super::{Ctx, WrongType};
use crate::protocol::{errors, Args};
use crate::store::list::End;

/// Redis's timeout argument (seconds, fractions allowed) in milliseconds; 0 means forever.
pub fn parse_timeout(arg: &[u8]) -> Result<u64, &'static str> {
    const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
    let text = std::str::from_utf8(arg).map_err(|_| NOT_FLOAT)?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Err(NOT_FLOAT);
    }
    let secs: f64 = text.parse().map_err(|_| NOT_FLOAT)?;
    if secs.is_nan() {
        return Err(NOT_FLOAT);
    }
    let ms = (secs * 1000.0).ceil();
    if ms > i64::MAX as f64 {
        return Err("ERR timeout is out of range");
    }
    if ms < 0.0 {
        return Err("ERR timeout is negative");
    }
    Ok(ms as u64)
}

fn bpop(ctx: &mut Ctx, args: Args, end: End) {
    if let Err(e) = parse_timeout(args.get(args.len() - 1)) {
        return ctx.out.error(e);
    }
    let (mut ks, out) = ctx.split();
    for i in 1..args.len() - 1 {
        match list::pop_with_key(&mut ks, args.get(i), end, out) {
            Ok(true) => return,
            Ok(false) => {}
            Err(WrongType) => return out.error(errors::WRONGTYPE),
        }
    }
    out.null_array();
}

pub fn blpop(ctx: &mut Ctx, args: Args) {
    bpop(ctx, args, End::Left)
}

pub fn brpop(ctx: &mut Ctx, args: Args) {
    bpop(ctx, args, End::Right)
}

fn bmove(ctx: &mut Ctx, args: Args, from: End, to: End) {
    if let Err(e) = parse_timeout(args.get(args.len() - 1)) {
        return ctx.out.error(e);
    }
    let (mut ks, out) = ctx.split();
    match list::move_element(&mut ks, args.get(1), args.get(2), from, to, out) {
        Ok(true) => {}
        Ok(false) => out.null(),
        Err(WrongType) => out.error(errors::WRONGTYPE),
    }
}

pub fn blmove(ctx: &mut Ctx, args: Args) {
    let (Some(from), Some(to)) = (list::parse_end(args.get(3)), list::parse_end(args.get(4)))
    else {
        return ctx.out.error(errors::SYNTAX);
    };
    bmove(ctx, args, from, to)
}

pub fn brpoplpush(ctx: &mut Ctx, args: Args) {
    bmove(ctx, args, End::Right, End::Left)
}

pub fn blmpop(ctx: &mut Ctx, args: Args) {
    let m = match list::parse_mpop(&args, 2) {
        Ok(m) => m,
        Err(e) => return ctx.out.error(e),
    };
    if let Err(e) = parse_timeout(args.get(1)) {
        return ctx.out.error(e);
    }
    let (mut ks, out) = ctx.split();
    for i in m.keys {
        match list::mpop_from(&mut ks, args.get(i), m.end, m.count, out) {
            Ok(true) => return,
            Ok(false) => {}
            Err(WrongType) => return out.error(errors::WRONGTYPE),
        }
    }
    out.null_array();
}

fn bzpop(ctx: &mut Ctx, args: Args, max: bool) {
    if let Err(e) = parse_timeout(args.get(args.len() - 1)) {
        return ctx.out.error(e);
    }
    let keys: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    let (mut ks, out) = ctx.split();
    zset::pop_generic(&mut ks, out, &keys, max, true, -1, false, true);
}

pub fn bzpopmin(ctx: &mut Ctx, args: Args) {
    bzpop(ctx, args, false)
}

pub fn bzpopmax(ctx: &mut Ctx, args: Args) {
    bzpop(ctx, args, true)
}

pub fn bzmpop(ctx: &mut Ctx, args: Args) {
    let (keys, max, count) = match zset::parse_mpop(&args, 2) {
        Ok(p) => p,
        Err(e) => return ctx.out.error(e),
    };
    if let Err(e) = parse_timeout(args.get(1)) {
        return ctx.out.error(e);
    }
    let (mut ks, out) = ctx.split();
    zset::pop_generic(&mut ks, out, &keys, max, true, count, true, true);
}

#[cfg(test)]
mod tests {
    use super::parse_timeout;

    #[test]
    fn timeouts_as_redis_reads_them() {
        assert_eq!(parse_timeout(b"0"), Ok(0));
        assert_eq!(parse_timeout(b"1.5"), Ok(1500));
        assert_eq!(parse_timeout(b"0.0001"), Ok(1));
        assert_eq!(parse_timeout(b"-1"), Err("ERR timeout is negative"));
        assert_eq!(
            parse_timeout(b"x"),
            Err("ERR timeout is not a float or out of range")
        );
        assert_eq!(
            parse_timeout(b" 1"),
            Err("ERR timeout is not a float or out of range")
        );
        assert_eq!(parse_timeout(b"inf"), Err("ERR timeout is out of range"));
    }
}
