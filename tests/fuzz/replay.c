/* replay.c - runs saved inputs through a fuzz target, without a fuzzer:
 *
 *     fuzz_replay [-v] TARGET PATH...
 *
 * Each PATH is a file or a folder (its files, in name order, not recursing;
 * names that start with '.' are skipped).  The name of each input is printed
 * before it runs, so a crash names the input that caused it; with -v the
 * target also says whether its reader accepted the input.  This is how the
 * default test suite replays the corpus and every regression input. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/targets.h"

static int run_file(const snn_fuzz_target *t, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "fuzz_replay: cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, n = 0, got;
  uint8_t *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *p = realloc(buf, cap *= 2);
      if (!p) free(buf);
      buf = p;
    }
  }
  int bad = ferror(f) || !buf;
  fclose(f);
  if (bad) {
    fprintf(stderr, "fuzz_replay: cannot read %s\n", path);
    free(buf);
    return -1;
  }
  printf("%s %s (%zu bytes)\n", t->name, path, n);
  fflush(stdout);
  t->run(buf, n);
  free(buf);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const snn_fuzz_target *t, const char *path, size_t *count) {
  struct stat st;
  if (stat(path, &st)) {
    fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) return run_file(t, path) ? -1 : (++*count, 0);
  DIR *d = opendir(path);
  if (!d) {
    fprintf(stderr, "fuzz_replay: cannot list %s: %s\n", path, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      char **p = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
      if (!p) abort();
      names = p;
    }
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    if (!(names[n] = malloc(len))) abort();
    snprintf(names[n++], len, "%s/%s", path, e->d_name);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, by_name);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (!stat(names[i], &st) && S_ISREG(st.st_mode)) bad |= run_file(t, names[i]) ? 1 : (++*count, 0);
    free(names[i]);
  }
  free(names);
  return bad ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "-v")) snn_fuzz_verbose = 1, argc--, argv++;
  const snn_fuzz_target *t = NULL;
  for (const snn_fuzz_target *q = snn_fuzz_targets; argc > 1 && q->name; q++)
    if (!strcmp(q->name, argv[1])) t = q;
  if (argc < 3 || !t) {
    fprintf(stderr, "usage: fuzz_replay [-v] TARGET PATH...\ntargets:");
    for (const snn_fuzz_target *q = snn_fuzz_targets; q->name; q++) fprintf(stderr, " %s", q->name);
    fprintf(stderr, "\n");
    return 2;
  }
  size_t count = 0;
  int bad = 0;
  for (int i = 2; i < argc; i++) bad |= run_path(t, argv[i], &count) != 0;
  printf("%s: %zu inputs replayed\n", t->name, count);
  return bad ? 1 : 0;
}
