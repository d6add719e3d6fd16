/* Between the hook binary (libc only) and its module: the operation, decided once by the
 * binary from libvirt's arguments. */
#pragma once

typedef enum {
    FP_HOOK_NOTHING, /* every other phase: the module is never loaded */
    FP_HOOK_PREPARE, /* prepare begin */
    FP_HOOK_START, /* start begin, on AppArmor hosts: the claimed slot into the domain's profile */
    FP_HOOK_RELEASE, /* release end */
    FP_HOOK_REWRITE, /* migrate begin, restore begin: the domain XML back on stdout */
} FpHookOp;

/* The module's entry: OP, and libvirt's arguments (DOMAIN OPERATION SUB-OPERATION EXTRA, XML on
 * stdin). Returns the hook's exit status. */
typedef int (*FpHookRun)(FpHookOp op, int argc, char **argv);
int fp_hook_run(FpHookOp op, int argc, char **argv);
