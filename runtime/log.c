/* The one logging module: levels, stderr by default, a hook for tests. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "visid/log.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static int current_level = -1;
static void (*log_handler)(enum visid_log_level, const char *, void *);
static void *log_handler_data;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static int level_from_env(void)
{
	const char *env = getenv("VISID_LOG");

	if (!env)
		return VISID_LOG_WARN;
	for (int i = 0; i <= VISID_LOG_DEBUG; i++)
		if (!strcmp(env, level_names[i]))
			return i;
	return VISID_LOG_WARN;
}

void visid_log_set_level(enum visid_log_level level)
{
	current_level = level;
}

enum visid_log_level visid_log_get_level(void)
{
	if (current_level < 0)
		current_level = level_from_env();
	return current_level;
}

void visid_log_set_handler(void (*handler)(enum visid_log_level, const char *, void *),
			   void *data)
{
	pthread_mutex_lock(&log_lock);
	log_handler = handler;
	log_handler_data = data;
	pthread_mutex_unlock(&log_lock);
}

void visid_log(enum visid_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if ((int)level > (int)visid_log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&log_lock);
	if (log_handler)
		log_handler(level, msg, log_handler_data);
	else
		fprintf(stderr, "visid: %s: %s\n", level_names[level], msg);
	pthread_mutex_unlock(&log_lock);
}
