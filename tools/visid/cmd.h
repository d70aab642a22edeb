/*
 * Subcommands of the visid program. Each tools/visid/cmd_*.c registers its
 * commands with VISID_COMMAND; main.c dispatches on the first argument.
 * A command returns the exit status: 0 success, 1 error, 2 usage.
 */
#ifndef VISID_CMD_H
#define VISID_CMD_H

enum { VISID_EXIT_OK = 0, VISID_EXIT_ERROR = 1, VISID_EXIT_USAGE = 2 };

struct visid_cmd {
	const char *name;
	const char *summary;	/* one line for `visid --help` */
	int (*run)(int argc, char **argv);	/* argv[0] is the command name */
	struct visid_cmd *next;
};

void visid_cmd_register(struct visid_cmd *cmd);

#define VISID_COMMAND(ident, name_, summary_, fn_)                                             \
	static struct visid_cmd ident##_cmd = { name_, summary_, fn_, 0 };                     \
	__attribute__((constructor)) static void ident##_register(void)                        \
	{                                                                                      \
		visid_cmd_register(&ident##_cmd);                                              \
	}

#endif
