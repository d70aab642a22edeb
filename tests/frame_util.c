/* Camera-format frames from real photos (frame_util.h). */
#include <string.h>

#include "frame_util.h"

size_t vt_row_bytes(enum visid_pixel_format format, int width)
{
	switch (format) {
	case VISID_FMT_RGB24:
	case VISID_FMT_BGR24:
		return 3 * (size_t)width;
	case VISID_FMT_XRGB8888:
		return 4 * (size_t)width;
	case VISID_FMT_YUYV:
		return 2 * (size_t)((width + 1) & ~1);
	case VISID_FMT_NV12:
	case VISID_FMT_GREY:
		return (size_t)width;
	}
	return 0;
}

size_t vt_plane_bytes(const struct visid_image *img, int plane)
{
	if (plane)
		return (size_t)img->uv_stride * ((img->height + 1) / 2 - 1) +
		       ((img->width + 1) & ~1);
	return (size_t)img->stride * (img->height - 1) + vt_row_bytes(img->format, img->width);
}

static uint8_t clamp_byte(double v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)(v + 0.5);
}

static void rgb_to_yuv(const uint8_t *rgb, uint8_t *y, uint8_t *u, uint8_t *v)
{
	double r = rgb[0], g = rgb[1], b = rgb[2];

	*y = clamp_byte(16 + 0.257 * r + 0.504 * g + 0.098 * b);
	*u = clamp_byte(128 - 0.148 * r - 0.291 * g + 0.439 * b);
	*v = clamp_byte(128 + 0.439 * r - 0.368 * g - 0.071 * b);
}

static void fill_pixel(struct visid_image *dst, int x, int y, const uint8_t *p)
{
	uint8_t *row = dst->data + (size_t)y * dst->stride, yy, u, v;

	rgb_to_yuv(p, &yy, &u, &v);
	switch (dst->format) {
	case VISID_FMT_RGB24:
		memcpy(row + 3 * x, p, 3);
		break;
	case VISID_FMT_BGR24:
		row[3 * x] = p[2], row[3 * x + 1] = p[1], row[3 * x + 2] = p[0];
		break;
	case VISID_FMT_XRGB8888:
		row[4 * x] = p[2], row[4 * x + 1] = p[1], row[4 * x + 2] = p[0];
		row[4 * x + 3] = 0x5a;
		break;
	case VISID_FMT_YUYV:
		/* Y0 U Y1 V: chroma from the even pixel (U) and the odd one (V). */
		row[2 * x] = yy;
		row[4 * (x >> 1) + (x & 1 ? 3 : 1)] = x & 1 ? v : u;
		if (x == dst->width - 1 && !(x & 1))
			row[4 * (x >> 1) + 3] = v;
		break;
	case VISID_FMT_NV12:
		row[x] = yy;
		if (!(y & 1) && !(x & 1)) {
			uint8_t *c = dst->uv + (size_t)(y >> 1) * dst->uv_stride + x;

			c[0] = u;
			c[1] = v;
		}
		break;
	case VISID_FMT_GREY:
		row[x] = yy;
		break;
	}
}

void vt_frame_fill(const struct visid_image *src, int x0, int y0, struct visid_image *dst)
{
	for (int y = 0; y < dst->height; y++)
		for (int x = 0; x < dst->width; x++)
			fill_pixel(dst, x, y,
				   src->data + (size_t)(y0 + y) * src->stride +
				       3 * (size_t)(x0 + x));
}
