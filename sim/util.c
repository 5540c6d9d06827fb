/* util.c - status messages, error records, text buffers, atomic writes. */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/snn.h"

const char *snn_strerror(int status) {
  static const char *const msgs[] = {
#define SNN_X_MSG(name, msg) msg,
      SNN_STATUS(SNN_X_MSG)
#undef SNN_X_MSG
  };
  if (status < 0 || status >= SNN_NSTATUS) return "unknown status";
  return msgs[status];
}

int snn_err_set(snn_err *e, int status, const char *file, const char *key, const char *fmt, ...) {
  if (!e) return status;
  e->status = status;
  snprintf(e->file, sizeof e->file, "%s", file ? file : "");
  snprintf(e->key, sizeof e->key, "%s", key ? key : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return status;
}

void snn_err_format(const snn_err *e, char *buf, size_t len) {
  const char *msg = e->msg[0] ? e->msg : snn_strerror(e->status);
  if (e->status == SNN_EJSON && e->file[0] && e->key[0]) /* the key is "line:column" */
    snprintf(buf, len, "%s:%s: %s", e->file, e->key, msg);
  else if (e->file[0] && e->key[0])
    snprintf(buf, len, "%s: key '%s': %s", e->file, e->key, msg);
  else if (e->file[0])
    snprintf(buf, len, "%s: %s", e->file, msg);
  else if (e->key[0])
    snprintf(buf, len, "'%s': %s", e->key, msg);
  else
    snprintf(buf, len, "%s", msg);
}

int snn_parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0') return -1;
  *out = v;
  return 0;
}

int snn_nums_init(snn_nums *a, size_t n) {
  a->n = n;
  a->s = NULL;
  a->v = calloc(n ? n : 1, sizeof *a->v);
  return a->v ? SNN_OK : SNN_ENOMEM;
}

void snn_nums_clear(snn_nums *a) {
  if (!a) return;
  if (a->s)
    for (size_t i = 0; i < a->n; i++) free(a->s[i]);
  free(a->s);
  free(a->v);
  a->v = NULL;
  a->s = NULL;
  a->n = 0;
}

int snn_nums_set_str(snn_nums *a, size_t i, const char *text) {
  if (!a->s) {
    a->s = calloc(a->n ? a->n : 1, sizeof *a->s);
    if (!a->s) return SNN_ENOMEM;
  }
  free(a->s[i]);
  a->s[i] = strdup(text);
  return a->s[i] ? SNN_OK : SNN_ENOMEM;
}

static void buf_reserve(snn_buf *b, size_t extra) {
  if (b->oom || b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = 1;
    return;
  }
  b->p = p;
  b->cap = cap;
}

void snn_buf_puts(snn_buf *b, const char *s) {
  size_t n = strlen(s);
  buf_reserve(b, n);
  if (b->oom) return;
  memcpy(b->p + b->len, s, n + 1);
  b->len += n;
}

void snn_buf_printf(snn_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = 1;
    return;
  }
  buf_reserve(b, (size_t)n);
  if (b->oom) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void snn_buf_free(snn_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

int snn_write_atomic(const char *path, const char *text, size_t len, snn_err *err) {
  char *dup = strdup(path);
  if (!dup) return snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  char tmpl[4096];
  snprintf(tmpl, sizeof tmpl, "%s/.%s.XXXXXX", dirname(dup), basename(strcpy(dup, path)));
  free(dup);
  int fd = mkstemp(tmpl);
  if (fd < 0) return snn_err_set(err, SNN_EIO, path, "", "cannot create a temporary file beside it: %s", strerror(errno));
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, text + done, len - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      unlink(tmpl);
      return snn_err_set(err, SNN_EIO, path, "", "write failed: %s", strerror(e));
    }
    done += (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    int e = errno;
    unlink(tmpl);
    return snn_err_set(err, SNN_EIO, path, "", "write failed: %s", strerror(e));
  }
  if (rename(tmpl, path) != 0) {
    int e = errno;
    unlink(tmpl);
    return snn_err_set(err, SNN_EIO, path, "", "cannot rename the temporary file into place: %s", strerror(e));
  }
  return SNN_OK;
}
