#!/usr/bin/env bash
# An image with Python: the interpreter and its standard library from Debian's
# packages (mmdebstrap, no Docker, no registry), and the Python app
# examples/python/app.py. The worker host needs no Python: the image brings it.
# usage: examples/images/python.sh OUT     (OUT: the OCI image layout to write)
#
# Layer 1 (the base) is a root filesystem made by mmdebstrap from this host's
# apt sources: --variant=extract unpacks the packages of $CELLA_IMAGE_PACKAGES
# (default python3) and their dependencies, without running maintainer scripts
# (nothing needs configuring to run python3, and nothing of the host runs in
# the image). It takes a minute or two (the download), so it is cached as the
# finished layer under $CELLA_IMAGE_CACHE (default ~/.cache/cella/images),
# keyed by suite, packages, architecture and this recipe; CELLA_IMAGE_REBUILD=1
# makes it again. Layer 2 is the app.
set -euo pipefail
umask 022   # the trees made here become layers: their modes must not depend on the caller
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
. "$HERE/oci.sh"
OUT=${1:?usage: $0 OUT}
SUITE=${CELLA_IMAGE_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
PACKAGES=${CELLA_IMAGE_PACKAGES:-python3}
CACHE=${CELLA_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cella/images}

# recipe 1: the steps below; change the number when they change
KEY=$(printf 'recipe 1\n%s\n%s\n%s\n' "$SUITE" "$PACKAGES" "$(_oci_arch)" | sha256sum | cut -c1-16)
BASE=$CACHE/python-$SUITE-$KEY.tar.gz
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cella-image.XXXXXX")
trap 'rm -rf "$WORK" "$BASE.tmp.$$" "$BASE.tmp.$$.tmp"' EXIT
if [[ ! -f "$BASE" || "${CELLA_IMAGE_REBUILD:-0}" == 1 ]]; then
  command -v mmdebstrap >/dev/null || { echo "python.sh: mmdebstrap not found: apt-get install mmdebstrap" >&2; exit 1; }
  echo "python.sh: building the base ($SUITE: $PACKAGES) with mmdebstrap; cached in $BASE" >&2
  start=$(date +%s)
  mmdebstrap --quiet --variant=extract --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' "$SUITE" "$WORK/base" >&2
  # Device nodes stay out (the sandbox mounts its own /dev); so do apt's and
  # dpkg's caches, which nothing in the image reads.
  find "$WORK/base/dev" -mindepth 1 -delete
  rm -rf "$WORK/base/var/cache/apt"/* "$WORK/base/var/lib/apt/lists"/* "$WORK/base/var/log"/*
  mkdir -p "$WORK/base/root" "$CACHE"
  # written beside the cache entry, then renamed: a concurrent build never reads half a layer
  oci_layer "$WORK/base" "$BASE.tmp.$$"
  mv -f "$BASE.tmp.$$" "$BASE"
  echo "python.sh: base built in $(( $(date +%s) - start )) s ($(du -h "$BASE" | cut -f1) compressed)" >&2
fi

oci_file_layer "$WORK/app.tar.gz" 644 "$SRC/examples/python/app.py" /app/app.py

# The rootfs is read-only in the sandbox: Python must not try to write .pyc files.
OCI_ENTRYPOINT='["/usr/bin/python3", "/app/app.py"]' OCI_CMD='[]' \
  OCI_ENV='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"]' \
  OCI_WORKDIR=/app OCI_USER=0:0 oci_image "$OUT" "$BASE" "$WORK/app.tar.gz"
echo "$OUT"
