/* types.c - the table of rules (sim/rule.h): each rule's name, options,
 * conditions on the network and documented expectation, and the parsing of
 * name[:key=value,...].  Precision-neutral; the entry points live in the
 * rules' own files, once per precision.
 *
 * Adding a rule: its file in sim/rules/ (the gradient, written once against
 * the cell interface, and its snn_rule_impl), an snn_rule_type below with
 * its options and expectation, and one line in snn_rules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rule.h"

#define SNN_RULE_IMPLS(name)                                    \
  extern const struct snn_rule_impl_d snn_rule_##name##_impl_d; \
  extern const struct snn_rule_impl_mp snn_rule_##name##_impl_mp
SNN_RULE_IMPLS(bptt);
SNN_RULE_IMPLS(rtrl);
SNN_RULE_IMPLS(ostl);
SNN_RULE_IMPLS(eprop);
SNN_RULE_IMPLS(fptt);

/* ---- what the expectations need to know about a layer ---- */

/* "Memoryless": no recurrent matrix and no state carried to the next step. */
static int memoryless(const snn_layer_spec *ly) {
  return !ly->recurrent && !ly->stateful;
}

/* Whether units of a layer are coupled within the step Jacobian: a kept
 * recurrent matrix, or mixes (ltc's time-constant projections). */
static int coupled(const snn_spec *s, const snn_layer_spec *ly) {
  return (ly->recurrent && !s->detach_rec) || ly->sh->nmix > 0;
}

static const char *coupling(const snn_layer_spec *ly) {
  return ly->sh->nmix
             ? (ly->recurrent ? "W_rec and the time-constant projections" : "the time-constant projections W_tau")
             : "W_rec";
}

#define SAY(v, ...) return snn_format(why, n, __VA_ARGS__), (v)

/* ---- bptt ---- */
static int bptt_expect(const snn_rule *r, const snn_spec *s, char *why, size_t n) {
  (void)r, (void)s;
  SAY(1, "the reference");
}

static const snn_rule_type bptt = {
    .name = "bptt",
    .summary = "backpropagation through time over the whole sequence: the reference every rule is compared with",
    .page = "docs/bptt.md",
    .expect = bptt_expect,
    .impl_d = &snn_rule_bptt_impl_d,
    .impl_mp = &snn_rule_bptt_impl_mp,
};

/* ---- tbptt ---- */
static int tbptt_check(const snn_rule *r, const snn_spec *s, const char *file, const char *key, snn_err *err) {
  (void)s;
  int w = 0, b = 0;
  for (int i = 0; i < r->nopt; i++) w |= !strcmp(r->key[i], "window"), b |= !strcmp(r->key[i], "blocks");
  if (!w && !b)
    return snn_err_set(err, SNN_EARG, file, key,
                       "tbptt needs window=W (steps per window) and/or blocks=L (layers per block)");
  return SNN_OK;
}

static int tbptt_expect(const snn_rule *r, const snn_spec *s, char *why, size_t n) {
  double w = snn_rule_opt_num(r, "window"), b = snn_rule_opt_num(r, "blocks");
  int wcut = w > 0 && w<(double)s->T, bcut = b> 0 && b < (double)s->L;
  if (wcut && bcut) SAY(0, "approximate: drops the paths across window starts and across block boundaries");
  if (wcut) SAY(0, "approximate: drops every path across the window starts (state and readout detached)");
  if (bcut) SAY(0, "approximate: no gradient crosses a block boundary; lower blocks learn from auxiliary readouts");
  SAY(1, "exact: one window covers the sequence and one block the network");
}

static const snn_rule_type tbptt = {
    .name = "tbptt",
    .form = "tbptt:window=N[,blocks=N]",
    .summary =
        "truncated BPTT: windows of W steps (Williams & Peng 1990) and/or local blocks of L layers with "
        "auxiliary readouts (Guo et al. 2023)",
    .page = "docs/tbptt.md",
    .nopts = 2,
    .opts = {{"window", SNN_ROPT_INT, 1, 1e15, 0, 0, NULL, "0",
              "steps per window, at least 1 (absent: no truncation in time)"},
             {"blocks", SNN_ROPT_INT, 1, 1e15, 0, 0, NULL, "0", "layers per block, at least 1 (absent: one block)"}},
    .check = tbptt_check,
    .expect = tbptt_expect,
    .impl_d = &snn_rule_bptt_impl_d,
    .impl_mp = &snn_rule_bptt_impl_mp,
};

/* ---- rtrl ---- */
static int rtrl_expect(const snn_rule *r, const snn_spec *s, char *why, size_t n) {
  (void)r, (void)s;
  SAY(1, "exact: forward-mode chain rule under the same gradient options, parameters fixed");
}

static const snn_rule_type rtrl = {
    .name = "rtrl",
    .summary = "real-time recurrent learning: the full influence matrix carried forward (Williams & Zipser 1989)",
    .page = "docs/rtrl.md",
    .online = 1,
    .expect = rtrl_expect,
    .impl_d = &snn_rule_rtrl_impl_d,
    .impl_mp = &snn_rule_rtrl_impl_mp,
};

/* ---- fptt ---- */
static int fptt_check(const snn_rule *r, const snn_spec *s, const char *file, const char *key, snn_err *err) {
  double k = snn_rule_opt_num(r, "chunks");
  if (k > (double)s->T)
    return snn_err_set(err, SNN_EARG, file, key, "fptt: option chunks=%s: expected 1 <= chunks <= steps = %zu",
                       snn_rule_opt(r, "chunks"), s->T);
  if (s->rate_reg)
    return snn_err_set(err, SNN_EARG, s->path, "loss.rate_reg",
                       "fptt's per-chunk objective has no place for a regulariser of rates over the whole sequence");
  return SNN_OK;
}

static int fptt_expect(const snn_rule *r, const snn_spec *s, char *why, size_t n) {
  (void)s;
  if (snn_rule_opt_num(r, "chunks") <= 1)
    SAY(1, "exact: one chunk; with Wbar = W and lambda = 0 the regulariser's gradient vanishes (claim 10)");
  SAY(0,
      "approximate: the state is detached at every chunk start (the sum of chunk gradients at Wbar = W, lambda = 0)");
}

static const snn_rule_type fptt = {
    .name = "fptt",
    .summary =
        "forward propagation through time: K chunks with a dynamic regulariser towards a running average "
        "(Kag & Saligrama 2021; Yin, Corradi & Bohte 2023)",
    .page = "docs/fptt.md",
    .nopts = 5,
    .opts = {{"chunks", SNN_ROPT_INT, 1, 1e15, 0, 0, NULL, "1", "chunks K per sequence (1 <= K <= steps)"},
             {"alpha", SNN_ROPT_REAL, 0, INFINITY, 1, 0, NULL, "0.1", "the regulariser's weight, > 0"},
             {"beta", SNN_ROPT_REAL, 0, 1, 1, 0, NULL, "0.5", "the running average's rate, in (0, 1]"},
             {"rho", SNN_ROPT_REAL, -INFINITY, INFINITY, 0, 0, NULL, "0", "the dual term's factor"},
             {"lambda", SNN_ROPT_REAL, 0, INFINITY, 0, 0, NULL, "1", "the reference code's _lambda, >= 0"}},
    .check = fptt_check,
    .expect = fptt_expect,
    .impl_d = &snn_rule_fptt_impl_d,
    .impl_mp = &snn_rule_fptt_impl_mp,
};

/* e-prop's and OSTL's blocks of steps (docs/eprop.md, "Blocks of steps") */
#define BLOCK_OPT                                                                                                   \
  {                                                                                                                 \
    "block", SNN_ROPT_INT, 0, 1e9, 0, 0, NULL, "32",                                                                \
        "steps per block in which the synaptic traces of a single layer are updated with matrix products (0: step " \
        "by step)"                                                                                                  \
  }

/* ---- ostl ---- */
static int ostl_expect(const snn_rule *r, const snn_spec *s, char *why, size_t n) {
  const char *tr = snn_rule_opt(r, "traces");
  int rnd = !strcmp(snn_rule_opt(r, "feedback"), "random");
  for (size_t l = 0; l < s->L; l++)
    if (coupled(s, &s->layers[l]) && !strcmp(tr, "diagonal"))
      SAY(0, "approximate: diagonal traces drop the coupling between units through %s", coupling(&s->layers[l]));
  if (s->L == 1) {
    const snn_layer_spec *ly = &s->layers[0];
    if (coupled(s, ly) || !strcmp(tr, "full"))
      SAY(1, "exact: one stateful layer, complete traces (the layer's own influence matrix%s%s)",
          coupled(s, ly) ? ", coupling through " : "", coupled(s, ly) ? coupling(ly) : "");
    SAY(1, "exact: one stateful layer, no coupling between its units (diagonal traces)");
  }
  if (rnd) SAY(0, "approximate: random feedback between layers");
  for (size_t l = 1; l < s->L; l++)
    if (s->layers[l].delays)
      SAY(0,
          "approximate: deep OSTL passes the learning signal down a delayed projection through its same-step tap only");
  for (size_t l = 1; l < s->L; l++)
    if (!memoryless(&s->layers[l]))
      SAY(0,
          "approximate: deep OSTL drops the paths from a layer's past outputs through the state of the layers above "
          "it");
  if (s->tau_out > 0) SAY(0, "approximate: deep OSTL drops the readout's memory for the layers below the top");
  SAY(1, "exact: every layer above the first is memoryless and the readout has no leak");
}

static const snn_rule_type ostl = {
    .name = "ostl",
    .summary =
        "online spatio-temporal learning: per-synapse traces, complete or diagonal, and a learning signal "
        "passed down the layers (Bohnstingl et al. 2023)",
    .page = "docs/ostl.md",
    .nopts = 3,
    .opts = {{"traces", SNN_ROPT_CHOICE, 0, 0, 0, 0, "auto|diagonal|full", "auto",
              "complete traces where units are coupled (auto), always (full), or never (diagonal)"},
             {"feedback", SNN_ROPT_CHOICE, 0, 0, 0, 0, "symmetric|random", "symmetric",
              "the matrices carrying the learning signal between layers"},
             BLOCK_OPT},
    .online = 1,
    .expect = ostl_expect,
    .impl_d = &snn_rule_ostl_impl_d,
    .impl_mp = &snn_rule_ostl_impl_mp,
};

/* ---- eprop ---- */
static int eprop_check(const snn_rule *r, const snn_spec *s, const char *file, const char *key, snn_err *err) {
  (void)r;
  /* in an experiment the rule is what to change: name it; else the network */
  if (s->L != 1)
    return snn_err_set(
        err, SNN_EARG, file[0] ? file : s->path, file[0] ? key : "layers",
        "e-prop is defined for one recurrent layer that projects to the readout (Bellec et al. 2020); this "
        "network has %zu layers (use ostl for deep networks)",
        s->L);
  return SNN_OK;
}

static int eprop_expect(const snn_rule *r, const snn_spec *s, char *why, size_t n) {
  const char *fb = snn_rule_opt(r, "feedback");
  const snn_layer_spec *ly = &s->layers[0];
  if (!strcmp(snn_rule_opt(r, "signal"), "ideal"))
    SAY(1, "exact: the ideal learning signal dE/dz makes the factorisation exact");
  if (strcmp(fb, "symmetric"))
    SAY(0, "approximate: %s feedback B replaces W_out^T in the learning signal (readout exact)", fb);
  if (ly->sh->nmix) SAY(0, "approximate: e-prop's diagonal traces drop the coupling through %s", coupling(ly));
  if (ly->recurrent && !s->detach_rec) SAY(0, "approximate: e-prop drops the recurrent paths of dE/dz");
  if (ly->has_reset && !s->detach_reset)
    SAY(0, "approximate: e-prop leaves the reset path out of its traces and of its signal");
  SAY(1, "exact: no path e-prop drops is differentiated (%s)",
      ly->recurrent ? "recurrence and reset detached" : "feed-forward, reset detached or absent");
}

static const snn_rule_type eprop = {
    .name = "eprop",
    .summary = "e-prop: eligibility traces times an online learning signal, one recurrent layer (Bellec et al. 2020)",
    .page = "docs/eprop.md",
    .nopts = 3,
    .opts = {{"feedback", SNN_ROPT_CHOICE, 0, 0, 0, 0, "symmetric|random|adaptive", "symmetric",
              "the learning signal's matrix: W_out^T, fixed random, or random and trained"},
             {"signal", SNN_ROPT_CHOICE, 0, 0, 0, 0, "online|ideal", "online",
              "the online signal, or the ideal dE/dz (exact; for comparisons)"},
             BLOCK_OPT},
    .online = 1,
    .check = eprop_check,
    .expect = eprop_expect,
    .impl_d = &snn_rule_eprop_impl_d,
    .impl_mp = &snn_rule_eprop_impl_mp,
};

const snn_rule_type *const snn_rules[] = {&bptt, &tbptt, &rtrl, &fptt, &ostl, &eprop, NULL};

/* ---- lookups ---- */

const snn_rule_type *snn_rule_type_find(const char *name) {
  for (const snn_rule_type *const *t = snn_rules; *t; t++)
    if (!strcmp((*t)->name, name)) return *t;
  return NULL;
}

static void cat(char *buf, size_t n, const char *s) {
  size_t u = strlen(buf);
  if (u + 1 < n) snn_format(buf + u, n - u, "%s", s);
}

/* "name[:k1=V,k2=V]" with the options' values in capitals or their choices. */
static void rule_form(const snn_rule_type *t, char *buf, size_t n) {
  if (t->form) {
    snn_format(buf, n, "%s", t->form);
    return;
  }
  snn_format(buf, n, "%s", t->name);
  for (int i = 0; i < t->nopts; i++) {
    const snn_rule_optdef *o = &t->opts[i];
    cat(buf, n, i ? "," : "[:");
    cat(buf, n, o->key);
    cat(buf, n, "=");
    cat(buf, n, o->choices ? o->choices : o->kind == SNN_ROPT_INT ? "N" : "X");
  }
  if (t->nopts) cat(buf, n, "]");
}

void snn_rule_list(char *buf, size_t n) {
  if (!n) return;
  buf[0] = 0;
  for (const snn_rule_type *const *t = snn_rules; *t; t++) {
    char f[200];
    rule_form(*t, f, sizeof f);
    if (t != snn_rules) cat(buf, n, ", ");
    cat(buf, n, f);
  }
}

void snn_rule_usage(char *buf, size_t n) {
  if (!n) return;
  buf[0] = 0;
  for (const snn_rule_type *const *t = snn_rules; *t; t++) {
    char f[400];
    rule_form(*t, f, sizeof f);
    cat(buf, n, "  ");
    cat(buf, n, f);
    cat(buf, n, "\n      ");
    cat(buf, n, (*t)->summary);
    cat(buf, n, " (");
    cat(buf, n, (*t)->page);
    cat(buf, n, ")\n");
    for (int i = 0; i < (*t)->nopts; i++) {
      const snn_rule_optdef *o = &(*t)->opts[i];
      /* a default outside the range is no value a user may give: the
       * option's absence (its doc says what that means) */
      int outside = o->kind != SNN_ROPT_CHOICE && strtod(o->def, NULL) < o->lo;
      if (outside)
        snn_format(f, sizeof f, "      %s: %s\n", o->key, o->doc);
      else
        snn_format(f, sizeof f, "      %s: %s; default %s\n", o->key, o->doc, o->def);
      cat(buf, n, f);
    }
  }
}

const char *snn_rule_opt(const snn_rule *r, const char *key) {
  for (int i = r->nopt - 1; i >= 0; i--)
    if (!strcmp(r->key[i], key)) return r->val[i];
  if (r->type)
    for (int i = 0; i < r->type->nopts; i++)
      if (!strcmp(r->type->opts[i].key, key)) return r->type->opts[i].def;
  return "";
}

double snn_rule_opt_num(const snn_rule *r, const char *key) {
  return strtod(snn_rule_opt(r, key), NULL);
}

int snn_rule_expectation(const snn_spec *s, const snn_rule *r, char *why, size_t n) {
  if (!r->type || !r->type->expect) return snn_format(why, n, "no documented expectation"), -1;
  return r->type->expect(r, s, why, n);
}

void snn_fptt_opts_get(const snn_rule *r, snn_fptt_opts *o) {
  o->chunks = (size_t)snn_rule_opt_num(r, "chunks");
  o->alpha = snn_rule_opt_num(r, "alpha");
  o->beta = snn_rule_opt_num(r, "beta");
  o->rho = snn_rule_opt_num(r, "rho");
  o->c = snn_rule_opt_num(r, "lambda");
}

/* ---- parsing ---- */

/* Whether `v` is an allowed value of option `o`; `want` says what is. */
static int opt_ok(const snn_rule_optdef *o, const char *v, char *want, size_t n) {
  if (o->kind == SNN_ROPT_CHOICE) {
    snn_format(want, n, "one of %s", o->choices);
    size_t len = strlen(v);
    for (const char *p = o->choices; *p;) {
      const char *bar = strchr(p, '|');
      size_t k = bar ? (size_t)(bar - p) : strlen(p);
      if (k == len && !strncmp(p, v, len)) return 1;
      p += k + (bar ? 1 : 0);
    }
    return 0;
  }
  int integer = o->kind == SNN_ROPT_INT;
  if (integer)
    snn_format(want, n, "an integer >= %.0f", o->lo);
  else if (isinf(o->lo) && isinf(o->hi))
    snn_format(want, n, "a number");
  else if (isinf(o->hi))
    snn_format(want, n, "a number %s %g", o->lo_open ? ">" : ">=", o->lo);
  else
    snn_format(want, n, "a number in %s%g, %g%s", o->lo_open ? "(" : "[", o->lo, o->hi, o->hi_open ? ")" : "]");
  char *end;
  if (!snn_decimal_ok(v)) return 0; /* no hexadecimal, inf or nan, which strtod takes */
  double x = strtod(v, &end);
  if (end == v || *end || !isfinite(x)) return 0;
  if (integer && x != floor(x)) return 0;
  if (x < o->lo || (o->lo_open && x == o->lo) || x > o->hi || (o->hi_open && x == o->hi)) return 0;
  return 1;
}

/* Every option is one the rule has, once, with an allowed value. */
static int check_opts(const snn_rule *r, const char *file, const char *key, snn_err *err) {
  const snn_rule_type *t = r->type;
  for (int i = 0; i < r->nopt; i++) {
    const snn_rule_optdef *o = NULL;
    for (int j = 0; j < t->nopts; j++)
      if (!strcmp(t->opts[j].key, r->key[i])) o = &t->opts[j];
    if (!o) {
      char f[200];
      rule_form(t, f, sizeof f);
      return snn_err_set(err, SNN_EARG, file, key, "%s: unknown option '%s'; %s", t->name, r->key[i],
                         t->nopts ? f : "it takes no options");
    }
    for (int j = 0; j < i; j++)
      if (!strcmp(r->key[j], r->key[i]))
        return snn_err_set(err, SNN_EARG, file, key, "%s: option '%s' given twice", t->name, r->key[i]);
    char want[128];
    if (!opt_ok(o, r->val[i], want, sizeof want))
      return snn_err_set(err, SNN_EARG, file, key, "%s: option %s=%s: expected %s for %s", t->name, r->key[i],
                         r->val[i], want, r->key[i]);
  }
  return SNN_OK;
}

int snn_rule_parse_at(const char *text, const char *file, const char *key, snn_rule *r, snn_err *err) {
  memset(r, 0, sizeof *r);
  const char *colon = strchr(text, ':');
  size_t nlen = colon ? (size_t)(colon - text) : strlen(text);
  if (nlen == 0 || nlen >= sizeof r->name)
    return snn_err_set(err, SNN_EARG, file, key, "expected NAME or NAME:key=value,..., found \"%s\"", text);
  memcpy(r->name, text, nlen);
  char list[600];
  snn_rule_list(list, sizeof list);
  if (!(r->type = snn_rule_type_find(r->name)))
    return snn_err_set(err, SNN_EARG, file, key, "unknown rule \"%s\"; expected one of: %s", r->name, list);
  if (colon && !colon[1])
    return snn_err_set(err, SNN_EARG, file, key, "expected key=value options after '%s:', found nothing", r->name);
  for (const char *p = colon ? colon + 1 : ""; *p;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (!eq || eq == p || r->nopt >= SNN_RULE_MAXOPT || (size_t)(eq - p) >= sizeof r->key[0] ||
        len - (size_t)(eq - p) - 1 >= sizeof r->val[0] || len - (size_t)(eq - p) - 1 == 0)
      return snn_err_set(err, SNN_EARG, file, key, "expected key=value options after '%s:', found \"%.*s\"", r->name,
                         (int)len, p);
    memcpy(r->key[r->nopt], p, (size_t)(eq - p));
    memcpy(r->val[r->nopt], eq + 1, len - (size_t)(eq - p) - 1);
    r->nopt++;
    p += len + (comma ? 1 : 0);
  }
  return check_opts(r, file, key, err);
}

int snn_rule_parse(const char *text, snn_rule *r, snn_err *err) {
  return snn_rule_parse_at(text, "", "--rule", r, err);
}

int snn_rule_check(const snn_rule *r, const snn_spec *s, const char *file, const char *key, snn_err *err) {
  if (!r->type) return snn_err_set(err, SNN_EARG, file, key, "unknown rule \"%s\"", r->name);
  /* batch normalisation couples the sequences of a step: only the rules that
   * hold the whole batch's trajectory can differentiate it */
  char k[48] = "";
  if (r->type->online && s->ro_bn) snn_format(k, sizeof k, "readout.batch_norm");
  for (size_t l = 0; r->type->online && !k[0] && l < s->L; l++)
    if (s->layers[l].bn) snn_format(k, sizeof k, "layers[%zu].batch_norm", l);
  if (k[0])
    return snn_err_set(err, SNN_EARG, file[0] ? file : s->path, file[0] ? key : k,
                       "%s runs forward in time, one sequence's traces at a time, and cannot follow batch_norm, "
                       "which couples the sequences of a step (docs/batchnorm.md); expected bptt, tbptt or fptt, or "
                       "no batch_norm in the network",
                       r->type->name);
  return r->type->check ? r->type->check(r, s, file, key, err) : SNN_OK;
}
