#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the server under valgrind memcheck for the end-to-end suite
# (`make test-valgrind` points TCPCHAT_BIN here). Any memory error or
# definite leak makes the server exit 99, which the harness reports as a
# failed test: it requires exit status 0 after SIGTERM.
: "${TCPCHAT_VALGRIND_TARGET:?the server binary to run under valgrind}"
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    "$TCPCHAT_VALGRIND_TARGET" "$@"
