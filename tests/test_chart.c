/* test_chart.c - the briefing pack: every chart drawn and valid, absent inputs skipped, bad paths
 * and bad CSVs refused before anything is written.
 *
 * Fixtures are the synthetic Hackney-like output CSVs in tests/data/chart (made by
 * make_fixtures.py there), copied into a fresh mkdtemp() directory per test because Criterion
 * runs tests in parallel. Drawing takes about a second, so the drawing tests are few. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chart.h"

#define FIXTURES "tests/data/chart"

static const chart_meta META = {
    "Baseline estate strategy", "Hackney (E09000012)", 2025, 10000, 1, "2026-11-22", NULL,
    "DfE SEN2 2025, ONS 2022-based SNPP", 0.10, 2030, NULL, 0
};

static void fresh_dir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/sendsim-chart-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL, "mkdtemp failed");
}

static void copy_file(const char *src, const char *dir, const char *name)
{
    char path[512], buf[8192];
    size_t got;
    FILE *in = fopen(src, "rb"), *out;

    cr_assert(in != NULL, "missing fixture %s (run tests from the repo root)", src);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    out = fopen(path, "wb");
    cr_assert(out != NULL);
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        cr_assert(eq(sz, fwrite(buf, 1, got, out), got));
    fclose(in);
    cr_assert(eq(int, fclose(out), 0));
}

static void copy_fixture(const char *dir, const char *name)
{
    char src[256];

    snprintf(src, sizeof src, FIXTURES "/%s", name);
    copy_file(src, dir, name);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    cr_assert(f != NULL);
    fputs(text, f);
    cr_assert(eq(int, fclose(f), 0));
}

/* The whole file, NUL-terminated; *len its size. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[512];
    struct stat sb;
    char *buf;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert(eq(int, stat(path, &sb), 0), "%s was not written", path);
    buf = malloc((size_t)sb.st_size + 1);
    f = fopen(path, "rb");
    cr_assert(f != NULL && buf != NULL);
    *len = fread(buf, 1, (size_t)sb.st_size, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static int exists(const char *dir, const char *name)
{
    char path[512];
    struct stat sb;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

static void expect_png_and_svg(const char *dir, const char *chart)
{
    char name[128];
    size_t len;
    char *b;

    snprintf(name, sizeof name, "%s.png", chart);
    b = slurp(dir, name, &len);
    cr_expect(gt(sz, len, 10000), "%s is too small to hold a chart", name);
    cr_expect(eq(int, memcmp(b, "\x89PNG\r\n\x1a\n", 8), 0), "%s is not a PNG", name);
    free(b);
    snprintf(name, sizeof name, "%s.svg", chart);
    b = slurp(dir, name, &len);
    cr_expect(strstr(b, "<svg") != NULL, "%s is not an SVG", name);
    cr_expect(strstr(b, "</svg>") != NULL, "%s is cut short", name);
    free(b);
}

/* Pages of a PDF: "/Type /Page" objects, not the "/Type /Pages" tree. The file holds binary
 * streams, so this scans bytes rather than using strstr. */
static int pdf_pages(const char *dir)
{
    static const char KEY[] = "/Type /Page";
    size_t len, k = sizeof KEY - 1;
    char *b = slurp(dir, "briefing.pdf", &len);
    int n = 0;

    cr_expect(eq(int, memcmp(b, "%PDF-", 5), 0), "briefing.pdf is not a PDF");
    for (size_t i = 0; i + k < len; i++)
        if (memcmp(b + i, KEY, k) == 0 && b[i + k] != 's')
            n++;
    free(b);
    return n;
}

/* Entries of `dir` other than . and ..; hidden ones (our temporary names) counted apart. */
static int entries(const char *dir, int *hidden)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    *hidden = 0;
    cr_assert(d != NULL);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        *hidden += e->d_name[0] == '.';
    }
    closedir(d);
    return n;
}

static const char *const RUN_FILES[] = { "demand.csv", "shortfall.csv", "provision.csv", "cost.csv",
                                         "waves.csv", "backtest.csv" };
static const char *const CHARTS[] = { "fan_total", "demand_by_need", "capacity_RP", "capacity_SS",
                                      "shortfall_risk", "cost", "backtest" };

Test(chart, pack_draws_every_chart_as_valid_png_svg_and_a_pdf_with_a_page_each)
{
    char dir[64];
    sim_error err = { 0 };
    int hidden;

    fresh_dir(dir, sizeof dir);
    for (size_t i = 0; i < 6; i++)
        copy_fixture(dir, RUN_FILES[i]);
    cr_assert(eq(int, chart_pack(dir, &META, &err), SIM_OK), "%s", err.msg);
    for (size_t i = 0; i < 7; i++)
        expect_png_and_svg(dir, CHARTS[i]);
    cr_expect(eq(int, pdf_pages(dir), 2 + 7));        /* title, summary, one per chart */
    cr_expect(eq(int, exists(dir, "capacity_IS.png"), 0), "IS has no capacity rows: no chart");
    cr_expect(eq(int, entries(dir, &hidden), 6 + 2 * 7 + 1));
    cr_expect(eq(int, hidden, 0), "temporary files left behind");
}

Test(chart, pack_skips_charts_whose_csv_is_absent_and_needs_only_design_columns)
{
    char dir[64];
    sim_error err = { 0 };

    fresh_dir(dir, sizeof dir);
    copy_fixture(dir, "demand.csv");
    copy_file(FIXTURES "/plain/shortfall.csv", dir, "shortfall.csv");   /* no optional bands */
    cr_assert(eq(int, chart_pack(dir, NULL, &err), SIM_OK), "%s", err.msg);
    expect_png_and_svg(dir, "fan_total");
    expect_png_and_svg(dir, "capacity_SS");
    expect_png_and_svg(dir, "shortfall_risk");
    cr_expect(eq(int, exists(dir, "cost.png") + exists(dir, "cost.svg"), 0));
    cr_expect(eq(int, exists(dir, "backtest.png"), 0));
    cr_expect(eq(int, pdf_pages(dir), 2 + 5));
}

Test(chart, headline_names_the_worst_shortfall_and_the_places_that_fix_it)
{
    char buf[4096];
    sim_error err = { 0 };

    cr_assert(eq(int, chart_headlines(FIXTURES, &META, buf, sizeof buf, &err), SIM_OK), "%s",
              err.msg);
    /* 2030,SS,SEC,ASD is the highest p_shortfall of 2030 (0.86): shortfall_p50 34, places 87 */
    cr_expect(strstr(buf, "In 2030 there is an 86% chance that demand from secondary-age "
                          "children with autistic spectrum disorder (ASD) exceeds local special "
                          "school places; the median shortfall is 34 places; 87 more places open "
                          "by September 2029 would bring the risk under 10%.\n") == buf, "%s", buf);
    cr_expect(strstr(buf, "from 3,681 in January 2025 to about 7,410 in 2035") != NULL, "%s", buf);
    cr_expect(strstr(buf, "Placement spend in 2030 is projected at about £96.0m") != NULL, "%s", buf);
}

Test(chart, pack_into_a_missing_directory_is_an_io_error)
{
    char dir[64], missing[128];
    sim_error err = { 0 };
    int hidden;

    fresh_dir(dir, sizeof dir);
    snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
    cr_assert(eq(int, chart_pack(missing, &META, &err), SIM_EIO));
    cr_expect(eq(int, sim_exit_code(SIM_EIO), 74));
    cr_expect(strstr(err.msg, "No such file or directory") != NULL, "%s", err.msg);
    cr_expect(eq(str, err.file, missing));
    cr_expect(eq(int, entries(dir, &hidden), 0));
}

Test(chart, pack_into_a_path_with_a_percent_sign_is_refused_before_plplot_sees_it)
{
    char dir[64], odd[128];
    sim_error err = { 0 };
    int hidden;

    fresh_dir(dir, sizeof dir);
    snprintf(odd, sizeof odd, "%s/run%%n", dir);      /* PLplot would exit() on "%n" */
    cr_assert(eq(int, mkdir(odd, 0755), 0));
    copy_fixture(odd, "demand.csv");
    cr_assert(eq(int, chart_pack(odd, &META, &err), SIM_EIO));
    cr_expect(strstr(err.msg, "'%'") != NULL, "%s", err.msg);
    cr_expect(eq(int, entries(odd, &hidden), 1));
}

Test(chart, pack_with_a_directory_in_the_way_fails_before_drawing_and_leaves_nothing)
{
    char dir[64], blocker[128];
    sim_error err = { 0 };
    int hidden;

    fresh_dir(dir, sizeof dir);
    for (size_t i = 0; i < 6; i++)
        copy_fixture(dir, RUN_FILES[i]);
    snprintf(blocker, sizeof blocker, "%s/cost.svg", dir);
    cr_assert(eq(int, mkdir(blocker, 0755), 0));
    cr_assert(eq(int, chart_pack(dir, &META, &err), SIM_EIO));
    cr_expect(strstr(err.file, "cost.svg") != NULL, "%s", err.file);
    cr_expect(eq(int, entries(dir, &hidden), 6 + 1), "charts written despite the error");
    cr_expect(eq(int, hidden, 0), "temporary files left behind");
}

Test(chart, pack_without_demand_csv_is_missing_input)
{
    char dir[64];
    sim_error err = { 0 };

    fresh_dir(dir, sizeof dir);
    copy_fixture(dir, "cost.csv");
    cr_expect(eq(int, chart_pack(dir, &META, &err), SIM_ENOENT));
    cr_expect(strstr(err.msg, "demand.csv") != NULL, "%s", err.msg);
    cr_expect(eq(int, exists(dir, "cost.png"), 0));
}

Test(chart, unknown_device_is_an_io_error_and_the_cairo_ones_exist)
{
    sim_error err = { 0 };

    cr_expect(eq(int, chart_check_device("png", &err), SIM_EIO));   /* there is no "png" */
    cr_expect(strstr(err.msg, "plplot-driver-cairo") != NULL, "%s", err.msg);
    cr_expect(eq(int, chart_check_device("pngcairo", NULL), SIM_OK));
    cr_expect(eq(int, chart_check_device("svgcairo", NULL), SIM_OK));
    cr_expect(eq(int, chart_check_device("pdfcairo", NULL), SIM_OK));
}

Test(chart, compare_draws_png_and_svg_and_needs_compare_csv)
{
    char dir[64];
    sim_error err = { 0 };
    int hidden;

    fresh_dir(dir, sizeof dir);
    cr_expect(eq(int, chart_compare(dir, "Baseline", "Wave 3 early", &META, &err), SIM_ENOENT));
    copy_fixture(dir, "compare.csv");
    cr_assert(eq(int, chart_compare(dir, "Baseline", "Wave 3 early", &META, &err), SIM_OK), "%s",
              err.msg);
    expect_png_and_svg(dir, "compare");
    cr_expect(eq(int, entries(dir, &hidden), 3));
}

/* Each kind of bad CSV: refused with file, line and column, before anything is drawn. */
struct bad_csv {
    char   file[32];
    char   text[400];
    size_t line;
    char   key[32];
};

ParameterizedTestParameters(chart, bad_csv_is_refused_with_line_and_column)
{
    static struct bad_csv cases[] = {
        { "shortfall.csv",
          "year,group,phase,need,capacity,demand_p50,demand_p90,shortfall_mean,shortfall_p50,"
          "shortfall_p90,places_for_target\n2030,RP,ALL,ALL,280,241,295,5.6,0,15,16\n",
          1, "p_shortfall" },   /* missing column: reported on the header line */
        { "shortfall.csv",
          "year,group,phase,need,capacity,demand_p50,demand_p90,shortfall_mean,shortfall_p50,"
          "shortfall_p90,p_shortfall,places_for_target\n2030,RP,ALL,ALL,280,241,295,5.6,0,15,0.2,16\n"
          "2031,RP,ALL,ALL,280,251,305,8.1,0,25,1.7,26\n", 3, "p_shortfall" },
        { "shortfall.csv",
          "year,group,phase,need,capacity,demand_p50,demand_p90,shortfall_mean,shortfall_p50,"
          "shortfall_p90,p_shortfall,places_for_target\n2030,XX,ALL,ALL,280,241,295,5.6,0,15,0.2,16\n",
          2, "group" },
        { "cost.csv", "year,setting,mean,p025,p10,p50,p90,p975\n2030,ALL,61e6,5.5e7,abc,6e7,7e7,7.5e7\n",
          2, "p10" },
        { "waves.csv", "wave,open_year,places,shortfall_reduction_mean,latest_safe_open_year\n"
          "1,20x7,40,18.4,2026\n", 2, "open_year" },
        { "backtest.csv", "origin,horizon,year,band,actual,p025,p10,p50,p90,p975,ape,in80,in95\n"
          "2016,0,2016,ALL,2179,1946,2000,2105,2216,2277,3.39,1,1\n", 2, "horizon" },
    };
    return cr_make_param_array(struct bad_csv, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_csv *c, chart, bad_csv_is_refused_with_line_and_column)
{
    char dir[64];
    sim_error err = { 0 };
    int hidden;

    fresh_dir(dir, sizeof dir);
    copy_fixture(dir, "demand.csv");
    write_file(dir, c->file, c->text);
    cr_assert(eq(int, chart_pack(dir, &META, &err), SIM_EDATA), "%s", err.msg);
    cr_expect(strstr(err.file, c->file) != NULL, "%s", err.file);
    cr_expect(eq(sz, err.line, c->line));
    cr_expect(strstr(err.msg, c->key) != NULL, "%s", err.msg);
    cr_expect(eq(int, entries(dir, &hidden), 2), "files written despite the error");
}
