/* commands.h - the subcommands of the modyn binary. Each takes argv with
 * argv[0] = the subcommand name, runs with MPI already initialised (by
 * main.c) with the job's rank context, and returns the process exit code. Fatal errors inside a
 * collective phase end the job with mh_fatal (MPI_Abort). */
#ifndef MH_COMMANDS_H
#define MH_COMMANDS_H

#include "core/dist.h"

int cmd_run(const Dist *d, int argc, char **argv);
int cmd_resume(const Dist *d, int argc, char **argv);
int cmd_validate(const Dist *d, int argc, char **argv);
int cmd_synth(const Dist *d, int argc, char **argv);
int cmd_ingest(const Dist *d, int argc, char **argv);
int cmd_eval(const Dist *d, int argc, char **argv);
int cmd_report(const Dist *d, int argc, char **argv);
int cmd_sweep(const Dist *d, int argc, char **argv);
int cmd_check(const Dist *d, int argc, char **argv);

/* Collective: open every store in dirs (a directory named twice is checked
 * once) and verify its shards' checksums, the shards shared out over the
 * ranks. verbose: rank 0 prints a summary line per store (table: and one
 * line per shard). Returns 0, or 1 after the first failing store with its
 * error printed once (the first damaged shard named). */
int check_stores(const Dist *d, const char *const *dirs, int n, int verbose, int table);
/* 1 when dir is a run directory (config.yaml, models/ or triggers.csv). */
int check_is_run_dir(const char *dir);
/* Collective: verify a run directory as `modyn check RUN_DIR` does (rank 0
 * reads; check_run.c). 0, or 1 with the first damaged file named. */
int check_run_dir(const Dist *d, const char *dir, int verbose, int table);

/* The environment as the process started, before MPI_Init added its
 * runtime variables (an MPI singleton's PMIX_*, OMPI_MCA_ess, ...): what a
 * command hands to programs that start MPI jobs themselves (sbatch). */
extern char **mh_startup_environ;

typedef struct {
  const char *name;
  int (*fn)(const Dist *d, int argc, char **argv);
  const char *summary;
} Command;

/* The command table (commands.c); terminated by {NULL}. */
extern const Command mh_commands[];

#endif
