/*
 * Bilinear resize with TensorFlow's coordinate rules (align_corners,
 * half_pixel_centers). The source coordinate is computed as the CPU
 * reference does, in float and without fused multiply-add, so both pick
 * the same source pixels. VEC4 takes four channels per invocation.
 *
 * The channel count and output width come as specialization constants: the
 * flat index is split by dividing by them, and a CPU implementation divides
 * by a variable one lane at a time (on lavapipe the three divisions cost
 * more than the four fetches), by a constant with a multiply.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 1) const bool VEC4 = false;
layout(constant_id = 2) const uint C = 1;	/* channels, in vec4s when VEC4 */
layout(constant_id = 3) const uint OUT_W = 1;
layout(constant_id = 4) const uint OUT_H = 1;

INPUT(0, src)
OUTPUT(1, dst)

layout(push_constant) uniform Params {
	int in_h, in_w, c;	/* c in vec4s when VEC4 */
	int out_h, out_w;
	int align_corners;
	int half_pixel_centers;
	uint total;
} p;

void axis(int o, int size_in, int size_out, out int lo, out int hi, out float frac)
{
	precise float scale, s;

	if (p.align_corners != 0 && size_out > 1)
		scale = float(size_in - 1) / float(size_out - 1);
	else
		scale = float(size_in) / float(size_out);
	if (p.half_pixel_centers != 0)
		s = (float(o) + 0.5) * scale - 0.5;
	else
		s = float(o) * scale;
	s = max(s, 0.0);
	lo = min(int(floor(s)), size_in - 1);
	hi = lo + 1 < size_in ? lo + 1 : size_in - 1;
	frac = s - float(lo);
}

void main()
{
	/* Past the end an invocation computes the last element and stores nothing. */
	uint i = min(flat_invocation(), p.total - 1u);
	uint rest = i / C;
	uint c = i - rest * C;
	uint row = rest / OUT_W;
	int ox = int(rest - row * OUT_W);
	uint n = row / OUT_H;
	int oy = int(row - n * OUT_H);

	int y0, y1, x0, x1;
	float fy, fx;
	axis(oy, p.in_h, p.out_h, y0, y1, fy);
	axis(ox, p.in_w, p.out_w, x0, x1, fx);

	uint r0 = (n * p.in_h + y0) * p.in_w;
	uint r1 = (n * p.in_h + y1) * p.in_w;
	if (VEC4) {
		vec4 a = FETCH4(src, (r0 + x0) * p.c + c), b = FETCH4(src, (r0 + x1) * p.c + c);
		vec4 d = FETCH4(src, (r1 + x0) * p.c + c), e = FETCH4(src, (r1 + x1) * p.c + c);
		precise vec4 top = a + (b - a) * fx;
		precise vec4 bottom = d + (e - d) * fx;
		precise vec4 v = top + (bottom - top) * fy;
		if (flat_invocation() < p.total)
			STORE4(dst, i, v);
	} else {
		float a = FETCH(src, (r0 + x0) * p.c + c), b = FETCH(src, (r0 + x1) * p.c + c);
		float d = FETCH(src, (r1 + x0) * p.c + c), e = FETCH(src, (r1 + x1) * p.c + c);
		precise float top = a + (b - a) * fx;
		precise float bottom = d + (e - d) * fx;
		precise float v = top + (bottom - top) * fy;
		if (flat_invocation() < p.total)
			STORE(dst, i, v);
	}
}
