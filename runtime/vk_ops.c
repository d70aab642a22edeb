/*
 * The operator kernels of kernels.h recorded as Vulkan dispatches: each
 * function checks its parameters and views, picks the shader variant
 * (specialization constants, tile shape, storage or texel reads, fp32 or
 * fp16 tensors) and the grid, and records one dispatch.
 *
 * Tile shapes and group widths come from measurements on lavapipe, where
 * what pays is reading through texel buffers, several outputs per
 * invocation and enough workgroups to keep every thread busy; see the
 * "Shader optimisation" section of docs/PERFORMANCE.md.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "visid/log.h"
#include "vk.h"

#define LOCAL_SIZE 64
#define MIN_LOCAL_SIZE 8
/* Fewer groups than this leave threads of a CPU implementation idle. */
#define MIN_GROUPS 8
#define MAX_GROUPS 65535u

#define CONV_TILE_PIXELS 4
#define CONV_TILE_CHANNELS 8
#define DEPTHWISE_TILE_PIXELS 4
/* Output rows one depthwise invocation walks down, at most. */
#define DEPTHWISE_COLUMN_ROWS 16
/* Up to this many input channels, the tap loop of the IC variant unrolls. */
#define HWIO_MAX_IN_C 15

enum { BINDING_IN, BINDING_WEIGHTS, BINDING_BIAS, BINDING_SLOPE, BINDING_OUT, BINDING_RES };

struct op_dispatch {
	const char *shader;		/* base name; the variant's suffix is added */
	int32_t spec[16];		/* spec[0], the group width, is set by record() */
	int spec_count;
	const struct visid_vk_view *views;
	int view_count;
	uint32_t write_mask;
	uint32_t vec4_mask;		/* read bindings the shader reads as vec4s */
	uint32_t fp32_mask;		/* read bindings holding fp32 whatever the tensors */
	const void *push;
	uint32_t push_size;
	uint64_t invocations;		/* along x (folded into y past the limit) */
};

static size_t element_size(const struct visid_vk_seq *seq)
{
	return visid_vk_seq_tensors(seq) == VISID_VK_TENSORS_FP16 ? 2 : 4;
}

/* Texels when every read view fits the device's limit for its format. */
static int texels_fit(struct visid_gpu *gpu, const struct op_dispatch *d)
{
	for (int i = 0; i < d->view_count; i++) {
		enum visid_vk_binding kind = d->vec4_mask & (1u << i) ? VISID_VK_TEXELS_RGBA32F
					     : VISID_VK_TEXELS_R32F;
		size_t bytes = kind == VISID_VK_TEXELS_RGBA32F ? 16 : 4;

		if (d->write_mask & (1u << i) || !d->views[i].buf)
			continue;
		if ((d->views[i].size + bytes - 1) / bytes > visid_vk_texel_limit(gpu, kind))
			return 0;
	}
	return 1;
}

/* Binding kinds and shader name of the variant the sequence's tensors call for. */
static void pick_variant(struct visid_vk_seq *seq, const struct op_dispatch *d,
			 enum visid_vk_binding *kinds, char *name, size_t len)
{
	enum visid_vk_tensors tensors = visid_vk_seq_tensors(seq);
	const char *suffix = "";

	if (tensors == VISID_VK_TENSORS_AUTO && !texels_fit(visid_vk_seq_gpu(seq), d))
		tensors = VISID_VK_TENSORS_STORAGE;
	for (int i = 0; i < d->view_count; i++) {
		int vec4 = !!(d->vec4_mask & (1u << i));

		if (tensors == VISID_VK_TENSORS_STORAGE || d->write_mask & (1u << i))
			kinds[i] = VISID_VK_STORAGE;
		else if (tensors == VISID_VK_TENSORS_FP16 && !(d->fp32_mask & (1u << i)))
			kinds[i] = vec4 ? VISID_VK_TEXELS_RGBA16F : VISID_VK_TEXELS_R16F;
		else
			kinds[i] = vec4 ? VISID_VK_TEXELS_RGBA32F : VISID_VK_TEXELS_R32F;
	}
	if (tensors == VISID_VK_TENSORS_AUTO)
		suffix = "_t";
	else if (tensors == VISID_VK_TENSORS_FP16)
		suffix = "_h";
	snprintf(name, len, "%s%s", d->shader, suffix);
}

/*
 * Narrower groups for small dispatches, so that a CPU implementation still
 * has a group for each of its threads.
 */
static uint32_t group_width(uint64_t invocations)
{
	uint32_t local = LOCAL_SIZE;

	while (local > MIN_LOCAL_SIZE && (invocations + local - 1) / local < MIN_GROUPS)
		local /= 2;
	return local;
}

static int record(struct visid_vk_seq *seq, const struct op_dispatch *d, const char *label)
{
	enum visid_vk_binding kinds[8];
	struct visid_vk_pipeline *pipe;
	int32_t spec[16];
	uint32_t local, groups_x, groups_y;
	uint64_t groups;
	char name[40];
	int ret;

	if (!d->invocations || d->invocations > UINT32_MAX) {
		visid_err("vulkan: '%s': %llu invocations is out of range", label,
			  (unsigned long long)d->invocations);
		return -EINVAL;
	}
	local = group_width(d->invocations);
	groups = (d->invocations + local - 1) / local;
	groups_x = groups < MAX_GROUPS ? (uint32_t)groups : MAX_GROUPS;
	groups_y = (uint32_t)((groups + groups_x - 1) / groups_x);

	for (int i = 0; i < d->spec_count; i++)
		spec[i] = d->spec[i];
	spec[0] = (int32_t)local;
	pick_variant(seq, d, kinds, name, sizeof(name));
	ret = visid_vk_pipeline_get_kinds(visid_vk_seq_gpu(seq), name, spec, d->spec_count, kinds,
					  d->view_count, d->push_size, &pipe);
	if (ret)
		return ret;
	return visid_vk_seq_dispatch(seq, pipe, d->views, d->view_count, d->write_mask, d->push,
				     d->push_size, groups_x, groups_y, 1, label);
}

/* The view holds `count` elements (an empty view when count is 0 and optional). */
static int check_size(struct visid_vk_seq *seq, const struct visid_vk_view *v, uint64_t count,
		      int optional, const char *what, const char *label)
{
	size_t elem = element_size(seq);

	if (!v->buf) {
		if (optional || !count)
			return 0;
		visid_err("vulkan: '%s': %s is missing", label, what);
		return -EINVAL;
	}
	if (v->size < count * elem) {
		visid_err("vulkan: '%s': %s holds %llu bytes, %llu needed", label, what,
			  (unsigned long long)v->size, (unsigned long long)(count * elem));
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

static int check_conv(struct visid_vk_seq *seq, const struct visid_conv_params *p,
		      const struct visid_vk_view *v, const char *label)
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
	ret = check_size(seq, &v[BINDING_IN], volume(p->batch, p->in_h, p->in_w, p->in_c), 0,
			 "input", label);
	if (!ret)
		ret = check_size(seq, &v[BINDING_WEIGHTS], weights, 0, "weights", label);
	if (!ret)
		ret = check_size(seq, &v[BINDING_BIAS], p->out_c, 1, "bias", label);
	if (!ret)
		ret = check_size(seq, &v[BINDING_SLOPE],
				 p->act == VISID_ACT_PRELU ? p->out_c : 0, 0, "PReLU slope", label);
	if (!ret)
		ret =
		    check_size(seq, &v[BINDING_OUT], volume(p->batch, p->out_h, p->out_w, p->out_c),
			       0, "output", label);
	return ret;
}

/*
 * Rows per depthwise invocation: as many as DEPTHWISE_COLUMN_ROWS, fewer
 * where that would leave fewer invocations than MIN_GROUPS full groups, so
 * small layers still spread over every thread of a CPU implementation.
 */
static int depthwise_rows(const struct visid_conv_params *p, uint64_t columns)
{
	int rows = p->out_h < DEPTHWISE_COLUMN_ROWS ? p->out_h : DEPTHWISE_COLUMN_ROWS;

	while (rows > 1 && columns * ((p->out_h + rows - 1) / rows) < MIN_GROUPS * LOCAL_SIZE)
		rows /= 2;
	return rows;
}

static int record_depthwise(struct visid_vk_seq *seq, const struct visid_conv_params *p,
			    const struct visid_vk_view *views, const char *label)
{
	int vec4 = p->in_c % 4 == 0;
	int tile = p->out_w < DEPTHWISE_TILE_PIXELS ? p->out_w : DEPTHWISE_TILE_PIXELS;
	int tiles_w = (p->out_w + tile - 1) / tile;
	int c = vec4 ? p->in_c / 4 : p->in_c;
	int rows = depthwise_rows(p, (uint64_t)p->batch * tiles_w * c);
	int segments = (p->out_h + rows - 1) / rows;
	uint64_t total = (uint64_t)p->batch * segments * tiles_w * c;
	struct {
		int32_t in_h, in_w, c, out_h, out_w, pad_top, pad_left, tiles_w, segments;
		uint32_t total;
	} push = { p->in_h, p->in_w, c, p->out_h, p->out_w, p->pad_top, p->pad_left, tiles_w,
		   segments, (uint32_t)total };
	struct op_dispatch d = {
		.shader = "depthwise",
		.spec = { 0, tile, p->kernel_h, p->kernel_w, p->stride_w, vec4, p->act,
			  views[BINDING_BIAS].buf != NULL, p->stride_h, rows },
		.spec_count = 10,
		.views = views,
		.view_count = 5,
		.write_mask = 1u << BINDING_OUT,
		.vec4_mask = vec4 ? 0xf : 0,
		.push = &push,
		.push_size = sizeof(push),
		.invocations = total,
	};

	if (p->kernel_h > 16 || p->kernel_w > 16 || p->stride_h > 8 || p->stride_w > 8) {
		visid_err("vulkan: '%s': depthwise %dx%d stride %dx%d is beyond the shader's range",
			  label, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w);
		return -ENOTSUP;
	}
	return record(seq, &d, label);
}

/* A 1x1 stride 1 conv without padding: the conv1x1 shader's case. */
static int is_pointwise(const struct visid_conv_params *p)
{
	return p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
	       !p->pad_top && !p->pad_left && p->in_h == p->out_h && p->in_w == p->out_w;
}

/*
 * Pixels by output channels per invocation: 4 x 8 was the fastest tile on
 * lavapipe, 8 x 4 where the channels come in fours only (vec4 stores), and
 * a pixel by 16 channels for the matrix-vector products at the end of a
 * network.
 */
static void dense_tile(const struct visid_conv_params *p, uint64_t pixels, int *tile_pixels,
		       int *tile_channels)
{
	*tile_pixels = CONV_TILE_PIXELS;
	*tile_channels = CONV_TILE_CHANNELS;
	if (pixels < CONV_TILE_PIXELS) {
		*tile_pixels = 1;
		*tile_channels = p->out_c % 16 == 0 ? 16 : p->out_c % 8 == 0 ? 8 : 4;
	} else if (p->out_c % 8 && p->out_c % 4 == 0) {
		*tile_pixels = 8;
		*tile_channels = 4;
	}
}

/* The fused residual's constants and checks; res may be NULL. */
static int residual_spec(struct visid_vk_seq *seq, const struct visid_conv_params *p,
			 const struct visid_vk_residual *res, int32_t *spec, const char *label)
{
	int ret;

	spec[0] = 0;
	spec[1] = VISID_ACT_NONE;
	spec[2] = 0;
	if (!res)
		return 0;
	if (p->depthwise || res->c < 1 || res->c > p->out_c ||
	    (res->act != VISID_ACT_NONE && res->act != VISID_ACT_RELU)) {
		visid_err("vulkan: '%s': residual of %d channels, activation %d, on a%s conv of "
			  "%d channels", label, res->c, res->act, p->depthwise ? " depthwise" : "",
			  p->out_c);
		return -EINVAL;
	}
	ret = check_size(seq, &res->view, volume(p->batch, p->out_h, p->out_w, res->c) *
			 (res->pool ? 4 : 1), 0, "residual", label);
	if (ret)
		return ret;
	spec[0] = res->c;
	spec[1] = res->act;
	spec[2] = !!res->pool;
	return 0;
}

static int record_dense(struct visid_vk_seq *seq, const struct visid_conv_params *p,
			const struct visid_vk_view *views, const int32_t *res_spec,
			const char *label)
{
	int pointwise = is_pointwise(p);
	int vec4 = p->in_c % 4 == 0, tp, to, out4, tiles_w, ic;
	uint64_t pixels = volume(p->batch, p->out_h, p->out_w, 1), tiles;
	struct {
		uint32_t pixels;
		int32_t in_c, out_c;
		uint32_t oc_groups;
		int32_t out_w;
	} push1;
	struct {
		int32_t in_h, in_w, in_c, out_h, out_w, out_c, pad_top, pad_left, tiles_w;
		uint32_t tiles, oc_groups;
	} push;
	uint32_t oc_groups;
	struct op_dispatch d = {
		.views = views,
		.view_count = 6,
		.write_mask = 1u << BINDING_OUT,
	};

	dense_tile(p, pixels, &tp, &to);
	ic = visid_vk_conv_wants_hwio(p) ? p->in_c : 0;
	oc_groups = (uint32_t)((p->out_c + to - 1) / to);
	out4 = p->out_c % 4 == 0 && to % 4 == 0;
	d.spec_count = 11;
	d.spec[1] = tp;
	d.spec[2] = to;
	d.spec[3] = vec4;
	d.spec[4] = p->act;
	d.spec[5] = views[BINDING_BIAS].buf != NULL;
	d.spec[6] = out4;
	d.spec[7] = res_spec[0];
	d.spec[8] = res_spec[1];
	d.spec[9] = out4 && res_spec[0] % 4 == 0;
	d.spec[10] = res_spec[2];
	d.vec4_mask = (vec4 ? 3u : 0) | (out4 ? 0xcu : 0) |
		      (d.spec[9] ? 1u << BINDING_RES : 0);
	if (pixels > UINT32_MAX)
		return -E2BIG;
	if (pointwise) {
		push1 = (typeof(push1)){ (uint32_t)pixels, p->in_c, p->out_c, oc_groups,
					 p->out_w };
		d.shader = "conv1x1";
		d.push = &push1;
		d.push_size = sizeof(push1);
		d.invocations = (pixels + tp - 1) / tp * oc_groups;
		return record(seq, &d, label);
	}
	tiles_w = (p->out_w + tp - 1) / tp;
	tiles = (uint64_t)p->batch * p->out_h * tiles_w;
	push = (typeof(push)){ p->in_h, p->in_w, p->in_c, p->out_h, p->out_w, p->out_c,
			       p->pad_top, p->pad_left, tiles_w, (uint32_t)tiles, oc_groups };
	if (p->kernel_h > 16 || p->kernel_w > 16 || p->stride_h > 16 || p->stride_w > 16) {
		visid_err("vulkan: '%s': conv %dx%d stride %dx%d is beyond the shader's range",
			  label, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w);
		return -ENOTSUP;
	}
	d.spec_count = 16;
	d.spec[11] = p->kernel_h;
	d.spec[12] = p->kernel_w;
	d.spec[13] = p->stride_h;
	d.spec[14] = p->stride_w;
	d.spec[15] = ic;
	if (ic)
		d.vec4_mask |= 1u << BINDING_WEIGHTS;
	d.shader = "conv";
	d.push = &push;
	d.push_size = sizeof(push);
	d.invocations = tiles * oc_groups;
	return record(seq, &d, label);
}

int visid_vk_conv_wants_hwio(const struct visid_conv_params *p)
{
	return !p->depthwise && !is_pointwise(p) && p->in_c % 4 && p->in_c <= HWIO_MAX_IN_C &&
	       p->out_c % 4 == 0;
}

void visid_vk_conv_to_hwio(const struct visid_conv_params *p, const float *src, float *dst)
{
	size_t taps = (size_t)p->kernel_h * p->kernel_w;

	for (int o = 0; o < p->out_c; o++)
		for (size_t t = 0; t < taps; t++)
			for (int c = 0; c < p->in_c; c++)
				dst[(t * p->in_c + c) * p->out_c + o] =
				    src[((size_t)o * taps + t) * p->in_c + c];
}

int visid_vk_conv_residual(struct visid_vk_seq *seq, const struct visid_conv_params *p,
			   struct visid_vk_view in, struct visid_vk_view weights,
			   struct visid_vk_view bias, struct visid_vk_view slope,
			   const struct visid_vk_residual *res, struct visid_vk_view out,
			   const char *label)
{
	struct visid_vk_view views[] = { in, weights, bias, slope, out,
					 res ? res->view : visid_vk_view(NULL, 0, 0) };
	int32_t res_spec[3];
	int ret;

	if (!label)
		label = "conv";
	ret = check_conv(seq, p, views, label);
	if (!ret)
		ret = residual_spec(seq, p, res, res_spec, label);
	if (ret)
		return ret;
	if (p->depthwise)
		return record_depthwise(seq, p, views, label);
	return record_dense(seq, p, views, res_spec, label);
}

int visid_vk_conv(struct visid_vk_seq *seq, const struct visid_conv_params *p,
		  struct visid_vk_view in, struct visid_vk_view weights, struct visid_vk_view bias,
		  struct visid_vk_view slope, struct visid_vk_view out, const char *label)
{
	return visid_vk_conv_residual(seq, p, in, weights, bias, slope, NULL, out, label);
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
		.spec = { 0, vec4 },
		.spec_count = 2,
		.views = views,
		.view_count = 2,
		.write_mask = 2,
		.vec4_mask = vec4,
		.push = &push,
		.push_size = sizeof(push),
		.invocations = total,
	};
	int ret;

	if (!label)
		label = "maxpool";
	ret = positive(label, "pool dimension", sizeof(dims) / sizeof(dims[0]), dims);
	if (!ret)
		ret = check_size(seq, &in, volume(p->batch, p->in_h, p->in_w, p->c), 0, "input",
				 label);
	if (!ret)
		ret = check_size(seq, &out, volume(p->batch, p->out_h, p->out_w, p->c), 0,
				 "output", label);
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
		.spec = { 0, vec4, p->act },
		.spec_count = 3,
		.views = views,
		.view_count = 4,
		.write_mask = 8,
		.vec4_mask = vec4 ? 7 : 0,
		.push = &push,
		.push_size = sizeof(push),
		.invocations = total,
	};
	int ret = 0;

	if (!label)
		label = "add";
	if (p->c <= 0 || p->b_c < 0 || p->b_c > p->c || (unsigned)p->act > VISID_ACT_PRELU) {
		visid_err("vulkan: '%s': add of %d and %d channels, activation %d", label, p->c,
			  p->b_c, p->act);
		return -EINVAL;
	}
	ret = check_size(seq, &a, (uint64_t)p->pixels * p->c, 0, "a", label);
	if (!ret)
		ret = check_size(seq, &b, (uint64_t)p->pixels * p->b_c, 0, "b", label);
	if (!ret)
		ret = check_size(seq, &slope, p->act == VISID_ACT_PRELU ? p->c : 0, 0,
				 "PReLU slope", label);
	if (!ret)
		ret = check_size(seq, &out, (uint64_t)p->pixels * p->c, 0, "output", label);
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
		.spec = { 0, p->op, b_mode },
		.spec_count = 3,
		.views = views,
		.view_count = 3,
		.write_mask = 4,
		.push = &push,
		.push_size = sizeof(push),
		.invocations = total,
	};
	int ret;

	if (!label)
		label = "eltwise";
	if (p->c <= 0 || (unsigned)p->op > VISID_ELT_MUL) {
		visid_err("vulkan: '%s': eltwise op %d over %d channels", label, p->op, p->c);
		return -EINVAL;
	}
	ret = check_size(seq, &a, total, 0, "a", label);
	if (!ret && b_mode)
		ret = check_size(seq, &b, b_mode == 1 ? (uint64_t)p->c : total, 0, "b", label);
	if (!ret)
		ret = check_size(seq, &out, total, 0, "output", label);
	return ret ? ret : record(seq, &d, label);
}

int visid_vk_resize(struct visid_vk_seq *seq, const struct visid_resize_params *p,
		    struct visid_vk_view in, struct visid_vk_view out, const char *label)
{
	int dims[] = { p->batch, p->in_h, p->in_w, p->c, p->out_h, p->out_w };
	struct visid_vk_view views[] = { in, out };
	int vec4 = p->c % 4 == 0;
	int c = vec4 ? p->c / 4 : p->c;
	uint64_t total = volume(p->batch, p->out_h, p->out_w, c);
	struct {
		int32_t in_h, in_w, c, out_h, out_w, align_corners, half_pixel_centers;
		uint32_t total;
	} push = { p->in_h, p->in_w, c, p->out_h, p->out_w, !!p->align_corners,
		   !!p->half_pixel_centers, (uint32_t)total };
	struct op_dispatch d = {
		.shader = "resize",
		.spec = { 0, vec4, c, p->out_w, p->out_h },
		.spec_count = 5,
		.views = views,
		.view_count = 2,
		.write_mask = 2,
		.vec4_mask = vec4,
		.push = &push,
		.push_size = sizeof(push),
		.invocations = total,
	};
	int ret;

	if (!label)
		label = "resize";
	ret = positive(label, "resize dimension", sizeof(dims) / sizeof(dims[0]), dims);
	if (!ret)
		ret = check_size(seq, &in, volume(p->batch, p->in_h, p->in_w, p->c), 0, "input",
				 label);
	if (!ret)
		ret = check_size(seq, &out, volume(p->batch, p->out_h, p->out_w, p->c), 0,
				 "output", label);
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
		.spec = { 0 },
		.spec_count = 1,
		.views = views,
		.view_count = 2,
		.write_mask = 2,
		.push = &push,
		.push_size = sizeof(push),
		.invocations = total,
	};
	int ret;

	if (!label)
		label = "pad";
	ret = positive(label, "input dimension", 4, p->in);
	if (!ret)
		ret = positive(label, "output dimension", 4, p->out);
	for (int i = 0; i < 4 && !ret; i++) {
		if (p->before[i] < 0 || p->before[i] + p->in[i] > p->out[i]) {
			visid_err("vulkan: '%s': axis %d: %d before %d does not fit in %d", label,
				  i, p->before[i], p->in[i], p->out[i]);
			ret = -EINVAL;
		}
		push.in[i] = p->in[i];
		push.out[i] = p->out[i];
		push.before[i] = p->before[i];
	}
	push.total = (uint32_t)total;
	if (!ret)
		ret = check_size(seq, &in, volume(p->in[0], p->in[1], p->in[2], p->in[3]), 0,
				 "input", label);
	if (!ret)
		ret = check_size(seq, &out, total, 0, "output", label);
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
		.spec = { 0 },
		.spec_count = 1,
		.views = views,
		.view_count = 2,
		.write_mask = 2,
		.push = &push,
		.push_size = sizeof(push),
		.invocations = total,
	};
	int ret;

	if (!label)
		label = "copy";
	if (!p->inner_in || p->offset + p->inner_in > p->inner_out || out_total > UINT32_MAX) {
		visid_err("vulkan: '%s': copy of %zu floats at %zu into blocks of %zu", label,
			  p->inner_in, p->offset, p->inner_out);
		return -EINVAL;
	}
	ret = check_size(seq, &in, total, 0, "input", label);
	if (!ret)
		ret = check_size(seq, &out, out_total, 0, "output", label);
	return ret ? ret : record(seq, &d, label);
}

int visid_vk_from_fp32(struct visid_vk_seq *seq, size_t count, struct visid_vk_view in,
		       struct visid_vk_view out, const char *label)
{
	struct visid_vk_view views[] = { in, out };
	struct {
		uint32_t total, inner_in, inner_out, offset;
	} push = { (uint32_t)count, (uint32_t)count, (uint32_t)count, 0 };
	struct op_dispatch d = {
		.shader = "copy",
		.spec = { 0 },
		.spec_count = 1,
		.views = views,
		.view_count = 2,
		.write_mask = 2,
		.fp32_mask = 1,
		.push = &push,
		.push_size = sizeof(push),
		.invocations = count,
	};
	int ret;

	if (!label)
		label = "from fp32";
	if (!count || count > UINT32_MAX || !in.buf || in.size < count * sizeof(float)) {
		visid_err("vulkan: '%s': %zu floats from a view of %llu bytes", label, count,
			  (unsigned long long)(in.buf ? in.size : 0));
		return -EINVAL;
	}
	ret = check_size(seq, &out, count, 0, "output", label);
	return ret ? ret : record(seq, &d, label);
}
