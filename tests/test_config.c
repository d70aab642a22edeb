/* visid.conf: defaults, overrides, and clear refusal of bad values. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "visid/config.h"

static const char *write_conf(const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/visid.conf", visid_test_tmpdir());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_defaults_and_override(void)
{
	struct visid_config cfg;
	const char *path = write_conf("[paths]\nstate_dir = /tmp/x\n[match]\nthreshold = 0.6\n");

	visid_config_defaults(&cfg);
	VT_CHECK(!strcmp(cfg.state_dir, "/var/lib/visid"), "default state_dir '%s'", cfg.state_dir);
	VT_CHECK(cfg.expiry_days == 548, "default expiry %d days", cfg.expiry_days);
	VT_CHECK(visid_config_load(&cfg, path, 1) == 0, "valid file refused");
	VT_CHECK(!strcmp(cfg.state_dir, "/tmp/x"), "state_dir not overridden: '%s'", cfg.state_dir);
	VT_CHECK(cfg.match_threshold > 0.599f && cfg.match_threshold < 0.601f, "threshold %f",
		 cfg.match_threshold);
}

static void test_bad_values_refused(void)
{
	struct visid_config cfg;

	visid_config_defaults(&cfg);
	VT_CHECK(visid_config_load(&cfg, write_conf("[match]\nthreshold = high\n"), 1) < 0,
		 "non-numeric threshold accepted");
	VT_CHECK(visid_config_load(&cfg, write_conf("[match]\ntreshold = 0.5\n"), 1) < 0,
		 "misspelt key accepted");
	VT_CHECK(visid_config_load(&cfg, write_conf("[paths\n"), 1) < 0, "syntax error accepted");
	VT_CHECK(visid_config_load(&cfg, "/nonexistent/visid.conf", 0) == 0,
		 "missing optional file is an error");
	VT_CHECK(visid_config_load(&cfg, "/nonexistent/visid.conf", 1) < 0,
		 "missing required file accepted");
}

VISID_SUITE(config, "config", NULL, NULL, NULL, VISID_TEST(test_defaults_and_override),
	    VISID_TEST(test_bad_values_refused))
