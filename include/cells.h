/* cells.h - vector helpers over rows of int32 cell counts (engine state, placer rows).
 *
 * The engine's state and the allocation stage's rows are mostly empty int32 cells; these
 * helpers find the occupied ones and add whole rows a few cells per instruction (SSE2 where
 * the compiler offers it, which every x86-64 target does; plain loops elsewhere). Header-only
 * and pure: no state, no allocation. */
#ifndef SENDSIM_CELLS_H
#define SENDSIM_CELLS_H

#include <stddef.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Bit j set when src[j] != 0, for n <= 64 cells: sixteen (then four) at a time with SSE2, so
 * that a row of mostly empty cells costs a few vector compares, not a visit each. */
static inline uint64_t cells_nonzero(const int32_t *src, size_t n)
{
    uint64_t m = 0;
    size_t j = 0;
#ifdef __SSE2__
    const __m128i z = _mm_setzero_si128();

    for (; j + 16 <= n; j += 16) {
        const __m128i *v = (const __m128i *)(const void *)(src + j);
        __m128i lo = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_loadu_si128(v), z),
                                     _mm_cmpeq_epi32(_mm_loadu_si128(v + 1), z));
        __m128i hi = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_loadu_si128(v + 2), z),
                                     _mm_cmpeq_epi32(_mm_loadu_si128(v + 3), z));
        unsigned eq = (unsigned)_mm_movemask_epi8(_mm_packs_epi16(lo, hi));
        m |= (uint64_t)(~eq & 0xffffu) << j;
    }
    for (; j + 4 <= n; j += 4) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + j));
        unsigned eq = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, z)));
        m |= (uint64_t)(~eq & 0xfu) << j;
    }
    if (j < n && n >= 4) {               /* the last 1-3 cells: the last four, overlapping */
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + n - 4));
        unsigned eq = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, z)));
        m |= (uint64_t)(~eq & 0xfu) << (n - 4);
        j = n;
    }
#endif
    for (; j < n; j++)
        m |= (uint64_t)(src[j] != 0) << j;
    return m;
}

/* Index of the lowest set bit of m != 0. */
static inline unsigned cells_lowest(uint64_t m)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_ctzll(m);
#else
    unsigned j = 0;
    while (!(m >> j & 1u))
        j++;
    return j;
#endif
}

/* dst[j] += sign * src[j] for j < n, sign = +1 or -1 (a row added to or taken from a sum). */
static inline void cells_add(int32_t *restrict dst, const int32_t *restrict src, size_t n,
                             int sign)
{
    size_t j = 0;
#ifdef __SSE2__
    for (; j + 4 <= n; j += 4) {
        __m128i *d = (__m128i *)(void *)(dst + j);
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + j));
        _mm_storeu_si128(d, sign > 0 ? _mm_add_epi32(_mm_loadu_si128(d), v)
                                     : _mm_sub_epi32(_mm_loadu_si128(d), v));
    }
#endif
    for (; j < n; j++)
        dst[j] += sign > 0 ? src[j] : -src[j];
}

#endif /* SENDSIM_CELLS_H */
