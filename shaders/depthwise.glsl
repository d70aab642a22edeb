/*
 * Depthwise KxK convolution, weights [kh][kw][c]. Each invocation computes
 * a tile of TH rows by TP neighbouring output pixels for one channel (four
 * when VEC4): the weights are read once per tile and each input row span
 * once for every output row it touches. Kernel size and strides are
 * specialization constants so the tap loops unroll. Invocations past the
 * end compute a copy of the last element and store nothing.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 1) const int TP = 4;
layout(constant_id = 2) const int KH = 3;
layout(constant_id = 3) const int KW = 3;
layout(constant_id = 4) const int SW = 1;
layout(constant_id = 5) const bool VEC4 = false;
layout(constant_id = 6) const int ACT = ACT_NONE;
layout(constant_id = 7) const bool HAS_BIAS = false;
layout(constant_id = 8) const int TH = 1;
layout(constant_id = 9) const int SH = 1;

const int SPAN = (TP - 1) * SW + KW;

INPUT(0, src)
INPUT(1, wgt)
INPUT(2, bias)
INPUT(3, slope)
OUTPUT(4, dst)

layout(push_constant) uniform Params {
	int in_h, in_w, c;	/* c in vec4s when VEC4 */
	int out_h, out_w;
	int pad_top, pad_left;
	int tiles_w, tiles_h;
	uint total;		/* batch * tiles_h * tiles_w * c */
} p;

vec4 load(uint at)
{
	return VEC4 ? FETCH4(src, at) : vec4(FETCH(src, at), 0.0, 0.0, 0.0);
}

vec4 weight(uint at)
{
	return VEC4 ? FETCH4(wgt, at) : vec4(FETCH(wgt, at), 0.0, 0.0, 0.0);
}

void main()
{
	uint i = min(flat_invocation(), p.total - 1);
	bool live = flat_invocation() < p.total;
	uint tile = i / uint(p.c);
	int c = int(i - tile * uint(p.c));
	uint row = tile / uint(p.tiles_w);
	int ox0 = int(tile - row * uint(p.tiles_w)) * TP;
	int oy0 = int(row % uint(p.tiles_h)) * TH;
	uint n = row / uint(p.tiles_h);
	int ix0 = ox0 * SW - p.pad_left;

	vec4 w[KH * KW];
	for (int t = 0; t < KH * KW; t++)
		w[t] = weight(t * p.c + c);
	vec4 acc[TH * TP];
	for (int a = 0; a < TH * TP; a++)
		acc[a] = vec4(0.0);
	/* Input row r of the tile feeds output row th through kernel row r - th * SH. */
	for (int r = 0; r < (TH - 1) * SH + KH; r++) {
		int iy = oy0 * SH - p.pad_top + r;
		float row_keep = iy >= 0 && iy < p.in_h ? 1.0 : 0.0;
		uint in_row = (n * p.in_h + clamp(iy, 0, p.in_h - 1)) * p.in_w;
		vec4 x[SPAN];
		for (int j = 0; j < SPAN; j++) {
			int ix = ix0 + j;
			bool inside = ix >= 0 && ix < p.in_w;
			x[j] = load((in_row + (inside ? ix : 0)) * p.c + c) *
			       (inside ? row_keep : 0.0);
		}
		for (int th = 0; th < TH; th++) {
			int ky = r - th * SH;
			if (ky < 0 || ky >= KH)
				continue;
			for (int kx = 0; kx < KW; kx++)
				for (int pp = 0; pp < TP; pp++)
					acc[th * TP + pp] += x[pp * SW + kx] * w[ky * KW + kx];
		}
	}

	vec4 b = vec4(0.0), s = vec4(0.0);
	if (HAS_BIAS)
		b = VEC4 ? FETCH4(bias, c) : vec4(FETCH(bias, c));
	if (ACT == ACT_PRELU)
		s = VEC4 ? FETCH4(slope, c) : vec4(FETCH(slope, c));
	for (int th = 0; th < TH; th++) {
		int oy = oy0 + th;
		for (int pp = 0; pp < TP; pp++) {
			int ox = ox0 + pp;
			vec4 v = activate4(acc[th * TP + pp] + b, ACT, s);
			uint at = ((n * p.out_h + min(oy, p.out_h - 1)) * p.out_w +
				   min(ox, p.out_w - 1)) * p.c + c;
			if (!live || ox >= p.out_w || oy >= p.out_h)
				continue;
			if (VEC4)
				STORE4(dst, at, v);
			else
				STORE(dst, at, v.x);
		}
	}
}
