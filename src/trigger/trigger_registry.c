/* trigger_registry.c - every trigger; adding a trigger is one line here. */
#include "trigger/trigger.h"

extern const TriggerType trigger_time;
extern const TriggerType trigger_data_amount;
extern const TriggerType trigger_data_drift;
extern const TriggerType trigger_performance;
extern const TriggerType trigger_ensemble;

const TriggerType *const trigger_registry[] = {
    &trigger_time,
    &trigger_data_amount,
    &trigger_data_drift,
    &trigger_performance,
    &trigger_ensemble,
    NULL,
};
