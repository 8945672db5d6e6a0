#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make docker-test: the image and compose.yaml, end to end, on 127.0.0.1 only.
#
# Builds the image through compose.yaml + docker/compose.test.yaml (host
# networking, never pulls), starts it under its own compose project, and checks:
# the server listens and turns healthy, runs as a non-root PID 1 with the raised
# nofile limit, real clients get the banner and exchange lines, the actor log
# lines reach `docker logs` while the server runs, `docker stop -t 3` ends it
# with exit code 0 within 3 s and connected clients get EOF, and (once the
# binary has --data-dir) history survives `docker compose down` / `up`.
# The healthcheck (TCPChat --health) must leave no line in docker logs, and
# the image must carry its OCI labels and the VERSION file's version.
# Removes every container, volume and image it made, pass or fail.
#
# Environment: DOCKER_TEST_PORT (host port; default 18989 if free, else any free
# one), DOCKER_TEST_KEEP_IMAGES=1 (keep the built images: warm rebuilds).
set -euo pipefail
cd "$(dirname "$0")/../.."

PROJECT="tcpchattest$$"                 # never a user's own stack
FILES=(-f compose.yaml -f docker/compose.test.yaml)
WORK=$(mktemp -d /tmp/tcpchat-docker-test.XXXXXX)
passed=0 failed=0 runs=0 compose=() cid="" client_pid="" new_images=""

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
        if [ "$failed" -gt 0 ] && [ -n "$cid" ]; then
            echo "last server log lines:"; docker logs --tail 40 "$cid" 2>&1 | sed 's/^/  | /'
        fi
        local rmi=(--rmi local)
        [ "${DOCKER_TEST_KEEP_IMAGES:-}" = 1 ] && rmi=()
        dc down -v "${rmi[@]}" --remove-orphans -t 3 >"$WORK/down.log" 2>&1 \
            || { echo "docker-test: compose down failed:"; cat "$WORK/down.log"; }
        # The build stage's untagged image (and its layers) went unnamed: remove
        # the ones this run made, unless they are kept as the warm-build cache.
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
    echo "docker-test: $passed passed, $failed failed"
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
running()     { [ "$(docker inspect -f '{{.State.Running}}' "$cid")" = true ]; }
logs_have()   { docker logs "$cid" 2>&1 | grep -E -- "$1" >/dev/null; }   # no -q: pipefail + SIGPIPE
is_healthy()  { [ "$(docker inspect -f '{{.State.Health.Status}}' "$cid")" = healthy ]; }
client_said() { grep -qx "$1" "$WORK/client.out"; }

# A log line of actor $1: `YYYY-MM-DD HH:MM:SS NAME text` (NAME as a regex).
actor_line() { echo "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} $1 $2"; }

# `compose run`, not `up`: Compose v1 refuses network_mode host beside the
# service's published ports (docker-py: "host" network_mode is incompatible
# with port_bindings) and an override cannot drop them; `run` leaves the ports
# out unless --service-ports. Everything else (build, environment, volume,
# ulimits, healthcheck, user, entrypoint) comes from compose.yaml as with `up`.
start_server() {
    local name="${PROJECT}_tcpchat_$((++runs))"
    dc run -d -T --no-deps --name "$name" tcpchat >"$WORK/up.log" 2>&1 \
        || { cat "$WORK/up.log"; die "compose run failed"; }
    cid=$(docker ps -aq --filter "name=^/${name}\$")
    [ -n "$cid" ] || die "compose run started no tcpchat container"
    if ! wait_for 30 logs_have "^Listening on the port :$PORT\$"; then
        running || die "the server exited: $(docker inspect -f 'exit code {{.State.ExitCode}}' "$cid")"
        die "no 'Listening on the port :$PORT' in docker logs within 30 s"
    fi
    pass "docker logs: Listening on the port :$PORT"
    wait_for 30 is_healthy || die "healthcheck: not healthy within 30 s ($(docker inspect -f '{{json .State.Health}}' "$cid"))"
    pass "healthcheck: healthy (TCPChat --health got its answer)"
}

# --- Docker and Compose ----------------------------------------------------------
step "docker"
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "docker-test: Docker is not available (no docker command, or no running daemon)." >&2
    echo "  On these build machines, as root:  bash ../shared/tools/docker-base-image.sh" >&2
    echo "  (installs docker.io and docker-compose, starts dockerd, builds debian:bookworm-slim)" >&2
    echo "  Elsewhere: install Docker with Compose, and start the daemon." >&2
    failed=$((failed + 1))
    exit 1
fi
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
else
    die "no Docker Compose (neither 'docker compose' nor 'docker-compose'); run ../shared/tools/docker-base-image.sh as root"
fi
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the test clients"
echo "docker $(docker version -f '{{.Server.Version}}'), $("${compose[@]}" version --short 2>/dev/null || "${compose[@]}" version | head -n1)"

# --- A free host port (host networking: the server binds it directly) -------------
port_free() {
    python3 - "$1" <<'EOF'
import socket, sys
for family, addr in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(sys.argv[1])))
        s.close()
    except OSError as e:
        if family == socket.AF_INET6 and e.errno == 97:   # no IPv6 here
            continue
        sys.exit(1)
EOF
}
PORT=${DOCKER_TEST_PORT:-18989}
if ! port_free "$PORT"; then
    [ -z "${DOCKER_TEST_PORT:-}" ] || die "DOCKER_TEST_PORT=$PORT is in use"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
export TCPCHAT_PORT=$PORT
# The web gateway (--http) binds a second host port.
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
[ "$HTTP_PORT" != "$PORT" ] || die "no second free port"
export TCPCHAT_HTTP_PORT=$HTTP_PORT
export TCPCHAT_BUILD_NETWORK=${TCPCHAT_BUILD_NETWORK:-host}   # apt in the build: host network
# The test's own settings, whatever the caller's shell has: defaults for the rest.
for v in MAX_CLIENTS HISTORY MAX_ROOMS VERBOSE MAX_BACKLOG RATE NAME_TIMEOUT CONNECT_RATE MAX_PER_ADDRESS ROOM_IDLE \
         BIND LOG_FILE HTTP_ORIGIN; do
    export "TCPCHAT_$v="
done
TCPCHAT_VERSION=$(sh scripts/version.sh)
export TCPCHAT_VERSION                   # the image's version label
echo "compose project $PROJECT, host ports $PORT (nc) and $HTTP_PORT (web), only 127.0.0.1"
dc config -q || die "compose.yaml + docker/compose.test.yaml do not validate"
pass "compose config validates"

# --- Build --------------------------------------------------------------------
step "build: docker/Dockerfile (make, unit tests, runtime image)"
before=$(docker images -q -f dangling=true | sort -u)
t0=$(now)
if ! dc build >"$WORK/build.log" 2>&1; then
    tail -n 60 "$WORK/build.log"
    if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
        echo "docker-test: debian:bookworm-slim is not here and could not be pulled;" >&2
        echo "  without Docker Hub, build it as root: bash ../shared/tools/docker-base-image.sh" >&2
    fi
    die "image build failed (the last 60 lines are above)"
fi
build_s=$(since "$t0")
new_images=$(comm -13 <(echo "$before") <(docker images -q -f dangling=true | sort -u) | tr '\n' ' ')
grep -E '^tests: [0-9]+ passed' "$WORK/build.log" | tail -n 1 | sed 's/^/unit tests in the build: /' || true
pass "image built in ${build_s}s"

# --- Run ------------------------------------------------------------------------
step "start"
start_server
image=$(docker inspect -f '{{.Config.Image}}' "$cid")
echo "image $image: $(docker image ls --format '{{.Size}}' "$image")"
if [ "$(docker exec "$cid" cat /proc/1/comm)" = TCPChat ]; then pass "TCPChat is PID 1"; else fail "PID 1 is $(docker exec "$cid" cat /proc/1/comm)"; fi
uid=$(docker exec "$cid" id -u)
if [ "$uid" != 0 ]; then pass "runs as non-root (uid $uid)"; else fail "runs as root"; fi
nofile=$(docker exec "$cid" sh -c 'ulimit -n')
if [ "$nofile" -gt 1024 ]; then pass "nofile raised ($nofile)"; else fail "nofile is $nofile"; fi

# The healthcheck (TCPChat --health, every 1 s here) is answered without a
# client slot and without a log line: a few probes later, no client has
# connected yet, so the gateway must have logged no connection at all.
step "healthcheck probes leave no log lines"
probes() { docker inspect -f '{{len .State.Health.Log}}' "$cid"; }
enough_probes() { [ "$(probes)" -ge 3 ]; }
wait_for 20 enough_probes || true
if logs_have '(gateway|web) connection (opened|closed|refused)'; then
    fail "healthcheck probes show in docker logs: $(docker logs "$cid" 2>&1 | grep -E '(gateway|web) connection' | head -n 3)"
else
    pass "$(probes) healthcheck probes, no connection lines in docker logs"
fi
# The last probe (the first ones may have run before the server listened).
codes=$(docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}} {{end}}' "$cid")
codes=${codes% }
if [ "${codes##* }" = 0 ] && docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$cid" \
        | grep -F "TCPChat on port $PORT and /healthz on port $HTTP_PORT: OK" >/dev/null; then
    pass "healthcheck: TCPChat --health (the gateway and the web gateway's /healthz) says OK and exits 0 (exit codes: $codes)"
else
    fail "healthcheck: $(docker inspect -f '{{json .State.Health.Log}}' "$cid")"
fi

step "version and labels"
label=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$image")
if [ "$label" = "$TCPCHAT_VERSION" ]; then pass "label org.opencontainers.image.version=$label"; else fail "version label '$label', want '$TCPCHAT_VERSION'"; fi
license=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.licenses"}}' "$image")
if [ "$license" = MIT ]; then pass "label org.opencontainers.image.licenses=MIT"; else fail "licenses label '$license'"; fi
in_image=$(docker run --rm "$image" --version 2>&1 || true)
if [ "$in_image" = "TCPChat $(sed -n 1p VERSION)" ]; then pass "--version in the image: $in_image"; else fail "--version in the image: '$in_image', want 'TCPChat $(sed -n 1p VERSION)'"; fi

step "clients on 127.0.0.1:$PORT"
python3 tests/docker/client.py session "$PORT" tests/data/banner.txt >"$WORK/client.out" 2>&1 &
client_pid=$!
ready_or_gone() { client_said READY || ! kill -0 "$client_pid"; }
wait_for 30 ready_or_gone || true
if ! client_said READY; then
    sed 's/^/  /' "$WORK/client.out"; die "the clients did not get through their session"
fi
grep -E '^(PASS|FAIL): ' "$WORK/client.out" | sed 's/^/  /'
passed=$((passed + $(grep -c '^PASS: ' "$WORK/client.out" || true)))

step "the web gateway on 127.0.0.1:$HTTP_PORT: the page, /ws with an nc client, /metrics"
# Debian's python3 has python3-websockets; another python3 may come first on PATH.
web_python=python3
[ -x /usr/bin/python3 ] && web_python=/usr/bin/python3
if "$web_python" tests/docker/client.py web "$PORT" "$HTTP_PORT" >"$WORK/web.out" 2>&1; then
    grep -E '^PASS: ' "$WORK/web.out" | sed 's/^/  /'
    passed=$((passed + $(grep -c '^PASS: ' "$WORK/web.out" || true)))
else
    sed 's/^/  /' "$WORK/web.out"
    fail "the web gateway's checks through the container"
fi

# Written while the server runs: they reach docker logs at once, unbuffered.
step "actor log lines, live"
while IFS='|' read -r actor text; do
    if wait_for 5 logs_have "$(actor_line "$actor" "$text")"; then
        pass "docker logs: ${actor//\\/} ${text//\\/}"
    else
        fail "docker logs lack a line 'TIMESTAMP ${actor//\\/} ${text//\\/}'"
    fi
done <<'LINES'
gateway|listening on 
web|listening for HTTP on 
gateway|connection opened from 127\.0\.0\.1:
hub|room dev created
hub|room dev stopped
room\[general\]|alice joined
room\[general\]|bob joined
room\[general\]|alice left
room\[dev\]|alice joined
LINES

step "docker stop -t 3 with two clients connected"
t0=$(now)
docker stop -t 3 "$cid" >/dev/null
stop_s=$(since "$t0")
code=$(docker inspect -f '{{.State.ExitCode}}' "$cid")
if [ "$code" = 0 ]; then pass "exit code 0 after SIGTERM"; else fail "exit code $code after docker stop -t 3 (137: killed, SIGTERM ignored)"; fi
if awk -v s="$stop_s" 'BEGIN { exit !(s <= 3) }'; then pass "stopped in ${stop_s}s (limit 3 s)"; else fail "stop took ${stop_s}s (limit 3 s)"; fi
client_rc=0
wait_for 15 bash -c "! kill -0 $client_pid" || kill "$client_pid" 2>/dev/null || true
wait "$client_pid" || client_rc=$?
client_pid=""
grep -E '^(PASS|FAIL): ' "$WORK/client.out" | grep EOF | sed 's/^/  /' || true
passed=$((passed + $(grep -c '^PASS: .*EOF' "$WORK/client.out" || true)))
if [ "$client_rc" != 0 ]; then
    grep -E '^FAIL: ' "$WORK/client.out" | sed 's/^/  /' || echo "  the clients ended with status $client_rc"
    failed=$((failed + 1))
fi
if logs_have "$(actor_line 'room\[general\]' 'stopped')"; then pass "docker logs: room[general] stopped"; else fail "docker logs lack room[general] stopped"; fi

# --- Persistence ---------------------------------------------------------------
step "history across docker compose down / up (named volume at /data)"
help=$(docker run --rm "$image" --help 2>&1 || true)
if grep -q -- '--data-dir' <<<"$help"; then
    dc down -t 3 >"$WORK/down1.log" 2>&1 || { cat "$WORK/down1.log"; die "compose down failed"; }
    start_server
    if python3 tests/docker/client.py history "$PORT" carol '[alice]:hello from alice' >"$WORK/history.out" 2>&1; then
        pass "a new client got alice's line from the history after down/up"
    else
        cat "$WORK/history.out"; fail "history did not survive docker compose down / up"
    fi
    docker stop -t 3 "$cid" >/dev/null
else
    echo "skipped: no --data-dir yet"
fi

echo
echo "build ${build_s}s, stop ${stop_s}s, whole test ${SECONDS}s"
