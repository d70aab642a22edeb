/*
 * The whole face pipeline per frame: visid_face_detect, then
 * visid_face_embed of every face found, timed from the RGB frame in memory
 * to the last vector. The frames are composed from real photos: a
 * landscape without people for no face, portraits pasted onto it for one
 * and five faces. Without the shared photo corpus, the demonstration photos of
 * models/samples stand in (a face cut from one, a group photo whole) over
 * a plain frame.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "visid/face.h"
#include "visid/log.h"
#include "visid/track.h"

/* The pipeline's own choice of its fully convolutional detector size (runtime/face.c). */
#define DETECT_LONG_SIDE 640
/* The device loop's defaults (match.detect_every, visid run's tracker) and a camera's rate. */
#define DETECT_EVERY 3
#define TRACK_MIN_IOU 0.3f
#define CAMERA_FPS 30.0

#define BACKGROUND "noface/insightface_view.jpg"
static const char *const portraits[] = {
    "identity/face_recognition/barack_obama/obama.jpg",
    "identity/face_recognition/joe_biden/biden.jpg",
    "identity/deepface/angelina_jolie/img01.jpg",
    "identity/deepface/george_clooney/img38.jpg",
    "identity/deepface/jeff_bezos/img20.jpg",
};
#define SAMPLE_ONE   "samples/sample1.jpg"
#define SAMPLE_GROUP "samples/sample5.jpg"

static const int frame_sizes[][2] = {{1280, 720}, {1920, 1080}};

struct rect {
	double x, y, w, h;
};

/*
 * Bilinear resampling of the src rectangle of an RGB24 image onto the dst
 * rectangle of another, clipped to the destination.
 */
static void paste(struct visid_image *dst, struct rect to, const struct visid_image *src,
		  struct rect from)
{
	int x0 = (int)fmax(0, ceil(to.x)), x1 = (int)fmin(dst->width, floor(to.x + to.w));
	int y0 = (int)fmax(0, ceil(to.y)), y1 = (int)fmin(dst->height, floor(to.y + to.h));

	for (int y = y0; y < y1; y++) {
		double sy = from.y + (y + 0.5 - to.y) * from.h / to.h - 0.5;
		int r0 = (int)fmin(fmax(floor(sy), 0), src->height - 1);
		int r1 = r0 + 1 < src->height ? r0 + 1 : r0;
		double fy = fmin(fmax(sy - r0, 0), 1);
		uint8_t *out = dst->data + (size_t)y * dst->stride;

		for (int x = x0; x < x1; x++) {
			double sx = from.x + (x + 0.5 - to.x) * from.w / to.w - 0.5;
			int c0 = (int)fmin(fmax(floor(sx), 0), src->width - 1);
			int c1 = c0 + 1 < src->width ? c0 + 1 : c0;
			double fx = fmin(fmax(sx - c0, 0), 1);
			const uint8_t *p00 = src->data + (size_t)r0 * src->stride + 3 * c0;
			const uint8_t *p01 = src->data + (size_t)r0 * src->stride + 3 * c1;
			const uint8_t *p10 = src->data + (size_t)r1 * src->stride + 3 * c0;
			const uint8_t *p11 = src->data + (size_t)r1 * src->stride + 3 * c1;

			for (int ch = 0; ch < 3; ch++) {
				double top = p00[ch] + fx * (p01[ch] - p00[ch]);
				double bottom = p10[ch] + fx * (p11[ch] - p10[ch]);

				out[3 * x + ch] = (uint8_t)(top + fy * (bottom - top) + 0.5);
			}
		}
	}
}

static struct rect whole(const struct visid_image *img)
{
	return (struct rect){0, 0, img->width, img->height};
}

/* The frame filled by the image, cropped (cover) or bordered (contain), centred. */
static void paste_fit(struct visid_image *dst, const struct visid_image *src, int cover)
{
	double sx = (double)dst->width / src->width, sy = (double)dst->height / src->height;
	double s = cover ? fmax(sx, sy) : fmin(sx, sy);
	struct rect to = {0, 0, src->width * s, src->height * s};

	to.x = (dst->width - to.w) / 2;
	to.y = (dst->height - to.h) / 2;
	paste(dst, to, src, whole(src));
}

/* A plain frame with a soft vertical gradient, for machines without the photo corpus. */
static void fill_plain(struct visid_image *img)
{
	for (int y = 0; y < img->height; y++) {
		uint8_t v = (uint8_t)(150 - 60 * y / img->height);

		for (int x = 0; x < img->width; x++) {
			uint8_t *p = img->data + (size_t)y * img->stride + 3 * x;

			p[0] = v;
			p[1] = (uint8_t)(v + 8);
			p[2] = (uint8_t)(v + 16);
		}
	}
}

/* Portraits side by side, each height high, centred in the frame; scaled down to fit. */
static void paste_row(struct visid_image *dst, struct visid_image *photos, int count, double height)
{
	double total = 0, gap = height * 0.15, x;

	for (int i = 0; i < count; i++)
		total += height * photos[i].width / photos[i].height;
	total += gap * (count - 1);
	if (total > dst->width * 0.95) {
		height *= dst->width * 0.95 / total;
		gap *= dst->width * 0.95 / total;
		total = dst->width * 0.95;
	}
	x = (dst->width - total) / 2;
	for (int i = 0; i < count; i++) {
		struct rect to = {x, (dst->height - height) / 2, 0, height};

		to.w = height * photos[i].width / photos[i].height;
		paste(dst, to, &photos[i], whole(&photos[i]));
		x += to.w + gap;
	}
}

struct scene_photos {
	int corpus; /* 1: the shared corpus, 0: models/samples */
	struct visid_image background;
	struct visid_image faces[5];
	int face_count;
	struct visid_image group; /* samples: a group photo */
	struct visid_image user;  /* --image */
};

static int load_photo(const char *dir, const char *rel, struct visid_image *img)
{
	char path[4096];

	if (dir)
		snprintf(path, sizeof(path), "%s/%s", dir, rel);
	else
		snprintf(path, sizeof(path), "%s", rel);
	return visid_image_load(path, img);
}

static void photos_free(struct scene_photos *ph)
{
	visid_image_free(&ph->background);
	for (int i = 0; i < ph->face_count; i++)
		visid_image_free(&ph->faces[i]);
	visid_image_free(&ph->group);
	visid_image_free(&ph->user);
}

static int is_dir(const char *path)
{
	struct stat st;

	return path && !stat(path, &st) && S_ISDIR(st.st_mode);
}

/*
 * The samples' stand-in for a one-face portrait: the largest face of a
 * demonstration photo, cut with a margin of its own size all round.
 */
static int cut_face(struct visid_face_pipeline *pipe, const struct visid_image *src,
		    struct visid_image *out)
{
	struct visid_face faces[VISID_MAX_FACES];
	int n = visid_face_detect(pipe, src, faces, VISID_MAX_FACES), ret;
	double cx, cy, side;
	struct rect from;

	if (n <= 0)
		return n < 0 ? n : -ENOENT;
	cx = (faces[0].box[0] + faces[0].box[2]) / 2;
	cy = (faces[0].box[1] + faces[0].box[3]) / 2;
	side = 2.5 * fmax(faces[0].box[2] - faces[0].box[0], faces[0].box[3] - faces[0].box[1]);
	side = fmin(side, fmin(src->width, src->height));
	from.x = fmin(fmax(cx - side / 2, 0), src->width - side);
	from.y = fmin(fmax(cy - side / 2, 0), src->height - side);
	from.w = from.h = side;
	ret = visid_image_alloc(out, (int)side, (int)side, VISID_FMT_RGB24);
	if (!ret)
		paste(out, whole(out), src, from);
	return ret;
}

static int photos_load(struct visid_face_pipeline *pipe, const struct bench_options *opt,
		       struct scene_photos *ph)
{
	int ret = 0;

	memset(ph, 0, sizeof(*ph));
	ph->corpus = is_dir(opt->data_dir);
	if (ph->corpus) {
		ret = load_photo(opt->data_dir, BACKGROUND, &ph->background);
		for (size_t i = 0; i < sizeof(portraits) / sizeof(portraits[0]) && !ret; i++) {
			ret = load_photo(opt->data_dir, portraits[i], &ph->faces[i]);
			if (!ret)
				ph->face_count++;
		}
	} else {
		struct visid_image sample = {0};

		visid_warn("%s: no photo corpus; composing frames from %s/samples", opt->data_dir,
			   opt->model_dir);
		ret = load_photo(opt->model_dir, SAMPLE_ONE, &sample);
		if (!ret)
			ret = cut_face(pipe, &sample, &ph->faces[0]);
		if (!ret)
			ph->face_count = 1;
		visid_image_free(&sample);
		if (!ret)
			ret = load_photo(opt->model_dir, SAMPLE_GROUP, &ph->group);
	}
	if (!ret && opt->image)
		ret = load_photo(NULL, opt->image, &ph->user);
	if (ret) {
		visid_err("pipeline frames: cannot load the photos (%s)", strerror(-ret));
		photos_free(ph);
	}
	return ret;
}

enum scene_kind { SCENE_NONE, SCENE_ONE, SCENE_FIVE, SCENE_USER, SCENE_COUNT };

/* Composes one scene at the frame's size; faces_placed -1 when unknown. */
static int compose(const struct scene_photos *ph, enum scene_kind kind, const char *user_path,
		   struct visid_image *frame, struct bench_frame *f)
{
	int ret = visid_image_alloc(frame, f->width, f->height, VISID_FMT_RGB24);

	if (ret)
		return ret;
	if (ph->corpus && kind != SCENE_USER)
		paste_fit(frame, &ph->background, 1);
	else
		fill_plain(frame);
	switch (kind) {
	case SCENE_NONE:
		f->faces_placed = 0;
		snprintf(f->scene, sizeof(f->scene), "%s",
			 ph->corpus ? "landscape, no one" : "plain");
		break;
	case SCENE_ONE:
		paste_row(frame, (struct visid_image *)ph->faces, 1, 0.55 * f->height);
		f->faces_placed = 1;
		snprintf(f->scene, sizeof(f->scene), "%s", ph->corpus ? "1 portrait" : "1 face");
		break;
	case SCENE_FIVE:
		if (ph->corpus) {
			paste_row(frame, (struct visid_image *)ph->faces, 5, 0.32 * f->height);
			f->faces_placed = 5;
			snprintf(f->scene, sizeof(f->scene), "5 portraits");
		} else {
			paste_fit(frame, &ph->group, 0);
			f->faces_placed = 5;
			snprintf(f->scene, sizeof(f->scene), "group photo");
		}
		break;
	default:
		paste_fit(frame, &ph->user, 0);
		f->faces_placed = -1;
		snprintf(f->scene, sizeof(f->scene), "%.90s",
			 strrchr(user_path, '/') ? strrchr(user_path, '/') + 1 : user_path);
		break;
	}
	return 0;
}

/* Detection and the embedding of every face: one frame's work. */
static int process(struct visid_face_pipeline *pipe, const struct visid_image *frame,
		   struct visid_face *faces, int *found, int *embedded)
{
	float vec[VISID_EMBED_DIM];
	int n = visid_face_detect(pipe, frame, faces, VISID_MAX_FACES);

	if (n < 0)
		return n;
	*found = n;
	*embedded = 0;
	for (int i = 0; i < n; i++)
		if (!visid_face_embed(pipe, frame, &faces[i], vec))
			(*embedded)++;
	return 0;
}

/*
 * The medians of the standalone networks this frame ran: both detector
 * passes, the refiner per face found and the embedder per vector made.
 * -1 when the detector size of this frame was not benchmarked.
 */
static double nets_ms(const struct bench_net *nets, enum visid_backend b,
		      const struct bench_frame *f)
{
	const struct bench_net *fcn = &nets[BENCH_NET_FULL_FCN];
	double scale =
	    fmax(1.0, (double)(f->width > f->height ? f->width : f->height) / DETECT_LONG_SIDE);
	int in_w = (int)ceil(f->width / scale / 32) * 32;
	int in_h = (int)ceil(f->height / scale / 32) * 32;

	for (int i = 0; i < BENCH_NET_COUNT; i++)
		if (!nets[i].run[b].ok)
			return -1;
	if (fcn->in_w != in_w || fcn->in_h != in_h)
		return -1;
	return fcn->run[b].wall.p50 + nets[BENCH_NET_FULL_192].run[b].wall.p50 +
	       f->faces_found * nets[BENCH_NET_SHORT].run[b].wall.p50 +
	       f->embedded * nets[BENCH_NET_EMBED].run[b].wall.p50;
}

static int time_frame(struct visid_face_pipeline *pipe, const struct visid_image *frame,
		      const struct bench_options *opt, struct bench_frame *f)
{
	struct visid_face *faces = calloc(VISID_MAX_FACES, sizeof(*faces));
	double *ms = calloc(opt->frames, sizeof(double));
	struct visid_face_stats before, after;
	int ret = -ENOMEM;

	if (!faces || !ms)
		goto out_free;
	for (int r = 0; r < opt->warmup; r++) {
		ret = process(pipe, frame, faces, &f->faces_found, &f->embedded);
		if (ret)
			goto out_free;
	}
	visid_face_get_stats(pipe, &before);
	for (int r = 0; r < opt->frames; r++) {
		double t0 = bench_now_ms();

		ret = process(pipe, frame, faces, &f->faces_found, &f->embedded);
		if (ret)
			goto out_free;
		ms[r] = bench_now_ms() - t0;
	}
	visid_face_get_stats(pipe, &after);
	f->copies_per_frame = after.frames > before.frames
				      ? (double)(after.frame_copies - before.frame_copies) /
						(after.frames - before.frames)
				      : 0;
	f->frame_path = after.frame_path;
	bench_stats_compute(ms, opt->frames, &f->ms);
	f->fps = f->ms.mean > 0 ? 1000.0 / f->ms.mean : 0;
	ret = 0;
out_free:
	free(ms);
	free(faces);
	return ret;
}

/*
 * The policy of visid run over a steady scene: detection on every third
 * frame, tracks carried between, and a face embedded once, when its track
 * starts. The frame stands still, as a room with people sitting in it
 * does, and the first three frames, where the tracks start and the faces
 * are embedded, are not timed: this is the steady state with the people in
 * view recognised. From the frame times: frames per second, and the share
 * of a 30 fps camera's frames that arrive while the loop is busy and are
 * never taken.
 */
static int time_tracked(struct visid_face_pipeline *pipe, const struct visid_image *frame,
			const struct bench_options *opt, struct bench_frame *f)
{
	int frames = opt->frames * DETECT_EVERY, ret = -ENOMEM;
	struct visid_face *faces = calloc(VISID_MAX_FACES, sizeof(*faces));
	struct visid_track lost[VISID_MAX_FACES];
	int index_of[VISID_MAX_FACES];
	double *ms = calloc(frames, sizeof(double)), total = 0;
	struct visid_tracker tracker;
	float vec[VISID_EMBED_DIM];

	if (!faces || !ms)
		goto out_free;
	visid_tracker_init(&tracker, TRACK_MIN_IOU, DETECT_EVERY * 2);
	for (int r = -DETECT_EVERY; r < frames; r++) {
		double t0 = bench_now_ms();

		if (r % DETECT_EVERY == 0 || !tracker.count) {
			int n = visid_face_detect(pipe, frame, faces, VISID_MAX_FACES);

			ret = n;
			if (n < 0)
				goto out_free;
			visid_tracker_update(&tracker, faces, n, index_of, lost);
			for (int i = 0; i < n; i++) {
				struct visid_track *t = &tracker.tracks[index_of[i]];

				if (t->member != VISID_TRACK_UNRECOGNISED)
					continue;
				ret = visid_face_embed(pipe, frame, &faces[i], vec);
				t->member = ret ? VISID_TRACK_UNKNOWN : 0;
			}
		}
		if (r < 0)
			continue;
		ms[r] = bench_now_ms() - t0;
		total += ms[r];
	}
	explicit_bzero(vec, sizeof(vec));
	bench_stats_compute(ms, frames, &f->tracked_ms);
	f->tracked_frames = frames;
	f->tracked_fps = total > 0 ? frames * 1000.0 / total : 0;
	f->dropped = f->tracked_fps < CAMERA_FPS ? 1.0 - f->tracked_fps / CAMERA_FPS : 0;
	ret = 0;
out_free:
	free(ms);
	free(faces);
	return ret;
}

/* The composed frame as DIR/WxH-N.png, so visid run can be timed on it too. */
static int save_frame(const struct visid_image *frame, const char *dir,
		      const struct bench_frame *f)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%dx%d-%d.png", dir, f->width, f->height,
		 f->faces_placed);
	return visid_image_save_png(frame, path);
}

static int measure_all(struct visid_face_pipeline *pipe, const struct scene_photos *ph,
		       enum visid_backend backend, const struct bench_options *opt,
		       const struct bench_net *nets, struct bench_pipeline *out)
{
	int kinds = opt->image ? SCENE_COUNT : SCENE_USER, ret;
	size_t sizes = sizeof(frame_sizes) / sizeof(frame_sizes[0]);

	out->frames = calloc(sizes * kinds, sizeof(*out->frames));
	if (!out->frames)
		return -ENOMEM;
	/* Sizes outermost: the pipeline rebuilds its detector when the frame size changes. */
	for (size_t s = 0; s < sizes; s++) {
		for (int k = 0; k < kinds; k++) {
			struct bench_frame *f = &out->frames[out->count];
			struct visid_image frame = {0};

			f->width = frame_sizes[s][0];
			f->height = frame_sizes[s][1];
			ret = compose(ph, k, opt->image, &frame, f);
			if (!ret && opt->save_dir)
				ret = save_frame(&frame, opt->save_dir, f);
			if (!ret)
				ret = time_frame(pipe, &frame, opt, f);
			if (!ret)
				ret = time_tracked(pipe, &frame, opt, f);
			visid_image_free(&frame);
			if (ret) {
				visid_err("pipeline %dx%d '%s' on %s: %s", f->width, f->height,
					  f->scene, bench_backend_name(backend), strerror(-ret));
				return ret;
			}
			f->nets_ms = nets_ms(nets, backend, f);
			out->count++;
		}
	}
	return 0;
}

int bench_pipeline_measure(enum visid_backend backend, struct visid_gpu *gpu,
			   const struct bench_options *opt, const struct bench_net *nets,
			   struct bench_pipeline *out)
{
	struct visid_face_options fopt = {
	    .model_dir = opt->model_dir,
	    .backend = backend,
	    .gpu = gpu,
	};
	struct visid_face_pipeline *pipe;
	struct scene_photos ph;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = visid_face_pipeline_create(&fopt, &pipe);
	if (ret)
		return ret;
	ret = photos_load(pipe, opt, &ph);
	if (!ret) {
		ret = measure_all(pipe, &ph, backend, opt, nets, out);
		photos_free(&ph);
	}
	out->ok = !ret;
	visid_face_pipeline_destroy(pipe);
	return ret;
}

void bench_pipeline_free(struct bench_pipeline *p)
{
	free(p->frames);
	p->frames = NULL;
	p->count = 0;
}
