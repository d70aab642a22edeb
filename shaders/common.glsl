/*
 * What every visid shader shares: the workgroup width as specialization
 * constant 0, and a flat invocation index over a 2-D grid of groups (the
 * host splits large dispatches over y to stay under the group count limit).
 */
#ifndef VISID_COMMON_GLSL
#define VISID_COMMON_GLSL

layout(local_size_x_id = 0) in;

#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_PRELU 2

uint flat_invocation()
{
	return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x *
	       gl_WorkGroupSize.x;
}

#endif
