/*
 * Frame sources: the spec string is resolved to a backend here, and the
 * two simplest backends live here too: one image file, and a directory of
 * image files taken in name order.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include "hal_priv.h"
#include "visid/log.h"

uint64_t hal_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

int hal_ioctl(int fd, unsigned long request, void *arg)
{
	int ret;

	do
		ret = ioctl(fd, request, arg);
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

void visid_source_options_init(struct visid_source_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->format = -1;
}

/* A decoded picture the source is done with: its pixels go before the memory does. */
static void release_image(struct visid_image *img)
{
	visid_image_wipe(img);
	visid_image_free(img);
}

static void frame_init(struct visid_frame *frame, const struct visid_image *img)
{
	memset(frame, 0, sizeof(*frame));
	frame->image = *img;
	frame->image.owned = NULL; /* the source keeps ownership */
	frame->dmabuf_fd[0] = -1;
	frame->dmabuf_fd[1] = -1;
	frame->timestamp_ns = hal_now_ns();
}

/* ---- one image file --------------------------------------------------- */

struct image_source {
	struct visid_image img;
	uint64_t given;
};

static int image_next(struct visid_source *src, struct visid_frame *frame, int timeout_ms)
{
	struct image_source *s = src->priv;
	uint64_t count = src->opt.repeat > 0 ? (uint64_t)src->opt.repeat : 1;

	if (!src->opt.loop && s->given >= count)
		return -ENODATA;
	s->given++;
	frame_init(frame, &s->img);
	return 0;
}

static void image_close(struct visid_source *src)
{
	struct image_source *s = src->priv;

	/* The one picture is every frame this source gives, so it stays until the end. */
	release_image(&s->img);
	free(s);
}

static const struct source_ops image_ops = {image_next, image_close};

int source_image_open(struct visid_source *src, const char *path)
{
	struct image_source *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = visid_image_load(path, &s->img);
	if (ret) {
		visid_err("image source %s: cannot decode: %s", path, strerror(-ret));
		free(s);
		return ret;
	}
	src->priv = s;
	src->ops = &image_ops;
	return 0;
}

/* ---- a directory of image files ---------------------------------------- */

struct dir_source {
	char **files;
	int n_files;
	int next;
	struct visid_image img;
};

static int has_image_suffix(const char *name)
{
	static const char *const suffixes[] = {".jpg", ".jpeg", ".png", ".pgm"};
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t n = strlen(suffixes[i]);

		if (len > n && !strcasecmp(name + len - n, suffixes[i]))
			return 1;
	}
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_images(const char *path, char ***out, int *count)
{
	DIR *dir = opendir(path);
	struct dirent *de;
	char **files = NULL;
	int n = 0, cap = 0, ret = 0;

	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		char **grown;

		if (de->d_name[0] == '.' || !has_image_suffix(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(files, cap * sizeof(*files));
			if (!grown) {
				ret = -ENOMEM;
				goto out_free_names;
			}
			files = grown;
		}
		if (asprintf(&files[n], "%s/%s", path, de->d_name) < 0) {
			ret = -ENOMEM;
			goto out_free_names;
		}
		n++;
	}
	closedir(dir);
	/* Byte order, not the locale's, so a run is the same on every machine. */
	if (n > 1)
		qsort(files, n, sizeof(*files), compare_names);
	*out = files;
	*count = n;
	return 0;

out_free_names:
	while (n--)
		free(files[n]);
	free(files);
	closedir(dir);
	return ret;
}

static int dir_next(struct visid_source *src, struct visid_frame *frame, int timeout_ms)
{
	struct dir_source *s = src->priv;
	int failed = 0;

	/* Skip files that do not decode, but give up once a whole pass failed. */
	while (failed < s->n_files) {
		const char *file;
		int ret;

		if (s->next >= s->n_files) {
			if (!src->opt.loop)
				return -ENODATA;
			s->next = 0;
		}
		file = s->files[s->next++];
		/* The previous frame was valid until this call. */
		release_image(&s->img);
		ret = visid_image_load(file, &s->img);
		if (!ret) {
			frame_init(frame, &s->img);
			return 0;
		}
		visid_warn("directory source: skipping %s: %s", file, strerror(-ret));
		failed++;
	}
	visid_err("directory source %s: none of its %d image files decodes", src->name, s->n_files);
	return -EIO;
}

static void dir_close(struct visid_source *src)
{
	struct dir_source *s = src->priv;

	for (int i = 0; i < s->n_files; i++)
		free(s->files[i]);
	free(s->files);
	release_image(&s->img);
	free(s);
}

static const struct source_ops dir_ops = {dir_next, dir_close};

int source_dir_open(struct visid_source *src, const char *path)
{
	struct dir_source *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = list_images(path, &s->files, &s->n_files);
	if (ret) {
		visid_err("directory source %s: cannot list: %s", path, strerror(-ret));
		goto out_free_source;
	}
	if (!s->n_files) {
		visid_err("directory source %s: no .jpg, .jpeg, .png or .pgm file in it", path);
		ret = -ENOENT;
		goto out_free_source;
	}
	src->priv = s;
	src->ops = &dir_ops;
	return 0;

out_free_source:
	free(s->files);
	free(s);
	return ret;
}

/* ---- the spec string --------------------------------------------------- */

static const struct {
	const char *prefix;
	enum visid_source_kind kind;
} spec_prefixes[] = {
    {"image:", VISID_SOURCE_IMAGE},
    {"dir:", VISID_SOURCE_DIR},
    {"y4m:", VISID_SOURCE_Y4M},
    {"video:", VISID_SOURCE_VIDEO},
    {"v4l2:", VISID_SOURCE_V4L2},
};

/* Containers FFmpeg reads that cameras and phones record into. */
static int has_video_suffix(const char *path)
{
	static const char *const suffixes[] = {".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v"};
	size_t len = strlen(path);

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t n = strlen(suffixes[i]);

		if (len > n && !strcasecmp(path + len - n, suffixes[i]))
			return 1;
	}
	return 0;
}

/* "word:" before any slash: what a mistyped kind looks like, e.g. "v4l:/dev/video0". */
static size_t kind_like_prefix(const char *spec)
{
	size_t n = strspn(spec, "abcdefghijklmnopqrstuvwxyz0123456789");

	return n && spec[n] == ':' ? n + 1 : 0;
}

static int classify_path(const char *path, enum visid_source_kind *kind)
{
	struct stat st;
	size_t len = strlen(path), prefix;

	if (stat(path, &st)) {
		int ret = -errno;

		prefix = kind_like_prefix(path);
		if (ret == -ENOENT && prefix) {
			visid_err("source %s: unknown kind '%.*s' (image:, dir:, y4m:, video:, "
				  "v4l2:, or a path)", path, (int)prefix, path);
			return -EINVAL;
		}
		visid_err("source %s: %s", path, strerror(errno));
		return ret;
	}
	if (S_ISDIR(st.st_mode))
		*kind = VISID_SOURCE_DIR;
	else if (S_ISCHR(st.st_mode))
		*kind = VISID_SOURCE_V4L2;
	else if (len > 4 && !strcasecmp(path + len - 4, ".y4m"))
		*kind = VISID_SOURCE_Y4M;
	else if (has_video_suffix(path))
		*kind = VISID_SOURCE_VIDEO;
	else
		*kind = VISID_SOURCE_IMAGE;
	return 0;
}

int visid_source_open(const char *spec, const struct visid_source_options *opt,
		      struct visid_source **out)
{
	enum visid_source_kind kind = VISID_SOURCE_IMAGE;
	const char *path = spec;
	struct visid_source *src;
	int ret, found = 0;

	*out = NULL;
	if (!spec || !*spec) {
		visid_err("source: empty spec");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(spec_prefixes) / sizeof(spec_prefixes[0]); i++) {
		size_t n = strlen(spec_prefixes[i].prefix);

		if (!strncmp(spec, spec_prefixes[i].prefix, n)) {
			kind = spec_prefixes[i].kind;
			path = spec + n;
			found = 1;
			break;
		}
	}
	if (!found) {
		ret = classify_path(spec, &kind);
		if (ret)
			return ret;
	}

	src = calloc(1, sizeof(*src));
	if (!src)
		return -ENOMEM;
	src->name = strdup(path);
	if (!src->name) {
		ret = -ENOMEM;
		goto out_free_source;
	}
	if (opt)
		src->opt = *opt;
	else
		visid_source_options_init(&src->opt);
	src->kind = kind;

	switch (kind) {
	case VISID_SOURCE_IMAGE:
		ret = source_image_open(src, path);
		break;
	case VISID_SOURCE_DIR:
		ret = source_dir_open(src, path);
		break;
	case VISID_SOURCE_Y4M:
		ret = source_y4m_open(src, path);
		break;
	case VISID_SOURCE_VIDEO:
		ret = source_video_open(src, path);
		break;
	case VISID_SOURCE_V4L2:
		ret = source_v4l2_open(src, path);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret)
		goto out_free_name;
	*out = src;
	return 0;

out_free_name:
	free(src->name);
out_free_source:
	free(src);
	return ret;
}

int visid_source_next(struct visid_source *src, struct visid_frame *frame, int timeout_ms)
{
	int ret = src->ops->next(src, frame, timeout_ms);

	if (!ret)
		frame->sequence = src->sequence++;
	return ret;
}

void visid_source_close(struct visid_source *src)
{
	if (!src)
		return;
	src->ops->close(src);
	free(src->name);
	free(src);
}

enum visid_source_kind visid_source_kind(const struct visid_source *src)
{
	return src->kind;
}

const char *visid_source_name(const struct visid_source *src)
{
	return src->name;
}
