/*
 * visid-bench-match: speed of gallery matching on each dot-product path, for
 * a household gallery (10 members x 5 vectors, in cache) and a large one
 * (1,000,000 vectors by default, far beyond the caches), beside the plain
 * memory-read bandwidth of the same machine measured in the same run.
 *
 *   visid-bench-match [-n VECTORS] [-r RUNS] [-s PATH[,PATH...]]
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "visid/match.h"

#define ROW_BYTES (VISID_EMBED_DIM * sizeof(float))

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

static void random_vector(uint64_t *state, float *out)
{
	for (int j = 0; j < VISID_EMBED_DIM; j++)
		out[j] = (float)(int64_t)(rng_next(state) >> 40) - (float)(1 << 23);
}

/*
 * The reference: read every byte of a buffer once, summing 64-bit words in
 * eight independent chains so the adds never limit the rate. On x86 the
 * same sum with 256- and 512-bit loads also runs, and the fastest reader
 * counts, so the reference is the best plain read this CPU manages.
 */
static uint64_t sum_words(const uint64_t *words, size_t n)
{
	uint64_t acc[8] = { 0 };

	for (size_t i = 0; i + 8 <= n; i += 8)
		for (int k = 0; k < 8; k++)
			acc[k] += words[i + k];
	return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static uint64_t sum_words_avx2(const uint64_t *words, size_t n)
{
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
	uint64_t lanes[4];

	for (size_t i = 0; i + 16 <= n; i += 16) {
		a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(words + i)));
		a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(words + i + 4)));
		a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(words + i + 8)));
		a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(words + i + 12)));
	}
	a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
	_mm256_storeu_si256((__m256i *)lanes, a0);
	return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

__attribute__((target("avx512f")))
static uint64_t sum_words_avx512(const uint64_t *words, size_t n)
{
	__m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;

	for (size_t i = 0; i + 32 <= n; i += 32) {
		a0 = _mm512_add_epi64(a0, _mm512_load_si512(words + i));
		a1 = _mm512_add_epi64(a1, _mm512_load_si512(words + i + 8));
		a2 = _mm512_add_epi64(a2, _mm512_load_si512(words + i + 16));
		a3 = _mm512_add_epi64(a3, _mm512_load_si512(words + i + 24));
	}
	return _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1),
							_mm512_add_epi64(a2, a3)));
}
#endif

static uint64_t (*const readers[])(const uint64_t *, size_t) = {
	sum_words,
#if defined(__x86_64__)
	sum_words_avx2,
	sum_words_avx512,
#endif
};
static const char *const reader_names[] = { "64-bit", "avx2", "avx512" };

static int reader_usable(int r)
{
#if defined(__x86_64__)
	if (r == 1)
		return visid_simd_supported(VISID_SIMD_AVX2);
	if (r == 2)
		return visid_simd_supported(VISID_SIMD_AVX512);
#endif
	return 1;
}

/* One pass of every usable reader over the buffer; the best rate in bytes/s. */
static double read_once(const uint64_t *buf, size_t bytes, const char **which)
{
	uint64_t check = 0;
	double best = 0;

	for (size_t k = 0; k < sizeof(readers) / sizeof(readers[0]); k++) {
		double t;

		if (!reader_usable(k))
			continue;
		t = now();
		check += readers[k](buf, bytes / 8);
		t = now() - t;
		if (bytes / t > best) {
			best = bytes / t;
			*which = reader_names[k];
		}
	}
	if (check == 42)	/* keeps the sums from being optimised away */
		printf(" ");
	return best;
}

static int fill_gallery(struct visid_gallery *g, unsigned members, int per_member)
{
	float vecs[VISID_MATCH_MAX_VECTORS * VISID_EMBED_DIM];
	uint64_t state = 0x853c49e6748fea9bULL;
	int ret = 0;

	for (unsigned m = 0; m < members && !ret; m++) {
		for (int v = 0; v < per_member; v++)
			random_vector(&state, vecs + v * VISID_EMBED_DIM);
		ret = visid_gallery_set(g, m, vecs, per_member);
	}
	return ret;
}

/* Best time of one match over runs, after one untimed warm-up match. */
static double time_match(struct visid_gallery *g, const float *query, int runs, int repeat,
			 struct visid_match *r)
{
	double best = 1e30;

	visid_gallery_match(g, query, 0.5f, r);
	for (int i = 0; i < runs; i++) {
		double t = now();

		for (int k = 0; k < repeat; k++)
			visid_gallery_match(g, query, 0.5f, r);
		t = (now() - t) / repeat;
		best = t < best ? t : best;
	}
	return best;
}

static int parse_paths(const char *list, int *want)
{
	char buf[128], *save = NULL;
	enum visid_simd simd;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (visid_simd_parse(tok, &simd) || simd == VISID_SIMD_AUTO) {
			fprintf(stderr, "visid-bench-match: unknown path '%s'\n", tok);
			return -EINVAL;
		}
		want[simd] = 1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: visid-bench-match [-n VECTORS] [-r RUNS] [-s PATH[,PATH...]]\n"
		"  -n  vectors in the large gallery (default 1000000, 5 per member)\n"
		"  -r  timed runs, best kept (default 5)\n"
		"  -s  paths to time: portable, avx2, avx512, neon (default: all this CPU has)\n");
}

struct bench {
	struct visid_gallery *small, *large;
	size_t large_bytes;
	uint64_t *read_buf;
	float query[VISID_EMBED_DIM];
	int runs;
	int want[VISID_SIMD_COUNT];
	double read_bw, small_t[VISID_SIMD_COUNT], large_t[VISID_SIMD_COUNT];
	const char *reader;
	struct visid_match large_r[VISID_SIMD_COUNT];
};

/*
 * Large-gallery runs interleave with the read reference, so both see the
 * same machine: on a shared host the load moves between runs. Best of each.
 */
static void bench_large(struct bench *b)
{
	for (int s = 0; s < VISID_SIMD_COUNT; s++)
		b->large_t[s] = 1e30;
	for (int r = 0; r < b->runs; r++) {
		const char *which = "";
		double bw = read_once(b->read_buf, b->large_bytes, &which);

		if (bw > b->read_bw) {
			b->read_bw = bw;
			b->reader = which;
		}
		for (int s = 0; s < VISID_SIMD_COUNT; s++) {
			double t;

			if (!b->want[s])
				continue;
			visid_gallery_set_simd(b->large, s);
			t = time_match(b->large, b->query, 1, 1, &b->large_r[s]);
			b->large_t[s] = t < b->large_t[s] ? t : b->large_t[s];
		}
	}
}

static void bench_small(struct bench *b)
{
	struct visid_match r;

	for (int s = 0; s < VISID_SIMD_COUNT; s++) {
		if (!b->want[s])
			continue;
		visid_gallery_set_simd(b->small, s);
		b->small_t[s] = time_match(b->small, b->query, b->runs, 20000, &r);
	}
}

static void print_results(const struct bench *b, size_t vectors, unsigned members)
{
	printf("gallery: %u members x %d = %zu vectors of %d floats, %.1f MiB fp32\n", members,
	       VISID_MATCH_MAX_VECTORS, vectors, VISID_EMBED_DIM, b->large_bytes / 1048576.0);
	printf("memory read (sum over %.0f MiB, best of %d runs and of the readers: %s): "
	       "%.2f GB/s\n", b->large_bytes / 1048576.0, b->runs, b->reader, b->read_bw / 1e9);
	printf("path      | 10 members x 5, per query | %zu vectors, per query, %% of read\n",
	       vectors);
	for (int s = 0; s < VISID_SIMD_COUNT; s++) {
		if (!b->want[s])
			continue;
		printf("%-9s %9.0f ns %7.2f GB/s | %8.2f ms %7.2f GB/s %6.1f %%   best %llu %.4f\n",
		       visid_simd_name(s), b->small_t[s] * 1e9,
		       50 * ROW_BYTES / b->small_t[s] / 1e9, b->large_t[s] * 1e3,
		       b->large_bytes / b->large_t[s] / 1e9,
		       100 * b->large_bytes / b->large_t[s] / b->read_bw,
		       (unsigned long long)b->large_r[s].id, b->large_r[s].score);
	}
}

int main(int argc, char **argv)
{
	struct bench b = { .runs = 5 };
	size_t vectors = 1000000;
	uint64_t state = 0x2545f4914f6cdd1dULL;
	int opt, any = 0, ret = 1;
	unsigned members;

	while ((opt = getopt(argc, argv, "n:r:s:h")) != -1) {
		switch (opt) {
		case 'n':
			vectors = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			b.runs = atoi(optarg);
			break;
		case 's':
			if (parse_paths(optarg, b.want))
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (vectors < VISID_MATCH_MAX_VECTORS || b.runs < 1) {
		usage(stderr);
		return 2;
	}
	members = (vectors + VISID_MATCH_MAX_VECTORS - 1) / VISID_MATCH_MAX_VECTORS;
	vectors = (size_t)members * VISID_MATCH_MAX_VECTORS;
	b.large_bytes = vectors * ROW_BYTES;
	for (int s = VISID_SIMD_PORTABLE; s < VISID_SIMD_COUNT; s++)
		any |= b.want[s];
	for (int s = VISID_SIMD_PORTABLE; s < VISID_SIMD_COUNT; s++)
		b.want[s] = (!any || b.want[s]) && visid_simd_supported(s);

	b.read_buf = aligned_alloc(64, b.large_bytes);
	if (!b.read_buf || visid_gallery_create(10, 0, &b.small) || fill_gallery(b.small, 10, 5) ||
	    visid_gallery_create(members, vectors, &b.large) ||
	    fill_gallery(b.large, members, VISID_MATCH_MAX_VECTORS)) {
		fprintf(stderr, "visid-bench-match: cannot build the galleries (2 x %zu MiB)\n",
			b.large_bytes >> 20);
		goto out_free;
	}
	memset(b.read_buf, 1, b.large_bytes);	/* fault every page in before timing */
	random_vector(&state, b.query);
	bench_large(&b);
	bench_small(&b);
	print_results(&b, vectors, members);
	ret = 0;
out_free:
	visid_gallery_destroy(b.large);
	visid_gallery_destroy(b.small);
	free(b.read_buf);
	return ret;
}
