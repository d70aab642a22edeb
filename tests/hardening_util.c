/* Running the visid program for the hardening suites; see hardening.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "hardening.h"

const char *hard_visid_bin(void)
{
	const char *bin = getenv("VISID_BIN");

	return bin ? bin : "build/visid";
}

/* In the child, before exec: environment, limits, user. Never returns on failure. */
static void child_setup(const struct hard_opts *opt)
{
	setenv("VISID_CONFIG", "/dev/null", 1);
	setenv("VISID_BACKEND", visid_test_cli_backend(), 1);
	unsetenv("VISID_STATE_DIR");
	for (const char *const *e = opt && opt->env ? opt->env : NULL; e && *e; e++)
		putenv((char *)*e);
	if (opt && opt->file_size_limit > 0) {
		struct rlimit lim = { (rlim_t)opt->file_size_limit, (rlim_t)opt->file_size_limit };

		/* A write past the limit then fails with EFBIG instead of killing. */
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &lim))
			_exit(126);
	}
	if (opt && opt->uid != (uid_t)-1 && opt->uid != getuid()) {
		if (setgroups(0, NULL) || setgid(opt->uid) || setuid(opt->uid))
			_exit(126);
	}
}

static int decode_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int hard_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return decode_status(status);
}

static const char **full_argv(const char *const *argv, const char **buf, int max)
{
	int n = 0;

	buf[n++] = hard_visid_bin();
	for (int i = 0; argv[i] && n < max - 1; i++)
		buf[n++] = argv[i];
	buf[n] = NULL;
	return buf;
}

pid_t hard_spawn(const struct hard_opts *opt, const char *const *argv, const char *out_path,
		 const char *err_path)
{
	const char *args[64];
	pid_t pid;

	full_argv(argv, args, 64);
	pid = fork();
	if (pid != 0)
		return pid;
	int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (out < 0 || err < 0)
		_exit(126);
	dup2(out, 1);
	dup2(err, 2);
	child_setup(opt);
	execv(args[0], (char **)args);
	_exit(127);
}

static int append(char **buf, size_t *len, size_t *cap, int fd)
{
	ssize_t n;

	if (*len + 4096 + 1 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 65536;
		char *p = realloc(*buf, ncap);

		if (!p)
			return -1;
		*buf = p;
		*cap = ncap;
	}
	n = read(fd, *buf + *len, *cap - *len - 1);
	if (n > 0)
		*len += (size_t)n;
	(*buf)[*len] = 0;
	return n > 0 ? 0 : -1;
}

int hard_run(struct hard_run *r, const struct hard_opts *opt, const char *const *argv)
{
	int out[2], err[2];
	size_t out_cap = 0, err_cap = 0;
	const char *args[64];
	struct pollfd p[2];
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	full_argv(argv, args, 64);
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		child_setup(opt);
		execv(args[0], (char **)args);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	p[0] = (struct pollfd){ out[0], POLLIN, 0 };
	p[1] = (struct pollfd){ err[0], POLLIN, 0 };
	append(&r->out, &r->out_len, &out_cap, -1);
	append(&r->err, &r->err_len, &err_cap, -1);
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents && append(&r->out, &r->out_len, &out_cap, p[0].fd)) {
			close(p[0].fd);
			p[0].fd = -1;
		}
		if (p[1].revents && append(&r->err, &r->err_len, &err_cap, p[1].fd)) {
			close(p[1].fd);
			p[1].fd = -1;
		}
	}
	r->status = pid > 0 ? hard_wait(pid) : -1;
	return r->status;
}

void hard_run_free(struct hard_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

char *hard_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t used = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (used + 65536 + 1 > cap) {
			char *p = realloc(buf, cap = cap ? cap * 2 : 131072);

			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + used, 1, 65536, f);
		used += n;
	} while (n > 0);
	fclose(f);
	buf[used] = 0;
	if (len)
		*len = used;
	return buf;
}

const void *hard_memmem(const void *hay, size_t hay_len, const void *needle, size_t len)
{
	return memmem(hay, hay_len, needle, len);
}

static char open_root[256];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	chmod(path, 0700);
	return remove(path);
}

static void remove_open_root(void)
{
	if (open_root[0])
		nftw(open_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *hard_open_tmpdir(void)
{
	static int serial;
	static char path[300];

	if (!open_root[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(open_root, sizeof(open_root), "%s/visid-hardening.XXXXXX",
			 base ? base : "/tmp");
		if (!mkdtemp(open_root) || chmod(open_root, 0711)) {
			open_root[0] = 0;
			return NULL;
		}
		atexit(remove_open_root);
	}
	snprintf(path, sizeof(path), "%s/%d", open_root, ++serial);
	if (mkdir(path, 0711) || chmod(path, 0711))
		return NULL;
	return path;
}

const char *hard_face(const char *relative)
{
	static char paths[16][512];
	static int next;
	char rel[400], *p = paths[next++ % 16];

	snprintf(rel, sizeof(rel), "data/faces/%s", relative);
	visid_test_shared(rel, p, 512);
	return p;
}
