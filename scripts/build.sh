#!/usr/bin/env bash
# Configures and builds into build/ (the executables land at build/metrics-keda,
# build/dynamo-mock-worker and build/keda-query). Extra arguments go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build build --parallel "$(nproc)"
