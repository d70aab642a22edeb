/*
 * Hardware abstraction: where frames come from (a camera, or files standing
 * in for one) and where the composed picture goes (a DRM/KMS display, or PNG
 * snapshots on a headless machine), plus the drawing that composes it.
 *
 * Every call returns 0 or a negative errno code and logs what failed on which
 * device or file; nothing here aborts.
 */
#ifndef VISID_HAL_H
#define VISID_HAL_H

#include <stdint.h>

#include "visid/image.h"

/* ---- frame sources ---------------------------------------------------- */

enum visid_source_kind {
	VISID_SOURCE_IMAGE, /* one image file (JPEG, PNG, PGM), given once or repeated */
	VISID_SOURCE_DIR,   /* the image files of a directory, in name order */
	VISID_SOURCE_Y4M,   /* a YUV4MPEG2 stream, 4:2:0 only, as NV12 frames */
	VISID_SOURCE_V4L2,  /* a V4L2 capture device */
	VISID_SOURCE_VIDEO, /* a video file through FFmpeg: NV12 or RGB24 frames */
};

enum visid_v4l2_io {
	VISID_V4L2_IO_MMAP,   /* driver buffers mapped here, exported as dmabufs when possible */
	VISID_V4L2_IO_DMABUF, /* capture into dmabufs given by the caller or a dma-heap */
};

struct visid_source_options {
	int width, height; /* camera: wanted size; 0 means 640x480 */
	int fps;	   /* camera: wanted rate; 0 means 30 */
	int loop;	   /* files: start again after the last frame */
	int repeat;	   /* image file: how many frames to give (0: 1, or forever with loop) */
	/*
	 * Camera: the raw format to prefer (VISID_FMT_YUYV or VISID_FMT_NV12),
	 * or -1 to let visid pick. MJPEG is used (decoded to RGB24) only when no
	 * raw format reaches the wanted rate at the wanted size.
	 */
	int format;
	int buffers; /* camera: buffers in the queue, at least 3; 0 means 4 */
	enum visid_v4l2_io io;
	const int *dmabuf_fds; /* VISID_V4L2_IO_DMABUF: one fd per buffer (NULL: allocate) */
	int n_dmabuf_fds;
	int stall_ms;	   /* camera: restart the stream after this long without a frame
			    * (0 means 2000, -1 never) */
	int reopen_max_ms; /* camera: longest wait between reopen tries of a vanished device
			    * (0 means 5000) */
	uint32_t fourcc;   /* camera: this exact V4L2 pixel format (e.g. NV12M, MJPG), 0: choose */
	int bytesperline;  /* camera: ask for rows this long (0: the driver's choice) */
	/*
	 * Camera: give every captured frame in order. 0 (the default): give
	 * the newest frame waiting and requeue the older ones unseen, so a
	 * slow consumer works on what the camera sees now (stats.stale).
	 */
	int every_frame;
};

/* Defaults for every field (format -1, the rest 0). */
void visid_source_options_init(struct visid_source_options *opt);

struct visid_frame {
	struct visid_image image; /* owned by the source, valid until the next call */
	uint64_t sequence;	  /* counts frames given, from 0 */
	uint64_t timestamp_ns;	  /* CLOCK_MONOTONIC when captured or read */
	/* Camera buffers as dmabufs, -1 when there is none; owned by the source. */
	int dmabuf_fd[2];	   /* plane 0, and chroma (NV12: same fd, at an offset) */
	uint32_t dmabuf_offset[2]; /* where the plane starts in that dmabuf */
};

struct visid_source;

/*
 * Opens a source from a spec string:
 *   image:PATH  dir:PATH  y4m:PATH  video:PATH  v4l2:/dev/videoN
 * or a bare PATH, classified by what it is: a directory, a character device
 * (camera), a name ending in .y4m, a video file (.mp4 .mkv .webm .mov .avi
 * .m4v), otherwise an image file. opt may be NULL. Video files need a build
 * with FFmpeg's libraries; without them opening one fails with -ENOTSUP.
 */
int visid_source_open(const char *spec, const struct visid_source_options *opt,
		      struct visid_source **out);

/*
 * Waits up to timeout_ms (-1: no limit) for the next frame. Returns 0 with
 * *frame filled, -EAGAIN on timeout, -ENODATA after the last frame of a finite
 * source, other -errno when the source failed for good. A camera that stalls
 * or vanishes is restarted or reopened within this call; until it is back the
 * call returns -EAGAIN.
 */
int visid_source_next(struct visid_source *src, struct visid_frame *frame, int timeout_ms);

void visid_source_close(struct visid_source *src);

enum visid_source_kind visid_source_kind(const struct visid_source *src);
/* The path it reads, for messages. */
const char *visid_source_name(const struct visid_source *src);

/* ---- V4L2 cameras ----------------------------------------------------- */

struct visid_v4l2_frame_size {
	uint32_t width, height;
	float max_fps; /* highest rate the device lists for this size, 0 if unknown */
};

struct visid_v4l2_format {
	uint32_t fourcc;
	char name[32]; /* the driver's description */
	int compressed;
	int n_sizes;
	struct visid_v4l2_frame_size *sizes;
};

struct visid_v4l2_control {
	uint32_t id;
	char name[32];
	uint32_t type; /* V4L2_CTRL_TYPE_* */
	int64_t minimum, maximum, step, default_value, value;
};

struct visid_v4l2_info {
	char path[64];
	char driver[16];
	char card[32];
	char bus[32];
	uint32_t capabilities; /* device_caps */
	int multiplanar;       /* capture through the multi-planar API */
	int n_formats;
	struct visid_v4l2_format *formats;
	int n_controls;
	struct visid_v4l2_control *controls;
};

/*
 * Lists the video capture devices under /dev (video0, video1, ...) into
 * paths; returns how many were found (may exceed max) or -errno.
 */
int visid_v4l2_list(char (*paths)[64], int max);
/* Formats, sizes, rates and controls of one device. */
int visid_v4l2_query(const char *path, struct visid_v4l2_info *info);
void visid_v4l2_info_free(struct visid_v4l2_info *info);

struct visid_v4l2_stats {
	uint64_t frames;   /* frames given */
	uint64_t dropped;  /* buffers the driver flagged as bad, or short */
	uint64_t stale;	   /* frames passed over for a newer one (latest frame wins) */
	unsigned restarts; /* streams restarted after a stall or a queue error */
	unsigned reopens;  /* device reopened after it vanished */
	uint32_t fourcc;   /* negotiated pixel format (MJPEG when decoding) */
	int width, height;
	int bytesperline; /* as the driver set it */
	int multiplanar;
	int n_buffers;
	enum visid_v4l2_io io;
	int exported; /* buffers are available as dmabufs */
};

struct visid_v4l2;

/* The camera behind a V4L2 source, NULL for the other kinds. */
struct visid_v4l2 *visid_source_camera(struct visid_source *src);
int visid_v4l2_get_stats(const struct visid_v4l2 *cam, struct visid_v4l2_stats *stats);
/* Sets a control by id (e.g. the test driver's error injection). */
int visid_v4l2_set_control(struct visid_v4l2 *cam, uint32_t id, int64_t value);
/* Finds a control id by its name as the driver spells it; -ENOENT if none. */
int visid_v4l2_find_control(struct visid_v4l2 *cam, const char *name, uint32_t *id);

/* ---- screens ---------------------------------------------------------- */

enum visid_screen_kind {
	VISID_SCREEN_PNG, /* headless: PNG snapshots into a directory */
	VISID_SCREEN_DRM, /* a DRM/KMS display */
};

struct visid_screen_options {
	int width, height; /* headless size; 0 means 1280x720 (DRM uses the preferred mode) */
	int every;	   /* headless: write every Nth presented picture (0: every one) */
	int legacy_kms;	   /* DRM: SetCrtc and PageFlip even where atomic commits work */
};

struct visid_screen_info {
	char device[64];    /* the card or the snapshot directory */
	char connector[32]; /* DRM: e.g. "HDMI-A-1" */
	int width, height;
	int refresh_hz; /* DRM: of the mode in use */
	int atomic;	/* DRM: atomic commits, else the legacy ioctls */
};

struct visid_screen;

/*
 * Opens a screen from a spec string:
 *   png:DIR            snapshots DIR/frame-000000.png, ... (the directory is created)
 *   drm                the first card with a connected display
 *   drm:/dev/dri/cardN that card
 * A bare path is a snapshot directory. opt may be NULL.
 */
int visid_screen_open(const char *spec, const struct visid_screen_options *opt,
		      struct visid_screen **out);

enum visid_screen_kind visid_screen_kind(const struct visid_screen *scr);
void visid_screen_size(const struct visid_screen *scr, int *width, int *height);

/*
 * The picture to draw the next frame into: XRGB8888 at the screen's size.
 * On DRM it is the buffer not being scanned out; after visid_screen_present
 * it must not be touched.
 */
int visid_screen_canvas(struct visid_screen *scr, struct visid_image *canvas);
/*
 * Shows the canvas: a page flip on DRM (waiting for the previous flip to
 * complete first), a PNG file when headless.
 */
int visid_screen_present(struct visid_screen *scr);
int visid_screen_get_info(const struct visid_screen *scr, struct visid_screen_info *info);
/* Pictures presented so far. */
uint64_t visid_screen_presented(const struct visid_screen *scr);
/* Restores what the display showed before, and frees everything. */
void visid_screen_close(struct visid_screen *scr);

/* DRM cards for the probe: card paths with at least one connector. */
int visid_drm_list(char (*paths)[64], int max);

/* ---- composing the picture -------------------------------------------- */

struct visid_overlay_face {
	float box[4];	   /* x0, y0, x1, y1 in frame pixels */
	uint32_t color;	   /* 0xRRGGBB */
	const char *label; /* drawn under the box, or NULL */
};

struct visid_overlay_scene {
	const struct visid_image *frame; /* any format; scaled to fit, aspect kept */
	const struct visid_overlay_face *faces;
	int n_faces;
	const struct visid_image *avatar; /* any format, upper right; or NULL */
	const char *text;		  /* "Hello, NAME", "Looking for NAME"...; NULL for none */
};

struct visid_overlay;

/* font: a TrueType file; NULL means $VISID_FONT, else DejaVuSans. */
int visid_overlay_create(const char *font, struct visid_overlay **out);
void visid_overlay_destroy(struct visid_overlay *ov);

/*
 * Draws the scene onto canvas (XRGB8888, RGB24 or BGR24): black bars around
 * the frame, face boxes mapped onto the scaled frame, and in the upper right
 * the avatar with the text beside it on a dark panel.
 */
int visid_overlay_draw(struct visid_overlay *ov, const struct visid_overlay_scene *scene,
		       struct visid_image *canvas);

/* Building blocks, also used by the enrollment screens. */
void visid_draw_fill(struct visid_image *canvas, int x, int y, int w, int h, uint32_t rgb);
void visid_draw_rect(struct visid_image *canvas, int x, int y, int w, int h, int thickness,
		     uint32_t rgb);
/* Scales src (any format) into the rectangle with bilinear filtering. */
int visid_draw_image(struct visid_image *canvas, const struct visid_image *src, int x, int y, int w,
		     int h);
/*
 * Text with its baseline at y, pixel height px, blended over the canvas.
 * Returns the advance width in pixels, or -errno.
 */
int visid_draw_text(struct visid_overlay *ov, struct visid_image *canvas, int x, int y, int px,
		    const char *utf8, uint32_t rgb);
/* Width and height (ascent + descent) of the text at px without drawing it. */
int visid_text_extent(struct visid_overlay *ov, const char *utf8, int px, int *width, int *height);

#endif
