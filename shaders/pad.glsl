/* Zero padding of an NHWC tensor: each invocation writes one output element. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

INPUT(0, src)
OUTPUT(1, dst)

layout(push_constant) uniform Params {
	ivec4 in_shape;
	ivec4 out_shape;
	ivec4 before;
	uint total;
} p;

void main()
{
	uint i = flat_invocation();

	if (i >= p.total)
		return;
	ivec4 o;
	uint rest = i;
	o.w = int(rest % uint(p.out_shape.w));
	rest /= uint(p.out_shape.w);
	o.z = int(rest % uint(p.out_shape.z));
	rest /= uint(p.out_shape.z);
	o.y = int(rest % uint(p.out_shape.y));
	o.x = int(rest / uint(p.out_shape.y));

	ivec4 s = o - p.before;
	float v = 0.0;
	if (all(greaterThanEqual(s, ivec4(0))) && all(lessThan(s, p.in_shape)))
		v = FETCH(src, ((uint(s.x) * p.in_shape.y + s.y) * p.in_shape.z + s.z) *
				   p.in_shape.w + s.w);
	STORE(dst, i, v);
}
