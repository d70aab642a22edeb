/*
 * Evaluation math on constructed score sets and vectors whose answers are
 * worked out by hand in the comments.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "visid/eval.h"
#include "visid/face.h"
#include "visid/log.h"

static int near(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
}

/*
 * Genuine 0.9 0.8 0.7 0.6, impostor 0.65 0.5 0.4 0.3: at t = 0.65 one
 * impostor of four is accepted and one genuine of four (0.6) rejected, so
 * FAR = FRR = 0.25 there and nowhere closer.
 */
static void test_eer_crossing(void)
{
	const float gen[] = { 0.9f, 0.8f, 0.7f, 0.6f }, imp[] = { 0.65f, 0.5f, 0.4f, 0.3f };
	struct visid_eval_rates r;

	VT_CHECK(!visid_eval_rates(gen, 4, imp, 4, &r), "rates failed");
	VT_CHECK(r.eer == 0.25 && r.eer_threshold == 0.65f, "EER %.4f at %.4f, want 0.25 at 0.65",
		 r.eer, r.eer_threshold);
	VT_CHECK(r.genuine == 4 && r.impostor == 4, "counts %zu/%zu", r.genuine, r.impostor);
}

/*
 * Genuine 0.9 0.6 0.5, impostor 0.7 0.4 0.3 0.2. Candidates: t = 0.5 gives
 * FAR 1/4, FRR 0 (gap 0.25); t = 0.6 gives FAR 1/4, FRR 1/3 (gap 1/12, the
 * least); t = 0.7 gives FAR 1/4, FRR 2/3. EER = (1/4 + 1/3) / 2 = 7/24.
 * Four impostors cannot measure FAR 1e-2: the threshold sits just above 0.7
 * and only 0.9 passes, TAR 1/3, flagged unresolved.
 */
static void test_eer_between_steps(void)
{
	const float gen[] = { 0.9f, 0.6f, 0.5f }, imp[] = { 0.7f, 0.4f, 0.3f, 0.2f };
	struct visid_eval_rates r;

	VT_CHECK(!visid_eval_rates(gen, 3, imp, 4, &r), "rates failed");
	VT_CHECK(near(r.eer, 7.0 / 24, 1e-12) && r.eer_threshold == 0.6f,
		 "EER %.6f at %.3f, want %.6f at 0.6", r.eer, r.eer_threshold, 7.0 / 24);
	VT_CHECK(r.at_far[0].threshold == nextafterf(0.7f, 1) && r.at_far[0].far == 0 &&
			 near(r.at_far[0].tar, 1.0 / 3, 1e-12) && !r.at_far[0].resolved,
		 "FAR 1e-2 point: threshold %.9g far %g tar %g resolved %d",
		 r.at_far[0].threshold, r.at_far[0].far, r.at_far[0].tar, r.at_far[0].resolved);
}

/* Separated sets: at t = 0.8 nothing is wrong, EER 0. */
static void test_eer_separated(void)
{
	const float gen[] = { 0.9f, 0.8f }, imp[] = { 0.3f, 0.2f };
	struct visid_eval_rates r;

	VT_CHECK(!visid_eval_rates(gen, 2, imp, 2, &r) && r.eer == 0 && r.eer_threshold == 0.8f,
		 "EER %.4f at %.4f, want 0 at 0.8", r.eer, r.eer_threshold);
}

/*
 * 1000 impostors at 0.000, 0.001, ... 0.999: FAR 1e-2 allows 10, so the
 * threshold lies just above the 11th highest (0.989); FAR 1e-3 allows one,
 * just above 0.998. Of the genuine scores 0.5 0.95 0.99 0.995 0.9985 0.999,
 * four pass the first and two the second.
 */
static void test_operating_points(void)
{
	const float gen[] = { 0.5f, 0.95f, 0.99f, 0.995f, 0.9985f, 0.999f };
	float *imp = malloc(1000 * sizeof(*imp));
	struct visid_eval_rates r;

	if (!imp)
		return;
	for (int i = 0; i < 1000; i++)
		imp[(i * 7) % 1000] = i / 1000.0f;	/* out of order on purpose */
	VT_CHECK(!visid_eval_rates(gen, 6, imp, 1000, &r), "rates failed");
	VT_CHECK(r.at_far[0].threshold == nextafterf(0.989f, 1) && r.at_far[0].far == 0.01 &&
			 near(r.at_far[0].tar, 4.0 / 6, 1e-12) && r.at_far[0].resolved,
		 "FAR 1e-2: threshold %.9g far %g tar %g", r.at_far[0].threshold, r.at_far[0].far,
		 r.at_far[0].tar);
	VT_CHECK(r.at_far[1].threshold == nextafterf(0.998f, 1) && r.at_far[1].far == 0.001 &&
			 near(r.at_far[1].tar, 2.0 / 6, 1e-12) && r.at_far[1].resolved,
		 "FAR 1e-3: threshold %.9g far %g tar %g", r.at_far[1].threshold, r.at_far[1].far,
		 r.at_far[1].tar);
	VT_CHECK(visid_eval_threshold_at_far(imp, 1000, 1.0) == 0.0f &&
		     visid_eval_accept_rate(imp, 1000, 0.5f) == 0.5,
		 "FAR 1 threshold %.3g or accept rate at 0.5 %.3g wrong",
		 visid_eval_threshold_at_far(imp, 1000, 1.0),
		 visid_eval_accept_rate(imp, 1000, 0.5f));
	VT_CHECK(visid_eval_rates(gen, 0, imp, 1000, &r) == -EINVAL, "empty genuine set accepted");
	imp[3] = NAN;
	VT_CHECK(visid_eval_rates(gen, 6, imp, 1000, &r) == -EINVAL, "NaN score accepted");
	free(imp);
}

static void angle_vector(double degrees, float *v)
{
	memset(v, 0, VISID_EMBED_DIM * sizeof(*v));
	v[0] = (float)cos(degrees * M_PI / 180);
	v[1] = (float)sin(degrees * M_PI / 180);
}

static void axis_vector(int axis, float *v)
{
	memset(v, 0, VISID_EMBED_DIM * sizeof(*v));
	v[axis] = 1;
}

/*
 * Vectors on a circle, so every score is the cosine of an angle difference:
 *   group x: A at 0 and 20 degrees, B at 60 and 80
 *   group y: C at 180 and 190, D at 240 and 250, E on two unused axes (score 0)
 *   ungrouped: 46 single-image labels on further axes (score 0 with all).
 * Genuine: cos 20 (A, B), cos 10 (C, D), 0 (E). The positive impostors are
 * A-B {cos 60, cos 80, cos 40, cos 60} and C-D {cos 60, cos 70, cos 50,
 * cos 60}; all cross-group ones are negative. With 1535 impostors FAR 1e-3
 * allows one, so the threshold is just above cos 50: A-B's cos 40 is the one
 * false match (group x FMR 1/4) and E's 0 the one false non-match (group y
 * FNMR 1/3). EER: at t = cos 80 FRR = 1/5 and FAR = 8/1535, the closest pair.
 * Margins (best genuine - best impostor) per image: A0 cos20-cos60,
 * A20 cos20-cos40, B60 cos20-cos40, B80 cos20-cos60, C180 cos10-cos60,
 * C190 cos10-cos50, D240 cos10-cos50, D250 cos10-cos60, E 0 and 0.
 */
static void test_pairs_groups_margins(void)
{
	static const struct { const char *label, *group; double angle; } circle[] = {
		{ "A", "x", 0 },   { "A", "x", 20 },  { "B", "x", 60 },  { "B", "x", 80 },
		{ "C", "y", 180 }, { "C", "y", 190 }, { "D", "y", 240 }, { "D", "y", 250 },
	};
	double c10 = cos(M_PI / 18), c20 = cos(M_PI / 9), c40 = cos(2 * M_PI / 9);
	double c50 = cos(5 * M_PI / 18), c60 = 0.5;
	double m[4] = { c20 - c40, c20 - c60, c10 - c50, c10 - c60 };
	struct visid_eval_report r;
	struct visid_eval *ev;
	float v[VISID_EMBED_DIM];
	char path[400], head[8] = "", label[24];
	FILE *f;
	int ret = visid_eval_create(&ev);

	for (size_t i = 0; !ret && i < sizeof(circle) / sizeof(circle[0]); i++) {
		angle_vector(circle[i].angle, v);
		ret = visid_eval_add(ev, circle[i].label, circle[i].group, v);
	}
	for (int k = 0; !ret && k < 2; k++) {
		axis_vector(2 + k, v);
		ret = visid_eval_add(ev, "E", "y", v);
	}
	for (int k = 0; !ret && k < 46; k++) {
		axis_vector(4 + k, v);
		snprintf(label, sizeof(label), "single%d", k);
		ret = visid_eval_add(ev, label, NULL, v);
	}
	VT_CHECK(!ret && !visid_eval_compute(ev, &r), "collecting or computing failed (%d)", ret);
	if (ret)
		goto out_destroy;

	VT_CHECK(r.images == 56 && r.labels == 51 && r.rates.genuine == 5 &&
			 r.rates.impostor == 1535,
		 "%zu images %zu labels %zu genuine %zu impostor", r.images, r.labels,
		 r.rates.genuine, r.rates.impostor);
	VT_CHECK(near(r.threshold, c50, 1e-6) && r.threshold > (float)c50 - 1e-6f,
		 "threshold %.7f, want just above cos 50 = %.7f", r.threshold, c50);
	VT_CHECK(near(r.rates.eer, (0.2 + 8.0 / 1535) / 2, 1e-12) &&
			 near(r.rates.eer_threshold, cos(4 * M_PI / 9), 1e-6),
		 "EER %.6f at %.6f, want %.6f at cos 80", r.rates.eer, r.rates.eer_threshold,
		 (0.2 + 8.0 / 1535) / 2);
	VT_CHECK(r.group_count == 2 && !strcmp(r.groups[0].name, "x") &&
			 !strcmp(r.groups[1].name, "y"),
		 "%d groups", r.group_count);
	if (r.group_count == 2) {
		const struct visid_eval_group *x = &r.groups[0], *y = &r.groups[1];

		VT_CHECK(x->images == 4 && x->genuine == 2 && x->impostor == 4 &&
				 x->false_matches == 1 && x->fmr == 0.25 && x->fnmr == 0,
			 "group x: %zu images %zu gen %zu imp %zu fm fmr %g fnmr %g", x->images,
			 x->genuine, x->impostor, x->false_matches, x->fmr, x->fnmr);
		VT_CHECK(y->images == 6 && y->genuine == 3 && y->impostor == 12 &&
				 y->false_non_matches == 1 && near(y->fnmr, 1.0 / 3, 1e-12) &&
				 y->fmr == 0,
			 "group y: %zu images %zu gen %zu imp %zu fnm fnmr %g fmr %g", y->images,
			 y->genuine, y->impostor, y->false_non_matches, y->fnmr, y->fmr);
	}
	VT_CHECK(r.cross_group_impostor == 24 && r.cross_group_false_matches == 0,
		 "cross-group: %zu pairs, %zu false matches", r.cross_group_impostor,
		 r.cross_group_false_matches);

	VT_CHECK(r.margins.probes == 10 && r.margins.negative == 0 && r.margins.min == 0 &&
			 near(r.margins.median, m[2], 1e-6) &&
			 near(r.margins.mean, 2 * (m[0] + m[1] + m[2] + m[3]) / 10, 1e-6),
		 "margins: %zu probes min %.5f median %.5f mean %.5f", r.margins.probes,
		 r.margins.min, r.margins.median, r.margins.mean);
	VT_CHECK(r.closest_count == 5 && !strcmp(r.closest[0].label_a, "A") &&
		     !strcmp(r.closest[0].label_b, "B") && near(r.closest[0].score, c40, 1e-6) &&
		     r.closest[0].below_threshold < 0 && r.closest[1].below_threshold > 0,
		 "closest impostor pair %s-%s %.5f", r.closest[0].label_a, r.closest[0].label_b,
		 r.closest[0].score);

	snprintf(path, sizeof(path), "%s/roc.svg", visid_test_tmpdir());
	VT_CHECK(!visid_eval_write_svg(ev, path), "cannot write %s", path);
	f = fopen(path, "r");
	VT_CHECK(f && fread(head, 1, 4, f) == 4 && !memcmp(head, "<svg", 4), "%s is not an SVG",
		 path);
	if (f) {
		char body[65536];
		size_t n = fread(body, 1, sizeof(body) - 1, f);

		body[n] = 0;
		VT_CHECK(strstr(body, "group x") && strstr(body, "group y") &&
				 strstr(body, "<polyline") && strstr(body, "</svg>"),
			 "SVG lacks the group curves or is cut short (%zu bytes)", n);
		fclose(f);
	}
out_destroy:
	visid_eval_destroy(ev);
}

static void quiet(enum visid_log_level level, const char *msg, void *data)
{
}

static void test_needs_both_kinds(void)
{
	struct visid_eval_report r;
	struct visid_eval *ev;
	float v[VISID_EMBED_DIM] = { 0 };

	if (visid_eval_create(&ev))
		return;
	visid_log_set_handler(quiet, NULL);
	VT_CHECK(visid_eval_add(ev, "A", NULL, v) == -EINVAL, "zero vector accepted");
	axis_vector(0, v);
	visid_eval_add(ev, "A", NULL, v);
	axis_vector(1, v);
	visid_eval_add(ev, "B", NULL, v);
	VT_CHECK(visid_eval_compute(ev, &r) == -EINVAL, "no genuine pair, yet computed");
	VT_CHECK(visid_eval_write_svg(ev, "/nonexistent/x.svg") == -EINVAL,
		 "plot written without a computed report");
	visid_log_set_handler(NULL, NULL);
	visid_eval_destroy(ev);
}

VISID_SUITE(eval, "eval", NULL, NULL, NULL, VISID_TEST(test_eer_crossing),
	    VISID_TEST(test_eer_between_steps), VISID_TEST(test_eer_separated),
	    VISID_TEST(test_operating_points), VISID_TEST(test_pairs_groups_margins),
	    VISID_TEST(test_needs_both_kinds))

/*
 * Real photos through the face pipeline (CPU backend): the openface set's
 * six photos, two people with two each and two singles. Lennon's and
 * Clapton's own photos must be each other's closest, so both genuine pairs
 * beat all 13 impostor pairs (EER 0, no negative margin) and the plot holds
 * them.
 */
static const char *need_models_and_photos(void)
{
	char path[256];

	if (!visid_test_have_shared("data/faces/identity/openface"))
		return "../shared/data/faces is absent (real photos needed)";
	if (access(visid_test_model("MobileFaceNet.tflite", path, sizeof(path)), R_OK))
		return "models are not fetched (run scripts/fetch-models)";
	return NULL;
}

static void test_openface_photos(void)
{
	static const char *const photos[][2] = {
		{ "john_lennon", "lennon-1.jpg" },   { "john_lennon", "lennon-2.jpg" },
		{ "eric_clapton", "clapton-1.jpg" }, { "eric_clapton", "clapton-2.jpg" },
		{ "amy_adams", "adams.jpg" },	     { "steve_carell", "carell.jpg" },
	};
	char dir[256], path[512];
	struct visid_face_options opt = {
		.model_dir = visid_test_model("", dir, sizeof(dir)),
		.backend = VISID_BACKEND_CPU,
	};
	struct visid_face_pipeline *pipe = NULL;
	struct visid_eval *ev = NULL;
	struct visid_eval_report r;
	float vec[VISID_EMBED_DIM];
	int added = 0;

	if (visid_face_pipeline_create(&opt, &pipe) || visid_eval_create(&ev)) {
		VT_CHECK(0, "cannot start the face pipeline on %s", dir);
		goto out_free;
	}
	for (size_t i = 0; i < sizeof(photos) / sizeof(photos[0]); i++) {
		struct visid_face face;
		struct visid_image img;
		char rel[128];

		snprintf(rel, sizeof(rel), "data/faces/identity/openface/%s/%s", photos[i][0],
			 photos[i][1]);
		if (visid_image_load(visid_test_shared(rel, path, sizeof(path)), &img)) {
			VT_CHECK(0, "%s unreadable", rel);
			continue;
		}
		if (visid_face_detect(pipe, &img, &face, 1) == 1 &&
		    !visid_face_embed(pipe, &img, &face, vec))
			added += !visid_eval_add(ev, photos[i][0], "all", vec);
		else
			VT_CHECK(0, "%s: no face or no vector", rel);
		visid_image_free(&img);
	}
	VT_CHECK(added == 6 && !visid_eval_compute(ev, &r), "%d of 6 photos embedded", added);
	if (added != 6)
		goto out_free;
	VT_CHECK(r.rates.genuine == 2 && r.rates.impostor == 13, "%zu genuine, %zu impostor pairs",
		 r.rates.genuine, r.rates.impostor);
	VT_CHECK(r.rates.eer == 0 && r.margins.probes == 4 && r.margins.negative == 0 &&
			 r.margins.min > 0,
		 "EER %.3f, margins over %zu photos: min %.3f, %zu negative", r.rates.eer,
		 r.margins.probes, r.margins.min, r.margins.negative);
	VT_CHECK(r.group_count == 1 && r.groups[0].images == 6 && r.groups[0].fnmr == 0,
		 "group 'all': %zu images, FNMR %.3f", r.group_count ? r.groups[0].images : 0,
		 r.group_count ? r.groups[0].fnmr : -1);
	printf("[genuine beat impostors by %.3f at least; closest impostors %s ~ %s %.3f] ",
	       r.margins.min, r.closest[0].label_a, r.closest[0].label_b, r.closest[0].score);
out_free:
	explicit_bzero(vec, sizeof(vec));
	visid_eval_destroy(ev);
	visid_face_pipeline_destroy(pipe);
}

VISID_SUITE(eval_photos, "eval-photos", NULL, NULL, need_models_and_photos,
	    VISID_TEST(test_openface_photos))
