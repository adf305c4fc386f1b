/* test_sample.c - the engine's samplers against GSL's generator and the exact pmfs. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sf_gamma.h>

#include "sample.h"
#include "xalloc.h"

Test(sample, inline_uniforms_are_gsl_taus2_numbers_and_interleave_with_gsl_draws)
{
    gsl_rng *a = gsl_rng_alloc(gsl_rng_taus2), *b = gsl_rng_alloc(gsl_rng_taus2);
    sample_rng sr;
    int same = 1;

    cr_assert(sample_taus2_inline_ok());
    gsl_rng_set(a, 987654321UL);
    gsl_rng_set(b, 987654321UL);
    sample_bind(&sr, a, 1);
    cr_assert(sr.s != NULL);
    for (int i = 0; i < 100000 && same; i++) {
        same = sample_uniform(&sr) == gsl_rng_uniform(b);
        if (i % 1000 == 0)   /* a GSL draw on the same generator in between */
            same = same && gsl_ran_gaussian(a, 1.0) == gsl_ran_gaussian(b, 1.0);
    }
    cr_expect(same, "the inline taus2 stream left GSL's");
    gsl_rng_free(a);
    gsl_rng_free(b);
}

Test(sample, other_generators_fall_back_to_gsl_rng_uniform)
{
    gsl_rng *a = gsl_rng_alloc(gsl_rng_mt19937), *b = gsl_rng_alloc(gsl_rng_mt19937);
    sample_rng sr;

    gsl_rng_set(a, 5);
    gsl_rng_set(b, 5);
    sample_bind(&sr, a, 1);
    cr_expect(sr.s == NULL);
    for (int i = 0; i < 100; i++)
        cr_assert(eq(dbl, sample_uniform(&sr), gsl_rng_uniform(b)));
    gsl_rng_free(a);
    gsl_rng_free(b);
}

Test(sample, log_factorial_matches_lnfact_to_rounding)
{
    for (unsigned k = 0; k < 5000; k += k < 40 ? 1 : 37) {
        double want = gsl_sf_lnfact(k), got = sample_log_factorial(k);
        cr_expect(fabs(got - want) <= 1e-12 * fmax(1.0, want), "k %u: %.17g vs %.17g", k, got,
                  want);
    }
}

/* Pearson's chi-square of `count` against pmf over [0, kmax], adjacent values pooled from
 * the left into cells expecting at least 20 draws (a short last cell joins the one before);
 * returns its upper-tail p-value. */
static double chisq_p(const unsigned *count, const double *pmf, unsigned kmax, size_t n)
{
    double stat = 0.0, e = 0.0, o = 0.0, le = 0.0, lo = 0.0;
    int cells = 0;

    for (unsigned k = 0; k <= kmax; k++) {
        e += pmf[k] * (double)n;
        o += count[k];
        if (e >= 20.0) {
            if (cells > 0)
                stat += (lo - le) * (lo - le) / le;
            le = e;
            lo = o;
            cells++;
            e = o = 0.0;
        }
    }
    le += e;                  /* the short remainder joins the last full cell */
    lo += o;
    if (cells > 0)
        stat += (lo - le) * (lo - le) / le;
    return cells > 1 ? gsl_cdf_chisq_Q(stat, cells - 1) : 1.0;
}

/* Draw N values with draw(), then test mean and variance (5 SE) and the chi-square fit to the
 * exact pmf (p-value above 1e-3 under a fixed seed). */
typedef struct law_case {
    int    poisson;      /* 0: Binomial(n, p); 1: Poisson(mu = p) */
    unsigned n;
    double p;
} law_case;

static void check_law(const law_case *c, unsigned long seed)
{
    enum { N = 1000000 };
    gsl_rng *r = gsl_rng_alloc(gsl_rng_taus2);
    sample_rng sr;
    double mean = c->poisson ? c->p : c->n * c->p;
    double var = c->poisson ? c->p : c->n * c->p * (1.0 - c->p);
    unsigned kmax = (unsigned)(mean + 12.0 * sqrt(var) + 30.0), *count;
    double *pmf, s = 0.0, ss = 0.0, m, v, pval, tail = 0.0;

    if (!c->poisson && kmax > c->n)
        kmax = c->n;
    count = xcalloc((size_t)kmax + 2, sizeof *count);
    pmf = xcalloc((size_t)kmax + 2, sizeof *pmf);
    gsl_rng_set(r, seed);
    sample_bind(&sr, r, sample_taus2_inline_ok());
    for (size_t i = 0; i < N; i++) {
        unsigned x = c->poisson ? sample_poisson(&sr, c->p) : sample_binomial(&sr, c->p, c->n);
        cr_assert(c->poisson || x <= c->n, "draw %u above n = %u", x, c->n);
        s += x;
        ss += (double)x * x;
        count[x > kmax ? kmax + 1 : x]++;
    }
    cr_expect(eq(u32, count[kmax + 1], 0), "draws beyond mean + 12 sd + 30 (%u)", kmax);
    for (unsigned k = 0; k <= kmax; k++) {
        pmf[k] = c->poisson ? gsl_ran_poisson_pdf(k, c->p) : gsl_ran_binomial_pdf(k, c->p, c->n);
        tail += pmf[k];
    }
    pmf[kmax] += fmax(0.0, 1.0 - tail);    /* the last cell holds the upper tail */
    m = s / N;
    v = (ss - s * m) / (N - 1);
    cr_expect(fabs(m - mean) <= 5.0 * sqrt(var / N) + 1e-12, "%s(%u, %g): mean %g, want %g",
              c->poisson ? "Poisson" : "Binomial", c->n, c->p, m, mean);
    /* Var of the sample variance ~ (mu4 - var^2) / N; bounded here by 3 var^2 + var */
    cr_expect(fabs(v - var) <= 5.0 * sqrt((3.0 * var * var + var) / N) + 1e-12,
              "%s(%u, %g): variance %g, want %g", c->poisson ? "Poisson" : "Binomial", c->n,
              c->p, v, var);
    pval = chisq_p(count, pmf, kmax, N);
    cr_expect(pval > 1e-3, "%s(%u, %g): chi-square p-value %g", c->poisson ? "Poisson"
              : "Binomial", c->n, c->p, pval);
    free(count);
    free(pmf);
    gsl_rng_free(r);
}

/* Each path: inversion (squaring and exp forms), BTRS just above its threshold and far above,
 * p flipped above 1/2, p at the edges, n = 1. */
Test(sample, binomial_draws_follow_the_exact_pmf_on_every_path)
{
    static const law_case cases[] = {
        { 0, 1, 0.3 },            { 0, 7, 0.5 },           { 0, 20, 0.02 },
        { 0, 37, 0.9999 },        { 0, 39, 0.73 },         { 0, 300, 0.0333 },
        { 0, 50, 0.2 },           { 0, 101, 0.1 },         { 0, 1000, 0.0123 },
        { 0, 1000, 0.5 },         { 0, 5000, 0.97 },       { 0, 5000, 0.998 },
        { 0, 100000, 0.3 },       { 0, 1048576, 1e-5 },    { 0, 3000000, 4.1e-6 },
        { 0, 12, 0.99 },          { 0, 2500, 0.00001 },    { 0, 64, 0.15625 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_law(&cases[i], 1000UL + i);
}

Test(sample, binomial_edge_probabilities_are_exact)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_taus2);
    sample_rng sr;

    gsl_rng_set(r, 3);
    sample_bind(&sr, r, 1);
    for (int i = 0; i < 1000; i++) {
        cr_assert(eq(u32, sample_binomial(&sr, 0.0, 917), 0));
        cr_assert(eq(u32, sample_binomial(&sr, 1.0, 917), 917));
        cr_assert(eq(u32, sample_binomial(&sr, 0.42, 0), 0));
        cr_assert(eq(u32, sample_binomial(&sr, -0.1, 5), 0));
        cr_assert(le(u32, sample_binomial(&sr, 1.0 - 1e-12, 917), 917));
    }
    gsl_rng_free(r);
}

Test(sample, poisson_draws_follow_the_exact_pmf_on_every_path)
{
    static const law_case cases[] = {
        { 1, 0, 0.01 },   { 1, 0, 0.7 },    { 1, 0, 3.3 },     { 1, 0, 9.99 },
        { 1, 0, 10.0 },   { 1, 0, 10.5 },   { 1, 0, 37.2 },    { 1, 0, 1234.5 },
        { 1, 0, 98765.4 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_law(&cases[i], 2000UL + i);
}

Test(sample, poisson_of_zero_or_nan_is_zero)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_taus2);
    sample_rng sr;

    gsl_rng_set(r, 4);
    sample_bind(&sr, r, 1);
    cr_expect(eq(u32, sample_poisson(&sr, 0.0), 0));
    cr_expect(eq(u32, sample_poisson(&sr, -2.0), 0));
    cr_expect(eq(u32, sample_poisson(&sr, NAN), 0));
    gsl_rng_free(r);
}
