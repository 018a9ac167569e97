#!/usr/bin/env bash
# Sets up, builds and runs every test (lit + GoogleTest through ctest).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/utils/setup-debian.sh"
bash "$root/utils/build.sh"
ctest --test-dir "${BUILD_DIR:-$root/build}" --output-on-failure -j"${JOBS:-2}"
