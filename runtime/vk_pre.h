/*
 * Network inputs made on the GPU: a camera frame (any visid pixel format and
 * stride, read where it lies in device-visible memory) resampled into the
 * NHWC float input of a network by the shaders pre_shrink and pre_sample,
 * following visid_pre_resample's plan exactly (preprocess.h): same affine
 * map, bilinear taps at pixel centres, black outside, area pre-shrink of
 * large downscales, (v - mean) / std.
 *
 * Errors: 0 or a negative errno, logged with the frame and the cause.
 */
#ifndef VISID_VK_PRE_H
#define VISID_VK_PRE_H

#include <stdint.h>

#include "preprocess.h"
#include "visid/image.h"
#include "vk.h"

/* A frame's pixels as the shaders see them. */
struct visid_vk_frame {
	int width, height;
	enum visid_pixel_format format;
	/* Plane 0, and the NV12 chroma plane (the same view for other formats). */
	struct visid_vk_view plane[2];
	uint32_t stride[2]; /* bytes per row */
	uint32_t offset[2]; /* first byte of the plane inside its view */
};

struct visid_vk_pre;

int visid_vk_pre_create(struct visid_gpu *gpu, struct visid_vk_pre **out);
void visid_vk_pre_destroy(struct visid_vk_pre *pre);

/*
 * Resamples the frame by rs into out (rs->out_h x rs->out_w x 3 floats) and
 * waits for it. The frame's memory must not change until this returns.
 */
int visid_vk_pre_run(struct visid_vk_pre *pre, const struct visid_vk_frame *frame,
		     const struct visid_resample *rs, struct visid_vk_view out);

/* Time the shaders of the following runs with GPU timestamps (off by default). */
void visid_vk_pre_set_timing(struct visid_vk_pre *pre, int on);
/* GPU milliseconds of the last run (shrink and sampling), or -1 without timing. */
double visid_vk_pre_last_ms(const struct visid_vk_pre *pre);

#endif
