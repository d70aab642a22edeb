/*
 * Dense KxK convolution, any stride and explicit padding; weights
 * [out_c][kh][kw][in_c]. Each invocation takes TP neighbouring output
 * pixels of one row by TO output channels; neighbour invocations take the
 * neighbour channel groups. Taps that fall in the padding read a valid
 * address and are multiplied by zero, which keeps the inner loop free of
 * branches; invocations past the end compute a copy of the last tile and
 * store nothing. Kernel size and strides are specialization constants so
 * that the tap loops unroll.
 *
 * With IC set (a few input channels, as in a network's first layer over
 * RGB) the weights are [kh][kw][in_c][out_c] and each tap reads four output
 * channels' weights in one vec4: a CPU implementation gathers a vec4 with
 * one load per invocation where it needs one per channel, and the weight
 * reads are most of what such a layer loads.
 */
#extension GL_GOOGLE_include_directive : require
#include "conv_common.glsl"

layout(constant_id = 11) const int KH = 3;
layout(constant_id = 12) const int KW = 3;
layout(constant_id = 13) const int SH = 1;
layout(constant_id = 14) const int SW = 1;
layout(constant_id = 15) const int IC = 0;

layout(push_constant) uniform Params {
	int in_h, in_w, in_c;
	int out_h, out_w, out_c;
	int pad_top, pad_left;
	int tiles_w;		/* tiles per output row */
	uint tiles;		/* batch * out_h * tiles_w */
	uint oc_groups;		/* out_c / TO, rounded up */
} p;

void main()
{
	uint inv = flat_invocation();
	uint tile = min(inv / p.oc_groups, p.tiles - 1);
	bool live = inv / p.oc_groups < p.tiles;
	uint row = tile / uint(p.tiles_w);
	int ox0 = int(tile - row * uint(p.tiles_w)) * TP;
	int oy = int(row % uint(p.out_h));
	uint n = row / uint(p.out_h);
	int oc0 = int(inv % p.oc_groups) * TO;
	int steps = VEC4 ? p.in_c / 4 : p.in_c;

	for (int i = 0; i < TP * TO; i++)
		acc[i] = 0.0;
	for (int ky = 0; ky < KH && IC > 0; ky++) {
		int iy = oy * SH - p.pad_top + ky;
		float row_keep = iy >= 0 && iy < p.in_h ? 1.0 : 0.0;
		uint in_row = (n * p.in_h + clamp(iy, 0, p.in_h - 1)) * p.in_w;
		for (int kx = 0; kx < KW; kx++) {
			uint base[TP];
			float keep[TP];
			for (int pp = 0; pp < TP; pp++) {
				int ix = (ox0 + pp) * SW - p.pad_left + kx;
				bool inside = ix >= 0 && ix < p.in_w;
				keep[pp] = inside ? row_keep : 0.0;
				base[pp] = (in_row + (inside ? ix : 0)) * IC;
			}
			for (int c = 0; c < IC; c++) {
				float x[TP];
				for (int pp = 0; pp < TP; pp++)
					x[pp] = FETCH(src, base[pp] + c) * keep[pp];
				uint w4 = ((ky * KW + kx) * IC + c) * (p.out_c / 4);
				for (int o = 0; o < TO; o += 4) {
					/* Channels past out_c (a multiple of 4) read the last four. */
					vec4 w = FETCH4(wgt, w4 + min(oc0 + o, p.out_c - 4) / 4);
					for (int pp = 0; pp < TP; pp++)
						for (int k = 0; k < 4; k++)
							acc[pp * TO + o + k] += x[pp] * w[k];
				}
			}
		}
	}
	for (int ky = 0; ky < KH && IC == 0; ky++) {
		int iy = oy * SH - p.pad_top + ky;
		float row_keep = iy >= 0 && iy < p.in_h ? 1.0 : 0.0;
		uint in_row = (n * p.in_h + clamp(iy, 0, p.in_h - 1)) * p.in_w;
		for (int kx = 0; kx < KW; kx++) {
			uint base[TP];
			float keep[TP];
			for (int pp = 0; pp < TP; pp++) {
				int ix = (ox0 + pp) * SW - p.pad_left + kx;
				bool inside = ix >= 0 && ix < p.in_w;
				keep[pp] = inside ? row_keep : 0.0;
				base[pp] = (in_row + (inside ? ix : 0)) * steps;
			}
			uint wbase[TO];
			for (int o = 0; o < TO; o++)
				wbase[o] = ((min(oc0 + o, p.out_c - 1) * KH + ky) * KW + kx) *
					   steps;
			if (VEC4) {
				for (int c = 0; c < steps; c++) {
					vec4 x[TP];
					for (int pp = 0; pp < TP; pp++)
						x[pp] = FETCH4(src, base[pp] + c) * keep[pp];
					CONV_STEP_VEC4(x, wbase, c)
				}
			} else {
				for (int c = 0; c < steps; c++) {
					float x[TP];
					for (int pp = 0; pp < TP; pp++)
						x[pp] = FETCH(src, base[pp] + c) * keep[pp];
					CONV_STEP_SCALAR(x, wbase, c)
				}
			}
		}
	}

	uint pixel[TP];
	bool valid[TP];
	for (int pp = 0; pp < TP; pp++) {
		int ox = ox0 + pp;
		valid[pp] = live && ox < p.out_w;
		pixel[pp] = (n * p.out_h + oy) * p.out_w + min(ox, p.out_w - 1);
	}
	store_tile(pixel, valid, oc0, p.out_c, p.out_w);
}
