/*
 * Bindings, specialization constants and the output step shared by the
 * dense convolutions: each invocation accumulates a tile of TP output
 * pixels by TO output channels in fp32, then adds bias, applies the
 * activation and stores. Channels are read as vec4 when VEC4 (in_c a
 * multiple of four), one by one otherwise.
 */
#ifndef VISID_CONV_COMMON_GLSL
#define VISID_CONV_COMMON_GLSL

#include "common.glsl"

layout(constant_id = 1) const int TP = 4;
layout(constant_id = 2) const int TO = 4;
layout(constant_id = 3) const bool VEC4 = false;
layout(constant_id = 4) const int ACT = ACT_NONE;
layout(constant_id = 5) const bool HAS_BIAS = false;

layout(std430, binding = 0) readonly buffer In { float src[]; };
layout(std430, binding = 0) readonly buffer In4 { vec4 src4[]; };
layout(std430, binding = 1) readonly buffer Weights { float wgt[]; };
layout(std430, binding = 1) readonly buffer Weights4 { vec4 wgt4[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) readonly buffer Slope { float slope[]; };
layout(std430, binding = 4) writeonly buffer Out { float dst[]; };

float acc[TP * TO];

/* Output pixel pp of the tile lives at dst[pixel_base[pp] + oc]; valid[pp] says it exists. */
void store_tile(uint pixel_base[TP], bool valid[TP], int oc0, int out_c)
{
	for (int o = 0; o < TO; o++) {
		int oc = oc0 + o;
		if (oc >= out_c)
			break;
		float b = HAS_BIAS ? bias[oc] : 0.0;
		float s = ACT == ACT_PRELU ? slope[oc] : 0.0;
		for (int pp = 0; pp < TP; pp++) {
			float v = acc[pp * TO + o] + b;
			if (ACT == ACT_RELU)
				v = max(v, 0.0);
			else if (ACT == ACT_PRELU)
				v = v > 0.0 ? v : s * v;
			if (valid[pp])
				dst[pixel_base[pp] + oc] = v;
		}
	}
}

/* Adds one step of input channels: x[pp] for TP pixels, weights at wbase[o] + c. */
#define CONV_STEP_VEC4(x, wbase, c)                                                      \
	for (int o = 0; o < TO; o++) {                                                   \
		vec4 w = wgt4[wbase[o] + c];                                             \
		for (int pp = 0; pp < TP; pp++)                                          \
			acc[pp * TO + o] += dot(x[pp], w);                               \
	}

#define CONV_STEP_SCALAR(x, wbase, c)                                                    \
	for (int o = 0; o < TO; o++) {                                                   \
		float w = wgt[wbase[o] + c];                                             \
		for (int pp = 0; pp < TP; pp++)                                          \
			acc[pp * TO + o] += x[pp] * w;                                   \
	}

#endif
