/* test_import.c - `sendsim import`: margins reproduced for every LA of ../shared/data (read
 * from DfE's own files), the same scenario from cut-down and national-like files, the 2026
 * renames, and every error path (unknown LA, missing file, renamed column) through the binary.
 * The binary is $SENDSIM_BIN (default ./sendsim); each test writes under its own mkdtemp()
 * directory because Criterion runs tests in parallel. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codes.h"
#include "import.h"
#include "table.h"
#include "test_helpers.h"
#include "xalloc.h"

#define SHARED "../shared/data"
#define SEN2_25 SHARED "/ehcp-sen2-2025-release"
#define SEN2_22 SHARED "/ehcp-sen2-2022-release"
#define ONS SHARED "/ons-snpp-2022-hackney-0-25.csv"
#define FIX "tests/data/import"
#define EDGE "tests/data/import-edge"

/* ---- helpers ------------------------------------------------------------------------- */

/* Every directory a test makes, removed after it by the suite's .fini (each test runs in
 * its own process, so these statics are per test). */
static char made[8][64];
static size_t n_made;

static void rm_tree(const char *path);

static void remove_made(void)
{
    for (size_t i = 0; i < n_made; i++)
        rm_tree(made[i]);
}

TestSuite(import, .fini = remove_made);

static void make_tmp(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/sendsim-import-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
    if (n_made < sizeof made / sizeof made[0])
        snprintf(made[n_made++], sizeof made[0], "%s", dir);
}

/* The whole file; fails the test when it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    char *buf = th_slurp(path, len);

    cr_assert(buf != NULL, "cannot read %s", path);
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");

    cr_assert(fp != NULL, "cannot write %s", path);
    fputs(text, fp);
    cr_assert(fclose(fp) == 0);
}

static void copy_file(const char *from, const char *to)
{
    char *s = slurp(from, NULL);

    spit(to, s);
    free(s);
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = na == nb && memcmp(x, y, na) == 0;

    free(x);
    free(y);
    return same;
}

static int have_shared(void)
{
    struct stat sb;

    return stat(SEN2_25 "/caseload.csv", &sb) == 0 && stat(SEN2_22 "/sen2_mi.csv", &sb) == 0;
}

static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Remove `path` and everything under it (the tests' own temporary directories). */
static void rm_tree(const char *path)
{
    struct stat sb;
    DIR *d;
    struct dirent *e;

    if (lstat(path, &sb) != 0)
        return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    if ((d = opendir(path)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            char sub[512];
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_tree(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

/* ---- checking the scenario against DfE's own figures --------------------------------- */

/* The test's own reading of DESIGN.md "Vocabulary": DfE placement column -> setting. */
static const struct { const char *col; const char *set; } SETMAP[] = {
    { "mainstream_la_maintained", "MS" }, { "mainstream_academy", "MS" },
    { "mainstream_free_school", "MS" }, { "mainstream_independent", "MS" },
    { "mainstream_la_maintained_resourced_provision", "RP" },
    { "mainstream_la_maintained_senunit", "RP" },
    { "mainstream_academy_resourced_provision", "RP" }, { "mainstream_academy_senunit", "RP" },
    { "mainstream_free_school_resourced_provision", "RP" },
    { "mainstream_free_school_senunit", "RP" },
    { "special_la_maintained", "SS" }, { "special_academy_free", "SS" },
    { "special_academy", "SS" }, { "special_free_school", "SS" },
    { "special_independent", "IS" }, { "special_non_maintained", "IS" },
    { "ap_pru_academy", "AP" }, { "ap_pru_free_school", "AP" }, { "ap_pru_la_maintained", "AP" },
    { "general_fe_tertiary_colleges", "FE" }, { "ukrlp_provider", "FE" },
    { "specialist_post_16_institutions", "SPI" }, { "nm_early_years", "EY" },
    { "elective_home_education", "ELS" }, { "other_arrangements_la", "ELS" },
    { "other_arrangements_parents", "ELS" }, { "online_provider", "ELS" },
    { "w_settings", "ELS" }, { "other_schools", "ELS" }, { "other_placement_settings", "ELS" },
    { "neet", "NEET" }, { "neet_ntci", "NEET" }, { "neet_other", "NEET" },
    { "neet_other_csa", "NEET" }, { "placement_unknown", "UNK" },
};
enum { N_SETMAP = sizeof SETMAP / sizeof SETMAP[0] };

/* DfE's own subtotals and the settings they cover. */
static const struct { const char *col; const char *sets; } GROUPS[] = {
    { "mainstream_total", "MS RP" }, { "special_total", "SS IS" }, { "ap_pru_total", "AP" },
    { "fe_total", "FE SPI" }, { "ed_elsewhere", "ELS NEET" }, { "nm_early_years", "EY" },
    { "placement_unknown", "UNK" },
};

typedef struct cube {
    double as[SIM_N_AGES][SIM_N_SETTINGS], need[SIM_N_NEEDS], total;
} cube;

static void read_cube(const char *dir, cube *c)
{
    char path[512];
    table *t = NULL;
    sim_error err;
    long age;
    double v;

    memset(c, 0, sizeof *c);
    snprintf(path, sizeof path, "%s/caseload.csv", dir);
    cr_assert(eq(int, table_load(path, &t, &err), SIM_OK), "%s", err.msg);
    for (size_t r = 0; r < table_rows(t); r++) {
        int n = need_parse(table_cell(t, r, (size_t)table_col(t, "need")));
        int s = setting_parse(table_cell(t, r, (size_t)table_col(t, "setting")));
        cr_assert(eq(int, table_int(t, r, (size_t)table_col(t, "age"), 0, 25, &age, &err), SIM_OK));
        cr_assert(eq(int, table_count(t, r, (size_t)table_col(t, "count"), &v, NULL, &err), SIM_OK));
        cr_assert(n >= 0 && s >= 0);
        c->as[age][s] += v;
        c->need[n] += v;
        c->total += v;
    }
    table_free(t);
}

static double sum_sets(const cube *c, int age_from, int age_to, const char *sets)
{
    double sum = 0.0;
    char buf[64], *tok, *save;

    snprintf(buf, sizeof buf, "%s", sets);
    for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        for (int a = age_from; a <= age_to; a++)
            sum += c->as[a][setting_parse(tok)];
    return sum;
}

static int area_row(const table *t, size_t r, const char *old_code, const char *period)
{
    const char *level = table_cell(t, r, (size_t)table_col(t, "geographic_level"));

    if (strcmp(table_cell(t, r, (size_t)table_col(t, "time_period")), period) != 0)
        return 0;
    if (old_code[0] == '\0')
        return strcmp(level, "National") == 0;
    return strcmp(level, "Local authority") == 0 &&
           strcmp(table_cell(t, r, (size_t)table_col(t, "old_la_code")), old_code) == 0;
}

/* A published count, or -1 when suppressed or absent. */
static double dfe(const table *t, size_t r, const char *col)
{
    int c = table_col(t, col), published;
    double v;

    if (c < 0 || table_count(t, r, (size_t)c, &v, &published, NULL) != SIM_OK || !published)
        return -1.0;
    return v;
}

static const char *age_topic(const char *topic)
{
    return strcmp(topic, "Child or young persons age") == 0 ||
           strcmp(topic, "Age at start of academic year") == 0 ? topic : NULL;
}

/* Every published total, single-age, setting and setting-group figure of the base year in
 * DfE's caseload.csv, and every need total in sen_needs_all_plans.csv, against the cube. */
static void check_margins(const char *out, const char *sen2, const char *old_code, int base)
{
    char path[512], period[16];
    table *t = NULL;
    sim_error err;
    cube c;
    size_t checked = 0;

    read_cube(out, &c);
    snprintf(period, sizeof period, "%d%02d", base - 1, base % 100);
    snprintf(path, sizeof path, "%s/caseload.csv", sen2);
    cr_assert(eq(int, table_load(path, &t, &err), SIM_OK), "%s", err.msg);
    for (size_t r = 0; r < table_rows(t); r++) {
        const char *topic = table_cell(t, r, (size_t)table_col(t, "breakdown_topic"));
        const char *brk = table_cell(t, r, (size_t)table_col(t, "breakdown"));
        int from = 0, to = 25;
        if (!area_row(t, r, old_code, period))
            continue;
        if (age_topic(topic)) {
            if (strcmp(brk, "under 3") == 0)
                to = 2;
            else
                cr_assert(sscanf(brk, "age %d", &from) == 1 && (to = from) >= 3, "%s", brk);
        } else if (strcmp(topic, "All EHC plans") != 0) {
            continue;
        }
        if (dfe(t, r, "ehcplans") >= 0) {
            double got = sum_sets(&c, from, to, "MS RP SS IS AP FE SPI EY ELS NEET UNK");
            cr_expect(eq(dbl, got, dfe(t, r, "ehcplans")), "%s %s: total", topic, brk);
            checked++;
        }
        for (const char *const *s = (const char *const[]){ "MS", "RP", "SS", "IS", "AP", "FE",
                 "SPI", "EY", "ELS", "NEET", "UNK", NULL }; *s; s++) {
            double want = 0.0;
            int all = 1;
            for (size_t k = 0; k < N_SETMAP; k++)
                if (strcmp(SETMAP[k].set, *s) == 0 && table_col(t, SETMAP[k].col) >= 0) {
                    double v = dfe(t, r, SETMAP[k].col);
                    all &= v >= 0;
                    want += v >= 0 ? v : 0;
                }
            if (all) {
                cr_expect(eq(dbl, sum_sets(&c, from, to, *s), want), "%s %s: %s", topic, brk, *s);
                checked++;
            }
        }
        for (size_t g = 0; g < sizeof GROUPS / sizeof GROUPS[0]; g++)
            if (dfe(t, r, GROUPS[g].col) >= 0) {
                cr_expect(eq(dbl, sum_sets(&c, from, to, GROUPS[g].sets),
                             dfe(t, r, GROUPS[g].col)), "%s %s: %s", topic, brk, GROUPS[g].col);
                checked++;
            }
    }
    table_free(t);
    cr_expect(gt(sz, checked, 20), "only %zu published figures found", checked);
    snprintf(path, sizeof path, "%s/sen_needs_all_plans.csv", sen2);
    cr_assert(eq(int, table_load(path, &t, &err), SIM_OK), "%s", err.msg);
    for (size_t r = 0; r < table_rows(t); r++) {
        static const char *const NEED_COLS[SIM_N_NEEDS] = {
            "number_asd", "number_hi", "number_mld", "number_msi", "number_oth", "number_pd",
            "number_pmld", "number_semh", "number_slcn", "number_sld", "number_spld",
            "number_vi", "number_need_unknown" };
        if (!area_row(t, r, old_code, period) ||
            strcmp(table_cell(t, r, (size_t)table_col(t, "breakdown_topic")), "All EHC plans"))
            continue;
        for (int n = 0; n < SIM_N_NEEDS; n++)
            if (dfe(t, r, NEED_COLS[n]) >= 0)
                cr_expect(eq(dbl, c.need[n], dfe(t, r, NEED_COLS[n])), "need %s", need_code(n));
    }
    table_free(t);
}

/* ---- the fixture (always there) ------------------------------------------------------ */

/* Import `opt` into a new directory (dir, n bytes), which must succeed; the caller frees rep. */
static void import_ok(import_options *opt, char *dir, size_t n, import_report *rep)
{
    sim_error err;

    make_tmp(dir, n);
    opt->out_dir = dir;
    cr_assert(eq(int, import_run(opt, rep, &err), SIM_OK), "%s", err.msg);
}

Test(import, fixture_import_reproduces_every_published_margin_of_the_base_year)
{
    import_options opt = { "Testborough", FIX "/sen2", NULL, FIX "/population.csv", NULL };
    import_report rep;
    char dir[64];

    import_ok(&opt, dir, sizeof dir, &rep);
    cr_expect(eq(int, rep.base_year, 2025));           /* 2024 is total-only in the fixture */
    cr_expect(eq(i64, rep.total, 20));
    cr_expect(eq(i64, rep.max_deviation, 0));
    cr_expect(ne(ptr, strstr(rep.text, "total-only"), NULL));
    check_margins(dir, FIX "/sen2", "999", rep.base_year);
    import_report_free(&rep);
}

Test(import, suppressed_figures_are_left_out_of_history_never_zero)
{
    import_options opt = { "999", FIX "/sen2", NULL, NULL, NULL };
    import_report rep;
    char dir[64], path[128], *hist;

    import_ok(&opt, dir, sizeof dir, &rep);
    snprintf(path, sizeof path, "%s/history.csv", dir);
    hist = slurp(path, NULL);
    cr_expect(eq(ptr, strstr(hist, "2024,0,2,new_plans"), NULL), "%s", hist);  /* 'c' */
    cr_expect(ne(ptr, strstr(hist, "2024,4,4,new_plans,4\n"), NULL));
    cr_expect(ne(ptr, strstr(hist, "2024,20,25,ceased,2\n"), NULL));
    cr_expect(ne(ptr, strstr(hist, "2024,0,25,caseload,17\n"), NULL));      /* total-only year */
    cr_expect(gt(sz, rep.suppressed, 0));
    snprintf(path, sizeof path, "%s/population.csv", dir);
    cr_expect(eq(int, access(path, F_OK), -1));        /* no --population, no file */
    snprintf(path, sizeof path, "%s/scenario.ini", dir);
    free(hist);
    hist = slurp(path, NULL);
    cr_expect(eq(ptr, strstr(hist, "population"), NULL));
    cr_expect(ne(ptr, strstr(hist, "base_year = 2025"), NULL));
    free(hist);
    import_report_free(&rep);
}

Test(import, population_keeps_single_ages_and_mid_years_of_the_area_only)
{
    import_options opt = { "E09999999", FIX "/sen2", NULL, FIX "/population.csv", NULL };
    import_report rep;
    char dir[64], path[128], *pop;

    import_ok(&opt, dir, sizeof dir, &rep);
    cr_expect(eq(sz, rep.population_rows, 3 * 26));
    snprintf(path, sizeof path, "%s/population.csv", dir);
    pop = slurp(path, NULL);
    cr_expect(ne(ptr, strstr(pop, "year,age,count\n2022,0,1000.25\n"), NULL), "%s", pop);
    cr_expect(ne(ptr, strstr(pop, "2024,25,1027.125\n"), NULL));
    cr_expect(eq(ptr, strstr(pop, "900."), NULL));     /* Otherford's rows are not taken */
    free(pop);
    import_report_free(&rep);
}

Test(import, the_2026_column_and_topic_renames_give_the_same_scenario)
{
    import_options a = { "Testborough", FIX "/sen2", NULL, NULL, NULL };
    import_options b = { "Testborough", FIX "/sen2-2026", NULL, NULL, NULL };
    import_report ra, rb;
    sim_error err;
    char da[64], db[64], pa[128], pb[128];

    make_tmp(da, sizeof da);
    make_tmp(db, sizeof db);
    a.out_dir = da;
    b.out_dir = db;
    cr_assert(eq(int, import_run(&a, &ra, &err), SIM_OK), "%s", err.msg);
    cr_assert(eq(int, import_run(&b, &rb, &err), SIM_OK), "%s", err.msg);
    for (const char *const *f = (const char *const[]){ "caseload.csv", "history.csv", NULL }; *f; f++) {
        snprintf(pa, sizeof pa, "%s/%s", da, *f);
        snprintf(pb, sizeof pb, "%s/%s", db, *f);
        cr_expect(same_file(pa, pb), "%s differs", *f);
    }
    cr_expect(eq(ptr, strstr(ra.text, "WARNING"), NULL), "%s", ra.text);
    cr_expect(eq(ptr, strstr(rb.text, "WARNING"), NULL), "%s", rb.text);
    import_report_free(&ra);
    import_report_free(&rb);
}

/* FIX/sen2 copied to dir/sen2 (path in sen2, n bytes), with a column `name` (value 0 in every
 * row) inserted into `file` after its first `after` columns: a later release's new column. */
static void fixture_with_column(const char *dir, char *sen2, size_t n, const char *file,
                                int after, const char *name)
{
    const char *const files[] = { "caseload.csv", "sen_needs_all_plans.csv", "newplans.csv",
                                  "ceased_plans.csv", NULL };

    snprintf(sen2, n, "%s/sen2", dir);
    cr_assert(mkdir(sen2, 0755) == 0);
    for (const char *const *f = files; *f; f++) {
        char from[128], path[160], *text, *out, *o;
        snprintf(from, sizeof from, FIX "/sen2/%s", *f);
        snprintf(path, sizeof path, "%s/%s", sen2, *f);
        text = slurp(from, NULL);
        out = o = xmalloc(2 * strlen(text) + 64);
        for (const char *line = text; *line; ) {
            const char *nl = strchr(line, '\n'), *end = nl ? nl + 1 : line + strlen(line);
            const char *at = NULL;
            int commas = 0;
            for (const char *q = line; q < end && strcmp(*f, file) == 0; q++)
                if (*q == ',' && ++commas == after) {
                    at = q + 1;
                    break;
                }
            if (at == NULL)
                at = end;
            memcpy(o, line, (size_t)(at - line));
            o += at - line;
            if (at != end)
                o += sprintf(o, "%s,", line == text ? name : "0");
            memcpy(o, at, (size_t)(end - at));
            o += end - at;
            line = end;
        }
        *o = '\0';
        spit(path, out);
        free(out);
        free(text);
    }
}

/* A later release with a placement column or a need that sendsim does not know: the import
 * goes ahead and import.txt names the column. */
Test(import, an_unknown_placement_or_need_column_is_named_in_the_report)
{
    import_options opt = { "999", NULL, NULL, NULL, NULL };
    import_report rep;
    char dir[64], sen2[96];

    make_tmp(dir, sizeof dir);
    fixture_with_column(dir, sen2, sizeof sen2, "caseload.csv", 13, "hospital_school");
    opt.sen2_dir = sen2;
    import_ok(&opt, dir, sizeof dir, &rep);
    cr_expect(ne(ptr, strstr(rep.text, "neither a placement sendsim knows nor a total: "
                             "'hospital_school'"), NULL), "%s", rep.text);
    cr_expect(eq(i64, rep.total, 20));
    import_report_free(&rep);

    make_tmp(dir, sizeof dir);
    fixture_with_column(dir, sen2, sizeof sen2, "sen_needs_all_plans.csv", 13, "number_dsd");
    import_ok(&opt, dir, sizeof dir, &rep);
    cr_expect(ne(ptr, strstr(rep.text, "need columns sendsim does not know: 'number_dsd'"),
                 NULL), "%s", rep.text);
    cr_expect(eq(ptr, strstr(rep.text, "hospital_school"), NULL), "%s", rep.text);
    import_report_free(&rep);
}

Test(import, an_existing_scenario_ini_and_hand_made_files_are_kept)
{
    import_options opt = { "999", FIX "/sen2", NULL, NULL, NULL };
    import_report rep;
    sim_error err;
    char dir[64], ini[128], prov[128], *text;

    make_tmp(dir, sizeof dir);
    opt.out_dir = dir;
    snprintf(ini, sizeof ini, "%s/scenario.ini", dir);
    snprintf(prov, sizeof prov, "%s/provisions.csv", dir);
    spit(prov, "id,name,group,needs,age_from,age_to,places,annual_cost\n");
    cr_assert(eq(int, import_run(&opt, &rep, &err), SIM_OK), "%s", err.msg);
    text = slurp(ini, NULL);
    cr_expect(ne(ptr, strstr(text, "provisions = provisions.csv"), NULL), "%s", text);
    free(text);
    import_report_free(&rep);
    spit(ini, "[scenario]\nname = mine\nbase_year = 2024\n[data]\ncaseload = caseload.csv\n"
              "history = history.csv\n");
    cr_assert(eq(int, import_run(&opt, &rep, &err), SIM_OK), "%s", err.msg);
    text = slurp(ini, NULL);
    cr_expect(ne(ptr, strstr(text, "name = mine"), NULL));
    cr_expect(ne(ptr, strstr(rep.text, "WARNING"), NULL), "%s", rep.text);
    free(text);
    text = slurp(prov, NULL);
    cr_expect(eq(str, text, "id,name,group,needs,age_from,age_to,places,annual_cost\n"));
    free(text);
    import_report_free(&rep);
}

/* DfE's need x age row for age 5 says 11 plans where caseload.csv says 10: the age x setting
 * table and the total stay exact, and the difference is reported. */
Test(import, margins_that_disagree_are_reconciled_and_reported)
{
    import_options opt = { "999", FIX "/sen2-mismatch", NULL, NULL, NULL };
    import_report rep;
    char dir[64];

    import_ok(&opt, dir, sizeof dir, &rep);
    cr_expect(eq(sz, rep.margin_mismatches, 1));
    cr_expect(ne(ptr, strstr(rep.text, "need x age, age 5: published 11, reconciled to 10"),
                 NULL), "%s", rep.text);
    cr_expect(eq(i64, rep.total, 20));
    check_margins(dir, FIX "/sen2-mismatch", "999", rep.base_year);
    import_report_free(&rep);
}

/* ---- ages whose total is suppressed --------------------------------------------------- */

static double age_plans(const cube *c, int age)
{
    double sum = 0.0;

    for (int set = 0; set < SIM_N_SETTINGS; set++)
        sum += c->as[age][set];
    return sum;
}

/* caseload.csv suppresses age 12 (8 plans) whole; sen_needs_all_plans.csv publishes it. */
Test(import, a_suppressed_age_row_gets_its_total_from_the_need_file)
{
    import_options opt = { "999", EDGE "/suppressed-age", NULL, NULL, NULL };
    import_report rep;
    char dir[64];
    cube c;

    import_ok(&opt, dir, sizeof dir, &rep);
    read_cube(dir, &c);
    cr_expect(eq(dbl, c.total, 20.0));
    cr_expect(eq(dbl, age_plans(&c, 12), 8.0));
    cr_expect(eq(sz, rep.ages_filled, 1));
    cr_expect(eq(sz, rep.margin_mismatches, 0), "%s", rep.text);
    cr_expect(ne(ptr, strstr(rep.text, "age 12: 8, its total in sen_needs_all_plans.csv"), NULL),
              "%s", rep.text);
    cr_expect(eq(ptr, strstr(rep.text, "margin mismatch"), NULL), "%s", rep.text);
    check_margins(dir, EDGE "/suppressed-age", "999", rep.base_year);   /* zeros stay 0 */
    import_report_free(&rep);
}

/* With the need file's age-12 row suppressed too, age 12 takes what the total leaves. */
Test(import, a_suppressed_age_published_nowhere_takes_what_the_total_leaves)
{
    import_options opt = { "999", EDGE "/suppressed-age-needs", NULL, NULL, NULL };
    import_report rep;
    char dir[64];
    cube c;

    import_ok(&opt, dir, sizeof dir, &rep);
    read_cube(dir, &c);
    cr_expect(eq(dbl, c.total, 20.0));
    cr_expect(eq(dbl, age_plans(&c, 12), 8.0));
    cr_expect(eq(sz, rep.margin_mismatches, 0), "%s", rep.text);
    cr_expect(ne(ptr, strstr(rep.text, "age 12: 8 (0 in its published cells"), NULL), "%s",
              rep.text);
    check_margins(dir, EDGE "/suppressed-age-needs", "999", rep.base_year);
    import_report_free(&rep);
}

/* Smallton: 12 plans, ages 5-10 suppressed with most of their cells. The total is exact, the
 * published ages and every cell published as 0 are kept, each suppressed age gets a plausible
 * share (the 7 plans the published ages leave, age 7 holding at least its published 1). */
Test(import, an_area_with_most_cells_suppressed_keeps_the_total_and_every_published_zero)
{
    import_options opt = { "997", EDGE "/sparse", NULL, NULL, NULL };
    import_report rep;
    char dir[64];
    cube c;
    double filled = 0.0;

    import_ok(&opt, dir, sizeof dir, &rep);
    read_cube(dir, &c);
    cr_expect(eq(dbl, c.total, 12.0));
    cr_expect(eq(sz, rep.ages_filled, 6));
    cr_expect(eq(sz, rep.margin_mismatches, 0), "%s", rep.text);
    for (int age = 5; age <= 10; age++) {
        char line[32];
        cr_expect(ge(dbl, age_plans(&c, age), 1.0), "age %d", age);
        cr_expect(le(dbl, age_plans(&c, age), 3.0), "age %d", age);
        filled += age_plans(&c, age);
        snprintf(line, sizeof line, "    age %d: %.0f (", age, age_plans(&c, age));
        cr_expect(ne(ptr, strstr(rep.text, line), NULL), "%s not in %s", line, rep.text);
    }
    cr_expect(eq(dbl, filled, 7.0));
    cr_expect(ge(dbl, c.as[7][SET_MS], 1.0));
    for (int age = 0; age <= 25; age++)
        if (age < 4 || age > 11)
            cr_expect(eq(dbl, age_plans(&c, age), 0.0), "age %d was published as 0", age);
    cr_expect(ne(ptr, strstr(rep.text, "England's ages"), NULL), "%s", rep.text);
    check_margins(dir, EDGE "/sparse", "997", rep.base_year);   /* published cells, zeros too */
    import_report_free(&rep);
}

/* The age rows add up to 20 but the total is 22: the 2 go to the one suppressed cell (age 5
 * MS, 6 by its age total), every published cell stays as published, zeros included. */
Test(import, plans_no_age_row_holds_go_to_suppressed_cells_never_to_published_zeros)
{
    import_options opt = { "999", EDGE "/ages-short", NULL, NULL, NULL };
    import_report rep;
    char dir[64];
    cube c;

    import_ok(&opt, dir, sizeof dir, &rep);
    read_cube(dir, &c);
    cr_expect(eq(dbl, c.total, 22.0));
    cr_expect(eq(dbl, c.as[5][SET_MS], 8.0));
    cr_expect(eq(dbl, c.as[5][SET_RP] + c.as[5][SET_SS], 4.0));
    cr_expect(eq(dbl, c.as[12][SET_MS] + c.as[12][SET_SS] + c.as[12][SET_IS], 8.0));
    cr_expect(eq(dbl, c.as[0][SET_EY] + c.as[1][SET_EY] + c.as[2][SET_EY], 2.0));
    cr_expect(ne(ptr, strstr(rep.text, "age x placement cells vs All EHC plans: published 20, "
                             "reconciled to 22"), NULL), "%s", rep.text);
    import_report_free(&rep);
}

Test(import, makes_the_scenario_directory_and_its_missing_parents)
{
    import_options opt = { "Testborough", FIX "/sen2", NULL, NULL, NULL };
    import_report rep;
    sim_error err;
    char dir[64], out[128], file[160];

    make_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/scenarios/new", dir);
    opt.out_dir = out;
    cr_assert(eq(int, import_run(&opt, &rep, &err), SIM_OK), "%s", err.msg);
    snprintf(file, sizeof file, "%s/caseload.csv", out);
    cr_expect(eq(int, access(file, R_OK), 0));
    import_report_free(&rep);
    snprintf(file, sizeof file, "%s/caseload.csv/x", out);   /* a file where a directory is */
    opt.out_dir = file;
    cr_expect(eq(int, import_run(&opt, &rep, &err), SIM_EIO));
    cr_expect(ne(ptr, strstr(err.file, "caseload.csv"), NULL), "%s", err.file);
    import_report_free(&rep);
}

/* ---- error paths through the binary -------------------------------------------------- */

static th_result res;

/* Run `sendsim import --la LA --sen2 SEN2 [--sen2-2022 OLD]` into a new directory; expect it to
 * exit `code` having written nothing. Its stderr is left in res.err. */
static void import_refused(const char *la, const char *sen2, const char *old, int code)
{
    char dir[64], out[96];

    make_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    if (old)
        th_run((const char *[]){ "import", "--la", la, "--sen2", sen2, "--sen2-2022", old,
                              "--out", out, NULL }, &res);
    else
        th_run((const char *[]){ "import", "--la", la, "--sen2", sen2, "--out", out, NULL },
               &res);
    cr_expect(eq(int, res.code, code), "--la '%s': %s", la, res.err);
    cr_expect(eq(sz, files_in(out), 0));
}

Test(import, unknown_la_exits_65_naming_the_nearest_matches)
{
    import_refused("Testbrough", FIX "/sen2", NULL, 65);
    cr_expect(ne(ptr, strstr(res.err, "Testbrough'"), NULL), "%s", res.err);
    cr_expect(ne(ptr, strstr(res.err, "Testborough (999, E09999999)"), NULL), "%s", res.err);
    cr_expect(ne(ptr, strstr(res.err, "la_name, old_la_code or new_la_code"), NULL), "%s", res.err);
}

/* A typo of the first word of "Smallton, City of" is nearest to it, not to short names. */
Test(import, unknown_la_suggests_an_la_whose_name_has_a_word_like_it)
{
    import_refused("Smalton", EDGE "/sparse", NULL, 65);
    cr_expect(ne(ptr, strstr(res.err, "nearest: Smallton, City of (997, E06999997)"), NULL),
              "%s", res.err);
    cr_expect(ne(ptr, strstr(res.err, "caseload.csv"), NULL), "%s", res.err);
}

/* "Smallton" starts a word only in "Smallton, City of" (it is inside "Bismallton"); any case. */
Test(import, part_of_an_la_name_picks_the_one_la_it_starts_a_word_of)
{
    import_options opt = { "smallton", EDGE "/sparse", NULL, NULL, NULL };
    import_report rep;
    sim_error err;
    char dir[64];

    import_ok(&opt, dir, sizeof dir, &rep);
    cr_expect(eq(str, rep.area_code, "E06999997"));
    cr_expect(ne(ptr, strstr(rep.text, "--la 'smallton' is taken as Smallton, City of"), NULL),
              "%s", rep.text);
    import_report_free(&rep);
    opt.la = "ismallt";                              /* inside a word of one LA only */
    cr_assert(eq(int, import_run(&opt, &rep, &err), SIM_EDATA));   /* Bismallton: no base year */
    cr_expect(ne(ptr, strstr(err.msg, "Bismallton"), NULL), "%s", err.msg);
    import_report_free(&rep);
}

Test(import, part_of_a_name_shared_by_several_las_lists_them)
{
    import_refused("Smallshire", EDGE "/sparse", NULL, 65);
    cr_expect(ne(ptr, strstr(res.err, "'Smallshire' matches 2 local authorities"), NULL), "%s",
              res.err);
    cr_expect(ne(ptr, strstr(res.err, "North Smallshire (996, E10999996)"), NULL), "%s", res.err);
    cr_expect(ne(ptr, strstr(res.err, "South Smallshire (995, E10999995)"), NULL), "%s", res.err);
    cr_expect(ne(ptr, strstr(res.err, "la_name, old_la_code or new_la_code"), NULL), "%s", res.err);
}

Test(import, la_with_spaces_around_it_is_trimmed)
{
    import_options opt = { " \t997 ", EDGE "/sparse", NULL, NULL, NULL };
    import_report rep;
    char dir[64];

    import_ok(&opt, dir, sizeof dir, &rep);
    cr_expect(eq(str, rep.area_name, "Smallton, City of"));
    import_report_free(&rep);
}

Test(import, empty_la_is_a_usage_error_exit_64)
{
    for (const char *const *la = (const char *const[]){ "", "   ", NULL }; *la; la++) {
        import_refused(*la, FIX "/sen2", NULL, 64);
        cr_expect(ne(ptr, strstr(res.err, "--la is empty"), NULL), "%s", res.err);
        cr_expect(eq(ptr, strstr(res.err, "nearest"), NULL), "%s", res.err);
    }
}

/* 928 Northamptonshire is in the 2022 release only: the message says so instead of offering
 * unrelated LAs. */
Test(import, la_only_in_the_older_release_is_named_as_having_no_base_year)
{
    for (const char *const *la = (const char *const[]){ "928", "northamptonshire", NULL }; *la; la++) {
        import_refused(*la, FIX "/sen2", EDGE "/old-release", 65);
        cr_expect(ne(ptr, strstr(res.err, "Northamptonshire (928, E10000021) appears only in the "
                                 "older release"), NULL), "%s", res.err);
        cr_expect(ne(ptr, strstr(res.err, "last January 2021"), NULL), "%s", res.err);
        cr_expect(ne(ptr, strstr(res.err, "no base year"), NULL), "%s", res.err);
        cr_expect(ne(ptr, strstr(res.err, "la_name, old_la_code or new_la_code"), NULL), "%s",
                  res.err);
        cr_expect(eq(ptr, strstr(res.err, "Testborough"), NULL), "%s", res.err);
    }
    /* a code of the older release that caseload.csv gives under another code */
    import_refused("E09000099", FIX "/sen2", EDGE "/old-release", 65);
    cr_expect(ne(ptr, strstr(res.err, "this caseload.csv has Testborough (999, E09999999)"), NULL),
              "%s", res.err);
}

Test(import, missing_file_exits_66_naming_it)
{
    char dir[64], sen2[96], out[96];

    make_tmp(dir, sizeof dir);
    snprintf(sen2, sizeof sen2, "%s/sen2", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    cr_assert(mkdir(sen2, 0755) == 0);
    for (const char *const *f = (const char *const[]){ "caseload.csv", "sen_needs_all_plans.csv",
                                                       "ceased_plans.csv", NULL }; *f; f++) {
        char from[128], to[160];
        snprintf(from, sizeof from, FIX "/sen2/%s", *f);
        snprintf(to, sizeof to, "%s/%s", sen2, *f);
        copy_file(from, to);
    }
    th_run((const char *[]){ "import", "--la", "999", "--sen2", sen2, "--out", out, NULL }, &res);
    cr_expect(eq(int, res.code, 66));
    cr_expect(ne(ptr, strstr(res.err, "newplans.csv"), NULL), "%s", res.err);
    cr_expect(eq(sz, files_in(out), 0));
    th_run((const char *[]){ "import", "--la", "999", "--sen2", FIX "/sen2", "--population",
                          FIX "/no-such-population.csv", "--out", out, NULL }, &res);
    cr_expect(eq(int, res.code, 66));
    cr_expect(eq(sz, files_in(out), 0));
}

Test(import, missing_option_is_a_usage_error)
{
    th_run((const char *[]){ "import", "--la", "999", "--sen2", FIX "/sen2", NULL }, &res);
    cr_expect(eq(int, res.code, 64));
}

struct renamed { char file[40]; char column[48]; };

ParameterizedTestParameters(import, renamed_column_exits_65_naming_file_and_column)
{
    static struct renamed cases[] = {
        { "caseload.csv", "ehcplans" },
        { "caseload.csv", "mainstream_academy" },
        { "caseload.csv", "special_academy_free" },
        { "caseload.csv", "breakdown_topic" },
        { "caseload.csv", "old_la_code" },
        { "sen_needs_all_plans.csv", "number_asd" },
        { "newplans.csv", "new_ehc_plans" },
        { "ceased_plans.csv", "total_ceased" },
    };
    return cr_make_param_array(struct renamed, cases, sizeof cases / sizeof cases[0]);
}

/* The header's `column` becomes `column_renamed`; everything else is the fixture. */
ParameterizedTest(struct renamed *c, import, renamed_column_exits_65_naming_file_and_column)
{
    static const char *const FILES[] = { "caseload.csv", "sen_needs_all_plans.csv",
                                         "newplans.csv", "ceased_plans.csv" };
    char dir[64], sen2[96], out[96], want[160];

    make_tmp(dir, sizeof dir);
    snprintf(sen2, sizeof sen2, "%s/sen2", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    cr_assert(mkdir(sen2, 0755) == 0);
    for (size_t i = 0; i < 4; i++) {
        char from[128], to[160], *text = NULL, *hit, *nl;
        size_t n = strlen(c->column);
        snprintf(from, sizeof from, FIX "/sen2/%s", FILES[i]);
        snprintf(to, sizeof to, "%s/%s", sen2, FILES[i]);
        text = slurp(from, NULL);
        nl = strchr(text, '\n');
        if (strcmp(FILES[i], c->file) == 0) {
            char *fixed = malloc(strlen(text) + 16);
            for (hit = text; (hit = strstr(hit, c->column)) != NULL && hit < nl; hit++)
                if ((hit == text || hit[-1] == ',') && (hit[n] == ',' || hit[n] == '\n'))
                    break;
            cr_assert(hit != NULL && hit < nl, "no column %s in %s", c->column, c->file);
            memcpy(fixed, text, (size_t)(hit - text) + n);
            strcpy(fixed + (hit - text) + n, "_renamed");
            strcat(fixed, hit + n);
            free(text);
            text = fixed;
        }
        spit(to, text);
        free(text);
    }
    th_run((const char *[]){ "import", "--la", "999", "--sen2", sen2, "--out", out, NULL }, &res);
    cr_expect(eq(int, res.code, 65), "%s", res.err);
    snprintf(want, sizeof want, "%s/%s", sen2, c->file);
    cr_expect(ne(ptr, strstr(res.err, want), NULL), "%s", res.err);
    snprintf(want, sizeof want, "column '%s'", c->column);
    cr_expect(ne(ptr, strstr(res.err, want), NULL), "%s", res.err);
    cr_expect(eq(sz, files_in(out), 0));
}

/* ---- the shared data: every LA, national-like files, the shipped scenario ------------ */

struct area_case { char la[32]; char old_code[8]; };

ParameterizedTestParameters(import, every_shared_area_matches_dfe_margins_exactly)
{
    static struct area_case cases[] = {
        { "204", "204" }, { "Camden", "202" }, { "E09000019", "206" }, { "886", "886" },
        { "330", "330" }, { "908", "908" }, { "383", "383" }, { "857", "857" },
        { "921", "921" }, { "801", "801" }, { "926", "926" }, { "352", "352" },
        { "England", "" },
    };
    return cr_make_param_array(struct area_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct area_case *c, import, every_shared_area_matches_dfe_margins_exactly)
{
    import_options opt = { c->la, SEN2_25, SEN2_22, NULL, NULL };
    import_report rep;
    char dir[64];

    if (!have_shared())
        cr_skip_test("../shared/data is not there: run the tests from the repo root");
    import_ok(&opt, dir, sizeof dir, &rep);
    check_margins(dir, SEN2_25, c->old_code, rep.base_year);
    cr_expect(le(i64, rep.max_deviation, 1), "%s: largest need deviation %ld", c->la,
              rep.max_deviation);
    import_report_free(&rep);
}

/* A copy of a file with the rows shuffled, every row of other areas twice, and a made-up
 * extra LA (Camden's rows under other codes and name): what the national files look like. */
static void national_like(const char *from, const char *to, const char *keep_code)
{
    size_t len, n = 0, cap = 1024;
    char *text = slurp(from, &len), **line = malloc(cap * sizeof *line), *p = text, *nl;
    FILE *fp = fopen(to, "wb");
    unsigned long seed = 20250901UL;

    cr_assert(fp != NULL);
    while (*p) {
        if (n + 3 >= cap)
            line = realloc(line, (cap *= 2) * sizeof *line);
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        line[n++] = p;
        if (n > 1 && strstr(p, keep_code) == NULL)
            line[n++] = p;                   /* other areas' rows, twice */
        p = nl ? nl + 1 : p + strlen(p);
    }
    for (size_t i = n - 1; i > 1; i--) {     /* Fisher-Yates on the data rows */
        size_t j;
        char *tmp;
        seed = seed * 6364136223846793005UL + 1442695040888963407UL;
        j = 1 + (size_t)((seed >> 33) % i);
        tmp = line[i]; line[i] = line[j]; line[j] = tmp;
    }
    for (size_t i = 0; i < n; i++) {
        fprintf(fp, "%s\n", line[i]);
        if (i > 0 && strstr(line[i], "E09000007")) {   /* Camden -> a made-up LA */
            char buf[4096], *q;
            snprintf(buf, sizeof buf, "%s", line[i]);
            while ((q = strstr(buf, "E09000007")) != NULL) memcpy(q, "E09999997", 9);
            while ((q = strstr(buf, ",202,")) != NULL) memcpy(q, ",997,", 5);
            while ((q = strstr(buf, "Camden")) != NULL) memcpy(q, "Kamden", 6);
            fprintf(fp, "%s\n", buf);
        }
    }
    cr_assert(fclose(fp) == 0);
    free(line);
    free(text);
}

struct nat_case { char la[32]; char code[16]; };

ParameterizedTestParameters(import, national_like_files_give_identical_scenario_csvs)
{
    static struct nat_case cases[] = { { "204", "E09000012" }, { "Bristol, City of", "E06000023" } };
    return cr_make_param_array(struct nat_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct nat_case *c, import, national_like_files_give_identical_scenario_csvs)
{
    static const char *const F25[] = { "caseload.csv", "sen_needs_all_plans.csv", "newplans.csv",
                                       "ceased_plans.csv" };
    static const char *const F22[] = { "sen2_age_caseload.csv", "sen2_age_new_plans.csv",
                                       "sen2_mi.csv" };
    char dir[64], n25[96], n22[96], cut[96], nat[96], a[160], b[160];
    import_options opt = { c->la, SEN2_25, SEN2_22, NULL, NULL };
    import_report rep;
    sim_error err;

    if (!have_shared())
        cr_skip_test("../shared/data is not there: run the tests from the repo root");
    make_tmp(dir, sizeof dir);
    snprintf(n25, sizeof n25, "%s/s25", dir);
    snprintf(n22, sizeof n22, "%s/s22", dir);
    snprintf(cut, sizeof cut, "%s/cut", dir);
    snprintf(nat, sizeof nat, "%s/nat", dir);
    cr_assert(mkdir(n25, 0755) == 0 && mkdir(n22, 0755) == 0);
    for (size_t i = 0; i < 4; i++) {
        snprintf(a, sizeof a, SEN2_25 "/%s", F25[i]);
        snprintf(b, sizeof b, "%s/%s", n25, F25[i]);
        national_like(a, b, c->code);
    }
    for (size_t i = 0; i < 3; i++) {
        snprintf(a, sizeof a, SEN2_22 "/%s", F22[i]);
        snprintf(b, sizeof b, "%s/%s", n22, F22[i]);
        national_like(a, b, c->code);
    }
    opt.out_dir = cut;
    cr_assert(eq(int, import_run(&opt, &rep, &err), SIM_OK), "%s", err.msg);
    import_report_free(&rep);
    opt = (import_options){ c->la, n25, n22, NULL, nat };
    cr_assert(eq(int, import_run(&opt, &rep, &err), SIM_OK), "%s", err.msg);
    import_report_free(&rep);
    for (const char *const *f = (const char *const[]){ "caseload.csv", "history.csv", NULL }; *f; f++) {
        snprintf(a, sizeof a, "%s/%s", cut, *f);
        snprintf(b, sizeof b, "%s/%s", nat, *f);
        cr_expect(same_file(a, b), "%s: %s differs", c->la, *f);
    }
}

/* DfE names some LAs "Bristol, City of", "County Durham", ...: the common part is enough. */
Test(import, bristol_is_bristol_city_of_in_the_real_files)
{
    import_options opt = { "Bristol", SEN2_25, NULL, NULL, NULL };
    import_report rep;
    char dir[64];

    if (!have_shared())
        cr_skip_test("../shared/data is not there: run the tests from the repo root");
    import_ok(&opt, dir, sizeof dir, &rep);
    cr_expect(eq(str, rep.area_code, "E06000023"));
    cr_expect(eq(str, rep.area_name, "Bristol, City of"));
    import_report_free(&rep);
}

/* The shipped scenario is what the command in scenarios/hackney/README.md makes. */
Test(import, binary_reproduces_the_shipped_hackney_scenario)
{
    char dir[64], out[96], a[160], b[160];

    if (!have_shared())
        cr_skip_test("../shared/data is not there: run the tests from the repo root");
    make_tmp(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/hackney", dir);
    th_run((const char *[]){ "import", "--la", "204", "--sen2", SEN2_25, "--sen2-2022", SEN2_22,
                          "--population", ONS, "--out", out, NULL }, &res);
    cr_assert(eq(int, res.code, 0), "%s", res.err);
    for (const char *const *f = (const char *const[]){ "caseload.csv", "history.csv",
                                                       "population.csv", NULL }; *f; f++) {
        snprintf(a, sizeof a, "%s/%s", out, *f);
        snprintf(b, sizeof b, "scenarios/hackney/%s", *f);
        cr_expect(same_file(a, b), "%s differs from scenarios/hackney", *f);
    }
}
