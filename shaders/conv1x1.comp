#version 450
/*
 * Pointwise convolution (1x1, stride 1, no padding): a matrix product of
 * pixels by input channels with weights [out_c][in_c]. Invocations along x
 * take TP consecutive pixels; the group's y picks TO output channels, so the
 * weight reads are the same for the whole group.
 */
#extension GL_GOOGLE_include_directive : require
#include "conv_common.glsl"

layout(push_constant) uniform Params {
	uint pixels;
	int in_c;
	int out_c;
} p;

void main()
{
	uint tile = gl_GlobalInvocationID.x;
	uint first = tile * TP;

	if (first >= p.pixels)
		return;
	int oc0 = int(gl_WorkGroupID.y) * TO;
	int steps = VEC4 ? p.in_c / 4 : p.in_c;

	uint base[TP];
	bool valid[TP];
	for (int pp = 0; pp < TP; pp++) {
		uint px = first + pp;
		valid[pp] = px < p.pixels;
		base[pp] = min(px, p.pixels - 1) * steps;
	}
	uint wbase[TO];
	for (int o = 0; o < TO; o++)
		wbase[o] = min(oc0 + o, p.out_c - 1) * steps;
	for (int i = 0; i < TP * TO; i++)
		acc[i] = 0.0;

	if (VEC4) {
		for (int c = 0; c < steps; c++) {
			vec4 x[TP];
			for (int pp = 0; pp < TP; pp++)
				x[pp] = src4[base[pp] + c];
			CONV_STEP_VEC4(x, wbase, c)
		}
	} else {
		for (int c = 0; c < steps; c++) {
			float x[TP];
			for (int pp = 0; pp < TP; pp++)
				x[pp] = src[base[pp] + c];
			CONV_STEP_SCALAR(x, wbase, c)
		}
	}

	uint out_base[TP];
	for (int pp = 0; pp < TP; pp++)
		out_base[pp] = min(first + pp, p.pixels - 1) * p.out_c;
	store_tile(out_base, valid, oc0, p.out_c);
}
