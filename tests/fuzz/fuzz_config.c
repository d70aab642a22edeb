/*
 * visid.conf: any file either loads over the defaults or fails with a
 * logged error; whatever loads leaves every string terminated and every
 * number within the range the table allows.
 */
#include <string.h>

#include "fuzz.h"
#include "visid/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_log();
	return 0;
}

static void check_string(const char *s, size_t size)
{
	if (!memchr(s, 0, size))
		__builtin_trap();
}

/* The greeting is a printf pattern: used the way the device loop uses it. */
static void greet(const struct visid_config *cfg)
{
	char text[160];

#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(text, sizeof(text), cfg->greeting, "Ada");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct visid_config cfg;
	char path[64];
	int fd = fuzz_memfd(data, size, path, sizeof(path));

	if (fd < 0)
		return 0;
	visid_config_defaults(&cfg);
	if (!visid_config_load(&cfg, path, 1)) {
		check_string(cfg.state_dir, sizeof(cfg.state_dir));
		check_string(cfg.model_dir, sizeof(cfg.model_dir));
		check_string(cfg.runtime_dir, sizeof(cfg.runtime_dir));
		check_string(cfg.camera, sizeof(cfg.camera));
		check_string(cfg.display, sizeof(cfg.display));
		check_string(cfg.backend, sizeof(cfg.backend));
		check_string(cfg.gpu_device, sizeof(cfg.gpu_device));
		check_string(cfg.control_group, sizeof(cfg.control_group));
		check_string(cfg.greeting, sizeof(cfg.greeting));
		if (!(cfg.match_threshold >= -1 && cfg.match_threshold <= 1) ||
		    cfg.detect_every < 0 || cfg.expiry_days < 0)
			__builtin_trap();
		greet(&cfg);
	}
	close(fd);
	return 0;
}
