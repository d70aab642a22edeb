/*
 * The face pipeline. Detection runs the full-range BlazeFace twice: fully
 * convolutionally on the frame scaled so its longest side is at most
 * DETECT_LONG_SIDE (small and mid-size faces), and once letterboxed to
 * 192x192 (faces too large for the first pass's receptive field); the two
 * are merged by weighted NMS. Each kept face's keypoints are then refined by
 * the short-range model on a square ROI, the face is aligned to the 112x112
 * template and MobileFaceNet gives its vector.
 *
 * On the Vulkan backend the frame goes to the device once (imported where
 * the camera buffer allows, else copied; vk_import.h) and every network's
 * input is resampled from it there by the preprocessing shaders straight
 * into the network's input buffer. The CPU backend resamples in C.
 *
 * Nothing of a frame outlives the call that looked at it: the resampled
 * inputs, the networks' tensors and the host copies of their outputs are
 * zeroed when detection, and again when an embedding, is done with them
 * (docs/HARDENING.md). The caller's image and vector are the caller's.
 *
 * A pipeline is used by one thread at a time: it owns its buffers.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "visid/face.h"
#include "visid/hal.h"
#include "visid/log.h"
#include "align.h"
#include "detect.h"
#include "face_quality.h"
#include "net_internal.h"
#include "preprocess.h"
#include "vk_import.h"
#include "vk_pre.h"

#ifndef VISID_MODEL_DIR_DEFAULT
#define VISID_MODEL_DIR_DEFAULT "/usr/local/share/visid/models"
#endif

#define FULL_RANGE_FILE "face_detection_full_range.tflite"
#define SHORT_RANGE_FILE "face_detection_short_range.tflite"
#define EMBEDDER_FILE "MobileFaceNet.tflite"

/*
 * A 1080p frame scaled 3x (640 wide) still found 21-22 of 22 faces; larger
 * inputs cost in proportion to their pixels.
 */
#define DETECT_LONG_SIDE 640
/* Merged boxes narrower than this many image pixels are noise. */
#define MIN_BOX_PX 6.0f
/* Another face at least this fraction of the main face's width makes the picture a group. */
#define OTHER_FACE_FRACTION 0.35f
/* An aligned crop darker or flatter than this carries no face to embed. */
#define CROP_MIN_PEAK 12.0f
#define CROP_MIN_STDDEV 2.0f

/* One detector network with its anchors and buffers (input: CPU backend only). */
struct detector {
	struct visid_net *net;
	int in_w, in_h, count;
	int reg_index, cls_index;
	float *anchors, *input, *reg, *cls;
};

/* Vulkan: the frame on the device, and the image it was made from. */
struct device_frame {
	struct visid_vk_pre *pre;
	struct visid_vk_importer *importer;
	struct visid_vk_frame frame;
	struct visid_image image;
	int loaded;
};

struct visid_face_pipeline {
	struct visid_model *full, *short_range, *embedder;
	struct visid_net_options net_opt;
	struct detector fcn, letterbox, refiner;
	struct visid_net *embed;
	float *embed_input, *embed_output;
	struct visid_detection *dets;
	int dets_cap;
	struct device_frame dev;
	uint64_t frames;
	char model_id[2 * 32 + 1];
};

static void detector_free(struct detector *d)
{
	visid_net_destroy(d->net);
	free(d->anchors);
	free(d->input);
	free(d->reg);
	free(d->cls);
	memset(d, 0, sizeof(*d));
}

/*
 * Instantiates a detector for an in_w x in_h input (0: the model's own) and
 * finds its two outputs by shape: regressors [1, N, 16] and logits [1, N, 1].
 */
static int detector_init(struct visid_face_pipeline *pipe, struct visid_model *model,
			 int in_w, int in_h, int short_range, struct detector *d)
{
	struct visid_net_options opt = pipe->net_opt;
	int shape[4], ret, outputs;

	memset(d, 0, sizeof(*d));
	d->reg_index = d->cls_index = -1;
	opt.width = in_w;
	opt.height = in_h;
	ret = visid_net_create(model, &opt, &d->net);
	if (ret)
		return ret;
	visid_net_input_shape(d->net, shape);
	d->in_h = shape[1];
	d->in_w = shape[2];
	outputs = visid_net_output_count(d->net);
	for (int i = 0; i < outputs; i++) {
		int rank = visid_net_output_shape(d->net, i, shape);

		if (rank < 2)
			continue;
		if (shape[rank - 1] == 16)
			d->reg_index = i;
		else if (shape[rank - 1] == 1)
			d->cls_index = i;
	}
	d->count = short_range ? visid_anchors_short_range(NULL) :
				 visid_anchors_full_range(d->in_w, d->in_h, NULL);
	if (d->reg_index < 0 || d->cls_index < 0 || d->count <= 0 ||
	    visid_net_output_size(d->net, d->reg_index) != 16 * (size_t)d->count ||
	    visid_net_output_size(d->net, d->cls_index) != (size_t)d->count) {
		visid_err("%s: outputs do not match %d anchors at %dx%d", visid_model_path(model),
			  d->count, d->in_w, d->in_h);
		ret = -EINVAL;
		goto out_free;
	}
	d->anchors = malloc(sizeof(float) * 4 * d->count);
	if (opt.backend == VISID_BACKEND_CPU)
		d->input = malloc(sizeof(float) * 3 * d->in_w * d->in_h);
	d->reg = malloc(sizeof(float) * 16 * d->count);
	d->cls = malloc(sizeof(float) * d->count);
	if (!d->anchors || (opt.backend == VISID_BACKEND_CPU && !d->input) || !d->reg ||
	    !d->cls) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (short_range)
		visid_anchors_short_range(d->anchors);
	else
		visid_anchors_full_range(d->in_w, d->in_h, d->anchors);
	return 0;

out_free:
	detector_free(d);
	return ret;
}

/* Room for every candidate of the largest detector run plus the 192 pass. */
static int reserve_dets(struct visid_face_pipeline *pipe, int count)
{
	struct visid_detection *more;

	if (count <= pipe->dets_cap)
		return 0;
	more = realloc(pipe->dets, sizeof(*more) * count);
	if (!more)
		return -ENOMEM;
	pipe->dets = more;
	pipe->dets_cap = count;
	return 0;
}

static const char *model_dir(const struct visid_face_options *opt)
{
	const char *env = getenv("VISID_MODEL_DIR");

	if (opt && opt->model_dir)
		return opt->model_dir;
	if (env && *env)
		return env;
	return VISID_MODEL_DIR_DEFAULT;
}

static int load_model(const char *dir, const char *file, struct visid_model **out)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (access(path, R_OK)) {
		visid_err("%s: model file missing (%s); run scripts/fetch-models, or set "
			  "VISID_MODEL_DIR to where the models are", path, strerror(errno));
		return -ENOENT;
	}
	return visid_model_load(path, out);
}

/* sha256 over the three model files in a fixed order, as lowercase hex. */
static int hash_models(const char *dir, char *hex)
{
	static const char *const files[] = { FULL_RANGE_FILE, SHORT_RANGE_FILE, EMBEDDER_FILE };
	crypto_hash_sha256_state state;
	unsigned char digest[crypto_hash_sha256_BYTES], buf[65536];

	if (sodium_init() < 0) {
		visid_err("libsodium could not be initialised");
		return -EIO;
	}
	crypto_hash_sha256_init(&state);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[4096];
		size_t n;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		f = fopen(path, "rb");
		if (!f) {
			visid_err("%s: cannot open: %s", path, strerror(errno));
			return -errno;
		}
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			crypto_hash_sha256_update(&state, buf, n);
		fclose(f);
	}
	crypto_hash_sha256_final(&state, digest);
	sodium_bin2hex(hex, 2 * sizeof(digest) + 1, digest, sizeof(digest));
	return 0;
}

int visid_face_pipeline_create(const struct visid_face_options *opt,
			       struct visid_face_pipeline **out)
{
	const char *dir = model_dir(opt);
	struct visid_face_pipeline *pipe;
	int ret;

	*out = NULL;
	pipe = calloc(1, sizeof(*pipe));
	if (!pipe)
		return -ENOMEM;
	if (opt) {
		pipe->net_opt.backend = opt->backend;
		pipe->net_opt.gpu = opt->gpu;
	}
	ret = load_model(dir, FULL_RANGE_FILE, &pipe->full);
	if (!ret)
		ret = load_model(dir, SHORT_RANGE_FILE, &pipe->short_range);
	if (!ret)
		ret = load_model(dir, EMBEDDER_FILE, &pipe->embedder);
	if (!ret)
		ret = hash_models(dir, pipe->model_id);
	if (ret)
		goto out_destroy;

	ret = detector_init(pipe, pipe->full, 0, 0, 0, &pipe->letterbox);
	if (!ret)
		ret = detector_init(pipe, pipe->short_range, 0, 0, 1, &pipe->refiner);
	if (ret)
		goto out_destroy;
	ret = visid_net_create(pipe->embedder, &pipe->net_opt, &pipe->embed);
	if (ret)
		goto out_destroy;
	if (visid_net_output_size(pipe->embed, 0) != VISID_EMBED_DIM) {
		visid_err("%s: output has %zu values, expected %d",
			  visid_model_path(pipe->embedder), visid_net_output_size(pipe->embed, 0),
			  VISID_EMBED_DIM);
		ret = -EINVAL;
		goto out_destroy;
	}
	pipe->embed_input = malloc(sizeof(float) * 3 * VISID_EMB_SIZE * VISID_EMB_SIZE);
	pipe->embed_output = malloc(sizeof(float) * VISID_EMBED_DIM);
	if (!pipe->embed_input || !pipe->embed_output) {
		ret = -ENOMEM;
		goto out_destroy;
	}
	if (pipe->net_opt.backend == VISID_BACKEND_VULKAN) {
		ret = visid_vk_pre_create(pipe->net_opt.gpu, &pipe->dev.pre);
		if (!ret)
			ret = visid_vk_importer_create(pipe->net_opt.gpu, VISID_VK_IMPORT_DMABUF,
						       &pipe->dev.importer);
		if (ret)
			goto out_destroy;
	}
	*out = pipe;
	return 0;

out_destroy:
	visid_face_pipeline_destroy(pipe);
	return ret;
}

void visid_face_pipeline_destroy(struct visid_face_pipeline *pipe)
{
	if (!pipe)
		return;
	detector_free(&pipe->fcn);
	detector_free(&pipe->letterbox);
	detector_free(&pipe->refiner);
	visid_net_destroy(pipe->embed);
	visid_vk_pre_destroy(pipe->dev.pre);
	visid_vk_importer_destroy(pipe->dev.importer);
	visid_model_free(pipe->full);
	visid_model_free(pipe->short_range);
	visid_model_free(pipe->embedder);
	free(pipe->embed_input);
	free(pipe->embed_output);
	free(pipe->dets);
	free(pipe);
}

const char *visid_face_model_id(const struct visid_face_pipeline *pipe)
{
	return pipe->model_id;
}

static int on_vulkan(const struct visid_face_pipeline *pipe)
{
	return pipe->net_opt.backend == VISID_BACKEND_VULKAN;
}

/*
 * Vulkan: puts img on the device as the current frame; fd and offset (NULL
 * for none) are the camera buffer behind it, as in struct visid_frame.
 */
static int load_frame(struct visid_face_pipeline *pipe, const struct visid_image *img,
		      const int fd[2], const uint32_t offset[2])
{
	struct device_frame *dev = &pipe->dev;
	int ret;

	dev->loaded = 0;
	ret = visid_vk_import(dev->importer, img, fd, offset, &dev->frame);
	if (ret)
		return ret;
	dev->image = *img;
	dev->loaded = 1;
	return 0;
}

/* The current frame is img's, unless the caller moved on to another image. */
static int use_frame(struct visid_face_pipeline *pipe, const struct visid_image *img)
{
	const struct visid_image *cur = &pipe->dev.image;

	if (pipe->dev.loaded && cur->data == img->data && cur->uv == img->uv &&
	    cur->width == img->width && cur->height == img->height &&
	    cur->format == img->format && cur->stride == img->stride &&
	    cur->uv_stride == img->uv_stride)
		return 0;
	return load_frame(pipe, img, NULL, NULL);
}

/*
 * Fills the network's input with img resampled by rs: in C into `host`
 * on the CPU backend, by the shaders into the network's input buffer on
 * Vulkan.
 */
static int prepare_input(struct visid_face_pipeline *pipe, struct visid_net *net,
			 const struct visid_image *img, const struct visid_resample *rs,
			 float *host)
{
	struct visid_vk_view in;
	int ret;

	if (!on_vulkan(pipe))
		return visid_pre_resample(img, rs, host);
	ret = use_frame(pipe, img);
	if (!ret)
		ret = visid_net_input_view(net, &in);
	if (!ret)
		ret = visid_vk_pre_run(pipe->dev.pre, &pipe->dev.frame, rs, in);
	return ret;
}

static int run_net(struct visid_face_pipeline *pipe, struct visid_net *net, const float *host,
		   float *const *outputs)
{
	return on_vulkan(pipe) ? visid_net_run_device(net, outputs)
			       : visid_net_run(net, host, outputs);
}

/* Runs one detector on img resampled by rs; detections land in image pixels. */
static int detector_run(struct visid_face_pipeline *pipe, struct detector *d,
			const struct visid_image *img, const struct visid_resample *rs,
			float min_score, struct visid_detection *out, int max)
{
	float *outputs[VISID_NET_MAX_OUTPUTS] = { 0 };
	int ret, n;

	outputs[d->reg_index] = d->reg;
	outputs[d->cls_index] = d->cls;
	ret = prepare_input(pipe, d->net, img, rs, d->input);
	if (!ret)
		ret = run_net(pipe, d->net, d->input, outputs);
	if (ret)
		return ret;
	n = visid_detect_decode(d->reg, d->cls, d->anchors, d->count, d->in_w, d->in_h,
				min_score, out, max);
	for (int i = 0; i < n; i++)
		visid_detection_map(&out[i], d->in_w, d->in_h, rs->m);
	return n;
}

/* The fully convolutional detector for this frame size, recreated when the size changes. */
static int fcn_for(struct visid_face_pipeline *pipe, const struct visid_image *img)
{
	double scale = fmax(1.0, (double)(img->width > img->height ? img->width : img->height) /
					 DETECT_LONG_SIDE);
	int in_w = (int)ceil(img->width / scale / 32) * 32;
	int in_h = (int)ceil(img->height / scale / 32) * 32;

	if (pipe->fcn.net && pipe->fcn.in_w == in_w && pipe->fcn.in_h == in_h)
		return 0;
	detector_free(&pipe->fcn);
	return detector_init(pipe, pipe->full, in_w, in_h, 0, &pipe->fcn);
}

/* Both full-range passes, merged; returns the number of faces in pipe->dets. */
static int detect_boxes(struct visid_face_pipeline *pipe, const struct visid_image *img)
{
	struct visid_resample rs;
	int ret, n, more;

	ret = fcn_for(pipe, img);
	if (ret)
		return ret;
	ret = reserve_dets(pipe, pipe->fcn.count + pipe->letterbox.count);
	if (ret)
		return ret;
	ret = visid_pre_detector_map(img->width, img->height, NULL, pipe->fcn.in_w,
				     pipe->fcn.in_h, 0, &rs);
	if (ret)
		return ret;
	n = detector_run(pipe, &pipe->fcn, img, &rs, VISID_FULL_RANGE_MIN_SCORE, pipe->dets,
			 pipe->fcn.count);
	if (n < 0)
		return n;
	ret = visid_pre_detector_map(img->width, img->height, NULL, pipe->letterbox.in_w,
				     pipe->letterbox.in_h, 1, &rs);
	if (ret)
		return ret;
	more = detector_run(pipe, &pipe->letterbox, img, &rs, VISID_FULL_RANGE_MIN_SCORE,
			    pipe->dets + n, pipe->letterbox.count);
	if (more < 0)
		return more;
	n = visid_detect_nms(pipe->dets, n + more, VISID_NMS_IOU);
	if (n < 0)
		return n;

	/* Clamp to the frame and drop what is left of boxes mostly outside it. */
	more = 0;
	for (int i = 0; i < n; i++) {
		struct visid_detection *d = &pipe->dets[i];

		visid_detection_clamp(d, img->width, img->height);
		if (d->box[2] - d->box[0] >= MIN_BOX_PX && d->box[3] - d->box[1] >= MIN_BOX_PX)
			pipe->dets[more++] = *d;
	}
	return more;
}

static int by_area(const void *pa, const void *pb)
{
	const struct visid_detection *a = pa, *b = pb;
	float area_a = (a->box[2] - a->box[0]) * (a->box[3] - a->box[1]);
	float area_b = (b->box[2] - b->box[0]) * (b->box[3] - b->box[1]);

	if (area_a != area_b)
		return area_a > area_b ? -1 : 1;
	return a->score > b->score ? -1 : a->score < b->score;
}

/*
 * Refines keypoints with the short-range model on the face's square ROI.
 * The refiner's best face whose centre lies inside the detector's box wins;
 * without one the detector's keypoints stay.
 */
static int refine_keypoints(struct visid_face_pipeline *pipe, const struct visid_image *img,
			    struct visid_face *face)
{
	struct detector *d = &pipe->refiner;
	struct visid_detection found[VISID_SHORT_RANGE_ANCHORS];
	struct visid_resample rs;
	float rect[4];
	int n, ret;

	visid_pre_roi_rect(face->box, rect);
	ret = visid_pre_detector_map(img->width, img->height, rect, d->in_w, d->in_h, 1, &rs);
	if (ret)
		return ret;
	n = detector_run(pipe, d, img, &rs, VISID_SHORT_RANGE_MIN_SCORE, found, d->count);
	if (n < 0)
		return n;
	n = visid_detect_nms(found, n, VISID_NMS_IOU);
	for (int i = 0; i < n; i++) {
		float cx = (found[i].box[0] + found[i].box[2]) / 2;
		float cy = (found[i].box[1] + found[i].box[3]) / 2;

		if (cx < face->box[0] || cx > face->box[2] || cy < face->box[1] ||
		    cy > face->box[3])
			continue;
		memcpy(face->keypoints, found[i].kp, sizeof(face->keypoints));
		return 1;
	}
	return 0;
}

static void face_describe(const struct visid_image *img, struct visid_face *face)
{
	if (visid_pose_measure(face->keypoints, &face->yaw, &face->pitch, &face->roll))
		face->pose = VISID_POSE_OTHER;
	else
		face->pose = visid_pose_classify(face->yaw, face->pitch, face->roll);
	visid_quality_measure(img, face);
	face->issues = visid_quality_issues(face);
}

static int detector_wipe(struct detector *d)
{
	if (!d->net)
		return 0;
	if (d->input)
		explicit_bzero(d->input, sizeof(float) * 3 * d->in_w * d->in_h);
	explicit_bzero(d->reg, sizeof(float) * 16 * d->count);
	explicit_bzero(d->cls, sizeof(float) * d->count);
	return visid_net_wipe(d->net);
}

/* Detection is done with the frame: its resampled inputs and what the detectors made of them go. */
static int detection_wipe(struct visid_face_pipeline *pipe)
{
	int fcn = detector_wipe(&pipe->fcn), letterbox = detector_wipe(&pipe->letterbox);
	int refiner = detector_wipe(&pipe->refiner);

	if (pipe->dets)
		explicit_bzero(pipe->dets, sizeof(*pipe->dets) * pipe->dets_cap);
	return fcn ? fcn : letterbox ? letterbox : refiner;
}

static int detect_faces(struct visid_face_pipeline *pipe, const struct visid_image *img,
			struct visid_face *faces, int max)
{
	int n, ret;

	n = detect_boxes(pipe, img);
	if (n < 0)
		return n;
	qsort(pipe->dets, n, sizeof(*pipe->dets), by_area);
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++) {
		const struct visid_detection *d = &pipe->dets[i];
		struct visid_face *face = &faces[i];

		memset(face, 0, sizeof(*face));
		memcpy(face->box, d->box, sizeof(face->box));
		memcpy(face->keypoints, d->kp, sizeof(face->keypoints));
		face->score = d->score;
		ret = refine_keypoints(pipe, img, face);
		if (ret < 0)
			return ret;
		face_describe(img, face);
	}
	return n;
}

/* Detection on img, which is on the device already on the Vulkan backend. */
static int detect(struct visid_face_pipeline *pipe, const struct visid_image *img,
		  struct visid_face *faces, int max)
{
	int n, wiped;

	pipe->frames++;
	n = detect_faces(pipe, img, faces, max);
	wiped = detection_wipe(pipe);
	return n < 0 ? n : wiped < 0 ? wiped : n;
}

static int check_image(const struct visid_image *img)
{
	if (visid_image_valid(img))
		return 0;
	visid_err("face detection: invalid %s image %dx%d (stride %d)",
		  img ? visid_pixel_format_name(img->format) : "NULL", img ? img->width : 0,
		  img ? img->height : 0, img ? img->stride : 0);
	return -EINVAL;
}

int visid_face_detect(struct visid_face_pipeline *pipe, const struct visid_image *img,
		      struct visid_face *faces, int max)
{
	int ret = check_image(img);

	if (!ret && on_vulkan(pipe))
		ret = load_frame(pipe, img, NULL, NULL);
	return ret ? ret : detect(pipe, img, faces, max);
}

int visid_face_detect_frame(struct visid_face_pipeline *pipe, const struct visid_frame *frame,
			    struct visid_face *faces, int max)
{
	int ret = check_image(&frame->image);

	if (!ret && on_vulkan(pipe))
		ret = load_frame(pipe, &frame->image, frame->dmabuf_fd, frame->dmabuf_offset);
	return ret ? ret : detect(pipe, &frame->image, faces, max);
}

void visid_face_release_frame(struct visid_face_pipeline *pipe)
{
	if (!on_vulkan(pipe))
		return;
	visid_vk_import_wipe(pipe->dev.importer);
	pipe->dev.loaded = 0;
}

void visid_face_get_stats(const struct visid_face_pipeline *pipe, struct visid_face_stats *stats)
{
	struct visid_vk_import_stats st = { 0 };

	memset(stats, 0, sizeof(*stats));
	stats->frames = pipe->frames;
	stats->frame_path = "none: the CPU backend reads frames in place";
	if (!on_vulkan(pipe))
		return;
	visid_vk_import_get_stats(pipe->dev.importer, &st);
	stats->frame_copies = st.copies;
	stats->frame_imports = st.imports;
	stats->frame_path = st.frames ? visid_vk_import_path_name(st.last) : "none yet";
}

/* Rejects crops with nothing in them: black (boxes off the frame, a dark frame) or flat. */
static int crop_has_content(const float *crop, int count)
{
	double sum = 0, sum2 = 0, peak = 0;

	for (int i = 0; i < count; i++) {
		double v = crop[i] * VISID_EMB_STD + VISID_EMB_MEAN;

		sum += v;
		sum2 += v * v;
		peak = fmax(peak, v);
	}
	sum /= count;
	return peak >= CROP_MIN_PEAK && sqrt(fmax(0, sum2 / count - sum * sum)) >= CROP_MIN_STDDEV;
}

int visid_face_embed(struct visid_face_pipeline *pipe, const struct visid_image *img,
		     const struct visid_face *face, float vec[VISID_EMBED_DIM])
{
	const int count = 3 * VISID_EMB_SIZE * VISID_EMB_SIZE;
	float *outputs[VISID_NET_MAX_OUTPUTS] = { pipe->embed_output };
	struct visid_resample rs;
	struct visid_vk_view in;
	double sim[4], norm = 0;
	int ret, wiped;

	if (visid_align_similarity(face->keypoints, sim)) {
		visid_err("face at (%.0f, %.0f): cannot align its keypoints", face->box[0],
			  face->box[1]);
		return -EINVAL;
	}
	ret = visid_pre_embedder_map(sim, &rs);
	if (!ret)
		ret = prepare_input(pipe, pipe->embed, img, &rs, pipe->embed_input);
	/* The crop is checked on the CPU: read back what the shader made. */
	if (!ret && on_vulkan(pipe)) {
		ret = visid_net_input_view(pipe->embed, &in);
		if (!ret)
			ret = visid_vk_download(in.buf, in.offset, pipe->embed_input,
						sizeof(float) * count);
	}
	if (ret)
		goto out_wipe;
	if (!crop_has_content(pipe->embed_input, count)) {
		visid_err("face at (%.0f, %.0f): the aligned crop is empty or black",
			  face->box[0], face->box[1]);
		ret = -EINVAL;
		goto out_wipe;
	}
	ret = run_net(pipe, pipe->embed, pipe->embed_input, outputs);
	if (ret)
		goto out_wipe;
	for (int i = 0; i < VISID_EMBED_DIM; i++)
		norm += (double)pipe->embed_output[i] * pipe->embed_output[i];
	norm = sqrt(norm);
	if (!isfinite(norm) || norm < 1e-6) {
		visid_err("face at (%.0f, %.0f): embedding norm %g cannot be normalised",
			  face->box[0], face->box[1], norm);
		ret = -EINVAL;
		goto out_wipe;
	}
	for (int i = 0; i < VISID_EMBED_DIM; i++)
		vec[i] = (float)(pipe->embed_output[i] / norm);

out_wipe:
	/* The aligned crop and the unnormalised vector: only the caller's vec stays. */
	explicit_bzero(pipe->embed_input, sizeof(float) * count);
	explicit_bzero(pipe->embed_output, sizeof(float) * VISID_EMBED_DIM);
	wiped = visid_net_wipe(pipe->embed);
	return ret ? ret : wiped;
}

unsigned visid_face_check(struct visid_face_pipeline *pipe, const struct visid_image *img,
			  enum visid_pose want, struct visid_face *face)
{
	struct visid_face faces[VISID_MAX_FACES];
	unsigned issues;
	int n = visid_face_detect(pipe, img, faces, VISID_MAX_FACES);

	if (n <= 0)
		return VISID_Q_NO_FACE;
	*face = faces[0];
	issues = faces[0].issues;
	for (int i = 1; i < n; i++) {
		float main_w = faces[0].box[2] - faces[0].box[0];

		if (faces[i].box[2] - faces[i].box[0] >= OTHER_FACE_FRACTION * main_w)
			issues |= VISID_Q_MULTIPLE_FACES;
	}
	if (want != VISID_POSE_OTHER && faces[0].pose != want)
		issues |= VISID_Q_WRONG_ANGLE;
	return issues;
}

const char *visid_pose_name(enum visid_pose pose)
{
	static const char *const names[] = { "front", "left", "right", "up", "down", "other" };

	if ((unsigned)pose > VISID_POSE_OTHER)
		return "unknown";
	return names[pose];
}

/* In bit order: the lowest bit set is the one reported. */
static const struct {
	unsigned bit;
	const char *reason, *advice;
} quality_text[] = {
	{ VISID_Q_TOO_DARK, "too dark", "Turn on a light or face a window." },
	{ VISID_Q_TOO_BRIGHT, "too bright", "Move out of direct light or away from the window." },
	{ VISID_Q_BLURRED, "blurred", "Hold still for a moment; clean the lens if needed." },
	{ VISID_Q_TOO_SMALL, "face too small", "Come closer to the camera." },
	{ VISID_Q_MULTIPLE_FACES, "more than one face",
	  "Only one person should be in view while enrolling." },
	{ VISID_Q_NO_FACE, "no face", "Look at the camera, with your whole face in view." },
	{ VISID_Q_WRONG_ANGLE, "wrong angle", "Turn your head to the angle asked for." },
};

const char *visid_quality_reason(unsigned issues)
{
	for (size_t i = 0; i < sizeof(quality_text) / sizeof(quality_text[0]); i++)
		if (issues & quality_text[i].bit)
			return quality_text[i].reason;
	return "ok";
}

const char *visid_quality_advice(unsigned issues)
{
	for (size_t i = 0; i < sizeof(quality_text) / sizeof(quality_text[0]); i++)
		if (issues & quality_text[i].bit)
			return quality_text[i].advice;
	return "Hold still.";
}
