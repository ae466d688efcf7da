/* commands.c - the command table; adding a subcommand is one line here. */
#include "cli/commands.h"

const Command mh_commands[] = {
    {"run", cmd_run, "run a pipeline: replay the stream, trigger, select, train, evaluate"},
    {"resume", cmd_resume, "continue an interrupted run from its last completed trigger"},
    {"validate", cmd_validate, "check a pipeline YAML and report every problem with file:line"},
    {"synth", cmd_synth, "write a seeded, drifting synthetic dataset as a sample store"},
    {"ingest", cmd_ingest, "convert IDX (MNIST-style) or CSV files into a sample store"},
    {"eval", cmd_eval, "re-evaluate the checkpoints of a run (new metrics or intervals, no retraining)"},
    {"sweep", cmd_sweep, "run a grid of pipelines (jobs/), here or as a SLURM job array"},
    {"check", cmd_check, "verify stores (shard checksums) and run directories (checkpoints)"},
    {"report", cmd_report, "HTML report with SVG figures and CSV tables of one or more runs"},
    {0, 0, 0},
};
