#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: GET /api/v1/health, and ?db=1 for checkers behind a load balancer.

Usage:  test_health.py PATH/TO/tbdev-server

  - /api/v1/health answers 200 {"status":"ok"} without touching the database;
  - ?db=1 asks the database too: on SQLite and on PostgreSQL 200 with "database":"ok";
  - PostgreSQL shut down under a running server: ?db=1 answers 503 with Retry-After and
    "database" saying why, while the plain health check still answers 200 (the process is
    alive); PostgreSQL started again: ?db=1 is 200 again without restarting tbdev-server
    (its connections are made anew), and a write goes through.

Exits 0, 1, or 77 (PostgreSQL 15 missing skips only the PostgreSQL part: reported as such).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_lib as L  # noqa: E402
import scale_lib as S  # noqa: E402


def health(srv, query=""):
    r = srv.get("/api/v1/health" + query)
    try:
        doc = r.json()
    except ValueError:
        doc = None
    return r, doc


def body(rep, exe, tmp):
    srv = rep.watch(L.Server(exe, tmp, tls=False, name="sqlite"))
    srv.start()
    r, doc = health(srv)
    rep.check(r.status == 200 and doc == {"status": "ok"}, "health: 200 status ok", r.short())
    r, doc = health(srv, "?db=1")
    rep.check(r.status == 200 and doc == {"status": "ok", "database": "ok"},
              "health?db=1 on SQLite: the database answers", r.short())

    try:
        pg = S.PgCluster()
    except S.Unavailable as e:
        print("# skip (the PostgreSQL part): %s" % e)
        return
    pg.start()
    url = pg.create_database("health")
    a = rep.watch(S.PgServer(exe, tmp, pg, url, name="pg", tls=False))
    token = a.add_user("alice")
    a.start()
    r, doc = health(a, "?db=1")
    rep.check(r.status == 200 and doc == {"status": "ok", "database": "ok"},
              "health?db=1 on PostgreSQL: the database answers", r.short())

    pg.halt()
    r, doc = health(a, "?db=1")
    rep.check(r.status == 503 and doc and doc.get("status") == "unavailable"
              and doc.get("database") not in (None, "ok") and r.header("Retry-After"),
              "PostgreSQL down: health?db=1 is 503 with Retry-After and the reason", r.short())
    rep.note("PostgreSQL down: %s" % r.short())
    r, doc = health(a)
    rep.check(r.status == 200 and doc == {"status": "ok"},
              "PostgreSQL down: the plain health check (process alive) is still 200", r.short())

    pg.resume()
    deadline = time.monotonic() + 20
    while True:
        r, doc = health(a, "?db=1")
        if r.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    rep.check(r.status == 200 and doc == {"status": "ok", "database": "ok"},
              "PostgreSQL back: health?db=1 is 200 again without restarting the server",
              r.short())
    # each server thread remakes its own connection on its next use: until then a request may
    # get 503 with Retry-After (safe to resend), as a client does
    deadline = time.monotonic() + 20
    while True:
        r = a.pb_call("POST", "/api/v1/experiments", L.create_experiment_req("after", "", None),
                      token)
        if r.status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    rep.check(r.status == 201, "PostgreSQL back: a write goes through (after 503 + Retry-After "
              "at most)", r.short())
    pg.stop()


if __name__ == "__main__":
    L.run_main("health checks", body)
