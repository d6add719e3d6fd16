/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fastpass error domain: every fallible library call reports through GError. */
#pragma once

#include <glib.h>

#define FP_ERROR (fp_error_quark())

typedef enum {
    FP_ERROR_INPUT,   /* the caller's input is unusable: malformed, too big, bad address */
    FP_ERROR_IO,      /* a file could not be read or written */
    FP_ERROR_HOST,    /* host information is missing or inconsistent */
    FP_ERROR_TIMEOUT, /* the kernel did not answer within the deadline */
    FP_ERROR_REFUSED, /* unsafe to do: a device used by the host or by another domain */
} FpErrorCode;

GQuark fp_error_quark(void);
