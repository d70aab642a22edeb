/* visid list and visid delete: the gallery's members. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "cmd.h"

static int parse_common(struct app *app, int argc, char **argv, const char *help, int *all)
{
	static const struct option options[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		APP_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s\n%s", help, APP_OPTIONS_HELP);
			return VISID_EXIT_OK + 100;
		}
		if (opt == 'a' && all) {
			*all = 1;
			continue;
		}
		if (app_option(app, opt, optarg) <= 0) {
			fprintf(stderr, "%s\n%s", help, APP_OPTIONS_HELP);
			return VISID_EXIT_USAGE;
		}
	}
	return -1;
}

static void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	strftime(buf, len, "%Y-%m-%d %H:%M", localtime_r(&tt, &tm));
}

static int run_list(int argc, char **argv)
{
	static const char help[] = "usage: visid list\n\nLists the enrolled members: name, "
				   "angles, enrollment and last recognition\n(recorded at most "
				   "once an hour per member).\n";
	struct visid_store_member members[VISID_STORE_MAX_MEMBERS];
	struct app app;
	int ret, n;

	app_init(&app);
	ret = parse_common(&app, argc, argv, help, NULL);
	if (ret >= 0)
		return ret == VISID_EXIT_OK + 100 ? VISID_EXIT_OK : ret;
	if (optind != argc) {
		fprintf(stderr, "%s\n", help);
		return VISID_EXIT_USAGE;
	}
	if (app_open(&app, APP_STORE)) {
		app_close(&app);
		return VISID_EXIT_ERROR;
	}
	n = visid_store_list(app.store, members, VISID_STORE_MAX_MEMBERS);
	for (int i = 0; i < n; i++) {
		char created[32], seen[32], poses[64] = "";

		for (int p = 0; p < VISID_POSE_COUNT; p++)
			if (members[i].slots & VISID_STORE_SLOT_BIT(p))
				snprintf(poses + strlen(poses), sizeof(poses) - strlen(poses),
					 "%s%s", poses[0] ? "," : "", visid_pose_name(p));
		format_time(members[i].created, created, sizeof(created));
		format_time(members[i].last_seen, seen, sizeof(seen));
		printf("%-24s angles %-28s enrolled %s  last seen %s%s\n", members[i].name,
		       poses, created, seen, members[i].damaged ? "  DAMAGED" : "");
	}
	app_close(&app);
	return n < 0 ? VISID_EXIT_ERROR : VISID_EXIT_OK;
}

static int run_delete(int argc, char **argv)
{
	static const char help[] =
		"usage: visid delete NAME...\n       visid delete --all\n\n"
		"Deletes members with their photos and vectors; their keys are destroyed.\n";
	struct visid_store_member m;
	struct app app;
	int ret, all = 0, status = VISID_EXIT_OK;

	app_init(&app);
	ret = parse_common(&app, argc, argv, help, &all);
	if (ret >= 0)
		return ret == VISID_EXIT_OK + 100 ? VISID_EXIT_OK : ret;
	if (all == (optind < argc)) {
		fprintf(stderr, "%s\n", help);
		return VISID_EXIT_USAGE;
	}
	if (app_open(&app, APP_STORE_WRITE)) {
		app_close(&app);
		return VISID_EXIT_ERROR;
	}
	if (all) {
		ret = visid_store_delete_all(app.store);
		if (ret < 0)
			status = VISID_EXIT_ERROR;
		else
			printf("Deleted %d member(s)\n", ret);
	}
	for (int i = optind; i < argc; i++) {
		ret = visid_store_find(app.store, argv[i], &m);
		if (!ret)
			ret = visid_store_delete(app.store, m.id);
		if (ret) {
			fprintf(stderr, "visid: cannot delete '%s': %s\n", argv[i],
				ret == -ENOENT ? "no such member" : strerror(-ret));
			status = VISID_EXIT_ERROR;
		} else {
			printf("Deleted %s\n", argv[i]);
		}
	}
	app_close(&app);
	return status;
}

VISID_COMMAND(list, "list", "list the enrolled members", run_list)
VISID_COMMAND(delete, "delete", "delete members (or --all)", run_delete)
