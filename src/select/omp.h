/* omp.h - orthogonal matching pursuit with a ridge term and a final
 * non-negative least-squares fit: GradMatch's solver (the original's
 * deepcore_utils/orthogonal_matching_pursuit_np, after Killamsetty et
 * al.'s GradMatch).
 *
 * Given n vectors a_i of dimension p and a target b, it chooses `budget`
 * of them: each step the unchosen a_i with the largest (signed) inner
 * product with the residual, ties to the lower position; the residual is
 * b - x a_i with x = <a_i, r> / |a_i|^2 after the first choice, and
 * b - A_S^T x with x = (A_S A_S^T + lam I)^-1 A_S b after each later one.
 * The weights are then the non-negative x minimising
 * |(A_S A_S^T + lam I) x - A_S b| (scipy.optimize.nnls in the original);
 * a budget of one gets weight 1.
 *
 * Cost: O(budget * n * p) for the inner products plus O(budget^2 * p) for
 * the factorisation (the ridge solves run on the rows of L^-1 A_S, one new
 * row per step, never a fresh budget x budget solve); the NNLS fit builds
 * the budget x budget matrix (O(budget^2 p), budget^2 doubles) and runs
 * cyclic coordinate descent to a relative step of 1e-13 (at most 1000
 * sweeps of O(budget^2)). This module does not know what the vectors are. */
#ifndef MH_OMP_H
#define MH_OMP_H

#include <stdint.h>

/* a: n rows of p doubles; b: p. sel[budget]: positions in the order chosen;
 * x[budget]: their weights (>= 0; some may be 0). 1 <= budget <= n. */
int omp_select(const double *a, int64_t n, int64_t p, const double *b, int64_t budget, double lam,
               int64_t *sel, double *x);

/* min |M x - c| over x >= 0, M symmetric k x k (row-major): cyclic
 * coordinate descent from x = 0. */
int nnls_symmetric(const double *M, int64_t k, const double *c, double *x);

#endif
