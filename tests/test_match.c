/*
 * Gallery matching: membership, the SIMD override, and above all that every
 * dot-product path (portable, AVX2, AVX-512 here; NEON under qemu-user) makes
 * the same decisions with scores within 1e-5 of each other.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "neon/match_data.h"
#include "visid/log.h"
#include "visid/match.h"

#define DECISION_FIELDS 8	/* index, best, second, score, second score, three decisions */
#define SCORE_TOLERANCE 1e-5

static void unit_vector(int seed, float *out)
{
	uint64_t state = 0x51ed270b27e3a1f5ULL * (uint64_t)(seed + 1);

	for (int j = 0; j < VISID_EMBED_DIM; j++)
		out[j] = md_int(&state, 1000);
}

static char last_log[256];
static int logged;

static void capture_log(enum visid_log_level level, const char *msg, void *data)
{
	snprintf(last_log, sizeof(last_log), "%s", msg);
	logged++;
}

static void test_simd_names_and_override(void)
{
	enum visid_simd simd = VISID_SIMD_COUNT;
	const char *saved = getenv("VISID_SIMD");
	char *keep = saved ? strdup(saved) : NULL;

	for (int s = 0; s < VISID_SIMD_COUNT; s++) {
		VT_CHECK(!visid_simd_parse(visid_simd_name(s), &simd) && simd == (enum visid_simd)s,
			 "name %s does not parse back to %d", visid_simd_name(s), s);
	}
	VT_CHECK(visid_simd_parse("sse9", &simd) == -EINVAL, "unknown path name accepted");
	VT_CHECK(visid_simd_supported(VISID_SIMD_PORTABLE), "portable path missing");
#if defined(__x86_64__)
	VT_CHECK(!visid_simd_supported(VISID_SIMD_NEON), "NEON claimed on x86");
#endif

	setenv("VISID_SIMD", "portable", 1);
	VT_CHECK(visid_simd_default() == VISID_SIMD_PORTABLE, "VISID_SIMD=portable gave %s",
		 visid_simd_name(visid_simd_default()));
	setenv("VISID_SIMD", "no-such-path", 1);
	visid_log_set_handler(capture_log, NULL);
	logged = 0;
	simd = visid_simd_default();
	visid_log_set_handler(NULL, NULL);
	VT_CHECK(simd != VISID_SIMD_AUTO && visid_simd_supported(simd),
		 "bad VISID_SIMD gave %s", visid_simd_name(simd));
	VT_CHECK(logged == 1 && strstr(last_log, "no-such-path"),
		 "bad VISID_SIMD not reported by name: '%s'", last_log);
	if (keep)
		setenv("VISID_SIMD", keep, 1);
	else
		unsetenv("VISID_SIMD");
	free(keep);
}

static void test_membership(void)
{
	float vecs[3 * VISID_EMBED_DIM], query[VISID_EMBED_DIM], bad[VISID_EMBED_DIM] = { 0 };
	struct visid_gallery *g;
	struct visid_match r;
	uint64_t id;

	visid_log_set_handler(capture_log, NULL);
	VT_CHECK(visid_gallery_create(0, 0, &g) == -EINVAL, "zero-member gallery accepted");
	if (visid_gallery_create(2, 4, &g)) {
		visid_log_set_handler(NULL, NULL);
		VT_CHECK(0, "cannot create a 2-member gallery");
		return;
	}
	unit_vector(1, query);
	VT_CHECK(!visid_gallery_match(g, query, 0.5f, &r) && r.member == -1 && !r.accepted,
		 "empty gallery matched member %d", r.member);

	for (int v = 0; v < 3; v++)
		unit_vector(10 + v, vecs + v * VISID_EMBED_DIM);
	VT_CHECK(visid_gallery_set(g, 7, vecs, 0) == -EINVAL, "zero vectors accepted");
	VT_CHECK(visid_gallery_set(g, 7, vecs, VISID_MATCH_MAX_VECTORS + 1) == -EINVAL,
		 "%d vectors accepted", VISID_MATCH_MAX_VECTORS + 1);
	VT_CHECK(visid_gallery_set(g, 7, bad, 1) == -EINVAL, "zero vector accepted");
	bad[5] = NAN;
	logged = 0;
	VT_CHECK(visid_gallery_set(g, 7, bad, 1) == -EINVAL, "NaN vector accepted");
	VT_CHECK(logged == 1 && strstr(last_log, "member 7"),
		 "NaN vector not reported with the member: '%s'", last_log);
	VT_CHECK(visid_gallery_match(g, bad, 0.5f, &r) == -EINVAL, "NaN query accepted");

	VT_CHECK(!visid_gallery_set(g, 7, vecs, 3), "member 7 with 3 vectors refused");
	VT_CHECK(visid_gallery_set(g, 8, vecs, 2) == -ENOSPC,
		 "5 vectors fit in a 4-vector gallery");
	VT_CHECK(!visid_gallery_set(g, 8, vecs + 2 * VISID_EMBED_DIM, 1), "member 8 refused");
	visid_log_set_handler(NULL, NULL);
	VT_CHECK(visid_gallery_member_count(g) == 2 && visid_gallery_vector_count(g) == 4,
		 "%d members, %zu vectors (want 2, 4)", visid_gallery_member_count(g),
		 visid_gallery_vector_count(g));

	/* A stored vector (here scaled) matches its member with cosine 1. */
	for (int j = 0; j < VISID_EMBED_DIM; j++)
		query[j] = 3 * vecs[VISID_EMBED_DIM + j];
	VT_CHECK(!visid_gallery_match(g, query, 0.99f, &r) && r.id == 7 && r.accepted &&
			 fabsf(r.score - 1) < 1e-6f && r.second_id == 8 &&
			 fabsf(r.margin - (r.score - r.second_score)) < 1e-7f,
		 "own vector: id %llu score %.7f accepted %d second %llu",
		 (unsigned long long)r.id, r.score, r.accepted, (unsigned long long)r.second_id);

	/* Replacing member 7 with one vector frees room; 8 is then alone after removal. */
	VT_CHECK(!visid_gallery_set(g, 7, vecs + 2 * VISID_EMBED_DIM, 1), "replace refused");
	VT_CHECK(visid_gallery_vector_count(g) == 2, "%zu vectors after replace (want 2)",
		 visid_gallery_vector_count(g));
	VT_CHECK(!visid_gallery_remove(g, 7) && visid_gallery_remove(g, 7) == -ENOENT,
		 "remove of member 7 not reported right");
	VT_CHECK(!visid_gallery_match(g, query, 0.99f, &r) && r.id == 8 && r.second == -1 &&
			 r.second_score == -1.0f && !r.accepted,
		 "after removal: id %llu second %d accepted %d", (unsigned long long)r.id,
		 r.second, r.accepted);
	VT_CHECK(!visid_gallery_member_id(g, 0, &id) && id == 8 &&
			 visid_gallery_member_id(g, 1, &id) == -ENOENT,
		 "member ids after removal wrong");
	visid_gallery_destroy(g);
}

/* Splits a report line; the decision fields must match exactly, the scores closely. */
static int compare_lines(const char *want, const char *got, const char *what, double *worst)
{
	const char *w = want, *g = got;
	char *end;

	for (int f = 0; f < DECISION_FIELDS; f++) {
		size_t wl = strcspn(w, " "), gl = strcspn(g, " ");

		if (wl != gl || strncmp(w, g, wl)) {
			VT_CHECK(0, "%s: decision differs:\n      want %s\n      got  %s", what,
				 want, got);
			return -1;
		}
		w += wl + (w[wl] == ' ');
		g += gl + (g[gl] == ' ');
	}
	for (int m = 0; m < MD_MEMBERS; m++) {
		double a = strtod(w, &end), b;

		w = end;
		b = strtod(g, &end);
		g = end;
		if (fabs(a - b) > *worst)
			*worst = fabs(a - b);
	}
	return 0;
}

static char (*report_lines(struct visid_gallery *g, enum visid_simd simd))[512]
{
	char (*lines)[512] = calloc(MD_QUERIES, sizeof(*lines));

	for (int i = 0; lines && i < MD_QUERIES; i++) {
		if (md_report_line(g, simd, i, lines[i], sizeof(lines[i]))) {
			VT_CHECK(0, "query %d failed on %s", i, visid_simd_name(simd));
			free(lines);
			return NULL;
		}
	}
	return lines;
}

/* Each member alone in a gallery gives its exact score; the decision must be their argmax. */
static int build_singles(struct visid_gallery **single)
{
	float vecs[VISID_MATCH_MAX_VECTORS * VISID_EMBED_DIM];

	for (int m = 0; m < MD_MEMBERS; m++) {
		for (int v = 0; v < VISID_MATCH_MAX_VECTORS; v++)
			md_member_vector(m, v, vecs + v * VISID_EMBED_DIM);
		if (visid_gallery_create(1, 0, &single[m]) ||
		    visid_gallery_set(single[m], MD_ID_BASE + m, vecs, VISID_MATCH_MAX_VECTORS))
			return -1;
	}
	return 0;
}

static void check_exact_argmax(struct visid_gallery **single, int query_index, const char *line)
{
	float query[VISID_EMBED_DIM], best = -2;
	int best_m = -1;
	unsigned long long id = 0;
	struct visid_match r;

	md_query(query_index, query);
	for (int m = 0; m < MD_MEMBERS; m++) {
		visid_gallery_match(single[m], query, 0, &r);
		if (r.score > best) {
			best = r.score;
			best_m = m;
		}
	}
	sscanf(line, "%*d %llu", &id);
	VT_CHECK(id == (unsigned long long)(MD_ID_BASE + best_m),
		 "query %d: decided %llu, exact argmax %d", query_index, id, MD_ID_BASE + best_m);
}

static void test_paths_agree(void)
{
	char (*reference)[512], (*lines)[512];
	struct visid_gallery *g, *single[MD_MEMBERS] = { NULL };
	int paths = 0, mismatches = 0, accepted = 0, twin_ties = 0;

	if (md_build_gallery(&g) || build_singles(single)) {
		VT_CHECK(0, "cannot build the test galleries");
		goto out_free_gallery;
	}
	reference = report_lines(g, VISID_SIMD_PORTABLE);
	if (!reference)
		goto out_free_gallery;
	for (int i = 0; i < MD_QUERIES; i++) {
		int acc, at, above;

		sscanf(reference[i], "%*d %*u %*u %*s %*s %d %d %d", &acc, &at, &above);
		accepted += acc;
		VT_CHECK(at == 1 && above == 0, "query %d: threshold at the score %d, above %d", i,
			 at, above);
		twin_ties += !strncmp(strchr(reference[i], ' ') + 1, "103 109", 7);
		if (i % 10 == 0)
			check_exact_argmax(single, i, reference[i]);
	}
	/* The query set must exercise both outcomes and the exact tie. */
	VT_CHECK(accepted > MD_QUERIES / 5 && accepted < MD_QUERIES * 4 / 5,
		 "%d of %d queries accepted at 0.5: the set does not straddle the threshold",
		 accepted, MD_QUERIES);
	VT_CHECK(twin_ties > 10, "only %d queries tie the twin members", twin_ties);

	for (enum visid_simd s = VISID_SIMD_AVX2; s < VISID_SIMD_COUNT; s++) {
		double worst = 0;

		if (!visid_simd_supported(s))
			continue;
		lines = report_lines(g, s);
		for (int i = 0; lines && i < MD_QUERIES && mismatches < 5; i++)
			mismatches += compare_lines(reference[i], lines[i], visid_simd_name(s),
						    &worst) != 0;
		VT_CHECK(worst <= SCORE_TOLERANCE, "%s scores differ from portable by %.3g",
			 visid_simd_name(s), worst);
		printf("[%s: %d queries, same decisions, scores within %.2g] ", visid_simd_name(s),
		       MD_QUERIES, worst);
		free(lines);
		paths++;
	}
	VT_CHECK(!mismatches, "%d decision mismatches", mismatches);
#if defined(__x86_64__)
	VT_CHECK(paths >= 1, "no SIMD path on this x86 CPU was compared");
#endif
	free(reference);
out_free_gallery:
	for (int m = 0; m < MD_MEMBERS; m++)
		visid_gallery_destroy(single[m]);
	visid_gallery_destroy(g);
}

static void test_gallery_scales(void)
{
	/* 20000 members x 5: the id index and the block layout beyond the product limit. */
	enum { MEMBERS = 20000 };
	float vecs[VISID_MATCH_MAX_VECTORS * VISID_EMBED_DIM];
	struct visid_gallery *g;
	struct visid_match r;
	int ret = 0;

	if (visid_gallery_create(MEMBERS, 0, &g)) {
		VT_CHECK(0, "cannot create a %d-member gallery", MEMBERS);
		return;
	}
	for (int m = 0; m < MEMBERS && !ret; m++) {
		for (int v = 0; v < VISID_MATCH_MAX_VECTORS; v++)
			unit_vector(m * 8 + v, vecs + v * VISID_EMBED_DIM);
		ret = visid_gallery_set(g, 1000003ULL * m, vecs, VISID_MATCH_MAX_VECTORS);
	}
	VT_CHECK(!ret && visid_gallery_vector_count(g) == MEMBERS * VISID_MATCH_MAX_VECTORS,
		 "filling failed (%d) at %zu vectors", ret, visid_gallery_vector_count(g));
	unit_vector(12345 * 8 + 2, vecs);
	VT_CHECK(!visid_gallery_match(g, vecs, 0.9f, &r) && r.id == 1000003ULL * 12345 &&
			 r.accepted,
		 "member 12345's vector matched id %llu (score %.6f)", (unsigned long long)r.id,
		 r.score);
	VT_CHECK(!visid_gallery_remove(g, 1000003ULL * 5) &&
			 !visid_gallery_match(g, vecs, 0.9f, &r) && r.id == 1000003ULL * 12345,
		 "after removing an earlier member: matched id %llu", (unsigned long long)r.id);
	visid_gallery_destroy(g);
}

VISID_SUITE(match, "match", NULL, NULL, NULL, VISID_TEST(test_simd_names_and_override),
	    VISID_TEST(test_membership), VISID_TEST(test_paths_agree),
	    VISID_TEST(test_gallery_scales))

/* Real embeddings: the two golden faces of one person must score 0.780 on every path. */
static const char *golden_skip(void)
{
	if (!visid_test_have_shared("golden/face_sample1_f0/mfn_embedding_l2norm.f32") ||
	    !visid_test_have_shared("golden/face_sample3_f0/mfn_embedding_l2norm.f32"))
		return "../shared/golden embeddings not present";
	return NULL;
}

static void test_golden_pair(void)
{
	float *a = NULL, *b = NULL;
	struct visid_gallery *g = NULL;
	struct visid_match r;
	char path[512];

	if (visid_test_read_f32(visid_test_shared("golden/face_sample1_f0/mfn_embedding_l2norm.f32",
						  path, sizeof(path)), &a) != VISID_EMBED_DIM ||
	    visid_test_read_f32(visid_test_shared("golden/face_sample3_f0/mfn_embedding_l2norm.f32",
						  path, sizeof(path)), &b) != VISID_EMBED_DIM) {
		VT_CHECK(0, "golden embeddings unreadable or not %d floats", VISID_EMBED_DIM);
		goto out_free;
	}
	if (visid_gallery_create(1, 0, &g) || visid_gallery_set(g, 1, a, 1)) {
		VT_CHECK(0, "cannot store the golden embedding");
		goto out_free;
	}
	for (enum visid_simd s = VISID_SIMD_PORTABLE; s < VISID_SIMD_COUNT; s++) {
		float score;

		if (!visid_simd_supported(s))
			continue;
		visid_gallery_set_simd(g, s);
		VT_CHECK(visid_gallery_scores(g, b, &score, 1) == 1 &&
			     fabs(score - 0.7800221350065257) < 1e-5,
			 "%s: same-person score %.7f, reference 0.7800221", visid_simd_name(s),
			 score);
		VT_CHECK(!visid_gallery_match(g, b, 0.78f, &r) && r.accepted &&
				 !visid_gallery_match(g, b, 0.7801f, &r) && !r.accepted,
			 "%s: decision around the reference score wrong", visid_simd_name(s));
	}
out_free:
	visid_gallery_destroy(g);
	free(a);
	free(b);
}

VISID_SUITE(match_golden, "match-golden", NULL, NULL, golden_skip, VISID_TEST(test_golden_pair))

/*
 * NEON: tests/neon/run.sh builds the same report program for arm64 and runs it
 * under qemu-user; its portable and NEON sections must decide like x86.
 */
static const char *neon_skip(void)
{
	if (access("tests/neon/run.sh", X_OK))
		return "tests/neon/run.sh not found: run visid-tests from the source tree";
	if (system("command -v aarch64-linux-gnu-gcc >/dev/null 2>&1"))
		return "no aarch64-linux-gnu-gcc: install gcc-aarch64-linux-gnu "
		       "(scripts/install-deps --cross)";
	if (system("command -v qemu-aarch64-static >/dev/null 2>&1"))
		return "no qemu-aarch64-static: install qemu-user-static "
		       "(scripts/install-deps --cross)";
	return NULL;
}

static void compare_neon_section(FILE *f, char (*x86)[512], const char *path)
{
	char line[512], what[64];
	int count = 0, mismatches = 0;
	double worst = 0;

	snprintf(what, sizeof(what), "arm64 %s vs x86 portable", path);
	while (count < MD_QUERIES && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (mismatches < 5)
			mismatches += compare_lines(x86[count], line, what, &worst) != 0;
		count++;
	}
	VT_CHECK(count == MD_QUERIES, "%s: %d of %d lines", what, count, MD_QUERIES);
	VT_CHECK(!mismatches && worst <= SCORE_TOLERANCE, "%s: %d mismatches, scores within %.3g",
		 what, mismatches, worst);
	printf("[%s: %d queries, same decisions, scores within %.2g] ", what, count, worst);
}

static void test_neon_matches_x86(void)
{
	const char *dir = visid_test_tmpdir();
	char cmd[400], path[400], line[512];
	char (*x86)[512] = NULL;
	struct visid_gallery *g = NULL;
	int status, sections = 0;
	FILE *f = NULL;

	snprintf(cmd, sizeof(cmd), "tests/neon/run.sh '%s'", dir ? dir : "/nonexistent");
	status = system(cmd);
	if (!dir || !WIFEXITED(status) || WEXITSTATUS(status)) {
		VT_CHECK(0, "%s failed (status %d; see its messages above)", cmd, status);
		return;
	}
	snprintf(path, sizeof(path), "%s/neon.txt", dir);
	f = fopen(path, "r");
	if (!f || md_build_gallery(&g) || !(x86 = report_lines(g, VISID_SIMD_PORTABLE))) {
		VT_CHECK(0, "cannot read %s or build the x86 report", path);
		goto out_free;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[32];

		if (sscanf(line, "# path %31s", name) == 1) {
			compare_neon_section(f, x86, name);
			sections += !strcmp(name, "neon") || !strcmp(name, "portable");
		}
	}
	VT_CHECK(sections == 2, "arm64 report has %d of the portable and neon sections", sections);
out_free:
	free(x86);
	visid_gallery_destroy(g);
	if (f)
		fclose(f);
}

VISID_SUITE(match_neon, "match-neon", NULL, NULL, neon_skip, VISID_TEST(test_neon_matches_x86))
