/* status.h - status codes, error details and exit codes shared by every module.
 *
 * Library code never prints: a function that can fail returns a sim_status and, when given a
 * non-NULL sim_error *, fills it with where and what went wrong. main.c formats and reports it
 * once. A sim_diag collects several errors for `sendsim check`, which lists them all. */
#ifndef SENDSIM_STATUS_H
#define SENDSIM_STATUS_H

#include <stddef.h>

/* Keep sim_strerror() and sim_exit_code() in step with this enum. */
typedef enum sim_status {
    SIM_OK = 0,
    SIM_EUSAGE,     /* bad command line (exit 64) */
    SIM_EDATA,      /* malformed or out-of-range input data (exit 65) */
    SIM_ENOENT,     /* an input file is missing (exit 66) */
    SIM_EINTERNAL,  /* a bug or an impossible state (exit 70) */
    SIM_EIO         /* could not read or write a file (exit 74) */
} sim_status;

/* Where and what: `file` and `line` (1-based; 0 when not about a line), `key` the column or INI
 * key concerned ("" when none), `msg` the whole sentence, which already names the column or
 * key, e.g. "column 'count': 'abc' is not a whole number". */
typedef struct sim_error {
    char   file[256];
    size_t line;
    char   key[64];
    char   msg[512];
} sim_error;

/* Up to SIM_DIAG_MAX errors; `total` counts every error reported, kept or not. */
enum { SIM_DIAG_MAX = 50 };
typedef struct sim_diag {
    size_t    n;
    size_t    total;
    sim_error items[SIM_DIAG_MAX];
} sim_diag;

/* A short name for `st` ("bad input data", ...). Never NULL. */
const char *sim_strerror(sim_status st);

/* The sysexits code for `st`: 0, 64, 65, 66, 70 or 74. */
int sim_exit_code(sim_status st);

/* Fill `err` (NULL is a no-op). `file` and `key` may be NULL. Always returns `st`, so a caller
 * can write `return sim_error_set(err, SIM_EDATA, path, line, "count", "...")`. */
sim_status sim_error_set(sim_error *err, sim_status st, const char *file, size_t line,
                         const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Format `err` as "FILE:LINE: MSG" (LINE left out when 0, FILE when empty) into buf[n]. */
void sim_error_format(const sim_error *err, char *buf, size_t n);

/* Append a copy of `err` to `d` (kept while there is room; always counted). */
void sim_diag_add(sim_diag *d, const sim_error *err);

#endif /* SENDSIM_STATUS_H */
