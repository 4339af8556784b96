#!/usr/bin/env bash
# Runs every test of a built tree (lit regression tests, then the gtest unit
# tests) and prints one summary line: "check: N passed, N failed".
set -uo pipefail
build=${1:-build}
lit=/usr/lib/llvm-22/bin/lit

lit_log=$(mktemp)
"$lit" -sv "$build/test" 2>&1 | tee "$lit_log"
lit_rc=${PIPESTATUS[0]}
unit_log=$(mktemp)
unit_rc=0
for test in "$build"/unittests/Quant*Tests; do
  "$test" --gtest_brief=1 2>&1 | tee -a "$unit_log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || unit_rc=1
done

count() { grep -Eo "$1" "$2" | grep -Eo '^[^0-9]*[0-9]+' | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}'; }
lit_pass=$(count '^ *Passed *: *[0-9]+' "$lit_log"); lit_pass=${lit_pass:-0}
lit_fail=$(count '^ *Failed *: *[0-9]+' "$lit_log"); lit_fail=${lit_fail:-0}
lit_skip=$(count '^ *Unsupported *: *[0-9]+' "$lit_log"); lit_skip=${lit_skip:-0}
unit_total=$(count '[0-9]+ tests? from [0-9]+ test suites? ran' "$unit_log"); unit_total=${unit_total:-0}
unit_fail=$(count '\[  FAILED  \] [0-9]+ test' "$unit_log"); unit_fail=${unit_fail:-0}
unit_skip=$(count '\[  SKIPPED \] [0-9]+ test' "$unit_log"); unit_skip=${unit_skip:-0}
unit_pass=$((unit_total - unit_fail - unit_skip))

passed=$((lit_pass + unit_pass))
failed=$((lit_fail + unit_fail))
if [ "$lit_rc" -ne 0 ] && [ "$lit_fail" -eq 0 ]; then failed=$((failed + 1)); fi
if [ "$unit_rc" -ne 0 ] && [ "$unit_fail" -eq 0 ]; then failed=$((failed + 1)); fi
echo
echo "lit: $lit_pass passed, $lit_fail failed, $lit_skip unsupported; gtest: $unit_pass passed, $unit_fail failed, $unit_skip skipped"
echo "check: $passed passed, $failed failed, $((lit_skip + unit_skip)) skipped"
[ "$failed" -eq 0 ]
