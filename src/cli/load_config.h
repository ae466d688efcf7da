/* load_config.h - read a pipeline file on rank 0, broadcast its text, and
 * parse it on every rank, so every rank holds the same configuration
 * without all of them hitting a shared file system at once. */
#ifndef MH_LOAD_CONFIG_H
#define MH_LOAD_CONFIG_H

#include "config/pipeline.h"
#include "core/dist.h"

/* Collective: rank 0 reads the file, every rank gets its text (malloc'ed,
 * NUL-terminated). On failure rank 0 prints the message and every rank
 * returns MH_ERR. */
int cli_read_shared(const Dist *d, const char *path, char **text);

/* Collective. On failure rank 0 prints the message and every rank returns
 * MH_ERR (the same on all ranks, so the caller can exit cleanly). */
int cli_load_pipeline(const Dist *d, const char *path, const char *const *overrides,
                      int num_overrides, const char *data_dir, PipelineConfig *cfg);

#endif
