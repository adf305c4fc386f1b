/* test_helpers.c - the shared helpers of the binary-driving tests (test_helpers.h); no tests. */
#include "test_helpers.h"

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *th_bin(void)
{
    const char *b = getenv("SENDSIM_BIN");

    return b && *b ? b : "./sendsim";
}

/* Read at most n - 1 bytes of `path` into buf, NUL-terminated. */
static void read_into(const char *path, char *buf, size_t n)
{
    FILE *fp = fopen(path, "rb");
    size_t got;

    cr_assert(fp != NULL, "%s", path);
    got = fread(buf, 1, n - 1, fp);
    buf[got] = '\0';
    fclose(fp);
}

void th_run(const char *const *args, th_result *r)
{
    const char *bin = th_bin();
    char dir[] = "/tmp/sendsim-test-XXXXXX", out[64], err[64];
    char *argv[32] = { (char *)bin };
    int status;
    pid_t pid;

    for (size_t i = 0; args[i] && i < 30; i++)
        argv[i + 1] = (char *)args[i];
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    fflush(NULL);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execv(bin, argv);
        _exit(127);
    }
    cr_assert(eq(int, (int)waitpid(pid, &status, 0), (int)pid));
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    read_into(out, r->out, sizeof r->out);
    read_into(err, r->err, sizeof r->err);
    remove(out);
    remove(err);
    rmdir(dir);
    cr_assert(ne(int, r->code, 127), "could not run %s (set SENDSIM_BIN)", bin);
}

int th_system(const char *cmd)
{
    int st = system(cmd);

    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *th_slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (fp == NULL)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0) {
        rewind(fp);
        buf = malloc((size_t)n + 1);
        if (buf != NULL && fread(buf, 1, (size_t)n, fp) == (size_t)n) {
            buf[n] = '\0';
            if (len)
                *len = (size_t)n;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(fp);
    return buf;
}
