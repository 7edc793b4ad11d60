#!/usr/bin/env python3
"""An iExec app in Python, with nothing cella-specific: it follows iExec's
runtime contract only (docs/worker.md), so it runs unchanged on iExec.

It reads
  - its dataset, $IEXEC_IN/$IEXEC_DATASET_FILENAME (already decrypted by the
    enclave); iExec sets the dataset variables even when the task has no
    dataset, to the deal's dataset address, the zero address, so that is how
    "no dataset" looks;
  - its input files, $IEXEC_IN/$IEXEC_INPUT_FILE_NAME_1..N with
    N = $IEXEC_INPUT_FILES_NUMBER;
  - the app developer's secret, $IEXEC_APP_DEVELOPER_SECRET_1 (iExec's current
    name; $IEXEC_APP_DEVELOPER_SECRET is the older one), and the requester's
    secrets $IEXEC_REQUESTER_SECRET_<n>;
  - its arguments (iexec_args), sys.argv[1:].
It never writes a secret's value anywhere: the result shows each secret's
length and the first 8 hex digits of its SHA-256, enough to check which
secret arrived.

It writes $IEXEC_OUT/result.json (per file: bytes, lines, words, SHA-256, its
most frequent words), and $IEXEC_OUT/computed.json whose
"deterministic-output-path" names result.json by its absolute path. It logs
to stderr (iExec keeps the app's stdout and stderr as its logs).

The result also says which interpreter ran and what /usr/bin holds: in an
image app that is the image's own Python and /usr/bin, not the worker host's.

Usage (iexec_args): [TOP]   how many frequent words to list per file (default 3)
"""
import collections
import hashlib
import json
import os
import re
import sys


# Without a dataset, iExec names it by the zero address (an empty name is taken the same way).
NO_DATASET = re.compile(r"0x0{40}")


def log(*parts):
    print("app:", *parts, file=sys.stderr, flush=True)


def describe(path, top):
    """Counts of one file, and its TOP most frequent words."""
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8", errors="replace")
    words = re.findall(r"[\w']+", text.lower())
    common = collections.Counter(words).most_common()
    # ties in name order, so the result is the same on every run
    common.sort(key=lambda kv: (-kv[1], kv[0]))
    return {
        "bytes": len(data),
        "lines": data.count(b"\n"),
        "words": len(words),
        "sha256": hashlib.sha256(data).hexdigest(),
        "top": [[w, n] for w, n in common[:top]],
    }


def secret_info(value):
    """What may be shown of a secret: its length and a short hash prefix."""
    return {"length": len(value), "sha256_prefix": hashlib.sha256(value.encode()).hexdigest()[:8]}


def main(argv):
    top = 3
    if len(argv) > 1:
        try:
            top = max(0, min(100, int(argv[1])))
        except ValueError:
            log(f"argument {argv[1]!r} is not a number; listing {top} words")
    iexec_in = os.environ.get("IEXEC_IN", "/iexec_in")
    iexec_out = os.environ.get("IEXEC_OUT", "/iexec_out")
    result = {"args": argv[1:]}

    name = os.environ.get("IEXEC_DATASET_FILENAME", "")
    if name and not NO_DATASET.fullmatch(name):
        log(f"dataset {name}")
        result["dataset"] = dict(name=name, **describe(os.path.join(iexec_in, name), top))
    else:
        log("no dataset")
        result["dataset"] = None

    inputs = []
    for i in range(1, int(os.environ.get("IEXEC_INPUT_FILES_NUMBER", "0") or "0") + 1):
        fname = os.environ.get(f"IEXEC_INPUT_FILE_NAME_{i}")
        if not fname:
            log(f"IEXEC_INPUT_FILE_NAME_{i} is not set")
            continue
        log(f"input file {i}: {fname}")
        inputs.append(dict(name=fname, **describe(os.path.join(iexec_in, fname), top)))
    result["input_files"] = inputs

    secrets = {}
    dev = os.environ.get("IEXEC_APP_DEVELOPER_SECRET_1", os.environ.get("IEXEC_APP_DEVELOPER_SECRET"))
    if dev is not None:
        secrets["app_developer"] = secret_info(dev)
    requester = {}
    for key in os.environ:
        m = re.fullmatch(r"IEXEC_REQUESTER_SECRET_([0-9]+)", key)
        if m:
            requester[m.group(1)] = secret_info(os.environ[key])
    secrets["requester"] = dict(sorted(requester.items(), key=lambda kv: int(kv[0])))
    result["secrets"] = secrets
    log(f"developer secret {'present' if dev is not None else 'absent'}, "
        f"{len(requester)} requester secret(s)")

    result["runtime"] = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "usr_bin": sorted(os.listdir("/usr/bin")),
    }

    out = os.path.join(iexec_out, "result.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(iexec_out, "computed.json"), "w") as f:
        json.dump({"deterministic-output-path": os.path.abspath(out)}, f)
        f.write("\n")
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
