#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs cmocka test binaries one after another and sums their results.
# Usage: tests/run.sh BUILD_DIR BINARY...
# End-to-end binaries find the server under test through TCPCHAT_BIN.
# TEST_WRAPPER, if set, runs each binary under it (valgrind).
set -u
build=$1; shift
export TCPCHAT_BIN="${TCPCHAT_BIN:-$PWD/$build/TCPChat}"
export TCPCHAT_TEST_DATA="${TCPCHAT_TEST_DATA:-$PWD/tests/data}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# libzmq is not instrumented: its own descriptor calls (eventfd, epoll_ctl
# between its threads) are synchronised by atomics TSan cannot see. Nothing
# is suppressed: src/messages.c annotates the message hand-overs instead.
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0:exitcode=66:second_deadlock_stack=1:ignore_noninstrumented_modules=1}"
passed=0; failed=0; broken=""
for bin in "$@"; do
    # unit/test_text and e2e/test_text: the folder tells them apart
    name=$(basename "$(dirname "$bin")")/$(basename "$bin")
    out=$(mktemp)
    # shellcheck disable=SC2086  # the wrapper is a command with its flags
    ${TEST_WRAPPER:-} "$bin" >"$out" 2>&1
    rc=$?
    cat "$out"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] || grep -qE 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$out"; then
        broken="$broken $name(rc=$rc)"
        [ -z "$f" ] && failed=$((failed + 1))
    fi
    rm -f "$out"
done
echo
[ -n "$broken" ] && echo "failing binaries:$broken"
echo "tests: $passed passed, $failed failed"
[ -z "$broken" ] && [ "$failed" -eq 0 ]
