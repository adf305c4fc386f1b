/* backtest.c - rolling-origin backtest of the model against naive forecasts. */
#include "backtest.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>

#include "engine.h"
#include "outdir.h"
#include "xalloc.h"

enum { BT_MAX_BANDS = 32 };

/* Per-replication draws by age are held for one origin: 26 doubles per replication-year, so
 * this bounds that buffer at about 200 MB. */
static const long BT_MAX_REP_YEARS = 1000000L;

static const char *const METHOD_CODES[BT_N_METHODS] = {
    "model", "last", "last_growth", "mean_growth3", "trend5"
};

const char *backtest_method_code(backtest_method m)
{
    return (m >= 0 && m < BT_N_METHODS) ? METHOD_CODES[m] : "?";
}

/* ---- published figures --------------------------------------------------------------- */

/* The finest partition of ages from..to by caseload rows of `year`: fills rows[] (in age
 * order) and returns the number of pieces, or 0 when none exists. Among rows with the same
 * range the last in file order wins, as later releases are imported after earlier ones. */
static int partition(const scenario *sc, int year, int from, int to, size_t rows[SIM_N_AGES])
{
    int best[SIM_N_AGES + 1];
    size_t choice[SIM_N_AGES];

    best[to + 1] = 0;
    for (int a = to; a >= from; a--) {
        best[a] = -1;
        for (size_t i = 0; i < sc->n_history; i++) {
            const hist_row *h = &sc->history[i];
            if (h->measure != MEASURE_CASELOAD || h->year != year || h->age_from != a ||
                h->age_to > to || h->age_to < a)
                continue;
            int b = best[h->age_to + 1];
            if (b >= 0 && b + 1 >= best[a]) {
                best[a] = b + 1;
                choice[a] = i;
            }
        }
    }
    if (best[from] <= 0)
        return 0;
    int n = 0;
    for (int a = from; a <= to; a = sc->history[choice[a]].age_to + 1)
        rows[n++] = choice[a];
    return n;
}

int backtest_published(const scenario *sc, int year, int age_from, int age_to, double *out)
{
    size_t rows[SIM_N_AGES];
    int exact = -1;

    if (age_from < 0 || age_to >= SIM_N_AGES || age_from > age_to)
        return 0;
    for (size_t i = 0; i < sc->n_history; i++) {
        const hist_row *h = &sc->history[i];
        if (h->measure == MEASURE_CASELOAD && h->year == year && h->age_from == age_from &&
            h->age_to == age_to)
            exact = (int)i;
    }
    if (exact >= 0) {
        *out = sc->history[exact].count;
        return 1;
    }
    int n = partition(sc, year, age_from, age_to, rows);
    if (n == 0)
        return 0;
    double sum = 0.0;
    for (int k = 0; k < n; k++)
        sum += sc->history[rows[k]].count;
    *out = sum;
    return 1;
}

/* The age profile inside ages from..to: the finest partition of that range published in any
 * year, the nearest to `year` (earlier first on ties), its own multi-age pieces split in turn
 * by their own profiles (evenly when none).
 * Leaves prof[] at 0 (an even split) when no year splits the range. */
static void band_profile(const scenario *sc, int year, int from, int to, double *prof)
{
    size_t rows[SIM_N_AGES];
    int best_n = 1, best_year = 0;

    for (size_t i = 0; i < sc->n_history; i++) {
        const hist_row *h = &sc->history[i];
        if (h->measure != MEASURE_CASELOAD || h->age_from != from)
            continue;
        int y = h->year, m = partition(sc, y, from, to, rows);
        int closer = abs(y - year) < abs(best_year - year) ||
                     (abs(y - year) == abs(best_year - year) && y < best_year);
        if (m > best_n || (m == best_n && m > 1 && closer)) {
            best_n = m;
            best_year = y;
        }
    }
    for (int a = from; a <= to; a++)
        prof[a] = 0.0;
    if (best_n <= 1)
        return;
    int n = partition(sc, best_year, from, to, rows);
    for (int k = 0; k < n; k++) {
        const hist_row *h = &sc->history[rows[k]];
        double sub[SIM_N_AGES], sum = 0.0;
        if (h->age_from < h->age_to)          /* a strictly narrower range: recursion ends */
            band_profile(sc, year, h->age_from, h->age_to, sub);
        for (int a = h->age_from; a <= h->age_to; a++)
            sum += h->age_from < h->age_to ? sub[a] : 0.0;
        for (int a = h->age_from; a <= h->age_to; a++)
            prof[a] = sum > 0.0 ? h->count * sub[a] / sum
                                : h->count / (h->age_to - h->age_from + 1);
    }
}

/* Spread `total` over ages from..to in proportion to w[] (uniformly when w sums to 0) as
 * whole numbers that add up to round(total): largest remainders get the leftover units. */
static void spread(double total, const double *w, int from, int to, double *out)
{
    int n = to - from + 1;
    double wsum = 0.0, frac[SIM_N_AGES];
    long whole = lround(total), given = 0;

    for (int a = from; a <= to; a++)
        wsum += w[a] > 0.0 ? w[a] : 0.0;
    for (int a = from; a <= to; a++) {
        double share = wsum > 0.0 ? (w[a] > 0.0 ? w[a] : 0.0) / wsum : 1.0 / n;
        double x = (double)whole * share;
        out[a] = floor(x);
        frac[a - from] = x - out[a];
        given += (long)out[a];
    }
    while (given < whole) {           /* at most n passes: each frac < 1 */
        int arg = 0;
        for (int k = 1; k < n; k++)
            if (frac[k] > frac[arg])
                arg = k;
        out[from + arg] += 1.0;
        frac[arg] = -1.0;
        given++;
    }
}

sim_status backtest_caseload_by_age(const scenario *sc, int year, double out[SIM_N_AGES],
                                    sim_error *err)
{
    size_t rows[SIM_N_AGES];
    double profile[SIM_N_AGES] = {0};
    int n = partition(sc, year, 0, SIM_MAX_AGE, rows);

    if (n == 0)
        return sim_error_set(err, SIM_EDATA, "history", 0, "caseload",
                             "no caseload covering ages 0-25 is published for January %d "
                             "(expected a total or age bands for that census)", year);
    /* The age shape inside a band changes slowly, so the finest split of that band published
     * in any year is a better guess than a flat one. */
    for (int k = 0; k < n; k++) {
        const hist_row *h = &sc->history[rows[k]];
        if (h->age_from < h->age_to)
            band_profile(sc, year, h->age_from, h->age_to, profile);
        spread(h->count, profile, h->age_from, h->age_to, out);
    }
    return SIM_OK;
}

/* ---- truncation ---------------------------------------------------------------------- */

sim_status backtest_truncate(const scenario *full, int origin, int horizon, long reps,
                             scenario **out, sim_error *err)
{
    double by_age[SIM_N_AGES];
    sim_status st = backtest_caseload_by_age(full, origin, by_age, err);
    if (st != SIM_OK)
        return st;

    scenario *t = xcalloc(1, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", full->name);
    snprintf(t->la_code, sizeof t->la_code, "%s", full->la_code);
    t->base_year = origin;
    t->horizon = horizon;
    t->replications = reps;
    t->seed = full->seed;
    t->trend_window = full->trend_window;
    t->damping = full->damping;
    t->incidence_multiplier = full->incidence_multiplier;
    t->overdispersion = full->overdispersion;
    memcpy(t->order, full->order, sizeof t->order);
    t->n_order = full->n_order;
    t->risk_target = full->risk_target;
    t->inflation = full->inflation;
    for (int a = 0; a < SIM_N_AGES; a++)
        t->caseload[a][NEED_UNK][SET_UNK] = by_age[a];   /* only totals are scored */
    for (int s = 0; s < SIM_N_SETTINGS; s++)
        for (int p = 0; p < SIM_N_PHASES; p++)
            t->cost[s][p] = -1.0;
    for (size_t i = 0; i < full->n_files; i++)      /* so that the fit's errors name it */
        if (strcmp(full->files[i].role, "history") == 0)
            t->files[t->n_files++] = full->files[i];

    t->history = xmalloc((full->n_history ? full->n_history : 1) * sizeof *t->history);
    for (size_t i = 0; i < full->n_history; i++) {
        const hist_row *h = &full->history[i];
        /* At origin O the January O census is the base year; a flow of calendar year C
         * happens between the C and C + 1 censuses, so only C <= O - 1 is complete. */
        int known = h->measure == MEASURE_CASELOAD ? h->year <= origin : h->year <= origin - 1;
        if (known)
            t->history[t->n_history++] = *h;
    }
    *out = t;
    return SIM_OK;
}

/* ---- origins --------------------------------------------------------------------------- */

static int year_range(const scenario *sc, int *first, int *last)
{
    int any = 0;
    for (size_t i = 0; i < sc->n_history; i++) {
        const hist_row *h = &sc->history[i];
        if (h->measure != MEASURE_CASELOAD)
            continue;
        if (!any || h->year < *first)
            *first = h->year;
        if (!any || h->year > *last)
            *last = h->year;
        any = 1;
    }
    return any;
}

static int total_published(const scenario *sc, int year)
{
    double v;
    return backtest_published(sc, year, 0, SIM_MAX_AGE, &v);
}

/* Whether the new plans of calendar `year` enter the growth fit (fit_newplans_total): a
 * single band, or bands that leave an age out, do not make a usable year. */
static int newplans_usable(const scenario *sc, int year)
{
    return fit_newplans_total(sc, year) >= 1.0;
}

/* The latest calendar year before `origin` with any new plans published, or -1. */
static int latest_flow_year(const scenario *sc, int origin)
{
    int last = -1;

    for (size_t i = 0; i < sc->n_history; i++) {
        const hist_row *h = &sc->history[i];
        if (h->measure == MEASURE_NEW_PLANS && h->year <= origin - 1 && h->year > last)
            last = h->year;
    }
    return last;
}

/* Years with usable new plans in the growth fit's window at `origin`: the trend_window
 * calendar years ending at the latest year before `origin` with any new plans, as
 * fit_scenario will see them in the history cut at `origin`. */
static int fit_years(const scenario *sc, int origin)
{
    int last = latest_flow_year(sc, origin), n = 0;
    int w = sc->trend_window > 0 ? sc->trend_window : 1;

    for (int y = last - w + 1; last >= 0 && y <= last; y++)
        n += newplans_usable(sc, y);
    return n;
}

/* Whether `origin` has the history an origin needs before it: the totals of January
 * origin-4..origin (trend5's window) and FIT_TREND_MIN_YEARS of new plans for the growth fit. */
static int origin_has_past(const scenario *sc, int origin)
{
    for (int y = origin - 4; y <= origin; y++)
        if (!total_published(sc, y))
            return 0;
    return fit_years(sc, origin) >= FIT_TREND_MIN_YEARS;
}

/* How many of the totals of January origin+1, origin+2, ... are published in a row, up to
 * `max`. */
static int origin_ahead(const scenario *sc, int origin, int max)
{
    int n = 0;

    while (n < max && total_published(sc, origin + n + 1))
        n++;
    return n;
}

/* "2010-2015, 2018" for the years first..last where flag[year - first] is set ("none" when
 * none); cut short with "..." when it does not fit in buf[size]. */
static void years_text(const int *flag, int first, int last, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int y = first; y <= last; y++) {
        if (!flag[y - first])
            continue;
        int end = y;
        while (end < last && flag[end + 1 - first])
            end++;
        int k = end > y ? snprintf(buf + used, size - used, "%s%d-%d", used ? ", " : "", y, end)
                        : snprintf(buf + used, size - used, "%s%d", used ? ", " : "", y);
        if (k < 0 || (size_t)k >= size - used) {
            snprintf(buf + (used < size - 4 ? used : size - 4), 4, "...");
            return;
        }
        used += (size_t)k;
        y = end;
    }
    if (used == 0)
        snprintf(buf, size, "none");
}

/* The calendar years with usable new plans (newplans_usable), as years_text gives them. */
static void usable_flows_text(const scenario *sc, char *buf, size_t size)
{
    int last = latest_flow_year(sc, INT_MAX), first = last, *flag;

    if (last < 0) {
        snprintf(buf, size, "none");
        return;
    }
    for (size_t i = 0; i < sc->n_history; i++)
        if (sc->history[i].measure == MEASURE_NEW_PLANS && sc->history[i].year < first)
            first = sc->history[i].year;
    flag = xcalloc((size_t)(last - first + 1), sizeof *flag);
    for (int y = first; y <= last; y++)
        flag[y - first] = newplans_usable(sc, y);
    years_text(flag, first, last, buf, size);
    free(flag);
}

/* The error for no origin at `horizon`: what an origin needs, the censuses and new-plan years
 * the history has, and how far ahead the origins with enough history before them could go. */
static sim_status no_origin_error(const scenario *sc, int horizon, int first, int last,
                                  sim_error *err)
{
    int best = -1, *flag = xcalloc((size_t)(last - first + 1), sizeof *flag);
    char totals[80], flows[80], ready[80], tail[256];

    for (int y = first; y <= last; y++)
        flag[y - first] = total_published(sc, y);
    years_text(flag, first, last, totals, sizeof totals);
    usable_flows_text(sc, flows, sizeof flows);
    for (int y = first; y <= last; y++) {
        flag[y - first] = origin_has_past(sc, y);
        if (flag[y - first] && origin_ahead(sc, y, horizon) > best)
            best = origin_ahead(sc, y, horizon);
    }
    years_text(flag, first, last, ready, sizeof ready);
    if (best > 0)
        snprintf(tail, sizeof tail, "; origins %s have that history before them but at most %d "
                 "total%s after them (expected --horizon %d or less)", ready, best,
                 best == 1 ? "" : "s", best);
    else if (best == 0)
        snprintf(tail, sizeof tail, "; origins %s have that history before them but no total "
                 "after them", ready);
    else
        snprintf(tail, sizeof tail, "; no year has that history before it");
    free(flag);
    return sim_error_set(err, SIM_EDATA, scenario_history_path(sc), 0, "caseload",
                         "no origin can be backtested %d year%s ahead: an origin O needs "
                         "caseload totals (ages 0-25) for January O-4 to O+%d, and new plans "
                         "covering ages 0-25 in %d of the %d calendar years before it "
                         "(trend_window) for the growth fit; the history has totals for %s and "
                         "such new plans for %s%s", horizon, horizon == 1 ? "" : "s", horizon,
                         FIT_TREND_MIN_YEARS, sc->trend_window, totals, flows, tail);
}

sim_status backtest_default_origins(const scenario *full, int horizon, int *from, int *to,
                                    sim_error *err)
{
    int first = 0, last = 0, lo = 0, hi = 0;

    if (!year_range(full, &first, &last))
        return sim_error_set(err, SIM_EDATA, scenario_history_path(full), 0, "caseload",
                             "the history has no caseload figures to backtest against");
    for (int o = first; o <= last; o++) {
        if (origin_has_past(full, o) && origin_ahead(full, o, horizon) == horizon) {
            if (!lo)
                lo = o;
            hi = o;
        }
    }
    if (!lo)
        return no_origin_error(full, horizon, first, last, err);
    *from = lo;
    *to = hi;
    return SIM_OK;
}

sim_status backtest_default_range(const scenario *full, int max_horizon, int *horizon,
                                  int *from, int *to, sim_error *err)
{
    for (int h = max_horizon; h > 1; h--)
        if (backtest_default_origins(full, h, from, to, NULL) == SIM_OK) {
            *horizon = h;
            return SIM_OK;
        }
    sim_status st = backtest_default_origins(full, 1, from, to, err);
    if (st == SIM_OK)
        *horizon = 1;
    return st;
}

/* ---- naive forecasts and scoring -------------------------------------------------------- */

static double at(const double *y, int first_year, int n_years, int year)
{
    int i = year - first_year;
    return (i >= 0 && i < n_years) ? y[i] : NAN;
}

double backtest_naive(backtest_method m, const double *y, int first_year, int n_years,
                      int origin, int h)
{
    double yo = at(y, first_year, n_years, origin);

    if (isnan(yo) || h < 1)
        return NAN;
    switch (m) {
    case BT_LAST:
        return yo;
    case BT_LAST_GROWTH: {
        double y1 = at(y, first_year, n_years, origin - 1);
        return (isnan(y1) || y1 <= 0.0) ? NAN : yo * pow(yo / y1, h);
    }
    case BT_MEAN_GROWTH3: {
        double y3 = at(y, first_year, n_years, origin - 3);
        return (isnan(y3) || y3 <= 0.0) ? NAN : yo * pow(yo / y3, h / 3.0);
    }
    case BT_TREND5: {
        /* Ordinary least squares on the published years among origin-4..origin; centring
         * the years keeps the sums well conditioned. */
        double sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0;
        int n = 0;
        for (int yr = origin - 4; yr <= origin; yr++) {
            double v = at(y, first_year, n_years, yr);
            if (isnan(v))
                continue;
            double x = yr - origin;
            sx += x;
            sy += v;
            sxx += x * x;
            sxy += x * v;
            n++;
        }
        if (n < 3)
            return NAN;
        double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
        double icpt = (sy - slope * sx) / n;
        return icpt + slope * h;
    }
    case BT_MODEL:
    case BT_N_METHODS:
        break;
    }
    return NAN;
}

double backtest_quantile(const double *sorted, size_t n, double p)
{
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1)
        return sorted[n - 1];
    double frac = pos - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

static int is_total(const backtest_point *p)
{
    return p->age_from == 0 && p->age_to == SIM_MAX_AGE;
}

void backtest_score_points(const backtest_point *points, size_t n_points, backtest_method m,
                           int bands, int horizon, backtest_score *out)
{
    double *ape = xmalloc((n_points ? n_points : 1) * sizeof *ape);
    double sum_ape = 0.0, sum_pe = 0.0, in80 = 0.0, in95 = 0.0;
    size_t n = 0, n_int = 0;

    for (size_t i = 0; i < n_points; i++) {
        const backtest_point *p = &points[i];
        if (p->method != m || p->horizon != horizon || is_total(p) == (bands != 0))
            continue;
        ape[n++] = p->ape;
        sum_ape += p->ape;
        sum_pe += p->pe;
        if (p->in80 >= 0) {
            in80 += p->in80;
            in95 += p->in95;
            n_int++;
        }
    }
    out->method = m;
    out->bands = bands != 0;
    out->horizon = horizon;
    out->n = n;
    out->mape = n ? sum_ape / (double)n : NAN;
    out->bias = n ? sum_pe / (double)n : NAN;
    if (n) {
        gsl_sort(ape, 1, n);          /* quantiles need sorted data */
        out->median_ape = backtest_quantile(ape, n, 0.5);
    } else {
        out->median_ape = NAN;
    }
    out->cover80 = n_int ? in80 / (double)n_int : NAN;
    out->cover95 = n_int ? in95 / (double)n_int : NAN;
    free(ape);
}

/* ---- the run ------------------------------------------------------------------------- */

typedef struct band { int from, to; } band;

/* The total first, then every multi-age range published for the census of `origin`. */
static size_t origin_bands(const scenario *sc, int origin, band *b)
{
    size_t n = 0;
    b[n++] = (band){0, SIM_MAX_AGE};
    for (size_t i = 0; i < sc->n_history && n < BT_MAX_BANDS; i++) {
        const hist_row *h = &sc->history[i];
        if (h->measure != MEASURE_CASELOAD || h->year != origin || h->age_from == h->age_to ||
            (h->age_from == 0 && h->age_to == SIM_MAX_AGE))
            continue;
        size_t k = 1;
        while (k < n && !(b[k].from == h->age_from && b[k].to == h->age_to))
            k++;
        if (k == n)
            b[n++] = (band){h->age_from, h->age_to};
    }
    return n;
}

typedef struct points_buf { backtest_point *p; size_t n, cap; } points_buf;

static void push(points_buf *pb, const backtest_point *p)
{
    if (pb->n == pb->cap) {
        pb->cap = pb->cap ? 2 * pb->cap : 256;
        pb->p = xrealloc(pb->p, pb->cap * sizeof *pb->p);
    }
    pb->p[pb->n++] = *p;
}

static void score_point(backtest_point *p)
{
    p->ape = 100.0 * fabs(p->forecast - p->actual) / p->actual;
    p->pe = 100.0 * (p->forecast - p->actual) / p->actual;
}

/* Score one origin: every band, every horizon, every method, into pb. */
/* The model's point for band b at horizon h: its draws summed over the band's ages
 * (draws[reps], scratch), sorted, and their quantiles against `actual`. */
static backtest_point model_point(const double *by_age, int horizon, long reps, const band *b,
                                  int origin, int h, double actual, double *draws)
{
    for (long r = 0; r < reps; r++) {
        const double *x = by_age + ((size_t)r * horizon + (h - 1)) * SIM_N_AGES;
        double s = 0.0;
        for (int a = b->from; a <= b->to; a++)
            s += x[a];
        draws[r] = s;
    }
    gsl_sort(draws, 1, (size_t)reps);
    backtest_point p = {
        .method = BT_MODEL, .origin = origin, .horizon = h, .year = origin + h,
        .age_from = b->from, .age_to = b->to, .actual = actual,
        .p025 = backtest_quantile(draws, (size_t)reps, 0.025),
        .p10 = backtest_quantile(draws, (size_t)reps, 0.10),
        .p50 = backtest_quantile(draws, (size_t)reps, 0.50),
        .p90 = backtest_quantile(draws, (size_t)reps, 0.90),
        .p975 = backtest_quantile(draws, (size_t)reps, 0.975),
    };
    p.forecast = p.p50;
    p.in80 = actual >= p.p10 && actual <= p.p90;
    p.in95 = actual >= p.p025 && actual <= p.p975;
    score_point(&p);
    return p;
}

static void score_origin(const scenario *full, int origin, int horizon, long reps,
                         const double *by_age, int first_year, int n_years, points_buf *pb)
{
    band b[BT_MAX_BANDS];
    size_t nb = origin_bands(full, origin, b);
    double *series = xmalloc((size_t)n_years * sizeof *series);
    double *draws = xmalloc((size_t)reps * sizeof *draws);

    for (size_t k = 0; k < nb; k++) {
        for (int i = 0; i < n_years; i++)
            if (!backtest_published(full, first_year + i, b[k].from, b[k].to, &series[i]))
                series[i] = NAN;
        for (int h = 1; h <= horizon; h++) {
            double actual = at(series, first_year, n_years, origin + h);
            double naive[BT_N_METHODS];
            int ok = !isnan(actual) && actual > 0.0;
            backtest_point p;
            for (int m = BT_LAST; ok && m < BT_N_METHODS; m++) {
                naive[m] = backtest_naive((backtest_method)m, series, first_year, n_years,
                                          origin, h);
                ok = !isnan(naive[m]);
            }
            if (!ok)
                continue;
            p = model_point(by_age, horizon, reps, &b[k], origin, h, actual, draws);
            push(pb, &p);
            for (int m = BT_LAST; m < BT_N_METHODS; m++) {
                backtest_point q = p;
                q.method = (backtest_method)m;
                q.forecast = q.p025 = q.p10 = q.p50 = q.p90 = q.p975 = naive[m];
                q.in80 = q.in95 = -1;
                score_point(&q);
                push(pb, &q);
            }
        }
    }
    free(draws);
    free(series);
}

/* Check the options against the history and settle the horizon *horizon, the origins
 * [*from, *to] (the default range when both are 0) and the census years [*first, *last]. */
static sim_status check_run(const scenario *full, const backtest_options *o, int *horizon,
                            int *from, int *to, int *first, int *last, sim_error *err)
{
    int h = o->horizon;

    if (h < 0 || h > 20)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "--horizon",
                             "--horizon %d is out of range (expected 1-20)", h);
    if (o->reps < 10 || o->reps > 1000000)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "--reps",
                             "--reps %ld is out of range (expected 10-1000000)", o->reps);
    if (!year_range(full, first, last))
        return sim_error_set(err, SIM_EDATA, scenario_history_path(full), 0, "caseload",
                             "the history has no caseload figures to backtest against");
    if (*from == 0 && *to == 0) {
        sim_status st = h > 0 ? backtest_default_origins(full, h, from, to, err)
                              : backtest_default_range(full, BACKTEST_DEFAULT_HORIZON, &h, from,
                                                       to, err);
        if (st != SIM_OK)
            return st;
    } else if (h == 0) {
        h = BACKTEST_DEFAULT_HORIZON;
    }
    if (o->reps * h > BT_MAX_REP_YEARS)     /* every draw by age is kept */
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "--reps",
                             "--reps %ld x --horizon %d is too large (expected at most %ld "
                             "replication-years)", o->reps, h, (long)BT_MAX_REP_YEARS);
    if (*from > *to || *from <= *first || *to >= *last)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "--origins",
                             "--origins %d:%d is outside the published history (expected "
                             "FROM <= TO within %d:%d, the censuses %d-%d less one year at "
                             "each end)", *from, *to, *first + 1, *last - 1, *first, *last);
    *horizon = h;
    return SIM_OK;
}

/* Fit the history up to `origin`, project it `horizon` years into by_age and record the fit
 * in *of. *fit_failed is set when the failure came from the cut-down history or its fit
 * rather than from the projector. */
static sim_status run_origin(const scenario *full, const backtest_options *o, int horizon,
                             int origin, double *by_age, backtest_origin_fit *of,
                             int *fit_failed, sim_error *err)
{
    backtest_project_fn project = o->project ? o->project : backtest_project_engine;
    scenario *tsc = NULL;
    fit f;
    sim_status st = backtest_truncate(full, origin, horizon, o->reps, &tsc, err);

    if (st == SIM_OK)
        st = fit_scenario(tsc, &f, err);
    *fit_failed = st != SIM_OK;
    if (st == SIM_OK)
        st = project(tsc, &f, horizon, o->reps, o->seed + (unsigned long)origin, by_age,
                     o->project_ctx, err);
    if (st == SIM_OK) {
        *of = (backtest_origin_fit){ .origin = origin, .growth = f.growth,
                                     .growth_se = f.growth_se,
                                     .overdispersion = f.overdispersion,
                                     .window_first = f.window_first,
                                     .window_last = f.window_last,
                                     .growth_prior = f.growth_prior };
        for (int a = 0; a < SIM_N_AGES; a++)
            of->base_total += tsc->caseload[a][NEED_UNK][SET_UNK];
    }
    scenario_free(tsc);
    return st;
}

/* What to say of an origin fitted with fit.h's growth prior. */
static void prior_note(const backtest_origin_fit *f, char *buf, size_t n)
{
    snprintf(buf, n, "too few years of usable new plans before it for a trend, so growth "
             "%.2f with se %.2f was assumed (fit.h, growth_prior)", f->growth, f->growth_se);
}

/* Append a line to r->notes (cut short when full). */
static void note_add(backtest_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_add(backtest_result *r, const char *fmt, ...)
{
    size_t used = strlen(r->notes);
    va_list ap;

    if (used + 2 >= sizeof r->notes)
        return;
    va_start(ap, fmt);
    vsnprintf(r->notes + used, sizeof r->notes - used - 1, fmt, ap);
    va_end(ap);
    used = strlen(r->notes);
    r->notes[used] = '\n';
    r->notes[used + 1] = '\0';
}

/* The notes of a finished run: a horizon the history shortened, and every skipped origin. */
static void notes_write(backtest_result *r, int first, int last)
{
    if (r->horizon_default && r->horizon < BACKTEST_DEFAULT_HORIZON)
        note_add(r, "Horizon %d, not the default %d: the history's censuses %d-%d leave no "
                 "origin with five totals and %d years of new plans before it and %d totals "
                 "after it.", r->horizon, BACKTEST_DEFAULT_HORIZON, first, last,
                 FIT_TREND_MIN_YEARS, BACKTEST_DEFAULT_HORIZON);
    for (size_t i = 0; i < r->n_fits; i++) {
        char why[200];
        if (!r->fits[i].growth_prior)
            continue;
        prior_note(&r->fits[i], why, sizeof why);
        note_add(r, "Origin %d: %s.", r->fits[i].origin, why);
    }
    for (size_t i = 0; i < r->n_skipped; i++) {
        char why[sizeof r->skipped[i].why.msg + 300];
        sim_error_format(&r->skipped[i].why, why, sizeof why);
        note_add(r, "Origin %d skipped: %s", r->skipped[i].origin, why);
    }
}

/* The error when every origin was skipped: the first origin's reason. */
static sim_status all_skipped_error(const backtest_result *r, int from, int to, sim_error *err)
{
    const sim_error *why = &r->skipped[0].why;
    char msg[sizeof why->msg];

    snprintf(msg, sizeof msg, "%s", why->msg);
    if (from == to)
        return sim_error_set(err, SIM_EDATA, why->file, why->line, why->key,
                             "backtest origin %d cannot be fitted: %.440s", from, msg);
    return sim_error_set(err, SIM_EDATA, why->file, why->line, why->key,
                         "no backtest origin in %d-%d can be fitted; origin %d: %.420s", from,
                         to, r->skipped[0].origin, msg);
}

/* Prefix a fit failure's message with its origin. */
static void name_origin(sim_error *err, int origin)
{
    char msg[sizeof err->msg];

    snprintf(msg, sizeof msg, "%s", err->msg);
    snprintf(err->msg, sizeof err->msg, "backtest origin %d: %.480s", origin, msg);
}

/* Run every origin from..to into out and pb: a fitted origin is scored, one whose history
 * cannot be fitted (SIM_EDATA) is skipped with its reason; any other failure stops the run. */
static sim_status run_origins(const scenario *full, const backtest_options *o, int horizon,
                              int from, int to, int first, int last, backtest_result *out,
                              points_buf *pb, sim_error *err)
{
    double *by_age = xmalloc((size_t)o->reps * (size_t)horizon * SIM_N_AGES * sizeof *by_age);
    sim_status st = SIM_OK;

    out->fits = xcalloc((size_t)(to - from + 1), sizeof *out->fits);
    out->skipped = xcalloc((size_t)(to - from + 1), sizeof *out->skipped);
    for (int origin = from; origin <= to && st == SIM_OK; origin++) {
        sim_error why = { 0 };
        int fit_failed = 0;
        st = run_origin(full, o, horizon, origin, by_age, &out->fits[out->n_fits], &fit_failed,
                        &why);
        if (st == SIM_OK) {
            out->n_fits++;
            score_origin(full, origin, horizon, o->reps, by_age, first, last - first + 1, pb);
        } else if (fit_failed && st == SIM_EDATA) {   /* too little history: skip it */
            out->skipped[out->n_skipped].origin = origin;
            out->skipped[out->n_skipped++].why = why;
            st = SIM_OK;
        } else {
            if (fit_failed)
                name_origin(&why, origin);
            if (err != NULL)
                *err = why;
        }
    }
    free(by_age);
    if (st == SIM_OK && out->n_fits == 0)
        st = all_skipped_error(out, from, to, err);
    return st;
}

sim_status backtest_run(const scenario *full, const backtest_options *o, backtest_result *out,
                        sim_error *err)
{
    int first = 0, last = 0, from = o->origin_from, to = o->origin_to, horizon = 0;
    points_buf pb = {0};
    sim_status st;

    memset(out, 0, sizeof *out);
    if ((st = check_run(full, o, &horizon, &from, &to, &first, &last, err)) != SIM_OK)
        return st;
    st = run_origins(full, o, horizon, from, to, first, last, out, &pb, err);
    if (st != SIM_OK) {
        free(pb.p);
        backtest_result_free(out);
        return st;
    }
    out->origin_from = from;
    out->origin_to = to;
    out->horizon = horizon;
    out->horizon_default = o->horizon == 0 && o->origin_from == 0 && o->origin_to == 0;
    out->reps = o->reps;
    out->points = pb.p;
    out->n_points = pb.n;
    out->scores = xcalloc((size_t)BT_N_METHODS * 2 * (size_t)horizon, sizeof *out->scores);
    for (int bands = 0; bands <= 1; bands++)
        for (int m = 0; m < BT_N_METHODS; m++)
            for (int h = 1; h <= horizon; h++)
                backtest_score_points(pb.p, pb.n, (backtest_method)m, bands, h,
                                      &out->scores[out->n_scores++]);
    notes_write(out, first, last);
    return SIM_OK;
}

void backtest_result_free(backtest_result *r)
{
    if (r == NULL)
        return;
    free(r->points);
    free(r->scores);
    free(r->fits);
    free(r->skipped);
    memset(r, 0, sizeof *r);
}

/* ---- output -------------------------------------------------------------------------- */

static void band_name(const backtest_point *p, char *buf, size_t n)
{
    if (is_total(p))
        snprintf(buf, n, "ALL");
    else
        snprintf(buf, n, "%d-%d", p->age_from, p->age_to);
}

static void put_num(FILE *fp, double v, const char *fmt)
{
    if (isnan(v))
        fputs("NA", fp);
    else
        fprintf(fp, fmt, v);
}

static sim_status write_model(FILE *fp, const void *arg)
{
    const backtest_result *r = arg;
    char b[32];
    fputs("origin,horizon,year,band,actual,p025,p10,p50,p90,p975,ape,in80,in95\n", fp);
    for (size_t i = 0; i < r->n_points; i++) {
        const backtest_point *p = &r->points[i];
        if (p->method != BT_MODEL)
            continue;
        band_name(p, b, sizeof b);
        fprintf(fp, "%d,%d,%d,%s,%.0f,%.1f,%.1f,%.1f,%.1f,%.1f,%.3f,%d,%d\n", p->origin,
                p->horizon, p->year, b, p->actual, p->p025, p->p10, p->p50, p->p90, p->p975,
                p->ape, p->in80, p->in95);
    }
    return ferror(fp) ? SIM_EIO : SIM_OK;
}

static sim_status write_summary(FILE *fp, const void *arg)
{
    const backtest_result *r = arg;
    fputs("method,horizon,n,mape,median_ape,bias,cover80,cover95\n", fp);
    for (size_t i = 0; i < r->n_scores; i++) {
        const backtest_score *s = &r->scores[i];
        fprintf(fp, "%s%s,%d,%zu,", backtest_method_code(s->method), s->bands ? "_bands" : "",
                s->horizon, s->n);
        put_num(fp, s->mape, "%.3f");
        fputc(',', fp);
        put_num(fp, s->median_ape, "%.3f");
        fputc(',', fp);
        put_num(fp, s->bias, "%.3f");
        fputc(',', fp);
        put_num(fp, s->cover80, "%.4f");
        fputc(',', fp);
        put_num(fp, s->cover95, "%.4f");
        fputc('\n', fp);
    }
    return ferror(fp) ? SIM_EIO : SIM_OK;
}

static sim_status write_points(FILE *fp, const void *arg)
{
    const backtest_result *r = arg;
    char b[32];
    fputs("method,origin,horizon,year,band,actual,forecast,ape,pe\n", fp);
    for (size_t i = 0; i < r->n_points; i++) {
        const backtest_point *p = &r->points[i];
        band_name(p, b, sizeof b);
        fprintf(fp, "%s,%d,%d,%d,%s,%.0f,%.1f,%.3f,%.3f\n", backtest_method_code(p->method),
                p->origin, p->horizon, p->year, b, p->actual, p->forecast, p->ape, p->pe);
    }
    return ferror(fp) ? SIM_EIO : SIM_OK;
}

/* A CSV field in double quotes, inner quotes doubled. */
static void put_quoted(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

static sim_status write_origins(FILE *fp, const void *arg)
{
    const backtest_result *r = arg;
    size_t i = 0, k = 0;

    fputs("origin,status,base_total,growth,growth_se,overdispersion,window_first,window_last,"
          "reason\n", fp);
    while (i < r->n_fits || k < r->n_skipped) {     /* both lists are in origin order */
        if (k >= r->n_skipped || (i < r->n_fits && r->fits[i].origin < r->skipped[k].origin)) {
            const backtest_origin_fit *f = &r->fits[i++];
            fprintf(fp, "%d,fitted,%.0f,%.4f,%.4f,%.4f,%d,%d,", f->origin, f->base_total,
                    f->growth, f->growth_se, f->overdispersion, f->window_first,
                    f->window_last);
            if (f->growth_prior) {
                char why[200];
                prior_note(f, why, sizeof why);
                put_quoted(fp, why);
            }
            fputc('\n', fp);
        } else {
            const backtest_skip *s = &r->skipped[k++];
            char why[sizeof s->why.msg + 300];
            sim_error_format(&s->why, why, sizeof why);
            fprintf(fp, "%d,skipped,NA,NA,NA,NA,NA,NA,", s->origin);
            put_quoted(fp, why);
            fputc('\n', fp);
        }
    }
    return ferror(fp) ? SIM_EIO : SIM_OK;
}

sim_status backtest_write(const backtest_result *r, const char *dir, sim_error *err)
{
    const outdir_file files[4] = { { "backtest.csv", write_model, r },
                                   { "backtest_summary.csv", write_summary, r },
                                   { "backtest_points.csv", write_points, r },
                                   { "backtest_origins.csv", write_origins, r } };

    return outdir_write(dir, files, 4, err);
}

/* ---- the engine as projector ---------------------------------------------------------- */

typedef struct age_sink { double *by_age; int horizon; } age_sink;

/* Sum one replication-year's state over needs and slots into its own row of by_age, so
 * worker threads never share storage. */
static void age_sink_rep_year(void *ctx, const engine_view *v)
{
    const age_sink *s = ctx;
    double *row = s->by_age + (v->rep * (size_t)s->horizon + (size_t)(v->h - 1)) * SIM_N_AGES;
    size_t per_age = SIM_N_NEEDS * v->n_slots;

    for (int a = 0; a < SIM_N_AGES; a++) {
        const int32_t *x = v->x + (size_t)a * per_age;
        int64_t sum = 0;
        for (size_t k = 0; k < per_age; k++)
            sum += x[k];
        row[a] = (double)sum;
    }
}

sim_status backtest_project_engine(const scenario *sc, const fit *f, int horizon, long reps,
                                   unsigned long seed, double *by_age, void *ctx,
                                   sim_error *err)
{
    const size_t *threads = ctx;
    age_sink s = { by_age, horizon };
    engine_sink sink = { &s, age_sink_rep_year, NULL };
    engine_options opt = {
        .n_reps = (size_t)reps, .seed = seed, .horizon = horizon,
        .threads = threads != NULL && *threads > 0 ? *threads : 1,
    };
    engine *e = NULL;
    sim_status st = engine_prepare(sc, f, NULL, horizon, &e, err);

    if (st == SIM_OK)
        st = engine_run(e, &opt, &sink, err);
    engine_free(e);
    return st;
}
