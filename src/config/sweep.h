/* sweep.h - a sweep file: a grid of `--set` overrides over one base
 * pipeline, as used to reproduce the paper's experiments (jobs/).
 *
 *   name: yearbook_triggers            # default: the file's name without .yaml
 *   pipeline: ../configs/x.yaml        # base pipeline, relative to this file
 *   out: runs/yearbook_triggers        # default runs/<name>; relative to the cwd
 *   set:                               # overrides every point shares
 *     training.epochs_per_trigger: 1
 *   grid:                              # one axis per field path, each a list
 *     trigger:                         #   of values (any YAML: scalars or maps)
 *       - {id: TimeTrigger, every: 1y}
 *       - {id: DataAmountTrigger, num_samples: 500}
 *     training.seed: [42, 99]
 *     selection_strategy:              # or a map: each value gets a name,
 *       full: {name: NewDataStrategy}  #   which labels it in lists and reports
 *       uniform: {name: CoresetStrategy, presampling_config: {strategy: Random, ratio: 50}}
 *   slurm: {ranks: 2, nodes: 1, cpus_per_task: 2, time: "01:00:00", partition: batch}
 *
 * The points are the Cartesian product of the axes, numbered from 0 with
 * the last axis varying fastest; point i runs in OUT/NNN (NNN = i, three
 * digits or more). Errors name file:line and the field path. */
#ifndef MH_SWEEP_H
#define MH_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#define SWEEP_MAX_AXES 16

typedef struct {
  char path[256];   /* field path, e.g. "trigger" or "training.seed" */
  int n;            /* values */
  char **assign;    /* [n] "PATH=VALUE" for --set */
  char **value;     /* [n] VALUE alone (flow YAML), or its name when named */
  int named;        /* the axis was a map NAME: VALUE */
} SweepAxis;

typedef struct {
  char file[1024];      /* the sweep file as given */
  char name[128];
  char pipeline[1024];  /* base pipeline path (resolved against the sweep file's folder) */
  char out[1024];       /* folder holding one run directory per point */
  int nset;
  char **set;           /* [nset] shared "PATH=VALUE" overrides */
  int naxes;
  SweepAxis axes[SWEEP_MAX_AXES];
  int64_t npoints;
  /* slurm: */
  int64_t ranks, nodes; /* tasks per point (default 1); nodes (0 = let SLURM pick) */
  int64_t cpus_per_task; /* cores per rank (0 = SLURM's default, one) */
  char time[32];        /* "" = the partition's default */
  char partition[64];   /* "" = the default partition */
} Sweep;

/* Parse the text of a sweep file (name = the path, for messages and for
 * resolving `pipeline`). */
int sweep_parse(const char *name, const char *text, Sweep *sw);
void sweep_free(Sweep *sw);
/* The overrides of point i (shared ones first, then one per axis) into
 * sets[0..*n); the strings belong to sw. cap >= nset + naxes. */
int sweep_point(const Sweep *sw, int64_t i, const char **sets, int cap, int *n);
/* Point i's value on axis a (its name on a named axis). */
const char *sweep_value(const Sweep *sw, int64_t i, int a);
/* OUT/NNN */
void sweep_point_dir(const Sweep *sw, int64_t i, char *out, size_t cap);

#endif
