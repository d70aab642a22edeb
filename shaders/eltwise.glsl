/* Elementwise ops left unfused: unary, with a per-channel operand, or with a same-shape one. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#define OP_RELU 0
#define OP_ABS 1
#define OP_PRELU 2
#define OP_ADD 3
#define OP_SUB 4
#define OP_MUL 5

#define B_NONE 0
#define B_PER_CHANNEL 1
#define B_SAME 2

layout(constant_id = 1) const int OP = OP_RELU;
layout(constant_id = 2) const int B_MODE = B_NONE;

INPUT(0, a)
INPUT(1, b)
OUTPUT(2, o)

layout(push_constant) uniform Params {
	uint total;
	uint c;
} p;

void main()
{
	uint i = flat_invocation();

	if (i >= p.total)
		return;
	float x = FETCH(a, i);
	float y = 0.0;
	if (B_MODE == B_PER_CHANNEL)
		y = FETCH(b, i % p.c);
	else if (B_MODE == B_SAME)
		y = FETCH(b, i);

	float r;
	if (OP == OP_RELU)
		r = max(x, 0.0);
	else if (OP == OP_ABS)
		r = abs(x);
	else if (OP == OP_PRELU)
		r = x > 0.0 ? x : y * x;
	else if (OP == OP_ADD)
		r = x + y;
	else if (OP == OP_SUB)
		r = x - y;
	else
		r = x * y;
	STORE(o, i, r);
}
