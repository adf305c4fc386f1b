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
#include "codes.h"
#include "test_helpers.h"

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
    char path[512], *buf;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    buf = th_slurp(path, len);
    cr_assert(buf != NULL, "%s was not written", path);
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
    /* 2030,SS,SEC,ASD has the largest median shortfall of the school-phase ARP and special
     * school rows at risk in 2030 (p 0.86): shortfall_p50 34, places 87 */
    cr_expect(strstr(buf, "In 2030 there is an 86% chance that some secondary-age children with "
                          "autistic spectrum disorder (ASD) cannot get a matching local special "
                          "school place: the median shortfall is 34 places, and 87 more such "
                          "places open by September 2029 would bring the risk under 10%.\n")
              == buf, "%s", buf);
    /* wave 3 has no safe date and the file no earliest_risk column */
    cr_expect(strstr(buf, "No opening date of these estate waves keeps the risk under 10% on its "
                          "own. ARP places: even opening at once, the risk stays above 10%; more "
                          "places are needed") != NULL, "%s", buf);
    cr_expect(strstr(buf, "from 3,681 in January 2025 to about 7,410 in 2035") != NULL, "%s", buf);
    cr_expect(strstr(buf, "Placement spend in 2030 is projected at about £96.0m") != NULL, "%s", buf);
}

/* The headline is the decision: among ARP and special school rows of a school phase whose
 * risk reaches the target, the largest median shortfall, not the highest chance of any row
 * (a post-19 or independent row at 99% with a few children, or one at 95% with 3). */
Test(chart, headline_picks_the_largest_school_phase_shortfall_at_risk)
{
    char dir[64], buf[4096];
    sim_error err = { 0 };
    static const char *const SF =
        "year,group,phase,need,capacity,demand_p50,demand_p90,shortfall_mean,shortfall_p50,"
        "shortfall_p90,p_shortfall,places_for_target\n"
        "2030,SS,ALL,ALL,500,560,600,60,58,95,0.99,95\n"
        "2030,SS,P19,ASD,10,15,18,5,5,8,0.99,8\n"
        "2030,IS,SEC,ASD,100,160,180,60,60,80,0.99,80\n"
        "2030,RP,PRI,SEMH,10,12,14,3,3,5,0.95,5\n"
        "2030,SS,SEC,SLCN,40,42,60,4,2,17,0.62,17\n"
        "2030,SS,PRI,ASD,100,118,140,21,20,41,0.55,41\n"
        "2030,RP,SEC,ASD,50,60,80,30,30,48,0.08,28\n";

    fresh_dir(dir, sizeof dir);
    copy_fixture(dir, "demand.csv");
    write_file(dir, "shortfall.csv", SF);
    cr_assert(eq(int, chart_headlines(dir, &META, buf, sizeof buf, &err), SIM_OK), "%s", err.msg);
    cr_expect(strstr(buf, "In 2030 there is a 55% chance that some primary-age children with "
                          "autistic spectrum disorder (ASD) cannot get a matching local special "
                          "school place: the median shortfall is 20 places, and 41 more such "
                          "places open by September 2029") == buf, "%s", buf);
    /* nothing at risk in a school phase of ARP or SS: the others, then "within target" */
    write_file(dir, "shortfall.csv",
               "year,group,phase,need,capacity,demand_p50,demand_p90,shortfall_mean,"
               "shortfall_p50,shortfall_p90,p_shortfall,places_for_target\n"
               "2030,SS,SEC,ASD,100,80,90,0.1,0,0,0.04,0\n"
               "2030,RP,PRI,ASD,100,80,90,0.1,0,0,0.07,0\n");
    cr_assert(eq(int, chart_headlines(dir, &META, buf, sizeof buf, &err), SIM_OK), "%s", err.msg);
    cr_expect(strstr(buf, "In 2030 the chance that some primary-age children with autistic "
                          "spectrum disorder (ASD) cannot get a matching local resourced provision "
                          "(ARP) place is 7%, within the 10% target.") == buf, "%s", buf);
}

/* cost.csv's OOB rows are the out-of-borough series; IS (every independent special place,
 * in borough or not) is not. */
Test(chart, out_of_borough_spend_comes_from_the_oob_rows)
{
    char dir[64], buf[4096];
    sim_error err = { 0 };

    fresh_dir(dir, sizeof dir);
    copy_fixture(dir, "demand.csv");
    write_file(dir, "cost.csv", "year,setting,mean,p025,p10,p50,p90,p975\n"
               "2029,ALL,9e7,7e7,8e7,9e7,1e8,1.1e8\n2030,ALL,1e8,8e7,9e7,1e8,1.1e8,1.2e8\n"
               "2029,IS,2.9e7,2e7,2.5e7,2.9e7,3.5e7,4e7\n2030,IS,3e7,2e7,2.5e7,3e7,3.5e7,4e7\n"
               "2029,OOB,1.1e7,5e6,8e6,1.1e7,1.4e7,1.8e7\n"
               "2030,OOB,1.2e7,5e6,8e6,1.2e7,1.5e7,1.9e7\n");
    cr_assert(eq(int, chart_headlines(dir, &META, buf, sizeof buf, &err), SIM_OK), "%s", err.msg);
    cr_expect(strstr(buf, "Out-of-borough places (children no local place could take) cost about "
                          "£12.0m of it (median).") != NULL, "%s", buf);
    cr_assert(eq(int, chart_pack(dir, &META, &err), SIM_OK), "%s", err.msg);
    expect_png_and_svg(dir, "cost");
    /* a code that is neither a setting, ALL nor OOB is still refused */
    write_file(dir, "cost.csv", "year,setting,mean,p025,p10,p50,p90,p975\n"
               "2030,XYZ,1e8,8e7,9e7,1e8,1.1e8,1.2e8\n");
    cr_expect(eq(int, chart_headlines(dir, &META, buf, sizeof buf, &err), SIM_EDATA));
    cr_expect(strstr(err.msg, "OOB") != NULL, "%s", err.msg);
}

/* A wave that no date makes safe is explained with the risk left when it opens at once. */
Test(chart, waves_without_a_safe_date_say_what_risk_is_left)
{
    char dir[64], buf[4096];
    sim_error err = { 0 };

    fresh_dir(dir, sizeof dir);
    copy_fixture(dir, "demand.csv");
    write_file(dir, "waves.csv", "wave,open_year,places,shortfall_reduction_mean,"
               "latest_safe_open_year,group,earliest_risk,earliest_risk_year\n"
               "a,2025,93,37.3,,RP,0.774,2040\nb,2026,40,27.2,,SS,0.996,2039\n"
               "c,2026,33,8.6,,RP,0.801,2038\nd,2027,10,2.5,2028,IS,0.05,2030\n");
    cr_assert(eq(int, chart_headlines(dir, &META, buf, sizeof buf, &err), SIM_OK), "%s", err.msg);
    cr_expect(strstr(buf, "No opening date of these estate waves keeps the risk under 10% on its "
                          "own. ARP places: even opening in Sept 2025 leaves a 77% risk in 2040; "
                          "more places are needed (shortfall.csv: places_for_target). Special "
                          "school places: even opening in Sept 2025 leaves a >99% risk in 2039;")
              != NULL, "%s", buf);
    cr_expect(strstr(buf, "Independent") == NULL, "%s", buf);    /* d has a safe date */
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

Test(chart, long_titles_shrink_then_end_in_an_ellipsis_without_splitting_a_character)
{
    char out[512], want[512];
    double sz;

    sz = chart_fit_line("Hackney (E09000012): EHC plans", 60, 1.25, out, sizeof out);
    cr_expect(eq(str, out, "Hackney (E09000012): EHC plans"));
    cr_expect(eq(dbl, sz, 1.25));
    /* 75 characters in room for 60: all of them, at 60/75 of the size */
    memset(want, 'a', 75);
    want[75] = '\0';
    sz = chart_fit_line(want, 60, 1.25, out, sizeof out);
    cr_expect(eq(str, out, want));
    cr_expect(epsilon_eq(dbl, sz, 1.0, 1e-12));
    /* 200: cut at 70% of the size to 84 characters, the last of them the ellipsis; each
     * 'é' is two bytes, and none is split */
    want[0] = '\0';
    for (int i = 0; i < 100; i++)
        strcat(want, "\xc3\xa9" "b");
    sz = chart_fit_line(want, 60, 1.25, out, sizeof out);
    cr_expect(epsilon_eq(dbl, sz, 0.875, 1e-12));
    cr_assert(ge(sz, strlen(out), 3));
    cr_expect(eq(int, strcmp(out + strlen(out) - 3, "\xe2\x80\xa6"), 0), "%s", out);
    cr_expect(eq(int, strncmp(out, "\xc3\xa9" "b" "\xc3\xa9", 5), 0), "%s", out);
    {
        size_t cps = 0;
        for (const char *c = out; *c; c++)
            cps += ((unsigned char)*c & 0xC0) != 0x80;
        cr_expect(eq(sz, cps, 85), "%zu code points: %s", cps, out);
    }
}

/* chart_pack_files() names every file a run's pack can draw (what publishing a run removes
 * when the run did not draw it): each chart of the fixture's pack but the backtest's, the
 * capacity chart of every group, and the briefing. */
Test(chart, pack_files_name_every_chart_a_run_can_draw)
{
    char names[64][32];
    size_t n = chart_pack_files(names, 64);
    char want[40];

    cr_expect(eq(sz, n, 2 * 4 + 2 * SIM_N_GROUPS + 1));
    for (size_t i = 0; i < 6; i++)                  /* CHARTS[6] is the backtest chart */
        for (const char *const *ext = (const char *const[]){ "png", "svg", NULL }; *ext; ext++) {
            int found = 0;
            snprintf(want, sizeof want, "%s.%s", CHARTS[i], *ext);
            for (size_t k = 0; k < n; k++)
                found |= strcmp(names[k], want) == 0;
            cr_expect(eq(int, found, 1), "%s is not listed", want);
        }
    cr_expect(eq(str, names[n - 1], "briefing.pdf"));
    cr_expect(le(sz, chart_pack_files(names, 3), 3));   /* never more than max */
}
