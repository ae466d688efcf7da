/* ingest.c - see ingest.h: the format registry, option access, and the sink
 * that turns rows into shards. */
#include "data/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"

extern const IngestFormat ingest_format_idx; /* ingest_idx.c */
extern const IngestFormat ingest_format_csv; /* ingest_csv.c */

/* The registry: adding a format is one file plus one line here. */
const IngestFormat *const ingest_formats[] = {
    &ingest_format_idx,
    &ingest_format_csv,
    NULL,
};

const IngestFormat *ingest_find(const char *name) {
  for (int i = 0; ingest_formats[i]; i++)
    if (!strcmp(ingest_formats[i]->name, name)) return ingest_formats[i];
  return NULL;
}

void ingest_options_init(IngestOptions *o) {
  memset(o, 0, sizeof *o);
  o->shard_size = 100000;
}

int ingest_set(IngestOptions *o, const char *name, const char *value) {
  for (int i = 0; i < o->nargs; i++) {
    if (!strcmp(o->args[i].name, name)) {
      o->args[i].value = value ? value : "";
      return MH_OK;
    }
  }
  if (o->nargs == INGEST_MAX_ARGS) return mh_errorf("too many ingest options (at most %d)", INGEST_MAX_ARGS);
  o->args[o->nargs].name = name;
  o->args[o->nargs].value = value ? value : "";
  o->nargs++;
  return MH_OK;
}

const char *ingest_get(const IngestOptions *o, const char *name) {
  for (int i = 0; i < o->nargs; i++)
    if (!strcmp(o->args[i].name, name)) return o->args[i].value;
  return NULL;
}

int ingest_get_i64(const IngestOptions *o, const char *name, int64_t def, int64_t *out) {
  const char *v = ingest_get(o, name);
  if (!v) {
    *out = def;
    return MH_OK;
  }
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end) return mh_errorf("--%s expects an integer, got \"%s\"", name, v);
  *out = x;
  return MH_OK;
}

static int format_has(const IngestFormat *f, const char *name) {
  for (const IngestOpt *op = f->opts; op->name; op++)
    if (!strcmp(op->name, name)) return 1;
  return 0;
}

/* Remove OUT/.ingest.tmp and what is in it (only shard files and their
 * temporaries are ever written there). */
static void remove_staging(const char *staging) {
  DIR *d = opendir(staging);
  if (!d) return;
  struct dirent *e;
  char p[1400];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", staging, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(staging);
}

/* After the format ran: on success rename the staged shards into the
 * store, in order, and make the renames durable; on failure drop them. */
static int publish(const char *out, IngestResult *res, int rc) {
  for (int i = 0; !rc && i < res->shards; i++) {
    char from[1400], to[1400];
    snprintf(from, sizeof from, "%s/shard_%05d.h5", res->staging, i);
    snprintf(to, sizeof to, "%s/shard_%05d.h5", out, res->first_shard + i);
    if (rename(from, to) != 0) {
      rc = mh_errorf("cannot rename %s to %s: %s", from, to, strerror(errno));
      /* Take back the ones already published: all or nothing. */
      for (int j = i - 1; j >= 0; j--) {
        snprintf(to, sizeof to, "%s/shard_%05d.h5", out, res->first_shard + j);
        unlink(to);
      }
    }
  }
  remove_staging(res->staging);
  if (!rc) mh_fsync_path(out, 1); /* best effort, as for single shards */
  if (rc) {
    res->samples = 0;
    res->shards = 0;
  }
  res->staging[0] = '\0';
  return rc;
}

int ingest_run(const char *format, const IngestOptions *o, IngestResult *res) {
  memset(res, 0, sizeof *res);
  const IngestFormat *f = format ? ingest_find(format) : NULL;
  if (!f) {
    char names[256] = "";
    for (int i = 0; ingest_formats[i]; i++)
      snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
               ingest_formats[i]->name);
    if (!format) return mh_errorf("--format is required (one of: %s)", names);
    return mh_errorf("unknown --format %s (one of: %s)", format, names);
  }
  if (!o->out || !o->out[0]) return mh_errorf("--out DIR is required");
  if (o->shard_size < 1)
    return mh_errorf("--shard-size must be >= 1, got %lld", (long long)o->shard_size);
  if (o->num_classes < 0) return mh_errorf("--num-classes must be >= 1, got %d", o->num_classes);
  for (int i = 0; i < o->nargs; i++) {
    if (format_has(f, o->args[i].name)) continue;
    const char *owner = NULL;
    for (int j = 0; ingest_formats[j] && !owner; j++)
      if (format_has(ingest_formats[j], o->args[i].name)) owner = ingest_formats[j]->name;
    if (owner)
      return mh_errorf("--%s is an option of --format %s, not %s", o->args[i].name, owner,
                       f->name);
    return mh_errorf("--%s is not an option of --format %s", o->args[i].name, f->name);
  }
  struct stat st;
  int existed = stat(o->out, &st) == 0;
  int rc = f->run(o, res);
  if (res->staging[0]) rc = publish(o->out, res, rc);
  if (rc && !existed) {
    /* The store did not exist: leave nothing behind (rmdir keeps a
     * directory someone else put files into). */
    char p[1100];
    snprintf(p, sizeof p, "%s/labels.txt", o->out);
    unlink(p);
    rmdir(o->out);
  }
  return rc;
}

int ingest_sink_open(IngestSink *k, const IngestOptions *o, const StoreSchema *schema,
                     IngestResult *res) {
  memset(k, 0, sizeof *k);
  k->shard_size = o->shard_size;
  k->res = res;
  k->next_key = o->key_start;
  if (store_writer_open(o->out, schema, o->append, &k->w) != MH_OK) {
    if (!o->append && strstr(mh_error(), "already holds a store")) {
      char msg[2048];
      snprintf(msg, sizeof msg, "%s", mh_error());
      mh_errorf("%s, or add to it with --append", msg);
    }
    return MH_ERR;
  }
  /* Stage the shards in OUT/.ingest.tmp, numbered from 0; leftovers of an
   * ingest that was killed are removed first. */
  char staging[1100];
  if ((size_t)snprintf(staging, sizeof staging, "%s/.ingest.tmp", k->w.dir) >= sizeof staging)
    return mh_errorf("store path %s is too long", k->w.dir);
  remove_staging(staging);
  MH_TRY(store_writer_open(staging, schema, 0, &k->stage));
  snprintf(res->staging, sizeof res->staging, "%s", staging);
  res->first_shard = k->w.next_shard;
  /* Continue after the largest key already in the store. */
  if (o->append && !o->has_key_start && k->w.max_key != INT64_MIN) k->next_key = k->w.max_key + 1;
  res->num_classes = schema->num_classes;
  res->first_key = k->next_key;
  return MH_OK;
}

int ingest_sink_write(IngestSink *k, int64_t n, const int64_t *timestamps, const int32_t *labels,
                      const void *features) {
  const StoreSchema *sc = &k->w.schema;
  int64_t elems = 1;
  for (int i = 0; i < sc->ndims; i++) elems *= sc->dims[i];
  const size_t row_bytes = (size_t)elems * (size_t)feat_type_size(sc->type);
  if (n > 0 && k->next_key > INT64_MAX - (n - 1))
    return mh_errorf("the keys from %lld on would pass the largest key (%lld) within %lld "
                     "samples; choose a smaller --key-start",
                     (long long)k->next_key, (long long)INT64_MAX, (long long)n);
  int64_t cap = n < k->shard_size ? n : k->shard_size;
  int64_t *keys = mh_malloc((size_t)cap * sizeof *keys);
  if (!keys) return MH_ERR;
  int rc = MH_OK;
  for (int64_t r0 = 0; r0 < n && !rc; r0 += cap) {
    int64_t len = n - r0 < cap ? n - r0 : cap;
    for (int64_t i = 0; i < len; i++) keys[i] = k->next_key + i;
    rc = store_write_shard(&k->stage, len, keys, timestamps + r0, labels + r0,
                           (const unsigned char *)features + (size_t)r0 * row_bytes);
    if (!rc) {
      k->next_key += len;
      k->res->samples += len;
      k->res->shards++;
      if (!k->progress.t0) progress_begin(&k->progress, "ingest", "samples", k->expected);
      progress_update(&k->progress, k->res->samples);
    }
  }
  free(keys);
  if (k->expected > 0 && k->res->samples >= k->expected) progress_end(&k->progress);
  return rc;
}
