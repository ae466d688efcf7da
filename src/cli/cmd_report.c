/* cmd_report.c - `modyn report RUN_DIR [RUN_DIR...] --out DIR`: an HTML
 * page with SVG figures and CSV tables of runs (report/report.h). Rank 0
 * writes; under mpirun the other ranks only wait for the verdict. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "cli/cliopt.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "report/report.h"

static const CliOpt report_opts[] = {
    {"out", "DIR", "where index.html and the CSV files go (required; created if missing)"},
    {NULL, NULL, NULL},
};

static const CliSpec report_spec = {
    "modyn report", "RUN_DIR [RUN_DIR...]",
    "Write one self-contained HTML page (DIR/index.html, inline SVG figures) and the same\n"
    "numbers as CSV for one or more run directories: per run the evaluation matrix heatmap,\n"
    "the composite metric over time with trigger times, samples trained and time per stage\n"
    "per trigger; across runs a table and scatter plots of triggers and samples trained vs\n"
    "the pipeline score.",
    report_opts};

static int on_opt(void *ctx, const char *name, const char *value) {
  if (!strcmp(name, "out")) *(const char **)ctx = value;
  return 0;
}

int cmd_report(int argc, char **argv) {
  const char *out = NULL;
  int first = 0;
  int rc = cli_parse(&report_spec, argc, argv, on_opt, &out, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first >= argc || !out) {
    if (mh_log_rank == 0)
      fprintf(stderr, "modyn report: %s\nrun 'modyn report --help' for the options\n",
              !out ? "--out DIR is required" : "expected at least one run directory");
    return 2;
  }
  int ok = 1;
  if (mh_log_rank == 0) {
    ok = report_write((const char *const *)(argv + first), argc - first, out) == MH_OK;
    if (!ok) fprintf(stderr, "modyn: error: %s\n", mh_error());
    else printf("wrote %s/index.html (%d run%s) and CSV tables\n", out, argc - first,
                argc - first == 1 ? "" : "s");
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return ok ? 0 : 1;
}
