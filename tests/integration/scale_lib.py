# SPDX-License-Identifier: MIT
"""Peers for the scale-out tests, started by the test itself on loopback and stopped at the end:

- PgCluster: a throwaway PostgreSQL 15 cluster (initdb into a temporary folder, as an
  unprivileged user when run as root, fsync off, TCP on 127.0.0.1 and a free port);
- SwiftS3: OpenStack Swift (Debian's swift-proxy, -object, -container, -account and memcached)
  with its s3api middleware and tempauth, one replica on a temporary folder; S3 access key
  "test:tester" (a ':' in it, as Swift's keys have), secret "testing";
- PgServer: server_lib.Server on a PostgreSQL URL instead of a SQLite file;
- backend(): the backend the environment asks for (TBDEV_TEST_BACKEND=postgresql), so that one
  test script runs against either.

Each class raises Unavailable with the reason when a binary is missing: the test then reports
SKIP (77) and says why.
"""

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import server_lib as L

PG_BIN = "/usr/lib/postgresql/15/bin"


class Unavailable(Exception):
    pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait_port(port, proc, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise L.ServerError("%s exited with %s before listening" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise L.ServerError("%s did not listen on port %d within %.0f s" % (what, port, timeout))


_peers = []


def _stop_all():
    for p in list(_peers):
        try:
            p.stop()
        except Exception:
            pass


atexit.register(_stop_all)


def psql(url, sql, check=True, sep=None, null=None, rsep=None):
    """Runs sql with psql on the database url (whichever cluster holds it): (status, output)."""
    cmd = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url]
    if sep is not None:
        cmd += ["-F", sep]
    if rsep is not None:
        cmd += ["-R", rsep]
    if null is not None:
        cmd += ["-P", "null=" + null]
    p = subprocess.run(cmd + ["-c", sql], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120, env=L.clean_env())
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise L.ServerError("psql: %s: %s" % (sql[:100], p.stderr.decode()[-500:]))
    return p.returncode, out


class PgCluster:
    """A PostgreSQL cluster of its own: start(), url(db), create_database(name), psql(sql), stop()."""

    def __init__(self, fsync=False):
        self.fsync = fsync  # tests run with fsync off; benchmarks with it on
        self.check_installed()
        self.user = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.user = "nobody"
            pwd.getpwnam(self.user)
        self.dir = tempfile.mkdtemp(prefix="tbdev-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.proc = None
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _run(self, cmd, **kw):
        if self.user:
            kw["user"] = self.user
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir,
                              **kw)

    def start(self):
        p = self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "tbdev",
                       "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"], timeout=120)
        if p.returncode != 0:
            raise L.ServerError("initdb failed: " + p.stdout.decode("utf-8", "replace")[-800:])
        self._spawn()
        _peers.append(self)
        _wait_port(self.port, self.proc, "postgres")
        self._wait_queries()
        return self

    def _spawn(self):
        log = open(os.path.join(self.dir, "postgres.log"), "ab")
        kw = {"user": self.user} if self.user else {}
        self.proc = subprocess.Popen(
            [os.path.join(PG_BIN, "postgres"), "-D", self.data, "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + self.dir,
             "-c", "fsync=" + ("on" if self.fsync else "off"),
             "-c", "full_page_writes=" + ("on" if self.fsync else "off"),
             "-c", "max_connections=200",
             "-c", "shared_buffers=64MB", "-c", "log_min_messages=warning"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir, **kw)
        log.close()

    def _wait_queries(self):
        # accepting connections may lag the port a little
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.psql("SELECT 1", check=False)[0] == 0:
                return
            time.sleep(0.1)
        raise L.ServerError("postgres does not answer queries")

    def halt(self):
        """Shuts PostgreSQL down (fast), keeping its data, as a database restart would."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)

    def resume(self):
        """Starts PostgreSQL again on the same data and port after halt()."""
        self._spawn()
        _wait_port(self.port, self.proc, "postgres")
        self._wait_queries()

    def url(self, db="postgres"):
        return "postgresql://tbdev@127.0.0.1:%d/%s" % (self.port, db)

    @staticmethod
    def check_installed():
        for b in ("initdb", "pg_ctl", "postgres"):
            if not os.access(os.path.join(PG_BIN, b), os.X_OK):
                raise Unavailable("PostgreSQL 15 is not installed (%s/%s is missing: apt-get "
                                  "install postgresql-15)" % (PG_BIN, b))
        if not shutil.which("psql"):
            raise Unavailable("psql is missing (apt-get install postgresql-client-15)")

    def psql(self, sql, db="postgres", check=True, sep=None, null=None, rsep=None):
        return psql(self.url(db), sql, check=check, sep=sep, null=null, rsep=rsep)

    def create_database(self, name):
        self.psql("CREATE DATABASE %s" % name)
        return self.url(name)

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "postgres.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if self in _peers:
            _peers.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)


SWIFT_BINS = ("swift-proxy-server", "swift-object-server", "swift-container-server",
              "swift-account-server", "swift-ring-builder", "memcached")


class SwiftS3:
    """Swift with s3api on loopback: start(), endpoint, access_key, secret_key, bucket(name),
    object(bucket, key) (read through Swift's own API, not S3), stop()."""

    access_key = "test:tester"
    secret_key = "testing"

    def __init__(self):
        for b in SWIFT_BINS:
            if not shutil.which(b):
                raise Unavailable("%s is missing (apt-get install swift swift-proxy swift-object "
                                  "swift-container swift-account memcached python3-swift)" % b)
        self.dir = tempfile.mkdtemp(prefix="tbdev-swift-")
        self.procs = []
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def _conf(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self):
        d = self.dir
        node = os.path.join(d, "node")
        os.makedirs(os.path.join(node, "d1"))
        user = "root" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        ports = {k: free_port() for k in ("object", "container", "account", "memcache")}
        self._conf("swift.conf", "[swift-hash]\nswift_hash_path_suffix = tbdevtest\n"
                   "swift_hash_path_prefix = tbdevtest\n[storage-policy:0]\nname = gold\n"
                   "default = yes\n")
        for kind in ("object", "container", "account"):
            builder = os.path.join(d, kind + ".builder")
            for args in (["create", "6", "1", "0"],
                         ["add", "r1z1-127.0.0.1:%d/d1" % ports[kind], "1"], ["rebalance"]):
                p = subprocess.run(["swift-ring-builder", builder] + args, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=60)
                if p.returncode not in (0, 1):  # rebalance says 1 on a warning
                    raise L.ServerError("swift-ring-builder %s: %s" % (args[0], p.stdout[-300:]))
            self._conf(kind + "-server.conf",
                       "[DEFAULT]\nswift_dir = %s\ndevices = %s\nmount_check = false\n"
                       "bind_ip = 127.0.0.1\nbind_port = %d\nworkers = 0\nuser = %s\n"
                       "log_level = WARNING\n\n[pipeline:main]\npipeline = %s-server\n\n"
                       "[app:%s-server]\nuse = egg:swift#%s\n" % (d, node, ports[kind], user, kind,
                                                                  kind, kind))
        self._conf("proxy-server.conf",
                   "[DEFAULT]\nswift_dir = %s\nbind_ip = 127.0.0.1\nbind_port = %d\nworkers = 0\n"
                   "user = %s\nlog_level = WARNING\n\n[pipeline:main]\npipeline = catch_errors "
                   "gatekeeper healthcheck proxy-logging cache s3api tempauth proxy-logging "
                   "proxy-server\n\n[app:proxy-server]\nuse = egg:swift#proxy\n"
                   "account_autocreate = true\n\n[filter:tempauth]\nuse = egg:swift#tempauth\n"
                   "user_test_tester = testing .admin\n\n[filter:s3api]\nuse = egg:swift#s3api\n"
                   "location = us-east-1\n\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n\n"
                   "[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:%d\n\n"
                   "[filter:catch_errors]\nuse = egg:swift#catch_errors\n\n"
                   "[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n\n"
                   "[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n"
                   % (d, self.port, user, ports["memcache"]))
        log = open(os.path.join(d, "swift.log"), "ab")
        env = L.clean_env()
        mc = ["memcached", "-l", "127.0.0.1", "-p", str(ports["memcache"]), "-U", "0", "-m", "16"]
        if os.geteuid() == 0:
            mc += ["-u", "nobody"]
        starts = [(mc, ports["memcache"])]
        for kind in ("object", "container", "account"):
            starts.append((["swift-%s-server" % kind, os.path.join(d, kind + "-server.conf")],
                           ports[kind]))
        starts.append((["swift-proxy-server", os.path.join(d, "proxy-server.conf")], self.port))
        _peers.append(self)
        for cmd, _ in starts:
            self.procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                               stderr=log, cwd=d, env=env))
        log.close()
        for (cmd, port), proc in zip(starts, self.procs):
            _wait_port(port, proc, cmd[0], timeout=60)
        return self

    def _swift_token(self):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", "/auth/v1.0", headers={"X-Auth-User": "test:tester",
                                                "X-Auth-Key": "testing"})
        r = c.getresponse()
        r.read()
        tok, url = r.getheader("X-Auth-Token"), r.getheader("X-Storage-Url")
        c.close()
        if r.status // 100 != 2 or not tok:
            raise L.ServerError("swift auth: %d" % r.status)
        return tok, url.split(str(self.port), 1)[1]

    def _swift(self, method, path):
        import http.client
        tok, base = self._swift_token()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, base + path, headers={"X-Auth-Token": tok})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body

    def bucket(self, name):
        """Creates a bucket (a Swift container)."""
        st, body = self._swift("PUT", "/" + name)
        if st // 100 != 2:
            raise L.ServerError("creating bucket %s: %d %s" % (name, st, body[:200]))
        return name

    def object(self, bucket, key):
        """(status, bytes) of an object, read through Swift's own API."""
        return self._swift("GET", "/%s/%s" % (bucket, key))

    def keys(self, bucket):
        st, body = self._swift("GET", "/" + bucket)
        if st == 204:
            return []
        return body.decode().split()

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "swift.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        self.procs = []
        if self in _peers:
            _peers.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)


# The quota's recount (server_lib.Server.stored_bytes), in PostgreSQL's SQL.
# What the quota charges one run r (store_pg.c RUN_BYTES_SQL).
PG_RUN_BYTES = """({r} + octet_length(r.name)
    + coalesce((SELECT sum({r} + octet_length(f.name)) FROM files f WHERE f.run_id = r.id), 0)
    + coalesce((SELECT sum({r} + octet_length(s.tag) + octet_length(s.plugin)
        + coalesce((SELECT octet_length(sc.content) FROM series_content sc
                    WHERE sc.series_id = s.id), 0)
        + octet_length(s.display_name) + octet_length(s.description)) FROM series s
        WHERE s.run_id = r.id), 0)
    + coalesce((SELECT sum({r} + octet_length(c.data) + octet_length(c.summary))
        FROM scalar_chunks c JOIN series s ON s.id = c.series_id WHERE s.run_id = r.id), 0)
    + coalesce((SELECT sum({r} + octet_length(t.data) + octet_length(t.value_pb)
        + octet_length(t.shape)) FROM tensors t JOIN series s ON s.id = t.series_id
        WHERE s.run_id = r.id), 0)
    + coalesce((SELECT sum({r} + octet_length(b.meta) + octet_length(b.shas)
        + octet_length(b.value_pb)) FROM blob_points b JOIN series s ON s.id = b.series_id
        WHERE s.run_id = r.id), 0)
    + (SELECT count(*) * {r} FROM restarts x WHERE x.run_id = r.id))"""

PG_STORED = """
SELECT e.id,
  coalesce((SELECT sum(""" + PG_RUN_BYTES + """)
    FROM runs r WHERE r.experiment_id = e.id), 0)
  + coalesce((SELECT sum({r} + b.size) FROM blob_owners o JOIN blobs b ON b.sha = o.sha
              WHERE o.experiment_id = e.id), 0)
FROM experiments e"""


class PgServer(L.Server):
    """A tbdev-server on a PostgreSQL database (several may share one)."""

    PUBLIC_URL = "https://tbdev.test"  # required on PostgreSQL; loopback names stay allowed

    def __init__(self, exe, workdir, cluster, db_url, tls=True, args=(), name="server",
                 public_url=PUBLIC_URL):
        args = list(args) + (["--public_url", public_url] if public_url else [])
        L.Server.__init__(self, exe, workdir, tls=tls, args=args, name=name)
        self.cluster = cluster
        self.db = db_url
        self.db_name = db_url.rsplit("/", 1)[1]

    def add_user(self, name, password=None):
        self.admin("migrate")
        args = ["user", "add", name]
        stdin = None
        if password is not None:
            args.append("--password_stdin")
            stdin = (password + "\n").encode()
        rc, out, err = self.admin(*args, stdin=stdin)
        if rc != 0:
            raise L.ServerError("user add %s: %d %s" % (name, rc, err.strip()))
        return out.strip().splitlines()[-1]

    def sql(self, q):
        return self.cluster.psql(q, db=self.db_name)[1]

    def stored_bytes(self, exp_id=None):
        out = self.sql(PG_STORED.format(r=L.STORED_ROW_BYTES))
        got = {}
        for line in out.splitlines():
            if "|" in line:
                k, v = line.split("|")
                got[k] = int(v)
        return got if exp_id is None else got.get(exp_id)


_shared = []
_db_count = [0]


def shared_cluster():
    """The test process's own cluster (TBDEV_TEST_BACKEND=postgres), started on first use."""
    if not _shared:
        _shared.append(PgCluster().start())
    return _shared[0]


def fresh_database(hint):
    """A new empty database on the shared cluster, named after hint; its URL."""
    _db_count[0] += 1
    name = "t%d_%s" % (_db_count[0], "".join(ch if ch.isalnum() else "_" for ch in hint)[:40])
    return shared_cluster().create_database(name.lower())


class Backend:
    """Where a test's servers keep their data: SQLite files (the default), or one PostgreSQL
    cluster with a database per server name."""

    def __init__(self, kind):
        self.kind = "postgresql" if kind in ("postgres", "postgresql") else kind
        self.cluster = None
        if self.kind == "postgresql":
            self.cluster = shared_cluster()

    def server(self, exe, workdir, name="server", **kw):
        if not self.cluster:
            return L.Server(exe, workdir, name=name, **kw)
        url = fresh_database(name)
        return PgServer(exe, workdir, self.cluster, url, name=name, **kw)

    def stop(self):
        if self.cluster:
            self.cluster.stop()


def backend():
    """The backend TBDEV_TEST_BACKEND names (sqlite when unset); exits 77 when it cannot run."""
    import sys
    kind = os.environ.get("TBDEV_TEST_BACKEND", "sqlite")
    try:
        return Backend(kind)
    except Unavailable as e:
        print("# skip: %s" % e)
        sys.exit(L.SKIP)
