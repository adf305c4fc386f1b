/* test_allocate.c - placement against named provisions, shortfall, spend, waves and compare. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allocate.h"
#include "report_alloc.h"
#include "summary.h"
#include "test_helpers.h"
#include "xalloc.h"

#define HACKNEY "scenarios/hackney/scenario.ini"

/* ---- the tiny scenario, worked by hand ------------------------------------------------- */

static provision make_provision(const char *id, sim_group g, unsigned needs, int from, int to,
                                double places, double cost)
{
    provision p;

    memset(&p, 0, sizeof p);
    snprintf(p.id, sizeof p.id, "%s", id);
    snprintf(p.name, sizeof p.name, "%s", id);
    p.group = g;
    p.needs = needs;
    p.age_from = from;
    p.age_to = to;
    p.places = places;
    p.annual_cost = cost;
    return p;
}

/* Two provisions (RP_A: ASD, 4-10, 5 places; SS_B: any need, 4-18, 3 places, £25,000 a place)
 * and one wave (RP_A +4 from September 2026); costs RP £10,000, IS £50,000, inflation 3%. */
static scenario *tiny(void)
{
    scenario *sc = xcalloc(1, sizeof *sc);

    strcpy(sc->name, "tiny");
    sc->base_year = 2025;
    sc->horizon = 3;
    sc->replications = 1;
    sc->order[0] = GROUP_RP;
    sc->order[1] = GROUP_SS;
    sc->order[2] = GROUP_IS;
    sc->n_order = 3;
    sc->risk_target = 0.10;
    sc->inflation = 0.03;
    sc->damping = 0.9;
    sc->incidence_multiplier = 1.0;
    for (int s = 0; s < SIM_N_SETTINGS; s++)
        for (int p = 0; p < SIM_N_PHASES; p++)
            sc->cost[s][p] = -1.0;
    for (int p = 0; p < SIM_N_PHASES; p++) {
        sc->cost[SET_RP][p] = 10000.0;
        sc->cost[SET_IS][p] = 50000.0;
    }
    sc->n_provisions = 2;
    sc->provisions = xcalloc(2, sizeof *sc->provisions);
    sc->provisions[0] = make_provision("RP_A", GROUP_RP, 1u << NEED_ASD, 4, 10, 5, -1.0);
    sc->provisions[1] = make_provision("SS_B", GROUP_SS, (1u << SIM_N_NEEDS) - 1, 4, 18, 3,
                                       25000.0);
    sc->n_waves = 1;
    sc->waves = xcalloc(1, sizeof *sc->waves);
    strcpy(sc->waves[0].wave, "w1");
    sc->waves[0].provision = 0;
    sc->waves[0].places = 4;
    sc->waves[0].open_year = 2026;
    return sc;
}

static size_t cell(int a, int n) { return (size_t)(a * SIM_N_NEEDS + n); }

/* The state x, laid out as the allocator lays it out, and want. */
typedef struct state {
    const alloc *al;
    int32_t     *x, *want;
} state;

static state new_state(const alloc *al)
{
    state st = { al, NULL, NULL };

    st.x = xcalloc(alloc_cells(al), sizeof *st.x);
    st.want = xcalloc((size_t)SIM_N_AGES * SIM_N_NEEDS * SIM_N_SETTINGS, sizeof *st.want);
    return st;
}

/* The cell of slot `slot` in the row of (a, n), which must hold it. */
static int32_t *at(state *st, int a, int n, size_t slot)
{
    long i = alloc_cell(st->al, a, n, slot);

    cr_assert(ge(i64, i, 0), "row (%d, %d) does not hold slot %zu", a, n, slot);
    return st->x + i;
}
static int32_t *wants(state *st, int a, int n, sim_setting s)
{
    return st->want + cell(a, n) * SIM_N_SETTINGS + s;
}

/* Sum of a slot over every age and need. */
static int64_t slot_total(const state *st, size_t slot)
{
    int64_t t = 0;

    for (size_t c = 0; c < (size_t)SIM_N_AGES * SIM_N_NEEDS; c++) {
        long i = alloc_cell(st->al, (int)(c / SIM_N_NEEDS), (int)(c % SIM_N_NEEDS), slot);
        t += i >= 0 ? st->x[i] : 0;
    }
    return t;
}

/* The hand-worked year 2026 (h = 1: RP_A 5 places, SS_B 3): 2 continuing ASD pupils aged 6 in
 * RP_A; to place: 6 ASD aged 5 wanting RP, 1 SEMH aged 7 wanting RP, 2 ASD aged 12 wanting SS,
 * 4 MLD aged 9 wanting MS.
 *   age 5 ASD, RP: RP_A has 5 - 2 = 3 free -> 3; the other 3 overflow to SS_B (3 free) -> 3;
 *   age 7 SEMH, RP: RP_A does not admit SEMH, SS_B is full, IS has no provisions -> 1 out of
 *     borough, shortfall of RP (primary SEMH);
 *   age 9 MLD, MS: unconstrained -> the MS slot;
 *   age 12 ASD, SS: SS_B is full -> 2 out of borough, shortfall of SS (secondary ASD). */
static void tiny_year(const alloc *al, state *st)
{
    *at(st, 6, NEED_ASD, alloc_provision_slot(al, 0)) = 2;
    *wants(st, 5, NEED_ASD, SET_RP) = 6;
    *wants(st, 7, NEED_SEMH, SET_RP) = 1;
    *wants(st, 12, NEED_ASD, SET_SS) = 2;
    *wants(st, 9, NEED_MLD, SET_MS) = 4;
    alloc_place(al, 1, st->want, st->x);
}

/* The roll-ups of one replication whose only projected year (2026, h = 1) is `st`. */
static alloc_result *one_year_result(const alloc *al, const state *st)
{
    alloc_result *r = alloc_result_new(al, 1, 1, 1);
    engine_sink sink = alloc_sink(r, NULL);
    engine_view v;

    memset(&v, 0, sizeof v);
    v.year = 2026;
    v.h = 1;
    v.n_slots = alloc_slots(al);         /* the sink reads x through al's own layout */
    v.x = st->x;
    sink.rep_year(sink.ctx, &v);
    sink.year_done(sink.ctx, 1, 0, 1);
    return r;
}

Test(allocate, tiny_scenario_places_pupils_as_worked_by_hand)
{
    scenario *sc = tiny();
    alloc *al = NULL;
    state st;
    const size_t rp = SIM_N_SETTINGS, ss = SIM_N_SETTINGS + 1;

    cr_assert(eq(int, alloc_prepare(sc, 3, &al, NULL), SIM_OK));
    st = new_state(al);
    cr_expect(eq(int, (int)alloc_capacity(al, 0, 1), 5));
    cr_expect(eq(int, (int)alloc_capacity(al, 0, 2), 9));   /* wave of Sept 2026 from 2027 */
    cr_expect(eq(int, (int)alloc_capacity(al, 1, 3), 3));
    tiny_year(al, &st);
    cr_expect(eq(int, *at(&st, 5, NEED_ASD, rp), 3));
    cr_expect(eq(int, *at(&st, 5, NEED_ASD, ss), 3));
    cr_expect(eq(int, *at(&st, 6, NEED_ASD, rp), 2));
    cr_expect(eq(int, *at(&st, 9, NEED_MLD, SET_MS), 4));
    cr_expect(eq(i64, slot_total(&st, rp), 5));
    cr_expect(eq(i64, slot_total(&st, ss), 3));
    /* 2 constrained groups (RP, SS), two out-of-borough slots each, after the provisions */
    cr_expect(eq(sz, alloc_slots(al), SIM_N_SETTINGS + 2 + 4));
    /* a row holds the settings, RP_A (ASD aged 4-10), SS_B (any need aged 4-18) and one
     * out-of-borough slot per group (that of its stage): 7 rows of 15 cells (ASD 4-10),
     * 12 x 7 + 13 x 8 rows of 14 (the rest of 4-18), 13 x 11 rows of 13 (ages 0-3, 19-25) */
    cr_expect(eq(sz, alloc_cells(al), 7 * 15 + (12 * 7 + 13 * 8) * 14 + 13 * 11 * 13));
    cr_expect(eq(i64, alloc_cell(al, 7, NEED_ASD, rp) - alloc_cell(al, 7, NEED_ASD, SET_MS),
                 SIM_N_SETTINGS));
    cr_expect(eq(i64, alloc_cell(al, 7, NEED_SEMH, rp), -1));
    cr_expect(eq(i64, alloc_cell(al, 11, NEED_ASD, rp), -1));
    cr_expect(eq(i64, alloc_cell(al, 7, NEED_SEMH, ss) - alloc_cell(al, 7, NEED_SEMH, SET_MS),
                 SIM_N_SETTINGS));
    cr_expect(eq(i64, alloc_cell(al, 19, NEED_SEMH, ss), -1));
    cr_expect(eq(i64, alloc_cell(al, 19, NEED_SEMH, SIM_N_SETTINGS + 3)
                      - alloc_cell(al, 19, NEED_SEMH, SET_MS), SIM_N_SETTINGS));
    cr_expect(eq(int, *at(&st, 7, NEED_SEMH, SIM_N_SETTINGS + 2), 1));    /* RP, ages 0-15 */
    cr_expect(eq(int, *at(&st, 12, NEED_ASD, SIM_N_SETTINGS + 4), 2));    /* SS, ages 0-15 */
    free(st.x);
    free(st.want);
    alloc_free(al);
    scenario_free(sc);
}

Test(allocate, tiny_scenario_shortfall_demand_and_spend_match_hand_figures)
{
    scenario *sc = tiny();
    alloc *al = NULL;
    alloc_result *r;
    state st;
    const alloc_gpn_band *b;

    cr_assert(eq(int, alloc_prepare(sc, 1, &al, NULL), SIM_OK));
    st = new_state(al);
    tiny_year(al, &st);
    r = one_year_result(al, &st);

    b = alloc_get_gpn(r, 1, GROUP_RP, PHASE_PRI, NEED_SEMH);
    cr_expect(epsilon_eq(dbl, b->shortfall_mean, 1.0, 1e-12));
    cr_expect(epsilon_eq(dbl, b->p_shortfall, 1.0, 1e-12));
    cr_expect(epsilon_eq(dbl, b->capacity, 0.0, 1e-12));       /* RP_A takes no SEMH */
    b = alloc_get_gpn(r, 1, GROUP_RP, ALLOC_ALL_PHASE, ALLOC_ALL_NEED);
    cr_expect(epsilon_eq(dbl, b->demand_p50, 6.0, 1e-12));     /* 5 in RP_A + 1 away */
    cr_expect(epsilon_eq(dbl, b->shortfall_mean, 1.0, 1e-12));
    cr_expect(epsilon_eq(dbl, b->capacity, 5.0, 1e-12));
    b = alloc_get_gpn(r, 1, GROUP_SS, PHASE_SEC, NEED_ASD);
    cr_expect(epsilon_eq(dbl, b->shortfall_p50, 2.0, 1e-12));
    cr_expect(epsilon_eq(dbl, b->demand_p50, 2.0, 1e-12));
    b = alloc_get_gpn(r, 1, GROUP_SS, ALLOC_ALL_PHASE, ALLOC_ALL_NEED);
    cr_expect(epsilon_eq(dbl, b->demand_p50, 5.0, 1e-12));     /* 3 in SS_B + 2 away */
    cr_expect(eq(ptr, (void *)alloc_get_gpn(r, 1, GROUP_IS, ALLOC_ALL_PHASE, ALLOC_ALL_NEED),
                 NULL));
    cr_expect(epsilon_eq(dbl, alloc_get_prov(r, 1, 0)->occupancy_mean, 5.0, 1e-12));
    cr_expect(epsilon_eq(dbl, alloc_get_prov(r, 1, 0)->p_full, 1.0, 1e-12));
    /* spend in 2026 prices (x 1.03): RP 5 x 10,000; SS_B 3 x 25,000 (its own cost); 3 away x
     * 50,000; MS has no cost given, so none */
    cr_expect(epsilon_eq(dbl, alloc_get_cost(r, 1, SET_RP)->mean, 51500.0, 1e-6));
    cr_expect(epsilon_eq(dbl, alloc_get_cost(r, 1, SET_SS)->mean, 77250.0, 1e-6));
    cr_expect(epsilon_eq(dbl, alloc_get_cost(r, 1, SET_IS)->mean, 154500.0, 1e-6));
    cr_expect(epsilon_eq(dbl, alloc_get_cost(r, 1, SET_MS)->mean, 0.0, 1e-6));
    cr_expect(epsilon_eq(dbl, alloc_get_cost(r, 1, SIM_N_SETTINGS)->mean, 283250.0, 1e-6));
    /* out of borough: the 3 pupils no local place took, at the IS cost (a part of IS) */
    cr_expect(epsilon_eq(dbl, alloc_get_cost(r, 1, ALLOC_COST_OOB)->mean, 154500.0, 1e-6));
    cr_expect(eq(int, alloc_rep_shortfall(r, 1, 0), 3));
    cr_expect(eq(int, alloc_rep_oob(r, 1, 0), 3));
    alloc_result_free(r);
    free(st.x);
    free(st.want);
    alloc_free(al);
    scenario_free(sc);
}

Test(allocate, base_year_keeps_the_census_without_shortfall)
{
    scenario *sc = tiny();
    alloc *al = NULL;
    state st;

    cr_assert(eq(int, alloc_prepare(sc, 3, &al, NULL), SIM_OK));
    st = new_state(al);
    *wants(&st, 8, NEED_ASD, SET_RP) = 7;            /* 5 places: 2 stay outside them */
    alloc_place(al, 0, st.want, st.x);
    cr_expect(eq(int, *at(&st, 8, NEED_ASD, SIM_N_SETTINGS), 5));
    cr_expect(eq(int, *at(&st, 8, NEED_ASD, SET_RP), 2));
    for (size_t s = SIM_N_SETTINGS + 2; s < alloc_slots(al); s++)
        cr_expect(eq(i64, slot_total(&st, s), 0));
    free(st.x);
    free(st.want);
    alloc_free(al);
    scenario_free(sc);
}

/* SS_B serves ages 4-18 and RP_A 4-10: at 19 and over no SS provision operates and under 4 no
 * RP one, so those pupils are placed in the setting itself, without limit or shortfall; a
 * pupil out of borough who reaches such an age comes home to the setting slot. But RP_A
 * operates at 7 without admitting SEMH: that pupil is shortfall (tiny_year). */
Test(allocate, ages_no_provision_of_the_group_serves_are_placed_without_a_limit)
{
    scenario *sc = tiny();
    alloc *al = NULL;
    alloc_result *r;
    state st;
    char note[512];
    const size_t ss_away_16 = SIM_N_SETTINGS + 2 + 3;    /* SS, ages 16-25 */

    sc->caseload[21][NEED_ASD][SET_SS] = 4;             /* base-year pupils at a free age */
    sc->caseload[2][NEED_SLCN][SET_RP] = 1;
    cr_assert(eq(int, alloc_prepare(sc, 1, &al, NULL), SIM_OK));
    cr_expect(eq(int, alloc_constrains_age(al, GROUP_SS, 18), 1));
    cr_expect(eq(int, alloc_constrains_age(al, GROUP_SS, 19), 0));
    cr_expect(eq(int, alloc_constrains_age(al, GROUP_RP, 3), 0));
    cr_expect(eq(int, alloc_constrains_age(al, GROUP_MS, 8), 0));   /* no MS provisions */
    cr_expect(eq(long, alloc_free_ages_note(al, note, sizeof note), 5L));
    cr_expect(strstr(note, "RP ages 0-3, 11-25 (1 base-year pupil)") != NULL, "%s", note);
    cr_expect(strstr(note, "SS ages 0-3, 19-25 (4 base-year pupils)") != NULL, "%s", note);
    st = new_state(al);
    *wants(&st, 20, NEED_ASD, SET_SS) = 3;
    *wants(&st, 2, NEED_ASD, SET_RP) = 2;
    *at(&st, 19, NEED_MLD, ss_away_16) = 5;             /* aged into a free age while away */
    tiny_year(al, &st);
    cr_expect(eq(int, *at(&st, 20, NEED_ASD, SET_SS), 3));
    cr_expect(eq(int, *at(&st, 2, NEED_ASD, SET_RP), 2));
    cr_expect(eq(int, *at(&st, 19, NEED_MLD, SET_SS), 5));
    cr_expect(eq(int, *at(&st, 19, NEED_MLD, ss_away_16), 0));
    cr_expect(eq(int, *at(&st, 7, NEED_SEMH, SIM_N_SETTINGS + 2), 1));   /* still shortfall */
    r = one_year_result(al, &st);
    /* the group's rows count only the ages it limits: as in the hand-worked year */
    cr_expect(epsilon_eq(dbl, alloc_get_gpn(r, 1, GROUP_SS, ALLOC_ALL_PHASE,
                                            ALLOC_ALL_NEED)->demand_p50, 5.0, 1e-12));
    cr_expect(epsilon_eq(dbl, alloc_get_gpn(r, 1, GROUP_SS, PHASE_P19, ALLOC_ALL_NEED)
                                  ->shortfall_mean, 0.0, 1e-12));
    cr_expect(epsilon_eq(dbl, alloc_get_gpn(r, 1, GROUP_RP, ALLOC_ALL_PHASE,
                                            ALLOC_ALL_NEED)->demand_p50, 6.0, 1e-12));
    cr_expect(eq(int, alloc_rep_shortfall(r, 1, 0), 3));
    alloc_result_free(r);
    free(st.x);
    free(st.want);
    alloc_free(al);
    scenario_free(sc);
}

/* The base year's figures (h = 0) are the census placed as it stands: 7 ASD pupils aged 8 in
 * RP fill RP_A's 5 places and 2 stay outside them (no shortfall); spend 7 x £10,000. */
Test(allocate, base_year_figures_are_the_census_as_placed_in_every_replication)
{
    scenario *sc = tiny();
    alloc *al = NULL;
    alloc_result *r;
    const alloc_gpn_band *b;

    sc->caseload[8][NEED_ASD][SET_RP] = 7;
    sc->caseload[12][NEED_MLD][SET_IS] = 2;
    cr_assert(eq(int, alloc_prepare(sc, 2, &al, NULL), SIM_OK));
    r = alloc_result_new(al, 5, 2, 2);
    b = alloc_get_gpn(r, 0, GROUP_RP, ALLOC_ALL_PHASE, ALLOC_ALL_NEED);
    cr_expect(epsilon_eq(dbl, b->capacity, 5.0, 1e-12));
    cr_expect(epsilon_eq(dbl, b->demand_p025, 7.0, 1e-12));
    cr_expect(epsilon_eq(dbl, b->demand_p975, 7.0, 1e-12));
    cr_expect(epsilon_eq(dbl, b->shortfall_p90, 0.0, 1e-12));
    cr_expect(epsilon_eq(dbl, b->p_shortfall, 0.0, 1e-12));
    cr_expect(epsilon_eq(dbl, alloc_get_prov(r, 0, 0)->occupancy_p50, 5.0, 1e-12));
    cr_expect(epsilon_eq(dbl, alloc_get_cost(r, 0, SET_RP)->p50, 70000.0, 1e-6));
    /* IS has no provisions: its 2 pupils are out of borough, at £50,000 each, no inflation */
    cr_expect(epsilon_eq(dbl, alloc_get_cost(r, 0, ALLOC_COST_OOB)->mean, 100000.0, 1e-6));
    cr_expect(epsilon_eq(dbl, alloc_get_cost(r, 0, ALLOC_COST_ALL)->p975, 170000.0, 1e-6));
    alloc_result_free(r);
    alloc_free(al);
    scenario_free(sc);
}

Test(allocate, scenario_without_provisions_is_refused)
{
    scenario *sc = tiny();
    alloc *al = NULL;
    sim_error err = { 0 };

    sc->n_provisions = 0;
    cr_expect(eq(int, alloc_prepare(sc, 3, &al, &err), SIM_EDATA));
    cr_expect(eq(ptr, al, NULL));
    cr_expect(strstr(err.msg, "no provisions") != NULL);
    scenario_free(sc);
}

Test(allocate, too_many_provisions_or_no_horizon_are_refused)
{
    scenario *sc = tiny();
    alloc *al = NULL;
    sim_error err = { 0 };

    cr_expect(eq(int, alloc_prepare(sc, 0, &al, &err), SIM_EUSAGE));
    cr_expect(strstr(err.msg, "horizon 0") != NULL);
    free(sc->provisions);
    sc->n_provisions = 4097;
    sc->provisions = xcalloc(sc->n_provisions, sizeof *sc->provisions);
    cr_expect(eq(int, alloc_prepare(sc, 3, &al, &err), SIM_EDATA));
    cr_expect(strstr(err.msg, "4097 provisions") != NULL);
    cr_expect(eq(ptr, al, NULL));
    scenario_free(sc);
}

/* ---- Hackney, many replications -------------------------------------------------------- */

static scenario *load(const char *path)
{
    sim_diag *d = xcalloc(1, sizeof *d);
    scenario *sc = NULL;

    cr_assert(eq(int, scenario_load(path, &sc, d), SIM_OK), "%s: %s", path,
              d->n ? d->items[0].msg : "");
    free(d);
    return sc;
}

static void fit_of(const scenario *sc, fit *f)
{
    sim_error err = { 0 };

    cr_assert(eq(int, fit_scenario(sc, f, &err), SIM_OK), "%s", err.msg);
}

/* A sink that checks every provision's occupancy against its capacity, and that pupils in the
 * RP and SS setting slots at ages the group limits (the base year's pupils outside named
 * places) never grow. */
typedef struct checker {
    const alloc *al;
    size_t       n_reps, n_prov;
    int         *over;                   /* [n_reps] violations */
    int64_t     *legacy;                 /* [n_reps] last year's RP + SS setting pupils */
    int         *legacy_grew;            /* [n_reps] */
    int64_t     *placed;                 /* [n_reps] pupils in provisions, summed over years */
} checker;

static void check_rep_year(void *ctx, const engine_view *v)
{
    checker *c = ctx;
    int64_t legacy = 0;

    for (size_t p = 0; p < c->n_prov; p++) {       /* the out-of-borough slots come after */
        int64_t occ = 0;
        size_t s = alloc_provision_slot(c->al, p);
        for (size_t k = 0; k < (size_t)SIM_N_AGES * SIM_N_NEEDS; k++) {
            long i = alloc_cell(c->al, (int)(k / SIM_N_NEEDS), (int)(k % SIM_N_NEEDS), s);
            occ += i >= 0 ? v->x[i] : 0;
        }
        if (occ > alloc_capacity(c->al, p, v->h))
            c->over[v->rep]++;
        c->placed[v->rep] += occ;
    }
    for (size_t k = 0; k < (size_t)SIM_N_AGES * SIM_N_NEEDS; k++) {
        const int a = (int)(k / SIM_N_NEEDS), n = (int)(k % SIM_N_NEEDS);
        legacy += alloc_constrains_age(c->al, GROUP_RP, a)
                  ? v->x[alloc_cell(c->al, a, n, SET_RP)] : 0;
        legacy += alloc_constrains_age(c->al, GROUP_SS, a)
                  ? v->x[alloc_cell(c->al, a, n, SET_SS)] : 0;
        for (size_t i = v->row_off[k]; i < v->row_off[k + 1]; i++)   /* the engine's layout
                                                                        is the placer's */
            if (alloc_cell(c->al, a, n, v->slot_at[i]) != (long)i)
                c->over[v->rep]++;
    }
    if (v->h > 1 && legacy > c->legacy[v->rep])
        c->legacy_grew[v->rep]++;
    c->legacy[v->rep] = legacy;
}

/* Run Hackney (or `sc`) with the placer and the checker for n_reps replications. */
static void run_checked(const scenario *sc, const fit *f, size_t n_reps, checker *c)
{
    alloc *al = NULL;
    engine *e = NULL;
    engine_placer pl;
    engine_sink sink = { c, check_rep_year, NULL };
    engine_options o = { .n_reps = n_reps, .seed = 20251122UL, .threads = 2,
                         .horizon = sc->horizon };
    sim_error err = { 0 };

    cr_assert(eq(int, alloc_prepare(sc, sc->horizon, &al, &err), SIM_OK), "%s", err.msg);
    pl = alloc_placer(al);
    cr_assert(eq(int, engine_prepare(sc, f, &pl, sc->horizon, &e, &err), SIM_OK), "%s",
              err.msg);
    c->al = al;
    c->n_reps = n_reps;
    c->n_prov = sc->n_provisions;
    c->over = xcalloc(n_reps, sizeof *c->over);
    c->legacy = xcalloc(n_reps, sizeof *c->legacy);
    c->legacy_grew = xcalloc(n_reps, sizeof *c->legacy_grew);
    c->placed = xcalloc(n_reps, sizeof *c->placed);
    cr_assert(eq(int, engine_run(e, &o, &sink, &err), SIM_OK), "%s", err.msg);
    engine_free(e);
    c->al = NULL;
    alloc_free(al);
}

static void checker_free(checker *c)
{
    free(c->over);
    free(c->legacy);
    free(c->legacy_grew);
    free(c->placed);
}

/* Run `sc` checked for `reps` replications over `horizon` years: the violations found
 * (occupancy above capacity, layouts out of step) and the pupils placed, over all of them. */
static void checked_totals(scenario *sc, int horizon, size_t reps, int *over, int64_t *placed)
{
    fit f;
    checker c = { 0 };

    fit_of(sc, &f);
    sc->horizon = horizon;
    run_checked(sc, &f, reps, &c);
    *over = 0;
    *placed = 0;
    for (size_t i = 0; i < reps; i++) {
        *over += c.over[i];
        *placed += c.placed[i];
    }
    checker_free(&c);
}

Test(allocate, occupancy_never_exceeds_capacity_in_any_provision_year_or_replication)
{
    scenario *sc = load(HACKNEY);
    int over;
    int64_t placed;

    checked_totals(sc, 15, 400, &over, &placed);
    cr_expect(eq(int, over, 0));
    cr_expect(gt(i64, placed, 0));
    scenario_free(sc);
}

/* Seventy extra two-place special schools for every need aged 4-18 make rows wider than the
 * 64 cells a mask covers and more provisions than a free-place set holds: the engine's and
 * the placer's wide paths must keep occupancy within capacity and the layouts in step. */
Test(allocate, rows_wider_than_a_mask_keep_occupancy_within_capacity)
{
    enum { EXTRA = 70 };
    scenario *sc = load(HACKNEY);
    const size_t n0 = sc->n_provisions;
    alloc *al = NULL;
    int over;
    int64_t placed;

    sc->provisions = xrealloc(sc->provisions, (n0 + EXTRA) * sizeof *sc->provisions);
    for (size_t i = 0; i < EXTRA; i++) {
        char id[16];
        snprintf(id, sizeof id, "SS_X%02zu", i);
        sc->provisions[n0 + i] = make_provision(id, GROUP_SS, (1u << SIM_N_NEEDS) - 1, 4, 18,
                                                2, -1.0);
    }
    sc->n_provisions = n0 + EXTRA;
    cr_assert(eq(int, alloc_prepare(sc, 8, &al, NULL), SIM_OK));
    cr_expect(ge(i64, alloc_cell(al, 10, NEED_ASD, alloc_provision_slot(al, n0 + EXTRA - 1))
                      - alloc_cell(al, 10, NEED_ASD, SET_MS), 64 + SIM_N_SETTINGS));
    alloc_free(al);
    checked_totals(sc, 8, 100, &over, &placed);
    cr_expect(eq(int, over, 0), "occupancy above capacity, or the layouts differ");
    cr_expect(gt(i64, placed, 100 * 8 * EXTRA), "the extra schools were hardly used");
    scenario_free(sc);
}

Test(allocate, without_capacity_every_specialist_place_is_out_of_borough)
{
    scenario *sc = load(HACKNEY);
    fit f;
    checker c = { 0 };
    alloc_result *r = NULL;
    alloc_run_options o = { 200, 2, 7, 10 };
    int64_t placed = 0;
    int grew = 0;

    fit_of(sc, &f);
    sc->horizon = 10;
    for (size_t p = 0; p < sc->n_provisions; p++)
        sc->provisions[p].places = 0;
    for (size_t w = 0; w < sc->n_waves; w++)
        sc->waves[w].places = 0;
    run_checked(sc, &f, 200, &c);
    for (size_t i = 0; i < 200; i++) {
        placed += c.placed[i];
        grew += c.legacy_grew[i];
    }
    cr_expect(eq(i64, placed, 0));       /* nobody in a named place */
    cr_expect(eq(int, grew, 0));         /* nobody new in an RP or SS place outside them */
    checker_free(&c);
    /* so every RP and SS pupil placed after the base year is shortfall */
    cr_assert(eq(int, alloc_simulate(sc, &f, &o, NULL, &r, NULL), SIM_OK));
    for (int h = 1; h <= 10; h++)
        for (int g = GROUP_RP; g <= GROUP_IS; g++) {
            const alloc_gpn_band *b = alloc_get_gpn(r, h, (sim_group)g, ALLOC_ALL_PHASE,
                                                    ALLOC_ALL_NEED);
            cr_expect(epsilon_eq(dbl, b->capacity, 0.0, 1e-12));
            if (h == 10 && g != GROUP_IS)
                cr_expect(gt(dbl, b->shortfall_mean, 0.0));
        }
    alloc_result_free(r);
    scenario_free(sc);
}

/* Mean total shortfall by year of a run. */
static void mean_by_year(const alloc_result *r, double *m)
{
    for (int h = 1; h <= alloc_result_horizon(r); h++) {
        double s = 0.0;
        for (size_t i = 0; i < alloc_result_reps(r); i++)
            s += alloc_rep_shortfall(r, h, i);
        m[h] = s / (double)alloc_result_reps(r);
    }
}

/* Hackney run with its waves (*with) and without the pledge_2026 wave (*without), 300
 * replications over 10 years on the same seed. */
static void with_and_without_pledge(alloc_result **with, alloc_result **without)
{
    scenario *sc = load(HACKNEY);
    wave *orig;
    fit f;
    alloc_run_options o = { 300, 2, 11, 10 };

    fit_of(sc, &f);
    cr_assert(eq(int, alloc_simulate(sc, &f, &o, NULL, with, NULL), SIM_OK));
    orig = sc->waves;
    sc->waves = xcalloc(sc->n_waves, sizeof *sc->waves);
    memcpy(sc->waves, orig, sc->n_waves * sizeof *orig);
    for (size_t w = 0; w < sc->n_waves; w++)
        if (strcmp(sc->waves[w].wave, "pledge_2026") == 0)
            sc->waves[w].places = 0;
    cr_assert(eq(int, alloc_simulate(sc, &f, &o, NULL, without, NULL), SIM_OK));
    free(orig);
    scenario_free(sc);
}

Test(allocate, adding_a_wave_never_raises_the_mean_shortfall_on_common_random_numbers)
{
    alloc_result *with = NULL, *without = NULL;
    double m_with[11], m_without[11];

    with_and_without_pledge(&with, &without);
    mean_by_year(with, m_with);
    mean_by_year(without, m_without);
    for (int h = 1; h <= 10; h++)
        cr_expect(le(dbl, m_with[h], m_without[h]), "year %d: %g with, %g without",
                  2025 + h, m_with[h], m_without[h]);
    cr_expect(eq(dbl, m_with[1], m_without[1]));      /* the wave opens Sept 2026: same 2026 */
    cr_expect(lt(dbl, m_with[10], m_without[10] - 10.0));
    alloc_result_free(with);
    alloc_result_free(without);
}

/* Every age of every year draws from its own substream, so the runs with and without a wave
 * stay paired replication by replication: identical until the wave opens, never worse in the
 * year it opens (the same pupils meet more places), and only rarely worse later (where the
 * wave's pupils, ageing on, change a later year's draws at their ages). */
Test(allocate, common_random_numbers_keep_replications_paired)
{
    enum { R = 300, H = 10 };
    alloc_result *with = NULL, *without = NULL;
    int worse_first = 0, worse_later = 0, differ_before = 0;

    with_and_without_pledge(&with, &without);
    for (size_t i = 0; i < R; i++) {
        differ_before += alloc_rep_shortfall(with, 1, i) != alloc_rep_shortfall(without, 1, i);
        worse_first += alloc_rep_shortfall(with, 2, i) > alloc_rep_shortfall(without, 2, i);
        for (int h = 3; h <= H; h++)
            worse_later += alloc_rep_shortfall(with, h, i) > alloc_rep_shortfall(without, h, i);
    }
    cr_expect(eq(int, differ_before, 0), "2026, before the wave opens, differs");
    cr_expect(eq(int, worse_first, 0), "the wave's first year is worse in %d runs", worse_first);
    /* one stream per replication, which drifts apart at the first difference: 742 of 2,400;
     * a substream per age and year: 170 */
    cr_expect(lt(int, worse_later, R * (H - 2) / 10), "later years worse with the wave in %d "
              "of %d replication-years", worse_later, R * (H - 2));
    alloc_result_free(with);
    alloc_result_free(without);
}

Test(allocate, results_do_not_depend_on_the_number_of_threads)
{
    scenario *sc = load(HACKNEY);
    fit f;
    alloc_result *r1 = NULL, *r2 = NULL;
    alloc_run_options o1 = { 150, 1, 5, 6 }, o2 = { 150, 2, 5, 6 };

    fit_of(sc, &f);
    cr_assert(eq(int, alloc_simulate(sc, &f, &o1, NULL, &r1, NULL), SIM_OK));
    cr_assert(eq(int, alloc_simulate(sc, &f, &o2, NULL, &r2, NULL), SIM_OK));
    for (int h = 1; h <= 6; h++) {
        const alloc_gpn_band *a = alloc_get_gpn(r1, h, GROUP_SS, PHASE_SEC, NEED_ASD);
        const alloc_gpn_band *b = alloc_get_gpn(r2, h, GROUP_SS, PHASE_SEC, NEED_ASD);
        cr_expect(eq(dbl, a->shortfall_mean, b->shortfall_mean));
        cr_expect(eq(dbl, a->places_for_target, b->places_for_target));
        cr_expect(eq(dbl, alloc_get_cost(r1, h, SIM_N_SETTINGS)->p50,
                     alloc_get_cost(r2, h, SIM_N_SETTINGS)->p50));
    }
    alloc_result_free(r1);
    alloc_result_free(r2);
    scenario_free(sc);
}

Test(allocate, compare_of_a_scenario_with_itself_gives_zero_differences)
{
    scenario *sc = load(HACKNEY);
    fit f;
    alloc_result *a = NULL, *b = NULL;
    alloc_run_options o = { 100, 2, 3, 5 };
    alloc_compare_row rows[15];
    size_t n;

    fit_of(sc, &f);
    cr_assert(eq(int, alloc_simulate(sc, &f, &o, NULL, &a, NULL), SIM_OK));
    cr_assert(eq(int, alloc_simulate(sc, &f, &o, NULL, &b, NULL), SIM_OK));
    n = alloc_compare(a, b, rows);
    cr_assert(eq(sz, n, 15));
    for (size_t i = 0; i < n; i++) {
        cr_expect(eq(dbl, rows[i].diff_mean, 0.0));
        cr_expect(eq(dbl, rows[i].diff_p05, 0.0));
        cr_expect(eq(dbl, rows[i].diff_p95, 0.0));
        cr_expect(eq(dbl, rows[i].a_mean, rows[i].b_mean));
    }
    cr_expect(gt(dbl, rows[3 * 4 + 2].a_mean, 1e6));    /* spend in pounds, 2030 */
    alloc_result_free(a);
    alloc_result_free(b);
    scenario_free(sc);
}

/* ---- the binary, end to end --------------------------------------------------------------- */

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];

    snprintf(cmd, sizeof cmd, fmt, th_bin(), a, b);
    return th_system(cmd);
}

static int starts_with(const char *dir, const char *file, const char *head)
{
    char path[512];
    char *text;
    int ok;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    text = th_slurp(path, NULL);
    ok = text && strncmp(text, head, strlen(head)) == 0;
    free(text);
    return ok;
}

Test(allocate, run_on_hackney_writes_the_allocation_outputs)
{
    char dir[] = "/tmp/sendsim-alloc-XXXXXX", path[512];
    char *text;

    cr_assert(mkdtemp(dir) != NULL);
    cr_assert(eq(int, sh("%s run %s --reps 60 --horizon 6 --seed 4 --out %s --no-charts "
                         "--quiet", HACKNEY, dir), 0));
    cr_expect(starts_with(dir, "shortfall.csv", "year,group,phase,need,capacity,demand_p50,"
                          "demand_p90,shortfall_mean,shortfall_p50,shortfall_p90,p_shortfall,"
                          "places_for_target,demand_p025,demand_p10,demand_p975\n2025,RP,ALL,ALL,"));
    cr_expect(starts_with(dir, "provision.csv", "year,provision_id,places,occupancy_mean,"
                          "occupancy_p50,occupancy_p90,p_full\n2025,SS_ICKBURGH,140,"));
    cr_expect(starts_with(dir, "cost.csv", "year,setting,mean,p025,p10,p50,p90,p975\n2025,ALL,"));
    cr_expect(starts_with(dir, "waves.csv", "wave,open_year,places,shortfall_reduction_mean,"
                          "latest_safe_open_year,group,earliest_risk,earliest_risk_year\n"
                          "cabinet_2023_arps,2025,93,"));
    snprintf(path, sizeof path, "%s/run.txt", dir);
    text = th_slurp(path, NULL);
    cr_expect(text && strstr(text, "waves.csv from re-runs of 60 replications") != NULL);
    /* Hackney's special schools serve ages 2-19: the 16 pupils aged 20-22 in 2025 are told */
    cr_expect(text && strstr(text, "SS ages 0-1, 20-25 (16 base-year pupils)") != NULL);
    free(text);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(path), 0));
}

Test(allocate, compare_binary_of_a_scenario_with_itself_writes_zero_differences)
{
    char dir[] = "/tmp/sendsim-cmp-XXXXXX", path[512];
    char *text, *line;
    int rows = 0;

    cr_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s --reps 40 --seed 9 --out %s --no-charts --quiet", HACKNEY,
             dir);
    cr_assert(eq(int, sh("%s compare %s %s", HACKNEY, path), 0));
    snprintf(path, sizeof path, "%s/compare.csv", dir);
    text = th_slurp(path, NULL);
    cr_assert(text != NULL);
    cr_expect(starts_with(dir, "compare.csv",
                          "year,measure,a_mean,b_mean,diff_mean,diff_p05,diff_p95\n"));
    for (line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char measure[32];
        int year;
        double a, b, d, lo, hi;
        cr_assert(eq(int, sscanf(line + 1, "%d,%31[^,],%lf,%lf,%lf,%lf,%lf", &year, measure, &a,
                                 &b, &d, &lo, &hi), 7));
        cr_expect(eq(dbl, d, 0.0));
        cr_expect(eq(dbl, lo, 0.0));
        cr_expect(eq(dbl, hi, 0.0));
        rows++;
    }
    cr_expect(eq(int, rows, 3 * 15));
    free(text);
    cr_expect(eq(int, sh("%s compare %s%s >/dev/null 2>&1", HACKNEY, ""), 64));
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(path), 0));
}

Test(allocate, run_exits_74_when_a_chart_cannot_be_written)
{
    char dir[] = "/tmp/sendsim-alloc-XXXXXX", path[512];

    cr_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/fan_total.png", dir);
    cr_assert(eq(int, mkdir(path, 0777), 0));     /* a directory where a chart must go */
    cr_expect(eq(int, sh("%s run %s --reps 20 --horizon 3 --out %s --quiet 2>/dev/null",
                         HACKNEY, dir), 74));
    snprintf(path, sizeof path, "%s/cost.png", dir);
    cr_expect(ne(int, access(path, F_OK), 0));     /* no chart left behind */
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(path), 0));
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The spend bands (radix-sorted inside) equal type-7 quantiles of the replications' spend
 * sorted here with qsort(). */
Test(allocate, spend_bands_are_the_exact_quantiles_of_the_replications)
{
    scenario *sc = load(HACKNEY);
    fit f;
    alloc_result *r = NULL;
    alloc_run_options o = { 301, 2, 5, 4 };
    double x[301];

    fit_of(sc, &f);
    cr_assert(eq(int, alloc_simulate(sc, &f, &o, NULL, &r, NULL), SIM_OK));
    for (int h = 1; h <= 4; h++) {
        const alloc_cost_band *b = alloc_get_cost(r, h, ALLOC_COST_ALL);
        double sum = 0.0;
        for (size_t i = 0; i < 301; i++)
            sum += x[i] = alloc_rep_spend(r, h, i);
        qsort(x, 301, sizeof *x, cmp_dbl);
        cr_expect(gt(dbl, x[300], x[0]), "spend does not vary");
        cr_expect(eq(dbl, b->p025, summary_quantile_sorted(x, 301, 0.025)));
        cr_expect(eq(dbl, b->p10, summary_quantile_sorted(x, 301, 0.10)));
        cr_expect(eq(dbl, b->p50, summary_quantile_sorted(x, 301, 0.50)));
        cr_expect(eq(dbl, b->p90, summary_quantile_sorted(x, 301, 0.90)));
        cr_expect(eq(dbl, b->p975, summary_quantile_sorted(x, 301, 0.975)));
        cr_expect(epsilon_eq(dbl, b->mean, sum / 301.0, 1e-9 * sum / 301.0));
    }
    alloc_result_free(r);
    scenario_free(sc);
}
