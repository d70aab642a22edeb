#version 450
/*
 * The benchmark's memory ceiling: a plain copy of count vec4, each
 * invocation striding over the whole grid so one dispatch of any size
 * covers buffers beyond the group count limit.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Src { vec4 src[]; };
layout(std430, binding = 1) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Params {
	uint count;
} p;

void main()
{
	uint stride = gl_NumWorkGroups.x * gl_NumWorkGroups.y * gl_WorkGroupSize.x;

	for (uint i = flat_invocation(); i < p.count; i += stride)
		dst[i] = src[i];
}
