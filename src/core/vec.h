/* vec.h - growable arrays of int64 and float, the containers used for key
 * lists, timestamps and weights. Push functions return MH_OK or MH_ERR. */
#ifndef MH_VEC_H
#define MH_VEC_H

#include <stdint.h>

typedef struct {
  int64_t *data; /* elements */
  int64_t len;   /* used */
  int64_t cap;   /* allocated */
} I64Vec;

typedef struct {
  float *data;
  int64_t len;
  int64_t cap;
} F32Vec;

int i64vec_push(I64Vec *v, int64_t x);
int i64vec_reserve(I64Vec *v, int64_t cap);
void i64vec_free(I64Vec *v);
int f32vec_push(F32Vec *v, float x);
int f32vec_reserve(F32Vec *v, int64_t cap);
void f32vec_free(F32Vec *v);

#endif
