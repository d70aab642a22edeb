/*
 * NEON dot products (every aarch64 CPU has them): four independent chains
 * per row (chunk k of four floats goes to chain k mod 4), joined as
 * (0 + 1) + (2 + 3), then the across-lanes add.
 */
#include "visid/face.h"
#include "match_simd.h"

#if defined(__aarch64__)
#include <arm_neon.h>

_Static_assert(VISID_EMBED_DIM % 16 == 0, "the NEON kernel takes four chunks a step");

void visid_dot_rows_neon(const float *query, const float *rows, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++) {
		const float *row = rows + i * VISID_EMBED_DIM;
		float32x4_t a0 = vmulq_f32(vld1q_f32(query), vld1q_f32(row));
		float32x4_t a1 = vmulq_f32(vld1q_f32(query + 4), vld1q_f32(row + 4));
		float32x4_t a2 = vmulq_f32(vld1q_f32(query + 8), vld1q_f32(row + 8));
		float32x4_t a3 = vmulq_f32(vld1q_f32(query + 12), vld1q_f32(row + 12));

#pragma GCC unroll 12
		for (int j = 16; j < VISID_EMBED_DIM; j += 16) {
			a0 = vfmaq_f32(a0, vld1q_f32(query + j), vld1q_f32(row + j));
			a1 = vfmaq_f32(a1, vld1q_f32(query + j + 4), vld1q_f32(row + j + 4));
			a2 = vfmaq_f32(a2, vld1q_f32(query + j + 8), vld1q_f32(row + j + 8));
			a3 = vfmaq_f32(a3, vld1q_f32(query + j + 12), vld1q_f32(row + j + 12));
		}
		out[i] = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
	}
}
#endif
