/* main.c - the sendsim command line: parse arguments, call the stages, report, exit.
 *
 * Nothing but the command line lives here. Each command is one function that runs the
 * pipeline stages in order, stops at the first failure, reports it once on stderr as
 * "sendsim: FILE:LINE: what is wrong (what was expected)" and maps the status to an exit
 * code (0 ok, 64 usage, 65 bad data, 66 missing input, 70 internal, 74 I/O). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "allocate.h"
#include "backtest.h"
#include "chart.h"
#include "engine.h"
#include "fit.h"
#include "import.h"
#include "outdir.h"
#include "report.h"
#include "report_alloc.h"
#include "summary.h"
#include "scenario.h"
#include "status.h"
#include "version.h"

static const char USAGE[] =
    "usage: sendsim run SCENARIO.ini [--reps N] [--seed S] [--threads T] [--horizon Y]\n"
    "                                [--out DIR] [--no-charts] [--quiet]\n"
    "       sendsim check SCENARIO.ini\n"
    "       sendsim import --la CODE --sen2 DIR [--sen2-2022 DIR] [--population FILE]\n"
    "                      --out DIR\n"
    "       sendsim backtest SCENARIO.ini [--origins FROM:TO] [--horizon H] [--reps N]\n"
    "                        [--seed S] [--threads T] [--out DIR]\n"
    "       sendsim compare A.ini B.ini [--out DIR] [--reps N] [--seed S] [--threads T]\n"
    "                       [--no-charts] [--quiet]\n"
    "       sendsim --help | --version\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "sendsim: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", USAGE);
    return sim_exit_code(SIM_EUSAGE);
}

static void report_error(const sim_error *err)
{
    char line[1024];

    sim_error_format(err, line, sizeof line);
    fprintf(stderr, "sendsim: %s\n", line);
}

static void report_diag(const sim_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        report_error(&d->items[i]);
    if (d->total > d->n)
        fprintf(stderr, "sendsim: ... and %zu more errors\n", d->total - d->n);
}

/* A whole decimal number in [lo, hi], nothing else; 1 if it is one. */
static int parse_whole_arg(const char *s, unsigned long lo, unsigned long hi,
                           unsigned long *out)
{
    char *end;
    unsigned long v;

    if (s == NULL || *s < '0' || *s > '9')
        return 0;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* 1 if `s` is usable as a directory name: letters, digits, '-', '_', '.', not "." or "..". */
static int plain_name(const char *s)
{
    if (s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (const char *c = s; *c; c++)
        if (!(*c == '-' || *c == '_' || *c == '.' || (*c >= '0' && *c <= '9')
              || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
            return 0;
    return 1;
}

/* The output directory of every command that reads one scenario (run, backtest): `out` when
 * given, else output/NAME, NAME as in DESIGN.md's scenarios/NAME/scenario.ini: the scenario
 * directory's name; else the INI's [scenario] name when it is a plain name; else "scenario". */
static int out_dir_for(const char *out, const char *ini, const scenario *sc, char *buf,
                       size_t n)
{
    char dir[512], *slash;
    const char *name = NULL;

    if (out)
        return (size_t)snprintf(buf, n, "%s", out) >= n ? -1 : 0;
    snprintf(dir, sizeof dir, "%s", ini);
    slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        slash = strrchr(dir, '/');
        name = slash ? slash + 1 : dir;
    }
    if (name == NULL || !plain_name(name))
        name = plain_name(sc->name) ? sc->name : "scenario";
    return (size_t)snprintf(buf, n, "output/%s", name) >= n ? -1 : 0;
}

/* ---- sendsim check ------------------------------------------------------------------- */

static void print_plans(const scenario *sc)
{
    double by_phase[SIM_N_PHASES] = { 0 }, total = 0.0;

    for (int a = 0; a < SIM_N_AGES; a++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++) {
                by_phase[phase_of_age(a)] += sc->caseload[a][n][s];
                total += sc->caseload[a][n][s];
            }
    printf("Plans in January %d: %.0f (", sc->base_year, total);
    for (int p = 0; p < SIM_N_PHASES; p++)
        printf("%s%s %.0f", p ? ", " : "", phase_code(p), by_phase[p]);
    printf(")\n");
}

static void print_history(const scenario *sc)
{
    static const char *const NAME[SIM_N_MEASURES] = { "caseload", "new_plans", "ceased" };

    printf("History: %zu rows\n", sc->n_history);
    for (int m = 0; m < SIM_N_MEASURES; m++) {
        size_t n = 0;
        int first = 0, last = 0;
        for (size_t i = 0; i < sc->n_history; i++)
            if (sc->history[i].measure == (hist_measure)m) {
                first = n == 0 || sc->history[i].year < first ? sc->history[i].year : first;
                last = n == 0 || sc->history[i].year > last ? sc->history[i].year : last;
                n++;
            }
        if (n > 0)
            printf("  %-9s %4zu rows, %d-%d\n", NAME[m], n, first, last);
    }
}

static void print_places(const scenario *sc)
{
    double places[SIM_N_GROUPS] = { 0 }, total = 0.0;
    size_t count[SIM_N_GROUPS] = { 0 };

    for (size_t i = 0; i < sc->n_provisions; i++) {
        places[sc->provisions[i].group] += sc->provisions[i].places;
        count[sc->provisions[i].group]++;
        total += sc->provisions[i].places;
    }
    printf("Provisions: %zu, %.0f places in %d\n", sc->n_provisions, total, sc->base_year);
    for (int g = 0; g < SIM_N_GROUPS; g++)
        if (count[g] > 0)
            printf("  %-4s %3zu provisions, %6.0f places\n", group_code(g), count[g], places[g]);
}

/* Waves summed by opening year, in year order. */
static void print_waves(const scenario *sc)
{
    int done = 0, year;

    printf("Waves: %zu rows\n", sc->n_waves);
    while (1) {
        double places = 0.0;
        size_t n = 0;
        year = 0;
        for (size_t i = 0; i < sc->n_waves; i++)
            if (sc->waves[i].open_year > done && (year == 0 || sc->waves[i].open_year < year))
                year = sc->waves[i].open_year;
        if (year == 0)
            break;
        for (size_t i = 0; i < sc->n_waves; i++)
            if (sc->waves[i].open_year == year)
                places += sc->waves[i].places, n++;
        printf("  opening September %d: %+.0f places (%zu rows)\n", year, places, n);
        done = year;
    }
}

/* The settings whose places make most of a high-needs budget: MS, RP, SS, IS, AP and SPI. */
static int headline_setting(sim_setting s)
{
    return s == SET_MS || s == SET_RP || s == SET_SS || s == SET_IS || s == SET_AP
           || s == SET_SPI;
}

/* The settings (only the headline ones when `headline`) and phases that hold base-year plans
 * but have no unit cost, as "IS (SEC, P16);
 * ..." in buf (empty when every one has a cost). Their spend counts as 0, so the briefing's
 * spend would be short of them without a word. */
static void missing_costs(const scenario *sc, int headline, char *buf, size_t n)
{
    double plans[SIM_N_SETTINGS][SIM_N_PHASES] = { { 0.0 } };
    size_t used = 0;

    for (int a = 0; a < SIM_N_AGES; a++)
        for (int k = 0; k < SIM_N_NEEDS; k++)
            for (int s = 0; s < SIM_N_SETTINGS; s++)
                plans[s][phase_of_age(a)] += sc->caseload[a][k][s];
    buf[0] = '\0';
    for (int s = 0; s < SIM_N_SETTINGS; s++) {
        const char *sep = used ? "); " : "";      /* before this setting's first phase */
        if (headline && !headline_setting((sim_setting)s))
            continue;
        for (int p = 0; p < SIM_N_PHASES && used + 32 < n; p++) {
            if (plans[s][p] <= 0.0 || sc->cost[s][p] >= 0.0)
                continue;
            if (sep)
                used += (size_t)snprintf(buf + used, n - used, "%s%s (", sep,
                                         setting_code((sim_setting)s));
            used += (size_t)snprintf(buf + used, n - used, "%s%s", sep ? "" : ", ",
                                     phase_code((sim_phase)p));
            sep = NULL;
        }
    }
    if (used && used + 2 < n)
        snprintf(buf + used, n - used, ")");
}

/* A line on `out` when a scenario with allocation leaves settings that hold plans without a
 * unit cost (`check` lists every one; `run` warns of the headline settings only, as a
 * scenario may leave FE or NEET unpriced on purpose). */
static void warn_missing_costs(const scenario *sc, int headline, FILE *out, const char *prefix)
{
    char gaps[512];

    if (sc->n_provisions == 0)
        return;
    missing_costs(sc, headline, gaps, sizeof gaps);
    if (gaps[0])
        fprintf(out, "%sno unit cost for %s: their spend counts as 0 in cost.csv and the "
                "briefing (add them to costs.csv)\n", prefix, gaps);
}

static void print_summary(const scenario *sc)
{
    printf("Scenario: %s (LA %s)\n", sc->name, sc->la_code);
    printf("Base year: %d, horizon %d years (to %d), %ld replications, seed %lu\n",
           sc->base_year, sc->horizon, sc->base_year + sc->horizon, sc->replications,
           sc->seed);
    print_plans(sc);
    print_history(sc);
    if (sc->pop)
        printf("Population: mid-years %d-%d\n", sc->pop_first_year, sc->pop_last_year);
    else
        printf("Population: none (new plans are projected from counts)\n");
    print_places(sc);
    print_waves(sc);
    printf("Preferences: %s\n", sc->has_preferences ? "from preferences.csv" : "base-year mix");
    warn_missing_costs(sc, 0, stdout, "Costs: ");
    printf("Files:\n");
    for (size_t i = 0; i < sc->n_files; i++)
        printf("  %-11s %08lx %s\n", sc->files[i].role, sc->files[i].crc32, sc->files[i].path);
}

/* Load scenario `ini` into *sc, reporting every problem found when it fails. */
static sim_status load_scenario(const char *ini, scenario **sc)
{
    sim_diag *diag = calloc(1, sizeof *diag);
    sim_status st;

    if (diag == NULL)
        return SIM_EINTERNAL;
    st = scenario_load(ini, sc, diag);
    if (st != SIM_OK)
        report_diag(diag);
    free(diag);
    return st;
}

/* `check` also fits the history, as `run` will: a history the fit cannot use (no new plans,
 * no way to fit cessation) is found here, not after a run has started. */
static sim_status check_fit(const scenario *sc)
{
    fit *f = calloc(1, sizeof *f);
    sim_error err = { 0 };
    sim_status st;

    if (f == NULL)
        return SIM_EINTERNAL;
    st = fit_scenario(sc, f, &err);
    if (st != SIM_OK)
        report_error(&err);
    free(f);
    return st;
}

static int cmd_check(int argc, char **argv)
{
    scenario *sc = NULL;
    sim_status st;

    if (argc == 1 && argv[0][0] == '-')
        return usage_error("check: unknown option '%s'", argv[0]);
    if (argc != 1)
        return usage_error("check takes exactly one SCENARIO.ini%s", "");
    st = load_scenario(argv[0], &sc);
    if (st == SIM_OK)
        st = check_fit(sc);
    if (st == SIM_OK)
        print_summary(sc);
    scenario_free(sc);
    return sim_exit_code(st);
}

/* ---- sendsim backtest ---------------------------------------------------------------- */

static void print_scores(const backtest_result *r, int bands)
{
    printf("%-14s %2s %5s %7s %7s %7s %7s %7s\n", bands ? "age bands" : "total", "h", "n",
           "MAPE", "MdAPE", "bias", "cov80", "cov95");
    for (size_t i = 0; i < r->n_scores; i++) {
        const backtest_score *s = &r->scores[i];
        if (s->bands != bands)
            continue;
        printf("%-14s %2d %5zu", backtest_method_code(s->method), s->horizon, s->n);
        if (s->n == 0) {
            printf("  (no published actuals at this horizon)\n");
            continue;
        }
        printf(" %6.2f%% %6.2f%% %+6.2f%%", s->mape, s->median_ape, s->bias);
        if (s->method == BT_MODEL)
            printf(" %6.1f%% %6.1f%%\n", 100.0 * s->cover80, 100.0 * s->cover95);
        else
            printf(" %7s %7s\n", "-", "-");
    }
}

typedef struct backtest_args {
    const char      *ini, *out;
    unsigned long    threads;
    backtest_options o;
} backtest_args;

/* --origins FROM:TO into b->o; returns 0, or the usage exit code after reporting. */
static int backtest_parse_origins(const char *val, backtest_args *b)
{
    char from[32];
    const char *colon = strchr(val, ':');
    size_t n = colon ? (size_t)(colon - val) : 0;
    unsigned long v, v2;

    if (colon == NULL || n == 0 || n >= sizeof from)
        return usage_error("backtest: --origins '%s' (expected FROM:TO, e.g. 2016:2022)", val);
    memcpy(from, val, n);
    from[n] = '\0';
    if (!parse_whole_arg(from, 1900, 2200, &v) || !parse_whole_arg(colon + 1, 1900, 2200, &v2)
        || v > v2)
        return usage_error("backtest: --origins '%s' (expected FROM:TO, years with "
                           "FROM <= TO, e.g. 2016:2022)", val);
    b->o.origin_from = (int)v;
    b->o.origin_to = (int)v2;
    return 0;
}

/* One option of backtest with its value; returns 0, or the usage exit code after reporting. */
static int backtest_parse_option(const char *a, const char *val, backtest_args *b)
{
    unsigned long v;

    if (strcmp(a, "--origins") == 0)
        return backtest_parse_origins(val, b);
    if (strcmp(a, "--out") == 0) {
        b->out = val;
    } else if (strcmp(a, "--horizon") == 0) {
        if (!parse_whole_arg(val, 1, 20, &v))
            return usage_error("backtest: --horizon '%s' (expected a whole number 1-20)", val);
        b->o.horizon = (int)v;
    } else if (strcmp(a, "--reps") == 0) {
        if (!parse_whole_arg(val, 10, 1000000, &v))
            return usage_error("backtest: --reps '%s' (expected a whole number "
                               "10-1000000)", val);
        b->o.reps = (long)v;
    } else if (strcmp(a, "--seed") == 0) {
        if (!parse_whole_arg(val, 0, 4294967295UL, &b->o.seed))
            return usage_error("backtest: --seed '%s' (expected a whole number "
                               "0-4294967295, as for run)", val);
    } else if (strcmp(a, "--threads") == 0) {
        if (!parse_whole_arg(val, 1, 256, &b->threads))
            return usage_error("backtest: --threads '%s' (expected 1-256)", val);
    } else {
        return usage_error("backtest: unknown option '%s'", a);
    }
    return 0;
}

/* The default --threads: every online core (1 if the system cannot say). */
static unsigned long all_cores(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    return cores > 0 ? (unsigned long)cores : 1;
}

/* Parse backtest's arguments into *b; returns 0, or the usage exit code after reporting. */
/* 1 for an option backtest takes (each with a value). */
static int backtest_option(const char *a)
{
    static const char *const OPTS[] = { "--origins", "--out", "--horizon", "--reps", "--seed",
                                        "--threads", NULL };

    for (const char *const *o = OPTS; *o; o++)
        if (strcmp(a, *o) == 0)
            return 1;
    return 0;
}

static int backtest_parse(int argc, char **argv, backtest_args *b)
{
    int rc;

    b->threads = all_cores();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            if (b->ini != NULL)
                return usage_error("backtest takes one SCENARIO.ini (extra argument '%s')", a);
            b->ini = a;
            continue;
        }
        if (!backtest_option(a))
            return usage_error("backtest: unknown option '%s' (expected --origins, --horizon, "
                               "--reps, --seed, --threads or --out)", a);
        if (val == NULL)
            return usage_error("backtest: option '%s' needs a value", a);
        i++;
        if ((rc = backtest_parse_option(a, val, b)) != 0)
            return rc;
    }
    if (b->ini == NULL)
        return usage_error("backtest needs a SCENARIO.ini%s", "");
    return 0;
}

static int cmd_backtest(int argc, char **argv)
{
    backtest_args b = { .o = { .horizon = 0, .reps = 2000, .seed = 1 } };   /* 0: by history */
    char dir[1024];
    size_t threads;
    backtest_result r;
    scenario *sc = NULL;
    sim_error err = { 0 };
    sim_status st;
    int rc;

    if ((rc = backtest_parse(argc, argv, &b)) != 0)
        return rc;
    if ((st = load_scenario(b.ini, &sc)) != SIM_OK)
        return sim_exit_code(st);
    threads = (size_t)b.threads;
    b.o.project_ctx = &threads;
    memset(&r, 0, sizeof r);
    st = out_dir_for(b.out, b.ini, sc, dir, sizeof dir) == 0 ? SIM_OK
         : sim_error_set(&err, SIM_EUSAGE, NULL, 0, "--out", "the output directory's path is "
                         "longer than %zu characters", sizeof dir - 1);
    if (st == SIM_OK)
        st = outdir_make(dir, &err);   /* before the work, so a bad --out fails fast */
    if (st == SIM_OK)
        st = backtest_run(sc, &b.o, &r, &err);
    if (st == SIM_OK)
        st = backtest_write(&r, dir, &err);
    if (st != SIM_OK) {
        report_error(&err);
    } else {
        printf("Backtest of %s: origins %d-%d, horizons 1-%d, %ld replications\n", sc->name,
               r.origin_from, r.origin_to, r.horizon, r.reps);
        fputs(r.notes, stdout);        /* a shortened horizon, skipped origins; often "" */
        print_scores(&r, 0);
        print_scores(&r, 1);
        printf("Wrote %s/backtest.csv, backtest_summary.csv, backtest_points.csv, "
               "backtest_origins.csv\n", dir);
    }
    backtest_result_free(&r);
    scenario_free(sc);
    return sim_exit_code(st);
}

/* ---- sendsim run --------------------------------------------------------------------- */

typedef struct run_args {
    const char   *ini, *out;
    unsigned long reps, seed, threads, horizon;
    int           has_reps, has_seed, has_horizon, quiet;
    int           no_charts, no_alloc, no_waves;  /* the last two hidden, for `make bench` */
} run_args;

/* Parse run's arguments into *a; returns 0, or the usage exit code after reporting. */
/* The numeric run option argv[*i] (--reps, --seed, --threads, --horizon) with its value:
 * returns -1 when argv[*i] is none of them, 0 when stored (moving *i past the value), else
 * the usage exit code. */
static int run_number(int argc, char **argv, int *i, run_args *a)
{
    static const struct { const char *name; unsigned long lo, hi; } NUM[] = {
        { "--reps", 1, 1000000 }, { "--seed", 0, 4294967295UL }, { "--threads", 1, 256 },
        { "--horizon", 1, 50 },
    };
    unsigned long *dst[] = { &a->reps, &a->seed, &a->threads, &a->horizon };
    int *has[] = { &a->has_reps, &a->has_seed, NULL, &a->has_horizon };
    const char *o = argv[*i];
    size_t k;

    for (k = 0; k < sizeof NUM / sizeof NUM[0] && strcmp(o, NUM[k].name) != 0; k++)
        ;
    if (k == sizeof NUM / sizeof NUM[0])
        return -1;
    if (*i + 1 >= argc || !parse_whole_arg(argv[*i + 1], NUM[k].lo, NUM[k].hi, dst[k])) {
        fprintf(stderr, "sendsim: %s needs a whole number from %lu to %lu, got '%s'\n",
                o, NUM[k].lo, NUM[k].hi, *i + 1 < argc ? argv[*i + 1] : "");
        fputs(USAGE, stderr);
        return sim_exit_code(SIM_EUSAGE);
    }
    if (has[k])
        *has[k] = 1;
    ++*i;
    return 0;
}

static int run_parse(int argc, char **argv, run_args *a)
{
    int rc;

    a->threads = all_cores();
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--quiet") == 0 || strcmp(o, "--no-charts") == 0) {
            a->quiet |= o[2] == 'q';
            a->no_charts |= o[2] == 'n';
        } else if (strcmp(o, "--no-alloc") == 0 || strcmp(o, "--no-waves") == 0) {
            a->no_alloc |= o[5] == 'a';
            a->no_waves |= o[5] == 'w';
        } else if (strcmp(o, "--out") == 0) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0')
                return usage_error("--out needs a directory%s", "");
            a->out = argv[++i];
        } else if ((rc = run_number(argc, argv, &i, a)) >= 0) {
            if (rc != 0)
                return rc;
        } else if (o[0] == '-') {
            return usage_error("run: unknown option '%s'", o);
        } else if (a->ini != NULL) {
            return usage_error("run: more than one scenario given ('%s')", o);
        } else {
            a->ini = o;
        }
    }
    if (a->ini == NULL)
        return usage_error("run needs a SCENARIO.ini%s", "");
    return 0;
}

static void run_progress(void *ctx, size_t done, size_t total)
{
    int width = 40, fill = (int)(done * 40 / (total ? total : 1));

    (void)ctx;
    fprintf(stderr, "\r[%.*s%*s] year %zu/%zu", fill,
            "########################################", width - fill, "", done, total);
    if (done == total)
        fputc('\n', stderr);
}

static double seconds_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void join_args(int argc, char **argv, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "sendsim run");

    for (int i = 0; i < argc && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, " %s", argv[i]);
}

/* Refuse up front a run whose states and roll-ups would not fit in physical memory. */
static sim_status run_fits_memory(const run_args *a, const scenario *sc, const engine *e,
                                  sim_error *err)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    double need = (double)engine_bytes(e, (size_t)sc->replications)
                  + (double)summary_bytes((size_t)sc->replications, sc->horizon, a->threads);

    if (pages > 0 && size > 0 && need > 0.9 * (double)pages * (double)size)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "replications",
                             "%ld replications need about %.1f GB of memory, more than this "
                             "machine has (%.1f GB); use fewer --reps", sc->replications,
                             need / 1e9, (double)pages * (double)size / 1e9);
    return SIM_OK;
}

/* Replications used for each re-run of the wave analysis (a full run per candidate date). */
enum { RUN_WAVE_REPS = 1000 };

/* The allocation after the main run: what each wave buys and its latest safe opening, with a
 * note for run.txt saying how it was computed. */
static sim_status run_waves(const run_args *a, const scenario *sc, const fit *f,
                            alloc_wave_row **rows, size_t *n, char *note, size_t note_n,
                            sim_error *err)
{
    alloc_run_options o = { (size_t)sc->replications, a->threads, sc->seed, sc->horizon };
    sim_status st;

    if (o.n_reps > RUN_WAVE_REPS)
        o.n_reps = RUN_WAVE_REPS;
    st = alloc_waves(sc, f, &o, rows, n, err);
    snprintf(note, note_n, "allocation: provisions %zu, waves %zu; waves.csv from re-runs of "
             "%zu replications (same seed) per wave and candidate opening year\n",
             sc->n_provisions, sc->n_waves, o.n_reps);
    return st;
}

/* The briefing pack from the CSVs just written; any failure is an I/O error (exit 74). */
static sim_status run_charts(const scenario *sc, const char *dir, sim_error *err)
{
    char la[192], source[160];
    chart_meta meta = { 0 };
    sim_status st;

    snprintf(la, sizeof la, "%s (%s)", sc->name, sc->la_code);
    snprintf(source, sizeof source, "DfE SEN2 %d%s", sc->base_year,
             sc->pop ? ", ONS subnational population projections" : "");
    meta.scenario = sc->name;
    meta.la = la;
    meta.base_year = sc->base_year;
    meta.replications = sc->replications;
    meta.seed = sc->seed;
    meta.source = source;
    meta.risk_target = sc->risk_target;
    st = chart_pack(dir, &meta, err);
    return st == SIM_OK ? SIM_OK : SIM_EIO;
}

/* What one run builds and then writes out; every pointer owned, freed by run_state_free. */
typedef struct run_state {
    fit            *f;
    engine         *e;
    summary        *sm;
    alloc          *al;
    alloc_result   *ar;
    alloc_wave_row *waves;
    size_t          n_waves;
    char            note[1024];     /* allocation lines for run.txt */
    engine_work     work;           /* the main run's totals */
} run_state;

static void run_state_free(run_state *rs)
{
    free(rs->waves);
    alloc_result_free(rs->ar);
    summary_free(rs->sm);
    engine_free(rs->e);
    alloc_free(rs->al);
    free(rs->f);
}

/* Fit, prepare the allocation (if there are provisions) and the engine, and simulate: one
 * engine run feeds the summary and, through the allocation sink, the allocation roll-ups. */
static sim_status run_simulate(const run_args *a, const scenario *sc, run_state *rs,
                               sim_error *err)
{
    engine_placer pl;
    sim_status st = fit_scenario(sc, rs->f, err);

    if (st == SIM_OK && !a->quiet && !a->no_alloc)
        warn_missing_costs(sc, 1, stderr, "sendsim: warning: ");
    if (st == SIM_OK && rs->f->growth_prior && !a->quiet)
        fprintf(stderr, "sendsim: warning: %s publishes new plans only for %d-%d, too few "
                "years for a growth trend: growth 0 with se 0.10 and an assumed yearly shock "
                "(run.txt, \"sources\")\n", sc->name, rs->f->window_first, rs->f->window_last);
    if (st == SIM_OK && sc->n_provisions > 0 && !a->no_alloc)
        st = alloc_prepare(sc, sc->horizon, &rs->al, err);
    if (st == SIM_OK && rs->al)
        pl = alloc_placer(rs->al);
    if (st == SIM_OK)
        st = engine_prepare(sc, rs->f, rs->al ? &pl : NULL, sc->horizon, &rs->e, err);
    if (st == SIM_OK)
        st = run_fits_memory(a, sc, rs->e, err);
    if (st == SIM_OK) {
        engine_options opt = { .n_reps = (size_t)sc->replications, .seed = sc->seed,
                               .threads = a->threads, .horizon = sc->horizon,
                               .work = &rs->work };
        engine_sink sink;
        if (!a->quiet && isatty(2))
            opt.progress = run_progress;
        rs->sm = summary_alloc(sc, opt.n_reps, sc->horizon, opt.threads);
        sink = summary_sink(rs->sm);
        if (rs->al) {                   /* one run feeds both: allocation passes calls on */
            rs->ar = alloc_result_new(rs->al, opt.n_reps, sc->horizon, opt.threads);
            sink = alloc_sink(rs->ar, &sink);
        }
        st = engine_run(rs->e, &opt, &sink, err);
    }
    if (st == SIM_OK && rs->al && sc->n_waves > 0 && !a->no_waves)
        st = run_waves(a, sc, rs->f, &rs->waves, &rs->n_waves, rs->note, sizeof rs->note, err);
    if (st == SIM_OK && rs->al)         /* ages a group does not limit (allocate.h) */
        alloc_free_ages_note(rs->al, rs->note + strlen(rs->note),
                             sizeof rs->note - strlen(rs->note));
    return st;
}

/* Write the CSVs and run.txt into `dir`, then the charts. */
/* Every file a run can write, NULL-terminated in list[] (at most n names, kept in names[]):
 * what publishing a run's files removes from its directory when this run did not write it. */
static void run_output_names(char names[][32], const char **list, size_t n)
{
    static const char *const CSVS[] = { "demand.csv", "run.txt", "shortfall.csv",
                                        "provision.csv", "cost.csv", "waves.csv", NULL };
    size_t k = 0;

    for (const char *const *f = CSVS; *f && k + 1 < n; f++)
        snprintf(names[k++], 32, "%s", *f);
    k += chart_pack_files(names + k, n - 1 - k);
    for (size_t i = 0; i < k; i++)
        list[i] = names[i];
    list[k] = NULL;
}

/* Write the CSVs and run.txt into `dir` (the staging directory), then the charts. */
static sim_status run_outputs(const run_args *a, const scenario *sc, const run_state *rs,
                              const char *dir, const report_run *run, sim_error *err)
{
    sim_status st = report_write(dir, sc, rs->f, rs->sm, run, err);

    if (st == SIM_OK && rs->ar)
        st = report_alloc_write(dir, sc, rs->ar, rs->waves, rs->n_waves, err);
    if (st == SIM_OK && !a->no_charts)
        st = run_charts(sc, dir, err);
    return st;
}

/* An error about a file in the staging directory names it where it was going, in `dir`. */
static void unstage_error(sim_error *err, const char *stage, const char *dir)
{
    size_t n = strlen(stage);
    char file[sizeof err->file];

    if (err == NULL || strncmp(err->file, stage, n) != 0)
        return;
    if ((size_t)snprintf(file, sizeof file, "%.*s%s", (int)(sizeof file - 1), dir,
                         err->file + n) < sizeof file)
        memcpy(err->file, file, sizeof file);
}

/* Write a run's outputs into `dir` as one set: staged, then published (outdir.h). */
static sim_status run_publish(const run_args *a, const scenario *sc, const run_state *rs,
                              const char *dir, const report_run *run, sim_error *err)
{
    char stage[1100], names[64][32];
    const char *list[65];
    sim_status st = outdir_stage(dir, stage, sizeof stage, err);

    if (st == SIM_OK)
        st = run_outputs(a, sc, rs, stage, run, err);
    if (st != SIM_OK) {
        unstage_error(err, stage, dir);
        outdir_discard(stage);
        return st;
    }
    run_output_names(names, list, 64);
    st = outdir_publish(stage, dir, list, err);
    if (st == SIM_OK && !a->quiet) {
        fprintf(stderr, "sendsim: wrote %s/demand.csv%s%s and %s/run.txt\n", dir,
                rs->ar ? ", shortfall.csv, provision.csv, cost.csv" : "",
                rs->ar && rs->waves ? ", waves.csv" : "", dir);
        if (!a->no_charts)
            fprintf(stderr, "sendsim: wrote the charts and %s/briefing.pdf\n", dir);
    }
    return st;
}

/* The run's output directory, made now (before minutes of simulation) so that a directory
 * that cannot be written is found at once. */
static sim_status run_dir(const run_args *a, const scenario *sc, char *dir, size_t n,
                          sim_error *err)
{
    sim_status st;

    if (out_dir_for(a->out, a->ini, sc, dir, n) != 0)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "--out",
                             "the output directory's path is longer than %zu characters", n - 1);
    st = outdir_make(dir, err);
    if (st == SIM_OK && access(dir, W_OK | X_OK) != 0)
        st = sim_error_set(err, SIM_EIO, dir, 0, NULL, "cannot write here: %s",
                           strerror(errno));
    return st;
}

/* The pipeline after loading: fit, engine (+ allocation), summary, report, charts. */
static sim_status run_pipeline(const run_args *a, scenario *sc, int argc, char **argv,
                               double t0, sim_error *err)
{
    run_state rs = { 0 };
    char cmd[2048], dir[1024];
    sim_status st;

    if ((st = run_dir(a, sc, dir, sizeof dir, err)) != SIM_OK)
        return st;
    rs.f = calloc(1, sizeof *rs.f);
    if (rs.f == NULL)
        return SIM_EINTERNAL;
    st = run_simulate(a, sc, &rs, err);
    if (st == SIM_OK) {
        const double rep_years = (double)sc->replications * sc->horizon;
        report_run run = { cmd, sc->seed, (size_t)sc->replications, a->threads, sc->horizon,
                           0.0, rs.note, (double)rs.work.draws / rep_years,
                           (double)rs.work.occupied / rep_years };
        join_args(argc, argv, cmd, sizeof cmd);
        run.wall_seconds = seconds_now() - t0;
        st = run_publish(a, sc, &rs, dir, &run, err);
    }
    run_state_free(&rs);
    return st;
}

static int cmd_run(int argc, char **argv)
{
    run_args a = { 0 };
    sim_error err = { 0 };
    scenario *sc = NULL;
    double t0 = seconds_now();
    sim_status st;
    int rc;

    if ((rc = run_parse(argc, argv, &a)) != 0)
        return rc;
    st = load_scenario(a.ini, &sc);
    if (st == SIM_OK) {
        if (a.has_reps)
            sc->replications = (long)a.reps;
        if (a.has_seed)
            sc->seed = a.seed;
        if (a.has_horizon)
            sc->horizon = (int)a.horizon;
        st = run_pipeline(&a, sc, argc, argv, t0, &err);
        if (st != SIM_OK)
            report_error(&err);
    }
    scenario_free(sc);
    return sim_exit_code(st);
}

/* ---- sendsim compare ----------------------------------------------------------------- */

/* Load, fit and simulate one side of a comparison with the shared options. */
static sim_status compare_side(const char *ini, const run_args *a, const scenario *first,
                               scenario **sc, alloc_result **r, sim_error *err)
{
    fit *f = calloc(1, sizeof *f);
    sim_status st = f ? load_scenario(ini, sc) : SIM_EINTERNAL;

    if (st != SIM_OK && f)
        *err = (sim_error){ 0 };        /* reported already */
    if (st == SIM_OK && first && (*sc)->base_year != first->base_year)
        st = sim_error_set(err, SIM_EDATA, ini, 0, "base_year", "base year %d differs from the "
                           "first scenario's %d (expected the same base year, so years "
                           "line up)", (*sc)->base_year, first->base_year);
    if (st == SIM_OK && (*sc)->n_provisions == 0)
        st = sim_error_set(err, SIM_EDATA, ini, 0, "provisions", "has no provisions (compare "
                           "sets two scenarios' shortfall, out-of-borough places and spend "
                           "side by side, so both need [data] provisions)");
    if (st == SIM_OK)
        st = fit_scenario(*sc, f, err);
    if (st == SIM_OK) {
        const scenario *o = first ? first : *sc;
        alloc_run_options opt = { a->has_reps ? a->reps : (size_t)o->replications, a->threads,
                                  a->has_seed ? a->seed : o->seed,
                                  first && first->horizon < (*sc)->horizon ? first->horizon
                                                                           : (*sc)->horizon };
        (*sc)->horizon = opt.horizon;
        st = alloc_simulate(*sc, f, &opt, NULL, r, err);
    }
    free(f);
    return st;
}

/* Parse compare's arguments: the first scenario and the options into *a (run's parser, so
 * both commands read options alike), the second scenario into *ini_b. Returns 0, or the usage
 * exit code after reporting. */
static int compare_parse(int argc, char **argv, run_args *a, const char **ini_b)
{
    char *rest[64];
    int n_rest = 0, n_pos = 0, rc;

    if (argc > 64)
        return usage_error("compare: too many arguments%s", "");
    /* run_parse takes one scenario: hand it everything but the second one */
    *ini_b = NULL;
    for (int i = 0; i < argc; i++) {
        int takes_value = strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "--reps") == 0
                          || strcmp(argv[i], "--seed") == 0 || strcmp(argv[i], "--threads") == 0;
        if (argv[i][0] == '-' && !takes_value && strcmp(argv[i], "--no-charts") != 0
            && strcmp(argv[i], "--quiet") != 0)
            return usage_error("compare: unknown option '%s' (expected --out, --reps, --seed, "
                               "--threads, --no-charts or --quiet)", argv[i]);
        if (argv[i][0] != '-' && n_pos++ == 1) {
            *ini_b = argv[i];
            continue;
        }
        rest[n_rest++] = argv[i];
        if (takes_value && i + 1 < argc)
            rest[n_rest++] = argv[++i];
    }
    if (n_pos != 2)
        return usage_error("compare needs two scenarios, A.ini B.ini (got %s)",
                           n_pos < 2 ? "fewer" : "more");
    return (rc = run_parse(n_rest, rest, a)) != 0 ? rc : 0;
}

/* The compare chart from the compare.csv just written; any failure is an I/O error. */
static sim_status compare_chart(const run_args *a, const scenario *sa, const scenario *sb,
                                const alloc_result *ra, const char *dir, sim_error *err)
{
    chart_meta meta = { 0 };

    meta.scenario = sa->name;
    meta.base_year = sa->base_year;
    meta.replications = (long)alloc_result_reps(ra);
    meta.seed = a->has_seed ? a->seed : sa->seed;
    meta.risk_target = sa->risk_target;
    return chart_compare(dir, sa->name, sb->name, &meta, err) == SIM_OK ? SIM_OK : SIM_EIO;
}

/* compare.csv and its chart into `dir` as one set, staged and published (outdir.h). */
static sim_status compare_publish(const run_args *a, const scenario *sa, const scenario *sb,
                                  const alloc_result *ra, const alloc_compare_row *rows,
                                  size_t n, const char *dir, sim_error *err)
{
    static const char *const NAMES[] = { "compare.csv", "compare.png", "compare.svg", NULL };
    char stage[1100];
    sim_status st = outdir_stage(dir, stage, sizeof stage, err);

    if (st == SIM_OK)
        st = report_compare_write(stage, rows, n, err);
    if (st == SIM_OK && !a->no_charts)
        st = compare_chart(a, sa, sb, ra, stage, err);
    if (st != SIM_OK) {
        unstage_error(err, stage, dir);
        outdir_discard(stage);
        return st;
    }
    return outdir_publish(stage, dir, NAMES, err);
}

/* sendsim compare A.ini B.ini [--out DIR] [--reps N] [--seed S] [--threads T] [--no-charts]
 * [--quiet]: both on common random numbers (same seed and replications). */
static int cmd_compare(int argc, char **argv)
{
    run_args a = { 0 };
    const char *ini_b = NULL;
    scenario *sa = NULL, *sb = NULL;
    alloc_result *ra = NULL, *rb = NULL;
    alloc_compare_row *rows = NULL;
    sim_error err = { 0 };
    char dir[1024];
    sim_status st;
    int rc;

    if ((rc = compare_parse(argc, argv, &a, &ini_b)) != 0)
        return rc;
    st = compare_side(a.ini, &a, NULL, &sa, &ra, &err);
    if (st == SIM_OK)
        st = compare_side(ini_b, &a, sa, &sb, &rb, &err);
    if (st == SIM_OK) {
        size_t n;
        rows = calloc(3 * (size_t)alloc_result_horizon(ra) + 1, sizeof *rows);
        n = rows ? alloc_compare(ra, rb, rows) : 0;
        if ((size_t)snprintf(dir, sizeof dir, "%s", a.out ? a.out : "output/compare")
                >= sizeof dir)
            st = sim_error_set(&err, SIM_EUSAGE, NULL, 0, "--out", "the output directory's "
                               "path is longer than %zu characters", sizeof dir - 1);
        if (st == SIM_OK)
            st = rows == NULL ? SIM_EINTERNAL : compare_publish(&a, sa, sb, ra, rows, n, dir,
                                                                &err);
    }
    if (st == SIM_OK && !a.quiet)
        fprintf(stderr, "sendsim: wrote %s/compare.csv%s\n", dir,
                a.no_charts ? "" : " and compare.png/.svg");
    if (st != SIM_OK && (err.msg[0] || err.file[0]))
        report_error(&err);
    free(rows);
    alloc_result_free(ra);
    alloc_result_free(rb);
    scenario_free(sa);
    scenario_free(sb);
    return sim_exit_code(st);
}

/* ---- sendsim import ------------------------------------------------------------------ */

/* sendsim import --la CODE --sen2 DIR [--sen2-2022 DIR] [--population FILE] --out DIR */
static int cmd_import(int argc, char **argv)
{
    import_options opt = { NULL, NULL, NULL, NULL, NULL };
    import_report rep;
    sim_error err = { "", 0, "", "" };
    sim_status st;

    for (int i = 0; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--la") == 0 ? &opt.la
                          : strcmp(argv[i], "--sen2") == 0 ? &opt.sen2_dir
                          : strcmp(argv[i], "--sen2-2022") == 0 ? &opt.sen2_2022_dir
                          : strcmp(argv[i], "--population") == 0 ? &opt.population
                          : strcmp(argv[i], "--out") == 0 ? &opt.out_dir : NULL;
        if (slot == NULL)
            return usage_error("import: unknown option '%s'", argv[i]);
        if (i + 1 >= argc)
            return usage_error("import: %s needs a value", argv[i]);
        *slot = argv[++i];
    }
    if (!opt.la || !opt.sen2_dir || !opt.out_dir)
        return usage_error("import needs --la CODE, --sen2 DIR and --out DIR%s", "");
    st = import_run(&opt, &rep, &err);
    if (st == SIM_OK)
        fputs(rep.text, stdout);
    else
        report_error(&err);
    import_report_free(&rep);
    return sim_exit_code(st);
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();        /* every GSL status is checked */

    if (argc < 2)
        return usage_error("no command given%s", "");
    /* `sendsim --help`, and `sendsim COMMAND --help` anywhere on its line */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sendsim %s\n", SENDSIM_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    if (strcmp(argv[1], "backtest") == 0)
        return cmd_backtest(argc - 2, argv + 2);
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "import") == 0)
        return cmd_import(argc - 2, argv + 2);
    if (strcmp(argv[1], "compare") == 0)
        return cmd_compare(argc - 2, argv + 2);
    return usage_error("unknown command '%s'", argv[1]);
}
