/* fit.c - fit the model's rates and their uncertainty from a scenario's history.
 *
 * Everything is estimated on census ages (age on 31 August before the January census), the
 * engine's state. history.csv carries figures as published: stocks by census age, flows by the
 * age DfE gives for them (age when the plan started, age on the date it ceased). Published
 * bands are split into single ages in proportion to the best profile at hand, narrowest rows
 * first, so that every published figure is kept exactly (see spread()). The conventions for
 * flows, and why, are in fit.h. */
#include "fit.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

enum {
    NA = SIM_N_AGES,
    TOP = SIM_MAX_AGE,
    PI_MIN_PLANS = 50,          /* pool the need mix over neighbouring ages up to this many plans */
    CEASE_MIN_PLANS = 30,       /* a cessation rate rests on at least this many plans */
    TRANSFER_YEARS = 3,         /* transfers pool the residuals of up to this many years */
    TRANSFER_SPAN = 5,          /* ... all within this many years of the latest */
    TRANSFER_MIN_PLANS = 30     /* a transfer rate rests on at least this many surviving plans */
};

/* A year of new plans this many times above or below the robust trend is taken as
 * misreported and left out of the growth fit. */
static const double OUTLIER_FACTOR = 2.5;

/* The growth se assumed when the history is too short for a trend (growth_prior): growth of
 * new plans then lies within +-13% a year in 8 replications of 10. Illustrative, not fitted:
 * wide enough to hold England's 14% a year over 2015-2024 (27,923 to 97,747 new plans,
 * scenarios/england/history.csv) in the upper tail, while a trend of 0 assumes no more than
 * the two years an LA created by a reorganisation has published. */
static const double GROWTH_PRIOR_SE = 0.10;

/* The yearly shock's variance assumed with it: the median of the v fitted (new plans and exit
 * scatter) for the 12 LAs in the shared data is 0.09 (0.02 to 0.43); 0, a Poisson year, would
 * claim a steadiness no LA's history shows. Illustrative, as above. */
static const double OVERDISPERSION_PRIOR = 0.10;

/* Positive transfer rates are capped at FIT_TRANSFER_MAX (fit.h). A rate is applied to the
 * plans of every projected year, so it compounds; inflows above the cap are one-offs
 * (statements converted to EHC plans in 2014-2018, the extension to age 25, data clean-ups)
 * that would otherwise double a band every few years. The backtest (issue 7, 12 LAs, origins
 * 2016-2022) cut the h = 3 error of the total from 16.3% to 12.7% with it; 0.05 and 0.10 did
 * about as well, no cap much worse. */

/* One published figure for a range of ages. */
typedef struct band {
    int    from, to;
    double count;
} band;

/* A measure in one year, split into single ages. */
typedef struct age_est {
    double v[NA];
    int    leaf[NA];            /* index (in width order) of the row that placed the age; -1 */
    int    single[NA];          /* 1 when that row is the single age itself */
    int    n_rows;
    int    n_single;            /* rows giving a single age */
    double total;               /* published 0-25 total, else the sum when every age is
                                   covered, else -1 */
} age_est;

/* ---- small helpers -------------------------------------------------------------------- */

static void src_add(fit *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void src_add(fit *f, const char *fmt, ...)
{
    size_t used = strlen(f->sources);
    va_list ap;

    if (used + 1 >= sizeof f->sources)
        return;
    va_start(ap, fmt);
    vsnprintf(f->sources + used, sizeof f->sources - used, fmt, ap);
    va_end(ap);
    used = strlen(f->sources);
    if (used + 1 < sizeof f->sources) {
        f->sources[used] = '\n';
        f->sources[used + 1] = '\0';
    }
}


static double sum_range(const double *v, int from, int to)
{
    double s = 0.0;

    for (int a = from; a <= to; a++)
        s += v[a];
    return s;
}

/* Rows of `m` published for `year`, copied into rows[] (room for n_history); returns n. */
static int year_rows(const scenario *sc, hist_measure m, int year, band *rows)
{
    int n = 0;

    for (size_t i = 0; i < sc->n_history; i++) {
        const hist_row *h = &sc->history[i];

        if (h->measure != m || h->year != year || h->age_from < 0 || h->age_to > TOP ||
            h->age_from > h->age_to)
            continue;
        rows[n].from = h->age_from;
        rows[n].to = h->age_to;
        rows[n].count = h->count;
        n++;
    }
    return n;
}

/* Latest year <= max_year with rows of `m`; with `detail`, only rows narrower than 0-25 count.
 * Returns -1 when there is none. */
static int latest_year(const scenario *sc, hist_measure m, int max_year, int detail)
{
    int best = -1;

    for (size_t i = 0; i < sc->n_history; i++) {
        const hist_row *h = &sc->history[i];

        if (h->measure != m || h->year > max_year || h->year <= best)
            continue;
        if (detail && h->age_from == SIM_MIN_AGE && h->age_to == TOP)
            continue;
        best = h->year;
    }
    return best;
}

/* Place one row's count on the ages it covers. Ages already placed by narrower rows keep
 * their share; the rest of the row goes to the ages not yet placed, in proportion to the
 * profile, but no more than their profile share of the row (what is left beyond that, such as
 * DfE's "age unknown", and any disagreement between a band and its parts, is spread pro rata
 * over the whole row), so the row's sum equals its published count. */
static void spread_row(const band *r, int id, const double *prof, age_est *e)
{
    double p_all = 0.0, p_new = 0.0, known = 0.0, got;
    int n_new = 0, width = r->to - r->from + 1;

    for (int a = r->from; a <= r->to; a++) {
        double p = prof[a] > 0.0 ? prof[a] : 0.0;

        p_all += p;
        if (e->leaf[a] < 0) {
            p_new += p;
            n_new++;
        } else
            known += e->v[a];
    }
    if (n_new > 0) {
        double rest = r->count > known ? r->count - known : 0.0;
        int even = p_all <= 0.0;                       /* no profile: even split */
        double share = even ? (double)n_new / width : p_new / p_all;
        double give = fmin(rest, r->count * share);

        for (int a = r->from; a <= r->to; a++) {
            if (e->leaf[a] >= 0)
                continue;
            e->v[a] = even ? give / n_new : (p_new > 0.0 ? give * prof[a] / p_new : 0.0);
            if (e->v[a] < 0.0)
                e->v[a] = 0.0;
            e->leaf[a] = id;
            e->single[a] = r->from == r->to;
        }
    }
    got = sum_range(e->v, r->from, r->to);
    if (got > 0.0)
        for (int a = r->from; a <= r->to; a++)
            e->v[a] *= r->count / got;
}

static int band_width_cmp(const void *x, const void *y)
{
    const band *a = x, *b = y;
    int wa = a->to - a->from, wb = b->to - b->from;

    if (wa != wb)
        return wa < wb ? -1 : 1;
    return a->from < b->from ? -1 : a->from > b->from;
}

/* Split rows[n] (reordered in place, narrowest first) into single ages using `prof`. */
static void spread(band *rows, int n, const double *prof, age_est *e)
{
    int covered = 1;

    memset(e, 0, sizeof *e);
    for (int a = 0; a < NA; a++)
        e->leaf[a] = -1;
    qsort(rows, (size_t)n, sizeof *rows, band_width_cmp);
    e->n_rows = n;
    e->total = -1.0;
    for (int i = 0; i < n; i++) {
        if (rows[i].from == rows[i].to)
            e->n_single++;
        if (rows[i].from == SIM_MIN_AGE && rows[i].to == TOP)
            e->total = rows[i].count;
        spread_row(&rows[i], i, prof, e);
    }
    for (int a = 0; a < NA; a++)
        covered = covered && e->leaf[a] >= 0;
    if (e->total < 0.0 && covered)
        e->total = sum_range(e->v, 0, TOP);
}

/* ---- the pieces of a fit ---------------------------------------------------------------- */

/* Everything the steps share: the base-year profile and the working row buffer. */
enum { MAX_WINDOW = 64 };

typedef struct ctx {
    const scenario *sc;
    double base[NA];            /* base-year caseload by age */
    band  *rows;                /* [n_history + 1], scratch */
    sim_error *err;
    int    n_bad;               /* calendar years whose new plans the growth fit judged */
    int    bad[MAX_WINDOW];     /* misreported (trend_screen): no other fit uses them */
} ctx;

/* 1 when the new plans of calendar `year` were judged misreported. A flow that is several
 * times off would also wreck every rate computed from it: the yearly net exit rate of that
 * year, and the transfer residual and cessation of the caseload pair around it. */
static int misreported(const ctx *c, int year)
{
    for (int i = 0; i < c->n_bad; i++)
        if (c->bad[i] == year)
            return 1;
    return 0;
}

/* Caseload by age in January `year`: the base year from caseload.csv, other years from
 * history.csv split by the base-year age profile. Returns 0 when nothing is published. */
static int caseload_at(ctx *c, int year, age_est *e)
{
    int n;

    if (year == c->sc->base_year) {
        memset(e, 0, sizeof *e);
        for (int a = 0; a < NA; a++) {
            e->v[a] = c->base[a];
            e->leaf[a] = a;
            e->single[a] = 1;
        }
        e->n_rows = e->n_single = NA;
        e->total = sum_range(e->v, 0, TOP);
        return 1;
    }
    n = year_rows(c->sc, MEASURE_CASELOAD, year, c->rows);
    if (n == 0)
        return 0;
    spread(c->rows, n, c->base, e);
    return 1;
}

/* Short list of the bands of rows[n] ("3, 4, 20-25"), for the sources. */
static void bands_desc(const band *rows, int n, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < n && used + 16 < size; i++) {
        int k = rows[i].from == rows[i].to
            ? snprintf(buf + used, size - used, "%s%d", i ? "," : "", rows[i].from)
            : snprintf(buf + used, size - used, "%s%d-%d", i ? "," : "", rows[i].from, rows[i].to);
        if (k > 0)
            used += (size_t)k;
    }
    if (used + 16 >= size && size > 4)
        strcpy(buf + size - 4, "...");
}

/* Total new plans in calendar `year`, or -1 when the rows do not cover every age. */
static double newplans_total(ctx *c, int year)
{
    age_est e;
    int n = year_rows(c->sc, MEASURE_NEW_PLANS, year, c->rows);

    if (n == 0)
        return -1.0;
    spread(c->rows, n, c->base, &e);
    return e.total;
}

/* Resident population 0-25 counted at the census after calendar `year`, or -1. */
static double pop_after(const scenario *sc, int year)
{
    double s = 0.0;

    if (sc->pop == NULL)
        return -1.0;
    for (int a = 0; a < NA; a++) {
        double p = scenario_population(sc, year + 1, a);

        if (!(p > 0.0))
            return -1.0;
        s += p;
    }
    return s;
}

/* ---- growth and overdispersion ---------------------------------------------------------- */

typedef struct trend {
    int    n;
    int    first, last;           /* calendar years of the window */
    double x[MAX_WINDOW];         /* year - last */
    double count[MAX_WINDOW];     /* new plans that year */
    double pop[MAX_WINDOW];       /* population 0-25 at the next census; -1 when unknown */
    int    year[MAX_WINDOW];
    int    n_dropped;
    int    dropped[MAX_WINDOW];   /* years left out as misreported (see trend_screen) */
} trend;

static double median_of(double *v, size_t n)
{
    gsl_sort(v, 1, n);                       /* median_from_sorted_data trusts its input */
    return gsl_stats_median_from_sorted_data(v, 1, n);
}

/* Leave out years more than OUTLIER_FACTOR away from a robust (Theil-Sen) line through the
 * log counts. DfE's series carry the odd misreported year (one LA's new plans jump tenfold
 * for one year), which would otherwise dominate a fit weighted by the counts. With fewer
 * than 4 points there is no telling which one is odd, and at least 3 are always kept. */
static void trend_screen(trend *t)
{
    double slopes[MAX_WINDOW * (MAX_WINDOW - 1) / 2], res[MAX_WINDOW], slope, icpt;
    size_t m = 0;
    int keep = 0;
    trend in = *t;

    if (t->n < 4)
        return;
    for (int i = 0; i < t->n; i++)
        for (int j = i + 1; j < t->n; j++)
            slopes[m++] = (log(t->count[j]) - log(t->count[i])) / (t->x[j] - t->x[i]);
    slope = median_of(slopes, m);
    for (int i = 0; i < t->n; i++)
        res[i] = log(t->count[i]) - slope * t->x[i];
    icpt = median_of(res, (size_t)t->n);
    t->n = 0;
    for (int i = 0; i < in.n; i++) {
        if (fabs(log(in.count[i]) - icpt - slope * in.x[i]) > log(OUTLIER_FACTOR)) {
            t->dropped[t->n_dropped++] = in.year[i];
            continue;
        }
        t->year[t->n] = in.year[i];
        t->x[t->n] = in.x[i];
        t->count[t->n] = in.count[i];
        t->pop[t->n++] = in.pop[i];
        keep++;
    }
    if (keep < 3)
        *t = in;
}

/* New-plan totals of the trend window ending at the latest year with new plans. Years whose
 * rows do not add up to a 0-25 total, and years with no new plans at all (log 0), are left
 * out. Returns the number of points. */
static int trend_collect(ctx *c, trend *t)
{
    int w = c->sc->trend_window < MAX_WINDOW ? c->sc->trend_window : MAX_WINDOW;

    memset(t, 0, sizeof *t);
    t->last = latest_year(c->sc, MEASURE_NEW_PLANS, INT_MAX, 0);
    t->first = t->last - (w > 0 ? w : 1) + 1;
    if (t->last < 0)
        return 0;
    for (int y = t->first; y <= t->last; y++) {
        double n = newplans_total(c, y);

        if (!(n >= 1.0))
            continue;
        t->year[t->n] = y;
        t->x[t->n] = y - t->last;
        t->count[t->n] = n;
        t->pop[t->n] = pop_after(c->sc, y);
        t->n++;
    }
    trend_screen(t);
    return t->n;
}

/* Weighted least squares of y on (1, x) with weights w: coefficients, the covariance of the
 * slope as GSL gives it (for known weights) and the weighted residual sum of squares. */
static int wls(const double *x, const double *y, const double *w, int n, double coef[2],
               double *var_slope, double *chisq)
{
    gsl_matrix *X = gsl_matrix_alloc((size_t)n, 2), *cov = gsl_matrix_alloc(2, 2);
    gsl_vector *Y = gsl_vector_alloc((size_t)n), *W = gsl_vector_alloc((size_t)n);
    gsl_vector *C = gsl_vector_alloc(2);
    gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc((size_t)n, 2);
    int st;

    for (int i = 0; i < n; i++) {
        gsl_matrix_set(X, (size_t)i, 0, 1.0);
        gsl_matrix_set(X, (size_t)i, 1, x[i]);
        gsl_vector_set(Y, (size_t)i, y[i]);
        gsl_vector_set(W, (size_t)i, w[i]);
    }
    st = gsl_multifit_wlinear(X, W, Y, C, cov, chisq, ws);
    coef[0] = gsl_vector_get(C, 0);
    coef[1] = gsl_vector_get(C, 1);
    *var_slope = gsl_matrix_get(cov, 1, 1);
    gsl_multifit_linear_free(ws);
    gsl_vector_free(C);
    gsl_vector_free(W);
    gsl_vector_free(Y);
    gsl_matrix_free(cov);
    gsl_matrix_free(X);
    return st;
}

/* v by the method of moments: with a Gamma(1, v) shock, Var(N) = mu + v mu^2, so
 * E[((N - mu) / mu)^2] = 1 / mu + v. Two parameters were fitted, hence n - 2. */
static double overdispersion_mom(const trend *t, const double coef[2], int per_capita)
{
    double r2 = 0.0, inv_mu = 0.0, v;

    for (int i = 0; i < t->n; i++) {
        double mu = exp(coef[0] + coef[1] * t->x[i]) * (per_capita ? t->pop[i] : 1.0);
        double r = (t->count[i] - mu) / mu;

        r2 += r * r;
        inv_mu += 1.0 / mu;
    }
    v = r2 / (t->n - 2) - inv_mu / t->n;
    return v > 0.0 ? v : 0.0;
}

/* The yearly scatter of the net exit rate e = (K(t) + N(t) - K(t + 1)) / K(t) over the trend
 * window, in units of a year's new plans: sum(((e - mean e) K / N)^2) / (n - 1), or 0 with
 * fewer than 3 years (*n_out). *sd gets the plain sd of e (0 with fewer than 3 years). */
static double exit_variance(ctx *c, const trend *t, int *n_out, double *sd)
{
    double e[MAX_WINDOW], scale[MAX_WINDOW], mean = 0.0, ss = 0.0, ss_rate = 0.0;
    int n = 0;
    age_est k0, k1;

    for (int y = t->first; y < c->sc->base_year && n < MAX_WINDOW; y++) {
        double nw = newplans_total(c, y);

        if (!(nw >= 1.0) || misreported(c, y) || !caseload_at(c, y, &k0) ||
            !caseload_at(c, y + 1, &k1) || !(k0.total > 0.0) || !(k1.total >= 0.0))
            continue;
        e[n] = (k0.total + nw - k1.total) / k0.total;
        scale[n] = k0.total / nw;
        mean += e[n++];
    }
    *n_out = n;
    *sd = 0.0;
    if (n < 3)
        return 0.0;
    mean /= n;
    for (int i = 0; i < n; i++) {
        ss += (e[i] - mean) * (e[i] - mean) * scale[i] * scale[i];
        ss_rate += (e[i] - mean) * (e[i] - mean);
    }
    *sd = sqrt(ss_rate / (n - 1));
    return ss / (n - 1);
}

/* 1, having said so in sources, when v comes from [demand] overdispersion, not the fit. */
static int v_configured(const scenario *sc, fit *f)
{
    if (sc->overdispersion < 0.0)
        return 0;
    src_add(f, "overdispersion: v = %.4f as configured ([demand] overdispersion)",
            f->overdispersion);
    return 1;
}

/* Too few years of new plans for a trend (an authority created by a reorganisation publishes
 * two or three years): growth 0 with a wide se, so that the bands own up to not knowing. */
static void growth_prior(ctx *c, fit *f, const trend *t)
{
    const scenario *sc = c->sc;

    f->per_capita = 0;
    f->growth = 0.0;
    f->growth_se = GROWTH_PRIOR_SE;
    f->growth_prior = 1;
    f->window_first = t->n > 0 ? t->year[0] : t->last;
    f->window_last = t->last;
    f->overdispersion = sc->overdispersion >= 0.0 ? sc->overdispersion : OVERDISPERSION_PRIOR;
    src_add(f, "growth: no trend fitted: history.csv has new_plans totals (ages 0-25, or bands "
            "covering 0-25) for %d calendar year%s in the trend window %d-%d (trend_window "
            "%d), and a trend needs %d; g = 0 with se %.2f (a wide assumption, not a fit: each "
            "replication draws its own growth, so the bands carry it)", t->n,
            t->n == 1 ? "" : "s", t->first, t->last, sc->trend_window, FIT_TREND_MIN_YEARS,
            GROWTH_PRIOR_SE);
    if (!v_configured(sc, f))
        src_add(f, "overdispersion: v = %.2f assumed, not fitted (too few years; the median "
                "of 12 LAs' fitted v; set [demand] overdispersion to choose another)",
                OVERDISPERSION_PRIOR);
}

/* The growth fit's lines in sources: the fit, the years left out, v. */
static void growth_sources(const scenario *sc, fit *f, const trend *t, double disp)
{
    src_add(f, "growth: weighted least squares (gsl_multifit_wlinear, weights = counts) of "
            "log(new plans%s) on year, history.csv new_plans totals %d-%d (%d years; "
            "trend_window %d): g = %+.4f a year, se = %.4f (dispersion %.2f)",
            f->per_capita ? " per resident aged 0-25" : "", f->window_first, f->window_last,
            t->n, sc->trend_window, f->growth, f->growth_se, disp);
    for (int i = 0; i < t->n_dropped; i++)
        src_add(f, "growth: new plans %d left out as misreported (more than %.1f times off "
                "the robust trend), and so is every rate that would use them (exit scatter, "
                "cessation, transfers)", t->dropped[i], OUTLIER_FACTOR);
    if (!v_configured(sc, f))
        src_add(f, "overdispersion: v = %.4f fitted by moments from new plans around the trend "
                "%d-%d: sum(((N - mu) / mu)^2) / (n - 2) - mean(1 / mu), at least 0",
                f->overdispersion, f->window_first, f->window_last);
}

static sim_status fit_growth(ctx *c, fit *f, trend *t)
{
    const scenario *sc = c->sc;
    double y[MAX_WINDOW], coef[2], var_slope, chisq, disp;
    int per_capita = 1;

    trend_collect(c, t);
    c->n_bad = t->n_dropped;
    memcpy(c->bad, t->dropped, sizeof c->bad);
    if (t->last < 0)
        return sim_error_set(c->err, SIM_EDATA, scenario_history_path(sc), 0, "new_plans",
                             "no new_plans rows at all: joiners are projected from a year of "
                             "published new plans (DfE's newplans.csv), so at least one is "
                             "needed");
    if (t->n < FIT_TREND_MIN_YEARS) {
        growth_prior(c, f, t);
        return SIM_OK;
    }
    for (int i = 0; i < t->n; i++)
        per_capita = per_capita && t->pop[i] > 0.0;
    for (int i = 0; i < t->n; i++)
        y[i] = log(per_capita ? t->count[i] / t->pop[i] : t->count[i]);
    if (wls(t->x, y, t->count, t->n, coef, &var_slope, &chisq) != GSL_SUCCESS)
        return sim_error_set(c->err, SIM_EINTERNAL, scenario_history_path(sc), 0, "new_plans",
                             "the weighted least-squares growth fit failed");
    /* Weights = counts is the Poisson variance of log N; the residual scatter (quasi-Poisson
     * dispersion) inflates the se when the series is noisier than that, never deflates it. */
    disp = chisq / (t->n - 2);
    f->per_capita = per_capita;
    f->growth = coef[1];
    f->growth_se = sqrt(var_slope * (disp > 1.0 ? disp : 1.0));
    f->window_first = t->year[0];
    f->window_last = t->year[t->n - 1];
    f->overdispersion = sc->overdispersion >= 0.0 ? sc->overdispersion
                                                   : overdispersion_mom(t, coef, per_capita);
    growth_sources(sc, f, t, disp);
    return SIM_OK;
}


/* Net exits (leavers less net transfers) vary from year to year as much as new plans do
 * (reporting breaks, backlogs cleared, plans ceased in batches), but the engine's only yearly
 * random term is the shock on joiners. So, when v is fitted, the scatter of the net exit
 * rate in units of a year's new plans (exit_variance) is added to v: the total then has the
 * yearly variance the history shows. It is not added to growth_se, although backtests want
 * a persistent term too (fit-notes.md): a growth draw compounds over the horizon, and
 * Hackney's 2040 band would run to 200,000 plans. */
static void fit_exit_noise(ctx *c, fit *f, const trend *t)
{
    int n;
    double ve = exit_variance(c, t, &n, &f->exit_sd);

    f->exit_years = n >= 3 ? n : 0;
    f->exit_band_sd = FIT_BAND_EXIT_FACTOR * f->exit_sd;

    if (n >= 3)
        src_add(f, "exits: sd of the yearly net exit rate (K(t) + N(t) - K(t + 1)) / K(t) over "
                "%d years from %d: %.4f; each DfE age band's own part of the exit draw: sd "
                "%.4f (%.0f times, calibrated by the backtest)", n, t->first, f->exit_sd,
                f->exit_band_sd, FIT_BAND_EXIT_FACTOR);
    if (c->sc->overdispersion >= 0.0)
        return;
    if (n < 3) {
        src_add(f, "exits: fewer than 3 years with caseload in both Januaries and new plans "
                "between them in %d-%d; no exit scatter added to v", t->first,
                c->sc->base_year - 1);
        return;
    }
    f->overdispersion += ve;
    src_add(f, "exits: that scatter in units of a year's new plans, sum(((e - mean e) K / N)^2)"
            " / (n - 1) = %.4f, added to v: v = %.4f", ve, f->overdispersion);
}

/* ---- joiners and their need mix --------------------------------------------------------- */

/* Latest year <= max_year with a single-age new_plans row, or -1. */
static int latest_single_newplans(const scenario *sc, int max_year)
{
    int best = -1;

    for (size_t i = 0; i < sc->n_history; i++) {
        const hist_row *h = &sc->history[i];

        if (h->measure == MEASURE_NEW_PLANS && h->year <= max_year && h->year > best &&
            h->age_from == h->age_to)
            best = h->year;
    }
    return best;
}

/* New plans of calendar `year` by age: bands split by the single-age new plans of the latest
 * year that has them, else by the base-year caseload. Sets *prof_year to the year whose
 * single ages gave the profile, or -1. Returns the number of rows. */
static int newplans_by_age(ctx *c, int year, age_est *e, int *prof_year)
{
    double prof[NA];
    int n, y = latest_single_newplans(c->sc, year);

    memcpy(prof, c->base, sizeof prof);
    *prof_year = -1;
    if (y >= 0) {
        n = year_rows(c->sc, MEASURE_NEW_PLANS, y, c->rows);
        spread(c->rows, n, c->base, e);
        if (sum_range(e->v, 0, TOP) > 0.0) {
            memcpy(prof, e->v, sizeof prof);
            *prof_year = y;
        }
    }
    n = year_rows(c->sc, MEASURE_NEW_PLANS, year, c->rows);
    spread(c->rows, n, prof, e);
    return n;
}

/* The latest calendar year up to `last` whose new plans are published and not misreported
 * (last itself when none is sound: the growth screen always keeps 3 years). */
static int sound_newplans_year(ctx *c, int last)
{
    for (int y = last; y >= 0 && last - y < MAX_WINDOW; y--)
        if (!misreported(c, y) && year_rows(c->sc, MEASURE_NEW_PLANS, y, c->rows) > 0)
            return y;
    return last;
}

/* A new plan published at age x (age when the plan started, in calendar year C) is counted
 * at age x in January C + 1: with start dates spread over the year, 31 August C falls on
 * average two months after the start, so about 72% keep age x (22% are a year older, 6% a
 * year younger). joiners[] is the level of the latest year, carried to calendar
 * base_year - 1 by g where it is older, and by the population change when per capita. */
static void fit_joiners(ctx *c, fit *f, int last)
{
    const scenario *sc = c->sc;
    age_est e;
    char desc[256];
    int prof_year, n = newplans_by_age(c, last, &e, &prof_year);
    double carry = exp(f->growth * (sc->base_year - 1 - last));

    bands_desc(c->rows, n, desc, sizeof desc);
    for (int a = 0; a < NA; a++) {
        double p1 = scenario_population(sc, sc->base_year + 1, a);
        double p0 = scenario_population(sc, last + 1, a);
        double ratio = p1 > 0.0 && p0 > 0.0 ? p1 / p0 : 1.0;   /* 1 without population */

        f->joiners[a] = e.v[a] * carry * ratio;
    }
    src_add(f, "joiners: history.csv new_plans %d by age (rows %s), split within bands by %s; "
            "a plan started at age x counts at census age x; total %.1f at January %d before "
            "growth%s", last, desc, prof_year >= 0 ? "the single-age new plans of that year"
                                              : "the base-year caseload age profile",
            sum_range(f->joiners, 0, TOP), sc->base_year + 1,
            last == sc->base_year - 1 ? "" : " (carried forward by g)");
    if (prof_year >= 0 && prof_year != last)
        src_add(f, "joiners: age profile within bands from history.csv new_plans %d", prof_year);
    if (sc->pop != NULL)
        src_add(f, "joiners: in each projected year scaled by the resident population of their "
                "age against January %d (population.csv %d-%d, its last year held after it)%s",
                sc->base_year + 1, sc->pop_first_year, sc->pop_last_year, f->per_capita ? ""
                : "; growth is on counts, as the file does not cover the trend window (the "
                "population is taken as flat there)");
}

/* Need mix of joiners by age: the base-year caseload's need mix at that age, pooled over the
 * nearest ages until it rests on PI_MIN_PLANS plans. (No LA-level need of new plans is in a
 * scenario; the caseload's mix leans to needs that stay longer, such as ASD.) */
static void fit_need_mix(ctx *c, fit *f)
{
    const scenario *sc = c->sc;

    for (int a = 0; a < NA; a++) {
        double need[SIM_N_NEEDS] = { 0 }, tot = 0.0;
        int lo = a, hi = a;

        for (;;) {
            memset(need, 0, sizeof need);
            tot = 0.0;
            for (int b = lo; b <= hi; b++)
                for (int k = 0; k < SIM_N_NEEDS; k++)
                    for (int s = 0; s < SIM_N_SETTINGS; s++) {
                        need[k] += sc->caseload[b][k][s];
                        tot += sc->caseload[b][k][s];
                    }
            if (tot >= PI_MIN_PLANS || (lo == 0 && hi == TOP))
                break;
            lo = lo > 0 ? lo - 1 : lo;
            hi = hi < TOP ? hi + 1 : hi;
        }
        for (int k = 0; k < SIM_N_NEEDS; k++)
            f->pi[a][k] = tot > 0.0 ? need[k] / tot : (k == NEED_UNK ? 1.0 : 0.0);
    }
    src_add(f, "need mix of joiners: caseload.csv (January %d) need mix by age, pooled over "
            "neighbouring ages to at least %d plans (history has no need detail)",
            sc->base_year, PI_MIN_PLANS);
}

/* ---- cessation -------------------------------------------------------------------------- */

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* A plan that ceases in calendar year C at age x (DfE: "age is calculated on the date the
 * plan ceased") was, about three times in four, aged x - 1 at the January C census (the
 * census age is the age on 31 August C - 1, on average 10 months before the date ceased).
 * The open top band keeps 25: every plan of census age 25 ends in that year. Rows that land
 * on the same ages are merged. */
static void ceased_to_census_age(band *rows, int *n)
{
    int m = 0;

    for (int i = 0; i < *n; i++) {
        band b = rows[i];
        int j;

        b.from = b.from > 0 ? b.from - 1 : 0;
        if (b.to < TOP)
            b.to = b.to > 0 ? b.to - 1 : 0;
        for (j = 0; j < m; j++)
            if (rows[j].from == b.from && rows[j].to == b.to)
                break;
        if (j < m)
            rows[j].count += b.count;
        else
            rows[m++] = b;
    }
    *n = m;
}

/* Contiguous groups of ages 0..24 that share a leaf of `e` (the published row that placed
 * them), merged with their neighbours until each group's weight w[] reaches `min_w` and, when
 * `ends` is not NULL, until a group ends on an age it lists. lo[], hi[] get the groups;
 * returns how many. */
static int age_groups(const age_est *e, const double *w, double min_w, const int *ends,
                      int *lo, int *hi)
{
    int ng = 0, start = 0;
    double acc = 0.0;

    for (int a = 0; a < TOP; a++) {
        int at_end = ends == NULL;

        for (int i = 0; ends != NULL && ends[i] >= 0; i++)
            at_end = at_end || ends[i] == a;
        acc += w[a];
        if ((a == TOP - 1 || e->leaf[a + 1] != e->leaf[a]) && at_end && acc >= min_w) {
            lo[ng] = start;
            hi[ng++] = a;
            start = a + 1;
            acc = 0.0;
        }
    }
    if (start < TOP) {                                   /* a thin tail joins the last group */
        lo[ng] = ng > 0 ? lo[ng - 1] : 0;
        ng = ng > 0 ? ng - 1 : 0;
        hi[ng++] = TOP - 1;
    }
    return ng;
}

/* Plans of ages lo..hi ending from caseload k[] at rates min(1, m * shape[a]). */
static double ended_at(double m, const double *shape, const double *k, int lo, int hi)
{
    double got = 0.0;

    for (int a = lo; a <= hi; a++)
        got += fmin(1.0, m * shape[a]) * k[a];
    return got;
}

/* Rates for ages lo..hi (< 25) in proportion to shape[] (flat where the shape is all 0),
 * at most 1, such that the plans ending from caseload k[] add up to `target`. */
static void scale_rates(double target, const double *k, const double *shape, int lo, int hi,
                        double *out)
{
    double sh[NA] = { 0 }, a_lo = 0.0, a_hi = 1.0;

    for (int a = lo; a <= hi; a++)
        sh[a] = shape[a] > 0.0 ? shape[a] : 0.0;
    if (ended_at(1.0, sh, k, lo, hi) <= 0.0)
        for (int a = lo; a <= hi; a++)
            sh[a] = 1.0;
    while (ended_at(a_hi, sh, k, lo, hi) < target && a_hi < 1e12)
        a_hi *= 2.0;
    for (int it = 0; it < 100; it++) {
        double mid = 0.5 * (a_lo + a_hi);

        if (ended_at(mid, sh, k, lo, hi) < target)
            a_lo = mid;
        else
            a_hi = mid;
    }
    for (int a = lo; a <= hi; a++)
        out[a] = target > 0.0 ? fmin(1.0, a_hi * sh[a]) : 0.0;
}

/* The pair of censuses (C, C + 1) the cohort and transfer fits use: the latest C before the
 * base year with caseload in both Januaries and new plans in C. */
typedef struct pair {
    int     year;               /* C, or -1 when there is none */
    age_est k0, k1, j;          /* caseload January C and C + 1, new plans in C, by age */
    int     j_prof_year;
} pair;

static int find_pair(ctx *c, pair *p, int max_year)
{
    for (int y = max_year; y >= 1900; y--) {
        if (latest_year(c->sc, MEASURE_CASELOAD, y, 0) < 0 && y < c->sc->base_year - 1)
            break;                                       /* nothing older is published */
        if (!caseload_at(c, y, &p->k0) || !caseload_at(c, y + 1, &p->k1))
            continue;
        if (year_rows(c->sc, MEASURE_NEW_PLANS, y, c->rows) == 0 || misreported(c, y))
            continue;
        newplans_by_age(c, y, &p->j, &p->j_prof_year);
        p->year = y;
        return y;
    }
    p->year = -1;
    return -1;
}

/* Cohort change: plans aged a + 1 in January C + 1, less that year's joiners of that age,
 * are the survivors of plans aged a in January C (net transfers taken as 0); one rate per
 * published caseload row of C, pooled over thin ages. cease[25] = 1. */
static void cease_from_cohorts(const pair *p, double *cease)
{
    int lo[NA], hi[NA], ng;

    for (int a = 0; a < NA; a++)
        cease[a] = 1.0;
    if (p->year < 0)
        return;
    ng = age_groups(&p->k0, p->k0.v, CEASE_MIN_PLANS, NULL, lo, hi);
    for (int g = 0; g < ng; g++) {
        double surv = 0.0, den = 0.0;

        for (int a = lo[g]; a <= hi[g]; a++) {
            surv += p->k1.v[a + 1] - p->j.v[a + 1];
            den += p->k0.v[a];
        }
        for (int a = lo[g]; a <= hi[g]; a++)
            cease[a] = den > 0.0 ? clamp(1.0 - surv / den, 0.0, 1.0) : 0.0;
    }
    cease[TOP] = 1.0;
}

/* 1 when the pair gives single-age cohorts over lo..hi (so their age pattern means something
 * rather than echoing the base-year profile). */
static int cohort_detail(const pair *p, int lo, int hi)
{
    if (p->year < 0)
        return 0;
    for (int a = lo; a <= hi; a++)
        if (!p->k0.single[a] || !p->k1.single[a + 1])
            return 0;
    return 1;
}

/* Ceased d[] (by census age) over the caseload k[] at the start of the year: one rate per
 * published row, pooled over thin ages; inside a row wider than one age, the rates follow
 * the cohort change's age pattern where the pair has single ages there, else are flat. The
 * ceased beyond k[25] (all of whom end) go to the group of age 24. */
static void cease_from_rows(const age_est *d, const double *k, const pair *p, double *cease)
{
    int lo[NA], hi[NA], ng = age_groups(d, k, CEASE_MIN_PLANS, NULL, lo, hi);
    double shape[NA];

    cease_from_cohorts(p, shape);
    for (int g = 0; g < ng; g++) {
        double num = sum_range(d->v, lo[g], hi[g]), den = sum_range(k, lo[g], hi[g]);

        if (hi[g] == TOP - 1)
            num += d->v[TOP] - k[TOP];
        if (hi[g] > lo[g] && cohort_detail(p, lo[g], hi[g]))
            scale_rates(num, k, shape, lo[g], hi[g], cease);
        else
            for (int a = lo[g]; a <= hi[g]; a++)
                cease[a] = den > 0.0 ? clamp(num / den, 0.0, 1.0) : 0.0;
    }
    cease[TOP] = 1.0;
}

/* "history.csv caseload rows 0-4,5-10" or "caseload.csv", for the sources. */
static void caseload_desc(ctx *c, int year, char *buf, size_t size)
{
    char rows[200];
    int n;

    if (year == c->sc->base_year) {
        snprintf(buf, size, "caseload.csv (January %d)", year);
        return;
    }
    n = year_rows(c->sc, MEASURE_CASELOAD, year, c->rows);
    qsort(c->rows, (size_t)n, sizeof *c->rows, band_width_cmp);
    bands_desc(c->rows, n, rows, sizeof rows);
    snprintf(buf, size, "history.csv caseload January %d (rows %s%s)", year, rows,
             n > 0 && c->rows[0].from != c->rows[0].to
                 ? ", split within bands by the base-year age profile" : "");
}

/* Latest year with ceased rows (narrower than 0-25 when `detail`) and a caseload that
 * January, which is then in *k. Returns the year or -1. */
static int ceased_year(ctx *c, int detail, age_est *k)
{
    int y = latest_year(c->sc, MEASURE_CEASED, INT_MAX, detail);

    while (y >= 0 && !caseload_at(c, y, k))
        y = latest_year(c->sc, MEASURE_CEASED, y - 1, detail);
    return y;
}

static sim_status fit_cease(ctx *c, fit *f, const pair *p)
{
    age_est k, d;
    char rows[200], kdesc[300];
    int n, y = ceased_year(c, 1, &k);

    if (y >= 0) {
        n = year_rows(c->sc, MEASURE_CEASED, y, c->rows);
        ceased_to_census_age(c->rows, &n);
        spread(c->rows, n, k.v, &d);
        cease_from_rows(&d, k.v, p, f->cease);
        bands_desc(c->rows, n, rows, sizeof rows);
        caseload_desc(c, y, kdesc, sizeof kdesc);
        src_add(f, "cessation: history.csv ceased %d by age (age when ceased moved one year "
                "down to census age: rows %s) over %s; thin ages pooled to %d plans; within "
                "bands, the age pattern of cohort change where it has single ages", y, rows,
                kdesc, CEASE_MIN_PLANS);
        return SIM_OK;
    }
    y = ceased_year(c, 0, &k);
    if (y >= 0) {
        n = year_rows(c->sc, MEASURE_CEASED, y, c->rows);
        spread(c->rows, n, k.v, &d);
        cease_from_cohorts(p, f->cease);
        scale_rates(d.total - k.v[TOP], k.v, f->cease, 0, TOP - 1, f->cease);
        f->cease[TOP] = 1.0;
        caseload_desc(c, y, kdesc, sizeof kdesc);
        src_add(f, "cessation: history.csv ceased %d total (%.0f) over %s, spread by %s", y,
                d.total, kdesc, p->year >= 0 ? "the age pattern of cohort change" : "a flat rate");
        return SIM_OK;
    }
    if (p->year >= 0) {
        cease_from_cohorts(p, f->cease);
        caseload_desc(c, p->year, kdesc, sizeof kdesc);
        src_add(f, "cessation: no ceased figures; from cohort change %s to January %d less "
                "new plans %d", kdesc, p->year + 1, p->year);
        return SIM_OK;
    }
    return sim_error_set(c->err, SIM_EDATA, scenario_history_path(c->sc), 0, "ceased",
                         "cessation cannot be fitted: no ceased figures with a caseload for the "
                         "same January, and no two consecutive caseload years with new plans "
                         "between them (expected measure ceased rows, or caseload rows for "
                         "year %d)", c->sc->base_year - 1);
}

/* ---- net transfers ---------------------------------------------------------------------- */

/* One group of source ages lo..hi in January C: adds its surviving plans and the residual of
 * their destination ages in January C + 1 (age 0 goes with the group starting at 0). */
static void transfer_sums(const pair *p, const double *cease, int lo, int hi, double *surv,
                          double *res)
{
    double s = 0.0, dest = 0.0, joined = 0.0;

    for (int a = lo; a <= hi; a++) {
        s += (1.0 - cease[a]) * p->k0.v[a];
        dest += p->k1.v[a + 1];
        joined += p->j.v[a + 1];
    }
    if (lo == 0) {
        dest += p->k1.v[0];
        joined += p->j.v[0];
    }
    *surv += s;
    *res += dest - s - joined;
}

/* The latest pair and up to TRANSFER_YEARS - 1 earlier ones within TRANSFER_SPAN years. */
static int transfer_pairs(ctx *c, const pair *latest, pair *ps)
{
    int n = 1;

    ps[0] = *latest;
    while (n < TRANSFER_YEARS && find_pair(c, &ps[n], ps[n - 1].year - 1) >= 0 &&
           ps[n].year > latest->year - TRANSFER_SPAN)
        n++;
    return n;
}

/* Transfers: the residual of the latest TRANSFER_YEARS caseload pairs, pooled, per surviving
 * plan, by the published caseload rows of the latest January C merged up to DfE's bands
 * (0-4, 5-10, 11-15, 16-19, 20-25) and until each rests on TRANSFER_MIN_PLANS survivors.
 * Pooling steadies a residual that also carries each year's reporting noise (DfE's ceased
 * figures swing several-fold between years for some LAs); with one pair, the deterministic
 * model reproduces January C + 1 on those groups exactly. Single ages are not used even
 * where published: their residuals mostly echo how DfE's ages of flows differ from census
 * ages (a surplus at 4, a deficit at 5), which as a rate per plan would compound. */
static void fit_transfer(ctx *c, fit *f, const pair *p)
{
    static const int BAND_ENDS[] = { 4, 10, 15, 19, TOP - 1, -1 };
    int lo[NA], hi[NA], ng, np;
    double surv[NA];
    char kdesc[300], line[1200] = "";
    size_t used = 0;
    pair *ps;

    memset(f->transfer, 0, sizeof f->transfer);
    if (p->year < 0) {
        src_add(f, "transfers: 0 (history.csv has no two consecutive caseload years with new "
                "plans between them)");
        return;
    }
    ps = xcalloc(TRANSFER_YEARS, sizeof *ps);
    np = transfer_pairs(c, p, ps);
    for (int a = 0; a < NA; a++)
        surv[a] = (1.0 - f->cease[a]) * p->k0.v[a];
    ng = age_groups(&p->k0, surv, TRANSFER_MIN_PLANS, BAND_ENDS, lo, hi);
    caseload_desc(c, p->year, kdesc, sizeof kdesc);
    for (int i = np - 1; i >= 0; i--)
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%d", i < np - 1 ? ", " : "",
                                 ps[i].year);
    src_add(f, "transfers: residual of caseload change less new plans plus fitted leavers, "
            "per surviving plan, pooled over %d pair%s of Januaries C to C + 1 (C = %s); "
            "groups from %s (ages in January C + 1: residual plans, rate; inflows capped at "
            "%+.2f a year):", np, np == 1 ? "" : "s", line, kdesc, FIT_TRANSFER_MAX);
    used = 0;
    for (int g = 0; g < ng; g++) {
        double s = 0.0, res = 0.0, r;

        for (int i = 0; i < np; i++)
            transfer_sums(&ps[i], f->cease, lo[g], hi[g], &s, &res);
        r = s > 0.0 ? clamp(res / s, -1.0, FIT_TRANSFER_MAX) : 0.0;
        for (int a = lo[g]; a <= hi[g]; a++)
            f->transfer[a + 1] = r;
        if (lo[g] == 0)
            f->transfer[0] = r;
        used += (size_t)snprintf(line + used, used < sizeof line ? sizeof line - used : 0,
                                 "%s%d-%d: %+.0f, %+.4f", g ? "; " : "  ",
                                 lo[g] == 0 ? 0 : lo[g] + 1, hi[g] + 1, res, r);
    }
    src_add(f, "%s", line);
    free(ps);
}

/* ---- the fit ---------------------------------------------------------------------------- */

static void src_by_age(fit *f, const char *what, const double *v, const char *fmt)
{
    char line[600];
    size_t used = (size_t)snprintf(line, sizeof line, "%s by age:", what);

    for (int a = 0; a < NA && used < sizeof line; a++) {
        char cell[32];

        snprintf(cell, sizeof cell, fmt, v[a]);
        used += (size_t)snprintf(line + used, sizeof line - used, " %d:%s", a, cell);
    }
    src_add(f, "%s", line);
}

/* The base-year caseload by age, the profile that splits bands. */
static void base_profile(const scenario *sc, double *base)
{
    for (int a = 0; a < NA; a++) {
        base[a] = 0.0;
        for (int k = 0; k < SIM_N_NEEDS; k++)
            base[a] += sum_range(sc->caseload[a][k], 0, SIM_N_SETTINGS - 1);
    }
}

double fit_newplans_total(const scenario *sc, int year)
{
    ctx c;
    double t;

    memset(&c, 0, sizeof c);
    c.sc = sc;
    c.rows = xmalloc((sc->n_history + 1) * sizeof *c.rows);
    base_profile(sc, c.base);
    t = newplans_total(&c, year);
    free(c.rows);
    return t;
}

sim_status fit_scenario(const scenario *sc, fit *out, sim_error *err)
{
    fit f;
    ctx c;
    trend t;
    pair *p = xcalloc(1, sizeof *p);
    sim_status st;

    memset(&f, 0, sizeof f);
    memset(&c, 0, sizeof c);
    c.sc = sc;
    c.err = err;
    c.rows = xmalloc((sc->n_history + 1) * sizeof *c.rows);
    base_profile(sc, c.base);
    f.base_year = sc->base_year;
    st = fit_growth(&c, &f, &t);
    if (st == SIM_OK) {
        fit_exit_noise(&c, &f, &t);
        fit_joiners(&c, &f, sound_newplans_year(&c, t.last));
        fit_need_mix(&c, &f);
        find_pair(&c, p, sc->base_year - 1);
        st = fit_cease(&c, &f, p);
    }
    if (st == SIM_OK) {
        fit_transfer(&c, &f, p);
        src_by_age(&f, "joiners", f.joiners, "%.1f");
        src_by_age(&f, "cease", f.cease, "%.4f");
        src_by_age(&f, "transfer", f.transfer, "%+.4f");
        *out = f;
    }
    free(c.rows);
    free(p);
    return st;
}
