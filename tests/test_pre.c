/*
 * The preprocessing shaders against the C reference (visid_pre_resample):
 * real photos in every pixel format the library takes, at odd sizes, odd
 * strides and odd byte offsets in their buffers, through the detector's
 * letterbox and fully convolutional fit, the refiner's ROI crop running off
 * the frame, the rotated embedder crop, and large downscales with the area
 * pre-shrink. The validation layer is on; any message fails the suite.
 *
 * Tolerances, in normalised units (one 8-bit level is 1/127.5 = 0.0078):
 * - direct sampling: 2e-4 at most. The shader maps coordinates in float,
 *   the reference in double: at 500 px the position differs by up to
 *   ~3e-5 px, which moves a bilinear sample by at most 3e-5 x 255 levels,
 *   6e-5 normalised; float weights and sums add a few 1e-6. Pixel
 *   conversion is the same integer arithmetic on both sides and adds
 *   nothing. (Measured: at most 4e-5.)
 * - with the area pre-shrink: cells are averaged in float against double;
 *   an average within float rounding of a half level can round to the
 *   other byte, so single cells may differ by one level (0.0079), and by
 *   the bilinear weights at most that in any output. At most 1 % of the
 *   outputs may differ by more than 2e-4 at all; integer shrink ratios
 *   have exact cell sums and agree like direct sampling. (Measured: at
 *   most 1.7e-3, at a 5.02x shrink; 2.6e-5 at an exact 2x.)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame_util.h"
#include "preprocess.h"
#include "vk_pre.h"
#include "vk_test.h"

#define DIRECT_TOL 2e-4
#define SHRINK_TOL (1.0 / VISID_DET_STD + 1e-3)

static struct visid_vk_pre *pre;
static struct visid_image photo, group;

static const char *photo_path = "data/faces/identity/face_recognition/barack_obama/obama1.jpg";
static const char *group_path = "data/faces/group/dlib_pascal/2008_002470.jpg";

static const char *pre_skip(void)
{
	if (!visid_test_have_shared(photo_path) || !visid_test_have_shared(group_path))
		return "../shared/data/faces is absent (real photos needed)";
	return vt_skip();
}

static int pre_init(void)
{
	char path[256];

	if (vt_init())
		return -1;
	if (visid_image_load(visid_test_shared(photo_path, path, sizeof(path)), &photo) ||
	    visid_image_load(visid_test_shared(group_path, path, sizeof(path)), &group))
		return -1;
	return visid_vk_pre_create(vt_gpu, &pre) ? -1 : 0;
}

static int pre_clean(void)
{
	visid_vk_pre_destroy(pre);
	pre = NULL;
	visid_image_free(&photo);
	visid_image_free(&group);
	return vt_clean();
}

/*
 * A w x h window of the photo at (x0, y0) in `format`, rows `pad` bytes
 * longer than needed, every padding byte set to a bright value so that a
 * shader reading past a row's end shows.
 */
static int make_frame(const struct visid_image *src, int x0, int y0, int w, int h,
		      enum visid_pixel_format format, int pad, struct visid_image *out)
{
	size_t bytes;

	memset(out, 0, sizeof(*out));
	out->width = w;
	out->height = h;
	out->format = format;
	out->stride = (int)vt_row_bytes(format, w) + pad;
	out->uv_stride = format == VISID_FMT_NV12 ? ((w + 1) & ~1) + pad : 0;
	bytes = (size_t)out->stride * h + (size_t)out->uv_stride * ((h + 1) / 2);
	out->owned = malloc(bytes);
	if (!out->owned)
		return -1;
	memset(out->owned, 0xee, bytes);
	out->data = out->owned;
	if (format == VISID_FMT_NV12)
		out->uv = out->data + (size_t)out->stride * h;
	vt_frame_fill(src, x0, y0, out);
	return 0;
}

struct gpu_frame {
	struct visid_vk_buffer *buf[2];
	struct visid_vk_frame frame;
};

/*
 * The image in Vulkan buffers at odd byte offsets: one buffer, or for NV12
 * with separate_uv a second one for the chroma plane (as NV12M cameras give).
 */
static int upload_frame(const struct visid_image *img, int separate_uv, struct gpu_frame *g)
{
	static const uint32_t offsets[2] = {7, 5};
	int planes = img->format == VISID_FMT_NV12 ? 2 : 1;
	size_t len[2] = {vt_plane_bytes(img, 0), planes > 1 ? vt_plane_bytes(img, 1) : 0};
	uint32_t uv_at = (uint32_t)(offsets[0] + len[0] + 6);

	memset(g, 0, sizeof(*g));
	for (int p = 0; p < (separate_uv ? planes : 1); p++) {
		size_t size = offsets[p] + len[p] + (separate_uv ? 0 : 6 + len[1] + offsets[1]);

		if (visid_vk_buffer_create(vt_gpu, size + 3, VISID_VK_BUFFER_HOST, "test frame",
					   &g->buf[p]))
			return -1;
		memset(g->buf[p]->map, 0xee, size + 3);
	}
	memcpy((uint8_t *)g->buf[0]->map + offsets[0], img->data, len[0]);
	g->frame.width = img->width;
	g->frame.height = img->height;
	g->frame.format = img->format;
	g->frame.plane[0] = g->frame.plane[1] = visid_vk_whole(g->buf[0]);
	g->frame.stride[0] = g->frame.stride[1] = (uint32_t)img->stride;
	g->frame.offset[0] = offsets[0];
	if (planes > 1) {
		struct visid_vk_buffer *uv = separate_uv ? g->buf[1] : g->buf[0];
		uint32_t at = separate_uv ? offsets[1] : uv_at;

		memcpy((uint8_t *)uv->map + at, img->uv, len[1]);
		g->frame.plane[1] = visid_vk_whole(uv);
		g->frame.stride[1] = (uint32_t)img->uv_stride;
		g->frame.offset[1] = at;
	}
	return 0;
}

static void free_frame(struct gpu_frame *g)
{
	visid_vk_buffer_destroy(g->buf[0]);
	visid_vk_buffer_destroy(g->buf[1]);
}

struct diff {
	double max, mean;
	int over; /* outputs off by more than DIRECT_TOL */
	int count;
};

/* Runs both resamplers on img; returns 0 and the differences. */
static int compare(const struct visid_image *img, const struct gpu_frame *g,
		   const struct visid_resample *rs, struct diff *d)
{
	size_t n = 3 * (size_t)rs->out_w * rs->out_h;
	struct visid_vk_buffer *out = NULL;
	float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
	int ret = -1;

	memset(d, 0, sizeof(*d));
	if (!ref || !got ||
	    visid_vk_buffer_create(vt_gpu, n * sizeof(float), VISID_VK_BUFFER_DEVICE, "test out",
				   &out))
		goto out_free;
	ret = visid_pre_resample(img, rs, ref);
	VT_CHECK(ret == 0, "C reference on %s: %d", visid_pixel_format_name(img->format), ret);
	if (!ret) {
		ret = visid_vk_pre_run(pre, &g->frame, rs, visid_vk_whole(out));
		VT_CHECK(ret == 0, "shader on %s: %d", visid_pixel_format_name(img->format), ret);
	}
	if (!ret)
		ret = visid_vk_download(out, 0, got, n * sizeof(float));
	for (size_t i = 0; !ret && i < n; i++) {
		double e = fabs((double)got[i] - ref[i]);

		if (!(e <= d->max))
			d->max = isfinite(e) ? e : INFINITY;
		d->mean += e;
		d->over += e > DIRECT_TOL;
	}
	d->mean /= n;
	d->count = (int)n;
out_free:
	visid_vk_buffer_destroy(out);
	free(ref);
	free(got);
	return ret;
}

static const enum visid_pixel_format formats[] = {
    VISID_FMT_RGB24, VISID_FMT_BGR24, VISID_FMT_XRGB8888,
    VISID_FMT_YUYV,  VISID_FMT_NV12,  VISID_FMT_GREY,
};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

/* Checks one resampling of one image in every format against the reference. */
static void check_formats(const struct visid_image *src, int x0, int y0, int w, int h, int pad,
			  const struct visid_resample *rs, int shrinks, const char *what)
{
	struct visid_pre_plan plan;

	VT_CHECK(visid_pre_plan(w, h, rs, &plan) == 0 && (plan.shrink > 1) == shrinks,
		 "%s: plan shrinks by %d, the case is meant %s it", what, plan.shrink,
		 shrinks ? "with" : "without");
	for (size_t f = 0; f < N_FORMATS; f++) {
		struct visid_image img;
		struct gpu_frame g;
		struct diff d;
		const char *name = visid_pixel_format_name(formats[f]);

		if (make_frame(src, x0, y0, w, h, formats[f], pad, &img)) {
			VT_CHECK(0, "%s: no memory for a %dx%d %s frame", what, w, h, name);
			continue;
		}
		for (int sep = 0; sep < (formats[f] == VISID_FMT_NV12 ? 2 : 1); sep++) {
			if (upload_frame(&img, sep, &g) || compare(&img, &g, rs, &d)) {
				VT_CHECK(0, "%s: %s frame could not be compared", what, name);
				free_frame(&g);
				continue;
			}
			if (shrinks)
				VT_CHECK(d.max <= SHRINK_TOL && d.over * 100 <= d.count,
					 "%s %s%s (%dx%d, stride %d): max %.2g, %d of %d off "
					 "by more than %.0e",
					 what, name, sep ? " 2-plane" : "", w, h, img.stride, d.max,
					 d.over, d.count, DIRECT_TOL);
			else
				VT_CHECK(d.max <= DIRECT_TOL,
					 "%s %s%s (%dx%d, stride %d): max %.2g, mean %.2g", what,
					 name, sep ? " 2-plane" : "", w, h, img.stride, d.max,
					 d.mean);
			free_frame(&g);
		}
		visid_image_free(&img);
	}
	VT_NO_VALIDATION_MESSAGES();
}

/* The 192x192 letterbox of an odd-sized frame with odd strides. */
static void test_letterbox(void)
{
	struct visid_resample rs;
	int w = 301, h = 207;

	VT_CHECK(visid_pre_detector_map(w, h, NULL, 192, 192, 1, &rs) == 0, "letterbox map");
	check_formats(&photo, 11, 5, w, h, 13, &rs, 0, "letterbox");
}

/* The fully convolutional input: top-left fit into a multiple of 32, no border on one side. */
static void test_detector_fit(void)
{
	struct visid_resample rs;
	int w = group.width - 1, h = group.height - 1;

	VT_CHECK(visid_pre_detector_map(w, h, NULL, 256, 160, 0, &rs) == 0, "fit map");
	check_formats(&group, 1, 1, w, h, 1, &rs, 0, "detector fit");
}

/* The refiner's square ROI around a face near the corner: part of it is off the frame. */
static void test_roi_off_frame(void)
{
	const float box[4] = {-20.5f, 30.25f, 60.75f, 111.0f};
	struct visid_resample rs;
	float rect[4];

	visid_pre_roi_rect(box, rect);
	VT_CHECK(visid_pre_detector_map(257, 199, rect, VISID_ROI_SIZE, VISID_ROI_SIZE, 1, &rs) ==
		     0,
		 "ROI map");
	check_formats(&photo, 3, 9, 257, 199, 3, &rs, 0, "ROI crop");
}

/* The embedder crop of a face turned 17 degrees and 1.3x the template's size. */
static void test_embedder_rotated(void)
{
	double angle = 17 * M_PI / 180, scale = 1 / 1.3;
	double sim[4] = {scale * cos(angle), scale * sin(angle), 0, 0};
	struct visid_resample rs;

	/* Put the crop's centre on the photo's (140, 120). */
	sim[2] = 56 - (sim[0] * 140 - sim[1] * 120);
	sim[3] = 56 - (sim[1] * 140 + sim[0] * 120);
	VT_CHECK(visid_pre_embedder_map(sim, &rs) == 0, "embedder map");
	check_formats(&photo, 0, 0, 245, 233, 5, &rs, 0, "embedder crop");
}

/* A whole photo letterboxed far down (over 2 pixels per output): the area pre-shrink runs. */
static void test_large_downscale(void)
{
	struct visid_resample rs;
	int w = group.width - 3, h = group.height - 2;

	VT_CHECK(visid_pre_detector_map(w, h, NULL, 64, 64, 1, &rs) == 0, "downscale map");
	check_formats(&group, 2, 1, w, h, 9, &rs, 1, "7x downscale");
}

/* A face crop that is large in the frame: the embedder shrinks a region only. */
static void test_large_face_region(void)
{
	double scale = 1 / 4.2;
	double sim[4] = {scale, 0, 0, 0};
	struct visid_resample rs;

	sim[2] = 56 - scale * 250;
	sim[3] = 56 - scale * 180;
	VT_CHECK(visid_pre_embedder_map(sim, &rs) == 0, "embedder map");
	check_formats(&group, 0, 0, group.width, group.height, 0, &rs, 1, "embedder 4.2x");
}

/* A crop entirely off the frame is black everywhere, with and without the pre-shrink. */
static void test_all_outside(void)
{
	const float rects[2][4] = {{5000, 5000, 80, 80}, {-9000, 10, 4000, 4000}};

	for (int i = 0; i < 2; i++) {
		struct visid_resample rs;

		visid_pre_detector_map(photo.width, photo.height, rects[i], 32, 32, 1, &rs);
		check_formats(&photo, 0, 0, photo.width, photo.height, 0, &rs, i == 1,
			      "outside the frame");
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Not a check: the time of both resamplers on a 640x480 YUYV frame for the
 * fully convolutional input and the 192x192 letterbox, printed for the docs.
 */
static void test_report_timing(void)
{
	struct visid_resample fit, box;
	struct visid_vk_buffer *out = NULL;
	struct visid_image img;
	struct gpu_frame g;
	float *host = malloc(640 * 480 * 3 * sizeof(float));
	double cpu[2] = {0}, gpu[2] = {0}, kernel[2] = {0};
	const int reps = 5;

	if (!host || make_frame(&group, 0, 0, 480, 320, VISID_FMT_YUYV, 0, &img)) {
		free(host);
		return;
	}
	visid_pre_detector_map(480, 320, NULL, 480, 320, 0, &fit);
	visid_pre_detector_map(480, 320, NULL, 192, 192, 1, &box);
	if (!upload_frame(&img, 0, &g) &&
	    !visid_vk_buffer_create(vt_gpu, 480 * 320 * 12, VISID_VK_BUFFER_DEVICE, "out", &out)) {
		/* The first runs build the pipelines; they are not timed. */
		visid_vk_pre_run(pre, &g.frame, &fit, visid_vk_whole(out));
		visid_vk_pre_run(pre, &g.frame, &box, visid_vk_whole(out));
		for (int r = 0; r < reps; r++) {
			for (int k = 0; k < 2; k++) {
				const struct visid_resample *rs = k ? &box : &fit;
				double t0 = now_ms();

				visid_pre_resample(&img, rs, host);
				cpu[k] += now_ms() - t0;
				t0 = now_ms();
				visid_vk_pre_run(pre, &g.frame, rs, visid_vk_whole(out));
				gpu[k] += now_ms() - t0;
			}
		}
		/* Timestamps slow a CPU device down, so the shaders are timed apart. */
		visid_vk_pre_set_timing(pre, 1);
		for (int r = 0; r < reps; r++) {
			for (int k = 0; k < 2; k++) {
				visid_vk_pre_run(pre, &g.frame, k ? &box : &fit, visid_vk_whole(out));
				kernel[k] += visid_vk_pre_last_ms(pre);
			}
		}
		visid_vk_pre_set_timing(pre, 0);
		printf(
		    "\n    480x320 YUYV -> 480x320 fit: CPU %.2f ms, GPU %.2f ms (shaders %.2f); "
		    "-> 192x192 letterbox: CPU %.2f ms, GPU %.2f ms (shaders %.2f) ",
		    cpu[0] / reps, gpu[0] / reps, kernel[0] / reps, cpu[1] / reps, gpu[1] / reps,
		    kernel[1] / reps);
	}
	VT_NO_VALIDATION_MESSAGES();
	visid_vk_buffer_destroy(out);
	free_frame(&g);
	visid_image_free(&img);
	free(host);
}

VISID_SUITE(pre, "pre", pre_init, pre_clean, pre_skip, VISID_TEST(test_letterbox),
	    VISID_TEST(test_detector_fit), VISID_TEST(test_roi_off_frame),
	    VISID_TEST(test_embedder_rotated), VISID_TEST(test_large_downscale),
	    VISID_TEST(test_large_face_region), VISID_TEST(test_all_outside),
	    VISID_TEST(test_report_timing))
