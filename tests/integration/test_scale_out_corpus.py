#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: the real corpus round-trips exactly through two servers on PostgreSQL + Swift.

Usage:  test_scale_out_corpus.py TBDEV_EXE TBDEV_SERVER_EXE

A PostgreSQL 15 cluster and Swift's S3 API of the test's own (scale_lib), one database and one
bucket, two tbdev-server processes A and B on them (--blob_store s3://...). For every folder of
the real data ($TBDEV_REAL_DATA) and test_roundtrip's synthetic logdir, `tbdev upload
--one_shot` goes to A and `tbdev export` (events and CSV) and the read API go to B; the checks
are test_roundtrip's (every point of every kind, values, wall times and blob bytes exact). Then:
every blob is an object in the bucket named by the SHA-256 of its bytes, the database holds no
blob bytes, and `tbdev-server check` agrees with the rows.

Exits 0, 1, or 77 (the real data, PostgreSQL or Swift missing).
"""

import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale_lib as S  # noqa: E402
import test_roundtrip as RT  # noqa: E402
import uploader_lib as L  # noqa: E402


class TwoServers:
    """A tbdev client whose uploads go to server A and everything else to server B."""

    def __init__(self, up, down):
        self.up, self.down = up, down

    def run(self, args, **kw):
        return (self.up if args and args[0] == "upload" else self.down).run(args, **kw)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE\n" % argv[0])
        return 2
    tbdev, server_exe = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    data = L.real_data_dir()
    if not os.path.isdir(data):
        print("# SKIP: real data folder %s not found (set TBDEV_REAL_DATA)" % data)
        return L.SKIP
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    try:
        pg, sw = S.PgCluster(), S.SwiftS3()
    except S.Unavailable as e:
        print("# SKIP: %s" % e)
        return L.SKIP
    rep = L.Reporter()
    if not L.check_exes(rep, tbdev, server_exe):
        return rep.finish()
    ctx = RT.Ctx()
    ctx.tmp = L.make_tempdir("tbdev-scale-corpus-")
    servers = []
    try:
        pg.start()
        sw.start()
        bucket = sw.bucket("corpus")
        url = pg.create_database("corpus")
        s3 = ["--blob_store", "s3://" + bucket, "--s3_endpoint", sw.endpoint,
              "--s3_access_key", sw.access_key, "--s3_secret_key", sw.secret_key,
              "--public_url", "https://tbdev.test"]
        cert, key_ = L.make_cert(ctx.tmp)
        token = L.add_user(server_exe, url)
        clients = []
        for name in ("a", "b"):
            srv = L.Server(server_exe, ctx.tmp, url, cert, key_, extra_args=s3)
            servers.append(srv)
            port = S.free_port()  # it prints its --public_url, which does not resolve here
            srv.start(port=port, timeout=30, attempts=3)
            srv.port = port
            u = "https://127.0.0.1:%d" % port
            c = L.Client(tbdev, os.path.join(ctx.tmp, "home-" + name), url=u, cacert=cert,
                         use_env=False)
            rc, out, err = c.login(token)
            if not rep.check("server %s at %s: tbdev auth login" % (name, u),
                             None if rc == 0 else "exit %s: %s" % (rc, err[-300:])):
                return rep.finish()
            clients.append(c)
        ctx.client = TwoServers(clients[0], clients[1])
        ctx.api = L.Api("https://127.0.0.1:%d" % servers[1].port, token, cert)

        folders = sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)))
        rep.check("real data folders present (%d)" % len(folders),
                  None if folders else "none in %s" % data)
        for d in folders:
            RT.roundtrip(ctx, rep, os.path.join(data, d), d)
        syn = os.path.join(ctx.tmp, "synthetic-logdir")
        RT.write_synthetic(syn)
        RT.roundtrip(ctx, rep, syn, "synthetic", RT.synthetic_checks)

        rows = pg.psql("SELECT encode(sha, 'hex'), size, data IS NULL FROM blobs",
                       db="corpus")[1].split()
        blobs = {}
        for line in rows:
            sha, size, nodata = line.split("|")
            blobs[sha] = (int(size), nodata == "t")
        keys = set(sw.keys(bucket))
        bad = []
        for sha, (size, nodata) in sorted(blobs.items()):
            if not nodata:
                bad.append("%s: bytes in the database" % sha[:12])
            if sha not in keys:
                bad.append("%s: no object" % sha[:12])
                continue
            st, body = sw.object(bucket, sha)
            if st != 200 or len(body) != size or hashlib.sha256(body).hexdigest() != sha:
                bad.append("%s: object %d, %d bytes, sha256 %s" % (
                    sha[:12], st, len(body), hashlib.sha256(body).hexdigest()[:12]))
        rep.check("%d blobs of the corpus: each an object named by its SHA-256, none in the "
                  "database" % len(blobs),
                  "no blobs stored" if not blobs else L.short(bad, 6) if bad else None)
        for i, srv in enumerate(servers):
            rc = srv.stop()
            rep.check("server %s exits 0 on SIGTERM" % "ab"[i], None if rc == 0 else
                      "exit %s; stderr %s" % (rc, L.tail_text(srv.err_path, 500)))
        rc, out, err = L.server_check(server_exe, url)
        rep.check("tbdev-server check on PostgreSQL", None if rc == 0 else
                  "exit %s: %s %s" % (rc, out[-300:], err[-300:]))
    except Exception as e:  # noqa: BLE001
        import traceback
        rep.check("test harness", "%s\n%s" % (e, traceback.format_exc()[-1500:]))
    finally:
        for srv in servers:
            srv.kill()
        sw.stop()
        pg.stop()
        L.finish_tmp(rep, ctx.tmp)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
