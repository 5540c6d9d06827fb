/* batch.c - the batch (net.h), and the buffers a network keeps between
 * calls: B sequences advanced together give, per
 * sequence, the trajectory of that sequence run alone, and the batched
 * rules' gradient is the sum of the B single gradients to rounding at the
 * working precision (2^(14-p), at 53 bits and at 128 and 256, tightening).
 *
 * Not vacuous: the B sequences are different (their gradients differ by
 * more than 1e-3 from each other), so a batch that mixed up its rows, read
 * one sequence's input for another's or dropped a row would fail; a smaller
 * batch in a larger capacity (a shard of training) is checked too. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/net.h"
#include "sim/rules/rules.h"
#include "tests/prec.h"
#include "tests/testutil.h"

#define NET(layers, rest) \
  "{\"seed\":31,\"steps\":25,\"input\":{\"size\":3,\"rate\":0.4},\"layers\":[" layers "]," rest "}"

#define ADLIF_NET                                                                                                    \
  NET("{\"model\":\"adlif\",\"size\":5,\"recurrent\":true,\"w_scale\":25,\"tau_mem\":10,\"tau_adapt\":50,\"a\":0.3," \
      "\"b\":0.8,\"threshold\":0.5,\"train\":[\"w_in\",\"w_rec\",\"tau_mem\",\"threshold\",\"tau_adapt\",\"a\","     \
      "\"b\"]}",                                                                                                     \
      "\"readout\":{\"size\":2,\"tau_out\":4},\"spike\":{\"surrogate\":\"triangle\"}")

/* ltc: mixes of currents and states */
#define LTC_NET                                                                                                \
  NET("{\"model\":\"ltc\",\"size\":5,\"recurrent\":true,\"w_scale\":3,\"train\":[\"w_in\",\"w_rec\",\"bias\"," \
      "\"w_tau_m\",\"w_tau_adp\",\"threshold\"]}",                                                             \
      "\"readout\":{\"size\":2,\"tau_out\":4},\"spike\":{\"surrogate\":\"multi_gaussian\"}")

static const char *const NETS[] = {
    /* recurrent alif, ce in a window, rate regulariser */
    NET("{\"model\":\"alif\",\"size\":5,\"recurrent\":true,\"w_scale\":2.5,\"beta\":0.5,\"tau_adapt\":15,"
        "\"train\":[\"w_in\",\"w_rec\",\"tau_mem\",\"threshold\",\"beta\"]}",
        "\"readout\":{\"size\":3,\"tau_out\":4},\"loss\":{\"kind\":\"ce\",\"window\":[15,25],\"rate_reg\":{\"c\":1,"
        "\"target\":0.1}},\"spike\":{\"surrogate\":\"triangle\"}"),
    /* three mixed layers, mse (targets per sequence) */
    NET("{\"model\":\"lif\",\"size\":4,\"recurrent\":true,\"w_scale\":3},"
        "{\"model\":\"alif\",\"size\":4,\"w_scale\":3,\"train\":[\"w_in\",\"threshold\",\"beta\"]},"
        "{\"model\":\"snu\",\"size\":3,\"recurrent\":true,\"w_scale\":2,\"w_mean\":1,\"threshold\":0.4}",
        "\"readout\":{\"size\":2,\"tau_out\":5},\"loss\":{\"window\":[3,22],\"rate_reg\":{\"c\":1,\"target\":0.2}},"
        "\"spike\":{\"surrogate\":\"triangle\",\"gamma\":0.5}"),
    /* adlif, recurrent, every constant trained */
    ADLIF_NET,
    /* gated cells: lstm above gru (biases and several currents) */
    NET("{\"model\":\"gru\",\"size\":4,\"w_scale\":2},{\"model\":\"lstm\",\"size\":3,\"recurrent\":true,\"w_scale\":2}",
        "\"readout\":{\"size\":2,\"tau_out\":3}"),
    /* ltc: mixes of currents and states */
    LTC_NET,
    /* ltc from the reference code's random initial state, drawn per sequence */
    NET("{\"model\":\"ltc\",\"size\":5,\"recurrent\":true,\"w_scale\":3,\"initial_state\":\"uniform\","
        "\"self_connections\":true,\"train\":[\"w_in\",\"w_rec\",\"bias\",\"w_tau_m\",\"w_tau_adp\",\"threshold\"]}",
        "\"readout\":{\"size\":2,\"tau_out\":4},\"spike\":{\"surrogate\":\"multi_gaussian\"}"),
    /* adlif from sparch's random initial state: u, w and the output before step 1 drawn per sequence */
    NET("{\"model\":\"adlif\",\"size\":4,\"recurrent\":true,\"w_scale\":20,\"initial_state\":\"uniform\","
        "\"threshold\":1,\"train\":[\"w_in\",\"w_rec\",\"tau_mem\",\"tau_adapt\",\"a\",\"b\"]}",
        "\"readout\":{\"size\":2,\"tau_out\":4},\"spike\":{\"surrogate\":\"boxcar\"}"),
    /* delays on a hidden projection, smooth spikes */
    NET("{\"model\":\"lif\",\"size\":5,\"w_scale\":3,\"tau_mem\":5},"
        "{\"model\":\"lif\",\"size\":4,\"w_scale\":3,\"delays\":{\"max\":3,\"init\":[0.5,2.5]}}",
        "\"readout\":{\"size\":2,\"tau_out\":4},\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}"),
};
#define NNETS (int)(sizeof NETS / sizeof *NETS)
static const char *const RULES[] = {"bptt",  "tbptt:window=6", "tbptt:blocks=1",        "fptt:chunks=4",
                                    "rtrl",  "ostl",           "ostl:traces=diagonal",  "ostl:traces=full",
                                    "eprop", "eprop:block=0",  "eprop:feedback=random", "eprop:signal=ideal"};
#define NRULES (int)(sizeof RULES / sizeof *RULES)
enum { BCAP = 3 };

/* Sequence b's input, target and label: the network's data drawn with
 * another seed (the parameters stay those of seed 31). */
static void draw(snn_spec *s, int b, snn_data *d) {
  snn_err e = {0};
  unsigned long seed = s->seed;
  s->seed = seed + 1000 * (unsigned long)b;
  ck_assert_int_eq(snn_data_generate(s, d, &e), SNN_OK);
  s->seed = seed;
  if (b == 0) return;
  snn_data d0;
  ck_assert_int_eq(snn_data_generate(s, &d0, &e), SNN_OK);
  ck_assert_ptr_null(d->theta.s);
  memcpy(d->theta.v, d0.theta.v, s->P * sizeof *d->theta.v);
  snn_data_clear(&d0);
}

static void load_row(net *N, const snn_data *d, size_t b) {
  const snn_spec *s = N->spec;
  for (size_t t = 0; t < s->T; t++) {
    for (size_t i = 0; i < s->n_in; i++) r_set_d(N->x + (t * N->B + b) * s->n_in + i, d->x.v[t * s->n_in + i], N->c);
    for (size_t k = 0; s->loss == SNN_LOSS_MSE && k < s->n_out; k++)
      r_set_d(N->y + (t * N->B + b) * s->n_out + k, d->y.v[t * s->n_out + k], N->c);
  }
  N->label[b] = d->label;
}

/* log10 ||a - b|| / ||b|| over n entries, at the working precision. */
static double lg_rel(const relt *a, const relt *b, size_t n, rctx *c) {
  real num, den, t;
  r_init(num, c), r_init(den, c), r_init(t, c);
  r_zero(num, c), r_zero(den, c);
  for (size_t i = 0; i < n; i++) {
    r_sub(t, a + i, b + i, c);
    r_fma(num, t, t, num, c);
    r_fma(den, b + i, b + i, den, c);
  }
  double lg = 0.5 * (r_log10abs(num) - r_log10abs(den));
  r_clear(num, c), r_clear(den, c), r_clear(t, c);
  return lg;
}

/* The batch of `nb` sequences (in a capacity of BCAP) against their single
 * runs: returns the gradient's log10 relative error. */
static double batch_vs_single(const char *json, const char *rtext, long prec, size_t nb) {
  snn_spec *s = spec_from(json);
  snn_err e = {0};
  snn_rule rule;
  ck_assert_int_eq(snn_rule_parse(rtext, &rule, &e), SNN_OK);
  if (snn_rule_check(&rule, s, "", "rule", &e)) { /* e.g. e-prop on a deep network */
    snn_spec_free(s);
    return -INFINITY;
  }
  snn_data d[BCAP];
  for (int b = 0; b < BCAP; b++) draw(s, b, &d[b]);
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, prec), SNN_OK);
  size_t P = s->P, cross[SNN_MAX_LAYERS], crossb[SNN_MAX_LAYERS], csum[SNN_MAX_LAYERS] = {0};
  double spikes[SNN_MAX_LAYERS];
  relt *g1 = vec_alloc(BCAP * P, &c), *gs = vec_alloc(P, &c), *gb = vec_alloc(P, &c), *l1 = vec_alloc(BCAP, &c);
  real lb, ls;
  r_init(lb, &c), r_init(ls, &c);
  r_zero(ls, &c);
  SNN_SFX(snn_rule_fn) fn = SNN_RULE_FN(&rule);
  /* alone */
  for (size_t b = 0; b < nb; b++) {
    net N;
    ck_assert_int_eq(SNN_SFX(snn_net_init)(&N, s, &d[b], &c), SNN_OK);
    N.sid[0] = b; /* its initial state is row b's (initial_state "uniform") */
    ck_assert_msg(fn(&N, &rule, g1 + b * P, l1 + b, cross, spikes, NULL, &e) == SNN_OK, "%s", e.msg);
    for (size_t l = 0; l < s->L; l++) {
      ck_assert_msg(cross[l] > 0, "%s: layer %zu silent", rtext, l);
      csum[l] += cross[l];
    }
    if (b == 0)
      SNN_SFX(snn_vset)(P, g1, gs, &c);
    else
      SNN_SFX(snn_vadd)(P, g1 + b * P, gs, &c);
    r_add(ls, ls, l1 + b, &c);
    SNN_SFX(snn_net_clear)(&N);
  }
  /* the sequences differ: a mixed-up batch would show */
  for (size_t b = 1; b < nb; b++)
    ck_assert_msg(lg_rel(g1 + b * P, g1, P, &c) > -3, "%s: sequences %zu and 0 have the same gradient", rtext, b);
  /* together, sequence 0's parameters */
  net N;
  ck_assert_int_eq(SNN_SFX(snn_net_init)(&N, s, &d[0], &c), SNN_OK);
  ck_assert_int_eq(SNN_SFX(snn_net_batch)(&N, BCAP), SNN_OK);
  N.B = nb;
  for (size_t b = 0; b < nb; b++) load_row(&N, &d[b], b);
  ck_assert_msg(fn(&N, &rule, gb, lb, crossb, spikes, NULL, &e) == SNN_OK, "%s", e.msg);
  for (size_t l = 0; l < s->L; l++) ck_assert_uint_eq(crossb[l], csum[l]);
  double lg = lg_rel(gb, gs, P, &c);
  ck_assert_msg(lg <= snn_exact_lg_tol(prec), "%s, batch of %zu at %ld bits: gradient 1e%.1f from the sum of singles",
                rtext, nb, prec, lg);
  double ll = lg_rel(lb, ls, 1, &c);
  ck_assert_msg(ll <= snn_exact_lg_tol(prec), "%s: loss 1e%.1f from the sum", rtext, ll);
  SNN_SFX(snn_net_clear)(&N);
  vec_free(g1, BCAP * P, &c), vec_free(gs, P, &c), vec_free(gb, P, &c), vec_free(l1, BCAP, &c);
  r_clear(lb, &c), r_clear(ls, &c);
  SNN_SFX(snn_rctx_clear)(&c);
  for (int b = 0; b < BCAP; b++) snn_data_clear(&d[b]);
  snn_spec_free(s);
  return lg;
}

/* under valgrind (SNN_TEST_ONE_PRECISION) the first precision only: the
 * memory checks need one, the plain and sanitizer passes check them all */
static int nprecs(void) {
  return getenv("SNN_TEST_ONE_PRECISION") ? 1 : NPRECS;
}
/* ... and the first two networks of each table (every rule still runs) */
static int skipped(int net) {
  return getenv("SNN_TEST_ONE_PRECISION") && net >= 2;
}

START_TEST(test_batch_is_sum) {
  const char *json = NETS[_i / NRULES], *rt = RULES[_i % NRULES];
  double lg[NPRECS];
  if (skipped(_i / NRULES)) return;
  for (int p = 0; p < nprecs(); p++) {
    lg[p] = batch_vs_single(json, rt, PRECS[p], BCAP);
    batch_vs_single(json, rt, PRECS[p], BCAP - 1); /* a smaller shard in the same capacity */
  }
  if (lg[0] == -INFINITY || nprecs() < NPRECS) return; /* the rule does not apply to this network */
#ifdef SNN_MPFR
  /* rounding, not a formula: 128 more bits take it down by ~38 decades */
  ck_assert_msg(lg[1] <= lg[0] - 100 * 0.30103, "net %d, %s: 1e%.1f at 256 bits did not tighten from 1e%.1f",
                _i / NRULES, rt, lg[1], lg[0]);
#else
  (void)lg;
#endif
}
END_TEST

/* The batch's trajectory is the single runs' row by row: in MPFR, where a
 * product's sums are taken in the same order for any number of rows, bit
 * for bit; in double (BLAS level 3 against level 2) to rounding. */
START_TEST(test_rows_are_the_single_runs) {
  snn_spec *s = spec_from(NETS[_i]);
  snn_data d[BCAP];
  for (int b = 0; b < BCAP; b++) draw(s, b, &d[b]);
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, PRECS[NPRECS - 1]), SNN_OK);
  net N;
  ck_assert_int_eq(SNN_SFX(snn_net_init)(&N, s, &d[0], &c), SNN_OK);
  ck_assert_int_eq(SNN_SFX(snn_net_batch)(&N, BCAP), SNN_OK);
  for (size_t b = 0; b < BCAP; b++) load_row(&N, &d[b], b);
  traj tb;
  ck_assert_int_eq(SNN_SFX(snn_traj_init)(&tb, &N), SNN_OK);
  SNN_SFX(snn_forward)(&N, &tb);
  size_t K = s->n_out;
  for (size_t b = 0; b < BCAP; b++) {
    net N1;
    traj t1;
    ck_assert_int_eq(SNN_SFX(snn_net_init)(&N1, s, &d[b], &c), SNN_OK);
    N1.sid[0] = b;
    ck_assert_int_eq(SNN_SFX(snn_traj_init)(&t1, &N1), SNN_OK);
    SNN_SFX(snn_forward)(&N1, &t1);
    for (size_t t = 1; t <= s->T; t++)
      for (size_t k = 0; k < K; k++) {
        double a = r_get_d(tb.yo + (t * BCAP + b) * K + k), e = r_get_d(t1.yo + t * K + k);
#ifdef SNN_MPFR
        ck_assert_msg(r_cmp(tb.yo + (t * BCAP + b) * K + k, t1.yo + t * K + k) == 0,
                      "row %zu, step %zu: %.17g vs %.17g", b, t, a, e);
#else
        ck_assert_msg(fabs(a - e) <= 1e-12 * (1 + fabs(e)), "row %zu, step %zu: %.17g vs %.17g", b, t, a, e);
#endif
      }
    ck_assert_msg(rel_ok(r_get_d(tb.loss + b), r_get_d(t1.loss), 1e-13), "row %zu: loss", b);
    SNN_SFX(snn_traj_clear)(&t1, &N1);
    SNN_SFX(snn_net_clear)(&N1);
  }
  SNN_SFX(snn_traj_clear)(&tb, &N);
  SNN_SFX(snn_net_clear)(&N);
  SNN_SFX(snn_rctx_clear)(&c);
  for (int b = 0; b < BCAP; b++) snn_data_clear(&d[b]);
  snn_spec_free(s);
}
END_TEST

/* The forward pass follows the weights: after theta changes and
 * snn_net_derive (what training, online updates and the finite
 * differences do), a network gives the bytes of a network made from the
 * new weights (the double build keeps W_rec transposed for its spikes'
 * event-driven product: a stale copy would fail here), and not those of
 * the old weights.  Three sequences, so the products take their batched
 * paths too. */
START_TEST(test_weights_follow_derive) {
  snn_spec *s = spec_from(NETS[_i]);
  const snn_layer_spec *ls = &s->layers[0];
  ck_assert(ls->recurrent);
  snn_data d[BCAP];
  for (int b = 0; b < BCAP; b++) draw(s, b, &d[b]);
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, PRECS[0]), SNN_OK);
  const snn_block *bk = &s->blk[ls->blk_w_rec];
  size_t off = bk->off, nw = bk->rows * bk->cols, T = s->T, B = BCAP;
  net N, N2;
  traj t1, t2;
  ck_assert_int_eq(SNN_SFX(snn_net_init)(&N, s, &d[0], &c), SNN_OK);
  ck_assert_int_eq(SNN_SFX(snn_net_batch)(&N, B), SNN_OK);
  for (size_t b = 0; b < B; b++) load_row(&N, &d[b], b);
  ck_assert_int_eq(SNN_SFX(snn_traj_init)(&t1, &N), SNN_OK);
  SNN_SFX(snn_forward)(&N, &t1);
  real l_old;
  r_init(l_old, &c);
  SNN_SFX(snn_traj_loss)(&N, &t1, l_old);
  /* W_rec doubled (exact at any precision), in the network and in the data */
  for (size_t i = 0; i < nw; i++) {
    d[0].theta.v[off + i] *= 2;
    r_set_d(N.theta + off + i, d[0].theta.v[off + i], &c);
  }
  SNN_SFX(snn_net_derive)(&N);
  SNN_SFX(snn_forward)(&N, &t1);
  ck_assert_int_eq(SNN_SFX(snn_net_init)(&N2, s, &d[0], &c), SNN_OK);
  ck_assert_int_eq(SNN_SFX(snn_net_batch)(&N2, B), SNN_OK);
  for (size_t b = 0; b < B; b++) load_row(&N2, &d[b], b);
  ck_assert_int_eq(SNN_SFX(snn_traj_init)(&t2, &N2), SNN_OK);
  SNN_SFX(snn_forward)(&N2, &t2);
  size_t nI = (T + 1) * B * ls->n * (size_t)ls->sh->m, same_old = 1;
  for (size_t q = 0; q < nI; q++)
    ck_assert_msg(r_cmp(t1.I[0] + q, t2.I[0] + q) == 0, "net %d: current %zu after derive differs from a new network's",
                  _i, q);
  real l_new;
  r_init(l_new, &c);
  SNN_SFX(snn_traj_loss)(&N, &t1, l_new);
  same_old = r_cmp(l_new, l_old) == 0;
  ck_assert_msg(!same_old, "net %d: doubling W_rec did not change the loss", _i);
  r_clear(l_old, &c), r_clear(l_new, &c);
  SNN_SFX(snn_traj_clear)(&t1, &N), SNN_SFX(snn_traj_clear)(&t2, &N2);
  SNN_SFX(snn_net_clear)(&N), SNN_SFX(snn_net_clear)(&N2);
  SNN_SFX(snn_rctx_clear)(&c);
  for (int b = 0; b < BCAP; b++) snn_data_clear(&d[b]);
  snn_spec_free(s);
}
END_TEST

/* A cell with split Jacobians (lif: the fixed part kept over the steps)
 * under online updates that change its constants inside the sequence: the
 * forward-in-time rules give the bytes of the same cell without the split
 * (its jac at every step); not vacuous: without the updates the gradient
 * differs.  The hook scales tau_mem and the threshold and derives the
 * network, as training's does. */
typedef struct {
  net *N;
  const snn_spec *s;
  relt *sum;
  int change;
} hookctx;

static void scale_consts(void *ctx, size_t t, relt *grad) {
  hookctx *h = ctx;
  const snn_layer_spec *ls = &h->s->layers[0];
  for (size_t q = 0; q < h->s->P; q++) r_add(h->sum + q, h->sum + q, grad + q, h->N->c);
  for (int p = 0; h->change && p < ls->nconst; p++) {
    const snn_block *bk = &h->s->blk[ls->blk_const[p]];
    for (size_t i = 0; i < bk->rows * bk->cols; i++)
      r_mul_d(h->N->theta + bk->off + i, h->N->theta + bk->off + i, 1.0 + 0.01 * (double)t, h->N->c);
  }
  SNN_SFX(snn_net_derive)(h->N);
}

static void online_run(const char *rtext, int split, int change, relt *out, rctx *c) {
  snn_spec *s =
      spec_from(NET("{\"model\":\"lif\",\"size\":6,\"recurrent\":true,\"w_scale\":3,"
                    "\"train\":[\"w_in\",\"w_rec\",\"tau_mem\",\"threshold\"]}",
                    "\"readout\":{\"size\":2,\"tau_out\":4},\"spike\":{\"surrogate\":\"triangle\"}"));
  snn_data d;
  snn_err e = {0};
  ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
  net N;
  ck_assert_int_eq(SNN_SFX(snn_net_init)(&N, s, &d, c), SNN_OK);
  cell_type plain = *N.layers[0].cell;
  ck_assert_ptr_nonnull(plain.jac_step);
  plain.jac_fixed = NULL, plain.jac_step = NULL;
  if (!split) N.layers[0].cell = &plain;
  hookctx h = {&N, s, out, change};
  SNN_SFX(snn_hook) hk = {5, scale_consts, &h};
  N.hook = &hk;
  snn_rule rule;
  ck_assert_int_eq(snn_rule_parse(rtext, &rule, &e), SNN_OK);
  relt *g = vec_alloc(s->P, c);
  real loss;
  r_init(loss, c);
  size_t cross[2], bytes;
  double spikes[2];
  SNN_SFX(snn_vzero)(s->P, out, c);
  ck_assert_msg(SNN_RULE_FN(&rule)(&N, &rule, g, loss, cross, spikes, &bytes, &e) == SNN_OK, "%s: %s", rtext, e.msg);
  ck_assert(cross[0] > 0);
  for (size_t q = 0; q < s->P; q++) r_add(out + q, out + q, g + q, c);
  r_clear(loss, c);
  vec_free(g, s->P, c);
  SNN_SFX(snn_net_clear)(&N);
  snn_data_clear(&d);
  snn_spec_free(s);
}

START_TEST(test_split_jacobians_follow_updates) {
  static const char *const rules[] = {"eprop", "eprop:block=0", "ostl:traces=diagonal,block=0", "rtrl"};
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, PRECS[0]), SNN_OK);
  snn_spec *s = spec_from(NET("{\"model\":\"lif\",\"size\":6,\"recurrent\":true}", "\"readout\":{\"size\":2}"));
  size_t P = s->P;
  snn_spec_free(s);
  relt *a = vec_alloc(P, &c), *b = vec_alloc(P, &c), *f = vec_alloc(P, &c);
  online_run(rules[_i], 1, 1, a, &c);
  online_run(rules[_i], 0, 1, b, &c);
  online_run(rules[_i], 1, 0, f, &c);
  int moved = 0;
  for (size_t q = 0; q < P; q++) {
    ck_assert_msg(r_cmp(a + q, b + q) == 0, "%s: entry %zu with the split differs from jac's", rules[_i], q);
    moved |= r_cmp(a + q, f + q) != 0;
  }
  ck_assert_msg(moved, "%s: the online updates changed nothing", rules[_i]);
  vec_free(a, P, &c), vec_free(b, P, &c), vec_free(f, P, &c);
  SNN_SFX(snn_rctx_clear)(&c);
}
END_TEST

/* A network that keeps its rule's buffers between calls (training's
 * workers) gives, for a second sequence, the bytes of a fresh call: the
 * kept state is set back to t = 0 in full.  The first sequence differs from
 * the second, so stale traces would show. */
static const char *const KEEP_RULES[] = {"bptt", "tbptt:window=6",       "eprop", "eprop:feedback=random",
                                         "ostl", "ostl:traces=diagonal", "rtrl",  "fptt:chunks=4"};
#define NKEEP (int)(sizeof KEEP_RULES / sizeof *KEEP_RULES)

START_TEST(test_kept_buffers_are_fresh) {
  const char *rt = KEEP_RULES[_i % NKEEP];
  if (skipped(_i / NKEEP)) return;
  snn_spec *s = spec_from(NETS[_i / NKEEP]);
  snn_err e = {0};
  snn_rule rule;
  ck_assert_int_eq(snn_rule_parse(rt, &rule, &e), SNN_OK);
  if (snn_rule_check(&rule, s, "", "rule", &e)) { /* e.g. e-prop on a deep network */
    snn_spec_free(s);
    return;
  }
  snn_data d[2];
  for (int b = 0; b < 2; b++) draw(s, b, &d[b]);
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, PRECS[0]), SNN_OK);
  size_t P = s->P, cross[SNN_MAX_LAYERS];
  double spikes[SNN_MAX_LAYERS];
  relt *g = vec_alloc(3 * P, &c);
  real l0, l1;
  r_init(l0, &c), r_init(l1, &c);
  SNN_SFX(snn_rule_fn) fn = SNN_RULE_FN(&rule);
  net N, F;
  SNN_SFX(snn_keep) keep = {0};
  ck_assert_int_eq(SNN_SFX(snn_net_init)(&N, s, &d[0], &c), SNN_OK);
  N.keep = &keep;
  ck_assert_msg(fn(&N, &rule, g, l0, cross, spikes, NULL, &e) == SNN_OK, "%s", e.msg);
  load_row(&N, &d[1], 0);
  ck_assert_msg(fn(&N, &rule, g + P, l0, cross, spikes, NULL, &e) == SNN_OK, "%s", e.msg);
  ck_assert_int_eq(SNN_SFX(snn_net_init)(&F, s, &d[0], &c), SNN_OK);
  load_row(&F, &d[1], 0);
  ck_assert_msg(fn(&F, &rule, g + 2 * P, l1, cross, spikes, NULL, &e) == SNN_OK, "%s", e.msg);
  ck_assert_msg(lg_rel(g + P, g, P, &c) > -3, "%s: the two sequences have the same gradient", rt);
  for (size_t i = 0; i < P; i++)
    ck_assert_msg(r_cmp(g + P + i, g + 2 * P + i) == 0, "%s: parameter %zu: kept %.17g, fresh %.17g", rt, i,
                  r_get_d(g + P + i), r_get_d(g + 2 * P + i));
  ck_assert_int_eq(r_cmp(l0, l1), 0);
  if (keep.p) keep.release(keep.p, &N);
  SNN_SFX(snn_net_clear)(&N);
  SNN_SFX(snn_net_clear)(&F);
  vec_free(g, 3 * P, &c);
  r_clear(l0, &c), r_clear(l1, &c);
  SNN_SFX(snn_rctx_clear)(&c);
  for (int b = 0; b < 2; b++) snn_data_clear(&d[b]);
  snn_spec_free(s);
}
END_TEST

/* The synaptic traces in blocks of steps (e-prop, diagonal OSTL on one
 * layer, mixes included) give the step-by-step gradient to rounding: within 2^(14-p) of it
 * at every precision, tightening from 128 to 256 bits, for blocks of 1, 7
 * and the whole sequence.  Not vacuous: the gradient is far from zero and
 * every layer spikes; the constants' traces run step by step beside them. */
static const char *const BLOCK_NETS[] = {
    NET("{\"model\":\"alif\",\"size\":5,\"recurrent\":true,\"w_scale\":2.5,\"beta\":0.5,\"tau_adapt\":15,"
        "\"train\":[\"w_in\",\"w_rec\",\"tau_mem\",\"threshold\",\"beta\"]}",
        "\"readout\":{\"size\":3,\"tau_out\":4},\"loss\":{\"kind\":\"ce\",\"window\":[15,25]},\"spike\":{"
        "\"surrogate\":\"triangle\"}"),
    NET("{\"model\":\"lif\",\"size\":6,\"recurrent\":true,\"w_scale\":3,\"train\":[\"w_in\",\"w_rec\",\"tau_mem\","
        "\"threshold\"]}",
        "\"readout\":{\"size\":2,\"tau_out\":6},\"spike\":{\"surrogate\":\"fast_sigmoid\"}"),
    ADLIF_NET,
    NET("{\"model\":\"lstm\",\"size\":4,\"recurrent\":true,\"w_scale\":2}", "\"readout\":{\"size\":2,\"tau_out\":3}"),
    LTC_NET,
};
#define NBNETS (int)(sizeof BLOCK_NETS / sizeof *BLOCK_NETS)
static const char *const BLOCK_RULES[] = {"eprop", "eprop:feedback=random", "ostl:traces=diagonal"};
#define NBRULES (int)(sizeof BLOCK_RULES / sizeof *BLOCK_RULES)

START_TEST(test_blocks_are_steps) {
  const char *json = BLOCK_NETS[_i / NBRULES], *base = BLOCK_RULES[_i % NBRULES];
  if (skipped(_i / NBRULES + 1)) return; /* the first network */
  snn_spec *s = spec_from(json);
  snn_data d;
  snn_err e = {0};
  ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
  const char *sizes[] = {"1", "7", "25"};
  double lg[3][NPRECS];
  for (int p = 0; p < nprecs(); p++) {
    char text[96];
    snn_rule step;
    snprintf(text, sizeof text, "%s%sblock=0", base, strchr(base, ':') ? "," : ":");
    ck_assert_int_eq(snn_rule_parse(text, &step, &e), SNN_OK);
    snn_result ref;
    snn_result_init(&ref, s);
    ck_assert_msg(ENG->grad(s, &d, PRECS[p], &step, &ref, &e) == SNN_OK, "%s", e.msg);
    for (size_t l = 0; l < s->L; l++) ck_assert_msg(ref.crossings[l] > 0, "%s: layer %zu silent", base, l);
    for (int k = 0; k < 3; k++) {
      snn_rule rb;
      snprintf(text, sizeof text, "%s%sblock=%s", base, strchr(base, ':') ? "," : ":", sizes[k]);
      ck_assert_int_eq(snn_rule_parse(text, &rb, &e), SNN_OK);
      snn_result x;
      snn_result_init(&x, s);
      ck_assert_msg(ENG->grad(s, &d, PRECS[p], &rb, &x, &e) == SNN_OK, "%s", e.msg);
      snn_blockcmp bc[32], all;
      ck_assert_int_eq(ENG->compare(s, PRECS[p], &ref, &x, bc, &all), SNN_OK);
      ck_assert_msg(all.lg_ref > -2, "%s: gradient too small (1e%.1f)", text, all.lg_ref);
      lg[k][p] = all.lg_rel;
      ck_assert_msg(lg[k][p] <= snn_exact_lg_tol(PRECS[p]), "%s at %ld bits: 1e%.1f from the step-by-step gradient",
                    text, PRECS[p], lg[k][p]);
      snn_result_clear(&x);
    }
    snn_result_clear(&ref);
  }
#ifdef SNN_MPFR
  for (int k = 0; k < 3 && nprecs() == NPRECS; k++)
    ck_assert_msg(lg[k][1] <= lg[k][0] - 60 * 0.30103, "%s block=%s: 1e%.1f at 256 bits did not tighten from 1e%.1f",
                  base, sizes[k], lg[k][1], lg[k][0]);
#endif
  snn_data_clear(&d);
  snn_spec_free(s);
}
END_TEST

/* Truncated BPTT's windows one after another (memory W steps) give the
 * gradient of the stored-trajectory form (rows 1..T at once, paths cut at
 * window starts), which the same network takes when it has a rate
 * regulariser: here one with c = 0, which adds nothing.  Within 2^(14-p) at
 * every precision, tightening to 256 bits; not vacuous: the window changes
 * the gradient by more than 1e-3 against BPTT's. */
START_TEST(test_windows_are_stored) {
  const char *json = NETS[2 + _i]; /* the networks without a regulariser */
  if (skipped(2 + _i)) return;
  snn_spec *s = spec_from(json), *sr = spec_from(json);
  sr->rate_reg = 1, sr->reg_c = 0;
  snn_data d;
  snn_err e = {0};
  ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
  snn_rule win, full;
  ck_assert_int_eq(snn_rule_parse("tbptt:window=6", &win, &e), SNN_OK);
  ck_assert_int_eq(snn_rule_parse("bptt", &full, &e), SNN_OK);
  double lg[NPRECS];
  for (int p = 0; p < nprecs(); p++) {
    snn_result a, b, f;
    snn_result_init(&a, s), snn_result_init(&b, s), snn_result_init(&f, s);
    ck_assert_msg(ENG->grad(s, &d, PRECS[p], &win, &a, &e) == SNN_OK, "%s", e.msg);
    ck_assert_msg(ENG->grad(sr, &d, PRECS[p], &win, &b, &e) == SNN_OK, "%s", e.msg);
    ck_assert_msg(ENG->grad(s, &d, PRECS[p], &full, &f, &e) == SNN_OK, "%s", e.msg);
    ck_assert_msg(a.bytes < f.bytes, "net %d: windows hold %zu bytes, BPTT %zu", 2 + _i, a.bytes, f.bytes);
    snn_blockcmp bc[32], all;
    ck_assert_int_eq(ENG->compare(s, PRECS[p], &f, &a, bc, &all), SNN_OK);
    ck_assert_msg(all.lg_rel > -3, "net %d: the window changes the gradient by 1e%.1f only", 2 + _i, all.lg_rel);
    ck_assert_int_eq(ENG->compare(s, PRECS[p], &b, &a, bc, &all), SNN_OK);
    lg[p] = all.lg_rel;
    ck_assert_msg(lg[p] <= snn_exact_lg_tol(PRECS[p]), "net %d at %ld bits: windows 1e%.1f from the stored form",
                  2 + _i, PRECS[p], lg[p]);
    ck_assert_msg(fabs(a.loss.v[0] - b.loss.v[0]) <= 1e-12 * fabs(b.loss.v[0]), "net %d: loss %.17g against %.17g",
                  2 + _i, a.loss.v[0], b.loss.v[0]);
    snn_result_clear(&a), snn_result_clear(&b), snn_result_clear(&f);
  }
#ifdef SNN_MPFR
  if (nprecs() == NPRECS)
    ck_assert_msg(lg[1] <= lg[0] - 60 * 0.30103, "net %d: 1e%.1f at 256 bits did not tighten from 1e%.1f", 2 + _i,
                  lg[1], lg[0]);
#else
  (void)lg;
#endif
  snn_data_clear(&d);
  snn_spec_free(s), snn_spec_free(sr);
}
END_TEST

int main(void) {
  Suite *su = suite_create(ENG->name);
  TCase *tc = tcase_create("batch");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, test_batch_is_sum, 0, NNETS * NRULES);
  tcase_add_loop_test(tc, test_rows_are_the_single_runs, 0, NNETS);
  tcase_add_loop_test(tc, test_weights_follow_derive, 0, 2);
  tcase_add_loop_test(tc, test_split_jacobians_follow_updates, 0, 4);
  tcase_add_loop_test(tc, test_kept_buffers_are_fresh, 0, NNETS * NKEEP);
  tcase_add_loop_test(tc, test_blocks_are_steps, 0, NBNETS * NBRULES);
  tcase_add_loop_test(tc, test_windows_are_stored, 0, NNETS - 2);
  suite_add_tcase(su, tc);
  return snn_run_suite(su, 0);
}
