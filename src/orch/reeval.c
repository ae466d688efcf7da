/* reeval.c - see reeval.h. */
#include "orch/reeval.h"

#include <stdio.h>
#include <stdlib.h>
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

/* ---- keeping the other handlers' rows (--handler) ---------------------------- */

/* Field col (0-based) of a CSV line is name (handler names hold no comma). */
static int field_is(const char *line, int col, const char *name) {
  for (int c = 0; c < col; c++) {
    line = strchr(line, ',');
    if (!line) return 0;
    line++;
  }
  size_t n = strlen(name);
  return !strncmp(line, name, n) && (line[n] == ',' || line[n] == '\n' || line[n] == '\0');
}

/* path becomes: fresh's header, the lines of the file at path whose
 * handler (field col) is not one of names, then fresh's rows; fresh is
 * removed. Without a file at path, fresh is renamed to it. */
static int merge_rows(const char *path, const char *fresh, int col, const char *const *names,
                      int n) {
  if (!mh_path_exists(path))
    return rename(fresh, path) ? mh_errorf("cannot rename %s to %s", fresh, path) : MH_OK;
  char *old = NULL, *neu = NULL;
  size_t len;
  MH_TRY(mh_read_file(path, &old, &len));
  if (mh_read_file(fresh, &neu, &len)) {
    free(old);
    return MH_ERR;
  }
  AtomicFile f;
  int rc = atomic_open(&f, path);
  if (!rc) {
    char *body = strchr(neu, '\n');
    body = body ? body + 1 : neu + strlen(neu);
    fwrite(neu, 1, (size_t)(body - neu), f.fp); /* the header */
    char *line = strchr(old, '\n');
    for (line = line ? line + 1 : NULL; line && *line;) {
      char *next = strchr(line, '\n');
      size_t l = next ? (size_t)(next - line) + 1 : strlen(line);
      int picked = 0;
      for (int i = 0; i < n; i++) picked |= field_is(line, col, names[i]);
      if (!picked) fwrite(line, 1, l, f.fp);
      line = next ? next + 1 : NULL;
    }
    fputs(body, f.fp);
    rc = atomic_commit(&f);
  }
  if (!rc) remove(fresh);
  free(old);
  free(neu);
  return rc;
}

/* The three files; with picked handlers each is written to .NAME.new and
 * merged into NAME. */
static int write_outputs(const Evaluation *ev, const EvalBank *bank, const char *out_dir,
                         const char *const *handlers, int nhandlers, EvalScore *score) {
  static const char *const names[3] = {"matrix.csv", "composite.csv", "score.csv"};
  static const int handler_col[3] = {3, 0, 0};
  char final[3][1100], path[3][1100];
  for (int i = 0; i < 3; i++) {
    snprintf(final[i], sizeof final[i], "%s/%s", out_dir, names[i]);
    snprintf(path[i], sizeof path[i], nhandlers ? "%s/.%s.new" : "%s/%s", out_dir, names[i]);
  }
  MH_TRY(evaluation_write_matrix(ev, bank->meta, bank->n, path[0]));
  MH_TRY(evaluation_write_composite(ev, bank->meta, bank->n, path[1], path[2], score));
  for (int i = 0; nhandlers && i < 3; i++)
    MH_TRY(merge_rows(final[i], path[i], handler_col[i], handlers, nhandlers));
  return MH_OK;
}

/* ---- modyn eval ----------------------------------------------------------------- */

int evaluation_rerun(const Dist *d, const PipelineConfig *cfg, const char *run_dir,
                     const char *out_dir, const char *const *handlers, int nhandlers,
                     EvalRerunSummary *sum) {
  memset(sum, 0, sizeof *sum);
  Orch o;
  memset(&o, 0, sizeof o);
  o.dist = d;
  o.cfg = cfg;
  snprintf(o.dir, sizeof o.dir, "%s", run_dir);
  int rc = shape_from_eval_store(cfg, &o.shape);
  if (!rc) rc = orch_open_model(&o, 0);
  if (!rc && d->rank == 0) rc = mh_mkdir_p(out_dir);
  if (!rc) evaluation_all_after_pipeline(&o.ev);
  if (!rc && nhandlers > 0) rc = evaluation_pick_handlers(&o.ev, handlers, nhandlers);
  /* Setup errors: agree, and let the lowest failing rank print. */
  if (dist_agree_or_report(d, rc)) {
    orch_close(&o);
    return EVAL_RERUN_REPORTED;
  }
  EvalBank bank;
  rc = eval_bank_load(&bank, d, o.model, run_dir);
  if (rc) {
    /* Every rank knows, with rank 0's message. */
    if (d->rank == 0) mh_print_error(stderr, mh_error());
    orch_close(&o);
    return EVAL_RERUN_REPORTED;
  }
  int ntasks = 0;
  for (int t = 0; t < o.ev.ntasks; t++) ntasks += !o.ev.tasks[t].off;
  LOG0("# %s: %d model%s, %d evaluation task%s, %d rank%s\n", run_dir, bank.n, mh_plural(bank.n),
       ntasks, mh_plural(ntasks), d->size, mh_plural(d->size));
  rc = evaluation_after_pipeline(&o.ev, d, o.model, &bank);
  if (!rc && d->rank == 0)
    rc = write_outputs(&o.ev, &bank, out_dir, handlers, nhandlers, &sum->score);
  rc = dist_agree(d, rc);
  sum->models = bank.n;
  sum->cells = o.ev.ncells;
  eval_bank_free(&bank);
  orch_close(&o);
  return rc;
}
