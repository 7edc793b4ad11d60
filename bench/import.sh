#!/usr/bin/env bash
# `cella app import` of a generated ~100 MB image (docker archive, 3 layers:
# 2000 small files, a few large ones, then whiteouts and hard links) beside,
# in the same run, `tar -xf` of the same layer tars in order into a fresh
# directory and `sha256sum` of the archive (the import does both and more:
# digest checks, whiteouts, modes, the manifest, an atomic rename). Also
# `cella app measure` of the result. Medians of RUNS alternating runs.
# usage: bench/import.sh BUILD_DIR [RUNS]
set -euo pipefail
LC_NUMERIC=C # EPOCHREALTIME, bc: a clock read without a fork (bench/summary.sh)
build=$(cd "${1:-build}" && pwd)
RUNS=${2:-5}
CELLA=$build/cella
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/cella-import-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
python3 - > spec.json <<'PY'
import json
small = [{"path": "usr/share/d%02d/f%04d" % (i % 50, i), "type": "file", "random": 10000}
         for i in range(2000)]
big = [{"path": "opt/big%d.bin" % i, "type": "file", "random": 14 << 20} for i in range(5)]
top = [{"path": "usr/share/d00/.wh.f0000", "type": "file"},
       {"path": "usr/share/d01/.wh..wh..opq", "type": "file"},
       {"path": "opt/big-link", "type": "hardlink", "target": "opt/big0.bin"},
       {"path": "etc/extra.bin", "type": "file", "random": 8 << 20}]
print(json.dumps({"config": {"Entrypoint": ["/opt/app"], "Env": ["PATH=/bin"]},
                  "layers": [small, big, top]}))
PY
python3 "$SRC/tests/cli/oci_image.py" spec.json --docker image.tar
MB=$(( $(stat -c %s image.tar) / 1048576 ))
mkdir layers && tar -xf image.tar -C layers
mapfile -t LAYERS < <(python3 -c 'import json; print("\n".join(json.load(open("layers/manifest.json"))[0]["Layers"]))')
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
I="" T="" S="" M=""
for ((i = 0; i < RUNS; i++)); do
  rm -rf out tarx; sync
  t0=$EPOCHREALTIME; "$CELLA" app import image.tar out >/dev/null; t1=$EPOCHREALTIME
  I+="$(echo "$t1 - $t0" | bc -l) "
  t0=$EPOCHREALTIME; "$CELLA" app measure out >/dev/null; t1=$EPOCHREALTIME
  M+="$(echo "$t1 - $t0" | bc -l) "
  t0=$EPOCHREALTIME; mkdir tarx; for l in "${LAYERS[@]}"; do tar -xf "layers/$l" -C tarx; done; t1=$EPOCHREALTIME
  T+="$(echo "$t1 - $t0" | bc -l) "
  t0=$EPOCHREALTIME; sha256sum image.tar >/dev/null; t1=$EPOCHREALTIME
  S+="$(echo "$t1 - $t0" | bc -l) "
done
IM=$(med "$I"); TM=$(med "$T"); SM=$(med "$S"); MM=$(med "$M")
ms() { echo "scale=0; $1 * 1000 / 1" | bc -l; }
printf '\napp import bench (%d MB docker archive, 3 layers, %d runs, median)\n' "$MB" "$RUNS"
printf '%-62s %8s ms\n' "cella app import (digests, flatten, manifest, rename)" "$(ms "$IM")"
printf '%-62s %8s ms  ratio %s\n' "tar -xf of the same layers, in order" "$(ms "$TM")" \
  "$(echo "scale=2; $IM / $TM" | bc -l)"
printf '%-62s %8s ms  ratio %s\n' "sha256sum of the archive" "$(ms "$SM")" \
  "$(echo "scale=2; $IM / $SM" | bc -l)"
printf '%-62s %8s ms\n' "cella app measure of the imported bundle" "$(ms "$MM")"
