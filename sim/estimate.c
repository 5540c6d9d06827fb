/* estimate.c - see estimate.h.  The counts follow what the code allocates:
 * the trajectory holds T+1 rows of every layer's state, currents, threshold
 * distances and outputs (and the delay lines); BPTT's workspace about as
 * much again; RTRL the influence of every parameter on every state; the
 * trace rules a trace per synapse and state component.  Within a factor of
 * about two: enough to refuse what cannot fit, not a budget. */
#include "sim/estimate.h"

#include <math.h>
#include <string.h>

double snn_scalar_bytes(long prec) {
  /* an MPFR number: its struct (32 bytes) and its limbs */
  return prec == 53 ? 8.0 : 32.0 + 8.0 * ceil((double)prec / 64.0) + 8.0;
}

/* The largest layer (for the message). */
static size_t widest(const snn_spec *s) {
  size_t w = 0;
  for (size_t l = 1; l < s->L; l++)
    if (s->layers[l].n > s->layers[w].n) w = l;
  return w;
}

/* Scalars per step of the trajectory. */
static double row(const snn_spec *s) {
  double r = 2.0 * (double)s->n_out;
  for (size_t l = 0; l < s->L; l++) {
    const snn_layer_spec *ly = &s->layers[l];
    double k = ly->sh->m + 4; /* state (k <= 4 in the cells), currents, u, z */
    r += (double)ly->n * k + (ly->delays ? (double)ly->dmax * (double)ly->nprev : 0.0);
    /* batch_norm: the normalised values and BPTT's dE/dP of each feature */
    if (ly->bn) r += 2.0 * (double)ly->n * (double)(ly->sh->nin + (ly->recurrent ? ly->sh->nrec : 0));
  }
  if (s->ro_bn) r += 2.0 * (double)s->n_out;
  return r;
}

/* The rule's own state, in scalars. */
static double rule_state(const snn_spec *s, const snn_rule *r, double *T_eff) {
  const char *name = r ? r->name : "";
  double H = 0, P = (double)s->P;
  for (size_t l = 0; l < s->L; l++) H += (double)s->layers[l].n;
  if (!strcmp(name, "rtrl") || (!strcmp(name, "ostl") && strcmp(snn_rule_opt(r, "traces"), "diagonal"))) {
    *T_eff = 1;               /* forward in time: two rows */
    return 3.0 * 4.0 * H * P; /* influence of every parameter on every state component, two steps */
  }
  if (!strcmp(name, "ostl") || !strcmp(name, "eprop")) {
    *T_eff = 1;
    return 4.0 * 4.0 * P; /* eps, e, ebar, esum per synapse and state component */
  }
  if (!strcmp(name, "fptt")) *T_eff = ceil(*T_eff / snn_rule_opt_num(r, "chunks"));
  return *T_eff * row(s); /* BPTT's workspace */
}

void snn_estimate(const snn_spec *s, const snn_rule *r, long prec, size_t batch, snn_mem *m) {
  memset(m, 0, sizeof *m);
  double e = snn_scalar_bytes(prec), T = (double)s->T, T_eff = T;
  double rs = r ? rule_state(s, r, &T_eff) : 0.0;
  m->part[0] = (double)s->P * (4.0 * e + 16.0);                               /* theta, gradient, files' numbers */
  m->part[1] = T * (double)(s->n_in + s->n_out) * (e + 16.0) * (double)batch; /* input and target */
  m->part[2] = (T_eff + 1.0) * row(s) * e * (double)batch;                    /* the trajectory */
  m->part[3] = rs * e * (double)batch;
  m->bytes = m->part[0] + m->part[1] + m->part[2] + m->part[3];
  int big = 0;
  for (int i = 1; i < 4; i++)
    if (m->part[i] > m->part[big]) big = i;
  size_t w = widest(s);
  const snn_layer_spec *ly = &s->layers[w];
  /* a workspace of one row per step (BPTT's, FPTT's chunk) grows with the steps */
  int per_step = big == 3 && T_eff > 1;
  int bn = s->ro_bn;
  for (size_t l = 0; l < s->L; l++) bn |= s->layers[l].bn;
  /* batch_norm's running statistics are parameters per step and feature */
  double stats = 0;
  for (size_t b = 0; b < s->nblk; b++)
    if (s->blk[b].kind == SNN_BLK_BN_MEAN || s->blk[b].kind == SNN_BLK_BN_VAR)
      stats += (double)s->blk[b].rows * (double)s->blk[b].cols;
  int by_stats = big == 0 && stats > 0.5 * (double)s->P;
  if (by_stats)
    snn_format(m->key, sizeof m->key, "steps");
  else if (big == 0 || (big == 3 && !per_step))
    snn_format(m->key, sizeof m->key, "layers[%zu].size", w);
  else if (big == 1)
    snn_format(m->key, sizeof m->key, "%s",
               s->n_out > s->n_in ? "readout.size"
               : s->T > s->n_in   ? "steps"
                                  : "input.size");
  else
    snn_format(m->key, sizeof m->key, "steps");
  switch (big) {
    case 0:
      if (by_stats)
        snn_format(m->why, sizeof m->why,
                   "%zu parameters, %.0f of them batch_norm's running statistics (a mean and a variance per feature "
                   "and step: steps = %zu)",
                   s->P, stats, s->T);
      else
        snn_format(m->why, sizeof m->why, "%zu parameters, most from layers[%zu].size = %zu%s", s->P, w, ly->n,
                   ly->recurrent ? " (recurrent)" : "");
      break;
    case 1:
      snn_format(m->why, sizeof m->why, "the input and target: steps = %zu x (input.size = %zu + readout.size = %zu)",
                 s->T, s->n_in, s->n_out);
      break;
    case 2:
      snn_format(m->why, sizeof m->why,
                 "the trajectory: steps = %zu rows of the states of layers[%zu].size = %zu and the others", s->T, w,
                 ly->n);
      break;
    default:
      if (per_step) {
        snn_format(m->why, sizeof m->why,
                   "the rule %s's workspace: %.0f rows (steps = %zu) of the states of layers[%zu].size = %zu and the "
                   "others%s",
                   r->name, T_eff, s->T, w, ly->n, bn ? ", with batch_norm's two values per feature and row" : "");
        break;
      }
      snn_format(m->why, sizeof m->why, "the rule %s's own state, from layers[%zu].size = %zu%s", r->name, w, ly->n,
                 !strcmp(r->name, "rtrl") || !strcmp(r->name, "ostl") ? " (it grows as the parameters times the units)"
                                                                      : " and steps");
  }
}

/* "12.3 GB" */
static const char *human(double b, char *buf, size_t n) {
  static const char *const u[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
  int i = 0;
  while (b >= 1000.0 && i < 6) b /= 1000.0, i++;
  snn_format(buf, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
  return buf;
}

int snn_estimate_check(const snn_spec *s, const snn_mem *m, double limit, const char *option, snn_err *err) {
  if (m->bytes <= limit) return SNN_OK;
  char a[32], b[32];
  return snn_err_set(
      err, SNN_EVALUE, s->path, m->key,
      "the run needs about %s, more than the %s it may use (%s); most of it is %s: make it smaller, or raise %s",
      human(m->bytes, a, sizeof a), human(limit, b, sizeof b), option, m->why, option);
}

int snn_estimate_check_bench(const snn_mem *m, double limit, const char *option, const char *rule, long neurons,
                             long steps, long bits, snn_err *err) {
  if (m->bytes <= limit) return SNN_OK;
  char a[32], b[32];
  return snn_err_set(err, SNN_EVALUE, "", "",
                     "%s on the bench network of --neurons %ld over --steps %ld needs about %s at %ld bits, more than "
                     "the %s it may use (%s); lower --neurons or --steps",
                     rule, neurons, steps, human(m->bytes, a, sizeof a), bits, human(limit, b, sizeof b), option);
}

double snn_estimate_flops(const snn_spec *s) {
  double step = 0;
  for (size_t l = 0; l < s->L; l++) {
    const snn_layer_spec *ly = &s->layers[l];
    const snn_model_shape *sh = ly->sh;
    double n = (double)ly->n;
    step += 2.0 * n * (double)ly->nprev * (double)sh->nin;     /* W_in x, per current it feeds */
    if (ly->recurrent) step += 2.0 * n * n * (double)sh->nrec; /* W_rec z, likewise */
    for (int mx = 0; mx < sh->nmix; mx++) step += 2.0 * n * n * (double)sh->mix[mx].nsrc; /* a mix, n x nsrc n */
  }
  if (s->L) step += 2.0 * (double)s->n_out * (double)s->layers[s->L - 1].n; /* W_out z_L */
  return 3.0 * step * (double)s->T;
}
