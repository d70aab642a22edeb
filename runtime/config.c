/* visid.conf through inih, over a table of defaults. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>

#include "visid/config.h"
#include "visid/log.h"

#ifndef VISID_MODEL_DIR_DEFAULT
#define VISID_MODEL_DIR_DEFAULT "/usr/local/share/visid/models"
#endif

/* KEY_PATTERN: a string used as a printf pattern with exactly one %s. */
enum key_type { KEY_STRING, KEY_INT, KEY_FLOAT, KEY_PATTERN };

struct key {
	const char *section, *name;
	enum key_type type;
	size_t offset, size;
	const char *def;
};

#define STR(sec, name, field, def) \
	{ sec, name, KEY_STRING, offsetof(struct visid_config, field), \
	  sizeof(((struct visid_config *)0)->field), def }
#define PATTERN(sec, name, field, def) \
	{ sec, name, KEY_PATTERN, offsetof(struct visid_config, field), \
	  sizeof(((struct visid_config *)0)->field), def }
#define NUM(sec, name, type, field, def) \
	{ sec, name, type, offsetof(struct visid_config, field), 0, def }

static const struct key keys[] = {
	STR("paths", "state_dir", state_dir, "/var/lib/visid"),
	STR("paths", "model_dir", model_dir, VISID_MODEL_DIR_DEFAULT),
	STR("paths", "runtime_dir", runtime_dir, "/run/visid"),
	STR("camera", "device", camera, ""),
	NUM("camera", "width", KEY_INT, camera_width, "1280"),
	NUM("camera", "height", KEY_INT, camera_height, "720"),
	STR("display", "card", display, ""),
	STR("compute", "backend", backend, "vulkan"),
	STR("compute", "device", gpu_device, ""),
	NUM("match", "threshold", KEY_FLOAT, match_threshold, "0.55"),
	NUM("match", "margin", KEY_FLOAT, match_margin, "0.05"),
	NUM("match", "detect_every", KEY_INT, detect_every, "3"),
	NUM("store", "expiry_days", KEY_INT, expiry_days, "548"),
	STR("control", "group", control_group, "visid"),
	PATTERN("screen", "greeting", greeting, "Hello, %s"),
};

/*
 * The greeting is handed to snprintf with one name: any other conversion
 * (a second %s, a %n) would read or write memory that is not there.
 */
static int one_name_conversion(const char *pattern)
{
	int names = 0;

	for (const char *p = strchr(pattern, '%'); p; p = strchr(p + 2, '%')) {
		if (p[1] == 's')
			names++;
		else if (p[1] != '%')
			return 0;
	}
	return names == 1;
}

static int set_key(struct visid_config *cfg, const struct key *k, const char *value)
{
	char *end;
	void *field = (char *)cfg + k->offset;

	switch (k->type) {
	case KEY_PATTERN:
		if (!one_name_conversion(value))
			return -EINVAL;
		/* fall through */
	case KEY_STRING:
		if (strlen(value) >= k->size)
			return -ENAMETOOLONG;
		strcpy(field, value);
		return 0;
	case KEY_INT: {
		long v = strtol(value, &end, 10);

		if (end == value || *end || v < 0 || v > 1000000)
			return -EINVAL;
		*(int *)field = (int)v;
		return 0;
	}
	case KEY_FLOAT: {
		float v = strtof(value, &end);

		if (end == value || *end || !(v >= -1.0f && v <= 1.0f))
			return -EINVAL;
		*(float *)field = v;
		return 0;
	}
	}
	return -EINVAL;
}

void visid_config_defaults(struct visid_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		set_key(cfg, &keys[i], keys[i].def);
}

struct parse_state {
	struct visid_config *cfg;
	const char *path;
	int error;
};

static int on_entry(void *data, const char *section, const char *name, const char *value)
{
	struct parse_state *st = data;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *k = &keys[i];

		if (strcmp(k->section, section) || strcmp(k->name, name))
			continue;
		if (set_key(st->cfg, k, value)) {
			visid_err("%s: [%s] %s = '%s' is not a valid value", st->path, section,
				  name, value);
			st->error = -EINVAL;
		}
		return 1;
	}
	visid_err("%s: unknown key [%s] %s", st->path, section, name);
	st->error = -EINVAL;
	return 1;
}

int visid_config_load(struct visid_config *cfg, const char *path, int required)
{
	struct parse_state st = { cfg, path, 0 };
	FILE *f = fopen(path, "r");
	int line;

	if (!f) {
		if (errno == ENOENT && !required)
			return 0;
		visid_err("%s: cannot open configuration: %s", path, strerror(errno));
		return -errno;
	}
	line = ini_parse_file(f, on_entry, &st);
	fclose(f);
	if (line > 0) {
		visid_err("%s:%d: syntax error", path, line);
		return -EINVAL;
	}
	return st.error;
}

static void env_string(char *field, size_t size, const char *name)
{
	const char *v = getenv(name);

	if (v && *v && strlen(v) < size)
		strcpy(field, v);
}

void visid_config_apply_env(struct visid_config *cfg)
{
	env_string(cfg->state_dir, sizeof(cfg->state_dir), "VISID_STATE_DIR");
	env_string(cfg->model_dir, sizeof(cfg->model_dir), "VISID_MODEL_DIR");
	env_string(cfg->runtime_dir, sizeof(cfg->runtime_dir), "VISID_RUNTIME_DIR");
	env_string(cfg->backend, sizeof(cfg->backend), "VISID_BACKEND");
}
