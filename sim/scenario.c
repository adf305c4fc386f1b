/* scenario.c - load and validate a scenario directory: scenario.ini (libinih) and its CSVs.
 *
 * Loading carries on after an error wherever the rest still makes sense, so that `sendsim
 * check` can list many problems at once: every error goes into the caller's sim_diag and the
 * worst status wins (I/O over missing file over bad data). Each file is read into memory once,
 * for its CRC-32 and for parsing. The INI is fed to libinih line by line through
 * ini_parse_stream(): that is how each error knows its line, since Debian's libinih is built
 * without INI_HANDLER_LINENO. This is the only file that includes <ini.h>. */
#include "scenario.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "table.h"
#include "xalloc.h"

enum { MIN_YEAR = 2000, MAX_YEAR = 2100 };

/* The [data] files, in the order they are loaded (provisions before waves). */
typedef enum role {
    R_CASELOAD, R_HISTORY, R_POPULATION, R_PROVISIONS, R_WAVES, R_PREFERENCES, R_COSTS, N_ROLES
} role;
static const char *const ROLES[N_ROLES] = {
    "caseload", "history", "population", "provisions", "waves", "preferences", "costs"
};

static const char *const SECTIONS[] = { "scenario", "data", "demand", "allocation", "costs" };
enum { N_SECTIONS = sizeof SECTIONS / sizeof SECTIONS[0] };

typedef enum key_kind { K_TEXT, K_INT, K_LONG, K_ULONG, K_REAL, K_AUTO, K_ORDER, K_PATH } key_kind;

/* One INI key: where its value goes and its allowed range (lengths for K_TEXT). */
typedef struct key_def {
    const char *section, *name;
    key_kind    kind;
    double      lo, hi;
    int         open;         /* 1 when the range excludes lo and hi */
    size_t      off;          /* offset in scenario, or the role for K_PATH */
    int         required;
} key_def;

#define AT(f) offsetof(scenario, f)
static const key_def KEYS[] = {
    { "scenario", "name", K_TEXT, 1, 127, 0, AT(name), 1 },
    { "scenario", "la_code", K_TEXT, 1, 31, 0, AT(la_code), 1 },
    { "scenario", "base_year", K_INT, MIN_YEAR, MAX_YEAR, 0, AT(base_year), 1 },
    { "scenario", "horizon", K_INT, 1, 50, 0, AT(horizon), 0 },
    { "scenario", "replications", K_LONG, 1, 1000000, 0, AT(replications), 0 },
    { "scenario", "seed", K_ULONG, 0, 4294967295.0, 0, AT(seed), 0 },
    { "data", "caseload", K_PATH, 0, 0, 0, R_CASELOAD, 1 },
    { "data", "history", K_PATH, 0, 0, 0, R_HISTORY, 1 },
    { "data", "population", K_PATH, 0, 0, 0, R_POPULATION, 0 },
    { "data", "provisions", K_PATH, 0, 0, 0, R_PROVISIONS, 0 },
    { "data", "waves", K_PATH, 0, 0, 0, R_WAVES, 0 },
    { "data", "preferences", K_PATH, 0, 0, 0, R_PREFERENCES, 0 },
    { "data", "costs", K_PATH, 0, 0, 0, R_COSTS, 0 },
    { "demand", "trend_window", K_INT, 2, 30, 0, AT(trend_window), 0 },
    { "demand", "damping", K_REAL, 0, 1, 0, AT(damping), 0 },
    { "demand", "incidence_multiplier", K_REAL, 0, 10, 0, AT(incidence_multiplier), 0 },
    { "demand", "overdispersion", K_AUTO, 0, 100, 0, AT(overdispersion), 0 },
    { "allocation", "order", K_ORDER, 0, 0, 0, AT(order), 0 },
    { "allocation", "risk_target", K_REAL, 0, 1, 1, AT(risk_target), 0 },
    { "costs", "inflation", K_REAL, -0.5, 1, 0, AT(inflation), 0 },
};
#undef AT
enum { N_KEYS = sizeof KEYS / sizeof KEYS[0] };

typedef struct load_ctx {
    scenario   *sc;
    sim_diag   *diag;
    sim_status  st;                   /* worst status so far */
    const char *ini;                  /* path of scenario.ini as given */
    char        dir[512];             /* its directory with a trailing '/', or "" */
    const char *buf;                  /* the INI text being fed to libinih; borrowed */
    size_t      len, pos;
    size_t      line;                 /* INI line most recently handed to libinih */
    size_t      key_line[N_KEYS];     /* line each key was set on; 0 when not set */
    char        path[N_ROLES][512];   /* data files as opened; "" when not given */
    char      (*bad_ids)[64];         /* ids of provisions rows already reported; owned */
    size_t      n_bad_ids;
    int         base_year_ok;
} load_ctx;

/* ---- errors ------------------------------------------------------------------------- */

static int rank(sim_status st)
{
    return st == SIM_OK ? 0 : st == SIM_EDATA ? 1 : st == SIM_ENOENT ? 2 : 3;
}

static void add_err(load_ctx *c, sim_status st, const sim_error *e)
{
    sim_diag_add(c->diag, e);
    if (rank(st) > rank(c->st))
        c->st = st;
}

/* A bad-data error about `file` at `line` (0: the whole file), with `key` ("" for none). */
static void add_data_err(load_ctx *c, const char *file, size_t line, const char *key,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_data_err(load_ctx *c, const char *file, size_t line, const char *key,
                         const char *fmt, ...)
{
    char msg[512];
    sim_error e;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sim_error_set(&e, SIM_EDATA, file, line, key, "%s", msg);
    add_err(c, SIM_EDATA, &e);
}

/* An error about one cell: "FILE:LINE: column 'NAME': MSG". */
static void cell_err(load_ctx *c, const table *t, size_t r, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void cell_err(load_ctx *c, const table *t, size_t r, int col, const char *fmt, ...)
{
    char msg[400];
    sim_error e;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    table_cell_error(t, r, (size_t)col, &e, "%s", msg);
    add_err(c, SIM_EDATA, &e);
}

/* ---- files -------------------------------------------------------------------------- */

unsigned long scenario_crc32(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t crc = 0xFFFFFFFFu;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));   /* reflected polynomial */
    }
    return (unsigned long)(crc ^ 0xFFFFFFFFu);
}

static void record_file(scenario *sc, const char *what, const char *path, const char *buf,
                        size_t len)
{
    if (sc->n_files < sizeof sc->files / sizeof sc->files[0]) {
        scenario_file *f = &sc->files[sc->n_files++];
        snprintf(f->role, sizeof f->role, "%s", what);
        snprintf(f->path, sizeof f->path, "%s", path);
        f->crc32 = scenario_crc32(buf, len);
    }
}

/* Read the whole of `path` into a new NUL-terminated buffer and record it in sc->files. */
static sim_status slurp(load_ctx *c, const char *path, const char *what, char **buf,
                        size_t *len)
{
    size_t cap = 1 << 14, n = 0, got;
    struct stat sb;
    sim_error e;
    FILE *fp;
    char *b;

    /* before fopen(): /dev/zero never ends and opening a FIFO blocks */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        sim_error_set(&e, SIM_EIO, path, 0, NULL, "the %s file is not a regular file "
                      "(expected a CSV or INI file)", what);
        add_err(c, SIM_EIO, &e);
        return SIM_EIO;
    }
    if ((fp = fopen(path, "rb")) == NULL) {
        sim_status st = errno == ENOENT ? SIM_ENOENT : SIM_EIO;
        sim_error_set(&e, st, path, 0, NULL, "cannot open the %s file: %s", what,
                      strerror(errno));
        add_err(c, st, &e);
        return st;
    }
    b = xmalloc(cap);
    while ((got = fread(b + n, 1, cap - n - 1, fp)) > 0)
        if ((n += got) == cap - 1)
            b = xrealloc(b, cap *= 2);
    if (ferror(fp)) {
        sim_error_set(&e, SIM_EIO, path, 0, NULL, "cannot read the %s file", what);
        add_err(c, SIM_EIO, &e);
        fclose(fp);
        free(b);
        return SIM_EIO;
    }
    fclose(fp);
    b[n] = '\0';
    record_file(c->sc, what, path, b, n);
    *buf = b;
    *len = n;
    return SIM_OK;
}

/* ---- scenario.ini: values ----------------------------------------------------------- */

/* A plain decimal number: no NaN, infinity, hex or trailing junk. */
static int parse_real(const char *s, double *out)
{
    char *end;

    if (s[0] == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
        return 0;
    errno = 0;
    *out = strtod(s, &end);
    return *end == '\0' && errno != ERANGE && isfinite(*out);
}

/* An optionally signed run of at most 15 digits (exact in a double). */
static int parse_whole(const char *s, double *out)
{
    const char *d = s + (s[0] == '-');
    size_t n = strspn(d, "0123456789");

    if (n == 0 || n > 15 || d[n] != '\0')
        return 0;
    *out = strtod(s, NULL);
    return 1;
}

static void key_err(load_ctx *c, const key_def *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void key_err(load_ctx *c, const key_def *k, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add_data_err(c, c->ini, c->line, k->name, "[%s] %s: %s", k->section, k->name, msg);
}

static int in_range(const key_def *k, double v)
{
    return k->open ? v > k->lo && v < k->hi : v >= k->lo && v <= k->hi;
}

static void set_number(load_ctx *c, const key_def *k, const char *value)
{
    char *dst = (char *)c->sc + k->off;
    int whole = k->kind != K_REAL && k->kind != K_AUTO;
    double v;

    if (k->kind == K_AUTO && strcmp(value, "auto") == 0) {
        *(double *)dst = -1.0;      /* "auto": fit it from the history */
        return;
    }
    if (!(whole ? parse_whole(value, &v) : parse_real(value, &v)) || !in_range(k, v)) {
        key_err(c, k, "'%s' is %s (expected %s %s %.15g %s %.15g%s)", value,
                !(whole ? parse_whole(value, &v) : parse_real(value, &v)) ? "not a number"
                : "out of range", whole ? "a whole number" : "a number",
                k->open ? "strictly between" : "from", k->lo, k->open ? "and" : "to", k->hi,
                k->kind == K_AUTO ? ", or 'auto'" : "");
        return;
    }
    if (k->kind == K_INT)
        *(int *)dst = (int)v;
    else if (k->kind == K_LONG)
        *(long *)dst = (long)v;
    else if (k->kind == K_ULONG)
        *(unsigned long *)dst = (unsigned long)v;
    else
        *(double *)dst = v;
    if (k->off == offsetof(scenario, base_year))
        c->base_year_ok = 1;
}

static void set_text(load_ctx *c, const key_def *k, const char *value)
{
    size_t n = strlen(value);

    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] < 0x20) {
            key_err(c, k, "contains a control character (expected plain text)");
            return;
        }
    if (n < (size_t)k->lo || n > (size_t)k->hi) {
        key_err(c, k, "'%s' has %zu characters (expected %g to %g)", value, n, k->lo, k->hi);
        return;
    }
    memcpy((char *)c->sc + k->off, value, n + 1);
}

/* "RP,SS,IS": group codes, each at most once. */
static void set_order(load_ctx *c, const key_def *k, const char *value)
{
    sim_group order[SIM_N_GROUPS];
    size_t n = 0;
    char item[32];
    const char *p = value;

    while (1) {
        size_t len = strcspn(p, ","), b = strspn(p, " \t"), e = len;
        int g;
        while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
            e--;
        snprintf(item, sizeof item, "%.*s", (int)(e - b), p + b);
        g = e - b < sizeof item ? group_parse(item) : -1;
        if (g < 0 || n == SIM_N_GROUPS) {
            key_err(c, k, "'%s' is not a group code (expected group codes joined by ',' "
                    "from: %s)", item, group_codes_list());
            return;
        }
        for (size_t i = 0; i < n; i++)
            if (order[i] == (sim_group)g) {
                key_err(c, k, "'%s' appears twice (expected each group at most once)", item);
                return;
            }
        order[n++] = (sim_group)g;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    memcpy(c->sc->order, order, n * sizeof order[0]);
    c->sc->n_order = n;
}

static void set_path(load_ctx *c, const key_def *k, const char *value)
{
    char *dst = c->path[k->off];
    int n;

    if (value[0] == '\0') {
        key_err(c, k, "empty (expected a file name relative to %s)", c->ini);
        return;
    }
    n = snprintf(dst, sizeof c->path[0], "%s%s", value[0] == '/' ? "" : c->dir, value);
    if (n < 0 || (size_t)n >= sizeof c->path[0]) {
        dst[0] = '\0';
        key_err(c, k, "the path is too long (expected at most %zu characters)",
                sizeof c->path[0] - 1);
    }
}

/* ---- scenario.ini: structure -------------------------------------------------------- */

static int section_index(const char *s)
{
    for (size_t i = 0; i < N_SECTIONS; i++)
        if (strcmp(s, SECTIONS[i]) == 0)
            return (int)i;
    return -1;
}

/* "a, b, c": the valid keys of `section`, or the sections when `section` is NULL. */
static void valid_names(const char *section, char *buf, size_t n)
{
    size_t used = 0, count = section ? N_KEYS : N_SECTIONS;

    buf[0] = '\0';
    for (size_t i = 0; i < count && used < n; i++) {
        if (section && strcmp(KEYS[i].section, section) != 0)
            continue;
        used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "",
                                 section ? KEYS[i].name : SECTIONS[i]);
    }
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *c = user;
    char valid[300];

    if (section[0] == '\0') {
        add_data_err(c, c->ini, c->line, name, "key '%s' comes before any section (expected "
                     "a [section] line first)", name);
        return 1;
    }
    if (section_index(section) < 0)
        return 1;                   /* the reader has reported the unknown section */
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *k = &KEYS[i];
        if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
            continue;
        if (c->key_line[i]) {
            key_err(c, k, "given twice (first on line %zu)", c->key_line[i]);
            return 1;
        }
        c->key_line[i] = c->line;
        if (k->kind == K_TEXT)
            set_text(c, k, value);
        else if (k->kind == K_ORDER)
            set_order(c, k, value);
        else if (k->kind == K_PATH)
            set_path(c, k, value);
        else
            set_number(c, k, value);
        return 1;
    }
    valid_names(section, valid, sizeof valid);
    add_data_err(c, c->ini, c->line, name, "unknown key '%s' in [%s] (expected one of: %s)",
                 name, section, valid);
    return 1;
}

/* Report a "[name]" line naming no known section, as libinih does not. */
static void check_section_line(load_ctx *c, const char *s)
{
    char name[64], valid[200];
    const char *end;

    if (c->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    s += strspn(s, " \t");
    if (*s != '[' || (end = strchr(s, ']')) == NULL)
        return;
    snprintf(name, sizeof name, "%.*s", (int)(end - s - 1), s + 1);
    if (section_index(name) >= 0)
        return;
    valid_names(NULL, valid, sizeof valid);
    add_data_err(c, c->ini, c->line, name, "unknown section [%s] (expected one of: %s)", name,
                 valid);
}

/* libinih's fgets-like reader over c->buf; counts lines and refuses over-long ones. */
static char *read_ini_line(char *str, int num, void *stream)
{
    load_ctx *c = stream;
    const char *start = c->buf + c->pos, *nl;
    size_t n;

    if (c->pos >= c->len || num < 2)
        return NULL;
    nl = memchr(start, '\n', c->len - c->pos);
    n = nl ? (size_t)(nl - start) + 1 : c->len - c->pos;
    c->pos += n;
    c->line++;
    if (n > (size_t)num - 1 || memchr(start, '\0', n) != NULL) {
        add_data_err(c, c->ini, c->line, NULL, "the line is longer than %d characters or "
                     "holds a NUL byte (expected a short 'key = value' line)", num - 2);
        strcpy(str, "\n");          /* num >= 2 */
        return str;
    }
    memcpy(str, start, n);
    str[n] = '\0';
    check_section_line(c, str);
    return str;
}

static void check_required(load_ctx *c)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (KEYS[i].required && c->key_line[i] == 0)
            add_data_err(c, c->ini, 0, KEYS[i].name, "[%s] %s is missing (expected a "
                         "value for it)", KEYS[i].section, KEYS[i].name);
}

/* Read scenario.ini; returns 0 when the file could not be read at all. */
static int read_ini(load_ctx *c)
{
    const char *slash = strrchr(c->ini, '/');
    char *buf;
    size_t len;
    int rc;

    snprintf(c->dir, sizeof c->dir, "%.*s", slash ? (int)(slash - c->ini + 1) : 0, c->ini);
    if (slurp(c, c->ini, "scenario", &buf, &len) != SIM_OK)
        return 0;
    c->buf = buf;
    c->len = len;
    rc = ini_parse_stream(read_ini_line, c, on_key, c);
    if (rc > 0)
        add_data_err(c, c->ini, (size_t)rc, NULL, "cannot parse this line (expected "
                     "'[section]', 'key = value' or a comment starting with ';' or '#')");
    else if (rc < 0)
        add_data_err(c, c->ini, 0, NULL, "libinih failed (%d)", rc);
    check_required(c);
    free(buf);
    c->buf = NULL;
    return 1;
}

/* ---- CSV cells ---------------------------------------------------------------------- */

static int get_int(load_ctx *c, const table *t, size_t r, int col, long lo, long hi, int *out)
{
    sim_error e;
    long v;
    sim_status st = table_int(t, r, (size_t)col, lo, hi, &v, &e);

    if (st != SIM_OK) {
        add_err(c, st, &e);
        return 0;
    }
    *out = (int)v;
    return 1;
}

static int get_count(load_ctx *c, const table *t, size_t r, int col, double *out)
{
    sim_error e;
    sim_status st = table_count(t, r, (size_t)col, out, NULL, &e);  /* no suppression here */

    if (st != SIM_OK)
        add_err(c, st, &e);
    return st == SIM_OK;
}

/* A number in [lo, hi]; an empty cell gives `empty` when `empty` is not NaN. */
static int get_real(load_ctx *c, const table *t, size_t r, int col, double lo, double hi,
                    double empty, double *out)
{
    sim_error e;
    sim_status st;

    if (!isnan(empty) && table_cell(t, r, (size_t)col)[0] == '\0') {
        *out = empty;
        return 1;
    }
    st = table_number(t, r, (size_t)col, out, NULL, &e);
    if (st != SIM_OK) {
        add_err(c, st, &e);
        return 0;
    }
    if (*out < lo || *out > hi) {
        cell_err(c, t, r, col, "%g is out of range (expected a number from %g to %g)", *out,
                 lo, hi);
        return 0;
    }
    return 1;
}

/* The code in a cell, or -1 after reporting it. */
static int get_code(load_ctx *c, const table *t, size_t r, int col, int (*parse)(const char *),
                    const char *(*list)(void), const char *what)
{
    const char *s = table_cell(t, r, (size_t)col);
    int v = parse(s);

    if (v < 0)
        cell_err(c, t, r, col, "'%s' is not a %s code (expected one of: %s)", s, what, list());
    return v;
}

static int get_phase(load_ctx *c, const table *t, size_t r, int col)
{
    return get_code(c, t, r, col, phase_parse, phase_codes_list, "phase");
}
static int get_need(load_ctx *c, const table *t, size_t r, int col)
{
    return get_code(c, t, r, col, need_parse, need_codes_list, "need");
}
static int get_setting(load_ctx *c, const table *t, size_t r, int col)
{
    return get_code(c, t, r, col, setting_parse, setting_codes_list, "setting");
}

/* Text of at most max - 1 characters, not empty. */
static int get_text(load_ctx *c, const table *t, size_t r, int col, char *out, size_t max)
{
    const char *s = table_cell(t, r, (size_t)col);

    if (s[0] == '\0' || strlen(s) >= max) {
        cell_err(c, t, r, col, "'%s' is empty or too long (expected 1 to %zu characters)", s,
                 max - 1);
        return 0;
    }
    memcpy(out, s, strlen(s) + 1);
    return 1;
}

/* age_from and age_to, with age_from <= age_to. */
static int get_ages(load_ctx *c, const table *t, size_t r, const int *col, int *from, int *to)
{
    if (!get_int(c, t, r, col[0], SIM_MIN_AGE, SIM_MAX_AGE, from) ||
        !get_int(c, t, r, col[1], SIM_MIN_AGE, SIM_MAX_AGE, to))
        return 0;
    if (*from > *to) {
        cell_err(c, t, r, col[1], "%d is below age_from %d (expected age_from <= age_to)", *to,
                 *from);
        return 0;
    }
    return 1;
}

/* ---- CSV files ---------------------------------------------------------------------- */

/* Read the file of `r` with exactly the columns cols[n] and store their indexes in idx[].
 * Returns NULL (after reporting) when it is missing, malformed or, if `need_rows`, empty. */
static table *load_csv(load_ctx *c, role r, const char *const *cols, size_t n, int *idx,
                       int need_rows)
{
    const char *path = c->path[r];
    table *t = NULL;
    sim_error e;
    sim_status st;
    char *buf;
    size_t len;

    if (path[0] == '\0' || slurp(c, path, ROLES[r], &buf, &len) != SIM_OK)
        return NULL;
    st = table_parse(path, buf, len, &t, &e);
    free(buf);
    if (st == SIM_OK)
        st = table_expect(t, cols, n, NULL, 0, 0, &e);
    if (st == SIM_OK && need_rows && table_rows(t) == 0)
        st = sim_error_set(&e, SIM_EDATA, path, 0, NULL, "no data rows (expected at least one "
                           "row after the header)");
    if (st != SIM_OK) {
        add_err(c, st, &e);
        table_free(t);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = table_col(t, cols[i]);
    return t;
}

static void load_caseload(load_ctx *c)
{
    static const char *const COLS[] = { "age", "need", "setting", "count" };
    enum { N_CELLS = SIM_N_AGES * SIM_N_NEEDS * SIM_N_SETTINGS };
    int col[4], age, need, set;
    table *t = load_csv(c, R_CASELOAD, COLS, 4, col, 1);
    size_t *seen, k;
    double n;

    if (t == NULL)
        return;
    seen = xcalloc(N_CELLS, sizeof *seen);
    for (size_t r = 0; r < table_rows(t); r++) {
        if (!get_int(c, t, r, col[0], SIM_MIN_AGE, SIM_MAX_AGE, &age) ||
            (need = get_need(c, t, r, col[1])) < 0 || (set = get_setting(c, t, r, col[2])) < 0
            || !get_count(c, t, r, col[3], &n))
            continue;
        k = ((size_t)age * SIM_N_NEEDS + (size_t)need) * SIM_N_SETTINGS + (size_t)set;
        if (seen[k]) {
            add_data_err(c, table_name(t), table_line(t, r), NULL, "a second row for age %d, "
                         "need %s, setting %s (first on line %zu; expected one row each)", age,
                         need_code(need), setting_code(set), seen[k]);
            continue;
        }
        seen[k] = table_line(t, r);
        c->sc->caseload[age][need][set] = n;
    }
    free(seen);
    table_free(t);
}

static int parse_measure(const char *s)
{
    static const char *const M[SIM_N_MEASURES] = { "caseload", "new_plans", "ceased" };

    for (int i = 0; i < SIM_N_MEASURES; i++)
        if (strcmp(s, M[i]) == 0)
            return i;
    return -1;
}
static const char *measure_list(void) { return "caseload,new_plans,ceased"; }

static int get_hist_row(load_ctx *c, const table *t, size_t r, const int *col, hist_row *h)
{
    int last = c->base_year_ok ? c->sc->base_year : MAX_YEAR, m;

    if (!get_int(c, t, r, col[0], MIN_YEAR, last, &h->year) ||
        !get_ages(c, t, r, col + 1, &h->age_from, &h->age_to) ||
        (m = get_code(c, t, r, col[3], parse_measure, measure_list, "measure")) < 0 ||
        !get_count(c, t, r, col[4], &h->count))
        return 0;
    h->measure = (hist_measure)m;
    return 1;
}

/* The base year must follow the history's caseloads: a base_year set later than the data
 * relabels the January caseload as a later year and leaves the years between unknown. */
static void check_history_reaches_base(load_ctx *c, const char *file)
{
    const scenario *sc = c->sc;
    int last = -1;

    for (size_t i = 0; i < sc->n_history; i++)
        if (sc->history[i].measure == MEASURE_CASELOAD && sc->history[i].year > last)
            last = sc->history[i].year;
    if (c->base_year_ok && last >= 0 && last < sc->base_year - 1)
        add_data_err(c, file, 0, "caseload", "the latest caseload is January %d, but base_year "
                     "is %d (expected the base year to be the January after the history's "
                     "last, or that January itself: caseload.csv is the base-year census)",
                     last, sc->base_year);
}

static void load_history(load_ctx *c)
{
    static const char *const COLS[] = { "year", "age_from", "age_to", "measure", "count" };
    int col[5];
    table *t = load_csv(c, R_HISTORY, COLS, 5, col, 1);
    scenario *sc = c->sc;
    size_t *line;

    if (t == NULL)
        return;
    sc->history = xcalloc(table_rows(t), sizeof *sc->history);
    line = xcalloc(table_rows(t), sizeof *line);
    for (size_t r = 0; r < table_rows(t); r++) {
        hist_row *h = &sc->history[sc->n_history];
        size_t j = 0;
        if (!get_hist_row(c, t, r, col, h))
            continue;
        while (j < sc->n_history && !(sc->history[j].year == h->year && sc->history[j].measure
               == h->measure && sc->history[j].age_from == h->age_from &&
               sc->history[j].age_to == h->age_to))
            j++;
        if (j < sc->n_history) {
            add_data_err(c, table_name(t), table_line(t, r), NULL, "a second %s row for %d, "
                         "ages %d-%d (first on line %zu; expected one row each)",
                         table_cell(t, r, (size_t)col[3]), h->year, h->age_from, h->age_to,
                         line[j]);
            continue;
        }
        line[sc->n_history++] = table_line(t, r);
    }
    check_history_reaches_base(c, table_name(t));
    free(line);
    table_free(t);
}

typedef struct pop_row { int year, age; double count; size_t line; } pop_row;

/* Every year from first to last must give every age: a gap would be an unknown read as data. */
static void check_population_grid(load_ctx *c, const char *file, const size_t *line, int first,
                                  int last)
{
    for (int y = first; y <= last; y++) {
        int missing = 0, age = -1;
        for (int a = SIM_N_AGES - 1; a >= 0; a--)
            if (line[(size_t)(y - first) * SIM_N_AGES + (size_t)a] == 0)
                missing++, age = a;
        if (missing > 0)
            add_data_err(c, file, 0, "age", "year %d has no row for age %d%s (expected ages "
                         "%d-%d for every year from %d to %d)", y, age, missing > 1 ?
                         " and other ages" : "", SIM_MIN_AGE, SIM_MAX_AGE, first, last);
    }
}

/* Put rows[n] into sc->pop, a year x age grid where -1 marks ages a year does not give. */
static void fill_population(load_ctx *c, const char *file, const pop_row *rows, size_t n,
                            int first, int last)
{
    size_t cells = (size_t)(last - first + 1) * SIM_N_AGES, *line = xcalloc(cells, sizeof *line);
    scenario *sc = c->sc;

    sc->pop = xmalloc(cells * sizeof *sc->pop);
    sc->pop_first_year = first;
    sc->pop_last_year = last;
    for (size_t i = 0; i < cells; i++)
        sc->pop[i] = -1.0;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)(rows[i].year - first) * SIM_N_AGES + (size_t)rows[i].age;
        if (line[k]) {
            add_data_err(c, file, rows[i].line, NULL, "a second row for year %d, age %d "
                         "(first on line %zu; expected one row each)", rows[i].year,
                         rows[i].age, line[k]);
            continue;
        }
        line[k] = rows[i].line;
        sc->pop[k] = rows[i].count;
    }
    check_population_grid(c, file, line, first, last);
    free(line);
}

/* ONS projections are fractional, so population counts may be too (but not negative). */
static void load_population(load_ctx *c)
{
    static const char *const COLS[] = { "year", "age", "count" };
    int col[3], first = MAX_YEAR, last = MIN_YEAR;
    table *t = load_csv(c, R_POPULATION, COLS, 3, col, 1);
    pop_row *rows;
    size_t n = 0;

    if (t == NULL)
        return;
    rows = xcalloc(table_rows(t), sizeof *rows);
    for (size_t r = 0; r < table_rows(t); r++) {
        pop_row *p = &rows[n];
        if (!get_int(c, t, r, col[0], MIN_YEAR, MAX_YEAR, &p->year) ||
            !get_int(c, t, r, col[1], SIM_MIN_AGE, SIM_MAX_AGE, &p->age) ||
            !get_real(c, t, r, col[2], 0, 1e9, NAN, &p->count))
            continue;
        p->line = table_line(t, r);
        first = p->year < first ? p->year : first;
        last = p->year > last ? p->year : last;
        n++;
    }
    if (n > 0)
        fill_population(c, table_name(t), rows, n, first, last);
    free(rows);
    table_free(t);
}

/* `*` (every need) or need codes joined by ';', each at most once, into a bit set. */
static int get_needs(load_ctx *c, const table *t, size_t r, int col, unsigned *out)
{
    const char *s = table_cell(t, r, (size_t)col), *p = s;
    unsigned bits = 0;
    char item[16];

    if (strcmp(s, "*") == 0) {
        *out = (1u << SIM_N_NEEDS) - 1u;
        return 1;
    }
    while (1) {
        size_t len = strcspn(p, ";");
        int need = -1;
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), p);
        if (len < sizeof item)
            need = need_parse(item);
        if (need < 0 || (bits & (1u << need))) {
            cell_err(c, t, r, col, "'%s': '%s' is %s (expected '*' or need codes joined by ';' "
                     "from: %s)", s, item, need < 0 ? "not a need code" : "given twice",
                     need_codes_list());
            return 0;
        }
        bits |= 1u << need;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    *out = bits;
    return 1;
}

static int get_provision(load_ctx *c, const table *t, size_t r, const int *col, provision *p)
{
    int g;
    int idx = (int)(p - c->sc->provisions);

    if (!get_text(c, t, r, col[0], p->id, sizeof p->id) ||
        !get_text(c, t, r, col[1], p->name, sizeof p->name) ||
        (g = get_code(c, t, r, col[2], group_parse, group_codes_list, "group")) < 0 ||
        !get_needs(c, t, r, col[3], &p->needs) ||
        !get_ages(c, t, r, col + 4, &p->age_from, &p->age_to) ||
        !get_count(c, t, r, col[6], &p->places) ||
        !get_real(c, t, r, col[7], 0, 1e9, -1.0, &p->annual_cost))
        return 0;
    p->group = (sim_group)g;
    for (int j = 0; j < idx; j++)
        if (strcmp(c->sc->provisions[j].id, p->id) == 0) {
            cell_err(c, t, r, col[0], "'%s' is already the id of an earlier row (expected "
                     "each id once)", p->id);
            return 0;
        }
    return 1;
}

static void load_provisions(load_ctx *c)
{
    static const char *const COLS[] = { "id", "name", "group", "needs", "age_from", "age_to",
                                        "places", "annual_cost" };
    int col[8];
    table *t = load_csv(c, R_PROVISIONS, COLS, 8, col, 0);
    scenario *sc = c->sc;

    if (t == NULL)
        return;
    sc->provisions = xcalloc(table_rows(t) + 1, sizeof *sc->provisions);
    for (size_t r = 0; r < table_rows(t); r++) {
        if (get_provision(c, t, r, col, &sc->provisions[sc->n_provisions])) {
            sc->n_provisions++;
            continue;
        }
        c->bad_ids = xrealloc(c->bad_ids, (c->n_bad_ids + 1) * sizeof *c->bad_ids);
        snprintf(c->bad_ids[c->n_bad_ids++], sizeof *c->bad_ids, "%s",
                 table_cell(t, r, (size_t)col[0]));
    }
    table_free(t);
}

static int get_wave(load_ctx *c, const table *t, size_t r, const int *col, wave *w)
{
    const char *id = table_cell(t, r, (size_t)col[1]);
    int places;

    if (!get_text(c, t, r, col[0], w->wave, sizeof w->wave))
        return 0;
    for (w->provision = 0; w->provision < c->sc->n_provisions; w->provision++)
        if (strcmp(c->sc->provisions[w->provision].id, id) == 0)
            break;
    for (size_t i = 0; w->provision == c->sc->n_provisions && i < c->n_bad_ids; i++)
        if (strcmp(c->bad_ids[i], id) == 0)
            return 0;       /* its provisions row has been reported already */
    if (w->provision == c->sc->n_provisions) {
        cell_err(c, t, r, col[1], "'%s' is not in %s (expected the id of a provision; a new "
                 "one is listed there with places 0)", id,
                 c->path[R_PROVISIONS][0] ? c->path[R_PROVISIONS] : "provisions.csv");
        return 0;
    }
    if (!get_int(c, t, r, col[2], -100000, 100000, &places) ||
        !get_int(c, t, r, col[3], MIN_YEAR, MAX_YEAR, &w->open_year) ||
        !get_real(c, t, r, col[4], 0, 1e12, 0.0, &w->capital_cost))
        return 0;
    w->places = places;
    return 1;
}

/* A row that repeats an earlier row's wave, provision and year would be summed with it
 * without a word: the mark of a row pasted twice. */
static void check_wave_repeats(load_ctx *c, const char *file, const size_t *line)
{
    const scenario *sc = c->sc;

    for (size_t j = 1; j < sc->n_waves; j++)
        for (size_t i = 0; i < j; i++) {
            const wave *a = &sc->waves[i], *b = &sc->waves[j];
            if (strcmp(a->wave, b->wave) != 0 || a->provision != b->provision ||
                a->open_year != b->open_year)
                continue;
            add_data_err(c, file, line[j], "provision_id", "wave '%s' opens provision '%s' in "
                         "%d again (line %zu has it; expected one row per wave, provision and "
                         "year: put the places in one row)", b->wave,
                         sc->provisions[b->provision].id, b->open_year, line[i]);
            break;
        }
}

/* No wave may take a provision below 0 places: check each opening in turn. */
static void check_wave_capacity(load_ctx *c, const char *file, const size_t *line)
{
    const scenario *sc = c->sc;

    for (size_t i = 0; i < sc->n_waves; i++) {
        const wave *w = &sc->waves[i];
        double cap = scenario_capacity(sc, w->provision, w->open_year + 1);
        if (w->places < 0 && cap < 0)
            add_data_err(c, file, line[i], "places", "wave '%s' leaves provision '%s' with "
                         "%g places from %d (expected places to stay at 0 or more)", w->wave,
                         sc->provisions[w->provision].id, cap, w->open_year + 1);
    }
}

static void load_waves(load_ctx *c)
{
    static const char *const COLS[] = { "wave", "provision_id", "places", "open_year",
                                        "capital_cost" };
    int col[5];
    table *t;
    scenario *sc = c->sc;
    size_t *line;

    if (c->path[R_WAVES][0] && !c->path[R_PROVISIONS][0]) {
        add_data_err(c, c->ini, 0, "waves", "[data] waves is given without provisions "
                     "(expected a provisions file listing every provision a wave names)");
        return;
    }
    if ((t = load_csv(c, R_WAVES, COLS, 5, col, 0)) == NULL)
        return;
    sc->waves = xcalloc(table_rows(t) + 1, sizeof *sc->waves);
    line = xcalloc(table_rows(t) + 1, sizeof *line);
    for (size_t r = 0; r < table_rows(t); r++)
        if (get_wave(c, t, r, col, &sc->waves[sc->n_waves]))
            line[sc->n_waves++] = table_line(t, r);
    check_wave_repeats(c, table_name(t), line);
    check_wave_capacity(c, table_name(t), line);
    free(line);
    table_free(t);
}

/* Every (phase, need) with rows must have shares summing to 1. */
static void check_preference_sums(load_ctx *c, const char *file,
                                  size_t first[SIM_N_PHASES][SIM_N_NEEDS])
{
    for (int p = 0; p < SIM_N_PHASES; p++)
        for (int n = 0; n < SIM_N_NEEDS; n++) {
            double sum = 0.0;
            if (!c->sc->pref_given[p][n])
                continue;
            for (int s = 0; s < SIM_N_SETTINGS; s++)
                sum += c->sc->pref[p][n][s];
            if (fabs(sum - 1.0) > 1e-6)
                add_data_err(c, file, first[p][n], "share", "the shares for phase %s, need %s "
                             "sum to %.9g (expected 1, within 1e-6)", phase_code(p),
                             need_code(n), sum);
        }
}

static void load_preferences(load_ctx *c)
{
    static const char *const COLS[] = { "phase", "need", "setting", "share" };
    size_t (*seen)[SIM_N_NEEDS][SIM_N_SETTINGS];
    size_t first[SIM_N_PHASES][SIM_N_NEEDS] = { { 0 } };
    int col[4], p, n, s;
    table *t = load_csv(c, R_PREFERENCES, COLS, 4, col, 0);
    scenario *sc = c->sc;
    double share;

    if (t == NULL)
        return;
    seen = xcalloc(SIM_N_PHASES, sizeof *seen);
    for (size_t r = 0; r < table_rows(t); r++) {
        if ((p = get_phase(c, t, r, col[0])) < 0 || (n = get_need(c, t, r, col[1])) < 0 ||
            (s = get_setting(c, t, r, col[2])) < 0 ||
            !get_real(c, t, r, col[3], 0, 1, NAN, &share))
            continue;
        if (seen[p][n][s]) {
            add_data_err(c, table_name(t), table_line(t, r), NULL, "a second row for phase "
                         "%s, need %s, setting %s (first on line %zu; expected one row each)",
                         phase_code(p), need_code(n), setting_code(s), seen[p][n][s]);
            continue;
        }
        seen[p][n][s] = table_line(t, r);
        if (!first[p][n])
            first[p][n] = table_line(t, r);
        sc->pref_given[p][n] = 1;
        sc->pref[p][n][s] = share;
    }
    sc->has_preferences = 1;
    check_preference_sums(c, table_name(t), first);
    free(seen);
    table_free(t);
}

/* A phase code, or `*` (returned as SIM_N_PHASES) for every phase; -1 after reporting. */
static int get_cost_phase(load_ctx *c, const table *t, size_t r, int col)
{
    const char *s = table_cell(t, r, (size_t)col);
    int p = strcmp(s, "*") == 0 ? SIM_N_PHASES : phase_parse(s);

    if (p < 0)
        cell_err(c, t, r, col, "'%s' is not a phase code (expected '*' for every phase or one "
                 "of: %s)", s, phase_codes_list());
    return p;
}

/* A row for one phase overrides a `*` row for the same setting, whatever the order. */
static void load_costs(load_ctx *c)
{
    static const char *const COLS[] = { "setting", "phase", "annual_cost" };
    size_t seen[SIM_N_SETTINGS][SIM_N_PHASES + 1] = { { 0 } };
    double star[SIM_N_SETTINGS];
    int col[3], s, p;
    table *t = load_csv(c, R_COSTS, COLS, 3, col, 0);
    double v;

    if (t == NULL)
        return;
    for (size_t r = 0; r < table_rows(t); r++) {
        if ((s = get_setting(c, t, r, col[0])) < 0 ||
            (p = get_cost_phase(c, t, r, col[1])) < 0 ||
            !get_real(c, t, r, col[2], 0, 1e9, NAN, &v))
            continue;
        if (seen[s][p]) {
            add_data_err(c, table_name(t), table_line(t, r), NULL, "a second row for setting "
                         "%s, phase %s (first on line %zu; expected one row each)",
                         setting_code(s), table_cell(t, r, (size_t)col[1]), seen[s][p]);
            continue;
        }
        seen[s][p] = table_line(t, r);
        if (p == SIM_N_PHASES)
            star[s] = v;
        else
            c->sc->cost[s][p] = v;
    }
    for (s = 0; s < SIM_N_SETTINGS; s++)
        for (p = 0; p < SIM_N_PHASES; p++)
            if (seen[s][SIM_N_PHASES] && !seen[s][p])
                c->sc->cost[s][p] = star[s];
    table_free(t);
}

/* ---- the whole scenario ------------------------------------------------------------- */

static void set_defaults(scenario *sc)
{
    static const sim_group ORDER[] = { GROUP_RP, GROUP_SS, GROUP_IS };

    sc->horizon = 15;
    sc->replications = 10000;
    sc->seed = 1;
    sc->trend_window = 8;               /* DESIGN.md said 6; the backtest favours 8 (README) */
    sc->damping = 0.9;
    sc->incidence_multiplier = 1.0;
    sc->overdispersion = -1.0;          /* auto */
    memcpy(sc->order, ORDER, sizeof ORDER);
    sc->n_order = sizeof ORDER / sizeof ORDER[0];
    sc->risk_target = 0.10;
    sc->inflation = 0.03;
    for (int s = 0; s < SIM_N_SETTINGS; s++)
        for (int p = 0; p < SIM_N_PHASES; p++)
            sc->cost[s][p] = -1.0;
}

sim_status scenario_load(const char *ini_path, scenario **out, sim_diag *diag)
{
    load_ctx c = { 0 };
    sim_diag *own = diag ? NULL : xcalloc(1, sizeof *own);

    c.sc = xcalloc(1, sizeof *c.sc);
    c.diag = diag ? diag : own;
    c.ini = ini_path;
    set_defaults(c.sc);
    if (read_ini(&c)) {
        load_caseload(&c);
        load_history(&c);
        load_population(&c);
        load_provisions(&c);
        load_waves(&c);
        load_preferences(&c);
        load_costs(&c);
    }
    free(own);
    free(c.bad_ids);
    if (c.st != SIM_OK) {
        scenario_free(c.sc);
        return c.st;
    }
    *out = c.sc;
    return SIM_OK;
}

void scenario_free(scenario *sc)
{
    if (sc == NULL)
        return;
    free(sc->history);
    free(sc->pop);
    free(sc->provisions);
    free(sc->waves);
    free(sc);
}

double scenario_population(const scenario *sc, int year, int age)
{
    int mid = year - 1;     /* pupils in January `year` were counted in mid-(year - 1) */

    if (sc->pop == NULL || age < SIM_MIN_AGE || age > SIM_MAX_AGE || mid < sc->pop_first_year
        || mid > sc->pop_last_year)
        return -1.0;
    return sc->pop[(size_t)(mid - sc->pop_first_year) * SIM_N_AGES + (size_t)age];
}

double scenario_capacity(const scenario *sc, size_t p, int year)
{
    double places = sc->provisions[p].places;

    for (size_t i = 0; i < sc->n_waves; i++)
        if (sc->waves[i].provision == p && sc->waves[i].open_year < year)
            places += sc->waves[i].places;  /* opened in September before this January */
    return places;
}

const char *scenario_history_path(const scenario *sc)
{
    for (size_t i = 0; i < sc->n_files; i++)
        if (strcmp(sc->files[i].role, "history") == 0)
            return sc->files[i].path;
    return "history.csv";
}
