/*
 * What the files of hal/ share: the source and screen objects are a kind
 * plus a table of operations, so each backend lives in its own file.
 */
#ifndef VISID_HAL_PRIV_H
#define VISID_HAL_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "visid/hal.h"

struct source_ops {
	int (*next)(struct visid_source *src, struct visid_frame *frame, int timeout_ms);
	void (*close)(struct visid_source *src);
};

struct visid_source {
	enum visid_source_kind kind;
	char *name;
	const struct source_ops *ops;
	void *priv;
	struct visid_source_options opt;
	uint64_t sequence;
};

struct screen_ops {
	int (*canvas)(struct visid_screen *scr, struct visid_image *canvas);
	int (*present)(struct visid_screen *scr);
	void (*close)(struct visid_screen *scr);
	void (*info)(const struct visid_screen *scr, struct visid_screen_info *info);
};

struct visid_screen {
	enum visid_screen_kind kind;
	char *name;
	const struct screen_ops *ops;
	void *priv;
	int width, height;
	uint64_t presented;
	uint64_t failing; /* pictures not shown since the last one that was */
	struct visid_screen_options opt;
};

/*
 * A backend's error while drawing or showing a picture: logged as an error
 * for the first picture that fails, then only at debug level until one is
 * shown again, so a display that went away does not flood the log at the
 * frame rate (visid_screen_present counts and reports the run).
 */
void screen_fail(const struct visid_screen *scr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int source_image_open(struct visid_source *src, const char *path);
int source_dir_open(struct visid_source *src, const char *path);
int source_y4m_open(struct visid_source *src, const char *path);
/* FFmpeg's libraries; without them (built so) an error saying to install them. */
int source_video_open(struct visid_source *src, const char *path);
int source_v4l2_open(struct visid_source *src, const char *path);

/* The open descriptor and path of a camera, for the query functions. */
int hal_v4l2_fd(const struct visid_v4l2 *cam);
const char *hal_v4l2_path(const struct visid_v4l2 *cam);

int screen_png_open(struct visid_screen *scr, const char *dir);
int screen_drm_open(struct visid_screen *scr, const char *card);

uint64_t hal_now_ns(void);

/* A dmabuf of at least size bytes (dma-heap, else udmabuf); fd or -errno. */
int hal_dmabuf_alloc(size_t size, const char *owner);
/* Brackets CPU reads of a dmabuf's mapping (start 1, then 0). */
int hal_dmabuf_sync(int fd, int start);
/* ioctl that retries when a signal interrupts it; 0 (or its result) or -errno. */
int hal_ioctl(int fd, unsigned long request, void *arg);

#endif
