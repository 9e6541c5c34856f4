//! SORT and SORT_RO.
//!
//! BY and GET patterns name keys that can live on any shard, and STORE's destination may too,
//! so SORT runs at connection level: it takes the lock of every shard it may touch (just the
//! key's shard when there are no patterns and no STORE), reads the elements, fetches what the
//! patterns name from their shards, sorts, stores, and releases the locks — atomic, as in
//! Redis, and correct whichever keys the patterns reach.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::config::Opt;
use crate::protocol::{errors, parse_i64, Args};
use crate::server::conn::ConnState;
use crate::shard::Shard;
use crate::store::list::Fill;
use crate::store::{Collection, KeyspaceStats, List, Value};
use crate::util::{eq_ic, now_ms};

struct Options {
    by: Option<Vec<u8>>,
    /// A BY pattern without `*` (any of them, as Redis: the flag sticks) means no sorting.
    dontsort: bool,
    get: Vec<Vec<u8>>,
    limit: Option<(i64, i64)>,
    desc: bool,
    alpha: bool,
    store: Option<Vec<u8>>,
}

fn parse(args: &Args, readonly: bool) -> Result<Options, &'static str> {
    let mut o = Options {
        by: None,
        dontsort: false,
        get: vec![],
        limit: None,
        desc: false,
        alpha: false,
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let a = args.get(j);
        let left = args.len() - j - 1;
        if eq_ic(a, "asc") {
            o.desc = false;
        } else if eq_ic(a, "desc") {
            o.desc = true;
        } else if eq_ic(a, "alpha") {
            o.alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            let (Some(start), Some(count)) =
                (parse_i64(args.get(j + 1)), parse_i64(args.get(j + 2)))
            else {
                return Err(errors::NOT_INTEGER);
            };
            o.limit = Some((start, count));
            j += 2;
        } else if eq_ic(a, "store") && left >= 1 && !readonly {
            o.store = Some(args.get(j + 1).to_vec());
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            o.by = Some(args.get(j + 1).to_vec());
            o.dontsort |= !args.get(j + 1).contains(&b'*');
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            o.get.push(args.get(j + 1).to_vec());
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// The key (and hash field) a pattern names for one element; None for `#` or no `*`.
fn pattern_key(pattern: &[u8], elem: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let (rest, field) = match after.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(after[i + 2..].to_vec())),
        _ => (after, None),
    };
    let mut key = pattern[..star].to_vec();
    key.extend_from_slice(elem);
    key.extend_from_slice(rest);
    Some((key, field))
}

/// What a pattern lookup finds: a string's value, or a hash field's.
fn lookup(sh: &Shard, db: usize, key: &[u8], field: Option<&[u8]>) -> Option<Vec<u8>> {
    let mut data = sh.data.borrow_mut();
    let e = data.store.dbs[db].get(key, now_ms(), &mut KeyspaceStats::default())?;
    match (&e.value, field) {
        (Value::Str(s), None) => Some(s.to_vec()),
        (Value::Hash(h), Some(f)) => h.get(f).map(|v| v.to_vec()),
        _ => None,
    }
}

/// The elements of a list, set or sorted set, in its own order; Err for another type.
fn elements(v: &Value) -> Result<Vec<Vec<u8>>, ()> {
    match v {
        Value::List(l) => Ok(l.iter().map(|e| e.to_vec()).collect()),
        Value::Set(s) => Ok(s.iter().map(|e| e.to_vec()).collect()),
        Value::ZSet(z) => Ok(z.iter().map(|(m, _)| m.to_vec()).collect()),
        _ => Err(()),
    }
}

/// Redis's strtod check for SORT: the whole text is a number, not NaN, not out of range.
fn parse_score(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?.trim_start();
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    if v.is_infinite()
        && !s
            .trim_start_matches(['+', '-'])
            .to_ascii_lowercase()
            .starts_with("inf")
    {
        return None;
    }
    Some(v)
}

pub async fn run(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>, readonly: bool) {
    let o = match parse(&args, readonly) {
        Ok(o) => o,
        Err(e) => return st.reply(out).error(e),
    };
    let shard = st.shard.clone();
    let key = args.get(1).to_vec();
    let owner = shard.shard_of(&key);
    let db = st.db;
    let wide = o.by.is_some() || !o.get.is_empty() || o.store.is_some();
    let shards: Vec<usize> = if wide {
        (0..shard.nshards).collect()
    } else {
        vec![owner]
    };
    let (tx, owned) = match st.tx {
        Some(t) => (t, false),
        None => (shard.new_tx(), true),
    };
    if owned {
        for &s in &shards {
            shard.lock_and_run(s, tx, |_| ()).await;
        }
    }
    let k = key.clone();
    let found = shard
        .run_on(owner, Some(tx), move |sh| {
            let mut data = sh.data.borrow_mut();
            let d = &mut *data;
            let now = now_ms();
            match d.store.dbs[db].get(&k, now, &mut d.ks) {
                None => Ok((vec![], false)),
                Some(e) => elements(&e.value).map(|v| (v, matches!(e.value, Value::Set(_)))),
            }
        })
        .await;
    let result = match found {
        Err(()) => Err(errors::WRONGTYPE),
        Ok((elems, is_set)) => sort_and_fetch(st, &o, elems, is_set, tx, db).await,
    };
    match result {
        Err(e) => st.reply(out).error(e),
        Ok(values) => match &o.store {
            Some(dst) => {
                let n = values.len();
                let dst = dst.clone();
                let dst_owner = shard.shard_of(&dst);
                shard
                    .run_on(dst_owner, Some(tx), move |sh| {
                        sh.before_write(db, &dst);
                        let cfg = sh.config();
                        let mut data = sh.data.borrow_mut();
                        let d = &mut *data;
                        let mut ks = crate::commands::Keyspace::new(
                            &mut d.store.dbs[db],
                            now_ms(),
                            &mut d.ks,
                            &mut d.clock,
                            &mut d.dirty,
                            &cfg,
                        );
                        let fill = Fill::new(cfg.int(Opt::ListMaxListpackSize));
                        let list = List::from_iter(
                            values.iter().map(|v| v.as_deref().unwrap_or(b"")),
                            fill,
                        );
                        ks.store(&dst, list.wrap());
                    })
                    .await;
                st.reply(out).int(n as i64);
            }
            None => {
                let mut r = st.reply(out);
                r.array(values.len());
                for v in values {
                    match v {
                        Some(v) => r.bulk(&v),
                        None => r.null(),
                    }
                }
            }
        },
    }
    if owned {
        shard.unlock_all(shards.iter().copied(), tx).await;
    }
}

/// Looks up a pattern for every element, on whichever shards the keys live.
async fn fetch_pattern(
    st: &ConnState,
    pattern: &[u8],
    elems: &[Vec<u8>],
    tx: u64,
    db: usize,
) -> Vec<Option<Vec<u8>>> {
    let shard = &st.shard;
    let mut out: Vec<Option<Vec<u8>>> = vec![None; elems.len()];
    // Per shard: (element index, key, hash field) to look up.
    type Lookups = Vec<(usize, Vec<u8>, Option<Vec<u8>>)>;
    let mut by_shard: BTreeMap<usize, Lookups> = BTreeMap::new();
    for (i, e) in elems.iter().enumerate() {
        if pattern == b"#" {
            out[i] = Some(e.clone());
            continue;
        }
        if let Some((k, f)) = pattern_key(pattern, e) {
            by_shard
                .entry(shard.shard_of(&k))
                .or_default()
                .push((i, k, f));
        }
    }
    for (s, asks) in by_shard {
        let got = shard
            .run_on(s, Some(tx), move |sh| {
                asks.into_iter()
                    .map(|(i, k, f)| (i, lookup(sh, db, &k, f.as_deref())))
                    .collect::<Vec<_>>()
            })
            .await;
        for (i, v) in got {
            out[i] = v;
        }
    }
    out
}

async fn sort_and_fetch(
    st: &ConnState,
    o: &Options,
    elems: Vec<Vec<u8>>,
    is_set: bool,
    tx: u64,
    db: usize,
) -> Result<Vec<Option<Vec<u8>>>, &'static str> {
    let n = elems.len();
    // BY without '*' means "do not sort" (Redis); a set is still sorted when storing, so the
    // stored list is deterministic.
    let dontsort = o.dontsort;
    let mut order: Vec<usize> = (0..n).collect();
    if !dontsort || (is_set && o.store.is_some()) {
        let by_vals: Option<Vec<Option<Vec<u8>>>> = match &o.by {
            Some(p) if !dontsort => Some(fetch_pattern(st, p, &elems, tx, db).await),
            _ => None,
        };
        let alpha = o.alpha || dontsort;
        let mut scores = vec![0f64; n];
        if !alpha {
            for i in 0..n {
                let v = match &by_vals {
                    Some(b) => b[i].as_deref(),
                    None => Some(elems[i].as_slice()),
                };
                if let Some(v) = v {
                    scores[i] = parse_score(v)
                        .ok_or("ERR One or more scores can't be converted into double")?;
                }
            }
        }
        order.sort_by(|&a, &b| {
            let cmp = if !alpha {
                scores[a]
                    .partial_cmp(&scores[b])
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| elems[a].cmp(&elems[b]))
            } else if let Some(bv) = &by_vals {
                match (&bv[a], &bv[b]) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                }
                .then_with(|| elems[a].cmp(&elems[b]))
            } else {
                elems[a].cmp(&elems[b])
            };
            if o.desc && !dontsort {
                cmp.reverse()
            } else {
                cmp
            }
        });
    }
    // Unsorted lists and sorted sets keep their own order, read from the end for DESC.
    if dontsort && o.desc && !is_set {
        order.reverse();
    }
    // LIMIT, as Redis clamps it.
    let (mut start, mut end) = (0i64, n as i64 - 1);
    if let Some((s, c)) = o.limit {
        start = s.max(0);
        end = if c < 0 { n as i64 - 1 } else { start + c - 1 };
        if start >= n as i64 {
            start = n as i64 - 1;
            end = n as i64 - 2;
        }
        if end >= n as i64 {
            end = n as i64 - 1;
        }
    }
    let picked: Vec<Vec<u8>> = if start > end || n == 0 {
        vec![]
    } else {
        order[start as usize..=end as usize]
            .iter()
            .map(|&i| elems[i].clone())
            .collect()
    };
    if o.get.is_empty() {
        return Ok(picked.into_iter().map(Some).collect());
    }
    let mut columns = vec![];
    for p in &o.get {
        columns.push(fetch_pattern(st, p, &picked, tx, db).await);
    }
    let mut out = Vec::with_capacity(picked.len() * columns.len());
    for i in 0..picked.len() {
        for c in &columns {
            out.push(c[i].clone());
        }
    }
    Ok(out)
}
