#!/usr/bin/env bash
# An image with a shell: Debian's busybox-static (one static binary, its
# applets as symbolic links) and the shell app examples/shell/app.sh.
# usage: examples/images/busybox.sh OUT    (OUT: the OCI image layout to write)
set -euo pipefail
umask 022   # the trees made here become layers: their modes must not depend on the caller
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
. "$HERE/oci.sh"
OUT=${1:?usage: $0 OUT}
BUSYBOX=${BUSYBOX:-/bin/busybox}
[[ -x "$BUSYBOX" ]] || { echo "busybox.sh: $BUSYBOX not found: apt-get install busybox-static" >&2; exit 1; }
if [[ $(readelf -l "$BUSYBOX") == *'Requesting program interpreter'* ]]; then
  echo "busybox.sh: $BUSYBOX is dynamically linked: apt-get install busybox-static" >&2
  exit 1
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cella-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# layer 1, the base: busybox and a link per applet where Debian's busybox puts it
R=$WORK/base
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/etc" "$R/root"
cp "$BUSYBOX" "$R/bin/busybox"
chmod 755 "$R/bin/busybox"
"$BUSYBOX" --list-full | while read -r p; do
  [[ "$p" == bin/busybox || -e "$R/$p" ]] || ln -s /bin/busybox "$R/$p"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
oci_layer "$R" "$WORK/base.tar.gz"

# layer 2, the app
oci_file_layer "$WORK/app.tar.gz" 755 "$SRC/examples/shell/app.sh" /app/app.sh

OCI_ENTRYPOINT='["/bin/sh", "/app/app.sh"]' OCI_CMD='[]' \
  OCI_ENV='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"]' \
  OCI_WORKDIR=/app OCI_USER=0:0 oci_image "$OUT" "$WORK/base.tar.gz" "$WORK/app.tar.gz"
echo "$OUT"
