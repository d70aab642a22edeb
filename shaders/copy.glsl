/* The building block of CONCATENATION: blocks of the input placed at an offset of the output. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

INPUT(0, src)
OUTPUT(1, dst)

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
	STORE(dst, block * p.inner_out + p.offset + (i - block * p.inner_in), FETCH(src, i));
}
