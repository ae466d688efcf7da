/* protocol.c - see protocol.h. */
#include "orch/protocol.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

_Static_assert(sizeof(CmdHeader) == 16 * sizeof(int64_t), "a command header is 16 int64 values");

/* Ranks may wait long for the next command (rank 0 selecting, or following
 * a store that does not grow): they wait without burning a core. */
static int bcast_header(Orch *o, CmdHeader *h) {
  return dist_bcast_i64_idle(o->dist, (int64_t *)h, (int64_t)(sizeof *h / sizeof(int64_t)));
}

int proto_issue(Orch *o, Cmd *c) {
  int rc = bcast_header(o, &c->h);
  if (!rc) rc = proto_dispatch(o, c);
  if (rc) o->collective_failed = 1; /* handlers agree: it failed everywhere */
  return rc;
}

int proto_receive(Orch *o, Cmd *c) {
  memset(c, 0, sizeof *c);
  MH_TRY(bcast_header(o, &c->h));
  if (c->h.type < 0 || c->h.type >= CMD_NTYPES)
    return mh_errorf("unknown command %lld from rank 0", (long long)c->h.type);
  return MH_OK;
}

int proto_bcast_keys(const Dist *d, int64_t n, int64_t partition, int weights_too,
                     const int64_t **keys, const float **weights, int64_t **own_keys,
                     float **own_weights) {
  *own_keys = NULL;
  *own_weights = NULL;
  int rc = MH_OK;
  if (d->rank != 0) {
    *own_keys = mh_malloc((size_t)(n + 1) * sizeof(int64_t));
    *own_weights = weights_too ? mh_malloc((size_t)(n + 1) * sizeof(float)) : NULL;
    if (!*own_keys || (weights_too && !*own_weights)) rc = MH_ERR;
    *keys = *own_keys;
    *weights = *own_weights;
  }
  MH_TRY(dist_agree(d, rc));
  if (partition < 1) partition = n > 0 ? n : 1;
  for (int64_t off = 0; off < n; off += partition) {
    int64_t c = n - off < partition ? n - off : partition;
    MH_TRY(dist_bcast_i64(d, (int64_t *)*keys + off, c));
    if (weights_too) MH_TRY(dist_bcast_f32(d, (float *)*weights + off, c));
  }
  return MH_OK;
}
