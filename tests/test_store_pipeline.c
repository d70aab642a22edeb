/*
 * The gallery with the real face pipeline: members enrolled under one model
 * are re-vectorised from their stored photos when the model changes, and the
 * recomputed vectors identify held-out photos of the same people.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "store_fault/store_test.h"
#include "visid/face.h"
#include "visid/image.h"
#include "visid/log.h"

#define T0 1700000000LL
#define PEOPLE 3
#define POSES 1		/* partial enrollments keep the CPU time of the test small */
#define PHOTOS "data/faces/identity/insightface"

static const char *const folders[PEOPLE] = { "rob_lowe", "nathalie_baye", "tom_hanks" };
static const char *const enrolled[PEOPLE][POSES] = {
	{ "Rob_Lowe_0001.jpg" }, { "Nathalie_Baye_0002.jpg" }, { "Tom_Hanks_54745.png" },
};
/* A second photo of the first member, never enrolled. */
static const char held_out[] = "Rob_Lowe_0002.jpg";

static struct visid_face_pipeline *pipe_cpu;

static const char *skip_without_models(void)
{
	static char why[600];
	char path[512];

	if (!visid_test_have_shared(PHOTOS "/rob_lowe/Rob_Lowe_0002.jpg"))
		return "the photos of " PHOTOS " are absent";
	if (access(visid_test_model("MobileFaceNet.tflite", path, sizeof(path)), R_OK)) {
		snprintf(why, sizeof(why), "%s is absent (scripts/fetch-models)", path);
		return why;
	}
	return NULL;
}

static int init_pipeline(void)
{
	struct visid_face_options opt = { .backend = VISID_BACKEND_CPU };
	char dir[512], *slash;

	visid_test_model("MobileFaceNet.tflite", dir, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	opt.model_dir = dir;
	return visid_face_pipeline_create(&opt, &pipe_cpu) ? -1 : 0;
}

static int clean_pipeline(void)
{
	visid_face_pipeline_destroy(pipe_cpu);
	pipe_cpu = NULL;
	return 0;
}

/* The store's embed callback: decode, detect, embed the largest face. */
static int real_embed(void *ctx, const uint8_t *bytes, size_t len, float vec[VISID_EMBED_DIM])
{
	struct visid_face faces[4];
	struct visid_image img;
	int ret, n;

	ret = visid_image_decode(bytes, len, "stored enrollment image", &img);
	if (ret)
		return ret;
	n = visid_face_detect(ctx, &img, faces, 4);
	ret = n < 0 ? n : n == 0 ? -EINVAL : visid_face_embed(ctx, &img, &faces[0], vec);
	visid_image_free(&img);
	return ret;
}

static int read_photo(int person, const char *file, uint8_t **bytes, size_t *len)
{
	char rel[256], path[600];
	FILE *f;
	long size;

	snprintf(rel, sizeof(rel), PHOTOS "/%s/%s", folders[person], file);
	f = fopen(visid_test_shared(rel, path, sizeof(path)), "rb");
	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	*bytes = malloc(size);
	if (!*bytes || fread(*bytes, 1, size, f) != (size_t)size) {
		fclose(f);
		free(*bytes);
		return -EIO;
	}
	fclose(f);
	*len = size;
	return 0;
}

struct progress {
	int calls, total;
};

static void count_progress(void *ctx, int done, int total)
{
	struct progress *pr = ctx;

	pr->calls++;
	pr->total = total;
}

static float best_cosine(const struct visid_store_gallery_entry *e, const float *probe)
{
	float best = -2.0f;

	for (int pose = 0; pose < VISID_POSE_COUNT; pose++) {
		float dot = 0.0f;

		for (int i = 0; i < VISID_EMBED_DIM && (e->slots >> pose & 1); i++)
			dot += e->vectors[pose][i] * probe[i];
		if ((e->slots >> pose & 1) && dot > best)
			best = dot;
	}
	return best;
}

/* Enrolls both people under a stand-in model, as a gallery made by an older model would be. */
static int enroll_stand_in(const char *dir, int64_t *now, uint8_t *photos[][POSES],
			   size_t lens[][POSES])
{
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_store_options opt;
	struct visid_store *store;
	int ret;

	st_options(&opt, dir, now);
	ret = visid_store_open(&opt, &store);
	for (int p = 0; !ret && p < PEOPLE; p++) {
		memset(slots, 0, sizeof(slots));
		for (int pose = 0; pose < POSES; pose++) {
			slots[pose].image = photos[p][pose];
			slots[pose].image_len = lens[p][pose];
			st_embed((void *)st_model_a, photos[p][pose], lens[p][pose],
				 slots[pose].vector);
		}
		ret = visid_store_enroll(store, folders[p], NULL, 0, slots, NULL);
	}
	if (!ret)
		visid_store_close(store);
	return ret;
}

static void check_recomputed(struct visid_store_gallery *g, uint8_t *photos[][POSES],
			     size_t lens[][POSES])
{
	float vec[VISID_EMBED_DIM];

	/* One vector is enough to show they were recomputed from the images. */
	for (int p = 0; p < g->count && p < 1; p++) {
		for (int pose = 0; pose < POSES; pose++) {
			float diff = 0.0f;

			real_embed(pipe_cpu, photos[p][pose], lens[p][pose], vec);
			for (int i = 0; i < VISID_EMBED_DIM; i++)
				diff = fmaxf(diff, fabsf(vec[i] - g->members[p].vectors[pose][i]));
			VT_CHECK(diff < 1e-5f,
				 "%s %s: stored vector differs from the pipeline's by %g",
				 folders[p], enrolled[p][pose], diff);
		}
	}
}

static void check_identifies(struct visid_store_gallery *g)
{
	float probe[VISID_EMBED_DIM], own = -2.0f, other = -2.0f;
	uint8_t *bytes;
	size_t len;
	int ret;

	ret = read_photo(0, held_out, &bytes, &len);
	if (!ret) {
		ret = real_embed(pipe_cpu, bytes, len, probe);
		free(bytes);
	}
	VT_CHECK(ret == 0, "embedding %s/%s: %d", folders[0], held_out, ret);
	if (ret)
		return;
	for (int i = 0; i < g->count; i++) {
		float c = best_cosine(&g->members[i], probe);

		if (!strcmp(g->members[i].name, folders[0]))
			own = c;
		else
			other = fmaxf(other, c);
	}
	printf("\n    %s/%s: own %.3f, best other %.3f ", folders[0], held_out, own, other);
	VT_CHECK(own > other + 0.1f, "%s/%s: own member %.3f does not beat %.3f", folders[0],
		 held_out, own, other);
}

static void test_revectorize_with_real_pipeline(void)
{
	uint8_t *photos[PEOPLE][POSES] = { { 0 } };
	size_t lens[PEOPLE][POSES];
	struct visid_store_gallery *g = malloc(sizeof(*g));
	struct visid_store_options opt;
	struct visid_store *store;
	struct progress pr = { 0 };
	int64_t now = T0;
	char dir[200];
	int ret = g ? 0 : -ENOMEM;

	for (int p = 0; !ret && p < PEOPLE; p++)
		for (int pose = 0; !ret && pose < POSES; pose++)
			ret = read_photo(p, enrolled[p][pose], &photos[p][pose], &lens[p][pose]);
	VT_CHECK(ret == 0, "reading the photos: %d", ret);
	if (ret)
		goto out;
	snprintf(dir, sizeof(dir), "%s/state", visid_test_tmpdir());
	ret = enroll_stand_in(dir, &now, photos, lens);
	VT_CHECK(ret == 0, "enrolling under the stand-in model: %d", ret);
	if (ret)
		goto out;

	st_options(&opt, dir, &now);
	opt.model_id = visid_face_model_id(pipe_cpu);
	opt.embed = real_embed;
	opt.embed_ctx = pipe_cpu;
	opt.progress = count_progress;
	opt.progress_ctx = &pr;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0, "re-vectorising with model %s: %d", opt.model_id, ret);
	if (ret)
		goto out;
	VT_CHECK(pr.total == PEOPLE * POSES && pr.calls == pr.total + 1,
		 "progress: %d calls for %d vectors", pr.calls, pr.total);
	ret = visid_store_load_gallery(store, g);
	VT_CHECK(ret == PEOPLE, "%d members loaded after re-vectorising", ret);
	visid_store_close(store);
	if (ret == PEOPLE) {
		check_recomputed(g, photos, lens);
		check_identifies(g);
	}
	visid_store_gallery_wipe(g);
out:
	for (int p = 0; p < PEOPLE; p++)
		for (int pose = 0; pose < POSES; pose++)
			free(photos[p][pose]);
	free(g);
}

VISID_SUITE(store_pipeline, "store_pipeline", init_pipeline, clean_pipeline,
	    skip_without_models, VISID_TEST(test_revectorize_with_real_pipeline))
