/*
 * The benchmark's memory ceiling: a plain copy of count vec4, each
 * invocation striding over the whole grid so one dispatch of any size
 * covers buffers beyond the group count limit. bench_copy reads a storage
 * buffer, bench_copy_t a texel buffer; the benchmark keeps the faster.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

INPUT(0, src)
OUTPUT(1, dst)

layout(push_constant) uniform Params {
	uint count;
} p;

void main()
{
	uint stride = gl_NumWorkGroups.x * gl_NumWorkGroups.y * gl_WorkGroupSize.x;

	for (uint i = flat_invocation(); i < p.count; i += stride)
		STORE4(dst, i, FETCH4(src, i));
}
