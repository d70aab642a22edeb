/*
 * The preprocessing shaders recorded and run: the plan comes from
 * visid_pre_plan, so the GPU pre-shrinks the same frames by the same factor
 * over the same region as the C reference, then samples with the same map.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "visid/log.h"
#include "vk_pre.h"

#define LOCAL_SIZE 64
#define MAX_GROUPS 65535u
/* The packed RGBX grid of pre_shrink, after the six visid formats. */
#define FMT_RGBX 6

struct frame_params {
	int32_t width, height;
	uint32_t stride, offset, uv_stride, uv_offset;
};

struct sample_params {
	struct frame_params f;
	int32_t out_w, out_h;
	float m[6];
	float mean, std;
};

struct shrink_params {
	struct frame_params f;
	int32_t region_x, region_y, region_w, region_h;
	float sx, sy;
};

struct visid_vk_pre {
	struct visid_gpu *gpu;
	struct visid_vk_seq *seq;
	struct visid_vk_buffer *scratch; /* the shrunk region, grown as needed */
	double last_ms;
};

int visid_vk_pre_create(struct visid_gpu *gpu, struct visid_vk_pre **out)
{
	struct visid_vk_pre *pre;
	int ret;

	*out = NULL;
	pre = calloc(1, sizeof(*pre));
	if (!pre)
		return -ENOMEM;
	pre->gpu = gpu;
	pre->last_ms = -1;
	ret = visid_vk_seq_create(gpu, &pre->seq);
	if (ret) {
		visid_vk_pre_destroy(pre);
		return ret;
	}
	*out = pre;
	return 0;
}

void visid_vk_pre_destroy(struct visid_vk_pre *pre)
{
	if (!pre)
		return;
	visid_vk_seq_destroy(pre->seq);
	visid_vk_buffer_destroy(pre->scratch);
	free(pre);
}

void visid_vk_pre_set_timing(struct visid_vk_pre *pre, int on)
{
	visid_vk_seq_set_timing(pre->seq, on);
}

double visid_vk_pre_last_ms(const struct visid_vk_pre *pre)
{
	return pre->last_ms;
}

/* Bytes of plane 0 per row of `width` pixels. */
static uint64_t row_bytes(enum visid_pixel_format format, int width)
{
	switch (format) {
	case VISID_FMT_RGB24:
	case VISID_FMT_BGR24:
		return 3ull * width;
	case VISID_FMT_XRGB8888:
		return 4ull * width;
	case VISID_FMT_YUYV:
		return 2ull * ((width + 1) & ~1);
	case VISID_FMT_NV12:
	case VISID_FMT_GREY:
		return width;
	}
	return 0;
}

/* The shaders read whole words: every byte of each plane must lie inside its view. */
static int check_frame(const struct visid_vk_frame *f)
{
	uint64_t row = row_bytes(f->format, f->width), end0, end1 = 0;

	if (f->width <= 0 || f->height <= 0 || !row || f->stride[0] < row || !f->plane[0].buf) {
		visid_err("vulkan preprocess: invalid %s frame %dx%d (stride %u)",
			  visid_pixel_format_name(f->format), f->width, f->height, f->stride[0]);
		return -EINVAL;
	}
	end0 = f->offset[0] + (uint64_t)f->stride[0] * (f->height - 1) + row;
	if (f->format == VISID_FMT_NV12) {
		if (!f->plane[1].buf || f->stride[1] < (uint64_t)((f->width + 1) & ~1)) {
			visid_err("vulkan preprocess: NV12 frame %dx%d without a chroma plane",
				  f->width, f->height);
			return -EINVAL;
		}
		end1 = f->offset[1] + (uint64_t)f->stride[1] * ((f->height + 1) / 2 - 1) +
		       ((f->width + 1) & ~1);
	}
	if (end0 > f->plane[0].size || (f->format == VISID_FMT_NV12 && end1 > f->plane[1].size) ||
	    f->offset[0] > UINT32_MAX - f->stride[0] * (uint64_t)f->height) {
		visid_err("vulkan preprocess: %s frame %dx%d (stride %u at %u) does not fit its "
			  "%llu-byte buffer view",
			  visid_pixel_format_name(f->format), f->width, f->height, f->stride[0],
			  f->offset[0], (unsigned long long)f->plane[0].size);
		return -EINVAL;
	}
	return 0;
}

static void frame_params(const struct visid_vk_frame *f, struct frame_params *p)
{
	p->width = f->width;
	p->height = f->height;
	p->stride = f->stride[0];
	p->offset = f->offset[0];
	p->uv_stride = f->format == VISID_FMT_NV12 ? f->stride[1] : 0;
	p->uv_offset = f->format == VISID_FMT_NV12 ? f->offset[1] : 0;
}

/* One dispatch of `shader` reading a frame of `format`, one invocation per output. */
static int dispatch(struct visid_vk_pre *pre, const char *shader, int format,
		    const struct visid_vk_view views[3], const void *push, uint32_t push_size,
		    uint64_t invocations, const char *label)
{
	const int32_t spec[] = {LOCAL_SIZE, format};
	uint64_t groups = (invocations + LOCAL_SIZE - 1) / LOCAL_SIZE;
	uint32_t gx = groups < MAX_GROUPS ? (uint32_t)groups : MAX_GROUPS;
	struct visid_vk_pipeline *pipe;
	int ret;

	ret = visid_vk_pipeline_get(pre->gpu, shader, spec, 2, 3, push_size, &pipe);
	if (ret)
		return ret;
	return visid_vk_seq_dispatch(pre->seq, pipe, views, 3, 1u << 2, push, push_size, gx,
				     (uint32_t)((groups + gx - 1) / gx), 1, label);
}

/* Room for the shrunk region; only between runs, never while one is recorded. */
static int reserve_scratch(struct visid_vk_pre *pre, uint64_t bytes)
{
	if (pre->scratch && pre->scratch->size >= bytes)
		return 0;
	visid_vk_buffer_destroy(pre->scratch);
	pre->scratch = NULL;
	return visid_vk_buffer_create(pre->gpu, bytes, VISID_VK_BUFFER_DEVICE, "preprocess shrink",
				      &pre->scratch);
}

/*
 * Records the area pre-shrink of the plan's region into the scratch buffer
 * and turns *sp's frame into that region, a packed RGBX image.
 */
static int record_shrink(struct visid_vk_pre *pre, const struct visid_vk_frame *frame,
			 const struct visid_pre_plan *plan, struct sample_params *sp,
			 struct visid_vk_view views[3])
{
	int w = plan->x1 - plan->x0, h = plan->y1 - plan->y0;
	struct shrink_params p = {
	    .region_x = plan->x0,
	    .region_y = plan->y0,
	    .region_w = w,
	    .region_h = h,
	    .sx = (float)plan->sx,
	    .sy = (float)plan->sy,
	};
	struct visid_vk_view v[3] = {frame->plane[0], frame->plane[1], {0}};
	int ret;

	frame_params(frame, &p.f);
	v[2] = visid_vk_view(pre->scratch, 0, 4ull * w * h);
	ret = dispatch(pre, "pre_shrink", frame->format, v, &p, sizeof(p), (uint64_t)w * h,
		       "preprocess shrink");
	if (ret)
		return ret;
	sp->f = (struct frame_params){.width = w, .height = h, .stride = 4u * w};
	views[0] = views[1] = v[2];
	return 0;
}

int visid_vk_pre_run(struct visid_vk_pre *pre, const struct visid_vk_frame *frame,
		     const struct visid_resample *rs, struct visid_vk_view out)
{
	struct visid_vk_view views[3] = {frame->plane[0], frame->plane[1], out};
	struct sample_params sp = {
	    .out_w = rs->out_w, .out_h = rs->out_h, .mean = rs->mean, .std = rs->std};
	const struct visid_vk_timing *t;
	struct visid_pre_plan plan;
	int ret, shrunk, n;
	double m[6];

	ret = check_frame(frame);
	if (!ret)
		ret = visid_pre_plan(frame->width, frame->height, rs, &plan);
	if (ret)
		return ret;
	if (!out.buf || out.size < 12ull * rs->out_w * rs->out_h) {
		visid_err("vulkan preprocess: output of %llu bytes for %dx%dx3 floats",
			  (unsigned long long)out.size, rs->out_w, rs->out_h);
		return -EINVAL;
	}
	if (!views[1].buf)
		views[1] = views[0];
	memcpy(m, plan.m, sizeof(m));
	frame_params(frame, &sp.f);
	shrunk = plan.shrink > 1;
	if (shrunk) {
		/* The region becomes the sampled image: move the map's origin onto it. */
		m[2] -= plan.x0;
		m[5] -= plan.y0;
		ret = reserve_scratch(pre, 4ull * ((plan.x1 - plan.x0) * (plan.y1 - plan.y0) + 4));
		if (ret)
			return ret;
	}
	for (int i = 0; i < 6; i++)
		sp.m[i] = (float)m[i];

	ret = visid_vk_seq_begin(pre->seq);
	if (!ret && shrunk && plan.x0 < plan.x1 && plan.y0 < plan.y1)
		ret = record_shrink(pre, frame, &plan, &sp, views);
	else if (!ret && shrunk)
		sp.f = (struct frame_params){0}; /* nothing of the frame inside: black */
	if (!ret)
		ret =
		    dispatch(pre, "pre_sample", shrunk ? FMT_RGBX : (int)frame->format, views, &sp,
			     sizeof(sp), (uint64_t)rs->out_w * rs->out_h, "preprocess sample");
	if (!ret)
		ret = visid_vk_seq_end(pre->seq);
	if (!ret)
		ret = visid_vk_seq_submit(pre->seq);
	if (ret)
		return ret;
	n = visid_vk_seq_timings(pre->seq, &t);
	pre->last_ms = n < 0 ? -1 : 0;
	for (int i = 0; i < n; i++)
		pre->last_ms += t[i].ms;
	return 0;
}
