/*
 * Residual ADD with TFLite's channel zero-padding of b fused in, and the
 * activation after it. VEC4 handles four channels per invocation when both
 * channel counts are multiples of four.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 1) const bool VEC4 = false;
layout(constant_id = 2) const int ACT = ACT_NONE;

INPUT(0, a)
INPUT(1, b)
INPUT(2, slope)
OUTPUT(3, o)

layout(push_constant) uniform Params {
	uint total;		/* pixels * c, in vec4s when VEC4 */
	uint c;			/* in vec4s when VEC4 */
	uint b_c;		/* in vec4s when VEC4 */
} p;

void main()
{
	uint i = min(flat_invocation(), p.total - 1);
	bool live = flat_invocation() < p.total;
	uint pixel = i / p.c;
	uint c = i - pixel * p.c;
	uint bc = min(c, max(p.b_c, 1u) - 1u);
	float b_keep = c < p.b_c ? 1.0 : 0.0;

	if (VEC4) {
		vec4 v = FETCH4(a, i) + FETCH4(b, pixel * p.b_c + bc) * b_keep;
		v = activate4(v, ACT, ACT == ACT_PRELU ? FETCH4(slope, c) : vec4(0.0));
		if (live)
			STORE4(o, i, v);
	} else {
		float v = FETCH(a, i) + FETCH(b, pixel * p.b_c + bc) * b_keep;
		v = activate(v, ACT, ACT == ACT_PRELU ? FETCH(slope, c) : 0.0);
		if (live)
			STORE(o, i, v);
	}
}
