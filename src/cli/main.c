/* main.c - the modyn binary: initialise MPI, dispatch to a subcommand. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "train/parallel.h"

/* Threads per rank: $MODYN_THREADS or $OMP_NUM_THREADS when set, else the
 * node's cores shared evenly among the ranks on that node, so that N ranks
 * on one machine do not each start a thread per core, and at most the cores
 * the rank is bound to: mpirun binds a rank to one core by default, and
 * threads beyond the binding would only share it (the run's header says
 * so, run.c). */
static void set_threads(const Dist *d) {
  if (getenv("MODYN_THREADS") || getenv("OMP_NUM_THREADS")) {
    par_init(0);
    return;
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int n = (int)(cores / (d->local_size > 0 ? d->local_size : 1));
  const int bound = par_bound_cores();
  if (bound > 0 && bound < n) n = bound;
  par_init(n > 0 ? n : 1);
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: modyn <command> [options]\n\n"
          "modyn-hpc %s: continuous retraining pipelines on MPI (a C re-creation of Modyn).\n\n"
          "commands:\n",
          MODYN_VERSION);
  for (const Command *c = mh_commands; c->name; c++) fprintf(out, "  %-10s %s\n", c->name, c->summary);
  fprintf(out, "\nRun 'modyn <command> --help' for the options of a command.\n"
               "Multi-process: mpirun -np N modyn run pipeline.yaml\n");
}

char **mh_startup_environ;

/* A copy of the environment before MPI_Init adds its runtime variables. */
static void save_environment(void) {
  size_t n = 0;
  while (environ[n]) n++;
  mh_startup_environ = calloc(n + 1, sizeof(char *));
  if (!mh_startup_environ) return;
  for (size_t i = 0; i < n; i++) mh_startup_environ[i] = strdup(environ[i]);
}

int main(int argc, char **argv) {
  save_environment();
  /* HDF5 1.10 can crash in its cleanup after a failed write (a full disk):
   * closing the file again in H5F__close_cb. That cleanup runs at exit and,
   * when HDF5 starts after MPI, from an attribute it hangs on MPI_COMM_SELF
   * that MPI_Finalize deletes. We close our handles ourselves, so skip both:
   * no atexit cleanup, and start HDF5 before MPI so that it hangs nothing
   * on MPI_COMM_SELF. */
  H5dont_atexit();
  if (H5open() < 0) {
    fprintf(stderr, "modyn: error: the HDF5 library did not start\n");
    return 1;
  }
  int provided = 0;
  /* MULTIPLE for the watchdog's heartbeat thread (core/watchdog.h), which
   * talks on a communicator of its own; the work's MPI calls stay on the
   * main thread, and prefetch threads only do I/O. With less, the watchdog
   * is off. */
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "modyn: error: MPI_Init failed\n");
    return 1;
  }
  /* Errors come back as codes (MPI_CHECK turns them into messages); the
   * top level decides to abort. */
  if (MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN) != MPI_SUCCESS) {
    fprintf(stderr, "modyn: error: MPI_Comm_set_errhandler failed\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  Dist dist;
  if (dist_init(&dist, MPI_COMM_WORLD)) mh_fatal_last();
  mh_log_init(&dist);
  mh_hdf5_quiet();
  set_threads(&dist);

  int rc = 0;
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    if (dist.rank == 0) usage(argc < 2 ? stderr : stdout);
    rc = argc < 2 ? 2 : 0;
  } else if (!strcmp(argv[1], "--version")) {
    if (dist.rank == 0) printf("modyn-hpc %s\n", MODYN_VERSION);
  } else {
    const Command *cmd = NULL;
    for (const Command *c = mh_commands; c->name; c++)
      if (!strcmp(c->name, argv[1])) cmd = c;
    if (!cmd) {
      if (dist.rank == 0) {
        fprintf(stderr, "modyn: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
      }
      rc = 2;
    } else {
      rc = cmd->fn(&dist, argc - 1, argv + 1);
    }
  }
  MPI_Finalize();
  return rc;
}
