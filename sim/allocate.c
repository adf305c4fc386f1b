/* allocate.c - place projected pupils in named provisions; roll up shortfall, occupancy, spend.
 *
 * The placer runs inside the engine's step (engine.h), once per replication-year, on counts:
 * it walks the cells of pupils to place and fills provisions by whole counts, so its cost
 * follows the number of occupied cells, never the number of pupils. The roll-ups keep one
 * year of per-replication values and turn them into exact type-7 bands once every replication
 * has reached the year (summary_quantile_sorted), as summary.c does for demand. */
#include "allocate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "summary.h"
#include "xalloc.h"

enum { MAX_PROVISIONS = 4096, N_GPN = ALLOC_N_GPN_PHASE * ALLOC_N_GPN_NEED, HIST_RANGE = 65536 };

/* What an extra slot (provision or out-of-borough slot) counts towards in the roll-ups:
 * every one belongs to a constrained group. */
typedef struct xinfo {
    uint8_t gi;                                  /* constrained group index */
    uint8_t oob;                                 /* 1 for an out-of-borough slot */
    uint8_t setting;
} xinfo;

struct alloc {
    const scenario *sc;
    int             base_year, horizon;
    size_t          n_prov, n_slots, n_extra;
    engine_slot    *extra;                       /* [n_extra], owned */
    engine_layout   lay;                         /* the state's rows, as the engine lays
                                                    them out (engine.h) */
    uint16_t        prov_w[ENGINE_ROWS];         /* positions before row c's out-of-borough
                                                    slots: settings and provisions */
    int             gi[SIM_N_GROUPS];            /* index among constrained groups, or -1 */
    size_t          n_con;
    sim_group       con[SIM_N_GROUPS];           /* the constrained groups, codes' order */
    size_t          oob[SIM_N_GROUPS][ALLOC_N_STAGES];  /* out-of-borough slot by stage */
    int             chain[SIM_N_GROUPS][SIM_N_GROUPS];  /* groups to try, in order */
    int             n_chain[SIM_N_GROUPS];
    uint32_t       *adm_off;                     /* [G][A][N + 1] offsets into adm_idx */
    uint16_t       *adm_idx;                     /* provisions admitting, file order */
    uint32_t       *chn_off;                     /* [G][A][N + 1] offsets into chn_idx */
    uint16_t       *chn_idx;                     /* provisions of g's overflow chain admitting
                                                    (a, n): chain order, then file order */
    uint64_t       *chn_bits;                    /* [G][A][N + 1] the same as a set (bit p) */
    uint64_t        age_bits[SIM_N_GROUPS][SIM_N_AGES];  /* their union over needs */
    size_t          fm_at;                       /* the free set's place after fr[] (int32s) */
    xinfo          *xin;                         /* [n_slots], extra slots only */
    uint16_t        wanted[SIM_N_AGES];          /* bit s: setting s belongs to a constrained
                                                    group that limits age a, so the placer
                                                    places it and its pupils count as demand */
    int32_t        *cap;                         /* [(horizon + 1) * n_prov] */
    double         *gcap;                        /* [(horizon + 1)][n_con][N_GPN] */
    double         *ucost;                       /* [(horizon + 1)][n_slots][SIM_N_PHASES] */
    unsigned char  *slot_away;                   /* [n_slots] 1 for IS slots but provisions */
    sim_setting    *slot_setting;                /* [n_slots] */
    int             set_group[SIM_N_SETTINGS];   /* group_of_setting(), tabled */
    int             age_lo, age_hi;              /* ages some provision serves */
    unsigned char   con_age[SIM_N_GROUPS][SIM_N_AGES];  /* 1: some provision of g serves a */
    unsigned char   free_age[SIM_N_GROUPS * SIM_N_AGES][2];  /* (age, group): first ages a
                                                    constrained group leaves free in a stage */
    size_t          n_free;
};

static const sim_setting GROUP_SETTING[SIM_N_GROUPS] = {
    [GROUP_RP] = SET_RP, [GROUP_SS] = SET_SS, [GROUP_IS] = SET_IS,
    [GROUP_MS] = SET_MS, [GROUP_P16] = SET_FE, [GROUP_AP] = SET_AP,
};
/* Out-of-borough stages: school age, then post-16 (where every IS placement is chosen afresh,
 * as engine_setting_keeps() has it); two, not one a phase, to keep the state small. */
static const int STAGE_FROM[ALLOC_N_STAGES] = { 0, 16 };
static const int STAGE_TO[ALLOC_N_STAGES] = { 15, 25 };

static int stage_of(int a) { return a < 16 ? 0 : 1; }

static size_t adm_at(int g, int a, int n)
{
    return ((size_t)g * SIM_N_AGES + (size_t)a) * (SIM_N_NEEDS + 1) + (size_t)n;
}

/* ---- prepare ------------------------------------------------------------------------- */

static int admits(const provision *p, int a, int n)
{
    return a >= p->age_from && a <= p->age_to && (p->needs >> n & 1u);
}

static void prepare_groups(alloc *al)
{
    const scenario *sc = al->sc;

    for (int g = 0; g < SIM_N_GROUPS; g++)
        al->gi[g] = -1;
    for (size_t p = 0; p < al->n_prov; p++)
        al->gi[sc->provisions[p].group] = 0;
    for (int g = 0; g < SIM_N_GROUPS; g++)
        if (al->gi[g] == 0) {
            al->gi[g] = (int)al->n_con;
            al->con[al->n_con++] = (sim_group)g;
        }
    /* a constrained group overflows into the constrained groups after it in the order */
    for (int g = 0; g < SIM_N_GROUPS; g++) {
        size_t k = 0;
        if (al->gi[g] < 0)
            continue;
        while (k < sc->n_order && sc->order[k] != (sim_group)g)
            k++;
        al->chain[g][al->n_chain[g]++] = g;
        for (k = k + 1; k < sc->n_order; k++)
            if (al->gi[sc->order[k]] >= 0)
                al->chain[g][al->n_chain[g]++] = sc->order[k];
    }
    /* a group limits only the ages some provision of it serves (allocate.h) */
    for (size_t p = 0; p < al->n_prov; p++)
        for (int a = sc->provisions[p].age_from; a <= sc->provisions[p].age_to; a++)
            if (a >= 0 && a < SIM_N_AGES)
                al->con_age[sc->provisions[p].group][a] = 1;
    /* Out-of-borough pupils reach an age their group does not limit only by ageing out of one
     * it limits within the stage (none are placed out of borough there, and those arriving
     * go home at once), so only such first free ages can hold any. */
    for (int g = 0; g < SIM_N_GROUPS; g++)
        for (int a = 1; a < SIM_N_AGES && al->gi[g] >= 0; a++)
            if (!al->con_age[g][a] && al->con_age[g][a - 1] && stage_of(a) == stage_of(a - 1)) {
                al->free_age[al->n_free][0] = (unsigned char)a;
                al->free_age[al->n_free++][1] = (unsigned char)g;
            }
}

/* The state's layout for these slots (the engine builds the same), and where each row's
 * provision cells end. */
static void prepare_layout(alloc *al)
{
    engine_layout_init(&al->lay, al->extra, al->n_extra);
    for (size_t c = 0; c < ENGINE_ROWS; c++) {   /* provisions come before the other slots */
        const uint16_t *at = al->lay.slot_at + al->lay.row_off[c];
        const size_t w = al->lay.row_off[c + 1] - al->lay.row_off[c];
        size_t j = SIM_N_SETTINGS;
        while (j < w && at[j] < SIM_N_SETTINGS + al->n_prov)
            j++;
        al->prov_w[c] = (uint16_t)j;
    }
}

static void prepare_slots(alloc *al)
{
    const scenario *sc = al->sc;
    size_t s;

    al->n_extra = al->n_prov + ALLOC_N_STAGES * al->n_con;
    al->n_slots = SIM_N_SETTINGS + al->n_extra;
    al->extra = xcalloc(al->n_extra, sizeof *al->extra);
    al->slot_away = xcalloc(al->n_slots, 1);
    al->slot_setting = xmalloc(al->n_slots * sizeof *al->slot_setting);
    al->age_lo = SIM_MAX_AGE;
    al->age_hi = SIM_MIN_AGE;
    for (size_t p = 0; p < al->n_prov; p++) {
        al->age_lo = sc->provisions[p].age_from < al->age_lo ? sc->provisions[p].age_from
                                                               : al->age_lo;
        al->age_hi = sc->provisions[p].age_to > al->age_hi ? sc->provisions[p].age_to
                                                             : al->age_hi;
    }
    for (s = 0; s < SIM_N_SETTINGS; s++) {
        int g = group_of_setting((sim_setting)s);
        al->set_group[s] = g;
        al->slot_setting[s] = (sim_setting)s;
        al->slot_away[s] = s == SET_IS;
    }
    for (size_t p = 0; p < al->n_prov; p++, s++) {
        const provision *pv = &sc->provisions[p];
        engine_slot *x = &al->extra[p];
        x->setting = GROUP_SETTING[pv->group];
        x->age_from = pv->age_from;
        x->age_to = pv->age_to;
        x->needs = pv->needs;
        al->slot_setting[s] = x->setting;
    }
    for (size_t c = 0; c < al->n_con; c++)
        for (int k = 0; k < ALLOC_N_STAGES; k++, s++) {
            engine_slot *x = &al->extra[s - SIM_N_SETTINGS];
            x->setting = SET_IS;
            x->age_from = STAGE_FROM[k];
            x->age_to = STAGE_TO[k];
            al->oob[al->con[c]][k] = s;
            al->slot_setting[s] = SET_IS;
            al->slot_away[s] = 1;
        }
    prepare_layout(al);
}

static void prepare_admission(alloc *al)
{
    const scenario *sc = al->sc;
    size_t n_off = (size_t)SIM_N_GROUPS * SIM_N_AGES * (SIM_N_NEEDS + 1), used = 0;

    al->adm_off = xcalloc(n_off + 1, sizeof *al->adm_off);
    al->adm_idx = xmalloc((al->n_prov * SIM_N_AGES * SIM_N_NEEDS + 1) * sizeof *al->adm_idx);
    for (int g = 0; g < SIM_N_GROUPS; g++)
        for (int a = 0; a < SIM_N_AGES; a++)
            for (int n = 0; n < SIM_N_NEEDS; n++) {
                al->adm_off[adm_at(g, a, n)] = (uint32_t)used;
                for (size_t p = 0; p < al->n_prov; p++)
                    if (sc->provisions[p].group == (sim_group)g
                        && admits(&sc->provisions[p], a, n))
                        al->adm_idx[used++] = (uint16_t)p;
                al->adm_off[adm_at(g, a, n) + 1] = (uint32_t)used;
            }
}

/* Merge, per (group, age, need), the admission lists of the group's overflow chain, so a
 * placement walks one list (built once, not per replication-year). */
static void prepare_chains(alloc *al)
{
    size_t n_off = (size_t)SIM_N_GROUPS * SIM_N_AGES * (SIM_N_NEEDS + 1), used = 0;

    al->chn_off = xcalloc(n_off + 1, sizeof *al->chn_off);
    for (int pass = 0; pass < 2; pass++) {       /* count, then fill */
        used = 0;
        for (int g = 0; g < SIM_N_GROUPS; g++)
            for (int a = 0; a < SIM_N_AGES; a++)
                for (int n = 0; n < SIM_N_NEEDS; n++) {
                    al->chn_off[adm_at(g, a, n)] = (uint32_t)used;
                    for (int k = 0; k < al->n_chain[g]; k++) {
                        const size_t at = adm_at(al->chain[g][k], a, n);
                        for (uint32_t i = al->adm_off[at]; i < al->adm_off[at + 1]; i++, used++)
                            if (pass)
                                al->chn_idx[used] = al->adm_idx[i];
                    }
                    al->chn_off[adm_at(g, a, n) + 1] = (uint32_t)used;
                }
        if (!pass)
            al->chn_idx = xmalloc((used + 1) * sizeof *al->chn_idx);
    }
    /* as sets of provisions, so that a chain with no free place is passed over in one test
     * (Hackney's provisions are mostly full); all bits when a set cannot hold them */
    al->chn_bits = xmalloc((n_off + 1) * sizeof *al->chn_bits);
    for (size_t i = 0; i < n_off; i++) {
        al->chn_bits[i] = al->n_prov > 64 ? ~(uint64_t)0 : 0;
        for (uint32_t j = al->chn_off[i]; j < al->chn_off[i + 1] && al->n_prov <= 64; j++)
            al->chn_bits[i] |= (uint64_t)1 << al->chn_idx[j];
    }
    for (int g = 0; g < SIM_N_GROUPS; g++)
        for (int a = 0; a < SIM_N_AGES; a++)
            for (int n = 0; n < SIM_N_NEEDS; n++)
                al->age_bits[g][a] |= al->chn_bits[adm_at(g, a, n)];
    al->fm_at = (al->n_prov + 1) & ~(size_t)1;
}

/* The roll-up targets of each extra slot, and the setting slots counting towards demand at
 * each age (those of constrained groups at the ages they limit). */
static void prepare_rows(alloc *al)
{
    al->xin = xcalloc(al->n_slots, sizeof *al->xin);
    for (size_t p = 0; p < al->n_prov; p++)
        al->xin[SIM_N_SETTINGS + p] = (xinfo){
            (uint8_t)al->gi[al->sc->provisions[p].group], 0,
            (uint8_t)al->slot_setting[SIM_N_SETTINGS + p] };
    for (size_t c = 0; c < al->n_con; c++)
        for (int k = 0; k < ALLOC_N_STAGES; k++)
            al->xin[al->oob[al->con[c]][k]] = (xinfo){ (uint8_t)c, 1, SET_IS };
    for (int a = 0; a < SIM_N_AGES; a++)
        for (int s = 0; s < SIM_N_SETTINGS; s++) {
            const int g = al->set_group[s];
            if (g >= 0 && al->gi[g] >= 0 && al->con_age[g][a])
                al->wanted[a] |= (uint16_t)(1u << s);
        }
}

static double unit_cost(const alloc *al, size_t s, int ph)
{
    const scenario *sc = al->sc;
    double c;

    if (s >= SIM_N_SETTINGS && s < SIM_N_SETTINGS + al->n_prov
        && sc->provisions[s - SIM_N_SETTINGS].annual_cost >= 0.0)
        return sc->provisions[s - SIM_N_SETTINGS].annual_cost;
    c = sc->cost[al->slot_setting[s]][ph];
    return c > 0.0 ? c : 0.0;            /* no cost given: left out of the spend */
}

static void prepare_tables(alloc *al)
{
    const scenario *sc = al->sc;
    const size_t H = (size_t)al->horizon + 1;

    al->cap = xcalloc(H * al->n_prov, sizeof *al->cap);
    al->gcap = xcalloc(H * (al->n_con ? al->n_con : 1) * N_GPN, sizeof *al->gcap);
    al->ucost = xmalloc(H * al->n_slots * SIM_N_PHASES * sizeof *al->ucost);
    for (size_t h = 0; h < H; h++) {
        double infl = pow(1.0 + sc->inflation, (double)h);
        for (size_t p = 0; p < al->n_prov; p++) {
            const provision *pv = &sc->provisions[p];
            double c = floor(scenario_capacity(sc, p, al->base_year + (int)h) + 1e-9);
            int32_t ci = c > 0.0 ? (c < 1e8 ? (int32_t)c : 100000000) : 0;
            double *gc = al->gcap + (h * al->n_con + (size_t)al->gi[pv->group]) * N_GPN;
            al->cap[h * al->n_prov + p] = ci;
            gc[N_GPN - 1] += ci;
            for (int ph = 0; ph < SIM_N_PHASES; ph++) {
                if (pv->age_to < phase_first_age(ph) || pv->age_from > phase_last_age(ph))
                    continue;
                gc[ph * ALLOC_N_GPN_NEED + SIM_N_NEEDS] += ci;
                for (int n = 0; n < SIM_N_NEEDS; n++)
                    if (pv->needs >> n & 1u)
                        gc[ph * ALLOC_N_GPN_NEED + n] += ci;
            }
            for (int n = 0; n < SIM_N_NEEDS; n++)
                if (pv->needs >> n & 1u)
                    gc[SIM_N_PHASES * ALLOC_N_GPN_NEED + n] += ci;
        }
        for (size_t s = 0; s < al->n_slots; s++)
            for (int ph = 0; ph < SIM_N_PHASES; ph++)
                al->ucost[(h * al->n_slots + s) * SIM_N_PHASES + (size_t)ph] =
                    unit_cost(al, s, ph) * infl;
    }
}

sim_status alloc_prepare(const scenario *sc, int horizon, alloc **out, sim_error *err)
{
    alloc *al;

    if (sc->n_provisions == 0)
        return sim_error_set(err, SIM_EDATA, "provisions.csv", 0, "provisions",
                             "the scenario has no provisions (expected at least one row in "
                             "[data] provisions to allocate against)");
    if (sc->n_provisions > MAX_PROVISIONS)
        return sim_error_set(err, SIM_EDATA, "provisions.csv", 0, "provisions",
                             "%zu provisions (expected at most %d)", sc->n_provisions,
                             MAX_PROVISIONS);
    if (horizon < 1)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "horizon", "horizon %d (expected >= 1)",
                             horizon);
    al = xcalloc(1, sizeof *al);
    al->sc = sc;
    al->base_year = sc->base_year;
    al->horizon = horizon;
    al->n_prov = sc->n_provisions;
    prepare_groups(al);
    prepare_slots(al);
    prepare_admission(al);
    prepare_chains(al);
    prepare_rows(al);
    prepare_tables(al);
    *out = al;
    return SIM_OK;
}

void alloc_free(alloc *al)
{
    if (al == NULL)
        return;
    free(al->extra);
    engine_layout_free(&al->lay);
    free(al->slot_away);
    free(al->slot_setting);
    free(al->adm_off);
    free(al->adm_idx);
    free(al->chn_off);
    free(al->chn_idx);
    free(al->chn_bits);
    free(al->xin);
    free(al->cap);
    free(al->gcap);
    free(al->ucost);
    free(al);
}

size_t alloc_slots(const alloc *al) { return al->n_slots; }
size_t alloc_cells(const alloc *al) { return al->lay.cells; }

long alloc_cell(const alloc *al, int a, int n, size_t slot)
{
    size_t c = (size_t)(a * SIM_N_NEEDS + n);
    long pos;

    if (a < 0 || a >= SIM_N_AGES || n < 0 || n >= SIM_N_NEEDS || slot >= al->n_slots)
        return -1;
    pos = al->lay.pos_of[c * al->n_slots + slot];
    return pos < 0 ? -1 : (long)al->lay.row_off[c] + pos;
}

/* Where slot s is in row c (a * SIM_N_NEEDS + n): the row's positions by slot. */
static inline const int16_t *row_pos(const alloc *al, size_t c)
{
    return al->lay.pos_of + c * al->n_slots;
}
size_t alloc_provision_slot(const alloc *al, size_t p) { (void)al; return SIM_N_SETTINGS + p; }
int alloc_constrained(const alloc *al, sim_group g) { return al->gi[g] >= 0; }

int alloc_constrains_age(const alloc *al, sim_group g, int a)
{
    return al->gi[g] >= 0 && a >= 0 && a < SIM_N_AGES && al->con_age[g][a];
}

/* Base-year pupils of group g's settings at age a. */
static long base_pupils(const alloc *al, int g, int a)
{
    double t = 0.0;

    for (int n = 0; n < SIM_N_NEEDS; n++)
        for (int s = 0; s < SIM_N_SETTINGS; s++)
            if (al->set_group[s] == g && al->sc->caseload[a][n][s] > 0.0)
                t += al->sc->caseload[a][n][s];
    return lround(t);
}

long alloc_free_ages_note(const alloc *al, char *buf, size_t n)
{
    char line[1024];
    size_t used = 0;
    long all = 0;

    line[0] = '\0';
    for (size_t c = 0; c < al->n_con; c++) {
        const int g = al->con[c];
        long pupils = 0;
        char ages[160] = "";
        size_t k = 0;
        for (int a = 0; a < SIM_N_AGES; a++) {  /* runs of free ages: "0-1, 20-25" */
            int b = a;
            if (al->con_age[g][a])
                continue;
            while (b + 1 < SIM_N_AGES && !al->con_age[g][b + 1])
                b++;
            for (int x = a; x <= b; x++)
                pupils += base_pupils(al, g, x);
            if (k < sizeof ages)
                k += (size_t)snprintf(ages + k, sizeof ages - k, b > a ? "%s%d-%d" : "%s%d",
                                      k ? ", " : "", a, b);
            a = b;
        }
        if (ages[0] == '\0' || used >= sizeof line)
            continue;
        used += (size_t)snprintf(line + used, sizeof line - used, "%s %s ages %s (%ld base-year "
                                 "pupil%s)", used ? ";" : "", group_code((sim_group)g), ages,
                                 pupils, pupils == 1 ? "" : "s");
        all += pupils;
    }
    if (n > 0)
        snprintf(buf, n, used ? "allocation: ages no provision of the group serves are placed "
                 "without a limit and are no shortfall:%s\n" : "%s", line);
    return all;
}

int32_t alloc_capacity(const alloc *al, size_t p, int h)
{
    return al->cap[(size_t)h * al->n_prov + p];
}

/* ---- placement ------------------------------------------------------------------------ */

/* The set of provisions that may have free places (bit p: fr[p] > 0; all bits when there
 * are more than 64 provisions), kept in the placer's workspace after fr[]. */
static uint64_t *free_set(const alloc *al, int32_t *fr)
{
    return (uint64_t *)(void *)(fr + al->fm_at);
}

/* Free places per provision: capacity minus the continuing pupils already in it (the
 * provision cells of every row at the ages some provision serves), and their set. */
static void free_places(const alloc *al, int h, const int32_t *x, int32_t *restrict fr)
{
    const size_t P = al->n_prov;

    memcpy(fr, al->cap + (size_t)h * P, P * sizeof *fr);
    for (size_t c = (size_t)al->age_lo * SIM_N_NEEDS; c < (size_t)(al->age_hi + 1) * SIM_N_NEEDS;
         c++) {
        const int32_t *row = x + al->lay.row_off[c];
        const uint16_t *at = al->lay.slot_at + al->lay.row_off[c];
        for (size_t j = SIM_N_SETTINGS; j < al->prov_w[c]; j++)
            fr[at[j] - SIM_N_SETTINGS] -= row[j];
    }
    *free_set(al, fr) = P > 64 ? ~(uint64_t)0 : 0;
    for (size_t p = 0; p < P && P <= 64; p++)
        *free_set(al, fr) |= (uint64_t)(fr[p] > 0) << p;
}

/* Put k pupils into the provisions idx[from .. to) with free places, in that order; returns
 * the rest. */
static int32_t fill_list(const alloc *al, const uint16_t *idx, uint32_t from, uint32_t to,
                         int32_t k, int32_t *restrict fr, int32_t *restrict row,
                         const int16_t *pos)
{
    for (uint32_t i = from; i < to && k > 0; i++) {
        const uint16_t p = idx[i];
        int32_t t = fr[p] < k ? fr[p] : k;
        if (t <= 0)
            continue;
        row[pos[SIM_N_SETTINGS + p]] += t;   /* the row holds p: p admits its age and need */
        fr[p] -= t;
        k -= t;
        if (fr[p] == 0 && al->n_prov <= 64)
            *free_set(al, fr) &= ~((uint64_t)1 << p);
    }
    return k;
}

/* Put k pupils of age a, need n into group g's own provisions with free places. */
static int32_t fill_group(const alloc *al, int g, int a, int n, int32_t k, int32_t *fr,
                          int32_t *row)
{
    const size_t at = adm_at(g, a, n);

    return fill_list(al, al->adm_idx, al->adm_off[at], al->adm_off[at + 1], k, fr, row,
                     row_pos(al, (size_t)(a * SIM_N_NEEDS + n)));
}

/* The same through g's whole overflow chain (g, then the groups after it in the order). */
static int32_t fill_chain(const alloc *al, int g, int a, int n, int32_t k, int32_t *fr,
                          int32_t *row)
{
    const size_t at = adm_at(g, a, n);

    if ((al->chn_bits[at] & *free_set(al, fr)) == 0)
        return k;                        /* every place of the chain is taken */
    return fill_list(al, al->chn_idx, al->chn_off[at], al->chn_off[at + 1], k, fr, row,
                     row_pos(al, (size_t)(a * SIM_N_NEEDS + n)));
}

/* Pupils out of borough come back as soon as a place they would take is free: shortfall is
 * then the pupils for whom no local place exists this year, not an echo of past years. They
 * go first (they have waited longest), youngest first. */
static void bring_back(const alloc *al, int32_t *x, int32_t *fr)
{
    int open[SIM_N_GROUPS] = { 0 }, list[SIM_N_GROUPS], n_open = 0;

    /* a group whose overflow chain has no free place at all cannot take anyone back */
    for (size_t p = 0; p < al->n_prov; p++)
        if (fr[p] > 0)
            for (size_t c = 0; c < al->n_con; c++)
                for (int k = 0; k < al->n_chain[al->con[c]]; k++)
                    if (al->chain[al->con[c]][k] == (int)al->sc->provisions[p].group)
                        open[al->con[c]] = 1;
    for (size_t c = 0; c < al->n_con; c++)    /* the open groups, in codes' order */
        if (open[al->con[c]])
            list[n_open++] = al->con[c];
    for (int a = 0; a < SIM_N_AGES && n_open > 0; a++) {
        size_t away[SIM_N_GROUPS];
        int g_at[SIM_N_GROUPS], n_at = 0;
        for (int i = 0; i < n_open; i++)    /* the groups with a free place for age a */
            if (al->age_bits[list[i]][a] & *free_set(al, fr)) {
                g_at[n_at] = list[i];
                away[n_at++] = al->oob[list[i]][stage_of(a)];
            }
        for (int n = 0; n < SIM_N_NEEDS && n_at > 0; n++) {
            const size_t c = (size_t)(a * SIM_N_NEEDS + n);
            int32_t *row = x + al->lay.row_off[c];
            for (int i = 0; i < n_at; i++) {
                int32_t *cell = row + row_pos(al, c)[away[i]];   /* held at every age and
                                                                    need of its stage */
                if (*cell > 0)
                    *cell = fill_chain(al, g_at[i], a, n, *cell, fr, row);
            }
        }
    }
}

/* Place k pupils of age a, need n who drew setting s. */
static void place_one(const alloc *al, int h, int a, int n, int s, int32_t k, int32_t *x,
                      int32_t *fr)
{
    const size_t c = (size_t)(a * SIM_N_NEEDS + n);
    int32_t *row = x + al->lay.row_off[c];
    const int g = al->set_group[s];

    if (!(al->wanted[a] >> s & 1u)) {
        row[s] += k;                     /* no places to run out of, at least at this age */
        return;
    }
    if (h == 0) {                        /* the census as it stands: no shortfall */
        row[s] += fill_group(al, g, a, n, k, fr, row);
        return;
    }
    k = fill_chain(al, g, a, n, k, fr, row);
    row[row_pos(al, c)[al->oob[g][stage_of(a)]]] += k;
}

/* Pupils out of borough at an age their group does not limit (they aged into it) are placed
 * in the setting slot, as place_one() places newcomers of that age. */
static void free_ages_home(const alloc *al, int32_t *x)
{
    for (size_t i = 0; i < al->n_free; i++) {
        const int a = al->free_age[i][0], g = al->free_age[i][1];
        for (int n = 0; n < SIM_N_NEEDS; n++) {
            const size_t c = (size_t)(a * SIM_N_NEEDS + n);
            int32_t *row = x + al->lay.row_off[c];
            int32_t *away = row + row_pos(al, c)[al->oob[g][stage_of(a)]];
            row[GROUP_SETTING[g]] += *away;
            *away = 0;
        }
    }
}

/* Place the non-zero wants of want[i0 .. i1) (i1 - i0 <= 64), in index order. */
static void place_range(const alloc *al, int h, const int32_t *want, size_t i0, size_t i1,
                        int32_t *x, int32_t *fr)
{
    for (uint64_t m = cells_nonzero(want + i0, i1 - i0); m != 0; m &= m - 1) {
        const size_t i = i0 + cells_lowest(m), c = i / SIM_N_SETTINGS;
        place_one(al, h, (int)(c / SIM_N_NEEDS), (int)(c % SIM_N_NEEDS),
                  (int)(i % SIM_N_SETTINGS), want[i], x, fr);
    }
}

static void place_with(const alloc *al, int h, const int32_t *want, int32_t *x, int32_t *fr)
{
    const size_t N = (size_t)SIM_N_AGES * SIM_N_NEEDS * SIM_N_SETTINGS;

    free_places(al, h, x, fr);
    if (h > 0) {
        free_ages_home(al, x);
        bring_back(al, x, fr);
    }
    /* want[] in memory order is age, need, setting: the documented order. Most of it is
     * zero, so it is read 64 cells at a time as a mask of the non-zero ones. */
    for (size_t i0 = 0; i0 < N; i0 += 64)
        place_range(al, h, want, i0, N - i0 < 64 ? N : i0 + 64, x, fr);
}

void alloc_place(const alloc *al, int h, int32_t *want, int32_t *x)
{
    int32_t *fr = xmalloc((al->fm_at + 2) * sizeof *fr);

    place_with(al, h, want, x, fr);
    free(fr);
}

static void on_place(void *ctx, void *ws, int year, int32_t *want, int32_t *x,
                     const engine_layout *lay)
{
    const alloc *al = ctx;

    (void)lay;                           /* al->lay: the engine's layout is al's */
    place_with(al, year - al->base_year, want, x, ws);
}

engine_placer alloc_placer(const alloc *al)
{
    engine_placer pl = { .extra = al->extra, .n_extra = al->n_extra,
                         .ws_size = (al->fm_at + 2) * sizeof(int32_t), .ctx = (void *)al,
                         .place = on_place, .wanted = al->wanted };
    return pl;
}

/* ---- roll-ups ------------------------------------------------------------------------- */

struct alloc_result {
    alloc          *owned;               /* freed with the result when set */
    const alloc    *al;
    size_t          n_reps, n_workers, m_int;
    int             horizon;
    double          risk_target;
    engine_sink     next;
    /* a year's figures by column, replications contiguous (column m of iv at iv[m * stride],
     * so a band reads its column straight, and a worker stepping replications in order
     * writes the same few lines for 16 of them) */
    size_t          stride;              /* n_reps as allocated */
    int32_t        *iv;                  /* [m_int][stride]: occ[P], sf[C][N_GPN], dem[C][N_GPN] */
    double         *dv;                  /* [ALLOC_N_COST][stride] */
    int32_t        *rep_sf, *rep_oob;    /* [horizon][n_reps] */
    double         *rep_spend;           /* [horizon][n_reps] */
    alloc_gpn_band *gpn;                 /* [horizon + 1][n_con][N_GPN], by h */
    alloc_prov_band *prov;               /* [horizon + 1][n_prov] */
    alloc_cost_band *cost;               /* [horizon + 1][ALLOC_N_COST] */
    double         *sorted;              /* [n_workers][n_reps] */
    uint32_t       *hist;                /* [n_workers][HIST_RANGE + 1] */
    uint64_t       *keys;                /* [n_workers][2][n_reps] radix sort keys */
};

static size_t m_int_of(const alloc *al) { return al->n_prov + 2 * al->n_con * N_GPN; }

static void base_year_bands(alloc_result *r);

alloc_result *alloc_result_new(const alloc *al, size_t n_reps, int horizon, size_t n_workers)
{
    alloc_result *r = xcalloc(1, sizeof *r);
    const size_t H = (size_t)horizon, C = al->n_con ? al->n_con : 1;

    r->al = al;
    r->n_reps = n_reps;
    r->n_workers = n_workers ? n_workers : 1;
    r->horizon = horizon;
    r->risk_target = al->sc->risk_target;
    r->m_int = m_int_of(al);
    r->stride = n_reps;
    r->iv = xcalloc(n_reps * r->m_int, sizeof *r->iv);
    r->dv = xcalloc(n_reps * ALLOC_N_COST, sizeof *r->dv);
    r->rep_sf = xcalloc(H * n_reps, sizeof *r->rep_sf);
    r->rep_oob = xcalloc(H * n_reps, sizeof *r->rep_oob);
    r->rep_spend = xcalloc(H * n_reps, sizeof *r->rep_spend);
    r->gpn = xcalloc((H + 1) * C * N_GPN, sizeof *r->gpn);
    r->prov = xcalloc((H + 1) * al->n_prov, sizeof *r->prov);
    r->cost = xcalloc((H + 1) * ALLOC_N_COST, sizeof *r->cost);
    r->sorted = xmalloc(r->n_workers * (n_reps ? n_reps : 1) * sizeof *r->sorted);
    r->hist = xmalloc(r->n_workers * (HIST_RANGE + 1) * sizeof *r->hist);
    r->keys = xmalloc(r->n_workers * 2 * (n_reps ? n_reps : 1) * sizeof *r->keys);
    base_year_bands(r);
    return r;
}

size_t alloc_result_bytes(const alloc *al, size_t n_reps, int horizon, size_t n_workers)
{
    const size_t H = (size_t)horizon, C = al->n_con ? al->n_con : 1;

    return n_reps * (m_int_of(al) * 4 + ALLOC_N_COST * 8 + H * 16 + n_workers * 24)
           + (H + 1) * (C * N_GPN * sizeof(alloc_gpn_band) + al->n_prov * sizeof(alloc_prov_band))
           + n_workers * (HIST_RANGE + 1) * 4;
}

void alloc_result_free(alloc_result *r)
{
    if (r == NULL)
        return;
    free(r->iv);
    free(r->dv);
    free(r->rep_sf);
    free(r->rep_oob);
    free(r->rep_spend);
    free(r->gpn);
    free(r->prov);
    free(r->cost);
    free(r->sorted);
    free(r->hist);
    free(r->keys);
    alloc_free(r->owned);
    free(r);
}

/* Fill the ALL margins of a [phase + 1][need + 1] block whose inner cells are summed. */
static void add_margins(int32_t *b)
{
    for (int ph = 0; ph < SIM_N_PHASES; ph++)
        for (int n = 0; n < SIM_N_NEEDS; n++) {
            int32_t v = b[ph * ALLOC_N_GPN_NEED + n];
            b[ph * ALLOC_N_GPN_NEED + SIM_N_NEEDS] += v;
            b[SIM_N_PHASES * ALLOC_N_GPN_NEED + n] += v;
            b[N_GPN - 1] += v;
        }
}

enum { FAST_SLOTS = 256 };

/* Spend, out-of-borough pupils and occupancy from the slot sums by phase tot[ph * S + s]. */
static void add_totals(const alloc *al, const double *uc, const int32_t *tot, int32_t *iv,
                       double *dv, int32_t *oob)
{
    const size_t S = al->n_slots;

    for (int ph = 0; ph < SIM_N_PHASES; ph++) {
        const int32_t *T = tot + (size_t)ph * S;
        for (size_t s = 0; s < S; s++) {
            if (T[s] == 0)
                continue;
            const double spend = (double)T[s] * uc[s * SIM_N_PHASES + (size_t)ph];
            dv[al->slot_setting[s]] += spend;
            if (al->slot_away[s]) {
                dv[ALLOC_COST_OOB] += spend;
                *oob += T[s];
            }
        }
        for (size_t p = 0; p < al->n_prov; p++)
            iv[p] += T[SIM_N_SETTINGS + p];
    }
}

/* The rows of phase ph summed over its ages by slot, P[n * S + s], and lim[n][s]: the same for
 * the setting slots only at the ages their group limits (demand counts those, allocate.h).
 * The per-cell work that follows then runs on SIM_N_PHASES x SIM_N_NEEDS sums instead of one
 * row per age. */
static void sum_phase(const alloc *al, int ph, const int32_t *x, int32_t *restrict P,
                      int32_t lim[SIM_N_NEEDS][SIM_N_SETTINGS])
{
    const size_t S = al->n_slots;

    memset(P, 0, SIM_N_NEEDS * S * sizeof *P);
    memset(lim, 0, SIM_N_NEEDS * sizeof *lim);
    for (int a = phase_first_age((sim_phase)ph); a <= phase_last_age((sim_phase)ph); a++)
        for (int n = 0; n < SIM_N_NEEDS; n++) {
            const size_t c = (size_t)(a * SIM_N_NEEDS + n), w = al->lay.row_off[c + 1]
                                                                  - al->lay.row_off[c];
            const int32_t *row = x + al->lay.row_off[c];
            const uint16_t *at = al->lay.slot_at + al->lay.row_off[c];
            int32_t *Pn = P + (size_t)n * S;
            cells_add(Pn, row, SIM_N_SETTINGS, 1);
            for (size_t j = SIM_N_SETTINGS; j < w; j++)
                Pn[at[j]] += row[j];     /* no test: whether a cell is empty is a coin flip */
            for (unsigned m = al->wanted[a]; m != 0; m &= m - 1)
                lim[n][cells_lowest(m)] += row[cells_lowest(m)];
        }
}

/* Roll the sums Pn of phase ph, need n into the phase's slot sums T, its setting sums B (every
 * slot counted as its setting: what the next sink sees), and the demand and shortfall columns
 * dem[gi * N_GPN], sf[gi * N_GPN] of (ph, n), visiting only the occupied sums. */
static void roll_sums(const alloc *al, const int32_t *restrict Pn, const int32_t *lim,
                      int32_t *restrict T, int64_t *restrict B, int32_t *dem, int32_t *sf)
{
    const size_t S = al->n_slots;

    for (int s = 0; s < SIM_N_SETTINGS; s++)
        if (lim[s] != 0)
            dem[al->gi[al->set_group[s]] * N_GPN] += lim[s];
    for (size_t s0 = 0; s0 < S; s0 += 64)
        for (uint64_t m = cells_nonzero(Pn + s0, S - s0 < 64 ? S - s0 : 64); m != 0; m &= m - 1) {
            const size_t s = s0 + cells_lowest(m);
            const int32_t v = Pn[s];
            T[s] += v;
            if (s < SIM_N_SETTINGS) {
                B[s] += v;
            } else {
                const xinfo *e = &al->xin[s];
                B[e->setting] += v;
                dem[e->gi * N_GPN] += v;
                if (e->oob)
                    sf[e->gi * N_GPN] += v;
            }
        }
}

/* Pass the year on to the next sink as the setting sums by phase: every provision and
 * out-of-borough slot counts as its setting, which is all a demand roll-up needs, and it then
 * costs what it costs without allocation. */
static void pass_on(const alloc_result *r, const engine_view *v, const int64_t *by_phase)
{
    engine_view cv = *v;
    static const sim_setting SETTINGS[SIM_N_SETTINGS] = {
        SET_MS, SET_RP, SET_SS, SET_IS, SET_AP, SET_FE, SET_SPI, SET_EY, SET_ELS, SET_NEET,
        SET_UNK };

    cv.n_slots = SIM_N_SETTINGS;
    cv.row_off = NULL;
    cv.slot_at = NULL;
    cv.slot_setting = SETTINGS;
    cv.x = NULL;
    cv.by_phase = by_phase;
    r->next.rep_year(r->next.ctx, &cv);
}

/* One replication-year's figures: phase by phase, the rows summed over ages, then rolled. */
/* Scatter one replication's figures into their columns. */
static void store_rep(alloc_result *r, size_t rep, const int32_t *lv, const double *dv)
{
    for (size_t m = 0; m < r->m_int; m++)
        r->iv[m * r->stride + rep] = lv[m];
    for (size_t s = 0; s < ALLOC_N_COST; s++)
        r->dv[s * r->stride + rep] = dv[s];
}

enum { FAST_INTS = 2048 };

/* One replication-year's figures: phase by phase, the rows summed over ages, then rolled. */
static void on_rep_year(void *ctx, const engine_view *v)
{
    alloc_result *r = ctx;
    const alloc *al = r->al;
    const size_t S = al->n_slots, hi = v->h > 0 ? (size_t)(v->h - 1) : 0;
    const double *uc = al->ucost + (size_t)v->h * S * SIM_N_PHASES;
    int32_t stack[(SIM_N_PHASES + SIM_N_NEEDS) * FAST_SLOTS + FAST_INTS];
    int32_t lim[SIM_N_NEEDS][SIM_N_SETTINGS], oob = 0, sf = 0;
    int32_t *tot = stack, *P, *iv, *sfc, *dem;
    int64_t by_phase[SIM_N_PHASES * SIM_N_NEEDS * SIM_N_SETTINGS] = { 0 };
    double dv[ALLOC_N_COST] = { 0 };

    /* scratch on the stack (the worker is not known here), on the heap for huge scenarios */
    if (S > FAST_SLOTS || r->m_int > FAST_INTS)
        tot = xmalloc(((SIM_N_PHASES + SIM_N_NEEDS) * S + r->m_int) * sizeof *tot);
    P = tot + (size_t)SIM_N_PHASES * S;
    iv = P + (size_t)SIM_N_NEEDS * S;
    sfc = iv + al->n_prov;
    dem = sfc + al->n_con * N_GPN;
    memset(tot, 0, (size_t)SIM_N_PHASES * S * sizeof *tot);
    memset(iv, 0, r->m_int * sizeof *iv);
    for (int ph = 0; ph < SIM_N_PHASES; ph++) {
        sum_phase(al, ph, v->x, P, lim);
        for (int n = 0; n < SIM_N_NEEDS; n++) {
            const size_t k = (size_t)ph * ALLOC_N_GPN_NEED + (size_t)n;
            roll_sums(al, P + (size_t)n * S, lim[n], tot + (size_t)ph * S,
                      by_phase + (size_t)(ph * SIM_N_NEEDS + n) * SIM_N_SETTINGS, dem + k,
                      sfc + k);
        }
    }
    add_totals(al, uc, tot, iv, dv, &oob);
    for (size_t c = 0; c < 2 * al->n_con; c++)
        add_margins(iv + al->n_prov + c * N_GPN);
    for (size_t c = 0; c < al->n_con; c++)
        sf += iv[al->n_prov + c * N_GPN + N_GPN - 1];
    for (int s = 0; s < SIM_N_SETTINGS; s++)
        dv[ALLOC_COST_ALL] += dv[s];
    store_rep(r, v->rep, iv, dv);
    if (v->h > 0) {                      /* h = 0: the base year, from base_year_bands() */
        r->rep_sf[hi * r->n_reps + v->rep] = sf;
        r->rep_oob[hi * r->n_reps + v->rep] = oob;
        r->rep_spend[hi * r->n_reps + v->rep] = dv[ALLOC_COST_ALL];
        if (r->next.rep_year)
            pass_on(r, v, by_phase);
    }
    if (tot != stack)
        free(tot);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The key of a double whose unsigned order is the order of the values (no NaNs here). */
static inline uint64_t order_key(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof u);
    return u >> 63 ? ~u : u | (uint64_t)1 << 63;
}

/* x[0..n-1] sorted ascending by an LSD radix sort of order_key() on bytes, through two
 * scratch arrays of n keys (exact, and linear: the spend columns are 10,000 doubles a year
 * each, which qsort()'s comparison calls made a visible cost). A byte that every key shares
 * takes no pass. */
static void sort_doubles(double *x, size_t n, uint64_t *a, uint64_t *b)
{
    uint64_t and_all = ~(uint64_t)0, or_all = 0;

    for (size_t i = 0; i < n; i++) {
        a[i] = order_key(x[i]);
        and_all &= a[i];
        or_all |= a[i];
    }
    for (int d = 0; d < 64; d += 8) {
        size_t count[257] = { 0 };
        uint64_t *t;
        if (((and_all ^ or_all) >> d & 0xffu) == 0)
            continue;
        for (size_t i = 0; i < n; i++)
            count[(a[i] >> d & 0xffu) + 1]++;
        for (int k = 0; k < 256; k++)
            count[k + 1] += count[k];
        for (size_t i = 0; i < n; i++)
            b[count[a[i] >> d & 0xffu]++] = a[i];
        t = a;                           /* the sorted keys are now in b */
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++) {     /* keys back to values */
        uint64_t u = a[i] >> 63 ? a[i] & ~((uint64_t)1 << 63) : ~a[i];
        memcpy(&x[i], &u, sizeof u);
    }
}

/* One column of n values in order: as cumulative counts cum[b] = number of values below
 * lo + b (b = 0 .. span + 1) when the range allows, else sorted out as doubles in x. Exact
 * either way; the counts need no pass writing n values out. */
typedef struct ordered {
    size_t          n;
    int32_t         lo;
    uint32_t        span;
    const uint32_t *cum;                 /* NULL: use x */
    const double   *x;
} ordered;

/* The column v[0..n-1] in order, through hist (HIST_RANGE + 1 counts) or out[n]; returns the
 * mean. */
static double order_ints(const int32_t *v, size_t n, uint32_t *hist, double *out, ordered *o)
{
    int32_t lo = v[0], hi = v[0];
    int64_t sum = 0;

    for (size_t i = 0; i < n; i++) {
        sum += v[i];
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    *o = (ordered){ n, lo, (uint32_t)((int64_t)hi - lo), NULL, out };
    if ((int64_t)hi - lo < HIST_RANGE) {
        uint32_t acc = 0;
        memset(hist, 0, ((size_t)o->span + 2) * sizeof *hist);
        for (size_t i = 0; i < n; i++)
            hist[v[i] - lo + 1]++;
        for (uint32_t b = 0; b <= o->span + 1; b++)   /* counts to counts below */
            hist[b] = acc += hist[b];
        o->cum = hist;
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = v[i];
        qsort(out, n, sizeof *out, cmp_double);
    }
    return (double)sum / (double)n;
}

/* The value of rank k (0-based) of o. */
static double ordered_at(const ordered *o, size_t k)
{
    uint32_t a = 0, b = o->span;

    if (o->cum == NULL)
        return o->x[k];
    while (a < b) {                      /* the first bin whose values reach past rank k */
        uint32_t mid = a + (b - a) / 2;
        if (o->cum[mid + 1] > k)
            b = mid;
        else
            a = mid + 1;
    }
    return (double)o->lo + (double)a;
}

/* Type-7 quantile p of o, as summary_quantile_sorted() computes it on the sorted values. */
static double ordered_quantile(const ordered *o, double p)
{
    const double h = (double)(o->n - 1) * p;
    const size_t f = (size_t)floor(h);
    double lo;

    if (f + 1 >= o->n)
        return ordered_at(o, o->n - 1);
    lo = ordered_at(o, f);
    return lo + (h - (double)f) * (ordered_at(o, f + 1) - lo);
}

/* Share of o's values above the whole number t (strictly, or at least t when `ge`). */
static double share_above(const ordered *o, double t, int ge)
{
    size_t lo = 0, hi = o->n;

    if (o->cum != NULL) {
        double b = (ge ? t : t + 1.0) - (double)o->lo;   /* first bin counted */
        size_t below = b <= 0.0 ? 0 : b > (double)o->span ? o->n : o->cum[(size_t)b];
        return (double)(o->n - below) / (double)o->n;
    }
    while (lo < hi) {                    /* first index with x > t (x >= t when ge) */
        size_t mid = lo + (hi - lo) / 2;
        if (ge ? o->x[mid] >= t : o->x[mid] > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (double)(o->n - lo) / (double)o->n;
}

/* The figures of integer column m (ordered o, mean) into its band: a provision's occupancy,
 * a group's shortfall or a group's demand. Columns of one band are filled by whichever
 * worker holds them; they write different fields. */
static void band_column(alloc_result *r, int h, size_t m, const ordered *o, double mean)
{
    const alloc *al = r->al;
    const size_t hi = (size_t)h;

    if (m < al->n_prov) {
        alloc_prov_band *b = &r->prov[hi * al->n_prov + m];
        b->places = alloc_capacity(al, m, h);
        b->occupancy_mean = mean;
        b->occupancy_p50 = ordered_quantile(o, 0.50);
        b->occupancy_p90 = ordered_quantile(o, 0.90);
        b->p_full = b->places > 0 ? share_above(o, b->places, 1) : 1.0;
    } else if (m < al->n_prov + al->n_con * N_GPN) {
        size_t ck = m - al->n_prov;
        alloc_gpn_band *b = &r->gpn[hi * al->n_con * N_GPN + ck];
        b->capacity = al->gcap[(size_t)h * al->n_con * N_GPN + ck];
        b->shortfall_mean = mean;
        b->shortfall_p50 = ordered_quantile(o, 0.50);
        b->shortfall_p90 = ordered_quantile(o, 0.90);
        b->p_shortfall = share_above(o, 0.0, 0);
        b->places_for_target = ordered_quantile(o, 1.0 - r->risk_target);
    } else {
        alloc_gpn_band *b = &r->gpn[hi * al->n_con * N_GPN + m - al->n_prov
                                    - al->n_con * N_GPN];
        b->demand_mean = mean;
        b->demand_p025 = ordered_quantile(o, 0.025);
        b->demand_p10 = ordered_quantile(o, 0.10);
        b->demand_p50 = ordered_quantile(o, 0.50);
        b->demand_p90 = ordered_quantile(o, 0.90);
        b->demand_p975 = ordered_quantile(o, 0.975);
    }
}

/* Integer columns [m0, m1) of this year, each ordered and banded. */
static void band_columns(alloc_result *r, int h, size_t m0, size_t m1, size_t w)
{
    const size_t n = r->n_reps;
    double *x = r->sorted + w * n;
    uint32_t *hist = r->hist + w * (HIST_RANGE + 1);

    for (size_t m = m0; m < m1; m++) {
        ordered o;
        double mean = order_ints(r->iv + m * r->stride, n, hist, x, &o);
        band_column(r, h, m, &o, mean);
    }
}

static void band_cost(alloc_result *r, int h, int s, size_t w)
{
    const size_t n = r->n_reps;
    double *x = r->sorted + w * n, sum = 0.0;
    alloc_cost_band *b = &r->cost[(size_t)h * ALLOC_N_COST + (size_t)s];

    for (size_t i = 0; i < n; i++) {
        x[i] = r->dv[(size_t)s * r->stride + i];
        sum += x[i];
    }
    sort_doubles(x, n, r->keys + 2 * w * n, r->keys + (2 * w + 1) * n);
    b->mean = sum / (double)n;
    b->p025 = summary_quantile_sorted(x, n, 0.025);
    b->p10 = summary_quantile_sorted(x, n, 0.10);
    b->p50 = summary_quantile_sorted(x, n, 0.50);
    b->p90 = summary_quantile_sorted(x, n, 0.90);
    b->p975 = summary_quantile_sorted(x, n, 0.975);
}

/* Worker w of n_workers takes a w-th share of the integer columns and of the cost columns
 * (alloc_result_new() was told at least n_workers, so worker w owns scratch w). */
static void on_year_done(void *ctx, int h, size_t w, size_t n_workers)
{
    alloc_result *r = ctx;

    band_columns(r, h, r->m_int * w / n_workers, r->m_int * (w + 1) / n_workers, w);
    for (size_t s = w; s < ALLOC_N_COST; s += n_workers)
        band_cost(r, h, (int)s, w);
    if (r->next.year_done)
        r->next.year_done(r->next.ctx, h, w, n_workers);
}

/* The base year's bands (h = 0): the census placed as the engine places it (alloc_place at
 * h = 0, no random numbers), rolled up as one replication. */
static void base_year_bands(alloc_result *r)
{
    const alloc *al = r->al;
    const size_t n_reps = r->n_reps;
    int32_t *want = xcalloc((size_t)SIM_N_AGES * SIM_N_NEEDS * SIM_N_SETTINGS, sizeof *want);
    int32_t *x = xcalloc(al->lay.cells, sizeof *x);
    engine_view v;

    if (n_reps == 0)
        goto done;
    for (int a = 0; a < SIM_N_AGES; a++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++) {
                double c = al->sc->caseload[a][n][s];
                want[(a * SIM_N_NEEDS + n) * SIM_N_SETTINGS + s] =
                    c > 0.0 && c < 1e9 ? (int32_t)llround(c) : 0;
            }
    alloc_place(al, 0, want, x);
    memset(&v, 0, sizeof v);
    v.year = al->base_year;
    v.n_slots = al->n_slots;
    v.row_off = al->lay.row_off;
    v.slot_at = al->lay.slot_at;
    v.x = x;
    r->n_reps = 1;                       /* band the one state as a replication of its own */
    on_rep_year(r, &v);
    band_columns(r, 0, 0, r->m_int, 0);
    for (int s = 0; s < ALLOC_N_COST; s++)
        band_cost(r, 0, s, 0);
    r->n_reps = n_reps;
done:
    free(want);
    free(x);
}

engine_sink alloc_sink(alloc_result *r, const engine_sink *next)
{
    engine_sink s = { r, on_rep_year, on_year_done };

    if (next)
        r->next = *next;
    return s;
}

const alloc_gpn_band *alloc_get_gpn(const alloc_result *r, int h, sim_group g, int phase,
                                    int need)
{
    const int c = r->al->gi[g];

    if (c < 0)
        return NULL;
    return &r->gpn[((size_t)h * r->al->n_con + (size_t)c) * N_GPN
                   + (size_t)(phase * ALLOC_N_GPN_NEED + need)];
}

const alloc_prov_band *alloc_get_prov(const alloc_result *r, int h, size_t p)
{
    return &r->prov[(size_t)h * r->al->n_prov + p];
}

const alloc_cost_band *alloc_get_cost(const alloc_result *r, int h, int setting)
{
    return &r->cost[(size_t)h * ALLOC_N_COST + (size_t)setting];
}

int32_t alloc_rep_shortfall(const alloc_result *r, int h, size_t rep)
{
    return r->rep_sf[(size_t)(h - 1) * r->n_reps + rep];
}

int32_t alloc_rep_oob(const alloc_result *r, int h, size_t rep)
{
    return r->rep_oob[(size_t)(h - 1) * r->n_reps + rep];
}

double alloc_rep_spend(const alloc_result *r, int h, size_t rep)
{
    return r->rep_spend[(size_t)(h - 1) * r->n_reps + rep];
}

size_t alloc_result_reps(const alloc_result *r) { return r->n_reps; }
int alloc_result_horizon(const alloc_result *r) { return r->horizon; }

/* ---- whole runs ------------------------------------------------------------------------ */

sim_status alloc_simulate(const scenario *sc, const fit *f, const alloc_run_options *o,
                          const engine_sink *next, alloc_result **out, sim_error *err)
{
    alloc *al = NULL;
    engine *e = NULL;
    alloc_result *r = NULL;
    engine_placer pl;
    engine_sink sink;
    engine_options opt = { .n_reps = o->n_reps, .seed = o->seed, .threads = o->threads,
                           .horizon = o->horizon };
    sim_status st = alloc_prepare(sc, o->horizon, &al, err);

    if (st != SIM_OK)
        return st;
    pl = alloc_placer(al);
    st = engine_prepare(sc, f, &pl, o->horizon, &e, err);
    if (st == SIM_OK) {
        r = alloc_result_new(al, o->n_reps, o->horizon, o->threads);
        r->owned = al;
        al = NULL;
        sink = alloc_sink(r, next);
        st = engine_run(e, &opt, &sink, err);
    }
    engine_free(e);
    alloc_free(al);
    if (st != SIM_OK) {
        alloc_result_free(r);
        return st;
    }
    *out = r;
    return SIM_OK;
}

/* Mean over replications and projected years of the total shortfall. */
static double mean_shortfall(const alloc_result *r)
{
    double sum = 0.0;

    for (int h = 1; h <= r->horizon; h++)
        for (size_t i = 0; i < r->n_reps; i++)
            sum += alloc_rep_shortfall(r, h, i);
    return sum / ((double)r->n_reps * (double)r->horizon);
}

/* 1 if P(shortfall of g, ALL, ALL) <= the risk target in every projected year; the highest
 * P and its (first) year into *worst, *worst_h. */
static int is_safe(const alloc_result *r, sim_group g, double *worst, int *worst_h)
{
    int safe = 1;

    *worst = 0.0;
    *worst_h = 1;
    for (int h = 1; h <= r->horizon; h++) {
        const alloc_gpn_band *b = alloc_get_gpn(r, h, g, ALLOC_ALL_PHASE, ALLOC_ALL_NEED);
        if (b == NULL)
            return 0;
        if (b->p_shortfall > *worst) {
            *worst = b->p_shortfall;
            *worst_h = h;
        }
        if (b->p_shortfall > r->risk_target)
            safe = 0;
    }
    return safe;
}

/* The distinct (wave name, group) pairs of sc->waves, in file order. */
static size_t wave_units(const scenario *sc, alloc_wave_row *rows)
{
    size_t n = 0;

    for (size_t i = 0; i < sc->n_waves; i++) {
        const wave *wv = &sc->waves[i];
        sim_group g = sc->provisions[wv->provision].group;
        size_t k = 0;
        while (k < n && !(rows[k].group == g && strcmp(rows[k].wave, wv->wave) == 0))
            k++;
        if (k == n) {
            memset(&rows[n], 0, sizeof rows[n]);
            snprintf(rows[n].wave, sizeof rows[n].wave, "%s", wv->wave);
            rows[n].group = g;
            rows[n].open_year = wv->open_year;
            n++;
        }
        if (wv->open_year < rows[k].open_year)
            rows[k].open_year = wv->open_year;
        rows[k].places += wv->places;
    }
    return n;
}

static int in_unit(const scenario *sc, const wave *wv, const alloc_wave_row *u)
{
    return sc->provisions[wv->provision].group == u->group && strcmp(wv->wave, u->wave) == 0;
}

/* Run `mod` (a shallow copy of the scenario whose waves are `waves`) and keep the result. */
static sim_status run_variant(scenario *mod, const fit *f, const alloc_run_options *o,
                              alloc_result **out, sim_error *err)
{
    return alloc_simulate(mod, f, o, NULL, out, err);
}

/* Is unit u safe when it opens in September `year`? -1 on error. Opening in the base year
 * also records the highest risk left (u->earliest_risk, u->earliest_risk_year). */
static int safe_at(scenario *mod, const scenario *sc, const fit *f, const alloc_run_options *o,
                   alloc_wave_row *u, int year, sim_status *st, sim_error *err)
{
    alloc_result *r = NULL;
    int safe, worst_h;
    double worst;

    for (size_t i = 0; i < sc->n_waves; i++)
        mod->waves[i] = sc->waves[i];
    for (size_t i = 0; i < sc->n_waves; i++)
        if (in_unit(sc, &sc->waves[i], u))
            mod->waves[i].open_year = year;
    if ((*st = run_variant(mod, f, o, &r, err)) != SIM_OK)
        return -1;
    safe = is_safe(r, u->group, &worst, &worst_h);
    if (year == sc->base_year) {
        u->earliest_risk = worst;
        u->earliest_risk_year = sc->base_year + worst_h;
    }
    alloc_result_free(r);
    return safe;
}

static sim_status evaluate_unit(scenario *mod, const scenario *sc, const fit *f,
                                const alloc_run_options *o, double base_mean,
                                alloc_wave_row *u, sim_error *err)
{
    alloc_result *r = NULL;
    sim_status st;
    int lo = sc->base_year, hi = sc->base_year + o->horizon - 1, s;

    for (size_t i = 0; i < sc->n_waves; i++) {
        mod->waves[i] = sc->waves[i];
        if (in_unit(sc, &sc->waves[i], u))
            mod->waves[i].places = 0.0;
    }
    if ((st = run_variant(mod, f, o, &r, err)) != SIM_OK)
        return st;
    u->reduction = mean_shortfall(r) - base_mean;
    alloc_result_free(r);
    u->latest_safe = 0;
    if ((s = safe_at(mod, sc, f, o, u, lo, &st, err)) <= 0)
        return s < 0 ? st : SIM_OK;
    while (lo < hi) {                    /* lo is safe; find the last safe year up to hi */
        int mid = lo + (hi - lo + 1) / 2;
        if ((s = safe_at(mod, sc, f, o, u, mid, &st, err)) < 0)
            return st;
        if (s)
            lo = mid;
        else
            hi = mid - 1;
    }
    u->latest_safe = lo;
    return SIM_OK;
}

sim_status alloc_waves(const scenario *sc, const fit *f, const alloc_run_options *o,
                       alloc_wave_row **rows, size_t *n, sim_error *err)
{
    alloc_wave_row *u = xcalloc(sc->n_waves ? sc->n_waves : 1, sizeof *u);
    scenario *mod = xmalloc(sizeof *mod);
    alloc_result *base = NULL;
    size_t nu = wave_units(sc, u);
    sim_status st = SIM_OK;
    double base_mean = 0.0;

    *mod = *sc;                          /* shallow: only the waves differ, in our own array */
    mod->waves = xcalloc(sc->n_waves ? sc->n_waves : 1, sizeof *mod->waves);
    if (nu > 0 && (st = run_variant((scenario *)sc, f, o, &base, err)) == SIM_OK)
        base_mean = mean_shortfall(base);
    alloc_result_free(base);
    for (size_t k = 0; k < nu && st == SIM_OK; k++)
        st = evaluate_unit(mod, sc, f, o, base_mean, &u[k], err);
    free(mod->waves);
    free(mod);
    if (st != SIM_OK) {
        free(u);
        return st;
    }
    *rows = u;
    *n = nu;
    return SIM_OK;
}

/* ---- compare --------------------------------------------------------------------------- */

const char *alloc_measure_code(int measure)
{
    static const char *const CODE[3] = { "shortfall", "out_of_borough", "spend" };
    return measure >= 0 && measure < 3 ? CODE[measure] : "?";
}

static double rep_value(const alloc_result *r, int m, int h, size_t i)
{
    return m == 0 ? alloc_rep_shortfall(r, h, i)
         : m == 1 ? alloc_rep_oob(r, h, i) : alloc_rep_spend(r, h, i);
}

size_t alloc_compare(const alloc_result *a, const alloc_result *b, alloc_compare_row *rows)
{
    const size_t n = a->n_reps < b->n_reps ? a->n_reps : b->n_reps;
    const int H = a->horizon < b->horizon ? a->horizon : b->horizon;
    double *d = xmalloc((n ? n : 1) * sizeof *d);
    size_t k = 0;

    for (int h = 1; h <= H && n > 0; h++)
        for (int m = 0; m < 3; m++) {
            alloc_compare_row *row = &rows[k++];
            double sa = 0.0, sb = 0.0;
            for (size_t i = 0; i < n; i++) {
                double va = rep_value(a, m, h, i), vb = rep_value(b, m, h, i);
                sa += va;
                sb += vb;
                d[i] = vb - va;
            }
            qsort(d, n, sizeof *d, cmp_double);
            row->year = a->al->base_year + h;
            row->measure = m;
            row->a_mean = sa / (double)n;
            row->b_mean = sb / (double)n;
            row->diff_mean = row->b_mean - row->a_mean;
            row->diff_p05 = summary_quantile_sorted(d, n, 0.05);
            row->diff_p95 = summary_quantile_sorted(d, n, 0.95);
        }
    free(d);
    return k;
}
