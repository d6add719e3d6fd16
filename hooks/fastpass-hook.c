/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The libvirt hook, installed as /etc/libvirt/hooks/qemu.d/fastpass.
 * libvirt runs it as: fastpass-hook DOMAIN OPERATION SUB-OPERATION EXTRA, domain XML on stdin,
 * at every phase of every domain on the host. Most of those phases have nothing for fastpass to
 * do, so this binary needs nothing but libc: it returns at once for them, and loads the code
 * that does the work (hook-run.c with GLib, libxml2 and json-c, whose loading costs more than
 * the rest of an empty run) only for the operations that have any. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hook-run.h"

#define MODULE "fastpass-hook-run.so"

/* The module beside the binary this process runs (the build tree, or the install directory
 * when the hook is a symlink to it), else in the install directory. */
static void
module_path(char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;

    if (len > 0) {
        self[len] = '\0';
        slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, size, "%s/" MODULE, self);
            if (access(out, R_OK) == 0)
                return;
        }
    }
    snprintf(out, size, "%s/" MODULE, FP_HOOK_MODULE_DIR);
}

/* migrate/restore begin: libvirt takes stdout as the domain XML, so without the module it gets
 * back what it sent. */
static void
copy_stdin(void)
{
    char buf[65536];
    size_t n;

    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        fwrite(buf, 1, n, stdout);
    fflush(stdout);
}

/* libvirt confines each domain's QEMU with AppArmor only where the kernel has it; elsewhere
 * prepare begin claims no pool slot, so start begin has nothing to do. FASTPASS_SYSFS_ROOT (which
 * libvirt never passes to a hook) points it at an emulated sysfs, as for fastpass's commands. */
static int
apparmor_host(void)
{
    const char *root = getenv("FASTPASS_SYSFS_ROOT");
    char path[PATH_MAX];

    snprintf(path, sizeof path, "%s/kernel/security/apparmor", root && *root ? root : "/sys");
    return access(path, F_OK) == 0;
}

int
main(int argc, char **argv)
{
    const char *op = argc > 2 ? argv[2] : "", *sub = argc > 3 ? argv[3] : "";
    FpHookOp what = !strcmp(op, "prepare") && !strcmp(sub, "begin") ? FP_HOOK_PREPARE
                    /* libvirt writes a domain's AppArmor profile at start: only there is it work */
                    : !strcmp(op, "start") && !strcmp(sub, "begin") && apparmor_host()
                        ? FP_HOOK_START
                    : !strcmp(op, "release") && !strcmp(sub, "end") ? FP_HOOK_RELEASE
                    : (!strcmp(op, "migrate") || !strcmp(op, "restore")) && !strcmp(sub, "begin")
                        ? FP_HOOK_REWRITE
                        : FP_HOOK_NOTHING;
    char path[PATH_MAX + sizeof MODULE];
    void *module;
    const unsigned *abi = NULL;
    FpHookRun run = NULL;

    if (argc < 3) {
        fprintf(stderr,
                "usage: %s DOMAIN OPERATION SUB-OPERATION EXTRA  (run by libvirtd, XML on stdin)\n",
                argv[0]);
        return 2;
    }
    /* Every other operation costs nothing. */
    if (what == FP_HOOK_NOTHING)
        return 0;

    module_path(path, sizeof path);
    module = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (module)
        abi = dlsym(module, FP_HOOK_ABI_SYMBOL);
    if (abi && *abi == FP_HOOK_ABI)
        run = (FpHookRun)(void (*)(void))dlsym(module, "fp_hook_run");
    if (!run) {
        /* Refusing a start is louder than starting a VM whose devices were never prepared. A
         * module of another version (an upgrade half done) would misread the operation. */
        if (module && (!abi || *abi != FP_HOOK_ABI))
            fprintf(stderr,
                    "fastpass: cannot use the hook's code: %s speaks interface version %u, this "
                    "hook needs %u (reinstall fastpass)\n",
                    path, abi ? *abi : 1, FP_HOOK_ABI);
        else
            fprintf(stderr, "fastpass: cannot load the hook's code: %s\n", dlerror());
        if (what == FP_HOOK_REWRITE) {
            copy_stdin();
            return 0;
        }
        return 1;
    }
    return run(what, argc, argv);
}
