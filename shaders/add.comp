#version 450
/*
 * Residual ADD with TFLite's channel zero-padding of b fused in, and the
 * activation after it. VEC4 handles four channels per invocation when both
 * channel counts are multiples of four.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 1) const bool VEC4 = false;
layout(constant_id = 2) const int ACT = ACT_NONE;

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, binding = 2) readonly buffer Slope { float slope[]; };
layout(std430, binding = 2) readonly buffer Slope4 { vec4 slope4[]; };
layout(std430, binding = 3) writeonly buffer Out { float o[]; };
layout(std430, binding = 3) writeonly buffer Out4 { vec4 o4[]; };

layout(push_constant) uniform Params {
	uint total;		/* pixels * c, in vec4s when VEC4 */
	uint c;			/* in vec4s when VEC4 */
	uint b_c;		/* in vec4s when VEC4 */
} p;

void main()
{
	uint i = flat_invocation();

	if (i >= p.total)
		return;
	uint pixel = i / p.c;
	uint c = i - pixel * p.c;

	if (VEC4) {
		vec4 v = a4[i];
		if (c < p.b_c)
			v += b4[pixel * p.b_c + c];
		if (ACT == ACT_RELU)
			v = max(v, vec4(0.0));
		else if (ACT == ACT_PRELU)
			v = mix(slope4[c] * v, v, greaterThan(v, vec4(0.0)));
		o4[i] = v;
	} else {
		float v = a[i];
		if (c < p.b_c)
			v += b[pixel * p.b_c + c];
		if (ACT == ACT_RELU)
			v = max(v, 0.0);
		else if (ACT == ACT_PRELU)
			v = v > 0.0 ? v : slope[c] * v;
		o[i] = v;
	}
}
