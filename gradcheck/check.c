/* check.c - the checks over precisions and rules (gradcheck.h): the loops
 * that call the engines, the verdicts, and the sweeps.  Precision-neutral. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gradcheck/gradcheck.h"
#include "io/io.h"
#include "par/par.h"

/* ---- precisions ---- */

int snn_prec_parse(const char *tok, snn_prec *p) {
  const char *num = tok;
  int force_mpfr = 0;
  if (!strncmp(tok, "mpfr:", 5)) num = tok + 5, force_mpfr = 1;
  char *end;
  long b = strtol(num, &end, 10);
  if (end == num || *end || b < 8 || b > (1L << 20)) return -1;
  p->bits = b;
  p->eng = (b == 53 && !force_mpfr) ? &snn_engine_double : &snn_engine_mpfr;
  return 0;
}

int snn_prec_parse_list(const char *arg, snn_prec *out, int max, int *n) {
  char buf[512];
  if (strlen(arg) >= sizeof buf) return -1;
  snprintf(buf, sizeof buf, "%s", arg);
  *n = 0;
  /* every item present: "53,,128" and a trailing comma are refused */
  for (char *tok = buf, *comma;; tok = comma + 1) {
    if ((comma = strchr(tok, ','))) *comma = 0;
    if (*n >= max || snn_prec_parse(tok, &out[*n])) return -1;
    (*n)++;
    if (!comma) break;
  }
  return 0;
}

const char *snn_prec_name(const snn_prec *p, char *buf, size_t n) {
  snprintf(buf, n, "%ld bits (%s)", p->bits, p->eng == &snn_engine_double ? "double" : "MPFR");
  return buf;
}

/* ---- BPTT against finite differences ---- */

int snn_gc_fdcheck(const snn_spec *s, const snn_data *d, const snn_prec *p, int np, const snn_fdopts *o,
                   snn_gc_progress cb, void *ctx, snn_fdcheck *out, snn_err *err) {
  memset(out, 0, sizeof *out);
  out->np = np;
  out->opts = *o;
  out->all_pass = 1;
  memcpy(out->prec, p, (size_t)np * sizeof *p);
  int st = snn_fd_allowed(s, err);
  if (st) return st;
  if (!(out->resolved = calloc(s->nblk ? s->nblk : 1, 1))) return snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
  for (int k = 0; k < np; k++) {
    snn_fdreport *rep = &out->rep[k];
    if (snn_fdreport_init(rep, s)) return snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
    out->done = k + 1;
    if ((st = p[k].eng->fdcheck(s, d, p[k].bits, o, rep, err))) return st;
    out->all_pass &= rep->pass;
    for (size_t b = 0; b < s->nblk; b++)
      if (rep->blk[b].present && rep->blk[b].verdict != SNN_BLK_UNRESOLVED) out->resolved[b] = 1;
    if (cb) cb(ctx, out, k);
  }
  for (size_t b = 0; b < s->nblk; b++)
    if (s->blk[b].trainable && !out->resolved[b]) out->never++;
  return SNN_OK;
}

void snn_fdcheck_clear(snn_fdcheck *r, const snn_spec *s) {
  (void)s;
  for (int k = 0; k < r->done; k++) snn_fdreport_clear(&r->rep[k]);
  free(r->resolved);
  memset(r, 0, sizeof *r);
}

/* ---- every rule against BPTT ---- */

int snn_gc_split_rules(const char *arg, const char *key, snn_rulecheck *r, snn_err *err) {
  char buf[1024];
  r->nr = 0;
  if (strlen(arg) >= sizeof buf) return snn_err_set(err, SNN_EARG, "", key, "the list of rules is too long");
  snprintf(buf, sizeof buf, "%s", arg);
  for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (strchr(tok, '=') && !strchr(tok, ':')) {
      if (r->nr == 0) break;
      char *t = r->text[r->nr - 1];
      if (strlen(t) + strlen(tok) + 2 > sizeof r->text[0])
        return snn_err_set(err, SNN_EARG, "", key, "a rule is too long");
      strcat(t, ",");
      strcat(t, tok);
    } else {
      if (r->nr >= SNN_GC_MAXRULES)
        return snn_err_set(err, SNN_EARG, "", key, "at most %d rules at a time, found more", SNN_GC_MAXRULES);
      if (strlen(tok) >= sizeof r->text[0]) return snn_err_set(err, SNN_EARG, "", key, "a rule is too long");
      snprintf(r->text[r->nr++], sizeof r->text[0], "%s", tok);
    }
  }
  if (!r->nr) return snn_err_set(err, SNN_EARG, "", key, "expected a comma-separated list of rules, found '%s'", arg);
  for (int i = 0; i < r->nr; i++) {
    int st = snn_rule_parse_at(r->text[i], "", key, &r->rule[i], err);
    if (st) return st;
  }
  return SNN_OK;
}

static int same_trajectory(const snn_result *a, const snn_result *b, const snn_spec *s) {
  if (a->loss.s || b->loss.s) {
    if (!a->loss.s || !b->loss.s || strcmp(a->loss.s[0], b->loss.s[0])) return 0;
  } else if (a->loss.v[0] != b->loss.v[0]) {
    return 0;
  }
  for (size_t l = 0; l < s->L; l++)
    if (a->crossings[l] != b->crossings[l] || a->spikes[l] != b->spikes[l]) return 0;
  return 1;
}

/* The gradient of one rule at one precision, checked to run on BPTT's
 * trajectory (ref) when there is one. */
static int rule_grad(const snn_spec *s, const snn_data *d, const snn_prec *p, const snn_rule *r, const snn_result *ref,
                     snn_result *out, snn_err *err) {
  if (snn_result_init(out, s)) return snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
  int st = p->eng->grad(s, d, p->bits, r, out, err);
  if (!st && ref && !same_trajectory(ref, out, s))
    st = snn_err_set(err, SNN_EMISMATCH, "", "",
                     "rule %s did not run on BPTT's trajectory at %ld bits (loss or spikes differ)", r->name, p->bits);
  if (st) snn_result_clear(out);
  return st;
}

/* Every rule at precision k, against BPTT. */
static int rules_at(const snn_spec *s, const snn_data *d, snn_rulecheck *r, int k, snn_blockcmp *bc, snn_err *err) {
  snn_rule bptt;
  snn_rule_parse("bptt", &bptt, err);
  snn_result ref;
  int st = rule_grad(s, d, &r->prec[k], &bptt, NULL, &ref, err);
  if (st) return st;
  for (size_t l = 0; l < s->L; l++) r->crossings[l] = ref.crossings[l];
  for (int i = 0; i < r->nr && !st; i++) {
    snn_result x;
    if ((st = rule_grad(s, d, &r->prec[k], &r->rule[i], &ref, &x, err))) break;
    snn_blockcmp all;
    if (r->prec[k].eng->compare(s, r->prec[k].bits, &ref, &x, bc, &all)) {
      st = snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
    } else {
      r->lg[i][k] = all.lg_rel;
      r->cosv[i][k] = all.cosine;
      for (size_t b = 0; b < s->nblk; b++)
        r->lgb[((size_t)i * s->nblk + b) * SNN_GC_MAXPREC + (size_t)k] = bc[b].lg_rel;
    }
    snn_result_clear(&x);
  }
  snn_result_clear(&ref);
  r->lg_fd[k] = NAN;
  if (!st && r->fd_ok) {
    snn_fdreport rep;
    snn_fdopts fo = {SNN_FD_RICHARDSON, 0, NULL};
    snn_err e2 = {0};
    if (snn_fdreport_init(&rep, s) == SNN_OK &&
        r->prec[k].eng->fdcheck(s, d, r->prec[k].bits, &fo, &rep, &e2) == SNN_OK)
      r->lg_fd[k] = rep.lg_rel_all;
    snn_fdreport_clear(&rep);
  }
  return st;
}

/* The verdicts from the errors: measured against documented. */
static void verdicts(const snn_spec *s, snn_rulecheck *r) {
  long bits[SNN_GC_MAXPREC];
  for (int k = 0; k < r->np; k++) bits[k] = r->prec[k].bits;
  r->mismatches = 0;
  for (int i = 0; i < r->nr; i++) {
    r->expect[i] = snn_rule_expectation(s, &r->rule[i], r->why[i], sizeof r->why[i]);
    r->verdict[i] = snn_classify(bits, r->lg[i], r->np, &r->gap[i]);
    int v = r->verdict[i], x = r->expect[i];
    r->agrees[i] = (x == 1 && v == SNN_VERDICT_EXACT) || (x == 0 && v == SNN_VERDICT_APPROXIMATE);
    if (!strcmp(r->rule[i].name, "bptt")) r->agrees[i] = v == SNN_VERDICT_EXACT;
    r->mismatches += !r->agrees[i];
  }
}

/* ---- every rule against BPTT, shared over MPI ranks ----
 * Job j of nr (np + 1 with the finite-difference column): precision k = j /
 * (nr + 1), rule j % (nr + 1) (the last: finite differences).  Rank r runs
 * the contiguous share snn_share(jobs, r, R); a job's record is its status,
 * its errors and cosine, its per-block errors and BPTT's crossings at that
 * precision, and every rank gets every record. */
static size_t job_len(const snn_spec *s) {
  return 3 + s->nblk + s->L;
}

static int run_job(const snn_spec *s, const snn_data *d, snn_rulecheck *r, size_t j, double *rec, snn_blockcmp *bc,
                   snn_err *err) {
  int k = (int)(j / (size_t)(r->nr + 1)), i = (int)(j % (size_t)(r->nr + 1));
  for (size_t q = 0; q < job_len(s); q++) rec[q] = NAN;
  if (i == r->nr) { /* the finite-difference column */
    rec[0] = 0;
    if (!r->fd_ok) return SNN_OK;
    snn_fdreport rep;
    snn_fdopts fo = {SNN_FD_RICHARDSON, 0, NULL};
    snn_err e2 = {0};
    if (snn_fdreport_init(&rep, s) == SNN_OK &&
        r->prec[k].eng->fdcheck(s, d, r->prec[k].bits, &fo, &rep, &e2) == SNN_OK)
      rec[1] = rep.lg_rel_all;
    snn_fdreport_clear(&rep);
    return SNN_OK;
  }
  snn_rule bptt;
  snn_rule_parse("bptt", &bptt, err);
  snn_result ref, x;
  int st = rule_grad(s, d, &r->prec[k], &bptt, NULL, &ref, err);
  if (st) return rec[0] = st, st;
  for (size_t l = 0; l < s->L; l++) rec[3 + s->nblk + l] = (double)ref.crossings[l];
  if (!(st = rule_grad(s, d, &r->prec[k], &r->rule[i], &ref, &x, err))) {
    snn_blockcmp all;
    if (r->prec[k].eng->compare(s, r->prec[k].bits, &ref, &x, bc, &all)) {
      st = snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
    } else {
      rec[1] = all.lg_rel, rec[2] = all.cosine;
      for (size_t b = 0; b < s->nblk; b++) rec[3 + b] = bc[b].lg_rel;
    }
    snn_result_clear(&x);
  }
  snn_result_clear(&ref);
  rec[0] = st;
  return st;
}

/* The records of every job into the report; the first failure (in job
 * order) becomes everyone's, with its owner's message. */
static int take_records(const snn_spec *s, snn_rulecheck *r, const double *all, size_t njobs, snn_err *err) {
  size_t len = job_len(s);
  int R = snn_group_size(r->group);
  for (size_t j = 0; j < njobs; j++) {
    const double *rec = all + j * len;
    if (rec[0] != 0) {
      int owner = 0;
      for (int q = 0; q < R; q++) {
        size_t lo, hi;
        snn_share(njobs, q, R, &lo, &hi);
        if (j >= lo && j < hi) owner = q;
      }
      if (snn_group_bcast(r->group, err, sizeof *err, owner)) return SNN_EIO;
      return (int)rec[0];
    }
    int k = (int)(j / (size_t)(r->nr + 1)), i = (int)(j % (size_t)(r->nr + 1));
    if (i == r->nr) {
      r->lg_fd[k] = rec[1];
      continue;
    }
    r->lg[i][k] = rec[1], r->cosv[i][k] = rec[2];
    for (size_t b = 0; b < s->nblk; b++) r->lgb[((size_t)i * s->nblk + b) * SNN_GC_MAXPREC + (size_t)k] = rec[3 + b];
    if (k == r->np - 1)
      for (size_t l = 0; l < s->L; l++) r->crossings[l] = (size_t)rec[3 + s->nblk + l];
  }
  return SNN_OK;
}

static int rules_shared(const snn_spec *s, const snn_data *d, snn_rulecheck *r, snn_blockcmp *bc, snn_err *err) {
  int R = snn_group_size(r->group), me = snn_group_rank(r->group);
  size_t njobs = (size_t)r->np * (size_t)(r->nr + 1), len = job_len(s), lo, hi;
  double *all = calloc(njobs * len, sizeof *all);
  size_t *counts = calloc((size_t)R, sizeof *counts);
  if (!all || !counts) {
    free(all), free(counts);
    return snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
  }
  for (int q = 0; q < R; q++) snn_share(njobs, q, R, &lo, &hi), counts[q] = (hi - lo) * len * sizeof *all;
  snn_share(njobs, me, R, &lo, &hi);
  int failed = 0;
  for (size_t j = lo; j < hi; j++) {
    if (failed) { /* after a failure: no more work, the records say skipped */
      all[j * len] = SNN_EIO;
      continue;
    }
    failed = run_job(s, d, r, j, all + j * len, bc, err) != SNN_OK;
  }
  double *mine = malloc(counts[me] + 1);
  int st = mine ? SNN_OK : SNN_ENOMEM;
  if (!st) memcpy(mine, all + lo * len, counts[me]);
  if (!st && snn_group_allgatherv(r->group, mine, counts[me], all, counts)) st = SNN_EIO;
  if (!st)
    st = take_records(s, r, all, njobs, err);
  else
    snn_err_set(err, st, "", "", "the exchange between MPI ranks failed");
  free(mine), free(all), free(counts);
  return st;
}

int snn_gc_rules(const snn_spec *s, const snn_data *d, snn_rulecheck *r, snn_err *err) {
  r->nblk = s->nblk;
  r->lgb = calloc((size_t)SNN_GC_MAXRULES * (s->nblk ? s->nblk : 1) * SNN_GC_MAXPREC, sizeof *r->lgb);
  r->crossings = calloc(s->L, sizeof *r->crossings);
  snn_blockcmp *bc = calloc(s->nblk ? s->nblk : 1, sizeof *bc);
  int st = r->lgb && r->crossings && bc ? SNN_OK : snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
  for (int i = 0; i < r->nr && !st; i++) st = snn_rule_check(&r->rule[i], s, "", "--rules", err);
  snn_err e2 = {0};
  r->fd_ok = snn_fd_allowed(s, &e2) == SNN_OK;
  snprintf(r->fd_why, sizeof r->fd_why, "%s", e2.msg);
  if (!st && r->group && snn_group_size(r->group) > 1)
    st = rules_shared(s, d, r, bc, err);
  else
    for (int k = 0; k < r->np && !st; k++) st = rules_at(s, d, r, k, bc, err);
  free(bc);
  if (!st) verdicts(s, r);
  return st;
}

double snn_rulecheck_block(const snn_rulecheck *r, int rule, size_t blk, int k) {
  return r->lgb[((size_t)rule * r->nblk + blk) * SNN_GC_MAXPREC + (size_t)k];
}

int snn_rulecheck_block_verdict(const snn_rulecheck *r, int rule, size_t blk) {
  long bits[SNN_GC_MAXPREC];
  double lg[SNN_GC_MAXPREC], gap;
  for (int k = 0; k < r->np; k++) bits[k] = r->prec[k].bits, lg[k] = snn_rulecheck_block(r, rule, blk, k);
  return snn_classify(bits, lg, r->np, &gap);
}

void snn_rulecheck_clear(snn_rulecheck *r) {
  free(r->lgb);
  free(r->crossings);
  r->lgb = NULL;
  r->crossings = NULL;
}

/* ---- the precision sweep ---- */

static int psweep_add(snn_psweep *p, int rule, long bits, double lg) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 64;
    snn_psweep_row *row = realloc(p->row, cap * sizeof *row);
    if (!row) return SNN_ENOMEM;
    p->row = row, p->cap = cap;
  }
  p->row[p->n++] = (snn_psweep_row){rule, bits, lg};
  return SNN_OK;
}

/* The sweep's precisions: geometric steps of 1.25 from lo, and hi itself. */
static size_t sweep_bits(long lo, long hi, long *out, size_t max) {
  size_t n = 0;
  for (double pb = (double)lo; pb < (double)hi * 1.25 && n < max; pb *= 1.25) {
    if (pb > (double)hi && (long)(pb / 1.25 + 0.5) == hi) break;
    out[n++] = pb > (double)hi ? hi : (long)(pb + 0.5);
  }
  return n;
}

/* Precision `bits`: every rule's error against BPTT into rec[1..nr]; rec[0] the status. */
static int sweep_job(const snn_spec *s, const snn_data *d, const snn_rulecheck *rules, long bits, double *rec,
                     snn_blockcmp *bc, snn_err *err) {
  snn_rule bptt;
  snn_rule_parse("bptt", &bptt, err);
  snn_prec p = {&snn_engine_mpfr, bits};
  snn_result ref;
  int st = rule_grad(s, d, &p, &bptt, NULL, &ref, err), have_ref = st == SNN_OK;
  for (int i = 0; i < rules->nr && !st; i++) {
    snn_result x;
    if ((st = rule_grad(s, d, &p, &rules->rule[i], &ref, &x, err))) break;
    snn_blockcmp all;
    rec[1 + i] = p.eng->compare(s, p.bits, &ref, &x, bc, &all) == SNN_OK ? all.lg_rel : NAN;
    snn_result_clear(&x);
  }
  if (have_ref) snn_result_clear(&ref);
  rec[0] = st;
  return st;
}

int snn_gc_precision_sweep(const snn_spec *s, const snn_data *d, const snn_rulecheck *rules, long lo, long hi,
                           snn_psweep *out, snn_err *err) {
  memset(out, 0, sizeof *out);
  long bits[256];
  size_t nb = sweep_bits(lo, hi, bits, sizeof bits / sizeof *bits), len = (size_t)rules->nr + 1, a = 0, z = nb;
  const snn_group *g = rules->group;
  int R = g ? snn_group_size(g) : 1, me = g ? snn_group_rank(g) : 0;
  snn_blockcmp *bc = calloc(s->nblk ? s->nblk : 1, sizeof *bc);
  double *all = calloc(nb * len + 1, sizeof *all);
  size_t *counts = calloc((size_t)R, sizeof *counts);
  int st = bc && all && counts ? SNN_OK : snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
  for (int i = 0; i < rules->nr && !st; i++) st = snn_rule_check(&rules->rule[i], s, "", "--rules", err);
  /* under MPI each rank runs its share of the precisions; the rows meet in order */
  if (R > 1) snn_share(nb, me, R, &a, &z);
  int failed = st != SNN_OK;
  for (size_t j = a; j < z; j++) {
    if (failed) {
      all[j * len] = SNN_EIO;
      continue;
    }
    failed = sweep_job(s, d, rules, bits[j], all + j * len, bc, err) != SNN_OK;
  }
  if (R > 1 && !st) {
    size_t lo2, hi2;
    for (int q = 0; q < R; q++) snn_share(nb, q, R, &lo2, &hi2), counts[q] = (hi2 - lo2) * len * sizeof *all;
    double *mine = malloc(counts[me] + 1);
    if (!mine || (memcpy(mine, all + a * len, counts[me]), snn_group_allgatherv(g, mine, counts[me], all, counts)))
      st = snn_err_set(err, SNN_EIO, "", "", "the exchange between MPI ranks failed");
    free(mine);
  }
  for (size_t j = 0; j < nb && !st; j++) {
    if (all[j * len] != 0) {
      int owner = 0;
      for (int q = 0; q < R; q++) {
        size_t lo2, hi2;
        snn_share(nb, q, R, &lo2, &hi2);
        if (j >= lo2 && j < hi2) owner = q;
      }
      if (R > 1 && snn_group_bcast(g, err, sizeof *err, owner)) st = SNN_EIO;
      st = (int)all[j * len];
      break;
    }
    for (int i = 0; i < rules->nr && !st; i++)
      if (!isnan(all[j * len + 1 + (size_t)i]) && psweep_add(out, i, bits[j], all[j * len + 1 + (size_t)i]))
        st = snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
  }
  free(bc), free(all), free(counts);
  return st;
}

void snn_psweep_clear(snn_psweep *p) {
  free(p->row);
  memset(p, 0, sizeof *p);
}

/* ---- the step sweep ---- */

int snn_gc_step_sweep(const snn_spec *s, const snn_data *d, const snn_prec *p, int np, snn_stepsweep *out,
                      snn_err *err) {
  out->np = np;
  for (int k = 0; k < np; k++) {
    out->prec[k] = p[k];
    double lgeps = -(double)p[k].bits * log10(2.0), steps[128];
    size_t n = 0;
    /* from 10^-0.5 down to 60% of the precision's digits, a decade (double: half a decade) apart */
    for (double lh = -0.5; lh >= 0.6 * lgeps && n < 128; lh -= (p[k].bits > 64 ? 1.0 : 0.5)) steps[n++] = pow(10.0, lh);
    out->n[k] = n;
    int st = p[k].eng->sweep(s, d, p[k].bits, steps, n, out->row[k], err);
    if (st) return st;
  }
  return SNN_OK;
}

/* ---- the rules' cost ---- */

static int cost_add(snn_cost *c, const snn_cost_row *r) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 32;
    snn_cost_row *row = realloc(c->row, cap * sizeof *row);
    if (!row) return SNN_ENOMEM;
    c->row = row, c->cap = cap;
  }
  c->row[c->n++] = *r;
  return SNN_OK;
}

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The rules on one synthetic network of n units over T steps. */
static int cost_one(const snn_rulecheck *rules, const snn_prec *p, const snn_cost_opts *o, long n, long T,
                    snn_cost_progress cb, void *ctx, snn_cost *out, snn_err *err) {
  char js[512];
  snprintf(js, sizeof js,
           "{\"seed\": 1, \"steps\": %ld, \"input\": {\"size\": 8, \"rate\": 0.2}, \"layers\": [{\"model\": "
           "\"%s\", \"size\": %ld, \"recurrent\": %s, \"w_scale\": 2}], \"readout\": {\"size\": 4, \"tau_out\": 10}}",
           T, o->model, n, o->recurrent ? "true" : "false");
  snn_spec *s;
  int st = snn_spec_parse(js, "(bench network)", &s, err);
  if (st) return st;
  for (int i = 0; i < rules->nr && !st; i++) {
    snn_mem m;
    snn_estimate(s, &rules->rule[i], p->bits, 1, &m);
    st = snn_estimate_check_bench(&m, o->max_bytes, o->max_from, rules->text[i], n, T, p->bits, err);
  }
  snn_data d;
  if (st) {
    snn_spec_free(s);
    return st;
  }
  if ((st = snn_data_generate(s, &d, err))) {
    snn_spec_free(s);
    return st;
  }
  for (int i = 0; i < rules->nr && !st; i++) {
    snn_result r = {0};
    snn_cost_row row = {i, n, T, INFINITY, 0};
    for (int rep = 0; rep < 3 && !st; rep++) { /* the best of three: the first includes warm-up */
      snn_result_clear(&r);
      if (snn_result_init(&r, s)) st = snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
      double t0 = seconds();
      if (!st) st = p->eng->grad(s, &d, p->bits, &rules->rule[i], &r, err);
      double u = 1e6 * (seconds() - t0) / (double)T;
      if (u < row.us_per_step) row.us_per_step = u;
    }
    row.bytes = r.bytes;
    snn_result_clear(&r);
    if (!st && cost_add(out, &row)) st = snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
    if (!st && cb) cb(ctx, rules, &row);
  }
  snn_data_clear(&d);
  snn_spec_free(s);
  return st;
}

int snn_gc_cost(const snn_rulecheck *rules, const snn_prec *p, const snn_cost_opts *o, snn_cost_progress cb, void *ctx,
                snn_cost *out, snn_err *err) {
  memset(out, 0, sizeof *out);
  int st = SNN_OK;
  for (int a = 0; a < o->nn && !st; a++)
    for (int b = 0; b < o->nT && !st; b++) st = cost_one(rules, p, o, o->neurons[a], o->steps[b], cb, ctx, out, err);
  return st;
}

void snn_cost_clear(snn_cost *c) {
  free(c->row);
  memset(c, 0, sizeof *c);
}
