#!/usr/bin/env bash
# Rewrites tests/golden/*.json from the current build (see tests/golden_run_test.cpp). Run it
# only after a deliberate change of the training outputs, and review the diff it leaves.
#   scripts/regenerate_golden.sh [build dir, default build]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target fedkseed fedkseed_tests
FEDKSEED_REGENERATE_GOLDEN=1 "$build/tests/fedkseed_tests" --gtest_filter='Cases/GoldenRun.*'
git --no-pager diff --stat -- tests/golden
