/*
 * visid.conf: the INI file with thresholds, devices and paths. Every key has
 * a default (see the table in config.c and docs/CONFIG.md); the environment
 * and command-line options override the file.
 */
#ifndef VISID_CONFIG_H
#define VISID_CONFIG_H

#define VISID_CONFIG_DEFAULT "/etc/visid.conf"

struct visid_config {
	char state_dir[256];
	char model_dir[256];
	char runtime_dir[256];
	char camera[256];	/* empty: the first capture device */
	int camera_width, camera_height;
	char display[256];	/* empty: the first card with a connected connector */
	char backend[16];	/* vulkan or cpu */
	char gpu_device[128];	/* empty: automatic */
	float match_threshold;
	float match_margin;
	int detect_every;	/* run detection on every Nth frame, track between */
	int expiry_days;
	char control_group[64];	/* besides root, members of this group may use the socket */
	char greeting[64];	/* printf pattern with one %s for the name */
};

void visid_config_defaults(struct visid_config *cfg);
/* Reads PATH over the defaults; a missing default file is not an error. */
int visid_config_load(struct visid_config *cfg, const char *path, int required);
/* Applies $VISID_STATE_DIR, $VISID_MODEL_DIR, $VISID_RUNTIME_DIR, $VISID_BACKEND. */
void visid_config_apply_env(struct visid_config *cfg);

#endif
