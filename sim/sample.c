/* sample.c - exact binomial (inversion, BTRS) and Poisson (inversion, PTRS) samplers.
 *
 * The transformed-rejection constants are Hoermann's (1993); each rejection step accepts
 * with the exact ratio f(k) / f(mode) of the target pmf, computed from log-factorials, so the
 * output law is the binomial or Poisson itself, not an approximation of it. */
#include "sample.h"

#include <math.h>
#include <stdint.h>

int sample_taus2_inline_ok(void)
{
    gsl_rng *a = gsl_rng_alloc(gsl_rng_taus2), *b = gsl_rng_alloc(gsl_rng_taus2);
    sample_rng sr;
    int ok = a != NULL && b != NULL && gsl_rng_size(a) == 3 * sizeof(unsigned long);

    if (ok) {
        gsl_rng_set(a, 20251122UL);
        gsl_rng_set(b, 20251122UL);
        sr.r = a;
        sr.s = (unsigned long *)a->state;
        for (int i = 0; i < 64 && ok; i++)
            ok = sample_uniform(&sr) == gsl_rng_uniform(b);
    }
    gsl_rng_free(a);
    gsl_rng_free(b);
    return ok;
}

static uint64_t splitmix64_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sample_substream(sample_rng *sr, uint64_t key)
{
    uint64_t x = key;

    if (sr->s == NULL) {
        uint64_t h = splitmix64_next(&x);
        gsl_rng_set(sr->r, (unsigned long)(uint32_t)(h ^ (h >> 32)));
        return;
    }
    /* taus2 needs s1 > 1, s2 > 7, s3 > 15 (GSL's taus_set adds 2, 8, 16 below those) */
    sr->s[0] = splitmix64_next(&x) & 0xffffffffUL;
    sr->s[1] = splitmix64_next(&x) & 0xffffffffUL;
    sr->s[2] = splitmix64_next(&x) & 0xffffffffUL;
    if (sr->s[0] < 2UL)
        sr->s[0] += 2UL;
    if (sr->s[1] < 8UL)
        sr->s[1] += 8UL;
    if (sr->s[2] < 16UL)
        sr->s[2] += 16UL;
    for (int i = 0; i < 6; i++)          /* warm up, as gsl_rng_set() does */
        (void)sample_uniform(sr);
}

/* log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi) / 2]: exact below 10, else
 * Stirling's series to the x^-7 term (truncation error below 1 / (1188 x^9), x = k + 1). */
static double stirling_tail(double k)
{
    static const double table[10] = {
        0.08106146679532733, 0.04134069595540946, 0.027677925684997717,
        0.02079067210376584, 0.01664469118982126, 0.013876128823072875,
        0.011896709945893313, 0.010411265261973668, 0.00925546218270945,
        0.008330563433359472,
    };
    double x, x2;

    if (k < 10.0)
        return table[(int)k];
    x = k + 1.0;
    x2 = x * x;
    return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * x2)) / x2) / x2) / x;
}

double sample_log_factorial(unsigned k)
{
    const double x = (double)k;

    return (x + 0.5) * log(x + 1.0) - (x + 1.0) + 0.91893853320467274178 + stirling_tail(x);
}

/* floor(x) for 0 <= x < 2^63, by conversion (floor() is a libm call without SSE4.1). */
static inline double trunc_pos(double x)
{
    return (double)(int64_t)x;
}

/* Within this distance of the mode, BTRS's acceptance ratio is a short product rather than
 * three logarithms. */
#define RECURSE_MAX 15.0

unsigned sample_binomial_btrs(sample_rng *sr, double p, unsigned n)
{
    const double dn = (double)n, spq = sqrt(dn * p * (1.0 - p));
    const double b = 1.15 + 2.53 * spq, a = -0.0873 + 0.0248 * b + 0.01 * p, ib = 1.0 / b;
    const double c = dn * p + 0.5, v_r = 0.92 - 4.2 * ib;
    const double alpha = (2.83 + 5.1 * ib) * spq, m = trunc_pos((dn + 1.0) * p);
    double r = 0.0;                       /* p / (1 - p), computed when first needed */
    double h = NAN;                       /* the k-free part of log f(k) / f(m), when needed */

    for (;;) {
        double u = sample_uniform(sr) - 0.5, v = sample_uniform(sr), us = 0.5 - fabs(u), k;

        k = (2.0 * a / us + b) * u + c;
        if (!(k >= 0.0) || (k = trunc_pos(k)) > dn)
            continue;
        if (us >= 0.07 && v <= v_r)
            return (unsigned)k;            /* inside the box under the hat: no pmf needed */
        v *= alpha / (a / (us * us) + b);
        if (r == 0.0)
            r = p / (1.0 - p);
        if (fabs(k - m) <= RECURSE_MAX) {
            /* f(k) / f(m) as the product of pmf ratios f(i) / f(i - 1) = r (n + 1 - i) / i
             * (Hoermann's BTRD step 3.1), kept as numerator and denominator products so that
             * there are no logarithms and no divisions: accept if v f(m) <= f(k) */
            double num = 1.0, den = 1.0;
            for (double i = m + 1.0; i <= k; i += 1.0) {
                num *= r * (dn + 1.0 - i);
                den *= i;
            }
            for (double i = k + 1.0; i <= m; i += 1.0) {
                den *= r * (dn + 1.0 - i);
                num *= i;
            }
            if (v * den <= num)
                return (unsigned)k;
            continue;
        }
        if (isnan(h))
            h = (m + 0.5) * log((m + 1.0) / (r * (dn - m + 1.0))) + stirling_tail(m)
                + stirling_tail(dn - m);
        /* log of f(k) / f(m), regrouped so that large log-factorials cancel exactly */
        v = log(v);
        if (v <= h + (dn + 1.0) * log((dn - m + 1.0) / (dn - k + 1.0))
                 + (k + 0.5) * log(r * (dn - k + 1.0) / (k + 1.0)) - stirling_tail(k)
                 - stirling_tail(dn - k))
            return (unsigned)k;
    }
}

/* (1 - q)^n: by squaring for small n (a few multiplications, within ~20 ulps), else as
 * exp(n log1p(-q)); n q < 10 keeps it above e^-20. */
static double pow_1mq(double q, unsigned n)
{
    double b = 1.0 - q, r = 1.0;

    if (n > 1024)
        return exp((double)n * log1p(-q));
    while (n) {
        if (n & 1u)
            r *= b;
        b *= b;
        n >>= 1;
    }
    return r;
}

unsigned sample_binomial(sample_rng *sr, double p, unsigned n)
{
    int flip;
    double q;
    unsigned x;

    if (!(p > 0.0) || n == 0)
        return 0;
    if (p >= 1.0)
        return n;
    flip = p > 0.5;
    q = flip ? 1.0 - p : p;
    if ((double)n * q < SAMPLE_INV_MEAN)
        x = sample_binomial_inv(sr, q / (1.0 - q), n, pow_1mq(q, n));
    else
        x = sample_binomial_btrs(sr, q, n);
    return flip ? n - x : x;
}

/* Poisson(mu) by PTRS, mu >= 10. */
static unsigned poisson_ptrs(sample_rng *sr, double mu)
{
    const double slam = sqrt(mu);
    const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    const double v_r = 0.9277 - 3.6224 / (b - 2.0);
    double loglam = NAN, log_inv_alpha = 0.0;     /* for the pmf test, when first needed */

    for (;;) {
        double u = sample_uniform(sr) - 0.5, v = sample_uniform(sr), us = 0.5 - fabs(u), k;

        k = (2.0 * a / us + b) * u + mu + 0.43;
        if (k < 0.0)
            continue;
        k = trunc_pos(k);
        if (us >= 0.07 && v <= v_r)
            return (unsigned)k;
        if (us < 0.013 && v > us)
            continue;
        if (isnan(loglam)) {
            loglam = log(mu);
            log_inv_alpha = log(1.1239 + 1.1328 / (b - 3.4));
        }
        if (log(v) + log_inv_alpha - log(a / (us * us) + b)
            <= -mu + k * loglam - sample_log_factorial((unsigned)k))
            return (unsigned)k;
    }
}

unsigned sample_poisson(sample_rng *sr, double mu)
{
    double u, f, cdf;
    unsigned x = 0;

    if (!(mu > 0.0))
        return 0;
    if (mu >= SAMPLE_INV_MEAN)
        return poisson_ptrs(sr, mu);
    u = sample_uniform(sr);
    f = exp(-mu);
    cdf = f;
    while (u >= cdf && x < 1000) {   /* the cap only guards against rounding at cdf ~ 1 */
        x++;
        f *= mu * (x < SAMPLE_N_RECIP ? sample_recip[x] : 1.0 / (double)x);
        cdf += f;
    }
    return x;
}
