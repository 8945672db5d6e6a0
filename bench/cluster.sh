#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/cluster.sh: TCPChat in cluster mode, 3 nodes + Redis, against one
# node alone, the same clients (`make bench-cluster`, and part of `make bench`).
#
#   [SETTLE=S] bench/cluster.sh [--reps N] [--scenarios "light-c mid-c wide-hot-c"] [--nodes N]
#
# Every run starts fresh: for the cluster, a redis-server on a free
# 127.0.0.1 port in a temporary directory (AOF on, appendfsync everysec, as
# in production) and N nodes on free ports, all pinned to CPU 0 like the
# single node (the load generator on CPU 1), so both get the same CPU.
# Clients are spread evenly over the nodes (client i on node i mod N), once
# SETTLE seconds (2) have passed since the nodes listen.
# Everything started is stopped by pid. Results: build/bench/cluster-ID.jsonl,
# logs build/bench/cluster-logs-ID/, table build/bench/cluster-ID.md
# (and cluster-latest.md). Exit: 0 when every run was set up and measured,
# 1 otherwise, 2 on usage.
set -uo pipefail
cd "$(dirname "$0")/.."

REPS=2
NODES=3
SCENARIOS="light-c mid-c wide-hot-c"
while [ $# -gt 0 ]; do
    case $1 in
        --reps) REPS=$2; shift ;;
        --nodes) NODES=$2; shift ;;
        --scenarios) SCENARIOS=$2; shift ;;
        -h|--help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-cluster: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case $REPS in ''|*[!0-9]*|0) echo "bench-cluster: --reps needs a positive number" >&2; exit 2 ;; esac
case $NODES in ''|*[!0-9]*|0|1) echo "bench-cluster: --nodes needs 2 or more" >&2; exit 2 ;; esac

# The shapes of bench/run.sh's light and wide-hot, fewer lines to fit the
# time (clients a multiple of 3, so each node seats as many). mid-c is
# wide-hot with 300 clients: 179 k deliveries/s, so each node of three
# (60 k/s) stays under the gateway's batching threshold (100 k/s) while the
# single node is over it.
scenario_args() {
    case $1 in
        light-c)    echo "--clients 51 --rooms 1 --rate 10 --lines 50" ;;
        mid-c)      echo "--clients 300 --rooms 1 --rate 2 --lines 6" ;;
        wide-hot-c) echo "--clients 501 --rooms 1 --rate 2 --lines 6" ;;
        *) return 1 ;;
    esac
}
for s in $SCENARIOS; do
    scenario_args "$s" >/dev/null || { echo "bench-cluster: unknown scenario '$s'" >&2; exit 2; }
done

say() { printf 'bench-cluster: %s\n' "$*" >&2; }
T_START=$SECONDS
command -v redis-server >/dev/null || { say "redis-server is not installed (apt-get install redis-server)"; exit 1; }
make --no-print-directory -s TCPChat build/bench/loadgen || { say "build failed"; exit 1; }
LOADGEN=build/bench/loadgen
ulimit -n "$(ulimit -Hn)" 2>/dev/null

PIN_SERVER=()
PIN_LOAD=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c 0)
    PIN_LOAD=(taskset -c 1)
else
    say "warning: no taskset or fewer than 2 CPUs: running unpinned"
fi

RUN_ID=$(date +%Y%m%d-%H%M%S)
OUT=build/bench
RESULTS=$OUT/cluster-$RUN_ID.jsonl
LOGS=$OUT/cluster-logs-$RUN_ID
mkdir -p "$LOGS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tcpchat-bench-cluster.XXXXXX")
PIDS=()
RPID=
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
    # Redis last: the nodes' last leaves go out before it stops
    [ -n "$RPID" ] && stop_pid "$RPID"
    RPID=
}
cleanup() {
    stop_all
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

listening() {
    local hex
    hex=$(printf '%04X' "$1")
    grep -qi "^ *[0-9]*: 0100007F:$hex 00000000:0000 0A" /proc/net/tcp
}
port_in_use() {
    local hex
    hex=$(printf '%04X' "$1")
    grep -qi ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
TAKEN=" "
free_port() {
    local port tries
    for tries in $(seq 1 200); do
        port=$((20000 + RANDOM % 10000))
        case $TAKEN in *" $port "*) continue ;; esac
        port_in_use "$port" || { TAKEN="$TAKEN$port "; echo "$port"; return 0; }
    done
    return 1
}
wait_listening() {
    local port=$1 pid=$2 i
    for i in $(seq 1 100); do
        listening "$port" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

TCPCHAT_ARGS=(--bind 127.0.0.1 --max-clients 20000 --max-rooms 1000 --history 0
              --rate 0 --connect-rate 0)

# start_redis PORT LOG: sets RPID
start_redis() {
    local port=$1 log=$2 dir=$TMP/redis-$1
    mkdir -p "$dir"
    "${PIN_SERVER[@]}" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
        --save '' --appendonly yes --appendfsync everysec > "$log" 2>&1 &
    RPID=$!
    wait_listening "$port" "$RPID" || { say "redis-server did not start (log: $log)"; return 1; }
}

# start_node PORT LOG [cluster args...]: appends to PIDS
start_node() {
    local port=$1 log=$2
    shift 2
    "${PIN_SERVER[@]}" ./TCPChat "${TCPCHAT_ARGS[@]}" "$@" "$port" > "$log" 2>&1 &
    PIDS+=($!)
    wait_listening "$port" "$!" || { say "TCPChat did not start on $port (log: $log)"; tail -3 "$log" >&2; return 1; }
}

FAILED=0
say "run $RUN_ID: scenarios [$SCENARIOS], 1 node vs $NODES nodes + Redis, $REPS rep(s)"
for rep in $(seq 1 "$REPS"); do
    for scen in $SCENARIOS; do
        for setup in single cluster; do
            tag=$setup-$scen-$rep
            ports=() pids=() extra=()
            if [ $setup = single ]; then
                p=$(free_port) || { say "no free port"; FAILED=1; break 3; }
                start_node "$p" "$LOGS/$tag.node.log" || { FAILED=1; stop_all; continue; }
                ports=("$p")
            else
                rport=$(free_port) || { say "no free port"; FAILED=1; break 3; }
                start_redis "$rport" "$LOGS/$tag.redis.log" || { FAILED=1; stop_all; continue; }
                ok=1
                for n in $(seq 1 "$NODES"); do
                    p=$(free_port) || { ok=0; break; }
                    start_node "$p" "$LOGS/$tag.node$n.log" --cluster "redis://127.0.0.1:$rport" \
                        --node "bench$n" || { ok=0; break; }
                    ports+=("$p")
                done
                [ $ok = 1 ] || { FAILED=1; stop_all; continue; }
                # The published figures let the nodes settle 2 s; a node's first
                # second no longer costs its first logins an XREAD BLOCK
                # (9efa5de), SETTLE=0 measures that (see PERFORMANCE.md).
                sleep "${SETTLE:-2}"
                extra=(--redis-pid "$RPID" --redis-port "$rport")
            fi
            pids=("${PIDS[@]}")
            # shellcheck disable=SC2046
            "${PIN_LOAD[@]}" "$LOADGEN" --port "$(IFS=,; echo "${ports[*]}")" \
                --server-pid "$(IFS=,; echo "${pids[*]}")" "${extra[@]}" \
                $(scenario_args "$scen") --setup-timeout-ms 60000 \
                --label "$setup" --scenario "$scen" --json "$RESULTS" \
                2> "$LOGS/$tag.loadgen.log"
            rc=$?
            stop_all
            [ $rc = 0 ] || { say "$tag: loadgen exited $rc (log: $LOGS/$tag.loadgen.log)"; FAILED=1; }
        done
    done
done

REPORT=$OUT/cluster-$RUN_ID.md
if [ -s "$RESULTS" ]; then
    {
        echo "Run $RUN_ID: $REPS rep(s), medians (min–max); $(nproc) CPUs, $(uname -sr);"
        echo "nodes and Redis ($(redis-server --version | cut -d' ' -f3)) on CPU 0, load generator on CPU 1."
        echo
        python3 bench/cluster_report.py "$RESULTS"
    } > "$REPORT"
    cp "$REPORT" "$OUT/cluster-latest.md"
    echo
    cat "$REPORT"
else
    say "no results"
    FAILED=1
fi
say "done in $((SECONDS - T_START)) s; table in $REPORT"
[ $FAILED -eq 0 ]
