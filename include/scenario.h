/* scenario.h - a planning scenario: scenario.ini plus the CSVs beside it (DESIGN.md).
 *
 * A scenario is plain data, validated on load: every code known, every value in range, every
 * cross-file reference resolved. scenario_load() hands ownership to the caller, who releases
 * it with scenario_free(). Nothing here draws random numbers or fits anything. */
#ifndef SENDSIM_SCENARIO_H
#define SENDSIM_SCENARIO_H

#include <stddef.h>
#include "codes.h"
#include "status.h"

typedef enum hist_measure { MEASURE_CASELOAD, MEASURE_NEW_PLANS, MEASURE_CEASED, SIM_N_MEASURES } hist_measure;

/* One published figure from history.csv. Stocks carry the January census year; flows the
 * calendar year in which they happened (between the censuses of `year` and `year` + 1). */
typedef struct hist_row {
    int          year;
    int          age_from, age_to;     /* inclusive; single ages or a published band */
    hist_measure measure;
    double       count;
} hist_row;

typedef struct provision {
    char     id[64];
    char     name[160];
    sim_group group;
    unsigned needs;                    /* bit (1u << need) per admitted need; all bits for '*' */
    int      age_from, age_to;         /* inclusive */
    double   places;                   /* base-year places (0 for a place created by a wave) */
    double   annual_cost;              /* per place per year, base-year prices; < 0 if unset */
} provision;

typedef struct wave {
    char   wave[64];                   /* wave name; several rows may share one */
    size_t provision;                  /* index into scenario.provisions */
    double places;                     /* added (or, if negative, removed) places */
    int    open_year;                  /* places open in September of this year, so count
                                          from the January census of open_year + 1 */
    double capital_cost;
} wave;

/* An input file and its checksum, for run.txt. */
typedef struct scenario_file {
    char          role[16];            /* "caseload", "history", ... or "scenario" */
    char          path[512];           /* as opened (relative to the working directory) */
    unsigned long crc32;
} scenario_file;

typedef struct scenario {
    /* [scenario] */
    char   name[128];
    char   la_code[32];
    int    base_year;
    int    horizon;                    /* years projected after base_year, 1..50 */
    long   replications;               /* 1..1,000,000 */
    unsigned long seed;

    /* [demand] */
    int    trend_window;               /* 2..30 */
    double damping;                    /* 0..1 */
    double incidence_multiplier;       /* 0..10 */
    double overdispersion;             /* >= 0; < 0 means "auto" (fit it) */

    /* [allocation] */
    sim_group order[SIM_N_GROUPS];     /* overflow order for specialist places */
    size_t    n_order;
    double    risk_target;             /* (0, 1) */

    /* [costs] */
    double inflation;                  /* -0.5 .. 1 */

    /* caseload.csv: plans in January of base_year */
    double caseload[SIM_N_AGES][SIM_N_NEEDS][SIM_N_SETTINGS];

    /* history.csv */
    hist_row *history;                 /* [n_history], owned, in file order */
    size_t    n_history;

    /* population.csv (optional): pop[(year - pop_first_year) * SIM_N_AGES + age] */
    double *pop;                       /* owned; NULL when there is no population file */
    int     pop_first_year, pop_last_year;

    /* provisions.csv and waves.csv (optional) */
    provision *provisions;             /* [n_provisions], owned */
    size_t     n_provisions;
    wave      *waves;                  /* [n_waves], owned */
    size_t     n_waves;

    /* preferences.csv (optional): share of placements in each setting by phase and need;
     * each (phase, need) row sums to 1. has_preferences is 0 when the base-year mix is used.
     * The file need not cover every (phase, need): pref_given marks the ones it has rows for
     * (the others are all 0 here, and fall back to the base-year mix). */
    double pref[SIM_N_PHASES][SIM_N_NEEDS][SIM_N_SETTINGS];
    int    has_preferences;
    unsigned char pref_given[SIM_N_PHASES][SIM_N_NEEDS];

    /* costs.csv (optional): base-year unit cost per place per year; < 0 where not given */
    double cost[SIM_N_SETTINGS][SIM_N_PHASES];

    /* every file read, for run.txt */
    scenario_file files[8];
    size_t        n_files;
} scenario;

/* Read and validate `ini_path` and every file it names. Returns SIM_OK and a new scenario in
 * *out; on failure leaves *out untouched, returns SIM_ENOENT when a file is missing, SIM_EDATA
 * for bad content, SIM_EIO when a file cannot be read, and fills `diag` (if not NULL) with
 * every error found, up to SIM_DIAG_MAX. */
sim_status scenario_load(const char *ini_path, scenario **out, sim_diag *diag);

/* Release `sc` and everything it owns. NULL is a no-op. */
void scenario_free(scenario *sc);

/* The CRC-32 (IEEE 802.3, as zlib and `cksum -a crc32b`) of buf[len], as in sc->files. */
unsigned long scenario_crc32(const void *buf, size_t len);

/* Resident population of `age` for the January census of `year`, or a negative value when
 * the file does not cover it. population.csv carries ONS mid-years as published; the pupils
 * aged `age` on 31 August of year - 1 are the mid-(year - 1) population of that age, so that
 * is the one returned. */
double scenario_population(const scenario *sc, int year, int age);

/* Places of provision `p` counted at the January census of `year`: its base places plus every
 * wave for it that opened in September of an earlier year. */
double scenario_capacity(const scenario *sc, size_t p, int year);

/* The path history.csv was read from (as scenario.ini names it), for errors about it; plain
 * "history.csv" for a scenario built in memory. Borrowed from sc. */
const char *scenario_history_path(const scenario *sc);

#endif /* SENDSIM_SCENARIO_H */
