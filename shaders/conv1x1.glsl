/*
 * Pointwise convolution (1x1, stride 1, no padding): a matrix product of
 * pixels by input channels with weights [out_c][in_c]. Each invocation
 * takes TP consecutive pixels by TO output channels; neighbour invocations
 * take the neighbour channel groups of the same pixels, so even a single
 * pixel spreads over many invocations. Invocations past the last pixel
 * compute a copy of it and store nothing: an early return would put the
 * whole body under a condition, which CPU implementations pay for.
 */
#extension GL_GOOGLE_include_directive : require
#include "conv_common.glsl"

layout(push_constant) uniform Params {
	uint pixels;
	int in_c;
	int out_c;
	uint oc_groups;		/* out_c / TO, rounded up */
	int out_w;		/* for a pooled residual */
} p;

void main()
{
	uint inv = flat_invocation();
	uint tile = inv / p.oc_groups;
	int oc0 = int(inv - tile * p.oc_groups) * TO;
	uint first = tile * TP;
	int steps = VEC4 ? p.in_c / 4 : p.in_c;

	uint pixel[TP];
	bool valid[TP];
	uint base[TP];
	for (int pp = 0; pp < TP; pp++) {
		valid[pp] = first + pp < p.pixels;
		pixel[pp] = min(first + pp, p.pixels - 1);
		base[pp] = pixel[pp] * steps;
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
				x[pp] = FETCH4(src, base[pp] + c);
			CONV_STEP_VEC4(x, wbase, c)
		}
	} else {
		for (int c = 0; c < steps; c++) {
			float x[TP];
			for (int pp = 0; pp < TP; pp++)
				x[pp] = FETCH(src, base[pp] + c);
			CONV_STEP_SCALAR(x, wbase, c)
		}
	}
	store_tile(pixel, valid, oc0, p.out_c, p.out_w);
}
