/* cmd_train.c - `snngrad train`: an experiment file run by the training
 * loop (experiments/), with its progress shown on stderr. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "experiments/train.h"
#include "par/par.h"

typedef struct {
  int quiet, tty;
} shown;

/* SIGINT or SIGTERM: finish the update, write the checkpoint, end.  The
 * handler is reset by the first signal, so a second one ends the process
 * at once (a temporary it leaves is removed by the next run in the folder). */
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

/* A bar on a terminal; elsewhere a plain line at each evaluation. */
static void show(void *ctx, const snn_train_progress *p) {
  const shown *v = ctx;
  if (v->quiet) return;
  if (v->tty) {
    int w = 24, f = (int)((double)w * (double)p->done / (double)p->total);
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu  loss %.4g", f, "########################", w - f, "", p->done, p->total,
            p->loss);
    if (!isnan(p->eval_loss)) fprintf(stderr, "  eval %.4g", p->eval_loss);
    if (!isnan(p->eval_acc)) fprintf(stderr, "  acc %.3f", p->eval_acc);
    fprintf(stderr, "  %.3g upd/s ", p->rate);
    if (p->done == p->total) fputc('\n', stderr);
  } else if (!isnan(p->eval_loss)) {
    fprintf(stderr, "update %zu/%zu  train loss %.6g  eval loss %.6g", p->done, p->total, p->loss, p->eval_loss);
    if (!isnan(p->eval_acc)) fprintf(stderr, "  eval acc %.4f", p->eval_acc);
    fprintf(stderr, "  (%.3g updates/s)\n", p->rate);
  }
}

static int train_args(int argc, char **argv, const char **exp, const char **out, const char **maxmem, snn_train_opts *o,
                      shown *v) {
  const char *until = NULL, *threads = NULL;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--resume"))
      o->resume = 1;
    else if (!strcmp(a, "--quiet"))
      v->quiet = 1;
    else if (!strcmp(a, "--max-memory") && i + 1 < argc)
      *maxmem = argv[++i];
    else if (!strcmp(a, "--threads") && i + 1 < argc)
      threads = argv[++i];
    else if ((!strcmp(a, "--out") || !strcmp(a, "--until")) && i + 1 < argc && !argv[i + 1][0])
      return cli_usage_error("option '%s' needs a value, found an empty one", a);
    else if ((!strcmp(a, "--out") || !strcmp(a, "--until")) && i + 1 < argc)
      *(a[2] == 'o' ? out : &until) = argv[++i];
    else if (a[0] == '-')
      return cli_usage_error(
          "unknown option or missing value '%s' for train (--out DIR, --resume, --until N, --threads N, --quiet)", a);
    else if (*exp)
      return cli_usage_error("unexpected argument '%s'", a);
    else
      *exp = a;
  }
  if (!*exp) return cli_usage_error("%s", "train needs EXPERIMENT.json");
  if (until) {
    char *end;
    long long u = strtoll(until, &end, 10);
    if (*end || end == until || u < 1)
      return cli_usage_error("--until: expected a number of updates >= 1, found '%s'", until);
    o->until = (size_t)u;
  }
  if (threads) {
    char *end;
    long long t = strtoll(threads, &end, 10);
    if (*end || end == threads || t < 1 || t > 1024)
      return cli_usage_error("--threads: expected a number of threads in [1, 1024], found '%s'", threads);
    o->threads = (int)t;
  }
  return 0;
}

int cli_train(int argc, char **argv) {
  const char *exp = NULL, *out = NULL, *maxmem = NULL;
  snn_train_opts o = {0};
  o.group = snn_group_world();
  shown v = {0, isatty(2)};
  int rc = train_args(argc, argv, &exp, &out, &maxmem, &o, &v);
  if (rc) return rc;
  o.progress = show;
  o.progress_ctx = &v;
  o.interrupt = &interrupted;
  snn_experiment e;
  snn_err err = {0};
  /* under MPI rank 0 speaks for the job; every rank reads the files */
  int rank = snn_group_rank(o.group);
  if (rank > 0) v.quiet = 1;
  if (snn_experiment_load(exp, out, &e, &err)) return rank ? EXIT_INPUT : cli_report(&err);
  if (e.spec->warnings[0] && !rank) fprintf(stderr, "snngrad: warning: %s", e.spec->warnings);
  /* FPTT holds its whole minibatch at once, the others one sequence per worker thread */
  int threads = o.threads ? o.threads : e.threads ? e.threads : snn_cores();
  size_t seqs = (strcmp(e.rule.name, "fptt") ? 0 : e.batch) + (size_t)threads;
  if ((rc = cli_check_memory(e.spec, &e.rule, e.prec, seqs, maxmem))) {
    snn_experiment_free(&e);
    return rc;
  }
  if (!v.quiet)
    fprintf(stderr,
            "snngrad: training %s on %s (T = %zu, %zu inputs, %zu outputs) with %s at %ld bits, %zu updates of %zu; "
            "output in %s\n",
            e.spec->path, snn_task_names[e.task.kind], e.task.T, e.task.n_in, e.task.n_out, e.rule_text, e.prec,
            e.updates, e.batch, e.out);
  snn_train_res r = {0};
  catch_signals();
  int st = e.prec == 53 ? snn_train_d(&e, &o, &r, &err) : snn_train_mp(&e, &o, &r, &err);
  if (st) {
    if (!v.quiet && v.tty) fputc('\n', stderr);
    /* a rank that only stopped because another failed stays silent */
    if (rank == 0 || (st != SNN_EINTR && strncmp(err.msg, "stopped: another MPI rank", 25)))
      rc = cli_report(&err);
    else
      rc = st == SNN_EINTR ? EXIT_INTERRUPTED : EXIT_INPUT;
  } else if (rank == 0) {
    printf("trained %zu updates: train loss %.6g", r.updates, r.train_loss);
    if (!isnan(r.eval_loss)) printf(", eval loss %.6g", r.eval_loss);
    if (!isnan(r.eval_acc)) printf(", eval accuracy %.4f", r.eval_acc);
    printf("; wrote %s/log.csv, manifest.json, checkpoint.json%s\n", e.out,
           r.updates == e.updates ? ", params.json, network.json" : "");
  }
  snn_experiment_free(&e);
  return rc;
}
