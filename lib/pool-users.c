/* Who uses a slot: a process that maps its file (a running QEMU) or holds it open, found by
 * device and inode under procfs, so a rename of the slot does not hide it. Scrub never punches
 * the pages of a file a guest still maps, and a claim nobody uses is taken back. */
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

/* Marks in USER[i] (0: not yet) PID for each file of ST[] (N of them) that a line of
 * /proc/PID/maps ("addr perms offset MM:mm inode path") maps. */
static void
scan_maps(int pid_dfd, int pid, const struct stat *st, guint n, int *user)
{
    char line[4096];
    int fd = openat(pid_dfd, "maps", O_RDONLY | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

    if (!f) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned int maj, min;
        unsigned long long ino;

        if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &ino) != 3 || !ino)
            continue;
        for (guint i = 0; i < n; i++) {
            if (!user[i] && ino == (unsigned long long)st[i].st_ino && maj == major(st[i].st_dev) &&
                min == minor(st[i].st_dev))
                user[i] = pid;
        }
    }
    fclose(f);
}

/* The same for the files PID holds open. */
static void
scan_fds(int pid_dfd, int pid, const struct stat *st, guint n, int *user)
{
    DIR *d = pool_opendir(pid_dfd, "fd");
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        char link[PATH_MAX];
        ssize_t len;
        struct stat target;

        if (de->d_name[0] == '.')
            continue;
        /* Only what looks like a pool file is stat'ed (following the link stats the open file
         * itself, wherever it is named now): a stat of any open file could block on a hung
         * network filesystem. */
        len = readlinkat(dirfd(d), de->d_name, link, sizeof link - 1);
        if (len <= 0)
            continue;
        link[len] = '\0';
        if (!strstr(link, "/slot-") || fstatat(dirfd(d), de->d_name, &target, 0) < 0)
            continue;
        for (guint i = 0; i < n; i++) {
            if (!user[i] && st[i].st_ino && target.st_dev == st[i].st_dev &&
                target.st_ino == st[i].st_ino)
                user[i] = pid;
        }
    }
    closedir(d);
}

void
pool_file_users(const char *proc_root, const struct stat *st, guint n, int *user)
{
    DIR *d;
    struct dirent *de;
    int self = (int)getpid();

    memset(user, 0, n * sizeof *user);
    if (!n)
        return; /* nothing asked: no pass over procfs */
    if (!(d = pool_opendir(AT_FDCWD, proc_root)))
        return;
    /* One pass over the processes, however many files are asked about. */
    while ((de = readdir(d))) {
        guint64 pid;
        int pid_dfd;

        if (!g_ascii_string_to_unsigned(de->d_name, 10, 1, G_MAXINT, &pid, NULL) ||
            (int)pid == self)
            continue;
        pid_dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pid_dfd < 0)
            continue; /* gone meanwhile */
        scan_maps(pid_dfd, (int)pid, st, n, user);
        scan_fds(pid_dfd, (int)pid, st, n, user);
        close(pid_dfd);
    }
    closedir(d);
}

void
fp_pool_slot_users(const FpPoolOptions *o, GPtrArray *slots)
{
    g_autofree struct stat *st = g_new0(struct stat, MAX(slots->len, 1));
    g_autofree int *user = g_new0(int, MAX(slots->len, 1));

    for (guint i = 0; i < slots->len; i++) {
        /* A slot gone meanwhile keeps inode 0, which no mapping names. */
        if (stat(((FpSlot *)g_ptr_array_index(slots, i))->path, &st[i]) < 0)
            memset(&st[i], 0, sizeof st[i]);
    }
    pool_file_users(pool_proc_root(o), st, slots->len, user);
    for (guint i = 0; i < slots->len; i++)
        ((FpSlot *)g_ptr_array_index(slots, i))->user = user[i];
}
