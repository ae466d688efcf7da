/* vec.c - see vec.h. */
#include "core/vec.h"

#include <stdlib.h>

#include "core/error.h"

#define DEFINE_VEC(Vec, T, prefix)                                            \
  int prefix##_reserve(Vec *v, int64_t cap) {                                 \
    if (cap <= v->cap) return MH_OK;                                          \
    T *d = mh_realloc(v->data, (size_t)cap * sizeof(T));                      \
    if (!d) return MH_ERR;                                                    \
    v->data = d;                                                              \
    v->cap = cap;                                                             \
    return MH_OK;                                                             \
  }                                                                           \
  int prefix##_push(Vec *v, T x) {                                            \
    if (v->len == v->cap && prefix##_reserve(v, v->cap ? 2 * v->cap : 16))    \
      return MH_ERR;                                                          \
    v->data[v->len++] = x;                                                    \
    return MH_OK;                                                             \
  }                                                                           \
  void prefix##_free(Vec *v) {                                                \
    free(v->data);                                                            \
    v->data = NULL;                                                           \
    v->len = v->cap = 0;                                                      \
  }

DEFINE_VEC(I64Vec, int64_t, i64vec)
DEFINE_VEC(F32Vec, float, f32vec)
