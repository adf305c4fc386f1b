/* test_helpers.h - what the tests that drive the sendsim binary share: its path, running it
 * with the exit code, stdout and stderr captured, and reading a whole file.
 *
 * The binary is $SENDSIM_BIN (default ./sendsim). Buffers returned by th_slurp belong to the
 * caller (free()). These helpers use Criterion's assertions, so call them only from tests. */
#ifndef SENDSIM_TEST_HELPERS_H
#define SENDSIM_TEST_HELPERS_H

#include <stddef.h>

typedef struct th_result {
    int  code;              /* exit status; -1 if the binary did not exit normally */
    char out[16384];        /* stdout, cut to fit, NUL-terminated */
    char err[16384];        /* stderr, likewise */
} th_result;

/* The binary under test: $SENDSIM_BIN when set and non-empty, else "./sendsim". */
const char *th_bin(void);

/* Run the binary with args[] (NULL-terminated, without argv[0], at most 30) directly (no
 * shell), capturing its exit status, stdout and stderr in *r. Fails the test if the binary
 * cannot be run. Its capture files live in a fresh mkdtemp() directory, removed after. */
void th_run(const char *const *args, th_result *r);

/* Run `cmd` through the shell (system()); its exit status, or -1 if it did not exit. */
int th_system(const char *cmd);

/* The whole file at `path`, NUL-terminated, in a new buffer; its size in *len when len is not
 * NULL. NULL when the file cannot be opened or read in full. */
char *th_slurp(const char *path, size_t *len);

#endif /* SENDSIM_TEST_HELPERS_H */
