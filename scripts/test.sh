#!/usr/bin/env bash
# One command from a fresh clone to a passing test suite: setup (with the test-only
# Python packages), build, then ctest. Extra arguments go to ctest (e.g. -R Rouge).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh" --test
cd "$root"
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "${JOBS:-$(nproc)}" "$@"
