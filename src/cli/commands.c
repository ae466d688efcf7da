/* commands.c - the command table; adding a subcommand is one line here. */
#include "cli/commands.h"

const Command mh_commands[] = {
    {"run", cmd_run, "run a pipeline: replay the stream, trigger, select, train, evaluate"},
    {"validate", cmd_validate, "check a pipeline YAML and report every problem with file:line"},
    {"synth", cmd_synth, "write a seeded, drifting synthetic dataset as a sample store"},
    {"ingest", cmd_ingest, "convert IDX (MNIST-style) or CSV files into a sample store"},
    {0, 0, 0},
};
