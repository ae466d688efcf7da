/* ingest_csv.c - the "csv" ingest format: one sample per row, a label
 * column, a timestamp column (unix seconds or a strptime date format, UTC)
 * and numeric feature columns (float32 [N, F]).
 *
 * Parsing follows RFC 4180: fields are separated by one delimiter character,
 * a field may be double-quoted (then it may hold the delimiter, newlines and
 * "" for a quote), lines end in \n or \r\n, blank lines are skipped. The
 * whole file is read into memory; rows are stably sorted by timestamp before
 * they are written, and keys follow that order. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "data/ingest.h"

static const IngestOpt csv_opts[] = {
    {"input", "FILE", "the CSV file"},
    {"label-column", "COL", "label column: a header name, or a 0-based index with --no-header"},
    {"timestamp-column", "COL", "timestamp column (name or index, like --label-column)"},
    {"timestamp-format", "FMT", "strptime format of the timestamps, UTC, e.g. %Y-%m-%d "
                                "(default: integer unix seconds)"},
    {"feature-columns", "A,B,..", "feature columns (default: all but label and timestamp)"},
    {"delimiter", "C", "field delimiter, one character or 'tab' (default ,)"},
    {"no-header", NULL, "the first line is data; columns are 0-based indices"},
    {"label-map", "auto", "labels are strings: map them to ids in sorted order, write DIR/labels.txt"},
    {NULL, NULL, NULL},
};

/* ------------------------------------------------------------------------ */
/* The record reader                                                        */
/* ------------------------------------------------------------------------ */

typedef struct {
  const char *path;
  const char *buf; /* whole file */
  size_t len, pos;
  int line;     /* line number of buf[pos] */
  char delim;
  char *text;   /* fields of the current record, NUL-terminated, back to back */
  size_t tlen, tcap;
  size_t *off;  /* [nf] start of each field in text */
  int nf, fcap;
  int rec_line; /* line where the current record starts */
} Csv;

static int put_char(Csv *c, char ch) {
  if (c->tlen == c->tcap) {
    size_t cap = c->tcap ? 2 * c->tcap : 256;
    char *t = mh_realloc(c->text, cap);
    if (!t) return MH_ERR;
    c->text = t;
    c->tcap = cap;
  }
  c->text[c->tlen++] = ch;
  return MH_OK;
}

static int start_field(Csv *c) {
  if (c->nf == c->fcap) {
    int cap = c->fcap ? 2 * c->fcap : 16;
    size_t *o = mh_realloc(c->off, (size_t)cap * sizeof *o);
    if (!o) return MH_ERR;
    c->off = o;
    c->fcap = cap;
  }
  c->off[c->nf++] = c->tlen;
  return MH_OK;
}

static const char *csv_field(const Csv *c, int i) { return c->text + c->off[i]; }

/* A NUL byte would cut a field short without a word: say where it is. */
static int nul_error(const Csv *c) {
  return mh_errorf("%s:%d: column %d holds a NUL byte (a binary or damaged file?)", c->path,
                   c->line, c->nf);
}

/* Read the next record. Returns 1, 0 at the end of the input, or MH_ERR. */
static int csv_next(Csv *c) {
  const char *b = c->buf;
  /* Skip blank lines. */
  for (;;) {
    if (c->pos >= c->len) return 0;
    if (b[c->pos] == '\n') {
      c->pos++;
      c->line++;
    } else if (b[c->pos] == '\r' && (c->pos + 1 == c->len || b[c->pos + 1] == '\n')) {
      c->pos += c->pos + 1 == c->len ? 1 : 2;
      c->line++;
    } else {
      break;
    }
  }
  c->rec_line = c->line;
  c->nf = 0;
  c->tlen = 0;
  for (;;) {
    MH_TRY(start_field(c));
    if (c->pos < c->len && b[c->pos] == '"') {
      int qline = c->line;
      c->pos++;
      for (;;) {
        if (c->pos >= c->len)
          return mh_errorf("%s:%d: a quoted field is not closed before the end of the file",
                           c->path, qline);
        char ch = b[c->pos];
        if (ch == '"') {
          if (c->pos + 1 < c->len && b[c->pos + 1] == '"') {
            MH_TRY(put_char(c, '"'));
            c->pos += 2;
            continue;
          }
          c->pos++;
          break;
        }
        if (ch == '\n') c->line++;
        if (ch == '\0') return nul_error(c);
        MH_TRY(put_char(c, ch));
        c->pos++;
      }
      if (c->pos < c->len && b[c->pos] != c->delim && b[c->pos] != '\n' &&
          !(b[c->pos] == '\r' && (c->pos + 1 == c->len || b[c->pos + 1] == '\n')))
        return mh_errorf("%s:%d: unexpected character after a closing quote (write a quote "
                         "inside a quoted field as \"\")",
                         c->path, c->line);
      if (c->pos < c->len && b[c->pos] == '\r') c->pos++;
    } else {
      size_t f0 = c->tlen;
      while (c->pos < c->len && b[c->pos] != c->delim && b[c->pos] != '\n') {
        if (b[c->pos] == '\0') return nul_error(c);
        MH_TRY(put_char(c, b[c->pos]));
        c->pos++;
      }
      if (c->tlen > f0 && c->text[c->tlen - 1] == '\r') c->tlen--; /* \r\n line end */
    }
    MH_TRY(put_char(c, '\0'));
    if (c->pos >= c->len) break;
    if (b[c->pos] == c->delim) {
      c->pos++;
      continue;
    }
    /* b[pos] == '\n' */
    c->pos++;
    c->line++;
    break;
  }
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Field conversion                                                         */
/* ------------------------------------------------------------------------ */

/* Copy s without surrounding whitespace into buf. */
static const char *trimmed(const char *s, char *buf, size_t cap) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
  if (n >= cap) n = cap - 1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return buf;
}

typedef struct {
  const char *path;
  int header;      /* 1: columns have names */
  char **names;    /* [ncols] header names (NULL without a header) */
  int ncols;
  const char *ts_format;
} CsvCtx;

/* "column 'age'" or "column 3" */
static const char *col_desc(const CsvCtx *x, int col, char *buf, size_t cap) {
  if (x->header) snprintf(buf, cap, "column '%s'", x->names[col]);
  else snprintf(buf, cap, "column %d", col);
  return buf;
}

static int parse_feature(const CsvCtx *x, int line, int col, const char *s, float *out) {
  char t[128], cd[160];
  trimmed(s, t, sizeof t);
  char *end;
  errno = 0;
  float v = strtof(t, &end);
  if (!t[0] || *end || !isfinite(v))
    return mh_errorf("%s:%d: %s: expected a number, got \"%s\"", x->path, line,
                     col_desc(x, col, cd, sizeof cd), s);
  *out = v;
  return MH_OK;
}

static int parse_label(const CsvCtx *x, int line, int col, const char *s, int32_t *out) {
  char t[128], cd[160];
  trimmed(s, t, sizeof t);
  char *end;
  errno = 0;
  long v = strtol(t, &end, 10);
  if (!t[0] || *end || errno || v < 0 || v >= INT32_MAX)
    return mh_errorf("%s:%d: %s: expected a class id (an integer >= 0), got \"%s\"; use "
                     "--label-map auto for string labels",
                     x->path, line, col_desc(x, col, cd, sizeof cd), s);
  *out = (int32_t)v;
  return MH_OK;
}

static int parse_timestamp(const CsvCtx *x, int line, int col, const char *s, int64_t *out) {
  char t[256], cd[160];
  trimmed(s, t, sizeof t);
  if (!x->ts_format) {
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (!t[0] || *end || errno)
      return mh_errorf("%s:%d: %s: expected unix seconds (an integer), got \"%s\"; for dates "
                       "use --timestamp-format (e.g. %%Y-%%m-%%d)",
                       x->path, line, col_desc(x, col, cd, sizeof cd), s);
    *out = v;
    return MH_OK;
  }
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  tm.tm_mday = 1; /* formats without a day mean the 1st */
  const char *end = strptime(t, x->ts_format, &tm);
  if (!t[0] || !end || *end)
    return mh_errorf("%s:%d: %s: \"%s\" does not match --timestamp-format \"%s\"", x->path, line,
                     col_desc(x, col, cd, sizeof cd), s, x->ts_format);
  /* UTC, or the offset given by %z (strptime stores it in tm_gmtoff; read
   * it first, timegm resets it). */
  const int64_t gmtoff = (int64_t)tm.tm_gmtoff;
  *out = (int64_t)timegm(&tm) - gmtoff;
  return MH_OK;
}

/* A column given by name (with a header) or 0-based index (without). */
static int resolve_column(const CsvCtx *x, const char *spec, const char *option, int *col) {
  char t[256];
  trimmed(spec, t, sizeof t);
  if (x->header) {
    for (int i = 0; i < x->ncols; i++) {
      if (!strcmp(x->names[i], t)) {
        *col = i;
        return MH_OK;
      }
    }
    char list[512] = "";
    for (int i = 0; i < x->ncols && strlen(list) < sizeof list - 80; i++)
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", i ? ", " : "",
               x->names[i]);
    if (strlen(list) >= sizeof list - 80) strcat(list, ", ...");
    return mh_errorf("%s: %s: no column named '%s' in the header (columns: %s)", x->path, option,
                     t, list);
  }
  char *end;
  long v = strtol(t, &end, 10);
  if (!t[0] || *end || v < 0)
    return mh_errorf("%s: %s '%s': without a header, columns are 0-based indices", x->path,
                     option, t);
  if (v >= x->ncols)
    return mh_errorf("%s: %s %ld is out of range: the file has %d columns (0..%d)", x->path,
                     option, v, x->ncols, x->ncols - 1);
  *col = (int)v;
  return MH_OK;
}

/* ------------------------------------------------------------------------ */
/* String labels                                                            */
/* ------------------------------------------------------------------------ */

/* Label string -> id, open addressing. Ids are first-seen order until
 * labelmap_sorted renumbers them. */
typedef struct {
  char **str;   /* [cap] or NULL */
  int32_t *id;  /* [cap] */
  int cap, n;
  char **by_id; /* [n] the strings by id */
  int frozen;   /* 1: read from an existing labels.txt, no new labels */
} LabelMap;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void labelmap_free(LabelMap *m) {
  for (int i = 0; i < m->cap; i++) free(m->str[i]);
  free(m->str);
  free(m->id);
  free(m->by_id);
  memset(m, 0, sizeof *m);
}

/* id of s, or -1. */
static int32_t labelmap_find(const LabelMap *m, const char *s) {
  if (!m->cap) return -1;
  uint64_t h = hash_str(s) & (uint64_t)(m->cap - 1);
  for (; m->str[h]; h = (h + 1) & (uint64_t)(m->cap - 1))
    if (!strcmp(m->str[h], s)) return m->id[h];
  return -1;
}

/* id of s, adding it if new (and allowed); -1 if frozen and unknown. */
static int labelmap_get(LabelMap *m, const char *s, int32_t *id) {
  if ((*id = labelmap_find(m, s)) >= 0 || m->frozen) return MH_OK;
  if (2 * (m->n + 1) > m->cap) {
    int cap = m->cap ? 2 * m->cap : 64;
    char **str = mh_calloc((size_t)cap, sizeof *str);
    int32_t *ids = mh_calloc((size_t)cap, sizeof *ids);
    char **by = mh_realloc(m->by_id, (size_t)cap * sizeof *by);
    if (!str || !ids || !by) {
      free(str);
      free(ids);
      if (by) m->by_id = by;
      return MH_ERR;
    }
    m->by_id = by;
    for (int i = 0; i < m->cap; i++) {
      if (!m->str[i]) continue;
      uint64_t h = hash_str(m->str[i]) & (uint64_t)(cap - 1);
      while (str[h]) h = (h + 1) & (uint64_t)(cap - 1);
      str[h] = m->str[i];
      ids[h] = m->id[i];
    }
    free(m->str);
    free(m->id);
    m->str = str;
    m->id = ids;
    m->cap = cap;
  }
  uint64_t h = hash_str(s) & (uint64_t)(m->cap - 1);
  while (m->str[h]) h = (h + 1) & (uint64_t)(m->cap - 1);
  if (!(m->str[h] = mh_strdup(s))) return MH_ERR;
  m->id[h] = m->n;
  m->by_id[m->n] = m->str[h];
  *id = m->n++;
  return MH_OK;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Renumber ids so that they follow the sorted order of the strings; fills
 * remap[old id] = new id. */
static int labelmap_sorted(LabelMap *m, int32_t **remap_out) {
  int32_t *remap = mh_malloc((size_t)(m->n ? m->n : 1) * sizeof *remap);
  char **sorted = mh_malloc((size_t)(m->n ? m->n : 1) * sizeof *sorted);
  if (!remap || !sorted) {
    free(remap);
    free(sorted);
    return MH_ERR;
  }
  memcpy(sorted, m->by_id, (size_t)m->n * sizeof *sorted);
  qsort(sorted, (size_t)m->n, sizeof *sorted, cmp_str);
  for (int i = 0; i < m->n; i++) remap[labelmap_find(m, sorted[i])] = i;
  for (int i = 0; i < m->cap; i++)
    if (m->str[i]) m->id[i] = remap[m->id[i]];
  memcpy(m->by_id, sorted, (size_t)m->n * sizeof *sorted);
  free(sorted);
  *remap_out = remap;
  return MH_OK;
}

/* An existing DIR/labels.txt (appending): its lines are ids 0, 1, ... */
static int labelmap_load(LabelMap *m, const char *path, int *found) {
  *found = 0;
  FILE *f = fopen(path, "r");
  if (!f) return errno == ENOENT ? MH_OK : mh_errorf("cannot read %s: %s", path, strerror(errno));
  *found = 1;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int rc = MH_OK;
  while (!rc && (len = getline(&line, &cap, f)) >= 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    int32_t id;
    int before = m->n;
    rc = labelmap_get(m, line, &id);
    if (!rc && m->n == before)
      rc = mh_errorf("%s: label \"%s\" is listed twice", path, line);
  }
  free(line);
  fclose(f);
  m->frozen = 1;
  return rc;
}

static int labelmap_write(const LabelMap *m, const char *dir) {
  char path[1100];
  snprintf(path, sizeof path, "%s/labels.txt", dir);
  AtomicFile f;
  MH_TRY(atomic_open(&f, path));
  for (int i = 0; i < m->n; i++) fprintf(f.fp, "%s\n", m->by_id[i]);
  return atomic_commit(&f);
}

/* ------------------------------------------------------------------------ */
/* The format                                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
  int64_t ts;
  int64_t idx;
} TsIdx;

static int tsidx_cmp(const void *a, const void *b) {
  const TsIdx *x = a, *y = b;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx; /* stable */
}

static int parse_delimiter(const char *v, char *d) {
  if (!v) {
    *d = ',';
    return MH_OK;
  }
  if (!strcmp(v, "tab") || !strcmp(v, "\\t")) {
    *d = '\t';
    return MH_OK;
  }
  if (strlen(v) != 1 || v[0] == '"' || v[0] == '\n' || v[0] == '\r')
    return mh_errorf("--delimiter must be one character (not a quote or newline) or 'tab', "
                     "got \"%s\"",
                     v);
  *d = v[0];
  return MH_OK;
}

/* Growable per-row arrays. */
typedef struct {
  int64_t *ts;
  int32_t *labels;
  float *feats;
  int64_t n, cap;
  int F;
} Rows;

static int rows_push(Rows *r) {
  if (r->n < r->cap) return MH_OK;
  int64_t cap = r->cap ? 2 * r->cap : 1024;
  void *p;
  if (!(p = mh_realloc(r->ts, (size_t)cap * sizeof *r->ts))) return MH_ERR;
  r->ts = p;
  if (!(p = mh_realloc(r->labels, (size_t)cap * sizeof *r->labels))) return MH_ERR;
  r->labels = p;
  if (!(p = mh_realloc(r->feats, (size_t)cap * (size_t)r->F * sizeof *r->feats))) return MH_ERR;
  r->feats = p;
  r->cap = cap;
  return MH_OK;
}

static int csv_run(const IngestOptions *o, IngestResult *res) {
  const char *path = ingest_get(o, "input");
  const char *lab_spec = ingest_get(o, "label-column");
  const char *ts_spec = ingest_get(o, "timestamp-column");
  const char *feat_spec = ingest_get(o, "feature-columns");
  const char *label_map = ingest_get(o, "label-map");
  if (!path) return mh_errorf("--format csv needs --input FILE");
  if (!lab_spec) return mh_errorf("--format csv needs --label-column COL");
  if (!ts_spec) return mh_errorf("--format csv needs --timestamp-column COL");
  if (label_map && strcmp(label_map, "auto"))
    return mh_errorf("--label-map must be 'auto', got \"%s\"", label_map);
  const int map_labels = label_map != NULL;

  Csv c;
  memset(&c, 0, sizeof c);
  c.path = path;
  MH_TRY(parse_delimiter(ingest_get(o, "delimiter"), &c.delim));
  CsvCtx x;
  memset(&x, 0, sizeof x);
  x.path = path;
  x.header = ingest_get(o, "no-header") == NULL;
  x.ts_format = ingest_get(o, "timestamp-format");

  char *buf = NULL;
  size_t len = 0;
  MH_TRY(mh_read_file(path, &buf, &len));
  c.buf = buf;
  c.len = len;
  c.line = 1;
  if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) c.pos = 3; /* UTF-8 byte order mark */
  const size_t data_start = c.pos;

  Rows rows;
  memset(&rows, 0, sizeof rows);
  LabelMap lm;
  memset(&lm, 0, sizeof lm);
  int *fcols = NULL;
  int32_t *remap = NULL;
  TsIdx *order = NULL;
  int64_t *ts2 = NULL;
  int32_t *lab2 = NULL;
  float *feat2 = NULL;
  int rc = MH_OK, nf = 0, lab_col = -1, ts_col = -1;

  /* Header (or the first row, for the column count). */
  int got = csv_next(&c);
  if (got < 0) {
    rc = MH_ERR;
    goto done;
  }
  if (got == 0) {
    rc = mh_errorf("%s: the file is empty", path);
    goto done;
  }
  x.ncols = c.nf;
  if (x.header) {
    if (!(x.names = mh_calloc((size_t)x.ncols, sizeof *x.names))) {
      rc = MH_ERR;
      goto done;
    }
    for (int i = 0; i < x.ncols; i++) {
      char t[256];
      if (!(x.names[i] = mh_strdup(trimmed(csv_field(&c, i), t, sizeof t)))) {
        rc = MH_ERR;
        goto done;
      }
    }
  } else {
    c.pos = data_start; /* the first line is data */
    c.line = 1;
  }

  /* Columns. */
  if ((rc = resolve_column(&x, lab_spec, "--label-column", &lab_col))) goto done;
  if ((rc = resolve_column(&x, ts_spec, "--timestamp-column", &ts_col))) goto done;
  if (lab_col == ts_col) {
    rc = mh_errorf("%s: --label-column and --timestamp-column name the same column", path);
    goto done;
  }
  if (!(fcols = mh_malloc((size_t)x.ncols * sizeof *fcols))) {
    rc = MH_ERR;
    goto done;
  }
  if (feat_spec) {
    const char *p = feat_spec;
    while (!rc) {
      const char *comma = strchr(p, ',');
      size_t l = comma ? (size_t)(comma - p) : strlen(p);
      char name[256];
      snprintf(name, sizeof name, "%.*s", (int)(l < 255 ? l : 255), p);
      int col = -1;
      if (nf == x.ncols) {
        rc = mh_errorf("%s: --feature-columns lists more columns than the file has (%d)", path,
                       x.ncols);
      } else if (!(rc = resolve_column(&x, name, "--feature-columns", &col))) {
        char cd[160];
        if (col == lab_col || col == ts_col)
          rc = mh_errorf("%s: --feature-columns: %s is the %s column", path,
                         col_desc(&x, col, cd, sizeof cd), col == lab_col ? "label" : "timestamp");
        for (int j = 0; j < nf && !rc; j++)
          if (fcols[j] == col)
            rc = mh_errorf("%s: --feature-columns lists %s twice", path,
                           col_desc(&x, col, cd, sizeof cd));
        fcols[nf++] = col;
      }
      if (!comma) break;
      p = comma + 1;
    }
    if (rc) goto done;
  } else {
    for (int i = 0; i < x.ncols; i++)
      if (i != lab_col && i != ts_col) fcols[nf++] = i;
  }
  if (nf == 0) {
    rc = mh_errorf("%s: no feature columns (the file has only the label and timestamp columns)",
                   path);
    goto done;
  }
  rows.F = nf;

  /* String labels continue an existing mapping when appending. */
  char lpath[1100];
  snprintf(lpath, sizeof lpath, "%s/labels.txt", o->out);
  if (map_labels && o->append) {
    int found = 0;
    if ((rc = labelmap_load(&lm, lpath, &found))) goto done;
  }

  /* Rows. */
  while ((got = csv_next(&c)) == 1) {
    if (c.nf != x.ncols) {
      rc = mh_errorf("%s:%d: expected %d fields (like the %s), got %d", path, c.rec_line, x.ncols,
                     x.header ? "header" : "first line", c.nf);
      goto done;
    }
    if ((rc = rows_push(&rows))) goto done;
    int64_t r = rows.n;
    if ((rc = parse_timestamp(&x, c.rec_line, ts_col, csv_field(&c, ts_col), &rows.ts[r])))
      goto done;
    if (map_labels) {
      char t[1024];
      trimmed(csv_field(&c, lab_col), t, sizeof t);
      if ((rc = labelmap_get(&lm, t, &rows.labels[r]))) goto done;
      if (rows.labels[r] < 0) {
        char cd[160];
        rc = mh_errorf("%s:%d: %s: label \"%s\" is not in %s; a store's classes are fixed when "
                       "it is created",
                       path, c.rec_line, col_desc(&x, lab_col, cd, sizeof cd), t, lpath);
        goto done;
      }
    } else if ((rc = parse_label(&x, c.rec_line, lab_col, csv_field(&c, lab_col),
                                 &rows.labels[r]))) {
      goto done;
    }
    for (int j = 0; j < nf; j++)
      if ((rc = parse_feature(&x, c.rec_line, fcols[j], csv_field(&c, fcols[j]),
                              &rows.feats[r * nf + j])))
        goto done;
    rows.n++;
  }
  if (got < 0) {
    rc = MH_ERR;
    goto done;
  }
  const int64_t n = rows.n;
  if (n == 0) {
    rc = mh_errorf("%s: no data rows%s", path, x.header ? " after the header" : "");
    goto done;
  }

  /* Classes. */
  if (map_labels && !lm.frozen) {
    if ((rc = labelmap_sorted(&lm, &remap))) goto done;
    for (int64_t i = 0; i < n; i++) rows.labels[i] = remap[rows.labels[i]];
  }
  int32_t maxl = 0;
  int64_t maxi = 0;
  for (int64_t i = 0; i < n; i++)
    if (rows.labels[i] > maxl) {
      maxl = rows.labels[i];
      maxi = i;
    }
  int ncls = map_labels ? lm.n : maxl + 1;
  if (o->num_classes) {
    if (maxl >= o->num_classes) {
      rc = mh_errorf("%s: label %d (data row %lld) is not below --num-classes %d", path, (int)maxl,
                     (long long)maxi + 1, o->num_classes);
      goto done;
    }
    ncls = o->num_classes;
  }

  /* Stable sort by timestamp. */
  order = mh_malloc((size_t)n * sizeof *order);
  ts2 = mh_malloc((size_t)n * sizeof *ts2);
  lab2 = mh_malloc((size_t)n * sizeof *lab2);
  feat2 = mh_malloc((size_t)n * (size_t)nf * sizeof *feat2);
  if (!order || !ts2 || !lab2 || !feat2) {
    rc = MH_ERR;
    goto done;
  }
  for (int64_t i = 0; i < n; i++) order[i] = (TsIdx){rows.ts[i], i};
  qsort(order, (size_t)n, sizeof *order, tsidx_cmp);
  for (int64_t i = 0; i < n; i++) {
    int64_t s = order[i].idx;
    ts2[i] = rows.ts[s];
    lab2[i] = rows.labels[s];
    memcpy(feat2 + i * nf, rows.feats + s * nf, (size_t)nf * sizeof *feat2);
  }

  /* Write. */
  StoreSchema sc;
  memset(&sc, 0, sizeof sc);
  sc.type = FEAT_F32;
  sc.ndims = 1;
  sc.dims[0] = nf;
  sc.num_classes = ncls;
  IngestSink sink;
  if ((rc = ingest_sink_open(&sink, o, &sc, res))) goto done;
  sink.expected = n;
  if (map_labels && !lm.frozen && (rc = labelmap_write(&lm, o->out))) goto done;
  rc = ingest_sink_write(&sink, n, ts2, lab2, feat2);

done:
  free(feat2);
  free(lab2);
  free(ts2);
  free(order);
  free(remap);
  free(fcols);
  labelmap_free(&lm);
  free(rows.ts);
  free(rows.labels);
  free(rows.feats);
  if (x.names)
    for (int i = 0; i < x.ncols; i++) free(x.names[i]);
  free(x.names);
  free(c.text);
  free(c.off);
  free(buf);
  return rc;
}

const IngestFormat ingest_format_csv = {
    "csv",
    "CSV rows: a label column, a timestamp column (seconds or dates), numeric features (float32)",
    csv_opts,
    csv_run,
};
