"""Compares an app's environment with docs/worker.md's table (tests/cli/task_env.sh).

check.py DOC FACTS ENV INLIST
  DOC     docs/worker.md: the rows between <!-- task-env-app:begin/end --> (the
          app's variables) and <!-- task-env-pre:begin/end --> (never the app's)
  FACTS   JSON: tee, deal, task, idx, bot_size, bot_first, dataset (address or
          null), inputs (URLs), dev_secret (or null), req_secrets {index: value}
  ENV     the app's environment, NAME=value NUL-separated
  INLIST  the names in /iexec_in, one a line
Prints one line per difference and exits 1 if there is any.
"""
import hashlib
import json
import re
import sys

doc, facts_path, env_path, in_path = sys.argv[1:5]
text = open(doc, encoding="utf-8").read()


def rows(tag):
    m = re.search(r"<!-- task-env-%s:begin -->\n(.*?)<!-- task-env-%s:end -->" % (tag, tag), text, re.S)
    if not m:
        sys.exit("docs/worker.md has no task-env-%s table" % tag)
    out = []
    for line in m.group(1).splitlines()[2:]:  # after the header and its rule
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        out.append((cells[0].strip("`"), cells[2]))
    return out


app, pre = rows("app"), rows("pre")
f = json.load(open(facts_path))
ZERO = "0x" + "0" * 40
ds = f["dataset"].lower() if f["dataset"] else ZERO
# What the test itself knows each variable's value to be, from the task's facts.
values = {
    "IEXEC_DEAL_ID": f["deal"].lower(),
    "IEXEC_TASK_INDEX": str(f["idx"]),
    "IEXEC_TASK_ID": f["task"].lower(),
    "IEXEC_IN": "/iexec_in",
    "IEXEC_OUT": "/iexec_out",
    "IEXEC_BOT_SIZE": str(f["bot_size"]),
    "IEXEC_BOT_FIRST_INDEX": str(f["bot_first"]),
    "IEXEC_BOT_TASK_INDEX": str(f["idx"]),
    "IEXEC_DATASET_ADDRESS": ds,
    "IEXEC_DATASET_FILENAME": ds,
    "IEXEC_INPUT_FILES_NUMBER": str(len(f["inputs"])),
    "IEXEC_INPUT_FILES_FOLDER": "/iexec_in",
    "IEXEC_APP_DEVELOPER_SECRET": f["dev_secret"],
    "IEXEC_APP_DEVELOPER_SECRET_1": f["dev_secret"],
}
numbered = {"IEXEC_INPUT_FILE_NAME_<n>", "IEXEC_REQUESTER_SECRET_<index>"}
errors = []
table = {n for n, _ in app}
if table != set(values) | numbered:
    errors.append("the table and the test disagree on: %s" % sorted(table ^ (set(values) | numbered)))
given = {
    "always": True,
    "input files": bool(f["inputs"]),
    "TEE developer secret": f["tee"] and f["dev_secret"] is not None,
    "TEE requester secret": f["tee"],
}
expected = {}
for name, when in app:
    if when not in given:
        errors.append("%s: unknown 'given' %r" % (name, when))
    elif not given[when]:
        continue
    elif name == "IEXEC_INPUT_FILE_NAME_<n>":
        for i, url in enumerate(f["inputs"], 1):
            expected["IEXEC_INPUT_FILE_NAME_%d" % i] = "0x" + hashlib.sha256(url.encode()).hexdigest()
    elif name == "IEXEC_REQUESTER_SECRET_<index>":
        for k, v in f["req_secrets"].items():
            expected["IEXEC_REQUESTER_SECRET_" + k] = v
    elif name in values:
        expected[name] = values[name]

raw = open(env_path, "rb").read().decode()
env = dict(kv.split("=", 1) for kv in raw.split("\0") if kv)
for k, v in expected.items():
    if k not in env:
        errors.append("missing %s" % k)
    elif env[k] != v:
        errors.append("%s=%r, the table says %r" % (k, env[k], v))
# Nothing else: PATH and HOME may come from an image, PWD from the sandbox
# (bubblewrap sets it to the working directory); docs/worker.md says so.
for k in sorted(env):
    if k not in expected and k not in ("PATH", "HOME", "PWD"):
        errors.append("unexpected variable %s" % k)
# The pre-compute set, by pattern, never.
for name, _ in pre:
    pat = re.compile("^" + re.escape(name).replace(re.escape("<n>"), "[0-9]+") + "$")
    for k in env:
        if pat.match(k):
            errors.append("pre-compute variable %s reached the app" % k)
# /iexec_in holds the input files under their names, and the dataset under its.
want_in = {v for k, v in expected.items() if k.startswith("IEXEC_INPUT_FILE_NAME_")}
if f["dataset"]:
    want_in.add(ds)
got_in = set(open(in_path).read().split())
if got_in != want_in:
    errors.append("/iexec_in holds %s, expected %s" % (sorted(got_in), sorted(want_in)))
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
