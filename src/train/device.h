/* device.h - training.device: where each rank's model runs.
 *
 *   cpu     the CPU engine (OpenBLAS, OpenMP), the default
 *   cuda    the GPU given by the rank's node-local rank (the k-th rank on a
 *           node takes GPU k: what OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID
 *           say, computed here with MPI_Comm_split_type); no GPU, or fewer
 *           GPUs than ranks on a node, is an error
 *   cuda:N  GPU N on every rank
 *   auto    cuda where every rank can have a GPU and the model has a GPU
 *           path, else cpu; one log line says which and why
 * All ranks decide together: a run is on the GPU everywhere or nowhere. */
#ifndef MH_DEVICE_H
#define MH_DEVICE_H

#include <stddef.h>

#include "core/dist.h"
#include "train/model.h"

/* Place m on the device spec asks for (collective over d): opens this
 * rank's GPU and moves the model there, or leaves it on the CPU. amp
 * (training.amp) turns on bf16 autocast on the GPU (gpu_set_amp); the CPU
 * ignores it. desc gets
 * a short description of this rank's device ("cpu", "cuda:0 NVIDIA H200
 * (...)"); *why, when not NULL, says why auto chose the CPU ("" otherwise). */
int device_place(const Dist *d, const char *spec, int amp, Model *m, char *desc, size_t cap,
                 const char **why);

#endif
