/* io.h - the files of snngrad (docs/formats.md): network files, parameter
 * and gradient files, text buffers and atomic writes.  Precision-neutral:
 * numbers cross to the numeric builds as snn_nums (sim/snn.h). */
#ifndef SNN_IO_H
#define SNN_IO_H

#include "sim/snn.h"

int snn_spec_load(const char *path, snn_spec **out, snn_err *err);
/* Parse from a JSON text (path is only used in messages). */
int snn_spec_parse(const char *text, const char *path, snn_spec **out, snn_err *err);
void snn_spec_free(snn_spec *s);

/* Draw parameters, input and target from the spec's seed (what `init` writes). */
int snn_data_generate(const snn_spec *s, snn_data *d, snn_err *err);
int snn_data_load(const snn_spec *s, const char *path, snn_data *d, snn_err *err);
int snn_data_write(const snn_spec *s, const snn_data *d, const char *path, snn_err *err);
/* The body of a parameter file, without the closing brace (for files that add keys). */
typedef struct snn_buf snn_buf;
int snn_data_format(const snn_spec *s, const snn_data *d, snn_buf *b, const char *path, snn_err *err);
/* n numbers from offset off as a flat JSON array (decimal strings where present). */
void snn_nums_put(snn_buf *b, const snn_nums *a, size_t off, size_t n);

int snn_grads_write(const snn_spec *s, const snn_result *r, const char *path, snn_err *err);
int snn_grads_load(const snn_spec *s, const char *path, snn_result *r, snn_err *err);

/* Write `text` to `path` through a temporary in the same folder and a rename,
 * so that a failure never leaves a half-written file. */
int snn_write_atomic(const char *path, const char *text, size_t len, snn_err *err);

/* A growable text buffer used by the writers. */
struct snn_buf {
  char *p;
  size_t len, cap;
  int oom;
};
void snn_buf_printf(snn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void snn_buf_puts(snn_buf *b, const char *s);
void snn_buf_free(snn_buf *b);

#endif
