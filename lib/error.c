#include "error.h"

G_DEFINE_QUARK(fastpass-error-quark, fp_error)
