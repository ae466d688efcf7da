/* strategy.c - registry lookup for evaluation strategies and helpers shared
 * by the strategy files. */
#include "eval/strategy.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/duration.h"
#include "core/error.h"
#include "core/plugin.h"

extern const EvalStrategyType *const eval_strategy_registry[];

int eval_strategy_find(const CfgRef *cfg, const EvalStrategyType **out) {
  char type[128];
  *out = NULL;
  MH_TRY(cfg_req_string(cfg, "type", type, sizeof type));
  for (int i = 0; eval_strategy_registry[i]; i++)
    if (!strcmp(eval_strategy_registry[i]->type, type)) {
      *out = eval_strategy_registry[i];
      return MH_OK;
    }
  char list[512];
  plugin_names((const void *const *)eval_strategy_registry, list, sizeof list);
  CfgRef at;
  cfg_child(cfg, "type", &at);
  return cfg_errorf(&at, "unknown evaluation strategy \"%s\"; available: %s", type, list);
}

int eval_strategy_intervals(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out,
                            int *n) {
  const EvalStrategyType *st;
  *out = NULL;
  *n = 0;
  MH_TRY(eval_strategy_find(cfg, &st));
  return st->intervals(cfg, ctx, out, n);
}

int eval_parse_offset(const char *text, int *sign, int64_t *seconds, int *inf) {
  const char *p = text;
  while (isspace((unsigned char)*p)) p++;
  *sign = 0;
  *inf = 0;
  *seconds = 0;
  if (*p == '+' || *p == '-') *sign = *p++ == '-' ? -1 : 1;
  while (isspace((unsigned char)*p)) p++;
  char body[64];
  size_t len = strlen(p);
  while (len > 0 && isspace((unsigned char)p[len - 1])) len--;
  if (len == 0 || len >= sizeof body) return MH_ERR;
  memcpy(body, p, len);
  body[len] = '\0';
  if (!strcmp(body, "inf")) {
    *inf = *sign < 0 ? -1 : 1;
    return MH_OK;
  }
  if (!strcmp(body, "0")) return MH_OK; /* a bare zero needs no unit */
  for (size_t i = 0; i + 1 < len; i++)
    if (!isdigit((unsigned char)body[i])) return MH_ERR;
  int64_t s;
  if (duration_parse(body, &s)) {
    mh_error_clear();
    return MH_ERR;
  }
  *seconds = *sign < 0 ? -s : s;
  return MH_OK;
}

int64_t eval_add_sat(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
  return a + b;
}
