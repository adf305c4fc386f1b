/* test_cells.c - the vector row helpers against their scalar definitions. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <gsl/gsl_rng.h>

#include "cells.h"

/* Every length 0..64 and every offset into a buffer (so unaligned loads and every tail path
 * run), with rows from empty to full. */
Test(cells, nonzero_mask_matches_the_scalar_definition)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_taus2);
    int32_t buf[80];
    int bad = 0;

    gsl_rng_set(r, 2385);
    for (int trial = 0; trial < 400; trial++) {
        const double fill = (trial % 5) / 4.0;
        for (int i = 0; i < 80; i++)
            buf[i] = gsl_rng_uniform(r) < fill ? (int32_t)gsl_rng_uniform_int(r, 7) - 3 : 0;
        for (size_t off = 0; off < 4; off++)
            for (size_t n = 0; n <= 64; n++) {
                uint64_t want = 0;
                for (size_t j = 0; j < n; j++)
                    want |= (uint64_t)(buf[off + j] != 0) << j;
                bad += cells_nonzero(buf + off, n) != want;
            }
    }
    cr_expect(eq(int, bad, 0));
    gsl_rng_free(r);
}

Test(cells, lowest_bit_and_row_sums)
{
    int32_t dst[37], src[37], ref[37];

    cr_expect(eq(u32, cells_lowest(1), 0));
    cr_expect(eq(u32, cells_lowest((uint64_t)1 << 63), 63));
    cr_expect(eq(u32, cells_lowest(0x50), 4));
    for (size_t n = 0; n <= 37; n++) {
        for (size_t j = 0; j < 37; j++) {
            dst[j] = ref[j] = (int32_t)(j * 7 % 11) - 5;
            src[j] = (int32_t)(j * 13 % 17) - 8;
        }
        cells_add(dst, src, n, 1);
        for (size_t j = 0; j < n; j++)
            ref[j] += src[j];
        cr_expect(eq(i32[37], dst, ref), "add, n = %zu", n);
        cells_add(dst, src, n, -1);
        for (size_t j = 0; j < n; j++)
            ref[j] -= src[j];
        cr_expect(eq(i32[37], dst, ref), "subtract, n = %zu", n);
    }
}
