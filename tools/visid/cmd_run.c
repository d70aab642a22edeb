/*
 * visid run: the device loop. Frames from a camera (or files standing in
 * for one) are detected, tracked and recognised; events go out as JSON lines
 * on stdout and to control-socket subscribers; the screen shows the frame
 * with, for a recognised member, the avatar and a greeting in the upper
 * right. visid find NAME is the same loop looking for one member.
 *
 * Detection runs on every Nth frame (match.detect_every); between
 * detections the tracks keep their identities, and a face already known in
 * its track is not embedded again. Vectors of strangers are wiped as soon as
 * they have been matched; nothing of them is kept.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "app.h"
#include "cmd.h"
#include "report.h"
#include "visid/control.h"
#include "visid/hal.h"
#include "visid/log.h"
#include "visid/track.h"

/*
 * capture: waiting for the frame; detect: detection with keypoint refinement;
 * event: from the frame's capture to its recognised/unknown event; frame:
 * from capture to the end of the frame's processing, every frame.
 */
enum stage { ST_CAPTURE, ST_DETECT, ST_EMBED, ST_MATCH, ST_EVENT, ST_SCREEN, ST_FRAME, ST_COUNT };
static const char *const stage_names[ST_COUNT] = {
	"capture", "detect", "embed", "match", "event", "screen", "frame"
};

#define STAT_SAMPLES 4096
#define RETRY_UNKNOWN_FRAMES 15

struct stage_stats {
	double samples[STAT_SAMPLES];
	unsigned count;
};

struct runner {
	struct app app;
	struct visid_source *src;
	struct visid_screen *scr;
	struct visid_overlay *ov;
	struct visid_control *ctl;
	struct visid_tracker tracker;
	struct visid_image avatars[VISID_STORE_MAX_MEMBERS];

	const char *find_name;	/* find mode */
	int find_member;
	int found;
	int find_command;	/* visid find: exit once found (unless --keep) */
	int keep_going;
	uint64_t frames, max_frames;
	int greet_member;	/* the member shown in the upper right, -1 none */
	uint64_t sequence;	/* of the last frame */
	int frame_width;
	int stats;
	int stills;		/* frames are unrelated photos: no tracking between them */
	int frame_events;	/* one "frame" event per frame with every track's state */
	struct stage_stats stage[ST_COUNT];
	time_t last_expiry, last_check;
	int loop_files;		/* file sources start again after the last frame */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void stat_add(struct runner *r, enum stage s, double ms)
{
	struct stage_stats *st = &r->stage[s];

	if (r->stats)
		st->samples[st->count++ % STAT_SAMPLES] = ms;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_stats(struct runner *r)
{
	struct visid_face_stats fs;

	visid_face_get_stats(r->app.pipe, &fs);
	fprintf(stderr, "frames to the network inputs: %llu, whole-frame copies %llu "
		"(%.2f per frame), camera buffers imported %llu, last path: %s\n",
		(unsigned long long)fs.frames, (unsigned long long)fs.frame_copies,
		fs.frames ? (double)fs.frame_copies / fs.frames : 0.0,
		(unsigned long long)fs.frame_imports, fs.frame_path);
	fprintf(stderr, "%-8s %8s %8s %8s %8s\n", "stage", "count", "p50 ms", "p99 ms",
		"max ms");
	for (int s = 0; s < ST_COUNT; s++) {
		struct stage_stats *st = &r->stage[s];
		unsigned n = st->count < STAT_SAMPLES ? st->count : STAT_SAMPLES;

		if (!n)
			continue;
		qsort(st->samples, n, sizeof(double), cmp_double);
		fprintf(stderr, "%-8s %8u %8.1f %8.1f %8.1f\n", stage_names[s], st->count,
			st->samples[n / 2], st->samples[(n * 99) / 100], st->samples[n - 1]);
	}
}

static void emit(struct runner *r, cJSON *j)
{
	char *line = cJSON_PrintUnformatted(j);

	if (line) {
		puts(line);
		fflush(stdout);
		visid_control_broadcast(r->ctl, line);
		free(line);
	}
	cJSON_Delete(j);
}

static cJSON *event(const char *kind, uint64_t frame)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "event", kind);
	cJSON_AddNumberToObject(j, "frame", (double)frame);
	return j;
}

static const char *position_of(const float box[4], int width)
{
	float cx = (box[0] + box[2]) / 2;

	return cx < width / 3.0f ? "left" : cx > width * 2 / 3.0f ? "right" : "centre";
}

/* The avatar: the member's chosen image, else the front enrollment crop. */
static void load_avatars(struct runner *r)
{
	for (int i = 0; i < r->app.gallery.count; i++) {
		int64_t id = r->app.gallery.members[i].id;
		uint8_t *bytes = NULL;
		size_t len = 0;
		int ret = visid_store_get_avatar(r->app.store, id, &bytes, &len);

		for (int p = 0; ret && p < VISID_POSE_COUNT; p++)
			ret = visid_store_get_image(r->app.store, id, (enum visid_pose)p, &bytes,
						    &len);
		visid_image_free(&r->avatars[i]);
		if (!ret) {
			visid_image_decode(bytes, len, "avatar", &r->avatars[i]);
			visid_store_free_bytes(bytes, len);
		}
	}
}

static void report_found(struct runner *r, const float box[4], uint64_t sequence, int width)
{
	cJSON *j = event("found", sequence);
	double b[4];

	for (int i = 0; i < 4; i++)
		b[i] = round(box[i] * 10) / 10;
	cJSON_AddStringToObject(j, "member", r->find_name);
	cJSON_AddStringToObject(j, "position", position_of(box, width));
	cJSON_AddItemToObject(j, "box", cJSON_CreateDoubleArray(b, 4));
	emit(r, j);
	r->found = 1;
}

static void recognise(struct runner *r, const struct visid_frame *frame,
		      const struct visid_face *face, struct visid_track *t)
{
	float vec[VISID_EMBED_DIM];
	struct app_match m;
	double t0 = now_ms(), t1;
	int known = t->member >= 0;
	cJSON *j;

	if (visid_face_embed(r->app.pipe, &frame->image, face, vec))
		return;
	t1 = now_ms();
	stat_add(r, ST_EMBED, t1 - t0);
	app_match(&r->app, vec, &m);
	explicit_bzero(vec, sizeof(vec));
	stat_add(r, ST_MATCH, now_ms() - t1);

	if (known && m.member == t->member)
		return;
	t->member = m.member >= 0 ? m.member : VISID_TRACK_UNKNOWN;
	t->similarity = m.similarity;
	t->margin = m.margin;
	j = event(m.member >= 0 ? "recognised" : "unknown", frame->sequence);
	cJSON_AddNumberToObject(j, "track", t->id);
	report_face(j, face);
	report_match(j, &r->app, &m);
	cJSON_AddNumberToObject(j, "latency_ms",
				(double)(int)(now_ms() - frame->timestamp_ns / 1e6));
	stat_add(r, ST_EVENT, now_ms() - frame->timestamp_ns / 1e6);
	emit(r, j);
	if (m.member < 0)
		return;
	visid_store_touch(r->app.store, r->app.gallery.members[m.member].id);
	r->greet_member = m.member;
	if (r->find_name && m.member == r->find_member && !r->found)
		report_found(r, face->box, frame->sequence, frame->image.width);
}

static void report_lost(struct runner *r, const struct visid_track *lost, int n,
			uint64_t sequence)
{
	for (int i = 0; i < n; i++) {
		cJSON *j = event("lost", sequence);

		cJSON_AddNumberToObject(j, "track", lost[i].id);
		if (lost[i].member >= 0)
			cJSON_AddStringToObject(j, "member",
						app_member_name(&r->app, lost[i].member));
		else
			cJSON_AddNullToObject(j, "member");
		emit(r, j);
		if (lost[i].member == r->greet_member)
			r->greet_member = -1;
	}
}

static void detect_and_track(struct runner *r, const struct visid_frame *frame)
{
	struct visid_face faces[VISID_MAX_FACES];
	struct visid_track lost[VISID_MAX_FACES];
	int index_of[VISID_MAX_FACES];
	double t0 = now_ms();
	int n, nlost;

	n = visid_face_detect_frame(r->app.pipe, frame, faces, VISID_MAX_FACES);
	stat_add(r, ST_DETECT, now_ms() - t0);
	if (n < 0)
		n = 0;
	nlost = visid_tracker_update(&r->tracker, faces, n, index_of, lost);
	report_lost(r, lost, nlost, frame->sequence);
	for (int i = 0; i < n; i++) {
		struct visid_track *t = &r->tracker.tracks[index_of[i]];
		int retry = t->member == VISID_TRACK_UNKNOWN &&
			    t->hits % RETRY_UNKNOWN_FRAMES == 0;

		if (t->member == VISID_TRACK_UNRECOGNISED || retry)
			recognise(r, frame, &faces[i], t);
	}
}

/* Every visible track and who it is, for comparing runs with labelled video. */
static void report_frame(struct runner *r, const struct visid_frame *frame)
{
	cJSON *j = event("frame", frame->sequence);
	cJSON *faces = cJSON_AddArrayToObject(j, "faces");

	for (int i = 0; i < r->tracker.count; i++) {
		const struct visid_track *t = &r->tracker.tracks[i];
		cJSON *f;

		if (t->missed)
			continue;
		f = cJSON_CreateObject();
		cJSON_AddNumberToObject(f, "track", t->id);
		if (t->member >= 0)
			cJSON_AddStringToObject(f, "member", app_member_name(&r->app, t->member));
		else
			cJSON_AddNullToObject(f, "member");
		cJSON_AddItemToArray(faces, f);
	}
	emit(r, j);
}

static void draw_screen(struct runner *r, const struct visid_frame *frame)
{
	struct visid_overlay_face boxes[VISID_MAX_FACES];
	struct visid_overlay_scene scene = { &frame->image, boxes, 0, NULL, NULL };
	struct visid_image canvas;
	char text[160];
	double t0 = now_ms();

	if (!r->scr || visid_screen_canvas(r->scr, &canvas))
		return;
	for (int i = 0; i < r->tracker.count; i++) {
		const struct visid_track *t = &r->tracker.tracks[i];

		if (t->missed)
			continue;
		memcpy(boxes[scene.n_faces].box, t->box, sizeof(t->box));
		boxes[scene.n_faces].color = t->member >= 0 ? 0x30d050 : 0x909090;
		boxes[scene.n_faces].label = app_member_name(&r->app, t->member);
		scene.n_faces++;
	}
	if (r->find_name) {
		snprintf(text, sizeof(text), "%s %s", r->found ? "Found" : "Looking for",
			 r->find_name);
		scene.text = text;
		if (r->found && r->avatars[r->find_member].data)
			scene.avatar = &r->avatars[r->find_member];
	} else if (r->greet_member >= 0) {
		snprintf(text, sizeof(text), r->app.cfg.greeting,
			 app_member_name(&r->app, r->greet_member));
		scene.text = text;
		if (r->avatars[r->greet_member].data)
			scene.avatar = &r->avatars[r->greet_member];
	}
	visid_overlay_draw(r->ov, &scene, &canvas);
	visid_screen_present(r->scr);
	stat_add(r, ST_SCREEN, now_ms() - t0);
}

/* Prints the object into the reply buffer (names escaped by cJSON) and frees it. */
static int reply_json(cJSON *j, char *reply, size_t len)
{
	int ok = cJSON_PrintPreallocated(j, reply, (int)len, 0);

	cJSON_Delete(j);
	return ok ? 0 : -EMSGSIZE;
}

/* An error reply that says what failed; the code is returned for the caller. */
static int reply_error(cJSON *j, char *reply, size_t len, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int reply_error(cJSON *j, char *reply, size_t len, int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_Delete(j);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "error", msg);
	reply_json(j, reply, len);
	return code;
}

static int find_in_gallery(const struct runner *r, const char *name)
{
	for (int i = 0; i < r->app.gallery.count; i++)
		if (!strcmp(r->app.gallery.members[i].name, name))
			return i;
	return -1;
}

/* Forgets every identity derived from the gallery and loads it again. */
static void reload_gallery(struct runner *r)
{
	visid_tracker_init(&r->tracker, r->tracker.min_iou, r->tracker.max_missed);
	r->greet_member = -1;
	if (app_load_gallery(&r->app) < 0)
		visid_err("cannot reload the gallery; recognising nobody until it loads");
	load_avatars(r);
	if (r->find_name) {
		r->find_member = find_in_gallery(r, r->find_name);
		if (r->find_member < 0)
			r->find_name = NULL;
	}
}

/* Requests from the control socket. */
static int control_request(void *ctx, const char *cmd, const char *arg, char *reply,
			   size_t len)
{
	static char find_name[VISID_STORE_NAME_SIZE];
	struct runner *r = ctx;
	struct visid_store_member m;
	cJSON *j = cJSON_CreateObject();
	int ret;

	if (!strcmp(cmd, "status")) {
		cJSON_AddNumberToObject(j, "members", r->app.gallery.count);
		cJSON_AddNumberToObject(j, "frames", (double)r->frames);
		cJSON_AddNumberToObject(j, "tracks", r->tracker.count);
		cJSON_AddStringToObject(j, "source", visid_source_name(r->src));
		if (r->find_name)
			cJSON_AddStringToObject(j, "looking_for", r->find_name);
		return reply_json(j, reply, len);
	}
	if (!strcmp(cmd, "list")) {
		cJSON *list = cJSON_AddArrayToObject(j, "members");

		for (int i = 0; i < r->app.gallery.count; i++)
			cJSON_AddItemToArray(list,
					     cJSON_CreateString(r->app.gallery.members[i].name));
		return reply_json(j, reply, len);
	}
	if (!strcmp(cmd, "delete") || !strcmp(cmd, "delete-all")) {
		int all = !strcmp(cmd, "delete-all");

		if (!all && !arg)
			return reply_error(j, reply, len, -EINVAL, "delete needs a member name");
		ret = all ? visid_store_delete_all(r->app.store)
			  : visid_store_find(r->app.store, arg, &m);
		if (!all && !ret)
			ret = visid_store_delete(r->app.store, m.id);
		if (ret == -ENOENT)
			return reply_error(j, reply, len, ret, "no member named '%s'", arg);
		if (ret < 0)
			return reply_error(j, reply, len, ret, "cannot delete %s%s%s: %s",
					   all ? "the members" : "'", all ? "" : arg,
					   all ? "" : "'", strerror(-ret));
		reload_gallery(r);
		cJSON_AddStringToObject(j, "deleted", all ? "*all*" : arg);
		return reply_json(j, reply, len);
	}
	if (!strcmp(cmd, "find")) {
		int member = arg ? find_in_gallery(r, arg) : -1;
		cJSON *ev;

		if (!arg)
			return reply_error(j, reply, len, -EINVAL, "find needs a member name");
		if (member < 0)
			return reply_error(j, reply, len, -ENOENT, "no member named '%s'", arg);
		snprintf(find_name, sizeof(find_name), "%s", arg);
		r->find_name = find_name;
		r->find_member = member;
		r->found = 0;
		ev = event("looking", r->sequence);
		cJSON_AddStringToObject(ev, "member", find_name);
		emit(r, ev);
		/* Someone already in view as that member is found at once. */
		for (int i = 0; i < r->tracker.count && !r->found; i++)
			if (r->tracker.tracks[i].member == member && !r->tracker.tracks[i].missed)
				report_found(r, r->tracker.tracks[i].box, r->sequence,
					     r->frame_width);
		cJSON_AddStringToObject(j, "looking_for", arg);
		return reply_json(j, reply, len);
	}
	return reply_error(j, reply, len, -ENOSYS,
			   "unknown request '%s' (requests: status, list, delete NAME, "
			   "delete-all, find NAME, subscribe)", cmd);
}

static int open_outputs(struct runner *r, const char *screen, const char *control)
{
	struct visid_control_handler h = { control_request, r };
	char path[300];
	int ret;

	if (screen) {
		ret = visid_screen_open(screen, NULL, &r->scr);
		if (!ret)
			ret = visid_overlay_create(NULL, &r->ov);
		if (ret) {
			fprintf(stderr, "visid: cannot open the screen %s: %s\n", screen,
				strerror(-ret));
			return ret;
		}
	}
	if (control && !*control)
		return 0;
	if (!control) {
		if (mkdir(r->app.cfg.runtime_dir, 0750) && errno != EEXIST) {
			visid_info("no control socket: cannot create %s: %s",
				   r->app.cfg.runtime_dir, strerror(errno));
			return 0;
		}
		snprintf(path, sizeof(path), "%s/control.sock", r->app.cfg.runtime_dir);
		control = path;
	}
	ret = visid_control_open(control, r->app.cfg.control_group, &h, &r->ctl);
	if (ret)
		fprintf(stderr, "visid: no control socket at %s: %s\n", control, strerror(-ret));
	return 0;
}

/*
 * Once a second: a gallery changed by another process (visid enroll, a
 * deletion) is reloaded; once an hour, members past their expiry go.
 */
static void housekeeping(struct runner *r)
{
	time_t now = time(NULL);

	if (now == r->last_check)
		return;
	r->last_check = now;
	if (visid_store_changed(r->app.store) > 0)
		reload_gallery(r);
	if (now - r->last_expiry < 3600)
		return;
	r->last_expiry = now;
	if (visid_store_expire(r->app.store) > 0)
		reload_gallery(r);
}

static int loop(struct runner *r)
{
	struct visid_frame frame;
	int every = r->app.cfg.detect_every > 0 ? r->app.cfg.detect_every : 1;

	while (!stop_requested && (!r->max_frames || r->frames < r->max_frames)) {
		double t0 = now_ms();
		int ret;

		/* Non-blocking: new peers, and requests of those already connected. */
		if (r->ctl)
			visid_control_dispatch(r->ctl);
		ret = visid_source_next(r->src, &frame, 1000);
		if (ret == -EAGAIN)
			continue;
		if (ret == -ENODATA)
			return 0;
		if (ret) {
			fprintf(stderr, "visid: %s: %s\n", visid_source_name(r->src),
				strerror(-ret));
			return ret;
		}
		stat_add(r, ST_CAPTURE, now_ms() - t0);
		r->sequence = frame.sequence;
		r->frame_width = frame.image.width;
		if (r->stills || r->frames % (uint64_t)every == 0 || r->tracker.count == 0)
			detect_and_track(r, &frame);
		visid_face_release_frame(r->app.pipe);
		if (r->frame_events)
			report_frame(r, &frame);
		draw_screen(r, &frame);
		stat_add(r, ST_FRAME, now_ms() - frame.timestamp_ns / 1e6);
		r->frames++;
		housekeeping(r);
		if (r->find_command && r->found && !r->keep_going)
			return 0;
	}
	return 0;
}

static void usage(FILE *f, const char *cmd)
{
	fprintf(f,
		"usage: visid %s [--source SPEC] [--screen SPEC] [--frames N] [--repeat N]\n"
		"                 [--stats] [--stills] [--control PATH | --no-control]%s\n\n"
		"%s\n\n"
		"  --source SPEC   frames from v4l2:/dev/videoN (default: the configured or\n"
		"                  first camera), dir:PATH, y4m:PATH, video:PATH (.mp4, .mkv,\n"
		"                  ...), image:PATH, or a path\n"
		"  --screen SPEC   drm, drm:/dev/dri/cardN, or png:DIR for PNG snapshots of\n"
		"                  what the screen shows (default: no screen)\n"
		"  --frames N      stop after N frames\n"
		"  --repeat N      an image:PATH source gives its image N times\n"
		"  --stats         print per-stage latency (p50, p99) and the frame copies\n"
		"                  per frame on exit\n"
		"  --stills        the frames are unrelated photos: detect in each, no tracking\n"
		"  --frame-events  also a \"frame\" event per frame listing every track\n"
		"  --loop          file sources start again after their last frame\n"
		"  --control PATH  the control socket (default RUNTIME_DIR/control.sock)\n"
		"  --no-control    no control socket\n%s\n%s",
		cmd, strcmp(cmd, "find") ? "" : " [--keep] NAME",
		strcmp(cmd, "find") ? "Recognises enrolled members in the camera's view. Events "
				      "(recognised, unknown,\nlost) are JSON lines on stdout and "
				      "on the control socket."
				    : "Shows \"Looking for NAME\" until NAME is recognised, then "
				      "\"Found NAME\"\nand where in the frame; exits then unless "
				      "--keep is given.",
		strcmp(cmd, "find") ? ""
				    : "  --keep          keep running after the member is found\n",
		APP_OPTIONS_HELP);
}

static int run_loop_command(int argc, char **argv)
{
	static const struct option options[] = {
		{ "source", required_argument, NULL, 's' },
		{ "screen", required_argument, NULL, 'S' },
		{ "frames", required_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'R' },
		{ "stats", no_argument, NULL, 't' },
		{ "control", required_argument, NULL, 'c' },
		{ "no-control", no_argument, NULL, 'N' },
		{ "keep", no_argument, NULL, 'k' },
		{ "stills", no_argument, NULL, 'P' },
		{ "frame-events", no_argument, NULL, 'F' },
		{ "loop", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		APP_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *source = NULL, *screen = NULL, *control = NULL;
	char camera[80];
	int repeat = 0;
	struct visid_source_options sopt;
	struct runner *r;
	int opt, ret, status = VISID_EXIT_ERROR;

	r = calloc(1, sizeof(*r));
	if (!r)
		return VISID_EXIT_ERROR;
	app_init(&r->app);
	r->greet_member = -1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			source = optarg;
			break;
		case 'S':
			screen = optarg;
			break;
		case 'n': {
			char *end;

			errno = 0;
			r->max_frames = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || !r->max_frames) {
				fprintf(stderr, "visid: --frames takes a count above 0\n");
				free(r);
				return VISID_EXIT_USAGE;
			}
			break;
		}
		case 'R':
			repeat = atoi(optarg);
			if (repeat < 1) {
				fprintf(stderr, "visid: --repeat needs a count of at least 1\n");
				free(r);
				return VISID_EXIT_USAGE;
			}
			break;
		case 't':
			r->stats = 1;
			break;
		case 'c':
			control = optarg;
			break;
		case 'N':
			control = "";
			break;
		case 'k':
			r->keep_going = 1;
			break;
		case 'P':
			r->stills = 1;
			break;
		case 'F':
			r->frame_events = 1;
			break;
		case 'L':
			r->loop_files = 1;
			break;
		case 'h':
			usage(stdout, cmd);
			free(r);
			return VISID_EXIT_OK;
		default:
			if (app_option(&r->app, opt, optarg) <= 0) {
				usage(stderr, cmd);
				free(r);
				return VISID_EXIT_USAGE;
			}
		}
	}
	if (optind != argc - !strcmp(cmd, "find")) {
		usage(stderr, cmd);
		free(r);
		return VISID_EXIT_USAGE;
	}
	if (!strcmp(cmd, "find")) {
		r->find_name = argv[optind];
		r->find_command = 1;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	/* Core dumps go off in app_open, before the first frame of a stranger. */
	if (app_open(&r->app, APP_PIPELINE | APP_STORE_WRITE) || app_load_gallery(&r->app) < 0)
		goto out;
	if (r->find_name) {
		r->find_member = find_in_gallery(r, r->find_name);
		if (r->find_member < 0) {
			fprintf(stderr, "visid: %s is not enrolled\n", r->find_name);
			goto out;
		}
	}
	load_avatars(r);
	r->last_expiry = time(NULL);
	/* Unrelated photos: no overlap continues a track, every face is new. */
	if (r->stills)
		visid_tracker_init(&r->tracker, 1.01f, 0);
	else
		visid_tracker_init(&r->tracker, 0.3f, r->app.cfg.detect_every * 2);

	visid_source_options_init(&sopt);
	sopt.width = r->app.cfg.camera_width;
	sopt.height = r->app.cfg.camera_height;
	sopt.repeat = repeat;
	sopt.loop = r->loop_files;
	if (!source && !(source = app_camera(&r->app, camera, sizeof(camera))))
		goto out;
	ret = visid_source_open(source, &sopt, &r->src);
	if (ret) {
		fprintf(stderr, "visid: cannot open the source %s: %s\n", source, strerror(-ret));
		goto out;
	}
	if (open_outputs(r, screen, control))
		goto out;
	if (r->find_name) {
		cJSON *j = event("looking", 0);

		cJSON_AddStringToObject(j, "member", r->find_name);
		emit(r, j);
	}
	status = loop(r) ? VISID_EXIT_ERROR : VISID_EXIT_OK;
	if (r->find_command && !r->found && !stop_requested && status == VISID_EXIT_OK) {
		fprintf(stderr, "visid: %s was not found\n", r->find_name);
		status = VISID_EXIT_ERROR;
	}
	if (r->stats)
		print_stats(r);
	if (r->scr && visid_screen_kind(r->scr) == VISID_SCREEN_PNG)
		fprintf(stderr, "visid: %llu screen(s) written under %s\n",
			(unsigned long long)visid_screen_presented(r->scr), screen);
out:
	if (r->ctl)
		visid_control_close(r->ctl);
	if (r->ov)
		visid_overlay_destroy(r->ov);
	if (r->scr)
		visid_screen_close(r->scr);
	if (r->src)
		visid_source_close(r->src);
	for (int i = 0; i < VISID_STORE_MAX_MEMBERS; i++)
		visid_image_free(&r->avatars[i]);
	app_close(&r->app);
	free(r);
	return status;
}

VISID_COMMAND(run, "run", "the device loop: recognise members in the camera's view",
	      run_loop_command)
VISID_COMMAND(find, "find", "look for one member (robot mode)", run_loop_command)
