/* cli.h - what the subcommands of the command line share: exit statuses,
 * error reporting, option parsing, loading a network and its data, and the
 * table of commands with their usage (SPEC section 8, docs/formats.md).
 * Nothing numeric happens in cli/: the numbers come from the engines, the
 * checks from gradcheck/, the tables and files from report/ and io/. */
#ifndef SNN_CLI_H
#define SNN_CLI_H

#include <stdio.h>

#include "gradcheck/gradcheck.h"
#include "io/io.h"
#include "sim/estimate.h"

/* Exit status: 0 success, 1 a check ran and failed, 2 bad input or usage,
 * 3 a comparison was refused because it could not mean anything, 130 a
 * training run stopped by SIGINT or SIGTERM (its checkpoint written). */
#define EXIT_FAIL 1
#define EXIT_INPUT 2
#define EXIT_REFUSED 3
#define EXIT_INTERRUPTED 130 /* as a shell reports a process ended by SIGINT */

/* Print the error, return the exit status it calls for. */
int cli_report(const snn_err *e);
int cli_usage_error(const char *fmt, const char *arg);
int cli_oom(void);

/* Options: "--key value" and "-o value" after the subcommand, one
 * positional argument (the network or experiment file). */
typedef struct {
  const char *net, *out, *rule, *params, *prec, *method, *step, *json, *sweep;
  const char *neurons, *steps, *layers, *model, *recurrent, *reps;
  const char *rules, *psweep, *csv, *raster, *maxmem, *synapse;
  const char *train, *updates, *threads; /* bench --train */
} cli_opts;
/* `allowed`: the options this command takes, " -o --rule ... ". */
int cli_parse_opts(int argc, char **argv, cli_opts *o, const char *allowed);

int cli_load_spec(const char *path, snn_spec **s);
int cli_load_data(const snn_spec *s, const char *params, snn_data *d);
/* The memory a command may use: --max-memory SIZE (bytes, or with a suffix
 * k, M, G, T in powers of 1024), by default what the machine has available
 * (MemAvailable).  -1 after printing an error if SIZE is not a size. */
double cli_mem_limit(const char *opt);
/* How an error names that limit: "--max-memory" or the machine's. */
const char *cli_mem_limit_name(const char *maxmem);
/* Refuse (exit 2, naming the keys) a run whose estimate exceeds the limit. */
int cli_check_memory(const snn_spec *s, const snn_rule *r, long prec, size_t batch, const char *maxmem);
/* Write every (path, text) pair, all or nothing; NULL paths are skipped. */
int cli_write_all(int n, const char *const *paths, const char *const *texts, const size_t *lens);

/* The commands. */
typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *usage; /* the synopsis lines */
  const char *help;  /* what it does and every option */
} cli_command;
extern const cli_command cli_commands[];
const cli_command *cli_command_find(const char *name);
/* `snngrad CMD --help` anywhere among the arguments. */
int cli_wants_help(int argc, char **argv);
void cli_print_help(FILE *f, const cli_command *c);

int cli_init(int argc, char **argv);
int cli_grad(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_bench(int argc, char **argv);
/* bench --train EXP.json (cmd_benchtrain.c), with bench's options parsed. */
int cli_bench_train(const cli_opts *o);
int cli_train(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_compare(int argc, char **argv);
int cli_sweep(int argc, char **argv);

#endif
