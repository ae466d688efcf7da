/* fuzz_ingest.h - what the CSV and IDX ingest harnesses check alike: a
 * failed ingest says why and leaves no store behind; a store it wrote opens
 * with the rows and shards it reported; nothing of HDF5 stays open. */
#ifndef MH_FUZZ_INGEST_H
#define MH_FUZZ_INGEST_H

#include "fuzz_util.h"

#include "core/error.h"
#include "data/ingest.h"
#include "data/store.h"

/* Run ingest `format` into out_dir. 0: it failed (checked); 1: the store
 * is open in *s (the caller checks its contents, then store_close). */
static inline int fz_ingest(const char *format, IngestOptions *o, const char *out_dir,
                            IngestResult *res, Store *s) {
  memset(s, 0, sizeof *s);
  if (ingest_run(format, o, res) != MH_OK) {
    fz_note("rejected", mh_error());
    FZ_ASSERT(mh_error()[0] != '\0', "ingest failed without a message");
    FZ_ASSERT(access(out_dir, F_OK) != 0, "a failed ingest left %s behind", out_dir);
    return 0;
  }
  FZ_ASSERT(store_open(out_dir, s) == MH_OK, "the ingested store does not open: %s", mh_error());
  FZ_ASSERT(s->n == res->samples, "store has %lld rows, ingest wrote %lld", (long long)s->n,
            (long long)res->samples);
  FZ_ASSERT(s->nshards == res->shards, "store has %d shards, ingest wrote %d", s->nshards,
            res->shards);
  return 1;
}

/* After an input: the store gone, no HDF5 object open, no error left. */
static inline void fz_ingest_done(const char *out_dir) {
  fz_rm_tree(out_dir);
  FZ_ASSERT(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0, "HDF5 objects left open");
  mh_error_clear();
}

#endif
