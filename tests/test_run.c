/* test_run.c - `sendsim run` end to end, through the binary. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_helpers.h"

#define FIXTURE "tests/data/engine/scenario.ini"
#define HACKNEY "scenarios/hackney/scenario.ini"

static const char HEADER[] =
    "year,phase,need,setting,mean,sd,p025,p05,p10,p25,p50,p75,p90,p95,p975\n";

static char *fresh_dir(void)
{
    char *d = strdup("/tmp/sendsim-run-XXXXXX");
    cr_assert(mkdtemp(d) != NULL);
    return d;
}

/* Run `sendsim run ARGS` quietly; return the exit status. */
static int run(const char *args)
{
    char cmd[2048];

    snprintf(cmd, sizeof cmd, "%s run %s >/dev/null 2>&1", th_bin(), args);
    return th_system(cmd);
}

static char *demand_of(const char *ini, const char *dir, const char *sub, const char *opts)
{
    char args[1024], path[1024];

    snprintf(args, sizeof args, "%s --out %s/%s --quiet %s", ini, dir, sub, opts);
    cr_assert(eq(int, run(args), 0), "sendsim run %s failed", args);
    snprintf(path, sizeof path, "%s/%s/demand.csv", dir, sub);
    return th_slurp(path, NULL);
}

Test(run, one_and_two_threads_write_the_same_bytes_and_another_seed_does_not)
{
    char *dir = fresh_dir();
    char *a = demand_of(FIXTURE, dir, "t1", "--threads 1 --seed 5");
    char *b = demand_of(FIXTURE, dir, "t2", "--threads 2 --seed 5");
    char *c = demand_of(FIXTURE, dir, "s6", "--threads 2 --seed 6");

    cr_assert(a != NULL && b != NULL && c != NULL);
    cr_expect(strlen(a) > 1000);
    cr_expect(eq(str, a, b));
    cr_expect(strcmp(a, c) != 0);
    free(a);
    free(b);
    free(c);
    free(dir);
}

Test(run, demand_csv_has_the_design_columns_and_the_base_year_total)
{
    char *dir = fresh_dir();
    char *d = demand_of(FIXTURE, dir, "out", "--reps 50 --horizon 4");
    char path[1024], *txt;

    cr_assert(d != NULL);
    cr_expect(strncmp(d, HEADER, strlen(HEADER)) == 0);
    /* 92 plans in the fixture's caseload.csv (and its published 2025 total) */
    cr_expect(strstr(d, "\n2025,ALL,ALL,ALL,92,0,92,92,92,92,92,92,92,92,92\n") != NULL);
    cr_expect(strstr(d, "\n2022,ALL,ALL,ALL,106,0,") != NULL);   /* history, tiled bands */
    cr_expect(strstr(d, "\n2022,SEC,ALL,ALL,27,0,") != NULL);    /* 11-15 is a phase */
    cr_expect(strstr(d, "\n2022,PRI,") == NULL);                 /* 5-10 is not */
    cr_expect(strstr(d, "\n2029,ALL,ALL,ALL,") != NULL);
    cr_expect(strstr(d, "\n2030,") == NULL);
    snprintf(path, sizeof path, "%s/out/run.txt", dir);
    txt = th_slurp(path, NULL);
    cr_assert(txt != NULL);
    cr_expect(strstr(txt, "replications: 50\n") != NULL);
    cr_expect(strstr(txt, "caseload.csv") != NULL);
    free(txt);
    free(d);
    free(dir);
}

Test(run, bad_options_exit_64_and_write_nothing)
{
    char *dir = fresh_dir();
    char args[1024], path[1024];

    snprintf(args, sizeof args, "%s --out %s/x --reps 0", FIXTURE, dir);
    cr_expect(eq(int, run(args), 64));
    snprintf(args, sizeof args, "%s --out %s/x --threads two", FIXTURE, dir);
    cr_expect(eq(int, run(args), 64));
    snprintf(args, sizeof args, "%s --out %s/x --frobnicate", FIXTURE, dir);
    cr_expect(eq(int, run(args), 64));
    snprintf(args, sizeof args, "%s --out %s/x --seed", FIXTURE, dir);
    cr_expect(eq(int, run(args), 64));
    cr_expect(eq(int, run("--quiet"), 64));
    snprintf(path, sizeof path, "%s/x", dir);
    cr_expect(access(path, F_OK) != 0);
    snprintf(args, sizeof args, "tests/data/engine/missing.ini --out %s/x", dir);
    cr_expect(eq(int, run(args), 66));
    free(dir);
}

Test(run, hackney_base_year_total_is_the_published_january_2025_figure)
{
    char *dir, *d;

    if (access(HACKNEY, R_OK) != 0)
        cr_skip_test("scenarios/hackney not imported yet");
    dir = fresh_dir();
    d = demand_of(HACKNEY, dir, "hackney", "--reps 200");
    cr_assert(d != NULL);
    cr_expect(strstr(d, "\n2025,ALL,ALL,ALL,3681,0,3681,") != NULL);
    free(d);
    free(dir);
}

/* The 2035 ALL band width (p975 - p025) of a Hackney run with [demand] trend_window = w. */
static double hackney_width(const char *dir, int w)
{
    char cmd[2048], ini[1024], sub[64], *d, *row;
    double v[15];

    snprintf(ini, sizeof ini, "%s/w%d.ini", dir, w);
    snprintf(cmd, sizeof cmd,
             "sed -e 's/^\\[data\\]/[demand]\\ntrend_window = %d\\n\\n[data]/' "
             "-e \"s#= \\([A-Za-z0-9_.-]*\\.csv\\)#= $PWD/scenarios/hackney/\\1#\" %s > %s",
             w, HACKNEY, ini);
    cr_assert(eq(int, system(cmd), 0));
    snprintf(sub, sizeof sub, "w%d", w);
    d = demand_of(ini, dir, sub, "--reps 300 --horizon 10");
    cr_assert(d != NULL);
    row = strstr(d, "\n2035,ALL,ALL,ALL,");
    cr_assert(row != NULL);
    cr_assert(eq(int, sscanf(row + 18, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &v[0],
                             &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
                             &v[10]), 11));
    free(d);
    return v[10] - v[2];
}

Test(run, a_shorter_trend_window_widens_the_hackney_band)
{
    char *dir;

    if (access(HACKNEY, R_OK) != 0)
        cr_skip_test("scenarios/hackney not imported yet");
    dir = fresh_dir();
    cr_expect(gt(dbl, hackney_width(dir, 3), hackney_width(dir, 8)));
    free(dir);
}

/* 1 when dir holds a file called `name`. */
static int has_file(const char *dir, const char *name)
{
    char path[1024];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* 1 when dir holds a staging directory (.sendsim-*) left behind. */
static int has_stage(const char *dir)
{
    char cmd[1100];

    snprintf(cmd, sizeof cmd, "ls -a %s | grep -q '^\\.sendsim-'", dir);
    return th_system(cmd) == 0;
}

/* A directory holds one run's outputs: a run without allocation or charts into the directory
 * of a Hackney run with both leaves none of Hackney's allocation files or charts behind (its
 * briefing would otherwise read Hackney's shortfall.csv). */
Test(run, a_run_replaces_the_whole_set_of_an_earlier_run_in_its_directory)
{
    char *dir = fresh_dir();
    char args[1024], out[512];

    snprintf(out, sizeof out, "%s/o", dir);
    snprintf(args, sizeof args, "%s --out %s --reps 40 --horizon 3 --quiet", HACKNEY, out);
    cr_assert(eq(int, run(args), 0));
    cr_assert(has_file(out, "shortfall.csv") && has_file(out, "capacity_SS.png") &&
              has_file(out, "briefing.pdf"));
    snprintf(args, sizeof args, "%s --out %s --reps 20 --quiet --no-charts", FIXTURE, out);
    cr_assert(eq(int, run(args), 0));
    cr_expect(has_file(out, "demand.csv") && has_file(out, "run.txt"));
    for (const char *const *f = (const char *const[]){ "shortfall.csv", "provision.csv",
                                                       "cost.csv", "waves.csv", "briefing.pdf",
                                                       "fan_total.png", "capacity_SS.svg",
                                                       NULL }; *f; f++)
        cr_expect(eq(int, has_file(out, *f), 0), "%s of the earlier run is still there", *f);
    cr_expect(eq(int, has_stage(out), 0));
    free(dir);
}

/* A run that fails while writing (here PLplot refuses a path with '%', after the CSVs were
 * written) leaves the earlier run's files as they were and no staging directory. */
Test(run, a_run_that_fails_while_writing_leaves_the_earlier_set_untouched)
{
    char *dir = fresh_dir();
    char args[1024], out[512], path[600];
    char *before, *after;

    snprintf(out, sizeof out, "%s/a%%b", dir);
    snprintf(args, sizeof args, "%s --out %s --reps 20 --quiet --no-charts", FIXTURE, out);
    cr_assert(eq(int, run(args), 0));
    snprintf(path, sizeof path, "%s/demand.csv", out);
    before = th_slurp(path, NULL);
    snprintf(args, sizeof args, "%s --out %s --reps 30 --quiet", FIXTURE, out);
    cr_expect(eq(int, run(args), 74));
    after = th_slurp(path, NULL);
    cr_assert(before != NULL && after != NULL);
    cr_expect(eq(str, before, after));
    cr_expect(eq(int, has_stage(out), 0));
    free(before);
    free(after);
    free(dir);
}

/* A directory that cannot be written is found before the simulation, not after it. */
Test(run, an_unwritable_output_directory_fails_before_simulating)
{
    char *dir = fresh_dir();
    th_result r;
    char file[512], out[600];

    snprintf(file, sizeof file, "%s/file", dir);
    fclose(fopen(file, "w"));
    snprintf(out, sizeof out, "%s/sub", file);               /* below a plain file */
    th_run((const char *[]){ "run", FIXTURE, "--out", out, "--reps", "20", NULL }, &r);
    cr_expect(eq(int, r.code, 74), "%s", r.err);
    cr_expect(ne(ptr, strstr(r.err, "file"), NULL), "%s", r.err);
    free(dir);
}

/* A run killed part-way leaves its staging directory; the next run into that directory removes
 * it, but never one whose process still runs (here the test's own). */
Test(run, a_killed_runs_staging_directory_is_removed_by_the_next_run)
{
    char *dir = fresh_dir();
    char dead[600], alive[600], file[700], args[1024];
    pid_t child = fork();

    cr_assert(child >= 0);
    if (child == 0)
        _exit(0);
    cr_assert(waitpid(child, NULL, 0) == child);         /* a PID that no longer runs */
    snprintf(dead, sizeof dead, "%s/.sendsim-%ld-abcdef", dir, (long)child);
    snprintf(alive, sizeof alive, "%s/.sendsim-%ld-ghijkl", dir, (long)getpid());
    cr_assert(mkdir(dead, 0777) == 0 && mkdir(alive, 0777) == 0);
    snprintf(file, sizeof file, "%s/demand.csv", dead);
    fclose(fopen(file, "w"));
    snprintf(args, sizeof args, "%s --out %s --reps 20 --quiet --no-charts", FIXTURE, dir);
    cr_assert(eq(int, run(args), 0));
    cr_expect(ne(int, access(dead, F_OK), 0), "%s is still there", dead);
    cr_expect(eq(int, access(alive, F_OK), 0));
    free(dir);
}
