/* test_engine.c - the Monte Carlo engine against the cohort model's arithmetic. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "engine.h"
#include "summary.h"
#include "xalloc.h"

/* A small made-up LA: a few plans at every age, rates with some variety. */
static scenario *make_scenario(void)
{
    scenario *sc = xcalloc(1, sizeof *sc);

    strcpy(sc->name, "engine-test");
    sc->base_year = 2025;
    sc->horizon = 10;
    sc->damping = 0.9;
    sc->incidence_multiplier = 1.0;
    for (int a = 0; a < SIM_N_AGES; a++) {
        sc->caseload[a][NEED_ASD][a < 4 ? SET_EY : a < 16 ? SET_MS : SET_FE] = 7 + a % 5;
        sc->caseload[a][NEED_SEMH][a < 16 ? SET_SS : SET_SPI] = 3 + a % 3;
        sc->caseload[a][NEED_SLCN][SET_UNK] = a % 2;
    }
    return sc;
}

static void make_fit(fit *f)
{
    memset(f, 0, sizeof *f);
    f->base_year = 2025;
    for (int a = 0; a < SIM_N_AGES; a++) {
        f->joiners[a] = a < 20 ? 2.5 + 0.3 * (a % 7) : 0.4;
        f->pi[a][NEED_ASD] = 0.55;
        f->pi[a][NEED_SEMH] = 0.3;
        f->pi[a][NEED_SLCN] = 0.15;
        f->cease[a] = a == SIM_MAX_AGE ? 1.0 : 0.04 + 0.01 * (a % 4) + (a >= 16 ? 0.12 : 0.0);
        f->transfer[a] = a % 3 == 0 ? 0.03 : a % 3 == 1 ? -0.02 : 0.0;
    }
}

/* Totals by age for each replication and year: tot[(h * n_reps + rep) * SIM_N_AGES + a]. */
typedef struct by_age {
    size_t   n_reps;
    int64_t *tot;
    int      flows_ok;
} by_age;

static void age_rep_year(void *ctx, const engine_view *v)
{
    by_age *b = ctx;
    int64_t *row = b->tot + ((size_t)v->h * b->n_reps + v->rep) * SIM_N_AGES;
    const int64_t *prev = b->tot + ((size_t)(v->h - 1) * b->n_reps + v->rep) * SIM_N_AGES;
    const engine_flows *fl = v->flows;

    for (int a = 0; a < SIM_N_AGES; a++) {
        row[a] = 0;
        for (size_t i = v->row_off[a * SIM_N_NEEDS]; i < v->row_off[(a + 1) * SIM_N_NEEDS]; i++)
            row[a] += v->x[i];
    }
    /* conservation: p'[a] = p[a-1] - leavers[a-1] - out[a] + joiners[a] + in[a] */
    for (int a = 0; a < SIM_N_AGES; a++) {
        int64_t from = a == 0 ? 0 : fl->plans_before[a - 1] - fl->leavers[a - 1];
        if (fl->plans_before[a] != prev[a]
            || row[a] != from - fl->transfers_out[a] + fl->joiners[a] + fl->transfers_in[a])
            b->flows_ok = 0;
    }
    if (fl->leavers[SIM_MAX_AGE] != fl->plans_before[SIM_MAX_AGE])
        b->flows_ok = 0;
}

static by_age run_by_age(const scenario *sc, const fit *f, size_t reps, int horizon,
                         size_t threads)
{
    engine *e = NULL;
    by_age b = { .n_reps = reps, .flows_ok = 1 };
    engine_sink sink = { .ctx = &b, .rep_year = age_rep_year };
    engine_options opt = { .n_reps = reps, .seed = 20251122UL, .threads = threads,
                           .horizon = horizon };
    sim_error err;

    b.tot = xcalloc(((size_t)horizon + 1) * reps * SIM_N_AGES, sizeof *b.tot);
    for (size_t r = 0; r < reps; r++)
        for (int a = 0; a < SIM_N_AGES; a++)
            for (int n = 0; n < SIM_N_NEEDS; n++)
                for (int s = 0; s < SIM_N_SETTINGS; s++)
                    b.tot[r * SIM_N_AGES + (size_t)a] += (int64_t)sc->caseload[a][n][s];
    cr_assert(eq(int, engine_prepare(sc, f, NULL, horizon, &e, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(int, engine_run(e, &opt, &sink, &err), SIM_OK), "%s", err.msg);
    engine_free(e);
    return b;
}

Test(engine, mean_caseload_by_age_matches_the_cohort_recurrence_within_five_se)
{
    enum { R = 3000, H = 10 };
    scenario *sc = make_scenario();
    fit f;
    double expect[SIM_N_AGES], next[SIM_N_AGES];
    by_age b;

    make_fit(&f);
    b = run_by_age(sc, &f, R, H, 2);
    for (int a = 0; a < SIM_N_AGES; a++) {
        expect[a] = 0.0;
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++)
                expect[a] += sc->caseload[a][n][s];
    }
    for (int h = 1; h <= H; h++) {
        for (int a = 0; a < SIM_N_AGES; a++) {
            double in = a == 0 ? 0.0 : expect[a - 1] * (1.0 - f.cease[a - 1])
                                       * (1.0 - fmax(0.0, -f.transfer[a]));
            next[a] = in * (1.0 + fmax(0.0, f.transfer[a])) + f.joiners[a];
        }
        memcpy(expect, next, sizeof expect);
        if (h != 1 && h != 5 && h != 10)
            continue;
        for (int a = 0; a < SIM_N_AGES; a++) {
            double s = 0.0, ss = 0.0, mean, se;
            for (size_t r = 0; r < R; r++) {
                double v = (double)b.tot[((size_t)h * R + r) * SIM_N_AGES + (size_t)a];
                s += v;
                ss += v * v;
            }
            mean = s / R;
            se = sqrt(fmax(ss / R - mean * mean, 1e-12) / R);
            cr_expect(fabs(mean - expect[a]) <= 5.0 * se + 1e-9,
                      "h %d age %d: mean %.4f, expected %.4f (se %.4f)", h, a, mean,
                      expect[a], se);
        }
    }
    free(b.tot);
    free(sc);
}

Test(engine, every_replication_conserves_plans_by_age)
{
    scenario *sc = make_scenario();
    fit f;
    by_age b;

    make_fit(&f);
    f.growth = 0.061;
    f.growth_se = 0.02;
    f.overdispersion = 0.037;
    b = run_by_age(sc, &f, 300, 12, 3);
    cr_expect(b.flows_ok != 0, "a replication-year broke p' = p - leavers - out + joiners + in");
    free(b.tot);
    free(sc);
}

/* Run through the summary sink and return its bands of the grand total, [horizon + 1]. */
static void total_bands(const fit *f, unsigned long seed, size_t threads, size_t reps,
                        int horizon, summary_band *out)
{
    scenario *sc = make_scenario();
    engine *e = NULL;
    summary *s = summary_alloc(sc, reps, horizon, threads);
    engine_sink sink = summary_sink(s);
    engine_options opt = { .n_reps = reps, .seed = seed, .threads = threads, .horizon = horizon };
    size_t all = summary_series(SUMMARY_ALL_PHASE, SUMMARY_ALL_NEED, SUMMARY_ALL_SETTING);
    sim_error err;

    cr_assert(eq(int, engine_prepare(sc, f, NULL, horizon, &e, &err), SIM_OK));
    cr_assert(eq(int, engine_run(e, &opt, &sink, &err), SIM_OK));
    for (int h = 0; h <= horizon; h++)
        out[h] = *summary_get(s, h, all);
    engine_free(e);
    summary_free(s);
    free(sc);
}

Test(engine, thread_count_does_not_change_any_band_and_the_seed_does)
{
    fit f;
    summary_band one[9], three[9], other[9];

    make_fit(&f);
    f.growth = 0.05;
    f.growth_se = 0.03;
    f.overdispersion = 0.02;
    f.exit_sd = 0.024;                        /* the exit draw, too, is per replication */
    f.exit_years = 5;
    total_bands(&f, 7, 1, 401, 8, one);
    total_bands(&f, 7, 3, 401, 8, three);
    total_bands(&f, 8, 2, 401, 8, other);
    cr_expect(memcmp(one, three, sizeof one) == 0);
    cr_expect(memcmp(one + 1, other + 1, sizeof one - sizeof one[0]) != 0);
    cr_expect(eq(dbl, one[0].q[4], three[0].q[4]));
}

Test(engine, larger_growth_uncertainty_widens_the_band)
{
    fit f;
    summary_band narrow[11], wide[11];

    make_fit(&f);
    f.growth = 0.07;
    f.growth_se = 0.005;
    total_bands(&f, 11, 2, 1000, 10, narrow);
    f.growth_se = 0.08;
    total_bands(&f, 11, 2, 1000, 10, wide);
    cr_expect(gt(dbl, wide[10].q[8] - wide[10].q[0], 1.5 * (narrow[10].q[8] - narrow[10].q[0])),
              "wide %g vs narrow %g", wide[10].q[8] - wide[10].q[0],
              narrow[10].q[8] - narrow[10].q[0]);
}

Test(engine, settings_rule_table_reassigns_at_phase_entry_only)
{
    cr_expect(eq(int, engine_setting_keeps(SET_EY, 3), 1));
    cr_expect(eq(int, engine_setting_keeps(SET_EY, 4), 0));
    cr_expect(eq(int, engine_setting_keeps(SET_SS, 11), 1));
    cr_expect(eq(int, engine_setting_keeps(SET_MS, 17), 1));
    cr_expect(eq(int, engine_setting_keeps(SET_MS, 16), 0));
    cr_expect(eq(int, engine_setting_keeps(SET_SS, 16), 0));
    cr_expect(eq(int, engine_setting_keeps(SET_FE, 19), 1));
    cr_expect(eq(int, engine_setting_keeps(SET_SS, 19), 0));
    cr_expect(eq(int, engine_setting_keeps(SET_ELS, 16), 1));
    cr_expect(eq(int, engine_setting_keeps(SET_UNK, 7), 0));
}

Test(engine, base_year_mix_is_the_preference_when_none_is_given)
{
    scenario *sc = make_scenario();
    fit f;
    engine *e = NULL;
    double share[SIM_N_SETTINGS];
    sim_error err;

    make_fit(&f);
    cr_assert(eq(int, engine_prepare(sc, &f, NULL, 3, &e, &err), SIM_OK));
    engine_preference(e, PHASE_SEC, NEED_SEMH, share);
    cr_expect(epsilon_eq(dbl, share[SET_SS], 1.0, 1e-12));
    engine_preference(e, PHASE_P16, NEED_HI, share);   /* no HI plans: the phase mix */
    cr_expect(gt(dbl, share[SET_FE], 0.0));
    cr_expect(gt(dbl, share[SET_SPI], 0.0));
    cr_expect(epsilon_eq(dbl, share[SET_FE] + share[SET_SPI] + share[SET_UNK], 1.0, 1e-12));
    engine_free(e);
    sc->has_preferences = 1;
    sc->pref[PHASE_SEC][NEED_SEMH][SET_RP] = 2.0;
    sc->pref[PHASE_SEC][NEED_SEMH][SET_IS] = 2.0;
    cr_assert(eq(int, engine_prepare(sc, &f, NULL, 3, &e, &err), SIM_OK));
    engine_preference(e, PHASE_SEC, NEED_SEMH, share);
    cr_expect(epsilon_eq(dbl, share[SET_RP], 0.5, 1e-12));
    engine_free(e);
    free(sc);
}

Test(engine, rejects_rates_out_of_range_before_drawing)
{
    scenario *sc = make_scenario();
    fit f;
    engine *e = NULL;
    sim_error err;

    make_fit(&f);
    f.cease[4] = 1.2;
    cr_expect(eq(int, engine_prepare(sc, &f, NULL, 3, &e, &err), SIM_EDATA));
    cr_expect(strstr(err.msg, "age 4") != NULL, "%s", err.msg);
    make_fit(&f);
    f.pi[9][NEED_ASD] = 0.9;
    cr_expect(eq(int, engine_prepare(sc, &f, NULL, 3, &e, &err), SIM_EDATA));
    make_fit(&f);
    sc->caseload[3][0][0] = 2.5;
    cr_expect(eq(int, engine_prepare(sc, &f, NULL, 3, &e, &err), SIM_EDATA));
    cr_expect(eq(ptr, e, NULL));
    free(sc);
}

/* A placer that puts every pupil into one extra slot counted as SS (ages 0-25). */
static void all_to_extra(void *ctx, void *ws, int year, int32_t *want, int32_t *x,
                         const engine_layout *lay)
{
    (void)ctx;
    (void)year;
    ++*(int *)ws;
    for (size_t c = 0; c < (size_t)SIM_N_AGES * SIM_N_NEEDS; c++)
        for (int s = 0; s < SIM_N_SETTINGS; s++)
            x[lay->row_off[c] + SIM_N_SETTINGS] += want[c * SIM_N_SETTINGS + (size_t)s];
}

typedef struct extra_check { int ok; } extra_check;

static void check_extra(void *ctx, const engine_view *v)
{
    extra_check *c = ctx;
    int64_t in_extra = 0;

    for (size_t c2 = 0; c2 < (size_t)SIM_N_AGES * SIM_N_NEEDS; c2++) {
        if (v->row_off[c2 + 1] - v->row_off[c2] != SIM_N_SETTINGS + 1)
            c->ok = 0;                      /* the one extra slot is held by every row */
        for (size_t s = 0; s <= SIM_N_SETTINGS; s++)
            if (s < SIM_N_SETTINGS && v->x[v->row_off[c2] + s] != 0)
                c->ok = 0;
            else if (s == SIM_N_SETTINGS)
                in_extra += v->x[v->row_off[c2] + s];
    }
    if (in_extra == 0 || *(int *)v->ws != v->h + 1 || v->slot_setting[SIM_N_SETTINGS] != SET_SS)
        c->ok = 0;
}

Test(engine, a_placer_hook_receives_every_pupil_to_place)
{
    scenario *sc = make_scenario();
    fit f;
    engine *e = NULL;
    engine_slot slot = { SET_SS, 0, 25, 0 };
    engine_placer pl = { .extra = &slot, .n_extra = 1, .ws_size = sizeof(int),
                         .place = all_to_extra };
    extra_check chk = { 1 };
    engine_sink sink = { .ctx = &chk, .rep_year = check_extra };
    engine_options opt = { .n_reps = 20, .seed = 3, .threads = 2, .horizon = 5 };
    sim_error err;

    make_fit(&f);
    cr_assert(eq(int, engine_prepare(sc, &f, &pl, 5, &e, &err), SIM_OK));
    cr_expect(eq(sz, engine_slots(e), SIM_N_SETTINGS + 1));
    cr_assert(eq(int, engine_run(e, &opt, &sink, &err), SIM_OK));
    cr_expect(chk.ok != 0, "a pupil stayed outside the placer's slot or place() was not called yearly");
    engine_free(e);
    free(sc);
}

/* A placer that limits only SS: it must receive no other setting's pupils, and finds its want
 * rows zero again each year (the engine clears what it wrote). */
typedef struct ss_only { int bad; int64_t got; } ss_only;

static void ss_to_extra(void *ctx, void *ws, int year, int32_t *want, int32_t *x,
                        const engine_layout *lay)
{
    ss_only *c = ctx;

    (void)ws;
    for (size_t i = 0; i < (size_t)SIM_N_AGES * SIM_N_NEEDS; i++)
        for (int s = 0; s < SIM_N_SETTINGS; s++) {
            int32_t k = want[i * SIM_N_SETTINGS + (size_t)s];
            if (k < 0 || (year > 2025 && s != SET_SS && k != 0))
                __atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
            x[lay->row_off[i] + (s == SET_SS ? SIM_N_SETTINGS : (size_t)s)] += k;
            if (year > 2025 && s == SET_SS)
                __atomic_fetch_add(&c->got, k, __ATOMIC_RELAXED);
        }
}

static void no_ss_slot(void *ctx, const engine_view *v)
{
    ss_only *c = ctx;

    for (size_t i = 0; i < (size_t)SIM_N_AGES * SIM_N_NEEDS; i++)
        if (v->x[v->row_off[i] + SET_SS] != 0)
            __atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
}

Test(engine, a_placer_gets_only_the_settings_it_wants_and_the_rest_go_to_their_slots)
{
    scenario *sc = make_scenario();
    fit f;
    engine *e = NULL;
    engine_slot slot = { SET_SS, 0, 25, 0 };
    uint16_t wanted[SIM_N_AGES];
    ss_only chk = { 0, 0 };
    engine_placer pl = { .extra = &slot, .n_extra = 1, .ctx = &chk, .place = ss_to_extra,
                         .wanted = wanted };
    engine_sink sink = { .ctx = &chk, .rep_year = no_ss_slot };
    engine_options opt = { .n_reps = 50, .seed = 11, .threads = 2, .horizon = 6 };
    by_age b = { 0 };
    sim_error err;

    for (int a = 0; a < SIM_N_AGES; a++)
        wanted[a] = 1u << SET_SS;
    make_fit(&f);
    cr_assert(eq(int, engine_prepare(sc, &f, &pl, 6, &e, &err), SIM_OK));
    cr_assert(eq(int, engine_run(e, &opt, &sink, &err), SIM_OK));
    cr_expect(eq(int, chk.bad, 0), "a setting the placer does not limit reached it, or SS "
              "pupils bypassed it");
    cr_expect(gt(i64, chk.got, 0), "no SS pupils reached the placer");
    engine_free(e);
    /* and conservation holds with the mask */
    b.n_reps = 30;
    b.tot = xcalloc(7 * b.n_reps * SIM_N_AGES, sizeof *b.tot);
    b.flows_ok = 1;
    for (size_t r = 0; r < b.n_reps; r++)
        for (int a = 0; a < SIM_N_AGES; a++)
            for (int n = 0; n < SIM_N_NEEDS; n++)
                for (int s = 0; s < SIM_N_SETTINGS; s++)
                    b.tot[r * SIM_N_AGES + (size_t)a] += (int64_t)sc->caseload[a][n][s];
    cr_assert(eq(int, engine_prepare(sc, &f, &pl, 6, &e, &err), SIM_OK));
    opt.n_reps = b.n_reps;
    sink = (engine_sink){ .ctx = &b, .rep_year = age_rep_year };
    cr_assert(eq(int, engine_run(e, &opt, &sink, &err), SIM_OK));
    cr_expect(b.flows_ok != 0, "plans not conserved by age with a wanted mask");
    free(b.tot);
    engine_free(e);
    free(sc);
}

Test(engine, replication_seeds_are_distinct_and_depend_on_the_seed)
{
    cr_expect(ne(u64, engine_rep_seed(1, 0), engine_rep_seed(1, 1)));
    cr_expect(ne(u64, engine_rep_seed(1, 0), engine_rep_seed(2, 0)));
    cr_expect(eq(u64, engine_rep_seed(99, 12345), engine_rep_seed(99, 12345)));
}

/* Cells of 7 to 5,000 plans with cessation rates on both sides of 1/2 exercise every path of
 * the removal sampler (tabulated cdf, inversion from a power table or exp, BTRS, and the
 * flipped p > 1/2 forms); one year on, each age's count must have the binomial-plus-Poisson
 * mean and variance. exit_sd > 0 (so small that the rates do not move) takes the paths of a
 * replication with an exit draw, which have no cdf table. */
static void check_one_year_counts(double exit_sd)
{
    enum { R = 4000 };
    static const int32_t sizes[] = { 7, 39, 41, 120, 255, 300, 1000, 5000 };
    scenario *sc = xcalloc(1, sizeof *sc);
    fit f;
    by_age b;

    sc->base_year = 2025;
    sc->damping = 1.0;
    sc->incidence_multiplier = 1.0;
    make_fit(&f);
    f.exit_sd = exit_sd;
    f.exit_years = exit_sd > 0.0 ? 5 : 0;
    for (int a = 0; a < SIM_N_AGES; a++) {
        f.transfer[a] = 0.0;
        f.joiners[a] = 3.7;
        if (a < SIM_MAX_AGE)
            f.cease[a] = a % 2 ? 0.73 : 0.085;
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        sc->caseload[5 + 2 * i][NEED_ASD][SET_MS] = sizes[i];
        sc->caseload[6 + 2 * i][NEED_SEMH][SET_SS] = sizes[i];
    }
    b = run_by_age(sc, &f, R, 1, 2);
    for (int a = 6; a <= 21; a++) {
        double n = 0.0, q = f.cease[a - 1], mean, var, s = 0.0, ss = 0.0, m, v;
        for (int k = 0; k < SIM_N_SETTINGS; k++)
            n += sc->caseload[a - 1][NEED_ASD][k] + sc->caseload[a - 1][NEED_SEMH][k];
        mean = n * (1.0 - q) + f.joiners[a];
        var = n * q * (1.0 - q) + f.joiners[a];
        for (size_t r = 0; r < R; r++) {
            double x = (double)b.tot[((size_t)R + r) * SIM_N_AGES + (size_t)a];
            s += x;
            ss += x * x;
        }
        m = s / R;
        v = (ss - s * m) / (R - 1);
        cr_expect(fabs(m - mean) <= 5.0 * sqrt(var / R), "age %d: mean %g, expected %g", a, m,
                  mean);
        cr_expect(fabs(v - var) <= 5.0 * var * sqrt(2.0 / (R - 1)),
                  "age %d: variance %g, expected %g", a, v, var);
    }
    free(b.tot);
    free(sc);
}

Test(engine, one_year_counts_have_the_binomial_mean_and_variance_for_every_cell_size)
{
    check_one_year_counts(0.0);
}

Test(engine, one_year_counts_keep_the_binomial_law_under_an_exit_draw)
{
    check_one_year_counts(1e-12);
}

Test(engine, rejects_bad_placers_and_run_options)
{
    scenario *sc = make_scenario();
    fit f;
    engine *e = NULL;
    engine_slot bad_age = { SET_RP, 11, 30, 0 }, ok = { SET_RP, 11, 15, 0 };
    engine_placer no_hook = { .extra = &ok, .n_extra = 1 };
    engine_placer bad = { .extra = &bad_age, .n_extra = 1, .place = all_to_extra };
    engine_options opt = { .n_reps = 10, .seed = 1, .threads = 0, .horizon = 3 };
    sim_error err;

    make_fit(&f);
    cr_expect(eq(int, engine_prepare(sc, &f, &no_hook, 3, &e, &err), SIM_EUSAGE));
    cr_expect(eq(int, engine_prepare(sc, &f, &bad, 3, &e, &err), SIM_EUSAGE));
    cr_expect(strstr(err.msg, "11-30") != NULL, "%s", err.msg);
    bad.extra = &ok;                          /* more slots than a row position can name */
    bad.n_extra = ENGINE_MAX_EXTRA + 1;
    cr_expect(eq(int, engine_prepare(sc, &f, &bad, 3, &e, &err), SIM_EUSAGE));
    cr_expect(strstr(err.msg, "30001 extra slots") != NULL, "%s", err.msg);
    cr_expect(eq(int, engine_prepare(sc, &f, NULL, 0, &e, &err), SIM_EUSAGE));
    cr_assert(eq(int, engine_prepare(sc, &f, NULL, 3, &e, &err), SIM_OK));
    cr_expect(eq(int, engine_run(e, &opt, NULL, &err), SIM_EUSAGE));
    opt.threads = 2;
    opt.horizon = 4;                          /* beyond the prepared horizon */
    cr_expect(eq(int, engine_run(e, &opt, NULL, &err), SIM_EUSAGE));
    opt.horizon = 3;
    cr_expect(eq(int, engine_run(e, &opt, NULL, &err), SIM_OK));
    engine_free(e);
    free(sc);
}

/* The expected total at horizon h of the cohort recurrence when every replication runs at
 * net transfer rates shifted by `shift` (engine.h, "Exit draw"). */
static double shifted_total(const scenario *sc, const fit *f, double shift, int h)
{
    double expect[SIM_N_AGES], next[SIM_N_AGES], t[SIM_N_AGES], total = 0.0;

    for (int a = 0; a < SIM_N_AGES; a++) {
        t[a] = fmin(fmax(f->transfer[a] - shift, -1.0), fmax(f->transfer[a], 0.5));
        expect[a] = 0.0;
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++)
                expect[a] += sc->caseload[a][n][s];
    }
    for (int y = 1; y <= h; y++) {
        for (int a = 0; a < SIM_N_AGES; a++) {
            double in = a == 0 ? 0.0 : expect[a - 1] * (1.0 - f->cease[a - 1])
                                       * (1.0 - fmax(0.0, -t[a]));
            next[a] = in * (1.0 + fmax(0.0, t[a])) + f->joiners[a];
        }
        memcpy(expect, next, sizeof expect);
    }
    for (int a = 0; a < SIM_N_AGES; a++)
        total += expect[a];
    return total;
}

/* Mean and sd across replications of the total at horizon h. */
static void total_moments(const by_age *b, int h, double *mean, double *sd)
{
    double s = 0.0, ss = 0.0;

    for (size_t r = 0; r < b->n_reps; r++) {
        double v = 0.0;
        for (int a = 0; a < SIM_N_AGES; a++)
            v += (double)b->tot[((size_t)h * b->n_reps + r) * SIM_N_AGES + (size_t)a];
        s += v;
        ss += v * v;
    }
    *mean = s / (double)b->n_reps;
    *sd = sqrt(fmax(ss - s * *mean, 0.0) / (double)(b->n_reps - 1));
}

/* The exit draw widens the band of the total and keeps its mean where the model puts it:
 * the mean over the Student-t draw (integrated numerically over its density) of the
 * recurrence at each shifted rate, which is near the unshifted one for a modest sd. */
Test(engine, exit_rate_draw_widens_the_band_and_keeps_the_mean)
{
    enum { R = 3000, H = 5, STEPS = 24001 };
    const double sd = 0.0317, lim = 60.0;
    const int years = 6;
    scenario *sc = make_scenario();
    fit f;
    by_age b0, b1;
    double m0, s0, m1, s1, expect = 0.0, scale = sd * sqrt(1.0 + 1.0 / years);

    make_fit(&f);
    b0 = run_by_age(sc, &f, R, H, 2);
    f.exit_sd = sd;
    f.exit_years = years;
    b1 = run_by_age(sc, &f, R, H, 2);
    cr_expect(b1.flows_ok != 0, "a replication-year broke conservation under the exit draw");
    total_moments(&b0, H, &m0, &s0);
    total_moments(&b1, H, &m1, &s1);
    /* E[total] = integral of total(scale * t) dens_t(t) dt, trapezoid over |t| <= 60 */
    for (int i = 0; i < STEPS; i++) {
        double t = -lim + 2.0 * lim * i / (STEPS - 1), w = 2.0 * lim / (STEPS - 1);
        if (i == 0 || i == STEPS - 1)
            w *= 0.5;
        expect += w * gsl_ran_tdist_pdf(t, years - 1) * shifted_total(sc, &f, scale * t, H);
    }
    cr_expect(gt(dbl, s1, 1.3 * s0), "sd with the draw %g, without %g", s1, s0);
    cr_expect(fabs(m1 - expect) <= 5.0 * s1 / sqrt(R), "mean %g, expected %g (se %g)", m1,
              expect, s1 / sqrt(R));
    cr_expect(fabs(m1 - m0) <= 5.0 * sqrt((s0 * s0 + s1 * s1) / R),
              "mean with the draw %g, without %g", m1, m0);
    cr_expect(fabs(m0 - shifted_total(sc, &f, 0.0, H)) <= 5.0 * s0 / sqrt(R));
    free(b0.tot);
    free(b1.tot);
    free(sc);
}

Test(engine, a_lasting_exit_shift_conserves_plans_and_widens_the_band)
{
    scenario *sc = make_scenario();
    fit f;
    by_age b;
    summary_band narrow[9], wide[9];

    make_fit(&f);
    f.exit_sd = 0.043;
    f.exit_years = 6;
    b = run_by_age(sc, &f, 300, 12, 3);
    cr_expect(b.flows_ok != 0, "a replication-year broke p' = p - leavers - out + joiners + in");
    free(b.tot);
    free(sc);

    make_fit(&f);
    total_bands(&f, 13, 2, 1000, 8, narrow);
    f.exit_sd = 0.043;
    f.exit_years = 6;
    total_bands(&f, 13, 2, 1000, 8, wide);
    /* a shift of a few percent a year, kept for 8 years, moves the total by tens of percent */
    cr_expect(gt(dbl, wide[8].q[8] - wide[8].q[0], 2.0 * (narrow[8].q[8] - narrow[8].q[0])),
              "wide %g vs narrow %g", wide[8].q[8] - wide[8].q[0],
              narrow[8].q[8] - narrow[8].q[0]);
    cr_expect(epsilon_eq(dbl, wide[8].q[4], narrow[8].q[4], 0.05 * narrow[8].q[4]),
              "the median stays: %g vs %g", wide[8].q[4], narrow[8].q[4]);
}

/* The placement multinomial, seen through a placer: joiners of one (age, need) whose mean is
 * m, split by a preference row, must be independent Poisson(m * share) counts by setting
 * (Poisson splitting), whichever path drew them (categorical draws for a few pupils,
 * binomials down the row, or binomials then categorical draws for the rest). */
enum { SPLIT_R = 20000 };
static const int split_age[2] = { 7, 12 };

typedef struct split_log { int32_t *got; } split_log;   /* [rep][2][SIM_N_SETTINGS] */

static void split_place(void *ctx, void *ws, int year, int32_t *want, int32_t *x,
                        const engine_layout *lay)
{
    int32_t *keep = ws;

    (void)ctx;
    for (size_t c = 0; c < (size_t)SIM_N_AGES * SIM_N_NEEDS; c++)
        for (size_t s = 0; s < SIM_N_SETTINGS; s++)
            x[lay->row_off[c] + s] += want[c * SIM_N_SETTINGS + s];
    if (year != 2026)
        return;
    for (int i = 0; i < 2; i++)
        memcpy(keep + i * SIM_N_SETTINGS,
               want + (size_t)(split_age[i] * SIM_N_NEEDS + NEED_ASD) * SIM_N_SETTINGS,
               SIM_N_SETTINGS * sizeof *keep);
}

static void split_rep_year(void *ctx, const engine_view *v)
{
    split_log *lg = ctx;

    memcpy(lg->got + v->rep * 2 * SIM_N_SETTINGS, v->ws, 2 * SIM_N_SETTINGS * sizeof(int32_t));
}

Test(engine, placement_splits_joiners_into_independent_poissons_by_setting)
{
    static const double share[5] = { 0.47, 0.23, 0.17, 0.08, 0.05 };
    static const sim_setting set[5] = { SET_MS, SET_RP, SET_SS, SET_IS, SET_AP };
    const double m[2] = { 13.7, 231.4 };
    scenario *sc = xcalloc(1, sizeof *sc);
    split_log lg = { xcalloc((size_t)SPLIT_R * 2 * SIM_N_SETTINGS, sizeof(int32_t)) };
    engine_placer pl = { .ws_size = 2 * SIM_N_SETTINGS * sizeof(int32_t),
                         .place = split_place };
    engine_sink sink = { .ctx = &lg, .rep_year = split_rep_year };
    engine_options opt = { .n_reps = SPLIT_R, .seed = 77, .threads = 2, .horizon = 1 };
    engine *e = NULL;
    fit f;
    sim_error err;

    sc->base_year = 2025;
    sc->damping = 1.0;
    sc->incidence_multiplier = 1.0;
    sc->has_preferences = 1;
    memset(&f, 0, sizeof f);
    f.base_year = 2025;
    f.cease[SIM_MAX_AGE] = 1.0;
    for (int i = 0; i < 2; i++) {
        f.joiners[split_age[i]] = m[i];
        f.pi[split_age[i]][NEED_ASD] = 1.0;
        for (int k = 0; k < 5; k++)
            sc->pref[phase_of_age(split_age[i])][NEED_ASD][set[k]] = share[k];
    }
    cr_assert(eq(int, engine_prepare(sc, &f, &pl, 1, &e, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(int, engine_run(e, &opt, &sink, &err), SIM_OK), "%s", err.msg);
    for (int i = 0; i < 2; i++) {
        double mean[5], var[5], cov = 0.0;
        for (int k = 0; k < 5; k++) {
            double s = 0.0, ss = 0.0, lam = m[i] * share[k];
            for (size_t r = 0; r < SPLIT_R; r++) {
                double v = lg.got[(r * 2 + (size_t)i) * SIM_N_SETTINGS + set[k]];
                s += v;
                ss += v * v;
            }
            mean[k] = s / SPLIT_R;
            var[k] = (ss - s * mean[k]) / (SPLIT_R - 1);
            cr_expect(fabs(mean[k] - lam) <= 5.0 * sqrt(lam / SPLIT_R),
                      "age %d %s: mean %g, want %g", split_age[i], setting_code(set[k]),
                      mean[k], lam);
            cr_expect(fabs(var[k] - lam) <= 5.0 * sqrt((lam + 2.0 * lam * lam) / SPLIT_R),
                      "age %d %s: variance %g, want %g", split_age[i], setting_code(set[k]),
                      var[k], lam);
        }
        for (size_t r = 0; r < SPLIT_R; r++) {
            const int32_t *g = lg.got + (r * 2 + (size_t)i) * SIM_N_SETTINGS;
            cov += (g[set[0]] - mean[0]) * (g[set[1]] - mean[1]);
        }
        cov /= SPLIT_R - 1;
        cr_expect(fabs(cov) <= 5.0 * sqrt(m[i] * share[0] * m[i] * share[1] / SPLIT_R),
                  "age %d: cov(MS, RP) %g, want 0", split_age[i], cov);
    }
    engine_free(e);
    free(lg.got);
    free(sc);
}

/* Non-empty state cells after each replication-year, per replication (the sink may write only
 * to storage indexed by view->rep). */
typedef struct occupancy {
    int      horizon;
    int64_t *seen;                      /* [n_reps]: non-empty cells before years 2..horizon */
} occupancy;

static void count_occupied(void *ctx, const engine_view *v)
{
    occupancy *o = ctx;

    if (v->h == o->horizon)             /* the last year's state starts no step */
        return;
    for (size_t i = 0; i < v->row_off[ENGINE_ROWS]; i++)
        o->seen[v->rep] += v->x[i] != 0;
}

/* Run sc under f and return the engine's work; *seen is the occupied cells the states held at
 * the start of every replication-year, counted from the base year and the sink's views. */
static engine_work run_work(const scenario *sc, const fit *f, size_t reps, int horizon,
                            size_t threads, int64_t *seen)
{
    engine *e = NULL;
    engine_work w = { 1, 1 };           /* engine_run() must overwrite these */
    occupancy o = { .horizon = horizon, .seen = xcalloc(reps, sizeof *o.seen) };
    engine_sink sink = { .ctx = &o, .rep_year = count_occupied };
    engine_options opt = { .n_reps = reps, .seed = 5, .threads = threads, .horizon = horizon,
                           .work = &w };
    int64_t base = 0;
    sim_error err;

    for (int a = 0; a < SIM_N_AGES; a++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++)
                base += sc->caseload[a][n][s] != 0;
    cr_assert(eq(int, engine_prepare(sc, f, NULL, horizon, &e, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(int, engine_run(e, &opt, &sink, &err), SIM_OK), "%s", err.msg);
    *seen = 0;
    for (size_t r = 0; r < reps; r++)
        *seen += base + o.seen[r];
    engine_free(e);
    free(o.seen);
    return w;
}

Test(engine, work_counts_the_occupied_cells_stepped_and_the_draws_whatever_the_threads)
{
    enum { R = 40, H = 6 };
    scenario *sc = make_scenario();
    fit f;
    int64_t seen1, seen3;
    engine_work w1, w3;

    make_fit(&f);
    w1 = run_work(sc, &f, R, H, 1, &seen1);
    w3 = run_work(sc, &f, R, H, 3, &seen3);
    cr_expect(eq(u64, w1.occupied, (uint64_t)seen1), "occupied %llu, the states held %lld",
              (unsigned long long)w1.occupied, (long long)seen1);
    cr_expect(eq(i64, seen1, seen3));
    cr_expect(eq(u64, w1.occupied, w3.occupied));
    cr_expect(eq(u64, w1.draws, w3.draws));
    cr_expect(gt(u64, w1.draws, w1.occupied), "every occupied cell takes a removal draw");
    free(sc);
}

Test(engine, work_counts_exactly_the_draws_of_an_empty_authority)
{
    enum { R = 30, H = 4 };
    scenario *sc = make_scenario();
    fit f;
    int64_t seen;
    engine_work w;

    memset(sc->caseload, 0, sizeof sc->caseload);
    make_fit(&f);
    memset(f.joiners, 0, sizeof f.joiners);   /* nobody, ever: only the shocks are drawn */
    w = run_work(sc, &f, R, H, 2, &seen);
    cr_expect(eq(u64, w.draws, 0));
    cr_expect(eq(u64, w.occupied, 0));
    cr_expect(eq(i64, seen, 0));
    f.overdispersion = 0.05;                  /* one yearly shock per replication-year */
    w = run_work(sc, &f, R, H, 2, &seen);
    cr_expect(eq(u64, w.draws, (uint64_t)R * H));
    f.growth_se = 0.01;                       /* and one growth draw per replication */
    w = run_work(sc, &f, R, H, 2, &seen);
    cr_expect(eq(u64, w.draws, (uint64_t)R * H + R));
    free(sc);
}

/* Mean joiners by age for each projected year, summed over replications (by rep: the sink
 * may write only to storage indexed by view->rep). */
typedef struct joined {
    size_t   n_reps;
    int64_t *n;                         /* [(h - 1) * n_reps + rep] joiners aged 5 */
} joined;

static void count_joiners(void *ctx, const engine_view *v)
{
    joined *j = ctx;

    j->n[(size_t)(v->h - 1) * j->n_reps + v->rep] = v->flows->joiners[5];
}

Test(engine, joiners_follow_the_projected_population_even_when_growth_is_on_counts)
{
    enum { R = 4000, H = 2 };
    scenario *sc = make_scenario();
    engine *e = NULL;
    joined j = { .n_reps = R, .n = xcalloc((size_t)H * R, sizeof *j.n) };
    engine_sink sink = { .ctx = &j, .rep_year = count_joiners };
    engine_options opt = { .n_reps = R, .seed = 9, .threads = 2, .horizon = H };
    sim_error err;
    double mean[H] = { 0.0, 0.0 };
    fit f;

    make_fit(&f);                       /* growth 0 on counts: per_capita 0 */
    sc->pop_first_year = 2024;          /* mid-years 2024-2026: Januaries 2025-2027 */
    sc->pop_last_year = 2026;
    sc->pop = xcalloc(3 * SIM_N_AGES, sizeof *sc->pop);
    for (int y = 0; y < 3; y++)
        for (int a = 0; a < SIM_N_AGES; a++)
            sc->pop[y * SIM_N_AGES + a] = a == 5 && y == 2 ? 3000.0 : 1000.0;
    cr_assert(eq(int, engine_prepare(sc, &f, NULL, H, &e, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(int, engine_run(e, &opt, &sink, &err), SIM_OK), "%s", err.msg);
    for (int h = 0; h < H; h++) {
        for (size_t r = 0; r < R; r++)
            mean[h] += (double)j.n[(size_t)h * R + r] / R;
    }
    /* Poisson joiners: mean joiners[5] in 2026, three times that in 2027, as age 5's
     * population triples; se of a mean of R Poissons is sqrt(mu / R) */
    cr_expect(fabs(mean[0] - f.joiners[5]) <= 5.0 * sqrt(f.joiners[5] / R), "%g", mean[0]);
    cr_expect(fabs(mean[1] - 3.0 * f.joiners[5]) <= 5.0 * sqrt(3.0 * f.joiners[5] / R), "%g",
              mean[1]);
    engine_free(e);
    free(j.n);
    free(sc->pop);
    free(sc);
}

/* Plans in each DfE age band (0-4, 5-10, 11-15, 16-19, 20-25) and in all, per replication, in
 * the last projected year. */
typedef struct band_totals {
    int      horizon;
    double  *t;                         /* [rep][6]: the five bands, then the total */
} band_totals;

static void sum_bands(void *ctx, const engine_view *v)
{
    static const int first[] = { 0, 5, 11, 16, 20, SIM_N_AGES };
    band_totals *b = ctx;
    double *t = b->t + v->rep * 6;

    if (v->h != b->horizon)
        return;
    for (int k = 0; k < 5; k++)
        for (size_t i = v->row_off[first[k] * SIM_N_NEEDS];
             i < v->row_off[first[k + 1] * SIM_N_NEEDS]; i++) {
            t[k] += v->x[i];
            t[5] += v->x[i];
        }
}

/* sd across replications of column k of the band totals of sc run under f. */
static void band_sds(const scenario *sc, const fit *f, size_t reps, int horizon, double sd[6])
{
    engine *e = NULL;
    band_totals b = { .horizon = horizon, .t = xcalloc(reps * 6, sizeof *b.t) };
    engine_sink sink = { .ctx = &b, .rep_year = sum_bands };
    engine_options opt = { .n_reps = reps, .seed = 21, .threads = 2, .horizon = horizon };
    sim_error err;

    cr_assert(eq(int, engine_prepare(sc, f, NULL, horizon, &e, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(int, engine_run(e, &opt, &sink, &err), SIM_OK), "%s", err.msg);
    for (int k = 0; k < 6; k++) {
        double s = 0.0, ss = 0.0;
        for (size_t r = 0; r < reps; r++) {
            s += b.t[r * 6 + (size_t)k];
            ss += b.t[r * 6 + (size_t)k] * b.t[r * 6 + (size_t)k];
        }
        sd[k] = sqrt(fmax(0.0, ss / (double)reps - (s / reps) * (s / reps)));
    }
    engine_free(e);
    free(b.t);
}

Test(engine, each_age_band_has_its_own_exit_draw_that_leaves_the_total_alone)
{
    enum { R = 2000, H = 3 };
    scenario *sc = make_scenario();
    double without[6], with[6];
    fit f;

    for (int a = 0; a < SIM_N_AGES; a++)        /* large counts: Poisson noise negligible */
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++)
                sc->caseload[a][n][s] *= 400;
    make_fit(&f);
    for (int a = 0; a < SIM_N_AGES; a++)
        f.joiners[a] *= 400.0;
    f.exit_sd = 0.03;
    f.exit_years = 6;
    band_sds(sc, &f, R, H, without);
    f.exit_band_sd = 0.09;
    band_sds(sc, &f, R, H, with);
    /* the parts widen every band a lot (the 16-19 band has some 25 plans an age), and the
     * total hardly: they sum to 0 over the plans (paired runs: the same common shifts) */
    for (int k = 1; k < 5; k++)
        cr_expect(gt(dbl, with[k], 1.5 * without[k]), "band %d: sd %g, without parts %g", k,
                  with[k], without[k]);
    cr_expect(lt(dbl, fabs(with[5] / without[5] - 1.0), 0.15), "total: sd %g, without %g",
              with[5], without[5]);
    free(sc);
}
