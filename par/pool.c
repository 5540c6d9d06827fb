/* pool.c - the thread pool of par.h: persistent workers woken per run. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "par/par.h"

struct snn_pool {
  int size;
  pthread_t *th;
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  unsigned long gen; /* runs started */
  int pending;       /* workers still busy with the current run */
  int quit;
  void (*fn)(void *, int, size_t);
  void *ctx;
  size_t njobs;
};

typedef struct {
  snn_pool *p;
  int id;
} worker_arg;

static void run_share(snn_pool *p, int id) {
  for (size_t j = (size_t)id; j < p->njobs; j += (size_t)p->size) p->fn(p->ctx, id, j);
}

static void *worker(void *arg) {
  worker_arg *a = arg;
  snn_pool *p = a->p;
  int id = a->id;
  free(a);
  unsigned long seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (p->gen == seen && !p->quit) pthread_cond_wait(&p->go, &p->mu);
    if (p->quit) break;
    seen = p->gen;
    pthread_mutex_unlock(&p->mu);
    run_share(p, id);
    pthread_mutex_lock(&p->mu);
    if (--p->pending == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

snn_pool *snn_pool_new(int threads) {
  if (threads < 1) threads = 1;
  snn_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->size = 1;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->go, NULL);
  pthread_cond_init(&p->done, NULL);
  p->th = calloc((size_t)threads, sizeof *p->th);
  if (!p->th) {
    snn_pool_free(p);
    return NULL;
  }
  for (int i = 1; i < threads; i++) {
    worker_arg *a = malloc(sizeof *a);
    if (!a) break;
    a->p = p, a->id = i;
    if (pthread_create(&p->th[i], NULL, worker, a)) {
      free(a);
      break;
    }
    p->size++;
  }
  if (p->size != threads) {
    snn_pool_free(p);
    return NULL;
  }
  return p;
}

void snn_pool_free(snn_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->size; i++) pthread_join(p->th[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->go);
  pthread_cond_destroy(&p->done);
  free(p->th);
  free(p);
}

int snn_pool_size(const snn_pool *p) {
  return p ? p->size : 1;
}

void snn_pool_run(snn_pool *p, void (*fn)(void *ctx, int worker, size_t job), void *ctx, size_t njobs) {
  if (!p || p->size == 1) {
    for (size_t j = 0; j < njobs; j++) fn(ctx, 0, j);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn, p->ctx = ctx, p->njobs = njobs;
  p->pending = p->size - 1;
  p->gen++;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  run_share(p, 0);
  pthread_mutex_lock(&p->mu);
  while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

int snn_cores(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return 1;
}

void snn_share(size_t total, int r, int R, size_t *lo, size_t *hi) {
  *lo = total * (size_t)r / (size_t)R;
  *hi = total * (size_t)(r + 1) / (size_t)R;
}
