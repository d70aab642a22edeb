/* The control socket: peer checks, line requests, event fan-out. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "visid/control.h"
#include "visid/log.h"

#define MAX_PEERS 16
#define LINE_MAX_BYTES 512
#define IDLE_SECONDS 30

struct peer {
	int fd;
	int subscribed;
	time_t last_active;	/* a silent peer is dropped after IDLE_SECONDS */
	size_t used;
	char buf[LINE_MAX_BYTES];
};

struct visid_control {
	int fd;
	char path[108];
	gid_t group;
	int have_group;
	struct visid_control_handler handler;
	struct peer peers[MAX_PEERS];
	dev_t dev;		/* the socket file we created, to remove only that one */
	ino_t ino;
};

static int user_in_group(uid_t uid, gid_t group)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[64];
	int n = 64;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) || !res)
		return 0;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (groups[i] == group)
			return 1;
	return 0;
}

int visid_control_peer_allowed(uid_t uid, gid_t gid, gid_t group)
{
	if (uid == 0 || uid == geteuid())
		return 1;
	if (group == (gid_t)-1)
		return 0;
	return gid == group || user_in_group(uid, group);
}

/*
 * Makes room for the socket: nothing there, or a socket nobody listens on
 * (left by a daemon that died). A file that is not a socket is never
 * removed, and a socket another daemon still answers on is not taken over.
 */
static int clear_stale_socket(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, live;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		visid_err("control socket %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		visid_err("control socket %s: a file that is not a socket is in the way; "
			  "not removing it", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	live = fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	if (fd >= 0)
		close(fd);
	if (live) {
		visid_err("control socket %s: another visid is already listening there", path);
		return -EADDRINUSE;
	}
	unlink(path);
	return 0;
}

int visid_control_open(const char *path, const char *group,
		       const struct visid_control_handler *handler, struct visid_control **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct visid_control *ctl;
	struct stat st;
	int ret;

	if (!path || !*path) {
		visid_err("control socket: no path given");
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		visid_err("control socket %s: path too long", path);
		return -ENAMETOOLONG;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->handler = *handler;
	ctl->group = (gid_t)-1;
	for (int i = 0; i < MAX_PEERS; i++)
		ctl->peers[i].fd = -1;
	if (group && *group) {
		struct group gr, *res = NULL;
		char buf[4096];

		if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) || !res)
			visid_warn("control socket %s: no group '%s'; only root and this user "
				   "may connect", path, group);
		else
			ctl->group = gr.gr_gid;
	}

	strcpy(addr.sun_path, path);
	strcpy(ctl->path, path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = clear_stale_socket(path, &addr);
	if (ret)
		goto err_close;
	if (bind(ctl->fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(ctl->fd, 8)) {
		ret = -errno;
		visid_err("control socket %s: %s", path, strerror(errno));
		goto err_close;
	}
	if (chmod(path, 0660) ||
	    (ctl->group != (gid_t)-1 && chown(path, (uid_t)-1, ctl->group))) {
		ret = -errno;
		visid_err("control socket %s: cannot set owner and mode: %s", path,
			  strerror(errno));
		goto err_unlink;
	}
	if (stat(path, &st) == 0) {
		ctl->dev = st.st_dev;
		ctl->ino = st.st_ino;
	}
	*out = ctl;
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(ctl->fd);
err_free:
	free(ctl);
	return ret;
}

void visid_control_close(struct visid_control *ctl)
{
	struct stat st;

	if (!ctl)
		return;
	for (int i = 0; i < MAX_PEERS; i++)
		if (ctl->peers[i].fd >= 0)
			close(ctl->peers[i].fd);
	close(ctl->fd);
	/* Only our own socket: another daemon may have replaced it since. */
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl);
}

int visid_control_fd(const struct visid_control *ctl)
{
	return ctl->fd;
}

static void drop_peer(struct peer *p)
{
	close(p->fd);
	p->fd = -1;
	p->used = 0;
	p->subscribed = 0;
}

static void send_line(struct peer *p, const char *line)
{
	size_t len = strlen(line);

	if (send(p->fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len ||
	    send(p->fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
		drop_peer(p);
}

static void accept_peers(struct visid_control *ctl)
{
	for (;;) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int slot = -1;

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
		    !visid_control_peer_allowed(cred.uid, cred.gid, ctl->group)) {
			visid_warn("control socket %s: refused uid %d (pid %d): not root, this "
				   "user or the control group", ctl->path, (int)cred.uid,
				   (int)cred.pid);
			(void)!write(fd, "{\"error\":\"permission denied\"}\n", 30);
			close(fd);
			continue;
		}
		for (int i = 0; i < MAX_PEERS && slot < 0; i++)
			if (ctl->peers[i].fd < 0)
				slot = i;
		if (slot < 0) {
			(void)!write(fd, "{\"error\":\"too many clients\"}\n", 29);
			close(fd);
			continue;
		}
		ctl->peers[slot].fd = fd;
		ctl->peers[slot].last_active = time(NULL);
	}
}

static void answer(struct visid_control *ctl, struct peer *p, char *line)
{
	char reply[8192], *arg = strchr(line, ' ');
	int ret;

	if (arg)
		*arg++ = 0;
	if (!strcmp(line, "subscribe")) {
		p->subscribed = 1;
		send_line(p, "{\"subscribed\":true}");
		return;
	}
	reply[0] = 0;
	ret = ctl->handler.request(ctl->handler.ctx, line, arg, reply, sizeof(reply));
	/* A handler may explain its failure in the reply; otherwise the errno text. */
	if (ret && !reply[0])
		snprintf(reply, sizeof(reply), "{\"error\":\"%s\"}",
			 ret == -ENOSYS ? "unknown request" : strerror(-ret));
	send_line(p, reply);
}

static void read_peer(struct visid_control *ctl, struct peer *p)
{
	ssize_t n = recv(p->fd, p->buf + p->used, sizeof(p->buf) - 1 - p->used, MSG_DONTWAIT);
	char *nl;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		drop_peer(p);
		return;
	}
	if (n < 0)
		return;
	if (memchr(p->buf + p->used, 0, (size_t)n)) {
		send_line(p, "{\"error\":\"a request is text: NUL byte refused\"}");
		if (p->fd >= 0)
			drop_peer(p);
		return;
	}
	p->used += (size_t)n;
	p->buf[p->used] = 0;
	p->last_active = time(NULL);
	while (p->fd >= 0 && (nl = strchr(p->buf, '\n'))) {
		size_t consumed = (size_t)(nl + 1 - p->buf);
		char line[LINE_MAX_BYTES];

		*nl = 0;
		if (nl > p->buf && nl[-1] == '\r')
			nl[-1] = 0;
		memcpy(line, p->buf, consumed);
		memmove(p->buf, p->buf + consumed, p->used - consumed + 1);
		p->used -= consumed;
		answer(ctl, p, line);
	}
	if (p->fd >= 0 && p->used >= sizeof(p->buf) - 1) {
		send_line(p, "{\"error\":\"request too long\"}");
		if (p->fd >= 0)
			drop_peer(p);
	}
}

void visid_control_dispatch(struct visid_control *ctl)
{
	time_t now = time(NULL);

	/* Silent peers would hold every slot; subscribers only listen. */
	for (int i = 0; i < MAX_PEERS; i++)
		if (ctl->peers[i].fd >= 0 && !ctl->peers[i].subscribed &&
		    now - ctl->peers[i].last_active > IDLE_SECONDS)
			drop_peer(&ctl->peers[i]);
	accept_peers(ctl);
	for (int i = 0; i < MAX_PEERS; i++)
		if (ctl->peers[i].fd >= 0)
			read_peer(ctl, &ctl->peers[i]);
}

void visid_control_broadcast(struct visid_control *ctl, const char *line)
{
	for (int i = 0; ctl && i < MAX_PEERS; i++)
		if (ctl->peers[i].fd >= 0 && ctl->peers[i].subscribed)
			send_line(&ctl->peers[i], line);
}
