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

#endif /* SENDSIM_XALLOC_H */
