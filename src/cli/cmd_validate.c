/* cmd_validate.c - `modyn validate pipeline.yaml`: parse, validate, and
 * create every plug-in and store the pipeline names, without training. */
#include <stdio.h>
#include <string.h>

#include "cli/cliopt.h"
#include "cli/commands.h"
#include "cli/load_config.h"
#include "core/error.h"
#include "core/log.h"
#include "orch/run.h"


static const CliOpt validate_opts[] = {
    {"set", "PATH=VALUE", "override a config field before validating (repeatable)"},
    {"data-dir", "DIR", "where dataset ids are looked up (default: $MODYN_DATA_DIR or ./data)"},
    {"syntax-only", NULL, "check the YAML and field types only; do not open stores or create plug-ins"},
    {NULL, NULL, NULL},
};

static const CliSpec validate_spec = {
    "modyn validate", "pipeline.yaml",
    "Check a pipeline file: YAML syntax, unknown or missing fields, types and ranges, and\n"
    "that the model, trigger, selection strategy, evaluation strategies, metrics and data\n"
    "stores it names exist and accept their settings. Errors name FILE:LINE and the\n"
    "field path. Exit code 0 when valid, 1 otherwise.",
    validate_opts};

int cmd_validate(const Dist *d, int argc, char **argv) {
  CliCommon a = {.command = "modyn validate"};
  int first = 0;
  int rc = cli_parse(&validate_spec, argc, argv, cli_common_opt, &a, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first != argc - 1) return cli_arg_error("modyn validate", "expected one pipeline file") + 1;
  PipelineConfig cfg;
  if (cli_load_pipeline(d, argv[first], a.sets, a.nsets, a.data_dir, &cfg)) return 1;
  rc = a.syntax_only ? MH_OK : pipeline_check(d, &cfg);
  if (d->rank == 0) {
    if (rc) fprintf(stderr, "modyn: error: %s\n", mh_error());
    else printf("%s: valid (pipeline %s: model %s, trigger %s, selection %s)\n", argv[first],
                cfg.name, cfg.model_id, cfg.trigger_id, cfg.selection_name);
  }
  pipeline_free(&cfg);
  return rc ? 1 : 0;
}
