/*
 * Logging: quiet by default, to stderr. VISID_LOG (error, warn, info, debug)
 * or visid_log_set_level() raises the level; tools map -v onto it.
 */
#ifndef VISID_LOG_H
#define VISID_LOG_H

enum visid_log_level {
	VISID_LOG_ERROR,
	VISID_LOG_WARN,
	VISID_LOG_INFO,
	VISID_LOG_DEBUG,
};

void visid_log_set_level(enum visid_log_level level);
enum visid_log_level visid_log_get_level(void);
/* Redirects messages (tests capture them); NULL restores stderr. */
void visid_log_set_handler(void (*handler)(enum visid_log_level, const char *msg, void *data),
			   void *data);
void visid_log(enum visid_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define visid_err(...) visid_log(VISID_LOG_ERROR, __VA_ARGS__)
#define visid_warn(...) visid_log(VISID_LOG_WARN, __VA_ARGS__)
#define visid_info(...) visid_log(VISID_LOG_INFO, __VA_ARGS__)
#define visid_dbg(...) visid_log(VISID_LOG_DEBUG, __VA_ARGS__)

#endif
