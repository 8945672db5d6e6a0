#!/bin/sh
# SPDX-License-Identifier: MIT
# make check-units: systemd-analyze verify over contrib/tcpchat.service and
# contrib/tcpchat.socket. verify wants ExecStart's binary to exist, so the
# units are checked as copies in a scratch directory with ExecStart on the
# binary given (the one just built), under their own names.
# Usage: scripts/check-units.sh /abs/path/to/TCPChat
set -eu
bin=${1:?usage: check-units.sh /absolute/path/to/TCPChat}
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "check-units: systemd-analyze is not installed (apt-get install systemd)" >&2
    exit 1
fi
work=$(mktemp -d /tmp/tcpchat-units.XXXXXX)
trap 'rm -rf "$work"' EXIT
sed "s|^ExecStart=/usr/local/bin/TCPChat|ExecStart=$bin|" contrib/tcpchat.service >"$work/tcpchat.service"
cp contrib/tcpchat.socket "$work/tcpchat.socket"
grep -q "^ExecStart=$bin" "$work/tcpchat.service" || { echo "check-units: no ExecStart=/usr/local/bin/TCPChat line to rewrite" >&2; exit 1; }
# verify prints problems on stderr and may still exit 0 for some: any output fails.
out=$(cd "$work" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
      "$work/tcpchat.socket" "$work/tcpchat.service" 2>&1) || { echo "$out"; echo "check-units: systemd-analyze verify failed" >&2; exit 1; }
if [ -n "$out" ]; then
    echo "$out"
    echo "check-units: systemd-analyze verify has warnings" >&2
    exit 1
fi
echo "check-units: contrib/tcpchat.service and contrib/tcpchat.socket verify clean"
