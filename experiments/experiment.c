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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/train.h"
#include "io/jsonget.h"

void snn_experiment_free(snn_experiment *e) {
  if (!e) return;
  free(e->config);
  free(e->net_json);
  snn_spec_free(e->spec);
  snn_task_free(&e->task);
  memset(e, 0, sizeof *e);
}

/* The keys of an experiment file, at the top and in its sections: the
 * readers below and the sweep's override paths (experiments/sweep.c). */
static const char *const top_keys[] = {
    "network",    "task", "rule", "precision",   "optimizer", "batch",  "updates", "update", "clip", "eval",
    "checkpoint", "seed", "out",  "description", "comment",   "shards", "threads", "fptt",   NULL};
static const char *const opt_keys[] = {"kind", "lr", "beta1", "beta2", "eps", "momentum", NULL};
static const char *const update_keys[] = {"mode", "every", NULL};
static const char *const eval_keys[] = {"every", "samples", NULL};
static const char *const ckpt_keys[] = {"every", NULL};
static const char *const fptt_keys[] = {"loss", "reset_every", NULL};

const char *const *snn_experiment_keys(const char *section) {
  if (!section[0]) return top_keys;
  if (!strcmp(section, "optimizer")) return opt_keys;
  if (!strcmp(section, "update")) return update_keys;
  if (!strcmp(section, "eval")) return eval_keys;
  if (!strcmp(section, "checkpoint")) return ckpt_keys;
  if (!strcmp(section, "fptt")) return fptt_keys;
  if (!strcmp(section, "task")) return snn_task_keys;
  return NULL;
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

/* The network, by path or inline, with the task's sizes, loss and window
 * written in, parsed as a network file. */
static int load_network(json_t *root, snn_experiment *e, snn_err *err) {
  const char *path = e->path;
  json_t *nj = json_object_get(root, "network"), *net = NULL;
  json_error_t je;
  char netpath[SNN_PATH_MAX + 16];
  if (json_is_string(nj)) {
    const char *np = json_string_value(nj);
    snprintf(netpath, sizeof netpath, np[0] == '/' ? "%s%s" : "%s/%s", np[0] == '/' ? "" : e->dir, np);
    if (!(net = json_load_file(netpath, JSON_REJECT_DUPLICATES, &je)))
      return snn_err_set(err, SNN_EIO, netpath, "", "cannot read the network file: %s", je.text);
  } else if (json_is_object(nj)) {
    snprintf(netpath, sizeof netpath, "%s#network", path);
    net = json_deep_copy(nj);
  } else {
    return snn_err_set(err, SNN_EKEY, path, "network", "expected a network file name or an inline network object");
  }
  if (!json_is_object(net)) {
    json_decref(net);
    return snn_err_set(err, SNN_EKEY, netpath, "", "expected a network object");
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
  e->net_json = json_dumps(net, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(net);
  if (!e->net_json) return snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  return snn_spec_parse(e->net_json, netpath, &e->spec, err);
}

/* The rule, checked against the network, and the working precision. */
static int load_rule(json_t *root, snn_experiment *e, snn_err *err) {
  const char *path = e->path;
  json_t *rj = json_object_get(root, "rule");
  if (!json_is_string(rj))
    return snn_err_set(err, SNN_EKEY, path, "rule", "expected a rule such as \"bptt\" or \"eprop:feedback=random\"");
  snprintf(e->rule_text, sizeof e->rule_text, "%s", json_string_value(rj));
  int st = snn_rule_parse_at(e->rule_text, path, "rule", &e->rule, err);
  if (!st) st = snn_rule_check(&e->rule, e->spec, path, "rule", err);
  if (!st && !strcmp(e->rule.name, "fptt")) snn_fptt_opts_get(&e->rule, &e->fptt);
  size_t prec = 53;
  if (!st) st = snn_json_size(root, path, "", "precision", 53, 8, (size_t)1 << 20, &prec, err);
  e->prec = (long)prec;
  return st;
}

static int load_optimizer(json_t *root, snn_experiment *e, snn_err *err) {
  const char *path = e->path;
  json_t *oj = json_object_get(root, "optimizer");
  static const char *const kinds[] = {"sgd", "adam", "adamax", NULL}; /* SNN_OPT_* */
  if (oj && !json_is_object(oj))
    return snn_err_set(err, SNN_EKEY, path, "optimizer", "expected an object {\"kind\": \"adam\", \"lr\": ...}");
  int st = oj ? snn_json_keys(oj, path, "optimizer", opt_keys, "docs/training.md", err) : SNN_OK;
  if (!st) st = snn_json_enum(oj, path, "optimizer", "kind", SNN_OPT_ADAM, kinds, &e->opt, err);
  if (!st) st = snn_json_num(oj, path, "optimizer", "lr", e->opt == SNN_OPT_SGD ? 0.01 : 0.001, 0, 1e6, &e->lr, err);
  if (!st) st = snn_json_num(oj, path, "optimizer", "beta1", 0.9, 0, 0.999999, &e->beta1, err);
  if (!st) st = snn_json_num(oj, path, "optimizer", "beta2", 0.999, 0, 0.999999999, &e->beta2, err);
  if (!st) st = snn_json_num(oj, path, "optimizer", "eps", 1e-8, 0, 1, &e->eps, err);
  if (!st) st = snn_json_num(oj, path, "optimizer", "momentum", 0, 0, 0.999999, &e->momentum, err);
  if (!st) st = snn_json_num(root, path, "", "clip", 0, 0, 1e300, &e->clip, err);
  if (!st) st = snn_json_size(root, path, "", "batch", 1, 1, 1 << 20, &e->batch, err);
  if (!st) st = snn_json_size(root, path, "", "updates", 100, 1, (size_t)1 << 40, &e->updates, err);
  /* the fixed groups a minibatch is summed in (the same bytes on any number
   * of threads and ranks), and the threads */
  /* with batch_norm each shard is normalised over its own sequences: by
   * default two at least per shard */
  int bn = e->spec && snn_spec_has_bn(e->spec);
  size_t dsh = bn ? (e->batch / 2 ? e->batch / 2 : 1) : e->batch;
  if (!st) st = snn_json_size(root, path, "", "shards", dsh < 4 ? dsh : 4, 1, e->batch, &e->shards, err);
  /* batch_norm normalises each shard over its sequences: two at least */
  if (!st && bn && e->batch < 2 * e->shards)
    st = snn_err_set(err, SNN_EVALUE, path, json_object_get(root, "shards") ? "shards" : "batch",
                     "the network normalises each step over a shard's sequences (batch_norm), so every shard needs two "
                     "at least: expected batch >= 2 x shards, found batch %zu and %zu shards (shards defaults to "
                     "min(batch / 2, 4) with batch_norm)",
                     e->batch, e->shards);
  size_t th = 0;
  if (!st) st = snn_json_size(root, path, "", "threads", 0, 0, 1024, &th, err);
  e->threads = (int)th;
  return st;
}

/* FPTT's procedure beyond the rule's constants: the chunk loss and the
 * resets of W to its running average (docs/fptt.md). */
static int load_fptt(json_t *root, snn_experiment *e, snn_err *err) {
  const char *path = e->path;
  json_t *fj = json_object_get(root, "fptt");
  static const char *const losses[] = {"network", "time_weighted", NULL};
  size_t cnt = snn_task_count(&e->task, 0), epoch = cnt == SIZE_MAX ? 0 : (cnt + e->batch - 1) / e->batch;
  e->fptt_weighted = 0;
  e->fptt_reset = 0;
  if (fj && strcmp(e->rule.name, "fptt"))
    return snn_err_set(err, SNN_EKEY, path, "fptt", "belongs to the rule fptt; this experiment runs %s", e->rule.name);
  if (strcmp(e->rule.name, "fptt")) return SNN_OK;
  if (fj && !json_is_object(fj))
    return snn_err_set(err, SNN_EKEY, path, "fptt",
                       "expected {\"loss\": \"network\" | \"time_weighted\", \"reset_every\": UPDATES}");
  int st = fj ? snn_json_keys(fj, path, "fptt", fptt_keys, "docs/fptt.md", err) : SNN_OK;
  if (!st) st = snn_json_enum(fj, path, "fptt", "loss", 0, losses, &e->fptt_weighted, err);
  if (!st) st = snn_json_size(fj, path, "fptt", "reset_every", epoch, 0, (size_t)1 << 40, &e->fptt_reset, err);
  if (!st && e->fptt_weighted && e->spec->loss != SNN_LOSS_CE)
    st = snn_err_set(err, SNN_EVALUE, path, "fptt.loss",
                     "time_weighted is for classification with a terminal label (loss ce); this task's loss is mse");
  if (!st && e->fptt_weighted && e->spec->n_out < 2)
    st = snn_err_set(err, SNN_EVALUE, path, "fptt.loss", "time_weighted needs at least 2 classes");
  return st;
}

/* Online (inside the sequence, forward-in-time rules) or deferred updates. */
static int load_update(json_t *root, snn_experiment *e, snn_err *err) {
  const char *path = e->path;
  json_t *uj = json_object_get(root, "update");
  static const char *const modes[] = {"deferred", "online", NULL};
  e->every = 0;
  if (!uj) return SNN_OK;
  if (!json_is_object(uj))
    return snn_err_set(err, SNN_EKEY, path, "update", "expected {\"mode\": \"deferred\" | \"online\", \"every\": K}");
  int st = snn_json_keys(uj, path, "update", update_keys, "docs/training.md", err);
  if (!st) st = snn_json_enum(uj, path, "update", "mode", 0, modes, &e->online, err);
  if (!st) st = snn_json_size(uj, path, "update", "every", 1, 1, e->task.T, &e->every, err);
  if (st || !e->online) return st;
  if (!e->rule.type->online)
    return snn_err_set(err, SNN_EVALUE, path, "update.mode",
                       "online updates inside the sequence need a forward-in-time rule (rtrl, ostl, eprop); %s updates "
                       "once per sequence%s",
                       e->rule.name, !strcmp(e->rule.name, "fptt") ? " (fptt updates once per chunk by itself)" : "");
  if (e->batch != 1)
    return snn_err_set(err, SNN_EVALUE, path, "batch",
                       "online updates learn from one sequence at a time: expected 1, found %zu", e->batch);
  return SNN_OK;
}

/* Evaluation, checkpoints and the output folder. */
static int load_schedule(json_t *root, const char *out_override, snn_experiment *e, snn_err *err) {
  const char *path = e->path;
  json_t *ev = json_object_get(root, "eval"), *cj = json_object_get(root, "checkpoint");
  if (ev && !json_is_object(ev))
    return snn_err_set(err, SNN_EKEY, path, "eval", "expected {\"every\": N, \"samples\": M}");
  if (cj && !json_is_object(cj)) return snn_err_set(err, SNN_EKEY, path, "checkpoint", "expected {\"every\": N}");
  int st = ev ? snn_json_keys(ev, path, "eval", eval_keys, "docs/training.md", err) : SNN_OK;
  size_t ev_def = e->updates < 10 ? 1 : e->updates / 10;
  if (!st) st = snn_json_size(ev, path, "eval", "every", ev_def, 1, (size_t)1 << 40, &e->eval_every, err);
  if (!st) st = snn_json_size(ev, path, "eval", "samples", 32, 1, (size_t)1 << 30, &e->eval_samples, err);
  if (!st && cj) st = snn_json_keys(cj, path, "checkpoint", ckpt_keys, "docs/training.md", err);
  if (!st) st = snn_json_size(cj, path, "checkpoint", "every", e->eval_every, 1, (size_t)1 << 40, &e->ckpt_every, err);
  if (st) return st;
  const char *out = out_override ? out_override : json_string_value(json_object_get(root, "out"));
  if (!out) return snn_err_set(err, SNN_EKEY, path, "out", "missing; expected the output folder (or give --out DIR)");
  if (!out[0] || strlen(out) >= sizeof e->out - 32)
    return snn_err_set(err, SNN_EVALUE, path, "out", "expected a folder name of 1 to %zu characters",
                       sizeof e->out - 33);
  snprintf(e->out, sizeof e->out, "%s", out);
  return SNN_OK;
}

int snn_experiment_load(const char *path, const char *out_override, snn_experiment *e, snn_err *err) {
  memset(e, 0, sizeof *e);
  if (strlen(path) >= sizeof e->path) return snn_err_set(err, SNN_EIO, "", "", "the experiment's path is too long");
  snprintf(e->path, sizeof e->path, "%s", path);
  char tmp[SNN_PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  snprintf(e->dir, sizeof e->dir, "%s", dirname(tmp));
  if (!(e->config = slurp(path))) return snn_err_set(err, SNN_EIO, path, "", "cannot read the experiment file");
  json_error_t je;
  json_t *root = json_loads(e->config, JSON_REJECT_DUPLICATES, &je);
  int st = SNN_OK;
  if (!root || !json_is_object(root)) {
    char key[40];
    snprintf(key, sizeof key, "%d:%d", je.line, je.column);
    st = snn_err_set(err, SNN_EJSON, path, root ? "" : key, "%s", root ? "expected an object" : je.text);
  }
  size_t seed = 1;
  if (!st) st = snn_json_keys(root, path, "", top_keys, "docs/training.md", err);
  if (!st) st = snn_json_size(root, path, "", "seed", 1, 0, 4294967295u, &seed, err);
  e->seed = (unsigned long)seed;
  if (!st) st = snn_task_parse(json_object_get(root, "task"), path, e->dir, &e->task, err);
  if (!st) st = load_network(root, e, err);
  if (!st) st = load_rule(root, e, err);
  if (!st) st = load_optimizer(root, e, err);
  if (!st) st = load_update(root, e, err);
  if (!st) st = load_fptt(root, e, err);
  if (!st) st = load_schedule(root, out_override, e, err);
  json_decref(root);
  if (st) snn_experiment_free(e);
  return st;
}
