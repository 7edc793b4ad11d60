#!/usr/bin/env bash
# Images built with Debian's tools and no Docker (examples/images, docs/images.md),
# run end to end on `cella up` (sim TEE): the word count as a static binary
# FROM scratch on an encrypted dataset, and a shell app on busybox-static,
# imported from a `docker save` archive, with an input file, both kinds of
# secrets and args, and no dataset. The image scripts are deterministic: built
# twice, the same bytes; the OCI layout and the docker archive of one image
# import to the same measurement.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
static_busybox ||
  skip "busybox-static is not installed (scripts/deps.sh)"
. "$HERE/images.d/stack.sh"
IMG=$SRC/examples/images

# ---- build: no daemon, no registry; the same bytes twice ----
expect_ok "$IMG/static.sh" static.oci
expect_ok "$IMG/busybox.sh" busybox.oci
expect_ok "$IMG/busybox.sh" busybox2.oci
diff -r busybox.oci busybox2.oci >/dev/null || fail "busybox.sh built two different images"
grep -q '"imageLayoutVersion": "1.0.0"' static.oci/oci-layout || fail "static.oci is no OCI layout"
(. "$IMG/oci.sh" && oci_docker_archive busybox.oci busybox-docker.tar) || fail "oci_docker_archive"
tar -tf busybox-docker.tar > docker-list.txt   # (not piped into grep -q: SIGPIPE under pipefail)
grep -qx manifest.json docker-list.txt || fail "the docker archive has no manifest.json"
ok

# ---- the word count FROM scratch, on an encrypted dataset ----
publish_image "$TMP/static.oci" wordcount-scratch
WC=$APP
[[ $(ls "$BUNDLE/rootfs") == wordcount ]] || fail "FROM scratch: the rootfs holds $(ls "$BUNDLE/rootfs")"
printf 'to be or not to be\nthat is the question\n' > speech.txt
sell_dataset "$TMP/speech.txt" "$WC"
run_task "$WC" --dataset "$DS" --args 2
result_file "$TASK" result.txt > wc.txt
grep -qx 'lines 2' wc.txt && grep -qx 'words 10' wc.txt && grep -qx 'top 1 be 2' wc.txt &&
  grep -qx 'top 2 to 2' wc.txt && ! grep -q '^top 3' wc.txt || { cat wc.txt >&2; fail "word count result"; }
ok

# ---- the shell app on busybox, from the docker archive: input file, secrets, args, no dataset ----
publish_image "$TMP/busybox-docker.tar" shell
SH_APP=$APP
M_ARCHIVE=$("$CELLA" app measure "$BUNDLE")
"$CELLA" app import busybox.oci busybox-oci.bundle >/dev/null 2>&1 || fail "import the OCI layout"
[[ $("$CELLA" app measure busybox-oci.bundle) == "$M_ARCHIVE" ]] ||
  fail "the OCI layout and the docker archive of one image measure differently"
ok
cd "$TMP/dev"
printf 'dev-s3cret' > dev.secret
expect_ok "$CELLA" app push-secret "$SH_APP" --secret-file dev.secret --wallet-file "$(W dev)"
cd "$TMP/req"
printf 'req-s3cret-1' > req.secret
expect_ok "$CELLA" requester push-secret apikey --secret-file req.secret --wallet-file "$(W req)"
printf 'an input file\n' > input.txt
expect_ok "$CELLA" blobs put input.txt
IN_URL=$(cut -d' ' -f2 "$TMP/.out")
# the speech is sold to the word count only: no dataset order allows the shell app
expect_fail "no open order in the book matches \(kind=datasetorder&dataset=$DS\) and allows app $SH_APP" \
  "$CELLA" app run "$SH_APP" --dataset "$DS" --tag tee,scone --wallet-file "$(W req)"
run_task "$SH_APP" --args "one two" --secret 1=apikey --input-files "$IN_URL"
result_file "$TASK" result.txt > sh.txt
grep -qx 'dataset none' sh.txt &&
  grep -q "^input1 [^ ]* bytes 14 sha256 $(sha256sum req/input.txt | cut -d' ' -f1)\$" sh.txt &&
  grep -qx 'args 2 one two' sh.txt && grep -qx 'developer-secret-length 10' sh.txt &&
  grep -qx 'requester-secret 1 length 12' sh.txt || { cat sh.txt >&2; fail "shell app result"; }
[[ $(result_file "$TASK" computed.json) == '{"deterministic-output-path": "/iexec_out/result.txt"}' ]] ||
  fail "computed.json: $(result_file "$TASK" computed.json)"
! grep -rq 'dev-s3cret\|req-s3cret' stack/logs worker.log || fail "a secret reached a log"
ok

# ---- a dataset sold to two apps: one order each; app run takes the one that allows the app ----
cd "$TMP/owner"
expect_ok "$CELLA" order init --dataset --set volume=100,apprestrict="$SH_APP"
expect_ok "$CELLA" order sign --dataset --wallet-file "$(W owner)"
expect_ok "$CELLA" order publish --dataset
cd "$TMP"
run_task "$SH_APP" --dataset "$DS"
result_file "$TASK" result.txt > sh2.txt
grep -qi "^dataset $DS bytes 40 sha256 $(sha256sum speech.txt | cut -d' ' -f1)\$" sh2.txt ||
  { cat sh2.txt >&2; fail "shell app on the dataset"; }
ok
finish
