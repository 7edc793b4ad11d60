#!/usr/bin/env bash
# `cella app import` of OCI images built here without docker (oci_image.py):
# OCI layout, docker archive and OCI-in-tar forms give the same measurement;
# whiteouts, opaque directories, hard links, setuid bits; every refusal (a
# digest mismatch, a path through a link, a device node, a huge or deep
# archive) names what and where, and leaves nothing behind.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is needed to build test images"
IMG="python3 $(dirname "$0")/oci_image.py"
[[ "$(uname -m)" == x86_64 ]] || skip "the test images are linux/amd64"

# Two layers: the second whites out a file, makes a directory opaque, adds a
# hard link; the first has a setuid file, a link out of the root, a passwd.
cat > spec.json <<'EOF'
{"config": {"Entrypoint": ["/bin/app"], "Cmd": ["-v"], "Env": ["PATH=/bin", "HOME=/home/u"],
            "WorkingDir": "/app/", "User": "u"},
 "layers": [
  [{"path": "bin", "type": "dir"},
   {"path": "bin/app", "type": "file", "data": "#!/bin/sh\necho hi\n", "mode": 2541},
   {"path": "etc/passwd", "type": "file",
    "data": "root:x:0:0::/root:/bin/sh\nu:x:1000:1001::/home/u:/bin/sh\n"},
   {"path": "etc/data", "type": "file", "random": 65536},
   {"path": "old/a", "type": "file", "data": "a"}, {"path": "old/b", "type": "file", "data": "b"},
   {"path": "gone", "type": "file", "data": "x"},
   {"path": "tmp", "type": "dir", "mode": 1023},
   {"path": "escape", "type": "symlink", "target": "../../../../etc"}],
  [{"path": ".wh.gone", "type": "file"}, {"path": "old/c", "type": "file", "data": "c"},
   {"path": "old/.wh..wh..opq", "type": "file"},
   {"path": "bin/app2", "type": "hardlink", "target": "bin/app"},
   {"path": "app", "type": "dir"}]
 ]}
EOF
$IMG spec.json --layout layout
$IMG spec.json --docker docker.tar --mtime 5
$IMG spec.json --oci-tar oci.tar --gzip --mtime 99

expect_ok "$CELLA" app import layout b1
read -r M1 d < "$TMP/.out"
[[ "$M1" =~ ^[0-9a-f]{64}$ && "$d" == b1 ]] || fail "import output: $(cat "$TMP/.out")"
expect_ok "$CELLA" app import docker.tar b2
[[ "$(cut -d' ' -f1 "$TMP/.out")" == "$M1" ]] || fail "docker archive measures differently"
mkdir -p elsewhere/deeper
expect_ok "$CELLA" app import oci.tar elsewhere/deeper/b3
[[ "$(cut -d' ' -f1 "$TMP/.out")" == "$M1" ]] || fail "gzip OCI tar measures differently"
if command -v zstd >/dev/null; then
  $IMG spec.json --layout zstd --zstd
  expect_ok "$CELLA" app import zstd b4
  [[ "$(cut -d' ' -f1 "$TMP/.out")" == "$M1" ]] || fail "zstd layers measure differently"
fi
expect_ok "$CELLA" app measure elsewhere/deeper/b3
[[ "$(cat "$TMP/.out")" == "$M1" ]] || fail "app measure differs from import's"

# The reference implementation of docs/app-measurement.md (v2) agrees, byte for byte.
SRC=${CELLA_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
python3 - "$SRC/docs/app-measurement.md" b1 "$M1" <<'EOF' || fail "docs' v2 reference disagrees"
import re, sys
code = [b for b in re.findall(r"^```python\n(.*?)^```", open(sys.argv[1]).read(), re.S | re.M)
        if "measure_v2" in b][0]
exec(code)
got = measure_v2(sys.argv[2])
assert got == sys.argv[3], (got, sys.argv[3])
EOF

# What the layers say, applied in order.
R=b1/rootfs
[[ ! -e $R/gone ]] || fail "whiteout not applied"
[[ "$(ls $R/old)" == c ]] || fail "opaque directory: $(ls $R/old)"
cmp $R/bin/app $R/bin/app2 || fail "hard link content"
[[ "$(stat -c %a $R/bin/app $R/bin/app2 $R/tmp)" == $'755\n755\n777' ]] ||
  fail "setuid/sticky not dropped: $(stat -c %a $R/bin/app $R/bin/app2 $R/tmp)"
[[ "$(readlink $R/escape)" == ../../../../etc ]] || fail "link target not kept verbatim"
python3 - b1/cella-app.json <<'EOF' || fail "manifest image object"
import json, sys
m = json.load(open(sys.argv[1]))
i = m["image"]
assert "entrypoint" not in m and "args" not in m
assert i == {"entrypoint": ["/bin/app"], "cmd": ["-v"], "env": ["PATH=/bin", "HOME=/home/u"],
             "working_dir": "/app", "user": "1000:1001"}, i
EOF

# pack: deterministic, carries the links; the same image packs the same.
expect_ok "$CELLA" app pack b1 -o b1.tar
expect_ok "$CELLA" app pack b2 -o b2.tar
cmp b1.tar b2.tar || fail "image bundle pack not deterministic"
tar tvf b1.tar > list.txt
grep -q '^l.* rootfs/escape -> ../../../../etc' list.txt || fail "link not packed"

# app deploy registers the image bundle's tarball checksum and measurement.
start_hub
new_wallet dev
printf '{"chainId": 421614, "hubUrl": "%s"}\n' "$HUB_URL" > "$TMP/dev/cella.json"
SUM=$(cut -d' ' -f1 < <("$CELLA" app pack b1 -o "$TMP/dev/b1.tar"))
( cd "$TMP/dev" && "$CELLA" app deploy --name img --multiaddr "file://b1.tar" --checksum "$SUM" \
    --measurement "$M1" --wallet-file "$(W dev)" ) > deployed.txt 2>deploy.err ||
  { cat deploy.err >&2; fail "app deploy of an image bundle"; }
grep -Eq '^0x[0-9a-fA-F]{40}$' deployed.txt || fail "app deploy printed $(cat deployed.txt)"

# One byte changed in any layer changes the measurement.
for layer in 0 1; do
  python3 - spec.json "$layer" > spec1.json <<'EOF'
import json, sys
s = json.load(open(sys.argv[1])); l = int(sys.argv[2])
e = [e for e in s["layers"][l] if e.get("data")][0]
e["data"] = e["data"][:-1] + chr(ord(e["data"][-1]) ^ 1)
print(json.dumps(s))
EOF
  rm -rf l1; $IMG spec1.json --layout l1
  expect_ok "$CELLA" app import l1 c$layer
  [[ "$(cut -d' ' -f1 "$TMP/.out")" != "$M1" ]] || fail "one byte in layer $layer not measured"
done

# nothing_left DIR: a refused import leaves neither DIR nor a staging directory.
nothing_left() {
  [[ ! -e "$1" ]] || fail "refused import left $1"
  ! ls -a "$(dirname "$1")" | grep -q '\.tmp-' || fail "refused import left a staging dir"
}
# refused NAME PATTERN SPEC-EDIT [image options]: the import of SPEC-EDIT's image fails.
refused() {
  local name=$1 pattern=$2 edit=$3; shift 3
  python3 -c "import json,sys; s=json.load(open('spec.json')); $edit; print(json.dumps(s))" > "$name.json"
  rm -rf "$name.img"; $IMG "$name.json" --layout "$name.img" "$@"
  expect_fail "$pattern" "$CELLA" app import "$name.img" "$name.out"
  nothing_left "$name.out"
}
# a path through a link of the image (one pointing outside, one inside): refused
refused trav 'goes through a symbolic link.*\(layer 2: escape/pwned\)' \
  's["layers"][1].append({"path": "escape/pwned", "type": "file", "data": "x"})'
[[ ! -e /etc/pwned && ! -e "$TMP/etc/pwned" ]] || fail "wrote through the link"
refused trav2 'goes through a symbolic link.*\(layer 2: lnk/x\)' \
  's["layers"][0].append({"path": "lnk", "type": "symlink", "target": "bin"}); s["layers"][1].append({"path": "lnk/x", "type": "file", "data": "x"})'
refused hlink 'hard link to .*escape' \
  's["layers"][1].append({"path": "h", "type": "hardlink", "target": "escape"})'
refused dev 'device nodes, FIFOs and sockets are not allowed.*\(layer 1: dev/null\)' \
  's["layers"][0].append({"path": "dev/null", "type": "chr"})'
refused fifo 'device nodes, FIFOs.*\(layer 2: run/fifo\)' \
  's["layers"][1].append({"path": "run/fifo", "type": "fifo"})'
refused huge 'above the limit.*\(layer 1: big\)' \
  's["layers"][0].append({"path": "big", "type": "file", "declared_size": 1 << 40})'
refused deep 'nested deeper than 60' \
  's["layers"][0].append({"path": "d/" * 70 + "f", "type": "file", "data": "x"})'
refused long 'path longer than 4000 bytes' \
  's["layers"][0].append({"path": ("n" * 200 + "/") * 20 + "f" * 20, "type": "file", "data": "x"})'
refused user "user 'nobody' is not in the image's /etc/passwd \(config: User\)" \
  's["config"]["User"] = "nobody"'
refused digest 'SHA-256 digest differs.*\(layer 1: blobs/sha256/' 'pass' --corrupt-layer 1
# docker archives are checked against the config's diff_ids
$IMG spec.json --docker bad.tar --corrupt-layer 1
expect_fail 'SHA-256 digest differs.*\(layer 1: ' "$CELLA" app import bad.tar bad.out
nothing_left bad.out
expect_fail 'already exists' "$CELLA" app import layout b1
expect_fail 'neither an OCI layout' "$CELLA" app import elsewhere x.out
expect_fail 'at least 1 \(--heap-mb\)' "$CELLA" app import layout h.out --heap-mb 0
expect_ok "$CELLA" app import layout h.out --heap-mb 2048
grep -q '"heap_mb": 2048' h.out/cella-app.json || fail "--heap-mb not in the manifest"
finish
