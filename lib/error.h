/* fastpass error domain: every fallible library call reports through GError. */
#pragma once

#include <glib.h>

#define FP_ERROR (fp_error_quark())

typedef enum {
    FP_ERROR_INPUT,   /* the caller's input is unusable: malformed, too big, bad address */
    FP_ERROR_IO,      /* a file could not be read or written */
    FP_ERROR_HOST,    /* host information is missing or inconsistent */
} FpErrorCode;

GQuark fp_error_quark(void);
