/* rule.c - parsing name[:key=value,...] (SPEC.md section 8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/engine.h"

const char *const snn_rule_names = "bptt, tbptt:window=W[,blocks=L], rtrl, fptt:chunks=K[,alpha=..,beta=..], ostl[:traces=auto|diagonal|full,feedback=symmetric|random], eprop[:feedback=symmetric|random|adaptive,signal=online|ideal]";

int snn_rule_parse(const char *text, snn_rule *r, snn_err *err) {
  memset(r, 0, sizeof *r);
  const char *colon = strchr(text, ':');
  size_t nlen = colon ? (size_t)(colon - text) : strlen(text);
  if (nlen == 0 || nlen >= sizeof r->name)
    return snn_err_set(err, SNN_EARG, "", "--rule", "expected NAME or NAME:key=value,..., found \"%s\"", text);
  memcpy(r->name, text, nlen);
  if (!colon) return SNN_OK;
  const char *p = colon + 1;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (!eq || eq == p || r->nopt >= SNN_RULE_MAXOPT || (size_t)(eq - p) >= sizeof r->key[0] ||
        len - (size_t)(eq - p) - 1 >= sizeof r->val[0] || len - (size_t)(eq - p) - 1 == 0)
      return snn_err_set(err, SNN_EARG, "", "--rule", "expected key=value options after '%s:', found \"%.*s\"", r->name,
                         (int)len, p);
    memcpy(r->key[r->nopt], p, (size_t)(eq - p));
    memcpy(r->val[r->nopt], eq + 1, len - (size_t)(eq - p) - 1);
    r->nopt++;
    p += len + (comma ? 1 : 0);
  }
  return SNN_OK;
}

int snn_fptt_parse(const snn_rule *r, size_t T, snn_fptt_opts *o, snn_err *err) {
  memset(o, 0, sizeof *o);
  o->chunks = 1, o->alpha = 0.1, o->beta = 0.5, o->rho = 0.0, o->c = 1.0;
  for (int i = 0; i < r->nopt; i++) {
    char *end;
    double v = strtod(r->val[i], &end);
    int ok = *end == 0 && end != r->val[i];
    if (!strcmp(r->key[i], "chunks") && ok && v >= 1 && v <= (double)T && v == (double)(long)v)
      o->chunks = (size_t)v;
    else if (!strcmp(r->key[i], "alpha") && ok && v > 0)
      o->alpha = v;
    else if (!strcmp(r->key[i], "beta") && ok && v > 0 && v <= 1)
      o->beta = v;
    else if (!strcmp(r->key[i], "rho") && ok)
      o->rho = v;
    else if (!strcmp(r->key[i], "lambda") && ok && v >= 0)
      o->c = v;
    else
      return snn_err_set(err, SNN_EARG, "", "--rule",
                         "fptt: bad option '%s=%s'; expected chunks=K (1 <= K <= steps = %zu), alpha > 0, beta in (0, 1], "
                         "rho, lambda >= 0",
                         r->key[i], r->val[i], T);
  }
  return SNN_OK;
}

