/*
 * Screens: the spec string is resolved to a backend here, and the headless
 * backend lives here: each presented picture (or every Nth) is written as a
 * PNG file, so a machine without a display still shows what it would show.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hal_priv.h"
#include "visid/log.h"

#define DEFAULT_WIDTH  1280
#define DEFAULT_HEIGHT 720
#define MAX_SIDE       8192

struct png_screen {
	char *dir;
	struct visid_image canvas;
};

/* mkdir -p, for the snapshot directory. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	len = strlen(buf);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != 0)
			continue;
		buf[i] = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		buf[i] = i < len ? '/' : 0;
	}
	return 0;
}

static int png_canvas(struct visid_screen *scr, struct visid_image *canvas)
{
	struct png_screen *s = scr->priv;

	*canvas = s->canvas;
	canvas->owned = NULL;
	return 0;
}

/* Writes all of a picture's bytes to a new file, readable by the owner only (faces). */
static int write_file(const char *path, const uint8_t *bytes, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ret = 0;

	if (fd < 0)
		return -errno;
	while (len && !ret) {
		ssize_t n = write(fd, bytes, len);

		if (n < 0 && errno != EINTR)
			ret = -errno;
		else if (n == 0)
			ret = -EIO;
		else if (n > 0) {
			bytes += n;
			len -= (size_t)n;
		}
	}
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		unlink(path);
	return ret;
}

static int png_present(struct visid_screen *scr)
{
	struct png_screen *s = scr->priv;
	char path[PATH_MAX];
	int every = scr->opt.every > 0 ? scr->opt.every : 1;
	uint8_t *png;
	size_t len;
	int ret;

	if (scr->presented % every)
		return 0;
	snprintf(path, sizeof(path), "%s/frame-%06llu.png", s->dir,
		 (unsigned long long)(scr->presented / every));
	ret = visid_image_encode_png(&s->canvas, &png, &len);
	if (ret) {
		screen_fail(scr, "png screen %s: cannot encode the picture: %s", s->dir,
			    strerror(-ret));
		return ret;
	}
	ret = write_file(path, png, len);
	if (ret)
		screen_fail(scr, "png screen: cannot write %s: %s", path, strerror(-ret));
	explicit_bzero(png, len);
	free(png);
	return ret;
}

static void png_close(struct visid_screen *scr)
{
	struct png_screen *s = scr->priv;

	/* The last picture shown, camera frame included. */
	visid_image_wipe(&s->canvas);
	visid_image_free(&s->canvas);
	free(s->dir);
	free(s);
}

static void png_info(const struct visid_screen *scr, struct visid_screen_info *info)
{
	const struct png_screen *s = scr->priv;

	snprintf(info->device, sizeof(info->device), "%s", s->dir);
}

static const struct screen_ops png_ops = {png_canvas, png_present, png_close, png_info};

int screen_png_open(struct visid_screen *scr, const char *dir)
{
	struct png_screen *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	scr->width = scr->opt.width > 0 ? scr->opt.width : DEFAULT_WIDTH;
	scr->height = scr->opt.height > 0 ? scr->opt.height : DEFAULT_HEIGHT;
	if (scr->width > MAX_SIDE || scr->height > MAX_SIDE) {
		visid_err("png screen %s: %dx%d is larger than %d pixels a side", dir, scr->width,
			  scr->height, MAX_SIDE);
		ret = -EINVAL;
		goto out_free_screen;
	}
	ret = make_dirs(dir);
	if (ret) {
		visid_err("png screen %s: cannot create the directory: %s", dir, strerror(-ret));
		goto out_free_screen;
	}
	s->dir = strdup(dir);
	if (!s->dir) {
		ret = -ENOMEM;
		goto out_free_screen;
	}
	ret = visid_image_alloc(&s->canvas, scr->width, scr->height, VISID_FMT_XRGB8888);
	if (ret)
		goto out_free_dir;
	scr->priv = s;
	scr->ops = &png_ops;
	return 0;

out_free_dir:
	free(s->dir);
out_free_screen:
	free(s);
	return ret;
}

int visid_screen_open(const char *spec, const struct visid_screen_options *opt,
		      struct visid_screen **out)
{
	struct visid_screen *scr;
	int ret;

	*out = NULL;
	if (!spec || !*spec) {
		visid_err("screen: empty spec");
		return -EINVAL;
	}
	scr = calloc(1, sizeof(*scr));
	if (!scr)
		return -ENOMEM;
	if (opt)
		scr->opt = *opt;
	scr->name = strdup(spec);
	if (!scr->name) {
		ret = -ENOMEM;
		goto out_free_screen;
	}

	if (!strcmp(spec, "drm")) {
		scr->kind = VISID_SCREEN_DRM;
		ret = screen_drm_open(scr, NULL);
	} else if (!strncmp(spec, "drm:", 4)) {
		scr->kind = VISID_SCREEN_DRM;
		ret = screen_drm_open(scr, spec + 4);
	} else {
		scr->kind = VISID_SCREEN_PNG;
		ret = screen_png_open(scr, !strncmp(spec, "png:", 4) ? spec + 4 : spec);
	}
	if (ret)
		goto out_free_name;
	*out = scr;
	return 0;

out_free_name:
	free(scr->name);
out_free_screen:
	free(scr);
	return ret;
}

enum visid_screen_kind visid_screen_kind(const struct visid_screen *scr)
{
	return scr->kind;
}

void visid_screen_size(const struct visid_screen *scr, int *width, int *height)
{
	*width = scr->width;
	*height = scr->height;
}

void screen_fail(const struct visid_screen *scr, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	visid_log(scr->failing ? VISID_LOG_DEBUG : VISID_LOG_ERROR, "%s", msg);
}

/* One more picture not shown: 1, 10, 100, ... in a row are worth a line. */
static void count_failure(struct visid_screen *scr)
{
	uint64_t n = ++scr->failing;

	while (n >= 10 && n % 10 == 0)
		n /= 10;
	if (n == 1 && scr->failing > 1)
		visid_warn("screen %s: %llu pictures in a row not shown", scr->name,
			   (unsigned long long)scr->failing);
}

int visid_screen_canvas(struct visid_screen *scr, struct visid_image *canvas)
{
	int ret = scr->ops->canvas(scr, canvas);

	/* The caller shows nothing this time; present is not called. */
	if (ret)
		count_failure(scr);
	return ret;
}

int visid_screen_present(struct visid_screen *scr)
{
	int ret = scr->ops->present(scr);

	if (ret) {
		count_failure(scr);
		return ret;
	}
	if (scr->failing)
		visid_warn("screen %s: showing pictures again after %llu not shown", scr->name,
			   (unsigned long long)scr->failing);
	scr->failing = 0;
	scr->presented++;
	return 0;
}

int visid_screen_get_info(const struct visid_screen *scr, struct visid_screen_info *info)
{
	memset(info, 0, sizeof(*info));
	info->width = scr->width;
	info->height = scr->height;
	scr->ops->info(scr, info);
	return 0;
}

uint64_t visid_screen_presented(const struct visid_screen *scr)
{
	return scr->presented;
}

void visid_screen_close(struct visid_screen *scr)
{
	if (!scr)
		return;
	scr->ops->close(scr);
	free(scr->name);
	free(scr);
}
