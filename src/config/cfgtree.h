/* cfgtree.h - a YAML document as a tree of nodes that remember their line,
 * with typed accessors whose errors name file:line and the field path.
 *
 * libyaml parses the file; this module owns the tree (so --set overrides can
 * edit it) and the error format:
 *     FILE:LINE: PATH: MESSAGE
 * e.g. "configs/x.yaml:14: training.batch_size: expected an integer, got \"abc\"".
 * PATH uses dots for map keys and [i] for sequence items
 * ("evaluation.datasets[0].metrics[1].name"). A node that a --set override
 * created has line 0, and messages about it read "--set PATH: MESSAGE"
 * (e.g. "--set training.batch_size: must be in [1, 1048576], got 0"): the
 * value came from the command line, so a file line would mislead.
 * A missing top-level section is reported at line 1; a missing field at the
 * line of its parent map's first key.
 * It does not know what a pipeline is (see pipeline.h). */
#ifndef MH_CFGTREE_H
#define MH_CFGTREE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CFG_SCALAR, CFG_MAP, CFG_SEQ } CfgKind;

typedef struct CfgNode {
  CfgKind kind;
  int line;               /* 1-based line of the node's first character */
  char *value;            /* CFG_SCALAR: the text; NULL otherwise */
  int quoted;             /* CFG_SCALAR: 1 if written in quotes ("null" stays a string) */
  int n;                  /* CFG_MAP/CFG_SEQ: number of children */
  char **keys;            /* CFG_MAP: keys[i] names items[i] */
  int *key_lines;         /* CFG_MAP: line of each key */
  struct CfgNode **items; /* children */
} CfgNode;

typedef struct {
  char file[512]; /* name used in messages (path as given, or "--set") */
  CfgNode *root;  /* a CFG_MAP for a pipeline file; NULL for an empty file */
  /* Field paths that cfg_check_keys accepts without knowing them (NULL
   * terminated; NULL: none), "[]" standing for any sequence index, e.g.
   * "evaluation.datasets[].dataloader_workers". Set after loading. */
  const char *const *inert;
} CfgDoc;

/* A position in a document: the node and its path. Cheap to copy. A ref
 * with node == NULL stands for an absent optional section. */
typedef struct {
  const CfgDoc *doc;
  const CfgNode *node;
  int line;        /* line for messages: node's line, or the parent's for absent nodes */
  char path[256];  /* "" for the root */
} CfgRef;

/* Load a file or a string. YAML syntax errors give
 * "FILE:LINE: YAML syntax error: PROBLEM (CONTEXT)" (libyaml's texts);
 * anchors/aliases, merge keys (<<), non-scalar keys, duplicate keys
 * ("FILE:LINE: PATH.key: duplicate field") and a second document are
 * errors. An empty document (or a lone null) gives root == NULL. On error
 * the doc holds nothing. A missing file: "cannot read FILE: reason". */
int cfg_load_file(const char *path, CfgDoc *doc);
int cfg_load_string(const char *name, const char *text, CfgDoc *doc);
void cfg_doc_free(CfgDoc *doc);
/* Read a whole file into a NUL-terminated malloc'ed buffer (*len bytes, len
 * may be NULL). Error: "cannot read FILE: reason". */
int cfg_read_text(const char *path, char **text, size_t *len);
/* Write the tree back as YAML (the resolved configuration of a run), via
 * PATH.tmp and a rename. Loading the file gives a cfg_equal tree. */
int cfg_write_yaml(const CfgDoc *doc, const char *path);
/* One node as a one-line YAML flow text ("1y", "[1, 2]", "{id: X, every:
 * 1y}", "\"null\"" for a quoted string), what cfg_apply_override reads
 * back as the same node. Error when it does not fit in cap bytes. */
int cfg_flow_text(const CfgNode *n, char *out, size_t cap);
/* 1 when two trees have the same shape, keys, values and quoting (lines
 * are ignored). */
int cfg_equal(const CfgNode *a, const CfgNode *b);

/* Apply "a.b.c=value": the value is parsed as one YAML flow node
 * ("128", "1y", "[1, 2]", "{every: 1y}"; empty = null, i.e. the default);
 * a block value ("a: b") must be quoted. Missing intermediate maps are
 * created; a sequence item is addressed as "a.b[2].c" (an existing item, or
 * [N] with N = length to append). Errors in the assignment itself:
 * "--set a.b.c=v: MESSAGE". */
int cfg_apply_override(CfgDoc *doc, const char *assignment);

CfgRef cfg_root(const CfgDoc *doc);
/* Child of a map: returns 1 and sets *out when present, 0 (and *out to an
 * absent ref with the right path) when absent. */
int cfg_child(const CfgRef *map, const char *key, CfgRef *out);
/* Item i of a sequence. */
CfgRef cfg_item(const CfgRef *seq, int i);
int cfg_len(const CfgRef *seq); /* items of a sequence or map; 0 when absent */
int cfg_present(const CfgRef *ref);
int cfg_is_null(const CfgRef *ref); /* absent, or the plain scalar null/~ */

/* Record "FILE:LINE: PATH: MESSAGE" as the error (mh_errorf). Returns MH_ERR. */
int cfg_errorf(const CfgRef *at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Check that ref is a map (or absent) whose keys are all in allowed (NULL
 * terminated). Unknown key: "FILE:LINE: PATH.key: unknown field; expected
 * one of: a, b, c". Not a map: "...: expected a mapping". */
int cfg_check_keys(const CfgRef *map, const char *const *allowed);
/* 1 when path ("a.b[3].c") matches pattern ("a.b[].c"; "[]" is any index). */
int cfg_path_matches(const char *path, const char *pattern);
/* Each field of doc->inert present in the document: "PATH (line N)",
 * comma-separated, into out (cap bytes; "" when none). Returns how many. */
int cfg_inert_present(const CfgDoc *doc, char *out, size_t cap);
int cfg_expect_map(const CfgRef *ref);
int cfg_expect_seq(const CfgRef *ref);

/* Typed getters on map[key]. get_* use def when the key is absent (or null);
 * req_* fail with "FILE:LINE: PATH.key: missing required field" (line of the
 * map). Range errors: "PATH.key: must be in [min, max], got X" (doubles
 * with %g). Type errors: "PATH.key: expected an integer, got \"abc\""
 * (also "a number", "true or false", "a string", "a mapping", "a sequence";
 * a collection shows as "got a mapping"/"got a sequence"). Integers are
 * decimal with an optional sign (no 1.5, 1e3); numbers are finite decimals.
 * Numbers and booleans are accepted quoted or not. Getters on a map ref
 * that is not a mapping fail with "PATH: expected a mapping, got ...". */
int cfg_get_int(const CfgRef *map, const char *key, int64_t def, int64_t min, int64_t max,
                int64_t *out);
int cfg_req_int(const CfgRef *map, const char *key, int64_t min, int64_t max, int64_t *out);
int cfg_get_double(const CfgRef *map, const char *key, double def, double min, double max,
                   double *out);
int cfg_req_double(const CfgRef *map, const char *key, double min, double max, double *out);
/* true/false (YAML 1.1 also yes/no/on/off). */
int cfg_get_bool(const CfgRef *map, const char *key, int def, int *out);
/* Strings are copied into out (cap bytes incl. NUL); too long is an error. */
int cfg_get_string(const CfgRef *map, const char *key, const char *def, char *out, size_t cap);
int cfg_req_string(const CfgRef *map, const char *key, char *out, size_t cap);
/* One of choices (NULL terminated, case-sensitive); *out is the index.
 * Error: "PATH.key: expected one of A, B, C, got \"x\"". */
int cfg_get_enum(const CfgRef *map, const char *key, const char *const *choices, int def,
                 int *out);
int cfg_req_enum(const CfgRef *map, const char *key, const char *const *choices, int *out);
/* Duration "<int>[s|m|h|d|w|y]" in seconds (core/duration.h); the error is
 * duration_parse's message: "PATH.key: expected a duration like 30d ...". */
int cfg_get_duration(const CfgRef *map, const char *key, int64_t def, int64_t *out);
int cfg_req_duration(const CfgRef *map, const char *key, int64_t *out);

/* Scalar conversions of a ref itself (for sequence items). Strings: any
 * scalar's text; too long: "PATH: too long (N characters; at most M)". */
int cfg_as_int(const CfgRef *ref, int64_t min, int64_t max, int64_t *out);
int cfg_as_double(const CfgRef *ref, double min, double max, double *out);
int cfg_as_string(const CfgRef *ref, char *out, size_t cap);

/* 1 when s can name a folder under runs/: letters, digits, '.', '_', '-',
 * not starting with '.' (no path can leave the folder). */
int cfg_is_safe_name(const char *s);

#endif
