/* jsonget.h - reading typed, range-checked values from a JSON object, with
 * errors that name the file and the key (experiment and task files; the
 * network file has its own readers in spec.c, which warn on unknown keys). */
#ifndef SNN_JSONGET_H
#define SNN_JSONGET_H

#include <jansson.h>

#include "io/io.h"

/* o.key (reported as "where.key"): a number in [lo, hi], def when absent (o may be NULL). */
int snn_json_num(json_t *o, const char *file, const char *where, const char *key, double def, double lo, double hi,
                 double *out, snn_err *err);
/* ... an integer in [lo, hi]. */
int snn_json_size(json_t *o, const char *file, const char *where, const char *key, size_t def, size_t lo, size_t hi,
                  size_t *out, snn_err *err);
/* ... one of the NULL-terminated strings `choices` (its index). */
int snn_json_enum(json_t *o, const char *file, const char *where, const char *key, int def, const char *const *choices,
                  int *out, snn_err *err);
/* Every key of o is in the NULL-terminated `known`; else an error pointing to `doc`. */
int snn_json_keys(json_t *o, const char *file, const char *where, const char *const *known, const char *doc,
                  snn_err *err);

#endif
