/* cmd_explain.c - `snngrad explain`: one synapse's gradient step by step,
 * BPTT's terms beside a forward rule's (docs/teaching.md). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/report.h"

/* "layer0.w_rec[1][2]": the block and the row and column. */
static int parse_synapse(const snn_spec *s, const char *text, size_t *blk, size_t *row, size_t *col) {
  const char *br = strchr(text, '[');
  char name[64];
  if (!br || (size_t)(br - text) >= sizeof name)
    return cli_usage_error("--synapse: expected BLOCK[row][col], e.g. layer0.w_in[2][0], found '%s'", text);
  memcpy(name, text, (size_t)(br - text));
  name[br - text] = 0;
  int b = snn_spec_find_block(s, name);
  if (b < 0) return cli_usage_error("--synapse: the network has no block named in '%s' (see its parameter file)", text);
  unsigned long r, c;
  int used = 0;
  if (sscanf(br, "[%lu][%lu]%n", &r, &c, &used) != 2 || br[used])
    return cli_usage_error("--synapse: expected BLOCK[row][col], e.g. layer0.w_in[2][0], found '%s'", text);
  if (r >= s->blk[b].rows || c >= s->blk[b].cols) {
    char msg[200];
    snprintf(msg, sizeof msg, "--synapse: %%s is outside %s, which is %zu x %zu", s->blk[b].name, s->blk[b].rows,
             s->blk[b].cols);
    return cli_usage_error(msg, text);
  }
  *blk = (size_t)b, *row = r, *col = c;
  return 0;
}

int cli_explain(int argc, char **argv) {
  cli_opts o;
  int rc = cli_parse_opts(argc, argv, &o, " --rule --synapse --params --precision --csv ");
  if (rc) return rc;
  if (!o.net || !o.synapse || !o.csv)
    return cli_usage_error("%s", "explain needs NET.json, --synapse BLOCK[row][col] and --csv OUT.csv");
  snn_prec p = {&snn_engine_double, 53};
  if (o.prec && snn_prec_parse(o.prec, &p))
    return cli_usage_error("--precision: expected a number of bits in [8, 1048576] or mpfr:BITS, found '%s'", o.prec);
  snn_err e = {0};
  snn_rule rule;
  if (snn_rule_parse(o.rule ? o.rule : "bptt", &rule, &e)) return cli_report(&e);
  snn_spec *s;
  if ((rc = cli_load_spec(o.net, &s))) return rc;
  size_t blk = 0, row = 0, col = 0;
  snn_data d;
  if ((rc = parse_synapse(s, o.synapse, &blk, &row, &col)) || (rc = cli_check_memory(s, &rule, p.bits, 1, o.maxmem)) ||
      (rc = cli_load_data(s, o.params, &d))) {
    snn_spec_free(s);
    return rc;
  }
  snn_explain x;
  snn_buf b = {0};
  if (snn_explain_init(&x, s->T)) {
    rc = cli_oom();
  } else if (p.eng->explain(s, &d, p.bits, &rule, blk, row, col, &x, &e)) {
    rc = cli_report(&e);
  } else if (snn_report_explain_csv(&x, &b) || snn_write_atomic(o.csv, b.p, b.len, &e)) {
    rc = b.oom ? cli_oom() : cli_report(&e);
  } else {
    snn_report_explain(stdout, &x, o.synapse, rule.name);
    printf("wrote %s\n", o.csv);
  }
  snn_buf_free(&b);
  snn_explain_clear(&x);
  snn_data_clear(&d);
  snn_spec_free(s);
  return rc;
}
