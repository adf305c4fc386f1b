/* engine.c - the Monte Carlo engine: replications of the cohort model (the only gsl_ran_* user).
 *
 * Replications advance year by year in lock step: every worker steps its block of
 * replications into year base + h, hands each state to the sink, waits for the others, and
 * then the sink summarises that year across replications. Only one year of roll-ups is ever
 * held, which is what keeps 10,000 replications in memory; each replication has its own
 * taus2 generator, so the thread count cannot change a draw. The per-cell binomials and
 * per-row Poissons come from sample.h (exact, on the same taus2 stream, without GSL's
 * per-number call overhead); GSL draws the few per-replication-year variates (Gamma shock,
 * growth and exit draws). */
#include "engine.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "cells.h"
#include "sample.h"
#include "xalloc.h"

enum { N_CELLS_AN = SIM_N_AGES * SIM_N_NEEDS, MAX_HORIZON = 200 };
_Static_assert(SIM_N_SETTINGS <= 16, "engine_placer.wanted holds a bit per setting");

/* Binomials with a mean below INV_MAX_MEAN use inversion; removal draws on cells below
 * POW_TABLE plans take (1 - p)^n from a table of the rates in force (rebuilt each
 * replication-year when the replication's exit draw shifts them), and those below CDF_TABLE
 * take the whole cdf from the engine's table of the unshifted rates. */
enum { INV_MAX_MEAN = 14, POW_TABLE = 64, CDF_TABLE = 40 };

/* A Poisson mean per (age, need) and year above this is capped. England's largest is about
 * 10^4; only an absurd growth draw over a long undamped horizon reaches the cap, which keeps
 * every count far inside int32 (and GSL's unsigned draws meaningful). */
#define MAX_MEAN 1e6

/* A guard on the far tail of the exit draw (Student-t with few degrees of freedom): no shift
 * makes a net inflow larger than this per surviving plan a year, which compounds to 440 times
 * the stock over 15 years. Not FIT_TRANSFER_MAX (0.10): that bounds a fitted rate, and capping
 * the drawn uncertainty there cut off the upper tail that the backtest's actuals reach
 * (backtest-notes.md, 21:12). */
#define SHIFT_INFLOW_MAX 0.5

/* DfE's age bands 0-4, 5-10, 11-15, 16-19 and 20-25: the exit draw has a part of its own in
 * each (engine.h, "Exit draw"). */
enum { N_BANDS = 5 };

static int band_of_age(int a)
{
    return a <= 4 ? 0 : a <= 10 ? 1 : a <= 15 ? 2 : a <= 19 ? 3 : 4;
}

/* The last SMALL_TOTAL or fewer pupils of a multinomial are drawn as that many categorical
 * draws. */
enum { SMALL_TOTAL = 8 };

/* The removal and transfer rates by age of one replication (the fit's, or shifted by the
 * replication's exit draw): computed once per replication (set_rate_ages). */
typedef struct rate_ages {
    double q[SIM_N_AGES];                   /* P(removed) for a plan aged a in January t */
    double rq[SIM_N_AGES];                  /* min(q, 1 - q): the removal draw's p */
    double lrq[SIM_N_AGES];                 /* log(1 - rq), for (1 - rq)^n */
    double orq[SIM_N_AGES];                 /* rq / (1 - rq) */
    int    rflip[SIM_N_AGES];               /* 1 when rq = 1 - q (draw survivors) */
    double leave_share[SIM_N_AGES];         /* P(left | removed) */
    double lls[SIM_N_AGES];                 /* log(1 - l), l = min(leave_share, 1 - it) */
    double ols[SIM_N_AGES];                 /* l / (1 - l) */
    double tin[SIM_N_AGES];                 /* transfers in per survivor, by age after ageing */
} rate_ages;

/* The rates in force for a replication-year: its rates by age and the table of powers that
 * small removal draws invert against (rebuilt each replication-year: 13 KB a replication
 * would be 130 MB at 10,000). */
typedef struct rates {
    rate_ages s;                            /* a copy of the engine's or the replication's:
                                               a pointer to them costs a load on the path of
                                               every removal draw */
    double pw[POW_TABLE][SIM_N_AGES];       /* pw[n][a] = (1 - rq[a])^n: n outermost, so
                                               that building it runs along rows */
    int    tabled;                          /* 1 when the engine's rcdf table holds for these
                                               rq (the unshifted rates) */
} rates;

/* A preference row compressed to its non-zero settings, largest share first, with the
 * conditional probabilities of the sequential-binomial multinomial precomputed. */
typedef struct pref_row {
    int           k;
    unsigned char set[SIM_N_SETTINGS];
    double        cond[SIM_N_SETTINGS];    /* share[j] / (sum of shares j..k-1) */
    double        lcond[SIM_N_SETTINGS];   /* log(1 - c), c = min(cond, 1 - cond) */
    double        ocond[SIM_N_SETTINGS];   /* c / (1 - c) */
    double        share[SIM_N_SETTINGS];   /* by setting, for engine_preference() */
    double        cum[SIM_N_SETTINGS];     /* cumulative shares in row order */
} pref_row;

struct engine {
    const scenario *sc;
    const fit      *f;
    engine_placer   placer;
    int             base_year, horizon;
    sim_setting    *slot_setting;           /* [n_slots] */
    engine_layout   layout;
    int16_t        *kpos;                   /* [cells]: where the pupils of a cell go on ageing
                                               (the position of their slot in the next age's
                                               row), -1 if they leave it; the last age's rows
                                               are all -1 */
    rate_ages       base_ages;              /* the fit's rates by age (no exit shift) */
    rates           base_rates;             /* and in force, with their table */
    double          exit_scale;             /* sd of the exit draw's Student-t or normal */
    double          band_scale;             /* the same for each band's own part */
    double          band_w[N_BANDS];        /* base-year plans by the band they age into,
                                               as shares: the bands' parts sum to 0 */
    double          exit_df;                /* its degrees of freedom (0: normal) */
    int             inline_rng;             /* sample_taus2_inline_ok() */
    double          rcdf[SIM_N_AGES][CDF_TABLE * (CDF_TABLE - 1) / 2];
                                            /* for 1 <= n < CDF_TABLE, from n (n - 1) / 2:
                                               P(Bin(n, rq) <= x), x = 0 .. n - 1 */
    unsigned char   phase_of[SIM_N_AGES];
    double         *mean;                   /* [(horizon + 1)][age][need] joiner means before
                                               growth and shock */
    double         *dsum;                   /* [horizon + 1]: d + d^2 + ... + d^h */
    pref_row        rows[SIM_N_PHASES][SIM_N_NEEDS];
    uint16_t        wanted[SIM_N_AGES];     /* the placer's, or every setting */
    int32_t         base[N_CELLS_AN * SIM_N_SETTINGS];
};

/* ---- rule table and preferences -------------------------------------------------------- */

int engine_setting_keeps(sim_setting s, int age)
{
    /* serves[s]: bit per phase the setting continues into at the phase's first age */
    static const unsigned serves[SIM_N_SETTINGS] = {
        [SET_MS] = 1u << PHASE_PRI | 1u << PHASE_SEC,
        [SET_RP] = 1u << PHASE_PRI | 1u << PHASE_SEC,
        [SET_SS] = 1u << PHASE_PRI | 1u << PHASE_SEC,
        [SET_IS] = 1u << PHASE_PRI | 1u << PHASE_SEC,
        [SET_AP] = 1u << PHASE_PRI | 1u << PHASE_SEC,
        [SET_FE] = 1u << PHASE_P16 | 1u << PHASE_P19,
        [SET_SPI] = 1u << PHASE_P16 | 1u << PHASE_P19,
        [SET_EY] = 1u << PHASE_EY,
        [SET_ELS] = 0x1fu,
        [SET_NEET] = 1u << PHASE_P16 | 1u << PHASE_P19,
        [SET_UNK] = 0,
    };
    sim_phase p;

    if (age < SIM_MIN_AGE || age > SIM_MAX_AGE)
        return 0;
    if (s == SET_UNK)
        return 0;                       /* awaiting provision: placed afresh every year */
    p = phase_of_age(age);
    if (age != phase_first_age(p))
        return 1;                       /* within a phase nobody moves */
    return (serves[s] >> p) & 1u;
}

static sim_setting default_setting(sim_phase p)
{
    switch (p) {
    case PHASE_EY:  return SET_EY;
    case PHASE_PRI:
    case PHASE_SEC: return SET_MS;
    default:        return SET_FE;
    }
}

static double row_sum(const double *v)
{
    double s = 0.0;
    for (int i = 0; i < SIM_N_SETTINGS; i++)
        s += v[i];
    return s;
}

/* The shares for (phase, need): preferences, else the base-year mix of the phase and need,
 * else of the phase, else its default setting. */
static void choose_shares(const scenario *sc, sim_phase p, sim_need n, double *share)
{
    double need_mix[SIM_N_SETTINGS] = { 0 }, phase_mix[SIM_N_SETTINGS] = { 0 }, s;

    if (sc->has_preferences && row_sum(sc->pref[p][n]) > 0.0) {
        memcpy(share, sc->pref[p][n], sizeof need_mix);
    } else {
        for (int a = phase_first_age(p); a <= phase_last_age(p); a++)
            for (int j = 0; j < SIM_N_NEEDS; j++)
                for (int k = 0; k < SIM_N_SETTINGS; k++) {
                    phase_mix[k] += sc->caseload[a][j][k];
                    if (j == (int)n)
                        need_mix[k] += sc->caseload[a][j][k];
                }
        if (row_sum(need_mix) > 0.0)
            memcpy(share, need_mix, sizeof need_mix);
        else if (row_sum(phase_mix) > 0.0)
            memcpy(share, phase_mix, sizeof need_mix);
        else {
            memset(share, 0, sizeof need_mix);
            share[default_setting(p)] = 1.0;
        }
    }
    s = row_sum(share);
    for (int k = 0; k < SIM_N_SETTINGS; k++)
        share[k] /= s;
}

static void build_row(pref_row *row, const double *share)
{
    double rest = 0.0;

    memcpy(row->share, share, sizeof row->share);
    row->k = 0;
    for (int k = 0; k < SIM_N_SETTINGS; k++) {
        int j;
        if (!(share[k] > 0.0))
            continue;
        /* insertion by descending share (ties by code order) so the first binomial of the
         * multinomial takes most pupils and the loop usually stops early */
        for (j = row->k; j > 0 && share[row->set[j - 1]] < share[k]; j--)
            row->set[j] = row->set[j - 1];
        row->set[j] = (unsigned char)k;
        row->k++;
    }
    for (int j = 0; j < row->k; j++)
        row->cum[j] = (j ? row->cum[j - 1] : 0.0) + share[row->set[j]];
    for (int j = row->k - 1; j >= 0; j--) {
        rest += share[row->set[j]];
        row->cond[j] = share[row->set[j]] / rest;
        if (row->cond[j] > 1.0 || j == row->k - 1)
            row->cond[j] = 1.0;
        row->lcond[j] = log1p(-fmin(row->cond[j], 1.0 - row->cond[j]));
        row->ocond[j] = fmin(row->cond[j], 1.0 - row->cond[j])
                        / (1.0 - fmin(row->cond[j], 1.0 - row->cond[j]));
    }
}

void engine_preference(const engine *e, sim_phase p, sim_need n, double share[SIM_N_SETTINGS])
{
    memcpy(share, e->rows[p][n].share, sizeof e->rows[p][n].share);
}

/* ---- preparation -------------------------------------------------------------------------- */

/* Population of `age` at the January census of `year` (the mid-(year - 1) estimate), holding
 * the last covered year beyond the file; < 0 when the file covers nothing usable. */
static double pop_held(const scenario *sc, int year, int age)
{
    int y = year - 1;

    if (sc->pop == NULL || sc->pop_last_year < sc->pop_first_year)
        return -1.0;
    if (y > sc->pop_last_year)
        y = sc->pop_last_year;
    if (y < sc->pop_first_year)
        return -1.0;
    return sc->pop[(size_t)(y - sc->pop_first_year) * SIM_N_AGES + (size_t)age];
}

static sim_status check_fit(const fit *f, sim_error *err)
{
    if (!isfinite(f->growth) || !isfinite(f->growth_se) || f->growth_se < 0.0)
        return sim_error_set(err, SIM_EDATA, "fit", 0, "growth",
                             "growth %g with standard error %g (expected finite, se >= 0)",
                             f->growth, f->growth_se);
    if (!isfinite(f->exit_sd) || f->exit_sd < 0.0 || f->exit_years < 0
        || !isfinite(f->exit_band_sd) || f->exit_band_sd < 0.0)
        return sim_error_set(err, SIM_EDATA, "fit", 0, "exit_sd",
                             "exit rate sd %g (each band's %g) over %d years (expected finite, "
                             ">= 0)", f->exit_sd, f->exit_band_sd, f->exit_years);
    if (!isfinite(f->overdispersion) || f->overdispersion < 0.0)
        return sim_error_set(err, SIM_EDATA, "fit", 0, "overdispersion",
                             "overdispersion %g (expected finite and >= 0)", f->overdispersion);
    for (int a = 0; a < SIM_N_AGES; a++) {
        double s = 0.0;
        if (!(f->cease[a] >= 0.0 && f->cease[a] <= 1.0))
            return sim_error_set(err, SIM_EDATA, "fit", 0, "cease",
                                 "cessation rate %g at age %d (expected 0..1)", f->cease[a], a);
        if (!(f->transfer[a] >= -1.0 && f->transfer[a] <= 1.0))
            return sim_error_set(err, SIM_EDATA, "fit", 0, "transfer",
                                 "transfer rate %g at age %d (expected -1..1)",
                                 f->transfer[a], a);
        if (!(f->joiners[a] >= 0.0) || !isfinite(f->joiners[a]))
            return sim_error_set(err, SIM_EDATA, "fit", 0, "joiners",
                                 "joiners %g at age %d (expected finite, >= 0)",
                                 f->joiners[a], a);
        for (int n = 0; n < SIM_N_NEEDS; n++) {
            if (!(f->pi[a][n] >= 0.0))
                return sim_error_set(err, SIM_EDATA, "fit", 0, "pi",
                                     "need share %g at age %d (expected >= 0)", f->pi[a][n], a);
            s += f->pi[a][n];
        }
        if (f->joiners[a] > 0.0 && fabs(s - 1.0) > 1e-6)
            return sim_error_set(err, SIM_EDATA, "fit", 0, "pi",
                                 "need shares at age %d sum to %g (expected 1)", a, s);
    }
    return SIM_OK;
}

static sim_status check_caseload(const scenario *sc, int32_t *base, sim_error *err)
{
    for (int a = 0; a < SIM_N_AGES; a++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++) {
                double v = sc->caseload[a][n][s];
                if (!(v >= 0.0 && v < 1e9) || v != floor(v))
                    return sim_error_set(err, SIM_EDATA, "caseload", 0, "count",
                                         "plans %g at age %d, need %s, setting %s (expected a "
                                         "whole number from 0 to 999,999,999)", v, a,
                                         need_code((sim_need)n), setting_code((sim_setting)s));
                base[(a * SIM_N_NEEDS + n) * SIM_N_SETTINGS + s] = (int32_t)v;
            }
    return SIM_OK;
}

static sim_status check_placer(const engine_placer *pl, sim_error *err)
{
    if (pl->n_extra > ENGINE_MAX_EXTRA)
        return sim_error_set(err, SIM_EUSAGE, "placer", 0, "slot",
                             "%zu extra slots (expected at most %d)", pl->n_extra,
                             (int)ENGINE_MAX_EXTRA);
    for (size_t i = 0; i < pl->n_extra; i++) {
        const engine_slot *s = &pl->extra[i];
        if ((int)s->setting < 0 || s->setting >= SIM_N_SETTINGS || s->age_from < SIM_MIN_AGE
            || s->age_to > SIM_MAX_AGE || s->age_from > s->age_to)
            return sim_error_set(err, SIM_EUSAGE, "placer", 0, "slot",
                                 "extra slot %zu: setting %d, ages %d-%d (expected a setting "
                                 "and ages within 0-25)", i, (int)s->setting, s->age_from,
                                 s->age_to);
    }
    if (pl->n_extra > 0 && pl->place == NULL)
        return sim_error_set(err, SIM_EUSAGE, "placer", 0, "place",
                             "extra slots need a place() hook");
    return SIM_OK;
}

/* 1 if extra slot x holds pupils of age a and need n. */
static int slot_holds(const engine_slot *x, int a, int n)
{
    return a >= x->age_from && a <= x->age_to && (x->needs == 0 || (x->needs >> n & 1u));
}

void engine_layout_init(engine_layout *l, const engine_slot *extra, size_t n_extra)
{
    l->n_slots = SIM_N_SETTINGS + n_extra;
    l->row_off = xmalloc((ENGINE_ROWS + 1) * sizeof *l->row_off);
    l->pos_of = xmalloc(ENGINE_ROWS * l->n_slots * sizeof *l->pos_of);
    l->widest = 0;
    l->row_off[0] = 0;
    for (size_t c = 0; c < ENGINE_ROWS; c++) {   /* positions of each slot, row by row */
        int16_t *pos = l->pos_of + c * l->n_slots;
        size_t j = 0;
        for (size_t s = 0; s < l->n_slots; s++) {
            int held = s < SIM_N_SETTINGS
                       || slot_holds(&extra[s - SIM_N_SETTINGS], (int)(c / SIM_N_NEEDS),
                                     (int)(c % SIM_N_NEEDS));
            pos[s] = (int16_t)(held ? (int)j++ : -1);
        }
        l->row_off[c + 1] = l->row_off[c] + j;
        l->widest = j > l->widest ? j : l->widest;
    }
    l->cells = l->row_off[ENGINE_ROWS];
    l->slot_at = xmalloc(l->cells * sizeof *l->slot_at);
    for (size_t c = 0; c < ENGINE_ROWS; c++)
        for (size_t s = 0; s < l->n_slots; s++)
            if (l->pos_of[c * l->n_slots + s] >= 0)
                l->slot_at[l->row_off[c] + (size_t)l->pos_of[c * l->n_slots + s]] = (uint16_t)s;
}

void engine_layout_free(engine_layout *l)
{
    free(l->row_off);
    free(l->slot_at);
    free(l->pos_of);
    l->row_off = NULL;
    l->slot_at = NULL;
    l->pos_of = NULL;
}

const engine_layout *engine_get_layout(const engine *e) { return &e->layout; }

/* The slots, their layout, and where each position's pupils go on ageing: a setting's keep
 * rule (engine_setting_keeps()), an extra slot's ages. */
static void prepare_slots(engine *e)
{
    const engine_placer *pl = &e->placer;
    const engine_layout *l = &e->layout;

    engine_layout_init(&e->layout, pl->extra, pl->n_extra);
    for (int a = 0; a < SIM_N_AGES; a++)
        e->wanted[a] = pl->wanted ? pl->wanted[a] : (uint16_t)((1u << SIM_N_SETTINGS) - 1u);
    e->slot_setting = xmalloc(l->n_slots * sizeof *e->slot_setting);
    for (size_t s = 0; s < l->n_slots; s++)
        e->slot_setting[s] = s < SIM_N_SETTINGS ? (sim_setting)s
                                                : pl->extra[s - SIM_N_SETTINGS].setting;
    e->kpos = xmalloc(l->cells * sizeof *e->kpos);
    for (size_t c = 0; c < ENGINE_ROWS; c++)
        for (size_t i = l->row_off[c]; i < l->row_off[c + 1]; i++) {
            const size_t s = l->slot_at[i], na = c / SIM_N_NEEDS + 1;
            int keep = 0;
            if (na < SIM_N_AGES)
                keep = s < SIM_N_SETTINGS
                       ? engine_setting_keeps((sim_setting)s, (int)na)
                       : (int)na <= pl->extra[s - SIM_N_SETTINGS].age_to;
            /* a slot held at (a, n) and serving a + 1 is held at (a + 1, n) too */
            e->kpos[i] = (int16_t)(keep ? l->pos_of[(c + SIM_N_NEEDS) * l->n_slots + s] : -1);
        }
}

/* The net transfer rate at age a (after ageing) under an exit shift: the fit's rate less
 * the shift, kept within [-1, max(fit's rate, SHIFT_INFLOW_MAX)]. */
static double shifted_transfer(const fit *f, int a, double shift)
{
    double t = f->transfer[a] - shift, hi = fmax(f->transfer[a], SHIFT_INFLOW_MAX);

    return t < -1.0 ? -1.0 : t > hi ? hi : t;
}

/* Rates by age with the net exit rate at age a (after ageing) raised by shift[a] (NULL: the
 * fit's own rates). Cessation stays as fitted; the shift moves the net transfer rate, whose
 * negative part is extra removal and whose positive part is transfers in. */
static void set_rate_ages(const fit *f, const double *shift, rate_ages *r)
{
    for (int a = 0; a < SIM_N_AGES; a++) {
        double c = a == SIM_MAX_AGE ? 1.0 : f->cease[a];
        double s0 = shift ? shift[a] : 0.0, s1 = shift && a < SIM_MAX_AGE ? shift[a + 1] : 0.0;
        double out = a == SIM_MAX_AGE ? 0.0 : fmax(0.0, -shifted_transfer(f, a + 1, s1));
        double l;
        r->q[a] = 1.0 - (1.0 - c) * (1.0 - out);
        r->leave_share[a] = r->q[a] > 0.0 ? fmin(1.0, c / r->q[a]) : 1.0;
        r->tin[a] = fmax(0.0, shifted_transfer(f, a, s0));
        r->rflip[a] = r->q[a] > 0.5;
        r->rq[a] = r->rflip[a] ? 1.0 - r->q[a] : r->q[a];
        r->lrq[a] = log1p(-r->rq[a]);
        l = fmin(r->leave_share[a], 1.0 - r->leave_share[a]);
        r->lls[a] = log1p(-l);
        r->orq[a] = r->rq[a] / (1.0 - r->rq[a]);
        r->ols[a] = l / (1.0 - l);
    }
}

/* Put rates by age `s` in force in rt, with their table of powers; `tabled` when s are the
 * fit's own (unshifted) rates. */
static void set_rates(const rate_ages *s, int tabled, rates *rt)
{
    double base[SIM_N_AGES];

    rt->s = *s;
    for (int a = 0; a < SIM_N_AGES; a++) {
        rt->pw[0][a] = 1.0;
        base[a] = 1.0 - s->rq[a];
    }
    /* k roundings: well within 1e-13; ages innermost and contiguous, so the 26 product chains
     * overlap and vectorise (this runs every replication-year) */
    for (int k = 1; k < POW_TABLE; k++)
        for (int a = 0; a < SIM_N_AGES; a++)
            rt->pw[k][a] = rt->pw[k - 1][a] * base[a];
    rt->tabled = tabled;
}

/* The exit draw's scale: the Student-t prediction of a future year's net exit rate from
 * exit_years past ones, exit_sd * sqrt(1 + 1 / n) * t(n - 1), and the same for each band's
 * part (engine.h says why), with the weights that make the bands' parts sum to 0. */
static void prepare_exit(engine *e)
{
    const fit *f = e->f;
    double all = 0.0;

    e->exit_scale = 0.0;
    e->band_scale = 0.0;
    e->exit_df = 0.0;
    memset(e->band_w, 0, sizeof e->band_w);
    for (int a = 0; a < SIM_MAX_AGE; a++)
        for (size_t i = 0; i < SIM_N_NEEDS * SIM_N_SETTINGS; i++) {
            const double k = e->base[(size_t)a * SIM_N_NEEDS * SIM_N_SETTINGS + i];
            e->band_w[band_of_age(a + 1)] += k;
            all += k;
        }
    for (int b = 0; b < N_BANDS; b++)
        e->band_w[b] = all > 0.0 ? e->band_w[b] / all : 1.0 / N_BANDS;
    if (!(f->exit_sd > 0.0))
        return;
    e->exit_scale = f->exit_sd;
    e->band_scale = f->exit_band_sd > 0.0 ? f->exit_band_sd : 0.0;
    if (f->exit_years >= 2) {
        e->exit_scale *= sqrt(1.0 + 1.0 / f->exit_years);
        e->band_scale *= sqrt(1.0 + 1.0 / f->exit_years);
        e->exit_df = f->exit_years - 1;
    }
}

/* The removal draws' cdfs of the fit's own rates, for cells below CDF_TABLE plans. */
static void prepare_cdfs(engine *e)
{
    const rate_ages *r = &e->base_ages;

    for (int a = 0; a < SIM_N_AGES; a++)
        for (int k = 1; k < CDF_TABLE; k++) {
            double *cdf = e->rcdf[a] + (size_t)k * (size_t)(k - 1) / 2;
            double pmf = pow(1.0 - r->rq[a], k), acc = 0.0;
            double odds = r->rq[a] / (1.0 - r->rq[a]);
            for (int x = 0; x < k; x++) {
                acc += pmf;
                cdf[x] = acc;
                pmf *= odds * (double)(k - x) / (double)(x + 1);
            }
        }
}

static void prepare_rates(engine *e)
{
    const fit *f = e->f;
    const scenario *sc = e->sc;
    double d = sc->damping, dp = 1.0;

    set_rate_ages(f, NULL, &e->base_ages);
    set_rates(&e->base_ages, 1, &e->base_rates);
    prepare_exit(e);
    prepare_cdfs(e);
    for (int a = 0; a < SIM_N_AGES; a++)
        e->phase_of[a] = (unsigned char)phase_of_age(a);
    e->dsum = xcalloc((size_t)e->horizon + 1, sizeof *e->dsum);
    for (int h = 1; h <= e->horizon; h++) {
        dp *= d;
        e->dsum[h] = e->dsum[h - 1] + dp;
    }
    e->mean = xcalloc(((size_t)e->horizon + 1) * N_CELLS_AN, sizeof *e->mean);
    for (int h = 1; h <= e->horizon; h++)
        for (int a = 0; a < SIM_N_AGES; a++) {
            double ratio = 1.0;
            if (sc->pop != NULL) {      /* DESIGN.md step 3, whether g is per child or not */
                double p1 = pop_held(sc, e->base_year + 1, a);
                double pt = pop_held(sc, e->base_year + h, a);
                if (p1 > 0.0 && pt >= 0.0)
                    ratio = pt / p1;
            }
            for (int n = 0; n < SIM_N_NEEDS; n++)
                e->mean[(size_t)h * N_CELLS_AN + (size_t)(a * SIM_N_NEEDS + n)] =
                    f->joiners[a] * ratio * f->pi[a][n] * sc->incidence_multiplier;
        }
    for (int p = 0; p < SIM_N_PHASES; p++)
        for (int n = 0; n < SIM_N_NEEDS; n++) {
            double share[SIM_N_SETTINGS];
            choose_shares(sc, (sim_phase)p, (sim_need)n, share);
            build_row(&e->rows[p][n], share);
        }
}

sim_status engine_prepare(const scenario *sc, const fit *f, const engine_placer *placer,
                          int horizon, engine **out, sim_error *err)
{
    static const engine_placer none = { 0 };
    engine *e;
    sim_status st;

    if (horizon < 1 || horizon > MAX_HORIZON)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "horizon",
                             "horizon %d (expected 1 to %d)", horizon, MAX_HORIZON);
    if (!(sc->damping >= 0.0 && sc->damping <= 1.0) || !(sc->incidence_multiplier >= 0.0)
        || !isfinite(sc->incidence_multiplier))
        return sim_error_set(err, SIM_EDATA, NULL, 0, "damping",
                             "damping %g or incidence_multiplier %g out of range",
                             sc->damping, sc->incidence_multiplier);
    if ((st = check_fit(f, err)) != SIM_OK)
        return st;
    if (placer != NULL && (st = check_placer(placer, err)) != SIM_OK)
        return st;
    e = xcalloc(1, sizeof *e);
    if ((st = check_caseload(sc, e->base, err)) != SIM_OK) {
        free(e);
        return st;
    }
    e->sc = sc;
    e->f = f;
    e->placer = placer ? *placer : none;
    e->base_year = sc->base_year;
    e->horizon = horizon;
    prepare_slots(e);
    prepare_rates(e);
    e->inline_rng = sample_taus2_inline_ok();
    *out = e;
    return SIM_OK;
}

void engine_free(engine *e)
{
    if (e == NULL)
        return;
    free(e->slot_setting);
    free(e->kpos);
    engine_layout_free(&e->layout);
    free(e->mean);
    free(e->dsum);
    free(e);
}

size_t engine_slots(const engine *e) { return e->layout.n_slots; }

size_t engine_bytes(const engine *e, size_t n_reps)
{
    /* state + generator (struct and taus2 state, with malloc overhead) + growth draw and
     * rates by age + workspace */
    return n_reps * (e->layout.cells * sizeof(int32_t) + 96 + sizeof(double)
                     + (e->exit_scale > 0.0 ? sizeof(rate_ages) : 0) + e->placer.ws_size);
}

/* ---- seeding -------------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* MurmurHash3's finaliser: a bijection of 32-bit words, so distinct reps get distinct seeds
 * (GSL's generators take 32 significant bits of seed). */
static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bU;
    h ^= h >> 13;
    h *= 0xc2b2ae35U;
    h ^= h >> 16;
    return h;
}

/* The name of replication rep's substreams: distinct for distinct rep below 2^32, and the
 * substream of (h, part) differs from every other in the bits above 32 (substream()). */
static uint64_t rep_key(unsigned long seed, size_t rep)
{
    return (splitmix64((uint64_t)seed ^ 0x5ee051de5ee051deULL) & ~0xffffffffULL)
           ^ (uint64_t)(uint32_t)rep;
}

unsigned long engine_rep_seed(unsigned long seed, size_t rep)
{
    uint64_t h = splitmix64((uint64_t)seed);
    return fmix32((uint32_t)(h ^ (h >> 32)) + (uint32_t)rep);
}

/* ---- one step --------------------------------------------------------------------------- */

/* What a worker needs for the replication it is stepping. */
typedef struct rep_ctx {
    const engine *e;
    gsl_rng      *r;
    sample_rng    sr;                   /* r, with inline uniforms */
    int32_t      *x;                    /* this replication's state */
    void         *ws;                   /* placer workspace */
    double        g;                    /* this replication's growth draw */
    double        shift;                /* this replication's exit draw (0: none) */
    double        band_shift[N_BANDS];  /* and each band's own part (0: none) */
    const rates  *rt;                   /* the rates in force: &e->base_rates or &own */
    rates         own;                  /* its rates in force when it has an exit draw */
    int32_t      *want;                 /* worker scratch when a place() hook exists */
    uint64_t      want_rows[(N_CELLS_AN + 63) / 64];  /* rows of want written this year */
    uint64_t      key;                  /* names this replication's substreams (substream()) */
    engine_flows  flows;
    engine_work   work;                 /* this worker's totals so far */
} rep_ctx;

/* Binomial(n, p) for p in [0, 1], given l = log(1 - c) and odds = c / (1 - c), where
 * c = min(p, 1 - p) (kept by callers that draw often with one p): inversion from
 * (1 - p)^n = exp(n l) for the small means of a local authority's cells, sample.h's BTRS for
 * large ones. (GSL's BTPE, and its small-mean branch with pow() on every draw, dominated the
 * profile; so did (1 - p)^n by squaring, whose branches mispredict.) */
static unsigned draw_binomial_l(rep_ctx *rc, double p, int32_t n, double l, double odds)
{
    sample_rng *sr = &rc->sr;
    int flip;
    double pp;
    unsigned x;

    if (p <= 0.0 || n <= 0)
        return 0;
    if (p >= 1.0)
        return (unsigned)n;
    rc->work.draws++;
    flip = p > 0.5;
    pp = flip ? 1.0 - p : p;
    if ((double)n * pp < INV_MAX_MEAN)
        x = sample_binomial_inv(sr, odds, (unsigned)n, exp((double)n * l));
    else
        x = sample_binomial_btrs(sr, pp, (unsigned)n);
    return flip ? (unsigned)n - x : x;
}

static unsigned draw_binomial(rep_ctx *rc, double p, int32_t n)
{
    const double pp = fmin(p, 1.0 - p);

    return draw_binomial_l(rc, p, n, log1p(-pp), pp / (1.0 - pp));
}

/* The removal draw of age a under rates `rt`: small cells by inversion against the engine's
 * cdf table (unshifted rates) or from rt's (1 - p)^n table, large ones by BTRS. */
static unsigned draw_removal(rep_ctx *rc, int a, int32_t n)
{
    const engine *e = rc->e;
    const rates *rt = rc->rt;
    sample_rng *sr = &rc->sr;
    const double p = rt->s.rq[a];
    unsigned x;

    if (p <= 0.0 || n <= 0)
        return rt->s.rflip[a] ? (unsigned)n : 0;
    rc->work.draws++;
    if (rt->tabled && n < CDF_TABLE) {
        /* inversion against the tabulated cdf: no arithmetic but compares */
        const double *cdf = e->rcdf[a] + (size_t)n * (size_t)(n - 1) / 2;
        double u = sample_uniform(sr);
        x = 0;
        while (x < (unsigned)n && u >= cdf[x])
            x++;
    } else if ((double)n * p < INV_MAX_MEAN)
        x = sample_binomial_inv(sr, rt->s.orq[a], (unsigned)n, n < POW_TABLE ? rt->pw[n][a]
                                                               : exp((double)n * rt->s.lrq[a]));
    else
        x = sample_binomial_btrs(sr, p, (unsigned)n);
    return rt->s.rflip[a] ? (unsigned)n - x : x;
}

/* Poisson(mu), capped at MAX_MEAN (sample.h: inversion, else PTRS). */
static int32_t draw_poisson(rep_ctx *rc, double mu)
{
    rc->work.draws += mu > 0.0;
    return (int32_t)sample_poisson(&rc->sr, fmin(mu, MAX_MEAN));
}

/* Place `rem` pupils over the row's settings j .. k - 1 by independent categorical draws with
 * the shares of those settings (the conditional multinomial): one uniform per pupil, rem
 * bounded by SMALL_TOTAL, so no per-pupil scaling. */
static void place_few(rep_ctx *rc, const pref_row *row, int j, int32_t rem, int32_t *got)
{
    const double lo = j > 0 ? row->cum[j - 1] : 0.0, span = row->cum[row->k - 1] - lo;

    rc->work.draws += (uint64_t)rem;
    for (int32_t i = 0; i < rem; i++) {
        double u = lo + span * sample_uniform(&rc->sr);
        int s = j;
        for (int c = j; c < row->k - 1; c++)   /* cum ascends: counting the cums <= u */
            s += u >= row->cum[c];             /* finds the setting without a mispredict */
        got[s] += 1;
    }
}

/* Split `total` pupils of age a and need n over their phase's preference row; add them to the
 * setting slots of `cell` (x at [a][n]) or, for the settings the placer wants at age a, to
 * `want`. The multinomial is drawn as binomials down the row (largest share first) until at
 * most SMALL_TOTAL pupils are left, and those by categorical draws, which cost one uniform
 * each instead of up to k - 1 binomials. */
static void place_row(rep_ctx *rc, int a, int n, int32_t total, int32_t *cell)
{
    const engine *e = rc->e;
    const pref_row *row = &e->rows[e->phase_of[a]][n];
    int32_t *want = rc->want ? rc->want + (size_t)(a * SIM_N_NEEDS + n) * SIM_N_SETTINGS : NULL;
    const unsigned wanted = want ? e->wanted[a] : 0;
    unsigned sent = 0;
    int32_t got[SIM_N_SETTINGS] = { 0 }, rem = total;

    for (int j = 0; j < row->k && rem > 0; j++) {
        if (rem <= SMALL_TOTAL && j < row->k - 1) {
            place_few(rc, row, j, rem, got);
            break;
        }
        got[j] = row->cond[j] >= 1.0 ? rem
                                     : (int32_t)draw_binomial_l(rc, row->cond[j], rem,
                                                                row->lcond[j], row->ocond[j]);
        rem -= got[j];
    }
    /* branch-free: whether a setting is wanted, and whether it got anyone, are coin flips to
     * a branch predictor */
    for (int j = 0; j < row->k; j++) {
        const int s = row->set[j];
        const unsigned w = wanted >> s & 1u;
        (w ? want : cell)[s] += got[j];
        sent |= w & (unsigned)(got[j] > 0);
    }
    if (sent) {
        const size_t c = (size_t)(a * SIM_N_NEEDS + n);
        rc->want_rows[c / 64] |= (uint64_t)1 << (c % 64);
    }
}

/* Running counts of one (age, need) row while its cells are removed and aged. */
typedef struct row_count {
    int64_t before, removed;
    int32_t pool, aged, leaving, occupied;
} row_count;

/* Empty one occupied cell of age a. A cell whose slot serves age a + 1 (dst not NULL) has
 * its own removal draw and its survivors move to dst; the others only add to `leaving`, whose
 * survivors are drawn once for the whole row (a sum of binomials with one p is a binomial), as
 * they all join the pool to be placed afresh. */
static inline void remove_cell(rep_ctx *rc, int a, int32_t *src, int32_t *dst, row_count *c)
{
    int32_t k = *src, surv;

    *src = 0;
    c->before += k;
    c->occupied++;
    if (dst == NULL) {
        c->leaving += k;
        return;
    }
    surv = k - (int32_t)draw_removal(rc, a, k);
    c->removed += k - surv;
    c->aged += surv;
    *dst += surv;
}

/* The one removal draw for the cells of a row that do not keep their slot. */
static inline void remove_leaving(rep_ctx *rc, int a, row_count *c)
{
    int32_t surv;

    if (c->leaving == 0)
        return;
    surv = c->leaving - (int32_t)draw_removal(rc, a, c->leaving);
    c->removed += c->leaving - surv;
    c->aged += surv;
    c->pool += surv;
}

/* Remove and age the occupied cells of row c (age a) into row c + SIM_N_NEEDS. */
static void age_row(rep_ctx *rc, int a, size_t c, row_count *cnt)
{
    const engine *e = rc->e;
    const size_t *off = e->layout.row_off, S = off[c + 1] - off[c];
    int32_t *src = rc->x + off[c], *dst = rc->x + off[c + SIM_N_NEEDS];
    const int16_t *kp = e->kpos + off[c];

    if (S <= 64) {
        /* visit occupied cells only: a branch-free occupancy mask, then its set bits
         * (testing every cell mispredicted on the sparse rows of a small LA) */
        for (uint64_t m = cells_nonzero(src, S); m != 0; m &= m - 1) {
            const size_t s = cells_lowest(m);
            remove_cell(rc, a, src + s, kp[s] >= 0 ? dst + kp[s] : NULL, cnt);
        }
    } else {
        for (size_t s = 0; s < S; s++)
            if (src[s] != 0)
                remove_cell(rc, a, src + s, kp[s] >= 0 ? dst + kp[s] : NULL, cnt);
    }
    remove_leaving(rc, a, cnt);
}

/* Restart the replication's generator on the substream of projected year h and `part` (the
 * destination age 0-25 of a step_age(), or PART_YEAR for the year's shock). Every age of
 * every year draws from its own stream, so two scenarios run on common random numbers stay
 * paired where they differ: a wave that moves some pupils of one age changes the draws of that
 * age in that year, not every draw after it. */
enum { PART_YEAR = SIM_N_AGES };

static void substream(rep_ctx *rc, int h, int part)
{
    sample_substream(&rc->sr, rc->key ^ ((uint64_t)(unsigned)h << 40)
                              ^ ((uint64_t)(unsigned)part << 32));
}

/* Move age a's survivors to age a + 1 (already empty), then add that age's transfers in and
 * joiners and place them. */
static void step_age(rep_ctx *rc, int a, const double *mean, double jscale)
{
    const engine *e = rc->e;
    const int na = a + 1;
    const double tin = rc->rt->s.tin[na];
    int64_t before = 0, removed = 0;
    int32_t arrivals = 0;
    double sum_j = 0.0, sum_t = 0.0;
    engine_flows *fl = &rc->flows;

    for (int n = 0; n < SIM_N_NEEDS; n++) {
        const size_t c = (size_t)(a * SIM_N_NEEDS + n);
        row_count cnt = { 0, 0, 0, 0, 0, 0 };
        int32_t arrived, total;
        double mu_j, mu_t;
        age_row(rc, a, c, &cnt);
        rc->work.occupied += (uint64_t)cnt.occupied;
        before += cnt.before;
        removed += cnt.removed;
        /* joiners and transfers in are independent Poissons: draw their sum once */
        mu_j = mean[na * SIM_N_NEEDS + n] * jscale;
        mu_t = tin * cnt.aged;
        arrived = draw_poisson(rc, mu_j + mu_t);
        sum_j += mu_j;
        sum_t += mu_t;
        arrivals += arrived;
        fl->replaced[na] += cnt.pool;
        total = cnt.pool + arrived;
        if (total > 0)
            place_row(rc, na, n, total, rc->x + e->layout.row_off[c + SIM_N_NEEDS]);
    }
    fl->plans_before[a] = before;
    fl->leavers[a] = draw_binomial_l(rc, rc->rt->s.leave_share[a], (int32_t)removed,
                                     rc->rt->s.lls[a], rc->rt->s.ols[a]);
    fl->transfers_out[na] = removed - fl->leavers[a];
    /* the age's arrivals split into its two Poissons: exact for the flows by age */
    fl->joiners[na] = sum_t > 0.0
        ? (int64_t)draw_binomial(rc, sum_j / (sum_j + sum_t), arrivals) : arrivals;
    fl->transfers_in[na] = arrivals - fl->joiners[na];
}

/* Zero the rows of want that this year's placements wrote (place() may leave them as they
 * were), not the whole array: with a placer that limits few settings, few rows are written. */
static void clear_wants(rep_ctx *rc)
{
    for (size_t i = 0; i < sizeof rc->want_rows / sizeof *rc->want_rows; i++) {
        for (uint64_t m = rc->want_rows[i]; m != 0; m &= m - 1)
            memset(rc->want + (i * 64 + cells_lowest(m)) * SIM_N_SETTINGS, 0,
                   SIM_N_SETTINGS * sizeof *rc->want);
        rc->want_rows[i] = 0;
    }
}

static void step(rep_ctx *rc, int h)
{
    const engine *e = rc->e;
    const size_t *off = e->layout.row_off;
    const size_t row = e->layout.cells - off[SIM_MAX_AGE * SIM_N_NEEDS];   /* last age's */
    const double v = e->f->overdispersion;
    const double *mean = e->mean + (size_t)h * N_CELLS_AN;
    int32_t *last = rc->x + off[SIM_MAX_AGE * SIM_N_NEEDS];
    int64_t old = 0;
    double shock, jscale;

    substream(rc, h, PART_YEAR);
    shock = v > 0.0 ? gsl_ran_gamma(rc->r, 1.0 / v, v) : 1.0;
    rc->work.draws += v > 0.0;
    jscale = shock * exp(rc->g * e->dsum[h]);
    memset(&rc->flows, 0, sizeof rc->flows);
    for (size_t i = 0; i < row; i++) {
        old += last[i];
        rc->work.occupied += last[i] != 0;
    }
    memset(last, 0, row * sizeof *last);   /* every plan of a 25-year-old ends */
    rc->flows.plans_before[SIM_MAX_AGE] = old;
    rc->flows.leavers[SIM_MAX_AGE] = old;
    for (int a = SIM_MAX_AGE - 1; a >= 0; a--) {
        substream(rc, h, a + 1);
        step_age(rc, a, mean, jscale);
    }
    substream(rc, h, 0);
    for (int n = 0; n < SIM_N_NEEDS; n++) {
        int32_t j = draw_poisson(rc, mean[n] * jscale);
        rc->flows.joiners[0] += j;
        if (j > 0)
            place_row(rc, 0, n, j, rc->x + off[n]);
    }
    if (rc->want) {
        e->placer.place(e->placer.ctx, rc->ws, e->base_year + h, rc->want, rc->x, &e->layout);
        clear_wants(rc);
    }
}

/* One standard variate of the exit draw's law: Student-t, or normal when df is 0. */
static double exit_variate(rep_ctx *rc)
{
    return rc->e->exit_df > 0.0 ? gsl_ran_tdist(rc->r, rc->e->exit_df)
                                : gsl_ran_gaussian(rc->r, 1.0);
}

/* Each band's part of the exit draw, less their weighted mean: the parts move the net exit
 * rate between bands, and leave the total's to the common shift. */
static void draw_band_shifts(rep_ctx *rc)
{
    const engine *e = rc->e;
    double mean = 0.0;

    memset(rc->band_shift, 0, sizeof rc->band_shift);
    if (!(e->band_scale > 0.0))
        return;
    for (int b = 0; b < N_BANDS; b++) {
        rc->band_shift[b] = e->band_scale * exit_variate(rc);
        mean += e->band_w[b] * rc->band_shift[b];
    }
    for (int b = 0; b < N_BANDS; b++)
        rc->band_shift[b] -= mean;
    rc->work.draws += N_BANDS;
}

/* The base-year state: the caseload in the setting slots, or handed to place() as wanted. */
static void init_rep(rep_ctx *rc, size_t rep, unsigned long seed)
{
    const engine *e = rc->e;

    gsl_rng_set(rc->r, engine_rep_seed(seed, rep));
    rc->g = e->f->growth;
    rc->work.draws += (e->f->growth_se > 0.0) + (e->exit_scale > 0.0);
    if (e->f->growth_se > 0.0)
        rc->g += gsl_ran_gaussian(rc->r, e->f->growth_se);
    /* after g, so a fit without exit uncertainty keeps every earlier draw */
    rc->shift = 0.0;
    if (e->exit_scale > 0.0)
        rc->shift = e->exit_scale * exit_variate(rc);
    draw_band_shifts(rc);
    if (rc->want) {
        memcpy(rc->want, e->base, sizeof e->base);
        e->placer.place(e->placer.ctx, rc->ws, e->base_year, rc->want, rc->x, &e->layout);
        memset(rc->want, 0, sizeof e->base);
        return;
    }
    for (size_t c = 0; c < N_CELLS_AN; c++)
        memcpy(rc->x + e->layout.row_off[c], e->base + c * SIM_N_SETTINGS,
               SIM_N_SETTINGS * sizeof *rc->x);
}

/* Replication rc's rates by age under its exit draw: its shift at every age plus its band's
 * part (computed once per replication; set_rates() puts them in force each year). */
static void rep_rate_ages(const rep_ctx *rc, rate_ages *out)
{
    double shift[SIM_N_AGES];

    for (int a = 0; a < SIM_N_AGES; a++)
        shift[a] = rc->shift + rc->band_shift[band_of_age(a)];
    set_rate_ages(rc->e->f, shift, out);
}

/* ---- threads ---------------------------------------------------------------------------- */

typedef struct run_shared {
    const engine         *e;
    const engine_options *opt;
    const engine_sink    *sink;
    size_t                cells;        /* int32 per replication state */
    int32_t              *x;            /* [n_reps][cells] */
    gsl_rng             **rng;          /* [n_reps] */
    double               *g;            /* [n_reps]: each replication's growth draw */
    rate_ages            *ages;         /* [n_reps]: each one's rates by age under its exit
                                           draw, or NULL when there is none (the fit's) */
    unsigned char        *ws;           /* [n_reps][ws_size] */
    engine_work          *work;         /* [threads]: each worker's totals */
    pthread_barrier_t     barrier;
    pthread_mutex_t       gate;
    pthread_cond_t        gate_cv;
    int                   go;           /* 0 wait, 1 run, -1 abandon */
} run_shared;

typedef struct worker {
    run_shared *sh;
    size_t      w;
    pthread_t   tid;
} worker;

/* Ask for the next replication's state while this one steps: states are visited once a year
 * each, so they come from memory, and the step walks ages downwards, which the hardware
 * prefetcher does not follow well. */
static void prefetch_state(const int32_t *x, size_t cells)
{
    for (size_t i = 0; i < cells; i += 64 / sizeof *x)
        __builtin_prefetch(x + i, 1, 3);
}

/* Point rc at replication i's generator, state and workspace. */
static void bind_rep(rep_ctx *rc, const run_shared *sh, size_t i)
{
    const size_t wsz = sh->e->placer.ws_size;

    rc->r = sh->rng[i];
    sample_bind(&rc->sr, rc->r, sh->e->inline_rng);
    rc->key = rep_key(sh->opt->seed, i);
    rc->x = sh->x + i * sh->cells;
    rc->ws = wsz ? sh->ws + i * wsz : NULL;
}

/* Step replications lo .. hi - 1 into year base + h and hand each to the sink. */
static void step_block(run_shared *sh, rep_ctx *rc, engine_view *view, size_t lo, size_t hi,
                       int h)
{
    for (size_t i = lo; i < hi; i++) {
        bind_rep(rc, sh, i);
        rc->g = sh->g[i];
        rc->rt = &rc->e->base_rates;
        if (sh->ages) {
            set_rates(&sh->ages[i], 0, &rc->own);
            rc->rt = &rc->own;
        }
        if (i + 1 < hi) {
            prefetch_state(sh->x + (i + 1) * sh->cells, sh->cells);
            if (sh->ages)
                prefetch_state((const int32_t *)&sh->ages[i + 1],
                               sizeof *sh->ages / sizeof(int32_t));
        }
        step(rc, h);
        view->rep = i;
        view->year = sh->e->base_year + h;
        view->h = h;
        view->x = rc->x;
        view->ws = rc->ws;
        if (sh->sink && sh->sink->rep_year)
            sh->sink->rep_year(sh->sink->ctx, view);
    }
}

static void run_block(run_shared *sh, size_t w)
{
    const engine *e = sh->e;
    const engine_options *opt = sh->opt;
    const size_t T = opt->threads, lo = opt->n_reps * w / T, hi = opt->n_reps * (w + 1) / T;
    rep_ctx rc = { .e = e };
    engine_view view = { .n_slots = e->layout.n_slots, .row_off = e->layout.row_off,
                         .slot_at = e->layout.slot_at, .slot_setting = e->slot_setting,
                         .flows = &rc.flows };

    if (e->placer.place)
        rc.want = xcalloc(N_CELLS_AN * SIM_N_SETTINGS, sizeof *rc.want);
    for (size_t i = lo; i < hi; i++) {
        bind_rep(&rc, sh, i);
        init_rep(&rc, i, opt->seed);
        sh->g[i] = rc.g;
        if (sh->ages)
            rep_rate_ages(&rc, &sh->ages[i]);
    }
    for (int h = 1; h <= opt->horizon; h++) {
        step_block(sh, &rc, &view, lo, hi, h);
        pthread_barrier_wait(&sh->barrier);
        if (sh->sink && sh->sink->year_done)
            sh->sink->year_done(sh->sink->ctx, h, w, T);
        pthread_barrier_wait(&sh->barrier);
        if (w == 0 && opt->progress)
            opt->progress(opt->progress_ctx, (size_t)h, (size_t)opt->horizon);
    }
    sh->work[w] = rc.work;
    free(rc.want);
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    run_shared *sh = wk->sh;
    int go;

    pthread_mutex_lock(&sh->gate);
    while (sh->go == 0)
        pthread_cond_wait(&sh->gate_cv, &sh->gate);
    go = sh->go;
    pthread_mutex_unlock(&sh->gate);
    if (go > 0)
        run_block(sh, wk->w);
    return NULL;
}

static void open_gate(run_shared *sh, int go)
{
    pthread_mutex_lock(&sh->gate);
    sh->go = go;
    pthread_cond_broadcast(&sh->gate_cv);
    pthread_mutex_unlock(&sh->gate);
}

/* Start threads 1..T-1 behind a gate, so a failed pthread_create() can call the run off
 * before anyone waits at the barrier; worker 0 is the calling thread. */
static sim_status run_threads(run_shared *sh, sim_error *err)
{
    const size_t T = sh->opt->threads;
    worker *wk = xcalloc(T, sizeof *wk);
    size_t started = 1;
    sim_status st = SIM_OK;

    pthread_mutex_init(&sh->gate, NULL);
    pthread_cond_init(&sh->gate_cv, NULL);
    pthread_barrier_init(&sh->barrier, NULL, (unsigned)T);
    for (size_t w = 0; w < T; w++) {
        wk[w].sh = sh;
        wk[w].w = w;
    }
    for (; started < T; started++)
        if (pthread_create(&wk[started].tid, NULL, worker_main, &wk[started]) != 0) {
            st = sim_error_set(err, SIM_EINTERNAL, NULL, 0, "threads",
                               "could not start thread %zu of %zu", started + 1, T);
            break;
        }
    open_gate(sh, st == SIM_OK ? 1 : -1);
    if (st == SIM_OK)
        run_block(sh, 0);
    for (size_t w = 1; w < started; w++)
        pthread_join(wk[w].tid, NULL);
    pthread_barrier_destroy(&sh->barrier);
    pthread_cond_destroy(&sh->gate_cv);
    pthread_mutex_destroy(&sh->gate);
    free(wk);
    return st;
}

sim_status engine_run(const engine *e, const engine_options *opt, const engine_sink *sink,
                      sim_error *err)
{
    run_shared sh = { .e = e, .opt = opt, .sink = sink };
    sim_status st;

    if (opt->n_reps < 1 || opt->n_reps > 100000000 || opt->threads < 1 || opt->threads > 1024
        || opt->horizon < 1 || opt->horizon > e->horizon)
        return sim_error_set(err, SIM_EUSAGE, NULL, 0, "options",
                             "%zu replications, %zu threads, horizon %d (expected at least 1 "
                             "of each, a horizon up to %d)", opt->n_reps, opt->threads,
                             opt->horizon, e->horizon);
    sh.cells = e->layout.cells;
    sh.x = xzalloc_huge(opt->n_reps * sh.cells * sizeof *sh.x);
    sh.rng = xcalloc(opt->n_reps, sizeof *sh.rng);
    sh.g = xcalloc(opt->n_reps, sizeof *sh.g);
    sh.ages = e->exit_scale > 0.0 ? xcalloc(opt->n_reps, sizeof *sh.ages) : NULL;
    sh.ws = e->placer.ws_size ? xcalloc(opt->n_reps, e->placer.ws_size) : NULL;
    sh.work = xcalloc(opt->threads, sizeof *sh.work);
    for (size_t i = 0; i < opt->n_reps; i++)
        if ((sh.rng[i] = gsl_rng_alloc(gsl_rng_taus2)) == NULL)
            abort();                    /* out of memory, as xmalloc would */
    st = run_threads(&sh, err);
    if (st == SIM_OK && opt->work) {    /* integer sums: the same for any thread count */
        *opt->work = (engine_work){ 0, 0 };
        for (size_t w = 0; w < opt->threads; w++) {
            opt->work->draws += sh.work[w].draws;
            opt->work->occupied += sh.work[w].occupied;
        }
    }
    free(sh.work);
    for (size_t i = 0; i < opt->n_reps; i++)
        gsl_rng_free(sh.rng[i]);
    free(sh.rng);
    free(sh.g);
    free(sh.ages);
    free(sh.ws);
    xfree_huge(sh.x, opt->n_reps * sh.cells * sizeof *sh.x);
    return st;
}
