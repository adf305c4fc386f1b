/* summary.c - per-replication roll-ups into demand series and exact bands across replications.
 *
 * Memory is one year of values plus one band per series and year. The values are kept
 * replication-major, so each replication-year writes one contiguous row (series-major made it
 * 1,008 cache misses); the year's bands then copy blocks of SERIES_BLOCK series (one cache
 * line per replication) into per-worker columns. Order statistics of integer counts are
 * taken from an exact histogram when the values span a small range, else from a radix sort,
 * both linear in n_reps; a comparison sort of 15,000 series x 10,000 values would dominate. */
#include "summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "xalloc.h"

const double SUMMARY_PROBS[SUMMARY_N_Q] = { 0.025, 0.05, 0.10, 0.25, 0.5, 0.75, 0.90, 0.95,
                                            0.975 };

enum { NP = SIM_N_PHASES + 1, NN = SIM_N_NEEDS + 1, NS = SIM_N_SETTINGS + 1 };

/* Series copied into columns together by a worker: 16 int32 are one 64-byte cache line;
 * the copy asks for the line GATHER_AHEAD replications ahead. */
enum { SERIES_BLOCK = 16, GATHER_AHEAD = 16 };

/* Scratch of one worker for summary_band_int32's two methods. */
typedef struct scratch {
    uint32_t *counts;                /* [n_counts] */
    size_t    n_counts;
    uint32_t *a, *b;                 /* [n] radix buffers */
    int32_t  *cols;                  /* [SERIES_BLOCK][n] a block of series' columns */
    size_t    n;
} scratch;

struct summary {
    size_t         n_reps;
    int            horizon, base_year;
    size_t         n_workers;
    int32_t       *values;           /* [n_reps][SUMMARY_N_SERIES], the current year */
    summary_band  *bands;            /* [horizon + 1][SUMMARY_N_SERIES] */
    unsigned char *present;          /* [horizon + 1][SUMMARY_N_SERIES] */
    scratch       *scr;              /* [n_workers] */
};

size_t summary_series(int phase, int need, int setting)
{
    return ((size_t)phase * NN + (size_t)need) * NS + (size_t)setting;
}

/* ---- exact bands ------------------------------------------------------------------------ */

static void scratch_init(scratch *s, size_t n)
{
    s->n = n;
    s->n_counts = 4 * n + 4096;
    s->counts = xmalloc(s->n_counts * sizeof *s->counts);
    s->a = xmalloc(n * sizeof *s->a);
    s->b = xmalloc(n * sizeof *s->b);
    s->cols = xmalloc(SERIES_BLOCK * n * sizeof *s->cols);
}

static void scratch_free(scratch *s)
{
    free(s->counts);
    free(s->a);
    free(s->b);
    free(s->cols);
}

/* The order statistics at positions pos[0..m-1] (0-based, any order, m <= 18) of v, from a
 * histogram over the range [0, range). */
static void order_hist(const int32_t *v, size_t n, int32_t lo, size_t range, scratch *s,
                       const size_t *pos, size_t m, double *out)
{
    size_t k = 0, cum = 0, order[2 * SUMMARY_N_Q];

    /* visit the positions in ascending order (they come as lo/hi pairs, not sorted) */
    for (size_t i = 0; i < m; i++) {
        size_t j = i;
        for (; j > 0 && pos[order[j - 1]] > pos[i]; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    memset(s->counts, 0, range * sizeof *s->counts);
    for (size_t i = 0; i < n; i++)
        s->counts[(uint32_t)(v[i] - lo)]++;
    for (size_t b = 0; b < range && k < m; b++) {
        cum += s->counts[b];
        while (k < m && pos[order[k]] < cum)
            out[order[k++]] = (double)lo + (double)b;
    }
}

/* The same through an LSD radix sort of v - lo on 11-bit digits. */
static void order_radix(const int32_t *v, size_t n, int32_t lo, uint32_t span, scratch *s,
                        const size_t *pos, size_t m, double *out)
{
    uint32_t *src = s->a, *dst = s->b, cnt[2048];

    for (size_t i = 0; i < n; i++)
        src[i] = (uint32_t)((int64_t)v[i] - lo);
    for (unsigned shift = 0; shift < 32 && (span >> shift) != 0; shift += 11) {
        uint32_t *t;
        size_t sum = 0;
        memset(cnt, 0, sizeof cnt);
        for (size_t i = 0; i < n; i++)
            cnt[(src[i] >> shift) & 2047u]++;
        for (size_t d = 0; d < 2048; d++) {
            size_t c = cnt[d];
            cnt[d] = (uint32_t)sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i] >> shift) & 2047u]++] = src[i];
        t = src;
        src = dst;
        dst = t;
    }
    for (size_t k = 0; k < m; k++)
        out[k] = (double)lo + (double)src[pos[k]];
}

static void band_with(const int32_t *v, size_t n, summary_band *out, scratch *s)
{
    size_t pos[2 * SUMMARY_N_Q];
    double at[2 * SUMMARY_N_Q], mean, ss = 0.0;
    int64_t sum = 0;
    int32_t lo = v[0], hi = v[0];

    for (size_t i = 0; i < n; i++) {
        sum += v[i];
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    mean = (double)sum / (double)n;
    out->mean = mean;
    if (lo == hi) {                  /* most series of a small LA are all zero */
        out->mean = lo;
        out->sd = 0.0;
        for (int j = 0; j < SUMMARY_N_Q; j++)
            out->q[j] = lo;
        return;
    }
    for (size_t i = 0; i < n; i++)
        ss += ((double)v[i] - mean) * ((double)v[i] - mean);
    out->sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    for (int j = 0; j < SUMMARY_N_Q; j++) {
        size_t f = (size_t)floor((double)(n - 1) * SUMMARY_PROBS[j]);
        pos[2 * j] = f;
        pos[2 * j + 1] = f + 1 < n ? f + 1 : f;
    }
    if ((uint64_t)((int64_t)hi - lo) < s->n_counts)
        order_hist(v, n, lo, (size_t)((int64_t)hi - lo) + 1, s, pos, 2 * SUMMARY_N_Q, at);
    else
        order_radix(v, n, lo, (uint32_t)((int64_t)hi - lo), s, pos, 2 * SUMMARY_N_Q, at);
    for (int j = 0; j < SUMMARY_N_Q; j++) {
        double h = (double)(n - 1) * SUMMARY_PROBS[j];
        out->q[j] = at[2 * j] + (h - floor(h)) * (at[2 * j + 1] - at[2 * j]);
    }
}

void summary_band_int32(const int32_t *v, size_t n, summary_band *out)
{
    scratch s;

    scratch_init(&s, n);
    band_with(v, n, out, &s);
    scratch_free(&s);
}

double summary_quantile_sorted(const double *x, size_t n, double p)
{
    double h = (double)(n - 1) * p;
    size_t f = (size_t)floor(h);

    if (f + 1 >= n)
        return x[n - 1];
    return x[f] + (h - (double)f) * (x[f + 1] - x[f]);
}

/* ---- roll-ups --------------------------------------------------------------------------- */

/* Add cell counts c[phase][need][setting] into every series with its ALL margins. */
static void add_margins(const double *c, double *cube)
{
    for (int p = 0; p < SIM_N_PHASES; p++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++) {
                double v = c[(p * SIM_N_NEEDS + n) * SIM_N_SETTINGS + s];
                if (v == 0.0)
                    continue;
                for (int k = 0; k < 8; k++)
                    cube[summary_series(k & 1 ? SUMMARY_ALL_PHASE : p,
                                        k & 2 ? SUMMARY_ALL_NEED : n,
                                        k & 4 ? SUMMARY_ALL_SETTING : s)] += v;
            }
}

static void rollup_int(const int64_t *c, int64_t *cube)
{
    memset(cube, 0, SUMMARY_N_SERIES * sizeof *cube);
    for (int p = 0; p < SIM_N_PHASES; p++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int s = 0; s < SIM_N_SETTINGS; s++) {
                int64_t v = c[(p * SIM_N_NEEDS + n) * SIM_N_SETTINGS + s];
                size_t ap = summary_series(SUMMARY_ALL_PHASE, n, s);
                size_t pp = summary_series(p, n, s);
                if (v == 0)
                    continue;
                /* the four (phase or ALL) x (need or ALL) rows, each with setting and ALL */
                cube[pp] += v;
                cube[pp - (size_t)s + SUMMARY_ALL_SETTING] += v;
                cube[ap] += v;
                cube[ap - (size_t)s + SUMMARY_ALL_SETTING] += v;
                pp = summary_series(p, SUMMARY_ALL_NEED, s);
                ap = summary_series(SUMMARY_ALL_PHASE, SUMMARY_ALL_NEED, s);
                cube[pp] += v;
                cube[pp - (size_t)s + SUMMARY_ALL_SETTING] += v;
                cube[ap] += v;
                cube[ap - (size_t)s + SUMMARY_ALL_SETTING] += v;
            }
}

/* dst[s] += x[s] for the SIM_N_SETTINGS setting slots: with SSE2, four int32 at a time
 * sign-extended to int64 (this loop was half the roll-up's instructions). */
static inline void add_settings(const int32_t *x, int64_t *dst)
{
    size_t s = 0;
#ifdef __SSE2__
    for (; s + 4 <= SIM_N_SETTINGS; s += 4) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(x + s));
        __m128i sign = _mm_srai_epi32(v, 31);
        __m128i *d = (__m128i *)(void *)(dst + s);
        _mm_storeu_si128(d, _mm_add_epi64(_mm_loadu_si128(d), _mm_unpacklo_epi32(v, sign)));
        _mm_storeu_si128(d + 1, _mm_add_epi64(_mm_loadu_si128(d + 1),
                                              _mm_unpackhi_epi32(v, sign)));
    }
#endif
    for (; s < SIM_N_SETTINGS; s++)
        dst[s] += x[s];
}

static void on_rep_year(void *ctx, const engine_view *v)
{
    summary *sm = ctx;
    int64_t c[SIM_N_PHASES * SIM_N_NEEDS * SIM_N_SETTINGS] = { 0 };
    int64_t cube[SUMMARY_N_SERIES];
    int32_t *row = sm->values + v->rep * SUMMARY_N_SERIES;

    if (v->by_phase != NULL)             /* summed by an earlier sink */
        memcpy(c, v->by_phase, sizeof c);
    for (int a = 0; a < SIM_N_AGES && v->by_phase == NULL; a++) {
        int p = phase_of_age(a);
        for (int n = 0; n < SIM_N_NEEDS; n++) {
            const size_t r = (size_t)(a * SIM_N_NEEDS + n), at = v->row_off[r];
            const int32_t *x = v->x + at;
            int64_t *dst = c + (p * SIM_N_NEEDS + n) * SIM_N_SETTINGS;
            add_settings(x, dst);
            for (size_t j = SIM_N_SETTINGS; j < v->row_off[r + 1] - at; j++)
                dst[v->slot_setting[v->slot_at ? v->slot_at[at + j] : j]] += x[j];
        }
    }
    rollup_int(c, cube);
    /* sums are exact in 64 bits; a total beyond int32 (only from absurd growth draws over
     * long horizons) is stored saturated rather than wrapped */
    for (size_t i = 0; i < SUMMARY_N_SERIES; i++)
        row[i] = cube[i] > INT32_MAX ? INT32_MAX : (int32_t)cube[i];
}

static void on_year_done(void *ctx, int h, size_t w, size_t n_workers)
{
    summary *sm = ctx;
    summary_band *bands = sm->bands + (size_t)h * SUMMARY_N_SERIES;
    unsigned char *present = sm->present + (size_t)h * SUMMARY_N_SERIES;

    scratch *scr = &sm->scr[w];
    const size_t n = sm->n_reps;

    /* blocks interleaved so that the costly ALL series are shared out */
    for (size_t i0 = w * SERIES_BLOCK; i0 < SUMMARY_N_SERIES; i0 += n_workers * SERIES_BLOCK) {
        size_t nb = SUMMARY_N_SERIES - i0 < SERIES_BLOCK ? SUMMARY_N_SERIES - i0 : SERIES_BLOCK;
        int32_t any[SERIES_BLOCK] = { 0 };
        for (size_t r = 0; r < n; r++) {
            const int32_t *src = sm->values + r * SUMMARY_N_SERIES + i0;
            /* rows are 4 KB apart, a stride the hardware prefetcher does not follow */
            if (r + GATHER_AHEAD < n)
                __builtin_prefetch(src + GATHER_AHEAD * SUMMARY_N_SERIES, 0, 0);
            for (size_t j = 0; j < nb; j++) {
                scr->cols[j * n + r] = src[j];
                any[j] |= src[j];
            }
        }
        for (size_t j = 0; j < nb; j++) {
            if (any[j] == 0)         /* counts are >= 0: zero in every replication */
                memset(&bands[i0 + j], 0, sizeof bands[i0 + j]);
            else
                band_with(scr->cols + j * n, n, &bands[i0 + j], scr);
            present[i0 + j] = bands[i0 + j].mean != 0.0;
        }
    }
}

engine_sink summary_sink(summary *s)
{
    engine_sink k = { .ctx = s, .rep_year = on_rep_year, .year_done = on_year_done };
    return k;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static void fill_base(summary *s, const scenario *sc)
{
    double c[SIM_N_PHASES * SIM_N_NEEDS * SIM_N_SETTINGS] = { 0 };
    double cube[SUMMARY_N_SERIES] = { 0 };

    for (int a = 0; a < SIM_N_AGES; a++)
        for (int n = 0; n < SIM_N_NEEDS; n++)
            for (int k = 0; k < SIM_N_SETTINGS; k++)
                c[(phase_of_age(a) * SIM_N_NEEDS + n) * SIM_N_SETTINGS + k] +=
                    sc->caseload[a][n][k];
    add_margins(c, cube);
    for (size_t i = 0; i < SUMMARY_N_SERIES; i++) {
        summary_band *b = &s->bands[i];
        b->mean = cube[i];
        b->sd = 0.0;
        for (int j = 0; j < SUMMARY_N_Q; j++)
            b->q[j] = cube[i];
        s->present[i] = cube[i] != 0.0;
    }
}

summary *summary_alloc(const scenario *sc, size_t n_reps, int horizon, size_t n_workers)
{
    summary *s = xcalloc(1, sizeof *s);

    s->n_reps = n_reps;
    s->horizon = horizon;
    s->base_year = sc->base_year;
    s->n_workers = n_workers;
    s->values = xzalloc_huge(SUMMARY_N_SERIES * n_reps * sizeof *s->values);
    s->bands = xcalloc(((size_t)horizon + 1) * SUMMARY_N_SERIES, sizeof *s->bands);
    s->present = xcalloc(((size_t)horizon + 1) * SUMMARY_N_SERIES, 1);
    s->scr = xcalloc(n_workers, sizeof *s->scr);
    for (size_t w = 0; w < n_workers; w++)
        scratch_init(&s->scr[w], n_reps);
    fill_base(s, sc);
    return s;
}

size_t summary_bytes(size_t n_reps, int horizon, size_t n_workers)
{
    return SUMMARY_N_SERIES * n_reps * sizeof(int32_t)
           + ((size_t)horizon + 1) * SUMMARY_N_SERIES * (sizeof(summary_band) + 1)
           + n_workers * ((4 * n_reps + 4096) + (2 + SERIES_BLOCK) * n_reps) * sizeof(uint32_t);
}

void summary_free(summary *s)
{
    if (s == NULL)
        return;
    for (size_t w = 0; w < s->n_workers; w++)
        scratch_free(&s->scr[w]);
    free(s->scr);
    xfree_huge(s->values, SUMMARY_N_SERIES * s->n_reps * sizeof *s->values);
    free(s->bands);
    free(s->present);
    free(s);
}

const summary_band *summary_get(const summary *s, int h, size_t series)
{
    return &s->bands[(size_t)h * SUMMARY_N_SERIES + series];
}

int summary_present(const summary *s, int h, size_t series)
{
    return s->present[(size_t)h * SUMMARY_N_SERIES + series];
}

int summary_horizon(const summary *s) { return s->horizon; }
int summary_base_year(const summary *s) { return s->base_year; }
size_t summary_reps(const summary *s) { return s->n_reps; }
