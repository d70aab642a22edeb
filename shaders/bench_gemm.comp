#version 450
/*
 * The benchmark's arithmetic ceiling: C = A x B in fp32, all row-major,
 * A m x k, B k x n. Each invocation owns a tile of TM rows by 4 * TN4
 * columns of C, kept in vec4 registers; A and B are read as vec4. Neighbour
 * invocations take neighbour column tiles, so they read the same A row and
 * consecutive B. No shared memory: on CPU implementations it was slower.
 * m is a multiple of TM, n of 4 * TN4 and k of 4.
 */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 1) const int TM = 8;
layout(constant_id = 2) const int TN4 = 2;

layout(std430, binding = 0) readonly buffer A { vec4 a[]; };
layout(std430, binding = 1) readonly buffer B { vec4 b[]; };
layout(std430, binding = 2) writeonly buffer C { vec4 c[]; };

layout(push_constant) uniform Params {
	uint m;
	uint n;
	uint k;
} p;

void main()
{
	uint tile = flat_invocation();
	uint tiles_n = p.n / (4 * TN4);

	if (tile >= p.m / TM * tiles_n)
		return;
	uint row0 = tile / tiles_n * TM;
	uint col0 = (tile % tiles_n) * TN4;
	uint k4 = p.k / 4, n4 = p.n / 4;

	vec4 acc[TM * TN4];
	for (int i = 0; i < TM * TN4; i++)
		acc[i] = vec4(0.0);

	for (uint kk = 0; kk < k4; kk++) {
		vec4 av[TM];
		for (int r = 0; r < TM; r++)
			av[r] = a[(row0 + r) * k4 + kk];
		for (int j = 0; j < 4; j++) {
			for (int t = 0; t < TN4; t++) {
				vec4 bv = b[(kk * 4 + j) * n4 + col0 + t];
				for (int r = 0; r < TM; r++)
					acc[r * TN4 + t] = fma(vec4(av[r][j]), bv, acc[r * TN4 + t]);
			}
		}
	}

	for (int r = 0; r < TM; r++)
		for (int t = 0; t < TN4; t++)
			c[(row0 + r) * n4 + col0 + t] = acc[r * TN4 + t];
}
