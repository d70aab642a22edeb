/*
 * visid identify: one JSON line per face found in each image. A face that
 * matches nobody is reported as unknown, with no vector and no name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "app.h"
#include "cmd.h"
#include "report.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: visid identify IMAGE...\n\n"
		   "Detects the faces in each image and matches them against the gallery.\n"
		   "Prints one JSON line per face: image, box, pose, quality, and either the\n"
		   "member with its similarity and margin, or \"unknown\"; an image without\n"
		   "faces gives one line with \"faces\": 0.\n\n%s",
		APP_OPTIONS_HELP);
}

static int identify_image(struct app *app, const char *path)
{
	struct visid_face faces[VISID_MAX_FACES];
	struct visid_image img;
	int n, ret;

	/* The reader's own message names the file and the cause. */
	ret = visid_image_load(path, &img);
	if (ret)
		return ret;
	n = visid_face_detect(app->pipe, &img, faces, VISID_MAX_FACES);
	if (n < 0) {
		visid_image_free(&img);
		return n;
	}
	if (n == 0) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "image", path);
		cJSON_AddNumberToObject(j, "faces", 0);
		report_print(j);
	}
	for (int i = 0; i < n; i++) {
		float vec[VISID_EMBED_DIM];
		struct app_match m = { -1, -1, -1, 0 };
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "image", path);
		cJSON_AddNumberToObject(j, "face", i + 1);
		report_face(j, &faces[i]);
		if (visid_face_embed(app->pipe, &img, &faces[i], vec) == 0)
			app_match(app, vec, &m);
		else
			cJSON_AddStringToObject(j, "error", "no face vector");
		explicit_bzero(vec, sizeof(vec));
		report_match(j, app, &m);
		if (m.member >= 0)
			visid_store_touch(app->store, app->gallery.members[m.member].id);
		report_print(j);
	}
	visid_image_free(&img);
	return 0;
}

static int run_identify(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		APP_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, status = VISID_EXIT_OK;
	struct app app;

	app_init(&app);
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return VISID_EXIT_OK;
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
	if (app_open(&app, APP_PIPELINE | APP_STORE) || app_load_gallery(&app) < 0) {
		app_close(&app);
		return VISID_EXIT_ERROR;
	}
	for (int i = optind; i < argc; i++)
		if (identify_image(&app, argv[i]))
			status = VISID_EXIT_ERROR;
	app_close(&app);
	return status;
}

VISID_COMMAND(identify, "identify", "find and name the faces in photos", run_identify)
