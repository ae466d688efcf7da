/* stream.h - a chunk of the sample stream as the orchestrator replays it:
 * samples in timestamp order (ties broken by key), as parallel arrays. */
#ifndef MH_STREAM_H
#define MH_STREAM_H

#include <stdint.h>

typedef struct {
  const int64_t *keys;       /* [n] */
  const int64_t *timestamps; /* [n], nondecreasing */
  const int32_t *labels;     /* [n] */
  int64_t n;
} StreamChunk;

#endif
