#!/usr/bin/env bash
# Runs every test of a built tree through the `check-quant` target (lit
# regression tests and, through test/Unit, every gtest binary) and prints one
# summary line: "check: N passed, N failed, N skipped".
set -uo pipefail
build=${1:-build}

log=$(mktemp)
cmake --build "$build" --target check-quant 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

count() { grep -Eo "^ *$1 *: *[0-9]+" "$log" | grep -Eo '[0-9]+$' | awk '{s+=$1} END {print s+0}'; }
passed=$(count Passed)
failed=$(( $(count Failed) + $(count 'Timed Out') + $(count 'Unresolved') ))
skipped=$(count Unsupported)
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
