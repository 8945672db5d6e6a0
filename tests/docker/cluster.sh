#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make docker-test, part two: compose.cluster.yaml end to end, on 127.0.0.1 only.
#
# Builds Redis, the node image and HAProxy through compose.cluster.yaml +
# docker/compose.cluster.test.yaml (host networking, never pulls; each service
# on a free 127.0.0.1 port), starts them under their own compose project, and
# checks: Redis and the three nodes turn healthy, HAProxy answers with the name
# prompt, two clients that land on different nodes chat and see each other in
# /users, and once one client's node is killed (SIGKILL: no goodbye) the other
# is told that client left within the lease, /users drops it, and its name is
# free again for a newcomer whom HAProxy sends to a live node.
# Removes every container, volume and image it made, pass or fail.
#
# Environment: DOCKER_TEST_KEEP_IMAGES=1 (keep the built images: warm rebuilds).
set -euo pipefail
cd "$(dirname "$0")/../.."

PROJECT="tcpchatcluster$$"              # never a user's own stack
FILES=(-f compose.cluster.yaml -f docker/compose.cluster.test.yaml)
WORK=$(mktemp -d /tmp/tcpchat-cluster-test.XXXXXX)
LEASE=3                                  # seconds; the test waits 2 x LEASE + 15 at most
passed=0 failed=0 compose=() client_pid="" new_images=""
declare -A cid=()                       # service -> container id

pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
step() { printf '\n--- %s (%ss)\n' "$*" "$SECONDS"; }
die()  { echo "docker-test: ERROR: $*" >&2; failed=$((failed + 1)); exit 1; }
dc()   { "${compose[@]}" -p "$PROJECT" "${FILES[@]}" "$@"; }
now()  { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    [ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null
    if [ ${#compose[@]} -gt 0 ]; then
        step "cleanup: containers, volumes and images of project $PROJECT"
        if [ "$failed" -gt 0 ]; then
            for s in "${!cid[@]}"; do
                echo "last log lines of $s:"; docker logs --tail 30 "${cid[$s]}" 2>&1 | sed 's/^/  | /'
            done
        fi
        local rmi=(--rmi local)
        [ "${DOCKER_TEST_KEEP_IMAGES:-}" = 1 ] && rmi=()
        dc down -v "${rmi[@]}" --remove-orphans -t 3 >"$WORK/down.log" 2>&1 \
            || { echo "docker-test: compose down failed:"; cat "$WORK/down.log"; }
        if [ "${DOCKER_TEST_KEEP_IMAGES:-}" != 1 ] && [ -n "$new_images" ]; then
            # shellcheck disable=SC2086
            docker image rm $new_images >/dev/null 2>&1
        fi
        left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"
               docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT")
        [ -z "$left" ] || echo "docker-test: WARNING: left behind: $left"
    fi
    rm -rf "$WORK"
    [ "$rc" = 0 ] && [ "$failed" -gt 0 ] && rc=1
    echo
    echo "docker-test (cluster): $passed passed, $failed failed"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls `cmd` every 0.2 s for at most `seconds`; true once it succeeds.
wait_for() {
    local seconds=$1; shift
    local end=$(( $(date +%s) + seconds ))
    while [ "$(date +%s)" -le "$end" ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
running()    { [ "$(docker inspect -f '{{.State.Running}}' "${cid[$1]}")" = true ]; }
logs_have()  { docker logs "${cid[$1]}" 2>&1 | grep -E -- "$2" >/dev/null; }   # no -q: pipefail + SIGPIPE
is_healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "${cid[$1]}")" = healthy ]; }
client_said() { grep -qx "$1" "$WORK/client.out"; }

# `compose run`, not `up`, as tests/docker/run.sh explains: Compose v1 refuses
# network_mode host beside HAProxy's published ports; `run` leaves them out.
start() {
    local service=$1 name="${PROJECT}_$1"
    dc run -d -T --no-deps --name "$name" "$service" >"$WORK/run-$service.log" 2>&1 \
        || { cat "$WORK/run-$service.log"; die "compose run $service failed"; }
    cid[$service]=$(docker ps -aq --filter "name=^/${name}\$")
    [ -n "${cid[$service]}" ] || die "compose run started no $service container"
}
healthy() {
    local service=$1
    if ! wait_for 30 is_healthy "$service"; then
        running "$service" || die "$service exited: $(docker inspect -f 'exit code {{.State.ExitCode}}' "${cid[$service]}")"
        die "$service: not healthy within 30 s ($(docker inspect -f '{{json .State.Health}}' "${cid[$service]}"))"
    fi
    pass "$service is healthy"
}

# --- Docker and Compose ----------------------------------------------------------
step "docker"
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "docker-test: Docker is not available (no docker command, or no running daemon)." >&2
    echo "  On these build machines, as root:  bash ../shared/tools/docker-base-image.sh" >&2
    failed=$((failed + 1))
    exit 1
fi
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
else
    die "no Docker Compose (neither 'docker compose' nor 'docker-compose')"
fi
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the test clients"

# --- Free 127.0.0.1 ports, one per listener (host networking) -----------------------
read -r REDIS_PORT NODE1_PORT NODE2_PORT NODE3_PORT CHAT_PORT WEB_PORT \
        NODE1_WEB_PORT NODE2_WEB_PORT NODE3_WEB_PORT < <(python3 - <<'PY'
import socket
socks = []
for _ in range(9):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)
export CLUSTER_TEST_REDIS_PORT=$REDIS_PORT CLUSTER_TEST_NODE1_PORT=$NODE1_PORT \
       CLUSTER_TEST_NODE2_PORT=$NODE2_PORT CLUSTER_TEST_NODE3_PORT=$NODE3_PORT \
       CLUSTER_TEST_PORT=$CHAT_PORT CLUSTER_TEST_WEB_PORT=$WEB_PORT CLUSTER_TEST_LEASE=$LEASE \
       CLUSTER_TEST_NODE1_WEB_PORT=$NODE1_WEB_PORT CLUSTER_TEST_NODE2_WEB_PORT=$NODE2_WEB_PORT \
       CLUSTER_TEST_NODE3_WEB_PORT=$NODE3_WEB_PORT
export TCPCHAT_BUILD_NETWORK=${TCPCHAT_BUILD_NETWORK:-host}
# The test's own settings, whatever the caller's shell has: defaults for the rest.
for v in MAX_CLIENTS HISTORY MAX_ROOMS VERBOSE MAX_BACKLOG RATE NAME_TIMEOUT ROOM_IDLE LOG_FILE \
         HTTP_ORIGIN CLUSTER_LEASE; do
    export "TCPCHAT_$v="
done
TCPCHAT_VERSION=$(sh scripts/version.sh)
export TCPCHAT_VERSION
echo "compose project $PROJECT: redis :$REDIS_PORT, nodes :$NODE1_PORT :$NODE2_PORT :$NODE3_PORT, haproxy :$CHAT_PORT, only 127.0.0.1"
dc config -q || die "compose.cluster.yaml + docker/compose.cluster.test.yaml do not validate"
pass "compose config validates"

# --- Build --------------------------------------------------------------------
step "build: Redis, the node image, HAProxy"
before=$(docker images -q -f dangling=true | sort -u)
t0=$(now)
if ! dc build >"$WORK/build.log" 2>&1; then
    tail -n 60 "$WORK/build.log"
    die "image build failed (the last 60 lines are above)"
fi
build_s=$(since "$t0")
new_images=$(comm -13 <(echo "$before") <(docker images -q -f dangling=true | sort -u) | tr '\n' ' ')
pass "images built in ${build_s}s"

# --- Start: Redis, three nodes, HAProxy ----------------------------------------------
step "start"
start redis
healthy redis
for n in 1 2 3; do
    start "node$n"
done
for n in 1 2 3; do
    port_var="NODE${n}_PORT"
    wait_for 30 logs_have "node$n" "^Listening on the port :${!port_var}\$" \
        || die "node$n: no 'Listening on the port :${!port_var}' within 30 s"
    healthy "node$n"
done
start haproxy
prompt_through_haproxy() {
    python3 - "$CHAT_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
data, end = b"", time.monotonic() + 3
while b"[ENTER YOUR NAME]: " not in data and time.monotonic() < end:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.exit(0 if b"[ENTER YOUR NAME]: " in data else 1)
PY
}
wait_for 30 prompt_through_haproxy || die "HAProxy on :$CHAT_PORT gave no name prompt within 30 s"
pass "HAProxy on :$CHAT_PORT answers with the name prompt"
# HAProxy's checks see every node up (its log says so when one is not).
if logs_have haproxy 'Server nodes/node[123] is DOWN'; then
    fail "HAProxy marked a node down: $(docker logs "${cid[haproxy]}" 2>&1 | grep -E 'is DOWN' | head -n 3)"
else
    pass "HAProxy's checks mark no node down"
fi

# --- Two clients on two nodes ----------------------------------------------------------
step "alice and bob through HAProxy"
python3 tests/docker/cluster.py "$CHAT_PORT" "$WORK" "$LEASE" >"$WORK/client.out" 2>&1 &
client_pid=$!
ready_or_gone() { client_said READY || ! kill -0 "$client_pid"; }
wait_for 60 ready_or_gone || true
grep -E '^(PASS|FAIL): ' "$WORK/client.out" | sed 's/^/  /'
client_said READY || { sed 's/^/  /' "$WORK/client.out"; die "the clients did not get through their session"; }
passed=$((passed + $(grep -c '^PASS: ' "$WORK/client.out" || true)))

# Each node logs its own members' joins as "room[general] NAME joined (N ...)";
# a member on another node is logged as joined from that node.
node_of() {
    local who=$1 found=""
    for n in 1 2 3; do
        logs_have "node$n" "room\[general\] $who joined \(" && found="$found node$n"
    done
    echo "${found# }"
}
alice_node=$(node_of alice)
bob_node=$(node_of bob)
case "$alice_node $bob_node" in
    "node"[123]" node"[123])
        if [ "$alice_node" != "$bob_node" ]; then
            pass "alice is on $alice_node, bob on $bob_node (leastconn)"
        else
            die "alice and bob both landed on $alice_node: the test needs two nodes"
        fi ;;
    *) die "cannot tell the clients' nodes from the logs: alice on '$alice_node', bob on '$bob_node'" ;;
esac

# --- A node dies ----------------------------------------------------------------------
step "kill -9 of $bob_node (bob's node)"
docker kill -s KILL "${cid[$bob_node]}" >/dev/null
echo "$bob_node" >"$WORK/killed"
client_rc=0
wait_for $((LEASE * 2 + 45)) bash -c "! kill -0 $client_pid" || kill "$client_pid" 2>/dev/null || true
wait "$client_pid" || client_rc=$?
client_pid=""
sed -n '/^READY$/,$p' "$WORK/client.out" | grep -E '^(PASS|FAIL): ' | sed 's/^/  /' || true
passed=$((passed + $(sed -n '/^READY$/,$p' "$WORK/client.out" | grep -c '^PASS: ' || true)))
if [ "$client_rc" != 0 ]; then
    grep -E '^FAIL: ' "$WORK/client.out" | sed 's/^/  /' || echo "  the clients ended with status $client_rc"
    failed=$((failed + 1))
fi
# A survivor (whichever won the reap) says in its log that the dead node's
# lease lapsed.
reaper=""
for n in 1 2 3; do
    [ "node$n" = "$bob_node" ] && continue
    logs_have "node$n" "cluster .*$bob_node" && reaper="node$n"
done
if [ -n "$reaper" ]; then
    pass "$reaper's cluster log names $bob_node: $(docker logs "${cid[$reaper]}" 2>&1 | grep -E "cluster .*$bob_node" | head -n 1)"
else
    fail "no surviving node logged a cluster line about $bob_node"
fi

echo
echo "build ${build_s}s, whole test ${SECONDS}s"
