#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints the version TCPChat is built as (the Makefile calls it):
#   in a git clone  `git describe --tags --dirty` (v1.1.0, v1.1.0-3-gabc1234,
#                   ...-dirty); with no release tag yet, VERSION plus the
#                   commit: 1.1.0-gabc1234
#   without git     the VERSION file, as a release tarball ships it
cd "$(dirname "$0")/.." || exit 1
base=$(sed -n '1{s/[^0-9A-Za-z.+-]//g;p;}' VERSION 2>/dev/null)
if [ -e .git ] && command -v git >/dev/null 2>&1; then
    described=$(git describe --tags --dirty --match 'v[0-9]*' 2>/dev/null)
    if [ -n "$described" ]; then
        echo "${described#v}"
        exit 0
    fi
    commit=$(git describe --always --dirty --abbrev=7 2>/dev/null)
    if [ -n "$commit" ]; then
        echo "${base:-0}-g$commit"
        exit 0
    fi
fi
echo "${base:-unknown}"
