/* test_cli.c - the sendsim binary: `check` output and exit codes, usage errors, --help and
 * --version. The binary is $SENDSIM_BIN (default ./sendsim); output goes to a fresh mkdtemp()
 * directory per test, since Criterion runs tests in parallel. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "version.h"

typedef struct run_result {
    int  code;              /* exit status; -1 if the binary did not exit normally */
    char out[16384];
    char err[16384];
} run_result;

static void read_file(const char *path, char *buf, size_t n)
{
    FILE *fp = fopen(path, "rb");
    size_t got;

    cr_assert(fp != NULL, "%s", path);
    got = fread(buf, 1, n - 1, fp);
    buf[got] = '\0';
    fclose(fp);
}

/* Run the binary with args[] (NULL-terminated, without argv[0]). */
static void run(const char *const *args, run_result *r)
{
    const char *bin = getenv("SENDSIM_BIN") ? getenv("SENDSIM_BIN") : "./sendsim";
    char dir[] = "/tmp/sendsim-cli-XXXXXX", out[64], err[64];
    char *argv[16] = { (char *)bin };
    int status;
    pid_t pid;

    for (size_t i = 0; args[i] && i < 14; i++)
        argv[i + 1] = (char *)args[i];
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    fflush(NULL);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execv(bin, argv);
        _exit(127);
    }
    cr_assert(eq(int, (int)waitpid(pid, &status, 0), (int)pid));
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    read_file(out, r->out, sizeof r->out);
    read_file(err, r->err, sizeof r->err);
    remove(out);
    remove(err);
    rmdir(dir);
    cr_assert(ne(int, r->code, 127), "could not run %s (set SENDSIM_BIN)", bin);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static run_result res;     /* large; one per test process */

Test(cli, check_on_the_valid_fixture_prints_the_summary_and_exits_0)
{
    const char *args[] = { "check", "tests/data/scenario/valid/scenario.ini", NULL };

    run(args, &res);
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
    run(args, &res);
    cr_expect(eq(int, res.code, c->code));
    cr_expect(eq(str, res.out, ""));
    cr_expect(eq(int, strncmp(res.err, c->first, strlen(c->first)), 0), "%s", res.err);
}

Test(cli, check_lists_every_error_then_a_count_of_the_rest)
{
    const char *many[] = { "check", "tests/data/scenario/bad/many_errors.ini", NULL };
    const char *lots[] = { "check", "tests/data/scenario/bad/too_many_errors.ini", NULL };

    run(many, &res);
    cr_expect(eq(int, res.code, 65));
    cr_expect(eq(sz, count_lines(res.err), 3));
    cr_expect(strstr(res.err, "many_errors.csv:10: column 'setting': 'SPX'") != NULL);
    run(lots, &res);
    cr_expect(eq(int, res.code, 65));
    cr_expect(eq(sz, count_lines(res.err), 51));
    cr_expect(strstr(res.err, "sendsim: ... and 10 more errors\n") != NULL);
}

Test(cli, check_of_a_missing_scenario_exits_66)
{
    const char *args[] = { "check", "tests/data/scenario/nowhere.ini", NULL };

    run(args, &res);
    cr_expect(eq(int, res.code, 66));
    cr_expect(eq(str, res.err, "sendsim: tests/data/scenario/nowhere.ini: cannot open the "
                 "scenario file: No such file or directory\n"));
}

Test(cli, check_of_a_directory_exits_74)
{
    const char *args[] = { "check", "tests/data/scenario/valid", NULL };

    run(args, &res);
    cr_expect(eq(int, res.code, 74));
    cr_expect(eq(str, res.err, "sendsim: tests/data/scenario/valid: the scenario file is not a "
                 "regular file (expected a CSV or INI file)\n"));
}

struct usage_case { char args[3][32]; int n; char msg[80]; };

ParameterizedTestParameters(cli, usage_errors_exit_64_with_the_usage)
{
    static struct usage_case cases[] = {
        { { "" }, 0, "sendsim: no command given\n" },
        { { "frobnicate" }, 1, "sendsim: unknown command 'frobnicate'\n" },
        { { "--bogus" }, 1, "sendsim: unknown command '--bogus'\n" },
        { { "check" }, 1, "sendsim: check takes exactly one SCENARIO.ini\n" },
        { { "check", "--strict" }, 2, "sendsim: check: unknown option '--strict'\n" },
        { { "check", "a.ini", "b.ini" }, 3, "sendsim: check takes exactly one SCENARIO.ini\n" },
    };
    return cr_make_param_array(struct usage_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct usage_case *c, cli, usage_errors_exit_64_with_the_usage)
{
    const char *args[4] = { NULL };

    for (int i = 0; i < c->n; i++)
        args[i] = c->args[i];
    run(args, &res);
    cr_expect(eq(int, res.code, 64));
    cr_expect(eq(int, strncmp(res.err, c->msg, strlen(c->msg)), 0), "%s", res.err);
    cr_expect(strstr(res.err, "usage: sendsim run SCENARIO.ini") != NULL);
    cr_expect(eq(str, res.out, ""));
}

Test(cli, help_prints_the_usage_on_stdout_and_exits_0)
{
    const char *args[] = { "--help", NULL };

    run(args, &res);
    cr_expect(eq(int, res.code, 0));
    cr_expect(eq(int, strncmp(res.out, "usage: sendsim run SCENARIO.ini", 31), 0));
    cr_expect(strstr(res.out, "sendsim check SCENARIO.ini\n") != NULL);
    cr_expect(strstr(res.out, "sendsim --help | --version\n") != NULL);
    cr_expect(eq(str, res.err, ""));
}

Test(cli, version_prints_the_version_and_exits_0)
{
    const char *args[] = { "--version", NULL };

    run(args, &res);
    cr_expect(eq(int, res.code, 0));
    cr_expect(eq(str, res.out, "sendsim " SENDSIM_VERSION "\n"));
}
