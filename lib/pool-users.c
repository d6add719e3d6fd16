/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who uses a slot: a process that maps its file (a running QEMU) or holds it open, found by
 * device and inode under procfs, so a rename of the slot does not hide it. Scrub never punches
 * the pages of a file a guest still maps, and a claim nobody uses is taken back.
 *
 * The scan fails closed. A procfs that cannot be listed or does not show the host's PID
 * namespace (an empty directory, a container, hidepid) makes every file asked about count as in
 * use: "cannot tell". A process whose maps or fd directory cannot be read (another exiting
 * meanwhile, ENOENT or ESRCH, uses nothing) may be using any of them. So the kernel is asked
 * about each file no process was found to use, with a write lease, which it grants only while
 * no other open file has it open for writing (or, with IMA, reading); a guest's RAM mapping holds
 * one even after QEMU closed its descriptor. Open: in use (also when it is this process that
 * has it). No lease to be had after some process could not be read: "cannot tell". */
#define _GNU_SOURCE
#include "pool-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

typedef struct {
    const struct stat *st;
    guint n;
    PoolUse *use;
    char *why; /* the first thing that could not be read; NULL: everything was */
} Scan;

/* The inode init's PID namespace has in every kernel since 3.8 (PROC_PID_INIT_INO). */
#define POOL_INIT_PID_NS "pid:[4026531836]"

static gboolean
gone(int err)
{
    return err == ENOENT || err == ESRCH;
}

static void G_GNUC_PRINTF(2, 3) cannot_tell(Scan *s, const char *fmt, ...)
{
    va_list ap;

    if (s->why)
        return;
    va_start(ap, fmt);
    s->why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static void
found(Scan *s, guint i, int pid)
{
    if (!s->use[i].pid)
        s->use[i].pid = pid;
}

gboolean
pool_maps_line(const char *line, gsize len, unsigned int *maj, unsigned int *min,
               unsigned long long *ino)
{
    /* A line the kernel wrote ends in '\n' (a '\n' in a mapped path is escaped as \012): one
     * without it was cut short and says nothing. */
    if (!len || line[len - 1] != '\n' || memchr(line, '\0', len))
        return FALSE;
    return sscanf(line, "%*s %*s %*s %x:%x %llu", maj, min, ino) == 3 && *ino;
}

/* Marks the files of S that a line of /proc/PID/maps ("addr perms offset MM:mm inode path")
 * maps, PID as their user. Lines are read whole, however long (a path of 4 KB is a path, not
 * the start of another record). */
static void
scan_maps(Scan *s, int pid_dfd, const char *proc_root, int pid)
{
    g_autofree char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int fd = openat(pid_dfd, "maps", O_RDONLY | O_CLOEXEC);
    FILE *f;

    if (fd < 0) {
        if (!gone(errno))
            cannot_tell(s, "cannot read %s/%d/maps: %s", proc_root, pid, g_strerror(errno));
        return;
    }
    if (!(f = fdopen(fd, "r"))) {
        cannot_tell(s, "cannot read %s/%d/maps: %s", proc_root, pid, g_strerror(errno));
        close(fd);
        return;
    }
    while ((errno = 0, len = getline(&line, &cap, f)) > 0) {
        unsigned int maj, min;
        unsigned long long ino;

        if (!pool_maps_line(line, (gsize)len, &maj, &min, &ino))
            continue;
        for (guint i = 0; i < s->n; i++) {
            if (ino == (unsigned long long)s->st[i].st_ino && maj == major(s->st[i].st_dev) &&
                min == minor(s->st[i].st_dev))
                found(s, i, pid);
        }
    }
    if (ferror(f) && !gone(errno))
        cannot_tell(s, "cannot read %s/%d/maps: %s", proc_root, pid, g_strerror(errno));
    fclose(f);
}

/* The same for the files PID holds open. */
static void
scan_fds(Scan *s, int pid_dfd, const char *proc_root, int pid)
{
    DIR *d = pool_opendir(pid_dfd, "fd");
    struct dirent *de;

    if (!d) {
        if (!gone(errno))
            cannot_tell(s, "cannot read %s/%d/fd: %s", proc_root, pid, g_strerror(errno));
        return;
    }
    while ((errno = 0, de = readdir(d))) {
        char link[PATH_MAX];
        ssize_t len;
        struct stat target;

        if (de->d_name[0] == '.')
            continue;
        /* Only what looks like a pool file (by a slot's name or its claim name) is stat'ed
         * (following the link stats the open file itself, wherever it is named now): a stat of
         * any open file could block on a hung network filesystem. */
        len = readlinkat(dirfd(d), de->d_name, link, sizeof link - 1);
        if (len < 0) {
            if (!gone(errno))
                cannot_tell(s, "cannot read %s/%d/fd/%s: %s", proc_root, pid, de->d_name,
                            g_strerror(errno));
            continue;
        }
        link[len] = '\0';
        if (!strstr(link, "/slot-") && !strstr(link, "/claim-"))
            continue;
        if (fstatat(dirfd(d), de->d_name, &target, 0) < 0) {
            if (!gone(errno))
                cannot_tell(s, "cannot stat %s/%d/fd/%s: %s", proc_root, pid, de->d_name,
                            g_strerror(errno));
            continue;
        }
        for (guint i = 0; i < s->n; i++) {
            if (s->st[i].st_ino && target.st_dev == s->st[i].st_dev &&
                target.st_ino == s->st[i].st_ino)
                found(s, i, pid);
        }
    }
    if (errno && !gone(errno))
        cannot_tell(s, "cannot read %s/%d/fd: %s", proc_root, pid, g_strerror(errno));
    closedir(d);
}

/* NULL when PROC_ROOT shows this process's PID namespace and it is init's: every process of the
 * host is listed. Else why not (an empty directory, a container). */
static char *
pid_ns_problem(const char *proc_root)
{
    g_autofree char *path = g_build_filename(proc_root, "self", "ns", "pid", NULL);
    char ns[64];
    ssize_t len;

    /* readlink $PROC/self/ns/pid   (pid:[4026531836]: init's namespace) */
    if ((len = readlink(path, ns, sizeof ns - 1)) < 0)
        return g_strdup_printf("cannot read %s: %s", path, g_strerror(errno));
    ns[len] = '\0';
    if (strcmp(ns, POOL_INIT_PID_NS) != 0)
        return g_strdup_printf("%s shows %s, not the host's PID namespace %s: processes outside "
                               "it are not listed",
                               proc_root, ns, POOL_INIT_PID_NS);
    return NULL;
}

/* Whether the file NAME under DFD (stat ST) is open for writing in another open file
 * description: 1 yes, 0 no, -1 cannot tell (*WHY). */
static int
open_elsewhere(int dfd, const char *name, const struct stat *st, char **why)
{
    struct stat now;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int open;

    if (fd < 0) {
        *why = g_strdup_printf("cannot open %s: %s", name, g_strerror(errno));
        return -1;
    }
    if (fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
        *why = g_strdup_printf("%s changed during the scan", name);
        close(fd);
        return -1;
    }
    /* A write lease (F_SETLEASE F_WRLCK) is refused with EAGAIN while any other open file has
     * the inode open for writing (or, with IMA, reading); released at once. */
    if (fcntl(fd, F_SETLEASE, F_WRLCK) == 0) {
        fcntl(fd, F_SETLEASE, F_UNLCK);
        open = 0;
    } else if (errno == EAGAIN) {
        open = 1;
    } else {
        *why = g_strdup_printf("cannot take a lease on %s: %s", name, g_strerror(errno));
        open = -1;
    }
    close(fd);
    return open;
}

void
pool_file_users(const char *proc_root, int dfd, const char *const *names, const struct stat *st,
                guint n, PoolUse *use)
{
    Scan s = {.st = st, .n = n, .use = use};
    g_autofree char *blind = NULL; /* procfs as a whole shows nothing to go by */
    DIR *d;
    struct dirent *de;
    int self = (int)getpid();

    for (guint i = 0; i < n; i++)
        use[i] = (PoolUse){0};
    if (!n)
        return; /* nothing asked: no pass over procfs */
    if ((blind = pid_ns_problem(proc_root)))
        goto out;
    if (!(d = pool_opendir(AT_FDCWD, proc_root))) {
        blind = g_strdup_printf("cannot list %s: %s", proc_root, g_strerror(errno));
        goto out;
    }
    /* One pass over the processes, however many files are asked about. */
    while ((errno = 0, de = readdir(d))) {
        guint64 pid;
        int pid_dfd;

        if (!g_ascii_string_to_unsigned(de->d_name, 10, 1, G_MAXINT, &pid, NULL) ||
            (int)pid == self)
            continue;
        pid_dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pid_dfd < 0) {
            if (!gone(errno))
                cannot_tell(&s, "cannot open %s/%s: %s", proc_root, de->d_name, g_strerror(errno));
            continue;
        }
        scan_maps(&s, pid_dfd, proc_root, (int)pid);
        scan_fds(&s, pid_dfd, proc_root, (int)pid);
        close(pid_dfd);
    }
    if (errno)
        blind = g_strdup_printf("cannot list %s: %s", proc_root, g_strerror(errno));
    closedir(d);
out:
    for (guint i = 0; i < n; i++) {
        g_autofree char *lease_why = NULL;
        int open;

        if (use[i].pid || !st[i].st_ino)
            continue;
        if (blind) {
            use[i].why = g_strdup(blind);
            use[i].untold = TRUE;
            continue;
        }
        /* No process named: the kernel says whether any open file has it (a process in another
         * PID namespace, one whose maps could not be read, this one). */
        open = open_elsewhere(dfd, names[i], &st[i], &lease_why);
        if (open > 0)
            use[i].why = g_strdup_printf("open in a process procfs does not name%s%s%s",
                                         s.why ? " (" : "", s.why ? s.why : "", s.why ? ")" : "");
        else if (open < 0 && s.why) {
            use[i].why = g_strdup_printf("%s; %s", s.why, lease_why);
            use[i].untold = TRUE;
        }
    }
    g_free(s.why);
}

void
pool_use_clear(PoolUse *use, guint n)
{
    for (guint i = 0; i < n; i++)
        g_clear_pointer(&use[i].why, g_free);
}

void
fp_pool_slot_users(const FpPoolOptions *o, GPtrArray *slots)
{
    g_autofree struct stat *st = g_new0(struct stat, MAX(slots->len, 1));
    g_autofree PoolUse *use = g_new0(PoolUse, MAX(slots->len, 1));
    g_autofree const char **names = g_new0(const char *, MAX(slots->len, 1));

    for (guint i = 0; i < slots->len; i++) {
        const FpSlot *s = g_ptr_array_index(slots, i);

        names[i] = s->path;
        /* A slot gone meanwhile keeps inode 0, which no mapping names. */
        if (stat(s->path, &st[i]) < 0)
            memset(&st[i], 0, sizeof st[i]);
    }
    pool_file_users(pool_proc_root(o), AT_FDCWD, names, st, slots->len, use);
    for (guint i = 0; i < slots->len; i++) {
        FpSlot *s = g_ptr_array_index(slots, i);

        s->user = use[i].pid;
        g_free(s->user_unknown);
        s->user_unknown = g_steal_pointer(&use[i].why);
    }
}
