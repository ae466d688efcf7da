/* report.h - `modyn report`: one self-contained HTML page (inline SVG, no
 * scripts, no external files) plus the same numbers as CSV, for one or
 * more run directories.
 *   Per run: the evaluation matrix as a heatmap (rows: models by "trained
 *   on data up to", columns: intervals; the currently active model's cell
 *   of each interval is outlined), the composite metric over time with the
 *   trigger times marked, samples trained per trigger, and time per stage
 *   per trigger (events.jsonl).
 *   Across runs: a table and scatter plots of number of triggers and
 *   samples trained vs the pipeline score (the paper's comparison).
 * Files in OUT_DIR: index.html, runs.csv, and per run i (two digits)
 * run_ii_matrix.csv, run_ii_composite.csv, run_ii_triggers.csv.
 * Runs on one process; it does not evaluate (eval/). */
#ifndef MH_REPORT_H
#define MH_REPORT_H

/* Read the runs and write the report. Errors name the file. */
int report_write(const char *const *run_dirs, int nruns, const char *out_dir);

#endif
