//! The RDB codec against files written by a stock redis-server 7: every encoding Redis
//! writes (listpack, quicklist, intset, hash table, skiplist, LZF strings, integers, expiry)
//! reads back as the data Redis holds.

mod common;

use tandem::rdb::load::{read_all, Item, Loaded, Reader};

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn reads_every_encoding_redis_writes() {
    let redis = common::RedisServer::start(&[]);
    let mut c = redis.conn();
    let mut q = |args: &[&str]| {
        common::command(args).exec(&mut c).unwrap();
    };
    q(&["SET", "int", "12345"]);
    q(&["SET", "long", &"abc".repeat(100)]);
    q(&["SET", "ttl", "v", "PX", "100000000"]);
    q(&["RPUSH", "smalllist", "a", "1", "-70000"]);
    let big: Vec<String> = (0..2000).map(|i| format!("element-{i}")).collect();
    let mut rpush = vec!["RPUSH", "biglist"];
    rpush.extend(big.iter().map(|s| s.as_str()));
    q(&rpush);
    q(&["SADD", "intset", "3", "1", "2"]);
    q(&["SADD", "strset", "x", "y"]);
    q(&["HSET", "smallhash", "f", "v", "n", "7"]);
    let mut hset = vec!["HSET".to_string(), "bighash".to_string()];
    for i in 0..600 {
        hset.push(format!("f{i}"));
        hset.push(format!("v{i}"));
    }
    q(&hset.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    q(&["ZADD", "smallzset", "1.5", "a", "-inf", "b"]);
    let mut zadd = vec!["ZADD".to_string(), "bigzset".to_string()];
    for i in 0..200 {
        zadd.push(format!("{}", i as f64 / 4.0));
        zadd.push(format!("m{i}"));
    }
    q(&zadd.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    q(&["SELECT", "5"]);
    q(&["SET", "in5", "x"]);
    q(&["SAVE"]);
    let file = std::fs::read(redis.dir.join("dump.rdb")).unwrap();
    drop(redis);

    let (meta, recs) = read_all(&file).expect("a Redis file parses");
    // Stepping over every value (as a shard does with keys it does not own) ends where
    // reading them does.
    let mut r = Reader::new(&file).unwrap();
    let mut skipped = 0;
    loop {
        match r.next_item().unwrap() {
            Item::End => break,
            Item::Aux(..) => {}
            Item::Key(h) => {
                r.skip(h.kind).unwrap();
                skipped += 1;
            }
        }
    }
    r.finish(true).unwrap();
    assert_eq!(skipped, recs.len());
    assert_eq!(meta.version, 10);
    let get = |k: &str| {
        recs.iter()
            .find(|r| r.key == k.as_bytes())
            .unwrap_or_else(|| panic!("{k} missing"))
    };
    assert_eq!(get("int").value, Loaded::Str(b"12345".to_vec()));
    assert_eq!(
        get("long").value,
        Loaded::Str("abc".repeat(100).into_bytes())
    );
    assert!(get("ttl").expire_at > 0);
    assert_eq!(
        get("smalllist").value,
        Loaded::List(vec![b"a".to_vec(), b"1".to_vec(), b"-70000".to_vec()])
    );
    assert_eq!(
        get("biglist").value,
        Loaded::List(big.iter().map(|s| s.as_bytes().to_vec()).collect())
    );
    let Loaded::Set(mut s) = get("intset").value.clone() else {
        panic!()
    };
    s.sort();
    assert_eq!(s, vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
    let Loaded::Set(mut s) = get("strset").value.clone() else {
        panic!()
    };
    s.sort();
    assert_eq!(s, vec![b"x".to_vec(), b"y".to_vec()]);
    assert_eq!(
        get("smallhash").value,
        Loaded::Hash(vec![
            (b"f".to_vec(), b"v".to_vec()),
            (b"n".to_vec(), b"7".to_vec())
        ])
    );
    let Loaded::Hash(h) = get("bighash").value.clone() else {
        panic!()
    };
    assert_eq!(h.len(), 600);
    assert!(h.contains(&(b"f599".to_vec(), b"v599".to_vec())));
    assert_eq!(
        get("smallzset").value,
        Loaded::ZSet(vec![
            (b"b".to_vec(), f64::NEG_INFINITY),
            (b"a".to_vec(), 1.5)
        ])
    );
    let Loaded::ZSet(z) = get("bigzset").value.clone() else {
        panic!()
    };
    assert_eq!(z.len(), 200);
    assert!(z.contains(&(b"m199".to_vec(), 49.75)));
    assert_eq!(get("in5").db, 5);
}
