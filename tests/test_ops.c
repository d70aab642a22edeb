/*
 * Every operator shader against its visid_cpu_* reference on deterministic
 * pseudo-random data: odd and even channel counts (vector and scalar
 * paths), odd spatial sizes, every padding case and each activation. The
 * output buffer starts as NaN so an element the shader never writes fails.
 * Each case runs three times: reading texel buffers, reading storage
 * buffers, and on fp16 tensors where the device has them. The data are
 * exact in fp16, so there the only error is the rounding of the output.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "kernels.h"
#include "vk.h"
#include "vk_test.h"

#define MAX_INPUTS 5

static const struct {
	enum visid_vk_tensors tensors;
	const char *name;
	double tolerance; /* relative, or absolute below 1 */
} modes[] = {
	{ VISID_VK_TENSORS_AUTO, "texels", 1e-5 },
	{ VISID_VK_TENSORS_STORAGE, "storage", 1e-5 },
	{ VISID_VK_TENSORS_FP16, "fp16", 1e-3 }, /* one rounding to 11 bits: 4.9e-4 */
};

static struct visid_vk_seq *seq;
static uint32_t rng = 0x9e3779b9u;

static int ops_init(void)
{
	if (vt_init())
		return -1;
	return visid_vk_seq_create(vt_gpu, &seq) ? -1 : 0;
}

static int ops_clean(void)
{
	visid_vk_seq_destroy(seq);
	seq = NULL;
	return vt_clean();
}

/* Uniform in [-scale, scale), from a fixed xorshift stream, each exact in fp16. */
static float *random_floats(size_t n, float scale)
{
	float *p = malloc((n ? n : 1) * sizeof(*p));

	for (size_t i = 0; p && i < n; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 17;
		rng ^= rng << 5;
		p[i] = visid_half_to_float(
		    visid_half_from_float(((float)(rng >> 8) / 8388608.0f - 1.0f) * scale));
	}
	return p;
}

/* An operator case: host inputs (NULL for an empty view), the expected output. */
struct op_case {
	char what[160];
	const float *in[MAX_INPUTS];
	size_t in_n[MAX_INPUTS];
	int in_count;
	const float *want;
	size_t out_n;
	int (*record)(const void *params, const struct visid_vk_view *in,
		      struct visid_vk_view out);
	const void *params;
	int partial;		/* the op writes only part of the output: start it at zero */
};

/* A buffer holding data as the sequence's tensors hold it (fp16 or fp32). */
static struct visid_vk_buffer *upload(const float *data, size_t n, int fp16, const char *name)
{
	size_t bytes = n * (fp16 ? 2 : sizeof(float));
	struct visid_vk_buffer *buf = NULL;
	uint16_t *halves = NULL;
	int ret;

	if (!data || !n)
		return NULL;
	if (fp16) {
		halves = malloc(bytes);
		if (!halves)
			return NULL;
		visid_halves_from_floats(halves, data, n);
	}
	ret = visid_vk_buffer_create(vt_gpu, bytes, VISID_VK_BUFFER_DEVICE, name, &buf);
	if (!ret)
		ret = visid_vk_upload(buf, 0, fp16 ? (const void *)halves : data, bytes);
	if (ret) {
		visid_vk_buffer_destroy(buf);
		buf = NULL;
	}
	free(halves);
	return buf;
}

static int download(struct visid_vk_buffer *buf, float *dst, size_t n, int fp16)
{
	uint16_t *halves;
	int ret;

	if (!fp16)
		return visid_vk_download(buf, 0, dst, n * sizeof(float));
	halves = malloc(n * 2);
	if (!halves)
		return -ENOMEM;
	ret = visid_vk_download(buf, 0, halves, n * 2);
	if (!ret)
		visid_halves_to_floats(dst, halves, n);
	free(halves);
	return ret;
}

/* Worst relative error, printed with its element when over the tolerance. */
static void compare(const struct op_case *c, const float *got, int mode)
{
	double worst = 0;
	size_t at = 0;

	for (size_t i = 0; i < c->out_n; i++) {
		double err = fabs((double)got[i] - c->want[i]) / fmax(1.0, fabs(c->want[i]));

		if (!(err <= worst)) {
			worst = isnan(err) ? INFINITY : err;
			at = i;
		}
	}
	VT_CHECK(worst <= modes[mode].tolerance,
		 "%s, %s: element %zu of %zu is %.9g, reference %.9g (error %.3g)", c->what,
		 modes[mode].name, at, c->out_n, got[at], c->want[at], worst);
}

static void run_mode(const struct op_case *c, int mode)
{
	int fp16 = modes[mode].tensors == VISID_VK_TENSORS_FP16;
	struct visid_vk_buffer *in[MAX_INPUTS] = { NULL }, *out = NULL;
	struct visid_vk_view views[MAX_INPUTS];
	float *got = malloc(c->out_n * sizeof(float));
	int ret = got ? 0 : -ENOMEM;

	for (int i = 0; i < c->in_count && !ret; i++) {
		in[i] = upload(c->in[i], c->in_n[i], fp16, "input");
		if (c->in[i] && !in[i])
			ret = -ENOMEM;
		views[i] = visid_vk_whole(in[i]);
	}
	for (size_t i = 0; got && i < c->out_n; i++)
		got[i] = c->partial ? 0.0f : NAN;
	out = ret ? NULL : upload(got, c->out_n, fp16, "output");
	if (!ret && !out)
		ret = -ENOMEM;
	ret = ret ? ret : visid_vk_seq_begin(seq);
	ret = ret ? ret : visid_vk_seq_set_tensors(seq, modes[mode].tensors);
	ret = ret ? ret : c->record(c->params, views, visid_vk_whole(out));
	ret = ret ? ret : visid_vk_seq_end(seq);
	ret = ret ? ret : visid_vk_seq_submit(seq);
	ret = ret ? ret : download(out, got, c->out_n, fp16);
	VT_CHECK(ret == 0, "%s, %s: %d", c->what, modes[mode].name, ret);
	if (!ret)
		compare(c, got, mode);
	for (int i = 0; i < c->in_count; i++)
		visid_vk_buffer_destroy(in[i]);
	visid_vk_buffer_destroy(out);
	free(got);
}

static void run_case(const struct op_case *c)
{
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
		if (modes[m].tensors != VISID_VK_TENSORS_FP16 || visid_vk_has_fp16_tensors(vt_gpu))
			run_mode(c, (int)m);
}

static const char *const act_names[] = { "none", "relu", "prelu" };

/* Convolutions */

struct conv_shape {
	int h, w, in_c, out_c, kernel, stride, same, act, bias, batch;
};

/* TensorFlow SAME puts floor(total / 2) before; VALID pads nothing. */
static void conv_axis(int in, int kernel, int stride, int same, int *out, int *before)
{
	if (same) {
		int total;

		*out = (in + stride - 1) / stride;
		total = (*out - 1) * stride + kernel - in;
		*before = total > 0 ? total / 2 : 0;
	} else {
		*out = (in - kernel) / stride + 1;
		*before = 0;
	}
}

static int record_conv(const void *params, const struct visid_vk_view *in,
		       struct visid_vk_view out)
{
	return visid_vk_conv(seq, params, in[0], in[1], in[2], in[3], out, "conv under test");
}

static void conv_case(const struct conv_shape *s, int depthwise)
{
	struct visid_conv_params p = {
		.batch = s->batch, .in_h = s->h, .in_w = s->w, .in_c = s->in_c,
		.out_c = depthwise ? s->in_c : s->out_c, .kernel_h = s->kernel,
		.kernel_w = s->kernel, .stride_h = s->stride, .stride_w = s->stride,
		.depthwise = depthwise, .act = s->act,
	};
	struct op_case c = { .in_count = 4, .record = record_conv, .params = &p };
	size_t n_in, n_w, n_out;
	float *in, *w, *bias, *slope, *want, *w_vk = NULL;

	conv_axis(s->h, s->kernel, s->stride, s->same, &p.out_h, &p.pad_top);
	conv_axis(s->w, s->kernel, s->stride, s->same, &p.out_w, &p.pad_left);
	n_in = (size_t)p.batch * p.in_h * p.in_w * p.in_c;
	n_w = (size_t)(depthwise ? 1 : p.out_c) * p.kernel_h * p.kernel_w * p.in_c;
	n_out = (size_t)p.batch * p.out_h * p.out_w * p.out_c;
	in = random_floats(n_in, 1.0f);
	w = random_floats(n_w, 1.0f / sqrtf((float)(n_w / (depthwise ? p.in_c : p.out_c))));
	bias = s->bias ? random_floats(p.out_c, 0.5f) : NULL;
	slope = s->act == VISID_ACT_PRELU ? random_floats(p.out_c, 0.5f) : NULL;
	want = malloc(n_out * sizeof(*want));
	if (!in || !w || !want || (s->bias && !bias) || (s->act == VISID_ACT_PRELU && !slope)) {
		VT_CHECK(0, "out of memory");
		goto out_free;
	}
	visid_cpu_conv(&p, in, w, bias, slope, want);
	/* Few input channels: the shader takes the same weights reordered. */
	if (visid_vk_conv_wants_hwio(&p)) {
		w_vk = malloc(n_w * sizeof(*w_vk));
		VT_CHECK(w_vk != NULL, "out of memory");
		if (!w_vk)
			goto out_free;
		visid_vk_conv_to_hwio(&p, w, w_vk);
	}

	snprintf(c.what, sizeof(c.what), "%s %dx%dx%d -> %dx%dx%d k%d s%d pad %d,%d %s%s n%d%s",
		 depthwise ? "depthwise" : "conv", p.in_h, p.in_w, p.in_c, p.out_h, p.out_w,
		 p.out_c, s->kernel, s->stride, p.pad_top, p.pad_left, act_names[s->act],
		 s->bias ? " bias" : "", s->batch, w_vk ? " hwio" : "");
	c.in[0] = in;
	c.in_n[0] = n_in;
	c.in[1] = w_vk ? w_vk : w;
	c.in_n[1] = n_w;
	c.in[2] = bias;
	c.in_n[2] = p.out_c;
	c.in[3] = slope;
	c.in_n[3] = p.out_c;
	c.want = want;
	c.out_n = n_out;
	run_case(&c);
out_free:
	free(in);
	free(w);
	free(w_vk);
	free(bias);
	free(slope);
	free(want);
}

enum { VALID = 0, SAME = 1 };
enum { NONE = VISID_ACT_NONE, RELU = VISID_ACT_RELU, PRELU = VISID_ACT_PRELU };

static void test_conv_pointwise(void)
{
	static const struct conv_shape shapes[] = {
		{ 1, 1, 1, 1, 1, 1, VALID, NONE, 1, 1 },
		{ 3, 5, 3, 5, 1, 1, VALID, RELU, 1, 1 },
		{ 7, 7, 4, 8, 1, 1, VALID, NONE, 0, 1 },
		{ 13, 11, 13, 7, 1, 1, VALID, PRELU, 1, 1 },
		{ 5, 3, 16, 13, 1, 1, VALID, RELU, 1, 2 },
		{ 16, 16, 32, 24, 1, 1, VALID, PRELU, 1, 1 },
		{ 9, 9, 8, 1, 1, 1, VALID, NONE, 1, 1 },
		{ 5, 7, 5, 3, 1, 1, SAME, RELU, 0, 1 },
		{ 12, 12, 64, 128, 1, 1, VALID, PRELU, 1, 1 },
		/* in_c not a multiple of 4, out_c one (short-range's 42 -> 48) */
		{ 16, 16, 42, 48, 1, 1, VALID, RELU, 1, 1 },
		{ 5, 3, 13, 12, 1, 1, VALID, PRELU, 0, 2 },
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		conv_case(&shapes[i], 0);
	VT_NO_VALIDATION_MESSAGES();
}

static void test_conv_dense(void)
{
	static const struct conv_shape shapes[] = {
		{ 7, 7, 3, 5, 3, 1, SAME, RELU, 1, 1 },		/* total 2: 1 + 1 */
		{ 8, 8, 4, 8, 3, 2, SAME, NONE, 1, 1 },		/* total 1: 0 + 1 */
		{ 7, 9, 4, 8, 3, 2, SAME, PRELU, 1, 1 },
		{ 13, 13, 3, 13, 5, 2, SAME, RELU, 1, 1 },	/* total 4 */
		{ 12, 12, 3, 7, 5, 2, SAME, NONE, 0, 1 },	/* total 3: 1 + 2 */
		{ 9, 7, 5, 3, 3, 1, VALID, NONE, 1, 2 },
		{ 11, 11, 8, 8, 3, 2, VALID, RELU, 1, 1 },
		{ 6, 6, 4, 4, 2, 2, SAME, NONE, 1, 1 },		/* total 0 */
		{ 5, 5, 4, 5, 2, 1, SAME, PRELU, 1, 1 },	/* even kernel, total 1 */
		{ 8, 8, 8, 4, 1, 2, SAME, NONE, 1, 1 },		/* strided 1x1 */
		{ 1, 1, 13, 7, 3, 1, SAME, RELU, 1, 1 },	/* all taps but one padded */
		{ 1, 3, 1, 1, 3, 1, SAME, NONE, 1, 1 },
		{ 24, 20, 32, 20, 3, 1, SAME, RELU, 1, 1 },
		{ 20, 20, 16, 28, 3, 2, SAME, PRELU, 1, 1 },
		/* RGB input layers: weights read four output channels at a time */
		{ 32, 32, 3, 24, 5, 2, SAME, RELU, 1, 1 },	/* short-range's first */
		{ 21, 19, 3, 32, 3, 2, SAME, RELU, 1, 2 },
		{ 17, 15, 3, 64, 3, 2, VALID, PRELU, 1, 1 },	/* MobileFaceNet's first */
		{ 9, 9, 3, 12, 3, 1, SAME, NONE, 0, 1 },	/* 8-channel tiles past out_c */
		{ 7, 6, 1, 4, 3, 1, SAME, RELU, 1, 1 },
		{ 10, 10, 13, 8, 3, 2, SAME, NONE, 1, 1 },
		{ 3, 3, 3, 8, 1, 2, SAME, NONE, 1, 1 },		/* strided 1x1, 4 pixels */
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		conv_case(&shapes[i], 0);
	VT_NO_VALIDATION_MESSAGES();
}

static void test_conv_depthwise(void)
{
	static const struct conv_shape shapes[] = {
		{ 7, 7, 1, 0, 3, 1, SAME, RELU, 1, 1 },
		{ 8, 8, 3, 0, 3, 2, SAME, NONE, 1, 1 },
		{ 9, 9, 4, 0, 3, 2, SAME, PRELU, 1, 1 },
		{ 16, 16, 32, 0, 3, 1, SAME, RELU, 1, 1 },
		{ 13, 11, 13, 0, 3, 1, SAME, NONE, 0, 1 },
		{ 7, 7, 8, 0, 7, 1, VALID, NONE, 1, 1 },	/* global 7x7 */
		{ 7, 7, 5, 0, 7, 1, VALID, PRELU, 1, 2 },
		{ 12, 10, 16, 0, 5, 2, SAME, RELU, 1, 1 },
		{ 5, 5, 4, 0, 3, 1, VALID, NONE, 1, 1 },
		{ 3, 3, 4, 0, 3, 2, SAME, RELU, 0, 1 },
		{ 14, 14, 24, 0, 3, 2, SAME, PRELU, 1, 1 },
		{ 1, 1, 7, 0, 3, 1, SAME, NONE, 1, 1 },
		/* Large enough for invocations that walk down several rows. */
		{ 48, 64, 64, 0, 3, 1, SAME, RELU, 1, 1 },
		{ 45, 64, 32, 0, 3, 2, SAME, PRELU, 1, 1 },
		{ 40, 64, 32, 0, 5, 1, SAME, NONE, 1, 1 },
		{ 64, 64, 6, 0, 3, 1, VALID, RELU, 0, 1 },
		{ 37, 32, 16, 0, 3, 1, SAME, RELU, 1, 2 },
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		conv_case(&shapes[i], 1);
	VT_NO_VALIDATION_MESSAGES();
}

/* A dense conv with the residual ADD (and shortcut pool) fused after it. */

struct residual_case {
	struct visid_conv_params conv;
	struct visid_vk_residual res;
};

static int record_conv_residual(const void *params, const struct visid_vk_view *in,
				struct visid_vk_view out)
{
	const struct residual_case *r = params;
	struct visid_vk_residual res = r->res;

	res.view = in[4];
	return visid_vk_conv_residual(seq, &r->conv, in[0], in[1], in[2], in[3], &res, out,
				      "conv with residual under test");
}

/* The same thing from the references: conv, maxpool of the shortcut, add. */
static void residual_reference(const struct residual_case *r, const float *in, const float *w,
			       const float *bias, const float *slope, const float *shortcut,
			       float *want)
{
	const struct visid_conv_params *p = &r->conv;
	size_t pixels = (size_t)p->batch * p->out_h * p->out_w;
	struct visid_pool_params pool = {
		.batch = p->batch, .in_h = 2 * p->out_h, .in_w = 2 * p->out_w, .c = r->res.c,
		.out_h = p->out_h, .out_w = p->out_w, .kernel_h = 2, .kernel_w = 2,
		.stride_h = 2, .stride_w = 2,
	};
	struct visid_add_params add = { pixels, p->out_c, r->res.c, r->res.act };
	float *conv = malloc(pixels * p->out_c * sizeof(float));
	float *pooled = malloc(pixels * r->res.c * sizeof(float));

	if (!conv || !pooled) {
		VT_CHECK(0, "out of memory");
		goto out_free;
	}
	visid_cpu_conv(p, in, w, bias, slope, conv);
	if (r->res.pool)
		visid_cpu_maxpool(&pool, shortcut, pooled);
	visid_cpu_add(&add, conv, r->res.pool ? pooled : shortcut, NULL, want);
out_free:
	free(conv);
	free(pooled);
}

static void test_conv_residual(void)
{
	static const int shapes[][8] = { /* h, w, in_c, out_c, kernel, res_c, pool, relu */
		{ 8, 8, 16, 16, 1, 16, 0, 1 },	 { 7, 5, 8, 12, 1, 8, 0, 1 },
		{ 6, 6, 24, 28, 1, 24, 1, 1 },	 { 5, 3, 12, 42, 1, 36, 0, 0 },
		{ 4, 4, 42, 48, 1, 42, 1, 1 },	 { 9, 9, 32, 32, 1, 32, 0, 0 },
		{ 7, 7, 4, 8, 3, 8, 0, 1 },	 { 6, 6, 8, 12, 3, 8, 1, 0 },
		{ 1, 1, 64, 64, 1, 64, 0, 0 },	 { 5, 5, 13, 7, 1, 5, 0, 1 },
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const int *s = shapes[i];
		struct residual_case r = {
		    .conv = {.batch = 1,
			     .in_h = s[0],
			     .in_w = s[1],
			     .in_c = s[2],
			     .out_h = s[0],
			     .out_w = s[1],
			     .out_c = s[3],
			     .kernel_h = s[4],
			     .kernel_w = s[4],
			     .stride_h = 1,
			     .stride_w = 1,
			     .pad_top = s[4] / 2,
			     .pad_left = s[4] / 2,
			     .act = VISID_ACT_PRELU},
		    .res = {.c = s[5], .pool = s[6], .act = s[7] ? VISID_ACT_RELU : VISID_ACT_NONE},
		};
		struct op_case c = { .in_count = 5, .record = record_conv_residual, .params = &r };
		size_t pixels = (size_t)s[0] * s[1], n_w = (size_t)s[3] * s[4] * s[4] * s[2];
		float *in = random_floats(pixels * s[2], 1.0f);
		float *w = random_floats(n_w, 1.0f / sqrtf((float)(n_w / s[3])));
		float *bias = random_floats(s[3], 0.5f), *slope = random_floats(s[3], 0.5f);
		float *shortcut = random_floats(pixels * s[5] * (s[6] ? 4 : 1), 1.0f);
		float *want = malloc(pixels * s[3] * sizeof(float));

		if (in && w && bias && slope && shortcut && want) {
			residual_reference(&r, in, w, bias, slope, shortcut, want);
			snprintf(c.what, sizeof(c.what),
				 "conv %dx%dx%d -> %d k%d + residual %d%s%s", s[0], s[1], s[2],
				 s[3], s[4], s[5], s[6] ? " pooled" : "", s[7] ? " relu" : "");
			c.in[0] = in;
			c.in_n[0] = pixels * s[2];
			c.in[1] = w;
			c.in_n[1] = n_w;
			c.in[2] = bias;
			c.in_n[2] = s[3];
			c.in[3] = slope;
			c.in_n[3] = s[3];
			c.in[4] = shortcut;
			c.in_n[4] = pixels * s[5] * (s[6] ? 4 : 1);
			c.want = want;
			c.out_n = pixels * s[3];
			run_case(&c);
		}
		free(in);
		free(w);
		free(bias);
		free(slope);
		free(shortcut);
		free(want);
	}
	VT_NO_VALIDATION_MESSAGES();
}

/* Pooling */

static int record_pool(const void *params, const struct visid_vk_view *in,
		       struct visid_vk_view out)
{
	return visid_vk_maxpool(seq, params, in[0], out, "maxpool under test");
}

static void test_maxpool(void)
{
	static const int shapes[][6] = {	/* h, w, c, kernel, stride, same */
		{ 8, 8, 4, 2, 2, VALID }, { 7, 7, 3, 2, 2, VALID }, { 7, 7, 13, 3, 2, SAME },
		{ 6, 5, 1, 2, 2, SAME }, { 16, 16, 32, 2, 2, VALID }, { 5, 5, 8, 3, 1, SAME },
		{ 1, 1, 5, 2, 2, SAME },
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const int *s = shapes[i];
		struct visid_pool_params p = { .batch = 1, .in_h = s[0], .in_w = s[1], .c = s[2],
					       .kernel_h = s[3], .kernel_w = s[3],
					       .stride_h = s[4], .stride_w = s[4] };
		struct op_case c = { .in_count = 1, .record = record_pool, .params = &p };
		float *in, *want;

		conv_axis(s[0], s[3], s[4], s[5], &p.out_h, &p.pad_top);
		conv_axis(s[1], s[3], s[4], s[5], &p.out_w, &p.pad_left);
		c.in_n[0] = (size_t)p.in_h * p.in_w * p.c;
		c.out_n = (size_t)p.out_h * p.out_w * p.c;
		in = random_floats(c.in_n[0], 4.0f);
		want = malloc(c.out_n * sizeof(*want));
		if (in && want) {
			visid_cpu_maxpool(&p, in, want);
			snprintf(c.what, sizeof(c.what), "maxpool %dx%dx%d k%d s%d pad %d,%d", s[0],
				 s[1], s[2], s[3], s[4], p.pad_top, p.pad_left);
			c.in[0] = in;
			c.want = want;
			run_case(&c);
		}
		free(in);
		free(want);
	}
	VT_NO_VALIDATION_MESSAGES();
}

/* Residual add and elementwise ops */

static int record_add(const void *params, const struct visid_vk_view *in,
		      struct visid_vk_view out)
{
	return visid_vk_add(seq, params, in[0], in[1], in[2], out, "add under test");
}

static void test_add(void)
{
	static const int shapes[][4] = {	/* pixels, c, b_c, act */
		{ 37, 8, 8, NONE }, { 37, 8, 4, RELU }, { 13, 13, 5, PRELU }, { 20, 16, 12, PRELU },
		{ 7, 3, 3, RELU }, { 9, 4, 0, NONE }, { 1, 1, 1, PRELU }, { 257, 24, 24, RELU },
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const int *s = shapes[i];
		struct visid_add_params p = { s[0], s[1], s[2], s[3] };
		struct op_case c = { .in_count = 3, .record = record_add, .params = &p };
		float *a = random_floats((size_t)s[0] * s[1], 2.0f);
		float *b = random_floats((size_t)s[0] * s[2], 2.0f);
		float *slope = s[3] == PRELU ? random_floats(s[1], 1.0f) : NULL;
		float *want = malloc((size_t)s[0] * s[1] * sizeof(*want));

		if (a && b && want) {
			visid_cpu_add(&p, a, s[2] ? b : NULL, slope, want);
			snprintf(c.what, sizeof(c.what), "add %d pixels %d + %d channels %s", s[0],
				 s[1], s[2], act_names[s[3]]);
			c.in[0] = a;
			c.in_n[0] = (size_t)s[0] * s[1];
			c.in[1] = s[2] ? b : NULL;
			c.in_n[1] = (size_t)s[0] * s[2];
			c.in[2] = slope;
			c.in_n[2] = s[1];
			c.want = want;
			c.out_n = (size_t)s[0] * s[1];
			run_case(&c);
		}
		free(a);
		free(b);
		free(slope);
		free(want);
	}
	VT_NO_VALIDATION_MESSAGES();
}

static int record_eltwise(const void *params, const struct visid_vk_view *in,
			  struct visid_vk_view out)
{
	return visid_vk_eltwise(seq, params, in[0], in[1], out, "eltwise under test");
}

static void test_eltwise(void)
{
	static const char *const names[] = { "relu", "abs", "prelu", "add", "sub", "mul" };
	static const int cases[][3] = {	/* op, b per channel (-1: no b), c */
		{ VISID_ELT_RELU, -1, 5 }, { VISID_ELT_ABS, -1, 8 }, { VISID_ELT_PRELU, 1, 5 },
		{ VISID_ELT_PRELU, 1, 8 }, { VISID_ELT_ADD, 1, 5 }, { VISID_ELT_ADD, 0, 8 },
		{ VISID_ELT_SUB, 0, 5 }, { VISID_ELT_SUB, 1, 3 }, { VISID_ELT_MUL, 0, 7 },
		{ VISID_ELT_MUL, 1, 8 },
	};
	const size_t pixels = 45;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const int *s = cases[i];
		struct visid_eltwise_params p = { s[0], pixels, s[2], s[1] == 1 };
		struct op_case c = { .in_count = 2, .record = record_eltwise, .params = &p };
		size_t n = pixels * s[2], nb = s[1] < 0 ? 0 : s[1] ? (size_t)s[2] : n;
		float *a = random_floats(n, 3.0f), *b = random_floats(nb, 2.0f);
		float *want = malloc(n * sizeof(*want));

		if (a && b && want) {
			visid_cpu_eltwise(&p, a, nb ? b : NULL, want);
			snprintf(c.what, sizeof(c.what), "eltwise %s over %zux%d, b of %zu",
				 names[s[0]], pixels, s[2], nb);
			c.in[0] = a;
			c.in_n[0] = n;
			c.in[1] = nb ? b : NULL;
			c.in_n[1] = nb;
			c.want = want;
			c.out_n = n;
			run_case(&c);
		}
		free(a);
		free(b);
		free(want);
	}
	VT_NO_VALIDATION_MESSAGES();
}

/* Resize, pad, copy */

static int record_resize(const void *params, const struct visid_vk_view *in,
			 struct visid_vk_view out)
{
	return visid_vk_resize(seq, params, in[0], out, "resize under test");
}

static void test_resize(void)
{
	static const int shapes[][7] = {	/* in h, w, c, out h, w, align, half */
		{ 4, 4, 3, 8, 8, 0, 1 }, { 5, 7, 4, 10, 14, 0, 1 }, { 6, 6, 1, 3, 3, 0, 0 },
		{ 5, 5, 2, 9, 9, 1, 0 }, { 3, 5, 5, 7, 4, 0, 1 }, { 8, 8, 8, 16, 16, 0, 0 },
		{ 1, 1, 3, 2, 2, 0, 1 }, { 6, 4, 4, 11, 13, 1, 0 },
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const int *s = shapes[i];
		struct visid_resize_params p = { 1, s[0], s[1], s[2], s[3], s[4], s[5], s[6] };
		struct op_case c = { .in_count = 1, .record = record_resize, .params = &p };
		float *in, *want;

		c.in_n[0] = (size_t)s[0] * s[1] * s[2];
		c.out_n = (size_t)s[3] * s[4] * s[2];
		in = random_floats(c.in_n[0], 5.0f);
		want = malloc(c.out_n * sizeof(*want));
		if (in && want) {
			visid_cpu_resize(&p, in, want);
			snprintf(c.what, sizeof(c.what), "resize %dx%dx%d -> %dx%d%s%s", s[0], s[1],
				 s[2], s[3], s[4], s[5] ? " align_corners" : "",
				 s[6] ? " half_pixel" : "");
			c.in[0] = in;
			c.want = want;
			run_case(&c);
		}
		free(in);
		free(want);
	}
	VT_NO_VALIDATION_MESSAGES();
}

static int record_pad(const void *params, const struct visid_vk_view *in,
		      struct visid_vk_view out)
{
	return visid_vk_pad(seq, params, in[0], out, "pad under test");
}

static void test_pad(void)
{
	static const struct visid_pad_params cases[] = {
		{ { 1, 5, 5, 3 }, { 1, 5, 5, 8 }, { 0, 0, 0, 0 } },
		{ { 1, 4, 5, 2 }, { 1, 7, 6, 2 }, { 0, 1, 0, 0 } },
		{ { 2, 3, 3, 1 }, { 3, 3, 3, 1 }, { 1, 0, 0, 0 } },
		{ { 1, 3, 7, 5 }, { 1, 6, 10, 9 }, { 0, 2, 1, 3 } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct visid_pad_params *p = &cases[i];
		struct op_case c = { .in_count = 1, .record = record_pad, .params = p };
		float *in, *want;

		c.in_n[0] = (size_t)p->in[0] * p->in[1] * p->in[2] * p->in[3];
		c.out_n = (size_t)p->out[0] * p->out[1] * p->out[2] * p->out[3];
		in = random_floats(c.in_n[0], 1.0f);
		want = malloc(c.out_n * sizeof(*want));
		if (in && want) {
			visid_cpu_pad(p, in, want);
			snprintf(c.what, sizeof(c.what), "pad %dx%dx%dx%d -> %dx%dx%dx%d", p->in[0],
				 p->in[1], p->in[2], p->in[3], p->out[0], p->out[1], p->out[2],
				 p->out[3]);
			c.in[0] = in;
			c.want = want;
			run_case(&c);
		}
		free(in);
		free(want);
	}
	VT_NO_VALIDATION_MESSAGES();
}

static int record_copy(const void *params, const struct visid_vk_view *in,
		       struct visid_vk_view out)
{
	return visid_vk_copy(seq, params, in[0], out, "copy under test");
}

static void test_copy(void)
{
	static const struct visid_copy_params cases[] = {
		{ 12, 5, 13, 3 }, { 1, 17, 17, 0 }, { 30, 8, 24, 16 }, { 7, 1, 3, 2 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct visid_copy_params *p = &cases[i];
		struct op_case c = { .in_count = 1, .record = record_copy, .params = p };
		float *in, *want;

		c.in_n[0] = p->outer * p->inner_in;
		c.out_n = p->outer * p->inner_out;
		in = random_floats(c.in_n[0], 1.0f);
		want = malloc(c.out_n * sizeof(*want));
		if (in && want) {
			memset(want, 0, c.out_n * sizeof(*want));
			visid_cpu_copy(p, in, want);
			c.partial = 1;
			snprintf(c.what, sizeof(c.what), "copy %zu x %zu floats at %zu of %zu",
				 p->outer, p->inner_in, p->offset, p->inner_out);
			c.in[0] = in;
			c.want = want;
			run_case(&c);
		}
		free(in);
		free(want);
	}
	VT_NO_VALIDATION_MESSAGES();
}

/* fp32 floats into the sequence's tensors: rounded to fp16 there, copied as they are else. */
static void test_from_fp32(void)
{
	const size_t n = 1001;
	float *data = random_floats(n, 3.0f), *got = malloc(n * sizeof(float));

	for (size_t i = 0; data && i < n; i++)
		data[i] *= 1.0f + 1.0f / 4096;	/* no longer exact in fp16 */
	for (size_t m = 0; data && got && m < sizeof(modes) / sizeof(modes[0]); m++) {
		int fp16 = modes[m].tensors == VISID_VK_TENSORS_FP16;
		struct visid_vk_buffer *in = upload(data, n, 0, "fp32 input"), *out = NULL;
		double worst = 0;
		int ret;

		if (fp16 && !visid_vk_has_fp16_tensors(vt_gpu))
			continue;
		ret = in ? visid_vk_buffer_create(vt_gpu, n * (fp16 ? 2 : 4),
						  VISID_VK_BUFFER_DEVICE, "tensor", &out) : -ENOMEM;
		ret = ret ? ret : visid_vk_seq_begin(seq);
		ret = ret ? ret : visid_vk_seq_set_tensors(seq, modes[m].tensors);
		ret = ret ? ret : visid_vk_from_fp32(seq, n, visid_vk_whole(in),
						     visid_vk_whole(out), "from fp32 under test");
		ret = ret ? ret : visid_vk_seq_end(seq);
		ret = ret ? ret : visid_vk_seq_submit(seq);
		ret = ret ? ret : download(out, got, n, fp16);
		VT_CHECK(ret == 0, "from fp32, %s: %d", modes[m].name, ret);
		for (size_t i = 0; !ret && i < n; i++) {
			float want = fp16 ? visid_half_to_float(visid_half_from_float(data[i]))
					  : data[i];

			worst = fmax(worst, fabs((double)got[i] - want));
		}
		VT_CHECK(ret || worst == 0, "from fp32, %s: off by %.3g from the rounded input",
			 modes[m].name, worst);
		visid_vk_buffer_destroy(in);
		visid_vk_buffer_destroy(out);
	}
	free(data);
	free(got);
	VT_NO_VALIDATION_MESSAGES();
}

VISID_SUITE(vk_ops, "vk-ops", ops_init, ops_clean, vt_skip,
	    VISID_TEST(test_conv_pointwise),
	    VISID_TEST(test_conv_dense),
	    VISID_TEST(test_conv_depthwise),
	    VISID_TEST(test_conv_residual),
	    VISID_TEST(test_maxpool),
	    VISID_TEST(test_add),
	    VISID_TEST(test_eltwise),
	    VISID_TEST(test_resize),
	    VISID_TEST(test_pad),
	    VISID_TEST(test_copy),
	    VISID_TEST(test_from_fp32))
