#!/usr/bin/env bash
# make bench: every benchmark in turn (each prints its figures beside its
# same-run baselines; those with a goal also append a row to $BENCH_SUMMARY).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
for b in run cas runtime shield image output import market hub hub_pg; do
  echo; echo "== bench/$b.sh"
  bash "$HERE/$b.sh" "$build"
done
