/* error.c - see error.h. */
#include "core/error.h"
#include "core/signals.h"

#include <errno.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSG_CAP 4096
static _Thread_local char g_msg[MSG_CAP];
static _Thread_local int g_no_space;
/* Where the recorded error happened, when another rank's (dist_agree). */
static _Thread_local int g_origin_rank = -1;
static _Thread_local char g_origin_host[64];

int mh_errorf(const char *fmt, ...) {
  g_no_space = 0;
  g_origin_rank = -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_msg, sizeof g_msg, fmt, ap);
  va_end(ap);
  return MH_ERR;
}

int mh_error_context(const char *fmt, ...) {
  char ctx[MSG_CAP], old[MSG_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  memcpy(old, g_msg, sizeof old);
  /* Concatenate by hand: the result is cut at MSG_CAP on purpose. */
  size_t n = strlen(ctx);
  if (n > MSG_CAP - 3) n = MSG_CAP - 3;
  memcpy(g_msg, ctx, n);
  memcpy(g_msg + n, ": ", 2);
  size_t m = strlen(old);
  if (m > MSG_CAP - n - 3) m = MSG_CAP - n - 3;
  memcpy(g_msg + n + 2, old, m);
  g_msg[n + 2 + m] = '\0';
  return MH_ERR;
}

const char *mh_error(void) { return g_msg; }
void mh_error_clear(void) {
  g_msg[0] = '\0';
  g_no_space = 0;
  g_origin_rank = -1;
}

void mh_error_set_origin(int rank, const char *host) {
  g_origin_rank = rank;
  snprintf(g_origin_host, sizeof g_origin_host, "%s", host);
}

void mh_error_mark_no_space(int err) {
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) g_no_space = 1;
}
int mh_error_no_space(void) { return g_no_space; }

void mh_print_error(FILE *fp, const char *msg) {
  do {
    size_t n = strcspn(msg, "\n");
    fprintf(fp, "modyn: error: %.*s\n", (int)n, msg);
    msg += n + (msg[n] == '\n');
  } while (*msg);
}

static _Noreturn void die_with(const char *msg) {
  int inited = 0, finalized = 0, size = 1, rank = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  int mpi_live = inited && !finalized;
  if (mpi_live) {
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  }
  fflush(stdout);
  /* Let rank 0 speak first: when every rank hits the same error, rank 0's
   * abort ends the job before the others print, so the user reads one
   * message. A rank that fails alone still prints after the pause. */
  mh_signals_default();
  if (size > 1 && rank != 0) {
    /* A stop signal: the ranks stopped together (they agree on it in the
     * training step) and rank 0 speaks for them, or Open MPI is ending the
     * job. Either way this rank says nothing; it waits for rank 0's abort
     * (or Open MPI's kill: the default actions are back) rather than exit
     * at once, which would make mpirun end the job before rank 0 prints. */
    if (mh_stop_signal()) {
      sleep(10);
      _exit(1);
    }
    sleep(1);
  }
  if (size > 1) {
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    /* Another rank's error (handed over by dist_agree) names that rank. */
    if (g_origin_rank >= 0) {
      rank = g_origin_rank;
      snprintf(host, sizeof host, "%s", g_origin_host);
    }
    fprintf(stderr, "modyn: error [rank %d of %d on %s]: %s\n", rank, size, host, msg);
  } else {
    mh_print_error(stderr, msg);
  }
  fflush(stderr);
  if (mpi_live && size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
  if (mpi_live) MPI_Finalize();
  exit(1);
}

void mh_fatal(const char *fmt, ...) {
  char msg[MSG_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  die_with(msg);
}

void mh_fatal_last(void) { die_with(g_msg[0] ? g_msg : "unknown error"); }

void *mh_malloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) mh_errorf("out of memory allocating %zu bytes", n);
  return p;
}

void *mh_calloc(size_t count, size_t size) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) mh_errorf("out of memory allocating %zu x %zu bytes", count, size);
  return p;
}

void *mh_realloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) mh_errorf("out of memory growing a buffer to %zu bytes", n);
  return q;
}

char *mh_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = mh_malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

int mh_mpi_error(int rc, const char *call, const char *file, int line) {
  char s[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(rc, s, &len);
  return mh_errorf("%s:%d: %s failed: %s", file, line, call, s);
}

/* Walking downward, entry 0 is the API call's own message ("can't write
 * data") and the last entry the innermost cause ("No space left on
 * device"): keep both. */
typedef struct {
  char outer[256];
  char inner[256];
  int err; /* the POSIX driver's errno, 0 when none */
} H5Detail;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
  H5Detail *d = data;
  if (!e->desc) return 0;
  if (n == 0) {
    snprintf(d->outer, sizeof d->outer, "%s (in %s)", e->desc, e->func_name);
    return 0;
  }
  /* The POSIX driver's innermost entry is long ("file write failed: time =
   * ..., errno = 28, error message = 'No space left on device', buf = ...");
   * keep what failed and the system's message. */
  const char *m = strstr(e->desc, "error message = '");
  const char *colon = strchr(e->desc, ':');
  const char *en = strstr(e->desc, "errno = ");
  if (en) d->err = atoi(en + strlen("errno = "));
  if (m) {
    m += strlen("error message = '");
    const char *end = strchr(m, '\'');
    int what = colon && colon < m ? (int)(colon - e->desc) : 0;
    snprintf(d->inner, sizeof d->inner, "%.*s%s%.*s", what, e->desc, what ? ": " : "",
             end ? (int)(end - m) : (int)strlen(m), m);
  } else {
    snprintf(d->inner, sizeof d->inner, "%s", e->desc);
  }
  return 0;
}

int mh_h5_error(const char *call, const char *file, int line) {
  H5Detail d = {"", "", 0};
  char detail[560] = "";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &d);
  if (d.inner[0]) snprintf(detail, sizeof detail, "%s: %s", d.outer, d.inner);
  else snprintf(detail, sizeof detail, "%s", d.outer);
  H5Eclear2(H5E_DEFAULT);
  mh_errorf("%s:%d: HDF5 %s failed%s%s", file, line, call, detail[0] ? ": " : "", detail);
  mh_error_mark_no_space(d.err);
  return MH_ERR;
}

void mh_hdf5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
