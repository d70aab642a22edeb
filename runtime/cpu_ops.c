/*
 * The CPU reference of every kernel in kernels.h: plain C, float
 * accumulation, written to be read and trusted. The Vulkan shaders are
 * checked against these, and the golden tests check these against TFLite.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static inline float activate(enum visid_act act, float x, const float *slope, int c)
{
	switch (act) {
	case VISID_ACT_RELU:
		return x > 0.0f ? x : 0.0f;
	case VISID_ACT_PRELU:
		return x > 0.0f ? x : slope[c] * x;
	default:
		return x;
	}
}

/*
 * Dot product with eight partial sums: one running sum would wait on the
 * previous add every step; eight independent ones keep the FPU busy and
 * let the compiler use vector registers without reassociating anything.
 */
static float dot(const float *restrict a, const float *restrict b, int n)
{
	float s[8] = {0};
	int i = 0;

	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			s[j] += a[i + j] * b[i + j];
	for (int j = 0; i < n; i++, j++)
		s[j] += a[i] * b[i];
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* acc += a * b elementwise, in blocks of eight the compiler turns into vector code. */
static void mul_add(float *restrict acc, const float *restrict a, const float *restrict b, int n)
{
	int i = 0;

	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			acc[i + j] += a[i + j] * b[i + j];
	for (; i < n; i++)
		acc[i] += a[i] * b[i];
}

/* acc += s * w elementwise, in blocks of eight as mul_add. */
static void scale_add(float *restrict acc, float s, const float *restrict w, int n)
{
	int i = 0;

	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			acc[i + j] += s * w[i + j];
	for (; i < n; i++)
		acc[i] += s * w[i];
}

/* Output pixels of a dense conv computed together, sharing each weight row. */
#define DENSE_PIXELS 4

/*
 * Up to DENSE_PIXELS neighbouring output pixels of one row of a dense conv,
 * all out_c values each, with the weights as [kh][kw][in_c][out_c] (hwio):
 * each input value scales a row of out_c weights into its pixel's sums, so
 * the inner loop runs over out_c whatever in_c is (3 for a network's first
 * layer) and one weight row, read once, serves every pixel of the block.
 */
static void conv_dense_pixels(const struct visid_conv_params *p, const float *in,
			      const float *hwio, int oy, int ox, int n, float *acc)
{
	int iy0 = oy * p->stride_h - p->pad_top;
	size_t row = (size_t)p->in_c * p->out_c;

	for (int ky = 0; ky < p->kernel_h; ky++) {
		int iy = iy0 + ky;

		if (iy < 0 || iy >= p->in_h)
			continue;
		for (int kx = 0; kx < p->kernel_w; kx++) {
			const float *w = hwio + ((size_t)ky * p->kernel_w + kx) * row;
			const float *src[DENSE_PIXELS];

			for (int k = 0; k < n; k++) {
				int ix = (ox + k) * p->stride_w - p->pad_left + kx;

				src[k] = ix < 0 || ix >= p->in_w
						 ? NULL
						 : in + ((size_t)iy * p->in_w + ix) * p->in_c;
			}
			for (int c = 0; c < p->in_c; c++, w += p->out_c)
				for (int k = 0; k < n; k++)
					if (src[k])
						scale_add(acc + (size_t)k * p->out_c, src[k][c], w,
							  p->out_c);
		}
	}
}

/* One output pixel of a dense conv, weights as given: the path without memory for hwio. */
static void conv_dense_pixel(const struct visid_conv_params *p, const float *in,
			     const float *weights, int oy, int ox, float *acc)
{
	int iy0 = oy * p->stride_h - p->pad_top;
	int ix0 = ox * p->stride_w - p->pad_left;

	for (int ky = 0; ky < p->kernel_h; ky++) {
		int iy = iy0 + ky;

		if (iy < 0 || iy >= p->in_h)
			continue;
		for (int kx = 0; kx < p->kernel_w; kx++) {
			int ix = ix0 + kx;
			const float *src;

			if (ix < 0 || ix >= p->in_w)
				continue;
			src = in + ((size_t)iy * p->in_w + ix) * p->in_c;
			for (int o = 0; o < p->out_c; o++) {
				const float *w =
				    weights +
				    (((size_t)o * p->kernel_h + ky) * p->kernel_w + kx) * p->in_c;

				acc[o] += dot(src, w, p->in_c);
			}
		}
	}
}

/* One output pixel of a depthwise conv: weights [kh][kw][c]. */
static void conv_depthwise_pixel(const struct visid_conv_params *p, const float *in,
				 const float *weights, int oy, int ox, float *acc)
{
	int iy0 = oy * p->stride_h - p->pad_top;
	int ix0 = ox * p->stride_w - p->pad_left;

	for (int ky = 0; ky < p->kernel_h; ky++) {
		int iy = iy0 + ky;

		if (iy < 0 || iy >= p->in_h)
			continue;
		for (int kx = 0; kx < p->kernel_w; kx++) {
			int ix = ix0 + kx;
			const float *src, *w;

			if (ix < 0 || ix >= p->in_w)
				continue;
			src = in + ((size_t)iy * p->in_w + ix) * p->in_c;
			w = weights + ((size_t)ky * p->kernel_w + kx) * p->in_c;
			mul_add(acc, src, w, p->in_c);
		}
	}
}

void visid_cpu_dense_to_hwio(const struct visid_conv_params *p, const float *weights,
			     float *hwio)
{
	size_t taps = (size_t)p->kernel_h * p->kernel_w * p->in_c;

	for (int o = 0; o < p->out_c; o++)
		for (size_t k = 0; k < taps; k++)
			hwio[k * p->out_c + o] = weights[(size_t)o * taps + k];
}

/*
 * Every output pixel: bias, the taps, the activation. Dense layers take
 * hwio weights, DENSE_PIXELS pixels at a time; depthwise ones (and dense
 * ones whose repacked copy could not be allocated) one pixel at a time.
 */
static void conv_loop(const struct visid_conv_params *p, const float *in, const float *weights,
		      const float *hwio, const float *bias, const float *slope, float *out)
{
	size_t in_image = (size_t)p->in_h * p->in_w * p->in_c;
	size_t out_image = (size_t)p->out_h * p->out_w * p->out_c;

	for (int n = 0; n < p->batch; n++) {
		const float *src = in + n * in_image;

		for (int oy = 0; oy < p->out_h; oy++) {
			for (int ox = 0; ox < p->out_w;) {
				float *acc =
				    out + n * out_image + ((size_t)oy * p->out_w + ox) * p->out_c;
				int pixels = hwio ? p->out_w - ox : 1;

				if (pixels > DENSE_PIXELS)
					pixels = DENSE_PIXELS;
				for (int o = 0; o < pixels * p->out_c; o++)
					acc[o] = bias ? bias[o % p->out_c] : 0.0f;
				if (hwio)
					conv_dense_pixels(p, src, hwio, oy, ox, pixels, acc);
				else if (p->depthwise)
					conv_depthwise_pixel(p, src, weights, oy, ox, acc);
				else
					conv_dense_pixel(p, src, weights, oy, ox, acc);
				for (int o = 0; o < pixels * p->out_c; o++)
					acc[o] = activate(p->act, acc[o], slope, o % p->out_c);
				ox += pixels;
			}
		}
	}
}

void visid_cpu_conv_hwio(const struct visid_conv_params *p, const float *in, const float *hwio,
			 const float *bias, const float *slope, float *out)
{
	conv_loop(p, in, NULL, hwio, bias, slope, out);
}

void visid_cpu_conv(const struct visid_conv_params *p, const float *in, const float *weights,
		    const float *bias, const float *slope, float *out)
{
	size_t count = (size_t)p->kernel_h * p->kernel_w * p->in_c * p->out_c;
	float *hwio = p->depthwise ? NULL : malloc(count * sizeof(*hwio));

	if (hwio)
		visid_cpu_dense_to_hwio(p, weights, hwio);
	conv_loop(p, in, weights, hwio, bias, slope, out);
	free(hwio);
}

void visid_cpu_maxpool(const struct visid_pool_params *p, const float *in, float *out)
{
	for (int n = 0; n < p->batch; n++) {
		const float *src = in + (size_t)n * p->in_h * p->in_w * p->c;

		for (int oy = 0; oy < p->out_h; oy++) {
			for (int ox = 0; ox < p->out_w; ox++) {
				float *dst =
				    out + (((size_t)n * p->out_h + oy) * p->out_w + ox) * p->c;

				for (int c = 0; c < p->c; c++)
					dst[c] = -INFINITY;
				for (int ky = 0; ky < p->kernel_h; ky++) {
					int iy = oy * p->stride_h - p->pad_top + ky;

					if (iy < 0 || iy >= p->in_h)
						continue;
					for (int kx = 0; kx < p->kernel_w; kx++) {
						int ix = ox * p->stride_w - p->pad_left + kx;
						const float *s;

						if (ix < 0 || ix >= p->in_w)
							continue;
						s = src + ((size_t)iy * p->in_w + ix) * p->c;
						for (int c = 0; c < p->c; c++)
							dst[c] = fmaxf(dst[c], s[c]);
					}
				}
			}
		}
	}
}

void visid_cpu_add(const struct visid_add_params *p, const float *a, const float *b,
		   const float *slope, float *out)
{
	for (size_t i = 0; i < p->pixels; i++) {
		const float *pa = a + i * p->c;
		const float *pb = b + i * p->b_c;
		float *po = out + i * p->c;

		for (int c = 0; c < p->c; c++) {
			float v = pa[c] + (c < p->b_c ? pb[c] : 0.0f);

			po[c] = activate(p->act, v, slope, c);
		}
	}
}

static inline float eltwise_one(enum visid_eltwise_op op, float a, float b)
{
	switch (op) {
	case VISID_ELT_RELU:
		return a > 0.0f ? a : 0.0f;
	case VISID_ELT_ABS:
		return fabsf(a);
	case VISID_ELT_PRELU:
		return a > 0.0f ? a : b * a;
	case VISID_ELT_ADD:
		return a + b;
	case VISID_ELT_SUB:
		return a - b;
	case VISID_ELT_MUL:
		return a * b;
	}
	return a;
}

void visid_cpu_eltwise(const struct visid_eltwise_params *p, const float *a, const float *b,
		       float *out)
{
	for (size_t i = 0; i < p->pixels; i++) {
		for (int c = 0; c < p->c; c++) {
			size_t k = i * p->c + c;
			float bv = 0.0f;

			if (b)
				bv = p->b_per_channel ? b[c] : b[k];
			out[k] = eltwise_one(p->op, a[k], bv);
		}
	}
}

/*
 * The source coordinate of output index `o` along one axis, as TensorFlow's
 * resize_bilinear computes it: align_corners scales by (in-1)/(out-1),
 * half_pixel_centers samples at pixel centres and clamps at 0 below.
 */
static void resize_axis(int o, int in, int out, int align_corners, int half_pixel, int *lo, int *hi,
			float *frac)
{
	float scale, src;

	if (align_corners && out > 1)
		scale = (float)(in - 1) / (float)(out - 1);
	else
		scale = (float)in / (float)out;
	if (half_pixel)
		src = ((float)o + 0.5f) * scale - 0.5f;
	else
		src = (float)o * scale;
	if (src < 0.0f)
		src = 0.0f;
	*lo = (int)floorf(src);
	if (*lo > in - 1)
		*lo = in - 1;
	*hi = *lo + 1 < in ? *lo + 1 : in - 1;
	*frac = src - (float)*lo;
}

void visid_cpu_resize(const struct visid_resize_params *p, const float *in, float *out)
{
	for (int n = 0; n < p->batch; n++) {
		const float *src = in + (size_t)n * p->in_h * p->in_w * p->c;

		for (int oy = 0; oy < p->out_h; oy++) {
			int y0, y1;
			float fy;

			resize_axis(oy, p->in_h, p->out_h, p->align_corners, p->half_pixel_centers,
				    &y0, &y1, &fy);
			for (int ox = 0; ox < p->out_w; ox++) {
				float *dst =
				    out + (((size_t)n * p->out_h + oy) * p->out_w + ox) * p->c;
				const float *r0, *r1;
				int x0, x1;
				float fx;

				resize_axis(ox, p->in_w, p->out_w, p->align_corners,
					    p->half_pixel_centers, &x0, &x1, &fx);
				r0 = src + (size_t)y0 * p->in_w * p->c;
				r1 = src + (size_t)y1 * p->in_w * p->c;
				for (int c = 0; c < p->c; c++) {
					float top = r0[x0 * p->c + c] +
						    (r0[x1 * p->c + c] - r0[x0 * p->c + c]) * fx;
					float bottom = r1[x0 * p->c + c] +
						       (r1[x1 * p->c + c] - r1[x0 * p->c + c]) * fx;

					dst[c] = top + (bottom - top) * fy;
				}
			}
		}
	}
}

void visid_cpu_pad(const struct visid_pad_params *p, const float *in, float *out)
{
	size_t total = (size_t)p->out[0] * p->out[1] * p->out[2] * p->out[3];

	memset(out, 0, total * sizeof(*out));
	for (int n = 0; n < p->in[0]; n++) {
		for (int y = 0; y < p->in[1]; y++) {
			for (int x = 0; x < p->in[2]; x++) {
				const float *s =
				    in + (((size_t)n * p->in[1] + y) * p->in[2] + x) * p->in[3];
				float *d =
				    out +
				    ((((size_t)n + p->before[0]) * p->out[1] + y + p->before[1]) *
					 p->out[2] +
				     x + p->before[2]) *
					p->out[3] +
				    p->before[3];

				memcpy(d, s, (size_t)p->in[3] * sizeof(*s));
			}
		}
	}
}

void visid_cpu_copy(const struct visid_copy_params *p, const float *in, float *out)
{
	for (size_t i = 0; i < p->outer; i++)
		memcpy(out + i * p->inner_out + p->offset, in + i * p->inner_in,
		       p->inner_in * sizeof(*in));
}
