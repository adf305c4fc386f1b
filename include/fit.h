/* fit.h - fit the model's rates, with their uncertainty, from a scenario's history.
 *
 * The fit is plain data computed once, before any replication, and only read by the engine.
 * Everything here is deterministic: no random numbers. Conventions (DESIGN.md "Model"):
 * a projection step goes from the January census t to the January census t + 1 and is
 *   1. leavers:   each plan aged a in January t ends with probability cease[a]
 *                 (cease[25] = 1: 25-year-olds all leave);
 *   2. ageing:    survivors move to age a + 1;
 *   3. joiners:   new plans of age a in January t + 1 arrive with mean
 *                   joiners[a] * pop_ratio(a, t + 1) * pi[a][need] * growth(t + 1) * multiplier
 *                 where joiners[a] is the base-level joiners by age (see below), pop_ratio is
 *                 pop(a, t + 1) / pop(a, base_year + 1) when the scenario has a population
 *                 file (1 otherwise; the last year of the file is held after its end), whether
 *                 or not growth is per resident child (DESIGN.md, Model, step 3), and
 *                 growth(base_year + h) = exp(g * (d + d^2 + ... + d^h)), d = damping, with g
 *                 drawn once per replication from Normal(growth, growth_se);
 *                 every cell shares one Gamma(mean 1, variance overdispersion) shock a year;
 *   5. transfers: after ageing, each plan aged a gains Poisson(transfer[a] * X) joiners when
 *                 transfer[a] > 0, or loses Binomial(X, -transfer[a]) when it is < 0, where X
 *                 is the survivors now aged a (not counting this year's joiners).
 * The caller owns a fit (a plain struct; nothing inside is heap-allocated).
 *
 * How history.csv is read (every rate is on census ages, the age on 31 August before the
 * January census; bands are split into single ages narrowest row first, in proportion to the
 * best profile at hand, so that every published figure is kept):
 * - Flows of calendar year C happen between the January C and January C + 1 censuses. DfE
 *   gives new plans by the age when the plan started and ceased plans by the age on the date
 *   ceased. A plan started at age x is counted at census age x in January C + 1 (31 August C
 *   is on average two months after the start: about 72% keep age x). A plan that ceased at age
 *   x had census age x - 1 in January C (about 72%; the date ceased is on average ten months
 *   after 31 August C - 1); an open top band (20-25) keeps 25, whose plans all end.
 * - joiners: the latest calendar year of new plans (normally base_year - 1), bands split by
 *   the latest single-age new plans, else by the base-year caseload's age profile; carried to
 *   base_year - 1 by exp(g * years) when older, and by the population change when the
 *   population file covers both years.
 * - pi: the base-year caseload's need mix at each age, pooled over neighbouring ages until it
 *   rests on 50 plans (history.csv has no need detail).
 * - cease: (1) the latest ceased figures by age over the caseload of that January (split by
 *   the base-year profile where only bands or a total are published), one rate per published
 *   row, thin ages pooled with neighbours up to 30 plans; inside a band, rates follow the age
 *   pattern of cohort change where caseloads have single ages (else flat); else (2) a 0-25
 *   ceased total, spread by the age pattern of cohort change; else (3) cohort change alone:
 *   caseload(a + 1, C + 1) - joiners(a + 1) survive from caseload(a, C).
 * - transfer: the residual of caseload change after joiners and fitted leavers, per surviving
 *   plan, pooled over the latest 3 caseload pairs (C, C + 1) with new plans in C (within 5
 *   years), on the caseload rows published for the latest C merged up to DfE's bands (0-4,
 *   5-10, 11-15, 16-19, 20-25 in January C; the total when only that is published) and to at
 *   least 30 survivors. The deterministic model so reproduces the pooled years' caseload
 *   changes in sum on those groups, shifted a year older (ages 0-5, 6-11, ...): exactly
 *   January C + 1 when only one pair is published. One year alone swings with each year's
 *   reporting (fit-notes.md). A net inflow is capped at +0.10 per surviving plan a year: a
 *   rate compounds over the projection, and larger inflows were one-offs (backtest-notes.md).
 * - growth: gsl_multifit_wlinear of log(new plans [/ population 0-25]) on year, weights =
 *   counts (the Poisson variance of a log count), over the new-plan totals of the
 *   trend_window calendar years ending at the latest; years whose rows do not cover 0-25, or
 *   with no new plans, are left out, and so (with 4 or more years) is a year more than 2.5
 *   times off a robust Theil-Sen line (a misreported figure; named in sources). growth_se is
 *   the slope's se from the fit covariance, inflated by the residual dispersion
 *   chisq / (n - 2) when that exceeds 1 (quasi-Poisson).
 * - overdispersion (when [demand] overdispersion is auto): Var(N) = mu + v mu^2 under the
 *   Gamma shock, so v = sum(((N - mu) / mu)^2) / (n - 2) - mean(1 / mu) around the fitted
 *   trend, at least 0; plus the yearly scatter of the net exit rate
 *   e = (K(t) + N(t) - K(t + 1)) / K(t) over the window in units of a year's new plans,
 *   sum(((e - mean e) K / N)^2) / (n - 1) (3 years or more), since the joiners' shock is the
 *   engine's only yearly noise and exits vary as much. */
#ifndef SENDSIM_FIT_H
#define SENDSIM_FIT_H

#include <stddef.h>
#include "codes.h"
#include "scenario.h"
#include "status.h"

/* The largest net inflow of transfers per surviving plan a year that a rate may carry: a
 * rate compounds over the projection, and larger inflows in the history were one-offs
 * (backtest-notes.md). The fit caps its transfer rates here; the engine's exit draw never
 * shifts a rate above max(this, the fitted rate). */
#define FIT_TRANSFER_MAX 0.10

/* How much more a DfE age band's net exit rate is uncertain than the total's: the sd of each
 * band's own, zero-sum part of the engine's exit draw is this times exit_sd. Calibrated by the
 * backtest (12 LAs, origins 2016-2022): with one shift for every age, the age bands' 80% band
 * held 63% of actuals (the total's 82%); with this factor the bands hold about 78% and the
 * total's coverage and error are unchanged, since the parts sum to 0 over the plans
 * (README, "Backtest"). */
#define FIT_BAND_EXIT_FACTOR 3.0

/* Years of new-plan totals the growth fit needs for a trend; with fewer, fit_scenario()
 * assumes growth 0 (growth_prior). The backtest's default origins start where a trend can
 * be fitted, since it scores the fitted model. */
#define FIT_TREND_MIN_YEARS 3

typedef struct fit {
    int    base_year;
    int    per_capita;                    /* 1 when growth is per resident child */
    double joiners[SIM_N_AGES];           /* expected new plans by age at the first projected
                                             census (base_year + 1) before growth, >= 0 */
    double pi[SIM_N_AGES][SIM_N_NEEDS];   /* need mix of joiners by age; each row sums to 1 */
    double cease[SIM_N_AGES];             /* P(plan at age a in January t has ended by
                                             January t + 1), in [0, 1]; cease[25] = 1 */
    double transfer[SIM_N_AGES];          /* net transfers in per plan aged a after ageing,
                                             in [-1, 1] */
    double growth;                        /* g: log growth of new plans per year */
    double growth_se;                     /* its standard error (>= 0) */
    int    window_first, window_last;     /* calendar years of new plans used for g */
    int    growth_prior;                  /* 1: fewer than 3 years of new plans, so no
                                             trend was fitted: growth 0 with a wide se */
    double overdispersion;                /* v: variance of the yearly Gamma shock, >= 0 */
    double exit_sd;                       /* sd of the yearly net exit rate per plan,
                                             (K(t) + N(t) - K(t + 1)) / K(t), over the trend
                                             window (0 with fewer than 3 years): the size of
                                             the engine's persistent per-replication shift
                                             of the net transfer rate (engine.h, "Exit
                                             draw"; 0 turns it off) */
    double exit_band_sd;                  /* the sd of each DfE age band's own part of that
                                             shift (engine.h, "Exit draw"):
                                             FIT_BAND_EXIT_FACTOR times exit_sd */
    int    exit_years;                    /* how many yearly rates exit_sd rests on (0 when
                                             none): a draw scaled by exit_sd is Student-t
                                             with exit_years - 1 degrees of freedom */
    char   sources[4096];                 /* plain-text lines: which published figures each
                                             rate came from, for run.txt */
} fit;

/* Fit `sc` (its caseload, history, population and [demand] settings) into *out. Returns SIM_OK,
 * or SIM_EDATA with `err` filled (file history.csv, key new_plans or ceased) when the history
 * cannot support a fit: no new plans at all, or no ceased figures and no pair of consecutive
 * caseload years to infer cessation from. With fewer than 3 years of new-plan totals in the
 * trend window there is no trend: growth is 0 with se 0.10 and growth_prior is set. New plans
 * that the growth fit judges misreported (more than 2.5 times off a robust trend) are left out
 * of every other rate too: the exit scatter, cessation and transfers. On
 * failure *out is untouched. Deterministic; allocates nothing the caller must free. */
sim_status fit_scenario(const scenario *sc, fit *out, sim_error *err);

/* The new plans of calendar `year` in sc's history as a 0-25 total, as the fit reads them: the
 * 0-25 row, else the sum of rows that cover every age; negative when the rows leave an age out
 * or there are none. The growth fit uses a year only when this is at least 1 (the backtest
 * screens its origins with it). */
double fit_newplans_total(const scenario *sc, int year);

#endif /* SENDSIM_FIT_H */
