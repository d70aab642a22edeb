/* The logging module: levels filter, the handler sees messages. */
#include <string.h>

#include "harness.h"
#include "visid/log.h"

static char last[256];
static int seen;

static void capture(enum visid_log_level level, const char *msg, void *data)
{
	snprintf(last, sizeof(last), "%s", msg);
	seen++;
}

static void test_level_filters(void)
{
	enum visid_log_level saved = visid_log_get_level();

	visid_log_set_handler(capture, NULL);
	visid_log_set_level(VISID_LOG_WARN);
	seen = 0;
	visid_dbg("hidden %d", 1);
	VT_CHECK(seen == 0, "debug message passed a warn filter (%d seen)", seen);
	visid_err("shown %d", 2);
	VT_CHECK(seen == 1 && !strcmp(last, "shown 2"), "error message lost: seen %d, last '%s'",
		 seen, last);
	visid_log_set_handler(NULL, NULL);
	visid_log_set_level(saved);
}

VISID_SUITE(log, "log", NULL, NULL, NULL, VISID_TEST(test_level_filters))
