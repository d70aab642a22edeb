/*
 * Bindings, specialization constants and the output step shared by the
 * dense convolutions. Each invocation accumulates a tile of TP output
 * pixels by TO output channels in fp32, then adds bias, applies the
 * activation, adds the residual tensor of a fused ADD (RES_C channels per
 * pixel, the missing ones zero: TFLite's channel PAD; with RES_POOL the
 * 2x2 stride 2 max pool of a tensor twice as high and wide) with the ADD's
 * own activation, and stores. Input channels are read as vec4 when VEC4 (in_c
 * a multiple of four); OUT4 stores vec4s (out_c and TO multiples of four)
 * and then reads bias and slope as vec4s too, and the residual when RES4
 * (RES_C a multiple of four as well).
 */
#ifndef VISID_CONV_COMMON_GLSL
#define VISID_CONV_COMMON_GLSL

#include "common.glsl"

layout(constant_id = 1) const int TP = 4;
layout(constant_id = 2) const int TO = 4;
layout(constant_id = 3) const bool VEC4 = false;
layout(constant_id = 4) const int ACT = ACT_NONE;
layout(constant_id = 5) const bool HAS_BIAS = false;
layout(constant_id = 6) const bool OUT4 = false;
layout(constant_id = 7) const int RES_C = 0;
layout(constant_id = 8) const int RES_ACT = ACT_NONE;
layout(constant_id = 9) const bool RES4 = false;
layout(constant_id = 10) const bool RES_POOL = false;

INPUT(0, src)
INPUT(1, wgt)
INPUT(2, bias)
INPUT(3, slope)
OUTPUT(4, dst)
INPUT(5, res)

float acc[TP * TO];

/* Index of residual channel oc of an output pixel: the top-left of its window when pooled. */
uint res_index(uint pixel, int oc, int out_w)
{
	if (!RES_POOL)
		return pixel * RES_C + oc;
	uint row = pixel / uint(out_w);
	uint x = pixel - row * uint(out_w);
	return (2 * row * uint(2 * out_w) + 2 * x) * RES_C + oc;
}

/* Residual channels oc..oc+3 of the pixel whose channel 0 is at `base` (res_index). */
vec4 residual4(uint base, int oc, int out_w)
{
	uint at = (base + oc) / 4;
	vec4 r = FETCH4(res, at);
	if (RES_POOL) {
		uint right = RES_C / 4, down = 2 * out_w * RES_C / 4;
		r = max(max(r, FETCH4(res, at + right)),
			max(FETCH4(res, at + down), FETCH4(res, at + down + right)));
	}
	return r;
}

float residual(uint base, int oc, int out_w)
{
	uint at = base + oc;
	float r = FETCH(res, at);
	if (RES_POOL) {
		uint right = RES_C, down = 2 * out_w * RES_C;
		r = max(max(r, FETCH(res, at + right)),
			max(FETCH(res, at + down), FETCH(res, at + down + right)));
	}
	return r;
}

/* Output pixel pp of the tile is pixel[pp]; valid[pp] says it exists. */
void store_tile(uint pixel[TP], bool valid[TP], int oc0, int out_c, int out_w)
{
	/*
	 * Where each pixel's residual starts, found once: finding it divides
	 * by out_w when pooled, and a CPU implementation divides lane by lane.
	 */
	uint rbase[TP];
	for (int pp = 0; pp < TP; pp++)
		rbase[pp] = RES_C > 0 ? res_index(pixel[pp], 0, out_w) : 0u;
	if (OUT4) {
		for (int o = 0; o < TO; o += 4) {
			int oc = oc0 + o;
			if (oc >= out_c)
				break;
			vec4 b = HAS_BIAS ? FETCH4(bias, oc / 4) : vec4(0.0);
			vec4 s = ACT == ACT_PRELU ? FETCH4(slope, oc / 4) : vec4(0.0);
			for (int pp = 0; pp < TP; pp++) {
				int a = pp * TO + o;
				vec4 v = vec4(acc[a], acc[a + 1], acc[a + 2], acc[a + 3]) + b;
				v = activate4(v, ACT, s);
				if (RES_C > 0) {
					if (RES4 && oc < RES_C)
						v += residual4(rbase[pp], oc, out_w);
					if (!RES4)
						for (int k = 0; k < 4; k++)
							if (oc + k < RES_C)
								v[k] += residual(rbase[pp],
										 oc + k, out_w);
					v = activate4(v, RES_ACT, vec4(0.0));
				}
				if (valid[pp])
					STORE4(dst, (pixel[pp] * out_c + oc) / 4, v);
			}
		}
		return;
	}
	for (int o = 0; o < TO; o++) {
		int oc = oc0 + o;
		if (oc >= out_c)
			break;
		float b = HAS_BIAS ? FETCH(bias, oc) : 0.0;
		float s = ACT == ACT_PRELU ? FETCH(slope, oc) : 0.0;
		for (int pp = 0; pp < TP; pp++) {
			float v = activate(acc[pp * TO + o] + b, ACT, s);
			if (RES_C > 0) {
				if (oc < RES_C)
					v += residual(rbase[pp], oc, out_w);
				v = activate(v, RES_ACT, 0.0);
			}
			if (valid[pp])
				STORE(dst, pixel[pp] * out_c + oc, v);
		}
	}
}

/* Adds one step of input channels: x[pp] for TP pixels, weights at wbase[o] + c. */
#define CONV_STEP_VEC4(x, wbase, c)                                                      \
	for (int o = 0; o < TO; o++) {                                                   \
		vec4 w = FETCH4(wgt, wbase[o] + c);                                      \
		for (int pp = 0; pp < TP; pp++)                                          \
			acc[pp * TO + o] += dot(x[pp], w);                               \
	}

#define CONV_STEP_SCALAR(x, wbase, c)                                                    \
	for (int o = 0; o < TO; o++) {                                                   \
		float w = FETCH(wgt, wbase[o] + c);                                      \
		for (int pp = 0; pp < TP; pp++)                                          \
			acc[pp * TO + o] += x[pp] * w;                                   \
	}

#endif
