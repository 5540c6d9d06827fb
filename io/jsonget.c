/* jsonget.c - see jsonget.h. */
#include "io/jsonget.h"

#include <stdio.h>
#include <string.h>

static void keypath(char *kp, size_t n, const char *where, const char *key) {
  snprintf(kp, n, "%s%s%s", where, *where ? "." : "", key);
}

int snn_json_num(json_t *o, const char *file, const char *where, const char *key, double def, double lo, double hi,
                 double *out, snn_err *err) {
  json_t *v = o ? json_object_get(o, key) : NULL;
  if (!v) return *out = def, SNN_OK;
  char kp[96];
  keypath(kp, sizeof kp, where, key);
  if (!json_is_number(v)) return snn_err_set(err, SNN_EKEY, file, kp, "expected a number in [%g, %g]", lo, hi);
  double x = json_number_value(v);
  if (!(x >= lo && x <= hi))
    return snn_err_set(err, SNN_EVALUE, file, kp, "expected a number in [%g, %g], found %g", lo, hi, x);
  *out = x;
  return SNN_OK;
}

int snn_json_size(json_t *o, const char *file, const char *where, const char *key, size_t def, size_t lo, size_t hi,
                  size_t *out, snn_err *err) {
  json_t *v = o ? json_object_get(o, key) : NULL;
  if (!v) return *out = def, SNN_OK;
  char kp[96];
  keypath(kp, sizeof kp, where, key);
  if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo || json_integer_value(v) > (json_int_t)hi)
    return snn_err_set(err, SNN_EVALUE, file, kp, "expected an integer in [%zu, %zu]", lo, hi);
  *out = (size_t)json_integer_value(v);
  return SNN_OK;
}

int snn_json_keys(json_t *o, const char *file, const char *where, const char *const *known, const char *doc,
                  snn_err *err) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    int ok = 0;
    for (const char *const *q = known; *q; q++) ok |= !strcmp(*q, k);
    if (!ok) return snn_err_set(err, SNN_EKEY, file, where, "unknown key '%s' (%s lists the keys)", k, doc);
  }
  return SNN_OK;
}

int snn_json_enum(json_t *o, const char *file, const char *where, const char *key, int def, const char *const *choices,
                  int *out, snn_err *err) {
  json_t *v = o ? json_object_get(o, key) : NULL;
  if (!v) return *out = def, SNN_OK;
  char kp[96], list[256] = "";
  keypath(kp, sizeof kp, where, key);
  for (const char *const *q = choices; *q; q++) {
    size_t u = strlen(list);
    snprintf(list + u, sizeof list - u, "%s\"%s\"", q == choices ? "" : ", ", *q);
  }
  if (json_is_string(v))
    for (int i = 0; choices[i]; i++)
      if (!strcmp(choices[i], json_string_value(v))) return *out = i, SNN_OK;
  if (json_is_string(v))
    return snn_err_set(err, SNN_EVALUE, file, kp, "expected one of %s, found \"%s\"", list, json_string_value(v));
  return snn_err_set(err, SNN_EKEY, file, kp, "expected one of %s (a string)", list);
}
