"""Sends requests all at once and prints what came back: how two replicas
answer when they race for one row (a task's lease, an account's balance).

usage: race.py REQUESTS.tsv
One request a line: URL, METHOD, BODY, AUTHORIZATION separated by tabs (the
body is sent as it is, since a signature covers its hash; an empty one is
none, and so is an empty Authorization header). One thread each, released together by a barrier; every request has
a 30 s timeout. Prints a JSON list of [status, reply] in the same order
(status 0 and the reason when there was no HTTP reply)."""
import json
import sys
import threading
import urllib.error
import urllib.request

keys = ("url", "method", "body", "auth")
reqs = [dict(zip(keys, line.rstrip("\n").split("\t"))) for line in open(sys.argv[1])]
barrier = threading.Barrier(len(reqs))
out = [None] * len(reqs)


def send(i, r):
    headers = {"Content-Type": "application/json"}
    if r.get("auth"):
        headers["Authorization"] = r["auth"]
    body = r["body"].encode() if r.get("body") else None
    req = urllib.request.Request(r["url"], data=body, method=r["method"], headers=headers)
    barrier.wait(30)
    try:
        with urllib.request.urlopen(req, timeout=30) as f:
            out[i] = [f.status, json.loads(f.read() or b"null")]
    except urllib.error.HTTPError as e:
        out[i] = [e.code, json.loads(e.read() or b"null")]
    except Exception as e:  # no reply at all: the test shows it
        out[i] = [0, repr(e)]


threads = [threading.Thread(target=send, args=(i, r)) for i, r in enumerate(reqs)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
json.dump(out, sys.stdout)
