#!/usr/bin/env bash
# Installs every build, test and demo dependency from Debian 12's packages.
# Idempotent and quiet: does nothing when everything is already present.
# INSTALL_DEPS_NO_BROWSER=1 leaves out Chromium, which only a test needs.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libnats-dev nats-server etcd-server etcd-client libzmq3-dev cppzmq-dev
  libsimdjson-dev libmsgpack-cxx-dev libcli11-dev libspdlog-dev prometheus-cpp-dev libcpp-httplib-dev
  libcurl4-openssl-dev libyaml-cpp-dev zlib1g-dev
  libjs-chart.js gnuplot-nox
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus openssl
)
# The status page's chart test renders the page in headless Chromium. The image
# build (deploy/Dockerfile) runs no test and leaves the browser out.
[ "${INSTALL_DEPS_NO_BROWSER:-}" = 1 ] || packages+=(chromium)
# Tools some machines already have from elsewhere (another kubectl, a newer node).
command -v kubectl >/dev/null || packages+=(kubernetes-client)
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
