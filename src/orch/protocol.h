/* protocol.h - the commands rank 0 sends to every rank.
 *
 * A command is a fixed-size header (type + arguments, 16 int64 values)
 * broadcast from rank 0, followed by whatever payload its handler
 * broadcasts itself (keys, weights). Rank 0 issues a command with
 * proto_issue: the header goes out and rank 0 then runs the same handler
 * as every other rank (worker.c), so all ranks enter the same collectives
 * in the same order. The other ranks wait in orch_worker_loop.
 *
 * Adding a command: one CmdType value, its argument struct in the union,
 * and one handler in worker.c's table. */
#ifndef MH_ORCH_PROTOCOL_H
#define MH_ORCH_PROTOCOL_H

#include <stdint.h>

#include "orch/orch.h"

typedef enum {
  CMD_DONE = 0,  /* the replay ended: leave the worker loop */
  CMD_TRAIN,     /* train (or restore) one trigger's model, rank 0 checkpoints it */
  CMD_EVALUATE,  /* evaluate the newest model on its after_training handlers */
  CMD_PASS,      /* run a model over keys for a plug-in (model_pass.h) */
  CMD_REFRESH,   /* the training store grew: load its new shards (following) */
  CMD_NTYPES
} CmdType;

typedef struct {
  int64_t trigger;     /* trigger index */
  int64_t nkeys;       /* training-set size (keys follow unless restore) */
  int64_t first_ts;    /* first timestamp of the trigger's new data */
  int64_t last_ts;     /* last timestamp of the trigger's new data */
  int64_t index;       /* stream index of the trigger's last sample */
  int64_t new_samples; /* samples that arrived since the previous trigger */
  int64_t partition;   /* keys per broadcast partition (maximum_keys_in_memory) */
  int64_t weighted;    /* 1: per-sample weights follow each key partition */
  int64_t restore;     /* 1: a completed trigger of a resumed run: no keys follow;
                          the model is loaded from its checkpoint */
} TrainArgs;

typedef struct {
  int64_t nkeys;       /* keys follow */
  int64_t outputs;     /* PASS_* */
  int64_t which;       /* PASS_MODEL_CURRENT or a completed trigger's index */
} PassArgs;

typedef struct {
  int64_t nshards;     /* shards rank 0 holds now: every rank loads up to these */
  int64_t nsamples;    /* samples they hold, a check */
} RefreshArgs;

typedef struct {
  int64_t type;        /* CmdType */
  union {
    TrainArgs train;
    PassArgs pass;
    RefreshArgs refresh;
    int64_t raw[15];
  } a;
} CmdHeader;

/* A command as the handlers see it: the header on every rank, the payload
 * pointers on rank 0 only (the handler broadcasts what they point at). */
typedef struct {
  CmdHeader h;
  const int64_t *keys;  /* rank 0: CMD_TRAIN, CMD_PASS */
  const float *weights; /* rank 0: CMD_TRAIN when weighted */
  double select_s;      /* rank 0: CMD_TRAIN: seconds the selection took */
  PassResult *result;   /* rank 0: CMD_PASS: where the outputs go */
} Cmd;

/* Rank 0: send c's header to every rank, then run its handler here. */
int proto_issue(Orch *o, Cmd *c);
/* Other ranks: the next header from rank 0. */
int proto_receive(Orch *o, Cmd *c);
/* Every rank: the handler for c->h.type (worker.c). */
int proto_dispatch(Orch *o, Cmd *c);
/* Payload: n keys (and weights when weights_too) from rank 0, in pieces of
 * `partition`; other ranks get freshly allocated arrays (free them). */
int proto_bcast_keys(const Dist *d, int64_t n, int64_t partition, int weights_too,
                     const int64_t **keys, const float **weights, int64_t **own_keys,
                     float **own_weights);

#endif
