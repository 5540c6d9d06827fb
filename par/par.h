/* par.h - parallel execution: a pool of threads inside one process, and a
 * group of processes (MPI ranks, or the process alone when snngrad is built
 * without MPI or started without mpirun).  docs/distributed.md.
 *
 * Nothing here is numeric: the callers decide what is computed where and in
 * which order things are added, so that the results are the same bytes for
 * any number of threads and ranks (see experiments/train.c: shards). */
#ifndef SNN_PAR_H
#define SNN_PAR_H

#include <stddef.h>

/* ---- threads ---- */

typedef struct snn_pool snn_pool;
/* A pool of `threads` workers: the caller is worker 0, threads-1 threads are
 * started.  NULL when out of memory or threads cannot start. */
snn_pool *snn_pool_new(int threads);
void snn_pool_free(snn_pool *p);
int snn_pool_size(const snn_pool *p);
/* Runs fn(ctx, worker, job) for job = 0..njobs-1 and returns when all are
 * done.  Job j runs on worker j % size, in increasing j on each worker, so
 * a worker's own state (a network, a precision context) is only ever used
 * by one thread.  A NULL pool runs every job on the caller. */
void snn_pool_run(snn_pool *p, void (*fn)(void *ctx, int worker, size_t job), void *ctx, size_t njobs);
/* The number of cores this process may use (sched_getaffinity), >= 1. */
int snn_cores(void);

/* ---- processes ---- */

typedef struct snn_group snn_group;
/* Start and end the process layer (MPI_Init_thread / MPI_Finalize when built
 * with MPI; nothing otherwise).  Every program that may run under mpirun
 * calls these from main. */
int snn_par_init(int *argc, char ***argv);
void snn_par_finalize(void);
/* Whether this build has MPI. */
int snn_par_has_mpi(void);
/* All processes of the job, and this process alone. */
const snn_group *snn_group_world(void);
const snn_group *snn_group_self(void);
int snn_group_rank(const snn_group *g);
int snn_group_size(const snn_group *g);
/* Every rank's `n` bytes, concatenated in rank order into `all` on every
 * rank; counts[r] is rank r's n.  0 on success. */
int snn_group_allgatherv(const snn_group *g, const void *mine, size_t n, void *all, const size_t *counts);
/* n bytes from rank root to every rank. */
int snn_group_bcast(const snn_group *g, void *buf, size_t n, int root);
/* The largest of every rank's v (status agreement: a failure anywhere is
 * seen everywhere). */
int snn_group_max(const snn_group *g, int v);
/* One long to rank dest with tag, and from any rank (its rank in *src). */
int snn_group_send(const snn_group *g, int dest, int tag, long v);
int snn_group_recv(const snn_group *g, int *src, int tag, long *v);
/* Ends the whole job (every rank) with this exit code. */
void snn_group_abort(const snn_group *g, int code);

/* The share of `total` items of rank (or worker) r of R: items [*lo, *hi),
 * contiguous, sizes differing by at most one. */
void snn_share(size_t total, int r, int R, size_t *lo, size_t *hi);

#endif
