/*
 * Detector decoding, preprocessing and alignment against the golden cases
 * made by the reference pipeline (../shared/golden): anchors, decoded and
 * merged detections from the stored raw outputs, the resampled network
 * inputs, and the similarity transform.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "harness.h"
#include "visid/image.h"
#include "visid/log.h"
#include "align.h"
#include "detect.h"
#include "preprocess.h"

static const char *need_golden(void)
{
	if (!visid_test_have_shared("golden/manifest.json"))
		return "../shared/golden is absent (reference tensors needed)";
	return NULL;
}

static float *golden_f32(const char *relative, long want)
{
	char path[256];
	float *data = NULL;
	long n = visid_test_read_f32(visid_test_shared(relative, path, sizeof(path)), &data);

	VT_CHECK(n == want, "%s: %ld floats, expected %ld", relative, n, want);
	if (n != want) {
		free(data);
		return NULL;
	}
	return data;
}

static cJSON *golden_case(const char *relative)
{
	char path[256], *text;
	FILE *f = fopen(visid_test_shared(relative, path, sizeof(path)), "rb");
	cJSON *json;
	long n;

	VT_CHECK(f != NULL, "%s unreadable", path);
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, n + 1);
	if (fread(text, 1, n, f) != (size_t)n)
		n = 0;
	fclose(f);
	json = n ? cJSON_Parse(text) : NULL;
	free(text);
	VT_CHECK(json != NULL, "%s: not valid JSON", path);
	return json;
}

static double num(const cJSON *array, int i)
{
	return cJSON_GetArrayItem(array, i)->valuedouble;
}

static cJSON *path_get(cJSON *json, const char *a, const char *b, const char *c)
{
	json = cJSON_GetObjectItem(json, a);
	if (json && b)
		json = cJSON_GetObjectItem(json, b);
	if (json && c)
		json = cJSON_GetObjectItem(json, c);
	return json;
}

static void compare_anchors(const char *file, const float *mine, int count)
{
	float *gold = golden_f32(file, 4L * count);
	double worst = 0;

	if (!gold)
		return;
	for (int i = 0; i < 4 * count; i++)
		worst = fmax(worst, fabs(mine[i] - gold[i]));
	VT_CHECK(worst < 1e-6, "%s: anchors differ by up to %g", file, worst);
	free(gold);
}

static void test_anchors(void)
{
	float full[2304 * 4], short_range[896 * 4];
	int n = visid_anchors_full_range(192, 192, full);

	VT_CHECK(n == 2304, "full-range anchors at 192x192: %d", n);
	compare_anchors("golden/anchors_full_range_2304x4.f32", full, 2304);
	n = visid_anchors_short_range(short_range);
	VT_CHECK(n == 896, "short-range anchors: %d", n);
	compare_anchors("golden/anchors_short_range_896x4.f32", short_range, 896);

	/* fully convolutional: 640x384 has 160x96 cells, last centre at (639.5-1.5)/640 */
	n = visid_anchors_full_range(640, 384, NULL);
	VT_CHECK(n == 160 * 96, "anchors at 640x384: %d", n);
	{
		float *a = malloc(sizeof(float) * 4 * n);

		visid_anchors_full_range(640, 384, a);
		VT_CHECK(fabsf(a[4 * (n - 1)] - 638.0f / 640) < 1e-6 &&
				 fabsf(a[4 * (n - 1) + 1] - 382.0f / 384) < 1e-6,
			 "last 640x384 anchor at (%f, %f)", a[4 * (n - 1)], a[4 * (n - 1) + 1]);
		free(a);
	}
	VT_CHECK(visid_anchors_full_range(190, 192, NULL) == -EINVAL,
		 "a width not a multiple of 4 was accepted");
}

/* Decoded detection vs one case.json entry (box_norm_xyxy, keypoints_norm, score). */
static void check_detection(const char *what, const struct visid_detection *d, cJSON *ref)
{
	cJSON *box = cJSON_GetObjectItem(ref, "box_norm_xyxy");
	cJSON *kp = cJSON_GetObjectItem(ref, "keypoints_norm");
	double score = cJSON_GetObjectItem(ref, "score")->valuedouble, worst = 0;
	int anchor = cJSON_GetObjectItem(ref, "anchor_index")->valueint;

	for (int c = 0; c < 4; c++)
		worst = fmax(worst, fabs(d->box[c] - num(box, c)));
	for (int k = 0; k < 6; k++)
		for (int c = 0; c < 2; c++)
			worst = fmax(worst, fabs(d->kp[k][c] - num(cJSON_GetArrayItem(kp, k), c)));
	VT_CHECK(worst < 1e-4 && fabs(d->score - score) < 1e-4 && d->anchor == anchor,
		 "%s: box/keypoints off by %g, score %f vs %f, anchor %d vs %d", what, worst,
		 d->score, score, d->anchor, anchor);
}

static void check_full_case(const char *dir)
{
	char file[128];
	float anchors[2304 * 4], *reg, *cls;
	struct visid_detection dets[2304];
	cJSON *json, *decoded, *merged;
	int n, kept, want;

	snprintf(file, sizeof(file), "golden/%s/case.json", dir);
	json = golden_case(file);
	snprintf(file, sizeof(file), "golden/%s/out_regressors.f32", dir);
	reg = golden_f32(file, 2304 * 16);
	snprintf(file, sizeof(file), "golden/%s/out_classificators.f32", dir);
	cls = golden_f32(file, 2304);
	if (!json || !reg || !cls)
		goto out;
	decoded = cJSON_GetObjectItem(json, "decoded");
	merged = cJSON_GetObjectItem(decoded, "after_weighted_nms");
	visid_anchors_full_range(192, 192, anchors);
	n = visid_detect_decode(reg, cls, anchors, 2304, 192, 192, VISID_FULL_RANGE_MIN_SCORE,
				dets, 2304);
	want = cJSON_GetObjectItem(decoded, "candidates_above_threshold")->valueint;
	VT_CHECK(n == want, "%s: %d candidates above 0.6, reference %d", dir, n, want);
	kept = visid_detect_nms(dets, n, VISID_NMS_IOU);
	want = cJSON_GetArraySize(merged);
	VT_CHECK(kept == want, "%s: %d faces after weighted NMS, reference %d", dir, kept, want);
	for (int i = 0; i < kept && i < want; i++) {
		char what[64];

		snprintf(what, sizeof(what), "%s face %d", dir, i);
		check_detection(what, &dets[i], cJSON_GetArrayItem(merged, i));
	}
out:
	free(reg);
	free(cls);
	cJSON_Delete(json);
}

static void test_decode_full_range(void)
{
	check_full_case("det_full_sample1");
	check_full_case("det_full_sample3");
}

/* The refiner's best detection in the ROI, mapped back to image pixels. */
static void check_short_case(const char *dir)
{
	char file[128];
	float anchors[896 * 4], *reg, *cls, rect[4];
	struct visid_detection dets[896];
	cJSON *json, *stage, *best, *px;
	double m[6], worst = 0;
	int n;

	snprintf(file, sizeof(file), "golden/%s/case.json", dir);
	json = golden_case(file);
	snprintf(file, sizeof(file), "golden/%s/short_out_regressors.f32", dir);
	reg = golden_f32(file, 896 * 16);
	snprintf(file, sizeof(file), "golden/%s/short_out_classificators.f32", dir);
	cls = golden_f32(file, 896);
	if (!json || !reg || !cls)
		goto out;
	stage = cJSON_GetObjectItem(json, "stage1_short_range_roi");
	best = cJSON_GetObjectItem(stage, "decoded_best");
	visid_anchors_short_range(anchors);
	n = visid_detect_decode(reg, cls, anchors, 896, 128, 128, VISID_SHORT_RANGE_MIN_SCORE,
				dets, 896);
	n = visid_detect_nms(dets, n, VISID_NMS_IOU);
	VT_CHECK(n >= 1, "%s: the refiner found no face", dir);
	if (n < 1)
		goto out;
	check_detection(dir, &dets[0], best);

	for (int i = 0; i < 4; i++)
		rect[i] = (float)num(cJSON_GetObjectItem(stage, "roi_image_px_xywh"), i);
	m[0] = m[4] = rect[2] / 128.0;
	m[1] = m[3] = 0;
	m[2] = rect[0];
	m[5] = rect[1];
	visid_detection_map(&dets[0], 128, 128, m);
	px = cJSON_GetObjectItem(best, "keypoints_image_px");
	for (int k = 0; k < 6; k++)
		for (int c = 0; c < 2; c++)
			worst = fmax(worst, fabs(dets[0].kp[k][c] -
						 num(cJSON_GetArrayItem(px, k), c)));
	VT_CHECK(worst < 0.05, "%s: keypoints in image pixels off by %.3f px", dir, worst);
out:
	free(reg);
	free(cls);
	cJSON_Delete(json);
}

static void test_decode_short_range(void)
{
	check_short_case("face_sample1_f0");
	check_short_case("face_sample3_f0");
}

static void test_nms_merges(void)
{
	struct visid_detection d[3] = {
		{ .score = 0.9f, .box = { 0, 0, 10, 10 }, .anchor = 1 },
		{ .score = 0.6f, .box = { 1, 1, 11, 11 }, .anchor = 2 },
		{ .score = 0.8f, .box = { 50, 50, 60, 60 }, .anchor = 3 },
	};
	int n = visid_detect_nms(d, 3, VISID_NMS_IOU);

	/* the first two overlap (IoU 0.68): merged 0.9:0.6 -> x0 = 0.4 */
	VT_CHECK(n == 2 && fabsf(d[0].box[0] - 0.4f) < 1e-5 && d[0].score == 0.9f &&
			 d[1].anchor == 3,
		 "NMS gave %d boxes, first x0 %f score %f, second anchor %d", n, d[0].box[0],
		 d[0].score, d[1].anchor);
}

/* The similarity from the reference's refined keypoints is the stored one. */
static void check_alignment(const char *dir)
{
	char file[128];
	cJSON *json, *px, *sim;
	float kp[6][2];
	double mine[4], worst_ab = 0, worst_t = 0;
	static const char *const keys[] = { "a", "b", "tx", "ty" };
	int ret;

	snprintf(file, sizeof(file), "golden/%s/case.json", dir);
	json = golden_case(file);
	if (!json)
		return;
	px = path_get(json, "stage1_short_range_roi", "decoded_best", "keypoints_image_px");
	sim = path_get(json, "alignment", "similarity_image_to_crop", NULL);
	for (int k = 0; k < 6; k++)
		for (int c = 0; c < 2; c++)
			kp[k][c] = (float)num(cJSON_GetArrayItem(px, k), c);
	ret = visid_align_similarity(kp, mine);
	VT_CHECK(ret == 0, "%s: alignment returned %d", dir, ret);
	for (int i = 0; i < 4; i++) {
		double ref = cJSON_GetObjectItem(sim, keys[i])->valuedouble;

		if (i < 2)
			worst_ab = fmax(worst_ab, fabs(mine[i] - ref));
		else
			worst_t = fmax(worst_t, fabs(mine[i] - ref));
	}
	/* the stored keypoints are rounded to 0.01 px, so tx/ty move by a few hundredths */
	VT_CHECK(worst_ab < 1e-4 && worst_t < 0.1, "%s: similarity differs by %g (a, b), %g (t)",
		 dir, worst_ab, worst_t);
	cJSON_Delete(json);
}

static void quiet(enum visid_log_level level, const char *msg, void *data)
{
}

static void test_alignment(void)
{
	float eyes_together[6][2] = { { 10, 10 }, { 10.5f, 10 }, { 10, 11 }, { 10, 12 } };
	float not_finite[6][2] = { { 10, 10 }, { NAN, 10 }, { 15, 15 }, { 15, 20 } };
	double sim[4];

	check_alignment("face_sample1_f0");
	check_alignment("face_sample3_f0");
	visid_log_set_handler(quiet, NULL);
	VT_CHECK(visid_align_similarity(eyes_together, sim) == -EINVAL,
		 "eyes half a pixel apart were accepted");
	VT_CHECK(visid_align_similarity(not_finite, sim) == -EINVAL,
		 "a NaN keypoint was accepted");
	visid_log_set_handler(NULL, NULL);
}

/*
 * The reference inputs were decoded by jpeg-js, whose IDCT and chroma
 * upsampling differ from libjpeg-turbo's by a level or two on edges, so the
 * bounds are on the mean difference (about half a level measured) and a
 * loose maximum, not bit-exactness. Geometry errors would show as tens of
 * levels on every edge.
 */
static void compare_input(const char *what, const float *mine, const char *golden, long n,
			  double mean_bound)
{
	float *gold = golden_f32(golden, n);
	double sum = 0, worst = 0;

	if (!gold)
		return;
	for (long i = 0; i < n; i++) {
		double d = fabs(mine[i] - gold[i]);

		sum += d;
		worst = fmax(worst, d);
	}
	VT_CHECK(sum / n < mean_bound && worst < 0.25,
		 "%s: mean difference %.5f (bound %.3f), max %.4f", what, sum / n, mean_bound,
		 worst);
	free(gold);
}

static void test_preprocess_golden(void)
{
	char path[256];
	struct visid_image img;
	cJSON *json;
	float *buf = malloc(sizeof(float) * 192 * 192 * 3), rect[4];
	double m[6], sim[4];
	static const char *const keys[] = { "a", "b", "tx", "ty" };

	if (visid_image_load(visid_test_model("samples/sample1.jpg", path, sizeof(path)), &img)) {
		VT_CHECK(0, "models/samples/sample1.jpg missing: run scripts/fetch-models");
		free(buf);
		return;
	}
	VT_CHECK(visid_pre_detector(&img, NULL, 192, 192, 1, buf, m) == 0, "letterbox failed");
	VT_CHECK(m[0] == 10 && m[2] == 0 && m[5] == -320,
		 "letterbox affine scale %g offset (%g, %g), reference 10 (0, -320)", m[0], m[2],
		 m[5]);
	compare_input("whole-frame letterbox", buf, "golden/det_full_sample1/input.f32",
		      192 * 192 * 3, 0.005);

	json = golden_case("golden/face_sample1_f0/case.json");
	if (json) {
		cJSON *roi = path_get(json, "stage1_short_range_roi", "roi_image_px_xywh", NULL);
		cJSON *s = path_get(json, "alignment", "similarity_image_to_crop", NULL);

		for (int i = 0; i < 4; i++) {
			rect[i] = (float)num(roi, i);
			sim[i] = cJSON_GetObjectItem(s, keys[i])->valuedouble;
		}
		VT_CHECK(visid_pre_detector(&img, rect, 128, 128, 1, buf, m) == 0, "ROI failed");
		compare_input("refiner ROI", buf, "golden/face_sample1_f0/short_input.f32",
			      128 * 128 * 3, 0.008);
		VT_CHECK(visid_pre_embedder(&img, sim, buf) == 0, "embedder crop failed");
		compare_input("aligned crop", buf, "golden/face_sample1_f0/mfn_input.f32",
			      112 * 112 * 3, 0.008);
		cJSON_Delete(json);
	}
	visid_image_free(&img);
	free(buf);
}

/* The same frame in every format and an odd stride gives the same network input. */
static void test_preprocess_formats(void)
{
	char path[256];
	struct visid_image rgb, frame;
	float *ref = malloc(sizeof(float) * 192 * 192 * 3),
	      *out = malloc(sizeof(float) * 192 * 192 * 3);
	double m[6];
	static const enum visid_pixel_format formats[] = { VISID_FMT_BGR24, VISID_FMT_XRGB8888,
							   VISID_FMT_YUYV };

	if (visid_image_load(visid_test_shared("data/faces/pose/pointing04/person01/s1_front.jpg",
					       path, sizeof(path)),
			     &rgb)) {
		VT_CHECK(0, "%s unreadable", path);
		goto out;
	}
	visid_pre_detector(&rgb, NULL, 192, 192, 1, ref, m);
	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		int bpp = formats[f] == VISID_FMT_BGR24 ? 3 : formats[f] == VISID_FMT_YUYV ? 2 : 4;
		double sum = 0;

		frame = (struct visid_image){ .width = rgb.width, .height = rgb.height,
					      .format = formats[f], .stride = rgb.width * bpp + 7 };
		frame.data = calloc(frame.height, frame.stride);
		for (int y = 0; y < rgb.height; y++)
			for (int x = 0; x < rgb.width; x++) {
				const uint8_t *p = rgb.data + (size_t)y * rgb.stride + 3 * x;
				uint8_t *d = frame.data + (size_t)y * frame.stride;

				if (formats[f] == VISID_FMT_YUYV) {
					d[2 * x] = (uint8_t)(16.5 + 0.257 * p[0] + 0.504 * p[1] +
							     0.098 * p[2]);
					d[2 * x + 1] = 128;
				} else {
					d[bpp * x] = p[2];
					d[bpp * x + 1] = p[1];
					d[bpp * x + 2] = p[0];
				}
			}
		visid_pre_detector(&frame, NULL, 192, 192, 1, out, m);
		for (int i = 0; i < 192 * 192 * 3; i++) {
			double want = ref[i];

			if (formats[f] == VISID_FMT_YUYV)	/* grey: compare with the luma */
				want = ref[i - i % 3] * 0.299 + ref[i - i % 3 + 1] * 0.587 +
				       ref[i - i % 3 + 2] * 0.114;
			sum += fabs(out[i] - want);
		}
		sum /= 192 * 192 * 3;
		VT_CHECK(sum < (formats[f] == VISID_FMT_YUYV ? 0.02 : 1e-7),
			 "%s frame gives a different detector input (mean difference %g)",
			 visid_pixel_format_name(formats[f]), sum);
		free(frame.data);
	}
	visid_image_free(&rgb);
out:
	free(ref);
	free(out);
}

VISID_SUITE(detect, "detect", NULL, NULL, need_golden, VISID_TEST(test_anchors),
	    VISID_TEST(test_decode_full_range), VISID_TEST(test_decode_short_range),
	    VISID_TEST(test_nms_merges), VISID_TEST(test_alignment),
	    VISID_TEST(test_preprocess_golden), VISID_TEST(test_preprocess_formats))
