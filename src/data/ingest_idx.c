/* ingest_idx.c - the "idx" ingest format: MNIST-style IDX files (an
 * idx3-ubyte image file and an idx1-ubyte label file, uncompressed).
 *
 * IDX: a big-endian 4-byte magic (0, 0, type, ndims; type 0x08 = unsigned
 * byte), ndims big-endian uint32 sizes, then the data row-major. Images
 * become uint8 features of shape [1, rows, cols] (NCHW for conv models).
 * IDX carries no time, so row i gets timestamp T + i * S. */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "data/ingest.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u

static const IngestOpt idx_opts[] = {
    {"images", "FILE", "images, IDX idx3-ubyte (uncompressed)"},
    {"labels", "FILE", "labels, IDX idx1-ubyte (uncompressed)"},
    {"timestamp-start", "T", "timestamp of the first row (default 0)"},
    {"timestamp-step", "S", "row i gets timestamp T + i*S (default 1)"},
    {NULL, NULL, NULL},
};

static uint32_t be32(const unsigned char *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Open an IDX file and check its header: magic, dims and file size. */
static int idx_open(const char *path, uint32_t magic, const char *what, const char *option,
                    FILE **fp, uint32_t *dims) {
  *fp = NULL;
  if (!path) return mh_errorf("--format idx needs --%s FILE", option);
  FILE *f = fopen(path, "rb");
  if (!f) return mh_errorf("cannot open %s: %s", path, strerror(errno));
  unsigned char hdr[16];
  int nd = (int)(magic & 0xff);
  size_t want = 4 + 4 * (size_t)nd;
  size_t got = fread(hdr, 1, want, f);
  int rc = MH_OK;
  if (got >= 2 && hdr[0] == 0x1f && hdr[1] == 0x8b) {
    rc = mh_errorf("%s is gzip-compressed; gunzip it first", path);
  } else if (got < 4) {
    rc = mh_errorf("%s is too short to be an IDX %s file", path, what);
  } else if (be32(hdr) != magic) {
    rc = mh_errorf("%s: magic number 0x%08x is not that of an IDX %s file (0x%08x)", path,
                   be32(hdr), what, magic);
  } else if (got < want) {
    rc = mh_errorf("%s: the IDX header is truncated", path);
  } else {
    uint64_t bytes = want, n = 1;
    int overflow = 0;
    for (int i = 0; i < nd; i++) {
      dims[i] = be32(hdr + 4 + 4 * i);
      /* Three 32-bit sizes can multiply past 2^64: a product that wrapped
       * round to the file's size would pass the size check below. */
      if (dims[i] && n > (UINT64_MAX - want) / dims[i]) overflow = 1;
      n *= dims[i];
    }
    bytes += n;
    struct stat st;
    if (overflow) {
      char sizes[64] = "";
      for (int i = 0; i < nd; i++)
        snprintf(sizes + strlen(sizes), sizeof sizes - strlen(sizes), "%s%u", i ? " x " : "",
                 dims[i]);
      rc = mh_errorf("%s: the IDX header's sizes (%s) promise more bytes than any file holds; "
                     "the header is damaged",
                     path, sizes);
    } else if (fstat(fileno(f), &st) != 0) {
      rc = mh_errorf("cannot stat %s: %s", path, strerror(errno));
    } else if ((uint64_t)st.st_size != bytes) {
      rc = mh_errorf("%s: the IDX header promises %llu bytes but the file has %llu; the file is "
                     "%s",
                     path, (unsigned long long)bytes, (unsigned long long)st.st_size,
                     (uint64_t)st.st_size < bytes ? "truncated" : "longer than its header says");
    }
  }
  if (rc) {
    fclose(f);
    return rc;
  }
  *fp = f;
  return MH_OK;
}

static int idx_run(const IngestOptions *o, IngestResult *res) {
  const char *ipath = ingest_get(o, "images"), *lpath = ingest_get(o, "labels");
  int64_t t0, step;
  MH_TRY(ingest_get_i64(o, "timestamp-start", 0, &t0));
  MH_TRY(ingest_get_i64(o, "timestamp-step", 1, &step));
  if (step < 0)
    return mh_errorf("--timestamp-step must be >= 0 (rows are stored in time order), got %lld",
                     (long long)step);

  FILE *fi = NULL, *fl = NULL;
  uint32_t idims[3] = {0}, ldims[1] = {0};
  uint8_t *lab8 = NULL, *pix = NULL;
  int32_t *labels = NULL;
  int64_t *ts = NULL;
  int rc = MH_OK;
  if ((rc = idx_open(ipath, IDX_IMAGES_MAGIC, "image (idx3-ubyte)", "images", &fi, idims))) goto done;
  if ((rc = idx_open(lpath, IDX_LABELS_MAGIC, "label (idx1-ubyte)", "labels", &fl, ldims))) goto done;
  const int64_t n = idims[0];
  if (n > 1 && step > 0 && (t0 > 0 ? (INT64_MAX - t0) : INT64_MAX) / step < n - 1) {
    rc = mh_errorf("--timestamp-start %lld and --timestamp-step %lld would give row %lld a "
                   "timestamp past the largest one (%lld); choose smaller values",
                   (long long)t0, (long long)step, (long long)(n - 1), (long long)INT64_MAX);
    goto done;
  }
  if (ldims[0] != idims[0]) {
    rc = mh_errorf("%s has %u images but %s has %u labels; use the matching pair of files", ipath,
                   idims[0], lpath, ldims[0]);
    goto done;
  }
  if (n == 0) {
    rc = mh_errorf("%s holds no images", ipath);
    goto done;
  }
  if (idims[1] == 0 || idims[2] == 0) {
    rc = mh_errorf("%s: images of %ux%u pixels are empty", ipath, idims[1], idims[2]);
    goto done;
  }

  /* Labels (small) first: they decide num_classes. */
  if (!(lab8 = mh_malloc((size_t)n))) {
    rc = MH_ERR;
    goto done;
  }
  if (fread(lab8, 1, (size_t)n, fl) != (size_t)n) {
    rc = mh_errorf("error reading %s: %s", lpath, ferror(fl) ? strerror(errno) : "unexpected end of file");
    goto done;
  }
  int maxl = 0;
  int64_t maxi = 0;
  for (int64_t i = 0; i < n; i++)
    if (lab8[i] > maxl) {
      maxl = lab8[i];
      maxi = i;
    }
  StoreSchema sc;
  memset(&sc, 0, sizeof sc);
  sc.type = FEAT_U8;
  sc.ndims = 3;
  sc.dims[0] = 1;
  sc.dims[1] = idims[1];
  sc.dims[2] = idims[2];
  sc.num_classes = o->num_classes ? o->num_classes : maxl + 1;
  if (maxl >= sc.num_classes) {
    rc = mh_errorf("%s: label %d (item %lld) is not below --num-classes %d", lpath, maxl,
                   (long long)maxi, sc.num_classes);
    goto done;
  }

  /* Images in blocks of one shard each. */
  IngestSink sink;
  if ((rc = ingest_sink_open(&sink, o, &sc, res))) goto done;
  sink.expected = n;
  const int64_t block = n < o->shard_size ? n : o->shard_size;
  const size_t img = (size_t)idims[1] * idims[2];
  if (!(pix = mh_malloc((size_t)block * img)) || !(labels = mh_malloc((size_t)block * 4)) ||
      !(ts = mh_malloc((size_t)block * 8))) {
    rc = MH_ERR;
    goto done;
  }
  for (int64_t r0 = 0; r0 < n && !rc; r0 += block) {
    int64_t len = n - r0 < block ? n - r0 : block;
    if (fread(pix, img, (size_t)len, fi) != (size_t)len) {
      rc = mh_errorf("error reading %s: %s", ipath,
                     ferror(fi) ? strerror(errno) : "unexpected end of file");
      break;
    }
    for (int64_t i = 0; i < len; i++) {
      labels[i] = lab8[r0 + i];
      ts[i] = t0 + (r0 + i) * step;
    }
    rc = ingest_sink_write(&sink, len, ts, labels, pix);
  }
done:
  free(ts);
  free(labels);
  free(pix);
  free(lab8);
  if (fl) fclose(fl);
  if (fi) fclose(fi);
  return rc;
}

const IngestFormat ingest_format_idx = {
    "idx",
    "MNIST-style IDX: --images idx3-ubyte + --labels idx1-ubyte (uint8 [1, rows, cols])",
    idx_opts,
    idx_run,
};
