#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Disk full during ingest (BAD-INPUTS 30): the server answers 507, stays up, keeps its data
intact, and recovers fully once space is freed; the uploader waits and loses nothing.

The full disk is made with `--max_db_bytes` (SQLite's max_page_count), which fails writes with
SQLITE_FULL exactly as a full file system does, without needing a loop device or root.

Usage: test_disk_full.py TBDEV TBDEV_SERVER   (exit 0 pass, 1 fail, 77 skip)
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uploader_lib as L  # noqa: E402
from test_upload_faults import Logdir, compare_export  # noqa: E402


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s TBDEV TBDEV_SERVER\n" % argv[0])
        return 2
    tbdev, server_exe = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    rep = L.Reporter()
    tmp = L.make_tempdir("tbdev-diskfull-")
    server = None
    up = None
    try:
        cert, key = L.make_cert(tmp)
        db = os.path.join(tmp, "tbdev.db")
        token = L.add_user(server_exe, db)
        logdir = Logdir(os.path.join(tmp, "logdir"), 6, 11)
        logdir.add(4000, images=3)
        cap = 1 << 20  # the database may hold 1 MiB: the upload needs several times more
        server = L.Server(server_exe, tmp, db, cert, key,
                          ["--max_db_bytes", str(cap), "--request_bytes", str(64 << 10)])
        url = server.start()
        port = server.port
        client = L.Client(tbdev, os.path.join(tmp, "home"), url=url, token=token, cacert=cert)
        api = L.Api(url, token, cert)
        up = client.popen(["upload", "--logdir", logdir.root, "--one_shot", "--name", "full"],
                          os.path.join(tmp, "up.out"), os.path.join(tmp, "up.err"))
        # Wait for the uploader to meet the full disk and start retrying.
        deadline = time.monotonic() + 60
        err = ""
        while time.monotonic() < deadline:
            err = L.tail_text(os.path.join(tmp, "up.err"), 1 << 20)
            if "disk is full" in err or up.poll() is not None:
                break
            time.sleep(0.2)
        rep.check("the uploader meets 507 disk_full and waits instead of failing",
                  None if "disk is full" in err and up.poll() is None
                  else "uploader %s; stderr: %s" % (
                      "exited %s" % up.returncode if up.poll() is not None else "running",
                      err[-600:]))
        log = L.tail_text(server.err_path, 1 << 20)
        rep.check("the server logs the full disk once per failed commit, and stays up",
                  None if "disk is full" in log and server.alive() else log[-600:])
        # Reads and the health endpoint still work while full.
        try:
            status, _ = api.get("/api/v1/health")
            rep.check("health answers while the disk is full",
                      None if status == 200 else "HTTP %s" % status)
        except Exception as e:  # noqa: BLE001
            rep.check("health answers while the disk is full", repr(e))
        out = L.tail_text(os.path.join(tmp, "up.out"), 1 << 20)
        exp_id = L.experiment_id_of(out)
        if exp_id:
            try:
                stored = sum(r.get("points", 0) for r in api.runs(exp_id))
                rep.check("some data was stored before the disk filled, and is readable",
                          None if 0 < stored < logdir.n_points() else
                          "stored %d of %d points" % (stored, logdir.n_points()))
            except Exception as e:  # noqa: BLE001
                rep.check("reads work while the disk is full", repr(e))
        else:
            rep.check("the upload printed its experiment ID", out[-300:])
        rc, cout, cerr = L.server_check(server_exe, db)
        rep.check("integrity_check ok while full (the failed commits were rolled back)",
                  None if rc == 0 and "integrity_check: ok" in cout else cout + cerr)
        # Free the space: restart the server without the cap on the same port.
        rc = server.stop()
        rep.check("SIGTERM on a full server exits 0", None if rc == 0 else "exit %s" % rc)
        server = L.Server(server_exe, tmp, db, cert, key, ["--request_bytes", str(64 << 10)])
        server.start(port=port, attempts=20)
        try:
            up.wait(timeout=240)
        except Exception:  # noqa: BLE001
            pass
        rep.check("the same uploader finishes once space is free (exit 0)",
                  None if up.returncode == 0 else "exit %s; stderr %s" % (
                      up.returncode, L.tail_text(os.path.join(tmp, "up.err"), 800)))
        if exp_id:
            compare_export(rep, "after recovery", client, exp_id, logdir, tmp, api)
        rc, cout, cerr = L.server_check(server_exe, db)
        rep.check("integrity_check ok after recovery",
                  None if rc == 0 and "integrity_check: ok" in cout else cout + cerr)
    except Exception as e:  # noqa: BLE001
        import traceback
        rep.check("test harness", "%s\n%s" % (e, traceback.format_exc()[-1500:]))
    finally:
        if up is not None and up.poll() is None:
            up.kill()
            up.wait()
        if server is not None:
            server.kill()
        if not L.keep_tmp():
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
