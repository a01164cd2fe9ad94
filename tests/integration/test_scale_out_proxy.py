#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: --trusted_proxies, the client address behind a load balancer.

Usage:  test_scale_out_proxy.py PATH/TO/tbdev-server

Several servers behind a load balancer see only the balancer's address. With
--trusted_proxies the per-address sign-in throttle and the request log use the address
X-Forwarded-For gives, but only for requests from those addresses:

  - trusted (127.0.0.1): wrong sign-ins "from" 203.0.113.7 (each for another account, so the
    per-account throttle stays out of it) are refused 429 after --login_per_minute; one from
    203.0.113.8 is still answered 401; the log names 203.0.113.7; a client's own X-Forwarded-For
    left of the proxy's entry is not believed;
  - no --trusted_proxies, or a list without the peer: a new X-Forwarded-For on each attempt
    does not escape the throttle, and the log names 127.0.0.1;
  - a bad list is a usage error naming the item.

Exits 0, 1, or 77.
"""

import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402

PER_MINUTE = 5


def login(port, user, xff=None):
    body = json.dumps({"user": user, "password": "wrong"}).encode()
    extra = b"".join(b"X-Forwarded-For: %s\r\n" % x.encode() for x in
                     ([xff] if isinstance(xff, str) else xff or []))
    req = (b"POST /api/v1/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
           b"\r\n" + extra + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
           ) + body
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        got, _, _ = L.raw_exchange(s, req, timeout=30)
    finally:
        s.close()
    return L.parse_status(got)


def server(rep, exe, tmp, name, proxies):
    args = ["--login_per_minute", str(PER_MINUTE)]
    if proxies is not None:
        args += ["--trusted_proxies", proxies]
    srv = rep.watch(L.Server(exe, tmp, tls=False, name=name, args=args))
    srv.start()
    return srv


def body(rep, exe, tmp):
    srv = server(rep, exe, tmp, "trusted", "10.0.0.0/8, 127.0.0.1")
    sts = [login(srv.port, "nobody%d" % i, "203.0.113.7") for i in range(PER_MINUTE + 3)]
    rep.eq(sts, [401] * PER_MINUTE + [429] * 3,
           "trusted proxy: wrong sign-ins from X-Forwarded-For 203.0.113.7 are throttled per "
           "that address")
    rep.eq(login(srv.port, "someone", "203.0.113.8"), 401,
           "trusted proxy: another forwarded address is not throttled")
    # the client wrote its own X-Forwarded-For; the proxy (10.x, trusted) appended the real one
    rep.eq(login(srv.port, "someone2", "198.51.100.1, 203.0.113.7, 10.0.0.2"), 429,
           "trusted proxy: an address the client wrote left of the proxies' is not believed")
    rep.eq(login(srv.port, "someone3", ["198.51.100.9", "203.0.113.7"]), 429,
           "trusted proxy: of two X-Forwarded-For headers, the last (the proxy's) counts")
    log = srv.log_text()
    rep.check("/api/v1/login 429" in log and " 203.0.113.7" in log and "198.51.100" not in log,
              "trusted proxy: the request log names the forwarded address", log[-600:])

    for name, proxies in (("untrusted", None), ("other_net", "10.0.0.0/8")):
        srv = server(rep, exe, tmp, name, proxies)
        sts = [login(srv.port, "nobody%d" % i, "203.0.113.%d" % i)
               for i in range(PER_MINUTE + 3)]
        rep.eq(sts, [401] * PER_MINUTE + [429] * 3,
               "%s: a forged X-Forwarded-For on each attempt does not escape the throttle"
               % (proxies and "peer not in --trusted_proxies %s" % proxies or
                  "no --trusted_proxies"))
        log = srv.log_text()
        rep.check("203.0.113." not in log and " 127.0.0.1" in log,
                  "%s: the request log names the peer, not X-Forwarded-For" % name, log[-400:])

    p = subprocess.run([exe, "serve", "--db", os.path.join(tmp, "x.db"), "--listen",
                        "127.0.0.1:0", "--trusted_proxies", "10.0.0.0/8,lb.example"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                       env=L.clean_env())
    err = p.stderr.decode("utf-8", "replace")
    rep.check(p.returncode == 2 and "'lb.example' is not an IPv4 or IPv6 address" in err,
              "a bad --trusted_proxies is a usage error naming the item", "%d %s" % (
                  p.returncode, err[-300:]))


if __name__ == "__main__":
    L.run_main("--trusted_proxies", body)
