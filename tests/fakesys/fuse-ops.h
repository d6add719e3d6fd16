/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuse-ops.h - the FUSE low-level operations that serve tree.c's
 * namespace. Low-level rather than high-level API because we choose inode
 * numbers: write-only attributes get a new one per lookup (see Inode in
 * fuse-ops.c), which the path-based high-level API cannot do. */
#pragma once

#include <glib.h>
#include <fuse_lowlevel.h>

#include "machine.h"

typedef struct FakesysFs FakesysFs;

FakesysFs *fakesys_fs_new(FakesysMachine *machine);
void fakesys_fs_free(FakesysFs *fs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakesysFs, fakesys_fs_free)

/* Pass fs as the userdata of fuse_session_new(). */
const struct fuse_lowlevel_ops *fakesys_fs_ops(void);
