/*
 * AVX2+FMA dot products: four independent chains per row (chunk k of eight
 * floats goes to chain k mod 4), joined as (0 + 1) + (2 + 3), then the eight
 * lanes halved three times.
 */
#include "visid/face.h"
#include "match_simd.h"

#if defined(__x86_64__)
#include <immintrin.h>

_Static_assert(VISID_EMBED_DIM % 32 == 0, "the AVX2 kernel takes four chunks a step");

__attribute__((target("avx2,fma")))
static float sum_lanes(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
void visid_dot_rows_avx2(const float *query, const float *rows, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++) {
		const float *row = rows + i * VISID_EMBED_DIM;
		__m256 a0 = _mm256_mul_ps(_mm256_load_ps(query), _mm256_load_ps(row));
		__m256 a1 = _mm256_mul_ps(_mm256_load_ps(query + 8), _mm256_load_ps(row + 8));
		__m256 a2 = _mm256_mul_ps(_mm256_load_ps(query + 16), _mm256_load_ps(row + 16));
		__m256 a3 = _mm256_mul_ps(_mm256_load_ps(query + 24), _mm256_load_ps(row + 24));

#pragma GCC unroll 8
		for (int j = 32; j < VISID_EMBED_DIM; j += 32) {
			a0 =
			    _mm256_fmadd_ps(_mm256_load_ps(query + j), _mm256_load_ps(row + j), a0);
			a1 = _mm256_fmadd_ps(_mm256_load_ps(query + j + 8),
					     _mm256_load_ps(row + j + 8), a1);
			a2 = _mm256_fmadd_ps(_mm256_load_ps(query + j + 16),
					     _mm256_load_ps(row + j + 16), a2);
			a3 = _mm256_fmadd_ps(_mm256_load_ps(query + j + 24),
					     _mm256_load_ps(row + j + 24), a3);
		}
		out[i] = sum_lanes(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
	}
}
#endif
