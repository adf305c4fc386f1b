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

/* A run's outputs are written into a staging directory and published together, so that
 * `dir` always holds one run's files: a failed run leaves the last good set untouched, and
 * a run never mixes its files with an earlier run's (whose charts would read the other's
 * CSVs). Make `dir` (with its parents) and, inside it, a new directory .sendsim-PID-XXXXXX (on
 * the same filesystem, so renames out of it are atomic); its path goes to stage[0..n).
 * Staging directories of processes that no longer run (a run killed part-way) are removed
 * first.
 * Returns SIM_OK, or SIM_EIO with `err` naming the directory. */
sim_status outdir_stage(const char *dir, char *stage, size_t n, sim_error *err);

/* Rename every file of `stage` into `dir`; then remove from `dir` each of names[]
 * (NULL-terminated: every output a run can write) that `stage` did not hold, as they are an
 * earlier run's; then remove `stage`. Returns SIM_OK or SIM_EIO naming the file (a failure
 * part-way, such as a disk removed, can leave a mixed set). */
sim_status outdir_publish(const char *stage, const char *dir, const char *const *names,
                          sim_error *err);

/* Remove `stage` and its files (after a failed run). NULL or "" is a no-op. */
void outdir_discard(const char *stage);

#endif /* SENDSIM_OUTDIR_H */
