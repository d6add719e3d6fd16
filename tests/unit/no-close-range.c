/* SPDX-License-Identifier: GPL-2.0-or-later */
/* LD_PRELOAD shim: close_range() fails with ENOSYS, as before Linux 5.9 or under a seccomp
 * filter, so that a test reaches the caller's fallback (crun's tests/no_openat2.c does the same
 * for openat2). The first call creates the file $FP_CLOSE_RANGE_MARK, so the test can tell the
 * fallback ran (the call happens in a forked child). Async-signal-safe calls only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int
close_range(unsigned int first, unsigned int last, int flags)
{
    const char *mark = getenv("FP_CLOSE_RANGE_MARK");

    (void)first;
    (void)last;
    (void)flags;
    if (mark) {
        int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

        if (fd >= 0)
            close(fd);
    }
    errno = ENOSYS;
    return -1;
}
