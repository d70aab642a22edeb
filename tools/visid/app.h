/*
 * What the visid commands share: configuration and common options, the GPU,
 * the face pipeline, the gallery, and matching against it.
 */
#ifndef VISID_APP_H
#define VISID_APP_H

#include <getopt.h>

#include "visid/config.h"
#include "visid/face.h"
#include "visid/gpu.h"
#include "visid/store.h"

enum app_option_id {
	APP_OPT_CONFIG = 0x100,
	APP_OPT_STATE_DIR,
	APP_OPT_MODEL_DIR,
	APP_OPT_BACKEND,
	APP_OPT_DEVICE,
	APP_OPT_THRESHOLD,
	APP_OPT_VERBOSE,
};

#define APP_LONG_OPTIONS                                                                       \
	{ "config", required_argument, NULL, APP_OPT_CONFIG },                                 \
	{ "state-dir", required_argument, NULL, APP_OPT_STATE_DIR },                           \
	{ "model-dir", required_argument, NULL, APP_OPT_MODEL_DIR },                           \
	{ "backend", required_argument, NULL, APP_OPT_BACKEND },                               \
	{ "device", required_argument, NULL, APP_OPT_DEVICE },                                 \
	{ "threshold", required_argument, NULL, APP_OPT_THRESHOLD },                           \
	{ "verbose", no_argument, NULL, APP_OPT_VERBOSE }

#define APP_OPTIONS_HELP                                                                       \
	"common options:\n"                                                                    \
	"  --config FILE       configuration (default " VISID_CONFIG_DEFAULT ")\n"            \
	"  --state-dir DIR     the gallery (default /var/lib/visid, or $VISID_STATE_DIR)\n"   \
	"  --model-dir DIR     the model files (or $VISID_MODEL_DIR)\n"                       \
	"  --backend B         vulkan (default; falls back to cpu) or cpu\n"                 \
	"  --device D          Vulkan device by index or name (or $VISID_DEVICE)\n"           \
	"  --threshold T       similarity a match needs (default from the configuration)\n"  \
	"  --verbose           more log output on stderr (also: visid -v COMMAND)\n"

/* What app_open sets up. */
enum app_need {
	APP_PIPELINE = 1 << 0,
	APP_STORE = 1 << 1,		/* read-only gallery for recognition */
	APP_STORE_WRITE = 1 << 2,	/* for changes (enroll, delete, the daemon) */
	APP_STORE_CREATE = 1 << 3,
};

struct app_match {
	int member;		/* index into app.gallery.members, -1: unknown */
	int best;		/* most similar member even when not accepted, -1: none */
	float similarity;	/* best member's score */
	float margin;		/* best minus second-best member; NaN with no second */
};

struct app {
	struct visid_config cfg;
	const char *config_path;
	int config_required;
	int threshold_set;

	struct visid_gpu *gpu;
	struct visid_face_pipeline *pipe;
	struct visid_store *store;
	struct visid_store_gallery gallery;	/* names and vectors from the store */
	struct visid_gallery *matcher;		/* the same vectors, ready to match */
};

void app_init(struct app *app);
/*
 * No core file, and no attaching by a debugger of the same user, for a
 * process that holds frames, face crops and vectors of people who never
 * agreed to be enrolled: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 (which also
 * makes its /proc files root's). app_open does it for every command that
 * runs the face pipeline. 0, or -errno with the failing call printed.
 */
int app_no_core_dumps(void);
/* Handles a common option; 1 when it was one, 0 if not, -1 on a bad value. */
int app_option(struct app *app, int opt, const char *arg);
int app_open(struct app *app, unsigned needs);
void app_close(struct app *app);

/* (Re)loads the gallery's vectors for matching. */
int app_load_gallery(struct app *app);
void app_match(struct app *app, const float vec[VISID_EMBED_DIM], struct app_match *out);
const char *app_member_name(const struct app *app, int member);

/*
 * Embeds the largest face of encoded image bytes: how stored enrollment
 * images become vectors, at enrollment and again after a model change.
 * ctx is the struct app.
 */
int app_embed_image_bytes(void *ctx, const uint8_t *bytes, size_t len,
			  float vec[VISID_EMBED_DIM]);

/*
 * The camera to use when none is given: the configured one, else the first
 * V4L2 capture device. NULL, with the reason printed, when there is none.
 */
const char *app_camera(struct app *app, char *buf, size_t len);

/* Crops the face with a margin and encodes it as PNG: what enrollment stores. */
int app_face_crop_png(const struct visid_image *img, const struct visid_face *face,
		      uint8_t **png, size_t *len);

#endif
