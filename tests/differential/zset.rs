//! The sorted set command generator.
//!
//! Replies that Redis makes random or order-dependent on its hash tables are compared loosely
//! or avoided:
//! - ZRANDMEMBER with a count is compared by length (SameLength), except with a count
//!   covering any set (1000), where Redis returns the whole set in order.
//! - ZSCAN of a skiplist-encoded set walks a hash table in Redis: scans here MATCH one exact
//!   member with a COUNT covering any set, so the reply is the same whatever the order.
//! - Lex ranges over members of different scores walk Redis's skiplist levels, which are
//!   random: the lex commands with a valid range use their own keys (`LEX_KEYS`), whose
//!   members all have score 0, as Redis documents the lex commands. Random keys only get
//!   lex commands with invalid ranges (errors come before the lookup).

use super::harness::{b, Cmd, Cmp, Gen};
use rand::Rng;

/// Keys for the lex commands: every member has score 0. Two share a hash tag with `{t}N`.
const LEX_KEYS: [&str; 4] = ["zlex0", "zlex1", "{t}lex0", "{t}lex1"];

const MEMBERS: [&str; 16] = [
    "a", "b", "c", "d", "e", "f", "g", "aa", "ab", "ba", "1", "2", "10", "-1", "", "m\x00n",
];

fn member(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..40) {
        0 => {
            // Long enough to need the skiplist encoding (over 64 bytes), or just under.
            let n = g.pick(&[64usize, 65, 80]);
            let c = g.pick(b"xy");
            vec![c; n]
        }
        1 => g.rng.gen_range(0..1000).to_string().into_bytes(),
        _ => b(g.pick(&MEMBERS)),
    }
}

fn score(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..30) {
        0..=11 => g.rng.gen_range(-5i64..10).to_string().into_bytes(),
        12..=17 => {
            format!("{}.{}", g.rng.gen_range(-5i64..5), g.rng.gen_range(0..100)).into_bytes()
        }
        18..=26 => b(g.pick(&[
            "0.1",
            "-0",
            "0",
            "+5",
            "1e3",
            "1E-2",
            "inf",
            "-inf",
            "+inf",
            "0x10",
            "1e20",
            "0.30000000000000004",
            "123456789012345678",
            "3.0",
            "1.7976931348623157e308",
            "4.9e-324",
            ".5",
            "5.",
        ])),
        _ => b(g.pick(&[
            "nan", "abc", "", " 1", "1 ", "1e400", "1e-400", "(1", "inf1", "--1",
        ])),
    }
}

/// A score range bound: mostly valid (inclusive or exclusive), sometimes not.
fn bound(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..20) {
        0..=7 => g.rng.gen_range(-5i64..10).to_string().into_bytes(),
        8..=11 => format!("({}", g.rng.gen_range(-5i64..10)).into_bytes(),
        12..=15 => b(g.pick(&["-inf", "+inf", "inf", "(-inf", "(+inf", "(inf"])),
        16 => b(g.pick(&["1.5", "(2.5", "-0", "(0", " 3", "0x3"])),
        _ => b(g.pick(&["abc", "((1", "1x", "nan", "(nan", "", "("])),
    }
}

fn lex_bound(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..20) {
        0..=5 => {
            let mut v = vec![g.pick(b"[(")];
            v.extend(member(g));
            v
        }
        6..=9 => b(g.pick(&["-", "+"])),
        10..=13 => {
            let mut v = vec![g.pick(b"[(")];
            v.push(g.rng.gen_range(b'a'..=b'h'));
            v
        }
        _ => b(g.pick(&["a", "", "+a", "-a", "1", "[", "(", "*"])),
    }
}

fn int_small(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..20) {
        0..=15 => g.rng.gen_range(-8i64..12).to_string().into_bytes(),
        16 => b(g.pick(&["9223372036854775807", "-9223372036854775808", "1000"])),
        _ => g.bad_number(),
    }
}

fn zkey(g: &mut Gen) -> Vec<u8> {
    g.key()
}

fn lex_key(g: &mut Gen) -> Vec<u8> {
    b(g.pick(&LEX_KEYS))
}

/// Options of ZRANGE/ZRANGESTORE (and some invalid ones).
fn range_opts(g: &mut Gen, c: &mut Cmd, store: bool, by: &str) {
    if !by.is_empty() && g.chance(0.9) {
        c.push(g.word(by));
    }
    for _ in 0..g.rng.gen_range(0..=2) {
        match g.rng.gen_range(0..10) {
            0..=2 => c.push(g.word("REV")),
            3..=4 if !store => c.push(g.word("WITHSCORES")),
            5..=7 => {
                c.push(g.word("LIMIT"));
                c.push(int_small(g));
                if g.chance(0.9) {
                    c.push(int_small(g));
                }
            }
            8 => c.push(b(g.pick(&["BYSCORE", "BYLEX", "foo"]))),
            _ => {}
        }
    }
}

fn keys_numkeys(g: &mut Gen, c: &mut Cmd, lex: bool) -> usize {
    let n = g.rng.gen_range(1..=3);
    match g.rng.gen_range(0..20) {
        0 => c.push(b(g.pick(&["0", "-1", "abc", "4"]))),
        _ => c.push(n.to_string().into_bytes()),
    }
    for _ in 0..n {
        let k = if lex && g.chance(0.5) {
            lex_key(g)
        } else {
            zkey(g)
        };
        c.push(k);
    }
    n
}

pub fn generate(g: &mut Gen) {
    let w = |g: &mut Gen, s: &str| g.word(s);
    let r = g.rng.gen_range(0..1000);
    match r {
        // ZADD with options.
        0..=219 => {
            let mut c = vec![w(g, "ZADD"), zkey(g)];
            if g.chance(0.35) {
                for _ in 0..g.rng.gen_range(1..=2) {
                    let o = g.pick(&["NX", "XX", "GT", "LT", "CH", "INCR", "CH", "GT"]);
                    c.push(w(g, o));
                }
            }
            let n = if g.chance(0.03) {
                // Enough members to pass zset-max-listpack-entries (128).
                g.rng.gen_range(120..140)
            } else {
                g.rng.gen_range(1..=4)
            };
            for i in 0..n {
                if n > 20 {
                    c.push(g.rng.gen_range(-50i64..50).to_string().into_bytes());
                    c.push(format!("n{i}").into_bytes());
                } else {
                    c.push(score(g));
                    c.push(member(g));
                }
            }
            if g.chance(0.03) {
                c.pop();
            }
            g.push(c);
        }
        220..=269 => {
            let c = vec![w(g, "ZINCRBY"), zkey(g), score(g), member(g)];
            g.push(c);
        }
        270..=319 => {
            let mut c = vec![w(g, "ZREM"), zkey(g)];
            for _ in 0..g.rng.gen_range(1..=3) {
                c.push(member(g));
            }
            g.push(c);
        }
        320..=339 => {
            let c = vec![w(g, "ZCARD"), zkey(g)];
            g.push(c)
        }
        340..=379 => {
            let c = vec![w(g, "ZSCORE"), zkey(g), member(g)];
            g.push(c)
        }
        380..=394 => {
            let mut c = vec![w(g, "ZMSCORE"), zkey(g)];
            for _ in 0..g.rng.gen_range(1..=3) {
                c.push(member(g));
            }
            g.push(c);
        }
        395..=424 => {
            let name = g.pick(&["ZRANK", "ZREVRANK"]);
            {
                let c = vec![w(g, name), zkey(g), member(g)];
                g.push(c)
            };
        }
        425..=444 => {
            let c = vec![w(g, "ZCOUNT"), zkey(g), bound(g), bound(g)];
            g.push(c)
        }
        // ZRANGE by rank and by score, and the older forms.
        445..=519 => {
            let by = g.pick(&["", "", "BYSCORE"]);
            let (lo, hi) = if by.is_empty() {
                (int_small(g), int_small(g))
            } else {
                (bound(g), bound(g))
            };
            let mut c = vec![w(g, "ZRANGE"), zkey(g), lo, hi];
            range_opts(g, &mut c, false, by);
            g.push(c);
        }
        520..=539 => {
            let mut c = vec![w(g, "ZREVRANGE"), zkey(g), int_small(g), int_small(g)];
            if g.chance(0.5) {
                c.push(w(g, "WITHSCORES"));
            }
            if g.chance(0.05) {
                c.push(b(g.pick(&["LIMIT", "REV", "x"])));
            }
            g.push(c);
        }
        540..=574 => {
            let name = g.pick(&["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]);
            let mut c = vec![w(g, name), zkey(g), bound(g), bound(g)];
            if g.chance(0.5) {
                c.push(w(g, "WITHSCORES"));
            }
            if g.chance(0.4) {
                c.extend([w(g, "LIMIT"), int_small(g), int_small(g)]);
            }
            if g.chance(0.04) {
                c.push(b(g.pick(&["REV", "BYSCORE", "LIMIT"])));
            }
            g.push(c);
        }
        // The lex family, on the lex keys (valid ranges) or random keys (invalid ones).
        575..=644 => {
            let key = if g.chance(0.9) { lex_key(g) } else { zkey(g) };
            let lex_only = !LEX_KEYS.iter().any(|k| k.as_bytes() == key.as_slice());
            let (lo, hi) = if lex_only {
                (b(g.pick(&["a", "", "+a", "1"])), b("+"))
            } else {
                (lex_bound(g), lex_bound(g))
            };
            let c = match g.rng.gen_range(0..14) {
                0..=2 => {
                    let mut c = vec![w(g, "ZADD"), key.clone()];
                    for _ in 0..g.rng.gen_range(1..=4) {
                        c.push(b("0"));
                        c.push(member(g));
                    }
                    if g.chance(0.02) {
                        for i in 0..130 {
                            c.push(b("0"));
                            c.push(format!("lex{i}").into_bytes());
                        }
                    }
                    c
                }
                3 => vec![w(g, "ZLEXCOUNT"), key, lo, hi],
                4..=6 => {
                    let name = g.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX"]);
                    let mut c = vec![w(g, name), key, lo, hi];
                    if g.chance(0.4) {
                        c.extend([w(g, "LIMIT"), int_small(g), int_small(g)]);
                    }
                    if g.chance(0.05) {
                        c.push(b(g.pick(&["WITHSCORES", "REV"])));
                    }
                    c
                }
                7..=8 => {
                    let mut c = vec![w(g, "ZRANGE"), key, lo, hi];
                    range_opts(g, &mut c, false, "BYLEX");
                    c
                }
                9 => vec![w(g, "ZREMRANGEBYLEX"), key, lo, hi],
                10 => {
                    // Into another lex key (still all score 0) or a random key.
                    let dst = if lex_only || g.chance(0.3) {
                        zkey(g)
                    } else {
                        lex_key(g)
                    };
                    let mut c = vec![w(g, "ZRANGESTORE"), dst, key, lo, hi];
                    range_opts(g, &mut c, true, "BYLEX");
                    c
                }
                11 => vec![w(g, "ZREM"), key, member(g)],
                12 => vec![w(g, "ZPOPMIN"), key],
                _ => vec![w(g, "ZRANGE"), key, b("0"), b("-1"), w(g, "WITHSCORES")],
            };
            g.push(c);
        }
        645..=679 => {
            let name = g.pick(&["ZREMRANGEBYRANK", "ZREMRANGEBYSCORE"]);
            let (lo, hi) = if name == "ZREMRANGEBYRANK" {
                (int_small(g), int_small(g))
            } else {
                (bound(g), bound(g))
            };
            {
                let c = vec![w(g, name), zkey(g), lo, hi];
                g.push(c)
            };
        }
        680..=729 => {
            let name = g.pick(&["ZPOPMIN", "ZPOPMAX"]);
            let mut c = vec![w(g, name), zkey(g)];
            if g.chance(0.6) {
                c.push(int_small(g));
            }
            if g.chance(0.03) {
                c.push(b("1"));
            }
            g.push(c);
        }
        730..=759 => {
            let mut c = vec![w(g, "ZMPOP")];
            keys_numkeys(g, &mut c, false);
            if g.chance(0.95) {
                let wh = g.pick(&["MIN", "MAX", "MAX", "MIN", "left"]);
                c.push(w(g, wh));
            }
            if g.chance(0.5) {
                c.push(w(g, "COUNT"));
                if g.chance(0.95) {
                    c.push(int_small(g));
                }
            }
            g.push(c);
        }
        // Set operations, read-only and storing.
        760..=869 => {
            let (name, store) = g.pick(&[
                ("ZUNION", false),
                ("ZINTER", false),
                ("ZDIFF", false),
                ("ZUNIONSTORE", true),
                ("ZINTERSTORE", true),
                ("ZDIFFSTORE", true),
                ("ZINTERCARD", false),
            ]);
            let mut c = vec![w(g, name)];
            if store {
                c.push(zkey(g));
            }
            let n = keys_numkeys(g, &mut c, name == "ZUNIONSTORE");
            for _ in 0..g.rng.gen_range(0..=2) {
                match g.rng.gen_range(0..9) {
                    0..=2 => {
                        c.push(w(g, "WEIGHTS"));
                        for _ in 0..n {
                            c.push(if g.chance(0.8) {
                                g.rng.gen_range(-3i64..4).to_string().into_bytes()
                            } else {
                                g.float_arg()
                            });
                        }
                    }
                    3..=4 => {
                        c.push(w(g, "AGGREGATE"));
                        let a = g.pick(&["SUM", "MIN", "MAX", "avg"]);
                        c.push(w(g, a));
                    }
                    5..=6 => c.push(w(g, "WITHSCORES")),
                    7 => {
                        c.push(w(g, "LIMIT"));
                        c.push(int_small(g));
                    }
                    _ => c.push(b(g.pick(&["WEIGHTS", "AGGREGATE", "x"]))),
                }
            }
            g.push(c);
        }
        870..=909 => {
            // ZRANGESTORE by rank or score into any key.
            let by = g.pick(&["", "BYSCORE"]);
            let (lo, hi) = if by.is_empty() {
                (int_small(g), int_small(g))
            } else {
                (bound(g), bound(g))
            };
            let mut c = vec![w(g, "ZRANGESTORE"), zkey(g), zkey(g), lo, hi];
            range_opts(g, &mut c, true, by);
            if g.chance(0.03) {
                c.push(w(g, "WITHSCORES"));
            }
            g.push(c);
        }
        910..=944 => {
            let mut c = vec![w(g, "ZRANDMEMBER"), zkey(g)];
            let cmp = match g.rng.gen_range(0..10) {
                0..=2 => {
                    c.push(b("1000"));
                    Cmp::Exact
                }
                3..=7 => {
                    c.push(g.rng.gen_range(-6i64..7).to_string().into_bytes());
                    Cmp::SameLength
                }
                _ => {
                    c.push(b(g.pick(&[
                        "abc",
                        "-9223372036854775808",
                        "4611686018427387904",
                        "0",
                    ])));
                    Cmp::SameLength
                }
            };
            if g.chance(0.5) {
                c.push(w(g, "WITHSCORES"));
            } else if g.chance(0.1) {
                // Out of range with WITHSCORES; without, Redis would try to reply that many.
                c[2] = b("-4611686018427387904");
                c.push(w(g, "WITHSCORES"));
            }
            if g.chance(0.05) {
                c.push(b("x"));
            }
            g.push_cmp(c, cmp);
        }
        945..=979 => {
            let mut c = vec![w(g, "ZSCAN"), zkey(g)];
            c.push(b(g.pick(&["0", "0", "0", "", "abc", " 0"])));
            let m = member(g);
            if !m.iter().any(|c| b"*?[\\".contains(c)) {
                c.extend([w(g, "MATCH"), m]);
            }
            c.extend([w(g, "COUNT"), b("1000")]);
            if g.chance(0.05) {
                c.push(b(g.pick(&["COUNT", "TYPE", "x"])));
            }
            if g.chance(0.05) {
                c.extend([w(g, "COUNT"), b(g.pick(&["0", "-1", "abc"]))]);
            }
            g.push(c);
        }
        // Encodings and wrong arity.
        // (Random keys may be strings, whose encodings Tandem need not copy.)
        980..=989 => {
            let c = vec![w(g, "OBJECT"), w(g, "ENCODING"), lex_key(g)];
            g.push(c)
        }
        _ => {
            let name = g.pick(&[
                "ZADD",
                "ZINCRBY",
                "ZREM",
                "ZCARD",
                "ZSCORE",
                "ZRANGE",
                "ZRANGESTORE",
                "ZPOPMIN",
                "ZMPOP",
                "ZUNION",
                "ZUNIONSTORE",
                "ZRANDMEMBER",
                "ZSCAN",
                "ZCOUNT",
                "ZRANK",
            ]);
            let mut c = vec![w(g, name)];
            // (ZRANDMEMBER with one key is a valid call, with a random reply.)
            let most = if name == "ZRANDMEMBER" { 0 } else { 2 };
            for _ in 0..g.rng.gen_range(0..=most) {
                c.push(zkey(g));
            }
            g.push(c);
        }
    }
}
