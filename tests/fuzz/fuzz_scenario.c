/* fuzz_scenario.c - libFuzzer target: scenario_load() on a fuzzed scenario directory.
 *
 * The input is split at lines "====" into up to eight parts: scenario.ini, then caseload,
 * history, population, provisions, waves, preferences and costs CSVs. Each part is written
 * into one temporary directory (made once per process); a file with no part gets a copy of
 * tests/data/scenario/valid/, so most inputs reach the cross-file checks. Built only by
 * `make fuzz`; run it from the repository root. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { N_PARTS = 8 };
static const char *const NAMES[N_PARTS] = {
    "scenario.ini", "caseload.csv", "history.csv", "population.csv", "provisions.csv",
    "waves.csv", "preferences.csv", "costs.csv"
};
static const char VALID[] = "tests/data/scenario/valid/";
static const char SEP[] = "\n====\n";

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET))
        abort();    /* the fixtures must be there: run from the repository root */
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n)
        abort();
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (fp == NULL || fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
        abort();
}

static char dir[] = "/tmp/sendsim-fuzz-XXXXXX";

/* Remove the temporary directory when libFuzzer exits. */
static void remove_dir(void)
{
    char path[512];

    for (int i = 0; i < N_PARTS; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, NAMES[i]);
        remove(path);
    }
    rmdir(dir);
}

static const char *find_sep(const char *p, const char *end)
{
    for (; p + sizeof SEP - 1 <= end; p++)
        if (memcmp(p, SEP, sizeof SEP - 1) == 0)
            return p;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *valid[N_PARTS];
    static size_t valid_len[N_PARTS];
    const char *p = (const char *)data, *end = p + size;
    char ini[600];
    scenario *sc = NULL;
    sim_diag *diag = calloc(1, sizeof *diag);

    if (valid[0] == NULL) {
        if (mkdtemp(dir) == NULL)
            abort();
        atexit(remove_dir);
        for (int i = 0; i < N_PARTS; i++) {
            char path[256];
            snprintf(path, sizeof path, "%s%s", VALID, NAMES[i]);
            valid[i] = read_all(path, &valid_len[i]);
        }
    }
    for (int i = 0; i < N_PARTS; i++) {
        const char *sep = p ? find_sep(p, end) : NULL, *stop = sep ? sep : end;
        if (p)
            write_file(dir, NAMES[i], p, (size_t)(stop - p));
        else
            write_file(dir, NAMES[i], valid[i], valid_len[i]);
        p = sep ? sep + sizeof SEP - 1 : NULL;
    }
    snprintf(ini, sizeof ini, "%s/scenario.ini", dir);
    if (scenario_load(ini, &sc, diag) == SIM_OK) {
        for (size_t i = 0; i < sc->n_provisions; i++)
            (void)scenario_capacity(sc, i, sc->base_year + 1);
        (void)scenario_population(sc, sc->base_year, 4);
    }
    scenario_free(sc);
    free(diag);
    return 0;
}
