/* test_backtest.c - the backtest scores hand-checkable points and recovers known worlds. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backtest.h"
#include "scenario.h"
#include "test_helpers.h"
#include "xalloc.h"

enum { NA = SIM_N_AGES, TOP = SIM_MAX_AGE };

static scenario *scn_new(void)
{
    scenario *sc = xcalloc(1, sizeof *sc);

    snprintf(sc->name, sizeof sc->name, "synthetic");
    sc->base_year = 2025;
    sc->horizon = 3;
    sc->replications = 100;
    sc->seed = 1;
    sc->trend_window = 6;
    sc->damping = 1.0;
    sc->incidence_multiplier = 1.0;
    sc->overdispersion = 0.0;
    return sc;
}

static void add(scenario *sc, int year, int from, int to, hist_measure m, double count)
{
    sc->history = xrealloc(sc->history, (sc->n_history + 1) * sizeof *sc->history);
    sc->history[sc->n_history++] = (hist_row){ year, from, to, m, count };
}

static double sum(const double *v, int from, int to)
{
    double s = 0.0;
    for (int a = from; a <= to; a++)
        s += v[a];
    return s;
}

static const int BANDS[5][2] = { { 0, 4 }, { 5, 10 }, { 11, 15 }, { 16, 19 }, { 20, 25 } };

/* A cohort world with new plans growing exactly by exp(g) a year, constant cessation by age
 * and no transfers, run from empty for 40 years so that every age is in its steady state
 * (everything older than 26 years has left), published for years first..last: caseload by
 * single age, DfE band and total in January; new plans of each calendar year by age. */
static scenario *exponential_world(double g, int first, int last)
{
    scenario *sc = scn_new();
    double x[NA] = { 0 }, c[NA], j[NA];

    for (int a = 0; a < NA; a++) {
        c[a] = a < 16 ? 0.02 + 0.003 * a : a < TOP ? 0.20 + 0.03 * (a - 16) : 1.0;
        j[a] = a >= 2 && a <= 18 ? 12.0 + 2.5 * a : a < 2 ? 4.0 : 3.0;
    }
    for (int year = first - 40; year <= last; year++) {
        double growth = exp(g * (year - first)), nx[NA];
        if (year >= first) {
            for (int a = 0; a < NA; a++)
                add(sc, year, a, a, MEASURE_CASELOAD, x[a]);
            for (int b = 0; b < 5; b++)
                add(sc, year, BANDS[b][0], BANDS[b][1], MEASURE_CASELOAD,
                    sum(x, BANDS[b][0], BANDS[b][1]));
            add(sc, year, 0, TOP, MEASURE_CASELOAD, sum(x, 0, TOP));
        }
        /* new plans of calendar `year` join before the January year + 1 census */
        nx[0] = j[0] * growth;
        for (int a = 1; a < NA; a++)
            nx[a] = x[a - 1] * (1.0 - c[a - 1]) + j[a] * growth;
        if (year >= first && year < last)
            for (int a = 0; a < NA; a++)
                add(sc, year, a, a, MEASURE_NEW_PLANS, j[a] * growth);
        memcpy(x, nx, sizeof x);
    }
    return sc;
}

/* The same world drawn at random, as the model itself would: each plan continues with
 * probability 1 - c[a], new plans are Poisson around j[a] exp(g (year - first)). Published as
 * DfE does: caseload by band and total, new plans by band. */
static scenario *noisy_world(double g, int first, int last, unsigned long seed)
{
    scenario *sc = scn_new();
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    double x[NA] = { 0 }, c[NA], j[NA];

    gsl_rng_set(r, seed);
    for (int a = 0; a < NA; a++) {
        c[a] = a < 16 ? 0.03 : a < TOP ? 0.25 : 1.0;
        j[a] = a >= 2 && a <= 18 ? 30.0 : 5.0;
    }
    for (int year = first - 40; year <= last; year++) {
        double growth = exp(g * (year - first)), nx[NA], nj[NA];
        if (year >= first) {
            for (int b = 0; b < 5; b++)
                add(sc, year, BANDS[b][0], BANDS[b][1], MEASURE_CASELOAD,
                    sum(x, BANDS[b][0], BANDS[b][1]));
            add(sc, year, 0, TOP, MEASURE_CASELOAD, sum(x, 0, TOP));
        }
        for (int a = 0; a < NA; a++)
            nj[a] = (double)gsl_ran_poisson(r, j[a] * growth);
        nx[0] = nj[0];
        for (int a = 1; a < NA; a++)
            nx[a] = (double)gsl_ran_binomial(r, 1.0 - c[a - 1], (unsigned)x[a - 1]) + nj[a];
        if (year >= first && year < last) {
            for (int b = 0; b < 5; b++)
                add(sc, year, BANDS[b][0], BANDS[b][1], MEASURE_NEW_PLANS,
                    sum(nj, BANDS[b][0], BANDS[b][1]));
            add(sc, year, 0, TOP, MEASURE_NEW_PLANS, sum(nj, 0, TOP));
        }
        memcpy(x, nx, sizeof x);
    }
    gsl_rng_free(r);
    return sc;
}

/* ---- scoring --------------------------------------------------------------------------- */

Test(backtest, quantile_interpolates_between_order_statistics)
{
    const double v[] = { 887.5, 894.75, 902.25, 913.0, 921.0 };

    cr_expect(epsilon_eq(dbl, backtest_quantile(v, 5, 0.5), 902.25, 1e-12));
    cr_expect(epsilon_eq(dbl, backtest_quantile(v, 5, 0.10), 887.5 + 0.4 * 7.25, 1e-12));
    cr_expect(epsilon_eq(dbl, backtest_quantile(v, 5, 0.975), 913.0 + 0.9 * 8.0, 1e-12));
    cr_expect(epsilon_eq(dbl, backtest_quantile(v, 5, 0.0), 887.5, 1e-12));
    cr_expect(epsilon_eq(dbl, backtest_quantile(v, 5, 1.0), 921.0, 1e-12));
}

static backtest_point pt(backtest_method m, int h, int band, double actual, double forecast,
                         double p10, double p90, double p025, double p975)
{
    backtest_point p = { .method = m, .origin = 2020, .horizon = h, .year = 2020 + h,
                         .age_from = band ? 5 : 0, .age_to = band ? 10 : TOP,
                         .actual = actual, .forecast = forecast, .p50 = forecast,
                         .p10 = p10, .p90 = p90, .p025 = p025, .p975 = p975 };
    p.ape = 100.0 * fabs(forecast - actual) / actual;
    p.pe = 100.0 * (forecast - actual) / actual;
    p.in80 = m == BT_MODEL ? actual >= p10 && actual <= p90 : -1;
    p.in95 = m == BT_MODEL ? actual >= p025 && actual <= p975 : -1;
    return p;
}

Test(backtest, scores_match_hand_computed_mape_median_bias_and_coverage)
{
    backtest_point p[] = {
        /* ape 10, pe +10; inside both bands */
        pt(BT_MODEL, 1, 0, 1000.0, 1100.0, 900.0, 1200.0, 800.0, 1300.0),
        /* ape 5, pe -5; outside the 80% band, inside the 95% band */
        pt(BT_MODEL, 1, 0, 2000.0, 1900.0, 1850.0, 1950.0, 1700.0, 2100.0),
        /* ape 2.5, pe -2.5; outside both */
        pt(BT_MODEL, 1, 0, 400.0, 390.0, 385.0, 395.0, 380.0, 399.0),
        /* other horizon, band and method: must not count */
        pt(BT_MODEL, 2, 0, 400.0, 800.0, 0.0, 1e9, 0.0, 1e9),
        pt(BT_MODEL, 1, 1, 400.0, 800.0, 0.0, 1e9, 0.0, 1e9),
        pt(BT_LAST, 1, 0, 400.0, 800.0, 800.0, 800.0, 800.0, 800.0),
    };
    backtest_score s;

    backtest_score_points(p, 6, BT_MODEL, 0, 1, &s);
    cr_assert(eq(sz, s.n, 3));
    cr_expect(epsilon_eq(dbl, s.mape, 17.5 / 3.0, 1e-9));
    cr_expect(epsilon_eq(dbl, s.median_ape, 5.0, 1e-9));
    cr_expect(epsilon_eq(dbl, s.bias, 2.5 / 3.0, 1e-9));
    cr_expect(epsilon_eq(dbl, s.cover80, 1.0 / 3.0, 1e-12));
    cr_expect(epsilon_eq(dbl, s.cover95, 2.0 / 3.0, 1e-12));

    backtest_score_points(p, 6, BT_LAST, 0, 1, &s);
    cr_assert(eq(sz, s.n, 1));
    cr_expect(epsilon_eq(dbl, s.mape, 100.0, 1e-9));
    cr_expect(epsilon_eq(dbl, s.bias, 100.0, 1e-9));
    cr_expect(isnan(s.cover80), "naive methods have no interval");

    backtest_score_points(p, 6, BT_TREND5, 0, 1, &s);
    cr_expect(eq(sz, s.n, 0));
    cr_expect(isnan(s.mape));
}

/* ---- naive forecasts ------------------------------------------------------------------ */

Test(backtest, naive_growth_methods_are_exact_on_an_exponential_series)
{
    double y[12];

    for (int i = 0; i < 12; i++)
        y[i] = 1234.5 * pow(1.0837, i);
    for (int h = 1; h <= 3; h++) {
        double truth = y[8 + h];
        cr_expect(epsilon_eq(dbl, backtest_naive(BT_LAST_GROWTH, y, 2010, 12, 2018, h), truth,
                             1e-9 * truth));
        cr_expect(epsilon_eq(dbl, backtest_naive(BT_MEAN_GROWTH3, y, 2010, 12, 2018, h), truth,
                             1e-9 * truth));
        cr_expect(epsilon_eq(dbl, backtest_naive(BT_LAST, y, 2010, 12, 2018, h), y[8], 1e-12));
        cr_expect(lt(dbl, backtest_naive(BT_TREND5, y, 2010, 12, 2018, h), truth),
                  "a straight line under-forecasts convex growth");
    }
}

Test(backtest, trend5_is_exact_on_a_line_and_needs_three_points)
{
    double y[8] = { 100.0, 117.25, 134.5, 151.75, 169.0, NAN, NAN, NAN };

    cr_expect(epsilon_eq(dbl, backtest_naive(BT_TREND5, y, 2010, 8, 2014, 3), 220.75, 1e-9));
    y[0] = y[1] = NAN;
    cr_expect(epsilon_eq(dbl, backtest_naive(BT_TREND5, y, 2010, 8, 2014, 1), 186.25, 1e-9));
    y[2] = NAN;
    cr_expect(isnan(backtest_naive(BT_TREND5, y, 2010, 8, 2014, 1)));
    /* history the method needs is missing: no forecast */
    cr_expect(isnan(backtest_naive(BT_LAST_GROWTH, y, 2010, 8, 2011, 1)));
    cr_expect(isnan(backtest_naive(BT_MEAN_GROWTH3, y, 2010, 8, 2012, 1)));
    cr_expect(isnan(backtest_naive(BT_LAST, y, 2010, 8, 2015, 1)));
    cr_expect(isnan(backtest_naive(BT_MODEL, y, 2010, 8, 2014, 1)));
}

/* ---- published figures and truncation ------------------------------------------------- */

Test(backtest, published_uses_an_exact_row_else_a_partition_of_single_ages)
{
    scenario *sc = scn_new();
    double v;

    add(sc, 2024, 0, 2, MEASURE_CASELOAD, 30.0);
    for (int a = 3; a <= TOP; a++)
        add(sc, 2024, a, a, MEASURE_CASELOAD, 10.0 + a);
    add(sc, 2024, 5, 10, MEASURE_CASELOAD, 999.0);          /* exact row wins */
    add(sc, 2023, 0, TOP, MEASURE_CASELOAD, 700.0);
    add(sc, 2023, 0, TOP, MEASURE_CASELOAD, 701.0);         /* later release wins */
    add(sc, 2023, 0, TOP, MEASURE_NEW_PLANS, 5.0);

    cr_assert(eq(int, backtest_published(sc, 2024, 0, 4, &v), 1));
    cr_expect(epsilon_eq(dbl, v, 30.0 + 13.0 + 14.0, 1e-12));
    cr_assert(eq(int, backtest_published(sc, 2024, 5, 10, &v), 1));
    cr_expect(epsilon_eq(dbl, v, 999.0, 1e-12));
    cr_assert(eq(int, backtest_published(sc, 2023, 0, TOP, &v), 1));
    cr_expect(epsilon_eq(dbl, v, 701.0, 1e-12));
    cr_expect(eq(int, backtest_published(sc, 2023, 0, 4, &v), 0), "no age detail in 2023");
    cr_expect(eq(int, backtest_published(sc, 2024, 1, 4, &v), 0), "0-2 cannot be cut");
    cr_expect(eq(int, backtest_published(sc, 2022, 0, TOP, &v), 0));
    scenario_free(sc);
}

Test(backtest, caseload_by_age_spreads_bands_by_the_nearest_single_age_profile)
{
    scenario *sc = scn_new();
    double by_age[NA];

    /* 2016: bands only. 2024: single ages (a profile rising with age inside each band). */
    for (int b = 0; b < 5; b++)
        add(sc, 2016, BANDS[b][0], BANDS[b][1], MEASURE_CASELOAD, 101.0 * (b + 1));
    for (int a = 0; a <= TOP; a++)
        add(sc, 2024, a, a, MEASURE_CASELOAD, 1.0 + a);

    cr_assert(eq(int, backtest_caseload_by_age(sc, 2016, by_age, NULL), SIM_OK));
    for (int b = 0; b < 5; b++)
        cr_expect(epsilon_eq(dbl, sum(by_age, BANDS[b][0], BANDS[b][1]), 101.0 * (b + 1),
                             1e-9), "band %d keeps its published total", b);
    for (int a = 0; a <= TOP; a++)
        cr_expect(epsilon_eq(dbl, by_age[a], floor(by_age[a]), 1e-12), "whole plans");
    /* 0-4 holds 101 in the ratio 1:2:3:4:5 -> 6.73, 13.47, 20.2, 26.93, 33.67 */
    cr_expect(epsilon_eq(dbl, by_age[0], 7.0, 1e-12));
    cr_expect(epsilon_eq(dbl, by_age[4], 34.0, 1e-12));
    cr_expect(lt(dbl, by_age[16], by_age[19]));

    sim_error err;
    cr_expect(eq(int, backtest_caseload_by_age(sc, 2019, by_age, &err), SIM_EDATA));
    cr_expect(ne(ptr, strstr(err.msg, "2019"), NULL), "the message names the year: %s",
              err.msg);
    scenario_free(sc);
}

Test(backtest, truncation_keeps_only_what_was_published_by_the_origin)
{
    scenario *sc = exponential_world(0.07, 2010, 2025), *t = NULL;

    cr_assert(eq(int, backtest_truncate(sc, 2018, 3, 50, &t, NULL), SIM_OK));
    cr_expect(eq(int, t->base_year, 2018));
    cr_expect(eq(int, t->horizon, 3));
    cr_expect(eq(long, t->replications, 50));
    cr_expect(eq(ptr, t->pop, NULL));
    cr_expect(eq(sz, t->n_provisions, 0));
    for (size_t i = 0; i < t->n_history; i++) {
        const hist_row *h = &t->history[i];
        if (h->measure == MEASURE_CASELOAD)
            cr_expect(le(int, h->year, 2018));
        else
            cr_expect(le(int, h->year, 2017), "flows of 2018 are published after January 2018");
    }
    double total = 0.0, pub;
    for (int a = 0; a < NA; a++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++) {
                if (n != NEED_UNK || s != SET_UNK)
                    cr_expect(eq(dbl, t->caseload[a][n][s], 0.0));
                total += t->caseload[a][n][s];
            }
    cr_assert(eq(int, backtest_published(sc, 2018, 0, TOP, &pub), 1));
    cr_expect(epsilon_eq(dbl, total, pub, 0.5 * NA), "each single age rounded");
    for (int a = 0; a < NA; a++) {
        cr_assert(eq(int, backtest_published(sc, 2018, a, a, &pub), 1));
        cr_expect(epsilon_eq(dbl, t->caseload[a][NEED_UNK][SET_UNK], round(pub), 1e-9));
    }
    scenario_free(t);
    scenario_free(sc);
}

Test(backtest, default_origins_leave_history_before_and_horizon_after)
{
    scenario *sc = exponential_world(0.05, 2010, 2025);
    int from, to;

    cr_assert(eq(int, backtest_default_origins(sc, 3, &from, &to, NULL), SIM_OK));
    cr_expect(eq(int, from, 2014), "five totals 2010-2014 and new plans 2010-2013");
    cr_expect(eq(int, to, 2022), "three later totals 2023-2025");
    cr_expect(eq(int, backtest_default_origins(sc, 20, &from, &to, NULL), SIM_EDATA));
    scenario_free(sc);
}

/* ---- the whole backtest ---------------------------------------------------------------- */

Test(backtest, exponential_world_last_growth_is_exact_and_the_model_recovers_growth)
{
    const double g = 0.0734;
    scenario *sc = exponential_world(g, 2008, 2025);
    backtest_options o = { .origin_from = 2016, .origin_to = 2022, .horizon = 3,
                           .reps = 400, .seed = 7 };
    backtest_result r;
    sim_error err = { 0 };

    cr_assert(eq(int, backtest_run(sc, &o, &r, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(sz, r.n_fits, 7));
    for (size_t i = 0; i < r.n_fits; i++)
        cr_expect(epsilon_eq(dbl, r.fits[i].growth, g, 1e-6), "origin %d: g = %g",
                  r.fits[i].origin, r.fits[i].growth);
    for (size_t i = 0; i < r.n_scores; i++) {
        const backtest_score *s = &r.scores[i];
        if (s->bands)
            continue;
        cr_expect(eq(sz, s->n, 7), "every origin scored at every horizon");
        if (s->method == BT_LAST_GROWTH || s->method == BT_MEAN_GROWTH3)
            cr_expect(lt(dbl, s->mape, 1e-9), "%s h%d: %g", backtest_method_code(s->method),
                      s->horizon, s->mape);
        /* Poisson joiners only: the median is within a few tenths of a percent of the truth
         * (sd of the total at h = 3 is about 1.5% here) */
        if (s->method == BT_MODEL)
            cr_expect(lt(dbl, s->mape, 1.0), "model h%d: MAPE %g", s->horizon, s->mape);
        if (s->method == BT_LAST)
            cr_expect(gt(dbl, s->mape, 6.0 * s->horizon), "last value misses the growth");
    }
    backtest_result_free(&r);
    scenario_free(sc);
}

Test(backtest, noisy_world_growth_is_recovered_within_its_standard_error)
{
    const double g = 0.0612;
    scenario *sc = noisy_world(g, 2006, 2025, 20240901UL);
    backtest_options o = { .origin_from = 2014, .origin_to = 2022, .horizon = 3,
                           .reps = 300, .seed = 11 };
    backtest_result r;
    sim_error err = { 0 };

    cr_assert(eq(int, backtest_run(sc, &o, &r, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(sz, r.n_fits, 9));
    for (size_t i = 0; i < r.n_fits; i++) {
        /* ~500 new plans a year: se of a 6-year slope is about 0.01 */
        cr_expect(gt(dbl, r.fits[i].growth_se, 0.0));
        cr_expect(epsilon_eq(dbl, r.fits[i].growth, g, 5.0 * r.fits[i].growth_se + 1e-9),
                  "origin %d: g = %.4f, se %.4f", r.fits[i].origin, r.fits[i].growth,
                  r.fits[i].growth_se);
    }
    for (size_t i = 0; i < r.n_scores; i++) {
        const backtest_score *s = &r.scores[i];
        if (s->bands || s->n == 0)
            continue;
        if (s->method == BT_MODEL)   /* the model is the true process here */
            cr_expect(lt(dbl, s->mape, 1.5 * s->horizon), "model h%d: MAPE %g", s->horizon,
                      s->mape);
        if (s->method == BT_LAST)    /* ~4.5% a year of growth in the total is missed */
            cr_expect(gt(dbl, s->mape, 3.0 * s->horizon), "last h%d: MAPE %g", s->horizon,
                      s->mape);
    }
    backtest_result_free(&r);
    scenario_free(sc);
}

Test(backtest, same_seed_gives_the_same_points_and_origins_outside_history_are_refused)
{
    scenario *sc = exponential_world(0.04, 2008, 2025);
    backtest_options o = { .origin_from = 2020, .origin_to = 2021, .horizon = 2, .reps = 50,
                           .seed = 3 };
    backtest_result a, b;
    sim_error err = { 0 };

    cr_assert(eq(int, backtest_run(sc, &o, &a, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(int, backtest_run(sc, &o, &b, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(sz, a.n_points, b.n_points));
    for (size_t i = 0; i < a.n_points; i++) {
        cr_expect(eq(dbl, a.points[i].p10, b.points[i].p10));
        cr_expect(eq(dbl, a.points[i].p975, b.points[i].p975));
    }
    backtest_result_free(&a);
    backtest_result_free(&b);

    o.origin_from = 2024;
    o.origin_to = 2030;
    cr_expect(eq(int, backtest_run(sc, &o, &a, &err), SIM_EUSAGE));
    cr_expect(ne(ptr, strstr(err.msg, "--origins"), NULL), "%s", err.msg);
    o.origin_from = 2020;
    o.origin_to = 2021;
    o.horizon = 21;
    cr_expect(eq(int, backtest_run(sc, &o, &a, &err), SIM_EUSAGE));
    o.horizon = -1;
    cr_expect(eq(int, backtest_run(sc, &o, &a, &err), SIM_EUSAGE));
    o.horizon = 2;
    o.reps = 5;
    cr_expect(eq(int, backtest_run(sc, &o, &a, &err), SIM_EUSAGE));
    scenario_free(sc);
}

/* A projector that forecasts the base caseload unchanged, so every model point is known. */
static sim_status flat_projector(const scenario *sc, const fit *f, int horizon, long reps,
                                 unsigned long seed, double *by_age, void *ctx, sim_error *err)
{
    (void)f, (void)seed, (void)ctx, (void)err;
    for (long r = 0; r < reps; r++)
        for (int h = 1; h <= horizon; h++)
            for (int a = 0; a < NA; a++)
                by_age[((size_t)r * horizon + (h - 1)) * NA + a] =
                    sc->caseload[a][NEED_UNK][SET_UNK] + (double)(r % 11) - 5.0;
    return SIM_OK;
}

/* dir/name opened for reading, its header line checked against `header`. */
static FILE *open_csv(const char *dir, const char *name, const char *header)
{
    char path[256], line[512];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s", path);
    cr_assert_not_null(fgets(line, sizeof line, fp));
    cr_expect(eq(str, line, (char *)header));
    return fp;
}

Test(backtest, model_points_come_from_the_projector_and_are_written_atomically)
{
    scenario *sc = exponential_world(0.06, 2008, 2025);
    backtest_options o = { .origin_from = 2019, .origin_to = 2020, .horizon = 2, .reps = 110,
                           .seed = 1, .project = flat_projector };
    backtest_result r;
    sim_error err = { 0 };
    char dir[] = "/tmp/sendsim-backtest-XXXXXX", path[256], line[512];

    cr_assert(eq(int, backtest_run(sc, &o, &r, &err), SIM_OK), "%s", err.msg);
    for (size_t i = 0; i < r.n_points; i++) {
        const backtest_point *p = &r.points[i];
        if (p->method != BT_MODEL || p->age_to != TOP || p->age_from != 0)
            continue;
        /* the flat forecast equals the last-value forecast, up to rounding the base to
         * whole plans; the draws add -5..+5 per age, 26 ages: p10 = median - 4 * 26 */
        const backtest_point *q = p + 1;
        cr_assert(eq(int, q->method, BT_LAST));
        cr_expect(epsilon_eq(dbl, p->p50, q->forecast, 0.5 * NA));
        cr_expect(epsilon_eq(dbl, p->p50 - p->p10, 4.0 * NA, 1e-9));
    }

    cr_assert_not_null(mkdtemp(dir));
    cr_assert(eq(int, backtest_write(&r, dir, &err), SIM_OK), "%s", err.msg);
    FILE *fp = open_csv(dir, "backtest.csv", "origin,horizon,year,band,actual,p025,p10,p50,p90,"
                                             "p975,ape,in80,in95\n");
    size_t rows = 0;
    while (fgets(line, sizeof line, fp))
        rows++;
    fclose(fp);
    /* 2 origins x 2 horizons x (total + 5 bands) */
    cr_expect(eq(sz, rows, 24));
    fp = open_csv(dir, "backtest_summary.csv", "method,horizon,n,mape,median_ape,bias,cover80,"
                                               "cover95\n");
    cr_assert_not_null(fgets(line, sizeof line, fp));
    cr_expect(eq(int, strncmp(line, "model,1,2,", 10), 0), "%s", line);
    fclose(fp);

    /* an unwritable directory: an error naming the file, and nothing left behind */
    snprintf(path, sizeof path, "%s/missing", dir);
    cr_expect(eq(int, backtest_write(&r, path, &err), SIM_EIO));
    cr_expect(ne(ptr, strstr(err.file, "backtest.csv"), NULL), "%s", err.file);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(cmd), 0));
    backtest_result_free(&r);
    scenario_free(sc);
}

/* ---- short histories and origins that cannot be fitted ---------------------------------- */

/* Remove the rows of measure `m` for calendar years first..last. */
static void drop(scenario *sc, hist_measure m, int first, int last)
{
    size_t n = 0;

    for (size_t i = 0; i < sc->n_history; i++) {
        const hist_row *h = &sc->history[i];
        if (h->measure != m || h->year < first || h->year > last)
            sc->history[n++] = *h;
    }
    sc->n_history = n;
}

/* Whether `text` holds `part`. */
static int has(const char *text, const char *part)
{
    return strstr(text, part) != NULL;
}

/* An LA created by a reorganisation publishes from its first year only; five totals before an
 * origin and `horizon` after it leave the default horizon what the years allow. */
Test(backtest, default_range_shortens_the_horizon_to_what_a_short_history_allows)
{
    static const struct { int first, horizon, from, to; } cases[] = {
        { 2016, 3, 2020, 2022 },    /* ten censuses: the full default */
        { 2019, 2, 2023, 2023 },    /* seven (North Northamptonshire, from 2018/19) */
        { 2020, 1, 2024, 2024 },    /* six */
    };

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        scenario *sc = exponential_world(0.05, cases[k].first, 2025);
        int h = 0, from = 0, to = 0;
        cr_assert(eq(int, backtest_default_range(sc, BACKTEST_DEFAULT_HORIZON, &h, &from, &to,
                                                 NULL), SIM_OK), "from %d", cases[k].first);
        cr_expect(eq(int, h, cases[k].horizon), "from %d", cases[k].first);
        cr_expect(eq(int, from, cases[k].from), "from %d", cases[k].first);
        cr_expect(eq(int, to, cases[k].to), "from %d", cases[k].first);
        scenario_free(sc);
    }

    /* five censuses: not even horizon 1, and the error says what there is and what is needed */
    scenario *sc = exponential_world(0.05, 2021, 2025);
    sim_error err = { 0 };
    int h = 0, from = 0, to = 0;
    cr_expect(eq(int, backtest_default_range(sc, 3, &h, &from, &to, &err), SIM_EDATA));
    cr_expect(has(err.msg, "totals for 2021-2025"), "%s", err.msg);
    cr_expect(has(err.msg, "new plans for 2021-2024"), "%s", err.msg);
    cr_expect(has(err.msg, "January O-4 to O+1"), "%s", err.msg);
    cr_expect(has(err.msg, "origins 2025 have that history before them but no total after"),
              "%s", err.msg);
    scenario_free(sc);
}

Test(backtest, default_run_on_a_short_history_says_its_horizon_and_an_explicit_one_is_refused)
{
    scenario *sc = exponential_world(0.05, 2019, 2025);
    backtest_options o = { .reps = 50, .seed = 5, .project = flat_projector };
    backtest_result r;
    sim_error err = { 0 };

    cr_assert(eq(int, backtest_run(sc, &o, &r, &err), SIM_OK), "%s", err.msg);
    cr_expect(eq(int, r.horizon, 2));
    cr_expect(eq(int, r.horizon_default, 1));
    cr_expect(eq(int, r.origin_from, 2023));
    cr_expect(eq(int, r.origin_to, 2023));
    cr_expect(eq(sz, r.n_skipped, 0));
    cr_expect(has(r.notes, "Horizon 2, not the default 3"), "%s", r.notes);
    cr_expect(has(r.notes, "2019-2025"), "%s", r.notes);
    backtest_result_free(&r);

    o.horizon = 3;                   /* asked for: refused, naming the years */
    cr_expect(eq(int, backtest_run(sc, &o, &r, &err), SIM_EDATA));
    cr_expect(has(err.msg, "3 years ahead"), "%s", err.msg);
    cr_expect(has(err.msg, "origins 2023-2025"), "%s", err.msg);
    cr_expect(has(err.msg, "expected --horizon 2 or less"), "%s", err.msg);

    o.horizon = 0;                   /* origins given: the default horizon, no note */
    o.origin_from = 2021;
    o.origin_to = 2022;
    cr_assert(eq(int, backtest_run(sc, &o, &r, &err), SIM_OK), "%s", err.msg);
    cr_expect(eq(int, r.horizon, BACKTEST_DEFAULT_HORIZON));
    cr_expect(eq(int, r.horizon_default, 0));
    cr_expect(not(has(r.notes, "Horizon")), "%s", r.notes);
    backtest_result_free(&r);
    scenario_free(sc);
}

/* DfE suppresses the small bands of a small LA: a year with one band, or with bands adding up
 * to nothing, gives the growth fit nothing, and the default origins must know it (else the
 * fit finds too few years). Bands covering 0-25 with no total row do count. */
Test(backtest, default_origins_count_only_new_plan_years_the_growth_fit_can_use)
{
    scenario *sc = noisy_world(0.05, 2008, 2025, 17UL);
    size_t n = 0;
    int from = 0, to = 0;

    for (size_t i = 0; i < sc->n_history; i++) {
        hist_row h = sc->history[i];
        int flow = h.measure == MEASURE_NEW_PLANS, total = h.age_from == 0 && h.age_to == TOP;
        if (flow && h.year <= 2013 && h.age_to != 4)
            continue;                               /* 2008-2013: the 0-4 band alone */
        if (flow && (h.year == 2014 || h.year == 2015) && total)
            continue;                               /* 2014-2015: bands, no total */
        if (flow && h.year == 2014)
            h.count = 0.0;                          /* 2014: every band 0 */
        sc->history[n++] = h;
    }
    sc->n_history = n;

    cr_assert(eq(int, backtest_default_origins(sc, 3, &from, &to, NULL), SIM_OK));
    /* usable years 2015-2024; the 6-year window before 2018 (2012-2017) holds 3 of them */
    cr_expect(eq(int, from, 2018), "counting any row of new plans would give 2012");
    cr_expect(eq(int, to, 2022));

    /* the fit agrees: a trend at 2018, too few years for one at 2017 */
    for (int origin = 2017; origin <= 2018; origin++) {
        scenario *t = NULL;
        fit f;
        cr_assert(eq(int, backtest_truncate(sc, origin, 3, 50, &t, NULL), SIM_OK));
        cr_assert(eq(int, fit_scenario(t, &f, NULL), SIM_OK));
        cr_expect(eq(int, f.growth_prior, origin == 2017), "origin %d", origin);
        scenario_free(t);
    }
    scenario_free(sc);
}

/* New plans published from 2012 only: the fit at origin 2012 has none and fails (SIM_EDATA);
 * 2013 and 2014 have one and two years (growth prior); 2015 on have a trend. */
Test(backtest, an_origin_whose_fit_fails_is_skipped_and_reported)
{
    scenario *sc = exponential_world(0.06, 2008, 2025);
    backtest_options o = { .origin_from = 2012, .origin_to = 2016, .horizon = 2, .reps = 50,
                           .seed = 9, .project = flat_projector };
    backtest_result r, ref;
    sim_error err = { 0 };
    char dir[] = "/tmp/sendsim-backtest-skip-XXXXXX", line[1024], cmd[400];

    drop(sc, MEASURE_NEW_PLANS, 2008, 2011);
    cr_assert(eq(int, backtest_run(sc, &o, &r, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(sz, r.n_skipped, 1));
    cr_expect(eq(int, r.skipped[0].origin, 2012));
    cr_expect(eq(int, r.skipped[0].why.line, 0));
    cr_expect(has(r.skipped[0].why.msg, "new_plans"), "%s", r.skipped[0].why.msg);
    cr_assert(eq(sz, r.n_fits, 4));
    for (size_t i = 0; i < r.n_fits; i++)
        cr_expect(eq(int, r.fits[i].growth_prior, r.fits[i].origin <= 2014), "origin %d",
                  r.fits[i].origin);
    cr_expect(has(r.notes, "Origin 2012 skipped: history.csv: "), "%s", r.notes);
    cr_expect(has(r.notes, "Origin 2013: too few years"), "%s", r.notes);
    for (size_t i = 0; i < r.n_points; i++)
        cr_expect(ne(int, r.points[i].origin, 2012));

    /* the other origins score exactly as a run without the bad one */
    o.origin_from = 2013;
    cr_assert(eq(int, backtest_run(sc, &o, &ref, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(sz, ref.n_points, r.n_points));
    for (size_t i = 0; i < r.n_points; i++)
        cr_expect(eq(dbl, ref.points[i].p50, r.points[i].p50));
    backtest_result_free(&ref);

    /* backtest_origins.csv: one row per origin, the skipped one with NA and its reason */
    cr_assert_not_null(mkdtemp(dir));
    cr_assert(eq(int, backtest_write(&r, dir, &err), SIM_OK), "%s", err.msg);
    FILE *fp = open_csv(dir, "backtest_origins.csv", "origin,status,base_total,growth,"
                                                     "growth_se,overdispersion,window_first,"
                                                     "window_last,reason\n");
    cr_assert_not_null(fgets(line, sizeof line, fp));
    cr_expect(eq(int, strncmp(line, "2012,skipped,NA,NA,NA,NA,NA,NA,\"history.csv: ", 45), 0),
              "%s", line);
    cr_assert_not_null(fgets(line, sizeof line, fp));
    cr_expect(eq(int, strncmp(line, "2013,fitted,", 12), 0), "%s", line);
    cr_expect(has(line, "too few years"), "%s", line);
    size_t rows = 2;
    while (fgets(line, sizeof line, fp))
        rows++;
    fclose(fp);
    cr_expect(eq(sz, rows, 5));
    cr_expect(not(has(line, "\"")), "a fitted origin with a trend has no reason: %s", line);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(cmd), 0));
    backtest_result_free(&r);
    scenario_free(sc);
}

/* Default origins pass the screen, yet the fit of some fails: new plans only for 2005-2007,
 * censuses from 2010, so no caseload pair has new plans between them, and ceased figures
 * only from 2016. Those origins are skipped and the rest run. */
Test(backtest, default_origins_whose_fit_fails_are_skipped)
{
    scenario *sc = exponential_world(0.05, 2005, 2025);
    backtest_options o = { .horizon = 1, .reps = 50, .seed = 2, .project = flat_projector };
    backtest_result r;
    sim_error err = { 0 };

    drop(sc, MEASURE_CASELOAD, 2005, 2009);
    drop(sc, MEASURE_NEW_PLANS, 2008, 2025);
    add(sc, 2016, 0, TOP, MEASURE_CEASED, 250.0);
    cr_assert(eq(int, backtest_run(sc, &o, &r, &err), SIM_OK), "%s", err.msg);
    cr_expect(eq(int, r.origin_from, 2014));
    cr_expect(eq(int, r.origin_to, 2024));
    cr_expect(eq(sz, r.n_skipped, 3), "origins 2014-2016 know no ceased figures");
    for (size_t i = 0; i < r.n_skipped; i++) {
        cr_expect(eq(int, r.skipped[i].origin, 2014 + (int)i));
        cr_expect(has(r.skipped[i].why.msg, "ceased"), "%s", r.skipped[i].why.msg);
    }
    cr_expect(eq(sz, r.n_fits, 8));
    cr_expect(has(r.notes, "Origin 2016 skipped"), "%s", r.notes);
    backtest_result_free(&r);
    scenario_free(sc);
}

Test(backtest, no_origin_left_is_a_clear_error)
{
    scenario *sc = exponential_world(0.06, 2008, 2025);
    backtest_options o = { .origin_from = 2009, .origin_to = 2011, .horizon = 2, .reps = 50,
                           .seed = 9, .project = flat_projector };
    backtest_result r;
    sim_error err = { 0 };

    drop(sc, MEASURE_NEW_PLANS, 2008, 2011);
    cr_expect(eq(int, backtest_run(sc, &o, &r, &err), SIM_EDATA));
    cr_expect(has(err.msg, "no backtest origin in 2009-2011 can be fitted; origin 2009: "),
              "%s", err.msg);
    cr_expect(has(err.msg, "new_plans"), "%s", err.msg);
    cr_expect(eq(str, err.file, "history.csv"));
    cr_expect(eq(sz, r.n_points, 0));
    cr_expect(eq(ptr, r.skipped, NULL), "nothing left to free");

    o.origin_from = 2011;
    cr_expect(eq(int, backtest_run(sc, &o, &r, &err), SIM_EDATA));
    cr_expect(has(err.msg, "backtest origin 2011 cannot be fitted: "), "%s", err.msg);
    scenario_free(sc);
}

/* ---- the binary ----------------------------------------------------------------------- */

static int run_bin(const char *args, const char *out_file)
{
    char cmd[1024];

    snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1", th_bin(), args, out_file);
    return th_system(cmd);
}

Test(backtest, binary_backtests_real_hackney_history_and_rejects_bad_options)
{
    char dir[] = "/tmp/sendsim-backtest-bin-XXXXXX", args[512], log[300], path[300];
    const char *ini = "scenarios/hackney/scenario.ini";   /* the shipped, imported scenario */

    cr_assert_not_null(mkdtemp(dir));
    snprintf(log, sizeof log, "%s/log.txt", dir);
    snprintf(args, sizeof args, "backtest %s --origins 2018:2021 --reps 200 --out %s/o", ini,
             dir);
    cr_assert(eq(int, run_bin(args, log), 0));
    snprintf(path, sizeof path, "%s/o/backtest_summary.csv", dir);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "no %s", path);
    char line[512];
    size_t rows = 0, model_n = 0;
    while (fgets(line, sizeof line, fp)) {
        unsigned h;
        size_t n;
        if (sscanf(line, "model,%u,%zu,", &h, &n) == 2)
            model_n += n;
        rows++;
    }
    fclose(fp);
    /* header + 5 methods x {total, bands} x 3 horizons */
    cr_expect(eq(sz, rows, 31));
    /* January 2019-2025 totals are published: 4 + 4 + 4 total points */
    cr_expect(eq(sz, model_n, 12));

    snprintf(args, sizeof args, "backtest %s --origins 2030:2040 --out %s/o", ini, dir);
    cr_expect(eq(int, run_bin(args, log), 64));
    snprintf(args, sizeof args, "backtest %s --horizon 0", ini);
    cr_expect(eq(int, run_bin(args, log), 64));
    snprintf(args, sizeof args, "backtest %s --origins 2019", ini);
    cr_expect(eq(int, run_bin(args, log), 64));
    snprintf(args, sizeof args, "backtest %s/none.ini", dir);
    cr_expect(eq(int, run_bin(args, log), 66));

    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(args), 0));
}

/* A short history (tests/data/backtest/short: Hackney's figures from January 2019): the
 * default backtest shrinks its horizon and says so; an explicit --horizon 3 is refused with
 * the years named. */
Test(backtest, binary_backtests_a_short_history_at_the_horizon_it_allows)
{
    char dir[] = "/tmp/sendsim-backtest-short-XXXXXX", args[512], log[300], text[4096];
    const char *ini = "tests/data/backtest/short/scenario.ini";

    cr_assert_not_null(mkdtemp(dir));
    snprintf(log, sizeof log, "%s/log.txt", dir);
    snprintf(args, sizeof args, "backtest %s --reps 50 --threads 1 --out %s/o", ini, dir);
    cr_expect(eq(int, run_bin(args, log), 0));
    FILE *fp = fopen(log, "r");
    cr_assert_not_null(fp);
    size_t n = fread(text, 1, sizeof text - 1, fp);
    text[n] = '\0';
    fclose(fp);
    cr_expect(has(text, "origins 2023-2023, horizons 1-2"), "%s", text);
    cr_expect(has(text, "Horizon 2, not the default 3"), "%s", text);
    snprintf(args, sizeof args, "%s/o/backtest_origins.csv", dir);
    cr_expect(eq(int, access(args, R_OK), 0), "no %s", args);

    snprintf(args, sizeof args, "backtest %s --horizon 3 --reps 50 --out %s/o", ini, dir);
    cr_expect(eq(int, run_bin(args, log), 65));
    fp = fopen(log, "r");
    cr_assert_not_null(fp);
    n = fread(text, 1, sizeof text - 1, fp);
    text[n] = '\0';
    fclose(fp);
    cr_expect(has(text, "history.csv: no origin can be backtested 3 years ahead"), "%s", text);
    cr_expect(has(text, "totals for 2019-2025"), "%s", text);
    cr_expect(has(text, "expected --horizon 2 or less"), "%s", text);

    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(args), 0));
}
