/* Who uses a slot: a process that maps its file (a running QEMU) or holds it open, found by
 * device and inode under procfs, so a rename of the slot does not hide it. Scrub never punches
 * the pages of a file a guest still maps, and a claim nobody uses is taken back. */
#define _GNU_SOURCE
#include "pool-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* TRUE when a line of /proc/PID/maps ("addr perms offset MM:mm inode path") is the file. */
static gboolean
maps_line_is(const char *line, unsigned int maj, unsigned int min, guint64 ino)
{
    unsigned int lmaj, lmin;
    unsigned long long lino;

    return sscanf(line, "%*s %*s %*s %x:%x %llu", &lmaj, &lmin, &lino) == 3 && lmaj == maj &&
           lmin == min && lino == ino && ino != 0;
}

static gboolean
maps_file(int pid_dfd, const struct stat *st)
{
    char line[4096];
    gboolean found = FALSE;
    int fd = openat(pid_dfd, "maps", O_RDONLY | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

    if (!f) {
        if (fd >= 0)
            close(fd);
        return FALSE;
    }
    while (!found && fgets(line, sizeof line, f))
        found = maps_line_is(line, major(st->st_dev), minor(st->st_dev), (guint64)st->st_ino);
    fclose(f);
    return found;
}

static gboolean
holds_file(int pid_dfd, const struct stat *st)
{
    int fd_dfd = openat(pid_dfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd_dfd >= 0 ? fdopendir(fd_dfd) : NULL;
    struct dirent *de;
    gboolean found = FALSE;

    if (!d) {
        if (fd_dfd >= 0)
            close(fd_dfd);
        return FALSE;
    }
    while (!found && (de = readdir(d))) {
        struct stat target;

        /* Following the link stats the open file itself, wherever it is named now. */
        found = de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &target, 0) == 0 &&
                target.st_dev == st->st_dev && target.st_ino == st->st_ino;
    }
    closedir(d);
    return found;
}

int
pool_file_user(const char *proc_root, const struct stat *st)
{
    int proc_dfd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = proc_dfd >= 0 ? fdopendir(proc_dfd) : NULL;
    struct dirent *de;
    int user = 0, self = (int)getpid();

    if (!d) {
        if (proc_dfd >= 0)
            close(proc_dfd);
        return 0;
    }
    while (!user && (de = readdir(d))) {
        guint64 pid;
        int pid_dfd;

        if (!g_ascii_string_to_unsigned(de->d_name, 10, 1, G_MAXINT, &pid, NULL) ||
            (int)pid == self)
            continue;
        pid_dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pid_dfd < 0)
            continue; /* gone meanwhile */
        if (maps_file(pid_dfd, st) || holds_file(pid_dfd, st))
            user = (int)pid;
        close(pid_dfd);
    }
    closedir(d);
    return user;
}
