#!/usr/bin/env bash
# Active-active replication benchmarks (issue "Active-active replication"): two Tandem nodes
# on this machine, each with one shard.
#
# Usage: scripts/bench-replication.sh [throughput|lag|fullsync|all]
#   throughput  memtier writes (--ratio 1:0, pipeline 16) to node A alone, then to A with an
#               active peer B, then to both; ops/s, A's CPU per op and bytes per write on
#               the link A -> B
#   lag         replication lag p50/p99 while memtier writes a steady $LAG_RATE writes/s to
#               A (examples/repl_lag: LPUSH on A, BLPOP on B)
#   fullsync    time for a fresh node to sync $SYNC_KEYS keys of 32-byte values, Tandem
#               (active-replica) against two redis-server 7 (diskless sync, no delay)
#
# A is pinned to CPU $SERVER_CPU; B and the clients share CPU $CLIENT_CPU (a 2-core box
# has no third core: read B's figures with that in mind).
#
# Environment: TANDEM_BIN [target/release/tandem], TANDEM_FLAGS (extra flags for both
# nodes) [], PEER_FLAGS (extra flags for B) [], MT_CLIENTS [50], MT_REQUESTS per client
# [40000], LAG_RATE [50000], LAG_SAMPLES [2000], SYNC_KEYS [1000000], SERVER_CPU [1],
# CLIENT_CPU [0].
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE="${1:-all}"
TANDEM_BIN="${TANDEM_BIN:-$ROOT/target/release/tandem}"
MT_CLIENTS="${MT_CLIENTS:-50}"
MT_REQUESTS="${MT_REQUESTS:-40000}"
LAG_RATE="${LAG_RATE:-50000}"
LAG_SAMPLES="${LAG_SAMPLES:-2000}"
SYNC_KEYS="${SYNC_KEYS:-1000000}"
TANDEM_FLAGS="${TANDEM_FLAGS:-}"
PEER_FLAGS="${PEER_FLAGS:-}"
SERVER_CPU="${SERVER_CPU:-1}"
CLIENT_CPU="${CLIENT_CPU:-0}"
CLK_TCK="$(getconf CLK_TCK)"
WORK="$(mktemp -d -t tandem-repl-bench.XXXXXX)"
PIDS=()

die() { echo "bench-replication: FAIL: $*" >&2; exit 1; }
info() { echo "bench-replication: $*" >&2; }

for tool in redis-cli redis-server memtier_benchmark taskset; do
    command -v "$tool" >/dev/null || die "$tool not found on PATH"
done
[[ -x "$TANDEM_BIN" ]] || (cd "$ROOT" && cargo build --release) || die "cargo build --release failed"
(cd "$ROOT" && cargo build --release --example repl_lag -q) || die "building examples/repl_lag failed"
LAG_PROBE="$ROOT/target/release/examples/repl_lag"

cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_up() { # port
    for _ in $(seq 300); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
    die "server on port $1 did not start"
}

# start_tandem CPU PORT [flags...]: prints the pid
start_tandem() {
    local cpu=$1 port=$2; shift 2
    taskset -c "$cpu" "$TANDEM_BIN" --port "$port" --bind 127.0.0.1 --server-threads 1 \
        --dir "$WORK" --dbfilename "tandem-$port.rdb" \
        --active-replica yes $TANDEM_FLAGS "$@" >"$WORK/tandem-$port.log" 2>&1 &
    PIDS+=($!)
    wait_up "$port"
    echo $!
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

field() { redis-cli -p "$1" info replication | tr -d '\r' | sed -n "s/^$2://p"; }

link_bytes() { redis-cli -p "$1" info replication | tr -d '\r' | sed -n 's/^tandem_master0:.*,bytes=\([0-9]*\),.*/\1/p'; }

wait_link() { # port: wait until its first master link is up
    for _ in $(seq 400); do [[ "$(field "$1" master_link_status)" == up ]] && return 0; sleep 0.05; done
    die "link of node on port $1 did not come up"
}

# memtier_write PORT [extra args]: prints ops/s
memtier_write() {
    local port=$1; shift
    taskset -c "$CLIENT_CPU" memtier_benchmark -s 127.0.0.1 -p "$port" --protocol=redis \
        --ratio=1:0 --pipeline=16 -c "$MT_CLIENTS" -t 1 -n "$MT_REQUESTS" -d 32 \
        --key-maximum=1000000 --hide-histogram "$@" 2>/dev/null |
        awk '/^Sets/ {print int($2)}'
}

throughput() {
    local a b pa pb t0 t1 ops alone_ops alone_cpu
    info "throughput: A alone"
    pa=$(free_port); a=$(start_tandem "$SERVER_CPU" "$pa")
    t0=$(cpu_ticks "$a"); ops=$(memtier_write "$pa"); t1=$(cpu_ticks "$a")
    alone_ops=$ops
    alone_cpu=$(awk -v d=$((t1 - t0)) -v n=$((MT_CLIENTS * MT_REQUESTS)) -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
    echo "alone: ${ops} writes/s, A CPU ${alone_cpu} us/write"
    kill -KILL "$a"

    info "throughput: A with active peer B"
    pa=$(free_port); pb=$(free_port)
    a=$(start_tandem "$SERVER_CPU" "$pa")
    b=$(start_tandem "$CLIENT_CPU" "$pb" --replicaof "127.0.0.1 $pa" $PEER_FLAGS)
    redis-cli -p "$pa" replicaof 127.0.0.1 "$pb" >/dev/null
    wait_link "$pa"; wait_link "$pb"
    local bytes0 bytes1
    bytes0=$(link_bytes "$pb")
    t0=$(cpu_ticks "$a"); ops=$(memtier_write "$pa"); t1=$(cpu_ticks "$a")
    # Wait for B to have it all: A's offset acknowledged.
    for _ in $(seq 200); do
        [[ "$(field "$pb" slave_repl_offset)" == "$(field "$pa" master_repl_offset)" ]] && break
        sleep 0.05
    done
    bytes1=$(link_bytes "$pb")
    local cpu per_write
    cpu=$(awk -v d=$((t1 - t0)) -v n=$((MT_CLIENTS * MT_REQUESTS)) -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
    per_write=$(awk -v b=$((bytes1 - bytes0)) -v n=$((MT_CLIENTS * MT_REQUESTS)) 'BEGIN {printf "%.1f", b / n}')
    echo "with peer: ${ops} writes/s ($(awk -v a="$ops" -v b="$alone_ops" 'BEGIN {printf "%.2f", a / b}')x alone), A CPU ${cpu} us/write, link A->B ${per_write} bytes/write"
    [[ "$(redis-cli -p "$pa" debug digest)" == "$(redis-cli -p "$pb" debug digest)" ]] &&
        echo "with peer: A and B hold the same data (DEBUG DIGEST)" || echo "with peer: DIGESTS DIFFER"

    info "throughput: writes to both"
    local half=$((MT_CLIENTS / 2)) o1 o2
    MT_CLIENTS=$half memtier_write "$pa" >"$WORK/o1" &
    local m1=$!
    MT_CLIENTS=$half memtier_write "$pb" >"$WORK/o2"
    wait "$m1"
    o1=$(cat "$WORK/o1"); o2=$(cat "$WORK/o2")
    echo "both: $((o1 + o2)) writes/s (A ${o1}, B ${o2})"
    kill -KILL "$a" "$b"
}

lag() {
    local pa pb a b
    pa=$(free_port); pb=$(free_port)
    a=$(start_tandem "$SERVER_CPU" "$pa")
    b=$(start_tandem "$CLIENT_CPU" "$pb" --replicaof "127.0.0.1 $pa")
    redis-cli -p "$pa" replicaof 127.0.0.1 "$pb" >/dev/null
    wait_link "$pa"; wait_link "$pb"
    # 10 connections, each rate-limited: LAG_RATE writes/s in total.
    local per_conn=$((LAG_RATE / 10))
    taskset -c "$CLIENT_CPU" memtier_benchmark -s 127.0.0.1 -p "$pa" --protocol=redis \
        --ratio=1:0 -c 10 -t 1 --rate-limiting="$per_conn" --test-time=60 -d 32 \
        --key-maximum=1000000 --hide-histogram >/dev/null 2>&1 &
    local m=$!
    PIDS+=($m)
    sleep 2
    echo "lag at ${LAG_RATE} writes/s: $(taskset -c "$CLIENT_CPU" "$LAG_PROBE" "$pa" "$pb" "$LAG_SAMPLES" 500)"
    kill -KILL "$m" 2>/dev/null || true
    echo "idle lag: $(taskset -c "$CLIENT_CPU" "$LAG_PROBE" "$pa" "$pb" "$LAG_SAMPLES" 500)"
    kill -KILL "$a" "$b"
}

# load PORT: SYNC_KEYS keys key:N with 32-byte values
load() {
    awk -v n="$SYNC_KEYS" 'BEGIN { v = "0123456789abcdef0123456789abcdef";
        for (i = 0; i < n; i++) { k = "key:" i; printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n", length(k), k, v } }' |
        redis-cli -p "$1" --pipe >/dev/null
}

# time_sync MASTER REPLICA: seconds until the replica holds the master's keys
time_sync() {
    local want t0
    want=$(redis-cli -p "$1" dbsize)
    t0=$(date +%s.%N)
    redis-cli -p "$2" replicaof 127.0.0.1 "$1" >/dev/null
    for _ in $(seq 6000); do
        [[ "$(field "$2" master_link_status)" == up && "$(redis-cli -p "$2" dbsize)" == "$want" ]] && break
        sleep 0.01
    done
    [[ "$(redis-cli -p "$2" dbsize)" == "$want" ]] || die "sync to port $2 did not complete"
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}'
}

fullsync() {
    local pa pb a b
    pa=$(free_port); pb=$(free_port)
    a=$(start_tandem "$SERVER_CPU" "$pa"); load "$pa"
    b=$(start_tandem "$CLIENT_CPU" "$pb")
    echo "tandem full sync of $SYNC_KEYS keys: $(time_sync "$pa" "$pb") s"
    kill -KILL "$a" "$b"
    pa=$(free_port); pb=$(free_port)
    for p in "$pa" "$pb"; do
        local cpu=$SERVER_CPU
        [[ "$p" == "$pb" ]] && cpu=$CLIENT_CPU
        # (--dir: a replica that loads through disk leaves its dump.rdb there.)
        taskset -c "$cpu" redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$WORK" --dbfilename "redis-$p.rdb" \
            --repl-diskless-sync yes --repl-diskless-sync-delay 0 >"$WORK/redis-$p.log" 2>&1 &
        PIDS+=($!)
        wait_up "$p"
    done
    load "$pa"
    echo "redis full sync of $SYNC_KEYS keys: $(time_sync "$pa" "$pb") s"
    redis-cli -p "$pa" shutdown nosave >/dev/null 2>&1 || true
    redis-cli -p "$pb" shutdown nosave >/dev/null 2>&1 || true
}

case "$MODE" in
    throughput) throughput ;;
    lag) lag ;;
    fullsync) fullsync ;;
    all) throughput; lag; fullsync ;;
    *) die "unknown mode $MODE (throughput, lag, fullsync, all)" ;;
esac
