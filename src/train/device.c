/* device.c - see device.h. */
#include "train/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/gpu.h"

int device_place(const Dist *d, const char *spec, int amp, Model *m, char *desc, size_t cap,
                 const char **why) {
  static char reason[256];
  reason[0] = '\0';
  if (why) *why = reason;
  snprintf(desc, cap, "cpu");
  if (!strcmp(spec, "cpu")) return MH_OK;
  const int is_auto = !strcmp(spec, "auto");
  const int count = gpu_device_count();
  int index = d->local_rank;
  if (!strncmp(spec, "cuda:", 5)) index = atoi(spec + 5);
  /* can this rank use its GPU? (a reason when not) */
  int ok = 1;
  if (!m->to_device) {
    ok = 0;
    snprintf(reason, sizeof reason, "model %s has no GPU path yet", m->type->id);
  } else if (count == 0) {
    ok = 0;
    snprintf(reason, sizeof reason, "no CUDA device is visible (%s)",
             strcmp(gpu_backend(), "none") ? "no driver or device" : "built without CUDA");
  } else if (index >= count) {
    ok = 0;
    snprintf(reason, sizeof reason,
             "rank %d wants GPU %d but its node shows %d; start at most %d ranks per node "
             "(e.g. srun --ntasks-per-node=%d) or use cuda:N",
             d->rank, index, count, count, count);
  }
  int all_ok = ok;
  MPI_CHECK(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, d->comm));
  if (!all_ok) {
    if (is_auto) {
      if (ok) snprintf(reason, sizeof reason, "another rank cannot use a GPU");
      return MH_OK;
    }
    int rc = ok ? MH_OK
                : mh_errorf("training.device is %s, but %s; set training.device to cpu or auto",
                            spec, reason);
    return dist_agree(d, rc);
  }
  int rc = gpu_open(index);
  if (!rc) rc = model_to_device(m);
  MH_TRY(dist_agree(d, rc));
  gpu_set_amp(amp);
  snprintf(desc, cap, "cuda:%d %s%s", index, gpu_describe(), amp ? ", amp bf16" : "");
  return MH_OK;
}
