#version 450
/*
 * The area pre-shrink of large downscales (visid_pre_resample's): the frame
 * is averaged on a grid of cells sx x sy frame pixels wide, each frame pixel
 * weighing by the part of it inside the cell, and rounded to bytes. Only
 * the region of cells the sampling pass will read is computed; it is
 * written as packed RGBX words, row after row, region_w words per row.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "pre_frame.glsl"

layout(std430, binding = 2) writeonly buffer Out { uint dst[]; };

layout(push_constant) uniform Params {
	FRAME_PARAMS
	int region_x, region_y, region_w, region_h;
	float sx, sy;
} p;

void main()
{
	uint i = flat_invocation();

	if (i >= uint(p.region_w) * uint(p.region_h))
		return;
	int cx = p.region_x + int(i % uint(p.region_w));
	int cy = p.region_y + int(i / uint(p.region_w));
	float x_lo = float(cx) * p.sx, x_hi = float(cx + 1) * p.sx;
	float y_lo = float(cy) * p.sy, y_hi = float(cy + 1) * p.sy;
	int xs = int(floor(x_lo)), xe = min(int(ceil(x_hi)), p.width);
	int ys = int(floor(y_lo)), ye = min(int(ceil(y_hi)), p.height);
	vec3 acc = vec3(0.0);
	float wsum = 0.0;

	for (int y = ys; y < ye; y++) {
		float wy = min(float(y + 1), y_hi) - max(float(y), y_lo);

		if (wy <= 0.0)
			continue;
		for (int x = xs; x < xe; x++) {
			float wx = min(float(x + 1), x_hi) - max(float(x), x_lo);

			if (wx <= 0.0)
				continue;
			acc += wx * wy * vec3(frame_rgb(p.stride, p.offset, p.uv_stride,
							p.uv_offset, x, y));
			wsum += wx * wy;
		}
	}
	uvec3 rgb = wsum > 0.0 ? uvec3(floor(acc / wsum + 0.5)) : uvec3(0u);

	dst[i] = rgb.r | (rgb.g << 8) | (rgb.b << 16);
}
