//! Strings, keys and expiry: the generator of the first differential suite.

use super::harness::{b, Cmd, Cmp, Gen};
use rand::Rng;

pub fn generate(g: &mut Gen) {
    let w = |g: &mut Gen, s: &str| g.word(s);
    let r = g.rng.gen_range(0..1000);
    let cmd: Cmd = match r {
        0..=39 => vec![w(g, "GET"), g.key()],
        40..=109 => {
            let mut c = vec![w(g, "SET"), g.key(), g.value()];
            for _ in 0..g.rng.gen_range(0..=3) {
                match g.rng.gen_range(0..12) {
                    0 => c.push(w(g, "NX")),
                    1 => c.push(w(g, "XX")),
                    2 | 3 => c.push(w(g, "GET")),
                    4 => c.push(w(g, "KEEPTTL")),
                    5 => {
                        c.push(w(g, "EX"));
                        c.push(g.rel_time(1000));
                    }
                    6 => {
                        c.push(w(g, "PX"));
                        c.push(g.rel_time(1));
                    }
                    7 => {
                        c.push(w(g, "EXAT"));
                        c.push(g.abs_time(1000, false));
                    }
                    8 => {
                        c.push(w(g, "PXAT"));
                        c.push(g.abs_time(1, false));
                    }
                    9 => c.push(w(g, "EX")), // value missing unless more follows
                    10 => c.push(b(g.pick(&["FOO", "PERSIST", "1"]))),
                    _ => {}
                }
            }
            c
        }
        110..=129 => vec![w(g, "SETNX"), g.key(), g.value()],
        130..=144 => vec![w(g, "SETEX"), g.key(), g.rel_time(1000), g.value()],
        145..=154 => vec![w(g, "PSETEX"), g.key(), g.rel_time(1), g.value()],
        155..=169 => vec![w(g, "GETSET"), g.key(), g.value()],
        170..=184 => vec![w(g, "GETDEL"), g.key()],
        185..=209 => {
            let mut c = vec![w(g, "GETEX"), g.key()];
            for _ in 0..g.rng.gen_range(0..=2) {
                match g.rng.gen_range(0..7) {
                    0 => c.extend([w(g, "EX"), g.rel_time(1000)]),
                    1 => c.extend([w(g, "PX"), g.rel_time(1)]),
                    2 => c.extend([w(g, "EXAT"), g.abs_time(1000, true)]),
                    3 => c.extend([w(g, "PXAT"), g.abs_time(1, true)]),
                    4 => c.push(w(g, "PERSIST")),
                    5 => c.push(w(g, "EX")),
                    _ => c.push(b(g.pick(&["KEEPTTL", "NX", "bogus"]))),
                }
            }
            c
        }
        210..=239 => {
            let n = g.rng.gen_range(1..=6);
            let mut c = vec![w(g, "MGET")];
            c.extend(g.keys(n));
            c
        }
        240..=269 => {
            let name = g.pick(&["MSET", "MSET", "MSETNX"]);
            let mut c = vec![w(g, name)];
            for _ in 0..g.rng.gen_range(1..=4) {
                c.push(g.key());
                c.push(g.value());
            }
            if g.chance(0.1) {
                c.pop();
            }
            c
        }
        270..=299 => vec![w(g, "APPEND"), g.key(), g.short_value()],
        300..=314 => vec![w(g, "STRLEN"), g.key()],
        315..=339 => {
            let name = g.pick(&["GETRANGE", "GETRANGE", "SUBSTR"]);
            vec![w(g, name), g.key(), g.int_arg(), g.int_arg()]
        }
        340..=359 => {
            let off = match g.rng.gen_range(0..10) {
                0..=7 => g.rng.gen_range(0..60).to_string().into_bytes(),
                8 => b(g.pick(&["-1", "536870912", "1099511627776", "9223372036854775807"])),
                _ => g.bad_number(),
            };
            vec![w(g, "SETRANGE"), g.key(), off, g.short_value()]
        }
        360..=399 => {
            let name = g.pick(&["INCR", "DECR", "INCR"]);
            let key = g.key();
            let c = vec![w(g, name), key.clone()];
            if g.chance(0.2) {
                // From an integer: the result is an integer whatever the key held.
                let n = g.rng.gen_range(-20i64..20000).to_string().into_bytes();
                g.push(vec![b("SET"), key.clone(), n]);
                g.push(c);
                g.push(vec![b("OBJECT"), b("ENCODING"), key]);
                return;
            }
            c
        }
        400..=429 => {
            let name = g.pick(&["INCRBY", "DECRBY"]);
            vec![w(g, name), g.key(), g.int_arg()]
        }
        430..=454 => vec![w(g, "INCRBYFLOAT"), g.key(), g.float_arg()],
        455..=494 => {
            let name = g.pick(&["DEL", "UNLINK", "EXISTS", "TOUCH", "DEL", "EXISTS"]);
            let n = g.rng.gen_range(1..=5);
            let mut c = vec![w(g, name)];
            c.extend(g.keys(n));
            c
        }
        495..=509 => vec![w(g, "TYPE"), g.key()],
        510..=534 => {
            let name = g.pick(&["RENAME", "RENAMENX"]);
            vec![w(g, name), g.key(), g.key()]
        }
        535..=554 => {
            let mut c = vec![w(g, "COPY"), g.key(), g.key()];
            for _ in 0..g.rng.gen_range(0..=2) {
                match g.rng.gen_range(0..5) {
                    0 | 1 => c.extend([w(g, "DB"), g.db_arg()]),
                    2 | 3 => c.push(w(g, "REPLACE")),
                    _ => c.push(b(g.pick(&["DB", "NX", "bogus"]))),
                }
            }
            c
        }
        555..=569 => vec![w(g, "MOVE"), g.key(), g.db_arg()],
        570..=649 => {
            let (name, t) = match g.rng.gen_range(0..4) {
                0 => ("EXPIRE", g.rel_time(1000)),
                1 => ("PEXPIRE", g.rel_time(1)),
                2 => ("EXPIREAT", g.abs_time(1000, true)),
                _ => ("PEXPIREAT", g.abs_time(1, true)),
            };
            let mut c = vec![w(g, name), g.key(), t];
            for _ in 0..g.rng.gen_range(0..=2) {
                if g.chance(0.9) {
                    let o = g.pick(&["NX", "XX", "GT", "LT"]);
                    c.push(w(g, o));
                } else {
                    c.push(b(g.pick(&["bogus", "KEEPTTL", "1"])));
                }
            }
            c
        }
        650..=689 => {
            let name = g.pick(&["TTL", "PTTL"]);
            let c = vec![w(g, name), g.key()];
            g.push_cmp(c, Cmp::TtlClass);
            return;
        }
        690..=709 => {
            let (name, tol) = g.pick(&[("EXPIRETIME", 2), ("PEXPIRETIME", 2000)]);
            let c = vec![w(g, name), g.key()];
            g.push_cmp(c, Cmp::Near(tol));
            return;
        }
        710..=729 => vec![w(g, "PERSIST"), g.key()],
        730..=744 => vec![w(g, "DBSIZE")],
        745..=759 => vec![w(g, "SELECT"), g.db_arg()],
        760..=784 => {
            let mut c = vec![w(g, "LCS"), g.key(), g.key()];
            for _ in 0..g.rng.gen_range(0..=3) {
                match g.rng.gen_range(0..6) {
                    0 => c.push(w(g, "LEN")),
                    1 | 2 => c.push(w(g, "IDX")),
                    3 => c.push(w(g, "WITHMATCHLEN")),
                    4 => {
                        c.push(w(g, "MINMATCHLEN"));
                        let n = g.pick(&["0", "1", "2", "3", "-1", "abc"]);
                        c.push(b(n));
                    }
                    _ => c.push(b(g.pick(&["MINMATCHLEN", "bogus"]))),
                }
            }
            c
        }
        785..=814 => {
            // SET then OBJECT ENCODING: the encoding follows from the value alone.
            let key = g.key();
            let value = g.value();
            let set = vec![w(g, "SET"), key.clone(), value];
            g.push(set);
            let obj = w(g, "OBJECT");
            let enc = w(g, "ENCODING");
            g.push(vec![obj, enc, key]);
            return;
        }
        815..=829 => {
            let mut c = vec![w(g, "OBJECT")];
            match g.rng.gen_range(0..6) {
                0 => {}
                1 => c.push(w(g, "ENCODING")),
                2 => c.extend([w(g, "ENCODING"), g.key(), g.key()]),
                3 => c.extend([b("NOSUCHSUB"), g.key()]),
                4 => c.push(w(g, "HELP")),
                _ => c.extend([w(g, "ENCODING"), b("no-such-key")]),
            }
            c
        }
        830..=929 => return wrong_arity(g),
        _ => {
            let mut c = vec![b(g.pick(&["FOO", "GETT", "sett", "", "EXPIRES", "O BJECT"]))];
            for _ in 0..g.rng.gen_range(0..=3) {
                c.push(g.value());
            }
            c
        }
    };
    g.push(cmd);
}

/// A known command with a wrong number of arguments.
pub fn wrong_arity(g: &mut Gen) {
    // (name, arity as in the command table)
    const TABLE: &[(&str, i32)] = &[
        ("GET", 2),
        ("SET", -3),
        ("SETNX", 3),
        ("SETEX", 4),
        ("PSETEX", 4),
        ("GETSET", 3),
        ("GETDEL", 2),
        ("GETEX", -2),
        ("MGET", -2),
        ("MSET", -3),
        ("MSETNX", -3),
        ("APPEND", 3),
        ("STRLEN", 2),
        ("GETRANGE", 4),
        ("SUBSTR", 4),
        ("SETRANGE", 4),
        ("INCR", 2),
        ("DECR", 2),
        ("INCRBY", 3),
        ("DECRBY", 3),
        ("INCRBYFLOAT", 3),
        ("DEL", -2),
        ("UNLINK", -2),
        ("EXISTS", -2),
        ("TYPE", 2),
        ("RENAME", 3),
        ("RENAMENX", 3),
        ("COPY", -3),
        ("MOVE", 3),
        ("EXPIRE", -3),
        ("PEXPIRE", -3),
        ("EXPIREAT", -3),
        ("PEXPIREAT", -3),
        ("TTL", 2),
        ("PTTL", 2),
        ("EXPIRETIME", 2),
        ("PEXPIRETIME", 2),
        ("PERSIST", 2),
        ("TOUCH", -2),
        ("DBSIZE", 1),
        ("SELECT", 2),
        ("LCS", -3),
        ("OBJECT", -2),
    ];
    let (name, arity) = g.pick(TABLE);
    let argc = if arity > 0 {
        let mut n = g.rng.gen_range(1..=arity as usize + 2);
        if n == arity as usize {
            n += 1;
        }
        n
    } else {
        g.rng.gen_range(1..(-arity) as usize)
    };
    let mut c = vec![g.word(name)];
    for _ in 1..argc {
        let a = if g.chance(0.5) {
            g.key()
        } else {
            g.short_value()
        };
        c.push(a);
    }
    g.push(c);
}
