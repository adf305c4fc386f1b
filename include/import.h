/* import.h - build a scenario directory from DfE SEN2 and ONS files as published.
 *
 * import_run() reads the 2025-release SEN2 files (caseload.csv, sen_needs_all_plans.csv,
 * newplans.csv, ceased_plans.csv), optionally the 2022 release (sen2_age_caseload.csv,
 * sen2_age_new_plans.csv, sen2_mi.csv) and an ONS SNPP wide file, keeps the rows of one area
 * (columns found by name, rows by geographic_level, LA code and breakdown, in any order), and
 * writes caseload.csv, history.csv, population.csv (with a population file), import.txt and,
 * when the directory has none, scenario.ini. Every file is written under a temporary name and
 * renamed only once all of them are complete. Nothing is printed: the report comes back in
 * `import_report.text`, which the caller owns and frees with import_report_free(). */
#ifndef SENDSIM_IMPORT_H
#define SENDSIM_IMPORT_H

#include <stddef.h>
#include "status.h"

typedef struct import_options {
    const char *la;             /* old code (204), new code (E09000012), name (Hackney), or
                                   E92000001 / England for the national scenario */
    const char *sen2_dir;       /* the 2025 release (or a later one with the same files) */
    const char *sen2_2022_dir;  /* the 2022 release, or NULL */
    const char *population;     /* ONS SNPP wide CSV, or NULL for no population file */
    const char *out_dir;        /* created, with its parents, if missing */
} import_options;

/* Key figures of an import, and the whole report as text. */
typedef struct import_report {
    char   area_code[32];       /* E09000012, or E92000001 for England */
    char   area_name[128];
    int    base_year;
    long   total;               /* plans in the base year (published "All EHC plans") */
    size_t suppressed;          /* suppressed cells met in the rows of the area */
    size_t ipf_iterations;
    double ipf_residual;        /* largest margin residual of the fit before rounding */
    long   max_deviation;       /* largest |rounded - published| over need x age and
                                   need x setting cells */
    size_t margin_mismatches;   /* places where DfE's own margins disagree */
    size_t ages_filled;         /* base-year ages whose total caseload.csv suppresses, filled
                                   from the other margins (listed in the text) */
    size_t caseload_rows, history_rows, population_rows;
    char  *text;                /* owned: the report as printed and saved in import.txt */
} import_report;

/* Run the import described by `opt`. opt->la, without the spaces around it, is matched
 * against the la_name, old_la_code and new_la_code of the Local authority rows of the --sen2
 * caseload.csv (any case); failing an exact match, the one LA whose name has a word starting
 * with it (at least 3 characters: "Bristol" is "Bristol, City of"), else the one whose name
 * contains it. Returns SIM_OK and fills `rep`; otherwise SIM_EUSAGE (missing option, or an
 * empty --la), SIM_ENOENT (a file is missing), SIM_EDATA (an unknown area, answered with the
 * nearest LAs, or with the older release when only --sen2-2022 has it; a part of a name
 * that several LAs share, answered with them; a missing or renamed column, naming the file
 * and the column; bad values), or SIM_EIO (cannot write), with `err` filled and nothing left
 * in the output directory. `rep` is always safe to pass to import_report_free(). */
sim_status import_run(const import_options *opt, import_report *rep, sim_error *err);

/* Release what `rep` owns (its text). NULL is a no-op. */
void import_report_free(import_report *rep);

#endif /* SENDSIM_IMPORT_H */
