/* backtest.h - rolling-origin backtest: refit on what was published by each origin, project,
 * and score against what was published later, next to the naive forecasts analysts use.
 *
 * For each origin year O the full scenario is cut down to what DfE had published by January O
 * (caseload censuses of years <= O, flows of calendar years <= O - 1) and to history alone: no
 * base-year need or setting detail (every plan is need UNK, setting UNK), no population file,
 * no provisions. The base-year caseload by age comes from the history's census of year O, its
 * age bands spread to single ages by the finest age profile the history publishes. The model
 * is refitted on that (fit_scenario) and projected `horizon` years by a projector (the engine);
 * the total (band ALL, ages 0-25) and every age band published at O are scored against the
 * published censuses of years O + 1 .. O + horizon.
 *
 * Naive methods are scored on the same points: last value; last year's growth carried
 * forward; mean growth over the last three years (compound: (y[O] / y[O-3])^(1/3)); the
 * straight line fitted by least squares to the last five censuses. They give a point forecast
 * only, so their interval coverage is not defined (NaN; written as NA).
 *
 * A point (origin, horizon, band) is scored only when the actual is published and every method
 * has a forecast for it, so every method is scored on exactly the same points.
 *
 * Short histories (LAs made by reorganisations publish from their first year only): with no
 * origins and no horizon given, the horizon is the longest up to BACKTEST_DEFAULT_HORIZON that
 * leaves at least one origin (backtest_default_range). Default origins have 3 years of usable
 * new plans before them, so their growth is a fitted trend; a given origin with fewer is
 * fitted with fit.h's growth prior, and the notes say so. An origin whose history cannot be
 * fitted (fit_scenario's SIM_EDATA) is skipped, and said so in the result's notes and in
 * backtest_origins.csv; the run fails only when every origin is skipped.
 *
 * Percentages: ape = 100 |forecast - actual| / actual; pe = 100 (forecast - actual) / actual
 * (positive = over-forecast). The model's point forecast is its median (p50). Quantiles are
 * type 7 (linear interpolation between order statistics), as everywhere in sendsim.
 *
 * Ownership: backtest_run() fills a backtest_result the caller releases with
 * backtest_result_free(). Nothing here prints. */
#ifndef SENDSIM_BACKTEST_H
#define SENDSIM_BACKTEST_H

#include <stddef.h>
#include "codes.h"
#include "fit.h"
#include "scenario.h"
#include "status.h"

/* The horizon of a backtest given no horizon: 3 years, as issue 7 scores. */
enum { BACKTEST_DEFAULT_HORIZON = 3 };

/* Keep backtest_method_code() in step with this enum. */
typedef enum backtest_method {
    BT_MODEL,          /* the fitted Monte Carlo model: median and quantiles */
    BT_LAST,           /* y[O] */
    BT_LAST_GROWTH,    /* y[O] * (y[O] / y[O-1])^h */
    BT_MEAN_GROWTH3,   /* y[O] * (y[O] / y[O-3])^(h/3) */
    BT_TREND5,         /* least-squares line through y[O-4..O], at O + h */
    BT_N_METHODS
} backtest_method;

/* "model", "last", "last_growth", "mean_growth3", "trend5". */
const char *backtest_method_code(backtest_method m);

/* A projector runs the model: for replication r (0..reps-1) and projection year h (1..horizon)
 * it stores the plans aged a in January sc->base_year + h in
 * by_age[((size_t)r * horizon + (h - 1)) * SIM_N_AGES + a]. It must be deterministic in
 * `seed`. Returns SIM_OK, or a status with `err` filled. */
typedef sim_status (*backtest_project_fn)(const scenario *sc, const fit *f, int horizon,
                                          long reps, unsigned long seed, double *by_age,
                                          void *ctx, sim_error *err);

typedef struct backtest_options {
    int  origin_from, origin_to;   /* inclusive; both 0 = the default range (see below) */
    int  horizon;                  /* years ahead, 1..20; 0 = the default: with the default
                                      origins the longest horizon up to
                                      BACKTEST_DEFAULT_HORIZON that has an origin, with given
                                      origins BACKTEST_DEFAULT_HORIZON */
    long reps;                     /* replications per origin, 10..1,000,000, and
                                      reps x horizon <= 1,000,000 */
    unsigned long seed;            /* origin O uses seed + O, so origins are independent */
    backtest_project_fn project;   /* NULL = backtest_project_engine */
    void *project_ctx;
} backtest_options;

/* One scored forecast. For naive methods p025..p975 all equal the forecast and in80/in95
 * are -1 (no interval). */
typedef struct backtest_point {
    backtest_method method;
    int    origin, horizon, year;
    int    age_from, age_to;       /* 0-25 is the total (band ALL) */
    double actual, forecast;
    double p025, p10, p50, p90, p975;
    double ape, pe;
    int    in80, in95;
} backtest_point;

/* Scores of one method at one horizon, over the total (bands = 0) or pooled over the age
 * bands (bands = 1). cover80 and cover95 are fractions in [0, 1], NaN for naive methods. */
typedef struct backtest_score {
    backtest_method method;
    int    bands;
    int    horizon;
    size_t n;
    double mape, median_ape, bias, cover80, cover95;
} backtest_score;

/* What was fitted at each origin, for the report. */
typedef struct backtest_origin_fit {
    int    origin;
    double growth, growth_se, overdispersion;
    int    window_first, window_last;
    int    growth_prior;           /* 1: too few years of new plans for a trend (fit.h) */
    double base_total;
} backtest_origin_fit;

/* An origin left out because its history could not be fitted. */
typedef struct backtest_skip {
    int       origin;
    sim_error why;                     /* the fit's error (file, key and message) */
} backtest_skip;

typedef struct backtest_result {
    int origin_from, origin_to, horizon;
    int horizon_default;               /* 1 when the horizon was chosen from the history */
    long reps;
    backtest_point *points;            /* every method, every scored point; owned */
    size_t n_points;
    backtest_score *scores;            /* method x {total, bands} x horizon; owned */
    size_t n_scores;
    backtest_origin_fit *fits;         /* one per fitted origin, in origin order; owned */
    size_t n_fits;
    backtest_skip *skipped;            /* one per skipped origin, in origin order; owned */
    size_t n_skipped;
    char notes[4096];                  /* sentences for the user, one a line ending in '\n',
                                          "" when there is nothing to say: a horizon shortened
                                          by the history, origins fitted with no trend, each
                                          skipped origin and why */
} backtest_result;

/* The published caseload for ages age_from..age_to in January `year`: a history row with
 * exactly that range (the last one in file order), else the sum of rows that partition the
 * range exactly. Returns 1 and sets *out when published, else 0. */
int backtest_published(const scenario *sc, int year, int age_from, int age_to, double *out);

/* The plans by single age in January `year`, whole numbers adding up to each published piece:
 * the finest published partition of ages 0-25 for that year, each multi-age piece split by the
 * finest split of that same range published in any year (the nearest to `year`, earlier years
 * first on ties; recursively), evenly when no year splits it. This is the only place later
 * publications reach an origin: the shape inside an age band, never a level. SIM_EDATA when
 * no partition of 0-25 is published for `year`. */
sim_status backtest_caseload_by_age(const scenario *sc, int year, double out[SIM_N_AGES],
                                    sim_error *err);

/* A new scenario holding what was published by January `origin` (see the top of this file),
 * with base_year = origin, the given horizon and replications, and the [demand] settings of
 * `full`. The caller frees it with scenario_free(). SIM_EDATA when the census of `origin` has
 * no age partition. */
sim_status backtest_truncate(const scenario *full, int origin, int horizon, long reps,
                             scenario **out, sim_error *err);

/* The default origins: from the first year O with five published totals up to it (January
 * O-4..O, the trend5 method's window) and enough new plans for the growth fit, to the last such
 * year followed by `horizon` published totals. Enough new plans is what fit_scenario needs
 * for a growth trend (with fewer it assumes a growth prior): at least 3 calendar years with
 * usable new plans (rows covering ages 0-25 that add up to at least one plan) among the
 * trend_window years ending at the latest year before O with any new plans. SIM_EDATA when the range is empty, with `err` naming the censuses and new-plan years
 * the history has and what an origin needs. */
sim_status backtest_default_origins(const scenario *full, int horizon, int *from, int *to,
                                    sim_error *err);

/* The default horizon and origins: the longest horizon *horizon <= max_horizon for which
 * backtest_default_origins() finds an origin, and those origins. SIM_EDATA (err as
 * backtest_default_origins() gives it for horizon 1) when not even horizon 1 has one. */
sim_status backtest_default_range(const scenario *full, int max_horizon, int *horizon,
                                  int *from, int *to, sim_error *err);

/* A naive forecast of y at origin + h from the series y[i] = value of year first_year + i
 * (NaN = not published), using only years <= origin. Returns NaN when the method lacks the
 * history it needs or `m` is BT_MODEL. */
double backtest_naive(backtest_method m, const double *y, int first_year, int n_years,
                      int origin, int h);

/* Type-7 quantile of sorted[0..n-1] (n >= 1) at probability p in [0, 1]. */
double backtest_quantile(const double *sorted, size_t n, double p);

/* Score points[] of method m, at `horizon`, over the total (bands = 0) or the age bands
 * (bands = 1) into *out; n = 0 and NaN scores when none match. */
void backtest_score_points(const backtest_point *points, size_t n_points, backtest_method m,
                           int bands, int horizon, backtest_score *out);

/* Run the backtest of `full` with options `o`. Fills *out (caller frees with
 * backtest_result_free). An origin whose census has no age partition or whose fit returns
 * SIM_EDATA is skipped (out->skipped, out->notes). Returns SIM_EUSAGE for options out of range
 * (origins outside the published history), SIM_EDATA when the history has no default origin
 * (see backtest_default_origins) or every origin is skipped (err gives the first reason), any
 * other fit failure (err names the origin), or the projector's status. On failure *out holds
 * nothing to free. */
sim_status backtest_run(const scenario *full, const backtest_options *o, backtest_result *out,
                        sim_error *err);

void backtest_result_free(backtest_result *r);

/* Write DIR/backtest.csv (model points), DIR/backtest_summary.csv (scores),
 * DIR/backtest_points.csv (every method's points) and DIR/backtest_origins.csv
 * (`origin,status,base_total,growth,growth_se,overdispersion,window_first,window_last,reason`:
 * each origin `fitted`, with its fit (reason empty, or saying that no trend could be fitted),
 * or `skipped`, with NA and the reason), each to a temporary name in DIR, all four renamed
 * into place once complete (outdir_write). DIR must exist. SIM_EIO with `err` naming the file on failure; no partial file is left behind. */
sim_status backtest_write(const backtest_result *r, const char *dir, sim_error *err);

/* The default projector: the Monte Carlo engine (engine.h) with no placer, its state summed
 * over needs and settings. `ctx` may point to a size_t thread count (NULL = 1 thread); the
 * result does not depend on it. */
sim_status backtest_project_engine(const scenario *sc, const fit *f, int horizon, long reps,
                                   unsigned long seed, double *by_age, void *ctx,
                                   sim_error *err);

#endif /* SENDSIM_BACKTEST_H */
