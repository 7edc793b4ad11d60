#!/usr/bin/env bash
# usage: scripts/without-python.sh CMD [ARGS...]
# Runs CMD on this host as if it had no Python: in a private mount namespace
# (root only) where every python3 binary (/usr/bin, /usr/local/bin, on PATH) is
# an empty file and the Python libraries (/usr/lib/python3*, /usr/local/lib/python3*)
# empty directories. The host itself is unchanged. make demo and
# tests/cli/image_python.sh run the worker so, to show an image app needs
# nothing of the worker host. Exits 99 if python3 still runs in there.
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "without-python.sh: needs root (mount namespace)" >&2; exit 2; }
exec unshare --mount --propagation private bash -c '
  for f in /usr/bin/python3* /usr/local/bin/python3* $(type -ap python3 python); do
    [[ -f $f ]] && mount --bind /dev/null "$f"
  done
  for d in /usr/lib/python3* /usr/local/lib/python3*; do
    [[ -d $d ]] && mount -t tmpfs -o ro,size=4k none "$d"
  done
  for p in /usr/bin/python3 python3 python; do
    if "$p" -c "print(1)" >/dev/null 2>&1; then echo "without-python.sh: $p still runs" >&2; exit 99; fi
  done
  exec "$@"' without-python "$@"
