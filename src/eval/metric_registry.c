/* metric_registry.c - every metric; adding a metric is one line here. */
#include "eval/metric.h"

extern const MetricType metric_accuracy;
extern const MetricType metric_f1_score;
extern const MetricType metric_roc_auc;

const MetricType *const metric_registry[] = {
    &metric_accuracy,
    &metric_f1_score,
    &metric_roc_auc,
    NULL,
};
