/* batched.c - checks every evaluation_interval_data_points samples, with a
 * warmup policy (see batched.h). */
#include "trigger/batched.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int batched_init(Batched *b, const CfgRef *cfg, PluginEnv *env, void *owner,
                 int (*check)(void *owner, const BatchedCheck *c, int *fire)) {
  memset(b, 0, sizeof *b);
  b->owner = owner;
  b->check = check;
  MH_TRY(cfg_req_int(cfg, "evaluation_interval_data_points", 1, 100000000, &b->interval));
  CfgRef wi, wp;
  int64_t intervals = 0;
  if (cfg_child(cfg, "warmup_intervals", &wi) && !cfg_is_null(&wi))
    MH_TRY(cfg_as_int(&wi, 0, INT64_MAX / 2, &intervals));
  if (cfg_child(cfg, "warmup_policy", &wp) && !cfg_is_null(&wp)) {
    MH_TRY(cfg_expect_map(&wp));
    MH_TRY(trigger_create(&wp, env, &b->warmup));
    b->warmup_intervals = intervals;
  }
  b->keys = mh_malloc((size_t)b->interval * sizeof *b->keys);
  b->ts = mh_malloc((size_t)b->interval * sizeof *b->ts);
  b->labels = mh_malloc((size_t)b->interval * sizeof *b->labels);
  return b->keys && b->ts && b->labels ? MH_OK : MH_ERR;
}

void batched_free(Batched *b) {
  trigger_free(b->warmup);
  free(b->keys);
  free(b->ts);
  free(b->labels);
  memset(b, 0, sizeof *b);
}

int batched_warmup_completed(const Batched *b) { return b->delegated >= b->warmup_intervals; }

int batched_delegate(Batched *b, const StreamChunk *batch, int *fire) {
  *fire = 1;
  if (!b->warmup || batched_warmup_completed(b)) return MH_OK;
  b->delegated++;
  I64Vec f = {0};
  int rc = b->warmup->inform(b->warmup, batch, &f);
  *fire = f.len > 0;
  i64vec_free(&f);
  return rc;
}

int64_t batched_next_chunk_limit(const Batched *b) { return b->interval - b->fill; }

int batched_inform(Batched *b, const StreamChunk *c, I64Vec *fired) {
  for (int64_t i = 0; i < c->n; i++) {
    b->keys[b->fill] = c->keys[i];
    b->ts[b->fill] = c->timestamps[i];
    b->labels[b->fill] = c->labels[i];
    b->fill++;
    b->seen++;
    if (b->fill < b->interval) continue;
    BatchedCheck bc = {{b->keys, b->ts, b->labels, b->fill}, b->checks, b->seen - 1};
    int fire = 0;
    MH_TRY(b->check(b->owner, &bc, &fire));
    b->checks++;
    b->fill = 0;
    if (fire) MH_TRY(i64vec_push(fired, i));
  }
  return MH_OK;
}
