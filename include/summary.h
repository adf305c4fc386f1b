/* summary.h - roll-ups inside each replication and exact bands across replications.
 *
 * A demand "series" is one (phase, need, setting) combination, where each coordinate may be
 * ALL (SUMMARY_ALL_PHASE, ...), as in the rows of demand.csv: 6 x 14 x 12 = 1,008 series a
 * year. Inside each replication the engine's state is summed into every series (totals are
 * sums within the replication, never sums of medians); once every replication has reached a
 * year, each series gets its mean, sd and exact type-7 quantiles across replications (R's and
 * numpy's default: linear interpolation between order statistics). Values are integer counts,
 * so the quantiles use an exact integer histogram when the range is small and a radix sort
 * otherwise; only one year of per-replication values (n_reps x 1,008 int32) is held.
 *
 * Ownership: summary_alloc() returns a summary freed with summary_free(). Nothing prints. */
#ifndef SENDSIM_SUMMARY_H
#define SENDSIM_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "codes.h"
#include "engine.h"
#include "scenario.h"

enum {
    SUMMARY_ALL_PHASE = SIM_N_PHASES,           /* the ALL code of each coordinate */
    SUMMARY_ALL_NEED = SIM_N_NEEDS,
    SUMMARY_ALL_SETTING = SIM_N_SETTINGS,
    SUMMARY_N_SERIES = (SIM_N_PHASES + 1) * (SIM_N_NEEDS + 1) * (SIM_N_SETTINGS + 1),
    SUMMARY_N_Q = 9
};

/* The quantile probabilities, in column order: 0.025 0.05 0.10 0.25 0.5 0.75 0.90 0.95 0.975. */
extern const double SUMMARY_PROBS[SUMMARY_N_Q];

typedef struct summary_band {
    double mean, sd;                 /* sd with divisor n - 1 (0 when n = 1) */
    double q[SUMMARY_N_Q];           /* type-7 quantiles at SUMMARY_PROBS */
} summary_band;

typedef struct summary summary;

/* The series index of (phase, need, setting); pass the SUMMARY_ALL_* values for ALL. */
size_t summary_series(int phase, int need, int setting);

/* A summary for `n_reps` replications over years base_year .. base_year + horizon, whose
 * year_done() will be called by up to `n_workers` workers. The base year (h = 0) is filled
 * from sc->caseload: every quantile and the mean equal the published count, sd 0. */
summary *summary_alloc(const scenario *sc, size_t n_reps, int horizon, size_t n_workers);

/* Release `s`. NULL is a no-op. */
void summary_free(summary *s);

/* Bytes summary_alloc() allocates for these arguments. */
size_t summary_bytes(size_t n_reps, int horizon, size_t n_workers);

/* The sink to hand to engine_run(): it rolls each replication-year up into the series and
 * summarises each year once all replications reached it. `s` must outlive the run. */
engine_sink summary_sink(summary *s);

/* The band of `series` in year base_year + h (0 <= h <= horizon). */
const summary_band *summary_get(const summary *s, int h, size_t series);

/* 1 if `series` was non-zero in year base_year + h in the base data or any replication. */
int summary_present(const summary *s, int h, size_t series);

int summary_horizon(const summary *s);
int summary_base_year(const summary *s);
size_t summary_reps(const summary *s);

/* Mean, sd and exact type-7 quantiles of v[0..n-1] (n >= 1), v unchanged. */
void summary_band_int32(const int32_t *v, size_t n, summary_band *out);

/* The type-7 quantile at probability p of sorted x[0..n-1] (n >= 1). */
double summary_quantile_sorted(const double *x, size_t n, double p);

#endif /* SENDSIM_SUMMARY_H */
