#version 450
/*
 * Network input from a camera frame: each output pixel (u, v) samples the
 * frame at M (u + 0.5, v + 0.5) bilinearly between pixel centres, pixels
 * outside the frame count as black, and each channel is normalised as
 * (value - mean) / std into NHWC floats. This is visid_pre_resample's
 * convention; the letterbox, the ROI crop and the aligned embedder crop
 * differ only in M. One invocation writes one pixel's three channels.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "pre_frame.glsl"

layout(std430, binding = 2) writeonly buffer Out { float dst[]; };

layout(push_constant) uniform Params {
	FRAME_PARAMS
	int out_w, out_h;
	float m0, m1, m2, m3, m4, m5;
	float mean, std;
} p;

vec3 tap(int x, int y)
{
	if (x < 0 || y < 0 || x >= p.width || y >= p.height)
		return vec3(0.0);
	return vec3(frame_rgb(p.stride, p.offset, p.uv_stride, p.uv_offset, x, y));
}

void main()
{
	uint i = flat_invocation();

	if (i >= uint(p.out_w) * uint(p.out_h))
		return;
	float u = float(i % uint(p.out_w)) + 0.5, v = float(i / uint(p.out_w)) + 0.5;
	precise float fx = p.m0 * u + p.m1 * v + p.m2 - 0.5;
	precise float fy = p.m3 * u + p.m4 * v + p.m5 - 0.5;
	float x0 = floor(fx), y0 = floor(fy);
	float ax = fx - x0, ay = fy - y0;
	int x = int(x0), y = int(y0);

	vec3 top = (1.0 - ax) * tap(x, y) + ax * tap(x + 1, y);
	vec3 bottom = (1.0 - ax) * tap(x, y + 1) + ax * tap(x + 1, y + 1);
	vec3 value = ((1.0 - ay) * top + ay * bottom - p.mean) / p.std;

	dst[3u * i] = value.r;
	dst[3u * i + 1u] = value.g;
	dst[3u * i + 2u] = value.b;
}
