/* rule.c - parsing name[:key=value,...] (SPEC.md section 8). */
#include <stdio.h>
#include <string.h>

#include "sim/engine.h"

const char *const snn_rule_names = "bptt, tbptt:window=W, rtrl, ostl[:traces=auto|diagonal|full,feedback=symmetric|random], eprop[:feedback=symmetric|random|adaptive,signal=online|ideal]";

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
