/* table.h - a CSV file read whole, with columns found by header name (the only libcsv user).
 *
 * table_load() reads a file as DfE, ONS and sendsim write them: an optional UTF-8 BOM, LF or
 * CRLF line ends, quoted fields (which may hold commas, quotes and newlines), blank lines
 * (skipped). The first row is the header; header names must be non-empty and distinct, and
 * every data row must have exactly as many fields as the header. Cells are kept as text; the
 * typed getters below parse them strictly and report errors as
 *   caseload.csv:17: column 'count': 'abc' is not a whole number
 * DfE's suppression markers (c x z low u :) are "not published": the getters say so through
 * their `published` out-parameter and never turn them into 0.
 *
 * The caller owns the table and frees it with table_free(). Strings returned by table_cell()
 * and table_header() are borrowed from the table and live as long as it does. */
#ifndef SENDSIM_TABLE_H
#define SENDSIM_TABLE_H

#include <stddef.h>
#include "status.h"

typedef struct table table;

/* Read `path`. Returns SIM_OK and a new table in *out; SIM_ENOENT if the file does not exist,
 * SIM_EIO if it cannot be read, SIM_EDATA for an empty file, a bad header, a ragged row or an
 * unterminated quote. On failure fills `err` and leaves *out untouched. */
sim_status table_load(const char *path, table **out, sim_error *err);

/* Parse a table from memory (for tests and fuzzing); `name` is used in messages. */
sim_status table_parse(const char *name, const char *data, size_t len, table **out,
                       sim_error *err);

/* Release `t`. NULL is a no-op. */
void table_free(table *t);

size_t table_rows(const table *t);          /* data rows, header excluded */
size_t table_cols(const table *t);
const char *table_name(const table *t);     /* the path given to table_load */
const char *table_header(const table *t, size_t col);

/* The physical line (1-based) on which data row `row` starts. */
size_t table_line(const table *t, size_t row);

/* The index of the column named `name` (exact match), or -1. */
int table_col(const table *t, const char *name);

/* Check the header: every name in required[] is present, and (unless `allow_extra`) no name
 * outside required[] and optional[] appears. Errors name the column and list what was
 * expected. Either list may be NULL with its count 0. */
sim_status table_expect(const table *t, const char *const *required, size_t n_required,
                        const char *const *optional, size_t n_optional, int allow_extra,
                        sim_error *err);

/* The text of a cell, "" when empty. `row` and `col` must be in range. */
const char *table_cell(const table *t, size_t row, size_t col);

/* 1 if `s` is one of DfE's markers for an unpublished value: c x z low u : */
int table_is_suppressed(const char *s);

/* Read a whole, non-negative number (a count). Suppressed cells set *published to 0 and *out
 * to 0 and succeed when `published` is not NULL; otherwise they are an error, as are empty
 * cells, trailing junk, signs, fractions and values above 1e15. */
sim_status table_count(const table *t, size_t row, size_t col, double *out, int *published,
                       sim_error *err);

/* Read a finite decimal number (no NaN, no infinity, no trailing junk). Suppression as for
 * table_count(). */
sim_status table_number(const table *t, size_t row, size_t col, double *out, int *published,
                        sim_error *err);

/* Read a whole number in [lo, hi] (years, ages). Suppressed cells are an error. */
sim_status table_int(const table *t, size_t row, size_t col, long lo, long hi, long *out,
                     sim_error *err);

/* Set `err` for a cell: "FILE:LINE: column 'NAME': MSG" and return SIM_EDATA. */
sim_status table_cell_error(const table *t, size_t row, size_t col, sim_error *err,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif /* SENDSIM_TABLE_H */
