/* outdir.h - output directories, and sets of output files written atomically.
 *
 * Every output file of sendsim (import, report, allocation, backtest) goes through
 * outdir_write(): each file is written under a temporary name in its final directory and the
 * set is renamed into place only once every file is complete, so a failure (a full disk, a
 * bad directory) never leaves a half-written file. The charts are the exception: PLplot
 * writes them by name, so chart.c does the same dance itself. Nothing here prints. */
#ifndef SENDSIM_OUTDIR_H
#define SENDSIM_OUTDIR_H

#include <stddef.h>
#include <stdio.h>

#include "status.h"

/* One file of a set written together: its name inside the directory, and the callback that
 * writes its body to `out` (returning SIM_OK or SIM_EIO) with `arg` (borrowed). */
typedef struct outdir_file {
    const char *name;
    sim_status (*body)(FILE *out, const void *arg);
    const void *arg;
} outdir_file;

/* mkdir -p: create `dir` and its missing parents. Returns SIM_OK, or SIM_EIO with `err`
 * naming the directory that could not be made. */
sim_status outdir_make(const char *dir, sim_error *err);

/* Write files[0..n) into the existing directory `dir` atomically: each to a temporary name in
 * `dir`, all renamed into place only once every one is complete. Returns SIM_OK, or SIM_EIO
 * with `err` naming the path (then no temporary file is left and none of the n final names
 * was replaced, unless a rename itself failed part-way). */
sim_status outdir_write(const char *dir, const outdir_file *files, size_t n, sim_error *err);

#endif /* SENDSIM_OUTDIR_H */
