/* status.c - status messages, error records and the containers that carry
 * numbers between the files and the two numeric builds.  The one file in
 * sim/ that formats text (vsnprintf, into an error record): nothing here
 * prints, opens a file or exits. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/engine.h"

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

int snn_format(char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(buf, n, fmt, ap);
  va_end(ap);
  return r;
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

void snn_data_clear(snn_data *d) {
  if (!d) return;
  snn_nums_clear(&d->theta);
  snn_nums_clear(&d->x);
  snn_nums_clear(&d->y);
}

int snn_result_init(snn_result *r, const snn_spec *s) {
  memset(r, 0, sizeof *r);
  r->crossings = calloc(s->L, sizeof *r->crossings);
  r->spikes = calloc(s->L, sizeof *r->spikes);
  if (!r->crossings || !r->spikes || snn_nums_init(&r->loss, 1) || snn_nums_init(&r->grad, s->P)) {
    snn_result_clear(r);
    return SNN_ENOMEM;
  }
  return SNN_OK;
}

void snn_result_clear(snn_result *r) {
  if (!r) return;
  snn_nums_clear(&r->loss);
  snn_nums_clear(&r->grad);
  free(r->crossings);
  free(r->spikes);
  r->crossings = NULL;
  r->spikes = NULL;
}

int snn_decimal_ok(const char *t) {
  const char *p = t + (*t == '-' || *t == '+');
  int digits = 0;
  while (*p >= '0' && *p <= '9') p++, digits++;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++) digits++;
  if (!digits) return 0;
  if (*p == 'e' || *p == 'E') {
    p += 1 + (p[1] == '-' || p[1] == '+');
    if (!(*p >= '0' && *p <= '9')) return 0;
    while (*p >= '0' && *p <= '9') p++;
  }
  return *p == 0;
}

int snn_explain_init(snn_explain *x, size_t T) {
  memset(x, 0, sizeof *x);
  x->T = T;
  double **v[8] = {&x->bptt_delta, &x->bptt_local, &x->bptt_term, &x->bptt_sum,
                   &x->rule_sig,   &x->rule_trace, &x->rule_term, &x->rule_sum};
  for (int i = 0; i < 8; i++)
    if (!(*v[i] = calloc(T + 1, sizeof **v[i]))) return snn_explain_clear(x), SNN_ENOMEM;
  if (snn_nums_init(&x->total_bptt, 1) || snn_nums_init(&x->total_rule, 1)) return snn_explain_clear(x), SNN_ENOMEM;
  return SNN_OK;
}

void snn_explain_clear(snn_explain *x) {
  free(x->bptt_delta), free(x->bptt_local), free(x->bptt_term), free(x->bptt_sum);
  free(x->rule_sig), free(x->rule_trace), free(x->rule_term), free(x->rule_sum);
  snn_nums_clear(&x->total_bptt);
  snn_nums_clear(&x->total_rule);
  memset(x, 0, sizeof *x);
}
