/* chart.c - the briefing pack drawn from the run's output CSVs; the only file that talks to PLplot.
 *
 * PLplot keeps global state and calls exit() on fatal errors (an unknown device, an unwritable
 * file), so everything it could die on is checked before plinit(): the devices with plgDevs(),
 * the directory (exists, writable, no '%' in its name), and each output file, whose temporary
 * name is created with mkstemp() before anything is drawn. Files are renamed into place only
 * when all have been drawn.
 *
 * The file has four parts: reading the CSVs into small arrays, drawing helpers (page
 * coordinates, axes with custom labels, legends), one function per chart, and the pack
 * (devices, temporary files, the PDF's title and summary pages). */
#include "chart.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <plplot.h>

#include "codes.h"
#include "table.h"
#include "version.h"
#include "xalloc.h"

/* ---- data read back from the CSVs ---------------------------------------------------- */

enum { Q_MEAN, Q_P025, Q_P10, Q_P25, Q_P50, Q_P75, Q_P90, Q_P975, N_Q };

typedef struct point { int year; double q[N_Q]; } point;     /* NAN where not given */
typedef struct curve { size_t n; point *pt; } curve;          /* sorted by year */

typedef struct sf_row {
    int    year, group, phase, need;       /* phase and need -1 for ALL */
    double capacity, d50, d90, d025, d10, d975, sf_p50, p, places;
} sf_row;

typedef struct wave_row {
    char   name[48];
    int    open_year, latest, group;       /* latest 0 when none; group -1 when not given */
    double places, reduction;
    double risk_now;                       /* earliest_risk (NAN when not given) */
    int    risk_year;                      /* earliest_risk_year (0 when not given) */
} wave_row;

typedef struct bt_row { int origin, horizon, year; double actual, q[5]; } bt_row;
typedef struct cmp_row { int year; char measure[32]; double a, b, d, d05, d95; } cmp_row;

typedef struct pack {
    const chart_meta *meta;
    char    source[768];                   /* the line under every chart */
    int     base_year;
    curve   total;                         /* demand, all plans */
    curve   need[SIM_N_NEEDS];             /* demand by need (mean) */
    sf_row *sf;      size_t n_sf;
    wave_row *wv;    size_t n_wv;
    curve   cost_all, cost_is, cost_oob;   /* pounds: every setting, IS, out of borough */
    bt_row *bt;      size_t n_bt;
    cmp_row *cmp;    size_t n_cmp;
    const char *name_a, *name_b;
} pack;

/* Open DIR/NAME if it exists: *t stays NULL when it does not. Columns are checked by name;
 * extra columns are allowed (later versions may add some). */
static sim_status open_csv(const char *dir, const char *name, const char *const *req, size_t n_req,
                           table **t, sim_error *err)
{
    char path[4096];
    struct stat sb;
    sim_status st;

    *t = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return sim_error_set(err, SIM_EIO, dir, 0, NULL, "output directory name is too long");
    if (stat(path, &sb) != 0)
        return SIM_OK;
    st = table_load(path, t, err);
    if (st == SIM_OK)
        st = table_expect(*t, req, n_req, NULL, 0, 1, err);
    if (st != SIM_OK) {
        table_free(*t);
        *t = NULL;
    }
    return st;
}

static sim_status get_num(const table *t, size_t r, int c, double *v, sim_error *err)
{
    if (c < 0) {
        *v = NAN;
        return SIM_OK;
    }
    return table_number(t, r, (size_t)c, v, NULL, err);
}

static sim_status get_year(const table *t, size_t r, const char *col, int *y, sim_error *err)
{
    long v = 0;
    sim_status st = table_int(t, r, (size_t)table_col(t, col), 1900, 2200, &v, err);

    *y = (int)v;
    return st;
}

/* A code column: "ALL" gives -1, otherwise one of the codes parse() knows. */
static sim_status get_code(const table *t, size_t r, const char *col, int (*parse)(const char *),
                           const char *list, int *out, sim_error *err)
{
    size_t c = (size_t)table_col(t, col);
    const char *s = table_cell(t, r, c);

    if (strcmp(s, "ALL") == 0) {
        *out = -1;
        return SIM_OK;
    }
    *out = parse(s);
    if (*out < 0)
        return table_cell_error(t, r, c, err, "'%s' is not a known code (expected ALL or one of %s)",
                                s, list);
    return SIM_OK;
}

static int cmp_point(const void *a, const void *b)
{
    const point *x = a, *y = b;
    return (x->year > y->year) - (x->year < y->year);
}

/* Read the quantile columns named in cols[N_Q] (NULL: not in this file) of row r. */
static sim_status get_point(const table *t, size_t r, const char *const *cols, point *pt,
                            sim_error *err)
{
    sim_status st = get_year(t, r, "year", &pt->year, err);

    for (int k = 0; k < N_Q && st == SIM_OK; k++)
        st = get_num(t, r, cols[k] ? table_col(t, cols[k]) : -1, &pt->q[k], err);
    return st;
}

static void curve_add(curve *c, size_t cap, const point *pt)
{
    if (c->pt == NULL)
        c->pt = xcalloc(cap, sizeof *c->pt);
    c->pt[c->n++] = *pt;
}

static void curve_free(curve *c)
{
    free(c->pt);
    c->pt = NULL;
    c->n = 0;
}

static const char *const DEMAND_COLS[] = { "year", "phase", "need", "setting", "mean", "sd", "p025",
                                           "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p975" };
static const char *const DEMAND_Q[N_Q] = { "mean", "p025", "p10", "p25", "p50", "p75", "p90", "p975" };

/* Infer the base year: the last year whose total is a single published figure. */
static int infer_base_year(const curve *c)
{
    int base = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->pt[i].q[Q_P025] == c->pt[i].q[Q_P975])
            base = c->pt[i].year;
    return base;
}

static sim_status load_demand(const char *dir, pack *p, sim_error *err)
{
    table *t;
    sim_status st = open_csv(dir, "demand.csv", DEMAND_COLS, 15, &t, err);

    if (st != SIM_OK)
        return st;
    if (t == NULL)
        return sim_error_set(err, SIM_ENOENT, dir, 0, NULL,
                             "no demand.csv in this directory (run the scenario first)");
    for (size_t r = 0; r < table_rows(t) && st == SIM_OK; r++) {
        int ph, nd, se;
        point pt;
        st = get_code(t, r, "phase", phase_parse, phase_codes_list(), &ph, err);
        if (st == SIM_OK)
            st = get_code(t, r, "need", need_parse, need_codes_list(), &nd, err);
        if (st == SIM_OK)
            st = get_code(t, r, "setting", setting_parse, setting_codes_list(), &se, err);
        if (st != SIM_OK || ph != -1 || se != -1)
            continue;
        st = get_point(t, r, DEMAND_Q, &pt, err);
        if (st == SIM_OK)
            curve_add(nd < 0 ? &p->total : &p->need[nd], table_rows(t), &pt);
    }
    if (st == SIM_OK && p->total.n == 0)
        st = sim_error_set(err, SIM_EDATA, table_name(t), 0, NULL,
                           "no rows with phase, need and setting all ALL (expected the totals)");
    table_free(t);
    if (st != SIM_OK)
        return st;
    qsort(p->total.pt, p->total.n, sizeof *p->total.pt, cmp_point);
    for (int n = 0; n < SIM_N_NEEDS; n++)
        if (p->need[n].n)
            qsort(p->need[n].pt, p->need[n].n, sizeof *p->need[n].pt, cmp_point);
    if (p->base_year == 0)
        p->base_year = infer_base_year(&p->total);
    return SIM_OK;
}

static const char *const SF_COLS[] = { "year", "group", "phase", "need", "capacity", "demand_p50",
                                       "demand_p90", "shortfall_mean", "shortfall_p50",
                                       "shortfall_p90", "p_shortfall", "places_for_target" };

static sim_status sf_read_row(const table *t, size_t r, sf_row *s, sim_error *err)
{
    sim_status st = get_year(t, r, "year", &s->year, err);

    if (st == SIM_OK)
        st = get_code(t, r, "group", group_parse, group_codes_list(), &s->group, err);
    if (st == SIM_OK && s->group < 0)
        st = table_cell_error(t, r, (size_t)table_col(t, "group"), err,
                              "ALL is not a capacity group (expected one of %s)", group_codes_list());
    if (st == SIM_OK)
        st = get_code(t, r, "phase", phase_parse, phase_codes_list(), &s->phase, err);
    if (st == SIM_OK)
        st = get_code(t, r, "need", need_parse, need_codes_list(), &s->need, err);
    if (st == SIM_OK) st = get_num(t, r, table_col(t, "capacity"), &s->capacity, err);
    if (st == SIM_OK) st = get_num(t, r, table_col(t, "demand_p50"), &s->d50, err);
    if (st == SIM_OK) st = get_num(t, r, table_col(t, "demand_p90"), &s->d90, err);
    if (st == SIM_OK) st = get_num(t, r, table_col(t, "demand_p025"), &s->d025, err);
    if (st == SIM_OK) st = get_num(t, r, table_col(t, "demand_p10"), &s->d10, err);
    if (st == SIM_OK) st = get_num(t, r, table_col(t, "demand_p975"), &s->d975, err);
    if (st == SIM_OK) st = get_num(t, r, table_col(t, "shortfall_p50"), &s->sf_p50, err);
    if (st == SIM_OK) st = get_num(t, r, table_col(t, "p_shortfall"), &s->p, err);
    if (st == SIM_OK) st = get_num(t, r, table_col(t, "places_for_target"), &s->places, err);
    if (st == SIM_OK && !(s->p >= 0.0 && s->p <= 1.0))
        st = table_cell_error(t, r, (size_t)table_col(t, "p_shortfall"), err,
                              "%g is not a probability (expected 0 to 1)", s->p);
    return st;
}

static sim_status load_shortfall(const char *dir, pack *p, sim_error *err)
{
    table *t;
    sim_status st = open_csv(dir, "shortfall.csv", SF_COLS, 12, &t, err);

    if (st != SIM_OK || t == NULL)
        return st;
    p->sf = xcalloc(table_rows(t) + 1, sizeof *p->sf);
    for (size_t r = 0; r < table_rows(t) && st == SIM_OK; r++)
        st = sf_read_row(t, r, &p->sf[p->n_sf++], err);
    table_free(t);
    return st;
}

static const char *const WAVE_COLS[] = { "wave", "open_year", "places", "shortfall_reduction_mean",
                                         "latest_safe_open_year" };

static sim_status wave_read_row(const table *t, size_t r, wave_row *w, sim_error *err)
{
    int gc = table_col(t, "group");
    const char *latest = table_cell(t, r, (size_t)table_col(t, "latest_safe_open_year"));
    sim_status st;

    snprintf(w->name, sizeof w->name, "%s", table_cell(t, r, (size_t)table_col(t, "wave")));
    st = get_year(t, r, "open_year", &w->open_year, err);
    if (st == SIM_OK) st = get_num(t, r, table_col(t, "places"), &w->places, err);
    if (st == SIM_OK)
        st = get_num(t, r, table_col(t, "shortfall_reduction_mean"), &w->reduction, err);
    w->latest = 0;                         /* empty or a marker: no year keeps the risk in target */
    if (st == SIM_OK && latest[0] != '\0' && !table_is_suppressed(latest) &&
        strcmp(latest, "NA") != 0 && strcmp(latest, "none") != 0)
        st = get_year(t, r, "latest_safe_open_year", &w->latest, err);
    w->group = -1;
    if (st == SIM_OK && gc >= 0)
        st = get_code(t, r, "group", group_parse, group_codes_list(), &w->group, err);
    w->risk_now = NAN;
    w->risk_year = 0;
    if (st == SIM_OK && table_col(t, "earliest_risk") >= 0 && table_col(t, "earliest_risk_year") >= 0
        && table_cell(t, r, (size_t)table_col(t, "earliest_risk"))[0] != '\0') {
        st = get_num(t, r, table_col(t, "earliest_risk"), &w->risk_now, err);
        if (st == SIM_OK)
            st = get_year(t, r, "earliest_risk_year", &w->risk_year, err);
    }
    return st;
}

static sim_status load_waves(const char *dir, pack *p, sim_error *err)
{
    table *t;
    sim_status st = open_csv(dir, "waves.csv", WAVE_COLS, 5, &t, err);

    if (st != SIM_OK || t == NULL)
        return st;
    p->wv = xcalloc(table_rows(t) + 1, sizeof *p->wv);
    for (size_t r = 0; r < table_rows(t) && st == SIM_OK; r++)
        st = wave_read_row(t, r, &p->wv[p->n_wv++], err);
    table_free(t);
    return st;
}

static const char *const COST_COLS[] = { "year", "setting", "mean", "p025", "p10", "p50", "p90",
                                         "p975" };
static const char *const COST_Q[N_Q] = { "mean", "p025", "p10", NULL, "p50", NULL, "p90", "p975" };

static sim_status load_cost(const char *dir, pack *p, sim_error *err)
{
    table *t;
    sim_status st = open_csv(dir, "cost.csv", COST_COLS, 8, &t, err);

    if (st != SIM_OK || t == NULL)
        return st;
    for (size_t r = 0; r < table_rows(t) && st == SIM_OK; r++) {
        int se;
        point pt;
        /* OOB: out of borough, the one code here that is not a setting */
        if (strcmp(table_cell(t, r, (size_t)table_col(t, "setting")), "OOB") == 0)
            se = -2;
        else
            st = get_code(t, r, "setting", setting_parse, "ALL, OOB or one of the settings",
                          &se, err);
        if (st != SIM_OK || (se >= 0 && se != SET_IS))
            continue;
        st = get_point(t, r, COST_Q, &pt, err);
        if (st == SIM_OK)
            curve_add(se == -1 ? &p->cost_all : se == -2 ? &p->cost_oob : &p->cost_is,
                      table_rows(t), &pt);
    }
    table_free(t);
    if (p->cost_all.n)
        qsort(p->cost_all.pt, p->cost_all.n, sizeof(point), cmp_point);
    if (p->cost_is.n)
        qsort(p->cost_is.pt, p->cost_is.n, sizeof(point), cmp_point);
    if (p->cost_oob.n)
        qsort(p->cost_oob.pt, p->cost_oob.n, sizeof(point), cmp_point);
    return st;
}

static const char *const BT_COLS[] = { "origin", "horizon", "year", "band", "actual", "p025", "p10",
                                       "p50", "p90", "p975", "ape", "in80", "in95" };

static sim_status load_backtest(const char *dir, pack *p, sim_error *err)
{
    table *t;
    sim_status st = open_csv(dir, "backtest.csv", BT_COLS, 13, &t, err);

    if (st != SIM_OK || t == NULL)
        return st;
    p->bt = xcalloc(table_rows(t) + 1, sizeof *p->bt);
    for (size_t r = 0; r < table_rows(t) && st == SIM_OK; r++) {
        bt_row *b = &p->bt[p->n_bt];
        long h = 0;
        if (strcmp(table_cell(t, r, (size_t)table_col(t, "band")), "ALL") != 0)
            continue;
        st = get_year(t, r, "origin", &b->origin, err);
        if (st == SIM_OK) st = table_int(t, r, (size_t)table_col(t, "horizon"), 1, 50, &h, err);
        if (st == SIM_OK) st = get_year(t, r, "year", &b->year, err);
        b->horizon = (int)h;
        if (st == SIM_OK) st = get_num(t, r, table_col(t, "actual"), &b->actual, err);
        for (int k = 0; k < 5 && st == SIM_OK; k++)
            st = get_num(t, r, table_col(t, BT_COLS[5 + k]), &b->q[k], err);
        if (st == SIM_OK)
            p->n_bt++;
    }
    table_free(t);
    return st;
}

static const char *const CMP_COLS[] = { "year", "measure", "a_mean", "b_mean", "diff_mean",
                                        "diff_p05", "diff_p95" };

static sim_status load_compare(const char *dir, pack *p, sim_error *err)
{
    table *t;
    sim_status st = open_csv(dir, "compare.csv", CMP_COLS, 7, &t, err);

    if (st != SIM_OK)
        return st;
    if (t == NULL)
        return sim_error_set(err, SIM_ENOENT, dir, 0, NULL,
                             "no compare.csv in this directory (run sendsim compare first)");
    p->cmp = xcalloc(table_rows(t) + 1, sizeof *p->cmp);
    for (size_t r = 0; r < table_rows(t) && st == SIM_OK; r++) {
        cmp_row *c = &p->cmp[p->n_cmp++];
        snprintf(c->measure, sizeof c->measure, "%s",
                 table_cell(t, r, (size_t)table_col(t, "measure")));
        st = get_year(t, r, "year", &c->year, err);
        if (st == SIM_OK) st = get_num(t, r, table_col(t, "a_mean"), &c->a, err);
        if (st == SIM_OK) st = get_num(t, r, table_col(t, "b_mean"), &c->b, err);
        if (st == SIM_OK) st = get_num(t, r, table_col(t, "diff_mean"), &c->d, err);
        if (st == SIM_OK) st = get_num(t, r, table_col(t, "diff_p05"), &c->d05, err);
        if (st == SIM_OK) st = get_num(t, r, table_col(t, "diff_p95"), &c->d95, err);
    }
    table_free(t);
    return st;
}

static void pack_free(pack *p)
{
    curve_free(&p->total);
    for (int n = 0; n < SIM_N_NEEDS; n++)
        curve_free(&p->need[n]);
    curve_free(&p->cost_all);
    curve_free(&p->cost_is);
    curve_free(&p->cost_oob);
    free(p->sf);
    free(p->wv);
    free(p->bt);
    free(p->cmp);
}

/* ---- formatting --------------------------------------------------------------------- */

/* 12345.6 -> "12,346"; negative numbers keep their sign. */
static void fmt_count(double v, char *buf, size_t n)
{
    char digits[32], out[48];
    long long x = llround(fabs(v));
    size_t len, j = 0;

    snprintf(digits, sizeof digits, "%lld", x);
    len = strlen(digits);
    if (v < 0 && x != 0)
        out[j++] = '-';
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[j++] = ',';
        out[j++] = digits[i];
    }
    out[j] = '\0';
    snprintf(buf, n, "%s", out);
}

/* A projected count to three significant figures ("about 9,790"): more digits would claim a
 * precision the bands do not have. */
static void fmt_about(double v, char *buf, size_t n)
{
    double mag = fabs(v) >= 1000 ? pow(10.0, floor(log10(fabs(v))) - 2) : 1.0;

    fmt_count(round(v / mag) * mag, buf, n);
}

/* Pounds as "£61.2m" (or "-£2.5m"); `decimals` after the point. */
static void fmt_money(double pounds, int decimals, char *buf, size_t n)
{
    double m = fabs(pounds) / 1e6;

    if (decimals < 0)                      /* auto: £238m, £61.2m */
        decimals = m >= 99.95 ? 0 : 1;
    if (m < 0.5 * pow(10, -decimals)) {    /* "£0m", never "-£0.0m" */
        snprintf(buf, n, "£0m");
        return;
    }
    snprintf(buf, n, "%s£%.*fm", pounds < 0 && m >= 0.5 * pow(10, -decimals) ? "-" : "",
             decimals, m);
}

static void fmt_pct(double p, char *buf, size_t n)
{
    if (p > 0 && p < 0.005)
        snprintf(buf, n, "<1%%");
    else if (p < 1 && p > 0.995)
        snprintf(buf, n, ">99%%");
    else
        snprintf(buf, n, "%.0f%%", 100.0 * p);
}

/* ---- drawing helpers ------------------------------------------------------------------ */

/* Okabe-Ito colours (safe for the common colour-vision deficiencies), as 0xRRGGBB. */
enum {
    C_BLACK = 0x000000, C_ORANGE = 0xE69F00, C_SKY = 0x56B4E9, C_GREEN = 0x009E73,
    C_BLUE = 0x0072B2, C_VERMILLION = 0xD55E00, C_PURPLE = 0xCC79A7,
    C_GREY = 0x666666, C_LIGHT = 0xDDDDDD
};
enum { PEN_WORK = 15 };   /* cmap0 slot reused for every colour we draw with */

enum y_mode { Y_COUNT, Y_MONEY };

/* Where the current plot sits: viewport (page fraction) and window (world), so text can be
 * placed in page coordinates next to the data. */
typedef struct frame {
    double vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
    int    y_mode, money_decimals;
    int    no_ylabels;                 /* panels sharing the first panel's y labels */
    int    no_xlabels;                 /* a panel above another that labels the years */
} frame;

static unsigned tint(unsigned rgb, double t)  /* t of the colour over white */
{
    unsigned r = (rgb >> 16) & 255, g = (rgb >> 8) & 255, b = rgb & 255;
    r = (unsigned)lround(255 - t * (255 - r));
    g = (unsigned)lround(255 - t * (255 - g));
    b = (unsigned)lround(255 - t * (255 - b));
    return (r << 16) | (g << 8) | b;
}

static void colour(unsigned rgb, double alpha)
{
    plscol0a(PEN_WORK, (PLINT)((rgb >> 16) & 255), (PLINT)((rgb >> 8) & 255), (PLINT)(rgb & 255),
             alpha);
    plcol0(PEN_WORK);
}

static int toupper_ascii(int ch)
{
    return ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch;
}

static void page_coords(void)
{
    plvpor(0.0, 1.0, 0.0, 1.0);
    plwind(0.0, 1.0, 0.0, 1.0);
}

static void font(int bold)
{
    plsfont(PL_FCI_SANS, PL_FCI_UPRIGHT, bold ? PL_FCI_BOLD : PL_FCI_MEDIUM);
}

/* Text in page coordinates (0..1 both ways): `just` 0 left, 0.5 centre, 1 right. */
static void text(double x, double y, double just, double size, int bold, unsigned rgb, const char *s)
{
    plschr(0.0, size);
    font(bold);
    colour(rgb, 1.0);
    plptex(x, y, 1.0, 0.0, just, s);
    font(0);
}

static double page_x(const frame *f, double wx)
{
    return f->vx0 + (wx - f->wx0) / (f->wx1 - f->wx0) * (f->vx1 - f->vx0);
}

static double page_y(const frame *f, double wy)
{
    return f->vy0 + (wy - f->wy0) / (f->wy1 - f->wy0) * (f->vy1 - f->vy0);
}

static void use_frame(const frame *f)
{
    plvpor(f->vx0, f->vx1, f->vy0, f->vy1);
    plwind(f->wx0, f->wx1, f->wy0, f->wy1);
}

/* A round step (1, 2, 2.5 or 5 times a power of ten) giving about `want` intervals, never
 * below `min_step` (1 for counts: a label "0.5 places" would mislead). */
static double nice_step(double range, double want, double min_step)
{
    double raw = range / want, mag, f;

    if (!(raw > 0))
        return min_step > 0 ? min_step : 1.0;
    mag = pow(10.0, floor(log10(raw)));
    f = raw / mag;
    f = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 2.5 ? 2.5 : f <= 5.0 ? 5.0 : 10.0;
    return fmax(f * mag, min_step);
}

static void label_fn(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data)
{
    const frame *f = data;

    if (axis == PL_X_AXIS)
        snprintf(label, (size_t)length, "%d", (int)lround(value));
    else if (f->y_mode == Y_MONEY)
        fmt_money(value * 1e6, f->money_decimals, label, (size_t)length);
    else
        fmt_count(value, label, (size_t)length);
}

/* Years between x labels: labels at least 0.06 of the page apart. */
static int year_step(int span, double width)
{
    static const int STEPS[] = { 1, 2, 5, 10, 20 };

    for (size_t i = 0; i < sizeof STEPS / sizeof STEPS[0]; i++)
        if (span <= 0 || width * STEPS[i] / span >= 0.06)
            return STEPS[i];
    return 50;
}

/* Set up a frame for years y0..y1 and values lo..hi (rounded out to whole steps), draw light
 * horizontal grid lines, the axes with whole-year and thousands-separated labels, and the
 * axis titles. Values in Y_MONEY mode are millions of pounds. */
static void axes(frame *f, int y0, int y1, double lo, double hi, int mode, const char *ytitle)
{
    int ys = year_step(y1 - y0, f->vx1 - f->vx0);
    double step = nice_step(hi - lo, 5.0, mode == Y_MONEY ? 0.1 : 1.0);

    f->y_mode = mode;
    f->money_decimals = step < 1.0 ? 1 : 0;
    f->wx0 = y0 - 0.4;
    f->wx1 = y1 + 0.4;
    f->wy0 = floor(lo / step) * step;
    f->wy1 = ceil(hi / step) * step;
    if (f->wy1 <= f->wy0)
        f->wy1 = f->wy0 + step;
    use_frame(f);
    plslabelfunc(label_fn, f);
    plschr(0.0, 0.8);
    plwidth(1.0);
    colour(C_LIGHT, 1.0);
    plbox("", 0.0, 0, "g", step, 0);
    colour(C_BLACK, 1.0);
    plbox(f->no_xlabels ? (ys > 1 ? "bstoi" : "btoi") : (ys > 1 ? "bnstoi" : "bntoi"), (double)ys,
          ys, "", 0.0, 0);
    plsmaj(0.0, 0.0);                      /* y labels without ticks: the grid lines do that job */
    plbox("", 0.0, 0, f->no_ylabels ? "b" : "bntvo", step, 0);
    plsmaj(0.0, 1.0);
    plslabelfunc(NULL, NULL);
    if (ytitle && *ytitle) {               /* horizontal, above the axis: easier to read */
        page_coords();
        text(fmax(0.02, f->vx0 - 0.09), f->vy1 + 0.035, 0.0, 0.72, 0, C_BLACK, ytitle);
        use_frame(f);
    }
}

/* Characters (UTF-8 code points) in s. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

double chart_fit_line(const char *s, size_t room, double size, char *out, size_t n)
{
    const size_t len = utf8_len(s);
    const double smallest = 0.7 * size;
    size_t keep, at = 0;

    if (n == 0)
        return size;
    if (len <= room || (double)len * smallest <= (double)room * size) {
        snprintf(out, n, "%s", s);
        return len <= room ? size : size * (double)room / (double)len;
    }
    keep = (size_t)((double)room * size / smallest) - 1;   /* code points before the "..." */
    for (size_t k = 0; s[at] && at + 4 < n; at++)
        if (((unsigned char)s[at] & 0xC0) != 0x80 && k++ == keep)
            break;
    while (at > 0 && ((unsigned char)s[at] & 0xC0) == 0x80)
        at--;                                              /* never split a character */
    memcpy(out, s, at);
    memcpy(out + at, "\xe2\x80\xa6", 4);                  /* U+2026, with its NUL */
    return smallest;
}

/* Left-aligned page text fitted to one line of `room` characters (chart_fit_line). */
static void text_fit(double x, double y, double size, int bold, unsigned rgb, const char *s,
                     size_t room)
{
    char line[512];
    const double sz = chart_fit_line(s, room, size, line, sizeof line);

    text(x, y, 0.0, sz, bold, rgb, line);
}

/* Title, subtitle and the source line: the frame of every chart page. */
static void chart_titles(const pack *p, const char *title, const char *subtitle)
{
    page_coords();
    text_fit(0.02, 0.95, 1.25, 1, C_BLACK, title, 60);
    if (subtitle)
        text_fit(0.02, 0.905, 0.75, 0, C_GREY, subtitle, 115);
    text_fit(0.02, 0.025, 0.62, 0, C_GREY, p->source, 140);
}

static void band(const curve *c, int lo, int hi, unsigned rgb, double alpha, double scale)
{
    PLFLT *x = xmalloc(2 * c->n * sizeof *x), *y = xmalloc(2 * c->n * sizeof *y);
    PLINT n = 0;

    for (size_t i = 0; i < c->n; i++)
        if (!isnan(c->pt[i].q[lo]) && !isnan(c->pt[i].q[hi])) {
            x[n] = c->pt[i].year;
            y[n++] = c->pt[i].q[lo] / scale;
        }
    for (size_t i = c->n; i-- > 0;)
        if (!isnan(c->pt[i].q[lo]) && !isnan(c->pt[i].q[hi])) {
            x[n] = c->pt[i].year;
            y[n++] = c->pt[i].q[hi] / scale;
        }
    if (n >= 4) {
        colour(rgb, alpha);
        plfill(n, x, y);
    }
    free(x);
    free(y);
}

static void line(const curve *c, int k, unsigned rgb, double width, int style, double scale)
{
    PLFLT *x = xmalloc(c->n * sizeof *x), *y = xmalloc(c->n * sizeof *y);
    PLINT n = 0;

    for (size_t i = 0; i < c->n; i++)
        if (!isnan(c->pt[i].q[k])) {
            x[n] = c->pt[i].year;
            y[n++] = c->pt[i].q[k] / scale;
        }
    colour(rgb, 1.0);
    plwidth(width);
    pllsty(style);
    if (n >= 2)
        plline(n, x, y);
    pllsty(1);
    plwidth(1.0);
    free(x);
    free(y);
}

/* Legend entries, drawn in page coordinates outside the data area. */
enum { L_LINE, L_DASH, L_BAND, L_DOT, L_HATCH };

/* Diagonal hatching for the next plfill(): it marks the shortfall without hiding the bands. */
static void hatch(int on)
{
    PLINT inc = 450, del = 2000;

    if (on) {
        plpat(1, &inc, &del);
        plwidth(1.6);
    } else {
        plpsty(0);
        plwidth(1.0);
    }
}
typedef struct legend_item { int kind; unsigned rgb; double alpha; const char *label; } legend_item;

static void legend(double x, double y, const legend_item *it, size_t n, const char *heading)
{
    page_coords();
    if (heading) {
        text(x, y, 0.0, 0.75, 1, C_BLACK, heading);
        y -= 0.05;
    }
    for (size_t i = 0; i < n; i++, y -= 0.05) {
        PLFLT lx[2] = { x, x + 0.035 }, ly[2] = { y + 0.006, y + 0.006 };
        PLFLT bx[4] = { x, x + 0.035, x + 0.035, x }, by[4] = { y - 0.008, y - 0.008, y + 0.02, y + 0.02 };
        colour(it[i].rgb, it[i].alpha);
        if (it[i].kind == L_BAND || it[i].kind == L_HATCH) {
            hatch(it[i].kind == L_HATCH);
            plfill(4, bx, by);
            hatch(0);
            if (it[i].kind == L_HATCH) {
                PLFLT ox[5] = { bx[0], bx[1], bx[2], bx[3], bx[0] }, oy[5] = { by[0], by[1], by[2], by[3], by[0] };
                plline(5, ox, oy);
            }
        } else if (it[i].kind == L_DOT) {
            plschr(0.0, 0.6);
            plstring(1, &(PLFLT){ x + 0.0175 }, &(PLFLT){ y + 0.006 }, "●");
        } else {
            plwidth(2.5);
            pllsty(it[i].kind == L_DASH ? 2 : 1);
            plline(2, lx, ly);
            pllsty(1);
            plwidth(1.0);
        }
        text(x + 0.045, y, 0.0, 0.66, 0, C_BLACK, it[i].label);
    }
}

/* Write the lines of `s` (already broken with '\n') from (x, y) downwards; returns the y below. */
static double text_lines(double x, double y, double size, double gap, unsigned rgb, const char *s)
{
    char buf[512];
    const char *q = s;

    while (*q) {
        size_t len = strcspn(q, "\n");
        snprintf(buf, sizeof buf, "%.*s", (int)len, q);
        text(x, y, 0.0, size, 0, rgb, buf);
        y -= gap;
        q += len;
        if (*q == '\n')
            q++;
    }
    return y;
}

/* How many characters of text at `size` fit in `width` of the page (DejaVu Sans averages
 * about 0.012 of the page per character at size 1 on both page shapes we draw). */
static size_t chars_in(double width, double size)
{
    return (size_t)(width / (0.0122 * size));
}

/* Break `s` into lines of at most `width` characters at spaces, into out[n]; a '\n' in `s`
 * is kept as a break. */
static void wrap(const char *s, size_t width, char *out, size_t n)
{
    size_t col = 0, j = 0;

    while (*s && j + 2 < n) {
        size_t w = strcspn(s, " \n");
        if (w == 0 && *s == '\n') {
            out[j++] = '\n';
            col = 0;
            s++;
            continue;
        }
        if (col > 0 && col + 1 + w > width) {
            out[j++] = '\n';
            col = 0;
        } else if (col > 0) {
            out[j++] = ' ';
            col++;
        }
        for (size_t i = 0; i < w && j + 2 < n; i++)
            out[j++] = s[i];
        col += w;
        s += w;
        while (*s == ' ')
            s++;
    }
    out[j] = '\0';
}

static void curve_range(const curve *c, int k0, int k1, double scale, double *lo, double *hi)
{
    for (size_t i = 0; i < c->n; i++)
        for (int k = k0; k <= k1; k++)
            if (!isnan(c->pt[i].q[k])) {
                *lo = fmin(*lo, c->pt[i].q[k] / scale);
                *hi = fmax(*hi, c->pt[i].q[k] / scale);
            }
}

/* A dashed vertical line at the base year with "Published" and "Projected" either side. */
static void base_year_marker(const frame *f, int base)
{
    PLFLT x[2] = { base, base }, y[2] = { f->wy0, f->wy1 };

    if (base <= f->wx0 + 0.5 || base >= f->wx1 - 0.5)  /* no history, or no projection, here */
        return;
    use_frame(f);
    colour(C_GREY, 1.0);
    pllsty(3);
    plline(2, x, y);
    pllsty(1);
    page_coords();
    text(page_x(f, base) - 0.008, f->vy1 - 0.035, 1.0, 0.7, 0, C_GREY, "Published");
    text(page_x(f, base) + 0.008, f->vy1 - 0.035, 0.0, 0.7, 0, C_GREY, "Projected");
}

/* ---- charts ---------------------------------------------------------------------------- */

typedef void (*draw_fn)(const pack *p, int arg);

static void plot_frame(frame *f, double right)
{
    memset(f, 0, sizeof *f);
    f->vx0 = 0.11;
    f->vx1 = right;
    f->vy0 = 0.13;
    f->vy1 = 0.80;
}

/* The fan chart's key and its note on the last year. */
static void fan_key(const point *last)
{
    char note[256], a[32], b[32], m[32];
    legend_item it[] = {
        { L_DOT, C_BLACK, 1.0, "Published (January census)" },
        { L_LINE, C_BLUE, 1.0, "Projection (median)" },
        { L_BAND, tint(C_BLUE, 0.55), 1.0, "Half of runs in this range" },
        { L_BAND, tint(C_BLUE, 0.35), 1.0, "8 in 10 runs in this range" },
        { L_BAND, tint(C_BLUE, 0.18), 1.0, "19 in 20 runs in this range" },
    };

    legend(0.73, 0.80, it, 5, "Key");
    fmt_about(last->q[Q_P50], m, sizeof m);
    fmt_about(last->q[Q_P10], a, sizeof a);
    fmt_about(last->q[Q_P90], b, sizeof b);
    snprintf(note, sizeof note, "In %d: about %s plans\n(8 in 10 runs: %s to %s)", last->year, m,
             a, b);
    text_lines(0.73, 0.47, 0.7, 0.042, C_BLACK, note);
}

static void draw_fan_total(const pack *p, int arg)
{
    const curve *c = &p->total;
    frame f;
    double lo = 0.0, hi = 0.0;
    char title[256], sub[256];
    const point *last = &c->pt[c->n - 1];
    curve proj = { 0, NULL }, hist = { 0, NULL };
    (void)arg;

    for (size_t i = 0; i < c->n; i++) {
        if (c->pt[i].year >= p->base_year && proj.pt == NULL)
            proj = (curve){ c->n - i, &c->pt[i] };
        if (c->pt[i].year <= p->base_year)
            hist = (curve){ i + 1, c->pt };
    }
    plot_frame(&f, 0.70);
    curve_range(c, Q_P025, Q_P975, 1.0, &lo, &hi);
    axes(&f, c->pt[0].year, last->year, 0.0, hi, Y_COUNT, "Children and young people with a plan");
    band(&proj, Q_P025, Q_P975, tint(C_BLUE, 0.18), 1.0, 1.0);
    band(&proj, Q_P10, Q_P90, tint(C_BLUE, 0.35), 1.0, 1.0);
    band(&proj, Q_P25, Q_P75, tint(C_BLUE, 0.55), 1.0, 1.0);
    line(&proj, Q_P50, C_BLUE, 3.0, 1, 1.0);
    line(&hist, Q_P50, C_BLACK, 1.5, 1, 1.0);
    colour(C_BLACK, 1.0);
    plschr(0.0, 0.5);
    for (size_t i = 0; i < hist.n; i++)
        plstring(1, &(PLFLT){ hist.pt[i].year }, &(PLFLT){ hist.pt[i].q[Q_P50] }, "●");
    base_year_marker(&f, p->base_year);

    snprintf(title, sizeof title, "%s%sEHC plans: published and projected",
             p->meta->la ? p->meta->la : "", p->meta->la && *p->meta->la ? ": " : "");
    snprintf(sub, sizeof sub, "Children and young people with an education, health and care plan "
             "in January of each year");
    chart_titles(p, title, sub);
    fan_key(last);
}

/* Needs kept on their own line: the six largest by final-year mean (all of them when there are
 * seven or fewer); the rest become "Other needs". Returns how many were kept, in order[]. */
static int needs_to_show(const pack *p, int *order, int *n_other)
{
    double last[SIM_N_NEEDS];
    int n = 0, kept = 0;

    for (int i = 0; i < SIM_N_NEEDS; i++) {
        const curve *c = &p->need[i];
        last[i] = c->n ? c->pt[c->n - 1].q[Q_MEAN] : 0.0;
        if (c->n)
            order[n++] = i;
    }
    for (int i = 1; i < n; i++)                 /* insertion sort, largest first */
        for (int j = i; j > 0 && last[order[j]] > last[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    while (kept < n && (kept < 6 || n <= 7))
        kept++;
    *n_other = n - kept;
    return kept;
}

/* The "Other needs" curve: the sum of the means of the needs after the first `kept`, in every
 * year of the totals where one of them has a row (report.c leaves out all-zero series). */
static curve other_needs(const pack *p, const int *order, int kept, int n_other)
{
    curve o = { 0, NULL };

    o.pt = xcalloc(p->total.n, sizeof *o.pt);
    for (size_t i = 0; i < p->total.n; i++) {
        point pt = { p->total.pt[i].year, { 0 } };
        int any = 0;
        for (int k = 0; k < N_Q; k++)
            pt.q[k] = NAN;
        pt.q[Q_MEAN] = 0.0;
        for (int j = kept; j < kept + n_other; j++) {
            const curve *c = &p->need[order[j]];
            for (size_t k = 0; k < c->n; k++)
                if (c->pt[k].year == pt.year) {
                    pt.q[Q_MEAN] += c->pt[k].q[Q_MEAN];
                    any = 1;
                }
        }
        if (any)
            o.pt[o.n++] = pt;
    }
    return o;
}

/* Labels at the right-hand end of each line, pushed apart so none overlap. */
static void end_labels(const frame *f, const double *yv, char labels[][96], const unsigned *rgb,
                       int n)
{
    double py[SIM_N_NEEDS + 1];
    int idx[SIM_N_NEEDS + 1];
    const double gap = 0.045;

    for (int i = 0; i < n; i++) {
        idx[i] = i;
        py[i] = page_y(f, yv[i]);
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && py[idx[j]] > py[idx[j - 1]]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    double pos[SIM_N_NEEDS + 1];
    for (int k = 0; k < n; k++)
        pos[k] = k == 0 ? fmin(py[idx[0]], f->vy1) : fmin(py[idx[k]], pos[k - 1] - gap);
    for (int k = n - 1; k >= 0; k--)            /* pushed below the axis: lift back up */
        if (pos[k] < f->vy0 + 0.01)
            pos[k] = k == n - 1 ? f->vy0 + 0.01 : fmax(pos[k], pos[k + 1] + gap);
    for (int k = n - 2; k >= 0; k--)
        pos[k] = fmax(pos[k], pos[k + 1] + gap);
    page_coords();
    for (int k = 0; k < n; k++) {
        PLFLT lx[2] = { f->vx1 + 0.004, f->vx1 + 0.02 }, ly[2] = { py[idx[k]], pos[k] + 0.008 };
        colour(rgb[idx[k]], 1.0);
        plwidth(1.0);
        plline(2, lx, ly);
        text(f->vx1 + 0.025, pos[k], 0.0, 0.66, 1, rgb[idx[k]], labels[idx[k]]);
    }
}

static const char *need_short(int n)
{
    static const char *const SHORT[SIM_N_NEEDS] = {
        "Autism (ASD)", "Hearing impairment (HI)", "Moderate learning difficulty (MLD)",
        "Multi-sensory impairment (MSI)", "Other difficulty (OTH)", "Physical disability (PD)",
        "Profound and multiple learning (PMLD)",
        "Social, emotional, mental health (SEMH)", "Speech, language, communication (SLCN)",
        "Severe learning difficulty (SLD)", "Specific learning difficulty (SPLD)",
        "Visual impairment (VI)", "Need not recorded (UNK)"
    };
    return SHORT[n];
}

/* The need curves to draw: the needs shown on their own (at most the palette's worth), then
 * "Other needs" adding up the rest (built into *other, codes listed in codes[]); returns how
 * many, 0 when there is nothing to draw. */
static int need_curves(const pack *p, curve *other, const curve **cs, char labels[][96],
                       unsigned *rgb, char *codes, size_t codes_size, int *n_other)
{
    static const unsigned COL[] = { C_BLUE, C_VERMILLION, C_GREEN, C_PURPLE, C_ORANGE, C_SKY,
                                    C_GREY };
    int order[SIM_N_NEEDS], kept = needs_to_show(p, order, n_other), n = 0;

    for (int i = 0; i < kept; i++) {
        cs[n] = &p->need[order[i]];
        snprintf(labels[n], 96, "%s", need_short(order[i]));
        rgb[n] = COL[n];
        n++;
    }
    if (*n_other > 0) {
        *other = other_needs(p, order, kept, *n_other);
        for (int j = kept; j < kept + *n_other; j++)
            snprintf(codes + strlen(codes), codes_size - strlen(codes), "%s%s",
                     j > kept ? ", " : "", need_code((sim_need)order[j]));
        snprintf(labels[n], 96, "Other needs (%d, see note)", *n_other);
        cs[n] = other;
        rgb[n] = C_GREY;
        n++;
    }
    return n;
}

static void draw_demand_by_need(const pack *p, int arg)
{
    int n_other = 0, n, y0 = 9999, y1 = 0;
    curve other = { 0, NULL };
    const curve *cs[SIM_N_NEEDS + 1] = { NULL };
    char labels[SIM_N_NEEDS + 1][96], codes[96] = "", sub[200];
    double yv[SIM_N_NEEDS + 1], lo = 0.0, hi = 0.0;
    unsigned rgb[SIM_N_NEEDS + 1];
    frame f;
    (void)arg;

    n = need_curves(p, &other, cs, labels, rgb, codes, sizeof codes, &n_other);
    if (n == 0)
        return;
    for (int i = 0; i < n; i++) {
        curve_range(cs[i], Q_MEAN, Q_MEAN, 1.0, &lo, &hi);
        y0 = cs[i]->pt[0].year < y0 ? cs[i]->pt[0].year : y0;
        y1 = cs[i]->pt[cs[i]->n - 1].year > y1 ? cs[i]->pt[cs[i]->n - 1].year : y1;
    }
    plot_frame(&f, 0.62);
    axes(&f, y0, y1, 0.0, hi, Y_COUNT, "Children and young people with a plan");
    for (int i = 0; i < n; i++) {
        line(cs[i], Q_MEAN, rgb[i], 2.5, i == n - 1 && n_other > 0 ? 2 : 1, 1.0);
        yv[i] = cs[i]->pt[cs[i]->n - 1].q[Q_MEAN];
    }
    if (p->base_year > y0 && p->base_year < y1)
        base_year_marker(&f, p->base_year);
    end_labels(&f, yv, labels, rgb, n);
    if (y0 < p->base_year)
        snprintf(sub, sizeof sub, "Published to %d, then the average of all runs (the total chart "
                 "shows the uncertainty)", p->base_year);
    else
        snprintf(sub, sizeof sub, "January %d census, then the average of all runs (the total "
                 "chart shows the uncertainty)", y0);
    chart_titles(p, "EHC plans by primary need", sub);
    if (n_other > 0) {
        char note[200];
        snprintf(note, sizeof note, "Other needs (dashed) = %s, added together.", codes);
        text(0.02, 0.055, 0.0, 0.62, 0, C_GREY, note);
    }
    curve_free(&other);
}

/* ---- capacity charts ------------------------------------------------------------------ */

/* The group's total rows (phase ALL, need ALL) as a curve: q[Q_MEAN] holds capacity, the
 * demand quantiles their slots, q[Q_P25] the median shortfall. */
static curve group_curve(const pack *p, int g)
{
    curve c = { 0, NULL };

    for (size_t i = 0; i < p->n_sf; i++) {
        const sf_row *s = &p->sf[i];
        point pt;
        if (s->group != g || s->phase != -1 || s->need != -1)
            continue;
        pt.year = s->year;
        pt.q[Q_MEAN] = s->capacity;
        pt.q[Q_P025] = s->d025;
        pt.q[Q_P10] = s->d10;
        pt.q[Q_P25] = s->sf_p50;
        pt.q[Q_P50] = s->d50;
        pt.q[Q_P75] = s->p;
        pt.q[Q_P90] = s->d90;
        pt.q[Q_P975] = s->d975;
        curve_add(&c, p->n_sf, &pt);
    }
    if (c.n)
        qsort(c.pt, c.n, sizeof *c.pt, cmp_point);
    return c;
}

/* The median shortfall (shortfall_p50) as hatched bars standing on zero, in a panel of their
 * own under the places chart. Not stacked on the places line: with ages and needs to match,
 * children can lack a place while the group as a whole has room, and a bar above the line
 * would read as demand above capacity. Bars, not an area: the figures are yearly. */
static void shortfall_bars(const curve *c)
{
    colour(C_VERMILLION, 1.0);
    for (size_t i = 0; i < c->n; i++) {
        double y = c->pt[i].year, d = c->pt[i].q[Q_P25];
        PLFLT x[5] = { y - 0.3, y + 0.3, y + 0.3, y - 0.3, y - 0.3 }, v[5] = { 0, 0, d, d, 0 };
        if (!(d >= 0.5))
            continue;
        hatch(1);
        plfill(4, x, v);
        hatch(0);
        plline(5, x, v);                       /* outline: the hatched area has a clear edge */
    }
}

/* Places as a step line centred on each census year, so the line's height at a year's tick is
 * that year's places: the change between two years is drawn half-way between them. */
static void capacity_steps(const curve *c, const frame *f)
{
    PLFLT *x = xmalloc((2 * c->n + 2) * sizeof *x), *y = xmalloc((2 * c->n + 2) * sizeof *y);
    PLINT n = 0;

    x[n] = f->wx0;
    y[n++] = c->pt[0].q[Q_MEAN];
    for (size_t i = 1; i < c->n; i++) {
        x[n] = c->pt[i].year - 0.5;
        y[n++] = c->pt[i - 1].q[Q_MEAN];
        x[n] = c->pt[i].year - 0.5;
        y[n++] = c->pt[i].q[Q_MEAN];
    }
    x[n] = f->wx1;
    y[n++] = c->pt[c->n - 1].q[Q_MEAN];
    colour(C_BLACK, 1.0);
    plwidth(3.0);
    plline(n, x, y);
    plwidth(1.0);
    free(x);
    free(y);
}

/* The year a wave opening in September `open` first shows as a rise in capacity: January
 * open + 1 (the run's convention) when the chart has it, else the first rise in open or
 * open + 1 (files of other conventions), else `open`. */
static int step_year(const curve *c, int open)
{
    for (size_t i = 1; i < c->n; i++)
        if (c->pt[i].year == open + 1 && c->pt[i].q[Q_MEAN] > c->pt[i - 1].q[Q_MEAN])
            return open + 1;
    for (size_t i = 1; i < c->n; i++)
        if (c->pt[i].year >= open && c->pt[i].year <= open + 1 &&
            c->pt[i].q[Q_MEAN] > c->pt[i - 1].q[Q_MEAN])
            return c->pt[i].year;
    return open;
}

enum { MAX_WAVE_LABELS = 12 };
static const double WAVE_ROW = 0.036, WAVE_TEXT = 0.6;

/* The wave labels of group g (or, without a group column, one per rise in capacity): texts in
 * lab[], the year of the rise in xs[] and the places after it in caps[]; returns how many. */
static int wave_label_texts(const pack *p, const curve *c, int g, char lab[][128], double *xs,
                            double *caps)
{
    int n = 0, grouped = 0;

    for (size_t i = 0; i < p->n_wv && n < MAX_WAVE_LABELS; i++) {
        const wave_row *w = &p->wv[i];
        int is_num = strspn(w->name, "0123456789") == strlen(w->name);
        char pl[32];
        if (w->group != g)
            continue;
        fmt_count(w->places, pl, sizeof pl);
        snprintf(lab[n], 128, "%s%s: +%s (Sept %d)", is_num ? "Wave " : "", w->name, pl,
                 w->open_year);
        xs[n++] = step_year(c, w->open_year);
    }
    for (size_t i = 0; i < p->n_wv; i++)
        grouped |= p->wv[i].group >= 0;
    for (size_t i = 1; !grouped && i < c->n && n < MAX_WAVE_LABELS; i++)   /* each rise */
        if (c->pt[i].q[Q_MEAN] > c->pt[i - 1].q[Q_MEAN]) {
            char pl[32];
            fmt_count(c->pt[i].q[Q_MEAN] - c->pt[i - 1].q[Q_MEAN], pl, sizeof pl);
            snprintf(lab[n], 128, "+%s places", pl);
            xs[n++] = c->pt[i].year;
        }
    for (int k = 0; k < n; k++) {
        caps[k] = 0.0;
        for (size_t i = 0; i < c->n; i++)
            if (c->pt[i].year == (int)xs[k])
                caps[k] = c->pt[i].q[Q_MEAN];
        xs[k] -= 0.5;                          /* where capacity_steps() draws the rise */
    }
    return n;
}

/* Share of the panel's height the wave labels take at its top (draw_capacity() raises the
 * top of the y axis by as much, so no label covers data). */
static double wave_headroom(int n, double panel_height)
{
    return n ? (WAVE_ROW * n + 0.015) / panel_height : 0.0;
}

/* The labels in rows at the top of the plot, above every data value, the earliest wave on the
 * top row, each with a dotted line down to its rise in the places line: a later wave's text
 * then starts right of every earlier wave's line. A text that would leave the plot on the
 * right ends at its line instead; a line left of the plot's start is moved in. */
static void wave_labels(const pack *p, const frame *f, const curve *c, int g)
{
    char lab[MAX_WAVE_LABELS][128];
    double xs[MAX_WAVE_LABELS], caps[MAX_WAVE_LABELS];
    int n = wave_label_texts(p, c, g, lab, xs, caps);

    for (int k = 0; k < n; k++) {
        double ty = f->vy1 - WAVE_ROW * (k + 1);
        double tx = fmax(page_x(f, xs[k]), f->vx0 + 0.004);
        double width = (double)strlen(lab[k]) * 0.0122 * WAVE_TEXT;
        int left = tx + 0.006 + width > f->vx1 - 0.004;
        PLFLT lx[2] = { tx, tx }, ly[2] = { ty - 0.006, page_y(f, caps[k]) };
        page_coords();
        colour(C_BLACK, 1.0);
        pllsty(2);
        plline(2, lx, ly);
        pllsty(1);
        text(tx + (left ? -0.006 : 0.006), ty, left ? 1.0 : 0.0, WAVE_TEXT, 0, C_BLACK, lab[k]);
    }
}

static const char *group_places(int g)
{
    static const char *const P[SIM_N_GROUPS] = {
        "resourced provision (ARP) places", "special school places",
        "independent special school places", "mainstream places", "post-16 places",
        "alternative provision places"
    };
    return P[g];
}

/* "ARP places" and the like, for one-line notes. */
static const char *group_short(int g)
{
    static const char *const S[SIM_N_GROUPS] = { "ARP places", "Special school places",
        "Independent special places", "Mainstream places", "Post-16 places", "AP places" };
    return S[g];
}

/* Years in which the median demand is within the places but the median shortfall is not
 * zero, as "2028-2031, 2035" into buf; returns how many. */
static int mismatch_years(const curve *c, char *buf, size_t n)
{
    size_t used = 0;
    int count = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < c->n; i++) {
        size_t j = i;
        int hit = c->pt[i].q[Q_P50] < c->pt[i].q[Q_MEAN] && c->pt[i].q[Q_P25] >= 0.5;
        if (!hit)
            continue;
        while (j + 1 < c->n && c->pt[j + 1].year == c->pt[j].year + 1 &&
               c->pt[j + 1].q[Q_P50] < c->pt[j + 1].q[Q_MEAN] && c->pt[j + 1].q[Q_P25] >= 0.5)
            j++;
        if (used < n)
            used += (size_t)snprintf(buf + used, n - used, j > i ? "%s%d-%d" : "%s%d",
                                     used ? ", " : "", c->pt[i].year, c->pt[j].year);
        count += (int)(j - i + 1);
        i = j;
    }
    return count;
}

/* The capacity chart's key and its note on the last year's shortfall (right-hand column). */
static void capacity_key(const curve *c, const frame *fs, int have80, int have95)
{
    const point *last = &c->pt[c->n - 1];
    legend_item it[6];
    size_t n = 0;
    char note[300], pl[32], pc[16], years[200];

    it[n++] = (legend_item){ L_LINE, C_BLACK, 1.0, "Local places (capacity)" };
    it[n++] = (legend_item){ L_LINE, C_BLUE, 1.0, "Demand (median)" };
    if (have80)
        it[n++] = (legend_item){ L_BAND, tint(C_BLUE, 0.32), 1.0, "8 in 10 runs in this range" };
    else
        it[n++] = (legend_item){ L_DASH, C_BLUE, 1.0, "1-in-10 high demand" };
    if (have95)
        it[n++] = (legend_item){ L_BAND, tint(C_BLUE, 0.15), 1.0, "19 in 20 runs in this range" };
    legend(0.72, 0.80, it, n, "Key");
    fmt_count(last->q[Q_P25], pl, sizeof pl);
    fmt_pct(last->q[Q_P75], pc, sizeof pc);
    snprintf(note, sizeof note, "In %d: %s chance that\nsome children lack a\nmatching local "
             "place;\nmedian %s child%s", last->year, pc, pl,
             llround(last->q[Q_P25]) == 1 ? "" : "ren");
    text_lines(0.72, 0.80 - 0.05 - 0.05 * (double)n - 0.02, 0.7, 0.042, C_BLACK, note);
    if (mismatch_years(c, years, sizeof years) > 0) {
        char why[400], wrapped[500];
        snprintf(why, sizeof why, "In %s median demand is below the places, yet children lack "
                 "one: places do not match the ages and needs of the children.", years);
        wrap(why, chars_in(0.22, 0.62), wrapped, sizeof wrapped);   /* fits the PDF page too */
        text_lines(0.72, fs->vy1 + 0.03, 0.62, 0.03, C_VERMILLION, wrapped);
    }
}

static void draw_capacity(const pack *p, int g)
{
    curve c = group_curve(p, g);
    frame f, fs;
    double lo = 0.0, hi = 0.0, slo = 0.0, shi = 1.0;
    int have80 = 0, have95 = 0, n_lab;
    char title[200];
    char lab[MAX_WAVE_LABELS][128];
    double xs[MAX_WAVE_LABELS], caps[MAX_WAVE_LABELS];

    for (size_t i = 0; i < c.n; i++) {
        have80 |= !isnan(c.pt[i].q[Q_P10]);
        have95 |= !isnan(c.pt[i].q[Q_P025]) && !isnan(c.pt[i].q[Q_P975]);
    }
    /* top: places against demand; bottom: the children without a matching place */
    plot_frame(&f, 0.70);
    f.vy0 = 0.40;
    f.no_xlabels = 1;
    fs = f;
    fs.vy0 = 0.13;
    fs.vy1 = 0.30;
    fs.no_xlabels = 0;
    curve_range(&c, Q_MEAN, Q_MEAN, 1.0, &lo, &hi);
    curve_range(&c, have95 ? Q_P975 : Q_P90, have95 ? Q_P975 : Q_P90, 1.0, &lo, &hi);
    n_lab = wave_label_texts(p, &c, g, lab, xs, caps);
    hi = hi * 1.03 / (1.0 - fmin(0.6, wave_headroom(n_lab, f.vy1 - f.vy0)));
    axes(&f, c.pt[0].year, c.pt[c.n - 1].year, 0.0, hi, Y_COUNT, "Places or children");
    if (have95)
        band(&c, Q_P025, Q_P975, tint(C_BLUE, 0.15), 1.0, 1.0);
    if (have80)
        band(&c, Q_P10, Q_P90, tint(C_BLUE, 0.32), 1.0, 1.0);
    else
        line(&c, Q_P90, C_BLUE, 2.0, 2, 1.0);
    line(&c, Q_P50, C_BLUE, 3.0, 1, 1.0);
    capacity_steps(&c, &f);
    wave_labels(p, &f, &c, g);

    curve_range(&c, Q_P25, Q_P25, 1.0, &slo, &shi);
    axes(&fs, c.pt[0].year, c.pt[c.n - 1].year, 0.0, shi, Y_COUNT, "");
    shortfall_bars(&c);
    page_coords();
    text(fs.vx0, fs.vy1 + 0.03, 0.0, 0.72, 1, C_VERMILLION,
         "Children without a matching local place (median)");
    capacity_key(&c, &fs, have80, have95);
    snprintf(title, sizeof title, "%c%s against demand", toupper_ascii(group_places(g)[0]),
             group_places(g) + 1);
    chart_titles(p, title, "Local places each January against the children who need one");
    curve_free(&c);
}

/* ---- shortfall risk heat map ---------------------------------------------------------- */

enum { N_BINS = 6 };
static const double BIN_TOP[N_BINS] = { 0.10, 0.25, 0.50, 0.75, 0.90, 1.01 };
/* A single-hue ramp (ColorBrewer OrRd) reads in order for every colour vision; the bin within
 * the risk target is neutral grey. */
static const unsigned BIN_RGB[N_BINS] = { 0xF0F0F0, 0xFEE8C8, 0xFDBB84, 0xFC8D59, 0xD7301F,
                                          0x7F0000 };

static int risk_bin(double p, double target)
{
    if (p < target)
        return 0;
    for (int b = 1; b < N_BINS; b++)
        if (p < BIN_TOP[b])
            return b;
    return N_BINS - 1;
}

/* Rows of the heat map: (group, phase) pairs with some demand, in code order. */
static int risk_rows(const pack *p, int *rg, int *rp, int max)
{
    int n = 0;

    for (int g = 0; g < SIM_N_GROUPS; g++)
        for (int ph = 0; ph < SIM_N_PHASES; ph++) {
            int any = 0;
            for (size_t i = 0; i < p->n_sf; i++) {
                const sf_row *s = &p->sf[i];
                any |= s->group == g && s->phase == ph && s->need == -1 && s->d90 > 0;
            }
            if (any && n < max) {
                rg[n] = g;
                rp[n++] = ph;
            }
        }
    return n;
}

static void year_span(const pack *p, int *y0, int *y1)
{
    *y0 = 9999;
    *y1 = 0;
    for (size_t i = 0; i < p->n_sf; i++) {
        *y0 = p->sf[i].year < *y0 ? p->sf[i].year : *y0;
        *y1 = p->sf[i].year > *y1 ? p->sf[i].year : *y1;
    }
}

static double target_of(const pack *p)
{
    return p->meta->risk_target > 0 ? p->meta->risk_target : 0.10;
}

static void heat_cell(const frame *f, double x, double y, double prob, double target)
{
    /* Shrink the label so the widest ("100%", ">99%": about 0.012 of the page a character at
     * size 1, measured on the PNG) fits the cell with a margin. */
    double cell = (f->vx1 - f->vx0) / (f->wx1 - f->wx0);
    double size = fmin(0.6, 0.85 * cell / (4.5 * 0.012));
    int b = risk_bin(prob, target);
    char pc[16];
    PLFLT cx[4] = { x + 0.04, x + 0.96, x + 0.96, x + 0.04 };
    PLFLT cy[4] = { y + 0.06, y + 0.06, y + 0.94, y + 0.94 };

    use_frame(f);
    colour(BIN_RGB[b], 1.0);
    plfill(4, cx, cy);
    fmt_pct(prob, pc, sizeof pc);
    page_coords();
    text(page_x(f, x + 0.5), page_y(f, y + 0.5) - 0.008, 0.5, size, 0, b >= 4 ? 0xFFFFFF : C_BLACK,
         pc);
}

static void risk_key(const pack *p, double x, double y)
{
    char lab[N_BINS][64], tg[16];
    legend_item it[N_BINS];

    fmt_pct(target_of(p), tg, sizeof tg);
    snprintf(lab[0], sizeof lab[0], "Under %s (target)", tg);
    for (int b = 1; b < N_BINS; b++) {
        double lo = b == 1 ? target_of(p) : BIN_TOP[b - 1];
        if (b == N_BINS - 1)
            snprintf(lab[b], sizeof lab[b], "%.0f%% or more", 100 * lo);
        else
            snprintf(lab[b], sizeof lab[b], "%.0f%% to %.0f%%", 100 * lo, 100 * BIN_TOP[b]);
    }
    for (int b = 0; b < N_BINS; b++)
        it[N_BINS - 1 - b] = (legend_item){ L_BAND, BIN_RGB[b], 1.0, lab[b] };
    legend(x, y, it, N_BINS, "Chance of a shortfall");
}

static void draw_shortfall_risk(const pack *p, int arg)
{
    int rg[SIM_N_GROUPS * SIM_N_PHASES], rp[SIM_N_GROUPS * SIM_N_PHASES], y0, y1;
    int nr = risk_rows(p, rg, rp, SIM_N_GROUPS * SIM_N_PHASES);
    frame f = { 0.30, 0.75, 0.14, 0.82, 0, 0, 0, 0, Y_COUNT, 0, 0, 0 };
    char lab[128];
    (void)arg;

    year_span(p, &y0, &y1);
    if (p->base_year >= y0 && p->base_year < y1)
        y0 = p->base_year + 1;           /* the census year has no risk: it is what it is */
    f.wx0 = y0;
    f.wx1 = y1 + 1;
    f.wy0 = 0;
    f.wy1 = nr;
    for (size_t i = 0; i < p->n_sf; i++) {
        const sf_row *s = &p->sf[i];
        for (int r = 0; r < nr && s->need == -1 && s->year >= y0; r++)
            if (s->group == rg[r] && s->phase == rp[r])
                heat_cell(&f, s->year, nr - 1 - r, s->p, target_of(p));
    }
    static const char *const ROW[SIM_N_GROUPS] = {
        "Resourced provision", "State special", "Independent special", "Mainstream",
        "Post-16 college", "Alternative provision"
    };
    page_coords();
    for (int r = 0; r < nr; r++) {
        snprintf(lab, sizeof lab, "%s, %s", ROW[rg[r]], phase_label((sim_phase)rp[r]));
        text(f.vx0 - 0.01, page_y(&f, nr - 1 - r + 0.5) - 0.008, 1.0, 0.7, 0, C_BLACK, lab);
    }
    int ys = year_step(y1 - y0 + 1, f.vx1 - f.vx0);
    for (int y = y0; y <= y1; y += ys) {
        snprintf(lab, sizeof lab, "%d", y);
        text(page_x(&f, y + 0.5), f.vy0 - 0.04, 0.5, 0.65, 0, C_BLACK, lab);
    }
    text(0.5 * (f.vx0 + f.vx1), f.vy0 - 0.085, 0.5, 0.7, 0, C_BLACK, "Year (January census)");
    risk_key(p, 0.765, 0.80);
    chart_titles(p, "Chance that some children cannot get a matching local place",
                 "Share of runs in which some children of this phase cannot get a local place of "
                 "this type that admits their age and need");
    text(0.765, 0.40, 0.0, 0.62, 0, C_GREY, "Each cell: one year, one");
    text(0.765, 0.37, 0.0, 0.62, 0, C_GREY, "type of place and phase.");
}

/* ---- cost ------------------------------------------------------------------------------ */

/* The second series of the cost chart: out of borough (OOB rows) when cost.csv has them; from
 * older files without them, all independent special spend (IS), named as such. */
static const curve *cost_second(const pack *p, int *is_oob)
{
    *is_oob = p->cost_oob.n > 0;
    return *is_oob ? &p->cost_oob : &p->cost_is;
}

/* The cost chart's note on the last year's medians and the range of all placements. */
static void cost_note(const curve *a, const curve *is, int is_oob, size_t n_key)
{
    const point *la = &a->pt[a->n - 1], *li = &is->pt[is->n - 1];
    char note[256], m1[32], m2[32], r1[32], r2[32];

    fmt_money(la->q[Q_P50], -1, m1, sizeof m1);
    fmt_money(li->q[Q_P50], -1, m2, sizeof m2);
    fmt_money(la->q[Q_P10], 0, r1, sizeof r1);
    fmt_money(la->q[Q_P90], 0, r2, sizeof r2);
    snprintf(note, sizeof note, "In %d (medians):\nall placements %s\n(8 in 10 runs: %s to %s)\n"
             "%s %s", la->year, m1, r1, r2, is_oob ? "out of borough" : "independent special",
             m2);
    text_lines(0.72, 0.80 - 0.05 - 0.05 * (double)n_key - 0.02, 0.7, 0.042, C_BLACK, note);
}

static void draw_cost(const pack *p, int arg)
{
    int is_oob;
    const curve *a = &p->cost_all, *is = cost_second(p, &is_oob);
    const curve *ref = a->n ? a : is;
    const char *who = is_oob ? "Out of borough" : "Independent special";
    frame f;
    double lo = 0.0, hi = 0.0;
    char lab[64];
    legend_item it[6];
    size_t n = 0;
    (void)arg;

    plot_frame(&f, 0.70);
    curve_range(a, Q_P025, Q_P975, 1e6, &lo, &hi);
    curve_range(is, Q_P025, Q_P975, 1e6, &lo, &hi);
    axes(&f, ref->pt[0].year, ref->pt[ref->n - 1].year, 0.0, hi, Y_MONEY,
         "Spend a year (£ million, cash)");
    /* The two fans can overlap: translucent bands, and both medians drawn last, on top. */
    band(a, Q_P025, Q_P975, C_BLUE, 0.15, 1e6);
    band(a, Q_P10, Q_P90, C_BLUE, 0.25, 1e6);
    band(is, Q_P025, Q_P975, C_VERMILLION, 0.15, 1e6);
    band(is, Q_P10, Q_P90, C_VERMILLION, 0.25, 1e6);
    if (a->n) {
        line(a, Q_P50, C_BLUE, 3.0, 1, 1e6);
        it[n++] = (legend_item){ L_LINE, C_BLUE, 1.0, "All placements: median" };
        it[n++] = (legend_item){ L_BAND, C_BLUE, 0.40, "8 in 10 runs in this range" };
        it[n++] = (legend_item){ L_BAND, C_BLUE, 0.15, "19 in 20 runs in this range" };
    }
    if (is->n) {
        line(is, Q_P50, C_VERMILLION, 3.0, 2, 1e6);
        snprintf(lab, sizeof lab, "%s: median", who);
        it[n++] = (legend_item){ L_DASH, C_VERMILLION, 1.0, lab };
        it[n++] = (legend_item){ L_BAND, C_VERMILLION, 0.40, "8 in 10 runs in this range" };
        it[n++] = (legend_item){ L_BAND, C_VERMILLION, 0.15, "19 in 20 runs in this range" };
    }
    legend(0.72, 0.80, it, n, "Key");
    if (a->n && is->n)
        cost_note(a, is, is_oob, n);
    chart_titles(p, "High-needs placement spend",
                 "Cost of placements each year in cash terms (unit costs rise with inflation)");
    text(0.02, 0.055, 0.0, 0.62, 0, C_GREY, is_oob
         ? "Out of borough: children no local place could take, in independent or non-maintained "
           "special schools (a part of all placements)."
         : "Independent special: all independent and non-maintained special school places "
           "(a part of all placements).");
}

/* ---- backtest ------------------------------------------------------------------------- */

static void bt_panel(const pack *p, const frame *f, int h)
{
    int in80 = 0, n = 0;
    char title[128];

    use_frame(f);
    for (size_t i = 0; i < p->n_bt; i++) {
        const bt_row *b = &p->bt[i];
        PLFLT x[2] = { b->year, b->year }, y95[2] = { b->q[0], b->q[4] }, y80[2] = { b->q[1], b->q[3] };
        PLFLT mx[2] = { b->year - 0.3, b->year + 0.3 }, my[2] = { b->q[2], b->q[2] };
        if (b->horizon != h)
            continue;
        colour(tint(C_BLUE, 0.45), 1.0);
        plwidth(2.0);
        plline(2, x, y95);
        colour(C_BLUE, 1.0);
        plwidth(9.0);
        plline(2, x, y80);
        colour(0xFFFFFF, 1.0);
        plwidth(2.0);
        plline(2, mx, my);
        plwidth(1.0);
        colour(C_BLACK, 1.0);
        plschr(0.0, 0.7);
        plstring(1, &(PLFLT){ b->year }, &(PLFLT){ b->actual }, "●");
        in80 += b->q[1] <= b->actual && b->actual <= b->q[3];
        n++;
    }
    snprintf(title, sizeof title, "%d year%s ahead", h, h == 1 ? "" : "s");
    page_coords();
    text(f->vx0, f->vy1 + 0.055, 0.0, 0.72, 1, C_BLACK, title);
    snprintf(title, sizeof title, "%d of %d inside the dark bar", in80, n);
    text(f->vx0, f->vy1 + 0.02, 0.0, 0.64, 0, C_BLACK, title);
}

/* The backtest's horizons (up to 3, ascending) into hs, its years and its value range. */
static int bt_extent(const pack *p, int *hs, int *y0, int *y1, double *lo, double *hi)
{
    int nh = 0;

    for (size_t i = 0; i < p->n_bt; i++) {
        const bt_row *b = &p->bt[i];
        int seen = 0;
        for (int k = 0; k < nh; k++)
            seen |= hs[k] == b->horizon;
        if (!seen && nh < 3)
            hs[nh++] = b->horizon;
        *y0 = b->year < *y0 ? b->year : *y0;
        *y1 = b->year > *y1 ? b->year : *y1;
        *lo = fmin(*lo, fmin(b->actual, b->q[0]));
        *hi = fmax(*hi, fmax(b->actual, b->q[4]));
    }
    for (int i = 1; i < nh; i++)
        for (int j = i; j > 0 && hs[j] < hs[j - 1]; j--) {
            int t = hs[j];
            hs[j] = hs[j - 1];
            hs[j - 1] = t;
        }
    return nh;
}

static void draw_backtest(const pack *p, int arg)
{
    int hs[3], y0 = 9999, y1 = 0;
    double lo = 1e300, hi = 0.0;
    legend_item it[4] = {
        { L_DOT, C_BLACK, 1.0, "Published later" },
        { L_BAND, C_BLUE, 1.0, "8 in 10 range" },
        { L_LINE, tint(C_BLUE, 0.45), 1.0, "19 in 20 range" },
        { L_LINE, 0x9FC6E0, 1.0, "Forecast median (white tick)" },
    };
    const int nh = bt_extent(p, hs, &y0, &y1, &lo, &hi);
    (void)arg;

    for (int k = 0; k < nh; k++) {
        frame f;
        double w = (0.72 - 0.09) / nh;
        memset(&f, 0, sizeof f);
        f.vx0 = 0.09 + k * w + (k ? 0.015 : 0.0);
        f.vx1 = 0.09 + (k + 1) * w - 0.015;
        f.vy0 = 0.13;
        f.vy1 = 0.73;
        f.no_ylabels = k > 0;                   /* one shared scale, labelled once */
        axes(&f, y0, y1, 0.9 * lo, hi, Y_COUNT, "");
        bt_panel(p, &f, hs[k]);
    }
    legend(0.75, 0.78, it, 3, "Key");
    text_lines(0.75, 0.56, 0.64, 0.04, C_BLACK,
               "Each bar is a forecast made\nwith only the data published\nbefore it; a well-"
               "calibrated\nmodel has about 8 in 10 dots\ninside the dark bars. The\nwhite tick "
               "is the forecast's\nmedian.");
    chart_titles(p, "How well would past forecasts have done?",
                 "Children and young people with a plan: forecasts made in earlier years against "
                 "what was published later");
}

/* ---- compare ----------------------------------------------------------------------------- */

static const char *measure_title(const char *m, int *money)
{
    *money = strcmp(m, "spend") == 0;
    if (strcmp(m, "shortfall") == 0)
        return "Shortfall (children)";
    if (strcmp(m, "out_of_borough") == 0)
        return "Out of borough (children)";
    if (*money)
        return "Placement spend";
    return m;
}

/* Rows of one measure as curves: q[Q_MEAN] a, q[Q_P50] b, q[Q_P25] diff, q[Q_P10], q[Q_P90]
 * its band. */
static curve measure_curve(const pack *p, const char *m)
{
    curve c = { 0, NULL };

    for (size_t i = 0; i < p->n_cmp; i++) {
        const cmp_row *r = &p->cmp[i];
        point pt;
        if (strcmp(r->measure, m) != 0)
            continue;
        for (int k = 0; k < N_Q; k++)
            pt.q[k] = NAN;
        pt.year = r->year;
        pt.q[Q_MEAN] = r->a;
        pt.q[Q_P50] = r->b;
        pt.q[Q_P25] = r->d;
        pt.q[Q_P10] = r->d05;
        pt.q[Q_P90] = r->d95;
        curve_add(&c, p->n_cmp, &pt);
    }
    if (c.n)
        qsort(c.pt, c.n, sizeof *c.pt, cmp_point);
    return c;
}

static void compare_column(const pack *p, const char *m, double x0, double x1)
{
    int money;
    const char *title = measure_title(m, &money);
    double sc = money ? 1e6 : 1.0, lo = 0.0, hi = 0.0;
    curve c = measure_curve(p, m);
    frame top = { x0, x1, 0.52, 0.79, 0, 0, 0, 0, 0, 0, 0, 0 };
    frame bot = { x0, x1, 0.13, 0.40, 0, 0, 0, 0, 0, 0, 0, 0 };
    PLFLT zx[2], zy[2] = { 0.0, 0.0 };

    curve_range(&c, Q_MEAN, Q_MEAN, sc, &lo, &hi);
    curve_range(&c, Q_P50, Q_P50, sc, &lo, &hi);
    axes(&top, c.pt[0].year, c.pt[c.n - 1].year, fmin(lo, 0), hi, money ? Y_MONEY : Y_COUNT, "");
    line(&c, Q_MEAN, C_BLUE, 2.5, 1, sc);
    line(&c, Q_P50, C_ORANGE, 2.5, 2, sc);
    page_coords();
    text(x0 - 0.06, 0.82, 0.0, 0.72, 1, C_BLACK, title);
    lo = 0.0;
    hi = 0.0;
    curve_range(&c, Q_P10, Q_P10, sc, &lo, &hi);   /* not Q_P50: that slot holds B */
    curve_range(&c, Q_P25, Q_P25, sc, &lo, &hi);
    curve_range(&c, Q_P90, Q_P90, sc, &lo, &hi);
    axes(&bot, c.pt[0].year, c.pt[c.n - 1].year, lo, hi, money ? Y_MONEY : Y_COUNT, "");
    band(&c, Q_P10, Q_P90, tint(C_GREEN, 0.35), 1.0, sc);
    zx[0] = bot.wx0;
    zx[1] = bot.wx1;
    colour(C_BLACK, 1.0);
    plline(2, zx, zy);
    line(&c, Q_P25, C_GREEN, 2.5, 1, sc);
    page_coords();
    text(x0 - 0.06, 0.43, 0.0, 0.68, 0, C_BLACK, "Difference, B minus A");
    curve_free(&c);
}

static void draw_compare(const pack *p, int arg)
{
    const char *ms[3];
    int nm = 0;
    char la[160], lb[160];
    (void)arg;

    for (size_t i = 0; i < p->n_cmp && nm < 3; i++) {
        int seen = 0;
        for (int k = 0; k < nm; k++)
            seen |= strcmp(ms[k], p->cmp[i].measure) == 0;
        if (!seen)
            ms[nm++] = p->cmp[i].measure;
    }
    for (int k = 0; k < nm; k++) {
        double w = (0.76 - 0.02) / nm;
        compare_column(p, ms[k], 0.02 + k * w + 0.075, 0.02 + (k + 1) * w - 0.015);
    }
    /* Long scenario names are cut to fit the key; the title page of each run names them. */
    snprintf(la, sizeof la, "A: %.18s%s", p->name_a, strlen(p->name_a) > 18 ? "..." : "");
    snprintf(lb, sizeof lb, "B: %.18s%s", p->name_b, strlen(p->name_b) > 18 ? "..." : "");
    legend_item it[3] = {
        { L_LINE, C_BLUE, 1.0, la }, { L_DASH, C_ORANGE, 1.0, lb },
        { L_BAND, tint(C_GREEN, 0.35), 1.0, "B minus A, 9 in 10" },
    };
    legend(0.78, 0.78, it, 3, "Key");
    text_lines(0.78, 0.56, 0.6, 0.036, C_BLACK,
               "Lines are averages of runs.\nBoth scenarios use the same\nrandom draws, so the band\n"
               "shows the effect of the\nchange, not chance. Below\nzero: B is lower than A.");
    chart_titles(p, "Comparing two scenarios", "Shortfall and spend in each scenario (top) and the "
                                               "difference between them (bottom)");
}

/* ---- title and summary pages -------------------------------------------------------------- */

/* How to read the pack, at the foot of the title page (the summary page needs its room). */
static void reading_notes(const pack *p, double y)
{
    char buf[1000], wrapped[1200], tg[16];

    fmt_pct(target_of(p), tg, sizeof tg);
    if (p->n_sf > 0)
        snprintf(buf, sizeof buf, "How to read the charts: the model is run many times with "
                 "different chance events; a range marked \"8 in 10 runs\" holds the middle 80%% "
                 "of the results. \"Shortfall\" means children who need a place of a type that "
                 "admits their age and need, find every such local place full (or none at all), "
                 "and so go out of borough. The council's accepted risk of a shortfall in any "
                 "year is %s. Years are January census years; a place opening in September "
                 "counts from the next January.", tg);
    else                                   /* no provisions: no places to run short of */
        snprintf(buf, sizeof buf, "How to read the charts: the model is run many times with "
                 "different chance events; a range marked \"8 in 10 runs\" holds the middle 80%% "
                 "of the results. This scenario lists no local provisions, so it projects demand "
                 "only: no places, shortfall or out-of-borough figures. Years are January census "
                 "years.");
    wrap(buf, chars_in(0.84, 0.66), wrapped, sizeof wrapped);
    text_lines(0.08, y, 0.66, 0.034, C_GREY, wrapped);
}

static void title_page(const pack *p, const char *const *names, size_t n)
{
    const chart_meta *m = p->meta;
    char buf[1024], reps[32];
    double y = 0.56;

    pladv(0);
    page_coords();
    text(0.08, 0.82, 0.0, 2.0, 1, C_BLACK, "SEND place planning briefing");
    if (m->la && *m->la && m->scenario && strncmp(m->la, m->scenario, strlen(m->scenario)) == 0)
        snprintf(buf, sizeof buf, "%s", m->la);   /* "Hackney (E09000012)", not "... - Hackney" */
    else
        snprintf(buf, sizeof buf, "%s%s%s", m->la ? m->la : "", m->la && *m->la ? " - " : "",
                 m->scenario ? m->scenario : "scenario");
    text(0.08, 0.74, 0.0, 1.3, 0, C_BLUE, buf);
    fmt_count((double)m->replications, reps, sizeof reps);
    snprintf(buf, sizeof buf, "Base year: January %d\nRuns of the model: %s (seed %lu)\n"
             "Date of the run: %s\nsendsim version: %s\nData: %s", p->base_year, reps, m->seed,
             m->date ? m->date : "", m->version ? m->version : SENDSIM_VERSION,
             m->source ? m->source : "sendsim scenario inputs");
    char meta_lines[1200];
    wrap(buf, chars_in(0.84, 0.9), meta_lines, sizeof meta_lines);
    y = text_lines(0.08, 0.66, 0.9, 0.055, C_BLACK, meta_lines);
    y -= 0.03;
    text(0.08, y, 0.0, 0.9, 1, C_BLACK, "Contents: a summary, then charts of");
    y -= 0.055;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? ", " : "", names[i]);
    char wrapped[1200];
    wrap(buf, chars_in(0.84, 0.8), wrapped, sizeof wrapped);
    y = text_lines(0.08, y, 0.8, 0.045, C_BLACK, wrapped);
    reading_notes(p, fmin(y - 0.03, 0.2));
}

/* Is row s a candidate for the headline: a (phase, need) row of `year`, and with `school`,
 * of ARP or special school places in a school phase (primary, secondary, post-16), where the
 * council's estate decisions are. */
static int headline_candidate(const sf_row *s, int year, int school)
{
    if (s->year != year || s->phase < 0 || s->need < 0)
        return 0;
    return !school || ((s->group == GROUP_RP || s->group == GROUP_SS) &&
                       (s->phase == PHASE_PRI || s->phase == PHASE_SEC || s->phase == PHASE_P16));
}

/* The shortfall row the headline is about, in `year`. First the school phases of ARP and
 * special school places, then every row: among the rows whose chance of a shortfall reaches
 * the risk target, the largest median shortfall (then the higher chance, then the more places
 * needed), which is what the council has to find places for. When no row reaches the target,
 * the school-phase row (else any row) with the highest chance, for a "within target"
 * sentence; without (phase, need) rows, the group totals. */
static const sf_row *headline_row(const pack *p, int year)
{
    const double target = target_of(p);

    for (int pass = 0; pass < 4; pass++) {
        const int school = pass % 2 == 0, over = pass < 2;
        const sf_row *best = NULL;
        for (size_t i = 0; i < p->n_sf; i++) {
            const sf_row *s = &p->sf[i];
            if (!headline_candidate(s, year, school) || (over && s->p < target))
                continue;
            if (best == NULL)
                best = s;
            else if (over ? s->sf_p50 > best->sf_p50 ||
                                (s->sf_p50 == best->sf_p50 &&
                                 (s->p > best->p || (s->p == best->p && s->places > best->places)))
                          : s->p > best->p || (s->p == best->p && s->sf_p50 > best->sf_p50))
                best = s;
        }
        if (best)
            return best;
    }
    for (size_t i = 0; i < p->n_sf; i++)   /* a file of group totals only */
        if (p->sf[i].year == year && p->sf[i].phase < 0 && p->sf[i].need < 0)
            return &p->sf[i];
    return NULL;
}

static int headline_year(const pack *p)
{
    int y0, y1, y = p->meta->headline_year ? p->meta->headline_year : p->base_year + 5;

    year_span(p, &y0, &y1);
    if (p->n_sf == 0 && p->cost_all.n > 0) {      /* spend without shortfall rows */
        y0 = p->cost_all.pt[0].year;
        y1 = p->cost_all.pt[p->cost_all.n - 1].year;
    } else if (p->n_sf == 0) {
        return y;
    }
    return y < y0 ? y0 : y > y1 ? y1 : y;
}

/* "secondary-age children with autistic spectrum disorder (ASD)" and the like. */
static void who_phrase(const sf_row *s, char *buf, size_t n)
{
    static const char *const WHO[SIM_N_PHASES] = {
        "children in the early years", "primary-age children", "secondary-age children",
        "post-16 young people", "post-19 young people"
    };
    const char *who = s->phase >= 0 ? WHO[s->phase] : "children and young people";

    if (s->need == NEED_UNK)
        snprintf(buf, n, "%s whose need is not recorded", who);
    else if (s->need >= 0)
        snprintf(buf, n, "%s with %s (%s)", who, need_label((sim_need)s->need),
                 need_code((sim_need)s->need));
    else
        snprintf(buf, n, "%s", who);
}

/* "a" or "an" before a percentage as read aloud: an 8%, an 11%, an 18%, an 80-89%. */
static const char *article(const char *pc)
{
    return pc[0] == '8' || strncmp(pc, "11%", 3) == 0 || strncmp(pc, "18%", 3) == 0 ? "an" : "a";
}

static void headline_shortfall(const pack *p, char *out, size_t n)
{
    int y = headline_year(p);
    const sf_row *s = headline_row(p, y);
    char who[256], pc[16], tg[16], med[32], pl[32], place[64];

    if (s == NULL) {
        out[0] = '\0';
        return;
    }
    who_phrase(s, who, sizeof who);
    fmt_pct(s->p, pc, sizeof pc);
    fmt_pct(target_of(p), tg, sizeof tg);
    fmt_count(s->sf_p50, med, sizeof med);
    fmt_count(s->places, pl, sizeof pl);
    snprintf(place, sizeof place, "%.*s", (int)strlen(group_places(s->group)) - 1,
             group_places(s->group));      /* "special school place" */
    if (s->p < target_of(p)) {
        snprintf(out, n, "In %d the chance that some %s cannot get a matching local %s is %s, "
                 "within the %s target.", y, who, place, pc, tg);
        return;
    }
    char median[96] = "";
    if (s->sf_p50 >= 0.5)                  /* "the median shortfall is 0" would only confuse */
        snprintf(median, sizeof median, ": the median shortfall is %s place%s, and", med,
                 llround(s->sf_p50) == 1 ? "" : "s");
    else
        snprintf(median, sizeof median, ";");
    snprintf(out, n, "In %d there is %s %s chance that some %s cannot get a matching local %s%s "
             "%s more such place%s open by September %d would bring the risk under %s.", y,
             article(pc), pc, who, place, median, pl, llround(s->places) == 1 ? "" : "s", y - 1,
             tg);
}

static void headline_total(const pack *p, char *out, size_t n)
{
    const curve *c = &p->total;
    const point *b = NULL, *e = &c->pt[c->n - 1];
    char v0[32], v1[32], lo[32], hi[32];

    for (size_t i = 0; i < c->n; i++)
        if (c->pt[i].year == p->base_year)
            b = &c->pt[i];
    for (size_t i = 0; i < c->n; i++)
        if (c->pt[i].year == p->base_year + 10)
            e = &c->pt[i];
    if (b == NULL || e == b) {
        out[0] = '\0';
        return;
    }
    fmt_count(b->q[Q_P50], v0, sizeof v0);
    fmt_about(e->q[Q_P50], v1, sizeof v1);
    fmt_about(e->q[Q_P10], lo, sizeof lo);
    fmt_about(e->q[Q_P90], hi, sizeof hi);
    snprintf(out, n, "Plans are projected to %s from %s in January %d to about %s in %d (8 runs in "
             "10 between %s and %s).", e->q[Q_P50] >= b->q[Q_P50] ? "rise" : "fall", v0,
             p->base_year, v1, e->year, lo, hi);
}

/* The need that grows most in plans from the base year to ten years on (means, which add up):
 * "Most of the growth is in autism (ASD): about 1,310 plans in January 2025, 3,050 in 2035 (the
 * average of all runs)." */
static void headline_needs(const pack *p, char *out, size_t n)
{
    int best = -1, y1 = p->base_year + 10;
    double v0 = 0.0, v1 = 0.0, grow = -1e300, total = 0.0;

    out[0] = '\0';
    for (int k = 0; k < SIM_N_NEEDS; k++) {
        const curve *c = &p->need[k];
        double a = NAN, b = NAN;
        for (size_t i = 0; i < c->n; i++) {
            if (c->pt[i].year == p->base_year)
                a = c->pt[i].q[Q_MEAN];
            if (c->pt[i].year <= y1)
                b = c->pt[i].q[Q_MEAN];
        }
        if (isnan(a) || isnan(b))
            continue;
        total += b - a;
        if (b - a > grow) {
            grow = b - a;
            best = k;
            v0 = a;
            v1 = b;
        }
    }
    if (best < 0 || !(grow > 0) || !(total > 0))
        return;
    char a0[32], a1[32];
    fmt_count(v0, a0, sizeof a0);
    fmt_about(v1, a1, sizeof a1);
    snprintf(out, n, "The need that grows most is %s (%s): from %s plans in January %d to about %s "
             "in %d (average of all runs), %.0f%% of the growth.", need_label((sim_need)best),
             need_code((sim_need)best), a0, p->base_year, a1,
             y1 < p->total.pt[p->total.n - 1].year ? y1 : p->total.pt[p->total.n - 1].year,
             100.0 * grow / total);
}

/* One sentence over the groups: "The chance of running short first passes 10% in 2027 for
 * ARP places (77% by 2040), in 2026 for special school places (>99% by 2040)." */
static void headline_groups(const pack *p, char *out, size_t n)
{
    char parts[SIM_N_GROUPS][160], tg[16];
    int k = 0;

    out[0] = '\0';
    fmt_pct(target_of(p), tg, sizeof tg);
    for (int g = 0; g < SIM_N_GROUPS; g++) {
        curve c = group_curve(p, g);
        int first = 0;
        char pc[16], name[64];
        for (size_t i = 0; i < c.n && !first; i++)
            if (c.pt[i].q[Q_P75] >= target_of(p))
                first = c.pt[i].year;
        if (c.n && first) {
            fmt_pct(c.pt[c.n - 1].q[Q_P75], pc, sizeof pc);
            snprintf(name, sizeof name, "%s", group_short(g));
            name[0] = (char)(name[0] >= 'A' && name[0] <= 'Z' && g != GROUP_RP && g != GROUP_AP
                             ? name[0] - 'A' + 'a' : name[0]);
            snprintf(parts[k++], sizeof parts[0], "in %d for %s (%s by %d)", first, name, pc,
                     c.pt[c.n - 1].year);
        }
        curve_free(&c);
    }
    if (k == 0)
        return;
    snprintf(out, n, "The chance of running short first passes %s ", tg);
    for (int i = 0; i < k; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i == 0 ? "" : i == k - 1 ? " and " : ", ",
                 parts[i]);
    snprintf(out + strlen(out), n - strlen(out), ".");
}

static void headline_cost(const pack *p, char *out, size_t n)
{
    int y = headline_year(p);
    const point *a = NULL, *is = NULL;
    char m[32], lo[32], hi[32], mi[32];

    out[0] = '\0';
    for (size_t i = 0; i < p->cost_all.n; i++)
        if (p->cost_all.pt[i].year == y)
            a = &p->cost_all.pt[i];
    for (size_t i = 0; i < p->cost_oob.n; i++)
        if (p->cost_oob.pt[i].year == y)
            is = &p->cost_oob.pt[i];
    if (a == NULL)
        return;
    fmt_money(a->q[Q_P50], -1, m, sizeof m);
    fmt_money(a->q[Q_P10], -1, lo, sizeof lo);
    fmt_money(a->q[Q_P90], -1, hi, sizeof hi);
    snprintf(out, n, "Placement spend in %d is projected at about %s a year (8 runs in 10 between "
             "%s and %s).", y, m, lo, hi);
    if (is) {
        fmt_money(is->q[Q_P50], -1, mi, sizeof mi);
        snprintf(out + strlen(out), n - strlen(out), " Out-of-borough places (children no local "
                 "place could take) cost about %s of it (median).", mi);
    }
}

/* Groups with a wave that no opening date makes safe (each needs a note line). */
static int no_date_groups(const pack *p)
{
    int n = 0;

    for (int g = -1; g < SIM_N_GROUPS; g++)
        for (size_t i = 0; i < p->n_wv; i++)
            if (p->wv[i].group == g && p->wv[i].latest == 0) {
                n++;
                break;
            }
    return n;
}

/* Why no opening date is enough for group g's waves (g -1: waves without a group), in plain
 * words, into line[n]; returns 0 (and "") when every wave of g has a safe date. */
static int no_date_sentence(const pack *p, int g, char *line, size_t n)
{
    const wave_row *best = NULL;
    int missing = 0;
    char tg[16], pc[16];

    line[0] = '\0';
    for (size_t i = 0; i < p->n_wv; i++) {
        const wave_row *w = &p->wv[i];
        if (w->group != g || w->latest != 0)
            continue;
        missing = 1;
        if (!isnan(w->risk_now) && (best == NULL || w->risk_now < best->risk_now))
            best = w;
    }
    if (!missing)
        return 0;
    fmt_pct(target_of(p), tg, sizeof tg);
    if (best) {
        fmt_pct(best->risk_now, pc, sizeof pc);
        snprintf(line, n, "%s: even opening in Sept %d leaves %s %s risk in %d; more places are "
                 "needed (shortfall.csv: places_for_target).",
                 g >= 0 ? group_short(g) : "No date is enough", p->base_year, article(pc), pc,
                 best->risk_year);
    } else {
        snprintf(line, n, "%s: even opening at once, the risk stays above %s; more places are "
                 "needed (shortfall.csv: places_for_target).",
                 g >= 0 ? group_short(g) : "No date is enough", tg);
    }
    return 1;
}

/* Under the waves table: why no date is enough, once per group. Returns the y below. */
static double waves_no_date(const pack *p, double y)
{
    char line[600], marked[620], wrapped[800];

    for (int g = -1; g < SIM_N_GROUPS; g++) {
        if (!no_date_sentence(p, g, line, sizeof line))
            continue;
        snprintf(marked, sizeof marked, "* %s", line);
        wrap(marked, chars_in(0.88, 0.6), wrapped, sizeof wrapped);
        y = text_lines(0.08, y, 0.6, 0.028, C_VERMILLION, wrapped);
    }
    return y;
}

/* The same, as sentences for chart_headlines(): "No opening date of the estate waves keeps the
 * risk under 10%. ARP places: even opening ..." */
static void headline_waves(const pack *p, char *out, size_t n)
{
    char line[600], tg[16];

    out[0] = '\0';
    for (int g = -1; g < SIM_N_GROUPS; g++) {
        if (!no_date_sentence(p, g, line, sizeof line))
            continue;
        if (out[0] == '\0') {
            fmt_pct(target_of(p), tg, sizeof tg);
            snprintf(out, n, "No opening date of these estate waves keeps the risk under %s on "
                     "its own.", tg);
        }
        snprintf(out + strlen(out), n - strlen(out), " %s", line);
    }
}

/* The waves as a small table: what each buys and how late it can open. Returns the y below. */
static double waves_table(const pack *p, double y)
{
    static const double X[5] = { 0.08, 0.36, 0.45, 0.60, 0.78 };
    static const char *const HEAD[5] = { "Wave", "Places", "Planned opening",
                                         "Avg fewer short", "Must open by" };
    size_t shown = 0;
    char tg[16], head[80];

    if (p->n_wv == 0)
        return y;
    fmt_pct(target_of(p), tg, sizeof tg);
    snprintf(head, sizeof head, "Estate waves (target: risk under %s every year)", tg);
    text(0.06, y, 0.0, 0.6, 0, C_BLUE, "●");
    text(0.08, y, 0.0, 0.75, 1, C_BLACK, head);
    y -= 0.04;
    for (int c = 0; c < 5; c++)
        text(X[c], y, 0.0, 0.66, 1, C_GREY, HEAD[c]);
    for (size_t i = 0; i < p->n_wv && y > 0.10 + 0.03 * no_date_groups(p); i++, shown++) {
        const wave_row *w = &p->wv[i];
        char cell[5][64];
        int is_num = strspn(w->name, "0123456789") == strlen(w->name);
        int fit = (int)chars_in(X[1] - X[0] - 0.01, 0.66) - (w->group >= 0 ? 5 : 0);
        y -= 0.03;
        snprintf(cell[0], sizeof cell[0], "%s%.*s%s%s%s", is_num ? "Wave " : "", fit, w->name,
                 w->group >= 0 ? " (" : "", w->group >= 0 ? group_code((sim_group)w->group) : "",
                 w->group >= 0 ? ")" : "");
        fmt_count(w->places, cell[1], sizeof cell[1]);
        snprintf(cell[2], sizeof cell[2], "Sept %d", w->open_year);
        fmt_count(w->reduction, cell[3], sizeof cell[3]);
        snprintf(cell[3] + strlen(cell[3]), sizeof cell[3] - strlen(cell[3]), " children");
        if (w->latest == 0)
            snprintf(cell[4], sizeof cell[4], "no date is enough*");
        else
            snprintf(cell[4], sizeof cell[4], "Sept %d%s", w->latest,
                     w->latest < w->open_year ? " (earlier)" : "");
        for (int c = 0; c < 5; c++)
            text(X[c], y, 0.0, 0.66, 0, c == 4 && w->latest < w->open_year ? C_VERMILLION : C_BLACK,
                 cell[c]);
    }
    if (shown < p->n_wv) {
        snprintf(head, sizeof head, "... and %zu more (see waves.csv)", p->n_wv - shown);
        y -= 0.034;
        text(X[0], y, 0.0, 0.66, 0, C_GREY, head);
    }
    y = waves_no_date(p, y - 0.034);
    return y - 0.02;
}

/* One paragraph with a bullet, wrapped; returns the y below it. */
static double paragraph(double y, const char *s)
{
    char wrapped[3000];

    if (s[0] == '\0')
        return y;
    wrap(s, chars_in(0.88, 0.7), wrapped, sizeof wrapped);
    text(0.06, y, 0.0, 0.6, 0, C_BLUE, "●");
    return text_lines(0.08, y, 0.7, 0.034, C_BLACK, wrapped) - 0.012;
}

static void summary_page(const pack *p)
{
    char buf[2000];
    double y = 0.84;

    pladv(0);
    page_coords();
    text(0.06, 0.92, 0.0, 1.5, 1, C_BLACK, "Summary");
    headline_shortfall(p, buf, sizeof buf);
    y = paragraph(y, buf);
    headline_total(p, buf, sizeof buf);
    y = paragraph(y, buf);
    headline_needs(p, buf, sizeof buf);
    y = paragraph(y, buf);
    if (p->n_sf == 0)                      /* say why the rest of a summary is not here */
        y = paragraph(y, "This scenario lists no local provisions (provisions.csv), so the pack "
                         "shows demand only: no places, shortfall, out-of-borough or spend "
                         "figures. Add provisions.csv, waves.csv and costs.csv to test an estate "
                         "strategy.");
    headline_groups(p, buf, sizeof buf);
    y = paragraph(y, buf);
    headline_cost(p, buf, sizeof buf);
    y = paragraph(y, buf);
    for (size_t i = 0; i < p->meta->n_notes; i++)
        y = paragraph(y, p->meta->notes[i]);
    (void)waves_table(p, y);
    text(0.06, 0.025, 0.0, 0.65, 0, C_GREY, p->source);
}

/* ---- output files: devices, temporary names, rendering ---------------------------------- */

sim_status chart_check_device(const char *device, sim_error *err)
{
    const char *menu_buf[128], *name_buf[128];
    const char **menu = menu_buf, **names = name_buf;
    int n = 128;

    plgDevs(&menu, &names, &n);
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], device) == 0)
            return SIM_OK;
    return sim_error_set(err, SIM_EIO, NULL, 0, NULL,
                         "PLplot has no '%s' output device (install the Debian package "
                         "plplot-driver-cairo, or run with --no-charts)", device);
}

typedef struct job { char name[32]; draw_fn draw; int arg; } job;

/* Words for the contents list on the title page. */
static void job_words(const job *j, char *buf, size_t n)
{
    if (strncmp(j->name, "capacity_", 9) == 0)
        snprintf(buf, n, "%s", group_places(j->arg));
    else
        snprintf(buf, n, "%.60s", strcmp(j->name, "fan_total") == 0 ? "total plans"
                 : strcmp(j->name, "demand_by_need") == 0 ? "plans by need"
                 : strcmp(j->name, "shortfall_risk") == 0 ? "chance of a shortfall"
                 : strcmp(j->name, "cost") == 0 ? "placement spend"
                 : strcmp(j->name, "backtest") == 0 ? "past forecasts checked" : j->name);
}
typedef struct outfile { char tmp[4200], final[4200]; } outfile;
typedef struct outset { outfile f[64]; size_t n; } outset;

static void outset_discard(outset *o)
{
    for (size_t i = 0; i < o->n; i++)
        unlink(o->f[i].tmp);
    o->n = 0;
}

/* A new temporary file beside DIR/NAME.EXT; refuses when DIR/NAME.EXT is a directory. */
static sim_status outset_add(outset *o, const char *dir, const char *name, const char *ext,
                             sim_error *err)
{
    outfile *f = &o->f[o->n];
    struct stat sb;
    int fd;

    if (o->n >= sizeof o->f / sizeof o->f[0])
        return sim_error_set(err, SIM_EINTERNAL, dir, 0, NULL, "too many chart files");
    if ((size_t)snprintf(f->final, sizeof f->final, "%s/%s.%s", dir, name, ext) >= sizeof f->final ||
        (size_t)snprintf(f->tmp, sizeof f->tmp, "%s/.%s.%s.XXXXXX", dir, name, ext) >= sizeof f->tmp)
        return sim_error_set(err, SIM_EIO, dir, 0, NULL, "output directory name is too long");
    if (stat(f->final, &sb) == 0 && S_ISDIR(sb.st_mode))
        return sim_error_set(err, SIM_EIO, f->final, 0, NULL,
                             "cannot write the chart: a directory has this name");
    fd = mkstemp(f->tmp);
    if (fd < 0)
        return sim_error_set(err, SIM_EIO, dir, 0, NULL,
                             "cannot write charts here: %s", strerror(errno));
    mode_t mask = umask(0);                /* mkstemp makes 0600; charts are for sharing */
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    close(fd);
    o->n++;
    return SIM_OK;
}

static sim_status outset_commit(outset *o, sim_error *err)
{
    for (size_t i = 0; i < o->n; i++) {
        struct stat sb;
        if (stat(o->f[i].tmp, &sb) != 0 || sb.st_size == 0) {
            outset_discard(o);
            return sim_error_set(err, SIM_EIO, o->f[i].final, 0, NULL,
                                 "the chart came out empty (disk full?)");
        }
    }
    for (size_t i = 0; i < o->n; i++)
        if (rename(o->f[i].tmp, o->f[i].final) != 0) {
            int e = errno;
            char final[4200];
            snprintf(final, sizeof final, "%s", o->f[i].final);
            outset_discard(o);
            return sim_error_set(err, SIM_EIO, final, 0, NULL,
                                 "cannot write the chart: %s", strerror(e));
        }
    o->n = 0;
    return SIM_OK;
}

static void start(const char *device, const char *path, int pdf)
{
    plsdev(device);
    plsfnam(path);
    if (pdf)
        plspage(0.0, 0.0, 842, 595, 0, 0);     /* A4 landscape, in points */
    else
        plspage(0.0, 0.0, 1200, 720, 0, 0);
    plscmap0n(16);
    plscol0(0, 255, 255, 255);                  /* page: PLplot's default is black */
    plscol0(1, 0, 0, 0);                        /* axes and text: default is red */
    plinit();
    font(0);
}

static void render_one(const pack *p, const job *j, const char *device, const char *path)
{
    start(device, path, 0);
    pladv(0);
    j->draw(p, j->arg);
    plend();
}

static void render_pdf(const pack *p, const job *jobs, size_t n, const char *path)
{
    const char *names[64];
    char words[64][80];

    for (size_t i = 0; i < n && i < 64; i++) {
        job_words(&jobs[i], words[i], sizeof words[i]);
        names[i] = words[i];
    }
    start("pdfcairo", path, 1);
    title_page(p, names, n);
    summary_page(p);
    for (size_t i = 0; i < n; i++) {
        pladv(0);
        jobs[i].draw(p, jobs[i].arg);
    }
    plend();
}

static sim_status check_devices(sim_error *err)
{
    static const char *const DEV[] = { "pngcairo", "svgcairo", "pdfcairo" };
    sim_status st = SIM_OK;

    for (size_t i = 0; i < 3 && st == SIM_OK; i++)
        st = chart_check_device(DEV[i], err);
    return st;
}

static void make_source(pack *p, const chart_meta *m)
{
    char reps[32];

    fmt_count((double)m->replications, reps, sizeof reps);
    snprintf(p->source, sizeof p->source, "Source: %s; sendsim %s, %s runs, seed %lu.",
             m->source ? m->source : "sendsim scenario inputs",
             m->version ? m->version : SENDSIM_VERSION, reps, m->seed);
}

/* The charts of a run's pack that are not one per group (chart_pack_files lists them). */
static const char *const RUN_CHARTS[] = { "fan_total", "demand_by_need", "shortfall_risk",
                                          "cost", NULL };
enum { RC_FAN, RC_NEED, RC_RISK, RC_COST };

static job make_job(const char *name, draw_fn draw, int arg)
{
    job j = { "", draw, arg };

    snprintf(j.name, sizeof j.name, "%s", name);
    return j;
}

static size_t pack_jobs(const pack *p, job *jobs)
{
    size_t n = 0;

    jobs[n++] = make_job(RUN_CHARTS[RC_FAN], draw_fan_total, 0);
    for (int i = 0; i < SIM_N_NEEDS; i++)
        if (p->need[i].n) {
            jobs[n++] = make_job(RUN_CHARTS[RC_NEED], draw_demand_by_need, 0);
            break;
        }
    for (int g = 0; g < SIM_N_GROUPS; g++) {
        curve c = group_curve(p, g);
        int any = 0;
        for (size_t i = 0; i < c.n; i++)
            any |= c.pt[i].q[Q_MEAN] > 0;
        if (any) {
            jobs[n] = (job){ "", draw_capacity, g };
            snprintf(jobs[n++].name, sizeof jobs[0].name, "capacity_%s", group_code((sim_group)g));
        }
        curve_free(&c);
    }
    int rg[SIM_N_GROUPS * SIM_N_PHASES], rp[SIM_N_GROUPS * SIM_N_PHASES];
    if (risk_rows(p, rg, rp, SIM_N_GROUPS * SIM_N_PHASES) > 0)
        jobs[n++] = make_job(RUN_CHARTS[RC_RISK], draw_shortfall_risk, 0);
    if (p->cost_all.n || p->cost_is.n || p->cost_oob.n)
        jobs[n++] = make_job(RUN_CHARTS[RC_COST], draw_cost, 0);
    if (p->n_bt)
        jobs[n++] = (job){ "backtest", draw_backtest, 0 };
    return n;
}

/* `dir` must be an existing directory we can create files in, and free of '%': PLplot reads
 * "%n" in a file name as a family member number and then exit()s when it cannot open it. */
static sim_status check_dir(const char *dir, sim_error *err)
{
    struct stat sb;

    if (strchr(dir, '%') != NULL)
        return sim_error_set(err, SIM_EIO, dir, 0, NULL,
                             "cannot write charts here: PLplot cannot write to a path "
                             "containing '%%' (choose another output directory)");
    if (stat(dir, &sb) != 0)
        return sim_error_set(err, SIM_EIO, dir, 0, NULL,
                             "cannot write charts here: %s", strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return sim_error_set(err, SIM_EIO, dir, 0, NULL,
                             "cannot write charts here: not a directory");
    if (access(dir, W_OK | X_OK) != 0)
        return sim_error_set(err, SIM_EIO, dir, 0, NULL,
                             "cannot write charts here: %s", strerror(errno));
    return SIM_OK;
}

static sim_status load_all(const char *dir, pack *p, sim_error *err)
{
    sim_status st = load_demand(dir, p, err);

    if (st == SIM_OK) st = load_shortfall(dir, p, err);
    if (st == SIM_OK) st = load_waves(dir, p, err);
    if (st == SIM_OK) st = load_cost(dir, p, err);
    if (st == SIM_OK) st = load_backtest(dir, p, err);
    return st;
}

static sim_status draw_pack(const char *dir, const pack *p, sim_error *err)
{
    static const char *const DEV[2] = { "pngcairo", "svgcairo" }, *const EXT[2] = { "png", "svg" };
    job jobs[16];
    size_t nj = pack_jobs(p, jobs);
    outset *o = xcalloc(1, sizeof *o);
    sim_status st = SIM_OK;

    for (size_t i = 0; i < nj && st == SIM_OK; i++)    /* every name first: fail before drawing */
        for (int d = 0; d < 2 && st == SIM_OK; d++)
            st = outset_add(o, dir, jobs[i].name, EXT[d], err);
    if (st == SIM_OK)
        st = outset_add(o, dir, "briefing", "pdf", err);
    for (size_t i = 0; i < nj && st == SIM_OK; i++)
        for (int d = 0; d < 2; d++)
            render_one(p, &jobs[i], DEV[d], o->f[2 * i + (size_t)d].tmp);
    if (st == SIM_OK) {
        render_pdf(p, jobs, nj, o->f[2 * nj].tmp);
        st = outset_commit(o, err);
    }
    outset_discard(o);
    free(o);
    return st;
}

/* The summary's sentences, one a line, into buf[n]. */
static void compose_headlines(const pack *p, char *buf, size_t n)
{
    char line[2000];
    void (*const parts[])(const pack *, char *, size_t) = {
        headline_shortfall, headline_total, headline_needs, headline_groups, headline_cost,
        headline_waves
    };

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        parts[i](p, line, sizeof line);
        if (line[0])
            snprintf(buf + strlen(buf), n - strlen(buf), "%s\n", line);
    }
}

static void meta_defaults(chart_meta *m, const chart_meta *in, char *date, size_t n)
{
    time_t now = time(NULL);
    struct tm tmv;

    if (in)
        *m = *in;
    else
        memset(m, 0, sizeof *m);
    if (m->date == NULL && gmtime_r(&now, &tmv) != NULL && strftime(date, n, "%Y-%m-%d", &tmv) > 0)
        m->date = date;
}

size_t chart_pack_files(char names[][32], size_t max)
{
    size_t k = 0;

    for (const char *const *c = RUN_CHARTS; *c && k + 2 <= max; c++) {
        snprintf(names[k++], 32, "%s.png", *c);
        snprintf(names[k++], 32, "%s.svg", *c);
    }
    for (int g = 0; g < SIM_N_GROUPS && k + 2 <= max; g++) {
        snprintf(names[k++], 32, "capacity_%s.png", group_code((sim_group)g));
        snprintf(names[k++], 32, "capacity_%s.svg", group_code((sim_group)g));
    }
    if (k < max)
        snprintf(names[k++], 32, "briefing.pdf");
    return k;
}

sim_status chart_pack(const char *outdir, const chart_meta *meta, sim_error *err)
{
    pack p;
    chart_meta m;
    char date[32];
    sim_status st;

    memset(&p, 0, sizeof p);
    meta_defaults(&m, meta, date, sizeof date);
    p.meta = &m;
    p.base_year = m.base_year;
    make_source(&p, &m);
    st = check_devices(err);
    if (st == SIM_OK)
        st = check_dir(outdir, err);
    if (st == SIM_OK)
        st = load_all(outdir, &p, err);
    if (st == SIM_OK)
        st = draw_pack(outdir, &p, err);
    pack_free(&p);
    return st;
}

sim_status chart_compare(const char *outdir, const char *name_a, const char *name_b,
                         const chart_meta *meta, sim_error *err)
{
    pack p;
    chart_meta m;
    char date[32];
    outset *o = NULL;
    job j = { "compare", draw_compare, 0 };
    sim_status st;

    memset(&p, 0, sizeof p);
    meta_defaults(&m, meta, date, sizeof date);
    p.meta = &m;
    p.name_a = name_a ? name_a : "A";
    p.name_b = name_b ? name_b : "B";
    make_source(&p, &m);
    st = check_devices(err);
    if (st == SIM_OK)
        st = check_dir(outdir, err);
    if (st == SIM_OK)
        st = load_compare(outdir, &p, err);
    if (st == SIM_OK && p.n_cmp == 0)
        st = sim_error_set(err, SIM_EDATA, outdir, 0, NULL, "compare.csv has no data rows");
    if (st == SIM_OK) {
        o = xcalloc(1, sizeof *o);
        st = outset_add(o, outdir, "compare", "png", err);
        if (st == SIM_OK)
            st = outset_add(o, outdir, "compare", "svg", err);
        if (st == SIM_OK) {
            render_one(&p, &j, "pngcairo", o->f[0].tmp);
            render_one(&p, &j, "svgcairo", o->f[1].tmp);
            st = outset_commit(o, err);
        }
        outset_discard(o);
    }
    free(o);
    pack_free(&p);
    return st;
}

sim_status chart_headlines(const char *outdir, const chart_meta *meta, char *buf, size_t n,
                           sim_error *err)
{
    pack p;
    chart_meta m;
    char date[32];
    sim_status st;

    if (n == 0)
        return sim_error_set(err, SIM_EINTERNAL, NULL, 0, NULL, "chart_headlines: no room");
    buf[0] = '\0';
    memset(&p, 0, sizeof p);
    meta_defaults(&m, meta, date, sizeof date);
    p.meta = &m;
    p.base_year = m.base_year;
    st = load_all(outdir, &p, err);
    if (st == SIM_OK)
        compose_headlines(&p, buf, n);
    pack_free(&p);
    return st;
}
