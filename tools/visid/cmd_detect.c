/*
 * visid detect: the face pipeline's view of photos, without the gallery.
 * One line per face: box, keypoints, pose and the ratios it comes from,
 * quality measures and issues, and the time detection took. Used to
 * evaluate detection and to calibrate the pose and quality thresholds.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "app.h"
#include "cmd.h"
#include "report.h"
#include "visid/track.h"

/* Annotated face boxes of one image (dlib imglab XML), and how many were found. */
#define MAX_TRUTH 256
#define TRUTH_MIN_PX 40

struct truth {
	char *xml[4];
	int files;
	/* totals over all images: [0] every face, [1] faces >= TRUTH_MIN_PX wide */
	int faces[2], found[2], false_pos, images;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: visid detect [--json] [--check POSE] [--truth XML]... IMAGE...\n\n"
		   "Detects the faces in each image and prints one line per face: box,\n"
		   "keypoints, pose (yaw, pitch, roll), brightness, sharpness and quality\n"
		   "issues. An image without faces prints one line with \"faces\": 0.\n\n"
		   "  --json          JSON lines instead of text\n"
		   "  --check POSE    also run the enrollment check for POSE (front, left,\n"
		   "                  right, up, down, any) and print its verdict\n"
		   "  --truth XML     dlib imglab face boxes: report recall and false\n"
		   "                  detections per image, matched by file name\n\n%s",
		APP_OPTIONS_HELP);
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static double round1(double v)
{
	return round(v * 10) / 10;
}

static void print_face(const char *path, int index, int count, const struct visid_face *face,
		       double ms, int json)
{
	cJSON *j, *kp;

	if (!json) {
		printf("%s: face %d/%d box %.0f,%.0f,%.0f,%.0f score %.3f pose %s (yaw %.2f "
		       "pitch %.2f roll %.0f) light %.0f sharp %.3f %s (%.0f ms)\n",
		       path, index + 1, count, face->box[0], face->box[1], face->box[2],
		       face->box[3], face->score, visid_pose_name(face->pose), face->yaw,
		       face->pitch, face->roll, face->brightness, face->sharpness,
		       face->issues ? visid_quality_reason(face->issues) : "ok", ms);
		return;
	}
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "image", path);
	cJSON_AddNumberToObject(j, "face", index + 1);
	cJSON_AddNumberToObject(j, "faces", count);
	report_face(j, face);
	kp = cJSON_AddArrayToObject(j, "keypoints");
	for (int k = 0; k < 6; k++) {
		double p[2] = { round1(face->keypoints[k][0]), round1(face->keypoints[k][1]) };

		cJSON_AddItemToArray(kp, cJSON_CreateDoubleArray(p, 2));
	}
	cJSON_AddNumberToObject(j, "yaw", round(face->yaw * 1000) / 1000);
	cJSON_AddNumberToObject(j, "pitch", round(face->pitch * 1000) / 1000);
	cJSON_AddNumberToObject(j, "roll", round1(face->roll));
	cJSON_AddNumberToObject(j, "ms", round1(ms));
	report_print(j);
}

static void print_check(const char *path, unsigned issues, int json)
{
	cJSON *j;

	if (!json) {
		printf("%s: check %s: %s\n", path, issues ? "refused" : "fit",
		       issues ? visid_quality_advice(issues) : "");
		return;
	}
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "image", path);
	cJSON_AddStringToObject(j, "check", issues ? visid_quality_reason(issues) : "ok");
	cJSON_AddNumberToObject(j, "issues", issues);
	report_print(j);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)) {
		text = calloc(1, n + 1);
		if (text && fread(text, 1, n, f) != (size_t)n) {
			free(text);
			text = NULL;
		}
	}
	fclose(f);
	return text;
}

/* The boxes (x0, y0, x1, y1) annotated for the image's base name; -1 if it has none. */
static int truth_boxes(const struct truth *t, const char *path, float boxes[][4])
{
	const char *base = strrchr(path, '/');
	char key[300];

	base = base ? base + 1 : path;
	snprintf(key, sizeof(key), "file='%s'", base);
	for (int i = 0; i < t->files; i++) {
		const char *p = strstr(t->xml[i], key), *end;
		int n = 0;

		if (!p)
			continue;
		end = strstr(p, "</image>");
		while ((p = strstr(p, "<box ")) && (!end || p < end) && n < MAX_TRUTH) {
			int top, left, width, height;

			if (sscanf(p, "<box top='%d' left='%d' width='%d' height='%d'", &top, &left,
				   &width, &height) == 4) {
				boxes[n][0] = left;
				boxes[n][1] = top;
				boxes[n][2] = left + width;
				boxes[n][3] = top + height;
				n++;
			}
			p++;
		}
		return n;
	}
	return -1;
}

static int centre_inside(const float a[4], const float b[4])
{
	float cx = (a[0] + a[2]) / 2, cy = (a[1] + a[3]) / 2;

	return cx >= b[0] && cx <= b[2] && cy >= b[1] && cy <= b[3];
}

/*
 * Annotations are tight eye-to-chin squares and BlazeFace boxes are larger,
 * so a match is IoU >= 0.3 or each box's centre inside the other.
 */
static void score_truth(struct truth *t, const char *path, const struct visid_face *faces,
			int n)
{
	float boxes[MAX_TRUTH][4];
	char used[VISID_MAX_FACES] = { 0 };
	int count = truth_boxes(t, path, boxes), faces_n[2] = { 0 }, found[2] = { 0 }, fp = 0;

	if (count < 0)
		return;
	for (int i = 0; i < count; i++) {
		int big = boxes[i][2] - boxes[i][0] >= TRUTH_MIN_PX, hit = -1;

		for (int j = 0; j < n && hit < 0; j++)
			if (!used[j] && (visid_box_iou(boxes[i], faces[j].box) >= 0.3f ||
					 (centre_inside(boxes[i], faces[j].box) &&
					  centre_inside(faces[j].box, boxes[i]))))
				hit = j;
		if (hit >= 0)
			used[hit] = 1;
		faces_n[0]++;
		faces_n[1] += big;
		found[0] += hit >= 0;
		found[1] += hit >= 0 && big;
	}
	for (int j = 0; j < n; j++)
		fp += !used[j];
	printf("%s: truth %d faces, found %d; >= %d px: %d of %d; false detections %d\n", path,
	       faces_n[0], found[0], TRUTH_MIN_PX, found[1], faces_n[1], fp);
	for (int k = 0; k < 2; k++) {
		t->faces[k] += faces_n[k];
		t->found[k] += found[k];
	}
	t->false_pos += fp;
	t->images++;
}

static int detect_image(struct app *app, const char *path, int json, int check,
			enum visid_pose want, struct truth *truth)
{
	struct visid_face faces[VISID_MAX_FACES];
	struct visid_image img;
	struct timespec t0;
	double ms;
	int n, ret;

	ret = visid_image_load(path, &img);
	if (ret) {
		fprintf(stderr, "visid: %s: cannot read the image: %s\n", path, strerror(-ret));
		return ret;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = visid_face_detect(app->pipe, &img, faces, VISID_MAX_FACES);
	ms = elapsed_ms(&t0);
	if (n < 0) {
		fprintf(stderr, "visid: %s: detection failed: %s\n", path, strerror(-n));
		visid_image_free(&img);
		return n;
	}
	for (int i = 0; i < n; i++)
		print_face(path, i, n, &faces[i], ms, json);
	if (!n) {
		if (json) {
			cJSON *j = cJSON_CreateObject();

			cJSON_AddStringToObject(j, "image", path);
			cJSON_AddNumberToObject(j, "faces", 0);
			cJSON_AddNumberToObject(j, "ms", round1(ms));
			report_print(j);
		} else {
			printf("%s: no face (%.0f ms)\n", path, ms);
		}
	}
	if (truth->files)
		score_truth(truth, path, faces, n);
	if (check) {
		struct visid_face face;

		print_check(path, visid_face_check(app->pipe, &img, want, &face), json);
	}
	visid_image_free(&img);
	return 0;
}

static int parse_pose(const char *name, enum visid_pose *pose)
{
	if (!strcmp(name, "any")) {
		*pose = VISID_POSE_OTHER;
		return 0;
	}
	for (int p = 0; p < VISID_POSE_COUNT; p++)
		if (!strcmp(name, visid_pose_name(p))) {
			*pose = p;
			return 0;
		}
	return -EINVAL;
}

static int run_detect(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "check", required_argument, NULL, 'c' },
		{ "truth", required_argument, NULL, 't' },
		APP_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, json = 0, check = 0, status = VISID_EXIT_OK;
	enum visid_pose want = VISID_POSE_OTHER;
	struct truth truth = { 0 };
	struct app app;

	app_init(&app);
	while ((opt = getopt_long(argc, argv, "hjc:t:", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return VISID_EXIT_OK;
		case 'j':
			json = 1;
			continue;
		case 'c':
			check = 1;
			if (parse_pose(optarg, &want)) {
				fprintf(stderr, "visid: unknown pose '%s'\n", optarg);
				return VISID_EXIT_USAGE;
			}
			continue;
		case 't':
			if (truth.files == 4 || !(truth.xml[truth.files] = read_text(optarg))) {
				fprintf(stderr, "visid: %s: cannot read (at most 4 files)\n",
					optarg);
				return VISID_EXIT_USAGE;
			}
			truth.files++;
			continue;
		}
		if (app_option(&app, opt, optarg) <= 0) {
			usage(stderr);
			return VISID_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return VISID_EXIT_USAGE;
	}
	if (app_open(&app, APP_PIPELINE)) {
		app_close(&app);
		return VISID_EXIT_ERROR;
	}
	for (int i = optind; i < argc; i++)
		if (detect_image(&app, argv[i], json, check, want, &truth))
			status = VISID_EXIT_ERROR;
	if (truth.images)
		printf("total: %d images, recall %d/%d (%.1f%%), faces >= %d px %d/%d (%.1f%%), "
		       "false detections %d (%.2f per image)\n",
		       truth.images, truth.found[0], truth.faces[0],
		       100.0 * truth.found[0] / (truth.faces[0] ? truth.faces[0] : 1), TRUTH_MIN_PX,
		       truth.found[1], truth.faces[1],
		       100.0 * truth.found[1] / (truth.faces[1] ? truth.faces[1] : 1),
		       truth.false_pos, (double)truth.false_pos / truth.images);
	for (int i = 0; i < truth.files; i++)
		free(truth.xml[i]);
	app_close(&app);
	return status;
}

VISID_COMMAND(detect, "detect", "show the faces, poses and quality found in photos", run_detect)
