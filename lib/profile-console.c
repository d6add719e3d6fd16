/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guest's serial console, read as it is written, and the marker of the first kernel line. */
#define _GNU_SOURCE /* memmem */
#include "profile.h"

#include "xml.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_BYTES 200

struct FpConsoleScan {
    char *marker;
    gsize mlen;
    GString *window; /* the last mlen-1 bytes seen, so a marker split across reads is found */
    GString *line;   /* from the marker on */
    gboolean found, line_done;
};

FpConsoleScan *
fp_console_scan_new(const char *marker)
{
    FpConsoleScan *s = g_new0(FpConsoleScan, 1);

    s->marker = g_strdup(marker);
    s->mlen = strlen(marker);
    s->window = g_string_new(NULL);
    s->line = g_string_new(NULL);
    return s;
}

void
fp_console_scan_free(FpConsoleScan *s)
{
    if (!s)
        return;
    g_free(s->marker);
    g_string_free(s->window, TRUE);
    g_string_free(s->line, TRUE);
    g_free(s);
}

void
fp_console_scan_reset(FpConsoleScan *s)
{
    g_string_truncate(s->window, 0);
    g_string_truncate(s->line, 0);
    s->found = s->line_done = FALSE;
}

/* Adds BUF to the captured line up to its end; control characters are dropped. */
static void
take_line(FpConsoleScan *s, const char *buf, gsize len)
{
    for (gsize i = 0; i < len && !s->line_done; i++) {
        if (buf[i] == '\n' || buf[i] == '\r' || s->line->len >= LINE_MAX_BYTES)
            s->line_done = TRUE;
        else if ((unsigned char)buf[i] >= 0x20 && buf[i] != 0x7f)
            g_string_append_c(s->line, buf[i]);
    }
}

gboolean
fp_console_scan_feed(FpConsoleScan *s, const char *buf, gsize len)
{
    const char *hit;

    if (s->found) {
        take_line(s, buf, len);
        return TRUE;
    }
    if (!s->mlen)
        return s->found = TRUE;
    g_string_append_len(s->window, buf, (gssize)len);
    /* memmem, not strstr: guest output may hold NUL bytes. */
    hit = memmem(s->window->str, s->window->len, s->marker, s->mlen);
    if (hit) {
        s->found = TRUE;
        take_line(s, hit, s->window->len - (gsize)(hit - s->window->str));
        g_string_truncate(s->window, 0);
        return TRUE;
    }
    if (s->window->len >= s->mlen)
        g_string_erase(s->window, 0, (gssize)(s->window->len - (s->mlen - 1)));
    return FALSE;
}

gboolean
fp_console_scan_found(const FpConsoleScan *s)
{
    return s->found;
}

const char *
fp_console_scan_line(const FpConsoleScan *s)
{
    return s->found ? s->line->str : NULL;
}

struct FpConsoleFile {
    char *path;
    int fd;
    off_t offset;
};

FpConsoleFile *
fp_console_file_new(const char *path)
{
    FpConsoleFile *f = g_new0(FpConsoleFile, 1);

    f->path = g_strdup(path);
    f->fd = -1;
    return f;
}

void
fp_console_file_free(FpConsoleFile *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    g_free(f->path);
    g_free(f);
}

void
fp_console_file_poll(FpConsoleFile *f, FpConsoleScan *scan)
{
    struct stat by_path, by_fd;
    char buf[65536];
    ssize_t n;

    /* The console file is QEMU's user's, in a directory the domain names: a symlink or anything
     * but a regular file put there is not read (as root, the profiler follows nothing). */
    if (lstat(f->path, &by_path) < 0 || !S_ISREG(by_path.st_mode)) {
        if (f->fd >= 0) {
            close(f->fd);
            f->fd = -1;
        }
        return;
    }
    if (f->fd >= 0 && (fstat(f->fd, &by_fd) < 0 || by_fd.st_ino != by_path.st_ino ||
                       by_fd.st_dev != by_path.st_dev)) {
        close(f->fd); /* replaced: a new file for a new start */
        f->fd = -1;
    }
    if (f->fd < 0) {
        f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
        if (f->fd < 0)
            return;
        f->offset = 0;
        fp_console_scan_reset(scan);
    }
    if (by_path.st_size < f->offset) { /* truncated when QEMU opened it */
        f->offset = 0;
        fp_console_scan_reset(scan);
    }
    while ((n = pread(f->fd, buf, sizeof(buf), f->offset)) > 0) {
        f->offset += n;
        fp_console_scan_feed(scan, buf, (gsize)n);
    }
}

gboolean
fp_console_file_wait(FpConsoleFile *f, FpConsoleScan *scan, gint64 deadline_us,
                     volatile sig_atomic_t *cancel, gboolean (*alive)(void *user), void *user,
                     gint64 *found_us)
{
    guint tick = 0;

    for (;;) {
        fp_console_file_poll(f, scan);
        if (fp_console_scan_found(scan)) {
            *found_us = g_get_real_time();
            /* The rest of the line for the report; the time is taken already. */
            for (int i = 0; i < 50 && !scan->line_done; i++) {
                g_usleep(2000);
                fp_console_file_poll(f, scan);
            }
            return TRUE;
        }
        if ((cancel && *cancel) || g_get_real_time() > deadline_us)
            return FALSE;
        /* Asking whether the guest still runs costs more than a read: every 100 ms. */
        if (alive && ++tick % 50 == 0 && !alive(user))
            return FALSE;
        g_usleep(2000);
    }
}

FpConsoleKind
fp_profile_console_of(xmlDoc *doc, char **path)
{
    xmlNode *devices = fp_xml_child(doc ? xmlDocGetRootElement(doc) : NULL, "devices");
    xmlNode *chr = fp_xml_child(devices, "serial");

    *path = NULL;
    if (!chr)
        chr = fp_xml_child(devices, "console");
    if (!chr)
        return FP_CONSOLE_NONE;
    /* A log file gets everything the guest writes, whatever the serial's type. */
    if ((*path = fp_xml_prop(fp_xml_child(chr, "log"), "file")))
        return FP_CONSOLE_FILE;
    if (fp_xml_prop_is(chr, "type", "file"))
        return (*path = fp_xml_prop(fp_xml_child(chr, "source"), "path")) ? FP_CONSOLE_FILE
                                                                          : FP_CONSOLE_NONE;
    if (fp_xml_prop_is(chr, "type", "pty"))
        return FP_CONSOLE_PTY;
    return FP_CONSOLE_NONE;
}
