/*
 * The operator kernels both backends implement, with their parameters.
 * runtime/cpu_ops.c holds the plain C reference of each; runtime/vk_ops.c
 * records the matching shader. Tensors are float32 NHWC, dense.
 */
#ifndef VISID_KERNELS_H
#define VISID_KERNELS_H

#include <stddef.h>

enum visid_act {
	VISID_ACT_NONE,
	VISID_ACT_RELU,
	VISID_ACT_PRELU,	/* x > 0 ? x : slope[c] * x */
};

/*
 * Dense or depthwise 2-D convolution, bias and activation fused.
 * Weights: dense [out_c][kernel_h][kernel_w][in_c]; depthwise
 * [kernel_h][kernel_w][c] with out_c == in_c. Bias [out_c] or NULL,
 * slope [out_c] when act is PRELU. Padding is explicit: TensorFlow SAME puts
 * floor(total / 2) before and the rest after.
 */
struct visid_conv_params {
	int batch;
	int in_h, in_w, in_c;
	int out_h, out_w, out_c;
	int kernel_h, kernel_w;
	int stride_h, stride_w;
	int pad_top, pad_left;
	int depthwise;
	enum visid_act act;
};

/* Max pooling; padded positions are ignored. */
struct visid_pool_params {
	int batch;
	int in_h, in_w, c;
	int out_h, out_w;
	int kernel_h, kernel_w;
	int stride_h, stride_w;
	int pad_top, pad_left;
};

/*
 * out = act(a + b) over pixels x channels. b has b_c <= c channels per pixel
 * and the missing channels count as zero (TFLite's channel PAD before a
 * residual ADD, fused). slope as for conv.
 */
struct visid_add_params {
	size_t pixels;
	int c, b_c;
	enum visid_act act;
};

/* Elementwise ops that were not fused into a conv or add. */
enum visid_eltwise_op {
	VISID_ELT_RELU,
	VISID_ELT_ABS,
	VISID_ELT_PRELU,	/* b = slope [c] */
	VISID_ELT_ADD,
	VISID_ELT_SUB,
	VISID_ELT_MUL,
};

/* b is NULL (unary), per-channel [c] (b_per_channel), or the same shape. */
struct visid_eltwise_params {
	enum visid_eltwise_op op;
	size_t pixels;
	int c;
	int b_per_channel;
};

/* Bilinear resize, TensorFlow semantics (align_corners, half_pixel_centers). */
struct visid_resize_params {
	int batch;
	int in_h, in_w, c;
	int out_h, out_w;
	int align_corners;
	int half_pixel_centers;
};

/* Zero padding of a 4-D NHWC tensor. */
struct visid_pad_params {
	int in[4];
	int out[4];
	int before[4];
};

/*
 * Strided copy, the building block of CONCATENATION: for each of `outer`
 * blocks, `inner_in` contiguous floats of the input go to offset `offset`
 * inside the output block of `inner_out` floats.
 */
struct visid_copy_params {
	size_t outer;
	size_t inner_in;
	size_t inner_out;
	size_t offset;
};

void visid_cpu_conv(const struct visid_conv_params *p, const float *in, const float *weights,
		    const float *bias, const float *slope, float *out);
/*
 * The dense conv with its weights already as [kh][kw][in_c][out_c], the
 * layout the C kernel sums in: the CPU backend repacks each layer once, at
 * creation (visid_cpu_dense_to_hwio); visid_cpu_conv repacks per call.
 */
void visid_cpu_dense_to_hwio(const struct visid_conv_params *p, const float *weights,
			     float *hwio);
void visid_cpu_conv_hwio(const struct visid_conv_params *p, const float *in, const float *hwio,
			 const float *bias, const float *slope, float *out);
void visid_cpu_maxpool(const struct visid_pool_params *p, const float *in, float *out);
void visid_cpu_add(const struct visid_add_params *p, const float *a, const float *b,
		   const float *slope, float *out);
void visid_cpu_eltwise(const struct visid_eltwise_params *p, const float *a, const float *b,
		       float *out);
void visid_cpu_resize(const struct visid_resize_params *p, const float *in, float *out);
void visid_cpu_pad(const struct visid_pad_params *p, const float *in, float *out);
void visid_cpu_copy(const struct visid_copy_params *p, const float *in, float *out);

#endif
