/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QEMU init time for one memory-backend configuration: exec -> QMP ready (with -S, after every
 * memory backend was created and preallocated), then `cont` -> running. Prints one line:
 *   LABEL init_ms cont_ms
 * usage: bench-qemu-init LABEL QEMU BACKEND-JSON SIZE-MIB   (the backend's id must be pc.ram) */
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static gboolean
read_line(FILE *in, GString *line)
{
    int c;

    g_string_truncate(line, 0);
    while ((c = fgetc(in)) != EOF && c != '\n')
        g_string_append_c(line, (char)c);
    return c != EOF || line->len;
}

/* Sends CMD and reads lines until one holds WANT (skipping events). */
static gboolean
qmp(FILE *out, FILE *in, const char *cmd, const char *want, GString *line)
{
    fprintf(out, "%s\n", cmd);
    fflush(out);
    while (read_line(in, line)) {
        if (strstr(line->str, want))
            return TRUE;
        if (strstr(line->str, "\"error\""))
            return FALSE;
    }
    return FALSE;
}

int
main(int argc, char **argv)
{
    int to_qemu[2], from_qemu[2];
    g_autofree char *mem = NULL;
    g_autoptr(GString) line = g_string_new(NULL);
    gint64 t0, t_ready, t_running;
    FILE *out, *in;
    pid_t pid;
    int status;

    if (argc != 5) {
        fprintf(stderr, "usage: bench-qemu-init LABEL QEMU BACKEND-JSON SIZE-MIB\n");
        return 2;
    }
    mem = g_strdup_printf("%sM", argv[4]);
    if (pipe(to_qemu) < 0 || pipe(from_qemu) < 0)
        return 1;
    t0 = g_get_monotonic_time();
    pid = fork();
    if (pid == 0) {
        dup2(to_qemu[0], 0);
        dup2(from_qemu[1], 1);
        close(to_qemu[1]);
        close(from_qemu[0]);
        execl(argv[2], argv[2], "-S", "-nodefaults", "-display", "none", "-machine",
              "q35,accel=tcg,memory-backend=pc.ram", "-m", mem, "-object", argv[3], "-qmp", "stdio",
              (char *)NULL);
        _exit(127);
    }
    close(to_qemu[0]);
    close(from_qemu[1]);
    out = fdopen(to_qemu[1], "w");
    in = fdopen(from_qemu[0], "r");
    if (!read_line(in, line) || !strstr(line->str, "\"QMP\"")) {
        fprintf(stderr, "%s: QEMU did not start (%s)\n", argv[1], line->str);
        waitpid(pid, &status, 0);
        return 1;
    }
    t_ready = g_get_monotonic_time();
    if (!qmp(out, in, "{\"execute\":\"qmp_capabilities\"}", "\"return\"", line) ||
        !qmp(out, in, "{\"execute\":\"cont\"}", "\"return\"", line) ||
        !qmp(out, in, "{\"execute\":\"query-status\"}", "\"running\"", line)) {
        fprintf(stderr, "%s: QMP failed: %s\n", argv[1], line->str);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return 1;
    }
    t_running = g_get_monotonic_time();
    qmp(out, in, "{\"execute\":\"quit\"}", "\"return\"", line);
    waitpid(pid, &status, 0);
    printf("%s %.1f %.1f\n", argv[1], (t_ready - t0) / 1000.0, (t_running - t_ready) / 1000.0);
    return 0;
}
