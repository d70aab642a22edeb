/*
 * Images and camera frames in memory, and reading/writing image files
 * (JPEG through libjpeg-turbo, PNG through libpng, binary PGM).
 */
#ifndef VISID_IMAGE_H
#define VISID_IMAGE_H

#include <stddef.h>
#include <stdint.h>

enum visid_pixel_format {
	VISID_FMT_RGB24,	/* R, G, B bytes */
	VISID_FMT_BGR24,
	VISID_FMT_XRGB8888,	/* little-endian 32-bit: B, G, R, X bytes (DRM XRGB8888) */
	VISID_FMT_YUYV,		/* packed 4:2:2, Y0 U Y1 V */
	VISID_FMT_NV12,		/* Y plane, then interleaved U V plane at half resolution */
	VISID_FMT_GREY,
};

struct visid_image {
	int width, height;
	enum visid_pixel_format format;
	int stride;		/* bytes per row of plane 0; never assume width x bpp */
	uint8_t *data;		/* plane 0 */
	int uv_stride;		/* NV12 only */
	uint8_t *uv;		/* NV12 only: the chroma plane */
	void *owned;		/* non-NULL when visid_image_free must release memory */
};

const char *visid_pixel_format_name(enum visid_pixel_format format);

/* Allocates a zeroed image with a tight stride (rows aligned to 4 bytes). */
int visid_image_alloc(struct visid_image *img, int width, int height,
		      enum visid_pixel_format format);
void visid_image_free(struct visid_image *img);
/*
 * Zeroes the pixels of both planes in a way the compiler keeps
 * (explicit_bzero), for frames that must not outlive their use; the
 * memory stays the image's. An image without pixels is left alone.
 */
void visid_image_wipe(struct visid_image *img);

/* JPEG, PNG (grey, RGB, RGBA, 16-bit) or PGM P5 into RGB24. */
int visid_image_load(const char *path, struct visid_image *out);
int visid_image_decode(const uint8_t *bytes, size_t len, const char *what,
		       struct visid_image *out);
int visid_image_save_png(const struct visid_image *img, const char *path);
/* Encodes to PNG in memory (caller frees *bytes). */
int visid_image_encode_png(const struct visid_image *img, uint8_t **bytes, size_t *len);

/* Any format to RGB24 (BT.601 limited range for YUV). */
int visid_image_to_rgb24(const struct visid_image *src, struct visid_image *dst);

#endif
