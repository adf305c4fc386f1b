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
 *                 pop(a, t + 1) / pop(a, base_year + 1) when per_capita (1 otherwise), and
 *                 growth(base_year + h) = exp(g * (d + d^2 + ... + d^h)), d = damping, with g
 *                 drawn once per replication from Normal(growth, growth_se);
 *                 every cell shares one Gamma(mean 1, variance overdispersion) shock a year;
 *   5. transfers: after ageing, each plan aged a gains Poisson(transfer[a] * X) joiners when
 *                 transfer[a] > 0, or loses Binomial(X, -transfer[a]) when it is < 0.
 * The caller owns a fit (a plain struct; nothing inside is heap-allocated). */
#ifndef SENDSIM_FIT_H
#define SENDSIM_FIT_H

#include <stddef.h>
#include "codes.h"
#include "scenario.h"
#include "status.h"

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
    double overdispersion;                /* v: variance of the yearly Gamma shock, >= 0 */
    char   sources[4096];                 /* plain-text lines: which published figures each
                                             rate came from, for run.txt */
} fit;

/* Fit `sc` (its caseload, history, population and [demand] settings) into *out. Returns SIM_OK,
 * or SIM_EDATA with `err` filled when the history cannot support a fit (no new-plan figures,
 * fewer than 3 years in the trend window, ...). */
sim_status fit_scenario(const scenario *sc, fit *out, sim_error *err);

#endif /* SENDSIM_FIT_H */
