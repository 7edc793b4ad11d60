#!/usr/bin/env bash
# Writes: an app writing its output the way the runtime provides it (into a
# private tmpfs, then sealed into an encrypted volume on disk at exit) beside
# the same write to a plain file on disk and through gocryptfs, same run,
# medians of RUNS alternating runs. MB/s of plaintext, sealing included.
# usage: bench/output.sh BUILD_DIR [MIB] [RUNS]
set -euo pipefail
LC_NUMERIC=C # EPOCHREALTIME, bc: a clock read without a fork (bench/summary.sh)
build=$(cd "${1:-build}" && pwd)
MB=${2:-512}
RUNS=${3:-5}
CELLA=$build/cella
W=$(mktemp -d /tmp/cella-out-bench.XXXXXX)
S=$(mktemp -d /dev/shm/cella-out-bench.XXXXXX)
MNT=""
cleanup() { [[ -n "$MNT" ]] && fusermount3 -u "$MNT" 2>/dev/null; rm -rf "$W" "$S"; }
trap cleanup EXIT
(openssl enc -aes-128-ctr -nosalt -pass pass:cella -pbkdf2 </dev/zero 2>/dev/null || true) |
  head -c $((MB * 1048576)) > "$S/src.bin"
mbps() { echo "scale=0; $MB * 1048576 / $1 / 1000000" | bc -l; }
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
have_gc=0
if command -v gocryptfs >/dev/null && [[ -e /dev/fuse ]]; then
  mkdir -p "$W/gc.back" "$W/gc.mnt"
  gocryptfs -init -q -extpass 'echo b' -scryptn 10 "$W/gc.back" >/dev/null 2>&1 &&
    gocryptfs -q -nosyslog -extpass 'echo b' "$W/gc.back" "$W/gc.mnt" >/dev/null 2>&1 &&
    { have_gc=1; MNT=$W/gc.mnt; }
fi
P="" C="" G=""
for ((i = 0; i < RUNS; i++)); do
  rm -rf "$W/plain.bin" "$S/out" "$W/vol" "$W/gc.mnt/out.bin" 2>/dev/null || true
  t0=$EPOCHREALTIME; dd if="$S/src.bin" of="$W/plain.bin" bs=1M conv=fsync status=none; t1=$EPOCHREALTIME
  P+="$(echo "$t1 - $t0" | bc -l) "
  mkdir -p "$S/out"
  t0=$EPOCHREALTIME
  dd if="$S/src.bin" of="$S/out/result.bin" bs=1M status=none
  "$CELLA" volume encrypt "$S/out" "$W/vol" --key-file "$W/k.key" >/dev/null 2>&1
  t1=$EPOCHREALTIME
  C+="$(echo "$t1 - $t0" | bc -l) "
  if (( have_gc )); then
    t0=$EPOCHREALTIME; dd if="$S/src.bin" of="$W/gc.mnt/out.bin" bs=1M conv=fsync status=none; t1=$EPOCHREALTIME
    G+="$(echo "$t1 - $t0" | bc -l) "
  fi
done
PM=$(mbps "$(med "$P")"); CM=$(mbps "$(med "$C")")
printf '\noutput write bench (%d MiB, %d runs, median; durable on /tmp)\n' "$MB" "$RUNS"
printf '%-62s %8s MB/s\n' "app output: write to private tmpfs + seal to an on-disk volume" "$CM"
printf '%-62s %8s MB/s  ratio %s\n' "plain file on disk (dd conv=fsync)" "$PM" "$(echo "scale=2; $CM / $PM" | bc -l)"
if (( have_gc )); then
  GM=$(mbps "$(med "$G")")
  printf '%-62s %8s MB/s  ratio %s\n' "gocryptfs (dd conv=fsync into the mount)" "$GM" "$(echo "scale=2; $CM / $GM" | bc -l)"
fi
