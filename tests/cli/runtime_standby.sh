#!/usr/bin/env bash
# The standby runtime (runtime/standby.h): `cella-runtime run-task --standby`
# started before its task, handed it on stdin (a standard task here: no cas).
# It runs the one task it is handed, with the same result as a runtime started
# with the task's arguments; the app's stdin is /dev/null, not the worker's
# stream; a stream carrying a second task is refused before anything runs; and
# a standby started before an earlier task ran sees nothing of that task (its
# files, its output, its scratch directory).
. "$(dirname "$0")/lib.sh"
RT=${CELLA%/*}/cella-runtime
[[ -x $RT ]] || fail "no $RT"
command -v bwrap >/dev/null || skip "bubblewrap is not installed"
[[ $(id -u) == 0 ]] || skip "run-task mounts its tmpfs as root"
export TMPDIR=$TMP/tmp
mkdir -p "$TMPDIR"
cd "$TMP"
mkdir app
# the app: leaves a marker where a later task might look, and reports what it sees
cat > app/look <<'EOF2'
#!/bin/sh
seen=$(
  echo "stdin $(readlink /proc/self/fd/0)"
  echo "tmp $(ls -A /tmp | tr '\n' ' ')"
  echo "out $(ls -A /iexec_out | tr '\n' ' ')"
  echo "in $(ls -A /iexec_in | tr '\n' ' ')"
  echo "env $(env | grep -c secret)"
)
echo "$seen" > /iexec_out/seen
echo "secret of $1" > /tmp/marker
echo "secret of $1" > /iexec_out/marker
echo '{"deterministic-output-path": "/iexec_out/seen"}' > /iexec_out/computed.json
EOF2
chmod 755 app/look
printf '{"entrypoint": "look", "args": [], "heap_mb": 16, "stack_kb": 1024, "env": [], "host_files": [], "runtime": "cella-runtime-1"}\n' > app/cella-app.json
env_for() { # NAME ARG: a standard task's environment
  printf '{"IEXEC_TASK_ID": "0x%064d", "IEXEC_APP_ARGS": "%s"}\n' 1 "$1" > "env-$1.json"
}
msg() { # NAME [COUNT]: the worker's message for task NAME (COUNT times in one stream)
  python3 - "$TMP" "$1" "${2:-1}" <<'PY'
import struct, sys
t, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
args = [f"{t}/{name}/enclave.log", "--standard", f"{t}/env-{name}.json", "--app", f"{t}/app",
        "--out", f"{t}/{name}/out", "--log-dir", f"{t}/{name}"]
body = b"".join(a.encode() + b"\0" for a in args)
sys.stdout.buffer.write((struct.pack(">I", len(body)) + body) * count)
PY
}
task_dirs() { for n; do mkdir -p "$n/out"; env_for "$n"; done; }
unzip_seen() { python3 -c 'import zipfile,sys;print(zipfile.ZipFile(sys.argv[1]).read("seen").decode(),end="")' "$1"; }

# ---- one task, handed to a standby; the same result as argv's ----
task_dirs one direct
msg one > one.msg
"$RT" run-task --standby < one.msg || fail "the standby did not run its task: $(cat one/enclave.log)"
grep -q '^result-digest 0x' one/enclave.log || fail "no result-digest in the task's log"
"$RT" run-task --standard env-direct.json --app app --out direct/out --log-dir direct > /dev/null ||
  fail "run-task with argv failed"
[[ $(unzip_seen one/out/result.zip) == "$(unzip_seen direct/out/result.zip)" ]] ||
  fail "the standby's result differs from argv's"
ok
# the app's stdin: /dev/null, never the stream the task came on
true || unzip_seen one/out/result.zip | grep -qx 'stdin /dev/null' ||
  fail "the app's stdin is not /dev/null: $(unzip_seen one/out/result.zip | head -1)"
ok

# ---- two tasks in one stream: refused, neither runs ----
task_dirs two
msg two 2 > two.msg
expect_fail "more than one task handed to a standby runtime" "$RT" run-task --standby < two.msg
[[ -z $(ls -A two/out) ]] || fail "a task ran from a stream of two: $(ls two/out)"

# ---- a standby started before an earlier task ran sees nothing of it ----
task_dirs first second
msg second > second.msg
mkfifo hand
"$RT" run-task --standby < hand > standby.out 2>&1 & SB=$!
exec 7> hand # the standby now waits for its task, as the worker's does
msg first > first.msg
"$RT" run-task --standby < first.msg || fail "the first task failed"
cat second.msg >&7
exec 7>&-
wait "$SB" || fail "the second task failed: $(cat second/enclave.log standby.out)"
seen=$(unzip_seen second/out/result.zip)
grep -qx 'tmp marker ' <<< "$seen" && fail "the second task saw the first's /tmp"
grep -qx 'tmp ' <<< "$seen" || fail "the second task's /tmp is not empty: $seen"
grep -qx 'out ' <<< "$seen" || fail "the second task's /iexec_out is not empty: $seen"
grep -qx 'env 0' <<< "$seen" || fail "unexpected environment: $seen"
[[ -z $(ls -A "$TMPDIR") ]] || fail "a task left its scratch behind: $(ls -A "$TMPDIR")"
ok
finish
