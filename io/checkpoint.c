/* checkpoint.c - see checkpoint.h. */
#include "io/checkpoint.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int snn_ckpt_init(snn_ckpt *c, size_t P) {
  memset(c, 0, sizeof *c);
  if (snn_nums_init(&c->beta_powers, 2) || snn_nums_init(&c->m, P) || snn_nums_init(&c->v, P) ||
      snn_nums_init(&c->wbar, P) || snn_nums_init(&c->lambda, P)) {
    snn_ckpt_clear(c);
    return SNN_ENOMEM;
  }
  return SNN_OK;
}

void snn_ckpt_clear(snn_ckpt *c) {
  snn_nums_clear(&c->beta_powers);
  snn_nums_clear(&c->m);
  snn_nums_clear(&c->v);
  snn_nums_clear(&c->wbar);
  snn_nums_clear(&c->lambda);
  snn_nums_clear(&c->estimate);
}

int snn_ckpt_format(const snn_spec *s, const snn_data *d, const snn_ckpt *c, snn_buf *b, const char *path,
                    snn_err *err) {
  int rc = snn_data_format(s, d, b, path, err);
  if (rc) return rc;
  const snn_nums *vs[4] = {&c->m, &c->v, &c->wbar, &c->lambda};
  static const char *const nm[4] = {"m", "v", "wbar", "lambda"};
  snn_buf_printf(b,
                 ",\n \"checkpoint\": {\"updates_done\": %zu, \"optimizer_steps\": %zu, \"rule\": \"%s\", "
                 "\"precision_bits\": %ld,\n  \"beta_powers\": ",
                 c->updates_done, c->optimizer_steps, c->rule, c->prec);
  snn_nums_put(b, &c->beta_powers, 0, 2);
  for (int k = 0; k < 4; k++) {
    snn_buf_printf(b, ",\n  \"%s\": ", nm[k]);
    snn_nums_put(b, vs[k], 0, s->P);
  }
  if (c->estimate.n) {
    snn_buf_puts(b, ",\n  \"fptt_estimate\": ");
    snn_nums_put(b, &c->estimate, 0, c->estimate.n);
  }
  snn_buf_puts(b, "}}\n");
  return b->oom ? snn_err_set(err, SNN_ENOMEM, path, "", "out of memory") : SNN_OK;
}

/* n numbers (JSON numbers or decimal strings) into a. */
static int read_state(json_t *a, snn_nums *out, size_t n) {
  if (!json_is_array(a) || json_array_size(a) != n) return -1;
  for (size_t i = 0; i < n; i++) {
    json_t *x = json_array_get(a, i);
    if (json_is_string(x)) { /* the decimal grammar the parameter reader accepts (snn_decimal_ok) */
      const char *t = json_string_value(x);
      if (!snn_decimal_ok(t) || snn_nums_set_str(out, i, t)) return -1;
      out->v[i] = strtod(t, NULL);
    } else if (json_is_number(x)) {
      out->v[i] = json_number_value(x);
    } else {
      return -1;
    }
  }
  return 0;
}

int snn_ckpt_load(const snn_spec *s, const char *path, snn_data *d, snn_ckpt *c, snn_err *err) {
  int rc = snn_data_load(s, path, d, err);
  if (rc) return rc;
  json_error_t je;
  json_t *root = json_load_file(path, 0, &je), *ck = root ? json_object_get(root, "checkpoint") : NULL;
  json_t *ud = ck ? json_object_get(ck, "updates_done") : NULL,
         *os = ck ? json_object_get(ck, "optimizer_steps") : NULL;
  json_t *rule = ck ? json_object_get(ck, "rule") : NULL, *pb = ck ? json_object_get(ck, "precision_bits") : NULL;
  if (!ck || !json_is_integer(ud) || json_integer_value(ud) < 0 || !json_is_integer(os) || json_integer_value(os) < 0 ||
      !json_is_string(rule) || !json_is_integer(pb) ||
      read_state(json_object_get(ck, "beta_powers"), &c->beta_powers, 2) ||
      read_state(json_object_get(ck, "m"), &c->m, s->P) || read_state(json_object_get(ck, "v"), &c->v, s->P) ||
      read_state(json_object_get(ck, "wbar"), &c->wbar, s->P) ||
      read_state(json_object_get(ck, "lambda"), &c->lambda, s->P) ||
      (c->estimate.n && read_state(json_object_get(ck, "fptt_estimate"), &c->estimate, c->estimate.n))) {
    rc = snn_err_set(err, SNN_EKEY, path, "checkpoint",
                     "missing or malformed (expected updates_done, optimizer_steps, rule, precision_bits, beta_powers, "
                     "m, v, wbar, lambda%s)",
                     c->estimate.n ? ", fptt_estimate" : "");
  } else {
    c->updates_done = (size_t)json_integer_value(ud);
    c->optimizer_steps = (size_t)json_integer_value(os);
    snprintf(c->rule, sizeof c->rule, "%s", json_string_value(rule));
    c->prec = (long)json_integer_value(pb);
  }
  json_decref(root);
  if (rc) snn_data_clear(d);
  return rc;
}

char *snn_manifest_text(const char *experiment, const char *config, const char *net_json, unsigned long seed,
                        const char *rule, long prec, const char *task) {
  json_error_t je;
  json_t *cfg = json_loads(config, 0, &je), *net = json_loads(net_json, 0, &je);
  json_t *m = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:s, s:o, s:o}", "format", "snngrad-manifest/1", "version",
                        SNNGRAD_VERSION, "experiment", experiment, "seed", (json_int_t)seed, "rule", rule,
                        "precision_bits", (json_int_t)prec, "task", task, "configuration", cfg ? cfg : json_null(),
                        "network", net ? net : json_null());
  char *txt = m ? json_dumps(m, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(m);
  return txt;
}

int snn_manifest_check_resume(const char *mpath, const char *config, const char *net_json, const char *exp_path,
                              snn_err *err) {
  static const char *const may_change[] = {"updates", "eval",        "checkpoint", "threads",
                                           "out",     "description", "comment",    NULL};
  FILE *f = fopen(mpath, "r");
  if (!f) return SNN_OK; /* no manifest: nothing recorded to compare with */
  fclose(f);
  json_error_t je;
  json_t *man = json_load_file(mpath, 0, &je), *now = json_loads(config, 0, &je), *net = json_loads(net_json, 0, &je);
  int rc = SNN_OK;
  json_t *was = man ? json_object_get(man, "configuration") : NULL,
         *wasnet = man ? json_object_get(man, "network") : NULL;
  if (!man || !json_is_object(was)) {
    rc = snn_err_set(err, SNN_EVALUE, mpath, "configuration",
                     "the run's manifest cannot be read, so --resume cannot check that this is its experiment");
  } else if (!now || !net) {
    rc = snn_err_set(err, SNN_ENOMEM, exp_path, "", "out of memory");
  } else {
    const char *bad = NULL;
    /* every key either file has, in a fixed order: the recorded ones, then the new ones */
    for (int pass = 0; pass < 2 && !bad; pass++) {
      const char *k;
      json_t *v;
      json_object_foreach(pass ? now : was, k, v) {
        int free_key = 0;
        for (int i = 0; may_change[i]; i++) free_key |= !strcmp(k, may_change[i]);
        if (free_key) continue;
        json_t *a = json_object_get(was, k), *b = json_object_get(now, k);
        if (!a || !b || !json_equal(a, b)) {
          bad = k;
          break;
        }
      }
    }
    if (!bad && wasnet && !json_equal(wasnet, net)) bad = "network";
    if (bad)
      rc = snn_err_set(err, SNN_EVALUE, exp_path, bad,
                       "differs from the experiment of the run being resumed (%s); --resume continues a run, so "
                       "only updates, eval, checkpoint, threads, out, description and comment may change: expected "
                       "the recorded value, or a new output folder without --resume",
                       mpath);
  }
  json_decref(man), json_decref(now), json_decref(net);
  return rc;
}

int snn_log_read(const char *path, size_t upto, snn_buf *log, snn_err *err) {
  FILE *f = fopen(path, "r");
  if (!f) return snn_err_set(err, SNN_EIO, path, "", "cannot read the log of the run to resume");
  char line[4096];
  size_t rows = 0;
  while (fgets(line, sizeof line, f)) {
    if (rows > 0 && (size_t)strtoull(line, NULL, 10) > upto) break;
    snn_buf_puts(log, line);
    rows++;
  }
  fclose(f);
  return log->oom ? snn_err_set(err, SNN_ENOMEM, path, "", "out of memory") : SNN_OK;
}
