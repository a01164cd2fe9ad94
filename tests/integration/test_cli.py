#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: the command line at TensorBoard.dev parity and gh quality (issue 17).

Usage:  test_cli.py TBDEV_EXE TBDEV_SERVER_EXE SCALAR_FORMS_EXE

A real tbdev-server on 127.0.0.1 over HTTPS (a throwaway certificate), a real SQLite file, the
real tbdev with a private config folder. One check per trap the issue lists:
  * logins: per server with normalised URLs, login without --server uses the current server,
    a relative --cacert works from another folder, the pasted token is not echoed (a pty),
    status names the token's source, logout and revoke revoke the token on the server;
  * fail fast: a closed port, an unknown host, https:// to plain HTTP, a bad experiment ID
    each end at once with a message that says what to do; a revoked token is named as such;
    a TLS failure at login is not "does not accept that token";
  * TensorBoard.dev habits: --verbose 0, -q, --origin, list --json's fields, export of all
    experiments with metadata.json and parent folders, an empty logdir with --one_shot makes
    no experiment, a missing logdir is waited for when watching;
  * the upload's last lines: the link when done, "Resume with" after a stop that leaves work;
  * tbdev-server: check on a missing database creates nothing, user quota with a size,
    --quota_bytes 10G, --listen localhost:PORT, the warning for 0.0.0.0 without --public_url,
    per-subcommand --help, token list with a header (and nosuch fails), backups 0600, the
    token hint naming --server.

Prints "ok - NAME" / "not ok - NAME: WHY"; exits 0 or 1 (77 without openssl).
"""

import json
import os
import pty
import re
import select
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uploader_lib as L  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(args, env=None, cwd=None, stdin=None, timeout=60):
    t0 = time.monotonic()
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                           cwd=cwd, input=stdin, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return "timeout", (e.stdout or b"").decode(), (e.stderr or b"").decode(), timeout
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


class T:
    def __init__(self, rep, tbdev, server_exe, forms, tmp):
        self.rep, self.tbdev, self.server_exe, self.forms, self.tmp = (rep, tbdev, server_exe,
                                                                       forms, tmp)
        self.home = os.path.join(tmp, "home")
        os.makedirs(os.path.join(self.home, "cfg"))

    def env(self, **extra):
        e = L.clean_env({"XDG_CONFIG_HOME": os.path.join(self.home, "cfg"), "HOME": self.home})
        e.update(extra)
        return e

    def tb(self, *args, **kw):
        env = kw.pop("env", None) or self.env()
        return run([self.tbdev] + list(args), env=env, **kw)

    def srv(self, *args, **kw):
        return run([self.server_exe] + list(args), env=L.clean_env(), **kw)


def logins(t, url, cert, token, token2):
    rep = t.rep
    # a relative --cacert, remembered as an absolute path
    shutil.copy(cert, os.path.join(t.tmp, "ca.pem"))
    rc, out, err, _ = t.tb("auth", "login", "--server", url.upper().replace("HTTPS", "https") + "/",
                           "--cacert", "ca.pem", "--with_token", cwd=t.tmp,
                           stdin=(token + "\n").encode())
    rep.check("login with a relative --cacert", None if rc == 0 else err[-300:])
    rc, out, err, _ = t.tb("list", cwd="/")
    rep.check("the saved --cacert works from another folder (saved absolute)",
              None if rc == 0 else err[-300:])
    # login again without --server: the current server, not "server="
    rc, out, err, _ = t.tb("auth", "login", "--with_token", stdin=(token + "\n").encode())
    rep.check("auth login --with_token without --server logs in to the current server",
              None if rc == 0 and ("Logged in to %s as alice." % url.lower()) in out else
              "exit %s: %s %s" % (rc, out, err[-300:]))
    rc, out, err, _ = t.tb("auth", "status", "--json")
    st = json.loads(out) if rc == 0 else {}
    rep.check("auth status names the file as the token's source",
              None if st.get("token_source") == "file" and st.get("user") == "alice" else out)
    rc, out, err, _ = t.tb("auth", "status", env=t.env(TBDEV_TOKEN=token))
    rep.check("auth status names TBDEV_TOKEN when it is used",
              None if rc == 0 and "TBDEV_TOKEN" in out else out + err)
    # a second server's login is kept beside the first
    other = "http://127.0.0.1:%d" % free_port()
    cfg = os.path.join(t.home, "cfg", "tbdev", "credentials")
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text + "[%s]\ntoken=tbdev_other\nuser=zed\n" % other)
    os.chmod(cfg, 0o600)
    rc, out, err, _ = t.tb("auth", "status")
    rep.check("logins are kept per server", None if rc == 0 and other in out and "zed" in out
              else out + err)
    # the pasted token is not echoed on a terminal
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(t.tbdev, [t.tbdev, "auth", "login", "--with_token"], t.env())
    seen = b""
    deadline = time.monotonic() + 20
    sent = False
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not sent and b"Paste" in seen:
            time.sleep(0.2)
            os.write(fd, (token + "\n").encode())
            sent = True
    _, status = os.waitpid(pid, 0)
    rep.check("the pasted token is not echoed", None if sent and token.encode() not in seen and
              os.waitstatus_to_exitcode(status) == 0 else repr(seen[-300:]))
    # logout revokes on the server
    rc, out, err, _ = t.tb("auth", "login", "--with_token", stdin=(token2 + "\n").encode())
    rc, out, err, _ = t.tb("auth", "logout")
    rc2, o2, e2, _ = t.tb("list", env=t.env(TBDEV_TOKEN=token2, TBDEV_SERVER=url,
                                           TBDEV_CACERT=cert))
    rep.check("auth logout revokes the token on the server and says so",
              None if rc == 0 and "revoked" in out and rc2 == 1 and "not valid (revoked" in e2
              else "logout %s: %s %s; list after: %s %s" % (rc, out, err[-200:], rc2, e2[-300:]))


def fail_fast(t, url, cert, token):
    rep = t.rep
    env = t.env(TBDEV_TOKEN=token, TBDEV_CACERT=cert)
    closed = "https://127.0.0.1:%d" % free_port()
    rc, out, err, secs = t.tb("list", "--server", closed, env=env)
    rep.check("list against a closed port fails at once with what to do",
              None if rc == 1 and secs < 10 and "refused the connection" in err else
              "exit %s after %.1f s: %s" % (rc, secs, err[-300:]))
    rc, out, err, secs = t.tb("list", "--server", "https://no-such-host.invalid", env=env)
    rep.check("an unknown host fails at once", None if rc == 1 and secs < 15 and
              "cannot find the host" in err else "exit %s after %.1f s: %s" % (rc, secs, err))
    # a plain HTTP server, started by hand (L.Server always adds TLS)
    port = free_port()
    p = subprocess.Popen([t.server_exe, "serve", "--db", L.test_db(os.path.join(t.tmp, "plain.db")),
                          "--listen", "127.0.0.1:%d" % port, "-q"] + public_url("http", port),
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=L.clean_env())
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        rc, out, err, secs = t.tb("list", "--server", "https://127.0.0.1:%d" % port, env=env)
        rep.check("https:// against plain HTTP fails at once and suggests http://",
                  None if rc == 1 and secs < 10 and "http://" in err and "HTTPS" in err else
                  "exit %s after %.1f s: %s" % (rc, secs, err[-300:]))
    finally:
        p.terminate()
        p.wait()
    for bad in ("bad id!", "x/y", "0U9EqFROOfsnWQ9X7iu4F"):
        rc, out, err, _ = t.tb("delete", "--experiment_id", bad, env=env)
        rep.check("experiment ID %r is refused locally" % bad,
                  None if rc == 2 and "not an experiment ID" in err else "exit %s: %s" % (rc, err))
    rc, out, err, _ = t.tb("upload", "--logdir", t.tmp, "--experiment_id", "x/y",
                           "--server", url, env=env)
    rep.check("upload --experiment_id x/y is refused locally",
              None if rc == 2 and "not an experiment ID" in err else "exit %s: %s" % (rc, err))
    rc, out, err, _ = t.tb("list", "--server", url, env=t.env(TBDEV_TOKEN="tbdev_revoked",
                                                               TBDEV_CACERT=cert))
    rep.check("a bad token is named as such, not as 'not a tbdev server'",
              None if rc == 1 and "not valid (revoked" in err and "does not look" not in err else
              err[-300:])
    rc, out, err, _ = t.tb("upload", "--logdir", t.tmp, "--one_shot", "--server", url,
                           env=t.env(TBDEV_TOKEN="tbdev_revoked", TBDEV_CACERT=cert))
    rep.check("upload with a bad token: named as such at the handshake",
              None if rc == 1 and "refused your token" in err and "does not look" not in err else
              err[-300:])
    # TLS failure at login: a certificate not trusted
    rc, out, err, _ = t.tb("auth", "login", "--server", url, "--with_token",
                           env=L.clean_env({"XDG_CONFIG_HOME": os.path.join(t.tmp, "cfg2"),
                                            "HOME": t.tmp}), stdin=(token + "\n").encode())
    rep.check("a TLS failure at login says TLS, not 'does not accept that token'",
              None if rc == 1 and "TLS" in err and "does not accept" not in err else err[-300:])


def habits(t, url, cert, token, api):
    rep = t.rep
    env = t.env(TBDEV_TOKEN=token, TBDEV_CACERT=cert, TBDEV_SERVER=url)
    logdir = os.path.join(t.tmp, "logs")
    subprocess.run([t.forms, logdir, "2", "2", "50", "simple"], check=True)
    rc, out, err, _ = t.tb("upload", "--logdir", logdir, "--one_shot", "--verbose", "0",
                           "--origin", url, env=env)
    exp = L.experiment_id_of(out)
    rep.check("--verbose 0 and --origin are accepted; quiet means no progress lines",
              None if rc == 0 and exp and "sent new records" not in err and "done" not in err
              else "exit %s: %s" % (rc, err[-300:]))
    rc, out, err, _ = t.tb("upload", "--logdir", logdir, "--one_shot", "-q", "--experiment_id",
                           exp, env=env)
    rep.check("-q is accepted", None if rc == 0 else err[-300:])
    rc, out, err, _ = t.tb("list", "--json", env=env)
    doc = json.loads(out) if rc == 0 else {}
    e = (doc.get("experiments") or [{}])[0]
    rep.check("list --json has TensorBoard.dev's fields (created/updated as RFC 3339)",
              None if all(k in e for k in ("url", "name", "description", "id", "runs", "tags",
                                           "scalars")) and
              re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", e.get("created", "")) and
              re.match(r"\d{4}-\d\d-\d\dT", e.get("updated", "")) else repr(e))
    rc, out, err, _ = t.tb("list", env=env)
    rep.check("list speaks of sizes and counts as people do",
              None if rc == 0 and re.search(r"2 runs, 4 tags, 200 scalar points", out) and
              re.search(r"\d+(\.\d)? (B|KiB)\b", out) else out)
    # export of all, with metadata.json, into a folder whose parents do not exist
    out_dir = os.path.join(t.tmp, "deep", "er", "export")
    rc, out, err, _ = t.tb("export", "--outdir", out_dir, env=env)
    meta = os.path.join(out_dir, exp, "metadata.json")
    ok = rc == 0 and os.path.exists(meta)
    m = json.load(open(meta)) if ok else {}
    rep.check("export of all experiments: DIR/ID each with metadata.json, parents created",
              None if ok and m.get("id") == exp and re.match(r"\d{4}-", m.get("created", ""))
              and os.path.isdir(os.path.join(out_dir, exp, "run_0")) else
              "exit %s: %s" % (rc, err[-300:]))
    # an empty logdir with --one_shot: no experiment
    empty = os.path.join(t.tmp, "empty")
    os.makedirs(empty)
    before = len(api.get_json("/api/v1/experiments").get("experiments", []))
    rc, out, err, _ = t.tb("upload", "--logdir", empty, "--one_shot", env=env)
    after = len(api.get_json("/api/v1/experiments").get("experiments", []))
    rep.check("an empty logdir with --one_shot makes no experiment and says why",
              None if rc == 1 and "no event files" in err and before == after else
              "exit %s, %d -> %d experiments: %s" % (rc, before, after, err[-300:]))
    # a missing logdir is waited for when watching
    later = os.path.join(t.tmp, "later")
    up = subprocess.Popen([t.tbdev, "upload", "--logdir", later, "--poll_interval", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    time.sleep(2)
    alive = up.poll() is None
    subprocess.run([t.forms, later, "1", "1", "20", "simple"], check=True)
    got = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and alive:
        exps = api.get_json("/api/v1/experiments").get("experiments", [])
        got = [x for x in exps if x["usage"]["scalars"] == 20] if exps else []
        if got:
            break
        time.sleep(0.5)
    up.send_signal(2)
    out, err = up.communicate(timeout=20)
    err = err.decode("utf-8", "replace")
    rep.check("a missing logdir is waited for when watching, then uploaded",
              None if alive and got and "waiting for" in err else
              "alive %s, got %r: %s" % (alive, got, err[-400:]))
    rep.check("Ctrl-C: 'stopped by request' and how to resume",
              None if "stopped by request" in err and "Resume with: tbdev upload" in err else
              err[-400:])
    rc, out, err, _ = t.tb("upload", "--logdir", logdir, "--one_shot", env=env)
    rep.check("a finished upload ends with the link",
              None if rc == 0 and re.search(r"done\. View your experiment at: https://", err)
              else err[-300:])


def resume_after_fatal(t, url, cert, token, api):
    """The experiment is deleted while an upload watches: the upload stops and says how to
    go on."""
    rep = t.rep
    env = t.env(TBDEV_TOKEN=token, TBDEV_CACERT=cert, TBDEV_SERVER=url)
    logdir = os.path.join(t.tmp, "fatal")
    subprocess.run([t.forms, logdir, "1", "1", "10", "simple"], check=True)
    up = subprocess.Popen([t.tbdev, "upload", "--logdir", logdir, "--poll_interval", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    exp = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not exp:
        exps = api.get_json("/api/v1/experiments").get("experiments", [])
        mine = [x for x in exps if x["usage"]["scalars"] == 10]
        exp = mine[0]["id"] if mine else None
        time.sleep(0.3)
    t.tb("delete", "--experiment_id", exp or "x" * 22, env=env)
    subprocess.run([t.forms, os.path.join(logdir, "more"), "1", "1", "10", "simple"], check=True)
    try:
        out, err = up.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        up.kill()
        out, err = up.communicate()
    err = err.decode("utf-8", "replace")
    rep.check("after a fatal stop the uploader says how to resume",
              None if up.returncode == 1 and "Resume with: tbdev upload" in err else
              "exit %s: %s" % (up.returncode, err[-400:]))


def public_url(scheme, port, host="127.0.0.1"):
    """What serve needs on PostgreSQL (TBDEV_TEST_BACKEND=postgres): --public_url."""
    return ["--public_url", "%s://%s:%d" % (scheme, host, port)] if L.on_postgres() else []


def missing_db(t):
    """A database name with a typo in it: (the --db, whether it exists now)."""
    if L.on_postgres():
        import scale_lib
        c = scale_lib.shared_cluster()
        return c.url("typo"), lambda: c.psql("SELECT 1 FROM pg_database WHERE datname = "
                                             "'typo'")[1].strip() == "1"
    typo = os.path.join(t.tmp, "typo.db")
    return typo, lambda: os.path.exists(typo)


def admin(t, url):
    rep = t.rep
    typo, exists = missing_db(t)
    # the hint to run migrate is SQLite's: on PostgreSQL, the database is made with createdb
    rc, out, err, _ = t.srv("check", "--db", typo)
    rep.check("check on a missing database fails and creates nothing",
              None if rc == 1 and not exists() and ("migrate" in err or L.on_postgres() and
                                                   "cannot connect" in err) else
              "exit %s: %s" % (rc, err))
    rc, out, err, _ = t.srv("user", "list", "--db", typo)
    rep.check("user list on a missing database fails and creates nothing",
              None if rc == 1 and not exists() else "exit %s: %s" % (rc, err))
    db = L.test_db(os.path.join(t.tmp, "admin.db"))
    t.srv("migrate", "--db", db)
    rc, out, err, _ = t.srv("user", "add", "carol", "--db", db)
    rep.check("user add's hint names --server, and how to set a web password",
              None if rc == 0 and "--server" in err and "user passwd carol" in err else err)
    rc, out, err, _ = t.srv("user", "quota", "carol", "10G", "--db", db)
    rc2, out2, _, _ = t.srv("user", "list", "--json", "--db", db)
    users = json.loads(out2) if rc2 == 0 else []
    rep.check("user quota NAME 10G", None if rc == 0 and users and
              users[0].get("quota_bytes") == 10 << 30 else "%s %s %s" % (rc, err, out2))
    rc, out, err, _ = t.srv("token", "list", "nosuch", "--db", db)
    rep.check("token list of an unknown user fails", None if rc == 1 else "exit %s" % rc)
    rc, out, err, _ = t.srv("token", "list", "--db", db)
    rep.check("token list has a header, last use and the label",
              None if rc == 0 and "LAST USED" in out and "created with the user" in out else out)
    rc, out, err, _ = t.srv("user", "add", "--help")
    rep.check("per-subcommand --help", None if rc == 0 and "--password_stdin" in out and
              "--to" not in out else out)
    bak = os.path.join(t.tmp, "copy.db")
    rc, out, err, _ = t.srv("backup", "--to", bak, "--db", db)
    if L.on_postgres():  # SQLite's online backup; PostgreSQL has pg_dump
        rep.check("backup on PostgreSQL refuses and names pg_dump, writing nothing",
                  None if rc == 1 and "pg_dump" in err and not os.path.exists(bak) else
                  "exit %s: %s" % (rc, err))
    else:
        mode = os.stat(bak).st_mode & 0o777 if os.path.exists(bak) else None
        rep.check("backups are mode 0600", None if rc == 0 and mode == 0o600 else
                  "exit %s mode %s" % (rc, oct(mode or 0)))
    # serve: sizes, host names, the 0.0.0.0 warning
    port = free_port()
    p = subprocess.Popen([t.server_exe, "serve", "--db", db, "--listen", "localhost:%d" % port,
                          "--quota_bytes", "10G", "--request_bytes", "32MiB"]
                         + public_url("http", port, "localhost"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=L.clean_env())
    up = False
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            up = True
            break
        except OSError:
            time.sleep(0.05)
    p.terminate()
    p.communicate(timeout=20)
    rep.check("serve takes --listen localhost:PORT and sizes such as 10G", None if up else
              "not listening")
    port = free_port()
    p = subprocess.Popen([t.server_exe, "serve", "--db", db, "--listen", "0.0.0.0:%d" % port],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=L.clean_env())
    if L.on_postgres():  # there --public_url is required, on any address
        out, err = p.communicate(timeout=20)
        rep.check("serve on PostgreSQL without --public_url refuses and says to give one",
                  None if p.returncode != 0 and b"--public_url" in err else
                  "exit %s: %s" % (p.returncode, err[-300:]))
        return
    time.sleep(1.5)
    p.terminate()
    out, err = p.communicate(timeout=20)
    rep.check("listening on 0.0.0.0 without --public_url warns that links will not work",
              None if b"--public_url" in err and b"warn" in err else err[-300:])


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE SCALAR_FORMS_EXE\n" % argv[0])
        return 2
    tbdev, server_exe, forms = (os.path.abspath(a) for a in argv[1:])
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    rep = L.Reporter()
    tmp = L.make_tempdir("tbdev-cli-")
    server = None
    try:
        cert, key_ = L.make_cert(tmp)
        db = os.path.join(tmp, "tbdev.db")
        token = L.add_user(server_exe, db)
        p = subprocess.run([server_exe, "token", "create", "alice", "--db", L.test_db(db)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=L.clean_env())
        token2 = p.stdout.decode().strip()
        server = L.Server(server_exe, tmp, db, cert, key_)
        url = server.start()
        api = L.Api(url, token, cert)
        t = T(rep, tbdev, server_exe, forms, tmp)
        logins(t, url, cert, token, token2)
        fail_fast(t, url, cert, token)
        habits(t, url, cert, token, api)
        resume_after_fatal(t, url, cert, token, api)
        admin(t, url)
    finally:
        if server:
            server.stop()
        L.finish_tmp(rep, tmp)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
