/* test_fit.c - the fit recovers known rates from small hand-built scenarios. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#include "fit.h"
#include "scenario.h"
#include "xalloc.h"

enum { NA = SIM_N_AGES, TOP = SIM_MAX_AGE, BASE = 2025 };

static scenario *scn_new(int window)
{
    scenario *sc = xcalloc(1, sizeof *sc);

    sc->base_year = BASE;
    sc->horizon = 5;
    sc->trend_window = window;
    sc->damping = 0.9;
    sc->incidence_multiplier = 1.0;
    sc->overdispersion = -1.0;
    return sc;
}

static void add(scenario *sc, int year, int from, int to, hist_measure m, double count)
{
    sc->history = xrealloc(sc->history, (sc->n_history + 1) * sizeof *sc->history);
    sc->history[sc->n_history++] = (hist_row){ year, from, to, m, count };
}

static void set_base(scenario *sc, const double *k)
{
    for (int a = 0; a < NA; a++)
        sc->caseload[a][NEED_ASD][SET_MS] = k[a];
}

/* A cohort world: plans k0 in January C, cease rates c, transfers tr (per survivor, by age
 * after ageing) and joiners j give k1 in January C + 1. */
static void project(const double *k0, const double *c, const double *tr, const double *j,
                    double *k1)
{
    k1[0] = j[0];
    for (int a = 1; a < NA; a++)
        k1[a] = (1.0 - c[a - 1]) * k0[a - 1] * (1.0 + tr[a]) + j[a];
}

static void world(double *k0, double *c, double *j)
{
    for (int a = 0; a < NA; a++) {
        k0[a] = a < 20 ? 100.0 + 10.0 * a : 150.0;
        c[a] = a < 16 ? 0.01 + 0.002 * a : a < TOP ? 0.15 + 0.02 * (a - 16) : 1.0;
        j[a] = a >= 2 && a <= 18 ? 20.0 + a : 2.0;
    }
}

static double sum(const double *v, int from, int to)
{
    double s = 0.0;

    for (int a = from; a <= to; a++)
        s += v[a];
    return s;
}

/* Enough for cessation and transfers: caseload and ceased totals the year before the base. */
static void add_minimal(scenario *sc)
{
    double k[NA];

    for (int a = 0; a < NA; a++)
        k[a] = 100.0;
    set_base(sc, k);
    add(sc, BASE - 1, 0, TOP, MEASURE_CASELOAD, 2400.0);
    add(sc, BASE - 1, 0, TOP, MEASURE_CEASED, 300.0);
}

static void add_series(scenario *sc, int first, int last, double level, double g,
                       const double *noise)
{
    for (int y = first; y <= last; y++)
        add(sc, y, 0, TOP, MEASURE_NEW_PLANS,
            level * exp(g * (y - last)) * (noise ? 1.0 + noise[y - first] : 1.0));
}

static const double NOISE[] = { 0.031, -0.052, 0.044, -0.018, -0.061, 0.057, -0.009, 0.038,
                                -0.047, 0.012, 0.066, -0.035, -0.024, 0.049, -0.058, 0.021 };

Test(fit, growth_is_recovered_exactly_from_a_noiseless_exponential_series)
{
    scenario *sc = scn_new(6);
    sim_error err = { 0 };
    fit f;

    add_minimal(sc);
    add_series(sc, 2012, 2024, 487.3, 0.0815, NULL);
    cr_assert(eq(int, fit_scenario(sc, &f, &err), SIM_OK), "%s", err.msg);
    cr_expect(epsilon_eq(dbl, f.growth, 0.0815, 1e-9));
    cr_expect(eq(int, f.window_first, 2019));
    cr_expect(eq(int, f.window_last, 2024));
    cr_expect(eq(int, f.per_capita, 0));
    cr_expect(epsilon_eq(dbl, f.overdispersion, 0.0, 1e-12));
    cr_expect(gt(dbl, f.growth_se, 0.0));               /* the Poisson floor */
    cr_expect(lt(dbl, f.growth_se, 0.05));
    cr_expect(ne(ptr, strstr(f.sources, "2019-2024"), NULL), "%s", f.sources);
    scenario_free(sc);
}

static double se_for(int window, double amplitude, double level)
{
    scenario *sc = scn_new(window);
    double noise[16];
    fit f;

    for (int i = 0; i < 16; i++)
        noise[i] = amplitude * NOISE[i];
    add_minimal(sc);
    add_series(sc, 2009, 2024, level, 0.06, noise);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    scenario_free(sc);
    return f.growth_se;
}

Test(fit, growth_se_shrinks_with_a_longer_window)
{
    double se4 = se_for(4, 1.0, 20000.0), se12 = se_for(12, 1.0, 20000.0);

    cr_expect(lt(dbl, se12, 0.5 * se4), "se 12 years %g, 4 years %g", se12, se4);
}

Test(fit, growth_se_grows_with_noise)
{
    double quiet = se_for(8, 0.2, 20000.0), noisy = se_for(8, 2.0, 20000.0);

    cr_expect(gt(dbl, noisy, 5.0 * quiet), "se noisy %g, quiet %g", noisy, quiet);
}

Test(fit, growth_se_never_falls_below_the_poisson_se)
{
    /* A noiseless series: var(log N) = 1/N, so se(slope)^2 = 1 / sum(N (x - mean_N x)^2). */
    double sw = 0.0, sx = 0.0, sxx = 0.0;

    for (int x = -5; x <= 0; x++) {
        double n = 100.0 * exp(0.06 * x);
        sw += n;
        sx += n * x;
    }
    for (int x = -5; x <= 0; x++)
        sxx += 100.0 * exp(0.06 * x) * (x - sx / sw) * (x - sx / sw);
    cr_expect(epsilon_eq(dbl, se_for(6, 0.0, 100.0), sqrt(1.0 / sxx), 1e-9));
}

/* Weighted slope by the textbook formula, to check the fit against. */
static double wls_slope(const double *x, const double *y, const double *w, int n)
{
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;

    for (int i = 0; i < n; i++) {
        sw += w[i];
        sx += w[i] * x[i];
        sy += w[i] * y[i];
    }
    for (int i = 0; i < n; i++) {
        sxx += w[i] * (x[i] - sx / sw) * (x[i] - sx / sw);
        sxy += w[i] * (x[i] - sx / sw) * (y[i] - sy / sw);
    }
    return sxy / sxx;
}

Test(fit, weighted_fit_weights_each_year_by_its_count)
{
    scenario *sc = scn_new(4);
    double x[] = { -3, -2, -1, 0 }, n[] = { 1812, 440, 901, 977 }, y[4], ones[] = { 1, 1, 1, 1 };
    double expected, unweighted;
    fit f;

    add_minimal(sc);
    for (int i = 0; i < 4; i++) {
        add(sc, 2024 + (int)x[i], 0, TOP, MEASURE_NEW_PLANS, n[i]);
        y[i] = log(n[i]);
    }
    expected = wls_slope(x, y, n, 4);
    unweighted = wls_slope(x, y, ones, 4);
    cr_assert(gt(dbl, fabs(expected - unweighted), 0.05));  /* the weights matter here */
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(epsilon_eq(dbl, f.growth, expected, 1e-9), "%g vs %g", f.growth, expected);
    scenario_free(sc);
}

Test(fit, new_plan_totals_may_come_from_bands_covering_every_age)
{
    scenario *sc = scn_new(3);
    fit f;

    add_minimal(sc);
    for (int y = 2022; y <= 2024; y++) {
        double tot = 600.0 * exp(0.05 * (y - 2024));
        add(sc, y, 0, 4, MEASURE_NEW_PLANS, 0.3 * tot);
        add(sc, y, 5, 10, MEASURE_NEW_PLANS, 0.4 * tot);
        add(sc, y, 11, 25, MEASURE_NEW_PLANS, 0.3 * tot);
    }
    add(sc, 2021, 0, 10, MEASURE_NEW_PLANS, 9999.0);     /* not every age: left out */
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(epsilon_eq(dbl, f.growth, 0.05, 1e-9));
    cr_expect(eq(int, f.window_first, 2022));
    scenario_free(sc);
}

Test(fit, growth_is_per_resident_child_when_the_population_covers_the_window)
{
    scenario *sc = scn_new(6);
    fit f;

    add_minimal(sc);
    add_series(sc, 2015, 2024, 700.0, 0.05, NULL);
    sc->pop_first_year = 2010;
    sc->pop_last_year = 2040;
    sc->pop = xmalloc(31 * NA * sizeof *sc->pop);
    for (int y = 2010; y <= 2040; y++)
        for (int a = 0; a < NA; a++)                      /* 2% more residents a year */
            sc->pop[(y - 2010) * NA + a] = (1000.0 + 17.0 * a) * exp(0.02 * (y - 2010));
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(eq(int, f.per_capita, 1));
    cr_expect(epsilon_eq(dbl, f.growth, 0.03, 1e-9));
    cr_expect(ne(ptr, strstr(f.sources, "per resident"), NULL));

    sc->pop_first_year = 2021;                            /* no longer covers 2019-2020 */
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(eq(int, f.per_capita, 0));
    cr_expect(epsilon_eq(dbl, f.growth, 0.05, 1e-9));
    scenario_free(sc);
}

Test(fit, too_few_years_of_new_plans_assume_no_trend_and_say_so)
{
    scenario *sc = scn_new(6);
    sim_error err = { 0 };
    fit f;

    add_minimal(sc);
    add_series(sc, 2016, 2017, 300.0, 0.05, NULL);       /* outside the window 2019-2024 */
    add_series(sc, 2023, 2024, 300.0, 0.05, NULL);
    cr_assert(eq(int, fit_scenario(sc, &f, &err), SIM_OK), "%s", err.msg);
    cr_expect(eq(int, f.growth_prior, 1));
    cr_expect(eq(dbl, f.growth, 0.0));
    cr_expect(eq(dbl, f.growth_se, 0.10));
    cr_expect(eq(dbl, f.overdispersion, 0.10));          /* assumed, not 0 */
    cr_expect(eq(int, f.window_first, 2023));
    cr_expect(eq(int, f.window_last, 2024));
    cr_expect(epsilon_eq(dbl, sum(f.joiners, 0, TOP), 300.0, 1e-9));   /* 2024's level */
    cr_expect(ne(ptr, strstr(f.sources, "no trend fitted"), NULL), "%s", f.sources);
    cr_expect(ne(ptr, strstr(f.sources, "for 2 calendar years in the trend window 2019-2024"),
                 NULL), "%s", f.sources);
    sc->overdispersion = 0.03;                           /* a configured v still wins */
    cr_assert(eq(int, fit_scenario(sc, &f, &err), SIM_OK), "%s", err.msg);
    cr_expect(eq(dbl, f.overdispersion, 0.03));
    scenario_free(sc);
}

Test(fit, three_years_of_new_plans_are_enough_for_a_trend)
{
    scenario *sc = scn_new(6);
    fit f;

    add_minimal(sc);
    add_series(sc, 2022, 2024, 300.0, 0.05, NULL);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(eq(int, f.growth_prior, 0));
    cr_expect(epsilon_eq(dbl, f.growth, 0.05, 1e-9));
    scenario_free(sc);
}

Test(fit, no_new_plans_at_all_is_a_data_error)
{
    scenario *sc = scn_new(6);
    sim_error err = { 0 };
    fit f;

    add_minimal(sc);
    cr_assert(eq(int, fit_scenario(sc, &f, &err), SIM_EDATA));
    cr_expect(eq(str, err.file, "history.csv"));
    cr_expect(eq(str, err.key, "new_plans"));
    cr_expect(ne(ptr, strstr(err.msg, "no new_plans rows at all"), NULL), "%s", err.msg);
    scenario_free(sc);
}

Test(fit, no_way_to_fit_cessation_is_a_data_error)
{
    scenario *sc = scn_new(6);
    sim_error err = { 0 };
    fit f;
    double k[NA];

    for (int a = 0; a < NA; a++)
        k[a] = 50.0;
    set_base(sc, k);
    add_series(sc, 2019, 2024, 300.0, 0.05, NULL);
    cr_assert(eq(int, fit_scenario(sc, &f, &err), SIM_EDATA));
    cr_expect(eq(str, err.key, "ceased"));
    cr_expect(ne(ptr, strstr(err.msg, "cessation"), NULL), "%s", err.msg);
    scenario_free(sc);
}

/* A scenario whose January 2024 caseload is k0 and base year is project(k0, c, tr, j). */
static scenario *cohort_scenario(const double *k0, const double *c, const double *tr,
                                 const double *j, double *k1)
{
    scenario *sc = scn_new(6);

    project(k0, c, tr, j, k1);
    set_base(sc, k1);
    for (int a = 0; a < NA; a++) {
        add(sc, BASE - 1, a, a, MEASURE_CASELOAD, k0[a]);
        add(sc, BASE - 1, a, a, MEASURE_NEW_PLANS, j[a]);
    }
    add_series(sc, 2019, 2023, sum(j, 0, TOP), 0.04, NULL);
    return sc;
}

Test(fit, cessation_is_recovered_from_a_synthetic_cohort)
{
    double k0[NA], c[NA], j[NA], tr[NA] = { 0 }, k1[NA];
    scenario *sc;
    fit f;

    world(k0, c, j);
    sc = cohort_scenario(k0, c, tr, j, k1);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    for (int a = 0; a < NA; a++) {
        cr_expect(epsilon_eq(dbl, f.cease[a], c[a], 1e-9), "age %d: %g vs %g", a, f.cease[a],
                  c[a]);
        cr_expect(epsilon_eq(dbl, f.transfer[a], 0.0, 1e-9), "age %d", a);
        cr_expect(epsilon_eq(dbl, f.joiners[a], j[a], 1e-9), "age %d", a);
    }
    cr_expect(ne(ptr, strstr(f.sources, "cohort change"), NULL), "%s", f.sources);
    scenario_free(sc);
}

Test(fit, cessation_comes_from_published_ceased_plans_at_the_age_they_ceased)
{
    double k0[NA], c[NA], j[NA], tr[NA] = { 0 }, k1[NA], top = 0.0;
    scenario *sc;
    fit f;

    world(k0, c, j);
    for (int a = 0; a < NA; a++)                         /* unlike any cohort artefact */
        c[a] = a < 19 ? 0.02 + 0.011 * (a % 7) : a < TOP ? 0.4 : 1.0;
    sc = cohort_scenario(k0, c, tr, j, k1);
    /* DfE's age on the date ceased is mostly the census age + 1; 25 is in the open band */
    for (int a = 0; a < 19; a++)
        add(sc, BASE - 1, a + 1, a + 1, MEASURE_CEASED, c[a] * k0[a]);
    for (int a = 19; a <= TOP; a++)
        top += c[a] * k0[a];
    add(sc, BASE - 1, 20, TOP, MEASURE_CEASED, top);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    for (int a = 0; a < NA; a++)
        cr_expect(epsilon_eq(dbl, f.cease[a], c[a], 1e-9), "age %d: %g vs %g", a, f.cease[a],
                  c[a]);
    cr_expect(ne(ptr, strstr(f.sources, "ceased 2024 by age"), NULL), "%s", f.sources);
    scenario_free(sc);
}

Test(fit, cessation_from_a_total_matches_the_total)
{
    double k0[NA], c[NA], j[NA], tr[NA] = { 0 }, k1[NA], ended = 0.0;
    scenario *sc;
    fit f;

    world(k0, c, j);
    sc = cohort_scenario(k0, c, tr, j, k1);
    add(sc, BASE - 1, 0, TOP, MEASURE_CEASED, 2500.0);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    for (int a = 0; a < NA; a++) {
        ended += f.cease[a] * k0[a];
        cr_expect(ge(dbl, f.cease[a], 0.0));
        cr_expect(le(dbl, f.cease[a], 1.0));
    }
    cr_expect(epsilon_eq(dbl, ended, 2500.0, 1e-6));
    cr_expect(eq(dbl, f.cease[TOP], 1.0));
    cr_expect(gt(dbl, f.cease[20], 5.0 * f.cease[5]));  /* the cohorts' age pattern */
    scenario_free(sc);
}

static void add_ceased_by_age(scenario *sc, const double *k0, const double *c)
{
    double top = 0.0;

    for (int a = 0; a < 19; a++)
        add(sc, BASE - 1, a + 1, a + 1, MEASURE_CEASED, c[a] * k0[a]);
    for (int a = 19; a <= TOP; a++)
        top += (a == TOP ? 1.0 : c[a]) * k0[a];
    add(sc, BASE - 1, 20, TOP, MEASURE_CEASED, top);
}

/* Net transfers by age in January C + 1, one rate per DfE band of January C a year older. */
static void transfers_world(double *tr)
{
    for (int a = 0; a < NA; a++)
        tr[a] = a >= 6 && a <= 11 ? 0.03 : a >= 12 && a <= 16 ? -0.015 : 0.0;
}

Test(fit, transfer_inflows_are_capped_so_a_one_off_cannot_compound)
{
    double k0[NA], c[NA], j[NA], tr[NA], k1[NA];
    scenario *sc;
    fit f;

    world(k0, c, j);
    for (int a = 19; a < TOP; a++)
        c[a] = 0.4;
    transfers_world(tr);
    for (int a = 6; a <= 11; a++)
        tr[a] = 0.35;                                     /* a 35% inflow in one year */
    sc = cohort_scenario(k0, c, tr, j, k1);
    add_ceased_by_age(sc, k0, c);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    for (int a = 6; a <= 11; a++)
        cr_expect(epsilon_eq(dbl, f.transfer[a], 0.10, 1e-12), "age %d: %g", a, f.transfer[a]);
    for (int a = 12; a <= 16; a++)                        /* outflows are not capped */
        cr_expect(epsilon_eq(dbl, f.transfer[a], -0.015, 1e-9), "age %d: %g", a,
                  f.transfer[a]);
    cr_expect(ne(ptr, strstr(f.sources, "inflows capped at +0.10"), NULL));
    scenario_free(sc);
}

Test(fit, transfers_are_recovered_by_band_where_single_ages_are_published)
{
    double k0[NA], c[NA], j[NA], tr[NA], k1[NA];
    scenario *sc;
    fit f;

    world(k0, c, j);
    for (int a = 19; a < TOP; a++)
        c[a] = 0.4;                                       /* one rate in the open top band */
    transfers_world(tr);
    sc = cohort_scenario(k0, c, tr, j, k1);
    add_ceased_by_age(sc, k0, c);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    for (int a = 1; a < NA; a++)
        cr_expect(epsilon_eq(dbl, f.transfer[a], tr[a], 1e-9), "age %d: %g vs %g", a,
                  f.transfer[a], tr[a]);
    scenario_free(sc);
}

static const int BAND_FROM[] = { 0, 5, 11, 16, 20 }, BAND_TO[] = { 4, 10, 15, 19, 25 };

Test(fit, one_step_projection_reproduces_the_last_published_caseload_by_band)
{
    double k0[NA], c[NA], j[NA], tr[NA], k1[NA], est[NA], next[NA];
    scenario *sc = scn_new(6);
    fit f;

    world(k0, c, j);
    transfers_world(tr);
    project(k0, c, tr, j, k1);
    for (int a = 0; a < NA; a++)                          /* a base year unlike January C */
        k1[a] *= 1.0 + 0.05 * sin(1.7 * a);
    set_base(sc, k1);
    for (int b = 0; b < 5; b++)
        add(sc, BASE - 1, BAND_FROM[b], BAND_TO[b], MEASURE_CASELOAD,
            sum(k0, BAND_FROM[b], BAND_TO[b]));
    for (int a = 0; a < NA; a++)
        add(sc, BASE - 1, a, a, MEASURE_NEW_PLANS, j[a]);
    add_series(sc, 2019, 2023, sum(j, 0, TOP), 0.04, NULL);
    add_ceased_by_age(sc, k0, c);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    /* January C as the fit sees it: each band split by the base year's age profile */
    for (int b = 0; b < 5; b++)
        for (int a = BAND_FROM[b]; a <= BAND_TO[b]; a++)
            est[a] = sum(k0, BAND_FROM[b], BAND_TO[b]) * k1[a] / sum(k1, BAND_FROM[b], BAND_TO[b]);
    project(est, f.cease, f.transfer, f.joiners, next);
    for (int b = 0; b < 5; b++) {                         /* each band, one year older */
        int lo = b == 0 ? 0 : BAND_FROM[b] + 1, hi = b == 4 ? TOP : BAND_TO[b] + 1;
        cr_expect(epsilon_eq(dbl, sum(next, lo, hi), sum(k1, lo, hi), 1e-6),
                  "ages %d-%d: %g vs %g", lo, hi, sum(next, lo, hi), sum(k1, lo, hi));
    }
    cr_expect(epsilon_eq(dbl, sum(next, 0, TOP), sum(k1, 0, TOP), 1e-6));
    scenario_free(sc);
}

Test(fit, one_step_projection_reproduces_the_total_when_only_a_total_was_published)
{
    double k0[NA], c[NA], j[NA], tr[NA], k1[NA], est[NA], next[NA];
    scenario *sc = scn_new(6);
    fit f;

    world(k0, c, j);
    transfers_world(tr);
    project(k0, c, tr, j, k1);
    set_base(sc, k1);
    add(sc, BASE - 1, 0, TOP, MEASURE_CASELOAD, sum(k0, 0, TOP));
    add(sc, BASE - 1, 0, TOP, MEASURE_NEW_PLANS, sum(j, 0, TOP));
    add_series(sc, 2019, 2023, sum(j, 0, TOP), 0.04, NULL);
    add_ceased_by_age(sc, k0, c);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    for (int a = 0; a < NA; a++)
        est[a] = sum(k0, 0, TOP) * k1[a] / sum(k1, 0, TOP);
    project(est, f.cease, f.transfer, f.joiners, next);
    cr_expect(epsilon_eq(dbl, sum(next, 0, TOP), sum(k1, 0, TOP), 1e-6));
    cr_expect(epsilon_eq(dbl, sum(f.joiners, 0, TOP), sum(j, 0, TOP), 1e-9));
    scenario_free(sc);
}

Test(fit, joiners_split_bands_by_the_latest_single_age_new_plans)
{
    scenario *sc = scn_new(3);
    double prof[NA];
    fit f;

    add_minimal(sc);
    for (int a = 0; a < NA; a++) {
        prof[a] = 3.0 + (a * 7) % 11;
        add(sc, 2022, a, a, MEASURE_NEW_PLANS, prof[a]);
    }
    add(sc, 2023, 0, TOP, MEASURE_NEW_PLANS, 380.0);
    add(sc, 2024, 0, 4, MEASURE_NEW_PLANS, 100.0);
    add(sc, 2024, 5, 10, MEASURE_NEW_PLANS, 240.0);
    add(sc, 2024, 11, 25, MEASURE_NEW_PLANS, 60.0);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    for (int a = 5; a <= 10; a++)
        cr_expect(epsilon_eq(dbl, f.joiners[a], 240.0 * prof[a] / sum(prof, 5, 10), 1e-9));
    cr_expect(epsilon_eq(dbl, sum(f.joiners, 0, 4), 100.0, 1e-9));
    cr_expect(epsilon_eq(dbl, sum(f.joiners, 0, TOP), 400.0, 1e-9));
    scenario_free(sc);
}

Test(fit, joiners_split_bands_by_the_caseload_without_single_ages)
{
    scenario *sc = scn_new(3);
    double k[NA];
    fit f;

    for (int a = 0; a < NA; a++)
        k[a] = 10.0 + a;
    set_base(sc, k);
    add(sc, BASE - 1, 0, TOP, MEASURE_CASELOAD, 400.0);
    add(sc, BASE - 1, 0, TOP, MEASURE_CEASED, 40.0);
    add_series(sc, 2022, 2023, 300.0, 0.0, NULL);
    add(sc, 2024, 0, 12, MEASURE_NEW_PLANS, 100.0);
    add(sc, 2024, 13, 25, MEASURE_NEW_PLANS, 200.0);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(epsilon_eq(dbl, f.joiners[12], 100.0 * 22.0 / sum(k, 0, 12), 1e-9));
    cr_expect(epsilon_eq(dbl, f.joiners[13], 200.0 * 23.0 / sum(k, 13, 25), 1e-9));
    scenario_free(sc);
}

Test(fit, need_mix_follows_the_caseload_and_pools_thin_ages)
{
    scenario *sc = scn_new(6);
    fit f;

    add(sc, BASE - 1, 0, TOP, MEASURE_CASELOAD, 2400.0);
    add(sc, BASE - 1, 0, TOP, MEASURE_CEASED, 300.0);
    add_series(sc, 2019, 2024, 300.0, 0.05, NULL);
    for (int a = 0; a < NA; a++)
        sc->caseload[a][NEED_SLCN][SET_MS] = 100.0;
    sc->caseload[3][NEED_SLCN][SET_MS] = 0.0;
    sc->caseload[3][NEED_ASD][SET_SS] = 2.0;              /* too few to stand alone */
    sc->caseload[10][NEED_SLCN][SET_MS] = 40.0;
    sc->caseload[10][NEED_ASD][SET_RP] = 60.0;
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(epsilon_eq(dbl, f.pi[3][NEED_ASD], 2.0 / 202.0, 1e-12));
    cr_expect(epsilon_eq(dbl, f.pi[10][NEED_ASD], 0.6, 1e-12));
    for (int a = 0; a < NA; a++) {
        double s = 0.0;
        for (int k = 0; k < SIM_N_NEEDS; k++)
            s += f.pi[a][k];
        cr_expect(epsilon_eq(dbl, s, 1.0, 1e-12), "age %d", a);
    }
    scenario_free(sc);
}

Test(fit, configured_overdispersion_is_kept)
{
    scenario *sc = scn_new(6);
    double noise[16];
    fit f;

    for (int i = 0; i < 16; i++)
        noise[i] = 3.0 * NOISE[i];
    add_minimal(sc);
    add_series(sc, 2009, 2024, 900.0, 0.03, noise);
    sc->overdispersion = 0.0375;
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(eq(dbl, f.overdispersion, 0.0375));
    sc->overdispersion = -1.0;
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(gt(dbl, f.overdispersion, 0.005));
    scenario_free(sc);
}

Test(fit, fitted_overdispersion_is_unbiased_for_gamma_poisson_series)
{
    enum { REPS = 400, YEARS = 10 };
    const double v = 0.01;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    double s = 0.0, ss = 0.0, mean, se;

    gsl_rng_set(r, 20251122UL);
    for (int i = 0; i < REPS; i++) {
        scenario *sc = scn_new(YEARS);
        fit f;

        add_minimal(sc);
        for (int y = 2024 - YEARS + 1; y <= 2024; y++) {
            double mu = 3000.0 * exp(0.05 * (y - 2024));
            double shock = gsl_ran_gamma(r, 1.0 / v, v);
            add(sc, y, 0, TOP, MEASURE_NEW_PLANS, (double)gsl_ran_poisson(r, shock * mu));
        }
        cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
        s += f.overdispersion;
        ss += f.overdispersion * f.overdispersion;
        scenario_free(sc);
    }
    gsl_rng_free(r);
    mean = s / REPS;
    se = sqrt((ss / REPS - mean * mean) / REPS);
    cr_expect(epsilon_eq(dbl, mean, v, 5.0 * se), "mean %g, se %g", mean, se);
}

Test(fit, a_misreported_year_is_left_out_of_the_growth_fit)
{
    scenario *sc = scn_new(6);
    fit f;

    add_minimal(sc);
    add_series(sc, 2019, 2021, 773.0 * exp(0.06 * -3.0), 0.06, NULL);
    add(sc, 2022, 0, TOP, MEASURE_NEW_PLANS, 6078.0);       /* ten times the trend */
    add_series(sc, 2023, 2024, 773.0, 0.06, NULL);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(epsilon_eq(dbl, f.growth, 0.06, 1e-9));
    cr_expect(epsilon_eq(dbl, f.overdispersion, 0.0, 1e-12));
    cr_expect(ne(ptr, strstr(f.sources, "2022 left out"), NULL), "%s", f.sources);
    scenario_free(sc);
}

/* Six years of an LA whose caseload, new plans and net exits are all published (2019-2024),
 * with new plans `spike` times the trend in calendar year `bad` (0: no such row at all). */
static scenario *exits_world(int bad, double spike)
{
    static const double e[] = { 0.071, 0.032, 0.058, 0.019, 0.064, 0.041 };
    scenario *sc = scn_new(6);
    double k = 2000.0, base[NA];

    for (int i = 0; i < 6; i++) {
        const int y = 2019 + i;
        const double n = 400.0 * exp(0.05 * (i - 5)) * (1.0 + NOISE[i]);

        if (y != bad || spike > 0.0)
            add(sc, y, 0, TOP, MEASURE_NEW_PLANS, y == bad ? spike * n : n);
        add(sc, y, 0, TOP, MEASURE_CASELOAD, k);
        k = k * (1.0 - e[i]) + n;
    }
    for (int a = 0; a < NA; a++)
        base[a] = k / NA;
    set_base(sc, base);
    add(sc, 2024, 0, TOP, MEASURE_CEASED, 150.0);
    return sc;
}

Test(fit, a_misreported_year_is_left_out_of_every_rate_not_only_the_growth)
{
    scenario *with = exits_world(2022, 10.0), *without = exits_world(2022, 0.0);
    fit a, b;

    cr_assert(eq(int, fit_scenario(with, &a, NULL), SIM_OK));
    cr_assert(eq(int, fit_scenario(without, &b, NULL), SIM_OK));
    cr_expect(ne(ptr, strstr(a.sources, "2022 left out"), NULL), "%s", a.sources);
    /* the fit with a tenfold 2022 is the fit of a history without 2022: growth, exit
     * scatter (a 2022 net exit rate of about -2 would dominate it), cessation, transfers */
    cr_expect(eq(dbl, a.growth, b.growth));
    cr_expect(eq(dbl, a.growth_se, b.growth_se));
    cr_expect(eq(dbl, a.overdispersion, b.overdispersion));
    cr_expect(eq(dbl, a.exit_sd, b.exit_sd));
    cr_expect(eq(int, a.exit_years, 5));
    cr_expect(eq(int, b.exit_years, 5));
    for (int x = 0; x < NA; x++) {
        cr_expect(eq(dbl, a.cease[x], b.cease[x]), "cease at %d", x);
        cr_expect(eq(dbl, a.transfer[x], b.transfer[x]), "transfer at %d", x);
        cr_expect(eq(dbl, a.joiners[x], b.joiners[x]), "joiners at %d", x);
    }
    cr_expect(ne(ptr, strstr(a.sources, "C = 2021, 2023"), NULL), "%s", a.sources);
    scenario_free(with);
    scenario_free(without);
}

Test(fit, joiners_come_from_the_latest_year_that_is_not_misreported)
{
    scenario *sc = exits_world(2024, 8.0);
    const double n2023 = 400.0 * exp(0.05 * -1.0) * (1.0 + NOISE[4]);
    fit f;

    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(ne(ptr, strstr(f.sources, "2024 left out"), NULL), "%s", f.sources);
    /* 2023's level carried a year forward by the fitted growth, not eight times 2024's */
    cr_expect(epsilon_eq(dbl, sum(f.joiners, 0, TOP), n2023 * exp(f.growth), 1e-9),
              "%g vs %g", sum(f.joiners, 0, TOP), n2023 * exp(f.growth));
    cr_expect(ne(ptr, strstr(f.sources, "new_plans 2023 by age"), NULL), "%s", f.sources);
    scenario_free(sc);
}

Test(fit, a_steep_but_steady_series_keeps_every_year)
{
    scenario *sc = scn_new(30);
    fit f;

    add_minimal(sc);
    add_series(sc, 1995, 2024, 9000.0, 0.12, NULL);         /* 30 years, 35-fold */
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(eq(int, f.window_first, 1995));
    cr_expect(epsilon_eq(dbl, f.growth, 0.12, 1e-9));
    cr_expect(eq(ptr, strstr(f.sources, "left out"), NULL), "%s", f.sources);
    scenario_free(sc);
}

Test(fit, the_yearly_scatter_of_net_exits_is_added_to_a_fitted_overdispersion)
{
    scenario *sc = scn_new(6);
    const double e[] = { 0.071, 0.032, 0.058, 0.019, 0.064, 0.041 };   /* 2019-2024 */
    double k = 2000.0, mean = 0.0, ss = 0.0, base[NA];
    fit f;

    add_series(sc, 2019, 2024, 400.0, 0.05, NULL);
    for (int i = 0; i < 6; i++)
        mean += e[i] / 6.0;
    for (int i = 0; i < 6; i++) {
        double n = 400.0 * exp(0.05 * (i - 5));
        add(sc, 2019 + i, 0, TOP, MEASURE_CASELOAD, k);
        ss += pow((e[i] - mean) * k / n, 2.0);
        k = k * (1.0 - e[i]) + n;
    }
    for (int a = 0; a < NA; a++)
        base[a] = k / NA;
    set_base(sc, base);
    add(sc, 2024, 0, TOP, MEASURE_CEASED, 150.0);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(epsilon_eq(dbl, f.overdispersion, ss / 5.0, 1e-9), "%g vs %g", f.overdispersion,
              ss / 5.0);                                  /* new plans add nothing: no noise */
    cr_expect(ne(ptr, strstr(f.sources, "exits: sd of the yearly net exit rate"), NULL), "%s",
              f.sources);
    {
        double m = 0.0, v = 0.0;
        for (int i = 0; i < 6; i++)
            m += e[i] / 6.0;
        for (int i = 0; i < 6; i++)
            v += (e[i] - m) * (e[i] - m) / 5.0;
        cr_expect(epsilon_eq(dbl, f.exit_sd, sqrt(v), 1e-12));
        cr_expect(eq(int, f.exit_years, 6));
        cr_expect(epsilon_eq(dbl, f.exit_band_sd, FIT_BAND_EXIT_FACTOR * sqrt(v), 1e-12));
    }
    sc->overdispersion = 0.02;
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(eq(dbl, f.overdispersion, 0.02));           /* a configured v is kept as is */
    scenario_free(sc);
}

Test(fit, transfers_pool_three_years_so_their_changes_are_reproduced_in_sum)
{
    double k0[NA], c[NA], j[NA], tr1[NA], tr2[NA], k1[NA], k2[NA], next1[NA], next2[NA];
    scenario *sc = scn_new(6);
    fit f;

    world(k0, c, j);
    for (int a = 19; a < TOP; a++)
        c[a] = 0.4;
    for (int a = 0; a < NA; a++) {
        tr1[a] = 0.05;                                    /* 2023 -> 2024 */
        tr2[a] = -0.01;                                   /* 2024 -> 2025 */
    }
    project(k0, c, tr1, j, k1);
    project(k1, c, tr2, j, k2);
    set_base(sc, k2);
    add(sc, 2023, 0, TOP, MEASURE_CASELOAD, sum(k0, 0, TOP));
    add(sc, 2024, 0, TOP, MEASURE_CASELOAD, sum(k1, 0, TOP));
    for (int y = 2019; y <= 2024; y++)
        for (int a = 0; a < NA; a++)
            add(sc, y, a, a, MEASURE_NEW_PLANS, j[a]);
    add_ceased_by_age(sc, k1, c);
    cr_assert(eq(int, fit_scenario(sc, &f, NULL), SIM_OK));
    cr_expect(gt(dbl, f.transfer[10], -0.01 + 0.005));    /* between the two years' rates */
    cr_expect(lt(dbl, f.transfer[10], 0.05 - 0.005));
    for (int a = 1; a < NA; a++)
        cr_expect(epsilon_eq(dbl, f.transfer[a], f.transfer[1], 1e-12));  /* totals only */
    {                                     /* Januaries split by the base year's profile */
        double e0[NA], e1[NA], t0 = sum(k0, 0, TOP), t1 = sum(k1, 0, TOP), tb = sum(k2, 0, TOP);
        for (int a = 0; a < NA; a++) {
            e0[a] = t0 * k2[a] / tb;
            e1[a] = t1 * k2[a] / tb;
        }
        project(e0, f.cease, f.transfer, j, next1);
        project(e1, f.cease, f.transfer, j, next2);
        cr_expect(epsilon_eq(dbl, sum(next1, 0, TOP) + sum(next2, 0, TOP), t1 + tb, 1e-6),
                  "%g vs %g", sum(next1, 0, TOP) + sum(next2, 0, TOP), t1 + tb);
    }
    scenario_free(sc);
}
