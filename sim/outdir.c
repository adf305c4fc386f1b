/* outdir.c - output directories and files written atomically (temporary name, then rename). */
#include "outdir.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

sim_status outdir_make(const char *dir, sim_error *err)
{
    char path[1024];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof path)
        return sim_error_set(err, SIM_EIO, dir, 0, NULL, "bad output directory name");
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                return sim_error_set(err, SIM_EIO, path, 0, NULL,
                                     "cannot create directory: %s", strerror(errno));
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return SIM_OK;
}

typedef struct pending {
    char tmp[1100], final[1100];
} pending;

/* Write one file to a temporary name beside its final one, through its body callback. */
static sim_status write_tmp(const char *dir, const outdir_file *f, pending *pd, sim_error *err)
{
    FILE *fp;
    int fd;
    sim_status st;

    if ((size_t)snprintf(pd->final, sizeof pd->final, "%s/%s", dir, f->name)
            >= sizeof pd->final ||
        (size_t)snprintf(pd->tmp, sizeof pd->tmp, "%s/.%s.XXXXXX", dir, f->name)
            >= sizeof pd->tmp) {
        pd->tmp[0] = '\0';
        return sim_error_set(err, SIM_EIO, dir, 0, NULL, "output path is too long");
    }
    fd = mkstemp(pd->tmp);
    if (fd < 0) {
        pd->tmp[0] = '\0';
        return sim_error_set(err, SIM_EIO, pd->final, 0, NULL, "cannot create a file: %s",
                             strerror(errno));
    }
    fchmod(fd, 0644);                   /* mkstemp makes 0600; outputs are for sharing */
    fp = fdopen(fd, "w");
    if (fp == NULL) {
        close(fd);
        st = SIM_EIO;
    } else {
        st = f->body(fp, f->arg);
        if (ferror(fp))
            st = SIM_EIO;
        if (fclose(fp) != 0)            /* where a full disk shows up */
            st = SIM_EIO;
    }
    if (st != SIM_OK) {
        unlink(pd->tmp);
        pd->tmp[0] = '\0';
        return sim_error_set(err, SIM_EIO, pd->final, 0, NULL, "cannot write: %s",
                             strerror(errno ? errno : EIO));
    }
    return SIM_OK;
}

sim_status outdir_write(const char *dir, const outdir_file *files, size_t n, sim_error *err)
{
    pending *pd = xcalloc(n ? n : 1, sizeof *pd);
    sim_status st = SIM_OK;

    for (size_t i = 0; i < n && st == SIM_OK; i++)
        st = write_tmp(dir, &files[i], &pd[i], err);
    for (size_t i = 0; i < n && st == SIM_OK; i++)
        if (rename(pd[i].tmp, pd[i].final) != 0)
            st = sim_error_set(err, SIM_EIO, pd[i].final, 0, NULL, "cannot rename %s: %s",
                               pd[i].tmp, strerror(errno));
        else
            pd[i].tmp[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (pd[i].tmp[0])
            unlink(pd[i].tmp);
    free(pd);
    return st;
}

/* Remove the staging directories in `dir` (.sendsim-PID-*) whose process no longer runs: what
 * a run killed part-way left behind. One whose PID is alive (another run, or a reused PID)
 * is kept. */
static void sweep_stages(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[1100], *end;
        long pid;
        if (strncmp(e->d_name, ".sendsim-", 9) != 0)
            continue;
        pid = strtol(e->d_name + 9, &end, 10);
        if (end == e->d_name + 9 || *end != '-' || pid <= 0 ||
            !(kill((pid_t)pid, 0) != 0 && errno == ESRCH))
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path)
            outdir_discard(path);
    }
    closedir(d);
}

sim_status outdir_stage(const char *dir, char *stage, size_t n, sim_error *err)
{
    sim_status st = outdir_make(dir, err);

    if (st != SIM_OK)
        return st;
    sweep_stages(dir);
    if ((size_t)snprintf(stage, n, "%s/.sendsim-%ld-XXXXXX", dir, (long)getpid()) >= n) {
        stage[0] = '\0';
        return sim_error_set(err, SIM_EIO, dir, 0, NULL, "output path is too long");
    }
    if (mkdtemp(stage) == NULL) {
        int e = errno;
        stage[0] = '\0';
        return sim_error_set(err, SIM_EIO, dir, 0, NULL, "cannot create files here: %s",
                             strerror(e));
    }
    return SIM_OK;
}

/* The names of the files in `stage` (not . or .., nor temporaries), *n of them. */
static char **staged(const char *stage, size_t *n, sim_error *err, sim_status *st)
{
    DIR *d = opendir(stage);
    struct dirent *e;
    char **names = NULL;

    *n = 0;
    *st = SIM_OK;
    if (d == NULL) {
        *st = sim_error_set(err, SIM_EIO, stage, 0, NULL, "cannot read: %s", strerror(errno));
        return NULL;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')            /* ., .. and any temporary file left behind */
            continue;
        names = xrealloc(names, (*n + 1) * sizeof *names);
        names[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    return names;
}

/* Rename files[0..n) of `stage` into `dir`, having first checked that each can replace what
 * `dir` has of that name (nothing, or a file): a directory in the way is found before any
 * file has moved. */
static sim_status move_all(const char *stage, const char *dir, char **files, size_t n,
                           sim_error *err)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            char from[1100], to[1100];
            struct stat sb;
            if ((size_t)snprintf(from, sizeof from, "%s/%s", stage, files[i]) >= sizeof from ||
                (size_t)snprintf(to, sizeof to, "%s/%s", dir, files[i]) >= sizeof to)
                return sim_error_set(err, SIM_EIO, dir, 0, NULL, "output path is too long");
            if (pass == 0 && lstat(to, &sb) == 0 && S_ISDIR(sb.st_mode))
                return sim_error_set(err, SIM_EIO, to, 0, NULL,
                                     "cannot write: a directory is in the way");
            if (pass == 1 && rename(from, to) != 0)
                return sim_error_set(err, SIM_EIO, to, 0, NULL, "cannot rename %s: %s", from,
                                     strerror(errno));
        }
    return SIM_OK;
}

sim_status outdir_publish(const char *stage, const char *dir, const char *const *names,
                          sim_error *err)
{
    size_t n;
    sim_status st;
    char **moved = staged(stage, &n, err, &st);

    if (st == SIM_OK)
        st = move_all(stage, dir, moved, n, err);

    for (const char *const *p = names; st == SIM_OK && p && *p; p++) {
        char path[1100];
        int here = 0;
        for (size_t i = 0; i < n && !here; i++)
            here = strcmp(moved[i], *p) == 0;
        if (here || (size_t)snprintf(path, sizeof path, "%s/%s", dir, *p) >= sizeof path)
            continue;
        if (unlink(path) != 0 && errno != ENOENT)
            st = sim_error_set(err, SIM_EIO, path, 0, NULL,
                               "cannot remove this output of an earlier run: %s",
                               strerror(errno));
    }
    for (size_t i = 0; i < n; i++)
        free(moved[i]);
    free(moved);
    outdir_discard(stage);
    return st;
}

void outdir_discard(const char *stage)
{
    DIR *d;
    struct dirent *e;

    if (stage == NULL || stage[0] == '\0' || (d = opendir(stage)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[1100];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", stage, e->d_name) < sizeof path)
            unlink(path);
    }
    closedir(d);
    rmdir(stage);
}
