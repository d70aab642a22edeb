/*
 * What the hardening suites (faults, privacy, soak) share: running the
 * visid program with a private environment and collecting what it printed,
 * and reading files back to search them.
 */
#ifndef VISID_TEST_HARDENING_H
#define VISID_TEST_HARDENING_H

#include <stddef.h>
#include <sys/types.h>

struct hard_run {
	int status;	/* exit code; 128 + N when killed by signal N; -1 when not run */
	char *out;	/* stdout, NUL-terminated */
	size_t out_len;
	char *err;	/* stderr, NUL-terminated */
	size_t err_len;
};

/* The visid binary under test: $VISID_BIN, else build/visid. */
const char *hard_visid_bin(void);

/*
 * How a run is set up. env: extra NAME=VALUE strings (NULL-terminated list,
 * or NULL) over VISID_CONFIG=/dev/null and VISID_BACKEND=cpu. uid: run as
 * this user (root only), or -1. Limits: file_size_limit > 0 caps the size
 * of any file the program writes (RLIMIT_FSIZE), as a full disk would.
 */
struct hard_opts {
	const char *const *env;
	uid_t uid;
	long file_size_limit;
};

/* Runs visid with argv (NULL-terminated, argv[0] is the command). */
int hard_run(struct hard_run *r, const struct hard_opts *opt, const char *const *argv);
void hard_run_free(struct hard_run *r);

/*
 * Starts visid in the background with stdout and stderr going to files
 * (NULL: /dev/null); returns the pid or -1.
 */
pid_t hard_spawn(const struct hard_opts *opt, const char *const *argv, const char *out_path,
		 const char *err_path);
/* Waits for pid; the status coded as in struct hard_run. */
int hard_wait(pid_t pid);

/* A whole file in memory (NUL-terminated); NULL when it cannot be read. */
char *hard_read_file(const char *path, size_t *len);
/* Where needle occurs in haystack, or NULL. */
const void *hard_memmem(const void *hay, size_t hay_len, const void *needle, size_t len);

/*
 * A scratch directory that other users may enter (0711), for runs as
 * another user; removed at exit. NULL on failure.
 */
const char *hard_open_tmpdir(void);

/* Path under ../shared/data/faces (static storage, a few at a time). */
const char *hard_face(const char *relative);

#endif
