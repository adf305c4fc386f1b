/* report.c - write demand.csv and run.txt, atomically (temporary name, then rename). */
#include "report.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outdir.h"
#include "version.h"

/* report_number() for v whose thousandths are a whole number k (nearly every figure sendsim
 * writes: counts, and quantiles between two counts): v then rounds to k / 1000 at 3 decimals,
 * so printing k's digits gives what "%.3f" would, without snprintf's cost (a demand.csv has
 * some 30,000 numbers). Returns 0, writing nothing, for any other v or a small buffer. */
static int thousandths(double v, char *buf, size_t n)
{
    const double m = v * 1000.0;
    char digits[24];
    size_t len = 0, at = 0;
    uint64_t k, whole;
    unsigned frac;

    if (!(fabs(m) < 9e15) || m != rint(m) || n < 24)
        return 0;
    k = (uint64_t)fabs(m);
    whole = k / 1000;
    frac = (unsigned)(k % 1000);
    if (m < 0.0 && k != 0)
        buf[at++] = '-';
    do {
        digits[len++] = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole != 0);
    while (len > 0)
        buf[at++] = digits[--len];
    if (frac != 0) {
        buf[at++] = '.';
        for (unsigned d = 100; d != 0 && frac != 0; d /= 10) {
            buf[at++] = (char)('0' + frac / d);
            frac %= d;
        }
    }
    buf[at] = '\0';
    return 1;
}

void report_number(double v, char *buf, size_t n)
{
    char *dot, *end;

    if (thousandths(v, buf, n))
        return;
    snprintf(buf, n, "%.3f", v);
    dot = strchr(buf, '.');
    if (dot == NULL)
        return;
    end = buf + strlen(buf) - 1;
    while (end > dot && *end == '0')
        *end-- = '\0';
    if (end == dot)
        *end = '\0';
    if (strcmp(buf, "-0") == 0)
        strcpy(buf, "0");
}

static void put_row(FILE *out, int year, const char *p, const char *n, const char *s,
                    const summary_band *b)
{
    char num[64];

    fprintf(out, "%d,%s,%s,%s", year, p, n, s);
    report_number(b->mean, num, sizeof num);
    fprintf(out, ",%s", num);
    report_number(b->sd, num, sizeof num);
    fprintf(out, ",%s", num);
    for (int j = 0; j < SUMMARY_N_Q; j++) {
        report_number(b->q[j], num, sizeof num);
        fprintf(out, ",%s", num);
    }
    fputc('\n', out);
}

static void put_published(FILE *out, int year, const char *phase, double v)
{
    summary_band b = { .mean = v, .sd = 0.0 };

    for (int j = 0; j < SUMMARY_N_Q; j++)
        b.q[j] = v;
    put_row(out, year, phase, "ALL", "ALL", &b);
}

/* ---- history rows --------------------------------------------------------------------- */

/* The sum of published caseload rows of `year` that tile ages lo..hi exactly (each row inside
 * the range, consecutive, no gap), the widest row first at each step; 1 if found. */
static int tile(const scenario *sc, int year, int lo, int hi, double *sum)
{
    int at = lo;

    *sum = 0.0;
    while (at <= hi) {
        const hist_row *best = NULL;
        for (size_t i = 0; i < sc->n_history; i++) {
            const hist_row *r = &sc->history[i];
            if (r->measure != MEASURE_CASELOAD || r->year != year || r->age_from != at
                || r->age_to > hi)
                continue;
            if (best == NULL || r->age_to > best->age_to)
                best = r;
        }
        if (best == NULL)
            return 0;
        *sum += best->count;
        at = best->age_to + 1;
    }
    return 1;
}

static void put_history(FILE *out, const scenario *sc)
{
    int first = sc->base_year;

    for (size_t i = 0; i < sc->n_history; i++)
        if (sc->history[i].measure == MEASURE_CASELOAD && sc->history[i].year < first)
            first = sc->history[i].year;
    for (int y = first; y < sc->base_year; y++) {
        double v;
        if (!tile(sc, y, SIM_MIN_AGE, SIM_MAX_AGE, &v))
            continue;
        put_published(out, y, "ALL", v);
        for (int p = 0; p < SIM_N_PHASES; p++)
            if (tile(sc, y, phase_first_age((sim_phase)p), phase_last_age((sim_phase)p), &v))
                put_published(out, y, phase_code((sim_phase)p), v);
    }
}

/* ---- projected and base-year rows -------------------------------------------------------- */

static const char *code_of(int i, int all, const char *(*code)(int))
{
    return i == all ? "ALL" : code(i);
}

static const char *phase_c(int i) { return phase_code((sim_phase)i); }
static const char *need_c(int i) { return need_code((sim_need)i); }
static const char *setting_c(int i) { return setting_code((sim_setting)i); }

/* ALL first, then the codes in order: index k of 0..n maps to n (ALL) for k = 0. */
static int all_first(int k, int n) { return k == 0 ? n : k - 1; }

sim_status report_demand(FILE *out, const scenario *sc, const summary *s)
{
    fputs("year,phase,need,setting,mean,sd,p025,p05,p10,p25,p50,p75,p90,p95,p975\n", out);
    put_history(out, sc);
    for (int h = 0; h <= summary_horizon(s); h++)
        for (int pk = 0; pk <= SIM_N_PHASES; pk++)
            for (int nk = 0; nk <= SIM_N_NEEDS; nk++)
                for (int sk = 0; sk <= SIM_N_SETTINGS; sk++) {
                    int p = all_first(pk, SIM_N_PHASES), n = all_first(nk, SIM_N_NEEDS);
                    int st = all_first(sk, SIM_N_SETTINGS);
                    size_t i = summary_series(p, n, st);
                    if (!summary_present(s, h, i) && !(p == SIM_N_PHASES
                        && n == SIM_N_NEEDS && st == SIM_N_SETTINGS))
                        continue;       /* the grand total is always written */
                    put_row(out, summary_base_year(s) + h, code_of(p, SIM_N_PHASES, phase_c),
                            code_of(n, SIM_N_NEEDS, need_c),
                            code_of(st, SIM_N_SETTINGS, setting_c), summary_get(s, h, i));
                }
    return ferror(out) ? SIM_EIO : SIM_OK;
}

sim_status report_run_txt(FILE *out, const scenario *sc, const fit *f, const report_run *run)
{
    fprintf(out, "sendsim %s\n", SENDSIM_VERSION);
    fprintf(out, "command: %s\n", run->command_line ? run->command_line : "");
    fprintf(out, "scenario: %s (LA %s), base year %d\n", sc->name, sc->la_code, sc->base_year);
    fprintf(out, "horizon: %d\nseed: %lu\nreplications: %zu\nthreads: %zu\n", run->horizon,
            run->seed, run->reps, run->threads);
    fprintf(out, "rng: GSL taus2, replication i seeded from (seed, i)\n");
    fprintf(out, "placement: %s; settings kept within a phase, re-chosen at 4, 11, 16, 19 as "
            "engine.h describes\n", sc->has_preferences ? "preferences.csv"
            : "base-year mix of each phase and need");
    fprintf(out, "wall time: %.3f s\n", run->wall_seconds);
    if (run->draws > 0.0)
        fprintf(out, "work: %.1f random draws and %.1f occupied cells per replication-year\n",
                run->draws, run->occupied);
    fprintf(out, "\ninputs (CRC-32):\n");
    for (size_t i = 0; i < sc->n_files; i++)
        fprintf(out, "  %-12s %08lx  %s\n", sc->files[i].role, sc->files[i].crc32,
                sc->files[i].path);
    fprintf(out, "\nfit:\n");
    fprintf(out, "  growth g = %.6f per year (se %.6f), new plans %d-%d, %s\n", f->growth,
            f->growth_se, f->window_first, f->window_last,
            f->per_capita ? "per resident child" : "on counts");
    fprintf(out, "  damping %.3f, incidence multiplier %.3f, overdispersion v = %.6f\n",
            sc->damping, sc->incidence_multiplier, f->overdispersion);
    fprintf(out, "  age  joiners  cease  transfer\n");
    for (int a = 0; a < SIM_N_AGES; a++)
        fprintf(out, "  %3d %8.2f %6.4f %9.4f\n", a, f->joiners[a], f->cease[a],
                f->transfer[a]);
    if (run->notes && run->notes[0])
        fprintf(out, "\n%s%s", run->notes,
                run->notes[strlen(run->notes) - 1] == '\n' ? "" : "\n");
    fprintf(out, "\nsources:\n%s", f->sources);
    if (f->sources[0] && f->sources[strlen(f->sources) - 1] != '\n')
        fputc('\n', out);
    return ferror(out) ? SIM_EIO : SIM_OK;
}

typedef struct demand_arg { const scenario *sc; const summary *s; } demand_arg;
typedef struct run_arg { const scenario *sc; const fit *f; const report_run *run; } run_arg;

static sim_status write_demand(FILE *fp, const void *arg)
{
    const demand_arg *a = arg;
    return report_demand(fp, a->sc, a->s);
}

static sim_status write_run(FILE *fp, const void *arg)
{
    const run_arg *a = arg;
    return report_run_txt(fp, a->sc, a->f, a->run);
}

sim_status report_write(const char *dir, const scenario *sc, const fit *f, const summary *s,
                        const report_run *run, sim_error *err)
{
    demand_arg da = { sc, s };
    run_arg ra = { sc, f, run };
    const outdir_file files[2] = { { "demand.csv", write_demand, &da },
                                   { "run.txt", write_run, &ra } };
    sim_status st;

    if ((st = outdir_make(dir, err)) != SIM_OK)
        return st;
    return outdir_write(dir, files, 2, err);
}
