/*
 * Depthwise KxK convolution, weights [kh][kw][c]. Each invocation walks
 * down a column of TP neighbouring output pixels of one channel (four when
 * VEC4) for ROWS output rows, keeping the KH input rows under the
 * current output row in registers: going down a row reads only the SH
 * rows that enter the window, so an output costs SPAN * SH / TP fetches
 * instead of KH * SPAN / TP, and the weights are read once per column.
 * Every array index is a constant once the short loops unroll; the row
 * loop stays a loop with the same trip count in every lane. Rows past the
 * bottom and invocations past the end compute on clamped addresses and
 * store nothing.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 1) const int TP = 2;
layout(constant_id = 2) const int KH = 3;
layout(constant_id = 3) const int KW = 3;
layout(constant_id = 4) const int SW = 1;
layout(constant_id = 5) const bool VEC4 = false;
layout(constant_id = 6) const int ACT = ACT_NONE;
layout(constant_id = 7) const bool HAS_BIAS = false;
layout(constant_id = 8) const int SH = 1;
/* Output rows per invocation: a constant, so that one row costs no loop. */
layout(constant_id = 9) const int ROWS = 1;

const int SPAN = (TP - 1) * SW + KW;
/* Window rows kept when going down one output row. */
const int KEEP = SH < KH ? KH - SH : 0;

INPUT(0, src)
INPUT(1, wgt)
INPUT(2, bias)
INPUT(3, slope)
OUTPUT(4, dst)

layout(push_constant) uniform Params {
	int in_h, in_w, c;	/* c in vec4s when VEC4 */
	int out_h, out_w;
	int pad_top, pad_left;
	int tiles_w;		/* columns of TP pixels per output row */
	int segments;		/* pieces of ROWS rows each column is cut into */
	uint total;		/* batch * segments * tiles_w * c */
} p;

vec4 load(uint at)
{
	return VEC4 ? FETCH4(src, at) : vec4(FETCH(src, at), 0.0, 0.0, 0.0);
}

vec4 weight(uint at)
{
	return VEC4 ? FETCH4(wgt, at) : vec4(FETCH(wgt, at), 0.0, 0.0, 0.0);
}

/*
 * Fills row r of the window with input row iy_ from column ix0 on, zeros
 * outside the input. A macro, because a function would take the window
 * array by copy.
 */
#define load_row(x, r, iy_, n, ix0, c)                                                  \
	{                                                                                \
		int iy = (iy_);                                                          \
		float row_keep = iy >= 0 && iy < p.in_h ? 1.0 : 0.0;                     \
		uint in_row = ((n) * p.in_h + clamp(iy, 0, p.in_h - 1)) * p.in_w;        \
		for (int j = 0; j < SPAN; j++) {                                         \
			int ix = (ix0) + j;                                              \
			bool inside = ix >= 0 && ix < p.in_w;                            \
			x[(r) * SPAN + j] =                                              \
			    load((in_row + (inside ? ix : 0)) * p.c + (c)) *             \
			    (inside ? row_keep : 0.0);                                   \
		}                                                                        \
	}

void main()
{
	uint i = min(flat_invocation(), p.total - 1);
	bool live = flat_invocation() < p.total;
	uint tile = i / uint(p.c);
	int c = int(i - tile * uint(p.c));
	uint rest = tile / uint(p.tiles_w);
	int ox0 = int(tile - rest * uint(p.tiles_w)) * TP;
	int oy = int(rest % uint(p.segments)) * ROWS;
	uint n = rest / uint(p.segments);
	int ix0 = ox0 * SW - p.pad_left;

	vec4 w[KH * KW];
	for (int t = 0; t < KH * KW; t++)
		w[t] = weight(t * p.c + c);
	vec4 b = vec4(0.0), s = vec4(0.0);
	if (HAS_BIAS)
		b = VEC4 ? FETCH4(bias, c) : vec4(FETCH(bias, c));
	if (ACT == ACT_PRELU)
		s = VEC4 ? FETCH4(slope, c) : vec4(FETCH(slope, c));

	/* Window row r is input row oy * SH - pad_top + r. */
	vec4 x[KH * SPAN];
	for (int r = 0; r < KEEP; r++)
		load_row(x, r, oy * SH - p.pad_top + r, n, ix0, c);
	for (int step = 0; step < ROWS; step++, oy++) {
		for (int r = KEEP; r < KH; r++)
			load_row(x, r, oy * SH - p.pad_top + r, n, ix0, c);
		for (int pp = 0; pp < TP; pp++) {
			vec4 acc = vec4(0.0);
			for (int ky = 0; ky < KH; ky++)
				for (int kx = 0; kx < KW; kx++)
					acc += x[ky * SPAN + pp * SW + kx] * w[ky * KW + kx];
			int ox = ox0 + pp;
			vec4 v = activate4(acc + b, ACT, s);
			uint at = ((n * p.out_h + min(oy, p.out_h - 1)) * p.out_w +
				   min(ox, p.out_w - 1)) * p.c + c;
			if (!live || ox >= p.out_w || oy >= p.out_h)
				continue;
			if (VEC4)
				STORE4(dst, at, v);
			else
				STORE(dst, at, v.x);
		}
		/* Slide the window down SH rows. */
		for (int r = 0; r < KEEP; r++)
			for (int j = 0; j < SPAN; j++)
				x[r * SPAN + j] = x[(r + SH) * SPAN + j];
	}
}
