/* test_cli.c - the sendsim binary: `check` output and exit codes, usage errors, --help and
 * --version. The binary is $SENDSIM_BIN (default ./sendsim); output goes to a fresh mkdtemp()
 * directory per test, since Criterion runs tests in parallel. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_helpers.h"
#include "version.h"

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static th_result res;     /* large; one per test process */

Test(cli, check_on_the_valid_fixture_prints_the_summary_and_exits_0)
{
    const char *args[] = { "check", "tests/data/scenario/valid/scenario.ini", NULL };

    th_run(args, &res);
    cr_expect(eq(int, res.code, 0));
    cr_expect(eq(str, res.err, ""));
    cr_expect(strstr(res.out, "Scenario: Test borough (LA 999)\n") != NULL, "%s", res.out);
    cr_expect(strstr(res.out, "Base year: 2025, horizon 10 years (to 2035)") != NULL);
    cr_expect(strstr(res.out, "Plans in January 2025: 92 (EY 0, PRI 54, SEC 33, P16 3, P19 2)")
              != NULL);
    cr_expect(strstr(res.out, "  new_plans    3 rows, 2022-2024\n") != NULL);
    cr_expect(strstr(res.out, "Population: mid-years 2023-2025\n") != NULL);
    cr_expect(strstr(res.out, "Provisions: 4, 154 places in 2025\n") != NULL);
    cr_expect(strstr(res.out, "  RP     2 provisions,     14 places\n") != NULL);
    cr_expect(strstr(res.out, "  opening September 2026: +20 places (2 rows)\n") != NULL);
    cr_expect(strstr(res.out, "  opening September 2029: -4 places (1 rows)\n") != NULL);
    cr_expect(strstr(res.out, "  caseload    a8d1b26e tests/data/scenario/valid/caseload.csv")
              != NULL);     /* zlib.crc32 of the fixture */
}

struct cli_bad { char ini[48]; int code; char first[300]; };

ParameterizedTestParameters(cli, check_on_bad_input_exits_with_the_located_message)
{
    static struct cli_bad cases[] = {
        { "caseload_duplicate", 65, "sendsim: tests/data/scenario/bad/caseload_duplicate.csv:12: "
          "a second row for age 9, need ASD, setting SS (first on line 6; expected one row "
          "each)\n" },
        { "caseload_suppressed", 65, "sendsim: tests/data/scenario/bad/caseload_suppressed.csv:7:"
          " column 'count': 'c' is a suppression marker (expected a whole number)\n" },
        { "ini_int_range", 65, "sendsim: tests/data/scenario/bad/ini_int_range.ini:6: "
          "[scenario] horizon: '0' is out of range (expected a whole number from 1 to 50)\n" },
        { "ini_unknown_key", 65, "sendsim: tests/data/scenario/bad/ini_unknown_key.ini:21: "
          "unknown key 'trend' in [demand] (expected one of: trend_window, damping, "
          "incidence_multiplier, overdispersion)\n" },
        { "preferences_sum", 65, "sendsim: tests/data/scenario/bad/preferences_sum.csv:2: the "
          "shares for phase PRI, need ASD sum to 0.9 (expected 1, within 1e-6)\n" },
        { "ini_missing_file", 66, "sendsim: tests/data/scenario/bad/nowhere.csv: cannot open "
          "the caseload file: No such file or directory\n" },
    };
    return cr_make_param_array(struct cli_bad, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct cli_bad *c, cli, check_on_bad_input_exits_with_the_located_message)
{
    char path[128];
    const char *args[] = { "check", path, NULL };

    snprintf(path, sizeof path, "tests/data/scenario/bad/%s.ini", c->ini);
    th_run(args, &res);
    cr_expect(eq(int, res.code, c->code));
    cr_expect(eq(str, res.out, ""));
    cr_expect(eq(int, strncmp(res.err, c->first, strlen(c->first)), 0), "%s", res.err);
}

Test(cli, check_lists_every_error_then_a_count_of_the_rest)
{
    const char *many[] = { "check", "tests/data/scenario/bad/many_errors.ini", NULL };
    const char *lots[] = { "check", "tests/data/scenario/bad/too_many_errors.ini", NULL };

    th_run(many, &res);
    cr_expect(eq(int, res.code, 65));
    cr_expect(eq(sz, count_lines(res.err), 3));
    cr_expect(strstr(res.err, "many_errors.csv:10: column 'setting': 'SPX'") != NULL);
    th_run(lots, &res);
    cr_expect(eq(int, res.code, 65));
    cr_expect(eq(sz, count_lines(res.err), 51));
    cr_expect(strstr(res.err, "sendsim: ... and 10 more errors\n") != NULL);
}

Test(cli, check_of_a_missing_scenario_exits_66)
{
    const char *args[] = { "check", "tests/data/scenario/nowhere.ini", NULL };

    th_run(args, &res);
    cr_expect(eq(int, res.code, 66));
    cr_expect(eq(str, res.err, "sendsim: tests/data/scenario/nowhere.ini: cannot open the "
                 "scenario file: No such file or directory\n"));
}

Test(cli, check_of_a_directory_exits_74)
{
    const char *args[] = { "check", "tests/data/scenario/valid", NULL };

    th_run(args, &res);
    cr_expect(eq(int, res.code, 74));
    cr_expect(eq(str, res.err, "sendsim: tests/data/scenario/valid: the scenario file is not a "
                 "regular file (expected a CSV or INI file)\n"));
}

struct usage_case { char args[3][32]; int n; char msg[120]; };

ParameterizedTestParameters(cli, usage_errors_exit_64_with_the_usage)
{
    static struct usage_case cases[] = {
        { { "" }, 0, "sendsim: no command given\n" },
        { { "frobnicate" }, 1, "sendsim: unknown command 'frobnicate'\n" },
        { { "--bogus" }, 1, "sendsim: unknown command '--bogus'\n" },
        { { "check" }, 1, "sendsim: check takes exactly one SCENARIO.ini\n" },
        { { "check", "--strict" }, 2, "sendsim: check: unknown option '--strict'\n" },
        { { "check", "a.ini", "b.ini" }, 3, "sendsim: check takes exactly one SCENARIO.ini\n" },
        { { "backtest", "a.ini", "--quiet" }, 3, "sendsim: backtest: unknown option '--quiet' "
                                                  "(expected --origins, --horizon" },
        { { "backtest", "a.ini", "--reps" }, 3, "sendsim: backtest: option '--reps' needs a "
                                                 "value\n" },
        { { "compare", "a.ini", "--horizon" }, 3, "sendsim: compare: unknown option "
                                                   "'--horizon' (expected --out" },
    };
    return cr_make_param_array(struct usage_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct usage_case *c, cli, usage_errors_exit_64_with_the_usage)
{
    const char *args[4] = { NULL };

    for (int i = 0; i < c->n; i++)
        args[i] = c->args[i];
    th_run(args, &res);
    cr_expect(eq(int, res.code, 64));
    cr_expect(eq(int, strncmp(res.err, c->msg, strlen(c->msg)), 0), "%s", res.err);
    cr_expect(strstr(res.err, "usage: sendsim run SCENARIO.ini") != NULL);
    cr_expect(eq(str, res.out, ""));
}

Test(cli, help_prints_the_usage_on_stdout_and_exits_0)
{
    const char *args[] = { "--help", NULL };

    th_run(args, &res);
    cr_expect(eq(int, res.code, 0));
    cr_expect(eq(int, strncmp(res.out, "usage: sendsim run SCENARIO.ini", 31), 0));
    cr_expect(strstr(res.out, "sendsim check SCENARIO.ini\n") != NULL);
    cr_expect(strstr(res.out, "sendsim --help | --version\n") != NULL);
    cr_expect(eq(str, res.err, ""));
}

Test(cli, every_command_prints_the_usage_for_help)
{
    for (const char *const *c = (const char *const[]){ "run", "check", "backtest", "compare",
                                                       "import", NULL }; *c; c++) {
        th_run((const char *[]){ *c, "--help", NULL }, &res);
        cr_expect(eq(int, res.code, 0), "%s --help: %s", *c, res.err);
        cr_expect(eq(int, strncmp(res.out, "usage: sendsim run SCENARIO.ini", 31), 0), "%s",
                  *c);
    }
    th_run((const char *[]){ "run", "tests/data/engine/scenario.ini", "-h", NULL }, &res);
    cr_expect(eq(int, res.code, 0));
}

Test(cli, version_prints_the_version_and_exits_0)
{
    const char *args[] = { "--version", NULL };

    th_run(args, &res);
    cr_expect(eq(int, res.code, 0));
    cr_expect(eq(str, res.out, "sendsim " SENDSIM_VERSION "\n"));
}

Test(cli, help_lists_every_option_of_backtest_and_compare)
{
    const char *args[] = { "--help", NULL };
    const char *bt, *cmp;

    th_run(args, &res);
    bt = strstr(res.out, "sendsim backtest");
    cmp = strstr(res.out, "sendsim compare");
    cr_assert(bt != NULL && cmp != NULL && bt < cmp, "%s", res.out);
    for (const char *const *o = (const char *const[]){ "--origins", "--horizon", "--reps",
                                                       "--seed", "--threads", "--out", NULL };
         *o; o++) {
        const char *at = strstr(bt, *o);
        cr_expect(at != NULL && at < cmp, "backtest's usage lacks %s", *o);
    }
    for (const char *const *o = (const char *const[]){ "--out", "--reps", "--seed", "--threads",
                                                       "--no-charts", "--quiet", NULL };
         *o; o++)
        cr_expect(strstr(cmp, *o) != NULL, "compare's usage lacks %s", *o);
}

/* backtest names its default output directory as run does: after the scenario's directory
 * (here "myscen"), not the INI's [scenario] name ("Hackney"). */
Test(cli, backtest_writes_by_default_where_run_would, .timeout = 120)
{
    char dir[] = "/tmp/sendsim-cli-out-XXXXXX", cwd[1024], bin[2048], cmd[4096], path[256];
    struct stat sb;

    cr_assert(getcwd(cwd, sizeof cwd) != NULL);
    if (th_bin()[0] == '/')                 /* the command below runs in another directory */
        snprintf(bin, sizeof bin, "%s", th_bin());
    else
        snprintf(bin, sizeof bin, "%s/%s", cwd, th_bin());
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof cmd, "cp -r scenarios/hackney '%s/myscen' && cd '%s' && '%s' backtest "
             "myscen/scenario.ini --origins 2019:2019 --horizon 1 --reps 10 --threads 1 "
             ">/dev/null 2>&1", dir, dir, bin);
    cr_expect(eq(int, th_system(cmd), 0));
    snprintf(path, sizeof path, "%s/output/myscen/backtest_summary.csv", dir);
    cr_expect(eq(int, stat(path, &sb), 0), "no %s", path);
    snprintf(path, sizeof path, "%s/output/Hackney", dir);
    cr_expect(ne(int, stat(path, &sb), 0), "%s should not exist", path);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect(eq(int, th_system(cmd), 0));
}

/* Write `text` to dir/name. */
static void put_file(const char *dir, const char *name, const char *text)
{
    char path[300];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fp = fopen(path, "w");
    cr_assert(fp != NULL, "cannot write %s", path);
    fputs(text, fp);
    cr_assert(fclose(fp) == 0);
}

/* A new temporary directory (in dir, from a "...XXXXXX" template) holding copies of files[]
 * (NULL-terminated) of scenario directory `from`, for a test to change one of them. */
static void copy_scenario(char *dir, const char *from, const char *const *files)
{
    cr_assert(mkdtemp(dir) != NULL);
    for (const char *const *f = files; *f; f++) {
        char src[256], *text;
        snprintf(src, sizeof src, "%s/%s", from, *f);
        text = th_slurp(src, NULL);
        cr_assert(text != NULL, "cannot read %s", src);
        put_file(dir, *f, text);
        free(text);
    }
}

/* `check` fits the history as `run` will: a history with caseloads but no new plans passes
 * the loader, and check reports what the fit needs instead of exit 0. */
Test(cli, check_reports_a_history_the_fit_cannot_use)
{
    char dir[] = "/tmp/sendsim-cli-XXXXXX", path[256];

    copy_scenario(dir, "tests/data/engine", (const char *const[]){ "scenario.ini",
                  "caseload.csv", "population.csv", "preferences.csv", NULL });
    put_file(dir, "history.csv", "year,age_from,age_to,measure,count\n2024,0,25,caseload,180\n"
                                 "2025,0,25,caseload,200\n");
    snprintf(path, sizeof path, "%s/scenario.ini", dir);
    th_run((const char *[]){ "check", path, NULL }, &res);
    cr_expect(eq(int, res.code, 65), "%s", res.out);
    cr_expect(ne(ptr, strstr(res.err, "new_plans"), NULL), "%s", res.err);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(path), 0));
}

/* A priced scenario that leaves a headline setting without a unit cost is told so: check
 * lists every unpriced setting, run warns of the headline ones (their spend would count 0). */
Test(cli, an_unpriced_setting_is_named_by_check_and_run)
{
    char dir[] = "/tmp/sendsim-cli-XXXXXX", path[256], out[300];

    copy_scenario(dir, "scenarios/hackney", (const char *const[]){ "scenario.ini",
                  "caseload.csv", "history.csv", "population.csv", "provisions.csv",
                  "waves.csv", NULL });
    put_file(dir, "costs.csv", "setting,phase,annual_cost\nSS,*,27313\nRP,*,14662\n"
                               "MS,*,8662\nAP,*,10000\nSPI,*,64000\n");     /* no IS */
    snprintf(path, sizeof path, "%s/scenario.ini", dir);
    th_run((const char *[]){ "check", path, NULL }, &res);
    cr_expect(eq(int, res.code, 0), "%s", res.err);
    cr_expect(ne(ptr, strstr(res.out, "Costs: no unit cost for IS (EY, PRI, SEC, P16, P19); FE"),
                 NULL), "%s", res.out);
    snprintf(out, sizeof out, "%s/out", dir);
    th_run((const char *[]){ "run", path, "--reps", "20", "--horizon", "1", "--no-charts",
                             "--no-waves", "--out", out, NULL }, &res);
    cr_expect(eq(int, res.code, 0), "%s", res.err);
    cr_expect(ne(ptr, strstr(res.err, "warning: no unit cost for IS (EY, PRI, SEC, P16, P19): "
                             "their spend counts as 0"), NULL), "%s", res.err);
    cr_expect(eq(ptr, strstr(res.err, "FE"), NULL), "run names headline settings only: %s",
              res.err);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(path), 0));
}

Test(cli, compare_names_the_scenario_without_provisions)
{
    th_run((const char *[]){ "compare", "scenarios/hackney/scenario.ini",
                             "scenarios/england/scenario.ini", "--reps", "20", "--quiet",
                             "--no-charts", "--out", "/tmp/sendsim-cli-never", NULL }, &res);
    cr_expect(eq(int, res.code, 65));
    cr_expect(ne(ptr, strstr(res.err, "scenarios/england/scenario.ini: has no provisions"),
                 NULL), "%s", res.err);
    cr_expect(ne(int, access("/tmp/sendsim-cli-never", F_OK), 0));
}
