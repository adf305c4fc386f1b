/* status.c - names and exit codes for sim_status, and filling sim_error. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sim_strerror(sim_status st)
{
    switch (st) {
    case SIM_OK:        return "success";
    case SIM_EUSAGE:    return "usage error";
    case SIM_EDATA:     return "bad input data";
    case SIM_ENOENT:    return "missing input";
    case SIM_EINTERNAL: return "internal error";
    case SIM_EIO:       return "input/output error";
    }
    return "unknown status";
}

int sim_exit_code(sim_status st)
{
    switch (st) {
    case SIM_OK:        return 0;
    case SIM_EUSAGE:    return 64;
    case SIM_EDATA:     return 65;
    case SIM_ENOENT:    return 66;
    case SIM_EINTERNAL: return 70;
    case SIM_EIO:       return 74;
    }
    return 70;
}

sim_status sim_error_set(sim_error *err, sim_status st, const char *file, size_t line,
                         const char *key, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return st;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    snprintf(err->key, sizeof err->key, "%s", key ? key : "");
    err->line = line;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return st;
}

void sim_error_format(const sim_error *err, char *buf, size_t n)
{
    if (err->file[0] && err->line)
        snprintf(buf, n, "%s:%zu: %s", err->file, err->line, err->msg);
    else if (err->file[0])
        snprintf(buf, n, "%s: %s", err->file, err->msg);
    else
        snprintf(buf, n, "%s", err->msg);
}

void sim_diag_add(sim_diag *d, const sim_error *err)
{
    if (d->n < SIM_DIAG_MAX)
        d->items[d->n++] = *err;
    d->total++;
}
