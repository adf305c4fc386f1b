/* test_scenario.c - scenario_load(): the valid fixture, defaults, and one malformed fixture
 * per validation rule (tests/data/scenario/bad/), each with its located message. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"

static const char VALID[] = "tests/data/scenario/valid/scenario.ini";
static const char BAD[] = "tests/data/scenario/bad/";

static scenario *load_ok(const char *path)
{
    static sim_diag diag;
    scenario *sc = NULL;
    sim_status st = scenario_load(path, &sc, &diag);

    cr_assert(eq(int, st, SIM_OK), "%s: %s", path, diag.n ? diag.items[0].msg : "");
    cr_assert(sc != NULL);
    return sc;
}

/* `s` with every occurrence of BAD removed, into buf[n]. */
static void strip_dir(const char *s, char *buf, size_t n)
{
    size_t used = 0, len = strlen(BAD);

    while (*s && used + 1 < n) {
        if (strncmp(s, BAD, len) == 0)
            s += len;
        else
            buf[used++] = *s++;
    }
    buf[used] = '\0';
}

/* ---- the valid fixture ------------------------------------------------------------------- */

Test(scenario, valid_fixture_reads_every_ini_value)
{
    scenario *sc = load_ok(VALID);

    cr_expect(eq(str, sc->name, "Test borough"));
    cr_expect(eq(str, sc->la_code, "999"));
    cr_expect(eq(int, sc->base_year, 2025));
    cr_expect(eq(int, sc->horizon, 10));
    cr_expect(eq(long, sc->replications, 500));
    cr_expect(eq(ulong, sc->seed, 20240901UL));
    cr_expect(eq(int, sc->trend_window, 5));
    cr_expect(eq(dbl, sc->damping, 0.85));
    cr_expect(eq(dbl, sc->incidence_multiplier, 1.0));
    cr_expect(lt(dbl, sc->overdispersion, 0.0));         /* auto */
    cr_expect(eq(sz, sc->n_order, 3));
    cr_expect(eq(int, sc->order[0], GROUP_RP));
    cr_expect(eq(int, sc->order[1], GROUP_SS));
    cr_expect(eq(int, sc->order[2], GROUP_IS));
    cr_expect(eq(dbl, sc->risk_target, 0.1));
    cr_expect(eq(dbl, sc->inflation, 0.025));
    scenario_free(sc);
}

Test(scenario, valid_fixture_reads_caseload_and_history)
{
    scenario *sc = load_ok(VALID);
    double total = 0.0;

    for (int a = 0; a < SIM_N_AGES; a++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++)
                total += sc->caseload[a][n][s];
    cr_expect(eq(dbl, total, 92.0));
    cr_expect(eq(dbl, sc->caseload[12][NEED_ASD][SET_SS], 23.0));
    cr_expect(eq(dbl, sc->caseload[21][NEED_PMLD][SET_FE], 2.0));
    cr_expect(eq(dbl, sc->caseload[4][NEED_ASD][SET_RP], 0.0));
    cr_assert(eq(sz, sc->n_history, 13));
    cr_expect(eq(int, sc->history[2].year, 2022));
    cr_expect(eq(int, sc->history[2].age_from, 11));
    cr_expect(eq(int, sc->history[2].age_to, 15));
    cr_expect(eq(int, sc->history[2].measure, MEASURE_CASELOAD));
    cr_expect(eq(dbl, sc->history[2].count, 27.0));
    cr_expect(eq(int, sc->history[8].measure, MEASURE_NEW_PLANS));
    cr_expect(eq(dbl, sc->history[8].count, 21.0));
    cr_expect(eq(int, sc->history[12].measure, MEASURE_CEASED));
    scenario_free(sc);
}

Test(scenario, census_year_population_is_the_previous_mid_year)
{
    scenario *sc = load_ok(VALID);

    cr_expect(eq(int, sc->pop_first_year, 2023));
    cr_expect(eq(int, sc->pop_last_year, 2025));
    cr_expect(eq(dbl, scenario_population(sc, 2025, 4), 3079.5));     /* mid-2024, age 4 */
    cr_expect(eq(dbl, scenario_population(sc, 2026, 25), 3447.5));    /* mid-2025, age 25 */
    cr_expect(eq(dbl, scenario_population(sc, 2024, 0), 3000.0));     /* mid-2023, age 0 */
    cr_expect(lt(dbl, scenario_population(sc, 2023, 4), 0.0));        /* mid-2022: none */
    cr_expect(lt(dbl, scenario_population(sc, 2027, 4), 0.0));        /* mid-2026: none */
    cr_expect(lt(dbl, scenario_population(sc, 2025, 26), 0.0));
    scenario_free(sc);
}

Test(scenario, valid_fixture_reads_provisions_and_waves)
{
    scenario *sc = load_ok(VALID);

    cr_assert(eq(sz, sc->n_provisions, 4));
    cr_expect(eq(str, sc->provisions[0].id, "ARP1"));
    cr_expect(eq(str, sc->provisions[0].name, "Oak Primary ARP, ASD base"));
    cr_expect(eq(int, sc->provisions[0].group, GROUP_RP));
    cr_expect(eq(u32, sc->provisions[0].needs, 1u << NEED_ASD));
    cr_expect(eq(u32, sc->provisions[1].needs,
                 (1u << NEED_ASD) | (1u << NEED_SLD) | (1u << NEED_PMLD)));
    cr_expect(eq(u32, sc->provisions[3].needs, (1u << SIM_N_NEEDS) - 1u));   /* '*' */
    cr_expect(eq(int, sc->provisions[1].age_from, 4));
    cr_expect(eq(int, sc->provisions[1].age_to, 18));
    cr_expect(eq(dbl, sc->provisions[1].places, 120.0));
    cr_expect(lt(dbl, sc->provisions[1].annual_cost, 0.0));       /* empty: unset */
    cr_expect(eq(dbl, sc->provisions[2].annual_cost, 24000.0));
    cr_assert(eq(sz, sc->n_waves, 4));
    cr_expect(eq(str, sc->waves[0].wave, "wave 1"));
    cr_expect(eq(sz, sc->waves[0].provision, 2));
    cr_expect(eq(dbl, sc->waves[0].places, 12.0));
    cr_expect(eq(int, sc->waves[0].open_year, 2026));
    cr_expect(eq(dbl, sc->waves[0].capital_cost, 1200000.0));
    cr_expect(eq(dbl, sc->waves[1].capital_cost, 0.0));           /* empty: none */
    cr_expect(eq(dbl, sc->waves[3].places, -4.0));
    scenario_free(sc);
}

Test(scenario, a_wave_opening_in_september_counts_from_the_next_january)
{
    scenario *sc = load_ok(VALID);

    cr_expect(eq(dbl, scenario_capacity(sc, 2, 2026), 0.0));      /* ARP2 opens Sept 2026 */
    cr_expect(eq(dbl, scenario_capacity(sc, 2, 2027), 12.0));
    cr_expect(eq(dbl, scenario_capacity(sc, 1, 2026), 120.0));    /* SS1 +8 in 2026, -4 2029 */
    cr_expect(eq(dbl, scenario_capacity(sc, 1, 2027), 128.0));
    cr_expect(eq(dbl, scenario_capacity(sc, 1, 2029), 128.0));
    cr_expect(eq(dbl, scenario_capacity(sc, 1, 2030), 124.0));
    cr_expect(eq(dbl, scenario_capacity(sc, 0, 2029), 20.0));     /* ARP1 +6 Sept 2028 */
    cr_expect(eq(dbl, scenario_capacity(sc, 3, 2040), 20.0));     /* no waves */
    scenario_free(sc);
}

Test(scenario, valid_fixture_reads_preferences_and_costs)
{
    scenario *sc = load_ok(VALID);

    cr_expect(eq(int, sc->has_preferences, 1));
    cr_expect(eq(dbl, sc->pref[PHASE_PRI][NEED_ASD][SET_RP], 0.3));
    cr_expect(eq(dbl, sc->pref[PHASE_SEC][NEED_SEMH][SET_IS], 0.15));
    cr_expect(eq(int, sc->pref_given[PHASE_PRI][NEED_ASD], 1));
    cr_expect(eq(int, sc->pref_given[PHASE_SEC][NEED_ASD], 0));
    cr_expect(eq(dbl, sc->cost[SET_MS][PHASE_PRI], 6000.0));       /* from '*' */
    cr_expect(eq(dbl, sc->cost[SET_MS][PHASE_P19], 6000.0));
    cr_expect(eq(dbl, sc->cost[SET_SS][PHASE_SEC], 26000.0));
    cr_expect(eq(dbl, sc->cost[SET_SS][PHASE_P16], 31000.0));      /* a phase beats '*' */
    cr_expect(eq(dbl, sc->cost[SET_FE][PHASE_P19], 14000.0));
    cr_expect(lt(dbl, sc->cost[SET_FE][PHASE_P16], 0.0));          /* not given */
    cr_expect(lt(dbl, sc->cost[SET_AP][PHASE_PRI], 0.0));
    scenario_free(sc);
}

static unsigned long crc_of_file(const char *path)
{
    static char buf[1 << 16];
    FILE *fp = fopen(path, "rb");
    size_t n;

    cr_assert(fp != NULL, "%s", path);
    n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    return scenario_crc32(buf, n);
}

Test(scenario, every_file_read_is_recorded_with_its_crc32)
{
    static const char *const ROLE[] = { "scenario", "caseload", "history", "population",
                                        "provisions", "waves", "preferences", "costs" };
    scenario *sc = load_ok(VALID);

    cr_assert(eq(sz, sc->n_files, 8));
    cr_expect(eq(str, sc->files[0].path, (char *)VALID));
    cr_expect(eq(str, sc->files[1].path, "tests/data/scenario/valid/caseload.csv"));
    for (size_t i = 0; i < 8; i++) {
        cr_expect(eq(str, sc->files[i].role, (char *)ROLE[i]));
        cr_expect(eq(ulong, sc->files[i].crc32, crc_of_file(sc->files[i].path)));
    }
    scenario_free(sc);
}

Test(scenario, crc32_matches_the_standard_check_value)
{
    cr_expect(eq(ulong, scenario_crc32("123456789", 9), 0xCBF43926UL));
    cr_expect(eq(ulong, scenario_crc32("", 0), 0UL));
}

/* ---- defaults and other forms ----------------------------------------------------------- */

Test(scenario, a_minimal_ini_gets_every_documented_default)
{
    scenario *sc = load_ok("tests/data/scenario/minimal.ini");

    cr_expect(eq(str, sc->la_code, "E09000099"));
    cr_expect(eq(int, sc->horizon, 15));
    cr_expect(eq(long, sc->replications, 10000));
    cr_expect(eq(ulong, sc->seed, 1UL));
    cr_expect(eq(int, sc->trend_window, 8));
    cr_expect(eq(dbl, sc->damping, 0.9));
    cr_expect(eq(dbl, sc->incidence_multiplier, 1.0));
    cr_expect(eq(dbl, sc->overdispersion, -1.0));
    cr_expect(eq(sz, sc->n_order, 3));
    cr_expect(eq(int, sc->order[2], GROUP_IS));
    cr_expect(eq(dbl, sc->risk_target, 0.10));
    cr_expect(eq(dbl, sc->inflation, 0.03));
    cr_expect(sc->pop == NULL);
    cr_expect(lt(dbl, scenario_population(sc, 2025, 4), 0.0));
    cr_expect(eq(sz, sc->n_provisions, 0));
    cr_expect(eq(sz, sc->n_waves, 0));
    cr_expect(eq(int, sc->has_preferences, 0));
    cr_expect(lt(dbl, sc->cost[SET_SS][PHASE_SEC], 0.0));
    cr_expect(eq(sz, sc->n_files, 3));
    cr_expect(eq(str, sc->files[1].path, "tests/data/scenario/valid/caseload.csv"));
    scenario_free(sc);
}

Test(scenario, an_ini_with_bom_and_crlf_reads_like_the_plain_one)
{
    scenario *sc = load_ok("tests/data/scenario/crlf_bom.ini");

    cr_expect(eq(str, sc->name, "Test borough"));
    cr_expect(eq(int, sc->base_year, 2025));
    cr_expect(eq(str, sc->files[7].path, "tests/data/scenario/valid/costs.csv"));
    cr_expect(eq(dbl, sc->inflation, 0.025));
    scenario_free(sc);
}

/* Write an INI into a fresh temp dir naming the valid CSVs by absolute path; load it. */
static sim_status load_text(const char *body, scenario **sc, sim_diag *diag)
{
    char dir[] = "/tmp/sendsim-test-XXXXXX", path[PATH_MAX + 32], valid[PATH_MAX];
    FILE *fp;
    sim_status st;

    cr_assert(mkdtemp(dir) != NULL);
    cr_assert(getcwd(valid, sizeof valid - 32) != NULL);
    strcat(valid, "/tests/data/scenario/valid");
    snprintf(path, sizeof path, "%s/s.ini", dir);
    fp = fopen(path, "w");
    cr_assert(fp != NULL);
    fprintf(fp, "[scenario]\nname = T\nla_code = 204\nbase_year = 2025\n%s\n[data]\n"
            "caseload = %s/caseload.csv\nhistory = %s/history.csv\n", body, valid, valid);
    fclose(fp);
    memset(diag, 0, sizeof *diag);
    st = scenario_load(path, sc, diag);
    remove(path);
    rmdir(dir);
    return st;
}

Test(scenario, absolute_data_paths_numbers_and_orders_are_read)
{
    sim_diag diag;
    scenario *sc = NULL;

    cr_assert(eq(int, load_text("seed = 0\nhorizon = 50\n[demand]\noverdispersion = 0.35\n"
                                "damping = 1e-1\n[allocation]\norder = IS,RP\n"
                                "risk_target = 0.05", &sc, &diag), SIM_OK));
    cr_expect(eq(ulong, sc->seed, 0UL));
    cr_expect(eq(int, sc->horizon, 50));
    cr_expect(eq(dbl, sc->overdispersion, 0.35));
    cr_expect(eq(dbl, sc->damping, 0.1));
    cr_expect(eq(sz, sc->n_order, 2));
    cr_expect(eq(int, sc->order[0], GROUP_IS));
    cr_expect(eq(int, sc->order[1], GROUP_RP));
    cr_expect(eq(dbl, sc->risk_target, 0.05));
    scenario_free(sc);
}

Test(scenario, an_empty_section_with_an_unknown_name_is_reported)
{
    sim_diag diag;
    scenario *sc = (scenario *)&diag;      /* must stay untouched */

    cr_assert(eq(int, load_text("[output]\n", &sc, &diag), SIM_EDATA));
    cr_expect(sc == (scenario *)&diag);
    cr_assert(eq(sz, diag.n, 1));
    cr_expect(eq(sz, diag.items[0].line, 5));
    cr_expect(eq(str, diag.items[0].msg, "unknown section [output] (expected one of: scenario, "
                 "data, demand, allocation, costs)"));
}

/* ---- malformed fixtures: one per rule --------------------------------------------------- */

struct bad_case { char name[48]; sim_status st; char msg[400]; };

ParameterizedTestParameters(scenario, rejects_each_malformed_fixture_with_a_located_message)
{
    static struct bad_case cases[] = {
        { "caseload_age_range", SIM_EDATA,
          "caseload_age_range.csv:11: column 'age': 26 is out of range (expected "
          "0 to 25)" },
        { "caseload_bad_need", SIM_EDATA,
          "caseload_bad_need.csv:5: column 'need': 'SEMN' is not a need code "
          "(expected one of: "
          "ASD,HI,MLD,MSI,OTH,PD,PMLD,SEMH,SLCN,SLD,SPLD,VI,UNK)" },
        { "caseload_bad_setting", SIM_EDATA,
          "caseload_bad_setting.csv:5: column 'setting': 'MSX' is not a setting "
          "code (expected one of: MS,RP,SS,IS,AP,FE,SPI,EY,ELS,NEET,UNK)" },
        { "caseload_duplicate", SIM_EDATA,
          "caseload_duplicate.csv:12: a second row for age 9, need ASD, setting "
          "SS (first on line 6; expected one row each)" },
        { "caseload_fraction", SIM_EDATA,
          "caseload_fraction.csv:7: column 'count': '2.5' is not a whole number" },
        { "caseload_missing_column", SIM_EDATA,
          "caseload_missing_column.csv:1: header: missing column 'setting' "
          "(expected columns: age,need,setting,count)" },
        { "caseload_negative", SIM_EDATA,
          "caseload_negative.csv:7: column 'count': '-3' is not a whole number "
          "(counts cannot be negative)" },
        { "caseload_no_rows", SIM_EDATA,
          "caseload_no_rows.csv: no data rows (expected at least one row after "
          "the header)" },
        { "caseload_ragged", SIM_EDATA,
          "caseload_ragged.csv:7: 3 fields, expected 4 as in the header" },
        { "caseload_suppressed", SIM_EDATA,
          "caseload_suppressed.csv:7: column 'count': 'c' is a suppression "
          "marker (expected a whole number)" },
        { "caseload_unknown_column", SIM_EDATA,
          "caseload_unknown_column.csv:1: header: unknown column 'note' "
          "(expected columns: age,need,setting,count)" },
        { "costs_bad_phase", SIM_EDATA,
          "costs_bad_phase.csv:7: column 'phase': 'P20' is not a phase code "
          "(expected '*' for every phase or one of: EY,PRI,SEC,P16,P19)" },
        { "costs_duplicate", SIM_EDATA,
          "costs_duplicate.csv:8: a second row for setting MS, phase * (first on "
          "line 2; expected one row each)" },
        { "costs_negative", SIM_EDATA,
          "costs_negative.csv:6: column 'annual_cost': -62000 is out of range "
          "(expected a number from 0 to 1e+09)" },
        { "history_after_base_year", SIM_EDATA,
          "history_after_base_year.csv:12: column 'year': 2026 is out of range "
          "(expected 2000 to 2025)" },
        { "history_base_gap", SIM_EDATA,
          "../valid/history.csv: the latest caseload is January 2025, but base_year is 2030 "
          "(expected the base year to be the January after the history's last, or that "
          "January itself: caseload.csv is the base-year census)" },
        { "history_age_order", SIM_EDATA,
          "history_age_order.csv:5: column 'age_to': 16 is below age_from 19 "
          "(expected age_from <= age_to)" },
        { "history_bad_measure", SIM_EDATA,
          "history_bad_measure.csv:14: column 'measure': 'leavers' is not a "
          "measure code (expected one of: caseload,new_plans,ceased)" },
        { "history_duplicate", SIM_EDATA,
          "history_duplicate.csv:15: a second new_plans row for 2023, ages 0-25 "
          "(first on line 11; expected one row each)" },
        { "history_year_range", SIM_EDATA,
          "history_year_range.csv:2: column 'year': 1999 is out of range "
          "(expected 2000 to 2025)" },
        { "ini_bad_auto", SIM_EDATA,
          "ini_bad_auto.ini:23: [demand] overdispersion: 'automatic' is not a "
          "number (expected a number from 0 to 100, or 'auto')" },
        { "ini_bad_int", SIM_EDATA,
          "ini_bad_int.ini:6: [scenario] horizon: '10x' is not a number "
          "(expected a whole number from 1 to 50)" },
        { "ini_bad_order", SIM_EDATA,
          "ini_bad_order.ini:26: [allocation] order: 'XX' is not a group code "
          "(expected group codes joined by ',' from: RP,SS,IS,MS,P16,AP)" },
        { "ini_bad_real", SIM_EDATA,
          "ini_bad_real.ini:21: [demand] damping: 'nan' is not a number "
          "(expected a number from 0 to 1)" },
        { "ini_base_year_range", SIM_EDATA,
          "ini_base_year_range.ini:5: [scenario] base_year: '1999' is out of "
          "range (expected a whole number from 2000 to 2100)" },
        { "ini_before_section", SIM_EDATA,
          "ini_before_section.ini:1: key 'horizon' comes before any section "
          "(expected a [section] line first)" },
        { "ini_control_char", SIM_EDATA,
          "ini_control_char.ini:4: [scenario] la_code: contains a control "
          "character (expected plain text)" },
        { "ini_dup_key", SIM_EDATA,
          "ini_dup_key.ini:7: [scenario] horizon: given twice (first on line 6)" },
        { "ini_dup_order", SIM_EDATA,
          "ini_dup_order.ini:26: [allocation] order: 'RP' appears twice "
          "(expected each group at most once)" },
        { "ini_empty_name", SIM_EDATA,
          "ini_empty_name.ini:3: [scenario] name: '' has 0 characters (expected "
          "1 to 127)" },
        { "ini_empty_path", SIM_EDATA,
          "ini_empty_path.ini:12: [data] history: empty (expected a file name "
          "relative to ini_empty_path.ini)" },
        { "ini_hex_real", SIM_EDATA,
          "ini_hex_real.ini:21: [demand] damping: '0x1p-1' is not a number "
          "(expected a number from 0 to 1)" },
        { "ini_int_fraction", SIM_EDATA,
          "ini_int_fraction.ini:20: [demand] trend_window: '5.5' is not a number "
          "(expected a whole number from 2 to 30)" },
        { "ini_int_range", SIM_EDATA,
          "ini_int_range.ini:6: [scenario] horizon: '0' is out of range "
          "(expected a whole number from 1 to 50)" },
        { "ini_long_line", SIM_EDATA,
          "ini_long_line.ini:3: the line is longer than 198 characters or holds "
          "a NUL byte (expected a short 'key = value' line)" },
        { "ini_missing_base_year", SIM_EDATA,
          "ini_missing_base_year.ini: [scenario] base_year is missing (expected "
          "a value for it)" },
        { "ini_missing_caseload", SIM_EDATA,
          "ini_missing_caseload.ini: [data] caseload is missing (expected a "
          "value for it)" },
        { "ini_missing_file", SIM_ENOENT,
          "nowhere.csv: cannot open the caseload file: No such file or directory" },
        { "ini_open_range", SIM_EDATA,
          "ini_open_range.ini:27: [allocation] risk_target: '1' is out of range "
          "(expected a number strictly between 0 and 1)" },
        { "ini_real_range", SIM_EDATA,
          "ini_real_range.ini:21: [demand] damping: '1.5' is out of range "
          "(expected a number from 0 to 1)" },
        { "ini_seed_negative", SIM_EDATA,
          "ini_seed_negative.ini:8: [scenario] seed: '-1' is out of range "
          "(expected a whole number from 0 to 4294967295)" },
        { "ini_syntax", SIM_EDATA,
          "ini_syntax.ini:6: cannot parse this line (expected '[section]', 'key "
          "= value' or a comment starting with ';' or '#')" },
        { "ini_unknown_key", SIM_EDATA,
          "ini_unknown_key.ini:21: unknown key 'trend' in [demand] (expected one "
          "of: trend_window, damping, incidence_multiplier, overdispersion)" },
        { "ini_unknown_section", SIM_EDATA,
          "ini_unknown_section.ini:32: unknown section [extra] (expected one of: "
          "scenario, data, demand, allocation, costs)" },
        { "population_duplicate", SIM_EDATA,
          "population_duplicate.csv:80: a second row for year 2024, age 7 (first "
          "on line 35; expected one row each)" },
        { "population_missing_age", SIM_EDATA,
          "population_missing_age.csv: year 2024 has no row for age 7 (expected "
          "ages 0-25 for every year from 2023 to 2026)" },
        { "population_negative", SIM_EDATA,
          "population_negative.csv:80: column 'count': -3100 is out of range "
          "(expected a number from 0 to 1e+09)" },
        { "population_no_rows", SIM_EDATA,
          "population_no_rows.csv: no data rows (expected at least one row after "
          "the header)" },
        { "population_year_range", SIM_EDATA,
          "population_year_range.csv:80: column 'year': 2101 is out of range "
          "(expected 2000 to 2100)" },
        { "preferences_bad_phase", SIM_EDATA,
          "preferences_bad_phase.csv:7: column 'phase': 'KS3' is not a phase "
          "code (expected one of: EY,PRI,SEC,P16,P19)" },
        { "preferences_duplicate", SIM_EDATA,
          "preferences_duplicate.csv:8: a second row for phase PRI, need ASD, "
          "setting MS (first on line 2; expected one row each)" },
        { "preferences_share_range", SIM_EDATA,
          "preferences_share_range.csv:2: column 'share': 1.5 is out of range "
          "(expected a number from 0 to 1)" },
        { "preferences_sum", SIM_EDATA,
          "preferences_sum.csv:2: the shares for phase PRI, need ASD sum to 0.9 "
          "(expected 1, within 1e-6)" },
        { "provisions_age_order", SIM_EDATA,
          "provisions_age_order.csv:4: column 'age_to': 11 is below age_from 15 "
          "(expected age_from <= age_to)" },
        { "provisions_bad_group", SIM_EDATA,
          "provisions_bad_group.csv:3: column 'group': 'SPEC' is not a group "
          "code (expected one of: RP,SS,IS,MS,P16,AP)" },
        { "provisions_bad_needs", SIM_EDATA,
          "provisions_bad_needs.csv:3: column 'needs': 'ASD;XX': 'XX' is not a "
          "need code (expected '*' or need codes joined by ';' from: "
          "ASD,HI,MLD,MSI,OTH,PD,PMLD,SEMH,SLCN,SLD,SPLD,VI,UNK)" },
        { "provisions_dup_need", SIM_EDATA,
          "provisions_dup_need.csv:3: column 'needs': 'ASD;SLD;ASD': 'ASD' is "
          "given twice (expected '*' or need codes joined by ';' from: "
          "ASD,HI,MLD,MSI,OTH,PD,PMLD,SEMH,SLCN,SLD,SPLD,VI,UNK)" },
        { "provisions_duplicate_id", SIM_EDATA,
          "provisions_duplicate_id.csv:5: column 'id': 'SS1' is already the id "
          "of an earlier row (expected each id once)" },
        { "provisions_empty_id", SIM_EDATA,
          "provisions_empty_id.csv:4: column 'id': '' is empty or too long "
          "(expected 1 to 63 characters)" },
        { "provisions_empty_need", SIM_EDATA,
          "provisions_empty_need.csv:3: column 'needs': 'ASD;;SLD': '' is not a "
          "need code (expected '*' or need codes joined by ';' from: "
          "ASD,HI,MLD,MSI,OTH,PD,PMLD,SEMH,SLCN,SLD,SPLD,VI,UNK)" },
        { "waves_fraction_places", SIM_EDATA,
          "waves_fraction_places.csv:4: column 'places': '6.5' is not a whole "
          "number (expected -100000 to 100000)" },
        { "waves_negative_capacity", SIM_EDATA,
          "waves_negative_capacity.csv:5: wave 'wave 2' leaves provision 'SS1' "
          "with -72 places from 2030 (expected places to stay at 0 or more)" },
        { "waves_repeated_row", SIM_EDATA,
          "waves_repeated_row.csv:4: wave 'wave 1' opens provision "
          "'SS1' in 2026 again (line 3 has it; expected one row per wave, provision and "
          "year: put the places in one row)" },
        { "waves_unknown_provision", SIM_EDATA,
          "waves_unknown_provision.csv:4: column 'provision_id': 'ARP9' is not "
          "in ../valid/provisions.csv (expected the id of a provision; a new one "
          "is listed there with places 0)" },
        { "waves_without_provisions", SIM_EDATA,
          "waves_without_provisions.ini: [data] waves is given without "
          "provisions (expected a provisions file listing every provision a wave "
          "names)" },
        { "waves_year_range", SIM_EDATA,
          "waves_year_range.csv:4: column 'open_year': 1999 is out of range "
          "(expected 2000 to 2100)" },
    };
    return cr_make_param_array(struct bad_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_case *c, scenario,
                  rejects_each_malformed_fixture_with_a_located_message)
{
    char path[128], got[1024], line[1024];
    sim_diag *diag = calloc(1, sizeof *diag);
    scenario *sc = NULL;

    snprintf(path, sizeof path, "%s%s.ini", BAD, c->name);
    cr_assert(eq(int, scenario_load(path, &sc, diag), c->st));
    cr_expect(sc == NULL);
    cr_assert(ge(sz, diag->n, 1));
    sim_error_format(&diag->items[0], line, sizeof line);
    strip_dir(line, got, sizeof got);
    cr_expect(eq(str, got, c->msg));
    free(diag);
}

Test(scenario, check_goes_on_after_a_bad_row_and_lists_every_error)
{
    sim_diag *diag = calloc(1, sizeof *diag);
    scenario *sc = NULL;

    cr_assert(eq(int, scenario_load("tests/data/scenario/bad/many_errors.ini", &sc, diag),
                 SIM_EDATA));
    cr_assert(eq(sz, diag->n, 3));
    cr_expect(eq(sz, diag->total, 3));
    cr_expect(eq(sz, diag->items[0].line, 3));
    cr_expect(eq(str, diag->items[0].key, "count"));
    cr_expect(eq(sz, diag->items[1].line, 5));
    cr_expect(eq(str, diag->items[1].key, "age"));
    cr_expect(eq(sz, diag->items[2].line, 10));
    cr_expect(eq(str, diag->items[2].key, "setting"));
    free(diag);
}

struct one_error { char name[48]; };

ParameterizedTestParameters(scenario, an_error_is_reported_once_without_follow_on_errors)
{
    static struct one_error cases[] = {
        { "provisions_bad_group" },         /* waves naming that provision stay quiet */
        { "provisions_bad_needs" },
        { "ini_unknown_section" },          /* the keys in it are not reported again */
        { "ini_bad_int" },                  /* a bad value is not also "missing" */
        { "waves_without_provisions" },
        { "caseload_duplicate" },
    };
    return cr_make_param_array(struct one_error, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct one_error *c, scenario,
                  an_error_is_reported_once_without_follow_on_errors)
{
    char path[128];
    sim_diag *diag = calloc(1, sizeof *diag);
    scenario *sc = NULL;

    snprintf(path, sizeof path, "%s%s.ini", BAD, c->name);
    cr_assert(eq(int, scenario_load(path, &sc, diag), SIM_EDATA));
    cr_expect(eq(sz, diag->total, 1), "%s: %zu errors", c->name, diag->total);
    free(diag);
}

Test(scenario, errors_beyond_the_diag_limit_are_counted_not_kept)
{
    sim_diag *diag = calloc(1, sizeof *diag);
    scenario *sc = NULL;

    cr_assert(eq(int, scenario_load("tests/data/scenario/bad/too_many_errors.ini", &sc, diag),
                 SIM_EDATA));
    cr_expect(eq(sz, diag->n, SIM_DIAG_MAX));
    cr_expect(eq(sz, diag->total, 60));
    cr_expect(eq(sz, diag->items[SIM_DIAG_MAX - 1].line, SIM_DIAG_MAX + 1));
    free(diag);
}

Test(scenario, a_missing_ini_is_enoent_and_a_null_diag_is_allowed)
{
    sim_diag *diag = calloc(1, sizeof *diag);
    scenario *sc = NULL;

    cr_assert(eq(int, scenario_load("tests/data/scenario/nowhere.ini", &sc, diag), SIM_ENOENT));
    cr_expect(sc == NULL);
    cr_assert(eq(sz, diag->n, 1));
    cr_expect(eq(str, diag->items[0].file, "tests/data/scenario/nowhere.ini"));
    cr_expect(eq(str, diag->items[0].msg, "cannot open the scenario file: No such file or "
                 "directory"));
    cr_expect(eq(int, scenario_load("tests/data/scenario/bad/ini_dup_key.ini", &sc, NULL),
                 SIM_EDATA));
    cr_expect(sc == NULL);
    free(diag);
}

Test(scenario, a_directory_given_as_the_ini_is_an_io_error)
{
    sim_diag *diag = calloc(1, sizeof *diag);
    scenario *sc = NULL;

    cr_assert(eq(int, scenario_load("tests/data/scenario", &sc, diag), SIM_EIO));
    cr_expect(eq(str, diag->items[0].msg, "the scenario file is not a regular file (expected "
                 "a CSV or INI file)"));
    free(diag);
}

Test(scenario, free_of_null_is_a_no_op)
{
    scenario_free(NULL);
    cr_expect(eq(int, 1, 1));
}
