/* conv2d_direct.h - direct stride-1 convolution kernels (AVX2 + FMA), the
 * fast path of conv2d.c; internal to the conv2d layer.
 *
 * Each sample is copied into zero-padded planes, and the output is computed
 * on the "padded grid": output pixel (oh, ow) is grid point q = oh * Wp + ow
 * with Wp the padded width, so that the input of kernel tap (ci, kh, kw) for
 * a run of consecutive grid points is one contiguous run of the padded
 * plane at offset ci * L + kh * Wp + kw (grid points with ow >= Wo are
 * computed and dropped: (Wp - Wo) / Wp of the work, 2/18 on a 16x16 map
 * with padding 1). That turns the convolution into a GEMM whose B operand
 * is read in place, never materialised as im2col columns:
 *  - forward: a register tile of 4 output channels x 24 grid points,
 *    accumulated over the cin * k * k taps (weights packed [tap][4]);
 *  - input gradient: the same kernel on the zero-padded dy (padding
 *    k - 1 - pad) with the weights flipped and transposed;
 *  - weight gradient: a tile of 4 output channels x 3 taps, 8 grid points
 *    per vector, accumulated over a block of samples into per-lane partial
 *    sums that are added up once per call.
 * Every sum runs in a fixed order, so results depend on the samples given
 * and nothing else (no thread or timing dependence). */
#ifndef MH_CONV2D_DIRECT_H
#define MH_CONV2D_DIRECT_H

#include <stdint.h>

typedef struct ConvDirect ConvDirect;

/* A plan for nn.Conv2d(cin, cout, k, stride 1, pad) on cin x H x W inputs,
 * or NULL when the direct kernels do not apply: stride != 1, pad > k - 1,
 * a CPU without AVX2 and FMA, a compiler without x86 intrinsics, or
 * $MODYN_CONV=gemm (the im2col + GEMM path, for comparisons). */
ConvDirect *convd_create(int cin, int H, int W, int cout, int k, int stride, int pad);
void convd_free(ConvDirect *d);
/* Floats of one thread's workspace (forward and backward alike), and of
 * the packed weights (shared, packed once per call). */
int64_t convd_ws_floats(const ConvDirect *d);
int64_t convd_pack_floats(const ConvDirect *d);
/* Pack W [cout, cin, k, k] for forward (pack_fwd) or for the input
 * gradient (pack_bwd); both write into the same buffer's parts. */
void convd_pack(const ConvDirect *d, const float *W, float *pack, int for_backward);
/* y [n, cout, Ho, Wo] = conv(x [n, cin, H, W]) + b, ReLU'ed when relu. */
void convd_forward(const ConvDirect *d, const float *pack, const float *b, int relu,
                   const float *x, float *y, int64_t n, float *ws);
/* For n samples: dy masked by the fused ReLU (y > 0) in place when relu,
 * gW [cout, cin*k*k] and gb [cout] accumulated (+=), dx written unless NULL
 * (pack: convd_pack(..., 1)). */
void convd_backward(const ConvDirect *d, const float *pack, int relu, const float *x,
                    const float *y, float *dy, float *dx, int64_t n, float *ws, float *gW,
                    float *gb);

#endif
