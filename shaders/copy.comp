#version 450
/* The building block of CONCATENATION: blocks of the input placed at an offset of the output. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) writeonly buffer Dst { float dst[]; };

layout(push_constant) uniform Params {
	uint total;		/* outer * inner_in */
	uint inner_in;
	uint inner_out;
	uint offset;
} p;

void main()
{
	uint i = flat_invocation();

	if (i >= p.total)
		return;
	uint block = i / p.inner_in;
	dst[block * p.inner_out + p.offset + (i - block * p.inner_in)] = src[i];
}
