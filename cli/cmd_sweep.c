/* cmd_sweep.c - `snngrad sweep`: the runs of a sweep file (docs/sweep.md,
 * experiments/sweep.h).  On one process the runs go one after another; under
 * mpirun with R > 1 ranks, rank 0 hands run numbers out to the others as
 * they ask (a work queue), collects their results, writes the tables and
 * shows the progress of the whole job.  Every run trains in-process on its
 * own (group self); the tables' bytes depend on the plan and the results
 * alone, so they are the same for any R. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "experiments/sweep.h"
#include "experiments/train.h"
#include "par/par.h"

/* The work queue: a worker asks on TAG_ASK with the run it has just
 * finished (-1 at first), then sends that run's result on TAG_RESULT + its
 * rank (a tag no other rank uses, so that the longs of two results never
 * interleave), and receives its next run on TAG_WORK (-1: no more). */
enum { TAG_ASK = 7101, TAG_WORK = 7102, TAG_RESULT = 7200 };
_Static_assert(sizeof(long) == sizeof(double), "a double travels as the bits of a long");

typedef struct {
  snn_sweep plan;
  snn_run_result *res; /* by run */
  const char *maxmem;
  int quiet, ranks;
  size_t todo, finished, failed; /* this invocation's runs */
  int stop;                      /* an interrupted run: hand out no more */
} job;

/* SIGINT or SIGTERM: the current run ends after its update with a
 * checkpoint (as `train` does), and no other run starts. */
static volatile int interrupted;

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

static void catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One run, start to end: its experiment file, loaded as `train` would load
 * it, trained (resumed from its checkpoint unless it failed last time), and
 * its result file.  Whatever goes wrong is the run's failure, not the sweep's. */
static void run_one(const job *J, size_t run, snn_run_result *r) {
  char dir[SNN_PATH_MAX], path[SNN_PATH_MAX + 32], *text = NULL;
  snn_err err = {0};
  snn_experiment e;
  snn_run_result prev;
  double t0 = now();
  int loaded = 0;
  memset(r, 0, sizeof *r);
  r->train_loss = r->eval_loss = r->eval_acc = NAN;
  snn_sweep_run_dir(&J->plan, run, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/result.json", dir);
  int failed_before = !snn_run_result_read(path, &prev) && prev.status == SNN_RUN_FAILED;
  int st = snn_sweep_experiment(&J->plan, run, &text, &err);
  snprintf(path, sizeof path, "%s/experiment.json", dir);
  if (!st) st = snn_sweep_mkdir(dir, &err);
  if (!st && snn_sweep_same_file(path, text) != 1) st = snn_write_atomic(path, text, strlen(text), &err);
  if (!st) loaded = !(st = snn_experiment_load(path, NULL, &e, &err));
  if (loaded && e.spec->warnings[0] && !J->quiet) fprintf(stderr, "snngrad: warning: %s: %s", dir, e.spec->warnings);
  if (!st) { /* FPTT holds its whole minibatch at once; the others one sequence */
    snn_mem m;
    snn_estimate(e.spec, &e.rule, e.prec, strcmp(e.rule.name, "fptt") ? 1 : e.batch, &m);
    st = snn_estimate_check(e.spec, &m, cli_mem_limit(J->maxmem), cli_mem_limit_name(J->maxmem), &err);
  }
  if (!st) {
    snn_train_opts o = {0};
    snn_train_res tr = {0};
    snprintf(path, sizeof path, "%s/checkpoint.json", dir);
    o.resume = access(path, F_OK) == 0 && !failed_before;
    o.interrupt = &interrupted;
    o.threads = J->ranks > 1 ? 1 : 0;
    o.group = snn_group_self();
    st = e.prec == 53 ? snn_train_d(&e, &o, &tr, &err) : snn_train_mp(&e, &o, &tr, &err);
    if (!st && o.resume && tr.updates == 0) { /* resumed at its end: no metrics to report, so again from the start */
      o.resume = 0;
      st = e.prec == 53 ? snn_train_d(&e, &o, &tr, &err) : snn_train_mp(&e, &o, &tr, &err);
    }
    r->updates = tr.updates, r->train_loss = tr.train_loss, r->eval_loss = tr.eval_loss, r->eval_acc = tr.eval_acc;
  }
  if (loaded) snn_experiment_free(&e);
  free(text);
  r->status = !st ? SNN_RUN_DONE : st == SNN_EINTR ? SNN_RUN_INTERRUPTED : SNN_RUN_FAILED;
  if (st) snn_err_format(&err, r->msg, sizeof r->msg);
  r->seconds = now() - t0;
  snprintf(path, sizeof path, "%s/result.json", dir);
  char *res = snn_run_result_format(r);
  if (!res || (snn_sweep_mkdir(dir, &err) == SNN_OK && snn_write_atomic(path, res, strlen(res), &err))) {
    r->status = SNN_RUN_FAILED;
    snn_err_format(&err, r->msg, sizeof r->msg);
  }
  free(res);
}

/* One line per finished run, on rank 0. */
static void show(job *J, size_t run) {
  const snn_run_result *r = &J->res[run];
  J->finished++;
  J->failed += r->status == SNN_RUN_FAILED;
  if (J->quiet) return;
  char dir[SNN_PATH_MAX];
  snn_sweep_run_dir(&J->plan, run, dir, sizeof dir);
  fprintf(stderr, "sweep %zu/%zu%s%.0zu%s: %s %s", J->finished, J->todo, J->failed ? " (" : "", J->failed,
          J->failed ? " failed)" : "", dir, snn_run_status_names[r->status]);
  if (r->status == SNN_RUN_DONE) {
    fprintf(stderr, ", train loss %.6g", r->train_loss);
    if (isfinite(r->eval_loss)) fprintf(stderr, ", eval loss %.6g", r->eval_loss);
    if (isfinite(r->eval_acc)) fprintf(stderr, ", eval acc %.4f", r->eval_acc);
  } else {
    fprintf(stderr, ": %s", r->msg);
  }
  fprintf(stderr, " (%.1f s)\n", r->seconds);
}

/* The tables, all together or none (rank 0). */
static int write_tables(const job *J, snn_err *err) {
  static const char *const names[] = {"variants.csv", "runs.csv", "status.csv", "times.csv", "summary.csv"};
  char *texts[5] = {snn_sweep_variants_csv(&J->plan), snn_sweep_runs_csv(&J->plan, J->res),
                    snn_sweep_status_csv(&J->plan, J->res), snn_sweep_times_csv(&J->plan, J->res),
                    snn_sweep_summary_csv(&J->plan, J->res)};
  snn_outset o;
  snn_outset_init(&o);
  int st = SNN_OK;
  for (int i = 0; i < 5; i++) {
    char path[SNN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", J->plan.out, names[i]);
    if (!st && !texts[i]) st = snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
    if (!st) st = snn_outset_add(&o, path, texts[i], strlen(texts[i]), err);
  }
  st = st ? (snn_outset_abort(&o), st) : snn_outset_commit(&o, err);
  for (int i = 0; i < 5; i++) free(texts[i]);
  return st;
}

/* Before anything is written: a run folder that holds another experiment
 * than this sweep gives it is refused; a finished run (done, with its
 * params.json) keeps its result and is not run again. */
static int prepare(job *J, snn_err *err) {
  size_t total = snn_sweep_runs(&J->plan);
  for (size_t i = 0; i < total; i++) {
    char dir[SNN_PATH_MAX], path[SNN_PATH_MAX + 32], *text;
    int st = snn_sweep_experiment(&J->plan, i, &text, err);
    if (st) return st;
    snn_sweep_run_dir(&J->plan, i, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/experiment.json", dir);
    int same = snn_sweep_same_file(path, text);
    free(text);
    if (!same)
      return snn_err_set(err, SNN_EVALUE, path, "",
                         "holds another experiment than the sweep gives this run (was the sweep file changed?); "
                         "expected a new output folder, or remove this one");
    snprintf(path, sizeof path, "%s/result.json", dir);
    J->res[i].status = SNN_RUN_PENDING;
    J->res[i].train_loss = J->res[i].eval_loss = J->res[i].eval_acc = J->res[i].seconds = NAN;
    snn_run_result prev;
    if (snn_run_result_read(path, &prev) || prev.status != SNN_RUN_DONE) {
      J->todo++;
      continue;
    }
    snprintf(path, sizeof path, "%s/params.json", dir);
    if (access(path, F_OK) == 0)
      J->res[i] = prev;
    else
      J->todo++;
  }
  return snn_sweep_mkdir(J->plan.out, err);
}

/* R = 1: the runs in order, in this process. */
static int run_serial(job *J, snn_err *err) {
  for (size_t i = 0; i < snn_sweep_runs(&J->plan) && !interrupted && !J->stop; i++) {
    if (J->res[i].status == SNN_RUN_DONE) continue;
    run_one(J, i, &J->res[i]);
    show(J, i);
    J->stop = J->res[i].status == SNN_RUN_INTERRUPTED;
    if (write_tables(J, err)) return err->status;
  }
  return SNN_OK;
}

static void queue_fail(const char *what) {
  fprintf(stderr, "snngrad: error: sweep: the work queue failed (%s); ending the job\n", what);
  snn_group_abort(snn_group_world(), EXIT_INPUT);
}

static void send_result(int rank, const snn_run_result *r) {
  const snn_group *w = snn_group_world();
  double d[4] = {r->train_loss, r->eval_loss, r->eval_acc, r->seconds};
  long v[4];
  memcpy(v, d, sizeof v);
  size_t len = strlen(r->msg);
  int bad =
      snn_group_send(w, 0, TAG_RESULT + rank, r->status) || snn_group_send(w, 0, TAG_RESULT + rank, (long)r->updates);
  for (int i = 0; i < 4 && !bad; i++) bad = snn_group_send(w, 0, TAG_RESULT + rank, v[i]);
  if (!bad) bad = snn_group_send(w, 0, TAG_RESULT + rank, (long)len);
  for (size_t i = 0; i < len && !bad; i += sizeof(long)) { /* the message, 8 characters a long */
    long c = 0;
    memcpy(&c, r->msg + i, len - i < sizeof c ? len - i : sizeof c);
    bad = snn_group_send(w, 0, TAG_RESULT + rank, c);
  }
  if (bad) queue_fail("sending a result");
}

static void recv_result(int src, snn_run_result *r) {
  const snn_group *w = snn_group_world();
  long v[7];
  int from;
  memset(r, 0, sizeof *r);
  for (int i = 0; i < 7; i++)
    if (snn_group_recv(w, &from, TAG_RESULT + src, &v[i]) || from != src) queue_fail("receiving a result");
  double d[4];
  memcpy(d, v + 2, sizeof d);
  r->status = (int)v[0], r->updates = (size_t)v[1];
  r->train_loss = d[0], r->eval_loss = d[1], r->eval_acc = d[2], r->seconds = d[3];
  size_t len = (size_t)v[6] < sizeof r->msg ? (size_t)v[6] : sizeof r->msg - 1;
  for (size_t i = 0; i < (size_t)v[6]; i += sizeof(long)) {
    long c;
    if (snn_group_recv(w, &from, TAG_RESULT + src, &c)) queue_fail("receiving a message");
    if (i < len) memcpy(r->msg + i, &c, len - i < sizeof c ? len - i : sizeof c);
  }
  if (r->status < SNN_RUN_PENDING || r->status > SNN_RUN_INTERRUPTED) queue_fail("a result out of range");
}

/* Rank 0 of R > 1: hand out the runs, collect their results. */
static int run_master(job *J, snn_err *err) {
  const snn_group *w = snn_group_world();
  size_t next = 0, total = snn_sweep_runs(&J->plan);
  int active = J->ranks - 1, st = SNN_OK;
  while (active > 0) {
    int src;
    long v;
    if (snn_group_recv(w, &src, TAG_ASK, &v)) queue_fail("receiving a request");
    if (v >= 0 && (size_t)v < total) {
      recv_result(src, &J->res[v]);
      show(J, (size_t)v);
      J->stop |= J->res[v].status == SNN_RUN_INTERRUPTED;
      if (!st) st = write_tables(J, err);
    }
    while (next < total && J->res[next].status == SNN_RUN_DONE) next++;
    int more = next < total && !interrupted && !J->stop && !st;
    if (snn_group_send(w, src, TAG_WORK, more ? (long)next++ : -1L)) queue_fail("sending work");
    active -= !more;
  }
  return st;
}

/* Ranks 1..R-1: ask, run, report, until told there is no more. */
static void run_worker(const job *J) {
  const snn_group *w = snn_group_world();
  int rank = snn_group_rank(w), src;
  long v = -1;
  snn_run_result r;
  for (;;) {
    if (snn_group_send(w, 0, TAG_ASK, v)) queue_fail("asking for work");
    if (v >= 0) send_result(rank, &r);
    if (snn_group_recv(w, &src, TAG_WORK, &v)) queue_fail("receiving work");
    if (v < 0) break;
    run_one(J, (size_t)v, &r);
  }
}

static int sweep_args(int argc, char **argv, const char **file, const char **out, job *J) {
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--quiet"))
      J->quiet = 1;
    else if ((!strcmp(a, "--out") || !strcmp(a, "--max-memory")) && i + 1 < argc && !argv[i + 1][0])
      return cli_usage_error("option '%s' needs a value, found an empty one", a);
    else if (!strcmp(a, "--out") && i + 1 < argc)
      *out = argv[++i];
    else if (!strcmp(a, "--max-memory") && i + 1 < argc)
      J->maxmem = argv[++i];
    else if (a[0] == '-')
      return cli_usage_error("unknown option or missing value '%s' for sweep (--out DIR, --quiet, --max-memory SIZE)",
                             a);
    else if (*file)
      return cli_usage_error("unexpected argument '%s'", a);
    else
      *file = a;
  }
  if (!*file) return cli_usage_error("%s", "sweep needs SWEEP.json");
  return J->maxmem && cli_mem_limit(J->maxmem) < 0 ? EXIT_INPUT : 0;
}

/* The plan, read on every rank; only rank 0 speaks about it. */
static int sweep_start(int argc, char **argv, job *J, int rank) {
  const char *file = NULL, *out = NULL;
  int saved = -1, rc;
  fflush(stderr);
  if (rank > 0 && (saved = dup(2)) >= 0) { /* the same message from every rank is noise */
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 2), close(null);
  }
  snn_err err = {0};
  rc = sweep_args(argc, argv, &file, &out, J);
  if (!rc && snn_sweep_load(file, out, &J->plan, &err)) rc = cli_report(&err);
  if (!rc && !(J->res = calloc(snn_sweep_runs(&J->plan), sizeof *J->res))) rc = cli_oom();
  fflush(stderr);
  if (saved >= 0) dup2(saved, 2), close(saved);
  return rc;
}

int cli_sweep(int argc, char **argv) {
  const snn_group *w = snn_group_world();
  int rank = snn_group_rank(w), lock = -1;
  job J;
  memset(&J, 0, sizeof J);
  J.ranks = snn_group_size(w);
  int rc = sweep_start(argc, argv, &J, rank);
  snn_err err = {0};
  int st = SNN_OK;
  if (!rc && rank == 0) {
    st = prepare(&J, &err);
    if (!st) st = snn_sweep_lock(J.plan.out, &lock, &err);
    if (!st) st = write_tables(&J, &err);
    if (st) rc = cli_report(&err);
  }
  if (!rc && J.ranks > 1) rc = snn_group_max(w, rc); /* a refusal on rank 0 ends every rank */
  if (!rc) {
    size_t total = snn_sweep_runs(&J.plan);
    if (rank == 0 && !J.quiet)
      fprintf(stderr, "snngrad: sweep %s: %zu variants x %zu seeds = %zu runs, %zu to do%s; output in %s\n",
              J.plan.path, J.plan.nvar, J.plan.nseed, total, J.todo, J.ranks > 1 ? " (a work queue over ranks)" : "",
              J.plan.out);
    catch_signals();
    if (J.ranks == 1)
      st = run_serial(&J, &err);
    else if (rank == 0)
      st = run_master(&J, &err);
    else
      run_worker(&J);
    if (rank == 0) {
      size_t done = 0, failed = 0;
      for (size_t i = 0; i < total; i++)
        done += J.res[i].status == SNN_RUN_DONE, failed += J.res[i].status == SNN_RUN_FAILED;
      rc = st ? cli_report(&err) : J.stop || interrupted ? EXIT_INTERRUPTED : failed ? EXIT_FAIL : 0;
      printf(
          "sweep: %zu runs: %zu done, %zu failed, %zu not done; wrote %s/summary.csv, runs.csv, status.csv, "
          "times.csv, variants.csv\n",
          total, done, failed, total - done - failed, J.plan.out);
      if (rc == EXIT_INTERRUPTED) fprintf(stderr, "snngrad: sweep interrupted; run it again to continue\n");
    }
  }
  snn_sweep_unlock(J.plan.out, lock);
  if (J.ranks > 1) { /* every rank ends with rank 0's status */
    int code = rc;
    snn_group_bcast(w, &code, sizeof code, 0);
    rc = code;
  }
  free(J.res);
  snn_sweep_free(&J.plan);
  return rc;
}
