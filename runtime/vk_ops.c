/*
 * The operator kernels of kernels.h recorded as Vulkan dispatches: each
 * function checks its parameters and views, picks the shader variant
 * (specialization constants) and the grid, and records one dispatch.
 */
#include <errno.h>
#include <stdint.h>

#include "visid/log.h"
#include "vk.h"

#define LOCAL_SIZE 64
#define MAX_GROUPS 65535u

/* Output tile of the dense convolutions: pixels by output channels per invocation. */
#define CONV_TILE_PIXELS 4
#define CONV_TILE_CHANNELS 8
#define DEPTHWISE_TILE_PIXELS 4

enum { BINDING_IN, BINDING_WEIGHTS, BINDING_BIAS, BINDING_SLOPE, BINDING_OUT };

struct op_dispatch {
	const char *shader;
	int32_t spec[8];
	int spec_count;
	const struct visid_vk_view *views;
	int view_count;
	uint32_t write_mask;
	const void *push;
	uint32_t push_size;
	uint32_t groups_x, groups_y;
};

static int record(struct visid_vk_seq *seq, const struct op_dispatch *d, const char *label)
{
	struct visid_vk_pipeline *pipe;
	int ret;

	ret = visid_vk_pipeline_get(visid_vk_seq_gpu(seq), d->shader, d->spec, d->spec_count,
				    d->view_count, d->push_size, &pipe);
	if (ret)
		return ret;
	return visid_vk_seq_dispatch(seq, pipe, d->views, d->view_count, d->write_mask, d->push,
				     d->push_size, d->groups_x, d->groups_y, 1, label);
}

/* Groups for `n` invocations of a flat shader, folded into y past the x limit. */
static int flat_groups(uint64_t n, struct op_dispatch *d, const char *label)
{
	uint64_t groups = (n + LOCAL_SIZE - 1) / LOCAL_SIZE;

	if (!n || n > UINT32_MAX) {
		visid_err("vulkan: '%s': %llu invocations is out of range", label,
			  (unsigned long long)n);
		return -EINVAL;
	}
	d->groups_x = groups < MAX_GROUPS ? (uint32_t)groups : MAX_GROUPS;
	d->groups_y = (uint32_t)((groups + d->groups_x - 1) / d->groups_x);
	return 0;
}

/* The view holds `floats` floats (an empty view when floats is 0 and optional). */
static int check_size(const struct visid_vk_view *v, uint64_t floats, int optional,
		      const char *what, const char *label)
{
	if (!v->buf) {
		if (optional || !floats)
			return 0;
		visid_err("vulkan: '%s': %s is missing", label, what);
		return -EINVAL;
	}
	if (v->size < floats * sizeof(float)) {
		visid_err("vulkan: '%s': %s holds %llu bytes, %llu needed", label, what,
			  (unsigned long long)v->size,
			  (unsigned long long)(floats * sizeof(float)));
		return -EINVAL;
	}
	return 0;
}

static int positive(const char *label, const char *what, int count, const int *values)
{
	for (int i = 0; i < count; i++) {
		if (values[i] <= 0) {
			visid_err("vulkan: '%s': %s %d is not positive", label, what, values[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static uint64_t volume(int n, int h, int w, int c)
{
	return (uint64_t)n * h * w * c;
}

/* Convolutions */

static int check_conv(const struct visid_conv_params *p, const struct visid_vk_view *v,
		      const char *label)
{
	int dims[] = { p->batch, p->in_h, p->in_w, p->in_c, p->out_h, p->out_w, p->out_c,
		       p->kernel_h, p->kernel_w, p->stride_h, p->stride_w };
	uint64_t weights = p->depthwise ? (uint64_t)p->kernel_h * p->kernel_w * p->in_c
			   : (uint64_t)p->out_c * p->kernel_h * p->kernel_w * p->in_c;
	int ret;

	ret = positive(label, "conv dimension", sizeof(dims) / sizeof(dims[0]), dims);
	if (ret)
		return ret;
	if (p->depthwise && p->in_c != p->out_c) {
		visid_err("vulkan: '%s': depthwise conv from %d to %d channels", label, p->in_c,
			  p->out_c);
		return -EINVAL;
	}
	if ((unsigned)p->act > VISID_ACT_PRELU) {
		visid_err("vulkan: '%s': unknown activation %d", label, p->act);
		return -EINVAL;
	}
	ret = check_size(&v[BINDING_IN], volume(p->batch, p->in_h, p->in_w, p->in_c), 0, "input",
			 label);
	if (!ret)
		ret = check_size(&v[BINDING_WEIGHTS], weights, 0, "weights", label);
	if (!ret)
		ret = check_size(&v[BINDING_BIAS], p->out_c, 1, "bias", label);
	if (!ret)
		ret = check_size(&v[BINDING_SLOPE], p->act == VISID_ACT_PRELU ? p->out_c : 0, 0,
				 "PReLU slope", label);
	if (!ret)
		ret = check_size(&v[BINDING_OUT], volume(p->batch, p->out_h, p->out_w, p->out_c),
				 0, "output", label);
	return ret;
}

static int record_depthwise(struct visid_vk_seq *seq, const struct visid_conv_params *p,
			    const struct visid_vk_view *views, const char *label)
{
	int vec4 = p->in_c % 4 == 0;
	int tile = p->out_w < DEPTHWISE_TILE_PIXELS ? p->out_w : DEPTHWISE_TILE_PIXELS;
	int tiles_w = (p->out_w + tile - 1) / tile;
	int c = vec4 ? p->in_c / 4 : p->in_c;
	struct {
		int32_t in_h, in_w, c, out_h, out_w, stride_h, pad_top, pad_left, tiles_w;
		uint32_t total;
	} push = { p->in_h, p->in_w, c, p->out_h, p->out_w, p->stride_h, p->pad_top, p->pad_left,
		   tiles_w, 0 };
	uint64_t total = (uint64_t)p->batch * p->out_h * tiles_w * c;
	struct op_dispatch d = {
		.shader = "depthwise",
		.spec = { LOCAL_SIZE, tile, p->kernel_h, p->kernel_w, p->stride_w, vec4, p->act,
			  views[BINDING_BIAS].buf != NULL },
		.spec_count = 8,
		.views = views,
		.view_count = 5,
		.write_mask = 1u << BINDING_OUT,
		.push = &push,
		.push_size = sizeof(push),
	};
	int ret;

	if (p->kernel_h > 16 || p->kernel_w > 16 || p->stride_w > 8) {
		visid_err("vulkan: '%s': depthwise %dx%d stride %d is beyond the shader's range",
			  label, p->kernel_h, p->kernel_w, p->stride_w);
		return -ENOTSUP;
	}
	ret = flat_groups(total, &d, label);
	if (ret)
		return ret;
	push.total = (uint32_t)total;
	return record(seq, &d, label);
}

static int record_pointwise(struct visid_vk_seq *seq, const struct visid_conv_params *p,
			    const struct visid_vk_view *views, const char *label)
{
	uint64_t pixels = volume(p->batch, p->out_h, p->out_w, 1);
	struct {
		uint32_t pixels;
		int32_t in_c, out_c;
	} push = { (uint32_t)pixels, p->in_c, p->out_c };
	uint64_t tiles = (pixels + CONV_TILE_PIXELS - 1) / CONV_TILE_PIXELS;
	struct op_dispatch d = {
		.shader = "conv1x1",
		.spec = { LOCAL_SIZE, CONV_TILE_PIXELS, CONV_TILE_CHANNELS, p->in_c % 4 == 0,
			  p->act, views[BINDING_BIAS].buf != NULL },
		.spec_count = 6,
		.views = views,
		.view_count = 5,
		.write_mask = 1u << BINDING_OUT,
		.push = &push,
		.push_size = sizeof(push),
		.groups_x = (uint32_t)((tiles + LOCAL_SIZE - 1) / LOCAL_SIZE),
		.groups_y = (uint32_t)((p->out_c + CONV_TILE_CHANNELS - 1) / CONV_TILE_CHANNELS),
	};

	if (pixels > UINT32_MAX)
		return -E2BIG;
	return record(seq, &d, label);
}

static int record_dense(struct visid_vk_seq *seq, const struct visid_conv_params *p,
			const struct visid_vk_view *views, const char *label)
{
	int tiles_w = (p->out_w + CONV_TILE_PIXELS - 1) / CONV_TILE_PIXELS;
	uint64_t tiles = (uint64_t)p->batch * p->out_h * tiles_w;
	struct {
		int32_t in_h, in_w, in_c, out_h, out_w, out_c;
		int32_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left, tiles_w;
		uint32_t tiles;
	} push = { p->in_h, p->in_w, p->in_c, p->out_h, p->out_w, p->out_c,
		   p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->pad_top, p->pad_left,
		   tiles_w, (uint32_t)tiles };
	struct op_dispatch d = {
		.shader = "conv",
		.spec = { LOCAL_SIZE, CONV_TILE_PIXELS, CONV_TILE_CHANNELS, p->in_c % 4 == 0,
			  p->act, views[BINDING_BIAS].buf != NULL },
		.spec_count = 6,
		.views = views,
		.view_count = 5,
		.write_mask = 1u << BINDING_OUT,
		.push = &push,
		.push_size = sizeof(push),
		.groups_x = (uint32_t)((tiles + LOCAL_SIZE - 1) / LOCAL_SIZE),
		.groups_y = (uint32_t)((p->out_c + CONV_TILE_CHANNELS - 1) / CONV_TILE_CHANNELS),
	};

	if (tiles > UINT32_MAX)
		return -E2BIG;
	return record(seq, &d, label);
}

int visid_vk_conv(struct visid_vk_seq *seq, const struct visid_conv_params *p,
		  struct visid_vk_view in, struct visid_vk_view weights, struct visid_vk_view bias,
		  struct visid_vk_view slope, struct visid_vk_view out, const char *label)
{
	struct visid_vk_view views[] = { in, weights, bias, slope, out };
	int ret;

	if (!label)
		label = "conv";
	ret = check_conv(p, views, label);
	if (ret)
		return ret;
	if (p->depthwise)
		return record_depthwise(seq, p, views, label);
	if (p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
	    !p->pad_top && !p->pad_left && p->in_h == p->out_h && p->in_w == p->out_w)
		return record_pointwise(seq, p, views, label);
	return record_dense(seq, p, views, label);
}

/* The other kernels */

int visid_vk_maxpool(struct visid_vk_seq *seq, const struct visid_pool_params *p,
		     struct visid_vk_view in, struct visid_vk_view out, const char *label)
{
	int dims[] = { p->batch, p->in_h, p->in_w, p->c, p->out_h, p->out_w, p->kernel_h,
		       p->kernel_w, p->stride_h, p->stride_w };
	struct visid_vk_view views[] = { in, out };
	int vec4 = p->c % 4 == 0;
	int c = vec4 ? p->c / 4 : p->c;
	uint64_t total = volume(p->batch, p->out_h, p->out_w, c);
	struct {
		int32_t in_h, in_w, c, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w;
		int32_t pad_top, pad_left;
		uint32_t total;
	} push = { p->in_h, p->in_w, c, p->out_h, p->out_w, p->kernel_h, p->kernel_w,
		   p->stride_h, p->stride_w, p->pad_top, p->pad_left, (uint32_t)total };
	struct op_dispatch d = {
		.shader = "maxpool",
		.spec = { LOCAL_SIZE, vec4 },
		.spec_count = 2,
		.views = views,
		.view_count = 2,
		.write_mask = 2,
		.push = &push,
		.push_size = sizeof(push),
	};
	int ret;

	if (!label)
		label = "maxpool";
	ret = positive(label, "pool dimension", sizeof(dims) / sizeof(dims[0]), dims);
	if (!ret)
		ret = check_size(&in, volume(p->batch, p->in_h, p->in_w, p->c), 0, "input", label);
	if (!ret)
		ret = check_size(&out, volume(p->batch, p->out_h, p->out_w, p->c), 0, "output",
				 label);
	if (!ret)
		ret = flat_groups(total, &d, label);
	return ret ? ret : record(seq, &d, label);
}

int visid_vk_add(struct visid_vk_seq *seq, const struct visid_add_params *p, struct visid_vk_view a,
		 struct visid_vk_view b, struct visid_vk_view slope, struct visid_vk_view out,
		 const char *label)
{
	struct visid_vk_view views[] = { a, b, slope, out };
	int vec4 = p->c % 4 == 0 && p->b_c % 4 == 0;
	int div = vec4 ? 4 : 1;
	uint64_t total = (uint64_t)p->pixels * (p->c / div);
	struct {
		uint32_t total, c, b_c;
	} push = { (uint32_t)total, p->c / div, p->b_c / div };
	struct op_dispatch d = {
		.shader = "add",
		.spec = { LOCAL_SIZE, vec4, p->act },
		.spec_count = 3,
		.views = views,
		.view_count = 4,
		.write_mask = 8,
		.push = &push,
		.push_size = sizeof(push),
	};
	int ret = 0;

	if (!label)
		label = "add";
	if (p->c <= 0 || p->b_c < 0 || p->b_c > p->c || (unsigned)p->act > VISID_ACT_PRELU) {
		visid_err("vulkan: '%s': add of %d and %d channels, activation %d", label, p->c,
			  p->b_c, p->act);
		return -EINVAL;
	}
	ret = check_size(&a, (uint64_t)p->pixels * p->c, 0, "a", label);
	if (!ret)
		ret = check_size(&b, (uint64_t)p->pixels * p->b_c, 0, "b", label);
	if (!ret)
		ret = check_size(&slope, p->act == VISID_ACT_PRELU ? p->c : 0, 0, "PReLU slope",
				 label);
	if (!ret)
		ret = check_size(&out, (uint64_t)p->pixels * p->c, 0, "output", label);
	if (!ret)
		ret = flat_groups(total, &d, label);
	return ret ? ret : record(seq, &d, label);
}

int visid_vk_eltwise(struct visid_vk_seq *seq, const struct visid_eltwise_params *p,
		     struct visid_vk_view a, struct visid_vk_view b, struct visid_vk_view out,
		     const char *label)
{
	struct visid_vk_view views[] = { a, b, out };
	uint64_t total = (uint64_t)p->pixels * p->c;
	int unary = p->op == VISID_ELT_RELU || p->op == VISID_ELT_ABS;
	int b_mode = unary ? 0 : p->b_per_channel ? 1 : 2;
	struct {
		uint32_t total, c;
	} push = { (uint32_t)total, p->c };
	struct op_dispatch d = {
		.shader = "eltwise",
		.spec = { LOCAL_SIZE, p->op, b_mode },
		.spec_count = 3,
		.views = views,
		.view_count = 3,
		.write_mask = 4,
		.push = &push,
		.push_size = sizeof(push),
	};
	int ret;

	if (!label)
		label = "eltwise";
	if (p->c <= 0 || (unsigned)p->op > VISID_ELT_MUL) {
		visid_err("vulkan: '%s': eltwise op %d over %d channels", label, p->op, p->c);
		return -EINVAL;
	}
	ret = check_size(&a, total, 0, "a", label);
	if (!ret && b_mode)
		ret = check_size(&b, b_mode == 1 ? (uint64_t)p->c : total, 0, "b", label);
	if (!ret)
		ret = check_size(&out, total, 0, "output", label);
	if (!ret)
		ret = flat_groups(total, &d, label);
	return ret ? ret : record(seq, &d, label);
}

int visid_vk_resize(struct visid_vk_seq *seq, const struct visid_resize_params *p,
		    struct visid_vk_view in, struct visid_vk_view out, const char *label)
{
	int dims[] = { p->batch, p->in_h, p->in_w, p->c, p->out_h, p->out_w };
	struct visid_vk_view views[] = { in, out };
	uint64_t total = volume(p->batch, p->out_h, p->out_w, p->c);
	struct {
		int32_t in_h, in_w, c, out_h, out_w, align_corners, half_pixel_centers;
		uint32_t total;
	} push = { p->in_h, p->in_w, p->c, p->out_h, p->out_w, !!p->align_corners,
		   !!p->half_pixel_centers, (uint32_t)total };
	struct op_dispatch d = {
		.shader = "resize",
		.spec = { LOCAL_SIZE },
		.spec_count = 1,
		.views = views,
		.view_count = 2,
		.write_mask = 2,
		.push = &push,
		.push_size = sizeof(push),
	};
	int ret;

	if (!label)
		label = "resize";
	ret = positive(label, "resize dimension", sizeof(dims) / sizeof(dims[0]), dims);
	if (!ret)
		ret = check_size(&in, volume(p->batch, p->in_h, p->in_w, p->c), 0, "input", label);
	if (!ret)
		ret = check_size(&out, total, 0, "output", label);
	if (!ret)
		ret = flat_groups(total, &d, label);
	return ret ? ret : record(seq, &d, label);
}

int visid_vk_pad(struct visid_vk_seq *seq, const struct visid_pad_params *p,
		 struct visid_vk_view in, struct visid_vk_view out, const char *label)
{
	struct visid_vk_view views[] = { in, out };
	uint64_t total = volume(p->out[0], p->out[1], p->out[2], p->out[3]);
	struct {
		int32_t in[4], out[4], before[4];
		uint32_t total;
	} push;
	struct op_dispatch d = {
		.shader = "pad",
		.spec = { LOCAL_SIZE },
		.spec_count = 1,
		.views = views,
		.view_count = 2,
		.write_mask = 2,
		.push = &push,
		.push_size = sizeof(push),
	};
	int ret;

	if (!label)
		label = "pad";
	ret = positive(label, "input dimension", 4, p->in);
	if (!ret)
		ret = positive(label, "output dimension", 4, p->out);
	for (int i = 0; i < 4 && !ret; i++) {
		if (p->before[i] < 0 || p->before[i] + p->in[i] > p->out[i]) {
			visid_err("vulkan: '%s': axis %d: %d before %d does not fit in %d", label, i,
				  p->before[i], p->in[i], p->out[i]);
			ret = -EINVAL;
		}
		push.in[i] = p->in[i];
		push.out[i] = p->out[i];
		push.before[i] = p->before[i];
	}
	push.total = (uint32_t)total;
	if (!ret)
		ret = check_size(&in, volume(p->in[0], p->in[1], p->in[2], p->in[3]), 0, "input",
				 label);
	if (!ret)
		ret = check_size(&out, total, 0, "output", label);
	if (!ret)
		ret = flat_groups(total, &d, label);
	return ret ? ret : record(seq, &d, label);
}

int visid_vk_copy(struct visid_vk_seq *seq, const struct visid_copy_params *p,
		  struct visid_vk_view in, struct visid_vk_view out, const char *label)
{
	struct visid_vk_view views[] = { in, out };
	uint64_t total = (uint64_t)p->outer * p->inner_in;
	uint64_t out_total = (uint64_t)p->outer * p->inner_out;
	struct {
		uint32_t total, inner_in, inner_out, offset;
	} push = { (uint32_t)total, (uint32_t)p->inner_in, (uint32_t)p->inner_out,
		   (uint32_t)p->offset };
	struct op_dispatch d = {
		.shader = "copy",
		.spec = { LOCAL_SIZE },
		.spec_count = 1,
		.views = views,
		.view_count = 2,
		.write_mask = 2,
		.push = &push,
		.push_size = sizeof(push),
	};
	int ret;

	if (!label)
		label = "copy";
	if (!p->inner_in || p->offset + p->inner_in > p->inner_out || out_total > UINT32_MAX) {
		visid_err("vulkan: '%s': copy of %zu floats at %zu into blocks of %zu", label,
			  p->inner_in, p->offset, p->inner_out);
		return -EINVAL;
	}
	ret = check_size(&in, total, 0, "input", label);
	if (!ret)
		ret = check_size(&out, out_total, 0, "output", label);
	if (!ret)
		ret = flat_groups(total, &d, label);
	return ret ? ret : record(seq, &d, label);
}
