/*
 * Gallery matching: members' vectors in one contiguous block scanned front to
 * back (the scan is bound by memory reads once the gallery outgrows the
 * caches), a small id index, and the path-independent decision step.
 */
#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "visid/log.h"
#include "visid/match.h"
#include "match_simd.h"

#define DIM VISID_EMBED_DIM
#define ROW_BYTES (DIM * sizeof(float))

/*
 * Float rounding moves a SIMD score by at most about 192 x 2^-24 (1.1e-5) from
 * the exact cosine of unit vectors; members whose SIMD score is within twice
 * that of the runner-up are rescored exactly, so the exact top two are
 * always among them.
 */
#define RESCORE_WINDOW 1e-4f

struct member {
	uint64_t id;
	size_t first;	/* index of its first row */
	int count;
};

struct visid_gallery {
	unsigned max_members;
	size_t max_vectors;
	int members;
	size_t vectors;
	struct member *member;
	float *rows;		/* max_vectors rows of DIM floats, 64-byte aligned */
	float *scores;		/* per member, scratch of the SIMD pass */
	int *index;		/* open addressing: member index + 1, 0 for empty */
	size_t index_mask;
	enum visid_simd simd;
	void (*dot_rows)(const float *query, const float *rows, size_t n, float *out);
};

static const char *const simd_names[VISID_SIMD_COUNT] = {
	[VISID_SIMD_AUTO] = "auto",
	[VISID_SIMD_PORTABLE] = "portable",
	[VISID_SIMD_AVX2] = "avx2",
	[VISID_SIMD_AVX512] = "avx512",
	[VISID_SIMD_NEON] = "neon",
};

const char *visid_simd_name(enum visid_simd simd)
{
	return (unsigned)simd < VISID_SIMD_COUNT ? simd_names[simd] : "unknown";
}

int visid_simd_parse(const char *name, enum visid_simd *out)
{
	for (int i = 0; i < VISID_SIMD_COUNT; i++) {
		if (name && !strcmp(name, simd_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

int visid_simd_supported(enum visid_simd simd)
{
	switch (simd) {
	case VISID_SIMD_AUTO:
	case VISID_SIMD_PORTABLE:
		return 1;
#if defined(__x86_64__)
	case VISID_SIMD_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	case VISID_SIMD_AVX512:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx512f");
#endif
#if defined(__aarch64__)
	case VISID_SIMD_NEON:
		return 1;
#endif
	default:
		return 0;
	}
}

static enum visid_simd widest_simd(void)
{
	static const enum visid_simd order[] = { VISID_SIMD_AVX512, VISID_SIMD_AVX2,
						 VISID_SIMD_NEON };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (visid_simd_supported(order[i]))
			return order[i];
	return VISID_SIMD_PORTABLE;
}

enum visid_simd visid_simd_default(void)
{
	const char *env = getenv("VISID_SIMD");
	enum visid_simd simd;

	if (!env || !*env)
		return widest_simd();
	if (visid_simd_parse(env, &simd)) {
		visid_warn("VISID_SIMD=%s: not one of portable, avx2, avx512, neon, auto; "
			   "using %s", env, visid_simd_name(widest_simd()));
		return widest_simd();
	}
	if (!visid_simd_supported(simd)) {
		visid_warn("VISID_SIMD=%s: this CPU or build lacks it; using %s", env,
			   visid_simd_name(widest_simd()));
		return widest_simd();
	}
	return simd == VISID_SIMD_AUTO ? widest_simd() : simd;
}

static void (*kernel_for(enum visid_simd simd))(const float *, const float *, size_t, float *)
{
	switch (simd) {
#if defined(__x86_64__)
	case VISID_SIMD_AVX2:
		return visid_dot_rows_avx2;
	case VISID_SIMD_AVX512:
		return visid_dot_rows_avx512;
#endif
#if defined(__aarch64__)
	case VISID_SIMD_NEON:
		return visid_dot_rows_neon;
#endif
	default:
		return visid_dot_rows_portable;
	}
}

/*
 * Eight chains (element j goes to chain j mod 8), joined pairwise. The
 * compiler may map the chains onto vector lanes; the order stays the same.
 */
void visid_dot_rows_portable(const float *query, const float *rows, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++) {
		const float *row = rows + i * DIM;
		float acc[8] = { 0 };

		for (int j = 0; j < DIM; j += 8)
			for (int k = 0; k < 8; k++)
				acc[k] += query[j + k] * row[j + k];
		out[i] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
			 ((acc[4] + acc[5]) + (acc[6] + acc[7]));
	}
}

/*
 * The product of two floats is exact in a double, so fused or separate
 * multiply-add give the same sums: with the order fixed (element j in chain
 * j mod 4, chains joined pairwise) this is bit-identical on every CPU.
 */
static double dot_exact(const float *a, const float *b)
{
	double acc[4] = { 0 };

	for (int j = 0; j < DIM; j += 4)
		for (int k = 0; k < 4; k++)
			acc[k] += (double)a[j + k] * (double)b[j + k];
	return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

float visid_cosine_exact(const float *a, const float *b)
{
	return (float)dot_exact(a, b);
}

/* Copies a vector scaled to unit length; -EINVAL for zero, NaN or Inf. */
static int normalise(const float *in, float *out)
{
	double sum = dot_exact(in, in), scale;

	if (!(sum > 0) || !isfinite(sum))
		return -EINVAL;
	scale = 1.0 / sqrt(sum);
	for (int j = 0; j < DIM; j++)
		out[j] = (float)(in[j] * scale);
	return 0;
}

static size_t hash_id(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)id;
}

static int find_member(const struct visid_gallery *g, uint64_t id, size_t *slot)
{
	size_t s = hash_id(id) & g->index_mask;

	while (g->index[s]) {
		if (g->member[g->index[s] - 1].id == id) {
			*slot = s;
			return g->index[s] - 1;
		}
		s = (s + 1) & g->index_mask;
	}
	*slot = s;
	return -1;
}

static void rebuild_index(struct visid_gallery *g)
{
	size_t slot;

	memset(g->index, 0, (g->index_mask + 1) * sizeof(*g->index));
	for (int m = 0; m < g->members; m++) {
		find_member(g, g->member[m].id, &slot);
		g->index[slot] = m + 1;
	}
}

int visid_gallery_create(unsigned max_members, size_t max_vectors, struct visid_gallery **out)
{
	struct visid_gallery *g;
	size_t slots = 16;

	if (!max_members || max_members > (1u << 30)) {
		visid_err("gallery: %u members is not a usable size", max_members);
		return -EINVAL;
	}
	if (!max_vectors)
		max_vectors = (size_t)max_members * VISID_MATCH_MAX_VECTORS;
	while (slots < 2 * (size_t)max_members)
		slots *= 2;

	g = calloc(1, sizeof(*g));
	if (!g)
		goto err_nomem;
	g->max_members = max_members;
	g->max_vectors = max_vectors;
	g->index_mask = slots - 1;
	g->member = calloc(max_members, sizeof(*g->member));
	g->scores = calloc(max_members, sizeof(*g->scores));
	g->index = calloc(slots, sizeof(*g->index));
	g->rows = aligned_alloc(64, max_vectors * ROW_BYTES);
	if (!g->member || !g->scores || !g->index || !g->rows)
		goto err_free_gallery;
	visid_gallery_set_simd(g, VISID_SIMD_AUTO);
	*out = g;
	return 0;

err_free_gallery:
	visid_gallery_destroy(g);
err_nomem:
	visid_err("gallery: no memory for %u members and %zu vectors (%zu MiB)", max_members,
		  max_vectors, max_vectors * ROW_BYTES >> 20);
	return -ENOMEM;
}

void visid_gallery_destroy(struct visid_gallery *g)
{
	if (!g)
		return;
	if (g->rows)
		explicit_bzero(g->rows, g->vectors * ROW_BYTES);
	free(g->rows);
	free(g->index);
	free(g->scores);
	free(g->member);
	free(g);
}

static void drop_member(struct visid_gallery *g, int m)
{
	struct member gone = g->member[m];
	size_t tail = g->vectors - gone.first - gone.count;

	memmove(g->rows + gone.first * DIM, g->rows + (gone.first + gone.count) * DIM,
		tail * ROW_BYTES);
	g->vectors -= gone.count;
	explicit_bzero(g->rows + g->vectors * DIM, gone.count * ROW_BYTES);
	memmove(g->member + m, g->member + m + 1, (g->members - m - 1) * sizeof(*g->member));
	g->members--;
	for (int i = m; i < g->members; i++)
		g->member[i].first -= gone.count;
	rebuild_index(g);
}

int visid_gallery_set(struct visid_gallery *g, uint64_t id, const float *vectors, int count)
{
	alignas(64) float unit[VISID_MATCH_MAX_VECTORS][DIM];
	struct member *mem;
	size_t slot;
	int m, ret = 0;

	if (count < 1 || count > VISID_MATCH_MAX_VECTORS) {
		visid_err("gallery member %llu: %d vectors (1..%d allowed)",
			  (unsigned long long)id, count, VISID_MATCH_MAX_VECTORS);
		return -EINVAL;
	}
	for (int v = 0; v < count; v++) {
		if (normalise(vectors + v * DIM, unit[v])) {
			visid_err("gallery member %llu: vector %d is zero, NaN or infinite",
				  (unsigned long long)id, v);
			ret = -EINVAL;
			goto out_wipe;
		}
	}

	m = find_member(g, id, &slot);
	if (m >= 0 && g->member[m].count != count) {
		drop_member(g, m);
		m = find_member(g, id, &slot);
	}
	if (m < 0) {
		if ((unsigned)g->members >= g->max_members ||
		    g->vectors + count > g->max_vectors) {
			visid_err("gallery member %llu: gallery full (%d members, %zu vectors)",
				  (unsigned long long)id, g->members, g->vectors);
			ret = -ENOSPC;
			goto out_wipe;
		}
		m = g->members++;
		g->member[m] = (struct member){ .id = id, .first = g->vectors, .count = count };
		g->vectors += count;
		g->index[slot] = m + 1;
	}
	mem = &g->member[m];
	memcpy(g->rows + mem->first * DIM, unit, count * ROW_BYTES);

out_wipe:
	explicit_bzero(unit, sizeof(unit));
	return ret;
}

int visid_gallery_remove(struct visid_gallery *g, uint64_t id)
{
	size_t slot;
	int m = find_member(g, id, &slot);

	if (m < 0)
		return -ENOENT;
	drop_member(g, m);
	return 0;
}

int visid_gallery_member_count(const struct visid_gallery *g)
{
	return g->members;
}

size_t visid_gallery_vector_count(const struct visid_gallery *g)
{
	return g->vectors;
}

int visid_gallery_member_id(const struct visid_gallery *g, int index, uint64_t *id)
{
	if (index < 0 || index >= g->members)
		return -ENOENT;
	*id = g->member[index].id;
	return 0;
}

int visid_gallery_set_simd(struct visid_gallery *g, enum visid_simd simd)
{
	if (!visid_simd_supported(simd)) {
		visid_err("gallery: the %s dot products are not available on this CPU",
			  visid_simd_name(simd));
		return -ENOTSUP;
	}
	if (simd == VISID_SIMD_AUTO)
		simd = visid_simd_default();
	g->simd = simd;
	g->dot_rows = kernel_for(simd);
	return 0;
}

enum visid_simd visid_gallery_simd(const struct visid_gallery *g)
{
	return g->simd;
}

/* SIMD pass: best score of every member into g->scores; returns the top two indices. */
static void score_members(struct visid_gallery *g, const float *query, int top[2])
{
	float row_scores[VISID_MATCH_MAX_VECTORS];

	top[0] = top[1] = -1;
	for (int m = 0; m < g->members; m++) {
		const struct member *mem = &g->member[m];
		float best;

		g->dot_rows(query, g->rows + mem->first * DIM, mem->count, row_scores);
		best = row_scores[0];
		for (int v = 1; v < mem->count; v++)
			best = row_scores[v] > best ? row_scores[v] : best;
		g->scores[m] = best;
		if (top[0] < 0 || best > g->scores[top[0]]) {
			top[1] = top[0];
			top[0] = m;
		} else if (top[1] < 0 || best > g->scores[top[1]]) {
			top[1] = m;
		}
	}
}

/*
 * Exact score of a member over those of its vectors whose SIMD score reaches
 * cut: a vector below it cannot be the best of a member in the exact top two.
 */
static float exact_member_score(const struct visid_gallery *g, const float *query, int m,
				float cut)
{
	const struct member *mem = &g->member[m];
	float row_scores[VISID_MATCH_MAX_VECTORS], best = -INFINITY;

	g->dot_rows(query, g->rows + mem->first * DIM, mem->count, row_scores);
	for (int v = 0; v < mem->count; v++) {
		float s;

		if (row_scores[v] < cut)
			continue;
		s = visid_cosine_exact(query, g->rows + (mem->first + v) * DIM);
		best = s > best ? s : best;
	}
	return best;
}

/* Higher score first, then the lower id, so ties never depend on the path. */
static int ranks_above(const struct visid_gallery *g, float a_score, int a, float b_score, int b)
{
	if (b < 0)
		return 1;
	if (a_score != b_score)
		return a_score > b_score;
	return g->member[a].id < g->member[b].id;
}

/* Decides on exact scores of the members near the SIMD top two. */
static void decide(const struct visid_gallery *g, const float *query, const int top[2],
		   float threshold, struct visid_match *out)
{
	float cut = g->scores[top[1] >= 0 ? top[1] : top[0]] - RESCORE_WINDOW;
	float best = -INFINITY, second = -1.0f;
	int best_m = -1, second_m = -1;

	for (int m = 0; m < g->members; m++) {
		float s;

		if (g->scores[m] < cut)
			continue;
		s = exact_member_score(g, query, m, cut);
		if (ranks_above(g, s, m, best, best_m)) {
			second = best;
			second_m = best_m;
			best = s;
			best_m = m;
		} else if (ranks_above(g, s, m, second, second_m)) {
			second = s;
			second_m = m;
		}
	}
	out->member = best_m;
	out->id = g->member[best_m].id;
	out->score = best;
	out->second = second_m;
	out->second_id = second_m >= 0 ? g->member[second_m].id : 0;
	out->second_score = second_m >= 0 ? second : -1.0f;
	out->margin = out->score - out->second_score;
	out->accepted = best >= threshold;
}

int visid_gallery_match(struct visid_gallery *g, const float query[DIM], float threshold,
			struct visid_match *out)
{
	alignas(64) float unit[DIM];
	int top[2];

	*out = (struct visid_match){ .member = -1, .second = -1, .score = -1.0f,
				     .second_score = -1.0f };
	if (normalise(query, unit)) {
		visid_err("gallery match: query vector is zero, NaN or infinite");
		return -EINVAL;
	}
	if (g->members) {
		score_members(g, unit, top);
		decide(g, unit, top, threshold, out);
	}
	explicit_bzero(unit, sizeof(unit));
	return 0;
}

int visid_gallery_scores(struct visid_gallery *g, const float query[DIM], float *scores,
			 int max)
{
	alignas(64) float unit[DIM];
	int top[2], n;

	if (normalise(query, unit)) {
		visid_err("gallery scores: query vector is zero, NaN or infinite");
		return -EINVAL;
	}
	score_members(g, unit, top);
	explicit_bzero(unit, sizeof(unit));
	n = g->members < max ? g->members : max;
	memcpy(scores, g->scores, n * sizeof(*scores));
	return n;
}
