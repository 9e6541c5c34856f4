//! The set command generator.
//!
//! Members come from a small pool (small integers, short words, and the shared value
//! generator's edge cases: non-canonical integers, 64-bit limits, binary) so that sets
//! overlap and the intset/hashtable rules are exercised; now and then a big SADD crosses
//! set-max-intset-entries, and CONFIG SET moves that threshold.
//!
//! Replies whose order is a hash table's are compared unordered. Random picks (SPOP,
//! SRANDMEMBER) are compared exactly only where the reply is determined: counts covering the
//! whole set, or a set of one member built just before. Otherwise only the reply's length is
//! compared, and an SPOP with a partial count pops from a copy in a scratch database that the
//! final comparison leaves out, since the two servers then hold different members (SCARD
//! checks they hold as many).

use super::harness::{b, Cmd, Cmp, Gen, DBS};
use rand::Rng;

fn member(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..10) {
        0..=4 => g.rng.gen_range(-5i64..40).to_string().into_bytes(),
        5..=6 => {
            let n = g.rng.gen_range(1..4);
            (0..n).map(|_| g.rng.gen_range(b'a'..=b'e')).collect()
        }
        7 => g.short_value(),
        _ => g.value(),
    }
}

/// Members for one command: half the time integers only, so that intsets live long.
fn members(g: &mut Gen, max: usize) -> Vec<Vec<u8>> {
    let n = g.rng.gen_range(1..=max);
    if g.chance(0.5) {
        return (0..n)
            .map(|_| g.rng.gen_range(-5i64..40).to_string().into_bytes())
            .collect();
    }
    (0..n).map(|_| member(g)).collect()
}

fn cmd(g: &mut Gen, name: &str, args: impl IntoIterator<Item = Vec<u8>>) -> Cmd {
    let mut c = vec![g.word(name)];
    c.extend(args);
    c
}

/// 1 to 4 keys, sometimes repeating one.
fn some_keys(g: &mut Gen) -> Vec<Vec<u8>> {
    let n = g.rng.gen_range(1..=4);
    let mut keys = g.keys(n);
    if n > 1 && g.chance(0.1) {
        keys[n - 1] = keys[0].clone();
    }
    keys
}

/// A count for SPOP / SRANDMEMBER.
fn count_arg(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..10) {
        0..=5 => g.rng.gen_range(0..8).to_string().into_bytes(),
        6 => g.rng.gen_range(-8..0).to_string().into_bytes(),
        7 => b(g.pick(&["1000", "9223372036854775807"])),
        8 => b(g.pick(&[
            "-9223372036854775808",
            "-0",
            "01",
            "1.5",
            "abc",
            "",
            "99999999999999999999",
        ])),
        _ => g.rng.gen_range(8..40).to_string().into_bytes(),
    }
}

fn ints(g: &mut Gen, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| g.rng.gen_range(0..30).to_string().into_bytes())
        .collect()
}

/// SDIFF(STORE) on sets built just before, sized so that Redis uses either of its two
/// algorithms (one adds the whole first set before removing, which decides the encoding).
fn scripted_diff(g: &mut Gen) {
    let keys = g.keys(3);
    let dst = g.key();
    for k in &keys {
        g.push(vec![b("DEL"), k.clone()]);
    }
    let mut first = vec![b("SADD"), keys[0].clone(), b("w")];
    let n = g.rng.gen_range(1..20);
    first.extend(ints(g, n));
    g.push(first);
    g.push(vec![b("SADD"), keys[1].clone(), b("w")]);
    if g.chance(0.8) {
        let n = g.rng.gen_range(1..6);
        let mut c = vec![b("SADD"), keys[2].clone()];
        c.extend(ints(g, n));
        g.push(c);
    }
    if g.chance(0.5) {
        g.push_cmp(
            vec![
                b("SDIFF"),
                keys[0].clone(),
                keys[1].clone(),
                keys[2].clone(),
            ],
            Cmp::Unordered,
        );
    }
    g.push(vec![
        b("SDIFFSTORE"),
        dst.clone(),
        keys[0].clone(),
        keys[1].clone(),
        keys[2].clone(),
    ]);
    g.push(vec![b("OBJECT"), b("ENCODING"), dst]);
}

/// SPOP with a count on a table of integers: when few members remain Redis rebuilds the
/// remainder (an intset again), otherwise it stays a table; either way deterministic.
fn scripted_pop(g: &mut Gen) {
    let k = b(SCRATCH);
    g.push(vec![b("SELECT"), b(SCRATCH_DB)]);
    g.push(vec![b("DEL"), k.clone()]);
    let mut c = vec![b("SADD"), k.clone(), b("w")];
    let n = g.rng.gen_range(2..25);
    c.extend((0..n).map(|i| i.to_string().into_bytes()));
    g.push(c);
    g.push(vec![b("SREM"), k.clone(), b("w")]);
    let count = g.rng.gen_range(1..n);
    g.push_cmp(
        vec![b("SPOP"), k.clone(), count.to_string().into_bytes()],
        Cmp::SameLength,
    );
    g.push(vec![b("SCARD"), k.clone()]);
    g.push(vec![b("OBJECT"), b("ENCODING"), k]);
    back_from_scratch(g);
}

/// Random pops make the two servers' sets differ, so they happen on a scratch key in a
/// database the final state comparison leaves out (it covers databases 0..DBS), which stays
/// out of the comparison even when the run ends in the middle of such a sequence.
const SCRATCH: &str = "set-scratch";
const SCRATCH_DB: &str = "9";

/// Selects one of the compared databases again (which one does not matter: the connection
/// is in the same one on both servers).
fn back_from_scratch(g: &mut Gen) {
    let db = g.rng.gen_range(0..DBS).to_string().into_bytes();
    g.push(vec![b("SELECT"), db]);
}

pub fn generate(g: &mut Gen) {
    let k = g.key();
    match g.rng.gen_range(0..100) {
        0..=20 => {
            let m = members(g, 6);
            let c = cmd(g, "sadd", [k].into_iter().chain(m));
            g.push(c);
        }
        21..=23 => {
            // A big SADD: ints only (past the intset limit) or with a word.
            let n = g.rng.gen_range(100..700);
            let mut args = vec![k.clone()];
            args.extend((0..n).map(|_| g.rng.gen_range(0..900).to_string().into_bytes()));
            if g.chance(0.3) {
                args.push(b("word"));
            }
            let c = cmd(g, "sadd", args);
            g.push(c);
        }
        24..=30 => {
            let m = members(g, 5);
            let c = cmd(g, "srem", [k].into_iter().chain(m));
            g.push(c);
        }
        31..=34 => {
            let m = member(g);
            let c = cmd(g, "sismember", [k, m]);
            g.push(c);
        }
        35..=37 => {
            let m = members(g, 5);
            let c = cmd(g, "smismember", [k].into_iter().chain(m));
            g.push(c);
        }
        38..=40 => {
            let c = cmd(g, "scard", [k]);
            g.push(c);
        }
        41..=44 => {
            let c = cmd(g, "smembers", [k]);
            g.push_cmp(c, Cmp::Unordered);
        }
        45..=52 => {
            let name = g.pick(&["sinter", "sunion", "sdiff"]);
            let keys = some_keys(g);
            let c = cmd(g, name, keys);
            g.push_cmp(c, Cmp::Unordered);
        }
        53..=61 => {
            let name = g.pick(&["sinterstore", "sunionstore", "sdiffstore"]);
            let dst = g.key();
            let keys = some_keys(g);
            let c = cmd(g, name, [dst.clone()].into_iter().chain(keys));
            g.push(c);
            // The result is a set or nothing, so its encoding is always comparable.
            g.push(vec![b("OBJECT"), b("ENCODING"), dst.clone()]);
            if g.chance(0.3) {
                g.push_cmp(vec![b("SMEMBERS"), dst], Cmp::Unordered);
            }
        }
        62..=66 => {
            let keys = some_keys(g);
            let mut args = vec![];
            match g.rng.gen_range(0..10) {
                0 => args.push(b(g.pick(&["0", "-1", "abc", "", "5"]))),
                _ => args.push(keys.len().to_string().into_bytes()),
            }
            args.extend(keys);
            if g.chance(0.4) {
                args.push(g.word("limit"));
                let l = match g.rng.gen_range(0..6) {
                    0 => b(g.pick(&["-1", "abc", "1.5"])),
                    _ => g.rng.gen_range(0..5).to_string().into_bytes(),
                };
                args.push(l);
            } else if g.chance(0.05) {
                args.push(b(g.pick(&["limit", "foo"])));
            }
            let c = cmd(g, "sintercard", args);
            g.push(c);
        }
        67..=72 => {
            let dst = g.key();
            let m = member(g);
            let c = cmd(g, "smove", [k, dst, m]);
            g.push(c);
        }
        73..=78 => {
            // SPOP: whole-set counts and errors are exact; other counts pop from a copy in
            // a database the final comparison leaves out, comparing lengths only.
            let count = count_arg(g);
            if matches!(&count[..], b"1000" | b"9223372036854775807") {
                let c = cmd(g, "spop", [k, count]);
                g.push_cmp(c, Cmp::Unordered);
            } else {
                g.push(vec![
                    b("COPY"),
                    k,
                    b(SCRATCH),
                    b("DB"),
                    b(SCRATCH_DB),
                    b("REPLACE"),
                ]);
                g.push(vec![b("SELECT"), b(SCRATCH_DB)]);
                let c = cmd(g, "spop", [b(SCRATCH), count]);
                g.push_cmp(c, Cmp::SameLength);
                g.push(vec![b("SCARD"), b(SCRATCH)]);
                back_from_scratch(g);
            }
        }
        79..=84 => {
            let count = count_arg(g);
            let whole = matches!(&count[..], b"1000" | b"9223372036854775807");
            // Skip huge negative counts (millions of repeats).
            if count.starts_with(b"-9") && count.len() > 3 && count != b"-9223372036854775808" {
                return;
            }
            let c = cmd(g, "srandmember", [k, count]);
            g.push_cmp(
                c,
                if whole {
                    Cmp::Unordered
                } else {
                    Cmp::SameLength
                },
            );
        }
        85..=87 => {
            // SPOP / SRANDMEMBER without a count, on a set of one member.
            let m = member(g);
            g.push(vec![b("DEL"), k.clone()]);
            g.push(vec![b("SADD"), k.clone(), m]);
            let name = g.pick(&["spop", "srandmember"]);
            let c = cmd(g, name, [k.clone()]);
            g.push(c);
            let c = cmd(g, name, [k]);
            g.push(c);
        }
        88..=92 => {
            // SSCAN: a literal MATCH over a whole-set COUNT makes the reply exact.
            let mut args = vec![k];
            args.push(match g.rng.gen_range(0..12) {
                0 => b(g.pick(&["abc", "+0", "", " 1", "18446744073709551616", "-"])),
                _ => b("0"),
            });
            match g.rng.gen_range(0..10) {
                0 => args.push(b(g.pick(&["count", "match", "type", "novalues"]))),
                1 => {
                    args.push(g.word("count"));
                    args.push(b(g.pick(&["0", "-1", "abc", ""])));
                }
                _ => {
                    args.push(g.word("count"));
                    args.push(b("100000"));
                    args.push(g.word("match"));
                    let m = member(g);
                    // Glob metacharacters would match several members.
                    let m = m.into_iter().filter(|c| !b"*?[]\\".contains(c)).collect();
                    args.push(m);
                }
            }
            let c = cmd(g, "sscan", args);
            g.push(c);
        }
        93..=95 => {
            // Wrong arity.
            let (name, n) = g.pick(&[
                ("sadd", 1),
                ("srem", 1),
                ("sismember", 1),
                ("sismember", 3),
                ("smismember", 1),
                ("smembers", 0),
                ("smembers", 2),
                ("scard", 0),
                ("spop", 0),
                ("spop", 3),
                ("srandmember", 0),
                ("srandmember", 3),
                ("smove", 2),
                ("sinter", 0),
                ("sinterstore", 1),
                ("sdiffstore", 1),
                ("sintercard", 1),
                ("sscan", 1),
            ]);
            let args: Vec<Vec<u8>> = (0..n).map(|_| g.key()).collect();
            let c = cmd(g, name, args);
            g.push(c);
        }
        96 => scripted_diff(g),
        97 => scripted_pop(g),
        98 => {
            let v = g.pick(&["512", "512", "4", "16", "0", "1", "64"]);
            g.push(vec![
                b("CONFIG"),
                b("SET"),
                b("set-max-intset-entries"),
                b(v),
            ]);
        }
        _ => {
            // A set built from known members, checked in full (intset order is exact).
            let m = members(g, 8);
            g.push(vec![b("DEL"), k.clone()]);
            let c = cmd(g, "sadd", [k.clone()].into_iter().chain(m));
            g.push(c);
            g.push(vec![b("OBJECT"), b("ENCODING"), k.clone()]);
            g.push_cmp(vec![b("SMEMBERS"), k], Cmp::Unordered);
        }
    }
}
