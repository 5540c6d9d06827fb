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
/* The keys a network file knows (NULL-terminated): at the top for "", and in
 * "input", "layers" (one layer), "layers.delays", "readout", "loss", "spike"
 * and "gradient"; NULL for any other section. */
const char *const *snn_spec_keys(const char *section);

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
 * so that a failure never leaves a half-written file.  A symbolic link is
 * written through (its target replaced), an existing device or pipe written
 * directly, a folder refused; a new file gets the permissions the umask
 * allows, a replaced one keeps its own. */
int snn_write_atomic(const char *path, const char *text, size_t len, snn_err *err);

/* Several outputs, all or nothing: each is written to its temporary by
 * snn_outset_add; snn_outset_commit renames them all into place, and
 * snn_outset_abort (or a failed add) removes every temporary, so that a
 * failure leaves every output as it was.  The texts of device outputs must
 * live until the commit. */
#define SNN_OUTSET_MAX 8
typedef struct {
  char path[4096], target[4096], tmp[4200];
  int direct;
  const char *text;
  size_t len;
} snn_outfile;
typedef struct {
  int n;
  snn_outfile f[SNN_OUTSET_MAX];
} snn_outset;
void snn_outset_init(snn_outset *o);
int snn_outset_add(snn_outset *o, const char *path, const char *text, size_t len, snn_err *err);
int snn_outset_commit(snn_outset *o, snn_err *err);
void snn_outset_abort(snn_outset *o);

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
