/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Between the hook binary (libc only) and its module: the operation, decided once by the
 * binary from libvirt's arguments. The two are installed apart (the binary is copied into
 * libvirt's hook directory at configure, the module replaced at unpack), so the module says
 * which version of this interface it speaks, and the binary runs only its own. */
#pragma once

/* Raise it at any change of FpHookOp or of fp_hook_run's meaning. */
#define FP_HOOK_ABI 2
/* The module exports this, holding FP_HOOK_ABI. */
#define FP_HOOK_ABI_SYMBOL "fp_hook_abi"

typedef enum {
    FP_HOOK_NOTHING, /* every other phase: the module is never loaded */
    FP_HOOK_PREPARE, /* prepare begin */
    FP_HOOK_START,   /* start begin, on AppArmor hosts: the claimed slot to a confined domain */
    FP_HOOK_RELEASE, /* release end */
    FP_HOOK_REWRITE, /* migrate begin, restore begin: the domain XML back on stdout */
} FpHookOp;

/* The module's entry: OP, and libvirt's arguments (DOMAIN OPERATION SUB-OPERATION EXTRA, XML on
 * stdin). Returns the hook's exit status. */
typedef int (*FpHookRun)(FpHookOp op, int argc, char **argv);
int fp_hook_run(FpHookOp op, int argc, char **argv);
extern const unsigned fp_hook_abi;
