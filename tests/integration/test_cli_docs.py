#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test: the README's command reference covers every command and flag.

Usage:  test_cli_docs.py TBDEV_EXE TBDEV_SERVER_EXE README

Runs `tbdev --help` and `tbdev COMMAND --help` for every command it lists, and
`tbdev-server --help` and `tbdev-server COMMAND --help` likewise, and checks that every command
and every --flag they print appears in README.md (as `--flag`, in code), that every --help
exits 0 and says the exit statuses, and that an unknown flag is a usage error (exit 2) that
points to --help.

Prints "ok - NAME" / "not ok - NAME: WHY"; exits 0 or 1.
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uploader_lib as L  # noqa: E402

FLAG_RE = re.compile(r"^\s+(?:-\w, )?(--[a-z][a-z_-]*)", re.M)
CMD_RE = re.compile(r"^  ([a-z][a-z-]*) +[A-Z]", re.M)


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                       env=L.clean_env({"HOME": "/nonexistent", "XDG_CONFIG_HOME": "/nonexistent"}))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_binary(rep, exe, name, readme, subcommands_of=None):
    rc, out, err = run([exe, "--help"])
    rep.check("%s --help exits 0" % name, None if rc == 0 else "exit %s: %s" % (rc, err[-300:]))
    commands = CMD_RE.findall(out)
    rep.check("%s --help lists its commands" % name,
              None if commands else "no commands in: %s" % out[:400])
    missing_cmds = [c for c in commands if ("%s %s" % (name, c)) not in readme and
                    ("`%s" % c) not in readme]
    rep.check("every %s command is in the README" % name,
              None if not missing_cmds else "missing: %s" % ", ".join(missing_cmds))
    for c in commands:
        args = [exe] + (subcommands_of(c) if subcommands_of else [c]) + ["--help"]
        rc, out, err = run(args)
        if not rep.check("%s %s --help exits 0 and names the exit statuses" % (name, c),
                         None if rc == 0 and "Exit status" in out else
                         "exit %s: %s" % (rc, (out + err)[-300:])):
            continue
        flags = sorted(set(FLAG_RE.findall(out)) - {"--help"})
        missing = [f for f in flags if f not in readme and f.replace("-", "_") not in readme]
        rep.check("every flag of %s %s is in the README" % (name, c),
                  None if not missing else "missing: %s" % ", ".join(missing))
        rc, out, err = run([exe] + (subcommands_of(c) if subcommands_of else [c]) +
                           ["--no-such-flag"])
        rep.check("%s %s: an unknown flag is a usage error pointing to --help" % (name, c),
                  None if rc == 2 and "--help" in err else "exit %s: %s" % (rc, err[-300:]))


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: %s TBDEV_EXE TBDEV_SERVER_EXE README\n" % argv[0])
        return 2
    tbdev, server, readme_path = argv[1:]
    with open(readme_path, encoding="utf-8") as f:
        readme = f.read()
    rep = L.Reporter()
    check_binary(rep, tbdev, "tbdev", readme)
    # tbdev-server: its commands (serve, migrate, user ...) and their subcommands
    rc, out, err = run([server, "--help"])
    subs = {}
    for line in out.splitlines():
        m = re.match(r"^  ([a-z]+)(?: ([a-z]+))?\b", line)
        if m:
            subs.setdefault(m.group(1), set())
            if m.group(2) and m.group(1) in ("user", "token", "session"):
                subs[m.group(1)].add(m.group(2))
    rep.check("tbdev-server --help lists its commands",
              None if {"serve", "migrate", "user", "token"} <= set(subs) else repr(subs))
    for cmd in sorted(subs):
        for sub in sorted(subs[cmd]) or [None]:
            words = [cmd] + ([sub] if sub else [])
            label = " ".join(words)
            rc, out, err = run([server] + words + ["--help"])
            if not rep.check("tbdev-server %s --help exits 0 and names the exit statuses" % label,
                             None if rc == 0 and "Exit status" in out else
                             "exit %s: %s" % (rc, (out + err)[-300:])):
                continue
            rep.check("tbdev-server %s is in the README" % label,
                      None if "`%s" % label in readme else "no `%s` in the README" % label)
            flags = sorted(set(FLAG_RE.findall(out)) - {"--help"})
            missing = [f for f in flags if f not in readme and f.replace("-", "_") not in readme]
            rep.check("every flag of tbdev-server %s is in the README" % label,
                      None if not missing else "missing: %s" % ", ".join(missing))
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
