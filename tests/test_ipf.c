/* test_ipf.c - iterative proportional fitting and controlled rounding on small hand-computed
 * tables, including margins that admit no table at all. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ipf.h"

/* A 2 x 2 x 2 table with no three-way interaction: x[a][b][c] = ab[a][b] * ac[a][c] / A[a],
 * so the fit has the closed form {2, 3, 2, 3, 6, 9, 6, 9}. */
static const double AB[] = { 5, 5, 15, 15 };
static const double AC[] = { 4, 6, 12, 18 };
static const double BC[] = { 8, 12, 8, 12 };

Test(ipf, fit_of_an_independent_table_matches_the_closed_form)
{
    const double want[8] = { 2, 3, 2, 3, 6, 9, 6, 9 };
    ipf_problem p = { 2, 2, 2, AB, AC, BC, NULL, NULL };
    ipf_fit_info info;
    double x[8];

    cr_assert(eq(int, ipf_fit(&p, 100, 1e-10, x, &info, NULL), SIM_OK));
    cr_expect(eq(int, info.converged, 1));
    for (int i = 0; i < 8; i++)
        cr_expect(epsilon_eq(dbl, x[i], want[i], 1e-8), "cell %d: %g", i, x[i]);
}

Test(ipf, rounding_an_exact_fit_reproduces_every_margin)
{
    const long ac_int[4] = { 4, 6, 12, 18 }, b_int[2] = { 20, 20 };
    const long want[8] = { 2, 3, 2, 3, 6, 9, 6, 9 };
    ipf_problem p = { 2, 2, 2, AB, AC, BC, NULL, NULL };
    ipf_round_info info;
    double x[8];
    long out[8];

    cr_assert(eq(int, ipf_fit(&p, 100, 1e-10, x, NULL, NULL), SIM_OK));
    cr_assert(eq(int, ipf_round(&p, x, ac_int, b_int, out, &info, NULL), SIM_OK));
    cr_expect(eq(i64[8], (int64_t *)out, (int64_t *)want));
    cr_expect(eq(i64, info.max_dev, 0));
    cr_expect(eq(sz, info.n_dev, 0));
}

/* Fractions that must be rounded: 1 x 2 x 3 with every cell 7/3 of a plan in the fit. The
 * integer table must keep the row sums (ac) and the b totals exactly. */
Test(ipf, rounding_of_fractions_keeps_age_by_setting_and_need_totals_exact)
{
    const double ab[] = { 7, 7 }, ac[] = { 14.0 / 3, 14.0 / 3, 14.0 / 3 };
    const long ac_int[3] = { 5, 5, 4 }, b_int[2] = { 7, 7 };
    ipf_problem p = { 1, 2, 3, ab, ac, NULL, NULL, NULL };
    ipf_round_info info;
    double x[6];
    long out[6];

    cr_assert(eq(int, ipf_fit(&p, 100, 1e-10, x, NULL, NULL), SIM_OK));
    cr_expect(epsilon_eq(dbl, x[0], 7.0 / 3, 1e-9));
    cr_assert(eq(int, ipf_round(&p, x, ac_int, b_int, out, &info, NULL), SIM_OK));
    for (int c = 0; c < 3; c++)
        cr_expect(eq(i64, out[c] + out[3 + c], ac_int[c]), "setting %d", c);
    cr_expect(eq(i64, out[0] + out[1] + out[2], 7));
    cr_expect(eq(i64, out[3] + out[4] + out[5], 7));
}

/* Unknown (suppressed) cells are not zeros: with ab[0][1] unknown and the age total 10, the
 * lump of unknown cells in that row must hold 10 - 4 = 6. */
Test(ipf, unknown_margin_cells_share_what_the_row_total_leaves)
{
    const double ab[] = { 4, NAN, 9, 3 }, ac[] = { 7, 3, 6, 6 }, a_total[] = { 10, 12 };
    ipf_problem p = { 2, 2, 2, ab, ac, NULL, a_total, NULL };
    ipf_fit_info info;
    double x[8];

    cr_assert(eq(int, ipf_fit(&p, 500, 1e-10, x, &info, NULL), SIM_OK));
    cr_expect(eq(int, info.converged, 1));
    cr_expect(epsilon_eq(dbl, x[2] + x[3], 6.0, 1e-8));     /* a = 0, b = 1 */
    cr_expect(epsilon_eq(dbl, x[0] + x[1], 4.0, 1e-8));
    cr_expect(epsilon_eq(dbl, x[0] + x[2], 7.0, 1e-8));     /* a = 0, c = 0 */
}

/* Margins with no non-negative table at all: a = 0 only in c = 0 and b = 0 (ac, ab), but b = 0
 * only in c = 1 (bc). The fit cannot converge; rounding still keeps ac and the b totals and
 * the best integer table is off by 1 in each of the 8 ab and bc cells (hand-computed: putting
 * both units of a row in one need costs 2 in four cells, squared 16 > 8). */
Test(ipf, infeasible_margins_keep_the_primary_margins_and_report_the_deviation)
{
    const double ab[] = { 2, 0, 0, 2 }, ac[] = { 2, 0, 0, 2 }, bc[] = { 0, 2, 2, 0 };
    const long ac_int[4] = { 2, 0, 0, 2 }, b_int[2] = { 2, 2 };
    ipf_problem p = { 2, 2, 2, ab, ac, bc, NULL, NULL };
    ipf_fit_info fit;
    ipf_round_info info;
    double x[8];
    long out[8];

    cr_assert(eq(int, ipf_fit(&p, 200, 1e-6, x, &fit, NULL), SIM_OK));
    cr_expect(eq(int, fit.converged, 0));
    cr_expect(gt(dbl, fit.max_residual, 0.5));
    cr_assert(eq(int, ipf_round(&p, x, ac_int, b_int, out, &info, NULL), SIM_OK));
    cr_expect(eq(i64, out[0] + out[2], 2));                 /* ac[0][0] */
    cr_expect(eq(i64, out[5] + out[7], 2));                 /* ac[1][1] */
    cr_expect(eq(i64, out[1] + out[3] + out[4] + out[6], 0));
    cr_expect(eq(i64, out[0] + out[1] + out[4] + out[5], 2)); /* b = 0 total */
    cr_expect(eq(i64, info.max_dev, 1));
    cr_expect(eq(i64, info.sum_abs_dev, 8));
}

Test(ipf, rounding_refuses_margins_with_different_totals)
{
    const long ac_int[4] = { 4, 6, 12, 18 }, b_int[2] = { 20, 21 };
    ipf_problem p = { 2, 2, 2, AB, AC, BC, NULL, NULL };
    sim_error err;
    double x[8];
    long out[8];

    cr_assert(eq(int, ipf_fit(&p, 100, 1e-10, x, NULL, NULL), SIM_OK));
    cr_expect(eq(int, ipf_round(&p, x, ac_int, b_int, out, NULL, &err), SIM_EDATA));
    cr_expect(ne(ptr, strstr(err.msg, "40 and 41"), NULL), "%s", err.msg);
}

Test(ipf, fit_refuses_a_negative_target)
{
    const double bad[] = { 5, -1, 15, 15 };
    ipf_problem p = { 2, 2, 2, bad, AC, BC, NULL, NULL };
    double x[8];

    cr_expect(eq(int, ipf_fit(&p, 100, 1e-10, x, NULL, NULL), SIM_EDATA));
}

Test(ipf, round_vector_gives_the_largest_remainders_first)
{
    const double v[] = { 1.5, 1.5, 1.0 }, zero[] = { 0, 0, 0 };
    long out[3];

    ipf_round_vector(v, 3, 4, out);
    cr_expect(eq(i64, out[0], 2));
    cr_expect(eq(i64, out[1], 1));
    cr_expect(eq(i64, out[2], 1));
    ipf_round_vector(zero, 3, 5, out);                      /* nothing to go on: evenly */
    cr_expect(eq(i64, out[0] + out[1] + out[2], 5));
    cr_expect(eq(i64, out[0], 2));
}
