/* engine.h - the Monte Carlo demand engine: replications of the cohort model of fit.h.
 *
 * State of a replication: integer counts by age, need and slot. A "slot" is where a pupil is
 * placed. Slots 0 .. SIM_N_SETTINGS - 1 are the settings themselves (MS, RP, ..., UNK); a
 * caller may append further slots through an engine_placer (the allocation stage appends its
 * named provisions, each belonging to a setting), so the engine's loops never change when
 * named provisions arrive. Each (age, need) row holds only the slots that can hold its pupils
 * (engine_layout below), so a provision costs memory and time only at its ages and needs.
 *
 * One projection step (January t to January t + 1), per replication:
 *   removal    per occupied cell, Binomial(x, q[a]) plans leave, q[a] combining the
 *              cessation of fit.h step 1 and the negative net transfers of step 5; the removed
 *              plans of one age are split into leavers and transfers out by one binomial per
 *              age (exact: every cell of an age has the same two probabilities);
 *   ageing     survivors move to age a + 1 and keep their slot while it serves the new age
 *              (engine_setting_keeps() for settings, the placer's table for provisions);
 *              the others join the age's "to place" pool;
 *   joiners    Poisson(shock * mean) per (age, need), one Gamma shock per replication-year;
 *   transfers  Poisson(transfer[a] * survivors) per (age, need) when transfer[a] > 0; being
 *              independent Poissons, joiners and transfers in of an (age, need) are drawn
 *              as one Poisson of the summed mean;
 *   placement  pool + joiners + transfers in are split over settings by one multinomial per
 *              (age, need) with the preference row of (phase, need), then handed to the
 *              placer's place() hook (default: into the setting slot itself).
 * No loop runs over pupils: the cost of a step follows the number of occupied cells.
 *
 * Exit draw (persistent uncertainty of the net exit rate). Before its first year, after its
 * growth draw, each replication draws once
 *   delta = exit_sd * sqrt(1 + 1 / n) * t(n - 1),   n = fit.exit_years
 * (Normal(0, exit_sd) when n < 2; nothing, and no draw, when exit_sd is 0), and runs every
 * year at the net transfer rates transfer[a] - delta, each kept within
 * [-1, max(transfer[a], 0.5)]; cessation stays as fitted. So delta > 0 is extra
 * removal (or a smaller inflow) at every age, delta < 0 a smaller outflow or a larger inflow.
 * Why this size: exit_sd is the scatter of single years' net exit rates, and
 * s * sqrt(1 + 1 / n) * t(n - 1) is the Student-t predictive distribution of a new year's
 * rate from n past ones. It is held for the whole run, not redrawn yearly, because the
 * history's departures from the fitted rate are level shifts that persist (reporting breaks,
 * practice changes: backtest errors grow about linearly with the horizon, fit-notes.md);
 * yearly scatter is carried by the joiners' shock (fit.h, overdispersion). The parameter
 * uncertainty of a mean rate alone, exit_sd / sqrt(n), would assume the past years were
 * independent draws around one fixed rate, and left the backtest's 80% band holding ~72% of
 * actuals, against ~82% with the full-size draw (backtest-notes.md). The bound of +0.5 a year
 * on inflows only guards the far tail of a t with few degrees of freedom (a rate compounds);
 * the fit's own cap, FIT_TRANSFER_MAX, is for a fitted one-off and would cut the upper tail
 * the backtest's actuals reach.
 * Each of DfE's age bands (0-4, 5-10, 11-15, 16-19, 20-25, by age after ageing) then adds a
 * part of its own, drawn once per replication after delta with the same law and scale
 * exit_band_sd * sqrt(1 + 1 / n), less the parts' mean weighted by the base-year plans that
 * age into each band: the parts move net exits between bands and leave the total's to delta.
 * With delta alone every age moved together, and the backtest's age bands held 63% of
 * actuals in their 80% band while the total held 82%; an age band's net exits wander more
 * than the total's (fit.h, FIT_BAND_EXIT_FACTOR).
 *
 * Binomials and Poissons are drawn exactly by sample.h (inversion, BTRS, PTRS) on the
 * replication's generator. Replication i draws only from its own generator (GSL taus2)
 * seeded from (seed, i), and the sink below receives every replication's state for a year
 * before any summary of that year runs, so results are identical for any number of threads.
 *
 * Ownership: engine_prepare() returns an engine the caller frees with engine_free(); it
 * borrows `sc`, `f` and the placer, which must outlive it. Nothing here prints. */
#ifndef SENDSIM_ENGINE_H
#define SENDSIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "codes.h"
#include "fit.h"
#include "scenario.h"
#include "status.h"

/* An extra placement slot (a named provision): the setting it counts as, the ages it serves
 * and the needs it holds; a pupil in it keeps it while its new age is within
 * [age_from, age_to]. Nobody may be put in it at an age or need it does not hold. */
typedef struct engine_slot {
    sim_setting setting;
    int         age_from, age_to;
    unsigned    needs;                   /* bit (1u << need) per need held; 0: every need */
} engine_slot;

enum { ENGINE_ROWS = SIM_N_AGES * SIM_N_NEEDS, ENGINE_NO_SLOT = 0xffff,
       ENGINE_MAX_EXTRA = 30000 };

/* Where the slots live in the state. Row c = a * SIM_N_NEEDS + n (age a, need n) starts at
 * row_off[c] and holds the SIM_N_SETTINGS setting slots at positions 0 .. SIM_N_SETTINGS - 1,
 * then, in slot order, only the extra slots that can hold a pupil of that age and need. A
 * provision for primary pupils with autism thus costs nothing in the rows of other ages and
 * needs: Hackney's 34 slots take 6,029 cells, not 338 x 34 = 11,492. The engine and the
 * placer build the same layout from the same slots with engine_layout_init(). */
typedef struct engine_layout {
    size_t    n_slots;                   /* SIM_N_SETTINGS + extra slots */
    size_t    cells;                     /* cells of a replication's state */
    size_t    widest;                    /* positions of the widest row */
    size_t   *row_off;                   /* [ENGINE_ROWS + 1]: where row c starts (row_off[c +
                                            1] - row_off[c] positions); owned */
    uint16_t *slot_at;                   /* [cells]: the slot at each cell; owned */
    int16_t  *pos_of;                    /* [ENGINE_ROWS * n_slots]: where slot s is in row c,
                                            -1 when the row cannot hold it; owned */
} engine_layout;

/* Build the layout for the settings and `extra` (n_extra <= ENGINE_MAX_EXTRA, each with a
 * valid setting and ages within 0-25); release it with engine_layout_free(). */
void engine_layout_init(engine_layout *l, const engine_slot *extra, size_t n_extra);

/* Release what engine_layout_init() allocated. */
void engine_layout_free(engine_layout *l);

/* Flows of one replication-year by age, for conservation checks and roll-ups. With p the
 * plans in January t and p' those in January t + 1:
 *   p'[a] = p[a - 1] - leavers[a - 1] - transfers_out[a] + joiners[a] + transfers_in[a]
 * (for a = 0 only joiners and transfers in), and every plan aged 25 leaves. */
typedef struct engine_flows {
    /* joiners and transfers_in of an age are its arrivals split by one binomial with the
     * ratio of their means, which gives them exactly the model's distribution by age */
    int64_t plans_before[SIM_N_AGES];    /* p[a], January t */
    int64_t leavers[SIM_N_AGES];         /* ceased plans, by age in January t */
    int64_t transfers_out[SIM_N_AGES];   /* by age after ageing */
    int64_t joiners[SIM_N_AGES];         /* new plans, by age in January t + 1 */
    int64_t transfers_in[SIM_N_AGES];    /* by age after ageing */
    int64_t replaced[SIM_N_AGES];        /* continuing plans re-placed (slot ended) */
} engine_flows;

/* What a sink sees of one replication after the step into year `year`: x[row_off[c] + j], the
 * pupils of row c = a * SIM_N_NEEDS + n at position j (row_off[c + 1] - row_off[c] positions),
 * which holds slot slot_at[row_off[c] + j] (slot_at NULL: slot j itself), and slot_setting[s]
 * (the setting each slot counts as); the engine itself always gives x and no by_phase.
 * Borrowed: valid only during the call. */
typedef struct engine_view {
    size_t              rep;
    int                 year;            /* January census year just reached */
    int                 h;               /* years after the base year, 1..horizon */
    size_t              n_slots;         /* slots, settings included */
    const size_t       *row_off;         /* [ENGINE_ROWS + 1]; NULL when x is */
    const uint16_t     *slot_at;         /* [row_off[ENGINE_ROWS]] or NULL */
    const sim_setting  *slot_setting;    /* [n_slots] */
    const int32_t      *x;               /* NULL when by_phase is given instead */
    /* x summed over the ages of each phase, [phase][need][setting] with every slot counted as
     * its setting, or NULL. A sink that has these sums already (the allocation stage) passes
     * them on with x NULL, so the next sink's roll-up need not walk every age again. */
    const int64_t      *by_phase;
    const engine_flows *flows;
    void               *ws;              /* the placer's per-replication workspace, or NULL */
} engine_view;

/* The placement hook for the allocation stage. All fields may be zero/NULL: the engine then
 * places each pupil in the slot of the setting its preference draw picked.
 *   extra, n_extra  slots appended after the settings (slot SIM_N_SETTINGS + i is extra[i]);
 *   ws_size         bytes of per-replication workspace, zeroed before the first year;
 *   place           called once per replication before the first step with year = base_year
 *                   and want = the base-year caseload (so a placer can put base-year pupils
 *                   into its provisions), then once per replication-year, after the
 *                   preference draws, with
 *                   want[(a * SIM_N_NEEDS + n) * SIM_N_SETTINGS + s] pupils of age a and need
 *                   n who need a place and were drawn to setting s; it must add every one of
 *                   them to some slot of x (same age and need) that their row holds, x being
 *                   laid out as `lay` (engine_layout_init() of these slots) says, and may
 *                   use `ws`. It is called
 *                   from worker threads, so it may write only to `ws`, `x` and the entries
 *                   of `want` it was given (the engine zeroes those rows afterwards), and
 *                   must not draw random numbers (results must not depend on threads). */
typedef struct engine_placer {
    const engine_slot *extra;
    size_t             n_extra;
    size_t             ws_size;
    void              *ctx;
    void (*place)(void *ctx, void *ws, int year, int32_t *want, int32_t *x,
                  const engine_layout *lay);
    /* [SIM_N_AGES] or NULL (all bits set). Bit s of wanted[a] clear: in projected years the
     * engine puts pupils of age a drawn to setting s straight into slot s, as place() would
     * (a setting the placer does not limit at that age), so only the others reach want. */
    const uint16_t    *wanted;
} engine_placer;

/* Receives the replications. rep_year() is called for every replication and projected year
 * (from worker threads, each replication from one thread at a time; it may write only to
 * storage indexed by view->rep); after all replications reached year base + h, year_done()
 * is called once per worker thread w of n_workers (so it can share out work by w), and none
 * of the next year's rep_year() calls begins before every year_done() has returned. */
typedef struct engine_sink {
    void *ctx;
    void (*rep_year)(void *ctx, const engine_view *view);
    void (*year_done)(void *ctx, int h, size_t w, size_t n_workers);
} engine_sink;

/* What a run cost, summed over every replication-year (the same for any thread count): the
 * random variates drawn (binomial, Poisson, gamma and categorical, and a replication's growth
 * and exit draws) and the occupied cells the steps visited (non-empty state cells at the
 * start of each year). An exact engine's cost follows these, not the number of plans. */
typedef struct engine_work {
    uint64_t draws;
    uint64_t occupied;
} engine_work;

typedef struct engine_options {
    size_t        n_reps;                /* >= 1 */
    unsigned long seed;
    size_t        threads;               /* >= 1 */
    int           horizon;               /* years projected, >= 1 */
    /* Called by one worker after each projected year (done = years finished); may be NULL. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void         *progress_ctx;
    engine_work  *work;                  /* filled with the run's totals when not NULL */
} engine_options;

typedef struct engine engine;

/* Check `f` (rates in range, rows of pi summing to 1) and the placer, and precompute every
 * table a step needs: removal probabilities, joiner means by year, preference rows (sc->pref
 * when sc->has_preferences, else the base-year mix of the phase and need, else of the phase,
 * else the phase's default setting). Returns SIM_OK and *out, or SIM_EDATA / SIM_EUSAGE with
 * `err` filled and *out untouched. */
sim_status engine_prepare(const scenario *sc, const fit *f, const engine_placer *placer,
                          int horizon, engine **out, sim_error *err);

/* Release `e`. NULL is a no-op. */
void engine_free(engine *e);

/* Number of slots (SIM_N_SETTINGS plus the placer's extra slots). */
size_t engine_slots(const engine *e);

/* The engine's layout of the state (engine_layout_init() of the placer's slots). Borrowed. */
const engine_layout *engine_get_layout(const engine *e);

/* The preference row used for (phase, need): shares by setting, summing to 1. */
void engine_preference(const engine *e, sim_phase p, sim_need n, double share[SIM_N_SETTINGS]);

/* 1 if a pupil in setting `s` keeps it on reaching age `age` (the settings' rule table):
 * within a phase a pupil keeps the setting (UNK, "awaiting provision", is re-placed every
 * year); on entering a phase at its first age, a setting is kept only if it serves the new
 * phase: EY settings end at 4; MS, RP, SS, IS and AP continue from primary to secondary and
 * end at 16 (post-16 places are chosen afresh, sixth forms included, by the P16 preferences);
 * FE, SPI and NEET continue into post-19; ELS continues throughout. */
int engine_setting_keeps(sim_setting s, int age);

/* Run opt->n_reps replications over opt->horizon years (at most the horizon given to
 * engine_prepare) on opt->threads threads, feeding `sink`. Returns SIM_OK, SIM_EUSAGE for bad
 * options, SIM_EINTERNAL if threads cannot be started. */
sim_status engine_run(const engine *e, const engine_options *opt, const engine_sink *sink,
                      sim_error *err);

/* Bytes engine_run() allocates for `n_reps` replications (states, generators, workspaces), so
 * a caller can refuse a run that cannot fit in memory before starting it. */
size_t engine_bytes(const engine *e, size_t n_reps);

/* The seed of replication `rep`'s generator under run seed `seed`: distinct for distinct rep
 * below 2^32 (a bijective mix of a hash of the seed plus rep). */
unsigned long engine_rep_seed(unsigned long seed, size_t rep);

#endif /* SENDSIM_ENGINE_H */
