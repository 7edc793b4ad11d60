#!/usr/bin/env bash
# The transfer service end to end: `cella blobs serve` on a free loopback port,
# put/get round trips, idempotence, refusals (wrong hash 400, oversize 413,
# missing 404), a forged download leaving nothing, and the server surviving it all.
. "$(dirname "$0")/lib.sh"

# Port 0: the kernel picks a free port; start_blobs reads the URL the server prints.
start_blobs --max-size 1M
[[ "$BLOBS_URL" == http://127.0.0.1:* ]] || fail "unexpected URL $BLOBS_URL"

printf 'Hello world\n' > a.txt
SHA=$(sha256sum a.txt | cut -c1-64)
expect_ok "$CELLA" blobs put a.txt --url "$BLOBS_URL"
[[ "$(cat "$TMP/.out")" == "$SHA $BLOBS_URL/v1/blobs/$SHA" ]] || fail "put output: $(cat "$TMP/.out")"
# Idempotent: the same put again succeeds.
expect_ok "$CELLA" blobs put a.txt --url "$BLOBS_URL"
[[ $(ls "$TMP/blobsd/sha256" | wc -l) == 1 ]] || fail "store should hold one blob"

expect_ok "$CELLA" blobs get "$SHA" --url "$BLOBS_URL" -o b.txt
cmp a.txt b.txt || fail "round trip differs"
expect_ok "$CELLA" blobs get "0x$SHA" --url "$BLOBS_URL" --output c.txt
cmp a.txt c.txt || fail "round trip (0x, --output) differs"
expect_fail 'already exists' "$CELLA" blobs get "$SHA" --url "$BLOBS_URL" -o b.txt

# An empty blob is a blob.
: > empty
expect_ok "$CELLA" blobs put empty --url "$BLOBS_URL"
expect_ok "$CELLA" blobs get "$(sha256sum empty | cut -c1-64)" --url "$BLOBS_URL" -o empty2
[[ -f empty2 && ! -s empty2 ]] || fail "empty blob round trip"

# A larger binary blob (under the limit).
head -c 700000 /dev/urandom > bin.dat
expect_ok "$CELLA" blobs put bin.dat --url "$BLOBS_URL"
expect_ok "$CELLA" blobs get "$(sha256sum bin.dat | cut -c1-64)" --url "$BLOBS_URL" -o bin2.dat
cmp bin.dat bin2.dat || fail "binary round trip differs"

# Raw HTTP: wrong hash 400, missing 404, HEAD, bad ids, oversize 413, unknown route.
ZERO=$(printf '0%.0s' $(seq 64))
code=$(curl -s -o resp -w '%{http_code}' -X PUT --data-binary @a.txt "$BLOBS_URL/v1/blobs/$ZERO")
[[ "$code" == 400 ]] && grep -q hash_mismatch resp || fail "wrong hash: $code $(cat resp)"
[[ ! -e "$TMP/blobsd/sha256/$ZERO" ]] || fail "mismatched blob stored"
code=$(curl -s -o resp -w '%{http_code}' "$BLOBS_URL/v1/blobs/$ZERO")
[[ "$code" == 404 ]] && grep -q not_found resp || fail "missing: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -I "$BLOBS_URL/v1/blobs/$ZERO")
[[ "$code" == 404 ]] || fail "HEAD missing: $code"
curl -s -I "$BLOBS_URL/v1/blobs/$SHA" > head.txt
grep -q '^HTTP/1.1 200' head.txt && grep -qi '^Content-Length: 12' head.txt || fail "HEAD: $(cat head.txt)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BLOBS_URL/v1/blobs/${SHA^^}")
[[ "$code" == 400 ]] || fail "uppercase id: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BLOBS_URL/v1/blobs/../../etc/passwd")
[[ "$code" == 400 || "$code" == 404 ]] || fail "traversal: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BLOBS_URL/v2/x")
[[ "$code" == 404 ]] || fail "unknown route: $code"
code=$(curl -s -o m.json -w '%{http_code}' -X DELETE "$BLOBS_URL/v1/blobs/$SHA")
[[ "$code" == 405 ]] && grep -q '"code":"method"' m.json || fail "DELETE: $code $(cat m.json)"
code=$(curl -s -o m.json -w '%{http_code}' -X PATCH "$BLOBS_URL/v1/blobs/$SHA")
[[ "$code" == 405 ]] && grep -q '"code":"method"' m.json || fail "PATCH: $code $(cat m.json)"
head -c 1100000 /dev/urandom > big.dat
BIG=$(sha256sum big.dat | cut -c1-64)
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @big.dat "$BLOBS_URL/v1/blobs/$BIG")
[[ "$code" == 413 ]] || fail "oversize: $code"
expect_fail 'too large' "$CELLA" blobs put big.dat --url "$BLOBS_URL"
[[ ! -e "$TMP/blobsd/sha256/$BIG" ]] || fail "oversized blob stored"

expect_fail 'no such blob' "$CELLA" blobs get "$ZERO" --url "$BLOBS_URL" -o z
[[ ! -e z ]] || fail "missing blob left a file"
expect_fail 'sha256' "$CELLA" blobs get nothex --url "$BLOBS_URL" -o z
expect_fail 'usage' "$CELLA" blobs put
# without --url, the store of ./cella.json
mkdir proj && (cd proj && printf '{"blobsUrl": "%s"}\n' "$BLOBS_URL" > cella.json &&
  "$CELLA" blobs put ../a.txt > put.out) || fail "blobs put with the project's blobsUrl"
grep -q "$BLOBS_URL/v1/blobs/" proj/put.out || fail "the URL comes from cella.json"
ok
# (a directory is no longer refused: since 801fa11 it goes as a volume tarball)
expect_fail 'not a regular|cannot open' "$CELLA" blobs put /dev/null --url "$BLOBS_URL"
# a FIFO is refused at once (it is never opened blocking, waiting for a writer)
mkfifo pipe
timeout 10 "$CELLA" blobs put pipe --url "$BLOBS_URL" >"$TMP/.out" 2>"$TMP/.err" && fail "a FIFO was uploaded"
[[ $? != 124 ]] || fail "blobs put hung on a FIFO"
grep -q 'not a regular file' "$TMP/.err" || fail "FIFO reason: $(cat "$TMP/.err")"
ok
# a directory (an encrypted volume) goes as one deterministic tarball, which unpacks as it was
mkdir -p tree/sub && echo one > tree/a && echo two > tree/sub/b
expect_ok "$CELLA" blobs put tree --url "$BLOBS_URL"
TSHA=$(awk '{print $1}' "$TMP/.out")
expect_ok "$CELLA" blobs put tree --url "$BLOBS_URL"
[[ $(awk '{print $1}' "$TMP/.out") == "$TSHA" ]] || fail "the same tree gives the same blob"
expect_ok "$CELLA" blobs get "$TSHA" --url "$BLOBS_URL" -o tree.tar
mkdir untar && tar -xf tree.tar -C untar && diff -r tree untar >/dev/null || fail "the tree tarball unpacks as the tree"
ok

# A blob corrupted on the server: the client refuses it and leaves nothing.
printf 'Hello World\n' > "$TMP/blobsd/sha256/$SHA"
expect_fail 'do not match' "$CELLA" blobs get "$SHA" --url "$BLOBS_URL" -o forged
[[ ! -e forged ]] || fail "forged download left a file"
[[ -z $(find . -maxdepth 1 -name ".cella-staging*") ]] || fail "forged download left a staging file"
printf 'Hello world\n' > "$TMP/blobsd/sha256/$SHA"

# Still serving after all of that.
expect_ok "$CELLA" blobs get "$SHA" --url "$BLOBS_URL" -o again.txt
cmp a.txt again.txt || fail "server no longer serves"

# Concurrent puts of distinct blobs.
for i in $(seq 8); do head -c 5000 /dev/urandom > "p$i"; done
pids=()
for i in $(seq 8); do "$CELLA" blobs put "p$i" --url "$BLOBS_URL" >/dev/null & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "concurrent put failed"; done
for i in $(seq 8); do
  h=$(sha256sum "p$i" | cut -c1-64)
  [[ -e "$TMP/blobsd/sha256/$h" ]] || fail "concurrent put $i missing"
done
ok

stop_server "$BLOBS_PID"
# The port is refused once stopped; a bad --listen is a usage error.
expect_fail 'cannot|failed|Couldn' "$CELLA" blobs get "$SHA" --url "$BLOBS_URL" -o gone
expect_fail 'listen' "$CELLA" blobs serve --listen nowhere --data "$TMP/store2"
finish
