#!/usr/bin/env bash
# The FUSE shield beside its baselines, measured in the same run: the same reads
# (dd bs=1M sequential; bench_randread's random 4 KiB preads) of the same data
# as a plain file on the same disk, through the shield, and through gocryptfs.
# Machines are shared and noisy: every figure is the median of RUNS runs, and
# the three readers take turns (plain, shield, gocryptfs, plain, ...).
#
# All backing files (plain, cella ciphertext, gocryptfs ciphertext) are read
# once first, so every reader finds its backing bytes in the page cache: the
# figures compare file-system and crypto overhead, not the disk. The shield and
# gocryptfs are mounted afresh for every run so their own page caches start
# cold; "shield, re-read" shows a second read of the same mount (the shield
# lets the kernel keep its cache: files cannot change while mounted).
#
# Random reads use the default chunk size (16 KiB) unless said otherwise: a
# 4 KiB read authenticates its whole chunk, and the shield stores the rest of
# that chunk into the mount's page cache, so later reads that land in it are
# answered by the kernel. gocryptfs reads 4 KiB blocks. The goal row (issue
# 18) is the random-read ratio, printed through goal_row (bench/summary.sh).
#
# usage: bench/shield.sh BUILD_DIR
# env: SHIELD_MB (default BENCH_MB or 1024) file size; RUNS (default 5);
#      RAND_N (default 20000) random reads per run; SHIELD_DIR (default /tmp)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/summary.sh
source "$HERE/summary.sh"
build=$(cd "${1:-build}" && pwd)
CELLA=$build/cella
RANDREAD=$build/bench/bench_randread
MB=${SHIELD_MB:-${BENCH_MB:-1024}}
RUNS=${RUNS:-5}
N=${RAND_N:-20000}
base=${SHIELD_DIR:-/tmp}
W=$(mktemp -d "$base/cella-shield-bench.XXXXXX")
cleanup() {
  for m in "$W/mnt" "$W/gc.mnt"; do
    if grep -q " $m fuse" /proc/self/mounts 2>/dev/null; then
      fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    fi
  done
  rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
export CELLA_PROGRESS=0

timed() { local t0 t1; t0=$EPOCHREALTIME; "$@" >/dev/null; t1=$EPOCHREALTIME; echo "$t1 - $t0" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mbps() { echo "scale=0; $MB * 1048576 / $1 / 1000000" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }
row() { printf '%-44s %12s %12s %12s %9s %9s\n' "$@"; }
randbytes() { (openssl enc -aes-128-ctr -nosalt -pass pass:cella -pbkdf2 </dev/zero 2>/dev/null || true) |
              head -c $(($1 * 1048576)); }

echo "cella shield bench: ${MB} MiB file on $(df --output=fstype "$W" | tail -1) ($W), $(nproc) cores, $RUNS runs each (median), $N random 4 KiB reads per run"
mkdir -p plain mnt gc.back gc.mnt
randbytes "$MB" > plain/data.bin
"$CELLA" volume encrypt plain vol --key-file k.key >/dev/null 2>&1
# the same data with 4 KiB chunks: what a random-access dataset should use
"$CELLA" volume encrypt plain vol4k --key-file k.key --chunk-size 4096 >/dev/null 2>&1

shield_mount() { "$CELLA" volume mount "${1:-vol}" mnt --key-file k.key; }
shield_umount() { "$CELLA" volume umount mnt; while grep -q " $W/mnt fuse" /proc/self/mounts; do sleep 0.05; done; }
if ! "$CELLA" volume mount vol mnt --key-file k.key 2>mount.err; then
  echo "shield: not measured: $(cat mount.err)"; exit 0
fi
shield_umount

have_gc=0
if command -v gocryptfs >/dev/null && [[ -e /dev/fuse ]] &&
   gocryptfs -init -q -extpass 'echo cella-bench' -scryptn 10 gc.back >/dev/null 2>&1; then
  gc_mount() { gocryptfs -q -nosyslog -extpass 'echo cella-bench' gc.back gc.mnt >/dev/null 2>&1; }
  gc_umount() { fusermount3 -u gc.mnt; }
  if gc_mount; then
    dd if=plain/data.bin of=gc.mnt/data.bin bs=1M status=none
    gc_umount
    have_gc=1
  fi
fi
(( have_gc )) || echo "gocryptfs: not measured (needs the gocryptfs package and /dev/fuse; scripts/deps.sh bench)"

# warm every backing file
cat plain/data.bin vol/* vol4k/* > /dev/null
(( have_gc )) && find gc.back -type f -exec cat {} + > /dev/null

declare -A T
for ((i = 0; i < RUNS; i++)); do
  T[plain]+="$(timed dd if=plain/data.bin of=/dev/null bs=1M status=none) "
  T[plainr]+="$("$RANDREAD" plain/data.bin "$N" $((i + 1)) 2>/dev/null) "
  shield_mount
  T[shield]+="$(timed dd if=mnt/data.bin of=/dev/null bs=1M status=none) "
  T[shield2]+="$(timed dd if=mnt/data.bin of=/dev/null bs=1M status=none) "
  shield_umount
  shield_mount
  T[shieldr]+="$("$RANDREAD" mnt/data.bin "$N" $((i + 1)) 2>/dev/null) "
  shield_umount
  shield_mount vol4k
  T[shieldr4]+="$("$RANDREAD" mnt/data.bin "$N" $((i + 1)) 2>/dev/null) "
  shield_umount
  if (( have_gc )); then
    gc_mount
    T[gc]+="$(timed dd if=gc.mnt/data.bin of=/dev/null bs=1M status=none) "
    gc_umount
    gc_mount
    T[gcr]+="$("$RANDREAD" gc.mnt/data.bin "$N" $((i + 1)) 2>/dev/null) "
    gc_umount
  fi
done
med() { tr ' ' '\n' <<<"${T[$1]}" | grep . | median; }

# peak memory of the shield's server while it streams the whole file
RSS=""
if [[ -x /usr/bin/time ]]; then
  /usr/bin/time -f '%M' -o rss.txt "$CELLA" volume mount vol mnt --key-file k.key --foreground 2>/dev/null &
  srv=$!
  for _ in $(seq 100); do grep -q " $W/mnt fuse" /proc/self/mounts && break; sleep 0.05; done
  dd if=mnt/data.bin of=/dev/null bs=1M status=none
  "$CELLA" volume umount mnt  # the server then exits and time(1) reports
  wait "$srv" || true
  kib=$(tail -1 rss.txt 2>/dev/null || true)
  [[ "$kib" =~ ^[0-9]+$ ]] && RSS=$((kib / 1024))
fi

P=$(mbps "$(med plain)"); S=$(mbps "$(med shield)"); S2=$(mbps "$(med shield2)")
PR=$(med plainr); SR=$(med shieldr); SR4=$(med shieldr4)
echo
row "figure" "shield" "plain file" "gocryptfs" "vs plain" "vs gcfs"
if (( have_gc )); then
  G=$(mbps "$(med gc)"); GR=$(med gcr)
  row "sequential read, dd bs=1M (MB/s)" "$S" "$P" "$G" "$(ratio "$S" "$P")" "$(ratio "$S" "$G")"
  row "random 4 KiB pread (reads/s)" "$SR" "$PR" "$GR" "$(ratio "$SR" "$PR")" "$(ratio "$SR" "$GR")"
else
  row "sequential read, dd bs=1M (MB/s)" "$S" "$P" "-" "$(ratio "$S" "$P")" "-"
  row "random 4 KiB pread (reads/s)" "$SR" "$PR" "-" "$(ratio "$SR" "$PR")" "-"
fi
if (( have_gc )); then
  row "random 4 KiB pread, 4 KiB-chunk volume" "$SR4" "$PR" "$GR" "$(ratio "$SR4" "$PR")" "$(ratio "$SR4" "$GR")"
else
  row "random 4 KiB pread, 4 KiB-chunk volume" "$SR4" "$PR" "-" "$(ratio "$SR4" "$PR")" "-"
fi
row "shield, re-read of the same mount (MB/s)" "$S2" "$P" "-" "$(ratio "$S2" "$P")" "-"
[[ -n "$RSS" ]] && echo "shield server peak RSS while streaming ${MB} MiB: ${RSS} MiB"
if (( have_gc )); then
  met=$(echo "$S >= 1.5 * $G" | bc -l)
  echo "issue target: sequential shield reads >= 1.5x gocryptfs: $(ratio "$S" "$G")x ($([[ $met == 1 ]] && echo met || echo NOT met))"
  goal_row "shield, random 4 KiB pread ÷ gocryptfs" "$SR reads/s (default chunks, ${MB} MiB file)" \
    "gocryptfs" "$GR reads/s" "$(printf '%.2f' "$(ratio "$SR" "$GR")")×" "≥ 1.5"
else
  goal_row "shield, random 4 KiB pread ÷ gocryptfs" "$SR reads/s" "gocryptfs" "not measured" "-" "≥ 1.5"
fi
