/* Set-up shared by the visid commands, and matching against the gallery. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "app.h"
#include "visid/log.h"
#include "visid/hal.h"
#include "visid/match.h"

void app_init(struct app *app)
{
	memset(app, 0, sizeof(*app));
	visid_config_defaults(&app->cfg);
	app->config_path = VISID_CONFIG_DEFAULT;
	if (getenv("VISID_CONFIG")) {
		app->config_path = getenv("VISID_CONFIG");
		app->config_required = 1;
	}
}

static int set_string(char *field, size_t size, const char *arg, const char *what)
{
	if (strlen(arg) >= size) {
		fprintf(stderr, "visid: %s '%s' is too long\n", what, arg);
		return -1;
	}
	strcpy(field, arg);
	return 1;
}

/*
 * Options are applied after the file is read, so they are kept aside: the
 * file is loaded in app_open and the remembered values win over it.
 */
static struct {
	const char *state_dir, *model_dir, *backend, *device;
	float threshold;
} overrides;

int app_option(struct app *app, int opt, const char *arg)
{
	char *end;

	switch (opt) {
	case APP_OPT_CONFIG:
		app->config_path = arg;
		app->config_required = 1;
		return 1;
	case APP_OPT_STATE_DIR:
		overrides.state_dir = arg;
		return 1;
	case APP_OPT_MODEL_DIR:
		overrides.model_dir = arg;
		return 1;
	case APP_OPT_BACKEND:
		if (strcmp(arg, "cpu") && strcmp(arg, "vulkan")) {
			fprintf(stderr, "visid: --backend must be cpu or vulkan, not '%s'\n", arg);
			return -1;
		}
		overrides.backend = arg;
		return 1;
	case APP_OPT_DEVICE:
		overrides.device = arg;
		return 1;
	case APP_OPT_VERBOSE:
		visid_log_set_level(visid_log_get_level() >= VISID_LOG_INFO ? VISID_LOG_DEBUG
									  : VISID_LOG_INFO);
		return 1;
	case APP_OPT_THRESHOLD:
		overrides.threshold = strtof(arg, &end);
		if (end == arg || *end ||
		    !(overrides.threshold >= -1 && overrides.threshold <= 1)) {
			fprintf(stderr, "visid: --threshold must be a number in [-1, 1]\n");
			return -1;
		}
		app->threshold_set = 1;
		return 1;
	}
	return 0;
}

static int apply_overrides(struct app *app)
{
	struct visid_config *c = &app->cfg;

	if (overrides.state_dir &&
	    set_string(c->state_dir, sizeof(c->state_dir), overrides.state_dir, "state dir") < 0)
		return -EINVAL;
	if (overrides.model_dir &&
	    set_string(c->model_dir, sizeof(c->model_dir), overrides.model_dir, "model dir") < 0)
		return -EINVAL;
	if (overrides.backend)
		strcpy(c->backend, overrides.backend);
	if (overrides.device &&
	    set_string(c->gpu_device, sizeof(c->gpu_device), overrides.device, "device") < 0)
		return -EINVAL;
	if (app->threshold_set)
		c->match_threshold = overrides.threshold;
	return 0;
}

/* Vulkan unless asked otherwise; a device that cannot start means the CPU. */
static int open_pipeline(struct app *app)
{
	struct visid_face_options fopt = { 0 };
	int ret;

	fopt.model_dir = app->cfg.model_dir;
	fopt.backend = VISID_BACKEND_CPU;
	if (!strcmp(app->cfg.backend, "vulkan")) {
		struct visid_gpu_options gopt = { 0 };

		gopt.device = app->cfg.gpu_device[0] ? app->cfg.gpu_device : NULL;
		ret = visid_gpu_create(&gopt, &app->gpu);
		if (ret) {
			visid_warn("no usable Vulkan device (%s): using the CPU backend",
				   strerror(-ret));
		} else {
			fopt.backend = VISID_BACKEND_VULKAN;
			fopt.gpu = app->gpu;
		}
	}
	ret = visid_face_pipeline_create(&fopt, &app->pipe);
	if (ret)
		fprintf(stderr, "visid: cannot start the face pipeline (models in %s): %s\n",
			app->cfg.model_dir, strerror(-ret));
	return ret;
}

/*
 * The store's re-vectorisation hook, and enrollment's: the face at the
 * centre of a stored crop (app_face_crop_png centres the enrolled face; a
 * neighbour may show at the edge).
 */
int app_embed_image_bytes(void *ctx, const uint8_t *bytes, size_t len,
			  float vec[VISID_EMBED_DIM])
{
	struct app *app = ctx;
	struct visid_face faces[8];
	struct visid_image img;
	int ret, n, best = 0;
	float best_d = 0;

	ret = visid_image_decode(bytes, len, "stored enrollment image", &img);
	if (ret)
		return ret;
	n = visid_face_detect(app->pipe, &img, faces, 8);
	for (int i = 0; i < n; i++) {
		float dx = (faces[i].box[0] + faces[i].box[2] - img.width) / 2;
		float dy = (faces[i].box[1] + faces[i].box[3] - img.height) / 2;

		if (i == 0 || dx * dx + dy * dy < best_d) {
			best_d = dx * dx + dy * dy;
			best = i;
		}
	}
	ret = n < 0 ? n : n == 0 ? -ENOENT : visid_face_embed(app->pipe, &img, &faces[best], vec);
	explicit_bzero(img.data, (size_t)img.stride * img.height);
	visid_image_free(&img);
	return ret;
}

static void report_progress(void *ctx, int done, int total)
{
	fprintf(stderr, "visid: recomputing face vectors for the new model: %d of %d\n", done,
		total);
}

static int open_store(struct app *app, unsigned needs)
{
	struct visid_store_options sopt = { 0 };
	int ret;

	sopt.dir = app->cfg.state_dir;
	sopt.expiry_seconds = (int64_t)app->cfg.expiry_days * 86400;
	if (needs & APP_STORE_CREATE)
		sopt.flags |= VISID_STORE_CREATE;
	if (!(needs & (APP_STORE_WRITE | APP_STORE_CREATE)))
		sopt.flags |= VISID_STORE_READ_ONLY;
	if (app->pipe) {
		sopt.model_id = visid_face_model_id(app->pipe);
		sopt.embed = app_embed_image_bytes;
		sopt.embed_ctx = app;
		sopt.progress = report_progress;
	}
	ret = visid_store_open(&sopt, &app->store);
	if (ret == -ESTALE && (sopt.flags & VISID_STORE_READ_ONLY)) {
		/* The model changed: recompute once, then read as asked. */
		sopt.flags &= ~VISID_STORE_READ_ONLY;
		ret = visid_store_open(&sopt, &app->store);
		if (!ret) {
			visid_store_close(app->store);
			sopt.flags |= VISID_STORE_READ_ONLY;
			ret = visid_store_open(&sopt, &app->store);
		}
	}
	if (ret == -ENOENT && !(needs & APP_STORE_CREATE)) {
		fprintf(stderr, "visid: no gallery in %s yet: enroll someone first\n",
			app->cfg.state_dir);
	} else if (ret) {
		fprintf(stderr, "visid: cannot open the gallery in %s: %s\n", app->cfg.state_dir,
			strerror(-ret));
	}
	return ret;
}

int app_no_core_dumps(void)
{
	struct rlimit none = { 0, 0 };
	int ret;

	if (setrlimit(RLIMIT_CORE, &none)) {
		ret = -errno;
		fprintf(stderr, "visid: cannot turn core dumps off: setrlimit(RLIMIT_CORE, 0): %s\n",
			strerror(errno));
		return ret;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		ret = -errno;
		fprintf(stderr, "visid: cannot turn core dumps off: prctl(PR_SET_DUMPABLE, 0): "
			"%s\n", strerror(errno));
		return ret;
	}
	return 0;
}

int app_open(struct app *app, unsigned needs)
{
	int ret;

	ret = visid_config_load(&app->cfg, app->config_path, app->config_required);
	if (ret)
		return ret;
	visid_config_apply_env(&app->cfg);
	ret = apply_overrides(app);
	if (ret)
		return ret;
	if (strcmp(app->cfg.backend, "cpu") && strcmp(app->cfg.backend, "vulkan")) {
		fprintf(stderr, "visid: backend '%s' (from %s) is neither cpu nor vulkan\n",
			app->cfg.backend, getenv("VISID_BACKEND") ? "$VISID_BACKEND" :
			app->config_path);
		return -EINVAL;
	}
	if (needs & APP_PIPELINE) {
		ret = app_no_core_dumps();
		if (!ret)
			ret = open_pipeline(app);
		if (ret)
			return ret;
	}
	if (needs & (APP_STORE | APP_STORE_WRITE | APP_STORE_CREATE))
		return open_store(app, needs);
	return 0;
}

void app_close(struct app *app)
{
	if (app->matcher)
		visid_gallery_destroy(app->matcher);
	app->matcher = NULL;
	visid_store_gallery_wipe(&app->gallery);
	if (app->store)
		visid_store_close(app->store);
	if (app->pipe)
		visid_face_pipeline_destroy(app->pipe);
	if (app->gpu)
		visid_gpu_destroy(app->gpu);
	app->store = NULL;
	app->pipe = NULL;
	app->gpu = NULL;
}

int app_load_gallery(struct app *app)
{
	int ret;

	if (app->matcher) {
		visid_gallery_destroy(app->matcher);
		app->matcher = NULL;
	}
	visid_store_gallery_wipe(&app->gallery);
	ret = visid_store_load_gallery(app->store, &app->gallery);
	if (ret < 0)
		return ret;
	ret = visid_gallery_create(VISID_STORE_MAX_MEMBERS, 0, &app->matcher);
	if (ret)
		return ret;
	for (int i = 0; i < app->gallery.count; i++) {
		struct visid_store_gallery_entry *m = &app->gallery.members[i];
		float vectors[VISID_POSE_COUNT][VISID_EMBED_DIM];
		int n = 0;

		for (int p = 0; p < VISID_POSE_COUNT; p++)
			if (m->slots & VISID_STORE_SLOT_BIT(p))
				memcpy(vectors[n++], m->vectors[p], sizeof(vectors[0]));
		ret = n ? visid_gallery_set(app->matcher, (uint64_t)i, vectors[0], n) : 0;
		explicit_bzero(vectors, sizeof(vectors));
		if (ret) {
			visid_err("member '%s': cannot add its vectors for matching: %s", m->name,
				  strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void app_match(struct app *app, const float vec[VISID_EMBED_DIM], struct app_match *out)
{
	struct visid_match m;

	out->member = out->best = -1;
	out->similarity = -1;
	out->margin = 0;
	if (!app->matcher || visid_gallery_match(app->matcher, vec, app->cfg.match_threshold, &m))
		return;
	if (m.member < 0)
		return;
	out->best = (int)m.id;
	out->similarity = m.score;
	out->margin = m.second < 0 ? NAN : m.margin;
	/* A near tie between two members is not evidence for either. */
	if (m.accepted && (m.second < 0 || m.margin >= app->cfg.match_margin))
		out->member = (int)m.id;
}

const char *app_member_name(const struct app *app, int member)
{
	if (member < 0 || member >= app->gallery.count)
		return NULL;
	return app->gallery.members[member].name;
}

/*
 * The stored crop is a square three times the face's size, black where it
 * leaves the image, at most CROP_MAX_SIDE pixels: the detector that finds
 * the face again later works best when the face fills about a third of the
 * picture, and a bounded size keeps each record small.
 */
#define CROP_MAX_SIDE 480

int app_face_crop_png(const struct visid_image *img, const struct visid_face *face,
		      uint8_t **png, size_t *len)
{
	float w = face->box[2] - face->box[0], h = face->box[3] - face->box[1];
	float side = (w > h ? w : h) * 3.0f;
	float sx = (face->box[0] + face->box[2] - side) / 2;
	float sy = (face->box[1] + face->box[3] - side) / 2;
	int out = side < CROP_MAX_SIDE ? (int)side : CROP_MAX_SIDE;
	float scale = out / side;
	int x0 = sx < 0 ? 0 : (int)sx, y0 = sy < 0 ? 0 : (int)sy;
	int x1 = (int)(sx + side), y1 = (int)(sy + side);
	struct visid_image rgb, crop, region;
	int ret;

	if (!(side >= 8))
		return -EINVAL;
	ret = visid_image_to_rgb24(img, &rgb);
	if (ret)
		return ret;
	x1 = x1 > rgb.width ? rgb.width : x1;
	y1 = y1 > rgb.height ? rgb.height : y1;
	if (x1 - x0 < 2 || y1 - y0 < 2) {
		visid_image_free(&rgb);
		return -EINVAL;
	}
	region = rgb;
	region.owned = NULL;
	region.width = x1 - x0;
	region.height = y1 - y0;
	region.data = rgb.data + (size_t)y0 * rgb.stride + (size_t)x0 * 3;

	ret = visid_image_alloc(&crop, out, out, VISID_FMT_RGB24);
	if (!ret) {
		ret = visid_draw_image(&crop, &region, (int)((x0 - sx) * scale),
				       (int)((y0 - sy) * scale), (int)(region.width * scale + 0.5f),
				       (int)(region.height * scale + 0.5f));
		if (!ret)
			ret = visid_image_encode_png(&crop, png, len);
		explicit_bzero(crop.data, (size_t)crop.stride * crop.height);
		visid_image_free(&crop);
	}
	explicit_bzero(rgb.data, (size_t)rgb.stride * rgb.height);
	visid_image_free(&rgb);
	return ret;
}

const char *app_camera(struct app *app, char *buf, size_t len)
{
	char paths[1][64];
	int n;

	if (app->cfg.camera[0])
		return app->cfg.camera;
	n = visid_v4l2_list(paths, 1);
	if (n <= 0) {
		fprintf(stderr, "visid: no camera found (no V4L2 capture device under /dev); "
			"give one with --source, or a file or directory of images\n");
		return NULL;
	}
	snprintf(buf, len, "v4l2:%s", paths[0]);
	return buf;
}
