/* downsampler_registry.c - every downsampling strategy; adding one is one line here. */
#include "select/downsampler.h"

extern const DownsamplerType downsampler_loss, downsampler_gradnorm, downsampler_uncertainty,
    downsampler_rs2, downsampler_no, downsampler_kcenter, downsampler_craig, downsampler_gradmatch,
    downsampler_submodular, downsampler_rho;

const DownsamplerType *const downsampler_registry[] = {
    &downsampler_loss,
    &downsampler_gradnorm,
    &downsampler_uncertainty,
    &downsampler_rs2,
    &downsampler_no,
    &downsampler_kcenter,
    &downsampler_craig,
    &downsampler_gradmatch,
    &downsampler_submodular,
    &downsampler_rho,
    NULL,
};
