/* sample.h - exact binomial and Poisson samplers on a GSL taus2 generator, for the engine.
 *
 * The engine draws a few hundred binomials and Poissons per replication-year; GSL's
 * gsl_rng_uniform (two indirect calls per number), its BTPE binomial and its gamma-based
 * Poisson dominated the profile. These samplers draw from the same laws, exactly (up to
 * floating-point rounding; the only series used, Stirling's for log k!, is taken to a
 * truncation error below 1e-12), from the same generator's stream:
 *   uniforms   GSL taus2's own recurrence stepped inline on the generator's state, so the
 *              numbers are bit-identical to gsl_rng_uniform(r) and interleave with any
 *              gsl_ran_* call on r (falls back to gsl_rng_uniform when r is not taus2 or
 *              GSL's state layout differs: sample_bind() checks);
 *   binomial   inversion (the pmf recurrence from P(0) = (1 - p)^n, one uniform) when
 *              n min(p, 1 - p) < SAMPLE_INV_MEAN, else Hoermann's BTRS transformed rejection
 *              (W. Hoermann, "The generation of binomial random variates", J. Statist.
 *              Comput. Simul. 46, 1993), both on min(p, 1 - p);
 *   Poisson    inversion below SAMPLE_INV_MEAN, else Hoermann's PTRS transformed rejection
 *              ("The transformed rejection method for generating Poisson random variables",
 *              Insurance: Mathematics and Economics 12, 1993).
 * Both rejection methods are exact for means of 10 and more (the papers' validity range).
 *
 * Ownership: a sample_rng borrows its gsl_rng, which must outlive it. No global state; one
 * sample_rng per thread at a time. */
#ifndef SENDSIM_SAMPLE_H
#define SENDSIM_SAMPLE_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

/* Means below this use inversion; at or above, transformed rejection (valid from 10). */
#define SAMPLE_INV_MEAN 10.0

typedef struct sample_rng {
    gsl_rng       *r;          /* borrowed */
    unsigned long *s;          /* taus2 state s1, s2, s3 inside r, or NULL: use r's calls */
} sample_rng;

/* 1 if gsl_rng_taus2 keeps its state as GSL's taus.c does (three unsigned longs), checked by
 * drawing from a scratch generator both ways. Call once, before any sample_bind(). */
int sample_taus2_inline_ok(void);

/* Point `sr` at `r`; with inline_ok (from sample_taus2_inline_ok()) and a taus2 generator,
 * uniforms are stepped inline. */
static inline void sample_bind(sample_rng *sr, gsl_rng *r, int inline_ok)
{
    sr->r = r;
    sr->s = inline_ok && r->type == gsl_rng_taus2 ? (unsigned long *)r->state : NULL;
}

/* Restart sr's taus2 generator on the substream named by `key` (any 64 bits): the three
 * state words come from a splitmix64 hash of the key (adjusted as GSL's taus2 seeding adjusts
 * them) and the generator is then stepped 6 times, as gsl_rng_set() does. Distinct keys give
 * unrelated streams with no 32-bit seed space to collide in. Without inline access (sr->s
 * NULL) it falls back to gsl_rng_set() with a 32-bit hash of the key. */
void sample_substream(sample_rng *sr, uint64_t key);

/* A uniform on [0, 1): exactly gsl_rng_uniform(sr->r). */
static inline double sample_uniform(sample_rng *sr)
{
    unsigned long *s = sr->s;

    if (s == NULL)
        return gsl_rng_uniform(sr->r);
    /* GSL's taus.c, TAUSWORTHE(s, a, b, c, d) = (((s & c) << d) & MASK) ^ ((((s << a) & MASK)
     * ^ s) >> b), with MASK = 0xffffffff */
    s[0] = (((s[0] & 4294967294UL) << 12) & 0xffffffffUL)
           ^ ((((s[0] << 13) & 0xffffffffUL) ^ s[0]) >> 19);
    s[1] = (((s[1] & 4294967288UL) << 4) & 0xffffffffUL)
           ^ ((((s[1] << 2) & 0xffffffffUL) ^ s[1]) >> 25);
    s[2] = (((s[2] & 4294967280UL) << 17) & 0xffffffffUL)
           ^ ((((s[2] << 3) & 0xffffffffUL) ^ s[2]) >> 11);
    return (double)(s[0] ^ s[1] ^ s[2]) / 4294967296.0;
}

/* 1 / x for the inversion walks (a multiplication instead of a division per step). */
enum { SAMPLE_N_RECIP = 64 };
static const double sample_recip[SAMPLE_N_RECIP] = {
    0.0, 1.0 / 1, 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 5, 1.0 / 6, 1.0 / 7, 1.0 / 8, 1.0 / 9,
    1.0 / 10, 1.0 / 11, 1.0 / 12, 1.0 / 13, 1.0 / 14, 1.0 / 15, 1.0 / 16, 1.0 / 17, 1.0 / 18,
    1.0 / 19, 1.0 / 20, 1.0 / 21, 1.0 / 22, 1.0 / 23, 1.0 / 24, 1.0 / 25, 1.0 / 26, 1.0 / 27,
    1.0 / 28, 1.0 / 29, 1.0 / 30, 1.0 / 31, 1.0 / 32, 1.0 / 33, 1.0 / 34, 1.0 / 35, 1.0 / 36,
    1.0 / 37, 1.0 / 38, 1.0 / 39, 1.0 / 40, 1.0 / 41, 1.0 / 42, 1.0 / 43, 1.0 / 44, 1.0 / 45,
    1.0 / 46, 1.0 / 47, 1.0 / 48, 1.0 / 49, 1.0 / 50, 1.0 / 51, 1.0 / 52, 1.0 / 53, 1.0 / 54,
    1.0 / 55, 1.0 / 56, 1.0 / 57, 1.0 / 58, 1.0 / 59, 1.0 / 60, 1.0 / 61, 1.0 / 62, 1.0 / 63
};

/* Binomial(n, p) by inversion for p <= 1/2, given odds = p / (1 - p) and f0 = (1 - p)^n (a
 * caller drawing often with one p keeps both); the caller keeps n p small (the walk takes
 * about n p + 1 steps). */
static inline unsigned sample_binomial_inv(sample_rng *sr, double odds, unsigned n, double f0)
{
    double u = sample_uniform(sr), f = f0;
    unsigned x = 0;

    while (u > f && x < n) {
        u -= f;
        x++;
        f *= odds * (double)(n - x + 1)
             * (x < SAMPLE_N_RECIP ? sample_recip[x] : 1.0 / (double)x);
    }
    return x;
}

/* Binomial(n, p) by BTRS for p <= 1/2 and n p >= 10. */
unsigned sample_binomial_btrs(sample_rng *sr, double p, unsigned n);

/* Binomial(n, p) for any p (p <= 0 gives 0, p >= 1 gives n) and n. */
unsigned sample_binomial(sample_rng *sr, double p, unsigned n);

/* Poisson(mu) for mu >= 0 (0 for mu <= 0 or NaN); mu must stay below 2^31. */
unsigned sample_poisson(sample_rng *sr, double mu);

/* log(k!) through Stirling's series with its tail correction (exact table below 10). */
double sample_log_factorial(unsigned k);

#endif /* SENDSIM_SAMPLE_H */
