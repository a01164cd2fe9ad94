#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: the CI-sized reliability soak (tests/soak/).

Usage:  test_reliability.py TBDEV_EXE TBDEV_SERVER_EXE

Runs, each in its small mode:
  * tests/soak/crash_server.py: tbdev-server SIGKILLed 5 times during an upload (plain HTTP);
  * tests/soak/crash_uploader.py: `tbdev upload` SIGKILLed 5 times, resumed each time;
  * tests/soak/power_loss.py: tbdev-server-powerloss SIGKILLed 5 times during an upload, each
    time followed by a simulated power cut (unsynced writes dropped, torn or applied); its
    binary is TBDEV_POWERLOSS_SERVER_EXE, else ../tests/faults/ next to the server's folder;
  * tests/soak/secrets_audit.py: no secret in clear in the database, token/ID entropy,
    token revocation within 1 s;
  * tests/soak/slowloris.py: 500 trickling connections for 15 s while a client works;
  * tests/soak/load.py --small: 5 live uploaders and 20 viewers for 30 s: no 500 or
    SQLITE_BUSY reaches a client, the WAL stays under 512 MB, every uploader exits 0 on
    SIGINT, `tbdev-server check` ok.
The upload parts check acknowledged points lost 0, duplicates 0 (export equals source),
`tbdev-server check` ok, etc.; see each script's docstring. The soak sizes are the scripts'
defaults (run them by hand). TBDEV_RELIABILITY_SEED fixes the seed (printed).

Prints "ok - NAME" / "not ok - NAME: WHY" with each part's RESULT figures as a comment;
exits 0, 1, or 77 (skip: no /proc, i.e. not Linux).
"""

import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "soak"))

import uploader_lib as L  # noqa: E402


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE\n" % argv[0])
        return 2
    if not os.path.isdir("/proc/self"):
        print("# SKIP: needs Linux /proc")
        return L.SKIP
    tbdev, server_exe = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    rep = L.Reporter()
    if not L.check_exes(rep, tbdev, server_exe):
        return rep.finish()
    import crash_server
    import crash_uploader
    import load
    import power_loss
    import secrets_audit
    import slowloris
    import soak_lib as S
    seed = os.environ.get("TBDEV_RELIABILITY_SEED")
    seed = int(seed) if seed else random.SystemRandom().randrange(1 << 31)
    rep.note("TBDEV_RELIABILITY_SEED=%d" % seed)
    keep = L.keep_tmp()
    powerloss_exe = os.environ.get("TBDEV_POWERLOSS_SERVER_EXE") or os.path.join(
        os.path.dirname(server_exe), "..", "tests", "faults", "tbdev-server-powerloss")
    powerloss_exe = os.path.abspath(powerloss_exe)
    parts = [
        ("server SIGKILL x5: no acknowledged point lost, export equals source, check ok",
         crash_server, lambda: crash_server.run(tbdev, server_exe, 5, seed, True, keep)),
        ("uploader SIGKILL x5: no acknowledged point lost, export equals source, check ok",
         crash_uploader, lambda: crash_uploader.run(tbdev, server_exe, 5, seed, True, keep)),
        ("power loss x5: unsynced writes dropped/torn after SIGKILL, no acknowledged point "
         "lost, export equals source, check ok",
         power_loss, lambda: power_loss.run(tbdev, server_exe, powerloss_exe, 5, seed, True,
                                            keep)),
        ("secrets audit: nothing in clear, >=120-bit IDs and tokens, revocation < 1 s",
         secrets_audit, lambda: secrets_audit.run(tbdev, server_exe, seed, True, keep)),
        ("slowloris (500 connections, 15 s): >= 99.9% legitimate requests succeed",
         slowloris, lambda: slowloris.run(server_exe, 500, 15, seed, keep)),
        ("load (5 uploaders, 20 viewers, 30 s): no SQLITE_BUSY or 500 reaches a client, WAL "
         "bounded, integrity ok",
         load, lambda: load.run_small(tbdev, server_exe, seed, keep)),
    ]
    if L.on_postgres():
        rep.note("skip (SQLite only): power loss: its VFS drops and tears a SQLite file's "
                 "unsynced writes")
        parts = [p for p in parts if p[1] is not power_loss]
    t0 = time.monotonic()
    for name, mod, fn in parts:
        t = time.monotonic()
        try:
            ok, figures = fn()
            problems = getattr(mod.run, "problems", [])
        except Exception as e:  # noqa: BLE001
            ok, figures, problems = False, "", ["harness: %r" % e]
        rep.note(S.result(ok, figures) + " (%.0f s)" % (time.monotonic() - t))
        rep.check(name, None if ok else "; ".join(str(p) for p in problems)[:1500] or
                  "failed")
    rep.note("total %.0f s" % (time.monotonic() - t0))
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
