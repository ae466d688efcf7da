/* run_data.h - the numbers of one run directory that a report shows, read
 * from its files (README "Run directory"): config.yaml (pipeline name),
 * triggers.csv, events.jsonl (stage timings), eval/matrix.csv and
 * eval/composite.csv. Only the first (handler, dataset, metric) of the
 * matrix is kept, the one the run's summary scores. It does not draw
 * (report.h). */
#ifndef MH_RUN_DATA_H
#define MH_RUN_DATA_H

#include <stdint.h>

typedef struct {
  int64_t trigger, first_ts, last_ts, samples_trained;
  double selection_s, train_s, checkpoint_s, eval_s; /* events.jsonl (0 when absent) */
} RunTrigger;

typedef struct {
  int64_t start, end, ref, num_samples;
  int active, trained;          /* model indices, -1 none */
  double active_value, trained_value;
} RunInterval;

typedef struct {
  char dir[1024];
  char name[128];       /* pipeline.name */
  char label[256];      /* a sweep point's values ("TimeTrigger, every: 1y · seed 42"),
                           from points.csv beside the run; "" for a plain run */
  char handler[128], dataset[128], metric[64]; /* what the figures show */
  int ntriggers;
  RunTrigger *triggers;
  int nintervals;
  RunInterval *intervals; /* composite.csv rows of (handler, dataset, metric) */
  int nmodels;           /* matrix rows = models 0..nmodels-1 */
  double *matrix;        /* [nmodels * nintervals], NaN where absent */
  int64_t samples_trained;
  double score_mean;     /* mean over intervals with data of the active model's value */
  double score_tw;       /* weighted by interval duration */
  int scored;            /* intervals that count */
} RunData;

/* Read a run directory. Errors name the file and line. */
int run_data_load(const char *dir, RunData *r);
void run_data_free(RunData *r);

#endif
