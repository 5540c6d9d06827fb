/* write.c - growable text buffers and atomic file writes (a temporary in
 * the same folder, then a rename). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Where the bytes for `path` go: through a symbolic link to its target (as
 * cp and shell redirection do), straight into an existing file that is not
 * a regular one (a device, a pipe: no rename possible), else through a
 * temporary beside it.  A folder is refused. */
enum { OUT_RENAME, OUT_DIRECT };
static int out_target(const char *path, char *target, size_t n, int *how, snn_err *err) {
  struct stat st;
  *how = OUT_RENAME;
  size_t len = strlen(path);
  if (len + 1 > n)
    return snn_err_set(err, SNN_EIO, "", "", "the output path is too long (%zu characters; at most %zu): ...%s", len,
                       n - 1, path + len - 60);
  snprintf(target, n, "%s", path);
  if (lstat(path, &st) != 0) return SNN_OK; /* a new file */
  if (S_ISLNK(st.st_mode)) {
    char *real = realpath(path, NULL);
    if (real) {
      if (strlen(real) + 1 > n) {
        free(real);
        return snn_err_set(err, SNN_EIO, path, "", "the path is too long");
      }
      snprintf(target, n, "%s", real);
      free(real);
    }
    if (stat(path, &st) != 0) return SNN_OK; /* a dangling link: create its target */
  }
  if (S_ISDIR(st.st_mode)) return snn_err_set(err, SNN_EIO, path, "", "is a folder; expected a file name");
  if (!S_ISREG(st.st_mode)) *how = OUT_DIRECT;
  return SNN_OK;
}

static int write_all(int fd, const char *text, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, text + done, len - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    done += (size_t)w;
  }
  return 0;
}

void snn_outset_init(snn_outset *o) {
  memset(o, 0, sizeof *o);
}

int snn_outset_add(snn_outset *o, const char *path, const char *text, size_t len, snn_err *err) {
  if (o->n >= SNN_OUTSET_MAX) return snn_err_set(err, SNN_EIO, path, "", "too many outputs at once");
  snn_outfile *f = &o->f[o->n];
  memset(f, 0, sizeof *f);
  int st = out_target(path, f->target, sizeof f->target, &f->direct, err);
  if (st) return st;
  snprintf(f->path, sizeof f->path, "%s", path);
  if (f->direct == OUT_DIRECT) { /* nothing to stage: written at commit */
    f->text = text, f->len = len;
    o->n++;
    return SNN_OK;
  }
  /* dirname and basename may modify their argument: one copy each */
  char d[sizeof f->target], b[sizeof f->target];
  snprintf(d, sizeof d, "%s", f->target);
  snprintf(b, sizeof b, "%s", f->target);
  if ((size_t)snprintf(f->tmp, sizeof f->tmp, "%s/.%s.XXXXXX", dirname(d), basename(b)) >= sizeof f->tmp)
    return snn_err_set(err, SNN_EIO, path, "", "the path is too long");
  int fd = mkstemp(f->tmp);
  if (fd < 0) {
    f->tmp[0] = 0;
    return snn_err_set(err, SNN_EIO, path, "", "cannot create a temporary file beside it: %s", strerror(errno));
  }
  o->n++;
  /* the permissions a new file gets from the umask (mkstemp makes 0600),
   * or those of the file it replaces */
  struct stat old;
  mode_t mask = umask(0);
  umask(mask);
  mode_t mode = stat(f->target, &old) == 0 ? (old.st_mode & 07777) : (0666 & ~mask);
  if (fchmod(fd, mode) != 0 || write_all(fd, text, len) != 0 || fsync(fd) != 0) {
    int e = errno;
    close(fd);
    return snn_err_set(err, SNN_EIO, path, "", "write failed: %s", strerror(e));
  }
  if (close(fd) != 0) return snn_err_set(err, SNN_EIO, path, "", "write failed: %s", strerror(errno));
  return SNN_OK;
}

int snn_outset_commit(snn_outset *o, snn_err *err) {
  int st = SNN_OK;
  for (int i = 0; i < o->n && !st; i++) {
    snn_outfile *f = &o->f[i];
    if (f->direct == OUT_DIRECT) {
      int fd = open(f->target, O_WRONLY | O_TRUNC);
      if (fd < 0 || write_all(fd, f->text, f->len) != 0)
        st = snn_err_set(err, SNN_EIO, f->path, "", "write failed: %s", strerror(errno));
      if (fd >= 0) close(fd);
    } else if (rename(f->tmp, f->target) != 0) {
      st = snn_err_set(err, SNN_EIO, f->path, "", "cannot rename the temporary file into place: %s", strerror(errno));
    } else {
      f->tmp[0] = 0;
    }
  }
  snn_outset_abort(o);
  return st;
}

void snn_outset_abort(snn_outset *o) {
  for (int i = 0; i < o->n; i++)
    if (o->f[i].tmp[0]) unlink(o->f[i].tmp), o->f[i].tmp[0] = 0;
  o->n = 0;
}

int snn_write_atomic(const char *path, const char *text, size_t len, snn_err *err) {
  snn_outset o;
  snn_outset_init(&o);
  int st = snn_outset_add(&o, path, text, len, err);
  if (!st) return snn_outset_commit(&o, err);
  snn_outset_abort(&o);
  return st;
}
