//! The one table of options. The config file, `--name value` flags and CONFIG GET/SET all read
//! it, so they cannot disagree. An option marked `ACCEPTED` is taken and reported so that
//! tools written for Redis keep working, but Tandem does not act on it (see tuning.md).

/// What values an option takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// A size: plain bytes or with a unit (1k = 1000, 1kb = 1024, likewise m/mb, g/gb).
    Memory {
        max: i64,
    },
    Str,
    Enum(&'static [&'static str]),
    /// Free text with several words (bind addresses, buffer limits).
    Words,
    /// Save points: pairs of seconds and changes (`save 900 1 300 10`), or "" for none.
    SavePoints,
    /// A file name without a directory (`dbfilename`).
    FileName,
    /// Keyspace event classes (`notify-keyspace-events`), kept in canonical form.
    Events,
}

pub const IMMUTABLE: u8 = 1;
/// Accepted and reported, but not acted on.
pub const ACCEPTED: u8 = 2;
/// May be given several times in a config file; each occurrence adds a value (replicaof).
pub const MULTI: u8 = 4;
/// Hidden from CONFIG GET output unless asked for by exact name (secrets still show, as Redis).
pub const SENSITIVE: u8 = 8;

pub struct OptionDef {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u8,
}

const GB: i64 = 1024 * 1024 * 1024;
const I64MAX: i64 = i64::MAX;

macro_rules! options {
    ($( $id:ident = $name:literal $([$($alias:literal),*])? : $kind:expr, $default:expr, $flags:expr; )*) => {
        /// Option ids, in table order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        pub enum Opt { $($id),* }

        pub static OPTIONS: &[OptionDef] = &[
            $( OptionDef {
                name: $name,
                aliases: &[$($($alias),*)?],
                kind: $kind,
                default: $default,
                flags: $flags,
            } ),*
        ];
    };
}

use Kind::*;

options! {
    // Network and clients.
    Port = "port": Int { min: 0, max: 65535 }, "6379", IMMUTABLE;
    Bind = "bind": Words, "* -::*", IMMUTABLE;
    ProtectedMode = "protected-mode": Bool, "yes", 0;
    TcpBacklog = "tcp-backlog": Int { min: 0, max: 65535 }, "511", IMMUTABLE;
    Timeout = "timeout": Int { min: 0, max: I64MAX }, "0", 0;
    TcpKeepalive = "tcp-keepalive": Int { min: 0, max: I64MAX }, "300", 0;
    Maxclients = "maxclients": Int { min: 1, max: 1_000_000 }, "10000", 0;
    RequirePass = "requirepass": Str, "", SENSITIVE;
    ProtoMaxBulkLen = "proto-max-bulk-len": Memory { max: I64MAX }, "536870912", 0;
    ClientQueryBufferLimit = "client-query-buffer-limit": Memory { max: I64MAX }, "1073741824", 0;
    ClientOutputBufferLimit = "client-output-buffer-limit": Words, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", 0;
    UnixSocket = "unixsocket": Str, "", IMMUTABLE | ACCEPTED;
    UnixSocketPerm = "unixsocketperm": Int { min: 0, max: 0o777 }, "0", IMMUTABLE | ACCEPTED;
    // Threads and cores.
    ServerThreads = "server-threads": Int { min: 0, max: 256 }, "0", IMMUTABLE;
    ServerThreadAffinity = "server-thread-affinity": Words, "no", IMMUTABLE;
    ConnDistribution = "conn-distribution": Enum(&["round-robin", "reuseport"]), "round-robin", IMMUTABLE;
    PreemptTimerUs = "preempt-timer-us": Int { min: 10, max: 100_000 }, "200", IMMUTABLE;
    SpinBeforeParkUs = "spin-before-park-us": Int { min: 0, max: 100_000 }, "50", IMMUTABLE;
    ExecutorKickMs = "executor-kick-ms": Int { min: 0, max: 10_000 }, "5", IMMUTABLE;
    IoUringCoopTaskrun = "io-uring-coop-taskrun": Bool, "yes", IMMUTABLE;
    IoThreads = "io-threads": Int { min: 1, max: 128 }, "1", IMMUTABLE | ACCEPTED;
    IoThreadsDoReads = "io-threads-do-reads": Bool, "no", IMMUTABLE | ACCEPTED;
    // General.
    Databases = "databases": Int { min: 1, max: 1_000_000 }, "16", IMMUTABLE;
    Loglevel = "loglevel": Enum(&["debug", "verbose", "notice", "warning", "nothing"]), "notice", 0;
    Logfile = "logfile": Str, "", IMMUTABLE;
    Daemonize = "daemonize": Bool, "no", IMMUTABLE | ACCEPTED;
    Supervised = "supervised": Enum(&["no", "upstart", "systemd", "auto"]), "no", IMMUTABLE | ACCEPTED;
    Pidfile = "pidfile": Str, "", IMMUTABLE;
    AlwaysShowLogo = "always-show-logo": Bool, "no", IMMUTABLE | ACCEPTED;
    SetProcTitle = "set-proc-title": Bool, "yes", IMMUTABLE | ACCEPTED;
    Hz = "hz": Int { min: 0, max: 2_147_483_647 }, "10", 0;
    DynamicHz = "dynamic-hz": Bool, "yes", ACCEPTED;
    EnableDebugCommand = "enable-debug-command": Enum(&["yes", "no", "local"]), "no", IMMUTABLE | ACCEPTED;
    LatencyTracking = "latency-tracking": Bool, "yes", 0;
    LatencyTrackingInfoPercentiles = "latency-tracking-info-percentiles": Words, "50 99 99.9", 0;
    LatencyMonitorThreshold = "latency-monitor-threshold": Int { min: 0, max: I64MAX }, "0", ACCEPTED;
    SlowlogLogSlowerThan = "slowlog-log-slower-than": Int { min: -1, max: I64MAX }, "10000", 0;
    SlowlogMaxLen = "slowlog-max-len": Int { min: 0, max: I64MAX }, "128", 0;
    NotifyKeyspaceEvents = "notify-keyspace-events": Events, "", 0;
    // Memory.
    Maxmemory = "maxmemory": Memory { max: I64MAX }, "0", ACCEPTED;
    MaxmemoryPolicy = "maxmemory-policy": Enum(&["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]), "noeviction", ACCEPTED;
    MaxmemorySamples = "maxmemory-samples": Int { min: 1, max: 64 }, "5", ACCEPTED;
    LazyfreeLazyEviction = "lazyfree-lazy-eviction": Bool, "no", ACCEPTED;
    LazyfreeLazyExpire = "lazyfree-lazy-expire": Bool, "no", ACCEPTED;
    LazyfreeLazyServerDel = "lazyfree-lazy-server-del": Bool, "no", ACCEPTED;
    LazyfreeLazyUserDel = "lazyfree-lazy-user-del": Bool, "no", ACCEPTED;
    LazyfreeLazyUserFlush = "lazyfree-lazy-user-flush": Bool, "no", ACCEPTED;
    ActiveDefrag = "activedefrag": Bool, "no", ACCEPTED;
    HashMaxListpackEntries = "hash-max-listpack-entries" ["hash-max-ziplist-entries"]: Int { min: 0, max: I64MAX }, "512", 0;
    HashMaxListpackValue = "hash-max-listpack-value" ["hash-max-ziplist-value"]: Int { min: 0, max: I64MAX }, "64", 0;
    ListMaxListpackSize = "list-max-listpack-size" ["list-max-ziplist-size"]: Int { min: -5, max: I64MAX }, "-2", 0;
    ListCompressDepth = "list-compress-depth": Int { min: 0, max: I64MAX }, "0", ACCEPTED;
    SetMaxIntsetEntries = "set-max-intset-entries": Int { min: 0, max: I64MAX }, "512", 0;
    SetMaxListpackEntries = "set-max-listpack-entries": Int { min: 0, max: I64MAX }, "128", ACCEPTED;
    SetMaxListpackValue = "set-max-listpack-value": Int { min: 0, max: I64MAX }, "64", ACCEPTED;
    ZsetMaxListpackEntries = "zset-max-listpack-entries" ["zset-max-ziplist-entries"]: Int { min: 0, max: I64MAX }, "128", 0;
    ZsetMaxListpackValue = "zset-max-listpack-value" ["zset-max-ziplist-value"]: Int { min: 0, max: I64MAX }, "64", 0;
    HllSparseMaxBytes = "hll-sparse-max-bytes": Memory { max: I64MAX }, "3000", 0;
    StreamNodeMaxBytes = "stream-node-max-bytes": Memory { max: I64MAX }, "4096", ACCEPTED;
    StreamNodeMaxEntries = "stream-node-max-entries": Int { min: 0, max: I64MAX }, "100", ACCEPTED;
    ActiveRehashing = "activerehashing": Bool, "yes", ACCEPTED;
    LuaTimeLimit = "busy-reply-threshold" ["lua-time-limit"]: Int { min: 0, max: I64MAX }, "5000", ACCEPTED;
    // Persistence.
    Dir = "dir": Str, ".", 0;
    Dbfilename = "dbfilename": FileName, "dump.rdb", 0;
    Save = "save": SavePoints, "", MULTI;
    Rdbcompression = "rdbcompression": Bool, "yes", 0;
    Rdbchecksum = "rdbchecksum": Bool, "yes", IMMUTABLE;
    // Test knobs, as Redis's hidden ones: microseconds of delay per key saved or loaded.
    RdbKeySaveDelay = "rdb-key-save-delay": Int { min: 0, max: I64MAX }, "0", 0;
    KeyLoadDelay = "key-load-delay": Int { min: 0, max: I64MAX }, "0", 0;
    StopWritesOnBgsaveError = "stop-writes-on-bgsave-error": Bool, "yes", ACCEPTED;
    Appendonly = "appendonly": Bool, "no", 0;
    Appendfilename = "appendfilename": Str, "appendonly.aof", IMMUTABLE;
    Appenddirname = "appenddirname": Str, "appendonlydir", IMMUTABLE;
    Appendfsync = "appendfsync": Enum(&["always", "everysec", "no"]), "everysec", 0;
    AofLoadTruncated = "aof-load-truncated": Bool, "yes", 0;
    AutoAofRewritePercentage = "auto-aof-rewrite-percentage": Int { min: 0, max: I64MAX }, "100", 0;
    AutoAofRewriteMinSize = "auto-aof-rewrite-min-size": Memory { max: I64MAX }, "67108864", 0;
    // The log's base is always an RDB file, fsynced once when written; fsyncs are never
    // put off during a rewrite (it runs in threads beside the shards, not in a child).
    AofUseRdbPreamble = "aof-use-rdb-preamble": Bool, "yes", ACCEPTED;
    AofRewriteIncrementalFsync = "aof-rewrite-incremental-fsync": Bool, "yes", ACCEPTED;
    NoAppendfsyncOnRewrite = "no-appendfsync-on-rewrite": Bool, "no", ACCEPTED;
    AofTimestampEnabled = "aof-timestamp-enabled": Bool, "no", ACCEPTED;
    // Replication.
    Replicaof = "replicaof" ["slaveof"]: Words, "", MULTI;
    Masterauth = "masterauth": Str, "", SENSITIVE;
    Masteruser = "masteruser": Str, "", 0;
    ActiveReplica = "active-replica": Bool, "no", 0;
    MultiMaster = "multi-master": Bool, "no", IMMUTABLE;
    ReplicaReadOnly = "replica-read-only" ["slave-read-only"]: Bool, "yes", 0;
    ReplicaServeStaleData = "replica-serve-stale-data" ["slave-serve-stale-data"]: Bool, "yes", 0;
    ReplBacklogSize = "repl-backlog-size": Memory { max: I64MAX }, "1048576", 0;
    ReplTimeout = "repl-timeout": Int { min: 1, max: I64MAX }, "60", 0;
    ReplPingReplicaPeriod = "repl-ping-replica-period" ["repl-ping-slave-period"]: Int { min: 1, max: I64MAX }, "10", 0;
    ReplDisklessSync = "repl-diskless-sync": Bool, "yes", ACCEPTED;
    ReplicaPriority = "replica-priority" ["slave-priority"]: Int { min: 0, max: I64MAX }, "100", ACCEPTED;
    ActiveReplicaTombstoneTtl = "active-replica-tombstone-ttl": Int { min: 1, max: I64MAX }, "86400", 0;
    ReplBatchMaxBytes = "repl-batch-max-bytes": Memory { max: GB }, "65536", 0;
    // Testing aid: shifts the wall clock the write stamps are made from (clock skew between
    // nodes); expiry still uses the real clock.
    StampClockOffsetMs = "stamp-clock-offset-ms": Int { min: -(1 << 40), max: 1 << 40 }, "0", IMMUTABLE;
}

impl Kind {
    /// Whether a config-file line may give the value as several words.
    pub fn is_words(self) -> bool {
        matches!(self, Kind::Words | Kind::SavePoints)
    }
}

impl Opt {
    pub fn def(self) -> &'static OptionDef {
        &OPTIONS[self as usize]
    }
}

/// Finds an option by name or alias, case-insensitively.
pub fn lookup(name: &str) -> Option<usize> {
    OPTIONS.iter().position(|o| {
        o.name.eq_ignore_ascii_case(name) || o.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}
