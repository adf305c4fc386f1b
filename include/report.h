/* report.h - write a run's demand.csv and run.txt (DESIGN.md "Outputs").
 *
 * demand.csv has the columns
 *   year,phase,need,setting,mean,sd,p025,p05,p10,p25,p50,p75,p90,p95,p975
 * with ALL for totals. Rows, in year order:
 *   - history years before the base year, from the published caseloads in sc->history: the
 *     total as year,ALL,ALL,ALL, and year,PHASE,ALL,ALL for each phase whose ages are exactly
 *     covered by published rows inside it (a published band that straddles a phase boundary,
 *     such as 0-4 or 16-19, never counts towards a phase); value in mean and every quantile
 *     (so in p50), sd 0;
 *   - the base year, from caseload.csv, every series that is non-zero, sd 0;
 *   - projected years base+1 .. base+horizon, every series non-zero in some replication.
 * Within a year, rows go ALL first, then the codes' order, phase before need before setting.
 *
 * Files are written under a temporary name in the output directory and renamed into place
 * only once both are complete, so a failure leaves no partial file. Nothing here prints. */
#ifndef SENDSIM_REPORT_H
#define SENDSIM_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "fit.h"
#include "scenario.h"
#include "status.h"
#include "summary.h"

typedef struct report_run {
    const char   *command_line;     /* as typed, for run.txt */
    unsigned long seed;
    size_t        reps;
    size_t        threads;
    int           horizon;
    double        wall_seconds;
    const char   *notes;            /* extra lines for run.txt (allocation), or NULL */
    double        draws;            /* random draws per replication-year (0: not reported) */
    double        occupied;         /* occupied cells per replication-year */
} report_run;

/* Write demand.csv to `out` (the rows described above). Returns SIM_OK or SIM_EIO. */
sim_status report_demand(FILE *out, const scenario *sc, const summary *s);

/* Write run.txt's text to `out`. Returns SIM_OK or SIM_EIO. */
sim_status report_run_txt(FILE *out, const scenario *sc, const fit *f, const report_run *run);

/* Create `dir` (and its parents) if needed and write demand.csv and run.txt into it
 * atomically. Returns SIM_OK, or SIM_EIO with `err` naming the path on any failure (then no
 * file of this run is left in `dir`, and earlier files of those names are untouched). */
sim_status report_write(const char *dir, const scenario *sc, const fit *f, const summary *s,
                        const report_run *run, sim_error *err);

/* Format v for a CSV cell: up to 3 decimals, trailing zeros dropped ("3681", "12.5"). */
void report_number(double v, char *buf, size_t n);

#endif /* SENDSIM_REPORT_H */
