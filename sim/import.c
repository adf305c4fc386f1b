/* import.c - read DfE SEN2 and ONS files as published and write a scenario directory.
 *
 * Every file goes through table.h; columns are found by name (a renamed column is an error
 * naming file and column, with the 2026 names accepted where DfE announced them) and rows
 * are chosen by geographic_level, LA code and breakdown, never by position, so the cut-down
 * files and the full national ones give the same scenario. Suppressed cells (x, c, z, ...)
 * are unknowns: they are counted, never written as 0; an age whose total is suppressed gets
 * what the other margins imply (fill_ages). The base-year table by age x need x setting is
 * rebuilt from DfE's two-way margins by ipf.c. */
#include "import.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codes.h"
#include "ipf.h"
#include "outdir.h"
#include "table.h"
#include "xalloc.h"

/* Ages as DfE publishes current age in January: `under 3` (index 0) then 3..25. */
enum { N_AGE = 24, FIRST_YEAR = 2000, N_YEARS = 60, FIRST_HIST_YEAR = 2010 };

/* The fit stops within a thousandth of a plan (rounding works in whole plans) or after
 * IPF_MAX_SWEEPS sweeps, which only margins with no exact fit reach. */
enum { IPF_MAX_SWEEPS = 5000 };
#define IPF_TOLERANCE 1e-3

static const char *age_name(int ai, char *buf, size_t n)
{
    if (ai == 0)
        snprintf(buf, n, "under 3");
    else
        snprintf(buf, n, "age %d", ai + 2);
    return buf;
}

static int age_index(int from, int to)
{
    if (from == 0 && to == 2)
        return 0;
    if (from == to && from >= 3 && from <= SIM_MAX_AGE)
        return from - 2;
    return -1;
}

/* ---- a growing text buffer for the report -------------------------------------------- */

typedef struct sbuf { char *s; size_t len, cap; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* ---- the area ------------------------------------------------------------------------ */

typedef struct area {
    int  national;
    char old_code[16], new_code[32], name[128];
} area;

/* Column indexes of the columns that place a row (-1 when the file lacks one). */
typedef struct id_cols { int level, old_code, new_code, name, country, period, topic, brk; } id_cols;

static int ci_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

/* The index of the first column of `names` ("a|b|c") present, or -1. */
static int col_any(const table *t, const char *names)
{
    char buf[128];
    const char *p = names;

    while (*p) {
        size_t n = strcspn(p, "|");
        int c;
        if (n >= sizeof buf)
            n = sizeof buf - 1;
        memcpy(buf, p, n);
        buf[n] = '\0';
        if ((c = table_col(t, buf)) >= 0)
            return c;
        p += n + (p[n] == '|');
    }
    return -1;
}

static sim_status need_col(const table *t, const char *names, int *out, sim_error *err)
{
    char first[128];
    size_t n = strcspn(names, "|");

    *out = col_any(t, names);
    if (*out >= 0)
        return SIM_OK;
    snprintf(first, sizeof first, "%.*s", (int)(n < 127 ? n : 127), names);
    return sim_error_set(err, SIM_EDATA, table_name(t), 1, first,
                         "column '%s' is missing (the header must name it%s%s; has the file "
                         "been renamed or changed?)", first, names[n] ? ": any of " : "",
                         names[n] ? names : "");
}

static sim_status get_id_cols(const table *t, int with_topic, id_cols *c, sim_error *err)
{
    sim_status st;

    if ((st = need_col(t, "time_period", &c->period, err)) ||
        (st = need_col(t, "geographic_level", &c->level, err)) ||
        (st = need_col(t, "old_la_code", &c->old_code, err)) ||
        (st = need_col(t, "new_la_code", &c->new_code, err)) ||
        (st = need_col(t, "la_name", &c->name, err)))
        return st;
    c->country = table_col(t, "country_code");
    c->topic = c->brk = -1;
    if (with_topic && ((st = need_col(t, "breakdown_topic", &c->topic, err)) ||
                       (st = need_col(t, "breakdown", &c->brk, err))))
        return st;
    return SIM_OK;
}

static int row_in_area(const table *t, size_t r, const id_cols *c, const area *a)
{
    const char *level = table_cell(t, r, (size_t)c->level);

    if (a->national)
        return ci_equal(level, "National") &&
               (c->country < 0 || strcmp(table_cell(t, r, (size_t)c->country), "E92000001") == 0);
    if (!ci_equal(level, "Local authority"))
        return 0;
    return (a->old_code[0] && strcmp(table_cell(t, r, (size_t)c->old_code), a->old_code) == 0) ||
           (a->new_code[0] && strcmp(table_cell(t, r, (size_t)c->new_code), a->new_code) == 0);
}

/* January census year of an academic time_period (202425 -> 2025), or a calendar year. */
static sim_status row_year(const table *t, size_t r, const id_cols *c, int *year, sim_error *err)
{
    const char *s = table_cell(t, r, (size_t)c->period);
    size_t n = strlen(s);
    char *end;
    long v = strtol(s, &end, 10);

    if (*end == '\0' && n == 6 && (v / 100 + 1) % 100 == v % 100)
        v = v / 100 + 1;
    else if (!(*end == '\0' && n == 4))
        return table_cell_error(t, r, (size_t)c->period, err,
                                "'%s' is not a year (expected YYYY or an academic year YYYYyy)", s);
    if (v < FIRST_YEAR || v >= FIRST_YEAR + N_YEARS)
        return table_cell_error(t, r, (size_t)c->period, err, "year %ld is out of range", v);
    *year = (int)v;
    return SIM_OK;
}

static int starts_ci(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (tolower((unsigned char)*s) != tolower((unsigned char)*prefix))
            return 0;
    return 1;
}

static int contains_ci(const char *s, const char *needle)
{
    for (; *s; s++)
        if (starts_ci(s, needle))
            return 1;
    return 0;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b), *d = xmalloc((nb + 1) * sizeof *d), res;

    for (size_t j = 0; j <= nb; j++)
        d[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = d[0];
        d[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = d[j], cost = tolower((unsigned char)a[i - 1]) !=
                                     tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (d[j - 1] + 1 < best) best = d[j - 1] + 1;
            d[j] = best;
            diag = up;
        }
    }
    res = d[nb];
    free(d);
    return res;
}

/* One local authority as a release names it; the strings are borrowed from the table. */
typedef struct la_entry { const char *old_code, *new_code, *name; } la_entry;

static int same_la(const la_entry *a, const la_entry *b)
{
    return strcmp(a->old_code, b->old_code) == 0 && strcmp(a->new_code, b->new_code) == 0;
}

static int same_entry(const la_entry *a, const la_entry *b)
{
    return same_la(a, b) && strcmp(a->name, b->name) == 0;
}

/* The distinct (codes, name) of the `Local authority` rows of `t`, in the order first met;
 * *n their count. Matching works on this list, not on the (many) rows. The caller frees it. */
static la_entry *list_las(const table *t, const id_cols *c, size_t *n)
{
    size_t cap = 64;
    la_entry *e = xmalloc(cap * sizeof *e);

    *n = 0;
    for (size_t r = 0; r < table_rows(t); r++) {
        la_entry cur = { table_cell(t, r, (size_t)c->old_code),
                         table_cell(t, r, (size_t)c->new_code), table_cell(t, r, (size_t)c->name) };
        size_t k = 0;
        if (!ci_equal(table_cell(t, r, (size_t)c->level), "Local authority") ||
            (*n > 0 && same_entry(&e[*n - 1], &cur)))     /* rows of one LA come together */
            continue;
        while (k < *n && !same_entry(&e[k], &cur))
            k++;
        if (k < *n)
            continue;
        if (*n == cap)
            e = xrealloc(e, (cap *= 2) * sizeof *e);
        e[(*n)++] = cur;
    }
    return e;
}

static int la_exact(const la_entry *e, const char *want)
{
    return ci_equal(e->old_code, want) || ci_equal(e->new_code, want) || ci_equal(e->name, want);
}

/* Partial names: at least MIN_PARTIAL characters, so that "of" or "on" names nobody. */
enum { MIN_PARTIAL = 3, MAX_LISTED = 6, NEAR = 3 };

/* Whether `needle` starts a word of `s` (any case): "Hull" in "Kingston upon Hull", not in
 * "Solihull". */
static int word_ci(const char *s, const char *needle)
{
    for (const char *p = s; *p; p++)
        if ((p == s || !isalnum((unsigned char)p[-1])) && starts_ci(p, needle))
            return 1;
    return 0;
}

static int name_has(const char *name, const char *want, int word)
{
    return word ? word_ci(name, want) : contains_ci(name, want);
}

/* The LAs whose name contains `want` in any case ("Bristol" in "Bristol, City of"), at the
 * start of a word when `word`, each LA once: the first max of them in m[], all of them
 * counted in the result. */
static size_t la_partial(const la_entry *e, size_t n, const char *want, int word, size_t *m,
                         size_t max)
{
    size_t found = 0;

    if (strlen(want) < MIN_PARTIAL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        if (!name_has(e[i].name, want, word))
            continue;
        while (j < i && !(same_la(&e[j], &e[i]) && name_has(e[j].name, want, word)))
            j++;
        if (j < i)
            continue;                    /* the same LA under another spelling */
        if (found < max)
            m[found] = i;
        found++;
    }
    return found;
}

/* How far `want` is from an LA: the edit distance to its codes, its name, or any run of whole
 * words of its name ("Bristl" is 1 from the "Bristol" of "Bristol, City of"). */
static size_t la_distance(const la_entry *e, const char *want)
{
    enum { MAX_WORDS = 16 };
    size_t d = edit_distance(want, e->name), start[MAX_WORDS], end[MAX_WORDS], nw = 0, i = 0;
    const char *p = e->name;
    char buf[128];

    if (edit_distance(want, e->old_code) < d) d = edit_distance(want, e->old_code);
    if (edit_distance(want, e->new_code) < d) d = edit_distance(want, e->new_code);
    while (p[i] && nw < MAX_WORDS) {
        while (p[i] == ' ' || p[i] == ',')
            i++;
        if (!p[i])
            break;
        start[nw] = i;
        while (p[i] && p[i] != ' ' && p[i] != ',')
            i++;
        end[nw++] = i;
    }
    for (size_t a = 0; a < nw; a++)
        for (size_t b = a; b < nw; b++) {
            size_t len = end[b] - start[a];
            if (len < MIN_PARTIAL || len >= sizeof buf)
                continue;
            memcpy(buf, p + start[a], len);
            buf[len] = '\0';
            if (edit_distance(want, buf) < d)
                d = edit_distance(want, buf);
        }
    return d;
}

/* "Name (old, new), ..." for the entries idx[0 .. n) into buf. */
static void la_list_text(const la_entry *e, const size_t *idx, size_t n, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%s (%s, %s)", k ? ", " : "", e[idx[k]].name,
                 e[idx[k]].old_code, e[idx[k]].new_code);
    }
}

/* The NEAR LAs nearest to `want` (one entry per LA), as text. */
static void la_nearest(const la_entry *e, size_t n, const char *want, char *buf, size_t cap)
{
    size_t best_d[NEAR], best[NEAR], n_best = 0;

    for (size_t i = 0; i < n; i++) {
        size_t d = la_distance(&e[i], want), k;
        for (k = 0; k < n_best && !same_la(&e[best[k]], &e[i]); k++)
            ;
        if (k < n_best)
            continue;                    /* an LA the list has already */
        for (k = n_best; k > 0 && best_d[k - 1] > d; k--)
            if (k < NEAR) { best_d[k] = best_d[k - 1]; best[k] = best[k - 1]; }
        if (k < NEAR) {
            best_d[k] = d;
            best[k] = i;
            if (n_best < NEAR) n_best++;
        }
    }
    if (n_best == 0)
        snprintf(buf, cap, "none");
    else
        la_list_text(e, best, n_best, buf, cap);
}

/* ---- labels -------------------------------------------------------------------------- */

/* Parse an age label as DfE writes them ("age 7", "under 3", "age 2 and under", "age 20 and
 * over", "Under 5", "Age 5 to 10", "Total"). Returns 1 with the band, 0 if it is no age. */
static int parse_age_label(const char *s, int *from, int *to)
{
    int a, b, n = 0;

    if (ci_equal(s, "Total"))
        return *from = 0, *to = SIM_MAX_AGE, 1;
    if (sscanf(s, "%*[Uu]nder %d%n", &a, &n) == 1 && s[n] == '\0' && a > 0)
        return *from = 0, *to = a - 1, 1;
    if (sscanf(s, "%*[Aa]ge %d to %d%n", &a, &b, &n) == 2 && s[n] == '\0' && a <= b)
        return *from = a, *to = b, 1;
    if (sscanf(s, "%*[Aa]ge %d and under%n", &a, &n) == 1 && s[n] == '\0')
        return *from = 0, *to = a, 1;
    if (sscanf(s, "%*[Aa]ge %d and over%n", &a, &n) == 1 && s[n] == '\0')
        return *from = a, *to = SIM_MAX_AGE, 1;
    if (sscanf(s, "%*[Aa]ge %d%n", &a, &n) == 1 && s[n] == '\0')
        return *from = a, *to = a, 1;
    return 0;
}

static int topic_in(const char *topic, const char *const *list)
{
    for (; *list; list++)
        if (ci_equal(topic, *list))
            return 1;
    return 0;
}

/* "Type of placement" labels of sen_needs_all_plans.csv: a setting, -2 for subtotals, -1 if
 * unknown. Matched on words, so small rewordings in later releases still map. */
static int placement_setting(const char *s)
{
    if (contains_ci(s, "total"))
        return -2;
    if (starts_ci(s, "mainstream"))
        return contains_ci(s, "resourced") || contains_ci(s, "sen unit") ? SET_RP : SET_MS;
    if (starts_ci(s, "special"))
        return contains_ci(s, "independent") || contains_ci(s, "non-maintained") ||
               contains_ci(s, "non maintained") ? SET_IS : SET_SS;
    if (starts_ci(s, "AP") || starts_ci(s, "alternative provision"))
        return SET_AP;
    if (starts_ci(s, "FE"))
        return contains_ci(s, "specialist post") ? SET_SPI : SET_FE;
    if (starts_ci(s, "educated elsewhere"))
        return contains_ci(s, "NEET") || contains_ci(s, "not in education") ? SET_NEET : SET_ELS;
    if (contains_ci(s, "early years"))
        return SET_EY;
    if (contains_ci(s, "not recorded") || contains_ci(s, "awaiting"))
        return SET_UNK;
    return -1;
}

/* DfE placement columns of caseload.csv and newplans.csv (DESIGN.md "Vocabulary"). `alt`
 * names the 2026 replacement, which may be two columns joined by '+'. */
typedef struct set_col { const char *name; const char *alt; sim_setting set; int optional; } set_col;

static const set_col SET_COLS[] = {
    { "mainstream_la_maintained", NULL, SET_MS, 0 },
    { "mainstream_academy", NULL, SET_MS, 0 },
    { "mainstream_free_school", NULL, SET_MS, 0 },
    { "mainstream_independent", NULL, SET_MS, 0 },
    { "mainstream_la_maintained_resourced_provision", NULL, SET_RP, 0 },
    { "mainstream_la_maintained_senunit", NULL, SET_RP, 0 },
    { "mainstream_academy_resourced_provision", NULL, SET_RP, 0 },
    { "mainstream_academy_senunit", NULL, SET_RP, 0 },
    { "mainstream_free_school_resourced_provision", NULL, SET_RP, 0 },
    { "mainstream_free_school_senunit", NULL, SET_RP, 0 },
    { "special_la_maintained", NULL, SET_SS, 0 },
    { "special_academy_free", "special_academy+special_free_school", SET_SS, 0 },
    { "special_independent", NULL, SET_IS, 0 },
    { "special_non_maintained", NULL, SET_IS, 0 },
    { "ap_pru_academy", NULL, SET_AP, 0 },
    { "ap_pru_free_school", NULL, SET_AP, 0 },
    { "ap_pru_la_maintained", NULL, SET_AP, 0 },
    { "general_fe_tertiary_colleges", NULL, SET_FE, 0 },
    { "ukrlp_provider", NULL, SET_FE, 0 },
    { "specialist_post_16_institutions", NULL, SET_SPI, 0 },
    { "nm_early_years", NULL, SET_EY, 0 },
    { "elective_home_education", NULL, SET_ELS, 0 },
    { "other_arrangements_la", NULL, SET_ELS, 0 },
    { "other_arrangements_parents", NULL, SET_ELS, 0 },
    { "online_provider", NULL, SET_ELS, 0 },
    { "w_settings", NULL, SET_ELS, 0 },
    { "other_schools", NULL, SET_ELS, 0 },
    { "other_placement_settings", NULL, SET_ELS, 0 },
    { "perm_ex_2022", NULL, SET_ELS, 1 },      /* permanently excluded, pre-2023 only */
    { "neet", NULL, SET_NEET, 0 },
    { "neet_ntci", NULL, SET_NEET, 0 },
    { "neet_other", NULL, SET_NEET, 0 },
    { "neet_other_csa", NULL, SET_NEET, 0 },
    { "placement_unknown", NULL, SET_UNK, 0 },
    { "await_prov_2022", NULL, SET_UNK, 1 },   /* awaiting provision, pre-2023 only */
};
enum { N_SET_COLS = sizeof SET_COLS / sizeof SET_COLS[0], MAX_PLACE_COLS = 2 * N_SET_COLS };

/* The placement columns found in a file: index and setting of each. */
typedef struct place_cols {
    int           col[MAX_PLACE_COLS];
    sim_setting   set[MAX_PLACE_COLS];
    unsigned char pre_2023[MAX_PLACE_COLS];   /* a column DfE publishes up to 2022 only */
    size_t        n;
} place_cols;

static sim_status find_place_cols(const table *t, place_cols *pc, sim_error *err)
{
    pc->n = 0;
    for (size_t i = 0; i < N_SET_COLS; i++) {
        const set_col *s = &SET_COLS[i];
        int c = table_col(t, s->name);
        if (c >= 0) {
            pc->col[pc->n] = c;
            pc->pre_2023[pc->n] = (unsigned char)s->optional;
            pc->set[pc->n++] = s->set;
            continue;
        }
        if (s->alt) {   /* every part of the replacement must be there */
            char buf[128];
            const char *p = s->alt;
            int cols[4], n = 0, ok = 1;
            while (*p && n < 4) {
                size_t len = strcspn(p, "+");
                snprintf(buf, sizeof buf, "%.*s", (int)len, p);
                if ((cols[n++] = table_col(t, buf)) < 0)
                    ok = 0;
                p += len + (p[len] == '+');
            }
            if (ok) {
                for (int k = 0; k < n; k++) {
                    pc->col[pc->n] = cols[k];
                    pc->pre_2023[pc->n] = (unsigned char)s->optional;
                    pc->set[pc->n++] = s->set;
                }
                continue;
            }
        }
        if (!s->optional)
            return sim_error_set(err, SIM_EDATA, table_name(t), 1, s->name,
                                 "column '%s' is missing (a placement column DfE publishes%s%s; "
                                 "has the file been renamed or changed?)", s->name,
                                 s->alt ? "; also accepted: " : "", s->alt ? s->alt : "");
    }
    return SIM_OK;
}

/* 1 when column c of a placement file is one sendsim reads or knows to skip: an identifier,
 * the total, a placement column, or one of DfE's subtotals and percentages. */
static int known_col(const table *t, size_t c, const place_cols *pc, int c_total)
{
    static const char *const IDS[] = { "time_period", "time_identifier", "geographic_level",
                                       "country_code", "country_name", "region_code",
                                       "region_name", "new_la_code", "old_la_code", "la_name",
                                       "breakdown_topic", "breakdown", "ed_elsewhere", NULL };
    const char *h = table_header(t, c);
    size_t n = strlen(h);

    if ((int)c == c_total)
        return 1;
    for (size_t i = 0; i < pc->n; i++)
        if (pc->col[i] == (int)c)
            return 1;
    for (const char *const *id = IDS; *id; id++)
        if (ci_equal(h, *id))
            return 1;
    return (n > 6 && ci_equal(h + n - 6, "_total")) || (n > 3 && ci_equal(h + n - 3, "_pc"));
}

static const char *const NEED_COLS[SIM_N_NEEDS] = {
    "number_asd", "number_hi", "number_mld", "number_msi", "number_oth", "number_pd",
    "number_pmld", "number_semh", "number_slcn", "number_sld", "number_spld", "number_vi",
    "number_need_unknown"
};

static const char *const CASE_AGE_TOPICS[] = { "Child or young persons age",
                                               "Age at start of academic year", NULL };
static const char *const NEW_AGE_TOPICS[] = { "Age when plan started", NULL };
static const char *const CEASED_AGE_TOPICS[] = { "Age plan ceased", "Age when plan ceased", NULL };
static const char *const CASE_ALL_TOPICS[] = { "All EHC plans", NULL };
static const char *const NEW_ALL_TOPICS[] = { "New EHC plans", "All new EHC plans", NULL };
static const char *const CEASED_ALL_TOPICS[] = { "All ceased EHC plans", NULL };
static const char *const PLACEMENT_TOPICS[] = { "Type of placement", NULL };

/* ---- the import state ---------------------------------------------------------------- */

static const char *const MEASURES[] = { "caseload", "new_plans", "ceased" };
enum { M_CASE, M_NEW, M_CEASED };

/* One cell that may be unknown; `seen` guards against conflicting duplicate rows. */
typedef struct cell { double v; unsigned char known, seen; } cell;

/* What caseload.csv says about one January. */
typedef struct year_case {
    cell   total;                           /* All EHC plans */
    cell   age_total[N_AGE];                /* ehcplans of each age row */
    cell   as[N_AGE][SIM_N_SETTINGS];       /* known only if every column of it is */
    cell   nat_age[N_AGE];                  /* England's, a profile for suppressed ages */
    int    has_age_rows, has_age_detail;
} year_case;

/* A placement label already met, to tell a repeated row from a second, different one. */
typedef struct seen_label {
    char          label[96];
    double        v[SIM_N_NEEDS];
    unsigned char known[SIM_N_NEEDS];
} seen_label;
enum { MAX_LABELS = 64 };

/* What sen_needs_all_plans.csv says about one January. */
typedef struct year_need {
    seen_label labels[MAX_LABELS];
    size_t     n_labels;
    cell need_total[SIM_N_NEEDS];
    cell age_total[N_AGE];                  /* ehc_plans of each age row */
    cell na[N_AGE][SIM_N_NEEDS];
    cell ns[SIM_N_NEEDS][SIM_N_SETTINGS];
    int  has_any, has_age, has_placement;
} year_need;

typedef struct hist_entry { int year, from, to, measure; double count; int release; } hist_entry;

typedef struct imp {
    const import_options *opt;
    area       area;
    sbuf       rep;                /* report text */
    year_case *yc;                 /* [N_YEARS] */
    year_need *yn;                 /* [N_YEARS] */
    hist_entry *hist;
    size_t     n_hist, cap_hist;
    size_t     suppressed, mismatches, ages_filled, files_read, rows_read, rows_kept;
    double    *pop;                /* [n_pop_years * SIM_N_AGES] */
    int        pop_first, n_pop_years;
    int        base_year;
    char       la[256];            /* --la without the spaces around it */
    char       la_note[320];       /* how --la was matched, when by part of a name */
    long      *table;              /* [SIM_N_AGES][SIM_N_NEEDS][SIM_N_SETTINGS] result */
    ipf_fit_info fit;
    ipf_round_info round;
    sim_error *err;
} imp;


static sim_status load(imp *s, const char *dir, const char *file, table **t)
{
    char path[1024];
    sim_status st;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    st = table_load(path, t, s->err);
    if (st == SIM_OK) {
        s->files_read++;
        s->rows_read += table_rows(*t);
        sb_printf(&s->rep, "  read %s: %zu rows\n", path, table_rows(*t));
    }
    return st;
}

/* ---- choosing the area --------------------------------------------------------------- */

static void set_area(imp *s, const la_entry *e)
{
    snprintf(s->area.old_code, sizeof s->area.old_code, "%s", e->old_code);
    snprintf(s->area.new_code, sizeof s->area.new_code, "%s", e->new_code);
    snprintf(s->area.name, sizeof s->area.name, "%s", e->name);
}

/* The older release's LA `old` as caseload.csv (now[0 .. n_now)) has it under other codes:
 * the same old_la_code or name, or NULL. */
static const la_entry *la_now(const la_entry *old, const la_entry *now, size_t n_now)
{
    for (size_t i = 0; i < n_now; i++)
        if (ci_equal(now[i].old_code, old->old_code) || ci_equal(now[i].name, old->name))
            return &now[i];
    return NULL;
}

/* The latest year of the rows of LA `e` in `t` (0 when none reads). */
static int la_last_year(const table *t, const id_cols *c, const la_entry *e)
{
    int last = 0, y;

    for (size_t r = 0; r < table_rows(t); r++)
        if (strcmp(table_cell(t, r, (size_t)c->old_code), e->old_code) == 0 &&
            strcmp(table_cell(t, r, (size_t)c->new_code), e->new_code) == 0 &&
            row_year(t, r, c, &y, NULL) == SIM_OK && y > last)
            last = y;
    return last;
}

/* When `want` is an LA of the older release (--sen2-2022) that caseload.csv (now[0 .. n_now))
 * lacks, say in note[] that it is there only (an abolished LA such as 928 Northamptonshire)
 * or which codes caseload.csv now gives it; else note[0] = '\0'. Only the error path reads
 * it, and a file that cannot be read just gives no note: the error is about caseload.csv. */
static void old_release_note(const imp *s, const char *want, const la_entry *now,
                             size_t n_now, char *note, size_t n)
{
    char path[1024];
    table *t = NULL;
    id_cols c;
    sim_error e;
    la_entry *las = NULL;
    size_t n_las = 0;

    note[0] = '\0';
    if (!s->opt->sen2_2022_dir)
        return;
    snprintf(path, sizeof path, "%s/sen2_age_caseload.csv", s->opt->sen2_2022_dir);
    if (table_load(path, &t, &e) == SIM_OK && get_id_cols(t, 0, &c, &e) == SIM_OK)
        las = list_las(t, &c, &n_las);
    for (size_t i = 0; i < n_las; i++) {
        const la_entry *old = &las[i], *cur;
        if (!la_exact(old, want))
            continue;
        if ((cur = la_now(old, now, n_now)) != NULL)
            snprintf(note, n, "the older release (--sen2-2022) has %.100s as (%.16s, %.32s); "
                     "this caseload.csv has %.100s (%.16s, %.32s): give one of those", old->name,
                     old->old_code, old->new_code, cur->name, cur->old_code, cur->new_code);
        else
            snprintf(note, n, "%.100s (%.16s, %.32s) appears only in the older release "
                     "(sen2_age_caseload.csv of --sen2-2022, last January %d), so it has no "
                     "base year to import", old->name, old->old_code, old->new_code,
                     la_last_year(t, &c, old));
        break;
    }
    free(las);
    table_free(t);
}

/* The LAs `want` names in part: the one whose name has a word starting with it (*word = 1;
 * "Hull" is Kingston upon Hull, not Solihull), else the one whose name contains it; when
 * neither is unique, the candidates (words first) in m[] and their number. */
static size_t match_partial(const la_entry *las, size_t n, const char *want, size_t *m,
                           int *word)
{
    size_t n_word = la_partial(las, n, want, 1, m, MAX_LISTED);

    *word = n_word > 0;
    return n_word > 0 ? n_word : la_partial(las, n, want, 0, m, MAX_LISTED);
}

#define VALID_LA "valid values: the la_name, old_la_code or new_la_code of a 'Local " \
                 "authority' row of this caseload.csv (the --sen2 release), or England / E92000001"

/* The error for an --la that names no LA of caseload.csv (las[0 .. n)), or several (m[0 ..
 * n_m)): the candidates, the older release's word on it, or the nearest LAs; and always
 * where valid values come from. */
static sim_status area_error(imp *s, const table *t, const la_entry *las, size_t n,
                             const size_t *m, size_t n_m)
{
    char list[400], note[400];

    old_release_note(s, s->la, las, n, note, sizeof note);
    if (n_m > 1) {
        la_list_text(las, m, n_m < MAX_LISTED ? n_m : MAX_LISTED, list, sizeof list);
        return sim_error_set(s->err, SIM_EDATA, table_name(t), 0, "la", "'%s' matches %zu local "
                             "authorities: %s%s (give the whole name or a code%s%s; " VALID_LA
                             ")", s->la, n_m, list, n_m > MAX_LISTED ? ", ..." : "",
                             note[0] ? "; " : "", note);
    }
    if (note[0])
        return sim_error_set(s->err, SIM_EDATA, table_name(t), 0, "la", "no local authority "
                             "'%s': %s (" VALID_LA ")", s->la, note);
    la_nearest(las, n, s->la, list, sizeof list);
    return sim_error_set(s->err, SIM_EDATA, table_name(t), 0, "la", "no local authority '%s' "
                         "(nearest: %s; " VALID_LA ")", s->la, list);
}

/* The area named by s->la among the LAs of caseload.csv: a code or name in any case, else
 * the one LA that match_partial() finds. Otherwise SIM_EDATA from area_error(). */
static sim_status choose_area(imp *s, const table *t, const id_cols *c)
{
    size_t n, m[MAX_LISTED], n_m;
    la_entry *las;
    int word;
    sim_status st;

    if (ci_equal(s->la, "England") || ci_equal(s->la, "E92000001")) {
        s->area.national = 1;
        snprintf(s->area.new_code, sizeof s->area.new_code, "E92000001");
        snprintf(s->area.name, sizeof s->area.name, "England");
        return SIM_OK;
    }
    las = list_las(t, c, &n);
    for (size_t i = 0; i < n; i++)
        if (la_exact(&las[i], s->la)) {
            set_area(s, &las[i]);
            free(las);
            return SIM_OK;
        }
    if ((n_m = match_partial(las, n, s->la, m, &word)) == 1) {
        set_area(s, &las[m[0]]);
        snprintf(s->la_note, sizeof s->la_note, "--la '%s' is taken as %s, the only local "
                 "authority whose name %s it.\n", s->la, s->area.name,
                 word ? "has a word starting with" : "contains");
        free(las);
        return SIM_OK;
    }
    st = area_error(s, t, las, n, m, n_m);
    free(las);
    return st;
}

/* Read a count; a suppressed one sets *known = 0 and is counted. */
static sim_status get_count(imp *s, const table *t, size_t r, int col, double *v, int *known)
{
    sim_status st = table_count(t, r, (size_t)col, v, known, s->err);

    if (st == SIM_OK && !*known)
        s->suppressed++;
    return st;
}

static sim_status set_cell(imp *s, const table *t, size_t r, cell *c, double v, int known)
{
    if (c->seen) {
        if (c->known != known || (known && c->v != v))
            return sim_error_set(s->err, SIM_EDATA, table_name(t), table_line(t, r), NULL,
                                 "this row repeats an earlier row for %s with a different value",
                                 s->area.name);
        return SIM_OK;
    }
    c->seen = 1;
    c->known = (unsigned char)known;
    c->v = known ? v : 0.0;
    return SIM_OK;
}

/* Record a published figure. The newer release wins over the older one; the same figure
 * twice in one release must agree (a duplicated row), else the row is reported. */
static sim_status hist_add(imp *s, const table *t, size_t r, int year, int from, int to,
                           int measure, double count, int release)
{
    if (year < FIRST_HIST_YEAR)
        return SIM_OK;
    for (size_t i = 0; i < s->n_hist; i++) {
        hist_entry *h = &s->hist[i];
        if (h->year != year || h->from != from || h->to != to || h->measure != measure)
            continue;
        if (release == h->release && count != h->count)
            return sim_error_set(s->err, SIM_EDATA, table_name(t), table_line(t, r), NULL,
                                 "%s for %d, ages %d-%d, is %.0f here but %.0f in an earlier "
                                 "row (expected each figure once)", MEASURES[measure], year,
                                 from, to, count, h->count);
        if (release > h->release) {
            h->count = count;
            h->release = release;
        }
        return SIM_OK;
    }
    if (s->n_hist == s->cap_hist) {
        s->cap_hist = s->cap_hist ? 2 * s->cap_hist : 256;
        s->hist = xrealloc(s->hist, s->cap_hist * sizeof *s->hist);
    }
    s->hist[s->n_hist++] = (hist_entry){ year, from, to, measure, count, release };
    return SIM_OK;
}

/* ---- the 2025 release ---------------------------------------------------------------- */

/* The placement cells of an age row. A setting with a suppressed column is unknown, unless
 * the published columns already add up to the row's total: then every suppressed column is
 * provably 0. The pre-2023-only columns are `x` from 2023 on (the break in series: the
 * category is gone), which holds nothing even when the row's total is suppressed. */
static sim_status case_settings(imp *s, const table *t, size_t r, const place_cols *pc,
                                year_case *y, int ai, int year)
{
    double sum[SIM_N_SETTINGS] = { 0 }, all_known = 0.0, v;
    int unknown[SIM_N_SETTINGS] = { 0 }, present[SIM_N_SETTINGS] = { 0 }, known, proven;
    sim_status st;

    for (size_t k = 0; k < pc->n; k++) {
        if (pc->pre_2023[k] && year >= 2023 &&
            strcmp(table_cell(t, r, (size_t)pc->col[k]), "x") == 0)
            continue;
        if ((st = get_count(s, t, r, pc->col[k], &v, &known)))
            return st;
        present[pc->set[k]] = 1;
        if (known) {
            sum[pc->set[k]] += v;
            all_known += v;
        } else {
            unknown[pc->set[k]] = 1;
        }
    }
    proven = y->age_total[ai].known && fabs(all_known - y->age_total[ai].v) < 0.5;
    for (int set = 0; set < SIM_N_SETTINGS; set++) {
        int k = proven || !unknown[set];
        if (!present[set])
            continue;
        if (k)
            y->has_age_detail = 1;
        if ((st = set_cell(s, t, r, &y->as[ai][set], sum[set], k)))
            return st;
    }
    return SIM_OK;
}

/* One row of caseload.csv for the area: totals, age x setting cells, history. */
static sim_status case_row(imp *s, const table *t, size_t r, const id_cols *ic,
                           const place_cols *pc, int c_total)
{
    const char *topic = table_cell(t, r, (size_t)ic->topic), *brk = table_cell(t, r, (size_t)ic->brk);
    int year, from, to, known, ai;
    double v;
    sim_status st;
    year_case *y;

    if (topic_in(topic, CASE_ALL_TOPICS)) {
        if ((st = row_year(t, r, ic, &year, s->err)) ||
            (st = get_count(s, t, r, c_total, &v, &known)))
            return st;
        y = &s->yc[year - FIRST_YEAR];
        if (known && (st = hist_add(s, t, r, year, 0, SIM_MAX_AGE, M_CASE, v, 2025)))
            return st;
        return set_cell(s, t, r, &y->total, v, known);
    }
    if (!topic_in(topic, CASE_AGE_TOPICS))
        return SIM_OK;
    if ((st = row_year(t, r, ic, &year, s->err)))
        return st;
    if (!parse_age_label(brk, &from, &to) || (ai = age_index(from, to)) < 0)
        return table_cell_error(t, r, (size_t)ic->brk, s->err,
                                "'%s' is not a current age (expected under 3, age 3 ... age 25)", brk);
    y = &s->yc[year - FIRST_YEAR];
    y->has_age_rows = 1;
    if ((st = get_count(s, t, r, c_total, &v, &known)) ||
        (st = set_cell(s, t, r, &y->age_total[ai], v, known)))
        return st;
    if (known && (st = hist_add(s, t, r, year, from, to, M_CASE, v, 2025)))
        return st;
    return case_settings(s, t, r, pc, y, ai, year);
}

static const area ENGLAND = { 1, "", "E92000001", "England" };

/* England's total at one age, kept as a profile for the ages an area's rows suppress. A row
 * that does not read is skipped: it is not the area's data. */
static void national_age_row(imp *s, const table *t, size_t r, const id_cols *ic, int c_total)
{
    int year, from, to, ai, known;
    double v;
    cell *c;

    if (!topic_in(table_cell(t, r, (size_t)ic->topic), CASE_AGE_TOPICS) ||
        row_year(t, r, ic, &year, NULL) != SIM_OK ||
        !parse_age_label(table_cell(t, r, (size_t)ic->brk), &from, &to) ||
        (ai = age_index(from, to)) < 0 ||
        table_count(t, r, (size_t)c_total, &v, &known, NULL) != SIM_OK || !known)
        return;
    c = &s->yc[year - FIRST_YEAR].nat_age[ai];
    if (!c->known) {
        c->seen = c->known = 1;
        c->v = v;
    }
}

/* A later release may add a placement column sendsim does not know: its plans are in each
 * age's total but in no setting. Say so, since they then show up as margin mismatches. */
static void note_unknown_cols(imp *s, const table *t, const place_cols *pc, int c_total)
{
    size_t n = 0;

    for (size_t c = 0; c < table_cols(t); c++) {
        if (known_col(t, c, pc, c_total))
            continue;
        sb_printf(&s->rep, "%s'%s'", n++ ? ", " : "  WARNING: caseload.csv has columns that are "
                  "neither a placement sendsim knows nor a total: ", table_header(t, c));
    }
    if (n)
        sb_printf(&s->rep, ". Their plans count in each age's total but in no setting: each "
                  "age's placements are scaled up to its total (the margin mismatches below); "
                  "map the column%s to a setting in import.c's SET_COLS.\n", n > 1 ? "s" : "");
}

static sim_status read_caseload(imp *s)
{
    table *t = NULL;
    id_cols ic;
    place_cols pc;
    int c_total;
    sim_status st;

    if ((st = load(s, s->opt->sen2_dir, "caseload.csv", &t)))
        return st;
    if ((st = get_id_cols(t, 1, &ic, s->err)) || (st = need_col(t, "ehcplans", &c_total, s->err)) ||
        (st = find_place_cols(t, &pc, s->err)) ||
        (st = choose_area(s, t, &ic)))
        goto out;
    note_unknown_cols(s, t, &pc, c_total);
    for (size_t r = 0; r < table_rows(t); r++) {
        if (!row_in_area(t, r, &ic, &s->area)) {
            if (!s->area.national && row_in_area(t, r, &ic, &ENGLAND))
                national_age_row(s, t, r, &ic, c_total);
            continue;
        }
        s->rows_kept++;
        if ((st = case_row(s, t, r, &ic, &pc, c_total)))
            goto out;
    }
out:
    table_free(t);
    return st;
}

/* A "Type of placement" row: several labels add up to one setting, so each label is
 * counted once (a repeated identical row is skipped, a conflicting one reported). */
static sim_status placement_row(imp *s, const table *t, size_t r, const int *c_need,
                                year_need *y, const char *label, int set)
{
    seen_label cur;
    sim_status st;
    int known;

    snprintf(cur.label, sizeof cur.label, "%s", label);
    for (int n = 0; n < SIM_N_NEEDS; n++) {
        if ((st = get_count(s, t, r, c_need[n], &cur.v[n], &known)))
            return st;
        cur.known[n] = (unsigned char)known;
    }
    for (size_t i = 0; i < y->n_labels; i++) {
        if (strcmp(y->labels[i].label, cur.label) != 0)
            continue;
        if (memcmp(y->labels[i].known, cur.known, sizeof cur.known) != 0 ||
            memcmp(y->labels[i].v, cur.v, sizeof cur.v) != 0)
            return sim_error_set(s->err, SIM_EDATA, table_name(t), table_line(t, r), NULL,
                                 "placement '%s' appears again for %s with other values "
                                 "(expected each placement once a year)", label, s->area.name);
        return SIM_OK;
    }
    if (y->n_labels == MAX_LABELS)
        return sim_error_set(s->err, SIM_EDATA, table_name(t), table_line(t, r), "breakdown",
                             "more than %d types of placement in a year", MAX_LABELS);
    y->labels[y->n_labels++] = cur;
    for (int n = 0; n < SIM_N_NEEDS; n++) {
        cell *c = &y->ns[n][set];
        if (!c->seen) { c->seen = 1; c->known = 1; c->v = 0.0; }
        c->known &= cur.known[n];
        c->v += cur.known[n] ? cur.v[n] : 0.0;
    }
    return SIM_OK;
}

static sim_status need_row(imp *s, const table *t, size_t r, const id_cols *ic,
                           const int *c_need, int c_total)
{
    const char *topic = table_cell(t, r, (size_t)ic->topic), *brk = table_cell(t, r, (size_t)ic->brk);
    int year, from, to, known, ai = -1, set = -1, kind;
    double v;
    sim_status st;
    year_need *y;

    if (topic_in(topic, CASE_ALL_TOPICS))
        kind = 0;
    else if (topic_in(topic, CASE_AGE_TOPICS))
        kind = 1;
    else if (topic_in(topic, PLACEMENT_TOPICS))
        kind = 2;
    else
        return SIM_OK;
    if ((st = row_year(t, r, ic, &year, s->err)))
        return st;
    y = &s->yn[year - FIRST_YEAR];
    if (kind == 1 && (!parse_age_label(brk, &from, &to) || (ai = age_index(from, to)) < 0))
        return table_cell_error(t, r, (size_t)ic->brk, s->err,
                                "'%s' is not a current age (expected under 3, age 3 ... age 25)", brk);
    if (kind == 2 && (set = placement_setting(brk)) < 0) {
        if (set == -1) {
            sb_printf(&s->rep, "  %s:%zu: placement '%s' is not a known type; left out of the "
                      "need x setting margin\n", table_name(t), table_line(t, r), brk);
            s->mismatches++;
        }
        return SIM_OK;
    }
    y->has_any = 1;
    y->has_age |= kind == 1;
    y->has_placement |= kind == 2;
    if (kind == 2)
        return placement_row(s, t, r, c_need, y, brk, set);
    if (kind == 1 && c_total >= 0 &&
        ((st = get_count(s, t, r, c_total, &v, &known)) ||
         (st = set_cell(s, t, r, &y->age_total[ai], v, known))))
        return st;
    for (int n = 0; n < SIM_N_NEEDS; n++) {
        if ((st = get_count(s, t, r, c_need[n], &v, &known)))
            return st;
        if (kind == 0)
            st = set_cell(s, t, r, &y->need_total[n], v, known);
        else
            st = set_cell(s, t, r, &y->na[ai][n], v, known);
        if (st)
            return st;
    }
    return SIM_OK;
}

/* A later release may publish a primary need sendsim does not know (DfE counts Down syndrome
 * under OTH in 2024/25 and may split it out): its plans are in no need. Say so. */
static void note_unknown_needs(imp *s, const table *t)
{
    size_t n = 0;

    for (size_t c = 0; c < table_cols(t); c++) {
        const char *h = table_header(t, c);
        int known = strncmp(h, "number_", 7) != 0;
        for (int k = 0; k < SIM_N_NEEDS && !known; k++)
            known = ci_equal(h, NEED_COLS[k]);
        if (!known)
            sb_printf(&s->rep, "%s'%s'", n++ ? ", " : "  WARNING: sen_needs_all_plans.csv has "
                      "need columns sendsim does not know: ", h);
    }
    if (n)
        sb_printf(&s->rep, ". Their plans are in no need: the need margins are reconciled to "
                  "the totals without them (the mismatches below); map the column%s to a need "
                  "in import.c's NEED_COLS.\n", n > 1 ? "s" : "");
}

static sim_status read_needs(imp *s)
{
    table *t = NULL;
    id_cols ic;
    int c_need[SIM_N_NEEDS], c_total;
    sim_status st;

    if ((st = load(s, s->opt->sen2_dir, "sen_needs_all_plans.csv", &t)))
        return st;
    if ((st = get_id_cols(t, 1, &ic, s->err)))
        goto out;
    c_total = table_col(t, "ehc_plans");   /* optional: only fills suppressed age totals */
    for (int n = 0; n < SIM_N_NEEDS; n++)
        if ((st = need_col(t, NEED_COLS[n], &c_need[n], s->err)))
            goto out;
    note_unknown_needs(s, t);
    for (size_t r = 0; r < table_rows(t); r++) {
        if (!row_in_area(t, r, &ic, &s->area))
            continue;
        s->rows_kept++;
        if ((st = need_row(s, t, r, &ic, c_need, c_total)))
            goto out;
    }
out:
    table_free(t);
    return st;
}

/* A flow file of the 2025 release (newplans.csv, ceased_plans.csv): totals and ages. */
static sim_status read_flow(imp *s, const char *file, const char *total_cols, int measure,
                            const char *const *all_topics, const char *const *age_topics)
{
    table *t = NULL;
    id_cols ic;
    int c_total, year, from, to, known;
    double v;
    sim_status st;

    if ((st = load(s, s->opt->sen2_dir, file, &t)))
        return st;
    if ((st = get_id_cols(t, 1, &ic, s->err)) || (st = need_col(t, total_cols, &c_total, s->err)))
        goto out;
    for (size_t r = 0; r < table_rows(t); r++) {
        const char *topic, *brk;
        if (!row_in_area(t, r, &ic, &s->area))
            continue;
        s->rows_kept++;
        topic = table_cell(t, r, (size_t)ic.topic);
        brk = table_cell(t, r, (size_t)ic.brk);
        if (topic_in(topic, all_topics))
            from = 0, to = SIM_MAX_AGE;
        else if (!topic_in(topic, age_topics) || !parse_age_label(brk, &from, &to))
            continue;    /* other breakdowns, and "Age unknown" (it is in the total) */
        if ((st = row_year(t, r, &ic, &year, s->err)) ||
            (st = get_count(s, t, r, c_total, &v, &known)))
            goto out;
        if (known && to <= SIM_MAX_AGE && from <= to &&
            (st = hist_add(s, t, r, year, from, to, measure, v, 2025)))
            goto out;
    }
out:
    table_free(t);
    return st;
}

/* ---- the 2022 release ---------------------------------------------------------------- */

static sim_status read_2022_age(imp *s, const char *file, const char *count_col, int measure)
{
    table *t = NULL;
    id_cols ic;
    int c_age, c_count, year, from, to, known;
    double v;
    sim_status st;

    if ((st = load(s, s->opt->sen2_2022_dir, file, &t)))
        return st;
    if ((st = get_id_cols(t, 0, &ic, s->err)) ||
        (st = need_col(t, "characteristic_age", &c_age, s->err)) ||
        (st = need_col(t, count_col, &c_count, s->err)))
        goto out;
    for (size_t r = 0; r < table_rows(t); r++) {
        const char *lab;
        if (!row_in_area(t, r, &ic, &s->area))
            continue;
        s->rows_kept++;
        lab = table_cell(t, r, (size_t)c_age);
        if (!parse_age_label(lab, &from, &to) || to > SIM_MAX_AGE) {
            st = table_cell_error(t, r, (size_t)c_age, s->err, "'%s' is not an age band", lab);
            goto out;
        }
        if ((st = row_year(t, r, &ic, &year, s->err)) ||
            (st = get_count(s, t, r, c_count, &v, &known)))
            goto out;
        if (known && (st = hist_add(s, t, r, year, from, to, measure, v, 2022)))
            goto out;
    }
out:
    table_free(t);
    return st;
}

/* Plans discontinued (ceased) in 2014-2021: statements (Dis*) plus EHC plans (Dis*EHC), every
 * reason. `z` (not applicable: no statements after 2018, no EHC plans before 2014) adds
 * nothing; any other marker leaves the year's total unknown. */
static sim_status read_2022_ceased(imp *s)
{
    static const char *const DIS[] = { "Dislea", "Dismet", "Disoth", "Disleft", "DisleaEHC",
                                       "DismetEHC", "DisothEHC", "DisleftEHC" };
    enum { N_DIS = sizeof DIS / sizeof DIS[0] };
    table *t = NULL;
    id_cols ic;
    int c[N_DIS], year, known;
    sim_status st;

    if ((st = load(s, s->opt->sen2_2022_dir, "sen2_mi.csv", &t)))
        return st;
    if ((st = get_id_cols(t, 0, &ic, s->err)))
        goto out;
    for (size_t k = 0; k < N_DIS; k++)
        if ((st = need_col(t, DIS[k], &c[k], s->err)))
            goto out;
    for (size_t r = 0; r < table_rows(t); r++) {
        double sum = 0.0, v;
        int all = 1, any = 0;
        if (!row_in_area(t, r, &ic, &s->area))
            continue;
        s->rows_kept++;
        if ((st = row_year(t, r, &ic, &year, s->err)))
            goto out;
        for (size_t k = 0; k < N_DIS; k++) {
            if (strcmp(table_cell(t, r, (size_t)c[k]), "z") == 0)
                continue;
            if ((st = get_count(s, t, r, c[k], &v, &known)))
                goto out;
            all &= known;
            any |= known;
            sum += known ? v : 0.0;
        }
        if (all && any && (st = hist_add(s, t, r, year, 0, SIM_MAX_AGE, M_CEASED, sum, 2022)))
            goto out;
    }
out:
    table_free(t);
    return st;
}

/* ---- population ---------------------------------------------------------------------- */

/* The ONS wide layout's year columns, in sequence from the first: their indexes year_col[],
 * count *n and first year *first. */
static sim_status population_years(const table *t, int *year_col, int *n, int *first,
                                   sim_error *err)
{
    *n = 0;
    for (size_t c = 0; c < table_cols(t); c++) {
        const char *h = table_header(t, c);
        char *end;
        long y = strtol(h, &end, 10);
        if (strlen(h) != 4 || *end != '\0' || y < FIRST_YEAR || y >= FIRST_YEAR + N_YEARS)
            continue;
        if (*n == 0)
            *first = (int)y;
        if (y != *first + *n)
            return sim_error_set(err, SIM_EDATA, table_name(t), 1, h,
                                 "year column '%s' is out of sequence (expected %d)", h,
                                 *first + *n);
        year_col[(*n)++] = (int)c;
    }
    if (*n == 0)
        return sim_error_set(err, SIM_EDATA, table_name(t), 1, "2022",
                             "no year columns (expected the ONS wide layout: ..., AGE_GROUP, "
                             "2022, 2023, ...)");
    return SIM_OK;
}

/* Columns of the population file that read_population() filters on. */
typedef struct pop_cols { int code, name, age, sex, comp; } pop_cols;

/* The single age 0-25 of row r when it is the area's persons population row, else -1. */
static long population_age(const imp *s, const table *t, const pop_cols *c, size_t r)
{
    const char *code = table_cell(t, r, (size_t)c->code), *age_s = table_cell(t, r, (size_t)c->age);
    char *end;
    long age = strtol(age_s, &end, 10);

    if (s->area.national ? !ci_equal(table_cell(t, r, (size_t)c->name), "England") &&
                               strcmp(code, "E92000001") != 0
                         : strcmp(code, s->area.new_code) != 0)
        return -1;
    if (!ci_equal(table_cell(t, r, (size_t)c->sex), "persons") &&
        !ci_equal(table_cell(t, r, (size_t)c->sex), "all"))
        return -1;
    if (c->comp >= 0 && !ci_equal(table_cell(t, r, (size_t)c->comp), "Population"))
        return -1;
    if (*age_s == '\0' || *end != '\0' || age < 0 || age > SIM_MAX_AGE)
        return -1;     /* other ages, 90+, All ages */
    return age;
}

/* Store the population of every year column of row r at `age`. */
static sim_status population_row(imp *s, const table *t, size_t r, long age,
                                 const int *year_col)
{
    for (int y = 0; y < s->n_pop_years; y++) {
        double v;
        int known;
        sim_status st = table_number(t, r, (size_t)year_col[y], &v, &known, s->err);
        if (st)
            return st;
        if (!known || v < 0.0)
            return table_cell_error(t, r, (size_t)year_col[y], s->err,
                                    "population must be a published number >= 0");
        s->pop[(size_t)y * SIM_N_AGES + (size_t)age] = v;
    }
    return SIM_OK;
}

static sim_status read_population(imp *s)
{
    table *t = NULL;
    pop_cols c;
    int year_col[N_YEARS], n_years = 0, first = 0;
    size_t kept = 0;
    sim_status st;

    if ((st = table_load(s->opt->population, &t, s->err)))
        return st;
    s->files_read++;
    s->rows_read += table_rows(t);
    sb_printf(&s->rep, "  read %s: %zu rows\n", s->opt->population, table_rows(t));
    if ((st = need_col(t, "AREA_CODE", &c.code, s->err)) ||
        (st = need_col(t, "AREA_NAME", &c.name, s->err)) ||
        (st = need_col(t, "AGE_GROUP", &c.age, s->err)) ||
        (st = need_col(t, "SEX", &c.sex, s->err)) ||
        (st = population_years(t, year_col, &n_years, &first, s->err)))
        goto out;
    c.comp = table_col(t, "COMPONENT");
    s->pop = xcalloc((size_t)n_years * SIM_N_AGES, sizeof *s->pop);
    for (size_t k = 0; k < (size_t)n_years * SIM_N_AGES; k++)
        s->pop[k] = -1.0;
    s->pop_first = first;
    s->n_pop_years = n_years;
    for (size_t r = 0; r < table_rows(t); r++) {
        long age = population_age(s, t, &c, r);
        if (age >= 0 && (st = population_row(s, t, r, age, year_col)))
            goto out;
        kept += age >= 0;
    }
    for (size_t k = 0; k < (size_t)n_years * SIM_N_AGES; k++)
        if (s->pop[k] < 0.0) {
            st = sim_error_set(s->err, SIM_EDATA, table_name(t), 0, "AGE_GROUP",
                               "no persons row for %s (%s) at age %zu (expected single ages "
                               "0-25 for the area)", s->area.name, s->area.new_code,
                               k % SIM_N_AGES);
            goto out;
        }
    sb_printf(&s->rep, "  population: %zu rows for %s, mid-%d to mid-%d\n", kept,
              s->area.new_code, first, first + n_years - 1);
out:
    table_free(t);
    return st;
}

/* ---- the base year and the reconstruction --------------------------------------------- */

static sim_status choose_base_year(imp *s)
{
    s->base_year = 0;
    for (int y = N_YEARS - 1; y >= 0 && !s->base_year; y--)
        if (s->yc[y].has_age_detail && s->yc[y].total.known)
            s->base_year = FIRST_YEAR + y;
    if (!s->base_year)
        return sim_error_set(s->err, SIM_EDATA, s->opt->sen2_dir, 0, NULL,
                             "caseload.csv publishes no year with plans by age and type of "
                             "placement for %s (expected breakdown 'Child or young persons age')",
                             s->area.name);
    sb_printf(&s->rep, "Base year: %d (January), the latest year caseload.csv publishes by "
              "age and type of placement for %s.\n", s->base_year, s->area.name);
    for (int y = s->base_year + 1; y < FIRST_YEAR + N_YEARS; y++)
        if (s->yc[y - FIRST_YEAR].total.seen)
            sb_printf(&s->rep, "  %d is later but publishes the total only (%s).\n", y,
                      s->yc[y - FIRST_YEAR].total.known ? "no age x placement detail"
                                                        : "suppressed");
    for (int y = s->base_year - 1; y >= FIRST_YEAR; y--)
        if (s->yc[y - FIRST_YEAR].has_age_rows && !s->yc[y - FIRST_YEAR].has_age_detail &&
            s->yc[y - FIRST_YEAR].total.known)
            sb_printf(&s->rep, "  %d/%02d (%d) is total-only (%.0f plans): every age and "
                      "placement figure is suppressed.\n", y - 1, y % 100, y,
                      s->yc[y - FIRST_YEAR].total.v);
    return SIM_OK;
}

/* The need data for the base year, or the latest year that has any (reported). */
static const year_need *need_year(imp *s)
{
    if (s->yn[s->base_year - FIRST_YEAR].has_any)
        return &s->yn[s->base_year - FIRST_YEAR];
    for (int y = N_YEARS - 1; y >= 0; y--)
        if (s->yn[y].has_any) {
            sb_printf(&s->rep, "  sen_needs_all_plans.csv has no %d rows; the need margins "
                      "of %d are scaled to the base year.\n", s->base_year, FIRST_YEAR + y);
            return &s->yn[y];
        }
    sb_printf(&s->rep, "  sen_needs_all_plans.csv has no rows for %s: every plan is need UNK.\n",
              s->area.name);
    return NULL;
}

/* Margins for the fit, made consistent with the age x setting table (reported). */
typedef struct margins {
    double ac[N_AGE * SIM_N_SETTINGS], ab[N_AGE * SIM_N_NEEDS], bc[SIM_N_NEEDS * SIM_N_SETTINGS];
    double a_total[N_AGE], b_total[SIM_N_NEEDS];
    long   ac_int[N_AGE * SIM_N_SETTINGS], b_int[SIM_N_NEEDS];
    unsigned char filled[N_AGE];        /* the age's total is suppressed: fill_ages() set it */
    long   total;
} margins;

static void mismatch(imp *s, const char *what, double published, double used)
{
    s->mismatches++;
    sb_printf(&s->rep, "  margin mismatch: %s: published %.0f, reconciled to %.0f (%+.0f)\n",
              what, published, used, used - published);
}

/* Age x setting targets: every known cell; an age row whose known settings fall short of
 * its total puts the rest in UNK when nothing else in the row is unknown. */
static void build_ac(imp *s, const year_case *y, margins *m)
{
    for (int a = 0; a < N_AGE; a++) {
        double known = 0.0;
        int n_unknown = 0;
        m->a_total[a] = y->age_total[a].known ? y->age_total[a].v : NAN;
        for (int c = 0; c < SIM_N_SETTINGS; c++) {
            const cell *x = &y->as[a][c];
            int k = x->seen ? x->known : 1;    /* no row at all: none published, so 0 */
            m->ac[a * SIM_N_SETTINGS + c] = k ? (x->seen ? x->v : 0.0) : NAN;
            if (k)
                known += m->ac[a * SIM_N_SETTINGS + c];
            else
                n_unknown++;
        }
        if (!y->age_total[a].seen) {
            m->a_total[a] = known;             /* an absent age row: no plans of that age */
            continue;
        }
        if (isnan(m->a_total[a]))
            m->a_total[a] = n_unknown ? NAN : known;
        if (!n_unknown && !isnan(m->a_total[a]) && fabs(known - m->a_total[a]) > 0.5) {
            char what[96], an[16];
            snprintf(what, sizeof what, "%s: placements sum to %.0f, total",
                     age_name(a, an, sizeof an), known);
            mismatch(s, what, m->a_total[a], m->a_total[a]);
            if (m->a_total[a] > known)
                m->ac[a * SIM_N_SETTINGS + SET_UNK] += m->a_total[a] - known;
            else
                m->a_total[a] = known;
        }
    }
}

/* ---- ages whose total is suppressed ----------------------------------------------------- */

/* Age a's total as sen_needs_all_plans.csv publishes it (its ehc_plans, else the sum of a
 * need row published in full), or -1. A suppressed ehc_plans says the row holds plans it does
 * not show, so its published needs are then no total. `yn`: the base year's need data or NULL. */
static long age_elsewhere(const year_need *yn, int a)
{
    double sum = 0.0;

    if (yn == NULL || (yn->age_total[a].seen && !yn->age_total[a].known))
        return -1;
    if (yn->age_total[a].known)
        return lround(yn->age_total[a].v);
    for (int n = 0; n < SIM_N_NEEDS; n++) {
        if (!yn->na[a][n].seen || !yn->na[a][n].known)
            return -1;
        sum += yn->na[a][n].v;
    }
    return lround(sum);
}

/* The plans of age a that published cells already place: its known settings, or its known
 * needs, whichever says more. */
static long age_floor(const margins *m, const year_need *yn, int a)
{
    double by_set = 0.0, by_need = 0.0;

    for (int c = 0; c < SIM_N_SETTINGS; c++)
        by_set += isnan(m->ac[a * SIM_N_SETTINGS + c]) ? 0.0 : m->ac[a * SIM_N_SETTINGS + c];
    for (int n = 0; yn && n < SIM_N_NEEDS; n++)
        by_need += yn->na[a][n].known ? yn->na[a][n].v : 0.0;
    return lround(fmax(by_set, by_need));
}

/* Weights w[N_AGE] from the totals `c` for the ages in want[]: 1 when every one of them is
 * published (an absent row is 0 plans) and they are not all 0. */
static int profile_from(const cell *c, const int *want, double *w)
{
    double sum = 0.0;

    for (int a = 0; a < N_AGE; a++) {
        w[a] = 0.0;
        if (!want[a])
            continue;
        if (c[a].seen && !c[a].known)
            return 0;                    /* suppressed there too */
        w[a] = c[a].known ? c[a].v : 0.0;
        sum += w[a];
    }
    return sum > 0.0;
}

/* The best age profile at hand for the ages in want[]: the area's own totals in the latest
 * earlier January that publishes them all, else England's in the base year, else even.
 * Fills w[N_AGE]; returns what it used, for the report (in buf). */
static const char *age_profile(const imp *s, const int *want, double *w, char *buf, size_t n)
{
    for (int y = s->base_year - 1; y >= FIRST_YEAR; y--) {
        const year_case *yc = &s->yc[y - FIRST_YEAR];
        if (yc->has_age_rows && profile_from(yc->age_total, want, w)) {
            snprintf(buf, n, "as %s's ages were in January %d", s->area.name, y);
            return buf;
        }
    }
    if (profile_from(s->yc[s->base_year - FIRST_YEAR].nat_age, want, w)) {
        snprintf(buf, n, "as England's ages are in January %d", s->base_year);
        return buf;
    }
    for (int a = 0; a < N_AGE; a++)
        w[a] = want[a] ? 1.0 : 0.0;
    return "evenly, as no age profile is published";
}

/* One report line per filled age. */
static void report_filled(imp *s, const margins *m, const long *give, const long *floor_,
                          const long *elsewhere, long rest, const char *profile)
{
    char an[16];

    for (int a = 0; a < N_AGE; a++) {
        if (!isnan(m->a_total[a]))
            continue;
        s->ages_filled++;
        if (elsewhere[a] >= 0 && give[a] == elsewhere[a])
            sb_printf(&s->rep, "    %s: %ld, its total in sen_needs_all_plans.csv\n",
                      age_name(a, an, sizeof an), give[a]);
        else if (elsewhere[a] >= 0)
            sb_printf(&s->rep, "    %s: %ld (sen_needs_all_plans.csv says %ld; %ld in its "
                      "published cells; reconciled with the total)\n",
                      age_name(a, an, sizeof an), give[a], elsewhere[a], floor_[a]);
        else
            sb_printf(&s->rep, "    %s: %ld (%ld in its published cells, plus a share of the "
                      "%ld plans the total leaves, spread %s)\n", age_name(a, an, sizeof an),
                      give[a], floor_[a], rest, profile);
    }
}

/* give[N_AGE] scaled down to add up to `total`, in whole plans. */
static void scale_ages(long *give, long total)
{
    double v[N_AGE];

    for (int a = 0; a < N_AGE; a++)
        v[a] = (double)give[a];
    ipf_round_vector(v, N_AGE, total, give);
}

/* Totals for the ages whose total caseload.csv suppresses, so that they are never 0 by
 * default: the age's total in sen_needs_all_plans.csv when published; otherwise what its own
 * published cells hold plus a share, by the best age profile at hand, of what the total
 * leaves after every other age. The total stays first: the ages add up to it whenever DfE's
 * figures allow. `yn` is the base year's need data or NULL. Reported. */
static void fill_ages(imp *s, const year_need *yn, margins *m)
{
    long give[N_AGE] = { 0 }, floor_[N_AGE] = { 0 }, elsewhere[N_AGE], spread[N_AGE];
    long left = m->total, placed = 0;
    int want[N_AGE] = { 0 }, any = 0, n_want = 0;
    double w[N_AGE];
    char buf[256];
    const char *profile = "";

    for (int a = 0; a < N_AGE; a++) {
        elsewhere[a] = -1;
        if (!isnan(m->a_total[a])) {
            left -= lround(m->a_total[a]);
            continue;
        }
        any = 1;
        elsewhere[a] = age_elsewhere(yn, a);
        floor_[a] = age_floor(m, yn, a);
        give[a] = elsewhere[a] > floor_[a] ? elsewhere[a] : floor_[a];
        want[a] = elsewhere[a] < 0;     /* published nowhere: takes a share of the rest */
        n_want += want[a];
        placed += give[a];
    }
    if (!any)
        return;
    sb_printf(&s->rep, "  age totals suppressed in caseload.csv, filled from the other margins "
              "(never 0 by default):\n");
    if (left < 0)
        left = 0;                        /* the published ages alone exceed the total */
    if (placed <= left && n_want > 0) {
        profile = age_profile(s, want, w, buf, sizeof buf);
        ipf_round_vector(w, N_AGE, left - placed, spread);
        for (int a = 0; a < N_AGE; a++)
            give[a] += want[a] ? spread[a] : 0;
    } else if (placed > left) {
        mismatch(s, "suppressed ages: figures found elsewhere vs what the total leaves",
                 (double)placed, (double)left);
        scale_ages(give, left);
    }
    report_filled(s, m, give, floor_, elsewhere, placed < left ? left - placed : 0, profile);
    for (int a = 0; a < N_AGE; a++)
        if (isnan(m->a_total[a])) {
            m->a_total[a] = (double)give[a];
            m->filled[a] = 1;
        }
}

/* One line of need margin, v[n * step] for every need, scaled to `total` when DfE's figures
 * disagree with it (and said, as `what`); a line with an unknown cell is left alone. */
static void reconcile_line(imp *s, double *v, size_t step, double total, const char *what)
{
    double sum = 0.0;
    int all = 1;

    for (int n = 0; n < SIM_N_NEEDS; n++) {
        all &= !isnan(v[(size_t)n * step]);
        sum += isnan(v[(size_t)n * step]) ? 0.0 : v[(size_t)n * step];
    }
    if (!all || isnan(total) || fabs(sum - total) <= 0.5)
        return;
    mismatch(s, what, sum, total);
    for (int n = 0; n < SIM_N_NEEDS; n++)
        v[(size_t)n * step] *= sum > 0 ? total / sum : 0.0;
}

/* Need margins: need x age rows scaled to the age totals, need x setting columns to the
 * setting totals, where DfE's disagree. */
static void reconcile_needs(imp *s, margins *m, const double *set_total)
{
    for (int a = 0; a < N_AGE; a++) {
        char what[96], an[16];
        snprintf(what, sizeof what, "need x age, %s", age_name(a, an, sizeof an));
        reconcile_line(s, m->ab + a * SIM_N_NEEDS, 1, m->a_total[a], what);
    }
    for (int c = 0; c < SIM_N_SETTINGS; c++) {
        char what[96];
        snprintf(what, sizeof what, "need x setting, setting %s", setting_code(c));
        reconcile_line(s, m->bc + c, SIM_N_SETTINGS, set_total[c], what);
    }
}

static void build_need_margins(imp *s, const year_need *yn, margins *m, const double *set_total)
{
    double need_sum = 0.0;
    int need_known = 1;

    for (int n = 0; n < SIM_N_NEEDS; n++) {
        /* an absent age row is unknown (its lump is the age total); an absent placement
         * is 0, as DfE leaves out the placements an area does not use */
        for (int a = 0; a < N_AGE; a++)
            m->ab[a * SIM_N_NEEDS + n] = yn && yn->na[a][n].seen && yn->na[a][n].known
                                         ? yn->na[a][n].v : NAN;
        for (int c = 0; c < SIM_N_SETTINGS; c++)
            m->bc[n * SIM_N_SETTINGS + c] = !yn || !yn->has_placement ? NAN
                                            : !yn->ns[n][c].seen ? 0.0
                                            : yn->ns[n][c].known ? yn->ns[n][c].v : NAN;
        m->b_total[n] = yn && yn->need_total[n].known ? yn->need_total[n].v : NAN;
        if (isnan(m->b_total[n]))
            need_known = 0;
        else
            need_sum += m->b_total[n];
    }
    if (yn == NULL) {                           /* no need data at all: all UNK */
        for (int n = 0; n < SIM_N_NEEDS; n++)
            m->b_total[n] = n == NEED_UNK ? (double)m->total : 0.0;
        return;
    }
    if (need_known && fabs(need_sum - (double)m->total) > 0.5) {
        mismatch(s, "need totals (sen_needs_all_plans.csv) vs All EHC plans", need_sum,
                 (double)m->total);
        for (int n = 0; n < SIM_N_NEEDS; n++)
            m->b_total[n] *= (double)m->total / need_sum;
    }
    reconcile_needs(s, m, set_total);
}

/* Add delta to the cells idx[0 .. n) of v: a rise shared in proportion to w, a cut in
 * proportion to what the cells hold (never below 0). Returns the part of delta applied. */
static long shift_cells(long *v, const size_t *idx, const double *w, size_t n, long delta)
{
    double cur[N_AGE * SIM_N_SETTINGS];
    long out[N_AGE * SIM_N_SETTINGS], have = 0, take;

    if (n == 0)
        return 0;
    if (delta > 0) {
        ipf_round_vector(w, n, delta, out);
        for (size_t i = 0; i < n; i++)
            v[idx[i]] += out[i];
        return delta;
    }
    for (size_t i = 0; i < n; i++) {
        cur[i] = (double)v[idx[i]];
        have += v[idx[i]];
    }
    take = -delta < have ? -delta : have;
    ipf_round_vector(cur, n, have - take, out);
    for (size_t i = 0; i < n; i++)
        v[idx[i]] = out[i];
    return -take;
}

/* Whether cell k of the age x setting table belongs to settle_total()'s pool p. */
static int in_pool(const margins *m, int p, int k)
{
    int sup = isnan(m->ac[k]);

    switch (p) {
    case 0:  return sup && m->filled[k / SIM_N_SETTINGS];
    case 1:  return sup;
    case 2:  return !sup && m->ac[k] > 0.0;
    default: return k % SIM_N_SETTINGS == SET_UNK;
    }
}

/* Bring the age x setting targets to the published total when DfE's own figures disagree
 * with it (reported). The difference goes to, or comes from, in this order: the suppressed
 * cells of ages whose total is suppressed too, then any suppressed cells (both by the fit;
 * an age total gives before a published cell does), then the published non-zero cells (in
 * proportion). A cell published as 0 stays 0; only plans that nothing else can take go to
 * UNK. */
static void settle_total(imp *s, const double *x, margins *m, long sum)
{
    size_t idx[N_AGE * SIM_N_SETTINGS];
    double w[N_AGE * SIM_N_SETTINGS];
    long delta = m->total - sum;

    mismatch(s, "age x placement cells vs All EHC plans", (double)sum, (double)m->total);
    for (int pool = 0; pool < 4 && delta != 0; pool++) {
        size_t n = 0;
        for (int k = 0; k < N_AGE * SIM_N_SETTINGS; k++) {
            if (!in_pool(m, pool, k))
                continue;
            w[n] = pool == 2 ? m->ac[k] : pool == 3 ? 1.0 : 0.0;
            for (int b = 0; pool < 2 && b < SIM_N_NEEDS; b++)
                w[n] += x[((k / SIM_N_SETTINGS) * SIM_N_NEEDS + b) * SIM_N_SETTINGS +
                          k % SIM_N_SETTINGS];
            idx[n++] = (size_t)k;
        }
        delta -= shift_cells(m->ac_int, idx, w, n, delta);
    }
}

/* Whole-number age x setting targets: published cells as they are, the unknown cells of an
 * age rounded from the fit to what the age total leaves, and, if the ages still do not add
 * up to the published total, the difference settled by settle_total() (reported). */
static void ac_targets(imp *s, const double *x, margins *m)
{
    long sum = 0;

    for (int a = 0; a < N_AGE; a++) {
        double lump_fit[SIM_N_SETTINGS], known = 0.0, left;
        long lump_int[SIM_N_SETTINGS];
        int n_unknown = 0;
        for (int c = 0; c < SIM_N_SETTINGS; c++) {
            double v = m->ac[a * SIM_N_SETTINGS + c];
            lump_fit[c] = 0.0;
            if (!isnan(v)) {
                m->ac_int[a * SIM_N_SETTINGS + c] = lround(v);
                known += v;
                continue;
            }
            n_unknown++;
            for (int n = 0; n < SIM_N_NEEDS; n++)
                lump_fit[c] += x[(a * SIM_N_NEEDS + n) * SIM_N_SETTINGS + c];
        }
        if (n_unknown == 0)
            continue;
        left = isnan(m->a_total[a]) ? 0.0 : m->a_total[a] - known;
        ipf_round_vector(lump_fit, SIM_N_SETTINGS, left > 0 ? lround(left) : 0, lump_int);
        for (int c = 0; c < SIM_N_SETTINGS; c++)
            if (isnan(m->ac[a * SIM_N_SETTINGS + c]))
                m->ac_int[a * SIM_N_SETTINGS + c] = lump_int[c];
    }
    for (int k = 0; k < N_AGE * SIM_N_SETTINGS; k++)
        sum += m->ac_int[k];
    if (sum != m->total)
        settle_total(s, x, m, sum);
}

/* Whole-number need totals summing to the total: the published ones (already scaled to the
 * total if they disagreed), and what they leave shared among unknown needs by the fit. */
static void need_targets(const double *x, margins *m)
{
    double known[SIM_N_NEEDS], fitted[SIM_N_NEEDS], ksum = 0.0;
    long kint[SIM_N_NEEDS], rest[SIM_N_NEEDS], kept;

    for (int n = 0; n < SIM_N_NEEDS; n++) {
        fitted[n] = 0.0;
        for (int k = 0; k < N_AGE * SIM_N_SETTINGS; k++)
            fitted[n] += x[((k / SIM_N_SETTINGS) * SIM_N_NEEDS + n) * SIM_N_SETTINGS +
                           k % SIM_N_SETTINGS];
        known[n] = isnan(m->b_total[n]) ? 0.0 : m->b_total[n];
        ksum += known[n];
        if (!isnan(m->b_total[n]))
            fitted[n] = 0.0;      /* only unknown needs share the rest */
    }
    kept = lround(ksum) < m->total ? lround(ksum) : m->total;
    ipf_round_vector(known, SIM_N_NEEDS, kept, kint);
    ipf_round_vector(fitted, SIM_N_NEEDS, m->total - kept, rest);
    for (int n = 0; n < SIM_N_NEEDS; n++)
        m->b_int[n] = kint[n] + rest[n];
}

/* The age x need x setting table by single age from the rounded cube, whose first age band
 * is `under 3`: spread evenly over ages 0-2, remainders to the oldest first. */
static long *spread_under_3(const long *cube)
{
    long *t = xcalloc(SIM_N_AGES * SIM_N_NEEDS * SIM_N_SETTINGS, sizeof *t);

    for (int a = 0; a < N_AGE; a++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int c = 0; c < SIM_N_SETTINGS; c++) {
                long v = cube[(a * SIM_N_NEEDS + n) * SIM_N_SETTINGS + c];
                if (a == 0)
                    for (int age = 0; age < 3; age++)
                        t[(age * SIM_N_NEEDS + n) * SIM_N_SETTINGS + c] =
                            v / 3 + (age >= 3 - v % 3);
                else
                    t[((a + 2) * SIM_N_NEEDS + n) * SIM_N_SETTINGS + c] = v;
            }
    return t;
}

static sim_status reconstruct(imp *s)
{
    const year_case *y = &s->yc[s->base_year - FIRST_YEAR];
    const year_need *yn;
    margins *m = xcalloc(1, sizeof *m);
    double set_total[SIM_N_SETTINGS], *x = xmalloc(N_AGE * SIM_N_NEEDS * SIM_N_SETTINGS * sizeof *x);
    long *cube = xmalloc(N_AGE * SIM_N_NEEDS * SIM_N_SETTINGS * sizeof *cube);
    ipf_problem p;
    sim_status st;

    sb_printf(&s->rep, "Reconstruction of %d by age x need x setting:\n", s->base_year);
    m->total = lround(y->total.v);
    build_ac(s, y, m);
    yn = need_year(s);
    fill_ages(s, yn == &s->yn[s->base_year - FIRST_YEAR] ? yn : NULL, m);
    for (int c = 0; c < SIM_N_SETTINGS; c++) {
        set_total[c] = 0.0;
        for (int a = 0; a < N_AGE; a++)
            set_total[c] += m->ac[a * SIM_N_SETTINGS + c];   /* NAN if any cell unknown */
    }
    build_need_margins(s, yn, m, set_total);
    p = (ipf_problem){ N_AGE, SIM_N_NEEDS, SIM_N_SETTINGS, m->ab, m->ac, m->bc, m->a_total,
                       m->b_total };
    if ((st = ipf_fit(&p, IPF_MAX_SWEEPS, IPF_TOLERANCE, x, &s->fit, s->err)))
        goto out;
    ac_targets(s, x, m);
    need_targets(x, m);
    if ((st = ipf_round(&p, x, m->ac_int, m->b_int, cube, &s->round, s->err)))
        goto out;
    s->table = spread_under_3(cube);
    sb_printf(&s->rep, "  IPF: %zu sweeps, largest margin residual %.3g plans (%s)\n",
              s->fit.iterations, s->fit.max_residual,
              s->fit.converged ? "converged to 0.001 plans"
                               : "stopped at the sweep limit: the margins admit no exact fit");
    sb_printf(&s->rep, "  controlled rounding: the total and every age x setting cell exact, "
              "need totals exact; need x age and need x setting (as reconciled): %zu cells off, "
              "largest deviation %ld, sum of deviations %ld (%zu improving moves)\n",
              s->round.n_dev, s->round.max_dev, s->round.sum_abs_dev, s->round.swaps);
    sb_printf(&s->rep, "  `under 3` is spread evenly over ages 0-2, remainders to the older "
              "ages first.\n");
out:
    free(m);
    free(x);
    free(cube);
    return st;
}

/* ---- writing ------------------------------------------------------------------------- */

static int hist_cmp(const void *va, const void *vb)
{
    const hist_entry *a = va, *b = vb;

    if (a->measure != b->measure) return a->measure - b->measure;
    if (a->year != b->year) return a->year - b->year;
    if (a->from != b->from) return a->from - b->from;
    return a->to - b->to;
}

static void write_caseload(imp *s, FILE *fp, size_t *rows)
{
    fprintf(fp, "age,need,setting,count\n");
    for (int a = 0; a < SIM_N_AGES; a++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int c = 0; c < SIM_N_SETTINGS; c++) {
                long v = s->table[(a * SIM_N_NEEDS + n) * SIM_N_SETTINGS + c];
                if (v > 0) {
                    fprintf(fp, "%d,%s,%s,%ld\n", a, need_code(n), setting_code(c), v);
                    (*rows)++;
                }
            }
}

static void write_history(imp *s, FILE *fp, size_t *rows)
{
    qsort(s->hist, s->n_hist, sizeof *s->hist, hist_cmp);
    fprintf(fp, "year,age_from,age_to,measure,count\n");
    for (size_t i = 0; i < s->n_hist; i++) {
        const hist_entry *h = &s->hist[i];
        if (h->year > s->base_year)
            continue;
        fprintf(fp, "%d,%d,%d,%s,%.0f\n", h->year, h->from, h->to, MEASURES[h->measure], h->count);
        (*rows)++;
    }
}

static void write_population(imp *s, FILE *fp, size_t *rows)
{
    fprintf(fp, "year,age,count\n");
    for (int y = 0; y < s->n_pop_years; y++)
        for (int a = 0; a < SIM_N_AGES; a++) {
            fprintf(fp, "%d,%d,%.10g\n", s->pop_first + y, a, s->pop[(size_t)y * SIM_N_AGES + (size_t)a]);
            (*rows)++;
        }
}

static int file_exists(const char *dir, const char *name)
{
    char path[1100];
    struct stat sb;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

static void write_ini(imp *s, FILE *fp)
{
    static const char *const HAND[] = { "provisions", "waves", "preferences", "costs" };

    fprintf(fp, "; Written by `sendsim import` (see import.txt) because the directory had no\n"
                "; scenario.ini. A re-import keeps this file and the hand-made files it lists.\n"
                "[scenario]\nname = %s\nla_code = %s\nbase_year = %d\n\n[data]\n"
                "caseload = caseload.csv\nhistory = history.csv\n",
            s->area.name, s->area.new_code, s->base_year);
    if (s->pop)
        fprintf(fp, "population = population.csv\n");
    for (size_t i = 0; i < sizeof HAND / sizeof HAND[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.csv", HAND[i]);
        if (file_exists(s->opt->out_dir, name))
            fprintf(fp, "%s = %s\n", HAND[i], name);
    }
}

/* An existing scenario.ini is the user's: keep it, but say if its base year disagrees. */
static void check_existing_ini(imp *s)
{
    char path[1100], line[512];
    FILE *fp;
    int in_scenario = 0, by = 0;

    snprintf(path, sizeof path, "%s/scenario.ini", s->opt->out_dir);
    if ((fp = fopen(path, "r")) == NULL)
        return;
    while (fgets(line, sizeof line, fp)) {
        char *p = line + strspn(line, " \t");
        if (*p == '[')
            in_scenario = strncmp(p, "[scenario]", 10) == 0;
        else if (in_scenario && sscanf(p, "base_year = %d", &by) == 1)
            break;
    }
    fclose(fp);
    sb_printf(&s->rep, "scenario.ini exists and was kept (import writes it only when absent)");
    if (by != s->base_year)
        sb_printf(&s->rep, "; WARNING: it says base_year = %d but this import's base year is %d: "
                  "update it", by, s->base_year);
    sb_printf(&s->rep, ".\n");
}

/* The scenario directory, with its parents, as `run --out` makes its own (outdir_make). */
static sim_status ensure_dir(imp *s)
{
    struct stat sb;

    if (stat(s->opt->out_dir, &sb) == 0)
        return S_ISDIR(sb.st_mode) ? SIM_OK
               : sim_error_set(s->err, SIM_EIO, s->opt->out_dir, 0, NULL, "is not a directory");
    return outdir_make(s->opt->out_dir, s->err);
}

/* What the file bodies below need: the import and the counts it reports. */
typedef struct out_args {
    imp           *s;
    import_report *rep;
    int            write_ini_file;
} out_args;

/* The report, last: it names the files written before it (their rows are counted by then). */
static void write_report(const out_args *a, FILE *fp)
{
    imp *s = a->s;

    sb_printf(&s->rep, "Wrote %s: caseload.csv (%zu rows), history.csv (%zu rows)",
              s->opt->out_dir, a->rep->caseload_rows, a->rep->history_rows);
    if (s->pop)
        sb_printf(&s->rep, ", population.csv (%zu rows)", a->rep->population_rows);
    sb_printf(&s->rep, "%s, import.txt\n", a->write_ini_file ? ", scenario.ini" : "");
    fputs(s->rep.s, fp);
}

/* One output file of the import: which, and what it needs. */
enum { OUT_CASELOAD, OUT_HISTORY, OUT_POPULATION, OUT_INI, OUT_REPORT };
typedef struct out_job { const out_args *a; int kind; } out_job;

static sim_status write_job(FILE *fp, const void *arg)
{
    const out_job *j = arg;
    imp *s = j->a->s;
    import_report *rep = j->a->rep;

    switch (j->kind) {
    case OUT_CASELOAD:   write_caseload(s, fp, &rep->caseload_rows); break;
    case OUT_HISTORY:    write_history(s, fp, &rep->history_rows); break;
    case OUT_POPULATION: write_population(s, fp, &rep->population_rows); break;
    case OUT_INI:        write_ini(s, fp); break;
    default:             write_report(j->a, fp); break;
    }
    return ferror(fp) ? SIM_EIO : SIM_OK;
}

static sim_status write_all(imp *s, import_report *rep)
{
    out_args a = { s, rep, 0 };
    out_job jobs[5];
    outdir_file f[5];
    size_t n = 0;
    sim_status st;

    if ((st = ensure_dir(s)))
        return st;
    a.write_ini_file = !file_exists(s->opt->out_dir, "scenario.ini");
    if (!a.write_ini_file)
        check_existing_ini(s);
    for (int k = OUT_CASELOAD; k <= OUT_REPORT; k++) {
        static const char *const NAMES[] = { "caseload.csv", "history.csv", "population.csv",
                                             "scenario.ini", "import.txt" };
        if ((k == OUT_POPULATION && !s->pop) || (k == OUT_INI && !a.write_ini_file))
            continue;
        jobs[n] = (out_job){ &a, k };
        f[n] = (outdir_file){ NAMES[k], write_job, &jobs[n] };
        n++;
    }
    return outdir_write(s->opt->out_dir, f, n, s->err);
}

/* ---- the whole import ---------------------------------------------------------------- */

static sim_status read_all(imp *s)
{
    sim_status st;

    sb_printf(&s->rep, "Files read:\n");
    if ((st = read_caseload(s)) || (st = read_needs(s)) ||
        (st = read_flow(s, "newplans.csv", "new_ehc_plans", M_NEW, NEW_ALL_TOPICS, NEW_AGE_TOPICS)) ||
        (st = read_flow(s, "ceased_plans.csv", "total_ceased", M_CEASED, CEASED_ALL_TOPICS,
                        CEASED_AGE_TOPICS)))
        return st;
    if (s->opt->sen2_2022_dir &&
        ((st = read_2022_age(s, "sen2_age_caseload.csv", "Total_all", M_CASE)) ||
         (st = read_2022_age(s, "sen2_age_new_plans.csv", "Total_new_all", M_NEW)) ||
         (st = read_2022_ceased(s))))
        return st;
    if (s->opt->population && (st = read_population(s)))
        return st;
    return SIM_OK;
}

static void report_head(imp *s)
{
    sb_printf(&s->rep, "sendsim import: %s (%s%s%s)\n", s->area.name, s->area.new_code,
              s->area.old_code[0] ? ", " : "", s->area.old_code);
    sb_printf(&s->rep, "%s", s->la_note);
}

static void report_tail(imp *s, import_report *rep)
{
    size_t n_new = 0, n_case = 0, n_ceased = 0;

    for (size_t i = 0; i < s->n_hist; i++)
        if (s->hist[i].year <= s->base_year)
            (*(s->hist[i].measure == M_CASE ? &n_case : s->hist[i].measure == M_NEW ? &n_new
                                                                                 : &n_ceased))++;
    sb_printf(&s->rep, "History (%d-%d): %zu caseload, %zu new_plans, %zu ceased figures; the "
              "2025 release wins where both releases publish a figure.\n", FIRST_HIST_YEAR,
              s->base_year, n_case, n_new, n_ceased);
    sb_printf(&s->rep, "Rows: %zu read in %zu files, %zu for %s. Suppressed cells met (left out, "
              "never 0): %zu. Age totals suppressed and filled: %zu. Margin mismatches: %zu.\n",
              s->rows_read, s->files_read, s->rows_kept, s->area.name, s->suppressed,
              s->ages_filled, s->mismatches);
    sb_printf(&s->rep, "Base-year total: %ld plans in January %d.\n", rep->total, s->base_year);
}

/* The figures of a finished import into rep, which takes the report text. */
static void fill_report(imp *s, import_report *rep)
{
    rep->suppressed = s->suppressed;
    rep->ipf_iterations = s->fit.iterations;
    rep->ipf_residual = s->fit.max_residual;
    rep->max_deviation = s->round.max_dev;
    rep->margin_mismatches = s->mismatches;
    rep->ages_filled = s->ages_filled;
    rep->text = s->rep.s;
    s->rep.s = NULL;
}

/* --la without the spaces around it into buf; an empty one is a usage error, not an
 * unknown area. */
static sim_status trim_la(const char *la, char *buf, size_t n, sim_error *err)
{
    size_t len;

    la += strspn(la, " \t\r\n");
    len = strlen(la);
    while (len > 0 && strchr(" \t\r\n", la[len - 1]))
        len--;
    if (len == 0)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "la", "--la is empty (expected an "
                             "old_la_code such as 204, a new_la_code such as E09000012, an "
                             "la_name such as Hackney, or England)");
    if (len >= n)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "la", "--la is %zu characters long "
                             "(expected a code or name of at most %zu)", len, n - 1);
    snprintf(buf, n, "%.*s", (int)len, la);
    return SIM_OK;
}

sim_status import_run(const import_options *opt, import_report *rep, sim_error *err)
{
    imp s;
    sim_status st;

    memset(rep, 0, sizeof *rep);
    memset(&s, 0, sizeof s);
    if (!opt->la || !opt->sen2_dir || !opt->out_dir)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, NULL,
                             "import needs --la, --sen2 and --out");
    if ((st = trim_la(opt->la, s.la, sizeof s.la, err)))
        return st;
    s.opt = opt;
    s.err = err;
    s.yc = xcalloc(N_YEARS, sizeof *s.yc);
    s.yn = xcalloc(N_YEARS, sizeof *s.yn);
    st = read_all(&s);
    if (st == SIM_OK) {
        char *files = s.rep.s;      /* the file list goes after the heading */
        s.rep = (sbuf){ NULL, 0, 0 };
        report_head(&s);
        sb_printf(&s.rep, "%s", files ? files : "");
        free(files);
        st = choose_base_year(&s);
    }
    if (st == SIM_OK)
        st = reconstruct(&s);
    if (st == SIM_OK) {
        snprintf(rep->area_code, sizeof rep->area_code, "%s", s.area.new_code);
        snprintf(rep->area_name, sizeof rep->area_name, "%s", s.area.name);
        rep->base_year = s.base_year;
        rep->total = lround(s.yc[s.base_year - FIRST_YEAR].total.v);
        report_tail(&s, rep);
        st = write_all(&s, rep);
    }
    if (st == SIM_OK)
        fill_report(&s, rep);
    else
        rep->caseload_rows = rep->history_rows = rep->population_rows = 0;
    free(s.rep.s);
    free(s.yc);
    free(s.yn);
    free(s.hist);
    free(s.pop);
    free(s.table);
    return st;
}

void import_report_free(import_report *rep)
{
    if (rep == NULL)
        return;
    free(rep->text);
    rep->text = NULL;
}
