#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs TCPChat's build and test dependencies on Debian/Ubuntu when they are missing.
# Quiet when everything is there; says what it installs otherwise.
set -eu
missing=""
pkg-config --version >/dev/null 2>&1 || missing="$missing pkg-config"
for pair in libzmq:libzmq3-dev libczmq:libczmq-dev libtelnet:libtelnet-dev cmocka:libcmocka-dev icu-i18n:libicu-dev libsystemd:libsystemd-dev libwebsockets:libwebsockets-dev hiredis:libhiredis-dev; do
    mod=${pair%%:*}; deb=${pair#*:}
    pkg-config --exists "$mod" 2>/dev/null || missing="$missing $deb"
done
command -v cc >/dev/null 2>&1 || missing="$missing gcc"
# Cluster mode's tests run their own redis-server (tests/redis_server.c).
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
# The web gateway's end-to-end tests speak WebSocket from Debian's Python.
/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1 || missing="$missing python3-websockets"
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-deps: missing:$missing; install them with your package manager" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "ensure-deps: need root or sudo to install:$missing" >&2; exit 1; }
    sudo="sudo"
fi
echo "ensure-deps: installing missing build dependencies:$missing"
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
