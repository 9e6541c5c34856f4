#!/usr/bin/env bash
# Side-by-side benchmark of Tandem and redis-server on one machine, in one run.
#
# Usage: scripts/bench.sh [bench|types|memory|memory-types|persist|aof|bgsave]
#   bench   (default) throughput / latency / server CPU per op (GET/SET)
#   types   the same for the data-type tests of redis-benchmark at -P 16:
#           LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD ZPOPMIN LRANGE_100
#           LRANGE_600 MSET (override with TYPE_TESTS="lpush sadd ...")
#   memory  load 1,000,000 keys with 32-byte values into each server and
#           report VmRSS and DBSIZE
#   memory-types  load 100,000 hashes of 10 fields and 100,000 sorted sets
#           of 10 members (MEM_COLLECTIONS), report VmRSS per collection
#   persist RDB snapshots: for 1,000,000 keys of 32-byte values (MEM_KEYS) and
#           for 100,000 hashes of 10 fields (MEM_COLLECTIONS), the time SAVE
#           takes, the size of dump.rdb and the time a restart takes to load
#           it (as each server logs it: "DB loaded from disk"); medians of
#           ROUNDS saves and ROUNDS restarts
#   aof     the append-only log: SET throughput at -P 16 (redis-benchmark
#           -t set -c 50 -r 100000 -d 32, -n N_P16) for each value of AOF_MODES
#           (default "off everysec": appendonly no, then appendonly yes with
#           appendfsync everysec; "always" and "no" work too), and the size of
#           the log's directory afterwards
#   bgsave  throughput while BGSAVE runs: MEM_KEYS keys of 32 bytes loaded, then
#           memtier_benchmark --ratio 1:10 --pipeline 16 over those keys
#           (-c MT_CLIENTS -t MT_THREADS -n MT_N_P16), without a save, and with
#           BGSAVE started again as soon as the last one ends, for the whole run
#
# Servers run pinned to CPU $SERVER_CPU, clients to CPU $CLIENT_CPU. Each
# server is started once and warmed up (keyspaces pre-filled); then for every
# round and every test the servers run back to back, alternating which goes
# first. Server CPU comes from utime+stime in /proc/PID/stat.
#
# Environment (defaults in brackets):
#   SERVERS        servers to run, any of "tandem redis"          [tandem redis]
#   ROUNDS         rounds per test                                [3]
#   N              redis-benchmark -n for every test; or per test:
#   N_P1, N_P16    redis-benchmark -n at -P 1 / -P 16             [100000, 200000]
#   TANDEM_BIN     Tandem binary       [target/release/tandem, built if missing]
#   TANDEM_FLAGS   extra Tandem flags                             []
#   TANDEM_CMD     full Tandem command; {port} is replaced by the port
#                  [$TANDEM_BIN --port {port} --bind 127.0.0.1 --server-threads 1 $TANDEM_FLAGS]
#   REDIS_CMD      full redis command, same convention
#                  [redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no]
#   MEMTIER        auto | 0 | 1: run memtier_benchmark tests      [auto = if on PATH]
#   MT_CLIENTS, MT_THREADS   memtier -c / -t                      [50, 1]
#   MT_N_P1, MT_N_P16        memtier -n (requests per client)     [10000, 40000]
#   MEMTEST=1      also run the memory test after the benchmark
#   MEM_KEYS       keys for the memory test                       [1000000]
#   SERVER_CPU, CLIENT_CPU   CPUs to pin to                       [1, 0]
#   CPU_SOURCE     stat: utime+stime from /proc/PID/stat (10 ms ticks);
#                  schedstat: summed /proc/PID/task/*/schedstat (ns)  [stat]
#   STARTUP_TIMEOUT, BENCH_TIMEOUT   seconds                      [15, 300]
#   RAW_CSV        also write per-run results to this file        []
set -euo pipefail
shopt -s inherit_errexit # command substitutions fail like the main shell

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE="${1:-bench}"
SERVERS="${SERVERS:-tandem redis}"
ROUNDS="${ROUNDS:-3}"
N_P1="${N_P1:-${N:-100000}}"
N_P16="${N_P16:-${N:-200000}}"
TANDEM_BIN="${TANDEM_BIN:-$ROOT/target/release/tandem}"
TANDEM_FLAGS="${TANDEM_FLAGS:-}"
# (Plain assignments: a "}" inside ${VAR:-...} would end the expansion early.)
[[ -n "${TANDEM_CMD:-}" ]] || TANDEM_CMD="$TANDEM_BIN --port {port} --bind 127.0.0.1 --server-threads 1 $TANDEM_FLAGS"
[[ -n "${REDIS_CMD:-}" ]] || REDIS_CMD="redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no"
MEMTIER="${MEMTIER:-auto}"
MT_CLIENTS="${MT_CLIENTS:-50}"
MT_THREADS="${MT_THREADS:-1}"
MT_N_P1="${MT_N_P1:-10000}"
MT_N_P16="${MT_N_P16:-40000}"
MEMTEST="${MEMTEST:-0}"
MEM_KEYS="${MEM_KEYS:-1000000}"
SERVER_CPU="${SERVER_CPU:-1}"
CLIENT_CPU="${CLIENT_CPU:-0}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-15}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-300}"
RAW_CSV="${RAW_CSV:-}"
CPU_SOURCE="${CPU_SOURCE:-stat}"
KEYSPACE=100000 # -r for redis-benchmark, --key-maximum for memtier
CLK_TCK="$(getconf CLK_TCK)"

die()  { echo "bench: FAIL: $*" >&2; exit 1; }
info() { echo "bench: $*" >&2; }

case "$MODE" in bench | types | memory | memory-types | persist | aof | bgsave) ;; *) die "unknown mode '$MODE' (use bench, types, memory, memory-types, persist, aof or bgsave)" ;; esac
AOF_MODES="${AOF_MODES:-off everysec}"
for m in $AOF_MODES; do
    case "$m" in off | always | everysec | no) ;; *) die "unknown AOF mode '$m' in AOF_MODES (use off, always, everysec, no)" ;; esac
done
TYPE_TESTS="${TYPE_TESTS:-lpush rpush lpop rpop sadd hset spop zadd zpopmin lrange_100 lrange_600 mset}"
MEM_COLLECTIONS="${MEM_COLLECTIONS:-100000}"
case "$CPU_SOURCE" in stat | schedstat) ;; *) die "CPU_SOURCE must be stat or schedstat" ;; esac
for tool in redis-cli redis-benchmark taskset setsid timeout getconf; do
    command -v "$tool" >/dev/null || die "$tool not found on PATH"
done
case "$MEMTIER" in
    auto) command -v memtier_benchmark >/dev/null && MEMTIER=1 || MEMTIER=0 ;;
    1) command -v memtier_benchmark >/dev/null || die "MEMTIER=1 but memtier_benchmark is not on PATH" ;;
    0) ;;
    *) die "MEMTIER must be auto, 0 or 1" ;;
esac
for s in $SERVERS; do
    case "$s" in tandem | redis) ;; *) die "unknown server '$s' in SERVERS (use tandem and/or redis)" ;; esac
done

# Build Tandem only when the default command is used and the binary is missing.
if [[ " $SERVERS " == *" tandem "* && "$TANDEM_CMD" == "$TANDEM_BIN "* && ! -x "$TANDEM_BIN" ]]; then
    [[ "$TANDEM_BIN" == "$ROOT/target/release/tandem" ]] || die "TANDEM_BIN not found: $TANDEM_BIN"
    info "$TANDEM_BIN missing; running cargo build --release"
    (cd "$ROOT" && cargo build --release) || die "cargo build --release failed"
fi

WORK="$(mktemp -d -t tandem-bench.XXXXXX)"
declare -A PID=() PORT=() LAUNCH_PID=()
SERVER_EXTRA="" # flags added to the next server started (persist mode: --dir)

# --- Server lifecycle ----------------------------------------------------------

# Stop one server: TERM to its process group, KILL after 5 s.
stop_server() {
    local name=$1 lp=${LAUNCH_PID[$1]:-}
    [[ -n "$lp" ]] || return 0
    kill -TERM -- "-$lp" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$lp" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$lp" 2>/dev/null || true
    wait "$lp" 2>/dev/null || true
    unset "LAUNCH_PID[$name]" "PID[$name]" "PORT[$name]"
}

cleanup() {
    local rc=$? s
    for s in "${!LAUNCH_PID[@]}"; do stop_server "$s"; done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "could not find a free port"
}

server_cmd() { if [[ $1 == tandem ]]; then echo "$TANDEM_CMD"; else echo "$REDIS_CMD"; fi; }

# Start a server pinned to SERVER_CPU in its own session (setsid), wait for
# PONG, and record the pid that owns the listening socket (so a wrapper
# script that does not exec is measured correctly too).
start_server() {
    local name=$1 attempt port cmd lp deadline owner token='{port}'
    for attempt in 1 2 3; do
        port="$(free_port)"
        cmd="$(server_cmd "$name") $SERVER_EXTRA"
        cmd="${cmd//"$token"/$port}"
        info "starting $name (attempt $attempt): taskset -c $SERVER_CPU $cmd"
        setsid taskset -c "$SERVER_CPU" bash -c "exec $cmd" >"$WORK/$name.log" 2>&1 &
        lp=$!
        LAUNCH_PID[$name]=$lp
        deadline=$((SECONDS + STARTUP_TIMEOUT))
        while ((SECONDS < deadline)); do
            if ! kill -0 "$lp" 2>/dev/null; then
                wait "$lp" 2>/dev/null || true
                unset "LAUNCH_PID[$name]"
                info "$name exited during startup; log:"
                tail -n 20 "$WORK/$name.log" >&2 || true
                continue 2
            fi
            if [[ "$(timeout 2 redis-cli -p "$port" ping 2>/dev/null)" == "PONG" ]]; then
                owner="$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)" || true
                PID[$name]="${owner:-$lp}"
                PORT[$name]=$port
                info "$name up: pid ${PID[$name]}, port $port, affinity $(taskset -pc "${PID[$name]}" | sed 's/.*: //')"
                return 0
            fi
            sleep 0.05 # poll interval
        done
        tail -n 20 "$WORK/$name.log" >&2 || true
        die "$name did not answer PING with PONG within ${STARTUP_TIMEOUT}s"
    done
    die "$name failed to start 3 times"
}

# CPU time used so far by a process (all its threads), in nanoseconds.
# stat: utime+stime (fields 14, 15 of /proc/PID/stat) in clock ticks, so the
# resolution is 1/CLK_TCK s. schedstat: exact run time of the live threads.
cpu_ns() {
    local stat f
    if [[ "$CPU_SOURCE" == schedstat ]]; then
        cat "/proc/$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%.0f\n", t }'
        return
    fi
    stat="$(<"/proc/$1/stat")" || die "server pid $1 is gone"
    stat="${stat##*) }" # drop "pid (comm) "; field 3 (state) is now first
    read -r -a f <<<"$stat"
    echo $(((f[11] + f[12]) * 1000000000 / CLK_TCK))
}

# Percentage of all CPUs busy over half a second (from /proc/stat).
machine_busy_pct() {
    local a b
    a="$(head -n 1 /proc/stat)"; sleep 0.5; b="$(head -n 1 /proc/stat)"
    awk -v a="$a" -v b="$b" 'BEGIN { n = split(a, x); split(b, y)
        for (i = 2; i <= n; i++) { d = y[i] - x[i]; tot += d; if (i == 5 || i == 6) idle += d }
        printf "%.0f\n", (tot > 0 ? 100 * (tot - idle) / tot : 0) }'
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Run a client pinned to CLIENT_CPU with a timeout. Sets CLIENT_TIME to
# "real user sys" seconds (user+sys include the client's children).
run_client() {
    local out=$1 err=$2 rc=0 TIMEFORMAT='%R %U %S'
    shift 2
    { time timeout "$BENCH_TIMEOUT" taskset -c "$CLIENT_CPU" "$@" >"$out" 2>"$err"; } 2>"$WORK/time" || rc=$?
    CLIENT_TIME="$(tail -n 1 "$WORK/time")"
    if ((rc != 0)); then
        tail -n 20 "$err" | tr '\r' '\n' | tail -n 10 >&2
        ((rc == 124)) && die "client timed out after ${BENCH_TIMEOUT}s: $*"
        die "client exited with status $rc: $*"
    fi
}

# memtier exits 0 on error replies and dropped connections; it logs them to
# stderr. Fail if it did, or if it did not complete the expected op count.
check_memtier() {
    local err=$1 expected=$2 ops
    if tr '\r' '\n' <"$err" | grep -i -E 'error|fail|dropped|restart|exception|timeout|refused|reset' >"$WORK/mt.errors"; then
        sort "$WORK/mt.errors" | uniq -c | sort -rn | head -n 5 >&2
        die "memtier_benchmark reported errors"
    fi
    ops="$(tr '\r' '\n' <"$err" | grep -o '[0-9]\+ ops,' | tail -n 1 | grep -o '[0-9]\+')" || true
    [[ "${ops:-0}" == "$expected" ]] || die "memtier_benchmark completed ${ops:-0} ops, expected $expected"
}

MT_BASE=(memtier_benchmark -s 127.0.0.1 --hide-histogram -d 32)

# Op count of a memtier "--key-pattern P:P -n allkeys" load with C clients in
# total: each client does (max - min) / C + 1 requests.
mt_allkeys_ops() { echo $(((($2 - $1) / $3 + 1) * $3)); }

# Fill the keyspaces the tests read, so GETs hit and the hash tables have
# already grown before anything is measured. Not measured.
warm_up() {
    local name=$1 port=${PORT[$1]}
    info "warming up $name"
    run_client "$WORK/w.out" "$WORK/w.err" redis-benchmark -h 127.0.0.1 -p "$port" -t set \
        -n $((KEYSPACE * 5)) -r "$KEYSPACE" -d 32 -c 50 -P 16 -q
    if ((MEMTIER)); then
        run_client "$WORK/w.out" "$WORK/w.err" "${MT_BASE[@]}" -p "$port" --ratio 1:0 --key-pattern P:P \
            --key-minimum 1 --key-maximum "$KEYSPACE" -n allkeys --pipeline 16 -c 4 -t 1
        check_memtier "$WORK/w.err" "$(mt_allkeys_ops 1 "$KEYSPACE" 4)"
    fi
}

# --- Tests ---------------------------------------------------------------------

if [[ "$MODE" == types ]]; then
    TESTS=()
    for t in $TYPE_TESTS; do TESTS+=("rb-$t-P16"); done
else
    TESTS=(rb-set-P1 rb-get-P1 rb-set-P16 rb-get-P16)
    ((MEMTIER)) && TESTS+=(mt-1:10-P1 mt-1:10-P16)
fi

# run_test NAME TEST
#   -> prints "ops ops_per_s p50_ms p99_ms cpu_us_per_op srv% cli% srv_cpu_ms oth%"
# srv%/cli% = CPU per op x ops/s: how busy server and client were while
# requests flowed (wall time would include the tools' start/stop overhead).
# oth% = CPU used by everything else on the machine during the test (from
# /proc/stat), in % of one CPU: other people's builds show up here.
run_test() {
    local name=$1 test=$2 port=${PORT[$1]} pid=${PID[$1]} t0 t1 ops res pl n m0 m1
    m0="$(head -n 1 /proc/stat)"
    case "$test" in
        rb-*)
            local cmd=${test#rb-}; cmd=${cmd%-P*}
            pl=${test##*-P}
            if ((pl == 1)); then n=$N_P1; else n=$N_P16; fi
            t0=$(cpu_ns "$pid")
            run_client "$WORK/t.out" "$WORK/t.err" redis-benchmark -h 127.0.0.1 -p "$port" -t "$cmd" \
                -n "$n" -c 50 -r "$KEYSPACE" -d 32 -P "$pl" --csv
            t1=$(cpu_ns "$pid")
            ops=$n
            # --csv: header names the columns; take rps, p50 and p99 by name, from the
            # last row (LRANGE tests first print the LPUSH that fills the list).
            res="$(awk -F, '{ gsub(/"/, "") }
                NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                { last = $col["rps"] " " $col["p50_latency_ms"] " " $col["p99_latency_ms"] }
                END { print last }' "$WORK/t.out")"
            ;;
        mt-*)
            pl=${test##*-P}
            if ((pl == 1)); then n=$MT_N_P1; else n=$MT_N_P16; fi
            ops=$((n * MT_CLIENTS * MT_THREADS))
            t0=$(cpu_ns "$pid")
            run_client "$WORK/t.out" "$WORK/t.err" "${MT_BASE[@]}" -p "$port" --ratio 1:10 --pipeline "$pl" \
                -c "$MT_CLIENTS" -t "$MT_THREADS" -n "$n" --key-minimum 1 --key-maximum "$KEYSPACE" \
                --distinct-client-seed --print-percentiles 50,99
            t1=$(cpu_ns "$pid")
            check_memtier "$WORK/t.err" "$ops"
            # Totals: Type Ops/sec Hits/sec Misses/sec Avg p50 p99 KB/sec
            res="$(awk '$1 == "Totals" { print $2, $6, $7 }' "$WORK/t.out")"
            ;;
    esac
    m1="$(head -n 1 /proc/stat)"
    [[ "$(wc -w <<<"$res")" == 3 ]] || die "could not parse $test output for $name: $(head -c 300 "$WORK/t.out")"
    awk -v ops="$ops" -v dt=$((t1 - t0)) -v tm="$CLIENT_TIME" -v res="$res" \
        -v m0="$m0" -v m1="$m1" -v hz="$CLK_TCK" 'BEGIN {
        split(tm, t, " "); split(res, r, " ")
        srv_us = dt / 1000 / ops; cli_us = (t[2] + t[3]) * 1e6 / ops
        # machine busy = all /proc/stat cpu columns except idle (4) and iowait (5)
        n = split(m0, a); split(m1, b)
        for (i = 2; i <= n; i++) if (i != 5 && i != 6) busy += b[i] - a[i]
        other = busy / hz - dt / 1e9 - (t[2] + t[3])
        oth = (t[1] > 0 ? 100 * other / t[1] : 0); if (oth < 0) oth = 0
        printf "%d %.0f %.3f %.3f %.3f %.0f %.0f %.0f %.0f\n", ops, r[1], r[2], r[3],
            srv_us, srv_us * r[1] / 1e4, cli_us * r[1] / 1e4, dt / 1e6, oth
    }'
}

# Median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Column of RAW for (test, server); columns: round test server ops ops/s p50 p99
# cpu/op srv% cli% srv_cpu_ms oth%
col() { awk -v t="$1" -v s="$2" -v c="$3" '$2 == t && $3 == s { print $c }' "$WORK/raw"; }

# Per-round ratio tandem/redis of column C for TEST, then the median.
ratio() {
    awk -v t="$1" -v c="$2" '$2 == t { v[$1 " " $3] = $c; r[$1] = 1 }
        END { for (k in r) if ((k " redis") in v && (k " tandem") in v && v[k " redis"] > 0)
                  print v[k " tandem"] / v[k " redis"] }' "$WORK/raw" | median
}

bench_mode() {
    local s r t order line
    info "client CPU $CLIENT_CPU, server CPU $SERVER_CPU, CLK_TCK $CLK_TCK, rounds $ROUNDS"
    info "redis-benchmark: -c 50 -r $KEYSPACE -d 32, -n $N_P1 at -P 1, -n $N_P16 at -P 16"
    ((MEMTIER)) && info "memtier_benchmark: --ratio 1:10 -c $MT_CLIENTS -t $MT_THREADS -d 32 --key-maximum $KEYSPACE, -n $MT_N_P1 at --pipeline 1, -n $MT_N_P16 at --pipeline 16"
    ((MEMTIER)) || info "memtier_benchmark not used (MEMTIER=0 or not on PATH)"
    BUSY="$(machine_busy_pct)"
    ((BUSY < 10)) || info "WARNING: the machine is already ${BUSY}% busy before the benchmark; results will be noisy"
    for s in $SERVERS; do start_server "$s"; warm_up "$s"; done

    : >"$WORK/raw"
    for ((r = 1; r <= ROUNDS; r++)); do
        # Alternate which server goes first, to cancel out drift and ordering.
        order=$SERVERS
        ((r % 2 == 0)) && order="$(tr ' ' '\n' <<<"$SERVERS" | tac | xargs)"
        for t in "${TESTS[@]}"; do
            for s in $order; do
                line="$r $t $s $(run_test "$s" "$t")"
                echo "$line" >>"$WORK/raw"
                info "round $r  $(awk '{ printf "%-12s %-7s %9s ops/s  p50 %s  p99 %s  %s us/op  srv %s%%  cli %s%%  oth %s%%", $2, $3, $5, $6, $7, $8, $9, $10, $12 }' <<<"$line")"
            done
        done
    done
    [[ -z "$RAW_CSV" ]] || { echo "round,test,server,ops,ops_per_s,p50_ms,p99_ms,cpu_us_per_op,server_cpu_pct,client_cpu_pct,server_cpu_ms,other_cpu_pct" >"$RAW_CSV"; tr ' ' ',' <"$WORK/raw" >>"$RAW_CSV"; }

    # Summary: medians over rounds.
    echo
    echo "Medians over $ROUNDS round(s). CPU us/op = server CPU time ($CPU_SOURCE) / ops; T/R = median of per-round Tandem/Redis ratios."
    echo "srv%/cli% = server/client CPU busy while running (CPU/op x ops/s); cli% near 100 means the client is the bottleneck."
    echo "oth% = CPU used by other processes during the test (% of one CPU); much above 5 means the numbers are disturbed."
    awk -v src="$CPU_SOURCE" -v hz="$CLK_TCK" 'NR == 1 || $11 < m { m = $11 } END { if (src == "stat")
        printf "CPU resolution: 1 tick = %.0f ms; smallest server CPU delta %d ms (+-%.0f%%).\n", 1000 / hz, m, (m > 0 ? 100000 / hz / m : 100) }' "$WORK/raw"
    echo "Machine busy before start: ${BUSY}% (server CPU $SERVER_CPU, client CPU $CLIENT_CPU); runs with oth% > 10: $(awk '$12 > 10' "$WORK/raw" | wc -l) of $(wc -l <"$WORK/raw")."
    printf '%-12s %-7s %10s %8s %8s %11s %5s %5s %5s\n' test server "ops/s" "p50 ms" "p99 ms" "CPU us/op" "srv%" "cli%" "oth%"
    for t in "${TESTS[@]}"; do
        for s in $SERVERS; do
            printf '%-12s %-7s %10.0f %8.3f %8.3f %11.3f %5.0f %5.0f %5.0f\n' "$t" "$s" \
                "$(col "$t" "$s" 5 | median)" "$(col "$t" "$s" 6 | median)" "$(col "$t" "$s" 7 | median)" \
                "$(col "$t" "$s" 8 | median)" "$(col "$t" "$s" 9 | median)" "$(col "$t" "$s" 10 | median)" \
                "$(col "$t" "$s" 12 | median)"
        done
        if [[ " $SERVERS " == *" tandem "* && " $SERVERS " == *" redis "* ]]; then
            printf '%-12s %-7s %10s %28s\n' "$t" "T/R" "$(printf 'x%.2f' "$(ratio "$t" 5)")" \
                "$(printf 'x%.2f' "$(ratio "$t" 8)")"
        fi
    done
    for s in $SERVERS; do stop_server "$s"; done
}

# --- Memory test -----------------------------------------------------------------

# Load MEM_KEYS keys with 32-byte values into a fresh server, report RSS/DBSIZE.
memory_mode() {
    local s port pid rss0 rss1 dbsize lines=()
    info "memory test: $MEM_KEYS keys, 32-byte values, $( ((MEMTIER)) && echo memtier_benchmark || echo 'redis-cli --pipe')"
    for s in $SERVERS; do
        start_server "$s"
        port=${PORT[$s]} pid=${PID[$s]}
        rss0=$(rss_kb "$pid")
        if ((MEMTIER)); then
            # P:P gives each client its own slice of 1..MEM_KEYS: every key set once.
            run_client "$WORK/m.out" "$WORK/m.err" "${MT_BASE[@]}" -p "$port" --ratio 1:0 --key-pattern P:P \
                --key-minimum 1 --key-maximum "$MEM_KEYS" -n allkeys --pipeline 32 -c 4 -t 1
            check_memtier "$WORK/m.err" "$(mt_allkeys_ops 1 "$MEM_KEYS" 4)"
        else
            # Fallback: raw RESP through redis-cli --pipe (needs ECHO on the
            # server). Same key names and values as memtier uses.
            awk -v n="$MEM_KEYS" 'BEGIN { v = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                for (i = 1; i <= n; i++) { k = "memtier-" i
                    printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n", length(k), k, v } }' >"$WORK/load.resp"
            run_client "$WORK/m.out" "$WORK/m.err" redis-cli -p "$port" --pipe <"$WORK/load.resp"
            grep -q 'errors: 0, replies: ' "$WORK/m.out" || die "redis-cli --pipe: $(cat "$WORK/m.out")"
        fi
        dbsize="$(timeout 10 redis-cli -p "$port" dbsize)"
        rss1=$(rss_kb "$pid")
        [[ "$dbsize" == "$MEM_KEYS" ]] || info "warning: $s DBSIZE is $dbsize, expected $MEM_KEYS"
        lines+=("$(awk -v s="$s" -v a="$rss0" -v b="$rss1" -v d="$dbsize" 'BEGIN {
            printf "%-7s %10d %12.1f %12.1f %14.1f", s, d, a / 1024, b / 1024, (d > 0 ? (b - a) * 1024 / d : 0) }')")
        stop_server "$s"
    done
    echo
    printf '%-7s %10s %12s %12s %14s\n' server DBSIZE "RSS0 MiB" "RSS MiB" "bytes/key"
    printf '%s\n' "${lines[@]}"
}

# Load MEM_COLLECTIONS hashes of 10 fields (8-byte values) and as many sorted
# sets of 10 members into a fresh server each; report RSS growth per collection.
memory_types_mode() {
    local s port pid rss0 rss1 rss2 dbsize lines=()
    awk -v n="$MEM_COLLECTIONS" 'BEGIN { for (i = 1; i <= n; i++) { k = "hash:" i
        printf "*22\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n", length(k), k
        for (f = 0; f < 10; f++) { fn = "field:" f; v = sprintf("v%07d", i)
            printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(fn), fn, length(v), v } } }' >"$WORK/hash.resp"
    awk -v n="$MEM_COLLECTIONS" 'BEGIN { for (i = 1; i <= n; i++) { k = "zset:" i
        printf "*22\r\n$4\r\nZADD\r\n$%d\r\n%s\r\n", length(k), k
        for (f = 0; f < 10; f++) { m = "member:" f; sc = i + f
            printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(sc), sc, length(m), m } } }' >"$WORK/zset.resp"
    info "memory test: $MEM_COLLECTIONS hashes of 10 fields, then $MEM_COLLECTIONS sorted sets of 10 members"
    for s in $SERVERS; do
        start_server "$s"
        port=${PORT[$s]} pid=${PID[$s]}
        rss0=$(rss_kb "$pid")
        run_client "$WORK/m.out" "$WORK/m.err" redis-cli -p "$port" --pipe <"$WORK/hash.resp"
        grep -q 'errors: 0, replies: ' "$WORK/m.out" || die "redis-cli --pipe: $(cat "$WORK/m.out")"
        rss1=$(rss_kb "$pid")
        run_client "$WORK/m.out" "$WORK/m.err" redis-cli -p "$port" --pipe <"$WORK/zset.resp"
        grep -q 'errors: 0, replies: ' "$WORK/m.out" || die "redis-cli --pipe: $(cat "$WORK/m.out")"
        rss2=$(rss_kb "$pid")
        dbsize="$(timeout 10 redis-cli -p "$port" dbsize)"
        lines+=("$(awk -v s="$s" -v a="$rss0" -v b="$rss1" -v c="$rss2" -v n="$MEM_COLLECTIONS" -v d="$dbsize" 'BEGIN {
            printf "%-7s %10d %14.1f %14.1f %12.0f %12.0f", s, d, (b - a) / 1024, (c - b) / 1024, (b - a) * 1024 / n, (c - b) * 1024 / n }')")
        stop_server "$s"
    done
    echo
    printf '%-7s %10s %14s %14s %12s %12s\n' server DBSIZE "hashes MiB" "zsets MiB" "B/hash" "B/zset"
    printf '%s\n' "${lines[@]}"
}

# --- Persistence test ------------------------------------------------------------

# The RESP to load a dataset: "strings" (MEM_KEYS keys, 32-byte values, memtier's names)
# or "hashes" (MEM_COLLECTIONS hashes of 10 fields, as memory-types).
persist_dataset() {
    case "$1" in
        strings) awk -v n="$MEM_KEYS" 'BEGIN { v = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            for (i = 1; i <= n; i++) { k = "memtier-" i
                printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n", length(k), k, v } }' ;;
        hashes) awk -v n="$MEM_COLLECTIONS" 'BEGIN { for (i = 1; i <= n; i++) { k = "hash:" i
            printf "*22\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n", length(k), k
            for (f = 0; f < 10; f++) { fn = "field:" f; v = sprintf("v%07d", i)
                printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(fn), fn, length(v), v } } }' ;;
    esac
}

# Milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

persist_mode() {
    local ds s port dir r t0 t1 keys size dbsize loaded lines=()
    info "persist test: $MEM_KEYS keys of 32 bytes, $MEM_COLLECTIONS hashes of 10 fields; $ROUNDS saves and $ROUNDS loads each"
    for ds in strings hashes; do
        persist_dataset "$ds" >"$WORK/$ds.resp"
        for s in $SERVERS; do
            dir="$WORK/rdb-$s-$ds"
            mkdir -p "$dir"
            SERVER_EXTRA="--dir $dir"
            start_server "$s"
            port=${PORT[$s]}
            run_client "$WORK/p.out" "$WORK/p.err" redis-cli -p "$port" --pipe <"$WORK/$ds.resp"
            grep -q 'errors: 0, replies: ' "$WORK/p.out" || die "redis-cli --pipe: $(cat "$WORK/p.out")"
            keys="$(timeout 10 redis-cli -p "$port" dbsize)"
            : >"$WORK/save-ms"
            for ((r = 1; r <= ROUNDS; r++)); do
                t0=$(now_ms)
                [[ "$(timeout "$BENCH_TIMEOUT" redis-cli -p "$port" save)" == OK ]] || die "$s: SAVE failed"
                t1=$(now_ms)
                echo $((t1 - t0)) >>"$WORK/save-ms"
                info "$ds $s: SAVE of $keys keys took $((t1 - t0)) ms"
            done
            size="$(stat -c %s "$dir/dump.rdb")"
            stop_server "$s"
            : >"$WORK/load-ms"
            for ((r = 1; r <= ROUNDS; r++)); do
                start_server "$s"
                port=${PORT[$s]}
                for _ in $(seq 6000); do
                    [[ "$(timeout 2 redis-cli -p "$port" info persistence | tr -d '\r' | grep '^loading:')" == loading:0 ]] && break
                    sleep 0.05
                done
                dbsize="$(timeout 10 redis-cli -p "$port" dbsize)"
                [[ "$dbsize" == "$keys" ]] || die "$s loaded $dbsize keys of $keys"
                loaded="$(grep -o 'DB loaded from disk: [0-9.]* seconds' "$WORK/$s.log" | tail -n 1 | awk '{ print $5 * 1000 }')"
                [[ -n "$loaded" ]] || die "$s did not log its load time"
                echo "$loaded" >>"$WORK/load-ms"
                info "$ds $s: load took $loaded ms"
                stop_server "$s"
            done
            lines+=("$ds $s $keys $(median <"$WORK/save-ms") $size $(median <"$WORK/load-ms")")
            rm -rf "$dir"
        done
    done
    SERVER_EXTRA=""
    echo
    echo "Medians of $ROUNDS SAVEs and $ROUNDS loads; server on CPU $SERVER_CPU. T/R = Tandem / Redis."
    printf '%-8s %-7s %9s %9s %10s %9s\n' dataset server keys "SAVE ms" "file MiB" "load ms"
    printf '%s\n' "${lines[@]}" | awk '{ printf "%-8s %-7s %9d %9.0f %10.1f %9.0f\n", $1, $2, $3, $4, $5 / 1048576, $6
        v[$1 " " $2] = $0; save[$1 " " $2] = $4; size[$1 " " $2] = $5; load[$1 " " $2] = $6; ds[$1] = 1 }
        END { for (d in ds) if ((d " tandem") in v && (d " redis") in v)
            printf "%-8s %-7s %9s %9s %10s %9s\n", d, "T/R", "", sprintf("x%.2f", save[d " tandem"] / save[d " redis"]),
                sprintf("x%.2f", size[d " tandem"] / size[d " redis"]), sprintf("x%.2f", load[d " tandem"] / load[d " redis"]) }'
}

# --- Append-only log test ----------------------------------------------------------

# Medians over rounds of tests named "$prefix-$mode" in RAW, one line per (mode, server),
# with the Tandem/Redis ratio of ops/s and CPU per op.
summary_by_test() {
    local t s
    printf '%-16s %-7s %10s %8s %8s %11s %5s\n' test server "ops/s" "p50 ms" "p99 ms" "CPU us/op" "oth%"
    for t in "$@"; do
        for s in $SERVERS; do
            [[ -n "$(col "$t" "$s" 5)" ]] || continue
            printf '%-16s %-7s %10.0f %8.3f %8.3f %11.3f %5.0f\n' "$t" "$s" \
                "$(col "$t" "$s" 5 | median)" "$(col "$t" "$s" 6 | median)" "$(col "$t" "$s" 7 | median)" \
                "$(col "$t" "$s" 8 | median)" "$(col "$t" "$s" 12 | median)"
        done
        if [[ " $SERVERS " == *" tandem "* && " $SERVERS " == *" redis "* ]]; then
            printf '%-16s %-7s %10s %28s\n' "$t" "T/R" "$(printf 'x%.2f' "$(ratio "$t" 5)")" \
                "$(printf 'x%.2f' "$(ratio "$t" 8)")"
        fi
    done
}

aof_mode() {
    local mode s r order line dir tests=() sizes=()
    info "aof test: SET at -P 16, -c 50, -n $N_P16, rounds $ROUNDS, modes: $AOF_MODES"
    : >"$WORK/raw"
    for mode in $AOF_MODES; do
        for s in $SERVERS; do
            dir="$WORK/aof-$s-$mode"
            rm -rf "$dir" && mkdir -p "$dir"
            if [[ "$mode" == off ]]; then
                SERVER_EXTRA="--dir $dir --appendonly no"
            else
                SERVER_EXTRA="--dir $dir --appendonly yes --appendfsync $mode"
            fi
            start_server "$s"
        done
        SERVER_EXTRA=""
        tests+=("aof-$mode")
        for ((r = 1; r <= ROUNDS; r++)); do
            order=$SERVERS
            ((r % 2 == 0)) && order="$(tr ' ' '\n' <<<"$SERVERS" | tac | xargs)"
            for s in $order; do
                line="$r aof-$mode $s $(run_test "$s" rb-set-P16)"
                echo "$line" >>"$WORK/raw"
                info "round $r  $(awk '{ printf "%-14s %-7s %9s ops/s  p50 %s  p99 %s  %s us/op  oth %s%%", $2, $3, $5, $6, $7, $8, $12 }' <<<"$line")"
            done
        done
        for s in $SERVERS; do
            stop_server "$s"
            dir="$WORK/aof-$s-$mode"
            [[ "$mode" == off ]] || sizes+=("$mode $s $(du -sb "$dir/appendonlydir" | cut -f1)")
            rm -rf "$dir"
        done
    done
    echo
    echo "SET -P 16 -c 50 -d 32 -r $KEYSPACE, medians over $ROUNDS round(s); server on CPU $SERVER_CPU (all its threads), client on CPU $CLIENT_CPU."
    echo "T/R = median of per-round Tandem/Redis ratios (ops/s, then CPU us/op)."
    summary_by_test "${tests[@]}"
    if ((${#sizes[@]})); then
        echo
        echo "Log directory after $((ROUNDS * N_P16)) SETs per server (bytes):"
        printf '%s\n' "${sizes[@]}" | awk '{ printf "%-9s %-7s %12d\n", $1, $2, $3 }'
    fi
}

# --- Throughput during BGSAVE ----------------------------------------------------------

# Starts BGSAVE on PORT again whenever none is running, until $WORK/stop-bgsave exists;
# then writes "saves started, samples with a save running, samples" to $WORK/bgsave-stats.
bgsave_loop() {
    local port=$1 started=0 busy=0 samples=0 st
    while [[ ! -e "$WORK/stop-bgsave" ]]; do
        st="$(timeout 2 redis-cli -p "$port" info persistence | tr -d '\r' | awk -F: '$1 == "rdb_bgsave_in_progress" { print $2 }')" || true
        samples=$((samples + 1))
        if [[ "$st" == 1 ]]; then
            busy=$((busy + 1))
        elif [[ "$(timeout 2 redis-cli -p "$port" bgsave 2>/dev/null)" == "Background saving started" ]]; then
            started=$((started + 1))
        fi
        sleep 0.1
    done
    echo "$started $busy $samples" >"$WORK/bgsave-stats"
}

bgsave_mode() {
    local s r port dir line lp stats lines=()
    ((MEMTIER)) || die "bgsave mode needs memtier_benchmark"
    persist_dataset strings >"$WORK/strings.resp"
    KEYSPACE=$MEM_KEYS # memtier reads and writes the loaded keys
    info "bgsave test: $MEM_KEYS keys of 32 bytes; memtier --ratio 1:10 --pipeline 16 -c $MT_CLIENTS -t $MT_THREADS -n $MT_N_P16; $ROUNDS rounds without and with BGSAVE"
    : >"$WORK/raw"
    for s in $SERVERS; do
        dir="$WORK/bgsave-$s"
        mkdir -p "$dir"
        SERVER_EXTRA="--dir $dir"
        start_server "$s"
        SERVER_EXTRA=""
        port=${PORT[$s]}
        run_client "$WORK/p.out" "$WORK/p.err" redis-cli -p "$port" --pipe <"$WORK/strings.resp"
        grep -q 'errors: 0, replies: ' "$WORK/p.out" || die "redis-cli --pipe: $(cat "$WORK/p.out")"
        for ((r = 1; r <= ROUNDS; r++)); do
            line="$r bgsave-off $s $(run_test "$s" mt-1:10-P16)"
            echo "$line" >>"$WORK/raw"
            info "round $r  $(awk '{ printf "%-12s %-7s %9s ops/s  p50 %s  p99 %s  oth %s%%", $2, $3, $5, $6, $7, $12 }' <<<"$line")"
            rm -f "$WORK/stop-bgsave" "$WORK/bgsave-stats"
            taskset -c "$CLIENT_CPU" bash -c "$(declare -f bgsave_loop); WORK=$WORK; bgsave_loop $port" &
            lp=$!
            line="$r bgsave-on $s $(run_test "$s" mt-1:10-P16)"
            touch "$WORK/stop-bgsave"
            wait "$lp"
            stats="$(cat "$WORK/bgsave-stats")"
            echo "$line" >>"$WORK/raw"
            info "round $r  $(awk '{ printf "%-12s %-7s %9s ops/s  p50 %s  p99 %s  oth %s%%", $2, $3, $5, $6, $7, $12 }' <<<"$line")  (saves started $(cut -d' ' -f1 <<<"$stats"), a save running in $(cut -d' ' -f2 <<<"$stats") of $(cut -d' ' -f3 <<<"$stats") samples)"
            echo "$r $s $stats" >>"$WORK/bgsave-runs"
            for _ in $(seq 600); do
                [[ "$(timeout 2 redis-cli -p "$port" info persistence | tr -d '\r' | grep '^rdb_bgsave_in_progress:')" == rdb_bgsave_in_progress:0 ]] && break
                sleep 0.1
            done
        done
        stop_server "$s"
        rm -rf "$dir"
    done
    echo
    echo "memtier --ratio 1:10 --pipeline 16 over $MEM_KEYS keys of 32 bytes, medians over $ROUNDS round(s); server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU."
    echo "bgsave-on: BGSAVE started again as soon as the previous one ended, for the whole run."
    summary_by_test bgsave-off bgsave-on
    echo
    for s in $SERVERS; do
        awk -v s="$s" '$2 == s { st += $3; b += $4; n += $5 } END { if (n) printf "%-7s saves started: %d, a save running in %.0f%% of the samples\n", s, st, 100 * b / n }' "$WORK/bgsave-runs"
        printf '%-7s during/without: x%.2f\n' "$s" "$(awk -v s="$s" '$3 == s && $2 == "bgsave-off" { off[$1] = $5 } $3 == s && $2 == "bgsave-on" { on[$1] = $5 }
            END { for (r in on) if (off[r] > 0) print on[r] / off[r] }' "$WORK/raw" | median)"
    done
}

case "$MODE" in
    aof) aof_mode ;;
    bgsave) bgsave_mode ;;
    bench)
        bench_mode
        if [[ "$MEMTEST" == 1 ]]; then memory_mode; fi
        ;;
    types) bench_mode ;;
    memory) memory_mode ;;
    memory-types) memory_types_mode ;;
    persist) persist_mode ;;
esac
