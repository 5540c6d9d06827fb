/* battery.c - the conformance battery, compiled once per precision: as
 * test_battery_d (double, 53 bits) and test_battery_mp (MPFR at 128 and 256
 * bits, and at 53 bits against the double build).
 *
 * Every gradient assertion first shows that it is not vacuous: the network
 * crosses threshold in every layer, the reference gradient is far from zero,
 * and a deliberately broken BPTT (a path cut that the loss does not cut)
 * fails the same comparison. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/driver.h"
#include "sim/engine.h"
#include "sim/jac.h"
#include "sim/spike.h"
#include "tests/prec.h"
#include "tests/testutil.h"

/* ---------- networks covering every model, layer kind, loss and parameter kind ---------- */
static const char *const NETS[] = {
    /* lif feed-forward, mse, every lif parameter kind, input scale 1-alpha */
    "{\"seed\":1,\"steps\":16,\"input\":{\"size\":3,\"rate\":0.4},"
    "\"layers\":[{\"model\":\"lif\",\"size\":4,\"tau_mem\":6,\"input_scale\":\"1-alpha\",\"w_scale\":9,"
    "\"train\":[\"w_in\",\"tau_mem\",\"threshold\"]}],"
    "\"readout\":{\"size\":2,\"tau_out\":4},\"spike\":{\"forward\":\"sigmoid\",\"slope\":4}}",
    /* lif recurrent, ce over a window, no reset */
    "{\"seed\":2,\"steps\":16,\"input\":{\"size\":3,\"rate\":0.4},"
    "\"layers\":[{\"model\":\"lif\",\"size\":4,\"recurrent\":true,\"reset\":\"none\",\"w_scale\":0.7,"
    "\"train\":[\"w_in\",\"w_rec\",\"threshold\"]}],"
    "\"readout\":{\"size\":3},\"loss\":{\"kind\":\"ce\",\"window\":[8,16]},\"spike\":{\"forward\":\"sigmoid\","
    "\"slope\":1}}",
    /* alif recurrent, every alif parameter kind, rate regulariser */
    "{\"seed\":3,\"steps\":16,\"input\":{\"size\":3,\"rate\":0.4},"
    "\"layers\":[{\"model\":\"alif\",\"size\":4,\"recurrent\":true,\"w_scale\":2,\"beta\":0.6,\"tau_adapt\":12,"
    "\"train\":[\"w_in\",\"w_rec\",\"tau_mem\",\"threshold\",\"tau_adapt\",\"beta\"]}],"
    "\"readout\":{\"size\":2,\"tau_out\":3},\"loss\":{\"rate_reg\":{\"c\":2.0,\"target\":0.1}},"
    "\"spike\":{\"forward\":\"sigmoid\",\"slope\":4}}",
    /* snu recurrent identity and snu relu, two layers, ce */
    "{\"seed\":4,\"steps\":16,\"input\":{\"size\":3,\"rate\":0.4},"
    "\"layers\":[{\"model\":\"snu\",\"size\":4,\"recurrent\":true,\"w_scale\":2,\"threshold\":0.5,"
    "\"train\":[\"w_in\",\"w_rec\",\"decay\",\"bias\"]},"
    "{\"model\":\"snu\",\"size\":3,\"activation\":\"relu\",\"w_scale\":2,\"threshold\":0.3}],"
    "\"readout\":{\"size\":3,\"tau_out\":2},\"loss\":{\"kind\":\"ce\"},\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}"
    "}",
    /* three mixed layers, mse over a window plus rate regulariser */
    "{\"seed\":5,\"steps\":14,\"input\":{\"size\":3,\"rate\":0.5},"
    "\"layers\":[{\"model\":\"lif\",\"size\":4,\"recurrent\":true,\"w_scale\":3},"
    "{\"model\":\"alif\",\"size\":3,\"w_scale\":6,\"beta\":0.3,\"tau_adapt\":15,\"train\":[\"w_in\",\"beta\",\"tau_"
    "adapt\"]},"
    "{\"model\":\"snu\",\"size\":3,\"recurrent\":true,\"w_scale\":2,\"w_mean\":1.5,\"threshold\":0.4}],"
    "\"readout\":{\"size\":2,\"tau_out\":5},\"loss\":{\"window\":[3,12],\"rate_reg\":{\"c\":1.0,\"target\":0.2}},"
    "\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}}",
    /* adlif recurrent, every adaptation parameter trained */
    "{\"seed\":12,\"steps\":20,\"input\":{\"size\":4,\"rate\":0.4},"
    "\"layers\":[{\"model\":\"adlif\",\"size\":5,\"recurrent\":true,\"w_scale\":25,\"tau_mem\":10,\"tau_adapt\":50,"
    "\"a\":0.3,\"b\":0.8,\"threshold\":0.5,\"train\":[\"w_in\",\"w_rec\",\"tau_mem\",\"threshold\",\"tau_adapt\",\"a\","
    "\"b\"]}],"
    "\"readout\":{\"size\":2,\"tau_out\":4},\"spike\":{\"forward\":\"sigmoid\",\"slope\":4}}",
    /* ltc recurrent: every ltc parameter kind (weights, both biases, both time-constant mixes, b0, beta) */
    "{\"seed\":5,\"steps\":20,\"input\":{\"size\":4,\"rate\":0.3},"
    "\"layers\":[{\"model\":\"ltc\",\"size\":5,\"recurrent\":true,\"w_scale\":3,\"separate_biases\":true,"
    "\"train\":[\"w_in\",\"w_rec\",\"bias\",\"bias_rec\",\"w_tau_m\",\"w_tau_adp\",\"threshold\",\"beta\"]}],"
    "\"readout\":{\"size\":2,\"tau_out\":5},\"spike\":{\"forward\":\"sigmoid\",\"slope\":4}}",
    /* gru recurrent under lstm recurrent, ce: gate weights and biases (heaviside: no spiking layer) */
    "{\"seed\":7,\"steps\":16,\"input\":{\"size\":3,\"kind\":\"normal\"},"
    "\"layers\":[{\"model\":\"gru\",\"size\":4,\"recurrent\":true},{\"model\":\"lstm\",\"size\":3,\"recurrent\":true}],"
    "\"readout\":{\"size\":3,\"tau_out\":2},\"loss\":{\"kind\":\"ce\"}}",
    /* delays: linear kernel on layer 0 (lif), gaussian on a recurrent alif above it */
    "{\"seed\":6,\"steps\":20,\"input\":{\"size\":3,\"rate\":0.4},"
    "\"layers\":[{\"model\":\"lif\",\"size\":4,\"w_scale\":3,\"tau_mem\":5,\"delays\":{\"max\":4,\"init\":[0.3,3.7]}},"
    "{\"model\":\"alif\",\"size\":3,\"recurrent\":true,\"w_scale\":3,\"tau_mem\":6,"
    "\"delays\":{\"max\":3,\"kernel\":\"gaussian\",\"sigma\":0.7}}],"
    "\"readout\":{\"size\":2,\"tau_out\":4},\"spike\":{\"forward\":\"sigmoid\",\"slope\":4}}",
    /* batch_norm outside training (the running statistics, a per-step affine map): recurrent alif, both
     * sides normalised; ltc feed-forward on top */
    "{\"seed\":8,\"steps\":18,\"input\":{\"size\":3,\"rate\":0.4},"
    "\"layers\":[{\"model\":\"alif\",\"size\":4,\"recurrent\":true,\"w_scale\":3,\"batch_norm\":{\"gamma\":0.8}},"
    "{\"model\":\"ltc\",\"size\":3,\"w_scale\":3,\"batch_norm\":{\"gamma\":1.3,\"eps\":0.01}}],"
    "\"readout\":{\"size\":2,\"tau_out\":4,\"batch_norm\":true},\"spike\":{\"forward\":\"sigmoid\",\"slope\":4}}",
};
#define NNETS (int)(sizeof NETS / sizeof *NETS)

/* BPTT against Richardson differences for every network at every precision of
 * this build; the error must be under the precision's tolerance and, in the
 * MPFR build, shrink by at least 2^-80 from 128 to 256 bits. */
START_TEST(test_bptt_matches_fd) {
  snn_spec *s = spec_from(NETS[_i]);
  snn_data d;
  snn_err e = {0};
  ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
  double lg[NPRECS];
  /* under valgrind (SNN_TEST_ONE_PRECISION) the first precision only: the
   * memory checks need one, the plain and sanitizer passes check them all */
  int np = getenv("SNN_TEST_ONE_PRECISION") ? 1 : NPRECS;
  for (int k = 0; k < np; k++) {
    snn_fdreport rep;
    ck_assert_int_eq(snn_fdreport_init(&rep, s), SNN_OK);
    snn_fdopts o = {SNN_FD_RICHARDSON, 0, NULL};
    int st = ENG->fdcheck(s, &d, PRECS[k], &o, &rep, &e);
    ck_assert_msg(st == SNN_OK, "net %d: %s", _i, e.msg);
    for (size_t l = 0; l < s->L; l++) ck_assert_msg(rep.crossings[l] > 0, "net %d layer %zu silent", _i, l);
    ck_assert_msg(rep.lg_ref_all > -3, "net %d: reference gradient too small to mean anything", _i);
    ck_assert_msg(rep.pass && rep.lg_rel_all <= rep.lg_tol, "net %d at %ld bits: error 1e%.1f over tolerance 1e%.1f",
                  _i, PRECS[k], rep.lg_rel_all, rep.lg_tol);
    for (size_t b = 0; b < s->nblk; b++)
      if (s->blk[b].trainable) {
        const snn_blockcmp *bc = &rep.blk[b];
        ck_assert(bc->present);
        /* the tested networks are built so that every block is resolved and
         * none is more than 1e5 below the whole gradient */
        ck_assert_msg(bc->verdict == SNN_BLK_OK && bc->lg_rel <= bc->lg_tol && bc->lg_tol <= rep.lg_tol + 5,
                      "net %d %s at %ld bits: error 1e%.1f, tolerance 1e%.1f, verdict %d", _i, s->blk[b].name, PRECS[k],
                      bc->lg_rel, bc->lg_tol, bc->verdict);
      }
    lg[k] = rep.lg_rel_all;
    snn_fdreport_clear(&rep);
  }
#ifdef SNN_MPFR
  if (np == 2)
    ck_assert_msg(lg[1] < lg[0] - 80 * 0.30103, "net %d: error 1e%.1f at 256 bits did not tighten from 1e%.1f at 128",
                  _i, lg[1], lg[0]);
#else
  (void)lg;
#endif
  snn_data_clear(&d);
  snn_spec_free(s);
}
END_TEST

/* BPTT's gradient vector and the finite-difference one, computed directly. */
static double broken_rel_error(snn_spec *s, int cut_reset, int cut_rec) {
  snn_data d;
  snn_err e = {0};
  ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
  snn_run R;
  ck_assert_int_eq(SNN_SFX(snn_run_init)(&R, s, &d, PRECS[NPRECS - 1], &e), SNN_OK);
  rctx *c = &R.c;
  relt *gok = vec_alloc(s->P, c);
  SNN_SFX(snn_forward)(&R.N, &R.tr);
  SNN_SFX(snn_bptt)(&R.N, &R.tr, R.ws, gok);
  /* the broken rule: cut a path in BPTT that the loss keeps */
  s->detach_reset = cut_reset;
  s->detach_rec = cut_rec;
  SNN_SFX(snn_bptt)(&R.N, &R.tr, R.ws, R.g);
  s->detach_reset = s->detach_rec = 0;
  double num = 0, den = 0;
  for (size_t i = 0; i < s->P; i++) {
    double a = r_get_d(R.g + i), b = r_get_d(gok + i);
    num += (a - b) * (a - b);
    den += b * b;
  }
  vec_free(gok, s->P, c);
  SNN_SFX(snn_run_clear)(&R);
  snn_data_clear(&d);
  return sqrt(num / den);
}

/* The comparison is not vacuous: cutting the reset or the recurrent path
 * (what e-prop does) moves the gradient far beyond the tolerance, so the
 * FD check above would fail a rule that did so. */
START_TEST(test_broken_rule_fails) {
  snn_spec *s = spec_from(NETS[2]); /* alif, recurrent, reset subtract */
  double lg_tol = snn_fd_lg_tol(PRECS[NPRECS - 1], SNN_FD_RICHARDSON);
  double r1 = broken_rel_error(s, 1, 0), r2 = broken_rel_error(s, 0, 1);
  ck_assert_msg(log10(r1) > lg_tol + 5 && r1 > 1e-3, "cutting the reset changes the gradient by only %g", r1);
  ck_assert_msg(log10(r2) > lg_tol + 5 && r2 > 1e-3, "cutting the recurrence changes the gradient by only %g", r2);
  snn_spec_free(s);
}
END_TEST

/* ---------- local Jacobians of each cell against finite differences ---------- */

static const char *const CELLS[] = {
    "{\"steps\":2,\"input\":{\"size\":2},\"layers\":[{\"model\":\"lif\",\"size\":3,\"tau_mem\":7,\"threshold\":0.8}],"
    "\"readout\":{\"size\":1},\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}}",
    "{\"steps\":2,\"input\":{\"size\":2},\"layers\":[{\"model\":\"lif\",\"size\":3,\"input_scale\":\"1-alpha\","
    "\"reset\":\"none\"}],\"readout\":{\"size\":1},\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}}",
    "{\"steps\":2,\"input\":{\"size\":2},\"layers\":[{\"model\":\"alif\",\"size\":3,\"tau_adapt\":9,\"beta\":0.7}],"
    "\"readout\":{\"size\":1},\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}}",
    "{\"steps\":2,\"input\":{\"size\":2},\"layers\":[{\"model\":\"snu\",\"size\":3,\"decay\":0.6}],"
    "\"readout\":{\"size\":1},\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}}",
    "{\"steps\":2,\"input\":{\"size\":2},\"layers\":[{\"model\":\"snu\",\"size\":3,\"activation\":\"relu\"}],"
    "\"readout\":{\"size\":1},\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}}",
    "{\"steps\":2,\"input\":{\"size\":2},\"layers\":[{\"model\":\"adlif\",\"size\":3,\"tau_mem\":8,\"tau_adapt\":40,"
    "\"a\":-0.4,\"b\":1.2,\"threshold\":0.7}],\"readout\":{\"size\":1},\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}"
    "}",
    "{\"steps\":2,\"input\":{\"size\":2},\"layers\":[{\"model\":\"lstm\",\"size\":3}],\"readout\":{\"size\":1}}",
    "{\"steps\":2,\"input\":{\"size\":2},\"layers\":[{\"model\":\"gru\",\"size\":3}],\"readout\":{\"size\":1}}",
    "{\"steps\":2,\"input\":{\"size\":2},\"layers\":[{\"model\":\"ltc\",\"size\":3,\"beta\":1.3,\"threshold\":0.2}],"
    "\"readout\":{\"size\":1},\"spike\":{\"forward\":\"sigmoid\",\"slope\":3}}",
};
#define NCELLS (int)(sizeof CELLS / sizeof *CELLS)

typedef struct {
  lay *L;
  rctx *c;
  relt *sp, *zp, *I, *s, *u, *z;
} cellio;

static void run_step(cellio *io) {
  io->L->cell->derive(io->L, io->c);
  io->L->cell->step(io->L, io->sp, io->zp, io->I, io->s, io->u, io->z, io->c);
}

/* Central difference of (s, u) of unit i with respect to one input scalar x. */
static void fd_in(cellio *io, relt *x, double h, size_t i, size_t k, double *ds, double *du) {
  rctx *c = io->c;
  real save, hh;
  r_init(save, c);
  r_init(hh, c);
  r_set(save, x, c);
  r_add_d(x, save, h, c);
  r_sub(hh, x, save, c);
  run_step(io);
  double sp[4], up = r_get_d(io->u + i);
  for (size_t q = 0; q < k; q++) sp[q] = r_get_d(io->s + i * k + q);
  r_sub(x, save, hh, c);
  run_step(io);
  double hd = 2 * r_get_d(hh);
  for (size_t q = 0; q < k; q++) ds[q] = (sp[q] - r_get_d(io->s + i * k + q)) / hd;
  *du = (up - r_get_d(io->u + i)) / hd;
  r_set(x, save, c);
  run_step(io);
  r_clear(save, c);
  r_clear(hh, c);
}

/* Checked in double arithmetic on the converted values: the point is the
 * structure of the Jacobians, which a wrong entry misses by O(1). */
START_TEST(test_cell_jacobians) {
  snn_spec *s = spec_from(CELLS[_i]);
  snn_data d;
  snn_err e = {0};
  ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, PRECS[0]), SNN_OK);
  net N;
  ck_assert_int_eq(SNN_SFX(snn_net_init)(&N, s, &d, &c), SNN_OK);
  lay *L = &N.layers[0];
  size_t n = L->n, k = (size_t)L->k, np = (size_t)L->np, m = (size_t)L->m;
  cellio io = {L,
               &c,
               vec_alloc(n * k, &c),
               vec_alloc(n, &c),
               vec_alloc(n * m, &c),
               vec_alloc(n * k, &c),
               vec_alloc(n, &c),
               vec_alloc(n, &c)};
  for (size_t i = 0; i < n; i++) {
    for (size_t q = 0; q < k; q++) r_set_d(io.sp + i * k + q, 0.3 + 0.2 * (double)i - 0.15 * (double)q, &c);
    r_set_d(io.zp + i, 0.25 + 0.2 * (double)i, &c); /* smooth spikes: any value in (0, 1) */
    for (size_t q = 0; q < m; q++) r_set_d(io.I + q * n + i, 0.4 - 0.3 * (double)i + 0.35 * (double)q, &c);
  }
  jacbuf J;
  ck_assert_int_eq(SNN_SFX(snn_jac_init)(&J, n, L->k, L->m, L->np, &c), SNN_OK);
  run_step(&io);
  L->cell->jac(L, io.sp, io.zp, io.I, io.s, io.u, io.z, &J, &c);
  const double h = 1e-5, tol = 1e-7; /* h^2 ~ 1e-10 truncation, 1e-16/h rounding */
  double ds[4], du;
  for (size_t i = 0; i < n; i++) {
    double dUs[4];
    for (size_t q = 0; q < k; q++) dUs[q] = r_get_d(J.dU_ds + i * k + q);
    /* with respect to s^{t-1} */
    for (size_t q = 0; q < k; q++) {
      fd_in(&io, io.sp + i * k + q, h, i, k, ds, &du);
      double chain = 0;
      for (size_t r = 0; r < k; r++) {
        double jv = r_get_d(J.dF_ds + (i * k + r) * k + q);
        ck_assert_msg(fabs(ds[r] - jv) <= tol * (1 + fabs(jv)), "cell %d unit %zu dF_ds[%zu][%zu]: %g vs fd %g", _i, i,
                      r, q, jv, ds[r]);
        chain += dUs[r] * jv;
      }
      ck_assert_msg(fabs(du - chain) <= tol * (1 + fabs(chain)), "cell %d dU_ds chain: %g vs %g", _i, chain, du);
    }
    /* with respect to z^{t-1}: reset and local paths together */
    fd_in(&io, io.zp + i, h, i, k, ds, &du);
    for (size_t r = 0; r < k; r++) {
      double jv = r_get_d(J.dF_dzr + i * k + r) + r_get_d(J.dF_dzl + i * k + r);
      ck_assert_msg(fabs(ds[r] - jv) <= tol * (1 + fabs(jv)), "cell %d dF_dz[%zu]: %g vs fd %g", _i, r, jv, ds[r]);
    }
    /* with respect to each current */
    for (size_t q = 0; q < m; q++) {
      fd_in(&io, io.I + q * n + i, h, i, k, ds, &du);
      for (size_t r = 0; r < k; r++) {
        double jv = r_get_d(J.dF_dI + (i * k + r) * m + q);
        ck_assert_msg(fabs(ds[r] - jv) <= tol * (1 + fabs(jv)), "cell %d dF_dI[%zu][%zu]: %g vs fd %g", _i, r, q, jv,
                      ds[r]);
      }
    }
    /* with respect to each neuron constant */
    for (size_t p = 0; p < np; p++) {
      fd_in(&io, L->p[p] + i, h, i, k, ds, &du);
      double chain = r_get_d(J.dU_dp + i * np + p);
      for (size_t r = 0; r < k; r++) {
        double jv = r_get_d(J.dF_dp + (i * k + r) * np + p);
        ck_assert_msg(fabs(ds[r] - jv) <= tol * (1 + fabs(jv)), "cell %d dF_dp[%zu][%zu]: %g vs fd %g", _i, r, p, jv,
                      ds[r]);
        chain += dUs[r] * jv;
      }
      ck_assert_msg(fabs(du - chain) <= tol * (1 + fabs(chain)), "cell %d du/dp[%zu]: %g vs fd %g", _i, p, chain, du);
    }
    if (!L->sh->spiking) { /* gated cells: z = u, psi = 1 */
      ck_assert(r_get_d(J.psi + i) == 1.0 && r_get_d(io.z + i) == r_get_d(io.u + i));
      continue;
    }
    /* the spike derivative: psi = dz/du for the smooth forward */
    real uu, zz;
    r_init(uu, &c);
    r_init(zz, &c);
    r_add_d(uu, io.u + i, h, &c);
    spike_fwd(zz, uu, s, &c);
    double zplus = r_get_d(zz);
    r_add_d(uu, io.u + i, -h, &c);
    spike_fwd(zz, uu, s, &c);
    double dzdu = (zplus - r_get_d(zz)) / (2 * h), psi = r_get_d(J.psi + i);
    ck_assert_msg(fabs(dzdu - psi) <= tol * (1 + psi), "cell %d psi %g vs fd %g", _i, psi, dzdu);
    r_clear(uu, &c);
    r_clear(zz, &c);
  }
  /* a split cell: jac_fixed once, then jac_step at another step, gives
   * jac's bytes there (every entry of a buffer poisoned with NaN before) */
  ck_assert(!L->cell->jac_fixed == !L->cell->jac_step);
  if (L->cell->jac_step) {
    jacbuf J2;
    ck_assert_int_eq(SNN_SFX(snn_jac_init)(&J2, n, L->k, L->m, L->np, &c), SNN_OK);
    relt *arr[8] = {J2.dF_ds, J2.dF_dzr, J2.dF_dzl, J2.dF_dI, J2.dF_dp, J2.dU_ds, J2.dU_dp, J2.psi};
    const relt *ref[8] = {J.dF_ds, J.dF_dzr, J.dF_dzl, J.dF_dI, J.dF_dp, J.dU_ds, J.dU_dp, J.psi};
    size_t len[8] = {n * k * k, n * k, n * k, n * k * m, n * k * np, n * k, n * np, n};
    for (int a = 0; a < 8; a++)
      for (size_t q = 0; q < len[a]; q++) r_set_d(arr[a] + q, NAN, &c);
    L->cell->jac_fixed(L, &J2, &c);
    for (size_t q = 0; q < n * k; q++) r_mul_d(io.sp + q, io.sp + q, 0.7, &c);
    for (size_t q = 0; q < n * m; q++) r_add_d(io.I + q, io.I + q, 0.2, &c);
    for (size_t q = 0; q < n; q++) r_d_sub(io.zp + q, 1.0, io.zp + q, &c);
    run_step(&io);
    L->cell->jac_step(L, io.sp, io.zp, io.I, io.s, io.u, io.z, &J2, &c);
    L->cell->jac(L, io.sp, io.zp, io.I, io.s, io.u, io.z, &J, &c);
    for (int a = 0; a < 8; a++)
      for (size_t q = 0; q < len[a]; q++)
        ck_assert_msg(r_cmp(arr[a] + q, ref[a] + q) == 0 && r_isfinite(arr[a] + q),
                      "cell %d: jac_fixed + jac_step differ from jac in array %d, entry %zu", _i, a, q);
    SNN_SFX(snn_jac_clear)(&J2, n, L->k, L->m, L->np, &c);
  }
  SNN_SFX(snn_jac_clear)(&J, n, L->k, L->m, L->np, &c);
  vec_free(io.sp, n * k, &c);
  vec_free(io.zp, n, &c);
  vec_free(io.I, n * m, &c);
  vec_free(io.s, n * k, &c);
  vec_free(io.u, n, &c);
  vec_free(io.z, n, &c);
  SNN_SFX(snn_net_clear)(&N);
  SNN_SFX(snn_rctx_clear)(&c);
  snn_data_clear(&d);
  snn_spec_free(s);
}
END_TEST

/* Delays rounded for evaluation: the loss is that of the network whose
 * delays are the rounded values, and the delays get no gradient (the loss is
 * piecewise constant in them); without rounding they have one. */
START_TEST(test_delay_round) {
  static const char *const tmpl =
      "{\"seed\":6,\"steps\":20,\"input\":{\"size\":3,\"rate\":0.4},\"layers\":[{\"model\":\"lif\",\"size\":4,"
      "\"w_scale\":3,\"tau_mem\":5,\"delays\":{\"max\":4,\"kernel\":\"%s\",\"round\":%s}}],\"readout\":{\"size\":2},"
      "\"spike\":{\"forward\":\"sigmoid\",\"slope\":4}}";
  for (int gauss = 0; gauss < 2; gauss++) {
    char b1[600], b2[600];
    snprintf(b1, sizeof b1, tmpl, gauss ? "gaussian" : "linear", "true");
    snprintf(b2, sizeof b2, tmpl, gauss ? "gaussian" : "linear", "false");
    snn_spec *s1 = spec_from(b1), *s2 = spec_from(b2);
    snn_data d;
    snn_err e = {0};
    ck_assert_int_eq(snn_data_generate(s1, &d, &e), SNN_OK);
    snn_rule rule;
    snn_rule_parse("bptt", &rule, &e);
    snn_result r1, r2, r3;
    snn_result_init(&r1, s1);
    snn_result_init(&r2, s2);
    snn_result_init(&r3, s2);
    ck_assert_int_eq(ENG->grad(s1, &d, PRECS[0], &rule, &r1, &e), SNN_OK);
    ck_assert_int_eq(ENG->grad(s2, &d, PRECS[0], &rule, &r3, &e), SNN_OK); /* fractional delays */
    const snn_block *bk = &s1->blk[snn_spec_find_block(s1, "layer0.delay")];
    double g1 = 0, g3 = 0;
    int frac = 0;
    for (size_t i = 0; i < bk->rows * bk->cols; i++) {
      g1 += fabs(r1.grad.v[bk->off + i]);
      g3 += fabs(r3.grad.v[bk->off + i]);
      frac |= d.theta.v[bk->off + i] != floor(d.theta.v[bk->off + i] + 0.5);
      d.theta.v[bk->off + i] = floor(d.theta.v[bk->off + i] + 0.5);
    }
    ck_assert(frac);
    ck_assert_msg(g1 == 0.0, "rounded delays have gradient %g", g1);
    ck_assert_msg(g3 > 1e-6, "fractional delays have no gradient");
    ck_assert_int_eq(ENG->grad(s2, &d, PRECS[0], &rule, &r2, &e), SNN_OK); /* integer delays, not rounded */
    ck_assert(r1.crossings[0] > 0);
    double l1 = r1.loss.v[0], l2 = r2.loss.v[0], l3 = r3.loss.v[0];
    if (!gauss) ck_assert_msg(fabs(l1 - l2) <= 1e-13 * fabs(l2), "rounded %.17g vs integer %.17g", l1, l2);
    ck_assert_msg(fabs(l1 - l3) > 1e-6 * fabs(l3), "rounding changed nothing");
    snn_result_clear(&r1);
    snn_result_clear(&r2);
    snn_result_clear(&r3);
    snn_data_clear(&d);
    snn_spec_free(s1);
    snn_spec_free(s2);
  }
}
END_TEST

/* adlif bounds: with "clamp" a parameter outside its range is held at the
 * bound, so its gradient is exactly 0 (and finite differences agree); with
 * "none" the same value is used as it is and has a gradient. */
START_TEST(test_adlif_clamp) {
  static const char *const tmpl =
      "{\"seed\":12,\"steps\":20,\"input\":{\"size\":4,\"rate\":0.4},\"layers\":[{\"model\":\"adlif\",\"size\":5,"
      "\"w_scale\":25,\"tau_mem\":10,\"a\":1.5,\"b\":2.5,\"bounds\":\"%s\",\"train\":[\"w_in\",\"a\",\"b\",\"tau_mem\"]"
      "}],"
      "\"readout\":{\"size\":2},\"spike\":{\"forward\":\"sigmoid\",\"slope\":4}}";
  for (int none = 0; none < 2; none++) {
    char buf[600];
    snprintf(buf, sizeof buf, tmpl, none ? "none" : "clamp");
    snn_spec *s = spec_from(buf);
    snn_data d;
    snn_err e = {0};
    ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
    snn_rule rule;
    snn_rule_parse("bptt", &rule, &e);
    snn_result r;
    snn_result_init(&r, s);
    ck_assert_int_eq(ENG->grad(s, &d, PRECS[0], &rule, &r, &e), SNN_OK);
    ck_assert(r.crossings[0] > 0);
    for (const char *const *nm = (const char *const[]){"layer0.a", "layer0.b", NULL}; *nm; nm++) {
      const snn_block *bk = &s->blk[snn_spec_find_block(s, *nm)];
      double norm = 0;
      for (size_t i = 0; i < bk->rows; i++) norm += fabs(r.grad.v[bk->off + i]);
      if (none)
        ck_assert_msg(norm > 1e-6, "%s: no gradient without bounds", *nm);
      else
        ck_assert_msg(norm == 0.0, "%s: gradient %g through a clamp at its bound", *nm, norm);
    }
    /* the finite differences see the same thing */
    snn_fdreport rep;
    snn_fdreport_init(&rep, s);
    snn_fdopts o = {SNN_FD_RICHARDSON, 0, NULL};
    ck_assert_int_eq(ENG->fdcheck(s, &d, PRECS[0], &o, &rep, &e), SNN_OK);
    ck_assert_msg(rep.pass, "bounds %s: BPTT and finite differences disagree", none ? "none" : "clamp");
    snn_fdreport_clear(&rep);
    snn_result_clear(&r);
    snn_data_clear(&d);
    snn_spec_free(s);
  }
}
END_TEST

/* ---------- surrogates (heaviside forward) ---------- */
START_TEST(test_surrogates) {
  static const char *const tmpl =
      "{\"steps\":2,\"input\":{\"size\":1},\"layers\":[{\"model\":\"lif\",\"size\":1,\"threshold\":0.5}],"
      "\"readout\":{\"size\":1},\"spike\":{\"surrogate\":\"%s\",\"slope\":2,\"gamma\":0.3}}";
  static const char *const names[] = {"triangle", "fast_sigmoid", "sigmoid", "tanh"};
  char buf[512];
  snprintf(buf, sizeof buf, tmpl, names[_i]);
  snn_spec *s = spec_from(buf);
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, PRECS[0]), SNN_OK);
  real u, z, vth, psi;
  r_init(u, &c), r_init(z, &c), r_init(vth, &c), r_init(psi, &c);
  r_set_d(vth, 0.5, &c);
  /* the triangle's edges too: |u| = vth gives 0, the double just below it a
   * value above 0 */
  const double us[] = {-0.7, -0.2, 0.0, 0.1, 0.45, 0.6, 0.5, -0.5, 0.49999999999999994, -0.49999999999999994};
  for (size_t j = 0; j < sizeof us / sizeof *us; j++) {
    double x = us[j], want;
    switch (_i) {
      case 0:
        want = 0.3 / 0.5 * fmax(0.0, 1 - fabs(x) / 0.5);
        break;
      case 1:
        want = 1 / ((1 + 2 * fabs(x)) * (1 + 2 * fabs(x)));
        break;
      case 2: {
        double sg = 1 / (1 + exp(-2 * x));
        want = 2 * sg * (1 - sg);
        break;
      }
      default:
        want = 1 - tanh(x) * tanh(x);
    }
    r_set_d(u, x, &c);
    spike_fwd(z, u, s, &c);
    ck_assert_msg(r_get_d(z) == (x > 0 ? 1.0 : 0.0), "heaviside(%g) = %g (u = 0 must give 0)", x, r_get_d(z));
    spike_psi(psi, u, z, vth, s, &c);
    ck_assert_rel(r_get_d(psi), want, 1e-14);
  }
  r_clear(u, &c), r_clear(z, &c), r_clear(vth, &c), r_clear(psi, &c);
  SNN_SFX(snn_rctx_clear)(&c);
  snn_spec_free(s);
}
END_TEST

/* The detach options change what BPTT computes, in the direction they say:
 * with no reset and no recurrence they are no-ops; with them they are not. */
START_TEST(test_detach_options_scope) {
  static const char *const a =
      "{\"seed\":9,\"steps\":12,\"input\":{\"size\":3,\"rate\":0.5},\"layers\":[{\"model\":\"lif\",\"size\":4,"
      "\"reset\":\"none\",\"w_scale\":3}],\"readout\":{\"size\":2},\"spike\":{\"surrogate\":\"fast_sigmoid\"},"
      "\"gradient\":{\"reset\":\"%s\",\"recurrent\":\"%s\"}}";
  char b1[600], b2[600];
  snprintf(b1, sizeof b1, a, "keep", "keep");
  snprintf(b2, sizeof b2, a, "detach", "detach");
  snn_spec *s1 = spec_from(b1), *s2 = spec_from(b2);
  snn_data d;
  snn_err e = {0};
  ck_assert_int_eq(snn_data_generate(s1, &d, &e), SNN_OK);
  snn_result r1, r2;
  snn_rule rule;
  snn_rule_parse("bptt", &rule, &e);
  snn_result_init(&r1, s1);
  snn_result_init(&r2, s2);
  ck_assert_int_eq(ENG->grad(s1, &d, PRECS[0], &rule, &r1, &e), SNN_OK);
  ck_assert_int_eq(ENG->grad(s2, &d, PRECS[0], &rule, &r2, &e), SNN_OK);
  double norm = 0;
  for (size_t i = 0; i < s1->P; i++) {
    ck_assert_msg(r1.grad.v[i] == r2.grad.v[i], "detach changed a network with nothing to detach at %zu", i);
    norm += fabs(r1.grad.v[i]);
  }
  ck_assert(norm > 1e-3);
  ck_assert(r1.crossings[0] > 0);
  snn_result_clear(&r1);
  snn_result_clear(&r2);
  snn_data_clear(&d);
  snn_spec_free(s1);
  snn_spec_free(s2);
}
END_TEST

#ifdef SNN_MPFR
/* At 53 bits the MPFR build emulates binary64: the scalar operations are
 * bit for bit those of double, subnormals included. */
START_TEST(test_mpfr53_arith_bitwise) {
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, 53), SNN_OK);
  ck_assert(c.emu64);
  real a, b, d, r;
  r_init(a, &c), r_init(b, &c), r_init(d, &c), r_init(r, &c);
  const double vals[] = {1.0 / 3, -2.718281828459045, 1e-310, 3.5e-320, 7e300, 0.1, -1e-200, 12345.678};
  const size_t nv = sizeof vals / sizeof *vals;
  for (size_t i = 0; i < nv; i++)
    for (size_t j = 0; j < nv; j++) {
      double x = vals[i], y = vals[j], z = vals[(i + j) % nv];
      r_set_d(a, x, &c), r_set_d(b, y, &c), r_set_d(d, z, &c);
      r_add(r, a, b, &c);
      ck_assert(r_get_d(r) == x + y);
      r_sub(r, a, b, &c);
      ck_assert(r_get_d(r) == x - y);
      r_mul(r, a, b, &c);
      ck_assert_msg(r_get_d(r) == x * y, "%a * %a: %a vs %a", x, y, r_get_d(r), x * y);
      r_div(r, a, b, &c);
      ck_assert_msg(r_get_d(r) == x / y, "%a / %a", x, y);
      r_fma(r, a, b, d, &c);
      ck_assert_msg(r_get_d(r) == fma(x, y, z), "fma(%a, %a, %a)", x, y, z);
      r_abs(r, a, &c);
      r_sqrt(r, r, &c);
      ck_assert(r_get_d(r) == sqrt(fabs(x)));
    }
  r_clear(a, &c), r_clear(b, &c), r_clear(d, &c), r_clear(r, &c);
  SNN_SFX(snn_rctx_clear)(&c);
}
END_TEST

/* The MPFR path at 53 bits reproduces the double forward pass and gradient:
 * only the BLAS summation order and glibc's exp/log/tanh (not correctly
 * rounded) differ, so the agreement is to a few ulps times the length. */
START_TEST(test_mpfr53_reproduces_double) {
  snn_spec *s = spec_from(NETS[_i]);
  snn_data d;
  snn_err e = {0};
  ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
  snn_rule rule;
  snn_rule_parse("bptt", &rule, &e);
  snn_result rd, rm;
  snn_result_init(&rd, s);
  snn_result_init(&rm, s);
  ck_assert_int_eq(snn_engine_double.grad(s, &d, 53, &rule, &rd, &e), SNN_OK);
  ck_assert_int_eq(snn_engine_mpfr.grad(s, &d, 53, &rule, &rm, &e), SNN_OK);
  ck_assert_msg(ulp_dist(rd.loss.v[0], rm.loss.v[0]) <= 64, "loss %a vs %a", rd.loss.v[0], rm.loss.v[0]);
  double num = 0, den = 0;
  for (size_t i = 0; i < s->P; i++) {
    num += (rd.grad.v[i] - rm.grad.v[i]) * (rd.grad.v[i] - rm.grad.v[i]);
    den += rd.grad.v[i] * rd.grad.v[i];
  }
  ck_assert_msg(sqrt(num / den) < 1e-13, "gradient differs by %g", sqrt(num / den));
  for (size_t l = 0; l < s->L; l++)
    ck_assert_double_eq_tol(rd.spikes[l], rm.spikes[l], 1e-12 * (1 + fabs(rd.spikes[l])));
  snn_result_clear(&rd);
  snn_result_clear(&rm);
  snn_data_clear(&d);
  snn_spec_free(s);
}
END_TEST
#endif

#ifdef SNN_MPFR
/* Above 53 bits every element of a product is the sum (addend included)
 * rounded once: compared with mpfr_sum of the exact products, for each
 * transpose, with and without an addend, at precisions of one, two, three
 * and four limbs and beyond (GMP's multiplication), on operands that hold
 * zeros, spikes 1, signs and exponents 2^-300 .. 2^200 apart. */
static void kernel_fill(relt *v, size_t n, unsigned *st, int kind, rctx *c) {
  for (size_t i = 0; i < n; i++) {
    *st = *st * 1103515245u + 12345u;
    unsigned r = *st >> 8;
    if (kind == 1) { /* spikes */
      r_set_si(v + i, (r % 3) == 0, c);
      continue;
    }
    if (r % 7 == 0) {
      r_zero(v + i, c);
      continue;
    }
    r_set_d(v + i, ((double)(r % 2001) - 1000.5) / 977.0, c);
    mpfr_mul_2si(v + i, v + i, (long)(r % 5 == 0 ? (long)(r % 500) - 300 : (long)(r % 9) - 4), MPFR_RNDN);
    /* a quarter keep the double's 53 bits (one limb), a quarter get a few
     * bits 90 below (two limbs), the rest all of the precision's bits: v +=
     * v / 3 rounded at this precision */
    if (r / 7 % 4 == 1) continue;
    if (r / 7 % 4 == 2) {
      mpfr_mul_2si(c->leaf, v + i, -90, MPFR_RNDN);
      mpfr_add(v + i, v + i, c->leaf, MPFR_RNDN);
      continue;
    }
    mpfr_div_ui(c->leaf, v + i, 3, MPFR_RNDN);
    mpfr_add(v + i, v + i, c->leaf, MPFR_RNDN);
  }
}

START_TEST(test_mpfr_products_rounded_once) {
  static const long precs[] = {64, 128, 192, 256, 300, 1000};
  const long prec = precs[_i % 6];
  const int ta = _i / 6 % 2, tb = _i / 12 % 2;
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, prec), SNN_OK);
  enum { M = 5, N = 6, K = 9 };
  unsigned st = (unsigned)_i + 7u;
  relt *A = SNN_SFX(snn_vec_alloc)(M * K, &c), *B = SNN_SFX(snn_vec_alloc)(K * N, &c);
  relt *C = SNN_SFX(snn_vec_alloc)(M * N, &c), *C0 = SNN_SFX(snn_vec_alloc)(M * N, &c);
  relt *y = SNN_SFX(snn_vec_alloc)(M, &c);
  mpfr_t terms[K + 1], want;
  mpfr_ptr tp[K + 1];
  for (int k = 0; k <= K; k++) mpfr_init2(terms[k], 2 * prec), tp[k] = terms[k];
  mpfr_init2(want, prec);
  for (int rep = 0; rep < 3; rep++) { /* dense x dense, spikes x dense, dense x spikes */
    kernel_fill(A, M * K, &st, rep == 1, &c);
    kernel_fill(B, K * N, &st, rep == 2, &c);
    kernel_fill(C0, M * N, &st, 0, &c);
    for (int acc = 0; acc < 2; acc++) {
      for (size_t q = 0; q < M * N; q++) mpfr_set(C + q, C0 + q, MPFR_RNDN);
      /* op(A) is M x K: stored K x M when transposed */
      SNN_SFX(snn_gemm)(ta, tb, M, N, K, A, ta ? M : K, B, tb ? K : N, acc, C, N, &c);
      for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
          for (size_t k = 0; k < K; k++)
            mpfr_mul(terms[k], ta ? A + k * M + i : A + i * K + k, tb ? B + j * K + k : B + k * N + j, MPFR_RNDN);
          mpfr_set(terms[K], C0 + i * N + j, MPFR_RNDN);
          if (!acc) mpfr_set_zero(terms[K], 1);
          mpfr_sum(want, tp, K + 1, MPFR_RNDN);
          ck_assert_msg(mpfr_equal_p(want, C + i * N + j) || (mpfr_zero_p(want) && mpfr_zero_p(C + i * N + j)),
                        "prec %ld ta %d tb %d rep %d acc %d: element (%zu, %zu) is not the sum rounded once", prec, ta,
                        tb, rep, acc, i, j);
        }
      /* gemv: y = op(A') x with A' the first M x K block, x column 0 of op(B) */
      for (size_t i = 0; i < M; i++) mpfr_set(y + i, C0 + i, MPFR_RNDN);
      relt *xv = SNN_SFX(snn_vec_alloc)(K, &c);
      for (size_t k = 0; k < K; k++) mpfr_set(xv + k, tb ? B + k : B + k * N, MPFR_RNDN);
      SNN_SFX(snn_gemv)(ta, ta ? K : M, ta ? M : K, A, ta ? M : K, xv, acc, y, &c);
      for (size_t i = 0; i < M; i++) {
        for (size_t k = 0; k < K; k++) mpfr_mul(terms[k], ta ? A + k * M + i : A + i * K + k, xv + k, MPFR_RNDN);
        mpfr_set(terms[K], C0 + i, MPFR_RNDN);
        if (!acc) mpfr_set_zero(terms[K], 1);
        mpfr_sum(want, tp, K + 1, MPFR_RNDN);
        ck_assert_msg(mpfr_equal_p(want, y + i) || (mpfr_zero_p(want) && mpfr_zero_p(y + i)),
                      "gemv prec %ld ta %d rep %d acc %d: element %zu", prec, ta, rep, acc, i);
      }
      SNN_SFX(snn_vec_free)(xv, K, &c);
    }
  }
  for (int k = 0; k <= K; k++) mpfr_clear(terms[k]);
  mpfr_clear(want);
  SNN_SFX(snn_vec_free)(A, M * K, &c);
  SNN_SFX(snn_vec_free)(B, K * N, &c);
  SNN_SFX(snn_vec_free)(C, M * N, &c);
  SNN_SFX(snn_vec_free)(C0, M * N, &c);
  SNN_SFX(snn_vec_free)(y, M, &c);
  SNN_SFX(snn_rctx_clear)(&c);
}
END_TEST

/* The selective product (BPTT's signal back through W_rec where psi is
 * not 0): the selected entries are snn_rows's bit for bit, at one and
 * several rows, the others 0; at 64 and 256 bits. */
START_TEST(test_mpfr_rows_sel) {
  const long prec = _i ? 256 : 64;
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, prec), SNN_OK);
  enum { B = 5, M = 7, N = 6 };
  unsigned st = 99u + (unsigned)_i;
  relt *A = SNN_SFX(snn_vec_alloc)(M * N, &c), *X = SNN_SFX(snn_vec_alloc)(B * M, &c);
  relt *Y = SNN_SFX(snn_vec_alloc)(B * N, &c), *Yr = SNN_SFX(snn_vec_alloc)(B * N, &c);
  relt *S = SNN_SFX(snn_vec_alloc)(B * N, &c);
  kernel_fill(A, M * N, &st, 0, &c);
  kernel_fill(X, B * M, &st, 0, &c);
  size_t nsel = 0;
  for (size_t q = 0; q < B * N; q++) {
    r_set_d(S + q, q % 3 ? 0.5 : 0.0, &c);
    r_set_d(Y + q, 7.0, &c); /* overwritten either way */
    nsel += q % 3 != 0;
  }
  ck_assert(nsel > 0 && nsel < B * N);
  for (size_t rows = 1; rows <= B; rows += B - 1) {
    SNN_SFX(snn_rows)(1, rows, M, N, A, N, X, M, 0, Yr, N, &c);
    SNN_SFX(snn_rows_sel)(rows, M, N, A, N, X, M, Y, N, S, N, &c);
    for (size_t q = 0; q < rows * N; q++)
      ck_assert_msg(q % 3 ? mpfr_equal_p(Y + q, Yr + q) : mpfr_zero_p(Y + q), "prec %ld rows %zu: entry %zu", prec,
                    rows, q);
  }
  SNN_SFX(snn_vec_free)(A, M * N, &c), SNN_SFX(snn_vec_free)(X, B * M, &c);
  SNN_SFX(snn_vec_free)(Y, B * N, &c), SNN_SFX(snn_vec_free)(Yr, B * N, &c), SNN_SFX(snn_vec_free)(S, B * N, &c);
  SNN_SFX(snn_rctx_clear)(&c);
}
END_TEST

/* The rounding of an exact sum at its edges: ties to even both ways, a
 * sticky bit far below, and a carry through a significand of ones (the
 * exponent goes up), at precisions that fill their limbs and one that does
 * not; each against mpfr_sum. */
START_TEST(test_mpfr_products_round_edges) {
  static const long precs[] = {64, 256, 300, 1000};
  for (size_t ip = 0; ip < sizeof precs / sizeof *precs; ip++) {
    long p = precs[ip];
    rctx c;
    ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, p), SNN_OK);
    relt *a = SNN_SFX(snn_vec_alloc)(3, &c), *x = SNN_SFX(snn_vec_alloc)(3, &c), *y = SNN_SFX(snn_vec_alloc)(1, &c);
    relt *t = SNN_SFX(snn_vec_alloc)(4, &c);
    for (int cs = 0; cs < 5; cs++)
      for (int sg = -1; sg <= 1; sg += 2)
        for (int xv = 1; xv <= 2; xv++) {
          /* a0 + a1 + a2 with a1 half an ulp of a0 */
          r_set_si(a + 0, 1, &c);
          if (cs == 1 || cs == 3) mpfr_nextabove(a + 0);                                /* an odd last bit */
          if (cs == 4) mpfr_nextbelow(a + 0), mpfr_mul_2si(a + 0, a + 0, 1, MPFR_RNDN); /* 2 - ulp: all ones */
          r_set_si(a + 1, 1, &c);
          mpfr_mul_2si(a + 1, a + 1, -p, MPFR_RNDN);
          r_zero(a + 2, &c);
          if (cs >= 2 && cs <= 3)
            r_set_si(a + 2, cs == 2 ? 1 : -1, &c), mpfr_mul_2si(a + 2, a + 2, -p - 200, MPFR_RNDN);
          for (int k = 0; k < 3; k++) {
            if (sg < 0) mpfr_neg(a + k, a + k, MPFR_RNDN);
            r_set_si(x + k, xv, &c);
            mpfr_mul_si(t + k, a + k, xv, MPFR_RNDN); /* exact */
          }
          SNN_SFX(snn_gemv)(0, 1, 3, a, 3, x, 0, y, &c);
          mpfr_ptr ts[3] = {t + 0, t + 1, t + 2};
          mpfr_sum(t + 3, ts, 3, MPFR_RNDN);
          ck_assert_msg(mpfr_equal_p(y, t + 3), "case %d sign %d x %d at %ld bits", cs, sg, xv, p);
          ck_assert_int_eq(mpfr_get_prec(y), p);
        }
    SNN_SFX(snn_vec_free)(a, 3, &c);
    SNN_SFX(snn_vec_free)(x, 3, &c);
    SNN_SFX(snn_vec_free)(y, 1, &c);
    SNN_SFX(snn_vec_free)(t, 4, &c);
    SNN_SFX(snn_rctx_clear)(&c);
  }
}
END_TEST

/* Not vacuous: 1 + 2^-300 - 1 is 2^-300 rounded once, where a chain of fma
 * at 256 bits gives 0; and a NaN operand gives NaN (the chain's rule), a 53-
 * bit context the chain of binary64 (its own test above). */
START_TEST(test_mpfr_products_cancel) {
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, 256), SNN_OK);
  relt *a = SNN_SFX(snn_vec_alloc)(3, &c), *x = SNN_SFX(snn_vec_alloc)(3, &c), *y = SNN_SFX(snn_vec_alloc)(1, &c);
  r_set_si(a + 0, 1, &c);
  r_set_si(a + 1, 1, &c);
  mpfr_mul_2si(a + 1, a + 1, -300, MPFR_RNDN);
  r_set_si(a + 2, -1, &c);
  for (int k = 0; k < 3; k++) r_set_si(x + k, 1, &c);
  SNN_SFX(snn_gemv)(0, 1, 3, a, 3, x, 0, y, &c);
  ck_assert(mpfr_cmp_si_2exp(y, 1, -300) == 0);
  real t;
  r_init(t, &c);
  r_zero(t, &c);
  for (int k = 0; k < 3; k++) r_fma(t, a + k, x + k, t, &c);
  ck_assert(mpfr_zero_p(t)); /* the chain loses it */
  r_clear(t, &c);
  mpfr_set_nan(x + 1);
  SNN_SFX(snn_gemv)(0, 1, 3, a, 3, x, 0, y, &c);
  ck_assert(mpfr_nan_p(y));
  SNN_SFX(snn_vec_free)(a, 3, &c);
  SNN_SFX(snn_vec_free)(x, 3, &c);
  SNN_SFX(snn_vec_free)(y, 1, &c);
  SNN_SFX(snn_rctx_clear)(&c);
}
END_TEST
#endif

/* Parameters read at high precision keep their decimal text: a 256-bit
 * gradient exported and re-imported is unchanged. */
START_TEST(test_export_roundtrip) {
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, PRECS[NPRECS - 1]), SNN_OK);
  relt *v = vec_alloc(3, &c), *w = vec_alloc(3, &c);
  r_set_d(v, 1.0, &c);
  r_div_d(v, v, 3.0, &c);
  r_set_d(v + 1, -7.25e-30, &c);
  r_exp(v + 2, v, &c);
  snn_nums a;
  ck_assert_int_eq(snn_nums_init(&a, 3), SNN_OK);
  ck_assert_int_eq(SNN_SFX(snn_export)(v, 3, &a, &c), SNN_OK);
  for (int i = 0; i < 3; i++) {
#ifdef SNN_MPFR
    ck_assert_ptr_nonnull(a.s[i]);
    ck_assert_int_eq(r_set_str(w + i, a.s[i], &c), 0);
    ck_assert_msg(mpfr_equal_p(v + i, w + i), "%s did not round-trip", a.s[i]);
#else
    ck_assert(a.s == NULL);
    ck_assert(a.v[i] == v[i]);
    (void)w;
#endif
  }
  snn_nums_clear(&a);
  vec_free(v, 3, &c);
  vec_free(w, 3, &c);
  SNN_SFX(snn_rctx_clear)(&c);
}
END_TEST

#ifndef SNN_MPFR
/* a value in [-1, 1) with 40 random bits, from a small LCG */
static double ev_val(unsigned long long *st) {
  *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*st >> 24) / (double)(1ULL << 40) * 2.0 - 1.0;
}

/* a binary matrix: density 1/5, with row 1 all ones and row 2 all zeros */
static void ev_spikes(double *X, size_t R, size_t C, size_t ld, unsigned long long *st) {
  for (size_t r = 0; r < R; r++)
    for (size_t j = 0; j < C; j++) X[r * ld + j] = r == 1 ? 1.0 : r == 2 ? 0.0 : ev_val(st) < -0.6 ? 1.0 : 0.0;
}

/* The event-driven products (double): every output the sum of the entries
 * the ones select, added in increasing index order from its start, bit for
 * bit; a row's result the same in a batch of one and of B; nothing written
 * when the operand is not binary (or, for the weight product, the sum is
 * shorter than 32 terms); and within rounding of BLAS.  Shapes with tails
 * (rows not a multiple of 4, outputs not a multiple of 8) and sums that
 * cross the 256-row chunks. */
START_TEST(test_event_products) {
  static const size_t shapes[][3] = {{8, 256, 256}, {7, 13, 21}, {9, 40, 33}, {1, 64, 64}}; /* B, M, N */
  const size_t B = shapes[_i][0], M = shapes[_i][1], N = shapes[_i][2], lda = M + 8, ldx = N + 3, ldy = M + 5;
  unsigned long long st = 11 + (unsigned long long)_i;
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, 53), SNN_OK);
  /* W (M x N) and its panels: W_ij at At[(i / 8) 8 N + 8 j + i % 8], padding 0 */
  size_t np8 = (M + 7) / 8 * 8 * N;
  double *At = calloc(np8, sizeof *At), *X = malloc(600 * ldx * sizeof *X), *Y = malloc(B * ldy * sizeof *Y);
  double *Y0 = malloc(B * ldy * sizeof *Y0), *Y1 = malloc(ldy * sizeof *Y1), *W = malloc(M * N * sizeof *W);
  uint32_t *idx = malloc(B * (N + 1) * sizeof *idx);
  for (size_t i = 0; i < M; i++)
    for (size_t j = 0; j < N; j++) W[i * N + j] = At[(i / 8) * 8 * N + 8 * j + i % 8] = ev_val(&st);
  ev_spikes(X, B, N, ldx, &st);
  for (size_t q = 0; q < B * ldy; q++) Y0[q] = ev_val(&st);
  for (int acc = 0; acc < 2; acc++) {
    memcpy(Y, Y0, B * ldy * sizeof *Y);
    ck_assert_int_eq(SNN_SFX(snn_rows_bin)(B, M, N, At, X, ldx, acc, Y, ldy, idx, &c), 1);
    for (size_t b = 0; b < B; b++) {
      for (size_t i = 0; i < M; i++) {
        double want = acc ? Y0[b * ldy + i] : 0.0;
        for (size_t j = 0; j < N; j++)
          if (X[b * ldx + j] == 1.0) want += W[i * N + j];
        ck_assert_msg(Y[b * ldy + i] == want, "rows_bin B %zu M %zu N %zu acc %d: (%zu, %zu) %a, want %a", B, M, N, acc,
                      b, i, Y[b * ldy + i], want);
      }
      memcpy(Y1, Y0 + b * ldy, ldy * sizeof *Y1); /* the row alone */
      ck_assert_int_eq(SNN_SFX(snn_rows_bin)(1, M, N, At, X + b * ldx, ldx, acc, Y1, ldy, idx, &c), 1);
      ck_assert_msg(!memcmp(Y1, Y + b * ldy, M * sizeof *Y1), "rows_bin: row %zu differs alone", b);
      for (size_t i = M; i < ldy; i++) ck_assert(Y[b * ldy + i] == Y0[b * ldy + i]); /* outside the row: kept */
    }
    /* against BLAS, within rounding: |error| <= n u sum |terms| */
    memcpy(Y1, Y0, ldy * sizeof *Y1);
    SNN_SFX(snn_rows)(0, 1, M, N, W, N, X, ldx, acc, Y1, ldy, &c);
    for (size_t i = 0; i < M; i++) {
      double mag = acc ? fabs(Y0[i]) : 0.0;
      for (size_t j = 0; j < N; j++) mag += fabs(W[i * N + j]) * X[j];
      ck_assert(fabs(Y1[i] - Y[i]) <= (double)(N + 1) * 0x1p-53 * mag);
    }
  }
  /* not binary: refused, Y untouched */
  X[(B - 1) * ldx + N / 2] = 0.5;
  memcpy(Y, Y0, B * ldy * sizeof *Y);
  ck_assert_int_eq(SNN_SFX(snn_rows_bin)(B, M, N, At, X, ldx, 1, Y, ldy, idx, &c), 0);
  ck_assert(!memcmp(Y, Y0, B * ldy * sizeof *Y));
  /* C = A^T X over K rows: A is K x M (the rows of dE/dI), X K x N spikes */
  static const size_t Ks[] = {31, 32, 300, 600};
  double *A = malloc(600 * lda * sizeof *A), *C = malloc(M * (N + 2) * sizeof *C),
         *C0 = malloc(M * (N + 2) * sizeof *C0);
  size_t ldc = N + 2;
  void *scr = aligned_alloc(64, (SNN_SFX(snn_gemm_tn_bin_scratch)(M, N, 600) + 63) / 64 * 64);
  for (size_t q = 0; q < 600 * lda; q++) A[q] = ev_val(&st);
  for (size_t q = 0; q < M * ldc; q++) C0[q] = ev_val(&st);
  for (size_t ik = 0; ik < 4; ik++) {
    size_t K = Ks[ik];
    ev_spikes(X, K, N, ldx, &st);
    memcpy(C, C0, M * ldc * sizeof *C);
    int done = SNN_SFX(snn_gemm_tn_bin)(M, N, K, A, lda, X, ldx, C, ldc, scr, &c);
    ck_assert_int_eq(done, K >= 32);
    if (!done) {
      ck_assert(!memcmp(C, C0, M * ldc * sizeof *C));
      continue;
    }
    for (size_t i = 0; i < M; i++)
      for (size_t j = 0; j < ldc; j++) {
        if (j >= N) {
          ck_assert(C[i * ldc + j] == C0[i * ldc + j]);
          continue;
        }
        double want = 0.0;
        for (size_t r = 0; r < K; r++)
          if (X[r * ldx + j] == 1.0) want += A[r * lda + i];
        ck_assert_msg(C[i * ldc + j] == want, "gemm_tn_bin M %zu N %zu K %zu: (%zu, %zu) %a, want %a", M, N, K, i, j,
                      C[i * ldc + j], want);
      }
    for (int where = 0; where < 2; where++) { /* not binary in the first row, then only in the last */
      X[where ? (K - 1) * ldx : N - 1] = 0.25;
      memcpy(C, C0, M * ldc * sizeof *C);
      ck_assert_int_eq(SNN_SFX(snn_gemm_tn_bin)(M, N, K, A, lda, X, ldx, C, ldc, scr, &c), 0);
      ck_assert(!memcmp(C, C0, M * ldc * sizeof *C));
      X[N - 1] = 0.0;
    }
  }
  free(A), free(C), free(C0), free(scr);
  free(At), free(X), free(Y), free(Y0), free(Y1), free(W), free(idx);
  SNN_SFX(snn_rctx_clear)(&c);
}
END_TEST
#endif

static Suite *battery(void) {
  Suite *s = suite_create(ENG->name);
  TCase *tc = tcase_create("gradients");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, test_bptt_matches_fd, 0, NNETS);
  tcase_add_test(tc, test_broken_rule_fails);
  tcase_add_test(tc, test_detach_options_scope);
  tcase_add_test(tc, test_adlif_clamp);
  tcase_add_test(tc, test_delay_round);
  suite_add_tcase(s, tc);
  TCase *tm = tcase_create("models");
  tcase_add_loop_test(tm, test_cell_jacobians, 0, NCELLS);
  tcase_add_loop_test(tm, test_surrogates, 0, 4);
  tcase_add_test(tm, test_export_roundtrip);
#ifndef SNN_MPFR
  tcase_add_loop_test(tm, test_event_products, 0, 4);
#endif
#ifdef SNN_MPFR
  tcase_add_test(tm, test_mpfr53_arith_bitwise);
  tcase_add_loop_test(tm, test_mpfr_products_rounded_once, 0, 24);
  tcase_add_test(tm, test_mpfr_products_cancel);
  tcase_add_test(tm, test_mpfr_products_round_edges);
  tcase_add_loop_test(tm, test_mpfr_rows_sel, 0, 2);
  tcase_add_loop_test(tm, test_mpfr53_reproduces_double, 0, NNETS);
#endif
  suite_add_tcase(s, tm);
  return s;
}

int main(void) {
  return snn_run_suite(battery(), 0);
}
