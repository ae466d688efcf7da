/* rerun.c - see rerun.h. */
#include "eval/rerun.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"

/* The model's input shape from the first evaluation store's schema. */
static int shape_from_store(const PipelineConfig *cfg, ModelShape *shape) {
  if (!cfg->evaluation.enabled || cfg->evaluation.num_datasets == 0)
    return mh_errorf("the configuration has no evaluation section; add one (or pass --config "
                     "with one) to evaluate the run's models");
  Store s;
  memset(&s, 0, sizeof s);
  if (store_open(cfg->evaluation.datasets[0].path, &s))
    return mh_error_context("evaluation dataset \"%s\"", cfg->evaluation.datasets[0].dataset_id);
  memset(shape, 0, sizeof *shape);
  shape->ndims = s.schema.ndims;
  for (int i = 0; i < s.schema.ndims; i++) shape->dims[i] = s.schema.dims[i];
  shape->in_elems = s.feat_elems;
  shape->num_classes = s.schema.num_classes;
  store_close(&s);
  return MH_OK;
}

static int setup(const PipelineConfig *cfg, Model **model, Evaluation *ev) {
  ModelShape shape;
  MH_TRY(shape_from_store(cfg, &shape));
  CfgRef root = cfg_root(&cfg->doc), model_ref, id_ref;
  cfg_child(&root, "model", &model_ref);
  cfg_child(&model_ref, "id", &id_ref);
  MH_TRY(model_create(cfg->model_id, &id_ref, &cfg->model_config, &shape, model));
  MH_TRY(evaluation_init(ev, cfg, shape.num_classes, &shape));
  evaluation_all_after_pipeline(ev);
  return MH_OK;
}

int evaluation_rerun(const PipelineConfig *cfg, const char *run_dir, const char *out_dir,
                     EvalRerunSummary *sum) {
  memset(sum, 0, sizeof *sum);
  Model *model = NULL;
  Evaluation ev;
  memset(&ev, 0, sizeof ev);
  EvalBank bank;
  memset(&bank, 0, sizeof bank);
  int rc = setup(cfg, &model, &ev);
  if (!rc && mh_log_rank == 0) rc = mh_mkdir_p(out_dir);
  /* Setup errors: agree, and let the lowest failing rank print. */
  int mine = rc == MH_OK ? mh_log_nranks : mh_log_rank, first_bad = 0;
  MPI_Allreduce(&mine, &first_bad, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first_bad < mh_log_nranks) {
    if (first_bad == mh_log_rank) fprintf(stderr, "modyn: error: %s\n", mh_error());
    evaluation_free(&ev);
    model_free(model);
    return EVAL_RERUN_REPORTED;
  }
  rc = eval_bank_load(&bank, model, run_dir);
  if (rc) {
    /* Every rank knows (eval_bank_load broadcasts the verdict). */
    if (mh_log_rank == 0) fprintf(stderr, "modyn: error: %s\n", mh_error());
    evaluation_free(&ev);
    model_free(model);
    return EVAL_RERUN_REPORTED;
  }
  LOG0("# %s: %d models, %d evaluation tasks, %d ranks\n", run_dir, bank.n, ev.ntasks,
       mh_log_nranks);
  rc = evaluation_after_pipeline(&ev, model, &bank);
  if (!rc && mh_log_rank == 0) {
    char m[1100], c[1100], s[1100];
    snprintf(m, sizeof m, "%s/matrix.csv", out_dir);
    snprintf(c, sizeof c, "%s/composite.csv", out_dir);
    snprintf(s, sizeof s, "%s/score.csv", out_dir);
    rc = evaluation_write_matrix(&ev, bank.meta, bank.n, m);
    if (!rc) rc = evaluation_write_composite(&ev, bank.meta, bank.n, c, s, &sum->score);
  }
  sum->models = bank.n;
  sum->cells = ev.ncells;
  eval_bank_free(&bank);
  evaluation_free(&ev);
  model_free(model);
  return rc;
}
