#!/bin/sh
# SPDX-License-Identifier: MIT
# make check-docs: whatever `TCPChat --help` lists is documented and wired up.
#   every option and variable  -> docs/TCPChat.1, docs/PROTOCOL.md, README.md
#   every TCPCHAT_* variable   -> compose.yaml (passed through to the server;
#                                 the cluster's: compose.cluster.yaml)
#                                 and tests/e2e/e2e.c (cleared for the servers
#                                 the tests start, so a developer's own
#                                 settings never change a test)
# A new option that misses one of them fails here, not in a user's hands.
# Usage: scripts/check-docs.sh /path/to/TCPChat
set -eu
bin=${1:?usage: check-docs.sh /path/to/TCPChat}
cd "$(dirname "$0")/.."
help=$("$bin" --help)
options=$(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u)
variables=$(printf '%s\n' "$help" | grep -o 'TCPCHAT_[A-Z_]*' | sort -u)
[ -n "$options" ] && [ -n "$variables" ] || { echo "check-docs: no options in --help?" >&2; exit 1; }
man_text=$(sed 's/\\-/-/g' docs/TCPChat.1)
missing=""
for word in $options $variables; do
    printf '%s\n' "$man_text" | grep -F -e "$word" >/dev/null || missing="$missing docs/TCPChat.1:$word"
    grep -F -e "$word" docs/PROTOCOL.md >/dev/null || missing="$missing docs/PROTOCOL.md:$word"
    grep -F -e "$word" README.md >/dev/null || missing="$missing README.md:$word"
done
for var in $variables; do
    # A cluster's variables go to compose.cluster.yaml's nodes; compose.yaml
    # runs one node alone (with --data-dir, which --cluster refuses).
    case $var in
        TCPCHAT_CLUSTER | TCPCHAT_CLUSTER_* | TCPCHAT_NODE) compose=compose.cluster.yaml ;;
        *) compose=compose.yaml ;;
    esac
    grep -E "^ +$var:" $compose >/dev/null || missing="$missing $compose:$var"
    grep -F "\"$var\"" tests/e2e/e2e.c >/dev/null || missing="$missing tests/e2e/e2e.c:$var"
done
if [ -n "$missing" ]; then
    echo "check-docs: not documented or not passed through:" >&2
    for m in $missing; do echo "  $m" >&2; done
    exit 1
fi
echo "check-docs: $(echo $options | wc -w) options and $(echo $variables | wc -w) variables in the man page, PROTOCOL.md, README.md, compose.yaml (compose.cluster.yaml) and the e2e harness"
