/*
 * The benchmark's arithmetic ceiling: C = A x B in fp32, all row-major,
 * A m x k, B k x n. Each invocation owns a tile of TM rows by 4 * TN4
 * columns of C, kept in vec4 registers; A and B are read as vec4.
 * Neighbour invocations take neighbour column tiles, so they read the same
 * A rows and consecutive B. No shared memory: on CPU implementations it was
 * slower. m is a multiple of TM, n of 4 * TN4 and k of 4.
 *
 * bench_gemm reads A and B from storage buffers, bench_gemm_t from texel
 * buffers (common.glsl says why that matters); the benchmark keeps the
 * faster, so the ceiling is the best this device does either way.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 1) const int TM = 8;
layout(constant_id = 2) const int TN4 = 2;

INPUT(0, a)
INPUT(1, b)
OUTPUT(2, c)

layout(push_constant) uniform Params {
	uint m;
	uint n;
	uint k;
} p;

void main()
{
	uint tiles_n = p.n / (4 * TN4);
	uint tiles = p.m / TM * tiles_n;
	uint inv = flat_invocation();
	/*
	 * Invocations past the last tile compute it again and store nothing:
	 * a return around the whole body costs CPU implementations.
	 */
	uint tile = min(inv, tiles - 1);
	uint row0 = tile / tiles_n * TM;
	uint col0 = (tile % tiles_n) * TN4;
	uint k4 = p.k / 4, n4 = p.n / 4;

	vec4 acc[TM * TN4];
	for (int i = 0; i < TM * TN4; i++)
		acc[i] = vec4(0.0);

	for (uint kk = 0; kk < k4; kk++) {
		vec4 av[TM];
		for (int r = 0; r < TM; r++)
			av[r] = FETCH4(a, (row0 + r) * k4 + kk);
		for (int j = 0; j < 4; j++) {
			for (int t = 0; t < TN4; t++) {
				vec4 bv = FETCH4(b, (kk * 4 + j) * n4 + col0 + t);
				for (int r = 0; r < TM; r++) {
					int i = r * TN4 + t;
					acc[i] = fma(vec4(av[r][j]), bv, acc[i]);
				}
			}
		}
	}

	if (inv < tiles)
		for (int r = 0; r < TM; r++)
			for (int t = 0; t < TN4; t++)
				STORE4(c, (row0 + r) * n4 + col0 + t, acc[r * TN4 + t]);
}
