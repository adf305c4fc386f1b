/* test_summary.c - exact type-7 bands and the roll-ups with their ALL margins. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdlib.h>
#include <string.h>

#include "summary.h"
#include "xalloc.h"

Test(summary, band_of_five_counts_matches_hand_computed_type7_quantiles)
{
    const int32_t v[] = { 913, 887, 902, 921, 894 };   /* sorted: 887 894 902 913 921 */
    summary_band b;

    summary_band_int32(v, 5, &b);
    cr_expect(epsilon_eq(dbl, b.mean, 903.4, 1e-9));
    cr_expect(epsilon_eq(dbl, b.sd, 13.794926603, 1e-8));
    cr_expect(epsilon_eq(dbl, b.q[0], 887.7, 1e-9));    /* h = 0.1: 887 + 0.1 * 7 */
    cr_expect(epsilon_eq(dbl, b.q[1], 888.4, 1e-9));    /* h = 0.2 */
    cr_expect(epsilon_eq(dbl, b.q[3], 894.0, 1e-9));    /* h = 1 */
    cr_expect(epsilon_eq(dbl, b.q[4], 902.0, 1e-9));
    cr_expect(epsilon_eq(dbl, b.q[6], 917.8, 1e-9));    /* h = 3.6: 913 + 0.6 * 8 */
    cr_expect(epsilon_eq(dbl, b.q[8], 920.2, 1e-9));    /* h = 3.9 */
}

Test(summary, one_value_has_zero_sd_and_every_quantile_equal)
{
    const int32_t v[] = { 3681 };
    summary_band b;

    summary_band_int32(v, 1, &b);
    cr_expect(eq(dbl, b.sd, 0.0));
    for (int j = 0; j < SUMMARY_N_Q; j++)
        cr_expect(eq(dbl, b.q[j], 3681.0));
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Narrow ranges take the histogram, wide ones the radix sort; both must equal a full sort. */
Test(summary, histogram_and_radix_paths_agree_with_a_sorted_reference)
{
    static const int32_t spread[] = { 3, 40, 9000, 250000, 2000000000 };
    enum { N = 2357 };
    int32_t *v = xmalloc(N * sizeof *v);
    double *ref = xmalloc(N * sizeof *ref);
    unsigned long x = 88172645463325252UL;

    for (size_t k = 0; k < sizeof spread / sizeof spread[0]; k++) {
        summary_band b;
        for (size_t i = 0; i < N; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v[i] = (int32_t)(x % (unsigned long)spread[k]) - (k == 2 ? 4500 : 0);
            ref[i] = v[i];
        }
        qsort(ref, N, sizeof *ref, cmp_dbl);
        summary_band_int32(v, N, &b);
        for (int j = 0; j < SUMMARY_N_Q; j++)
            cr_expect(epsilon_eq(dbl, b.q[j], summary_quantile_sorted(ref, N, SUMMARY_PROBS[j]),
                                 1e-6), "spread %d quantile %d", spread[k], j);
    }
    free(v);
    free(ref);
}

Test(summary, quantile_of_sorted_doubles_interpolates_linearly)
{
    const double x[] = { 1.5, 2.25, 4.0, 10.0 };

    cr_expect(epsilon_eq(dbl, summary_quantile_sorted(x, 4, 0.5), 3.125, 1e-12));
    cr_expect(epsilon_eq(dbl, summary_quantile_sorted(x, 4, 0.9), 8.2, 1e-12));
    cr_expect(epsilon_eq(dbl, summary_quantile_sorted(x, 4, 1.0), 10.0, 1e-12));
    cr_expect(epsilon_eq(dbl, summary_quantile_sorted(x, 4, 0.0), 1.5, 1e-12));
}

/* Feed two replications by hand through the sink and check margins are sums within each. */
Test(summary, margins_are_sums_within_each_replication)
{
    scenario *sc = xcalloc(1, sizeof *sc);
    sim_setting slot_setting[SIM_N_SETTINGS + 1];
    int32_t *x = xcalloc((size_t)SIM_N_AGES * SIM_N_NEEDS * (SIM_N_SETTINGS + 1), sizeof *x);
    engine_flows fl = { 0 };
    size_t row_off[ENGINE_ROWS + 1];
    engine_view v = { .n_slots = SIM_N_SETTINGS + 1, .row_off = row_off,
                      .slot_setting = slot_setting, .x = x, .flows = &fl, .h = 1 };
    summary *s;
    engine_sink k;
    const size_t S = SIM_N_SETTINGS + 1;

    sc->base_year = 2025;
    sc->caseload[5][NEED_ASD][SET_MS] = 4;
    for (int i = 0; i < SIM_N_SETTINGS; i++)
        slot_setting[i] = (sim_setting)i;
    slot_setting[SIM_N_SETTINGS] = SET_RP;    /* a named provision counted as RP */
    for (size_t c = 0; c <= ENGINE_ROWS; c++)  /* every row holds every slot */
        row_off[c] = c * S;
    s = summary_alloc(sc, 2, 1, 1);
    k = summary_sink(s);
    x[(5 * SIM_N_NEEDS + NEED_ASD) * S + SET_MS] = 10;
    x[(6 * SIM_N_NEEDS + NEED_ASD) * S + SIM_N_SETTINGS] = 3;
    x[(12 * SIM_N_NEEDS + NEED_SEMH) * S + SET_SS] = 5;
    v.rep = 0;
    k.rep_year(k.ctx, &v);
    x[(5 * SIM_N_NEEDS + NEED_ASD) * S + SET_MS] = 20;
    v.rep = 1;
    k.rep_year(k.ctx, &v);
    k.year_done(k.ctx, 1, 0, 1);
    cr_expect(eq(dbl, summary_get(s, 1, summary_series(SUMMARY_ALL_PHASE, SUMMARY_ALL_NEED,
                                                       SUMMARY_ALL_SETTING))->q[0], 18.25));
    cr_expect(eq(dbl, summary_get(s, 1, summary_series(PHASE_PRI, NEED_ASD,
                                                       SUMMARY_ALL_SETTING))->mean, 18.0));
    cr_expect(eq(dbl, summary_get(s, 1, summary_series(PHASE_PRI, NEED_ASD, SET_RP))->mean,
                 3.0));
    cr_expect(eq(dbl, summary_get(s, 1, summary_series(SUMMARY_ALL_PHASE, NEED_SEMH,
                                                       SUMMARY_ALL_SETTING))->mean, 5.0));
    cr_expect(eq(int, summary_present(s, 1, summary_series(PHASE_SEC, NEED_ASD,
                                                           SUMMARY_ALL_SETTING)), 0));
    cr_expect(eq(dbl, summary_get(s, 0, summary_series(SUMMARY_ALL_PHASE, SUMMARY_ALL_NEED,
                                                       SUMMARY_ALL_SETTING))->q[4], 4.0));
    summary_free(s);
    free(x);
    free(sc);
}
