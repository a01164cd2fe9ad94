#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Slow request headers (slowloris) meet --header_deadline; slow bodies and idle-free clients
do not.

libmicrohttpd's --conn_timeout is an idle timeout: a client sending one header byte every
second would keep its connection, and its slot, for ever. With --header_deadline 2 the server
must close such a connection soon after 2 s, while:
  * a request whose headers take 1 s in all is answered;
  * a request whose headers come at once and whose body trickles for 4 s is answered (the
    body has its own --body_deadline);
  * a keep-alive connection serves several requests in a row.
Real tbdev-server over HTTPS on 127.0.0.1, throwaway certificate.

Usage: test_slow_headers.py TBDEV_SERVER   (exit 0 pass, 1 fail, 77 skip)
"""
import os
import shutil
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uploader_lib as L  # noqa: E402


def connect(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def closed_within(s, seconds):
    """Reads until the server closes (True) or `seconds` pass (False)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            if not s.recv(4096):
                return True
        except socket.timeout:
            return False
        except (ssl.SSLError, OSError):
            return True
    return False


def read_response(s, timeout=10):
    """The status code of one response (reads headers and a Content-Length body)."""
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            return None
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    return status


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s TBDEV_SERVER\n" % argv[0])
        return 2
    server_exe = os.path.abspath(argv[1])
    if not L.have_openssl():
        print("# SKIP: the openssl command is not available")
        return L.SKIP
    rep = L.Reporter()
    tmp = L.make_tempdir("tbdev-slowheaders-")
    server = None
    try:
        cert, key = L.make_cert(tmp)
        db = os.path.join(tmp, "tbdev.db")
        L.add_user(server_exe, db)
        server = L.Server(server_exe, tmp, db, cert, key,
                          ["--header_deadline", "2", "--conn_timeout", "30"])
        server.start()
        port = server.port

        # 1. one header byte a second: closed after about 2 s, long before the 30 s idle timeout
        s = connect(port)
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        t0 = time.monotonic()
        cut = None
        for i in range(12):
            try:
                s.sendall(b"X")
            except (OSError, ssl.SSLError):
                cut = time.monotonic() - t0
                break
            if closed_within(s, 1.0):
                cut = time.monotonic() - t0
                break
        s.close()
        rep.check("a client trickling header bytes is cut off by --header_deadline 2",
                  None if cut is not None and cut < 5.0 else
                  "still open after %.1f s" % (time.monotonic() - t0))
        if cut is not None:
            rep.check("... and not before the deadline (%.1f s)" % cut,
                      None if cut >= 1.5 else "cut after %.1f s" % cut)
        end = time.monotonic() + 3.0  # the line comes just after the cut
        err = L.tail_text(server.err_path, 4000)
        while "--header_deadline" not in err and time.monotonic() < end:
            time.sleep(0.05)
            err = L.tail_text(server.err_path, 4000)
        rep.check("the server says why it closed it",
                  None if "--header_deadline" in err else "no log line: %s" % err[-300:])

        # 2. headers in 1 s: answered
        s = connect(port)
        for part in (b"GET /api/v1/health HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n",
                     b"Connection: close\r\n", b"\r\n"):
            s.sendall(part)
            time.sleep(0.25)
        st = read_response(s)
        s.close()
        rep.check("headers sent over 1 s (under the deadline): answered",
                  None if st == 200 else "status %r" % st)

        # 3. headers at once, a body trickling for 4 s: the header deadline does not apply
        s = connect(port)
        body = b'{"user": "nobody", "password": "a wrong password, sent slowly"}'
        s.sendall(b"POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                  b"application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" %
                  len(body))
        step = len(body) // 8 + 1
        for i in range(0, len(body), step):
            time.sleep(0.5)
            s.sendall(body[i:i + step])
        st = read_response(s)
        s.close()
        rep.check("a body trickling for 4 s after quick headers is answered (401)",
                  None if st == 401 else "status %r" % st)

        # 4. keep-alive: three requests on one connection, each within the deadline
        s = connect(port)
        got = []
        for _ in range(3):
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            got.append(read_response(s))
            time.sleep(1.0)
        s.close()
        rep.check("keep-alive: three requests 1 s apart on one connection",
                  None if got == [200, 200, 200] else "statuses %r" % got)

        # 5. an idle keep-alive connection ends at the deadline too (documented)
        s = connect(port)
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        read_response(s)
        rep.check("an idle keep-alive connection is closed after the deadline",
                  None if closed_within(s, 5.0) else "still open after 5 s")
        s.close()
        rep.check("the server is still up", None if server.proc.poll() is None else
                  "exited %s" % server.proc.returncode)
    except Exception as e:  # noqa: BLE001
        import traceback
        rep.check("harness", "%r %s" % (e, traceback.format_exc()[-800:]))
    finally:
        if server is not None:
            server.stop()
        if not L.keep_tmp():
            shutil.rmtree(tmp, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
