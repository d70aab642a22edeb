/*
 * The control socket: requests answered for allowed peers; a peer of
 * another user is refused by the socket's mode and, past it, by the
 * SO_PEERCRED check. Needs root to act as the other user.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "visid/control.h"

static char sock_path[256];
static int requests;

static int answer(void *ctx, const char *cmd, const char *arg, char *reply, size_t len)
{
	requests++;
	if (!strcmp(cmd, "status")) {
		snprintf(reply, len, "{\"members\":0}");
		return 0;
	}
	if (!strcmp(cmd, "delete") && arg) {
		snprintf(reply, len, "{\"deleted\":\"%s\"}", arg);
		return 0;
	}
	return -ENOSYS;
}

static const struct visid_control_handler handler = { answer, NULL };

/* Connects, sends one line, reads one line. Returns 0 or -errno of connect. */
static int ask(const char *line, char *reply, size_t len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ssize_t n;

	strcpy(addr.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int err = -errno;

		close(fd);
		return err;
	}
	/* A refused peer may be closed before it writes: no SIGPIPE, read anyway. */
	(void)!send(fd, line, strlen(line), MSG_NOSIGNAL);
	n = read(fd, reply, len - 1);
	reply[n > 0 ? n : 0] = 0;
	close(fd);
	return 0;
}

/*
 * Runs ask() in a child as uid/gid while this process serves the socket.
 * The child exits 0 when the reply contains want, 1 when it does not, 2 when
 * it could not connect.
 */
static int ask_as(struct visid_control *ctl, uid_t uid, gid_t gid, const char *want)
{
	pid_t pid = fork();
	int status = -1;

	if (pid == 0) {
		char reply[256];

		if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
			_exit(3);
		if (ask("status\n", reply, sizeof(reply)))
			_exit(2);
		_exit(strstr(reply, want) ? 0 : 1);
	}
	for (int i = 0; i < 2000; i++) {
		struct pollfd p = { visid_control_fd(ctl), POLLIN, 0 };

		poll(&p, 1, 5);
		visid_control_dispatch(ctl);
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static const char *need_root(void)
{
	return geteuid() == 0 ? NULL : "acting as another user needs root";
}

static struct visid_control *open_socket(const char *group)
{
	struct visid_control *ctl = NULL;
	char dir[] = "/tmp/visid-control.XXXXXX";

	/* Its own directory that other users may traverse, unlike the test tmpdir. */
	VT_CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
	chmod(dir, 0711);
	snprintf(sock_path, sizeof(sock_path), "%s/control.sock", dir);
	VT_CHECK(visid_control_open(sock_path, group, &handler, &ctl) == 0,
		 "cannot listen on %s", sock_path);
	return ctl;
}

static void test_requests_answered(void)
{
	struct visid_control *ctl = open_socket(NULL);
	struct stat st;
	int ret;

	if (!ctl)
		return;
	VT_CHECK(stat(sock_path, &st) == 0 && (st.st_mode & 0777) == 0660,
		 "socket mode %o, want 0660", st.st_mode & 0777);
	ret = ask_as(ctl, 0, 0, "\"members\":0");
	VT_CHECK(ret == 0, "root's status request: child result %d", ret);
	visid_control_close(ctl);
	VT_CHECK(access(sock_path, F_OK) != 0, "socket file left behind after close");
	*strrchr(sock_path, '/') = 0;
	rmdir(sock_path);
}

static void test_other_user_refused(void)
{
	struct visid_control *ctl = open_socket("nogroup");
	int ret;

	if (!ctl)
		return;
	/* The socket's mode keeps a stranger out before any check of ours. */
	ret = ask_as(ctl, 12345, 12345, "");
	VT_CHECK(ret == 2, "uid 12345 connected through a 0660 socket (child result %d)", ret);

	/* Past the mode, SO_PEERCRED refuses a stranger, serves the group. */
	chmod(sock_path, 0666);
	ret = ask_as(ctl, 12345, 12345, "permission denied");
	VT_CHECK(ret == 0, "uid 12345 was not refused by the peer check (child result %d)", ret);
	ret = ask_as(ctl, 12345, 65534, "\"members\":0");
	VT_CHECK(ret == 0, "a member of the control group was refused (child result %d)", ret);
	visid_control_close(ctl);
	*strrchr(sock_path, '/') = 0;
	rmdir(sock_path);
}

static void test_peer_rules(void)
{
	VT_CHECK(visid_control_peer_allowed(0, 0, (gid_t)-1), "root refused");
	VT_CHECK(!visid_control_peer_allowed(12345, 12345, (gid_t)-1),
		 "stranger allowed without a control group");
	VT_CHECK(visid_control_peer_allowed(12345, 777, 777), "group member refused");
}

/*
 * The socket path: a file that is not a socket is never removed, a socket a
 * live daemon answers on is not taken over, a dead one is replaced; closing
 * removes only the socket this process made.
 */
static void test_socket_path_guarded(void)
{
	char dir[] = "/tmp/visid-control.XXXXXX", path[64];
	struct visid_control *a = NULL, *b = NULL;
	int fd, ret;

	VT_CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
	snprintf(path, sizeof(path), "%s/sock", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	(void)!write(fd, "precious", 8);
	close(fd);
	ret = visid_control_open(path, NULL, &handler, &a);
	VT_CHECK(ret == -EEXIST && access(path, F_OK) == 0,
		 "a regular file at the socket path: open %d, file %s", ret,
		 access(path, F_OK) ? "removed" : "kept");
	unlink(path);

	VT_CHECK(visid_control_open(path, NULL, &handler, &a) == 0, "cannot listen on %s", path);
	ret = visid_control_open(path, NULL, &handler, &b);
	VT_CHECK(ret == -EADDRINUSE, "a second daemon took over a live socket (%d)", ret);
	visid_control_close(a);
	VT_CHECK(access(path, F_OK) != 0, "socket left behind");
	rmdir(dir);
}

/* A NUL byte in a request gets an error and the connection closed, not a stall. */
static void test_nul_refused(void)
{
	struct visid_control *ctl = open_socket(NULL);
	int sv, ret;
	pid_t pid;

	if (!ctl)
		return;
	pid = fork();
	if (pid == 0) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		char reply[256] = "";
		ssize_t n;

		strcpy(addr.sun_path, sock_path);
		sv = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(sv, (struct sockaddr *)&addr, sizeof(addr)))
			_exit(2);
		(void)!send(sv, "status\0junk\n", 12, MSG_NOSIGNAL);
		n = read(sv, reply, sizeof(reply) - 1);
		reply[n > 0 ? n : 0] = 0;
		_exit(strstr(reply, "NUL") ? 0 : 1);
	}
	ret = -1;
	for (int i = 0; i < 2000; i++) {
		int status;

		usleep(5000);
		visid_control_dispatch(ctl);
		if (waitpid(pid, &status, WNOHANG) == pid) {
			ret = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			break;
		}
	}
	VT_CHECK(ret == 0, "a request with a NUL byte: child result %d", ret);
	visid_control_close(ctl);
	*strrchr(sock_path, '/') = 0;
	rmdir(sock_path);
}

VISID_SUITE(control, "control", NULL, NULL, need_root, VISID_TEST(test_peer_rules),
	    VISID_TEST(test_socket_path_guarded), VISID_TEST(test_nul_refused),
	    VISID_TEST(test_requests_answered), VISID_TEST(test_other_user_refused))
