/*
 * The deterministic gallery and queries that every dot-product path is
 * checked on, shared by tests/test_match.c (x86) and tests/neon/match_check.c
 * (arm64 under qemu). Vectors are built from small integers only, so both
 * architectures start from bit-identical floats; one report line per query
 * holds everything that must agree between paths.
 */
#ifndef VISID_TEST_MATCH_DATA_H
#define VISID_TEST_MATCH_DATA_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "visid/match.h"

#define MD_MEMBERS 10
#define MD_QUERIES 3000
#define MD_ID_BASE 100
/* Member 9 holds member 3's vectors in another order: exact ties must break the same way. */
#define MD_TWIN 9
#define MD_TWIN_OF 3

static inline uint64_t md_next(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

/* An integer in [-range, range], as a float (exact for range < 2^24). */
static inline float md_int(uint64_t *state, int range)
{
	return (float)((int64_t)(md_next(state) >> 11) % (2 * range + 1) - range);
}

static inline void md_member_vector(int member, int vector, float *out)
{
	uint64_t state;

	if (member == MD_TWIN) {
		member = MD_TWIN_OF;
		vector = VISID_MATCH_MAX_VECTORS - 1 - vector;
	}
	state = 0x9e3779b97f4a7c15ULL * (uint64_t)(member * 8 + vector + 1);
	for (int j = 0; j < VISID_EMBED_DIM; j++)
		out[j] = md_int(&state, 1024);
}

/*
 * Query kinds in turn: random; one member's vector plus noise from small to
 * large (scores from near 1 down through any threshold); the sum of two
 * members' vectors (close runner-up); a member's exact vector.
 */
static inline void md_query(int index, float *out)
{
	uint64_t state = 0xd1b54a32d192ed03ULL * (uint64_t)(index + 1);
	float a[VISID_EMBED_DIM], b[VISID_EMBED_DIM];
	int m1 = index / 4 % MD_MEMBERS, m2 = (index / 4 + 3) % MD_MEMBERS;
	int noise = 64 << (index / 40 % 7);

	md_member_vector(m1, index % VISID_MATCH_MAX_VECTORS, a);
	md_member_vector(m2, index / 7 % VISID_MATCH_MAX_VECTORS, b);
	for (int j = 0; j < VISID_EMBED_DIM; j++) {
		switch (index % 4) {
		case 0:
			out[j] = md_int(&state, 1024);
			break;
		case 1:
			out[j] = 4 * a[j] + md_int(&state, noise);
			break;
		case 2:
			out[j] = a[j] + b[j] + md_int(&state, 8);
			break;
		default:
			out[j] = a[j];
			break;
		}
	}
}

static inline int md_build_gallery(struct visid_gallery **out)
{
	float vecs[VISID_MATCH_MAX_VECTORS * VISID_EMBED_DIM];
	int ret = visid_gallery_create(MD_MEMBERS, 0, out);

	for (int m = 0; !ret && m < MD_MEMBERS; m++) {
		for (int v = 0; v < VISID_MATCH_MAX_VECTORS; v++)
			md_member_vector(m, v, vecs + v * VISID_EMBED_DIM);
		ret = visid_gallery_set(*out, MD_ID_BASE + m, vecs, VISID_MATCH_MAX_VECTORS);
	}
	return ret;
}

/*
 * One line for query index on the given path: the decision at 0.5, at the
 * portable path's own score and just above it (the tightest thresholds
 * there are), the exact scores in hex, then the path's per-member scores.
 * Returns 0 or a negative errno.
 */
static inline int md_report_line(struct visid_gallery *g, enum visid_simd simd, int index,
				 char *line, size_t len)
{
	float query[VISID_EMBED_DIM], scores[MD_MEMBERS], at;
	struct visid_match r, at_score, above;
	int ret, used;

	md_query(index, query);
	ret = visid_gallery_set_simd(g, VISID_SIMD_PORTABLE);
	ret = ret ? ret : visid_gallery_match(g, query, 0.5f, &r);
	if (ret)
		return ret;
	at = r.score;
	ret = visid_gallery_set_simd(g, simd);
	ret = ret ? ret : visid_gallery_match(g, query, 0.5f, &r);
	ret = ret ? ret : visid_gallery_match(g, query, at, &at_score);
	ret = ret ? ret : visid_gallery_match(g, query, nextafterf(at, 2.0f), &above);
	if (ret)
		return ret;
	if (visid_gallery_scores(g, query, scores, MD_MEMBERS) != MD_MEMBERS)
		return -EIO;
	used = snprintf(line, len, "%d %llu %llu %a %a %d %d %d", index,
			(unsigned long long)r.id, (unsigned long long)r.second_id, r.score,
			r.second_score, r.accepted, at_score.accepted, above.accepted);
	for (int m = 0; m < MD_MEMBERS && used > 0 && (size_t)used < len; m++)
		used += snprintf(line + used, len - used, " %.9g", scores[m]);
	return 0;
}

#endif
