/*
 * The local control interface: a Unix stream socket (mode 0660) through
 * which a companion app lists and deletes members, asks for status, starts
 * find mode and follows events. One request per line, one JSON line back:
 *
 *   list | status | delete NAME | delete-all | find NAME | subscribe
 *
 * "subscribe" turns the connection into an event stream. Peers are checked
 * with SO_PEERCRED: root, the daemon's own user and members of the
 * configured group are served; anyone else is refused and logged.
 */
#ifndef VISID_CONTROL_H
#define VISID_CONTROL_H

#include <sys/types.h>

struct visid_control;

struct visid_control_handler {
	/*
	 * Answers one request (cmd is the first word, arg the rest or NULL)
	 * with a JSON object written into reply. Returns 0, or -errno: then
	 * the reply, when not empty, is sent as the error (a JSON object with
	 * an "error" text), else {"error": strerror}.
	 */
	int (*request)(void *ctx, const char *cmd, const char *arg, char *reply, size_t len);
	void *ctx;
};

/*
 * Listens on path (an old socket file there is replaced). group: the group
 * whose members may connect besides root and the daemon's user; NULL or ""
 * for none. The socket file gets that group and mode 0660.
 */
int visid_control_open(const char *path, const char *group,
		       const struct visid_control_handler *handler, struct visid_control **out);
void visid_control_close(struct visid_control *ctl);

/* For poll(): the listening socket; call visid_control_dispatch when readable. */
int visid_control_fd(const struct visid_control *ctl);
/* Accepts pending peers and answers pending requests, without blocking. */
void visid_control_dispatch(struct visid_control *ctl);
/* Sends one JSON line to every subscribed peer (dropping those that stall). */
void visid_control_broadcast(struct visid_control *ctl, const char *line);

/* Whether a peer with these credentials may use the socket. */
int visid_control_peer_allowed(uid_t uid, gid_t gid, gid_t group);

#endif
