#!/usr/bin/env bash
# Per-task overhead of an image app against a directory bundle, in the same
# run: the same trivial static program (exit 0) as a directory bundle and as
# an image bundle whose rootfs/ has a Debian root's top level (about 20
# entries: each is one bind of the sandbox's root), each run start to finish
# through `cella run` (attest to cas, FUSE input, sandbox, seal an empty
# output, push its tag), and the sandbox alone (bench_sandbox: the same two
# through cella_sandbox_run, 5 x RUNS). Alternating, median of RUNS.
# usage: bench/image.sh BUILD_DIR [RUNS]
set -euo pipefail
LC_NUMERIC=C # EPOCHREALTIME, bc: a clock read without a fork (bench/summary.sh)
build=$(cd "${1:-build}" && pwd)
RUNS=${2:-15}
CELLA=$build/cella
. "$(dirname "$0")/sim_cas.sh" cella-image-bench

# the program: static, so the same file runs in either root
printf 'int main(void) { return 0; }\n' > t.c
gcc -O2 -static -o t t.c
LIMITS='"heap_mb": 16, "stack_kb": 1024, "env": [], "host_files": [], "runtime": "cella-runtime-1"'
mkdir -p dir img/rootfs/app
cp t dir/t
printf '{"entrypoint": "t", "args": [], %s}\n' "$LIMITS" > dir/cella-app.json
# the image: /app/t in a Debian-like top level (merged /usr)
cp t img/rootfs/app/t
( cd img/rootfs
  mkdir -p usr/bin usr/lib usr/lib64 usr/sbin boot dev etc home media mnt opt proc root run srv sys tmp var
  ln -s usr/bin bin; ln -s usr/lib lib; ln -s usr/lib64 lib64; ln -s usr/sbin sbin
  echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd )
printf '{%s, "image": {"entrypoint": [], "cmd": [], "env": ["PATH=/usr/bin"], "working_dir": "/", "user": "0:0"}}\n' \
  "$LIMITS" > img/cella-app.json
cat > tpl.yml <<'YML'
name: $SESSION
services:
  - name: app
    image_name: img
    mrenclaves: [$MRENCLAVE]
    command: /app/t
    pwd: /
volumes:
  - name: in
    fspf_key: $INPUT_FSPF_KEY
    fspf_tag: $INPUT_FSPF_TAG
  - name: out
images:
  - name: img
    volumes: [{name: in, path: /in}, {name: out, path: /out}]
security:
  allow_sim: true
YML
mkdir -p INPUTS; echo x > INPUTS/x
push() { "$CELLA" encryptedpush --app "$1" --session-template tpl.yml --inputs INPUTS --keys "K$1" \
           --cas "https://127.0.0.1:$PORT" --cas-fingerprint "$FP" --wallet-file "$(ls w/*)" 2>/dev/null; }
read -r -a DIRCMD <<<"$(push dir)"
read -r -a IMGCMD <<<"$(push img)"
run() { local t0 t1; t0=$EPOCHREALTIME; "$CELLA" run "$@" >/dev/null 2>&1 || { echo "cella run failed: $*" >&2; exit 1; }
        t1=$EPOCHREALTIME; echo $(( ${t1/./} - ${t0/./} )); }
d=() m=()
for ((i = 0; i < RUNS; i++)); do
  d+=($(run "${DIRCMD[@]}" --outputs "od$i"))
  m+=($(run "${IMGCMD[@]}" --outputs "om$i"))
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
D=$(med "${d[@]}"); M=$(med "${m[@]}")
read -r _ SD _ SM <<<"$("$build/bench/bench_sandbox" dir img $((5 * RUNS)))"
printf '\nimage app vs directory bundle (%d runs each, alternating, median, microseconds per task)\n' "$RUNS"
printf '%-62s %8d us\n' "cella run, directory bundle (host /usr etc., bundle at /app)" "$D"
printf '%-62s %8d us\n' "cella run, image bundle ($(ls img/rootfs | wc -l) top-level entries as /)" "$M"
printf '%-62s %8d us   ratio %s\n' "added per task by the image root" "$((M - D))" \
  "$(echo "scale=2; $M / $D" | bc -l)"
printf '%-62s %8d us\n' "sandbox alone, directory bundle (bench_sandbox)" "$SD"
printf '%-62s %8d us\n' "sandbox alone, image bundle" "$SM"
printf '%-62s %8d us   ratio %s\n' "added per task by the image root, sandbox alone" "$((SM - SD))" \
  "$(echo "scale=2; $SM / $SD" | bc -l)"
