# Writes OCI image layouts with coreutils, GNU tar and gzip: no Docker, no
# registry, no daemon. Source it, then:
#
#   oci_layer ROOTFS_DIR LAYER.tar.gz      one layer from a directory tree
#   oci_file_layer LAYER.tar.gz MODE FILE /PATH   one layer holding FILE at /PATH
#   oci_image LAYOUT LAYER.tar.gz...       an OCI image layout (oci-layout,
#                                          index.json, blobs/sha256/...)
#   oci_docker_archive LAYOUT FILE.tar     the same image as a `docker save`
#                                          archive (manifest.json beside the
#                                          OCI layout, as Docker 25+ writes it)
#
# oci_image takes the image config from these variables (JSON arrays are
# written as JSON; the rest are plain strings):
#   OCI_ENTRYPOINT  e.g. '["/usr/bin/python3", "/app/app.py"]'   (default [])
#   OCI_CMD         e.g. '["--verbose"]'                         (default [])
#   OCI_ENV         e.g. '["PATH=/usr/bin:/bin", "HOME=/root"]'  (default [])
#   OCI_WORKDIR     e.g. /app                                    (default /)
#   OCI_USER        e.g. 0:0                                     (default 0:0)
#   OCI_REF         the name in index.json                       (default latest)
#
# Everything is deterministic: the same trees and config give the same bytes,
# hence the same digests, on any host. Layers are tar archives (POSIX pax) in
# name order with every mtime at SOURCE_DATE_EPOCH (default 0), owner 0:0,
# no atime/ctime/xattrs/ACLs, gzip without name or time stamp; the config has
# no "created" time. Device nodes, FIFOs and sockets are left out of layers
# (an app image needs none; the sandbox mounts its own /dev).

oci_die() { echo "oci: $*" >&2; return 1; }

# _oci_sha FILE -> the hex SHA-256 of FILE
_oci_sha() { sha256sum "$1" | cut -d' ' -f1; }

# _oci_blob LAYOUT FILE -> moves FILE to LAYOUT/blobs/sha256/<hex>, prints <hex>
_oci_blob() {
  local h
  h=$(_oci_sha "$2") || return 1
  mkdir -p "$1/blobs/sha256" && mv -f "$2" "$1/blobs/sha256/$h" && chmod 644 "$1/blobs/sha256/$h" &&
    echo "$h"
}

# _oci_str S -> S as a JSON string (the config's strings come from the build
# scripts, but a quote or backslash in them must not break the JSON)
_oci_str() {
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\n'/\\n}
  printf '"%s"' "$s"
}

oci_layer() { # ROOTFS_DIR LAYER.tar.gz
  local dir=$1 out=$2 odd
  [[ -d "$dir" ]] || { oci_die "no such directory: $dir"; return 1; }
  # An image holds directories, regular files and symbolic links (hard links
  # between regular files are kept as tar links); anything else is refused
  # here rather than silently dropped.
  odd=$(cd "$dir" && find . -mindepth 1 ! -type d ! -type f ! -type l -print -quit)
  [[ -z "$odd" ]] || { oci_die "$dir: ${odd#./} is not a file, directory or symbolic link"; return 1; }
  mkdir -p "$(dirname "$out")" || return 1
  out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
  # names without "./" (as Docker writes them), in byte order
  (cd "$dir" && find . -mindepth 1 -maxdepth 1 -printf '%P\0' | LC_ALL=C sort -z |
    LC_ALL=C tar --create --format=pax --sort=name --numeric-owner --owner=0 --group=0 \
      --mtime="@${SOURCE_DATE_EPOCH:-0}" --no-acls --no-xattrs --no-selinux \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      --null --files-from=- --file=-) | gzip -n -9 > "$out.tmp" || { rm -f "$out.tmp"; return 1; }
  mv -f "$out.tmp" "$out"
}

oci_file_layer() { # LAYER.tar.gz MODE FILE /PATH
  local tree rc
  tree=$(mktemp -d "${TMPDIR:-/tmp}/cella-layer.XXXXXX") || return 1
  mkdir -p "$tree$(dirname "$4")" && install -m "$2" "$3" "$tree$4" && oci_layer "$tree" "$1"
  rc=$?
  rm -rf "$tree"
  return $rc
}

# _oci_arch -> this host's architecture as OCI names it
_oci_arch() {
  local a
  a=$(dpkg --print-architecture 2>/dev/null || uname -m)
  case $a in
    amd64 | x86_64) echo amd64 ;; arm64 | aarch64) echo arm64 ;; i386 | i686) echo 386 ;;
    armhf | armel) echo arm ;; *) echo "$a" ;;
  esac
}

oci_image() { # LAYOUT LAYER.tar.gz...
  local layout=$1 l h size diff diffs="" layers="" sep="" cfg mf cfg_h mf_h
  shift
  [[ $# -gt 0 ]] || { oci_die "oci_image: no layer given"; return 1; }
  [[ ! -e "$layout" ]] || { oci_die "$layout exists"; return 1; }
  mkdir -p "$layout/blobs/sha256" || return 1
  for l in "$@"; do
    [[ -f "$l" ]] || { oci_die "no such layer: $l"; rm -rf "$layout"; return 1; }
    diff=$(gzip -dc "$l" | sha256sum | cut -d' ' -f1) || return 1
    size=$(stat -c %s "$l")
    cp "$l" "$layout/blobs/sha256/.new" && h=$(_oci_blob "$layout" "$layout/blobs/sha256/.new") || return 1
    diffs+="$sep\"sha256:$diff\""
    layers+="$sep{\"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\", \"digest\": \"sha256:$h\", \"size\": $size}"
    sep=", "
  done
  cfg=$layout/blobs/sha256/.config
  printf '{"architecture": %s, "os": "linux", "config": {"Entrypoint": %s, "Cmd": %s, "Env": %s, "WorkingDir": %s, "User": %s}, "rootfs": {"type": "layers", "diff_ids": [%s]}}\n' \
    "$(_oci_str "$(_oci_arch)")" "${OCI_ENTRYPOINT:-[]}" "${OCI_CMD:-[]}" "${OCI_ENV:-[]}" \
    "$(_oci_str "${OCI_WORKDIR:-/}")" "$(_oci_str "${OCI_USER:-0:0}")" "$diffs" > "$cfg"
  size=$(stat -c %s "$cfg")
  cfg_h=$(_oci_blob "$layout" "$cfg") || return 1
  mf=$layout/blobs/sha256/.manifest
  printf '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:%s", "size": %s}, "layers": [%s]}\n' \
    "$cfg_h" "$size" "$layers" > "$mf"
  size=$(stat -c %s "$mf")
  mf_h=$(_oci_blob "$layout" "$mf") || return 1
  printf '{"imageLayoutVersion": "1.0.0"}\n' > "$layout/oci-layout"
  printf '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:%s", "size": %s, "annotations": {"org.opencontainers.image.ref.name": %s}}]}\n' \
    "$mf_h" "$size" "$(_oci_str "${OCI_REF:-latest}")" > "$layout/index.json"
}

oci_docker_archive() { # LAYOUT FILE.tar
  local layout=$1 out=$2 idx mf cfg layers tmp
  idx=$(cat "$layout/index.json") || return 1
  mf=$(sed -n 's/.*"manifests": \[{[^}]*"digest": "sha256:\([0-9a-f]\{64\}\)".*/\1/p' <<< "$idx")
  [[ -n "$mf" ]] || { oci_die "$layout/index.json: no manifest digest"; return 1; }
  cfg=$(sed -n 's/.*"config": {[^}]*"digest": "sha256:\([0-9a-f]\{64\}\)".*/\1/p' "$layout/blobs/sha256/$mf")
  layers=$(grep -o '"digest": "sha256:[0-9a-f]\{64\}"' "$layout/blobs/sha256/$mf" | sed 1d |
    sed 's/.*sha256:\([0-9a-f]*\)"/"blobs\/sha256\/\1"/' | paste -sd, | sed 's/,/, /g')
  tmp=$(mktemp -d) || return 1
  cp -r "$layout/." "$tmp/" &&
    printf '[{"Config": "blobs/sha256/%s", "RepoTags": [%s], "Layers": [%s]}]\n' \
      "$cfg" "$(_oci_str "cella-example:${OCI_REF:-latest}")" "$layers" > "$tmp/manifest.json" &&
    (cd "$tmp" && LC_ALL=C tar --create --format=pax --sort=name --numeric-owner --owner=0 --group=0 \
      --mtime="@${SOURCE_DATE_EPOCH:-0}" --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      --file=- manifest.json oci-layout index.json blobs) > "$out"
  local rc=$?
  rm -rf "$tmp"
  return $rc
}
