/*
 * visid ctl: talks to a running daemon's control socket, as a companion app
 * would. Prints the reply line; with "subscribe", every event line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "app.h"
#include "cmd.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: visid ctl [--socket PATH] REQUEST [ARG]\n\n"
		   "Requests: status, list, delete NAME, delete-all, find NAME, subscribe.\n"
		   "The socket defaults to RUNTIME_DIR/control.sock (/run/visid).\n");
}

static int run_ctl(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		APP_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = NULL;
	char line[1024], buf[8192];
	struct app app;
	int opt, fd;
	ssize_t n;

	app_init(&app);
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 's') {
			path = optarg;
		} else if (opt == 'h') {
			usage(stdout);
			return VISID_EXIT_OK;
		} else if (app_option(&app, opt, optarg) <= 0) {
			usage(stderr);
			return VISID_EXIT_USAGE;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		usage(stderr);
		return VISID_EXIT_USAGE;
	}
	if (!path) {
		if (app_open(&app, 0))
			return VISID_EXIT_ERROR;
		snprintf(buf, sizeof(buf), "%s/control.sock", app.cfg.runtime_dir);
		path = buf;
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "visid: socket path %s is too long\n", path);
		return VISID_EXIT_USAGE;
	}
	strcpy(addr.sun_path, path);
	snprintf(line, sizeof(line), "%s%s%s\n", argv[optind], argc - optind > 1 ? " " : "",
		 argc - optind > 1 ? argv[optind + 1] : "");

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(stderr, "visid: cannot connect to %s: %s\n", addr.sun_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return VISID_EXIT_ERROR;
	}
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		close(fd);
		return VISID_EXIT_ERROR;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
		if (strcmp(argv[optind], "subscribe") && memchr(buf, '\n', (size_t)n))
			break;
	}
	close(fd);
	return strstr(buf, "\"error\"") ? VISID_EXIT_ERROR : VISID_EXIT_OK;
}

VISID_COMMAND(ctl, "ctl", "send a request to the running daemon's control socket", run_ctl)
