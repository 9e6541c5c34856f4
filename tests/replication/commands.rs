//! Every kind of string and keyspace write replicates, including the ones that touch several
//! keys on different shards (MSET, RENAME, DEL k1 k2 …, COPY, MOVE), TTL changes (PERSIST,
//! GETEX, KEEPTTL), SWAPDB and transactions.

use std::time::Duration;

use super::*;
use crate::common::cluster::*;

/// Runs `cmds` on A, waits for convergence, and checks B holds the same keys, values, TTL
/// presence and absolute expiry times in every db.
fn replicates(test: &str, cmds: &[&[&str]]) {
    let p = Pair::start(test, &[]);
    let mut ca = p.a.conn();
    for args in cmds {
        crate::common::run(&mut ca, args);
    }
    p.converged();
    let mut cb = p.b.conn();
    let (da, db) = (dataset(&mut ca), dataset(&mut cb));
    assert_eq!(da, db);
    for (dbn, key) in da.keys() {
        select(&mut ca, *dbn);
        select(&mut cb, *dbn);
        let ea: i64 = redis::cmd("PEXPIRETIME").arg(key).query(&mut ca).unwrap();
        let eb: i64 = redis::cmd("PEXPIRETIME").arg(key).query(&mut cb).unwrap();
        assert_eq!(
            ea,
            eb,
            "expiry of {:?} in db {dbn}",
            String::from_utf8_lossy(key)
        );
    }
}

#[test]
fn string_and_key_commands_replicate() {
    let at = (now_ms() + 3_600_000).to_string();
    replicates(
        "cmds-strings",
        &[
            &["SET", "s1", "value"],
            &["SETNX", "s2", "v"],
            &["SETEX", "s3", "1000", "v"],
            &["PSETEX", "s4", "1000000", "v"],
            &[
                "MSET", "m1", "a", "m2", "b", "m3", "c", "m4", "d", "m5", "e",
            ],
            &["MSETNX", "n1", "a", "n2", "b", "n3", "c"],
            &["APPEND", "s1", "-more"],
            &["SETRANGE", "s1", "2", "ZZ"],
            &["INCR", "c1"],
            &["INCRBY", "c1", "41"],
            &["DECRBY", "c1", "2"],
            &["INCRBYFLOAT", "f1", "1.25"],
            &["GETSET", "s2", "v2"],
            &["GETDEL", "m1"],
            &["GETEX", "s2", "EX", "500"],
            &["GETEX", "s3", "PERSIST"],
            &["SET", "s4", "new", "KEEPTTL"],
            &["EXPIRE", "m2", "100"],
            &["PEXPIREAT", "m3", &at],
            &["PERSIST", "m2"],
            &["RENAME", "m4", "renamed"],
            &["RENAMENX", "m5", "renamed-nx"],
            &["COPY", "s1", "s1-copy"],
            &["MOVE", "m3", "1"],
            &["DEL", "n1", "n2", "s4"],
            &["UNLINK", "n3"],
            &["SETBIT", "bits", "7", "1"],
            &["SETBIT", "bits", "100", "1"],
            &["BITOP", "OR", "bits-or", "bits", "s1"],
            &["PFADD", "hll", "a", "b", "c"],
        ],
    );
}

/// A transaction's writes all replicate (as separate records for now: MULTI/EXEC as a unit
/// on the receiver is not built yet).
#[test]
fn multi_exec_writes_replicate() {
    let p = Pair::start("cmds-multi", &[]);
    let mut ca = p.a.conn();
    let (v1, v2): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("t1")
        .arg("1")
        .ignore()
        .cmd("INCR")
        .arg("t1")
        .cmd("INCRBY")
        .arg("t2")
        .arg(5)
        .cmd("DEL")
        .arg("nothing")
        .ignore()
        .query(&mut ca)
        .unwrap();
    assert_eq!((v1, v2), (2, 5));
    p.converged();
    let mut cb = p.b.conn();
    assert_eq!(get(&mut cb, "t1").as_deref(), Some("2"));
    assert_eq!(get(&mut cb, "t2").as_deref(), Some("5"));
}

/// SWAPDB on one node swaps the databases on its peer too.
#[test]
fn swapdb_replicates() {
    let p = Pair::start("cmds-swapdb", &[]);
    let mut ca = p.a.conn();
    set(&mut ca, "in-db0", "x");
    select(&mut ca, 1);
    set(&mut ca, "in-db1", "y");
    select(&mut ca, 0);
    p.converged();
    let _: () = redis::cmd("SWAPDB").arg(0).arg(1).query(&mut ca).unwrap();
    assert_eq!(get(&mut ca, "in-db1").as_deref(), Some("y"));
    wait_get(&p.b, 0, "in-db1", Some("y"));
    wait_get(&p.b, 1, "in-db0", Some("x"));
    wait_converged(&[&p.a, &p.b], Duration::from_secs(20));
}
