/* cfgtree.c - see cfgtree.h.
 *
 * The tree is built from libyaml's *event* stream rather than from
 * yaml_parser_load()'s document: only the events carry anchors and aliases
 * (the loaded document silently resolves them into shared nodes), and we
 * want to reject those with a line number, as well as merge keys, non-scalar
 * keys and duplicate keys, which libyaml accepts. */
#include "config/cfgtree.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/duration.h"
#include "core/error.h"

#define CFG_MAX_DEPTH 64 /* deeper nesting is certainly a mistake (and bounds recursion) */
#define CFG_MSG 4096

/* ------------------------------------------------------------------------ */
/* Nodes                                                                    */
/* ------------------------------------------------------------------------ */

static CfgNode *node_new(CfgKind kind, int line) {
  CfgNode *n = mh_calloc(1, sizeof *n);
  if (!n) return NULL;
  n->kind = kind;
  n->line = line;
  return n;
}

static void node_free(CfgNode *n) {
  if (!n) return;
  for (int i = 0; i < n->n; i++) {
    node_free(n->items[i]);
    if (n->keys) free(n->keys[i]);
  }
  free(n->items);
  free(n->keys);
  free(n->key_lines);
  free(n->value);
  free(n);
}

/* Append a child (and its key for maps). Takes ownership of child and key
 * even on failure, so callers never leak on the error path. */
static int node_append(CfgNode *parent, char *key, int key_line, CfgNode *child) {
  int cap = 1;
  while (cap < parent->n + 1) cap *= 2;
  if (parent->n == 0 || (parent->n & (parent->n - 1)) == 0) { /* n is 0 or a power of two: grow */
    CfgNode **items = mh_realloc(parent->items, (size_t)cap * sizeof *items);
    if (!items) goto fail;
    parent->items = items;
    if (parent->kind == CFG_MAP) {
      char **keys = mh_realloc(parent->keys, (size_t)cap * sizeof *keys);
      if (!keys) goto fail;
      parent->keys = keys;
      int *lines = mh_realloc(parent->key_lines, (size_t)cap * sizeof *lines);
      if (!lines) goto fail;
      parent->key_lines = lines;
    }
  }
  parent->items[parent->n] = child;
  if (parent->kind == CFG_MAP) {
    parent->keys[parent->n] = key;
    parent->key_lines[parent->n] = key_line;
  } else {
    free(key);
  }
  parent->n++;
  return MH_OK;
fail:
  free(key);
  node_free(child);
  return MH_ERR;
}

static int node_find(const CfgNode *map, const char *key) {
  if (!map || map->kind != CFG_MAP) return -1;
  for (int i = 0; i < map->n; i++)
    if (strcmp(map->keys[i], key) == 0) return i;
  return -1;
}

/* Lines of nodes created by an override are 0 (see cfg_errorf). */
static void node_clear_lines(CfgNode *n) {
  n->line = 0;
  for (int i = 0; i < n->n; i++) {
    if (n->kind == CFG_MAP) n->key_lines[i] = 0;
    node_clear_lines(n->items[i]);
  }
}

static int scalar_is_null(const CfgNode *n) {
  if (n->kind != CFG_SCALAR || n->quoted) return 0;
  const char *v = n->value;
  return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
         !strcmp(v, "NULL");
}

int cfg_equal(const CfgNode *a, const CfgNode *b) {
  if (!a || !b) return a == b;
  if (a->kind != b->kind || a->n != b->n) return 0;
  if (a->kind == CFG_SCALAR) return a->quoted == b->quoted && strcmp(a->value, b->value) == 0;
  for (int i = 0; i < a->n; i++) {
    if (a->kind == CFG_MAP && strcmp(a->keys[i], b->keys[i]) != 0) return 0;
    if (!cfg_equal(a->items[i], b->items[i])) return 0;
  }
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */
/* ------------------------------------------------------------------------ */

/* Paths only name fields in messages; one longer than its buffer is cut
 * short rather than failing the parse. */
static void path_append(char *out, size_t cap, const char *parent, const char *sep,
                        const char *tail) {
  size_t used = 0;
  const char *parts[3] = {parent, sep, tail};
  for (int p = 0; p < 3; p++) {
    size_t len = strlen(parts[p]);
    if (len > cap - 1 - used) len = cap - 1 - used;
    memmove(out + used, parts[p], len);
    used += len;
  }
  out[used] = '\0';
}

static void path_key(char *out, size_t cap, const char *parent, const char *key) {
  path_append(out, cap, parent, parent[0] ? "." : "", key);
}

static void path_index(char *out, size_t cap, const char *parent, int i) {
  char idx[24];
  sprintf(idx, "[%d]", i);
  path_append(out, cap, parent, "", idx);
}

/* ------------------------------------------------------------------------ */
/* Loading: libyaml events -> CfgNode                                        */
/* ------------------------------------------------------------------------ */

typedef struct {
  yaml_parser_t parser;
  const char *name; /* file name for messages */
  const char *text; /* the input, to turn reader-error offsets into lines */
  size_t len;
} Loader;

static int line_of_offset(const Loader *ld, size_t offset) {
  int line = 1;
  for (size_t i = 0; i < offset && i < ld->len; i++)
    if (ld->text[i] == '\n') line++;
  return line;
}

static int loader_syntax_error(Loader *ld) {
  yaml_parser_t *p = &ld->parser;
  if (p->error == YAML_MEMORY_ERROR) return mh_errorf("%s: out of memory while parsing YAML", ld->name);
  const char *problem = p->problem ? p->problem : "unknown problem";
  if (p->error == YAML_READER_ERROR) {
    int line = line_of_offset(ld, p->problem_offset);
    if (p->problem_value != -1)
      return mh_errorf("%s:%d: YAML syntax error: %s (byte 0x%02x at offset %zu)", ld->name, line,
                       problem, (unsigned)p->problem_value, p->problem_offset);
    return mh_errorf("%s:%d: YAML syntax error: %s (at offset %zu)", ld->name, line, problem,
                     p->problem_offset);
  }
  int line = (int)p->problem_mark.line + 1;
  if (p->context)
    return mh_errorf("%s:%d: YAML syntax error: %s (%s)", ld->name, line, problem, p->context);
  return mh_errorf("%s:%d: YAML syntax error: %s", ld->name, line, problem);
}

static int loader_next(Loader *ld, yaml_event_t *ev) {
  if (!yaml_parser_parse(&ld->parser, ev)) return loader_syntax_error(ld);
  return MH_OK;
}

static int event_line(const yaml_event_t *ev) { return (int)ev->start_mark.line + 1; }

static const char *event_anchor(const yaml_event_t *ev) {
  switch (ev->type) {
  case YAML_SCALAR_EVENT: return (const char *)ev->data.scalar.anchor;
  case YAML_SEQUENCE_START_EVENT: return (const char *)ev->data.sequence_start.anchor;
  case YAML_MAPPING_START_EVENT: return (const char *)ev->data.mapping_start.anchor;
  default: return NULL;
  }
}

/* Message prefix "FILE:LINE: PATH: " or "FILE:LINE: " for the root. */
static int loader_error(const Loader *ld, int line, const char *path, const char *msg) {
  if (path[0]) return mh_errorf("%s:%d: %s: %s", ld->name, line, path, msg);
  return mh_errorf("%s:%d: %s", ld->name, line, msg);
}

static int load_node(Loader *ld, yaml_event_t *ev, const char *path, int depth, CfgNode **out);

static int load_scalar(yaml_event_t *ev, CfgNode **out) {
  CfgNode *n = node_new(CFG_SCALAR, event_line(ev));
  if (!n) return MH_ERR;
  n->value = mh_malloc(ev->data.scalar.length + 1);
  if (!n->value) {
    free(n);
    return MH_ERR;
  }
  memcpy(n->value, ev->data.scalar.value, ev->data.scalar.length);
  n->value[ev->data.scalar.length] = '\0';
  n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
  *out = n;
  return MH_OK;
}

static int load_sequence(Loader *ld, int line, const char *path, int depth, CfgNode **out) {
  CfgNode *seq = node_new(CFG_SEQ, line);
  if (!seq) return MH_ERR;
  for (;;) {
    yaml_event_t ev;
    if (loader_next(ld, &ev) != MH_OK) goto fail;
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    char item_path[256];
    path_index(item_path, sizeof item_path, path, seq->n);
    CfgNode *item = NULL;
    int rc = load_node(ld, &ev, item_path, depth + 1, &item);
    yaml_event_delete(&ev);
    if (rc != MH_OK || node_append(seq, NULL, 0, item) != MH_OK) goto fail;
  }
  *out = seq;
  return MH_OK;
fail:
  node_free(seq);
  return MH_ERR;
}

static int load_mapping(Loader *ld, int line, const char *path, int depth, CfgNode **out) {
  CfgNode *map = node_new(CFG_MAP, line);
  if (!map) return MH_ERR;
  for (;;) {
    yaml_event_t ev;
    if (loader_next(ld, &ev) != MH_OK) goto fail;
    if (ev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    int key_line = event_line(&ev);
    if (ev.type == YAML_ALIAS_EVENT || event_anchor(&ev)) {
      yaml_event_delete(&ev);
      loader_error(ld, key_line, path,
                   "anchors (&) and aliases (*) are not supported; write the value out");
      goto fail;
    }
    if (ev.type != YAML_SCALAR_EVENT) {
      yaml_event_delete(&ev);
      loader_error(ld, key_line, path, "mapping keys must be plain strings, not collections");
      goto fail;
    }
    int merge = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                strcmp((const char *)ev.data.scalar.value, "<<") == 0;
    char *key = mh_strdup((const char *)ev.data.scalar.value);
    yaml_event_delete(&ev);
    if (!key) goto fail;
    char child_path[256];
    path_key(child_path, sizeof child_path, path, key);
    if (merge) {
      free(key);
      loader_error(ld, key_line, child_path, "merge keys (<<) are not supported; write the fields out");
      goto fail;
    }
    if (node_find(map, key) >= 0) {
      free(key);
      loader_error(ld, key_line, child_path, "duplicate field");
      goto fail;
    }
    if (loader_next(ld, &ev) != MH_OK) {
      free(key);
      goto fail;
    }
    CfgNode *value = NULL;
    int rc = load_node(ld, &ev, child_path, depth + 1, &value);
    yaml_event_delete(&ev);
    if (rc != MH_OK) {
      free(key);
      goto fail;
    }
    /* libyaml places an empty value ("key:" then nothing) at the next
     * token, often on a later line; the key's line is what a reader expects. */
    if (value->kind == CFG_SCALAR && !value->quoted && value->value[0] == '\0') value->line = key_line;
    if (node_append(map, key, key_line, value) != MH_OK) goto fail;
  }
  *out = map;
  return MH_OK;
fail:
  node_free(map);
  return MH_ERR;
}

/* Build the node that starts with *ev (which the caller deletes). */
static int load_node(Loader *ld, yaml_event_t *ev, const char *path, int depth, CfgNode **out) {
  int line = event_line(ev);
  if (depth > CFG_MAX_DEPTH) return loader_error(ld, line, path, "nested too deeply");
  if (ev->type == YAML_ALIAS_EVENT || event_anchor(ev))
    return loader_error(ld, line, path,
                        "anchors (&) and aliases (*) are not supported; write the value out");
  switch (ev->type) {
  case YAML_SCALAR_EVENT: return load_scalar(ev, out);
  case YAML_SEQUENCE_START_EVENT: return load_sequence(ld, line, path, depth, out);
  case YAML_MAPPING_START_EVENT: return load_mapping(ld, line, path, depth, out);
  default: return loader_error(ld, line, path, "unexpected YAML event");
  }
}

/* Parse a whole stream holding at most one document. *block_root is set
 * when the root is a block (not flow) collection, which overrides reject. */
static int load_stream(const char *name, const char *text, size_t len, CfgNode **root,
                       int *block_root) {
  Loader ld = {.name = name, .text = text, .len = len};
  *root = NULL;
  if (block_root) *block_root = 0;
  if (!yaml_parser_initialize(&ld.parser)) return mh_errorf("%s: cannot initialise libyaml", name);
  yaml_parser_set_input_string(&ld.parser, (const unsigned char *)text, len);
  yaml_event_t ev;
  int rc = MH_ERR;
  CfgNode *node = NULL;
  if (loader_next(&ld, &ev) != MH_OK) goto done; /* STREAM-START */
  yaml_event_delete(&ev);
  if (loader_next(&ld, &ev) != MH_OK) goto done;
  if (ev.type == YAML_STREAM_END_EVENT) { /* nothing but comments */
    yaml_event_delete(&ev);
    rc = MH_OK;
    goto done;
  }
  yaml_event_delete(&ev); /* DOCUMENT-START */
  if (loader_next(&ld, &ev) != MH_OK) goto done;
  if (block_root)
    *block_root = (ev.type == YAML_MAPPING_START_EVENT &&
                   ev.data.mapping_start.style != YAML_FLOW_MAPPING_STYLE) ||
                  (ev.type == YAML_SEQUENCE_START_EVENT &&
                   ev.data.sequence_start.style != YAML_FLOW_SEQUENCE_STYLE);
  int node_rc = load_node(&ld, &ev, "", 0, &node);
  yaml_event_delete(&ev);
  if (node_rc != MH_OK) goto done;
  if (loader_next(&ld, &ev) != MH_OK) goto done; /* DOCUMENT-END */
  yaml_event_delete(&ev);
  if (loader_next(&ld, &ev) != MH_OK) goto done;
  int extra = ev.type != YAML_STREAM_END_EVENT;
  int extra_line = event_line(&ev);
  yaml_event_delete(&ev);
  if (extra) {
    mh_errorf("%s:%d: a second YAML document (---) is not supported; use one document per file",
              name, extra_line);
    goto done;
  }
  if (scalar_is_null(node)) { /* "---" alone, or "null" */
    node_free(node);
    node = NULL;
  }
  *root = node;
  node = NULL;
  rc = MH_OK;
done:
  node_free(node);
  yaml_parser_delete(&ld.parser);
  return rc;
}

int cfg_read_text(const char *path, char **text, size_t *len) {
  *text = NULL;
  if (len) *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return mh_errorf("cannot read %s: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = mh_malloc(cap);
  if (!buf) {
    fclose(f);
    return MH_ERR;
  }
  for (;;) {
    if (n + 1 >= cap) {
      char *bigger = mh_realloc(buf, cap * 2);
      if (!bigger) {
        free(buf);
        fclose(f);
        return MH_ERR;
      }
      buf = bigger;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - 1 - n, f);
    n += got;
    if (got == 0) break;
  }
  int failed = ferror(f);
  int err = errno;
  fclose(f);
  if (failed) {
    free(buf);
    return mh_errorf("cannot read %s: %s", path, strerror(err));
  }
  buf[n] = '\0';
  *text = buf;
  if (len) *len = n;
  return MH_OK;
}

int cfg_load_string(const char *name, const char *text, CfgDoc *doc) {
  memset(doc, 0, sizeof *doc);
  snprintf(doc->file, sizeof doc->file, "%s", name);
  return load_stream(name, text, strlen(text), &doc->root, NULL);
}

int cfg_load_file(const char *path, CfgDoc *doc) {
  memset(doc, 0, sizeof *doc);
  char *text = NULL;
  size_t len = 0;
  MH_TRY(cfg_read_text(path, &text, &len));
  snprintf(doc->file, sizeof doc->file, "%s", path);
  int rc = load_stream(path, text, len, &doc->root, NULL);
  free(text);
  return rc;
}

void cfg_doc_free(CfgDoc *doc) {
  if (!doc) return;
  node_free(doc->root);
  doc->root = NULL;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

static int emit(yaml_emitter_t *em, yaml_event_t *ev, const char *path) {
  if (!yaml_emitter_emit(em, ev))
    return mh_errorf("cannot write %s: %s", path, em->problem ? em->problem : "libyaml emitter error");
  return MH_OK;
}

static int emit_scalar(yaml_emitter_t *em, const char *value, int quoted, const char *path) {
  yaml_event_t ev;
  /* Quoted scalars stay quoted so that "null" or "123" keep being strings;
   * for plain ones libyaml falls back to quotes itself where plain is not
   * allowed. */
  if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)value, (int)strlen(value), 1, 1,
                                    quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE))
    return mh_errorf("cannot write %s: out of memory", path);
  return emit(em, &ev, path);
}

/* flow = 1 writes collections as [a, b] and {k: v} (one line). */
static int emit_node(yaml_emitter_t *em, const CfgNode *n, const char *path, int flow) {
  yaml_event_t ev;
  switch (n->kind) {
  case CFG_SCALAR: return emit_scalar(em, n->value, n->quoted, path);
  case CFG_SEQ:
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                         flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
    MH_TRY(emit(em, &ev, path));
    for (int i = 0; i < n->n; i++) MH_TRY(emit_node(em, n->items[i], path, flow));
    yaml_sequence_end_event_initialize(&ev);
    return emit(em, &ev, path);
  case CFG_MAP:
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                        flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
    MH_TRY(emit(em, &ev, path));
    for (int i = 0; i < n->n; i++) {
      MH_TRY(emit_scalar(em, n->keys[i], 0, path));
      MH_TRY(emit_node(em, n->items[i], path, flow));
    }
    yaml_mapping_end_event_initialize(&ev);
    return emit(em, &ev, path);
  }
  return mh_errorf("cannot write %s: bad node kind", path);
}

static int emit_doc(yaml_emitter_t *em, const CfgNode *root, const char *path, int flow) {
  yaml_event_t ev;
  yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
  MH_TRY(emit(em, &ev, path));
  yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
  MH_TRY(emit(em, &ev, path));
  if (root) {
    MH_TRY(emit_node(em, root, path, flow));
  } else {
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_FLOW_MAPPING_STYLE);
    MH_TRY(emit(em, &ev, path));
    yaml_mapping_end_event_initialize(&ev);
    MH_TRY(emit(em, &ev, path));
  }
  yaml_document_end_event_initialize(&ev, 1);
  MH_TRY(emit(em, &ev, path));
  yaml_stream_end_event_initialize(&ev);
  return emit(em, &ev, path);
}

/* Written to PATH.tmp and renamed, so a reader never sees half a file. */
int cfg_write_yaml(const CfgDoc *doc, const char *path) {
  char tmp[1100];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return mh_errorf("cannot write %s: path too long", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return mh_errorf("cannot write %s: %s", tmp, strerror(errno));
  yaml_emitter_t em;
  if (!yaml_emitter_initialize(&em)) {
    fclose(f);
    remove(tmp);
    return mh_errorf("cannot write %s: cannot initialise libyaml", path);
  }
  yaml_emitter_set_output_file(&em, f);
  yaml_emitter_set_unicode(&em, 1);
  yaml_emitter_set_indent(&em, 2);
  yaml_emitter_set_width(&em, -1); /* never fold long scalars */
  int rc = emit_doc(&em, doc->root, path, 0);
  if (rc == MH_OK && !yaml_emitter_flush(&em)) rc = mh_errorf("cannot write %s: flush failed", path);
  yaml_emitter_delete(&em);
  if (fclose(f) != 0 && rc == MH_OK) rc = mh_errorf("cannot write %s: %s", tmp, strerror(errno));
  if (rc == MH_OK && rename(tmp, path) != 0)
    rc = mh_errorf("cannot rename %s to %s: %s", tmp, path, strerror(errno));
  if (rc != MH_OK) remove(tmp);
  return rc;
}

int cfg_flow_text(const CfgNode *n, char *out, size_t cap) {
  yaml_emitter_t em;
  size_t written = 0;
  if (cap < 2) return mh_errorf("cfg_flow_text: buffer too small");
  if (!yaml_emitter_initialize(&em)) return mh_errorf("cannot initialise libyaml");
  yaml_emitter_set_output_string(&em, (unsigned char *)out, cap - 1, &written);
  yaml_emitter_set_unicode(&em, 1);
  yaml_emitter_set_width(&em, -1);
  int rc = emit_doc(&em, n, "a --set value", 1);
  if (rc == MH_OK && !yaml_emitter_flush(&em)) rc = mh_errorf("YAML value longer than %zu bytes", cap);
  yaml_emitter_delete(&em);
  if (rc != MH_OK) return rc;
  out[written] = 0;
  /* Drop the line end and the "..." libyaml writes after a plain scalar
   * document. */
  while (written > 0 && (out[written - 1] == '\n' || out[written - 1] == ' ')) out[--written] = 0;
  if (written >= 4 && !strcmp(out + written - 4, "\n...")) out[written -= 4] = 0;
  return MH_OK;
}

/* ------------------------------------------------------------------------ */
/* Overrides                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
  char key[128]; /* map key, or "" for a sequence index */
  int index;     /* sequence index when key is "" */
} OverrideStep;

#define CFG_MAX_STEPS 32

/* Split "a.b[1].c" into steps. */
static int override_path(const char *asg, const char *path, size_t plen, OverrideStep *steps,
                         int *nsteps) {
  size_t i = 0;
  int n = 0;
  if (plen == 0) return mh_errorf("--set %s: expected PATH=VALUE, e.g. training.batch_size=128", asg);
  for (;;) {
    if (n == CFG_MAX_STEPS) return mh_errorf("--set %s: path has too many parts", asg);
    size_t start = i;
    while (i < plen && path[i] != '.' && path[i] != '[' && path[i] != ']') i++;
    size_t klen = i - start;
    if (klen == 0) return mh_errorf("--set %s: empty field name in the path", asg);
    if (klen >= sizeof steps[n].key) return mh_errorf("--set %s: field name too long", asg);
    memcpy(steps[n].key, path + start, klen);
    steps[n].key[klen] = '\0';
    n++;
    while (i < plen && path[i] == '[') {
      if (n == CFG_MAX_STEPS) return mh_errorf("--set %s: path has too many parts", asg);
      size_t d = ++i;
      long long idx = 0;
      while (i < plen && path[i] >= '0' && path[i] <= '9' && idx < 1000000) idx = idx * 10 + (path[i++] - '0');
      if (i == d || i >= plen || path[i] != ']')
        return mh_errorf("--set %s: expected [N] with a non-negative index", asg);
      i++;
      steps[n].key[0] = '\0';
      steps[n].index = (int)idx;
      n++;
    }
    if (i == plen) break;
    if (path[i] != '.') return mh_errorf("--set %s: unexpected '%c' in the path", asg, path[i]);
    i++;
  }
  *nsteps = n;
  return MH_OK;
}

/* Parse the value as one YAML flow node; its nodes get line 0. A block
 * collection ("a: b" or "- x") is refused: on a command line it is almost
 * always a value that needed quotes. */
static int override_value(const char *asg, const char *text, CfgNode **out) {
  char name[600];
  snprintf(name, sizeof name, "--set %s", asg);
  CfgNode *node = NULL;
  int block = 0;
  if (load_stream(name, text, strlen(text), &node, &block) != MH_OK) {
    /* load_stream wrote "--set a=v:LINE: ..."; drop the line number, which is
     * always 1 for a one-line value. */
    char msg[CFG_MSG];
    snprintf(msg, sizeof msg, "%s", mh_error());
    size_t nl = strlen(name);
    if (strncmp(msg, name, nl) == 0 && msg[nl] == ':') {
      char *rest = msg + nl + 1;
      while (*rest >= '0' && *rest <= '9') rest++;
      if (*rest == ':') return mh_errorf("%s%s", name, rest);
    }
    return mh_errorf("%s", msg);
  }
  if (block) {
    node_free(node);
    return mh_errorf("--set %s: the value must be a scalar, [a, sequence] or {a: mapping}; "
                     "quote values that contain \": \" or start with \"- \"",
                     asg);
  }
  if (!node) { /* empty value or null: a plain null scalar ("use the default") */
    node = node_new(CFG_SCALAR, 0);
    if (!node || !(node->value = mh_strdup(""))) {
      free(node);
      return MH_ERR;
    }
  }
  node_clear_lines(node);
  *out = node;
  return MH_OK;
}

static const char *kind_name(CfgKind k) {
  return k == CFG_MAP ? "a mapping" : k == CFG_SEQ ? "a sequence" : "a scalar";
}

/* The child slot named by step s in container c (whose kind the caller has
 * checked), or NULL when absent. */
static CfgNode **override_slot(CfgNode *c, const OverrideStep *s) {
  if (s->key[0]) {
    int i = node_find(c, s->key);
    return i >= 0 ? &c->items[i] : NULL;
  }
  return s->index < c->n ? &c->items[s->index] : NULL;
}

static int override_add(CfgNode *c, const OverrideStep *s, CfgNode *child, const char *asg,
                        const char *path) {
  if (s->key[0]) {
    char *key = mh_strdup(s->key);
    if (!key) {
      node_free(child);
      return MH_ERR;
    }
    return node_append(c, key, 0, child);
  }
  if (s->index != c->n) {
    node_free(child);
    return mh_errorf("--set %s: index %d out of range (%s has %d items; use [%d] to append)", asg,
                     s->index, path, c->n, c->n);
  }
  return node_append(c, NULL, 0, child);
}

int cfg_apply_override(CfgDoc *doc, const char *assignment) {
  const char *eq = strchr(assignment, '=');
  if (!eq) return mh_errorf("--set %s: expected PATH=VALUE, e.g. training.batch_size=128", assignment);
  OverrideStep steps[CFG_MAX_STEPS];
  int nsteps = 0;
  MH_TRY(override_path(assignment, assignment, (size_t)(eq - assignment), steps, &nsteps));
  if (!steps[0].key[0]) return mh_errorf("--set %s: the path must start with a field name", assignment);
  CfgNode *value = NULL;
  MH_TRY(override_value(assignment, eq + 1, &value));
  if (!doc->root || doc->root->kind != CFG_MAP) {
    if (doc->root) {
      node_free(value);
      return mh_errorf("--set %s: the document is %s, not a mapping", assignment,
                       kind_name(doc->root->kind));
    }
    doc->root = node_new(CFG_MAP, 1);
    if (!doc->root) {
      node_free(value);
      return MH_ERR;
    }
  }
  CfgNode *cur = doc->root;
  char path[256] = "";
  for (int k = 0; k < nsteps; k++) {
    const OverrideStep *s = &steps[k];
    CfgKind need = s->key[0] ? CFG_MAP : CFG_SEQ;
    if (cur->kind != need) {
      node_free(value);
      return mh_errorf("--set %s: %s is %s, not %s", assignment, path[0] ? path : "the document",
                       kind_name(cur->kind), kind_name(need));
    }
    char child_path[256];
    if (s->key[0])
      path_key(child_path, sizeof child_path, path, s->key);
    else
      path_index(child_path, sizeof child_path, path, s->index);
    CfgNode **slot = override_slot(cur, s);
    if (k == nsteps - 1) { /* the target: replace or add */
      if (slot) {
        node_free(*slot);
        *slot = value;
        return MH_OK;
      }
      return override_add(cur, s, value, assignment, path);
    }
    CfgKind next = steps[k + 1].key[0] ? CFG_MAP : CFG_SEQ;
    if (slot && scalar_is_null(*slot)) { /* "key:" left empty: fill it in */
      CfgNode *fresh = node_new(next, 0);
      if (!fresh) {
        node_free(value);
        return MH_ERR;
      }
      node_free(*slot);
      *slot = fresh;
    }
    if (!slot) {
      CfgNode *fresh = node_new(next, 0);
      if (!fresh || override_add(cur, s, fresh, assignment, path) != MH_OK) {
        node_free(value);
        return MH_ERR;
      }
      slot = &cur->items[cur->n - 1];
    }
    cur = *slot;
    memcpy(path, child_path, sizeof path);
  }
  node_free(value); /* not reached: the last step returns */
  return MH_ERR;
}

/* ------------------------------------------------------------------------ */
/* References and errors                                                    */
/* ------------------------------------------------------------------------ */

CfgRef cfg_root(const CfgDoc *doc) {
  CfgRef r;
  memset(&r, 0, sizeof r);
  r.doc = doc;
  r.node = doc ? doc->root : NULL;
  /* Missing top-level sections are reported at line 1, whatever the root's own line. */
  r.line = (r.node && r.node->kind != CFG_MAP) ? r.node->line : 1;
  return r;
}

int cfg_child(const CfgRef *map, const char *key, CfgRef *out) {
  CfgRef r;
  r.doc = map->doc;
  path_key(r.path, sizeof r.path, map->path, key);
  int i = map->node ? node_find(map->node, key) : -1;
  r.node = i >= 0 ? map->node->items[i] : NULL;
  r.line = r.node ? r.node->line : map->line;
  *out = r;
  return r.node != NULL;
}

CfgRef cfg_item(const CfgRef *seq, int i) {
  CfgRef r;
  r.doc = seq->doc;
  path_index(r.path, sizeof r.path, seq->path, i);
  r.node = (seq->node && seq->node->kind == CFG_SEQ && i >= 0 && i < seq->node->n)
               ? seq->node->items[i]
               : NULL;
  r.line = r.node ? r.node->line : seq->line;
  return r;
}

int cfg_len(const CfgRef *seq) {
  if (!seq->node || seq->node->kind == CFG_SCALAR) return 0;
  return seq->node->n;
}

int cfg_present(const CfgRef *ref) { return ref->node != NULL; }

int cfg_is_null(const CfgRef *ref) { return !ref->node || scalar_is_null(ref->node); }

/* Line 0 marks a node made by an override: the message names "--set"
 * instead of a file line, since the value came from the command line. */
int cfg_errorf(const CfgRef *at, const char *fmt, ...) {
  char msg[CFG_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (at->line == 0) {
    if (at->path[0]) return mh_errorf("--set %s: %s", at->path, msg);
    return mh_errorf("--set: %s", msg);
  }
  const char *file = at->doc ? at->doc->file : "?";
  if (at->path[0]) return mh_errorf("%s:%d: %s: %s", file, at->line, at->path, msg);
  return mh_errorf("%s:%d: %s", file, at->line, msg);
}

/* ", got X" text for type errors: the scalar in quotes, or the kind. */
static const char *got_text(const CfgRef *ref, char *buf, size_t cap) {
  if (!ref->node) return "nothing";
  if (ref->node->kind != CFG_SCALAR) return kind_name(ref->node->kind);
  if (scalar_is_null(ref->node)) return "null";
  snprintf(buf, cap, "\"%.200s\"", ref->node->value);
  return buf;
}

static int type_error(const CfgRef *ref, const char *expected) {
  char buf[256];
  return cfg_errorf(ref, "expected %s, got %s", expected, got_text(ref, buf, sizeof buf));
}

int cfg_expect_map(const CfgRef *ref) {
  if (cfg_is_null(ref) || ref->node->kind == CFG_MAP) return MH_OK;
  return type_error(ref, "a mapping");
}

int cfg_expect_seq(const CfgRef *ref) {
  if (cfg_is_null(ref) || ref->node->kind == CFG_SEQ) return MH_OK;
  return type_error(ref, "a sequence");
}

int cfg_check_keys(const CfgRef *map, const char *const *allowed) {
  MH_TRY(cfg_expect_map(map));
  if (cfg_is_null(map)) return MH_OK;
  const CfgNode *m = map->node;
  for (int i = 0; i < m->n; i++) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++)
      if (strcmp(*a, m->keys[i]) == 0) ok = 1;
    if (ok) continue;
    CfgRef at;
    at.doc = map->doc;
    at.node = m->items[i];
    at.line = m->key_lines[i];
    path_key(at.path, sizeof at.path, map->path, m->keys[i]);
    for (const char *const *p = map->doc ? map->doc->inert : NULL; p && *p && !ok; p++)
      ok = cfg_path_matches(at.path, *p);
    if (ok) continue; /* a field the caller accepts without effect (CfgDoc.inert) */
    char list[2048] = "";
    size_t used = 0;
    for (const char *const *a = allowed; *a; a++) {
      int w = snprintf(list + used, sizeof list - used, "%s%s", a == allowed ? "" : ", ", *a);
      if (w < 0 || (size_t)w >= sizeof list - used) break;
      used += (size_t)w;
    }
    return cfg_errorf(&at, "unknown field; expected one of: %s", list);
  }
  return MH_OK;
}

int cfg_path_matches(const char *path, const char *pattern) {
  while (*path && *pattern) {
    if (*path == '[' && pattern[0] == '[' && pattern[1] == ']') {
      path++;
      while (*path >= '0' && *path <= '9') path++;
      if (*path != ']') return 0;
      path++;
      pattern += 2;
      continue;
    }
    if (*path++ != *pattern++) return 0;
  }
  return *path == '\0' && *pattern == '\0';
}

/* The inert fields found, in file order. */
typedef struct {
  int line;
  char path[256];
} InertHit;

typedef struct {
  InertHit hit[64];
  int n, more; /* found; more: beyond the 64 kept */
} InertHits;

/* Collect the fields under n (path so far) that match pattern. */
static void inert_walk(const CfgNode *n, const char *path, int line, const char *pattern,
                       InertHits *h) {
  if (!n) return;
  if (cfg_path_matches(path, pattern)) {
    if (h->n == (int)(sizeof h->hit / sizeof h->hit[0])) {
      h->more++;
      return;
    }
    h->hit[h->n].line = line;
    snprintf(h->hit[h->n].path, sizeof h->hit[h->n].path, "%s", path);
    h->n++;
    return;
  }
  char sub[256];
  for (int i = 0; i < n->n; i++) {
    if (n->kind == CFG_MAP) {
      path_key(sub, sizeof sub, path, n->keys[i]);
    } else if (n->kind == CFG_SEQ) {
      char idx[24];
      snprintf(idx, sizeof idx, "[%d]", i);
      path_append(sub, sizeof sub, path, "", idx);
    } else {
      return;
    }
    /* only descend where the pattern goes on: sub must be a prefix of it */
    const char *p = pattern, *q = sub;
    int prefix = 1;
    while (*q && prefix) {
      if (*q == '[' && p[0] == '[' && p[1] == ']') {
        q++;
        while (*q >= '0' && *q <= '9') q++;
        q += *q == ']';
        p += 2;
      } else if (*q++ != *p++) {
        prefix = 0;
      }
    }
    if (!prefix) continue;
    inert_walk(n->items[i], sub, n->kind == CFG_MAP ? n->key_lines[i] : n->items[i]->line,
               pattern, h);
  }
}

static int cmp_hit(const void *a, const void *b) {
  const InertHit *x = a, *y = b;
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  return strcmp(x->path, y->path);
}

int cfg_inert_present(const CfgDoc *doc, char *out, size_t cap) {
  InertHits *h = calloc(1, sizeof *h);
  if (cap) out[0] = '\0';
  if (!h) return 0;
  for (const char *const *p = doc->inert; p && *p; p++) inert_walk(doc->root, "", 1, *p, h);
  qsort(h->hit, (size_t)h->n, sizeof h->hit[0], cmp_hit);
  size_t used = 0;
  for (int i = 0; i < h->n && used + 1 < cap; i++) {
    int w = h->hit[i].line > 0
                ? snprintf(out + used, cap - used, "%s%s (line %d)", i ? ", " : "",
                           h->hit[i].path, h->hit[i].line)
                : snprintf(out + used, cap - used, "%s%s (--set)", i ? ", " : "", h->hit[i].path);
    if (w < 0 || (size_t)w >= cap - used) break;
    used += (size_t)w;
  }
  if (h->more && used + 1 < cap) snprintf(out + used, cap - used, " and %d more", h->more);
  const int count = h->n + h->more;
  free(h);
  return count;
}

/* ------------------------------------------------------------------------ */
/* Scalar conversions                                                       */
/* ------------------------------------------------------------------------ */

/* Decimal integer with an optional sign; nothing else (no 1.5, 1e3, 0x10). */
static int parse_int(const char *s, int64_t *out) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (!*p) return 0;
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9') return 0;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (errno == ERANGE || *end) return 0;
  *out = (int64_t)v;
  return 1;
}

/* A finite decimal number; hex floats, inf and nan are refused. */
static int parse_double(const char *s, double *out) {
  if (!*s) return 0;
  for (const char *q = s; *q; q++)
    if (!strchr("0123456789+-.eE", *q)) return 0;
  errno = 0;
  char *end = NULL;
  double v = strtod(s, &end);
  if (end == s || *end || !isfinite(v) || errno == ERANGE) return 0;
  *out = v;
  return 1;
}

int cfg_as_int(const CfgRef *ref, int64_t min, int64_t max, int64_t *out) {
  int64_t v;
  if (!ref->node || ref->node->kind != CFG_SCALAR || scalar_is_null(ref->node) ||
      !parse_int(ref->node->value, &v)) {
    char buf[256];
    if (ref->node && ref->node->kind == CFG_SCALAR && !scalar_is_null(ref->node)) {
      double d;
      if (parse_double(ref->node->value, &d) && fabs(d) >= 9.2e18)
        return cfg_errorf(ref, "must be in [%" PRId64 ", %" PRId64 "], got %s", min, max,
                          ref->node->value);
    }
    return cfg_errorf(ref, "expected an integer, got %s", got_text(ref, buf, sizeof buf));
  }
  if (v < min || v > max)
    return cfg_errorf(ref, "must be in [%" PRId64 ", %" PRId64 "], got %" PRId64, min, max, v);
  *out = v;
  return MH_OK;
}

int cfg_as_double(const CfgRef *ref, double min, double max, double *out) {
  double v;
  if (!ref->node || ref->node->kind != CFG_SCALAR || scalar_is_null(ref->node) ||
      !parse_double(ref->node->value, &v))
    return type_error(ref, "a number");
  if (v < min || v > max) return cfg_errorf(ref, "must be in [%g, %g], got %g", min, max, v);
  *out = v;
  return MH_OK;
}

int cfg_as_string(const CfgRef *ref, char *out, size_t cap) {
  if (!ref->node || ref->node->kind != CFG_SCALAR) return type_error(ref, "a string");
  size_t len = strlen(ref->node->value);
  if (len >= cap)
    return cfg_errorf(ref, "too long (%zu characters; at most %zu)", len, cap ? cap - 1 : 0);
  memcpy(out, ref->node->value, len + 1);
  return MH_OK;
}

static int as_bool(const CfgRef *ref, int *out) {
  static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
  static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
  if (ref->node && ref->node->kind == CFG_SCALAR) {
    for (int i = 0; yes[i]; i++) {
      if (strcmp(yes[i], ref->node->value) == 0) {
        *out = 1;
        return MH_OK;
      }
      if (strcmp(no[i], ref->node->value) == 0) {
        *out = 0;
        return MH_OK;
      }
    }
  }
  return type_error(ref, "true or false");
}

static int as_enum(const CfgRef *ref, const char *const *choices, int *out) {
  if (ref->node && ref->node->kind == CFG_SCALAR && !scalar_is_null(ref->node))
    for (int i = 0; choices[i]; i++) {
      if (strcmp(choices[i], ref->node->value) == 0) {
        *out = i;
        return MH_OK;
      }
    }
  char list[1024] = "";
  size_t used = 0;
  for (int i = 0; choices[i]; i++) {
    int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", choices[i]);
    if (w < 0 || (size_t)w >= sizeof list - used) break;
    used += (size_t)w;
  }
  char buf[256];
  return cfg_errorf(ref, "expected one of %s, got %s", list, got_text(ref, buf, sizeof buf));
}

static int as_duration(const CfgRef *ref, int64_t *out) {
  if (!ref->node || ref->node->kind != CFG_SCALAR || scalar_is_null(ref->node)) {
    char buf[256];
    return cfg_errorf(ref, "expected a duration like 30d (<int> then one of s m h d w y), got %s",
                      got_text(ref, buf, sizeof buf));
  }
  if (duration_parse(ref->node->value, out) == MH_OK) return MH_OK;
  char msg[CFG_MSG];
  snprintf(msg, sizeof msg, "%s", mh_error());
  return cfg_errorf(ref, "%s", msg);
}

/* ------------------------------------------------------------------------ */
/* Getters on map[key]                                                      */
/* ------------------------------------------------------------------------ */

/* Look key up in map. Returns 1 when a non-null value is there, 0 when it
 * is absent or null, -1 (error recorded) when map is not a mapping. */
static int lookup(const CfgRef *map, const char *key, CfgRef *out) {
  if (!cfg_is_null(map) && map->node->kind != CFG_MAP) {
    type_error(map, "a mapping");
    return -1;
  }
  cfg_child(map, key, out);
  return cfg_is_null(out) ? 0 : 1;
}

static int missing(const CfgRef *ref) { return cfg_errorf(ref, "missing required field"); }

int cfg_get_int(const CfgRef *map, const char *key, int64_t def, int64_t min, int64_t max,
                int64_t *out) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) {
    *out = def;
    return MH_OK;
  }
  return cfg_as_int(&r, min, max, out);
}

int cfg_req_int(const CfgRef *map, const char *key, int64_t min, int64_t max, int64_t *out) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) return missing(&r);
  return cfg_as_int(&r, min, max, out);
}

int cfg_get_double(const CfgRef *map, const char *key, double def, double min, double max,
                   double *out) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) {
    *out = def;
    return MH_OK;
  }
  return cfg_as_double(&r, min, max, out);
}

int cfg_req_double(const CfgRef *map, const char *key, double min, double max, double *out) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) return missing(&r);
  return cfg_as_double(&r, min, max, out);
}

int cfg_get_bool(const CfgRef *map, const char *key, int def, int *out) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) {
    *out = def;
    return MH_OK;
  }
  return as_bool(&r, out);
}

int cfg_get_string(const CfgRef *map, const char *key, const char *def, char *out, size_t cap) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) {
    const char *d = def ? def : "";
    if (strlen(d) >= cap) return cfg_errorf(&r, "default value too long");
    memcpy(out, d, strlen(d) + 1);
    return MH_OK;
  }
  return cfg_as_string(&r, out, cap);
}

int cfg_req_string(const CfgRef *map, const char *key, char *out, size_t cap) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) return missing(&r);
  return cfg_as_string(&r, out, cap);
}

int cfg_get_enum(const CfgRef *map, const char *key, const char *const *choices, int def, int *out) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) {
    *out = def;
    return MH_OK;
  }
  return as_enum(&r, choices, out);
}

int cfg_req_enum(const CfgRef *map, const char *key, const char *const *choices, int *out) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) return missing(&r);
  return as_enum(&r, choices, out);
}

int cfg_get_duration(const CfgRef *map, const char *key, int64_t def, int64_t *out) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) {
    *out = def;
    return MH_OK;
  }
  return as_duration(&r, out);
}

int cfg_req_duration(const CfgRef *map, const char *key, int64_t *out) {
  CfgRef r;
  int k = lookup(map, key, &r);
  if (k < 0) return MH_ERR;
  if (k == 0) return missing(&r);
  return as_duration(&r, out);
}

int cfg_is_safe_name(const char *s) {
  static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
  return s[0] != '.' && strspn(s, ok) == strlen(s);
}
