//! The list command generator: pushes, pops (with and without counts), ranges, indexes,
//! inserts, removals, trims, LPOS options, moves between keys (same key included) and LMPOP,
//! with bad arguments, wrong types and wrong arities mixed in.

use super::harness::{b, Cmd, Gen};
use rand::Rng;

/// An element: mostly from a small alphabet so that LREM, LPOS and LINSERT find matches.
fn elem(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..10) {
        0..=5 => b(g.pick(&["a", "b", "c", "d", "1", "2", "", "hello"])),
        6 => g.value(),
        7 => {
            // Long enough to fill chunks now and then.
            let n = g.rng.gen_range(100..600);
            (0..n).map(|_| g.rng.gen_range(b'a'..=b'c')).collect()
        }
        _ => g.short_value(),
    }
}

/// An index or range bound, mostly small, sometimes extreme or not a number.
fn index(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..12) {
        0..=8 => g.rng.gen_range(-12i64..15).to_string().into_bytes(),
        9 => b(g.pick(&[
            "9223372036854775807",
            "-9223372036854775808",
            "100000",
            "-100000",
        ])),
        _ => g.bad_number(),
    }
}

fn side(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..20) {
        0 => b(g.pick(&["up", "", "lef", "RIGHTT"])),
        _ => {
            let s = g.pick(&["LEFT", "RIGHT"]);
            g.word(s)
        }
    }
}

fn count_arg(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..10) {
        0..=6 => g.rng.gen_range(0..8).to_string().into_bytes(),
        7 => b(g.pick(&["-1", "-5", "9223372036854775807"])),
        8 => b(g.pick(&["100", "1000"])),
        _ => g.bad_number(),
    }
}

pub fn generate(g: &mut Gen) {
    let w = |g: &mut Gen, s: &str| g.word(s);
    let r = g.rng.gen_range(0..1000);
    let cmd: Cmd = match r {
        0..=149 => {
            let name = g.pick(&["LPUSH", "RPUSH"]);
            let mut c = vec![w(g, name), g.key()];
            for _ in 0..g.rng.gen_range(1..6) {
                c.push(elem(g));
            }
            c
        }
        150..=169 => {
            // A burst that makes a long list (several chunks) out of one key.
            let name = g.pick(&["LPUSH", "RPUSH"]);
            let mut c = vec![w(g, name), g.key()];
            let big = g.chance(0.3);
            for i in 0..g.rng.gen_range(20..200) {
                if big {
                    let n = g.rng.gen_range(50..400);
                    c.push(vec![b'a' + (i % 3) as u8; n]);
                } else {
                    c.push(elem(g));
                }
            }
            c
        }
        170..=199 => {
            let name = g.pick(&["LPUSHX", "RPUSHX"]);
            let mut c = vec![w(g, name), g.key()];
            for _ in 0..g.rng.gen_range(1..4) {
                c.push(elem(g));
            }
            c
        }
        200..=289 => {
            let name = g.pick(&["LPOP", "RPOP"]);
            let mut c = vec![w(g, name), g.key()];
            if g.chance(0.5) {
                c.push(count_arg(g));
            }
            if g.chance(0.03) {
                c.push(b("1"));
            }
            c
        }
        290..=319 => vec![w(g, "LLEN"), g.key()],
        320..=399 => vec![w(g, "LRANGE"), g.key(), index(g), index(g)],
        400..=449 => vec![w(g, "LINDEX"), g.key(), index(g)],
        450..=489 => vec![w(g, "LSET"), g.key(), index(g), elem(g)],
        490..=539 => {
            let wh = match g.rng.gen_range(0..10) {
                0 => b("middle"),
                _ => {
                    let s = g.pick(&["BEFORE", "AFTER"]);
                    g.word(s)
                }
            };
            vec![w(g, "LINSERT"), g.key(), wh, elem(g), elem(g)]
        }
        540..=589 => {
            let n = match g.rng.gen_range(0..6) {
                0 => g.bad_number(),
                _ => g.rng.gen_range(-3i64..4).to_string().into_bytes(),
            };
            vec![w(g, "LREM"), g.key(), n, elem(g)]
        }
        590..=639 => vec![w(g, "LTRIM"), g.key(), index(g), index(g)],
        640..=709 => {
            let mut c = vec![w(g, "LPOS"), g.key(), elem(g)];
            for _ in 0..g.rng.gen_range(0..4) {
                match g.rng.gen_range(0..10) {
                    0..=2 => {
                        c.push(w(g, "RANK"));
                        c.push(match g.rng.gen_range(0..8) {
                            0 => b("0"),
                            1 => g.bad_number(),
                            _ => g.rng.gen_range(-4i64..5).to_string().into_bytes(),
                        });
                    }
                    3..=5 => {
                        c.push(w(g, "COUNT"));
                        c.push(count_arg(g));
                    }
                    6..=8 => {
                        c.push(w(g, "MAXLEN"));
                        c.push(count_arg(g));
                    }
                    _ => c.push(b(g.pick(&["RANK", "bogus", "COUNT"]))),
                }
            }
            c
        }
        710..=799 => {
            let (src, dst) = (g.key(), if g.chance(0.25) { None } else { Some(g.key()) });
            let dst = dst.unwrap_or_else(|| src.clone());
            vec![w(g, "LMOVE"), src, dst, side(g), side(g)]
        }
        800..=839 => {
            let src = g.key();
            let dst = if g.chance(0.25) { src.clone() } else { g.key() };
            vec![w(g, "RPOPLPUSH"), src, dst]
        }
        840..=929 => {
            let n = g.rng.gen_range(1..4);
            let mut c = vec![w(g, "LMPOP")];
            match g.rng.gen_range(0..20) {
                0 => c.push(b(g.pick(&["0", "-1", "abc", ""]))),
                1 => c.push((n + 2).to_string().into_bytes()),
                _ => c.push(n.to_string().into_bytes()),
            }
            for _ in 0..n {
                c.push(g.key());
            }
            if g.chance(0.95) {
                c.push(side(g));
            }
            match g.rng.gen_range(0..10) {
                0..=4 => {}
                5..=7 => {
                    c.push(w(g, "COUNT"));
                    c.push(match g.rng.gen_range(0..6) {
                        0 => b(g.pick(&["0", "-1", "abc"])),
                        _ => count_arg(g),
                    });
                }
                8 => {
                    c.push(w(g, "COUNT"));
                    c.push(b("1"));
                    c.push(w(g, "COUNT"));
                    c.push(b("2"));
                }
                _ => c.push(w(g, "COUNT")),
            }
            c
        }
        930..=959 => {
            // Wrong arity.
            let name = g.pick(&[
                "LPUSH",
                "RPUSH",
                "LPUSHX",
                "LPOP",
                "LLEN",
                "LRANGE",
                "LINDEX",
                "LSET",
                "LINSERT",
                "LREM",
                "LTRIM",
                "LPOS",
                "LMOVE",
                "RPOPLPUSH",
                "LMPOP",
            ]);
            let mut c = vec![w(g, name)];
            for _ in 0..g.rng.gen_range(0..2) {
                c.push(g.key());
            }
            if name == "LLEN" && g.chance(0.5) {
                c.push(b("x"));
                c.push(b("y"));
            }
            c
        }
        960..=989 => vec![w(g, "TYPE"), g.key()],
        _ => vec![w(g, "DEL"), g.key()],
    };
    g.push(cmd);
}
