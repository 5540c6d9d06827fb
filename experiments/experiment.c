/* experiment.c - reading an experiment file (docs/training.md).
 *
 * The network is a network file (SPEC.md section 7), by path or inline; the
 * task fixes what the network file would otherwise say about the data: the
 * number of steps, the input and readout sizes, the loss and its window.
 * Those keys are written into the network before it is parsed, so that the
 * training loop runs exactly the network `grad` and `check` would. */
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/jsonget.h"
#include "experiments/train.h"

void snn_experiment_free(snn_experiment *e) {
  if (!e) return;
  free(e->config);
  free(e->net_json);
  snn_spec_free(e->spec);
  snn_task_free(&e->task);
  memset(e, 0, sizeof *e);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  snn_buf b = {0};
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk - 1, f)) > 0) {
    chunk[got] = 0;
    snn_buf_puts(&b, chunk);
  }
  fclose(f);
  if (b.oom) {
    snn_buf_free(&b);
    return NULL;
  }
  if (!b.p) b.p = calloc(1, 1);
  return b.p;
}

#define TRY(x)                     \
  do {                             \
    if ((st = (x)) != SNN_OK) goto out; \
  } while (0)

int snn_experiment_load(const char *path, const char *out_override, snn_experiment *e, snn_err *err) {
  memset(e, 0, sizeof *e);
  int st = SNN_OK;
  json_t *root = NULL, *net = NULL;
  snprintf(e->path, sizeof e->path, "%s", path);
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s", path);
  snprintf(e->dir, sizeof e->dir, "%s", dirname(tmp));
  if (!(e->config = slurp(path))) return snn_err_set(err, SNN_EIO, path, "", "cannot read the experiment file");
  json_error_t je;
  root = json_loads(e->config, JSON_REJECT_DUPLICATES, &je);
  if (!root || !json_is_object(root)) {
    char key[40];
    snprintf(key, sizeof key, "%d:%d", je.line, je.column);
    st = snn_err_set(err, SNN_EJSON, path, root ? "" : key, "%s", root ? "expected an object" : je.text);
    goto out;
  }
  static const char *const known[] = {"network", "task", "rule", "precision", "optimizer", "batch", "updates", "update",
                                      "clip", "eval", "checkpoint", "seed", "out", "description", "comment", NULL};
  TRY(snn_json_keys(root, path, "", known, "docs/training.md", err));
  double seed = 1, prec = 53;
  TRY(snn_json_num(root, path, "", "seed", 1, 0, 4294967295.0, &seed, err));
  e->seed = (unsigned long)seed;
  TRY(snn_task_parse(json_object_get(root, "task"), path, e->dir, &e->task, err));
  /* the network, with the task's sizes written in */
  json_t *nj = json_object_get(root, "network");
  char netpath[1024];
  if (json_is_string(nj)) {
    const char *np = json_string_value(nj);
    if (np[0] == '/')
      snprintf(netpath, sizeof netpath, "%s", np);
    else
      snprintf(netpath, sizeof netpath, "%s/%s", e->dir, np);
    net = json_load_file(netpath, JSON_REJECT_DUPLICATES, &je);
    if (!net) {
      st = snn_err_set(err, SNN_EIO, netpath, "", "cannot read the network file: %s", je.text);
      goto out;
    }
  } else if (json_is_object(nj)) {
    snprintf(netpath, sizeof netpath, "%s#network", path);
    net = json_deep_copy(nj);
  } else {
    st = snn_err_set(err, SNN_EKEY, path, "network", "expected a network file name or an inline network object");
    goto out;
  }
  if (!json_is_object(net)) {
    st = snn_err_set(err, SNN_EKEY, netpath, "", "expected a network object");
    goto out;
  }
  const snn_task *t = &e->task;
  json_object_set_new(net, "steps", json_integer((json_int_t)t->T));
  if (!json_object_get(net, "seed")) json_object_set_new(net, "seed", json_integer((json_int_t)e->seed));
  json_t *in = json_object_get(net, "input");
  if (!json_is_object(in)) json_object_set_new(net, "input", in = json_object());
  json_object_set_new(in, "size", json_integer((json_int_t)t->n_in));
  json_t *ro = json_object_get(net, "readout");
  if (!json_is_object(ro)) json_object_set_new(net, "readout", ro = json_object());
  json_object_set_new(ro, "size", json_integer((json_int_t)t->n_out));
  json_t *lo = json_object_get(net, "loss");
  if (!json_is_object(lo)) json_object_set_new(net, "loss", lo = json_object());
  json_object_set_new(lo, "kind", json_string(t->loss == SNN_LOSS_CE ? "ce" : "mse"));
  json_object_set_new(lo, "window", json_pack("[I, I]", (json_int_t)t->win_first, (json_int_t)t->win_last));
  json_object_del(lo, "label");
  if (!(e->net_json = json_dumps(net, JSON_COMPACT | JSON_REAL_PRECISION(17)))) {
    st = snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
    goto out;
  }
  TRY(snn_spec_parse(e->net_json, netpath, &e->spec, err));
  /* the rule */
  json_t *rj = json_object_get(root, "rule");
  if (!json_is_string(rj)) {
    st = snn_err_set(err, SNN_EKEY, path, "rule", "expected a rule such as \"bptt\" or \"eprop:feedback=random\"");
    goto out;
  }
  snprintf(e->rule_text, sizeof e->rule_text, "%s", json_string_value(rj));
  TRY(snn_rule_parse_at(e->rule_text, path, "rule", &e->rule, err));
  TRY(snn_rule_check(&e->rule, e->spec, path, "rule", err));
  int fptt = !strcmp(e->rule.name, "fptt");
  if (fptt) snn_fptt_opts_get(&e->rule, &e->fptt);

  TRY(snn_json_num(root, path, "", "precision", 53, 2, 1 << 20, &prec, err));
  e->prec = (long)prec;
  /* optimiser */
  json_t *oj = json_object_get(root, "optimizer");
  static const char *const okeys[] = {"kind", "lr", "beta1", "beta2", "eps", "momentum", NULL};
  if (oj && !json_is_object(oj)) {
    st = snn_err_set(err, SNN_EKEY, path, "optimizer", "expected an object {\"kind\": \"adam\", \"lr\": ...}");
    goto out;
  }
  if (oj) TRY(snn_json_keys(oj, path, "optimizer", okeys, "docs/training.md", err));
  const char *ok = oj ? json_string_value(json_object_get(oj, "kind")) : "adam";
  if (!ok) ok = "adam";
  if (!strcmp(ok, "sgd"))
    e->opt = SNN_OPT_SGD;
  else if (!strcmp(ok, "adam"))
    e->opt = SNN_OPT_ADAM;
  else if (!strcmp(ok, "adamax"))
    e->opt = SNN_OPT_ADAMAX;
  else {
    st = snn_err_set(err, SNN_EVALUE, path, "optimizer.kind", "expected \"sgd\", \"adam\" or \"adamax\", found \"%s\"", ok);
    goto out;
  }
  TRY(snn_json_num(oj, path, "optimizer", "lr", e->opt == SNN_OPT_SGD ? 0.01 : 0.001, 0, 1e6, &e->lr, err));
  TRY(snn_json_num(oj, path, "optimizer", "beta1", 0.9, 0, 0.999999, &e->beta1, err));
  TRY(snn_json_num(oj, path, "optimizer", "beta2", 0.999, 0, 0.999999999, &e->beta2, err));
  TRY(snn_json_num(oj, path, "optimizer", "eps", 1e-8, 0, 1, &e->eps, err));
  TRY(snn_json_num(oj, path, "optimizer", "momentum", 0, 0, 0.999999, &e->momentum, err));
  TRY(snn_json_num(root, path, "", "clip", 0, 0, 1e300, &e->clip, err));
  TRY(snn_json_size(root, path, "", "batch", 1, 1, 1 << 20, &e->batch, err));
  TRY(snn_json_size(root, path, "", "updates", 100, 1, (size_t)1 << 40, &e->updates, err));
  /* online or deferred updates */
  json_t *uj = json_object_get(root, "update");
  e->every = 0;
  if (uj) {
    static const char *const ukeys[] = {"mode", "every", NULL};
    if (!json_is_object(uj)) {
      st = snn_err_set(err, SNN_EKEY, path, "update", "expected {\"mode\": \"deferred\" | \"online\", \"every\": K}");
      goto out;
    }
    TRY(snn_json_keys(uj, path, "update", ukeys, "docs/training.md", err));
    const char *m = json_string_value(json_object_get(uj, "mode"));
    if (m && strcmp(m, "deferred") && strcmp(m, "online")) {
      st = snn_err_set(err, SNN_EVALUE, path, "update.mode", "expected \"deferred\" or \"online\", found \"%s\"", m);
      goto out;
    }
    e->online = m && !strcmp(m, "online");
    TRY(snn_json_size(uj, path, "update", "every", 1, 1, t->T, &e->every, err));
  }
  if (e->online) {
    if (!e->rule.type->online) {
      st = snn_err_set(err, SNN_EVALUE, path, "update.mode",
                       "online updates inside the sequence need a forward-in-time rule (rtrl, ostl, eprop); %s updates "
                       "once per sequence%s", e->rule.name, fptt ? " (fptt updates once per chunk by itself)" : "");
      goto out;
    }
    if (e->batch != 1) {
      st = snn_err_set(err, SNN_EVALUE, path, "batch", "online updates learn from one sequence at a time: expected 1, found %zu",
                       e->batch);
      goto out;
    }
  }
  json_t *ev = json_object_get(root, "eval");
  static const char *const ekeys[] = {"every", "samples", NULL};
  if (ev) TRY(snn_json_keys(ev, path, "eval", ekeys, "docs/training.md", err));
  TRY(snn_json_size(ev, path, "eval", "every", e->updates < 10 ? 1 : e->updates / 10, 1, (size_t)1 << 40, &e->eval_every, err));
  TRY(snn_json_size(ev, path, "eval", "samples", 32, 1, (size_t)1 << 30, &e->eval_samples, err));
  json_t *cj = json_object_get(root, "checkpoint");
  static const char *const ckeys[] = {"every", NULL};
  if (cj) TRY(snn_json_keys(cj, path, "checkpoint", ckeys, "docs/training.md", err));
  TRY(snn_json_size(cj, path, "checkpoint", "every", e->eval_every, 1, (size_t)1 << 40, &e->ckpt_every, err));
  const char *out = out_override ? out_override : json_string_value(json_object_get(root, "out"));
  if (!out) {
    st = snn_err_set(err, SNN_EKEY, path, "out", "missing; expected the output folder (or give --out DIR)");
    goto out;
  }
  snprintf(e->out, sizeof e->out, "%s", out);
out:
  json_decref(root);
  json_decref(net);
  if (st) snn_experiment_free(e);
  return st;
}
