#!/bin/sh
# Runs each CUnit runner given, prints one summary line, and exits non-zero
# if any runner failed. Each runner's exit status is its failure count.
failed=0
passed=0
for bin in "$@"; do
    echo "== $bin"
    # RUNNER_PREFIX runs each under a tool (make test-valgrind sets it).
    if ${RUNNER_PREFIX:-} "$bin"; then
        passed=$((passed + 1))
    else
        echo "!! $bin failed (exit $?)"
        failed=$((failed + 1))
    fi
done
echo "test runners: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
