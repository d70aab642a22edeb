/*
 * visid eval: recognition accuracy on labelled photos. Each image's largest
 * face is embedded; every pair of images is then a genuine (same label) or
 * impostor comparison, and the summary gives the error rates, the threshold
 * for a false accept rate of 1e-3, and the rates of each group at it.
 */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "app.h"
#include "cmd.h"
#include "visid/eval.h"
#include "visid/log.h"

#define MAX_LINE 4096

struct rejected {
	char *image, *label;
	const char *reason;
	struct rejected *next;
};

struct eval_run {
	struct app app;
	struct visid_eval *ev;
	struct rejected *rejected, **rejected_tail;
	int used, lines;
	double seconds;
	double pad;	/* border added on each side, as a fraction of the image size */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: visid eval [--plot FILE.svg] [--json] [--pad F] LIST\n\n"
		   "Embeds the largest face of every image listed and scores all pairs:\n"
		   "same label is genuine, different labels impostor. Prints the equal\n"
		   "error rate, the true accept rate at false accept rates 1e-2 and 1e-3,\n"
		   "the threshold for 1e-3 and, at that threshold, each group's false\n"
		   "match and false non-match rates.\n\n"
		   "LIST has one image a line: LABEL<TAB>IMAGE_PATH[<TAB>GROUP]; relative\n"
		   "paths are taken from the list's folder; '#' starts a comment line.\n\n"
		   "  --plot FILE.svg   ROC curves and score histograms, per group too\n"
		   "  --json            the summary as one JSON object\n"
		   "  --pad F           put each image on a black canvas F times its size\n"
		   "                    wider on every side before detection (for sets of\n"
		   "                    tight face crops, which the detector misses)\n\n%s",
		APP_OPTIONS_HELP);
}

static void reject(struct eval_run *run, const char *image, const char *label,
		   const char *reason)
{
	struct rejected *r = calloc(1, sizeof(*r));

	if (!r)
		return;
	r->image = strdup(image);
	r->label = strdup(label);
	r->reason = reason;
	*run->rejected_tail = r;
	run->rejected_tail = &r->next;
	visid_info("eval: %s (%s): %s", image, label, reason);
}

/* Replaces *img by a copy centred on a black canvas with a border of pad x its size. */
static int pad_image(struct visid_image *img, double pad)
{
	int bx = (int)(img->width * pad), by = (int)(img->height * pad);
	struct visid_image canvas;

	if (visid_image_alloc(&canvas, img->width + 2 * bx, img->height + 2 * by,
			      VISID_FMT_RGB24))
		return -ENOMEM;
	for (int y = 0; y < img->height; y++)
		memcpy(canvas.data + (size_t)(y + by) * canvas.stride + 3 * bx,
		       img->data + (size_t)y * img->stride, 3 * (size_t)img->width);
	visid_image_free(img);
	*img = canvas;
	return 0;
}

/* The vector of an image's largest face, or the reason there is none. */
static const char *embed_image(struct eval_run *run, const char *path, float *vec)
{
	struct visid_face faces[VISID_MAX_FACES];
	struct visid_image img;
	const char *why = NULL;
	int n;

	if (visid_image_load(path, &img))
		return "unreadable image";
	if (run->pad > 0 && pad_image(&img, run->pad)) {
		visid_image_free(&img);
		return "no memory to pad the image";
	}
	n = visid_face_detect(run->app.pipe, &img, faces, VISID_MAX_FACES);
	if (n < 0)
		why = "detection failed";
	else if (n == 0)
		why = "no face found";
	else if (visid_face_embed(run->app.pipe, &img, &faces[0], vec))
		why = "face could not be embedded";
	visid_image_free(&img);
	return why;
}

/* Splits LABEL<TAB>PATH[<TAB>GROUP]; 0 for a line to skip, -1 for a malformed one. */
static int split_line(char *line, char **label, char **path, char **group)
{
	line[strcspn(line, "\r\n")] = 0;
	if (!*line || *line == '#')
		return 0;
	*label = line;
	*path = strchr(line, '\t');
	if (!*path)
		return -1;
	*(*path)++ = 0;
	*group = strchr(*path, '\t');
	if (*group)
		*(*group)++ = 0;
	return **label && **path ? 1 : -1;
}

static int read_list(struct eval_run *run, const char *list)
{
	char line[MAX_LINE], full[MAX_LINE + 1024], *dir_copy = strdup(list), *dir;
	float vec[VISID_EMBED_DIM];
	FILE *f = fopen(list, "r");
	int ret = 0;

	if (!f || !dir_copy) {
		ret = -errno;
		fprintf(stderr, "visid eval: cannot read %s: %s\n", list, strerror(-ret));
		goto out_close;
	}
	dir = dirname(dir_copy);
	while (fgets(line, sizeof(line), f)) {
		char *label, *path, *group;
		const char *why;
		int kind = split_line(line, &label, &path, &group);

		run->lines++;
		if (kind < 0) {
			fprintf(stderr, "visid eval: %s:%d: not LABEL<TAB>IMAGE[<TAB>GROUP]\n",
				list, run->lines);
			ret = -EINVAL;
			break;
		}
		if (!kind)
			continue;
		snprintf(full, sizeof(full), "%s/%s", dir, path);
		why = embed_image(run, *path == '/' ? path : full, vec);
		if (!why && visid_eval_add(run->ev, label, group, vec))
			why = "unusable vector";
		if (why)
			reject(run, path, label, why);
		else
			run->used++;
	}
	explicit_bzero(vec, sizeof(vec));
out_close:
	free(dir_copy);
	if (f)
		fclose(f);
	return ret;
}

/* Rates to six decimals, so the JSON reads 0.01 rather than a binary expansion. */
static double rate_round(double v)
{
	return round(v * 1e6) / 1e6;
}

/* A float exactly as stored (thresholds must not move by rounding), in 9 digits. */
static void add_float(cJSON *j, const char *name, float v)
{
	char text[32];

	snprintf(text, sizeof(text), "%.9g", v);
	cJSON_AddRawToObject(j, name, text);
}

static cJSON *point_json(const struct visid_eval_point *p)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddNumberToObject(j, "far_target", p->far_target);
	add_float(j, "threshold", p->threshold);
	cJSON_AddNumberToObject(j, "tar", rate_round(p->tar));
	cJSON_AddNumberToObject(j, "far", rate_round(p->far));
	cJSON_AddBoolToObject(j, "resolved", p->resolved);
	return j;
}

static cJSON *summary_json(const struct eval_run *run, const struct visid_eval_report *r)
{
	cJSON *j = cJSON_CreateObject(), *a, *o;
	int rejected = 0;

	for (const struct rejected *x = run->rejected; x; x = x->next)
		rejected++;
	cJSON_AddNumberToObject(j, "pad", run->pad);
	cJSON_AddNumberToObject(j, "images_used", run->used);
	cJSON_AddNumberToObject(j, "images_rejected", rejected);
	a = cJSON_AddArrayToObject(j, "rejected");
	for (const struct rejected *x = run->rejected; x; x = x->next) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "image", x->image);
		cJSON_AddStringToObject(o, "label", x->label);
		cJSON_AddStringToObject(o, "reason", x->reason);
		cJSON_AddItemToArray(a, o);
	}
	cJSON_AddNumberToObject(j, "labels", r->labels);
	cJSON_AddNumberToObject(j, "genuine_pairs", r->rates.genuine);
	cJSON_AddNumberToObject(j, "impostor_pairs", r->rates.impostor);
	cJSON_AddNumberToObject(j, "eer", rate_round(r->rates.eer));
	add_float(j, "eer_threshold", r->rates.eer_threshold);
	cJSON_AddItemToObject(j, "tar_at_far_1e-2", point_json(&r->rates.at_far[0]));
	cJSON_AddItemToObject(j, "tar_at_far_1e-3", point_json(&r->rates.at_far[1]));
	add_float(j, "threshold_at_far_1e-3", r->threshold);
	a = cJSON_AddArrayToObject(j, "groups");
	for (int g = 0; g < r->group_count; g++) {
		const struct visid_eval_group *x = &r->groups[g];

		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "group", x->name);
		cJSON_AddNumberToObject(o, "images", x->images);
		cJSON_AddNumberToObject(o, "genuine_pairs", x->genuine);
		cJSON_AddNumberToObject(o, "impostor_pairs", x->impostor);
		cJSON_AddNumberToObject(o, "fnmr", rate_round(x->fnmr));
		cJSON_AddNumberToObject(o, "fmr", rate_round(x->fmr));
		cJSON_AddItemToArray(a, o);
	}
	if (r->group_count) {
		o = cJSON_AddObjectToObject(j, "cross_group");
		cJSON_AddNumberToObject(o, "impostor_pairs", r->cross_group_impostor);
		cJSON_AddNumberToObject(o, "fmr", rate_round(r->cross_group_fmr));
	}
	o = cJSON_AddObjectToObject(j, "margins");
	cJSON_AddNumberToObject(o, "images", r->margins.probes);
	cJSON_AddNumberToObject(o, "negative", r->margins.negative);
	cJSON_AddNumberToObject(o, "min", rate_round(r->margins.min));
	cJSON_AddNumberToObject(o, "p05", rate_round(r->margins.p05));
	cJSON_AddNumberToObject(o, "median", rate_round(r->margins.median));
	cJSON_AddNumberToObject(o, "mean", rate_round(r->margins.mean));
	a = cJSON_AddArrayToObject(j, "closest_impostors");
	for (int i = 0; i < r->closest_count; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "a", r->closest[i].label_a);
		cJSON_AddStringToObject(o, "b", r->closest[i].label_b);
		add_float(o, "score", r->closest[i].score);
		cJSON_AddItemToArray(a, o);
	}
	cJSON_AddNumberToObject(j, "seconds", rate_round(run->seconds));
	return j;
}

static void print_point(const char *name, const struct visid_eval_point *p)
{
	printf("TAR @ FAR %-6s %6.2f %%  (threshold %.4f, FAR reached %.2g%s)\n", name,
	       100 * p->tar, p->threshold, p->far,
	       p->resolved ? "" : "; too few impostor pairs to measure it");
}

static void print_summary(const struct eval_run *run, const struct visid_eval_report *r)
{
	int rejected = 0;

	for (const struct rejected *x = run->rejected; x; x = x->next)
		rejected++;
	printf("images: %d used, %d rejected; %zu labels\n", run->used, rejected, r->labels);
	for (const struct rejected *x = run->rejected; x; x = x->next)
		printf("  rejected %s (%s): %s\n", x->image, x->label, x->reason);
	printf("pairs: %zu genuine, %zu impostor\n", r->rates.genuine, r->rates.impostor);
	printf("EER %.2f %% (threshold %.4f)\n", 100 * r->rates.eer, r->rates.eer_threshold);
	print_point("1e-2", &r->rates.at_far[0]);
	print_point("1e-3", &r->rates.at_far[1]);
	for (int g = 0; g < r->group_count; g++) {
		const struct visid_eval_group *x = &r->groups[g];

		printf("group %-12s %4zu images  FNMR %6.2f %% of %zu  FMR %7.3f %% of %zu%s\n",
		       x->name, x->images, 100 * x->fnmr, x->genuine, 100 * x->fmr, x->impostor,
		       x->genuine && x->impostor ? "" : "  (no pairs: rate not measured)");
	}
	if (r->group_count)
		printf("across groups      FMR %7.3f %% of %zu\n", 100 * r->cross_group_fmr,
		       r->cross_group_impostor);
	printf("margins (best genuine - best impostor) over %zu images: min %.3f, 5th pct %.3f, "
	       "median %.3f, %zu negative\n", r->margins.probes, r->margins.min, r->margins.p05,
	       r->margins.median, r->margins.negative);
	for (int i = 0; i < r->closest_count; i++)
		printf("closest impostors: %s ~ %s %.4f\n", r->closest[i].label_a,
		       r->closest[i].label_b, r->closest[i].score);
}

static void free_rejected(struct rejected *r)
{
	while (r) {
		struct rejected *next = r->next;

		free(r->image);
		free(r->label);
		free(r);
		r = next;
	}
}

static int run_eval(int argc, char **argv)
{
	static const struct option options[] = {
		{ "plot", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "pad", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		APP_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct eval_run run = { .rejected_tail = &run.rejected };
	struct visid_eval_report report;
	const char *plot = NULL;
	struct timespec t0, t1;
	char *end;
	int opt, json = 0, status = VISID_EXIT_ERROR;

	app_init(&run.app);
	while ((opt = getopt_long(argc, argv, "hjp:", options, NULL)) != -1) {
		int handled = app_option(&run.app, opt, optarg);

		if (handled < 0)
			return VISID_EXIT_USAGE;
		if (handled)
			continue;
		switch (opt) {
		case 'p':
			plot = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'P':
			run.pad = strtod(optarg, &end);
			if (end == optarg || *end || !(run.pad >= 0 && run.pad <= 2)) {
				fprintf(stderr, "visid eval: --pad must be a number in [0, 2]\n");
				return VISID_EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return VISID_EXIT_OK;
		default:
			usage(stderr);
			return VISID_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return VISID_EXIT_USAGE;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (app_open(&run.app, APP_PIPELINE) || visid_eval_create(&run.ev))
		goto out_close;
	if (read_list(&run, argv[optind]))
		goto out_close;
	if (visid_eval_compute(run.ev, &report)) {
		fprintf(stderr, "visid eval: %s: needs at least two images of one label and "
				"two labels among the %d usable images\n", argv[optind], run.used);
		goto out_close;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	run.seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
	if (json) {
		cJSON *j = summary_json(&run, &report);
		char *text = cJSON_Print(j);

		if (text)
			puts(text);
		free(text);
		cJSON_Delete(j);
	} else {
		print_summary(&run, &report);
	}
	if (plot && visid_eval_write_svg(run.ev, plot)) {
		fprintf(stderr, "visid eval: cannot write the plot %s\n", plot);
		goto out_close;
	}
	status = VISID_EXIT_OK;
out_close:
	visid_eval_destroy(run.ev);
	free_rejected(run.rejected);
	app_close(&run.app);
	return status;
}

VISID_COMMAND(eval, "eval", "accuracy on labelled photos: EER, TAR at FAR, per-group rates",
	      run_eval)
