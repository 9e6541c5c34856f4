#!/usr/bin/env bash
# Smoke test: start a Tandem server on a free loopback port, hit it with
# redis-benchmark (and memtier_benchmark when installed), fail on any error.
#
# Usage: scripts/smoke.sh [TANDEM_BIN]
#   TANDEM_BIN        server binary (default: target/release/tandem, built
#                     with `cargo build --release` if missing)
# Environment:
#   STARTUP_TIMEOUT   seconds to wait for PONG            (default 15)
#   BENCH_TIMEOUT     seconds allowed per benchmark run   (default 300)
#   SMOKE_N           redis-benchmark -n                  (default 100000)
#   MEMTIER_N         memtier_benchmark -n (per client)   (default 2000)
#   SMOKE_MIN_RPS     fail a redis-benchmark test below this rate; catches
#                     stalls such as a reply that arrives seconds late
#                     (default 1000; 0 disables)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEFAULT_BIN="$ROOT/target/release/tandem"
BIN="${1:-$DEFAULT_BIN}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-15}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-300}"
SMOKE_N="${SMOKE_N:-100000}"
MEMTIER_N="${MEMTIER_N:-2000}"
SMOKE_MIN_RPS="${SMOKE_MIN_RPS:-1000}"
# redis-benchmark -q prints these names; all must appear in the output.
TESTS="ping_inline,ping_mbulk,set,get,incr,mset"
EXPECTED=("PING_INLINE" "PING_MBULK" "SET" "GET" "INCR" "MSET (10 keys)")

die()  { echo "smoke: FAIL: $*" >&2; exit 1; }
info() { echo "smoke: $*" >&2; }

for tool in redis-cli redis-benchmark timeout; do
    command -v "$tool" >/dev/null || die "$tool not found on PATH"
done

# --- Build the server if the default binary is missing -----------------------
if [[ ! -x "$BIN" ]]; then
    [[ "$(realpath -m "$BIN")" == "$DEFAULT_BIN" ]] || die "server binary not found: $BIN"
    info "$BIN missing; running cargo build --release"
    (cd "$ROOT" && cargo build --release) || die "cargo build --release failed"
    [[ -x "$BIN" ]] || die "build finished but $BIN does not exist"
fi

WORK="$(mktemp -d -t tandem-smoke.XXXXXX)"
SERVER_PID=""

# Stop the server (TERM, then KILL after 5 s) and remove temp
# files on exit.
cleanup() {
    local rc=$?
    if [[ -n "$SERVER_PID" ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port is free if nothing accepts a connection on it. Picked at random in
# 20000-59999 to avoid ephemeral-port collisions with earlier runs.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "could not find a free port"
}

# Start the server; retry on a new port if it dies during startup (e.g. the
# port got taken between the check and the bind).
start_server() {
    local attempt deadline
    for attempt in 1 2 3; do
        PORT="$(free_port)"
        info "starting $BIN --port $PORT --bind 127.0.0.1 (attempt $attempt)"
        # Started directly (no setsid: setsid forks when it happens to lead a process group,
        # and then the pid we hold exits at once while the server runs on unwatched).
        "$BIN" --port "$PORT" --bind 127.0.0.1 >"$WORK/server.log" 2>&1 &
        SERVER_PID=$!
        deadline=$((SECONDS + STARTUP_TIMEOUT))
        while ((SECONDS < deadline)); do
            if ! kill -0 "$SERVER_PID" 2>/dev/null; then
                wait "$SERVER_PID" 2>/dev/null || true
                info "server exited during startup; log:"
                tail -n 20 "$WORK/server.log" >&2 || true
                SERVER_PID=""
                continue 2
            fi
            if [[ "$(timeout 2 redis-cli -p "$PORT" ping 2>/dev/null)" == "PONG" ]]; then
                info "server up (pid $SERVER_PID, port $PORT)"
                return 0
            fi
            sleep 0.05 # poll interval
        done
        tail -n 20 "$WORK/server.log" >&2 || true
        die "server did not answer PING with PONG within ${STARTUP_TIMEOUT}s"
    done
    die "server failed to start 3 times"
}

start_server

# --- Quick round trip through redis-cli ---------------------------------------
[[ "$(timeout 5 redis-cli -p "$PORT" set smoke:key hello 2>&1)" == "OK" ]] || die "SET smoke:key did not reply OK"
[[ "$(timeout 5 redis-cli -p "$PORT" get smoke:key 2>&1)" == "hello" ]] || die "GET smoke:key did not return hello"

# --- redis-benchmark -----------------------------------------------------------
# redis-benchmark 7 exits non-zero on the first error reply ("Error from
# server: ..."), but spins forever if the server disappears, hence `timeout`.
info "redis-benchmark -n $SMOKE_N -t $TESTS"
rc=0
timeout "$BENCH_TIMEOUT" redis-benchmark -p "$PORT" -q -n "$SMOKE_N" -t "$TESTS" \
    >"$WORK/rb.out" 2>"$WORK/rb.err" || rc=$?
# -q rewrites a progress line with \r; keep only the final text of each line.
tr '\r' '\n' <"$WORK/rb.out" | grep -v 'rps=' | sed '/^[[:space:]]*$/d' >"$WORK/rb.txt" || true
cat "$WORK/rb.txt"
if ((rc != 0)); then
    cat "$WORK/rb.err" >&2
    ((rc == 124)) && die "redis-benchmark timed out after ${BENCH_TIMEOUT}s"
    die "redis-benchmark exited with status $rc"
fi
# It fetches CONFIG GET save/appendonly first; a server without CONFIG only
# costs a warning. Any other stderr output is treated as an error.
if grep -v -e '^WARNING: Could not fetch server CONFIG' -e '^ERROR: .*CONFIG' "$WORK/rb.err" | grep -q .; then
    cat "$WORK/rb.err" >&2
    die "redis-benchmark wrote errors to stderr"
fi
grep -q 'Could not fetch server CONFIG' "$WORK/rb.err" &&
    info "warning: redis-benchmark could not fetch CONFIG (CONFIG GET unsupported?)"
# Every line must be a result line, and every test must have one.
if grep -v -E '^[A-Z_]+( \([0-9]+ keys\))?: [0-9.]+ requests per second' "$WORK/rb.txt" | grep -q .; then
    die "unexpected redis-benchmark output: $(grep -v -E 'requests per second' "$WORK/rb.txt" | head -n 3)"
fi
for t in "${EXPECTED[@]}"; do
    line=""
    while IFS= read -r l; do
        [[ "$l" == "$t: "* ]] && { line="$l"; break; }
    done <"$WORK/rb.txt"
    [[ -n "$line" ]] || die "redis-benchmark: no result for $t"
    rps="$(sed -E 's/^.*: ([0-9.]+) requests per second.*/\1/' <<<"$line")"
    awk -v r="$rps" 'BEGIN { exit !(r > 0) }' || die "redis-benchmark: $t reported $rps requests per second"
    awk -v r="$rps" -v m="$SMOKE_MIN_RPS" 'BEGIN { exit !(r >= m) }' ||
        die "redis-benchmark: $t only reached $rps requests per second (SMOKE_MIN_RPS=$SMOKE_MIN_RPS); a stalled reply?"
done
info "redis-benchmark: all ${#EXPECTED[@]} tests passed"

# --- memtier_benchmark (optional) ---------------------------------------------
if command -v memtier_benchmark >/dev/null; then
    # Defaults: 4 threads x 50 clients, SET:GET 1:10, 32-byte values.
    expected_ops=$((MEMTIER_N * 4 * 50))
    info "memtier_benchmark -n $MEMTIER_N (expecting $expected_ops ops)"
    rc=0
    timeout "$BENCH_TIMEOUT" memtier_benchmark -s 127.0.0.1 -p "$PORT" --hide-histogram -n "$MEMTIER_N" \
        >"$WORK/mt.out" 2>"$WORK/mt.err" || rc=$?
    tr '\r' '\n' <"$WORK/mt.err" >"$WORK/mt.log"
    grep -E '^(Type|Sets|Gets|Totals)' "$WORK/mt.out" || true
    ((rc == 124)) && die "memtier_benchmark timed out after ${BENCH_TIMEOUT}s"
    ((rc == 0)) || { tail -n 20 "$WORK/mt.log" >&2; die "memtier_benchmark exited with status $rc"; }
    # memtier exits 0 even on error replies or dropped connections; it logs
    # them to stderr, so look there.
    if grep -i -E 'error|fail|dropped|restart|exception|timeout|refused|reset' "$WORK/mt.log" >"$WORK/mt.errors"; then
        sort "$WORK/mt.errors" | uniq -c | sort -rn | head -n 10 >&2
        die "memtier_benchmark reported errors ($(wc -l <"$WORK/mt.errors") lines)"
    fi
    # The last progress line carries the total op count: "... 400000 ops, ...".
    ops="$(grep -o '[0-9]\+ ops,' "$WORK/mt.log" | tail -n 1 | grep -o '[0-9]\+')" || true
    [[ "${ops:-0}" == "$expected_ops" ]] || die "memtier_benchmark completed ${ops:-0} ops, expected $expected_ops"
    grep -q '^Totals' "$WORK/mt.out" || die "memtier_benchmark printed no Totals line"
    info "memtier_benchmark: $ops ops, no errors"
else
    info "memtier_benchmark not on PATH; skipping it"
fi

# The server must have survived all of that.
kill -0 "$SERVER_PID" 2>/dev/null || die "server died during the run"
[[ "$(timeout 2 redis-cli -p "$PORT" ping 2>/dev/null)" == "PONG" ]] || die "server stopped answering PING"
info "PASS"
