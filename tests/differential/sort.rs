//! SORT and SORT_RO over lists and sets, with BY and GET patterns (string keys and hash
//! fields, some missing), LIMIT, ASC/DESC, ALPHA and STORE, plus the errors.

use rand::Rng;

use super::harness::{b, Cmd, Cmp, Gen};

const LISTS: &[&str] = &["sortl0", "sortl1"];
const SETS: &[&str] = &["sorts0", "sorts1"];
const ITEMS: &[&str] = &[
    "1", "2", "3", "10", "-4", "2.5", "07", "x", "apple", "b", "1e2",
];

/// Setup writes: elements, weights (strings and hash fields) and objects for GET.
fn setup(g: &mut Gen) {
    match g.rng.gen_range(0..5) {
        0 => {
            let mut c = vec![b("RPUSH"), b(g.pick(LISTS))];
            for _ in 0..g.rng.gen_range(1..6) {
                c.push(b(g.pick(ITEMS)));
            }
            g.push(c);
        }
        1 => {
            let mut c = vec![b("SADD"), b(g.pick(SETS))];
            for _ in 0..g.rng.gen_range(1..6) {
                c.push(b(g.pick(ITEMS)));
            }
            g.push(c);
        }
        2 => {
            let item = g.pick(ITEMS);
            let w = g.rng.gen_range(-5..20).to_string();
            g.push(vec![b("SET"), b(&format!("w_{item}")), b(&w)]);
        }
        3 => {
            let item = g.pick(ITEMS);
            let w = g.pick(&["3", "1", "zz", "aa", "5.5"]);
            g.push(vec![b("HSET"), b(&format!("h_{item}")), b("f"), b(w)]);
        }
        _ => {
            let item = g.pick(ITEMS);
            g.push(vec![
                b("SET"),
                b(&format!("o_{item}")),
                b(&format!("obj-{item}")),
            ]);
        }
    }
}

pub fn generate(g: &mut Gen) {
    if g.chance(0.4) {
        return setup(g);
    }
    let ro = g.chance(0.3);
    let on_set = g.chance(0.4);
    let key = if on_set { g.pick(SETS) } else { g.pick(LISTS) };
    let mut c: Cmd = vec![g.word(if ro { "SORT_RO" } else { "SORT" }), b(key)];
    let mut nosort = false;
    let mut by_pattern = false;
    let mut store = false;
    let mut limit = false;
    for _ in 0..g.rng.gen_range(0..4) {
        match g.rng.gen_range(0..9) {
            0 => c.push(g.word("ALPHA")),
            1 => {
                let w = if g.chance(0.5) { "ASC" } else { "DESC" };
                c.push(g.word(w));
            }
            2 => {
                c.push(g.word("LIMIT"));
                let (o, n) = (g.rng.gen_range(-1..5), g.rng.gen_range(-1..5));
                c.push(b(&o.to_string()));
                c.push(b(&n.to_string()));
                limit = true;
            }
            3 => {
                c.push(g.word("BY"));
                let p = g.pick(&["w_*", "h_*->f", "nosort", "missing_*"]);
                nosort |= !p.contains('*');
                by_pattern |= p.contains('*');
                c.push(b(p));
            }
            4 | 5 => {
                c.push(g.word("GET"));
                c.push(b(g.pick(&["#", "o_*", "h_*->f", "w_*", "nostar"])));
            }
            6 if !ro => {
                c.push(g.word("STORE"));
                c.push(b("sortdst"));
                store = true;
            }
            7 => c.push(b(g.pick(&["LIMIT", "BY", "GET", "BOGUS"]))),
            _ => c.push(b(g.pick(&["STORE", "sortdst"]))),
        }
    }
    // What BY means is decided by the argument after it, whichever option put it there.
    for w in c[2..].windows(2) {
        if w[0].eq_ignore_ascii_case(b"BY") {
            nosort |= !w[1].contains(&b'*');
            by_pattern |= w[1].contains(&b'*');
        }
        limit |= w[0].eq_ignore_ascii_case(b"LIMIT");
        store |= w[0].eq_ignore_ascii_case(b"STORE");
    }
    // Without sorting a set comes back in its hash table's order, and elements whose BY
    // weights tie come back in the order of Redis's unstable quicksort: compare those as
    // sets of elements, and skip LIMIT (which could cut ties differently).
    let any_order = (on_set && nosort) || by_pattern;
    if any_order && (limit || store) {
        return; // (a stored list in another order would differ for good)
    }
    if any_order && !store {
        g.push_cmp(c, Cmp::Unordered);
    } else {
        g.push(c);
    }
    if store && g.chance(0.5) {
        let lrange = vec![b("LRANGE"), b("sortdst"), b("0"), b("-1")];
        if any_order {
            g.push_cmp(lrange, Cmp::Unordered);
        } else {
            g.push(lrange);
        }
    }
}
