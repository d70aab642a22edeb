/* Max pooling over NHWC; padded positions are skipped. One output element (or vec4) each. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 1) const bool VEC4 = false;

INPUT(0, src)
OUTPUT(1, dst)

layout(push_constant) uniform Params {
	int in_h, in_w, c;	/* c in vec4s when VEC4 */
	int out_h, out_w;
	int kernel_h, kernel_w;
	int stride_h, stride_w;
	int pad_top, pad_left;
	uint total;
} p;

void main()
{
	uint i = flat_invocation();

	if (i >= p.total)
		return;
	uint rest = i / uint(p.c);
	int c = int(i - rest * uint(p.c));
	int ox = int(rest % uint(p.out_w));
	rest /= uint(p.out_w);
	int oy = int(rest % uint(p.out_h));
	uint n = rest / uint(p.out_h);

	vec4 m = vec4(uintBitsToFloat(0xff800000u));
	for (int ky = 0; ky < p.kernel_h; ky++) {
		int iy = oy * p.stride_h - p.pad_top + ky;
		if (iy < 0 || iy >= p.in_h)
			continue;
		for (int kx = 0; kx < p.kernel_w; kx++) {
			int ix = ox * p.stride_w - p.pad_left + kx;
			if (ix < 0 || ix >= p.in_w)
				continue;
			uint at = ((n * p.in_h + iy) * p.in_w + ix) * p.c + c;
			if (VEC4)
				m = max(m, FETCH4(src, at));
			else
				m.x = max(m.x, FETCH(src, at));
		}
	}
	if (VEC4)
		STORE4(dst, i, m);
	else
		STORE(dst, i, m.x);
}
