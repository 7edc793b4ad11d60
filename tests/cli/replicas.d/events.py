"""Followers of GET /v1/events across hub replicas.

events.py follow STOPFILE OUT URL...
    Reads the events from the replicas in turn, as a follower does (after =
    the reply's "last"), every 5 ms, until STOPFILE exists and a round of
    polls brings nothing new; at most 5000 polls and 300 s. Creates OUT.ready once
    it has read what there was when it started. Writes to OUT
    {"polls": [[url, after, [seq...], last]...]}.
events.py wake WAITER WRITER ORDERFILE...
    For each ORDERFILE (a signed order, never published): a long poll
    GET WAITER/v1/events?after=NEWEST&wait=20, then, once it waits, POST
    WRITER/v1/orders with it. The poll must come back with that order's
    order-published event. Prints one line per order with the time from the
    publish's reply (the commit, acknowledged) to the waiter's reply, and
    from the publish's request; the last line is the largest of the latter,
    in ms."""
import json
import os
import sys
import threading
import time
import urllib.request


def get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as f:
        return json.loads(f.read())


def follow(stop, out, urls):
    last, polls, quiet, start = 0, [], 0, time.time()
    for i in range(5000):
        if time.time() - start > 300:
            break
        url = urls[i % len(urls)]
        stopping = os.path.exists(stop)
        r = get(f"{url}/v1/events?after={last}")
        seqs = [e["seq"] for e in r["events"]]
        polls.append([url, last, seqs, r["last"]])
        last = r["last"]
        if i == 0:
            open(out + ".ready", "w").close()
        quiet = quiet + 1 if stopping and not seqs else 0
        if quiet >= len(urls):
            break
        time.sleep(0.001)
    json.dump({"polls": polls}, open(out, "w"))


def newest(url):
    last = 0
    for _ in range(1000):
        r = get(f"{url}/v1/events?after={last}")
        if not r["events"]:
            return last
        last = r["last"]
    sys.exit("events: no end")


def wake(waiter, writer, files):
    worst = 0.0
    for path in files:
        after = newest(waiter)
        got = {}

        def poll():
            r = get(f"{waiter}/v1/events?after={after}&wait=20")
            got["t"], got["events"] = time.monotonic(), r["events"]

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)  # the poll is waiting: nothing else writes meanwhile
        body = open(path, "rb").read()
        req = urllib.request.Request(f"{writer}/v1/orders", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        sent = time.monotonic()
        with urllib.request.urlopen(req, timeout=30) as f:
            hash_ = json.loads(f.read())["orderHash"]
        acked = time.monotonic()
        t.join(30)
        if "t" not in got:
            sys.exit(f"the long poll on {waiter} did not return")
        mine = [e for e in got["events"]
                if e["type"] == "order-published" and e.get("orderHash") == hash_]
        if len(mine) != 1:
            sys.exit(f"the long poll on {waiter} returned {got['events']}, not {hash_}'s event")
        ms_ack, ms_sent = (got["t"] - acked) * 1000, (got["t"] - sent) * 1000
        # The commit lies between `sent` and `acked`: a wake more than 1 s after
        # `acked` is certainly more than 1 s after it. From `sent` would also
        # count the writer's own latency, over 1 s on a loaded machine.
        worst = max(worst, ms_ack)
        print(f"a long poll on {waiter} woke {ms_ack:.0f} ms after {writer} acknowledged "
              f"the commit ({ms_sent:.0f} ms after the request was sent)")
    print(f"{worst:.0f}")


if sys.argv[1] == "follow":
    follow(sys.argv[2], sys.argv[3], sys.argv[4:])
elif sys.argv[1] == "wake":
    wake(sys.argv[2], sys.argv[3], sys.argv[4:])
else:
    sys.exit("usage: events.py follow STOPFILE OUT URL... | wake WAITER WRITER ORDERFILE...")
