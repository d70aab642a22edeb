/*
 * visid enroll: add a member from photos, or guided from a live camera.
 * Each accepted picture fills the pose slot it shows; what is stored is a
 * crop around the face (PNG), so the vectors can be recomputed from it when
 * the model changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "cmd.h"
#include "visid/hal.h"
#include "visid/log.h"

static const char *const instructions[VISID_POSE_COUNT] = {
	[VISID_POSE_FRONT] = "Look straight at the camera",
	[VISID_POSE_LEFT] = "Turn your head slightly left",
	[VISID_POSE_RIGHT] = "Turn your head slightly right",
	[VISID_POSE_UP] = "Tilt your head slightly up",
	[VISID_POSE_DOWN] = "Tilt your head slightly down",
};

struct enrollment {
	struct visid_store_slot slots[VISID_POSE_COUNT];
	uint8_t *png[VISID_POSE_COUNT];
	char source[VISID_POSE_COUNT][256];
	unsigned filled;
	float front_pitch;	/* guided enrollment: of the captured front view */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: visid enroll NAME IMAGE... [--partial] [--face N] [--avatar FILE]\n"
		"       visid enroll NAME --camera [DEVICE] [--source SPEC] [--screen SPEC]\n"
		"                   [--timeout SECONDS] [--loop]\n\n"
		"Adds a household member. Enrollment needs the five head angles (front, left,\n"
		"right, up, down): from photos, each photo is checked and assigned to the angle\n"
		"it shows; from a camera, each angle is asked for in turn.\n\n"
		"  --partial        store even when angles are missing (lower accuracy; for\n"
		"                   importing and testing)\n"
		"  --face N         use the Nth largest face of each photo (group photos)\n"
		"  --avatar FILE    picture shown when the member is recognised (default: a\n"
		"                   crop of the front photo)\n"
		"  --camera         guided enrollment from a camera (default: the first one)\n"
		"  --source SPEC    frames from SPEC instead (v4l2:/dev/videoN, dir:PATH,\n"
		"                   y4m:PATH, video:PATH, image:PATH)\n"
		"  --loop           file sources start again after their last frame\n"
		"  --screen SPEC    show guidance on a screen (drm, or png:DIR)\n"
		"  --timeout S      seconds to wait for each angle (default 30)\n\n"
		APP_OPTIONS_HELP);
}

static void free_enrollment(struct enrollment *e)
{
	for (int p = 0; p < VISID_POSE_COUNT; p++) {
		if (e->png[p])
			visid_store_free_bytes(e->png[p], e->slots[p].image_len);
		explicit_bzero(e->slots[p].vector, sizeof(e->slots[p].vector));
	}
}

/* Crops, stores and embeds one accepted face into its pose slot. */
static int take_pose(struct app *app, struct enrollment *e, const struct visid_image *img,
		     const struct visid_face *face, enum visid_pose pose, const char *from)
{
	struct visid_store_slot *slot = &e->slots[pose];
	uint8_t *png;
	size_t len;
	int ret;

	ret = app_face_crop_png(img, face, &png, &len);
	if (ret)
		return ret;
	ret = app_embed_image_bytes(app, png, len, slot->vector);
	if (ret) {
		visid_store_free_bytes(png, len);
		return ret;
	}
	e->png[pose] = png;
	slot->image = png;
	slot->image_len = len;
	slot->quality.brightness = face->brightness;
	slot->quality.sharpness = face->sharpness;
	slot->quality.face_width = face->box[2] - face->box[0];
	slot->quality.score = face->score;
	snprintf(e->source[pose], sizeof(e->source[pose]), "%s", from);
	e->filled |= 1u << pose;
	return 0;
}

/* Finds the face a photo contributes, or explains why there is none. */
static unsigned pick_face(struct app *app, const struct visid_image *img, int face_index,
			  struct visid_face *face)
{
	struct visid_face faces[VISID_MAX_FACES];
	int n;

	if (!face_index)
		return visid_face_check(app->pipe, img, VISID_POSE_OTHER, face);
	n = visid_face_detect(app->pipe, img, faces, VISID_MAX_FACES);
	if (n < face_index)
		return VISID_Q_NO_FACE;
	*face = faces[face_index - 1];
	return face->issues & ~VISID_Q_MULTIPLE_FACES;
}

/*
 * Up and down are judged against the member's own front view: where the
 * nose sits between eyes and mouth varies by about 0.1 between people and
 * camera heights, while a 30-degree tilt moves it 0.06 to 0.30 from the same
 * person's front (Pointing'04, docs/POSE.md).
 */
#define RELATIVE_PITCH 0.05f

static int is_level(enum visid_pose pose)
{
	return pose == VISID_POSE_FRONT || pose == VISID_POSE_UP || pose == VISID_POSE_DOWN;
}

static enum visid_pose relative_pose(const struct visid_face *face, float front_pitch)
{
	if (!is_level(face->pose))
		return face->pose;
	if (face->pitch < front_pitch - RELATIVE_PITCH)
		return VISID_POSE_UP;
	if (face->pitch > front_pitch + RELATIVE_PITCH)
		return VISID_POSE_DOWN;
	return VISID_POSE_FRONT;
}

struct candidate {
	const char *path;
	struct visid_image img;
	struct visid_face face;
};

/* Loads a photo and finds its face; on failure the reason is printed. */
static int load_candidate(struct app *app, const char *path, int face_index,
			  struct candidate *c)
{
	unsigned issues;
	int ret;

	c->path = path;
	ret = visid_image_load(path, &c->img);
	if (ret) {
		printf("%s: rejected: not a readable image\n", path);
		return ret;
	}
	issues = pick_face(app, &c->img, face_index, &c->face);
	if (!issues && c->face.pose == VISID_POSE_OTHER)
		issues = VISID_Q_WRONG_ANGLE;
	if (issues) {
		printf("%s: rejected: %s: %s%s\n", path, visid_quality_reason(issues),
		       issues == VISID_Q_WRONG_ANGLE ? "the head is tilted or turned too far"
						     : visid_quality_advice(issues),
		       issues & VISID_Q_MULTIPLE_FACES ? " (or pick one face with --face N)" : "");
		visid_image_free(&c->img);
		return -EINVAL;
	}
	return 0;
}

static int by_pitch(const void *a, const void *b)
{
	float x = (*(const struct candidate *const *)a)->face.pitch;
	float y = (*(const struct candidate *const *)b)->face.pitch;

	return x < y ? -1 : x > y;
}

/*
 * The front reference among the faces that are not turned: with three or
 * more, the middle one by pitch (a front between an up and a down view);
 * with fewer, the one the absolute bins call front.
 */
static int front_pitch_of(struct candidate *c, int n, float *front_pitch)
{
	struct candidate *level[64];
	int count = 0;

	for (int i = 0; i < n && count < 64; i++)
		if (c[i].path && is_level(c[i].face.pose))
			level[count++] = &c[i];
	if (count >= 3) {
		qsort(level, (size_t)count, sizeof(level[0]), by_pitch);
		*front_pitch = level[count / 2]->face.pitch;
		return 0;
	}
	for (int i = 0; i < count; i++) {
		if (level[i]->face.pose == VISID_POSE_FRONT) {
			*front_pitch = level[i]->face.pitch;
			return 0;
		}
	}
	return -ENOENT;
}

static void enroll_photos(struct app *app, struct enrollment *e, char **paths, int n,
			  int face_index)
{
	struct candidate *c = calloc((size_t)n, sizeof(*c));
	float front_pitch;
	int have_front;

	if (!c)
		return;
	for (int i = 0; i < n; i++)
		if (load_candidate(app, paths[i], face_index, &c[i]))
			c[i].path = NULL;
	have_front = front_pitch_of(c, n, &front_pitch) == 0;

	for (int i = 0; i < n; i++) {
		enum visid_pose pose;

		if (!c[i].path)
			continue;
		pose = have_front ? relative_pose(&c[i].face, front_pitch) : c[i].face.pose;
		if (e->filled & (1u << pose)) {
			printf("%s: %s angle already taken from %s; skipped\n", c[i].path,
			       visid_pose_name(pose), e->source[pose]);
		} else if (take_pose(app, e, &c[i].img, &c[i].face, pose, c[i].path)) {
			printf("%s: rejected: no face vector\n", c[i].path);
		} else {
			printf("%s: %s\n", c[i].path, visid_pose_name(pose));
		}
		explicit_bzero(c[i].img.data, (size_t)c[i].img.stride * c[i].img.height);
		visid_image_free(&c[i].img);
	}
	free(c);
}

static void show_guidance(struct visid_screen *scr, struct visid_overlay *ov,
			  const struct visid_image *frame, const struct visid_face *face,
			  const char *text)
{
	struct visid_overlay_face box;
	struct visid_overlay_scene scene = { frame, NULL, 0, NULL, text };
	struct visid_image canvas;

	if (!scr || !ov || visid_screen_canvas(scr, &canvas))
		return;
	if (face) {
		memcpy(box.box, face->box, sizeof(box.box));
		box.color = 0x40c040;
		box.label = NULL;
		scene.faces = &box;
		scene.n_faces = 1;
	}
	visid_overlay_draw(ov, &scene, &canvas);
	visid_screen_present(scr);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The front is whatever level view the member gives when asked to look
 * straight; up and down are then judged against it.
 */
static int angle_matches(const struct visid_face *face, enum visid_pose want,
			 const struct enrollment *e)
{
	if (want == VISID_POSE_FRONT)
		return is_level(face->pose);
	if (want == VISID_POSE_UP || want == VISID_POSE_DOWN)
		return relative_pose(face, e->front_pitch) == want;
	return face->pose == want;
}

/* Asks for one angle until a frame passes every check, or time runs out. */
static int capture_pose(struct app *app, struct enrollment *e, struct visid_source *src,
			struct visid_screen *scr, struct visid_overlay *ov,
			enum visid_pose want, int timeout)
{
	double deadline = now_seconds() + timeout;
	unsigned last_issues = ~0u;
	struct visid_frame frame;
	struct visid_face face;
	char text[160];

	printf("%s\n", instructions[want]);
	fflush(stdout);
	while (now_seconds() < deadline) {
		unsigned issues;
		int ret = visid_source_next(src, &frame, 1000);

		if (ret == -EAGAIN)
			continue;
		if (ret) {
			fprintf(stderr, "visid: %s: no more frames before the %s angle was "
				"captured (%s)\n", visid_source_name(src), visid_pose_name(want),
				strerror(-ret));
			return ret;
		}
		issues = visid_face_check(app->pipe, &frame.image, VISID_POSE_OTHER, &face);
		if (!issues && !angle_matches(&face, want, e))
			issues = VISID_Q_WRONG_ANGLE;
		if (!issues) {
			ret = take_pose(app, e, &frame.image, &face, want, visid_source_name(src));
			if (ret)
				continue;
			if (want == VISID_POSE_FRONT)
				e->front_pitch = face.pitch;
			printf("Captured: %s\n", visid_pose_name(want));
			fflush(stdout);
			snprintf(text, sizeof(text), "Captured: %s", visid_pose_name(want));
			show_guidance(scr, ov, &frame.image, &face, text);
			return 0;
		}
		/* The general advice for a wrong angle is the instruction itself. */
		snprintf(text, sizeof(text), "%s%s%s", instructions[want],
			 issues == VISID_Q_WRONG_ANGLE ? "" : ". ",
			 issues == VISID_Q_WRONG_ANGLE ? "" : visid_quality_advice(issues));
		show_guidance(scr, ov, &frame.image, issues & VISID_Q_NO_FACE ? NULL : &face,
			      text);
		if (issues != last_issues) {
			if (issues == VISID_Q_WRONG_ANGLE)
				printf("  wrong angle (%s seen): %s\n",
				       visid_pose_name(relative_pose(&face, e->front_pitch)),
				       instructions[want]);
			else
				printf("  %s: %s\n", visid_quality_reason(issues),
				       visid_quality_advice(issues));
			fflush(stdout);
			last_issues = issues;
		}
	}
	fprintf(stderr, "visid: the %s angle was not captured within %d s\n",
		visid_pose_name(want), timeout);
	return -ETIMEDOUT;
}

static int enroll_camera(struct app *app, struct enrollment *e, const char *spec,
			 const char *screen_spec, int timeout, int loop)
{
	struct visid_source *src = NULL;
	struct visid_screen *scr = NULL;
	struct visid_overlay *ov = NULL;
	struct visid_source_options sopt;
	int ret;

	visid_source_options_init(&sopt);
	sopt.width = app->cfg.camera_width;
	sopt.height = app->cfg.camera_height;
	sopt.loop = loop;
	ret = visid_source_open(spec, &sopt, &src);
	if (ret) {
		fprintf(stderr, "visid: cannot open the camera %s: %s\n", spec, strerror(-ret));
		return ret;
	}
	if (screen_spec && (visid_screen_open(screen_spec, NULL, &scr) ||
			    visid_overlay_create(NULL, &ov)))
		fprintf(stderr, "visid: no guidance screen (%s); continuing without\n",
			screen_spec);
	for (int p = 0; p < VISID_POSE_COUNT && !ret; p++)
		ret = capture_pose(app, e, src, scr, ov, (enum visid_pose)p, timeout);
	if (ov)
		visid_overlay_destroy(ov);
	if (scr)
		visid_screen_close(scr);
	visid_source_close(src);
	return ret;
}

/*
 * All angles must show one person, and nobody already enrolled. Different
 * angles of one face stay above 0.45 cosine to each other (Pointing'04, 12
 * people at up to 45 degrees) while most pairs of different people are near
 * 0: below ENROLL_SAME_PERSON the pictures are taken to show two people.
 * Look-alikes can pass this check; it stops a stranger stepping into view,
 * not a sibling.
 */
#define ENROLL_SAME_PERSON 0.30f

static float cosine(const float *a, const float *b)
{
	double s = 0;

	for (int i = 0; i < VISID_EMBED_DIM; i++)
		s += (double)a[i] * b[i];
	return (float)s;
}

static int check_one_person(struct app *app, struct enrollment *e, const char *name)
{
	int ref = -1;

	for (int p = 0; p < VISID_POSE_COUNT && ref < 0; p++)
		if (e->filled & (1u << p))
			ref = p;
	for (int p = ref + 1; ref >= 0 && p < VISID_POSE_COUNT; p++) {
		float c;

		if (!(e->filled & (1u << p)))
			continue;
		c = cosine(e->slots[p].vector, e->slots[ref].vector);
		if (c < ENROLL_SAME_PERSON) {
			fprintf(stderr, "visid: %s is not enrolled: the %s picture (%s) does not "
				"show the person of the %s picture (%s): similarity %.2f\n", name,
				visid_pose_name(p), e->source[p], visid_pose_name(ref),
				e->source[ref], c);
			return -EINVAL;
		}
	}
	if (app_load_gallery(app) < 0)
		return 0;
	for (int p = 0; p < VISID_POSE_COUNT; p++) {
		struct app_match m;

		if (!(e->filled & (1u << p)))
			continue;
		app_match(app, e->slots[p].vector, &m);
		if (m.best >= 0 && m.similarity >= app->cfg.match_threshold) {
			fprintf(stderr, "visid: %s is not enrolled: the %s picture (%s) is already "
				"recognised as %s (similarity %.2f)\n", name, visid_pose_name(p),
				e->source[p], app_member_name(app, m.best), m.similarity);
			return -EEXIST;
		}
	}
	return 0;
}

static int store_member(struct app *app, struct enrollment *e, const char *name,
			const char *avatar_path, int partial)
{
	uint8_t *avatar = NULL;
	size_t avatar_len = 0;
	char missing[128] = "";
	int ret;

	for (int p = 0; p < VISID_POSE_COUNT; p++)
		if (!(e->filled & (1u << p)))
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 "%s%s", missing[0] ? ", " : "", visid_pose_name(p));
	if (!e->filled) {
		fprintf(stderr, "visid: no usable photo of %s: nothing enrolled\n", name);
		return -EINVAL;
	}
	if (check_one_person(app, e, name))
		return -EINVAL;
	if (missing[0] && !partial) {
		fprintf(stderr, "visid: %s is not enrolled: missing angles: %s (add photos of "
			"those angles, or use --partial for a lower-accuracy enrollment)\n",
			name, missing);
		return -EINVAL;
	}
	if (avatar_path) {
		FILE *f = fopen(avatar_path, "rb");
		struct visid_image probe;

		if (!f || visid_image_load(avatar_path, &probe)) {
			fprintf(stderr, "visid: cannot use %s as avatar\n", avatar_path);
			if (f)
				fclose(f);
			return -EINVAL;
		}
		visid_image_free(&probe);
		fseek(f, 0, SEEK_END);
		avatar_len = (size_t)ftell(f);
		rewind(f);
		avatar = malloc(avatar_len ? avatar_len : 1);
		if (!avatar || fread(avatar, 1, avatar_len, f) != avatar_len) {
			fclose(f);
			free(avatar);
			return -EIO;
		}
		fclose(f);
	}
	ret = visid_store_enroll(app->store, name, avatar, avatar_len, e->slots, NULL);
	free(avatar);
	if (ret) {
		fprintf(stderr, "visid: cannot enroll %s: %s\n", name, strerror(-ret));
		return ret;
	}
	printf("Enrolled %s (%d of 5 angles%s%s)\n", name, __builtin_popcount(e->filled),
	       missing[0] ? "; missing: " : "", missing);
	return 0;
}

static int run_enroll(int argc, char **argv)
{
	static const struct option options[] = {
		{ "partial", no_argument, NULL, 'p' },
		{ "face", required_argument, NULL, 'f' },
		{ "avatar", required_argument, NULL, 'a' },
		{ "camera", no_argument, NULL, 'c' },
		{ "source", required_argument, NULL, 's' },
		{ "screen", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "loop", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		APP_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *avatar = NULL, *source = NULL, *screen = NULL, *name;
	int opt, partial = 0, camera = 0, face_index = 0, timeout = 30, loop = 0, ret;
	struct enrollment e;
	struct app app;

	app_init(&app);
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			partial = 1;
			break;
		case 'f':
			face_index = atoi(optarg);
			if (face_index < 1) {
				fprintf(stderr, "visid: --face counts from 1\n");
				return VISID_EXIT_USAGE;
			}
			break;
		case 'a':
			avatar = optarg;
			break;
		case 'c':
			camera = 1;
			break;
		case 's':
			source = optarg;
			camera = 1;
			break;
		case 'S':
			screen = optarg;
			break;
		case 't':
			timeout = atoi(optarg);
			if (timeout <= 0) {
				fprintf(stderr,
					"visid: --timeout takes a number of seconds above 0\n");
				return VISID_EXIT_USAGE;
			}
			break;
		case 'L':
			loop = 1;
			break;
		case 'h':
			usage(stdout);
			return VISID_EXIT_OK;
		default:
			ret = app_option(&app, opt, optarg);
			if (ret <= 0) {
				usage(stderr);
				return VISID_EXIT_USAGE;
			}
		}
	}
	if (optind >= argc || (!camera && optind + 1 >= argc) || (camera && argc - optind > 2)) {
		usage(stderr);
		return VISID_EXIT_USAGE;
	}
	name = argv[optind];
	/* The store's own message says what is wrong; the name is not echoed raw. */
	if (visid_store_check_name(name))
		return VISID_EXIT_USAGE;
	if (app_open(&app, APP_PIPELINE | APP_STORE_WRITE | APP_STORE_CREATE)) {
		app_close(&app);
		return VISID_EXIT_ERROR;
	}

	/* Refuse a taken name before asking anyone to pose. */
	{
		struct visid_store_member existing;

		if (visid_store_find(app.store, name, &existing) == 0) {
			fprintf(stderr, "visid: %s is already enrolled (visid delete %s first to "
				"enroll again)\n", name, name);
			app_close(&app);
			return VISID_EXIT_ERROR;
		}
	}

	memset(&e, 0, sizeof(e));
	if (camera) {
		char camera_spec[80];
		const char *spec = source ? source : optind + 1 < argc ? argv[optind + 1]
					  : app_camera(&app, camera_spec, sizeof(camera_spec));

		ret = spec ? enroll_camera(&app, &e, spec, screen, timeout, loop) : -ENODEV;
		if (!ret)
			ret = store_member(&app, &e, name, avatar, 0);
	} else {
		enroll_photos(&app, &e, argv + optind + 1, argc - optind - 1, face_index);
		ret = store_member(&app, &e, name, avatar, partial);
	}
	free_enrollment(&e);
	app_close(&app);
	return ret ? VISID_EXIT_ERROR : VISID_EXIT_OK;
}

VISID_COMMAND(enroll, "enroll", "add a member from photos or a camera", run_enroll)
