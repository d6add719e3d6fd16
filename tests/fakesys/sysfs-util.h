/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sysfs-util.h - the kernel's little string rules that sysfs attributes
 * obey (sysfs_streq, kstrtoul, cpulists), so the emulator accepts and
 * rejects exactly what the kernel does. */
#pragma once

#include <glib.h>

#define FAKESYS_ERROR (fakesys_error_quark())
GQuark fakesys_error_quark(void);

typedef enum {
    FAKESYS_ERROR_TOPOLOGY, /* the topology file is malformed */
    FAKESYS_ERROR_CPULIST,  /* a cpulist string is malformed */
} FakesysErrorCode;

/* Kernel sysfs_streq(): equal, except that either side may carry one
 * trailing newline (what `echo` appends). */
gboolean fakesys_sysfs_streq(const char *a, const char *b);

/* Kernel kstrtoul()/kstrtoint(): base 0 means 0x/0 prefixes pick the
 * base; the whole string must be consumed except one trailing newline.
 * Returns 0, -EINVAL or -ERANGE. */
int fakesys_kstrtoul(const char *s, unsigned int base, unsigned long *out);
int fakesys_kstrtoint(const char *s, unsigned int base, int *out);

/* A PCI address as the kernel names it: DDDD:BB:SS.F, lower-case hex,
 * slot <= 0x1f, function <= 7. */
gboolean fakesys_bdf_is_valid(const char *s);

/* "eio"/"EIO" -> EIO; 0 when the name is not one we know. */
int fakesys_errno_from_name(const char *name);
/* EIO -> "EIO", "E<number>" for the ones we do not name; caller frees. */
char *fakesys_errno_to_name(int err);

/* CLOCK_MONOTONIC in nanoseconds: the clock the event log uses, so tests
 * can compare it with their own clock_gettime(CLOCK_MONOTONIC). */
guint64 fakesys_monotonic_ns(void);

/* Kernel cpulist format ("0-3,8,10-11"). Parse yields a sorted array of
 * unique guint CPU numbers; format writes the canonical form of any
 * array of them (unsorted, duplicates allowed). */
GArray *fakesys_cpulist_parse(const char *s, GError **error);
char *fakesys_cpulist_format(const GArray *cpus);
