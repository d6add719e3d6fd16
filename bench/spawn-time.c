/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Wall time of starting short-lived commands, each run to completion with a fresh stdin from
 * a file, the commands taken in turn (round-robin) so that a busy moment of the machine costs
 * them alike. Prints the median per command in microseconds. Needs libc alone, so that
 * `spawn-time --empty` is the cost of an empty C program.
 * usage: spawn-time RUNS INPUT LABEL=COMMAND...   (COMMAND split at spaces)
 *        spawn-time --empty */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct {
    char *label;
    char *argv[16];
    long *us;
} Cmd;

static long
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int
cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return (x > y) - (x < y);
}

/* One run of C with stdin from INPUT and stdout to /dev/null; -1 when it failed. */
static long
run_once(const Cmd *c, const char *input)
{
    posix_spawn_file_actions_t fa;
    long t0, t1;
    pid_t pid;
    int status;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, input, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    t0 = now_us();
    if (posix_spawn(&pid, c->argv[0], &fa, NULL, c->argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    t1 = now_us();
    posix_spawn_file_actions_destroy(&fa);
    return t1 - t0;
}

int
main(int argc, char **argv)
{
    int runs, n;
    Cmd *cmds;

    if (argc == 2 && !strcmp(argv[1], "--empty"))
        return 0;
    if (argc < 4 || (runs = atoi(argv[1])) < 1) {
        fprintf(stderr, "usage: spawn-time RUNS INPUT LABEL=COMMAND...\n");
        return 2;
    }
    n = argc - 3;
    cmds = calloc((size_t)n, sizeof *cmds);
    for (int i = 0; i < n; i++) {
        char *spec = strdup(argv[i + 3]), *eq = strchr(spec, '='), *save = NULL;
        int k = 0;

        if (!eq) {
            fprintf(stderr, "spawn-time: '%s' is not LABEL=COMMAND\n", argv[i + 3]);
            return 2;
        }
        *eq = '\0';
        cmds[i].label = spec;
        for (char *w = strtok_r(eq + 1, " ", &save); w && k < 15; w = strtok_r(NULL, " ", &save))
            cmds[i].argv[k++] = w;
        cmds[i].us = calloc((size_t)runs, sizeof(long));
    }
    for (int r = 0; r < runs; r++) {
        for (int i = 0; i < n; i++) {
            long us = run_once(&cmds[i], argv[2]);

            if (us < 0) {
                fprintf(stderr, "spawn-time: %s (%s) failed\n", cmds[i].label, cmds[i].argv[0]);
                return 1;
            }
            cmds[i].us[r] = us;
        }
    }
    for (int i = 0; i < n; i++) {
        qsort(cmds[i].us, (size_t)runs, sizeof(long), cmp_long);
        printf("%s %ld\n", cmds[i].label, cmds[i].us[runs / 2]);
    }
    return 0;
}
