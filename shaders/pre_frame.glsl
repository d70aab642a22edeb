/*
 * Reading camera frames in the preprocessing shaders: the frame's bytes are
 * two storage buffers of uint words (plane 0, and the chroma plane of NV12,
 * which may be the same buffer), so any byte offset and any stride work and
 * the memory can be a camera buffer imported as it is. Pixels convert to
 * RGB exactly as visid_image_row_rgb does (BT.601 limited range, the same
 * 16.16 fixed-point integers), so the GPU sees the bytes the C reference sees.
 */
#ifndef VISID_PRE_FRAME_GLSL
#define VISID_PRE_FRAME_GLSL

/* enum visid_pixel_format, plus the packed RGBX grid of the area pre-shrink. */
#define FMT_RGB24 0
#define FMT_BGR24 1
#define FMT_XRGB8888 2
#define FMT_YUYV 3
#define FMT_NV12 4
#define FMT_GREY 5
#define FMT_RGBX 6

/* The frame's format is fixed per pipeline, so each variant reads its pixels without branching. */
layout(constant_id = 1) const int FORMAT = FMT_RGB24;

layout(std430, binding = 0) readonly buffer Plane0 { uint plane0[]; };
layout(std430, binding = 1) readonly buffer Plane1 { uint plane1[]; };

/* Layout of the frame: the first members of every preprocessing shader's push constants. */
#define FRAME_PARAMS                                                                      \
	int width, height;                                                                \
	uint stride, offset;       /* plane 0: bytes per row, first byte in binding 0 */ \
	uint uv_stride, uv_offset; /* NV12 chroma in binding 1 */

uint byte0(uint at)
{
	return (plane0[at >> 2] >> ((at & 3u) * 8u)) & 0xffu;
}

uint byte1(uint at)
{
	return (plane1[at >> 2] >> ((at & 3u) * 8u)) & 0xffu;
}

ivec3 yuv_to_rgb(int y, int u, int v)
{
	int c = (y - 16) * 76284, d = u - 128, e = v - 128;

	return clamp(ivec3(c + 104595 * e + 32768, c - 25624 * d - 53281 * e + 32768,
			   c + 132251 * d + 32768) >> 16,
		     0, 255);
}

/* RGB of pixel (x, y), which must lie inside the frame. */
ivec3 frame_rgb(uint stride, uint offset, uint uv_stride, uint uv_offset, int x, int y)
{
	uint row = offset + uint(y) * stride, at;

	switch (FORMAT) {
	case FMT_RGB24:
		at = row + 3u * uint(x);
		return ivec3(byte0(at), byte0(at + 1u), byte0(at + 2u));
	case FMT_BGR24:
		at = row + 3u * uint(x);
		return ivec3(byte0(at + 2u), byte0(at + 1u), byte0(at));
	case FMT_XRGB8888:
		at = row + 4u * uint(x);
		return ivec3(byte0(at + 2u), byte0(at + 1u), byte0(at));
	case FMT_YUYV:
		at = row + 4u * uint(x >> 1);
		return yuv_to_rgb(int(byte0(at + 2u * uint(x & 1))), int(byte0(at + 1u)),
				  int(byte0(at + 3u)));
	case FMT_NV12:
		at = uv_offset + uint(y >> 1) * uv_stride + uint(x & ~1);
		return yuv_to_rgb(int(byte0(row + uint(x))), int(byte1(at)), int(byte1(at + 1u)));
	case FMT_GREY:
		return ivec3(int(byte0(row + uint(x))));
	default: {
		uint w = plane0[(row >> 2) + uint(x)];

		return ivec3(w & 0xffu, (w >> 8) & 0xffu, (w >> 16) & 0xffu);
	}
	}
}

#endif
