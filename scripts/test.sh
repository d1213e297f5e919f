#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs dependencies,
# builds with warnings as errors, runs unit and integration tests (the latter
# start their own nats-server, simulated workers and scaler on free ports).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DMETRICS_KEDA_WERROR=ON -DMETRICS_KEDA_TESTS=ON
cd build
ctest --output-on-failure --timeout 300 "$@"
