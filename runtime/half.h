/*
 * IEEE half precision on the host, for fp16 tensors on the GPU: round to
 * nearest even, overflow to infinity, subnormals kept, NaN stays NaN.
 */
#ifndef VISID_HALF_H
#define VISID_HALF_H

#include <stddef.h>
#include <stdint.h>

uint16_t visid_half_from_float(float f);
float visid_half_to_float(uint16_t h);
void visid_halves_from_floats(uint16_t *dst, const float *src, size_t n);
void visid_halves_to_floats(float *dst, const uint16_t *src, size_t n);

#endif
