#!/usr/bin/env python3
"""Hostile HTTP clients for tests/cli/bounds.sh (issue 15: bounded cost before
authentication). Each mode prints one line of key=value results.

  hold    many connections each send headers with a large Content-Length and
          part of the body, then hold; prints the server's VmRSS meanwhile
  trickle one request sent a byte at a time; prints when and how it ended
  conns   fills one address's connection places, then asks from it and from
          another address
  polls   many long polls from one address, then one from another
  large   one request over its route's body cap (declared, or chunked); prints
          its status and whether the answer is the guard's JSON too_large
"""
import argparse
import fcntl
import select
import socket
import ssl
import struct
import sys
import termios
import time


def connect(port, source="127.0.0.1", tls=False):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname="localhost")
    return s


def status_of(s, timeout=10):
    """The status of the answer on s, 0 if it closed without one, -1 if none came."""
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, TimeoutError):
        return -1, data
    except OSError:
        pass
    parts = data.split(b" ", 2)
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1]), data
    return 0, data


def ask(port, source, target, timeout=10):
    """The status of GET target from source (see status_of)."""
    s = connect(port, source)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return status_of(s, timeout)[0]


def unsent(socks):
    total = 0
    for s in socks:
        try:
            total += struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
        except OSError:
            pass
    return total


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def hold(a):
    socks, refused = [], 0
    chunk = b"x" * 65536
    head = (f"{a.method} {a.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {a.length}\r\n\r\n").encode()
    for i in range(a.clients):
        source = f"127.0.0.{1 + i % a.sources}"
        try:
            s = connect(a.port, source, a.tls)
            s.settimeout(5)
            s.sendall(head)
            left = a.send
            while left > 0:
                n = min(left, len(chunk))
                s.sendall(chunk[:n])
                left -= n
            socks.append(s)
        except OSError:
            refused += 1
    # the peak while the server reads the rest: until every byte sent has left
    # the clients' socket buffers (read, or dropped with its connection)
    rss, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < a.settle:
        rss = max(rss, rss_kb(a.pid))
        if unsent(socks) == 0 and time.monotonic() - t0 > 1:
            break
        time.sleep(0.1)
    answered = 0
    for s in socks:
        s.settimeout(0.01)
        try:
            s.recv(1)  # an answer, or the end of the connection: cut
            answered += 1
        except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
            pass
        except OSError:
            answered += 1
    print(f"rss_kb={rss} held={len(socks) - answered} cut={answered + refused}")
    for s in socks:
        s.close()


def trickle(a):
    req = f"GET {a.path} HTTP/1.1\r\nHost: x\r\nX-Pad: {'p' * 200}\r\n\r\n".encode()
    s = connect(a.port)
    t0 = time.monotonic()
    for b in req:
        try:
            s.sendall(bytes([b]))
        except OSError:
            break
        s.settimeout(a.gap)
        try:
            if s.recv(1, socket.MSG_PEEK):
                break  # answered early
        except (socket.timeout, TimeoutError):
            pass
        except OSError:
            break
        if time.monotonic() - t0 > a.give_up:
            print(f"status=-1 seconds={time.monotonic() - t0:.1f}")
            return
    status, _ = status_of(s, 2)
    print(f"status={status} seconds={time.monotonic() - t0:.1f}")


def conns(a):
    held = []
    for _ in range(a.fill):
        s = connect(a.port)
        s.sendall(b"GET /v1/health HTTP/1.1\r\n")  # started, not finished
        held.append(s)
    time.sleep(0.5)
    print(f"same={ask(a.port, '127.0.0.1', a.path, 5)} other={ask(a.port, '127.0.0.2', a.path, 5)}")


def polls(a):
    held = []
    for _ in range(a.n):
        s = connect(a.port)
        s.sendall(b"GET /v1/events?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n")
        held.append(s)
    time.sleep(1.0)
    print(f"other={ask(a.port, '127.0.0.2', '/v1/events?wait=1')}")


def large(a):
    """Declared: headers only, no body (only a check of Content-Length at the
    end of the headers answers). Chunked: 64 KiB chunks up to --send bytes,
    never the last one, stopping once an answer is there to read."""
    s = connect(a.port, tls=a.tls)
    framing = ("Transfer-Encoding: chunked" if a.chunked else f"Content-Length: {a.length}")
    s.sendall(f"{a.method} {a.path} HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n".encode())
    sent, chunk = 0, b"x" * 65536
    while a.chunked and sent < a.send:
        r, _, _ = select.select([s], [], [], 0.05)
        if r:
            break
        try:
            s.sendall(b"10000\r\n" + chunk + b"\r\n")
        except OSError:
            break
        sent += len(chunk)
    s.settimeout(5)
    data = b""
    try:
        while len(data) < 65536:
            got = s.recv(4096)
            if not got:
                break
            data += got
    except (OSError, ssl.SSLError):
        pass
    parts = data.split(b" ", 2)
    status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else -1
    body = data.partition(b"\r\n\r\n")[2]
    json = int(b'"code":"too_large"' in body)
    print(f"status={status} json={json} sent={sent}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["hold", "trickle", "conns", "polls", "large"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--path", default="/v1/health")
    p.add_argument("--method", default="POST")
    p.add_argument("--length", type=int, default=7_000_000)
    p.add_argument("--send", type=int, default=2_000_000)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--sources", type=int, default=8)
    p.add_argument("--settle", type=float, default=15.0)
    p.add_argument("--gap", type=float, default=0.5)
    p.add_argument("--give-up", type=float, default=12)
    p.add_argument("--fill", type=int, default=4)
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--chunked", action="store_true")
    a = p.parse_args()
    {"hold": hold, "trickle": trickle, "conns": conns, "polls": polls, "large": large}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
