/* common.c - error reporting, option parsing and loading for every
 * subcommand. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "par/par.h"

int cli_report(const snn_err *e) {
  char buf[1400];
  snn_err_format(e, buf, sizeof buf);
  fprintf(stderr, "snngrad: error: %s\n", buf);
  if (e->status == SNN_EREFUSED || e->status == SNN_EVACUOUS) return EXIT_REFUSED;
  if (e->status == SNN_EINTR) return EXIT_INTERRUPTED;
  return e->status == SNN_EMISMATCH ? EXIT_FAIL : EXIT_INPUT;
}

int cli_usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "snngrad: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nrun 'snngrad help' for the usage\n");
  return EXIT_INPUT;
}

int cli_oom(void) {
  return cli_report(&(snn_err){SNN_ENOMEM, "", "", "out of memory"});
}

int cli_parse_opts(int argc, char **argv, cli_opts *o, const char *allowed) {
  memset(o, 0, sizeof *o);
  struct {
    const char *name;
    const char **slot;
  } table[] = {{"-o", &o->out},
               {"--rule", &o->rule},
               {"--params", &o->params},
               {"--precision", &o->prec},
               {"--method", &o->method},
               {"--step", &o->step},
               {"--json", &o->json},
               {"--step-sweep", &o->sweep},
               {"--neurons", &o->neurons},
               {"--steps", &o->steps},
               {"--layers", &o->layers},
               {"--model", &o->model},
               {"--recurrent", &o->recurrent},
               {"--reps", &o->reps},
               {"--rules", &o->rules},
               {"--precision-sweep", &o->psweep},
               {"--csv", &o->csv},
               {"--raster", &o->raster},
               {"--max-memory", &o->maxmem},
               {"--synapse", &o->synapse},
               {"--train", &o->train},
               {"--updates", &o->updates},
               {"--threads", &o->threads}};
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = NULL;
    if (a[0] != '-') {
      if (o->net) return cli_usage_error("unexpected argument '%s'", a);
      o->net = a;
      continue;
    }
    for (size_t k = 0; k < sizeof table / sizeof *table; k++)
      if (!strcmp(a, table[k].name)) slot = table[k].slot;
    char word[40];
    snprintf(word, sizeof word, " %s ", a);
    /* --max-memory: every command that computes */
    if (!slot || (!strstr(allowed, word) && strcmp(a, "--max-memory")))
      return cli_usage_error("unknown option '%s' for this command", a);
    if (i + 1 >= argc) return cli_usage_error("option '%s' needs a value", a);
    if (*slot) return cli_usage_error("option '%s' given twice", a);
    if (!argv[i + 1][0]) return cli_usage_error("option '%s' needs a value, found an empty one", a);
    *slot = argv[++i];
  }
  return 0;
}

int cli_load_spec(const char *path, snn_spec **s) {
  snn_err e = {0};
  if (snn_spec_load(path, s, &e)) return cli_report(&e);
  if ((*s)->warnings[0]) fprintf(stderr, "snngrad: warning: %s", (*s)->warnings);
  return 0;
}

int cli_load_data(const snn_spec *s, const char *params, snn_data *d) {
  snn_err e = {0};
  int st = params ? snn_data_load(s, params, d, &e) : snn_data_generate(s, d, &e);
  if (st) return cli_report(&e);
  if (d->warnings[0]) fprintf(stderr, "snngrad: warning: %s", d->warnings);
  return 0;
}

int cli_write_all(int n, const char *const *paths, const char *const *texts, const size_t *lens) {
  snn_outset o;
  snn_err e = {0};
  if (snn_group_rank(snn_group_world()) > 0) return 0; /* under MPI rank 0 writes for the job */
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++)
      if (paths[i] && paths[j] && !strcmp(paths[i], paths[j]))
        return cli_usage_error("two outputs go to the same file '%s'; expected a file for each", paths[i]);
  snn_outset_init(&o);
  for (int i = 0; i < n; i++)
    if (paths[i] && snn_outset_add(&o, paths[i], texts[i], lens[i], &e)) {
      snn_outset_abort(&o);
      return cli_report(&e);
    }
  return snn_outset_commit(&o, &e) ? cli_report(&e) : 0;
}

double cli_mem_limit(const char *opt) {
  if (opt) { /* a decimal number, then an optional unit k, M, G or T (powers of 1024) */
    static const char units[] = "kmgt";
    size_t len = strlen(opt);
    const char *u = len ? strchr(units, tolower((unsigned char)opt[len - 1])) : NULL;
    char num[64];
    snprintf(num, sizeof num, "%.*s", (int)(len < sizeof num ? len - (u != NULL) : 0), opt);
    double v = snn_decimal_ok(num) ? strtod(num, NULL) * pow(1024.0, u ? (double)(u - units + 1) : 0.0) : 0.0;
    if (!(v > 0) || !isfinite(v)) {
      cli_usage_error("--max-memory: expected a size in bytes, or with k, M, G or T (powers of 1024), found '%s'", opt);
      return -1;
    }
    return v;
  }
  /* what the kernel says can be had without swapping, and the process's
   * own limits (ulimit -v, -d) where they are lower */
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  double kb = 0, avail;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
  if (f) fclose(f);
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  avail = kb > 0 ? kb * 1024.0 : pages > 0 && size > 0 ? (double)pages * (double)size : INFINITY;
  /* under AddressSanitizer, its hard RSS limit where one is set */
  const char *asan = getenv("ASAN_OPTIONS"), *h = asan ? strstr(asan, "hard_rss_limit_mb=") : NULL;
  if (h && atof(h + 18) > 0 && atof(h + 18) * 1048576.0 < avail) avail = atof(h + 18) * 1048576.0;
  static const int lims[] = {RLIMIT_AS, RLIMIT_DATA};
  for (int i = 0; i < 2; i++) {
    struct rlimit rl;
    if (getrlimit(lims[i], &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (double)rl.rlim_cur < avail)
      avail = (double)rl.rlim_cur;
  }
  return avail;
}

const char *cli_mem_limit_name(const char *maxmem) {
  return maxmem ? "--max-memory" : "the memory available to it";
}

int cli_check_memory(const snn_spec *s, const snn_rule *r, long prec, size_t batch, const char *maxmem) {
  double limit = cli_mem_limit(maxmem);
  if (limit < 0) return EXIT_INPUT;
  snn_mem m;
  snn_estimate(s, r, prec, batch, &m);
  snn_err e = {0};
  return snn_estimate_check(s, &m, limit, cli_mem_limit_name(maxmem), &e) ? cli_report(&e) : 0;
}
