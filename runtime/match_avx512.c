/*
 * AVX-512F dot products: the query stays in twelve registers and each row is
 * summed in four independent chains (chunk k goes to chain k mod 4), joined
 * as (0 + 1) + (2 + 3) before the horizontal sum.
 */
#include "visid/face.h"
#include "match_simd.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CHUNKS (VISID_EMBED_DIM / 16)

_Static_assert(VISID_EMBED_DIM % 64 == 0, "the AVX-512 kernel takes four chunks a step");

__attribute__((target("avx512f")))
void visid_dot_rows_avx512(const float *query, const float *rows, size_t n, float *out)
{
	__m512 q[CHUNKS];

#pragma GCC unroll 16
	for (int c = 0; c < CHUNKS; c++)
		q[c] = _mm512_load_ps(query + 16 * c);
	for (size_t i = 0; i < n; i++) {
		const float *row = rows + i * VISID_EMBED_DIM;
		__m512 a0 = _mm512_mul_ps(q[0], _mm512_load_ps(row));
		__m512 a1 = _mm512_mul_ps(q[1], _mm512_load_ps(row + 16));
		__m512 a2 = _mm512_mul_ps(q[2], _mm512_load_ps(row + 32));
		__m512 a3 = _mm512_mul_ps(q[3], _mm512_load_ps(row + 48));

#pragma GCC unroll 16
		for (int c = 4; c < CHUNKS; c += 4) {
			a0 = _mm512_fmadd_ps(q[c], _mm512_load_ps(row + 16 * c), a0);
			a1 = _mm512_fmadd_ps(q[c + 1], _mm512_load_ps(row + 16 * c + 16), a1);
			a2 = _mm512_fmadd_ps(q[c + 2], _mm512_load_ps(row + 16 * c + 32), a2);
			a3 = _mm512_fmadd_ps(q[c + 3], _mm512_load_ps(row + 16 * c + 48), a3);
		}
		out[i] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1),
							    _mm512_add_ps(a2, a3)));
	}
}
#endif
