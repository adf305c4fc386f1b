/* allocate.h - place projected pupils in named provisions and roll up shortfall, occupancy
 * and spend (DESIGN.md "Model" step 6, issue 5).
 *
 * Slots. The allocation stage appends to the engine's setting slots (engine.h) one slot per
 * provision of the scenario, in file order (setting: RP->RP, SS->SS, IS->IS, MS->MS, P16->FE,
 * AP->AP; ages age_from..age_to), then, for each *constrained* group (a group with at least one
 * provision), two "out of borough" slots counted as setting IS for ages 0-15 and 16-25: a
 * pupil placed there is offered, each year before anyone else (youngest first), any free
 * place it would take (its group's provisions, then the overflow order), and at 16 is placed
 * afresh like every post-16 pupil.
 * Groups without provisions are unconstrained: their pupils go to the setting slot.
 *
 * Ages a group constrains. A group limits places only at the ages at which at least one of its
 * provisions operates (age_from..age_to, whatever its needs). At any other age (Hackney: no
 * special school admits ages 20-25) nobody could be placed locally by any choice of places,
 * so the group's pupils of that age are placed like MS pupils: in the setting slot itself,
 * without limit, and are no shortfall; a pupil reaching such an age in an out-of-borough slot
 * moves to the setting slot. Where some provision of the group admits the age but none admits
 * the need, the pupils overflow and are shortfall as usual: a missing type of provision is
 * what planners must see. alloc_free_ages_note() says which ages and how many base-year pupils
 * this concerns.
 *
 * Capacity of provision p in January Y is floor(scenario_capacity(sc, p, Y)) (a wave opening
 * in September Y - 1 counts from January Y).
 *
 * Placement (a replication-year, after the engine's preference draws; no random numbers):
 * continuing pupils keep their slot (the engine's rule). Every pupil to place, taken by age
 * (youngest first), then need, then wanted setting (codes' order), wanting setting s of group
 * g: if g is unconstrained, the setting slot s; else the provisions of g that admit the
 * pupil's need and age, in file order, each up to its free places (capacity minus occupancy),
 * then those of the groups after g in [allocation] order (only constrained ones; a group not in
 * the order has no overflow), and what is left goes to g's out-of-borough slot: that is the
 * *shortfall* of g. In the base year the census is taken as it stands: pupils of a
 * constrained group fill its provisions the same way, but without overflow, and the rest stay
 * in their setting slot (places outside the named provisions), which is no shortfall.
 *
 * Roll-ups per replication-year (stocks in January), over the ages g constrains only:
 *   shortfall(g, phase, need)  pupils in g's out-of-borough slots (after the year's
 *                              placement: pupils for whom no local place is free);
 *   demand(g, phase, need)     pupils in g's provisions, in the setting slots of g's settings
 *                              and in g's out-of-borough slots (pupils wanting g's places);
 *   occupancy(p)               pupils in provision p;
 *   out_of_borough             pupils in every slot counted as IS but the IS provisions (the
 *                              out-of-borough slots, and IS pupils no named IS provision holds);
 *   spend(setting)             pupils x unit cost (provision annual_cost, else costs.csv by
 *                              setting and phase, else 0) x (1 + inflation)^(year - base year);
 *   spend(ALLOC_COST_OOB)      the spend on the out_of_borough pupils (a part of IS's spend).
 * The base year (h = 0) has the same figures, from the census placed as it stands (identical
 * in every replication: every quantile equal, no shortfall).
 * capacity(g, phase, need) is the places of g's provisions that admit some age of the phase
 * and that need (ALL need: any need), so rows of one group do not add up.
 *
 * Ownership: alloc_prepare() returns an alloc freed with alloc_free(); it borrows `sc`.
 * alloc_result_new() returns results freed with alloc_result_free(). Nothing here prints. */
#ifndef SENDSIM_ALLOCATE_H
#define SENDSIM_ALLOCATE_H

#include <stddef.h>
#include <stdint.h>

#include "codes.h"
#include "engine.h"
#include "fit.h"
#include "scenario.h"
#include "status.h"

enum {
    ALLOC_ALL_PHASE = SIM_N_PHASES,
    ALLOC_ALL_NEED = SIM_N_NEEDS,
    ALLOC_N_GPN_PHASE = SIM_N_PHASES + 1,
    ALLOC_N_GPN_NEED = SIM_N_NEEDS + 1,
    ALLOC_N_STAGES = 2,
    ALLOC_COST_ALL = SIM_N_SETTINGS,
    ALLOC_COST_OOB = SIM_N_SETTINGS + 1,
    ALLOC_N_COST = SIM_N_SETTINGS + 2            /* settings, then ALL, then OOB */
};

typedef struct alloc alloc;
typedef struct alloc_result alloc_result;

/* A shortfall.csv row's figures (one year, group, phase, need). */
typedef struct alloc_gpn_band {
    double capacity;
    double demand_mean, demand_p025, demand_p10, demand_p50, demand_p90, demand_p975;
    double shortfall_mean, shortfall_p50, shortfall_p90;
    double p_shortfall;                  /* share of replications with shortfall > 0 */
    double places_for_target;            /* the (1 - risk_target) quantile of shortfall */
} alloc_gpn_band;

/* A provision.csv row's figures. */
typedef struct alloc_prov_band {
    double places, occupancy_mean, occupancy_p50, occupancy_p90;
    double p_full;                       /* share of replications with occupancy >= places */
} alloc_prov_band;

/* A cost.csv row's figures (pounds). */
typedef struct alloc_cost_band {
    double mean, p025, p10, p50, p90, p975;
} alloc_cost_band;

/* Check the scenario's provisions and precompute slots, admission lists, capacities by year
 * for base_year .. base_year + horizon and unit costs. Returns SIM_OK and *out, or SIM_EDATA
 * (with `err`) when the scenario has no provisions or too many for the engine. */
sim_status alloc_prepare(const scenario *sc, int horizon, alloc **out, sim_error *err);

/* Release `al`. NULL is a no-op. */
void alloc_free(alloc *al);

/* The placer to hand to engine_prepare(); borrows `al`, which must outlive the engine. */
engine_placer alloc_placer(const alloc *al);

/* Number of slots (settings, provisions, out-of-borough slots) and the slot of provision p. */
size_t alloc_slots(const alloc *al);
size_t alloc_provision_slot(const alloc *al, size_t p);

/* The state's layout (engine.h, engine_layout) for these slots: cells of a replication's
 * state, and the cell of `slot` in the row of age a and need n, or -1 when that row cannot
 * hold it. */
size_t alloc_cells(const alloc *al);
long alloc_cell(const alloc *al, int a, int n, size_t slot);

/* Capacity of provision p in January base_year + h (0 <= h <= horizon). */
int32_t alloc_capacity(const alloc *al, size_t p, int h);

/* 1 if group g has provisions (so places in it are limited). */
int alloc_constrained(const alloc *al, sim_group g);

/* 1 if group g limits places at age a: some provision of g operates at that age. */
int alloc_constrains_age(const alloc *al, sim_group g, int a);

/* One line (ending in '\n') for run.txt into buf[n]: for each constrained group with ages it
 * does not constrain, those ages and the base-year pupils of its settings at them (placed
 * without a limit, no shortfall); "" when there are none. Returns the base-year pupils in all. */
long alloc_free_ages_note(const alloc *al, char *buf, size_t n);

/* Place the pupils of want[] (layout of engine_placer.place) into x (alloc_cells() cells laid
 * out as alloc_cell() says) for year base_year + h, exactly as the placer does (exposed for
 * tests). */
void alloc_place(const alloc *al, int h, int32_t *want, int32_t *x);

/* Results for `n_reps` replications over years base_year+1 .. base_year+horizon, whose
 * year_done() is called by up to `n_workers` workers; the base year's figures (h = 0) are
 * filled in at once from the census. */
alloc_result *alloc_result_new(const alloc *al, size_t n_reps, int horizon, size_t n_workers);

/* Release `r`. NULL is a no-op. */
void alloc_result_free(alloc_result *r);

/* Bytes alloc_result_new() allocates. */
size_t alloc_result_bytes(const alloc *al, size_t n_reps, int horizon, size_t n_workers);

/* The sink to hand to engine_run(): rolls up every replication-year into `r`, and passes
 * every call on to `next` too (may be NULL; e.g. summary_sink()), so one run feeds both;
 * `next` sees the state collapsed to the SIM_N_SETTINGS setting slots (each provision and
 * out-of-borough slot added to its setting), all a demand roll-up needs. `r` must have been
 * made for at least as many workers as the run has threads. `r` and `next` are borrowed and
 * must outlive the run. */
engine_sink alloc_sink(alloc_result *r, const engine_sink *next);

/* Figures for year base_year + h (0 <= h <= horizon; 0: the census as placed): group g
 * (constrained; NULL otherwise), phase index (ALLOC_ALL_PHASE for ALL), need index
 * (ALLOC_ALL_NEED for ALL). */
const alloc_gpn_band *alloc_get_gpn(const alloc_result *r, int h, sim_group g, int phase,
                                    int need);
const alloc_prov_band *alloc_get_prov(const alloc_result *r, int h, size_t p);
/* setting index, or ALLOC_COST_ALL (every setting), ALLOC_COST_OOB (out of borough) */
const alloc_cost_band *alloc_get_cost(const alloc_result *r, int h, int setting);

/* Per-replication series kept for comparisons: total shortfall (every group), out-of-borough
 * pupils and total spend of replication `rep` in year base_year + h. */
int32_t alloc_rep_shortfall(const alloc_result *r, int h, size_t rep);
int32_t alloc_rep_oob(const alloc_result *r, int h, size_t rep);
double alloc_rep_spend(const alloc_result *r, int h, size_t rep);
size_t alloc_result_reps(const alloc_result *r);
int alloc_result_horizon(const alloc_result *r);

/* ---- whole runs ------------------------------------------------------------------------ */

typedef struct alloc_run_options {
    size_t        n_reps, threads;
    unsigned long seed;
    int           horizon;
} alloc_run_options;

/* Prepare an allocator and an engine for `sc` with fit `f` and run it, rolling up into a new
 * *out (freed with alloc_result_free(); its alloc is kept inside it and freed with it).
 * `next` (may be NULL) is fed too. Returns SIM_OK or the failing stage's status. */
sim_status alloc_simulate(const scenario *sc, const fit *f, const alloc_run_options *o,
                          const engine_sink *next, alloc_result **out, sim_error *err);

/* One waves.csv row: the rows of waves.csv sharing a wave name and a group. */
typedef struct alloc_wave_row {
    char      wave[64];
    sim_group group;
    int       open_year;                 /* earliest open_year of its rows */
    double    places;                    /* sum of its rows' places */
    double    reduction;                 /* mean over replications and projected years of the
                                            total shortfall without it minus with it */
    int       latest_safe;               /* latest September it can open with P(shortfall of
                                            its group) <= risk_target in every projected year;
                                            0 when no year does */
    double    earliest_risk;             /* with the wave opening in September of the base
                                            year: the highest P(shortfall of its group, all
                                            phases and needs) over the projected years */
    int       earliest_risk_year;        /* the (first) year of that highest risk */
} alloc_wave_row;

/* Evaluate every wave (name, group) of `sc` with runs of o->n_reps replications on common
 * seeds: the scenario as given, without the wave, and with the wave moved (binary search of
 * the opening year over base_year .. base_year + horizon - 1, assuming a later opening never
 * lowers the risk). Returns SIM_OK and *rows (caller frees with free()) and *n. */
sim_status alloc_waves(const scenario *sc, const fit *f, const alloc_run_options *o,
                       alloc_wave_row **rows, size_t *n, sim_error *err);

/* One compare.csv row. */
typedef struct alloc_compare_row {
    int    year;
    int    measure;                      /* 0 shortfall, 1 out_of_borough, 2 spend */
    double a_mean, b_mean, diff_mean, diff_p05, diff_p95;
} alloc_compare_row;

/* The compare.csv rows of two runs with the same replications and horizon (differences
 * B - A per replication, then their mean and type-7 5% and 95% quantiles). Returns the number
 * of rows written to rows[] (which holds 3 * horizon). */
size_t alloc_compare(const alloc_result *a, const alloc_result *b, alloc_compare_row *rows);

/* Measure code ("shortfall", "out_of_borough", "spend"). */
const char *alloc_measure_code(int measure);

#endif /* SENDSIM_ALLOCATE_H */
