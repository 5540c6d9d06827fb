/* write.c - growable text buffers and atomic file writes (a temporary in
 * the same folder, then a rename). */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"

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
