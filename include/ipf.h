/* ipf.h - a three-way table from its two-way margins: iterative proportional fitting and
 * controlled rounding to whole counts.
 *
 * The table has axes a, b, c (for the importer: age, need, setting) and is stored flat,
 * x[(a * nb + b) * nc + c]. A margin is a two-dimensional array of targets in which NAN marks
 * an unknown (suppressed) cell: unknowns are not zeros. The unknown cells of one row of a
 * margin are fitted jointly to what the row total leaves over, when that total is given.
 * Everything here is pure computation: no I/O, no allocation the caller has to free, and the
 * same input always gives the same output. */
#ifndef SENDSIM_IPF_H
#define SENDSIM_IPF_H

#include <stddef.h>
#include "status.h"

/* Margins and totals are borrowed; any margin may be NULL (not published at all). */
typedef struct ipf_problem {
    size_t na, nb, nc;
    const double *ab;       /* [na * nb], ab[a * nb + b] */
    const double *ac;       /* [na * nc], ac[a * nc + c]: the margin fitted last, so exactly */
    const double *bc;       /* [nb * nc], bc[b * nc + c] */
    const double *a_total;  /* [na] or NULL: lumps the unknowns of a row of ab and of ac */
    const double *b_total;  /* [nb] or NULL: lumps the unknowns of a row of bc */
} ipf_problem;

typedef struct ipf_fit_info {
    size_t iterations;      /* full sweeps (ab, bc, ac) done */
    double max_residual;    /* largest |fitted - target| over the known cells and lumps of ab
                               and bc after the last sweep (ac is then exact) */
    int    converged;       /* 1 when max_residual fell below the tolerance */
} ipf_fit_info;

/* Fit x[na * nb * nc] (output, overwritten) to the margins by IPF from a flat start: sweep
 * ab, bc, ac in turn until the largest residual is below `tol` or `max_iter` sweeps are done.
 * Returns SIM_OK (also when not converged: inconsistent margins have no exact fit, and
 * `info` says how far off it is), or SIM_EDATA for zero dimensions or a negative target. */
sim_status ipf_fit(const ipf_problem *p, size_t max_iter, double tol, double *x,
                   ipf_fit_info *info, sim_error *err);

typedef struct ipf_round_info {
    long   max_dev;         /* largest |integer margin - published target| over the known
                               cells of ab and bc */
    size_t n_dev;           /* known cells of ab and bc that are off by at least 1 */
    long   sum_abs_dev;     /* sum of those deviations */
    size_t swaps;           /* improving moves made by the local search */
} ipf_round_info;

/* Round the fitted x to whole counts out[na * nb * nc] so that, in this order of fidelity,
 *   1. every cell of ac equals ac_int[na * nc] exactly (so the total is exact too);
 *   2. the b totals (summed over a and c) equal b_int[nb] exactly;
 *   3. ab and bc as close to their known targets as the search gets (moves that keep 1 and 2
 *      lower the sum of squared deviations until none does; unknown cells aim at the fit).
 * Requires sum(ac_int) == sum(b_int), all entries >= 0. Returns SIM_OK, or SIM_EDATA (with
 * `err`) when the two totals differ or an entry is negative. */
sim_status ipf_round(const ipf_problem *p, const double *x, const long *ac_int,
                     const long *b_int, long *out, ipf_round_info *info, sim_error *err);

/* Round v[n] (>= 0) to whole numbers out[n] summing to `total` (largest remainder on v scaled
 * to `total`; ties to the lower index). When every v is 0 the total is spread evenly. */
void ipf_round_vector(const double *v, size_t n, long total, long *out);

#endif /* SENDSIM_IPF_H */
