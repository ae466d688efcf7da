/* presampler_registry.c - every presampling strategy; adding one is one line here. */
#include "select/presampler.h"

extern const PresamplerType presampler_no, presampler_random, presampler_random_no_replacement,
    presampler_label_balanced, presampler_trigger_balanced;

const PresamplerType *const presampler_registry[] = {
    &presampler_random,
    &presampler_random_no_replacement,
    &presampler_label_balanced,
    &presampler_trigger_balanced,
    &presampler_no,
    NULL,
};
