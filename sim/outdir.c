/* outdir.c - output directories and files written atomically (temporary name, then rename). */
#include "outdir.h"

#include <errno.h>
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
