#!/usr/bin/env bash
# Installs the Debian 12 packages cella needs, only those missing.
# usage: scripts/deps.sh [build|cluster|fuzz|bench|valgrind|all]   (default: build = build + test)
# As root it runs apt-get; otherwise it prints the one apt-get line to run.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libssl-dev openssl libsecp256k1-dev nettle-dev
            libsqlite3-dev libjansson-dev libyaml-dev libevent-dev libcurl4-openssl-dev
            libfuse3-dev fuse3 libzip-dev bubblewrap libcmocka-dev age)
build_pkgs+=(busybox-static)  # tests: a static busybox is the image root filesystem of sandbox tests
build_pkgs+=(libarchive-dev zstd)  # zstd: cli.app_import makes zstd layers (OCI allows them)
build_pkgs+=(libseccomp-dev)  # lib/core/privsep.c (the worker's signer), lib/core/confine.c (cas)
build_pkgs+=(libhttp-parser-dev)  # lib/net/http_guard.c
# PostgreSQL: the client library, and Debian's server for the tests on it
build_pkgs+=(libpq-dev postgresql-15)
# examples/images (make demo, tests/cli/images*.sh): app images built with Debian's tools
build_pkgs+=(busybox-static mmdebstrap)
build_pkgs+=(chromium)  # tests/cli/hub_web.sh: the hub's web page in a real browser
# The iExec SDK tests run the real SDK (npm iexec@8 and iexec@9); any node will do.
command -v node >/dev/null && command -v npm >/dev/null || build_pkgs+=(nodejs npm)
# tests/cluster (make test, as root): scripts/cluster.sh (PostgreSQL 15 is in build_pkgs),
# network namespaces (ip) and curl for health checks.
cluster_pkgs=(iproute2 curl)
fuzz_pkgs=(clang libclang-rt-14-dev)
bench_pkgs=(age gocryptfs fuse3 bc time nginx-light)
valgrind_pkgs=(valgrind)

case "${1:-build}" in
  build) want=("${build_pkgs[@]}") ;;
  cluster) want=("${build_pkgs[@]}" "${cluster_pkgs[@]}") ;;
  fuzz)  want=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  bench) want=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
  valgrind) want=("${build_pkgs[@]}" "${valgrind_pkgs[@]}") ;;
  all)   want=("${build_pkgs[@]}" "${cluster_pkgs[@]}" "${fuzz_pkgs[@]}" "${bench_pkgs[@]}" "${valgrind_pkgs[@]}") ;;
  *) echo "usage: $0 [build|cluster|fuzz|bench|valgrind|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "cella: missing packages; run as root:" >&2
  echo "  apt-get update && $line" >&2
  exit 1
fi
echo "cella: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
