/* cmd_check.c - `modyn check STORE|RUN_DIR...`: open each store (every
 * structural rule of store_open) and verify every shard's checksum, the
 * shards shared out over the ranks; a run directory is verified by
 * check_run.c. Also the verification `modyn run --verify` does before it
 * starts (check_stores, declared in commands.h). */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cliopt.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "core/timing.h"
#include "data/store.h"

static const CliOpt check_opts[] = {
    {"quiet", NULL, "print only the summary line of each store, not one line per shard"},
    {NULL, NULL, NULL},
};

static const CliSpec check_spec = {
    "modyn check", "STORE|RUN_DIR...",
    "Verify sample stores: open each one (schema, dataset shapes, unique keys, label\n"
    "range, timestamp order) and read every shard, comparing its contents with the\n"
    "checksum modyn recorded when it wrote the shard. Prints one line per shard and a\n"
    "summary with the throughput; names the first damaged shard. Shards written before\n"
    "modyn recorded checksums (or by other tools) are reported as having none. Under\n"
    "mpirun the ranks share the shards.\n"
    "A run directory (config.yaml, models/, triggers.csv) is checked for what\n"
    "`modyn resume` reads: config.yaml parses, data_dir and follow are well-formed, and\n"
    "every checkpoint (models/*.h5, aux/*.h5) loads with all its checksums matching\n"
    "(weights, optimizer state, metadata); names the first damaged file and what to do.\n"
    "Exit code 0 when nothing is damaged, 1 otherwise.",
    check_opts,
};

/* One store: verify the shards of this rank, then combine. Returns 0, or 1
 * with the error printed once (rank 0's table first when verbose). */
static int check_one(const Dist *d, const char *dir, int verbose, int table) {
  Store s;
  int rc = store_open(dir, &s);
  if (dist_agree_or_report(d, rc)) return 1;
  const int n = s.nshards;
  int *status = mh_calloc((size_t)n + 1, sizeof *status);
  uint64_t *sums = mh_calloc((size_t)n + 1, sizeof *sums);
  if (dist_agree_or_report(d, status && sums ? MH_OK : MH_ERR)) {
    free(status);
    free(sums);
    store_close(&s);
    return 1;
  }
  /* This rank's shards (i = rank, rank + size, ...), several at a time on
   * the rank's threads: the checksum is one serial chain per shard, so
   * threads over shards are what makes a node's cores (or a fast file
   * system) pay off. */
  char **msgs = mh_calloc((size_t)n + 1, sizeof *msgs);
  int64_t bytes = 0;
  double t0 = mh_now();
  const int mine = msgs ? (n - d->rank + d->size - 1) / d->size : 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : bytes)
  for (int k = 0; k < mine; k++) {
    const int i = d->rank + k * d->size;
    ShardCheck st;
    uint64_t stored, computed;
    int64_t b = 0;
    if (store_verify_shard(&s, i, &st, &stored, &computed, &b) != MH_OK) {
      st = SHARD_BAD;
      msgs[i] = strdup(mh_error()); /* NULL (out of memory) still counts as bad */
    }
    status[i] = (int)st;
    sums[i] = stored;
    bytes += b;
  }
  double secs = mh_now() - t0;
  char *first_msg = NULL;
  int first_bad = msgs ? INT_MAX : d->rank; /* no memory for messages: this rank fails */
  for (int i = 0; msgs && i < n && first_bad == INT_MAX; i++) {
    if (status[i] == SHARD_BAD) {
      first_bad = i;
      first_msg = msgs[i];
      msgs[i] = NULL;
    }
  }
  for (int i = 0; msgs && i < n; i++) free(msgs[i]);
  free(msgs);
  /* Each entry was filled by one rank (the others hold 0). */
  int global_bad = INT_MAX;
  int64_t total_bytes = 0;
  if (MPI_Allreduce(MPI_IN_PLACE, status, n, MPI_INT, MPI_MAX, d->comm) ||
      MPI_Allreduce(MPI_IN_PLACE, sums, n, MPI_UINT64_T, MPI_BOR, d->comm) ||
      MPI_Allreduce(&first_bad, &global_bad, 1, MPI_INT, MPI_MIN, d->comm) ||
      MPI_Allreduce(&bytes, &total_bytes, 1, MPI_INT64_T, MPI_SUM, d->comm) ||
      MPI_Allreduce(MPI_IN_PLACE, &secs, 1, MPI_DOUBLE, MPI_MAX, d->comm))
    mh_fatal("modyn check: MPI_Allreduce failed");
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; i++) counts[status[i]]++;
  const double mib = (double)total_bytes / (1 << 20);
  if (d->rank == 0 && table) {
    printf("# %s: %d shard%s, %lld samples, features %s", s.dir, n, mh_plural(n),
           (long long)s.n, feat_type_name(s.schema.type));
    for (int k = 0; k < s.schema.ndims; k++)
      printf("%s%lld", k ? "x" : " [", (long long)s.schema.dims[k]);
    printf("], %d classes, %d rank%s\n", s.schema.num_classes, d->size, mh_plural(d->size));
    printf("%-24s %12s %10s  %-16s  %s\n", "shard", "rows", "MiB", "checksum", "verdict");
    for (int i = 0; i < n; i++) {
      const StoreShard *sh = &s.shards[i];
      const char *name = strrchr(sh->path, '/') ? strrchr(sh->path, '/') + 1 : sh->path;
      char sum[20] = "-";
      if (status[i] != SHARD_NO_CHECKSUM) snprintf(sum, sizeof sum, "%016llx",
                                                   (unsigned long long)sums[i]);
      const char *verdict = status[i] == SHARD_OK          ? "ok"
                            : status[i] == SHARD_NO_CHECKSUM ? "no checksum (not verified)"
                                                             : "DAMAGED";
      double smib = (double)sh->nrows * (20 + (double)s.feat_elems *
                                                  feat_type_size(s.schema.type)) / (1 << 20);
      printf("%-24s %12lld %10.1f  %-16s  %s\n", name, (long long)sh->nrows, smib, sum, verdict);
    }
  }
  if (d->rank == 0 && verbose) {
    printf("# %s: %d shard%s verified ok", s.dir, counts[SHARD_OK], mh_plural(counts[SHARD_OK]));
    if (counts[SHARD_NO_CHECKSUM])
      printf(", %d without a checksum (written before modyn recorded checksums; not verified)",
             counts[SHARD_NO_CHECKSUM]);
    if (counts[SHARD_BAD]) printf(", %d DAMAGED", counts[SHARD_BAD]);
    printf("; %.1f MiB in %.3f s (%.0f MB/s)\n", mib, secs,
           secs > 0 ? (double)total_bytes / 1e6 / secs : 0.0);
    fflush(stdout);
  }
  rc = MH_OK;
  if (global_bad != INT_MAX && first_bad == global_bad) {
    mh_errorf("%s", first_msg ? first_msg : "out of memory");
    rc = MH_ERR;
  }
  free(first_msg);
  free(status);
  free(sums);
  store_close(&s);
  return dist_agree_or_report(d, rc);
}

int check_stores(const Dist *d, const char *const *dirs, int n, int verbose, int table) {
  for (int i = 0; i < n; i++) {
    int dup = 0;
    for (int j = 0; j < i && !dup; j++) dup = !strcmp(dirs[i], dirs[j]);
    if (!dup && check_one(d, dirs[i], verbose, table)) return 1;
  }
  return 0;
}

static int on_option(void *ctx, const char *name, const char *v) {
  (void)v;
  if (!strcmp(name, "quiet")) *(int *)ctx = 1;
  return 0;
}

int cmd_check(const Dist *d, int argc, char **argv) {
  int quiet = 0, first = 0;
  int rc = cli_parse(&check_spec, argc, argv, on_option, &quiet, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first >= argc)
    return 2 * cli_arg_error("modyn check", "expected one or more store or run directories");
  int bad = 0;
  /* Every store is checked, even after a damaged one; the exit code says
   * whether any was. */
  for (int i = first; i < argc; i++)
    bad |= check_is_run_dir(argv[i]) ? check_run_dir(d, argv[i], 1, !quiet)
                                     : check_stores(d, (const char *const *)&argv[i], 1, 1, !quiet);
  return bad ? 1 : 0;
}
