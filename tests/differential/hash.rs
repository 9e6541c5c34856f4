//! The hash command generator.
//!
//! Replies whose order is the hash table's (HGETALL, HKEYS, HVALS, HRANDFIELD with a count
//! covering the hash) are compared in any order, random picks by length only. HSCAN on an
//! arbitrary key is compared exactly only where the reply cannot depend on the table's order:
//! a COUNT covering the hash (so the whole hash comes back with cursor 0) and a MATCH
//! naming one field. Some extra keys (`SMALL`) only ever get a few short fields, so they stay
//! listpacks, whose order is insertion order in Redis as in Tandem: on them HGETALL, HKEYS,
//! HVALS and full HSCANs are compared exactly.

use super::harness::{b, Cmd, Cmp, Gen};
use rand::Rng;

/// Keys that stay small (no other generator touches them): ordered replies are exact there.
const SMALL: [&[u8]; 3] = [b"hsmall:a", b"{t}hsmall", b"{u}hsmall"];

const LONG_FIELD: &str =
    "a-field-name-that-is-longer-than-sixty-four-bytes-so-no-listpack-holds-it";

fn field(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..40) {
        0 => Vec::new(),
        1 => b("1"),
        2 => b("-5"),
        3 => b"bin\x00\xff".to_vec(),
        4 => b(LONG_FIELD),
        5 => b("m7"),
        _ => format!("f{}", g.rng.gen_range(0..8)).into_bytes(),
    }
}

fn small_field(g: &mut Gen) -> Vec<u8> {
    format!("s{}", g.rng.gen_range(0..10)).into_bytes()
}

fn hval(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..10) {
        0..=4 => g.short_value(),
        5..=6 => g.rng.gen_range(-100i64..100).to_string().into_bytes(),
        7 => g.float_arg(),
        _ => g.value(),
    }
}

/// A hash key: mostly the shared key space (so other types meet hashes), sometimes a
/// small-only key.
fn hkey(g: &mut Gen) -> Vec<u8> {
    if g.chance(0.15) {
        g.pick(&SMALL).to_vec()
    } else {
        g.key()
    }
}

pub fn generate(g: &mut Gen) {
    let w = |g: &mut Gen, s: &str| g.word(s);
    let r = g.rng.gen_range(0..1000);
    let (cmd, cmp): (Cmd, Cmp) = match r {
        0..=149 => {
            let name = g.pick(&["HSET", "HSET", "HMSET"]);
            let mut c = vec![w(g, name), g.key()];
            for _ in 0..g.rng.gen_range(1..=4) {
                c.push(field(g));
                c.push(hval(g));
            }
            if g.chance(0.05) {
                c.pop();
            }
            (c, Cmp::Exact)
        }
        150..=159 => {
            // Many fields at once: crosses hash-max-listpack-entries (512) now and then.
            let n = g.rng.gen_range(50..700);
            let mut c = vec![w(g, "HSET"), g.key()];
            for i in 0..n {
                c.push(format!("m{}", i).into_bytes());
                c.push(g.short_value());
            }
            (c, Cmp::Exact)
        }
        160..=239 => {
            // The small-only keys: a few short fields.
            let k = g.pick(&SMALL).to_vec();
            match g.rng.gen_range(0..6) {
                0..=2 => {
                    let mut c = vec![w(g, "HSET"), k];
                    for _ in 0..g.rng.gen_range(1..=3) {
                        c.push(small_field(g));
                        c.push(g.short_value());
                    }
                    (c, Cmp::Exact)
                }
                3 => (vec![w(g, "HDEL"), k, small_field(g)], Cmp::Exact),
                4 => (
                    vec![
                        w(g, "HINCRBY"),
                        k,
                        small_field(g),
                        g.rng.gen_range(-1000..1000i64).to_string().into_bytes(),
                    ],
                    Cmp::Exact,
                ),
                _ => (
                    vec![w(g, "HSETNX"), k, small_field(g), g.short_value()],
                    Cmp::Exact,
                ),
            }
        }
        240..=289 => {
            // Ordered replies on the small-only keys, compared exactly.
            let k = g.pick(&SMALL).to_vec();
            let c = match g.rng.gen_range(0..6) {
                0 => vec![w(g, "HGETALL"), k],
                1 => vec![w(g, "HKEYS"), k],
                2 => vec![w(g, "HVALS"), k],
                3 => vec![w(g, "HRANDFIELD"), k, b("100"), w(g, "WITHVALUES")],
                _ => {
                    let mut c = vec![w(g, "HSCAN"), k, b("0")];
                    if g.chance(0.5) {
                        c.push(w(g, "MATCH"));
                        c.push(b(g.pick(&["s1*", "*", "s[0-4]", "s?", "x*", "S1"])));
                    }
                    if g.chance(0.5) {
                        c.push(w(g, "COUNT"));
                        c.push(b(g.pick(&["1", "2", "10"])));
                    }
                    c
                }
            };
            (c, Cmp::Exact)
        }
        290..=329 => (vec![w(g, "HSETNX"), g.key(), field(g), hval(g)], Cmp::Exact),
        330..=409 => (vec![w(g, "HGET"), hkey(g), field(g)], Cmp::Exact),
        410..=449 => {
            let mut c = vec![w(g, "HMGET"), hkey(g)];
            for _ in 0..g.rng.gen_range(1..=4) {
                c.push(field(g));
            }
            (c, Cmp::Exact)
        }
        450..=479 => (vec![w(g, "HGETALL"), hkey(g)], Cmp::UnorderedPairs),
        480..=499 => (vec![w(g, "HKEYS"), hkey(g)], Cmp::Unordered),
        500..=519 => (vec![w(g, "HVALS"), hkey(g)], Cmp::Unordered),
        520..=579 => {
            let mut c = vec![w(g, "HDEL"), hkey(g)];
            for _ in 0..g.rng.gen_range(1..=3) {
                c.push(field(g));
            }
            (c, Cmp::Exact)
        }
        580..=599 => (vec![w(g, "HEXISTS"), hkey(g), field(g)], Cmp::Exact),
        600..=619 => (vec![w(g, "HLEN"), hkey(g)], Cmp::Exact),
        620..=639 => (vec![w(g, "HSTRLEN"), hkey(g), field(g)], Cmp::Exact),
        640..=699 => (
            vec![w(g, "HINCRBY"), g.key(), field(g), g.int_arg()],
            Cmp::Exact,
        ),
        700..=759 => (
            vec![w(g, "HINCRBYFLOAT"), g.key(), field(g), g.float_arg()],
            Cmp::Exact,
        ),
        760..=819 => {
            let k = hkey(g);
            match g.rng.gen_range(0..8) {
                // A count covering the hash: the whole hash, in the table's order.
                0 => (vec![w(g, "HRANDFIELD"), k, b("1000")], Cmp::Unordered),
                1 => (
                    vec![w(g, "HRANDFIELD"), k, b("1000"), w(g, "WITHVALUES")],
                    Cmp::UnorderedPairs,
                ),
                // Random picks (with repeats when negative): the length only.
                2 | 3 => {
                    let n = g.rng.gen_range(-6i64..=6).to_string().into_bytes();
                    let mut c = vec![w(g, "HRANDFIELD"), k, n];
                    if g.chance(0.5) {
                        c.push(w(g, "WITHVALUES"));
                    }
                    (c, Cmp::SameLength)
                }
                // Errors and edge cases.
                _ => {
                    let n = b(g.pick(&[
                        "abc",
                        "-9223372036854775808",
                        "9223372036854775807",
                        "-9223372036854775807",
                        "4611686018427387904",
                        "-4611686018427387904",
                        "0",
                        "-0",
                        "1.5",
                    ]));
                    // A huge negative count without WITHVALUES would ask for billions of
                    // picks: those always get an option (and so an error).
                    let huge_negative = n.len() > 15 && n[0] == b'-';
                    let mut c = vec![w(g, "HRANDFIELD"), k, n];
                    match g.rng.gen_range(0..if huge_negative { 3 } else { 4 }) {
                        0 => c.push(w(g, "WITHVALUES")),
                        1 => c.push(b(g.pick(&["WITHVALUE", "x"]))),
                        2 => {
                            c.push(w(g, "WITHVALUES"));
                            c.push(b("extra"));
                        }
                        _ => {}
                    }
                    // Only errors and empty replies are exact here; anything else is a
                    // pick of a huge count, which the errors above keep from happening.
                    (c, Cmp::SameLength)
                }
            }
        }
        820..=879 => {
            let k = hkey(g);
            let mut c = vec![w(g, "HSCAN"), k];
            match g.rng.gen_range(0..10) {
                0 => c.push(b(g.pick(&[
                    "abc",
                    " 1",
                    "1 ",
                    "0x1",
                    "+",
                    "18446744073709551616",
                ]))),
                1 => c.push(b(g.pick(&["", "+0", "-0"]))),
                _ => c.push(b("0")),
            }
            // Whole-hash COUNT and a MATCH naming one field (or none): order cannot matter.
            let count = b(g.pick(&["1000", "1000", "1000", "0", "-1", "x"]));
            let pat = match g.rng.gen_range(0..3) {
                0 => field(g),
                1 => b("no-such-field*"),
                _ => b("f3"),
            };
            let mut opts = vec![(w(g, "MATCH"), pat), (w(g, "COUNT"), count)];
            if g.chance(0.5) {
                opts.reverse();
            }
            for (o, v) in opts {
                c.push(o);
                c.push(v);
            }
            match g.rng.gen_range(0..12) {
                0 => {
                    c.push(w(g, "COUNT"));
                }
                1 => {
                    c.push(w(g, "TYPE"));
                    c.push(b("hash"));
                }
                2 => {
                    c.push(w(g, "NOVALUES"));
                }
                _ => {}
            }
            (c, Cmp::Exact)
        }
        880..=889 => {
            // The encoding limits, changed at run time (conversion happens on the next write);
            // never so low that the small-only keys (up to 10 fields, values up to 7 bytes)
            // would convert.
            let (opt, v) = if g.chance(0.5) {
                (
                    g.pick(&["hash-max-listpack-entries", "hash-max-ziplist-entries"]),
                    g.pick(&["10", "11", "128", "512", "512", "512"]),
                )
            } else {
                (
                    g.pick(&["hash-max-listpack-value", "hash-max-ziplist-value"]),
                    g.pick(&["7", "8", "16", "64", "64", "64"]),
                )
            };
            (vec![w(g, "CONFIG"), b("SET"), b(opt), b(v)], Cmp::Exact)
        }
        890..=909 => (vec![w(g, "OBJECT"), b("ENCODING"), hkey(g)], Cmp::Exact),
        910..=929 => (vec![w(g, "TYPE"), hkey(g)], Cmp::Exact),
        _ => {
            // Wrong arity.
            let c = match g.rng.gen_range(0..14) {
                0 => vec![w(g, "HSET"), g.key(), field(g)],
                1 => vec![w(g, "HSET"), g.key(), field(g), hval(g), field(g)],
                2 => vec![w(g, "HMSET"), g.key(), field(g), hval(g), field(g)],
                3 => vec![w(g, "HGET"), g.key()],
                4 => vec![w(g, "HMGET"), g.key()],
                5 => vec![w(g, "HSETNX"), g.key(), field(g)],
                6 => vec![w(g, "HDEL"), g.key()],
                7 => vec![w(g, "HLEN"), g.key(), field(g)],
                8 => vec![w(g, "HINCRBY"), g.key(), field(g)],
                9 => vec![w(g, "HINCRBYFLOAT"), g.key(), field(g), b("1"), b("2")],
                10 => vec![w(g, "HRANDFIELD")],
                11 => vec![w(g, "HSCAN"), g.key()],
                12 => vec![w(g, "HGETALL"), g.key(), field(g)],
                _ => vec![w(g, "HSTRLEN"), g.key()],
            };
            (c, Cmp::Exact)
        }
    };
    g.push_cmp(cmd, cmp);
}
