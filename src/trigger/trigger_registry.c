/* trigger_registry.c - every trigger; adding a trigger is one line here. */
#include "trigger/trigger.h"

extern const TriggerType trigger_time;
extern const TriggerType trigger_data_amount;
extern const TriggerType trigger_data_drift;
extern const TriggerType trigger_performance;
extern const TriggerType trigger_ensemble;
extern const TriggerType trigger_cost_latency;
extern const TriggerType trigger_cost_misclass;

const TriggerType *const trigger_registry[] = {
    &trigger_time,
    &trigger_data_amount,
    &trigger_data_drift,
    &trigger_performance,
    &trigger_ensemble,
    &trigger_cost_latency,
    &trigger_cost_misclass,
    NULL,
};
