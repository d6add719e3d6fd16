/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Files root keeps next to files others write. Each run directory a root process of fastpass
 * uses is reached from "/" one component at a time without following symlinks and must be owned
 * by root (or the caller) and writable by nobody else; files inside are then opened with
 * openat(O_NOFOLLOW) from that directory's descriptor, checked to be regular files, and read up
 * to a bound. A file planted by someone else is reported, never followed or trusted. */
#pragma once

#include <glib.h>
#include <sys/types.h>
#include <unistd.h>

/* A file descriptor closed when it goes out of scope: `g_auto(FpFd) fd = -1;` (GLib's g_autofd
 * is 2.76; fastpass builds on 2.66). */
typedef int FpFd;
static inline void
fp_close_fd(FpFd fd)
{
    close(fd);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(FpFd, fp_close_fd, -1)

/* PATH as a trusted directory: every component reached with O_NOFOLLOW, each owned by root or
 * the caller, none writable by others except a sticky one whose child is ours (as /tmp); the last
 * one writable by its owner alone. Missing components are made with MODE when CREATE. Returns an
 * O_PATH descriptor (for the *at() calls; it needs search permission only), or -1 with an error
 * naming the component at fault. */
int fp_safedir_open(const char *path, gboolean create, mode_t mode, GError **error);
/* NAME under the trusted directory DFD, made with MODE when missing; an existing one must be
 * owned by the caller and is set to MODE (a directory an older version left open is closed). */
int fp_safedir_sub(int dfd, const char *where, const char *name, mode_t mode, GError **error);
/* The contents of NAME under DFD: a regular file, not a symlink, at most MAX bytes. NULL with
 * G_FILE_ERROR_NOENT when absent (FP_ERROR otherwise: what is wrong with the file). */
char *fp_safedir_read(int dfd, const char *where, const char *name, gsize max, gsize *len,
                      GError **error);
/* The same for an open FD (named WHERE/NAME in messages), from its current offset. */
char *fp_safedir_read_fd(int fd, const char *where, const char *name, gsize max, gsize *len,
                         GError **error);
/* The same for an absolute PATH whose directory the caller trusts less: only the last component
 * is refused when a symlink. */
char *fp_safedir_read_path(const char *path, gsize max, gsize *len, GError **error);
/* NAME under DFD replaced by DATA (a temporary created O_EXCL beside it, then renamed over it):
 * a symlink planted at NAME is replaced, never followed. */
gboolean fp_safedir_write(int dfd, const char *where, const char *name, const char *data, gsize len,
                          mode_t mode, GError **error);
/* PATH opened for appending (a log): created with MODE when absent; refused when a symlink, not a
 * regular file, not owned by the caller or linked elsewhere too. -1 with an error otherwise. */
int fp_safedir_open_append(const char *path, mode_t mode, GError **error);
