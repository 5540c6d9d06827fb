/* rule.h - the learning rules as const type objects, in the manner of GSL's
 * gsl_rng_type: one snn_rule_type per rule holds its name, its options (with
 * their ranges, so that every option string is checked before anything
 * runs), the conditions a network must meet, its documented expectation on a
 * network (EXACT or APPROXIMATE against BPTT, and why) and its entry points
 * in the two precisions.  `grad`, `check`, `train`, `bench` and the usage
 * text all read the one table, snn_rules (sim/rules/types.c).
 * Precision-neutral. */
#ifndef SNN_RULE_H
#define SNN_RULE_H

#include <stddef.h>

#include "sim/snn.h"

struct snn_rule_type;

/* A rule as written: name[:key=value,...] (docs/formats.md), resolved to
 * its type and checked against the type's options by snn_rule_parse. */
#define SNN_RULE_MAXOPT 8
typedef struct {
  char name[32];
  const struct snn_rule_type *type;
  int nopt;
  char key[SNN_RULE_MAXOPT][32];
  char val[SNN_RULE_MAXOPT][64];
} snn_rule;

/* One option of a rule: an integer or a real number in [lo, hi] (ends open
 * where asked), or one of the words in `choices` ("auto|diagonal|full"). */
enum snn_rule_opt_kind { SNN_ROPT_INT, SNN_ROPT_REAL, SNN_ROPT_CHOICE };
typedef struct {
  const char *key;
  int kind;
  double lo, hi;
  int lo_open, hi_open;
  const char *choices;
  const char *def; /* the value when the option is absent, as text */
  const char *doc; /* one line for the usage text */
} snn_rule_optdef;

/* The entry points of one precision (defined in the rule's file). */
struct snn_rule_impl_d;
struct snn_rule_impl_mp;

#define SNN_RULE_MAXOPTS 6
typedef struct snn_rule_type {
  const char *name;
  const char *summary; /* one line: what the rule is and where it comes from */
  const char *page;    /* its page in docs/ */
  const char *form;    /* how it is written, where the options alone do not say it (NULL: from the options) */
  int nopts;
  snn_rule_optdef opts[SNN_RULE_MAXOPTS];
  /* the rule carries its gradient forward in time, so that training can
   * update the parameters inside a sequence (update.mode "online") */
  int online;
  /* Conditions on the network (e-prop: one layer; fptt: chunks <= steps),
   * checked before anything runs; NULL: none.  Messages use file and key. */
  int (*check)(const snn_rule *r, const snn_spec *s, const char *file, const char *key, snn_err *err);
  /* 1 if the rule is documented to equal BPTT on this network, 0 if not;
   * `why` gets the one-line reason. */
  int (*expect)(const snn_rule *r, const snn_spec *s, char *why, size_t n);
  const struct snn_rule_impl_d *impl_d;
  const struct snn_rule_impl_mp *impl_mp;
} snn_rule_type;

/* Every rule, NULL-terminated. */
extern const snn_rule_type *const snn_rules[];
const snn_rule_type *snn_rule_type_find(const char *name);
/* The rules with their options, "bptt, tbptt:window=W[,blocks=L], ...", for
 * messages and the usage text. */
void snn_rule_list(char *buf, size_t n);
/* The usage text of every rule: one paragraph each, its options with their
 * values and defaults. */
void snn_rule_usage(char *buf, size_t n);

/* Parse and check a rule written as text; errors name `file` (may be "")
 * and `key` ("--rule" on the command line, "rule" in an experiment). */
int snn_rule_parse_at(const char *text, const char *file, const char *key, snn_rule *r, snn_err *err);
int snn_rule_parse(const char *text, snn_rule *r, snn_err *err); /* file "", key "--rule" */
/* The rule's conditions on a network (none for most rules). */
int snn_rule_check(const snn_rule *r, const snn_spec *s, const char *file, const char *key, snn_err *err);
/* An option's value as written, or its default; as a number. */
const char *snn_rule_opt(const snn_rule *r, const char *key);
double snn_rule_opt_num(const snn_rule *r, const char *key);
/* The documented expectation (see snn_rule_type.expect); -1 if none. */
int snn_rule_expectation(const snn_spec *s, const snn_rule *r, char *why, size_t n);

/* FPTT's constants: chunks K, alpha, beta, and the regulariser's rho and
 * c (the reference code's _lambda); defaults 1, 0.1, 0.5, 0, 1. */
typedef struct {
  size_t chunks;
  double alpha, beta, rho, c;
} snn_fptt_opts;
void snn_fptt_opts_get(const snn_rule *r, snn_fptt_opts *o);

#endif
