/* xalloc.h - allocation that never returns NULL.
 *
 * Out of memory is not a status here: these print one line and abort(), as Redis' zmalloc and
 * jq's jv_mem_alloc do, so callers have no OOM branch. Sizes computed from input are refused
 * before they reach these (see the range checks in scenario.c). */
#ifndef SENDSIM_XALLOC_H
#define SENDSIM_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Zeroed memory of n bytes for large per-replication arrays (mmap()ed, with transparent huge
 * pages where Linux offers them, from 8 MB up; xcalloc below). Release it with
 * xfree_huge(p, n), passing the same n; never with free(). */
void *xzalloc_huge(size_t n);

/* Release what xzalloc_huge(n) returned. NULL is a no-op. */
void xfree_huge(void *p, size_t n);

#endif /* SENDSIM_XALLOC_H */
