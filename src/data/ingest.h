/* ingest.h - converting external datasets into a sample store (store.h).
 *
 * Each input format is a plug-in: an IngestFormat {name, summary, options,
 * run} in its own file (ingest_idx.c, ingest_csv.c) plus one line in the
 * registry table ingest_formats[] (ingest.c). `modyn ingest` (cli/cmd_ingest.c)
 * builds its option table from the common options and every format's
 * options, so a new format needs no edit to the command.
 *
 * Options reach a format as IngestOptions: the common ones as typed fields,
 * its own as (long name, value) pairs read with ingest_get*. Formats write
 * through an IngestSink, which splits rows into shards of --shard-size rows
 * and numbers keys from --key-start.
 *
 * Does not: download, decompress, shuffle, or run under several ranks (the
 * command runs ingest on rank 0 only). */
#ifndef MH_INGEST_H
#define MH_INGEST_H

#include <stdint.h>

#include "core/progress.h"
#include "data/store.h"

#define INGEST_MAX_ARGS 32

typedef struct {
  const char *name;  /* long option name without dashes, e.g. "images" */
  const char *value; /* its value; "" for a flag */
} IngestArg;

typedef struct {
  const char *out;        /* store directory (--out), required */
  int64_t key_start;      /* --key-start: key of the first row written */
  int has_key_start;      /* 0: key_start 0, or max existing key + 1 when appending */
  int64_t shard_size;     /* --shard-size: rows per shard file (default 100000) */
  int num_classes;        /* --num-classes; 0 = from the data (max label + 1) */
  int append;             /* --append: add shards to an existing store */
  int nargs;
  IngestArg args[INGEST_MAX_ARGS]; /* the format's own options */
} IngestOptions;

typedef struct {
  int64_t samples;  /* rows written */
  int shards;       /* shard files written */
  int num_classes;  /* class count of the store */
  int64_t first_key;
  /* Where the sink stages the shards until ingest_run publishes them. */
  char staging[1100]; /* OUT/.ingest.tmp ("" before ingest_sink_open) */
  int first_shard;    /* number the first staged shard takes in OUT */
} IngestResult;

/* One option of a format (cmd_ingest turns these into its CLI table). */
typedef struct {
  const char *name; /* long name without dashes */
  const char *arg;  /* metavar, or NULL for a flag */
  const char *help; /* one line, with the default; the format name is added */
} IngestOpt;

typedef struct IngestFormat {
  const char *name;    /* value of --format */
  const char *summary; /* one line for --help */
  const IngestOpt *opts; /* its options, terminated by {NULL} */
  int (*run)(const IngestOptions *o, IngestResult *res);
} IngestFormat;

/* The registry: every format, terminated by NULL. */
extern const IngestFormat *const ingest_formats[];
const IngestFormat *ingest_find(const char *name);

void ingest_options_init(IngestOptions *o);
/* Set a format option (replaces an earlier value of the same name). */
int ingest_set(IngestOptions *o, const char *name, const char *value);
/* A format option's value, or NULL when not given. */
const char *ingest_get(const IngestOptions *o, const char *name);
/* An integer format option; def when not given. Errors name the option. */
int ingest_get_i64(const IngestOptions *o, const char *name, int64_t def, int64_t *out);

/* Check the options against the format (required --out, options that belong
 * to another format) and run it. All or nothing: the shards are written to
 * OUT/.ingest.tmp/ and renamed into OUT only when the whole input has been
 * converted; on any error they are removed (and OUT too, when this call
 * created it and nothing else is in it), so a failed ingest leaves the
 * store as it was. Leftovers of a killed ingest (OUT/.ingest.tmp) are
 * removed by the next ingest into OUT. One ingest at a time per store. */
int ingest_run(const char *format, const IngestOptions *o, IngestResult *res);

/* Writing rows: open once with the schema, write any number of rows (in
 * timestamp order across calls), close. */
typedef struct {
  StoreWriter w;      /* the target store: schema, numbering, largest key */
  StoreWriter stage;  /* writes go here (OUT/.ingest.tmp) until ingest_run publishes */
  int64_t shard_size;
  int64_t next_key;
  IngestResult *res;
  int64_t expected;   /* rows the format will write (0: unknown), for the progress line */
  Progress progress;  /* "ingest: N/M samples", shard by shard */
} IngestSink;

int ingest_sink_open(IngestSink *k, const IngestOptions *o, const StoreSchema *schema,
                     IngestResult *res);
/* n rows; features are n * feat_elems elements of the schema's type. Keys
 * are assigned consecutively. Splits into shards of at most shard_size rows
 * (each call starts a new shard, so stream in blocks of shard_size). */
int ingest_sink_write(IngestSink *k, int64_t n, const int64_t *timestamps, const int32_t *labels,
                      const void *features);

#endif
