#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Starts QEMU stopped (-S is added), lets the guest run until it reboots itself once, then
resets the machine from QMP (system_reset) and quits. Writes "fp: exec" (QEMU's exec until its
machine is created: device opens and the first machine reset), "fp: reboot" (cont until the
guest's own reboot is done), "fp: system_reset" and "fp: quit" into ftrace's trace_marker (when
--marker FILE is given), so that a trace can be cut into those phases. The guest must reboot by
itself exactly once (qemu-reset-set.sh's firmware does).

usage: qemu-reboot.py [--marker FILE] [--timeout S] -- QEMU ARGS...
Prints one JSON line: {"resets": [reasons of QMP's RESET events]}. Exit 1 when QEMU exits
early or a step does not happen within the timeout (QEMU's stderr is passed through).
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
    marker, timeout = None, 120.0
    while args and args[0] != "--":
        if args[0] == "--marker":
            marker, args = args[1], args[2:]
        elif args[0] == "--timeout":
            timeout, args = float(args[1]), args[2:]
        else:
            sys.exit("qemu-reboot.py: unknown option " + args[0])
    if len(args) < 2:
        sys.exit("usage: qemu-reboot.py [--marker FILE] [--timeout S] -- QEMU ARGS...")
    mark_fd = os.open(marker, os.O_WRONLY) if marker else None

    def mark(text):
        if mark_fd is not None:
            os.write(mark_fd, ("fp: " + text).encode())

    sock_path = os.path.join(tempfile.mkdtemp(prefix="qemu-reboot-"), "qmp")
    mark("exec")
    proc = subprocess.Popen(args[1:] + ["-S", "-qmp", "unix:%s,server=on,wait=off" % sock_path])
    global PROC
    PROC = proc
    deadline = time.monotonic() + timeout

    def fail(why):
        proc.kill()
        proc.wait()
        sys.exit("qemu-reboot.py: " + why)

    def expired(signum, frame):
        fail("timed out after %g s (resets so far: %s)" % (timeout, resets))

    resets = []
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(int(timeout) + 1)

    conn = None
    while conn is None:
        if proc.poll() is not None:
            fail("QEMU exited with status %d before its QMP socket answered" % proc.returncode)
        if time.monotonic() > deadline:
            fail("QEMU did not start its QMP socket within %g s" % timeout)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(sock_path)
            conn = s
        except OSError:
            s.close()
            time.sleep(0.01)
    f = conn.makefile("rw")

    def read_msg():
        try:
            line = f.readline()
        except OSError as e:
            fail("QMP: %s (resets so far: %s)" % (e, resets))
        if not line:
            fail("QMP connection closed (resets so far: %s)" % resets)
        msg = json.loads(line)
        if msg.get("event") == "RESET":
            resets.append(msg.get("data", {}).get("reason", "?"))
        return msg

    def command(name):
        f.write(json.dumps({"execute": name}) + "\n")
        f.flush()
        while True:
            msg = read_msg()
            if "return" in msg or "error" in msg:
                return msg

    def wait_reset(reason):
        while reason not in resets:
            read_msg()

    read_msg()  # greeting: QMP answers once the machine is created (and reset)
    command("qmp_capabilities")
    status = command("query-status").get("return", {}).get("status")
    if status != "prelaunch":
        fail("QEMU is %s, not prelaunch, after its start" % status)
    mark("reboot")
    command("cont")
    wait_reset("guest-reset")
    mark("system_reset")
    command("system_reset")
    wait_reset("host-qmp-system-reset")
    mark("quit")
    command("quit")
    proc.wait()
    signal.alarm(0)
    print(json.dumps({"resets": resets}))


try:
    main()
finally:
    # No QEMU may outlive the driver holding its VFIO groups
    for child in [p for p in [globals().get("PROC")] if p]:
        child.kill()
