/* cliopt.h - one option table per subcommand, parsed with getopt_long, and
 * --help generated from the same table so that usage never drifts from the
 * parser. Does not know any subcommand. */
#ifndef MH_CLIOPT_H
#define MH_CLIOPT_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
  const char *name; /* long name without dashes, e.g. "out" */
  const char *arg;  /* metavar ("DIR") or NULL for a flag */
  const char *help; /* one line; mention the default */
} CliOpt;

typedef struct {
  const char *command;    /* "modyn run" */
  const char *positional; /* "pipeline.yaml" or "" */
  const char *summary;    /* one paragraph printed under the usage line */
  const CliOpt *opts;     /* terminated by {NULL} */
} CliSpec;

/* Called once per option found: name is the long name, value NULL for flags. */
typedef int (*CliHandler)(void *ctx, const char *name, const char *value);

enum { CLI_OK = 0, CLI_HELP = 1, CLI_ERROR = 2 };

/* Parse argv (argv[0] is the subcommand name). --help/-h is always accepted.
 * On CLI_OK, *first_positional indexes the first non-option argument.
 * On CLI_ERROR a message and a hint to --help are printed to stderr (by rank
 * 0 only under MPI). A handler returning non-zero is an error whose message
 * it printed itself. */
int cli_parse(const CliSpec *spec, int argc, char **argv, CliHandler handler, void *ctx,
              int *first_positional);
void cli_usage(const CliSpec *spec, FILE *out);

/* The options the pipeline commands share, filled by cli_common_opt (a
 * CliHandler). Each command lists the ones it takes in its own table. */
#define CLI_MAX_SETS 64
typedef struct {
  const char *command;              /* for messages, e.g. "modyn run" */
  const char *sets[CLI_MAX_SETS];   /* --set PATH=VALUE, in order */
  int nsets;
  const char *out;                  /* --out */
  const char *data_dir;             /* --data-dir */
  const char *config;               /* --config */
  int quiet;                        /* --quiet */
  int syntax_only;                  /* --syntax-only */
  int verify;                       /* --verify */
} CliCommon;

int cli_common_opt(void *ctx, const char *name, const char *value);

/* A usage error: "COMMAND: MESSAGE" and a hint to --help on stderr (rank 0
 * only). Returns 1, a handler's failure. */
int cli_arg_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* --NAME's value as an integer into *out; otherwise a usage error
 * ("--NAME expects an integer, got ...") and 1, like a handler. */
int cli_parse_i64(const char *command, const char *name, const char *value, int64_t *out);

#endif
