#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Starts QEMU, measures its init time (exec -> QMP query-status says "running"), optionally
resets the machine (system_reset), then quits it. Writes "fp: exec", "fp: running",
"fp: system_reset", "fp: quit" into ftrace's trace_marker (when --marker FILE is given) so that
a trace can be cut into those phases.

usage: qemu-init.py [--marker FILE] [--timeout S] [--system-reset] [--until FILE TEXT]
                    [--kill TERM|KILL] -- QEMU ARGS...
--until FILE TEXT: after QEMU runs, wait (within the timeout) until FILE holds TEXT (a guest's
serial console saying "Linux version"), then write "fp: console".
--kill SIG: end QEMU with that signal (TERM: what libvirt's virsh destroy sends first) instead of
QMP quit; the phase is "quit" either way.
Prints one JSON line: {"init_ms": ..., "status": ...}. Exit 1 when QEMU exits early or does not
run within the timeout (QEMU's stderr is passed through).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def main():
    args = sys.argv[1:]
    marker = None
    timeout = 120.0
    system_reset = False
    until = None
    kill = None
    while args and args[0] != "--":
        if args[0] == "--marker":
            marker = args[1]
            args = args[2:]
        elif args[0] == "--timeout":
            timeout = float(args[1])
            args = args[2:]
        elif args[0] == "--until":
            until = (args[1], args[2])
            args = args[3:]
        elif args[0] == "--kill" and len(args) > 1 and args[1] in ("TERM", "KILL"):
            kill = getattr(signal, "SIG" + args[1])
            args = args[2:]
        elif args[0] == "--system-reset":
            system_reset = True
            args = args[1:]
        else:
            sys.exit("qemu-init.py: unknown option " + args[0])
    if not args or len(args) < 2:
        sys.exit("usage: qemu-init.py [--marker FILE] [--timeout S] [--system-reset] "
                 "[--until FILE TEXT] [--kill TERM|KILL] -- QEMU ARGS...")
    qemu = args[1:]
    mark_fd = os.open(marker, os.O_WRONLY) if marker else None

    def mark(text):
        if mark_fd is not None:
            os.write(mark_fd, ("fp: " + text).encode())

    sockdir = tempfile.mkdtemp(prefix="qemu-init-")
    sock_path = os.path.join(sockdir, "qmp")
    mark("exec")
    t0 = time.monotonic()
    proc = subprocess.Popen(qemu + ["-qmp", "unix:%s,server=on,wait=off" % sock_path])
    deadline = t0 + timeout

    def fail(why):
        proc.kill()
        proc.wait()
        sys.exit("qemu-init.py: " + why)

    conn = None
    while conn is None:
        if proc.poll() is not None:
            fail("QEMU exited with status %d before running" % proc.returncode)
        if time.monotonic() > deadline:
            fail("QEMU did not start its QMP socket within %g s" % timeout)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock_path)
            conn = s
        except OSError:
            s.close()
            time.sleep(0.01)
    f = conn.makefile("rw")

    resets = []

    def command(name):
        f.write(json.dumps({"execute": name}) + "\n")
        f.flush()
        while True:
            line = f.readline()
            if not line:
                fail("QMP connection closed during %s" % name)
            msg = json.loads(line)
            if msg.get("event") == "RESET":
                resets.append(msg.get("data", {}).get("reason", "?"))
            if "return" in msg or "error" in msg:
                return msg

    f.readline()  # greeting
    command("qmp_capabilities")
    status = None
    while True:
        status = command("query-status").get("return", {}).get("status")
        if status == "running":
            break
        if time.monotonic() > deadline:
            fail("QEMU not running after %g s (status %s)" % (timeout, status))
        time.sleep(0.01)
    init_ms = (time.monotonic() - t0) * 1000
    mark("running")
    if until:
        while True:
            try:
                with open(until[0], errors="replace") as c:
                    if until[1] in c.read():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                fail("%s never held %r" % (until[0], until[1]))
            time.sleep(0.05)
        mark("console")
    if system_reset:
        time.sleep(1)
        mark("system_reset")
        command("system_reset")
        # The reset runs in QEMU's main loop; a command answered after it has run.
        time.sleep(1)
        command("query-status")
    mark("quit")
    if kill:
        proc.send_signal(kill)
    else:
        command("quit")
    proc.wait(timeout=60)
    out = {"init_ms": round(init_ms, 1), "status": status}
    if kill:
        out["exit"] = proc.returncode
    if system_reset:
        out["reset_events"] = resets
    print(json.dumps(out))


main()
