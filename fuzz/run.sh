#!/usr/bin/env bash
# Runs every fuzz target for a bounded time. usage: fuzz/run.sh BUILD_DIR SECONDS
# Seeds come from fuzz/seeds/<target>/ when present; corpora grow in
# fuzz/corpus-<target>/ (ignored by git). Fails if any target finds a crash.
set -euo pipefail
build=${1:-build-fuzz}; secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
status=0
for bin in "$build"/fuzz/fuzz_*; do
  name=$(basename "$bin")
  corpus="$here/corpus-$name"; mkdir -p "$corpus"
  seeds=()
  [[ -d "$here/seeds/$name" ]] && seeds=("$here/seeds/$name")
  echo "== $name (${secs}s)"
  if ! ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" -max_len=65536 \
        -print_final_stats=1 "$corpus" "${seeds[@]}" > "$build/$name.log" 2>&1; then
    echo "!! $name found a problem; see $build/$name.log"; tail -30 "$build/$name.log"; status=1
  else
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$build/$name.log" | tail -2
  fi
done
exit $status
