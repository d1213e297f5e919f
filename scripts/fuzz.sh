#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang 14, ASan and UBSan into build-fuzz/,
# then runs each for SECONDS on a scratch copy of its seed corpus (fuzz/corpus/<name>;
# the committed corpus never grows). A target fails when it finds a crash, a leak, UB,
# a timeout or a broken invariant; the input is kept in build-fuzz/fuzz-artifacts/ and
# the report in build-fuzz/fuzz-logs/. Reproduce with
#   build-fuzz/fuzz/<target> build-fuzz/fuzz-artifacts/<target>/crash-...
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]          (default 60; CI uses 20)
#   FUZZ_BUILD_DIR=/elsewhere JOBS=2 scripts/fuzz.sh 20
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]* | 0) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac
build_dir="${FUZZ_BUILD_DIR:-build-fuzz}"
[[ "$build_dir" = /* ]] || build_dir="$root/$build_dir"
jobs="${JOBS:-$(nproc)}"
start=$EPOCHREALTIME
since() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.0f", e - s }'; }

# target corpus max_len dictionary
targets=(
  "stats_decoder_fuzzer stats 65536 fuzz/stats.dict"
  "trigger_metadata_fuzzer metadata 4096 fuzz/metadata.dict"
  "event_msgpack_fuzzer events_msgpack 4096 fuzz/events_msgpack.dict"
  "zmq_frames_fuzzer zmq_frames 4096 fuzz/events_msgpack.dict"
  "json_event_fuzzer events_json 4096 fuzz/events_json.dict"
  "discovery_record_fuzzer discovery 4096 fuzz/discovery.dict"
  "event_subject_fuzzer event_subjects 1024 fuzz/event_subjects.dict"
  "worker_metrics_fuzzer worker_metrics 65536 fuzz/worker_metrics.dict"
  "trace_readers_fuzzer traces 16384 fuzz/traces.dict"
)

scripts/install-deps.sh
# clang and its libFuzzer/sanitizer runtimes are only needed here.
missing=()
for package in clang-14 libclang-rt-14-dev llvm-14; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
[ -x "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer" UBSAN_SYMBOLIZER_PATH="$symbolizer"

echo "== build $build_dir (clang 14, fuzzer + ASan + UBSan)"
build_start=$EPOCHREALTIME
# Only the fuzz targets and what they link are built. Warnings are errors in the g++
# builds (scripts/test.sh, scripts/sanitize.sh); here clang's extra ones must not stop fuzzing.
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DMETRICS_KEDA_FUZZ=ON -DMETRICS_KEDA_TESTS=OFF -DMETRICS_KEDA_WERROR=OFF \
  -DMETRICS_KEDA_SANITIZE=fuzzer-no-link,address,undefined >/dev/null
target_names=()
for entry in "${targets[@]}"; do target_names+=("${entry%% *}"); done
cmake --build "$build_dir" --parallel "$jobs" --target "${target_names[@]}"
echo "build took $(since "$build_start")s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$build_dir/fuzz-logs"
export ASAN_OPTIONS="halt_on_error=1:print_stacktrace=1:detect_leaks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

passed=0
failed=0
summary=()
for entry in "${targets[@]}"; do
  read -r name corpus max_len dict <<<"$entry"
  echo
  echo "== $name: ${seconds}s, corpus fuzz/corpus/$corpus, -max_len=$max_len"
  work="$scratch/$name"
  artifacts="$build_dir/fuzz-artifacts/$name"
  log="$build_dir/fuzz-logs/$name.log"
  mkdir -p "$work/corpus" "$artifacts"
  cp -R "fuzz/corpus/$corpus/." "$work/corpus/"
  status=0
  # libFuzzer stops itself after max_total_time; timeout only guards a hang in it.
  (cd "$work" && timeout --signal=KILL "$((seconds + 120))" "$build_dir/fuzz/$name" \
    -max_total_time="$seconds" -max_len="$max_len" -dict="$root/$dict" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    corpus) >"$log" 2>&1 || status=$?
  execs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  rate=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)
  line="$name: ${execs:-?} execs (${rate:-?}/s), ${cov:-no coverage line}"
  if [ $status -eq 0 ]; then
    passed=$((passed + 1))
    echo "PASS $line"
  else
    failed=$((failed + 1))
    line="$line, exit $status"
    echo "FAIL $line"
    # The report: what went wrong, the stack, and where the input was saved.
    grep -m1 -B2 -A40 -E '==[0-9]+==ERROR|runtime error|invariant violated|deadly signal' "$log" ||
      tail -40 "$log"
    grep -E 'Test unit written to|artifact_prefix' "$log" || true
    echo "full log: $log"
  fi
  summary+=("$line")
done

echo
echo "== fuzz summary (${seconds}s per target, $(since "$start")s in all)"
printf '  %s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
