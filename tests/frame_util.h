/*
 * Camera-format frames made from real photos, for the suites that feed the
 * GPU frames the way a camera gives them: any format, padded strides,
 * buffers the test lays out itself.
 */
#ifndef VISID_TEST_FRAME_UTIL_H
#define VISID_TEST_FRAME_UTIL_H

#include <stddef.h>

#include "visid/image.h"

/* Bytes of pixels in one row of plane 0. */
size_t vt_row_bytes(enum visid_pixel_format format, int width);
/* Bytes of a plane (0, or 1 for NV12 chroma): full strides, the last row up to its end. */
size_t vt_plane_bytes(const struct visid_image *img, int plane);
/*
 * Writes the window at (x0, y0) of an RGB24 photo into dst's pixels, in
 * dst's format; dst's size, strides, data and uv are set by the caller.
 * YUV is BT.601 limited range, the inverse of the library's conversion.
 */
void vt_frame_fill(const struct visid_image *src, int x0, int y0, struct visid_image *dst);

#endif
