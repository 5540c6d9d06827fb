/* main.c - snngrad's command line: the table of subcommands, their usage
 * and help, and the dispatch.  `snngrad help CMD` and `snngrad CMD --help`
 * print one command's help; `snngrad help` all of them. */
#include <mpfr.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "par/par.h"

static int cli_main(int argc, char **argv);

static int cli_version(int argc, char **argv) {
  if (argc > 2) return cli_usage_error("version takes no arguments, found '%s'", argv[2]);
  printf("snngrad %s (MPFR %s)\n", SNNGRAD_VERSION, mpfr_get_version());
  return 0;
}

static int cli_help(int argc, char **argv);

const cli_command cli_commands[] = {
    {"init", cli_init, "snngrad init  NET.json -o PARAMS.json",
     "Draws the parameters, the input and the target of NET.json from its seed and writes them as a parameter\n"
     "file (docs/formats.md).  The same seed gives the same bytes.\n"
     "  -o PARAMS.json      the parameter file to write\n"},
    {"grad", cli_grad, "snngrad grad  NET.json --rule RULE [--params PARAMS.json] [--precision BITS] -o GRADS.json",
     "The gradient of the loss over one sequence under RULE, parameters held fixed, written as a gradient file.\n"
     "  --rule RULE         the rule and its options, name[:key=value,...] (see RULES below)\n"
     "  --params FILE       parameters, input and target (default: drawn from the network's seed)\n"
     "  --precision BITS    53 (default) is the double path; any other number of bits in [8, 1048576], or\n"
     "                      mpfr:BITS, runs the MPFR path\n"
     "  -o GRADS.json       the gradient file to write\n"},
    {"check", cli_check,
     "snngrad check NET.json [--precision B1,B2,...] [--params PARAMS.json] [--method richardson|central]\n"
     "                       [--step H] [--json OUT.json] [--step-sweep OUT.csv]\n"
     "snngrad check NET.json --rules R1,R2,... [--precision B1,B2,...] [--params PARAMS.json] [--json OUT.json]\n"
     "                       [--csv OUT.csv] [--precision-sweep LO:HI --csv OUT.csv]",
     "Without --rules: BPTT against finite differences of the loss at each precision (docs/gradcheck.md).\n"
     "With --rules: every rule against BPTT at each precision, with a verdict (EXACT, APPROXIMATE or\n"
     "INCONCLUSIVE) compared with the rule's documented expectation (docs/verdicts.md).\n"
     "  --precision LIST    bits per precision (default 53,256; with --rules 53,128,256)\n"
     "  --params FILE       parameters, input and target (default: drawn from the network's seed)\n"
     "  --method M          richardson (default) or central differences\n"
     "  --step H            the relative step of the difference, in (0, 1) (default: from the precision)\n"
     "  --json FILE         the report as JSON (snngrad-check/1, or snngrad-verdicts/1 with --rules)\n"
     "  --step-sweep FILE   the error against the step at each precision, as CSV (the V curve)\n"
     "  --rules LIST        the rules to compare, comma-separated (default bptt,rtrl,ostl,eprop,tbptt:window=10)\n"
     "  --csv FILE          with --rules: the error and cosine per rule and precision, as CSV; with\n"
     "                      --precision-sweep: the sweep\n"
     "  --precision-sweep LO:HI  the rules' error from LO to HI bits (16 <= LO <= HI <= 65536), MPFR\n"
     "All outputs are written together or not at all.\n"},
    {"bench", cli_bench,
     "snngrad bench [NET.json] [--neurons N] [--steps T] [--layers L] [--model lif|alif|snu|...]\n"
     "                         [--recurrent yes|no] [--precision B1,...] [--reps R]\n"
     "snngrad bench --rules R1,R2,... [--neurons N1,N2,...] [--steps T1,T2,...] [--model M] [--recurrent yes|no]\n"
     "                         [--precision BITS] [--csv OUT.csv]\n"
     "snngrad bench --train EXPERIMENT.json [--updates N] [--threads N] [--csv OUT.csv]",
     "Time and memory.  Without --rules: BPTT's forward and backward time per step on NET.json or on a\n"
     "synthetic network (default 256 recurrent lif units, 1000 steps).  With --rules: each rule's time per\n"
     "step and memory against the sizes given (the complexity claims, docs/verdicts.md).  With --train: the\n"
     "experiment's training over N updates after one warm-up update, in a temporary folder that is removed\n"
     "afterwards (the experiment's \"out\" is not touched): sequences per second, ms per update (gradient,\n"
     "optimiser), one evaluation timed apart, peak memory, and the achieved GFLOP/s against this machine's\n"
     "dgemm rate measured in the same run (docs/performance.md).\n"
     "  --neurons N, --steps T, --layers L, --model M, --recurrent yes|no   the synthetic network\n"
     "  --precision LIST    bits (default 53)\n"
     "  --reps R            runs to average (double; default 5)\n"
     "  --updates N         with --train: the updates timed, in [1, 1000000] (default 5)\n"
     "  --threads N         with --train: worker threads (default: the experiment's \"threads\", else every core)\n"
     "  --csv FILE          with --rules: the table as CSV; with --train: one row of every figure\n"},
    {"run", cli_run,
     "snngrad run   NET.json [--params PARAMS.json] [--precision BITS] --csv OUT.csv [--raster RASTER.csv]",
     "One forward pass: the readout (and the target) per step as CSV, and optionally the spike raster.\n"
     "  --params FILE       parameters, input and target (default: drawn from the network's seed)\n"
     "  --precision BITS    53 (default) or MPFR bits\n"
     "  --csv FILE          step, y0.., target0.. per row\n"
     "  --raster FILE       step, unit, layer, output for every output above 1/2\n"
     "Both outputs are written together or not at all.\n"},
    {"train", cli_train,
     "snngrad train EXPERIMENT.json [--out DIR] [--resume] [--until UPDATES] [--threads N] [--quiet]\n"
     "mpirun -n R snngrad train EXPERIMENT.json ...",
     "Trains a network on a task as an experiment file says (docs/training.md, docs/tasks.md): writes\n"
     "log.csv, manifest.json, checkpoints, params.json and network.json into the output folder.\n"
     "  --out DIR           the output folder (default: the experiment's \"out\")\n"
     "  --resume            continue from DIR/checkpoint.json, bit for bit\n"
     "  --until N           stop after N updates (a checkpoint is written)\n"
     "  --threads N         worker threads (default: the experiment's \"threads\", else every core)\n"
     "  --quiet             no progress output\n"
     "The results are the same bytes for any number of threads and of MPI ranks (docs/distributed.md): each\n"
     "minibatch is summed in the experiment's fixed \"shards\", which the ranks and threads share out.\n"},
    {"sweep", cli_sweep, "snngrad sweep SWEEP.json [--out DIR] [--quiet]",
     "Runs every variant of an experiment with every seed, as a sweep file says (docs/sweep.md): each run\n"
     "trains in OUT/<variant>/seed-<s>/ from the experiment file written there; OUT gets variants.csv,\n"
     "runs.csv, status.csv, times.csv and summary.csv (per variant: mean, std, min and max over the seeds).\n"
     "Finished runs are skipped when the sweep is run again, an interrupted one resumes from its checkpoint,\n"
     "and a failed run is recorded without stopping the others (exit 1 at the end).  Under mpirun with R > 1,\n"
     "rank 0 hands the runs out to the other ranks; the outputs are the same bytes for any R.\n"
     "  --out DIR           the output folder (default: the sweep file's \"out\")\n"
     "  --quiet             no progress output\n"},
    {"explain", cli_explain,
     "snngrad explain NET.json --synapse BLOCK[row][col] [--rule R] [--params PARAMS.json] [--precision BITS]\n"
     "                         --csv OUT.csv",
     "One synapse's gradient step by step, for teaching (docs/teaching.md): per step, BPTT's term (delta, the\n"
     "postsynaptic current's dE/dI, times the presynaptic input of the step) and its running sum, beside the rule's\n"
     "own increment, its learning signal and trace, and running sum. The exact rules end at BPTT's total.\n"
     "  --synapse S         a synapse of a w_in or w_rec block: layer0.w_rec[1][2] (row = postsynaptic unit)\n"
     "  --rule R            rtrl, ostl or eprop (with options); bptt alone by default\n"
     "  --params FILE       parameters, input and target (default: drawn from the network's seed)\n"
     "  --precision BITS    53 (default) or MPFR bits\n"
     "  --csv FILE          step, bptt_delta, bptt_input, bptt_term, bptt_sum, rule_signal, rule_trace, rule_term,\n"
     "                      rule_sum\n"},
    {"export", cli_export, "snngrad export NET.json [--params PARAMS.json] --npy DIR",
     "Writes the network's parameters and data as NumPy files, for computing a gradient elsewhere\n"
     "(docs/compare.md): <block>.npy per parameter block (matrices rows x cols, vectors 1-D), input.npy\n"
     "(T x n_in), target.npy (T x n_out, mse) or label.npy (ce), network.json and export.json (the list).\n"
     "  --params FILE       parameters, input and target (default: drawn from the network's seed, as init does)\n"
     "  --npy DIR           the folder: new, empty, or one export wrote before (then replaced); all or nothing\n"},
    {"compare", cli_compare,
     "snngrad compare NET.json --grads THEIRS [--params PARAMS.json] [--rule RULE] [--precision B1,B2,...]\n"
     "                         [--json OUT.json]",
     "A gradient computed elsewhere against snngrad's, per block: the relative error, the worst element, the\n"
     "cosine and a verdict, agrees (within the rounding of their float32/float64 arithmetic) or DIFFERS\n"
     "(docs/compare.md).  Exit 0 if every block agrees, 1 if one differs.\n"
     "  --grads THEIRS      a gradient file (grad -o) or a folder with <block>.npy per trained block\n"
     "                      (float32 or float64, the shapes export writes)\n"
     "  --params FILE       parameters, input and target (default: drawn from the network's seed)\n"
     "  --rule RULE         the rule to compare with (default bptt)\n"
     "  --precision LIST    snngrad's precisions (default 53,128); the highest is the reference\n"
     "  --json FILE         the report as JSON (snngrad-compare/1)\n"},
    {"version", cli_version, "snngrad version", "Prints the version of snngrad and of MPFR.\n"},
    {"help", cli_help, "snngrad help [COMMAND]", "Prints the usage of every command, or the help of one.\n"},
    {NULL, NULL, NULL, NULL},
};

const cli_command *cli_command_find(const char *name) {
  for (const cli_command *c = cli_commands; c->name; c++)
    if (!strcmp(c->name, name)) return c;
  return NULL;
}

int cli_wants_help(int argc, char **argv) {
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
  return 0;
}

static void print_rules(FILE *f) {
  char buf[4096];
  snn_rule_usage(buf, sizeof buf);
  fputs("\nRULES (name[:key=value,...]):\n", f);
  fputs(buf, f);
}

void cli_print_help(FILE *f, const cli_command *c) {
  fprintf(f, "usage:\n  %s\n\n%s", c->usage, c->help);
  if (!strcmp(c->name, "grad") || !strcmp(c->name, "check") || !strcmp(c->name, "bench") || !strcmp(c->name, "compare"))
    print_rules(f);
  if (strcmp(c->name, "help") && strcmp(c->name, "version"))
    fputs(
        "  --max-memory SIZE   refuse, before allocating, a run estimated to need more (bytes, or with k, M, G\n"
        "                      or T); default: the memory the machine has available\n",
        f);
  fputs("\nExit status: 0 ok, 1 check failed, 2 bad input, 3 comparison refused, 130 training interrupted.\n", f);
}

static void usage(FILE *f) {
  fputs("usage:\n", f);
  for (const cli_command *c = cli_commands; c->name; c++) {
    /* every synopsis line, indented */
    for (const char *p = c->usage; *p;) {
      const char *nl = strchr(p, '\n');
      size_t n = nl ? (size_t)(nl - p) : strlen(p);
      fprintf(f, "  %.*s\n", (int)n, p);
      p += n + (nl ? 1 : 0);
    }
  }
  fputs("\n--precision 53 is the double path; any other number of bits, or mpfr:53, runs the MPFR path.\n", f);
  print_rules(f);
  fputs(
      "\n'snngrad help COMMAND' or 'snngrad COMMAND --help': one command's options.\n"
      "Exit status: 0 ok, 1 check failed, 2 bad input, 3 comparison refused.\n",
      f);
}

static int cli_help(int argc, char **argv) {
  if (argc < 3) {
    usage(stdout);
    return 0;
  }
  const cli_command *c = cli_command_find(argv[2]);
  if (!c) return cli_usage_error("help: unknown command '%s'", argv[2]);
  cli_print_help(stdout, c);
  return 0;
}

/* The commands that divide their work over MPI ranks (docs/distributed.md);
 * the others refuse to run as more than one process. */
static int distributed(const cli_command *c) {
  return !strcmp(c->name, "train") || !strcmp(c->name, "sweep") || !strcmp(c->name, "check");
}

int main(int argc, char **argv) {
  int rc;
  if (snn_par_init(&argc, &argv)) {
    fprintf(stderr, "snngrad: error: MPI could not start\n");
    return EXIT_INPUT;
  }
  rc = cli_main(argc, argv);
  snn_par_finalize();
  return rc;
}

static int cli_main(int argc, char **argv) {
  int rc;
  if (argc < 2) {
    fprintf(stderr, "snngrad: error: no command given\n");
    usage(stderr);
    return EXIT_INPUT;
  }
  const char *cmd = argv[1];
  const cli_command *c = cli_command_find(cmd);
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) c = cli_command_find("help");
  if (!c) {
    rc = cli_usage_error("unknown command '%s'", cmd);
  } else if (snn_group_size(snn_group_world()) > 1 && !distributed(c)) {
    rc = cli_usage_error("'%s' runs as one process; start it without mpirun (train, sweep and check run on several)",
                         cmd);
  } else if (c->run != cli_help && cli_wants_help(argc, argv)) {
    cli_print_help(stdout, c);
    rc = 0;
  } else {
    rc = c->run(argc, argv);
  }
  mpfr_free_cache();
  /* what could not be written to standard output is an error too */
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "snngrad: error: cannot write to standard output\n");
    if (!rc) rc = EXIT_INPUT;
  }
  return rc;
}
