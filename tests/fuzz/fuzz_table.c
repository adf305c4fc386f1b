/* fuzz_table.c - libFuzzer target: table_parse() and every typed getter on arbitrary bytes.
 *
 * Built only by `make fuzz` (clang -fsanitize=fuzzer,address,undefined); the file name does
 * not match tests/test_*.c, so the normal build never sees it. */
#include <stddef.h>
#include <stdint.h>

#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every getter on every cell, so a bad offset or parse shows up under ASan/UBSan. */
static void read_cells(const table *t)
{
    static const char *const COLS[] = { "age", "need", "setting", "count" };
    sim_error err;
    double v;
    long n;
    int published;

    (void)table_expect(t, COLS, 4, NULL, 0, 0, &err);
    (void)table_expect(t, COLS, 2, COLS + 2, 2, 1, &err);
    for (size_t r = 0; r < table_rows(t); r++) {
        (void)table_line(t, r);
        for (size_t c = 0; c < table_cols(t); c++) {
            (void)table_cell(t, r, c);
            (void)table_count(t, r, c, &v, &published, &err);
            (void)table_count(t, r, c, &v, NULL, &err);
            (void)table_number(t, r, c, &v, &published, &err);
            (void)table_int(t, r, c, 0, 25, &n, &err);
        }
    }
    for (size_t c = 0; c < table_cols(t); c++)
        (void)table_col(t, table_header(t, c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    table *t = NULL;
    sim_error err;

    if (table_parse("fuzz.csv", (const char *)data, size, &t, &err) == SIM_OK) {
        read_cells(t);
        table_free(t);
    }
    return 0;
}
