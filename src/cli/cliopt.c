/* cliopt.c - see cliopt.h. */
#include "cli/cliopt.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

void cli_usage(const CliSpec *spec, FILE *out) {
  fprintf(out, "usage: %s [options]%s%s\n\n%s\n\noptions:\n", spec->command,
          spec->positional[0] ? " " : "", spec->positional, spec->summary);
  for (const CliOpt *o = spec->opts; o->name; o++) {
    char left[64];
    snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(out, "  %-26s %s\n", left, o->help);
  }
  fprintf(out, "  %-26s %s\n", "-h, --help", "show this help and exit");
}

int cli_parse(const CliSpec *spec, int argc, char **argv, CliHandler handler, void *ctx,
              int *first_positional) {
  int n = 0;
  while (spec->opts[n].name) n++;
  struct option *lo = calloc((size_t)n + 2, sizeof *lo);
  if (!lo) return CLI_ERROR;
  for (int i = 0; i < n; i++) {
    lo[i].name = spec->opts[i].name;
    lo[i].has_arg = spec->opts[i].arg ? required_argument : no_argument;
    lo[i].val = 1000 + i;
  }
  lo[n].name = "help";
  lo[n].val = 'h';
  optind = 1;
  opterr = 0;
  int rc = CLI_OK;
  for (;;) {
    int idx = -1;
    int c = getopt_long(argc, argv, "h", lo, &idx);
    if (c == -1) break;
    if (c == 'h') {
      if (mh_log_rank == 0) cli_usage(spec, stdout);
      rc = CLI_HELP;
      break;
    }
    if (c >= 1000 && c < 1000 + n) {
      if (handler(ctx, spec->opts[c - 1000].name, optarg) != 0) {
        rc = CLI_ERROR;
        break;
      }
      continue;
    }
    if (mh_log_rank == 0) {
      const char *bad = argv[optind - 1];
      if (c == ':' || (optopt && c == '?' && optopt >= 1000))
        fprintf(stderr, "%s: option %s needs a value\n", spec->command, bad);
      else
        fprintf(stderr, "%s: unknown option %s\n", spec->command, bad);
      fprintf(stderr, "run '%s --help' for the options\n", spec->command);
    }
    rc = CLI_ERROR;
    break;
  }
  free(lo);
  *first_positional = optind;
  return rc;
}

int cli_common_opt(void *ctx, const char *name, const char *value) {
  CliCommon *a = ctx;
  if (!strcmp(name, "set")) {
    if (a->nsets == CLI_MAX_SETS) {
      if (mh_log_rank == 0) fprintf(stderr, "%s: at most %d --set options\n", a->command, CLI_MAX_SETS);
      return 1;
    }
    a->sets[a->nsets++] = value;
  } else if (!strcmp(name, "out")) {
    a->out = value;
  } else if (!strcmp(name, "data-dir")) {
    a->data_dir = value;
  } else if (!strcmp(name, "config")) {
    a->config = value;
  } else if (!strcmp(name, "quiet")) {
    a->quiet = 1;
  } else if (!strcmp(name, "syntax-only")) {
    a->syntax_only = 1;
  } else if (!strcmp(name, "verify")) {
    a->verify = 1;
  }
  return 0;
}

int cli_arg_error(const char *command, const char *fmt, ...) {
  if (mh_log_rank == 0) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nrun '%s --help' for the options\n", command);
    va_end(ap);
  }
  return 1;
}

int cli_parse_i64(const char *command, const char *name, const char *value, int64_t *out) {
  char *end;
  errno = 0;
  long long x = strtoll(value, &end, 10);
  if (errno || end == value || *end)
    return cli_arg_error(command, "--%s expects an integer, got \"%s\"", name, value);
  *out = x;
  return 0;
}
