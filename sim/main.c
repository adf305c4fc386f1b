/* main.c - the sendsim command line: parse arguments, call the stages, report, exit.
 *
 * Nothing but the command line lives here. Each command is one function that runs the
 * pipeline stages in order, stops at the first failure, reports it once on stderr as
 * "sendsim: FILE:LINE: what is wrong (what was expected)" and maps the status to an exit
 * code (0 ok, 64 usage, 65 bad data, 66 missing input, 70 internal, 74 I/O). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "scenario.h"
#include "status.h"
#include "version.h"

static const char USAGE[] =
    "usage: sendsim run SCENARIO.ini [--reps N] [--seed S] [--threads T] [--horizon Y]\n"
    "                                [--out DIR] [--no-charts] [--quiet]\n"
    "       sendsim check SCENARIO.ini\n"
    "       sendsim import --la CODE --sen2 DIR [--sen2-2022 DIR] [--population FILE]\n"
    "                      --out DIR\n"
    "       sendsim backtest SCENARIO.ini [--origins FROM:TO] [--horizon H] [--reps N]\n"
    "                        [--out DIR]\n"
    "       sendsim compare A.ini B.ini [--out DIR]\n"
    "       sendsim --help | --version\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "sendsim: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", USAGE);
    return sim_exit_code(SIM_EUSAGE);
}

static void report_error(const sim_error *err)
{
    char line[1024];

    sim_error_format(err, line, sizeof line);
    fprintf(stderr, "sendsim: %s\n", line);
}

static void report_diag(const sim_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        report_error(&d->items[i]);
    if (d->total > d->n)
        fprintf(stderr, "sendsim: ... and %zu more errors\n", d->total - d->n);
}

/* ---- sendsim check ------------------------------------------------------------------- */

static int cmd_check(int argc, char **argv)
{
    sim_diag *diag;
    scenario *sc = NULL;
    sim_status st;

    if (argc != 1)
        return usage_error("check takes exactly one SCENARIO.ini%s", "");
    diag = calloc(1, sizeof *diag);
    if (diag == NULL)
        return sim_exit_code(SIM_EINTERNAL);
    st = scenario_load(argv[0], &sc, diag);
    if (st != SIM_OK)
        report_diag(diag);
    else
        printf("%s: ok\n", argv[0]);
    scenario_free(sc);
    free(diag);
    return sim_exit_code(st);
}

/* ---- dispatch ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();        /* every GSL status is checked */

    if (argc < 2)
        return usage_error("no command given%s", "");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sendsim %s\n", SENDSIM_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    return usage_error("unknown command '%s'", argv[1]);
}
