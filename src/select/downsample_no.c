/* downsample_no.c - `No` downsampling: train on the whole presampled set
 * (ratio fixed at 100). The schedule treats it as no downsampler. */
#include "core/error.h"
#include "select/downsampler.h"

static int no_create(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out) {
  MH_TRY(downsampler_check_keys(cfg, NULL));
  *out = downsampler_alloc(c, 0, NULL);
  return *out ? MH_OK : MH_ERR;
}

const DownsamplerType downsampler_no = {"No", no_create};
