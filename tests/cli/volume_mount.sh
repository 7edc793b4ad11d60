#!/usr/bin/env bash
# cella volume mount / umount: the FUSE shield as a user sees it. Background
# mode returns once the mount answers; the tree, sizes, modes and bytes match
# the plaintext; changes are refused (read-only); programs run from it; a wrong
# key or tag mounts nothing; umount and SIGTERM both leave no mount behind.
# Skipped (exit 77, with the reason) where FUSE cannot mount.
. "$(dirname "$0")/lib.sh"

MOUNTS=()
cleanup_mounts() {
  for m in "${MOUNTS[@]}"; do
    if grep -q " $m fuse" /proc/self/mounts 2>/dev/null; then
      fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    fi
  done
}
on_exit cleanup_mounts   # before the lib removes $TMP
mounted() { grep -q " $1 fuse.cella " /proc/self/mounts; }
# wait_gone DIR: up to 5 s for the mount to disappear
wait_gone() { for _ in $(seq 50); do mounted "$1" || return 0; sleep 0.1; done; return 1; }

mkdir -p src/d/e src/empty-dir mnt mnt2
head -c 300000 /dev/urandom > src/data.bin
printf 'hello through the shield\n' > src/d/e/hi.txt
: > src/zero
chmod 600 src/zero
cp /bin/true src/tool; chmod 755 src/tool
expect_ok "$CELLA" volume encrypt src vol --key-file k.key
TAG=$(cat .out)

# usage errors come first, whatever the platform
expect_fail 'usage: cella volume mount' "$CELLA" volume mount vol --key-file k.key
expect_fail 'usage: cella volume umount' "$CELLA" volume umount
expect_ok "$CELLA" help volume mount
grep -q '^usage: cella volume mount VOL_DIR MOUNTPOINT' .out || fail "help volume mount"

if ! "$CELLA" volume mount vol mnt --key-file k.key --tag "$TAG" >.out 2>.err; then
  if grep -q 'FUSE is not available' .err; then
    skip "$(cat .err)"
  fi
  cat .err >&2; fail "mount failed"
fi
MNT=$(cd mnt && pwd -P)
MOUNTS+=("$MNT")
ok
mounted "$MNT" || fail "not mounted after 'volume mount' returned"
[[ ! -s .out ]] || fail "mount printed on stdout"

# the tree, sizes, modes, bytes
diff -r src mnt || fail "mounted tree differs from the plaintext"
[[ $(stat -c '%a %s' mnt/zero) == "600 0" ]] || fail "mode or size of zero"
[[ $(stat -c '%a' mnt/tool) == 755 ]] || fail "mode of tool"
[[ -d mnt/empty-dir ]] || fail "empty directory missing"
cmp <(dd if=mnt/data.bin bs=4096 skip=16 count=3 status=none) \
    <(dd if=src/data.bin bs=4096 skip=16 count=3 status=none) || fail "range read"
mnt/tool || fail "cannot run a program from the mount"

# read-only
{ echo x > mnt/new; } 2>/dev/null && fail "created a file"
{ echo x >> mnt/zero; } 2>/dev/null && fail "appended to a file"
rm -f mnt/zero 2>/dev/null || true; [[ -e mnt/zero ]] || fail "removed a file"
mkdir mnt/z 2>/dev/null && fail "made a directory"
err=$(touch mnt/data.bin 2>&1 || true); [[ "$err" == *"Read-only file system"* ]] || fail "touch: $err"
ok

# the mount point is taken: a second mount is refused; umount refuses non-shields
expect_fail 'already mounted' "$CELLA" volume mount vol mnt --key-file k.key
expect_fail 'not a mount point|no cella shield' "$CELLA" volume umount src
expect_ok "$CELLA" volume umount mnt
wait_gone "$MNT" || fail "still mounted after umount"
[[ -z "$(ls -A mnt)" ]] || fail "mount point not empty after umount"
expect_fail 'no cella shield' "$CELLA" volume umount mnt

# a wrong key or a stale tag mounts nothing
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > bad.key; echo >> bad.key; chmod 600 bad.key
expect_fail 'wrong key' "$CELLA" volume mount vol mnt --key-file bad.key
expect_fail 'rollback|stale' "$CELLA" volume mount vol mnt --key-file k.key --tag 00000000000000000000000000000000
mounted "$MNT" && fail "mounted despite an error"

# foreground: serves until SIGTERM, then unmounts and exits 0
"$CELLA" volume mount vol mnt2 --key-file k.key --foreground 2>fg.err &
FG=$!
MNT2=$(cd mnt2 && pwd -P)
MOUNTS+=("$MNT2")
for _ in $(seq 50); do mounted "$MNT2" && break; sleep 0.1; done
mounted "$MNT2" || { cat fg.err >&2; fail "foreground mount did not appear"; }
cmp src/d/e/hi.txt mnt2/d/e/hi.txt || fail "foreground read"
kill -TERM "$FG"
rc=0; wait "$FG" || rc=$?
[[ $rc == 0 ]] || { cat fg.err >&2; fail "foreground exit status $rc after SIGTERM"; }
mounted "$MNT2" && fail "still mounted after SIGTERM"
ok

# tampering with a chunk (the last, beyond the first read's readahead): reading
# it fails with EIO, the first chunk and other files still read
expect_ok "$CELLA" volume mount vol mnt --key-file k.key 2>srv.err
for f in vol/*; do
  [[ $(basename "$f") == volume.meta ]] && continue
  if [[ $(stat -c %s "$f") -gt 200000 ]]; then big=$f; fi
done
expect_ok "$CELLA" volume umount mnt
wait_gone "$MNT" || fail "still mounted"
C=16384                     # the default chunk size
last=$(( (300000 - 1) / C )) # data.bin's last chunk
flip_byte "$big" $((64 + last * (C + 16) + 10))
"$CELLA" volume mount vol mnt --key-file k.key 2>srv.err || fail "mount of a volume with a bad chunk"
cat mnt/data.bin >/dev/null 2>cat.err && fail "read through a tampered chunk"
grep -q 'Input/output error' cat.err || fail "expected EIO, got: $(cat cat.err)"
dd if=mnt/data.bin bs=65536 count=1 status=none | cmp - <(head -c 65536 src/data.bin) || fail "good chunk"
cmp src/d/e/hi.txt mnt/d/e/hi.txt || fail "other file"
expect_ok "$CELLA" volume umount mnt
wait_gone "$MNT" || fail "still mounted"
sleep 0.2
grep -q "data.bin: chunk $last failed authentication" srv.err || { cat srv.err >&2; fail "no warning naming the file"; }
ok
finish
