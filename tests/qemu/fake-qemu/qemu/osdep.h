/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stands in for QEMU's qemu/osdep.h when hw/vfio/dma-pieces.c is built outside QEMU: that file
 * needs only the C library and GLib, which is what the test checks by building it with this. */
#ifndef FAKE_QEMU_OSDEP_H
#define FAKE_QEMU_OSDEP_H
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#endif
