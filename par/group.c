/* group.c - the process group of par.h: MPI when built with it (SNN_HAVE_MPI)
 * and started by mpirun or srun; a group of one process otherwise. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "par/par.h"

#ifdef SNN_HAVE_MPI
#include <mpi.h>
#endif

struct snn_group {
  int world; /* 1: every process of the job; 0: this one alone */
};

static const snn_group world_g = {1}, self_g = {0};
#ifdef SNN_HAVE_MPI
static int started; /* this module called MPI_Init_thread */
#endif

int snn_par_has_mpi(void) {
#ifdef SNN_HAVE_MPI
  return 1;
#else
  return 0;
#endif
}

#ifdef SNN_HAVE_MPI
/* Started by a launcher (mpirun, srun): a program run on its own does not
 * initialise MPI at all, so that it starts as fast as without MPI and stays
 * clean under valgrind. */
static int launched(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}
#endif

int snn_par_init(int *argc, char ***argv) {
#ifdef SNN_HAVE_MPI
  if (!launched()) return 0;
  int have = 0;
  MPI_Initialized(&have);
  if (!have) {
    int prov = 0;
    /* the threads of a rank never call MPI: FUNNELED is enough */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &prov) != MPI_SUCCESS) return -1;
    started = 1;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
#else
  (void)argc, (void)argv;
#endif
  return 0;
}

void snn_par_finalize(void) {
#ifdef SNN_HAVE_MPI
  int fin = 0;
  MPI_Finalized(&fin);
  if (started && !fin) MPI_Finalize();
  started = 0;
#endif
}

const snn_group *snn_group_world(void) {
  return &world_g;
}

const snn_group *snn_group_self(void) {
  return &self_g;
}

#ifdef SNN_HAVE_MPI
/* MPI is in use: the program initialised it and the group is the world. */
static int mpi_on(const snn_group *g) {
  if (!g || !g->world || !started) return 0;
  return 1;
}
#endif

int snn_group_rank(const snn_group *g) {
#ifdef SNN_HAVE_MPI
  if (mpi_on(g)) {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
  }
#else
  (void)g;
#endif
  return 0;
}

int snn_group_size(const snn_group *g) {
#ifdef SNN_HAVE_MPI
  if (mpi_on(g)) {
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
  }
#else
  (void)g;
#endif
  return 1;
}

int snn_group_allgatherv(const snn_group *g, const void *mine, size_t n, void *all, const size_t *counts) {
#ifdef SNN_HAVE_MPI
  if (mpi_on(g)) {
    int R = snn_group_size(g);
    int *cnt = malloc((size_t)R * sizeof *cnt), *dsp = malloc((size_t)R * sizeof *dsp);
    size_t off = 0;
    int bad = !cnt || !dsp;
    for (int r = 0; !bad && r < R; r++) {
      if (counts[r] > INT_MAX || off > INT_MAX) bad = 1;
      cnt[r] = (int)counts[r], dsp[r] = (int)off;
      off += counts[r];
    }
    int rc =
        bad ? -1
            : (MPI_Allgatherv(mine, (int)n, MPI_BYTE, all, cnt, dsp, MPI_BYTE, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1);
    free(cnt), free(dsp);
    return rc;
  }
#else
  (void)g, (void)counts;
#endif
  if (n && all != mine) memcpy(all, mine, n);
  return 0;
}

int snn_group_bcast(const snn_group *g, void *buf, size_t n, int root) {
#ifdef SNN_HAVE_MPI
  if (mpi_on(g)) {
    unsigned char *p = buf;
    while (n > 0) { /* in pieces an int can count */
      size_t k = n > (size_t)INT_MAX ? (size_t)INT_MAX : n;
      if (MPI_Bcast(p, (int)k, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
      p += k, n -= k;
    }
    return 0;
  }
#else
  (void)g, (void)buf, (void)n, (void)root;
#endif
  return 0;
}

int snn_group_max(const snn_group *g, int v) {
#ifdef SNN_HAVE_MPI
  if (mpi_on(g)) {
    int out = v;
    if (MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS) return v ? v : -1;
    return out;
  }
#else
  (void)g;
#endif
  return v;
}

int snn_group_send(const snn_group *g, int dest, int tag, long v) {
#ifdef SNN_HAVE_MPI
  if (mpi_on(g)) return MPI_Send(&v, 1, MPI_LONG, dest, tag, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
#else
  (void)g, (void)dest, (void)tag, (void)v;
#endif
  return -1;
}

int snn_group_recv(const snn_group *g, int *src, int tag, long *v) {
#ifdef SNN_HAVE_MPI
  if (mpi_on(g)) {
    MPI_Status st;
    if (MPI_Recv(v, 1, MPI_LONG, MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &st) != MPI_SUCCESS) return -1;
    *src = st.MPI_SOURCE;
    return 0;
  }
#else
  (void)g, (void)src, (void)tag, (void)v;
#endif
  return -1;
}

void snn_group_abort(const snn_group *g, int code) {
#ifdef SNN_HAVE_MPI
  if (mpi_on(g) && snn_group_size(g) > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
  (void)g;
#endif
  exit(code);
}
