#!/usr/bin/env bash
# `cella` starts lean (lib/core/dl.h): it links neither libcurl, libpq nor
# libarchive, nor their chains; each is loaded when a command first needs it
# (a blob upload or https:// download, a postgres:// database, a tarball; an
# http:// download goes over net/tls_http.c), and one that cannot be
# loaded, or is not the library it claims to be, is refused with one clear
# line naming it, before anything is done.
. "$(dirname "$0")/lib.sh"

# what makes it lean: ldd lists none of them, nor what only they brought
libs=$(ldd "$CELLA")
chain="libcurl libpq libarchive libnghttp2 libidn2 librtmp libgnutls libssh libpsl libgssapi_krb5
  libldap libsasl2 libbrotli libunistring libp11-kit libxml2 libicu"
# and libstdc++, unless a sanitizer's runtime brings it (libubsan needs it: make asan)
[[ $libs == *libubsan* || $libs == *libasan* ]] || chain+=" libstdc++"
for l in $chain; do
  [[ $libs != *"$l"* ]] || fail "cella links $l at start"
done
ok

# Impostors, found first through LD_LIBRARY_PATH as a DT_NEEDED entry would
# be: a shared object with the library's soname but none of its functions,
# and a file that is not a shared object at all.
soname() { objdump -p "$1" | awk '$1 == "SONAME" {print $2}'; }
sys=$(gcc -print-file-name=libcurl.so)
[[ -e $sys ]] || skip "no libcurl.so (libcurl4-openssl-dev) to read the soname of"
mkdir -p empty junk
echo 'int cella_not_the_library;' > e.c
for lib in curl pq archive; do
  so=$(soname "$(readlink -f "$(gcc -print-file-name=lib$lib.so)")")
  [[ -n $so ]] || fail "no soname for lib$lib"
  gcc -shared -fPIC -Wl,-soname,"$so" -o "empty/$so" e.c
  echo "not an ELF object" > "junk/$so"
  eval "SO_$lib=\$so"
done

# libcurl: a blob upload (the real one reaches nothing on port 1 and says so)
echo data > a.txt
expect_fail 'upload failed' "$CELLA" blobs put a.txt --url http://127.0.0.1:1
LD_LIBRARY_PATH=$TMP/empty expect_fail \
  "^cella: error: the HTTP transfer library has no curl_global_init \\($SO_curl\\)$" \
  "$CELLA" blobs put a.txt --url http://127.0.0.1:1
LD_LIBRARY_PATH=$TMP/junk expect_fail \
  "^cella: error: cannot load the HTTP transfer library: .*\\($SO_curl\\)$" \
  "$CELLA" blobs put a.txt --url http://127.0.0.1:1

# ... while a download from an http:// blob store (a requester's result) does
# not load it at all: it goes over the same client as the hub's calls
start_blobs
expect_ok "$CELLA" blobs put a.txt --url "$BLOBS_URL"
read -r SHA _ < "$TMP/.out"
LD_LIBRARY_PATH=$TMP/empty expect_ok "$CELLA" blobs get "$SHA" --url "$BLOBS_URL" -o got.txt
cmp a.txt got.txt || fail "download differs"
LD_LIBRARY_PATH=$TMP/empty expect_fail 'no such blob' "$CELLA" blobs get "$(printf '0%.0s' {1..64})" \
  --url "$BLOBS_URL" -o none.txt
[[ ! -e none.txt ]] || fail "a missing blob left a file"

# libpq: a hub on PostgreSQL (the real one finds no server at that socket)
PG="postgresql:///cella?host=$TMP/nopg"
expect_fail 'cannot connect to the database' "$CELLA" hub serve --listen 127.0.0.1:0 --db "$PG"
LD_LIBRARY_PATH=$TMP/empty expect_fail \
  "^cella: error: the PostgreSQL client library has no PQclear \\($SO_pq\\)$" \
  "$CELLA" hub serve --listen 127.0.0.1:0 --db "$PG"
LD_LIBRARY_PATH=$TMP/junk expect_fail \
  "^cella: error: cannot load the PostgreSQL client library: .*\\($SO_pq\\)$" \
  "$CELLA" hub serve --listen 127.0.0.1:0 --db "$PG"

# libarchive: packing an app bundle writes nothing when it cannot be loaded
expect_ok "$CELLA" app init bundle
mkdir -p bundle/bin
printf '#!/bin/sh\necho hi\n' > bundle/bin/app
chmod 0755 bundle/bin/app
LD_LIBRARY_PATH=$TMP/empty expect_fail \
  "^cella: error: the tar library has no archive_read_new \\($SO_archive\\)$" \
  "$CELLA" app pack bundle -o a.tar
LD_LIBRARY_PATH=$TMP/junk expect_fail \
  "^cella: error: cannot load the tar library: .*\\($SO_archive\\)$" \
  "$CELLA" app pack bundle -o b.tar
[[ ! -e a.tar && ! -e b.tar ]] || fail "a refused pack wrote a tarball"
expect_ok "$CELLA" app pack bundle -o c.tar
[[ -s c.tar ]] || fail "pack wrote nothing"
finish
