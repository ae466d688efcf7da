/* cmd_ingest.c - `modyn ingest --format FMT ... --out DIR`: convert a
 * dataset into a sample store. The option table is the common options plus
 * every registered format's own (data/ingest.h), so --help always lists what
 * the parser accepts. Under mpirun only rank 0 works; the others wait for
 * its verdict. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cliopt.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "data/ingest.h"

static const CliOpt common_opts[] = {
    {"format", "FMT", "input format (required; see the list above)"},
    {"out", "DIR", "store directory to write (required; created if missing)"},
    {"key-start", "K", "key of the first sample (default 0; with --append, after the largest key)"},
    {"shard-size", "N", "samples per shard file (default 100000)"},
    {"num-classes", "K", "number of classes (default: largest label + 1)"},
    {"append", NULL, "add shards to an existing store with the same schema"},
    {NULL, NULL, NULL},
};

#define MAX_OPTS 96

typedef struct {
  CliOpt opts[MAX_OPTS];
  char help[MAX_OPTS][256];
  char summary[2048];
  CliSpec spec;
} IngestCli;

typedef struct {
  IngestOptions o;
  const char *format;
} IngestCmd;


/* Common options, then each format's (an option shared by several formats
 * appears once, tagged with all of them). */
static void build_cli(IngestCli *c) {
  memset(c, 0, sizeof *c);
  int n = 0;
  for (const CliOpt *op = common_opts; op->name; op++) c->opts[n++] = *op;
  for (int f = 0; ingest_formats[f]; f++) {
    for (const IngestOpt *op = ingest_formats[f]->opts; op->name && n < MAX_OPTS - 1; op++) {
      int dup = -1;
      for (int i = 0; i < n && dup < 0; i++)
        if (!strcmp(c->opts[i].name, op->name)) dup = i;
      if (dup >= 0) {
        /* "[csv] help" -> "[csv,bin] help" */
        char *h = c->help[dup], tmp[256];
        char *close = strchr(h, ']');
        if (h[0] == '[' && close) {
          snprintf(tmp, sizeof tmp, "%.*s,%s%s", (int)(close - h), h, ingest_formats[f]->name,
                   close);
          memcpy(h, tmp, sizeof tmp);
        }
        continue;
      }
      snprintf(c->help[n], sizeof c->help[n], "[%s] %s", ingest_formats[f]->name, op->help);
      c->opts[n] = (CliOpt){op->name, op->arg, c->help[n]};
      n++;
    }
  }
  c->opts[n] = (CliOpt){NULL, NULL, NULL};
  size_t len = (size_t)snprintf(c->summary, sizeof c->summary,
                                "Convert a dataset into a sample store (a directory of HDF5 "
                                "shards; layout in the README).\nOptions tagged [fmt] belong "
                                "to that --format. Formats:");
  for (int f = 0; ingest_formats[f] && len < sizeof c->summary; f++)
    len += (size_t)snprintf(c->summary + len, sizeof c->summary - len, "\n  %-6s %s",
                            ingest_formats[f]->name, ingest_formats[f]->summary);
  c->spec = (CliSpec){"modyn ingest", "", c->summary, c->opts};
}

static int on_option(void *ctx, const char *name, const char *v) {
  IngestCmd *a = ctx;
  int64_t x;
  if (!strcmp(name, "format")) {
    a->format = v;
  } else if (!strcmp(name, "out")) {
    a->o.out = v;
  } else if (!strcmp(name, "key-start")) {
    if (cli_parse_i64("modyn ingest", name, v, &a->o.key_start)) return 1;
    a->o.has_key_start = 1;
  } else if (!strcmp(name, "shard-size")) {
    if (cli_parse_i64("modyn ingest", name, v, &x)) return 1;
    if (x < 1) return cli_arg_error("modyn ingest", "--shard-size must be >= 1, got %lld", (long long)x);
    a->o.shard_size = x;
  } else if (!strcmp(name, "num-classes")) {
    if (cli_parse_i64("modyn ingest", name, v, &x)) return 1;
    if (x < 1 || x > 2147483647LL) return cli_arg_error("modyn ingest", "--num-classes must be >= 1, got %lld", (long long)x);
    a->o.num_classes = (int)x;
  } else if (!strcmp(name, "append")) {
    a->o.append = 1;
  } else if (ingest_set(&a->o, name, v) != MH_OK) {
    return cli_arg_error("modyn ingest", "%s", mh_error());
  }
  return 0;
}

int cmd_ingest(const Dist *d, int argc, char **argv) {
  IngestCli *cli = mh_malloc(sizeof *cli);
  if (!cli) mh_fatal_last();
  build_cli(cli);
  IngestCmd a;
  memset(&a, 0, sizeof a);
  ingest_options_init(&a.o);
  int first = 0, rc = 0;
  int prc = cli_parse(&cli->spec, argc, argv, on_option, &a, &first);
  if (prc == CLI_HELP) rc = -1;
  else if (prc != CLI_OK) rc = 2;
  else if (first < argc) rc = 2 * cli_arg_error("modyn ingest", "unexpected argument %s", argv[first]);
  else if (!a.format) rc = 2 * cli_arg_error("modyn ingest", "--format is required");
  else if (!ingest_find(a.format)) rc = 2 * cli_arg_error("modyn ingest", "unknown --format %s", a.format);
  else if (!a.o.out) rc = 2 * cli_arg_error("modyn ingest", "--out DIR is required");
  if (rc) {
    free(cli);
    return rc < 0 ? 0 : rc;
  }

  /* Rank 0 converts; every rank returns its verdict (the broadcast is also
   * the barrier the other ranks wait at). */
  if (d->rank == 0) {
    IngestResult res;
    if (ingest_run(a.format, &a.o, &res) != MH_OK) {
      mh_print_error(stderr, mh_error());
      rc = 1;
    } else {
      LOG0("wrote %s: %lld samples in %d shard%s (keys %lld..%lld, %d classes)\n", a.o.out,
           (long long)res.samples, res.shards, res.shards == 1 ? "" : "s", (long long)res.first_key,
           (long long)(res.first_key + res.samples - 1), res.num_classes);
    }
  }
  free(cli);
  if (dist_bcast(d, &rc, 1, MPI_INT)) mh_fatal_last();
  return rc;
}
