/* Conversions between float and IEEE half on the host (see half.h). */
#include <string.h>

#include "half.h"

uint16_t visid_half_from_float(float f)
{
	uint32_t x, sign, mag;

	memcpy(&x, &f, sizeof(x));
	sign = (x >> 16) & 0x8000u;
	mag = x & 0x7fffffffu;
	if (mag > 0x7f800000u)
		return (uint16_t)(sign | 0x7e00u);
	if (mag >= 0x477ff000u) /* rounds to 65520 or more: infinity */
		return (uint16_t)(sign | 0x7c00u);
	if (mag < 0x38800000u) { /* below the smallest normal half */
		uint32_t shift = 126 - (mag >> 23), m = (mag & 0x7fffffu) | 0x800000u, h, rest;

		if (shift > 24)
			return (uint16_t)sign;
		h = m >> shift;
		rest = m & ((1u << shift) - 1);
		if (rest > (1u << (shift - 1)) || (rest == (1u << (shift - 1)) && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	/* Rebias the exponent, then round the 13 dropped bits to nearest even. */
	mag -= 0x38000000u;
	mag += 0xfffu + ((mag >> 13) & 1);
	return (uint16_t)(sign | (mag >> 13));
}

float visid_half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, m = h & 0x3ffu, x;
	float f;

	if (exp == 0x1f) {
		x = sign | 0x7f800000u | (m << 13);
	} else if (exp) {
		x = sign | ((exp + 112) << 23) | (m << 13);
	} else if (m) {
		/* Subnormal: value m * 2^-24, exact in float. */
		f = (float)m * (1.0f / 16777216.0f);
		return sign ? -f : f;
	} else {
		x = sign;
	}
	memcpy(&f, &x, sizeof(f));
	return f;
}

void visid_halves_from_floats(uint16_t *dst, const float *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = visid_half_from_float(src[i]);
}

void visid_halves_to_floats(float *dst, const uint16_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = visid_half_to_float(src[i]);
}
