/*
 * The control-socket protocol: request bytes from a connected peer go
 * through visid_control_dispatch to a trivial handler, and every reply comes
 * back as one line. The listening socket is opened once; each input is one
 * client connection that sends the bytes, closes its side and reads until
 * the daemon hangs up.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fuzz.h"
#include "visid/control.h"

#define MAX_ROUNDS 200

static struct visid_control *ctl;
static struct sockaddr_un addr = { .sun_family = AF_UNIX };

/* Answers like the daemon: some requests fill the reply, some fail. */
static int handle(void *ctx, const char *cmd, const char *arg, char *reply, size_t len)
{
	if (!strcmp(cmd, "status")) {
		snprintf(reply, len, "{\"frames\":1}");
		return 0;
	}
	if (!strcmp(cmd, "list")) {
		/* A reply as long as the buffer allows. */
		memset(reply, 'x', len - 1);
		reply[len - 1] = 0;
		return 0;
	}
	if (!strcmp(cmd, "find") || !strcmp(cmd, "delete")) {
		if (!arg)
			return -EINVAL;
		snprintf(reply, len, "{\"arg\":\"%s\"}", arg);
		return 0;
	}
	return -ENOSYS;
}

static void remove_socket_dir(void)
{
	char *slash;

	if (ctl)
		visid_control_close(ctl);
	ctl = NULL;
	slash = strrchr(addr.sun_path, '/');
	if (slash) {
		*slash = 0;
		rmdir(addr.sun_path);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct visid_control_handler handler = { handle, NULL };
	char dir[64];
	const char *tmp = getenv("TMPDIR");

	fuzz_quiet_log();
	snprintf(dir, sizeof(dir), "%s/visid-fuzz-ctl.XXXXXX", tmp && strlen(tmp) < 30 ? tmp :
		 "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/s", dir);
	if (visid_control_open(addr.sun_path, NULL, &handler, &ctl))
		abort();
	atexit(remove_socket_dir);
	return 0;
}

/* Reads what the daemon sent; 1 once it hung up. */
static int drain(int fd)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0)
			return 1;
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t sent = 0;
	int done = 0;

	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return 0;
	}
	/* Sent in pieces, dispatching between them, as a slow peer would. */
	for (int round = 0; round < MAX_ROUNDS && !done; round++) {
		if (sent < size) {
			size_t chunk = size - sent < 700 ? size - sent : 700;
			ssize_t n = send(fd, data + sent, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n > 0)
				sent += (size_t)n;
			if (sent == size)
				shutdown(fd, SHUT_WR);
		} else if (size == 0 && round == 0) {
			shutdown(fd, SHUT_WR);
		}
		visid_control_dispatch(ctl);
		visid_control_broadcast(ctl, "{\"event\":\"recognised\",\"member\":\"Ada\"}");
		done = drain(fd);
	}
	close(fd);
	/* Lets the daemon notice the close and free the slot. */
	visid_control_dispatch(ctl);
	return 0;
}
