#!/usr/bin/env bash
# An image FROM scratch: the word count (examples/wordcount) as one static
# binary, and nothing else in the image.
# usage: examples/images/static.sh OUT     (OUT: the OCI image layout to write)
set -euo pipefail
umask 022   # the trees made here become layers: their modes must not depend on the caller
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
. "$HERE/oci.sh"
OUT=${1:?usage: $0 OUT}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cella-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

mkdir "$WORK/rootfs"
${CC:-cc} -std=c17 -O2 -static -o "$WORK/rootfs/wordcount" "$SRC/examples/wordcount/wordcount.c"
# FROM scratch has no loader and no libc: the binary must need none
if [[ $(readelf -l "$WORK/rootfs/wordcount") == *'Requesting program interpreter'* ]]; then
  echo "static.sh: the binary is dynamically linked (is libc6-dev's libc.a installed?)" >&2
  exit 1
fi
oci_layer "$WORK/rootfs" "$WORK/layer.tar.gz"
OCI_ENTRYPOINT='["/wordcount"]' OCI_CMD='["5"]' OCI_ENV='["PATH=/"]' OCI_WORKDIR=/ \
  oci_image "$OUT" "$WORK/layer.tar.gz"
echo "$OUT"
