/* reeval.c - see reeval.h. */
#include "orch/reeval.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "orch/orch.h"

/* The model's input shape from the first evaluation store's schema. */
static int shape_from_eval_store(const PipelineConfig *cfg, ModelShape *shape) {
  if (!cfg->evaluation.enabled || cfg->evaluation.num_datasets == 0)
    return mh_errorf("the configuration has no evaluation section; add one (or pass --config "
                     "with one) to evaluate the run's models");
  Store s;
  memset(&s, 0, sizeof s);
  if (store_open(cfg->evaluation.datasets[0].path, &s))
    return mh_error_context("evaluation dataset \"%s\"", cfg->evaluation.datasets[0].dataset_id);
  orch_store_shape(&s, shape);
  store_close(&s);
  return MH_OK;
}

int evaluation_rerun(const Dist *d, const PipelineConfig *cfg, const char *run_dir,
                     const char *out_dir, EvalRerunSummary *sum) {
  memset(sum, 0, sizeof *sum);
  Orch o;
  memset(&o, 0, sizeof o);
  o.dist = d;
  o.cfg = cfg;
  snprintf(o.dir, sizeof o.dir, "%s", run_dir);
  int rc = shape_from_eval_store(cfg, &o.shape);
  if (!rc) rc = orch_open_model(&o, 0);
  if (!rc && d->rank == 0) rc = mh_mkdir_p(out_dir);
  /* Setup errors: agree, and let the lowest failing rank print. */
  if (dist_agree_or_report(d, rc)) {
    orch_close(&o);
    return EVAL_RERUN_REPORTED;
  }
  evaluation_all_after_pipeline(&o.ev);
  EvalBank bank;
  rc = eval_bank_load(&bank, d, o.model, run_dir);
  if (rc) {
    /* Every rank knows, with rank 0's message. */
    if (d->rank == 0) mh_print_error(stderr, mh_error());
    orch_close(&o);
    return EVAL_RERUN_REPORTED;
  }
  LOG0("# %s: %d model%s, %d evaluation task%s, %d rank%s\n", run_dir, bank.n, mh_plural(bank.n),
       o.ev.ntasks, mh_plural(o.ev.ntasks), d->size, mh_plural(d->size));
  rc = evaluation_after_pipeline(&o.ev, d, o.model, &bank);
  if (!rc && d->rank == 0) {
    char m[1100], c[1100], s[1100];
    snprintf(m, sizeof m, "%s/matrix.csv", out_dir);
    snprintf(c, sizeof c, "%s/composite.csv", out_dir);
    snprintf(s, sizeof s, "%s/score.csv", out_dir);
    rc = evaluation_write_matrix(&o.ev, bank.meta, bank.n, m);
    if (!rc) rc = evaluation_write_composite(&o.ev, bank.meta, bank.n, c, s, &sum->score);
  }
  rc = dist_agree(d, rc);
  sum->models = bank.n;
  sum->cells = o.ev.ncells;
  eval_bank_free(&bank);
  orch_close(&o);
  return rc;
}
