/* spec.c - reading and validating a network file (SPEC.md sections 3-7).
 *
 * Every failure names the file, the key as a JSON path and what was expected.
 * Keys the project does not know are not an error (outside files may carry
 * comments); they are listed in spec->warnings for the CLI to print. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "models/model.h"

typedef struct {
  const char *file;
  snn_err *err;
  snn_spec *s;
} pctx;

static void warn(pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(pctx *p, const char *fmt, ...) {
  size_t used = strlen(p->s->warnings);
  if (used + 2 >= sizeof p->s->warnings) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->s->warnings + used, sizeof p->s->warnings - used, fmt, ap);
  va_end(ap);
  used = strlen(p->s->warnings);
  if (used + 1 < sizeof p->s->warnings) strcat(p->s->warnings, "\n");
}

/* Warn about keys of `obj` that are not in the NULL-terminated `known`. */
static void check_keys(pctx *p, json_t *obj, const char *where, const char *const *known) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    int ok = 0;
    for (const char *const *q = known; *q; q++)
      if (!strcmp(*q, k)) ok = 1;
    if (!ok) warn(p, "%s: unknown key '%s%s%s' ignored", p->file, where, *where ? "." : "", k);
  }
}

static int fail(pctx *p, int st, const char *key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(pctx *p, int st, const char *key, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return snn_err_set(p->err, st, p->file, key, "%s", msg);
}

static void keypath(char *buf, size_t n, const char *where, const char *key) {
  snprintf(buf, n, "%s%s%s", where, *where ? "." : "", key);
}

static const char *json_kind(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT:
      return "an object";
    case JSON_ARRAY:
      return "an array";
    case JSON_STRING:
      return "a string";
    case JSON_INTEGER:
      return "an integer";
    case JSON_REAL:
      return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
      return "a boolean";
    default:
      return "null";
  }
}

/* A number in [lo, hi] (open ends where asked); absent gives `def`, or an
 * error if `required`. */
static int get_num(pctx *p, json_t *obj, const char *where, const char *key, int required, double def, double lo,
                   int lo_open, double hi, int hi_open, double *out) {
  char kp[160];
  keypath(kp, sizeof kp, where, key);
  json_t *v = obj ? json_object_get(obj, key) : NULL;
  if (!v) {
    if (required) return fail(p, SNN_EKEY, kp, "missing; expected a number");
    *out = def;
    return SNN_OK;
  }
  if (!json_is_number(v)) return fail(p, SNN_EKEY, kp, "expected a number, found %s", json_kind(v));
  double x = json_number_value(v);
  int bad = !isfinite(x) || (lo_open ? x <= lo : x < lo) || (hi_open ? x >= hi : x > hi);
  if (bad) {
    char lb[40], hb[40];
    snprintf(lb, sizeof lb, "%s%g", lo_open ? "(" : "[", lo);
    snprintf(hb, sizeof hb, "%g%s", hi, hi_open ? ")" : "]");
    return fail(p, SNN_EVALUE, kp, "expected a number in %s, %s, found %g", lb, hb, x);
  }
  *out = x;
  return SNN_OK;
}

static int get_size(pctx *p, json_t *obj, const char *where, const char *key, int required, long def, long lo, long hi,
                    long *out) {
  char kp[160];
  keypath(kp, sizeof kp, where, key);
  json_t *v = obj ? json_object_get(obj, key) : NULL;
  if (!v) {
    if (required) return fail(p, SNN_EKEY, kp, "missing; expected an integer in [%ld, %ld]", lo, hi);
    *out = def;
    return SNN_OK;
  }
  if (!json_is_integer(v))
    return fail(p, SNN_EKEY, kp, "expected an integer in [%ld, %ld], found %s", lo, hi, json_kind(v));
  json_int_t x = json_integer_value(v);
  if (x < lo || x > hi)
    return fail(p, SNN_EVALUE, kp, "expected an integer in [%ld, %ld], found %lld", lo, hi, (long long)x);
  *out = (long)x;
  return SNN_OK;
}

/* One of the NULL-terminated `choices`; absent gives index `def`. */
static int get_enum(pctx *p, json_t *obj, const char *where, const char *key, int def, const char *const *choices,
                    int *out) {
  char kp[160], list[256] = "";
  keypath(kp, sizeof kp, where, key);
  for (const char *const *q = choices; *q; q++) {
    if (q != choices) strncat(list, ", ", sizeof list - strlen(list) - 1);
    strncat(list, "\"", sizeof list - strlen(list) - 1);
    strncat(list, *q, sizeof list - strlen(list) - 1);
    strncat(list, "\"", sizeof list - strlen(list) - 1);
  }
  json_t *v = obj ? json_object_get(obj, key) : NULL;
  if (!v) {
    if (def < 0) return fail(p, SNN_EKEY, kp, "missing; expected one of %s", list);
    *out = def;
    return SNN_OK;
  }
  if (!json_is_string(v)) return fail(p, SNN_EKEY, kp, "expected one of %s, found %s", list, json_kind(v));
  for (int i = 0; choices[i]; i++)
    if (!strcmp(choices[i], json_string_value(v))) {
      *out = i;
      return SNN_OK;
    }
  return fail(p, SNN_EVALUE, kp, "expected one of %s, found \"%s\"", list, json_string_value(v));
}

static int get_bool(pctx *p, json_t *obj, const char *where, const char *key, int def, int *out) {
  char kp[160];
  keypath(kp, sizeof kp, where, key);
  json_t *v = obj ? json_object_get(obj, key) : NULL;
  if (!v) {
    *out = def;
    return SNN_OK;
  }
  if (!json_is_boolean(v)) return fail(p, SNN_EKEY, kp, "expected true or false, found %s", json_kind(v));
  *out = json_is_true(v);
  return SNN_OK;
}

/* An optional sub-object. */
static int get_obj(pctx *p, json_t *obj, const char *where, const char *key, int required, json_t **out) {
  char kp[160];
  keypath(kp, sizeof kp, where, key);
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v) return required ? fail(p, SNN_EKEY, kp, "missing; expected an object") : SNN_OK;
  if (!json_is_object(v)) return fail(p, SNN_EKEY, kp, "expected an object, found %s", json_kind(v));
  *out = v;
  return SNN_OK;
}

#define TRY(x)                     \
  do {                             \
    int st_ = (x);                 \
    if (st_ != SNN_OK) return st_; \
  } while (0)

static const char *const k_top[] = {"seed", "steps", "dt",       "input",       "layers",  "readout",
                                    "loss", "spike", "gradient", "description", "comment", NULL};
static const char *const k_input[] = {"size", "kind", "rate", "mean", "std", NULL};
static const char *const k_layer[] = {"model",       "size",       "recurrent",     "tau_mem",    "threshold",
                                      "tau_adapt",   "beta",       "decay",         "activation", "reset",
                                      "input_scale", "train",      "w_scale",       "w_mean",     "rec_scale",
                                      "a",           "b",          "bounds",        "delays",     "self_connections",
                                      "alpha",       "beta_adapt", "initial_state", "batch_norm", "separate_biases",
                                      NULL};
static const char *const k_bn[] = {"momentum", "eps", "gamma", NULL};
static const char *const k_delays[] = {"max", "kernel", "sigma", "round", "init", NULL};
static const char *const k_readout[] = {"size", "tau_out", "batch_norm", NULL};
static const char *const k_loss[] = {"kind", "window", "target", "label", "rate_reg", NULL};
static const char *const k_spike[] = {"forward", "surrogate", "slope", "gamma", NULL};
static const char *const k_grad[] = {"reset", "recurrent", NULL};

const char *const *snn_spec_keys(const char *section) {
  static const struct {
    const char *name;
    const char *const *keys;
  } secs[] = {{"", k_top},
              {"input", k_input},
              {"layers", k_layer},
              {"layers.delays", k_delays},
              {"readout", k_readout},
              {"layers.batch_norm", k_bn},
              {"loss", k_loss},
              {"spike", k_spike},
              {"gradient", k_grad}};
  for (size_t i = 0; i < sizeof secs / sizeof *secs; i++)
    if (!strcmp(secs[i].name, section)) return secs[i].keys;
  return NULL;
}

/* "delays": {"max": D, "kernel": "linear"|"gaussian", "sigma": s,
 * "round": false, "init": [lo, hi]} on the layer's input projection. */
static int parse_delays(pctx *p, json_t *lj, const char *w, snn_layer_spec *ly) {
  char kp[160];
  keypath(kp, sizeof kp, w, "delays");
  json_t *d;
  TRY(get_obj(p, lj, w, "delays", 0, &d));
  ly->delays = d != NULL;
  if (!d) return SNN_OK;
  check_keys(p, d, kp, k_delays);
  long mx = 0;
  TRY(get_size(p, d, kp, "max", 1, 0, 1, 4096, &mx));
  ly->dmax = (size_t)mx;
  static const char *const kern[] = {"linear", "gaussian", NULL};
  TRY(get_enum(p, d, kp, "kernel", 0, kern, &ly->dkernel));
  TRY(get_num(p, d, kp, "sigma", 0, 0.5, 0, 1, INFINITY, 0, &ly->dsigma));
  TRY(get_bool(p, d, kp, "round", 0, &ly->dround));
  ly->dinit_lo = 0, ly->dinit_hi = (double)mx;
  json_t *in = json_object_get(d, "init");
  if (in) {
    char ki[200];
    keypath(ki, sizeof ki, kp, "init");
    if (!json_is_array(in) || json_array_size(in) != 2 || !json_is_number(json_array_get(in, 0)) ||
        !json_is_number(json_array_get(in, 1)))
      return fail(p, SNN_EKEY, ki, "expected [lo, hi], two numbers (steps)");
    ly->dinit_lo = json_number_value(json_array_get(in, 0));
    ly->dinit_hi = json_number_value(json_array_get(in, 1));
    if (!(ly->dinit_lo >= 0 && ly->dinit_lo <= ly->dinit_hi && ly->dinit_hi <= (double)mx))
      return fail(p, SNN_EVALUE, ki, "expected 0 <= lo <= hi <= max (%ld), found [%g, %g]", mx, ly->dinit_lo,
                  ly->dinit_hi);
  }
  return SNN_OK;
}

/* batch_norm (of a layer or the readout): false, true (the defaults) or
 * {"momentum", "eps", "gamma"}. */
static int parse_bn(pctx *p, json_t *lj, const char *w, int *on, double *mom, double *eps, double *gamma) {
  char kp[160];
  keypath(kp, sizeof kp, w, "batch_norm");
  json_t *b = json_object_get(lj, "batch_norm");
  *mom = 0.1, *eps = 1e-5, *gamma = 1.0;
  *on = b && !json_is_false(b);
  if (!b || json_is_boolean(b)) return SNN_OK;
  if (!json_is_object(b))
    return fail(p, SNN_EKEY, kp, "expected true, false or an object {\"momentum\", \"eps\", \"gamma\"}, found %s",
                json_kind(b));
  check_keys(p, b, kp, k_bn);
  TRY(get_num(p, b, kp, "momentum", 0, 0.1, 0, 1, 1, 0, mom));
  TRY(get_num(p, b, kp, "eps", 0, 1e-5, 0, 1, INFINITY, 0, eps));
  return get_num(p, b, kp, "gamma", 0, 1.0, -INFINITY, 0, INFINITY, 0, gamma);
}

/* input_scale: 1 (number or string) or "1-alpha". */
static int get_input_scale(pctx *p, json_t *lj, const char *w, int *out) {
  json_t *is = json_object_get(lj, "input_scale");
  *out = 0;
  if (!is) return SNN_OK;
  char kp[160];
  keypath(kp, sizeof kp, w, "input_scale");
  if ((json_is_number(is) && json_number_value(is) == 1.0) ||
      (json_is_string(is) && !strcmp(json_string_value(is), "1")))
    *out = 0;
  else if (json_is_string(is) && !strcmp(json_string_value(is), "1-alpha"))
    *out = 1;
  else
    return fail(p, SNN_EVALUE, kp, "expected 1 or \"1-alpha\"");
  return SNN_OK;
}

/* One of the model keys (models/model.h) with its generic range; the
 * model's own default where it has one. */
static int get_model_key(pctx *p, json_t *lj, const char *w, const snn_model_type *mt, int k, double *num, int *en) {
  static const char *const acts[] = {"identity", "relu", NULL};
  static const char *const resets[] = {"none", "subtract", NULL};
  static const char *const bnd[] = {"clamp", "project", "none", NULL};
  const char *key = snn_model_key_names[k];
  double def = isnan(mt->defaults[k]) ? snn_model_key_defaults[k] : mt->defaults[k];
  switch (k) {
    case SNN_KEY_TAU_MEM:
    case SNN_KEY_THRESHOLD:
    case SNN_KEY_TAU_ADAPT:
      return get_num(p, lj, w, key, 0, def, 0, 1, INFINITY, 0, num);
    case SNN_KEY_DECAY:
    case SNN_KEY_ALPHA:
    case SNN_KEY_BETA_ADAPT:
      return get_num(p, lj, w, key, 0, def, 0, 0, 1, 1, num);
    case SNN_KEY_BETA:
    case SNN_KEY_A:
    case SNN_KEY_B:
      return get_num(p, lj, w, key, 0, def, -INFINITY, 0, INFINITY, 0, num);
    case SNN_KEY_ACTIVATION:
      return get_enum(p, lj, w, key, 0, acts, en);
    case SNN_KEY_RESET:
      return get_enum(p, lj, w, key, 1, resets, en);
    case SNN_KEY_BOUNDS:
      return get_enum(p, lj, w, key, 0, bnd, en);
    default:
      return get_input_scale(p, lj, w, en);
  }
}

/* The model's keys and its per-neuron constants; keys the model gives no
 * meaning to are warned about. */
static int parse_model_keys(pctx *p, json_t *lj, const char *w, snn_layer_spec *ly) {
  const snn_model_type *mt = ly->mt;
  double num[SNN_NKEYS] = {0};
  int en[SNN_NKEYS] = {0};
  en[SNN_KEY_RESET] = mt->reset == SNN_RESET_SUBTRACT;
  en[SNN_KEY_INPUT_SCALE] = mt->input_scale_1ma;
  for (int k = 0; k < SNN_NKEYS; k++) {
    if (mt->keys & (1u << k))
      TRY(get_model_key(p, lj, w, mt, k, &num[k], &en[k]));
    else if (json_object_get(lj, snn_model_key_names[k]))
      warn(p, "%s: key '%s.%s' has no meaning for model %s; ignored", p->file, w, snn_model_key_names[k], mt->name);
  }
  ly->act_relu = en[SNN_KEY_ACTIVATION];
  ly->reset_subtract = en[SNN_KEY_RESET];
  ly->input_scale_1ma = en[SNN_KEY_INPUT_SCALE];
  ly->bounds = en[SNN_KEY_BOUNDS];
  for (int c = 0; c < mt->nconst; c++) {
    ly->consts[c] = mt->const_factor[c] * num[mt->const_key[c]];
    double lo, hi;
    if (snn_model_const_bounds(ly, c, &lo, &hi) && (ly->consts[c] < lo || ly->consts[c] > hi)) {
      char kp[160];
      keypath(kp, sizeof kp, w, mt->consts[c]);
      return fail(p, SNN_EVALUE, kp, "with \"bounds\": \"project\" the value must lie in [%g, %g], found %g", lo, hi,
                  ly->consts[c]);
    }
  }
  return SNN_OK;
}

static int parse_layer(pctx *p, json_t *lj, size_t i, size_t nprev) {
  snn_spec *s = p->s;
  snn_layer_spec *ly = &s->layers[i];
  char w[32];
  snprintf(w, sizeof w, "layers[%zu]", i);
  if (!json_is_object(lj)) return fail(p, SNN_EKEY, w, "expected an object, found %s", json_kind(lj));
  check_keys(p, lj, w, k_layer);
  const char *models[16];
  int nm = 0, mi;
  for (const snn_model_type *const *m = snn_models; *m && nm < 15; m++) models[nm++] = (*m)->name;
  models[nm] = NULL;
  TRY(get_enum(p, lj, w, "model", -1, models, &mi));
  ly->mt = snn_models[mi];
  ly->dt = s->dt;
  ly->shape = ly->mt->shape;
  ly->sh = &ly->shape;
  ly->nconst = ly->mt->nconst;
  ly->cell_d = ly->mt->cell_d;
  ly->cell_mp = ly->mt->cell_mp;
  long n = 0;
  TRY(get_size(p, lj, w, "size", 1, 0, 1, 1L << 20, &n));
  ly->n = (size_t)n;
  ly->nprev = nprev;
  TRY(get_bool(p, lj, w, "recurrent", 0, &ly->recurrent));
  /* w_rec's diagonal: the model's choice (gated cells keep it, spiking ones
   * hold it at 0), or the layer's, e.g. true for LTC as in Yin et al.'s code */
  TRY(get_bool(p, lj, w, "self_connections", ly->mt->shape.selfconn, &ly->shape.selfconn));
  TRY(parse_model_keys(p, lj, w, ly));
  /* the state at t = 0: zero (the definition), or the reference code's draw */
  static const char *const inits[] = {"zero", "uniform", NULL};
  TRY(get_enum(p, lj, w, "initial_state", 0, inits, &ly->init_uniform));
  if (ly->init_uniform && !ly->mt->initial_uniform) {
    char kp[160];
    keypath(kp, sizeof kp, w, "initial_state");
    return fail(p, SNN_EVALUE, kp,
                "\"uniform\" is defined for ltc (v ~ U(0, 1), b = threshold, as Yin et al.'s code) and adlif, "
                "adlif_sparch (u, w, z ~ U(0, 1), as sparch's); this layer's model is %s: expected \"zero\"",
                ly->mt->name);
  }
  ly->has_reset = snn_model_has_reset(ly);
  ly->stateful = snn_model_carries_state(ly);
  TRY(get_num(p, lj, w, "w_scale", 0, 1.0, 0, 0, INFINITY, 0, &ly->w_scale));
  TRY(get_num(p, lj, w, "w_mean", 0, 0.0, -INFINITY, 0, INFINITY, 0, &ly->w_mean));
  TRY(get_num(p, lj, w, "rec_scale", 0, 1.0, 0, 0, INFINITY, 0, &ly->rec_scale));
  TRY(get_bool(p, lj, w, "separate_biases", 0, &ly->sep_bias));
  if (ly->sep_bias && (!ly->sh->bias || !ly->recurrent)) {
    char kp[160];
    keypath(kp, sizeof kp, w, "separate_biases");
    return fail(p, SNN_EVALUE, kp,
                "a second bias on the recurrent currents needs a recurrent layer of a model with biases (ltc, lstm, "
                "gru); this layer is %s%s: expected false",
                ly->recurrent ? "" : "not recurrent, ", ly->mt->name);
  }
  TRY(parse_delays(p, lj, w, ly));
  return parse_bn(p, lj, w, &ly->bn, &ly->bn_momentum, &ly->bn_eps, &ly->bn_gamma);
}

/* The extra trainable blocks of a layer besides w_in, w_rec and constants. */
static int extra_names(const snn_layer_spec *ly, const char **nm) {
  int k = 0;
  if (ly->sh->bias) nm[k++] = "bias";
  if (ly->sep_bias) nm[k++] = "bias_rec";
  for (int j = 0; j < ly->sh->nmix; j++) nm[k++] = ly->sh->mix[j].name;
  if (ly->delays) nm[k++] = "delay";
  if (ly->bn) nm[k++] = "bn_in_gamma", nm[k++] = "bn_in_beta";
  if (ly->bn && ly->recurrent) nm[k++] = "bn_rec_gamma", nm[k++] = "bn_rec_beta";
  return k;
}

static snn_block *add_block(snn_spec *s, int kind, size_t layer, const char *nm, size_t rows, size_t cols,
                            int trainable, size_t *off) {
  snn_block *b = &s->blk[s->nblk++];
  snprintf(b->name, sizeof b->name, "layer%zu.%s", layer, nm);
  b->kind = kind, b->layer = (int)layer, b->rows = rows, b->cols = cols;
  b->trainable = trainable, b->in_params = 1, b->off = *off, *off += rows * cols;
  return b;
}

/* The train list and the parameter blocks of one layer. */
static int layout_layer(pctx *p, json_t *lj, size_t i, size_t *off) {
  snn_spec *s = p->s;
  snn_layer_spec *ly = &s->layers[i];
  const snn_model_shape *sh = ly->sh;
  char w[32], kp[160];
  snprintf(w, sizeof w, "layers[%zu]", i);
  keypath(kp, sizeof kp, w, "train");
  const snn_model_type *mt = ly->mt;
  int nc = mt->nconst;
  const char *xn[7 + SNN_MAXMIX];
  int nx = extra_names(ly, xn);
  /* default: every weight block (w_in, w_rec if recurrent, bias, mixes,
   * delays; bias for snu) */
  int t_in = 1, t_rec = ly->recurrent, t_c[SNN_MAXCONST] = {0}, t_x[7 + SNN_MAXMIX];
  for (int j = 0; j < nx; j++) t_x[j] = 1;
  for (int c = 0; c < nc; c++) t_c[c] = (mt->train_default >> c) & 1;
  json_t *tr = json_object_get(lj, "train");
  if (tr) {
    if (!json_is_array(tr))
      return fail(p, SNN_EKEY, kp, "expected an array of parameter names, found %s", json_kind(tr));
    t_in = t_rec = 0;
    memset(t_c, 0, sizeof t_c);
    memset(t_x, 0, sizeof t_x);
    size_t j;
    json_t *e;
    char allowed[400];
    snprintf(allowed, sizeof allowed, "\"w_in\"%s", ly->recurrent ? ", \"w_rec\"" : "");
    for (int c = 0; c < nc + nx; c++) {
      strncat(allowed, ", \"", sizeof allowed - strlen(allowed) - 1);
      strncat(allowed, c < nc ? mt->consts[c] : xn[c - nc], sizeof allowed - strlen(allowed) - 1);
      strncat(allowed, "\"", sizeof allowed - strlen(allowed) - 1);
    }
    json_array_foreach(tr, j, e) {
      char ke[200];
      snprintf(ke, sizeof ke, "%s[%zu]", kp, j);
      if (!json_is_string(e))
        return fail(p, SNN_EKEY, ke, "expected a parameter name (string), found %s", json_kind(e));
      const char *nm = json_string_value(e);
      if (!strcmp(nm, "w_in")) {
        t_in = 1;
        continue;
      }
      if (!strcmp(nm, "w_rec")) {
        if (!ly->recurrent)
          return fail(p, SNN_EVALUE, ke,
                      "\"w_rec\" is trainable only in a recurrent layer (set \"recurrent\": true); expected one of %s",
                      allowed);
        t_rec = 1;
        continue;
      }
      int found = 0;
      for (int c = 0; c < nc; c++)
        if (!strcmp(nm, mt->consts[c])) t_c[c] = found = 1;
      for (int c = 0; c < nx; c++)
        if (!strcmp(nm, xn[c])) t_x[c] = found = 1;
      if (!found && ly->bn && (!strncmp(nm, "bn_in_", 6) || (ly->recurrent && !strncmp(nm, "bn_rec_", 7))) &&
          (strstr(nm, "_mean") || strstr(nm, "_var")))
        return fail(p, SNN_EVALUE, ke,
                    "\"%s\" is a running statistic of batch_norm, updated by training and never by the optimiser; "
                    "expected one of %s",
                    nm, allowed);
      if (!found)
        return fail(p, SNN_EVALUE, ke, "model %s%s has no parameter \"%s\"; expected one of %s", mt->name,
                    ly->delays ? " with delays" : "", nm, allowed);
    }
  }
  snn_block *b;
  ly->blk_w_in = (int)s->nblk;
  add_block(s, SNN_BLK_W_IN, i, "w_in", (size_t)sh->nin * ly->n, ly->nprev, t_in, off);
  ly->blk_w_rec = -1;
  if (ly->recurrent) {
    ly->blk_w_rec = (int)s->nblk;
    add_block(s, SNN_BLK_W_REC, i, "w_rec", (size_t)sh->nrec * ly->n, ly->n, t_rec, off);
  }
  for (int c = 0; c < SNN_MAXCONST; c++) ly->blk_const[c] = -1;
  for (int c = 0; c < nc; c++) {
    ly->blk_const[c] = (int)s->nblk;
    b = add_block(s, SNN_BLK_CONST, i, mt->consts[c], ly->n, 1, t_c[c], off);
    b->cidx = c;
    b->in_params = t_c[c] || ((mt->in_params_always >> c) & 1);
  }
  int x = 0;
  ly->blk_bias = ly->blk_delay = -1;
  for (int j = 0; j < SNN_MAXMIX; j++) ly->blk_mix[j] = -1;
  if (sh->bias) {
    ly->blk_bias = (int)s->nblk;
    add_block(s, SNN_BLK_BIAS, i, "bias", (size_t)sh->m * ly->n, 1, t_x[x++], off);
  }
  ly->blk_bias_rec = -1;
  if (ly->sep_bias) {
    ly->blk_bias_rec = (int)s->nblk;
    b = add_block(s, SNN_BLK_BIAS, i, "bias_rec", (size_t)sh->nrec * ly->n, 1, t_x[x++], off);
    b->cidx = 1;
  }
  for (int j = 0; j < sh->nmix; j++) {
    ly->blk_mix[j] = (int)s->nblk;
    b = add_block(s, SNN_BLK_MIX, i, sh->mix[j].name, ly->n, (size_t)sh->mix[j].nsrc * ly->n, t_x[x++], off);
    b->cidx = j;
  }
  if (ly->delays) {
    ly->blk_delay = (int)s->nblk;
    add_block(s, SNN_BLK_DELAY, i, "delay", (size_t)sh->nin * ly->n, ly->nprev, t_x[x++], off);
  }
  for (int side = 0; side < 2; side++) {
    for (int q = 0; q < 4; q++) ly->blk_bn[side][q] = -1;
    if (!ly->bn || (side == 1 && !ly->recurrent)) continue;
    static const char *const parts[2][4] = {{"bn_in_gamma", "bn_in_beta", "bn_in_mean", "bn_in_var"},
                                            {"bn_rec_gamma", "bn_rec_beta", "bn_rec_mean", "bn_rec_var"}};
    size_t F = (size_t)(side ? sh->nrec : sh->nin) * ly->n;
    for (int q = 0; q < 4; q++) {
      ly->blk_bn[side][q] = (int)s->nblk;
      b = add_block(s, SNN_BLK_BN_GAMMA + q, i, parts[side][q], q < 2 ? F : s->T, q < 2 ? 1 : F, q < 2 ? t_x[x++] : 0,
                    off);
      b->cidx = side;
    }
  }
  return SNN_OK;
}

static int parse_root(pctx *p, json_t *root) {
  snn_spec *s = p->s;
  if (!json_is_object(root)) return fail(p, SNN_EKEY, "", "the top level must be an object, found %s", json_kind(root));
  check_keys(p, root, "", k_top);
  long seed = 0, steps = 0;
  TRY(get_size(p, root, "", "seed", 0, 0, 0, 4294967295L, &seed));
  TRY(get_size(p, root, "", "steps", 1, 0, 1, 100000000L, &steps));
  s->seed = (unsigned long)seed;
  s->T = (size_t)steps;
  TRY(get_num(p, root, "", "dt", 0, 1.0, 0, 1, INFINITY, 0, &s->dt));

  json_t *in;
  TRY(get_obj(p, root, "", "input", 1, &in));
  check_keys(p, in, "input", k_input);
  long nin = 0;
  TRY(get_size(p, in, "input", "size", 1, 0, 1, 1L << 24, &nin));
  s->n_in = (size_t)nin;
  static const char *const inkinds[] = {"poisson", "normal", NULL};
  TRY(get_enum(p, in, "input", "kind", 0, inkinds, &s->in_kind));
  TRY(get_num(p, in, "input", "rate", 0, 0.2, 0, 0, 1, 0, &s->in_rate));
  TRY(get_num(p, in, "input", "mean", 0, 0.0, -INFINITY, 0, INFINITY, 0, &s->in_mean));
  TRY(get_num(p, in, "input", "std", 0, 1.0, 0, 0, INFINITY, 0, &s->in_std));

  json_t *lays = json_object_get(root, "layers");
  if (!lays) return fail(p, SNN_EKEY, "layers", "missing; expected a non-empty array of layer objects");
  if (!json_is_array(lays) || json_array_size(lays) == 0)
    return fail(p, SNN_EKEY, "layers", "expected a non-empty array of layer objects, found %s",
                json_is_array(lays) ? "an empty array" : json_kind(lays));
  s->L = json_array_size(lays);
  if (s->L > SNN_MAX_LAYERS)
    return fail(p, SNN_EVALUE, "layers", "expected at most %d layers, found %zu", SNN_MAX_LAYERS, s->L);
  s->layers = calloc(s->L, sizeof *s->layers);
  s->blk = calloc(s->L * (13 + SNN_MAXCONST + SNN_MAXMIX) + 6, sizeof *s->blk);
  if (!s->layers || !s->blk) return fail(p, SNN_ENOMEM, "layers", "cannot allocate %zu layers", s->L);
  size_t nprev = s->n_in, off = 0;
  for (size_t i = 0; i < s->L; i++) {
    json_t *lj = json_array_get(lays, i);
    TRY(parse_layer(p, lj, i, nprev));
    TRY(layout_layer(p, lj, i, &off));
    nprev = s->layers[i].n;
  }

  json_t *ro;
  TRY(get_obj(p, root, "", "readout", 1, &ro));
  check_keys(p, ro, "readout", k_readout);
  long nout = 0;
  TRY(get_size(p, ro, "readout", "size", 1, 0, 1, 1L << 20, &nout));
  s->n_out = (size_t)nout;
  TRY(get_num(p, ro, "readout", "tau_out", 0, 0.0, 0, 0, INFINITY, 0, &s->tau_out));
  snn_block *b;
  s->blk_ro_w = (int)s->nblk;
  b = &s->blk[s->nblk++];
  snprintf(b->name, sizeof b->name, "readout.w");
  b->kind = SNN_BLK_RO_W, b->layer = -1, b->rows = s->n_out, b->cols = nprev;
  b->trainable = b->in_params = 1, b->off = off, off += b->rows * b->cols;
  s->blk_ro_b = (int)s->nblk;
  b = &s->blk[s->nblk++];
  snprintf(b->name, sizeof b->name, "readout.b");
  b->kind = SNN_BLK_RO_B, b->layer = -1, b->rows = s->n_out, b->cols = 1;
  b->trainable = b->in_params = 1, b->off = off, off += b->rows;
  TRY(parse_bn(p, ro, "readout", &s->ro_bn, &s->ro_bn_momentum, &s->ro_bn_eps, &s->ro_bn_gamma));
  for (int q = 0; q < 4; q++) {
    s->blk_ro_bn[q] = -1;
    if (!s->ro_bn) continue;
    static const char *const parts[4] = {"bn_gamma", "bn_beta", "bn_mean", "bn_var"};
    s->blk_ro_bn[q] = (int)s->nblk;
    b = &s->blk[s->nblk++];
    snprintf(b->name, sizeof b->name, "readout.%s", parts[q]);
    b->kind = SNN_BLK_BN_GAMMA + q, b->layer = -1, b->cidx = 0;
    b->rows = q < 2 ? s->n_out : s->T, b->cols = q < 2 ? 1 : s->n_out;
    b->trainable = q < 2, b->in_params = 1, b->off = off, off += b->rows * b->cols;
  }
  s->P = off;

  json_t *lo;
  TRY(get_obj(p, root, "", "loss", 0, &lo));
  if (lo) check_keys(p, lo, "loss", k_loss);
  static const char *const losses[] = {"mse", "ce", NULL};
  TRY(get_enum(p, lo, "loss", "kind", 0, losses, &s->loss));
  s->win_first = 1, s->win_last = s->T;
  json_t *win = lo ? json_object_get(lo, "window") : NULL;
  if (win) {
    if (!json_is_array(win) || json_array_size(win) != 2 || !json_is_integer(json_array_get(win, 0)) ||
        !json_is_integer(json_array_get(win, 1)))
      return fail(p, SNN_EKEY, "loss.window", "expected [first, last], two integers (1-based, inclusive)");
    json_int_t a = json_integer_value(json_array_get(win, 0)), z = json_integer_value(json_array_get(win, 1));
    if (a < 1 || z < a || (size_t)z > s->T)
      return fail(p, SNN_EVALUE, "loss.window", "expected 1 <= first <= last <= steps (%zu), found [%lld, %lld]", s->T,
                  (long long)a, (long long)z);
    s->win_first = (size_t)a, s->win_last = (size_t)z;
  }
  json_t *tg = NULL;
  if (lo) TRY(get_obj(p, lo, "loss", "target", 0, &tg));
  static const char *const tgts[] = {"sines", "normal", "zeros", NULL};
  TRY(get_enum(p, tg, "loss.target", "kind", 0, tgts, &s->tgt_kind));
  long label = -1;
  TRY(get_size(p, lo, "loss", "label", 0, -1, 0, (long)s->n_out - 1, &label));
  s->label = label;
  json_t *rr = NULL;
  if (lo) TRY(get_obj(p, lo, "loss", "rate_reg", 0, &rr));
  s->rate_reg = rr != NULL;
  TRY(get_num(p, rr, "loss.rate_reg", "c", rr != NULL, 0.0, 0, 0, INFINITY, 0, &s->reg_c));
  TRY(get_num(p, rr, "loss.rate_reg", "target", 0, 0.0, 0, 0, 1, 0, &s->reg_target));

  json_t *sp;
  TRY(get_obj(p, root, "", "spike", 0, &sp));
  if (sp) check_keys(p, sp, "spike", k_spike);
  static const char *const fwds[] = {"heaviside", "sigmoid", NULL};
  static const char *const surrs[] = {"triangle", "fast_sigmoid", "sigmoid", "tanh", "multi_gaussian", "boxcar", NULL};
  TRY(get_enum(p, sp, "spike", "forward", 0, fwds, &s->forward));
  TRY(get_enum(p, sp, "spike", "surrogate", 0, surrs, &s->surrogate));
  TRY(get_num(p, sp, "spike", "slope", 0, 5.0, 0, 1, INFINITY, 0, &s->slope));
  TRY(get_num(p, sp, "spike", "gamma", 0, 0.3, 0, 1, INFINITY, 0, &s->gamma));

  json_t *gr;
  TRY(get_obj(p, root, "", "gradient", 0, &gr));
  if (gr) check_keys(p, gr, "gradient", k_grad);
  static const char *const kd[] = {"keep", "detach", NULL};
  TRY(get_enum(p, gr, "gradient", "reset", 0, kd, &s->detach_reset));
  TRY(get_enum(p, gr, "gradient", "recurrent", 0, kd, &s->detach_rec));
  return SNN_OK;
}

int snn_spec_parse(const char *text, const char *path, snn_spec **out, snn_err *err) {
  *out = NULL;
  json_error_t je;
  json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    char key[40];
    snprintf(key, sizeof key, "%d:%d", je.line, je.column);
    return snn_err_set(err, SNN_EJSON, path, key, "invalid JSON: %s", je.text);
  }
  snn_spec *s = calloc(1, sizeof *s);
  if (!s) {
    json_decref(root);
    return snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  }
  snprintf(s->path, sizeof s->path, "%s", path);
  pctx p = {path, err, s};
  int st = parse_root(&p, root);
  json_decref(root);
  if (st != SNN_OK) {
    snn_spec_free(s);
    return st;
  }
  *out = s;
  return SNN_OK;
}

int snn_spec_load(const char *path, snn_spec **out, snn_err *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return snn_err_set(err, SNN_EIO, path, "", "cannot open the network file for reading");
  snn_buf b = {0};
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk - 1, f)) > 0) {
    chunk[got] = 0;
    if (memchr(chunk, 0, got)) {
      fclose(f);
      snn_buf_free(&b);
      return snn_err_set(err, SNN_EJSON, path, "", "the file contains a NUL byte; expected JSON text");
    }
    snn_buf_puts(&b, chunk);
  }
  int rerr = ferror(f);
  fclose(f);
  if (rerr || b.oom) {
    snn_buf_free(&b);
    return snn_err_set(err, SNN_EIO, path, "", "cannot read the network file");
  }
  int st = snn_spec_parse(b.p ? b.p : "", path, out, err);
  snn_buf_free(&b);
  return st;
}

void snn_spec_free(snn_spec *s) {
  if (!s) return;
  free(s->layers);
  free(s->blk);
  free(s);
}

int snn_block_is_matrix(const snn_block *bk) {
  return bk->kind == SNN_BLK_W_IN || bk->kind == SNN_BLK_W_REC || bk->kind == SNN_BLK_RO_W || bk->kind == SNN_BLK_MIX ||
         bk->kind == SNN_BLK_DELAY || bk->kind == SNN_BLK_BN_MEAN || bk->kind == SNN_BLK_BN_VAR;
}

int snn_spec_has_bn(const snn_spec *s) {
  if (s->ro_bn) return 1;
  for (size_t l = 0; l < s->L; l++)
    if (s->layers[l].bn) return 1;
  return 0;
}

int snn_spec_find_block(const snn_spec *s, const char *name) {
  for (size_t b = 0; b < s->nblk; b++)
    if (!strcmp(s->blk[b].name, name)) return (int)b;
  return -1;
}

size_t snn_spec_ntrain(const snn_spec *s) {
  size_t n = 0;
  for (size_t b = 0; b < s->nblk; b++)
    if (s->blk[b].trainable) n += s->blk[b].rows * s->blk[b].cols;
  return n;
}
