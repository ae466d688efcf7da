/* metric_registry.c - every metric; adding a metric is one line here. */
#include "eval/metric.h"

extern const MetricType metric_accuracy;

const MetricType *const metric_registry[] = {
    &metric_accuracy,
    NULL,
};
