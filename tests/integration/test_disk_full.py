#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Disk full during ingest (BAD-INPUTS 30, Reliability scenario 4): the server answers 507,
stays up, keeps its data intact, and recovers fully once space is freed; the uploader waits
and loses nothing.

Part 1, "--max_db_bytes": the full disk is made with `--max_db_bytes` (SQLite's
max_page_count), which fails writes with SQLITE_FULL as a full file system does, without
needing a mount or root. Space is freed by restarting the server without the cap.

Part 2, "real full file system (tmpfs)": the database lives on a tmpfs of 64 MB, so SQLite
meets a real ENOSPC in its WAL / database / -shm writes. While `tbdev upload` runs, a
"ballast" file fills the file system to 0 bytes free (what a full disk looks like to an
admin); then: the uploader must meet 507 disk_full and wait, the server must stay up and keep
serving reads, a direct write must get 507 with Retry-After (never a 500), and
`tbdev-server check` must say ok. Deleting the ballast (what the admin does) must let the same
uploader finish, against the same server process, with an export equal to the logdir point
for point. Figures: DB+WAL bytes at the first 507, seconds from freeing to completion.
Then the same at the -shm boundary (shm_part): the first write the full disk refuses is the
growth of the -shm wal-index (SQLITE_IOERR_SHMSIZE); it must be a 507 too, never a 500.
As root the tmpfs is mounted directly (and always unmounted); otherwise part 2 re-executes
itself under `unshare -rm` (user + mount namespace), where the server, the uploader and the
checks all run; if neither can mount, part 2 is reported as skipped with the reason. Part 2
runs in a child process alongside part 1, so that the two Retry-After waits overlap.

Usage: test_disk_full.py TBDEV TBDEV_SERVER   (exit 0 pass, 1 fail, 77 skip)
       test_disk_full.py --tmpfs-part TBDEV TBDEV_SERVER   (part 2 only; needs mount rights)
       test_disk_full.py --shm-part TBDEV TBDEV_SERVER     (its -shm scenario only; idem)
Environment: TBDEV_KEEP_TMP=1 keeps the temporary folders.
"""
import errno
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uploader_lib as L  # noqa: E402
from test_upload_faults import Logdir, compare_export, sent_values  # noqa: E402

TMPFS_LABEL = "real full file system (tmpfs)"


# ---------------------------------------------------------------------------
# Part 1: --max_db_bytes (SQLITE_FULL from max_page_count).


def part_cap(rep, tbdev, server_exe):
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
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# Part 2: a real full file system (tmpfs + ballast file).


def _run(cmd, timeout=60):
    """(rc, stdout+stderr text); rc 127 when the command cannot be run."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 127, str(e)
    return p.returncode, p.stdout.decode("utf-8", "replace").strip()


def mount_tmpfs(path, size_bytes):
    return _run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % size_bytes,
                 "tmpfs", path])


def umount(path):
    """Unmounts path (lazily if it is still busy). Returns None, or why it failed."""
    rc, out = _run(["umount", path])
    if rc == 0:
        return None
    rc2, out2 = _run(["umount", "-l", path])
    return None if rc2 == 0 else "umount: %s; umount -l: %s" % (out, out2)


def mount_method():
    """How this process can mount a tmpfs: ("direct", "") as root, ("unshare", "") in a user
    + mount namespace made by `unshare -rm`, or (None, why not)."""
    probe = tempfile.mkdtemp(prefix="tbdev-mount-probe-")
    why = []
    try:
        if os.geteuid() == 0:
            rc, out = mount_tmpfs(probe, 1 << 20)
            if rc == 0:
                err = umount(probe)
                if err is None:
                    return "direct", ""
                why.append(err)
            else:
                why.append("mount as root failed: %s" % out[-200:])
        else:
            why.append("not root")
        if shutil.which("unshare"):
            rc, out = _run(["unshare", "-rm", "sh", "-c",
                            'mount -t tmpfs -o size=1m tmpfs "$1" && umount "$1"',
                            "sh", probe])
            if rc == 0:
                return "unshare", ""
            why.append("unshare -rm cannot mount a tmpfs: %s" % out[-200:])
        else:
            why.append("no unshare command")
        return None, "; ".join(why)
    finally:
        try:
            os.rmdir(probe)
        except OSError:
            pass


def fill_with_ballast(path):
    """Writes zeros to path until the file system says ENOSPC at every size down to one
    byte; returns the bytes written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    total = 0
    try:
        for chunk in (1 << 20, 64 << 10, 4096, 1):
            buf = bytes(chunk)
            while True:
                try:
                    n = os.write(fd, buf)
                except OSError as e:
                    if e.errno in (errno.ENOSPC, errno.EDQUOT):
                        break
                    raise
                total += n
                if n < chunk:
                    break
    finally:
        os.close(fd)
    return total


def free_bytes(path):
    sv = os.statvfs(path)
    return sv.f_bavail * sv.f_frsize


def file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def db_bytes(db):
    """(database, WAL, -shm) sizes in bytes."""
    return file_size(db), file_size(db + "-wal"), file_size(db + "-shm")


HTTP_RE = re.compile(r"\(HTTP (\d+)(?:, ([a-z_]+))?\)")


def write_probe(url, token, cacert):
    """POST /api/v1/experiments (a small write): (status, Retry-After, error code, message)."""
    body = L.f_bytes(1, "disk full probe")
    req = urllib.request.Request(url.rstrip("/") + "/api/v1/experiments", data=body,
                                 method="POST",
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/x-protobuf"})
    ctx = ssl.create_default_context(cafile=cacert)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, r.headers.get("Retry-After"), "", ""
    except urllib.error.HTTPError as e:
        data = e.read()
        code = msg = ""
        try:
            if "protobuf" in (e.headers.get("Content-Type") or ""):
                for fn, wt, v in L.fields(data):  # tbdev.v1.Error: code = 1, message = 2
                    if fn == 1 and wt == 2:
                        code = bytes(v).decode("utf-8", "replace")
                    elif fn == 2 and wt == 2:
                        msg = bytes(v).decode("utf-8", "replace")
            else:
                doc = json.loads(data.decode("utf-8"))
                code, msg = doc["error"]["code"], doc["error"]["message"]
        except (ValueError, KeyError, TypeError, L.DecodeError):
            msg = data[:300].decode("utf-8", "replace")
        return e.code, e.headers.get("Retry-After"), code, msg


def check_text(rc, out, err):
    return None if rc == 0 and "integrity_check: ok" in out else "exit %s: %s %s" % (
        rc, out.strip()[-300:], err.strip()[-300:])


def tmpfs_part(rep, tbdev, server_exe, size_mb=64, runs=8, steps=12000, images=8, cycles=1,
               seed=7, fill_at=0.2, keep=None, say=None):
    """Part 2, in a process that may mount (root, or inside `unshare -rm`). Reports through
    rep (check/note); returns a list of per-cycle figure dicts. Cycle 1 uploads a new logdir
    of runs x steps x 2 scalar points (+ `images` images); every further cycle appends as
    much again and resumes the same experiment. Each cycle fills the file system with the
    ballast once the uploader has been acknowledged fill_at (a fraction, or a list of one per
    cycle) of the cycle's values, and deletes it once the full-disk checks are done."""
    say = say or (lambda msg: None)
    keep = L.keep_tmp() if keep is None else keep
    name = TMPFS_LABEL
    tmp = L.make_tempdir("tbdev-diskfull-tmpfs-")
    mnt = os.path.join(tmp, "fs")
    os.mkdir(mnt)
    mounted = False
    server = None
    up = None
    figures = []
    try:
        rc, out = mount_tmpfs(mnt, size_mb << 20)
        if not rep.check("%s: mount a %d MB tmpfs" % (name, size_mb),
                         None if rc == 0 else "exit %s: %s" % (rc, out)):
            return figures
        mounted = True
        dbdir = os.path.join(mnt, "db")
        os.mkdir(dbdir)
        db = os.path.join(dbdir, "tbdev.db")
        ballast = os.path.join(mnt, "ballast")
        cert, key = L.make_cert(tmp)
        token = L.add_user(server_exe, db)
        server = L.Server(server_exe, tmp, db, cert, key, ["--request_bytes", str(64 << 10)])
        url = server.start()
        client = L.Client(tbdev, os.path.join(tmp, "home"), url=url, token=token, cacert=cert)
        api = L.Api(url, token, cert)
        logdir = Logdir(os.path.join(tmp, "logdir"), runs, seed)
        exp_id = None
        for cycle in range(1, cycles + 1):
            lab = "%s: cycle %d" % (name, cycle) if cycles > 1 else name
            fig = {"cycle": cycle}
            figures.append(fig)
            n_before = logdir.n_points()
            logdir.add(steps, images=images, new_file_every=2 if cycle > 1 else 0)
            n_new = logdir.n_points() - n_before
            fig["points"] = logdir.n_points()
            fa = fill_at[(cycle - 1) % len(fill_at)] if isinstance(fill_at, (list, tuple)) \
                else fill_at
            say("%s: logdir %d points (%d new), %.1f MB" % (
                lab, logdir.n_points(), n_new, logdir.bytes / 1e6))
            out_p = os.path.join(tmp, "up-%d.out" % cycle)
            err_p = os.path.join(tmp, "up-%d.err" % cycle)
            args = ["upload", "--logdir", logdir.root, "--one_shot"]
            args += ["--experiment_id", exp_id] if exp_id else ["--name", "real disk full"]
            up = client.popen(args, out_p, err_p)
            # Let the upload get going: the experiment exists and data is stored.
            deadline = time.monotonic() + 120
            acked = 0
            while time.monotonic() < deadline and up.poll() is None:
                acked, _ = sent_values(err_p)
                if not exp_id:
                    exp_id = L.experiment_id_of(L.tail_text(out_p, 1 << 20))
                if exp_id and acked >= fa * n_new:
                    break
                time.sleep(0.02)
            if not rep.check("%s: the upload is under way before the disk fills" % lab,
                             None if up.poll() is None and exp_id and acked > 0 else
                             "uploader %s, %d values acknowledged, experiment %s: %s" % (
                                 "exited %s" % up.returncode if up.poll() is not None
                                 else "running", acked, exp_id,
                                 L.tail_text(err_p, 400))):
                break
            # Fill the file system.
            t_fill = time.monotonic()
            fig["ballast_bytes"] = fill_with_ballast(ballast)
            fig["free_after_fill"] = free_bytes(mnt)
            fig["acked_at_fill"] = acked
            rep.check("%s: the ballast fills the file system (0 bytes free)" % lab,
                      None if fig["free_after_fill"] == 0 else
                      "%d bytes still free" % fig["free_after_fill"])
            # The first SQLITE_FULL (the server logs it before answering 507).
            first_full = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and up.poll() is None:
                if "the disk is full" in L.tail_text(server.err_path, 1 << 22):
                    first_full = time.monotonic()
                    fig["db"], fig["wal"], fig["shm"] = db_bytes(db)
                    break
                time.sleep(0.02)
            # ... and the uploader's stderr reporting the 507.
            err = ""
            while time.monotonic() < deadline and up.poll() is None:
                err = L.tail_text(err_p, 1 << 22)
                if "disk is full" in err:
                    break
                time.sleep(0.05)
            if first_full is not None:
                fig["secs_to_first_full"] = first_full - t_fill
            statuses = sorted({int(m.group(1)) for m in HTTP_RE.finditer(err)})
            fig["statuses"] = statuses
            lines = [ln for ln in err.splitlines() if "disk is full" in ln]
            rep.check("%s: writes get 507 disk_full with a clear message, and the uploader "
                      "waits" % lab,
                      None if lines and "(HTTP 507, disk_full)" in lines[0] and
                      "retrying in" in lines[0] and up.poll() is None else
                      "uploader %s; server saw the full disk: %s; stderr: %s" % (
                          "exited %s" % up.returncode if up.poll() is not None else "running",
                          first_full is not None, err[-600:]))
            if lines:
                rep.note("%s: uploader: %s" % (lab, lines[0].strip()[:300]))
            rep.check("%s: no other HTTP errors than 507/503 on the full disk" % lab,
                      None if set(statuses) <= {503, 507} else
                      "statuses %s: %s" % (statuses, err[-600:]))
            # A direct write: 507 with Retry-After (or 201 if it still fits in the WAL).
            st, ra, code, msg = write_probe(url, token, cert)
            fig["probe"] = st
            rep.check("%s: a direct write gets 507 disk_full with Retry-After" % lab,
                      None if (st == 507 and code == "disk_full" and ra and
                               "disk is full" in msg) or st == 201 else
                      "HTTP %s, Retry-After %s, code %r: %s" % (st, ra, code, msg))
            if st == 507:
                rep.note("%s: direct write: HTTP 507, Retry-After: %s, %s: %s" % (
                    lab, ra, code, msg))
            elif st == 201:
                rep.note("%s: the direct write still fitted in allocated space (201)" % lab)
            # The server stays up and keeps serving reads.
            rep.check("%s: the server stays up (same process)" % lab,
                      None if server.alive() and server.starts == 1 else
                      "exit %s: %s" % (server.proc.poll() if server.proc else None,
                                       L.tail_text(server.err_path, 600)))
            why = []
            try:
                for path, params in (("/api/v1/health", None),
                                     ("/api/v1/experiments/%s" % exp_id, None),
                                     ("/api/v1/experiments/%s/runs" % exp_id, None),
                                     ("/api/v1/experiments/%s/tags" % exp_id, None),
                                     ("/api/v1/experiments/%s/scalars" % exp_id,
                                      {"tag": "loss"})):
                    status, body = api.get(path, params)
                    if status != 200:
                        why.append("%s: HTTP %s %s" % (path, status, body[:200]))
                stored = sum(r.get("points", 0) for r in api.runs(exp_id))
                fig["stored_while_full"] = stored
                series = api.scalars(exp_id, "loss")
                n_loss = sum(len(v) for v in series.values())
                if not (0 < stored < logdir.n_points()) or not n_loss:
                    why.append("stored %d of %d points, %d loss points readable" % (
                        stored, logdir.n_points(), n_loss))
            except Exception as e:  # noqa: BLE001
                why.append(repr(e))
            rep.check("%s: reads (experiment, runs, tags, scalars) work while full" % lab,
                      "; ".join(why) if why else None)
            # The database is intact while full.
            rc, cout, cerr = L.server_check(server_exe, db)
            check_full = check_text(rc, cout, cerr)
            check_enospc = check_full and re.search(r"full|No space|ENOSPC", cout + cerr)
            if check_enospc:
                rep.note("%s: tbdev-server check could not run on the full disk (%s); it runs "
                         "again after freeing" % (lab, check_full))
            else:
                rep.check("%s: tbdev-server check says ok while full" % lab, check_full)
            time.sleep(1.0)
            rep.check("%s: the uploader is still waiting, not failed" % lab,
                      None if up.poll() is None else "exit %s: %s" % (
                          up.returncode, L.tail_text(err_p, 600)))
            fig["full_secs"] = time.monotonic() - t_fill
            # Free the space, as an admin would.
            os.unlink(ballast)
            t_free = time.monotonic()
            say("%s: ballast deleted; waiting for the uploader" % lab)
            try:
                up.wait(timeout=240)
            except subprocess.TimeoutExpired:
                pass
            fig["recover_secs"] = time.monotonic() - t_free
            err = L.tail_text(err_p, 1 << 22)
            fig["retries_full"] = len([ln for ln in err.splitlines()
                                       if "disk is full" in ln and "retrying in" in ln])
            rep.check("%s: the same uploader finishes once the ballast is deleted (exit 0)" %
                      lab, None if up.returncode == 0 else "%s; stderr %s" % (
                          "exit %s" % up.returncode if up.returncode is not None
                          else "still running after 240 s", err[-800:]))
            rep.check("%s: recovery without restarting the server" % lab,
                      None if server.alive() and server.starts == 1 else
                      L.tail_text(server.err_path, 600))
            compare_export(rep, lab, client, exp_id, logdir, tmp, api)
            rc, cout, cerr = L.server_check(server_exe, db)
            rep.check("%s: tbdev-server check says ok after recovery" % lab,
                      check_text(rc, cout, cerr))
            fig["db_end"], fig["wal_end"], _ = db_bytes(db)
            rep.note("%s: first 507 %.2f s after the fill, DB %d + WAL %d = %d bytes (-shm %d), "
                     "ballast %d bytes, %d values acknowledged before; uploader waited %d "
                     "times; upload done %.1f s after freeing the space" % (
                         lab, fig.get("secs_to_first_full", float("nan")), fig.get("db", 0),
                         fig.get("wal", 0), fig.get("db", 0) + fig.get("wal", 0),
                         fig.get("shm", 0), fig["ballast_bytes"], fig["acked_at_fill"],
                         fig["retries_full"], fig["recover_secs"]))
            up = None
        if server is not None:
            rc = server.stop()
            rep.check("%s: SIGTERM exits 0" % name, None if rc == 0 else "exit %s: %s" % (
                rc, L.tail_text(server.err_path, 600)))
            server = None
            rc, cout, cerr = L.server_check(server_exe, db)
            rep.check("%s: tbdev-server check ok after the server stopped" % name,
                      check_text(rc, cout, cerr))
        L.check_sanitizers(rep, tmp)
    except Exception as e:  # noqa: BLE001
        import traceback
        rep.check("%s: test harness" % name, "%s\n%s" % (e, traceback.format_exc()[-1500:]))
    finally:
        if up is not None and up.poll() is None:
            up.kill()
            up.wait()
        if server is not None:
            server.kill()
        if mounted:
            why = umount(mnt)
            rep.check("%s: unmount the tmpfs" % name, why)
        if keep:
            rep.note("kept %s" % tmp)
        elif not mounted or not os.path.ismount(mnt):
            shutil.rmtree(tmp, ignore_errors=True)
    return figures


SHM_LABEL = "full file system at the -shm boundary"
WAL_FRAMES_REGION0 = 4062  # frames the first 32 KiB of the -shm index; frame 4063 grows it


def wal_page_size(wal):
    with open(wal, "rb") as f:
        hdr = f.read(32)
    return int.from_bytes(hdr[8:12], "big") if len(hdr) == 32 else 0


def shm_part(rep, tbdev, server_exe, size_mb=64, keep=None, say=None):
    """The full disk met first by the -shm file: SQLite grows the wal-index (-shm) by one
    32 KiB region per 4096 WAL frames, writing to it; on a full disk that fails as
    SQLITE_IOERR_SHMSIZE, not SQLITE_FULL. To get there deterministically, the WAL file is
    made longer than its valid frames (zeros past them, as SQLite itself leaves a WAL after a
    restart) while the server is down; the restarted server sizes the -shm for the valid
    frames only, the ballast fills the file system, and the upload goes on writing WAL frames
    into the already allocated space until frame 4063 needs a second -shm region. The
    answer must be 507 disk_full (it was a 500 "internal" before store_sqlite.c mapped
    SQLITE_IOERR_SHMSIZE to ENOSPC). Then the ballast is deleted and a resumed upload must
    complete with exact data."""
    say = say or (lambda msg: None)
    keep = L.keep_tmp() if keep is None else keep
    name = SHM_LABEL
    tmp = L.make_tempdir("tbdev-diskfull-shm-")
    mnt = os.path.join(tmp, "fs")
    os.mkdir(mnt)
    mounted = False
    server = None
    up = None
    fig = {}
    try:
        rc, out = mount_tmpfs(mnt, size_mb << 20)
        if not rep.check("%s: mount a %d MB tmpfs" % (name, size_mb),
                         None if rc == 0 else "exit %s: %s" % (rc, out)):
            return fig
        mounted = True
        db = os.path.join(mnt, "tbdev.db")
        wal = db + "-wal"
        ballast = os.path.join(mnt, "ballast")
        cert, key = L.make_cert(tmp)
        token = L.add_user(server_exe, db)
        server = L.Server(server_exe, tmp, db, cert, key, ["--request_bytes", str(64 << 10)])
        url = server.start()
        port = server.port
        client = L.Client(tbdev, os.path.join(tmp, "home"), url=url, token=token, cacert=cert)
        api = L.Api(url, token, cert)
        # Mostly images: WAL frames fast. 24 runs x 30 images of 20-30 KB (~18 MB), which
        # is more than the ~16.7 MB of WAL frames up to the -shm boundary.
        logdir = Logdir(os.path.join(tmp, "logdir"), 24, 5)
        for _ in range(30):
            logdir.add(20, images=24)
        out_p, err_p = os.path.join(tmp, "up-1.out"), os.path.join(tmp, "up-1.err")
        up = client.popen(["upload", "--logdir", logdir.root, "--one_shot", "--name", "shm"],
                          out_p, err_p)
        exp_id = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and up.poll() is None:
            exp_id = exp_id or L.experiment_id_of(L.tail_text(out_p, 1 << 20))
            if exp_id and sent_values(err_p)[0] > 0:
                break
            time.sleep(0.02)
        if not rep.check("%s: the upload is under way" % name,
                         None if exp_id and up.poll() is None else
                         "uploader %s: %s" % (up.poll(), L.tail_text(err_p, 400))):
            return fig
        # Freeze the uploader, crash the server, and lengthen its WAL with zeros.
        up.send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        server.kill()
        page = wal_page_size(wal)
        frame = 24 + page
        valid = (file_size(wal) - 32) // frame if page else 0
        target = 32 + (WAL_FRAMES_REGION0 + 300) * frame
        with open(wal, "ab") as f:
            f.write(bytes(max(0, target - file_size(wal))))
        fig["valid_frames"] = valid
        server.start(port=port, attempts=20)
        _, _, shm = db_bytes(db)
        if not rep.check("%s: the restarted server's -shm indexes only the valid frames" % name,
                         None if page == 4096 and valid < WAL_FRAMES_REGION0 - 1000 and
                         shm <= 32768 and file_size(wal) >= target else
                         "page %d, %d valid frames, WAL %d bytes, -shm %d bytes" % (
                             page, valid, file_size(wal), shm)):
            return fig
        fill_with_ballast(ballast)
        fig["free_after_fill"] = free_bytes(mnt)
        up.send_signal(signal.SIGCONT)
        # Wait for the first failed write.
        deadline = time.monotonic() + 90
        err = ""
        while time.monotonic() < deadline and up.poll() is None:
            err = L.tail_text(err_p, 1 << 22)
            if HTTP_RE.search(err):
                break
            time.sleep(0.05)
        log = L.tail_text(server.err_path, 1 << 22)
        fig["wal_frames"] = (file_size(wal) - 32) // frame
        fig["shm"] = db_bytes(db)[2]
        statuses = sorted({int(m.group(1)) for m in HTTP_RE.finditer(err)})
        fig["statuses"] = statuses
        rep.note("%s: %d valid WAL frames at the crash, WAL lengthened to %d frames; first "
                 "failure with -shm %d bytes; statuses %s; server: %s" % (
                     name, valid, (target - 32) // frame, fig["shm"], statuses,
                     "; ".join(ln.split("] ")[-1] for ln in log.splitlines()
                               if "sqlite" in ln)[:300]))
        reached = "-shm file cannot grow" in log or "SHMSIZE" in log or "disk I/O" in log
        rep.check("%s: the upload reached the -shm boundary on the full disk" % name,
                  None if reached else "server log: %s; uploader: %s" % (log[-400:],
                                                                        err[-400:]))
        lines = [ln for ln in err.splitlines() if HTTP_RE.search(ln)]
        rep.check("%s: the write gets 507 disk_full (not 500), and the uploader waits" % name,
                  None if statuses == [507] and "(HTTP 507, disk_full)" in err and
                  up.poll() is None else "statuses %s, uploader %s: %s" % (
                      statuses, up.poll(), lines[0][:300] if lines else err[-400:]))
        try:
            stored = sum(r.get("points", 0) for r in api.runs(exp_id))
            rep.check("%s: the server stays up and serves reads" % name,
                      None if server.alive() and stored > 0 else "stored %d" % stored)
        except Exception as e:  # noqa: BLE001
            rep.check("%s: the server stays up and serves reads" % name, repr(e))
        # Free the space; a resumed upload (no Retry-After wait) completes exactly.
        os.unlink(ballast)
        up.kill()
        up.wait()
        up = None
        rc, cout, cerr = client.run(["upload", "--logdir", logdir.root, "--one_shot",
                                     "--experiment_id", exp_id], timeout=300)
        rep.check("%s: once the ballast is deleted a resumed upload completes" % name,
                  None if rc == 0 else "exit %s: %s" % (rc, cerr[-600:]))
        compare_export(rep, name, client, exp_id, logdir, tmp, api)
        rc = server.stop()
        server = None
        rc2, cout, cerr = L.server_check(server_exe, db)
        rep.check("%s: SIGTERM exits 0 and tbdev-server check says ok" % name,
                  None if rc == 0 and not check_text(rc2, cout, cerr) else
                  "exit %s; %s" % (rc, check_text(rc2, cout, cerr)))
        L.check_sanitizers(rep, tmp)
    except Exception as e:  # noqa: BLE001
        import traceback
        rep.check("%s: test harness" % name, "%s\n%s" % (e, traceback.format_exc()[-1500:]))
    finally:
        if up is not None and up.poll() is None:
            up.send_signal(signal.SIGCONT)
            up.kill()
            up.wait()
        if server is not None:
            server.kill()
        if mounted:
            rep.check("%s: unmount the tmpfs" % name, umount(mnt))
        if keep:
            rep.note("kept %s" % tmp)
        elif not mounted or not os.path.ismount(mnt):
            shutil.rmtree(tmp, ignore_errors=True)
    return fig


def _term_to_exit(signum, frame):
    raise SystemExit(128 + signum)


def tmpfs_child(tbdev, server_exe):
    """`--tmpfs-part`: part 2 alone, printing ok / not ok lines."""
    signal.signal(signal.SIGTERM, _term_to_exit)
    rep = L.Reporter()
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    tmpfs_part(rep, tbdev, server_exe)
    shm_part(rep, tbdev, server_exe)
    return rep.finish()


def start_tmpfs_child(tbdev, server_exe, method, out_path):
    cmd = [sys.executable, os.path.abspath(__file__), "--tmpfs-part", tbdev, server_exe]
    if method == "unshare":
        cmd = ["unshare", "-rm"] + cmd
    with open(out_path, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def relay_child(rep, proc, out_path, method):
    """Waits for the part 2 child and copies its lines into this report."""
    try:
        rc = proc.wait(timeout=500)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        rc = "timeout"
    with open(out_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    rep.note("%s (%s):" % (TMPFS_LABEL, "mounted as root" if method == "direct"
                           else "inside unshare -rm"))
    n = 0
    for line in text.splitlines():
        if line.startswith("ok - "):
            rep.n += 1
            n += 1
            print(line)
        elif line.startswith("not ok - "):
            rep.n += 1
            n += 1
            rep.failed += 1
            rep.failures.append(line[len("not ok - "):].split(":")[0][:80])
            print(line)
        elif re.match(r"^1\.\.\d+$", line):
            continue
        elif line.startswith("#"):
            print(line)
        elif line.strip():
            print("# | " + line)
    sys.stdout.flush()
    if rc == L.SKIP and n == 0:
        rep.note("SKIP %s: the child skipped" % TMPFS_LABEL)
    elif rc not in (0, 1) or n == 0:
        rep.check("%s: the part ran to its end" % TMPFS_LABEL,
                  "exit %s after %d checks: %s" % (rc, n, text[-800:]))


def main(argv):
    if len(argv) == 4 and argv[1] == "--tmpfs-part":
        return tmpfs_child(os.path.abspath(argv[2]), os.path.abspath(argv[3]))
    if len(argv) == 4 and argv[1] == "--shm-part":  # for debugging: the -shm scenario alone
        signal.signal(signal.SIGTERM, _term_to_exit)
        rep = L.Reporter()
        shm_part(rep, os.path.abspath(argv[2]), os.path.abspath(argv[3]))
        return rep.finish()
    if len(argv) != 3:
        sys.stderr.write("usage: %s [--tmpfs-part] TBDEV TBDEV_SERVER\n" % argv[0])
        return 2
    tbdev, server_exe = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    if L.on_postgres():
        print("# SKIP: SQLite only: --max_db_bytes is SQLite's max_page_count, and part 2 fills "
              "the file system under a SQLite file and its WAL (PostgreSQL's 53100 disk_full "
              "maps to the same 507 in store_pg.c, untested here)")
        return L.SKIP
    signal.signal(signal.SIGTERM, _term_to_exit)
    rep = L.Reporter()
    method, why = mount_method()
    child = None
    child_out = None
    try:
        if method:
            fd, child_out = tempfile.mkstemp(prefix="tbdev-diskfull-tmpfs-", suffix=".out")
            os.close(fd)
            child = start_tmpfs_child(tbdev, server_exe, method, child_out)
        rep.note("part 1: --max_db_bytes")
        part_cap(rep, tbdev, server_exe)
        rep.note("part 2: %s" % TMPFS_LABEL)
        if child is not None:
            relay_child(rep, child, child_out, method)
        else:
            rep.note("SKIP %s: %s" % (TMPFS_LABEL, why))
    finally:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)  # it unmounts on its way out
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if child_out:
            try:
                os.unlink(child_out)
            except OSError:
                pass
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
