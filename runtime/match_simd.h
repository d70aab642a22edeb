/*
 * The dot-product kernels behind runtime/match.c, one file per instruction
 * set. Each writes out[i] = dot(query, rows + i * VISID_EMBED_DIM) for n rows
 * with a fixed summation order of its own, so a path always gives the same
 * score for the same input. Rows are 64-byte aligned; the query copy too.
 * A kernel exists only in builds for its architecture.
 */
#ifndef VISID_MATCH_SIMD_H
#define VISID_MATCH_SIMD_H

#include <stddef.h>

void visid_dot_rows_portable(const float *query, const float *rows, size_t n, float *out);
#if defined(__x86_64__)
void visid_dot_rows_avx2(const float *query, const float *rows, size_t n, float *out);
void visid_dot_rows_avx512(const float *query, const float *rows, size_t n, float *out);
#endif
#if defined(__aarch64__)
void visid_dot_rows_neon(const float *query, const float *rows, size_t n, float *out);
#endif

#endif
