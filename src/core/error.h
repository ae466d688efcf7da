/* error.h - status codes, error messages and fatal exit for modyn-hpc.
 *
 * Library code returns MH_OK (0) or MH_ERR (-1) and records a message with
 * mh_errorf(); callers may add context with mh_error_context(). Only the top
 * level decides to stop: mh_fatal() prints one message naming rank and host
 * and ends the whole MPI job with MPI_Abort, so no rank is left waiting in a
 * collective. Per-library check macros record file:line and the library's
 * own error text. This module does not log progress (see log.h). */
#ifndef MH_ERROR_H
#define MH_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus /* the CUDA twins include this header too */
#define MH_NORETURN [[noreturn]]
#else
#define MH_NORETURN _Noreturn
#endif

#define MH_OK 0
#define MH_ERR (-1)

/* Record an error message (printf-style). Always returns MH_ERR. */
int mh_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepend context to the recorded message: "ctx: old message". */
int mh_error_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last recorded message ("" if none). */
const char *mh_error(void);
/* "modyn: error: LINE" for every line of msg (several independent errors,
 * as `modyn validate` reports them). */
void mh_print_error(FILE *fp, const char *msg);
void mh_error_clear(void);
/* Out of space: mark the recorded error as a write that failed with errno
 * err when err is ENOSPC, EDQUOT or EFBIG (full disk, quota, file size
 * limit); mh_errorf clears the mark, mh_error_context keeps it, so the top
 * level can say what to do whatever context was added on the way up. */
void mh_error_mark_no_space(int err);
/* The recorded error happened on another rank (rank, host): mh_fatal names
 * that one. mh_errorf clears it, mh_error_context keeps it. */
void mh_error_set_origin(int rank, const char *host);
int mh_error_no_space(void);

/* Print "modyn: error: MSG" (with rank and host when running under MPI with
 * more than one rank) and end the job: MPI_Abort when MPI is initialised,
 * exit(code) otherwise. */
MH_NORETURN void mh_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* mh_fatal with the recorded message. */
MH_NORETURN void mh_fatal_last(void);

/* Return MH_ERR from the enclosing function when expr fails. */
#define MH_TRY(expr)                                                          \
  do {                                                                        \
    if ((expr) != MH_OK) return MH_ERR;                                       \
  } while (0)

/* Allocation that records an error instead of returning silently. */
void *mh_malloc(size_t n);
void *mh_calloc(size_t count, size_t size);
void *mh_realloc(void *p, size_t n);
char *mh_strdup(const char *s);

/* MPI calls: on failure record "file:line: MPI call: MPI's own message". */
int mh_mpi_error(int rc, const char *call, const char *file, int line);
#define MPI_CHECK(call)                                                       \
  do {                                                                        \
    int mh_rc_ = (call);                                                      \
    if (mh_rc_ != 0) return mh_mpi_error(mh_rc_, #call, __FILE__, __LINE__); \
  } while (0)

/* HDF5 calls return a negative value on failure. The message includes the
 * innermost entry of HDF5's error stack (automatic printing is turned off by
 * mh_hdf5_quiet()). */
int mh_h5_error(const char *call, const char *file, int line);
void mh_hdf5_quiet(void);
#define H5_CHECK(call)                                                        \
  do {                                                                        \
    if ((long long)(call) < 0) return mh_h5_error(#call, __FILE__, __LINE__); \
  } while (0)

#endif
