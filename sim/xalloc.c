/* xalloc.c - malloc wrappers that abort on exhaustion (the one place allowed to print). */
#define _DEFAULT_SOURCE 1           /* MAP_ANONYMOUS, MADV_HUGEPAGE in <sys/mman.h> */
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Arrays from this size on come from mmap(). */
enum { BIG_ALLOC = 8 << 20 };

static void out_of_memory(size_t n)
{
    fprintf(stderr, "sendsim: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        out_of_memory(n);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        out_of_memory(count * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        out_of_memory(n);
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

/* Large arrays straight from mmap(): the kernel's pages are already zero (a memset() would
 * zero them twice) and are first touched by the workers that use them; Linux is asked for
 * transparent huge pages (10,000 replications are some 150 MB, tens of thousands of faults
 * with 4 KB pages). */
void *xzalloc_huge(size_t n)
{
    void *p;

    if (n < BIG_ALLOC)
        return xcalloc(n ? n : 1, 1);
    p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        out_of_memory(n);
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE);     /* advice only: failure leaves normal pages */
#endif
    return p;
}

void xfree_huge(void *p, size_t n)
{
    if (p != NULL && n >= BIG_ALLOC)
        munmap(p, n);
    else
        free(p);
}
