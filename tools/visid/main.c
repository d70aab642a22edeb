/*
 * visid: on-device face identification.
 *   visid [-v]... COMMAND [ARGS]     `visid COMMAND --help` for each command
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "visid/log.h"

static struct visid_cmd *commands;

void visid_cmd_register(struct visid_cmd *cmd)
{
	struct visid_cmd **p = &commands;

	while (*p && strcmp((*p)->name, cmd->name) < 0)
		p = &(*p)->next;
	cmd->next = *p;
	*p = cmd;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: visid [-v] COMMAND [ARGS]\n\n"
		   "On-device face identification: enroll household members, then recognise\n"
		   "them in camera frames or photos.\n\ncommands:\n");
	for (struct visid_cmd *c = commands; c; c = c->next)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\noptions:\n"
		   "  -v, --verbose   more log output on stderr (repeat for debug)\n"
		   "  -h, --help      this text; `visid COMMAND --help` for a command\n"
		   "  -V, --version   print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, verbose = 0;

	/* Stop at the command name: the rest belongs to the command. */
	while ((opt = getopt_long(argc, argv, "+vhV", options, NULL)) != -1) {
		switch (opt) {
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return VISID_EXIT_OK;
		case 'V':
			printf("visid %s\n", VISID_VERSION);
			return VISID_EXIT_OK;
		default:
			usage(stderr);
			return VISID_EXIT_USAGE;
		}
	}
	if (verbose)
		visid_log_set_level(verbose > 1 ? VISID_LOG_DEBUG : VISID_LOG_INFO);
	if (optind >= argc) {
		usage(stderr);
		return VISID_EXIT_USAGE;
	}
	for (struct visid_cmd *c = commands; c; c = c->next) {
		if (!strcmp(c->name, argv[optind])) {
			int first = optind;

			optind = 0;	/* full reset of getopt for the command */
			return c->run(argc - first, argv + first);
		}
	}
	fprintf(stderr, "visid: unknown command '%s' (see visid --help)\n", argv[optind]);
	return VISID_EXIT_USAGE;
}
