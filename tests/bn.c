/* bn.c - batch normalisation (docs/batchnorm.md): with the batch's
 * statistics (training) the loss of a batch couples its sequences, and
 * BPTT's gradient must be the derivative of that coupled loss.  Checked per
 * parameter block against Richardson-extrapolated central differences of
 * the batch's loss along a random direction supported on that block, at 53
 * bits and at 128 and 256, with tolerance 2^(16 - 0.8 p) (it tightens).
 *
 * Not vacuous: the gradient that treats the batch's statistics as
 * constants (the running-statistics formula, evaluated with the running
 * statistics set to this batch's, so that the forward pass is the same)
 * misses the derivative by more than 1e-3, so a backward pass that dropped
 * the mean's or the variance's path would fail; it is, as it must be, the
 * derivative of the loss with those statistics held (checked too).
 * The running-statistics gradient itself is checked by `snngrad check` in
 * tests/battery.c's nets (tests/reference/nets/ltc_bn.json). */
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
  "{\"seed\":41,\"steps\":16,\"input\":{\"size\":3,\"rate\":0.4},\"layers\":[" layers "]," rest "}"

static const char *const NETS[] = {
    /* ltc, recurrent with self-connections: both sides normalised, mixes after; the readout's input too */
    NET("{\"model\":\"ltc\",\"size\":4,\"recurrent\":true,\"self_connections\":true,\"w_scale\":3,"
        "\"batch_norm\":{\"gamma\":0.7}}",
        "\"readout\":{\"size\":2,\"tau_out\":4,\"batch_norm\":{\"gamma\":0.5}},"
        "\"spike\":{\"forward\":\"sigmoid\",\"slope\":2}"),
    /* two layers: recurrent lif, then lif with delays, both normalised; ce */
    NET("{\"model\":\"lif\",\"size\":4,\"recurrent\":true,\"w_scale\":3,\"batch_norm\":true},"
        "{\"model\":\"lif\",\"size\":3,\"w_scale\":3,\"delays\":{\"max\":2,\"init\":[0.5,1.5]},"
        "\"batch_norm\":{\"gamma\":1.5}}",
        "\"readout\":{\"size\":3,\"tau_out\":4},\"loss\":{\"kind\":\"ce\",\"window\":[8,16]},"
        "\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}"),
};
#define NNETS (int)(sizeof NETS / sizeof *NETS)
enum { B = 4 };

typedef struct {
  snn_spec *s;
  rctx c;
  net N;
  traj tr;
  relt *th0, *dir, *g;
  real L, h, D; /* the loss, scratch, the directional derivative */
  real lb, gd;  /* the rule's loss, its gradient along the direction */
  snn_rule rule;
  SNN_SFX(snn_rule_fn) fn;
  double hs; /* the differences' first step, relative to the default */
} fix;

static void fix_init(fix *f, const char *json, long prec) {
  snn_err e = {0};
  f->s = spec_from(json);
  snn_data d;
  ck_assert_int_eq(snn_data_generate(f->s, &d, &e), SNN_OK);
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&f->c, prec), SNN_OK);
  ck_assert_int_eq(SNN_SFX(snn_net_init)(&f->N, f->s, &d, &f->c), SNN_OK);
  ck_assert_int_eq(SNN_SFX(snn_net_batch)(&f->N, B), SNN_OK);
  /* B different sequences: inputs drawn per row, labels 0, 1, 2, 0 */
  const snn_spec *s = f->s;
  for (size_t b = 0; b < B; b++) {
    unsigned long long z = 0x5eedULL + b;
    for (size_t i = 0; i < s->T * s->n_in; i++) {
      z = snn_mix64(z);
      double x = (double)(z >> 11) * 0x1.0p-53 < 0.4 ? 1.0 : 0.0;
      r_set_d(f->N.x + ((i / s->n_in) * B + b) * s->n_in + i % s->n_in, x, &f->c);
    }
    for (size_t i = 0; s->loss == SNN_LOSS_MSE && i < s->T * s->n_out; i++)
      r_set_d(f->N.y + ((i / s->n_out) * B + b) * s->n_out + i % s->n_out, sin(0.3 * (double)(i + b)), &f->c);
    f->N.label[b] = (long)(b % s->n_out);
  }
  snn_data_clear(&d);
  f->N.bn_train = 1;
  ck_assert_int_eq(SNN_SFX(snn_traj_init)(&f->tr, &f->N), SNN_OK);
  f->th0 = vec_alloc(s->P, &f->c), f->dir = vec_alloc(s->P, &f->c), f->g = vec_alloc(s->P, &f->c);
  r_init(f->L, &f->c), r_init(f->h, &f->c), r_init(f->D, &f->c), r_init(f->lb, &f->c), r_init(f->gd, &f->c);
  ck_assert_int_eq(snn_rule_parse("bptt", &f->rule, &e), SNN_OK);
  ck_assert_int_eq(snn_rule_check(&f->rule, f->s, "", "rule", &e), SNN_OK);
  f->fn = SNN_RULE_FN(&f->rule);
  f->hs = 1;
  SNN_SFX(snn_vset)(s->P, f->N.theta, f->th0, &f->c);
}

static void fix_clear(fix *f) {
  size_t P = f->s->P;
  vec_free(f->th0, P, &f->c), vec_free(f->dir, P, &f->c), vec_free(f->g, P, &f->c);
  r_clear(f->L, &f->c), r_clear(f->h, &f->c), r_clear(f->D, &f->c), r_clear(f->lb, &f->c), r_clear(f->gd, &f->c);
  SNN_SFX(snn_traj_clear)(&f->tr, &f->N);
  SNN_SFX(snn_net_clear)(&f->N);
  SNN_SFX(snn_rctx_clear)(&f->c);
  snn_spec_free(f->s);
}

/* BPTT's gradient into f->g and its loss into f->lb; every layer spikes. */
static void rule_grad(fix *f) {
  snn_err e = {0};
  size_t cross[SNN_MAX_LAYERS];
  double spikes[SNN_MAX_LAYERS];
  ck_assert_msg(f->fn(&f->N, &f->rule, f->g, f->lb, cross, spikes, NULL, &e) == SNN_OK, "%s", e.msg);
  for (size_t l = 0; l < f->s->L; l++) ck_assert_msg(cross[l] > 0, "layer %zu silent", l);
}

/* The batch's loss at theta0 + e dir, into f->L. */
static void loss_at(fix *f, double e) {
  size_t P = f->s->P;
  for (size_t i = 0; i < P; i++) {
    r_mul_d(f->h, f->dir + i, e, &f->c);
    r_add(f->N.theta + i, f->th0 + i, f->h, &f->c);
  }
  SNN_SFX(snn_net_derive)(&f->N);
  SNN_SFX(snn_forward)(&f->N, &f->tr);
  SNN_SFX(snn_traj_loss)(&f->N, &f->tr, f->L);
}

/* d/de L(theta0 + e dir) at 0 into f->D: central differences at h, h/2,
 * ..., extrapolated (Richardson, even powers), in the working precision. */
static void directional(fix *f, long prec) {
  enum { LV = 18 };
  real R[LV][LV];
  int lv = prec > 200 ? 18 : prec > 60 ? 12 : 4;
  double h0 = prec > 200 ? 0x1p-6 : prec > 60 ? 0x1p-6 : 0x1p-8;
  rctx *c = &f->c;
  for (int i = 0; i < lv; i++)
    for (int j = 0; j <= i; j++) r_init(R[i][j], c);
  for (int i = 0; i < lv; i++) {
    double h = f->hs * ldexp(h0, -i);
    loss_at(f, h);
    r_set(R[i][0], f->L, c);
    loss_at(f, -h);
    r_sub(R[i][0], R[i][0], f->L, c);
    r_div_d(R[i][0], R[i][0], 2 * h, c);
    for (int j = 1; j <= i; j++) { /* R[i][j] = R[i][j-1] + (R[i][j-1] - R[i-1][j-1]) / (4^j - 1) */
      r_sub(f->h, R[i][j - 1], R[i - 1][j - 1], c);
      r_div_d(f->h, f->h, ldexp(1.0, 2 * j) - 1, c);
      r_add(R[i][j], R[i][j - 1], f->h, c);
    }
  }
  r_set(f->D, R[lv - 1][lv - 1], c);
  for (int i = 0; i < lv; i++)
    for (int j = 0; j <= i; j++) r_clear(R[i][j], c);
  loss_at(f, 0);
}

/* g . dir, into out */
static void dot(fix *f, const relt *g, relt *out) {
  r_zero(out, &f->c);
  for (size_t i = 0; i < f->s->P; i++) r_fma(out, g + i, f->dir + i, out, &f->c);
}

/* log10 |a - b| / |b| */
static double lg_rel1(const relt *a, const relt *b, rctx *c) {
  real t;
  r_init(t, c);
  r_sub(t, a, b, c);
  double lg = r_log10abs(t) - r_log10abs(b);
  r_clear(t, c);
  return lg;
}

/* a random direction on block k (unit entries of random sign; zero on a
 * recurrent matrix's held diagonal) */
static void direction(fix *f, size_t k) {
  const snn_block *bk = &f->s->blk[k];
  SNN_SFX(snn_vzero)(f->s->P, f->dir, &f->c);
  unsigned long long z = 0xd1ce + k;
  for (size_t i = 0; i < bk->rows * bk->cols; i++) {
    z = snn_mix64(z);
    if (bk->kind == SNN_BLK_W_REC && !f->s->layers[bk->layer].sh->selfconn && i / bk->cols % bk->cols == i % bk->cols)
      continue;
    r_set_d(f->dir + bk->off + i, (z >> 63) ? 1.0 : -1.0, &f->c);
  }
}

/* under valgrind (SNN_TEST_ONE_PRECISION) the first precision only */
static int skipped(int i) {
  return getenv("SNN_TEST_ONE_PRECISION") && i % NPRECS > 0;
}

/* Loop index i's network and precision, unless skipped (then 0). */
static int fix_for(fix *f, int i) {
  if (skipped(i)) return 0;
  fix_init(f, NETS[i / NPRECS], PRECS[i % NPRECS]);
  return 1;
}

static double lg_tol(long prec) {
  return (16 - 0.8 * (double)prec) * 0.30103;
}

START_TEST(test_bptt_is_the_coupled_derivative) {
  long prec = PRECS[_i % NPRECS];
  fix f;
  if (!fix_for(&f, _i)) return;
  rule_grad(&f);
  /* the batch's statistics reach the running statistics' entries (times B) */
  const snn_block *mb = &f.s->blk[f.s->layers[0].blk_bn[0][2]];
  ck_assert_int_ne(r_sgn(f.g + mb->off), 0);
  int checked = 0;
  for (size_t k = 0; k < f.s->nblk; k++) {
    const snn_block *bk = &f.s->blk[k];
    if (!bk->trainable) continue;
    direction(&f, k);
    directional(&f, prec);
    dot(&f, f.g, f.gd);
    double lg = lg_rel1(f.gd, f.D, &f.c);
    ck_assert_msg(lg <= lg_tol(prec), "%s at %ld bits: BPTT 1e%.1f from the derivative (tolerance 1e%.1f)", bk->name,
                  prec, lg, lg_tol(prec));
    checked++;
  }
  ck_assert_int_ge(checked, 6);
  fix_clear(&f);
}
END_TEST

/* The negative control: the same forward pass with the statistics held
 * (running statistics = this batch's, biased variance), its gradient. */
START_TEST(test_held_statistics_miss) {
  long prec = PRECS[_i % NPRECS];
  fix f;
  if (!fix_for(&f, _i)) return;
  const snn_spec *s = f.s;
  /* the batch's statistics per step, from a forward pass with them */
  SNN_SFX(snn_forward)(&f.N, &f.tr);
  relt *held = vec_alloc(s->P, &f.c);
  SNN_SFX(snn_vset)(s->P, f.N.theta, held, &f.c);
  if (s->ro_bn) /* the readout's */
    for (size_t t = 1; t <= s->T; t++) {
      size_t K = s->n_out;
      const relt *rec = f.tr.bnro + t * SNN_SFX(snn_bn_rec)(K, B);
      for (size_t q = 0; q < K; q++) {
        r_set(held + s->blk[s->blk_ro_bn[2]].off + (t - 1) * K + q, rec + K + q, &f.c);
        r_mul_d(held + s->blk[s->blk_ro_bn[3]].off + (t - 1) * K + q, rec + 2 * K + q, (double)(B - 1) / B, &f.c);
      }
    }
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &f.N.layers[l];
    size_t FF = L->bs[0].FF;
    for (int side = 0; side < 2; side++) {
      size_t F = L->bs[side].F, f0 = L->bs[side].f0;
      for (size_t t = 1; F && t <= s->T; t++) {
        const relt *rec = f.tr.bn[l] + t * SNN_SFX(snn_bn_rec)(FF, B);
        relt *m = held + s->blk[s->layers[l].blk_bn[side][2]].off + (t - 1) * F;
        relt *v = held + s->blk[s->layers[l].blk_bn[side][3]].off + (t - 1) * F;
        for (size_t q = 0; q < F; q++) {
          r_set(m + q, rec + FF + f0 + q, &f.c);
          r_mul_d(v + q, rec + 2 * FF + f0 + q, (double)(B - 1) / B, &f.c);
        }
      }
    }
  }
  /* the true derivative along a direction on layer 0's w_in */
  size_t k = (size_t)s->layers[0].blk_w_in;
  direction(&f, k);
  directional(&f, prec);
  real truth;
  r_init(truth, &f.c);
  r_set(truth, f.D, &f.c);
  /* the held gradient; its forward is the same to rounding */
  SNN_SFX(snn_vset)(s->P, held, f.N.theta, &f.c);
  SNN_SFX(snn_vset)(s->P, held, f.th0, &f.c);
  f.N.bn_train = 0;
  rule_grad(&f);
  f.N.bn_train = 1;
  loss_at(&f, 0);
  double lgl = lg_rel1(f.lb, f.L, &f.c);
  ck_assert_msg(lgl <= -10, "held statistics: the loss moved by 1e%.1f", lgl);
  dot(&f, f.g, f.gd);
  double lg = lg_rel1(f.gd, truth, &f.c);
  ck_assert_msg(lg > -3, "at %ld bits the held-statistics gradient is only 1e%.1f from the derivative", prec, lg);
  /* ... and it is the derivative of the loss with those statistics held (the
   * running-statistics pass, with statistics that are not 0 and 1) */
  f.N.bn_train = 0;
  f.hs = 0x1p-6; /* features of variance ~0 have 1/sqrt(eps) ~ 300 in their slope */
  directional(&f, prec);
  double lge = lg_rel1(f.gd, f.D, &f.c);
  ck_assert_msg(lge <= lg_tol(prec), "at %ld bits, running statistics: BPTT 1e%.1f from the derivative", prec, lge);
  vec_free(held, s->P, &f.c);
  r_clear(truth, &f.c);
  fix_clear(&f);
}
END_TEST

int main(void) {
  Suite *su = suite_create(ENG->name);
  TCase *tc = tcase_create("bn");
  tcase_set_timeout(tc, 300);
  tcase_add_loop_test(tc, test_bptt_is_the_coupled_derivative, 0, NNETS * NPRECS);
  tcase_add_loop_test(tc, test_held_statistics_miss, 0, NNETS * NPRECS);
  suite_add_tcase(su, tc);
  return snn_run_suite(su, 0);
}
