/* test_config.c - the configuration module: cfgtree accessors and their
 * messages, pipeline_parse on a full and a minimal file (every field and
 * every default), --set overrides, the YAML round trip, one malformed
 * file per class of mistake, each checked against its exact message, and
 * the original's SIGMOD selection pipelines (fields with no effect here
 * accepted, named once, kept in the resolved config). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "config/pipeline.h"
#include "core/error.h"
#include "testutil.h"

#ifndef MODYN_CONFIG_TEST_DIR
#define MODYN_CONFIG_TEST_DIR "configs"
#endif

/* tests/configs: from $MODYN_SOURCE_DIR (set by CTest), else the path
 * compiled in, so the binary also runs by hand (e.g. under valgrind). */
static char g_dir[1024];

static const char *config_path(const char *file) {
  static char path[2048];
  snprintf(path, sizeof path, "%s/%s", g_dir, file);
  return path;
}

/* The call must fail with exactly this message. */
#define CHECK_FAILS_WITH(call, expected)                                      \
  do {                                                                        \
    mh_error_clear();                                                         \
    int rc_ = (call);                                                         \
    CHECK_EQ_INT(rc_, MH_ERR);                                                \
    CHECK_STR(mh_error(), (expected));                                        \
  } while (0)

/* ---- cfgtree accessors --------------------------------------------------- */

static const char *k_accessor_yaml =
    "t:\n"                                   /* 1 */
    "  y: 1y\n"                              /* 2 */
    "  d: 30d\n"                             /* 3 */
    "  bad: 1 year\n"                        /* 4 */
    "  f: 1.5\n"                             /* 5 */
    "  e: 1e3\n"                             /* 6 */
    "  big: 9223372036854775808\n"           /* 7 */
    "  neg: -7\n"                            /* 8 */
    "  q: \"12\"\n"                          /* 9 */
    "  n: null\n"                            /* 10 */
    "  s: hello\n"                           /* 11 */
    "  b: off\n"                             /* 12 */
    "  qn: \"null\"\n"                       /* 13 */
    "  empty:\n"                             /* 14 */
    "  list: [1, 2.5, x]\n"                  /* 15 */
    "  level: High\n"                        /* 16 */
    "evaluation:\n"                          /* 17 */
    "  datasets:\n"                          /* 18 */
    "    - metrics:\n"                       /* 19 */
    "        - {name: [x]}\n";               /* 20 */

static void test_accessors(void) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("acc.yaml", k_accessor_yaml, &doc));
  CfgRef root = cfg_root(&doc), t;
  CHECK_EQ_INT(cfg_child(&root, "t", &t), 1);
  CHECK_STR(t.path, "t");
  CHECK_EQ_INT(t.line, 2); /* a block map starts at its first key */
  CHECK_EQ_INT(cfg_len(&t), 15);

  int64_t v = 0;
  CHECK_OK(cfg_get_duration(&t, "y", 0, &v));
  CHECK_EQ_INT(v, 31536000);
  CHECK_OK(cfg_get_duration(&t, "d", 0, &v));
  CHECK_EQ_INT(v, 30 * 86400);
  CHECK_OK(cfg_get_duration(&t, "absent", 77, &v));
  CHECK_EQ_INT(v, 77);
  CHECK_FAILS_WITH(cfg_get_duration(&t, "bad", 0, &v),
                   "acc.yaml:4: t.bad: expected a duration like 30d (<int> then one of s m h d w y), "
                   "got \"1 year\"");
  CHECK_FAILS_WITH(cfg_req_duration(&t, "every", &v), "acc.yaml:2: t.every: missing required field");

  CHECK_FAILS_WITH(cfg_get_int(&t, "f", 0, INT64_MIN, INT64_MAX, &v),
                   "acc.yaml:5: t.f: expected an integer, got \"1.5\"");
  CHECK_FAILS_WITH(cfg_get_int(&t, "e", 0, INT64_MIN, INT64_MAX, &v),
                   "acc.yaml:6: t.e: expected an integer, got \"1e3\"");
  CHECK_FAILS_WITH(cfg_get_int(&t, "big", 0, 0, 100, &v),
                   "acc.yaml:7: t.big: must be in [0, 100], got 9223372036854775808");
  CHECK_FAILS_WITH(cfg_get_int(&t, "neg", 0, 0, 100, &v), "acc.yaml:8: t.neg: must be in [0, 100], got -7");
  CHECK_OK(cfg_get_int(&t, "neg", 0, -10, 10, &v));
  CHECK_EQ_INT(v, -7);
  CHECK_OK(cfg_get_int(&t, "q", 0, 0, 100, &v)); /* quoted numbers are accepted */
  CHECK_EQ_INT(v, 12);
  CHECK_OK(cfg_get_int(&t, "n", 5, 0, 100, &v)); /* null = absent: the default */
  CHECK_EQ_INT(v, 5);
  CHECK_OK(cfg_get_int(&t, "empty", 6, 0, 100, &v));
  CHECK_EQ_INT(v, 6);
  CHECK_FAILS_WITH(cfg_req_int(&t, "n", 0, 100, &v), "acc.yaml:10: t.n: missing required field");
  CHECK_FAILS_WITH(cfg_req_int(&t, "empty", 0, 100, &v), "acc.yaml:14: t.empty: missing required field");
  CHECK_FAILS_WITH(cfg_req_int(&t, "list", 0, 100, &v), "acc.yaml:15: t.list: expected an integer, got a sequence");

  double d = 0;
  CHECK_OK(cfg_get_double(&t, "e", 0, 0, 1e6, &d));
  CHECK_NEAR(d, 1000.0, 0);
  CHECK_OK(cfg_req_double(&t, "f", 0, 2, &d));
  CHECK_NEAR(d, 1.5, 0);
  CHECK_FAILS_WITH(cfg_get_double(&t, "f", 0, 0, 0.5, &d), "acc.yaml:5: t.f: must be in [0, 0.5], got 1.5");
  CHECK_FAILS_WITH(cfg_get_double(&t, "s", 0, 0, 1, &d), "acc.yaml:11: t.s: expected a number, got \"hello\"");

  int b = 1;
  CHECK_OK(cfg_get_bool(&t, "b", 1, &b));
  CHECK_EQ_INT(b, 0);
  CHECK_FAILS_WITH(cfg_get_bool(&t, "s", 0, &b), "acc.yaml:11: t.s: expected true or false, got \"hello\"");

  char s[8];
  CHECK_OK(cfg_get_string(&t, "s", "x", s, sizeof s));
  CHECK_STR(s, "hello");
  CHECK_OK(cfg_get_string(&t, "qn", "x", s, sizeof s)); /* "null" in quotes is a string */
  CHECK_STR(s, "null");
  CHECK_OK(cfg_get_string(&t, "n", "dflt", s, sizeof s));
  CHECK_STR(s, "dflt");
  CHECK_FAILS_WITH(cfg_get_string(&t, "s", "", s, 4), "acc.yaml:11: t.s: too long (5 characters; at most 3)");
  CHECK_FAILS_WITH(cfg_req_string(&t, "list", s, sizeof s), "acc.yaml:15: t.list: expected a string, got a sequence");

  static const char *const levels[] = {"Low", "High", NULL};
  int e = -1;
  CHECK_OK(cfg_get_enum(&t, "level", levels, 0, &e));
  CHECK_EQ_INT(e, 1);
  CHECK_OK(cfg_get_enum(&t, "absent", levels, 0, &e));
  CHECK_EQ_INT(e, 0);
  CHECK_FAILS_WITH(cfg_req_enum(&t, "s", levels, &e),
                   "acc.yaml:11: t.s: expected one of Low, High, got \"hello\"");

  /* Sequence items and their conversions. */
  CfgRef list;
  cfg_child(&t, "list", &list);
  CHECK_EQ_INT(cfg_len(&list), 3);
  CfgRef i0 = cfg_item(&list, 0), i1 = cfg_item(&list, 1), i2 = cfg_item(&list, 2), i9 = cfg_item(&list, 9);
  CHECK_OK(cfg_as_int(&i0, 0, 10, &v));
  CHECK_EQ_INT(v, 1);
  CHECK_OK(cfg_as_double(&i1, 0, 10, &d));
  CHECK_NEAR(d, 2.5, 0);
  CHECK_FAILS_WITH(cfg_as_int(&i1, 0, 10, &v), "acc.yaml:15: t.list[1]: expected an integer, got \"2.5\"");
  CHECK_OK(cfg_as_string(&i2, s, sizeof s));
  CHECK_STR(s, "x");
  CHECK(!cfg_present(&i9));
  CHECK_STR(i9.path, "t.list[9]");

  CHECK(cfg_is_null(&i9));
  CfgRef n, qn;
  cfg_child(&t, "n", &n);
  cfg_child(&t, "qn", &qn);
  CHECK(cfg_is_null(&n));
  CHECK(!cfg_is_null(&qn));
  CHECK(cfg_present(&n));

  /* Nested paths in messages. */
  CfgRef ev, dss, metrics;
  cfg_child(&root, "evaluation", &ev);
  cfg_child(&ev, "datasets", &dss);
  CfgRef ds0 = cfg_item(&dss, 0);
  cfg_child(&ds0, "metrics", &metrics);
  CfgRef m0 = cfg_item(&metrics, 0);
  CHECK_FAILS_WITH(cfg_req_string(&m0, "name", s, sizeof s),
                   "acc.yaml:20: evaluation.datasets[0].metrics[0].name: expected a string, got a sequence");
  CHECK_FAILS_WITH(cfg_expect_map(&dss), "acc.yaml:19: evaluation.datasets: expected a mapping, got a sequence");
  CHECK_FAILS_WITH(cfg_expect_seq(&ev), "acc.yaml:18: evaluation: expected a sequence, got a mapping");
  CHECK_FAILS_WITH(cfg_get_int(&list, "x", 0, 0, 1, &v), "acc.yaml:15: t.list: expected a mapping, got a sequence");

  static const char *const allowed[] = {"datasets", "device", NULL};
  CHECK_OK(cfg_check_keys(&ev, allowed));
  static const char *const only_t[] = {"t", NULL};
  CHECK_FAILS_WITH(cfg_check_keys(&root, only_t), "acc.yaml:17: evaluation: unknown field; expected one of: t");
  CfgRef absent;
  CHECK_EQ_INT(cfg_child(&root, "absent", &absent), 0);
  CHECK_OK(cfg_check_keys(&absent, allowed));
  CHECK_FAILS_WITH(cfg_errorf(&absent, "custom %d", 3), "acc.yaml:1: absent: custom 3");
  CHECK_FAILS_WITH(cfg_errorf(&root, "at the root"), "acc.yaml:1: at the root");
  cfg_doc_free(&doc);

  /* Loader refusals. */
  CHECK_FAILS_WITH(cfg_load_string("m.yaml", "a: 1\nb:\n  <<: {c: 1}\n", &doc),
                   "m.yaml:3: b.<<: merge keys (<<) are not supported; write the fields out");
  CHECK_FAILS_WITH(cfg_load_string("m.yaml", "a: 1\n? [x]\n: 2\n", &doc),
                   "m.yaml:2: mapping keys must be plain strings, not collections");
  CHECK_FAILS_WITH(cfg_load_string("m.yaml", "a: &x 1\nb: *x\n", &doc),
                   "m.yaml:1: a: anchors (&) and aliases (*) are not supported; write the value out");
  CHECK_FAILS_WITH(cfg_load_string("m.yaml", "a: 1\n---\nb: 2\n", &doc),
                   "m.yaml:2: a second YAML document (---) is not supported; use one document per file");
  CHECK_FAILS_WITH(cfg_load_string("m.yaml", "a:\n\tb: 1\n", &doc),
                   "m.yaml:2: YAML syntax error: found character that cannot start any token "
                   "(while scanning for the next token)");
  CHECK_OK(cfg_load_string("empty.yaml", "# only a comment\n", &doc));
  CHECK(doc.root == NULL);
  cfg_doc_free(&doc);
  CHECK_FAILS_WITH(cfg_load_file("/nonexistent/x.yaml", &doc),
                   "cannot read /nonexistent/x.yaml: No such file or directory");
}

/* ---- Overrides on a bare document ---------------------------------------- */

static void test_overrides_tree(void) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("o.yaml", "a:\n  list: [{x: 1}, {x: 2}]\n  s: 5\n  empty:\n", &doc));
  CHECK_OK(cfg_apply_override(&doc, "a.s=7"));
  CHECK_OK(cfg_apply_override(&doc, "a.list[1].x=9"));
  CHECK_OK(cfg_apply_override(&doc, "a.list[2]={x: 3}")); /* [len] appends */
  CHECK_OK(cfg_apply_override(&doc, "new.deep.key=[1, 2]"));
  CHECK_OK(cfg_apply_override(&doc, "a.empty.k=v")); /* an empty value becomes a map */
  CHECK_OK(cfg_apply_override(&doc, "a.eq=x=y")); /* only the first '=' splits */

  CfgRef root = cfg_root(&doc), a, list, deep, key, s;
  cfg_child(&root, "a", &a);
  int64_t v = 0;
  CHECK_OK(cfg_get_int(&a, "s", 0, 0, 100, &v));
  CHECK_EQ_INT(v, 7);
  cfg_child(&a, "list", &list);
  CHECK_EQ_INT(cfg_len(&list), 3);
  CfgRef it1 = cfg_item(&list, 1), it2 = cfg_item(&list, 2);
  CHECK_OK(cfg_get_int(&it1, "x", 0, 0, 100, &v));
  CHECK_EQ_INT(v, 9);
  CHECK_OK(cfg_get_int(&it2, "x", 0, 0, 100, &v));
  CHECK_EQ_INT(v, 3);
  CfgRef nw;
  cfg_child(&root, "new", &nw);
  cfg_child(&nw, "deep", &deep);
  cfg_child(&deep, "key", &key);
  CHECK_EQ_INT(cfg_len(&key), 2);
  CHECK_EQ_INT(key.line, 0);
  CfgRef emp;
  cfg_child(&a, "empty", &emp);
  char buf[16];
  CHECK_OK(cfg_get_string(&emp, "k", "", buf, sizeof buf));
  CHECK_STR(buf, "v");
  CHECK_OK(cfg_get_string(&a, "eq", "", buf, sizeof buf));
  CHECK_STR(buf, "x=y");
  /* Messages about override-made nodes name --set, not a file line. */
  cfg_child(&a, "s", &s);
  CHECK_FAILS_WITH(cfg_as_int(&s, 0, 5, &v), "--set a.s: must be in [0, 5], got 7");
  CfgRef absent;
  cfg_child(&deep, "other", &absent);
  CHECK_FAILS_WITH(cfg_req_int(&deep, "other", 0, 1, &v), "--set new.deep.other: missing required field");

  CHECK_FAILS_WITH(cfg_apply_override(&doc, "a.s"), "--set a.s: expected PATH=VALUE, e.g. training.batch_size=128");
  CHECK_FAILS_WITH(cfg_apply_override(&doc, "=1"), "--set =1: expected PATH=VALUE, e.g. training.batch_size=128");
  CHECK_FAILS_WITH(cfg_apply_override(&doc, "a..s=1"), "--set a..s=1: empty field name in the path");
  CHECK_FAILS_WITH(cfg_apply_override(&doc, "a.list[x]=1"),
                   "--set a.list[x]=1: expected [N] with a non-negative index");
  CHECK_FAILS_WITH(cfg_apply_override(&doc, "a.list[5].x=1"),
                   "--set a.list[5].x=1: index 5 out of range (a.list has 3 items; use [3] to append)");
  CHECK_FAILS_WITH(cfg_apply_override(&doc, "a.s.x=1"), "--set a.s.x=1: a.s is a scalar, not a mapping");
  CHECK_FAILS_WITH(cfg_apply_override(&doc, "a.list.x=1"), "--set a.list.x=1: a.list is a sequence, not a mapping");
  CHECK_FAILS_WITH(cfg_apply_override(&doc, "a[0]=1"), "--set a[0]=1: a is a mapping, not a sequence");
  CHECK_FAILS_WITH(cfg_apply_override(&doc, "a.s=[1,"),
                   "--set a.s=[1,: YAML syntax error: did not find expected node content "
                   "(while parsing a flow node)");
  CHECK_FAILS_WITH(cfg_apply_override(&doc, "a.s=x: y"),
                   "--set a.s=x: y: the value must be a scalar, [a, sequence] or {a: mapping}; "
                   "quote values that contain \": \" or start with \"- \"");
  /* A failed override leaves the value it aimed at alone. */
  CHECK_OK(cfg_get_int(&a, "s", 0, 0, 100, &v));
  CHECK_EQ_INT(v, 7);
  cfg_doc_free(&doc);
}

/* ---- The full pipeline file ---------------------------------------------- */

static void check_full(const PipelineConfig *c, const char *dir) {
  char want[2048];
  CHECK_STR(c->name, "quickstart");
  CHECK_STR(c->description, "Logistic regression on a drifting synthetic stream");
  CHECK_STR(c->version, "1.0.0");
  CHECK_STR(c->model_id, "LogisticRegression");
  int64_t v = 0;
  CHECK_OK(cfg_req_int(&c->model_config, "num_classes", 1, 100, &v));
  CHECK_EQ_INT(v, 4);
  CHECK(cfg_present(&c->model_storage));
  CHECK_STR(c->model_storage.path, "model_storage");

  const TrainingConfig *t = &c->training;
  CHECK_STR(t->device, "cuda:1");
  CHECK_EQ_INT(t->batch_size, 64);
  CHECK_EQ_INT(t->drop_last_batch, 1);
  CHECK_EQ_INT(t->shuffle, 0);
  CHECK_EQ_INT(t->epochs_per_trigger, 2);
  /* A single number: shorthand for every trigger. */
  CHECK_EQ_INT(t->num_samples_to_pass_len, -1);
  CHECK_EQ_INT(pipeline_samples_to_pass(t, 0), 5000);
  CHECK_EQ_INT(pipeline_samples_to_pass(t, 7), 5000);
  CHECK_EQ_INT(t->use_previous_model, 0);
  CHECK_STR(t->initial_model, "pretrained");
  CHECK_STR(t->initial_model_path, "models/start.h5");
  CHECK_EQ_INT(t->seed, 7);
  CHECK_EQ_INT(t->amp, 1);
  CHECK_STR(t->optimizer.name, "main");
  CHECK_STR(t->optimizer.algorithm, "SGD");
  CHECK_STR(t->optimizer.source, "PyTorch");
  CHECK_EQ_INT(t->optimizer.num_groups, 1);
  const ParamGroupConfig *g = &t->optimizer.groups[0];
  CHECK_STR(g->module, "model");
  CHECK_NEAR(g->lr, 0.1, 0);
  CHECK_NEAR(g->momentum, 0.9, 0);
  CHECK_NEAR(g->weight_decay, 0.0001, 0);
  CHECK_EQ_INT(g->nesterov, 1);
  CHECK_NEAR(g->beta1, 0.9, 0);
  CHECK_NEAR(g->beta2, 0.999, 0);
  CHECK_NEAR(g->eps, 1e-8, 0);
  CHECK_STR(t->optimization_criterion, "BCEWithLogitsLoss");
  CHECK_EQ_INT(t->record_loss_every, 10);
  CHECK_EQ_INT(t->num_prefetched_partitions, 2);
  CHECK_EQ_INT(t->parallel_prefetch_requests, 3);
  char s[64];
  CHECK_OK(cfg_req_string(&t->lr_scheduler, "step_every", s, sizeof s));
  CHECK_STR(s, "batch");
  int b = 1;
  CHECK_OK(cfg_get_bool(&t->checkpointing, "activated", 1, &b));
  CHECK_EQ_INT(b, 0);

  CHECK_STR(c->data.dataset_id, "synth_train");
  snprintf(want, sizeof want, "%s/synth_train", dir);
  CHECK_STR(c->data.path, want);
  CHECK_EQ_INT(cfg_len(&c->data.transformations), 1);

  CHECK_STR(c->trigger_id, "TimeTrigger");
  CHECK_OK(cfg_req_duration(&c->trigger, "every", &v));
  CHECK_EQ_INT(v, 31536000);
  CHECK_STR(c->selection_name, "NewDataStrategy");
  CHECK_OK(cfg_get_int(&c->selection, "limit", 0, -1, INT64_MAX, &v));
  CHECK_EQ_INT(v, -1);

  const EvaluationConfig *e = &c->evaluation;
  CHECK_EQ_INT(e->enabled, 1);
  CHECK_STR(e->device, "cpu");
  CHECK_EQ_INT(e->num_datasets, 2);
  CHECK_STR(e->datasets[0].dataset_id, "synth_test");
  snprintf(want, sizeof want, "%s/synth_test", dir);
  CHECK_STR(e->datasets[0].path, want);
  CHECK_EQ_INT(e->datasets[0].batch_size, 128);
  CHECK_EQ_INT(e->datasets[0].num_metrics, 2);
  CHECK_STR(e->datasets[0].metrics[0].name, "Accuracy");
  CHECK_STR(e->datasets[0].metrics[1].name, "F1Score");
  CHECK_OK(cfg_req_string(&e->datasets[0].metrics[1].ref, "average", s, sizeof s));
  CHECK_STR(s, "macro");
  CHECK_STR(e->datasets[1].dataset_id, "holdout");
  CHECK_STR(e->datasets[1].path, "/scratch/holdout_store");
  CHECK_EQ_INT(e->datasets[1].batch_size, 256);
  CHECK_EQ_INT(e->datasets[1].num_metrics, 1);
  CHECK_OK(cfg_req_int(&e->datasets[1].metrics[0].ref, "topn", 1, 10, &v));
  CHECK_EQ_INT(v, 2);
  CHECK_EQ_INT(e->num_handlers, 2);
  CHECK_STR(e->handlers[0].name, "slicing");
  CHECK_STR(e->handlers[0].execution_time, "after_training");
  CHECK_STR(e->handlers[0].models, "matrix");
  CHECK_STR(e->handlers[0].strategy_type, "SlicingEvalStrategy");
  CHECK_OK(cfg_req_duration(&e->handlers[0].strategy, "eval_every", &v));
  CHECK_EQ_INT(v, 31536000);
  CHECK_EQ_INT(e->handlers[0].num_datasets, 1);
  CHECK_STR(e->handlers[0].datasets[0], "synth_test");
  CHECK_STR(e->handlers[1].name, "periodic");
  CHECK_STR(e->handlers[1].execution_time, "after_pipeline");
  CHECK_STR(e->handlers[1].models, "active");
  CHECK_STR(e->handlers[1].strategy_type, "PeriodicEvalStrategy");
  CHECK_OK(cfg_req_string(&e->handlers[1].strategy, "interval", s, sizeof s));
  CHECK_STR(s, "[-25h; +25h]");
  CHECK_EQ_INT(e->handlers[1].num_datasets, 2); /* omitted: all datasets */
  CHECK_STR(e->handlers[1].datasets[0], "synth_test");
  CHECK_STR(e->handlers[1].datasets[1], "holdout");

  CHECK_EQ_INT(c->experiment.start_replay_at, 0);
  CHECK_EQ_INT(c->experiment.stop_replay_at, 1000000);
  CHECK_EQ_INT(c->experiment.maximum_triggers, 12);
}

static void test_full(void) {
  PipelineConfig c;
  CHECK_OK(pipeline_load(config_path("valid_full.yaml"), NULL, 0, "/data/stores/", &c));
  check_full(&c, "/data/stores");

  /* The resolved tree written out loads back to the same tree and values. */
  char out[600];
  snprintf(out, sizeof out, "%s/config.yaml", test_tmpdir("config"));
  CHECK_OK(cfg_write_yaml(&c.doc, out));
  PipelineConfig again;
  CHECK_OK(pipeline_load(out, NULL, 0, "/data/stores", &again));
  CHECK(cfg_equal(c.doc.root, again.doc.root));
  check_full(&again, "/data/stores");
  pipeline_free(&again);
  pipeline_free(&c);
  CHECK(c.doc.root == NULL);
  pipeline_free(&c); /* twice is harmless */

  /* Data directory: argument, then $MODYN_DATA_DIR, then "data". */
  setenv("MODYN_DATA_DIR", "/env/stores", 1);
  CHECK_OK(pipeline_load(config_path("valid_full.yaml"), NULL, 0, NULL, &c));
  CHECK_STR(c.data.path, "/env/stores/synth_train");
  pipeline_free(&c);
  unsetenv("MODYN_DATA_DIR");
  CHECK_OK(pipeline_load(config_path("valid_full.yaml"), NULL, 0, NULL, &c));
  CHECK_STR(c.data.path, "data/synth_train");
  CHECK_STR(c.evaluation.datasets[0].path, "data/synth_test");
  pipeline_free(&c);
}

/* ---- Overrides through pipeline_load ------------------------------------- */

static void test_full_overrides(void) {
  const char *const sets[] = {
      "training.batch_size=128",
      "trigger.every=2y",
      "training.optimizers[0].algorithm=Adam",
      "training.optimizers[0].param_groups[0].config={lr: 0.001, betas: [0.8, 0.99], eps: 1e-6}",
      "data.path=/scratch/train_store",
      "pipeline.description=",
      "model.config.hidden=[16, 8]",
      "model_storage.incremental.name=Delta",
      "experiment.maximum_triggers=-1",
      "evaluation.handlers[0].datasets=[holdout, synth_test]",
  };
  PipelineConfig c;
  CHECK_OK(pipeline_load(config_path("valid_full.yaml"), sets, (int)(sizeof sets / sizeof sets[0]),
                         "/d", &c));
  CHECK_EQ_INT(c.training.batch_size, 128);
  int64_t v = 0;
  CHECK_OK(cfg_req_duration(&c.trigger, "every", &v));
  CHECK_EQ_INT(v, 2 * 31536000LL);
  CHECK_STR(c.training.optimizer.algorithm, "Adam");
  const ParamGroupConfig *g = &c.training.optimizer.groups[0];
  CHECK_NEAR(g->lr, 0.001, 0);
  CHECK_NEAR(g->momentum, 0, 0);
  CHECK_NEAR(g->weight_decay, 0, 0);
  CHECK_EQ_INT(g->nesterov, 0);
  CHECK_NEAR(g->beta1, 0.8, 0);
  CHECK_NEAR(g->beta2, 0.99, 0);
  CHECK_NEAR(g->eps, 1e-6, 0);
  CHECK_STR(c.data.dataset_id, "synth_train");
  CHECK_STR(c.data.path, "/scratch/train_store"); /* path wins over dataset_id */
  CHECK_STR(c.description, "");
  CfgRef hidden, inc;
  cfg_child(&c.model_config, "hidden", &hidden);
  CHECK_EQ_INT(cfg_len(&hidden), 2);
  CHECK(cfg_child(&c.model_storage, "incremental", &inc));
  char s[32];
  CHECK_OK(cfg_req_string(&inc, "name", s, sizeof s));
  CHECK_STR(s, "Delta");
  CHECK_EQ_INT(c.experiment.maximum_triggers, -1);
  CHECK_EQ_INT(c.evaluation.handlers[0].num_datasets, 2);
  CHECK_STR(c.evaluation.handlers[0].datasets[0], "holdout");

  /* The overridden tree round-trips too. */
  char out[600];
  snprintf(out, sizeof out, "%s/config.yaml", test_tmpdir("config_set"));
  CHECK_OK(cfg_write_yaml(&c.doc, out));
  CfgDoc back;
  CHECK_OK(cfg_load_file(out, &back));
  CHECK(cfg_equal(c.doc.root, back.root));
  cfg_doc_free(&back);
  pipeline_free(&c);
}

/* ---- The minimal file: every default ------------------------------------- */

/* The original's spellings and lists: models `training` (its schema) and
 * `train` (its code) are one choice; execution_time manual; a
 * num_samples_to_pass list applies element i to trigger i, and triggers
 * past its end fall back to the epochs (0). */
static void test_original_spellings(void) {
  static const char *const models[][2] = {
      {"matrix", "matrix"}, {"active", "active"}, {"train", "train"}, {"training", "train"}};
  for (int i = 0; i < 4; i++) {
    char set[256];
    snprintf(set, sizeof set,
             "evaluation={datasets: [{dataset_id: t, metrics: [{name: Accuracy}]}], handlers: "
             "[{models: %s, execution_time: manual, strategy: {type: SlicingEvalStrategy}}]}",
             models[i][0]);
    const char *sets[] = {set};
    PipelineConfig c;
    CHECK_OK(pipeline_load(config_path("valid_minimal.yaml"), sets, 1, "stores", &c));
    CHECK_STR(c.evaluation.handlers[0].models, models[i][1]);
    CHECK_STR(c.evaluation.handlers[0].execution_time, "manual");
    pipeline_free(&c);
  }
  const char *list[] = {"training.num_samples_to_pass=[100, 0, 250]"};
  PipelineConfig c;
  CHECK_OK(pipeline_load(config_path("valid_minimal.yaml"), list, 1, "stores", &c));
  CHECK_EQ_INT(c.training.num_samples_to_pass_len, 3);
  const int64_t want[] = {100, 0, 250, 0, 0};
  for (int i = 0; i < 5; i++) CHECK_EQ_INT(pipeline_samples_to_pass(&c.training, i), want[i]);
  TrainOptions o;
  pipeline_train_options(&c, &o);
  CHECK_EQ_INT(o.num_samples_to_pass, 100); /* trigger 0's */
  pipeline_free(&c);
  static const struct {
    const char *set, *message;
  } bad[] = {
      {"training.num_samples_to_pass=[]",
       "--set training.num_samples_to_pass: lists no numbers; omit it to train epochs_per_trigger "
       "epochs"},
      {"training.num_samples_to_pass=[10, -1]",
       "--set training.num_samples_to_pass[1]: must be in [0, 9223372036854775807], got -1"},
      {"training.num_samples_to_pass={a: 1}",
       "--set training.num_samples_to_pass: expected a number of samples or a list of them "
       "(one per trigger)"},
      {"evaluation={datasets: [{dataset_id: t, metrics: [{name: Accuracy}]}], handlers: [{models: "
       "trained, strategy: {type: SlicingEvalStrategy}}]}",
       "--set evaluation.handlers[0].models: expected one of matrix, active, train, training, got "
       "\"trained\""},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *sets[] = {bad[i].set};
    CHECK_FAILS_WITH(pipeline_load(config_path("valid_minimal.yaml"), sets, 1, "stores", &c),
                     bad[i].message);
  }
}

static void test_minimal_defaults(void) {
  PipelineConfig c;
  CHECK_OK(pipeline_load(config_path("valid_minimal.yaml"), NULL, 0, "stores", &c));
  CHECK_STR(c.name, "minimal");
  CHECK_STR(c.description, "");
  CHECK_STR(c.version, "");
  CHECK_STR(c.model_id, "LogisticRegression");
  CHECK(!cfg_present(&c.model_config));
  CHECK(!cfg_present(&c.model_storage));
  const TrainingConfig *t = &c.training;
  CHECK_STR(t->device, "cpu");
  CHECK_EQ_INT(t->batch_size, 32);
  CHECK_EQ_INT(t->drop_last_batch, 0);
  CHECK_EQ_INT(t->shuffle, 1);
  CHECK_EQ_INT(t->epochs_per_trigger, 1);
  CHECK(t->num_samples_to_pass == NULL);
  CHECK_EQ_INT(pipeline_samples_to_pass(t, 0), 0);
  CHECK_EQ_INT(t->use_previous_model, 1);
  CHECK_STR(t->initial_model, "random");
  CHECK_STR(t->initial_model_path, "");
  CHECK_EQ_INT(t->seed, 42);
  CHECK_EQ_INT(t->amp, 0);
  CHECK_STR(t->optimizer.name, "default");
  CHECK_STR(t->optimizer.algorithm, "SGD");
  CHECK_STR(t->optimizer.source, "PyTorch");
  CHECK_EQ_INT(t->optimizer.num_groups, 1);
  const ParamGroupConfig *g = &t->optimizer.groups[0];
  CHECK_STR(g->module, "model");
  CHECK_NEAR(g->lr, 0.01, 0);
  CHECK_NEAR(g->momentum, 0, 0);
  CHECK_NEAR(g->weight_decay, 0, 0);
  CHECK_EQ_INT(g->nesterov, 0);
  CHECK_NEAR(g->beta1, 0.9, 0);
  CHECK_NEAR(g->beta2, 0.999, 0);
  CHECK_NEAR(g->eps, 1e-8, 0);
  CHECK_STR(t->optimization_criterion, "CrossEntropyLoss");
  CHECK_EQ_INT(t->record_loss_every, 0);
  CHECK_EQ_INT(t->num_prefetched_partitions, 1);
  CHECK_EQ_INT(t->parallel_prefetch_requests, 1);
  CHECK(!cfg_present(&t->lr_scheduler));
  CHECK(!cfg_present(&t->checkpointing));
  CHECK_STR(c.data.dataset_id, "synth_train");
  CHECK_STR(c.data.path, "stores/synth_train");
  CHECK(!cfg_present(&c.data.transformations));
  CHECK_STR(c.trigger_id, "DataAmountTrigger");
  CHECK_STR(c.selection_name, "NewDataStrategy");
  CHECK_EQ_INT(c.evaluation.enabled, 0);
  CHECK_EQ_INT(c.evaluation.num_handlers, 0);
  CHECK_EQ_INT(c.evaluation.num_datasets, 0);
  CHECK(c.experiment.start_replay_at == INT64_MIN);
  CHECK(c.experiment.stop_replay_at == INT64_MAX);
  CHECK_EQ_INT(c.experiment.maximum_triggers, -1);
  pipeline_free(&c);

  /* Only a path: the dataset id is its last component. */
  const char *const sets[] = {"data={path: /scratch/yearbook_store/}"};
  CHECK_OK(pipeline_load(config_path("valid_minimal.yaml"), sets, 1, "stores", &c));
  CHECK_STR(c.data.dataset_id, "yearbook_store");
  CHECK_STR(c.data.path, "/scratch/yearbook_store/");
  pipeline_free(&c);

  /* Evaluation device defaults to the training device. */
  const char *const ev[] = {
      "training.device=cuda",
      "evaluation={datasets: [{dataset_id: t, metrics: [{name: Accuracy}]}], "
      "handlers: [{strategy: {type: SlicingEvalStrategy}}]}",
  };
  CHECK_OK(pipeline_load(config_path("valid_minimal.yaml"), ev, 2, "stores", &c));
  CHECK_STR(c.evaluation.device, "cuda");
  CHECK_STR(c.evaluation.handlers[0].name, "default");
  CHECK_STR(c.evaluation.handlers[0].execution_time, "after_training");
  CHECK_STR(c.evaluation.handlers[0].models, "active"); /* the original's default */
  CHECK_EQ_INT(c.evaluation.handlers[0].num_datasets, 1);
  CHECK_STR(c.evaluation.handlers[0].datasets[0], "t");
  CHECK_EQ_INT(c.evaluation.datasets[0].batch_size, 256);
  pipeline_free(&c);
}

/* ---- Malformed files: exact messages ------------------------------------- */

static const struct {
  const char *file;
  const char *message; /* after "PATH_OF_FILE:" */
} k_bad[] = {
    {"bad_syntax.yaml",
     "6: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence)"},
    {"bad_unknown_top.yaml",
     "19: trainer: unknown field; expected one of: pipeline, model, model_storage, training, data, "
     "trigger, selection_strategy, evaluation, experiment"},
    {"bad_unknown_training_key.yaml",
     "7: training.batchsize: unknown field; expected one of: device, batch_size, drop_last_batch, "
     "shuffle, epochs_per_trigger, num_samples_to_pass, use_previous_model, initial_model, "
     "initial_model_path, seed, amp, optimizers, optimization_criterion, record_loss_every, "
     "num_prefetched_partitions, parallel_prefetch_requests, lr_scheduler, checkpointing, clip_grad_norm"},
    {"bad_missing_name.yaml", "3: pipeline.name: missing required field"},
    {"bad_missing_batch_size.yaml", "7: training.batch_size: missing required field"},
    {"bad_batch_size_type.yaml", "7: training.batch_size: expected an integer, got \"abc\""},
    {"bad_batch_size_zero.yaml", "7: training.batch_size: must be in [1, 1048576], got 0"},
    {"bad_negative_lr.yaml", "11: training.optimizers[0].param_groups[0].config.lr: must be > 0, got -0.1"},
    {"bad_algorithm.yaml",
     "9: training.optimizers[0].algorithm: expected one of SGD, Adam, AdamW, got \"Sgd\""},
    {"bad_bool.yaml", "8: training.shuffle: expected true or false, got \"maybe\""},
    {"bad_optimizers_not_seq.yaml", "9: training.optimizers: expected a sequence, got a mapping"},
    {"bad_two_optimizers.yaml",
     "9: training.optimizers: exactly one optimizer is supported for now, got 2"},
    {"bad_duplicate_key.yaml", "9: training.batch_size: duplicate field"},
    {"bad_eval_dataset_ref.yaml",
     "23: evaluation.handlers[0].datasets[1]: unknown evaluation dataset \"synth_tset\"; "
     "evaluation.datasets has: synth_test, holdout"},
    {"bad_execution_time.yaml",
     "22: evaluation.handlers[0].execution_time: expected one of after_training, after_pipeline, "
     "manual, got \"during_training\""},
    {"bad_metric_name.yaml", "33: evaluation.datasets[1].metrics[0].name: missing required field"},
    {"bad_missing_data.yaml", "13: data.dataset_id: missing required field (or give data.path)"},
    {"bad_max_triggers.yaml",
     "20: experiment.maximum_triggers: must be -1 (no limit) or at least 1, got 0"},
    {"bad_alias.yaml",
     "7: training.batch_size: anchors (&) and aliases (*) are not supported; write the value out"},
    {"bad_device.yaml", "7: training.device: expected cpu, cuda, cuda:N or auto, got \"gpu\""},
    {"bad_missing_section.yaml", "1: training: missing required field"},
    {"bad_trigger_not_map.yaml", "14: trigger: expected a mapping, got \"DataAmountTrigger\""},
};

static void test_bad_files(void) {
  for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
    char path[2048], want[4096];
    snprintf(path, sizeof path, "%s", config_path(k_bad[i].file));
    snprintf(want, sizeof want, "%s:%s", path, k_bad[i].message);
    PipelineConfig c;
    CHECK_FAILS_WITH(pipeline_load(path, NULL, 0, "data", &c), want);
    CHECK(c.doc.root == NULL); /* nothing left to free on error */
  }
  PipelineConfig c;
  CHECK_FAILS_WITH(pipeline_load("/nonexistent/pipeline.yaml", NULL, 0, NULL, &c),
                   "cannot read /nonexistent/pipeline.yaml: No such file or directory");
  CHECK_FAILS_WITH(pipeline_parse("empty.yaml", "# nothing\n", NULL, 0, NULL, &c),
                   "empty.yaml:1: empty file; expected a mapping with the sections pipeline, model, "
                   "model_storage, ...");
}

/* ---- Bad overrides: exact messages --------------------------------------- */

static void test_bad_overrides(void) {
  static const struct {
    const char *set;
    const char *message;
  } cases[] = {
      {"training.batch_size=0", "--set training.batch_size: must be in [1, 1048576], got 0"},
      {"training.batch_size=abc", "--set training.batch_size: expected an integer, got \"abc\""},
      {"training.batch_size.x=1", "--set training.batch_size.x=1: training.batch_size is a scalar, not a mapping"},
      {"training.optimizers[3].algorithm=SGD",
       "--set training.optimizers[3].algorithm=SGD: index 3 out of range (training.optimizers has 1 "
       "items; use [1] to append)"},
      {"training.optimizers[1]={algorithm: Adam}",
       "valid_minimal.yaml:9: training.optimizers: exactly one optimizer is supported for now, got 2"},
      {"training.lr=0.1",
       "--set training.lr: unknown field; expected one of: device, batch_size, drop_last_batch, "
       "shuffle, epochs_per_trigger, num_samples_to_pass, use_previous_model, initial_model, "
       "initial_model_path, seed, amp, optimizers, optimization_criterion, record_loss_every, "
       "num_prefetched_partitions, parallel_prefetch_requests, lr_scheduler, checkpointing, clip_grad_norm"},
      {"trigger.id=", "--set trigger.id: missing required field"},
      {"experiment.maximum_triggers=0", "--set experiment.maximum_triggers: must be -1 (no limit) or at least 1, got 0"},
      {"training.batch_size={a: 1", "--set training.batch_size={a: 1: YAML syntax error: did not find "
                                    "expected ',' or '}' (while parsing a flow mapping)"},
      {"training..seed=1", "--set training..seed=1: empty field name in the path"},
      {"evaluation.device=tpu", "--set evaluation.device: expected cpu, cuda, cuda:N or auto, got \"tpu\""},
      {"evaluation.device=cpu", "--set evaluation.datasets: missing required field"},
  };
  char text[4096];
  char *raw = NULL;
  if (cfg_read_text(config_path("valid_minimal.yaml"), &raw, NULL) != MH_OK) {
    CHECK(0);
    return;
  }
  snprintf(text, sizeof text, "%s", raw);
  free(raw);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    PipelineConfig c;
    const char *sets[] = {cases[i].set};
    CHECK_FAILS_WITH(pipeline_parse("valid_minimal.yaml", text, sets, 1, "data", &c), cases[i].message);
  }
}

/* ---- the original's pipeline files ----------------------------------------- */

/* "a (line 3), b (line 9)" -> "a, b". */
static void strip_lines(const char *in, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = in; *p && o + 1 < cap; p++) {
    if (*p == ' ' && p[1] == '(') {
      while (*p && *p != ')') p++;
      if (!*p) break;
      continue;
    }
    out[o++] = *p;
  }
  out[o] = '\0';
}

/* Two pipelines of the original's SIGMOD selection experiments, as it
 * writes them (the second with its cosine schedule over MODYN_NUM_BATCHES):
 * they load; the fields with no effect here are named once,
 * in file order, with their lines; they stay in the tree, so the resolved
 * config written to a run directory keeps them. */
static void test_original_files(void) {
  static const char *const want[2] = {
      "training.gpus (line 20), training.dataloader_workers (line 22), "
      "data.bytes_parser_function (line 57), "
      "evaluation.after_pipeline_evaluation_workers (line 88), "
      "evaluation.after_training_evaluation_workers (line 89), "
      "evaluation.result_writers (line 91), "
      "evaluation.datasets[0].bytes_parser_function (line 94), "
      "evaluation.datasets[0].transformations (line 101), "
      "evaluation.datasets[0].dataloader_workers (line 103), "
      "evaluation.datasets[1].bytes_parser_function (line 137), "
      "evaluation.datasets[1].transformations (line 144), "
      "evaluation.datasets[1].dataloader_workers (line 146)",
      "training.gpus (line 21), training.dataloader_workers (line 23), "
      "data.bytes_parser_function (line 66), "
      "evaluation.after_pipeline_evaluation_workers (line 97), "
      "evaluation.after_training_evaluation_workers (line 98), "
      "evaluation.result_writers (line 100), "
      "evaluation.datasets[0].bytes_parser_function (line 103), "
      "evaluation.datasets[0].transformations (line 110), "
      "evaluation.datasets[0].dataloader_workers (line 112), "
      "evaluation.datasets[1].bytes_parser_function (line 146), "
      "evaluation.datasets[1].transformations (line 153), "
      "evaluation.datasets[1].dataloader_workers (line 155)"};
  const char *const files[] = {"sigmod_yearbook_loss_bts.yaml", "sigmod_yearbook_rs2wo.yaml"};
  for (int f = 0; f < 2; f++) {
    PipelineConfig c;
    CHECK_OK(pipeline_load(config_path(files[f]), NULL, 0, "/data", &c));
    CHECK_STR(c.inert, want[f]);
    CHECK_STR(c.model_id, "YearbookNet");
    CHECK_STR(c.selection_name, "CoresetStrategy");
    CHECK_EQ_INT(c.training.epochs_per_trigger, 5);
    char out[600];
    snprintf(out, sizeof out, "%s/config.yaml", test_tmpdir("config_original"));
    CHECK_OK(cfg_write_yaml(&c.doc, out));
    PipelineConfig again;
    CHECK_OK(pipeline_load(out, NULL, 0, "/data", &again));
    CHECK(cfg_equal(c.doc.root, again.doc.root));
    /* the same fields (on other lines: the written file has no comments) */
    char got_paths[2048], want_paths[2048];
    strip_lines(again.inert, got_paths, sizeof got_paths);
    strip_lines(want[f], want_paths, sizeof want_paths);
    CHECK_STR(got_paths, want_paths);
    CfgRef root = cfg_root(&again.doc), tr, gpus;
    cfg_child(&root, "training", &tr);
    CHECK(cfg_child(&tr, "gpus", &gpus) && gpus.node && !strcmp(gpus.node->value, "1"));
    pipeline_free(&again);
    pipeline_free(&c);
  }
  /* Only these fields: an unknown one is still an error, in a section that
   * has inert fields too. */
  PipelineConfig c;
  const char *set[] = {"training.gpu=1"};
  CHECK_FAILS_WITH(pipeline_load(config_path(files[0]), set, 1, "/data", &c),
                   "--set training.gpu: unknown field; expected one of: device, batch_size, "
                   "drop_last_batch, shuffle, epochs_per_trigger, num_samples_to_pass, "
                   "use_previous_model, initial_model, initial_model_path, seed, amp, "
                   "optimizers, optimization_criterion, record_loss_every, "
                   "num_prefetched_partitions, parallel_prefetch_requests, lr_scheduler, "
                   "checkpointing, clip_grad_norm");
  /* A file without such fields has nothing to warn about. */
  CHECK_OK(pipeline_load(config_path("valid_full.yaml"), NULL, 0, "/data", &c));
  CHECK_STR(c.inert, "");
  pipeline_free(&c);
  CHECK(cfg_path_matches("evaluation.datasets[12].tokenizer", "evaluation.datasets[].tokenizer"));
  CHECK(!cfg_path_matches("evaluation.datasets[x].tokenizer", "evaluation.datasets[].tokenizer"));
  CHECK(!cfg_path_matches("training.gpus2", "training.gpus"));
}

int main(void) {
  const char *src = getenv("MODYN_SOURCE_DIR");
  if (src && src[0])
    snprintf(g_dir, sizeof g_dir, "%s/tests/configs", src);
  else
    snprintf(g_dir, sizeof g_dir, "%s", MODYN_CONFIG_TEST_DIR);
  test_accessors();
  test_overrides_tree();
  test_full();
  test_full_overrides();
  test_minimal_defaults();
  test_original_spellings();
  test_bad_files();
  test_bad_overrides();
  test_original_files();
  return test_finish("test_config");
}
