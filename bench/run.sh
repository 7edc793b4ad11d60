#!/usr/bin/env bash
# The volume benchmark (part of make bench, bench/all.sh): cella's figures
# beside baselines measured in the same run, with ratios. Machines are shared
# and noisy: every figure is the median of RUNS runs, and cella and its
# baselines run in turn (A B A B ...).
#
# env: BENCH_MB (default 1024) data size; RUNS (default 5); BENCH_BIG_MB
# (default 4096) file size for the peak-RSS check; BENCH_DIR (default a
# directory on /dev/shm, so that disk noise does not swamp the figures).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/summary.sh"
build=${1:-build}
build=$(cd "$build" && pwd)
CELLA=$build/cella
MB=${BENCH_MB:-1024}
BIG=${BENCH_BIG_MB:-4096}
RUNS=${RUNS:-5}
base=${BENCH_DIR:-/dev/shm}
W=$(mktemp -d "$base/cella-bench.XXXXXX")
MNT=""
cleanup() { [[ -n "$MNT" ]] && fusermount3 -u "$MNT" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
cd "$W"
cores=$(nproc)
export CELLA_PROGRESS=0

# timed CMD...: wall seconds of one run, stdout discarded
timed() { local t0 t1; t0=$EPOCHREALTIME; "$@" >/dev/null; t1=$EPOCHREALTIME; echo "$t1 - $t0" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mbps() { echo "scale=0; $MB * 1048576 / $1 / 1000000" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }
row() { printf '%-46s %10s %-34s %10s %7s\n' "$@"; }

echo "cella bench: ${MB} MiB of random data on $(df --output=fstype "$W" | tail -1) ($W), $cores cores, $RUNS runs each (median)"
mkdir -p src
# pseudo-random bytes (AES-CTR keystream): nothing can shortcut zeros
randbytes() { (openssl enc -aes-128-ctr -nosalt -pass pass:cella -pbkdf2 </dev/zero 2>/dev/null || true) |
              head -c $(($1 * 1048576)); }
randbytes "$MB" > src/data.bin
"$CELLA" volume encrypt src vol0 --key-file k.key >/dev/null 2>&1

# --- baselines -------------------------------------------------------------
ossl() { openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3 "$@" 2>/dev/null |
         awk '/^AES-256-GCM/ {v=$2; sub("k","",v); printf "%.0f\n", v*1000/1e6}'; }
O1=$(ossl); O1D=$(ossl -decrypt); ON=$(ossl -multi "$cores")
echo "openssl speed -evp aes-256-gcm -bytes 16384: 1 core ${O1} MB/s (decrypt ${O1D}), ${cores} cores ${ON} MB/s"
echo

# --- cella in memory (chunk functions, no file I/O) --------------------------
MEM_SEAL=$("$build/bench/bench_chunks" seal "$cores" 64 3)
MEM_OPEN=$("$build/bench/bench_chunks" open "$cores" 64 3)

# --- end to end, alternating with baselines ----------------------------------
have_age=0; command -v age >/dev/null && have_age=1
if (( have_age )); then age-keygen -o age.key 2>/dev/null; AGE_R=$(age-keygen -y age.key); age -r "$AGE_R" -o data.age src/data.bin; fi
declare -A T
for ((i = 0; i < RUNS; i++)); do
  rm -rf vol out dd.bin
  T[enc]+="$(timed "$CELLA" volume encrypt src vol --key-file k.key) "
  T[dd]+="$(timed dd if=src/data.bin of=dd.bin bs=1M status=none) "
  T[verify]+="$(timed "$CELLA" volume verify vol0 --key-file k.key) "
  T[cat]+="$(timed "$CELLA" volume cat vol0 data.bin --key-file k.key) "  # timed: stdout is /dev/null
  T[ddread]+="$(timed dd if=src/data.bin of=/dev/null bs=1M status=none) "
  T[dec]+="$(timed "$CELLA" volume decrypt vol0 out --key-file k.key) "
  if (( have_age )); then
    T[agee]+="$(timed age -r "$AGE_R" -o /dev/null src/data.bin) "
    T[aged]+="$(timed age -d -i age.key -o /dev/null data.age) "
  fi
done
med() { tr ' ' '\n' <<<"${T[$1]}" | grep . | median; }
# worst KEY BASE: the lowest per-run ratio BASE_i / KEY_i (run i of each: the
# same moment of the machine), for goals that must hold "in every run".
worst() { paste <(tr ' ' '\n' <<<"${T[$2]}" | grep .) <(tr ' ' '\n' <<<"${T[$1]}" | grep .) |
          awk 'NR == 1 || $1 / $2 < w {w = $1 / $2} END {printf "%.2f\n", w}'; }

# gocryptfs (FUSE): write and read the same data through a mount
GO_W=""; GO_R=""
if command -v gocryptfs >/dev/null && [[ -e /dev/fuse ]]; then
  mkdir -p gc.back gc.mnt
  if gocryptfs -init -q -extpass 'echo cella-bench' -scryptn 10 gc.back >/dev/null 2>&1 &&
     gocryptfs -q -nosyslog -extpass 'echo cella-bench' gc.back gc.mnt >/dev/null 2>&1; then
    MNT=$W/gc.mnt
    for ((i = 0; i < RUNS; i++)); do
      rm -f gc.mnt/data.bin
      T[gow]+="$(timed dd if=src/data.bin of=gc.mnt/data.bin bs=1M status=none) "
      T[gor]+="$(timed dd if=gc.mnt/data.bin of=/dev/null bs=1M status=none) "
    done
    GO_W=$(mbps "$(med gow)"); GO_R=$(mbps "$(med gor)")
  fi
fi

ENC=$(mbps "$(med enc)"); DD=$(mbps "$(med dd)"); VER=$(mbps "$(med verify)")
CAT=$(mbps "$(med cat)"); DDR=$(mbps "$(med ddread)"); DEC=$(mbps "$(med dec)")
row "figure (MB/s = 10^6 B/s of plaintext)" "cella" "baseline (same run)" "baseline" "ratio"
row "chunk seal in memory, $cores threads" "$MEM_SEAL" "openssl speed 1 core x $cores" "$((O1 * cores))" "$(ratio "$MEM_SEAL" $((O1 * cores)))"
row "chunk open in memory, $cores threads" "$MEM_OPEN" "openssl speed -decrypt 1 core x $cores" "$((O1D * cores))" "$(ratio "$MEM_OPEN" $((O1D * cores)))"
row "volume verify (read+decrypt, no write)" "$VER" "openssl speed 1 core x $cores" "$((O1 * cores))" "$(ratio "$VER" $((O1 * cores)))"
row "volume cat > /dev/null" "$CAT" "openssl speed 1 core x $cores" "$((O1 * cores))" "$(ratio "$CAT" $((O1 * cores)))"
row "volume verify" "$VER" "dd read > /dev/null (no crypto)" "$DDR" "$(ratio "$VER" "$DDR")"
row "volume encrypt (writes new tmpfs files)" "$ENC" "dd copy to a new file (no crypto)" "$DD" "$(ratio "$ENC" "$DD")"
row "volume decrypt (writes new tmpfs files)" "$DEC" "dd copy to a new file (no crypto)" "$DD" "$(ratio "$DEC" "$DD")"
row "volume encrypt" "$ENC" "openssl speed 1 core x $cores" "$((O1 * cores))" "$(ratio "$ENC" $((O1 * cores)))"
if (( have_age )); then
  AE=$(mbps "$(med agee)"); AD=$(mbps "$(med aged)")
  row "volume encrypt (to files)" "$ENC" "age -e -o /dev/null" "$AE" "$(ratio "$ENC" "$AE")"
  row "volume cat > /dev/null" "$CAT" "age -d -o /dev/null" "$AD" "$(ratio "$CAT" "$AD")"
fi
if [[ -n "$GO_W" ]]; then
  row "volume encrypt (to files)" "$ENC" "gocryptfs write (dd into mount)" "$GO_W" "$(ratio "$ENC" "$GO_W")"
  row "volume cat > /dev/null" "$CAT" "gocryptfs read (dd from mount)" "$GO_R" "$(ratio "$CAT" "$GO_R")"
else
  echo "gocryptfs: not measured (needs the gocryptfs package and /dev/fuse)"
fi
echo

# --- issue 18's goals ----------------------------------------------------------
# Reading a volume is bounded by whichever is lower: the cipher on every core,
# or reading the bytes at all.
OX=$((O1 * cores)); CAP=$(( OX < DDR ? OX : DDR ))
CAPN="min(openssl 1 core x $cores = $OX, dd read = $DDR)"
echo
goal_row "volume verify ÷ min(openssl 1 core × cores, dd read), MB/s" "$VER" "$CAPN" "$CAP" "$(ratio "$VER" "$CAP")" "≥ 0.8"
goal_row "volume cat > /dev/null ÷ the same, MB/s" "$CAT" "$CAPN" "$CAP" "$(ratio "$CAT" "$CAP")" "≥ 0.8"
goal_row "volume encrypt ÷ dd copy to a new file (tmpfs), MB/s" "$ENC" "dd copy" "$DD" "$(ratio "$ENC" "$DD") (worst of $RUNS runs $(worst enc dd))" "≥ 0.8 in every run"
goal_row "volume decrypt ÷ dd copy to a new file (tmpfs), MB/s" "$DEC" "dd copy" "$DD" "$(ratio "$DEC" "$DD") (worst of $RUNS runs $(worst dec dd))" "≥ 0.8 in every run"

# --- peak RSS on a big file ----------------------------------------------------
if [[ "$BIG" -gt 0 && -x /usr/bin/time ]]; then
  rm -rf vol out dd.bin gc.mnt/data.bin src/data.bin vol0 data.age
  mkdir -p big
  randbytes "$BIG" > big/big.bin
  e=$(/usr/bin/time -f '%M' "$CELLA" volume encrypt big bigvol --key-file k.key 2>&1 >/dev/null | tail -1)
  rm -rf big
  d=$(/usr/bin/time -f '%M' "$CELLA" volume decrypt bigvol bigout --key-file k.key 2>&1 >/dev/null | tail -1)
  echo "peak RSS for a ${BIG} MiB file: encrypt $((e / 1024)) MiB, decrypt $((d / 1024)) MiB (limit 256 MiB)"
fi
