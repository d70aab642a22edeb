/*
 * Video files as a frame source, on the clips of ../shared/data/faces/video:
 * frame counts and sizes, the Hamilton clip's frames against the JPEGs
 * extracted from it, looping, damaged and mislabelled files, the video:
 * spec, and `visid run` on a clip. A build without FFmpeg checks instead
 * that opening a video says how to get support for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "visid/hal.h"
#include "visid/log.h"

#ifdef VISID_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#endif

#define VIDEO_DIR   "data/faces/video/"
#define FIVE_FRAMES VIDEO_DIR "faceapi_bbt_5frames.mp4"
#define HAMILTON    VIDEO_DIR "short_hamilton_clip.mp4"
#define HAM_FRAMES  VIDEO_DIR "hamilton_frames"
#define OBAMA_PHOTO "data/faces/identity/face_recognition/barack_obama/obama.jpg"

/* Video samples in the clips' sample tables (the MANIFEST gives the sizes). */
#define FIVE_COUNT 5
#define FIVE_W	   820
#define FIVE_H	   460
#define HAM_COUNT  275 /* 9.18 s at 29.97 fps */
#define HAM_W	   640
#define HAM_H	   360
/* hamilton_frames/frame_K.jpg is frame 6 K of the clip. */
#define HAM_STEP  6
#define HAM_JPEGS 46

static char last_error[300];

static void capture_log(enum visid_log_level level, const char *msg, void *data)
{
	if (level == VISID_LOG_ERROR)
		snprintf(last_error, sizeof(last_error), "%s", msg);
}

static int video_init(void)
{
	visid_log_set_handler(capture_log, NULL);
	return 0;
}

static int video_clean(void)
{
	visid_log_set_handler(NULL, NULL);
	return 0;
}

static int open_video(const char *spec, int loop, struct visid_source **src)
{
	struct visid_source_options opt;

	visid_source_options_init(&opt);
	opt.loop = loop;
	last_error[0] = 0;
	return visid_source_open(spec, &opt, src);
}

#ifdef VISID_HAVE_FFMPEG

static const char *shared(const char *rel)
{
	static char paths[4][512];
	static int next;

	return visid_test_shared(rel, paths[next++ % 4], 512);
}

static const char *data_skip(void)
{
	if (!visid_test_have_shared(FIVE_FRAMES) || !visid_test_have_shared(HAMILTON) ||
	    !visid_test_have_shared(HAM_FRAMES "/frame_000.jpg"))
		return "the videos of ../shared/data/faces/video are absent";
	return NULL;
}

/* Copies len bytes of a file (all of it when len < 0); 0 or -1. */
static int copy_file(const char *from, const char *to, long len)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;
	int ret = in && out ? 0 : -1;

	while (!ret && (len < 0 || len > 0) && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (len >= 0 && (long)n > len)
			n = (size_t)len;
		if (fwrite(buf, 1, n, out) != n)
			ret = -1;
		if (len >= 0)
			len -= (long)n;
	}
	if (in)
		fclose(in);
	if (out && fclose(out))
		ret = -1;
	return ret;
}

static long file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	long size = -1;

	if (f && !fseek(f, 0, SEEK_END))
		size = ftell(f);
	if (f)
		fclose(f);
	return size;
}

/* Mean absolute difference over all RGB bytes; a is converted to RGB24, b is RGB24. */
static double mean_abs_diff(const struct visid_image *a, const struct visid_image *b)
{
	struct visid_image rgb;
	double sum = 0;

	if (a->width != b->width || a->height != b->height || b->format != VISID_FMT_RGB24 ||
	    visid_image_to_rgb24(a, &rgb))
		return 1e9;
	for (int y = 0; y < rgb.height; y++) {
		const uint8_t *p = rgb.data + (size_t)y * rgb.stride;
		const uint8_t *q = b->data + (size_t)y * b->stride;

		for (int x = 0; x < 3 * rgb.width; x++)
			sum += abs(p[x] - q[x]);
	}
	visid_image_free(&rgb);
	return sum / (3.0 * b->width * b->height);
}

static int same_pixels(const struct visid_image *a, const struct visid_image *b)
{
	int row = a->format == VISID_FMT_RGB24 ? 3 * a->width : a->width;

	if (a->width != b->width || a->height != b->height || a->format != b->format)
		return 0;
	for (int y = 0; y < a->height; y++)
		if (memcmp(a->data + (size_t)y * a->stride, b->data + (size_t)y * b->stride, row))
			return 0;
	for (int y = 0; a->format == VISID_FMT_NV12 && y < (a->height + 1) / 2; y++)
		if (memcmp(a->uv + (size_t)y * a->uv_stride, b->uv + (size_t)y * b->uv_stride,
			   2 * ((a->width + 1) / 2)))
			return 0;
	return 1;
}

/* ---- decoding ----------------------------------------------------------- */

static void test_five_frames_counted(void)
{
	const char *path = shared(FIVE_FRAMES);
	struct visid_source *src;
	struct visid_frame frame;
	uint64_t last_ns = 0;
	int ret, n = 0;

	ret = open_video(path, 0, &src);
	VT_CHECK(ret == 0, "bare .mp4 path did not open: %d (%.200s)", ret, last_error);
	if (ret)
		return;
	VT_CHECK(visid_source_kind(src) == VISID_SOURCE_VIDEO, "kind %d is not a video",
		 visid_source_kind(src));
	while ((ret = visid_source_next(src, &frame, 0)) == 0) {
		const struct visid_image *img = &frame.image;

		VT_CHECK(img->width == FIVE_W && img->height == FIVE_H,
			 "frame %d is %dx%d, want %dx%d", n, img->width, img->height, FIVE_W,
			 FIVE_H);
		VT_CHECK(img->format == VISID_FMT_NV12 || img->format == VISID_FMT_RGB24,
			 "frame %d is %s", n, visid_pixel_format_name(img->format));
		VT_CHECK(frame.sequence == (uint64_t)n, "sequence %llu, want %d",
			 (unsigned long long)frame.sequence, n);
		VT_CHECK(frame.timestamp_ns >= last_ns && frame.timestamp_ns > 0,
			 "timestamp %llu after %llu", (unsigned long long)frame.timestamp_ns,
			 (unsigned long long)last_ns);
		VT_CHECK(frame.dmabuf_fd[0] == -1 && !img->owned, "a file frame has a dmabuf (%d)",
			 frame.dmabuf_fd[0]);
		last_ns = frame.timestamp_ns;
		n++;
	}
	VT_CHECK(ret == -ENODATA, "the clip ended with %d, want -ENODATA", ret);
	VT_CHECK(n == FIVE_COUNT, "%d frames decoded, the clip has %d", n, FIVE_COUNT);
	ret = visid_source_next(src, &frame, 0);
	VT_CHECK(ret == -ENODATA, "a call after the end gave %d, want -ENODATA again", ret);
	visid_source_close(src);
}

/*
 * The JPEGs were written by FFmpeg at quality 4 from frames 0, 6, 12...: the
 * JPEG loss (8x8 blocks, 4:2:0 chroma) and a colour matrix that differs from
 * ours (the clip is tagged BT.709 and converted so; the JPEGs carry its YUV
 * as is and decode as BT.601) leave up to ~2 levels of mean difference on
 * this dark stage, hence a loose bound. A frame of another scene is more
 * than ten times further off. Neighbouring frames of a still shot can be as
 * close as the JPEG loss, so the order is checked on average: frames 6k-1
 * and 6k+1 must be clearly further from JPEG k than frame 6k, which a
 * dropped, doubled or shifted frame would break.
 */
#define HAM_MAX_MAD	   4.0
#define HAM_DISTANT_GAIN   4.0
#define HAM_NEIGHBOUR_GAIN 2.0

struct ham_check {
	struct visid_image jpeg; /* frame_K.jpg, for frames 6K-1, 6K and 6K+1 */
	int k;
	double sum[3]; /* mean differences of frames 6K-1, 6K, 6K+1 */
	int count[3];
	double worst;
};

static int load_jpeg(int k, struct visid_image *img)
{
	char rel[128];

	snprintf(rel, sizeof(rel), HAM_FRAMES "/frame_%03d.jpg", k);
	return visid_image_load(shared(rel), img);
}

static void check_distant(const struct visid_frame *frame, int k, double mad)
{
	int distant = (k + HAM_JPEGS / 2) % HAM_JPEGS;
	struct visid_image far;
	double far_mad;

	if (load_jpeg(distant, &far)) {
		VT_CHECK(0, "cannot decode hamilton_frames/frame_%03d.jpg", distant);
		return;
	}
	far_mad = mean_abs_diff(&frame->image, &far);
	VT_CHECK(far_mad >= HAM_DISTANT_GAIN * mad,
		 "frame %d: frame_%03d.jpg (%.2f) is not clearly closer than frame_%03d.jpg (%.2f)",
		 k * HAM_STEP, k, mad, distant, far_mad);
	visid_image_free(&far);
}

/* Frames 6K-1, 6K and 6K+1 against frame_K.jpg. */
static void check_against_jpeg(struct ham_check *c, const struct visid_frame *frame, int n)
{
	int k = (n + 1) / HAM_STEP, at = (n + 1) % HAM_STEP; /* 0: 6K-1, 1: 6K, 2: 6K+1 */
	double mad;

	if (at > 2 || k >= HAM_JPEGS)
		return;
	if (c->k != k || !c->jpeg.data) {
		visid_image_free(&c->jpeg);
		c->k = k;
		if (load_jpeg(k, &c->jpeg)) {
			VT_CHECK(0, "cannot decode hamilton_frames/frame_%03d.jpg", k);
			return;
		}
	}
	mad = mean_abs_diff(&frame->image, &c->jpeg);
	c->sum[at] += mad;
	c->count[at]++;
	if (at != 1)
		return;
	VT_CHECK(mad <= HAM_MAX_MAD,
		 "frame %d differs from frame_%03d.jpg by %.2f levels (max %.1f)", n, k, mad,
		 HAM_MAX_MAD);
	if (mad > c->worst)
		c->worst = mad;
	check_distant(frame, k, mad);
}

static void test_hamilton_matches_extracted_frames(void)
{
	const char *path = shared(HAMILTON);
	struct ham_check c = {.k = -1};
	struct visid_source *src;
	struct visid_frame frame;
	double mean[3];
	int ret, n = 0;

	ret = open_video(path, 0, &src);
	VT_CHECK(ret == 0, "%.200s did not open: %d (%.200s)", path, ret, last_error);
	if (ret)
		return;
	while ((ret = visid_source_next(src, &frame, 0)) == 0) {
		VT_CHECK(frame.image.width == HAM_W && frame.image.height == HAM_H,
			 "frame %d is %dx%d", n, frame.image.width, frame.image.height);
		check_against_jpeg(&c, &frame, n);
		n++;
	}
	visid_image_free(&c.jpeg);
	visid_source_close(src);
	VT_CHECK(ret == -ENODATA, "the clip ended with %d (%.200s)", ret, last_error);
	VT_CHECK(n == HAM_COUNT, "%d frames decoded, the clip has %d", n, HAM_COUNT);
	VT_CHECK(c.count[1] == HAM_JPEGS, "%d frames compared with JPEGs, want %d", c.count[1],
		 HAM_JPEGS);
	for (int i = 0; i < 3; i++)
		mean[i] = c.count[i] ? c.sum[i] / c.count[i] : 0;
	VT_CHECK(mean[0] >= HAM_NEIGHBOUR_GAIN * mean[1] && mean[2] >= HAM_NEIGHBOUR_GAIN * mean[1],
		 "frames 6K-1, 6K, 6K+1 differ from JPEG K by %.2f, %.2f, %.2f on average: "
		 "the frames are out of step",
		 mean[0], mean[1], mean[2]);
	printf("\n    %d frames; from JPEG K, frames 6K-1, 6K, 6K+1 differ by %.2f, %.2f, %.2f "
	       "levels (worst 6K: %.2f)",
	       n, mean[0], mean[1], mean[2], c.worst);
}

/*
 * The five-frame clip is untagged SD video, so it comes out as NV12 made by
 * hand from the decoder's planes. The reference here decodes it again with
 * FFmpeg and converts to RGB24 with swscale (BT.601, limited range, as visid
 * assumes for NV12): only rounding between the two conversions should
 * differ, while swapped or misaligned chroma or a wrong stride is off by
 * tens of levels.
 */
#define NV12_MAX_MAD 1.5

static int reference_frames(const char *path, struct visid_image *rgb, int max)
{
	AVFormatContext *fmt = NULL;
	AVCodecContext *dec = NULL;
	const AVCodec *codec = NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *f = av_frame_alloc();
	struct SwsContext *sws = NULL;
	int stream, n = 0, ret;

	if (!pkt || !f || avformat_open_input(&fmt, path, NULL, NULL) < 0 ||
	    avformat_find_stream_info(fmt, NULL) < 0)
		goto out;
	stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	if (stream < 0 || !(dec = avcodec_alloc_context3(codec)) ||
	    avcodec_parameters_to_context(dec, fmt->streams[stream]->codecpar) < 0 ||
	    avcodec_open2(dec, codec, NULL) < 0)
		goto out;
	while (n < max) {
		ret = avcodec_receive_frame(dec, f);
		if (ret == AVERROR(EAGAIN)) {
			ret = av_read_frame(fmt, pkt);
			if (ret >= 0 && pkt->stream_index == stream)
				avcodec_send_packet(dec, pkt);
			else if (ret < 0)
				avcodec_send_packet(dec, NULL);
			av_packet_unref(pkt);
			continue;
		}
		if (ret < 0)
			break;
		sws = sws_getCachedContext(
		    sws, f->width, f->height, f->format, f->width, f->height, AV_PIX_FMT_RGB24,
		    SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
		if (!sws || visid_image_alloc(&rgb[n], f->width, f->height, VISID_FMT_RGB24))
			break;
		sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height,
			  &rgb[n].data, &rgb[n].stride);
		av_frame_unref(f);
		n++;
	}
out:
	sws_freeContext(sws);
	avcodec_free_context(&dec);
	avformat_close_input(&fmt);
	av_frame_free(&f);
	av_packet_free(&pkt);
	return n;
}

static void test_nv12_frames_match_swscale(void)
{
	const char *path = shared(FIVE_FRAMES);
	struct visid_image ref[FIVE_COUNT] = {{0}};
	struct visid_source *src;
	struct visid_frame frame;
	int n_ref = reference_frames(path, ref, FIVE_COUNT), ret, n = 0;
	double worst = 0;

	VT_CHECK(n_ref == FIVE_COUNT, "the reference decoded %d frames of %d", n_ref, FIVE_COUNT);
	ret = open_video(path, 0, &src);
	VT_CHECK(ret == 0, "%.200s did not open: %d (%.200s)", path, ret, last_error);
	while (!ret && n < n_ref && visid_source_next(src, &frame, 0) == 0) {
		double mad = mean_abs_diff(&frame.image, &ref[n]);

		VT_CHECK(frame.image.format == VISID_FMT_NV12, "frame %d is %s, want NV12", n,
			 visid_pixel_format_name(frame.image.format));
		VT_CHECK(mad <= NV12_MAX_MAD, "frame %d differs from swscale's by %.2f levels", n,
			 mad);
		if (mad > worst)
			worst = mad;
		n++;
	}
	VT_CHECK(n == n_ref, "%d frames compared of %d", n, n_ref);
	printf("\n    NV12 frames vs swscale's RGB24: worst mean difference %.2f levels", worst);
	if (!ret)
		visid_source_close(src);
	for (int i = 0; i < FIVE_COUNT; i++)
		visid_image_free(&ref[i]);
}

/* ---- looping ------------------------------------------------------------ */

static void test_loop_wraps_to_the_first_frame(void)
{
	struct visid_image first[FIVE_COUNT] = {{0}};
	struct visid_source *src;
	struct visid_frame frame;
	int ret, n;

	ret = open_video(shared(FIVE_FRAMES), 1, &src);
	VT_CHECK(ret == 0, "looping source did not open: %d (%.200s)", ret, last_error);
	if (ret)
		return;
	for (n = 0; n < 3 * FIVE_COUNT; n++) {
		ret = visid_source_next(src, &frame, 0);
		VT_CHECK(ret == 0, "looping clip stopped at frame %d: %d (%.200s)", n, ret,
			 last_error);
		if (ret)
			break;
		VT_CHECK(frame.sequence == (uint64_t)n, "sequence %llu, want %d",
			 (unsigned long long)frame.sequence, n);
		if (n < FIVE_COUNT) {
			struct visid_image *copy = &first[n];

			/* A copy: the frame is only valid until the next call. */
			if (!visid_image_alloc(copy, frame.image.width, frame.image.height,
					       frame.image.format)) {
				int row =
				    copy->format == VISID_FMT_RGB24 ? 3 * copy->width : copy->width;

				for (int y = 0; y < copy->height; y++)
					memcpy(copy->data + (size_t)y * copy->stride,
					       frame.image.data + (size_t)y * frame.image.stride,
					       row);
				for (int y = 0; copy->uv && y < (copy->height + 1) / 2; y++)
					memcpy(copy->uv + (size_t)y * copy->uv_stride,
					       frame.image.uv + (size_t)y * frame.image.uv_stride,
					       2 * ((copy->width + 1) / 2));
			}
		} else {
			VT_CHECK(same_pixels(&frame.image, &first[n % FIVE_COUNT]),
				 "frame %d is not frame %d again", n, n % FIVE_COUNT);
		}
	}
	for (n = 0; n < FIVE_COUNT; n++)
		visid_image_free(&first[n]);
	visid_source_close(src);
}

/* The Hamilton clip starts 0.85 s into its stream (an edit list): a loop must still wrap. */
static void test_loop_wraps_a_clip_with_a_start_offset(void)
{
	struct visid_image first = {0};
	struct visid_source *src;
	struct visid_frame frame;
	int ret, n;

	ret = open_video(shared(HAMILTON), 1, &src);
	VT_CHECK(ret == 0, "looping source did not open: %d (%.200s)", ret, last_error);
	if (ret)
		return;
	for (n = 0; n <= HAM_COUNT; n++) {
		ret = visid_source_next(src, &frame, 0);
		if (ret)
			break;
		if (n == 0)
			visid_image_to_rgb24(&frame.image, &first);
	}
	VT_CHECK(ret == 0 && n == HAM_COUNT + 1, "looping clip stopped at frame %d: %d (%.200s)", n,
		 ret, last_error);
	if (!ret && first.data) {
		double mad = mean_abs_diff(&frame.image, &first);

		VT_CHECK(mad == 0, "frame %d after the wrap is not frame 0 (%.2f levels off)",
			 HAM_COUNT, mad);
	}
	visid_image_free(&first);
	visid_source_close(src);
}

/* ---- bad files ---------------------------------------------------------- */

static void check_refused(const char *spec, const char *path, const char *what)
{
	struct visid_source *src = NULL;
	int ret = open_video(spec, 0, &src);

	VT_CHECK(ret < 0 && !src, "%s opened (%d)", what, ret);
	VT_CHECK(strstr(last_error, path) != NULL,
		 "the error for %s does not name %.120s: '%.200s'", what, path, last_error);
	printf("\n    %s: %d: %.200s", what, ret, last_error);
	if (!ret)
		visid_source_close(src);
}

static void test_damaged_and_mislabelled_files(void)
{
	const char *dir = visid_test_tmpdir(), *clip = shared(HAMILTON);
	char cut[400], text[400], missing[400], spec[420];
	long size = file_size(clip);
	FILE *f;

	snprintf(cut, sizeof(cut), "%s/cut.mp4", dir);
	snprintf(text, sizeof(text), "%s/notes.mp4", dir);
	snprintf(missing, sizeof(missing), "%s/never-recorded.mkv", dir);
	VT_CHECK(size > 0 && copy_file(clip, cut, size / 2) == 0, "cannot write %.200s", cut);
	f = fopen(text, "w");
	VT_CHECK(f != NULL, "cannot write %.200s", text);
	if (f) {
		fputs("Shopping list: milk, bread, a camera that works.\n", f);
		fclose(f);
	}

	check_refused(cut, cut, "the first half of a clip");
	check_refused(text, text, "a text file named .mp4");
	check_refused(missing, missing, "a missing .mkv");
	snprintf(spec, sizeof(spec), "video:%s", missing);
	check_refused(spec, missing, "video: of a missing file");
	VT_CHECK(strstr(last_error, "No such file") != NULL, "the cause is not given: '%.200s'",
		 last_error);
}

/*
 * Bytes overwritten all through the clip's picture data: frames may be
 * skipped or damaged, but each one given has the clip's size and the source
 * ends cleanly (or gives up with an error naming the file).
 */
static void test_garbled_pictures_never_crash(void)
{
	const char *dir = visid_test_tmpdir(), *clip = shared(HAMILTON);
	char path[400];
	struct visid_source *src;
	struct visid_frame frame;
	long size = file_size(clip);
	uint32_t noise = 12345;
	int fd, ret, n = 0;

	snprintf(path, sizeof(path), "%s/garbled.mp4", dir);
	VT_CHECK(copy_file(clip, path, -1) == 0, "cannot write %.200s", path);
	fd = open(path, O_WRONLY);
	/* The sample data sits between 40 and ~604700 (the index comes after it). */
	for (long at = 50000; fd >= 0 && at < size * 9 / 10; at += 997) {
		uint8_t junk[64];

		for (size_t i = 0; i < sizeof(junk); i++) {
			noise = noise * 1103515245u + 12345u;
			junk[i] = noise >> 24;
		}
		VT_CHECK(pwrite(fd, junk, sizeof(junk), at) == (ssize_t)sizeof(junk),
			 "cannot garble %.200s", path);
	}
	if (fd >= 0)
		close(fd);

	ret = open_video(path, 0, &src);
	VT_CHECK(ret == 0, "a clip with damaged pictures did not open: %d (%.200s)", ret,
		 last_error);
	if (ret)
		return;
	while ((ret = visid_source_next(src, &frame, 0)) == 0 && n <= HAM_COUNT) {
		VT_CHECK(frame.image.width == HAM_W && frame.image.height == HAM_H,
			 "damaged frame %d is %dx%d", n, frame.image.width, frame.image.height);
		n++;
	}
	VT_CHECK(n <= HAM_COUNT, "%d frames from a clip of %d", n, HAM_COUNT);
	VT_CHECK(ret == -ENODATA || (ret < 0 && strstr(last_error, path)),
		 "damaged clip ended with %d: '%.200s'", ret, last_error);
	printf("\n    garbled clip: %d of %d frames, ended with %d", n, HAM_COUNT, ret);
	visid_source_close(src);
}

/* ---- the spec string ---------------------------------------------------- */

static void test_video_prefix_reads_any_name(void)
{
	const char *dir = visid_test_tmpdir();
	char path[400], spec[420];
	struct visid_source *src;
	struct visid_frame frame;
	int ret, n = 0;

	snprintf(path, sizeof(path), "%s/recording.bin", dir);
	VT_CHECK(copy_file(shared(FIVE_FRAMES), path, -1) == 0, "cannot write %.200s", path);
	snprintf(spec, sizeof(spec), "video:%s", path);
	ret = open_video(spec, 0, &src);
	VT_CHECK(ret == 0, "%.200s did not open: %d (%.200s)", spec, ret, last_error);
	if (!ret) {
		VT_CHECK(visid_source_kind(src) == VISID_SOURCE_VIDEO, "kind %d",
			 visid_source_kind(src));
		VT_CHECK(!strcmp(visid_source_name(src), path), "name '%.200s'",
			 visid_source_name(src));
		while (visid_source_next(src, &frame, 0) == 0)
			n++;
		VT_CHECK(n == FIVE_COUNT, "%d frames through video:, want %d", n, FIVE_COUNT);
		visid_source_close(src);
	}
	/* Without the prefix the name says image, and it is no image. */
	ret = open_video(path, 0, &src);
	VT_CHECK(ret < 0, "a bare .bin path opened as an image (%d)", ret);
	if (!ret)
		visid_source_close(src);
}

VISID_SUITE(hal_video, "hal_video", video_init, video_clean, data_skip,
	    VISID_TEST(test_five_frames_counted), VISID_TEST(test_nv12_frames_match_swscale),
	    VISID_TEST(test_hamilton_matches_extracted_frames),
	    VISID_TEST(test_loop_wraps_to_the_first_frame),
	    VISID_TEST(test_loop_wraps_a_clip_with_a_start_offset),
	    VISID_TEST(test_damaged_and_mislabelled_files),
	    VISID_TEST(test_garbled_pictures_never_crash),
	    VISID_TEST(test_video_prefix_reads_any_name))

/* ---- visid run on a clip ------------------------------------------------ */

static const char *visid_bin(void)
{
	const char *bin = getenv("VISID_BIN");

	return bin ? bin : "build/visid";
}

static const char *cli_skip(void)
{
	if (access(visid_bin(), X_OK))
		return "the visid binary is not built ($VISID_BIN or build/visid)";
	return data_skip();
}

/* Runs visid with a private state directory; its stdout into out. Exit status or -1. */
static int run_visid(const char *state, char *out, size_t len, const char *const *args)
{
	const char *argv[16];
	int argc = 0, pipefd[2], status;
	size_t used = 0;
	ssize_t n;
	pid_t pid;

	argv[argc++] = visid_bin();
	while (*args && argc < 15)
		argv[argc++] = *args++;
	argv[argc] = NULL;
	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		setenv("VISID_STATE_DIR", state, 1);
		setenv("VISID_BACKEND", "cpu", 1);
		setenv("VISID_CONFIG", "/dev/null", 1);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (pid > 0 && (n = read(pipefd[0], out + used, len - 1 - used)) > 0)
		used += (size_t)n;
	out[used] = 0;
	close(pipefd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int count_frame_events(const char *out)
{
	int n = 0;

	for (const char *p = out; (p = strstr(p, "\"event\":\"frame\"")); p++)
		n++;
	return n;
}

/* `visid run --source clip.mp4` goes through the device loop; --loop goes past its end. */
static void test_run_on_a_clip(void)
{
	static char out[1 << 16];
	char state[400], frames[16];
	const char *clip = shared(FIVE_FRAMES);
	const char *enroll[] = {"enroll", "obama", "--partial", shared(OBAMA_PHOTO), NULL};
	const char *run_all[] = {"run", "--source", clip, "--no-control", "--frame-events", NULL};
	const char *run_loop[] = {"run",	  "--source",	    clip,
				  "--no-control", "--frame-events", "--loop",
				  "--frames",	  frames,	    NULL};
	int ret;

	snprintf(state, sizeof(state), "%s/state", visid_test_tmpdir());
	ret = run_visid(state, out, sizeof(out), enroll);
	VT_CHECK(ret == 0, "enrolling a member for the run exited %d", ret);
	if (ret)
		return;

	ret = run_visid(state, out, sizeof(out), run_all);
	VT_CHECK(ret == 0, "visid run on %.200s exited %d", clip, ret);
	VT_CHECK(count_frame_events(out) == FIVE_COUNT, "%d frame events, the clip has %d frames",
		 count_frame_events(out), FIVE_COUNT);

	snprintf(frames, sizeof(frames), "%d", 2 * FIVE_COUNT + 2);
	ret = run_visid(state, out, sizeof(out), run_loop);
	VT_CHECK(ret == 0, "visid run --loop on %.200s exited %d", clip, ret);
	VT_CHECK(count_frame_events(out) == 2 * FIVE_COUNT + 2,
		 "%d frame events with --loop --frames %s", count_frame_events(out), frames);
}

VISID_SUITE(hal_video_cli, "hal_video_cli", NULL, NULL, cli_skip, VISID_TEST(test_run_on_a_clip))

#else /* !VISID_HAVE_FFMPEG */

/* ---- a build without FFmpeg --------------------------------------------- */

static void test_without_ffmpeg_says_so(void)
{
	char path[400], spec[420];
	struct visid_source *src = NULL;
	int ret;

	snprintf(path, sizeof(path), "%s/clip.mp4", visid_test_tmpdir());
	snprintf(spec, sizeof(spec), "video:%s", path);
	ret = open_video(spec, 0, &src);
	VT_CHECK(ret == -ENOTSUP && !src, "opening a video without FFmpeg gave %d, want -ENOTSUP",
		 ret);
	VT_CHECK(strstr(last_error, "built without FFmpeg") && strstr(last_error, path) &&
		     strstr(last_error, "libavformat-dev"),
		 "the error does not say what is missing: '%.200s'", last_error);
	if (!ret)
		visid_source_close(src);
}

VISID_SUITE(hal_video_stub, "hal_video", video_init, video_clean, NULL,
	    VISID_TEST(test_without_ffmpeg_says_so))

#endif
