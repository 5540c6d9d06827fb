/* cmd_benchtrain.c - `snngrad bench --train EXP.json`: an experiment's
 * training timed over a few updates, read against the machine's dgemm rate
 * (docs/performance.md).
 *
 * The run goes into a private temporary folder (mkdtemp under $TMPDIR or
 * /tmp), removed afterwards whatever happens; the experiment's own "out"
 * folder is never touched.  One update warms up and is not counted; the
 * schedule is overridden so that no checkpoint is due before the last update
 * and one evaluation comes after it, timed on its own and left out of the
 * throughput. */
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "experiments/train.h"
#include "par/par.h"
#include "sim/estimate.h"

#define BT_WARMUP 1    /* updates run before the timing starts */
#define BT_DGEMM_N 512 /* the dgemm the run is read against: n x n doubles */

/* What one benchmark measured. */
typedef struct {
  size_t updates, sequences, eval_seqs;
  int threads;
  double sec_grad, sec_update, sec_eval; /* over the counted updates; one evaluation */
  double gflop_update;                   /* the flop model's work of one update */
  double dgemm, rss_mb;                  /* GFLOP/s; peak resident memory */
} bt_res;

static volatile int bt_interrupted;

static void bt_on_signal(int sig) {
  (void)sig;
  bt_interrupted = 1;
}

/* SIGINT/SIGTERM end the training after its update, so that the temporary
 * folder is still removed; `on` 0 restores the defaults. */
static void bt_signals(int on) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on ? bt_on_signal : SIG_DFL;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* An integer option in [lo, hi]; `what` says what it counts. */
static int bt_count(const char *v, const char *name, const char *what, long lo, long hi, long def, long *out) {
  *out = def;
  if (!v) return 0;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end || x < lo || x > hi) {
    fprintf(stderr, "snngrad: error: %s: expected a number of %s in [%ld, %ld], found '%s'\n", name, what, lo, hi, v);
    return EXIT_INPUT;
  }
  *out = (long)x;
  return 0;
}

static int bt_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* The temporary folder and everything in it. */
static void bt_rm_tree(const char *dir) {
  if (nftw(dir, bt_rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
    fprintf(stderr, "snngrad: warning: could not remove the temporary folder %s\n", dir);
}

/* A new private folder under $TMPDIR (or /tmp) for the run's files. */
static int bt_tmpdir(char *dir, size_t n) {
  const char *base = getenv("TMPDIR");
  if (!base || !base[0]) base = "/tmp";
  if (snprintf(dir, n, "%s/snngrad-bench-XXXXXX", base) >= (int)n)
    return cli_usage_error("TMPDIR: expected a folder name short enough for a run's files, found '%s'", base);
  if (!mkdtemp(dir)) {
    fprintf(stderr, "snngrad: error: %s: cannot create a temporary folder there (set TMPDIR to a writable folder)\n",
            base);
    return EXIT_INPUT;
  }
  return 0;
}

/* The training of `e` over BT_WARMUP + `updates` updates in the folder `dir`. */
static int bt_train(snn_experiment *e, const char *dir, long updates, int threads, bt_res *b) {
  size_t counted = (size_t)updates, last = BT_WARMUP + counted;
  snprintf(e->out, sizeof e->out, "%s", dir);
  e->updates = last + 1;    /* the end of the run (its last evaluation, params.json) is never reached */
  e->eval_every = last;     /* one evaluation, after the last counted update */
  e->ckpt_every = SIZE_MAX; /* the only checkpoint: where --until stops */
  snn_train_opts o = {0};
  o.until = last, o.warmup = BT_WARMUP, o.threads = threads, o.interrupt = &bt_interrupted;
  snn_train_res r = {0};
  snn_err err = {0};
  bt_signals(1);
  int st = e->prec == 53 ? snn_train_d(e, &o, &r, &err) : snn_train_mp(e, &o, &r, &err);
  bt_signals(0);
  if (st == SNN_EINTR) {
    fprintf(stderr, "snngrad: error: bench --train interrupted; nothing written\n");
    return EXIT_INTERRUPTED;
  }
  if (st) return cli_report(&err);
  b->updates = r.updates - BT_WARMUP, b->sequences = r.sequences, b->threads = r.threads;
  b->sec_grad = r.sec_grad, b->sec_update = r.sec_update, b->sec_eval = r.sec_eval;
  size_t cnt = snn_task_count(&e->task, 1);
  b->eval_seqs = cnt < e->eval_samples ? cnt : e->eval_samples;
  b->gflop_update = snn_estimate_flops(e->spec) * (double)e->batch / 1e9;
  return 0;
}

/* The derived figures: sequences per second, ms per update (both without
 * the evaluation), achieved GFLOP/s, and its fraction of what the cores it
 * ran on reach in dgemm (threads x one core's rate). */
static void bt_rates(const bt_res *b, double *seq_s, double *ms, double *gflops, double *frac) {
  double sec = b->sec_grad + b->sec_update;
  *seq_s = sec > 0 ? (double)b->sequences / sec : 0;
  *ms = b->updates ? 1e3 * sec / (double)b->updates : 0;
  *gflops = *ms > 0 ? b->gflop_update / (*ms / 1e3) : 0;
  *frac = b->dgemm > 0 && b->threads > 0 ? *gflops / (b->dgemm * b->threads) : 0;
}

static void bt_print(const snn_experiment *e, const bt_res *b) {
  double seq_s, ms, gf, frac, u = (double)(b->updates ? b->updates : 1);
  bt_rates(b, &seq_s, &ms, &gf, &frac);
  char prec[32];
  snprintf(prec, sizeof prec, e->prec == 53 ? "double" : "MPFR %ld bits", e->prec);
  printf("bench --train %s: %s, %s, batch %zu, T %zu; %zu updates timed after %d warm-up, %d thread%s\n", e->path,
         e->rule_text, prec, e->batch, e->spec->T, b->updates, BT_WARMUP, b->threads, b->threads == 1 ? "" : "s");
  printf("  sequences per second  %.4g\n", seq_s);
  printf("  ms per update         %.4g (gradient %.4g, optimiser %.4g)\n", ms, 1e3 * b->sec_grad / u,
         1e3 * b->sec_update / u);
  printf("  one evaluation        %.4g ms for %zu sequences (not in the figures above)\n", 1e3 * b->sec_eval,
         b->eval_seqs);
  printf("  useful work           %.4g GFLOP per update counted dense (spikes' zeros skipped or not), %.4g GFLOP/s\n",
         b->gflop_update, gf);
  printf("  dgemm rate            %.4g GFLOP/s (%dx%d, one thread); the training reaches %.3g %% of %d x that\n",
         b->dgemm, BT_DGEMM_N, BT_DGEMM_N, 100.0 * frac, b->threads);
  printf("  peak resident memory  %.1f MB\n", b->rss_mb);
}

/* One header line and one row, written atomically. */
static int bt_csv(const char *path, const snn_experiment *e, const bt_res *b) {
  double seq_s, ms, gf, frac, u = (double)(b->updates ? b->updates : 1);
  bt_rates(b, &seq_s, &ms, &gf, &frac);
  snn_buf t = {0};
  snn_buf_puts(&t,
               "experiment,rule,precision_bits,batch,T,threads,updates,warmup_updates,sequences,sequences_per_s,"
               "ms_per_update,grad_ms_per_update,opt_ms_per_update,eval_ms,eval_sequences,gflop_per_update,gflops,"
               "dgemm_gflops,fraction_of_dgemm,peak_rss_mb\n\"");
  for (const char *p = e->path; *p; p++) snn_buf_printf(&t, "%s%c", *p == '"' ? "\"" : "", *p);
  snn_buf_printf(&t, "\",\"%s\",%ld,%zu,%zu,%d,%zu,%d,%zu,", e->rule_text, e->prec, e->batch, e->spec->T, b->threads,
                 b->updates, BT_WARMUP, b->sequences);
  snn_buf_printf(&t, "%.6g,%.6g,%.6g,%.6g,%.6g,%zu,", seq_s, ms, 1e3 * b->sec_grad / u, 1e3 * b->sec_update / u,
                 1e3 * b->sec_eval, b->eval_seqs);
  snn_buf_printf(&t, "%.6g,%.6g,%.6g,%.6g,%.6g\n", b->gflop_update, gf, b->dgemm, frac, b->rss_mb);
  snn_err err = {0};
  int rc = t.oom ? cli_oom() : snn_write_atomic(path, t.p, t.len, &err) ? cli_report(&err) : 0;
  snn_buf_free(&t);
  return rc;
}

/* The options of bench --train, checked before anything runs. */
static int bt_args(const cli_opts *o, long *updates, long *threads) {
  if (o->net || o->neurons || o->steps || o->layers || o->model || o->recurrent || o->prec || o->reps || o->rules)
    return cli_usage_error("%s", "bench --train takes the experiment and --updates, --threads, --csv, --max-memory");
  if (bt_count(o->updates, "--updates", "timed updates", 1, 1000000, 5, updates) ||
      bt_count(o->threads, "--threads", "worker threads", 1, 1024, 0, threads))
    return EXIT_INPUT;
  return 0;
}

int cli_bench_train(const cli_opts *o) {
  long updates, threads;
  int rc = bt_args(o, &updates, &threads);
  if (rc) return rc;
  snn_experiment e;
  snn_err err = {0};
  /* the output folder named here is replaced by the temporary one */
  if (snn_experiment_load(o->train, "(bench)", &e, &err)) return cli_report(&err);
  if (e.spec->warnings[0]) fprintf(stderr, "snngrad: warning: %s", e.spec->warnings);
  int nt = threads ? (int)threads : e.threads ? e.threads : snn_cores();
  size_t seqs = (strcmp(e.rule.name, "fptt") ? 0 : e.batch) + (size_t)nt;
  char dir[SNN_PATH_MAX - 64];
  bt_res b = {0};
  if (!(rc = cli_check_memory(e.spec, &e.rule, e.prec, seqs, o->maxmem)) && !(rc = bt_tmpdir(dir, sizeof dir))) {
    rc = bt_train(&e, dir, updates, (int)threads, &b);
    bt_rm_tree(dir);
  }
  if (!rc) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    b.rss_mb = (double)ru.ru_maxrss / 1024.0; /* before the dgemm's own matrices */
    b.dgemm = snn_dgemm_gflops(BT_DGEMM_N, 5);
    bt_print(&e, &b);
    if (o->csv) rc = bt_csv(o->csv, &e, &b);
  }
  snn_experiment_free(&e);
  return rc;
}
