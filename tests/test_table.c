/* test_table.c - the CSV table reader: layout, suppression markers, strict numbers, errors. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "table.h"

/* Parse a NUL-terminated CSV text as "t.csv"; returns the status. */
static sim_status parse(const char *text, table **t, sim_error *err)
{
    *t = NULL;
    memset(err, 0, sizeof *err);
    return table_parse("t.csv", text, strlen(text), t, err);
}

/* The formatted error ("FILE:LINE: MSG"). */
static const char *formatted(const sim_error *err)
{
    static char buf[1024];

    sim_error_format(err, buf, sizeof buf);
    return buf;
}

/* ---- layout ----------------------------------------------------------------------------- */

Test(table, finds_columns_by_header_name_and_keeps_cells_as_text)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("need,age,count\nASD,7,118\nSEMH,12,43\n", &t, &err), SIM_OK));
    cr_expect(eq(sz, table_rows(t), 2));
    cr_expect(eq(sz, table_cols(t), 3));
    cr_expect(eq(int, table_col(t, "age"), 1));
    cr_expect(eq(int, table_col(t, "count"), 2));
    cr_expect(eq(int, table_col(t, "Age"), -1));        /* exact, case-sensitive match */
    cr_expect(eq(str, (char *)table_header(t, 0), "need"));
    cr_expect(eq(str, (char *)table_cell(t, 1, 0), "SEMH"));
    cr_expect(eq(str, (char *)table_cell(t, 1, 2), "43"));
    cr_expect(eq(str, (char *)table_name(t), "t.csv"));
    cr_expect(eq(sz, table_line(t, 0), 2));
    cr_expect(eq(sz, table_line(t, 1), 3));
    table_free(t);
}

Test(table, strips_a_utf8_byte_order_mark_from_the_first_header)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("\xEF\xBB\xBF" "age,count\n4,17\n", &t, &err), SIM_OK));
    cr_expect(eq(int, table_col(t, "age"), 0));
    cr_expect(eq(str, (char *)table_header(t, 0), "age"));
    table_free(t);
}

Test(table, crlf_line_ends_give_the_same_cells_and_lines_as_lf)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("age,count\r\n4,17\r\n5,23\r\n", &t, &err), SIM_OK));
    cr_expect(eq(sz, table_rows(t), 2));
    cr_expect(eq(str, (char *)table_header(t, 1), "count"));   /* no stray '\r' */
    cr_expect(eq(str, (char *)table_cell(t, 1, 1), "23"));
    cr_expect(eq(sz, table_line(t, 1), 3));
    table_free(t);
}

Test(table, quoted_fields_keep_commas_quotes_and_newlines)
{
    table *t;
    sim_error err;
    const char *csv = "id,name\nA1,\"Oak, \"\"the\"\" ARP\"\nB2,\"two\nlines\"\nC3,x\n";

    cr_assert(eq(int, parse(csv, &t, &err), SIM_OK));
    cr_expect(eq(sz, table_rows(t), 3));
    cr_expect(eq(str, (char *)table_cell(t, 0, 1), "Oak, \"the\" ARP"));
    cr_expect(eq(str, (char *)table_cell(t, 1, 1), "two\nlines"));
    cr_expect(eq(sz, table_line(t, 1), 3));
    cr_expect(eq(sz, table_line(t, 2), 5));     /* the quoted newline counts as a line */
    table_free(t);
}

Test(table, a_row_starting_with_a_multiline_quoted_field_is_located_on_its_first_line)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("name,age\n\"x\ny\",4\nz,5\n", &t, &err), SIM_OK));
    cr_expect(eq(sz, table_line(t, 0), 2));
    cr_expect(eq(sz, table_line(t, 1), 4));
    table_free(t);
    cr_assert(eq(int, parse("name,age\n\"x\ny\",4,9\n", &t, &err), SIM_EDATA));
    cr_expect(eq(str, (char *)formatted(&err), "t.csv:2: 3 fields, expected 2 as in the header"));
}

Test(table, blank_lines_are_skipped_but_still_counted_for_line_numbers)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("\nage,count\n\n4,17\n\r\n\n5,23\n\n", &t, &err), SIM_OK));
    cr_expect(eq(sz, table_rows(t), 2));
    cr_expect(eq(sz, table_line(t, 0), 4));
    cr_expect(eq(sz, table_line(t, 1), 7));
    table_free(t);
}

Test(table, a_last_row_without_a_newline_is_read)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("age,count\n4,17\n5,23", &t, &err), SIM_OK));
    cr_expect(eq(sz, table_rows(t), 2));
    cr_expect(eq(str, (char *)table_cell(t, 1, 1), "23"));
    cr_expect(eq(sz, table_line(t, 1), 3));
    table_free(t);
}

Test(table, a_header_only_file_has_no_rows)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("age,count\n", &t, &err), SIM_OK));
    cr_expect(eq(sz, table_rows(t), 0));
    cr_expect(eq(sz, table_cols(t), 2));
    table_free(t);
}

Test(table, an_empty_unquoted_cell_reads_as_empty_text)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("a,b,c\n,\"\",x\n", &t, &err), SIM_OK));
    cr_expect(eq(str, (char *)table_cell(t, 0, 0), ""));
    cr_expect(eq(str, (char *)table_cell(t, 0, 1), ""));
    cr_expect(eq(str, (char *)table_cell(t, 0, 2), "x"));
    table_free(t);
}

/* ---- files ------------------------------------------------------------------------------ */

Test(table, load_reads_a_file_with_bom_crlf_blank_lines_and_quotes)
{
    table *t = NULL;
    sim_error err;
    double v = -1.0;
    int published = -1;

    cr_assert(eq(int, table_load("tests/data/table/bom_crlf.csv", &t, &err), SIM_OK));
    cr_expect(eq(sz, table_rows(t), 2));
    cr_expect(eq(int, table_col(t, "age"), 0));
    cr_expect(eq(str, (char *)table_cell(t, 1, 1), "SEMH"));
    cr_expect(eq(sz, table_line(t, 1), 4));
    cr_expect(eq(int, table_count(t, 0, 2, &v, &published, &err), SIM_OK));
    cr_expect(eq(dbl, v, 118.0));
    cr_expect(eq(int, table_count(t, 1, 2, &v, &published, &err), SIM_OK));
    cr_expect(eq(int, published, 0));
    cr_expect(eq(str, (char *)table_name(t), "tests/data/table/bom_crlf.csv"));
    table_free(t);
}

Test(table, load_of_a_missing_file_is_enoent_naming_the_file)
{
    table *t = NULL;
    sim_error err;

    cr_assert(eq(int, table_load("tests/data/table/no_such.csv", &t, &err), SIM_ENOENT));
    cr_expect(t == NULL);
    cr_expect(eq(str, (char *)formatted(&err),
                 "tests/data/table/no_such.csv: cannot open: No such file or directory"));
}

Test(table, load_reports_a_ragged_row_with_the_file_path_and_line)
{
    table *t = NULL;
    sim_error err;

    cr_assert(eq(int, table_load("tests/data/table/ragged.csv", &t, &err), SIM_EDATA));
    cr_expect(t == NULL);
    cr_expect(eq(str, (char *)formatted(&err),
                 "tests/data/table/ragged.csv:2: 2 fields, expected 3 as in the header"));
}

/* ---- structural errors ------------------------------------------------------------------ */

struct bad_csv { char text[80]; char msg[200]; };

ParameterizedTestParameters(table, rejects_malformed_files_with_a_located_message)
{
    static struct bad_csv cases[] = {
        { "", "t.csv: the file is empty (expected a header row)" },
        { "\xEF\xBB\xBF", "t.csv: the file is empty (expected a header row)" },
        { "\n\r\n\n", "t.csv: the file is empty (expected a header row)" },
        { "age,count\n4,17\n5\n", "t.csv:3: 1 fields, expected 2 as in the header" },
        { "age,count\n4,17,2\n", "t.csv:2: 3 fields, expected 2 as in the header" },
        { "age,,count\n", "t.csv:1: header: column 2 has no name (expected a name for every "
          "column)" },
        { "age,count,\n", "t.csv:1: header: column 3 has no name (expected a name for every "
          "column)" },
        { "age,count,age\n", "t.csv:1: header: column 'age' appears twice (columns 1 and 3)" },
        { "age,count\n4,17\n\"5,23\n\n", "t.csv:3: unterminated quoted field (expected a "
          "closing '\"')" },
        { "a,b\n1,x\"y\"\n", "t.csv:2: error parsing data while strict checking enabled "
          "(expected well-formed CSV)" },
    };
    return cr_make_param_array(struct bad_csv, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_csv *c, table, rejects_malformed_files_with_a_located_message)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse(c->text, &t, &err), SIM_EDATA));
    cr_expect(t == NULL);
    cr_expect(eq(str, (char *)formatted(&err), c->msg));
}

/* ---- header checks ---------------------------------------------------------------------- */

static const char *const COLS[] = { "age", "need", "count" };

Test(table, expect_accepts_the_exact_columns_in_any_order)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("count,age,need\n", &t, &err), SIM_OK));
    cr_expect(eq(int, table_expect(t, COLS, 3, NULL, 0, 0, &err), SIM_OK));
    table_free(t);
}

Test(table, expect_names_a_missing_column_and_lists_the_expected_ones)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("age,count\n", &t, &err), SIM_OK));
    cr_expect(eq(int, table_expect(t, COLS, 3, NULL, 0, 0, &err), SIM_EDATA));
    cr_expect(eq(str, (char *)formatted(&err),
                 "t.csv:1: header: missing column 'need' (expected columns: age,need,count)"));
    cr_expect(eq(str, err.key, "need"));
    table_free(t);
}

Test(table, expect_names_an_unknown_column_unless_extras_are_allowed)
{
    static const char *const OPT[] = { "note" };
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("age,need,count,note,extra\n", &t, &err), SIM_OK));
    cr_expect(eq(int, table_expect(t, COLS, 3, OPT, 1, 0, &err), SIM_EDATA));
    cr_expect(eq(str, (char *)formatted(&err), "t.csv:1: header: unknown column 'extra' "
                 "(expected columns: age,need,count,note)"));
    cr_expect(eq(int, table_expect(t, COLS, 3, OPT, 1, 1, &err), SIM_OK));
    table_free(t);
}

/* ---- typed getters ---------------------------------------------------------------------- */

struct cell_case { char cell[40]; int ok; double value; char msg[160]; };

/* A one-cell table "v\n<cell>\n" (the cell quoted, so spaces survive). */
static table *one_cell(const char *cell)
{
    char text[128];
    table *t;
    sim_error err;

    snprintf(text, sizeof text, "v\n\"%s\"\n", cell);
    cr_assert(eq(int, parse(text, &t, &err), SIM_OK));
    return t;
}

ParameterizedTestParameters(table, count_is_strict)
{
    static struct cell_case cases[] = {
        { "118", 1, 118.0, "" },
        { "0", 1, 0.0, "" },
        { "007", 1, 7.0, "" },
        { "12.000", 1, 12.0, "" },
        { "1000000000000000", 1, 1e15, "" },
        { "12abc", 0, 0, "t.csv:2: column 'v': '12abc' is not a whole number" },
        { "nan", 0, 0, "t.csv:2: column 'v': 'nan' is not a whole number" },
        { "inf", 0, 0, "t.csv:2: column 'v': 'inf' is not a whole number" },
        { "0x1A", 0, 0, "t.csv:2: column 'v': '0x1A' is not a whole number" },
        { "2.5", 0, 0, "t.csv:2: column 'v': '2.5' is not a whole number" },
        { "12.", 0, 0, "t.csv:2: column 'v': '12.' is not a whole number" },
        { "1e3", 0, 0, "t.csv:2: column 'v': '1e3' is not a whole number" },
        { "+4", 0, 0, "t.csv:2: column 'v': '+4' is not a whole number" },
        { " 12", 0, 0, "t.csv:2: column 'v': ' 12' is not a whole number" },
        { "-3", 0, 0, "t.csv:2: column 'v': '-3' is not a whole number (counts cannot be "
          "negative)" },
        { "", 0, 0, "t.csv:2: column 'v': empty (expected a whole number)" },
        { "2000000000000000", 0, 0, "t.csv:2: column 'v': '2000000000000000' is too large "
          "(expected at most 1e15)" },
        { "99999999999999999999", 0, 0, "t.csv:2: column 'v': '99999999999999999999' is too "
          "large (expected at most 1e15)" },
    };
    return cr_make_param_array(struct cell_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct cell_case *c, table, count_is_strict)
{
    table *t = one_cell(c->cell);
    sim_error err;
    double v = -1.0;
    int published = -1;

    if (c->ok) {
        cr_assert(eq(int, table_count(t, 0, 0, &v, &published, &err), SIM_OK));
        cr_expect(eq(dbl, v, c->value));
        cr_expect(eq(int, published, 1));
    } else {
        cr_assert(eq(int, table_count(t, 0, 0, &v, &published, &err), SIM_EDATA));
        cr_expect(eq(str, (char *)formatted(&err), c->msg));
        cr_expect(eq(str, err.key, "v"));
        cr_expect(eq(dbl, v, -1.0));    /* untouched on error */
    }
    table_free(t);
}

ParameterizedTestParameters(table, number_is_strict)
{
    static struct cell_case cases[] = {
        { "-2.385", 1, -2.385, "" },
        { "1e3", 1, 1000.0, "" },
        { "0.25", 1, 0.25, "" },
        { "+7", 1, 7.0, "" },
        { "nan", 0, 0, "t.csv:2: column 'v': 'nan' is not a number" },
        { "inf", 0, 0, "t.csv:2: column 'v': 'inf' is not a number" },
        { "-Infinity", 0, 0, "t.csv:2: column 'v': '-Infinity' is not a number" },
        { "0x10", 0, 0, "t.csv:2: column 'v': '0x10' is not a number" },
        { "1.5abc", 0, 0, "t.csv:2: column 'v': '1.5abc' is not a number" },
        { "1-2", 0, 0, "t.csv:2: column 'v': '1-2' is not a number" },
        { "e5", 0, 0, "t.csv:2: column 'v': 'e5' is not a number" },
        { "1e999", 0, 0, "t.csv:2: column 'v': '1e999' is out of range" },
        { "", 0, 0, "t.csv:2: column 'v': empty (expected a number)" },
    };
    return cr_make_param_array(struct cell_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct cell_case *c, table, number_is_strict)
{
    table *t = one_cell(c->cell);
    sim_error err;
    double v = -1.0;

    if (c->ok) {
        cr_assert(eq(int, table_number(t, 0, 0, &v, NULL, &err), SIM_OK));
        cr_expect(epsilon_eq(dbl, v, c->value, 1e-12));
    } else {
        cr_assert(eq(int, table_number(t, 0, 0, &v, NULL, &err), SIM_EDATA));
        cr_expect(eq(str, (char *)formatted(&err), c->msg));
    }
    table_free(t);
}

ParameterizedTestParameters(table, int_is_strict_and_range_checked)
{
    static struct cell_case cases[] = {
        { "2025", 1, 2025, "" },
        { "2000", 1, 2000, "" },
        { "2100", 1, 2100, "" },
        { "1999", 0, 0, "t.csv:2: column 'v': 1999 is out of range (expected 2000 to 2100)" },
        { "2101", 0, 0, "t.csv:2: column 'v': 2101 is out of range (expected 2000 to 2100)" },
        { "2025.0", 0, 0, "t.csv:2: column 'v': '2025.0' is not a whole number (expected 2000 "
          "to 2100)" },
        { "+2025", 0, 0, "t.csv:2: column 'v': '+2025' is not a whole number (expected 2000 "
          "to 2100)" },
        { "20x5", 0, 0, "t.csv:2: column 'v': '20x5' is not a whole number (expected 2000 to "
          "2100)" },
        { "c", 0, 0, "t.csv:2: column 'v': 'c' is not a whole number (expected 2000 to 2100)" },
        { "", 0, 0, "t.csv:2: column 'v': empty (expected a whole number from 2000 to 2100)" },
        { "99999999999999999999", 0, 0, "t.csv:2: column 'v': '99999999999999999999' is not a "
          "whole number (expected 2000 to 2100)" },
    };
    return cr_make_param_array(struct cell_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct cell_case *c, table, int_is_strict_and_range_checked)
{
    table *t = one_cell(c->cell);
    sim_error err;
    long v = -1;

    if (c->ok) {
        cr_assert(eq(int, table_int(t, 0, 0, 2000, 2100, &v, &err), SIM_OK));
        cr_expect(eq(long, v, (long)c->value));
    } else {
        cr_assert(eq(int, table_int(t, 0, 0, 2000, 2100, &v, &err), SIM_EDATA));
        cr_expect(eq(str, (char *)formatted(&err), c->msg));
        cr_expect(eq(long, v, -1));
    }
    table_free(t);
}

/* ---- suppression markers ---------------------------------------------------------------- */

struct marker { char s[8]; };

ParameterizedTestParameters(table, suppression_markers_are_unpublished_not_zero)
{
    static struct marker cases[] = { { "c" }, { "x" }, { "z" }, { "low" }, { "u" }, { ":" } };
    return cr_make_param_array(struct marker, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct marker *m, table, suppression_markers_are_unpublished_not_zero)
{
    table *t = one_cell(m->s);
    sim_error err;
    double v = -1.0;
    int published = -1;

    cr_expect(eq(int, table_is_suppressed(m->s), 1));
    cr_assert(eq(int, table_count(t, 0, 0, &v, &published, &err), SIM_OK));
    cr_expect(eq(int, published, 0));
    cr_expect(eq(dbl, v, 0.0));
    published = -1;
    cr_assert(eq(int, table_number(t, 0, 0, &v, &published, &err), SIM_OK));
    cr_expect(eq(int, published, 0));
    table_free(t);
}

Test(table, a_published_zero_is_distinct_from_a_suppressed_cell)
{
    table *t = one_cell("0");
    sim_error err;
    double v = -1.0;
    int published = -1;

    cr_expect(eq(int, table_is_suppressed("0"), 0));
    cr_expect(eq(int, table_is_suppressed("C"), 0));    /* markers are exact */
    cr_expect(eq(int, table_is_suppressed(""), 0));
    cr_assert(eq(int, table_count(t, 0, 0, &v, &published, &err), SIM_OK));
    cr_expect(eq(int, published, 1));
    cr_expect(eq(dbl, v, 0.0));
    table_free(t);
}

Test(table, a_suppression_marker_is_an_error_where_none_is_allowed)
{
    table *t = one_cell("low");
    sim_error err;
    double v;

    cr_assert(eq(int, table_count(t, 0, 0, &v, NULL, &err), SIM_EDATA));
    cr_expect(eq(str, (char *)formatted(&err), "t.csv:2: column 'v': 'low' is a suppression "
                 "marker (expected a whole number)"));
    cr_assert(eq(int, table_number(t, 0, 0, &v, NULL, &err), SIM_EDATA));
    cr_expect(eq(str, (char *)formatted(&err), "t.csv:2: column 'v': 'low' is a suppression "
                 "marker (expected a number)"));
    table_free(t);
}

Test(table, cell_error_names_file_line_and_column)
{
    table *t;
    sim_error err;

    cr_assert(eq(int, parse("age,count\n\n4,abc\n", &t, &err), SIM_OK));
    cr_expect(eq(int, table_cell_error(t, 0, 1, &err, "'%s' is %s", "abc", "odd"), SIM_EDATA));
    cr_expect(eq(str, (char *)formatted(&err), "t.csv:3: column 'count': 'abc' is odd"));
    cr_expect(eq(str, err.key, "count"));
    cr_expect(eq(sz, err.line, 3));
    table_free(t);
}

Test(table, free_of_null_is_a_no_op)
{
    table_free(NULL);
    cr_expect(eq(int, 1, 1));
}
