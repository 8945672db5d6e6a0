#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh: TCPChat side by side with ngircd and InspIRCd (`make bench`),
# or TCPChat alone on small scenarios (`make bench-quick`).
#
#   bench/run.sh [--quick] [--reps N] [--servers "tcpchat ngircd inspircd"]
#                [--scenarios "light wide hot wide-hot c10k"]
#
# Every run starts its server fresh on a free 127.0.0.1 port, pinned to CPU 0
# (the load generator to CPU 1), and stops it by pid afterwards. Repetitions
# are interleaved: for each rep, for each scenario, each server once. Raw
# results (one JSON line per run) go to build/bench/results-ID.jsonl, logs to
# build/bench/logs-ID/, the table to build/bench/report-ID.md (and latest.md).
#
# Exit status: 0 when every TCPChat run was set up and measured (figures are
# never judged here), 1 when the tool or TCPChat's setup failed, 2 on usage.
set -uo pipefail
cd "$(dirname "$0")/.."

MODE=full
REPS=
SERVERS=
SCENARIOS=
while [ $# -gt 0 ]; do
    case $1 in
        --quick) MODE=quick ;;
        --reps) REPS=$2; shift ;;
        --servers) SERVERS=$2; shift ;;
        --scenarios) SCENARIOS=$2; shift ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$MODE" = quick ]; then
    : "${REPS:=1}" "${SERVERS:=tcpchat}" "${SCENARIOS:=light-q wide-hot-q rooms-q}"
else
    : "${REPS:=3}" "${SERVERS:=tcpchat ngircd inspircd}" "${SCENARIOS:=light wide hot wide-hot c10k}"
fi

# name -> loadgen arguments. c10k opens 1000 connections at a time instead
# of 64: InspIRCd completes registrations only on its once-a-second timer,
# so 64 in flight would take it 160 s to seat 10,000 clients.
scenario_args() {
    case $1 in
        light)      echo "--clients 50 --rooms 1 --rate 10 --lines 100" ;;
        wide)       echo "--clients 500 --rooms 1 --rate 0.5 --lines 5" ;;
        hot)        echo "--clients 50 --rooms 1 --rate 200 --lines 400" ;;
        wide-hot)   echo "--clients 500 --rooms 1 --rate 2 --lines 10" ;;
        c10k)       echo "--clients 10000 --rooms 100 --rate 0.1 --lines 3 --connect-inflight 1000" ;;
        light-q)    echo "--clients 50 --rooms 1 --rate 10 --lines 30" ;;
        wide-hot-q) echo "--clients 200 --rooms 1 --rate 2 --lines 4" ;;
        rooms-q)    echo "--clients 1000 --rooms 10 --rate 0.5 --lines 2" ;;
        *) return 1 ;;
    esac
}
for s in $SCENARIOS; do
    scenario_args "$s" >/dev/null || { echo "bench: unknown scenario '$s'" >&2; exit 2; }
done
for s in $SERVERS; do
    case $s in tcpchat|ngircd|inspircd) ;; *) echo "bench: unknown server '$s'" >&2; exit 2 ;; esac
done
case $REPS in ''|*[!0-9]*|0) echo "bench: --reps needs a positive number" >&2; exit 2 ;; esac

say() { printf 'bench: %s\n' "$*" >&2; }
T_START=$SECONDS

# --- tools ------------------------------------------------------------------
make --no-print-directory -s TCPChat build/bench/loadgen build/bench/report || { say "build failed"; exit 1; }
LOADGEN=build/bench/loadgen

# 10,000 clients need more than 10,000 descriptors, in the server and in loadgen
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 10300 ]; then
    say "warning: open-file limit $(ulimit -n) is below 10300: c10k will fail (raise ulimit -Hn)"
fi

# server on CPU 0, load generator on CPU 1
PIN_SERVER=()
PIN_LOAD=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c 0)
    PIN_LOAD=(taskset -c 1)
else
    say "warning: no taskset or fewer than 2 CPUs: running unpinned"
fi

# --- peers ------------------------------------------------------------------
NGIRCD=/usr/sbin/ngircd
INSPIRCD=/usr/sbin/inspircd
ensure_peers() {
    local need=() pkg
    case " $SERVERS " in *" ngircd "*) [ -x $NGIRCD ] || need+=(ngircd) ;; esac
    case " $SERVERS " in *" inspircd "*) [ -x $INSPIRCD ] || need+=(inspircd) ;; esac
    [ ${#need[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    if ! command -v apt-get >/dev/null; then
        say "cannot install ${need[*]}: no apt-get"
        return 1
    fi
    say "installing ${need[*]} from Debian's packages"
    local before
    before=$(pgrep -d ' ' -x 'ngircd|inspircd' || true)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${need[@]}" >/dev/null || return 1
    # The packages start their system service where the init system lets
    # them: stop and disable the ones this install started (we run our own).
    for pkg in "${need[@]}"; do
        local pid started=no
        for pid in $(pgrep -x "$pkg" || true); do
            case " $before " in *" $pid "*) ;; *) started=yes ;; esac
        done
        [ $started = yes ] || continue
        say "stopping the $pkg service that the install started"
        if [ -d /run/systemd/system ]; then
            "${sudo[@]}" systemctl disable --now "$pkg" >/dev/null 2>&1
        else
            "${sudo[@]}" service "$pkg" stop >/dev/null 2>&1
            "${sudo[@]}" update-rc.d "$pkg" disable >/dev/null 2>&1
        fi
    done
    return 0
}
if [ "$MODE" = full ] && ! ensure_peers; then
    say "warning: peers unavailable, benchmarking TCPChat alone"
    SERVERS=tcpchat
fi

# --- servers ----------------------------------------------------------------
RUN_ID=$(date +%Y%m%d-%H%M%S)
OUT=build/bench
RESULTS=$OUT/results-$RUN_ID.jsonl
LOGS=$OUT/logs-$RUN_ID
mkdir -p "$LOGS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tcpchat-bench.XXXXXX")
SPID=
cleanup() {
    [ -n "$SPID" ] && stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TCPCHAT_ARGS=(--bind 127.0.0.1 --max-clients 20000 --max-rooms 1000 --history 0)
# --rate (lines/s per client, 0: unlimited) where this build has it
TCPCHAT_HELP=$(./TCPChat --help 2>&1)
case $TCPCHAT_HELP in *--rate*) TCPCHAT_ARGS+=(--rate 0) ;; esac
# every load generator connects from 127.0.0.1: no per-address connect budget
case $TCPCHAT_HELP in *--connect-rate*) TCPCHAT_ARGS+=(--connect-rate 0) ;; esac

# true when something listens on 127.0.0.1:$1 (from /proc: no ss/netstat needed)
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
free_port() {
    local port tries
    for tries in $(seq 1 200); do
        port=$((20000 + RANDOM % 10000))
        port_in_use "$port" || { echo "$port"; return 0; }
    done
    return 1
}

# start_server NAME PORT LOG: sets SPID, returns nonzero if it does not listen
start_server() {
    local name=$1 port=$2 log=$3 dir cmd=()
    dir=$TMP/$name-$port
    mkdir -p "$dir"
    case $name in
        tcpchat)
            cmd=(./TCPChat "${TCPCHAT_ARGS[@]}" "$port") ;;
        ngircd)
            mkdir -p "$dir/ngircd.conf.d"
            sed "s|@PORT@|$port|g; s|@DIR@|$dir|g" bench/peers/ngircd.conf > "$dir/ngircd.conf"
            cmd=("$NGIRCD" --nodaemon --config "$dir/ngircd.conf") ;;
        inspircd)
            sed "s|@PORT@|$port|g; s|@DIR@|$dir|g" bench/peers/inspircd.conf > "$dir/inspircd.conf"
            cp bench/peers/inspircd.motd "$dir/inspircd.motd"
            cmd=("$INSPIRCD" --nofork --config "$dir/inspircd.conf")
            [ "$(id -u)" -eq 0 ] && cmd+=(--runasroot) ;;
    esac
    printf '# %s\n' "${PIN_SERVER[*]} ${cmd[*]}" > "$log"
    "${PIN_SERVER[@]}" "${cmd[@]}" >> "$log" 2>&1 &
    SPID=$!
    local i
    for i in $(seq 1 100); do
        listening "$port" && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    say "$name did not start listening on 127.0.0.1:$port (log: $log)"
    tail -5 "$log" >&2
    stop_server
    return 1
}

# SIGTERM, a few seconds' grace (ngircd takes a minute to say goodbye to
# 10,000 users one by one), then SIGKILL; reaps it and checks it is gone.
stop_server() {
    local i
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null
    for i in $(seq 1 50); do
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SPID" 2>/dev/null; then
        kill -KILL "$SPID" 2>/dev/null
    fi
    wait "$SPID" 2>/dev/null
    if kill -0 "$SPID" 2>/dev/null; then
        say "warning: server pid $SPID did not exit"
    fi
    SPID=
}

# CPUs kept busy by anything over the next half second (0.00 on an idle box)
busy_cpus() {
    local a b
    a=$(head -1 /proc/stat); sleep 0.5; b=$(head -1 /proc/stat)
    echo "$a $b" | awk '{ b1 = $2+$3+$4+$7+$8+$9; i1 = $5+$6;
                          b2 = $13+$14+$15+$18+$19+$20; i2 = $16+$17;
                          t = (b2-b1)+(i2-i1); printf "%.2f", (t > 0? (b2-b1)/t*'"$(nproc)"': 0) }'
}
# Before a run, wait for other processes to quieten (below 0.2 CPU), out of
# a budget of QUIET_BUDGET seconds for the whole bench; then run regardless.
QUIET_BUDGET=${QUIET_BUDGET:-60}
wait_quiet() {
    local busy
    [ "$MODE" = full ] || return 0
    while [ "$QUIET_BUDGET" -gt 0 ]; do
        busy=$(busy_cpus)
        awk -v b="$busy" 'BEGIN { exit !(b < 0.2) }' && return 0
        [ "${QUIET_SAID:-}" ] || say "waiting for other processes to quieten ($busy CPUs busy)"
        QUIET_SAID=1
        sleep 0.5
        QUIET_BUDGET=$((QUIET_BUDGET - 1))
    done
}

proto_of() { [ "$1" = tcpchat ] && echo tcpchat || echo irc; }

# --- runs -------------------------------------------------------------------
TOOL_FAILED=0
TCPCHAT_FAILED=0
say "$MODE run $RUN_ID: servers [$SERVERS], scenarios [$SCENARIOS], $REPS rep(s)"
say "results: $RESULTS"
"$LOADGEN" --header
for rep in $(seq 1 "$REPS"); do
    for scen in $SCENARIOS; do
        for server in $SERVERS; do
            tag=$server-$scen-$rep
            t_run=$SECONDS
            wait_quiet
            port=$(free_port) || { say "no free port"; TOOL_FAILED=1; break 3; }
            if ! start_server "$server" "$port" "$LOGS/$tag.server.log"; then
                [ "$server" = tcpchat ] && TCPCHAT_FAILED=1
                continue
            fi
            # shellcheck disable=SC2046
            "${PIN_LOAD[@]}" "$LOADGEN" --proto "$(proto_of "$server")" --port "$port" \
                $(scenario_args "$scen") --server-pid "$SPID" --setup-timeout-ms 60000 \
                --label "$server" --scenario "$scen" --json "$RESULTS" \
                2> "$LOGS/$tag.loadgen.log"
            rc=$?
            stop_server
            printf 'bench: [rep %s/%s] %s %s: %s s\n' "$rep" "$REPS" "$server" "$scen" \
                "$((SECONDS - t_run))" >> "$LOGS/timing.txt"
            case $rc in
                0) ;;
                3)  say "$tag: setup failed: $(grep -m1 'SETUP FAILED' "$LOGS/$tag.loadgen.log" | sed 's/.*SETUP FAILED: //')"
                    [ "$server" = tcpchat ] && TCPCHAT_FAILED=1 ;;
                *)  say "$tag: loadgen exited $rc (log: $LOGS/$tag.loadgen.log)"
                    TOOL_FAILED=1 ;;
            esac
        done
    done
done

# --- report -----------------------------------------------------------------
REPORT=$OUT/report-$RUN_ID.md
if [ -s "$RESULTS" ]; then
    {
        echo "Run $RUN_ID ($MODE): $REPS rep(s) interleaved, medians (min–max);"
        echo "$(nproc) CPUs, $(uname -sr); server on CPU 0, load generator on CPU 1."
        if [ "$MODE" = full ]; then
            echo "Peers: $($NGIRCD --version 2>/dev/null | head -1 | cut -d' ' -f1-2),"\
                 "InspIRCd $(dpkg-query -W -f '${Version}' inspircd 2>/dev/null)."
        fi
        echo
        if [ "$MODE" = full ]; then build/bench/report --targets "$RESULTS"; else build/bench/report "$RESULTS"; fi
    } > "$REPORT"
    cp "$REPORT" "$OUT/latest.md"
    echo
    cat "$REPORT"
else
    say "no results"
    TOOL_FAILED=1
fi
say "done in $((SECONDS - T_START)) s; table in $REPORT"
if [ -s "$RESULTS" ] && grep -q '"other_cpu_s"' "$RESULTS"; then
    # figures are only comparable on an otherwise idle machine
    busy=$(sed -n 's/.*"window_s":\([0-9.]*\),"other_cpu_s":\([-0-9.]*\).*/\1 \2/p' "$RESULTS" |
           awk '$1 > 0 && $2 / $1 > 0.25 { n++ } END { print n + 0 }')
    [ "$busy" -gt 0 ] && say "warning: in $busy run(s) other processes kept more than a quarter of a CPU busy (column 'other load'): rerun on an idle machine for figures that compare"
fi
[ $TOOL_FAILED -eq 0 ] && [ $TCPCHAT_FAILED -eq 0 ]
