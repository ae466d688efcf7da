/* cmd_synth.c - `modyn synth --out DIR [options]`: write the seeded,
 * drifting synthetic dataset of data/synth.h as DIR/train and DIR/test.
 * Under mpirun only rank 0 writes; the others wait for its verdict. */
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cliopt.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "data/synth.h"

static const CliOpt synth_opts[] = {
    {"out", "DIR", "output directory: writes DIR/train and DIR/test (required)"},
    {"seed", "N", "random seed (default 42)"},
    {"classes", "K", "number of classes (default 4)"},
    {"features", "D", "features per sample (default 16)"},
    {"image", "C,H,W", "store each sample as a C x H x W image (sets --features to C*H*W), e.g. 3,32,32 for YearbookNet"},
    {"years", "Y", "years of data (default 20)"},
    {"train-per-year", "N", "training samples per year (default 500)"},
    {"test-per-year", "N", "held-out test samples per year (default 200)"},
    {"radius", "R", "distance of the class means from the origin (default 3.0)"},
    {"drift", "RAD", "rotation of the class means in radians per year (default 0.3)"},
    {"noise", "SIGMA", "standard deviation of the per-feature noise (default 1.0)"},
    {"years-per-shard", "N", "years per shard file (default 5)"},
    {"start", "T", "timestamp of the start of year 0, in seconds (default 0)"},
    {NULL, NULL, NULL},
};

static const CliSpec synth_spec = {
    "modyn synth", "",
    "Write a seeded, drifting K-class dataset as two sample stores, DIR/train and\n"
    "DIR/test (a held-out split drawn at the same times). Class means rotate by\n"
    "--drift radians per year, so a model trained on early years goes stale.\n"
    "The generator is documented in the README (Data section); same options, same bytes.",
    synth_opts,
};

typedef struct {
  SynthParams p;
  const char *out;
} SynthArgs;


static int parse_int(const char *name, const char *v, int *out) {
  int64_t x;
  if (cli_parse_i64("modyn synth", name, v, &x)) return 1;
  if (x < -2147483647LL || x > 2147483647LL)
    return cli_arg_error("modyn synth", "--%s is out of range, got \"%s\"", name, v);
  *out = (int)x;
  return 0;
}

static int parse_f64(const char *name, const char *v, double *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || *end || !isfinite(x))
    return cli_arg_error("modyn synth", "--%s expects a number, got \"%s\"", name, v);
  *out = x;
  return 0;
}

static int on_option(void *ctx, const char *name, const char *v) {
  SynthArgs *a = ctx;
  SynthParams *p = &a->p;
  int64_t x;
  if (!strcmp(name, "out")) {
    a->out = v;
    return 0;
  }
  if (!strcmp(name, "seed")) {
    if (cli_parse_i64("modyn synth", name, v, &x)) return 1;
    p->seed = (uint64_t)x;
    return 0;
  }
  if (!strcmp(name, "classes")) return parse_int(name, v, &p->classes);
  if (!strcmp(name, "features")) return parse_int(name, v, &p->features);
  if (!strcmp(name, "image")) {
    int c = 0, h = 0, w = 0;
    char extra;
    if (sscanf(v, "%d,%d,%d%c", &c, &h, &w, &extra) != 3 || c < 1 || h < 1 || w < 1)
      return cli_arg_error("modyn synth", "--image expects C,H,W with positive integers, got \"%s\"", v);
    const int64_t n = (int64_t)c * h * w; /* no int overflow: each is below 2^31 */
    if (n > 1000000)
      return cli_arg_error("modyn synth",
                           "--image %s has %lld values per sample; at most 1000000 (as --features)",
                           v, (long long)n);
    p->image[0] = c;
    p->image[1] = h;
    p->image[2] = w;
    p->features = (int)n;
    return 0;
  }
  if (!strcmp(name, "years")) return parse_int(name, v, &p->years);
  if (!strcmp(name, "train-per-year")) return cli_parse_i64("modyn synth", name, v, &p->train_per_year);
  if (!strcmp(name, "test-per-year")) return cli_parse_i64("modyn synth", name, v, &p->test_per_year);
  if (!strcmp(name, "radius")) return parse_f64(name, v, &p->radius);
  if (!strcmp(name, "drift")) return parse_f64(name, v, &p->drift);
  if (!strcmp(name, "noise")) return parse_f64(name, v, &p->noise);
  if (!strcmp(name, "years-per-shard")) return parse_int(name, v, &p->years_per_shard);
  if (!strcmp(name, "start")) return cli_parse_i64("modyn synth", name, v, &p->start);
  return cli_arg_error("modyn synth", "unhandled option --%s", name);
}

int cmd_synth(const Dist *d, int argc, char **argv) {
  SynthArgs a;
  memset(&a, 0, sizeof a);
  synth_defaults(&a.p);
  int first = 0;
  int prc = cli_parse(&synth_spec, argc, argv, on_option, &a, &first);
  if (prc == CLI_HELP) return 0;
  if (prc != CLI_OK) return 2;
  if (first < argc) return cli_arg_error("modyn synth", "unexpected argument %s", argv[first]);
  if (!a.out || !a.out[0]) return cli_arg_error("modyn synth", "--out DIR is required");
  if (synth_check(&a.p) != MH_OK) {
    if (d->rank == 0) fprintf(stderr, "modyn synth: %s\n", mh_error());
    return 2;
  }

  /* Rank 0 writes; every rank returns rank 0's verdict (the broadcast is
   * also the barrier the other ranks wait at). */
  int rc = 0;
  if (d->rank == 0) {
    SynthStoreInfo info[2];
    if (synth_generate(&a.p, a.out, info) != MH_OK) {
      mh_print_error(stderr, mh_error());
      rc = 1;
    } else {
      for (int s = 0; s < 2; s++)
        LOG0("wrote %s: %lld samples in %d shard%s\n", info[s].dir, (long long)info[s].samples,
             info[s].shards, info[s].shards == 1 ? "" : "s");
    }
  }
  if (dist_bcast(d, &rc, 1, MPI_INT)) mh_fatal_last();
  return rc;
}
