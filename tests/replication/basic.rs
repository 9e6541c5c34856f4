//! Setting up active-active pairs as a KeyDB user does (REPLICAOF at runtime, config files,
//! flags), INFO replication and ROLE as KeyDB reports them, databases, binary values,
//! joining nodes that merge, and collections.

use std::time::Duration;

use redis::Value;

use super::*;
use crate::common::cluster::*;
use crate::common::free_port;

/// Checks the KeyDB fields of an active replica's INFO replication whose only master is
/// `master` reached at `master_port`, and that it serves one replica listening on
/// `replica_port`.
fn check_active_info(node: &Node, master: &Node, master_port: u16, replica_port: u16) {
    let mut c = node.conn();
    let m = info_map(&mut c, "replication");
    let field = |k: &str| {
        m.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("{}: no {k} in INFO replication: {m:?}", node.name))
    };
    assert_eq!(field("role"), "active-replica");
    assert_eq!(field("master_global_link_status"), "up");
    assert_eq!(field("connected_masters"), "1");
    assert_eq!(field("master_host"), "127.0.0.1");
    assert_eq!(field("master_port"), master_port.to_string());
    assert_eq!(field("master_link_status"), "up");
    assert_eq!(field("master_sync_in_progress"), "0");
    assert_eq!(field("connected_slaves"), "1");
    let slave0 = parse_kv(&field("slave0"));
    assert_eq!(slave0["ip"], "127.0.0.1");
    assert_eq!(
        slave0["port"],
        replica_port.to_string(),
        "slave0: {slave0:?}"
    );
    assert_eq!(slave0["state"], "online");
    let replid = field("master_replid");
    assert!(
        replid.len() == 40 && replid.bytes().all(|b| b.is_ascii_hexdigit()),
        "master_replid {replid:?}"
    );
    field("master_repl_offset").parse::<u64>().unwrap();
    field("repl_backlog_size").parse::<u64>().unwrap();
    // Tandem's own: the link knows the master by its UUID.
    let master_uuid = info_field(&mut master.conn(), "replication", "tandem_node_uuid").unwrap();
    let link = parse_kv(&field("tandem_master0"));
    assert_eq!(link["state"], "connected");
    assert_eq!(link["uuid"], master_uuid);
    assert_eq!(link["port"], master_port.to_string());
    assert!(link["full_syncs"].parse::<u64>().unwrap() >= 1, "{link:?}");
    let me = field("tandem_node_uuid");
    assert_ne!(me, master_uuid, "two processes with one UUID");
    let replica0 = parse_kv(&field("tandem_replica0"));
    assert_eq!(replica0["state"], "online");
}

/// Writes on each side show on the other, in both directions, and the nodes converge.
fn check_both_ways(a: &Node, b: &Node) {
    let (mut ca, mut cb) = (a.conn(), b.conn());
    set(&mut ca, "from-a", "1");
    set(&mut cb, "from-b", "2");
    wait_get(b, 0, "from-a", Some("1"));
    wait_get(a, 0, "from-b", Some("2"));
    // Overwrites and deletes travel too.
    set(&mut cb, "from-a", "changed on b");
    let _: i64 = redis::cmd("DEL").arg("from-b").query(&mut ca).unwrap();
    wait_get(a, 0, "from-a", Some("changed on b"));
    wait_get(b, 0, "from-b", None);
    wait_converged(&[a, b], Duration::from_secs(20));
}

/// KeyDB's "Active Replica Setup" at runtime: both nodes `active-replica yes`, then
/// REPLICAOF on B, then on A. Each syncs the other's data, then writes flow both ways.
#[test]
fn active_active_via_replicaof_at_runtime() {
    let a = Node::start("runtime-A", ACTIVE);
    let b = Node::start("runtime-B", ACTIVE);
    set(&mut a.conn(), "before-a", "a");
    set(&mut b.conn(), "before-b", "b");
    replicaof(&b, "127.0.0.1", a.port);
    wait_link_up(&b, 1);
    wait_get(&b, 0, "before-a", Some("a"));
    replicaof(&a, "127.0.0.1", b.port);
    wait_link_up(&a, 1);
    wait_get(&a, 0, "before-b", Some("b"));
    check_active_info(&a, &b, b.port, b.port);
    check_active_info(&b, &a, a.port, a.port);
    check_both_ways(&a, &b);
    // A repeated REPLICAOF to the same master is KeyDB's "Already connected".
    let r: Value = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(a.port)
        .query(&mut b.conn())
        .unwrap();
    assert!(
        matches!(&r, Value::SimpleString(s) if s.starts_with("OK")),
        "{r:?}"
    );
    wait_link_up(&b, 1);
}

/// The setup from config files as in KeyDB's docs: `requirepass`, `masterauth`,
/// `active-replica yes`, `replicaof <host> <port>` naming each other.
#[test]
fn active_active_via_config_files() {
    let (pa, pb) = (free_port(), free_port());
    let conf = |peer: u16| {
        format!(
            "requirepass mypassword123\nmasterauth mypassword123\nactive-replica yes\nreplicaof 127.0.0.1 {peer}\n"
        )
    };
    let a = Node::start_at("conffile-A", pa, Some(&conf(pb)), &[]).with_password("mypassword123");
    let b = Node::start_at("conffile-B", pb, Some(&conf(pa)), &[]).with_password("mypassword123");
    wait_link_up(&a, 1);
    wait_link_up(&b, 1);
    // Without the password a client is refused, so the links did authenticate.
    let anon = redis::Client::open(format!("redis://127.0.0.1:{pa}/"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    let mut anon = anon;
    let e = redis::cmd("GET")
        .arg("x")
        .query::<Option<String>>(&mut anon)
        .unwrap_err();
    assert_eq!(e.code(), Some("NOAUTH"), "{e:?}");
    check_active_info(&a, &b, pb, pb);
    check_active_info(&b, &a, pa, pa);
    check_both_ways(&a, &b);
}

/// The same from flags: `tandem --active-replica yes --replicaof <ip> <port>`.
#[test]
fn active_active_via_flags() {
    let (pa, pb) = (free_port(), free_port());
    let (sa, sb) = (pa.to_string(), pb.to_string());
    let a = Node::start_at(
        "flags-A",
        pa,
        None,
        &["--active-replica", "yes", "--replicaof", "127.0.0.1", &sb],
    );
    let b = Node::start_at(
        "flags-B",
        pb,
        None,
        &["--active-replica", "yes", "--replicaof", "127.0.0.1", &sa],
    );
    wait_link_up(&a, 1);
    wait_link_up(&b, 1);
    check_active_info(&a, &b, pb, pb);
    check_active_info(&b, &a, pa, pa);
    check_both_ways(&a, &b);
}

/// ROLE as KeyDB answers it: `active-replica host port state offset` per master (an array
/// of those with several masters), `master offset [[ip port offset]…]` without masters,
/// `slave …` for a plain replica.
#[test]
fn role_output() {
    let a = Node::start("role-A", MULTI);
    let b = Node::start("role-B", MULTI);
    let c = Node::start("role-C", MULTI);
    let plain = Node::start("role-plain", &[]);
    let mut ca = a.conn();
    // A without masters: a master with no replicas yet.
    match redis::cmd("ROLE").query::<Value>(&mut ca).unwrap() {
        Value::Array(v) => {
            assert_eq!(v[0], Value::BulkString(b"master".to_vec()));
            assert!(matches!(v[1], Value::Int(_)));
            assert_eq!(v[2], Value::Array(vec![]));
        }
        other => panic!("ROLE on a master: {other:?}"),
    }
    replicaof(&b, "127.0.0.1", a.port);
    wait_link_up(&b, 1);
    match redis::cmd("ROLE").query::<Value>(&mut b.conn()).unwrap() {
        Value::Array(v) => {
            assert_eq!(v.len(), 5, "{v:?}");
            assert_eq!(v[0], Value::BulkString(b"active-replica".to_vec()));
            assert_eq!(v[1], Value::BulkString(b"127.0.0.1".to_vec()));
            assert_eq!(v[2], Value::Int(a.port as i64));
            assert_eq!(v[3], Value::BulkString(b"connected".to_vec()));
            assert!(matches!(v[4], Value::Int(o) if o >= 0), "{v:?}");
        }
        other => panic!("ROLE on an active replica: {other:?}"),
    }
    // A now lists B as its replica (by B's listening port).
    match redis::cmd("ROLE").query::<Value>(&mut ca).unwrap() {
        Value::Array(v) => {
            assert_eq!(v[0], Value::BulkString(b"master".to_vec()));
            let Value::Array(replicas) = &v[2] else {
                panic!("{v:?}")
            };
            assert_eq!(replicas.len(), 1);
            let Value::Array(r) = &replicas[0] else {
                panic!("{v:?}")
            };
            assert_eq!(r[0], Value::BulkString(b"127.0.0.1".to_vec()));
            assert_eq!(r[1], Value::BulkString(b.port.to_string().into_bytes()));
        }
        other => panic!("ROLE on a master with a replica: {other:?}"),
    }
    // C with two masters: one entry per master.
    replicaof(&c, "127.0.0.1", a.port);
    replicaof(&c, "127.0.0.1", b.port);
    wait_link_up(&c, 2);
    match redis::cmd("ROLE").query::<Value>(&mut c.conn()).unwrap() {
        Value::Array(v) => {
            assert_eq!(v.len(), 2, "{v:?}");
            let ports: Vec<Value> = v
                .iter()
                .map(|e| match e {
                    Value::Array(x) => {
                        assert_eq!(x[0], Value::BulkString(b"active-replica".to_vec()));
                        x[2].clone()
                    }
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(
                ports,
                vec![Value::Int(a.port as i64), Value::Int(b.port as i64)]
            );
        }
        other => panic!("ROLE with two masters: {other:?}"),
    }
    let m = info_map(&mut c.conn(), "replication");
    assert_eq!(m["connected_masters"], "2");
    assert_eq!(m["master_1_port"], b.port.to_string());
    assert_eq!(m["master_1_link_status"], "up");
    // A plain (not active) replica says "slave" and is read-only.
    replicaof(&plain, "127.0.0.1", a.port);
    wait_link_up(&plain, 1);
    let mut cp = plain.conn();
    match redis::cmd("ROLE").query::<Value>(&mut cp).unwrap() {
        Value::Array(v) => assert_eq!(v[0], Value::BulkString(b"slave".to_vec())),
        other => panic!("ROLE on a plain replica: {other:?}"),
    }
    assert_eq!(
        info_field(&mut cp, "replication", "role").as_deref(),
        Some("slave")
    );
    let e = redis::cmd("SET")
        .arg("x")
        .arg("1")
        .query::<()>(&mut cp)
        .unwrap_err();
    assert_eq!(e.code(), Some("READONLY"), "{e:?}");
}

/// Writes made in db 3 land in db 3 on the peer, on the live stream and in a full sync,
/// and nowhere else.
#[test]
fn writes_in_db3_land_in_db3() {
    let a = Node::start("db3-A", ACTIVE);
    let b = Node::start("db3-B", ACTIVE);
    let mut ca = a.conn();
    select(&mut ca, 3);
    set(&mut ca, "in-snapshot", "s");
    // Full sync.
    replicaof(&b, "127.0.0.1", a.port);
    wait_link_up(&b, 1);
    wait_get(&b, 3, "in-snapshot", Some("s"));
    // Live stream.
    set(&mut ca, "live", "l");
    let _: () = redis::cmd("SET")
        .arg("live-ttl")
        .arg("t")
        .arg("EX")
        .arg(1000)
        .query(&mut ca)
        .unwrap();
    wait_get(&b, 3, "live", Some("l"));
    wait_converged(&[&a, &b], Duration::from_secs(20));
    let mut cb = b.conn();
    for db in [0usize, 1, 2, 4, 15] {
        select(&mut cb, db);
        let n: i64 = redis::cmd("DBSIZE").query(&mut cb).unwrap();
        assert_eq!(n, 0, "db {db} on B");
    }
    select(&mut cb, 3);
    let n: i64 = redis::cmd("DBSIZE").query(&mut cb).unwrap();
    assert_eq!(n, 3);
    let ttl: i64 = redis::cmd("TTL").arg("live-ttl").query(&mut cb).unwrap();
    assert!((990..=1000).contains(&ttl), "TTL on B {ttl}");
    // A delete in db 3 stays in db 3: the same key in db 0 survives.
    select(&mut ca, 0);
    set(&mut ca, "live", "db0");
    select(&mut ca, 3);
    let _: i64 = redis::cmd("DEL").arg("live").query(&mut ca).unwrap();
    wait_get(&b, 3, "live", None);
    wait_get(&b, 0, "live", Some("db0"));
}

/// Binary-safe values and keys (every byte value, CRLF, empty, 1 MB) on the live stream and
/// in a full sync.
#[test]
fn binary_values_replicate() {
    let a = Node::start("binary-A", ACTIVE);
    let b = Node::start("binary-B", ACTIVE);
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let crlf = b"\r\n*3\r\n$3\r\nSET\r\n\0\xff".to_vec();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"all-bytes".to_vec(), all_bytes.clone()),
        (b"crlf".to_vec(), crlf.clone()),
        (b"empty".to_vec(), vec![]),
        (b"big".to_vec(), big.clone()),
        (b"key\0with\r\nbinary\xfe".to_vec(), b"v".to_vec()),
    ];
    let mut ca = a.conn();
    let write = |c: &mut redis::Connection, suffix: &[u8]| {
        for (k, v) in &cases {
            let mut key = k.clone();
            key.extend_from_slice(suffix);
            let _: () = redis::cmd("SET").arg(&key).arg(v).query(c).unwrap();
        }
    };
    write(&mut ca, b":snap");
    replicaof(&b, "127.0.0.1", a.port);
    wait_link_up(&b, 1);
    write(&mut ca, b":live");
    wait_converged(&[&a, &b], Duration::from_secs(20));
    let mut cb = b.conn();
    for suffix in [&b":snap"[..], b":live"] {
        for (k, v) in &cases {
            let mut key = k.clone();
            key.extend_from_slice(suffix);
            let got: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query(&mut cb).unwrap();
            assert_eq!(
                got.as_deref(),
                Some(&v[..]),
                "key {:?}",
                String::from_utf8_lossy(&key)
            );
        }
    }
}

/// Joining nodes merge rather than flush: two nodes with one distinct key each, linked
/// both ways, both end with both keys (and a key both had keeps the newer value).
#[test]
fn joining_nodes_merge() {
    let a = Node::start("join-A", ACTIVE);
    let b = Node::start("join-B", ACTIVE);
    let (mut ca, mut cb) = (a.conn(), b.conn());
    set(&mut ca, "only-a", "a");
    set(&mut cb, "only-b", "b");
    set(&mut ca, "both", "older");
    next_ms_after(now_ms());
    set(&mut cb, "both", "newer");
    replicaof(&b, "127.0.0.1", a.port);
    replicaof(&a, "127.0.0.1", b.port);
    wait_link_up(&a, 1);
    wait_link_up(&b, 1);
    wait_converged(&[&a, &b], Duration::from_secs(20));
    for c in [&mut ca, &mut cb] {
        assert_eq!(get(c, "only-a").as_deref(), Some("a"));
        assert_eq!(get(c, "only-b").as_deref(), Some("b"));
        assert_eq!(get(c, "both").as_deref(), Some("newer"));
    }
}

/// Lists, hashes, sets and sorted sets on the live stream and in a full sync (needs the
/// RDB codec for collections; fails until it is merged).
#[test]
fn collections_replicate_live_and_in_full_sync() {
    let a = Node::start("coll-A", ACTIVE);
    let b = Node::start("coll-B", ACTIVE);
    let mut ca = a.conn();
    let fill = |c: &mut redis::Connection, p: &str| {
        let _: () = redis::pipe()
            .cmd("RPUSH")
            .arg(format!("{p}:list"))
            .arg(&["x", "y", "z"])
            .ignore()
            .cmd("HSET")
            .arg(format!("{p}:hash"))
            .arg(&["f1", "v1", "f2", "v2"])
            .ignore()
            .cmd("SADD")
            .arg(format!("{p}:set"))
            .arg(&["m1", "m2", "3"])
            .ignore()
            .cmd("ZADD")
            .arg(format!("{p}:zset"))
            .arg(&["1.5", "one", "2", "two"])
            .ignore()
            .query(c)
            .unwrap();
    };
    fill(&mut ca, "snap");
    replicaof(&b, "127.0.0.1", a.port);
    wait_link_up(&b, 1);
    fill(&mut ca, "live");
    wait_converged(&[&a, &b], Duration::from_secs(20));
    let (da, db) = (dataset(&mut ca), dataset(&mut b.conn()));
    assert_eq!(da.len(), 8);
    assert_eq!(da, db);
}
