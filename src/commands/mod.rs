//! The command table and the command families.
//!
//! [`COMMANDS`] declares every command once: name, arity, flags, key positions and how it runs.
//! Routing, COMMAND INFO/DOCS/GETKEYS, arity checks and statistics all read this table.
//!
//! How a command runs ([`Kind`]):
//! - `Keyed`: on the shard that owns its keys, through [`Ctx`]. All keys of one call must then
//!   live on one shard (a single key, or keys with a common hash tag).
//!   When the keys of a call live on several shards, the connection's shard coordinates it
//!   atomically (see `shard::coord`): `Split` commands are cut into per-shard parts, the others
//!   gather their keys onto one shard.
//! - `Conn`: on the connection's own shard, with the connection's state (server, connection
//!   and whole-keyspace commands), see `server::conn`.

pub mod bitmap;
pub mod blocking;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod list;
pub mod server;
pub mod set;
pub mod sort;
pub mod strings;
pub mod zset;

use std::sync::OnceLock;

use crate::config::Config;
use crate::protocol::{Args, Reply};
use crate::store::{Collection, Db, Entry, Hlc, KeyspaceStats, Value};

/// Command flags, as COMMAND INFO names them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const FAST: u32 = 1 << 10;
    pub const NO_AUTH: u32 = 1 << 11;
    pub const MAY_REPLICATE: u32 = 1 << 12;
    pub const NO_MULTI: u32 = 1 << 13;
    pub const ALLOW_BUSY: u32 = 1 << 14;
    /// Tandem's own (not shown by COMMAND INFO): a single-key write whose result depends
    /// only on the key's value and the arguments, so replication may send the command itself
    /// instead of the key's new value (see `replication::record::OP`).
    pub const REPLAYABLE: u32 = 1 << 15;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

use flags::*;

/// What a keyed command gets to work with: the shard's data, the client's db, a reply buffer.
pub struct Ctx<'a> {
    pub dbs: &'a mut [Db],
    pub db: usize,
    pub now_ms: u64,
    pub ks: &'a mut KeyspaceStats,
    pub clock: &'a mut Hlc,
    pub dirty: &'a mut u64,
    pub config: &'a Config,
    pub out: Reply<'a>,
}

impl<'a> Ctx<'a> {
    /// Every write calls this once per key it changes: it counts the change and returns the
    /// write's stamp (DESIGN §5). This is the one place replication will hook into.
    #[inline]
    pub fn stamp(&mut self) -> u64 {
        *self.dirty += 1;
        self.clock.next(self.now_ms)
    }

    #[inline]
    pub fn db(&mut self) -> &mut Db {
        &mut self.dbs[self.db]
    }

    /// Splits the context into typed access to the keyspace and the reply buffer, so a
    /// command can hold a value and write its reply at the same time.
    #[inline]
    pub fn split(&mut self) -> (Keyspace<'_>, &mut Reply<'a>) {
        (
            Keyspace {
                db: &mut self.dbs[self.db],
                now_ms: self.now_ms,
                ks: &mut *self.ks,
                clock: &mut *self.clock,
                dirty: &mut *self.dirty,
                config: self.config,
            },
            &mut self.out,
        )
    }
}

/// The key holds a value of another type than the command works on (reply
/// [`errors::WRONGTYPE`](crate::protocol::errors::WRONGTYPE)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// Typed access to the client's database, for the collection commands.
///
/// Reads count keyspace hits and misses as Redis's lookupKeyRead does; writes do not. A write
/// goes through a [`Written`] guard, which stamps the key when the value was changed and
/// removes the key when its collection was left empty, as Redis does.
pub struct Keyspace<'c> {
    pub db: &'c mut Db,
    pub now_ms: u64,
    pub ks: &'c mut KeyspaceStats,
    clock: &'c mut Hlc,
    dirty: &'c mut u64,
    pub config: &'c Config,
}

impl<'c> Keyspace<'c> {
    /// Typed access to one database of a shard's data (for code outside a command's [`Ctx`]).
    pub fn new(
        db: &'c mut Db,
        now_ms: u64,
        ks: &'c mut KeyspaceStats,
        clock: &'c mut Hlc,
        dirty: &'c mut u64,
        config: &'c Config,
    ) -> Self {
        Keyspace {
            db,
            now_ms,
            ks,
            clock,
            dirty,
            config,
        }
    }

    /// The value at `key` for reading, counting a hit or a miss.
    pub fn read<T: Collection>(&mut self, key: &[u8]) -> Result<Option<&T>, WrongType> {
        match self.db.get(key, self.now_ms, self.ks) {
            None => {
                self.ks.keyspace_misses += 1;
                Ok(None)
            }
            Some(e) => {
                self.ks.keyspace_hits += 1;
                T::of(&e.value).map(Some).ok_or(WrongType)
            }
        }
    }

    /// The value at `key` for writing, if the key exists.
    pub fn write<T: Collection>(
        &mut self,
        key: &[u8],
    ) -> Result<Option<Written<'_, 'c, T>>, WrongType> {
        let Some(idx) = self.db.find(key, self.now_ms, self.ks) else {
            return Ok(None);
        };
        if T::of(&self.db.at(idx).value).is_none() {
            return Err(WrongType);
        }
        Ok(Some(Written::new(self, idx)))
    }

    /// The value at `key` for writing, created empty when the key does not exist. (A key
    /// still empty when the guard drops is removed again, so a failed command leaves nothing.)
    pub fn write_or_create<T: Collection>(
        &mut self,
        key: &[u8],
    ) -> Result<Written<'_, 'c, T>, WrongType> {
        let idx = match self.db.find(key, self.now_ms, self.ks) {
            Some(idx) if T::of(&self.db.at(idx).value).is_none() => return Err(WrongType),
            Some(idx) => idx,
            None => {
                self.db.insert(key, Entry::new(T::default().wrap(), 0));
                self.db
                    .find(key, self.now_ms, self.ks)
                    .expect("just inserted")
            }
        };
        Ok(Written::new(self, idx))
    }

    /// Stores `value` at `key`, replacing whatever was there (the *STORE commands); an empty
    /// collection deletes the key instead. Returns whether a key was written.
    pub fn store(&mut self, key: &[u8], value: Value) -> bool {
        let empty = match &value {
            Value::Str(_) => false,
            v => v.is_empty_collection(),
        };
        let stamp = self.stamp();
        if empty {
            self.db.remove(key);
            false
        } else {
            self.db.insert(key, Entry::new(value, stamp));
            true
        }
    }

    /// Deletes `key`; returns whether it existed.
    pub fn delete(&mut self, key: &[u8]) -> bool {
        if self.db.get(key, self.now_ms, self.ks).is_none() {
            return false;
        }
        self.stamp();
        self.db.remove(key);
        true
    }

    /// See [`Ctx::stamp`].
    pub fn stamp(&mut self) -> u64 {
        *self.dirty += 1;
        self.clock.next(self.now_ms)
    }
}

/// A collection opened for writing. Dereferencing it mutably counts as changing the value:
/// when the guard drops, a changed key gets a new stamp (DESIGN §5), and a key whose
/// collection is empty is removed.
pub struct Written<'k, 'c, T: Collection> {
    ks: &'k mut Keyspace<'c>,
    /// The key's position in the table, stable while the guard holds the keyspace.
    idx: usize,
    changed: bool,
    _type: std::marker::PhantomData<T>,
}

impl<'k, 'c, T: Collection> Written<'k, 'c, T> {
    fn new(ks: &'k mut Keyspace<'c>, idx: usize) -> Self {
        Written {
            ks,
            idx,
            changed: false,
            _type: std::marker::PhantomData,
        }
    }

    fn entry(&self) -> &Entry {
        self.ks.db.at(self.idx)
    }

    fn entry_mut(&mut self) -> &mut Entry {
        self.ks.db.at_mut(self.idx)
    }

    /// The key's expiry (absolute ms, 0 for none).
    pub fn expire_at(&self) -> u64 {
        self.entry().expire_at()
    }

    /// The shard's configuration (encoding thresholds).
    pub fn config(&self) -> &'c Config {
        self.ks.config
    }
}

impl<T: Collection> std::ops::Deref for Written<'_, '_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        T::of(&self.entry().value).expect("the type was checked at lookup")
    }
}

impl<T: Collection> std::ops::DerefMut for Written<'_, '_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.changed = true;
        T::of_mut(&mut self.entry_mut().value).expect("the type was checked at lookup")
    }
}

impl<T: Collection> Drop for Written<'_, '_, T> {
    fn drop(&mut self) {
        let empty = T::of(&self.entry().value).is_none_or(|c| c.is_empty());
        if self.changed {
            let stamp = self.ks.stamp();
            self.entry_mut().stamp = stamp;
        }
        if empty {
            self.ks.db.remove_at(self.idx);
        }
    }
}

/// Indexes `start..=end` after Redis's rule for LRANGE, ZRANGE and the like: negative counts
/// from the end, the start is clamped at 0 and the end at the last element. None if empty.
pub fn index_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

pub type ShardFn = fn(&mut Ctx, Args);

/// How a multi-key command whose keys live on several shards is split into per-shard parts
/// and its replies merged (see `shard::coord`). Keyed commands without a split run there by
/// gathering their keys onto one shard under the shards' locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// DEL, UNLINK, EXISTS, TOUCH: each shard gets its keys; integer replies add up.
    SumKeys,
    Mget,
    Mset,
    Msetnx,
}

/// Commands that run with the connection's state; dispatched in `server::conn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnCmd {
    Ping,
    Echo,
    Hello,
    Auth,
    Select,
    Swapdb,
    Quit,
    Reset,
    Client,
    Command,
    Info,
    Config,
    Dbsize,
    Flushdb,
    Flushall,
    Time,
    Shutdown,
    Monitor,
    Latency,
    Debug,
    Keys,
    Scan,
    Randomkey,
    Lastsave,
    Memory,
    Slowlog,
    Save,
    Bgsave,
    Bgrewriteaof,
    Role,
    Replicaof,
    Replconf,
    Psync,
    Sync,
    Wait,
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    Subscribe,
    Psubscribe,
    Ssubscribe,
    Unsubscribe,
    Punsubscribe,
    Sunsubscribe,
    Publish,
    Spublish,
    Pubsub,
    Sort,
    SortRo,
}

#[derive(Clone, Copy)]
pub enum Kind {
    Keyed(ShardFn),
    Split(ShardFn, Split),
    Conn(ConnCmd),
}

pub struct CommandDef {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub kind: Kind,
    pub group: &'static str,
    pub summary: &'static str,
    pub subcommands: &'static [(&'static str, i32)],
    /// Position of a `numkeys` argument counting the keys that follow it (ZUNIONSTORE,
    /// LMPOP, ...); 0 when the command has none.
    pub numkeys: i32,
}

impl CommandDef {
    /// Positions of the key arguments in a call: the fixed range first..=last (step apart),
    /// then, for commands with a `numkeys` argument, the keys it counts.
    pub fn key_positions(&self, args: &Args) -> impl Iterator<Item = usize> {
        let argc = args.len();
        let (first, step) = (self.first_key, self.step.max(1));
        let last = if self.last_key < 0 {
            argc as i32 + self.last_key
        } else {
            self.last_key.min(argc as i32 - 1)
        };
        // A command without keys has first_key 0: an empty range.
        let last = if first <= 0 { first - 1 } else { last };
        let fixed = (first..=last).step_by(step as usize).map(|i| i as usize);
        // A bad count is the command's to report; routing takes the keys that are there.
        let counted = match self.numkeys {
            0 => 0..0,
            at => {
                let at = at as usize;
                let n = (at < argc)
                    .then(|| crate::protocol::parse_i64(args.get(at)))
                    .flatten()
                    .filter(|&n| n > 0)
                    .unwrap_or(0) as usize;
                at + 1..(at + 1 + n).min(argc)
            }
        };
        fixed.chain(counted)
    }

    pub fn is_write(&self) -> bool {
        self.flags & WRITE != 0
    }

    /// Checks Redis's arity rule: exact when positive, a minimum when negative.
    pub fn arity_ok(&self, argc: usize) -> bool {
        arity_ok(self.arity, argc)
    }

    /// For a container command (CLIENT, CONFIG, OBJECT...): checks the subcommand exists and
    /// has the right number of arguments, with Redis's error texts.
    /// Returns the subcommand's name.
    pub fn check_subcommand(&self, args: &Args) -> Result<Option<&'static str>, Vec<u8>> {
        if self.subcommands.is_empty() || args.len() < 2 {
            return Ok(None);
        }
        let sub = args.get(1);
        match self
            .subcommands
            .iter()
            .find(|(n, _)| sub.eq_ignore_ascii_case(n.as_bytes()))
        {
            None => Err(unknown_subcommand_error(sub, self.name).into_bytes()),
            Some((n, a)) if !arity_ok(*a, args.len()) => {
                Err(arity_error(&format!("{}|{}", self.name, n)).into_bytes())
            }
            Some((n, _)) => Ok(Some(n)),
        }
    }
}

fn arity_ok(arity: i32, argc: usize) -> bool {
    (arity > 0 && argc == arity as usize) || (arity < 0 && argc >= (-arity) as usize)
}

const fn c(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    kind: Kind,
    group: &'static str,
    summary: &'static str,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        kind,
        group,
        summary,
        subcommands: &[],
        numkeys: 0,
    }
}

const fn with_subs(mut d: CommandDef, subs: &'static [(&'static str, i32)]) -> CommandDef {
    d.subcommands = subs;
    d
}

/// A command whose argument at `at` counts the keys that follow it.
const fn with_numkeys(mut d: CommandDef, at: i32) -> CommandDef {
    d.numkeys = at;
    d
}

const NOKEYS: (i32, i32, i32) = (0, 0, 0);
const KEY1: (i32, i32, i32) = (1, 1, 1);
const ALLKEYS: (i32, i32, i32) = (1, -1, 1);

use blocking as b;
use keys as k;
use strings as s;
use ConnCmd as C;
use Kind::{Conn, Keyed, Split as Sp};

pub static COMMANDS: &[CommandDef] = &[
    // Strings.
    c("get", 2, READONLY | FAST, KEY1, Keyed(s::get), "string", "Returns the string value of a key."),
    c("set", -3, WRITE | DENYOOM, KEY1, Keyed(s::set), "string", "Sets the string value of a key, ignoring its type."),
    c("setnx", 3, WRITE | DENYOOM | FAST, KEY1, Keyed(s::setnx), "string", "Set the string value of a key only when the key doesn't exist."),
    c("setex", 4, WRITE | DENYOOM, KEY1, Keyed(s::setex), "string", "Sets the string value and expiration time of a key."),
    c("psetex", 4, WRITE | DENYOOM, KEY1, Keyed(s::psetex), "string", "Sets both string value and expiration time in milliseconds of a key."),
    c("getset", 3, WRITE | DENYOOM | FAST, KEY1, Keyed(s::getset), "string", "Returns the previous string value of a key after setting it to a new value."),
    c("getdel", 2, WRITE | FAST, KEY1, Keyed(s::getdel), "string", "Returns the string value of a key after deleting the key."),
    c("getex", -2, WRITE | FAST, KEY1, Keyed(s::getex), "string", "Returns the string value of a key after setting its expiration time."),
    c("mget", -2, READONLY | FAST, ALLKEYS, Sp(s::mget, Split::Mget), "string", "Atomically returns the string values of one or more keys."),
    c("mset", -3, WRITE | DENYOOM, (1, -1, 2), Sp(s::mset, Split::Mset), "string", "Atomically creates or modifies the string values of one or more keys."),
    c("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), Sp(s::msetnx, Split::Msetnx), "string", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    c("append", 3, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(s::append), "string", "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    c("strlen", 2, READONLY | FAST, KEY1, Keyed(s::strlen), "string", "Returns the length of a string value."),
    c("getrange", 4, READONLY, KEY1, Keyed(s::getrange), "string", "Returns a substring of the string stored at a key."),
    c("substr", 4, READONLY, KEY1, Keyed(s::getrange), "string", "Returns a substring from a string value."),
    c("setrange", 4, WRITE | DENYOOM | REPLAYABLE, KEY1, Keyed(s::setrange), "string", "Overwrites a part of a string value with another by an offset."),
    c("incr", 2, WRITE | DENYOOM | FAST, KEY1, Keyed(s::incr), "string", "Increments the integer value of a key by one."),
    c("decr", 2, WRITE | DENYOOM | FAST, KEY1, Keyed(s::decr), "string", "Decrements the integer value of a key by one."),
    c("incrby", 3, WRITE | DENYOOM | FAST, KEY1, Keyed(s::incrby), "string", "Increments the integer value of a key by a number."),
    c("decrby", 3, WRITE | DENYOOM | FAST, KEY1, Keyed(s::decrby), "string", "Decrements a number from the integer value of a key."),
    c("incrbyfloat", 3, WRITE | DENYOOM | FAST, KEY1, Keyed(s::incrbyfloat), "string", "Increment the floating point value of a key by a number."),
    c("lcs", -3, READONLY, (1, 2, 1), Keyed(s::lcs), "string", "Finds the longest common substring."),
    // Bitmaps (commands::bitmap).
    c("setbit", 4, WRITE | DENYOOM | REPLAYABLE, KEY1, Keyed(bitmap::setbit), "bitmap", "Sets or clears the bit at offset in the string value stored at key"),
    c("getbit", 3, READONLY | FAST, KEY1, Keyed(bitmap::getbit), "bitmap", "Returns the bit value at offset in the string value stored at key"),
    c("bitcount", -2, READONLY, KEY1, Keyed(bitmap::bitcount), "bitmap", "Count set bits in a string"),
    c("bitpos", -3, READONLY, KEY1, Keyed(bitmap::bitpos), "bitmap", "Find first bit set or clear in a string"),
    c("bitop", -4, WRITE | DENYOOM, (2, -1, 1), Keyed(bitmap::bitop), "bitmap", "Perform bitwise operations between strings"),
    c("bitfield", -2, WRITE | DENYOOM, KEY1, Keyed(bitmap::bitfield), "bitmap", "Perform arbitrary bitfield integer operations on strings"),
    c("bitfield_ro", -2, READONLY | FAST, KEY1, Keyed(bitmap::bitfield_ro), "bitmap", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD"),
    // (end of bitmaps)
    // HyperLogLog (commands::hll).
    c("pfadd", -2, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(hll::pfadd), "hyperloglog", "Adds the specified elements to the specified HyperLogLog."),
    c("pfcount", -2, READONLY, ALLKEYS, Keyed(hll::pfcount), "hyperloglog", "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s)."),
    c("pfmerge", -2, WRITE | DENYOOM, ALLKEYS, Keyed(hll::pfmerge), "hyperloglog", "Merge N different HyperLogLogs into a single one."),
    c("pfdebug", 3, WRITE | DENYOOM | ADMIN, (2, 2, 1), Keyed(hll::pfdebug), "hyperloglog", "Internal commands for debugging HyperLogLog values"),
    c("pfselftest", 1, ADMIN, NOKEYS, Keyed(hll::pfselftest), "hyperloglog", "An internal command for testing HyperLogLog values"),
    // (end of hyperloglog)
    // Hashes (commands::hash).
    c("hset", -4, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(hash::hset), "hash", "Set the string value of a hash field"),
    c("hsetnx", 4, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(hash::hsetnx), "hash", "Set the value of a hash field, only if the field does not exist"),
    c("hget", 3, READONLY | FAST, KEY1, Keyed(hash::hget), "hash", "Get the value of a hash field"),
    c("hmget", -3, READONLY | FAST, KEY1, Keyed(hash::hmget), "hash", "Get the values of all the given hash fields"),
    c("hmset", -4, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(hash::hmset), "hash", "Set multiple hash fields to multiple values"),
    c("hgetall", 2, READONLY, KEY1, Keyed(hash::hgetall), "hash", "Get all the fields and values in a hash"),
    c("hdel", -3, WRITE | FAST | REPLAYABLE, KEY1, Keyed(hash::hdel), "hash", "Delete one or more hash fields"),
    c("hexists", 3, READONLY | FAST, KEY1, Keyed(hash::hexists), "hash", "Determine if a hash field exists"),
    c("hlen", 2, READONLY | FAST, KEY1, Keyed(hash::hlen), "hash", "Get the number of fields in a hash"),
    c("hstrlen", 3, READONLY | FAST, KEY1, Keyed(hash::hstrlen), "hash", "Get the length of the value of a hash field"),
    c("hkeys", 2, READONLY, KEY1, Keyed(hash::hkeys), "hash", "Get all the fields in a hash"),
    c("hvals", 2, READONLY, KEY1, Keyed(hash::hvals), "hash", "Get all the values in a hash"),
    c("hincrby", 4, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(hash::hincrby), "hash", "Increment the integer value of a hash field by the given number"),
    c("hincrbyfloat", 4, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(hash::hincrbyfloat), "hash", "Increment the float value of a hash field by the given amount"),
    c("hrandfield", -2, READONLY, KEY1, Keyed(hash::hrandfield), "hash", "Get one or multiple random fields from a hash"),
    c("hscan", -3, READONLY, KEY1, Keyed(hash::hscan), "hash", "Incrementally iterate hash fields and associated values"),
    // (end of hashes)
    // Lists (commands::list).
    c("lpush", -3, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(list::lpush), "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    c("rpush", -3, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(list::rpush), "list", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    c("lpushx", -3, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(list::lpushx), "list", "Prepends one or more elements to a list only when the list exists."),
    c("rpushx", -3, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(list::rpushx), "list", "Appends an element to a list only when the list exists."),
    c("lpop", -2, WRITE | FAST | REPLAYABLE, KEY1, Keyed(list::lpop), "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    c("rpop", -2, WRITE | FAST | REPLAYABLE, KEY1, Keyed(list::rpop), "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    c("llen", 2, READONLY | FAST, KEY1, Keyed(list::llen), "list", "Returns the length of a list."),
    c("lrange", 4, READONLY, KEY1, Keyed(list::lrange), "list", "Returns a range of elements from a list."),
    c("lindex", 3, READONLY, KEY1, Keyed(list::lindex), "list", "Returns an element from a list by its index."),
    c("lset", 4, WRITE | DENYOOM | REPLAYABLE, KEY1, Keyed(list::lset), "list", "Sets the value of an element in a list by its index."),
    c("linsert", 5, WRITE | DENYOOM | REPLAYABLE, KEY1, Keyed(list::linsert), "list", "Inserts an element before or after another element in a list."),
    c("lrem", 4, WRITE | REPLAYABLE, KEY1, Keyed(list::lrem), "list", "Removes elements from a list. Deletes the list if the last element was removed."),
    c("ltrim", 4, WRITE | REPLAYABLE, KEY1, Keyed(list::ltrim), "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    c("lpos", -3, READONLY, KEY1, Keyed(list::lpos), "list", "Returns the index of matching elements in a list."),
    c("lmove", 5, WRITE | DENYOOM, (1, 2, 1), Keyed(list::lmove), "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    c("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), Keyed(list::rpoplpush), "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    with_numkeys(c("lmpop", -4, WRITE, NOKEYS, Keyed(list::lmpop), "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."), 1),
    // (end of lists)
    // Sets (commands::set).
    c("sadd", -3, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(set::sadd), "set", "Adds one or more members to a set. Creates the key if it doesn't exist."),
    c("srem", -3, WRITE | FAST | REPLAYABLE, KEY1, Keyed(set::srem), "set", "Removes one or more members from a set. Deletes the set if the last member was removed."),
    c("sismember", 3, READONLY | FAST, KEY1, Keyed(set::sismember), "set", "Determines whether a member belongs to a set."),
    c("smismember", -3, READONLY | FAST, KEY1, Keyed(set::smismember), "set", "Determines whether multiple members belong to a set."),
    c("smembers", 2, READONLY, KEY1, Keyed(set::smembers), "set", "Returns all members of a set."),
    c("scard", 2, READONLY | FAST, KEY1, Keyed(set::scard), "set", "Returns the number of members in a set."),
    c("spop", -2, WRITE | FAST, KEY1, Keyed(set::spop), "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    c("srandmember", -2, READONLY, KEY1, Keyed(set::srandmember), "set", "Get one or multiple random members from a set"),
    c("smove", 4, WRITE | FAST, (1, 2, 1), Keyed(set::smove), "set", "Moves a member from one set to another."),
    c("sinter", -2, READONLY, ALLKEYS, Keyed(set::sinter), "set", "Returns the intersect of multiple sets."),
    c("sunion", -2, READONLY, ALLKEYS, Keyed(set::sunion), "set", "Returns the union of multiple sets."),
    c("sdiff", -2, READONLY, ALLKEYS, Keyed(set::sdiff), "set", "Returns the difference of multiple sets."),
    c("sinterstore", -3, WRITE | DENYOOM, ALLKEYS, Keyed(set::sinterstore), "set", "Stores the intersect of multiple sets in a key."),
    c("sunionstore", -3, WRITE | DENYOOM, ALLKEYS, Keyed(set::sunionstore), "set", "Stores the union of multiple sets in a key."),
    c("sdiffstore", -3, WRITE | DENYOOM, ALLKEYS, Keyed(set::sdiffstore), "set", "Stores the difference of multiple sets in a key."),
    with_numkeys(c("sintercard", -3, READONLY, NOKEYS, Keyed(set::sintercard), "set", "Returns the number of members of the intersect of multiple sets."), 1),
    c("sscan", -3, READONLY, KEY1, Keyed(set::sscan), "set", "Iterates over members of a set."),
    // (end of sets)
    // Sorted sets (commands::zset).
    c("zadd", -4, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(zset::zadd), "sorted-set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    c("zincrby", 4, WRITE | DENYOOM | FAST | REPLAYABLE, KEY1, Keyed(zset::zincrby), "sorted-set", "Increments the score of a member in a sorted set."),
    c("zrem", -3, WRITE | FAST | REPLAYABLE, KEY1, Keyed(zset::zrem), "sorted-set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    c("zcard", 2, READONLY | FAST, KEY1, Keyed(zset::zcard), "sorted-set", "Returns the number of members in a sorted set."),
    c("zcount", 4, READONLY | FAST, KEY1, Keyed(zset::zcount), "sorted-set", "Returns the count of members in a sorted set that have scores within a range."),
    c("zlexcount", 4, READONLY | FAST, KEY1, Keyed(zset::zlexcount), "sorted-set", "Returns the number of members in a sorted set within a lexicographical range."),
    c("zscore", 3, READONLY | FAST, KEY1, Keyed(zset::zscore), "sorted-set", "Returns the score of a member in a sorted set."),
    c("zmscore", -3, READONLY | FAST, KEY1, Keyed(zset::zmscore), "sorted-set", "Returns the score of one or more members in a sorted set."),
    c("zrank", 3, READONLY | FAST, KEY1, Keyed(zset::zrank), "sorted-set", "Returns the index of a member in a sorted set ordered by ascending scores."),
    c("zrevrank", 3, READONLY | FAST, KEY1, Keyed(zset::zrevrank), "sorted-set", "Returns the index of a member in a sorted set ordered by descending scores."),
    c("zrange", -4, READONLY, KEY1, Keyed(zset::zrange), "sorted-set", "Returns members in a sorted set within a range of indexes."),
    c("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), Keyed(zset::zrangestore), "sorted-set", "Stores a range of members from sorted set in a key."),
    c("zrevrange", -4, READONLY, KEY1, Keyed(zset::zrevrange), "sorted-set", "Returns members in a sorted set within a range of indexes in reverse order."),
    c("zrangebyscore", -4, READONLY, KEY1, Keyed(zset::zrangebyscore), "sorted-set", "Returns members in a sorted set within a range of scores."),
    c("zrevrangebyscore", -4, READONLY, KEY1, Keyed(zset::zrevrangebyscore), "sorted-set", "Returns members in a sorted set within a range of scores in reverse order."),
    c("zrangebylex", -4, READONLY, KEY1, Keyed(zset::zrangebylex), "sorted-set", "Returns members in a sorted set within a lexicographical range."),
    c("zrevrangebylex", -4, READONLY, KEY1, Keyed(zset::zrevrangebylex), "sorted-set", "Returns members in a sorted set within a lexicographical range in reverse order."),
    c("zremrangebyrank", 4, WRITE | REPLAYABLE, KEY1, Keyed(zset::zremrangebyrank), "sorted-set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    c("zremrangebyscore", 4, WRITE | REPLAYABLE, KEY1, Keyed(zset::zremrangebyscore), "sorted-set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    c("zremrangebylex", 4, WRITE | REPLAYABLE, KEY1, Keyed(zset::zremrangebylex), "sorted-set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    c("zpopmin", -2, WRITE | FAST | REPLAYABLE, KEY1, Keyed(zset::zpopmin), "sorted-set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    c("zpopmax", -2, WRITE | FAST | REPLAYABLE, KEY1, Keyed(zset::zpopmax), "sorted-set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    with_numkeys(c("zmpop", -4, WRITE, NOKEYS, Keyed(zset::zmpop), "sorted-set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."), 1),
    with_numkeys(c("zunion", -3, READONLY, NOKEYS, Keyed(zset::zunion), "sorted-set", "Returns the union of multiple sorted sets."), 1),
    with_numkeys(c("zinter", -3, READONLY, NOKEYS, Keyed(zset::zinter), "sorted-set", "Returns the intersect of multiple sorted sets."), 1),
    with_numkeys(c("zdiff", -3, READONLY, NOKEYS, Keyed(zset::zdiff), "sorted-set", "Returns the difference between multiple sorted sets."), 1),
    with_numkeys(c("zunionstore", -4, WRITE | DENYOOM, KEY1, Keyed(zset::zunionstore), "sorted-set", "Stores the union of multiple sorted sets in a key."), 2),
    with_numkeys(c("zinterstore", -4, WRITE | DENYOOM, KEY1, Keyed(zset::zinterstore), "sorted-set", "Stores the intersect of multiple sorted sets in a key."), 2),
    with_numkeys(c("zdiffstore", -4, WRITE | DENYOOM, KEY1, Keyed(zset::zdiffstore), "sorted-set", "Stores the difference of multiple sorted sets in a key."), 2),
    with_numkeys(c("zintercard", -3, READONLY, NOKEYS, Keyed(zset::zintercard), "sorted-set", "Returns the number of members of the intersect of multiple sorted sets."), 1),
    c("zrandmember", -2, READONLY, KEY1, Keyed(zset::zrandmember), "sorted-set", "Returns one or more random members from a sorted set."),
    c("zscan", -3, READONLY, KEY1, Keyed(zset::zscan), "sorted-set", "Iterates over members and scores of a sorted set."),
    // (end of sorted sets)
    // Blocking pops and moves (commands::blocking; the waiting is server::blocking's).
    c("blpop", -3, WRITE | BLOCKING, (1, -2, 1), Keyed(b::blpop), "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    c("brpop", -3, WRITE | BLOCKING, (1, -2, 1), Keyed(b::brpop), "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    c("brpoplpush", 4, WRITE | DENYOOM | BLOCKING, (1, 2, 1), Keyed(b::brpoplpush), "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    c("blmove", 6, WRITE | DENYOOM | BLOCKING, (1, 2, 1), Keyed(b::blmove), "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    with_numkeys(
        c("blmpop", -5, WRITE | BLOCKING, NOKEYS, Keyed(b::blmpop), "list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
        2,
    ),
    c("bzpopmin", -3, WRITE | FAST | BLOCKING, (1, -2, 1), Keyed(b::bzpopmin), "sorted_set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    c("bzpopmax", -3, WRITE | FAST | BLOCKING, (1, -2, 1), Keyed(b::bzpopmax), "sorted_set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped."),
    with_numkeys(
        c("bzmpop", -5, WRITE | BLOCKING, NOKEYS, Keyed(b::bzmpop), "sorted_set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
        2,
    ),
    // Keys.
    c("del", -2, WRITE, ALLKEYS, Sp(k::del, Split::SumKeys), "generic", "Deletes one or more keys."),
    c("unlink", -2, WRITE | FAST, ALLKEYS, Sp(k::del, Split::SumKeys), "generic", "Asynchronously deletes one or more keys."),
    c("exists", -2, READONLY | FAST, ALLKEYS, Sp(k::exists, Split::SumKeys), "generic", "Determines whether one or more keys exist."),
    c("touch", -2, READONLY | FAST, ALLKEYS, Sp(k::exists, Split::SumKeys), "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    c("type", 2, READONLY | FAST, KEY1, Keyed(k::type_), "generic", "Determines the type of value stored at a key."),
    c("rename", 3, WRITE, (1, 2, 1), Keyed(k::rename), "generic", "Renames a key and overwrites the destination."),
    c("renamenx", 3, WRITE | FAST, (1, 2, 1), Keyed(k::renamenx), "generic", "Renames a key only when the target key name doesn't exist."),
    c("copy", -3, WRITE | DENYOOM, (1, 2, 1), Keyed(k::copy), "generic", "Copies the value of a key to a new key."),
    c("move", 3, WRITE | FAST, KEY1, Keyed(k::move_), "generic", "Moves a key to another database."),
    c("dump", 2, READONLY, KEY1, Keyed(k::dump), "generic", "Returns a serialized representation of the value stored at a key."),
    c("restore", -4, WRITE | DENYOOM, KEY1, Keyed(k::restore), "generic", "Creates a key from the serialized representation of a value."),
    c("expire", -3, WRITE | FAST | REPLAYABLE, KEY1, Keyed(k::expire), "generic", "Sets the expiration time of a key in seconds."),
    c("pexpire", -3, WRITE | FAST | REPLAYABLE, KEY1, Keyed(k::pexpire), "generic", "Sets the expiration time of a key in milliseconds."),
    c("expireat", -3, WRITE | FAST | REPLAYABLE, KEY1, Keyed(k::expireat), "generic", "Sets the expiration time of a key to a Unix timestamp."),
    c("pexpireat", -3, WRITE | FAST | REPLAYABLE, KEY1, Keyed(k::pexpireat), "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    c("ttl", 2, READONLY | FAST, KEY1, Keyed(k::ttl), "generic", "Returns the expiration time in seconds of a key."),
    c("pttl", 2, READONLY | FAST, KEY1, Keyed(k::pttl), "generic", "Returns the expiration time in milliseconds of a key."),
    c("expiretime", 2, READONLY | FAST, KEY1, Keyed(k::expiretime), "generic", "Returns the expiration time of a key as a Unix timestamp."),
    c("pexpiretime", 2, READONLY | FAST, KEY1, Keyed(k::pexpiretime), "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    c("persist", 2, WRITE | FAST | REPLAYABLE, KEY1, Keyed(k::persist), "generic", "Removes the expiration time of a key."),
    with_subs(
        c("object", -2, READONLY, (2, 2, 1), Keyed(k::object), "generic", "A container for object introspection commands."),
        &[("encoding", 3), ("freq", 3), ("idletime", 3), ("refcount", 3), ("help", 2)],
    ),
    c("sort", -2, WRITE | DENYOOM, KEY1, Conn(C::Sort), "generic", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result."),
    c("sort_ro", -2, READONLY, KEY1, Conn(C::SortRo), "generic", "Returns the sorted elements of a list, a set, or a sorted set."),
    c("keys", 2, READONLY, NOKEYS, Conn(C::Keys), "generic", "Returns all key names that match a pattern."),
    c("scan", -2, READONLY, NOKEYS, Conn(C::Scan), "generic", "Iterates over the key names in the database."),
    c("randomkey", 1, READONLY, NOKEYS, Conn(C::Randomkey), "generic", "Returns a random key name from the database."),
    // Connection.
    c("ping", -1, FAST | STALE | LOADING, NOKEYS, Conn(C::Ping), "connection", "Returns the server's liveliness response."),
    c("echo", 2, FAST | STALE | LOADING, NOKEYS, Conn(C::Echo), "connection", "Returns the given string."),
    c("hello", -1, FAST | NO_AUTH | STALE | LOADING, NOKEYS, Conn(C::Hello), "connection", "Handshakes with the Redis server."),
    c("auth", -2, FAST | NO_AUTH | STALE | LOADING, NOKEYS, Conn(C::Auth), "connection", "Authenticates the connection."),
    c("select", 2, FAST | STALE | LOADING, NOKEYS, Conn(C::Select), "connection", "Changes the selected database."),
    c("quit", -1, FAST | NO_AUTH | STALE | LOADING, NOKEYS, Conn(C::Quit), "connection", "Closes the connection."),
    c("reset", 1, FAST | NO_AUTH | STALE | LOADING, NOKEYS, Conn(C::Reset), "connection", "Resets the connection."),
    with_subs(
        c("client", -2, STALE | LOADING, NOKEYS, Conn(C::Client), "connection", "A container for client connection commands."),
        &[("id", 2), ("setname", 3), ("getname", 2), ("setinfo", 4), ("list", -2), ("info", 2), ("kill", -3), ("reply", 3), ("no-evict", 3), ("unblock", -3), ("help", 2)],
    ),
    // Transactions (server::multi).
    c("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NOKEYS, Conn(C::Multi), "transactions", "Starts a transaction."),
    c("exec", 1, NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Exec), "transactions", "Executes all commands in a transaction."),
    c("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NOKEYS, Conn(C::Discard), "transactions", "Discards a transaction."),
    c("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, ALLKEYS, Conn(C::Watch), "transactions", "Monitors changes to keys to determine the execution of a transaction."),
    c("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NOKEYS, Conn(C::Unwatch), "transactions", "Forgets about watched keys of a transaction."),
    // Pub/Sub (server::pubsub).
    c("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Subscribe), "pubsub", "Listens for messages published to channels."),
    c("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Psubscribe), "pubsub", "Listens for messages published to channels that match one or more patterns."),
    c("ssubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Ssubscribe), "pubsub", "Listens for messages published to shard channels."),
    c("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Unsubscribe), "pubsub", "Stops listening to messages posted to channels."),
    c("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Punsubscribe), "pubsub", "Stops listening to messages published to channels that match one or more patterns."),
    c("sunsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Sunsubscribe), "pubsub", "Stops listening to messages posted to shard channels."),
    c("publish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, NOKEYS, Conn(C::Publish), "pubsub", "Posts a message to a channel."),
    c("spublish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, NOKEYS, Conn(C::Spublish), "pubsub", "Post a message to a shard channel"),
    with_subs(
        c("pubsub", -2, 0, NOKEYS, Conn(C::Pubsub), "pubsub", "A container for Pub/Sub commands."),
        &[("channels", -2), ("numsub", -2), ("numpat", 2), ("shardchannels", -2), ("shardnumsub", -2), ("help", 2)],
    ),
    // Server.
    c("swapdb", 3, WRITE | FAST, NOKEYS, Conn(C::Swapdb), "server", "Swaps two Redis databases."),
    with_subs(
        c("command", -1, STALE | LOADING, NOKEYS, Conn(C::Command), "server", "Returns detailed information about all commands."),
        &[("count", 2), ("info", -2), ("docs", -2), ("list", -2), ("getkeys", -4), ("help", 2)],
    ),
    c("info", -1, STALE | LOADING, NOKEYS, Conn(C::Info), "server", "Returns information and statistics about the server."),
    with_subs(
        c("config", -2, ADMIN | NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Config), "server", "A container for server configuration commands."),
        &[("get", -3), ("set", -4), ("resetstat", 2), ("rewrite", 2), ("help", 2)],
    ),
    c("dbsize", 1, READONLY | FAST, NOKEYS, Conn(C::Dbsize), "server", "Returns the number of keys in the database."),
    c("flushdb", -1, WRITE, NOKEYS, Conn(C::Flushdb), "server", "Remove all keys from the current database."),
    c("flushall", -1, WRITE, NOKEYS, Conn(C::Flushall), "server", "Removes all keys from all databases."),
    c("time", 1, FAST | STALE | LOADING, NOKEYS, Conn(C::Time), "server", "Returns the server time."),
    c("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, NOKEYS, Conn(C::Shutdown), "server", "Synchronously saves the database(s) to disk and shuts down the Redis server."),
    c("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Monitor), "server", "Listens for all requests received by the server in real-time."),
    with_subs(
        c("latency", -2, ADMIN | NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Latency), "server", "A container for latency diagnostics commands."),
        &[("histogram", -2), ("latest", 2), ("reset", -2), ("help", 2)],
    ),
    c("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, NOKEYS, Conn(C::Debug), "server", "A container for debugging commands."),
    c("lastsave", 1, LOADING | STALE | FAST, NOKEYS, Conn(C::Lastsave), "server", "Returns the Unix timestamp of the last successful save to disk."),
    c("memory", -2, READONLY, (2, 2, 1), Conn(C::Memory), "server", "A container for memory diagnostics commands."),
    c("slowlog", -2, ADMIN | LOADING | STALE, NOKEYS, Conn(C::Slowlog), "server", "A container for slow log commands."),
    c("save", 1, NOSCRIPT | NO_MULTI, NOKEYS, Conn(C::Save), "server", "Synchronously saves the database(s) to disk."),
    c("bgsave", -1, NOSCRIPT, NOKEYS, Conn(C::Bgsave), "server", "Asynchronously saves the database(s) to disk."),
    c("bgrewriteaof", 1, ADMIN | NOSCRIPT, NOKEYS, Conn(C::Bgrewriteaof), "server", "Asynchronously rewrites the append-only file to disk."),
    c("role", 1, NOSCRIPT | LOADING | STALE | FAST, NOKEYS, Conn(C::Role), "server", "Returns the replication role."),
    // Replication (KeyDB's REPLICAOF forms: NO ONE, REMOVE host port, host port).
    c("replicaof", -3, ADMIN | NOSCRIPT | STALE, NOKEYS, Conn(C::Replicaof), "server", "Configures a server as replica of another, or promotes it to a master."),
    c("slaveof", -3, ADMIN | NOSCRIPT | STALE, NOKEYS, Conn(C::Replicaof), "server", "Sets a Redis server as a replica of another, or promotes it to being a master."),
    c("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, NOKEYS, Conn(C::Replconf), "server", "An internal command for configuring the replication stream."),
    c("psync", -3, ADMIN | NOSCRIPT | NO_MULTI, NOKEYS, Conn(C::Psync), "server", "An internal command used in replication."),
    c("sync", 1, ADMIN | NOSCRIPT | NO_MULTI, NOKEYS, Conn(C::Sync), "server", "An internal command used in replication."),
    c("wait", 3, NOSCRIPT, NOKEYS, Conn(C::Wait), "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed."),
];

/// Statistics are kept per command, and per subcommand for container commands (Redis reports
/// `cmdstat_client|id`): slots 0..COMMANDS.len() are commands, the rest subcommands in
/// table order.
fn subcommand_base() -> &'static [usize] {
    static BASE: OnceLock<Vec<usize>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut next = COMMANDS.len();
        COMMANDS
            .iter()
            .map(|d| {
                let base = next;
                next += d.subcommands.len();
                base
            })
            .collect()
    })
}

/// The statistics slot of a call of command `cmd`.
pub fn stat_slot(cmd: usize, args: &Args) -> usize {
    let def = &COMMANDS[cmd];
    if def.subcommands.is_empty() || args.len() < 2 {
        return cmd;
    }
    let sub = args.get(1);
    match def
        .subcommands
        .iter()
        .position(|(n, _)| sub.eq_ignore_ascii_case(n.as_bytes()))
    {
        Some(i) => subcommand_base()[cmd] + i,
        None => cmd,
    }
}

/// The name INFO commandstats and LATENCY HISTOGRAM use for a slot ("get", "client|id").
pub fn stat_name(slot: usize) -> String {
    if slot < COMMANDS.len() {
        return COMMANDS[slot].name.to_string();
    }
    let base = subcommand_base();
    let cmd = (0..COMMANDS.len())
        .rev()
        .find(|&c| base[c] <= slot && !COMMANDS[c].subcommands.is_empty())
        .unwrap_or(0);
    format!(
        "{}|{}",
        COMMANDS[cmd].name,
        COMMANDS[cmd].subcommands[slot - base[cmd]].0
    )
}

/// The slot named `name` ("get" or "config|get"), for LATENCY HISTOGRAM's arguments.
pub fn stat_slot_by_name(name: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
    let (cmd, sub) = text
        .split_once('|')
        .map_or((text.as_str(), None), |(c, s)| (c, Some(s)));
    let idx = lookup(cmd.as_bytes())?;
    match sub {
        None => Some(idx),
        Some(s) => COMMANDS[idx]
            .subcommands
            .iter()
            .position(|(n, _)| *n == s)
            .map(|i| subcommand_base()[idx] + i),
    }
}

/// Slots of the name index (a power of two, well above the number of commands).
const NAME_SLOTS: usize = 1024;
const EMPTY: u16 = u16::MAX;

/// FNV-1a over lower-case bytes: the name index's hash, computed while lower-casing.
#[inline]
fn name_hash(h: u32, b: u8) -> u32 {
    (h ^ b as u32).wrapping_mul(16_777_619)
}

/// The table's index by lower-case name: open addressing over command numbers. Looking a
/// command up is on every request's path, so it hashes while it lower-cases, in one pass.
fn index() -> &'static [u16; NAME_SLOTS] {
    static INDEX: OnceLock<Box<[u16; NAME_SLOTS]>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut slots = Box::new([EMPTY; NAME_SLOTS]);
        for (i, d) in COMMANDS.iter().enumerate() {
            let h = d.name.bytes().fold(2_166_136_261, name_hash);
            let mut pos = h as usize % NAME_SLOTS;
            while slots[pos] != EMPTY {
                pos = (pos + 1) % NAME_SLOTS;
            }
            slots[pos] = i as u16;
        }
        slots
    })
}

/// Looks a command up by name, case-insensitively.
#[inline]
pub fn lookup(name: &[u8]) -> Option<usize> {
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    let mut h = 2_166_136_261u32;
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
        h = name_hash(h, *d);
    }
    let lower = &lower[..name.len()];
    let slots = index();
    let mut pos = h as usize % NAME_SLOTS;
    loop {
        match slots[pos] {
            EMPTY => return None,
            i if COMMANDS[i as usize].name.as_bytes() == lower => return Some(i as usize),
            _ => pos = (pos + 1) % NAME_SLOTS,
        }
    }
}

/// Redis's reply to an unknown command. Built byte for byte as Redis's C code builds it: each
/// argument is cut at its first NUL (`%s`), and arguments are added while the list is under
/// 128 bytes, each cut to what is left of those 128.
pub fn unknown_command_error(args: &Args) -> Vec<u8> {
    fn c_str(b: &[u8]) -> &[u8] {
        &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
    }
    let mut list: Vec<u8> = Vec::new();
    for a in args.iter().skip(1) {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        let a = c_str(a);
        list.push(b'\'');
        list.extend_from_slice(&a[..a.len().min(room)]);
        list.extend_from_slice(b"' ");
    }
    let name = c_str(args.get(0));
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(&name[..name.len().min(128)]);
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&list);
    msg
}

/// A HSCAN/SSCAN/ZSCAN cursor as Redis reads it (strtoul: an optional sign, then digits; a negative
/// number wraps; no leading space; the text ends at a NUL byte as C sees it).
pub fn parse_scan_cursor(b: &[u8]) -> Option<u64> {
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    let Some(&c0) = b.first() else {
        return Some(0);
    };
    if matches!(c0, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        return None;
    }
    let (neg, digits) = match c0 {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// HSCAN/SSCAN/ZSCAN's options after the cursor (at `from`): COUNT (default 10) and MATCH
/// (None for no filter, `*` included), with Redis's errors.
pub fn parse_scan_options<'a>(
    args: &Args<'a>,
    from: usize,
) -> Result<(usize, Option<&'a [u8]>), &'static str> {
    let mut count = 10usize;
    let mut pattern = None;
    let mut i = from;
    while i < args.len() {
        let more = i + 1 < args.len();
        if more && crate::util::eq_ic(args.get(i), "count") {
            match crate::protocol::parse_i64(args.get(i + 1)) {
                None => return Err(crate::protocol::errors::NOT_INTEGER),
                Some(n) if n < 1 => return Err(crate::protocol::errors::SYNTAX),
                Some(n) => count = n as usize,
            }
        } else if more && crate::util::eq_ic(args.get(i), "match") {
            pattern = Some(args.get(i + 1)).filter(|p| *p != b"*");
        } else {
            return Err(crate::protocol::errors::SYNTAX);
        }
        i += 2;
    }
    Ok((count, pattern))
}

pub fn arity_error(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

pub fn unknown_subcommand_error(sub: &[u8], cmd: &str) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        truncate(&String::from_utf8_lossy(sub), 128),
        cmd.to_ascii_uppercase()
    )
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
