/* test_report.c - demand.csv rows, number format, and atomic writing. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "xalloc.h"

static scenario *tiny(void)
{
    static hist_row rows[] = {
        { 2023, 0, 25, MEASURE_CASELOAD, 401 },
        { 2023, 4, 10, MEASURE_CASELOAD, 150 },     /* exactly primary */
        { 2024, 0, 4, MEASURE_CASELOAD, 60 },
        { 2024, 5, 10, MEASURE_CASELOAD, 120 },     /* 0-4 + 5-10 straddle EY/PRI */
        { 2024, 11, 15, MEASURE_CASELOAD, 130 },
        { 2024, 16, 19, MEASURE_CASELOAD, 80 },
        { 2024, 20, 25, MEASURE_CASELOAD, 27 },
        { 2024, 0, 25, MEASURE_NEW_PLANS, 99 },
    };
    scenario *sc = xcalloc(1, sizeof *sc);

    strcpy(sc->name, "tiny");
    sc->base_year = 2025;
    sc->history = rows;
    sc->n_history = sizeof rows / sizeof rows[0];
    sc->caseload[7][NEED_ASD][SET_MS] = 12;
    sc->caseload[17][NEED_SEMH][SET_FE] = 3;
    return sc;
}

static char *demand_text(const scenario *sc, const summary *s)
{
    FILE *fp = tmpfile();
    char *buf;
    long n;

    cr_assert(fp != NULL);
    cr_assert(eq(int, report_demand(fp, sc, s), SIM_OK));
    n = ftell(fp);
    rewind(fp);
    buf = xcalloc((size_t)n + 1, 1);
    cr_assert(eq(sz, fread(buf, 1, (size_t)n, fp), (size_t)n));
    fclose(fp);
    return buf;
}

Test(report, history_rows_use_only_bands_that_tile_a_phase)
{
    scenario *sc = tiny();
    summary *s = summary_alloc(sc, 1, 1, 1);
    char *t = demand_text(sc, s);

    cr_expect(strstr(t, "\n2023,ALL,ALL,ALL,401,0,401,401,401,401,401,401,401,401,401\n") != NULL);
    cr_expect(strstr(t, "\n2023,PRI,ALL,ALL,150,0,") != NULL);
    cr_expect(strstr(t, "\n2024,ALL,ALL,ALL,417,0,") != NULL);   /* 60+120+130+80+27 */
    cr_expect(strstr(t, "\n2024,SEC,ALL,ALL,130,0,") != NULL);
    cr_expect(strstr(t, "\n2024,PRI,") == NULL);
    cr_expect(strstr(t, "\n2024,P16,") == NULL);
    cr_expect(strstr(t, "\n2025,ALL,ALL,ALL,15,0,15,") != NULL);
    cr_expect(strstr(t, "\n2025,PRI,ASD,MS,12,0,") != NULL);
    cr_expect(strstr(t, "\n2025,P16,SEMH,FE,3,0,") != NULL);
    cr_expect(strstr(t, "\n2025,SEC,") == NULL);                 /* zero series are left out */
    cr_expect(strstr(t, "2025,ALL,ALL,ALL") < strstr(t, "2025,ALL,ALL,MS"));
    free(t);
    summary_free(s);
    free(sc);
}

Test(report, numbers_drop_trailing_zeros)
{
    char b[64];

    report_number(3681.0, b, sizeof b);
    cr_expect(eq(str, b, "3681"));
    report_number(12.5, b, sizeof b);
    cr_expect(eq(str, b, "12.5"));
    report_number(0.1234, b, sizeof b);
    cr_expect(eq(str, b, "0.123"));
    report_number(-0.0001, b, sizeof b);
    cr_expect(eq(str, b, "0"));
}

/* "%.3f" with trailing zeros (and a lone "-0") dropped: the definition report_number() keeps
 * while printing most figures without snprintf. */
static void by_snprintf(double v, char *buf, size_t n)
{
    char *end;

    snprintf(buf, n, "%.3f", v);
    end = buf + strlen(buf) - 1;
    while (*end == '0')
        *end-- = '\0';
    if (*end == '.')
        *end = '\0';
    if (strcmp(buf, "-0") == 0)
        strcpy(buf, "0");
}

Test(report, numbers_print_as_rounded_to_three_decimals_for_every_kind_of_value)
{
    const double special[] = { 0.0, -0.0, 1.0, -1.0, 0.05, 0.005, 0.0005, 0.0004999, 0.1, 0.7,
                               2.675, 1e15, 9e12 + 0.5, -3.25, 123456.789, 4.0035, -0.0004,
                               1.0 / 3.0, 2.0 / 3.0, 1e-9, 5e-4, 1234567.0005 };
    char got[64], want[64];
    uint64_t x = 88172645463325252ULL;

    for (size_t i = 0; i < sizeof special / sizeof *special; i++) {
        report_number(special[i], got, sizeof got);
        by_snprintf(special[i], want, sizeof want);
        cr_expect(eq(str, got, want), "%.17g", special[i]);
    }
    for (int i = 0; i < 200000; i++) {           /* counts, quantiles, spend in millions */
        double v;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v = (double)(x % 2000000) / (double)((x >> 20) % 1000 + 1);
        v = (x >> 40) & 1 ? -v : v;
        report_number(v, got, sizeof got);
        by_snprintf(v, want, sizeof want);
        if (strcmp(got, want) != 0) {
            cr_expect(eq(str, got, want), "%.17g", v);
            break;
        }
    }
}

Test(report, write_creates_both_files_and_leaves_no_temporary)
{
    char dir[] = "/tmp/sendsim-report-XXXXXX", path[256];
    scenario *sc = tiny();
    summary *s = summary_alloc(sc, 1, 1, 1);
    fit f = { 0 };
    report_run run = { "sendsim run x.ini", 7, 1, 1, 1, 0.25, NULL, 0.0, 0.0 };
    sim_error err;
    FILE *ls;
    char line[256];
    int files = 0;

    cr_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a/b", dir);
    cr_assert(eq(int, report_write(path, sc, &f, s, &run, &err), SIM_OK), "%s", err.msg);
    snprintf(line, sizeof line, "ls -A %s/a/b", dir);
    ls = popen(line, "r");
    while (fgets(line, sizeof line, ls)) {
        files++;
        cr_expect(line[0] != '.', "left behind: %s", line);
    }
    pclose(ls);
    cr_expect(eq(int, files, 2));
    summary_free(s);
    free(sc);
}

Test(report, unwritable_directory_is_an_io_error_naming_the_file)
{
    char dir[] = "/tmp/sendsim-report-XXXXXX", path[256];
    scenario *sc = tiny();
    summary *s = summary_alloc(sc, 1, 1, 1);
    fit f = { 0 };
    report_run run = { "", 1, 1, 1, 1, 0.0, NULL, 0.0, 0.0 };
    sim_error err = { 0 };

    cr_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/file", dir);
    fclose(fopen(path, "w"));                       /* a file where a directory should be */
    snprintf(path, sizeof path, "%s/file/out", dir);
    cr_expect(eq(int, report_write(path, sc, &f, s, &run, &err), SIM_EIO));
    cr_expect(strstr(err.file, "file") != NULL);
    summary_free(s);
    free(sc);
}

/* run.txt's text for `run` (malloc'd). */
static char *run_text(const report_run *run)
{
    scenario *sc = tiny();
    fit f = { 0 };
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);

    cr_assert(m != NULL);
    cr_assert(eq(int, report_run_txt(m, sc, &f, run), SIM_OK));
    fclose(m);
    free(sc);
    return buf;
}

Test(report, run_txt_states_the_work_per_replication_year_when_known)
{
    report_run run = { "sendsim run x.ini", 1, 10, 2, 5, 0.5, NULL, 1416.04, 657.66 };
    char *t = run_text(&run);

    cr_expect(strstr(t, "work: 1416.0 random draws and 657.7 occupied cells per "
                        "replication-year\n") != NULL, "%s", t);
    free(t);
    run.draws = 0.0;                    /* a caller that did not count */
    t = run_text(&run);
    cr_expect(strstr(t, "work:") == NULL, "%s", t);
    free(t);
}
