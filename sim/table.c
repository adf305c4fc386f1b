/* table.c - read a CSV file into memory with libcsv; strict typed cell getters.
 *
 * The whole file is read first and fed to libcsv one physical line at a time, so every row
 * knows the line it started on (libcsv itself counts no lines). Cells live in one text buffer
 * and are addressed by offset, which keeps a national DfE file (tens of MB) to a few large
 * allocations. Callbacks cannot stop libcsv, so the first error is kept in the context and
 * feeding stops there. */
#include "table.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct table {
    char   *name;
    size_t  n_cols;
    size_t  n_rows;
    char   *text;           /* every cell, NUL-terminated, back to back; owned */
    size_t  text_len, text_cap;
    size_t *header;         /* [n_cols] offsets into text; owned */
    size_t *cell;           /* [n_rows * n_cols] offsets into text; owned */
    size_t  cell_cap;       /* in rows */
    size_t *line;           /* [n_rows] first physical line of each row; owned */
};

typedef struct parse_ctx {
    table      *t;
    size_t     *pending;      /* offsets of the fields of the row being read; owned */
    size_t      n_pending, cap_pending;
    size_t      cur_line;     /* physical line being fed */
    size_t      row_line;     /* line on which the row being read started */
    int         row_open;     /* 1 once the row being read has begun */
    int         have_header;
    sim_status  st;
    sim_error  *err;
} parse_ctx;

static size_t text_add(table *t, const char *s, size_t len)
{
    size_t off = t->text_len;

    if (t->text_len + len + 1 > t->text_cap) {
        while (t->text_len + len + 1 > t->text_cap)
            t->text_cap = t->text_cap ? 2 * t->text_cap : 4096;
        t->text = xrealloc(t->text, t->text_cap);
    }
    memcpy(t->text + off, s, len);
    t->text[off + len] = '\0';
    t->text_len += len + 1;
    return off;
}

static void on_field(void *field, size_t len, void *data)
{
    parse_ctx *c = data;

    if (c->st != SIM_OK)
        return;
    if (!c->row_open) {             /* a row begun mid-line, after a lone CR */
        c->row_open = 1;
        c->row_line = c->cur_line;
    }
    if (c->n_pending == c->cap_pending) {
        c->cap_pending = c->cap_pending ? 2 * c->cap_pending : 64;
        c->pending = xrealloc(c->pending, c->cap_pending * sizeof *c->pending);
    }
    /* CSV_EMPTY_IS_NULL hands empty unquoted fields over as NULL */
    c->pending[c->n_pending++] = text_add(c->t, field ? field : "", field ? len : 0);
}

static void take_header(parse_ctx *c)
{
    table *t = c->t;

    t->n_cols = c->n_pending;
    t->header = xmalloc(t->n_cols * sizeof *t->header);
    memcpy(t->header, c->pending, t->n_cols * sizeof *t->header);
    for (size_t i = 0; i < t->n_cols; i++) {
        const char *name = t->text + t->header[i];
        if (name[0] == '\0') {
            c->st = sim_error_set(c->err, SIM_EDATA, t->name, c->row_line, NULL,
                                  "header: column %zu has no name (expected a name for every "
                                  "column)", i + 1);
            return;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(name, t->text + t->header[j]) == 0) {
                c->st = sim_error_set(c->err, SIM_EDATA, t->name, c->row_line, name,
                                      "header: column '%s' appears twice (columns %zu and %zu)",
                                      name, j + 1, i + 1);
                return;
            }
    }
    c->have_header = 1;
}

static void take_row(parse_ctx *c)
{
    table *t = c->t;

    if (c->n_pending != t->n_cols) {
        c->st = sim_error_set(c->err, SIM_EDATA, t->name, c->row_line, NULL,
                              "%zu fields, expected %zu as in the header", c->n_pending,
                              t->n_cols);
        return;
    }
    if (t->n_rows == t->cell_cap) {
        t->cell_cap = t->cell_cap ? 2 * t->cell_cap : 256;
        t->cell = xrealloc(t->cell, t->cell_cap * t->n_cols * sizeof *t->cell);
        t->line = xrealloc(t->line, t->cell_cap * sizeof *t->line);
    }
    memcpy(t->cell + t->n_rows * t->n_cols, c->pending, t->n_cols * sizeof *t->cell);
    t->line[t->n_rows++] = c->row_line;
}

static void on_row(int term, void *data)
{
    parse_ctx *c = data;

    (void)term;
    c->row_open = 0;
    if (c->st != SIM_OK)
        return;
    if (c->n_pending == 0)
        return;
    if (!c->have_header)
        take_header(c);
    else
        take_row(c);
    c->n_pending = 0;
    c->row_line = 0;
}

/* 1 if s[n] holds nothing but line ends (libcsv makes no row of it). */
static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* Feed `data` line by line; stops at the first error. A row starts on the first non-blank
 * line after the previous row ended, even when its first field (quoted) ends lines later. */
static void feed(struct csv_parser *p, parse_ctx *c, const char *data, size_t len)
{
    size_t pos = 0;

    c->cur_line = 1;
    while (pos < len && c->st == SIM_OK) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) + 1 : len - pos;

        if (!c->row_open && !is_blank(data + pos, n)) {
            c->row_open = 1;
            c->row_line = c->cur_line;
        }
        if (csv_parse(p, data + pos, n, on_field, on_row, c) != n) {
            c->st = sim_error_set(c->err, SIM_EDATA, c->t->name, c->cur_line, NULL,
                                  "%s (expected well-formed CSV)", csv_strerror(csv_error(p)));
            return;
        }
        pos += n;
        c->cur_line++;
    }
    if (c->st == SIM_OK && csv_fini(p, on_field, on_row, c) != 0)
        c->st = sim_error_set(c->err, SIM_EDATA, c->t->name, c->row_line, NULL,
                              "unterminated quoted field (expected a closing '\"')");
}

sim_status table_parse(const char *name, const char *data, size_t len, table **out,
                       sim_error *err)
{
    const unsigned char opts = CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL |
                               CSV_EMPTY_IS_NULL;
    struct csv_parser p;
    parse_ctx c = { 0 };
    table *t = xcalloc(1, sizeof *t);

    t->name = xstrdup(name);
    c.t = t;
    c.err = err;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;      /* DfE files start with a UTF-8 byte order mark */
        len -= 3;
    }
    if (csv_init(&p, opts) != 0)
        abort();        /* fails only on a NULL parser */
    feed(&p, &c, data, len);
    csv_free(&p);
    free(c.pending);
    if (c.st == SIM_OK && !c.have_header)
        c.st = sim_error_set(err, SIM_EDATA, name, 0, NULL,
                             "the file is empty (expected a header row)");
    if (c.st != SIM_OK) {
        table_free(t);
        return c.st;
    }
    *out = t;
    return SIM_OK;
}

/* Read the whole of `path` into a new buffer. */
static sim_status slurp(const char *path, char **buf, size_t *len, sim_error *err)
{
    FILE *fp = fopen(path, "rb");
    size_t cap = 1 << 16, n = 0, got;
    char *b;

    if (fp == NULL)
        return sim_error_set(err, errno == ENOENT ? SIM_ENOENT : SIM_EIO, path, 0, NULL,
                             "cannot open: %s", strerror(errno));
    b = xmalloc(cap);
    while ((got = fread(b + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap)
            b = xrealloc(b, cap *= 2);
    }
    if (ferror(fp)) {
        int e = errno;
        fclose(fp);
        free(b);
        return sim_error_set(err, SIM_EIO, path, 0, NULL, "cannot read: %s", strerror(e));
    }
    fclose(fp);
    *buf = b;
    *len = n;
    return SIM_OK;
}

sim_status table_load(const char *path, table **out, sim_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    sim_status st = slurp(path, &buf, &len, err);

    if (st == SIM_OK)
        st = table_parse(path, buf, len, out, err);
    free(buf);
    return st;
}

void table_free(table *t)
{
    if (t == NULL)
        return;
    free(t->name);
    free(t->text);
    free(t->header);
    free(t->cell);
    free(t->line);
    free(t);
}

size_t table_rows(const table *t) { return t->n_rows; }
size_t table_cols(const table *t) { return t->n_cols; }
const char *table_name(const table *t) { return t->name; }
const char *table_header(const table *t, size_t col) { return t->text + t->header[col]; }
size_t table_line(const table *t, size_t row) { return t->line[row]; }

const char *table_cell(const table *t, size_t row, size_t col)
{
    return t->text + t->cell[row * t->n_cols + col];
}

int table_col(const table *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(table_header(t, i), name) == 0)
            return (int)i;
    return -1;
}

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* "a,b,c" from both lists into buf[n]. */
static void join_expected(char *buf, size_t n, const char *const *a, size_t na,
                          const char *const *b, size_t nb)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < na + nb && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "," : "",
                                 i < na ? a[i] : b[i - na]);
}

sim_status table_expect(const table *t, const char *const *required, size_t n_required,
                        const char *const *optional, size_t n_optional, int allow_extra,
                        sim_error *err)
{
    char expected[400];

    join_expected(expected, sizeof expected, required, n_required, optional, n_optional);
    for (size_t i = 0; i < n_required; i++)
        if (table_col(t, required[i]) < 0)
            return sim_error_set(err, SIM_EDATA, t->name, 1, required[i],
                                 "header: missing column '%s' (expected columns: %s)",
                                 required[i], expected);
    if (allow_extra)
        return SIM_OK;
    for (size_t i = 0; i < t->n_cols; i++) {
        const char *h = table_header(t, i);
        if (!in_list(h, required, n_required) && !in_list(h, optional, n_optional))
            return sim_error_set(err, SIM_EDATA, t->name, 1, h,
                                 "header: unknown column '%s' (expected columns: %s)", h,
                                 expected);
    }
    return SIM_OK;
}

int table_is_suppressed(const char *s)
{
    static const char *const MARKERS[] = { "c", "x", "z", "low", "u", ":" };
    return in_list(s, MARKERS, sizeof MARKERS / sizeof MARKERS[0]);
}

sim_status table_cell_error(const table *t, size_t row, size_t col, sim_error *err,
                            const char *fmt, ...)
{
    char what[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sim_error_set(err, SIM_EDATA, t->name, t->line[row], table_header(t, col),
                         "column '%s': %s", table_header(t, col), what);
}

/* Common handling of empty and suppressed cells; returns 1 if the caller should parse. */
static int pre_check(const table *t, size_t row, size_t col, double *out, int *published,
                     sim_status *st, sim_error *err, const char *expected)
{
    const char *s = table_cell(t, row, col);

    *st = SIM_OK;
    if (published)
        *published = 1;
    if (s[0] == '\0') {
        *st = table_cell_error(t, row, col, err, "empty (expected %s)", expected);
        return 0;
    }
    if (table_is_suppressed(s)) {
        if (published == NULL) {
            *st = table_cell_error(t, row, col, err, "'%s' is a suppression marker (expected "
                                   "%s)", s, expected);
            return 0;
        }
        *published = 0;
        *out = 0.0;
        return 0;
    }
    return 1;
}

sim_status table_count(const table *t, size_t row, size_t col, double *out, int *published,
                       sim_error *err)
{
    const char *s = table_cell(t, row, col), *p = s;
    sim_status st;
    double v = 0.0;

    if (!pre_check(t, row, col, out, published, &st, err, "a whole number"))
        return st;
    for (; *p >= '0' && *p <= '9'; p++)
        if (v < 1e16)               /* past 1e15 it is only "too large"; keep it finite */
            v = 10.0 * v + (*p - '0');
    if (p > s && *p == '.') {               /* "12.000" is whole; "12.5" is not */
        const char *q = p + 1;
        while (*q == '0')
            q++;
        if (*q == '\0' && q > p + 1)
            p = q;
    }
    if (p == s || *p != '\0')
        return table_cell_error(t, row, col, err, "'%s' is not a whole number%s", s,
                                s[0] == '-' ? " (counts cannot be negative)" : "");
    if (v > 1e15)
        return table_cell_error(t, row, col, err, "'%s' is too large (expected at most 1e15)",
                                s);
    *out = v;
    return SIM_OK;
}

sim_status table_number(const table *t, size_t row, size_t col, double *out, int *published,
                        sim_error *err)
{
    const char *s = table_cell(t, row, col);
    sim_status st;
    char *end;
    double v;

    if (!pre_check(t, row, col, out, published, &st, err, "a number"))
        return st;
    /* strtod would also take "nan", "inf" and hex floats; allow plain decimals only */
    if (strspn(s, "0123456789+-.eE") != strlen(s))
        return table_cell_error(t, row, col, err, "'%s' is not a number", s);
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0')
        return table_cell_error(t, row, col, err, "'%s' is not a number", s);
    if (errno == ERANGE || !isfinite(v))
        return table_cell_error(t, row, col, err, "'%s' is out of range", s);
    *out = v;
    return SIM_OK;
}

sim_status table_int(const table *t, size_t row, size_t col, long lo, long hi, long *out,
                     sim_error *err)
{
    const char *s = table_cell(t, row, col);
    char *end;
    long v;

    if (s[0] == '\0')
        return table_cell_error(t, row, col, err, "empty (expected a whole number from %ld "
                                "to %ld)", lo, hi);
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end != '\0' || errno == ERANGE || strspn(s, "0123456789-") != strlen(s))
        return table_cell_error(t, row, col, err, "'%s' is not a whole number (expected %ld "
                                "to %ld)", s, lo, hi);
    if (v < lo || v > hi)
        return table_cell_error(t, row, col, err, "%ld is out of range (expected %ld to %ld)",
                                v, lo, hi);
    *out = v;
    return SIM_OK;
}
