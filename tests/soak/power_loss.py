#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Soak: power cuts simulated on tbdev-server's database during an upload, N times.

    python3 tests/soak/power_loss.py [--rounds 200] [--small] [--self_test] [--seed S] [--keep]
                                     [--tbdev PATH] [--server PATH] [--powerloss_server PATH]

As tests/soak/crash_server.py (plain HTTP, --request_bytes 32 KiB, one `tbdev upload
--one_shot`, a SIGKILL 0-60 ms after an acknowledged request), but the server is
tbdev-server-powerloss (tests/faults/powerloss_vfs.c): its SQLite VFS logs every write and
truncate of the database and WAL to "<file>-plog", with the bytes replaced, and marks which
records each fsync made durable. After each SIGKILL, before the restart, the power cut:
  * in each file, every record after the durable point is undone, newest first;
  * then, oldest first, each of those writes is dropped, applied whole or torn (a random
    subset of its 512-byte sectors), and each truncate applied with probability 1/2;
  * the logs and the -shm file are deleted.
See tests/faults/README.md for the model and its limits.

Checked:
  * acknowledged points are never lost: after every restart, the server's stored point count
    >= what the uploaders had been acknowledged before the kill;
  * `tbdev-server check --db DB` (the normal binary) says ok after every restart;
  * the uploader retries through every crash (exits 0);
  * at the end `tbdev export` equals the source logdir: lost 0, duplicates 0; then one more
    kill and cut, and every point must still be there; a SIGTERM stop exits 0; check ok;
  * the simulation bit: at least one kill undid a non-durable WAL or database record (else
    FAIL, "the VFS logged nothing"). --self_test (implied by --small) first kills the server
    while a WAL log holds records, until a cut undoes at least one (at most 30 tries), after
    checking the simulator against itself (undo gives the synced bytes back, redo the final).

Ends with one line `RESULT: PASS ...` or `RESULT: FAIL ...`; exit 0 / 1.
--small (or TBDEV_SOAK_SMALL=1) is the CI size: 5 rounds unless --rounds is given, less data.
"""

import glob
import os
import random
import shutil
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_lib as S  # noqa: E402
from soak_lib import L  # noqa: E402
import crash_server  # noqa: E402  (the kill loop)

SECTOR = 512
PLOG = "-plog"


def default_powerloss_exe(server_exe):
    """env TBDEV_POWERLOSS_SERVER_EXE, else <builddir>/tests/faults/tbdev-server-powerloss."""
    env = os.environ.get("TBDEV_POWERLOSS_SERVER_EXE")
    if env:
        return env
    builddir = os.path.dirname(os.path.dirname(os.path.abspath(server_exe)))
    return os.path.join(builddir, "tests", "faults", "tbdev-server-powerloss")


# --- the power cut ---

def parse_plog(data):
    """(records, durable_pos, torn_tail): records are (pos, kind, fields); the last record
    may be cut short by the SIGKILL (its real write never started), then torn_tail is True."""
    recs = []
    durable = 0
    i, n = 0, len(data)
    while i < n:
        kind = data[i:i + 1]
        if kind == b"W":
            if i + 25 > n:
                return recs, durable, True
            off, ln, old_size, old_len = struct.unpack_from("<QIQI", data, i + 1)
            end = i + 25 + old_len + ln
            if end > n:
                return recs, durable, True
            old = data[i + 25:i + 25 + old_len]
            new = data[i + 25 + old_len:end]
            recs.append((i, "W", (off, ln, old_size, old, new)))
        elif kind == b"T":
            if i + 21 > n:
                return recs, durable, True
            new_size, old_size, old_len = struct.unpack_from("<QQI", data, i + 1)
            end = i + 21 + old_len
            if end > n:
                return recs, durable, True
            recs.append((i, "T", (new_size, old_size, data[i + 21:end])))
        elif kind == b"S":
            if i + 9 > n:
                return recs, durable, True
            # Syncs can finish out of order: the highest position counts.
            durable = max(durable, struct.unpack_from("<Q", data, i + 1)[0])
            end = i + 9
        else:
            raise ValueError("bad record type %r at %d" % (kind, i))
        i = end
    return recs, durable, False


def undo(fd, pending):
    """Takes the file back to its state before pending (records, oldest first)."""
    for k, v in reversed(pending):
        if k == "W":
            off, ln, old_size, old, _ = v
            if old:
                os.pwrite(fd, old, off)
            if off + ln > old_size:
                os.ftruncate(fd, old_size)
        else:
            new_size, old_size, old = v
            os.ftruncate(fd, old_size)
            if old:
                os.pwrite(fd, old, new_size)


def apply(fd, k, v):
    """Does one logged operation whole."""
    if k == "W":
        os.pwrite(fd, v[4], v[0])
    else:
        os.ftruncate(fd, v[0])


def self_check_model(rng, folder, n=300):
    """The simulator against itself: random writes and truncates logged as the VFS logs them,
    with syncs; undoing what follows the last sync must give the synced bytes back, and
    redoing it all the final bytes. Returns a problem or None."""
    path = os.path.join(folder, "model.bin")
    data = bytearray(rng.randbytes(rng.randrange(0, 20000)))
    with open(path, "wb") as f:
        f.write(data)
    log = bytearray()
    synced = bytes(data)
    for _ in range(n):
        r = rng.random()
        if r < 0.7:
            off = rng.randrange(0, len(data) + 3000)
            new = rng.randbytes(rng.randrange(1, 5000))
            old = bytes(data[off:off + len(new)])
            log += b"W" + struct.pack("<QIQI", off, len(new), len(data), len(old)) + old + new
            if off > len(data):
                data.extend(bytes(off - len(data)))
            data[off:off + len(new)] = new
        elif r < 0.85:
            size = rng.randrange(0, len(data) + 2000)
            old = bytes(data[size:])
            log += b"T" + struct.pack("<QQI", size, len(data), len(old)) + old
            del data[size:]
            data.extend(bytes(max(0, size - len(data))))
        else:
            log += b"S" + struct.pack("<Q", len(log))
            synced = bytes(data)
    final = bytes(data)
    recs, durable, torn_tail = parse_plog(bytes(log) + b"W\x01")
    pending = [(k, v) for pos, k, v in recs if pos >= durable]
    fd = os.open(path, os.O_RDWR)
    try:
        for k, v in (kv[1:] for kv in recs):
            apply(fd, k, v)
        if os.pread(fd, len(final) + 1, 0) != final:
            return "simulator self-check: replaying the log does not give the final bytes"
        undo(fd, pending)
        if os.pread(fd, len(synced) + 1, 0) != synced:
            return "simulator self-check: undoing the unsynced records does not give the " \
                   "synced bytes"
        for k, v in pending:
            apply(fd, k, v)
        if os.pread(fd, len(final) + 1, 0) != final:
            return "simulator self-check: redoing the unsynced records does not give the " \
                   "final bytes"
    finally:
        os.close(fd)
        os.unlink(path)
    if not torn_tail:
        return "simulator self-check: a cut-short last record was not seen"
    return None


def file_kind(path):
    if path.endswith("-wal"):
        return "wal"
    if path.endswith("-journal"):
        return "journal"
    return "db"


def power_cut(folder, rng):
    """Takes the logged files in folder back to a state a power cut could leave, deletes the
    logs and -shm files; returns a dict of counts."""
    st = {"undone": 0, "undone_wal": 0, "undone_db": 0, "dropped": 0, "torn": 0,
          "applied": 0, "trunc_applied": 0, "trunc_dropped": 0, "durable": 0, "torn_tail": 0}
    for lp in sorted(glob.glob(os.path.join(folder, "*" + PLOG))):
        path = lp[:-len(PLOG)]
        with open(lp, "rb") as f:
            data = f.read()
        os.unlink(lp)
        if not os.path.exists(path):
            continue  # deleted by SQLite: nothing to take back
        recs, durable, torn_tail = parse_plog(data)
        st["torn_tail"] += torn_tail
        pending = [(k, v) for pos, k, v in recs if pos >= durable]
        st["durable"] += len(recs) - len(pending)
        if not pending:
            continue
        kind = file_kind(path)
        fd = os.open(path, os.O_RDWR)
        try:
            undo(fd, pending)
            st["undone"] += len(pending)
            st["undone_" + kind] = st.get("undone_" + kind, 0) + len(pending)
            for k, v in pending:  # what the disk happened to write before the cut
                if k == "T":
                    if rng.random() < 0.5:
                        apply(fd, k, v)
                        st["trunc_applied"] += 1
                    else:
                        st["trunc_dropped"] += 1
                    continue
                off, ln, _, _, new = v
                fate = rng.randrange(3)
                if fate == 0:
                    st["dropped"] += 1
                elif fate == 1:
                    apply(fd, k, v)
                    st["applied"] += 1
                else:
                    # sectors at absolute 512-byte boundaries; each one written or not
                    cuts = [off] + list(range((off // SECTOR + 1) * SECTOR, off + ln, SECTOR))
                    cuts.append(off + ln)
                    chosen = [(a, b) for a, b in zip(cuts, cuts[1:]) if rng.random() < 0.5]
                    for a, b in chosen:
                        os.pwrite(fd, new[a - off:b - off], a)
                    if not chosen:
                        st["dropped"] += 1
                    elif len(chosen) == len(cuts) - 1:
                        st["applied"] += 1
                    else:
                        st["torn"] += 1
        finally:
            os.close(fd)
    for shm in glob.glob(os.path.join(folder, "*-shm")):
        os.unlink(shm)
    return st


def wal_log_busy(folder):
    """True while some -wal-plog holds records (writes not yet made durable, mostly)."""
    for lp in glob.glob(os.path.join(folder, "*-wal" + PLOG)):
        try:
            if os.stat(lp).st_size > 0:
                return True
        except OSError:
            pass
    return False


class PowerLoss(crash_server.Variant):
    """crash_server.py's kill loop, on tbdev-server-powerloss, with a power cut after each
    kill (and a self-test's extra kills, which are not rounds)."""

    name = "power_loss"
    experiment_name = "soak power loss"

    def __init__(self, powerloss_exe, seed, self_test):
        self.exe = powerloss_exe
        self.cut_rng = random.Random(seed ^ 0x5EED)
        self.self_left = self.uncounted_kills = 30 if self_test else 0
        self.self_kills = 0
        self.self_test_ok = None
        self.bit = 0  # kills whose cut undid a WAL or database record
        self.totals = {}
        self.more_problems = []

    def serve_exe(self, server_exe):
        return self.exe

    def cut(self, tmp, tag, counts=True):
        c = power_cut(tmp, self.cut_rng)
        for k, v in c.items():
            self.totals[k] = self.totals.get(k, 0) + v
        if counts and c["undone_wal"] + c["undone_db"]:
            self.bit += 1
        S.log("power_loss: %s: undone %d (wal %d, db %d), dropped %d, torn %d, applied %d, "
              "truncates %d/%d applied, durable %d" % (
                  tag, c["undone"], c["undone_wal"], c["undone_db"], c["dropped"], c["torn"],
                  c["applied"], c["trunc_applied"], c["trunc_applied"] + c["trunc_dropped"],
                  c["durable"]))
        return c

    def wait_to_kill(self, rng, tmp):
        if self.self_left > 0:
            # the self-test: kill while the WAL's log holds records (between a commit's
            # writes and its fsync, mostly), so that the cut has something to undo
            until = time.monotonic() + 2.0
            while time.monotonic() < until and not wal_log_busy(tmp):
                time.sleep(0.0002)
            return False
        time.sleep(rng.uniform(0.0, 0.06))
        return True

    def after_kill(self, tmp, label, counted):
        if counted:
            self.cut(tmp, label)
            return
        self.self_kills += 1
        self.self_left -= 1
        c = self.cut(tmp, "self-test " + label)
        if c["undone_wal"] + c["undone_db"]:
            self.self_left = 0
            if self.self_test_ok is None:
                self.self_test_ok = True
        elif self.self_left == 0:
            self.self_test_ok = False
            self.more_problems.append("self-test: %d kills while the WAL log held records, "
                                      "and no cut undid anything" % self.self_kills)

    def before_final_check(self, server, tmp, port, token, exp_id, n_src, problems,
                           acked_violations):
        # a last cut: everything was acknowledged, so it all must survive
        self.cut(tmp, "final kill", False)
        if not exp_id:
            return
        try:
            server.start()
            stored = crash_server.stored_points(port, token, exp_id)
            if stored < n_src:
                acked_violations.append("after the final cut: server has %d points, %d were "
                                        "acknowledged" % (stored, n_src))
        except RuntimeError as e:
            problems.append("restart after the final cut: %s" % e)
        # a clean stop last (its TRUNCATE checkpoint and WAL delete go through the VFS, and
        # LeakSanitizer gets to run), then one more cut
        rc = server.stop()
        if rc != 0:
            problems.append("SIGTERM stop: exit %s: %s" % (rc, L.tail_text(server.err_path, 400)))
        self.cut(tmp, "after the clean stop", False)

    def problems(self, tmp):
        out = list(self.more_problems)
        if self.bit == 0:
            out.append("no cut undid a non-durable WAL or database record: the VFS logged "
                       "nothing")
        for ep in sorted(glob.glob(os.path.join(tmp, "server-*.err"))):
            text = L.tail_text(ep, 1 << 20)
            if "powerloss_vfs:" in text:
                out.append("%s: %s" % (os.path.basename(ep),
                                       text[text.index("powerloss_vfs:"):][:300]))
                break
        return out

    def figures(self):
        t = self.totals
        return ("self_test_kills=%d self_test=%s cuts_that_undid=%d unsynced_records=%d "
                "(wal %d, db %d) writes_dropped=%d writes_torn=%d writes_applied=%d "
                "truncates_applied=%d/%d " % (
                    self.self_kills, {None: "off", True: "ok", False: "FAILED"}[
                        self.self_test_ok], self.bit, t.get("undone", 0),
                    t.get("undone_wal", 0), t.get("undone_db", 0), t.get("dropped", 0),
                    t.get("torn", 0), t.get("applied", 0), t.get("trunc_applied", 0),
                    t.get("trunc_applied", 0) + t.get("trunc_dropped", 0)))


def run(tbdev, server_exe, powerloss_exe, rounds, seed, small=False, keep=False,
        self_test=None):
    if self_test is None:
        self_test = small
    run.problems = []
    if not os.access(powerloss_exe, os.X_OK):
        run.problems = ["no tbdev-server-powerloss at %s (build with -Dtests=true, or set "
                        "TBDEV_POWERLOSS_SERVER_EXE / --powerloss_server)" % powerloss_exe]
        return False, "kills=0 seed=%d" % seed
    if self_test:
        tmp = L.make_tempdir("tbdev-soak-power-model-")
        try:
            for i in range(20):
                why = self_check_model(random.Random(seed + i), tmp)
                if why:
                    run.problems = [why]
                    return False, "self_test=FAILED seed=%d" % seed
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    ok, figures = crash_server.run(tbdev, server_exe, rounds, seed, small, keep,
                                   PowerLoss(powerloss_exe, seed, self_test))
    run.problems = crash_server.run.problems
    return ok, figures


def main():
    ap = S.base_args(__doc__.splitlines()[1], rounds_default=200)
    ap.add_argument("--powerloss_server", default=None,
                    help="tbdev-server-powerloss (env TBDEV_POWERLOSS_SERVER_EXE; default "
                         "<builddir of --server>/tests/faults/tbdev-server-powerloss)")
    ap.add_argument("--self_test", action="store_true",
                    help="first kill while the WAL log holds records until a cut undoes one "
                         "(implied by --small)")
    a = ap.parse_args()
    rounds, seed = S.rounds_of(a, 5), S.seed_of(a)
    pl = a.powerloss_server or default_powerloss_exe(a.server)
    S.log("power_loss: %d rounds, seed %d, %s" % (rounds, seed, pl))
    ok, figures = run(os.path.abspath(a.tbdev), os.path.abspath(a.server), os.path.abspath(pl),
                      rounds, seed, a.small, a.keep, a.self_test or a.small)
    return S.finish(ok, figures, getattr(run, "problems", []))


if __name__ == "__main__":
    sys.exit(main())
