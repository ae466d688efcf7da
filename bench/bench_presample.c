/* bench_presample.c - rank 0's selection bookkeeping at scale: appending N
 * keys to the key state (key_state.h) and presampling a window of them with
 * Random, RandomNoReplacement, LabelBalanced and TriggerBalanced at ratio 50.
 * No peer: the original keeps these columns in PostgreSQL and presamples
 * with SQL queries (ORDER BY RANDOM() LIMIT, one per label or trigger).
 *
 *   bench_presample [--keys N] [--triggers T] [--labels L] [--rounds R]
 *                   (defaults 10000000, 10, 10, 3)
 *
 * The stream: N keys, timestamp = key, labels uniform in [0, L), T triggers
 * of N/T keys each. Every presampler samples the window of all N keys
 * (tail_triggers -1) for the last trigger. One line per case: window keys,
 * chosen keys, best and worst of R rounds in seconds, and the best rate in
 * keys of the window per second. Each round starts from a state no trigger
 * has used. The key state's memory and append rate are printed too. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/rng.h"
#include "select/key_state.h"
#include "select/presampler.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *const configs[] = {
    "{strategy: Random, ratio: 50}",
    "{strategy: RandomNoReplacement, ratio: 50}",
    "{strategy: LabelBalanced, ratio: 50}",
    "{strategy: TriggerBalanced, ratio: 50}",
};

static void usage(FILE *f) {
  fprintf(f, "usage: bench_presample [--keys N] [--triggers T] [--labels L] [--rounds R]\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"keys", required_argument, NULL, 'n'},
                                       {"triggers", required_argument, NULL, 't'},
                                       {"labels", required_argument, NULL, 'l'},
                                       {"rounds", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int64_t n = 10000000, ntrig = 10, nlab = 10, rounds = 3;
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    if (c == 'n')
      n = atoll(optarg);
    else if (c == 't')
      ntrig = atoll(optarg);
    else if (c == 'l')
      nlab = atoll(optarg);
    else if (c == 'r')
      rounds = atoll(optarg);
    else {
      usage(c == 'h' ? stdout : stderr);
      return c == 'h' ? 0 : 2;
    }
  }
  if (n < 1 || ntrig < 1 || ntrig > n || nlab < 1 || nlab > 1000000 || rounds < 1) {
    usage(stderr);
    return 2;
  }

  /* The stream, appended one trigger (one chunk) at a time. */
  int64_t per = n / ntrig;
  int64_t *keys = malloc((size_t)(per + n % ntrig) * sizeof(int64_t));
  int32_t *labels = malloc((size_t)(per + n % ntrig) * sizeof(int32_t));
  if (!keys || !labels) {
    fprintf(stderr, "bench_presample: out of memory for %lld keys\n", (long long)n);
    return 1;
  }
  Rng rng;
  rng_seed(&rng, 7);
  KeyState ks;
  double t0 = now();
  if (key_state_init(&ks, n)) goto fail;
  for (int64_t t = 0; t < ntrig; t++) {
    int64_t m = t == ntrig - 1 ? n - ks.n : per;
    for (int64_t i = 0; i < m; i++) {
      keys[i] = ks.n + i;
      labels[i] = (int32_t)rng_below(&rng, (uint64_t)nlab);
    }
    StreamChunk chunk = {keys, keys, labels, m};
    if (key_state_append(&ks, &chunk) || key_state_close_trigger(&ks, t)) goto fail;
  }
  double append_s = now() - t0;
  printf("# bench_presample: %lld keys, %lld triggers, %lld labels, best of %lld rounds\n",
         (long long)n, (long long)ntrig, (long long)nlab, (long long)rounds);
  printf("# key state: %lld bytes per key, %.1f MiB; appending took %.3f s (%.1fM keys/s)\n",
         (long long)key_state_bytes_per_key(),
         (double)(n * key_state_bytes_per_key()) / (1024.0 * 1024.0), append_s,
         (double)n / append_s * 1e-6);
  printf("%-22s %12s %12s %10s %10s %14s\n", "presampler", "window", "chosen", "best_s",
         "worst_s", "Mkeys/s(best)");

  I64Vec out = {0};
  for (size_t ci = 0; ci < sizeof configs / sizeof configs[0]; ci++) {
    CfgDoc doc;
    Presampler *p = NULL;
    if (cfg_load_string("bench.yaml", configs[ci], &doc)) goto fail;
    CfgRef root = cfg_root(&doc);
    if (presampler_create(&root, -1, &p)) goto fail;
    double best = 1e30, worst = 0;
    int64_t begin = key_state_window_begin(&ks, ntrig - 1, -1);
    for (int64_t r = 0; r < rounds; r++) {
      Rng prng;
      rng_seed(&prng, (uint64_t)(100 + r));
      PresampleCall call = {&ks, begin, ntrig - 1, -1, &prng};
      /* Every round starts from a state no trigger has used yet
       * (RandomNoReplacement records what it draws). */
      for (int64_t i = 0; i < n; i++) ks.last_used[i] = KEY_STATE_NEVER;
      memset(ks.used, 0, (size_t)n);
      double s = now();
      if (p->sample(p, &call, &out)) goto fail;
      s = now() - s;
      if (s < best) best = s;
      if (s > worst) worst = s;
    }
    printf("%-22s %12lld %12lld %10.4f %10.4f %14.1f\n", p->cfg.strategy,
           (long long)(n - begin), (long long)out.len, best, worst,
           (double)(n - begin) / best * 1e-6);
    presampler_free(p);
    cfg_doc_free(&doc);
  }
  i64vec_free(&out);
  key_state_free(&ks);
  free(keys);
  free(labels);
  return 0;
fail:
  fprintf(stderr, "bench_presample: %s\n", mh_error());
  return 1;
}
