#!/bin/sh
# An iExec app in POSIX shell, for an image on busybox-static
# (examples/images/busybox.sh). It follows iExec's runtime contract only: for
# its dataset and each input file it writes the size and SHA-256 to
# $IEXEC_OUT/result.txt, then its arguments and whether each kind of secret
# arrived (never a secret's value: only its length), and names result.txt in
# $IEXEC_OUT/computed.json. It logs to stderr.
set -eu
in=${IEXEC_IN:-/iexec_in}
out=${IEXEC_OUT:-/iexec_out}
res=$out/result.txt
log() { echo "app: $*" >&2; }

describe() { # LABEL FILE
  printf '%s %s bytes %s sha256 %s\n' "$1" "$(basename "$2")" "$(wc -c < "$2" | tr -d ' ')" \
    "$(sha256sum "$2" | cut -d' ' -f1)"
}

: > "$res"
# without a dataset iExec names it by the zero address
ds=${IEXEC_DATASET_FILENAME:-}
if [ -n "$ds" ] && [ "$ds" != 0x0000000000000000000000000000000000000000 ]; then
  log "dataset $IEXEC_DATASET_FILENAME"
  describe dataset "$in/$IEXEC_DATASET_FILENAME" >> "$res"
else
  log "no dataset"
  echo "dataset none" >> "$res"
fi
i=1
while [ "$i" -le "${IEXEC_INPUT_FILES_NUMBER:-0}" ]; do
  eval "name=\${IEXEC_INPUT_FILE_NAME_$i:-}"
  [ -n "$name" ] && describe "input$i" "$in/$name" >> "$res"
  i=$((i + 1))
done
echo "args $#${*:+ $*}" >> "$res"
dev=${IEXEC_APP_DEVELOPER_SECRET_1:-${IEXEC_APP_DEVELOPER_SECRET:-}}
echo "developer-secret-length ${#dev}" >> "$res"
env | sed -n 's/^\(IEXEC_REQUESTER_SECRET_[0-9]*\)=.*/\1/p' | sort | while read -r v; do
  eval "val=\$$v"
  echo "requester-secret ${v#IEXEC_REQUESTER_SECRET_} length ${#val}"
done >> "$res"
printf '{"deterministic-output-path": "%s"}\n' "$res" > "$out/computed.json"
log "wrote $res"
