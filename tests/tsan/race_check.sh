#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs race_check (built with -fsanitize=thread) both ways: the racy run
# must be reported as a data race on s_shared, the handed run must report
# nothing. TSAN_OPTIONS as tests/run.sh sets them.
# Usage: tests/tsan/race_check.sh BINARY
set -u
bin=$1
export TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1:ignore_noninstrumented_modules=1"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bin" racy >"$out" 2>&1
rc=$?
if [ "$rc" -ne 66 ] || ! grep -q 'WARNING: ThreadSanitizer: data race' "$out" \
   || ! grep -q "s_shared" "$out"; then
    cat "$out"
    echo "check-tsan-race: FAILED: a race between two actors across an unrelated message was not reported (rc=$rc)"
    exit 1
fi
"$bin" handed >"$out" 2>&1
rc=$?
if [ "$rc" -ne 0 ] || grep -q 'WARNING: ThreadSanitizer' "$out"; then
    cat "$out"
    echo "check-tsan-race: FAILED: a variable handed over with its message was reported (rc=$rc)"
    exit 1
fi
echo "check-tsan-race: the race across an unrelated message is reported, the hand-off is not"
