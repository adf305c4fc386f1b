/* report_alloc.h - write the allocation outputs: shortfall.csv, provision.csv, cost.csv,
 * waves.csv and compare.csv (DESIGN.md "Outputs"; figures as allocate.h defines them).
 *
 *   shortfall.csv  year,group,phase,need,capacity,demand_p50,demand_p90,shortfall_mean,
 *                  shortfall_p50,shortfall_p90,p_shortfall,places_for_target,demand_p025,
 *                  demand_p10,demand_p975
 *                  one block per year (the base year, from the census as placed, then each
 *                  projected year) and constrained group, ALL first then the codes' order
 *                  (phase before need); a (phase, need) row is left out when it has neither
 *                  capacity nor demand in any replication;
 *   provision.csv  year,provision_id,places,occupancy_mean,occupancy_p50,occupancy_p90,p_full
 *                  (base year first);
 *   cost.csv       year,setting,mean,p025,p10,p50,p90,p975 (pounds, with inflation; base year
 *                  first): ALL, then each setting with spend (IS always), then OOB: the spend
 *                  on pupils out of borough (allocate.h: out_of_borough), a part of IS;
 *   waves.csv      wave,open_year,places,shortfall_reduction_mean,latest_safe_open_year,group,
 *                  earliest_risk,earliest_risk_year (latest_safe_open_year empty when no
 *                  opening year keeps the risk in target; earliest_risk: the highest
 *                  P(shortfall of the group) left with the wave opening in September of the
 *                  base year, in earliest_risk_year);
 *   compare.csv    year,measure,a_mean,b_mean,diff_mean,diff_p05,diff_p95.
 *
 * Every file is written under a temporary name in the output directory and renamed into place
 * once all of a call's files are complete, so a failure leaves no partial file. Nothing here
 * prints. */
#ifndef SENDSIM_REPORT_ALLOC_H
#define SENDSIM_REPORT_ALLOC_H

#include <stddef.h>
#include <stdio.h>

#include "allocate.h"
#include "scenario.h"
#include "status.h"

/* The file bodies, to `out`. Each returns SIM_OK or SIM_EIO. */
sim_status report_shortfall(FILE *out, const scenario *sc, const alloc_result *r);
sim_status report_provision(FILE *out, const scenario *sc, const alloc_result *r);
sim_status report_cost(FILE *out, const scenario *sc, const alloc_result *r);
sim_status report_waves(FILE *out, const alloc_wave_row *w, size_t n);
sim_status report_compare(FILE *out, const alloc_compare_row *rows, size_t n);

/* Write shortfall.csv, provision.csv, cost.csv and (when `waves` is not NULL) waves.csv into
 * the existing directory `dir`, atomically. Returns SIM_OK, or SIM_EIO with `err` naming the
 * path (then none of them is left new in `dir`). */
sim_status report_alloc_write(const char *dir, const scenario *sc, const alloc_result *r,
                              const alloc_wave_row *waves, size_t n_waves, sim_error *err);

/* Create `dir` if needed and write compare.csv into it atomically. Errors as above. */
sim_status report_compare_write(const char *dir, const alloc_compare_row *rows, size_t n,
                                sim_error *err);

#endif /* SENDSIM_REPORT_ALLOC_H */
